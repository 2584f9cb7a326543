"""The training loop: ``rb.fit`` (notes: "Training neural networks", "Shuffling & curriculum
learning", "Tweaking hyperparameters", "Unstable gradients", "Artificially expanding the training
set").

One epoch is: order the examples (shuffled every epoch by default, or by a
curriculum), cut them into mini-batches, and for each batch run the
forward pass, the loss (plus regularization penalties), backpropagation and
one optimizer step. Per-epoch losses and metrics are exact averages over the
examples seen (for a weighted mean loss, ``cross_entropy`` with ``weight`` or
``ignore_index``, the weighted mean over them, as the loss of the whole set; a
batch whose labels are all ignored takes no step; for a loss given with
``reduction="sum"``, the sum over the whole set). Everything random draws from
seeded generators, ``rng`` (the order, augmentation, input noise) and the
library generator of ``rb.seed`` (dropout and other layers' draws, and all of
them when ``rng`` is not given), both saved in checkpoints, so a run is
reproducible under a seed and a checkpointed run resumes bit for bit.

Bad data and divergence: NaN/inf in the inputs or targets is rejected before
training, and class labels are checked against the model's outputs (reported
by their index in ``y``). A NaN/inf loss, or one that grows past
``divergence_factor`` times the best seen, stops training with
:class:`DivergenceError`, which names the epoch, batch and loss, after putting
back the weights of the best epoch so far (in the first epoch, those of the
lowest batch loss so far).
"""

import collections.abc
import functools
import inspect
import math
import os
import warnings

import numpy as np

from ..autodiff.tensor import Tensor, no_grad
from ..checks import boolean, positive_int
from ..nn import losses as losses_module, regularizers as regs_module
from ..nn.module import Module
from . import metrics as metrics_module
from .callbacks import Callback, Checkpoint, overrides
from .curriculum import Curriculum
from .progress import EpochLines, ProgressBar
from .trainer import (
    DivergenceError,
    Trainer,
    evaluate_arrays,
    exact_integers,
    hold_frozen_normalization,
    model_input,
    normalization_layers,
    single_output,
    target_for,
)

__all__ = ["DivergenceError", "Trainer", "evaluate", "fit", "predict"]

LOSSES = ("cross_entropy", "mse", "binary_cross_entropy", "binary_cross_entropy_with_logits",
          "nll", "log_loss", "hinge", "max_margin")


# -- argument checks ---------------------------------------------------------------------
def _positive_int(value, name, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or value < (0 if allow_zero else 1):
        kind = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"fit: {name} must be {kind} integer; got {value!r}")
    return int(value)


def _resume(trainer, path, data_parallel=None):
    """``trainer.resume(path)``; over MPI (``data_parallel``) every rank raises if any rank
    cannot read its file or read another epoch than rank 0's (node-local folders holding
    checkpoints of other moments would run different numbers of epochs)."""
    error = None
    try:
        trainer.start_epoch = trainer.resume(path)
    except Exception as e:  # noqa: BLE001 - raised on every rank by agree
        error = e
    if data_parallel is None:
        if error is not None:
            raise error
        return
    first = data_parallel.broadcast_json(int(trainer.start_epoch))
    if error is None and first != trainer.start_epoch:
        error = ValueError(f"fit: resume_from {os.fspath(path)!r} holds a checkpoint after "
                           f"{first} epochs on rank 0 but after {trainer.start_epoch} on rank "
                           f"{data_parallel.rank}; give every rank the same file (a shared "
                           f"folder)")
    data_parallel.agree(error)  # every rank raises, or none


def _check_finite(array, name, data_parallel=None, owner="fit"):
    """Raise when ``array`` holds NaN or inf (the message starts with ``owner``).

    A NaN or inf anywhere makes the sum NaN or inf, so one pass with no
    temporaries clears the usual finite array; only a non-finite sum (bad
    values, or finite ones whose sum overflows) pays the exact element check.
    ``data_parallel`` (MPI ranks, each holding the whole array): each rank
    sums its block of the rows and one small ``Allreduce`` tells every rank
    whether all were finite, so the pass over the data is split as the
    training is; a non-finite block sends every rank to the exact check (the
    same error on each).
    """
    if array.dtype.kind not in "fc":
        return
    ranks = 1 if data_parallel is None else data_parallel.size
    part = array
    if ranks > 1 and array.ndim > 0:
        n, r = len(array), data_parallel.rank
        part = array[n * r // ranks:n * (r + 1) // ranks]
    with np.errstate(over="ignore", invalid="ignore"):
        finite = bool(np.isfinite(part.sum()))
    if ranks > 1:
        finite = data_parallel.sum([0.0 if finite else 1.0])[0] == 0.0
    if finite:
        return
    bad = ~np.isfinite(array)
    if bad.any():
        first = np.unravel_index(int(np.argmax(bad)), array.shape)
        raise ValueError(
            f"{owner}: {name} contains {int(bad.sum())} NaN or infinite values (the first at "
            f"index {tuple(int(i) for i in first)}); remove or impute them first")


def _as_array(array, name, owner="fit"):
    if isinstance(array, Tensor):
        array = array.data
    if isinstance(array, collections.abc.Iterator):  # a generator of batches, Keras-style
        raise TypeError(f"{owner}: {name} must be an array of all examples, shape "
                        f"(n_examples, ...); got {type(array).__name__}: {owner} cuts the "
                        f"batches itself (batch_size=) and does not take an iterator of batches")
    try:
        array = np.asarray(array)
    except ValueError as e:  # a ragged list (batches of different sizes): NumPy's bare words
        raise ValueError(f"{owner}: {name} must be an array of all examples, shape "
                         f"(n_examples, ...), every example of one shape; NumPy cannot make "
                         f"one of it: {e}") from None
    if array.dtype == object:
        raise TypeError(f"{owner}: {name} must be a numeric array; got dtype object")
    if array.dtype.kind == "c":  # the cast to the model's floats would drop the imaginary part
        raise TypeError(f"{owner}: {name} must hold real numbers; got dtype {array.dtype}")
    return array


def _as_data(array, name, dtype, check=True, owner="fit"):
    """``array`` as a NumPy array, floats in the model's dtype. ``check=False``: the caller
    checks that its values are finite (:func:`_check_finite` on ``_as_array(array)``)."""
    array = _as_array(array, name, owner)
    if check:
        _check_finite(array, name, owner=owner)
    if array.dtype.kind == "f" and array.dtype != dtype:
        _check_cast(array, name, dtype, owner)
        array = array.astype(dtype)
    return array


def _check_cast(array, name, dtype, owner):
    """Finite values that the model's narrower float type cannot hold (1e5 in float16)
    would become inf in the cast: refused, naming the largest, before training. Two passes
    (max, min), no temporaries, only when the cast narrows."""
    dtype = np.dtype(dtype)
    if dtype.itemsize >= array.dtype.itemsize or array.size == 0:
        return
    largest = float(np.finfo(dtype).max)
    with np.errstate(invalid="ignore"):
        peak = max(float(array.max()), -float(array.min()))
    if math.isfinite(peak) and peak > largest:
        raise ValueError(f"{owner}: {name} holds values of magnitude up to {peak:.3g}, beyond "
                         f"{dtype.name}'s largest ({largest:g}), which the model's parameters "
                         f"are: the cast would make them inf; scale them, or train the model "
                         f"in float32 (model.astype(np.float32))")


def _listed(values, name):
    """An iterable of metrics or callbacks as a list (a generator is used up once read)."""
    if isinstance(values, (list, tuple)):
        return values
    try:
        return list(values)
    except TypeError:
        raise TypeError(f"fit: {name} must be a sequence; got {type(values).__name__}") from None


def _default_metrics(metrics):
    """Whether ``metrics`` is fit's default (accuracy) or none at all."""
    if metrics is None or isinstance(metrics, str) or callable(metrics):
        return metrics is None or metrics in ("accuracy", "acc")
    try:
        return tuple(metrics) in ((), ("accuracy",), ("acc",))
    except TypeError:
        return False


def _is_value(value, default):
    """``value == default`` for a number, False for anything else (a bool, a string)."""
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, bool) and value == default)


def _divergence_factor(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value <= 1:
        raise ValueError(f"fit: divergence_factor must be a finite number > 1 or None; "
                         f"got {value!r}")
    return float(value)


def _check_single_output(model, X):
    """A model that returns a tuple (``(output, state)``: tbptt's form) is refused before
    training, by running the first example (evaluation mode, no graph); a model that refuses
    the example is left to fail, clearer, in training."""
    try:
        with model.evaluating(), no_grad():
            out = model(Tensor(X[:1]))
    except Exception:  # noqa: BLE001 - the model's own error comes, clearer, in training
        return
    single_output(out)


def _output_shape(model, X):
    """The model's output shape for the first example of ``X`` (evaluation mode, no graph), or
    None when the model refuses it (its own error comes, clearer, in training)."""
    try:
        with model.evaluating(), no_grad():
            out = model(Tensor(X[:1]))
    except Exception:  # noqa: BLE001 - the model's own error comes, clearer, in training
        return None
    return tuple(getattr(out, "shape", ()))


def _at(y, flat):
    """The index of ``y``'s element number ``flat`` (in C order) as written: ``[60]``,
    ``[60, 2]``."""
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat, y.shape)) + "]"


def _check_labels(model, X, y, loss_name, name="y", owner="fit", ignore_index=None):
    """Class labels in range before training, reported by their index in ``y`` as given.

    For the label losses (integer targets, or floats such as 2.0 that the
    losses read as labels), one example is run through the model (evaluation
    mode, no graph) to learn how many classes it outputs. Labels are one per
    example, shape ``(n,)`` for outputs ``(n, classes)``, or one per position,
    ``(n, T, ...)`` for outputs ``(n, T, ..., classes)`` (a sequence model's
    per-step classes). A float label that is not a whole number (0.5) is
    refused, named by its index. Labels equal to ``ignore_index`` (the loss's,
    e.g. -100 on padding) are not checked.
    """
    if loss_name not in ("cross_entropy", "nll", "max_margin") or y is None \
            or y.ndim == 0 or y.dtype.kind not in "iuf" or len(y) == 0:
        return
    if ignore_index is not None:  # (0 stands in for them: a label every model outputs)
        y = np.where(y == ignore_index, 0, y)
    shape = None
    if y.ndim > 1:  # per-position labels, or rows of one-hot/probability targets
        shape = _output_shape(model, X)
        if shape is None or len(shape) != y.ndim + 1 or shape[1:-1] != y.shape[1:]:
            return
    if y.dtype.kind == "f":
        odd = np.flatnonzero(y != np.round(y))
        if len(odd):
            raise ValueError(f"{owner}: {name}{_at(y, odd[0])} = {float(y.flat[odd[0]])!r}: "
                             f"class labels must be whole numbers 0, 1, 2, ... (one-hot or "
                             f"probability targets are rows, shape (n, classes))")
    low = int(np.argmin(y))
    if y.flat[low] < 0:
        raise ValueError(f"{owner}: {name}{_at(y, low)} = {int(y.flat[low])}: class labels must "
                         f"be 0, 1, 2, ...")
    if shape is None:
        shape = _output_shape(model, X)
        if shape is None or len(shape) != 2:
            return
    classes = int(shape[-1])
    high = int(np.argmax(y))
    if classes > 1 and y.flat[high] >= classes:
        raise ValueError(f"{owner}: {name}{_at(y, high)} = {int(y.flat[high])} but the model "
                         f"outputs {classes} classes (labels 0..{classes - 1})")


def _integer_labels(model, X, y, loss_name):
    """Class labels given as whole-number floats (``2.0``, as a float ``y`` cast to the
    model's dtype holds them) as int64, once per call of fit or evaluate.

    The label losses read such floats as labels, but what averages their weighted mean
    (:func:`~rosenblatt.nn.losses.mean_normaliser`: ``cross_entropy`` with ``weight``,
    over the epoch and across data-parallel parts) tells labels from probability
    targets by the dtype: integers it weighs by their classes, floats it counts. Only
    ``y`` shaped as the model's outputs without their class axis (one example is run,
    evaluation mode, no graph) is converted; anything else is left as it is (probability
    rows, or a label that is not a whole number, which :func:`_check_labels` names).
    """
    if loss_name not in ("cross_entropy", "nll", "max_margin") or y is None \
            or y.dtype.kind != "f" or y.ndim == 0 or len(y) == 0:
        return y
    shape = _output_shape(model, X)
    if shape is None or len(shape) != y.ndim + 1 or tuple(shape[1:-1]) != y.shape[1:] \
            or not np.all(y == np.round(y)):
        return y
    return y.astype(np.int64)


_UNIT_TARGET_LOSSES = ("binary_cross_entropy", "binary_cross_entropy_with_logits")


def _check_unit_targets(targets, loss_name, name="y", owner="fit"):
    """The binary cross-entropies' targets in [0, 1] (probabilities, 0/1 labels), checked once
    per call of fit (one min/max pass over the targets) rather than in the loss at every
    batch, where the pass would cost ~10% of a small batch's loss; the first bad one is
    named by its index. Outside [0, 1] the loss has no lower bound (t = 2: -2.95 at x = 3),
    so training would drive it down forever."""
    if loss_name not in _UNIT_TARGET_LOSSES or targets is None or targets.size == 0 \
            or targets.dtype.kind not in "iuf":
        return
    if targets.min() >= 0 and targets.max() <= 1:
        return
    first = int(np.flatnonzero((targets < 0) | (targets > 1))[0])
    value = targets.flat[first].item()
    raise ValueError(f"{owner}: {name}{_at(targets, first)} = {value!r}: {loss_name} needs "
                     f"targets in [0, 1] (probabilities, or 0/1 labels); for labels 0, 1, 2, "
                     f"... use cross_entropy, for -1/+1 targets log_loss or hinge")


def _check_examples(X, y, owner, name="X", empty=None):
    """``X`` holds at least one example (else ``empty``, or a message naming ``name``) and
    ``y``, when given, as many."""
    if X.ndim == 0 or len(X) == 0:
        raise ValueError(empty or f"{owner}: {name} must hold at least one example; got shape "
                                  f"{X.shape}")
    if y is not None and (y.ndim == 0 or len(y) != len(X)):
        y_name = name[:-1] + "y" if name.endswith("X") else "y"  # "validation X": its y
        raise ValueError(f"{owner}: {name} has {len(X)} examples but {y_name} has "
                         f"{len(y) if y.ndim else 'shape ()'}")


def _validation_pair(validation_data, supervised):
    """``(X_val, y_val)`` of fit's ``validation_data``: a pair, or ``X_val`` alone (``y_val``
    None) when the targets are the inputs (``y=None``, autoencoders)."""
    if isinstance(validation_data, tuple) and len(validation_data) != 2:
        raise ValueError(f"fit: validation_data must be (X_val, y_val), or X_val alone when y "
                         f"is None; got a tuple of {len(validation_data)}")
    pair = isinstance(validation_data, (tuple, list)) and len(validation_data) == 2
    if pair and not (supervised and validation_data[1] is None):
        return validation_data
    if supervised:  # X_val would silently become the validation targets
        raise ValueError("fit: y is given but validation_data has no targets; pass "
                         "validation_data=(X_val, y_val) (X_val alone, or (X_val, None), is for "
                         "y=None, autoencoders)")
    return validation_data, None


def _check_validation_shape(model, X, Xv):
    """Validation examples the model accepts, found before the first epoch ends."""
    if Xv.shape[1:] == X.shape[1:] or len(Xv) == 0:
        return
    try:
        with model.evaluating(), no_grad():
            model(Tensor(Xv[:1]))
    except (ValueError, TypeError, IndexError) as e:
        raise ValueError(f"fit: validation X has examples of shape {Xv.shape[1:]} but X has "
                         f"{X.shape[1:]}; the model refuses them: {e}") from None


def _check_validation_targets(model, targets, validation, loss_fn, loss_name):
    """Validation targets the loss accepts for the model's outputs, found before the first
    epoch, not at its end.

    Only when ``y_val`` is shaped unlike the training ``targets`` past the first axis (labels
    beside one-hot rows can be meant): the loss, a named one (a callable may need more than
    one example), is computed on the first validation example (evaluation mode, no graph).
    """
    Xv, yv = validation
    if yv.shape[1:] == targets.shape[1:] or loss_name not in LOSSES or len(yv) == 0:
        return
    try:
        with model.evaluating(), no_grad():
            out = model(Tensor(Xv[:1]))
    except Exception:  # noqa: BLE001 - the model's own error comes, clearer, in training
        return
    try:
        with no_grad():
            loss_fn(out, target_for(out, yv[:1], loss_name))
    except (ValueError, TypeError, IndexError) as e:
        raise ValueError(f"fit: validation y has shape {yv.shape} but the training targets "
                         f"have {targets.shape}; the loss refuses it for the model's outputs "
                         f"(shape {(len(yv),) + tuple(out.shape[1:])}): {e}") from None


_COUNT_METRICS = ("batch_precision", "batch_recall", "batch_f1")


def _check_count_metrics(model, X, y, plan, loss_name):
    """Precision, recall and F1 of the loop are binary (or multi-label) counts: a model with
    more than two softmax outputs is refused before training, by scoring its output for the
    first example (evaluation mode, no graph)."""
    chosen = [fn for _, fn in plan if getattr(fn, "__name__", "") in _COUNT_METRICS]
    if not chosen:
        return
    try:
        with model.evaluating(), no_grad():
            out = model(Tensor(X[:1]))
    except Exception:  # noqa: BLE001 - the model's own error comes, clearer, in training
        return
    target = target_for(out, X[:1] if y is None else y[:1], loss_name)
    for fn in chosen:
        fn(out.data, target)  # raises the metric's own ValueError


def _check_last_batch(model, X, batch_size, curriculum=None, epochs=0):
    """A training batch of one example cannot be batch-normalised (one value per channel):
    with one process or over MPI a last batch of one is found before training; with a
    ``curriculum``, in the first of the ``epochs`` whose pool leaves one example over (the
    pool sizes are known in advance).

    The model runs on one example in evaluation mode (no graph, no running statistics
    moved, no random draws), spying on the inputs of its trainable batch-norm layers: a
    ``BatchNorm1d``/``2d`` given one value per channel, or a recurrent layer built with
    ``batch_norm=True`` (buffers ``running_mean_0``, ...), which normalises the example's
    time steps as rows, given one step."""
    n, epoch = len(X), None
    if curriculum is not None:  # the pool stops growing at epochs_to_full
        pools = ((e, curriculum.pool_size(e)) for e in range(min(epochs,
                                                                 curriculum.epochs_to_full)))
        epoch, n = next(((e, size) for e, size in pools
                         if size % batch_size == 1 or batch_size == 1), (None, n))
        if epoch is None:
            return
    elif n % batch_size != 1 and batch_size != 1:
        return
    layers = [m for m in normalization_layers(model)
              if any(str(b).startswith("running_mean") for b in m.buffers)
              and any(p.requires_grad for p in m.parameters())]
    layers = list({id(m): m for m in layers}.values())  # a shared layer is patched once
    if not layers:
        return
    single = []

    def spy(module):
        def forward(x, *args, **kwargs):
            data = x.data if isinstance(x, Tensor) else np.asarray(x)
            if "running_mean" in module.buffers:  # one value per channel
                alone = data.size <= np.size(module.running_mean)
            else:  # a recurrent layer: (1, T, features), T rows to normalise
                alone = data.ndim < 2 or data.size // max(data.shape[-1], 1) < 2
            if alone:
                single.append(type(module).__name__)
            return type(module).forward(module, x, *args, **kwargs)
        return forward

    for m in layers:
        m.forward = spy(m)
    try:
        with model.evaluating(), no_grad():
            model(Tensor(X[:1]))
    except Exception:  # noqa: BLE001 - the model's own error comes, clearer, in training
        return
    finally:
        for m in layers:
            vars(m).pop("forward", None)
    if single:
        pool = "" if epoch is None else f" of epoch {epoch}'s curriculum pool (0-based)"
        raise ValueError(
            f"fit: with batch_size={batch_size} the last mini-batch of the {n} examples{pool} "
            f"holds 1 example, but batch normalization ({single[0]}) needs more than one value per "
            f"channel to train; choose a batch_size that does not leave one example over "
            f"({n} % batch_size != 1)")


def _check_checkpoints(callbacks):
    """Each Checkpoint's folder exists and is writable (named by the path as given)."""
    for cb in callbacks:
        if isinstance(cb, Checkpoint):
            if os.path.isdir(cb.path):
                raise ValueError(f"fit: Checkpoint path {cb.path!r} names a folder; give a file "
                                 f"name in it, e.g. {os.path.join(cb.path, 'run.ckpt')!r}")
            folder = os.path.dirname(os.path.abspath(cb.path)) or "."
            if not os.path.isdir(folder):
                raise ValueError(f"fit: Checkpoint path {cb.path!r}: the folder {folder!r} does "
                                 f"not exist; create it first")
            if not os.access(folder, os.W_OK):
                raise ValueError(f"fit: Checkpoint path {cb.path!r}: cannot write in the folder "
                                 f"{folder!r}")


def _loss_options(loss):
    """``(function, keywords)`` of a loss given through ``functools.partial`` (nested
    partials merged, the outer's keywords winning), or ``(loss, {})``."""
    func, keywords = loss, {}
    while isinstance(func, functools.partial):
        keywords = {**func.keywords, **keywords}
        func = func.func
    return func, keywords


def _resolve_loss(loss, owner="fit"):
    """``(loss_fn, loss_name)``: the name of a library loss also when it comes through a
    ``functools.partial`` (how its options are given: its checks and decision rule are the
    named loss's whatever the options); None for a callable of one's own."""
    if isinstance(loss, str):
        if loss not in LOSSES or not hasattr(losses_module, loss):
            raise ValueError(f"{owner}: unknown loss {loss!r}; use one of {LOSSES} or a "
                             f"callable fn(pred, target) -> Tensor")
        return getattr(losses_module, loss), loss
    if callable(loss):
        func, keywords = _loss_options(loss)
        if keywords.get("reduction") == "none":
            raise ValueError(f"{owner}: loss gives per-example values (reduction='none'); "
                             f"training and evaluation need one number per batch: use "
                             f"reduction='mean' (or 'sum')")
        name = next((n for n in LOSSES if getattr(losses_module, n, None) is func), None)
        return loss, name if name is not None else getattr(loss, "__name__", None)
    raise TypeError(f"{owner}: loss must be a name or a callable; got {type(loss).__name__}")


def _ignore_index(loss):
    """The ``ignore_index`` a loss is given (``functools.partial(cross_entropy,
    ignore_index=-100)``), or None."""
    return None if isinstance(loss, str) else _loss_options(loss)[1].get("ignore_index")


def _metric_plan(metrics, y, loss_name, owner="fit", reference=None, ignore_index=None):
    return metrics_module.plan(metrics, y, loss_name, owner, reference, ignore_index)


def predict(model, X, batch_size=256):
    """The model's outputs on ``X`` (eval mode, no graph), as an ndarray.

    Parameters
    ----------
    model : rb.nn.Module
    X : array_like, shape (n_examples, ...)
        ``n_examples`` may be 0: the model runs on the empty batch, so the
        result has the model's output shape, e.g. ``(0, n_out)``.
    batch_size : int, default 256
        Examples per forward pass (a positive integer).
    """
    batch_size = positive_int("predict", "batch_size", batch_size)
    X = X.data if isinstance(X, Tensor) else np.asarray(X)
    exact = exact_integers(X)  # token ids past float32's exact integers: given as they are
    with model.evaluating(), no_grad():
        if len(X) == 0:
            return single_output(model(model_input(X, exact)), "predict").data
        parts = [single_output(model(model_input(X[i:i + batch_size], exact)), "predict").data
                 for i in range(0, len(X), batch_size)]
    return np.concatenate(parts, axis=0)


def evaluate(model, X, y=None, *, loss, metrics=("accuracy",), batch_size=256):
    """Average loss and metrics of ``model`` on ``(X, y)`` (eval mode, no graph).

    Parameters
    ----------
    model : rb.nn.Module
    X, y : array_like
        As in :func:`fit` (``y=None``: the target is ``X``); no NaN or inf.
    loss, metrics
        As in :func:`fit`.
    batch_size : int, default 256
        Examples per forward pass (a positive integer).

    Returns
    -------
    dict
        ``{"loss": ..., "<metric>": ...}``. The loss is what the loss function
        gives on the whole set, whatever ``batch_size``: the mean over the
        examples (over their weights for a weighted mean loss; the sum with
        ``reduction="sum"``). The metrics' decision rule (0/1 or -1/+1 targets)
        is bound from the ``y`` given here.

    Raises
    ------
    ValueError
        For no examples, NaN/inf, ``y`` with another number of examples than
        ``X``, or a class label the model does not output (named by its index).
    """
    batch_size = positive_int("evaluate", "batch_size", batch_size)
    loss_fn, loss_name = _resolve_loss(loss, "evaluate")
    dtype = _param_dtype(model)
    X = _as_data(X, "X", dtype, owner="evaluate")
    y = None if y is None else _as_data(y, "y", dtype, owner="evaluate")
    _check_examples(X, y, "evaluate", empty=f"evaluate: X holds no examples (shape {X.shape}); "
                                            f"the loss of none is undefined")
    y = _integer_labels(model, X, y, loss_name)  # 2.0: weighed as the label 2 is
    ignore_index = _ignore_index(loss)
    _check_labels(model, X, y, loss_name, owner="evaluate", ignore_index=ignore_index)
    _check_unit_targets(X if y is None else y, loss_name, "X" if y is None else "y",
                        owner="evaluate")
    plan = _metric_plan(metrics, y, loss_name, "evaluate", ignore_index=ignore_index)
    return evaluate_arrays(model, X, y, loss_fn, loss_name, plan, batch_size, "evaluate")


def _param_dtype(model):
    for p in model.parameters():
        if p.data.dtype.kind == "f":
            return p.data.dtype
    return np.dtype(np.float32)


def _takes_one_argument(fn):
    """True when ``fn(x)`` binds but ``fn(x, rng)`` does not (a deterministic augmentation)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    try:
        sig.bind(None)
    except TypeError:
        return False
    try:
        sig.bind(None, None)
    except TypeError:
        return True
    return False


def _with_rng(fn):
    def augment(x, rng):
        return fn(x)
    return augment


def _check_closure_optimizer(optimizer, clip_norm, clip_value, callbacks):
    """An optimizer that evaluates the objective itself (``needs_closure``: the annealers,
    L-BFGS, conjugate gradient) never steps on one backward's gradient: refuse what would
    act on it, gradient clipping and callbacks that read it (``on_backward``)."""
    if not getattr(optimizer, "needs_closure", False):
        return
    name = type(optimizer).__name__
    if clip_norm is not None or clip_value is not None:
        raise ValueError(f"fit: clip_norm/clip_value act on the gradient of a step, but "
                         f"{name} evaluates the objective itself along its search (it takes "
                         f"step(closure)); leave them out")
    for cb in callbacks or ():
        if overrides(cb, "on_backward"):  # a subclass's method or a LambdaCallback's function
            raise ValueError(f"fit: callback {type(cb).__name__} reads each step's gradient "
                             f"(on_backward), which {name} never hands over (it takes "
                             f"step(closure)); use an optimizer such as rb.optim.SGD with it")


def _check_optimizer_owns_model(optimizer, model):
    """Raise when the optimizer holds none of the model's trainable parameters (it would
    train nothing: e.g. the old optimizer of a model whose body ``replace_output`` froze);
    warn when it misses some trainable ones, whose gradients would be computed and dropped
    (an optimizer built on a part of the model trains that part alone, which can be meant,
    as PyTorch's fine-tuning idiom; freezing the rest says so and saves their gradients)."""
    vec = getattr(optimizer, "vec", None)
    held = getattr(vec, "params", None)
    if held is None:
        return
    named = model.named_parameters()
    held_ids = {id(p) for p in held}
    if named and not any(id(p) in held_ids for _, p in named):
        raise ValueError(
            f"fit: the optimizer holds none of the model's parameters, so training would not "
            f"change the model; build it on this model: "
            f"{type(optimizer).__name__}(model.parameters(), ...)")
    trainable = [(name, p) for name, p in named if p.requires_grad]
    missing = [name for name, p in trainable if id(p) not in held_ids]
    if not missing:
        return
    shown = ", ".join(missing[:6]) + (", ..." if len(missing) > 6 else "")
    rebuild = (f"build the optimizer on this model after any change to it: "
               f"{type(optimizer).__name__}(model.parameters(), ...)")
    if len(missing) == len(trainable):
        raise ValueError(
            f"fit: the optimizer holds none of the model's {len(trainable)} trainable "
            f"parameters ({shown}; the ones it holds are frozen), so training would not change "
            f"the model; {rebuild}")
    warnings.warn(
        f"fit: the optimizer does not hold {len(missing)} of the model's {len(trainable)} "
        f"trainable parameters ({shown}): they will not learn; {rebuild}, or freeze them "
        f"(module.freeze()) if they should stay fixed", stacklevel=3)


def fit(model, X, y=None, *, loss, optimizer, epochs, batch_size=32, shuffle=True,
        curriculum=None, validation_data=None, metrics=("accuracy",), regularizers=(),
        callbacks=(), augment=None, progress=True, rng=None, resume_from=None, clip_norm=None,
        clip_value=None, tbptt=None, adversarial=None, divergence_factor=1e4,
        distributed=None):
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
        A ``functools.partial`` of one of them (``partial(cross_entropy,
        ignore_index=-100)``) is that loss: its label checks and decision rule
        apply, and labels equal to its ``ignore_index`` count in neither the
        loss nor the accuracy. ``reduction="none"`` is refused; with
        ``reduction="sum"`` the epoch's ``loss`` and ``val_loss`` are the sums
        over the whole sets (whatever the batch size), and data-parallel parts
        add their sums. Class labels given as whole-number floats (``2.0``) are
        read, and weighted, as the integer labels they are.
    optimizer : rb.optim optimizer
        Built on the model's parameters (``rb.optim.Adam(model.parameters())``).
        An annealer (``rb.optim.CauchyAnnealer``, ``BoltzmannAnnealer``) gets a
        closure of the loss on each batch (the whole set when ``batch_size >=
        len(X)``) instead of a gradient, and puts back its best weights at the end.
    epochs : int
        The total number of epochs (a resumed run continues up to it).
    batch_size : int, default 32
    shuffle : bool, default True
        Reshuffle the examples every epoch (True or False: a string such as
        ``"false"`` is refused).
    curriculum : Curriculum, array_like or callable, optional
        Difficulty scores (one per example; lower is easier), a callable
        ``fn(X, y) -> scores``, or a :class:`Curriculum` (which can also widen
        the pool over epochs). Examples are then presented easiest first
        (``shuffle`` is ignored).
    validation_data : (X_val, y_val) or X_val, optional
        Evaluated after every epoch: ``val_loss`` and ``val_<metric>``. At
        least one example; ``X_val`` alone (or ``(X_val, None)``) only when ``y``
        is None (the targets are the inputs). A ``y_val`` that the loss refuses
        for the model's outputs is refused before training. The validation
        metrics decide classes by the training targets' rule (0/1 or -1/+1,
        from ``y``), whatever classes the validation set happens to hold.
    metrics : sequence of str or callable, default ("accuracy",)
        "accuracy" (computed only for classification targets), "mae", "mse",
        "precision", "recall", "f1" (binary: one output or two softmax
        columns, or independent outputs; more classes are refused before
        training), or ``fn(pred, target) -> (total, count)``.
    regularizers : sequence, default ()
        ``rb.regularizers`` objects (penalty, after_step, transform_input
        hooks), added to the model's own ``model.regularizers``.
    callbacks : Callback or sequence of Callback, default ()
        ``rb.callbacks.EarlyStopping``, ``Checkpoint``, ``GradientMonitor`` ...
    augment : callable, optional
        ``fn(x_batch, rng) -> x_batch`` (or ``fn(x_batch)``) applied to every
        training batch, returning as many examples, e.g.
        ``rb.training.ImageAugmentation(image_shape=(8, 8))``.
    progress : bool, default True
        A live progress bar (tqdm) on stderr: epoch, batch, running loss and
        metrics, when stderr is a terminal (or in a notebook, as a widget).
        When it is not (``nohup``, CI, a log file), one line per epoch instead
        (loss, metrics, time). ``False`` prints nothing.
    rng : numpy.random.Generator or int, optional
        Drives shuffling, augmentation and input noise; default the library
        generator (``rb.seed``).
    resume_from : str or os.PathLike, optional
        A :class:`~rosenblatt.training.callbacks.Checkpoint` file: load the
        weights, optimizer state, RNG states, History and callback states and
        continue with the next epoch. If the file does not exist, training
        starts from scratch (so the same call starts and resumes a run). A
        checkpoint of a run that stopped early (``EarlyStopping``) ends it: the
        same call then returns its History at once, training nothing more. A
        divergence after a resume puts back the same best epoch as the
        uninterrupted run (the checkpoint stores its weights). Saved callback
        states go to this run's callbacks of the same kind (class, and
        ``monitor`` if it has one), in order within a kind: a callback added on
        the resume (an ``EarlyStopping``, say) starts fresh, a saved state with
        no callback of its kind is dropped with a warning, and a kind with a
        state given a different number of times than saved (which state goes
        where is ambiguous) is a FormatError.
    clip_norm, clip_value : float, optional
        Clip the gradient (global L2 norm, or each component) before every step.
    tbptt : int, optional
        Truncated backpropagation through time: ``X`` and ``y`` are ``(batch, time, ...)``
        streams, the model is called as ``model(x, state) -> (output, state)``, and each
        update covers the next ``tbptt`` steps with the state carried over, detached
        (:func:`rosenblatt.training.tbptt.tbptt_fit`; uses ``loss``, ``optimizer``,
        ``epochs`` and ``clip_norm`` only: ``progress`` is accepted but nothing is
        shown; any other option given, other than its default, is a ValueError,
        and so are ``y=None`` and a model carrying its
        own ``model.regularizers``, which tbptt does not apply). ``X`` and ``y``
        are checked for NaN/inf and the optimizer as without it; the model
        trains in training mode; a NaN/inf chunk loss raises
        :class:`DivergenceError`.
    adversarial : rb.adversarial.FGSM or PGD, optional
        Adversarial training (notes: "Adversarial examples"): every step
        minimises ``alpha J(x) + (1 - alpha) J(x_adv)``, ``x_adv`` made against
        the current weights (:mod:`rosenblatt.training.adversarial`). ``X`` must
        lie in the attack's ``clip`` range (checked once, before training):
        ``clip=None`` for standardised inputs.
    divergence_factor : float or None, default 1e4
        Stop with :class:`DivergenceError` when a batch's loss exceeds this
        factor times a reference: the best loss seen so far, floored at 1e-3
        of the first batch's loss (so a loss that reached ~0 does not make
        every later batch look divergent) and at 1e-3 of the loss's natural
        scale (so a run that *starts* near 0, a confident model being
        fine-tuned, does not count an ordinary loss as growth): 1e-3 for the
        classification losses (about log 2 or 1 at chance), 1e-3 times the
        mean squared target for ``"mse"``
        (:func:`~rosenblatt.training.trainer.scale_floor`). A real blow-up
        still stops training: with the default factor, cross-entropy past
        10 (a probability of the true class under 5e-5). ``None``: only a
        NaN/inf loss stops training.
        An objective that takes a negative value has no such scale: the growth
        check is then off for the rest of the run.

    distributed : {None, "mpi"} or rb.distributed.DataParallel, optional
        Data-parallel training over MPI (:mod:`rosenblatt.training.distributed`):
        run the same script on every rank (``mpirun -n 2 python train.py``);
        each rank computes the gradient on its shard of every ``batch_size``
        batch, one Allreduce averages it, and the ranks stay identical. Only
        rank 0 writes checkpoints and shows progress. Needs mpi4py
        (``pip install 'rosenblatt[mpi]'``).
        ``"threads"`` (or an ``rb.distributed.ThreadParallel``): data-parallel
        training over two threads of this process, no MPI: each thread runs
        the forward and backward pass of half of every batch on its own core
        (NumPy's BLAS at one thread per call meanwhile), the two gradients are
        added and the optimizer steps once; the weights follow the one-thread
        run up to the order of floating-point additions (dropout and RReLU
        too: the whole batch's numbers are drawn once, in forward order, and
        each thread takes its rows; a weighted mean loss, ``cross_entropy``
        with ``weight`` or ``ignore_index``, given as a ``functools.partial``,
        is split by its weights), so a seeded run is reproducible. Other draws
        from the library generator in forward (the functional ``dropout``) are
        reproducible but not one thread's (each thread draws its own). Not with
        batch normalization (also a recurrent layer's ``batch_norm=True``; over MPI
        both are synchronised), ``adversarial`` or an annealer. Measured on two cores:
        slower than the default (OpenBLAS splitting each product) when both
        cores are free, faster when other programs share them
        (``benchmarks/README.md``).

    Returns
    -------
    History

    Raises
    ------
    ValueError
        NaN/inf in ``X``, ``y`` or the validation data; mismatched lengths;
        bad arguments.
    DivergenceError
        When the loss becomes NaN or infinite or grows past
        ``divergence_factor``; it names the epoch, batch and loss. The model
        keeps the weights of the best epoch so far (lowest training loss), or,
        within the first epoch, those that gave the lowest batch loss so far.

    Notes
    -----
    Inside the loop NumPy's floating-point warnings are silenced: the loop
    checks every batch's loss itself and stops with :class:`DivergenceError`.
    ``X`` and float ``y`` are converted once to the parameters' dtype. Integer
    ``X`` reaches the model as a float32 Tensor, or, when it holds integers
    float32 cannot represent (beyond 2**24: token ids of a large vocabulary),
    as the integer batch itself, which an ``Embedding`` reads exactly.

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
    # iterables are read once here: the checks below and the training use the same lists
    # (a generator would be used up by the first look at it)
    if metrics is not None and not isinstance(metrics, str) and not callable(metrics):
        metrics = _listed(metrics, "metrics")
    if isinstance(callbacks, Callback):  # one callback, as one regularizer or metric
        callbacks = [callbacks]
    elif callbacks is not None:
        callbacks = _listed(callbacks, "callbacks")
    shuffle = boolean("fit", "shuffle", shuffle)
    progress = boolean("fit", "progress", progress)
    if tbptt is not None:  # long sequences in chunks, the state carried across them
        from .tbptt import tbptt_fit

        # named as fit's caller passed them (tbptt_fit calls them k and epochs >= 0 too)
        tbptt = _positive_int(tbptt, "tbptt")
        epochs = _positive_int(epochs, "epochs", allow_zero=True)

        # every option tbptt does not use, given (other than its default), is refused
        unused = [name for name, value in (
            ("curriculum", curriculum), ("validation_data", validation_data),
            ("regularizers", regularizers), ("callbacks", callbacks), ("augment", augment),
            ("resume_from", resume_from), ("clip_value", clip_value),
            ("adversarial", adversarial), ("distributed", distributed),
            ("metrics", None if _default_metrics(metrics) else metrics),
            ("batch_size", None if _is_value(batch_size, 32) else batch_size),
            ("shuffle", None if shuffle is True else shuffle), ("rng", rng),
            ("divergence_factor", None if _is_value(divergence_factor, 1e4)
             else divergence_factor))
            if value is not None and not (isinstance(value, (tuple, list)) and len(value) == 0)]
        if unused:
            raise ValueError(f"fit: with tbptt, only loss, optimizer, epochs and clip_norm apply; "
                             f"got {', '.join(unused)} too")
        if y is None:
            raise ValueError("fit: with tbptt, y (the targets, aligned with X: (batch, time, "
                             "...)) is required; y=None (the inputs as targets) is not "
                             "supported with tbptt: pass y=X to reconstruct the inputs")
        if regs_module.collect(model, ()):
            raise ValueError("fit: with tbptt the model's own regularizers (model.regularizers) "
                             "are not applied (tbptt_fit adds no penalty and no after_step); "
                             "train without tbptt, or remove them from model.regularizers")
        X = _as_array(X, "X")
        _check_finite(X, "X")
        y = _as_array(y, "y")
        _check_finite(y, "y")
        # (tbptt_fit checks that the optimizer holds the model's parameters, as below)
        # training mode, frozen batch norm held, as the Trainer does; modes restored after
        modes = [(m, m.training) for m in model.modules()]
        model.train()
        hold_frozen_normalization(model)
        try:
            return tbptt_fit(model, X, y, k=tbptt, loss=loss, optimizer=optimizer,
                             epochs=epochs, clip_norm=clip_norm)
        finally:
            for m, mode in modes:
                m.training = mode
    _check_closure_optimizer(optimizer, clip_norm, clip_value, callbacks)
    _check_optimizer_owns_model(optimizer, model)
    epochs = _positive_int(epochs, "epochs", allow_zero=True)
    divergence_factor = _divergence_factor(divergence_factor)
    batch_size = _positive_int(batch_size, "batch_size")
    dtype = _param_dtype(model)
    # over MPI the ranks split the pass that checks the data for NaN and inf (after the
    # DataParallel exists, below); one process, or threads, checks it here
    over_mpi = distributed is not None and not (
        isinstance(distributed, str) and distributed == "threads"
        or type(distributed).__name__ == "ThreadParallel")
    given = [(name, _as_array(a, name)) for name, a in (("X", X), ("y", y)) if a is not None]
    X = _as_data(given[0][1], "X", dtype, check=not over_mpi)
    y = None if y is None else _as_data(given[1][1], "y", dtype, check=not over_mpi)
    _check_examples(X, y, "fit")
    _check_single_output(model, X)  # (output, state) trains with tbptt=
    validation, val_plan = None, ()
    if validation_data is not None:
        Xv, yv = _validation_pair(validation_data, y is not None)
        Xv = _as_data(Xv, "validation X", dtype)
        yv = None if yv is None else _as_data(yv, "validation y", dtype)
        _check_examples(Xv, yv, "fit", "validation X", empty=(
            f"fit: validation_data holds no examples (validation X has shape {Xv.shape}); "
            f"leave validation_data out, or give some examples"))
        validation = (Xv, yv)
    loss_fn, loss_name = _resolve_loss(loss)
    # labels as whole-number floats (2.0) become integers: weighed by their classes in a
    # weighted mean loss (cross_entropy with weight), as integer labels are
    y = _integer_labels(model, X, y, loss_name)
    if validation is not None and validation[1] is not None:
        validation = (validation[0], _integer_labels(model, *validation, loss_name))
    ignore_index = _ignore_index(loss)  # its labels count in neither the loss nor accuracy
    plan = _metric_plan(metrics, y, loss_name, ignore_index=ignore_index)
    if validation is not None:  # scored by the training targets' decision rule
        val_plan = _metric_plan(metrics, validation[1], loss_name, reference=y,
                                ignore_index=ignore_index)
    regs = regs_module.collect(model, regularizers)
    callbacks = list(callbacks or ())
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"fit: callbacks must be rb.callbacks.Callback objects; got "
                            f"{type(cb).__name__}")
    if augment is not None and not callable(augment):
        raise TypeError(f"fit: augment must be a callable fn(x, rng); got {type(augment).__name__}")
    if augment is not None and _takes_one_argument(augment):
        augment = _with_rng(augment)
    if curriculum is not None and not isinstance(curriculum, Curriculum):
        scores = curriculum(X, y) if callable(curriculum) else curriculum
        curriculum = Curriculum(scores)
    if curriculum is not None and len(curriculum) != len(X):
        raise ValueError(f"fit: the curriculum scores {len(curriculum)} examples; X has {len(X)}")
    if adversarial is not None and (distributed == "threads" or type(distributed).__name__
                                    == "ThreadParallel"):
        raise ValueError("fit: adversarial training over threads (distributed='threads') is "
                         "not supported: the attack runs the whole model; train it on one "
                         "thread or over MPI")
    if adversarial is not None and not callable(getattr(adversarial, "objective", None)):
        raise TypeError(f"fit: adversarial must be rb.adversarial.FGSM(...) or PGD(...); got "
                        f"{type(adversarial).__name__}")
    if adversarial is not None and callable(getattr(adversarial, "check_data", None)):
        adversarial.check_data(X)  # once, not per batch: X inside the attack's clip range
    _check_labels(model, X, y, loss_name, ignore_index=ignore_index)
    _check_unit_targets(X if y is None else y, loss_name, "X" if y is None else "y")
    _check_count_metrics(model, X, y, plan, loss_name)
    last_batch_error = None
    if distributed is None or over_mpi:
        try:  # (in evaluation mode: no collective call of batch norm)
            _check_last_batch(model, X, batch_size, curriculum, epochs)
        except ValueError as e:
            if not over_mpi:
                raise
            # over MPI batch_size is the global batch and every rank holds all of X, so
            # every rank finds it; raised below through agree(), so that a rank given other
            # data, which finds nothing, is not left waiting in a collective
            last_batch_error = e
    if validation is not None:
        _check_validation_shape(model, X, validation[0])
        if validation[1] is None:  # an autoencoder's validation targets are its inputs
            _check_unit_targets(validation[0], loss_name, "validation X")
        else:
            _check_labels(model, validation[0], validation[1], loss_name, "validation y",
                          ignore_index=ignore_index)
            _check_unit_targets(validation[1], loss_name, "validation y")
            _check_validation_targets(model, X if y is None else y, validation, loss_fn,
                                      loss_name)
    data_parallel = None
    if distributed is not None:  # data-parallel over MPI: rank 0 alone shows progress
        from .distributed import for_fit

        data_parallel = for_fit(distributed, model, optimizer)
        progress = progress and data_parallel.is_root
    error = None
    if over_mpi:  # ranks given different data may disagree: agree on it below
        try:
            for name, array in given:
                _check_finite(array, name, data_parallel)
        except ValueError as e:
            error = e
        error = error or last_batch_error
    if (data_parallel is None or data_parallel.is_root) and error is None:  # rank 0 writes
        try:
            _check_checkpoints(callbacks)
        except ValueError as e:
            error = e
    if resume_from is not None and over_mpi:  # on every rank or on none
        found = os.path.exists(os.fspath(resume_from))
        where = data_parallel.sum([float(found)])[0]
        if 0 < where < data_parallel.size and not found and error is None:
            error = ValueError(f"fit: resume_from {os.fspath(resume_from)!r} exists on "
                               f"{int(where)} of the {data_parallel.size} ranks but not on "
                               f"rank {data_parallel.rank}; put it where every rank can read "
                               f"it (a shared folder), or remove it to start afresh")
    try:
        if over_mpi:  # one rank's error is every rank's, before anything else collective
            data_parallel.agree(error)
        elif error is not None:
            raise error
    except Exception:
        if data_parallel is not None and data_parallel is not distributed:
            data_parallel.close()
        raise
    progress_bar = ProgressBar(epochs, 1) if progress else None
    if progress_bar is not None and not progress_bar.enabled:  # not a terminal: a log line
        progress_bar = EpochLines(epochs)
    try:  # on every way out, the DataParallel fit made is closed or let go
        trainer = Trainer(model, optimizer, X=X, y=y, loss_fn=loss_fn, loss_name=loss_name,
                          plan=plan, batch_size=batch_size, shuffle=shuffle, curriculum=curriculum,
                          validation=validation, val_plan=val_plan, regularizers=regs,
                          callbacks=callbacks, augment=augment, rng=rng, clip_norm=clip_norm,
                          clip_value=clip_value, progress=progress_bar, adversarial=adversarial,
                          divergence_factor=divergence_factor, data_parallel=data_parallel)
        if resume_from is not None and os.path.exists(os.fspath(resume_from)):
            _resume(trainer, resume_from, data_parallel if over_mpi else None)
        history = trainer.run(epochs)
    except BaseException as e:
        if data_parallel is not None and data_parallel is not distributed:
            if (not over_mpi or isinstance(e, DivergenceError)
                    or data_parallel.raised_on_every_rank(e)):
                data_parallel.close()  # every rank stopped here (or threads): close together
            else:  # this rank alone (maybe): put the layers back without a collective,
                data_parallel.abandon(e)  # and the others' next meeting raises e
        elif (over_mpi and not isinstance(e, DivergenceError)
              and not data_parallel.raised_on_every_rank(e)):
            data_parallel.abandon(e)  # the caller's DataParallel: tell the others too
        raise
    finally:
        if progress_bar is not None:
            progress_bar.close()
    if data_parallel is not None and data_parallel is not distributed:
        data_parallel.close()  # the one fit made: free its shared buffers (a collective)
    return history
