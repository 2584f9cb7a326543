"""Elementwise functions and their derivatives (notes: "Activation functions",
the "Propagation / Backpropagation" table).

Conventions at kinks follow PyTorch: relu'(0) = 0, |x|'(0) = 0; where
``maximum``/``minimum`` tie, the gradient is split evenly; ``clip`` passes the
gradient where min <= x <= max.
"""

import math

import numpy as np

from . import _kernels
from .tensor import _data, make, needs_grad, sum_to_shape

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # what the kernels compile for
RELU_KERNEL_MIN_SIZE = 4096  # below, a compiled call's dispatch costs more than NumPy's passes


def _flat_kernel_case(x):
    """A contiguous float32/64 array large enough for a compiled element-wise pass."""
    return x.size >= RELU_KERNEL_MIN_SIZE and x.flags.c_contiguous and x.dtype in _KERNEL_DTYPES


def _same_layout(a, b):
    """``a`` contiguous, with ``b``'s shape and dtype: a compiled pass takes the two."""
    return a.shape == b.shape and a.dtype == b.dtype and a.flags.c_contiguous


def _from_output(name, g, y, numpy_twin):
    """A vector-Jacobian product computed from the op's output ``y``: the compiled kernel
    ``name`` (one pass, with the ``fast`` extra, for 4,096+ contiguous float values; checked
    against ``numpy_twin`` in ``tests/autodiff/test_dense_kernels.py``) or ``numpy_twin(g, y)``."""
    if _flat_kernel_case(g) and _same_layout(y, g):
        kernel = _kernels.get(name)
        if kernel is not None:
            out = np.empty_like(g)
            kernel(g.reshape(-1), y.reshape(-1), out.reshape(-1))
            return out
    return numpy_twin(g, y)


def exp(x):
    """e^x; d/dx = e^x."""
    y = np.exp(x.data)
    return make(y, (x,), lambda g: (g * y,))


def log(x):
    """ln x; d/dx = 1/x."""
    xd = x.data
    return make(np.log(xd), (x,), lambda g: (g / xd,))


def sqrt(x):
    """sqrt(x); d/dx = 1 / (2 sqrt(x))."""
    y = np.sqrt(x.data)
    return make(y, (x,), lambda g: (g / (2 * y),))


def abs(x):  # noqa: A001 - the NumPy name
    """|x|; d/dx = sign(x), 0 at 0."""
    xd = x.data
    return make(np.abs(xd), (x,), lambda g: (g * np.sign(xd),))


def tanh(x):
    """tanh(x); d/dx = 1 - tanh^2(x) = 1 / cosh^2(x)."""
    y = np.tanh(x.data)
    return make(y, (x,), lambda g: (_from_output("tanh_backward", g, y, _tanh_slope),))


def _tanh_slope(g, y):
    return g * (1 - y * y)


def sigmoid_array(x, out=None):
    """The logistic function on an array, stable for any magnitude (into ``out``, which
    may be ``x``, if given).

    Uses sigma(x) = (1 + tanh(x/2)) / 2, which never overflows; one new array at most, the
    tanh in place (20 us against 32 us for 64 x 784 float32 with a second temporary; a
    compiled pass with the kernels' rational tanh was no faster).
    """
    y = np.multiply(x, 0.5, out=out)
    np.tanh(y, out=y)
    y += 1
    y *= 0.5
    return y


def sigmoid_backward_array(g, y):
    """``g * y * (1 - y)``: the sigmoid's vector-Jacobian product given its output ``y``;
    one compiled pass for 4,096+ values with the ``fast`` extra."""
    return _from_output("sigmoid_backward", g, y, _sigmoid_slope)


def _sigmoid_slope(g, y):
    return g * y * (1 - y)


def sigmoid(x):
    """1 / (1 + e^-x); d/dx = sigma(x) (1 - sigma(x))."""
    y = sigmoid_array(x.data)
    return make(y, (x,), lambda g: (sigmoid_backward_array(g, y),))


_ZEROS = {}  # dtype -> one flat read-only buffer of zeros, grown to the largest request
_ZEROS_LIMIT = 1 << 24  # elements; beyond that, not worth keeping a buffer around


def zeros_view(shape, dtype):
    """Read-only zeros of ``shape`` and ``dtype``: a view of one shared buffer, or None
    for arrays over 16M elements.

    Why: NumPy's ``maximum(x, 0)`` broadcasts the scalar through its generic
    strided loop, about 3x slower than ``maximum(x, z)`` against a contiguous
    array of zeros, which takes the vectorized loop. ReLU is the one place that
    matters: it runs on every activation of most networks.
    """
    n = math.prod(shape)
    if n > _ZEROS_LIMIT:
        return None
    buf = _ZEROS.get(dtype)
    if buf is None or buf.size < n:
        dtype = np.dtype(dtype)
        buf = np.zeros(max(n, 4096), dtype=dtype)
        buf.flags.writeable = False
        _ZEROS[dtype] = buf
    return buf[:n].reshape(shape)


def relu_array(x, out=None):
    """max(x, 0) on an array, elementwise (NaN stays NaN)."""
    if x.size < 1024:  # small: the scalar's loop is fine, and the view would cost more
        return np.maximum(x, 0, out=out)
    zeros = zeros_view(x.shape, x.dtype)
    return np.maximum(x, 0 if zeros is None else zeros, out=out)


def relu(x):
    """max(0, x); d/dx = 1{x > 0}."""
    y = relu_array(x.data)
    return make(y, (x,), lambda g: (relu_backward_array(g, y),))


def relu_backward_array(g, y):
    """``g * (y > 0)``: ReLU's vector-Jacobian product given its output ``y``. With the
    ``fast`` extra, arrays of 4,096+ values take one compiled pass (checked against this
    NumPy code in ``tests/autodiff/test_kernels.py``)."""
    return _from_output("relu_backward", g, y, _relu_slope)


def _relu_slope(g, y):
    return g * (y > 0)


def clip(x, min=None, max=None):  # noqa: A002 - the NumPy names
    """Clamp to [min, max] (either may be None); gradient 1 inside, 0 outside."""
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    xd = x.data
    y = np.clip(xd, min, max)

    def backward(g):
        inside = np.ones(xd.shape, dtype=bool)
        if min is not None:
            inside &= xd >= min
        if max is not None:
            inside &= xd <= max
        return (g * inside,)

    return make(y, (x,), backward)


def _extremum(a, b, pick, name):
    ad, bd = _data(a), _data(b)
    try:
        out = pick(ad, bd)
    except ValueError:
        raise ValueError(
            f"{name}: shapes {np.shape(ad)} and {np.shape(bd)} cannot be broadcast together"
        ) from None

    def backward(g):
        a_wins = (ad == out).astype(g.dtype)
        b_wins = (bd == out).astype(g.dtype)
        total = a_wins + b_wins  # 2 where they tie: split the gradient evenly
        return (
            sum_to_shape(g * a_wins / total, ad.shape) if needs_grad(a) else None,
            sum_to_shape(g * b_wins / total, bd.shape) if needs_grad(b) else None,
        )

    return make(out, (a, b), backward)


def maximum(a, b):
    """Elementwise max(a, b), broadcasting."""
    return _extremum(a, b, np.maximum, "maximum")


def minimum(a, b):
    """Elementwise min(a, b), broadcasting."""
    return _extremum(a, b, np.minimum, "minimum")


_BITS = {4: np.int32, 8: np.int64}


def select(mask, a, b):
    """``np.where(mask, a, b)`` without branches, for arrays of one float dtype and shape
    (broadcast otherwise): the bits of ``a`` where the mask holds, of ``b`` elsewhere.

    NumPy's ``where`` takes a branch per element; on a mask of mixed signs about every other
    one is mispredicted (115 us for 128 x 256 float32, 30 us this way). Exactly ``where``'s
    values, NaN and signed zeros included. Used by :func:`where` and PReLU."""
    a, b = np.broadcast_arrays(a, b)
    bits = _BITS.get(a.dtype.itemsize)
    if (bits is None or a.dtype != b.dtype or a.dtype.kind != "f" or mask.shape != a.shape
            or not (a.flags.c_contiguous and b.flags.c_contiguous)):
        return np.where(mask, a, b)
    m = mask.view(np.int8).astype(bits)  # 1 where the mask holds
    np.negative(m, out=m)  # all bits set there
    out = np.bitwise_and(a.view(bits), m)
    np.invert(m, out=m)
    m &= b.view(bits)
    out |= m
    return out.view(a.dtype)


def where(condition, a, b):
    """Take ``a`` where ``condition`` holds, ``b`` elsewhere (broadcasting)."""
    cond = np.asarray(_data(condition)).astype(bool, copy=False)
    ad, bd = _data(a), _data(b)
    try:
        out = select(cond, ad, bd)
    except ValueError:
        raise ValueError(
            f"where: shapes {cond.shape}, {np.shape(ad)} and {np.shape(bd)} cannot be "
            f"broadcast together"
        ) from None

    def backward(g):
        zero = np.zeros_like(g)
        return (
            None,
            sum_to_shape(select(cond, g, zero), ad.shape) if needs_grad(a) else None,
            sum_to_shape(select(cond, zero, g), bd.shape) if needs_grad(b) else None,
        )

    return make(out, (condition, a, b), backward)
