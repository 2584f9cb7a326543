"""`rosenblatt tune CONFIG.toml`: a [tune] table searches a training config's values."""

import json

import pytest

import rosenblatt as rb
from rosenblatt.cli.main import main

CONFIG = """
seed = 0
[data]
name = "digits"
validation = 0.2
[[model.layers]]
type = "Dense"
out_features = 16
[[model.layers]]
type = "ReLU"
[[model.layers]]
type = "Dense"
out_features = 10
[training]
epochs = 3
batch_size = 64
[regularizers]
L2 = { lam = 1e-4 }
[tune]
method = "{method}"
n_trials = 4
n_initial = 2
metric = "val_accuracy"
[tune.space]
"optimizer.lr" = { type = "loguniform", low = 1e-3, high = 3e-2 }
"model.layers[0].out_features" = { type = "int", low = 8, high = 64, log = true }
"regularizers.L2.lam" = { type = "loguniform", low = 1e-6, high = 1e-2 }
"""


def _write(tmp_path, text, name="c.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_tune_writes_the_study_and_the_best_model(tmp_path, capsys):
    pytest.importorskip("sklearn")
    cfg = _write(tmp_path, CONFIG.replace("{method}", "bayes"))
    out = tmp_path / "run"
    assert main(["tune", cfg, "--out", str(out)]) == 0
    study = rb.tuning.Study.load(out / "study.json")
    assert len(study.trials) == 4
    summary = json.loads((out / "tune.json").read_text())
    assert summary["best_params"] == study.best_params and "accuracy" in summary["test"]
    model = rb.load(out / "model.safetensors")
    hidden = study.best_params["model.layers[0].out_features"]
    assert model.layers[0].out_features == hidden
    assert (out / "trials.csv").read_text().count("\n") == 5
    assert "best val_accuracy" in capsys.readouterr().out
    # running it again resumes the finished study: no new trials
    assert main(["tune", cfg, "--out", str(out)]) == 0
    assert len(rb.tuning.Study.load(out / "study.json").trials) == 4
    assert main(["tune", cfg, "--out", str(out), "--trials", "5"]) == 0
    assert len(rb.tuning.Study.load(out / "study.json").trials) == 5


@pytest.mark.parametrize("bad,message", [
    ('[tune]\nn_trail = 3\n',
     r"config key 'tune.n_trail' is not recognised in \[tune\]; expected one of: method"),
    ('[tune]\nmethod = "bo"\n[tune.space]\n"optimizer.lr" = { type = "uniform", low = 0.1, '
     'high = 0.2 }\n', "tune.method"),
    ('[tune]\n[tune.space]\n"optimizer.lr" = { type = "loguniform", low = 0.0, high = 0.2 }\n',
     "log range must be positive"),
    ('[tune]\n[tune.space]\n"optimizer.lr" = { type = "uniform", low = 0.3, high = 0.2 }\n',
     "empty or inverted"),
    ('[tune]\n[tune.space]\n"model.layers[7].rate" = { type = "uniform", low = 0, high = 1 }\n',
     "no element \\[7\\]"),
    ('[tune]\n[tune.space]\n"optimizer..lr" = { type = "uniform", low = 0, high = 1 }\n',
     "is not a config path"),
    ('[tune]\n[tune.space]\n"model.layers[0].out_featurs" = { type = "int", low = 2, '
     'high = 4 }\n', "out_featurs"),
    ('[tune]\nmetric = "loss"\n[tune.space]\n"optimizer.lr" = { type = "uniform", low = 0.1, '
     'high = 0.2 }\n', "tune.metric"),
    ('[tune]\n', "tune.space"),
])
def test_bad_tune_tables_name_the_key(tmp_path, capsys, bad, message):
    base = CONFIG.split("[tune]")[0]
    cfg = _write(tmp_path, base + bad)
    assert main(["tune", cfg, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "rosenblatt tune: error:" in err
    import re

    assert re.search(message, err), err


def test_config_without_tune_table(tmp_path, capsys):
    cfg = _write(tmp_path, CONFIG.split("[tune]")[0])
    assert main(["tune", cfg]) == 2
    assert "has no [tune] table" in capsys.readouterr().err


def test_train_runs_a_config_that_also_has_a_tune_table(tmp_path):
    pytest.importorskip("sklearn")
    cfg = _write(tmp_path, CONFIG.replace("{method}", "random").replace("epochs = 3", "epochs = 1"))
    out = tmp_path / "run"
    assert main(["train", cfg, "--out", str(out)]) == 0
    assert (out / "model.safetensors").exists()
