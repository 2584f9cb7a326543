"""Audit s6/a2 of rosenblatt.io: each test failed before its fix (the audit's finding number)."""

import errno

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.io.atomic import atomic_write, write_bytes_atomic

nn = rb.nn


def _session(proto):
    ort = pytest.importorskip("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1  # a shared 2-core machine
    return ort.InferenceSession(proto.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


# -- 5: the exported Embedding refuses a negative index, as the library does ----------------
def test_exported_embedding_refuses_a_negative_index(tmp_path):
    pytest.importorskip("onnx")
    model = nn.Sequential(nn.Embedding(5, 2, rng=0))
    proto = rb.io.export_onnx(model, tmp_path / "e.onnx", np.array([[0, 1]]))
    session = _session(proto)
    valid = np.array([[0, 4], [3, 2]])
    (got,) = session.run(None, {"input": valid})
    np.testing.assert_array_equal(got, model(valid).data)  # valid indices: Gather as before
    for bad in (-1, -5, 5):  # -1 would be row 4 through a plain Gather
        with pytest.raises(ValueError, match="out of range"):
            model(np.array([[0, bad]]))
        with pytest.raises(Exception, match="out of (data )?bounds"):
            session.run(None, {"input": np.array([[0, bad]])})


def test_onnx_reference_evaluator_refuses_a_negative_embedding_index(tmp_path):
    pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    model = nn.Sequential(nn.Embedding(5, 2, rng=0))
    proto = rb.io.export_onnx(model, tmp_path / "e.onnx", np.array([[0, 1]]))
    reference = ReferenceEvaluator(proto)
    (got,) = reference.run(None, {"input": np.array([[4, 0]])})
    np.testing.assert_array_equal(got, model(np.array([[4, 0]])).data)
    with pytest.raises(IndexError):
        reference.run(None, {"input": np.array([[-1, 0]])})


def test_onnx_docstring_says_how_embedding_indices_are_checked():
    from rosenblatt.io import onnx as onnx_export

    assert "negative" in onnx_export.__doc__ and "Less, Where" in onnx_export.__doc__


# -- 6: a folder given as the file name: the example has the caller's suffix --------------------
def test_export_onnx_into_a_folder_proposes_an_onnx_file_name(tmp_path):
    pytest.importorskip("onnx")
    with pytest.raises(IsADirectoryError, match="it names a folder") as info:
        rb.io.export_onnx(nn.Tanh(), tmp_path, np.zeros((1, 3), np.float32))
    assert str(tmp_path / "model.onnx") in str(info.value)
    assert "safetensors" not in str(info.value)


def test_atomic_write_into_a_folder_proposes_no_suffix_unless_told(tmp_path):
    with pytest.raises(IsADirectoryError) as info:
        write_bytes_atomic(tmp_path, b"{}")
    assert info.value.errno == errno.EISDIR
    assert "safetensors" not in str(info.value) and "give the name of a file in it" in str(
        info.value)
    with pytest.raises(IsADirectoryError, match=r"e\.g\. .*history\.json"):
        with atomic_write(tmp_path, "w", example_name="history.json"):
            pass
