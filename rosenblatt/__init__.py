"""rosenblatt: every system of the neural-network notes, in NumPy, readable and fast."""

from . import (
    autodiff,
    datasets,
    evolution,
    io,
    models,
    nn,
    optim,
    parallel,
    randomness,
    training,
    tuning,
)
from ._version import __version__
from .autodiff import (
    GradcheckError,
    Tensor,
    abs,  # noqa: A004 - rb.abs mirrors numpy.abs
    clip,
    concatenate,
    exp,
    gradcheck,
    log,
    logsumexp,
    maximum,
    minimum,
    no_grad,
    pad,
    split,
    sqrt,
    stack,
    tensor,
    where,
)
from .autodiff._kernels import set_num_threads
from .io import FormatError, load, save
from .nn import losses, regularizers
from .nn.activations import relu, sigmoid, tanh  # the ops, taking arrays as well as Tensors
from .randomness import seed
from .training import adversarial, callbacks, distributed, fit, metrics

__all__ = [
    "__version__",
    "adversarial",
    "FormatError", "GradcheckError", "Tensor", "abs", "autodiff", "callbacks", "clip",
    "concatenate", "datasets", "exp", "fit", "gradcheck", "io", "load", "log", "logsumexp",
    "losses", "maximum", "metrics", "minimum", "models", "nn", "no_grad", "optim", "pad",
    "randomness",
    "regularizers", "relu", "save", "seed", "sigmoid", "split", "sqrt", "stack", "tanh", "tensor",
    "training", "where",
    "evolution", "tuning",
    "parallel", "distributed",
    "set_num_threads",
]

if autodiff._kernels.env_threads():  # ROSENBLATT_NUM_THREADS: BLAS (and Numba) thread count
    set_num_threads(autodiff._kernels.env_threads())


def __getattr__(name):
    """``rb.sklearn`` is imported on first use: scikit-learn is optional and slow to import."""
    if name == "sklearn":
        import importlib

        return importlib.import_module(".sklearn", __name__)
    raise AttributeError(f"module 'rosenblatt' has no attribute {name!r}")
