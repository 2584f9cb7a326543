"""tune_fit: hyper-parameters of a network trained by rb.fit, early stopping and median pruning."""

import math

import numpy as np
import pytest

import rosenblatt as rb

T = rb.tuning


def _blobs(seed=0, n=160):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = (rng.normal(size=(n, 4)) + 2.0 * np.eye(3, 4)[y]).astype(np.float32)
    return X[:120], y[:120], X[120:], y[120:]


def _build(p):
    return rb.nn.Sequential(rb.nn.Dense(4, p["hidden"]), rb.nn.ReLU(),
                            rb.nn.Dense(p["hidden"], 3))


SPACE = T.Space({"hidden": T.Int(2, 32, log=True), "lr": T.LogUniform(1e-4, 0.3)})


def test_tune_fit_returns_the_study_and_the_best_model():
    X, y, Xv, yv = _blobs()
    study, model = T.tune_fit(_build, SPACE, X, y, validation_data=(Xv, yv), epochs=6,
                              metric="val_accuracy", method="random", n_trials=5, seed=0)
    assert len(study.trials) == 5 and all(t.status == "complete" for t in study.trials)
    best = study.best
    assert best.value == -max(best.attrs["curve"])  # maximised accuracy, stored negated
    acc = rb.training.evaluate(model, Xv, yv, loss="cross_entropy")["accuracy"]
    assert acc == pytest.approx(-best.value)  # the model is at its best epoch
    for t in study.trials:
        assert len(t.attrs["curve"]) == t.attrs["epochs"] == 6


def test_same_seed_same_trials_and_values():
    X, y, Xv, yv = _blobs()
    a, _ = T.tune_fit(_build, SPACE, X, y, validation_data=(Xv, yv), epochs=3,
                      method="random", n_trials=3, seed=1)
    b, _ = T.tune_fit(_build, SPACE, X, y, validation_data=(Xv, yv), epochs=3,
                      method="random", n_trials=3, seed=1)
    assert [t.value for t in a.trials] == [t.value for t in b.trials]


def test_build_model_may_return_optimizer_and_fit_arguments():
    X, y, Xv, yv = _blobs()

    def build(p):
        model = _build(p)
        return {"model": model, "optimizer": rb.optim.SGD(model.parameters(), lr=p["lr"]),
                "regularizers": [rb.regularizers.L2(1e-4)], "batch_size": 16}

    study, _ = T.tune_fit(build, SPACE, X, y, validation_data=(Xv, yv), epochs=2,
                          method="random", n_trials=2, seed=0)
    assert len(study.completed) == 2


def test_median_stopping_prunes_bad_trials():
    X, y, Xv, yv = _blobs()
    # the first trials are good; later ones with a tiny learning rate are pruned after warm-up
    good = [{"hidden": 16, "lr": 0.05}] * 3
    calls = iter(good + [{"hidden": 16, "lr": 1e-4}] * 2)
    space = T.Space({"hidden": T.Int(2, 32), "lr": T.LogUniform(1e-4, 0.3)})

    def build(p):
        p = next(calls)
        model = _build(p)
        return model, rb.optim.Adam(model.parameters(), lr=p["lr"])

    study, _ = T.tune_fit(build, space, X, y, validation_data=(Xv, yv), epochs=10,
                          method="random", n_trials=5, seed=0, pruning="median",
                          warmup_epochs=2)
    statuses = [t.status for t in study.trials]
    assert statuses[:3] == ["complete"] * 3 and statuses[3:] == ["pruned"] * 2
    assert all(t.attrs["epochs"] == 3 for t in study.trials[3:])
    assert study.best.status == "complete"


def test_median_stopping_rule_by_hand():
    class Run:
        stop_training = False
        history = rb.training.History()

    rule = T.MedianStopping([[1.0, 0.5, 0.4], [1.0, 0.6, 0.5], [1.0, 0.7, 0.6]],
                            warmup_epochs=1)
    run = Run()
    rule.on_epoch_end(run, 0, {"val_loss": 0.9})  # warm-up
    assert not run.stop_training
    rule.on_epoch_end(run, 1, {"val_loss": 0.55})  # median of [0.5, 0.6, 0.7] is 0.6: fine
    assert not run.stop_training
    rule.on_epoch_end(run, 2, {"val_loss": 0.55})  # median of [0.4, 0.5, 0.6] is 0.5: worse
    assert run.stop_training and rule.pruned


def test_diverging_trials_fail_and_the_search_goes_on():
    X, y, Xv, yv = _blobs()
    space = T.Space({"hidden": T.Int(2, 8), "lr": T.LogUniform(1e-3, 1e6)})

    def build(p):
        model = _build(p)
        return model, rb.optim.SGD(model.parameters(), lr=p["lr"])

    with np.errstate(all="ignore"), pytest.warns(UserWarning, match="DivergenceError"):
        study, model = T.tune_fit(build, space, X, y, validation_data=(Xv, yv), epochs=4,
                                  method="random", n_trials=8, seed=0)
    assert study.failed and study.completed
    assert math.isfinite(study.best_value)


def test_bad_arguments():
    X, y, Xv, yv = _blobs()
    with pytest.raises(ValueError, match="pruning must be None or 'median'"):
        T.tune_fit(_build, SPACE, X, y, validation_data=(Xv, yv), epochs=2, pruning="asha")
    with pytest.raises(TypeError, match="build_model must be callable"):
        T.tune_fit(None, SPACE, X, y, validation_data=(Xv, yv), epochs=2)
    with pytest.warns(UserWarning, match="build_model\\(params\\) must return a Module"), \
            pytest.raises(ValueError, match="no trial has a value"):
        T.tune_fit(lambda p: 3, SPACE, X, y, validation_data=(Xv, yv), epochs=2,
                   method="random", n_trials=1, seed=0)


# -- audit a1 ------------------------------------------------------------------------------
def _counted():
    builds = []

    def build(p):
        builds.append(p)
        return _build(p)
    return build, builds


@pytest.mark.parametrize("kwargs,error,message", [
    ({"warmup_epochs": -1, "pruning": "median"}, ValueError,
     r"tune_fit: warmup_epochs must be a non-negative integer; got -1"),
    ({"batch_size": 0}, ValueError, r"tune_fit: batch_size must be a positive integer; got 0"),
    ({"patience": -3}, ValueError, r"tune_fit: patience must be a non-negative integer"),
    ({"loss": "cross_entropyy"}, ValueError, r"tune_fit: unknown loss 'cross_entropyy'"),
    ({"metric": 3}, TypeError, r"tune_fit: metric must be a key of rb.fit's History"),
    ({"fit_kwargs": {"epochs": 5}}, ValueError,
     r"tune_fit: fit_kwargs must not set 'epochs' \(an argument of tune_fit itself\)"),
    ({"fit_kwargs": [1]}, TypeError, r"tune_fit: fit_kwargs must be a dict"),
    ({"validation_data": None}, ValueError,
     r"tune_fit: metric 'val_loss' needs validation_data"),
])
def test_tune_fit_checks_its_arguments_before_building_a_model(kwargs, error, message):
    """Audit a1 #7: not once per trial, each recorded as failed."""
    X, y, Xv, yv = _blobs()
    build, builds = _counted()
    args = dict(validation_data=(Xv, yv), epochs=2, method="random", n_trials=3, seed=0)
    with pytest.raises(error, match=message):
        T.tune_fit(build, SPACE, X, y, **{**args, **kwargs})
    assert builds == []


def test_a_metric_that_is_not_computed_stops_the_search_at_the_first_trial(tmp_path):
    """Audit a1 #7: fit logs the metric or not whatever the params; one trial tells."""
    X, y, Xv, yv = _blobs()
    build, builds = _counted()
    with pytest.warns(UserWarning, match="trial 0 failed"):
        with pytest.raises(ValueError, match=r"tune_fit: metric 'val_acc' is not computed by "
                                             r"rb.fit; available: .*'val_accuracy'"):
            T.tune_fit(build, SPACE, X, y, validation_data=(Xv, yv), epochs=2, method="random",
                       n_trials=4, seed=0, metric="val_acc")
    assert len(builds) == 1


def test_tune_fit_resumes_its_study_without_a_seed(tmp_path):
    """Audit a1 #13: the seed, when not given, is the file's (as for minimize)."""
    X, y, Xv, yv = _blobs()
    kw = dict(validation_data=(Xv, yv), epochs=2, method="random")
    full, _ = T.tune_fit(_build, SPACE, X, y, n_trials=3, seed=5, **kw)
    path = tmp_path / "study.json"
    rb.seed(5)
    first, _ = T.tune_fit(_build, SPACE, X, y, n_trials=2, resume_from=path, **kw)
    seed = first.settings["seed"]
    again, _ = T.tune_fit(_build, SPACE, X, y, n_trials=3, resume_from=path, **kw)
    assert again.settings["seed"] == seed and len(again.trials) == 3
    whole, _ = T.tune_fit(_build, SPACE, X, y, n_trials=3, seed=seed, **kw)
    assert [(t.params, t.value) for t in again.trials] == \
        [(t.params, t.value) for t in whole.trials]


# -- audit a3 ------------------------------------------------------------------------------
def test_patience_0_stops_at_the_first_epoch_without_improvement():
    """patience=0 is EarlyStopping's (not 'no early stopping', which is patience=None)."""
    X, y, Xv, yv = _blobs()

    def frozen(p):  # lr=0: val_loss never improves after the first epoch
        model = _build(p)
        return model, rb.optim.SGD(model.parameters(), lr=0.0)

    kw = dict(validation_data=(Xv, yv), epochs=6, method="random", n_trials=1, seed=0)
    stopped, _ = T.tune_fit(frozen, SPACE, X, y, patience=0, **kw)
    assert stopped.trials[0].attrs["epochs"] == 2
    full, _ = T.tune_fit(frozen, SPACE, X, y, **kw)
    assert full.trials[0].attrs["epochs"] == 6


def test_an_executor_of_other_processes_is_refused_with_what_to_do_instead():
    X, y, Xv, yv = _blobs()
    build, builds = _counted()
    with rb.parallel.local(1) as pool:
        with pytest.raises(TypeError, match=r"tune_fit: executor must run in this process \(a "
                           r"concurrent.futures.ThreadPoolExecutor\); got LocalExecutor\. .*"
                           r"rb.tuning.minimize with a module-level objective built on "
                           r"train_trial and trial_outcome"):
            T.tune_fit(build, SPACE, X, y, validation_data=(Xv, yv), epochs=2,
                       method="random", n_trials=2, seed=0, executor=pool)
    assert builds == []


def test_median_stopping_keeps_its_curve_when_fit_resumes(tmp_path):
    """A checkpointed rb.fit resumed mid-run prunes at the epoch the uninterrupted run does."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 3)), rng.integers(0, 2, 64)  # random labels: loss stays ~0.69
    others = [[10.0, 5.0, 2.0, 0.5, 0.4, 0.3]] * 3  # far better from the fourth epoch on
    path = tmp_path / "run.safetensors"

    def run(epochs, resume=None, checkpoint=False, rule=None):
        net = rb.nn.Sequential(rb.nn.Dense(3, 4, rng=np.random.default_rng(2)), rb.nn.Tanh(),
                               rb.nn.Dense(4, 2, rng=np.random.default_rng(3))).astype(np.float64)
        rule = rule or T.MedianStopping(others, monitor="loss", warmup_epochs=0)
        callbacks = [rule] + ([rb.callbacks.Checkpoint(path)] if checkpoint else [])
        history = rb.fit(net, X, y, loss="cross_entropy", epochs=epochs, progress=False,
                         optimizer=rb.optim.SGD(net.parameters(), lr=1e-3),
                         rng=np.random.default_rng(1), callbacks=callbacks, resume_from=resume)
        return rule, history

    straight, h = run(6)
    assert straight.pruned and len(h["loss"]) == 4
    run(3, checkpoint=True)
    resumed, h = run(6, resume=path, checkpoint=True)
    assert resumed.pruned and len(h["loss"]) == 4
    assert resumed.curve == straight.curve
    assert resumed.state_dict() == {"curve": straight.curve, "pruned": True}
    # a new (not resumed) fit with the same rule starts a new curve
    first = list(straight.curve)
    run(2, rule=straight)
    assert straight.curve == first[:2] and not straight.pruned
