"""``rosenblatt datasets``, and how the CLI gets a named dataset's splits.

The split is deterministic (a permutation drawn from the run's seed), so
``rosenblatt evaluate`` can rebuild exactly the test split that ``train``
held out.
"""

import os

import numpy as np

from .errors import CLIError

CLASSIFICATION_LOSSES = ("cross_entropy", "nll", "max_margin", "hinge", "log_loss",
                         "binary_cross_entropy", "binary_cross_entropy_with_logits")


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


def split(x, y, fraction, seed, salt):
    """Hold out ``fraction`` of the rows, by a permutation from (seed, salt): deterministic."""
    n = len(x)
    if fraction <= 0:
        return x, y, x[:0], y[:0]
    perm = np.random.default_rng([seed, salt]).permutation(n)
    k = max(1, int(round(fraction * n)))
    held, kept = perm[:k], perm[k:]
    return x[kept], y[kept], x[held], y[held]


def _from_file(data_cfg, key, base_dir, loss, notes):
    """(X, y) of data.path / data.test / data.validation given as a file, checked by row."""
    import sys

    from .datafile import class_labels, read

    path = data_cfg[key]
    full = path if os.path.isabs(path) else os.path.normpath(os.path.join(base_dir, path))
    table = read(full, data_cfg["target"], need_target=True)
    x = table.x.reshape(len(table.x), -1)
    y = table.y
    if loss in CLASSIFICATION_LOSSES:
        y = class_labels(table, loss)
        if loss.startswith("binary") and y.max() > 1:
            row = int(np.argmax(y))
            raise CLIError(f"{table.where(row)}: target {table.target!r} is {int(y[row])}; "
                           f"loss {loss!r} needs labels 0 or 1")
    else:
        y = y.astype(np.float64)
    note = f"rosenblatt: data: {table.describe()}"
    if notes is None:
        print(note, file=sys.stderr)
    else:
        notes.append(note)
    return x, y


def prepare(data_cfg, seed, base_dir=".", loss=None, notes=None):
    """Train/validation/test arrays for a config's [data] table (not yet standardised).

    The data come from a named dataset (``data.name``) or your own file
    (``data.path``, relative to ``base_dir``, the config's folder);
    ``data.test`` and ``data.validation`` are fractions held out by a
    permutation from the seed, or files of the same format. What was read
    (rows, columns, the CSV delimiter detected) is reported on stderr, or
    appended to ``notes`` to be printed once every check has passed.
    """
    if data_cfg.get("path"):
        x, y = _from_file(data_cfg, "path", base_dir, loss, notes)
        xt = yt = None
        if isinstance(data_cfg["test"], str):
            xt, yt = _from_file(data_cfg, "test", base_dir, loss, notes)
        elif data_cfg["test"] <= 0:
            raise CLIError("config key 'data.test': set a fraction in (0, 1) or a second file "
                           "(the test split measures the trained model)")
        if isinstance(data_cfg["validation"], str):
            xv, yv = _from_file(data_cfg, "validation", base_dir, loss, notes)
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
        if len(xtr) == 0:
            raise CLIError(f"{data_cfg['path']}: no training samples left after the test and "
                           "validation splits")
        return xtr, ytr, xv, yv, xt, yt
    if isinstance(data_cfg["test"], str) or isinstance(data_cfg["validation"], str):
        raise CLIError("config keys 'data.test' and 'data.validation' name files only with "
                       "'data.path' (your own data); for a named dataset give fractions")
    x, y, xt, yt = load_named(data_cfg["name"], data_cfg["options"], seed=seed)
    if y is None:
        raise CLIError(f"dataset {data_cfg['name']!r} has no targets; `train` needs (X, y)")
    if xt is None:
        if data_cfg["test"] <= 0:
            raise CLIError(f"dataset {data_cfg['name']!r} has no test split: set data.test to a "
                           "fraction in (0, 1)")
        x, y, xt, yt = split(x, y, data_cfg["test"], seed, 1)
    xtr, ytr, xv, yv = split(x, y, data_cfg["validation"], seed, 2)
    return xtr, ytr, xv, yv, xt, yt


def standardizer(x):
    """Per-feature mean and std of the training inputs (std 1 for constant features)."""
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    return mean, std
