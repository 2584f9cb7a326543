"""``rosenblatt datasets``, and how the CLI gets a named dataset's splits.

The split is deterministic (a permutation drawn from the run's seed), so
``rosenblatt evaluate`` can rebuild exactly the test split that ``train``
held out.
"""

import os

import numpy as np

from ..datasets.preprocessing import is_constant_feature
from .errors import CLIError

CLASSIFICATION_LOSSES = ("cross_entropy", "nll", "max_margin", "hinge", "log_loss",
                         "binary_cross_entropy", "binary_cross_entropy_with_logits")
#: Two-class losses with one output column: labels 0/1.
BINARY_LOSSES = ("binary_cross_entropy", "binary_cross_entropy_with_logits", "hinge", "log_loss")
#: The notes' margin losses take c = -1/+1: labels 0/1 (or -1/+1 already) become -1/+1.
SIGN_LOSSES = ("hinge", "log_loss")
MAX_CLASSES = 100_000


def add_parser(sub):
    p = sub.add_parser("datasets", help="list the datasets rosenblatt can load by name",
                       description="List the datasets of rb.datasets (name and description).")
    p.set_defaults(func=run)
    return p


def _registry():
    import rosenblatt as rb

    datasets = getattr(rb, "datasets", None)
    if datasets is None or not hasattr(datasets, "list_datasets"):
        raise CLIError("this version of rosenblatt has no dataset registry (rb.datasets)")
    return datasets


def run(args):
    entries = _registry().list_datasets()
    if isinstance(entries, dict):
        entries = list(entries.items())
    rows = []
    for entry in entries:
        if isinstance(entry, (tuple, list)) and len(entry) >= 2:
            rows.append((str(entry[0]), str(entry[1])))
        elif isinstance(entry, str):
            rows.append((entry, ""))
        else:
            name = getattr(entry, "name", str(entry))
            rows.append((name, getattr(entry, "description", "")))
    width = max((len(n) for n, _ in rows), default=0)
    for name, desc in rows:
        print(f"{name:<{width}}  {desc}".rstrip())
    return 0


def _as_arrays(loaded, name):
    """(X, y, X_test, y_test) from whatever the loader returned (test may be None)."""
    if isinstance(loaded, dict):
        keys = {k.lower(): v for k, v in loaded.items()}
        if "x_train" in keys:
            return keys["x_train"], keys.get("y_train"), keys.get("x_test"), keys.get("y_test")
        return keys.get("x", keys.get("data")), keys.get("y", keys.get("target")), None, None
    if isinstance(loaded, (tuple, list)):
        if len(loaded) == 2:
            return loaded[0], loaded[1], None, None
        if len(loaded) == 4:
            return tuple(loaded)
    for xa, ya in (("X", "y"), ("data", "target"), ("x", "y")):
        if hasattr(loaded, xa) and hasattr(loaded, ya):
            return getattr(loaded, xa), getattr(loaded, ya), None, None
    raise CLIError(f"dataset {name!r}: the loader returned {type(loaded).__name__}, which the "
                   "CLI cannot split into inputs and targets")


def load_named(name, options=None, key="data.name", seed=0):
    """Load a dataset of the registry by name: (X, y, X_test or None, y_test or None).

    Generated datasets draw from the library generator, reseeded with ``seed``
    first, so that ``train`` and ``evaluate`` see the same points.
    """
    import rosenblatt as rb

    datasets = _registry()
    known = [e[0] if isinstance(e, (tuple, list)) else getattr(e, "name", e)
             for e in (list(datasets.list_datasets().items())
                       if isinstance(datasets.list_datasets(), dict)
                       else datasets.list_datasets())]
    if name not in known:
        where = f"option {key}" if key.startswith("-") else f"config key '{key}'"
        raise CLIError(f"{where}: unknown dataset {name!r}; expected one of: "
                       f"{', '.join(map(str, known))} (see `rosenblatt datasets`)")
    rb.seed(seed)
    try:
        loaded = datasets.load(name, **(options or {}))
    except (TypeError, ValueError) as e:
        raise CLIError(f"dataset {name!r}: bad options ({e})") from None
    except MemoryError:
        raise CLIError(f"dataset {name!r}: the options {options} ask for more memory than "
                       "this machine has") from None
    except ImportError as e:
        raise CLIError(f"dataset {name!r} needs an optional dependency: {e}") from None
    x, y, xt, yt = _as_arrays(loaded, name)
    x = np.asarray(x)
    x = x.reshape(len(x), -1) if x.ndim > 2 else x
    if xt is not None:
        xt = np.asarray(xt)
        xt = xt.reshape(len(xt), -1) if xt.ndim > 2 else xt
    return x, (None if y is None else np.asarray(y)), xt, (None if yt is None else np.asarray(yt))


def labels_for_loss(y, loss, where, what="the target"):
    """Targets checked against a classification loss, each bad one reported by ``where(i)``.

    Returns class labels 0, 1, 2, ... (int64); for hinge and log_loss, -1/+1
    (labels 0/1 or -1/+1 given). Real-valued targets, negative or huge labels,
    and more than two classes for a two-class loss are CLIErrors naming the
    loss and the first bad value. Targets with several columns (one-hot rows)
    are returned as they are; one column is taken as labels.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:  # one column of targets: labels, not a distribution
        y = y[:, 0]
    if y.ndim != 1 or len(y) == 0:
        return y
    hint = " (for real-valued targets use loss = \"mse\")"
    if y.dtype.kind == "f":
        bad = np.flatnonzero(y != np.round(y))
        if len(bad):
            raise CLIError(f"{where(int(bad[0]))}: {what} is {y[bad[0]]:g}, not a class index; "
                           f"training.loss {loss!r} needs class labels 0, 1, 2, ...{hint} "
                           f"({len(bad)} samples)")
    low, high = int(np.argmin(y)), int(np.argmax(y))
    sign_pairs = loss in SIGN_LOSSES and set(np.unique(y).tolist()) <= {-1, 1}
    if y[low] < 0 and not sign_pairs:
        pairs = " (or -1/+1)" if loss in SIGN_LOSSES else ""
        raise CLIError(f"{where(low)}: {what} is {_number(y[low])}; class labels must be 0, 1, "
                       f"2, ...{pairs} ({int(np.sum(y < 0))} samples)")
    if y[high] >= MAX_CLASSES:
        raise CLIError(f"{where(high)}: {what} is {_number(y[high])}; class labels must be 0, "
                       f"1, 2, ... (at most {MAX_CLASSES} classes)")
    y = y.astype(np.int64)
    if loss in BINARY_LOSSES and y[high] > 1:
        raise CLIError(f"{where(high)}: {what} is {int(y[high])}; training.loss {loss!r} is "
                       f"for two classes (labels 0 or 1); for more use loss = "
                       f"\"cross_entropy\" with one output per class")
    if loss in SIGN_LOSSES:
        return np.where(y > 0, 1, -1).astype(np.int64)
    return y


def _number(value):
    """A label as written: 3, 2.5, 18446744073709551615 (not a wrapped-around int64)."""
    return f"{value:g}" if np.asarray(value).dtype.kind == "f" else str(int(value))


def split(x, y, fraction, seed, salt):
    """Hold out ``fraction`` of the rows, by a permutation from (seed, salt): deterministic."""
    n = len(x)
    if fraction <= 0:
        return x, y, x[:0], y[:0]
    perm = np.random.default_rng([seed, salt]).permutation(n)
    k = max(1, int(round(fraction * n)))
    held, kept = perm[:k], perm[k:]
    return x[kept], y[kept], x[held], y[held]


def _from_file(data_cfg, key, base_dir, loss, notes, dtype=None, locate=None):
    """(X, y) of data.path / data.test / data.validation given as a file, checked by row.

    With ``locate`` (a dict), ``locate[key]`` is set to the function that names a row
    ('file.csv line 12'), and for data.path ``locate["columns"]`` to the inputs' names (a
    CSV header; None for arrays). A test or validation CSV's columns are matched to
    data.path's by name."""
    import sys

    from .datafile import class_labels, read

    path = data_cfg[key]
    full = path if os.path.isabs(path) else os.path.normpath(os.path.join(base_dir, path))
    from .datafile import by_name, unique_columns

    table = read(full, data_cfg["target"], need_target=True)
    if locate is None:
        locate = {}
    locate[key] = table.where
    if key == "path":
        # the model's inputs are matched by name later (evaluate, predict): refused now, not
        # after training a model that no file could be given to
        unique_columns(table, what="config key 'data.path'")
        locate["columns"] = list(table.columns) if table.named else None
    else:
        table.x = by_name(table, locate.get("columns"), what=f"config key 'data.{key}'")
        if locate.get("columns") and table.named:
            table.columns = list(locate["columns"])  # the order of table.x now
    x = table.x.reshape(len(table.x), -1)
    if x.shape[1] == 0:
        raise CLIError(f"{full} has no feature columns: only the target {table.target!r}; "
                       f"the model needs inputs besides it")
    if dtype is not None and not data_cfg.get("standardize", True):
        _check_range(table, x, np.dtype(dtype))
    y = table.y
    if loss in CLASSIFICATION_LOSSES:
        y = class_labels(table, loss)
    else:
        y = y.astype(np.float64)
    note = f"rosenblatt: data: {table.describe()}"
    if notes is None:
        print(note, file=sys.stderr)
    else:
        notes.append(note)
    return x, y


def resolved_files(data_cfg, base_dir):
    """A copy of a [data] table with ``path``, and ``test``/``validation`` where they name
    files, as the absolute, symlink-free paths of the files they name (relative to
    ``base_dir``, the config's folder, as :func:`prepare` reads them): "train.csv",
    "./train.csv" and, from a sub-folder, "../train.csv" are one file."""
    data_cfg = dict(data_cfg)
    for key in ("path", "test", "validation"):
        if isinstance(data_cfg.get(key), str) and data_cfg[key]:
            data_cfg[key] = os.path.realpath(os.path.join(base_dir, data_cfg[key]))
    return data_cfg


def _check_range(table, x, dtype):
    """Unstandardised inputs must fit the model's dtype (1e50 is inf in float32)."""
    limit = np.finfo(dtype).max
    big = np.abs(x) > limit
    if big.any():
        rows = np.flatnonzero(big.any(axis=1))
        column = int(np.argmax(big[rows[0]]))
        name = table.columns[column] if table.columns else f"column {column}"
        raise CLIError(f"{table.where(int(rows[0]))}: input {name!r} is {x[rows[0], column]:g}, "
                       f"beyond {dtype.name} (at most {limit:.3g}); {len(rows)} rows are: set "
                       f"data.standardize = true or model.dtype = \"float64\", or rescale "
                       f"the column")


def prepare(data_cfg, seed, base_dir=".", loss=None, notes=None, dtype=None, locate=None):
    """Train/validation/test arrays for a config's [data] table (not yet standardised).

    The data come from a named dataset (``data.name``) or your own file
    (``data.path``, relative to ``base_dir``, the config's folder);
    ``data.test`` and ``data.validation`` are fractions held out by a
    permutation from the seed, or files of the same format. What was read
    (rows, columns, the CSV delimiter detected) is reported on stderr, or
    appended to ``notes`` to be printed once every check has passed. With
    ``dtype`` (the model's) and ``data.standardize = false``, file inputs beyond
    its range are refused. With ``locate`` (a dict), the splits read from files of their
    own (keys "test", "validation") get there the function naming their rows.
    """
    xtr, ytr, xv, yv, xt, yt = _splits(data_cfg, seed, base_dir, loss, notes, dtype, locate)
    if len(xtr) == 0:
        source = data_cfg["path"] or f"dataset {data_cfg['name']!r}"
        raise CLIError(f"{source}: no training samples left after the test and validation "
                       f"splits (data.test = {data_cfg['test']}, data.validation = "
                       f"{data_cfg['validation']}); hold out smaller fractions")
    return xtr, ytr, xv, yv, xt, yt


def _splits(data_cfg, seed, base_dir, loss, notes, dtype, locate=None):
    """The six arrays of :func:`prepare`, the training split possibly empty."""
    if data_cfg.get("path"):
        locate = {} if locate is None else locate
        x, y = _from_file(data_cfg, "path", base_dir, loss, notes, dtype, locate)
        xt = yt = None
        if isinstance(data_cfg["test"], str):
            xt, yt = _from_file(data_cfg, "test", base_dir, loss, notes, dtype,
                                locate)
        elif data_cfg["test"] <= 0:
            raise CLIError("config key 'data.test': set a fraction in (0, 1) or a second file "
                           "(the test split measures the trained model)")
        if isinstance(data_cfg["validation"], str):
            xv, yv = _from_file(data_cfg, "validation", base_dir, loss, notes, dtype,
                                locate)
            if xt is None:
                x, y, xt, yt = split(x, y, data_cfg["test"], seed, 1)
            for what, other in (("test", xt), ("validation", xv)):
                if other.shape[1:] != x.shape[1:]:
                    raise CLIError(f"config key 'data.{what}': its file has {other.shape[1]} "
                                   f"features per sample but data.path has {x.shape[1]}")
            return x, y, xv, yv, xt, yt
        if xt is None:
            x, y, xt, yt = split(x, y, data_cfg["test"], seed, 1)
        elif xt.shape[1:] != x.shape[1:]:
            raise CLIError(f"config key 'data.test': its file has {xt.shape[1]} features per "
                           f"sample but data.path has {x.shape[1]}")
        xtr, ytr, xv, yv = split(x, y, data_cfg["validation"], seed, 2)
        return xtr, ytr, xv, yv, xt, yt
    if isinstance(data_cfg["test"], str) or isinstance(data_cfg["validation"], str):
        raise CLIError("config keys 'data.test' and 'data.validation' name files only with "
                       "'data.path' (your own data); for a named dataset give fractions")
    name = data_cfg["name"]
    x, y, xt, yt = load_named(name, data_cfg["options"], seed=seed)
    if y is None:
        raise CLIError(f"dataset {name!r} has no targets; `train` needs (X, y)")
    if loss in CLASSIFICATION_LOSSES:
        y = labels_for_loss(y, loss, lambda i: f"dataset {name!r} sample {i}")
        if yt is not None:
            yt = labels_for_loss(yt, loss, lambda i: f"dataset {name!r} test sample {i}")
    if xt is None:
        if data_cfg["test"] <= 0:
            raise CLIError(f"dataset {name!r} has no test split: set data.test to a "
                           "fraction in (0, 1)")
        x, y, xt, yt = split(x, y, data_cfg["test"], seed, 1)
    xtr, ytr, xv, yv = split(x, y, data_cfg["validation"], seed, 2)
    return xtr, ytr, xv, yv, xt, yt


def standardizer(x):
    """Per-feature mean and std of the training inputs (std 1 for constant features).

    In float64; inputs so large that their squares overflow (1e200) are divided
    by each column's largest magnitude first, so the mean and std stay finite.
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = x.mean(axis=0)
        std = x.std(axis=0)
    if not (np.isfinite(mean).all() and np.isfinite(std).all()):
        scale = np.abs(x).max(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        u = x / scale
        mean = u.mean(axis=0) * scale
        std = u.std(axis=0) * scale
    std = np.where(is_constant_feature(mean, std, len(x)), 1.0, std)
    return mean, std
