"""Two-class models with one output through the CLI: train, tune, evaluate, predict.

binary_cross_entropy (a probability, after a Sigmoid: threshold 0.5),
binary_cross_entropy_with_logits (a logit: threshold 0), hinge and log_loss
(the notes' c = -1/+1: labels 0/1 or -1/+1 in, a score with threshold 0).
"""

import json
import textwrap

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.cli import main
from rosenblatt.cli.train import evaluate_arrays

MOONS = """
seed = 0
[data]
name = "moons"
options = {{ n_samples = 120 }}
[[model.layers]]
type = "Dense"
out_features = 8
[[model.layers]]
type = "Tanh"
[[model.layers]]
type = "Dense"
out_features = {out}
{extra}
[training]
loss = "{loss}"
epochs = 3
[optimizer]
name = "Adam"
lr = 0.05
"""


def _config(tmp_path, loss, out=1, extra="", name="cfg.toml", tail=""):
    path = tmp_path / name
    path.write_text(textwrap.dedent(MOONS.format(loss=loss, out=out, extra=extra)) + tail)
    return str(path)


@pytest.mark.parametrize(("loss", "extra"), [
    ("binary_cross_entropy_with_logits", ""),
    ("binary_cross_entropy", '[[model.layers]]\ntype = "Sigmoid"'),
    ("hinge", ""),
    ("log_loss", ""),
])
def test_train_a_one_output_binary_model_to_the_end(tmp_path, capsys, loss, extra):
    # the (n,) labels meet the (n, 1) outputs in the test evaluation too (it crashed after
    # training, losing the run); hinge/log_loss take the 0/1 labels as -1/+1
    out = tmp_path / "o"
    assert main(["train", _config(tmp_path, loss, extra=extra), "--out", str(out),
                 "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0 and np.isfinite(metrics["test"]["loss"])
    assert "test accuracy" in capsys.readouterr().out
    assert main(["evaluate", str(out / "model.safetensors"), "--data", "moons",
                 "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    assert evaluated["loss"] == pytest.approx(metrics["test"]["loss"], rel=1e-5)


def test_tune_a_one_output_binary_model_to_the_end(tmp_path, capsys):
    tune = ('\n[tune]\nmethod = "random"\nn_trials = 2\n[tune.space]\n'
            '"optimizer.lr" = { type = "loguniform", low = 1e-3, high = 1e-2 }\n')
    cfg = _config(tmp_path, "binary_cross_entropy_with_logits", tail=tune)
    assert main(["tune", cfg, "--out", str(tmp_path / "t")]) == 0
    summary = json.loads((tmp_path / "t" / "tune.json").read_text())
    assert 0.0 <= summary["test"]["accuracy"] <= 1.0


def test_evaluate_arrays_thresholds_by_the_loss():
    # one output of 0.3: a probability 0.3 is class 0; a logit 0.3 is class 1
    model = rb.nn.Sequential(rb.nn.Dense(2, 1, rng=0))
    model[0].W.data[...] = 0.0
    model[0].b.data[...] = 0.3
    x = np.zeros((4, 2), dtype=np.float32)
    y = np.array([0, 0, 1, 1])
    prob = evaluate_arrays(model, x, y, "binary_cross_entropy", "classification")
    logit = evaluate_arrays(model, x, y, "binary_cross_entropy_with_logits", "classification")
    assert prob["accuracy"] == 0.5 and logit["accuracy"] == 0.5
    assert evaluate_arrays(model, x, np.zeros(4, int), "binary_cross_entropy",
                           "classification")["accuracy"] == 1.0
    assert evaluate_arrays(model, x, np.ones(4, int), "binary_cross_entropy_with_logits",
                           "classification")["accuracy"] == 1.0
    assert prob["loss"] == pytest.approx(-np.log(0.7) / 2 - np.log(0.3) / 2, rel=1e-5)


def _saved(tmp_path, loss, bias, sigmoid):
    """A one-output model whose output is the same for every input, saved as train saves."""
    layers = [rb.nn.Dense(2, 1, rng=0)] + ([rb.nn.Sigmoid()] if sigmoid else [])
    model = rb.nn.Sequential(*layers)
    model[0].W.data[...] = 0.0
    model[0].b.data[...] = bias
    meta = {"cli": {"dataset": "moons", "options": {}, "task": "classification", "loss": loss,
                    "seed": 0, "test": 0.2, "validation": 0.1, "classes": 2,
                    "dtype": "float32", "shape": [2], "mean": np.zeros(2), "std": np.ones(2)}}
    path = tmp_path / f"{loss}.safetensors"
    rb.save(model, str(path), metadata=meta)
    return str(path)


@pytest.mark.parametrize(("loss", "bias", "sigmoid", "label", "proba"), [
    # a Sigmoid's probability 0.3: class 0 (not "> 0"), proba 0.7, 0.3
    ("binary_cross_entropy", -0.8472978603872037, True, "0", "0.7,0.3"),
    # a logit of 0.5: class 1, proba 1 - sigmoid(0.5), sigmoid(0.5)
    ("binary_cross_entropy_with_logits", 0.5, False, "1", "0.377541,0.622459"),
    ("log_loss", -0.5, False, "0", "0.622459,0.377541"),
    ("hinge", 0.2, False, "1", None),
])
def test_predict_one_output_binary_models(tmp_path, capsys, loss, bias, sigmoid, label, proba):
    model = _saved(tmp_path, loss, bias, sigmoid)
    inputs = tmp_path / "x.npy"
    np.save(inputs, np.zeros((3, 2)))
    assert main(["predict", model, str(inputs)]) == 0
    assert capsys.readouterr().out.split() == [label] * 3
    if proba is None:  # a hinge model's scores are not probabilities
        assert main(["predict", model, str(inputs), "--proba"]) == 2
        assert "not probabilities" in capsys.readouterr().err
        return
    assert main(["predict", model, str(inputs), "--proba"]) == 0
    assert capsys.readouterr().out.split() == [proba] * 3


def test_hinge_and_log_loss_read_plus_minus_one_labels(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    label = np.where(x[:, 0] > 0, 1, -1)
    rows = "\n".join(f"{a},{b},{c}" for (a, b), c in zip(x, label))
    (tmp_path / "pm1.csv").write_text("a,b,label\n" + rows + "\n")
    for loss in ("hinge", "log_loss"):
        cfg = tmp_path / f"{loss}.toml"
        cfg.write_text(f'seed = 0\n[data]\npath = "pm1.csv"\ntarget = "label"\n'
                       f'[[model.layers]]\ntype = "Dense"\nout_features = 1\n'
                       f'[training]\nloss = "{loss}"\nepochs = 5\n')
        out = tmp_path / loss
        assert main(["train", str(cfg), "--out", str(out), "--quiet"]) == 0
        assert main(["evaluate", str(out / "model.safetensors"), "--data",
                     str(tmp_path / "pm1.csv"), "--json"]) == 0
        capsys.readouterr()


@pytest.mark.parametrize(("loss", "out", "expected"), [
    ("hinge", 2, "training.loss 'hinge' takes one (the score of class 1)"),
    ("binary_cross_entropy_with_logits", 3, "out_features = 1"),
])
def test_two_class_losses_need_one_output(tmp_path, capsys, loss, out, expected):
    cfg = _config(tmp_path, loss, out=out)
    assert main(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_two_class_losses_refuse_more_classes(tmp_path, capsys):
    cfg = tmp_path / "digits.toml"
    cfg.write_text('[data]\nname = "digits"\n[[model.layers]]\ntype = "Dense"\n'
                   'out_features = 1\n[training]\nloss = "hinge"\n')
    assert main(["train", str(cfg), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "training.loss 'hinge' is for two classes" in err, err


def test_cross_entropy_with_one_output_is_refused(tmp_path, capsys):
    # the softmax of one column is 1: the loss is 0 whatever the weights
    cfg = _config(tmp_path, "cross_entropy", out=1)
    assert main(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "outputs 1 values per sample but dataset 'moons' has 2 classes; one output takes a " \
           "two-class loss" in err, err
