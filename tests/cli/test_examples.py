"""The example configs of examples/ run as their comments say (small budgets here)."""

import json
import os

from rosenblatt.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def example(name):
    return os.path.join(ROOT, "examples", name)


def test_neat_xor_example_evolves_and_writes_its_files(tmp_path, capsys):
    out = tmp_path / "neat"
    assert main(["evolve", example("neat_xor.toml"), "--generations", "3",
                 "--out", str(out)]) == 0
    assert {"best.json", "history.json", "fitness.png", "champion.png"} <= set(os.listdir(out))
    assert json.loads((out / "history.json").read_text())["generations"] == 3


def test_digits_tune_example_searches_and_writes_its_files(tmp_path, capsys):
    out = tmp_path / "tune"
    assert main(["tune", example("digits_tune.toml"), "--trials", "2", "--epochs", "1",
                 "--out", str(out), "--threads", "1"]) == 0
    study = json.loads((out / "study.json").read_text())
    assert len(study["trials"]) == 2
    assert {"trials.csv", "tune.json", "model.safetensors"} <= set(os.listdir(out))
