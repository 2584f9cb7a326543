"""Multi-objective test problems: ZDT1-4 and DTLZ2 (notes: "Neuroevolution", MOEAs).

Each problem is a callable mapping a population ``X`` of shape
``(population, n_variables)`` to objectives ``(population, n_objectives)``,
all minimised, with ``n_variables``, ``n_objectives``, ``bounds`` (a pair
``(lower, upper)`` of arrays) and ``true_front(n_points)``, a sample of its
Pareto-optimal front, so that::

    NSGA2(2).run(p, p.n_variables, p.bounds, generations)

runs on it and :func:`~rosenblatt.evolution.igd` or
:func:`~rosenblatt.evolution.convergence` measure the result against
``p.true_front(500)``.

References
----------
Zitzler, E., Deb, K. & Thiele, L. (2000). Comparison of multiobjective
evolutionary algorithms: empirical results. Evolutionary Computation 8(2), 173-195.
Deb, K., Thiele, L., Laumanns, M. & Zitzler, E. (2002). Scalable
multi-objective optimization test problems. CEC 2002, 825-830.
"""

import math

import numpy as np

from ..checks import int_at_least

__all__ = ["DTLZ2", "ZDT1", "ZDT2", "ZDT3", "ZDT4", "Problem"]


class Problem:
    """A box-bounded multi-objective problem (the base of the ones here).

    Subclasses set ``n_variables``, ``n_objectives``, ``lower``, ``upper``
    and define ``evaluate(X)`` and ``true_front(n_points)``. Calling a problem
    on a floating ``X`` gives objectives of its dtype (float32 in, float32 out);
    any other ``X`` is evaluated in float64.
    """

    n_variables: int
    n_objectives: int

    @property
    def bounds(self):
        """``(lower, upper)``, each an array of shape ``(n_variables,)``."""
        return self.lower.copy(), self.upper.copy()

    def __call__(self, X):
        X = np.asarray(X)
        if X.dtype.kind != "f":  # floating X keeps its dtype (float32 in, float32 out)
            X = X.astype(np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_variables:
            raise ValueError(f"{type(self).__name__}: X must have shape (population, "
                             f"{self.n_variables}); got {X.shape}")
        return self.evaluate(X)

    def __repr__(self):
        return f"{type(self).__name__}(n_variables={self.n_variables})"


class _ZDT(Problem):
    """Zitzler, Deb & Thiele's two-objective problems: ``f1(x1)`` and ``f2 = g h(f1, g)``."""

    n_objectives = 2

    def __init__(self, n_variables=30):
        self.n_variables = int_at_least(type(self).__name__, "n_variables", n_variables, 2)
        self.lower = np.zeros(self.n_variables)
        self.upper = np.ones(self.n_variables)

    def g(self, X):
        return 1.0 + 9.0 * X[:, 1:].sum(axis=1) / (self.n_variables - 1)

    def evaluate(self, X):
        f1 = X[:, 0]
        g = self.g(X)
        return np.stack([f1, g * self.h(f1 / g)], axis=1)

    def true_front(self, n_points=500):
        """``n_points`` points of the Pareto front (``g = 1``), uniformly spaced in ``f1``."""
        n_points = int_at_least(type(self).__name__, "n_points", n_points, 2)
        f1 = np.linspace(0.0, 1.0, n_points)
        return np.stack([f1, self.h(f1)], axis=1)


class ZDT1(_ZDT):
    """ZDT1: convex front ``f2 = 1 - sqrt(f1)``; 30 variables in [0, 1].

    Notes
    -----
    ``f1 = x1``, ``g = 1 + 9 sum_{i>=2} x_i / (n - 1)``, ``f2 = g (1 - sqrt(f1 / g))``.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> rb.evolution.problems.ZDT1()(np.zeros((1, 30))).tolist()
    [[0.0, 1.0]]
    """

    @staticmethod
    def h(r):
        return 1.0 - np.sqrt(r)


class ZDT2(_ZDT):
    """ZDT2: non-convex front ``f2 = 1 - f1^2``; 30 variables in [0, 1].

    Notes
    -----
    ``f2 = g (1 - (f1 / g)^2)`` with ZDT1's ``f1`` and ``g``.
    """

    @staticmethod
    def h(r):
        return 1.0 - r * r


def _zdt3_h(f1):
    return 1.0 - np.sqrt(f1) - f1 * np.sin(10.0 * math.pi * f1)


def _zdt3_dh(f1):
    return (-0.5 / np.sqrt(f1) - np.sin(10.0 * math.pi * f1)
            - 10.0 * math.pi * f1 * np.cos(10.0 * math.pi * f1))


def _bisect(fn, lo, hi, iterations=80):
    """A root of ``fn`` in each bracket ``[lo, hi]`` (arrays; ``fn(lo) <= 0 <= fn(hi)``)."""
    lo, hi = np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        neg = fn(mid) <= 0
        lo, hi = np.where(neg, mid, lo), np.where(neg, hi, mid)
    return 0.5 * (lo + hi)


def _zdt3_pieces():
    """The five intervals of ``f1`` on ZDT3's Pareto front, to machine precision.

    ``h(f1) = 1 - sqrt(f1) - f1 sin(10 pi f1)`` on ``g = 1``: a point is
    Pareto-optimal where no smaller ``f1`` has a smaller or equal ``h``. Each
    interval ends at a local minimum of ``h`` (``h' = 0``) and the next begins
    where ``h`` falls back below that minimum. A grid finds the brackets,
    bisection the ends.
    """
    x = np.linspace(0.0, 1.0, 20001)
    h = _zdt3_h(x)
    best = np.minimum.accumulate(np.concatenate([[np.inf], h[:-1]]))
    on = h < best
    edges = np.flatnonzero(np.diff(on.astype(np.int8)))
    starts = np.concatenate([[0], edges[1::2] + 1])
    ends = edges[0::2]
    dx = x[1]
    right = _bisect(_zdt3_dh, x[ends] - dx, np.minimum(x[ends] + dx, 1.0))
    level = _zdt3_h(right)
    left = _bisect(lambda t: level[:-1] - _zdt3_h(t), x[starts[1:]] - dx, x[starts[1:]])
    return np.stack([np.concatenate([[0.0], left]), right], axis=1)


class ZDT3(_ZDT):
    """ZDT3: a front in five disconnected pieces; 30 variables in [0, 1].

    Notes
    -----
    ``f2 = g (1 - sqrt(f1 / g) - (f1 / g) sin(10 pi f1))``. On ``g = 1`` only the
    parts of ``h(f1) = 1 - sqrt(f1) - f1 sin(10 pi f1)`` not dominated by a
    smaller ``f1`` are Pareto-optimal: ``f1`` in [0, 0.0830], [0.1822, 0.2578],
    [0.4093, 0.4539], [0.6184, 0.6525], [0.8233, 0.8518] (:attr:`pieces`,
    computed to machine precision; all but the first open on the left).

    Examples
    --------
    >>> import rosenblatt as rb
    >>> rb.evolution.problems.ZDT3().pieces.round(4).tolist()[1]
    [0.1822, 0.2578]
    """

    pieces = None  # filled on first use

    def __init__(self, n_variables=30):
        super().__init__(n_variables)
        if ZDT3.pieces is None:
            ZDT3.pieces = _zdt3_pieces()

    def evaluate(self, X):
        f1 = X[:, 0]
        g = self.g(X)
        r = f1 / g
        return np.stack([f1, g * (1.0 - np.sqrt(r) - r * np.sin(10.0 * math.pi * f1))], axis=1)

    def true_front(self, n_points=500):
        """``n_points`` points on the five pieces, uniformly spaced in ``f1`` over their length."""
        n_points = int_at_least("ZDT3", "n_points", n_points, 10)
        lengths = self.pieces[:, 1] - self.pieces[:, 0]
        counts = np.maximum(2, np.floor(n_points * lengths / lengths.sum()).astype(int))
        counts[np.argmax(lengths)] += n_points - counts.sum()
        # the pieces after the first are open on the left: there h equals the previous
        # piece's minimum at a larger f1, a (weakly) dominated point
        f1 = np.concatenate([np.linspace(a, b, c + (k > 0))[(k > 0):]
                             for k, ((a, b), c) in enumerate(zip(self.pieces, counts))])
        return np.stack([f1, _zdt3_h(f1)], axis=1)


class ZDT4(_ZDT):
    """ZDT4: ZDT1's front behind 21^9 local fronts (Rastrigin's ``g``); 10 variables.

    Notes
    -----
    ``x1`` in [0, 1], the others in [-5, 5];
    ``g = 1 + 10 (n - 1) + sum_{i>=2} (x_i^2 - 10 cos(4 pi x_i))``,
    ``f2 = g (1 - sqrt(f1 / g))``.
    """

    def __init__(self, n_variables=10):
        super().__init__(n_variables)
        self.lower[1:] = -5.0
        self.upper[1:] = 5.0

    def g(self, X):
        x = X[:, 1:]
        return (1.0 + 10.0 * (self.n_variables - 1)
                + (x * x - 10.0 * np.cos(4.0 * math.pi * x)).sum(axis=1))

    h = staticmethod(ZDT1.h)


def _compositions(n_parts, total):
    """Every vector of ``n_parts`` non-negative integers summing to ``total``."""
    if n_parts == 1:
        return np.array([[total]])
    return np.vstack([np.hstack([np.full((len(rest), 1), k), rest])
                      for k in range(total + 1)
                      for rest in [_compositions(n_parts - 1, total - k)]])


def _simplex_lattice(n_objectives, partitions):
    """Das & Dennis's points ``w >= 0``, ``sum w = 1``, ``w_m in {0, 1/p, ..., 1}``."""
    return _compositions(n_objectives, partitions) / partitions


class DTLZ2(Problem):
    """DTLZ2: the positive orthant of the unit sphere as front; ``M - 1 + k`` variables in [0, 1].

    Parameters
    ----------
    n_objectives : int, default 3
    n_variables : int, optional
        Default ``n_objectives - 1 + 10`` (the paper's ``k = 10``).

    Notes
    -----
    ``g = sum_{i >= M} (x_i - 1/2)^2`` and, with ``t_i = x_i pi / 2``,
    ``f_1 = (1 + g) cos t_1 ... cos t_{M-1}``,
    ``f_m = (1 + g) cos t_1 ... cos t_{M-m} sin t_{M-m+1}``,
    ``f_M = (1 + g) sin t_1``. On the front ``g = 0`` and ``sum f_m^2 = 1``.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> p = rb.evolution.problems.DTLZ2()
    >>> p.n_variables, np.linalg.norm(p(np.full((1, 12), 0.5))).round(6)
    (12, np.float64(1.0))
    """

    def __init__(self, n_objectives=3, n_variables=None):
        self.n_objectives = int_at_least("DTLZ2", "n_objectives", n_objectives, 2)
        default = self.n_objectives - 1 + 10
        self.n_variables = (default if n_variables is None else
                            int_at_least("DTLZ2", "n_variables", n_variables, self.n_objectives))
        self.lower = np.zeros(self.n_variables)
        self.upper = np.ones(self.n_variables)

    def evaluate(self, X):
        M = self.n_objectives
        g = ((X[:, M - 1:] - 0.5) ** 2).sum(axis=1)
        t = X[:, :M - 1] * (math.pi / 2)
        one = np.ones((len(X), 1), dtype=X.dtype)
        cos = np.cumprod(np.hstack([one, np.cos(t)]), axis=1)  # prod_{j<i}
        sin = np.hstack([one, np.sin(t[:, ::-1])])  # 1, sin t_{M-1}, .., sin t_1
        # f_m (m = 1..M) = cos t_1 .. cos t_{M-m} * sin t_{M-m+1} (no sine for m = 1)
        F = cos[:, ::-1] * sin
        return (1.0 + g)[:, None] * F

    def true_front(self, n_points=500):
        """At most ``n_points`` points of the unit sphere's orthant: the largest Das-Dennis
        simplex lattice that fits, each point scaled to unit length.

        The smallest lattice is the ``n_objectives`` corners, so ``n_points``
        must be at least ``n_objectives``.
        """
        n_points = int_at_least("DTLZ2", "n_points", n_points, self.n_objectives)
        M, p = self.n_objectives, 1
        while math.comb(p + 1 + M - 1, M - 1) <= n_points:
            p += 1
        W = _simplex_lattice(M, p)
        return W / np.linalg.norm(W, axis=1, keepdims=True)
