"""Metrics: how good a model's predictions are (notes: "Training neural networks").

Three kinds of tool live here.

- **Score functions**, in scikit-learn's argument order ``(y_true, y_pred)`` (or
  ``y_score`` / ``y_prob``) and with its edge-case conventions, each exact on the
  whole arrays given: :func:`confusion_matrix`, :func:`precision`, :func:`recall`,
  :func:`f1` (binary, macro, micro, weighted; of class labels or of multi-label
  0/1 matrices), :func:`roc_auc`, :func:`log_loss`,
  :func:`r2`, :func:`top_k_accuracy`. Use them on ``rb.training.predict(model, X)``.
- **Training-loop metrics**, ``fn(pred, target) -> (total, count)``, the form
  ``rb.fit(..., metrics=[...])`` takes: summed over an epoch's batches and divided
  at the end, so per-epoch values are exact averages over examples whatever the
  batch sizes. By name: ``"accuracy"`` (``"acc"``), ``"mae"``, ``"mse"``, and
  ``"precision"``, ``"recall"``, ``"f1"`` for binary outputs (one column, or two
  softmax columns with class 1 positive) and for independent outputs (multi-label,
  the micro average): each is a ratio of counts (``f1 = 2 tp / (2 tp + fp + fn)``),
  so summing the batches' counts gives the epoch's exact value; ``top_k(k)`` for
  top-k accuracy.
- Scores that are not a ratio of sums (ROC AUC, macro/weighted F1 over several
  classes, R^2) cannot be built from per-batch means: :class:`EpochScore` is a
  callback that computes one on whole predictions after every epoch
  (``rb.fit(..., callbacks=[EpochScore("roc_auc")])`` records ``val_roc_auc``).

:func:`plan` binds what a metric needs to know about the whole data set (the
output threshold of the loss, whether targets are -1/+1, whether the outputs are
independent), once, from all of ``y``: deciding it per batch would make the
same prediction score differently depending on its batch companions.
"""

import numpy as np

from .callbacks import Callback

#: Losses whose single-column outputs are logits or +-1 scores (threshold 0, not 0.5).
LOGIT_LOSSES = ("binary_cross_entropy_with_logits", "log_loss", "hinge")
#: Losses that take class labels.
CLASSIFICATION_LOSSES = ("cross_entropy", "nll", "max_margin", "binary_cross_entropy",
                         *LOGIT_LOSSES)
#: Losses whose output columns are independent binary decisions (multi-label when several).
BINARY_LOSSES = ("binary_cross_entropy", *LOGIT_LOSSES)
#: Losses whose targets are values of the outputs (one output: 0/1 or -1/+1 to decide on).
VALUE_LOSSES = ("mse", *BINARY_LOSSES)
#: Losses that take class labels against softmax-like outputs (arg-max decides).
LABEL_LOSSES = ("cross_entropy", "nll", "max_margin")


# -- training-loop metrics: fn(pred, target) -> (total, count) ----------------------------------
def accuracy(pred, target, threshold=0.5, signed=None, multilabel=False):
    """Number of correct predictions and number of examples (or of entries).

    Several output columns: the arg-max against integer labels (or the arg-max
    of one-hot targets); with ``multilabel``, every entry on its own as below
    (the count is the number of entries). One column: ``pred > threshold``
    against targets in {0, 1}, or ``pred > 0`` against targets in {-1, +1}
    (an output of exactly 0 is the negative class, as for precision and recall).

    Parameters
    ----------
    pred : array_like, shape (batch, n_outputs) or (batch,)
    target : array_like
        Labels (batch,), one-hot or multi-hot rows, or one value per output.
    threshold : float, default 0.5
        Where a single output says class 1 (0 for logits and +-1 scores).
    signed : bool, optional
        Targets are -1/+1 (True) or 0/1 (False). Decide it from the whole data
        set (:func:`plan` does); None guesses from this batch's targets, which
        makes the score depend on the batch.
    multilabel : bool, default False
        The columns are independent binary outputs (sigmoid / logits with a
        binary loss), not one softmax over classes.
    """
    pred = np.asarray(pred)
    target = np.asarray(target)
    if pred.ndim >= 2 and pred.shape[-1] > 1 and not multilabel:
        guess = pred.argmax(axis=-1)
        truth = target.argmax(axis=-1) if target.shape == pred.shape else target
        return int(np.sum(guess == truth.reshape(guess.shape))), guess.size
    p = pred.reshape(-1)
    t = target.reshape(-1)
    if signed is None:
        signed = bool(t.size and t.min() < 0)
    if signed:
        return int(np.sum((p > 0) == (t > 0))), t.size
    return int(np.sum((p > threshold) == (t > 0.5))), t.size


def mae(pred, target):
    """Sum of absolute errors and the number of values."""
    diff = np.asarray(pred) - np.asarray(target).reshape(np.shape(pred))
    return float(np.abs(diff).sum()), diff.size


def mse(pred, target):
    """Sum of squared errors and the number of values."""
    diff = np.asarray(pred) - np.asarray(target).reshape(np.shape(pred))
    return float(np.square(diff).sum()), diff.size


def _positives(pred, target, threshold, signed, multilabel, name):
    """Predicted and true 'positive' of each example (or entry), as two bool arrays."""
    pred = np.asarray(pred)
    target = np.asarray(target)
    if pred.ndim >= 2 and pred.shape[-1] > 1 and not multilabel:
        if pred.shape[-1] != 2:
            raise ValueError(
                f"{name}: outputs of {pred.shape[-1]} classes; rb.fit sums per-batch counts, "
                f"which gives the binary {name} (one output, or two with class 1 positive) or "
                f"the micro average of independent outputs, not an average over classes; after "
                f"training use rb.training.metrics.{name}(y, "
                f"rb.training.predict(model, X).argmax(1), average='macro')")
        guess = pred.argmax(axis=-1)
        truth = target.argmax(axis=-1) if target.shape == pred.shape else target
        return guess == 1, truth.reshape(guess.shape) == 1
    p = pred.reshape(-1)
    t = target.reshape(-1)
    if signed is None:
        signed = bool(t.size and t.min() < 0)
    if signed:
        return p > 0, t > 0
    if threshold is None:  # guessing 0.5 would be silently wrong for logits
        raise ValueError(f"{name}: where a single output says class 1 depends on the loss (0 for "
                         f"logits and +-1 scores, 0.5 for probabilities); use it through rb.fit "
                         f"or rb.training.evaluate (metrics.plan binds it), or give threshold=")
    return p > threshold, t > 0.5


def _counts(pred, target, threshold, signed, multilabel, name):
    guess, truth = _positives(pred, target, threshold, signed, multilabel, name)
    tp = int(np.sum(guess & truth))
    return tp, int(np.sum(guess & ~truth)), int(np.sum(~guess & truth))


def batch_precision(pred, target, threshold=None, signed=None, multilabel=False):
    """``(tp, tp + fp)``: summed over batches, their ratio is the precision (0 if no positive
    prediction, as scikit-learn's ``zero_division=0``).

    Arguments as :func:`accuracy`, except that ``threshold`` has no default: a
    single output's threshold depends on the loss, and :func:`plan` binds it.
    """
    tp, fp, _ = _counts(pred, target, threshold, signed, multilabel, "precision")
    return tp, tp + fp


def batch_recall(pred, target, threshold=None, signed=None, multilabel=False):
    """``(tp, tp + fn)``: summed over batches, their ratio is the recall. Arguments as
    :func:`batch_precision`."""
    tp, _, fn = _counts(pred, target, threshold, signed, multilabel, "recall")
    return tp, tp + fn


def batch_f1(pred, target, threshold=None, signed=None, multilabel=False):
    """``(2 tp, 2 tp + fp + fn)``: summed over batches, their ratio is F1 (the harmonic mean of
    precision and recall). Arguments as :func:`batch_precision`."""
    tp, fp, fn = _counts(pred, target, threshold, signed, multilabel, "f1")
    return 2 * tp, 2 * tp + fp + fn


def top_k(k):
    """A training-loop metric: the true class among the ``k`` largest outputs.

    ``rb.fit(..., metrics=["accuracy", top_k(5)])`` reports ``top5_accuracy``;
    ties ranked as :func:`top_k_accuracy` ranks them.

    Parameters
    ----------
    k : int
        A positive integer.

    Returns
    -------
    callable ``fn(pred, target) -> (hits, count)``, for outputs (batch, n_classes)
    and labels (batch,) or one-hot rows.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"top_k: k must be a positive integer; got {k!r}")

    def metric(pred, target):
        pred = np.asarray(pred)
        target = np.asarray(target)
        if pred.ndim != 2:
            raise ValueError(f"top{k}_accuracy: needs outputs of shape (batch, n_classes); got "
                             f"{pred.shape}")
        truth = target.argmax(axis=-1) if target.shape == pred.shape else target.reshape(-1)
        ranked = np.argsort(pred, axis=1, kind="stable")[:, ::-1][:, :k]
        return int(np.sum(np.any(ranked == truth[:, None], axis=1))), len(pred)

    metric.__name__ = f"top{k}_accuracy"
    metric.reads_labels = True  # plan drops the labels a loss ignores (ignore_index)
    return metric


METRICS = {"accuracy": accuracy, "acc": accuracy, "mae": mae, "mse": mse,
           "precision": batch_precision, "recall": batch_recall, "f1": batch_f1}
#: Metrics that turn outputs into class decisions (bound to the threshold by :func:`plan`).
DECISION_METRICS = (accuracy, batch_precision, batch_recall, batch_f1)


def resolve(metrics, owner="fit"):
    """Names/callables (or one name, or one callable) -> list of (name, fn)."""
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    out = []
    for m in metrics or ():
        if isinstance(m, str):
            if m not in METRICS:
                raise ValueError(f"{owner}: unknown metric {m!r}; known: {sorted(METRICS)} "
                                 f"(or pass a callable fn(pred, target) -> (total, count))")
            out.append(("accuracy" if m == "acc" else m, METRICS[m]))
        elif callable(m):
            out.append((getattr(m, "__name__", "metric"), m))
        else:
            raise TypeError(f"{owner}: a metric must be a name or a callable; got "
                            f"{type(m).__name__}")
    return out


def _bind(fn, threshold, signed, multilabel):
    def metric(pred, target):
        return fn(pred, target, threshold, signed, multilabel)
    metric.__name__ = fn.__name__
    return metric


def _skip_ignored(fn, ignore_index):
    """``fn`` scored on the positions whose label is not ``ignore_index`` (the loss's: they
    count in neither hits nor count, as they count nowhere in the loss). Labels shaped as
    the outputs without their class axis only; one comparison per batch."""
    def metric(pred, target):
        pred, target = np.asarray(pred), np.asarray(target)
        if target.shape == pred.shape[:-1]:
            kept = target != ignore_index
            if not kept.all():
                pred, target = pred[kept], target[kept]
        return fn(pred, target)
    metric.__name__ = fn.__name__
    return metric


def plan(metrics, y, loss_name, owner="fit", reference=None, ignore_index=None):
    """The metrics ``rb.fit``/``evaluate`` compute for targets ``y`` and the loss ``loss_name``.

    Returns a list of ``(name, fn(pred, target) -> (total, count))``. Accuracy,
    precision, recall and F1 are kept only for classification (integer or bool
    ``y``, or a classification loss) and bound, from the whole ``y``, to the
    loss's threshold (0 for logits and +-1 scores, else 0.5), to the target
    encoding (-1/+1 when ``y`` has a negative value) and, for binary losses, to
    independent outputs (every column thresholded: multi-label). For ``"mse"``
    or a binary loss, one integer target per example with more than two values
    (counts, ratings: 0, 1, 2) is regression, not a two-class decision: the decision
    metrics are left out, as for float targets. Error metrics (mae, mse)
    against class labels of a softmax loss are a ValueError.

    ``reference`` (targets, optional): the data set whose targets bind the
    encoding and the decision rule, default ``y``. ``rb.fit`` passes the
    training targets for the validation metrics, so that a validation set
    holding one class only (no -1, say) is scored by the training set's rule;
    :func:`~rosenblatt.training.evaluate` binds them from the ``y`` it is given.

    ``ignore_index`` (the loss's, ``cross_entropy(ignore_index=-100)``): labels
    equal to it are left out of the decision metrics and ``top_k`` (of both
    the hits and the count), as the loss leaves them out.
    """
    resolved = resolve(metrics, owner)
    basis = y if reference is None or y is None else reference
    if ignore_index is not None and basis is not None:  # the rule from the counted labels
        basis = basis[basis != ignore_index]
    # (whole-number floats, 2.0, are class labels for these losses too, as fit reads them)
    labels = (y is not None and y.ndim == 1 and y.dtype.kind in "iubf"
              and loss_name in LABEL_LOSSES)
    for name, fn in resolved:
        if labels and fn in (mae, mse):
            raise ValueError(f"{owner}: metric {name!r} compares outputs with targets of the same "
                             f"shape, but y holds class labels for loss {loss_name!r}; use "
                             f"'accuracy'")
    classification = basis is not None and (
        basis.dtype.kind in "iub" or loss_name in CLASSIFICATION_LOSSES)
    if (classification and loss_name in VALUE_LOSSES and basis.dtype.kind in "iu"
            and basis.size and basis.reshape(len(basis), -1).shape[1] == 1
            and np.unique(basis).size > 2):  # 0, 1, 2 ...: no two-class decision to score
        classification = False
    threshold = 0.0 if loss_name in LOGIT_LOSSES else 0.5
    signed = bool(basis is not None and basis.size and basis.dtype.kind in "if"
                  and basis.min() < 0)
    multilabel = loss_name in BINARY_LOSSES
    out = []
    for name, fn in resolved:
        if fn in DECISION_METRICS:
            if classification:  # class decisions mean nothing for regression or reconstruction
                bound = _bind(fn, threshold, signed, multilabel)
                out.append((name, bound if ignore_index is None
                            else _skip_ignored(bound, ignore_index)))
        elif y is not None or fn in (mae, mse):
            labelled = ignore_index is not None and getattr(fn, "reads_labels", False)
            out.append((name, _skip_ignored(fn, ignore_index) if labelled else fn))
    return out


# -- score functions: scikit-learn's order (y_true, y_pred) --------------------------------------
def _vector(values, name, where):
    values = np.asarray(values)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"{where}: {name} must be one value per sample, shape (n,); got shape "
                         f"{values.shape}")
    return values


def _pair(y_true, y_pred, where, pred_name="y_pred"):
    y_true = _vector(y_true, "y_true", where)
    y_pred = _vector(y_pred, pred_name, where)
    if len(y_true) != len(y_pred):
        raise ValueError(f"{where}: y_true has {len(y_true)} samples but {pred_name} has "
                         f"{len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError(f"{where}: no samples (y_true and {pred_name} are empty)")
    return y_true, y_pred


def _label_kinds(values):
    """{'number'}, {'string'} or both: the types of class labels."""
    if values.dtype.kind in "US":
        return {"string"}
    if values.dtype.kind != "O":
        return {"number"}
    # an object array (rare) has no dtype to tell: look at its elements
    is_str = np.fromiter((isinstance(v, str) for v in values.reshape(-1)), bool, values.size)
    return {"string"} if is_str.all() else {"number"} if not is_str.any() else {"string", "number"}


def _label_pair(y_true, y_pred, where):
    """Two vectors of class labels, refused (as scikit-learn does) when a label is NaN or
    infinite or when numbers and strings are mixed: such samples would silently match no class."""
    y_true, y_pred = _pair(y_true, y_pred, where)
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values.dtype.kind in "fc" and not np.all(np.isfinite(values)):
            raise ValueError(f"{where}: {name} contains NaN or inf; class labels must be finite "
                             f"(drop or impute those samples first)")
    if len(_label_kinds(y_true) | _label_kinds(y_pred)) > 1:
        raise ValueError(f"{where}: y_true and y_pred hold a mix of numbers and strings "
                         f"({y_true[:3].tolist()}... and {y_pred[:3].tolist()}...), which never "
                         f"match; give both labels of the same type")
    return y_true, y_pred


def _label_index(labels, values):
    """Where each of ``values`` sits in ``labels``, and whether it is one of them."""
    order = np.argsort(labels, kind="stable")
    ranked = labels[order]
    pos = np.clip(np.searchsorted(ranked, values), 0, len(labels) - 1)
    return order[pos], ranked[pos] == values


def _check_labels(labels, where, y_true, y_pred):
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"{where}: labels must be a non-empty list of classes; got "
                         f"{labels.tolist()!r}")
    if len(np.unique(labels)) != len(labels):  # each class is one row/column
        raise ValueError(f"{where}: labels must not repeat a class; got {labels.tolist()!r}")
    # strings for number labels (or numbers for strings) would match no sample: all zeros
    if _label_kinds(labels) != _label_kinds(y_true) | _label_kinds(y_pred):
        raise ValueError(f"{where}: labels {labels[:3].tolist()}... and the class labels "
                         f"({y_true[:3].tolist()}...) are a mix of numbers and strings, which "
                         f"never match; give labels of the same type as y_true")


def confusion_matrix(y_true, y_pred, labels=None):
    """Counts of (true class, predicted class) pairs: ``C[i, j]`` samples of class
    ``labels[i]`` predicted as ``labels[j]``.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (n,)
        Class labels (any sortable values).
    labels : array_like, optional
        The classes, in the order of the rows and columns; samples of other
        classes are left out. Default: every label in ``y_true`` or ``y_pred``,
        sorted.

    Returns
    -------
    ndarray of int64, shape (n_labels, n_labels)

    Raises
    ------
    ValueError
        For no samples, a NaN or infinite label, numbers in one of ``y_true``,
        ``y_pred`` and ``labels`` and strings in another, or ``labels`` of which
        none occurs in ``y_true`` (as scikit-learn).

    Examples
    --------
    >>> from rosenblatt.training.metrics import confusion_matrix
    >>> confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2]).tolist()
    [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    """
    y_true, y_pred = _label_pair(y_true, y_pred, "confusion_matrix")
    labels = np.unique(np.concatenate([y_true, y_pred])) if labels is None else np.asarray(labels)
    _check_labels(labels, "confusion_matrix", y_true, y_pred)
    k = len(labels)
    ti, t_ok = _label_index(labels, y_true)
    if not t_ok.any():  # scikit-learn's rule: an all-zero matrix is a mistake, not a result
        raise ValueError(f"confusion_matrix: none of labels {labels[:5].tolist()} occurs in "
                         f"y_true ({np.unique(y_true)[:5].tolist()}...); at least one must")
    pi, p_ok = _label_index(labels, y_pred)
    keep = t_ok & p_ok
    flat = np.bincount(ti[keep] * k + pi[keep], minlength=k * k)
    return flat.reshape(k, k).astype(np.int64)


_AVERAGES = ("binary", "macro", "micro", "weighted", None)


def _indicator_counts(y_true, y_pred, average, labels, where):
    """(tp, predicted, actual) per label of multi-label targets, (n, n_labels) 0/1 matrices."""
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{where}: y_true has shape {y_true.shape} but y_pred has shape "
                         f"{y_pred.shape}; multi-label targets are two 0/1 matrices "
                         f"(n, n_labels) of the same shape")
    n, n_labels = y_true.shape
    if average == "binary":
        raise ValueError(f"{where}: multi-label targets ({n_labels} columns) are scored label "
                         f"by label; average='binary' needs one positive class: use "
                         f"average='macro', 'micro', 'weighted' or None")
    if n == 0:
        raise ValueError(f"{where}: no samples (y_true and y_pred are empty)")
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.all(np.isin(values, (0, 1))):
            raise ValueError(f"{where}: {name} of shape {values.shape} must be a 0/1 indicator "
                             f"matrix (multi-label targets; threshold scores first) or one "
                             f"label per sample")
    truth, guess = y_true.astype(bool), y_pred.astype(bool)
    if labels is not None:
        labels = np.asarray(labels)
        if (labels.ndim != 1 or labels.size == 0 or labels.dtype.kind not in "iu"
                or labels.min() < 0 or labels.max() >= n_labels):
            raise ValueError(f"{where}: for multi-label targets labels must be column indices "
                             f"in 0 to {n_labels - 1}; got {labels.tolist()!r}")
        if len(np.unique(labels)) != len(labels):
            raise ValueError(f"{where}: labels must not repeat a class (column); got "
                             f"{labels.tolist()!r}")
        truth, guess = truth[:, labels], guess[:, labels]
    return (truth & guess).sum(axis=0), guess.sum(axis=0), truth.sum(axis=0)


def _class_counts(y_true, y_pred, average, labels, pos_label, where):
    """(tp, predicted, actual) per class (or for the positive class / summed for micro)."""
    if average not in _AVERAGES:
        raise ValueError(f"{where}: average must be one of {_AVERAGES}; got {average!r}")
    a_true, a_pred = np.asarray(y_true), np.asarray(y_pred)
    if any(a.ndim == 2 and a.shape[1] > 1 for a in (a_true, a_pred)):
        tp, predicted, actual = _indicator_counts(a_true, a_pred, average, labels, where)
    else:
        tp, predicted, actual = _label_counts(a_true, a_pred, average, labels, pos_label, where)
    if average == "micro":
        return tp.sum(keepdims=True), predicted.sum(keepdims=True), actual.sum(keepdims=True)
    return tp, predicted, actual


def _label_counts(y_true, y_pred, average, labels, pos_label, where):
    """(tp, predicted, actual) per class of ``labels``, counted over every sample: one whose
    other side lies outside ``labels`` is still a false positive or negative (scikit-learn)."""
    y_true, y_pred = _label_pair(y_true, y_pred, where)
    if average == "binary":
        present = np.unique(np.concatenate([y_true, y_pred]))
        if len(present) > 2:
            raise ValueError(f"{where}: average='binary' needs two classes; got "
                             f"{len(present)} ({present[:5].tolist()}...); use average='macro', "
                             f"'micro' or 'weighted'")
        if len(present) == 2 and pos_label not in present.tolist():
            raise ValueError(f"{where}: pos_label={pos_label!r} is not one of the classes "
                             f"{present.tolist()}; give pos_label")
        guess, truth = y_pred == pos_label, y_true == pos_label
        tp = np.array([np.sum(guess & truth)])
        return tp, np.array([np.sum(guess)]), np.array([np.sum(truth)])
    labels = np.unique(np.concatenate([y_true, y_pred])) if labels is None else np.asarray(labels)
    _check_labels(labels, where, y_true, y_pred)
    k = len(labels)
    ti, t_ok = _label_index(labels, y_true)
    pi, p_ok = _label_index(labels, y_pred)
    tp = np.bincount(ti[t_ok & p_ok & (ti == pi)], minlength=k)
    return tp, np.bincount(pi[p_ok], minlength=k), np.bincount(ti[t_ok], minlength=k)


def _ratio(num, den, zero_division):
    num = num.astype(np.float64)
    den = den.astype(np.float64)
    out = np.full(num.shape, float(zero_division))
    np.divide(num, den, out=out, where=den > 0)
    return out


def _average(scores, actual, average):
    if average is None:
        return scores
    # zero_division=nan marks undefined classes, which scikit-learn leaves out of the average
    defined = ~np.isnan(scores)
    if not defined.any():
        return float("nan")
    scores, actual = scores[defined], actual[defined]
    if average == "weighted" and actual.sum() > 0:  # no true sample at all: the plain mean
        return float(np.average(scores, weights=actual))
    return float(scores.mean())  # binary and micro: one value; macro: the plain mean


def _score_doc(what, formula):
    return f"""{what} of class predictions: ``{formula}``.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (n,) or (n, n_labels)
        True and predicted class labels (numbers or strings, finite), or, for
        multi-label targets, two 0/1 indicator matrices scored label by label
        (scikit-learn's multi-label scores).
    average : {{'binary', 'macro', 'micro', 'weighted', None}}, default 'binary'
        ``'binary'``: the class ``pos_label`` only (at most two classes);
        ``'macro'``: the mean over classes; ``'micro'``: from the counts summed
        over classes; ``'weighted'``: the mean weighted by each class's number of
        true samples; None: one value per class.
    labels : array_like, optional
        The classes to score (default: every label present; for multi-label
        targets, column indices, default all). A sample whose other side is
        outside ``labels`` still counts, as a false positive or negative of its
        class in ``labels``; not used by ``'binary'``.
    pos_label : default 1
        The positive class of ``'binary'``.
    zero_division : float, default 0.0
        The value where the ratio is 0/0 (scikit-learn's default, without its
        warning). ``np.nan`` leaves those classes out of the macro and weighted
        means (NaN only when every class is undefined), as scikit-learn.

    Returns
    -------
    float, or ndarray of shape (n_labels,) when ``average`` is None

    Raises
    ------
    ValueError
        For no samples, a NaN or infinite label, numbers in one of ``y_true``,
        ``y_pred`` and ``labels`` and strings in another, or multi-label targets with
        ``average='binary'`` (as scikit-learn).
    """


def precision(y_true, y_pred, average="binary", labels=None, pos_label=1, zero_division=0.0):
    tp, predicted, actual = _class_counts(y_true, y_pred, average, labels, pos_label,
                                          "precision")
    return _average(_ratio(tp, predicted, zero_division), actual, average)


def recall(y_true, y_pred, average="binary", labels=None, pos_label=1, zero_division=0.0):
    tp, predicted, actual = _class_counts(y_true, y_pred, average, labels, pos_label, "recall")
    return _average(_ratio(tp, actual, zero_division), actual, average)


def f1(y_true, y_pred, average="binary", labels=None, pos_label=1, zero_division=0.0):
    tp, predicted, actual = _class_counts(y_true, y_pred, average, labels, pos_label, "f1")
    return _average(_ratio(2 * tp, predicted + actual, zero_division), actual, average)


precision.__doc__ = _score_doc("Precision, the share of predicted positives that are right,",
                               "tp / (tp + fp)") + """
    Examples
    --------
    >>> from rosenblatt.training.metrics import precision
    >>> precision([0, 1, 1, 0], [1, 1, 0, 0])
    0.5
    """
recall.__doc__ = _score_doc("Recall, the share of true positives found,", "tp / (tp + fn)")
f1.__doc__ = _score_doc("F1, the harmonic mean of precision and recall,",
                        "2 tp / (2 tp + fp + fn)")


def _log_odds(scores):
    """The positive class's log-odds (float64) of two columns of probabilities or logits."""
    scores = scores.astype(np.float64)
    if (np.all((scores >= 0) & (scores <= 1))
            and np.allclose(scores.sum(axis=1), 1.0, rtol=0.0, atol=1e-4)):
        with np.errstate(divide="ignore"):  # a probability that underflowed to 0: -inf
            return np.log(scores[:, 1]) - np.log(scores[:, 0])
    return scores[:, 1] - scores[:, 0]


def roc_auc(y_true, y_score):
    """Area under the ROC curve of a binary classifier, from its scores.

    The probability that a random positive scores above a random negative,
    ties counting one half (the Mann-Whitney statistic, computed with mid-ranks:
    O(n log n), no loop).

    Parameters
    ----------
    y_true : array_like, shape (n,)
        Two classes; the larger label is the positive one (scikit-learn's rule).
    y_score : array_like, shape (n,), (n, 1) or (n, 2)
        Scores, probabilities or logits of the positive class; or two columns,
        the two classes' probabilities or logits (a softmax model's outputs, as
        ``rb.training.predict`` returns them), ranked by the log-odds of the
        positive class: ``log(p1) - log(p0)`` for rows of probabilities (all in
        [0, 1], summing to 1), ``z1 - z0`` for logits, in float64. Both order the
        examples as the positive class's probability does, keeping the resolution
        that a probability rounded to 1.0 (in float32, any confident example)
        loses: so the AUC is that of the underlying logits, and equals
        scikit-learn's ``roc_auc_score(y, P[:, 1])`` wherever ``P[:, 1]`` has no
        such rounded ties. (For logits, column 1 alone does not order them.)

    Returns
    -------
    float in [0, 1]

    Raises
    ------
    ValueError
        When ``y_true`` holds only one class (the AUC is undefined) or more than two.

    Examples
    --------
    >>> from rosenblatt.training.metrics import roc_auc
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y_score = np.asarray(y_score)
    odds = y_score.ndim == 2 and y_score.shape[1] == 2
    if odds:  # monotone in softmax(z)[:, 1]
        if not np.all(np.isfinite(y_score)):
            raise ValueError("roc_auc: y_score contains NaN or inf")
        y_score = _log_odds(y_score)
    y_true, y_score = _pair(y_true, y_score, "roc_auc", "y_score")
    classes = np.unique(y_true)
    if len(classes) != 2:
        raise ValueError(f"roc_auc: y_true must hold two classes; got {len(classes)} "
                         f"({classes[:5].tolist()}): the ROC AUC is undefined "
                         f"{'with one class' if len(classes) < 2 else 'for several classes'}")
    if not odds and not np.all(np.isfinite(y_score)):  # (log-odds of p = 0 are -inf: ranked)
        raise ValueError("roc_auc: y_score contains NaN or inf")
    positive = y_true == classes[1]
    values, inverse, counts = np.unique(y_score, return_inverse=True, return_counts=True)
    midrank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based rank, ties averaged
    n_pos = int(positive.sum())
    n_neg = len(y_true) - n_pos
    rank_sum = midrank[inverse.reshape(-1)][positive].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def log_loss(y_true, y_prob, labels=None):
    """Mean negative log-likelihood of the true classes under predicted probabilities.

    Parameters
    ----------
    y_true : array_like, shape (n,)
        Class labels.
    y_prob : array_like, shape (n, n_classes) or (n,)
        Probabilities of the classes ``labels`` (rows summing to 1), or of the
        positive (larger) class of two. Clipped to ``[eps, 1 - eps]`` (``eps`` of
        their dtype), as scikit-learn does, so a confident mistake costs a large
        finite amount.
    labels : array_like, optional
        The classes of the columns (default: the sorted labels of ``y_true``,
        which must then hold every class).

    Returns
    -------
    float

    Examples
    --------
    >>> from rosenblatt.training.metrics import log_loss
    >>> round(log_loss([1, 0], [[0.2, 0.8], [0.9, 0.1]]), 4)
    0.1643
    """
    y_true = _vector(y_true, "y_true", "log_loss")
    if len(y_true) == 0:
        raise ValueError("log_loss: no samples (y_true is empty)")
    y_prob = np.asarray(y_prob)
    y_prob = y_prob.astype(y_prob.dtype if y_prob.dtype.kind == "f" else np.float64)
    if not np.all(np.isfinite(y_prob)):
        raise ValueError("log_loss: y_prob contains NaN or inf")
    labels = np.unique(y_true) if labels is None else np.unique(np.asarray(labels))
    if y_prob.ndim == 1 or (y_prob.ndim == 2 and y_prob.shape[1] == 1):
        p1 = y_prob.reshape(-1)
        y_prob = np.stack([1 - p1, p1], axis=1)
    if y_prob.ndim != 2 or len(y_prob) != len(y_true):
        raise ValueError(f"log_loss: y_prob must have shape ({len(y_true)}, n_classes) or "
                         f"({len(y_true)},); got {y_prob.shape}")
    if len(labels) < 2:
        raise ValueError(f"log_loss: y_true holds one class ({labels.tolist()}); give every "
                         f"class with labels=...")
    if len(labels) != y_prob.shape[1]:
        raise ValueError(f"log_loss: y_prob has {y_prob.shape[1]} columns but there are "
                         f"{len(labels)} classes {labels[:10].tolist()}; give labels=...")
    if y_prob.size and (y_prob.min() < 0 or y_prob.max() > 1):
        raise ValueError(f"log_loss: y_prob must be probabilities in [0, 1]; got values in "
                         f"[{y_prob.min()}, {y_prob.max()}] (apply softmax or sigmoid first)")
    eps = np.finfo(y_prob.dtype).eps
    if not np.allclose(y_prob.sum(axis=1), 1.0, rtol=np.sqrt(eps), atol=0):
        raise ValueError("log_loss: the rows of y_prob must sum to 1 (probabilities)")
    column = np.searchsorted(labels, y_true)
    known = (column < len(labels)) & (labels[np.minimum(column, len(labels) - 1)] == y_true)
    if not np.all(known):
        raise ValueError(f"log_loss: y_true holds a class not in labels: "
                         f"{y_true[~known][0]!r}")
    p = np.clip(np.take_along_axis(y_prob, column[:, None], axis=1)[:, 0], eps, 1 - eps)
    return float(-np.mean(np.log(p.astype(np.float64))))


_MULTIOUTPUT = ("uniform_average", "raw_values", "variance_weighted")


def r2(y_true, y_pred, multioutput="uniform_average"):
    """Coefficient of determination ``R^2 = 1 - SS_res / SS_tot``.

    1 is a perfect fit, 0 the score of always predicting the mean of
    ``y_true``, and it can be negative. A constant ``y_true`` (``SS_tot = 0``)
    scores 1 for a perfect prediction, else 0 (scikit-learn's
    ``force_finite``).

    Parameters
    ----------
    y_true, y_pred : array_like, shape (n,) or (n, n_outputs)
    multioutput : {'uniform_average', 'raw_values', 'variance_weighted'}
        How several outputs combine: their mean, one value each, or the mean
        weighted by each output's variance.

    Returns
    -------
    float, or ndarray of shape (n_outputs,) for ``'raw_values'``

    Examples
    --------
    >>> from rosenblatt.training.metrics import r2
    >>> r2([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    0.5
    """
    if multioutput not in _MULTIOUTPUT:
        raise ValueError(f"r2: multioutput must be one of {_MULTIOUTPUT}; got {multioutput!r}")
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.ndim == 1:
        y_true = y_true[:, None]
    if y_pred.ndim == 1:
        y_pred = y_pred[:, None]
    if y_true.ndim != 2 or y_true.shape != y_pred.shape:
        raise ValueError(f"r2: y_true and y_pred must have the same shape (n,) or (n, outputs); "
                         f"got {np.shape(y_true)} and {np.shape(y_pred)}")
    if len(y_true) < 2:
        raise ValueError(f"r2: needs at least 2 samples; got {len(y_true)}")
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.all(np.isfinite(values)):  # a NaN SS_tot would pass for a constant column
            raise ValueError(f"r2: {name} contains NaN or inf")
    ss_res = np.square(y_true - y_pred).sum(axis=0)
    ss_tot = np.square(y_true - y_true.mean(axis=0)).sum(axis=0)
    scores = np.where(ss_res == 0, 1.0, 0.0)
    np.subtract(1.0, ss_res / np.where(ss_tot > 0, ss_tot, 1.0), out=scores, where=ss_tot > 0)
    if multioutput == "raw_values":
        return scores
    if multioutput == "variance_weighted" and ss_tot.sum() > 0:
        return float(np.average(scores, weights=ss_tot))
    return float(scores.mean())


def top_k_accuracy(y_true, y_score, k=2):
    """Share of samples whose true class is among the ``k`` highest scores.

    Equal scores are ranked as scikit-learn ranks them (a stable sort of the
    scores, reversed: of tied columns, the later one ranks higher).

    Parameters
    ----------
    y_true : array_like of int, shape (n,)
        Class labels, the column indices ``0 .. n_classes - 1`` of ``y_score``
        (a class need not be present in ``y_true``).
    y_score : array_like, shape (n, n_classes)
        Scores, probabilities or logits.
    k : int, default 2

    Returns
    -------
    float

    Examples
    --------
    >>> from rosenblatt.training.metrics import top_k_accuracy
    >>> top_k_accuracy([0, 1, 2], [[.5, .4, .1], [.6, .1, .3], [.1, .2, .7]], k=2)
    0.6666666666666666
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"top_k_accuracy: k must be a positive integer; got {k!r}")
    y_true = _vector(y_true, "y_true", "top_k_accuracy")
    y_score = np.asarray(y_score)
    if y_score.ndim != 2 or len(y_score) != len(y_true):
        raise ValueError(f"top_k_accuracy: y_score must have shape ({len(y_true)}, n_classes); "
                         f"got {y_score.shape}")
    n_classes = y_score.shape[1]
    integral = y_true.dtype.kind in "iub" or (
        y_true.dtype.kind == "f" and np.all(y_true == np.round(y_true)))
    if y_true.size and (not integral or y_true.min() < 0 or y_true.max() >= n_classes):
        raise ValueError(f"top_k_accuracy: y_true must hold column indices 0 to "
                         f"{n_classes - 1} of y_score; got values in "
                         f"[{y_true.min()!r}, {y_true.max()!r}]")
    if len(y_true) == 0:
        raise ValueError("top_k_accuracy: no samples")
    if not np.all(np.isfinite(y_score)):  # argsort ranks NaN above every score
        raise ValueError("top_k_accuracy: y_score contains NaN or inf")
    ranked = np.argsort(y_score, axis=1, kind="stable")[:, ::-1][:, :k]
    return float(np.mean(np.any(ranked == y_true.astype(np.int64)[:, None], axis=1)))


# -- whole-data-set scores after every epoch ------------------------------------------------------
#: EpochScore's named scores: (score function, its keyword arguments, what it reads of the outputs).
EPOCH_SCORES = {
    "roc_auc": (roc_auc, {}, "score"),
    "f1_macro": (f1, {"average": "macro"}, "label"),
    "f1_weighted": (f1, {"average": "weighted"}, "label"),
    "precision_macro": (precision, {"average": "macro"}, "label"),
    "recall_macro": (recall, {"average": "macro"}, "label"),
    "r2": (r2, {}, "value"),
}


def _classes(y):
    """Class labels of targets: labels, the arg-max of one-hot rows, 0/1 from -1/+1 or 0/1."""
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    y = y.reshape(-1)
    if y.size and y.min() < 0:  # -1/+1 targets (hinge, log_loss)
        return (y > 0).astype(np.int64)
    if y.dtype.kind == "f":
        return y.astype(np.int64) if np.all(y == np.round(y)) else (y > 0.5).astype(np.int64)
    return y


def _decode(outputs, y, reads, loss_name, name, ignore_index=None):
    """(targets, outputs) as the score reads them. A sequence model's outputs
    ``(n, T, ..., classes)`` with per-position labels ``(n, T, ...)`` (or one-hot rows of
    the outputs' shape) are scored per position: every position is a sample. Labels equal
    to ``ignore_index`` (the loss's, ``cross_entropy(ignore_index=-100)``) are left out,
    as the loss and fit's accuracy leave them out."""
    if reads == "value":
        if y.size != outputs.size:
            raise ValueError(f"EpochScore: {name} compares outputs with targets of the same "
                             f"size; got outputs of shape {outputs.shape[1:]} per example and "
                             f"targets of shape {y.shape[1:]}")
        return y.reshape(outputs.shape), outputs
    if ignore_index is not None and y.shape == outputs.shape[:-1]:
        kept = y != ignore_index  # (a label -100 would also make y read as -1/+1 targets)
        if not kept.all():  # the positions kept, as rows: labels (m,), outputs (m, classes)
            y, outputs = y[kept], outputs[kept]
    if outputs.ndim > 2:  # per-position decisions of a sequence model
        if y.shape == outputs.shape[:-1]:
            y = y.reshape(-1)
        elif y.shape == outputs.shape:
            y = y.reshape(-1, outputs.shape[-1])
        else:
            raise ValueError(f"EpochScore: {name} of outputs of shape {outputs.shape[1:]} per "
                             f"example needs labels of shape {outputs.shape[1:-1]} (one per "
                             f"position) or targets of shape {outputs.shape[1:]}; got "
                             f"{y.shape[1:]}")
        outputs = outputs.reshape(-1, outputs.shape[-1])
    truth = _classes(y)
    multi = outputs.ndim == 2 and outputs.shape[1] > 1
    if reads == "score":  # monotone in the positive class's probability: all AUC needs
        if multi and loss_name in BINARY_LOSSES:
            raise ValueError(f"EpochScore: {name} scores one two-class decision, but the model's "
                             f"{outputs.shape[1]} outputs are independent labels (loss "
                             f"{loss_name!r}); score each column with roc_auc(y[:, j], "
                             f"outputs[:, j]) in a callable")
        if multi and outputs.shape[1] != 2:
            raise ValueError(f"EpochScore: {name} is for two classes; the model has "
                             f"{outputs.shape[1]} outputs")
        return truth, (outputs[:, 1] - outputs[:, 0]) if multi else outputs.reshape(-1)
    signed = bool(y.size and y.min() < 0)  # -1/+1 targets: decide by the sign, as plan()
    threshold = 0.0 if loss_name in LOGIT_LOSSES or signed else 0.5
    if multi and loss_name in BINARY_LOSSES:  # independent outputs: every column decides
        if y.shape != outputs.shape:
            raise ValueError(f"EpochScore: {name} of {outputs.shape[1]} independent outputs "
                             f"(loss {loss_name!r}) needs multi-hot targets of shape "
                             f"{outputs.shape}; got {y.shape}")
        hot = y > 0 if signed else y > 0.5
        return hot.astype(np.int64), (outputs > threshold).astype(np.int64)
    if multi:
        return truth, outputs.argmax(axis=1)
    return truth, (outputs.reshape(-1) > threshold).astype(np.int64)


def _ignored(trainer):
    """The ``ignore_index`` of the trainer's loss (given through ``functools.partial``), or
    None (also for a loop without ``loss_fn``)."""
    from .fit import _ignore_index  # fit imports this module

    loss = getattr(trainer, "loss_fn", None)
    return None if loss is None else _ignore_index(loss)


class EpochScore(Callback):
    """Record a score of whole-data-set predictions after every epoch.

    For the scores that per-batch sums cannot give (ROC AUC, macro F1, R^2):
    after each epoch the model predicts ``data`` (eval mode, no graph) and the
    score is added to the epoch's logs, so History records it and a later
    callback (EarlyStopping, ReduceLROnPlateau) can monitor it; list this
    callback before them (one listed after them is refused before training).
    A sequence model's outputs ``(n, T, classes)`` with per-step labels
    ``(n, T)`` are scored per step.

    Parameters
    ----------
    score : str or callable
        One of ``EPOCH_SCORES``: ``"roc_auc"`` (two classes; from one output or
        the difference of two), ``"f1_macro"``, ``"f1_weighted"``,
        ``"precision_macro"``, ``"recall_macro"`` (of the class decisions: the
        arg-max, or one output against the loss's threshold, or against 0 for
        -1/+1 targets, as ``rb.fit``'s accuracy decides; several outputs of
        a binary loss are independent labels, each thresholded, and the score
        is scikit-learn's multi-label one over them), ``"r2"`` (of the
        outputs); or ``fn(y_true, outputs) -> float``. A named score leaves out
        the labels equal to the loss's ``ignore_index`` (``functools.partial(
        cross_entropy, ignore_index=-100)``), as the loss does; a callable gets
        every label.
    data : (X, y), optional
        Default: fit's ``validation_data``, and the name gets a ``val_`` prefix.
    name : str, optional
        The key in the logs (default: the score's name, ``val_``-prefixed for
        the validation data).

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> from rosenblatt.training.metrics import EpochScore
    >>> X = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> net = rb.nn.Sequential(rb.nn.Dense(2, 2, rng=0))
    >>> h = rb.fit(net, X, y, loss="cross_entropy", epochs=2, progress=False,
    ...            optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
    ...            validation_data=(X, y), callbacks=[EpochScore("roc_auc")])
    >>> len(h["val_roc_auc"])
    2
    """

    def __init__(self, score, data=None, name=None):
        if isinstance(score, str):
            if score not in EPOCH_SCORES:
                raise ValueError(f"EpochScore: unknown score {score!r}; known: "
                                 f"{sorted(EPOCH_SCORES)} (or a callable fn(y_true, outputs))")
            self.fn, self.kwargs, self.reads = EPOCH_SCORES[score]
            self.score_name = score
        elif callable(score):
            self.fn, self.kwargs, self.reads = score, {}, None
            self.score_name = getattr(score, "__name__", "score")
        else:
            raise TypeError(f"EpochScore: score must be a name or a callable; got "
                            f"{type(score).__name__}")
        if data is not None and (not isinstance(data, (tuple, list)) or len(data) != 2):
            raise ValueError(f"EpochScore: data must be a pair (X, y); got "
                             f"{type(data).__name__}")
        self.data = data
        self.name = name

    @property
    def logged_key(self):
        """The key this callback adds to the epoch's logs (what a monitor names)."""
        return self.name or (f"val_{self.score_name}" if self.data is None else self.score_name)

    def on_train_begin(self, trainer):
        # said before any epoch is spent (rb.fit's trainer: validation is None without data)
        if self.data is None and getattr(trainer, "validation", False) is None:
            raise ValueError(f"EpochScore: {self.score_name!r} needs data=(X, y) or fit's "
                             f"validation_data")
        # a named score that cannot apply to this model (roc_auc of 3 classes) is refused now,
        # by decoding the model's outputs for one example, not after the first epoch
        data = self.data if self.data is not None else getattr(trainer, "validation", None)
        if self.reads is None or data is None or not len(data[0]):
            return
        from .fit import _as_array, predict  # fit imports this module

        X = _as_array(data[0], "EpochScore data X", "EpochScore")[:1]
        y = X if data[1] is None else _as_array(data[1], "EpochScore data y", "EpochScore")[:1]
        outputs = predict(trainer.model, X)
        _decode(outputs, y, self.reads, trainer.loss_name, self.score_name,
                _ignored(trainer))

    def on_epoch_end(self, trainer, epoch, logs):
        from .fit import predict  # fit imports this module

        if self.data is None:
            if trainer.validation is None:
                raise ValueError(f"EpochScore: {self.score_name!r} needs data=(X, y) or fit's "
                                 f"validation_data")
            (X, y), key = trainer.validation, f"val_{self.score_name}"
        else:
            (X, y), key = self.data, self.score_name
        outputs = predict(trainer.model, X)
        y = np.asarray(X if y is None else y)  # y=None: the target is the input (autoencoder)
        if self.reads is None:
            value = self.fn(y, outputs)
        else:
            truth, seen = _decode(outputs, y, self.reads, trainer.loss_name, self.score_name,
                                  _ignored(trainer))
            value = self.fn(truth, seen, **self.kwargs)
        logs[self.name or key] = float(value)
