"""Audit s8 (tuning): the believer's standardisation, per-trial callbacks, conditional grid
sizes counted without listing, gp length scales checked against the space."""

import concurrent.futures
import time

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.tuning import Choice, Int, LogUniform, Space, Uniform, minimize
from rosenblatt.tuning.gaussian_process import GaussianProcess
from rosenblatt.tuning.search import _GP_DEFAULTS

T = rb.tuning


# -- finding 4: the Kriging believer conditions the same GP -----------------------------------
def test_believer_refit_keeps_the_gps_units_and_posterior_mean():
    rng = np.random.default_rng(0)
    X = rng.random((8, 2))
    y = (X[:, 0] - 0.3) ** 2 * 10 + X[:, 1]
    y[0] = 5.0
    gp = GaussianProcess(**_GP_DEFAULTS, rng=1).fit(X, y)
    P = np.array([[0.95, 0.95], [0.9, 0.05]])
    lies = gp.predict(P, return_std=False)
    fitted = {**_GP_DEFAULTS, "length_scales": gp.length_scales_, "amplitude": gp.amplitude_,
              "noise": gp.noise_, "learn_noise": False}
    gp2 = GaussianProcess(**fitted).fit(np.concatenate([X, P]), np.concatenate([y, lies]),
                                        optimize=False, standardisation=(gp.y_mean_, gp.y_std_))
    assert (gp2.y_mean_, gp2.y_std_) == (gp.y_mean_, gp.y_std_)
    T_ = rng.random((500, 2))
    m1, s1 = gp.predict(T_)
    m2, s2 = gp2.predict(T_)
    np.testing.assert_allclose(m2, m1, atol=1e-8)  # conditioning on its own mean: no change
    assert np.all(s2 <= s1 + 1e-12)  # more points never widen the posterior
    far = np.array([[5.0, 5.0]])
    assert gp2.predict(far)[1] == pytest.approx(gp.predict(far)[1], rel=1e-9)  # same prior


def test_fit_standardisation_is_checked():
    with pytest.raises(ValueError, match="standardisation"):
        GaussianProcess().fit(np.zeros((2, 1)), [0.0, 1.0], standardisation=(0.0, 0.0))


def test_parallel_bayes_proposal_uses_the_first_fits_standardisation(monkeypatch):
    seen = []
    fit = GaussianProcess.fit

    def spy(self, X, y, optimize=True, standardisation=None):
        out = fit(self, X, y, optimize=optimize, standardisation=standardisation)
        seen.append((optimize, self.y_mean_, self.y_std_))
        return out

    monkeypatch.setattr(GaussianProcess, "fit", spy)
    minimize(lambda p: (p["x"] - 0.3) ** 2 + p["y"], Space({"x": Uniform(0, 1),
                                                            "y": Uniform(0, 1)}),
             method="bayes", n_trials=6, n_initial=3, n_parallel=2, seed=0, n_candidates=50)
    refits = [i for i, s in enumerate(seen) if not s[0]]
    assert refits
    for i in refits:  # each refit keeps the standardisation of the fit just before it
        assert seen[i][1:] == seen[i - 1][1:]


# -- finding 5: each trial trains with its own copies of fit_kwargs' callbacks -------------------
class _Record(rb.callbacks.Callback):
    def __init__(self):
        self.trained = []

    def on_train_begin(self, trainer):
        self.trained.append(id(trainer))
        _RUNS.append(self)


_RUNS = []


def _blobs(n=120):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    X = (rng.normal(size=(n, 4)) + 2.0 * np.eye(2, 4)[y]).astype(np.float32)
    return X[:80], y[:80], X[80:], y[80:]


def _build(p):
    return rb.nn.Sequential(rb.nn.Dense(4, p["hidden"]), rb.nn.Tanh(), rb.nn.Dense(p["hidden"], 2))


SPACE = Space({"hidden": Int(2, 12), "lr": LogUniform(1e-3, 0.1)})


def test_tune_fit_gives_each_trial_its_own_callbacks():
    X, y, Xv, yv = _blobs()
    mine = _Record()
    _RUNS.clear()
    study, _ = T.tune_fit(_build, SPACE, X, y, validation_data=(Xv, yv), epochs=2,
                          method="random", n_trials=3, seed=0,
                          fit_kwargs={"callbacks": [mine]})
    assert all(t.status == "complete" for t in study.trials)
    assert mine.trained == []  # the caller's object is a template, not shared
    assert len(_RUNS) == 3 and len({id(r) for r in _RUNS}) == 3
    assert all(len(r.trained) == 1 for r in _RUNS)


def test_tune_fit_early_stopping_in_fit_kwargs_on_a_thread_pool_equals_serial():
    X, y, Xv, yv = _blobs()

    def run(executor):
        es = rb.callbacks.EarlyStopping(monitor="val_loss", patience=1)
        study, _ = T.tune_fit(_build, SPACE, X, y, validation_data=(Xv, yv), epochs=4,
                              method="random", n_trials=4, seed=0, n_parallel=2,
                              executor=executor, fit_kwargs={"callbacks": [es]})
        return [(t.status, t.value) for t in study.trials]

    serial = run(None)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        assert run(pool) == serial
    assert all(s == "complete" for s, _ in serial)


# -- finding 6: a conditional grid is counted, not listed ------------------------------------
def _conditional_spaces():
    yield Space({"x": Uniform(0, 1), "opt": Choice(["sgd", "adam"]),
                 "m": Uniform(0, 0.9, when={"opt": "sgd"})})
    yield Space({"a": Choice(["p", "q", "r"]), "b": Choice([1, 2], when={"a": ["p", "q"]}),
                 "c": Int(1, 64, log=True, when={"b": 1}), "d": LogUniform(1e-3, 1),
                 "e": Int(0, 3, when={"a": "r"})})


@pytest.mark.parametrize("space", list(_conditional_spaces()))
def test_grid_size_counts_what_grid_lists(space):
    for k in (1, 2, 3, 5, 11):
        assert space.grid_size(k) == len(space.grid(k))


def test_grid_with_a_conditional_parameter_refuses_a_too_large_grid_at_once():
    params = {f"x{i}": Uniform(0, 1) for i in range(15)}
    params["opt"] = Choice(["sgd", "adam"])
    params["momentum"] = Uniform(0, 0.99, when={"opt": "sgd"})
    start = time.perf_counter()
    with pytest.raises(ValueError, match="smallest useful grid"):
        minimize(lambda p: 0.0, Space(params), method="grid", n_trials=50, seed=0)
    assert time.perf_counter() - start < 1.0
    assert Space(params).grid_size(2) == 2 ** 15 * (2 + 1)


# -- finding 8: gp length scales checked against the space before any trial ----------------------
@pytest.mark.parametrize("gp", [{"length_scales": [0.5, 0.5, 0.5]},
                                {"length_scales": [0.5, 0.5], "ard": False}])
def test_minimize_checks_gp_length_scales_against_the_space_first(gp):
    calls = []

    def objective(p):
        calls.append(p)
        return p["x"] + p["y"]

    with pytest.raises(ValueError, match="minimize: gp: length_scales has"):
        minimize(objective, Space({"x": Uniform(0, 1), "y": Uniform(0, 1)}), method="bayes",
                 n_trials=8, n_initial=3, seed=0, gp=gp)
    assert calls == []


def test_minimize_accepts_gp_length_scales_of_the_right_size():
    for gp in ({"length_scales": [0.5, 0.4]}, {"length_scales": 0.5},
               {"length_scales": [0.3], "ard": False}):
        study = minimize(lambda p: p["x"] + p["y"], Space({"x": Uniform(0, 1),
                                                          "y": Uniform(0, 1)}),
                         method="bayes", n_trials=4, n_initial=2, seed=0, gp=gp,
                         n_candidates=50)
        assert len(study.trials) == 4

