"""Reductions over axes: sum, mean, max, min, var, logsumexp.

Backward re-expands the gradient over the reduced axes (``keepdims`` shape,
then broadcast). ``max``/``min`` share the gradient evenly between tied
maxima, like ``torch.amax``. Array methods (``xd.sum``) are used rather than
the ``np.sum`` functions: same result, a microsecond less dispatch per call.
"""

import math

import numpy as np

from .tensor import Tensor, _make as make, _tensor_operand, zeros_like


def _normalize_axis(axis, ndim, op):
    """``axis`` (None, an integer or a tuple or list of them) as a tuple of axes in
    ``range(ndim)``; a bool or float axis is a TypeError naming ``op``, as in NumPy
    (``x.sum(True)``, ``keepdims`` meant, would otherwise reduce axis 1)."""
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int or isinstance(axis, np.integer):  # (not bool, not np.bool_)
        axes = (axis,)
    elif isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:
        raise _axis_type_error(op, axis)
    out = []
    for ax in axes:
        if type(ax) is not int and not isinstance(ax, np.integer):
            raise _axis_type_error(op, axis)
        if not -ndim <= ax < ndim:
            raise ValueError(f"{op}: axis {ax} is out of range for an array of {ndim} dimensions")
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: axis {axis} names an axis twice")
    return tuple(out)


def _axis_type_error(op, axis):
    hint = " (keepdims goes by keyword: keepdims=True)" if "bool" in type(axis).__name__ else ""
    return TypeError(
        f"{op}: axis must be an integer or a tuple of integers; got {type(axis).__name__} "
        f"{axis!r}{hint}"
    )


def _reduced_shape(shape, axes):
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _keepdims_shape(shape, axes):
    return tuple([1 if i in axes else n for i, n in enumerate(shape)])


def _expand(g, shape, axes, keepdims):
    """Reshape the gradient of a reduction so it broadcasts against the input."""
    if not keepdims and g.ndim:  # (a 0-d gradient broadcasts as it is)
        g = g.reshape(_keepdims_shape(shape, axes))
    return g


def _broadcast_back(g, xd, axes, keepdims):
    """The gradient of a reduction spread over the input's shape, as a fresh array.

    (``np.broadcast_to`` would avoid the copy but costs ~2 us per call; every
    consumer of this gradient reads all of it anyway.)
    """
    out = np.empty_like(xd)
    out[...] = _expand(g, xd.shape, axes, keepdims)
    return out


_HALF = np.dtype(np.float16)  # (an identity test: the common path's one added cost)


def _wide(x):
    """The dtype to sum the array ``x`` in: float32 for float16 (as PyTorch), else None
    (NumPy's own). NumPy adds float16 in float32 only along the last axis; over another
    it adds in float16, where 2048 + 1 = 2048: a sum over 5,000 rows gave 2048."""
    return np.float32 if x.dtype.itemsize < 4 else None


def _count(shape, axes):
    return math.prod(shape[a] for a in axes)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - the NumPy name
    """Sum over ``axis``; every summand gets the whole gradient."""
    if not isinstance(x, Tensor):  # an array or list: a constant
        x = _tensor_operand(x, "sum")
    xd = x.data
    axes = _normalize_axis(axis, xd.ndim, "sum")

    def backward(g):
        return (_broadcast_back(g, xd, axes, keepdims),)

    if xd.dtype is _HALF:  # float16: added in float32 (see _wide)
        out = xd.sum(axis=axes, keepdims=keepdims, dtype=np.float32).astype(xd.dtype)
    else:  # NumPy's own call, nothing added to the common path
        out = xd.sum(axis=axes, keepdims=keepdims)
    return make(out, (x,), backward)


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis``; each element gets grad / n."""
    if not isinstance(x, Tensor):  # an array or list: a constant
        x = _tensor_operand(x, "mean")
    xd = x.data
    axes = _normalize_axis(axis, xd.ndim, "mean")
    n = _count(xd.shape, axes)

    def backward(g):
        if n == 0:  # an empty axis: the input is empty, so is its gradient
            return (zeros_like(xd),)
        return (_broadcast_back(g * (1.0 / n), xd, axes, keepdims),)

    return make(xd.mean(axis=axes, keepdims=keepdims), (x,), backward)


def _extreme(x, axis, keepdims, name):
    if not isinstance(x, Tensor):  # an array or list: a constant
        x = _tensor_operand(x, name)
    xd = x.data
    axes = _normalize_axis(axis, xd.ndim, name)
    if xd.size == 0 and _count(xd.shape, axes) == 0:  # (an empty batch over other axes is fine)
        raise ValueError(
            f"{name}: cannot reduce an empty array over an empty axis (shape {xd.shape}, "
            f"axis {axis}): there is no {name}imum of no values"
        )
    y = getattr(xd, name)(axis=axes, keepdims=True)  # xd.max or xd.min

    def backward(g):
        hits = (xd == y).astype(g.dtype)
        hits /= hits.sum(axis=axes, keepdims=True, dtype=_wide(hits))  # ties share it evenly
        hits *= _expand(g, xd.shape, axes, keepdims)
        return (hits,)

    out = y if keepdims else y.reshape(_reduced_shape(xd.shape, axes))
    return make(out, (x,), backward)


def max(x, axis=None, keepdims=False):  # noqa: A001 - the NumPy name
    """Largest value over ``axis``; the gradient goes to the argmax (split over ties)."""
    return _extreme(x, axis, keepdims, "max")


def min(x, axis=None, keepdims=False):  # noqa: A001 - the NumPy name
    """Smallest value over ``axis``; the gradient goes to the argmin (split over ties)."""
    return _extreme(x, axis, keepdims, "min")


def var(x, axis=None, keepdims=False, ddof=0):
    """Variance over ``axis`` with ``ddof`` (0: population, NumPy's default; 1: unbiased).

    d var / d x_i = 2 (x_i - mean) / (n - ddof).
    """
    if not isinstance(x, Tensor):  # an array or list: a constant
        x = _tensor_operand(x, "var")
    xd = x.data
    axes = _normalize_axis(axis, xd.ndim, "var")
    n = _count(xd.shape, axes)
    if n - ddof <= 0:
        raise ValueError(f"var: ddof={ddof} leaves no degrees of freedom for {n} values")
    # float16 takes its deviations, squares and sum in float32 (as PyTorch does): in float16
    # a deviation past 256 squares past 65,504 (inf), and so does the count n, a Python int
    # taken as float16; the variance and its gradient come back in float16
    xw = xd.astype(np.float32) if xd.dtype.itemsize < 4 else xd
    centered = xw - xw.mean(axis=axes, keepdims=True)
    out = (centered * centered).sum(axis=axes, keepdims=keepdims) / float(n - ddof)

    def backward(g):
        grad = _expand(g, xd.shape, axes, keepdims) * centered * (2.0 / (n - ddof))
        return (grad.astype(xd.dtype, copy=False),)

    return make(out.astype(xd.dtype, copy=False), (x,), backward)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over ``axis``, computed stably around the maximum.

    The gradient is softmax(x) over the reduced axes.
    """
    if not isinstance(x, Tensor):
        x = _tensor_operand(x, "logsumexp")
    xd = x.data
    axes = _normalize_axis(axis, xd.ndim, "logsumexp")
    if _count(xd.shape, axes) == 0:  # log(sum of no terms) = log 0 = -inf, as in PyTorch
        out = np.full(_keepdims_shape(xd.shape, axes), -np.inf, xd.dtype)
        if not keepdims:
            out = out.reshape(_reduced_shape(xd.shape, axes))
        return make(out, (x,), lambda g: (zeros_like(xd),))
    m = xd.max(axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    wide = _wide(xd)  # float16: the sum, its log and the backward's softmax in float32
    lse = np.log(np.exp(xd - m).sum(axis=axes, keepdims=True, dtype=wide)) + m

    def backward(g):
        grad = np.exp(xd - lse) * _expand(g, xd.shape, axes, keepdims)
        return (grad if wide is None else grad.astype(xd.dtype),)

    out = lse if wide is None else lse.astype(xd.dtype)
    out = out if keepdims else out.reshape(_reduced_shape(xd.shape, axes))
    return make(out, (x,), backward)
