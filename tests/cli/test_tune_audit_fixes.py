"""`rosenblatt tune`: fixes from audit a1 (the CLI side of the tuning package)."""

import json

import rosenblatt as rb
from rosenblatt.cli.main import main

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
epochs = 3
batch_size = 8
metrics = ["accuracy"]
[tune]
method = "random"
n_trials = 2
metric = "val_accuracy"
[tune.space]
"optimizer.lr" = { type = "loguniform", low = 1e-3, high = 1e-1 }
"""


def test_tune_json_reports_the_metric_not_the_negated_objective(tmp_path, capsys):
    """Audit a1 #11: the study minimises -accuracy; tune.json and the model's metadata
    report the best val_accuracy itself, as the printed line does."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(XOR)
    out = tmp_path / "run"
    assert main(["tune", str(cfg), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    study = rb.tuning.Study.load(out / "study.json")
    accuracy = -study.best_value
    assert 0 <= accuracy <= 1
    summary = json.loads((out / "tune.json").read_text())
    assert summary["metric"] == "val_accuracy"
    assert summary["best_value"] == accuracy
    assert f"best val_accuracy {accuracy:.4f}" in printed
    meta = rb.load(out / "model.safetensors", with_extras=True).metadata
    assert meta["tune"]["best_value"] == accuracy and meta["tune"]["metric"] == "val_accuracy"
