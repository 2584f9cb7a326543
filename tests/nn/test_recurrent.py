"""RNN, LSTM and GRU: against PyTorch's nn.RNN/nn.LSTM/nn.GRU, gradient checks, edge cases."""

import numpy as np
import pytest

import rosenblatt as rb

SHAPES = [(3, 5, 4, 6), (1, 1, 2, 3), (4, 9, 3, 2)]  # batch, time, input, hidden


def _copy_into_torch(torch, ours, ref, kind):
    H = ours.hidden_size
    with torch.no_grad():
        for layer in range(ours.num_layers):
            getattr(ref, f"weight_ih_l{layer}").copy_(torch.tensor(ours.W_x[layer].data.T))
            getattr(ref, f"weight_hh_l{layer}").copy_(torch.tensor(ours.W_h[layer].data.T))
            getattr(ref, f"bias_ih_l{layer}").copy_(torch.tensor(ours.b[layer].data))
            bhh = np.zeros_like(ours.b[layer].data)
            if kind == "GRU":
                bhh[2 * H:] = ours.b_hn[layer].data
            getattr(ref, f"bias_hh_l{layer}").copy_(torch.tensor(bhh))


def _torch_layer(torch, kind, ours, nonlinearity):
    kw = dict(num_layers=ours.num_layers, batch_first=True)
    if kind == "RNN":
        kw["nonlinearity"] = nonlinearity
    return getattr(torch.nn, kind)(ours.input_size, ours.hidden_size, **kw).double()


def _make(kind, n_in, H, num_layers, nonlinearity, rng):
    if kind == "RNN":
        return rb.nn.RNN(n_in, H, nonlinearity=nonlinearity, num_layers=num_layers, rng=rng)
    return getattr(rb.nn, kind)(n_in, H, num_layers=num_layers, rng=rng)


@pytest.mark.parametrize("kind,nonlinearity", [("RNN", "tanh"), ("RNN", "relu"), ("LSTM", None),
                                               ("GRU", None)])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("with_state", [False, True])
def test_matches_torch(torch, rng, kind, nonlinearity, num_layers, shape, with_state):
    B, T, n_in, H = shape
    ours = _make(kind, n_in, H, num_layers, nonlinearity, rng).astype(np.float64)
    for p in ours.parameters():  # random biases too, not just the initial ones
        p.data[...] = rng.uniform(-0.6, 0.6, p.shape)
    ref = _torch_layer(torch, kind, ours, nonlinearity)
    _copy_into_torch(torch, ours, ref, kind)

    x = rng.standard_normal((B, T, n_in))
    n_state = 2 if kind == "LSTM" else 1
    states = [rng.standard_normal((num_layers, B, H)) * 0.5 for _ in range(n_state)]
    xt = rb.tensor(x, requires_grad=True)
    st = [rb.tensor(s, requires_grad=True) for s in states]
    init = None if not with_state else (st[0] if n_state == 1 else tuple(st))
    out, final = ours(xt, init)
    finals = [final] if n_state == 1 else list(final)

    tx = torch.tensor(x, requires_grad=True)
    ts = [torch.tensor(s, requires_grad=True) for s in states]
    tinit = None if not with_state else (ts[0] if n_state == 1 else tuple(ts))
    tout, tfinal = ref(tx, tinit)
    tfinals = [tfinal] if n_state == 1 else list(tfinal)

    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-10)
    for f, tf in zip(finals, tfinals):
        np.testing.assert_allclose(f.data, tf.detach().numpy(), rtol=1e-10, atol=1e-10)

    # A random upstream gradient on the outputs AND on every final state.
    g_out = rng.standard_normal(out.shape)
    g_fin = [rng.standard_normal(f.shape) for f in finals]
    loss = (out * g_out).sum()
    for f, g in zip(finals, g_fin):
        loss = loss + (f * g).sum()
    loss.backward()
    tloss = (tout * torch.tensor(g_out)).sum()
    for f, g in zip(tfinals, g_fin):
        tloss = tloss + (f * torch.tensor(g)).sum()
    tloss.backward()

    def close(a, b):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)

    close(xt.grad, tx.grad.numpy())
    if with_state:
        for s, t in zip(st, ts):
            close(s.grad, t.grad.numpy())
    for layer in range(num_layers):
        close(ours.W_x[layer].grad, getattr(ref, f"weight_ih_l{layer}").grad.numpy().T)
        close(ours.W_h[layer].grad, getattr(ref, f"weight_hh_l{layer}").grad.numpy().T)
        close(ours.b[layer].grad, getattr(ref, f"bias_ih_l{layer}").grad.numpy())
        if kind == "GRU":
            close(ours.b_hn[layer].grad, getattr(ref, f"bias_hh_l{layer}").grad.numpy()[2 * H:])


@pytest.mark.parametrize("one_hot", [True, False])
def test_float32_lstm_matches_torch(torch, rng, one_hot):
    """The float32 path (with the fast extra: the compiled, batch-major one) against
    nn.LSTM in float64, outputs, final states and every gradient, as in the char-LSTM
    benchmark (one-hot characters) and on dense inputs with initial states."""
    B, T, n_in, H = 4, 7, 20, 6
    ours = rb.nn.LSTM(n_in, H, num_layers=2, rng=rng)
    for p in ours.parameters():
        p.data[...] = rng.uniform(-0.6, 0.6, p.shape)
    ref = _torch_layer(torch, "LSTM", ours, None)
    _copy_into_torch(torch, ours, ref, "LSTM")
    x = (np.eye(n_in)[rng.integers(0, n_in, (B, T))] if one_hot
         else rng.standard_normal((B, T, n_in))).astype(np.float32)
    states = [(rng.standard_normal((2, B, H)) * 0.5).astype(np.float32) for _ in range(2)]
    st = None if one_hot else tuple(rb.tensor(s, requires_grad=True) for s in states)
    out, (h, c) = ours(x, st)
    g = [rng.standard_normal(a.shape) for a in (out, h, c)]
    ((out * g[0]).sum() + (h * g[1]).sum() + (c * g[2]).sum()).backward()

    ts = None if one_hot else tuple(torch.tensor(s.astype(np.float64), requires_grad=True)
                                    for s in states)
    tout, (th, tc) = ref(torch.tensor(x.astype(np.float64)), ts)
    sum((a * torch.tensor(b)).sum() for a, b in zip((tout, th, tc), g)).backward()

    def close(a, b):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)

    for a, b in zip((out, h, c), (tout, th, tc)):
        close(a.data, b.detach().numpy())
    if st is not None:
        for s, t in zip(st, ts):
            close(s.grad, t.grad.numpy())
    for layer in range(2):
        close(ours.W_x[layer].grad, getattr(ref, f"weight_ih_l{layer}").grad.numpy().T)
        close(ours.W_h[layer].grad, getattr(ref, f"weight_hh_l{layer}").grad.numpy().T)
        close(ours.b[layer].grad, getattr(ref, f"bias_ih_l{layer}").grad.numpy())


def _params64(layer, rng):
    layer.astype(np.float64)
    for p in layer.parameters():
        p.data[...] = rng.uniform(-0.8, 0.8, p.shape)
    return layer


def _gradcheck_layer(layer, rng, x_shape, state=None):
    x = rb.tensor(rng.standard_normal(x_shape), requires_grad=True)
    params = layer.parameters()
    extra = [] if state is None else list(state)

    def fn(x, *args):
        out, final = layer(x, None if state is None else (
            extra[0] if len(extra) == 1 else tuple(extra)))
        finals = [final] if not isinstance(final, tuple) else list(final)
        return rb.concatenate([out.reshape(-1)] + [f.reshape(-1) for f in finals])

    return rb.gradcheck(fn, x, *params, *extra)


@pytest.mark.parametrize("peephole,coupled", [(True, False), (False, True), (True, True)])
def test_lstm_variants_gradcheck(rng, peephole, coupled):
    layer = _params64(rb.nn.LSTM(3, 4, peephole=peephole, coupled=coupled, rng=rng), rng)
    state = [rb.tensor(rng.standard_normal((1, 2, 4)), requires_grad=True) for _ in range(2)]
    assert _gradcheck_layer(layer, rng, (2, 5, 3), state)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_batch_norm_variant_gradcheck(rng, kind):
    layer = _params64(getattr(rb.nn, kind)(3, 3, num_layers=2, batch_norm=True, rng=rng), rng)
    assert _gradcheck_layer(layer, rng, (4, 4, 3))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_learned_initial_state_gradcheck(rng, kind):
    layer = _params64(getattr(rb.nn, kind)(2, 3, learn_initial_state=True, rng=rng), rng)
    assert _gradcheck_layer(layer, rng, (3, 4, 2))
    names = [n for n, _ in layer.named_parameters()]
    assert any(n.startswith("initial_state") for n in names)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_reset_parameters_also_resets_learned_initial_states(rng, kind):
    layer = getattr(rb.nn, kind)(2, 3, num_layers=2, learn_initial_state=True, rng=rng)
    for s in layer.initial_state:
        s.data[...] = 5
    layer.reset_parameters(rng)
    assert all(np.all(s.data == 0) for s in layer.initial_state)


def test_batch_norm_uses_running_statistics_in_eval(rng):
    layer = rb.nn.GRU(3, 4, batch_norm=True, rng=rng)
    x = rng.standard_normal((8, 6, 3)).astype(np.float32) * 3 + 2
    for _ in range(50):
        layer(x)
    layer.eval()
    out_eval, _ = layer(x)
    layer.train()
    out_train, _ = layer(x)
    # running stats converge to the batch's own, so eval ~ train on the same data
    np.testing.assert_allclose(out_eval.data, out_train.data, atol=2e-2)
    assert {n for n, _ in layer.named_buffers()} == {"running_mean_0", "running_var_0"}


def test_lstm_forget_bias_default_and_option(rng):
    H = 3
    assert np.all(rb.nn.LSTM(2, H, rng=rng).b[0].data[H:2 * H] == 1)
    assert np.all(rb.nn.LSTM(2, H, rng=rng).b[0].data[:H] == 0)
    assert np.all(rb.nn.LSTM(2, H, forget_bias=0.0, rng=rng).b[0].data == 0)
    assert np.all(rb.nn.LSTM(2, H, coupled=True, rng=rng).b[0].data[:H] == 1)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_ten_thousand_steps_forward_and_backward(rng, kind):
    layer = getattr(rb.nn, kind)(2, 4, rng=rng)
    x = rb.tensor(rng.standard_normal((1, 10_000, 2)).astype(np.float32), requires_grad=True)
    out, _ = layer(x)
    out.sum().backward()
    assert x.grad.shape == x.shape and np.isfinite(x.grad).all()
    assert np.isfinite(layer.W_h[0].grad).all()


def test_state_continues_a_sequence(rng):
    """Running two halves with the state carried over equals running the whole."""
    layer = rb.nn.LSTM(3, 4, num_layers=2, rng=rng)
    x = rng.standard_normal((2, 10, 3)).astype(np.float32)
    full, _ = layer(x)
    first, state = layer(x[:, :6])
    second, _ = layer(x[:, 6:], state)
    np.testing.assert_allclose(np.concatenate([first.data, second.data], axis=1), full.data,
                               rtol=1e-5, atol=1e-6)


def test_float32_stays_float32(rng):
    out, (h, c) = rb.nn.LSTM(3, 4, rng=rng)(rng.standard_normal((2, 5, 3)).astype(np.float32))
    assert out.dtype == np.float32 and c.dtype == np.float32


def test_errors_name_the_layer_and_shapes(rng):
    layer = rb.nn.LSTM(3, 4, rng=rng)
    with pytest.raises(ValueError, match=r"LSTM\(3, 4\).*\(batch, time, 3\).*\(2, 5\)"):
        layer(np.zeros((2, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"expected input of shape.*got \(2, 5, 7\)"):
        layer(np.zeros((2, 5, 7), dtype=np.float32))
    with pytest.raises(ValueError, match=r"LSTM\(3, 4\): the sequence is empty.*got \(2, 0, 3\)"):
        layer(np.zeros((2, 0, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"LSTM\(3, 4\): lengths must be between 1 and the "
                                         r"time steps \(5\); got 2 to 6"):
        layer(np.zeros((2, 5, 3), dtype=np.float32), lengths=[6, 2])
    with pytest.raises(ValueError, match="initial state must have shape"):
        layer(np.zeros((2, 5, 3), dtype=np.float32),
              (np.zeros((1, 3, 4)), np.zeros((1, 3, 4))))
    with pytest.raises(ValueError, match=r"LSTM: state must be a tuple of 2 tensors \(h, c\), "
                                         r"each \(num_layers, batch, hidden\); got one array of "
                                         r"shape \(2, 2, 4\)"):
        layer(np.zeros((2, 5, 3), dtype=np.float32), np.zeros((2, 2, 4)))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'; got 'sigmoid'"):
        rb.nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size must be a positive integer; got 0"):
        rb.nn.GRU(3, 0)


@pytest.mark.parametrize("make", [
    lambda: rb.nn.LSTM(3, 4, num_layers=2, peephole=True, learn_initial_state=True, rng=0),
    lambda: rb.nn.LSTM(3, 4, coupled=True, forget_bias=0.0, rng=0),
    lambda: rb.nn.GRU(3, 4, batch_norm=True, rng=0),
    lambda: rb.nn.RNN(3, 4, nonlinearity="relu", rng=0),
    lambda: rb.nn.Bidirectional(rb.nn.GRU(3, 4, rng=0), rng=1),
])
def test_save_and_load_round_trip(tmp_path, rng, make):
    layer = make()
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    layer(x)  # moves batch-norm running statistics away from their initial values
    path = tmp_path / "layer.safetensors"
    rb.save(layer, path)
    loaded = rb.load(path)
    assert repr(loaded) == repr(layer)
    layer.eval()
    loaded.eval()
    np.testing.assert_array_equal(loaded(x)[0].data, layer(x)[0].data)


def test_functional_ops_check_weight_shapes(rng):
    x = rb.tensor(rng.standard_normal((2, 3, 4)))
    W_x, W_h = rb.tensor(np.zeros((4, 12))), rb.tensor(np.zeros((3, 12)))
    out, h, c = rb.nn.functional.lstm(x, W_x, W_h)
    assert (out.shape, h.shape, c.shape) == ((2, 3, 3), (2, 3), (2, 3))
    with pytest.raises(ValueError, match=r"lstm: W_h must have shape \(H, 3 H\); got \(3, 12\)"):
        rb.nn.functional.lstm(x, W_x, W_h, coupled=True)
    with pytest.raises(ValueError, match="input has 4 features but the weights expect 5"):
        rb.nn.functional.gru(x, rb.tensor(np.zeros((5, 9))), rb.tensor(np.zeros((3, 9))))
    with pytest.raises(ValueError, match="W_x has 6 columns but W_h has 3"):
        rb.nn.functional.rnn(x, rb.tensor(np.zeros((4, 6))), rb.tensor(np.zeros((3, 3))))
    with pytest.raises(ValueError, match="sequence is empty"):
        rb.nn.functional.rnn(x[:, :0], rb.tensor(np.zeros((4, 3))), rb.tensor(np.zeros((3, 3))))


def test_lstm_with_open_input_and_output_gates_and_closed_forget_gate_is_an_rnn(rng):
    """The notes: "an RNN can be thought of as an LSTM in which all input and output gates
    are 1 and all forget gates are 0, with an additional activation function"."""
    H = 3
    lstm = rb.nn.LSTM(2, H, rng=rng).astype(np.float64)
    W_x, W_h, b = lstm.W_x[0].data, lstm.W_h[0].data, lstm.b[0].data
    for block, bias in ((0, 60.0), (1, -60.0), (3, 60.0)):  # i = 1, f = 0, o = 1
        cols = slice(block * H, (block + 1) * H)
        W_x[:, cols] = 0
        W_h[:, cols] = 0
        b[cols] = bias
    x = rng.standard_normal((2, 6, 2))
    out, _ = lstm(x)
    g = slice(2 * H, 3 * H)
    h = np.zeros((2, H))
    for t in range(6):
        h = np.tanh(np.tanh(x[:, t] @ W_x[:, g] + h @ W_h[:, g] + b[g]))  # OUT = tanh(RNN)
        np.testing.assert_allclose(out.data[:, t], h, rtol=1e-12, atol=1e-14)


def test_gru_with_reset_gate_open_and_update_gate_closed_is_an_elman_rnn(rng):
    """The notes: "a vanilla RNN is a GRU architecture in which all reset gates are 1 and
    all update gates are 0" (PyTorch's z is the notes' 1 - z)."""
    H = 3
    gru = rb.nn.GRU(2, H, rng=rng).astype(np.float64)
    rnn = rb.nn.RNN(2, H, rng=rng).astype(np.float64)
    W_x, W_h, b = gru.W_x[0].data, gru.W_h[0].data, gru.b[0].data
    W_x[:, :2 * H] = 0
    W_h[:, :2 * H] = 0
    b[:H], b[H:2 * H] = 60.0, -60.0  # r = 1, z = 0: h = n
    gru.b_hn[0].data[...] = rng.standard_normal(H)
    rnn.W_x[0].data[...] = W_x[:, 2 * H:]
    rnn.W_h[0].data[...] = W_h[:, 2 * H:]
    rnn.b[0].data[...] = b[2 * H:] + gru.b_hn[0].data
    x = rng.standard_normal((2, 6, 2))
    np.testing.assert_allclose(gru(x)[0].data, rnn(x)[0].data, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_batch_matches_torch_packed_sequences(torch, rng, kind, bidirectional):
    B, T, n_in, H = 4, 6, 3, 5
    lengths = np.array([6, 2, 4, 1])
    # (a bidirectional torch stack feeds both directions to layer 2; ours stacks per direction)
    L = 1 if bidirectional else 2
    layer = getattr(rb.nn, kind)(n_in, H, num_layers=L, rng=rng)
    ours = rb.nn.Bidirectional(layer, rng=rng) if bidirectional else layer
    ours.astype(np.float64)
    for p in ours.parameters():
        p.data[...] = rng.uniform(-0.6, 0.6, p.shape)
    ref = getattr(torch.nn, kind)(n_in, H, num_layers=L, batch_first=True,
                                  bidirectional=bidirectional).double()
    with torch.no_grad():
        parts = [("", ours.layer), ("_reverse", ours.backward_layer)] if bidirectional else [
            ("", ours)]
        for suffix, lay in parts:
            for n in range(L):
                getattr(ref, f"weight_ih_l{n}{suffix}").copy_(torch.tensor(lay.W_x[n].data.T))
                getattr(ref, f"weight_hh_l{n}{suffix}").copy_(torch.tensor(lay.W_h[n].data.T))
                getattr(ref, f"bias_ih_l{n}{suffix}").copy_(torch.tensor(lay.b[n].data))
                bhh = np.zeros_like(lay.b[n].data)
                if kind == "GRU":
                    bhh[2 * H:] = lay.b_hn[n].data
                getattr(ref, f"bias_hh_l{n}{suffix}").copy_(torch.tensor(bhh))
    x = rng.standard_normal((B, T, n_in))
    mask = (np.arange(T)[None, :] < lengths[:, None])[:, :, None]
    xt = rb.tensor(x, requires_grad=True)
    out, state = ours(xt, lengths=lengths)
    tx = torch.tensor(x, requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=True,
                                                     enforce_sorted=False)
    tout, tstate = ref(packed)
    tout, _ = torch.nn.utils.rnn.pad_packed_sequence(tout, batch_first=True, total_length=T)
    np.testing.assert_allclose(out.data * mask, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    # final states: ours per direction (num_layers, B, H); torch interleaves directions
    h_ours = [state] if not bidirectional else list(state)
    if kind == "LSTM":
        h_ours = [s[0] for s in h_ours]
    th = tstate[0] if kind == "LSTM" else tstate
    for d, h in enumerate(h_ours):
        step = 2 if bidirectional else 1
        np.testing.assert_allclose(h.data, th[d::step].detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(out.shape) * mask
    gh = [rng.standard_normal(h.shape) for h in h_ours]
    loss = (out * g).sum()
    for h, gg in zip(h_ours, gh):
        loss = loss + (h * gg).sum()
    loss.backward()
    tloss = (tout * torch.tensor(g)).sum()
    for d, gg in enumerate(gh):
        step = 2 if bidirectional else 1
        tloss = tloss + (th[d::step] * torch.tensor(gg)).sum()
    tloss.backward()
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=1e-8, atol=1e-12)
    for suffix, lay in parts:
        for n in range(L):
            np.testing.assert_allclose(lay.W_h[n].grad,
                                       getattr(ref, f"weight_hh_l{n}{suffix}").grad.numpy().T,
                                       rtol=1e-8, atol=1e-12)
            np.testing.assert_allclose(lay.W_x[n].grad,
                                       getattr(ref, f"weight_ih_l{n}{suffix}").grad.numpy().T,
                                       rtol=1e-8, atol=1e-12)


def test_lengths_gradcheck_and_errors(rng):
    layer = _params64(rb.nn.LSTM(2, 3, peephole=True, rng=rng), rng)
    lengths = np.array([3, 1, 2])
    x = rb.tensor(rng.standard_normal((3, 3, 2)), requires_grad=True)
    assert rb.gradcheck(lambda x, *p: layer(x, lengths=lengths)[1][1], x, *layer.parameters())
    with pytest.raises(ValueError, match="lengths must be between 1 and the time steps"):
        layer(x, lengths=np.array([4, 1, 2]))
    with pytest.raises(ValueError, match="lengths must be 3 integers"):
        layer(x, lengths=np.array([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_batch_norm_with_lengths_ignores_the_padding(rng, kind):
    """The padded batch gives each real sequence what it gets without the padding."""
    layer = _params64(getattr(rb.nn, kind)(3, 4, batch_norm=True, rng=rng), rng)
    x = rng.standard_normal((2, 5, 3))
    lengths = np.array([5, 3])
    padded = x.copy()
    padded[1, 3:] = 100.0  # garbage in the padding must not move the statistics
    out, _ = layer(padded, lengths=lengths)
    mean_padded = layer.running_mean_0.copy()
    layer.running_mean_0[...] = 0
    # the same real steps, as one long sequence, give the same statistics
    flat = np.concatenate([x[0], x[1, :3]])[None]
    layer(flat)
    np.testing.assert_allclose(mean_padded, layer.running_mean_0, rtol=1e-10)
    assert np.isfinite(out.data).all()
    x64 = rb.tensor(x, requires_grad=True)
    assert rb.gradcheck(lambda x, *p: layer(x, lengths=lengths)[0], x64, *layer.parameters())


def test_sequence_outputs_lets_rb_fit_train_a_recurrent_classifier(rng):
    """Sequential(LSTM, SequenceOutputs(last=True), Dense) under rb.fit: is the first
    symbol of a sequence of 12 a 1? (the answer must be carried to the end)."""
    tokens = rng.integers(0, 3, (256, 12))
    X = rb.nn.one_hot(tokens, 3)
    y = (tokens[:, 0] == 1).astype(np.int64)
    net = rb.nn.Sequential(rb.nn.LSTM(3, 16, rng=rng), rb.nn.SequenceOutputs(last=True),
                           rb.nn.Dense(16, 2, rng=rng))
    history = rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.Adam(
        net.parameters(), lr=0.02), epochs=25, batch_size=32, progress=False, rng=0)
    assert history["accuracy"][-1] > 0.95, history["accuracy"]
    assert rb.nn.SequenceOutputs()(net[0](X[:2])).shape == (2, 12, 16)
    with pytest.raises(ValueError, match="SequenceOutputs: expected"):
        rb.nn.SequenceOutputs()(rb.tensor(np.zeros((2, 3))))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_kept_outputs_and_gradients_survive_later_steps_with_recycled_arrays(kind):
    """The recurrent ops take their big arrays from the workspace pool: whatever a caller
    still holds must never be reused, and repeated steps must give the same gradients."""
    rng = np.random.default_rng(0)
    layer = getattr(rb.nn, kind)(4, 6, rng=rng)
    x = rb.tensor(rng.standard_normal((3, 7, 4)).astype(np.float32))
    first, _ = layer(x)
    kept = first.data.copy()
    grads = []
    for _ in range(3):
        layer.zero_grad()
        out, _ = layer(rb.tensor(rng.standard_normal((3, 7, 4)).astype(np.float32)))
        out.sum().backward()
        out2, _ = layer(x)  # the same input again: same output, whatever was recycled
        np.testing.assert_array_equal(out2.data, kept)
        layer.zero_grad()
        out2.sum().backward()
        grads.append(np.concatenate([p.grad.ravel() for p in layer.parameters()]))
    np.testing.assert_array_equal(first.data, kept)
    np.testing.assert_array_equal(grads[0], grads[2])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_dtype_attribute_follows_the_parameters(kind, tmp_path):
    """.dtype reads the parameters: after rb.load of a float64 layer, and after astype."""
    layer = getattr(rb.nn, kind)(3, 4, num_layers=2, rng=0, dtype=np.float64)
    assert layer.dtype == np.float64
    rb.save(layer, tmp_path / "layer.safetensors")
    loaded = rb.load(tmp_path / "layer.safetensors")
    assert loaded.dtype == np.float64 == loaded.W_h[0].dtype
    assert loaded.astype(np.float32).dtype == np.float32
    assert layer.clone().dtype == np.float64


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("case", ["state64", "state_big_endian", "wh_transposed_view"])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_float32_layer_with_foreign_state_or_weight_layout_matches_torch(
        torch, rng, kind, case, with_lengths):
    """The float32 layers (compiled paths with the fast extra) given a non-zero float64 or
    big-endian initial state, or W_h as a transposed view of a torch weight (F-ordered, as
    ``weight_hh.numpy().T`` gives): the same outputs and gradients as PyTorch. The
    compiled kernels read h_0 and W_h by raw pointer as C-ordered float32."""
    B, T, n_in, H = 3, 5, 4, 6
    ours = _make(kind, n_in, H, 1, "tanh", rng)
    for p in ours.parameters():
        p.data[...] = rng.uniform(-0.6, 0.6, p.shape)
    if case == "wh_transposed_view":  # as when porting: W_h = torch_weight.numpy().T
        ours.W_h[0].data = np.ascontiguousarray(ours.W_h[0].data.T).T
        assert not ours.W_h[0].data.flags.c_contiguous
    ref = _torch_layer(torch, kind, ours, "tanh")
    _copy_into_torch(torch, ours, ref, kind)
    x = rng.standard_normal((B, T, n_in)).astype(np.float32)
    n_state = 2 if kind == "LSTM" else 1
    states = [rng.standard_normal((1, B, H)) * 0.5 for _ in range(n_state)]  # float64
    if case == "state_big_endian":
        states = [s.astype(">f4") for s in states]
    elif case == "wh_transposed_view":
        states = [s.astype(np.float32) for s in states]
    st = [rb.tensor(s, requires_grad=True) for s in states]
    lengths = np.full(B, T) if with_lengths else None
    out, final = ours(x, st[0] if n_state == 1 else tuple(st), lengths=lengths)
    finals = [final] if n_state == 1 else list(final)
    assert out.dtype == np.float32
    g = [rng.standard_normal(a.shape) for a in [out] + finals]
    sum((a * b).sum() for a, b in zip([out] + finals, g)).backward()

    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    ts = [torch.tensor(s.astype(np.float64), requires_grad=True) for s in states]
    tout, tfinal = ref(tx, ts[0] if n_state == 1 else tuple(ts))
    tfinals = [tfinal] if n_state == 1 else list(tfinal)
    sum((a * torch.tensor(b)).sum() for a, b in zip([tout] + tfinals, g)).backward()

    def close(a, b):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)

    for a, b in zip([out] + finals, [tout] + tfinals):
        close(a.data, b.detach().numpy())
    for s, t in zip(st, ts):
        close(s.grad, t.grad.numpy())
    close(ours.W_x[0].grad, ref.weight_ih_l0.grad.numpy().T)
    close(ours.W_h[0].grad, ref.weight_hh_l0.grad.numpy().T)
    close(ours.b[0].grad, ref.bias_ih_l0.grad.numpy())


@pytest.mark.parametrize("make", [lambda: rb.nn.LSTM(2, 3, rng=0), lambda: rb.nn.GRU(2, 3, rng=0),
                                  lambda: rb.nn.RNN(2, 3, num_layers=2, rng=0),
                                  lambda: rb.nn.Bidirectional(rb.nn.GRU(2, 3, rng=0))])
def test_an_empty_batch_with_lengths_runs_like_one_without(make):
    layer = make()
    x = rb.tensor(np.zeros((0, 5, 2), np.float32), requires_grad=True)
    out, _ = layer(x, lengths=np.zeros(0, np.int64))
    assert out.shape == (0, 5, out.shape[2]) and out.dtype == np.float32
    out.sum().backward()
    assert x.grad.shape == (0, 5, 2)
    with pytest.raises(ValueError, match="lengths must be 0 integers"):
        layer(x, lengths=np.zeros(2, np.int64))


@pytest.mark.parametrize("op", ["lstm", "gru", "rnn"])
def test_functional_ops_take_an_empty_batch_with_lengths(op):
    G = {"lstm": 4, "gru": 3, "rnn": 1}[op]
    W_x, W_h = rb.tensor(np.ones((2, 3 * G))), rb.tensor(np.ones((3, 3 * G)))
    out = getattr(rb.nn.functional, op)(rb.tensor(np.zeros((0, 4, 2))), W_x, W_h,
                                        lengths=np.zeros(0, np.int64))
    out = out[0] if isinstance(out, tuple) else out
    assert out.shape == (0, 4, 3)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_batch_norm_momentum_and_eps_are_checked_like_batch_norm(kind):
    make = getattr(rb.nn, kind)
    for bad in (1.5, -0.5, float("nan")):
        with pytest.raises(ValueError, match=f"{kind}: bn_momentum"):
            make(3, 4, batch_norm=True, bn_momentum=bad)
    for bad in (-1.0, 0.0, float("inf")):
        with pytest.raises(ValueError, match=f"{kind}: bn_eps"):
            make(3, 4, batch_norm=True, bn_eps=bad)
    layer = make(3, 4, batch_norm=True, bn_momentum=1.0, bn_eps=1e-3)
    assert (layer.bn_momentum, layer.bn_eps) == (1.0, 1e-3)
