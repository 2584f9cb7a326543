"""Node activation functions of NEAT genomes and CPPNs, by name (plain NumPy).

NEAT (Stanley & Miikkulainen 2002) uses the steepened sigmoid
``1 / (1 + exp(-4.9 x))``; CPPNs (Stanley 2007) draw each node's function from
a set with regularities: sine (repetition), Gaussian (symmetry), sigmoid,
tanh, absolute value (symmetry), identity and step.
"""

import numpy as np

__all__ = ["ACTIVATIONS", "CPPN_ACTIVATIONS", "apply", "check"]


def steep_sigmoid(x):
    return 0.5 * (1.0 + np.tanh(2.45 * x))  # == 1 / (1 + exp(-4.9 x)), overflow-free


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def gaussian(x):
    return np.exp(-np.minimum(x * x, 700.0))


def step(x):
    return (x > 0).astype(x.dtype)


ACTIVATIONS = {
    "steep_sigmoid": steep_sigmoid,
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "sine": np.sin,
    "gaussian": gaussian,
    "abs": np.abs,
    "identity": lambda x: x,
    "step": step,
    "relu": lambda x: np.maximum(x, 0.0),
}
NAMES = tuple(ACTIVATIONS)
CODES = {name: i for i, name in enumerate(NAMES)}
CPPN_ACTIVATIONS = ("sine", "gaussian", "sigmoid", "tanh", "abs", "identity", "step")


def check(owner, name, value):
    """Validate an activation name."""
    if value not in ACTIVATIONS:
        raise ValueError(f"{owner}: {name} must be one of {', '.join(NAMES)}; got {value!r}")
    return value


def apply(name, x):
    """``ACTIVATIONS[name](x)``.

    Examples
    --------
    >>> float(apply("steep_sigmoid", np.array(0.0)))
    0.5
    """
    return ACTIVATIONS[name](x)
