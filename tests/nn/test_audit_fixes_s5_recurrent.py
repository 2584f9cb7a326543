"""Audit (session 5, area a2) fixes: recurrent ops and layers, attention, NTM."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.nn.ntm_addressing import content_weighting, sharpen

CELLS = [("rnn", 1), ("lstm", 4), ("gru", 3)]


def _first(result):
    return result[0] if isinstance(result, tuple) else result


def _paths():
    """float32 (the compiled LSTM/GRU path when the kernels are there) and float64 (NumPy)."""
    return [np.float32, np.float64]


# -- #16: W_x=None (projected inputs) must still add b ------------------------------------
@pytest.mark.parametrize("name,G", CELLS)
@pytest.mark.parametrize("dtype", _paths())
def test_projected_inputs_keep_the_bias_and_its_gradient(rng, name, G, dtype):
    B, T, n_in, H = 2, 3, 4, 5
    op = getattr(rb.nn, name)
    x = rng.normal(size=(B, T, n_in)).astype(dtype)
    Wx = rng.normal(size=(n_in, G * H)).astype(dtype)
    Wh = (rng.normal(size=(H, G * H)) * 0.5).astype(dtype)
    bv = rng.normal(size=G * H).astype(dtype)
    up = rng.normal(size=(B, T, H)).astype(dtype)
    b_ref = rb.tensor(bv, requires_grad=True)
    ref = _first(op(x, Wx, Wh, b_ref))
    (ref * rb.tensor(up)).sum().backward()
    b = rb.tensor(bv, requires_grad=True)
    proj = rb.tensor(x @ Wx, requires_grad=True)
    out = _first(op(proj, None, Wh, b))
    (out * rb.tensor(up)).sum().backward()
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out.data, ref.data, rtol=tol, atol=tol)
    assert b.grad is not None
    np.testing.assert_allclose(b.grad, b_ref.grad, rtol=10 * tol, atol=10 * tol)
    # d/d(projection) is d/d(x W_x + b): the bias's gradient summed over batch and time
    np.testing.assert_allclose(proj.grad.sum(axis=(0, 1)), b.grad, rtol=10 * tol, atol=10 * tol)


def test_projected_inputs_keep_the_bias_coupled_and_peephole_lstm(rng):
    B, T, n_in, H = 2, 3, 4, 3
    x = rng.normal(size=(B, T, n_in))
    for coupled, G in ((True, 3), (False, 4)):
        Wx, Wh = rng.normal(size=(n_in, G * H)), rng.normal(size=(H, G * H)) * 0.5
        P, bv = rng.normal(size=(3, H)), rng.normal(size=G * H)
        ref = rb.nn.lstm(x, Wx, Wh, bv, peephole=P, coupled=coupled)[0].data
        out = rb.nn.lstm(x @ Wx, None, Wh, bv, peephole=P, coupled=coupled)[0].data
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


# -- #12: lengths must not change the sequences that run to the end ------------------------
def test_lengths_leave_a_full_length_sequence_exactly_as_without_them():
    rnn = rb.nn.RNN(1, 1, nonlinearity="relu", rng=0)
    rnn.W_x[0].data[...] = 1.0
    rnn.W_h[0].data[...] = 0.0
    rnn.b[0].data[...] = 0.0
    x = np.array([[[1e8], [0.5], [0.25]], [[1.0], [2.0], [3.0]]], dtype=np.float32)
    full, _ = rnn(x)
    padded, _ = rnn(x, lengths=[3, 1])
    np.testing.assert_array_equal(padded.data[0, :, 0], [1e8, 0.5, 0.25])
    np.testing.assert_array_equal(padded.data[0], full.data[0])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_lengths_are_bit_exact_on_running_sequences_float64(rng, kind):
    layer = getattr(rb.nn, kind)(3, 6, rng=0).astype(np.float64)
    x = rng.normal(size=(4, 9, 3)) * 3
    full, _ = layer(x)
    padded, _ = layer(x, lengths=[9, 2, 9, 5])
    np.testing.assert_array_equal(padded.data[[0, 2]], full.data[[0, 2]])


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_lengths_are_exact_on_running_sequences_compiled_path(rng, kind):
    layer = getattr(rb.nn, kind)(3, 6, rng=0)
    x = (rng.normal(size=(4, 9, 3)) * 3).astype(np.float32)
    full, _ = layer(x)
    padded, _ = layer(x, lengths=[9, 2, 9, 5])
    # the kernels compute the same numbers with or without lengths; only the hold differs
    np.testing.assert_array_equal(padded.data[[0, 2]], full.data[[0, 2]])
    # the ended sequences hold exactly their last real state
    np.testing.assert_array_equal(padded.data[1, 2:], np.broadcast_to(padded.data[1, 1], (7, 6)))


# -- #8: NaN / inf in the padding must never be read --------------------------------------
def _run_padded(kind, x, L, dtype, batch_norm=False, training=True):
    layer = getattr(rb.nn, kind)(3, 5, batch_norm=batch_norm, rng=0).astype(dtype)
    layer.train(training)
    xr = rb.tensor(x.astype(dtype), requires_grad=True)
    out, s = layer(xr, lengths=L)
    h = s[0] if kind == "LSTM" else s
    keep = (np.arange(x.shape[1])[None] < L[:, None])[..., None].astype(dtype)
    ((out * rb.tensor(keep)).sum() + h.sum()).backward()
    grads = [p.grad for p in layer.parameters()]
    return out.data, h.data, xr.grad, grads


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("dtype", _paths())
@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("batch_norm,training", [(False, True), (True, True), (True, False)])
def test_non_finite_padding_is_never_read(rng, kind, dtype, bad, batch_norm, training):
    x = rng.normal(size=(3, 4, 3))
    L = np.array([4, 2, 3])
    clean = x.copy()
    clean[1, 2:] = 0
    clean[2, 3:] = 0
    dirty = clean.copy()
    dirty[1, 2:] = bad
    dirty[2, 3:] = -bad
    want = _run_padded(kind, clean, L, dtype, batch_norm, training)
    with np.errstate(invalid="ignore", over="ignore"):  # the input itself holds NaN / inf
        got = _run_padded(kind, dirty, L, dtype, batch_norm, training)
    real = np.arange(4)[None] < L[:, None]
    np.testing.assert_array_equal(got[0][real], want[0][real])
    np.testing.assert_array_equal(got[1], want[1])  # the held final states
    np.testing.assert_array_equal(got[2][real], want[2][real])
    assert np.all(got[2][~real] == 0)
    for g, w in zip(got[3], want[3]):
        if w is None:
            assert g is None
            continue
        assert np.isfinite(g).all()
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_nan_padding_final_state_matches_torch_packed(torch, rng):
    from torch.nn.utils.rnn import pack_padded_sequence

    x = rng.normal(size=(2, 4, 3))
    L = np.array([4, 2])
    x[1, 2:] = np.nan
    ours = rb.nn.LSTM(3, 5, rng=0).astype(np.float64)
    ref = torch.nn.LSTM(3, 5, batch_first=True).double()
    with torch.no_grad():
        ref.weight_ih_l0.copy_(torch.tensor(ours.W_x[0].data.T))
        ref.weight_hh_l0.copy_(torch.tensor(ours.W_h[0].data.T))
        ref.bias_ih_l0.copy_(torch.tensor(ours.b[0].data))
        ref.bias_hh_l0.zero_()
    xt = rb.tensor(x, requires_grad=True)
    with np.errstate(invalid="ignore"):
        _, (h, c) = ours(xt, lengths=L)
    (h.sum() + c.sum()).backward()
    tx = torch.tensor(x, requires_grad=True)
    _, (th, tc) = ref(pack_padded_sequence(tx, torch.tensor(L), batch_first=True))
    (th.sum() + tc.sum()).backward()
    np.testing.assert_allclose(h.data, th.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(c.data, tc.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.W_x[0].grad, ref.weight_ih_l0.grad.numpy().T, atol=1e-12)
    np.testing.assert_allclose(ours.W_h[0].grad, ref.weight_hh_l0.grad.numpy().T, atol=1e-12)
    np.testing.assert_allclose(np.nan_to_num(xt.grad), np.nan_to_num(tx.grad.numpy()),
                               atol=1e-12)


def test_functional_ops_ignore_nan_padding(rng):
    x = rng.normal(size=(2, 4, 3)).astype(np.float32)
    L = np.array([4, 2])
    clean = x.copy()
    clean[1, 2:] = 0
    x[1, 2:] = np.nan
    for name, G in CELLS:
        op = getattr(rb.nn, name)
        Wx = rb.tensor(rng.normal(size=(3, G * 5)).astype(np.float32), requires_grad=True)
        Wh = rng.normal(size=(5, G * 5)).astype(np.float32) * 0.5
        with np.errstate(invalid="ignore"):
            out = _first(op(x, Wx, Wh, lengths=L))
        out[:, -1].sum().backward()
        assert np.isfinite(out.data[:, -1]).all() and np.isfinite(Wx.grad).all()
        want = _first(op(clean, Wx.data, Wh, lengths=L)).data
        np.testing.assert_array_equal(out.data[:, -1], want[:, -1])


# -- #1: Bidirectional checks lengths like the layers --------------------------------------
def test_bidirectional_scalar_lengths_is_a_clear_error():
    x = np.zeros((2, 3, 4), np.float32)
    bi = rb.nn.Bidirectional(rb.nn.GRU(4, 5, rng=0), rng=1)
    with pytest.raises(ValueError, match="Bidirectional: lengths must be 2 integers"):
        bi(x, lengths=2)
    with pytest.raises(ValueError, match="Bidirectional: lengths must be between 1 and"):
        bi(x, lengths=[4, 1])
    out, _ = bi(np.zeros((0, 3, 4), np.float32), lengths=np.zeros(0, dtype=int))
    assert out.shape == (0, 3, 10)


# -- #5: infinite key strength / sharpening --------------------------------------------------
def test_addressing_refuses_infinite_beta_and_gamma():
    mem = rb.tensor(np.eye(3, dtype=np.float32)[None])
    with pytest.raises(ValueError, match="beta must be > 0 and finite; got inf"):
        content_weighting(rb.tensor([[[0.0, 1.0, 0.0]]]), rb.tensor([[np.inf]]), mem)
    with pytest.raises(ValueError, match="gamma must be >= 1 and finite; got inf"):
        sharpen(rb.tensor([[[0.25, 0.75]]]), rb.tensor([[np.inf]]))
    with pytest.raises(ValueError, match="beta must be > 0 and finite; got nan"):
        content_weighting(rb.tensor([[[0.0, 1.0, 0.0]]]), rb.tensor([[np.nan]]), mem)
    w = sharpen(rb.tensor([[[0.25, 0.75]]]), rb.tensor([[2.0]]))  # still works
    np.testing.assert_allclose(w.data, [[[0.1, 0.9]]], rtol=1e-6)


# -- #6: integer dtypes -----------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda d: rb.nn.Attention("additive", query_size=4, key_size=4, rng=0, dtype=d),
    lambda d: rb.nn.RNN(4, 5, rng=0, dtype=d),
    lambda d: rb.nn.LSTM(4, 5, rng=0, dtype=d),
    lambda d: rb.nn.LSTM(4, 5, peephole=True, rng=0, dtype=d),
    lambda d: rb.nn.GRU(4, 5, rng=0, dtype=d),
])
def test_integer_dtype_is_refused(make):
    with pytest.raises(TypeError, match="dtype must be a floating type .*got int32"):
        make(np.int32)
    assert make(np.float64).parameters()[0].dtype == np.float64


# -- #9: the functional NTM op checks its inputs -------------------------------------------
def _ntm_args(rng):
    net = rb.nn.NTM(3, 2, controller_size=5, memory_size=(6, 4), rng=np.random.default_rng(1))
    x = rb.tensor(rng.normal(size=(2, 3, 3)).astype(np.float32))
    m0, r0, w0 = net._initial(np.float32)
    W = (net.W_x, net.W_h, net.b, net.W_p, net.b_p, net.W_o, net.b_o)
    return net, x, W, m0, r0, w0


def test_functional_ntm_validates_its_inputs(rng):
    net, x, W, m0, r0, w0 = _ntm_args(rng)
    ref = rb.nn.ntm(x, *W, m0, r0, w0)
    np.testing.assert_array_equal(ref.data, net(x).data)
    for shifts, match in (((1, 2, 3), "ntm: shifts must include 0"),
                          ((-7, 0, 7), "ntm: every shift must be smaller"),
                          ((0, 0, 1), "ntm: shifts must be distinct")):
        with pytest.raises(ValueError, match=match):
            rb.nn.ntm(x, *W, m0, r0, w0, shifts=shifts)
    with pytest.raises(ValueError, match="ntm: weighting0 .*non-negative"):
        rb.nn.ntm(x, *W, m0, r0, rb.tensor(-np.ones((2, 6), np.float32)))
    with pytest.raises(ValueError, match="ntm: weighting0's rows must each sum to 1"):
        rb.nn.ntm(x, *W, m0, r0, rb.tensor(np.full((2, 6), 0.5, np.float32)))
    out = rb.nn.ntm(x.data, *W, m0, r0, w0)  # arrays are taken as tensors
    np.testing.assert_array_equal(out.data, ref.data)
    with pytest.raises(ValueError, match="ntm: W_x must have shape \\(11, 20\\) = \\(I \\+ R\\*M"):
        rb.nn.ntm(x, *W, m0, r0, w0, read_heads=2)  # W_x reads R read vectors
    with pytest.raises(ValueError, match="ntm: read0 must have shape \\(1, 4\\)"):
        rb.nn.ntm(x, *W, m0, r0.data[:, 1:], w0)
    with pytest.raises(ValueError, match="ntm: read_heads must be a positive integer"):
        rb.nn.ntm(x, *W, m0, r0, w0, read_heads=0)
    with pytest.raises(ValueError, match="ntm: x must be \\(batch, time >= 1, features\\)"):
        rb.nn.ntm(x.data[0], *W, m0, r0, w0)
    with pytest.raises(ValueError, match="ntm: W_x must have shape"):
        rb.nn.ntm(x, W[0].data[1:], *W[1:], m0, r0, w0)
    with pytest.raises(ValueError, match="ntm: W_x must have shape .*N, M = 6, 3 from memory0"):
        rb.nn.ntm(x, *W, m0.data[:, 1:], r0, w0)
    with pytest.raises(ValueError, match="ntm: memory0 must be a non-empty 2-D array"):
        rb.nn.ntm(x, *W, m0.data[0], r0, w0)
    with pytest.raises(ValueError, match="ntm: W_p must have shape"):
        rb.nn.ntm(x, *W[:3], W[3].data[:, 1:], *W[4:], m0, r0, w0)
    with pytest.raises(ValueError, match="ntm: W_o must have shape"):
        rb.nn.ntm(x, *W[:5], W[5].data[1:], W[6], m0, r0, w0)


# -- #10: lstm(coupled=...) must be a bool ---------------------------------------------------
def test_functional_lstm_coupled_must_be_a_bool(rng):
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    Wx = rng.normal(size=(4, 15)).astype(np.float32)
    Wh = rng.normal(size=(5, 15)).astype(np.float32)
    with pytest.raises(TypeError, match="lstm: coupled must be True or False; got 'False'"):
        rb.nn.lstm(x, Wx, Wh, coupled="False")
    assert rb.nn.lstm(x, Wx, Wh, coupled=np.bool_(True))[0].shape == (2, 3, 5)


# -- #13: Attention options that do not apply ------------------------------------------------
def test_attention_refuses_options_of_the_other_kind():
    with pytest.raises(ValueError, match="scale=True applies to kind='dot' only"):
        rb.nn.Attention("additive", query_size=3, key_size=3, scale=True, rng=0)
    for name, value in (("query_size", -1), ("key_size", 0), ("attention_size", -5)):
        with pytest.raises(ValueError, match=f"Attention\\('dot'\\): {name} must be"):
            rb.nn.Attention("dot", **{name: value})
    att = rb.nn.Attention("dot", query_size=3, key_size=3, attention_size=2)  # sizes given: fine
    assert att.kind == "dot"
