"""Tune a network's hyper-parameters with ``rb.fit`` (notes: "Choosing hyperparameters").

:func:`tune_fit` is the common case of :func:`~rosenblatt.tuning.minimize`:
every trial builds a model from the trial's parameters, trains it with
``rb.fit`` (early stopping restores the best epoch's weights, notes: "Early
stopping"), and scores it by a validation metric. An optional pruning rule
stops unpromising trials early: :class:`MedianStopping` ends a trial whose
best value after ``t`` epochs is worse than the median of the earlier trials'
best values after ``t`` epochs (the median stopping rule of Google Vizier,
Golovin et al. 2017, on the best value so far rather than the running mean).

References
----------
Golovin, D. et al. (2017). Google Vizier: a service for black-box optimization. KDD.
"""

import concurrent.futures
import copy
import hashlib
import json
import math
import os

import numpy as np

from ..checks import one_of, positive_int
from ..nn.module import Module
from ..optim.adam import Adam
from ..randomness import resolve_rng, using
from ..training.callbacks import Callback, Checkpoint, EarlyStopping
from ..training.fit import _resolve_loss, fit
from ..training.history import auto_mode
from .search import minimize
from .space import Space
from .study import Study

# fit's arguments that tune_fit passes itself (fit_kwargs must not repeat them)
_OWN_FIT_ARGUMENTS = ("model", "X", "y", "loss", "epochs", "validation_data", "batch_size")


class MetricNotComputed(ValueError):
    """``tune_fit``'s ``metric`` is not among what ``rb.fit`` logs: every trial would fail."""


class _RequireMetric(Callback):
    """Raise :class:`MetricNotComputed` at the first epoch whose logs lack ``metric``."""

    def __init__(self, metric):
        self.metric = metric

    def on_epoch_end(self, trainer, epoch, logs):
        if self.metric not in logs:
            raise MetricNotComputed(
                f"tune_fit: metric {self.metric!r} is not computed by rb.fit; available: "
                f"{sorted(logs)} (val_* need validation_data; fit_kwargs' metrics add more)")


class _RestoreLast(Callback):
    """Restore ``stopper``'s best weights once more, as the trial's last callback."""

    def __init__(self, stopper):
        self.stopper = stopper

    def on_train_end(self, trainer):
        self.stopper.on_train_end(trainer)


class MedianStopping(Callback):
    """Stop a trial whose best ``monitor`` so far is worse than the median of earlier trials'.

    Parameters
    ----------
    curves : list of list of float
        The earlier trials' per-epoch values of ``monitor`` (in any direction; ``mode`` says which).
    monitor : str, default "val_loss"
    mode : {"min", "max"}, default "min"
    warmup_epochs : int, default 2
        Epochs every trial is allowed before it can be stopped.
    min_trials : int, default 3
        Earlier trials needed (reaching the epoch) before the rule applies.

    Attributes
    ----------
    pruned : bool
        Whether this run was stopped by the rule.
    curve : list of float
        This run's per-epoch values of ``monitor``. With ``state_dict`` /
        ``load_state_dict`` (which :class:`~rosenblatt.callbacks.Checkpoint`
        saves), a run resumed by ``rb.fit(resume_from=...)`` keeps its curve,
        and so counts its epochs as the uninterrupted run does.
    """

    def __init__(self, curves, monitor="val_loss", mode="min", warmup_epochs=2, min_trials=3):
        self.curves = [list(c) for c in curves]
        self.monitor = monitor
        self.mode = one_of("MedianStopping", "mode", mode, ("min", "max"))
        self.warmup_epochs = positive_int("MedianStopping", "warmup_epochs", warmup_epochs,
                                          allow_zero=True)
        self.min_trials = positive_int("MedianStopping", "min_trials", min_trials)
        self.pruned = False
        self.curve = []

    def on_train_begin(self, trainer):
        if trainer.start_epoch == 0:  # a fresh run (not a resumed one) starts a new curve
            self.pruned, self.curve = False, []

    def state_dict(self):
        return {"curve": list(self.curve), "pruned": self.pruned}

    def load_state_dict(self, state):
        self.curve = [float(v) for v in state["curve"]]
        self.pruned = bool(state["pruned"])

    def _best(self, values):
        finite = [v for v in values if v is not None and math.isfinite(v)]
        if not finite:
            return math.nan
        return min(finite) if self.mode == "min" else max(finite)

    def on_epoch_end(self, trainer, epoch, logs):
        if self.monitor not in logs:
            raise ValueError(f"MedianStopping: monitor {self.monitor!r} is not computed; "
                             f"available: {sorted(logs)} (val_* need validation_data)")
        self.curve.append(float(logs[self.monitor]))
        t = len(self.curve)
        if t <= self.warmup_epochs:
            return
        others = [self._best(c[:t]) for c in self.curves if len(c) >= t]
        others = [v for v in others if math.isfinite(v)]
        if len(others) < self.min_trials:
            return
        median, mine = float(np.median(others)), self._best(self.curve)
        worse = mine > median if self.mode == "min" else mine < median
        if worse or not math.isfinite(mine):
            self.pruned = True
            trainer.stop_training = True
            trainer.history.stop_reason = (
                f"median stopping: best {self.monitor} {mine:.6g} after {t} epochs is worse "
                f"than the median {median:.6g} of {len(others)} earlier trials")


def _trial_seed(seed, params):
    """A seed from the study's seed and the params (the same trial trains the same way)."""
    text = json.dumps(params, sort_keys=True)
    digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _built(build_model, params):
    """``build_model(params)`` as a dict {model, optimizer, ...fit keyword arguments}."""
    built = build_model(dict(params))
    if isinstance(built, Module):
        built = {"model": built}
    elif isinstance(built, tuple) and len(built) == 2:
        built = {"model": built[0], "optimizer": built[1]}
    if not isinstance(built, dict) or not isinstance(built.get("model"), Module):
        raise TypeError("tune_fit: build_model(params) must return a Module, (model, optimizer) "
                        f"or a dict with 'model' and fit's keyword arguments; got "
                        f"{type(built).__name__}")
    built = dict(built)
    if built.get("optimizer") is None:
        built["optimizer"] = Adam(built["model"].parameters(), lr=params.get("lr", 1e-3))
    return built


def train_trial(build_model, params, *, X, y, validation_data, epochs, metric, mode, loss,
                batch_size, patience, seed, fit_kwargs, pruning=None, warmup_epochs=2,
                curves=()):
    """Train one trial as :func:`tune_fit` does; returns ``(model, curve, stopper, pruner)``.

    Module level so that a worker (an executor's process) trains a trial
    exactly as the study's own process would.
    """
    trial_seed = _trial_seed(seed, params)
    rng = np.random.default_rng(trial_seed)
    with using(rng):
        built = _built(build_model, params)
    model = built.pop("model")
    fit_kwargs = _trial_files(fit_kwargs, trial_seed)  # its own checkpoint, not the others'
    # patience=0 is EarlyStopping's own (stop at the first epoch without improvement)
    stopper = EarlyStopping(monitor=metric, patience=epochs if patience is None else patience,
                            restore_best=True, mode=mode)
    pruner = MedianStopping(curves, metric, mode, warmup_epochs) if pruning else None
    extra = list(built.pop("callbacks", ())) + list(fit_kwargs.get("callbacks", ()))
    args = {**fit_kwargs, **built}
    # The order of the epoch's callbacks: a callback of the trial's own that logs the metric
    # (EpochScore("roc_auc") for val_roc_auc) first, as rb.fit requires of a monitor's source;
    # then the stopper, which keeps the weights the metric was measured on (before another
    # callback changes them at the epoch's end, as Rewire does); the stopper's restore again
    # last, after any restoring callback of the trial's own (an EarlyStopping on another
    # metric), so that the model returned is the epoch the study's value describes.
    sources = [cb for cb in extra if metric in (getattr(cb, "logged_key", None),
                                                getattr(cb, "name", None))]
    others = [cb for cb in extra if all(cb is not source for source in sources)]
    args["callbacks"] = [*sources, _RequireMetric(metric), stopper,
                         *([pruner] if pruner else []), *others, _RestoreLast(stopper)]
    args.setdefault("batch_size", params.get("batch_size", batch_size))
    args.setdefault("rng", rng)
    with using(rng):  # layers that draw at run time (dropout) draw from the trial's generator
        history = fit(model, X, y, loss=loss, epochs=epochs,
                      validation_data=validation_data, **args)
    curve = [float(v) for v in history[metric]]
    return model, curve, stopper, pruner


def trial_path(path, trial_seed):
    """The file of one trial for a ``Checkpoint`` or ``resume_from`` path of ``fit_kwargs``:
    ``run.safetensors`` -> ``run.trial-<16 hex digits>.safetensors``, the digits those of the
    trial's seed (a function of the study's seed and the trial's params)."""
    root, ext = os.path.splitext(os.fspath(path))
    return f"{root}.trial-{trial_seed:016x}{ext}"


def _trial_files(fit_kwargs, trial_seed):
    """``fit_kwargs`` for one trial: its own copies of the callbacks (:func:`_own_copies`),
    every ``Checkpoint``'s path and ``resume_from`` made the trial's own (:func:`trial_path`).

    One file shared by the trials would make each trial "resume" the previous trial's
    finished run (training nothing, reporting its curve), or trials running at once on a
    thread pool write over one another's checkpoints."""
    options = dict(fit_kwargs)
    callbacks = options.get("callbacks") or ()
    if isinstance(callbacks, Callback):  # one callback, as rb.fit takes it
        callbacks = [callbacks]
    options["callbacks"] = _own_copies(callbacks)
    for cb in options["callbacks"]:
        if isinstance(cb, Checkpoint):
            cb.path = trial_path(cb.path, trial_seed)
    if isinstance(options.get("resume_from"), (str, os.PathLike)):
        options["resume_from"] = trial_path(options["resume_from"], trial_seed)
    return options


def _own_copies(callbacks):
    """A trial's own copies of ``fit_kwargs``'s callbacks: on a thread pool the trials
    running at once would otherwise share their state (one trial's EarlyStopping restoring
    another's weights). Deep copies in memory, made before the trial's fit."""
    try:
        return copy.deepcopy(list(callbacks))
    except Exception as e:  # noqa: BLE001 - whatever a callback's __deepcopy__ raises
        raise TypeError(f"tune_fit: fit_kwargs['callbacks'] must be copyable (each trial "
                        f"trains with its own copies; {type(e).__name__}: {e}); build such a "
                        f"callback per trial in build_model's dict instead") from e


def earlier_curves(trials):
    """The learning curves of ``trials`` (those that have one): what a pruned trial compares
    itself with. Module level: :func:`minimize`'s ``history`` when pruning."""
    return [t.attrs["curve"] for t in trials if "curve" in t.attrs]


def curves_before(study, number, n_parallel=1):
    """The curves trial ``number`` was given: those of trials ``0 .. number - n_parallel``
    (to retrain a trial of a pruned study exactly as it ran)."""
    return earlier_curves([t for t in study.trials if t.number <= number - n_parallel])


def trial_outcome(curve, stopper, pruner, mode):
    """What a trained trial reports to :func:`minimize` (NaN when no epoch was finite)."""
    finite = [v for v in curve if math.isfinite(v)]
    if not finite:
        return math.nan
    best = min(finite) if mode == "min" else max(finite)
    return {"value": best if mode == "min" else -best, "pruned": bool(pruner and pruner.pruned),
            "attrs": {"curve": [v if math.isfinite(v) else None for v in curve],
                      "epochs": len(curve), "best_epoch": stopper.best_epoch}}


def tune_fit(build_model, space, X, y=None, *, validation_data, epochs, metric="val_loss",
             mode="auto", loss="cross_entropy", batch_size=32, patience=None, pruning=None,
             warmup_epochs=2, method="bayes", n_trials=20, seed=None, fit_kwargs=None,
             **search_kwargs):
    """Search hyper-parameters of a network trained by ``rb.fit``; returns ``(study, best_model)``.

    Parameters
    ----------
    build_model : callable
        ``build_model(params) -> model``, ``(model, optimizer)``, or a dict
        ``{"model": ..., "optimizer": ..., **fit keyword arguments}``
        (``regularizers``, ``batch_size`` ...). Without an optimizer, Adam
        with ``lr=params.get("lr", 1e-3)``. It runs with the library
        generator set to a generator seeded from the study's seed and the
        params (and so does training), so layers built without an explicit
        ``rng`` and dropout are reproducible.
    space : Space or dict
    X, y : array_like
        Training data.
    validation_data : (X_val, y_val)
        Scores every trial.
    epochs : int
        The most epochs per trial.
    metric : str, default "val_loss"
        A key of rb.fit's History (``val_loss``, ``val_accuracy`` ...), or one that a
        callback of ``fit_kwargs`` or ``build_model``'s dict logs
        (``EpochScore("roc_auc")``: ``val_roc_auc``; tune_fit runs it before its own
        early stopping and pruning, which read it).
    mode : {"auto", "min", "max"}
        Whether ``metric`` is minimised or maximised ("auto": "max" for accuracies).
        The study's values are minimised: ``metric``, or ``-metric`` for "max".
    loss : str or callable, default "cross_entropy"
    batch_size : int, default 32
        The trials' minibatch size. A space parameter named ``batch_size`` sets
        it per trial (as ``lr`` sets the default Adam's learning rate), and a
        ``batch_size`` in ``build_model``'s dict overrides both.
    patience : int, optional
        Early stopping's patience (0: stop at the first epoch that does not
        improve); default none (train ``epochs``). The best epoch's weights (of
        ``metric``) are restored either way, last, after any restoring callback of
        ``build_model``'s or ``fit_kwargs``' (an EarlyStopping on another metric), and
        that epoch scores the trial.
    pruning : {None, "median"}
        Stop a trial early by the median stopping rule (:class:`MedianStopping`);
        a pruned trial has status "pruned" and its best value so far.
    warmup_epochs : int, default 2
        Epochs before pruning may stop a trial.
    method, n_trials, seed : see :func:`minimize`
        Without ``seed``, a resumed study (``resume_from``) keeps the file's.
    fit_kwargs : dict, optional
        More keyword arguments of ``rb.fit`` (``metrics``, ``augment`` ...);
        not those tune_fit passes itself (``X``, ``y``, ``loss``, ``epochs``,
        ``validation_data``, ``batch_size``), nor ``optimizer`` (``build_model``
        gives it), nor ``rng`` (each trial's generator derives from ``seed``).
        Its ``callbacks`` are deep-copied for each trial (trials running at
        once on a thread pool would otherwise share their state), so the
        objects passed here are not the ones that train; a callback whose
        state you want to read after a trial belongs in ``build_model``'s dict.
        A ``Checkpoint(path)`` among them, and ``resume_from=path``, stand for
        one file per trial, ``run.safetensors`` becoming
        ``run.trial-<16 hex digits>.safetensors`` (:func:`trial_path`: the
        digits of the trial's seed, from ``seed`` and its params), so a trial
        interrupted with the study and run again when the study is resumed
        continues from its own checkpoint.
    **search_kwargs
        Passed to :func:`minimize` (``n_initial``, ``acquisition``, ``resume_from``, ...).
        The study's settings hold ``metric`` and ``mode`` too (``extra_settings``), so a
        study is resumed only with the quantity its values measure.
        An ``executor`` here must be a ``ThreadPoolExecutor`` (others raise TypeError): the
        objective is a closure holding the data and keeping the best model. To
        train trials in other processes or machines, call :func:`minimize` with
        a module-level objective built on :func:`train_trial` and
        :func:`trial_outcome` (and ``history=earlier_curves`` when pruning), as
        ``rosenblatt tune --workers/--scheduler`` does. Each trial builds and
        trains inside ``rb.randomness.using(its generator)``, which holds for
        its own thread only, so a thread pool gives the serial study.

    Returns
    -------
    study : Study
        Each trial's ``attrs`` hold its learning curve of ``metric`` and the epochs run.
    best_model : rb.nn.Module
        The best trial's model, at its best epoch (retrained when the study was resumed).

    Raises
    ------
    ValueError, TypeError
        A bad argument, before the first model is built. A ``metric`` that
        ``rb.fit`` does not log (it depends on the data, the loss and the
        metrics) fails the first trial, which is recorded as failed; the
        search then stops and this raises ``MetricNotComputed`` (a ValueError).

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> X = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    >>> y = (X[:, 0] * X[:, 1] > 0).astype(int)
    >>> def build(p):
    ...     return rb.nn.Sequential(rb.nn.Dense(2, p["hidden"]), rb.nn.Tanh(),
    ...                             rb.nn.Dense(p["hidden"], 2))
    >>> space = rb.tuning.Space({"hidden": rb.tuning.Int(2, 16),
    ...                          "lr": rb.tuning.LogUniform(1e-3, 0.1)})
    >>> study, model = rb.tuning.tune_fit(build, space, X, y, validation_data=(X, y), epochs=3,
    ...                                   method="random", n_trials=2, seed=0)
    >>> len(study.trials), isinstance(model, rb.nn.Module)
    (2, True)
    """
    if not callable(build_model):
        raise TypeError(f"tune_fit: build_model must be callable; got {type(build_model).__name__}")
    space = space if isinstance(space, Space) else Space(space)
    epochs = positive_int("tune_fit", "epochs", epochs)
    mode = one_of("tune_fit", "mode", mode, ("auto", "min", "max"))
    if mode == "auto":
        mode = auto_mode(metric)  # as EarlyStopping and History.best decide
    one_of("tune_fit", "pruning", pruning, (None, "median"))
    # checked here, not once per trial inside the search (where each would fail a trial)
    if not isinstance(metric, str):
        raise TypeError(f"tune_fit: metric must be a key of rb.fit's History ('val_loss', "
                        f"'val_accuracy' ...); got {type(metric).__name__} {metric!r:.40}")
    if metric.startswith("val_") and validation_data is None:
        raise ValueError(f"tune_fit: metric {metric!r} needs validation_data=(X_val, y_val); "
                         f"got None")
    _resolve_loss(loss, "tune_fit")
    batch_size = positive_int("tune_fit", "batch_size", batch_size)
    if patience is not None:
        patience = positive_int("tune_fit", "patience", patience, allow_zero=True)
    warmup_epochs = positive_int("tune_fit", "warmup_epochs", warmup_epochs, allow_zero=True)
    if fit_kwargs is not None and not isinstance(fit_kwargs, dict):
        raise TypeError(f"tune_fit: fit_kwargs must be a dict of rb.fit's keyword arguments; "
                        f"got {type(fit_kwargs).__name__}")
    fit_kwargs = dict(fit_kwargs or {})
    for key in _OWN_FIT_ARGUMENTS:
        if key in fit_kwargs:
            searched = " (or search it: a space parameter named 'batch_size')" \
                if key == "batch_size" else ""
            raise ValueError(f"tune_fit: fit_kwargs must not set {key!r} (an argument of "
                             f"tune_fit itself); pass it to tune_fit{searched}")
    if "optimizer" in fit_kwargs:
        raise ValueError("tune_fit: fit_kwargs must not set 'optimizer': build_model(params) "
                         "returns (model, optimizer) or a dict with one (default Adam)")
    if "rng" in fit_kwargs:
        # one generator shared by the trials would make each trial's batches depend on the
        # trials that drew before it (on a thread pool, on which thread ran first)
        raise ValueError(f"tune_fit: fit_kwargs must not set 'rng' (got "
                         f"{type(fit_kwargs['rng']).__name__}): each trial shuffles and draws "
                         f"with its own generator, seeded from tune_fit's seed= and the "
                         f"trial's params, so that a thread pool gives the serial study; pass "
                         f"seed= to tune_fit")
    fit_kwargs.setdefault("progress", False)
    executor = search_kwargs.get("executor")
    if executor is not None and not isinstance(executor, concurrent.futures.ThreadPoolExecutor):
        # the objective is tune_fit's own closure (the data, the best model): it cannot
        # cross to another process, and minimize's message would blame the user's function
        raise TypeError(f"tune_fit: executor must run in this process (a "
                        f"concurrent.futures.ThreadPoolExecutor); got {type(executor).__name__}. "
                        f"To train trials in other processes or machines, call "
                        f"rb.tuning.minimize with a module-level objective built on train_trial "
                        f"and trial_outcome (see rosenblatt tune --workers)")
    resume = search_kwargs.get("resume_from")
    if seed is None and isinstance(resume, (str, os.PathLike)) and os.path.isfile(resume):
        # minimize would take the file's seed; the trials' training seeds must be it too
        seed = Study.load(resume).settings.get("seed")
    if seed is None:
        seed = int(resolve_rng(None).integers(2**63))

    kept = {}  # the best model so far: {"value": ..., "model": ..., "key": params as JSON}
    plan = dict(X=X, y=y, validation_data=validation_data, epochs=epochs, metric=metric,
                mode=mode, loss=loss, batch_size=batch_size, patience=patience, seed=seed,
                fit_kwargs=fit_kwargs, pruning=pruning, warmup_epochs=warmup_epochs)

    def train(params, curves=()):
        return train_trial(build_model, params, curves=curves, **plan)

    missing = {}  # the first MetricNotComputed: every trial would fail the same way

    def objective(params, curves=()):
        # pruning: the curves of the trials recorded when this one was submitted (trials
        # 0 .. i - n_parallel), handed over by minimize, so the study depends on its seed
        # and n_parallel only, not on which trial finished first
        try:
            model, curve, stopper, pruner = train(params, curves)
        except MetricNotComputed as e:
            missing.setdefault("error", e)
            raise
        outcome = trial_outcome(curve, stopper, pruner, mode)
        if not isinstance(outcome, dict):
            return outcome
        if not kept or outcome["value"] < kept["value"]:
            kept.update(value=outcome["value"], model=model,
                        key=json.dumps(params, sort_keys=True))
        return outcome

    def stop_if_metric_missing(study, trial):
        return "error" in missing

    if pruning:
        search_kwargs["history"] = earlier_curves
    callbacks = search_kwargs.get("callbacks")
    if not callable(callbacks):  # (a single callable: minimize names the mistake)
        search_kwargs["callbacks"] = [*(callbacks or ()), stop_if_metric_missing]
    # the quantity the values measure, stored in the study: a study resumed with another
    # metric or mode would mix val_loss with -val_accuracy (minimize refuses the change)
    extra = search_kwargs.pop("extra_settings", None)
    if extra is None or isinstance(extra, dict):
        extra = {**(extra or {}), "metric": metric, "mode": mode}
    study = minimize(objective, space, method=method, n_trials=n_trials, seed=seed,
                     extra_settings=extra, **search_kwargs)
    if "error" in missing:
        raise missing["error"]
    best = study.best
    if kept.get("key") != json.dumps(best.params, sort_keys=True):
        # the best trial ran in an earlier session: again, with the curves it was given
        n_parallel = study.settings.get("n_parallel", 1)
        curves = curves_before(study, best.number, n_parallel) if pruning else ()
        kept["model"] = train(best.params, curves)[0]
    return study, kept["model"]
