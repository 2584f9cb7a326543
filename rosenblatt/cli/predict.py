"""``rosenblatt predict MODEL INPUT``: predictions on stdout, one line per sample, nothing else.

INPUT is a ``.npy`` array, an ``.npz`` archive (array ``X``) or a ``.csv``
file of numbers (one sample per row; a non-numeric first row is taken as a
header; ``,`` or ``;`` between values), on the scale of the dataset
the model was trained on as ``rb.datasets.load`` gives it (for "digits",
pixels in [0, 1], not scikit-learn's raw 0..16): the model applies its own
saved standardisation, and warns on stderr when inputs are far outside the
training range. Classifiers print the class
index (``--proba``: the class probabilities, comma-separated); regressors
print the outputs, comma-separated.
"""

import os
import sys

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


def read_input(path, target=None):
    """The rows of an .npy, .npz or .csv file as a float array (:mod:`.datafile`).

    A CSV may hold the target column the model was trained to predict (named
    ``target``); it is left out.
    """
    from .datafile import FORMATS, read

    if not path.lower().endswith(FORMATS):
        raise CLIError(f"INPUT must be a .npy or .csv file (or .npz); got {path!r}")
    if not os.path.exists(path):
        raise CLIError(f"input file not found: {path}")
    table = read(path)
    x = table.x
    if isinstance(target, str) and table.columns and target in table.columns:
        keep = [j for j, name in enumerate(table.columns) if name != target]
        x = x[:, keep]
    return x


def run(args):
    model, meta = load(args.model)
    x = preprocess(read_input(args.input, meta.get("target")), meta, args.input)
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
