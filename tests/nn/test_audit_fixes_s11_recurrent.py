"""Session 11 audit (h2) of the recurrent layers, attention, the NTM and embeddings: each test
fails before its fix. Reproductions: /tmp/s11/h2/."""

import numpy as np
import pytest

import rosenblatt as rb


def test_ntm_after_a_recurrent_layer_says_to_add_sequence_outputs():
    # a bare NumPy "inhomogeneous shape" error before (the s9 #8 fix covered RNN/LSTM/GRU,
    # Dense and Bidirectional, not the NTM)
    net = rb.nn.Sequential(rb.nn.GRU(3, 4, rng=0),
                           rb.nn.NTM(4, 2, controller_size=4, memory_size=(4, 3), rng=0))
    with pytest.raises(TypeError, match=r"NTM: got a tuple.*SequenceOutputs"):
        net(np.ones((2, 5, 3), dtype=np.float32))


def test_sequence_outputs_takes_an_array_of_the_shape_it_asks_for():
    # before: "expected ... outputs of shape (batch, time, H); got (2, 5, 3)"
    x = np.arange(30, dtype=np.float32).reshape(2, 5, 3)
    np.testing.assert_array_equal(rb.nn.SequenceOutputs()(x).data, x)
    np.testing.assert_array_equal(rb.nn.SequenceOutputs(last=True)(x).data, x[:, -1])
    with pytest.raises(ValueError, match="SequenceOutputs: expected"):
        rb.nn.SequenceOutputs()(np.ones((2, 3), dtype=np.float32))


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3", None])
def test_one_hot_checks_num_classes(bad):
    # before: "index 0 is out of range for 0 entries (valid: 0 to -1)", "'float' object cannot
    # be interpreted as an integer", "an integer is required", a UFuncTypeError
    with pytest.raises(ValueError, match="one_hot: num_classes must be a positive integer"):
        rb.nn.one_hot([0], bad)


def test_a_huge_float_index_is_reported_as_given():
    # before: cast to int64 first (a RuntimeWarning), then reported as index -2**63
    with pytest.raises(ValueError, match=r"index 1000000000000000019884624838656 is out"):
        rb.nn.one_hot(np.array([1e30]), 3)
    with pytest.raises(ValueError,
                       match=r"Embedding\(3, 2\): index -1000000000000000019884624838656 is"):
        rb.nn.Embedding(3, 2, rng=0)(np.array([[-1e30]]))
    # integral floats are still ids
    np.testing.assert_array_equal(rb.nn.one_hot(np.array([2.0, 0.0]), 3),
                                  np.eye(3, dtype=np.float32)[[2, 0]])


def test_bidirectional_takes_unsigned_lengths():
    # uint64 lengths (np.uintp on 64-bit systems) passed the check, then the reversal index
    # lengths - 1 - t became float64: IndexError "arrays used as indices must be of integer
    # (or boolean) type"
    x = np.random.default_rng(0).normal(size=(3, 5, 2)).astype(np.float32)
    bi = rb.nn.Bidirectional(rb.nn.GRU(2, 3, rng=0), rng=1)
    ref = bi(x, lengths=np.array([5, 2, 3]))[0].data
    for dtype in (np.uint64, np.uintp, np.uint8):
        out = bi(x, lengths=np.array([5, 2, 3], dtype=dtype))[0].data
        np.testing.assert_array_equal(out, ref)


def test_bidirectional_of_a_bidirectional_makes_its_default_backward_copy():
    # the docstring lists a Bidirectional as a layer; its default backward copy needs
    # layer.reset_parameters(rng), which Bidirectional lacked: "Bidirectional has no
    # reset_parameters(); pass backward_layer= explicitly"
    inner = rb.nn.Bidirectional(rb.nn.GRU(2, 3, rng=0), rng=1)
    outer = rb.nn.Bidirectional(inner, rng=2)
    assert outer.backward_layer is not inner
    for side in ("layer", "backward_layer"):  # fresh weights in both copied directions
        a = getattr(outer.layer, side).W_h[0].data
        b = getattr(outer.backward_layer, side).W_h[0].data
        assert not np.array_equal(a, b)
    assert outer(np.ones((1, 4, 2), dtype=np.float32))[0].shape == (1, 4, 12)
    # reproducible from the rng; a tied layer is reset once
    again = rb.nn.Bidirectional(rb.nn.Bidirectional(rb.nn.GRU(2, 3, rng=0), rng=1), rng=2)
    for a, b in zip(outer.parameters(), again.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    g = rb.nn.GRU(2, 3, rng=0)
    tied = rb.nn.Bidirectional(g, g).reset_parameters(5)
    np.testing.assert_array_equal(tied.layer.W_h[0].data, rb.nn.GRU(2, 3, rng=5).W_h[0].data)


def _float16_softmax_rows_missing_one(rng, shape, scale):
    """Logits whose float16 softmax rows, summed in float16, miss 1 by more than 1e-4 (by
    rounding alone: an ulp of 1)."""
    while True:
        logits = rng.normal(scale=scale, size=shape).astype(np.float16)
        p = rb.nn.functional.softmax(rb.tensor(logits), axis=-1).data
        if np.abs(p.sum(axis=-1) - 1).max() > 1e-4:
            return logits, p


def test_float16_ntm_takes_its_own_learned_initial_weighting():
    # weighting0 = softmax(learned logits) in float16 missed 1 by an ulp and was refused:
    # "ntm: weighting0's rows must each sum to 1 ...; got sums [1.0, 0.9990234375, ...]"
    net = rb.nn.NTM(4, 3, controller_size=8, memory_size=(8, 5), read_heads=2, write_heads=2,
                    rng=0, dtype=np.float16)
    logits, _ = _float16_softmax_rows_missing_one(np.random.default_rng(0),
                                                  net.weighting0.shape, 3.0)
    net.weighting0.data[...] = logits
    out = net(np.zeros((1, 2, 4), dtype=np.float16))
    assert out.shape == (1, 2, 3) and np.isfinite(out.data).all()
    from rosenblatt.nn.ntm import ntm

    with pytest.raises(ValueError, match="weighting0's rows must each sum to 1"):
        ntm(np.zeros((1, 2, 4)), net.W_x.data, net.W_h.data, net.b.data, net.W_p.data,
            net.b_p.data, net.W_o.data, net.b_o.data, net.memory0.data, net.read0.data,
            np.full(net.weighting0.shape, 0.2), read_heads=2, write_heads=2)


def test_shift_takes_a_float16_softmax():
    from rosenblatt.nn.ntm_addressing import shift

    _, s = _float16_softmax_rows_missing_one(np.random.default_rng(1), (4, 2, 3), 3.0)
    w = rb.tensor(np.full((4, 2, 8), 1 / 8, dtype=np.float16))
    out = shift(w, rb.tensor(s))
    np.testing.assert_allclose(out.data.astype(np.float64).sum(-1), 1, atol=2e-3)
    with pytest.raises(ValueError, match="s must be a distribution"):
        shift(w, rb.tensor(np.full((4, 2, 3), 0.4, dtype=np.float16)))


def test_float16_content_weighting_of_a_small_or_zero_memory_row_is_finite():
    # in float16 both m.m (2e-11 for the constant memory 1e-6) and the eps 1e-8 rounded to 0:
    # |m| = 0, K = k.m / 0, NaN weightings; a float16 NTM with learn_initial=False gave NaN
    from rosenblatt.nn.ntm_addressing import content_weighting

    mem = np.zeros((1, 3, 2))
    mem[0, 1] = [1, 0]
    key, beta = np.array([[[1.0, 0.0]]]), np.array([[5.0]])
    ref = content_weighting(rb.tensor(key), rb.tensor(beta), rb.tensor(mem)).data
    t = [rb.tensor(a.astype(np.float16), requires_grad=True) for a in (key, beta, mem)]
    w = content_weighting(*t)
    assert w.data.dtype == np.float16
    np.testing.assert_allclose(w.data, ref, atol=1e-3)
    w.backward(np.array([[[1.0, -1.0, 0.5]]], dtype=np.float16))
    assert all(a.grad.dtype == np.float16 and np.isfinite(a.grad).all() for a in t)
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    out32 = rb.nn.NTM(4, 3, controller_size=8, memory_size=(8, 5), learn_initial=False,
                      rng=0)(x.astype(np.float32)).data
    net16 = rb.nn.NTM(4, 3, controller_size=8, memory_size=(8, 5), learn_initial=False,
                      rng=0).astype(np.float16)
    out16 = net16(x.astype(np.float16)).data
    assert np.isfinite(out16).all()
    np.testing.assert_allclose(out16, out32, atol=2e-2)


def test_an_activation_right_after_a_recurrent_layer_says_to_add_sequence_outputs():
    """(s11/h2 finding 9) not "a list holding a Tensor ... use rb.stack"."""
    model = rb.nn.Sequential(rb.nn.LSTM(3, 4, rng=0), rb.nn.Tanh())
    with pytest.raises(TypeError, match=r"recurrent layer .*SequenceOutputs"):
        model(np.zeros((2, 5, 3)))
