"""Audit s11/h4 of rosenblatt.io: each test failed before its fix (the report's finding number)."""

import os

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.io import atomic_write

nn = rb.nn


# -- 2: a path that is a symbolic link is written through, as open(path, "wb") does -------------
@pytest.mark.skipif(not hasattr(os, "symlink") or os.name != "posix", reason="POSIX links")
def test_saving_through_a_symbolic_link_replaces_the_file_it_names(tmp_path):
    (tmp_path / "run3").mkdir()
    real, link = tmp_path / "run3" / "model.safetensors", tmp_path / "latest.safetensors"
    net = nn.Sequential(nn.Dense(3, 2, rng=0))
    rb.save(net, real)
    os.symlink(os.path.join("run3", "model.safetensors"), link)
    net[0].W.data[...] = 7.0
    rb.save(net, link)
    assert os.path.islink(link)
    np.testing.assert_array_equal(rb.load(real)[0].W.data, 7.0)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name != "posix", reason="POSIX links")
def test_a_dangling_link_is_written_through_as_open_writes_it(tmp_path):
    link = tmp_path / "notes.txt"
    os.symlink("target.txt", link)
    with atomic_write(link, "w") as f:
        f.write("epoch 3")
    assert os.path.islink(link) and (tmp_path / "target.txt").read_text() == "epoch 3"


# -- 3: a float64 graph keeps a float64 leaky slope ---------------------------------------------
@pytest.mark.parametrize("layer", [nn.LeakyReLU(0.1), nn.RReLU(0.1, 0.3), nn.LeakyReLU(0.25)],
                         ids=["LeakyReLU(0.1)", "RReLU", "LeakyReLU(0.25)"])
def test_a_float64_leaky_slope_is_exact_in_onnx(layer, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx.reference import ReferenceEvaluator

    x = np.array([[-1e5, -3.0, -1e-3, 2.0]])
    path = tmp_path / "m.onnx"
    rb.io.export_onnx(layer, path, x)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    with layer.evaluating():
        want = layer(rb.tensor(x)).data
    (got,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"input": x})
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)
    (ref,) = ReferenceEvaluator(str(path)).run(None, {"input": x})
    np.testing.assert_allclose(ref, want, rtol=1e-15, atol=0)


# -- 5: a long file name that open() writes, an atomic write writes too ---------------------------
def test_a_240_character_file_name_saves_and_its_stale_temporaries_are_cleaned(tmp_path):
    from rosenblatt.io.atomic import _prefix

    name = "m" * 228 + ".safetensors"
    with open(tmp_path / ("p" + name[1:]), "wb") as f:  # the file system takes the name
        f.write(b"x")
    net = nn.Sequential(nn.Dense(2, 2, rng=0))
    stale = tmp_path / f"{_prefix(name)}999999999.0123456789ab.tmp"  # a writer long dead
    stale.write_bytes(b"half")
    rb.save(net, tmp_path / name)
    np.testing.assert_array_equal(rb.load(tmp_path / name)[0].W.data, net[0].W.data)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_a_float64_batch_norm_keeps_its_float64_eps_in_onnx(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from onnx.reference import ReferenceEvaluator

    bn = nn.BatchNorm1d(3, dtype=np.float64)
    bn.running_var[:] = [1e-7, 1e-3, 1.0]
    x = np.array([[1e3, 1e3, 1e3], [-1.0, 0.5, 2.0]])
    path = tmp_path / "bn.onnx"
    rb.io.export_onnx(bn, path, x)
    with bn.evaluating():
        want = bn(rb.tensor(x)).data
    (got,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"input": x})
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)
    (ref,) = ReferenceEvaluator(str(path)).run(None, {"input": x})
    np.testing.assert_allclose(ref, want, rtol=1e-14, atol=0)
