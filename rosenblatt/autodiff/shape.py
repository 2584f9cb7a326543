"""Ops that move values without changing them: reshape, transpose, indexing,
concatenate, stack, split, pad. Their backward moves the gradient back.
"""

import math

import numpy as np

from .tensor import Tensor, make, zeros_like


def reshape(x, *shape):
    """View with a new shape (one entry may be -1)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    xd = x.data
    try:
        y = xd.reshape(shape)
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape an array of shape {xd.shape} ({xd.size} values) "
            f"into shape {shape}"
        ) from None
    return make(y, (x,), lambda g: (g.reshape(xd.shape),))


def transpose(x, *axes):
    """Permute axes (reverse them when none are given)."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    xd = x.data
    ndim = xd.ndim
    if not axes:
        axes = tuple(range(ndim - 1, -1, -1))
    inverse = [None] * ndim  # out axis i is input axis axes[i], so g's axis i goes back there
    for i, a in enumerate(axes):
        if not -ndim <= a < ndim or inverse[a % ndim] is not None:
            inverse = None
            break
        inverse[a % ndim] = i
    if inverse is None or len(axes) != ndim:
        raise ValueError(f"transpose: axes {axes} are not a permutation of {ndim} axes")
    return make(xd.transpose(axes), (x,), lambda g: (g.transpose(inverse),))


def swapaxes(x, axis1, axis2):
    """Exchange two axes."""
    axes = list(range(x.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, axes)


def expand_dims(x, axis):
    """Insert a length-1 axis at ``axis``."""
    return reshape(x, np.expand_dims(x.data, axis).shape)


def squeeze(x, axis=None):
    """Remove length-1 axes."""
    return reshape(x, np.squeeze(x.data, axis).shape)


def flatten(x, start_axis=1):
    """Merge the axes from ``start_axis`` on into one: (batch, ...) -> (batch, features)."""
    # the merged size written out, not -1: a batch of 0 has no size to infer it from
    return reshape(x, x.shape[:start_axis] + (math.prod(x.shape[start_axis:]),))


def _is_basic_index(index):
    """True when ``index`` selects each element at most once (no integer arrays)."""
    items = index if isinstance(index, tuple) else (index,)
    for item in items:
        if isinstance(item, (list, np.ndarray)):
            if np.asarray(item).dtype != bool:
                return False
    return True


def _plain_index(index):
    """Replace tensors inside an index by their arrays (integer arrays stay integer)."""
    if isinstance(index, Tensor):
        return index.data.astype(np.intp) if index.data.dtype.kind == "f" else index.data
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    return index


def getitem(x, index):
    """``x[index]`` with basic and integer-array indexing.

    Backward scatters the gradient into zeros; an index that repeats an
    element accumulates its gradients (``numpy.add.at``).
    """
    index = _plain_index(index)
    xd = x.data
    try:
        y = xd[index]
    except IndexError as err:
        raise IndexError(f"index: {err} (tensor of shape {xd.shape})") from None

    def backward(g):
        gx = zeros_like(xd)
        if _is_basic_index(index):
            gx[index] = g
        else:
            np.add.at(gx, index, g)
        return (gx,)

    return make(y, (x,), backward)


def _as_tensors(tensors, op):
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: needs at least one tensor")
    return [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis."""
    tensors = _as_tensors(tensors, "concatenate")
    datas = [t.data for t in tensors]
    try:
        out = np.concatenate(datas, axis=axis)
    except ValueError:
        shapes = ", ".join(str(d.shape) for d in datas)
        raise ValueError(
            f"concatenate: shapes {shapes} must match except along axis {axis}"
        ) from None

    def backward(g):  # each input gets its own stretch of g along the axis
        lead = (slice(None),) * (axis % out.ndim)
        parts, start = [], 0
        for d in datas:
            stop = start + d.shape[axis]
            parts.append(g[(*lead, slice(start, stop))])
            start = stop
        return parts

    return make(out, tuple(tensors), backward)


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis."""
    tensors = _as_tensors(tensors, "stack")
    datas = [t.data for t in tensors]
    try:
        out = np.stack(datas, axis=axis)
    except ValueError:
        shapes = ", ".join(str(d.shape) for d in datas)
        raise ValueError(f"stack: all shapes must be equal; got {shapes}") from None

    def backward(g):
        return tuple(np.moveaxis(g, axis, 0))

    return make(out, tuple(tensors), backward)


def split(x, indices_or_sections, axis=0):
    """Split into a list of tensors, as ``numpy.split``."""
    n = x.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        if indices_or_sections <= 0 or n % indices_or_sections:
            raise ValueError(
                f"split: an axis of length {n} cannot be split into {indices_or_sections} "
                f"equal parts"
            )
        step = n // indices_or_sections
        cuts = list(range(step, n, step))
    else:
        cuts = list(indices_or_sections)
    edges = [0, *cuts, n]
    ax = axis % x.ndim
    lead = (slice(None),) * ax
    return [getitem(x, (*lead, slice(lo, hi))) for lo, hi in zip(edges[:-1], edges[1:])]


def pad(x, pad_width, mode="constant", constant_values=0):
    """Pad with a constant, as ``numpy.pad``; backward cuts the padding away."""
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is differentiable here; got mode={mode!r}")
    xd = x.data
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (xd.ndim, 2))
    if (widths < 0).any():
        raise ValueError(f"pad: pad widths must be non-negative; got {pad_width}")
    out = np.pad(xd, widths, mode="constant", constant_values=constant_values)
    inner = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, xd.shape))
    return make(out, (x,), lambda g: (g[inner],))
