"""Reductions over axes: sum, mean, max, min, var, logsumexp.

Backward re-expands the gradient over the reduced axes (``keepdims`` shape,
then broadcast). ``max``/``min`` share the gradient evenly between tied
maxima, like ``torch.amax``.
"""

import builtins

import numpy as np

from .tensor import make


def _normalize_axis(axis, ndim, op):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for ax in axes:
        if not -ndim <= ax < builtins.max(ndim, 1):
            raise ValueError(f"{op}: axis {ax} is out of range for an array of {ndim} dimensions")
        out.append(int(ax) % builtins.max(ndim, 1))
    return tuple(out)


def _keepdims_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _reduced_shape(shape, axes):
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _expand(g, shape, axes, keepdims):
    """Reshape the gradient of a reduction so it broadcasts against the input."""
    if not keepdims:
        g = np.reshape(g, _keepdims_shape(shape, axes))
    return g


def sum(x, axis=None, keepdims=False):  # noqa: A001 - the NumPy name
    """Sum over ``axis``; every summand gets the whole gradient."""
    xd = x.data
    axes = _normalize_axis(axis, xd.ndim, "sum")

    def backward(g):
        return (np.broadcast_to(_expand(g, xd.shape, axes, keepdims), xd.shape),)

    return make(np.sum(xd, axis=axes, keepdims=keepdims), (x,), backward)


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis``; each element gets grad / n."""
    xd = x.data
    axes = _normalize_axis(axis, xd.ndim, "mean")
    n = int(np.prod([xd.shape[a] for a in axes])) if axes else 1

    def backward(g):
        return (np.broadcast_to(_expand(g, xd.shape, axes, keepdims) / n, xd.shape),)

    return make(np.mean(xd, axis=axes, keepdims=keepdims), (x,), backward)


def _extreme(x, axis, keepdims, reduce, name):
    xd = x.data
    if xd.size == 0:
        raise ValueError(f"{name}: cannot reduce an empty array")
    axes = _normalize_axis(axis, xd.ndim, name)
    y = reduce(xd, axis=axes, keepdims=True)

    def backward(g):
        hits = (xd == y).astype(g.dtype)
        hits /= hits.sum(axis=axes, keepdims=True)  # ties share the gradient evenly
        return (hits * _expand(g, xd.shape, axes, keepdims),)

    out = y if keepdims else np.reshape(y, _reduced_shape(xd.shape, axes))
    return make(out, (x,), backward)


def max(x, axis=None, keepdims=False):  # noqa: A001 - the NumPy name
    """Largest value over ``axis``; the gradient goes to the argmax (split over ties)."""
    return _extreme(x, axis, keepdims, np.max, "max")


def min(x, axis=None, keepdims=False):  # noqa: A001 - the NumPy name
    """Smallest value over ``axis``; the gradient goes to the argmin (split over ties)."""
    return _extreme(x, axis, keepdims, np.min, "min")


def var(x, axis=None, keepdims=False, ddof=0):
    """Variance over ``axis`` with ``ddof`` (0: population, NumPy's default; 1: unbiased).

    d var / d x_i = 2 (x_i - mean) / (n - ddof).
    """
    xd = x.data
    axes = _normalize_axis(axis, xd.ndim, "var")
    n = int(np.prod([xd.shape[a] for a in axes])) if axes else 1
    if n - ddof <= 0:
        raise ValueError(f"var: ddof={ddof} leaves no degrees of freedom for {n} values")
    centered = xd - xd.mean(axis=axes, keepdims=True)
    out = np.sum(centered * centered, axis=axes, keepdims=keepdims) / (n - ddof)

    def backward(g):
        return (_expand(g, xd.shape, axes, keepdims) * centered * (2.0 / (n - ddof)),)

    return make(out.astype(xd.dtype, copy=False), (x,), backward)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over ``axis``, computed stably around the maximum.

    The gradient is softmax(x) over the reduced axes.
    """
    xd = x.data
    axes = _normalize_axis(axis, xd.ndim, "logsumexp")
    m = np.max(xd, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    lse = np.log(np.sum(np.exp(xd - m), axis=axes, keepdims=True)) + m

    def backward(g):
        return (np.exp(xd - lse) * _expand(g, xd.shape, axes, keepdims),)

    out = lse if keepdims else np.reshape(lse, _reduced_shape(xd.shape, axes))
    return make(out, (x,), backward)
