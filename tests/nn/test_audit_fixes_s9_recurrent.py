"""Audit (session 9, area a3) fixes: recurrent layers, Bidirectional, NTM."""

import numpy as np
import pytest

import rosenblatt as rb


# -- #3: Bidirectional takes recurrent layers only -----------------------------------------
@pytest.mark.parametrize("make", [
    lambda: rb.nn.NTM(3, 2, controller_size=4, memory_size=(5, 3), rng=0),
    lambda: rb.nn.Attention("dot"),
], ids=["NTM", "Attention"])
def test_bidirectional_refuses_a_library_layer_that_is_not_recurrent(make):
    with pytest.raises(TypeError, match=r"Bidirectional: layer must be a recurrent layer.*"
                                        r"(NTM|Attention)"):
        rb.nn.Bidirectional(make())
    with pytest.raises(TypeError, match=r"Bidirectional: backward_layer must be a recurrent"):
        rb.nn.Bidirectional(rb.nn.GRU(3, 2, rng=0), backward_layer=make())


def test_bidirectional_nests_and_takes_every_recurrent_layer(rng):
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    for layer in (rb.nn.RNN(3, 2, rng=0), rb.nn.LSTM(3, 2, rng=0), rb.nn.GRU(3, 2, rng=0)):
        out, _ = rb.nn.Bidirectional(layer, rng=2)(x)
        assert out.shape == (2, 5, 4)
    inner = [rb.nn.Bidirectional(rb.nn.GRU(3, 2, rng=0), rng=k) for k in (1, 2)]
    out, _ = rb.nn.Bidirectional(*inner)(x)
    assert out.shape == (2, 5, 8)


def test_bidirectional_names_a_custom_layer_that_returns_no_outputs_state_pair(rng):
    class NotRecurrent(rb.nn.Module):  # binds (x, state) but returns one tensor
        def forward(self, x, state=None):
            return x * 2

    class Recurrent(rb.nn.Module):
        def forward(self, x, state=None):
            return x * 2, None

    x = rng.normal(size=(2, 5, 3))
    bad = rb.nn.Bidirectional(NotRecurrent(), backward_layer=NotRecurrent())
    with pytest.raises(TypeError, match=r"Bidirectional: layer NotRecurrent\(\) returned a "
                                        r"Tensor, not \(outputs, state\)"):
        bad(x)  # batch 2: a Tensor would have been unpacked into "outputs" and "state"
    ok = rb.nn.Bidirectional(Recurrent(), backward_layer=Recurrent())
    assert ok(x)[0].shape == (2, 5, 6)

    class WrongShape(rb.nn.Module):
        def forward(self, x, state=None):
            return x[:, :2], None

    with pytest.raises(ValueError, match=r"Bidirectional: backward_layer WrongShape\(\) "
                                         r"returned outputs of shape \(2, 2, 3\); expected "
                                         r"\(batch, time, H\) = \(2, 5, H\)"):
        rb.nn.Bidirectional(Recurrent(), backward_layer=WrongShape())(x)


# -- #4: the fused ReLU RNN's backward selects -------------------------------------------
def _relu_rnn_with_closed_units(rng, dtype=np.float64):
    net = rb.nn.RNN(3, 4, nonlinearity="relu", dtype=dtype, rng=0)
    x = rng.normal(size=(2, 3, 3)).astype(dtype)
    out, _ = net(rb.tensor(x, requires_grad=True))
    closed = out.data == 0
    assert closed.any() and (~closed).any()
    return net, x, closed


def _grads(net, x, g, lengths=None):
    net.zero_grad()
    xt = rb.tensor(x, requires_grad=True)
    out, _ = net(xt, lengths=lengths)
    out.backward(g)
    return [xt.grad] + [p.grad for p in net.parameters()]


# float16/32/64 select on their bits as integers; a long double (no such integer) with NumPy
_DTYPES = [np.float16, np.float32, np.float64, np.longdouble]


@pytest.mark.parametrize("dtype", _DTYPES)
def test_relu_rnn_gives_a_closed_unit_no_gradient_even_an_infinite_one(rng, dtype):
    net, x, closed = _relu_rnn_with_closed_units(rng, dtype)
    g = rng.normal(size=closed.shape).astype(dtype)
    g_inf = np.where(closed, np.inf, g)
    got = _grads(net, x, g_inf)
    want = _grads(net, x, np.where(closed, 0.0, g))
    for a, b in zip(got, want):
        assert np.isfinite(a).all()
        np.testing.assert_array_equal(a, b)


def test_relu_rnn_matches_torch_with_an_infinite_gradient_on_closed_units(rng, torch):
    net, x, closed = _relu_rnn_with_closed_units(rng)
    g = np.where(closed, np.inf, rng.normal(size=closed.shape))
    ref = torch.nn.RNN(3, 4, nonlinearity="relu", batch_first=True)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(torch.tensor(net.W_x[0].data.T))
        ref.weight_hh_l0.copy_(torch.tensor(net.W_h[0].data.T))
        ref.bias_ih_l0.copy_(torch.tensor(net.b[0].data))
        ref.bias_hh_l0.zero_()
    tx = torch.tensor(x, requires_grad=True)
    ref(tx)[0].backward(torch.tensor(g))
    dx, dW_x, dW_h, db = _grads(net, x, g)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dW_x, ref.weight_ih_l0.grad.numpy().T, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dW_h, ref.weight_hh_l0.grad.numpy().T, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(db, ref.bias_ih_l0.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", _DTYPES)
def test_relu_rnn_with_lengths_keeps_an_infinite_gradient_on_a_closed_unit_out(rng, dtype):
    # the held-step split (past a sequence's end) selects too: an inf on a running row's
    # closed unit gave inf * (1 - 1) = NaN in the part passed on
    net, x, closed = _relu_rnn_with_closed_units(rng, dtype)
    lengths = [3, 2]
    out, _ = net(x, lengths=lengths)
    closed = out.data == 0
    closed[1, 2:] = False  # past the end of sequence 1: its outputs repeat its last state
    assert closed.any()
    g = rng.normal(size=closed.shape).astype(dtype)
    got = _grads(net, x, np.where(closed, np.inf, g), lengths)
    want = _grads(net, x, np.where(closed, 0.0, g), lengths)
    for a, b in zip(got, want):
        assert np.isfinite(a).all()
        np.testing.assert_array_equal(a, b)


# -- #7: NTM.forward's return_trace is a switch ------------------------------------------
@pytest.mark.parametrize("bad", ["no", "False", 1, None])
def test_ntm_return_trace_must_be_true_or_false(bad):
    ntm = rb.nn.NTM(3, 2, controller_size=4, memory_size=(5, 3), rng=0)
    with pytest.raises(TypeError, match="NTM: return_trace must be True or False"):
        ntm(np.zeros((1, 2, 3), dtype=np.float32), return_trace=bad)


# -- #8: a recurrent layer's (outputs, state) handed on without SequenceOutputs -------------
@pytest.mark.parametrize("first, second, name", [
    (lambda: rb.nn.LSTM(3, 4, rng=0), lambda: rb.nn.LSTM(4, 2, rng=0), r"LSTM\(4, 2\)"),
    (lambda: rb.nn.GRU(3, 4, rng=0), lambda: rb.nn.GRU(4, 2, rng=0), r"GRU\(4, 2\)"),
    (lambda: rb.nn.RNN(3, 4, rng=0), lambda: rb.nn.RNN(4, 2, rng=0), r"RNN\(4, 2\)"),
    (lambda: rb.nn.LSTM(3, 4, rng=0), lambda: rb.nn.Dropout(0.5), r"Dropout\(rate=0.5\)"),
    (lambda: rb.nn.Bidirectional(rb.nn.GRU(3, 2, rng=0), rng=0),
     lambda: rb.nn.GRU(4, 2, rng=0), r"GRU\(4, 2\)"),
    (lambda: rb.nn.GRU(3, 4, rng=0),
     lambda: rb.nn.Bidirectional(rb.nn.GRU(4, 2, rng=0), rng=0), r"Bidirectional"),
], ids=["LSTM-LSTM", "GRU-GRU", "RNN-RNN", "LSTM-Dropout", "Bidirectional-GRU",
        "GRU-Bidirectional"])
def test_a_recurrent_layers_tuple_handed_on_says_to_add_sequence_outputs(first, second, name):
    net = rb.nn.Sequential(first(), second())
    with pytest.raises(TypeError, match=name + r": got a tuple, not an array: a recurrent "
                                              r"layer.*SequenceOutputs"):
        net(np.zeros((2, 5, 3), dtype=np.float32))


# -- #10: PyTorch's bidirectional stack is Bidirectional layers in sequence ------------------
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_bidirectional_layers_in_sequence_equal_torchs_bidirectional_stack(rng, torch, kind):
    n_x, H = 3, 4
    torch.manual_seed(0)
    ref = getattr(torch.nn, kind)(n_x, H, num_layers=2, bidirectional=True, batch_first=True)
    cls = getattr(rb.nn, kind)
    layers = {}
    for layer, n_in in ((0, n_x), (1, 2 * H)):
        for sfx in ("", "_reverse"):
            m = cls(n_in, H, dtype=np.float64, rng=0)
            w = {k: getattr(ref, f"{k}_l{layer}{sfx}").detach().numpy()
                 for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            m.W_x[0].data[...] = w["weight_ih"].T
            m.W_h[0].data[...] = w["weight_hh"].T
            if kind == "GRU":  # the new gate's hidden bias stays inside r * (.)
                m.b[0].data[...] = w["bias_ih"]
                m.b[0].data[:2 * H] += w["bias_hh"][:2 * H]
                m.b_hn[0].data[...] = w["bias_hh"][2 * H:]
            else:
                m.b[0].data[...] = w["bias_ih"] + w["bias_hh"]
            layers[layer, sfx] = m
    net = rb.nn.Sequential(rb.nn.Bidirectional(layers[0, ""], layers[0, "_reverse"]),
                           rb.nn.SequenceOutputs(),
                           rb.nn.Bidirectional(layers[1, ""], layers[1, "_reverse"]),
                           rb.nn.SequenceOutputs())
    x = rng.normal(size=(3, 6, n_x))
    g = rng.normal(size=(3, 6, 2 * H))
    xt = rb.tensor(x, requires_grad=True)
    out = net(xt)
    out.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    tout, _ = ref(tx)
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=0, atol=1e-12)

    # a padded batch: the two Bidirectional layers in turn, with lengths, as packed sequences
    lengths = np.array([6, 2, 4])
    pack = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths),
                                                   batch_first=True, enforce_sorted=False)
    tpad, _ = torch.nn.utils.rnn.pad_packed_sequence(ref(pack)[0], batch_first=True)
    first, _, second, _ = net.layers
    out, _ = second(first(x, lengths=lengths)[0], lengths=lengths)
    real = np.arange(6)[None, :, None] < lengths[:, None, None]
    np.testing.assert_allclose(out.data * real, tpad.detach().numpy(), rtol=0, atol=1e-12)
