"""The CLI against user errors and hostile files: one line on stderr, exit 2, before training.

Also: divergence (exit 3, the best model so far written), --resume after kill -9 equals an
uninterrupted run, your own data (.csv/.npy/.npz), one log line per epoch without a terminal,
and killed writers of metrics.json / learning_curve.png never leave half a file.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.cli import main
from rosenblatt.cli.train import EXIT_DIVERGED

from .helpers import refused as _refused, write_config as _write

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CONFIG = """
seed = 3
[data]
name = "moons"
options = { n_samples = 120 }
test = 0.25
[[model.layers]]
type = "Dense"
out_features = 8
[[model.layers]]
type = "Tanh"
[[model.layers]]
type = "Dense"
out_features = 2
[training]
epochs = 3
batch_size = 16
[optimizer]
name = "adam"
lr = 0.02
"""



@pytest.fixture
def no_training(monkeypatch):
    """rb.fit fails the test if called: every error below is found before training."""
    def fit(*args, **kwargs):
        raise AssertionError("training started before the user error was found")

    monkeypatch.setattr(rb, "fit", fit)



# -- rosenblatt train: user errors, all before training -------------------------------
@pytest.mark.parametrize(("change", "expected"), [
    (("n_samples = 120", "n_samples = 0"),
     "config key 'data.options.n_samples': expected an integer in [1, 1000000]; got int 0"),
    (("n_samples = 120", "n_samples = -5"), "'data.options.n_samples'"),
    (("n_samples = 120", "n_samples = 300000000"), "got int 300000000"),
    (("n_samples = 120", "n_samples = 1"), "dataset 'moons': bad options"),
    (('name = "moons"\noptions = { n_samples = 120 }',
      'name = "copy_task"\noptions = { n_samples = 100000, length = 50000 }'),
     "config key 'data.options': n_samples 100000 x length 50000 asks for 5e+09 values"),
    (("n_samples = 120", "n_samples = 100, delay = 999999999"),
     "'data.options.delay': expected an integer in [-1000000, 1000000]"),
    (("n_samples = 120", "noise = nan"), "'data.options.noise': expected a finite number"),
    (("out_features = 8", "out_features = 1000000000"),
     "config key 'model.layers[0]' (Dense): the model would need about 44.7 GiB"),
    (("out_features = 8", "out_features = 8\n[[model.layers]]\ntype = 'LSTM'\n"
                          "input_size = 8\nhidden_size = 200000"),
     "config key 'model.layers[1]' (LSTM): the model would need about"),
    (("batch_size = 16", "batch_size = 16\ndivergence_factor = 0.5"),
     "config key 'training.divergence_factor': expected a number > 1, or false"),
    (("lr = 0.02", "lr = 0.02\n[callbacks]\nEarlyStopping = { monitor = 'val_acc' }"),
     "config key 'callbacks.EarlyStopping.monitor': 'val_acc' is not computed in this run; "
     "expected one of: accuracy, loss, lr, time, val_accuracy, val_loss"),
    (("seed = 3", "seed = -1"), "config key 'seed': expected an integer in [0, 4294967295]"),
    (("seed = 3", "seed = 99999999999"), "config key 'seed'"),
])
def test_config_errors_exit_2_before_training(tmp_path, capsys, no_training, change, expected):
    cfg = _write(tmp_path, CONFIG.replace(*change))
    _refused(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"], capsys, expected)
    assert not (tmp_path / "o").exists()  # a refused run leaves no folder behind


@pytest.mark.parametrize(("options", "expected"), [
    (["--seed", "-1"], "--seed must be in [0, 4294967295]; got -1"),
    (["--seed", str(2**40)], "--seed must be in"),
    (["--threads", "0"], "--threads must be in [1, 1024]; got 0"),
    (["--threads", "-3"], "--threads must be in"),
    (["--epochs", "0"], "--epochs must be >= 1"),
])
def test_option_ranges(tmp_path, capsys, no_training, options, expected):
    cfg = _write(tmp_path, CONFIG)
    _refused(["train", cfg, "--out", str(tmp_path / "o"), *options], capsys, expected)


def test_output_folder_that_cannot_be_made_or_written(tmp_path, capsys, no_training):
    cfg = _write(tmp_path, CONFIG)
    (tmp_path / "afile").write_text("x")
    _refused(["train", cfg, "--out", str(tmp_path / "afile")], capsys,
             "option --out:", "exists and is a file, not a folder")
    _refused(["train", cfg, "--out", str(tmp_path / "afile" / "run")], capsys,
             "option --out: cannot create", "afile is a file")
    if sys.platform.startswith("linux"):
        _refused(["train", cfg, "--out", "/proc/rosenblatt-run"], capsys,
                 "option --out: cannot create /proc/rosenblatt-run")
    # the same from the config's output.dir
    cfg = _write(tmp_path, CONFIG + f'\n[output]\ndir = "{tmp_path / "afile"}"\n', "c2.toml")
    _refused(["train", cfg], capsys, "config key 'output.dir':")


def test_checkpoint_folders_are_created_or_refused_up_front(tmp_path, capsys, monkeypatch):
    (tmp_path / "afile").write_text("x")
    bad = _write(tmp_path, CONFIG + f'\n[callbacks]\nCheckpoint = {{ path = '
                                    f'"{tmp_path / "afile" / "c.st"}" }}\n', "bad.toml")
    monkeypatch.setattr(rb, "fit", lambda *a, **k: pytest.fail("trained"))
    _refused(["train", bad, "--out", str(tmp_path / "o")], capsys,
             "config key 'callbacks.Checkpoint':", "afile exists and is a file")
    assert not (tmp_path / "o").exists()
    monkeypatch.undo()
    good = _write(tmp_path, CONFIG + f'\n[callbacks]\nCheckpoint = {{ path = '
                                     f'"{tmp_path / "new" / "deep" / "c.st"}" }}\n', "ok.toml")
    assert main(["train", good, "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert rb.io.load_checkpoint(tmp_path / "new" / "deep" / "c.st").metadata["epoch"] == 3


def test_a_folder_holding_a_run_needs_resume_or_overwrite(tmp_path, capsys):
    cfg = _write(tmp_path, CONFIG)
    out = str(tmp_path / "o")
    assert main(["train", cfg, "--out", out, "--quiet"]) == 0
    first = rb.load(tmp_path / "o" / "model.safetensors").state_dict()
    capsys.readouterr()
    _refused(["train", cfg, "--out", out, "--quiet"], capsys,
             "holds a run already", "use --resume to continue it or --overwrite")
    assert main(["train", cfg, "--out", out, "--quiet", "--overwrite"]) == 0
    again = rb.load(tmp_path / "o" / "model.safetensors").state_dict()
    for name in first:  # the same seed, the same run: nothing was resumed
        np.testing.assert_array_equal(first[name], again[name])
    # --resume continues the finished run up to more epochs
    assert main(["train", cfg, "--out", out, "--quiet", "--resume", "--epochs", "5"]) == 0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["epochs_run"] == 5
    capsys.readouterr()
    with pytest.raises(SystemExit):  # argparse: not both
        main(["train", cfg, "--out", out, "--resume", "--overwrite"])


def test_resume_with_another_architecture_is_refused(tmp_path, capsys):
    cfg = _write(tmp_path, CONFIG)
    out = str(tmp_path / "o")
    assert main(["train", cfg, "--out", out, "--quiet"]) == 0
    capsys.readouterr()
    other = _write(tmp_path, CONFIG.replace("out_features = 8", "out_features = 9"), "b.toml")
    # run_config.json names the layer that changed (before the checkpoint would refuse it)
    _refused(["train", other, "--out", out, "--quiet", "--resume"], capsys,
             "--resume:", "model.layers[0].out_features 8, not 9")


# -- divergence ----------------------------------------------------------------------------
DIVERGING = """
[data]
name = "sine"
options = { n_samples = 200 }
[[model.layers]]
type = "Dense"
out_features = 16
[[model.layers]]
type = "Tanh"
[[model.layers]]
type = "Dense"
out_features = 1
[training]
loss = "mse"
epochs = 20
[optimizer]
name = "SGD"
lr = 3.0
"""


def test_a_late_divergence_writes_the_best_epochs_model(tmp_path, capsys):
    """The learning rate jumps 100x after 150 steps: the model written is the best epoch's."""
    cfg = _write(tmp_path, DIVERGING.replace("epochs = 20", "epochs = 60").replace(
        "lr = 3.0", "\n[schedule]\nname = 'Step'\nlr = 0.1\nstep_size = 150\ngamma = 100.0"))
    out = tmp_path / "o"
    assert main(["train", cfg, "--out", str(out), "--quiet"]) == EXIT_DIVERGED
    metrics = json.loads((out / "metrics.json").read_text())
    best = int(np.argmin(metrics["history"]["loss"]))
    assert metrics["diverged"]["epoch"] >= 29 and best >= 20
    assert f"keeps the weights of epoch {best} (0-based), the best one" in metrics["diverged"][
        "message"]
    assert metrics["test"]["loss"] < 0.3  # the good weights: sine's variance is 0.5


def test_divergence_factor_false_turns_the_growth_check_off(tmp_path, capsys):
    cfg = _write(tmp_path, DIVERGING.replace("epochs = 20", "epochs = 20\n"
                                                             "divergence_factor = false"))
    with np.errstate(all="ignore"):
        assert main(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"]) == EXIT_DIVERGED
    message = json.loads((tmp_path / "o" / "metrics.json").read_text())["diverged"]["message"]
    assert "the loss became" in message and "divergence_factor" not in message  # NaN/inf only


def test_divergence_writes_the_best_model_so_far_and_exits_3(tmp_path, capsys):
    cfg = _write(tmp_path, DIVERGING)
    out = tmp_path / "o"
    assert main(["train", cfg, "--out", str(out), "--quiet"]) == EXIT_DIVERGED == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("rosenblatt train: the loss diverged at epoch 1, batch ")
    assert "try a lower learning rate than optimizer.lr = 3" in err
    assert "wrote the best model so far to" in err
    assert "the lowest batch loss so far" in json.loads(
        (tmp_path / "o" / "metrics.json").read_text())["diverged"]["message"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["diverged"]["loss"] > 1e3 and "divergence_factor" in metrics["diverged"][
        "message"]
    model = rb.load(out / "model.safetensors")
    assert all(np.all(np.isfinite(p.data)) for p in model.parameters())
    assert np.isfinite(metrics["test"]["loss"])


# -- model files: nothing in them is trusted ---------------------------------------------
@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    cfg = _write(tmp, CONFIG)
    assert main(["train", cfg, "--out", str(tmp / "o"), "--quiet"]) == 0
    return tmp / "o" / "model.safetensors"


@pytest.mark.parametrize(("change", "expected"), [
    ({"dtype": "object"}, "metadata key 'cli.dtype': expected 'float32' or 'float64'"),
    ({"dtype": 5}, "metadata key 'cli.dtype'"),
    ({"shape": [100000, 100000]}, "metadata key 'cli.shape'"),
    ({"shape": [3]}, "metadata key 'cli.shape': expected 2 values per sample"),
    ({"shape": "2"}, "metadata key 'cli.shape'"),
    ({"shape": [3], "mean": None, "std": None}, "but the model takes samples of shape (3,)"),
    ({"mean": np.array([np.nan, 0.0])}, "metadata key 'cli.mean': expected a 1-D array"),
    ({"std": np.zeros(2)}, "metadata key 'cli.std': expected positive"),
    ({"std": np.ones(3)}, "metadata key 'cli.std'"),
    ({"loss": "__import__"}, "metadata key 'cli.loss'"),
    ({"loss": "mse"}, "expected a classification loss"),
    ({"task": "hack"}, "metadata key 'cli.task'"),
    ({"target": [1]}, "metadata key 'cli.target'"),
    ({"options": {"n_samples": 300000000}}, "metadata key 'cli.options.n_samples'"),
    ({"options": [1, 2]}, "metadata key 'cli.options'"),
    ({"seed": -4}, "metadata key 'cli.seed'"),
    ({"test": 7.5}, "metadata key 'cli.test'"),
    ({"classes": 10**9}, "metadata key 'cli.classes'"),
])
@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_model_file_metadata_is_checked(model_path, tmp_path, capsys, change, expected,
                                        command):
    ckpt = rb.io.load_checkpoint(model_path)
    meta = dict(ckpt.metadata["cli"], **change)
    hostile = tmp_path / "hostile.safetensors"
    rb.save(ckpt.model, hostile, metadata={"cli": meta})
    np.save(tmp_path / "x.npy", np.zeros((3, 2)))
    argv = ([command, str(hostile), str(tmp_path / "x.npy")] if command == "predict"
            else [command, str(hostile), "--data", "moons"])
    where = (f"model file {hostile}:",) if "metadata key" in expected else ()
    _refused(argv, capsys, *where, expected)


def test_cli_section_of_the_wrong_type(model_path, tmp_path, capsys):
    ckpt = rb.io.load_checkpoint(model_path)
    hostile = tmp_path / "h.safetensors"
    rb.save(ckpt.model, hostile, metadata={"cli": [1, 2, 3]})
    np.save(tmp_path / "x.npy", np.zeros((3, 2)))
    _refused(["predict", str(hostile), str(tmp_path / "x.npy")], capsys,
             "metadata key 'cli.': expected a table")


# -- your own data -----------------------------------------------------------------------------
FILE_CONFIG = """
seed = 1
[data]
path = "{path}"
target = "{target}"
test = {test}
validation = 0.2
[[model.layers]]
type = "Dense"
out_features = 8
[[model.layers]]
type = "Tanh"
[[model.layers]]
type = "Dense"
out_features = 2
[training]
epochs = 30
batch_size = 16
[optimizer]
name = "adam"
lr = 0.05
"""


def _moons_csv(path, delimiter=";", n=160, header=("x1", "x2", "label")):
    x, y = rb.datasets.load("moons", n_samples=n, rng=0)
    rows = [delimiter.join(header)] + [delimiter.join([f"{a:.6f}", f"{b:.6f}", str(int(c))])
                                       for (a, b), c in zip(x, y)]
    path.write_text("\n".join(rows) + "\n")
    return x, y


def test_train_on_a_csv_then_predict_and_evaluate_it(tmp_path, capsys):
    x, y = _moons_csv(tmp_path / "moons.csv")
    cfg = _write(tmp_path, FILE_CONFIG.format(path="moons.csv", target="label", test=0.25))
    out = tmp_path / "o"
    assert main(["train", cfg, "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "moons.csv: 160 rows, 2 features, target 'label', delimiter ';'" in captured.err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "classification" and metrics["test"]["accuracy"] > 0.8
    # predict reads the same file (the target column is left out) and an .npz
    assert main(["predict", str(out / "model.safetensors"), str(tmp_path / "moons.csv")]) == 0
    from_csv = capsys.readouterr().out.split()
    np.savez(tmp_path / "x.npz", X=x)
    assert main(["predict", str(out / "model.safetensors"), str(tmp_path / "x.npz")]) == 0
    assert capsys.readouterr().out.split() == from_csv and len(from_csv) == 160
    assert np.mean(np.array(from_csv, dtype=int) == y) > 0.8
    # evaluate on the training file: its held-out test rows by default (s10/a4 #1), all with
    # --split all
    assert main(["evaluate", str(out / "model.safetensors"), "--data",
                 str(tmp_path / "moons.csv"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] == 40 and result["accuracy"] == metrics["test"]["accuracy"]
    assert main(["evaluate", str(out / "model.safetensors"), "--data",
                 str(tmp_path / "moons.csv"), "--split", "all", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 160


def test_npy_npz_and_a_second_file_for_the_test_split(tmp_path, capsys):
    x, y = rb.datasets.load("moons", n_samples=200, rng=0)
    np.save(tmp_path / "train.npy", np.column_stack([x[:150], y[:150]]))
    np.save(tmp_path / "test.npy", np.column_stack([x[150:], y[150:]]))
    text = FILE_CONFIG.format(path="train.npy", target="T", test='"test.npy"').replace(
        'target = "T"', "target = -1")
    out = tmp_path / "o"
    assert main(["train", _write(tmp_path, text), "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["samples"] == {"train": 120, "validation": 30, "test": 50}
    capsys.readouterr()  # evaluate finds the target column (-1) in the model's metadata
    assert main(["evaluate", str(out / "model.safetensors"), "--data",
                 str(tmp_path / "test.npy"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] == 50 and result["accuracy"] == pytest.approx(
        metrics["test"]["accuracy"])
    np.savez(tmp_path / "d.npz", X=x, y=y)
    text = FILE_CONFIG.format(path="d.npz", target="y", test=0.25)
    assert main(["train", _write(tmp_path, text, "z.toml"), "--out", str(tmp_path / "z"),
                 "--quiet"]) == 0


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda rows: rows.__setitem__(6, "0.1;nan;1"), "moons.csv line 7: an input is missing, "
                                                      "NaN or infinite (column 'x2')"),
    (lambda rows: rows.__setitem__(9, "0.1;;1"), "moons.csv line 10: an input is missing"),
    (lambda rows: (rows.insert(3, ""), rows.__setitem__(7, "0.1;inf;1")),
     "moons.csv line 8: an input is missing"),  # a blank line counts
    (lambda rows: rows.__setitem__(4, "0.1;0.2;-1"), "moons.csv line 5: target 'label' is -1; "
                                                       "class labels must be 0, 1, 2"),
    (lambda rows: rows.__setitem__(3, "0.1;0.2;0.5"), "moons.csv line 4: target 'label' is 0.5, "
                                                        "not a class index"),
    (lambda rows: rows.__setitem__(8, "0.1;abc;1"), "moons.csv line 9, column 'x2': 'abc' is "
                                                      "not a number"),
    (lambda rows: rows.__setitem__(2, "0.1;0.2"), "moons.csv line 3: 2 fields, but the header "
                                                    "has 3 (delimiter ';')"),
])
def test_bad_rows_are_reported_at_their_line(tmp_path, capsys, no_training, edit, expected):
    _moons_csv(tmp_path / "moons.csv")
    rows = (tmp_path / "moons.csv").read_text().splitlines()
    edit(rows)
    (tmp_path / "moons.csv").write_text("\n".join(rows) + "\n")
    cfg = _write(tmp_path, FILE_CONFIG.format(path="moons.csv", target="label", test=0.25))
    _refused(["train", cfg, "--out", str(tmp_path / "o")], capsys, expected)


@pytest.mark.parametrize(("target", "expected"), [
    ("species", "config key 'data.target': no column 'species' in"),
    ("", "config key 'data.target': expected a column name"),
])
def test_bad_target_column(tmp_path, capsys, no_training, target, expected):
    _moons_csv(tmp_path / "moons.csv", delimiter=",")
    cfg = _write(tmp_path, FILE_CONFIG.format(path="moons.csv", target=target, test=0.25))
    _refused(["train", cfg, "--out", str(tmp_path / "o")], capsys, expected)


def test_missing_data_file_and_name_with_path(tmp_path, capsys, no_training):
    cfg = _write(tmp_path, FILE_CONFIG.format(path="nope.csv", target="y", test=0.25))
    _refused(["train", cfg, "--out", str(tmp_path / "o")], capsys, "data file not found:")
    cfg = _write(tmp_path, CONFIG.replace('name = "moons"', 'name = "moons"\npath = "a.csv"'))
    _refused(["train", cfg, "--out", str(tmp_path / "o")], capsys,
             "config keys 'data.name' and 'data.path' both give the data")


# -- runs without a terminal; resume after kill -9 ------------------------------------------
KILL_AT_STEP = textwrap.dedent("""
    import os, signal, sys
    import rosenblatt.training.trainer as trainer
    step, count = trainer.Trainer._step, [0]
    def killing_step(self, *args):
        count[0] += 1
        if count[0] == int(os.environ["KILL_AT"]):
            os.kill(os.getpid(), signal.SIGKILL)
        return step(self, *args)
    trainer.Trainer._step = killing_step
    from rosenblatt.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def _history(out):
    hist = json.loads((out / "metrics.json").read_text())["history"]
    return {k: v for k, v in hist.items() if k != "time"}


def test_resume_after_kill_9_equals_the_uninterrupted_run(tmp_path, capsys):
    cfg = _write(tmp_path, CONFIG.replace("epochs = 3", "epochs = 6"))
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert main(["train", cfg, "--out", str(whole), "--quiet"]) == 0
    # 6 batches per epoch: killed in the middle of epoch 4, after epoch 3's checkpoint
    env = dict(os.environ, KILL_AT="22", PYTHONPATH=ROOT)
    run = subprocess.run([sys.executable, "-c", KILL_AT_STEP, "train", cfg, "--out",
                          str(killed)], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == -signal.SIGKILL
    # stderr is not a terminal: one line per epoch, the three it finished
    lines = run.stderr.splitlines()
    assert [ln.split("  ")[0] for ln in lines] == ["epoch 1/6", "epoch 2/6", "epoch 3/6"]
    assert all(" loss " in ln and " accuracy " in ln for ln in lines)
    assert not (killed / "model.safetensors").exists()
    assert rb.io.load_checkpoint(killed / "checkpoint.safetensors").metadata["epoch"] == 3
    assert main(["train", cfg, "--out", str(killed), "--quiet", "--resume"]) == 0
    a, b = rb.load(whole / "model.safetensors"), rb.load(killed / "model.safetensors")
    for (name, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(p, q, err_msg=name)  # bit for bit
    assert _history(whole) == _history(killed)


WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from rosenblatt.cli.train import plot_curves, write_json
    folder = sys.argv[1]
    i = 0
    while True:
        n = 5 if i % 2 else 4000
        hist = {"loss": list(np.linspace(1, 0.1, n)), "val_loss": list(np.linspace(1, 0.2, n))}
        write_json(folder + "/metrics.json", {"i": i, "history": hist})
        plot_curves(hist, folder + "/learning_curve.png", f"run {i}")
        if i == 0:
            print("ready", flush=True)
        i += 1
""")


@pytest.mark.slow
def test_killed_metrics_and_curve_writers_leave_whole_files(tmp_path):
    rng = np.random.default_rng(0)
    env = dict(os.environ, PYTHONPATH=ROOT)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)],
                                stdout=subprocess.PIPE, text=True, env=env)
        try:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
        # never half a file: the JSON parses, the PNG ends with its IEND chunk
        assert isinstance(json.loads((tmp_path / "metrics.json").read_bytes())["i"], int)
        png = (tmp_path / "learning_curve.png").read_bytes()
        assert png.startswith(b"\x89PNG") and png.endswith(b"IEND\xaeB`\x82")


def _bomb(path):
    """An .npz whose header claims a 80 GB array (a few bytes on disk)."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (100000, 100000)})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", header.getvalue())


@pytest.mark.parametrize(("name", "make", "expected"), [
    ("g.npy", lambda p: p.write_bytes(b"garbage"), "not a NumPy .npy file"),
    ("g.npz", lambda p: p.write_bytes(b"garbage"), "not a NumPy .npz file"),
    ("bomb.npz", _bomb, "array 'X.npy' would take 76294 MiB (at most 2048)"),
    ("s.npy", lambda p: np.save(p, np.array(["a", "b"])), "holds <U1, not numbers"),
    ("one.npy", lambda p: np.save(p, np.float64(3)), "holds a single number"),
    ("x.csv", lambda p: p.write_text("a,b\n1,2\n3,x\n"), "x.csv line 3, column 'b': 'x' is not"),
    ("n.csv", lambda p: p.write_text("a;b\n1;2\n3;nan\n"), "n.csv line 3: an input is missing"),
    ("u.csv", lambda p: p.write_bytes(b"\xff\xfe\x00"), "is not a UTF-8 text file"),
    ("dir.csv", lambda p: p.mkdir(), "data path is a directory"),
])
def test_hostile_predict_inputs(model_path, tmp_path, capsys, name, make, expected):
    make(tmp_path / name)
    _refused(["predict", str(model_path), str(tmp_path / name)], capsys, expected)


# -- user errors found before any work: configs, options, data (audit) ---------------
def test_config_that_is_not_utf8_is_one_line_for_train_and_tune(tmp_path, capsys, no_training):
    cfg = tmp_path / "latin1.toml"
    cfg.write_bytes(CONFIG.replace("seed = 3", "seed = 3\n# caf\xe9").encode("latin-1"))
    for command in ("train", "tune"):
        _refused([command, str(cfg), "--out", str(tmp_path / "o")], capsys,
                 "latin1.toml is not a UTF-8 text file")


TUNE = CONFIG.replace("test = 0.25", "test = 0.25\nvalidation = 0.2") + """
[tune]
method = "random"
n_trials = 2
[tune.space]
"optimizer.lr" = { type = "loguniform", low = 1e-3, high = 1e-2 }
"""


def test_tune_output_folder_config_path_and_threads(tmp_path, capsys, monkeypatch):
    def no_trials(*args, **kwargs):
        raise AssertionError("the study started before the user error was found")

    monkeypatch.setattr(rb.tuning, "tune_fit", no_trials)
    cfg = _write(tmp_path, TUNE)
    (tmp_path / "afile").write_text("x")
    _refused(["tune", cfg, "--out", str(tmp_path / "afile")], capsys,
             "option --out:", "exists and is a file, not a folder")
    if sys.platform.startswith("linux"):
        _refused(["tune", cfg, "--out", "/proc/rosenblatt-tune"], capsys,
                 "option --out: cannot create /proc/rosenblatt-tune")
    _refused(["tune", str(tmp_path)], capsys, "config path is a directory")
    for n in ("0", "-1"):
        _refused(["tune", cfg, "--threads", n], capsys, f"--threads must be in [1, 1024]; got {n}")


def test_tour_out_that_cannot_be_written_is_refused_before_any_chapter(tmp_path, capsys,
                                                                        monkeypatch):
    import rosenblatt.tour as tour_pkg

    def no_chapters(*args, **kwargs):
        raise AssertionError("a chapter ran before the user error was found")

    monkeypatch.setattr(tour_pkg, "run_tour", no_chapters)
    (tmp_path / "afile").write_text("x")
    _refused(["tour", "--quick", "--out", str(tmp_path / "afile")], capsys,
             "option --out:", "exists and is a file, not a folder")
    _refused(["tour", "--quick", "--out", str(tmp_path / "afile" / "sub")], capsys,
             "option --out: cannot create", "afile is a file")
    if sys.platform.startswith("linux"):
        _refused(["tour", "--quick", "--out", "/proc/rosenblatt-tour"], capsys,
                 "option --out: cannot create /proc/rosenblatt-tour")
    _refused(["tour", "--quick", "--threads", "-1", "--out", str(tmp_path / "t")], capsys,
             "--threads must be >= 0 (0: NumPy's default); got -1")
    # refused options leave no empty output folder behind
    for argv, message in ((["--only", "bogus"], "no chapter named 'bogus'"),
                          (["--seed", "-1"], "--seed must be in [0, 4294967295]"),
                          (["--workers", "0"], "--workers must be a positive integer")):
        _refused(["tour", "--quick", *argv, "--out", str(tmp_path / "new" / "sub")], capsys,
                 message)
        assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(("text", "expected"), [
    # real-valued targets with a class-label loss trained silently at loss 0
    ('[data]\nname = "sine"\n[[model.layers]]\ntype = "Dense"\nout_features = 1\n'
     '[training]\nloss = "cross_entropy"\n',
     "dataset 'sine' sample 0: the target is -0.151328, not a class index; training.loss "
     "'cross_entropy' needs class labels"),
    # no training samples left after the splits (a named dataset)
    ('[data]\nname = "xor"\ntest = 0.99\n[[model.layers]]\ntype = "Dense"\nout_features = 2\n',
     "dataset 'xor': no training samples left after the test and validation splits"),
    ('[data]\nname = "moons"\n[[model.layers]]\ntype = "Dense"\nout_features = 2\n'
     '[training]\nmetrics = ["accuracy", "mae"]\n',
     "config key 'training.metrics': 'mae' measures the error of real-valued outputs"),
    ('[data]\nname = "moons"\n[[model.layers]]\ntype = "Dense"\nout_features = 2\n'
     '[training]\nmetrics = ["nope"]\n',
     "config key 'training.metrics': unknown metric 'nope'"),
    ('[data]\nname = "moons"\n[[model.layers]]\ntype = "Dense"\nout_features = 2\n'
     '[optimizer]\nname = "Rprop"\n[schedule]\nname = "Cosine"\nlr = 0.1\nt_max = 100\n',
     "config table [schedule]: Rprop has no learning rate to schedule"),
    ('[data]\nname = "moons"\n[[model.layers]]\ntype = "Dense"\nout_features = 2\n'
     '[callbacks]\nLambdaCallback = true\n',
     "config key 'callbacks.LambdaCallback': LambdaCallback takes Python functions"),
    ('[data]\nname = "moons"\n[[model.layers]]\ntype = "Dense"\nout_features = 2\n'
     '[callbacks]\nLearningRateScheduler = { schedule = "Cosine" }\n',
     "LearningRateScheduler takes Python functions, which a TOML config cannot give; give "
     "the schedule as a [schedule] table"),
])
def test_more_config_errors_before_training(tmp_path, capsys, no_training, text, expected):
    cfg = _write(tmp_path, text)
    _refused(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"], capsys, expected)
    assert not (tmp_path / "o").exists()


def test_regression_metrics_are_computed_and_monitored(tmp_path, capsys):
    cfg = _write(tmp_path, '[data]\nname = "sine"\n[[model.layers]]\ntype = "Dense"\n'
                           'out_features = 1\n[training]\nloss = "mse"\nepochs = 2\n'
                           'metrics = ["mae", "mse"]\n[callbacks]\n'
                           'EarlyStopping = { monitor = "val_mae" }\n')
    assert main(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"]) == 0
    history = json.loads((tmp_path / "o" / "metrics.json").read_text())["history"]
    assert {"mae", "mse", "val_mae", "val_mse"} <= set(history)


def test_memory_estimate_counts_at_most_the_training_samples(tmp_path, monkeypatch):
    # a batch_size past the data is one batch of the training split, not 1e12 samples
    from rosenblatt.cli import build

    class Started(Exception):
        pass

    seen = {}
    real = build.build_model

    def spy(*args, **kwargs):
        seen["batch_size"] = kwargs["batch_size"]
        return real(*args, **kwargs)

    def fit(*args, **kwargs):
        raise Started

    monkeypatch.setattr(build, "build_model", spy)
    monkeypatch.setattr(rb, "fit", fit)
    cfg = _write(tmp_path, CONFIG.replace("batch_size = 16", "batch_size = 1000000000000"))
    with pytest.raises(Started):
        main(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"])
    assert seen["batch_size"] == 81  # 120 - 30 test - 9 validation


@pytest.mark.parametrize(("name", "write", "expected"), [
    ("scalarX.npz", lambda p: np.savez(p, X=np.float64(1.0), y=np.arange(3)),
     "scalarX.npz: array 'X' holds a single number, not one value per sample"),
    ("scalary.npz", lambda p: np.savez(p, X=np.ones((3, 2)), y=np.int64(1)),
     "scalary.npz: array 'y' holds a single number"),
    ("yuint.npz", lambda p: np.savez(p, X=np.ones((4, 2)),
                                     y=np.array([0, 1, 0, 2**64 - 1], dtype=np.uint64)),
     "yuint.npz row 3: target 'y' is 18446744073709551615; class labels must be"),
    ("onecol.csv", lambda p: p.write_text("label\n0\n1\n0\n1\n"),
     "onecol.csv has no feature columns: only the target 'label'"),
])
def test_more_hostile_data_files(tmp_path, capsys, no_training, name, write, expected):
    write(tmp_path / name)
    target = "y" if name.endswith(".npz") else "label"
    cfg = _write(tmp_path, f'[data]\npath = "{name}"\ntarget = "{target}"\n'
                           f'[[model.layers]]\ntype = "Dense"\nout_features = 2\n')
    _refused(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"], capsys, expected)


def _huge_csv(path, scale):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 2))
    rows = "\n".join(f"{float(a * scale)!r},{float(b * scale)!r},{int(a > 0)}" for a, b in x)
    path.write_text("a,b,label\n" + rows + "\n")


def test_huge_inputs_are_standardised_in_float64(tmp_path, capsys):
    # 1e200: the squares overflow; the std was inf and every input 0
    _huge_csv(tmp_path / "huge.csv", 1e200)
    cfg = _write(tmp_path, '[data]\npath = "huge.csv"\ntarget = "label"\n[[model.layers]]\n'
                           'type = "Dense"\nout_features = 2\n[training]\nepochs = 30\n'
                           '[optimizer]\nname = "Adam"\nlr = 0.05\n')
    assert main(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"]) == 0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.9  # the label is the sign of column a
    meta = rb.io.load_checkpoint(str(tmp_path / "o" / "model.safetensors")).metadata
    assert np.all(np.isfinite(meta["cli"]["std"])) and np.all(meta["cli"]["std"] > 1e199)


def test_unstandardised_inputs_beyond_float32_are_refused(tmp_path, capsys, no_training):
    _huge_csv(tmp_path / "big.csv", 1e50)
    cfg = _write(tmp_path, '[data]\npath = "big.csv"\ntarget = "label"\nstandardize = false\n'
                           '[[model.layers]]\ntype = "Dense"\nout_features = 2\n')
    _refused(["train", cfg, "--out", str(tmp_path / "o")], capsys,
             "big.csv line 2: input 'a' is", "beyond float32",
             "set data.standardize = true or model.dtype = \"float64\"")
