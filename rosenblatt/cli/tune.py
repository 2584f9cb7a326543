"""``rosenblatt tune CONFIG.toml``: search a training config's hyper-parameters.

The config is a ``rosenblatt train`` config with a ``[tune]`` table. Each key
of ``[tune.space]`` is the path of a value of the config, and its table the
range to search (``rb.tuning`` distributions: ``uniform``, ``loguniform``,
``int``, ``choice``)::

    [tune]
    method = "bayes"            # "grid", "random" or "bayes"
    n_trials = 20
    n_initial = 6               # Latin-hypercube trials before the Gaussian process ("bayes")
    acquisition = "ei"          # "ei", "ucb" or "pi"
    metric = "val_loss"         # or "val_accuracy" (maximised)
    pruning = "median"          # optional: stop unpromising trials early
    n_parallel = 2              # optional: trials in flight at once (default 1)
    liar = "believer"           # "bayes", n_parallel > 1: what the trials in flight are assumed
                                # to score when the next is proposed ("believer", the
                                # Gaussian process's mean; "min", "mean" or "max" of the
                                # scores so far)
    grid_points = 5             # optional, "grid": values per numeric parameter (default:
                                # the most that fit in n_trials)
    patience = 5                # optional: early stopping within each trial
    seed = 0                    # default: the config's seed

    [tune.space]
    "optimizer.lr" = { type = "loguniform", low = 1e-4, high = 1e-1 }
    "model.layers[0].out_features" = { type = "int", low = 16, high = 256, log = true }
    "model.layers[2].rate" = { type = "uniform", low = 0.0, high = 0.6 }
    "regularizers.L2.lam" = { type = "loguniform", low = 1e-6, high = 1e-2 }

The paths that ``[tune.space]`` may search (``SEARCHABLE``): ``optimizer.*``,
``schedule.*``, ``model.layers[...]``, ``regularizers.*``, ``callbacks.*``,
``training.batch_size`` and ``training.shuffle``.

Every trial trains on the training split and is scored on the validation
split (``data.validation`` must be > 0). Writes into ``output.dir``:
``study.json`` (after every trial; running the command again resumes it),
``study_config.json`` (the config the trials ran with: a study resumes only under
the same config, all but ``tune.n_trials``; keys that no trial can vary, such as
``training.epochs`` or ``data.*``, are refused in ``[tune.space]``),
``trials.csv``, ``model.safetensors`` (the best trial's model, which
``rosenblatt evaluate``/``predict`` read), ``tune.json`` (the best parameters,
their test metrics) and ``convergence.png``.

``--workers N`` trains the trials in N processes, ``--scheduler ADDRESS`` on a
Dask cluster: each worker rebuilds the data and the model from the config
(JSON text) and receives only a trial's parameters (and, when pruning, the
earlier trials' learning curves). The study is a function of the config alone
(its seed and ``n_parallel``: trial ``i`` is proposed, and pruned, knowing
trials ``0 .. i - n_parallel``), never of the executor: a config gives the same
trials serially, with ``--workers 2`` or on a Dask cluster. ``n_parallel``
(default 1, one trial at a time) is how many trials run at once, so set
``n_parallel = N`` to keep N workers busy; it is stored in ``study.json``, and
a resumed study keeps it (and its ``n_initial`` and ``grid_points``, so
``--trials`` can extend a random or Bayesian study; a grid study runs at most its
grid, and a note says so when ``--trials`` asks for more: for a finer grid, set
``tune.grid_points`` and use another ``--out``).
"""

import copy
import functools
import json
import os
import re
import sys
import warnings

import numpy as np

from ..training.history import auto_mode
from . import build, config
from .data import resolved_files
from .errors import CLIError
from .executors import add_options as add_executor_options, executor_for
from .train import (
    MAX_THREADS,
    _Output,
    check_outputs,
    cli_metadata,
    evaluate_arrays,
    fit_metrics,
    flat_config,
    prepare_data,
    save_figure,
    write_json,
)

#: What a trial builds from its own config (``build_trial``); everything else (the data, the
#: loss, the epochs, the seed, model.dtype) comes once from the base config.
SEARCHABLE = ("optimizer.*", "schedule.*", "model.layers[...]", "regularizers.*", "callbacks.*",
              "training.batch_size", "training.shuffle")
TUNE_KEYS = ("method", "n_trials", "n_initial", "acquisition", "metric", "pruning", "patience",
             "seed", "grid_points", "liar", "space", "n_parallel")
_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$")


def add_parser(sub):
    p = sub.add_parser("tune", help="search the hyper-parameters of a training config",
                       description="Search the hyper-parameters listed in a config's [tune] "
                       "table (grid, random or Bayesian optimisation) and write the study and "
                       "the best model to its output folder. Every key of [tune] and "
                       "[tune.space]: python -m pydoc rosenblatt.cli.tune; an example: "
                       "examples/digits_tune.toml.")
    p.add_argument("config", metavar="CONFIG.toml")
    p.add_argument("--out", metavar="DIR", help="output folder (overrides output.dir)")
    p.add_argument("--trials", type=int, help="override tune.n_trials")
    p.add_argument("--epochs", type=int, help="override training.epochs")
    p.add_argument("--threads", type=int, metavar="N",
                   help="limit NumPy's BLAS threads (small networks train faster with 1)")
    add_executor_options(p, "train the trials", note="tune.n_parallel of them at a time "
                         "(default 1: set n_parallel = N in [tune] to keep N workers busy)")
    p.set_defaults(func=run)
    return p


def parse_path(path, where):
    """``"model.layers[0].out_features"`` -> ``["model", "layers", 0, "out_features"]``."""
    tokens = []
    for part in path.split("."):
        m = _SEGMENT.match(part)
        if not m:
            raise CLIError(f"config key '{where}': {path!r} is not a config path such as "
                           "\"optimizer.lr\" or \"model.layers[0].out_features\"")
        tokens.append(m.group(1))
        tokens += [int(i) for i in re.findall(r"\[(\d+)\]", m.group(2))]
    return tokens


def set_path(raw, tokens, value, where):
    """Set ``value`` at ``tokens`` in the (copied) raw config; tables are created as needed."""
    node = raw
    for i, token in enumerate(tokens[:-1]):
        nxt = tokens[i + 1]
        if isinstance(token, int):
            if not isinstance(node, list) or token >= len(node):
                raise CLIError(f"config key '{where}': the config has no element [{token}] there "
                               f"(it has {len(node) if isinstance(node, list) else 0})")
            node = node[token]
            continue
        if not isinstance(node, dict):
            raise CLIError(f"config key '{where}': {token!r} is inside a value, not a table")
        if token not in node:
            if isinstance(nxt, int):
                raise CLIError(f"config key '{where}': the config has no list {token!r}")
            node[token] = {}
        node = node[token]
    last = tokens[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise CLIError(f"config key '{where}': the config has no element [{last}] there")
    elif not isinstance(node, dict):
        raise CLIError(f"config key '{where}': {last!r} is inside a value, not a table")
    node[last] = value


def check_tune(raw_tune, default_seed):
    """Validate the [tune] table; returns (settings, space, paths)."""
    import rosenblatt as rb

    if not isinstance(raw_tune, dict):
        raise CLIError("config key 'tune': expected a table [tune]")
    config._only(raw_tune, TUNE_KEYS, "tune")
    method = config._str(raw_tune, "method", "tune", default="bayes")
    if method not in ("grid", "random", "bayes"):
        raise CLIError(f"config key 'tune.method': expected 'grid', 'random' or 'bayes'; "
                       f"got {method!r}")
    acquisition = config._str(raw_tune, "acquisition", "tune", default="ei")
    if acquisition not in ("ei", "ucb", "pi"):
        raise CLIError(f"config key 'tune.acquisition': expected 'ei', 'ucb' or 'pi'; "
                       f"got {acquisition!r}")
    liar = config._str(raw_tune, "liar", "tune", default="believer")
    if liar not in rb.tuning.search.LIARS:
        raise CLIError(f"config key 'tune.liar': expected 'believer', 'min', 'mean' or 'max'; "
                       f"got {liar!r}")
    pruning = raw_tune.get("pruning")
    if pruning not in (None, "median", "none"):
        raise CLIError(f"config key 'tune.pruning': expected 'median' or 'none'; got {pruning!r}")
    settings = {
        "method": method, "acquisition": acquisition,
        "n_trials": config._int(raw_tune, "n_trials", "tune", default=20, minimum=1),
        "metric": config._str(raw_tune, "metric", "tune", default="val_loss"),
        "pruning": None if pruning in (None, "none") else pruning,
        "seed": config._int(raw_tune, "seed", "tune", default=default_seed, minimum=0),
        "liar": liar,
    }
    for key in ("n_initial", "patience", "grid_points", "n_parallel"):
        if key in raw_tune:
            settings[key] = config._int(raw_tune, key, "tune", minimum=1)
    if not settings["metric"].startswith("val_"):
        raise CLIError(f"config key 'tune.metric': expected a validation metric such as "
                       f"'val_loss' or 'val_accuracy'; got {settings['metric']!r}")
    table = config._table(raw_tune, "space", "tune", required=True)
    if not table:
        raise CLIError("config key 'tune.space' is empty: list the values to search, e.g. "
                       "\"optimizer.lr\" = { type = \"loguniform\", low = 1e-4, high = 0.1 }")
    paths, dists = {}, {}
    for name, spec in table.items():
        where = f"tune.space.\"{name}\""
        paths[name] = parse_path(name, where)
        _check_searchable(paths[name], name, where)
        try:
            dists[name] = rb.tuning.space.distribution_from_config(name, spec)
        except (TypeError, ValueError) as e:
            raise CLIError(f"config key '{where}': {e}") from None
    try:
        space = rb.tuning.Space(dists)
    except (TypeError, ValueError) as e:
        raise CLIError(f"config key 'tune.space': {e}") from None
    return settings, space, paths


def _check_searchable(tokens, name, where):
    """CLIError for a path the trials cannot vary: they share the base config's data, loss,
    epochs, seed and dtype, so such a value would be drawn but have no effect."""
    head = tokens[0]
    if head in ("optimizer", "schedule", "regularizers", "callbacks"):
        return
    if head == "model" and len(tokens) > 1 and tokens[1] == "layers":
        return
    if head == "training" and len(tokens) == 2 and tokens[1] in ("batch_size", "shuffle"):
        return
    raise CLIError(f"config key '{where}': tuning cannot vary {name} (every trial trains on "
                   f"the base config's data, loss, epochs, seed and model.dtype); searchable: "
                   f"{', '.join(SEARCHABLE)}")


def _ends(space, U):
    """``(params, name, "low"/"high", value)`` for each end of each numeric range, the other
    parameters as in the first row of ``U``: Bayesian search proposes the ends themselves.

    A conditional parameter inactive in that row is made active first (:func:`_activate`),
    so its ends are checked too."""
    ends = []
    for name in space.names:
        dist, cols = space.params[name], space.slices[name]
        if dist.kind == "choice":
            continue
        base = U[:1].copy()
        if name not in space.from_unit(base)[0]:
            _activate(space, base[0], name)
        for side, u in (("low", 0.0), ("high", 1.0)):
            V = base.copy()
            V[0, cols] = u
            probe = space.from_unit(V)[0]
            if name in probe:  # active in this draw (a conditional parameter may not be)
                ends.append((probe, name, side, np.asarray(probe[name]).item()))
    return ends


def _activate(space, row, name):
    """Set the unit columns of ``name``'s parents in ``row`` (a row of the cube, in place),
    and of their parents in turn, to the first value each condition lists: ``name`` is then
    active (unless two conditions ask one parent for different values)."""
    for parent, values in (space.params[name].when or {}).items():
        _activate(space, row, parent)
        unit = space.params[parent].to_unit([values[0]])
        row[space.slices[parent]] = np.asarray(unit, dtype=np.float64).reshape(-1)


def _probes(space):
    """Params to check a config with before any trial: two random draws and, for every
    choice, each of its values (set in the first draw, where the choice is active)."""
    rng = np.random.default_rng(0)
    U = rng.random((2, space.dim))
    probes = space.from_unit(U)
    for name in space.names:
        dist, cols = space.params[name], space.slices[name]
        if dist.kind != "choice":
            continue
        for j, value in enumerate(dist.values):
            V = U[:1].copy()
            V[0, cols] = 0.0
            V[0, cols.start + j] = 1.0
            probe = space.from_unit(V)[0]
            if probe.get(name, object()) == value and probe not in probes:
                probes.append(probe)
    return probes


class _at_end:
    """Re-raise a CLIError of a config built at a range's end as an error of that range."""

    def __init__(self, name, side, value):
        self.name, self.side, self.value = name, side, value

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if kind is CLIError:
            raise CLIError(f"config key 'tune.space.\"{self.name}\"': its {self.side} "
                           f"{self.value!r} gives {error}") from None
        return False


def with_params(raw, params, paths):
    """A copy of the raw config with each parameter's value put at its path."""
    raw = copy.deepcopy(raw)
    for name, value in params.items():
        set_path(raw, paths[name], value, f"tune.space.\"{name}\"")
    return raw


def _job(raw, paths, cfg, base_dir=".", notes=None):
    """The data (prepared as ``rosenblatt train`` does) and the trial builder of a config.

    What a trial needs, rebuilt from the config alone: the study's process and
    each Dask worker (:func:`remote_trial`) call it. What was read is reported on stderr, or
    appended to ``notes`` (a list) to be printed once every check has passed.
    """
    import rosenblatt as rb

    loss_name, loss_fn = build.check_loss(cfg["training"]["loss"])
    data = prepare_data(cfg, base_dir, loss_name, notes)  # as rosenblatt train prepares them
    xtr, ytr, xv, yv, xt, yt = data["raw"]
    if not len(xv):
        raise CLIError("config key 'data.validation': tuning scores each trial on a validation "
                       "split; set it to a fraction in (0, 1)")
    xtr_, ytr_, xv_, yv_, xt_, yt_ = data["arrays"]
    task, mean, std, shape = data["task"], data["mean"], data["std"], data["shape"]
    default_out = cfg["output"]["dir"]

    def build_trial(params):
        trial = config.check(with_params(raw, params, paths), default_out=default_out)
        model = build.build_model(trial["model"]["layers"], shape, trial["model"]["dtype"],
                                  rb.randomness.generator())
        opt_spec = dict(trial["optimizer"])
        schedule = build.build_schedule(trial["schedule"])
        if schedule is not None:
            opt_spec["lr"] = schedule
        return {"model": model, "optimizer": build.build_optimizer(opt_spec, model.parameters()),
                "regularizers": build.build_named("regularizers", trial["regularizers"]),
                "callbacks": build.build_named("callbacks", trial["callbacks"]),
                "batch_size": trial["training"]["batch_size"],
                "shuffle": trial["training"]["shuffle"]}

    return dict(loss_name=loss_name, loss_fn=loss_fn, task=task, xtr=xtr, ytr=ytr, xv=xv,
                xtr_=xtr_, ytr_=ytr_, xv_=xv_, yv_=yv_, xt_=xt_, yt_=yt_, mean=mean, std=std,
                shape=shape, build_trial=build_trial, data=data)


def _check_trial(job, cfg, params):
    """Build a trial's model from ``params`` and check its outputs on two training rows as
    ``rosenblatt train`` does (:func:`~rosenblatt.cli.train.check_outputs`): found before the
    study, not as failed trials or a failed evaluation after it."""
    import rosenblatt as rb

    model = job["build_trial"](params)["model"]
    with rb.no_grad():
        out = model.eval()(rb.tensor(job["xtr_"][:2]))
    check_outputs(out, cfg, job["loss_name"], job["data"])


@functools.lru_cache(maxsize=2)
def _worker_job(text):
    job = json.loads(text)
    raw = job["raw"]
    return _job(raw, job["paths"], config.check(raw, default_out=job["default_out"]),
                job["base_dir"])


def _train(job, spec, params, curves=()):
    """One trial as the study's own process and every worker train it."""
    import rosenblatt as rb

    return rb.tuning.networks.train_trial(
        job["build_trial"], params, X=job["xtr_"], y=job["ytr_"],
        validation_data=(job["xv_"], job["yv_"]), epochs=spec["epochs"], metric=spec["metric"],
        mode=spec["mode"], loss=job["loss_fn"], batch_size=32, patience=spec["patience"],
        seed=spec["seed"], fit_kwargs={"metrics": tuple(spec["metrics"]), "progress": False},
        pruning=spec.get("pruning"), curves=curves)


def remote_trial(text, params, curves=()):
    """One trial in a worker: the config travels as JSON text, per trial only its params
    and, when pruning, the learning curves of the trials recorded before it was submitted
    (``minimize(history=earlier_curves)``: the same curves whatever finished first)."""
    import rosenblatt as rb

    spec = json.loads(text)
    model, curve, stopper, pruner = _train(_worker_job(text), spec, params, curves)
    return rb.tuning.networks.trial_outcome(curve, stopper, pruner, spec["mode"])


def _on_cluster(args, raw, paths, cfg, settings, space, job, metrics, study_path, search,
                progress, executor):
    """The study through ``executor`` (``--workers``/``--scheduler``); returns
    ``(study, best model)``, the best trial retrained here as it ran there."""
    import rosenblatt as rb

    mode = auto_mode(settings["metric"])
    spec = {"raw": raw, "paths": paths, "default_out": cfg["output"]["dir"],
            "base_dir": os.path.dirname(os.path.abspath(args.config)),
            "epochs": cfg["training"]["epochs"], "metric": settings["metric"], "mode": mode,
            "patience": settings.get("patience"), "seed": settings["seed"],
            "metrics": list(metrics), "pruning": settings["pruning"]}
    objective = functools.partial(remote_trial, json.dumps(spec))
    n = rb.parallel.workers(executor)
    if "n_parallel" not in settings and not os.path.exists(study_path) and n > 1:
        print(f"rosenblatt tune: tune.n_parallel is 1 (the default), so the trials run one at "
              f"a time on the {n} workers; set n_parallel = {n} in [tune] to run {n} at once "
              f"(the same trials serially and on any executor)", file=sys.stderr)
    history = rb.tuning.networks.earlier_curves if settings["pruning"] else None
    study = rb.tuning.minimize(
        objective, space, method=settings["method"], n_trials=settings["n_trials"],
        seed=settings["seed"], acquisition=settings["acquisition"], liar=settings["liar"],
        resume_from=study_path, callbacks=[progress], executor=executor, history=history,
        extra_settings={"metric": settings["metric"], "mode": mode}, **search)  # as tune_fit
    curves = ()
    if settings["pruning"]:
        curves = rb.tuning.networks.curves_before(study, study.best.number,
                                                  study.settings.get("n_parallel", 1))
    return study, _train(job, spec, study.best.params, curves)[0]


STUDY_CONFIG = "study_config.json"


def _check_same_config(out_dir, study_path, cfg, settings, base_dir=None):
    """A study resumes only under the config its trials ran with (all of it but output.dir
    and tune.n_trials, which --trials may raise), kept next to it in study_config.json;
    otherwise CLIError naming the first difference. A new study writes the file.

    With ``base_dir`` (the config's folder), data.path/test/validation are compared as the
    files they name (:func:`~rosenblatt.cli.data.resolved_files`), not as written."""
    from ..io.atomic import write_bytes_atomic

    current = {k: v for k, v in cfg.items() if k != "output"}
    if base_dir is not None:
        current["data"] = resolved_files(cfg["data"], base_dir)
    current["tune"] = {k: v for k, v in settings.items() if k != "n_trials"}
    current = json.loads(json.dumps(current, sort_keys=True, default=str))
    path = os.path.join(out_dir, STUDY_CONFIG)
    if os.path.exists(study_path) and os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as f:
                before = json.load(f)
        except (OSError, ValueError) as e:
            raise CLIError(f"cannot read {path} (the config of {study_path}): {e}; use another "
                           f"--out, or delete the study to start again") from None
        if base_dir is not None and isinstance(before, dict) \
                and isinstance(before.get("data"), dict):  # a file written as the config had it
            before["data"] = resolved_files(before["data"], base_dir)
        old, new = flat_config(before), flat_config(current)
        changed = sorted(k for k in old.keys() | new.keys() if old.get(k, "(unset)")
                         != new.get(k, "(unset)"))
        if changed:
            key = changed[0]
            raise CLIError(f"{study_path} was run with another config ({key} "
                           f"{json.dumps(old.get(key, '(unset)'))} != "
                           f"{json.dumps(new.get(key, '(unset)'))}"
                           + (f", and {len(changed) - 1} more" if len(changed) > 1 else "")
                           + "); its trials would be mixed with this config's: use another "
                           "--out, or delete the study to start again")
        return
    if not os.path.exists(study_path):
        try:
            write_bytes_atomic(path, json.dumps(current, indent=1, sort_keys=True).encode())
        except OSError as e:
            raise CLIError(f"cannot write {path}: {e.strerror or e}") from None


def run(args):
    from ..tour.threads import blas_threads

    if args.threads is not None and not 1 <= args.threads <= MAX_THREADS:
        raise CLIError(f"--threads must be in [1, {MAX_THREADS}]; got {args.threads}")
    with blas_threads(args.threads):
        return _run(args)


def _run(args):
    import rosenblatt as rb

    raw = config.load_toml(args.config)
    if "tune" not in raw:
        raise CLIError(f"{args.config} has no [tune] table: add one with a [tune.space] listing "
                       "the values to search (every key: `python -m pydoc rosenblatt.cli.tune`; "
                       "an example: examples/digits_tune.toml)")
    raw_tune = raw.pop("tune")
    if "optimizer" not in raw:  # config.check's default, spelt out so "optimizer.lr" can be set
        raw["optimizer"] = {"name": "Adam"}
    stem = os.path.splitext(os.path.basename(args.config))[0]
    default_out = os.path.join("runs", stem)
    cfg = config.check(raw, default_out=default_out)
    settings, space, paths = check_tune(raw_tune, cfg["seed"])
    if args.trials is not None:
        if args.trials < 1:
            raise CLIError(f"--trials must be >= 1; got {args.trials}")
        settings["n_trials"] = args.trials
    if args.epochs is not None:
        if args.epochs < 1:
            raise CLIError(f"--epochs must be >= 1; got {args.epochs}")
        raw.setdefault("training", {})["epochs"] = args.epochs
        cfg = config.check(raw, default_out=default_out)
    # every value of the space must land on a valid config: check two draws and every value
    # of every choice now, not as failed trials
    probes = _probes(space)
    for probe in probes:
        config.check(with_params(raw, probe, paths), default_out=default_out)
    ends = _ends(space, np.random.default_rng(0).random((1, space.dim)))
    for probe, name, side, value in ends:
        with _at_end(name, side, value):
            config.check(with_params(raw, probe, paths), default_out=default_out)

    out_dir = args.out or cfg["output"]["dir"]
    notes = []
    job = _job(raw, paths, cfg, os.path.dirname(os.path.abspath(args.config)), notes)
    loss_name, loss_fn, task = job["loss_name"], job["loss_fn"], job["task"]
    xtr_, ytr_, xv_, yv_, xt_, yt_ = job["data"]["arrays"]
    build_trial = job["build_trial"]

    # a misspelt layer argument, outputs that do not fit the loss or the classes: now
    with rb.randomness.using(np.random.default_rng(0)):
        for probe in probes:
            _check_trial(job, cfg, probe)
        for probe, name, side, value in ends:
            with _at_end(name, side, value):
                _check_trial(job, cfg, probe)
    metrics = fit_metrics(cfg["training"]["metrics"], task)  # as rosenblatt train computes
    if settings["metric"] != "val_loss" and settings["metric"][4:] not in metrics:
        raise CLIError(f"config key 'tune.metric': {settings['metric']!r} is not computed; "
                       f"training.metrics gives val_loss" +
                       "".join(f", val_{m}" for m in metrics))

    _Output(out_dir).make(out_dir, "option --out" if args.out else "config key 'output.dir'")
    study_path = os.path.join(out_dir, "study.json")
    _check_same_config(out_dir, study_path, cfg, settings,
                       os.path.dirname(os.path.abspath(args.config)))
    search = {k: settings[k] for k in ("n_initial", "grid_points", "n_parallel")
              if k in settings}
    for note in notes:  # what was read, now that every check has passed
        print(note, file=sys.stderr)

    sign = -1 if auto_mode(settings["metric"]) == "max" else 1  # the study minimises -accuracy

    def progress(study, trial):
        value = ("failed: " + str(trial.error) if trial.value is None
                 else f"{settings['metric']} {sign * trial.value:.6g}")
        # numbered from 0, as in study.json, trials.csv and the summary's "best ... (trial k)"
        print(f"trial {trial.number} ({trial.number + 1}/{settings['n_trials']}) "
              f"[{trial.status}] {value} "
              f"{json.dumps(trial.params)}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            # a finished grid that --trials cannot extend: said below as the CLI's own note
            warnings.filterwarnings("ignore", message="minimize: the grid of")
            with executor_for(args, "tune") as executor:
                if executor is not None:
                    study, model = _on_cluster(args, raw, paths, cfg, settings, space, job,
                                               metrics, study_path, search, progress, executor)
            if executor is None:
                study, model = rb.tuning.tune_fit(
                    build_trial, space, xtr_, ytr_, validation_data=(xv_, yv_),
                    epochs=cfg["training"]["epochs"], metric=settings["metric"], loss=loss_fn,
                    patience=settings.get("patience"), pruning=settings["pruning"],
                    method=settings["method"], n_trials=settings["n_trials"],
                    seed=settings["seed"], acquisition=settings["acquisition"],
                    liar=settings["liar"], resume_from=study_path, callbacks=[progress],
                    fit_kwargs={"metrics": metrics}, **search)
    except ValueError as e:
        raise CLIError(f"tuning failed: {e}") from None
    except BrokenPipeError:  # stderr closed: main's
        raise
    except OSError as e:  # study.json after a trial: the disk filled up, the folder went away
        raise CLIError(f"cannot write the study in {out_dir}: {e.strerror or e}; the trials "
                       f"so far are in {study_path} (free space, then run the command again "
                       f"to resume)") from None
    try:
        return _write_results(args, cfg, settings, study, model, out_dir, study_path, raw,
                              paths, default_out, job, loss_name, task, xt_, yt_)
    except BrokenPipeError:  # stdout closed (`| head`) after every file was written: main's
        raise
    except OSError as e:
        raise CLIError(f"cannot write the results in {out_dir}: {e.strerror or e}; the study "
                       f"is in {study_path} (free space, then run the command again)") from None


def _write_results(args, cfg, settings, study, model, out_dir, study_path, raw, paths,
                   default_out, job, loss_name, task, xt_, yt_):
    """The study's trials.csv, best model, tune.json and convergence plot; the summary."""
    import rosenblatt as rb

    study.to_csv(os.path.join(out_dir, "trials.csv"))
    if settings["method"] == "grid" and len(study.trials) < settings["n_trials"]:
        print(f"rosenblatt tune: note: the grid of this study (grid_points "
              f"{study.settings['grid_points']}) holds {len(study.trials)} combinations, all "
              f"run, fewer than the {settings['n_trials']} trials asked for; a grid study "
              f"runs at most its grid and keeps its grid_points when resumed, so --trials "
              f"cannot extend it: for a finer grid, set tune.grid_points and use another "
              f"--out", file=sys.stderr)
    try:
        test = evaluate_arrays(model, xt_, yt_, loss_name, task)
    except ValueError as e:  # checked up front; kept as a clean message should one slip by
        raise CLIError(f"cannot evaluate the best trial's model on the test split: {e}; the "
                       f"study is in {study_path}") from None
    best_cfg = config.check(with_params(raw, study.best_params, paths), default_out=default_out)
    # the study minimises -metric for an accuracy: report the metric itself, as printed
    shown = -study.best_value if auto_mode(settings["metric"]) == "max" else study.best_value
    meta = {"cli": cli_metadata(cfg, job["data"], loss_name, best_cfg["model"]["dtype"]),
            "tune": {"best_params": study.best_params, "best_value": shown,
                     "metric": settings["metric"]}}
    model_path = os.path.join(out_dir, "model.safetensors")
    rb.save(model.eval(), model_path, metadata=meta)
    summary = {"config": args.config, "settings": settings, "best_trial": study.best.number,
               "best_params": study.best_params, "best_value": shown,
               "metric": settings["metric"], "test": test,
               "trials": len(study.trials), "failed": len(study.failed),
               "pruned": sum(t.status == "pruned" for t in study.trials)}
    write_json(os.path.join(out_dir, "tune.json"), summary)
    try:
        save_figure(study.plot_convergence(), os.path.join(out_dir, "convergence.png"), dpi=100,
                    bbox_inches="tight")
    except RuntimeError as e:  # matplotlib (the 'plot' extra) is not installed
        print(f"rosenblatt tune: no convergence plot: {e}", file=sys.stderr)
    print(f"best {settings['metric']} {shown:.4f} (trial {study.best.number}): "
          f"{json.dumps(study.best_params)}")
    line = f"test loss {test['loss']:.4f}"
    if "accuracy" in test:
        line = f"test accuracy {test['accuracy']:.4f}, " + line
    print(line)
    print(f"study: {study_path}")
    print(f"model: {model_path}")
    return 0
