"""``rosenblatt predict MODEL INPUT``: predictions on stdout, one line per sample, nothing else.

INPUT is a ``.npy`` array, an ``.npz`` archive (array ``X``) or a ``.csv``
file of numbers (one sample per row; ``,`` or ``;`` between values; the first
row is a header when it holds a name that is not a number, or when it lists
the columns the model was trained on, such as "0", "1", ...: columns are
then matched by name), on the scale of the dataset
the model was trained on as ``rb.datasets.load`` gives it (for "digits",
pixels in [0, 1], not scikit-learn's raw 0..16): the model applies its own
saved standardisation, and warns on stderr when inputs are far outside the
training range. Classifiers print the class
index (``--proba``: the class probabilities, comma-separated); regressors
print the outputs, comma-separated.

A two-class model with one output says class 1 when its output passes the
threshold of its loss: 0.5 for a probability (``binary_cross_entropy``, after a
Sigmoid), 0 for a logit or a +-1 score (``binary_cross_entropy_with_logits``,
``log_loss``, ``hinge``: class 1 is c = +1). ``--proba`` prints ``1 - p, p``
with ``p`` the probability of class 1 (the output itself, or the sigmoid of
the logit). A max-margin model's scores (``hinge``, ``max_margin``) are not
probabilities: ``--proba`` is refused for it.
"""

import os
import sys

import numpy as np

from .errors import CLIError
from .modelfile import load, preprocess
from .train import binary_threshold, predict_batches

MARGIN_LOSSES = ("hinge", "max_margin")  # scores of a max-margin model, not probabilities


def one_input_hint(model):
    """' (... the CLI runs models of one input array ...)' for a model whose forward takes
    more than one input (Attention, Seq2Seq, ConditionalGAN); '' otherwise."""
    import inspect

    try:
        params = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return ""
    required = [p for p in params if p.default is p.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(required) > 1:
        return (f" ({type(model).__name__} takes {len(required)} inputs; the CLI runs models "
                f"of one input array: use it from Python)")
    return ""


def add_parser(sub):
    p = sub.add_parser("predict",
                       help="print a saved model's predictions for an .npy/.npz/.csv file",
                       description="Print one prediction per input row on stdout.")
    p.add_argument("model", metavar="MODEL", help="a model.safetensors file")
    p.add_argument("input", metavar="INPUT",
                   help="an .npy, .npz (array X) or .csv file, one sample per row, on the "
                        "scale of rb.datasets.load(NAME) (the model standardises it); a CSV's "
                        "first row is a header when it holds a name that is not a number or lists, "
                        "in order, the columns the model was trained on")
    p.add_argument("--proba", action="store_true", help="print class probabilities")
    p.add_argument("--no-header", action="store_true",
                   help="a CSV's first row of numbers is a sample, even where it spells the "
                        "model's (numeric) column names")
    p.set_defaults(func=run)
    return p


def read_input(path, target=None, columns=None, no_header=False):
    """The rows of an .npy, .npz or .csv file as a float array (:mod:`.datafile`).

    A CSV may hold the target column the model was trained to predict (named
    ``target``); it is left out. With ``columns`` (the input columns the model was
    trained on), a CSV's columns are matched by header name, in any order; a
    missing or extra one is a CLIError. ``no_header``: a first line of numbers is a
    sample, never the model's numeric column names.
    """
    from .datafile import FORMATS, by_name, read

    if not path.lower().endswith(FORMATS):
        raise CLIError(f"INPUT must be a .npy or .csv file (or .npz); got {path!r}")
    if not os.path.exists(path):
        raise CLIError(f"input file not found: {path}")
    table = read(path, columns=None if no_header else columns,
                 model_target=None if no_header else target)
    if columns and table.named:
        return by_name(table, columns, ignore=(target,) if isinstance(target, str) else ())
    x = table.x
    if isinstance(target, str) and table.columns and target in table.columns:
        keep = [j for j, name in enumerate(table.columns) if name != target]
        x = x[:, keep]
    return x


def run(args):
    model, meta = load(args.model)
    x = preprocess(read_input(args.input, meta.get("target"), meta.get("columns"),
                              args.no_header), meta, args.input)
    try:
        out = predict_batches(model, x)
    except (ValueError, TypeError) as e:  # TypeError: a model of token indices, of two inputs
        raise CLIError(f"the model does not accept {args.input}: {e}{one_input_hint(model)}"
                       ) from None
    task = meta.get("task", "classification" if out.ndim == 2 and out.shape[1] > 1 else
                    "regression")
    lines = []
    loss = meta.get("loss")
    if args.proba and task != "classification":
        raise CLIError(f"--proba: {args.model} is a regressor (task {task!r}"
                       + (f", loss {loss!r}" if loss else "") + "); its outputs are not class "
                       "probabilities; leave out --proba")
    binary = out.ndim == 1 or out.ndim == 2 and out.shape[1] == 1
    if task == "classification" and args.proba:
        lines = [",".join(f"{v:.6g}" for v in row) for row in _probabilities(out, loss, binary)]
    elif task == "classification":
        labels = (out.reshape(-1) > binary_threshold(loss)).astype(int) if binary \
            else out.argmax(axis=1)
        lines = [str(int(v)) for v in labels]
    else:
        lines = [",".join(f"{v:.6g}" for v in np.atleast_1d(row)) for row in out]
    sys.stdout.write("\n".join(lines) + ("\n" if lines else ""))
    return 0


def _probabilities(out, loss, binary):
    """Class probabilities, one row per sample: the softmax of several outputs; for one
    output, ``(1 - p, p)`` with ``p`` the probability of class 1."""
    if loss in MARGIN_LOSSES:
        raise CLIError(f"--proba: a {loss}-loss model outputs margin scores, not "
                       f"probabilities; leave out --proba for its class labels")
    if not binary:
        z = out - out.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)
    z = out.reshape(-1).astype(np.float64)
    if loss == "binary_cross_entropy":  # the model ends with a Sigmoid: its output is p
        p = np.clip(z, 0.0, 1.0)
    else:  # a logit (binary_cross_entropy_with_logits, log_loss): p = sigmoid(z), stably
        p = 0.5 * (1.0 + np.tanh(0.5 * z))
    return np.stack([1.0 - p, p], axis=1)
