"""ONNX export: every exportable layer, and whole models, give onnxruntime's outputs (and onnx's
reference evaluator's) equal to rosenblatt's (atol 1e-5) and pass onnx.checker; unsupported
layers fail by name; the CLI."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.cli import main
from rosenblatt.io.onnx import exportable

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx.reference import ReferenceEvaluator  # noqa: E402 - after the skip

nn = rb.nn
ATOL = 1e-5


def _session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1  # a shared 2-core machine
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _flat(result):
    if isinstance(result, (tuple, list)):
        return [a for item in result for a in _flat(item)]
    return [result.data]


def _rosenblatt(model, x):
    with model.evaluating():
        return _flat(model(rb.tensor(x) if x.dtype.kind == "f" else x))


def check_export(model, x, tmp_path, batch=None):
    """Export ``model`` for ``x``; onnxruntime on ``batch`` (default ``x``) must match."""
    path = tmp_path / "model.onnx"
    rb.io.export_onnx(model, path, x)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    run_on = x if batch is None else batch
    session = _session(path)
    got = session.run(None, {session.get_inputs()[0].name: run_on})
    expected = _rosenblatt(model, run_on)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, atol=ATOL, rtol=0)
    # ONNX's own reference evaluator too: the graph means what the spec says, not only
    # what one runtime does.
    try:
        reference = ReferenceEvaluator(str(path)).run(None, {"input": run_on})
    except RuntimeError as e:  # onnx.reference's RNN knows only Tanh (and Affine)
        assert "Unknown activation function 'Relu'" in str(e)
        reference = got
    for g, e in zip(reference, expected):
        np.testing.assert_allclose(g, e, atol=ATOL, rtol=0)
    return got


def _jitter(model, seed=0, scale=0.3):
    """Random parameters (biases, gates, peepholes included) so a swapped block shows."""
    r = np.random.default_rng(seed)
    for p in model.parameters():
        p.data[...] += r.normal(scale=scale, size=p.shape).astype(p.data.dtype)
    return model


def _bn(cls, n, seed=0):
    """A batch norm with non-trivial running statistics and affine parameters."""
    r = np.random.default_rng(seed)
    layer = cls(n)
    layer.running_mean[:] = r.normal(size=n)
    layer.running_var[:] = r.uniform(0.5, 2.0, n)
    return _jitter(layer, seed)


_R = np.random.default_rng(7)
IMG = _R.normal(size=(2, 3, 9, 8)).astype(np.float32)
SEQ = _R.normal(size=(2, 3, 11)).astype(np.float32)  # (batch, channels, length)
VEC = _R.normal(size=(4, 6)).astype(np.float32)
TIME = _R.normal(size=(2, 5, 4)).astype(np.float32)  # (batch, time, features)
TOKENS = _R.integers(0, 10, (3, 5))

LAYERS = [
    *[(nn.Conv2d(3, 4, 3, stride=s, padding=p, rng=0), IMG)
      for p in ("valid", "same", "half", "full", 1, (2, 1)) for s in (1, 2)],
    (nn.Conv2d(3, 4, (4, 2), padding="same", bias=False, rng=0), IMG),  # even kernel: n + 1
    (nn.Conv1d(3, 4, 4, padding="same", rng=0), SEQ),
    (nn.Conv1d(3, 4, 3, stride=2, padding="full", rng=0), SEQ),
    (nn.Conv1d(3, 4, 3, padding=2, bias=False, rng=0), SEQ),
    (nn.Conv1d(3, 4, 5, rng=0), SEQ),
    *[(cls(2), IMG) for cls in (nn.MaxPool2d, nn.AvgPool2d, nn.L2Pool2d)],
    *[(cls(3, stride=2), IMG) for cls in (nn.MaxPool2d, nn.AvgPool2d, nn.L2Pool2d)],
    (nn.GlobalMaxPool2d(), IMG), (nn.GlobalAvgPool2d(), IMG),
    (nn.KMaxPool(4), SEQ), (nn.KMaxPool(2, axis=1), SEQ),
    (_bn(nn.BatchNorm2d, 3), IMG), (_bn(nn.BatchNorm1d, 6), VEC), (_bn(nn.BatchNorm1d, 3), SEQ),
    (nn.Sigmoid(), VEC), (nn.Tanh(), VEC), (nn.ReLU(), VEC), (nn.Identity(), VEC),
    (nn.LeakyReLU(0.2), VEC), (nn.RReLU(), VEC), (nn.HardTanh(-0.5, 0.7), VEC),
    (_jitter(nn.PReLU()), VEC), (_jitter(nn.PReLU(3)), IMG),
    (nn.Softmax(), VEC), (nn.Softmax(axis=0), VEC), (nn.LogSoftmax(), VEC),
    (nn.LogSoftmax(axis=1), IMG), (nn.Step(0.1), VEC), (nn.Sign(), VEC), (nn.Sign(-0.2), VEC),
    (nn.Dropout(0.3), VEC), (nn.Dropout(0.3, inverted=False), VEC),
    (nn.Flatten(), IMG), (nn.Flatten(2), IMG),
    (_jitter(nn.Dense(6, 5, rng=0)), VEC), (nn.Dense(11, 3, bias=False, rng=0), SEQ),
    (_jitter(nn.Maxout(6, 3, pieces=3, rng=0)), VEC),
    (nn.SparseDense(6, 5, density=0.5, rng=0), VEC),
    (nn.Embedding(10, 4, rng=0), TOKENS),
    (_jitter(nn.RNN(4, 5, rng=0)), TIME), (_jitter(nn.RNN(4, 5, nonlinearity="relu", rng=0)), TIME),
    (_jitter(nn.LSTM(4, 5, rng=0)), TIME), (_jitter(nn.GRU(4, 5, rng=0)), TIME),
    (_jitter(nn.Bidirectional(nn.GRU(4, 3, rng=0), rng=1)), TIME),
    (nn.Sequential(_jitter(nn.LSTM(4, 5, rng=0)), nn.SequenceOutputs()), TIME),
    (nn.Sequential(_jitter(nn.GRU(4, 5, rng=0)), nn.SequenceOutputs(last=True)), TIME),
]


def _id(case):
    layer, _ = case
    return f"{type(layer).__name__}({layer.extra_repr()})"


@pytest.mark.parametrize("case", LAYERS, ids=[_id(c) for c in LAYERS])
def test_each_layer_alone_matches_onnxruntime(case, tmp_path):
    layer, x = case
    check_export(layer, x, tmp_path)


def test_every_exportable_type_is_tested_alone():
    tested = {type(m) for layer, _ in LAYERS for m in layer.modules()}
    assert set(exportable()) == tested


@pytest.mark.parametrize("options", [
    {"num_layers": 2}, {"peephole": True}, {"coupled": True},
    {"coupled": True, "peephole": True}, {"learn_initial_state": True, "num_layers": 2},
    {"batch_norm": True}, {"forget_bias": 2.0},
], ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_lstm_variants_follow_onnx_gate_order(options, tmp_path):
    layer = _jitter(nn.LSTM(4, 5, rng=0, **options))
    if options.get("batch_norm"):
        layer(TIME)  # one training step moves the running statistics away from (0, 1)
    check_export(layer, TIME, tmp_path)


@pytest.mark.parametrize("cls", [nn.RNN, nn.GRU])
@pytest.mark.parametrize("options", [{"num_layers": 3}, {"learn_initial_state": True},
                                     {"batch_norm": True, "num_layers": 2}],
                         ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_rnn_and_gru_variants(cls, options, tmp_path):
    layer = _jitter(cls(4, 5, rng=0, **options))
    if options.get("batch_norm"):
        layer(TIME)
    check_export(layer, TIME[:1], tmp_path, batch=TIME)  # another batch size: learned h0 too


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_float64_recurrent_layers_on_onnx_reference_runtime(cls, tmp_path):
    # onnxruntime's CPU LSTM has no double kernel; ONNX allows it, and onnx's own
    # reference evaluator runs it.
    layer = _jitter(cls(4, 5, num_layers=2, rng=0, dtype=np.float64))
    x = TIME.astype(np.float64)
    proto = rb.io.export_onnx(layer, tmp_path / "m.onnx", x)
    got = ReferenceEvaluator(proto).run(None, {"input": x})
    for g, e in zip(got, _rosenblatt(layer, x)):
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, e, atol=1e-10, rtol=0)


def test_bidirectional_of_different_stacks(tmp_path):
    layer = nn.Bidirectional(nn.LSTM(4, 5, num_layers=2, peephole=True, rng=0),
                             backward_layer=nn.LSTM(4, 3, learn_initial_state=True, rng=1))
    check_export(_jitter(layer), TIME, tmp_path)


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding="same", rng=0), _bn(nn.BatchNorm2d, 6), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, rng=1), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Dense(16 * 5 * 5, 120, rng=2), nn.ReLU(), nn.Dropout(0.5),
        nn.Dense(120, 84, rng=3), nn.Tanh(), nn.Dense(84, 10, rng=4), nn.Softmax(),
    )


def test_lenet(tmp_path):
    x = np.random.default_rng(0).normal(size=(3, 1, 28, 28)).astype(np.float32)
    check_export(lenet(), x, tmp_path)


def test_conv_with_fused_relu(tmp_path):
    net = nn.Sequential(nn.Conv2d(1, 3, 3, padding="same", activation="relu", rng=0),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Dense(3 * 4 * 4, 2, rng=1))
    x = np.random.default_rng(0).normal(size=(2, 1, 8, 8)).astype(np.float32)
    check_export(net, x, tmp_path)


def test_mlp_with_a_symbolic_batch_axis(tmp_path):
    mlp = nn.Sequential(nn.Dense(6, 16, rng=0), _bn(nn.BatchNorm1d, 16), nn.LeakyReLU(0.1),
                        nn.Dropout(0.2), nn.Dense(16, 8, rng=1), nn.Sigmoid(),
                        nn.Dense(8, 3, rng=2), nn.LogSoftmax())
    r = np.random.default_rng(1)
    check_export(mlp, VEC[:2], tmp_path, batch=r.normal(size=(9, 6)).astype(np.float32))
    inp = onnx.load(str(tmp_path / "model.onnx")).graph.input[0]
    assert inp.type.tensor_type.shape.dim[0].dim_param == "batch"


def test_bidirectional_lstm_text_classifier(tmp_path):
    model = nn.Sequential(
        nn.Embedding(20, 8, rng=0),
        nn.Bidirectional(nn.LSTM(8, 6, num_layers=2, rng=1), rng=2),
        nn.SequenceOutputs(last=True), nn.Dense(12, 3, rng=3), nn.Softmax(),
    )
    tokens = np.random.default_rng(2).integers(0, 20, (4, 7))
    got = check_export(_jitter(model), tokens, tmp_path)
    assert got[0].shape == (4, 3)
    ops = [n.op_type for n in onnx.load(str(tmp_path / "model.onnx")).graph.node]
    assert ops.count("LSTM") == 4 and "Gather" in ops


def test_a_recurrent_model_reads_sequences_of_any_length(tmp_path):
    model = _jitter(nn.Sequential(nn.Bidirectional(nn.GRU(4, 3, rng=0), rng=1),
                                  nn.SequenceOutputs(last=True), nn.Dense(6, 2, rng=2)))
    path = tmp_path / "m.onnx"
    proto = rb.io.export_onnx(model, path, TIME, dynamic_axes=(0, 1))
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "time", 4]
    longer = np.random.default_rng(5).normal(size=(3, 9, 4)).astype(np.float32)
    (got,) = _session(path).run(None, {"input": longer})
    np.testing.assert_allclose(got, _rosenblatt(model, longer)[0], atol=ATOL)
    with pytest.raises(ValueError, match="dynamic_axes"):
        rb.io.export_onnx(model, path, TIME, dynamic_axes=(3,))


def test_float64_models_export_in_float64(tmp_path):
    model = nn.Sequential(nn.Dense(6, 4, rng=0, dtype=np.float64), nn.Tanh())
    got = check_export(model, VEC.astype(np.float64), tmp_path)
    assert got[0].dtype == np.float64
    got = check_export(nn.Softmax(), VEC.astype(np.float64), tmp_path)  # no parameters
    assert got[0].dtype == np.float64


def test_unused_recurrent_states_are_pruned(tmp_path):
    model = nn.Sequential(nn.LSTM(4, 5, num_layers=2, rng=0), nn.SequenceOutputs(last=True))
    proto = rb.io.export_onnx(model, tmp_path / "m.onnx", TIME)
    ops = [n.op_type for n in proto.graph.node]
    assert ops == ["Transpose", "LSTM", "Squeeze", "LSTM", "Squeeze", "Transpose", "Gather",
                   "Identity"]


def test_standardize_puts_the_preprocessing_in_the_graph(tmp_path):
    model = nn.Sequential(nn.Dense(6, 2, rng=0))
    mean, std = np.linspace(-1, 1, 6), np.linspace(0.5, 2, 6)
    rb.io.export_onnx(model, tmp_path / "m.onnx", VEC, standardize=(mean, std))
    session = _session(tmp_path / "m.onnx")
    (got,) = session.run(None, {"input": VEC})
    expected = model(rb.tensor(((VEC - mean) / std).astype(np.float32))).data
    np.testing.assert_allclose(got, expected, atol=ATOL)


def test_unsupported_layer_is_named_with_its_position(tmp_path):
    model = nn.Sequential(nn.Dense(6, 4, rng=0), nn.Sequential(nn.Tanh(), nn.RBF(4, 3, rng=0)))
    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous")
    with pytest.raises(rb.io.UnsupportedLayerError, match=r"RBF at model\[1\]\[1\] has no ONNX"):
        rb.io.export_onnx(model, target, VEC)
    assert target.read_bytes() == b"previous"  # nothing half-written


def test_a_subclass_is_not_exported_as_its_base():
    class Scaled(nn.Dense):
        def forward(self, x):
            return super().forward(x) * 2.0

    with pytest.raises(TypeError, match=r"Scaled at model has no ONNX equivalent"):
        rb.io.onnx.build_onnx(Scaled(6, 2, rng=0), VEC)


def test_recurrent_state_into_a_dense_layer_asks_for_sequence_outputs():
    model = nn.Sequential(nn.GRU(4, 5, rng=0), nn.Dense(5, 2, rng=0))
    with pytest.raises(TypeError, match=r"Dense at model\[1\].*SequenceOutputs"):
        rb.io.onnx.build_onnx(model, TIME)


def test_bad_arguments():
    with pytest.raises(TypeError, match="example_input"):
        rb.io.onnx.build_onnx(nn.Tanh(), "x")
    with pytest.raises(ValueError, match="opset must be an int from 17"):
        rb.io.onnx.build_onnx(nn.Tanh(), VEC, opset=9)
    with pytest.raises(TypeError, match="rosenblatt Module"):
        rb.io.onnx.build_onnx(lambda x: x, VEC)
    with pytest.raises(ValueError, match=r"Dense\(5, 2\)"):  # the library's own shape check
        rb.io.onnx.build_onnx(nn.Dense(5, 2), VEC)


def test_newest_opset_too(tmp_path):
    model = nn.Sequential(_jitter(nn.Maxout(6, 3, rng=0)), nn.Softmax())
    newest = onnx.defs.onnx_opset_version()
    path = tmp_path / "m.onnx"
    rb.io.export_onnx(model, path, VEC, opset=min(newest, 21))
    (got,) = _session(path).run(None, {"input": VEC})
    np.testing.assert_allclose(got, _rosenblatt(model, VEC)[0], atol=ATOL)


CONFIG = """
seed = 3
[data]
name = "moons"
options = { n_samples = 80 }
[[model.layers]]
type = "Dense"
out_features = 8
[[model.layers]]
type = "Tanh"
[[model.layers]]
type = "Dense"
out_features = 2
[training]
loss = "cross_entropy"
epochs = 2
batch_size = 16
[optimizer]
name = "adam"
lr = 0.02
"""


def test_cli_export_end_to_end(tmp_path, capsys):
    from rosenblatt.cli.modelfile import load, preprocess

    (tmp_path / "cfg.toml").write_text(CONFIG)
    assert main(["train", str(tmp_path / "cfg.toml"), "--out", str(tmp_path / "run"),
                 "--quiet"]) == 0
    model_path = tmp_path / "run" / "model.safetensors"
    capsys.readouterr()
    assert main(["export", str(model_path), str(tmp_path / "model.onnx")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {tmp_path / 'model.onnx'}") and "standardised" in out
    onnx.checker.check_model(onnx.load(str(tmp_path / "model.onnx")))
    raw = np.random.default_rng(3).normal(size=(5, 2)).astype(np.float32)  # raw inputs, as predict
    (got,) = _session(tmp_path / "model.onnx").run(None, {"input": raw})
    model, meta = load(str(model_path))
    expected = model(rb.tensor(preprocess(raw, meta, "x"))).data
    np.testing.assert_allclose(got, expected, atol=ATOL)


def test_cli_export_needs_a_shape_for_plain_model_files(tmp_path, capsys):
    model = nn.Sequential(nn.Conv2d(1, 2, 3, rng=0), nn.Flatten())
    rb.save(model, tmp_path / "conv.safetensors")
    assert main(["export", str(tmp_path / "conv.safetensors"), str(tmp_path / "c.onnx")]) == 2
    assert "--input-shape" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "conv.safetensors"), str(tmp_path / "c.onnx"),
                 "--input-shape", "1,6,5"]) == 0
    x = np.random.default_rng(0).normal(size=(2, 1, 6, 5)).astype(np.float32)
    (got,) = _session(tmp_path / "c.onnx").run(None, {"input": x})
    np.testing.assert_allclose(got, model(rb.tensor(x)).data, atol=ATOL)
    assert main(["export", str(tmp_path / "conv.safetensors"), str(tmp_path / "c.onnx"),
                 "--input-shape", "1,x"]) == 2
    assert main(["export", str(tmp_path / "conv.safetensors"), str(tmp_path / "c.onnx"),
                 "--input-shape", "1,6,5", "--dynamic-axes", "b"]) == 2
    assert main(["export", str(tmp_path / "conv.safetensors"), str(tmp_path / "c.onnx"),
                 "--input-shape", "2,6,5"]) == 2
    assert "cannot export" in capsys.readouterr().err


def test_cli_export_names_an_unsupported_layer(tmp_path, capsys):
    rb.save(nn.Sequential(nn.Dense(3, 4, rng=0), nn.RBF(4, 2, rng=0)), tmp_path / "r.safetensors")
    assert main(["export", str(tmp_path / "r.safetensors"), str(tmp_path / "r.onnx"),
                 "--input-shape", "3"]) == 2
    assert "RBF at model[1]" in capsys.readouterr().err
    assert not (tmp_path / "r.onnx").exists()


def test_an_integer_example_for_a_float_model_gives_a_float_input(tmp_path):
    model = nn.Sequential(_jitter(nn.Dense(4, 3, rng=0)))
    proto = rb.io.export_onnx(model, tmp_path / "m.onnx", [[1, 2, 3, 4]])
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    x = np.array([[1, 2, 3, 4], [0, -1, 5, 2]], dtype=np.float32)
    (got,) = _session(tmp_path / "m.onnx").run(None, {"input": x})
    np.testing.assert_allclose(got, _rosenblatt(model, x)[0], atol=ATOL)
    # An Embedding first still takes int64 indices, also inside nested Sequentials.
    tokens = nn.Sequential(nn.Sequential(nn.Embedding(10, 4, rng=0)), nn.Tanh())
    proto = rb.io.export_onnx(tokens, tmp_path / "e.onnx", TOKENS.astype(np.int32))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64


@pytest.mark.parametrize("start_axis", [-1, -2, -3])
def test_flatten_with_a_negative_start_axis(start_axis, tmp_path):
    got = check_export(nn.Flatten(start_axis), IMG, tmp_path)
    assert got[0].shape == _rosenblatt(nn.Flatten(start_axis), IMG)[0].shape


def test_standardize_is_checked(tmp_path):
    model = nn.Sequential(nn.Dense(6, 2, rng=0))
    path = tmp_path / "m.onnx"
    mean = np.zeros(6)
    for std, match in [(np.zeros(6), r"std must be finite and > 0.*got 0\.0"),
                       (-np.ones(6), r"std must be finite and > 0.*got -1\.0"),
                       (np.full(6, np.nan), r"std must be finite and > 0.*got nan"),
                       (np.full(6, np.inf), r"std must be finite and > 0.*got inf")]:
        with pytest.raises(ValueError, match="export_onnx: standardize's " + match):
            rb.io.export_onnx(model, path, VEC, standardize=(mean, std))
    with pytest.raises(ValueError, match=r"standardize's mean must be finite; got nan"):
        rb.io.export_onnx(model, path, VEC, standardize=(np.full(6, np.nan), np.ones(6)))
    with pytest.raises(ValueError, match=r"standardize's mean must have the shape of one "
                                         r"sample \(6,\).*got shape \(3,\)"):
        rb.io.export_onnx(model, path, VEC, standardize=(np.zeros(3), np.ones(3)))
    with pytest.raises(ValueError, match=r"standardize's std must have the shape"):
        rb.io.export_onnx(model, path, VEC, standardize=(mean, np.ones(5)))
    with pytest.raises(ValueError, match=r"standardize must be a pair \(mean, std\)"):
        rb.io.export_onnx(model, path, VEC, standardize=(mean, "x"))
    assert not path.exists()
    rb.io.export_onnx(model, path, VEC, standardize=(0.5, 2.0))  # broadcast, as documented
    (got,) = _session(path).run(None, {"input": VEC})
    np.testing.assert_allclose(got, _rosenblatt(model, (VEC - 0.5) / 2)[0], atol=ATOL)


def test_dynamic_axes_must_be_integers(tmp_path):
    for axes in [(0.5,), (True,), ("0",), 0]:
        with pytest.raises(ValueError, match=r"export_onnx: dynamic_axes must be axis numbers"):
            rb.io.export_onnx(nn.Tanh(), tmp_path / "m.onnx", VEC, dynamic_axes=axes)
    rb.io.export_onnx(nn.Tanh(), tmp_path / "m.onnx", VEC, dynamic_axes=(np.int64(0), -1))


def test_a_missing_output_folder_is_named(tmp_path):
    target = tmp_path / "nope" / "m.onnx"
    with pytest.raises(FileNotFoundError, match=r"cannot write .*nope.m\.onnx: the folder "
                                                r".*nope does not exist") as info:
        rb.io.export_onnx(nn.Tanh(), target, VEC)
    assert ".tmp" not in str(info.value)


def test_cli_export_names_a_missing_folder(tmp_path, capsys):
    rb.save(nn.Sequential(nn.Dense(3, 4, rng=0)), tmp_path / "d.safetensors")
    target = tmp_path / "nope" / "d.onnx"
    assert main(["export", str(tmp_path / "d.safetensors"), str(target),
                 "--input-shape", "3"]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {target}: the folder {tmp_path / 'nope'} does not exist" in err
    assert ".tmp" not in err and "Errno" not in err


def test_cli_export_prints_the_graphs_dtype(tmp_path, capsys):
    rb.save(nn.Sequential(nn.Dense(3, 4, rng=0, dtype=np.float64)), tmp_path / "d.safetensors")
    assert main(["export", str(tmp_path / "d.safetensors"), str(tmp_path / "d.onnx"),
                 "--input-shape", "3"]) == 0
    out = capsys.readouterr().out
    assert "input input (batch, 3) float64" in out
    assert onnx.load(str(tmp_path / "d.onnx")).graph.input[0].type.tensor_type.elem_type \
        == onnx.TensorProto.DOUBLE


def test_float64_conv_exports_for_the_reference_runtime(tmp_path):
    # The docstring's float64 note, as measured: ONNX allows a float64 Conv and onnx's
    # reference evaluator runs it; onnxruntime's CPU provider has no double Conv kernel.
    model = nn.Sequential(nn.Conv2d(3, 2, 3, rng=0, dtype=np.float64), nn.Flatten())
    x = IMG.astype(np.float64)
    proto = rb.io.export_onnx(model, tmp_path / "c.onnx", x)
    (got,) = ReferenceEvaluator(proto).run(None, {"input": x})
    np.testing.assert_allclose(got, _rosenblatt(model, x)[0], atol=1e-10)
    try:
        _session(tmp_path / "c.onnx")
    except Exception as e:  # noqa: BLE001 - onnxruntime's own exception types
        assert "NOT_IMPLEMENTED" in str(e) and "Conv" in str(e)
    assert "Conv (Conv1d, Conv2d)" in rb.io.export_onnx.__doc__
