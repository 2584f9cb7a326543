"""CLI audit fixes (s9/b1): --resume under a changed config or changed data contents, a
damaged run_config.json, evaluate on a one-output model without train's metadata, a
numbers-only first CSV line, a [callbacks] Checkpoint path onto the config, the data or the
run's files (or empty), tune when its results cannot be written. Each test failed before
its fix (the audit's finding number)."""

import errno
import json

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import nn
from rosenblatt.cli import main

from .helpers import TUNE_TABLE, refused, small_config, write_config


@pytest.fixture
def no_figures(monkeypatch):
    """train's learning curve: not what these tests check, and matplotlib is slow to start."""
    import rosenblatt.cli.train as train_cli

    monkeypatch.setattr(train_cli, "plot_curves", lambda *args: None)


def _train(argv, capsys):
    code = main(["train", *argv, "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out, err


# -- 1: --resume after a change of the optimizer (or any key but training.epochs) -------------
@pytest.mark.parametrize("edit, key", [
    (("lr = 0.02", "lr = 0.2"), "optimizer.lr"),
    (("batch_size = 16", "batch_size = 32"), "training.batch_size"),
    (("[optimizer]", "[regularizers]\nL2 = { lam = 0.1 }\n[optimizer]"), "regularizers"),
])
def test_resume_refuses_a_changed_config(tmp_path, capsys, no_figures, edit, key):
    cfg = write_config(tmp_path, small_config(1))
    out = str(tmp_path / "o")
    _train([cfg, "--out", out], capsys)
    changed = write_config(tmp_path, small_config(1).replace(*edit), "changed.toml")
    refused(["train", changed, "--out", out, "--quiet", "--resume", "--epochs", "2"], capsys,
            "--resume", key, "--overwrite")


def test_resume_names_every_changed_key_and_allows_more_epochs(tmp_path, capsys, no_figures):
    cfg = write_config(tmp_path, small_config(1))
    out = str(tmp_path / "o")
    _train([cfg, "--out", out], capsys)
    both = small_config(1).replace("lr = 0.02", "lr = 0.2").replace("batch_size = 16",
                                                                    "batch_size = 8")
    refused(["train", write_config(tmp_path, both, "b.toml"), "--out", out, "--quiet",
             "--resume"], capsys, "optimizer.lr", "0.02", "0.2", "training.batch_size")
    # training.epochs (in the file or by --epochs) and [output] may change
    more = write_config(tmp_path, small_config(2) + '[output]\ndir = "elsewhere"\n', "m.toml")
    _train([more, "--out", out, "--resume"], capsys)
    record = json.loads((tmp_path / "o" / "run_config.json").read_text())
    assert record["optimizer"]["lr"] == 0.02 and "epochs" not in record["training"]


# -- 2: --resume on a data file whose contents changed ----------------------------------------
def _csv(path, n, scale=1.0, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, 2))
    path.write_text("a,b,label\n" + "".join(f"{scale * a:.5f},{b:.5f},{int(a + b > 0)}\n"
                                            for a, b in x))


def test_resume_refuses_a_data_file_with_other_contents(tmp_path, capsys, no_figures):
    _csv(tmp_path / "data.csv", 60)
    text = small_config(1).replace('name = "moons"\noptions = { n_samples = 60 }',
                                   'path = "data.csv"\ntarget = "label"')
    cfg = write_config(tmp_path, text)
    out = str(tmp_path / "o")
    _train([cfg, "--out", out], capsys)
    _train([cfg, "--out", out, "--resume", "--epochs", "2"], capsys)  # the same file: resumes
    _csv(tmp_path / "data.csv", 80, scale=10.0)  # same name, other rows
    refused(["train", cfg, "--out", out, "--quiet", "--resume", "--epochs", "3"], capsys,
            "--resume", "data.path", "data.csv", "changed since", "--overwrite")


# -- 7: a run_config.json that is JSON but not train's object --------------------------------
@pytest.mark.parametrize("text", ['[1, 2]', '"x"', 'null', '{"seed": 3, "data": "moons"}',
                                  '{"seed": 3, "data": ["moons"]}'])
def test_resume_refuses_a_damaged_run_config(tmp_path, capsys, no_figures, text):
    cfg = write_config(tmp_path, small_config(1))
    out = tmp_path / "o"
    _train([cfg, "--out", str(out)], capsys)
    (out / "run_config.json").write_text(text)
    refused(["train", cfg, "--out", str(out), "--quiet", "--resume", "--epochs", "2"], capsys,
            "run_config.json is damaged", "--overwrite")


def test_resume_of_a_run_that_recorded_seed_and_data_only(tmp_path, capsys, no_figures):
    """run_config.json of an older version (seed and [data]): compared on those alone."""
    cfg = write_config(tmp_path, small_config(1))
    out = tmp_path / "o"
    _train([cfg, "--out", str(out)], capsys)
    record = json.loads((out / "run_config.json").read_text())
    (out / "run_config.json").write_text(json.dumps({"seed": 3, "data": record["data"]}))
    _train([cfg, "--out", str(out), "--resume", "--epochs", "2"], capsys)


# -- 3: evaluate on a one-output model whose file names no loss -------------------------------
def test_evaluate_scores_a_one_output_model_with_binary_cross_entropy(tmp_path, capsys):
    rb.seed(0)
    net = nn.Sequential(nn.Dense(2, 1, rng=np.random.default_rng(0)), nn.Sigmoid())
    path = str(tmp_path / "sig.safetensors")
    rb.save(net, path)
    assert main(["evaluate", path, "--data", "moons", "--split", "all", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    from rosenblatt.cli.data import load_named

    x, y, _, _ = load_named("moons", None, key="--data", seed=0)
    p = net.eval()(rb.tensor(x.astype(np.float32))).data.astype(np.float64).ravel()
    bce = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert result["loss"] == pytest.approx(bce, rel=1e-5) and result["loss"] > 0.1
    assert result["accuracy"] == pytest.approx(np.mean((p > 0.5) == (y == 1)))


def test_default_loss_follows_the_outputs():
    from rosenblatt.cli.train import default_loss

    assert default_loss(np.array([[0.2], [0.9]]), "classification") == "binary_cross_entropy"
    assert default_loss(np.array([[-2.0], [0.9]]), "classification") \
        == "binary_cross_entropy_with_logits"
    assert default_loss(np.zeros((2, 3)), "classification") == "cross_entropy"
    assert default_loss(np.zeros((2, 1)), "regression") == "mse"


# -- 4: a numbers-only first line that permutes the model's numeric column names --------------
@pytest.fixture
def pixels_model(tmp_path):
    """A classifier trained on CSV columns named "0" and "1" (as pixel columns are)."""
    model = nn.Sequential(nn.Dense(2, 2, rng=np.random.default_rng(0)))
    path = str(tmp_path / "model.safetensors")
    rb.save(model.eval(), path, metadata={"cli": dict(
        task="classification", loss="cross_entropy", path=True, target="label",
        columns=["0", "1"])})
    return path


def test_a_first_row_of_binary_features_is_a_sample(tmp_path, capsys, pixels_model):
    rows = "0.5,0.1\n-0.5,0.2\n"
    (tmp_path / "plain.csv").write_text(rows)
    (tmp_path / "first10.csv").write_text("1,0\n" + rows)
    (tmp_path / "one10.csv").write_text("1,0\n")
    assert main(["predict", pixels_model, str(tmp_path / "plain.csv")]) == 0
    plain = capsys.readouterr().out.split()
    assert main(["predict", pixels_model, str(tmp_path / "one10.csv")]) == 0
    one = capsys.readouterr().out.split()
    assert main(["predict", pixels_model, str(tmp_path / "first10.csv")]) == 0
    out, err = capsys.readouterr()
    assert out.split() == one + plain  # three samples, the columns as written
    assert "header" not in err


def test_a_numbers_only_header_is_said_on_stderr(tmp_path, capsys, pixels_model):
    (tmp_path / "named.csv").write_text("0,1\n0.5,0.1\n-0.5,0.2\n")
    assert main(["predict", pixels_model, str(tmp_path / "named.csv")]) == 0
    out, err = capsys.readouterr()
    assert len(out.split()) == 2
    assert "first line '0,1' read as the header" in err and "--no-header" in err
    # --no-header: that line is a sample (the first of three)
    assert main(["predict", pixels_model, str(tmp_path / "named.csv"), "--no-header"]) == 0
    out, err = capsys.readouterr()
    assert len(out.split()) == 3 and "header" not in err


# -- 5, 8: a [callbacks] Checkpoint path ------------------------------------------------------
def _with_checkpoint(tmp_path, path, name="cfg.toml"):
    text = small_config(1).replace('name = "moons"\noptions = { n_samples = 60 }',
                                   'path = "data.csv"\ntarget = "label"')
    return write_config(tmp_path, text + f"[callbacks]\nCheckpoint = {{ path = {path!r} }}\n",
                        name)


@pytest.mark.parametrize("target, what", [
    ("cfg.toml", "the config"), ("data.csv", "data.path"),
    ("o/metrics.json", "the run's metrics.json"),
    ("o/checkpoint.safetensors", "the run's checkpoint.safetensors"),
])
def test_a_checkpoint_path_onto_the_runs_own_files_is_refused(tmp_path, capsys, no_training,
                                                               monkeypatch, target, what):
    monkeypatch.chdir(tmp_path)
    _csv(tmp_path / "data.csv", 60)
    cfg = _with_checkpoint(tmp_path, str(tmp_path / target))
    before = {p: p.read_bytes() for p in tmp_path.glob("*") if p.is_file()}
    refused(["train", cfg, "--out", "o", "--quiet"], capsys,
            "config key 'callbacks.Checkpoint'", what, "overwrite")
    assert {p: p.read_bytes() for p in tmp_path.glob("*") if p.is_file()} == before


def test_a_checkpoint_path_onto_another_file_is_refused(tmp_path, capsys, no_training,
                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    _csv(tmp_path / "data.csv", 60)
    (tmp_path / "notes.txt").write_text("mine")
    refused(["train", _with_checkpoint(tmp_path, "notes.txt"), "--out", "o", "--quiet"],
            capsys, "notes.txt exists and is not a training checkpoint")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_checkpoint_path_of_an_earlier_checkpoint_is_written(tmp_path, capsys, no_figures,
                                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    _csv(tmp_path / "data.csv", 60)
    cfg = _with_checkpoint(tmp_path, "ck.safetensors")
    _train([cfg, "--out", "o"], capsys)
    assert rb.io.load_checkpoint("ck.safetensors").training
    _train([cfg, "--out", "o", "--overwrite"], capsys)  # its own checkpoint: replaced


def test_an_empty_checkpoint_path_is_refused_before_training(tmp_path, capsys, no_training,
                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)
    _csv(tmp_path / "data.csv", 60)
    refused(["train", _with_checkpoint(tmp_path, ""), "--out", "o", "--quiet"], capsys,
            "config key 'callbacks.Checkpoint'", "path is empty")


# -- 6: tune when its study or results cannot be written --------------------------------------
def _full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_tune_says_when_its_results_cannot_be_written(tmp_path, capsys, monkeypatch):
    import rosenblatt.cli.tune as tune_cli

    cfg = write_config(tmp_path, small_config(1) + TUNE_TABLE)
    monkeypatch.setattr(tune_cli, "write_json", _full)
    assert main(["tune", cfg, "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    last = err.splitlines()[-1]  # after the trials' progress lines
    assert "Traceback" not in err and last.startswith("rosenblatt tune: error: cannot write "
                                                      "the results")
    assert "No space left on device" in last and "study.json" in last


def test_tune_says_when_its_study_cannot_be_written(tmp_path, capsys, monkeypatch):
    cfg = write_config(tmp_path, small_config(1) + TUNE_TABLE)
    monkeypatch.setattr(rb.tuning, "tune_fit", _full)
    refused(["tune", cfg, "--out", str(tmp_path / "t")], capsys, "cannot write the study",
            "No space left on device", "run the command again")
