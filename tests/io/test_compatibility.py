"""Files written by earlier versions still load, and the same model is saved the same way."""

import os

import numpy as np

import rosenblatt as rb
from rosenblatt.io.safetensors_format import decode

# Written by the code of commit 9b3d9b8, when the registry lived in rosenblatt.io and kept
# adapters keyed by class name (see data/make_v1_layers.py).
V1_FILE = os.path.join(os.path.dirname(__file__), "data", "v1_layers.safetensors")


def _header_and_tensors(path):
    with open(path, "rb") as f:
        tensors, header = decode(f.read())
    return header, tensors


def test_a_version_1_file_loads_and_computes_what_it_computed():
    ckpt = rb.io.load_checkpoint(V1_FILE)
    model = ckpt.model
    assert [type(m).__name__ for m in model] == [
        "Dense", "Dense", "Conv1d", "Conv2d", "RBF", "Sequential", "BatchNorm1d", "Maxout",
        "Dropout",
    ]
    assert model[1].b is None and model[3].b is None
    assert model[3].kernel_size == (3, 2) and model[3].stride == (2, 2)
    assert model[2].padding == "same" and model[4].kind == "ricker"
    assert not model.training  # saved in eval mode
    cases = ckpt.metadata["cases"]
    with rb.no_grad():
        for layer, (x, expected) in zip(model, cases):
            out = layer(rb.tensor(x)).data
            if type(layer).__name__ == "RBF":  # its float32 distances were made more exact since
                np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
            else:
                np.testing.assert_array_equal(out, expected)


def test_saving_it_again_writes_the_same_architecture_and_tensors(tmp_path):
    ckpt = rb.io.load_checkpoint(V1_FILE)
    path = tmp_path / "again.safetensors"
    rb.save(ckpt.model, path, metadata=ckpt.metadata)
    old_header, old_tensors = _header_and_tensors(V1_FILE)
    new_header, new_tensors = _header_and_tensors(path)
    for key in ("format", "format_version", "architecture", "modes", "frozen", "metadata"):
        assert new_header[key] == old_header[key], key
    assert sorted(new_tensors) == sorted(old_tensors)
    for name, value in old_tensors.items():
        assert new_tensors[name].dtype == value.dtype
        np.testing.assert_array_equal(new_tensors[name], value)
