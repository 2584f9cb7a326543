"""Documentation and examples audit (s12/a5): the README's and docs' snippets, the example
configs and docs/build_api.py do what the text says. The ``test_finding_*`` tests failed before
the fix of the audit's finding (its number in the comment above each); the others keep the
documented snippets and examples running (each at a small budget)."""

import importlib.util
import json
import os
import re
import sys

import pytest

from rosenblatt.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def _build_api():
    spec = importlib.util.spec_from_file_location("build_api_s12",
                                                  os.path.join(ROOT, "docs", "build_api.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def no_figures(monkeypatch):
    """train's learning curve: not what these tests check, and matplotlib is slow to start."""
    import rosenblatt.cli.train as train_cli

    monkeypatch.setattr(train_cli, "plot_curves", lambda *args: None)


# -- finding 1: build_api.py --all rendered fewer pages than the public build ----------------------
def test_finding_build_api_all_names_every_module(monkeypatch):
    api = _build_api()
    modules = api.all_modules()
    for name in ("rosenblatt", "rosenblatt.nn.conv", "rosenblatt.evolution.neat",
                 "rosenblatt.cli.train", "rosenblatt.sklearn", "rosenblatt.training.distributed",
                 "rosenblatt.tour.chapters.perceptron"):
        assert name in modules
    assert not [m for m in modules if any(p.startswith("_") for p in m.split("."))]
    assert set(api.PUBLIC) - {"!rosenblatt\\..*"} <= set(modules)
    seen = {}
    monkeypatch.setattr(api, "build", lambda out, modules, strict: seen.setdefault("m", modules)
                        and [])
    api.main(["--all", "--out", "unused"])
    assert seen["m"] == modules


# -- finding 2: build_api.py without pdoc was a traceback ----------------------------------------
def test_finding_build_api_without_pdoc_says_what_to_install(monkeypatch, capsys):
    api = _build_api()
    monkeypatch.setitem(sys.modules, "pdoc", None)  # `import pdoc` raises ModuleNotFoundError
    with pytest.raises(SystemExit) as e:
        api.main(["--out", "unused"])
    assert "pip install pdoc" in str(e.value.code)
    with pytest.raises(ModuleNotFoundError, match="pip install pdoc"):
        api.build("unused")


# -- finding 4: `evolve --workers` was said to send genome JSON; the CLI sends flat arrays -------
def test_finding_evolve_sends_genomes_as_flat_arrays_as_the_docs_say(tmp_path, monkeypatch):
    import concurrent.futures
    import contextlib

    import numpy as np

    import rosenblatt.cli.evolve as evolve_cli

    sent = []

    class Recording(concurrent.futures.ThreadPoolExecutor):
        def submit(self, fn, *args, **kwargs):
            sent.extend(item[-1] for item in args[-1])  # map_chunks: (stream, j, part) items
            return super().submit(fn, *args, **kwargs)

    @contextlib.contextmanager
    def recording(args, command):
        with Recording(2) as pool:
            yield pool

    monkeypatch.setattr(evolve_cli, "executor_for", recording)
    monkeypatch.setattr(evolve_cli, "save_figure", lambda *args, **kwargs: None)
    assert main(["evolve", os.path.join(ROOT, "examples", "neat_xor.toml"), "--generations", "1",
                 "--workers", "2", "--out", str(tmp_path / "o")]) == 0
    assert sent and all(isinstance(part, dict) and isinstance(part["header"], np.ndarray)
                        for part in sent)  # genomes_to_arrays, not JSON text
    row = next(line for line in _read("docs", "architecture.md").splitlines()
               if line.startswith("| executors in the commands"))
    assert "genome JSON" not in row and "flat arrays" in row
    assert "flat arrays" in _read("docs", "scale.md").split("What each sends to a worker")[1][:200]


# -- the README's Python blocks run as written (fewer epochs) ------------------------------------
def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", _read("README.md"), re.S)
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    code = "\n".join(blocks).replace("epochs=30", "epochs=1")
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)  # its own assert: the loaded model agrees
    assert scope["vec"].grad.shape == scope["theta"].shape == (scope["vec"].data.size,)
    assert (tmp_path / "digits.safetensors").exists()


# -- every example config trains, as its comment says (one epoch here) --------------------------
@pytest.mark.parametrize("name", ["digits_mlp", "digits_cnn", "sine_regression", "two_spirals"])
def test_example_train_configs_train(name, tmp_path, capsys, no_figures):
    out = tmp_path / name
    assert main(["train", os.path.join(ROOT, "examples", f"{name}.toml"), "--epochs", "1",
                 "--quiet", "--out", str(out)]) == 0
    assert {"model.safetensors", "metrics.json", "checkpoint.safetensors"} <= set(os.listdir(out))
    if name == "sine_regression":  # its second documented command
        (tmp_path / "points.csv").write_text("x\n0.0\n1.5\n")
        capsys.readouterr()
        assert main(["predict", str(out / "model.safetensors"),
                     str(tmp_path / "points.csv")]) == 0
        assert len(capsys.readouterr().out.split()) == 2


def test_example_ntm_copy_runs_at_a_tiny_size(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("ntm_copy_s12",
                                                  os.path.join(ROOT, "examples", "ntm_copy.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--rounds", "1", "--per-round", "16", "--test", "3", "--memory", "8", "4",
                 "--controller", "8", "--out", str(tmp_path / "ntm.json")])
    result = json.loads((tmp_path / "ntm.json").read_text())
    assert set(result["test"]) == {"3"} and "write_moves_one_location" in result


# -- finding 7: pages that no link from index.html reached (rb.sklearn, rb.tour) -----------------
def test_finding_api_index_links_every_page(tmp_path, monkeypatch):
    import types

    written = ["rosenblatt.html", "rosenblatt/nn.html", "rosenblatt/sklearn.html",
               "rosenblatt/tour.html"]

    def fake_pdoc(*modules, output_directory):  # pdoc's own index: a redirect to the root page
        for page in written:
            (output_directory / page).parent.mkdir(parents=True, exist_ok=True)
            (output_directory / page).write_text("<html></html>")
        (output_directory / "index.html").write_text(
            '<meta http-equiv="refresh" content="0; url=./rosenblatt.html"/>')

    fake = types.ModuleType("pdoc")
    fake.pdoc = fake_pdoc
    fake.render = types.SimpleNamespace(configure=lambda **kwargs: None)
    monkeypatch.setitem(sys.modules, "pdoc", fake)
    monkeypatch.setitem(sys.modules, "pdoc.render", fake.render)
    files = _build_api().build(tmp_path)
    assert str(tmp_path / "index.html") in files
    index = (tmp_path / "index.html").read_text()
    assert set(re.findall(r'href="([^"]+)"', index)) == set(written)
