"""The hyperparameters chapter of the tour runs in quick mode and confirms every claim."""


import pytest


@pytest.mark.slow
def test_hyperparameters_chapter_confirms_every_claim(tmp_path, quick_chapter):
    pytest.importorskip("sklearn")
    result = quick_chapter("hyperparameters", tmp_path)
    # (quick mode reports Bayesian search against random search without a verdict: five
    # searches cannot tell them apart; the full tour judges it)
    assert len(result.claims) >= 4
    assert all(c.passed for c in result.claims), [c.detail for c in result.claims]
    assert sum(b.kind == "figure" for b in result.blocks) >= 4


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 5, 6])
def test_hyperparameters_chapter_holds_for_other_seeds(tmp_path, seed):
    # with random first trials and length scales fitted by the likelihood alone, the Bayesian
    # search of these seeds refined its first good point until the budget was spent (one run
    # of seed 5 at 77% against random search's 92%) and "at least as good as random" failed
    import io

    from rosenblatt.tour import run_tour

    pytest.importorskip("sklearn")
    tour = run_tour(quick=True, out=tmp_path, only=["hyperparameters"], seed=seed,
                    log=io.StringIO())
    (result,) = tour.results
    assert not result.error
    assert [c.detail for c in result.claims if not c.passed] == []


def _space():
    from rosenblatt import tuning as T

    return T.Space({"lr": T.LogUniform(1e-4, 1.0), "hidden": T.Int(4, 256, log=True),
                    "dropout": T.Uniform(0.0, 0.7), "l2": T.LogUniform(1e-6, 1e-1)})


def test_length_scale_claim_names_the_known_relevant_parameters():
    import numpy as np

    from rosenblatt.tour.chapters import hyperparameters
    from rosenblatt.tour.context import Context

    ctx = Context(quick=True, rng=np.random.default_rng(0))
    hyperparameters._known_relevance(ctx, _space(), 16, 0)
    (claim,) = ctx.claims
    assert claim.passed, claim.detail


@pytest.mark.parametrize("objective", ["noise", "only lr"])
def test_length_scale_claim_fails_where_other_parameters_matter(objective):
    # the claim once read "two of the four carry most of the relevance" off the shares
    # alone, which a pure-noise objective met at 7 of 8 seeds (the shares pile up on two
    # random parameters) and an objective of lr alone at 8 of 8
    import math

    import numpy as np

    from rosenblatt import tuning as T
    from rosenblatt.tour.chapters.hyperparameters import _relevance_shown

    space = _space()
    g = np.random.default_rng(0)
    f = {"noise": lambda p: float(g.normal()),
         "only lr": lambda p: (math.log10(p["lr"]) + 2.5) ** 2}[objective]
    study = T.minimize(f, space, method="bayes", n_trials=16, n_initial=5, seed=0)
    gp = study.surrogate()
    untried = space.from_unit(np.random.default_rng(0).random((300, 4)))
    ok, r = _relevance_shown(study.importance(gp), gp.predict(space.to_unit(untried))[0],
                             [f(p) for p in untried], ("lr", "dropout"))
    assert not ok, (study.importance(gp), r)
