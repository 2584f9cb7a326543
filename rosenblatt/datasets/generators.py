"""Toy problems of the notes, generated: logic gates, spirals, moons, circles, a noisy sine.

XOR is the notes' example of what "a single-layer perceptron can't learn"
("Perceptrons": not linearly separable); AND and OR are the separable gates it
can. Spirals, moons and circles are the 2-D problems on which hidden layers,
regularization strength and decision boundaries are drawn; the noisy sine is
a 1-D regression target (underfitting and overfitting).

Every generator returns ``(X, y)``: ``X`` float32 of shape ``(n, features)``;
``y`` int64 class labels of shape ``(n,)`` (or float32 ``(n, 1)`` targets for
regression). Randomness comes only from ``rng`` (a ``numpy.random.Generator``,
an int seed, or None for the library generator seeded by ``rb.seed``).
"""

import numpy as np

from ..checks import boolean, finite_float, int_at_least, positive_float, unit_interval
from ..randomness import resolve_rng

_GATES = {
    "and": lambda a, b: a & b,
    "or": lambda a, b: a | b,
    "xor": lambda a, b: a ^ b,
    "nand": lambda a, b: 1 - (a & b),
    "nor": lambda a, b: 1 - (a | b),
    "xnor": lambda a, b: 1 - (a ^ b),
}


def _noise_level(name, value):
    """A finite standard deviation >= 0 (inf would fill X with inf; True is no level)."""
    return positive_float(name, "noise", value, allow_zero=True)


def logic(op, bipolar=False):
    """The truth table of a 2-input logic gate.

    Parameters
    ----------
    op : {"and", "or", "xor", "nand", "nor", "xnor"}
    bipolar : bool, default False
        Inputs in {-1, 1} instead of {0, 1} (the perceptron's "classic spin" units).

    Returns
    -------
    X : ndarray, float32, shape (4, 2)
    y : ndarray, int64, shape (4,)
        0/1 labels.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> X, y = rb.datasets.logic("xor")
    >>> X.tolist(), y.tolist()
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    if op not in _GATES:
        raise ValueError(f"logic: op must be one of {sorted(_GATES)}; got {op!r}")
    bipolar = boolean("logic", "bipolar", bipolar)
    bits = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.int64)
    y = _GATES[op](bits[:, 0], bits[:, 1]).astype(np.int64)
    X = bits.astype(np.float32)
    return (2 * X - 1 if bipolar else X), y


def xor(bipolar=False):
    """XOR's truth table (see :func:`logic`): not linearly separable."""
    return logic("xor", bipolar)


def and_(bipolar=False):
    """AND's truth table (see :func:`logic`)."""
    return logic("and", bipolar)


def or_(bipolar=False):
    """OR's truth table (see :func:`logic`)."""
    return logic("or", bipolar)


def spirals(n_samples=300, n_classes=2, noise=0.0, turns=1.0, rng=None):
    """N interleaved spiral arms in the plane, one class per arm.

    Arm k is ``r (cos t, sin t)`` with r uniform in [0.05, 1] and
    ``t = 2 pi (turns r + k / n_classes)``; ``noise`` adds N(0, noise^2) to
    each coordinate.

    Parameters
    ----------
    n_samples : int, default 300
        Split as evenly as possible between the classes (at least one point
        per class: ``n_samples >= n_classes``).
    n_classes : int, default 2
    noise : float, default 0.0
        Finite, >= 0.
    turns : float, default 1.0
        How many times each arm winds around the origin (finite; negative
        winds the other way).
    rng : Generator, int or None

    Returns
    -------
    X : float32 (n_samples, 2)
    y : int64 (n_samples,)
    """
    n_samples = int_at_least("spirals", "n_samples", n_samples, 1)
    n_classes = int_at_least("spirals", "n_classes", n_classes, 1)
    if n_samples < n_classes:
        raise ValueError(f"spirals: n_samples must be >= n_classes ({n_classes}), one point per "
                         f"arm at least; got {n_samples}")
    noise = _noise_level("spirals", noise)
    turns = finite_float("spirals", "turns", turns)
    rng = resolve_rng(rng)
    y = np.arange(n_samples) % n_classes
    r = rng.uniform(0.05, 1.0, n_samples)
    t = 2 * np.pi * (turns * r + y / n_classes)
    X = np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
    X += noise * rng.standard_normal(X.shape)
    return X.astype(np.float32), y.astype(np.int64)


def two_spirals(n_samples=300, noise=0.0, turns=1.5, rng=None):
    """The classic two-spirals problem (see :func:`spirals`)."""
    return spirals(n_samples, 2, noise, turns, rng)


def moons(n_samples=200, noise=0.1, rng=None):
    """Two interleaving half circles (as scikit-learn's ``make_moons``).

    Returns
    -------
    X : float32 (n_samples, 2)
    y : int64 (n_samples,)
    """
    n_samples = int_at_least("moons", "n_samples", n_samples, 2)
    noise = _noise_level("moons", noise)
    rng = resolve_rng(rng)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], 1)])
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    X += noise * rng.standard_normal(X.shape)
    order = rng.permutation(n_samples)
    return X[order].astype(np.float32), y[order]


def circles(n_samples=200, noise=0.05, factor=0.5, rng=None):
    """A small circle (class 1) inside a large one (class 0), as scikit-learn's ``make_circles``.

    Parameters
    ----------
    factor : float in (0, 1), default 0.5
        Radius of the inner circle relative to the outer one.
    """
    n_samples = int_at_least("circles", "n_samples", n_samples, 2)
    noise = _noise_level("circles", noise)
    factor = unit_interval("circles", "factor", factor, closed_low=False)
    rng = resolve_rng(rng)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        factor * np.stack([np.cos(t_in), np.sin(t_in)], 1)])
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    X += noise * rng.standard_normal(X.shape)
    order = rng.permutation(n_samples)
    return X[order].astype(np.float32), y[order]


def sine(n_samples=100, noise=0.1, low=-np.pi, high=np.pi, rng=None):
    """Noisy samples of y = sin(x), x uniform in [low, high]: a 1-D regression problem.

    ``low < high`` are finite numbers; ``noise`` is finite and >= 0.

    Returns
    -------
    X : float32 (n_samples, 1), sorted
    y : float32 (n_samples, 1)
        ``sin(X) + noise * N(0, 1)``.
    """
    n_samples = int_at_least("sine", "n_samples", n_samples, 1)
    noise = _noise_level("sine", noise)
    low, high = finite_float("sine", "low", low), finite_float("sine", "high", high)
    if not low < high:
        raise ValueError(f"sine: need low < high; got low={low!r}, high={high!r}")
    if not np.isfinite(high - low):  # e.g. -1e308, 1e308: numpy cannot draw from that range
        raise ValueError(f"sine: high - low must be finite; got low={low!r}, high={high!r}")
    rng = resolve_rng(rng)
    x = np.sort(rng.uniform(low, high, n_samples))
    y = np.sin(x) + noise * rng.standard_normal(n_samples)
    return x[:, None].astype(np.float32), y[:, None].astype(np.float32)
