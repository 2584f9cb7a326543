"""Session 11 (g4): the verdicts of the tour's second-half chapters test what the notes claim,
follow the tour seed, and fail when their cause is removed. Reproductions: /tmp/s11/g4."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.tour.chapters import autoencoders, gan
from rosenblatt.tour.context import Context


class _Stop(Exception):
    pass


# -- GAN chapter, adversarial part -------------------------------------------------------------

def test_gan_adversarial_part_draws_its_runs_from_the_tour_seed(monkeypatch):
    seen = []

    def split(*args, rng=None, **kwargs):
        seen.append(rng)
        raise _Stop

    monkeypatch.setattr(rb.datasets, "train_test_split", split)
    for seed in (0, 3):
        with pytest.raises(_Stop):
            gan._adversarial_part(Context(quick=True, seed=seed))
    # seed 0: the runs the chapter always showed; another seed, runs of its own
    assert seen == [0, 3000]


# (plain row, robust row): [name, clean error, FGSM error at 0.1, FGSM error at 0.25]
_PLAIN = ["plain", 0.090, 0.989, 1.0]


def test_adversarial_training_verdict_allows_the_clean_cost_seen_over_the_seeds():
    # tour seed 4: 2.7 points, the largest of seeds 0-29 (the old 2-point bound failed it)
    assert gan._adversarial_training_confirmed(_PLAIN, ["robust", 0.117, 0.412, 0.9], 1000)


def test_adversarial_training_verdict_fails_without_its_cause_or_at_a_real_cost():
    # no adversarial training: nothing halved
    assert not gan._adversarial_training_confirmed(_PLAIN, list(_PLAIN), 1000)
    # adversarial loss alone at eps 0.25: robust, but 16 points of clean error lost
    assert not gan._adversarial_training_confirmed(_PLAIN, ["robust", 0.250, 0.463, 0.9], 1000)
    # the bound is two standard errors of the test error above 2 points, no more
    assert gan._clean_cost_bound(0.09, 1000) == pytest.approx(0.02 + 2 * np.sqrt(0.09 * 0.91
                                                                               / 1000))


# -- autoencoders: undercomplete ------------------------------------------------------------

def test_undercomplete_verdict_fails_for_the_mean_digit():
    # the mean training digit compresses nothing, yet scrambled digits are 2.5-3.3x worse for
    # it (tour seed 9: 4.70 on digits, 2.45x on scrambled ones); the old verdict (ratio > 2)
    # confirmed it
    assert not autoencoders._undercomplete_confirmed(4.70, 2.45 * 4.70, 4.70)
    # the trained 64-16 autoencoder at the same seed
    assert autoencoders._undercomplete_confirmed(2.47, 4.07 * 2.47, 4.70)
    # a copy (good on everything) is not "bad for other inputs"
    assert not autoencoders._undercomplete_confirmed(0.5, 0.6, 4.70)


# -- verdict details report the numbers they judge ------------------------------------------

def _claim_detail(module, text_start):
    """The source of the detail argument of ``module``'s ctx.claim whose text starts so."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(module))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "claim" and len(node.args) == 3):
            text = node.args[0]
            if isinstance(text, ast.Constant) and str(text.value).startswith(text_start) or (
                    isinstance(text, ast.JoinedStr) and ast.unparse(text).startswith(
                        "f" + repr(text_start)[:-1])):
                return ast.unparse(node.args[2])
    raise AssertionError(f"no claim starting {text_start!r}")


@pytest.mark.parametrize("module, text, judged", [
    ("modular", "Association modules composed", "rows[0][1]"),
    ("neuroevolution", "NEAT balances two poles", "neat_res.best_fitness"),
    ("autoencoders", "A contractive autoencoder's gradient", "descends"),
])
def test_detail_reports_what_the_verdict_judges(module, text, judged):
    import importlib

    mod = importlib.import_module(f"rosenblatt.tour.chapters.{module}")
    assert judged in _claim_detail(mod, text)


# -- autoencoders: the denoising autoencoder's Markov chain ----------------------------------

@pytest.fixture(scope="module")
def mnist_split():
    X, y = rb.datasets.load_mnist_sample()
    perm = np.random.default_rng(1).permutation(len(X))
    X, y = X[perm], y[perm]
    start = (np.random.default_rng(0).random((20, 784)) < 0.2).astype(np.float32)
    return X[:1000], y[:1000], X[4000:4020], X[3000:3020], start


@pytest.mark.parametrize("toward_mean, confirmed", [(0.45, True), (0.15, False)])
def test_markov_chain_verdict_separates_blurred_digits_from_a_collapsed_blob(mnist_split,
                                                                             toward_mean,
                                                                             confirmed):
    Xtr, ytr, digits, other, start = mnist_split
    mean = Xtr.mean(axis=0)
    # twenty digits of several classes drawn part of the way to the mean digit: at 0.45 they
    # spread 0.47x as much as real digits, like the chapter's chains at tour seed 8 (0.41x,
    # means of P(x|x~), blurred; the old bound of one half failed them); at 0.15, 0.16x, a
    # blob like the 784-100 salt-and-pepper sampler's chains (0.17-0.21x)
    samples = (mean + toward_mean * (other - mean)).astype(np.float32)
    ok, detail = autoencoders._judge_samples(samples, start, Xtr, ytr, digits)
    assert bool(ok) == confirmed, detail
    # the mean digit repeated is never a sampler
    assert not autoencoders._judge_samples(np.repeat(mean[None], 20, axis=0).astype(np.float32),
                                           start, Xtr, ytr, digits)[0]


# -- NTM: a second initialisation when the first never finds the procedure -------------------

def _ntm_runs(monkeypatch, final_errors):
    """Run the NTM chapter with train_copy faked to end at ``final_errors`` (in call order);
    return the models built per name, their init draws, and the models the claims judge."""
    from rosenblatt.tour.chapters import ntm

    built, first_draws, judged = [], [], []
    errors = iter(final_errors)

    def fake_train(model, opt, **kw):
        built.append(model)
        return np.full(kw["rounds"], next(errors))

    def fake_evaluate(model, length, **kw):
        judged.append(model)
        if len(judged) == 2:
            raise _Stop
        return 0.0

    NTM = rb.nn.NTM

    def ntm_spy(*args, rng=None, **kw):
        first_draws.append(rng.bit_generator.state["state"]["state"])
        return NTM(*args, rng=rng, **kw)

    monkeypatch.setattr(ntm, "train_copy", fake_train)
    monkeypatch.setattr(ntm, "evaluate_copy", fake_evaluate)
    monkeypatch.setattr(rb.nn, "NTM", ntm_spy)
    with pytest.raises(_Stop):
        ntm.run(Context(quick=True, seed=10))
    return built, first_draws, judged


def test_ntm_gets_a_second_initialisation_when_the_first_never_learns(monkeypatch):
    # tour seed 10: the first NTM ends at 3.6 bits of training error, the second at 0.01
    built, draws, judged = _ntm_runs(monkeypatch, [3.56, 0.013, 2.4, 2.3])
    assert len(built) == 4 and len(draws) == 2 and draws[0] != draws[1]
    assert judged == [built[1], built[3]]  # the better NTM and the better LSTM


def test_ntm_that_learns_is_trained_once(monkeypatch):
    built, draws, judged = _ntm_runs(monkeypatch, [0.14, 2.4, 2.6])
    assert len(built) == 3 and len(draws) == 1
    assert judged == [built[0], built[1]]  # the LSTM's first run was the better


# -- hyper-parameters: "finds a better network on the same budget" ---------------------------

class _FakeStudy:
    def __init__(self, accuracies):
        from types import SimpleNamespace

        self.completed = [SimpleNamespace(number=i, value=-a) for i, a in enumerate(accuracies)]
        self.best_value = -max(accuracies)
        self.best_params = {"lr": 0.01, "hidden": 32, "dropout": 0.1, "l2": 1e-4}

    def best_so_far(self):
        return np.minimum.accumulate([t.value for t in self.completed])


@pytest.mark.parametrize("quick", [True, False])
def test_quick_mode_makes_no_claim_five_seeds_cannot_decide(monkeypatch, quick):
    from rosenblatt.tour.chapters import hyperparameters as hp

    draws = np.random.default_rng(0)

    def fake_tune_fit(build, space, *args, method="random", **kw):
        base = 0.93 if method == "bayes" else 0.90
        return _FakeStudy(list(base + 0.02 * draws.random(16))), None

    def stop(*args, **kw):
        raise _Stop

    monkeypatch.setattr(hp.T, "tune_fit", fake_tune_fit)
    monkeypatch.setattr(hp, "_after_search", stop)
    ctx = Context(quick=quick, seed=8)
    with pytest.raises(_Stop):
        hp.run(ctx)
    texts = [c.text for c in ctx.claims]
    assert any(t.startswith("Bayesian optimisation spends its trials") for t in texts)
    # tour seeds 8 and 12 failed it with five seeds; two random searches pass it ~40% of the
    # time: quick mode reports the numbers instead, the full mode keeps the claim
    assert any(t.startswith("… and so") for t in texts) is (not quick)
    if quick:
        assert "quick mode makes no claim" in ctx.blocks[-1].payload["markdown"]


# -- neuroevolution: HyperNEAT's quick budget ---------------------------------------------------

def test_hyperneat_gets_30_generations_in_quick_mode(monkeypatch):
    from rosenblatt.tour.chapters import neuroevolution

    seen = []

    def run_spy(self, fitness, generations, **kw):
        seen.append(generations)
        raise _Stop

    monkeypatch.setattr(rb.evolution.HyperNEAT, "run", run_spy)
    with pytest.raises(_Stop):
        neuroevolution._hyperneat(Context(quick=True, seed=12))
    # after 20, tour seed 12's champion (0.55x chance on 11 x 11) repainted 33 x 33 at 0.89x
    assert seen == [30]


@pytest.mark.slow
def test_hyperneat_claim_holds_at_tour_seed_12():
    from rosenblatt.tour.chapters import neuroevolution

    ctx = Context(quick=True, seed=12)
    neuroevolution._hyperneat(ctx)
    (claim,) = ctx.claims
    assert claim.passed, claim.detail
