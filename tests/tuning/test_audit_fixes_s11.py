"""Tuning audit fixes (s11/g3): each test failed before its fix (the report's finding number)."""

import pytest

from rosenblatt.tuning import Space, Study, Trial, Uniform


# -- finding 2: a huge JSON integer in a study file escaped as OverflowError ---------------------
@pytest.mark.parametrize("field", ["value", "seconds", "started"])
def test_study_load_refuses_a_huge_integer_as_a_bad_field(tmp_path, field):
    path = tmp_path / "study.json"
    study = Study(Space({"x": Uniform(0, 1)}), {"method": "random", "seed": 0})
    study.add(Trial(0, {"x": 0.5}, 1.0, "complete", seconds=2.0, started=3.0))
    study.save(path)
    text = path.read_text()
    old = {"value": '"value": 1.0', "seconds": '"seconds": 2.0', "started": '"started": 3.0'}[field]
    path.write_text(text.replace(old, f'"{field}": 1' + "0" * 400))
    with pytest.raises(ValueError, match=f"field '{field}' of trial 0 in .*must be a finite"):
        Study.load(path)


def test_study_add_refuses_a_huge_integer_value():
    study = Study(Space({"x": Uniform(0, 1)}))
    with pytest.raises(ValueError, match="field 'value'"):
        study.add(Trial(0, {"x": 0.5}, 10**400, "complete"))


# -- finding 3: a trial's own restoring callback decided the returned model's weights ------------
def test_tune_fit_returns_the_epoch_the_study_scored_whatever_the_trials_callbacks_restore():
    import numpy as np

    import rosenblatt as rb
    from rosenblatt.tuning import LogUniform, tune_fit

    g = np.random.default_rng(0)
    X = g.normal(size=(48, 3)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)

    def build(p):
        model = rb.nn.Sequential(rb.nn.Dense(3, 6), rb.nn.Tanh(), rb.nn.Dense(6, 2))
        # the trial's own stopper keeps another epoch (here the worst val_loss): what
        # `rosenblatt tune` builds from a config's [callbacks] EarlyStopping on val_loss when
        # tune.metric is val_accuracy
        worst = rb.callbacks.EarlyStopping(monitor="val_loss", mode="max", patience=100)
        return {"model": model, "callbacks": [worst]}

    study, model = tune_fit(build, {"lr": LogUniform(0.05, 0.1)}, X[:32], y[:32],
                            validation_data=(X[32:], y[32:]), epochs=6, method="random",
                            n_trials=1, seed=0)
    with rb.no_grad():
        val_loss = float(rb.losses.cross_entropy(model.eval()(rb.tensor(X[32:])), y[32:]).data)
    curve = study.best.attrs["curve"]
    assert min(curve) < max(curve) - 1e-3  # the two stoppers keep different epochs
    assert val_loss == pytest.approx(study.best_value, rel=1e-5)


# -- finding 4: GaussianProcess.predict took NaN/inf (and 3-D) rows silently ---------------------
@pytest.mark.parametrize("method", ["predict", "predict_with_gradient"])
def test_gaussian_process_predict_refuses_non_finite_or_misshapen_rows(method):
    import numpy as np

    from rosenblatt.tuning import GaussianProcess

    X = np.linspace(0, 1, 6)[:, None]
    gp = GaussianProcess(rng=0, n_restarts=0).fit(X, np.sin(4 * X[:, 0]))
    for bad in (np.array([[np.nan]]), np.array([[np.inf]])):
        with pytest.raises(ValueError, match=rf"GaussianProcess.{method}: X must be finite"):
            getattr(gp, method)(bad)
    with pytest.raises(ValueError, match=rf"GaussianProcess.{method}: X has 1 columns.*"
                                         r"got shape \(2, 1, 1\)"):
        getattr(gp, method)(np.zeros((2, 1, 1)))
    assert np.isfinite(getattr(gp, method)(X[:2])[0]).all()


# -- finding 5: a study resumed with another metric mixed val_loss and -val_accuracy -------------
def _resume_setup(tmp_path):
    import numpy as np

    import rosenblatt as rb
    from rosenblatt.tuning import LogUniform

    g = np.random.default_rng(0)
    X = g.normal(size=(40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)

    def build(p):
        return rb.nn.Sequential(rb.nn.Dense(3, 4), rb.nn.Tanh(), rb.nn.Dense(4, 2))

    kw = dict(validation_data=(X[30:], y[30:]), epochs=2, method="random", seed=0,
              resume_from=tmp_path / "study.json", fit_kwargs={"metrics": ("accuracy",)})
    return build, {"lr": LogUniform(1e-3, 1e-1)}, X[:30], y[:30], kw


def test_tune_fit_refuses_to_resume_a_study_with_another_metric(tmp_path):
    from rosenblatt.tuning import tune_fit

    build, space, X, y, kw = _resume_setup(tmp_path)
    study, _ = tune_fit(build, space, X, y, metric="val_loss", n_trials=1, **kw)
    assert study.settings["metric"] == "val_loss" and study.settings["mode"] == "min"
    with pytest.raises(ValueError, match=r"other settings \(metric: 'val_loss' in the file, "
                                         r"'val_accuracy' now, mode: 'min' in the file, 'max'"):
        tune_fit(build, space, X, y, metric="val_accuracy", n_trials=2, **kw)
    assert len(Study.load(tmp_path / "study.json").trials) == 1  # nothing was added


def test_a_study_file_without_the_metric_resumes_and_records_it(tmp_path):
    import json

    from rosenblatt.tuning import tune_fit

    build, space, X, y, kw = _resume_setup(tmp_path)
    tune_fit(build, space, X, y, n_trials=1, **kw)
    path = tmp_path / "study.json"
    data = json.loads(path.read_text())
    del data["settings"]["metric"], data["settings"]["mode"]  # as written before the fix
    path.write_text(json.dumps(data))
    study, _ = tune_fit(build, space, X, y, n_trials=2, **kw)
    assert len(study.trials) == 2 and Study.load(path).settings["metric"] == "val_loss"


def test_minimize_checks_extra_settings():
    from rosenblatt.tuning import minimize

    with pytest.raises(ValueError, match="other than minimize's own"):
        minimize(lambda p: p["x"], {"x": Uniform(0, 1)}, "random", n_trials=1,
                 extra_settings={"seed": 1})
    with pytest.raises(ValueError, match="plain JSON values"):
        minimize(lambda p: p["x"], {"x": Uniform(0, 1)}, "random", n_trials=1,
                 extra_settings={"m": float("nan")})


# -- finding 6: a metric logged by a callback (EpochScore) could not score the trials ------------
@pytest.mark.parametrize("where", ["fit_kwargs", "build_model"])
def test_tune_fit_scores_trials_by_a_metric_an_epoch_score_logs(where):
    import numpy as np

    import rosenblatt as rb
    from rosenblatt.training.fit import predict
    from rosenblatt.training.metrics import EpochScore, roc_auc
    from rosenblatt.tuning import LogUniform, tune_fit

    g = np.random.default_rng(0)
    X = g.normal(size=(48, 3)).astype(np.float32)
    y = (X[:, 0] + 0.3 * g.normal(size=48) > 0).astype(int)

    def build(p):
        model = rb.nn.Sequential(rb.nn.Dense(3, 4), rb.nn.Tanh(), rb.nn.Dense(4, 2))
        return {"model": model, "callbacks": [EpochScore("roc_auc")]} \
            if where == "build_model" else model

    fit_kwargs = {"callbacks": [EpochScore("roc_auc")]} if where == "fit_kwargs" else None
    study, model = tune_fit(build, {"lr": LogUniform(1e-2, 1e-1)}, X[:32], y[:32],
                            validation_data=(X[32:], y[32:]), epochs=3, metric="val_roc_auc",
                            method="random", n_trials=2, seed=0, pruning="median",
                            fit_kwargs=fit_kwargs)
    assert not study.failed
    out = predict(model, X[32:])
    auc = roc_auc(y[32:], out[:, 1] - out[:, 0])  # the ranks of the class-1 probability
    assert auc == pytest.approx(-study.best_value)  # maximised: the study holds -AUC
