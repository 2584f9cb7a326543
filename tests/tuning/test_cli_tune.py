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


XOR = """
seed = 1
[data]
name = "xor"
validation = 0.25
[[model.layers]]
type = "Dense"
out_features = 4
[[model.layers]]
type = "Tanh"
[[model.layers]]
type = "Dense"
out_features = 2
[training]
epochs = 4
batch_size = 8
[tune]
method = "bayes"
n_trials = 5
pruning = "median"
[tune.space]
"optimizer.lr" = { type = "loguniform", low = 1e-4, high = 1e-1 }
"""


def _trials(out):
    study = json.loads((out / "study.json").read_text())
    return study["settings"], [(t["params"], t["value"], t["status"]) for t in study["trials"]]


def test_workers_without_n_parallel_give_the_serial_study(tmp_path, capsys):
    """Issue 21: the study does not depend on the executor or its workers; n_parallel
    (default 1) is a setting of the config, stored in study.json."""
    cfg = _write(tmp_path, XOR)
    assert main(["tune", cfg, "--out", str(tmp_path / "serial")]) == 0
    assert main(["tune", cfg, "--out", str(tmp_path / "pool"), "--workers", "2"]) == 0
    assert "tune.n_parallel is 1 (the default)" in capsys.readouterr().err
    settings, serial = _trials(tmp_path / "serial")
    assert settings["n_parallel"] == 1 and _trials(tmp_path / "pool") == (settings, serial)
    with pytest.raises(SystemExit):
        main(["tune", "--help"])
    assert "tune.n_parallel of them at a time" in " ".join(capsys.readouterr().out.split())


def test_a_study_resumes_with_more_trials(tmp_path, capsys):
    cfg = _write(tmp_path, XOR.replace("pruning = \"median\"\n", ""))
    out = tmp_path / "run"
    assert main(["tune", cfg, "--out", str(out), "--trials", "3"]) == 0
    assert main(["tune", cfg, "--out", str(out), "--trials", "9"]) == 0
    settings, trials = _trials(out)
    assert len(trials) == 9 and settings["n_initial"] == 2  # the first session's default (not 3)


def test_progress_shows_the_metric_as_named(tmp_path, capsys):
    cfg = _write(tmp_path, XOR.replace("[tune]\n", "[tune]\nmetric = \"val_accuracy\"\n")
                 .replace("[training]\n", "[training]\nmetrics = [\"accuracy\"]\n"))
    assert main(["tune", cfg, "--out", str(tmp_path / "o"), "--trials", "2"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("trial ")]
    assert len(lines) == 2
    for line in lines:
        accuracy = float(line.split("val_accuracy ")[1].split()[0])
        assert 0 <= accuracy <= 1


def test_damaged_study_file_is_one_line_exit_2(tmp_path, capsys):
    cfg = _write(tmp_path, XOR.replace("pruning = \"median\"\n", ""))
    out = tmp_path / "run"
    assert main(["tune", cfg, "--out", str(out), "--trials", "2"]) == 0
    study = json.loads((out / "study.json").read_text())
    study["trials"][0]["value"] = "abc"
    (out / "study.json").write_text(json.dumps(study))
    capsys.readouterr()
    assert main(["tune", cfg, "--out", str(out), "--trials", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rosenblatt tune: error:")
    assert "study.json" in err and "field 'value' of trial 0" in err


def test_a_bad_choice_value_fails_before_any_trial(tmp_path, capsys):
    bad = XOR.replace('"optimizer.lr"', '"model.layers[1].type" = { type = "choice", values = '
                      '["Tanh", "ReLU", "Bogus"] }\n"optimizer.lr"')
    cfg = _write(tmp_path, bad)
    assert main(["tune", cfg, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "unknown layer type 'Bogus'" in err and "trial 1/" not in err
    assert not (tmp_path / "o" / "study.json").exists()
