"""minimize: grid, random and Bayesian search; failures, resume, parallel trials, the study."""

import concurrent.futures
import json
import math

import numpy as np
import pytest

import rosenblatt as rb

T = rb.tuning


def branin(p):
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


BRANIN = T.Space({"x1": T.Uniform(-5, 10), "x2": T.Uniform(0, 15)})


def _mixed():
    return T.Space({"lr": T.LogUniform(1e-4, 1e-1), "n": T.Int(1, 8),
                    "act": T.Choice(["relu", "tanh"])})


def _mixed_objective(p):
    return (math.log10(p["lr"]) + 2.5) ** 2 + 0.1 * (p["n"] - 5) ** 2 + (p["act"] == "tanh")


def test_expected_improvement_equals_its_closed_form(rng):
    from scipy.stats import norm

    mean, std, best = rng.normal(size=50), rng.uniform(0.01, 2, 50), 0.3
    for xi in (0.0, 0.1):
        z = (best - mean - xi) / std
        closed = (best - mean - xi) * norm.cdf(z) + std * norm.pdf(z)
        np.testing.assert_allclose(T.expected_improvement(mean, std, best, xi), closed,
                                   rtol=1e-12)
        np.testing.assert_allclose(T.probability_of_improvement(mean, std, best, xi),
                                   norm.cdf(z), rtol=1e-12)
    np.testing.assert_allclose(T.upper_confidence_bound(mean, std, 2.0), -mean + 2 * std)
    # EI = E[max(best - f, 0)] by Monte Carlo for one point
    draws = rng.normal(mean[0], std[0], 400_000)
    mc = np.maximum(best - draws, 0).mean()
    assert abs(mc - T.expected_improvement(mean[0], std[0], best)) < 3e-3


@pytest.mark.parametrize("name", ["ei", "pi", "ucb"])
def test_acquisition_gradient_matches_finite_differences(rng, name):
    from rosenblatt.tuning.acquisition import acquisition_with_gradient

    X = rng.random((12, 2))
    gp = T.GaussianProcess(noise=1e-4, length_scales=[0.3, 0.4]).fit(
        X, np.sin(4 * X[:, 0]) + X[:, 1], optimize=False)
    U = rng.random((3, 2))
    value, grad = acquisition_with_gradient(name, gp, U, -1.0, 0.0, 1.5)
    h = 1e-6
    for k in range(2):
        e = np.zeros(2)
        e[k] = h
        up = acquisition_with_gradient(name, gp, U + e, -1.0, 0.0, 1.5)[0]
        down = acquisition_with_gradient(name, gp, U - e, -1.0, 0.0, 1.5)[0]
        np.testing.assert_allclose(grad[:, k], (up - down) / (2 * h), rtol=1e-4, atol=1e-8)


def test_grid_search_enumerates_exactly_the_grid():
    space = T.Space({"a": T.Uniform(0, 1), "b": T.Choice(["x", "y"])})
    seen = []
    study = T.minimize(lambda p: seen.append(p) or p["a"], space, method="grid", grid_points=3)
    assert len(study.trials) == 6 == len(seen)
    assert {(p["a"], p["b"]) for p in seen} == {(a, b) for a in (0.0, 0.5, 1.0) for b in "xy"}
    assert study.best_value == 0.0
    # n_trials picks the largest grid that fits: 3 points x 2 choices = 6 <= 7 < 4 x 2
    assert len(T.minimize(lambda p: 0.0, space, method="grid", n_trials=7).trials) == 6


def test_random_search_is_reproducible_and_in_range():
    a = T.minimize(_mixed_objective, _mixed(), method="random", n_trials=15, seed=3)
    b = T.minimize(_mixed_objective, _mixed(), method="random", n_trials=15, seed=3)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    for t in a.trials:
        _mixed().check(t.params)


def test_bayes_beats_random_on_branin_on_a_few_seeds():
    bo = [T.minimize(branin, BRANIN, n_trials=30, seed=s).best_value for s in range(3)]
    rs = [T.minimize(branin, BRANIN, "random", n_trials=30, seed=s).best_value for s in range(3)]
    assert np.median(bo) <= 0.41 and np.median(bo) < np.median(rs)


def test_bayes_on_a_mixed_space_finds_the_minimum():
    study = T.minimize(_mixed_objective, _mixed(), n_trials=25, seed=0)
    best = study.best_params
    assert best["act"] == "relu" and best["n"] == 5 and abs(math.log10(best["lr"]) + 2.5) < 0.3


@pytest.mark.parametrize("acquisition,xi", [("ucb", 0.0), ("pi", 0.1)])
def test_other_acquisitions_run(acquisition, xi):
    # PI needs a margin xi: with xi = 0 it keeps sampling right beside the best point
    study = T.minimize(branin, BRANIN, n_trials=20, acquisition=acquisition, xi=xi, seed=1)
    assert study.best_value < 2


def test_failed_trials_are_recorded_and_the_search_goes_on():
    def objective(p):
        if p["x1"] > 7:
            raise RuntimeError("diverged")
        if p["x1"] < -3:
            return float("nan")
        if p["x2"] > 13:
            return "oops"
        return branin(p)

    with pytest.warns(UserWarning, match="failed"):
        study = T.minimize(objective, BRANIN, n_trials=25, seed=0)
    assert len(study.trials) == 25
    errors = [t.error for t in study.failed]
    assert any("RuntimeError: diverged" in e for e in errors)
    assert any("returned nan" in e for e in errors)
    assert any("returned str 'oops'; expected a number" in e for e in errors)
    assert all(t.value is None for t in study.failed)
    assert study.best.status == "complete" and study.best_value < 5


def test_all_failed_study_says_why():
    with pytest.warns(UserWarning):
        study = T.minimize(lambda p: 1 / 0, BRANIN, method="random", n_trials=3, seed=0)
    with pytest.raises(ValueError, match="ZeroDivisionError"):
        study.best  # noqa: B018


def test_study_saves_after_every_trial_and_resumes_exactly(tmp_path):
    path = tmp_path / "study.json"
    full = T.minimize(branin, BRANIN, n_trials=18, n_initial=5, seed=4)

    calls = []

    def stop_after_11(study, trial):
        calls.append(json.loads(path.read_text())["trials"][-1]["number"])
        return len(study.trials) == 11

    part = T.minimize(branin, BRANIN, n_trials=18, n_initial=5, seed=4, resume_from=path,
                      callbacks=[stop_after_11])
    assert len(part.trials) == 11 and calls == list(range(11))
    resumed = T.minimize(branin, BRANIN, n_trials=18, n_initial=5, resume_from=path)
    assert [t.params for t in resumed.trials] == [t.params for t in full.trials]
    assert [t.value for t in resumed.trials] == [t.value for t in full.trials]
    loaded = T.Study.load(path)
    assert len(loaded.trials) == 18 and loaded.best_params == full.best_params
    with pytest.raises(ValueError, match="other settings .*acquisition"):
        T.minimize(branin, BRANIN, n_trials=20, n_initial=5, acquisition="pi", resume_from=path)
    with pytest.raises(ValueError, match="another space"):
        T.minimize(branin, _mixed(), n_trials=20, resume_from=path)


def test_one_worker_executor_is_identical_to_serial():
    serial = T.minimize(_mixed_objective, _mixed(), n_trials=14, n_initial=4, seed=7)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as ex:
        pooled = T.minimize(_mixed_objective, _mixed(), n_trials=14, n_initial=4, seed=7,
                            executor=ex)
    assert [t.params for t in pooled.trials] == [t.params for t in serial.trials]


@pytest.mark.parametrize("liar", ["believer", "min", "mean", "max"])
def test_parallel_proposals_are_distinct(liar):
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
        study = T.minimize(branin, BRANIN, n_trials=20, n_initial=4, seed=0, executor=ex,
                           liar=liar, n_parallel=4)
    params = [tuple(t.params.values()) for t in study.trials]
    assert len(set(params)) == 20
    assert study.best_value < 5
    # trial i knows the results of trials 0 .. i-4 only, whatever finished first: the serial
    # loop with n_parallel=4 proposes the same trials
    serial = T.minimize(branin, BRANIN, n_trials=20, n_initial=4, seed=0, n_parallel=4,
                        liar=liar)
    assert [t.params for t in serial.trials] == [t.params for t in study.trials]


def test_default_n_parallel_is_1_whatever_the_executor():
    """Issue 21: a study does not depend on the executor or its number of workers; only an
    explicit n_parallel (stored in the study) runs trials at once."""
    serial = T.minimize(_mixed_objective, _mixed(), n_trials=10, n_initial=3, seed=2)
    assert serial.settings["n_parallel"] == 1
    for n in (2, 3):
        with concurrent.futures.ThreadPoolExecutor(max_workers=n) as ex:
            pooled = T.minimize(_mixed_objective, _mixed(), n_trials=10, n_initial=3, seed=2,
                                executor=ex)
        assert [t.params for t in pooled.trials] == [t.params for t in serial.trials]
        assert pooled.settings["n_parallel"] == 1
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        two = T.minimize(_mixed_objective, _mixed(), n_trials=10, n_initial=3, seed=2,
                         executor=ex, n_parallel=2)
    assert two.settings["n_parallel"] == 2
    assert [t.params for t in two.trials] != [t.params for t in serial.trials]
    with pytest.raises(ValueError, match="n_parallel must be a positive integer; got 0"):
        T.minimize(branin, BRANIN, n_trials=3, n_parallel=0)


def test_resume_keeps_n_parallel_and_continues_exactly(tmp_path):
    path = tmp_path / "study.json"
    full = T.minimize(branin, BRANIN, n_trials=12, n_initial=4, seed=5, n_parallel=2)
    T.minimize(branin, BRANIN, n_trials=12, n_initial=4, seed=5, n_parallel=2,
               resume_from=path, callbacks=[lambda s, t: len(s.trials) >= 5])
    assert len(T.Study.load(path).trials) == 6  # trial 5 was in flight: recorded too
    # trials 6 .. are proposed as they were: trial 6 knows the results of 0 .. 4 and the
    # params of 5, though 5 finished in the earlier session
    resumed = T.minimize(branin, BRANIN, n_trials=12, resume_from=path)
    assert resumed.settings["n_parallel"] == 2
    assert [(t.params, t.value) for t in resumed.trials] == \
        [(t.params, t.value) for t in full.trials]
    with pytest.raises(ValueError, match="other settings \\(n_parallel: 2 in the file, 3 now"):
        T.minimize(branin, BRANIN, n_trials=14, resume_from=path, n_parallel=3)


def _numbers(trials):
    return [t.number for t in trials]


def _told(p, seen):
    """An objective that depends on which trials it was told of (as pruning does)."""
    return branin(p) + 0.01 * len(seen) + 0.001 * sum(seen)


def test_resumed_history_is_trials_up_to_i_minus_n_parallel(tmp_path):
    path = tmp_path / "study.json"
    kw = dict(n_trials=10, n_initial=3, seed=1, n_parallel=3, history=_numbers)
    full = T.minimize(_told, BRANIN, **kw)
    T.minimize(_told, BRANIN, resume_from=path, callbacks=[lambda s, t: len(s.trials) >= 4],
               **kw)
    resumed = T.minimize(_told, BRANIN, resume_from=path, **kw)
    assert [(t.params, t.value) for t in resumed.trials] == \
        [(t.params, t.value) for t in full.trials]


@pytest.mark.parametrize("method", ["bayes", "random"])
def test_resume_with_a_larger_budget_keeps_the_derived_settings(tmp_path, method):
    """n_initial's default comes from n_trials: a resumed study keeps the file's."""
    path = tmp_path / "study.json"
    T.minimize(branin, BRANIN, method=method, n_trials=6, seed=0, resume_from=path)
    study = T.minimize(branin, BRANIN, method=method, n_trials=14, resume_from=path)
    assert len(study.trials) == 14 and study.settings["n_initial"] == 2
    with pytest.raises(ValueError, match="n_initial: 2 in the file, 5 now"):
        T.minimize(branin, BRANIN, method=method, n_trials=16, n_initial=5, resume_from=path)


def test_resume_a_grid_keeps_its_grid_points(tmp_path):
    path = tmp_path / "grid.json"
    first = T.minimize(branin, BRANIN, method="grid", n_trials=9, resume_from=path,
                       callbacks=[lambda s, t: len(s.trials) == 4])
    assert first.settings["grid_points"] == 3 and len(first.trials) == 4
    with pytest.warns(UserWarning, match="grid_points 3"):  # the grid holds 9, not 20
        study = T.minimize(branin, BRANIN, method="grid", n_trials=20, resume_from=path)
    assert [t.params for t in study.trials] == BRANIN.grid(3)


def test_grid_without_n_trials_runs_the_whole_grid():
    choices = T.Space({"a": T.Choice(["x", "y", "z"])})
    study = T.minimize(lambda p: float(p["a"] == "y"), choices, method="grid")
    assert [t.params["a"] for t in study.trials] == ["x", "y", "z"]
    study = T.minimize(branin, BRANIN, method="grid")
    assert study.settings["grid_points"] == T.search.GRID_POINTS == 5
    assert [t.params for t in study.trials] == BRANIN.grid(5)


def _square(p):
    return p["x1"] ** 2


def test_unpicklable_objective_on_a_process_pool_fails_before_any_trial():
    with rb.parallel.local(1) as pool:
        with pytest.raises(TypeError, match="objective '.*<lambda>' cannot be sent.*module-level "
                           "function"):
            T.minimize(lambda p: p["x1"], BRANIN, n_trials=3, seed=0, executor=pool)
        study = T.minimize(_square, BRANIN, method="random", n_trials=2, seed=0, executor=pool)
    assert len(study.completed) == 2
    # a thread pool shares the objective: a lambda is fine
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        assert len(T.minimize(lambda p: 0.0, BRANIN, n_trials=2, seed=0, executor=ex).trials) == 2


def test_pickling_error_from_any_executor_stops_the_search():
    """An executor that pickles in its own way (mpi4py, ...) and fails in transit: one
    TypeError, not every trial failed."""
    import pickle

    class Transit(concurrent.futures.Executor):
        def submit(self, fn, *args):
            future = concurrent.futures.Future()
            future.set_exception(pickle.PicklingError("Can't pickle <function <lambda>>"))
            return future

    with pytest.raises(TypeError, match="cannot be sent to the executor's workers"):
        T.minimize(lambda p: 0.0, BRANIN, n_trials=3, seed=0, executor=Transit())

    class AtOnce(concurrent.futures.Executor):  # pickles as it submits
        def submit(self, fn, *args):
            raise pickle.PicklingError("Can't pickle <function <lambda>>")

    with pytest.raises(TypeError, match="cannot be sent to the executor's workers"):
        T.minimize(lambda p: 0.0, BRANIN, n_trials=3, seed=0, executor=AtOnce())


def test_save_to_in_a_missing_folder_fails_before_any_trial(tmp_path):
    calls = []

    def objective(p):
        calls.append(p)
        return 0.0

    with pytest.raises(ValueError, match="save_to .*the folder .*nodir' does not exist"):
        T.minimize(objective, BRANIN, n_trials=3, seed=0, save_to=tmp_path / "nodir" / "s.json")
    with pytest.raises(ValueError, match="resume_from must be a study file; got the folder"):
        T.minimize(objective, BRANIN, n_trials=3, seed=0, resume_from=tmp_path)
    assert calls == []


def test_process_pool_runs_trials():
    with concurrent.futures.ProcessPoolExecutor(max_workers=2) as ex:
        study = T.minimize(branin, BRANIN, method="random", n_trials=4, seed=0, executor=ex)
    assert len(study.completed) == 4


def test_table_csv_and_plots(tmp_path):
    study = T.minimize(_mixed_objective, _mixed(), n_trials=12, seed=0)
    rows = study.to_rows()
    assert rows[0].keys() == {"number", "status", "value", "seconds", "lr", "n", "act", "error"}
    text = study.to_csv(tmp_path / "s.csv")
    assert (tmp_path / "s.csv").read_text() == text and text.count("\n") == 13
    imp = study.importance()
    assert set(imp) == {"lr", "n", "act"} and abs(sum(imp.values()) - 1) < 1e-12
    pytest.importorskip("matplotlib")
    for fig in (study.plot_convergence(), study.plot_importance(), study.plot_slice()):
        fig.savefig(tmp_path / "f.png")


def test_importance_finds_the_parameter_that_matters():
    space = T.Space({"x": T.Uniform(0, 1), "useless": T.Uniform(0, 1)})
    study = T.minimize(lambda p: (p["x"] - 0.3) ** 2, space, "random", n_trials=25, seed=0)
    imp = study.importance()
    assert imp["x"] > 0.8


def test_bad_arguments():
    with pytest.raises(ValueError, match="method must be 'grid', 'random' or 'bayes'; got 'bo'"):
        T.minimize(branin, BRANIN, method="bo", n_trials=3)
    with pytest.raises(ValueError, match="acquisition must be 'ei', 'ucb' or 'pi'; got 'lcb'"):
        T.minimize(branin, BRANIN, acquisition="lcb", n_trials=3)
    with pytest.raises(ValueError, match="n_trials is required"):
        T.minimize(branin, BRANIN)
    with pytest.raises(ValueError, match="n_trials must be a positive integer"):
        T.minimize(branin, BRANIN, n_trials=0)
    with pytest.raises(TypeError, match="objective must be callable"):
        T.minimize(3, BRANIN, n_trials=3)
    with pytest.raises(TypeError, match="executor must be a concurrent.futures.Executor"):
        T.minimize(branin, BRANIN, n_trials=3, executor=object())
    with pytest.raises(ValueError, match="2 values per numeric parameter\\) has 4 points, more "
                       "than n_trials=3"):
        T.minimize(branin, BRANIN, method="grid", n_trials=3)
    with pytest.raises(ValueError, match="liar must be"):
        T.minimize(branin, BRANIN, n_trials=3, liar="truth")


def test_bayes_with_conditional_parameters():
    space = T.Space({"opt": T.Choice(["sgd", "adam"]),
                     "momentum": T.Uniform(0.0, 0.99, when={"opt": "sgd"}),
                     "lr": T.LogUniform(1e-4, 1.0)})

    def objective(p):
        base = (math.log10(p["lr"]) + 2) ** 2
        return base + ((p["momentum"] - 0.9) ** 2 if p["opt"] == "sgd" else 0.5)

    study = T.minimize(objective, space, n_trials=20, n_initial=5, seed=0)
    for t in study.trials:
        space.check(t.params)
    assert study.best_value < 0.3


def test_objective_may_return_a_dict_with_json_attrs(tmp_path):
    def objective(p):
        return {"value": p["x1"] ** 2, "attrs": {"curve": [1.0, 0.5], "bad": math.nan}
                if p["x1"] > 0 else {"curve": [2.0]}}

    study = T.minimize(objective, BRANIN, "random", n_trials=6, seed=0,
                       resume_from=tmp_path / "s.json")
    for t in study.trials:
        assert ("attrs_error" in t.attrs) == (t.params["x1"] > 0)
    assert T.Study.load(tmp_path / "s.json").trials[0].attrs == study.trials[0].attrs


def test_bayes_starts_from_a_latin_hypercube_and_random_search_does_not():
    n_initial = 6
    study = T.minimize(branin, BRANIN, n_trials=n_initial, n_initial=n_initial, seed=4)
    U = BRANIN.to_unit([t.params for t in study.trials])
    for col in range(2):  # one first trial in each sixth of each range
        assert sorted(np.floor(U[:, col] * n_initial).astype(int)) == list(range(n_initial))
    # the design is the seed's: a resumed or pooled search starts from the same points
    again = T.minimize(branin, BRANIN, n_trials=n_initial, n_initial=n_initial, seed=4)
    assert [t.params for t in again.trials] == [t.params for t in study.trials]
    # random search keeps its independent draws, trial i from default_rng([seed, i])
    rs = T.minimize(branin, BRANIN, "random", n_trials=3, seed=4)
    first = BRANIN.sample(1, np.random.default_rng([4, 0]))[0]
    assert rs.trials[0].params == first


# -- audit a1 ------------------------------------------------------------------------------
def _counting():
    calls = []

    def objective(p):
        calls.append(p)
        return p["x"]
    return objective, calls


@pytest.mark.parametrize("gp,error,message", [
    ({"kernel": "maten52"}, ValueError, r"minimize: gp: GaussianProcess: kernel must be"),
    ({"lenght_scale_prior": None}, TypeError, r"minimize: gp: .*'lenght_scale_prior'"),
    ({"rng": 0}, ValueError, r"minimize: gp must not set rng; the search seeds it from seed"),
    ([1], TypeError, r"minimize: gp must be a dict of GaussianProcess keyword arguments"),
    ({"noise_prior": (2.0, 1.0), "learn_noise": False}, ValueError, r"minimize: gp: .*noise_prior"),
])
def test_bad_gp_arguments_fail_before_any_trial(gp, error, message):
    """Audit a1 #3 and #15."""
    objective, calls = _counting()
    with pytest.raises(error, match=message):
        T.minimize(objective, {"x": T.Uniform(0, 1)}, n_trials=8, seed=0, gp=gp)
    assert calls == []


def test_every_callback_sees_the_trial_that_stops_the_search():
    """Audit a1 #4: the callbacks after one that returns True still see that trial."""
    seen = {"stop": [], "log": []}

    def stopper(study, trial):
        seen["stop"].append(trial.number)
        return trial.number == 2

    def logger(study, trial):
        seen["log"].append(trial.number)

    T.minimize(lambda p: p["x"], {"x": T.Uniform(0, 1)}, method="random", n_trials=6, seed=0,
               callbacks=[stopper, logger])
    assert seen == {"stop": [0, 1, 2], "log": [0, 1, 2]}


def test_an_isotropic_gp_runs_a_parallel_search():
    """Audit a1 #6: gp={"ard": False} with n_parallel > 1."""
    space = T.Space({"x": T.Uniform(0, 1), "y": T.Uniform(0, 1)})
    study = T.minimize(lambda p: (p["x"] - 0.3) ** 2 + p["y"], space, n_trials=6, n_initial=3,
                       seed=0, gp={"ard": False}, n_parallel=2, n_candidates=64)
    assert len(study.completed) == 6


@pytest.mark.parametrize("space,n_trials,least", [
    ({"units": T.Int(1, 64, log=True), "act": T.Choice(["relu", "tanh"])}, 60, 50),
    ({"n": T.Int(1, 100, log=True)}, 40, 38),
])
def test_grid_fills_n_trials_past_a_plateau_of_a_log_integer_axis(space, n_trials, least):
    """Audit a1 #8: two grid values rounding onto one integer is not saturation."""
    study = T.minimize(lambda p: 1.0, space, method="grid", n_trials=n_trials)
    assert least <= len(study.trials) <= n_trials
    size = T.Space(space).grid_size(study.settings["grid_points"])
    assert size == len(study.trials)


def test_grid_stops_at_the_whole_grid_of_a_discrete_space():
    space = {"n": T.Int(1, 3), "act": T.Choice(["relu", "tanh"])}
    study = T.minimize(lambda p: 1.0, space, method="grid", n_trials=50)
    assert len(study.trials) == 6 and study.settings["grid_points"] == 3
    only = T.minimize(lambda p: 1.0, {"n": T.Int(1, 20, log=True)}, method="grid", n_trials=50)
    assert sorted(t.params["n"] for t in only.trials) == list(range(1, 21))


def test_random_search_never_repeats_a_combination_while_another_is_left():
    """Audit a1 #12: what the module docstring now claims of the random search."""
    assert "never the same value\n  of a parameter twice" not in T.search.__doc__
    study = T.minimize(lambda p: p["n"], {"n": T.Int(1, 4), "c": T.Choice(["a", "b"])},
                       method="random", n_trials=8, seed=0)
    assert len({(t.params["n"], t.params["c"]) for t in study.trials}) == 8


@pytest.mark.parametrize("kwargs,error,message", [
    ({"callbacks": print}, TypeError, r"minimize: callbacks must be a list of fn\(study, trial\); "
                                      r"got a single callable \(wrap it in a list\)"),
    ({"save_to": 123}, TypeError, r"minimize: save_to must be a path \(str or os.PathLike\)"),
    ({"resume_from": 1.5}, TypeError, r"minimize: resume_from must be a path"),
])
def test_minimize_names_the_argument_of_a_wrong_type(kwargs, error, message):
    """Audit a1 #15."""
    objective, calls = _counting()
    with pytest.raises(error, match=message):
        T.minimize(objective, {"x": T.Uniform(0, 1)}, method="random", n_trials=3, **kwargs)
    assert calls == []


def test_resume_with_the_parameters_in_another_order_continues_exactly(tmp_path):
    """Audit a1 #16: the file's space (its column order) is the one searched."""
    def f(p):
        return (p["x"] - 0.2) ** 2 + (p["y"] - 0.7) ** 2

    a = T.Space({"x": T.Uniform(0, 1), "y": T.Uniform(0, 1)})
    b = T.Space({"y": T.Uniform(0, 1), "x": T.Uniform(0, 1)})
    for method, kw in (("random", {}), ("bayes", {"n_initial": 2, "n_candidates": 64})):
        full = T.minimize(f, a, method=method, n_trials=5, seed=0, **kw)
        path = tmp_path / f"{method}.json"
        T.minimize(f, a, method=method, n_trials=3, seed=0, save_to=path, **kw)
        resumed = T.minimize(f, b, method=method, n_trials=5, resume_from=path, **kw)
        assert [t.params for t in resumed.trials] == [t.params for t in full.trials]
        assert resumed.space.names == ["x", "y"]


# -- audit a3 ------------------------------------------------------------------------------
class _BreaksAt(concurrent.futures.Executor):
    """Runs each trial as it is submitted, until submission ``at``: from then on its pool is
    broken (a worker process died), so every future fails with BrokenProcessPool."""

    def __init__(self, at):
        self.at, self.submitted = at, 0

    def submit(self, fn, *args):
        future = concurrent.futures.Future()
        if self.submitted >= self.at:
            future.set_exception(concurrent.futures.process.BrokenProcessPool(
                "A process in the process pool was terminated abruptly"))
        else:
            future.set_result(fn(*args))
        self.submitted += 1
        return future


def test_a_broken_pool_records_no_failed_trial_and_resume_runs_them(tmp_path):
    """The executor failing is not the trial failing: the trials it lost stay unrecorded, so
    the resumed study is that of an uninterrupted search."""
    path = tmp_path / "s.json"
    with pytest.raises(rb.parallel.ExecutorShutdownError,
                       match=r"minimize: the executor _BreaksAt lost trial 3 \(BrokenProcessPool: "
                             r".*Trials 3 and later were not recorded: pass resume_from"):
        T.minimize(branin, BRANIN, method="random", n_trials=8, seed=0, executor=_BreaksAt(3),
                   n_parallel=2, save_to=path)
    saved = T.Study.load(path)
    assert [(t.number, t.status) for t in saved.trials] == [(i, "complete") for i in range(3)]
    resumed = T.minimize(branin, BRANIN, method="random", n_trials=8, executor=_BreaksAt(99),
                         resume_from=path)
    straight = T.minimize(branin, BRANIN, method="random", n_trials=8, seed=0, n_parallel=2)
    assert [(t.params, t.status, t.value) for t in resumed.trials] == [
        (t.params, t.status, t.value) for t in straight.trials]


def test_a_cancelled_trial_is_not_recorded_either(tmp_path):
    class Cancels(concurrent.futures.Executor):
        def submit(self, fn, *args):
            future = concurrent.futures.Future()
            future.cancel()
            return future

    with pytest.raises(rb.parallel.ExecutorShutdownError, match="lost trial 0 \\(CancelledError"):
        T.minimize(branin, BRANIN, method="random", n_trials=3, seed=0, executor=Cancels(),
                   save_to=tmp_path / "s.json")
    assert not (tmp_path / "s.json").exists()  # nothing recorded


def test_an_int_too_large_for_a_float_fails_the_trial_serially_and_on_an_executor():
    space = T.Space({"x": T.Uniform(0, 1)})

    def objective(p):
        return 10**400 if p["x"] > 0.5 else p["x"]

    with pytest.warns(UserWarning, match="OverflowError"):
        serial = T.minimize(objective, space, method="random", n_trials=6, seed=0)
    with pytest.warns(UserWarning), concurrent.futures.ThreadPoolExecutor(1) as ex:
        pooled = T.minimize(objective, space, method="random", n_trials=6, seed=0, executor=ex)
    assert [(t.status, t.error) for t in serial.trials] == [(t.status, t.error)
                                                            for t in pooled.trials]
    assert "failed" in [t.status for t in serial.trials]
    assert all("OverflowError: the objective returned 1000" in t.error for t in serial.failed)


def test_the_initial_design_tries_any_value_of_a_choice():
    """A choice of five values and three initial trials: over seeds, every value starts the
    search (not only the first three listed)."""
    acts = ["sigmoid", "relu", "tanh", "elu", "selu"]
    space = T.Space({"act": T.Choice(acts), "x": T.Uniform(0, 1)})
    first = set()
    for seed in range(12):
        study = T.minimize(lambda p: p["x"], space, n_trials=3, n_initial=3, seed=seed)
        firsts = [t.params["act"] for t in study.trials]
        assert len(set(firsts)) == 3
        first.update(firsts)
    assert first == set(acts)
