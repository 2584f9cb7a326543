"""``rosenblatt evolve``: NEAT, CNE and HyperNEAT runs from TOML configs; config errors."""

import json

import pytest

import rosenblatt as rb
from rosenblatt.cli.main import main


def _write(tmp_path, text):
    path = tmp_path / "run.toml"
    path.write_text(text)
    return str(path)


def test_evolve_neat_xor(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    cfg = _write(tmp_path, 'algorithm = "neat"\ntask = "xor"\ngenerations = 60\nseed = 1\n')
    out = tmp_path / "out"
    assert main(["evolve", cfg, "--out", str(out)]) == 0
    assert "solved xor" in capsys.readouterr().out
    best = rb.evolution.Genome.load(out / "best.json")
    xor = rb.evolution.envs.XOR()
    assert xor.solved(best.network()(xor.X))
    history = json.loads((out / "history.json").read_text())
    assert history["stopped"] and len(history["history"]["species"]) == history["generations"]
    assert (out / "fitness.png").exists() and (out / "champion.png").exists()


def test_evolve_cne_single_pole(tmp_path):
    pytest.importorskip("matplotlib")
    cfg = _write(tmp_path, 'algorithm = "cne"\ntask = "pole1"\ngenerations = 30\nseed = 0\n'
                 '[task_options]\nmax_steps = 2000\n'
                 '[cne]\nhidden = []\npopulation = 50\nmutation_std = 0.5\ninit_std = 3.0\n')
    out = tmp_path / "out"
    assert main(["evolve", cfg, "--out", str(out)]) == 0
    model = rb.load(out / "best.safetensors")
    assert model.num_parameters() == 5
    assert json.loads((out / "history.json").read_text())["best_fitness"] == 2000


def test_evolve_hyperneat_visual(tmp_path):
    pytest.importorskip("matplotlib")
    cfg = _write(tmp_path, 'algorithm = "hyperneat"\ntask = "visual"\ngenerations = 2\n'
                 '[neat]\npopulation = 10\n[hyperneat]\ndeltas = true\n')
    assert main(["evolve", cfg, "--out", str(tmp_path / "o")]) == 0
    assert rb.evolution.Genome.load(tmp_path / "o" / "best.json").n_inputs == 6


@pytest.mark.parametrize("text, message", [
    ('algorithm = "neat"\ntaks = "xor"\n', "unknown key 'taks'"),
    ('algorithm = "sarsa"\n', "algorithm must be one of"),
    ('task = "xor"\n[neat]\nadd_node_rate = 2.0\n', "add_node_rate"),
    ('task = "xor"\n[neat]\npopulaton = 20\n', "did you mean 'population'"),
    ('task = "pole2"\n[task_options]\nmax_step = 10\n', "task_options"),
    ('algorithm = "hyperneat"\ntask = "xor"\n', "visual"),
    ('generations = 0\n', "generations must be a positive integer"),
    ('seed = "abc"\n', "seed must be an integer in [0, 4294967295]; got 'abc'"),
    ('seed = -1\n', "seed must be an integer"),
    ('[output]\ndri = "x"\n', "unknown key 'dri' in [output]"),
    ('[output]\ndir = 3\n', "[output] dir must be a non-empty string"),
])
def test_evolve_config_errors(tmp_path, capsys, text, message):
    cfg = _write(tmp_path, text)
    assert main(["evolve", cfg, "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("algorithm", ["cosyne", "esp"])
def test_evolve_cosyne_and_esp_balance_a_pole(tmp_path, algorithm):
    pytest.importorskip("matplotlib")
    cfg = _write(tmp_path, f'algorithm = "{algorithm}"\ntask = "pole1"\ngenerations = 30\n'
                 f'seed = 0\n[task_options]\nmax_steps = 1000\n[{algorithm}]\nhidden = [4]\n'
                 f'population = 20\n')
    out = tmp_path / "out"
    assert main(["evolve", cfg, "--out", str(out)]) == 0
    model = rb.load(out / "best.safetensors")
    assert model.num_parameters() == 4 * 4 + 4 + 4 + 1
    assert json.loads((out / "history.json").read_text())["best_fitness"] == 1000


def test_evolve_esp_needs_one_hidden_layer(tmp_path, capsys):
    cfg = _write(tmp_path, 'algorithm = "esp"\ntask = "xor"\n[esp]\nhidden = [4, 4]\n')
    assert main(["evolve", cfg, "--out", str(tmp_path / "o")]) == 2
    assert "[esp]" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--generations", "0"], "--generations must be a positive integer; got 0"),
    (["--seed", "-1"], "--seed must be an integer in [0, 4294967295]; got -1"),
])
def test_evolve_flag_errors(tmp_path, capsys, flags, message):
    cfg = _write(tmp_path, 'algorithm = "neat"\ntask = "xor"\n')
    assert main(["evolve", cfg, "--out", str(tmp_path / "o"), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("algorithm, population, options", [
    ("neat", 6, "[task_options]\nresolution = 6\n"),  # the smallest retina: quick
    ("cne", 6, ""), ("cosyne", 8, ""), ("esp", 8, ""),
])
def test_evolve_direct_encodings_on_visual(tmp_path, algorithm, population, options):
    # a direct encoding sees one input per retina cell (the P-NEAT baseline of the paper)
    pytest.importorskip("matplotlib")
    cfg = _write(tmp_path, f'algorithm = "{algorithm}"\ntask = "visual"\ngenerations = 2\n'
                 f'{options}[{algorithm}]\npopulation = {population}\n')
    out = tmp_path / "o"
    assert main(["evolve", cfg, "--out", str(out)]) == 0
    assert json.loads((out / "history.json").read_text())["best_fitness"] > 0
