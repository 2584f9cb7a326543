"""Callbacks of the training loop: early stopping, checkpoints, gradient diagnostics, schedules.

Notes sections: "Tweaking hyperparameters" (early stopping: stop "when the
performance metric doesn't improve for some n epochs"; learning-rate
schedules), "Unstable gradients" and "ReLU" (vanishing/exploding gradients;
"monitor the fraction of dead units").

A callback overrides any of the hooks below; each receives the running
:class:`~rosenblatt.training.trainer.Trainer` (``model``, ``optimizer``,
``history``, ``epoch``, ``batch``, ``n_batches``, ``x_batch``, and
``stop_training``, which a callback sets to end training after this epoch).
A callback that must survive a resume (early stopping's best value) also
defines ``state_dict()`` / ``load_state_dict(state)`` with plain values; the
:class:`Checkpoint` stores them.
"""

import math
import os
import weakref

import numpy as np

from ..autodiff.tensor import Tensor, no_grad
from ..checks import boolean, int_at_least, one_of, positive_float, positive_int, unit_interval
from ..nn.parameter import Parameter
from .history import auto_mode

MODES = ("auto", "min", "max")  # is a smaller or a larger monitored value better ("auto": by name)


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, trainer):
        pass

    def on_epoch_begin(self, trainer, epoch):
        pass

    def on_backward(self, trainer):
        """After ``backward()``, before the optimizer step: the gradients are there."""

    def on_batch_end(self, trainer, batch, logs):
        pass

    def on_epoch_end(self, trainer, epoch, logs):
        """``logs`` (the epoch's numbers) may be extended; it is then recorded in History."""

    def on_train_end(self, trainer):
        pass

    def on_train_abort(self, trainer):
        """fit stopped on an exception (a divergence, KeyboardInterrupt, a callback raising):
        release what the callback holds in the model. ``on_train_end`` is not called then."""


def callback_list(owner, callbacks):
    """``callbacks`` as a list of :class:`Callback`: none, one alone (as ``rb.fit`` takes it)
    or any iterable of them; anything else a TypeError naming ``owner``, before training."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    try:
        callbacks = list(callbacks)
    except TypeError:
        raise TypeError(f"{owner}: callbacks must be an rb.callbacks.Callback or a sequence of "
                        f"them; got {type(callbacks).__name__}") from None
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"{owner}: callbacks must be rb.callbacks.Callback objects; got "
                            f"{type(cb).__name__}" + (" (a class: pass an instance)"
                                                       if isinstance(cb, type) else ""))
    return callbacks


def overrides(callback, hook):
    """Whether ``callback`` defines its own ``hook`` (``"on_backward"`` ...): by its class or,
    as :class:`LambdaCallback` does, on the instance."""
    own = getattr(callback, hook, None)
    return own is not None and getattr(own, "__func__", own) is not getattr(Callback, hook)


def _logs(callback, key):
    """Whether ``callback`` adds ``key`` to the epoch's logs (an ``EpochScore``'s
    ``logged_key``, or a callback of one's own named so)."""
    return key in (getattr(callback, "logged_key", None), getattr(callback, "name", None))


def _check_monitor(owner, monitor, trainer, callback=None):
    """A ``val_*`` number that fit computes itself (``val_loss``, ``val_<metric>`` of its
    metrics) needs validation data (or a callback that logs it under that name, such as
    ``EpochScore(..., data=..., name=monitor)``): said before the first epoch. A callback
    that logs the monitor (an ``EpochScore``) listed after ``callback``, the one that
    monitors it, would log it only after that one has looked: refused at once too. Other
    ``val_*`` keys may be logged by a callback of one's own; a key that never appears is an
    error at the first epoch's end."""
    # (a loop of another model, GAN.fit or RBM.fit, has no fit validation data to look at)
    monitor = str(monitor)
    callbacks = list(getattr(trainer, "callbacks", None) or ())
    loggers = [i for i, cb in enumerate(callbacks) if cb is not callback and _logs(cb, monitor)]
    mine = next((i for i, cb in enumerate(callbacks) if cb is callback), None)
    if loggers and mine is not None and all(i > mine for i in loggers):
        raise ValueError(f"{owner}: monitor {monitor!r} is logged by "
                         f"{type(callbacks[loggers[0]]).__name__}, which comes after "
                         f"{owner} in callbacks; the epoch's callbacks run in order, so list "
                         f"it before {owner}")
    own = ["loss"] + [name for name, _ in (getattr(trainer, "plan", None) or ())]
    if (monitor.startswith("val_") and monitor[4:] in own
            and getattr(trainer, "validation", False) is None and not loggers):
        raise ValueError(f"{owner}: monitor {monitor!r} needs validation_data (fit computes the "
                         f"val_* numbers on it); pass validation_data=(X_val, y_val) or monitor "
                         f"a training number such as 'loss'")


#: fit's metrics that it computes only for classification targets (metrics.plan leaves them out
#: for regression and reconstruction)
_DECISION_METRICS = ("accuracy", "acc", "precision", "recall", "f1")


def _not_computed(owner, monitor, logs, trainer):
    """The error for a monitor missing from the epoch's logs, saying why where it can: no
    validation data for a ``val_*`` key, or a class-decision metric that fit leaves out for
    targets that are not class labels."""
    prefix = "val_" if monitor.startswith("val_") else ""
    name = monitor[len(prefix):]
    why = ""
    if prefix and getattr(trainer, "validation", False) is None:
        why = " (val_* need validation_data)"
    elif name == "acc" and f"{prefix}accuracy" in logs:
        why = f" (fit logs it as {prefix + 'accuracy'!r})"
    elif name in _DECISION_METRICS and _values(trainer):
        why = (f" (fit computes {name} only for classification: integer or bool labels, or "
               f"a classification loss; these targets are values for loss "
               f"{getattr(trainer, 'loss_name', None)!r}: monitor 'loss' or 'val_loss', or a "
               f"score such as EpochScore('r2'))")
    return ValueError(f"{owner}: monitor {monitor!r} is not computed; available: "
                      f"{sorted(logs)}{why}")


def _values(trainer):
    """Whether fit's targets are values, not class labels (float targets with a regression
    loss, or the inputs themselves): fit then computes no class-decision metric."""
    from .metrics import CLASSIFICATION_LOSSES  # metrics imports this module

    if not hasattr(trainer, "loss_name"):  # another loop (GAN.fit, RBM.fit): not known
        return False
    y = getattr(trainer, "y", None)
    loss = trainer.loss_name
    if loss in CLASSIFICATION_LOSSES:
        return False
    return y is None or getattr(y, "dtype", np.dtype(float)).kind not in "iub"


def _monitor(owner, monitor):
    """``monitor`` checked at construction: a key of the epoch's logs is a str (a wrong one
    would otherwise be found only at the end of the first epoch, after it trained)."""
    if not isinstance(monitor, str) or not monitor:
        raise TypeError(f"{owner}: monitor must be the name of a logged number, a str such as "
                        f"'val_loss' or 'loss'; got {monitor!r:.60}")
    return monitor


def _check_lr_is_read(owner, optimizer):
    """An optimizer whose ``lr`` is only its initial step size (Rprop: each weight then
    adapts its own) never reads a rate set during training: refused before the first epoch
    rather than logging a learning curve that did not happen."""
    initial_only = getattr(optimizer, "lr_is_initial_only", False)
    if initial_only:  # True, or a name (a GAN's pair of optimizers: which one)
        name = initial_only if isinstance(initial_only, str) else type(optimizer).__name__
        raise ValueError(f"{owner}: {name}'s lr is only its initial step size (every weight "
                         f"then adapts its own), so changing it during training has no effect; "
                         f"drop this callback, or use an optimizer whose lr scales every step "
                         f"(SGD, Adam ...)")


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs; restore the best weights.

    Parameters
    ----------
    monitor : str, default "val_loss"
        A key of the epoch's logs (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` ...).
    patience : int, default 5
        Epochs without improvement tolerated (the notes' n; the notes warn that
        networks sometimes plateau and then improve again: be generous).
    restore_best : bool, default True
        At the end of training, put back the weights (and buffers) of the best epoch.
    min_delta : float, default 0
        The smallest change that counts as an improvement.
    mode : {"auto", "min", "max"}
        "auto": "max" for accuracies, likelihoods and AUC, else "min"
        (:func:`~rosenblatt.training.history.auto_mode`).

    Attributes
    ----------
    best : float
        The best value of ``monitor`` so far.
    best_epoch, stopped_epoch : int or None
        0-based epoch indices (rows of the History), None until set. The ``stop_reason``
        message counts epochs from 1, as the progress display does: ``best_epoch = 20``
        is "epoch 21" there.
    """

    def __init__(self, monitor="val_loss", patience=5, restore_best=True, min_delta=0.0,
                 mode="auto"):
        monitor = _monitor("EarlyStopping", monitor)
        patience = int_at_least("EarlyStopping", "patience", patience, 0)
        one_of("EarlyStopping", "mode", mode, MODES)
        self.monitor, self.patience = monitor, patience
        self.restore_best = boolean("EarlyStopping", "restore_best", restore_best)
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float, np.number)) \
                or not math.isfinite(min_delta):
            raise ValueError(f"EarlyStopping: min_delta must be a finite number; got "
                             f"{min_delta!r}")
        self.min_delta = abs(float(min_delta))
        self.mode = auto_mode(monitor) if mode == "auto" else mode
        self._reset()

    def _reset(self):
        self.best = -math.inf if self.mode == "max" else math.inf
        self.best_epoch = None
        self.stopped_epoch = None
        self.wait = 0
        self.best_state = None

    def on_train_begin(self, trainer):
        _check_monitor("EarlyStopping", self.monitor, trainer, self)
        if trainer.start_epoch == 0:
            self._reset()

    def _improved(self, value):
        if self.mode == "max":
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def on_epoch_end(self, trainer, epoch, logs):
        if self.monitor not in logs:
            raise _not_computed("EarlyStopping", self.monitor, logs, trainer)
        value = float(logs[self.monitor])
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_state = trainer.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True
            # the epoch 1-based, as the progress display's "epoch k/N" counts it
            best = ("no finite value seen" if self.best_epoch is None
                    else f"best {self.best:.6g} at epoch {self.best_epoch + 1}")
            trainer.history.stop_reason = (
                f"early stopping: {self.monitor} did not improve for {self.patience} epochs "
                f"({best})")

    def on_train_end(self, trainer):
        if self.restore_best and self.best_state is not None:
            trainer.model.load_state_dict(self.best_state)

    def state_dict(self):
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch, "best_state": self.best_state}

    def load_state_dict(self, state):
        self.best, self.best_epoch = _saved_best("EarlyStopping", state, self.mode), \
            state["best_epoch"]
        self.wait, self.stopped_epoch = int(state["wait"]), state["stopped_epoch"]
        self.best_state = state.get("best_state")


def _saved_best(owner, state, mode):
    """A saved ``best``: a real number, not NaN (nothing would ever improve on it), infinite
    only as the mode's starting value (+inf for "min", -inf for "max")."""
    best = state["best"]
    start = math.inf if mode == "min" else -math.inf
    if isinstance(best, (str, bool, np.bool_)) or not isinstance(best, (int, float, np.number)) \
            or math.isnan(best) or (math.isinf(best) and best != start):
        raise ValueError(f"{owner}: state 'best' must be a finite number, or {start} before any "
                         f"epoch (mode {mode!r}); got {best!r:.40}")
    return float(best)


class Checkpoint(Callback):
    """Save everything needed to resume, atomically, every ``every`` epochs.

    The file (``rb.save``'s safetensors format, written to a temporary file,
    fsynced and renamed) holds the model's weights and buffers, the
    optimizer's state, the number of epochs done, the states of every random
    generator the run uses, the History so far and the other callbacks'
    states. ``rb.fit(..., resume_from=path)`` continues from it and ends with
    exactly the weights of an uninterrupted run; ``rb.load(path)`` reads the
    model alone.

    Parameters
    ----------
    path : str or os.PathLike
    every : int, default 1

    Notes
    -----
    The model's layer types must be registered with ``rb.io`` (all library
    layers are; decorate your own with ``@rb.io.register``).
    """

    def __init__(self, path, every=1):
        every = positive_int("Checkpoint", "every", every)
        try:
            self.path = os.fspath(path)
        except TypeError:
            raise TypeError(f"Checkpoint: path must be a file path (str or os.PathLike); got "
                            f"{type(path).__name__} {path!r:.60}") from None
        if not self.path:  # found now, not as a failed write after the first epoch
            raise ValueError("Checkpoint: path is empty; give a file name, e.g. "
                             "'run/checkpoint.safetensors'")
        self.every = every

    def on_epoch_end(self, trainer, epoch, logs):
        if (epoch + 1) % self.every == 0:
            trainer.pending_checkpoints.append(self.path)


def _stacked_layers(model):
    """``{id(parameter): i}`` for the parameters of stacked layer ``i`` of every recurrent
    module (``num_layers`` of them, held in lists: ``W_x[i]``, ``W_h[i]``, ``b[i]`` ...)."""
    index = {}
    for module in model.modules():
        n = getattr(module, "num_layers", None)
        if not isinstance(n, int):
            continue
        for attr, value in vars(module).items():
            # the learned initial state is one list entry per state (h, c), not per layer
            if attr != "initial_state" and isinstance(value, list) and len(value) == n:
                index.update((id(p), i) for i, p in enumerate(value) if isinstance(p, Parameter))
    return index


def _layer_of(name, stacked=None):
    """The layer a parameter's gradient is counted in: the module holding it (``out.W`` ->
    ``out``; a parameter of the model itself keeps its own name), or for a recurrent stack
    the stacked layer (``rnn.W_x.1`` -> ``rnn.1``, ``stacked`` its index)."""
    if stacked is not None:
        module = name.rsplit(".", 2)[0] if name.count(".") >= 2 else ""
        return f"{module}.{stacked}" if module else str(stacked)
    return name.rsplit(".", 1)[0] if "." in name else name


class GradientMonitor(Callback):
    """Per-layer gradient norms and the fraction of dead ReLUs, once per epoch.

    The notes' diagnostics of unstable gradients (norms shrinking towards the
    input layers: vanishing; growing: exploding) and of dying ReLUs ("monitor
    the fraction of dead units"). On the last batch of every epoch it records
    ``grad_norm/<layer>`` (the L2 norm of the gradients of the parameters of
    the module that holds them: ``out`` for ``out.W`` and ``out.b``; a
    parameter of the model itself keeps its name, ``W``; a recurrent stack,
    RNN/LSTM/GRU, one per stacked layer: ``rnn.0``, ``rnn.1`` ..., its learned
    initial state as ``rnn.initial_state``) and,
    for every ReLU module, ``dead_relu/<name>``: the fraction of its units
    that output 0 for every example of that batch (a ReLU used in several
    places: one number per place, its calls taken in the order of its names).
    They go into the History. A last batch that takes no step (every label
    ignored by the loss) has no gradient: that epoch's norms are NaN there.

    Attributes
    ----------
    records : list of dict
        One dict per epoch of the current run (the same numbers): a new run
        starts a new list; a resumed one starts from the History it resumes.
    """

    def __init__(self):
        self.records = []
        self._norms = {}

    def on_train_begin(self, trainer):
        self._norms = {}
        history = trainer.history.history if trainer.start_epoch > 0 else {}
        keys = [k for k in history if k.startswith(("grad_norm/", "dead_relu/"))]
        # one dict per epoch of the resumed History (empty for the epochs it did not watch)
        self.records = [{k: history[k][i] for k in keys if not math.isnan(history[k][i])}
                        for i in range(len(trainer.history.epoch))]

    def on_epoch_begin(self, trainer, epoch):
        self._norms = {}  # a last batch that takes no step (labels all ignored) records none

    def on_backward(self, trainer):
        if trainer.batch != trainer.n_batches - 1:
            return
        sums = {}
        stacked = _stacked_layers(trainer.model)  # once an epoch: a walk over the modules
        for name, p in trainer.model.named_parameters():
            if p.grad is not None:
                layer = _layer_of(name, stacked.get(id(p)))
                sums[layer] = sums.get(layer, 0.0) + float(np.vdot(p.grad, p.grad))
        self._norms = {f"grad_norm/{k}": math.sqrt(v) for k, v in sums.items()}

    def dead_relu_fractions(self, model, x):
        """``{name: fraction of dead units}`` of every ReLU module on inputs ``x``."""
        from ..nn.activations import ReLU

        captured = {}
        patched = {}  # id -> (module, its names): a ReLU used in several places is one module
        for name, module in _named_modules(model):
            if type(module) is ReLU:
                patched.setdefault(id(module), (module, []))[1].append(name)
        for module, names in patched.values():
            calls = [0]

            def spy(inp, _names=names, _module=module, _calls=calls):
                out = type(_module).forward(_module, inp)
                # the n-th call of a shared ReLU is its n-th use (named by its place)
                name = _names[min(_calls[0], len(_names) - 1)]
                _calls[0] += 1
                captured[name] = out.data if isinstance(out, Tensor) else np.asarray(out)
                return out
            module.forward = spy
        try:
            with no_grad():
                model(x if isinstance(x, Tensor) else Tensor(x))
        finally:
            for module, _ in patched.values():
                vars(module).pop("forward", None)
        fractions = {}
        for name, out in captured.items():
            units = out.reshape(out.shape[0], -1) if out.ndim > 1 else out.reshape(1, -1)
            fractions[f"dead_relu/{name}"] = float(np.mean(np.all(units <= 0, axis=0)))
        return fractions

    def on_epoch_end(self, trainer, epoch, logs):
        record = dict(self._norms)
        if trainer.x_batch is not None:
            with trainer.model.evaluating():
                record.update(self.dead_relu_fractions(trainer.model, trainer.x_batch))
        self.records.append(record)
        logs.update(record)


def _named_modules(module, prefix="", _above=()):
    """(dotted name, module) at every position: a module used in several places is listed
    at each (a shared ReLU's uses are named by their places); a back-reference to a module
    above (``child.owner = parent``) is not followed, so a cycle ends."""
    yield prefix or type(module).__name__, module
    above = (*_above, id(module))
    for name, child in module.named_children():
        if id(child) not in above:
            yield from _named_modules(child, f"{prefix}.{name}" if prefix else name, above)


class LearningRateScheduler(Callback):
    """Set ``optimizer.lr = schedule(epoch)`` at the start of every epoch.

    Parameters
    ----------
    schedule : callable
        ``epoch -> lr``, e.g. ``rb.optim.schedules.InverseTime(0.1, 0.01)``.

    Raises
    ------
    ValueError
        At the start of training, if the optimizer has a schedule of its own
        (its ``lr`` was a callable: it sets the rate before every step, so the
        two would fight) or reads ``lr`` only as its initial step size (Rprop);
        at an epoch whose rate is negative or not finite.
    """

    def __init__(self, schedule):
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable; got "
                            f"{type(schedule).__name__}")
        self.schedule = schedule

    def on_train_begin(self, trainer):
        _check_lr_is_read("LearningRateScheduler", trainer.optimizer)
        own = getattr(trainer.optimizer, "schedule", None)
        if callable(own):
            raise ValueError(
                f"LearningRateScheduler: the optimizer already has a schedule ({own!r}), which "
                f"sets lr before every step; give the optimizer a number as lr, or drop this "
                f"callback and put the schedule in the optimizer")

    def on_epoch_begin(self, trainer, epoch):
        trainer.optimizer.lr = positive_float(
            "LearningRateScheduler", f"lr (schedule at epoch {epoch})", self.schedule(epoch),
            allow_zero=True)


THRESHOLD_MODES = ("rel", "abs")


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving.

    The notes ("Tweaking hyperparameters"): "once you get closer, you may want
    to decrease the learning rate to carefully identify the best minimum".

    Parameters
    ----------
    monitor : str, default "val_loss"
    factor : float, default 0.5
        In (0, 1).
    patience : int, default 2
        Epochs without improvement before each reduction (as Keras: the
        ``patience``-th such epoch reduces; 0 and 1 both reduce at the first;
        PyTorch's ``patience=p`` is ``patience=p + 1`` here).
    min_lr : float, default 0
        The rate is never reduced below it, and never raised to it.
    mode : {"auto", "min", "max"}
        "auto": as in :class:`EarlyStopping`.
    threshold : float, default 0
        How much better than the best so far a value must be to count as an
        improvement (PyTorch's ``threshold``; its default is 1e-4). With 0, any
        improvement counts.
    threshold_mode : {"rel", "abs"}, default "rel"
        PyTorch's: "rel" needs ``value < best (1 - threshold)`` ("min") or
        ``value > best (1 + threshold)`` ("max"); "abs" needs
        ``value < best - threshold`` or ``value > best + threshold``.
    cooldown : int, default 0
        Epochs after a reduction during which epochs without improvement are
        not counted (PyTorch's ``cooldown``).

    Notes
    -----
    When the optimizer's ``lr`` is a schedule, the reduction scales it
    (``optimizer.lr_scale``) instead of writing ``lr``, which the schedule
    would overwrite at the next step. An optimizer that reads ``lr`` only as
    its initial step size (Rprop) is refused when training starts: a
    reduction would change nothing but the logged ``lr``. The best value, the
    epochs waited and the cooldown start afresh with every new run (a resumed
    one continues from the checkpoint's).
    """

    def __init__(self, monitor="val_loss", factor=0.5, patience=2, min_lr=0.0, mode="auto",
                 threshold=0.0, threshold_mode="rel", cooldown=0):
        monitor = _monitor("ReduceLROnPlateau", monitor)
        factor = unit_interval("ReduceLROnPlateau", "factor", factor, closed_low=False)
        patience = int_at_least("ReduceLROnPlateau", "patience", patience, 0)
        one_of("ReduceLROnPlateau", "mode", mode, MODES)
        self.monitor, self.factor, self.patience = monitor, float(factor), patience
        self.min_lr = positive_float("ReduceLROnPlateau", "min_lr", min_lr, allow_zero=True)
        self.mode = auto_mode(monitor) if mode == "auto" else mode
        self.threshold = positive_float("ReduceLROnPlateau", "threshold", threshold,
                                        allow_zero=True)
        self.threshold_mode = one_of("ReduceLROnPlateau", "threshold_mode", threshold_mode,
                                     THRESHOLD_MODES)
        self.cooldown = int_at_least("ReduceLROnPlateau", "cooldown", cooldown, 0)
        self._reset()

    def _reset(self):
        self.best = -math.inf if self.mode == "max" else math.inf
        self.wait = 0
        self.cooldown_counter = 0
        self.lr_scale = None  # the optimizer's lr_scale after a reduction of its schedule

    def on_train_begin(self, trainer):
        _check_monitor("ReduceLROnPlateau", self.monitor, trainer, self)
        _check_lr_is_read("ReduceLROnPlateau", trainer.optimizer)
        # (its scale now is what state_dict saves; a weak reference: a copy of this callback,
        # such as tune_fit's per trial, does not drag the optimizer and its weights along)
        self._optimizer = weakref.ref(trainer.optimizer)
        if trainer.start_epoch == 0:  # a new run; a resumed one keeps the checkpoint's state
            self._reset()
        elif self.lr_scale is not None and getattr(trainer.optimizer, "schedule", None):
            trainer.optimizer.lr_scale = self.lr_scale  # not in the optimizer's own state

    def _better(self, value):
        best, th = self.best, self.threshold
        if self.mode == "max":
            return value > (best * (1 + th) if self.threshold_mode == "rel" else best + th)
        return value < (best * (1 - th) if self.threshold_mode == "rel" else best - th)

    def on_epoch_end(self, trainer, epoch, logs):
        if self.monitor not in logs:
            raise _not_computed("ReduceLROnPlateau", self.monitor, logs, trainer)
        value = float(logs[self.monitor])
        if self._better(value):
            self.best, self.wait = value, 0
        else:
            self.wait += 1
        if self.cooldown_counter > 0:  # bad epochs right after a reduction do not count
            self.cooldown_counter -= 1
            self.wait = 0
        if self.wait >= max(self.patience, 1):
            self._reduce(trainer.optimizer)
            self.cooldown_counter = self.cooldown
            self.wait = 0

    def _reduce(self, optimizer):
        old = float(optimizer.lr)
        new = max(self.min_lr, old * self.factor)
        if not new < old:  # a rate at or below min_lr already: never raised
            return
        if getattr(optimizer, "schedule", None) is not None:
            optimizer.lr_scale *= new / old  # the schedule would overwrite lr
            self.lr_scale = float(optimizer.lr_scale)
        else:
            optimizer.lr = new

    def state_dict(self):
        scale, ref = self.lr_scale, getattr(self, "_optimizer", None)
        optimizer = None if ref is None else ref()
        if scale is not None and getattr(optimizer, "schedule", None) is not None:
            # the schedule's scale now, not the one this callback left: another callback on
            # the same optimizer (a second ReduceLROnPlateau) may have lowered it since, and
            # each restores its saved scale when a run resumes
            scale = float(optimizer.lr_scale)
        return {"best": self.best, "wait": self.wait, "cooldown_counter": self.cooldown_counter,
                "lr_scale": scale}

    def load_state_dict(self, state):
        best, wait = _saved_best("ReduceLROnPlateau", state, self.mode), int(state["wait"])
        cooldown = int_at_least("ReduceLROnPlateau", "cooldown_counter",
                                state.get("cooldown_counter", 0), 0)
        scale = state.get("lr_scale")
        if scale is not None:
            scale = positive_float("ReduceLROnPlateau", "lr_scale", scale)
        self.best, self.wait, self.cooldown_counter, self.lr_scale = best, wait, cooldown, scale


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=fn)``."""

    def __init__(self, **hooks):
        for name, fn in hooks.items():
            if not hasattr(Callback, name) or not name.startswith("on_"):
                raise ValueError(f"LambdaCallback: unknown hook {name!r}")
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be callable; got "
                                f"{type(fn).__name__}")
            setattr(self, name, fn)


# re-exported as rb.callbacks.Rewire; imported last because it subclasses Callback
from .rewire import Rewire  # noqa: E402, F401
