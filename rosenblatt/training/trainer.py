"""The mechanics of ``rb.fit``: epochs, mini-batches, checkpoints, divergence (notes: "Training
neural networks", "Shuffling & curriculum learning").

:class:`Trainer` runs the loop that :func:`rosenblatt.training.fit` sets up
and is what callbacks see. One training step is the notes' recipe::

    x = augment(x); x = regularizers' transform_input(x)
    loss = loss_fn(model(x), y) + regularizers' penalty
    (stop if the loss is not finite)
    zero_grad(); loss.backward(); clip; optimizer.step(); regularizers' after_step
"""

import functools
import inspect
import math
import os
import time
import warnings

import numpy as np

from ..autodiff.tensor import Tensor, no_grad
from ..nn import regularizers as regs_module
from ..nn.losses import mean_normaliser
from ..optim.clipping import clip_grad_norm, clip_grad_value
from ..optim.optimizer import Optimizer
from ..randomness import generator, resolve_rng
from .callbacks import overrides
from .history import History

_LABEL_LOSSES = ("cross_entropy", "nll", "max_margin")
#: Losses of order 1 by construction (log 2 or 1 at chance, whatever the data).
_UNIT_LOSSES = ("cross_entropy", "nll", "max_margin", "binary_cross_entropy",
                "binary_cross_entropy_with_logits", "log_loss", "hinge")
#: The growth check's reference never falls below this share of the loss's natural scale.
_FLOOR = 1e-3


def scale_floor(loss_name, target):
    """The least reference loss of the divergence check, from the loss's own scale.

    A thousandth of what the loss is worth for a model that knows nothing:
    for the classification losses (about log 2 or 1 at chance) ``1e-3``; for
    ``"mse"``, ``1e-3 * mean(target**2)`` (the error of predicting 0, from the
    targets, or the inputs when they are the targets); for any other loss 0
    (no scale known: the reference is then the best loss, floored at 1e-3 of
    the first batch's). So a run that starts near 0 (a confident model being
    fine-tuned) may meet an ordinary loss without it counting as growth; a
    blow-up, past ``divergence_factor`` times that scale, still stops it.
    """
    if loss_name in _UNIT_LOSSES:
        return _FLOOR
    if loss_name == "mse" and target is not None and np.size(target):
        flat = np.ravel(target)  # a view: no copy of a large data set
        # summed in float64 (integer targets would wrap around, float16 overflow), a float64
        # copy of a chunk at a time
        step = 1 << 20
        with np.errstate(over="ignore", invalid="ignore"):
            total = 0.0
            for i in range(0, flat.size, step):
                part = flat[i:i + step].astype(np.float64, copy=False)
                total += float(np.vdot(part, part))
            value = total / flat.size
        return _FLOOR * value if math.isfinite(value) else 0.0
    return 0.0


class DivergenceError(FloatingPointError):
    """Training diverged; the model holds the best weights seen before.

    Those of the epoch with the lowest training loss, or, when the first
    epoch diverges, those that gave the lowest batch loss so far.

    Raised when a batch's loss is NaN or infinite, or grows past
    ``divergence_factor`` times the best loss seen (``rb.fit``).

    Attributes
    ----------
    epoch, batch : int
        Where it happened (0-based).
    history : History
        The epochs completed before.
    loss : float or None
        The loss that stopped training.
    """

    def __init__(self, message, epoch, batch, history, loss=None):
        super().__init__(message)
        self.epoch, self.batch, self.history, self.loss = epoch, batch, history, loss


def target_for(pred, target, loss_name):
    """Let (batch,) targets meet (batch, 1) outputs (a common off-by-a-dimension slip)."""
    if (loss_name not in _LABEL_LOSSES and target.ndim == 1 and pred.ndim == 2
            and pred.shape[1] == 1):
        return target.reshape(-1, 1)
    return target


#: Integers beyond this magnitude have no exact float32 (the dtype ``Tensor`` gives integers).
_FLOAT32_EXACT = 2 ** 24


def exact_integers(X):
    """Whether ``X`` holds integers that a float32 ``Tensor`` would change (|v| > 2**24: the
    token ids of a vocabulary of over 16.7 M entries). One min/max pass, once per fit."""
    return (X.dtype.kind in "iu" and X.size > 0
            and max(-int(X.min()), int(X.max())) > _FLOAT32_EXACT)


def model_input(x, exact):
    """What the model is given for a batch ``x``: a Tensor, or with ``exact``
    (:func:`exact_integers` of the data) integer ``x`` as it is, for an Embedding to read
    the ids themselves, not their nearest float32."""
    return x if exact and x.dtype.kind in "iu" else Tensor(x)


def single_output(out, owner="fit"):
    """``out`` when the model returned one Tensor (or array); a TypeError saying what to do
    for a tuple or list, such as the ``(output, state)`` of a model called as
    ``model(x, state)``, which trains with ``fit(..., tbptt=k)``. One isinstance test."""
    if isinstance(out, (tuple, list)):
        raise TypeError(f"{owner}: the model returned a {type(out).__name__} of {len(out)} "
                        f"values, not one Tensor; a model called as model(x, state) -> (output, "
                        f"state) trains with fit(..., tbptt=k), and predicts or is evaluated "
                        f"through a module that returns its output alone (model(x)[0])")
    return out


def batches(n, batch_size, order):
    """Slices (in order) or index arrays (from ``order``) of consecutive mini-batches."""
    if order is None:
        return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def scalar_loss(loss, owner="fit"):
    """``float(loss)`` of a loss that must be one number (a Tensor of one element); a
    ValueError naming its shape otherwise (``reduction="none"``, a loss of one's own that
    leaves out the final mean). One size test: nothing on the hot path."""
    if loss.data.size != 1:
        raise ValueError(f"{owner}: the loss must return a scalar Tensor (reduction='mean' or "
                         f"'sum'); got one of shape {tuple(np.shape(loss.data))}")
    return float(loss.item())


def summed(loss):
    """Whether ``loss`` sums its terms: a library loss given as ``functools.partial(...,
    reduction="sum")`` (nested partials merged, the outer's keywords winning). A loss of
    one's own is taken for a mean.

    A summed loss counts whole on every part of a data-parallel batch (its parts' sums add
    up to the batch's, where a mean's parts count by their share ``n_k / B``), and an
    epoch's loss is the sum of its batches' (:class:`_Means`): the loss of the whole set,
    whatever the batch size, as for a mean.
    """
    keywords = {}
    while isinstance(loss, functools.partial):
        keywords = {**loss.keywords, **keywords}
        loss = loss.func
    return keywords.get("reduction") == "sum"


class _Means:
    """Running averages of the loss and the metrics over an epoch.

    The loss is weighted by each batch's weight ``W_b``: its number of
    examples, or, for a weighted mean loss (``cross_entropy`` with ``weight``
    or ``ignore_index``: :func:`~rosenblatt.nn.losses.mean_normaliser`), the
    sum of the weights of its counted terms, so that the epoch's value is
    ``sum_b S_b / sum_b W_b``, the loss of the whole set whatever the batch
    size. A batch of weight 0 (every label ignored: its mean is NaN) adds
    nothing to the loss; its metrics still count. The metrics add their
    ``(total, count)``. A summed loss (``summed``: :func:`summed`) adds its
    batches' sums, the sum over the whole set.
    """

    def __init__(self, plan, summed=False):
        self.plan, self.summed = plan, summed
        self.total, self.count = 0.0, 0.0
        self.sums = {name: [0.0, 0] for name, _ in plan}

    def add(self, loss, size, pred, target, weight=None):
        weight = size if weight is None else weight
        if weight:
            self.total += loss if self.summed else loss * weight
            self.count += weight
        for name, fn in self.plan:
            result = fn(pred, target)
            try:
                s, c = result
            except (TypeError, ValueError):  # a lone number (the usual form elsewhere)
                raise TypeError(f"metric {name!r} must return (total, count), the batch's sum "
                                f"and how many values it sums, so that epochs average "
                                f"exactly; got {result!r:.60}") from None
            self.sums[name][0] += s
            self.sums[name][1] += c

    def reduce(self, data_parallel):
        """Sum the totals over the ranks (data-parallel training: each saw its shards)."""
        names = list(self.sums)
        flat = [self.total, self.count] + [v for n in names for v in self.sums[n]]
        flat = data_parallel.sum(flat).tolist()
        self.total, self.count = flat[0], flat[1]
        for i, n in enumerate(names):
            self.sums[n] = [flat[2 + 2 * i], int(flat[3 + 2 * i])]

    def logs_over_ranks(self, data_parallel):
        """:meth:`logs` of every rank's shards so far (one small Allreduce; collective)."""
        over = _Means(self.plan, self.summed)
        over.total, over.count = self.total, self.count
        over.sums = {name: list(v) for name, v in self.sums.items()}
        over.reduce(data_parallel)
        return over.logs()

    def logs(self):
        # (no weight at all: every label of the set ignored, a mean of nothing, NaN)
        if self.summed:  # the batches' sums added up: the loss of the whole set
            out = {"loss": self.total if self.count else math.nan}
        else:
            out = {"loss": self.total / self.count if self.count else math.nan}
        out.update({name: s / max(c, 1) for name, (s, c) in self.sums.items()})
        return out


def evaluate_arrays(model, X, y, loss_fn, loss_name, plan, batch_size, owner="fit"):
    """Average loss and metrics in eval mode without a graph (the model's modes are restored)."""
    means = _Means(plan, summed(loss_fn))
    exact = exact_integers(X)
    # a weighted mean loss: the chunks' sums over the sum of their weights, whatever the chunks
    normaliser = None if y is None else mean_normaliser(loss_fn)
    with model.evaluating(), no_grad():
        for sl in batches(len(X), batch_size, None):
            xb = X[sl]
            pred = single_output(model(model_input(xb, exact)), owner)
            target = target_for(pred, xb if y is None else y[sl], loss_name)
            weight = None if normaliser is None else normaliser(target)
            value = scalar_loss(loss_fn(pred, target), owner) if weight != 0 else 0.0
            means.add(value, len(xb), pred.data, target, weight)
    return means.logs()


def normalization_layers(model):
    """The modules of ``model`` that keep running statistics (batch normalization, also
    inside recurrent layers built with ``batch_norm=True``): those with a buffer named
    ``running_*``, found by their state, not by their class."""
    return [m for m in model.modules()
            if any(str(name).startswith("running_") for name in getattr(m, "buffers", ()))]


def hold_frozen_normalization(model):
    """Put every batch-norm layer whose parameters are all frozen in evaluation mode.

    Freezing a part of a network (``Module.freeze``, ``replace_output``)
    means it should not change; but a batch-norm layer in training mode
    would still move its running statistics (buffers, not parameters) and
    normalise with each batch's statistics. ``fit`` calls this after
    ``model.train()``, so a frozen batch-norm layer uses and keeps its running
    statistics, as Keras does for a non-trainable ``BatchNormalization``
    (PyTorch leaves it to the user: ``bn.eval()``). Unfreezing it (to
    fine-tune) lets it learn and update them again. Modes are restored when
    ``fit`` ends.

    The layers are those :func:`normalization_layers` finds: any module with
    running statistics (``BatchNorm1d``/``2d``, an ``RNN``/``LSTM``/``GRU`` with
    ``batch_norm=True``, a layer of one's own with a ``running_*`` buffer) that
    have parameters: a parameter-free one (an online input standardiser)
    learns only its statistics, so it is never held. A
    frozen recurrent layer with ``batch_norm=True`` then normalises with its
    running statistics (RNN, LSTM and GRU have no other mode-dependent part):
    a frozen layer computes the same features at every step.
    """
    for m in normalization_layers(model):
        # a layer without parameters (an input standardiser of one's own) learns only its
        # statistics: it is not frozen, and keeps learning them
        params = list(m.parameters())
        if m.training and params and not any(p.requires_grad for p in params):
            m.training = False


def callback_kind(callback):
    """A callback's name in a checkpoint: its class, and what it monitors if it monitors."""
    monitor = getattr(callback, "monitor", None)
    name = type(callback).__qualname__
    return f"{name}(monitor={monitor!r})" if isinstance(monitor, str) else name


class _Placeholder:
    """Stands for a saved callback that this run leaves out (its state is not loaded)."""


def match_callback_states(meta, callbacks, path, owner, stacklevel=5):
    """Match a checkpoint's callback states to a run's ``callbacks`` by kind.

    Returns None for a checkpoint that does not name its callbacks (older
    files: matched by position), else ``(kinds, owners)``: for each saved
    state, the live callback it goes to (None for none). Saved callbacks and
    the run's are matched by kind (class, and what it monitors), in order
    within a kind, so one callback's state is never loaded into another: a
    callback of a kind that saved nothing (one added on this run, such as an
    EarlyStopping) starts fresh; a saved state of a kind this run does not
    have is dropped, with a warning; a saved callback without a state (a
    Checkpoint) that this run does not repeat is simply left out. A kind with
    a state whose saved and live numbers of callbacks differ (two
    EarlyStopping(monitor='loss') saved, one given) is ambiguous: a
    FormatError. ``owner`` (``"fit"``, ``"GAN.fit"`` ...) starts the messages.
    """
    from ..io import FormatError

    kinds = meta.get("callback_kinds") if isinstance(meta, dict) else None
    saved = meta.get("callbacks") if isinstance(meta, dict) else None
    if kinds is None:
        return None
    if not (isinstance(kinds, list) and isinstance(saved, list)
            and len(kinds) == len(saved) and all(isinstance(k, str) and k for k in kinds)):
        raise FormatError(f"{owner}: {os.fspath(path)}: checkpoint \"callback_kinds\" must be "
                          f"one name (non-empty) per saved callback state")
    live = {}
    for cb in callbacks:
        live.setdefault(callback_kind(cb), []).append(cb)
    owners, dropped, taken = [None] * len(saved), [], {}
    for i, kind in enumerate(kinds):
        n_saved, n_live = kinds.count(kind), len(live.get(kind, ()))
        has_state = any(saved[j] is not None for j, k in enumerate(kinds) if k == kind)
        if has_state and n_live and n_saved != n_live:
            raise FormatError(
                f"{owner}: {os.fspath(path)} holds the states of {n_saved} {kind} callbacks but "
                f"this run has {n_live}; which state goes to which is ambiguous: give as "
                f"many, or start afresh without resume_from")
        if taken.get(kind, 0) < n_live:  # (more saved than live: stateless ones, left out)
            owners[i] = live[kind][taken.get(kind, 0)]
            taken[kind] = taken.get(kind, 0) + 1
        elif saved[i] is not None:
            dropped.append(kind)
    if dropped:
        warnings.warn(f"{owner}: {os.fspath(path)} holds the states of the callbacks "
                      f"[{', '.join(dropped)}], which this run does not have; they are not "
                      f"loaded", UserWarning, stacklevel=stacklevel)
    return kinds, owners


def placed_callbacks(matched, callbacks):
    """The callbacks in the order of a checkpoint's saved states (``matched``:
    :func:`match_callback_states`'s result), a placeholder where a state goes to no callback
    of this run; ``callbacks`` as they are for a file that does not name its kinds."""
    if matched is None:
        return list(callbacks)
    return [_Placeholder() if cb is None else cb for cb in matched[1]]


class Trainer:
    """A running ``fit``: the loop, and what callbacks see of it.

    Attributes
    ----------
    model, optimizer, history, rng
    epoch, batch, n_batches : int
        The current position (0-based).
    start_epoch : int
        The first epoch of this call (> 0 when resuming).
    steps : int
        Optimizer steps taken in this call.
    x_batch : ndarray or None
        The inputs of the last batch (as given to the model).
    stop_training : bool
        Set by a callback to stop after the current epoch.
    """

    def __init__(self, model, optimizer, *, X, y, loss_fn, loss_name, plan, batch_size,
                 shuffle=True, curriculum=None, validation=None, val_plan=(), regularizers=(),
                 callbacks=(), augment=None, rng=None, clip_norm=None, clip_value=None,
                 progress=None, adversarial=None, divergence_factor=None,
                 data_parallel=None):
        self.model, self.optimizer, self.history = model, optimizer, History()
        self.rng = resolve_rng(rng)
        self.X, self.y, self.loss_fn, self.loss_name, self.plan = X, y, loss_fn, loss_name, plan
        self.batch_size, self.shuffle, self.curriculum = batch_size, shuffle, curriculum
        self.validation, self.val_plan = validation, val_plan
        self.regularizers, self.callbacks, self.augment = list(regularizers), callbacks, augment
        self.clip_norm, self.clip_value, self.progress = clip_norm, clip_value, progress
        self.adversarial = adversarial  # rb.adversarial.FGSM/PGD: mixes in J(x_adv)
        # training/distributed.py: over MPI, this rank's part of a batch; over threads
        # (ThreadParallel), every part of it, one thread each, in this process
        self.thread_parallel = None
        if data_parallel is not None and not hasattr(data_parallel, "allreduce"):
            self.thread_parallel, data_parallel = data_parallel, None
        self.data_parallel = data_parallel
        self.epoch = self.batch = self.n_batches = self.start_epoch = self.steps = 0
        self.x_batch = None
        self.stop_training = False
        self.stopped_before = False  # resumed from a checkpoint written when training stopped
        self.pending_checkpoints = []
        vec = getattr(optimizer, "vec", None)
        self._vec = vec
        if hasattr(optimizer, "attach") and getattr(optimizer, "_inert", None) is None:
            optimizer.attach(model)  # noise or annealing moves spare the inert weights
        self._good_theta = None if vec is None else np.empty_like(vec.data)
        # an optimizer of one's own (step/zero_grad, no flat vector): the weights a divergence
        # puts back are copied parameter by parameter (lists of arrays in _good/_best_theta)
        self._params = [] if vec is not None else list(model.parameters())
        self._step_keeps = isinstance(optimizer, Optimizer) and "keep" in inspect.signature(
            type(optimizer).step).parameters
        self._buffers = []
        # Within the first epoch a divergence puts back the weights of the lowest batch loss
        # so far (copied only when a new minimum arrives), not merely the last step's: the
        # loss can climb for many batches before it crosses divergence_factor.
        self._best_batch_loss, self._new_best_batch = math.inf, False
        self._good_where = None  # (epoch, batch, loss) of the weights in _good_theta
        # Divergence by growth: a batch loss above factor * max(best, floor, scale floor)
        # stops training; the floor (1e-3 of the first loss) keeps a loss that reached ~0 from
        # making every later batch look divergent, the scale floor (1e-3 of the loss's value
        # at chance, scale_floor) does the same for a run that starts near 0. The best epoch's
        # weights are what a divergence restores.
        self.divergence_factor = divergence_factor
        self._best_loss, self._floor = math.inf, 0.0
        self._scale_floor = (0.0 if divergence_factor is None
                             else scale_floor(loss_name, X if y is None else y))
        self._best_epoch, self._best_epoch_loss = None, math.inf
        self._best_theta, self._best_buffers = None, []
        self._shard = False  # set by run(): sharded data-parallel steps
        # a weighted mean loss (cross_entropy with weight/ignore_index): data-parallel parts
        # are seeded with their share W_k / W of its normaliser, not n_k / B; the epoch's
        # loss is sum S_b / sum W_b; a batch of W = 0 (all labels ignored) takes no step
        self._normaliser = None if y is None else mean_normaliser(loss_fn)
        # a summed loss (reduction="sum"): its data-parallel parts count whole, not n_k / B
        self._summed = summed(loss_fn)
        self._exact = exact_integers(X)  # integer inputs a float32 Tensor would change

    # -- the loop -----------------------------------------------------------------
    def run(self, epochs):
        """Train from ``start_epoch`` up to ``epochs``; returns the History."""
        modes = [m.training for m in self.model.modules()]
        dp = self.data_parallel
        # sharded data-parallel steps (each rank steps its shard of theta) unless something
        # needs the whole reduced gradient before the step: the global norm, a callback
        self._shard = dp is not None and dp.sharded and self.clip_norm is None and not any(
            overrides(cb, "on_backward") for cb in self.callbacks)
        if dp is not None:  # every rank starts from rank 0's weights and draws
            # the same data and callbacks' types on every rank, or one error
            # ... and the settings that decide the steps: ranks that differ would wait for
            # one another forever (a rank with more batches or epochs than the others)
            dp.check_data(self.X, self.y, self.validation, callbacks=self.callbacks,
                          settings={"batch_size": self.batch_size, "epochs": epochs,
                                    "shuffle": bool(self.shuffle), "clip_norm": self.clip_norm,
                                    "clip_value": self.clip_value})
            dp.broadcast_parameters()
            dp.broadcast_generators(self.generators())
        # a run that stopped early (early stopping) is over: the same call returns its History
        first = epochs if self.stopped_before else self.start_epoch
        begun = 0  # the callbacks started: a refusal in a later one's on_train_begin aborts them
        try:
            for cb in self.callbacks:
                begun += 1
                cb.on_train_begin(self)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                for epoch in range(first, epochs):
                    self._epoch(epoch)
                    if self.stop_training:
                        break
        except BaseException:
            # on_train_end is for a run that finished; a callback holding state in the model
            # (Rewire's dense-gradient lists) releases it in on_train_abort whatever stopped it
            for cb in self.callbacks[:begun]:
                abort = getattr(cb, "on_train_abort", None)
                if callable(abort):
                    abort(self)
            raise
        finally:
            for m, mode in zip(self.model.modules(), modes):
                m.training = mode
        if self._shard:  # each rank stepped its shard of the optimizer's state: gather it
            dp.sync_state()
        finish = getattr(self.optimizer, "on_train_end", None)
        if callable(finish):  # an annealer puts back the best weights it saw
            finish()
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history

    def _order(self, epoch):
        if self.curriculum is not None:
            return self.curriculum.order(epoch, self.rng)
        return self.rng.permutation(len(self.X)) if self.shuffle else None

    def _epoch(self, epoch):
        self.epoch = epoch
        started = time.perf_counter()
        self.model.train()
        hold_frozen_normalization(self.model)
        for cb in self.callbacks:
            cb.on_epoch_begin(self, epoch)
        if self.data_parallel is not None:  # the same order, so the same batches, on every rank
            self.data_parallel.broadcast_generators({"fit": self.rng})
        plan = batches(len(self.X), self.batch_size, self._order(epoch))
        self.n_batches = len(plan)
        if self.progress is not None:
            self.progress.n_batches = len(plan)
        self._buffers = [(b, np.array(b, copy=True)) for _, b in self.model.named_buffers()
                         if isinstance(b, np.ndarray)]
        means = _Means(self.plan, self._summed)
        report = (self.progress is not None and getattr(self.progress, "per_batch", True)
                  or bool(self.callbacks))
        dp = self.data_parallel
        if dp is not None:  # rank 0 alone shows progress: the batch logs' Allreduce for all
            report = bool(dp.sum([float(report)])[0] > 0)
        for b, index in enumerate(plan):
            self.batch = b
            self._step(index, means)
            if report:  # over MPI the running means of the global batches, on every rank
                logs = means.logs() if dp is None else means.logs_over_ranks(dp)
                if self.progress is not None:
                    self.progress.update(epoch, b, logs)
                for cb in self.callbacks:
                    cb.on_batch_end(self, b, logs)
        if self.data_parallel is not None:
            means.reduce(self.data_parallel)
        self._end_epoch(epoch, means.logs(), started)

    def _step(self, index, means):
        """One mini-batch: forward, loss, divergence check, backward, clip, step."""
        dp, weight = self.data_parallel, None
        # a weighted mean loss: the batch's weight W (the sum of its counted labels' weights;
        # every rank has the batch's targets), for the epoch's mean and the parts' shares;
        # None for a plain mean (or probability targets). One pass over the batch's labels.
        total = None if self._normaliser is None else self._normaliser(self.y[index])
        if total == 0:  # every label ignored (or of weight 0): its mean is 0 / 0 and its
            return  # gradient 0; nothing to learn from, so no step (on every rank alike)
        if (self.thread_parallel is not None and self.augment is None and not self.regularizers
                and not self.callbacks and not getattr(self.optimizer, "needs_closure", False)):
            return self._threads_step(None, None, index, means, total)  # each thread its rows
        if dp is not None and self.augment is None and not self.regularizers:
            index, weight = dp.shard(index, len(self.X))  # this rank's part of the batch
        xb = self.X[index]
        if self.augment is not None:
            n = len(xb)
            xb = self.augment(xb, self.rng)
            if not isinstance(xb, np.ndarray) or xb.ndim == 0 or len(xb) != n:
                got = (f"shape {xb.shape}" if isinstance(xb, np.ndarray)
                       else type(xb).__name__)
                raise ValueError(f"fit: augment must return the batch as an ndarray with the "
                                 f"same {n} examples; got {got}")
        regs = self.regularizers
        xin = regs_module.transform_input(regs, xb, self.rng) if regs else xb
        if dp is not None and weight is None:  # augmented/noised whole, as one process would
            part, weight = dp.shard(np.arange(len(xb)))
            index, xb, xin = dp.shard(index, len(self.X))[0], xb[part], xin[part]
        if dp is not None and len(xb) == 0 and not dp.collective_forward():
            return self._idle_step()  # a last batch smaller than the number of ranks
        part_total = total
        if dp is not None and total is not None:  # this shard's share W_r / W, not n_r / B
            part_total = self._normaliser(self.y[index])
            weight = part_total / total
        self.x_batch = xin
        if getattr(self.optimizer, "needs_closure", False):
            return self._closure_step(xb, xin, index, means, total)
        if self.thread_parallel is not None:
            return self._threads_step(xb, xin, index, means, total)
        pred = self.model(model_input(xin, self._exact))
        target = target_for(pred, xb if self.y is None else self.y[index], self.loss_name)
        data_loss = self.loss_fn(pred, target)
        if self.adversarial is not None:
            data_loss = self.adversarial.objective(self.model, data_loss, xin, target,
                                                   self.loss_fn)
        penalty = regs_module.penalty(regs, self.model) if regs else None
        share = data_loss
        if dp is not None and self._summed and weight:  # a sum counts whole on each rank:
            share = data_loss * (1.0 / weight)  # seeded with n_r / B below, it adds S_r
        objective = share if penalty is None else share + penalty
        # no examples here (batch norm's sums need this rank): weight 0, no loss, no means
        value = scalar_loss(objective) if len(xb) else 0.0
        if dp is None:  # data-parallel ranks judge the whole batch's loss, after the Allreduce
            self._check_loss(value)
        self.optimizer.zero_grad()
        if dp is None:
            objective.backward()
        else:  # the shard's weight n_r / B seeds backward: the gradient comes out scaled
            objective.backward(np.full(objective.data.shape, weight, objective.data.dtype))
            # one exchange: the batch's gradient (this rank's shard of it when sharded), its
            # loss and batch-norm statistics; then the loss is judged, on every rank alike
            self._check_loss(dp.reduce(weight, value, scaled=True, whole=not self._shard))
        self._apply_gradient()
        if len(xb):  # (a shard whose labels are all ignored has weight 0: adds no loss)
            data_value = value if objective is data_loss else float(data_loss.item())
            means.add(data_value, len(xb), pred.data, target, part_total)

    def _threads_step(self, xb, xin, index, means, total=None):
        """One batch over threads (ThreadParallel): each thread its part's forward, loss and
        backward (seeded with the part's weight) on its replica; the gradients summed into
        the optimizer's vector; the loss judged; then the one step."""
        tp, regs, exact = self.thread_parallel, self.regularizers, self._exact
        loss_fn, loss_name, X, y = self.loss_fn, self.loss_name, self.X, self.y
        if xin is None:  # nothing transforms the whole batch: each thread gathers its rows
            if isinstance(index, slice):
                index = np.arange(*index.indices(len(X)))
            n = len(index)
        else:
            n = len(xin)
            targets = xb if y is None else y[index]
        # a weighted mean loss (total: the batch's W, never 0 here): each part's share
        # W_k / W of the batch's normaliser, not n_k / B
        normaliser, sums = self._normaliser, self._summed

        def work(model, part, weight):
            if xin is None:
                rows = index[part]
                x = X[rows]
                target = x if y is None else y[rows]
            else:
                x, target = xin[part], targets[part]
            part_total = None
            if total is not None:
                part_total = normaliser(target)
                weight = part_total / total
            pred = model(model_input(x, exact))
            target = target_for(pred, target, loss_name)
            data_loss = loss_fn(pred, target)
            objective = data_loss
            penalty = regs_module.penalty(regs, model) if regs and model is self.model else None
            if not weight:  # no example of this part counts (a weighted mean of 0 / 0): it
                if penalty is None:  # adds nothing, not NaN; the penalty alone, if here
                    return 0.0, 0.0, pred.data, target, part_total
                penalty.backward(np.ones(penalty.data.shape, penalty.data.dtype))
                return float(penalty.item()), 0.0, pred.data, target, part_total
            data_value = scalar_loss(data_loss)
            if sums:  # a summed loss counts whole in every part: seeded with the part's
                objective = data_loss * (1.0 / weight)  # share below, it adds S_k
            if penalty is not None:  # once, on the caller's thread (None: InputNoise, MaxNorm)
                objective = objective + penalty * (1.0 / weight)
            value = float(objective.item()) if objective is not data_loss else data_value
            objective.backward(np.full(objective.data.shape, weight, objective.data.dtype))
            # the epoch's mean: the part's own mean, weighted by its W_k (or its size)
            return value * weight, data_value, pred.data, target, part_total

        results = [r for r in tp.run(work, n) if r is not None]
        self._check_loss(sum(r[0] for r in results))
        tp.reduce()
        self._apply_gradient()
        for _, data_value, pred, target, part_total in results:
            means.add(data_value, len(pred), pred, target, part_total)

    def _apply_gradient(self):
        """The gradient is in place: callbacks see it, clipping, the optimizer's step, then
        the regularizers' after-step constraints."""
        for cb in self.callbacks:
            cb.on_backward(self)
        if self.clip_value is not None and self._shard:  # the others still read the rest
            grad = self._vec.grad[self.data_parallel.part]  # all that this rank steps
            np.clip(grad, -self.clip_value, self.clip_value, out=grad)
        elif self.clip_value is not None:
            clip_grad_value(self.optimizer, self.clip_value)
        if self.clip_norm is not None:
            clip_grad_norm(self.optimizer, self.clip_norm)
        keep = self._keep_good_weights()
        if self._shard:  # this rank steps its shard of theta and receives the others'
            self.data_parallel.update()
        elif keep is not None:
            self.optimizer.step(keep=keep)
        else:
            self.optimizer.step()
        self.steps += 1
        if self.regularizers:
            regs_module.after_step(self.regularizers, self.model)

    def _check_loss(self, value):
        """Stop on a loss that is not finite or has grown ``divergence_factor`` times past the
        best seen (every rank of a data-parallel run sees the same, reduced, value)."""
        if not math.isfinite(value):
            self._diverged(value)
        self._new_best_batch = value < self._best_batch_loss
        if self._new_best_batch:
            self._best_batch_loss = value
            self._good_where = (self.epoch, self.batch, value)
        if self.divergence_factor is None:
            return
        if value < 0:  # an objective that goes negative has no scale to grow past
            self.divergence_factor = None
            return
        if self._floor == 0.0:
            self._floor = 1e-3 * value
        reference = max(self._best_loss, self._floor, self._scale_floor)
        if reference > 0 and value > self.divergence_factor * reference:
            self._diverged(value, reference)
        self._best_loss = min(self._best_loss, value)

    def _keep_good_weights(self):
        """Keep the weights (about to be stepped) when their batch loss is the lowest so far,
        to put back if a later loss diverges.

        Only until an epoch has ended: from then on a divergence puts back the
        best epoch's weights instead. One copy per new minimum (a loss that
        only grows costs no copies). A sharded data-parallel rank keeps its
        shard (the ranks gather the shards if they are needed). Returns the
        array for the optimizer's ``step(keep=)`` when its step can write the
        weights there in its own pass over the vector (``rb.optim`` rules: SGD
        and Adam's compiled passes do, at a third of a copy's cost); else
        copies them now and returns None.
        """
        if self._best_theta is not None or not self._new_best_batch:
            return None
        self._buffers = [(b, np.array(b, copy=True)) for _, b in self.model.named_buffers()
                         if isinstance(b, np.ndarray)]
        if self._vec is None:
            self._good_theta = self._copy_params(self._good_theta)
            return None
        if self._shard:
            part = self.data_parallel.part
            np.copyto(self._good_theta[part], self._vec.data[part])
            return None
        if self._step_keeps:
            return self._good_theta
        np.copyto(self._good_theta, self._vec.data)
        return None

    def _idle_step(self):
        """Data-parallel: no examples on this rank; take part in the exchange and the step."""
        self.optimizer.zero_grad()
        self._check_loss(self.data_parallel.reduce(0.0, 0.0, whole=not self._shard))
        self._apply_gradient()

    def _closure_step(self, xb, xin, index, means, weight=None):
        """A batch for an optimizer that re-evaluates the objective itself (the annealers,
        the line-search methods).

        The closure is the loss (plus penalties) on this batch; with one batch
        per epoch it is the whole set, so the optimizer's cached objective
        stays valid across epochs, else it is re-measured on each new batch.
        With ``adversarial``, every evaluation attacks the weights it
        evaluates and returns the adversarial objective, as a gradient step
        does: fit's FGSM and PGD start from ``x`` (no random start), so the
        closure stays a deterministic function of the weights, which the line
        searches need.
        """
        regs, adversarial = self.regularizers, self.adversarial
        yb = xb if self.y is None else self.y[index]

        def data_loss():
            pred = self.model(model_input(xin, self._exact))
            target = target_for(pred, yb, self.loss_name)
            value = self.loss_fn(pred, target)
            if adversarial is not None:  # the attack against the weights being evaluated
                value = adversarial.objective(self.model, value, xin, target, self.loss_fn)
            return pred, target, value

        # With mini-batches each batch's objective is judged where its step starts (the
        # optimizer's first evaluation, at the weights the last batch reached), as a gradient
        # step's loss is: where a step ends, its own batch may be minimised to ~0, and the
        # next batch's ordinary objective would count as growth past it.
        judge_start = self.n_batches > 1
        started = []

        def closure():
            value = data_loss()[2]
            penalty = regs_module.penalty(regs, self.model) if regs else None
            total = value if penalty is None else value + penalty
            if judge_start and not started:
                started.append(float(total.item()))
                self._check_loss(started[0])
                self._keep_good_weights()  # the weights whose objective that is
            return total

        if judge_start:
            self.optimizer.reset()
        value = self.optimizer.step(closure)
        if value is not None and not judge_start:  # one batch: where the step ended
            self._check_loss(float(value))
            # the weights reached, whose objective that is (the step never ends on a
            # non-finite objective from a finite one): kept as a batch's good weights
            self._keep_good_weights()
        self.steps += 1
        if regs:
            regs_module.after_step(regs, self.model)
        if not self.plan and not regs and value is not None:  # the objective it measured
            means.add(float(value), len(xb), None, None, weight)
            return
        with no_grad():  # the attack records its own graph: it works inside no_grad
            pred, target, value = data_loss()
            means.add(scalar_loss(value), len(xb), pred.data, target, weight)

    def _end_epoch(self, epoch, logs, started):
        if self.validation is not None:
            Xv, yv = self.validation
            val = evaluate_arrays(self.model, Xv, yv, self.loss_fn, self.loss_name,
                                  self.val_plan, max(self.batch_size, 256))
            logs.update({f"val_{k}": v for k, v in val.items()})
        lr = getattr(self.optimizer, "lr", None)
        if isinstance(lr, (int, float)):
            logs["lr"] = float(lr)
        logs["time"] = time.perf_counter() - started
        for cb in self.callbacks:
            cb.on_epoch_end(self, epoch, logs)
        if self.data_parallel is not None:  # one rank's stop is every rank's
            self.stop_training = bool(self.data_parallel.sum([float(self.stop_training)])[0])
        self.history.append(epoch, logs)
        self._remember_if_best(epoch, logs.get("loss"))
        root = self.data_parallel is None or self.data_parallel.is_root
        if self.pending_checkpoints and self._shard:  # the whole optimizer state, on rank 0 too
            self.data_parallel.sync_state()
        for path in self.pending_checkpoints if root else ():  # one writer: rank 0
            self.save_checkpoint(path, epoch + 1)
        self.pending_checkpoints.clear()
        if self.progress is not None:
            self.progress.end_epoch(epoch, logs)

    def _copy_params(self, into=None):
        """The parameters' arrays copied (into ``into``, a list of earlier copies, if given):
        the weights of an optimizer without a flat vector."""
        if into is None:
            return [np.array(p.data, copy=True) for p in self._params]
        for saved, p in zip(into, self._params):
            np.copyto(saved, p.data)
        return into

    def _put_back(self, saved):
        """Write saved weights (a flat vector's copy, or :meth:`_copy_params`) into the model."""
        if self._vec is not None:
            np.copyto(self._vec.data, saved)
            return
        for p, array in zip(self._params, saved):
            np.copyto(p.data, array)

    def _remember_if_best(self, epoch, loss):
        """Keep a copy of the weights (and buffers) of the epoch with the lowest training loss."""
        if loss is None or not math.isfinite(loss) or loss >= self._best_epoch_loss:
            return
        if not (np.isfinite(self._vec.data).all() if self._vec is not None
                else all(np.isfinite(p.data).all() for p in self._params)):
            # the epoch's loss was measured before its last steps, one of which took a
            # non-finite gradient: these weights are no best (the next loss will diverge)
            return
        if self._vec is None:
            self._best_theta = self._copy_params(self._best_theta)
        else:
            if self._best_theta is None:
                self._best_theta = np.empty_like(self._vec.data)
            np.copyto(self._best_theta, self._vec.data)
        self._best_buffers = [(b, np.array(b, copy=True)) for _, b in self.model.named_buffers()
                              if isinstance(b, np.ndarray)]
        self._best_epoch, self._best_epoch_loss = epoch, float(loss)

    def _diverged(self, value, reference=None):
        if self._best_theta is not None:
            self._put_back(self._best_theta)
            for live, saved in self._best_buffers:
                live[...] = saved
            restored = (f"the weights of epoch {self._best_epoch} (0-based), the best one "
                        f"(training loss {self._best_epoch_loss:.4g})")
        else:
            if self.steps > 0 and self._good_theta is not None:
                self._put_back(self._good_theta)
                if self._shard:  # every rank kept its shard; all diverge at once (same loss)
                    self.data_parallel.gather_parts(self._vec.data)
                epoch, batch, loss = self._good_where
                restored = (f"the weights of the lowest batch loss so far ({loss:.4g}, epoch "
                            f"{epoch}, batch {batch}, 0-based)")
            else:
                restored = "the weights it had when training started (the first batch diverged)"
            for live, saved in self._buffers:
                live[...] = saved
        if self._shard:  # the whole optimizer state on every rank, as after a finished run
            self.data_parallel.sync_state()
        if reference is None:
            what = f"the loss became {value}"
        else:
            what = (f"the loss grew to {value:.4g}, more than divergence_factor="
                    f"{self.divergence_factor:g} times the best loss seen ({reference:.4g}),")
        raise DivergenceError(
            f"fit: {what} at epoch {self.epoch} (0-based), batch {self.batch}; "
            f"training stopped and the model keeps {restored}. Try a lower learning rate, "
            f"gradient clipping (clip_norm=1.0) or check the data scale.",
            self.epoch, self.batch, self.history, value)

    # -- checkpoints --------------------------------------------------------------
    def generators(self):
        """Every random generator the run draws from, by a stable name."""
        found, seen = {}, set()

        def add(name, value):
            # (a data-parallel layer's view of the library generator, Dropout(rng=None) over
            # MPI, has no state of its own: "library" holds it, as in one process)
            if isinstance(value, np.random.Generator) and id(value) not in seen \
                    and not getattr(value, "draws_from_library", False):
                seen.add(id(value))
                found[name] = value

        add("fit", self.rng)
        add("library", generator())
        stack, walked = [("model", self.model)], set()
        while stack:
            prefix, module = stack.pop(0)
            if id(module) in walked:  # shared, or a back-reference to a parent (a cycle)
                continue
            walked.add(id(module))
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
        """Write weights, optimizer state, epoch, RNG states, History and callback states.

        Also whether training stopped (a resumed stopped run returns at once)
        and what a divergence after a resume needs to act as in the
        uninterrupted run: the best epoch's weights, epoch and loss, and the
        divergence check's reference losses.
        """
        from ..io import save  # io sits below training, but imports lazily keep start-up light

        metadata = {
            "epoch": int(epochs_done),
            "generators": {k: g.bit_generator.state for k, g in self.generators().items()},
            "history": self.history.to_dict(),
            "callbacks": [cb.state_dict() if callable(getattr(cb, "state_dict", None)) else None
                          for cb in self.callbacks],
            # which callback each state belongs to: a resume matches them by kind, not place
            "callback_kinds": [callback_kind(cb) for cb in self.callbacks],
            "stopped": bool(self.stop_training),
        }
        if self.thread_parallel is not None:  # how far its parts' generators have advanced
            metadata["thread_runs"] = int(self.thread_parallel.runs)
        if self._best_theta is not None:
            # an optimizer of one's own (no flat vector) keeps a copy per parameter: saved as
            # one vector in parameter order, as a flat vector would hold them
            theta = self._best_theta if self._vec is not None else np.concatenate(
                [a.ravel() for a in self._best_theta]) if self._best_theta else np.empty(0)
            metadata["best"] = {
                "epoch": int(self._best_epoch), "loss": float(self._best_epoch_loss),
                "theta": theta, "buffers": [saved for _, saved in self._best_buffers],
                # the lowest batch loss: none seen (inf) when an annealer measured the losses
                "best_loss": float(self._best_loss) if math.isfinite(self._best_loss) else None,
                "floor": float(self._floor),
                "growth_check": self.divergence_factor is not None}
        save(self.model, path, optimizer=self.optimizer, metadata=metadata,
             training_checkpoint=True)

    def _resume_best(self, best, path, epochs_done):
        """Put back the best epoch a checkpoint stored (its weights, epoch and loss), so that
        a divergence after the resume restores what the uninterrupted run would."""
        from ..io import FormatError

        live = [b for _, b in self.model.named_buffers() if isinstance(b, np.ndarray)]

        def number(value):  # a JSON number, not a bool or a string that float() would read
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(value)
            return float(value)

        try:
            theta = best["theta"]
            if not isinstance(best["buffers"], list) or isinstance(best["epoch"], bool) \
                    or not isinstance(best["epoch"], int) \
                    or not isinstance(best.get("growth_check", True), bool):
                raise TypeError(best)
            buffers = list(best["buffers"])
            epoch, loss = best["epoch"], number(best["loss"])
            best_loss = math.inf if best["best_loss"] is None else number(best["best_loss"])
            floor = number(best["floor"])
            size = (self._vec.data.shape if self._vec is not None
                    else (sum(p.data.size for p in self._params),))
            ok = (isinstance(theta, np.ndarray) and theta.shape == size
                  and len(buffers) == len(live) and 0 <= epoch < epochs_done
                  and math.isfinite(loss) and not math.isnan(best_loss) and math.isfinite(floor)
                  and all(isinstance(s, np.ndarray) and s.shape == np.shape(b)
                          for s, b in zip(buffers, live)))
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise FormatError(f"fit: {os.fspath(path)}: checkpoint \"best\" does not match this "
                              f"model and optimizer (the best epoch's weights, epoch and loss)")
        if self._vec is not None:
            self._best_theta = np.array(theta, dtype=self._vec.data.dtype, copy=True)
        else:  # an optimizer of one's own: a copy per parameter, in its dtype and shape
            ends = np.cumsum([p.data.size for p in self._params])[:-1]
            self._best_theta = [np.array(part.reshape(p.data.shape), dtype=p.data.dtype)
                                for p, part in zip(self._params, np.split(theta, ends))]
        self._best_buffers = [(b, np.array(s, dtype=b.dtype, copy=True))
                              for b, s in zip(live, buffers)]
        self._best_epoch, self._best_epoch_loss = epoch, loss
        self._best_loss, self._floor = best_loss, floor
        if not best.get("growth_check", True):  # the run had turned it off (negative loss)
            self.divergence_factor = None

    def resume(self, path):
        """Load a checkpoint in place; returns the number of epochs it had done."""
        from ..io import FormatError, load_checkpoint
        from ..io.checkpoint_schema import check_resume
        from ..nn import registry

        ckpt = load_checkpoint(path)
        states = self._callback_states(ckpt.metadata, path)
        live = self.callbacks
        try:  # the schema checks each saved state on (a copy of) the callback it goes to
            self.callbacks = placed_callbacks(states, live)
            check_resume(ckpt, self, path)  # every field against the schema, before any change
        finally:
            self.callbacks = live
        meta = ckpt.metadata
        if not isinstance(meta, dict) or "epoch" not in meta or ckpt.optimizer_state is None:
            raise ValueError(f"fit: {os.fspath(path)} is a model file, not a training checkpoint "
                             f"(written by rb.callbacks.Checkpoint)")
        difference = registry.describe_difference(registry.spec_of(ckpt.model),
                                                  registry.spec_of(self.model))
        if difference is not None:
            raise FormatError(f"fit: {os.fspath(path)} holds another architecture than the "
                              f"model being trained: {difference}")
        self.model.load_state_dict(ckpt.model.state_dict())
        self.optimizer.load_state_dict(ckpt.optimizer_state)
        gens = self.generators()
        for name, state in meta.get("generators", {}).items():
            if name in gens:
                gens[name].bit_generator.state = state
        self.history = History.from_dict(meta.get("history", {}))
        stopped = meta.get("stopped", self.history.stop_reason is not None)
        if not isinstance(stopped, bool):  # a hand-edited or hostile file: "no" is truthy
            raise FormatError(f"fit: {os.fspath(path)}: the checkpoint's 'stopped' must be true or "
                              f"false; got {stopped!r:.40}")
        self.stopped_before = stopped
        runs = meta.get("thread_runs")
        if runs is not None and (isinstance(runs, bool) or not isinstance(runs, int)
                                 or runs < 0):
            raise FormatError(f"fit: {os.fspath(path)}: the checkpoint's 'thread_runs' must be "
                              f"a non-negative integer; got {runs!r:.40}")
        if self.thread_parallel is not None:  # (a run saved without threads: from 0)
            self.thread_parallel.runs = runs or 0
        epochs_done = int(meta["epoch"])
        losses = self.history.history.get("loss", [])
        if meta.get("best") is not None:  # a non-dict: refused
            self._resume_best(meta["best"], path, epochs_done)
        elif losses and math.isfinite(losses[-1]):
            # an older checkpoint without the best epoch: the resumed weights are the last
            # epoch's, labelled with that epoch's own loss
            self._best_loss = min(v for v in losses if math.isfinite(v))
            self._best_epoch_loss = math.inf
            self._remember_if_best(epochs_done - 1, losses[-1])
        pairs = (zip(self.callbacks, meta.get("callbacks", [])) if states is None
                 else zip(states[1], meta["callbacks"]))
        for cb, state in pairs:
            if cb is not None and state is not None and callable(
                    getattr(cb, "load_state_dict", None)):
                cb.load_state_dict(state)
        return epochs_done

    def _callback_states(self, meta, path):
        """Match a checkpoint's callback states to this run's callbacks by kind
        (:func:`match_callback_states`)."""
        return match_callback_states(meta, self.callbacks, path, "fit", stacklevel=6)
