"""rosenblatt: every system of the neural-network notes, in NumPy, readable and fast."""

from . import autodiff, models, nn, optim, randomness
from .autodiff import (
    GradcheckError,
    Tensor,
    concatenate,
    gradcheck,
    logsumexp,
    maximum,
    minimum,
    no_grad,
    pad,
    split,
    stack,
    tensor,
    where,
)
from .autodiff import abs, clip, exp, log, relu, sigmoid, sqrt, tanh  # noqa: A004
from .nn import losses, regularizers
from .randomness import seed

__version__ = "0.1.0"

__all__ = [
    "losses", "models", "regularizers",
    "GradcheckError", "Tensor", "abs", "autodiff", "clip", "concatenate", "exp", "gradcheck",
    "log", "logsumexp", "maximum", "minimum", "nn", "no_grad", "optim", "pad", "randomness", "relu",
    "seed", "sigmoid", "split", "sqrt", "stack", "tanh", "tensor", "where",
]
