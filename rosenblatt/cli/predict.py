"""``rosenblatt predict MODEL INPUT``: predictions on stdout, one line per sample, nothing else.

INPUT is a ``.npy`` array or a ``.csv`` file of numbers (one sample per row;
a non-numeric first row is taken as a header), on the scale of the dataset
the model was trained on as ``rb.datasets.load`` gives it (for "digits",
pixels in [0, 1], not scikit-learn's raw 0..16): the model applies its own
saved standardisation, and warns on stderr when inputs are far outside the
training range. Classifiers print the class
index (``--proba``: the class probabilities, comma-separated); regressors
print the outputs, comma-separated.
"""

import sys
import warnings

import numpy as np

from .errors import CLIError
from .modelfile import load, preprocess
from .train import predict_batches


def add_parser(sub):
    p = sub.add_parser("predict", help="print a saved model's predictions for an .npy/.csv file",
                       description="Print one prediction per input row on stdout.")
    p.add_argument("model", metavar="MODEL", help="a model.safetensors file")
    p.add_argument("input", metavar="INPUT",
                   help="an .npy or .csv file, one sample per row, on the scale of "
                        "rb.datasets.load(NAME) (the model standardises it)")
    p.add_argument("--proba", action="store_true", help="print class probabilities")
    p.set_defaults(func=run)
    return p


def read_input(path):
    """The rows of an .npy or .csv file as a float array."""
    lower = path.lower()
    try:
        if lower.endswith(".npy"):
            x = np.load(path, allow_pickle=False)
        elif lower.endswith(".csv") or lower.endswith(".txt"):
            with open(path, encoding="utf-8") as f:
                first = f.readline()
            try:
                [float(v) for v in first.strip().split(",") if v.strip()]
                skip = 0
            except ValueError:
                skip = 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
                x = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)
        else:
            raise CLIError(f"INPUT must be a .npy or .csv file; got {path!r}")
    except FileNotFoundError:
        raise CLIError(f"input file not found: {path}") from None
    except ValueError as e:
        raise CLIError(f"cannot read {path}: {e}") from None
    if not np.issubdtype(x.dtype, np.number):
        raise CLIError(f"{path}: expected numbers; got an array of {x.dtype}")
    if x.size == 0:
        raise CLIError(f"{path} holds no samples")
    return x


def run(args):
    model, meta = load(args.model)
    x = preprocess(read_input(args.input), meta, args.input)
    try:
        out = predict_batches(model, x)
    except ValueError as e:
        raise CLIError(f"the model does not accept {args.input}: {e}") from None
    task = meta.get("task", "classification" if out.ndim == 2 and out.shape[1] > 1 else
                    "regression")
    lines = []
    if task == "classification" and args.proba:
        z = out - out.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        lines = [",".join(f"{v:.6g}" for v in row) for row in p]
    elif task == "classification":
        labels = out.argmax(axis=1) if out.shape[1] > 1 else (out[:, 0] > 0).astype(int)
        lines = [str(int(v)) for v in labels]
    else:
        lines = [",".join(f"{v:.6g}" for v in np.atleast_1d(row)) for row in out]
    sys.stdout.write("\n".join(lines) + ("\n" if lines else ""))
    return 0
