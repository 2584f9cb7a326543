"""Ops that move values without changing them: reshape, transpose, indexing,
concatenate, stack, split, pad. Their backward moves the gradient back.
"""

import math

import numpy as np

from .tensor import Tensor, _constant, _make as make, _tensor_operand, tensor, zeros_like


def reshape(x, *shape):
    """View with a new shape (one entry may be -1)."""
    if not isinstance(x, Tensor):  # an array or list: a constant
        x = _tensor_operand(x, "reshape")
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
    if not isinstance(x, Tensor):  # an array or list: a constant
        x = _tensor_operand(x, "transpose")
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


def _axis(axis, ndim, op, name="axis", extra=0):
    """``axis`` as an index in ``range(ndim + extra)``, or a ValueError naming ``op``.

    ``extra=1`` also accepts ``ndim``: a position after the last axis, as ``flatten``'s
    ``start_axis`` may be. A bool or float is a TypeError, as in NumPy.
    """
    _check_integer(axis, op, name)
    if not -ndim <= axis < ndim + extra:
        raise ValueError(
            f"{op}: {name} {axis!r} is out of range for a tensor of {ndim} dimensions "
            f"(accepted: {-ndim} to {ndim - 1 + extra})"
        )
    return int(axis) + ndim if axis < 0 else int(axis)


def _check_integer(axis, op, name="axis"):
    """Raise a TypeError naming ``op`` unless ``axis`` is an integer (a bool is not: True
    would mean axis 1)."""
    if type(axis) is not int and not isinstance(axis, np.integer):
        raise TypeError(f"{op}: {name} must be an integer; got {type(axis).__name__} {axis!r}")


def swapaxes(x, axis1, axis2):
    """Exchange two axes."""
    if not isinstance(x, Tensor):  # an array or list: a constant
        x = _tensor_operand(x, "swapaxes")
    axes = list(range(x.ndim))
    a1, a2 = _axis(axis1, x.ndim, "swapaxes"), _axis(axis2, x.ndim, "swapaxes")
    axes[a1], axes[a2] = axes[a2], axes[a1]
    return transpose(x, axes)


def expand_dims(x, axis):
    """Insert a length-1 axis at ``axis``."""
    if not isinstance(x, Tensor):  # an array or list: a constant
        x = _tensor_operand(x, "expand_dims")
    for ax in axis if isinstance(axis, tuple) else (axis,):
        _check_integer(ax, "expand_dims")
    return reshape(x, np.expand_dims(x.data, axis).shape)


def squeeze(x, axis=None):
    """Remove length-1 axes (all of them, or the one ``axis``, which must have length 1)."""
    if not isinstance(x, Tensor):  # an array or list: a constant
        x = _tensor_operand(x, "squeeze")
    if axis is not None and not isinstance(axis, tuple):
        ax = _axis(axis, x.ndim, "squeeze")
        if x.shape[ax] != 1:
            raise ValueError(
                f"squeeze: axis {axis} has length {x.shape[ax]}, not 1 (shape {x.shape})"
            )
    return reshape(x, np.squeeze(x.data, axis).shape)


def flatten(x, start_axis=1):
    """Merge the axes from ``start_axis`` on into one: (batch, ...) -> (batch, features).

    ``start_axis`` may be ``ndim``, which appends an axis of length 1 ((batch,) ->
    (batch, 1)).
    """
    if not isinstance(x, Tensor):  # an array or list: a constant
        x = _tensor_operand(x, "flatten")
    start = _axis(start_axis, x.ndim, "flatten", "start_axis", extra=1)
    # the merged size written out, not -1: a batch of 0 has no size to infer it from
    return reshape(x, x.shape[:start] + (math.prod(x.shape[start:]),))


def _is_basic_index(index):
    """True when ``index`` selects each element at most once: every item is an integer, a
    slice, None, Ellipsis or a boolean mask. Anything else (an integer array, list, tuple or
    range inside the index, which NumPy reads as an integer-array index) may repeat a
    position, so backward must accumulate (``numpy.add.at``)."""
    items = index if isinstance(index, tuple) else (index,)
    for item in items:
        if item is None or item is Ellipsis or isinstance(item, (int, np.integer, slice)):
            continue  # (a Python bool is an int: a 0-d mask)
        if np.asarray(item).dtype != bool:
            return False
    return True


def _plain_index(index, shape):
    """Replace tensors inside an index of an array of ``shape`` by their arrays (integer
    arrays stay integer).

    A tensor holds floats, so a float tensor is accepted as an index only when it holds
    whole numbers (``rb.tensor([2, 0])``); anything else would be truncated silently. A
    boolean mask made a tensor holds 1.0 and 0.0, which would gather elements 1 and 0: a
    tensor of only 0s and 1s shaped like the axes it indexes (a mask's shape) is refused
    too, as ambiguous.
    """
    if isinstance(index, Tensor):
        return _tensor_index(index.data, shape)
    if isinstance(index, tuple):
        for item in index:
            if isinstance(item, Tensor):
                return _plain_tuple(index, shape)
    return index


def _plain_tuple(index, shape):
    """:func:`_plain_index` of a tuple holding a tensor."""
    out, axis = [], 0  # the axis each item indexes
    for k, item in enumerate(index):
        if item is Ellipsis:  # the items after it index the last axes
            axis = len(shape) - sum(_axes_taken(later) for later in index[k + 1:])
        elif isinstance(item, Tensor):
            item = _tensor_index(item.data, shape[axis:] if 0 <= axis <= len(shape) else None)
        out.append(item)
        if item is not Ellipsis:
            axis += _axes_taken(item)
    return tuple(out)


def _axes_taken(item):
    """How many axes of the indexed array the index item takes: none for None (a new axis)
    and an Ellipsis (counted apart), a boolean mask its ndim, anything else one; a tensor of
    0s and 1s is counted as the mask it looks like, so that :func:`_tensor_index` sees it
    against the axes a mask would cover, after an Ellipsis too."""
    if item is None or item is Ellipsis:
        return 0
    if isinstance(item, (int, np.integer, slice)):
        return 1
    if isinstance(item, Tensor) and item.data.dtype.kind == "f":
        data = item.data
        return data.ndim if data.ndim and ((data == 0) | (data == 1)).all() else 1
    try:
        data = item.data if isinstance(item, Tensor) else np.asarray(item)
    except (TypeError, ValueError):  # not an index at all: NumPy says so in getitem
        return 1
    return data.ndim if data.dtype == bool else 1


def _tensor_index(data, axes_shape):
    """The integer array of a tensor used as an index of axes of shape ``axes_shape``
    (None: unknown, for an index with more items than axes, which NumPy refuses)."""
    if data.dtype.kind != "f":
        return data
    whole = np.isfinite(data) & (data == np.round(data))
    if not whole.all():
        bad = data[~whole].reshape(-1)[:3].tolist()
        raise IndexError(
            f"index: a Tensor index must hold whole numbers; got {bad}. Index with an "
            f"integer ndarray, or a boolean ndarray for a mask (a boolean Tensor holds "
            f"1.0 and 0.0, which would select elements 1 and 0)"
        )
    if (axes_shape is not None and data.ndim and data.shape == tuple(axes_shape[:data.ndim])
            and ((data == 0) | (data == 1)).all()):
        raise IndexError(
            f"index: a Tensor of 0s and 1s shaped like the axes it indexes {data.shape} looks "
            f"like a boolean mask, which a Tensor cannot hold (it would select elements 1 and "
            f"0); index with a boolean ndarray for a mask (m.data > 0), or an integer ndarray "
            f"for positions (m.data.astype(int))"
        )
    return data.astype(np.intp)


def getitem(x, index):
    """``x[index]`` with basic and integer-array indexing.

    Backward scatters the gradient into zeros; an index that repeats an
    element accumulates its gradients (``numpy.add.at``).
    """
    if not isinstance(x, Tensor):  # an array or list: a constant
        x = _tensor_operand(x, "getitem")
    xd = x.data
    index = _plain_index(index, xd.shape)
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
    """The inputs of ``op`` as tensors; a constant among tensors is converted as in the
    arithmetic ops (a list of floats or integers takes the first tensor's dtype, an ndarray
    keeps its own: :func:`~rosenblatt.autodiff.tensor._constant`), constants alone as by
    :func:`~rosenblatt.autodiff.tensor.tensor` (lists of floats become float32)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: needs at least one tensor")
    like = None
    for t in tensors:
        if isinstance(t, Tensor):
            like = t.data
            break
    out = []
    for t in tensors:
        if isinstance(t, Tensor):
            out.append(t)
        elif like is None:
            out.append(tensor(t))
        else:
            c = _constant(t, like)
            out.append(Tensor(c if isinstance(c, np.ndarray) else np.asarray(c, like.dtype)))
    return out


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis (``axis=None``: flatten them first, as NumPy)."""
    tensors = _as_tensors(tensors, "concatenate")
    if axis is None:
        tensors = [reshape(t, -1) for t in tensors]
        axis = 0
    datas = [t.data for t in tensors]
    if any(d.ndim == 0 for d in datas):
        raise ValueError(
            "concatenate: 0-d tensors have no axis to join along; use stack (or axis=None)"
        )
    axis = _axis(axis, datas[0].ndim, "concatenate")
    try:
        out = np.concatenate(datas, axis=axis)
    except ValueError:
        shapes = ", ".join(str(d.shape) for d in datas)
        raise ValueError(
            f"concatenate: shapes {shapes} must match except along axis {axis}"
        ) from None

    def backward(g):  # each input gets its own stretch of g along the axis
        lead = (slice(None),) * axis
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
    ndim = datas[0].ndim + 1  # the result's: a negative axis counts from its end
    _check_integer(axis, "stack")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"stack: axis {axis!r} is out of range for stacking tensors of {ndim - 1} "
            f"dimensions (accepted: {-ndim} to {ndim - 1})"
        )
    axis = int(axis) % ndim
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
    if not isinstance(x, Tensor):
        x = _tensor_operand(x, "split")
    ax = _axis(axis, x.ndim, "split")
    n = x.shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        if indices_or_sections <= 0 or n % indices_or_sections:
            raise ValueError(
                f"split: an axis of length {n} cannot be split into {indices_or_sections} "
                f"equal parts"
            )
        step = n // indices_or_sections  # (0 for an empty axis: every part is empty)
        cuts = [step * i for i in range(1, indices_or_sections)]
    else:
        try:
            if isinstance(indices_or_sections, str):
                raise TypeError
            cuts = list(indices_or_sections)
        except TypeError:  # (a float: "'float' object is not iterable", naming nothing)
            raise TypeError(
                f"split: indices_or_sections must be an int (that many equal parts) or a "
                f"sequence of indices to cut at; got {type(indices_or_sections).__name__} "
                f"{indices_or_sections!r:.60}") from None
        for cut in cuts:
            _check_integer(cut, "split", "each index to cut at")
    edges = [0, *cuts, n]
    lead = (slice(None),) * ax
    return [getitem(x, (*lead, slice(lo, hi))) for lo, hi in zip(edges[:-1], edges[1:])]


def pad(x, pad_width, mode="constant", constant_values=0):
    """Pad with a constant, as ``numpy.pad``; backward cuts the padding away."""
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is differentiable here; got mode={mode!r}")
    if not isinstance(x, Tensor):
        x = _tensor_operand(x, "pad")
    xd = x.data
    widths = np.asarray(pad_width)
    if widths.dtype.kind not in "iu":  # as numpy.pad: 1.5 would silently pad 1
        raise TypeError(f"pad: pad_width must be integers (numbers of values to add); got "
                        f"{pad_width!r}")
    try:
        widths = np.broadcast_to(widths.astype(int, copy=False), (xd.ndim, 2))
    except ValueError:  # NumPy's "remapped shapes" message names neither pad nor the axes
        raise ValueError(
            f"pad: pad_width must be (before, after) for each of the {xd.ndim} axes of x "
            f"(shape {xd.shape}), one (before, after) pair for all, or one int; got "
            f"{pad_width!r:.80}") from None
    if (widths < 0).any():
        raise ValueError(f"pad: pad widths must be non-negative; got {pad_width}")
    out = np.pad(xd, widths, mode="constant", constant_values=constant_values)
    inner = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, xd.shape))
    return make(out, (x,), lambda g: (g[inner],))
