"""``rosenblatt evaluate MODEL --data NAME``: loss and accuracy of a saved model on a dataset.

``--split test`` (the default) scores the held-out test rows of the data the model was trained
on: a named dataset's split is rebuilt from the model file's dataset options, seed and test
fraction; so is a data file's, the file being recognised by its SHA-256, which ``train``
records (by its name, for model files written before it did). Any other file is evaluated
whole (``--split all``), and ``--split test`` on it is an error: it has no held-out rows.
"""

import json
import os
import sys

import numpy as np

from .data import load_named, split
from .errors import CLIError
from .modelfile import load, preprocess
from .predict import one_input_hint
from .train import evaluate_arrays, finite_json


def add_parser(sub):
    p = sub.add_parser("evaluate", help="evaluate a saved model on a dataset or data file",
                       description="Evaluate a model saved by `rosenblatt train` on a dataset. "
                       "For the dataset or data file it was trained on, the default split is "
                       "the same held-out test split (a file is recognised by its contents); "
                       "another file is evaluated whole.")
    p.add_argument("model", metavar="MODEL", help="a model.safetensors file")
    p.add_argument("--data", required=True, metavar="NAME",
                   help="a name from `rosenblatt datasets`, or a .csv/.npy/.npz file")
    p.add_argument("--target", metavar="COLUMN",
                   help="the target column of a data file (default: the one the model was "
                        "trained on; for .npy, a column index)")
    p.add_argument("--split", choices=("test", "all"),
                   help="which part of the data: test, the rows held out from the dataset "
                        "or file the model was trained on; all, every row (default: test, "
                        "but all for a file the model was not trained on)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=run)
    return p


def _from_file(args, meta):
    from .datafile import FORMATS, by_name, class_labels, read

    target = args.target if args.target is not None else meta.get("target")
    if isinstance(target, str) and args.data.lower().endswith(".npy"):
        try:
            target = int(target)
        except ValueError:
            raise CLIError(f"--target: for .npy, the index of the target column; got "
                           f"{target!r}") from None
    if not args.data.lower().endswith(FORMATS):
        raise CLIError(f"option --data: {args.data!r} is neither a dataset name nor a "
                       f".csv/.npy/.npz file")
    if target is None and not args.data.lower().endswith(".npz"):  # .npz: array 'y', as train
        raise CLIError("option --target: name the target column of the data file (the model "
                       "file does not say)")
    table = read(args.data, target, need_target=True, columns=meta.get("columns"))
    task = meta.get("task")
    y = class_labels(table, meta.get("loss", "cross_entropy")) if task == "classification" \
        else table.y.astype(np.float64)
    return by_name(table, meta.get("columns"), what="option --data"), y


def _file_split(args, meta):
    """``"test"`` or ``"all"``: the split of data file ``args.data`` to evaluate. The file the
    model was trained on (the same SHA-256; the same name for a model file that records none)
    defaults to its test rows; another file to all of its rows, and ``--split test`` on it is
    a CLIError, as on the training file when the test split was a file of its own."""
    from .train import fingerprint

    if not meta.get("path"):
        if args.split == "test":
            trained = (f"was trained on dataset {meta['dataset']!r}" if meta.get("dataset")
                       else "was not trained by `rosenblatt train`")
            raise CLIError(f"--split test: the model in {args.model} {trained}, not on a data "
                           f"file, so no rows of {args.data!r} were held out from its training; "
                           f"use --split all to evaluate the file whole")
        return "all"
    digest, trained = meta.get("data_sha256"), meta.get("dataset")
    if digest is None:  # a model file of an older version: the training file's name
        same, found = os.path.basename(args.data) == trained, None
    else:
        found = (fingerprint(args.data) or {}).get("sha256")
        same = found == digest
    if same and args.split != "all" and not meta.get("test"):
        raise CLIError(f"the model's test split was a file of its own (config key data.test), "
                       f"so {args.data!r} holds no held-out rows, only its training and "
                       f"validation rows: evaluate the test file, or use --split all")
    if same:
        return "test" if args.split is None else args.split
    why = (f"{args.data!r} is not the file the model was trained on ({trained!r}, SHA-256 "
           f"{digest[:12]}...; this file's is {str(found)[:12]}...)" if digest is not None
           else f"{args.data!r} is not the file the model was trained on ({trained!r})")
    if args.split == "test":
        raise CLIError(f"--split test: {why}, so none of its rows were held out from "
                       f"training; use --split all to evaluate it whole")
    if os.path.basename(args.data) == trained:  # a changed training file: worth a word
        print(f"rosenblatt evaluate: note: {why}; all of it is evaluated", file=sys.stderr)
    return "all"


def run(args):
    model, meta = load(args.model)
    if "." in os.path.basename(args.data) or os.sep in args.data:
        x, y = _from_file(args, meta)
        split_name = _file_split(args, meta)
        if split_name == "test":  # the rows train held out (data.split, as train calls it)
            _, _, x, y = split(x, y, meta["test"], meta.get("seed", 0), 1)
        return _report(args, model, meta, x, y, split_name)
    args.split = args.split or "test"
    same = meta.get("dataset") == args.data
    x, y, xt, yt = load_named(args.data, meta.get("options") if same else None, key="--data",
                              seed=meta.get("seed", 0))
    if y is None:
        raise CLIError(f"dataset {args.data!r} has no targets to evaluate against")
    if args.split == "test" and not meta and xt is None:
        print(f"rosenblatt evaluate: note: {args.model} was not written by `rosenblatt train`, "
              f"so its training split is unknown; the test split is seed 0's 20% of "
              f"{args.data!r}, which the model may have seen", file=sys.stderr)
    if args.split == "test":
        if xt is None:
            x, y, xt, yt = split(x, y, meta.get("test", 0.2), meta.get("seed", 0), 1)
        x, y = xt, yt
        if len(x) == 0:
            raise CLIError(f"the model's test split of {args.data!r} is empty (it was trained "
                           f"on other data); use --split all")
    elif xt is not None:
        x, y = np.concatenate([x, xt]), np.concatenate([y, yt])
    return _report(args, model, meta, x, y, args.split)


def _report(args, model, meta, x, y, split_name):
    x = preprocess(x, meta, f"dataset {args.data!r}")
    # A model saved by rb.save (not by `train`) has no task in its metadata: integer
    # labels mean classification, real-valued targets regression.
    task = meta.get("task") or ("classification" if y.ndim == 1 and np.issubdtype(
        y.dtype, np.integer) else "regression")
    loss = meta.get("loss")  # None (a file of rb.save or evolve): chosen from the outputs
    if task != "classification" and y.ndim == 1:
        y = y[:, None].astype(x.dtype)
    try:
        result = evaluate_arrays(model, x, y, loss, task)
    except (ValueError, TypeError) as e:  # TypeError: a model of token indices, of two inputs
        raise CLIError(f"the model does not fit dataset {args.data!r}: {e}"
                       f"{one_input_hint(model)}") from None
    result = {"dataset": args.data, "split": split_name, **result}
    if args.json:
        print(json.dumps(finite_json(result), allow_nan=False))  # NaN/inf as null
    else:
        for key, value in result.items():
            print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return 0
