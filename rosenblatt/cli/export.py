"""``rosenblatt export MODEL OUTPUT.onnx``: a saved model as an ONNX file (see rb.io.export_onnx).

The input shape of one sample comes from the model file's metadata (``rosenblatt
train`` and ``tune`` store it) or from ``--input-shape``. A model trained by the
CLI standardises its inputs with the training set's mean and std; the ONNX graph
does the same first (``--no-standardize`` leaves it out), so it takes the same
raw inputs as ``rosenblatt predict`` and returns the model's outputs (logits
for a classifier).
"""

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
                        "0,1 also frees the time axis of a sequence model)")
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


def run(args):
    import rosenblatt as rb

    try:
        from ..io import onnx as onnx_export  # the module; onnx itself is imported on export

        onnx_export._onnx()
    except ImportError as e:
        raise CLIError(str(e)) from None
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
    try:
        proto = rb.io.export_onnx(model, args.output, example,
                                  opset=args.opset or onnx_export.DEFAULT_OPSET,
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
