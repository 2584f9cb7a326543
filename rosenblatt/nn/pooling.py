"""Pooling (subsampling) layers (notes: "Convolutional Neural Networks", "Pooling layers").

A pooling neuron condenses a window of a feature map into one value:

* max pooling: ``max`` over the window ("was your feature present?");
  the gradient goes to the (first) arg-max, as in PyTorch; a NaN is the
  maximum, and the gradient goes to the window's last NaN (PyTorch's rule);
* average pooling: the mean over the window; every input gets grad / (kh kw);
* L2 pooling: ``sqrt(sum over the window of OUT^2)``; the gradient is
  ``grad * x / out`` (0 where the whole window is 0);
* k-max pooling: the ``k`` largest values along an axis, in their original
  order; the gradient goes back to where they came from;
* global max / average pooling: one value per feature map.

Windows are ``kernel_size`` with ``stride`` (default: the kernel size, i.e.
non-overlapping), no padding; the output has ``(n - f) // s + 1`` entries
per axis (a remainder that does not fill a window is dropped, like
PyTorch's default ``ceil_mode=False``). Every op is one graph node with a
vectorised forward: a reduction over the ``kh kw`` strided views that pick
one element of every window (no copy of the windows); the backward scatters
into the input with the same loop over the window offsets.

With the ``fast`` extra (Numba), max pooling of a C-contiguous or
channel-major input runs as two compiled kernels instead
(``autodiff/_numba_kernels.py``, split over the kernel threads): the forward
keeps each window's arg-max (one byte per window) and the backward writes
every input position once from it; the NumPy code below is their twin and
the reference.
"""

import numpy as np

from ..autodiff import _kernels
from ..autodiff.tensor import Tensor, _make as make, as_tensor_array
from ..checks import is_int, positive_int
from . import workspace
from .conv import _pair
from .module import Module, no_state


def _array(x, where):
    # as rb.tensor converts: a list of Python floats is float32 (not NumPy's float64)
    return x.data if isinstance(x, Tensor) else as_tensor_array(x, where=where)


def _geometry(xd, kernel_size, stride, where):
    """Check a (N, C, H, W) input; return (kh, kw), (sh, sw), (oh, ow)."""
    if xd.ndim != 4:
        raise ValueError(
            f"{where}: expected an input of shape (batch, channels, height, width); got {xd.shape}"
        )
    kh, kw = _pair(kernel_size, 2, "kernel_size", where, 1)
    sh, sw = (kh, kw) if stride is None else _pair(stride, 2, "stride", where, 1)
    h, w = xd.shape[2:]
    if h < kh or w < kw:
        raise ValueError(
            f"{where}: the window {(kh, kw)} is larger than the input's {(h, w)} (input shape "
            f"{xd.shape})"
        )
    return (kh, kw), (sh, sw), ((h - kh) // sh + 1, (w - kw) // sw + 1)


def _offsets(k, s, out):
    """For each window offset (i, j): the slices picking that element of every window.

    ``x[:, :, rows, cols]`` is then an (N, C, oh, ow) strided view: pooling is
    a reduction over these ``kh kw`` views, with no copy of the windows.
    """
    (kh, kw), (sh, sw), (oh, ow) = k, s, out
    return [
        (slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw))
        for i in range(kh) for j in range(kw)
    ]


def _new_like(view, fill_zero=False):
    """A pooled array shaped like ``view``, laid out in memory like it (e.g. channel-major)."""
    order = sorted(range(view.ndim), key=lambda a: -abs(view.strides[a]))
    shape = tuple(view.shape[a] for a in order)
    buf = workspace.zeros(shape, view.dtype) if fill_zero else workspace.empty(shape, view.dtype)
    return buf.transpose(np.argsort(order))


def _spread(values, xd, k, s, out):
    """Adjoint of reading the windows: add ``values(o)`` (N, C, oh, ow) at window offset o.

    The gradient array is created like the input (same memory layout).
    """
    gx = _new_like(xd, fill_zero=True)
    overlap = s[0] < k[0] or s[1] < k[1]
    for o, (rows, cols) in enumerate(_offsets(k, s, out)):
        if overlap:
            gx[:, :, rows, cols] += values(o)
        else:  # each input element is in at most one window
            gx[:, :, rows, cols] = values(o)
    return gx


def _planes(xd):
    """``xd`` (N, C, H, W) as C-contiguous (P, H, W) planes and the axis order they come in
    ((0, 1): NCHW, (1, 0): channel-major), or None when neither layout holds."""
    h, w = xd.shape[2:]
    if xd.flags.c_contiguous:
        return xd.reshape(-1, h, w), (0, 1)
    xt = xd.transpose(1, 0, 2, 3)
    if xt.flags.c_contiguous:
        return xt.reshape(-1, h, w), (1, 0)
    return None


def _max_pool2d_compiled(x, xd, planes, k, s, out, forward_kernel):
    """max_pool2d with the compiled kernels: the arg-max found once (forward) and kept, one
    byte per window, for the backward; outputs laid out like the input."""
    xp, order = planes
    (kh, kw), (sh, sw), (oh, ow) = k, s, out
    lead = tuple(xd.shape[a] for a in order)
    y = workspace.empty(lead + (oh, ow), xd.dtype)
    arg = workspace.empty(lead + (oh, ow), np.uint8)
    planes_n = xp.shape[0]
    split = min(_kernels.parts(xd.size), planes_n)
    if split > 1:  # one range of planes per thread (see _kernels.run_parts), serial kernels
        cut = _kernels.bounds(planes_n, split)
        fk = _kernels.get("max_pool_forward")
        _kernels.run_parts(lambda k: fk(xp, y.reshape(-1, oh, ow), arg.reshape(-1, oh, ow),
                                        kh, kw, sh, sw, cut[k], cut[k + 1]), split)
        backward_kernel = _kernels.get("max_pool_backward")
    else:
        forward_kernel(xp, y.reshape(-1, oh, ow), arg.reshape(-1, oh, ow), kh, kw, sh, sw,
                       0, planes_n)
        backward_kernel = _kernels.threaded("max_pool_backward", xd.size)
    h, w = xd.shape[2:]
    overlap = sh < kh or sw < kw
    fill = not (sh == kh and sw == kw and h == oh * kh and w == ow * kw)

    def backward(g):
        gx = workspace.empty(lead + (h, w), g.dtype)
        gp = g.transpose(order + (2, 3)) if order == (1, 0) else g
        gp = np.ascontiguousarray(gp, dtype=gx.dtype).reshape(-1, oh, ow)
        a3, gx3 = arg.reshape(-1, oh, ow), gx.reshape(-1, h, w)
        if split > 1:
            _kernels.run_parts(lambda k: backward_kernel(gp, a3, gx3, kh, kw, sh, sw, fill,
                                                         overlap, cut[k], cut[k + 1]), split)
        else:
            backward_kernel(gp, a3, gx3, kh, kw, sh, sw, fill, overlap, 0, planes_n)
        return (gx.transpose(order + (2, 3)) if order == (1, 0) else gx,)

    return make(y.transpose(order + (2, 3)) if order == (1, 0) else y, (x,), backward)


def max_pool2d(x, kernel_size, stride=None, *, where="max_pool2d"):
    """Max pooling over (kh, kw) windows; the gradient goes to each window's arg-max.

    Ties go to the first maximum in row-major window order, as in PyTorch. A NaN in a
    window is its maximum, and the window's gradient goes to its last NaN in that
    order (PyTorch's ``val > maxval || isnan(val)``; compiled and NumPy paths alike).

    Parameters
    ----------
    x : Tensor or array_like, shape (batch, channels, height, width)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size`` (non-overlapping windows).
    where : str, default "max_pool2d"
        The name error messages start with (a layer passes its own; so do every pooling
        function's).

    Returns
    -------
    Tensor, shape (batch, channels, (height - kh) // sh + 1, (width - kw) // sw + 1)

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> rb.nn.functional.max_pool2d(x, 2).data
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """
    xd = _array(x, where)
    k, s, out = _geometry(xd, kernel_size, stride, where)
    # the compiled kernels are built for float32 and float64 only (float16: the NumPy path)
    if k[0] * k[1] <= 256 and xd.dtype in (np.float32, np.float64):
        kernel = _kernels.threaded("max_pool_forward", xd.size)
        planes = None if kernel is None else _planes(xd)
        if planes is not None:
            return _max_pool2d_compiled(x, xd, planes, k, s, out, kernel)
    offsets = _offsets(k, s, out)
    rows, cols = offsets[0]
    y = _new_like(xd[:, :, rows, cols])  # laid out like the input
    np.copyto(y, xd[:, :, rows, cols])
    for rows, cols in offsets[1:]:
        np.maximum(y, xd[:, :, rows, cols], out=y)

    def backward(g):
        # The arg-max is found again here rather than stored: comparing with y is
        # cheaper than tracking indices in the forward. ``taken`` marks windows whose
        # first maximum was already seen, so a tie gives the gradient to the first.
        gx = _new_like(xd, fill_zero=True)
        overlap = s[0] < k[0] or s[1] < k[1]
        finite = bool(np.isfinite(g).all())
        # a NaN window (y == NaN matches nothing) gives its gradient to its last NaN; y's
        # maximum (one pass, no array) is NaN if any window is
        last_nan = _last_nan_masks(xd, y, offsets) if np.isnan(y.max(initial=-np.inf)) else {}
        taken = None
        for i, (rows, cols) in enumerate(offsets):
            first = xd[:, :, rows, cols] == y
            if taken is None:
                taken = first
            else:
                first &= ~taken
                taken |= first
            if i in last_nan:
                first = first | last_nan[i]  # (a new array: ``taken`` may be ``first``)
            if finite:  # g * first: the fast form
                if overlap:
                    gx[:, :, rows, cols] += g * first
                else:
                    gx[:, :, rows, cols] = g * first
                continue
            # select, not multiply: an infinite gradient must not become inf * 0 = NaN in the
            # other elements of the window (PyTorch and the compiled kernel select too)
            view = gx[:, :, rows, cols]
            if overlap:
                np.add(view, g, out=view, where=first)
            else:
                np.copyto(view, g, where=first)
        return (gx,)

    return make(y, (x,), backward)


def _last_nan_masks(xd, y, offsets):
    """{offset index: where that offset holds its window's last NaN} for the windows whose
    maximum ``y`` is NaN (PyTorch's arg-max there); offsets holding none are left out."""
    done = ~np.isnan(y)
    masks = {}
    for i in range(len(offsets) - 1, -1, -1):
        rows, cols = offsets[i]
        last = np.isnan(xd[:, :, rows, cols])
        last &= ~done
        if last.any():
            done |= last
            masks[i] = last
    return masks


def _window_sum(xd, k, s, out):
    offsets = _offsets(k, s, out)
    rows, cols = offsets[0]
    total = xd[:, :, rows, cols].copy(order="K")
    for rows, cols in offsets[1:]:
        total += xd[:, :, rows, cols]
    return total


def avg_pool2d(x, kernel_size, stride=None, *, where="avg_pool2d"):
    """Average pooling over (kh, kw) windows; each input gets grad / (kh kw) per window.

    Parameters and returns as :func:`max_pool2d`.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> rb.nn.functional.avg_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2).data
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    """
    xd = _array(x, where)
    k, s, out = _geometry(xd, kernel_size, stride, where)
    area = k[0] * k[1]
    if xd.dtype.itemsize < 4:
        # half precision: the window sums in float32, as PyTorch (nine 8000s overflow
        # float16, their mean does not); the mean back in the input's dtype
        y = (_window_sum(xd.astype(np.float32), k, s, out) / area).astype(xd.dtype)
    else:
        y = _window_sum(xd, k, s, out)
        y /= area

    def backward(g):
        share = g / area
        return (_spread(lambda o: share, xd, k, s, out),)

    return make(y, (x,), backward)


def l2_pool2d(x, kernel_size, stride=None, *, where="l2_pool2d"):
    """L2 pooling: sqrt of the sum of squares over each (kh, kw) window.

    Equals PyTorch's ``lp_pool2d`` with ``norm_type=2``. The gradient is
    ``grad * x / out``, taken as 0 for a window of zeros (where the square
    root has no derivative).

    Parameters and returns as :func:`max_pool2d`.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> rb.nn.functional.l2_pool2d(np.full((1, 1, 2, 2), 3.0), 2).data
    array([[[[6.]]]])
    """
    xd = _array(x, where)
    k, s, out = _geometry(xd, kernel_size, stride, where)
    # half precision: squares and sums in float32, as avg_pool2d (|x| > 256 squares past
    # float16's range while the window's norm fits); the result back in the input's dtype
    xw = xd.astype(np.float32) if xd.dtype.itemsize < 4 else xd
    yw = np.sqrt(_window_sum(xw * xw, k, s, out))
    y = yw.astype(xd.dtype, copy=False)

    def backward(g):
        safe = np.where(yw > 0, yw, 1)
        ratio = np.where(yw > 0, g / safe, 0)  # d out / d x = x / out
        return ((_spread(lambda o: ratio, xw, k, s, out) * xw).astype(xd.dtype, copy=False),)

    return make(y, (x,), backward)


def kmax_pool(x, k, axis=-1, *, where="kmax_pool"):
    """k-max pooling: the ``k`` largest values along ``axis``, kept in their original order.

    Ties are broken towards the earlier position. The gradient flows back to
    the selected positions only.

    Parameters
    ----------
    x : Tensor or array_like
    k : int
        How many values to keep; ``1 <= k <= x.shape[axis]``.
    axis : int, default -1
    where : str, default "kmax_pool"
        The name error messages start with.

    Returns
    -------
    Tensor, the shape of ``x`` with ``k`` along ``axis``

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> rb.nn.functional.kmax_pool(np.array([[3.0, 1.0, 5.0, 2.0, 4.0]]), 3).data
    array([[3., 5., 4.]])
    """
    xd = _array(x, where)
    if xd.ndim == 0:
        raise ValueError(f"{where}: expected an array with at least one axis; got a scalar")
    if not is_int(axis):  # a bool would pass as 0 or 1, a float fail inside NumPy
        raise TypeError(f"{where}: axis must be an integer; got {axis!r}")
    if not -xd.ndim <= axis < xd.ndim:
        raise ValueError(f"{where}: axis {axis} is out of range for input shape {xd.shape}")
    n = xd.shape[axis]
    if not is_int(k) or not 1 <= k <= n:
        raise ValueError(
            f"{where}: k must be an integer from 1 to {n} (the length of axis {axis} of input "
            f"shape {xd.shape}); got {k!r}"
        )
    # largest first, earlier first on ties; NaN ranks above everything, +inf included
    # (torch.topk), so a diverged layer below shows in the output instead of vanishing.
    key = np.negative(xd)
    nan = np.isnan(key)
    if nan.any():  # lexsort is stable: by NaN-ness first, then by -x (NaN's key unused)
        key[nan] = 0
        order = np.lexsort((key, ~nan), axis=axis)
    else:  # the usual case: one stable sort
        order = np.argsort(key, axis=axis, kind="stable")
    idx = np.sort(np.take(order, np.arange(k), axis=axis), axis=axis)  # original order
    y = np.take_along_axis(xd, idx, axis=axis)

    def backward(g):
        gx = np.zeros(xd.shape, dtype=g.dtype)
        np.put_along_axis(gx, idx, g, axis=axis)
        return (gx,)

    return make(y, (x,), backward)


def _check_global(xd, where):
    if xd.ndim != 4:
        raise ValueError(
            f"{where}: expected an input of shape (batch, channels, height, width); got {xd.shape}"
        )
    return xd.reshape(xd.shape[:2] + (xd.shape[2] * xd.shape[3],))  # not -1: batch 0


def global_max_pool2d(x, *, where="global_max_pool2d"):
    """The maximum of each feature map: (batch, channels, h, w) -> (batch, channels).

    Maps of no values (h or w 0) raise ValueError.

    The gradient goes to the map's first maximum in row-major order, or to its last NaN
    if it holds one (as :func:`max_pool2d` and PyTorch's ``adaptive_max_pool2d``).

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> rb.nn.functional.global_max_pool2d(np.arange(8.0).reshape(1, 2, 2, 2)).data
    array([[3., 7.]])
    """
    xd = _array(x, where)
    flat = _check_global(xd, where)
    if flat.shape[-1] == 0:  # (the mean of no values is NaN, as PyTorch's; a maximum, nothing)
        raise ValueError(f"{where}: expected non-empty feature maps; got shape {xd.shape} "
                         f"(height x width = 0: no maximum to take)")
    idx = flat.argmax(axis=-1)[..., None]  # (the first NaN, where a map has one)
    y = np.take_along_axis(flat, idx, axis=-1)[..., 0]
    nan = np.isnan(y)  # one value per map: cheap
    if nan.any():
        idx[nan, 0] = flat.shape[-1] - 1 - np.isnan(flat[nan][:, ::-1]).argmax(axis=-1)

    def backward(g):
        gflat = np.zeros(flat.shape, dtype=g.dtype)
        np.put_along_axis(gflat, idx, g[..., None], axis=-1)
        return (gflat.reshape(xd.shape),)

    return make(y, (x,), backward)


def global_avg_pool2d(x, *, where="global_avg_pool2d"):
    """The mean of each feature map: (batch, channels, h, w) -> (batch, channels).

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> rb.nn.functional.global_avg_pool2d(np.arange(8.0).reshape(1, 2, 2, 2)).data
    array([[1.5, 5.5]])
    """
    xd = _array(x, where)
    flat = _check_global(xd, where)
    area = flat.shape[-1]
    y = flat.mean(axis=-1)

    def backward(g):
        return (np.broadcast_to((g / area)[..., None, None], xd.shape),)

    return make(y, (x,), backward)


# -- layers --------------------------------------------------------------------

def _name(layer):
    """The layer as its errors name it: ``MaxPool2d(kernel_size=(2, 2))``."""
    return f"{type(layer).__name__}({layer.extra_repr()})"


class _Pool2d(Module):
    _fn = None

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def __init__(self, kernel_size, stride=None):
        name = type(self).__name__
        self.kernel_size = _pair(kernel_size, 2, "kernel_size", name, 1)
        self.stride = self.kernel_size if stride is None else _pair(stride, 2, "stride", name, 1)

    def forward(self, x):
        return type(self)._fn(x, self.kernel_size, self.stride, where=_name(self))

    def extra_repr(self):
        text = f"kernel_size={self.kernel_size}"
        return text if self.stride == self.kernel_size else text + f", stride={self.stride}"


class MaxPool2d(_Pool2d):
    """Max pooling over windows of each feature map (see :func:`max_pool2d`).

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> rb.nn.MaxPool2d(2)(rb.tensor(np.zeros((8, 6, 28, 28)))).shape
    (8, 6, 14, 14)
    """

    _fn = staticmethod(max_pool2d)


class AvgPool2d(_Pool2d):
    """Average pooling over windows of each feature map (see :func:`avg_pool2d`).

    Parameters as :class:`MaxPool2d`.
    """

    _fn = staticmethod(avg_pool2d)


class L2Pool2d(_Pool2d):
    """L2 pooling, sqrt of the sum of squares over each window (see :func:`l2_pool2d`).

    Parameters as :class:`MaxPool2d`.
    """

    _fn = staticmethod(l2_pool2d)


class KMaxPool(Module):
    """k-max pooling: the ``k`` largest values along ``axis``, in their original order.

    Parameters
    ----------
    k : int
    axis : int, default -1
        For a Conv1d output (batch, channels, length), -1 pools over time.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> rb.nn.KMaxPool(2)(rb.tensor(np.zeros((4, 3, 10)))).shape
    (4, 3, 2)
    """

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def __init__(self, k, axis=-1):
        self.k = positive_int("KMaxPool", "k", k)
        if not is_int(axis):
            raise TypeError(f"KMaxPool: axis must be an integer; got {axis!r}")
        self.axis = int(axis)

    def forward(self, x):
        return kmax_pool(x, self.k, self.axis, where=_name(self))

    def extra_repr(self):
        return f"k={self.k}" + ("" if self.axis == -1 else f", axis={self.axis}")


class GlobalMaxPool2d(Module):
    """The maximum of each feature map: (batch, channels, h, w) -> (batch, channels)."""

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def forward(self, x):
        return global_max_pool2d(x, where=_name(self))


class GlobalAvgPool2d(Module):
    """The mean of each feature map: (batch, channels, h, w) -> (batch, channels)."""

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def forward(self, x):
        return global_avg_pool2d(x, where=_name(self))
