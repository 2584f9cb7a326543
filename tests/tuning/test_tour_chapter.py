"""The hyperparameters chapter of the tour runs in quick mode and confirms every claim."""


import pytest


@pytest.mark.slow
def test_hyperparameters_chapter_confirms_every_claim(tmp_path, quick_chapter):
    pytest.importorskip("sklearn")
    result = quick_chapter("hyperparameters", tmp_path)
    assert len(result.claims) >= 5
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
