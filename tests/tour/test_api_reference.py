"""The API reference builds from the docstrings (pdoc, offline) and documents every public name.

``python docs/build_api.py`` is the documented command; this test runs the same build of the
public modules into a temporary folder, with pdoc's warnings as errors.
"""

import importlib.util
import inspect
import os

import pytest

import rosenblatt as rb

pytest.importorskip("pdoc")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _builder():
    spec = importlib.util.spec_from_file_location("build_api",
                                                  os.path.join(ROOT, "docs", "build_api.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_builds_and_documents_every_public_name(tmp_path):
    files = _builder().build(tmp_path, strict=True)
    assert os.path.join(str(tmp_path), "index.html") in files
    pages = {"rb": "rosenblatt.html", "rb.nn": "rosenblatt/nn.html",
             "rb.optim": "rosenblatt/optim.html", "rb.losses": "rosenblatt/nn/losses.html",
             "rb.models": "rosenblatt/models.html", "rb.datasets": "rosenblatt/datasets.html",
             "rb.training": "rosenblatt/training.html", "rb.tuning": "rosenblatt/tuning.html",
             "rb.evolution": "rosenblatt/evolution.html",
             "rb.adversarial": "rosenblatt/training/adversarial.html"}
    missing = []
    for label, page in pages.items():
        module = rb if label == "rb" else getattr(rb, label.split(".")[1])
        with open(tmp_path / page, encoding="utf-8") as f:
            text = f.read()
        for name in getattr(module, "__all__", ()):
            if inspect.ismodule(getattr(module, name, None)):
                continue  # a submodule: its own page
            if f'id="{name}"' not in text:
                missing.append(f"{label}.{name}")
    assert not missing, f"public names without an entry in the API reference: {missing}"
    with open(tmp_path / "rosenblatt/optim.html", encoding="utf-8") as f:
        text = f.read()
    assert "CauchyAnnealer" in text
    assert '<script src="http' not in text and '<link rel="stylesheet" href="http' not in text
    # (no script or style from the network: the pages read offline)
