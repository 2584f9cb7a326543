"""The tour's chapters for issues 2-4 run in quick mode and confirm every claim."""

import pytest

from rosenblatt.tour import discover, run_tour

MINE = ["perceptron", "activations", "backprop", "saturation", "optimizers", "learning_rate",
        "adversarial",
        "initialisation", "batchnorm", "regularization", "dropout", "early_stopping"]


def test_chapters_are_discovered_in_the_notes_order():
    # Every chapter, in the order of its section in the notes (tests/tour/test_order.py).
    from rosenblatt.tour.sections import rank

    chapters = [c for c in discover() if not c.import_error]
    assert set(MINE) <= {c.name for c in chapters}
    ranks = [rank(c.section) for c in chapters]
    assert None not in ranks and ranks == sorted(ranks)


@pytest.mark.slow
def test_quick_tour_confirms_every_claim(tmp_path):
    import io

    tour = run_tour(quick=True, out=tmp_path, only=MINE, log=io.StringIO())
    errors = {r.chapter.name: r.error for r in tour.results if r.error}
    assert not errors
    failed = [(r.chapter.name, c.text, c.detail) for r in tour.results for c in r.claims
              if not c.passed]
    assert not failed
    assert all(len(r.claims) >= 2 for r in tour.results)
    figures = sum(b.kind == "figure" for r in tour.results for b in r.blocks)
    assert figures >= len(MINE)
    assert tour.seconds < 120


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_gains_chapter_holds_for_other_seeds(tmp_path, seed):
    # its learning rate is 90% of the sample's own stability limit: with the old fixed 0.009
    # the plain SGD run diverged on seed 1's data (a steeper sample) and the chapter failed
    import io

    tour = run_tour(quick=True, out=tmp_path, only=["gains"], seed=seed, log=io.StringIO())
    (result,) = tour.results
    assert not result.error
    assert result.claims and all(c.passed for c in result.claims)


ONCE_FAILED = [("augmentation", 26), ("autoencoders", 6), ("elastic-net", 4), ("gan", 3),
               ("modular", 5), ("modular", 9), ("overfitting", 17), ("overfitting", 18),
               ("regularization", 8), ("regularization", 17), ("shuffling", 6), ("transfer", 5),
               ("rbm", 3), ("rbm", 4),
               # audit a6 (session 5): the underfitting guard judged on the model whose gap
               # closed (regularization), a plain network that trains (batchnorm's rates and
               # initialisation) and a three-initialisation control (batchnorm 12), the
               # digits on [0, 1] with the rewiring stopped before the end (modular)
               ("regularization", 2), ("regularization", 11), ("regularization", 12),
               ("batchnorm", 12), ("modular", 1), ("modular", 2),
               # the pre-training gains' standard error over draws, with 10 draws (autoencoders)
               ("autoencoders", 12), ("autoencoders", 16)]


@pytest.mark.slow
@pytest.mark.parametrize("name,seed", ONCE_FAILED)
def test_chapters_hold_for_the_seeds_that_once_failed_a_claim(tmp_path, name, seed):
    # Each of these seeds failed one claim of the chapter at its quick budget: a 5-point
    # margin (augmentation), a 5% margin on two means (autoencoders), the largest of 26
    # weights (elastic net), 40 GAN epochs, three blank pixels at one moment (modular), one
    # net a size (overfitting), test accuracy lower by less than its standard error and L2
    # with momentum (regularization), a probe past the curriculum's easy phase, one draw of 40
    # labels (transfer), a 5-epoch RBM and 60 generated digits (rbm). Each claim held over
    # seeds 0-19 or more when it was mended.
    pytest.importorskip("sklearn")
    import io

    tour = run_tour(quick=True, out=tmp_path, only=[name], seed=seed, log=io.StringIO())
    (result,) = tour.results
    assert not result.error
    assert [(c.text, c.detail) for c in result.claims if not c.passed] == []
