"""Elementwise functions and their derivatives (notes: "Activation functions",
the "Propagation / Backpropagation" table).

Conventions at kinks follow PyTorch: relu'(0) = 0, |x|'(0) = 0; where
``maximum``/``minimum`` tie, the gradient is split evenly; ``clip`` passes the
gradient where min <= x <= max (a tensor bound gets it where it is the output, as
``torch.clamp``'s). The backwards of ReLU, ``clip``, ``maximum`` and
``minimum`` *select* as PyTorch's (``threshold_backward``): 0 where the
derivative is 0 even for an infinite or NaN upstream gradient (a multiply would
give inf * 0 = NaN), and the gradient itself where the input is NaN for ReLU
(NaN <= 0 is false).
"""

import math

import numpy as np

from . import _kernels
from .tensor import (
    DEFAULT_DTYPE,
    Tensor,
    _constant,
    _data,
    _make as make,
    _operands,
    _tensor_operand,
    needs_grad,
    sum_to_shape,
)

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
    """e^x; d/dx = e^x. ``x``: a Tensor or array_like (as for all the ops ``rb`` exports)."""
    if not isinstance(x, Tensor):  # an array or list: a constant (rb.exp(x), not x.exp())
        x = _tensor_operand(x, "exp")
    y = np.exp(x.data)
    return make(y, (x,), lambda g: (g * y,))


def log(x):
    """ln x; d/dx = 1/x."""
    if not isinstance(x, Tensor):
        x = _tensor_operand(x, "log")
    xd = x.data
    return make(np.log(xd), (x,), lambda g: (g / xd,))


def sqrt(x):
    """sqrt(x); d/dx = 1 / (2 sqrt(x))."""
    if not isinstance(x, Tensor):
        x = _tensor_operand(x, "sqrt")
    y = np.sqrt(x.data)
    return make(y, (x,), lambda g: (g / (2 * y),))


def abs(x):  # noqa: A001 - the NumPy name
    """|x|; d/dx = sign(x), 0 at 0."""
    if not isinstance(x, Tensor):
        x = _tensor_operand(x, "abs")
    xd = x.data
    return make(np.abs(xd), (x,), lambda g: (g * np.sign(xd),))


def tanh(x):
    """tanh(x); d/dx = 1 - tanh^2(x) = 1 / cosh^2(x)."""
    if not isinstance(x, Tensor):  # an array or list: a constant
        x = _tensor_operand(x, "tanh")
    y = np.tanh(x.data)
    return make(y, (x,), lambda g: (_from_output("tanh_backward", g, y, _tanh_slope),))


def _tanh_slope(g, y):
    return g * (1 - y * y)


_EXP_LIMIT = {}  # dtype -> the x above which e^x could overflow: ln(largest float) - 1


def _exp_limit(dtype):
    limit = _EXP_LIMIT.get(dtype)
    if limit is None:
        limit = _EXP_LIMIT[dtype] = dtype.type(np.log(np.finfo(dtype).max) - 1)
    return limit


def sigmoid_probabilities(x, out=None):
    """The logistic function to absolute accuracy, for probabilities that are sampled,
    multiplied or averaged but never logged (an RBM's unit probabilities, an LSTM's gates):
    sigma(x) = (1 + tanh(x/2)) / 2, one tanh and two cheap passes, no overflow anywhere.

    Its error is a rounding error of 1 (6e-8 in float32), not of sigma(x): small values
    lose relative accuracy (0 below x = -17 in float32). :func:`sigmoid_array` is exact
    relative to sigma(x) everywhere, for a third more time (19 against 27 us for 128 x 256
    float32); the autodiff op uses that one, and the logistic losses' gradients use its
    equal e^min(x, 0) / (1 + e^-|x|), from the e^-|x| their forward computes.
    """
    if x.dtype.kind != "f":
        x = np.asarray(x, np.float64)
    y = np.multiply(x, x.dtype.type(0.5), out=out)
    np.tanh(y, out=y)
    y += 1
    y *= 0.5
    return y


def sigmoid_array(x, out=None):
    """The logistic function on an array, relatively accurate for any magnitude (into
    ``out``, which may be ``x``, if given).

    sigma(x) = e^x / (1 + e^x) has no cancellation in either tail: sigma(-30) = 9.4e-14 in
    float32, so log sigma(-30) = -30 with gradient 1, as in PyTorch; where e^x underflows,
    so does sigma(x) (to the subnormals, then 0). Only e^x may overflow, above
    x = ln(largest float) - 1 (87.7 in float32, 10.1 in float16), where sigma(x) rounds to
    1: the maximum, one cheap pass, tells whether any x is there (or a NaN). Three passes
    and the check, about 25 us for 128 x 256 float32. The tanh form (1 + tanh(x/2)) / 2
    took 19 us but cancels for x < 0: 44 % off at x = -17 in float32, 0 below -18.
    """
    if x.dtype.kind != "f":
        x = np.asarray(x, np.float64)  # integers, as NumPy's ufuncs take them
    y = np.empty_like(x) if out is None else out  # (a 0-d x gives a NumPy scalar otherwise)
    if x.size == 0:
        return y
    limit = _exp_limit(x.dtype)
    if x.max() <= limit:  # the common case: e^x is finite everywhere
        e = np.exp(x, out=y)
        return np.divide(e, e + 1, out=e)
    # some x above the limit, or a NaN: there e^x / (1 + e^x) is inf / inf, sigma(x) = 1
    high = x > limit  # (before ``y``, which may be ``x``, is written)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(x, out=y)
        np.divide(e, e + 1, out=e)
    y[high] = 1
    return y


def sigmoid_backward_array(g, y):
    """``g * y * (1 - y)``: the sigmoid's vector-Jacobian product given its output ``y``;
    one compiled pass for 4,096+ values with the ``fast`` extra."""
    return _from_output("sigmoid_backward", g, y, _sigmoid_slope)


def _sigmoid_slope(g, y):
    return g * y * (1 - y)


def sigmoid(x):
    """1 / (1 + e^-x); d/dx = sigma(x) (1 - sigma(x))."""
    if not isinstance(x, Tensor):  # an array or list: a constant
        x = _tensor_operand(x, "sigmoid")
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
    if not isinstance(x, Tensor):  # an array or list: a constant
        x = _tensor_operand(x, "relu")
    y = relu_array(x.data)
    return make(y, (x,), lambda g: (relu_backward_array(g, y),))


def relu_backward_array(g, y):
    """0 where y <= 0, else ``g``: ReLU's vector-Jacobian product given its output ``y``
    (>= 0 or NaN). With the ``fast`` extra, arrays of 4,096+ values take one compiled pass
    (checked against this NumPy code in ``tests/autodiff/test_kernels.py``)."""
    return _from_output("relu_backward", g, y, _relu_slope)


def _relu_slope(g, y):
    return keep_where(y != 0, g)  # on ReLU's output (>= 0 or NaN), not (y <= 0): NaN passes


_BITS = {2: np.int16, 4: np.int32, 8: np.int64}  # the integer of each float's size


def keep_where(mask, g, out=None):
    """``g`` where the bool array ``mask`` holds, +0 elsewhere (into ``out`` if given): a
    derivative that is 1 or 0, applied as a select, so an infinite or NaN ``g`` gives 0
    where the mask is off (``g * mask`` gives inf * 0 = NaN there, which then spreads into
    every weight gradient below; PyTorch's ``threshold_backward`` selects).

    The bits of ``g`` are multiplied by the mask as integers: exactly ``g`` or +0, in one
    pass with no branch (NumPy's ``where`` mispredicts about every other element of a
    mixed mask, 10x slower at 32k values); no slower than ``g * mask`` at 32k float32
    values (13 against 16 us), 0.4 us slower below 1k (the two dtype views)."""
    bits = _BITS.get(g.dtype.itemsize)
    if (bits is None or g.dtype.kind != "f" or mask.shape != g.shape
            or (out is not None and out.dtype != g.dtype)):
        kept = np.where(mask, g, g.dtype.type(0))
        if out is None:
            return kept
        np.copyto(out, kept)
        return out
    if out is None:
        return np.multiply(g.view(bits), mask).view(g.dtype)
    np.multiply(g.view(bits), mask, out=out.view(bits))
    return out


def clip(x, min=None, max=None):  # noqa: A002 - the NumPy names
    """Clamp to [min, max] (either may be None); gradient 1 inside, 0 outside.

    The bounds may be numbers, arrays or tensors, broadcasting as in ``numpy.clip`` (each
    gradient is summed back to its operand's shape). A tensor bound that requires grad gets
    the gradient where it is the output, as with ``torch.clamp``: ``min`` where
    ``x < min`` (and ``min < max``), ``max`` where ``x > max`` (or ``max < min``, where the
    output is ``max``); ``x`` keeps it where ``min <= x <= max``.
    """
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    if not isinstance(x, Tensor):
        x = _tensor_operand(x, "clip")
    xd = x.data
    lo = None if min is None else _constant(min, xd)
    hi = None if max is None else _constant(max, xd)
    try:
        y = np.clip(xd, lo, hi)
    except ValueError:
        raise ValueError(
            f"clip: x of shape {xd.shape} and the bounds (min of shape {np.shape(lo)}, max of "
            f"shape {np.shape(hi)}) cannot be broadcast together"
        ) from None

    def backward(g):
        inside = np.ones(y.shape, dtype=bool)
        if lo is not None:
            inside &= xd >= lo
        if hi is not None:
            inside &= xd <= hi
        return (sum_to_shape(keep_where(inside, g), xd.shape),)  # a select, as ReLU's

    if not (needs_grad(min) or needs_grad(max)):  # constant bounds: x's gradient alone
        return make(y, (x,), backward)

    def backward_with_bounds(g):  # torch's clamp_backward_min_max
        gx = backward(g)[0] if needs_grad(x) else None
        g_lo = g_hi = None
        if needs_grad(min):
            below = np.broadcast_to(xd < lo, y.shape)
            if hi is not None:
                below = below & (lo < hi)
            g_lo = sum_to_shape(keep_where(below, g), lo.shape)
        if needs_grad(max):
            above = np.broadcast_to(xd > hi, y.shape)
            if lo is not None:
                above = above | (hi < lo)
            g_hi = sum_to_shape(keep_where(above, g), hi.shape)
        return gx, g_lo, g_hi

    return make(y, (x, min, max), backward_with_bounds)


def _extremum(a, b, pick, beats, name):
    """``pick(a, b)`` (np.maximum or np.minimum); ``beats(a, b)`` says where ``a`` wins
    outright (np.greater or np.less). Backward *selects* as PyTorch's: an operand gets 0
    where the other wins (even for an infinite or NaN ``g``: a multiply by the 0/1
    derivative gave inf * 0 = NaN), g / 2 where they tie, else g (NaN compares false: a
    NaN operand and the other both get g, as in PyTorch)."""
    ad, bd = _operands(a, b)
    try:
        out = pick(ad, bd)
    except ValueError:
        raise ValueError(
            f"{name}: shapes {np.shape(ad)} and {np.shape(bd)} cannot be broadcast together"
        ) from None

    def backward(g):
        tie = np.equal(ad, bd)
        shared = np.where(tie, g * 0.5, g) if tie.any() else g
        ga = gb = None  # (the comparisons broadcast to out's shape, g's)
        if needs_grad(a):
            ga = sum_to_shape(keep_where(~beats(bd, ad), shared), ad.shape)
        if needs_grad(b):
            gb = sum_to_shape(keep_where(~beats(ad, bd), shared), bd.shape)
        return ga, gb

    return make(out, (a, b), backward)


def maximum(a, b):
    """Elementwise max(a, b), broadcasting."""
    return _extremum(a, b, np.maximum, np.greater, "maximum")


def minimum(a, b):
    """Elementwise min(a, b), broadcasting."""
    return _extremum(a, b, np.minimum, np.less, "minimum")


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


def _number_like(value, other):
    """``value`` as an array: a Python number in ``other``'s dtype as NumPy promotes it
    (float32 when ``other`` is a number too, as ``rb.tensor(1.0)``)."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(other, np.ndarray):
        return np.asarray(value, np.result_type(other, value))
    return np.asarray(value, DEFAULT_DTYPE)


def where(condition, a, b):
    """Take ``a`` where ``condition`` holds, ``b`` elsewhere (broadcasting)."""
    cond = np.asarray(_data(condition)).astype(bool, copy=False)
    ad, bd = _operands(a, b)
    # A Python number takes the other operand's dtype (it is "weak", as in ``x32 * 0.0``);
    # as a float64 array, it would turn a float32 result float64.
    ad, bd = _number_like(ad, bd), _number_like(bd, ad)
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
