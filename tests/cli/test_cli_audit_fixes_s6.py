"""CLI audit fixes (s6/a2): the abstract Schedule is no choice, evolve refuses a folder that
holds a run, a damaged checkpoint is told apart from another run's, a class missing from the
training split is named as such, export prints the graph's own input dims. Each test failed
before its fix (the audit's finding number)."""

import json
import os

import pytest

import rosenblatt as rb
from rosenblatt.cli import main

from .helpers import TUNE_TABLE, refused, small_config, write_config

SMALL = small_config(2)


# -- 1: the abstract base class Schedule is no schedule -----------------------------------------
@pytest.mark.parametrize("command", ["train", "tune"])
def test_schedule_base_class_is_refused_and_not_offered(tmp_path, capsys, no_training, command):
    text = SMALL + '[schedule]\nname = "Schedule"\n' + (TUNE_TABLE if command == "tune" else "")
    err = refused([command, write_config(tmp_path, text), "--out", str(tmp_path / "o")],
                  capsys, "schedule.name", "unknown schedule 'Schedule'", "Cosine")
    assert "Schedule," not in err and not err.rstrip().endswith("Schedule")


def test_schedules_are_still_found_by_name():
    from rosenblatt.cli.build import build_schedule

    assert isinstance(build_schedule({"name": "cosine", "lr": 0.1, "t_max": 10}),
                      rb.optim.schedules.Cosine)


# -- 2: evolve into a folder that holds a run --------------------------------------------------
NEAT = 'algorithm = "neat"\ntask = "xor"\ngenerations = 1\nseed = 0\n[neat]\npopulation = 10\n'
CNE = ('algorithm = "cne"\ntask = "xor"\ngenerations = 1\nseed = 0\n'
       '[cne]\npopulation = 6\nhidden = [2]\n')


def test_evolve_refuses_a_folder_that_holds_a_run_unless_overwrite(tmp_path, capsys,
                                                                  monkeypatch):
    import rosenblatt.cli.evolve as evolve_cli

    monkeypatch.setattr(evolve_cli, "plot", lambda *args: None)  # figures: not what is tested
    out = tmp_path / "o"
    neat = write_config(tmp_path, NEAT, "neat.toml")
    cne = write_config(tmp_path, CNE, "cne.toml")
    assert main(["evolve", neat, "--out", str(out)]) == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    refused(["evolve", cne, "--out", str(out)], capsys, f"{out} holds a run already",
            "best.json", "history.json", "--overwrite")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing touched
    assert main(["evolve", cne, "--out", str(out), "--overwrite"]) == 0
    names = sorted(os.listdir(out))
    assert "best.json" not in names and "champion.png" not in names  # NEAT's: removed
    assert "best.safetensors" in names
    assert json.loads((out / "history.json").read_text())["algorithm"] == "cne"


def test_evolve_into_a_folder_without_results_runs(tmp_path, capsys, monkeypatch):
    import rosenblatt.cli.evolve as evolve_cli

    monkeypatch.setattr(evolve_cli, "plot", lambda *args: None)
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["evolve", write_config(tmp_path, CNE), "--out", str(out)]) == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "best.safetensors").exists()


def test_evolve_help_names_overwrite(capsys):
    with pytest.raises(SystemExit):
        main(["evolve", "--help"])
    assert "--overwrite" in capsys.readouterr().out


# -- 3: a damaged checkpoint is not "another config's" -----------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    cfg = write_config(folder, SMALL)
    assert main(["train", cfg, "--out", str(folder / "o"), "--quiet"]) == 0
    return folder, cfg, (folder / "o" / "checkpoint.safetensors").read_bytes()


@pytest.mark.parametrize("damage, reason", [
    (lambda b: b[:-7], "do not fit"),
    (lambda b: b"", "file too short"),
    (lambda b: b[:8] + b"x" + b[9:], "JSON"),
])
def test_resume_from_a_damaged_checkpoint_says_so(trained, tmp_path, capsys, damage, reason):
    folder, cfg, checkpoint = trained
    out = tmp_path / "o"
    out.mkdir()
    (out / "checkpoint.safetensors").write_bytes(damage(checkpoint))
    err = refused(["train", cfg, "--out", str(out), "--resume", "--quiet"], capsys,
                  "--resume", "is damaged or not a checkpoint", reason, "--overwrite")
    assert "does not belong" not in err


def test_resume_from_another_configs_checkpoint_still_says_so(trained, tmp_path, capsys):
    folder, cfg, checkpoint = trained
    out = tmp_path / "o"
    out.mkdir()
    (out / "checkpoint.safetensors").write_bytes(checkpoint)
    wider = write_config(tmp_path, SMALL.replace("out_features = 4", "out_features = 5"))
    err = refused(["train", wider, "--out", str(out), "--resume", "--quiet"], capsys,
                  "does not belong to this config")
    assert "damaged" not in err


# -- 4: a class missing from the training split ------------------------------------------------
SPIRALS = """
seed = 1
[data]
name = "two_spirals"
test = 0.25
validation = 0.99
[[model.layers]]
type = "Dense"
out_features = 2
[training]
epochs = 1
[optimizer]
name = "adam"
"""


def test_a_class_missing_from_the_training_split_is_named_as_such(tmp_path, capsys,
                                                                  no_training):
    err = refused(["train", write_config(tmp_path, SPIRALS), "--out", str(tmp_path / "o")],
                  capsys, "validation split", "the training split holds only class 0 ",
                  "the model outputs 2 values per sample", "a smaller data.validation")
    assert "has 1 classes" not in err


def test_wrong_output_count_still_names_the_datasets_classes(tmp_path, capsys, no_training):
    text = SMALL.replace("out_features = 2", "out_features = 3")
    refused(["train", write_config(tmp_path, text), "--out", str(tmp_path / "o")], capsys,
            "model.layers[2]", "outputs 3 values per sample", "dataset 'moons' has 2 classes")


# -- 7: export prints the graph's input dims ---------------------------------------------------
def test_export_summary_prints_the_graphs_dynamic_axes(tmp_path, capsys):
    pytest.importorskip("onnx")
    model = rb.nn.Sequential(rb.nn.GRU(2, 3, rng=0), rb.nn.SequenceOutputs(last=True),
                             rb.nn.Dense(3, 1, rng=0))
    rb.save(model, tmp_path / "g.safetensors")
    argv = ["export", str(tmp_path / "g.safetensors"), str(tmp_path / "g.onnx"),
            "--input-shape", "10,2"]
    assert main(argv + ["--dynamic-axes", "0,1"]) == 0
    assert "input input (batch, time, 2) float32" in capsys.readouterr().out
    assert main(argv) == 0
    assert "input input (batch, 10, 2) float32" in capsys.readouterr().out
    assert main(argv + ["--dynamic-axes", ""]) == 0
    assert "input input (1, 10, 2) float32" in capsys.readouterr().out
