"""Audit (session 7, area a3) fixes: recurrent layers, attention, NTM, truncated BPTT."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.training.tbptt import tbptt_fit


class _Tagger(rb.nn.Module):
    """A recurrent layer and a Dense read-out, called as model(x, state) -> (output, state)."""

    def __init__(self, rnn, out_size):
        self.rnn = rnn
        self.out = rb.nn.Dense(rnn.hidden_size, out_size, rng=0)

    def forward(self, x, state=None):
        h, s = self.rnn(x, state)
        return self.out(h), s


# -- #2: a one-step last chunk of one stream meets a batch-normalised RNN ------------------
@pytest.mark.parametrize("cell", [rb.nn.RNN, rb.nn.LSTM, rb.nn.GRU])
def test_tbptt_folds_a_one_step_last_chunk_into_the_one_before_for_batch_norm(rng, cell):
    net = _Tagger(cell(2, 3, batch_norm=True, rng=0), 1)
    X = rng.normal(size=(1, 7, 2)).astype(np.float32)  # k = 3: chunks 3, 3 and then 1 step
    y = rng.normal(size=(1, 7, 1)).astype(np.float32)
    hist = tbptt_fit(net, X, y, k=3, loss="mse", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
                     epochs=2)
    assert len(hist.chunk_loss) == 4  # 3 + 4 steps per epoch: the last step joined
    assert all(np.isfinite(hist.chunk_loss))


def test_tbptt_keeps_the_short_last_chunk_where_nothing_needs_batch_statistics(rng):
    net = _Tagger(rb.nn.LSTM(2, 3, rng=0), 1)
    X = rng.normal(size=(1, 7, 2)).astype(np.float32)
    hist = tbptt_fit(net, X, X[..., :1], k=3, loss="mse",
                     optimizer=rb.optim.SGD(net.parameters(), lr=0.1))
    assert len(hist.chunk_loss) == 3  # chunks of 3, 3 and 1 steps, as before


def test_fit_with_tbptt_and_batch_norm_completes_on_one_stream(rng):
    net = _Tagger(rb.nn.LSTM(2, 3, batch_norm=True, rng=0), 1)
    X = rng.normal(size=(1, 7, 2)).astype(np.float32)
    hist = rb.fit(net, X, X[..., :1], loss="mse", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
                  epochs=1, tbptt=3, progress=False)
    assert len(hist.chunk_loss) == 2


# -- #4: integer token chunks reach the model exactly ------------------------------------
def test_tbptt_hands_integer_token_chunks_to_the_model_unchanged():
    seen = []

    class Net(rb.nn.Module):  # the ids' last rows of a 2**24 + 3 vocabulary, kept small
        def __init__(self):
            self.emb = rb.nn.Embedding(3, 1, rng=0)
            self.rnn = rb.nn.RNN(1, 2, rng=0)
            self.out = rb.nn.Dense(2, 1, rng=0)

        def forward(self, x, state=None):
            seen.append(x)
            ids = x.data.astype(np.int64) if isinstance(x, rb.Tensor) else x
            h, s = self.rnn(self.emb(ids - 2**24), state)
            return self.out(h), s

    X = np.array([[2**24 + 1, 2**24 + 1]], dtype=np.int64)  # not a float32 number
    net = Net()
    tbptt_fit(net, X, np.zeros((1, 2, 1), np.float32), k=2, loss="mse",
              optimizer=rb.optim.SGD(net.parameters(), lr=0.1))
    assert isinstance(seen[0], np.ndarray) and seen[0].dtype == np.int64
    assert seen[0].tolist() == X.tolist()


def test_tbptt_still_hands_float_data_and_small_ids_as_tensors(rng):
    seen = []

    class Net(_Tagger):
        def forward(self, x, state=None):
            seen.append(x)
            return super().forward(x, state)

    net = Net(rb.nn.RNN(2, 3, rng=0), 1)
    opt = rb.optim.SGD(net.parameters(), lr=0.1)
    X = rng.normal(size=(2, 4, 2)).astype(np.float32)
    tbptt_fit(net, X, X[..., :1], k=2, loss="mse", optimizer=opt)
    tbptt_fit(net, X.round().astype(np.int64), X[..., :1], k=2, loss="mse", optimizer=opt)
    assert len(seen) == 4  # as rb.fit: a float32 Tensor, exact for ids up to 2**24
    assert all(isinstance(x, rb.Tensor) and x.dtype == np.float32 for x in seen)


# -- #3: Attention(causal=...) is a switch -----------------------------------------------
@pytest.mark.parametrize("bad", ["False", 1, None])
def test_attention_causal_must_be_a_bool(rng, bad):
    att = rb.nn.Attention("dot")
    q = rng.normal(size=(1, 3, 4)).astype(np.float32)
    with pytest.raises(TypeError, match="Attention: causal must be True or False"):
        att(q, q, causal=bad)


def test_attention_causal_numpy_bool_is_a_switch(rng):
    att = rb.nn.Attention("dot")
    q = rng.normal(size=(1, 3, 4)).astype(np.float32)
    _, w = att(q, q, causal=np.bool_(True))
    assert w.data[0, 0, 1] == 0 and w.data[0, 0, 0] == 1


# -- #5: LSTM(forget_bias=...) is checked as a number ------------------------------------
@pytest.mark.parametrize("bad", ["x", "1.5", None, True, [1.0]])
def test_lstm_forget_bias_must_be_a_number(bad):
    with pytest.raises(TypeError, match="LSTM: forget_bias must be a number; got"):
        rb.nn.LSTM(3, 4, forget_bias=bad, rng=0)


def test_lstm_forget_bias_takes_numpy_numbers():
    assert rb.nn.LSTM(3, 4, forget_bias=np.float32(2.0), rng=0).forget_bias == 2.0
    assert rb.nn.LSTM(3, 4, forget_bias=np.int64(0), rng=0).forget_bias == 0.0


# -- #6: Bidirectional checks backward_layer as it checks layer ---------------------------
@pytest.mark.parametrize("bad", ["x", 3, type(None)])
def test_bidirectional_backward_layer_must_be_a_module(bad):
    with pytest.raises(TypeError, match="Bidirectional: backward_layer must be a Module; got"):
        rb.nn.Bidirectional(rb.nn.GRU(3, 4, rng=0), backward_layer=bad)


def test_bidirectional_layers_must_take_a_state():
    with pytest.raises(TypeError, match=r"Bidirectional: backward_layer must be a recurrent "
                                        r"layer called as layer\(x, state\).*Dense"):
        rb.nn.Bidirectional(rb.nn.GRU(3, 4, rng=0), backward_layer=rb.nn.Dense(3, 4))
    with pytest.raises(TypeError, match=r"Bidirectional: layer must be a recurrent layer"):
        rb.nn.Bidirectional(rb.nn.Dense(3, 4), backward_layer=rb.nn.GRU(3, 4, rng=0))


def test_bidirectional_takes_a_custom_recurrent_backward_layer(rng):
    class Wrapped(rb.nn.Module):  # a recurrent layer of the user's own
        def __init__(self):
            self.gru = rb.nn.GRU(3, 4, rng=1)

        def forward(self, x, state=None, lengths=None):
            return self.gru(x, state, lengths=lengths)

    bi = rb.nn.Bidirectional(rb.nn.GRU(3, 4, rng=0), backward_layer=Wrapped())
    out, _ = bi(rng.normal(size=(2, 5, 3)).astype(np.float32))
    assert out.shape == (2, 5, 8)


# -- #7: an empty batch's lengths as an empty list ---------------------------------------
@pytest.mark.parametrize("make", [
    lambda: rb.nn.LSTM(3, 4, rng=0), lambda: rb.nn.GRU(3, 4, rng=0),
    lambda: rb.nn.RNN(3, 4, rng=0), lambda: rb.nn.Bidirectional(rb.nn.GRU(3, 4, rng=0), rng=0)])
def test_empty_batch_takes_lengths_as_an_empty_list(make):
    layer = make()
    out, _ = layer(np.zeros((0, 5, 3), np.float32), lengths=[])
    assert out.shape[:2] == (0, 5)


def test_empty_lengths_are_still_refused_for_a_non_empty_batch():
    with pytest.raises(ValueError, match="lengths must be 2 integers"):
        rb.nn.LSTM(3, 4, rng=0)(np.zeros((2, 5, 3), np.float32), lengths=[])


# -- #9: a float64 NTM fed float32 inputs runs in float64 ---------------------------------
@pytest.mark.parametrize("controller", ["lstm", "dense"])
def test_float64_ntm_promotes_float32_inputs(rng, controller):
    net = rb.nn.NTM(5, 4, controller=controller, controller_size=8, memory_size=(6, 3),
                    rng=np.random.default_rng(0), dtype=np.float64)
    X = rng.integers(0, 2, size=(2, 4, 5)).astype(np.float32)
    x32 = rb.tensor(X, requires_grad=True)
    y32 = net(x32)
    trace32 = net.trace
    x64 = rb.tensor(X.astype(np.float64), dtype=np.float64, requires_grad=True)
    y64 = net(x64)
    assert trace32["memory"].dtype == np.float64 and y32.dtype == np.float64
    np.testing.assert_array_equal(y32.data, y64.data)  # as the LSTM: the same numbers
    g = rng.normal(size=y32.shape)
    y32.backward(g)
    y64.backward(g)
    assert x32.grad.dtype == np.float32
    np.testing.assert_allclose(x32.grad, x64.grad, rtol=1e-6, atol=1e-7)


def test_float32_ntm_stays_float32(rng):
    net = rb.nn.NTM(5, 4, controller_size=8, memory_size=(6, 3), rng=np.random.default_rng(0))
    y = net(rb.tensor(rng.normal(size=(2, 3, 5)).astype(np.float32)))
    assert y.dtype == np.float32 and net.trace["memory"].dtype == np.float32
