"""CLI audit fixes (s10/a4): ``evaluate --split test`` on the data file a model was trained on
scores that file's held-out test rows (rebuilt from the seed and test fraction of the model
file), and is refused, saying why, where those rows cannot be found. Each test failed before
its fix (the audit's finding number)."""

import json
import re
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.cli import main

from .helpers import refused, small_config, write_config


@pytest.fixture
def no_figures(monkeypatch):
    """train's learning curve: not what these tests check, and matplotlib is slow to start."""
    import rosenblatt.cli.train as train_cli

    monkeypatch.setattr(train_cli, "plot_curves", lambda *args: None)


def _csv(path, n, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, 2))
    path.write_text("a,b,label\n" + "".join(f"{a:.5f},{b:.5f},{int(a + b > 0)}\n"
                                            for a, b in x))


FILE_DATA = 'path = "data.csv"\ntarget = "label"'


@pytest.fixture
def own_run(tmp_path, capsys, no_figures):
    """A model trained on its own 60-row data.csv (15 test rows, 9 validation rows): (model
    path, the test split's metrics as train wrote them)."""
    _csv(tmp_path / "data.csv", 60)
    text = small_config(2).replace('name = "moons"\noptions = { n_samples = 60 }', FILE_DATA)
    out = tmp_path / "o"
    assert main(["train", write_config(tmp_path, text), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["samples"] == 15
    return str(out / "model.safetensors"), metrics["test"]


def _evaluate(argv, capsys):
    code = main(["evaluate", *argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out), err


# -- 1: --split test on the training file scores its held-out rows ------------------------------
@pytest.mark.parametrize("split", [["--split", "test"], []])
def test_evaluate_on_the_training_file_scores_the_test_split(own_run, tmp_path, capsys, split):
    model, test = own_run
    result, _ = _evaluate([model, "--data", str(tmp_path / "data.csv"), *split], capsys)
    assert result["split"] == "test" and result["samples"] == 15
    assert result["loss"] == pytest.approx(test["loss"], rel=1e-6)
    assert result["accuracy"] == pytest.approx(test["accuracy"])
    whole, _ = _evaluate([model, "--data", str(tmp_path / "data.csv"), "--split", "all"], capsys)
    assert whole["split"] == "all" and whole["samples"] == 60


def test_evaluate_finds_the_training_file_by_its_contents(own_run, tmp_path, capsys):
    model, test = own_run
    shutil.copy(tmp_path / "data.csv", tmp_path / "renamed.csv")
    result, _ = _evaluate([model, "--data", str(tmp_path / "renamed.csv")], capsys)
    assert result["split"] == "test" and result["samples"] == 15
    assert result["loss"] == pytest.approx(test["loss"], rel=1e-6)


def test_evaluate_another_file_is_evaluated_whole_and_split_test_is_refused(own_run, tmp_path,
                                                                            capsys):
    model, _ = own_run
    _csv(tmp_path / "other.csv", 30, seed=1)
    result, err = _evaluate([model, "--data", str(tmp_path / "other.csv")], capsys)
    assert result["split"] == "all" and result["samples"] == 30 and not err
    refused(["evaluate", model, "--data", str(tmp_path / "other.csv"), "--split", "test"],
            capsys, "--split test", "other.csv", "not the file", "--split all")


def test_evaluate_a_training_file_whose_contents_changed(own_run, tmp_path, capsys):
    model, _ = own_run
    _csv(tmp_path / "data.csv", 50, seed=2)  # the same name, other rows
    refused(["evaluate", model, "--data", str(tmp_path / "data.csv"), "--split", "test"],
            capsys, "data.csv", "SHA-256", "--split all")
    result, err = _evaluate([model, "--data", str(tmp_path / "data.csv")], capsys)
    assert result["split"] == "all" and result["samples"] == 50
    assert "note" in err and "SHA-256" in err


def test_evaluate_a_model_file_of_an_older_version_matches_the_file_by_name(own_run, tmp_path,
                                                                            capsys):
    """A model file written before train recorded the data's SHA-256: its file name."""
    model, test = own_run
    ckpt = rb.io.load_checkpoint(model)
    meta = dict(ckpt.metadata)
    meta["cli"] = {k: v for k, v in meta["cli"].items() if k != "data_sha256"}
    old = str(tmp_path / "old.safetensors")
    rb.save(ckpt.model, old, metadata=meta)
    result, _ = _evaluate([old, "--data", str(tmp_path / "data.csv")], capsys)
    assert result["split"] == "test" and result["samples"] == 15
    assert result["loss"] == pytest.approx(test["loss"], rel=1e-6)
    shutil.copy(tmp_path / "data.csv", tmp_path / "renamed.csv")
    result, _ = _evaluate([old, "--data", str(tmp_path / "renamed.csv")], capsys)
    assert result["split"] == "all" and result["samples"] == 60


def test_evaluate_when_the_test_split_was_a_file_of_its_own(tmp_path, capsys, no_figures):
    _csv(tmp_path / "data.csv", 60)
    _csv(tmp_path / "held.csv", 20, seed=3)
    text = small_config(1).replace('name = "moons"\noptions = { n_samples = 60 }', FILE_DATA)
    text = text.replace("test = 0.25", 'test = "held.csv"')
    out = tmp_path / "o"
    assert main(["train", write_config(tmp_path, text), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    model = str(out / "model.safetensors")
    for split in (["--split", "test"], []):
        refused(["evaluate", model, "--data", str(tmp_path / "data.csv"), *split], capsys,
                "data.test", "held-out rows", "--split all")
    result, _ = _evaluate([model, "--data", str(tmp_path / "held.csv")], capsys)
    test = json.loads((out / "metrics.json").read_text())["test"]
    assert result["samples"] == 20 and result["loss"] == pytest.approx(test["loss"], rel=1e-6)


def test_evaluate_split_test_with_a_file_and_a_model_without_train_metadata(tmp_path, capsys):
    net = rb.nn.Sequential(rb.nn.Dense(2, 1, rng=np.random.default_rng(0)))
    path = str(tmp_path / "m.safetensors")
    rb.save(net, path)
    _csv(tmp_path / "d.csv", 10)
    refused(["evaluate", path, "--data", str(tmp_path / "d.csv"), "--target", "label",
             "--split", "test"], capsys, "--split test", "--split all")
    result, _ = _evaluate([path, "--data", str(tmp_path / "d.csv"), "--target", "label"], capsys)
    assert result["split"] == "all" and result["samples"] == 10


def test_a_model_file_with_a_bad_data_sha256_is_refused(own_run, tmp_path, capsys):
    model, _ = own_run
    ckpt = rb.io.load_checkpoint(model)
    meta = dict(ckpt.metadata)
    meta["cli"] = dict(meta["cli"], data_sha256="abc")
    bad = str(tmp_path / "bad.safetensors")
    rb.save(ckpt.model, bad, metadata=meta)
    refused(["evaluate", bad, "--data", str(tmp_path / "data.csv")], capsys,
            "cli.data_sha256", "64 hexadecimal")


def test_evaluate_help_names_the_training_file(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "file it was trained on" in text and "(all of it is evaluated)" not in text


# -- 2-8: the docs say what the code does ------------------------------------------------------
ROOT = Path(__file__).resolve().parents[2]


def _text(relative):
    return (ROOT / relative).read_text(encoding="utf-8")


def test_scale_md_laptop_output_is_the_serial_study_of_n_parallel_2():
    """scale.md section 1 prints the pool's study, which is minimize(..., n_parallel=2) run
    serially; a change to the batch proposals (as d3267c3's) must update the doc."""
    from rosenblatt.tuning import LogUniform, Space, minimize

    doc = _text("docs/scale.md")
    block = re.search(r"```python\n# laptop.py\n(.*?)```", doc, re.S).group(1)
    names = {"__name__": "laptop"}  # defines objective; the pool does not start
    exec(compile(block, "laptop.py", "exec"), names)
    printed = re.search(r"\$ python laptop.py\n9\.0 (\{'lr': [0-9.e-]+\})", doc).group(1)
    serial = re.search(r"gives the serial study, `(\{'lr': [0-9.e-]+\})` here", doc).group(1)
    space = Space({"lr": LogUniform(1e-4, 1e-1)})
    study = minimize(names["objective"], space, n_trials=8, seed=0, n_parallel=2)
    assert repr(study.best_params) == printed
    study = minimize(names["objective"], space, n_trials=8, seed=0)
    assert repr(study.best_params) == serial


def test_readme_quotes_the_reber_tests_seeds():
    readme = " ".join(_text("README.md").split())
    test = _text("tests/nn/test_recurrent_learning.py")
    seeds = int(re.search(r"the test suite runs (\d+) seeds for 40 epochs", readme).group(1))
    assert f"for seed in range(1, {seeds + 1}):" in test
    solved = re.search(r"40 epochs: the LSTM solves (\d+)", readme).group(1)
    assert f"seeds 1-{seeds}: LSTM {solved}" in " ".join(test.split())


def test_fit_docstring_says_which_weights_a_first_epoch_divergence_keeps():
    doc = " ".join(rb.fit.__doc__.split())
    assert "before the step that diverged" not in doc
    assert "within the first epoch, those that gave the lowest batch loss so far" in doc


def _config_block():
    import rosenblatt.cli.config as config

    doc = config.__doc__
    block = doc[doc.index("::\n") + 3:doc.index("Every check names")]
    return textwrap.dedent(block)


@pytest.mark.parametrize("schedule", [False, True])
def test_the_config_key_reference_trains_as_written(tmp_path, capsys, no_figures, schedule):
    text = _config_block()
    assert "metrics = " in text
    if schedule:  # the commented [schedule] instead of optimizer.lr
        text = text.replace("lr = 1e-3                                  # the rest", "# the rest")
        text = re.sub(r"(?m)^# (\[schedule\]|name = \"Cosine\"|lr = |t_max = )", r"\1", text)
        assert "\n[schedule]" in text and "t_max = 3000" in text
    cfg = write_config(tmp_path, text)
    code = main(["train", cfg, "--epochs", "1", "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 0, capsys.readouterr().err


def test_tune_docstring_names_every_tune_key_and_searchable_path():
    import rosenblatt.cli.tune as tune

    doc = tune.__doc__
    for key in tune.TUNE_KEYS:
        assert re.search(rf"(?m)^\s*{key} = |\[tune\.{key}\]", doc), key
    for path in tune.SEARCHABLE:
        assert f"``{path}``" in doc, path


def test_scale_md_runs_config_files_that_ship(tmp_path, capsys):
    doc = _text("docs/scale.md")
    named = set(re.findall(r"[\w./-]+\.toml", doc))
    assert named and all((ROOT / name).is_file() for name in named), named
    assert "examples/cne_pole.toml" in named
    code = main(["evolve", str(ROOT / "examples/cne_pole.toml"), "--generations", "1", "--out",
                 str(tmp_path / "pole")])
    assert code == 0, capsys.readouterr().err


def test_names_in_the_map_and_help_texts(capsys):
    import rosenblatt.evolution as evolution

    row = next(line for line in _text("docs/architecture.md").splitlines()
               if line.startswith("| command line |"))
    for module in ("`data.py`", "`main.py`", "`errors.py`", "`modelfile.py`"):
        assert module in row, module
    assert "FormatError`, of `errors.py`" in _text("docs/architecture.md")
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "checkpoint.safetensors" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    top = " ".join(capsys.readouterr().out.split())
    assert all(word in top.split("positional arguments")[0] for word in ("tune", "evolve",
                                                                          "export"))
    assert "Every algorithm's ``run(fitness" not in evolution.__doc__
    assert "NSGA2.run(objectives" in evolution.__doc__
    assert "rb.nn.DataParallel" not in _text("rosenblatt/models/autoencoder.py")
