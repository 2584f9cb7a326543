"""The training loop: ``rb.fit`` (notes: "Training neural networks", "Shuffling & curriculum
learning", "Tweaking hyperparameters", "Unstable gradients", "Artificially expanding the training
set").

One epoch is: order the examples (shuffled every epoch by default, or by a
curriculum), cut them into mini-batches, and for each batch run the
forward pass, the loss (plus regularization penalties), backpropagation and
one optimizer step. Per-epoch losses and metrics are exact averages over the
examples seen. Everything random (the order, augmentation, input noise,
dropout with the library generator) draws from one generator, so a run is
reproducible under a seed and a checkpointed run resumes bit for bit.

Bad data and divergence: NaN/inf in the inputs or targets is rejected before
training; a NaN/inf loss stops training with :class:`DivergenceError`, which
names the epoch and batch, after putting back the last weights that gave a
finite loss.
"""

import math
import os
import time

import numpy as np

from .. import randomness
from ..autodiff.tensor import Tensor, no_grad
from ..nn import losses as losses_module
from ..nn import regularizers as regs_module
from ..nn.module import Module
from ..optim.clipping import clip_grad_norm, clip_grad_value
from . import metrics as metrics_module
from .callbacks import Callback
from .curriculum import Curriculum
from .history import History
from .progress import ProgressBar

LOSSES = ("cross_entropy", "mse", "binary_cross_entropy", "binary_cross_entropy_with_logits",
          "nll", "log_loss", "hinge", "max_margin")
_LABEL_LOSSES = ("cross_entropy", "nll", "max_margin")


class DivergenceError(FloatingPointError):
    """Training produced a NaN/inf loss; the model holds its last good weights.

    Attributes
    ----------
    epoch, batch : int
        Where it happened (0-based).
    history : History
        The epochs completed before.
    """

    def __init__(self, message, epoch, batch, history):
        super().__init__(message)
        self.epoch, self.batch, self.history = epoch, batch, history


class Trainer:
    """What callbacks see of a running ``fit``.

    Attributes
    ----------
    model, optimizer, history, rng
    epoch, batch, n_batches : int
        The current position (0-based).
    start_epoch : int
        The first epoch of this call (> 0 when resuming).
    x_batch : ndarray or None
        The inputs of the last batch (as given to the model).
    stop_training : bool
        Set by a callback to stop after the current epoch.
    """

    def __init__(self, model, optimizer, history, rng, callbacks, regularizers, augment):
        self.model, self.optimizer, self.history, self.rng = model, optimizer, history, rng
        self.callbacks, self.regularizers, self.augment = callbacks, regularizers, augment
        self.epoch = self.batch = self.n_batches = self.start_epoch = self.steps = 0
        self.x_batch = None
        self.stop_training = False
        self.pending_checkpoints = []

    # -- checkpoints --------------------------------------------------------------
    def generators(self):
        """Every random generator the run draws from, by a stable name."""
        found, seen = {}, set()

        def add(name, value):
            if isinstance(value, np.random.Generator) and id(value) not in seen:
                seen.add(id(value))
                found[name] = value

        add("fit", self.rng)
        add("library", randomness.generator())
        stack = [("model", self.model)]
        while stack:
            prefix, module = stack.pop(0)
            for attr, value in vars(module).items():
                add(f"{prefix}.{attr}", value)
            stack.extend((f"{prefix}.{name}", child) for name, child in module.named_children())
        owners = [("optimizer", self.optimizer), ("optimizer.inner",
                                                  getattr(self.optimizer, "optimizer", None)),
                  ("augment", self.augment)]
        owners += [(f"regularizer{i}", r) for i, r in enumerate(self.regularizers)]
        for prefix, owner in owners:
            for attr, value in (vars(owner).items() if hasattr(owner, "__dict__") else ()):
                add(f"{prefix}.{attr}", value)
        return found

    def save_checkpoint(self, path, epochs_done):
        """Write weights, optimizer state, epoch, RNG states, History and callback states."""
        from ..io import save  # io sits below training, but imports lazily keep start-up light

        metadata = {
            "epoch": int(epochs_done),
            "generators": {k: g.bit_generator.state for k, g in self.generators().items()},
            "history": self.history.to_dict(),
            "callbacks": [cb.state_dict() if callable(getattr(cb, "state_dict", None)) else None
                          for cb in self.callbacks],
        }
        save(self.model, path, optimizer=self.optimizer, metadata=metadata)

    def resume(self, path):
        """Load a checkpoint in place; returns the number of epochs it had done."""
        from ..io import FormatError, load_checkpoint, registry

        ckpt = load_checkpoint(path)
        meta = ckpt.metadata
        if not isinstance(meta, dict) or "epoch" not in meta or ckpt.optimizer_state is None:
            raise ValueError(f"fit: {os.fspath(path)} is a model file, not a training checkpoint "
                             f"(written by rb.callbacks.Checkpoint)")
        if registry.spec_of(self.model) != registry.spec_of(ckpt.model):
            raise FormatError(f"fit: {os.fspath(path)} holds another architecture than the "
                              f"model being trained")
        self.model.load_state_dict(ckpt.model.state_dict())
        self.optimizer.load_state_dict(ckpt.optimizer_state)
        gens = self.generators()
        for name, state in meta.get("generators", {}).items():
            if name in gens:
                gens[name].bit_generator.state = state
        self.history = History.from_dict(meta.get("history", {}))
        for cb, state in zip(self.callbacks, meta.get("callbacks", [])):
            if state is not None and callable(getattr(cb, "load_state_dict", None)):
                cb.load_state_dict(state)
        return int(meta["epoch"])


# -- argument checks ---------------------------------------------------------------------
def _positive_int(value, name, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or value < (0 if allow_zero else 1):
        kind = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"fit: {name} must be {kind} integer; got {value!r}")
    return int(value)


def _check_finite(array, name):
    if array.dtype.kind in "fc":
        bad = ~np.isfinite(array)
        if bad.any():
            first = np.unravel_index(int(np.argmax(bad)), array.shape)
            raise ValueError(
                f"fit: {name} contains {int(bad.sum())} NaN or infinite values (the first at "
                f"index {tuple(int(i) for i in first)}); remove or impute them before training")


def _as_data(array, name, dtype):
    if isinstance(array, Tensor):
        array = array.data
    array = np.asarray(array)
    if array.dtype == object:
        raise TypeError(f"fit: {name} must be a numeric array; got dtype object")
    _check_finite(array, name)
    if array.dtype.kind == "f" and array.dtype != dtype:
        array = array.astype(dtype)
    return array


def _resolve_loss(loss):
    if isinstance(loss, str):
        if loss not in LOSSES or not hasattr(losses_module, loss):
            raise ValueError(f"fit: unknown loss {loss!r}; use one of {LOSSES} or a callable "
                             f"fn(pred, target) -> Tensor")
        return getattr(losses_module, loss), loss
    if callable(loss):
        return loss, getattr(loss, "__name__", None)
    raise TypeError(f"fit: loss must be a name or a callable; got {type(loss).__name__}")


def _target_for(pred, target, loss_name):
    """Let (batch,) targets meet (batch, 1) outputs (a common off-by-a-dimension slip)."""
    if (loss_name not in _LABEL_LOSSES and target.ndim == 1 and pred.ndim == 2
            and pred.shape[1] == 1):
        return target.reshape(-1, 1)
    return target


def _batches(n, batch_size, order):
    if order is None:
        return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def _metric_plan(metrics, y, loss_name):
    plan = metrics_module.resolve(metrics)
    classification = y is not None and (
        y.dtype.kind in "iub" or loss_name in metrics_module.CLASSIFICATION_LOSSES)
    threshold = 0.0 if loss_name in metrics_module.LOGIT_LOSSES else 0.5
    out = []
    for name, fn in plan:
        if fn is metrics_module.accuracy:
            if classification:  # accuracy means nothing for regression or reconstruction
                out.append((name, lambda p, t, _th=threshold: metrics_module.accuracy(p, t, _th)))
        elif y is not None or fn in (metrics_module.mae, metrics_module.mse):
            out.append((name, fn))
    return out


def predict(model, X, batch_size=256):
    """The model's outputs on ``X`` (eval mode, no graph), as an ndarray."""
    X = X.data if isinstance(X, Tensor) else np.asarray(X)
    modes = [m.training for m in model.modules()]
    model.eval()
    try:
        with no_grad():
            parts = [model(Tensor(X[i:i + batch_size])).data for i in range(0, len(X), batch_size)]
    finally:
        for m, mode in zip(model.modules(), modes):
            m.training = mode
    return np.concatenate(parts, axis=0) if parts else np.empty((0,))


def evaluate(model, X, y=None, *, loss, metrics=("accuracy",), batch_size=256):
    """Average loss and metrics of ``model`` on ``(X, y)`` (eval mode, no graph).

    Returns
    -------
    dict
        ``{"loss": ..., "<metric>": ...}``.
    """
    loss_fn, loss_name = _resolve_loss(loss)
    dtype = _param_dtype(model)
    X = _as_data(X, "X", dtype)
    y = None if y is None else _as_data(y, "y", dtype)
    plan = _metric_plan(metrics, y, loss_name)
    return _evaluate(model, X, y, loss_fn, loss_name, plan, batch_size)


def _evaluate(model, X, y, loss_fn, loss_name, plan, batch_size):
    modes = [m.training for m in model.modules()]
    model.eval()
    total, count = 0.0, 0
    sums = {name: [0.0, 0] for name, _ in plan}
    try:
        with no_grad():
            for sl in _batches(len(X), batch_size, None):
                xb = X[sl]
                pred = model(Tensor(xb))
                target = _target_for(pred, xb if y is None else y[sl], loss_name)
                total += float(loss_fn(pred, target).item()) * len(xb)
                count += len(xb)
                for name, fn in plan:
                    s, c = fn(pred.data, target)
                    sums[name][0] += s
                    sums[name][1] += c
    finally:
        for m, mode in zip(model.modules(), modes):
            m.training = mode
    out = {"loss": total / max(count, 1)}
    out.update({name: s / max(c, 1) for name, (s, c) in sums.items()})
    return out


def _param_dtype(model):
    for p in model.parameters():
        if p.data.dtype.kind == "f":
            return p.data.dtype
    return np.dtype(np.float32)


def fit(model, X, y=None, *, loss, optimizer, epochs, batch_size=32, shuffle=True,
        curriculum=None, validation_data=None, metrics=("accuracy",), regularizers=(),
        callbacks=(), augment=None, progress=True, rng=None, resume_from=None, clip_norm=None,
        clip_value=None):
    """Train ``model`` on ``(X, y)`` with mini-batch gradient descent; returns a History.

    Parameters
    ----------
    model : rb.nn.Module
    X : array_like, shape (n_examples, ...)
    y : array_like, shape (n_examples, ...), optional
        Targets (integer labels, one-hot rows, values). ``None``: the target is
        the input itself (autoencoders).
    loss : str or callable
        A name of ``rb.losses`` ("cross_entropy", "mse", "binary_cross_entropy",
        "binary_cross_entropy_with_logits", "nll", "log_loss", "hinge",
        "max_margin") or ``fn(pred: Tensor, target: ndarray) -> scalar Tensor``.
    optimizer : rb.optim optimizer
        Built on the model's parameters (``rb.optim.Adam(model.parameters())``).
    epochs : int
        The total number of epochs (a resumed run continues up to it).
    batch_size : int, default 32
    shuffle : bool, default True
        Reshuffle the examples every epoch.
    curriculum : Curriculum, array_like or callable, optional
        Difficulty scores (one per example; lower is easier), a callable
        ``fn(X, y) -> scores``, or a :class:`Curriculum` (which can also widen
        the pool over epochs). Examples are then presented easiest first
        (``shuffle`` is ignored).
    validation_data : (X_val, y_val) or X_val, optional
        Evaluated after every epoch: ``val_loss`` and ``val_<metric>``.
    metrics : sequence of str or callable, default ("accuracy",)
        "accuracy" (computed only for classification targets), "mae", "mse",
        or ``fn(pred, target) -> (total, count)``.
    regularizers : sequence, default ()
        ``rb.regularizers`` objects (penalty, after_step, transform_input
        hooks), added to the model's own ``model.regularizers``.
    callbacks : sequence of Callback, default ()
        ``rb.callbacks.EarlyStopping``, ``Checkpoint``, ``GradientMonitor`` ...
    augment : callable, optional
        ``fn(x_batch, rng) -> x_batch`` applied to every training batch, e.g.
        ``rb.training.ImageAugmentation(image_shape=(8, 8))``.
    progress : bool, default True
        A live progress bar on stderr (only when stderr is a terminal).
    rng : numpy.random.Generator or int, optional
        Drives shuffling, augmentation and input noise; default the library
        generator (``rb.seed``).
    resume_from : str or os.PathLike, optional
        A :class:`~rosenblatt.training.callbacks.Checkpoint` file: load the
        weights, optimizer state, RNG states, History and callback states and
        continue with the next epoch. If the file does not exist, training
        starts from scratch (so the same call starts and resumes a run).
    clip_norm, clip_value : float, optional
        Clip the gradient (global L2 norm, or each component) before every step.

    Returns
    -------
    History

    Raises
    ------
    ValueError
        NaN/inf in ``X``, ``y`` or the validation data; mismatched lengths;
        bad arguments.
    DivergenceError
        When the loss becomes NaN or infinite (the model keeps the last
        weights that gave a finite loss).

    Notes
    -----
    Inside the loop NumPy's floating-point warnings are silenced: the loop
    checks every batch's loss itself and stops with :class:`DivergenceError`.
    ``X`` and float ``y`` are converted once to the parameters' dtype.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> rb.seed(0)
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    >>> y = np.array([0, 1, 1, 0])
    >>> net = rb.nn.Sequential(rb.nn.Dense(2, 8), rb.nn.Tanh(), rb.nn.Dense(8, 2))
    >>> h = rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.Adam(net.parameters(),
    ...            lr=0.05), epochs=150, batch_size=4, progress=False)
    >>> h["accuracy"][-1]
    1.0
    """
    if not isinstance(model, Module):
        raise TypeError(f"fit: model must be an rb.nn.Module; got {type(model).__name__}")
    if not (callable(getattr(optimizer, "step", None)) and hasattr(optimizer, "zero_grad")):
        raise TypeError(f"fit: optimizer must be an rb.optim optimizer (zero_grad(), step()); "
                        f"got {type(optimizer).__name__}")
    epochs = _positive_int(epochs, "epochs", allow_zero=True)
    batch_size = _positive_int(batch_size, "batch_size")
    dtype = _param_dtype(model)
    X = _as_data(X, "X", dtype)
    y = None if y is None else _as_data(y, "y", dtype)
    if X.ndim == 0 or len(X) == 0:
        raise ValueError(f"fit: X must hold at least one example; got shape {X.shape}")
    if y is not None and len(y) != len(X):
        raise ValueError(f"fit: X has {len(X)} examples but y has {len(y)}")
    if validation_data is not None:
        if isinstance(validation_data, (tuple, list)) and len(validation_data) == 2:
            Xv, yv = validation_data
        else:
            Xv, yv = validation_data, None
        Xv = _as_data(Xv, "validation X", dtype)
        yv = None if yv is None else _as_data(yv, "validation y", dtype)
        if yv is not None and len(yv) != len(Xv):
            raise ValueError(f"fit: validation X has {len(Xv)} examples but y has {len(yv)}")
    loss_fn, loss_name = _resolve_loss(loss)
    plan = _metric_plan(metrics, y, loss_name)
    regs = regs_module.collect(model, regularizers)
    callbacks = list(callbacks or ())
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"fit: callbacks must be rb.callbacks.Callback objects; got "
                            f"{type(cb).__name__}")
    if augment is not None and not callable(augment):
        raise TypeError(f"fit: augment must be a callable fn(x, rng); got {type(augment).__name__}")
    if curriculum is not None and not isinstance(curriculum, Curriculum):
        scores = curriculum(X, y) if callable(curriculum) else curriculum
        curriculum = Curriculum(scores)
    if curriculum is not None and len(curriculum) != len(X):
        raise ValueError(f"fit: the curriculum scores {len(curriculum)} examples; X has {len(X)}")
    rng = randomness.resolve_rng(rng)
    trainer = Trainer(model, optimizer, History(), rng, callbacks, regs, augment)
    if resume_from is not None and os.path.exists(os.fspath(resume_from)):
        trainer.start_epoch = trainer.resume(resume_from)
    vec = getattr(optimizer, "vec", None)
    good_theta = None if vec is None else np.empty_like(vec.data)
    n = len(X) if curriculum is None else None
    bar = ProgressBar(epochs, 1) if progress else None
    modes = [m.training for m in model.modules()]
    for cb in callbacks:
        cb.on_train_begin(trainer)
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            for epoch in range(trainer.start_epoch, epochs):
                trainer.epoch = epoch
                started = time.perf_counter()
                model.train()
                for cb in callbacks:
                    cb.on_epoch_begin(trainer, epoch)
                if curriculum is not None:
                    order = curriculum.order(epoch, rng)
                else:
                    order = rng.permutation(n) if shuffle else None
                batches = _batches(len(X), batch_size, order)
                trainer.n_batches = len(batches)
                if bar is not None:
                    bar.n_batches = len(batches)
                buffers = [(b, np.array(b, copy=True)) for _, b in model.named_buffers()
                           if isinstance(b, np.ndarray)]
                total, count = 0.0, 0
                sums = {name: [0.0, 0] for name, _ in plan}
                for b, index in enumerate(batches):
                    trainer.batch = b
                    xb = X[index]
                    if augment is not None:
                        xb = augment(xb, rng)
                    xin = regs_module.transform_input(regs, xb, rng) if regs else xb
                    trainer.x_batch = xin
                    pred = model(Tensor(xin))
                    target = _target_for(pred, xb if y is None else y[index], loss_name)
                    data_loss = loss_fn(pred, target)
                    penalty = regs_module.penalty(regs, model) if regs else None
                    objective = data_loss if penalty is None else data_loss + penalty
                    value = float(objective.item())
                    if not math.isfinite(value):
                        _diverged(trainer, vec, good_theta, buffers, epoch, b, value)
                    if good_theta is not None:
                        np.copyto(good_theta, vec.data)
                    optimizer.zero_grad()
                    objective.backward()
                    for cb in callbacks:
                        cb.on_backward(trainer)
                    if clip_value is not None:
                        clip_grad_value(optimizer, clip_value)
                    if clip_norm is not None:
                        clip_grad_norm(optimizer, clip_norm)
                    optimizer.step()
                    trainer.steps += 1
                    if regs:
                        regs_module.after_step(regs, model)
                    size = len(xb)
                    batch_loss = float(data_loss.item())
                    total += batch_loss * size
                    count += size
                    for name, fn in plan:
                        s, c = fn(pred.data, target)
                        sums[name][0] += s
                        sums[name][1] += c
                    if bar is not None or callbacks:
                        logs = {"loss": total / count}
                        logs.update({k: s / max(c, 1) for k, (s, c) in sums.items()})
                        if bar is not None:
                            bar.update(epoch, b, logs)
                        for cb in callbacks:
                            cb.on_batch_end(trainer, b, logs)
                logs = {"loss": total / max(count, 1)}
                logs.update({k: s / max(c, 1) for k, (s, c) in sums.items()})
                if validation_data is not None:
                    val = _evaluate(model, Xv, yv, loss_fn, loss_name,
                                    _metric_plan(metrics, yv, loss_name), max(batch_size, 256))
                    logs.update({f"val_{k}": v for k, v in val.items()})
                lr = getattr(optimizer, "lr", None)
                if isinstance(lr, (int, float)):
                    logs["lr"] = float(lr)
                logs["time"] = time.perf_counter() - started
                for cb in callbacks:
                    cb.on_epoch_end(trainer, epoch, logs)
                trainer.history.append(epoch, logs)
                for path in trainer.pending_checkpoints:
                    trainer.save_checkpoint(path, epoch + 1)
                trainer.pending_checkpoints.clear()
                if bar is not None:
                    bar.end_epoch(epoch, logs)
                if trainer.stop_training:
                    break
    finally:
        for m, mode in zip(model.modules(), modes):
            m.training = mode
    for cb in callbacks:
        cb.on_train_end(trainer)
    return trainer.history


def _diverged(trainer, vec, good_theta, buffers, epoch, batch, value):
    if vec is not None and trainer.steps > 0:
        np.copyto(vec.data, good_theta)
        restored = "the weights from before the last step (the last finite loss)"
    else:
        restored = "the weights it had when training started (the first batch diverged)"
    for live, saved in buffers:
        live[...] = saved
    raise DivergenceError(
        f"fit: the loss became {value} at epoch {epoch} (0-based), batch {batch}; training "
        f"stopped and the model keeps {restored}. Try a lower learning rate, gradient clipping "
        f"(clip_norm=1.0) or check the data scale.", epoch, batch, trainer.history)
