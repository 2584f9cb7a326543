"""The notes' claims about recurrent networks, shown by training (fixed seeds, small budgets).

- "LSTMs [...] learn long-range dependencies" that vanilla RNNs don't: the
  embedded Reber grammar, whose second-to-last symbol repeats the second one.
- Bidirectional RNNs "look into the future": a task whose answer at position
  t lies after t.
- "LSTMs and GRUs" both mitigate the vanishing gradient: the GRU learns the
  embedded Reber grammar too.
"""

import numpy as np
import pytest

import rosenblatt as rb


class Tagger(rb.nn.Module):
    """A recurrent layer and a linear read-out at every step."""

    def __init__(self, layer, hidden, n_out, rng):
        self.rnn = layer
        self.head = rb.nn.Dense(hidden, n_out, rng=rng)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out)


def _reber_data():
    strings, nexts = rb.datasets.reber_strings(600, rng=0)
    test, test_nexts = rb.datasets.reber_strings(3000, rng=1)
    seen = set(strings)
    held = [i for i, s in enumerate(test) if s not in seen and len(s) >= 20]
    train = rb.datasets.encode_reber(strings, nexts)
    heldout = rb.datasets.encode_reber([test[i] for i in held], [test_nexts[i] for i in held])
    return train, heldout


def _train_reber(model, X, Y, epochs, seed):
    """Mini-batches of 20 strings, binary cross-entropy on the multi-hot next-symbol targets
    of the real (unpadded) steps."""
    opt = rb.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    order = np.random.default_rng(seed)
    for _ in range(epochs):
        perm = order.permutation(len(X))
        for i in range(0, len(X), 20):
            idx = perm[i:i + 20]
            mask = (Y[idx].sum(-1, keepdims=True) > 0).astype(np.float32)
            T = int(mask.sum(1).max())
            x, y, mask = X[idx, :T], Y[idx, :T], mask[:, :T]
            per = rb.losses.binary_cross_entropy_with_logits(model(rb.tensor(x)), y,
                                                             reduction="none")
            loss = (per * mask).sum() / mask.sum()
            opt.zero_grad()
            loss.backward()
            rb.optim.clip_grad_norm(opt, 1.0)
            opt.step()


def _reber_scores(model, X, Y):
    """(fraction of strings with every next-symbol set right, same ignoring the one
    long-range step: the prediction after the inner string's E)."""
    with rb.no_grad():
        predicted = model(rb.tensor(X)).data > 0  # sigmoid > 0.5
    real = Y.sum(-1) > 0
    ok = (predicted == (Y > 0)).all(-1) | ~real
    long_range = X[..., rb.datasets.REBER_SYMBOLS.index("E")] == 1
    return ok.all(1).mean(), (ok | long_range).all(1).mean()


@pytest.mark.slow
def test_lstm_learns_embedded_reber_where_elman_rnn_does_not():
    """Budget: 40 epochs of 600 strings (SGD, momentum 0.9, norm clipping 1), 16 seeds.
    LSTM 12 units (1,051 weights) vs Elman RNN 24 units (943 weights). Held-out:
    unseen strings of length >= 20. A modern Elman RNN (orthogonal init, clipping)
    sometimes gets there too; what the notes claim, and what is measured here, is
    that the LSTM does so reliably (3 seeds in 4 at least) and the RNN mostly does not
    (fewer than half). Which seeds succeed is chaotic (a change in the last bit of the
    loss's gradient moves them), so the rates are measured over 16 seeds, not 8.
    (Measured over seeds 1-24 with two roundings of the logistic gradient: the LSTM solves
    20 of 24 either way, the RNN 6 and 9 of 24; seeds 1-16: LSTM 14, RNN 3 and 4, mean full
    scores 0.99 / 0.96 against 0.54 / 0.56.)"""
    (X, Y), (Xt, Yt) = _reber_data()
    assert len(Xt) >= 100
    lstm_scores, rnn_scores, rnn_local = [], [], []
    for seed in range(1, 17):
        rng = np.random.default_rng(seed)
        lstm = Tagger(rb.nn.LSTM(7, 12, rng=rng), 12, 7, rng)
        _train_reber(lstm, X, Y, 40, seed)
        lstm_scores.append(_reber_scores(lstm, Xt, Yt)[0])
        rng = np.random.default_rng(seed)
        rnn = Tagger(rb.nn.RNN(7, 24, rng=rng), 24, 7, rng)
        _train_reber(rnn, X, Y, 40, seed)
        full, local = _reber_scores(rnn, Xt, Yt)
        rnn_scores.append(full)
        rnn_local.append(local)
    lstm_solved = sum(a >= 0.95 for a in lstm_scores)
    rnn_solved = sum(a >= 0.95 for a in rnn_scores)
    assert lstm_solved >= 12 and rnn_solved <= 7, (lstm_scores, rnn_scores)
    assert np.mean(lstm_scores) - np.mean(rnn_scores) > 0.25, (lstm_scores, rnn_scores)
    # The RNN did learn the grammar's local transitions: what it misses is the long-range step.
    assert np.median(rnn_local) >= 0.9, rnn_local


@pytest.mark.slow
def test_gru_learns_embedded_reber_too():
    """The notes' other gated cell, in the LSTM test's budget (40 epochs, SGD with momentum
    0.9, clipping) on 8 seeds: a 14-unit GRU (1,043 weights, as the LSTM's 1,051) solves it
    as reliably as the LSTM (3 seeds in 4 at least). Measured over seeds 1-16: 15 solved
    (seed 3: 52%), every run right on the local transitions; 5 of seeds 1-8 at 20 epochs."""
    (X, Y), (Xt, Yt) = _reber_data()
    scores = []
    for seed in range(1, 9):
        rng = np.random.default_rng(seed)
        gru = Tagger(rb.nn.GRU(7, 14, rng=rng), 14, 7, rng)
        _train_reber(gru, X, Y, 40, seed)
        scores.append(_reber_scores(gru, Xt, Yt))
    solved = sum(full >= 0.95 for full, _ in scores)
    assert solved >= 6, scores
    assert min(local for _, local in scores) >= 0.9, scores


@pytest.mark.slow
def test_bidirectional_beats_unidirectional_when_the_answer_lies_ahead():
    """Tag each position with the symbol two steps ahead (0 at the last two)."""
    V, T, H = 6, 12, 16
    data = np.random.default_rng(0)
    tokens = data.integers(1, V, (512, T))
    X = rb.nn.one_hot(tokens, V)
    y = np.zeros_like(tokens)
    y[:, :-2] = tokens[:, 2:]
    test_tokens = np.random.default_rng(1).integers(1, V, (256, T))
    Xt = rb.nn.one_hot(test_tokens, V)
    yt = np.zeros_like(test_tokens)
    yt[:, :-2] = test_tokens[:, 2:]

    def train(bidirectional):
        rng = np.random.default_rng(2)
        layer = rb.nn.GRU(V, H, rng=rng)
        if bidirectional:
            layer = rb.nn.Bidirectional(layer, rng=rng)
        model = Tagger(layer, 2 * H if bidirectional else H, V, rng)
        opt = rb.optim.Adam(model.parameters(), lr=0.01)
        order = np.random.default_rng(3)
        for _ in range(15):
            perm = order.permutation(len(X))
            for i in range(0, len(X), 32):
                idx = perm[i:i + 32]
                loss = rb.losses.cross_entropy(model(rb.tensor(X[idx])), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        with rb.no_grad():
            return (model(rb.tensor(Xt)).data.argmax(-1) == yt).mean()

    uni, bi = train(False), train(True)
    assert bi > 0.95, bi
    assert uni < 0.4, uni  # ~ chance (1/5) on the positions whose answer lies ahead
