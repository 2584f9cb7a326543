"""Cost functions (notes: "Cost (loss/objective/error) functions", "Log-likelihood cost
function", "Common loss functions" and its Propagation / Backpropagation table).

Every loss is one fused graph node that computes the per-example losses
stably (no overflow for inputs of magnitude 1e4) and writes its gradient by
hand. ``reduction`` is ``"mean"`` (the average over examples: the notes' 1/m),
``"sum"`` or ``"none"`` (the per-example losses). The mean of no examples (an empty
batch) is NaN, as in PyTorch, on every path, with a zero gradient (nothing to learn
from; ``rb.fit`` counts an empty shard's loss as 0 itself). Float16 losses are summed
in float32, as PyTorch does, so a mean over more than 65,504 values (float16's largest)
is right; the result is float16.

The prediction (``pred``, ``logits`` ...) may be a Tensor or array_like; an array is a
constant (no gradient), converted as in ``rb.nn.functional``.

For the class-labelled losses the class axis is the last one: logits of
shape (..., classes) with integer labels of shape (...), or targets of shape
(..., classes) holding one-hot vectors or probabilities. (PyTorch puts the
class axis at 1; for the usual (batch, classes) the two agree.)
"""

import functools

import numpy as np

from ..autodiff import _kernels
from ..autodiff.tensor import Tensor, _make as make, needs_grad
from ..checks import boolean, finite_float, is_int, unit_interval
from ._operands import as_tensor

REDUCTIONS = ("mean", "sum", "none")


def _array(x, name, where):
    if isinstance(x, Tensor):
        return x.data
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{where}: cannot read {name} as an array: {err}") from None


def _check_reduction(reduction, where):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{where}: reduction must be 'mean', 'sum' or 'none'; got {reduction!r}")


def _wide(dtype):
    """The dtype to sum losses of ``dtype`` in: float32 for float16 (whose sums and counts
    overflow past 65,504), None (their own) otherwise."""
    return np.float32 if dtype.itemsize < 4 else None


def _mean_scale(g, n):
    """dE/d(per) of a mean over ``n`` examples, g / n: zeros for none (the mean is NaN, and
    a gradient of g / 0 would write NaN into every weight). In g's dtype, but float16's in
    float32 (as PyTorch scales): n would be float16's inf past 65,504, and 1/n a float16
    subnormal past 16,384 whose rounding biases every gradient (1.3% at 10^6 values); the
    gradients made with it are rounded to float16 once, at the end (:func:`_half_grads`)."""
    if not n:
        return np.zeros_like(g)
    if g.dtype.itemsize < 4:
        return g.astype(np.float32) / np.float32(n)
    return g / n


def _as_scale(scale, dtype):
    """``scale`` (dE/d(per)) as an array of the loss's ``dtype``, except float16's float32
    mean scale (see :func:`_mean_scale`), kept float32 until the gradient is made."""
    scale = np.asarray(scale)
    if dtype.itemsize < 4 and scale.dtype == np.float32:
        return scale
    return scale.astype(dtype, copy=False)


def _half_grads(grads, parents):
    """The gradients made from a float32 scale, each rounded once to its parent's dtype."""
    return tuple(
        g if g is None or not isinstance(p, Tensor) else np.asarray(g).astype(p.dtype,
                                                                             copy=False)
        for g, p in zip(grads, parents))


def _finish(per, parents, grad_fn, reduction):
    """Reduce the per-example losses; backward calls ``grad_fn(scale)`` with dE/d(per)."""
    if reduction == "none":
        return make(per, parents, lambda g: grad_fn(g))
    n = per.size
    value = per.sum() if per.dtype.itemsize >= 4 else per.sum(dtype=np.float32)  # (_wide)
    if reduction == "mean":
        value = value / n if n else np.nan  # no examples: PyTorch's NaN, not 0 / 0's warning
    value = np.asarray(value, dtype=per.dtype)

    def backward(g):
        if reduction == "mean":
            if n and g.dtype.itemsize >= 4:
                g = g / n
            else:
                scale = _mean_scale(g, n)
                if scale.dtype != g.dtype:  # float16's float32 scale: the products cast once
                    return _half_grads(grad_fn(scale), parents)
                g = scale
        return grad_fn(g)

    return make(value, parents, backward)


def _same_shape(a, b, names, where):
    if np.shape(a) != np.shape(b):
        raise ValueError(f"{where}: {names[0]} has shape {np.shape(a)} but {names[1]} has shape "
                         f"{np.shape(b)}; they must match")


def _float_target(target, like, where):
    t = _array(target, "target", where)
    return t.astype(like.dtype, copy=False) if t.dtype != like.dtype else t


# -- regression and binary losses ----------------------------------------------------------

def mse(pred, target, half=False, reduction="mean"):
    """Mean squared error: mean of (pred - target)^2 over every element (1/2 of it if ``half``).

    ``half=True`` is the notes' derivation-friendly (y - h)^2 / 2, whose
    gradient is just (h - y). ``half`` is True or False (a TypeError otherwise: it is the
    third positional argument, where the other losses take ``reduction``, so
    ``mse(pred, target, "sum")`` is refused, not read as ``half=True``).
    ``reduction="none"`` returns the elementwise squares. Matches
    ``torch.nn.MSELoss`` (half=False).

    Examples
    --------
    >>> import rosenblatt as rb
    >>> rb.losses.mse(rb.tensor([1.0, 3.0]), [0.0, 0.0]).item()
    5.0
    """
    if half is not False and half is not True:  # (two identity tests on the hot path)
        half = boolean("mse", "half", half)
    if not isinstance(pred, Tensor):
        pred = as_tensor(pred, "mse", "pred")
    pd = pred.data
    dtype = pd.dtype
    td = target.data if isinstance(target, Tensor) else _array(target, "target", "mse")
    if td.dtype is not dtype:
        td = td.astype(dtype, copy=False)
    if td.shape != pd.shape:
        _same_shape(pd, td, ("pred", "target"), "mse")
    diff = pd - td
    n = diff.size
    # the training loop's case, with the fewest passes and calls (float16 and an empty
    # batch take the general path below, which sums in float32 and gives NaN)
    if reduction == "mean" and n and dtype.itemsize >= 4:
        value = np.add.reduce(diff * diff, axis=None) / n
        if half:
            value *= dtype.type(0.5)
        target_grad = isinstance(target, Tensor) and target.requires_grad
        k = (1.0 if half else 2.0) / n  # dE/dpred = k g (pred - target)

        def backward(g):
            gp = (g * k) * diff
            return gp, (-gp if target_grad else None)

        return make(np.asarray(value, dtype=dtype), (pred, target), backward)
    _check_reduction(reduction, "mse")
    c = dtype.type(0.5 if half else 1.0)
    per = c * diff * diff
    two_c = 2 * c

    def grads(scale):
        gp = (two_c * scale) * diff
        return gp, (-gp if needs_grad(target) else None)

    return _finish(per, (pred, target), grads, reduction)


def binary_cross_entropy(prob, target, reduction="mean"):
    """-(t ln p + (1 - t) ln(1 - p)) elementwise, for probabilities ``prob`` in [0, 1].

    As in PyTorch the logarithms are clamped at -100 so that p = 0 or 1 gives a
    finite loss. ``target`` must be in [0, 1] too (outside it the loss has no
    lower bound); it is not checked here, where a pass over it would cost ~10% of
    a small batch's loss: ``rb.fit`` and ``rb.training.evaluate`` check the targets once.
    Prefer :func:`binary_cross_entropy_with_logits` after a sigmoid:
    it is exact for any magnitude.
    """
    _check_reduction(reduction, "binary_cross_entropy")
    if not isinstance(prob, Tensor):
        prob = as_tensor(prob, "binary_cross_entropy", "prob")
    pd = prob.data
    td = _float_target(target, pd, "binary_cross_entropy")
    _same_shape(pd, td, ("prob", "target"), "binary_cross_entropy")
    if pd.size and (pd.min() < 0 or pd.max() > 1):
        raise ValueError(
            f"binary_cross_entropy: prob must be in [0, 1]; got values in "
            f"[{pd.min():.4g}, {pd.max():.4g}] (for logits use binary_cross_entropy_with_logits)"
        )
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(pd), -100)
        log_1mp = np.maximum(np.log1p(-pd), -100)
    per = -(td * log_p + (1 - td) * log_1mp)

    def grads(scale):  # d/dp = (p - t) / (p (1 - p)), the denominator clamped like PyTorch
        return (scale * (pd - td) / np.maximum(pd * (1 - pd), 1e-12),
                None if not needs_grad(target) else scale * (log_1mp - log_p))

    return _finish(per, (prob, target), grads, reduction)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """Sigmoid + binary cross-entropy fused: log(1 + e^x) - t x, stable for any x.

    Computed as max(x, 0) - t x + log(1 + e^-|x|); the gradient is sigma(x) - t, with
    sigma(x) relatively accurate in both tails (as in PyTorch: 2.1e-9 at x = -20 in float32).
    ``target`` must be in [0, 1] (outside it the loss has no lower bound: t = 2, x = 3 gives
    -2.95); as for :func:`binary_cross_entropy`, ``rb.fit`` and ``rb.training.evaluate``
    check it once, not every call.
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    if not isinstance(logits, Tensor):
        logits = as_tensor(logits, "binary_cross_entropy_with_logits", "logits")
    xd = logits.data
    td = _float_target(target, xd, "binary_cross_entropy_with_logits")
    _same_shape(xd, td, ("logits", "target"), "binary_cross_entropy_with_logits")
    e = np.exp(-np.abs(xd))  # in (0, 1]: no overflow, and no cancellation in sigma below
    per = np.maximum(xd, 0) - td * xd + np.log1p(e)

    def grads(scale):
        # sigma(x) = e^min(x, 0) / (1 + e^-|x|): relatively accurate in both tails (the tanh
        # form (1 + tanh(x/2)) / 2 is 0 below x = -18 in float32), never overflows, and
        # takes as many passes with the forward's e
        sig = np.exp(np.minimum(xd, 0))
        sig /= 1 + e
        sig -= td
        return (scale * sig, None if not needs_grad(target) else -scale * xd)

    return _finish(per, (logits, target), grads, reduction)


def log_loss(x, c, reduction="mean"):
    """The notes' Log loss with c = +/-1: log(1 + e^(-c x)); dE/dx = -c / (1 + e^(c x)).

    Stable for any x (softplus around its kink). Matches ``torch.nn.SoftMarginLoss``.
    """
    _check_reduction(reduction, "log_loss")
    if not isinstance(x, Tensor):
        x = as_tensor(x, "log_loss", "x")
    xd = x.data
    cd = _check_signs(c, xd, "log_loss")
    z = -cd * xd
    e = np.exp(-np.abs(z))
    per = np.maximum(z, 0) + np.log1p(e)

    def grads(scale):  # sigma(z), z = -c x, from e = e^-|z| as in the logits' BCE
        sig = np.exp(np.minimum(z, 0))
        sig /= 1 + e
        return (-scale * cd * sig, None)

    return _finish(per, (x, c), grads, reduction)


def hinge(x, c, margin=1.0, reduction="mean"):
    """The notes' Hinge loss with c = +/-1: max(0, m - c x); dE/dx = -c 1{c x < m}.

    ``margin`` m is a finite number (else a TypeError or ValueError naming it).
    """
    _check_reduction(reduction, "hinge")
    margin = finite_float("hinge", "margin", margin)
    if not isinstance(x, Tensor):
        x = as_tensor(x, "hinge", "x")
    xd = x.data
    cd = _check_signs(c, xd, "hinge")
    per = np.maximum(margin - cd * xd, 0).astype(xd.dtype, copy=False)
    active = per > 0

    def grads(scale):
        return (np.where(active, -cd * scale, 0).astype(xd.dtype, copy=False), None)

    return _finish(per, (x, c), grads, reduction)


def _check_signs(c, like, where):
    cd = _float_target(c, like, where)
    _same_shape(like, cd, ("x", "c"), where)
    if cd.size and not np.all(np.abs(cd) == 1):
        raise ValueError(f"{where}: c must be +1 or -1; got values {np.unique(cd)[:5]}")
    return cd


# -- multi-class losses --------------------------------------------------------------------

def _labels(labels, scores, where):
    """Integer labels (shape scores.shape[:-1]) checked against the number of classes,
    or None when ``labels`` is a target distribution (shape scores.shape)."""
    ld = _array(labels, "labels", where)
    k = scores.shape[-1]
    if ld.shape == scores.shape:
        if ld.dtype.kind not in "fiub":
            raise TypeError(f"{where}: target probabilities must be numbers; got {ld.dtype}")
        return None, ld.astype(scores.dtype, copy=False)
    if ld.shape != scores.shape[:-1]:
        raise ValueError(
            f"{where}: expected integer labels of shape {scores.shape[:-1]} or targets of shape "
            f"{scores.shape} for scores of shape {scores.shape}; got labels of shape {ld.shape}"
        )
    if ld.dtype.kind not in "iu":
        if ld.dtype.kind != "f" or not np.all(ld == np.round(ld)):
            raise TypeError(f"{where}: labels must be integers (class indices); got {ld.dtype}")
        # the range before the cast: inf or 1e20 would become -2**63 and be reported as such
        if ld.size and (ld.min() < 0 or ld.max() >= k):
            bad = (ld < 0) | (ld >= k)
            i = int(np.argmax(bad.reshape(-1)))
            raise ValueError(
                f"{where}: label {float(ld.reshape(-1)[i]):g} (at index {i}) is out of range for "
                f"{k} classes; labels must be in 0..{k - 1}"
            )
        ld = ld.astype(np.int64)
    if ld.size and (ld.min() < 0 or ld.max() >= k):  # two reductions; locate only on error
        bad = (ld < 0) | (ld >= k)
        if bad.any():
            i = int(np.argmax(bad.reshape(-1)))
            raise ValueError(
                f"{where}: label {ld.reshape(-1)[i]} (at index {i}) is out of range for "
                f"{k} classes; labels must be in 0..{k - 1}"
            )
    return ld, None


def cross_entropy(logits, labels, reduction="mean", *, weight=None, ignore_index=None,
                  label_smoothing=0.0):
    """Softmax + negative log-likelihood as one fused op: log sum_k e^x_k - x_c.

    Parameters
    ----------
    logits : Tensor, shape (..., classes)
    labels : array_like or Tensor
        Integer class indices of shape (...), or one-hot vectors /
        probabilities t of shape (..., classes) (loss -sum_k t_k log softmax(x)_k;
        a target Tensor that requires grad gets dE/dt = -log softmax(x)).
    reduction : {"mean", "sum", "none"}
    weight : array_like, shape (classes,), optional
        A weight per class (not trained), as ``torch.nn.functional.cross_entropy``: the
        loss of an example with label c is scaled by weight[c], and with integer labels the
        mean is the weighted mean, divided by the sum of the examples' weight[c] (not by
        their number). With probability targets, weight[k] scales each term t_k and the
        mean is over the examples.
    ignore_index : int, optional
        Integer labels equal to it (e.g. PyTorch's -100 on padding) contribute no loss
        and no gradient, and are left out of the mean. Not for probability targets.
        With every label ignored the mean is 0 / 0 = NaN, as in PyTorch; ``rb.fit``
        skips such a batch (no step: there is nothing to learn from) and, as
        ``rb.training.evaluate``, averages the loss over the counted labels of the
        whole set (see :func:`mean_normaliser`).
    label_smoothing : float in [0, 1], default 0
        The target becomes (1 - label_smoothing) onehot(c) + label_smoothing / classes
        (Szegedy et al. 2016), as in PyTorch.

    Returns
    -------
    Tensor: a scalar, or the per-example losses of shape (...) for "none".

    Raises
    ------
    ValueError
        Naming the first out-of-range label and the number of classes; for a bad
        ``weight``, ``label_smoothing`` or ``ignore_index``.

    Notes
    -----
    Stable for any magnitude: the maximum is subtracted before exp. The
    gradient is the notes' softmax(x) - onehot(c) (times sum_k t_k for targets).
    With the options, for the effective target u (smoothed, times the class weights,
    0 on ignored examples): loss = -sum_k u_k log softmax(x)_k and
    dE/dx = softmax(x) sum_k u_k - u. With integer labels the "mean" divides by the
    class weights of the labels not ignored (their count without ``weight``). When that
    is 0 (every label ignored, as on an all-padding batch, or every label of a class
    weighing 0) the mean is NaN, as in PyTorch, and the gradient is 0, so one such batch
    does not write NaN into the weights: PyTorch's gradient is 0 too when every label
    is ignored, NaN when the weights are 0.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> round(rb.losses.cross_entropy(rb.tensor([[0.0, 0.0]]), [1]).item(), 4)
    0.6931
    """
    _check_reduction(reduction, "cross_entropy")
    if not isinstance(logits, Tensor):
        logits = as_tensor(logits, "cross_entropy", "logits")
    xd = logits.data
    if xd.ndim < 1 or xd.shape[-1] < 1:
        raise ValueError(f"cross_entropy: logits need a class axis; got shape {xd.shape}")
    if weight is not None or ignore_index is not None or label_smoothing != 0:
        return _cross_entropy_options(logits, xd, labels, reduction, weight, ignore_index,
                                      label_smoothing)
    ld, target = _labels(labels, xd, "cross_entropy")
    k = xd.shape[-1]
    if ld is not None and reduction != "none" and xd.ndim == 2 and xd.flags.c_contiguous \
            and xd.dtype in _KERNEL_DTYPES and xd.shape[0] >= CE_KERNEL_MIN_ROWS:
        kernels = _kernels.get("softmax_ce_forward"), _kernels.get("softmax_ce_backward")
        if kernels[0] is not None:
            return _cross_entropy_kernel(logits, xd, ld, labels, reduction, kernels)
    probs = xd - xd.max(axis=-1, keepdims=True)  # the one (..., classes) array we allocate
    flat = probs.reshape(-1, k)
    if ld is not None:
        rows, cols = np.arange(flat.shape[0]), ld.reshape(-1)
        picked = flat[rows, cols].reshape(ld.shape)
    else:
        picked = (target * probs).sum(axis=-1)
    np.exp(probs, out=probs)
    # float16: the sum of the exponentials in float32, as log_softmax (65,505 equal scores
    # sum past float16's largest number, while their log-sum-exp, log(65,505) = 11.1, fits)
    half = xd.dtype.itemsize < 4
    total = probs.sum(axis=-1, keepdims=True, dtype=np.float32 if half else None)
    probs /= total
    lse = np.log(total[..., 0])
    if half:
        lse = lse.astype(xd.dtype)
    if ld is not None:
        per = lse - picked
    else:
        mass = target.sum(axis=-1, keepdims=True)
        per = lse * mass[..., 0] - picked

    def grads(scale):  # scale: dE/d(per), a scalar or shaped like per
        scale = _as_scale(scale, xd.dtype)
        s = scale[..., None] if scale.ndim else scale
        if ld is None:
            gt = None
            if needs_grad(labels):  # dE/dt = -log softmax(x), recomputed (probs may underflow)
                gt = (lse[..., None] - (xd - xd.max(axis=-1, keepdims=True))) * s
            return (probs * mass - target) * s, gt
        gx = probs * s
        gx.reshape(-1, k)[rows, cols] -= scale.reshape(-1) if scale.ndim else scale
        return gx, None

    return _finish(per, (logits, labels), grads, reduction)


def _cross_entropy_options(logits, xd, labels, reduction, weight, ignore_index, smoothing):
    """:func:`cross_entropy` with class weights, an ignored label or label smoothing (the
    plain case keeps its leaner path and the fused kernel): every option folds into one
    effective target u, loss -sum_k u_k log softmax(x)_k, as PyTorch computes it."""
    where = "cross_entropy"
    k = xd.shape[-1]
    eps = unit_interval(where, "label_smoothing", smoothing, closed_high=True)
    w = None
    if weight is not None:
        w = _array(weight, "weight", where)
        if w.shape != (k,) or w.dtype.kind not in "fiu":
            raise ValueError(f"{where}: weight must have shape ({k},), one number per class; "
                             f"got a {w.dtype} array of shape {w.shape}")
        w = w.astype(xd.dtype, copy=False)
    la = _array(labels, "labels", where)
    ignored = None
    if ignore_index is not None:
        if not is_int(ignore_index):
            raise TypeError(f"{where}: ignore_index must be an integer label; got "
                            f"{ignore_index!r}")
        if la.shape != xd.shape[:-1]:
            raise ValueError(
                f"{where}: ignore_index applies to integer class labels of shape "
                f"{xd.shape[:-1]}; got labels of shape {la.shape} (probability targets have "
                f"no label to ignore: give those examples zero targets instead)")
        ignored = la == ignore_index
        la = np.where(ignored, 0, la)  # any valid class: the example's target is zeroed below
    ld, target = _labels(la, xd, where)
    shifted = xd - xd.max(axis=-1, keepdims=True)
    probs = np.exp(shifted)
    # float16: the total in float32, as in cross_entropy's plain path
    total = probs.sum(axis=-1, keepdims=True,
                      dtype=np.float32 if xd.dtype.itemsize < 4 else None)
    probs /= total
    logp = shifted - np.log(total).astype(xd.dtype, copy=False)  # log softmax
    if ld is not None:
        u = np.zeros_like(xd)
        np.put_along_axis(u, ld[..., None], xd.dtype.type(1 - eps), axis=-1)
    else:
        u = target * xd.dtype.type(1 - eps)
    if eps:
        u += xd.dtype.type(eps / k)
    if w is not None:
        u *= w
    if ignored is not None:
        u[ignored] = 0
    with np.errstate(invalid="ignore"):  # a -inf logit where u = 0 adds 0, not 0 * -inf
        per = -np.where(u != 0, u * logp, 0).sum(axis=-1).astype(xd.dtype, copy=False)
    mass = u.sum(axis=-1, keepdims=True)
    if ld is not None:  # torch's weighted mean: over the examples' weight[c], not their count
        counted = np.ones(ld.shape, dtype=xd.dtype) if w is None else w[ld]
        counted = counted if ignored is None else np.where(ignored, 0, counted)
        denom = float(counted.sum(dtype=np.float64))  # (in float16, 70,000 ones sum to inf)
    else:
        denom = per.size

    def grads(scale):  # scale: dE/d(per), a scalar or shaped like per
        scale = _as_scale(scale, xd.dtype)
        s = scale[..., None] if scale.ndim else scale
        gt = None
        if ld is None and needs_grad(labels):  # dE/dt_k = -(1 - eps) w_k log softmax(x)_k
            gt = logp * (-(1 - eps) * s)
            if w is not None:
                gt *= w
        return (probs * mass - u) * s, gt

    if reduction == "none":
        return make(per, (logits, labels), grads)
    value = per.sum(dtype=_wide(xd.dtype))
    if reduction == "mean":
        # no example counts (every label ignored, or of a class weighing 0): the mean is
        # torch's NaN, even where label smoothing leaves a non-zero sum (x / 0); the gradient
        # is 0, nothing to learn from, where g / 0 would write NaN into every weight
        value = value / denom if denom else np.nan

    def backward(g):
        if reduction == "mean":
            scale = _mean_scale(g, denom)
            if scale.dtype != g.dtype:  # float16's float32 scale: the products cast once
                return _half_grads(grads(scale), (logits, labels))
            return grads(scale)
        return grads(g)

    return make(np.asarray(value, dtype=xd.dtype), (logits, labels), backward)


def mean_normaliser(loss):
    """How ``loss``'s mean divides, when that is not by the number of its terms: a function
    ``target -> W`` (the sum of the weights of the terms that count), or None.

    Data-parallel training cuts a batch into parts and seeds each part's mean
    loss ``L_k = S_k / W_k`` with its share of the batch: ``n_k / B`` for a
    plain mean, but ``W_k / W`` (``W`` the whole batch's) for a weighted one,
    so that ``sum_k (W_k / W) L_k = S / W`` is the batch's loss; ``rb.fit`` and
    ``rb.training.evaluate`` likewise average an epoch's batches as
    ``sum_b S_b / sum_b W_b``, the weighted mean over the whole set.

    A loss tells that its mean is a weighted one by an attribute,
    ``loss.mean_weights(**options)``, called with the options a
    ``functools.partial`` gives it: None when, with them, the mean is the plain
    one, else ``W(target)``. :func:`cross_entropy` has one (a weighted mean with
    ``weight`` or ``ignore_index`` on integer labels: ``sum_i w_i l_i / sum_i
    w_i``, PyTorch's), and so can a loss of one's own: the attribute, not a
    list of names here, is what is read.

    Parameters
    ----------
    loss : callable
        A loss, or a ``functools.partial`` of one (how options are given to
        ``rb.fit``). A callable without ``mean_weights`` (a lambda, which also
        hides the options of a loss it calls): None, the count.

    Returns
    -------
    callable or None
        ``W(target)`` as a float, or None for targets whose mean is over the
        examples (cross_entropy's probability targets). For
        :func:`cross_entropy`: the sum of ``weight[c]`` over the labels ``c``
        not ignored (their count without ``weight``); one pass over the targets.
    """
    func, keywords = loss, {}
    while isinstance(func, functools.partial):
        keywords = {**func.keywords, **keywords}  # the outer partial's win
        func = func.func
    weights = getattr(func, "mean_weights", None)
    return weights(**keywords) if callable(weights) else None


def _cross_entropy_weights(reduction="mean", weight=None, ignore_index=None, **_):
    """``cross_entropy.mean_weights``: see :func:`mean_normaliser`."""
    if reduction != "mean" or (weight is None and ignore_index is None):
        return None
    w = None if weight is None else np.asarray(weight, dtype=np.float64).reshape(-1)

    def normaliser(target):
        labels = np.asarray(getattr(target, "data", target))
        if labels.dtype.kind not in "iu" and ignore_index is None:
            return None  # probabilities: a mean over the examples
        ignored = None if ignore_index is None else labels == ignore_index
        if w is None:
            return float(labels.size - (0 if ignored is None else np.count_nonzero(ignored)))
        # (an out-of-range label is the loss's own error to raise; here it counts its clip)
        counted = w.take(labels.astype(np.int64, copy=False), mode="clip")
        if ignored is not None:
            counted[ignored] = 0.0
        return float(counted.sum())

    return normaliser


cross_entropy.mean_weights = _cross_entropy_weights


_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # what the kernels compile for
CE_KERNEL_MIN_ROWS = 16  # below, NumPy's few calls on a tiny batch cost less than the dispatch


def _cross_entropy_kernel(logits, xd, ld, labels, reduction, kernels):
    """:func:`cross_entropy` for integer labels of a (batch, classes) array reduced to a
    scalar, with the ``fast`` extra: softmax, the per-example losses and the gradient each in
    one compiled pass (checked against the NumPy code in ``tests/autodiff/test_kernels.py``)."""
    forward, backward_kernel = kernels
    probs = np.empty_like(xd)
    per = np.empty(xd.shape[0], dtype=xd.dtype)
    ld = ld if ld.dtype == np.int64 else ld.astype(np.int64)
    forward(xd, ld, probs, per)
    n = per.size
    value = np.add.reduce(per, axis=None)
    if reduction == "mean":
        value = value / n  # (n >= CE_KERNEL_MIN_ROWS here)
    scale_of = n if reduction == "mean" else 1

    def backward(g):
        gx = np.empty_like(probs)
        backward_kernel(probs, ld, xd.dtype.type(g / scale_of), gx)
        return gx, None

    return make(np.asarray(value, dtype=xd.dtype), (logits, labels), backward)


def nll(log_probs, labels, reduction="mean"):
    """The notes' log-likelihood cost: -ln f_c, given log-probabilities (e.g. log_softmax).

    Integer labels (shape (...)) or targets t (shape (..., classes)): -sum_k t_k ln f_k.
    Matches ``torch.nn.NLLLoss``.
    """
    _check_reduction(reduction, "nll")
    if not isinstance(log_probs, Tensor):
        log_probs = as_tensor(log_probs, "nll", "log_probs")
    xd = log_probs.data
    ld, target = _labels(labels, xd, "nll")
    if ld is not None:
        per = -np.take_along_axis(xd, ld[..., None], axis=-1)[..., 0]
    else:
        per = -(target * xd).sum(axis=-1)

    def grads(scale):
        scale = _as_scale(scale, xd.dtype)
        s = scale[..., None] if scale.ndim else scale
        if ld is not None:
            gx = np.zeros_like(xd)
            np.put_along_axis(gx, ld[..., None], -np.broadcast_to(s, ld[..., None].shape),
                              axis=-1)
            return gx, None
        return -target * s, (-xd * s if needs_grad(labels) else None)

    return _finish(per, (log_probs, labels), grads, reduction)


def max_margin(x, labels, margin=1.0, reduction="mean"):
    """The notes' MaxMargin: [max_{k != c} (x_k + m) - x_c]_+ .

    dE/dx_s = (1{s = k*} - 1{s = c}) 1{E > 0}, with k* the best wrong class
    (the first on ties). For two classes it is twice ``torch.nn.MultiMarginLoss``.
    ``margin`` m is a finite number (else a TypeError or ValueError naming it).
    """
    _check_reduction(reduction, "max_margin")
    margin = finite_float("max_margin", "margin", margin)
    if not isinstance(x, Tensor):
        x = as_tensor(x, "max_margin", "x")
    xd = x.data
    if xd.shape[-1] < 2:
        raise ValueError(f"max_margin: needs at least 2 classes; got scores of shape {xd.shape}")
    ld, target = _labels(labels, xd, "max_margin")
    if ld is None:
        raise ValueError("max_margin: labels must be integer class indices")
    idx = ld[..., None]
    correct = np.take_along_axis(xd, idx, axis=-1)[..., 0]
    others = xd.copy()
    np.put_along_axis(others, idx, -np.inf, axis=-1)
    rival = others.argmax(axis=-1)[..., None]
    # the rival's score from ``others``: where every other class is -inf, argmax is 0, which
    # may be the label itself; its -inf there gives the loss 0 and no gradient, as in torch
    per = np.maximum(np.take_along_axis(others, rival, axis=-1)[..., 0] + margin - correct, 0)
    per = per.astype(xd.dtype, copy=False)
    active = (per > 0).astype(xd.dtype)

    def grads(scale):
        s = active * scale
        gx = np.zeros_like(xd)
        np.put_along_axis(gx, rival, s[..., None], axis=-1)
        np.put_along_axis(gx, idx, -s[..., None], axis=-1)
        return gx, None

    return _finish(per, (x, labels), grads, reduction)


__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "hinge",
    "log_loss", "max_margin", "mse", "nll",
]
