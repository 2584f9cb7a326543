"""``rosenblatt export MODEL OUTPUT.onnx``: a saved model as an ONNX file (see rb.io.export_onnx).

The input shape of one sample comes from the model file's metadata (``rosenblatt
train`` and ``tune`` store it) or from ``--input-shape``. A model trained by the
CLI standardises its inputs with the training set's mean and std; the ONNX graph
does the same first (``--no-standardize`` leaves it out), so it takes the same
raw inputs as ``rosenblatt predict`` and returns the model's outputs (logits
for a classifier).

``train`` saves one mean and std per input value of the (time x features)
sample, so the time axis of a sequence model it standardised stays fixed:
``--dynamic-axes 0,1`` works for a model trained with ``data.standardize =
false`` (or exported with ``--no-standardize``, whose graph then takes
standardised inputs). OUTPUT may not be the model file itself.
"""

import os

import numpy as np

from .errors import CLIError
from .modelfile import load


def add_parser(sub):
    p = sub.add_parser("export", help="write a saved model as an ONNX file",
                       description="Write a model saved by `rosenblatt train` (or rb.save) as "
                       "an ONNX graph, checked with onnx.checker. Needs the onnx extra: "
                       "pip install 'rosenblatt[onnx]'.")
    p.add_argument("model", metavar="MODEL", help="a model.safetensors file")
    p.add_argument("output", metavar="OUTPUT", help="the .onnx file to write")
    p.add_argument("--input-shape", metavar="SHAPE",
                   help="the shape of one sample, e.g. 784 or 1,28,28 (default: the shape "
                        "saved in the model file)")
    p.add_argument("--dynamic-axes", metavar="AXES", default="0",
                   help="input axes left open, counting the batch axis as 0 (default: 0; "
                        "0,1 also frees the time axis of a sequence model trained with "
                        "data.standardize = false: train's per-position standardisation "
                        "fixes it)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: 17)")
    p.add_argument("--no-standardize", action="store_true",
                   help="leave the saved input standardisation out of the graph")
    p.set_defaults(func=run)
    return p


def _parse_shape(text):
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        shape = ()
    if not shape or any(n <= 0 for n in shape):
        raise CLIError(f"--input-shape must be positive integers separated by commas (one "
                       f"sample, without the batch axis), e.g. 784 or 1,28,28; got {text!r}")
    return shape


def _first_layer(model):
    from ..nn.module import Sequential

    while isinstance(model, Sequential) and len(model):
        model = model[0]
    return model


def _check_output(model, output):
    """OUTPUT is not MODEL: the export would replace the trained model with its ONNX bytes."""
    try:
        same = os.path.exists(output) and os.path.samefile(model, output)
    except OSError:  # MODEL missing or unreadable: load() says so
        same = False
    if same:
        raise CLIError(f"OUTPUT {output!r} is the model file itself; writing it would replace "
                       f"the trained model: name an .onnx file, e.g. model.onnx")


def _check_fixed_standardization(standardize, dynamic, shape):
    """The saved per-position mean and std do not vary along an axis --dynamic-axes frees
    (the CLI cannot give one value per feature instead): what to do, in the CLI's terms."""
    for axis in dynamic:
        if not 1 <= axis <= len(shape):
            continue  # the batch axis, or an axis export_onnx refuses itself
        for values in standardize:
            if np.ptp(values, axis=axis - 1).max(initial=0.0) > 0:
                raise CLIError(
                    f"--dynamic-axes {axis}: the model's saved standardisation (one mean and "
                    f"std per input value, as `train` stores them) varies along axis {axis}, "
                    f"so that axis must keep its size {shape[axis - 1]}; leave it out of "
                    f"--dynamic-axes (export for that length), or train with "
                    f"data.standardize = false to export a graph of any length")


def run(args):
    import rosenblatt as rb

    try:
        from ..io import onnx as onnx_export  # the module; onnx itself is imported on export

        onnx_export._onnx()
    except ImportError as e:
        raise CLIError(str(e)) from None
    _check_output(args.model, args.output)
    model, meta = load(args.model)
    if args.input_shape is not None:
        shape = _parse_shape(args.input_shape)
    elif meta.get("shape"):
        shape = tuple(int(n) for n in meta["shape"])
    else:
        raise CLIError(f"{args.model} holds no input shape (it was not written by `rosenblatt "
                       f"train`); give --input-shape, e.g. --input-shape 784")
    if isinstance(_first_layer(model), rb.nn.Embedding):
        example = np.zeros((1, *shape), dtype=np.int64)  # token indices
    else:
        example = np.zeros((1, *shape), dtype=meta.get("dtype", "float32"))
    try:
        dynamic = tuple(int(a) for a in args.dynamic_axes.split(",") if a.strip())
    except ValueError:
        raise CLIError(f"--dynamic-axes must be axis numbers separated by commas, e.g. 0,1; "
                       f"got {args.dynamic_axes!r}") from None
    standardize = None
    if not args.no_standardize and meta.get("mean") is not None and example.dtype.kind == "f":
        mean, std = np.asarray(meta["mean"]), np.asarray(meta["std"])
        if mean.size != int(np.prod(shape)):
            raise CLIError(f"the model's saved standardisation has {mean.size} features but "
                           f"--input-shape {shape} has {int(np.prod(shape))}")
        standardize = (mean.reshape(shape), std.reshape(shape))
        _check_fixed_standardization(standardize, dynamic, shape)
    opset = onnx_export.DEFAULT_OPSET if args.opset is None else args.opset
    try:
        proto = rb.io.export_onnx(model, args.output, example, opset=opset,
                                  standardize=standardize, dynamic_axes=dynamic)
    except rb.io.UnsupportedLayerError as e:
        raise CLIError(str(e)) from None
    except (ValueError, TypeError) as e:
        raise CLIError(f"cannot export {args.model} for inputs of shape {shape}: {e}") from None
    except OSError as e:
        if e.filename is None and e.strerror:  # the library's own message names OUTPUT
            raise CLIError(e.strerror) from None
        raise CLIError(f"cannot write {args.output}: {e.strerror or e}") from None
    graph = proto.graph
    # The graph's input dtype, not the example's: a float64 model exports a float64 input.
    dtype = np.dtype(onnx_export._onnx().helper.tensor_dtype_to_np_dtype(
        graph.input[0].type.tensor_type.elem_type))
    outputs = ", ".join(o.name for o in graph.output)
    note = " (inputs standardised in the graph)" if standardize is not None else ""
    # the graph's own dims: an axis --dynamic-axes freed is a name ("time"), not the example's size
    dims = ", ".join(d.dim_param or str(d.dim_value)
                     for d in graph.input[0].type.tensor_type.shape.dim)
    print(f"wrote {args.output}: opset {proto.opset_import[0].version}, "
          f"{len(graph.node)} nodes; input {graph.input[0].name} ({dims}) {dtype}{note}; "
          f"outputs {outputs}")
    return 0
