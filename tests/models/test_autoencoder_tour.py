"""The autoencoders chapter of the tour runs in quick mode and confirms every claim."""


import pytest


@pytest.mark.slow
def test_autoencoders_chapter_confirms_every_claim(tmp_path, quick_chapter):
    pytest.importorskip("mlxtend")
    result = quick_chapter("autoencoders", tmp_path)
    assert len(result.claims) >= 6
    assert sum(b.kind == "figure" for b in result.blocks) >= 4


def _digits():
    import numpy as np

    import rosenblatt as rb

    X, y = rb.datasets.load_mnist_sample()
    order = np.random.default_rng(0).permutation(len(X))
    return X[order[:1000]], y[order[:1000]], X[order[1000:1500]]


def test_markov_chain_verdict_refuses_the_mean_digit_and_a_collapsed_chain():
    # the verdict once asked only for images near training digits: twenty copies of the
    # mean training digit passed it (nearer than held-out digits), and so did chains that
    # all ended on one blob
    import numpy as np

    from rosenblatt.tour.chapters.autoencoders import _judge_samples

    Xtr, ytr, Xte = _digits()
    start = (np.random.default_rng(1).random((20, 784)) < 0.2).astype(np.float32)
    mean = np.repeat(Xtr.mean(axis=0, keepdims=True), 20, axis=0)
    blob = mean + 0.02 * np.random.default_rng(2).standard_normal(mean.shape)
    for samples in (mean, blob):
        ok, detail = _judge_samples(samples, start, Xtr, ytr, Xte[:20])
        assert not ok, detail
    ok, detail = _judge_samples(Xte[20:40], start, Xtr, ytr, Xte[:20])  # real digits pass
    assert ok, detail
    assert not _judge_samples(start[::-1], start, Xtr, ytr, Xte[:20])[0]  # noise does not


def test_sparse_coding_claim_needs_the_dictionary_learned(monkeypatch):
    # with fit's learning skipped (the dictionary left at the training digits it starts
    # from) the claim once passed: few codes, a fair error; the held-out objective is the
    # learning's mark
    import numpy as np

    import rosenblatt as rb
    from rosenblatt.tour.chapters import autoencoders
    from rosenblatt.tour.context import Context

    Xtr, _, Xte = _digits()
    Xtr, Xte = Xtr[:500], Xte[:200]
    pytest.importorskip("matplotlib")
    real_fit = rb.models.SparseCoding.fit

    def verdict():
        ctx = Context(quick=True, rng=np.random.default_rng(0))
        autoencoders._sparse_coding(ctx, Xtr, Xte, 3, True)
        (claim,) = ctx.claims
        return claim

    claim = verdict()
    assert claim.passed, claim.detail

    def unlearned(self, X, *args, **kwargs):
        real_fit(self, X, epochs=1)
        g = np.random.default_rng(3)  # the chapter's seed: the same digits as fit starts from
        start = np.asarray(X)[g.choice(len(X), self.n_atoms, replace=False)].T
        self.dictionary = start / np.linalg.norm(start, axis=0)
        return self

    monkeypatch.setattr(rb.models.SparseCoding, "fit", unlearned)
    claim = verdict()
    assert not claim.passed, claim.detail
