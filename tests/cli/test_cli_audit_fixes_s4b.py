"""CLI audit fixes (s4, second round): duplicate CSV column names, tune's model and checks as
train's, cli.columns checked, conditional range ends, resume by the file a path names, evolve's
refused run leaves nothing, a finished grid study says so."""

import json
import os
import textwrap
import warnings

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.cli import main

SMALL = """
seed = 3
[data]
name = "moons"
options = { n_samples = 60 }
test = 0.25
validation = 0.2
[[model.layers]]
type = "Dense"
out_features = 4
[[model.layers]]
type = "Tanh"
[[model.layers]]
type = "Dense"
out_features = 2
[training]
epochs = 1
batch_size = 16
[optimizer]
name = "adam"
lr = 0.02
"""

TUNE_TABLE = """
[tune]
method = "random"
n_trials = 1
[tune.space]
"optimizer.lr" = { type = "loguniform", low = 1e-2, high = 1e-1 }
"""

CSV_CFG = """
seed = 0
[data]
path = "ab_train.csv"
target = "label"
test = 0.2
validation = 0.2
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


def _write(folder, text, name="cfg.toml"):
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def _refused(argv, capsys, *expected):
    """main(argv) exits 2 with one line on stderr holding each expected text."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("rosenblatt "), err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err
    return err


@pytest.fixture
def no_training(monkeypatch):
    """rb.fit and every tune trial fail the test if called: the error is found before."""
    def fit(*args, **kwargs):
        raise AssertionError("training started before the user error was found")

    monkeypatch.setattr(rb, "fit", fit)
    monkeypatch.setattr(rb.tuning, "tune_fit", fit)
    monkeypatch.setattr(rb.tuning.networks, "train_trial", fit)


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


# -- 1: two input columns of one name ----------------------------------------------------------
def test_csv_with_two_input_columns_of_one_name_is_refused_at_train(tmp_path, capsys,
                                                                    no_training):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    _csv(tmp_path / "ab_train.csv", ["a", "a", "b", "label"], np.c_[x, x[:, 0] > 0])
    cfg = _write(tmp_path, CSV_CFG)
    _refused(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"], capsys, "ab_train.csv",
             "2 columns are named 'a'", "rename")
    assert not (tmp_path / "o").exists()


# -- 2: tune's model matches CSV columns by name, as train's -----------------------------------
def test_tune_model_has_the_csv_columns_and_target_of_train(tmp_path, capsys):
    _ab_data(tmp_path)
    cfg = _write(tmp_path, CSV_CFG + TUNE_TABLE)
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


# -- 3: cli.columns of a model file is checked --------------------------------------------------
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


# -- 4: tune refuses what train refuses, before any trial -------------------------------------
def test_tune_refuses_nll_on_outputs_that_are_not_log_probabilities(tmp_path, capsys,
                                                                    no_training):
    text = SMALL.replace("[training]", '[training]\nloss = "nll"') + TUNE_TABLE
    _refused(["tune", _write(tmp_path, text), "--out", str(tmp_path / "t")], capsys,
             "training.loss", "LogSoftmax")
    assert not (tmp_path / "t").exists()


def test_tune_refuses_a_class_only_in_the_test_file(tmp_path, capsys, no_training):
    _ab_data(tmp_path)
    _csv(tmp_path / "t3.csv", ["a", "b", "label"], [[0.1, 0.2, 0], [0.3, 0.1, 2]])
    text = CSV_CFG.replace("test = 0.2", 'test = "t3.csv"') + TUNE_TABLE
    _refused(["tune", _write(tmp_path, text), "--out", str(tmp_path / "t")], capsys,
             "t3.csv line 3", "2 values per sample")
    assert not (tmp_path / "t").exists()


def test_tune_refuses_a_model_with_the_wrong_number_of_outputs(tmp_path, capsys, no_training):
    text = SMALL.replace("out_features = 2", "out_features = 3") + TUNE_TABLE
    _refused(["tune", _write(tmp_path, text), "--out", str(tmp_path / "t")], capsys,
             "model.layers[2]", "3 values", "2 classes")


# -- 5: the range ends of a conditional parameter ---------------------------------------------
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


# -- 6: resume compares the files the paths name ---------------------------------------------
def test_resume_with_another_spelling_of_the_same_data_path_continues(tmp_path, capsys):
    _ab_data(tmp_path)
    cfg = _write(tmp_path, CSV_CFG.replace("epochs = 5", "epochs = 1"))
    out = str(tmp_path / "o")
    assert main(["train", cfg, "--out", out, "--quiet"]) == 0
    dot = _write(tmp_path, CSV_CFG.replace('"ab_train.csv"', '"./ab_train.csv"'), "dot.toml")
    assert main(["train", dot, "--out", out, "--quiet", "--resume", "--epochs", "2"]) == 0
    (tmp_path / "sub").mkdir()
    up = _write(tmp_path / "sub", CSV_CFG.replace('"ab_train.csv"', '"../ab_train.csv"'))
    assert main(["train", up, "--out", out, "--quiet", "--resume", "--epochs", "3"]) == 0
    capsys.readouterr()
    # the same string from another folder names another file: refused
    _ab_data(tmp_path / "sub")
    other = _write(tmp_path / "sub", CSV_CFG, "other.toml")
    _refused(["train", other, "--out", out, "--quiet", "--resume", "--epochs", "4"], capsys,
             "data.path", "ab_train.csv")


def test_tune_resume_with_another_spelling_of_the_same_data_path(tmp_path, capsys):
    _ab_data(tmp_path)
    cfg = _write(tmp_path, CSV_CFG.replace("epochs = 5", "epochs = 1") + TUNE_TABLE)
    out = str(tmp_path / "t")
    assert main(["tune", cfg, "--out", out]) == 0
    (tmp_path / "sub").mkdir()
    up = _write(tmp_path / "sub", CSV_CFG.replace("epochs = 5", "epochs = 1").replace(
        '"ab_train.csv"', '"../ab_train.csv"') + TUNE_TABLE)
    assert main(["tune", up, "--out", out, "--trials", "2"]) == 0
    assert len(json.loads((tmp_path / "t" / "study.json").read_text())["trials"]) == 2


# -- 7: evolve's refused config leaves no folders ------------------------------------------------
def test_evolve_refused_config_leaves_no_folders(tmp_path, capsys):
    cfg = _write(tmp_path, 'algorithm = "cne"\ntask = "xor"\ngenerations = 2\n'
                           '[cne]\nhidden = [-3]\n')
    _refused(["evolve", cfg, "--out", str(tmp_path / "ev" / "deep")], capsys, "hidden")
    assert not (tmp_path / "ev").exists()


# -- 8: --trials on a finished grid study --------------------------------------------------------
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
