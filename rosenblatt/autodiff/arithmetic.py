"""Arithmetic ops and their vector-Jacobian products (notes: "The chain rule").

Each op broadcasts like NumPy; its backward sums the gradient back to each
operand's shape (:func:`sum_to_shape`). Operands may be tensors, arrays or
Python numbers; constants get no gradient. Inside a backward, an operand that
needs a gradient is a Tensor, so its data is an ndarray with a ``.shape``.
"""

import math

import numpy as np

from .tensor import (
    Tensor,
    _constant,
    _make as make,
    _operands,
    _tensor_operand,
    is_grad_enabled,
    needs_grad,
    sum_to_shape,
)


def _broadcast_error(op, a, b, err):
    return ValueError(
        f"{op}: shapes {np.shape(a)} and {np.shape(b)} cannot be broadcast together"
    ).with_traceback(err.__traceback__)


def add(a, b):
    """a + b."""
    ad, bd = _operands(a, b)
    try:
        out = ad + bd
    except ValueError as err:
        raise _broadcast_error("add", ad, bd, err) from None

    def backward(g):  # d(a+b)/da = 1, d(a+b)/db = 1
        return (
            sum_to_shape(g, ad.shape) if needs_grad(a) else None,
            sum_to_shape(g, bd.shape) if needs_grad(b) else None,
        )

    return make(out, (a, b), backward)


def sub(a, b):
    """a - b."""
    ad, bd = _operands(a, b)
    try:
        out = ad - bd
    except ValueError as err:
        raise _broadcast_error("sub", ad, bd, err) from None

    def backward(g):
        return (
            sum_to_shape(g, ad.shape) if needs_grad(a) else None,
            sum_to_shape(-g, bd.shape) if needs_grad(b) else None,
        )

    return make(out, (a, b), backward)


def mul(a, b):
    """a * b (elementwise)."""
    ad, bd = _operands(a, b)
    try:
        out = ad * bd
    except ValueError as err:
        raise _broadcast_error("mul", ad, bd, err) from None

    def backward(g):  # d(ab)/da = b, d(ab)/db = a
        return (
            sum_to_shape(g * bd, ad.shape) if needs_grad(a) else None,
            sum_to_shape(g * ad, bd.shape) if needs_grad(b) else None,
        )

    return make(out, (a, b), backward)


def div(a, b):
    """a / b (elementwise)."""
    ad, bd = _operands(a, b)
    try:
        out = ad / bd
    except ValueError as err:
        raise _broadcast_error("div", ad, bd, err) from None

    def backward(g):  # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -out/b
        ga = g / bd
        return (
            sum_to_shape(ga, ad.shape) if needs_grad(a) else None,
            sum_to_shape(-ga * out, bd.shape) if needs_grad(b) else None,
        )

    return make(out, (a, b), backward)


def neg(a):
    """-a."""
    if not isinstance(a, Tensor):  # an array or list: a constant
        a = _tensor_operand(a, "neg")
    return make(-a.data, (a,), lambda g: (-g,))


def power(a, b):
    """a ** b (elementwise). d/da = b a^(b-1); d/db = a^b ln a.

    d/db where a = 0 is PyTorch's: 0 for b >= 0 (the limit of a^b ln a for b > 0), and
    a^b ln a = inf * -inf = -inf for b < 0 (where a^b is inf); NaN where a < 0 (or is
    NaN), as in PyTorch: a^b has no real derivative in b there, and an exponent learnt on a
    base that changes sign shows it rather than silently stopping.
    """
    ad, bd = _operands(a, b)
    try:
        out = ad**bd
    except ValueError as err:
        raise _broadcast_error("power", ad, bd, err) from None

    def backward(g):
        ga = gb = None
        if needs_grad(a):
            zero = bd == 0
            if np.any(zero):
                # b a^(b-1) is 0 * inf at a = 0 when b = 0: x^0 is constant, so its
                # derivative is 0 everywhere (PyTorch masks b == 0 the same way)
                with np.errstate(divide="ignore", invalid="ignore"):
                    ga = np.where(zero, 0, g * bd * ad ** (bd - 1))
            else:
                ga = g * bd * ad ** (bd - 1)
            ga = sum_to_shape(ga, ad.shape)
        if needs_grad(b):
            if isinstance(ad, np.ndarray):
                positive = ad > 0
                zero = ad.dtype.type(0)
                if np.any(ad == 0):  # 0 for b >= 0, -inf for b < 0 (0^b = inf there)
                    zero = np.where(bd >= 0, zero, ad.dtype.type(-np.inf))
                elsewhere = np.where(ad == 0, zero, ad.dtype.type(np.nan))
                log_a = np.where(positive, np.log(np.where(positive, ad, 1)), elsewhere)
            elif ad == 0:  # b needs a gradient, so it is an array: 0 where b >= 0, else -inf
                log_a = np.where(bd >= 0, bd.dtype.type(0), bd.dtype.type(-np.inf))
            else:  # a Python number: keep it one (a float64 array would upcast a float32 b)
                log_a = math.log(ad) if ad > 0 else math.nan
            gb = sum_to_shape(g * out * log_a, bd.shape)
        return ga, gb

    return make(out, (a, b), backward)


def _promote_for_matmul(a, b):
    """View 1-D operands as matrices, as numpy.matmul does."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    return a2, b2


def matmul(a, b):
    """a @ b, with NumPy's rules for 1-D operands and batch broadcasting.

    Notes
    -----
    For C = A B: dL/dA = dL/dC B^T and dL/dB = A^T dL/dC.
    """
    ad, bd = _operands(a, b)
    if getattr(ad, "ndim", 0) == 0 or getattr(bd, "ndim", 0) == 0:
        raise ValueError("matmul: operands must have at least one dimension; use * for scalars")
    inner_a = ad.shape[-1]
    inner_b = bd.shape[-2] if bd.ndim > 1 else bd.shape[0]
    if inner_a != inner_b:
        raise ValueError(
            f"matmul: shapes {ad.shape} and {bd.shape} are not aligned: "
            f"{inner_a} (last axis of a) != {inner_b} "
            f"({'second-to-last' if bd.ndim > 1 else 'only'} axis of b)"
        )
    try:
        out = ad @ bd
    except ValueError as err:
        raise _broadcast_error("matmul", ad, bd, err) from None

    def backward(g):
        if ad.ndim == 2 and bd.ndim == 2:  # plain matrices: the rule as written above
            return (g @ bd.T if needs_grad(a) else None, ad.T @ g if needs_grad(b) else None)
        a2, b2 = _promote_for_matmul(ad, bd)
        g2 = g
        if ad.ndim == 1 or bd.ndim == 1:
            # matmul dropped the axes it added to 1-D operands; put them back in g
            batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
            g2 = g.reshape(batch + (a2.shape[-2], b2.shape[-1]))
        ga = gb = None
        if needs_grad(a):
            ga = sum_to_shape(g2 @ b2.swapaxes(-1, -2), a2.shape).reshape(ad.shape)
        if needs_grad(b):
            gb = sum_to_shape(a2.swapaxes(-1, -2) @ g2, b2.shape).reshape(bd.shape)
        return ga, gb

    return make(out, (a, b), backward)


# -- augmented assignment: p -= lr * p.grad ----------------------------------------------


_IN_PLACE = {"+=": np.add, "-=": np.subtract, "*=": np.multiply, "/=": np.true_divide,
             "**=": np.power}


def augmented(op, symbol):
    """The method behind ``t <symbol> x`` (``+=``, ``-=`` ...) for the binary ``op``, as in
    PyTorch.

    On a leaf that requires grad (a parameter) it changes the values in place when no graph
    is recorded (``with rb.no_grad(): p -= lr * p.grad``), and is a RuntimeError while one
    is: Python would otherwise bind the name to a new tensor, ``p - lr * p.grad``, leaving
    the parameter unchanged, silently. On any other tensor it is ``t = t <op> x``, out of
    place (``total += loss`` keeps the graph; an array that ``rb.tensor`` wrapped is not
    written into).
    """
    ufunc = _IN_PLACE[symbol]

    def method(self, other):
        if not self.requires_grad or self._backward is not None:
            return op(self, other)
        if is_grad_enabled():
            raise RuntimeError(
                f"{symbol} on a leaf tensor that requires grad (a parameter) while gradients "
                f"are recorded would bind the name to a new tensor and leave the parameter "
                f"unchanged; update its values in place with `with rb.no_grad(): p "
                f"{symbol} ...`, `p.data {symbol} ...`, or an optimizer"
            )
        xd = self.data
        od = other.data if isinstance(other, Tensor) else _constant(other, xd)
        try:
            ufunc(xd, od, out=xd)
        except ValueError as err:
            raise ValueError(
                f"{symbol}: a tensor of shape {xd.shape} cannot be updated in place with an "
                f"operand of shape {np.shape(od)} ({err})"
            ) from None
        return self

    return method
