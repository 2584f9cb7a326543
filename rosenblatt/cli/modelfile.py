"""Reading a model written by ``rosenblatt train`` and applying its preprocessing."""

import sys

import numpy as np

from .errors import CLIError


def load(path):
    """(model in eval mode, the CLI metadata dict or {}) from a model file.

    A training checkpoint without CLI metadata (``train``'s ``checkpoint.safetensors``) is a
    CLIError saying which file to use: its inputs would not be standardised as in training.
    """
    import rosenblatt as rb

    try:
        ckpt = rb.io.load_checkpoint(path)
    except FileNotFoundError:
        raise CLIError(f"model file not found: {path}") from None
    except IsADirectoryError:
        raise CLIError(f"model path is a directory: {path} (give its model.safetensors)") from None
    except rb.FormatError as e:
        raise CLIError(f"cannot load model: {e}") from None
    has_cli = isinstance(ckpt.metadata, dict) and "cli" in ckpt.metadata
    if ckpt.training and not has_cli:
        # train's checkpoint.safetensors (or rb.fit's Checkpoint) holds no standardisation nor
        # split: evaluated as it is, it would give other numbers than the model itself
        raise CLIError(f"{path} is a training checkpoint (for `rosenblatt train CONFIG "
                       f"--resume`), not a model file: it holds no input standardisation; use "
                       f"the run's model.safetensors (finish a stopped run with --resume), or "
                       f"from Python rb.save(rb.load(CHECKPOINT), 'model.safetensors')")
    meta = ckpt.metadata["cli"] if has_cli else {}
    return ckpt.model.eval(), check_metadata(meta, path)


MAX_FEATURES = 100_000_000  # values per sample a model file may ask inputs to be reshaped to
TASKS = ("classification", "regression")


def check_metadata(meta, path):
    """The ``cli`` section of a model file, every key checked: a file is not trusted.

    What ``rosenblatt train`` wrote passes unchanged; anything else (a wrong
    type, a dtype other than float32/float64, a shape that disagrees with the
    saved mean, a loss that is not one of ``rb.losses``, dataset options that
    would ask for 3e8 samples) is a CLIError naming the key (exit 2).
    """
    import rosenblatt as rb

    from .config import MAX_SEED, check_options
    from .data import CLASSIFICATION_LOSSES

    def bad(key, expected, value):
        text = repr(value)
        text = text if len(text) <= 60 else text[:57] + "..."
        raise CLIError(f"model file {path}: metadata key 'cli.{key}': expected {expected}; got "
                       f"{type(value).__name__} {text}")

    if not isinstance(meta, dict):
        bad("", "a table", meta)
    meta = dict(meta)
    if meta.get("path") is not None and not isinstance(meta["path"], bool):
        bad("path", "true or false", meta["path"])
    target = meta.get("target")
    if isinstance(target, int) and not isinstance(target, bool) and abs(target) < 1_000_000:
        meta.pop("target")  # a .npy column index: checked here, put back below
    else:
        target = None
    for key in ("dataset", "task", "loss", "dtype", "target"):
        value = meta.get(key)
        if value is not None and (not isinstance(value, str) or not value or len(value) > 200):
            bad(key, "a short string", value)
    if meta.get("task") is not None and meta["task"] not in TASKS:
        bad("task", "'classification' or 'regression'", meta["task"])
    loss = meta.get("loss")
    fn = getattr(rb.losses, loss, None) if loss is not None else None
    if loss is not None and (loss.startswith("_") or isinstance(fn, type) or not callable(fn)
                             or not getattr(fn, "__module__", "").startswith("rosenblatt")):
        bad("loss", "the name of a loss of rb.losses", loss)
    if loss is not None and meta.get("task") == "classification" \
            and loss not in CLASSIFICATION_LOSSES:
        bad("loss", "a classification loss (the task is classification)", loss)
    if meta.get("dtype") is not None and meta["dtype"] not in ("float32", "float64"):
        bad("dtype", "'float32' or 'float64'", meta["dtype"])
    seed = meta.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)
                             or not 0 <= seed <= MAX_SEED):
        bad("seed", f"an integer in [0, {MAX_SEED}]", seed)
    for key in ("test", "validation"):
        value = meta.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not 0 <= value < 1):
            bad(key, "a fraction in [0, 1)", value)
    classes = meta.get("classes")
    if classes is not None and (isinstance(classes, bool) or not isinstance(classes, int)
                                or not 1 <= classes <= 100_000):
        bad("classes", "an integer in [1, 100000] or nothing", classes)
    if meta.get("options") is not None:
        meta["options"] = check_options(meta["options"], f"model file {path}: metadata key "
                                                         "'cli.options")
    shape = meta.get("shape")
    if shape is not None:
        if not isinstance(shape, list) or not 1 <= len(shape) <= 8 or not all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape) \
                or int(np.prod(shape, dtype=np.float64)) > MAX_FEATURES:
            bad("shape", "a list of at most 8 positive integers", shape)
    for key in ("mean", "std"):
        value = meta.get(key)
        if value is None:
            continue
        if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype.kind not in "fiu" \
                or not np.all(np.isfinite(value)):
            bad(key, "a 1-D array of finite numbers", value)
        if key == "std" and np.any(value <= 0):
            bad(key, "positive standard deviations", value)
    if (meta.get("mean") is None) != (meta.get("std") is None):
        bad("std" if meta.get("std") is None else "mean", "both mean and std, or neither", None)
    if meta.get("mean") is not None:
        if meta["mean"].shape != meta["std"].shape:
            bad("std", f"{meta['mean'].shape[0]} values, as many as cli.mean", meta["std"])
        if shape is not None and int(np.prod(shape)) != meta["mean"].shape[0]:
            bad("shape", f"{meta['mean'].shape[0]} values per sample, as many as cli.mean",
                shape)
    columns = meta.get("columns")
    if columns is not None:  # a CSV's input columns, which evaluate/predict match by name
        n = meta["mean"].shape[0] if meta.get("mean") is not None else None
        if not isinstance(columns, list) or not columns or len(columns) > MAX_FEATURES \
                or not all(isinstance(c, str) and 0 < len(c) <= 200 for c in columns) \
                or len(set(columns)) != len(columns) or n is not None and len(columns) != n:
            bad("columns", "a list of distinct column names, one per input"
                + (f" ({n}, as many as cli.mean)" if n is not None else ""), columns)
    digest = meta.get("data_sha256")  # the training file's contents (evaluate --split test)
    if digest is not None and (not isinstance(digest, str) or len(digest) != 64
                               or digest.strip("0123456789abcdef")):
        bad("data_sha256", "64 hexadecimal digits (the training file's SHA-256)", digest)
    if target is not None:
        meta["target"] = target
    return meta


def preprocess(x, meta, where):
    """Standardise inputs with the training set's mean and std (as saved by train)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    elif x.ndim > 2:
        x = x.reshape(len(x), -1)
    mean, std = meta.get("mean"), meta.get("std")
    if mean is not None:
        mean, std = np.asarray(mean), np.asarray(std)
        if x.shape[1] != mean.shape[0]:
            raise CLIError(f"{where} has {x.shape[1]} features per sample but the model was "
                           f"trained on {mean.shape[0]}")
        x = (x - mean) / std
        far = float(np.mean(np.abs(x) > 10)) if x.size else 0.0
        if far > 0.05:
            # Standardised training inputs hardly ever lie 10 std from the mean; this many
            # means another scale (e.g. raw 0..16 digit pixels where training used [0, 1]).
            dataset = meta.get("dataset", "the training data")
            print(f"rosenblatt: warning: {far:.0%} of the values in {where} lie more than 10 "
                  f"standard deviations from the training inputs' mean; give inputs on the "
                  f"scale of rb.datasets.load({dataset!r}) (the model standardises them "
                  f"itself)", file=sys.stderr)
    if not np.all(np.isfinite(x)):
        raise CLIError(f"{where} contains NaN or infinite values")
    x = x.astype(meta.get("dtype", "float32"))
    shape = meta.get("shape")
    if shape and int(np.prod(shape)) != x.shape[1]:
        raise CLIError(f"{where} has {x.shape[1]} features per sample but the model takes "
                       f"samples of shape {tuple(shape)} ({int(np.prod(shape))} values)")
    return x.reshape(len(x), *shape) if shape else x
