"""ONNX export: a trained model leaves the library in the standard exchange format.

:func:`export_onnx` writes a model in evaluation mode as an ONNX graph
(opset 17 by default) built with ``onnx.helper``, one ONNX node (or a short
fixed chain) per layer, the weights as initializers. The exporter walks the
model and runs each layer on the example input at the same time, so every
ONNX value is paired with the array rosenblatt computes for it: shapes are
known at each step, and a layer that cannot be written fails at once with its
name and its position in the model.

How layers map (evaluation mode, DESIGN "Modules, parameters, state"):

==========================  ===================================================
rosenblatt                  ONNX
==========================  ===================================================
Dense                       Gemm (2-D input) or MatMul + Add
SparseDense                 as Dense, with the masked weight
Maxout                      MatMul + Add, Reshape, ReduceMax
Conv1d, Conv2d              Conv (every border mode as explicit ``pads``)
MaxPool2d, AvgPool2d        MaxPool, AveragePool
L2Pool2d                    LpPool (p = 2)
GlobalMax/AvgPool2d         GlobalMaxPool / GlobalAveragePool + Flatten
KMaxPool                    TopK, TopK over the indices (original order), GatherElements
BatchNorm1d, BatchNorm2d    BatchNormalization with the running statistics (a
                            float64 graph adds eps to the variance: ONNX's
                            epsilon is a float32 attribute)
activations                 Sigmoid, Tanh, Relu, LeakyRelu, PRelu, Clip (HardTanh),
                            Softmax, LogSoftmax, Identity; Step and Sign as
                            Greater + Cast / Where; RReLU as LeakyRelu with the
                            mean slope (its evaluation rule); in a float64
                            graph a slope that float32 cannot hold (0.1) is a
                            PRelu slope tensor, since LeakyRelu's alpha is a
                            float32 attribute
Dropout                     nothing (inverted), or Mul by 1 - rate (classic)
Flatten                     Flatten (start_axis 1) or Reshape
Embedding                   Gather (the input is int64 indices); a negative
                            index is first made out of range (Less, Where),
                            so the runtime refuses it as the library does,
                            where a plain Gather would wrap it
RNN, LSTM, GRU              RNN, LSTM, GRU between two Transposes (ONNX runs
                            time-major), one node per stacked layer
Bidirectional               the two layers as direction "forward" and
                            "reverse" nodes, outputs concatenated
SequenceOutputs             the outputs (``last=True``: Gather of the last step)
Sequential                  its layers in order
==========================  ===================================================

Gate orders: the library's LSTM blocks are (i, f, g, o) (PyTorch's), ONNX's
are (i, o, f, c), so the columns of W_x, W_h and b are permuted; peephole
weights go from (p_i, p_f, p_o) to ONNX's (p_i, p_o, p_f); a coupled LSTM
(i = 1 - f) becomes a plain ONNX LSTM whose input-gate block is the forget
block negated, since sigmoid(-a) = 1 - sigmoid(a) (exact, and it needs no
``input_forget``, which runtimes read differently). The GRU
is PyTorch's (blocks r, z, n with the reset gate applied to h W_hn + b_hn),
which is ONNX's ``linear_before_reset=1`` with blocks (z, r, h): b_hn is the
hidden-side bias of the h block, ``Rbh``. Recurrent layers trained with
``batch_norm=True`` have BN(x W_x) folded into W_x and b with the running
statistics (exact in evaluation mode); learned initial states are broadcast
over the batch with Expand. The exported graph runs whole sequences
(``lengths`` is not an input).

The batch axis of the graph input is symbolic (``"batch"``); the other axes
are those of ``example_input`` unless ``dynamic_axes`` frees them (e.g. the
time axis of a recurrent model). onnx is an optional dependency
(``pip install rosenblatt[onnx]``); it is imported when export is called.
"""

import numpy as np

from ..autodiff.tensor import Tensor
from ..checks import is_int
from ..nn.activations import (
    HardTanh,
    Identity,
    LeakyReLU,
    LogSoftmax,
    PReLU,
    ReLU,
    RReLU,
    Sigmoid,
    Sign,
    Softmax,
    Step,
    Tanh,
)
from ..nn.batchnorm import BatchNorm1d, BatchNorm2d
from ..nn.bidirectional import Bidirectional
from ..nn.conv import Conv1d, Conv2d, conv_padding
from ..nn.dense import Dense
from ..nn.dropout import Dropout
from ..nn.embedding import Embedding
from ..nn.flatten import Flatten
from ..nn.gru import GRU
from ..nn.lstm import LSTM
from ..nn.maxout import Maxout
from ..nn.module import Module, Sequential
from ..nn.pooling import (
    AvgPool2d,
    GlobalAvgPool2d,
    GlobalMaxPool2d,
    KMaxPool,
    L2Pool2d,
    MaxPool2d,
)
from ..nn.recurrent import SequenceOutputs
from ..nn.rnn import RNN
from ..nn.sparse_dense import SparseDense
from .atomic import write_bytes_atomic

__all__ = ["DEFAULT_OPSET", "UnsupportedLayerError", "build_onnx", "exportable", "export_onnx"]

DEFAULT_OPSET = 17
_MIN_OPSET = 17  # Shape's start/end (15), Softmax per axis and Squeeze's axes input (13)
_ONNX_MISSING = ("export_onnx needs the onnx package: pip install 'rosenblatt[onnx]' "
                 "(or pip install onnx onnxruntime)")


class UnsupportedLayerError(TypeError):
    """A layer of the model has no ONNX equivalent; the message names it and where it sits."""


def _onnx():
    try:
        import onnx
    except ImportError:  # pragma: no cover - CI installs the extra
        raise ImportError(_ONNX_MISSING) from None
    return onnx


class _Value:
    """An ONNX value name paired with the array rosenblatt computes for it."""

    __slots__ = ("name", "data")

    def __init__(self, name, data):
        self.name, self.data = name, data

    @property
    def shape(self):
        return self.data.shape


class _Graph:
    """The nodes and initializers being built, with fresh names."""

    def __init__(self, onnx, float_dtype, opset):
        self.onnx, self.opset = onnx, opset
        self.helper = onnx.helper
        self.float_dtype = np.dtype(float_dtype)
        self.nodes, self.initializers = [], []
        self._used = set()

    def fresh(self, hint):
        hint = hint.replace("[", ".").replace("]", "") or "v"
        name, n = hint, 1
        while name in self._used:
            n += 1
            name = f"{hint}_{n}"
        self._used.add(name)
        return name

    def const(self, array, hint, dtype=None):
        """An initializer (float arrays take the model's float dtype unless ``dtype``)."""
        array = np.asarray(array)
        if dtype is not None:
            array = array.astype(dtype)
        elif array.dtype.kind == "f":
            array = array.astype(self.float_dtype)
        name = self.fresh(hint)
        self.initializers.append(
            self.onnx.numpy_helper.from_array(array.copy(order="C"), name))  # (0-d kept)
        return name

    def ints(self, values, hint):
        return self.const(np.asarray(values, dtype=np.int64), hint)

    def node(self, op, inputs, hint, n_outputs=1, **attrs):
        """Add a node; returns its output name (or list of names)."""
        outputs = [self.fresh(f"{hint}.{op}" if n_outputs == 1 else f"{hint}.{op}.{k}")
                   for k in range(n_outputs)]
        self.nodes.append(self.helper.make_node(op, list(inputs), outputs,
                                                name=self.fresh(f"{hint}/{op}"), **attrs))
        return outputs[0] if n_outputs == 1 else outputs


# -- converters: (graph, module, x: _Value, where) -> output structure of _Value ------------

_CONVERTERS = {}


def _converts(*types):
    def decorate(fn):
        for t in types:
            _CONVERTERS[t] = fn
        return fn
    return decorate


def exportable():
    """The layer and container types :func:`export_onnx` can write, sorted by name."""
    return sorted(_CONVERTERS, key=lambda t: t.__name__)


def _run(module, x):
    """What the module computes on ``x`` (a _Value or a structure of them), as arrays."""
    return _arrays(module(_tensors(x)))


def _tensors(x):
    if isinstance(x, _Value):
        return Tensor(x.data)
    return tuple(_tensors(v) for v in x)


def _arrays(y):
    if isinstance(y, Tensor):
        return y.data
    if isinstance(y, (tuple, list)):
        return tuple(_arrays(v) for v in y)
    return np.asarray(y)


def _expect_tensor(x, module, where):
    if not isinstance(x, _Value):
        raise UnsupportedLayerError(
            f"export_onnx: {type(module).__name__} at {where} receives a recurrent layer's "
            f"(outputs, state) pair; put SequenceOutputs() between them"
        )
    return x


def _convert(g, module, x, where):
    convert = _CONVERTERS.get(type(module))  # exact type: a subclass may compute otherwise
    if convert is None:
        names = ", ".join(t.__name__ for t in exportable())
        raise UnsupportedLayerError(
            f"export_onnx: {type(module).__name__} at {where} has no ONNX equivalent (or no "
            f"exporter yet); exportable layers: {names}"
        )
    return convert(g, module, x, where)


@_converts(Sequential)
def _sequential(g, module, x, where):
    for i, layer in enumerate(module.layers):
        x = _convert(g, layer, x, f"{where}[{i}]")
    return x


def _affine(g, x, W, b, where):
    """x @ W + b: Gemm for a matrix input, MatMul (+ Add) otherwise."""
    w = g.const(W, f"{where}.W")
    if x.data.ndim == 2:
        inputs = [x.name, w] + ([g.const(b, f"{where}.b")] if b is not None else [])
        return g.node("Gemm", inputs, where)
    y = g.node("MatMul", [x.name, w], where)
    return y if b is None else g.node("Add", [y, g.const(b, f"{where}.b")], where)


@_converts(Dense)
def _dense(g, module, x, where):
    x = _expect_tensor(x, module, where)
    out = _run(module, x)
    b = None if module.b is None else module.b.data
    return _Value(_affine(g, x, module.W.data, b, where), out)


@_converts(SparseDense)
def _sparse_dense(g, module, x, where):
    x = _expect_tensor(x, module, where)
    out = _run(module, x)
    b = None if module.b is None else module.b.data
    return _Value(_affine(g, x, module.W.data * module.mask, b, where), out)


@_converts(Maxout)
def _maxout(g, module, x, where):
    x = _expect_tensor(x, module, where)
    out = _run(module, x)
    z = _affine(g, x, module.W.data, module.b.data, where)
    shape = [0] * (x.data.ndim - 1) + [module.out_features, module.pieces]
    grouped = g.node("Reshape", [z, g.ints(shape, f"{where}.shape")], where)
    if g.opset >= 18:  # ReduceMax's axes became an input in opset 18
        y = g.node("ReduceMax", [grouped, g.ints([-1], f"{where}.axes")], where, keepdims=0)
    else:
        y = g.node("ReduceMax", [grouped], where, axes=[-1], keepdims=0)
    return _Value(y, out)


@_converts(Conv1d, Conv2d)
def _conv(g, module, x, where):
    x = _expect_tensor(x, module, where)
    out = _run(module, x)
    pads = conv_padding(module.padding, module.kernel_size, where)
    inputs = [x.name, g.const(module.W.data, f"{where}.W")]
    if module.b is not None:
        inputs.append(g.const(module.b.data, f"{where}.b"))
    y = g.node("Conv", inputs, where, kernel_shape=list(module.kernel_size),
               strides=list(module.stride),
               pads=[lo for lo, _ in pads] + [hi for _, hi in pads])
    if module.activation == "relu":  # fused in the layer, a node of its own in ONNX
        y = g.node("Relu", [y], where)
    return _Value(y, out)


@_converts(MaxPool2d, AvgPool2d, L2Pool2d)
def _pool(g, module, x, where):
    x = _expect_tensor(x, module, where)
    out = _run(module, x)
    attrs = {"kernel_shape": list(module.kernel_size), "strides": list(module.stride)}
    if isinstance(module, MaxPool2d):
        y = g.node("MaxPool", [x.name], where, **attrs)
    elif isinstance(module, AvgPool2d):
        y = g.node("AveragePool", [x.name], where, **attrs)
    else:
        y = g.node("LpPool", [x.name], where, p=2, **attrs)
    return _Value(y, out)


@_converts(GlobalMaxPool2d, GlobalAvgPool2d)
def _global_pool(g, module, x, where):
    x = _expect_tensor(x, module, where)
    out = _run(module, x)
    op = "GlobalMaxPool" if isinstance(module, GlobalMaxPool2d) else "GlobalAveragePool"
    return _Value(g.node("Flatten", [g.node(op, [x.name], where)], where, axis=1), out)


@_converts(KMaxPool)
def _kmax(g, module, x, where):
    x = _expect_tensor(x, module, where)
    out = _run(module, x)
    axis = module.axis % x.data.ndim
    k = g.ints([module.k], f"{where}.k")
    # ONNX's sorted TopK puts the lower index first among equal values: the library's tie rule.
    _, idx = g.node("TopK", [x.name, k], where, n_outputs=2, axis=axis, largest=1, sorted=1)
    _, order = g.node("TopK", [idx, k], where, n_outputs=2, axis=axis, largest=0, sorted=1)
    ordered = g.node("GatherElements", [idx, order], where, axis=axis)
    return _Value(g.node("GatherElements", [x.name, ordered], where, axis=axis), out)


@_converts(BatchNorm1d, BatchNorm2d)
def _batch_norm(g, module, x, where):
    x = _expect_tensor(x, module, where)
    out = _run(module, x)
    var, eps = module.running_var, module.eps
    if x.data.dtype == np.float64 and float(np.float32(eps)) != eps:
        # epsilon is a float32 attribute, and 1e-5 is no float32 (off by 2.5e-14: a relative
        # 1e-8 of the output where the variance is small): a float64 graph adds it to the
        # variance itself, in float64
        var, eps = var.astype(np.float64) + eps, 0.0
    inputs = [x.name, g.const(module.gamma.data, f"{where}.gamma"),
              g.const(module.beta.data, f"{where}.beta"),
              g.const(module.running_mean, f"{where}.running_mean"),
              g.const(var, f"{where}.running_var")]
    return _Value(g.node("BatchNormalization", inputs, where, epsilon=eps), out)


# -- activations ------------------------------------------------------------------------

_UNARY = {Sigmoid: "Sigmoid", Tanh: "Tanh", ReLU: "Relu", Identity: "Identity"}


@_converts(*_UNARY)
def _unary(g, module, x, where):
    x = _expect_tensor(x, module, where)
    return _Value(g.node(_UNARY[type(module)], [x.name], where), _run(module, x))


@_converts(LeakyReLU, RReLU)
def _leaky(g, module, x, where):
    x = _expect_tensor(x, module, where)
    out = _run(module, x)
    slope = module.slope if isinstance(module, LeakyReLU) else (module.lower + module.upper) / 2
    if x.data.dtype == np.float64 and float(np.float32(slope)) != slope:
        # LeakyRelu's alpha is a float32 attribute: 0.1 would be off by 1.5e-9, |x| times
        # that in a float64 graph; PRelu takes the slope as a float64 tensor, exact
        return _Value(g.node("PRelu", [x.name, g.const(np.asarray(slope), f"{where}.slope")],
                             where), out)
    return _Value(g.node("LeakyRelu", [x.name], where, alpha=float(slope)), out)


@_converts(PReLU)
def _prelu(g, module, x, where):
    x = _expect_tensor(x, module, where)
    out = _run(module, x)
    a = module.weight.data
    if a.size > 1:  # one slope per channel (axis 1): broadcast over the axes after it
        a = a.reshape((a.size,) + (1,) * (x.data.ndim - 2))
    return _Value(g.node("PRelu", [x.name, g.const(a, f"{where}.weight")], where), out)


@_converts(HardTanh)
def _hardtanh(g, module, x, where):
    x = _expect_tensor(x, module, where)
    out = _run(module, x)
    lo, hi = (g.const(np.asarray(v, dtype=x.data.dtype), f"{where}.{n}")
              for n, v in (("min", module.min), ("max", module.max)))
    return _Value(g.node("Clip", [x.name, lo, hi], where), out)


@_converts(Softmax, LogSoftmax)
def _softmax(g, module, x, where):
    x = _expect_tensor(x, module, where)
    op = "Softmax" if isinstance(module, Softmax) else "LogSoftmax"
    return _Value(g.node(op, [x.name], where, axis=module.axis), _run(module, x))


@_converts(Step, Sign)
def _threshold(g, module, x, where):
    x = _expect_tensor(x, module, where)
    out = _run(module, x)
    dtype = x.data.dtype
    fires = g.node("Greater", [x.name, g.const(np.asarray(module.threshold, dtype),
                                               f"{where}.threshold")], where)
    if isinstance(module, Step):
        return _Value(g.node("Cast", [fires], where, to=_elem_type(g, dtype)), out)
    one, minus = (g.const(np.asarray(v, dtype), f"{where}.{n}") for n, v in
                  (("one", 1), ("minus_one", -1)))
    return _Value(g.node("Where", [fires, one, minus], where), out)


@_converts(Dropout)
def _dropout(g, module, x, where):
    x = _expect_tensor(x, module, where)
    out = _run(module, x)
    if module.inverted or module.rate == 0:
        return _Value(x.name, out)  # inverted dropout is the identity at test time
    keep = g.const(np.asarray(1 - module.rate, x.data.dtype), f"{where}.keep")
    return _Value(g.node("Mul", [x.name, keep], where), out)


@_converts(Flatten)
def _flatten(g, module, x, where):
    x = _expect_tensor(x, module, where)
    out = _run(module, x)
    start = module.start_axis % x.data.ndim  # Flatten(-2) counts from the end, as numpy
    if start == 1:
        return _Value(g.node("Flatten", [x.name], where, axis=1), out)
    shape = g.ints([0] * start + [-1], f"{where}.shape")
    return _Value(g.node("Reshape", [x.name, shape], where), out)


@_converts(Embedding)
def _embedding(g, module, x, where):
    x = _expect_tensor(x, module, where)
    out = _run(module, x)
    idx = x.name
    if x.data.dtype != np.int64:
        idx = g.node("Cast", [idx], where, to=g.onnx.TensorProto.INT64)
    # ONNX's Gather wraps a negative index (-1 is the last row); the library refuses it. A
    # negative index becomes num_embeddings, out of range like any index >= num_embeddings,
    # which the runtime refuses: the graph has no clean "raise", and this keeps one rule.
    negative = g.node("Less", [idx, g.ints(0, f"{where}.zero")], where)
    idx = g.node("Where", [negative, g.ints(len(module.W.data), f"{where}.num_embeddings"),
                           idx], where)
    return _Value(g.node("Gather", [g.const(module.W.data, f"{where}.W"), idx], where,
                         axis=0), out)


@_converts(SequenceOutputs)
def _sequence_outputs(g, module, x, where):
    outputs = x[0] if isinstance(x, tuple) else x
    out = _run(module, x)
    if not module.last:
        return _Value(outputs.name, out)
    last = g.ints(-1, f"{where}.last")
    return _Value(g.node("Gather", [outputs.name, last], where, axis=1), out)


# -- recurrent layers -------------------------------------------------------------------

def _blocks(a, H, order):
    """Columns of ``a`` (..., G*H) regrouped by gate block ``order``; a block ``~k`` is block
    ``k`` negated (sigmoid(-a) = 1 - sigmoid(a))."""
    parts = [-a[..., ~k * H:(~k + 1) * H] if k < 0 else a[..., k * H:(k + 1) * H]
             for k in order]
    return np.concatenate(parts, axis=-1)


def _layer_weights(module, layer):
    """(W_x, b) of one layer, with an evaluation-mode batch norm of x W_x folded in."""
    W_x, b = module.W_x[layer].data.astype(np.float64), module.b[layer].data.astype(np.float64)
    if module.batch_norm:
        mean = getattr(module, f"running_mean_{layer}").astype(np.float64)
        var = getattr(module, f"running_var_{layer}").astype(np.float64)
        scale = module.gamma[layer].data / np.sqrt(var + module.bn_eps)
        W_x, b = W_x * scale, b - mean * scale  # BN(x W) = x (W s) + (beta - mean s)
    return W_x, b


def _recurrent_node(g, module, layer, x_tm, batch, where, direction):
    """One stacked layer as an ONNX RNN/LSTM/GRU node on time-major x; returns
    (Y squeezed to (T, B, H), [final state names, each (1, B, H)])."""
    H = module.hidden_size
    W_x, b = _layer_weights(module, layer)
    W_h = module.W_h[layer].data
    zeros = np.zeros(b.shape[:-1] + (H,))
    attrs = {"hidden_size": H, "direction": direction}
    if isinstance(module, LSTM):
        op, n_states = "LSTM", 2
        if module.coupled:  # library (f, g, o); ONNX (i, o, f, c) with a_i = -a_f: i = 1 - f
            order = [~0, 2, 0, 1]
        else:  # library (i, f, g, o)
            order = [0, 3, 1, 2]
        Wb, Rb = _blocks(b, H, order), np.zeros(4 * H)
    elif isinstance(module, GRU):
        op, n_states, order = "GRU", 1, [1, 0, 2]  # library (r, z, n); ONNX (z, r, h)
        attrs["linear_before_reset"] = 1
        Wb = _blocks(b, H, order)
        Rb = np.concatenate([zeros, zeros, module.b_hn[layer].data.astype(np.float64)])
    else:
        op, n_states, order = "RNN", 1, [0]
        attrs["activations"] = ["Tanh" if module.nonlinearity == "tanh" else "Relu"]
        Wb, Rb = b, np.zeros(H)
    hint = f"{where}.{layer}" if module.num_layers > 1 else where
    inputs = [x_tm, g.const(_blocks(W_x, H, order).T[None], f"{hint}.W"),
              g.const(_blocks(W_h, H, order).T[None], f"{hint}.R"),
              g.const(np.concatenate([Wb, Rb])[None], f"{hint}.B"), ""]
    if module.learn_initial_state:
        shape = g.node("Concat", [g.ints([1], f"{hint}.one"), batch,
                                  g.ints([H], f"{hint}.hidden")], hint, axis=0)
        for s in module.initial_state:
            start = g.const(s.data[layer].reshape(1, 1, H), f"{hint}.initial_state")
            inputs.append(g.node("Expand", [start, shape], hint))
    if isinstance(module, LSTM) and module.peephole:  # library (p_i, p_f, p_o); ONNX i, o, f
        while len(inputs) < 7:
            inputs.append("")
        P = module.P[layer].data
        p_i = -P[1] if module.coupled else P[0]  # coupled: a_i = -a_f, peephole included
        inputs.append(g.const(np.concatenate([p_i, P[2], P[1]])[None], f"{hint}.P"))
    outs = g.node(op, inputs, hint, n_outputs=1 + n_states, **attrs)
    y = g.node("Squeeze", [outs[0], g.ints([1], f"{hint}.axis")], hint)
    return y, outs[1:]


def _batch_size(g, x, where):
    """A (1,) int64 ONNX value holding the batch size of x."""
    return g.node("Shape", [x.name], where, start=0, end=1)


def _recurrent_stack(g, module, x_tm, batch, where, direction):
    """All the stacked layers; returns (Y time-major (T, B, H), states per kind)."""
    finals = []
    for layer in range(module.num_layers):
        x_tm, states = _recurrent_node(g, module, layer, x_tm, batch, where, direction)
        finals.append(states)
    per_kind = []
    for states in zip(*finals):  # stack the layers: (num_layers, B, H), as the library
        per_kind.append(states[0] if len(states) == 1 else g.node("Concat", list(states),
                                                                     where, axis=0))
    return x_tm, per_kind


def _check_recurrent(module, where):
    if not isinstance(module, (RNN, LSTM, GRU)) or type(module) not in _CONVERTERS:
        raise UnsupportedLayerError(
            f"export_onnx: {type(module).__name__} at {where} is not an RNN, LSTM or GRU; "
            f"Bidirectional exports only those"
        )


def _state_values(module, per_kind, ref_state):
    refs = (ref_state,) if not isinstance(ref_state, tuple) else ref_state
    values = tuple(_Value(name, r) for name, r in zip(per_kind, refs))
    return values[0] if len(values) == 1 else values


@_converts(RNN, LSTM, GRU)
def _recurrent(g, module, x, where):
    x = _expect_tensor(x, module, where)
    _check_recurrent(module, where)
    out, state = _run(module, x)
    x_tm = g.node("Transpose", [x.name], where, perm=[1, 0, 2])
    batch = _batch_size(g, x, where) if module.learn_initial_state else None
    y_tm, per_kind = _recurrent_stack(g, module, x_tm, batch, where, "forward")
    y = g.node("Transpose", [y_tm], where, perm=[1, 0, 2])
    return _Value(y, out), _state_values(module, per_kind, state)


@_converts(Bidirectional)
def _bidirectional(g, module, x, where):
    x = _expect_tensor(x, module, where)
    fwd, bwd = module.layer, module.backward_layer
    _check_recurrent(fwd, f"{where}.layer")
    _check_recurrent(bwd, f"{where}.backward_layer")
    out, (s_f, s_b) = _run(module, x)
    x_tm = g.node("Transpose", [x.name], where, perm=[1, 0, 2])
    need_batch = fwd.learn_initial_state or bwd.learn_initial_state
    batch = _batch_size(g, x, where) if need_batch else None
    # A "reverse" node reads x_T ... x_1 and writes each output at its own time step: the
    # library's reverse-run-reverse, also through a stack of layers.
    y_f, st_f = _recurrent_stack(g, fwd, x_tm, batch, f"{where}.layer", "forward")
    y_b, st_b = _recurrent_stack(g, bwd, x_tm, batch, f"{where}.backward_layer", "reverse")
    y = g.node("Transpose", [g.node("Concat", [y_f, y_b], where, axis=-1)], where,
               perm=[1, 0, 2])
    return _Value(y, out), (_state_values(fwd, st_f, s_f), _state_values(bwd, st_b, s_b))


# -- the entry point --------------------------------------------------------------------

def _prune(g, outputs):
    """Drop the nodes and initializers no output needs (e.g. the final states of a
    recurrent layer followed by SequenceOutputs)."""
    needed, kept = set(outputs), []
    for node in reversed(g.nodes):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(node.input)
    g.nodes = kept[::-1]
    g.initializers = [t for t in g.initializers if t.name in needed]


def _elem_type(g, dtype):
    return g.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _flat(structure):
    if isinstance(structure, _Value):
        return [structure]
    return [v for item in structure for v in _flat(item)]


def _float_dtype(model, example):
    """The model's float dtype (its parameters'); for a model without any, the example's."""
    for p in model.parameters():
        if p.data.dtype.kind == "f":
            return p.data.dtype
    kind = getattr(getattr(example, "dtype", None), "kind", None)
    return example.dtype if kind == "f" else np.dtype(np.float32)


def _takes_indices(model):
    """True when the model's first layer reads integer indices (an Embedding)."""
    while isinstance(model, Sequential) and len(model):
        model = model[0]
    return isinstance(model, Embedding)


def _example(example_input, dtype, indices):
    data = example_input.data if isinstance(example_input, Tensor) else example_input
    try:
        data = np.asarray(data)
    except (TypeError, ValueError):
        data = None
    if data is None or data.dtype.kind not in "fiub" or data.ndim == 0:
        raise TypeError(
            f"export_onnx: example_input must be an array (batch, ...) of numbers; got "
            f"{type(example_input).__name__}"
            + (f" of dtype {data.dtype} and shape {data.shape}" if data is not None else "")
        )
    if data.dtype.kind == "f" or not indices:
        # An integer example for a float model ([[1, 2, 3, 4]]) is a float input too: the
        # library computes on it in the model's dtype, and ONNX's Gemm/Conv take no ints.
        return data.astype(dtype)
    return data.astype(np.int64)  # indices (Embedding): ONNX Gather takes int64


def _dims(shape, dynamic_axes):
    """The graph input's dimensions: symbolic names on ``dynamic_axes``, sizes elsewhere."""
    try:
        given = list(dynamic_axes)
    except TypeError:
        given = None
    if given is None or not all(is_int(a) for a in given):  # 0.5 is no axis (nor True)
        raise ValueError(f"export_onnx: dynamic_axes must be axis numbers (integers) of the "
                         f"input (shape {shape}); got {dynamic_axes!r}")
    axes = sorted({int(a) % len(shape) for a in given})
    if any(not -len(shape) <= int(a) < len(shape) for a in given):
        raise ValueError(f"export_onnx: dynamic_axes {tuple(dynamic_axes)} out of range for an "
                         f"input of shape {shape}")
    names = {0: "batch", 1: "time"} if len(shape) == 3 else {0: "batch"}
    return [names.get(k, f"axis{k}") if k in axes else n for k, n in enumerate(shape)]


def _standardize(standardize, shape, dynamic=()):
    """``(mean, std)`` as float64 arrays that broadcast against one sample's ``shape``, checked.

    Each keeps its smallest shape (a per-feature (features,) vector stays one: (1, features)
    for a (time, features) sample), so that the graph reads any size along the ``dynamic``
    axes (of the sample, counted from 0); one that varies along a dynamic axis is refused,
    one that is constant along it is stored once.
    """
    try:
        mean, std = standardize
        mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"export_onnx: standardize must be a pair (mean, std) of arrays of "
                         f"numbers; got {standardize!r:.80}") from None
    checked = []
    for label, v in (("mean", mean), ("std", std)):
        if v.size == int(np.prod(shape)):
            v = v.reshape(shape)  # e.g. the CLI's flat per-feature vectors
        else:
            try:
                if v.ndim > len(shape) or np.broadcast_shapes(v.shape, shape) != tuple(shape):
                    raise ValueError
            except ValueError:
                raise ValueError(f"export_onnx: standardize's {label} must have the shape of "
                                 f"one sample {shape} (or broadcast to it); got shape "
                                 f"{v.shape}") from None
            v = v.reshape((1,) * (len(shape) - v.ndim) + v.shape)
        for axis in dynamic:
            if v.shape[axis] > 1:
                first = v.take([0], axis=axis)
                if not np.array_equal(v, np.broadcast_to(first, v.shape), equal_nan=True):
                    raise ValueError(
                        f"export_onnx: standardize's {label} varies along axis {axis + 1} of "
                        f"the input, which dynamic_axes leaves open (its size may change); "
                        f"give one value per feature, or leave axis {axis + 1} fixed")
                v = first
        bad = v[~np.isfinite(v)] if label == "mean" else v[~(np.isfinite(v) & (v > 0))]
        if bad.size:
            need = "finite" if label == "mean" else "finite and > 0 (the graph divides by it)"
            raise ValueError(f"export_onnx: standardize's {label} must be {need}; got "
                             f"{float(bad[0])!r}")
        checked.append(v)
    return checked[0], checked[1]


def build_onnx(model, example_input, *, opset=DEFAULT_OPSET, graph_name=None, input_name="input",
               standardize=None, dynamic_axes=(0,)):
    """The ONNX ``ModelProto`` of ``model`` in evaluation mode (see :func:`export_onnx`).

    Returns
    -------
    (onnx.ModelProto, outputs)
        The model and the list of arrays rosenblatt computes for
        ``example_input``, one per graph output.
    """
    onnx = _onnx()
    if not isinstance(model, Module):
        raise TypeError(f"export_onnx: model must be a rosenblatt Module; got "
                        f"{type(model).__name__}")
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) \
            or not _MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"export_onnx: opset must be an int from {_MIN_OPSET} to "
                         f"{onnx.defs.onnx_opset_version()} (this onnx's newest); got {opset!r}")
    dtype = _float_dtype(model, example_input.data if isinstance(example_input, Tensor)
                         else example_input)
    data = _example(example_input, dtype, _takes_indices(model))
    g = _Graph(onnx, dtype, int(opset))
    name = g.fresh(input_name)
    graph_input = onnx.helper.make_tensor_value_info(
        name, _elem_type(g, data.dtype), _dims(data.shape, dynamic_axes))
    x = _Value(name, data)
    if standardize is not None:
        if data.dtype.kind != "f":
            raise ValueError("export_onnx: standardize needs a float input")
        dims = _dims(data.shape, dynamic_axes)
        dynamic = [k - 1 for k in range(1, data.ndim) if isinstance(dims[k], str)]
        mean, std = _standardize(standardize, data.shape[1:], dynamic)
        centred = g.node("Sub", [x.name, g.const(mean, "input_mean")], "standardize")
        name = g.node("Div", [centred, g.const(std, "input_std")], "standardize")
        x = _Value(name, ((data - mean) / std).astype(data.dtype))
    with model.evaluating():
        result = _convert(g, model, x, "model")
        outputs = _flat(result)
    graph_outputs, arrays = [], []
    for i, value in enumerate(outputs):
        out_name = "output" if len(outputs) == 1 else f"output_{i}"
        # Identity gives every output its own name (an output may also be the input, or
        # appear twice: a recurrent layer's last output and its final state).
        g.nodes.append(onnx.helper.make_node("Identity", [value.name], [out_name],
                                             name=g.fresh(f"{out_name}/Identity")))
        graph_outputs.append(onnx.helper.make_tensor_value_info(
            out_name, _elem_type(g, value.data.dtype), [None] * value.data.ndim))
        arrays.append(value.data)
    _prune(g, [o.name for o in graph_outputs])
    graph = onnx.helper.make_graph(g.nodes, graph_name or type(model).__name__, [graph_input],
                                   graph_outputs, g.initializers)
    from .._version import __version__

    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="rosenblatt", producer_version=__version__)
    # The oldest IR version that carries this opset: older runtimes can read the file too.
    find = getattr(onnx.helper, "find_min_ir_version_for", None)
    if find is not None:
        proto.ir_version = find(list(proto.opset_import))
    onnx.checker.check_model(proto, full_check=True)
    return proto, arrays


def export_onnx(model, path, example_input, *, opset=DEFAULT_OPSET, standardize=None,
                dynamic_axes=(0,)):
    """Write ``model`` (in evaluation mode) as an ONNX file.

    Parameters
    ----------
    model : Module
        Any composition of the exportable layers (:func:`exportable`):
        ``Sequential`` models of Dense, Conv1d/Conv2d, pooling, batch norm,
        activations, Dropout, Flatten, Embedding, RNN/LSTM/GRU (with
        ``SequenceOutputs``) and Bidirectional layers; a recurrent layer alone
        exports its outputs and final states.
    path : str or os.PathLike
        The ``.onnx`` file, written atomically.
    example_input : array_like, shape (batch, ...)
        An input the model accepts. Its shape after the batch axis fixes the
        graph input's (the batch axis is symbolic, and so are ``dynamic_axes``).
        The graph input's dtype is the model's float dtype (int64 indices for a
        model that starts with an Embedding), whatever the example's: cast your
        data accordingly (``X.astype(np.float32)`` for a float32 model).
    opset : int, default 17
        The ONNX operator set (17 up to the installed onnx's newest).
    standardize : (mean, std), optional
        Finite arrays of the shape of one sample (or broadcastable to it), std
        > 0: the graph first computes (x - mean) / std, so it takes raw inputs
        (the CLI passes a trained model's saved standardisation). Along a
        dynamic axis (``dynamic_axes``) they must not vary: a per-feature
        ``(features,)`` vector serves sequences of any length.
    dynamic_axes : sequence of int, default (0,)
        The input axes whose size the graph leaves open (named ``batch``,
        ``time`` for the second axis of a (batch, time, features) input,
        ``axisK`` otherwise); the others are fixed to ``example_input``'s.
        ``(0, 1)`` lets a recurrent model read sequences of any length.

    Returns
    -------
    onnx.ModelProto
        The model written (already checked with ``onnx.checker.check_model``).

    Raises
    ------
    UnsupportedLayerError
        (a ``TypeError``) for a layer without an ONNX equivalent, naming it
        and its position, e.g. ``model[2]``.
    ImportError
        When onnx is not installed (``pip install 'rosenblatt[onnx]'``).

    Notes
    -----
    Outputs are named ``output``, or ``output_0``, ``output_1`` ... when the
    model returns several arrays (a recurrent layer: its outputs then its
    final states). The graph's results equal the library's in evaluation
    mode up to float rounding (the tests compare with onnxruntime at atol 1e-5).
    float64 models export in float64, which ONNX allows everywhere (onnx's
    reference evaluator runs them), but onnxruntime's CPU kernels do not cover
    it: measured with onnxruntime 1.32, Conv (Conv1d, Conv2d), AveragePool,
    LpPool (L2Pool2d), GlobalAveragePool, GlobalMaxPool and RNN have no double
    kernel (the session fails to load, NOT_IMPLEMENTED), and LSTM and GRU load
    but refuse to run; Gemm/MatMul, MaxPool, BatchNormalization, TopK, Gather
    and the activations run in float64. Convert with
    ``model.astype(np.float32)`` first to run such a model there.

    Examples
    --------
    >>> import os, tempfile, numpy as np, rosenblatt as rb
    >>> net = rb.nn.Sequential(rb.nn.Dense(4, 8, rng=0), rb.nn.ReLU(), rb.nn.Dense(8, 3, rng=1))
    >>> path = os.path.join(tempfile.mkdtemp(), "mlp.onnx")
    >>> proto = rb.io.export_onnx(net, path, np.zeros((2, 4), dtype=np.float32))
    >>> [node.op_type for node in proto.graph.node]
    ['Gemm', 'Relu', 'Gemm', 'Identity']
    """
    proto, _ = build_onnx(model, example_input, opset=opset, standardize=standardize,
                          dynamic_axes=dynamic_axes)
    write_bytes_atomic(path, proto.SerializeToString(), example_name="model.onnx")
    return proto
