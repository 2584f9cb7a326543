"""CLI audit fixes (s4): user errors found up front (exit 2, one line), strict JSON, CSV columns
matched by header name, resumes that refuse another seed/config, tune's space checked at its
bounds and for keys the trials cannot vary."""

import json
import os
import warnings

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.cli import main

from .helpers import TUNE_TABLE, refused as _refused, small_config, write_config as _write

SMALL = small_config(1)

TUNE = SMALL + TUNE_TABLE


def _strict(text):
    """json.loads that refuses NaN/Infinity (as jq and JavaScript do)."""
    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _csv(path, header, rows):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(f"{v:.17g}" for v in r) + "\n")
    return str(path)


def _ab_data(tmp_path, n=80, seed=0):
    """a, b, label with label = a > 0 (b is noise): a model that swaps a and b is wrong."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n) * 3
    y = (a > 0).astype(int)
    _csv(tmp_path / "ab_train.csv", ["a", "b", "label"], np.c_[a, b, y])
    rng = np.random.default_rng(seed + 1)
    a, b = rng.normal(size=40), rng.normal(size=40) * 3
    y = (a > 0).astype(int)
    _csv(tmp_path / "ab_test.csv", ["a", "b", "label"], np.c_[a, b, y])
    _csv(tmp_path / "ba_test.csv", ["b", "label", "a"], np.c_[b, y, a])


CSV_CFG = """
seed = 0
[data]
path = "ab_train.csv"
target = "label"
test = 0.2
[[model.layers]]
type = "Dense"
out_features = 2
[training]
epochs = 5
batch_size = 16
[optimizer]
name = "adam"
lr = 0.05
"""

CSV_WITH_VALIDATION = CSV_CFG.replace("test = 0.2\n", "test = 0.2\nvalidation = 0.2\n")


# -- 1: evolve --out -------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["file", "under_file"])
def test_evolve_out_that_cannot_be_written_is_refused_before_the_run(tmp_path, capsys,
                                                                     monkeypatch, where):
    import rosenblatt.cli.evolve as evolve_cli

    def no_run(*args, **kwargs):
        raise AssertionError("the evolution ran before the output folder was checked")

    monkeypatch.setattr(evolve_cli, "evolve", no_run)
    cfg = _write(tmp_path, 'algorithm = "neat"\ntask = "xor"\ngenerations = 2\n')
    afile = tmp_path / "afile"
    afile.write_text("x")
    out = str(afile) if where == "file" else str(afile / "sub")
    _refused(["evolve", cfg, "--out", out], capsys, "option --out", str(afile))


# -- 2: train --resume under another seed or data split -----------------------------------------
def test_resume_refuses_another_seed_or_data_split(tmp_path, capsys):
    cfg = _write(tmp_path, SMALL)
    out = str(tmp_path / "o")
    assert main(["train", cfg, "--out", out, "--quiet"]) == 0
    capsys.readouterr()
    _refused(["train", cfg, "--out", out, "--quiet", "--resume", "--epochs", "2", "--seed", "5"],
             capsys, "--resume", "seed", "3", "5")
    other = _write(tmp_path, SMALL.replace("test = 0.25", "test = 0.3"), "other.toml")
    _refused(["train", other, "--out", out, "--quiet", "--resume", "--epochs", "2"], capsys,
             "data.test", "0.25", "0.3")
    # the same seed and data: the run continues
    assert main(["train", cfg, "--out", out, "--quiet", "--resume", "--epochs", "2"]) == 0


# -- 3: tune.space keys the trials cannot vary -------------------------------------------------
@pytest.mark.parametrize("path, value", [
    ("training.epochs", "{ type = \"choice\", values = [1, 2] }"),
    ("training.loss", "{ type = \"choice\", values = [\"cross_entropy\", \"mse\"] }"),
    ("seed", "{ type = \"int\", low = 0, high = 3 }"),
    ("data.validation", "{ type = \"uniform\", low = 0.1, high = 0.3 }"),
    ("model.dtype", "{ type = \"choice\", values = [\"float32\", \"float64\"] }"),
])
def test_tune_space_refuses_keys_the_trials_cannot_vary(tmp_path, capsys, path, value):
    cfg = _write(tmp_path, TUNE + f'"{path}" = {value}\n')
    _refused(["tune", cfg, "--out", str(tmp_path / "t")], capsys, f'tune.space."{path}"',
             "cannot vary", "optimizer")
    assert not (tmp_path / "t").exists()


# -- 4: tune resume with another config ----------------------------------------------------------
def test_tune_refuses_to_resume_a_study_run_with_another_config(tmp_path, capsys):
    cfg = _write(tmp_path, TUNE)
    out = str(tmp_path / "t")
    assert main(["tune", cfg, "--out", out]) == 0
    capsys.readouterr()
    _refused(["tune", cfg, "--out", out, "--epochs", "3"], capsys, "study.json",
             "training.epochs", "1", "3")
    other = _write(tmp_path, TUNE.replace("seed = 3", "seed = 4"), "other.toml")
    _refused(["tune", other, "--out", out], capsys, "seed")
    # the same config (more trials) resumes
    assert main(["tune", cfg, "--out", out, "--trials", "2"]) == 0
    assert len(json.loads((tmp_path / "t" / "study.json").read_text())["trials"]) == 2


# -- 5: CSV columns by header name ---------------------------------------------------------------
def test_csv_test_file_columns_are_matched_by_name(tmp_path):
    from rosenblatt.cli.data import prepare

    _ab_data(tmp_path)
    data = {"path": "ab_train.csv", "target": "label", "test": "ab_test.csv",
            "validation": 0.0, "standardize": True, "name": None, "options": {}}
    ab = prepare(dict(data), 0, str(tmp_path), "cross_entropy", [])
    ba = prepare(dict(data, test="ba_test.csv"), 0, str(tmp_path), "cross_entropy", [])
    for u, v in zip(ab, ba):
        np.testing.assert_array_equal(u, v)


def test_csv_test_file_with_a_missing_column_is_refused(tmp_path, capsys):
    _ab_data(tmp_path)
    _csv(tmp_path / "ac_test.csv", ["a", "c", "label"], np.zeros((3, 3)))
    cfg = _write(tmp_path, CSV_CFG.replace("test = 0.2", 'test = "ac_test.csv"'))
    _refused(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"], capsys, "ac_test.csv",
             "'b'")


def test_evaluate_and_predict_match_csv_columns_by_name(tmp_path, capsys):
    _ab_data(tmp_path)
    cfg = _write(tmp_path, CSV_CFG)
    model = str(tmp_path / "o" / "model.safetensors")
    assert main(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"]) == 0
    capsys.readouterr()
    results = []
    for name in ("ab_test.csv", "ba_test.csv"):
        assert main(["evaluate", model, "--data", str(tmp_path / name), "--json"]) == 0
        results.append(json.loads(capsys.readouterr().out))
        assert main(["predict", model, str(tmp_path / name)]) == 0
        results.append(capsys.readouterr().out)
    assert results[0]["accuracy"] == results[2]["accuracy"] > 0.8
    assert results[0]["loss"] == results[2]["loss"]
    assert results[1] == results[3]
    _csv(tmp_path / "ac.csv", ["a", "c"], np.zeros((3, 2)))
    _refused(["predict", model, str(tmp_path / "ac.csv")], capsys, "ac.csv", "'b'")


# -- 6: classes across splits ---------------------------------------------------------------------
def test_a_class_only_in_the_test_file_is_refused_before_training(tmp_path, capsys, no_training):
    _ab_data(tmp_path)
    _csv(tmp_path / "t3.csv", ["a", "b", "label"], [[0.1, 0.2, 0], [0.3, 0.1, 2]])
    cfg = _write(tmp_path, CSV_CFG.replace("test = 0.2", 'test = "t3.csv"'))
    _refused(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"], capsys, "t3.csv line 3",
             "2", "2 values per sample")
    assert not (tmp_path / "o").exists()


# -- 7: nll takes log-probabilities ----------------------------------------------------------------
def test_nll_on_outputs_that_are_not_log_probabilities_is_refused(tmp_path, capsys, no_training):
    cfg = _write(tmp_path, SMALL.replace("[training]", '[training]\nloss = "nll"'))
    _refused(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"], capsys,
             "training.loss", "LogSoftmax")


def test_nll_after_log_softmax_trains(tmp_path, capsys):
    text = SMALL.replace("[training]", '[[model.layers]]\ntype = "LogSoftmax"\n[training]\n'
                         'loss = "nll"')
    cfg = _write(tmp_path, text)
    assert main(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"]) == 0


# -- 9: a wrong in_features is reported at its own layer ----------------------------------------
def test_wrong_in_features_is_reported_at_its_layer(tmp_path, capsys, no_training):
    text = SMALL.replace('out_features = 4', 'out_features = 4\nin_features = 3', 1)
    cfg = _write(tmp_path, text)
    err = _refused(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"], capsys,
                   "config key 'model.layers[0]'")
    assert "layers[2]" not in err and "give it explicitly" not in err


# -- 11: a layer's dtype ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float16"])
def test_layer_dtype_other_than_model_dtype_is_refused(tmp_path, capsys, no_training, dtype):
    text = SMALL.replace('out_features = 4', f'out_features = 4\ndtype = "{dtype}"', 1)
    _refused(["train", _write(tmp_path, text), "--out", str(tmp_path / "o"), "--quiet"], capsys,
             "model.layers[0].dtype", "model.dtype")


def test_layer_dtype_equal_to_model_dtype_is_accepted():
    from rosenblatt.cli.build import build_model

    layers = [{"type": "Dense", "out_features": 3, "dtype": "float64"}]
    model = build_model(layers, (2,), "float64", np.random.default_rng(0))
    assert all(p.data.dtype == np.float64 for p in model.parameters())


# -- 13: strict JSON ---------------------------------------------------------------------------
def test_write_json_writes_non_finite_values_as_null(tmp_path):
    from rosenblatt.cli.train import write_json

    path = tmp_path / "m.json"
    write_json(str(path), {"a": float("inf"), "b": [1.5, float("nan")], "c": {"d": -np.inf},
                           "e": np.float32(2.0)})
    assert _strict(path.read_text()) == {"a": None, "b": [1.5, None], "c": {"d": None}, "e": 2.0}


def test_evaluate_json_is_strict_and_the_loss_of_float32_outputs_is_float64(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=40)
    _csv(tmp_path / "r.csv", ["x", "y"], np.c_[x, np.sin(3 * x)])
    cfg = _write(tmp_path, CSV_CFG.replace("ab_train.csv", "r.csv").replace('"label"', '"y"')
                 .replace("[training]", '[training]\nloss = "mse"')
                 .replace("out_features = 2", "out_features = 1"))
    assert main(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"]) == 0
    _csv(tmp_path / "big.csv", ["x", "y"], [[0.1, 1e30], [0.2, 2e30]])
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "o" / "model.safetensors"), "--data",
                 str(tmp_path / "big.csv"), "--json"]) == 0
    out, err = capsys.readouterr()
    result = _strict(out)
    assert result["loss"] == pytest.approx(2.5e60, rel=1e-6)
    assert "overflow" not in err


# -- 14: tune checks the ends of its ranges -----------------------------------------------------
def test_tune_refuses_a_range_end_that_is_not_a_valid_config(tmp_path, capsys, no_training):
    text = TUNE.replace("low = 1e-3, high = 1e-1", "low = -0.004, high = 0.1").replace(
        "loguniform", "uniform")
    _refused(["tune", _write(tmp_path, text), "--out", str(tmp_path / "t")], capsys,
             'tune.space."optimizer.lr"', "-0.004", "lr")


# -- 15: predict --proba on a regressor ------------------------------------------------------
def test_predict_proba_on_a_regression_model_is_refused(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=40)
    _csv(tmp_path / "r.csv", ["x", "y"], np.c_[x, x])
    cfg = _write(tmp_path, CSV_CFG.replace("ab_train.csv", "r.csv").replace('"label"', '"y"')
                 .replace("[training]", '[training]\nloss = "mse"')
                 .replace("out_features = 2", "out_features = 1"))
    assert main(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"]) == 0
    _csv(tmp_path / "x.csv", ["x"], [[0.5], [1.0]])
    capsys.readouterr()
    _refused(["predict", str(tmp_path / "o" / "model.safetensors"), str(tmp_path / "x.csv"),
              "--proba"], capsys, "--proba", "regress")


# -- a7 #9: duplicate target column, .npz target = the inputs ------------------------------------
def test_csv_with_two_columns_named_like_the_target_is_refused(tmp_path):
    from rosenblatt.cli.datafile import read
    from rosenblatt.cli.errors import CLIError

    path = _csv(tmp_path / "dup.csv", ["price", "size", "price"], [[1, 2, 1], [3, 4, 3]])
    with pytest.raises(CLIError, match="2 columns are named 'price'"):
        read(path, "price", need_target=True)


def test_npz_target_that_is_the_inputs_array_is_refused(tmp_path):
    from rosenblatt.cli.datafile import read
    from rosenblatt.cli.errors import CLIError

    path = str(tmp_path / "d.npz")
    np.savez(path, X=np.zeros((4, 2)), y=np.zeros(4))
    with pytest.raises(CLIError, match="'X' is also the inputs"):
        read(path, "X", need_target=True)


def test_learning_curve_of_losses_below_zero_has_a_linear_scale(tmp_path):
    pytest.importorskip("matplotlib")
    import warnings

    from rosenblatt.cli.train import plot_curves

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Data has no positive values ... log-scaled"
        plot_curves({"loss": [-0.5, -1.4, -2.5]}, str(tmp_path / "c.png"), "t")
    assert (tmp_path / "c.png").exists()


# -- second round: duplicate CSV column names, tune's model and checks as train's,
# cli.columns checked, conditional range ends, resume by the file a path names, evolve's
# refused run leaves nothing, a finished grid study says so --------------------------------

TUNE_TABLE = """
[tune]
method = "random"
n_trials = 1
[tune.space]
"optimizer.lr" = { type = "loguniform", low = 1e-2, high = 1e-1 }
"""


def test_csv_with_two_input_columns_of_one_name_is_refused_at_train(tmp_path, capsys,
                                                                    no_training):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    _csv(tmp_path / "ab_train.csv", ["a", "a", "b", "label"], np.c_[x, x[:, 0] > 0])
    cfg = _write(tmp_path, CSV_WITH_VALIDATION)
    _refused(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"], capsys, "ab_train.csv",
             "2 columns are named 'a'", "rename")
    assert not (tmp_path / "o").exists()


def test_tune_model_has_the_csv_columns_and_target_of_train(tmp_path, capsys):
    _ab_data(tmp_path)
    cfg = _write(tmp_path, CSV_WITH_VALIDATION + TUNE_TABLE)
    out = tmp_path / "t"
    assert main(["tune", cfg, "--out", str(out)]) == 0
    capsys.readouterr()
    meta = rb.io.load_checkpoint(str(out / "model.safetensors")).metadata["cli"]
    assert meta["columns"] == ["a", "b"]
    assert meta["target"] == "label" and meta["path"] is True
    model = str(out / "model.safetensors")
    printed = []
    for name in ("ab_test.csv", "ba_test.csv", "ab_train.csv"):
        assert main(["predict", model, str(tmp_path / name), "--proba"]) == 0
        printed.append(capsys.readouterr().out)
    assert printed[0] == printed[1]
    assert len(printed[2].splitlines()) == 80


@pytest.mark.parametrize("columns", [5, "ab", ["a"], ["a", "a"], ["a", 3], ["a", ""]])
def test_model_file_columns_metadata_is_checked(tmp_path, capsys, columns):
    model = rb.nn.Sequential(rb.nn.Dense(2, 2))
    path = str(tmp_path / "m.safetensors")
    rb.save(model, path, metadata={"cli": {
        "task": "classification", "loss": "cross_entropy", "mean": np.zeros(2),
        "std": np.ones(2), "path": True, "target": "label", "columns": columns}})
    _ab_data(tmp_path)
    _refused(["predict", path, str(tmp_path / "ab_test.csv")], capsys, "cli.columns",
             "column names")


def test_model_file_columns_metadata_as_train_writes_it_passes():
    from rosenblatt.cli.modelfile import check_metadata

    meta = {"mean": np.zeros(2), "std": np.ones(2), "columns": ["a", "b"]}
    assert check_metadata(meta, "m")["columns"] == ["a", "b"]


def test_tune_refuses_nll_on_outputs_that_are_not_log_probabilities(tmp_path, capsys,
                                                                    no_training):
    text = SMALL.replace("[training]", '[training]\nloss = "nll"') + TUNE_TABLE
    _refused(["tune", _write(tmp_path, text), "--out", str(tmp_path / "t")], capsys,
             "training.loss", "LogSoftmax")
    assert not (tmp_path / "t").exists()


def test_tune_refuses_a_class_only_in_the_test_file(tmp_path, capsys, no_training):
    _ab_data(tmp_path)
    _csv(tmp_path / "t3.csv", ["a", "b", "label"], [[0.1, 0.2, 0], [0.3, 0.1, 2]])
    text = CSV_WITH_VALIDATION.replace("test = 0.2", 'test = "t3.csv"') + TUNE_TABLE
    _refused(["tune", _write(tmp_path, text), "--out", str(tmp_path / "t")], capsys,
             "t3.csv line 3", "2 values per sample")
    assert not (tmp_path / "t").exists()


def test_tune_refuses_a_model_with_the_wrong_number_of_outputs(tmp_path, capsys, no_training):
    text = SMALL.replace("out_features = 2", "out_features = 3") + TUNE_TABLE
    _refused(["tune", _write(tmp_path, text), "--out", str(tmp_path / "t")], capsys,
             "model.layers[2]", "3 values", "2 classes")


def test_tune_refuses_a_conditional_range_end_that_is_not_a_valid_config(tmp_path, capsys,
                                                                         no_training):
    text = SMALL.replace('name = "adam"', 'name = "sgd"') + """
[tune]
method = "random"
n_trials = 4
[tune.space]
"optimizer.name" = { type = "choice", values = ["adam", "sgd"] }
""" + ('"optimizer.momentum" = { type = "uniform", low = 0.0, high = 1.05, '
          'when = { "optimizer.name" = "sgd" } }\n')
    _refused(["tune", _write(tmp_path, text), "--out", str(tmp_path / "t")], capsys,
             'tune.space."optimizer.momentum"', "high", "momentum")


def test_range_ends_cover_every_conditional_parameter():
    from rosenblatt.cli.tune import _ends
    from rosenblatt.tuning import Choice, Space, Uniform

    space = Space({"opt": Choice(["adam", "sgd"]),
                   "nesterov": Choice([False, True], when={"opt": "sgd"}),
                   "momentum": Uniform(0.0, 0.9, when={"nesterov": True}),
                   "beta": Uniform(0.5, 0.99, when={"opt": "adam"})})
    for row in np.random.default_rng(0).random((5, space.dim)):
        ends = {(name, side): (probe, value) for probe, name, side, value
                in _ends(space, row[None])}
        assert set(ends) == {(n, s) for n in ("momentum", "beta") for s in ("low", "high")}
        assert ends["momentum", "high"][1] == pytest.approx(0.9)
        assert ends["momentum", "low"][0]["nesterov"] is True
        assert ends["beta", "low"][1] == pytest.approx(0.5)


def test_resume_with_another_spelling_of_the_same_data_path_continues(tmp_path, capsys):
    _ab_data(tmp_path)
    cfg = _write(tmp_path, CSV_WITH_VALIDATION.replace("epochs = 5", "epochs = 1"))
    out = str(tmp_path / "o")
    assert main(["train", cfg, "--out", out, "--quiet"]) == 0
    dot = _write(tmp_path, CSV_WITH_VALIDATION.replace('"ab_train.csv"', '"./ab_train.csv"'),
                 "dot.toml")
    assert main(["train", dot, "--out", out, "--quiet", "--resume", "--epochs", "2"]) == 0
    (tmp_path / "sub").mkdir()
    up = _write(tmp_path / "sub",
                CSV_WITH_VALIDATION.replace('"ab_train.csv"', '"../ab_train.csv"'))
    assert main(["train", up, "--out", out, "--quiet", "--resume", "--epochs", "3"]) == 0
    capsys.readouterr()
    # the same string from another folder names another file: refused
    _ab_data(tmp_path / "sub")
    other = _write(tmp_path / "sub", CSV_WITH_VALIDATION, "other.toml")
    _refused(["train", other, "--out", out, "--quiet", "--resume", "--epochs", "4"], capsys,
             "data.path", "ab_train.csv")


def test_tune_resume_with_another_spelling_of_the_same_data_path(tmp_path, capsys):
    _ab_data(tmp_path)
    cfg = _write(tmp_path, CSV_WITH_VALIDATION.replace("epochs = 5", "epochs = 1") + TUNE_TABLE)
    out = str(tmp_path / "t")
    assert main(["tune", cfg, "--out", out]) == 0
    (tmp_path / "sub").mkdir()
    up = _write(tmp_path / "sub", CSV_WITH_VALIDATION.replace("epochs = 5", "epochs = 1").replace(
        '"ab_train.csv"', '"../ab_train.csv"') + TUNE_TABLE)
    assert main(["tune", up, "--out", out, "--trials", "2"]) == 0
    assert len(json.loads((tmp_path / "t" / "study.json").read_text())["trials"]) == 2


def test_evolve_refused_config_leaves_no_folders(tmp_path, capsys):
    cfg = _write(tmp_path, 'algorithm = "cne"\ntask = "xor"\ngenerations = 2\n'
                           '[cne]\nhidden = [-3]\n')
    _refused(["evolve", cfg, "--out", str(tmp_path / "ev" / "deep")], capsys, "hidden")
    assert not (tmp_path / "ev").exists()


GRID = SMALL + """
[tune]
method = "grid"
n_trials = 4
[tune.space]
"optimizer.lr" = { type = "loguniform", low = 1e-2, high = 1e-1 }
"model.layers[0].out_features" = { type = "int", low = 2, high = 6 }
"""


def test_tune_trials_on_a_finished_grid_study_says_the_grid_is_complete(tmp_path, capsys):
    cfg = _write(tmp_path, GRID)
    out = str(tmp_path / "g")
    assert main(["tune", cfg, "--out", out]) == 0
    capsys.readouterr()
    assert main(["tune", cfg, "--out", out, "--trials", "9"]) == 0
    err = capsys.readouterr().err
    assert "grid_points 2" in err and "4 combinations" in err, err
    assert "Warning" not in err
    assert len(json.loads((tmp_path / "g" / "study.json").read_text())["trials"]) == 4


def test_minimize_warns_when_a_resumed_grid_cannot_grow(tmp_path):
    from rosenblatt.tuning import Space, Uniform, minimize

    space = Space({"x": Uniform(0, 1), "y": Uniform(0, 1)})
    path = str(tmp_path / "s.json")
    minimize(_quadratic, space, method="grid", n_trials=4, seed=0, resume_from=path)
    with pytest.warns(UserWarning, match="grid_points 2"):
        study = minimize(_quadratic, space, method="grid", n_trials=9, resume_from=path)
    assert len(study.trials) == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        minimize(_quadratic, space, method="grid", n_trials=4, resume_from=path)
    assert os.path.exists(path)


def _quadratic(p):
    return (p["x"] - 0.3) ** 2 + p["y"]

