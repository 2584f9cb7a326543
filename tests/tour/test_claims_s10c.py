"""Audit s10 a6 (fix f6): the NTM, recurrent and CNN chapters' claims.

Each chapter draws its runs from the tour's seed (``ctx.run_seed``), so ``tour --seed``
repeats its experiments on runs of their own; the claims' checks can fail.
"""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.tour.chapters import cnn, cnn_parts, ntm, rnn, rnn_parts
from rosenblatt.tour.context import Context


class _Stop(Exception):
    """Raised by a spy once it has seen what the test needs."""


def _ntm_setup(monkeypatch, seed):
    """The NTM chapter's NTM keywords and training seed at tour seed ``seed``."""
    seen = {}
    NTM = rb.nn.NTM

    def ntm_spy(*args, **kw):
        seen["ntm"] = dict(kw)
        return NTM(*args, **kw)

    def train_spy(model, opt, **kw):
        seen["train seed"] = kw.get("seed", 0)
        seen["first weight"] = float(next(iter(model.parameters())).data.ravel()[0])
        raise _Stop

    monkeypatch.setattr(rb.nn, "NTM", ntm_spy)
    monkeypatch.setattr(ntm, "train_copy", train_spy)
    with pytest.raises(_Stop):
        ntm.run(Context(quick=True, seed=seed))
    return seen


def test_ntm_chapter_takes_its_runs_from_the_tour_seed_with_a_constant_initial_state(
        monkeypatch):
    at0, at3 = _ntm_setup(monkeypatch, 0), _ntm_setup(monkeypatch, 3)
    assert at0["ntm"]["learn_initial"] is False  # 19 of 20 runs hold, against 13 learned
    assert at0["train seed"] != at3["train seed"]
    assert at0["first weight"] != at3["first weight"]


def test_rnn_experiments_take_their_runs_from_the_tour_seed(monkeypatch):
    seen = []

    def reber_spy(n, rng=None, **kw):
        seen.append(rng)
        raise _Stop

    monkeypatch.setattr(rb.datasets, "reber_strings", reber_spy)
    for seed in (0, 2):
        with pytest.raises(_Stop):
            rnn._reber(Context(quick=True, seed=seed), 1, 1)
    assert seen[0] != seen[1]

    def seq2seq_spy(*args, rng=None, **kw):
        seen.append(rng.random())
        raise _Stop

    monkeypatch.setattr(rb.models, "Seq2Seq", seq2seq_spy)
    for seed in (0, 2):
        with pytest.raises(_Stop):
            rnn._reverser(Context(quick=True, seed=seed), None, 1, 3)
    assert seen[2] != seen[3]


@pytest.mark.slow
def test_clipped_run_learns_where_the_unclipped_one_explodes():
    """The chapter's clipping setting: the clipped net must beat predicting the mean by half,
    not merely stay finite (at sequences of 30 and 512 of them it ended at 1.1-3.3 var(y)).
    At tour seed 3's draw, sequences of 20 did not explode unclipped (largest norm 83)."""
    X, y = rb.datasets.adding_problem(4096, 22, rng=3000)  # tour seed 3's draw, the hardest
    unclipped, _, diverged = rnn._adding_run(2.0, None, X, y, 8, 3000)
    clipped, _, clipped_diverged = rnn._adding_run(2.0, 1.0, X, y, 8, 3000)
    assert diverged is not None and not np.isfinite(unclipped).all()
    assert clipped_diverged is None and np.isfinite(clipped).all()
    assert clipped[-16:].mean() < 0.5 * y.var(), (clipped[-16:].mean(), y.var())


class _InputGateOpen(rb.nn.Module):
    """Shaped like a coupled LSTM (f, g, o blocks) but computing with i = 1, not 1 - f."""

    def __init__(self, coupled):
        H = coupled.hidden_size
        self.input_size, self.hidden_size, self.P = coupled.input_size, H, None
        self.W_x, self.W_h, self.b = coupled.W_x, coupled.W_h, coupled.b
        self.inner = rb.nn.LSTM(coupled.input_size, H, rng=0)
        for mine, theirs, open_gate in ((self.inner.W_x, coupled.W_x, 0.0),
                                        (self.inner.W_h, coupled.W_h, 0.0),
                                        (self.inner.b, coupled.b, 30.0)):
            block = np.full(theirs[0].data.shape[:-1] + (H,), open_gate, dtype=np.float32)
            mine[0].data[...] = np.concatenate([block, theirs[0].data], axis=-1)

    def forward(self, x, state=None):
        return self.inner(x, state)


@pytest.mark.parametrize("peephole", [False, True])
def test_coupling_is_measured_on_the_layer_and_can_fail(peephole):
    layer = rb.nn.LSTM(1, 4, coupled=True, peephole=peephole, rng=1)
    weights = np.random.default_rng(2)
    for p in layer.parameters():
        p.data[...] = weights.normal(0, 1, p.data.shape)
    x = np.random.default_rng(0).standard_normal((8, 16, 1)).astype(np.float32)
    assert rnn_parts.coupling_gap(layer, x) < 1e-5
    if not peephole:
        assert rnn_parts.coupling_gap(_InputGateOpen(layer), x) > 1e-2


def test_max_pooling_ignores_where_in_its_region_a_feature_was():
    fmap = np.random.default_rng(0).random((6, 6)).astype(np.float32)
    moved, where = cnn_parts.where_in_region(rb.nn.MaxPool2d(2), fmap)
    assert fmap[where] == fmap.max()
    assert moved["within"] == 0 and moved["across"] > 0
    # a layer that does care where (no pooling at all) fails the check
    moved, _ = cnn_parts.where_in_region(rb.nn.Identity(), fmap)
    assert moved["within"] > 0


@pytest.mark.slow
def test_shuffled_pixels_change_nothing_for_a_dense_net_and_hurt_the_cnn():
    """The cnn chapter's structure claim on a smaller canvas set (300 + 300 digits)."""
    ctx = Context(quick=True, rng=np.random.default_rng(0))
    digits, y = rb.datasets.load_digits()
    rng = np.random.default_rng(0)
    X = np.zeros((600, 1, 12, 12), dtype=np.float32)
    for k, (a, b) in enumerate(rng.integers(0, 5, (600, 2))):
        X[k, 0, a:a + 8, b:b + 8] = digits[k].reshape(8, 8)
    train, test = np.arange(300), np.arange(300, 600)
    seed, epochs = 5, 15
    r = np.random.default_rng(seed)
    net = rb.nn.Sequential(rb.nn.Conv2d(1, 8, 3, rng=r), rb.nn.ReLU(), rb.nn.MaxPool2d(2),
                           rb.nn.Flatten(), rb.nn.Dense(8 * 25, 10, rng=r))
    accuracy = cnn._fit_accuracy(net, X, y[:600], train, test, epochs, r)
    cnn._structure(ctx, X, y[:600], train, test, seed, epochs, accuracy)
    table = [b for b in ctx.blocks if b.kind == "table"][-1].payload["rows"]
    assert table[1][2] == table[1][3]  # the dense net: the same accuracy, shuffled or not
    structure, _ = ctx.claims
    assert structure.passed, structure.detail


@pytest.mark.slow
@pytest.mark.parametrize("name,seed", [("ntm", 3), ("ntm", 6)])
def test_chapters_hold_at_the_seeds_that_failed_with_the_learned_initial_state(tmp_path, name,
                                                                              seed):
    # With the learned M_0 the NTM chapter, drawn from these tour seeds, missed the copy claim
    # (1.83 and 7.31 bits at length 5; audit s10 a6); it held at seeds 0-9 once constant.
    import io

    from rosenblatt.tour import run_tour

    tour = run_tour(quick=True, out=tmp_path, only=[name], seed=seed, log=io.StringIO())
    (result,) = tour.results
    assert not result.error
    assert [(c.text, c.detail) for c in result.claims if not c.passed] == []
