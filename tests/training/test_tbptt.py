"""Truncated BPTT: the state is carried but detached; k = T is full BPTT; it learns."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.training.tbptt import chunks, detach_state, tbptt_fit


class Echo(rb.nn.Module):
    """GRU + linear read-out, called as (x, state) -> (output, state)."""

    def __init__(self, hidden, rng):
        self.rnn = rb.nn.GRU(1, hidden, rng=rng)
        self.head = rb.nn.Dense(hidden, 1, rng=rng)
        self.seen = []

    def forward(self, x, state=None):
        self.seen.append(state)
        out, state = self.rnn(x, state)
        return self.head(out), state


def test_chunks_and_detach():
    assert chunks(10, 4) == [(0, 4), (4, 8), (8, 10)]
    with pytest.raises(ValueError, match="k must be a positive integer"):
        chunks(10, 0)
    t = rb.tensor([1.0], requires_grad=True) * 2
    a, (b, c) = detach_state((t, [t, None]))
    assert not a.requires_grad and a.is_leaf and c is None


def test_state_is_carried_detached(rng):
    model = Echo(4, rng)
    X = rng.standard_normal((3, 20, 1)).astype(np.float32)
    opt = rb.optim.SGD(model.parameters(), lr=0.01)
    tbptt_fit(model, X, X, k=6, loss="mse", optimizer=opt)
    assert model.seen[0] is None and len(model.seen) == 4
    for s in model.seen[1:]:
        assert s.shape == (1, 3, 4) and not s.requires_grad and s.is_leaf


def test_one_chunk_is_full_bptt(rng):
    X = rng.standard_normal((2, 9, 1)).astype(np.float32)
    y = np.roll(X, 1, axis=1)
    a, b = Echo(3, np.random.default_rng(0)), Echo(3, np.random.default_rng(0))
    opt_a = rb.optim.SGD(a.parameters(), lr=0.1)
    tbptt_fit(a, X, y, k=9, loss="mse", optimizer=opt_a)
    opt_b = rb.optim.SGD(b.parameters(), lr=0.1)
    out, _ = b(rb.tensor(X))
    loss = rb.losses.mse(out, y)
    opt_b.zero_grad()
    loss.backward()
    opt_b.step()
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-6)


def test_tbptt_learns_a_delayed_echo_on_long_streams(rng):
    """y_t = x_{t-2}: streams of 400 steps, chunks of k = 10 (with clipping)."""
    model = Echo(12, rng)
    X = rng.standard_normal((16, 400, 1)).astype(np.float32)
    y = np.zeros_like(X)
    y[:, 2:] = X[:, :-2]
    opt = rb.optim.Adam(model.parameters(), lr=0.01)
    hist = tbptt_fit(model, X, y, k=10, loss="mse", optimizer=opt, epochs=4, clip_norm=1.0)
    assert hist["loss"][0] > 0.5
    assert np.mean(hist.chunk_loss[-10:]) < 0.05, hist["loss"]


def test_errors(rng):
    model = Echo(2, rng)
    opt = rb.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="same batch and time"):
        tbptt_fit(model, np.zeros((2, 5, 1)), np.zeros((2, 4, 1)), k=2, loss="mse", optimizer=opt)
    with pytest.raises(ValueError, match="name of an rb.losses function"):
        tbptt_fit(model, np.zeros((2, 5, 1)), np.zeros((2, 5, 1)), k=2, loss="nope", optimizer=opt)


def test_a_model_without_state_is_refused_clearly(rng):
    X, y = np.zeros((2, 6, 3), dtype=np.float32), np.zeros((2, 6), dtype=np.int64)
    net = rb.nn.Sequential(rb.nn.LSTM(3, 4, rng=0), rb.nn.SequenceOutputs(), rb.nn.Dense(4, 2))
    with pytest.raises(TypeError, match=r"model\(x, state\) -> \(output, state\).*"
                                        r"Sequential\(x, state\) failed"):
        tbptt_fit(net, X, y, k=3, loss="cross_entropy",
                  optimizer=rb.optim.SGD(net.parameters(), lr=0.1))

    class NoState(rb.nn.Module):  # takes a state but returns only the output
        def __init__(self):
            self.dense = rb.nn.Dense(3, 2)

        def forward(self, x, state=None):
            return self.dense(x)

    model = NoState()
    with pytest.raises(TypeError, match="NoState returned Tensor, not \\(output, state\\)"):
        tbptt_fit(model, X, y, k=3, loss="cross_entropy",
                  optimizer=rb.optim.SGD(model.parameters(), lr=0.1))


def test_rb_fit_tbptt_option_is_tbptt_fit(rng):
    X = rng.standard_normal((4, 30, 1)).astype(np.float32)
    y = np.roll(X, 1, axis=1)
    a, b = Echo(3, np.random.default_rng(0)), Echo(3, np.random.default_rng(0))
    ha = rb.fit(a, X, y, loss="mse", optimizer=rb.optim.Adam(a.parameters(), lr=0.01), epochs=2,
                tbptt=7, clip_norm=1.0)
    hb = tbptt_fit(b, X, y, k=7, loss="mse", optimizer=rb.optim.Adam(b.parameters(), lr=0.01),
                   epochs=2, clip_norm=1.0)
    assert ha["loss"] == hb["loss"] and len(ha.chunk_loss) == 10
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    with pytest.raises(ValueError, match="with tbptt, only loss, optimizer, epochs and clip_norm "
                                         "apply; got validation_data, clip_value too"):
        rb.fit(a, X, y, loss="mse", optimizer=rb.optim.Adam(a.parameters()), epochs=1, tbptt=7,
               validation_data=(X, y), clip_value=0.5)


class _LM(rb.nn.Module):
    def __init__(self):
        self.rnn = rb.nn.GRU(5, 8, rng=0)
        self.head = rb.nn.Dense(8, 5, rng=0)

    def forward(self, x, state=None):
        out, state = self.rnn(x, state)
        return self.head(out), state


def _stream():
    seq = np.tile(np.arange(5), 8)[None].repeat(2, 0)
    return np.eye(5, dtype=np.float32)[seq], np.roll(seq, -1, axis=1)


def test_fit_with_tbptt_refuses_nan_and_inf_data_before_training():
    X, y = _stream()
    X[0, 3, 0] = np.nan
    m = _LM()
    before = [p.data.copy() for p in m.parameters()]
    with pytest.raises(ValueError, match=r"fit: X contains 1 NaN or infinite values \(the "
                                         r"first at index \(0, 3, 0\)\)"):
        rb.fit(m, X, y, loss="cross_entropy", optimizer=rb.optim.Adam(m.parameters()),
               epochs=1, tbptt=10, progress=False)
    y = np.full((2, 40, 1), np.inf, dtype=np.float32)
    with pytest.raises(ValueError, match="fit: y contains 80 NaN or infinite values"):
        rb.fit(m, _stream()[0], y, loss="mse", optimizer=rb.optim.Adam(m.parameters()),
               epochs=1, tbptt=10, progress=False)
    for p, b in zip(m.parameters(), before):
        np.testing.assert_array_equal(p.data, b)


def test_a_non_finite_chunk_loss_raises_divergence_and_keeps_the_best_weights():
    X, y = _stream()
    m = _LM()
    seen = []

    def loss(out, target):  # finite for the 5 chunks of epoch 0, then NaN
        value = rb.losses.cross_entropy(out, target)
        seen.append([p.data.copy() for p in m.parameters()])
        return value * np.nan if len(seen) == 6 else value

    losses = []
    with pytest.raises(rb.training.DivergenceError,
                       match=r"tbptt_fit: the loss became nan at epoch 1 \(0-based\), chunk 0; "
                             r"training stopped and the model keeps the weights of the lowest "
                             r"chunk loss so far") as info:
        tbptt_fit(m, X, y, k=8, loss=loss, optimizer=rb.optim.SGD(m.parameters(), lr=0.5),
                  epochs=3, callback=lambda e, c, v: losses.append(v))
    assert (info.value.epoch, info.value.batch) == (1, 0)
    best = int(np.argmin(losses))  # the weights (before its step) of the lowest chunk loss
    for p, kept in zip(m.parameters(), seen[best]):
        np.testing.assert_array_equal(p.data, kept)


def test_tbptt_fit_refuses_nan_and_inf_data_before_any_update():
    X = np.ones((2, 8, 1), np.float32)
    X[1, 5, 0] = np.nan
    rnn = rb.nn.RNN(1, 1, rng=0)
    before = [p.data.copy() for p in rnn.parameters()]
    with pytest.raises(ValueError, match=r"tbptt_fit: X contains 1 NaN or infinite values "
                                         r"\(the first at index \(1, 5, 0\)\)"):
        tbptt_fit(rnn, X, np.ones_like(X), k=4, loss="mse",
                  optimizer=rb.optim.SGD(rnn.parameters(), lr=0.1))
    y = np.ones((2, 8, 1), np.float32)
    y[0, 2, 0] = np.inf
    with pytest.raises(ValueError, match=r"tbptt_fit: y contains 1 NaN"):
        tbptt_fit(rnn, np.ones_like(y), y, k=4, loss="mse",
                  optimizer=rb.optim.SGD(rnn.parameters(), lr=0.1))
    for p, b in zip(rnn.parameters(), before):
        np.testing.assert_array_equal(p.data, b)


def test_tbptt_fit_refuses_a_bidirectional_layer():
    """Its backward direction needs the future: chunks cannot carry it."""
    model = rb.nn.Bidirectional(rb.nn.LSTM(3, 4, rng=0))
    X, y = np.zeros((2, 8, 3), np.float32), np.zeros((2, 8, 8), np.float32)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match="tbptt_fit: .*Bidirectional"):
        tbptt_fit(model, X, y, k=4, loss="mse", optimizer=rb.optim.SGD(model.parameters(), lr=1))
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)


# -- audit session 5 (area a2) ---------------------------------------------------------------
def test_tbptt_trains_in_training_mode_and_restores_the_modes():
    """A model left in eval() is trained in training mode (batch norm updates its running
    statistics), as rb.fit does; each module's mode is put back after."""
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(4, 12, 3)) * 3 + 5).astype(np.float32)
    y = rng.normal(size=(4, 12, 4)).astype(np.float32)
    for how in ("tbptt_fit", "fit"):
        net = rb.nn.GRU(3, 4, batch_norm=True, rng=0)
        net.eval()
        opt = rb.optim.SGD(net.parameters(), lr=0.01)
        if how == "fit":
            rb.fit(net, X, y, loss="mse", optimizer=opt, epochs=1, tbptt=4, progress=False)
        else:
            tbptt_fit(net, X, y, k=4, loss="mse", optimizer=opt)
        assert not net.training
        assert np.abs(net.running_mean_0).max() > 0.1  # it stays 0 in eval mode


def test_tbptt_keeps_a_frozen_batch_norm_layer_in_eval_mode():
    X = np.random.default_rng(0).normal(size=(2, 8, 3)).astype(np.float32) + 3
    bn = rb.nn.BatchNorm1d(3)
    gru = rb.nn.GRU(3, 4, rng=0)

    class M(rb.nn.Module):
        def __init__(self):
            self.bn, self.gru = bn, gru

        def forward(self, x, state=None):
            B, T, F = x.shape
            return self.gru(self.bn(x.reshape(B * T, F)).reshape(B, T, F), state)

    model = M()
    bn.freeze()
    tbptt_fit(model, X, np.zeros((2, 8, 4), np.float32), k=4, loss="mse",
              optimizer=rb.optim.SGD(gru.parameters(), lr=0.01))
    np.testing.assert_array_equal(bn.running_mean, 0)
    assert model.training and bn.training  # modes restored


def test_tbptt_divergence_restores_the_buffers_with_the_weights():
    rng = np.random.default_rng(0)
    gru = rb.nn.GRU(3, 4, batch_norm=True, rng=0)
    X = rng.normal(size=(4, 8, 3)).astype(np.float32)
    X[:, 4:] = 3e38  # finite data whose projection overflows: chunk 1 diverges
    y = np.zeros((4, 8, 4), np.float32)
    seen = {}

    def loss(out, target):
        seen.setdefault("stats", (gru.running_mean_0.copy(), gru.running_var_0.copy()))
        return rb.losses.mse(out, target)

    with np.errstate(over="ignore", invalid="ignore"), \
            pytest.raises(rb.training.DivergenceError, match="chunk 1"):
        tbptt_fit(gru, X, y, k=4, loss=loss, optimizer=rb.optim.SGD(gru.parameters(), lr=0.01))
    # the statistics of the lowest-loss chunk (chunk 0, after its forward), not inf / NaN
    np.testing.assert_array_equal(gru.running_mean_0, seen["stats"][0])
    np.testing.assert_array_equal(gru.running_var_0, seen["stats"][1])
    gru.eval()
    assert np.isfinite(gru(X[:, :4])[0].data).all()


def test_detach_state_handles_namedtuples_and_dicts():
    import collections

    State = collections.namedtuple("State", "h c")
    t = rb.tensor(np.ones(2), requires_grad=True) * 2
    s = detach_state(State(t, [t, None]))
    assert type(s) is State and s.h.is_leaf and not s.h.requires_grad and s.c[1] is None
    d = detach_state({"h": t, "c": (t,)})
    assert set(d) == {"h", "c"} and d["h"].is_leaf and d["c"][0].is_leaf
    with pytest.raises(TypeError, match="tbptt: the state must be a Tensor, or tuples, lists "
                                        "or dicts of them; got a set"):
        detach_state({t})


def test_tbptt_carries_namedtuple_and_dict_states():
    import collections

    State = collections.namedtuple("State", "h c")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 12, 3)).astype(np.float32)
    y = rng.normal(size=(2, 12, 4)).astype(np.float32)
    lstm = rb.nn.LSTM(3, 4, rng=0)

    class M(rb.nn.Module):
        def __init__(self, wrap):
            self.lstm, self.wrap = lstm, wrap

        def forward(self, x, state=None):
            if state is not None:
                state = ((state.h, state.c) if self.wrap == "namedtuple"
                         else (state["h"], state["c"]))
            o, (h, c) = self.lstm(x, state)
            return o, (State(h, c) if self.wrap == "namedtuple" else {"h": h, "c": c})

    for wrap in ("namedtuple", "dict"):
        hist = tbptt_fit(M(wrap), X, y, k=4, loss="mse",
                         optimizer=rb.optim.SGD(lstm.parameters(), lr=0.01))
        assert len(hist.chunk_loss) == 3


@pytest.mark.parametrize("shape", [(2, 0, 3), (0, 8, 3)])
def test_tbptt_refuses_streams_without_steps(shape):
    rnn = rb.nn.RNN(3, 4, rng=0)
    X = np.zeros(shape, np.float32)
    y = np.zeros(shape[:2] + (4,), np.float32)
    what = "no time steps" if shape[1] == 0 else "no streams"
    with pytest.raises(ValueError, match=f"tbptt_fit: X has {what}"):
        tbptt_fit(rnn, X, y, k=4, loss="mse", optimizer=rb.optim.SGD(rnn.parameters(), lr=0.1))
    with pytest.raises(ValueError, match=f"tbptt_fit: X has {what}"):
        rb.fit(rnn, X, y, loss="mse", optimizer=rb.optim.SGD(rnn.parameters(), lr=0.1),
               epochs=1, tbptt=4)


def test_tbptt_checks_the_optimizer_as_fit_does():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 12, 3)).astype(np.float32)
    y = rng.normal(size=(4, 12, 4)).astype(np.float32)
    model, other = rb.nn.RNN(3, 4, rng=0), rb.nn.RNN(3, 4, rng=1)
    before = [p.data.copy() for p in model.parameters()]
    opt = rb.optim.SGD(other.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="the optimizer holds none of the model's parameters"):
        rb.fit(model, X, y, loss="mse", optimizer=opt, epochs=1, tbptt=4)
    with pytest.raises(ValueError, match="the optimizer holds none of the model's parameters"):
        tbptt_fit(model, X, y, k=4, loss="mse", optimizer=opt)
    with pytest.raises(TypeError, match="optimizer must be an rb.optim optimizer"):
        tbptt_fit(model, X, y, k=4, loss="mse", optimizer="sgd")
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)
    part = rb.optim.SGD([model.W_x[0]], lr=0.1)
    with pytest.warns(UserWarning, match="does not hold 2 of the model's 3 trainable"):
        tbptt_fit(model, X, y, k=4, loss="mse", optimizer=part)
