"""Audit s4/a3 of rosenblatt.io: each test failed before its fix (the audit's defect number)."""

import json
import os
import stat
import struct
import sys
import warnings

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.io.safetensors_format import decode, encode

nn = rb.nn


# -- 1: user metadata with "epoch" + "history" is no training checkpoint ------------------
@pytest.mark.parametrize("meta", [
    {"epoch": 2, "history": [0.9, 0.7]},
    {"epoch": 2, "generators": {"numpy": 1, "python": 123}},
    {"epoch": 2, "callbacks": "early stopping"},
])
def test_user_metadata_named_like_a_checkpoints_fields_loads(tmp_path, meta):
    net = nn.Dense(3, 2, rng=0)
    path = tmp_path / "m.st"
    rb.save(net, path, metadata=meta)
    assert rb.io.load_checkpoint(path).metadata == meta
    assert rb.io.restore(path, nn.Dense(3, 2, rng=1)) == meta


def test_a_marked_training_checkpoint_is_checked_against_the_schema(tmp_path):
    net = nn.Dense(3, 2, rng=0)
    path = tmp_path / "m.st"
    rb.save(net, path, metadata={"epoch": 2, "history": [0.9, 0.7]})
    tensors, header = decode(path.read_bytes())  # (save refuses to mark it: r2 audit 6)
    header["checkpoint"] = "training"
    path.write_bytes(encode(tensors, header))
    with pytest.raises(rb.FormatError, match=r'checkpoint "history" = \[0.9, 0.7\]'):
        rb.io.load_checkpoint(path)


def test_a_checkpoint_written_by_fit_is_still_checked(tmp_path):
    """A file of the current writers (no marker; all five fields) keeps its schema check."""
    X = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    net = nn.Sequential(nn.Dense(2, 2, rng=0))
    path = tmp_path / "ck.st"
    rb.fit(net, X, y, loss="cross_entropy", epochs=1, batch_size=8, progress=False, rng=0,
           optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
           callbacks=[rb.callbacks.Checkpoint(path)])
    tensors, header = decode(path.read_bytes())
    meta = json.loads(header["metadata"])
    meta["epoch"] = "abc"
    header["metadata"] = json.dumps(meta)
    path.write_bytes(encode(tensors, header))
    with pytest.raises(rb.FormatError, match='"epoch"'):
        rb.io.load_checkpoint(path)


# -- 2: an architecture mismatch says what differs ----------------------------------------
def _cnn(last):
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Dense(36, 16), nn.ReLU(), nn.Dense(16, last))


def test_restore_into_another_architecture_names_the_difference(tmp_path):
    path = tmp_path / "m.st"
    rb.save(_cnn(10), path)
    with pytest.raises(rb.FormatError, match=r"model\[6\] \(Dense\): out_features 10 in the "
                                             r"file, 5 in the model"):
        rb.io.restore(path, _cnn(5))


def test_restore_of_another_dtype_says_dtype(tmp_path):
    path = tmp_path / "m.st"
    rb.save(nn.Dense(3, 2, rng=0).astype(np.float64), path)
    with pytest.raises(rb.FormatError, match=r"model \(Dense\): dtype float64 in the file, "
                                             r"float32 in the model"):
        rb.io.restore(path, nn.Dense(3, 2, rng=0))


def test_resume_into_another_architecture_names_the_difference(tmp_path):
    X = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    path = tmp_path / "ck.st"

    def run(hidden, **kw):
        net = nn.Sequential(nn.Dense(2, hidden, rng=0), nn.Tanh(), nn.Dense(hidden, 2, rng=1))
        return rb.fit(net, X, y, loss="cross_entropy", epochs=2, batch_size=8, progress=False,
                      rng=0, optimizer=rb.optim.SGD(net.parameters(), lr=0.1), **kw)

    run(3, callbacks=[rb.callbacks.Checkpoint(path)])
    with pytest.raises(rb.FormatError, match=r"model\[0\] \(Dense\): out_features 3 in the "
                                             r"file, 4 in the model"):
        run(4, resume_from=path)


# -- 3: a mixed-precision model keeps each part's dtype -----------------------------------
def test_a_float64_submodel_without_a_dtype_argument_stays_float64(tmp_path):
    ae = rb.models.Autoencoder(3, 2, rng=0).astype(np.float64)
    ae.W.data[...] = 0.1 + 1e-12  # a value float32 cannot hold
    model = nn.Sequential(ae, nn.Dense(3, 2, rng=0))
    path = tmp_path / "m.st"
    rb.save(model, path)
    loaded = rb.load(path)
    for name, value in model.state_dict().items():
        got = loaded.state_dict()[name]
        assert got.dtype == value.dtype, name
        np.testing.assert_array_equal(got, value)
    x = np.ones((1, 3))
    np.testing.assert_array_equal(loaded(rb.tensor(x)).data, model(rb.tensor(x)).data)


# -- 4: tensors aligned as the reference writer aligns them -------------------------------
def _offsets(blob):
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__", None)
    return {k: 8 + n + v["data_offsets"][0] for k, v in header.items()}, header


def test_tensors_are_aligned_after_a_bool_buffer(tmp_path):
    model = nn.Sequential(nn.SparseDense(7, 3, density=0.3, sparse_below=0.0, rng=0),
                          nn.Dense(3, 2, rng=0))
    path = tmp_path / "m.st"
    rb.save(model, path)
    blob = path.read_bytes()
    starts, header = _offsets(blob)
    sizes = {"F32": 4, "F64": 8, "BOOL": 1}
    assert all(starts[k] % sizes[header[k]["dtype"]] == 0 for k in starts)
    loaded = rb.load(path)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], value)
    st = pytest.importorskip("safetensors.numpy")
    ref = st.load(blob)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(ref[f"model/{name}"], value)
    # and the same layout as the reference writer's
    ref_starts, _ = _offsets(st.save({f"model/{k}": v for k, v in model.state_dict().items()}))
    order = sorted(starts, key=starts.get)
    assert order == sorted(ref_starts, key=ref_starts.get)


def test_a_file_in_name_order_still_loads(tmp_path):
    """Files written before the alignment fix (tensors in name order) load."""
    model = nn.Sequential(nn.SparseDense(7, 3, density=0.3, sparse_below=0.0, rng=0),
                          nn.Dense(3, 2, rng=0))
    path = tmp_path / "m.st"
    rb.save(model, path)
    tensors, header = decode(path.read_bytes())
    parts, table, offset = [], {}, 0
    for name in sorted(tensors):  # the old layout, by hand
        data = np.ascontiguousarray(tensors[name]).tobytes()
        code = {"float32": "F32", "bool": "BOOL"}[tensors[name].dtype.name]
        table[name] = {"dtype": code, "shape": list(tensors[name].shape),
                       "data_offsets": [offset, offset + len(data)]}
        parts.append(data)
        offset += len(data)
    table["__metadata__"] = header
    text = json.dumps(table).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(parts))
    np.testing.assert_array_equal(rb.load(path)[1].W.data, model[1].W.data)


# -- 5: an overwrite keeps the file's permissions -----------------------------------------
@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_an_atomic_overwrite_keeps_the_permissions(tmp_path):
    path = tmp_path / "private.st"
    rb.save(nn.Dense(2, 2, rng=0), path)
    os.chmod(path, 0o600)
    rb.save(nn.Dense(2, 2, rng=1), path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


# -- 6: a big integer option that sizes nothing ------------------------------------------
def test_an_iteration_count_above_65536_loads(tmp_path):
    X = np.random.default_rng(0).normal(size=(20, 3))
    sc = rb.models.SparseCoding(4, 0.1, rng=0, max_iter=100_000, tol=1e-6).fit(X, epochs=1)
    path = tmp_path / "sc.st"
    rb.save(sc, path)
    loaded = rb.load(path)
    assert loaded.max_iter == 100_000
    np.testing.assert_array_equal(loaded.state_dict()["dictionary"], sc.state_dict()["dictionary"])


def test_a_big_integer_of_an_unstated_layer_is_refused_on_save(tmp_path):
    @rb.nn.register(name="s4_Repeat")
    class Repeat(nn.Module):
        def __init__(self, times):
            self.times = times

        def forward(self, x):
            return x

    with pytest.raises(TypeError, match="Repeat.times = 100000"):
        rb.save(Repeat(100_000), tmp_path / "r.st")
    assert not (tmp_path / "r.st").exists()


# -- 7: ONNX standardize with dynamic axes ------------------------------------------------
def test_onnx_per_feature_standardize_reads_any_sequence_length(tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = nn.Sequential(nn.GRU(4, 3, rng=0), nn.SequenceOutputs(last=True),
                          nn.Dense(3, 2, rng=1))
    r = np.random.default_rng(0)
    x5 = r.normal(size=(2, 5, 4)).astype(np.float32)
    mean, std = np.array([0.1, -0.2, 0.3, 0.0]), np.array([1.0, 2.0, 0.5, 1.5])
    path = tmp_path / "m.onnx"
    rb.io.export_onnx(model, path, x5, standardize=(mean, std), dynamic_axes=(0, 1))
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x7 = r.normal(size=(3, 7, 4)).astype(np.float32)
    expected = model(rb.tensor(((x7 - mean) / std).astype(np.float32))).data
    np.testing.assert_allclose(session.run(None, {"input": x7})[0], expected, atol=1e-5)
    # a full-shape mean that is the same at every time step is stored once
    rb.io.export_onnx(model, path, x5, standardize=(np.tile(mean, (5, 1)), np.tile(std, (5, 1))),
                      dynamic_axes=(0, 1))
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x7})[0], expected, atol=1e-5)


def test_onnx_standardize_varying_along_a_dynamic_axis_is_refused(tmp_path):
    pytest.importorskip("onnx")
    model = nn.Sequential(nn.GRU(4, 3, rng=0), nn.SequenceOutputs(last=True))
    x5 = np.zeros((2, 5, 4), np.float32)
    mean = np.arange(20.0).reshape(5, 4)
    with pytest.raises(ValueError, match="axis 1"):
        rb.io.export_onnx(model, tmp_path / "m.onnx", x5, standardize=(mean, np.ones(4)),
                          dynamic_axes=(0, 1))


# -- 8: metadata that save writes, load reads ---------------------------------------------
def test_a_long_string_with_commas_round_trips(tmp_path):
    note = "a,b:" * 300_000
    path = tmp_path / "m.st"
    rb.save(nn.Dense(2, 2, rng=0), path, metadata={"note": note})
    assert rb.load(path, with_extras=True).metadata == {"note": note}


def test_metadata_load_would_refuse_is_refused_on_save(tmp_path, monkeypatch):
    from rosenblatt.io import serialization

    monkeypatch.setattr(serialization, "MAX_JSON_VALUES", 1000)
    path = tmp_path / "m.st"
    with pytest.raises(TypeError, match="'metadata'.*1,000 values"):
        rb.save(nn.Dense(2, 2, rng=0), path, metadata={"losses": list(range(2000))})
    assert not path.exists()


# -- 9: resuming a SparseDense model with EarlyStopping(restore_best) ---------------------
def test_resume_keeps_a_bool_buffer_in_the_best_state(tmp_path):
    r = np.random.default_rng(0)
    X = r.normal(size=(16, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    path = tmp_path / "ck.st"

    def run(epochs, **kw):
        m = nn.Sequential(nn.SparseDense(4, 6, density=0.5, rng=0), nn.Tanh(),
                          nn.Dense(6, 2, rng=1))
        cbs = [rb.callbacks.EarlyStopping(monitor="loss", patience=3, restore_best=True)]
        cbs += [rb.callbacks.Checkpoint(path)] if "resume_from" not in kw else []
        return rb.fit(m, X, y, loss="cross_entropy", epochs=epochs, batch_size=8, rng=0,
                      optimizer=rb.optim.SGD(m.parameters(), lr=0.1), progress=False,
                      callbacks=cbs, **kw)

    run(2)
    history = run(3, resume_from=path)
    assert len(history.history["loss"]) == 3


def test_a_best_state_of_the_wrong_dtype_kind_names_the_dtype():
    from rosenblatt.io.checkpoint_schema import _check_weights

    model = nn.SparseDense(4, 6, density=0.5, rng=0)
    state = {k: np.asarray(v) for k, v in model.state_dict().items()}
    state["W"] = state["W"].astype(np.int64)
    with pytest.raises(rb.FormatError, match="dtype kind 'f'.*got int64"):
        _check_weights("best", state, model)


# -- 10: regularizers travel with the model -----------------------------------------------
def test_regularizers_travel_with_the_model(tmp_path):
    regs = rb.regularizers
    m = nn.Sequential(nn.Dense(3, 4, rng=0), nn.Dense(4, 2, rng=1))
    m.regularizers = [regs.L2(0.01), regs.ElasticNet(0.1, 0.2, include_bias=True),
                      regs.InputNoise(0.5)]
    m[1].regularizers = [regs.MaxNorm(2.0), regs.L1(0.3)]
    path = tmp_path / "m.st"
    rb.save(m, path)
    loaded = rb.load(path)
    assert repr(list(loaded.regularizers)) == repr(list(m.regularizers))
    assert repr(list(loaded[1].regularizers)) == repr(list(m[1].regularizers))
    assert loaded.regularizers[1].include_bias and not loaded.regularizers[0].include_bias
    assert tuple(loaded[0].regularizers) == ()


def test_a_models_own_regularizers_come_back_once(tmp_path):
    """The Autoencoder builds its corruption and penalties itself: not saved twice."""
    ae = rb.models.Autoencoder(3, 2, noise=("gaussian", 0.1), rng=0)
    ae.regularizers = [rb.regularizers.L2(0.5), *ae.regularizers]
    path = tmp_path / "ae.st"
    rb.save(ae, path)
    loaded = rb.load(path)
    assert [type(r).__name__ for r in loaded.regularizers] == \
        [type(r).__name__ for r in ae.regularizers]
    assert loaded.regularizers[1] is loaded._corruption


def test_an_unknown_regularizer_warns_on_save(tmp_path):
    class Mine(rb.regularizers.Regularizer):
        pass

    m = nn.Dense(3, 2, rng=0)
    m.regularizers = [Mine()]
    with pytest.warns(UserWarning, match="Mine"):
        rb.save(m, tmp_path / "m.st")
    assert tuple(rb.load(tmp_path / "m.st").regularizers) == ()


def test_a_bad_regularizer_entry_is_a_format_error(tmp_path):
    m = nn.Dense(3, 2, rng=0)
    m.regularizers = [rb.regularizers.L2(0.1)]
    path = tmp_path / "m.st"
    rb.save(m, path)
    tensors, header = decode(path.read_bytes())
    for bad in ([[0, "Exec", {}]], [[5, "L2", {"lam": 0.1}]], [[0, "L2", {"lam": -1}]], 7):
        header["regularizers"] = json.dumps(bad)
        path.write_bytes(encode(tensors, header))
        with pytest.raises(rb.FormatError, match="regularizers"):
            rb.load(path)


# -- 11: a refused optimizer state changes nothing ----------------------------------------
@pytest.mark.parametrize("key, value, make", [
    ("momentum", 1.0, lambda ps: rb.optim.SGD(ps, lr=0.1, momentum=0.9)),
    ("rho", 1.0, lambda ps: rb.optim.RMSprop(ps)),
    ("betas", [0.9, 1.0], lambda ps: rb.optim.Adam(ps)),
])
def test_restore_refuses_a_bad_hyperparameter_before_changing_anything(tmp_path, key, value,
                                                                       make):
    m = nn.Dense(3, 2, rng=0)
    path = tmp_path / "ck.st"
    rb.save(m, path, optimizer=make(m.parameters()))
    tensors, header = decode(path.read_bytes())
    state = json.loads(header["optimizer"])
    state[key] = value
    header["optimizer"] = json.dumps(state)
    path.write_bytes(encode(tensors, header))
    live = nn.Dense(3, 2, rng=1)
    opt = make(live.parameters())
    before, hyper = live.W.data.copy(), getattr(opt, key)
    with pytest.raises(rb.FormatError, match=f'optimizer state "{key}"'):
        rb.io.restore(path, live, optimizer=opt)
    np.testing.assert_array_equal(live.W.data, before)
    assert getattr(opt, key) == hyper


def test_restore_refuses_what_only_the_optimizer_checks(tmp_path):
    """A value no schema range covers (AdaptiveGains' down) is tried on a copy first."""
    m = nn.Dense(3, 2, rng=0)
    opt = rb.optim.AdaptiveGains(m.parameters(), lr=0.1)
    path = tmp_path / "ck.st"
    rb.save(m, path, optimizer=opt)
    tensors, header = decode(path.read_bytes())
    state = json.loads(header["optimizer"])
    assert "down" in state
    state["down"] = 5.0
    header["optimizer"] = json.dumps(state)
    path.write_bytes(encode(tensors, header))
    live = nn.Dense(3, 2, rng=1)
    live_opt = rb.optim.AdaptiveGains(live.parameters(), lr=0.1)
    before = live.W.data.copy()
    with pytest.raises(rb.FormatError, match="optimizer state"):
        rb.io.restore(path, live, optimizer=live_opt)
    np.testing.assert_array_equal(live.W.data, before)


# -- 12: a folder is no file name ---------------------------------------------------------
def test_a_path_ending_in_a_separator_is_refused(tmp_path):
    target = str(tmp_path / "checkpoints") + "/"
    with pytest.raises(IsADirectoryError, match="checkpoints/: it names a folder"):
        rb.save(nn.Dense(2, 2, rng=0), target)
    assert not os.path.exists(tmp_path / "checkpoints")


def test_an_existing_folder_is_refused_by_name(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(IsADirectoryError, match=r"out: it names a folder") as info:
        rb.save(nn.Dense(2, 2, rng=0), tmp_path / "out")
    assert ".tmp" not in str(info.value)
    assert os.listdir(tmp_path) == ["out"]


# -- 13: export_onnx's docstring on the input dtype ---------------------------------------
def test_export_onnx_doc_says_the_input_takes_the_models_dtype():
    doc = " ".join(rb.io.export_onnx.__doc__.split())
    assert "the model's float dtype" in doc
    assert "Its dtype (float, or int64 indices for an Embedding) and its shape" not in doc


# -- 14: a subclass that adds a constructor argument must describe it ---------------------
def test_an_inherited_config_missing_a_new_argument_is_refused(tmp_path):
    @rb.nn.register(name="s4_ScaledDense")
    class ScaledDense(nn.Dense):
        def __init__(self, in_features, out_features, scale=1.0, **kwargs):
            super().__init__(in_features, out_features, **kwargs)
            self.scale = float(scale)

    with pytest.raises(TypeError, match=r"ScaledDense.__init__ takes 'scale', which "
                                        r"Dense.config\(\) does not return; define "
                                        r"ScaledDense.config\(\)"):
        rb.save(ScaledDense(3, 2, scale=10.0, rng=0), tmp_path / "m.st")


def test_a_subclass_with_its_own_config_saves(tmp_path):
    @rb.nn.register(name="s4_ScaledDense2")
    class ScaledDense2(nn.Dense):
        def __init__(self, in_features, out_features, scale=1.0, **kwargs):
            super().__init__(in_features, out_features, **kwargs)
            self.scale = float(scale)

        def config(self):
            return {**super().config(), "scale": self.scale}

    rb.save(ScaledDense2(3, 2, scale=10.0, rng=0), tmp_path / "m.st")
    assert rb.load(tmp_path / "m.st").scale == 10.0


def test_no_library_layer_inherits_a_config_that_misses_its_arguments():
    from rosenblatt.nn import registry

    bad = [name for name, cls in registry.registered().items()
           if cls.__module__.startswith("rosenblatt.")
           and registry.missing_config_arguments(cls)]
    assert bad == []


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


def test_every_checkpoint_writer_marks_its_file(tmp_path):
    """rb.fit's, RBM.fit's, DBN.pretrain's and GAN.fit's Checkpoint files carry the training
    marker, so their metadata is checked by the schema whatever fields a future writer adds."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    net = nn.Sequential(nn.Dense(2, 2, rng=0))
    B = (rng.random((8, 6)) < 0.5).astype(np.float32)
    paths = {name: tmp_path / f"{name}.st" for name in ("fit", "rbm", "dbn", "gan")}
    rb.fit(net, X, y, loss="cross_entropy", epochs=1, batch_size=8, progress=False, rng=0,
           optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
           callbacks=[rb.callbacks.Checkpoint(paths["fit"])])
    rb.models.RBM(6, 3, rng=0).fit(B, epochs=1, batch_size=4, progress=False,
                                   callbacks=[rb.callbacks.Checkpoint(paths["rbm"])])
    rb.models.DBN([6, 4, 3], rng=0).pretrain(
        B, epochs_per_layer=1, batch_size=4, progress=False,
        callbacks=[rb.callbacks.Checkpoint(paths["dbn"])])
    gan = rb.models.GAN(nn.Sequential(nn.Dense(2, 6, rng=0), nn.Sigmoid()),
                        nn.Sequential(nn.Dense(6, 1, rng=1)), noise_dim=2)
    gan.fit(B, epochs=1, batch_size=4, callbacks=[rb.callbacks.Checkpoint(paths["gan"])])
    for name, path in paths.items():
        _, header = decode(path.read_bytes())
        assert header.get("checkpoint") == "training", name
        assert rb.io.load_checkpoint(path).training, name


# -- r2 audit (second round) ---------------------------------------------------------------
def _regs_of(module):
    return [(type(r).__name__, dict(vars(r))) for r in tuple(module.regularizers or ())]


def test_r2_1_cleared_regularizers_stay_cleared(tmp_path):
    ae = rb.models.Autoencoder(8, 4, noise=("masking", 0.3), rng=0)
    ae.regularizers = []
    rb.save(ae, tmp_path / "ae.st")
    assert list(rb.load(tmp_path / "ae.st").regularizers) == []


def test_r2_2_a_library_regularizer_no_constructor_made_round_trips(tmp_path):
    from rosenblatt.models.autoencoder import Corruption

    net = nn.Sequential(nn.Dense(4, 3, rng=0), nn.Dense(3, 2, rng=1))
    net.regularizers = [Corruption("gaussian", 0.5), rb.regularizers.L2(0.1)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rb.save(net, tmp_path / "n.st")
    loaded = rb.load(tmp_path / "n.st")
    assert _regs_of(loaded) == _regs_of(net)
    assert isinstance(loaded.regularizers[0], Corruption)


def test_r2_2_a_replaced_corruption_comes_back_as_it_was(tmp_path):
    from rosenblatt.models.autoencoder import Corruption

    ae = rb.models.Autoencoder(8, 4, noise=("masking", 0.3), rng=0)
    ae.regularizers = [Corruption("gaussian", 2.0), *ae.regularizers[1:]]
    rb.save(ae, tmp_path / "ae.st")
    loaded = rb.load(tmp_path / "ae.st")
    assert _regs_of(loaded) == _regs_of(ae)
    assert loaded.noise == ("masking", 0.3) and loaded._corruption.level == 0.3


def test_r2_2_an_added_library_regularizer_comes_back(tmp_path):
    from rosenblatt.models.autoencoder import Corruption

    ae = rb.models.Autoencoder(8, 4, rng=0)  # no noise: the constructor makes no Corruption
    ae.regularizers = [*ae.regularizers, Corruption("salt_pepper", 0.2)]
    rb.save(ae, tmp_path / "ae.st")
    assert _regs_of(rb.load(tmp_path / "ae.st")) == _regs_of(ae)


def test_r2_6_a_training_checkpoint_without_its_metadata_is_refused_on_save(tmp_path):
    m = nn.Dense(3, 2, rng=0)
    opt = rb.optim.SGD(m.parameters(), lr=0.1)
    for meta in (None, [1, 2], {"epoch": -1}):
        with pytest.raises(TypeError, match="save: training_checkpoint=True"):
            rb.save(m, tmp_path / "c.st", optimizer=opt, metadata=meta,
                    training_checkpoint=True)
    assert not os.path.exists(tmp_path / "c.st")
    rb.save(m, tmp_path / "c.st", optimizer=opt, metadata={"epoch": 0},
            training_checkpoint=np.bool_(True))
    assert rb.io.load_checkpoint(tmp_path / "c.st").training
    rb.io.restore(tmp_path / "c.st", m, opt)
    with pytest.raises(TypeError, match="training_checkpoint"):
        rb.save(m, tmp_path / "c.st", training_checkpoint="yes")


def test_r2_7_a_subclass_whose_added_argument_is_its_default_saves(tmp_path):
    @rb.nn.register(name="s4r2_MLP")
    class MLP(nn.Sequential):
        def __init__(self, *layers, sizes=None):
            if sizes is not None:
                layers = [nn.Dense(a, b, rng=0) for a, b in zip(sizes[:-1], sizes[1:])]
            super().__init__(*layers)

    @rb.nn.register(name="s4r2_Verbose")
    class Verbose(nn.Dense):
        def __init__(self, in_features, out_features, bias=True, *, rng=None, verbose=False):
            super().__init__(in_features, out_features, bias=bias, rng=rng)
            self.verbose = verbose

    m = MLP(sizes=(3, 4, 2))
    rb.save(m, tmp_path / "mlp.st")
    x = np.ones((1, 3), np.float32)
    np.testing.assert_array_equal(rb.load(tmp_path / "mlp.st")(x).data, m(x).data)
    rb.save(Verbose(3, 2, rng=0), tmp_path / "v.st")
    assert type(rb.load(tmp_path / "v.st")).__name__ == "Verbose"
    with pytest.raises(TypeError, match="Verbose.__init__ takes 'verbose'"):
        rb.save(Verbose(3, 2, rng=0, verbose=True), tmp_path / "v.st")


def test_r2_8_the_optimizer_check_does_not_copy_the_parameters(tmp_path):
    from rosenblatt.io.checkpoint_schema import check_optimizer_state

    seen = []

    class Spy(rb.optim.Adam):
        def load_state_dict(self, state):
            seen.append(self)
            return super().load_state_dict(state)

    m = nn.Sequential(nn.Dense(3, 4, rng=0), nn.SparseDense(4, 2, density=0.5, rng=0))
    for make in (lambda: Spy(m.parameters()),
                 lambda: rb.optim.GradientNoise(Spy(m.parameters()), model=m, rng=0)):
        opt = make()
        check_optimizer_state(opt.state_dict(), opt)
        trial = seen.pop()
        live = getattr(opt, "optimizer", opt)
        assert trial is not live
        assert trial.vec is live.vec
        assert all(a is b for a, b in zip(trial.vec.params, m.parameters()))
        state = opt.state_dict()
        state["m"] = np.full_like(state["m"], 7.0)
        check_optimizer_state(state, opt)  # the trial's load leaves the live state alone
        seen.clear()
        assert not np.any(live.m == 7.0)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_r2_13_a_fifo_is_not_replaced_by_a_regular_file(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        rb.save(nn.Dense(3, 2, rng=0), fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["fifo"]
    link = tmp_path / "link"
    os.symlink(fifo, link)
    with pytest.raises(OSError, match="not a regular file"):
        rb.io.atomic_write(link).__enter__()
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and os.path.islink(link)


def test_a_config_key_the_constructor_does_not_take_is_refused_on_save(tmp_path):
    """A subclass that drops an argument of its base (bias) but inherits config() would write
    a file that cls(**config) cannot load: save refuses it by name instead."""

    class NoBias(nn.Dense):
        def __init__(self, in_features, out_features, *, rng=None):
            super().__init__(in_features, out_features, rng=rng)

    nn.register(NoBias)
    with pytest.raises(TypeError, match="NoBias.config\\(\\) returns 'bias'"):
        rb.save(NoBias(3, 2), tmp_path / "m.st")
    assert not (tmp_path / "m.st").exists()
