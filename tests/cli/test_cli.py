"""The rosenblatt command end to end: train, evaluate, predict, datasets, tour; config errors."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.cli import main

from .helpers import write_config as _write

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SMALL = """
seed = 3
[data]
name = "moons"
options = { n_samples = 120 }
test = 0.25
validation = 0.2
[[model.layers]]
type = "Dense"
out_features = 16
[[model.layers]]
type = "Tanh"
[[model.layers]]
type = "Dense"
out_features = 2
[training]
loss = "cross_entropy"
epochs = 40
batch_size = 16
[optimizer]
name = "adam"
lr = 0.02
[regularizers]
L2 = { lam = 1e-4 }
[callbacks]
EarlyStopping = { patience = 50 }
"""



@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small training run shared by the tests that read its outputs."""
    tmp = tmp_path_factory.mktemp("run")
    cfg = _write(tmp, SMALL)
    out = tmp / "out"
    code = main(["train", cfg, "--out", str(out), "--quiet"])
    assert code == 0
    return out


def test_train_writes_model_metrics_and_curve(trained, capsys):
    assert {p.name for p in trained.iterdir()} >= {"model.safetensors", "metrics.json",
                                                    "learning_curve.png"}
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["dataset"] == "moons" and metrics["task"] == "classification"
    assert len(metrics["history"]["loss"]) == 40 == metrics["epochs_run"]
    assert "val_loss" in metrics["history"]
    assert metrics["samples"] == {"train": 72, "validation": 18, "test": 30}
    assert metrics["test"]["accuracy"] > 0.8
    assert (trained / "learning_curve.png").read_bytes().startswith(b"\x89PNG")
    model = rb.load(trained / "model.safetensors")
    assert model.num_parameters() == metrics["parameters"] == 2 * 16 + 16 + 16 * 2 + 2


def test_train_prints_only_a_summary(tmp_path, capsys):
    cfg = _write(tmp_path, SMALL.replace("epochs = 40", "epochs = 2"))
    assert main(["train", cfg, "--out", str(tmp_path / "o"), "--quiet", "--seed", "4"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("test accuracy ") and "trained 2 epochs" in out[0]
    assert out[1] == f"model: {tmp_path / 'o' / 'model.safetensors'}"


def test_evaluate_rebuilds_the_same_test_split(trained, capsys):
    metrics = json.loads((trained / "metrics.json").read_text())
    capsys.readouterr()
    assert main(["evaluate", str(trained / "model.safetensors"), "--data", "moons",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] == 30
    assert result["accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    assert result["loss"] == pytest.approx(metrics["test"]["loss"], rel=1e-5)


def test_evaluate_unknown_dataset_names_the_option(trained, capsys):
    assert main(["evaluate", str(trained / "model.safetensors"), "--data", "nope"]) == 2
    err = capsys.readouterr().err
    assert "option --data: unknown dataset 'nope'; expected one of:" in err


def test_evaluate_a_regression_model_saved_from_python(tmp_path, capsys):
    """No CLI metadata: real-valued targets mean regression (MSE), not classification."""
    rb.seed(0)
    x, y = rb.datasets.load("sine")
    model = rb.nn.Sequential(rb.nn.Dense(1, 16), rb.nn.Tanh(), rb.nn.Dense(16, 1))
    rb.fit(model, x, y, loss="mse", optimizer=rb.optim.Adam(model.parameters(), lr=1e-2),
           epochs=100, batch_size=32, progress=False)
    rb.save(model.eval(), tmp_path / "sine.safetensors")
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "sine.safetensors"), "--data", "sine",
                 "--json"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert "accuracy" not in result
    assert "was not written by `rosenblatt train`" in err
    assert 0 < result["loss"] < 0.1  # the noise (std 0.1) and what 100 epochs leave


def test_predict_npy_and_csv_print_one_line_per_row(trained, tmp_path, capsys):
    x, y = rb.datasets.load("moons", n_samples=120)
    np.save(tmp_path / "x.npy", x[:7])
    np.savetxt(tmp_path / "x.csv", x[:7], delimiter=",", header="a,b", comments="")
    model = str(trained / "model.safetensors")
    capsys.readouterr()
    assert main(["predict", model, str(tmp_path / "x.npy")]) == 0
    from_npy = capsys.readouterr().out
    assert main(["predict", model, str(tmp_path / "x.csv")]) == 0
    from_csv = capsys.readouterr().out
    lines = from_npy.splitlines()
    assert from_npy == from_csv and len(lines) == 7 and set(lines) <= {"0", "1"}
    assert np.mean(np.array(lines, dtype=int) == y[:7]) >= 5 / 7
    assert main(["predict", model, str(tmp_path / "x.npy"), "--proba"]) == 0
    proba = np.array([[float(v) for v in ln.split(",")] for ln in
                      capsys.readouterr().out.splitlines()])
    assert proba.shape == (7, 2) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert list(proba.argmax(axis=1)) == [int(v) for v in lines]


def test_predict_stdout_is_clean_in_a_subprocess(trained, tmp_path):
    x, _ = rb.datasets.load("moons", n_samples=120)
    np.save(tmp_path / "x.npy", x[:3])
    proc = subprocess.run([sys.executable, "-m", "rosenblatt.cli", "predict",
                           str(trained / "model.safetensors"), str(tmp_path / "x.npy")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 3 and proc.stdout.replace("\n", "").isdigit()


def test_predict_errors_are_clean(trained, tmp_path, capsys):
    np.save(tmp_path / "bad.npy", np.ones((2, 5)))
    model = str(trained / "model.safetensors")
    assert main(["predict", model, str(tmp_path / "bad.npy")]) == 2
    err = capsys.readouterr().err
    assert "has 5 features per sample but the model was trained on 2" in err
    assert "Traceback" not in err
    assert main(["predict", model, str(tmp_path / "missing.npy")]) == 2
    assert "input file not found" in capsys.readouterr().err
    (tmp_path / "x.txt.json").write_text("{}")
    assert main(["predict", model, str(tmp_path / "x.txt.json")]) == 2
    assert "INPUT must be a .npy or .csv file" in capsys.readouterr().err
    (tmp_path / "header_only.csv").write_text("a,b\n")
    np.save(tmp_path / "empty.npy", np.ones((0, 2)))
    for name in ("header_only.csv", "empty.npy"):
        assert main(["predict", model, str(tmp_path / name)]) == 2
        assert f"{name} holds no samples" in capsys.readouterr().err
    (tmp_path / "junk.safetensors").write_bytes(b"not a model")
    assert main(["predict", str(tmp_path / "junk.safetensors"), str(tmp_path / "bad.npy")]) == 2
    assert "cannot load model" in capsys.readouterr().err


def test_predict_warns_about_inputs_on_another_scale(trained, tmp_path, capsys):
    x, _ = rb.datasets.load("moons", n_samples=120)
    model = str(trained / "model.safetensors")
    np.save(tmp_path / "ok.npy", x[:20])
    np.save(tmp_path / "scaled.npy", x[:20] * 100)
    assert main(["predict", model, str(tmp_path / "ok.npy")]) == 0
    assert "warning" not in capsys.readouterr().err
    assert main(["predict", model, str(tmp_path / "scaled.npy")]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 20  # stdout holds the predictions only
    assert "warning:" in err and "rb.datasets.load('moons')" in err


def test_datasets_lists_the_registry(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    names = [line.split()[0] for line in out.splitlines()]
    assert {"digits", "xor", "moons", "two_spirals"} <= set(names)


BAD_CONFIGS = [
    ("[data]\nname = 'moons'\n", "config key 'model' is missing"),
    (SMALL.replace("epochs = 40", "epochs = -2"),
     "config key 'training.epochs': expected an integer >= 1; got int -2"),
    (SMALL.replace("epochs = 40", "epochs = '15'"),
     "config key 'training.epochs': expected an integer >= 1; got str"),
    (SMALL.replace("batch_size = 16", "batchsize = 16"),
     "config key 'training.batchsize' is not recognised in [training]; expected one of: loss, "
     "epochs, batch_size"),
    (SMALL.replace('type = "Tanh"', 'type = "Tanhh"'),
     "config key 'model.layers[1].type': unknown layer type 'Tanhh'; expected one of:"),
    (SMALL.replace("out_features = 16", "out_features = 16\nunits = 3"),
     "config key 'model.layers[0]' (Dense): "),
    (SMALL.replace('name = "adam"', 'name = "adamx"'),
     "config key 'optimizer.name': unknown optimizer 'adamx'; expected one of: Adadelta"),
    (SMALL.replace("lr = 0.02", "lr = -1.0"), "config key 'optimizer' (Adam): "),
    (SMALL.replace("lr = 0.02", "lr = 0.02\nmomentum = 0.9"),
     "unexpected keyword argument 'momentum'; Adam accepts: lr, betas, eps"),
    (SMALL.replace("patience = 50", "patiense = 50"),
     "config key 'callbacks.EarlyStopping' (EarlyStopping): EarlyStopping.__init__() got an "
     "unexpected keyword argument 'patiense'; EarlyStopping accepts: monitor, patience"),
    (SMALL.replace('name = "moons"', 'name = "mnist_big"'),
     "config key 'data.name': unknown dataset 'mnist_big'; expected one of:"),
    (SMALL.replace('loss = "cross_entropy"', 'loss = "crossentropy2"'),
     "config key 'training.loss': unknown loss 'crossentropy2'"),
    (SMALL.replace("test = 0.25", "test = 1.5"),
     "config key 'data.test': expected a fraction in [0, 1); got float 1.5"),
    (SMALL.replace("out_features = 2", "out_features = 3"),
     "config key 'model.layers[2]': the model outputs 3 values per sample but dataset 'moons' "
     "has 2 classes"),
    (SMALL.replace("EarlyStopping = { patience = 50 }", "EarlyStopping = 5"),
     "config key 'callbacks.EarlyStopping': expected a table of arguments"),
    (SMALL + "\n[schedule]\nname = 'Cosine'\nlr = 0.1\nt_max = 10\n",
     "config keys 'optimizer.lr' and [schedule] both set the learning rate"),
    ("epoch = 3\n" + SMALL, "config key 'epoch' is not recognised at the top level"),
    ("[data\nname=1", "is not valid TOML"),
]


@pytest.mark.parametrize(("text", "message"), BAD_CONFIGS,
                         ids=[m[:40] for _, m in BAD_CONFIGS])
def test_config_errors_name_the_key_and_exit_2(tmp_path, capsys, text, message):
    cfg = _write(tmp_path, text)
    assert main(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("rosenblatt train: error: ") and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_loss_name_in_another_spelling_is_still_classification(tmp_path, capsys):
    """'CrossEntropy' finds rb.losses.cross_entropy; the task and saved name follow it."""
    cfg = _write(tmp_path, SMALL.replace('loss = "cross_entropy"', 'loss = "CrossEntropy"')
                 .replace("epochs = 40", "epochs = 2"))
    out = tmp_path / "o"
    assert main(["train", cfg, "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "classification" and "accuracy" in metrics["test"]
    ckpt = rb.io.load_checkpoint(out / "model.safetensors")
    assert ckpt.metadata["cli"]["loss"] == "cross_entropy"


def test_abstract_base_classes_are_not_offered(tmp_path, capsys):
    cfg = _write(tmp_path, SMALL.replace('name = "adam"', 'name = "Optimizer"'))
    assert main(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown optimizer 'Optimizer'; expected one of: Adadelta" in err
    assert "Optimizer," not in err and "Optimizer\n" not in err
    cfg = _write(tmp_path, SMALL.replace("L2 = {", "L3 = {"))
    assert main(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown regularizer 'L3'; expected one of: ElasticNet" in err
    assert "Regularizer" not in err
    cfg = _write(tmp_path, SMALL.replace("EarlyStopping = {", "EarlyStoppin = {"))
    assert main(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown callback 'EarlyStoppin'; expected one of: Checkpoint" in err


NO_MATPLOTLIB = textwrap.dedent("""
    import sys
    sys.modules["matplotlib"] = None  # import matplotlib -> ImportError
    from rosenblatt.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_without_matplotlib_train_skips_the_curve_and_tour_stops_early(tmp_path):
    cfg = _write(tmp_path, SMALL.replace("epochs = 40", "epochs = 2"))
    run = subprocess.run([sys.executable, "-c", NO_MATPLOTLIB, "train", cfg, "--out",
                          str(tmp_path / "o"), "--quiet"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "no learning curve" in run.stderr and "rosenblatt[plot]" in run.stderr
    assert "learning curve:" not in run.stdout and "Traceback" not in run.stderr
    assert {p.name for p in (tmp_path / "o").iterdir()} == {"model.safetensors", "metrics.json",
                                                             "checkpoint.safetensors",
                                                             "run_config.json"}
    run = subprocess.run([sys.executable, "-c", NO_MATPLOTLIB, "tour", "--quick", "--only",
                          "perceptron", "--out", str(tmp_path / "t")],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert "need matplotlib: pip install 'rosenblatt[plot]'" in run.stderr
    assert not (tmp_path / "t").exists()


def test_missing_config_file(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nope.toml")]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_tour_quick_only_one_chapter(tmp_path, capsys):
    code = main(["tour", "--quick", "--only", "backprop", "--out", str(tmp_path), "--strict"])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.splitlines()[0] == f"report: {tmp_path / 'report.html'}"
    assert "0 not confirmed" in captured.out
    assert "[1/1] Backpropagation and gradient checking" in captured.err
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 1


def test_tour_strict_exits_1_on_an_unconfirmed_claim(tmp_path, capsys, monkeypatch):
    import rosenblatt.tour as tour_pkg
    from rosenblatt.tour import Chapter

    def chapter_fn(ctx):
        ctx.claim("holds", True)
        ctx.claim("does not hold", False, "the numbers")

    fake = [Chapter("Fake", section="Perceptrons", order=1, fn=chapter_fn, name="fake")]
    monkeypatch.setattr(tour_pkg, "discover", lambda: fake)
    assert main(["tour", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1 confirmed, 1 not confirmed (of 2)" in out
    assert "not confirmed [fake]: does not hold (the numbers)" in out
    assert main(["tour", "--quick", "--out", str(tmp_path), "--strict"]) == 1


def test_tour_unknown_chapter_is_a_usage_error(tmp_path, capsys):
    assert main(["tour", "--only", "no-such-chapter", "--out", str(tmp_path)]) == 2
    assert "no chapter named 'no-such-chapter'" in capsys.readouterr().err


def test_tour_list(capsys):
    assert main(["tour", "--list"]) == 0
    assert "backprop" in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "usage: rosenblatt" in capsys.readouterr().err


@pytest.mark.slow
def test_digits_example_reaches_97_percent(tmp_path, capsys):
    cfg = os.path.join(ROOT, "examples", "digits_mlp.toml")
    assert main(["train", cfg, "--out", str(tmp_path), "--quiet"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.97
    assert metrics["samples"]["test"] == 359


def test_regression_config_train_evaluate_predict(tmp_path, capsys):
    cfg = _write(tmp_path, """
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
        epochs = 60
        [optimizer]
        name = "Adam"
        lr = 0.01
        """)
    out = tmp_path / "o"
    assert main(["train", cfg, "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "regression" and "accuracy" not in metrics["test"]
    assert metrics["test"]["loss"] < 0.05  # noise variance 0.01
    capsys.readouterr()
    assert main(["evaluate", str(out / "model.safetensors"), "--data", "sine", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["loss"] == pytest.approx(metrics["test"]["loss"],
                                                                          rel=1e-5)
    (tmp_path / "x.csv").write_text("x\n0\n1.5707963\n")
    assert main(["predict", str(out / "model.safetensors"), str(tmp_path / "x.csv")]) == 0
    values = [float(v) for v in capsys.readouterr().out.split()]
    assert len(values) == 2 and abs(values[0]) < 0.2 and abs(values[1] - 1) < 0.2


def test_convolutional_config_infers_channels_and_features(tmp_path, capsys):
    cfg = os.path.join(ROOT, "examples", "digits_cnn.toml")
    out = tmp_path / "cnn"
    assert main(["train", cfg, "--out", str(out), "--quiet", "--epochs", "1"]) == 0
    model = rb.load(out / "model.safetensors")
    conv, dense = model[0], model[4]
    assert (conv.in_channels, dense.W.shape) == (1, (16 * 4 * 4, 64))
    x, _ = rb.datasets.load("digits")
    np.save(tmp_path / "x.npy", x[:4].reshape(4, 1, 8, 8))  # images or flat rows both work
    capsys.readouterr()
    assert main(["predict", str(out / "model.safetensors"), str(tmp_path / "x.npy")]) == 0
    assert len(capsys.readouterr().out.split()) == 4


@pytest.mark.parametrize(("change", "message"), [
    ('shape = [1, 8, 8]', "config key 'data.shape': [1, 8, 8] holds 64 values but dataset "
                          "'moons' has 2 features per sample"),
    ('shape = "8x8"', "config key 'data.shape': expected a list of positive integers"),
])
def test_data_shape_errors(tmp_path, capsys, change, message):
    cfg = _write(tmp_path, SMALL.replace("validation = 0.2", f"validation = 0.2\n{change}"))
    assert main(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert message in capsys.readouterr().err


def test_layers_that_do_not_fit_are_a_config_error(tmp_path, capsys):
    cfg = _write(tmp_path, SMALL.replace('type = "Tanh"', 'type = "Dense"\nin_features = 7\n'
                                                          'out_features = 4'))
    assert main(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    # the layer whose in_features is wrong (layers[1]), not the next one (audit s4 #9)
    assert "config key 'model.layers[1]' (Dense): the layers do not fit together" in err


RECURRENT = """
seed = 0
[data]
name = "adding_problem"
options = { n_samples = 40, length = 5 }
test = 0.2
validation = 0.2
standardize = false
shape = [5, 2]
[[model.layers]]
type = "LAYER"
hidden_size = 4
input_size = 2
[[model.layers]]
type = "Dense"
out_features = 1
[training]
loss = "mse"
epochs = 1
batch_size = 8
[optimizer]
name = "Adam"
"""


@pytest.mark.parametrize("layer", ["LSTM", "GRU", "RNN"])
def test_a_recurrent_layer_without_sequence_outputs_is_a_config_error(tmp_path, capsys, layer):
    cfg = _write(tmp_path, RECURRENT.replace("LAYER", layer))
    assert main(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert (f"config key 'model.layers[1]' (Dense): model.layers[0] ({layer}) returns "
            f"(outputs, state); put a SequenceOutputs layer after it (last = true for one "
            f"target per sequence)") in err
    # the last layer returning (outputs, state) is the same mistake
    cfg = _write(tmp_path, RECURRENT.replace("LAYER", layer).split("[[model.layers]]\ntype = "
                                                                   "\"Dense\"")[0]
                 + RECURRENT.split("out_features = 1")[1])
    assert main(["train", cfg, "--out", str(tmp_path / "o2"), "--quiet"]) == 2
    assert (f"config key 'model.layers[0]' ({layer}): the last layer returns (outputs, state)"
            in capsys.readouterr().err)


def test_a_recurrent_layer_with_sequence_outputs_builds():
    from rosenblatt.cli.build import build_model

    layers = [{"type": "LSTM", "input_size": 2, "hidden_size": 4},
              {"type": "SequenceOutputs", "last": True}, {"type": "Dense", "out_features": 1}]
    model = build_model(layers, (5, 2), rng=0)
    assert model(np.zeros((3, 5, 2), np.float32)).shape == (3, 1)


def test_cli_standardizer_agrees_with_rb_datasets():
    from rosenblatt.cli.data import standardizer

    rng = np.random.default_rng(0)
    n = 500
    X = np.c_[rng.normal(size=n), 1e4 + rng.choice([-1, 0, 1], n) * np.spacing(1e4),
              rng.normal(size=n) * 1e-9, np.full(n, 3.0)]  # real but tiny spread; constant
    scaler = rb.datasets.Standardizer().fit(X)
    mean, std = standardizer(X)
    np.testing.assert_allclose(mean, scaler.mean_.ravel())
    np.testing.assert_allclose(std, scaler.std_.ravel())
