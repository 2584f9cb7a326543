"""Training configs (TOML) for ``rosenblatt train``: read, check, and explain mistakes.

A config is a TOML file with these tables (only ``data`` and ``model`` are
required)::

    seed = 0                                   # the run's seed (rb.seed)

    [data]
    name = "digits"                            # a name from `rosenblatt datasets`
    options = {}                               # keyword arguments of the loader
    # or your own data instead of name/options (paths relative to this file):
    # path = "train.csv"                       # .csv (header; ',' or ';'), .npy or .npz
    # target = "label"                         # the target column (.npy: its index; .npz: y);
    #                                          # named, it makes the first line the header
    #                                          # even of numeric names ("0", "1", "2")
    test = 0.2                                 # held-out test fraction (or a second file)
    validation = 0.1                           # fraction of the training split (or a file)
    standardize = true                         # fit mean/std on the training split
    # shape = [1, 8, 8]                        # optional: reshape each sample (for Conv2d)

    [model]
    dtype = "float32"
    [[model.layers]]                           # in order; ``type`` is a class of rb.nn
    type = "Dense"
    out_features = 128                         # in_features defaults to the previous width
    [[model.layers]]
    type = "ReLU"
    [[model.layers]]
    type = "Dense"
    out_features = 10                          # one output per class

    [training]
    loss = "cross_entropy"                     # a name of rb.losses
    epochs = 30
    batch_size = 64
    shuffle = true
    metrics = ["accuracy"]                     # logged per epoch ("mae", "mse": regression)
    divergence_factor = 1e4                    # stop when the loss grows past it (false: off)

    [optimizer]
    name = "Adam"                              # a class of rb.optim (any case)
    lr = 1e-3                                  # the rest: its keyword arguments
    # or, instead of optimizer.lr, a schedule that sets it before every step:
    # [schedule]                               # a class of rb.optim.schedules
    # name = "Cosine"
    # lr = 1e-3                                # the rest: its keyword arguments (here the
    # t_max = 3000                             # starting rate and the steps it anneals over)

    [regularizers]                             # optional: class of rb.regularizers -> arguments
    L2 = { lam = 1e-4 }

    [callbacks]                                # optional: class of rb.callbacks -> arguments
    EarlyStopping = { patience = 5 }

    [output]
    dir = "runs/digits_mlp"                    # default: runs/<config file name>

Every check names the key (``training.epochs``) and what was expected, and
raises :class:`~rosenblatt.cli.errors.CLIError` (exit code 2, no traceback).
"""

import os

from .errors import CLIError

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None

# [tune] belongs to `rosenblatt tune` (cli/tune.py checks it): `train` accepts and ignores it, so
# one file both trains and tunes.
TOP_LEVEL = ("seed", "data", "model", "training", "optimizer", "schedule", "regularizers",
             "callbacks", "output", "tune")
DATA_KEYS = ("name", "options", "path", "target", "test", "validation", "standardize", "shape")
MAX_SEED = 2**32 - 1
# The most samples (or steps, or any count) a dataset option may ask for: a config or a model
# file asking a generator for 3e8 samples is refused instead of filling the memory.
MAX_COUNT = 1_000_000
MAX_VALUES = 100_000_000  # the product of a dataset's integer options (samples x length x ...)
MODEL_KEYS = ("layers", "dtype")
TRAINING_KEYS = ("loss", "epochs", "batch_size", "shuffle", "metrics", "divergence_factor")
OUTPUT_KEYS = ("dir",)
_REQUIRED = object()


def read(path):
    """Parse a TOML config file and check its structure; returns a normalised dict.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "c.toml")
    >>> _ = open(p, "w").write('[data]\\nname = "xor"\\n[[model.layers]]\\ntype = "Dense"\\n'
    ...                        'out_features = 2\\n')
    >>> cfg = read(p)
    >>> cfg["training"]["epochs"], cfg["optimizer"]["name"], cfg["output"]["dir"]
    (10, 'Adam', 'runs/c')
    """
    raw = load_toml(path)
    stem = os.path.splitext(os.path.basename(path))[0]
    return check(raw, default_out=os.path.join("runs", stem))


def load_toml(path):
    """The parsed TOML file at ``path`` (a dict), or a CLIError saying why it cannot be read.

    Shared by every command that reads a config (train, tune, evolve): a
    missing file, a folder, a file that is not UTF-8 text or not TOML, or one
    this user cannot read is one line, never a traceback.
    """
    if tomllib is None:  # pragma: no cover
        raise CLIError("reading TOML configs on Python 3.10 needs tomli: pip install tomli")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise CLIError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise CLIError(f"config path is a directory, not a TOML file: {path}") from None
    except UnicodeDecodeError as e:
        raise CLIError(f"{path} is not a UTF-8 text file (byte {e.start}: "
                       f"{e.object[e.start:e.start + 1]!r}); save it as UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise CLIError(f"{path} is not valid TOML: {e}") from None
    except OSError as e:
        raise CLIError(f"cannot read config {path}: {e.strerror or e}") from None


def check(raw, default_out="runs/model"):
    """Validate a config dict (as parsed from TOML) and fill in the defaults."""
    _only(raw, TOP_LEVEL, "")
    cfg = {"seed": _int(raw, "seed", "", default=0, minimum=0, maximum=MAX_SEED)}

    data = _table(raw, "data", "", required=True)
    _only(data, DATA_KEYS, "data")
    if "path" in data and "name" in data:
        raise CLIError("config keys 'data.name' and 'data.path' both give the data; keep one "
                       "(name: a dataset of `rosenblatt datasets`; path: your own file)")
    if "path" in data:
        if "options" in data:
            raise CLIError("config key 'data.options' applies to a named dataset, not to "
                           "'data.path'")
        target = data.get("target")
        if target is not None and (isinstance(target, bool) or not isinstance(
                target, (str, int)) or target == ""):
            raise CLIError(f"config key 'data.target': expected a column name (or an index "
                           f"for .npy); got {_show(target)}")
        source = {"name": None, "path": _str(data, "path", "data"), "target": target,
                  "options": {}}
    else:
        if "target" in data:
            raise CLIError("config key 'data.target' applies to 'data.path' (your own file)")
        source = {"name": _str(data, "name", "data"), "path": None, "target": None,
                  "options": check_options(_table(data, "options", "data"),
                                           "config key 'data.options")}
    cfg["data"] = {
        **source,
        "test": _fraction_or_file(data, "test", default=0.2),
        "validation": _fraction_or_file(data, "validation", default=0.1),
        "standardize": _bool(data, "standardize", "data", default=True),
        "shape": _shape(data, "shape", "data"),
    }

    model = _table(raw, "model", "", required=True)
    _only(model, MODEL_KEYS, "model")
    layers = model.get("layers", _REQUIRED)
    if layers is _REQUIRED:
        raise CLIError("config key 'model.layers' is missing: expected a list of tables such as "
                       "[[model.layers]] type = \"Dense\" out_features = 10")
    if not isinstance(layers, list) or not layers:
        raise CLIError(f"config key 'model.layers': expected a non-empty list of tables; "
                       f"got {_show(layers)}")
    checked = []
    for i, layer in enumerate(layers):
        where = f"model.layers[{i}]"
        if not isinstance(layer, dict):
            raise CLIError(f"config key '{where}': expected a table with a 'type' key; "
                           f"got {_show(layer)}")
        checked.append({"type": _str(layer, "type", where),
                        **{k: v for k, v in layer.items() if k != "type"}})
    dtype = _str(model, "dtype", "model", default="float32")
    if dtype not in ("float32", "float64"):
        raise CLIError(f"config key 'model.dtype': expected 'float32' or 'float64'; got {dtype!r}")
    cfg["model"] = {"layers": checked, "dtype": dtype}

    training = _table(raw, "training", "")
    _only(training, TRAINING_KEYS, "training")
    metrics = training.get("metrics", ["accuracy"])
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise CLIError(f"config key 'training.metrics': expected a list of names; "
                       f"got {_show(metrics)}")
    cfg["training"] = {
        "loss": _str(training, "loss", "training", default="cross_entropy"),
        "epochs": _int(training, "epochs", "training", default=10, minimum=1),
        "batch_size": _int(training, "batch_size", "training", default=32, minimum=1),
        "shuffle": _bool(training, "shuffle", "training", default=True),
        "metrics": metrics,
        "divergence_factor": _divergence_factor(training),
    }

    cfg["optimizer"] = _named(raw, "optimizer", default={"name": "Adam"})
    cfg["schedule"] = _named(raw, "schedule", default=None)
    cfg["regularizers"] = _tables_by_name(raw, "regularizers")
    cfg["callbacks"] = _tables_by_name(raw, "callbacks")

    output = _table(raw, "output", "")
    _only(output, OUTPUT_KEYS, "output")
    cfg["output"] = {"dir": _str(output, "dir", "output", default=default_out)}
    return cfg


# -- small checkers: each names the key and what it expected ----------------------
def _key(where, key):
    return f"{where}.{key}" if where else key


def _show(value):
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) < 60 else text[:57] + '...'}"


def _only(table, allowed, where):
    for key in table:
        if key not in allowed:
            place = f"in [{where}]" if where else "at the top level"
            raise CLIError(f"config key '{_key(where, key)}' is not recognised {place}; "
                           f"expected one of: {', '.join(allowed)}")


def _table(table, key, where, required=False):
    value = table.get(key, _REQUIRED)
    if value is _REQUIRED:
        if required:
            raise CLIError(f"config key '{_key(where, key)}' is missing: expected a table "
                           f"[{_key(where, key)}]")
        return {}
    if not isinstance(value, dict):
        raise CLIError(f"config key '{_key(where, key)}': expected a table; got {_show(value)}")
    return value


def _str(table, key, where, default=_REQUIRED):
    value = table.get(key, default)
    if value is _REQUIRED:
        raise CLIError(f"config key '{_key(where, key)}' is missing: expected a string")
    if not isinstance(value, str) or not value:
        raise CLIError(f"config key '{_key(where, key)}': expected a non-empty string; "
                       f"got {_show(value)}")
    return value


def _int(table, key, where, default=_REQUIRED, minimum=None, maximum=None):
    value = table.get(key, default)
    if value is _REQUIRED:
        raise CLIError(f"config key '{_key(where, key)}' is missing: expected an integer")
    if isinstance(value, bool) or not isinstance(value, int) or (
            minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bound = f" >= {minimum}" if minimum is not None else ""
        if maximum is not None:
            bound = f" in [{minimum}, {maximum}]"
        raise CLIError(f"config key '{_key(where, key)}': expected an integer{bound}; "
                       f"got {_show(value)}")
    return value


def _bool(table, key, where, default):
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise CLIError(f"config key '{_key(where, key)}': expected true or false; "
                       f"got {_show(value)}")
    return value


def _fraction(table, key, where, default):
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise CLIError(f"config key '{_key(where, key)}': expected a fraction in [0, 1); "
                       f"got {_show(value)}")
    return float(value)


def _divergence_factor(training):
    value = training.get("divergence_factor", 1e4)
    if value is False:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            1 < value < float("inf")):
        raise CLIError(f"config key 'training.divergence_factor': expected a number > 1, or "
                       f"false to turn the check off; got {_show(value)}")
    return float(value)


def _fraction_or_file(table, key, default):
    """data.test / data.validation: a fraction of the data, or a file of the same format."""
    value = table.get(key, default)
    if isinstance(value, str) and value:
        return value
    return _fraction(table, key, "data", default)


def _is_count(name):
    name = name.lower()
    return (name.startswith(("n_", "num_")) or name.endswith(("_samples", "_size", "_steps",
                                                               "_length"))
            or name in ("n", "length", "size", "steps", "samples"))


def check_options(options, where):
    """Dataset options (from a config or a model file): plain values, counts in [1, MAX_COUNT].

    ``where`` starts the messages ("config key 'data.options"); each names its key.

    Examples
    --------
    >>> check_options({"n_samples": 100, "noise": 0.1}, "config key 'data.options")
    {'n_samples': 100, 'noise': 0.1}
    >>> try:
    ...     check_options({"n_samples": 0}, "config key 'data.options")
    ... except CLIError as e:
    ...     print(e)
    config key 'data.options.n_samples': expected an integer in [1, 1000000]; got int 0
    """
    import math

    if not isinstance(options, dict):
        raise CLIError(f"{where}': expected a table of options; got {_show(options)}")
    for name, value in options.items():
        key = f"{where}.{name}'"
        if not isinstance(name, str) or not name.isidentifier():
            raise CLIError(f"{where}': option names must be identifiers; got {_show(name)}")
        if isinstance(value, bool) or value is None or isinstance(value, str):
            if isinstance(value, str) and len(value) > 200:
                raise CLIError(f"{key}: a string of {len(value)} characters (at most 200)")
            continue
        if isinstance(value, int):
            if _is_count(name) and not 1 <= value <= MAX_COUNT:
                raise CLIError(f"{key}: expected an integer in [1, {MAX_COUNT}]; "
                               f"got {_show(value)}")
            if "seed" in name.lower():
                if not 0 <= value <= 2**63 - 1:
                    raise CLIError(f"{key}: expected a seed in [0, 2**63 - 1]; "
                                   f"got {_show(value)}")
            elif abs(value) > MAX_COUNT:
                raise CLIError(f"{key}: expected an integer in [-{MAX_COUNT}, {MAX_COUNT}]; "
                               f"got {_show(value)}")
            continue
        if isinstance(value, float):
            if not math.isfinite(value):
                raise CLIError(f"{key}: expected a finite number; got {_show(value)}")
            continue
        raise CLIError(f"{key}: expected a number, string or true/false; got {_show(value)}")
    sizes = {k: v for k, v in options.items() if isinstance(v, int) and not isinstance(v, bool)
             and v > 1 and "seed" not in k.lower()}
    if math.prod(sizes.values()) > MAX_VALUES:
        product = " x ".join(f"{k} {v}" for k, v in sizes.items())
        raise CLIError(f"{where}': {product} asks for {math.prod(sizes.values()):.3g} values; "
                       f"at most {MAX_VALUES:.0e} (use a data file for more)")
    return dict(options)


def _shape(table, key, where):
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        raise CLIError(f"config key '{_key(where, key)}': expected a list of positive integers "
                       f"such as [1, 8, 8]; got {_show(value)}")
    return value


def _named(raw, key, default):
    """A table with a 'name' and keyword arguments, e.g. [optimizer] name = "Adam" lr = 0.01."""
    if key not in raw:
        return None if default is None else dict(default)
    table = _table(raw, key, "")
    if isinstance(table.get("name"), str):
        return {"name": table["name"], **{k: v for k, v in table.items() if k != "name"}}
    return {"name": _str(table, "name", key), **table}


def _tables_by_name(raw, key):
    """[regularizers] L2 = { strength = 1e-4 } -> [("L2", {"strength": 1e-4})]."""
    table = _table(raw, key, "")
    out = []
    for name, args in table.items():
        if isinstance(args, bool):
            if args:
                out.append((name, {}))
            continue
        if not isinstance(args, dict):
            raise CLIError(f"config key '{key}.{name}': expected a table of arguments such as "
                           f"{{ patience = 5 }} (or true); got {_show(args)}")
        out.append((name, dict(args)))
    return out
