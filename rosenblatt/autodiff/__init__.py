"""The autodiff engine: Tensor, backward, primitive ops with their VJPs, gradcheck."""

from . import arithmetic, elementwise, reductions, shape
from .arithmetic import add, div, matmul, mul, neg, power, sub
from .elementwise import abs, clip, exp, log, maximum, minimum, relu, sigmoid, sqrt, tanh, where  # noqa: A004, E501
from .gradcheck import GradcheckError, gradcheck
from .reductions import logsumexp, max, mean, min, sum, var  # noqa: A004
from .shape import (
    concatenate,
    expand_dims,
    flatten,
    getitem,
    pad,
    reshape,
    split,
    squeeze,
    stack,
    swapaxes,
    transpose,
)
from .tensor import (
    Tensor,
    is_grad_enabled,
    make,
    needs_grad,
    no_grad,
    sum_to_shape,
    tensor,
    zeros_like,
)

# Operators and methods of Tensor, bound here so that each op stays defined once,
# in its own module, beside its backward.
Tensor.__add__ = add
Tensor.__radd__ = lambda self, other: add(other, self)
Tensor.__sub__ = sub
Tensor.__rsub__ = lambda self, other: sub(other, self)
Tensor.__mul__ = mul
Tensor.__rmul__ = lambda self, other: mul(other, self)
Tensor.__truediv__ = div
Tensor.__rtruediv__ = lambda self, other: div(other, self)
Tensor.__pow__ = power
Tensor.__rpow__ = lambda self, other: power(other, self)
Tensor.__matmul__ = matmul
Tensor.__rmatmul__ = lambda self, other: matmul(other, self)
Tensor.__neg__ = neg
# p -= lr * p.grad: in place on a parameter under no_grad, refused while recording
Tensor.__iadd__ = arithmetic.augmented(add, "+=")
Tensor.__isub__ = arithmetic.augmented(sub, "-=")
Tensor.__imul__ = arithmetic.augmented(mul, "*=")
Tensor.__itruediv__ = arithmetic.augmented(div, "/=")
Tensor.__ipow__ = arithmetic.augmented(power, "**=")
Tensor.__getitem__ = getitem
for _name, _fn in [
    ("exp", exp), ("log", log), ("sqrt", sqrt), ("abs", abs), ("tanh", tanh),
    ("sigmoid", sigmoid), ("relu", relu), ("clip", clip),
    ("sum", sum), ("mean", mean), ("max", max), ("min", min), ("var", var),
    ("logsumexp", logsumexp),
    ("reshape", reshape), ("transpose", transpose), ("swapaxes", swapaxes),
    ("flatten", flatten), ("squeeze", squeeze), ("expand_dims", expand_dims),
]:
    setattr(Tensor, _name, _fn)
Tensor.__abs__ = abs
Tensor.T = property(transpose)
del _name, _fn

__all__ = [
    "GradcheckError", "Tensor", "abs", "add", "arithmetic", "clip", "concatenate", "div",
    "elementwise", "exp", "expand_dims", "flatten", "getitem", "gradcheck", "is_grad_enabled",
    "log", "logsumexp", "make", "matmul", "max", "maximum", "mean", "min", "minimum", "mul",
    "needs_grad", "neg", "no_grad", "pad", "power", "reductions", "relu", "reshape", "shape",
    "sigmoid", "split", "sqrt", "squeeze", "stack", "sub", "sum", "sum_to_shape", "swapaxes",
    "tanh", "tensor", "transpose", "var", "where", "zeros_like",
]
