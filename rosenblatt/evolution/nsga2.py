"""NSGA-II, the non-dominated sorting genetic algorithm (notes: "Neuroevolution", MOEAs).

"There is another class of algorithms called multiobjective evolutionary
algorithm (MOEA) where multiple fitness functions are specified ... One such
MOEA is NSGA-II." (Deb, Pratap, Agarwal & Meyarivan 2002.)

A population is an array ``X`` of shape ``(N, n_variables)`` inside box
bounds and its objectives an array ``F`` of shape ``(N, n_objectives)``, all
minimised. One generation:

1. *Mating selection*: ``N`` binary tournaments under the crowded-comparison
   operator (lower rank wins; within a rank, the larger crowding distance),
   or, with ``tournament="dominance"``, as in Deb's C code and pymoo (the
   dominating one wins; otherwise the larger crowding distance). As in Deb's
   implementation, the population is shuffled twice and neighbours meet, so
   each individual enters exactly two tournaments (``N`` must be a multiple
   of 4).
2. *Variation*: simulated binary crossover (SBX) of consecutive winners with
   probability ``crossover_prob``, then polynomial mutation of each variable
   with probability ``mutation_prob`` (default ``1 / n_variables``); the
   paper's distribution indices ``eta_c = eta_m = 20``.
3. *Environmental selection* (elitism): parents and children (``2N``) are
   sorted into fronts (:func:`~rosenblatt.evolution.non_dominated_sort`) and
   the best ``N`` kept by rank, then by crowding distance
   (:func:`~rosenblatt.evolution.crowding_distance`) in the front that does
   not fit whole.

Every step is an array operation over the population; :meth:`NSGA2.evolve_weights`
runs the same algorithm on the flat weight vectors of a fixed network (CNE's
genome), e.g. error against the number of connections.

References
----------
Deb, K., Pratap, A., Agarwal, S. & Meyarivan, T. (2002). A fast and elitist
multiobjective genetic algorithm: NSGA-II. IEEE Trans. Evol. Comput. 6(2), 182-197.
Deb, K. & Agrawal, R. B. (1995). Simulated binary crossover for continuous
search space. Complex Systems 9, 115-148.
"""

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..checks import one_of, positive_float, positive_int, unit_interval
from ..nn.dense import Dense
from ..nn.module import Module
from ..parallel import map_chunks, workers
from ..randomness import resolve_rng
from .cne import _leaves, parameter_layout, population_forward
from .core import ON_ERROR, FitnessError, Result, run_loop
from .pareto import _ranks_2d, _ranks_matrix, crowding_distance

__all__ = ["NSGA2", "ParetoResult", "count_connections", "error_and_connections",
           "polynomial_mutation", "sbx"]

CROSSOVERS = ("sbx", None)
TOURNAMENTS = ("crowded", "dominance")
MUTATIONS = ("polynomial", None)
_EPS = 1e-14  # parents closer than this in a variable are not crossed there (Deb's code)


@dataclass
class ParetoResult(Result):
    """What a multi-objective ``run`` returns: a :class:`Result` with the final front.

    Attributes
    ----------
    X : ndarray, shape (n_front, n_variables)
        The non-dominated decision vectors of the final population, sorted by
        the first objective (``best`` is the same array).
    F : ndarray, shape (n_front, n_objectives)
        Their objectives. ``best_fitness`` is NaN: no single best exists.

    ``history`` holds per generation ``front_size`` (points in the first
    front), ``fronts`` (how many fronts), ``ideal`` (the population's best
    value of each objective) and ``evaluations``.
    """

    X: np.ndarray = None
    F: np.ndarray = None


# -- the variation operators: the formulas, then the masks that apply them -----------------

def sbx(parent1, parent2, low, high, eta, u):
    """Simulated binary crossover of two parents, given the uniform draws ``u`` (bounded form).

    Parameters
    ----------
    parent1, parent2 : ndarray
        Parent values, broadcast together with ``low``, ``high`` and ``u``.
    low, high : ndarray or float
        The variables' bounds, ``low <= high``.
    eta : float
        Distribution index ``eta_c`` (large: children near their parents).
    u : ndarray
        Uniform draws in [0, 1), one per crossed variable; one draw serves
        both children.

    Returns
    -------
    c1, c2 : ndarray
        The child nearer the smaller parent value and the one nearer the larger.

    Raises
    ------
    ValueError
        Where ``low > high`` (or a bound is NaN).

    Notes
    -----
    With ``y1 = min``, ``y2 = max`` of the parents (Deb & Agrawal 1995, in the
    bounded form of Deb's NSGA-II code), for the lower child
    ``beta = 1 + 2 (y1 - low) / (y2 - y1)`` and for the upper child
    ``beta = 1 + 2 (high - y2) / (y2 - y1)``; then ``alpha = 2 - beta^-(eta+1)``,

    .. math:: \\beta_q = (u\\alpha)^{1/(\\eta+1)} \\ \\text{if } u \\le 1/\\alpha,
              \\quad (2 - u\\alpha)^{-1/(\\eta+1)} \\ \\text{otherwise}

    and ``c1 = (y1 + y2 - beta_q (y2 - y1)) / 2``, ``c2 = (y1 + y2 + beta_q
    (y2 - y1)) / 2``, clipped to the bounds. Where the parents are equal (within
    ``1e-14``, as in Deb's code) the children are the parents, unchanged. Far
    from the bounds (``beta`` large, ``alpha -> 2``) this is the original
    ``beta_q = (2u)^(1/(eta+1))`` for ``u <= 1/2`` and ``(2 (1 - u))^(-1/(eta+1))``
    above: the children spread symmetrically around the parents' mean.

    Examples
    --------
    >>> from rosenblatt.evolution.nsga2 import sbx
    >>> c1, c2 = sbx(0.4, 0.6, 0.0, 1.0, eta=1.0, u=0.5)
    >>> round(float(c1), 4), round(float(c2), 4)
    (0.401, 0.599)
    """
    _ordered("sbx", low, high)
    y1, y2 = np.minimum(parent1, parent2), np.maximum(parent1, parent2)
    crossed = (y2 - y1) > _EPS
    span = np.where(crossed, y2 - y1, 1.0)  # (a stand-in span where the parents are kept)
    power = 1.0 / (eta + 1.0)

    def spread(beta):
        alpha = 2.0 - beta ** -(eta + 1.0)
        inside = u * alpha
        return np.where(u <= 1.0 / alpha, np.abs(inside) ** power,
                        np.abs(1.0 / np.maximum(2.0 - inside, 1e-300)) ** power)

    mean = 0.5 * (y1 + y2)
    c1 = mean - 0.5 * spread(1.0 + 2.0 * (y1 - low) / span) * span
    c2 = mean + 0.5 * spread(1.0 + 2.0 * (high - y2) / span) * span
    # equal parents: the formula's children for a zero span are the parents themselves
    c1 = np.where(crossed, np.clip(c1, low, high), y1)[()]
    c2 = np.where(crossed, np.clip(c2, low, high), y2)[()]
    return c1, c2


def polynomial_mutation(y, low, high, eta, u):
    """Polynomial mutation of ``y`` given the uniform draws ``u`` (bounded form).

    Parameters
    ----------
    y : ndarray
        Values to mutate, broadcast with ``low``, ``high`` and ``u``.
    low, high : ndarray or float
        The variables' bounds, ``low <= high``; a fixed variable (``low ==
        high``) comes back unchanged, as in pymoo.
    eta : float
        Distribution index ``eta_m``.
    u : ndarray
        Uniform draws in [0, 1).

    Returns
    -------
    ndarray
        ``y + delta_q (high - low)``, clipped to the bounds.

    Raises
    ------
    ValueError
        Where ``low > high`` (or a bound is NaN).

    Notes
    -----
    With ``d1 = (y - low) / (high - low)``, ``d2 = (high - y) / (high - low)``
    (Deb's NSGA-II code; Deb & Goyal 1996):

    .. math:: \\delta_q = [2u + (1 - 2u)(1 - d_1)^{\\eta+1}]^{1/(\\eta+1)} - 1
              \\quad (u \\le 1/2),

    .. math:: \\delta_q = 1 - [2(1 - u) + 2(u - 1/2)(1 - d_2)^{\\eta+1}]^{1/(\\eta+1)}
              \\quad (u > 1/2),

    so ``u = 1/2`` leaves ``y`` unchanged and ``u -> 0`` (``1``) reaches the
    lower (upper) bound.

    Examples
    --------
    >>> from rosenblatt.evolution.nsga2 import polynomial_mutation
    >>> round(float(polynomial_mutation(0.5, 0.0, 1.0, 1.0, 0.25)), 4)
    0.2906
    """
    span = _ordered("polynomial_mutation", low, high)
    fixed = span == 0
    any_fixed = fixed.any()  # (never in NSGA2.run, which refuses such bounds)
    if any_fixed:
        span = np.where(fixed, 1.0, span)  # a stand-in span; the variable is kept below
    power = 1.0 / (eta + 1.0)
    d1, d2 = (y - low) / span, (high - y) / span
    down = (2.0 * u + (1.0 - 2.0 * u) * (1.0 - d1) ** (eta + 1.0)) ** power - 1.0
    up = 1.0 - (2.0 * (1.0 - u) + 2.0 * (u - 0.5) * (1.0 - d2) ** (eta + 1.0)) ** power
    mutated = np.clip(y + np.where(u <= 0.5, down, up) * span, low, high)
    return np.where(fixed, y, mutated)[()] if any_fixed else mutated


def _ordered(owner, low, high):
    """``high - low``, or a ValueError where a lower bound exceeds its upper (or is NaN)."""
    span = np.asarray(high, dtype=np.float64) - np.asarray(low, dtype=np.float64)
    if not (span >= 0).all():
        i = np.flatnonzero(~(span >= 0).ravel())[0]
        lo, hi = (np.broadcast_to(b, span.shape).ravel()[i] for b in (low, high))
        raise ValueError(f"{owner}: low must not exceed high; got low {lo} and high {hi}"
                         f"{f' (entry {i})' if span.ndim else ''}")
    return span


def _bounds(owner, bounds, n):
    """``(lower, upper)`` as two float arrays of shape (n,), or a ValueError."""
    try:
        low, high = bounds
        low = np.broadcast_to(np.asarray(low, dtype=np.float64), (n,)).copy()
        high = np.broadcast_to(np.asarray(high, dtype=np.float64), (n,)).copy()
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: bounds must be a pair (lower, upper) of numbers or arrays of "
                         f"shape ({n},); got {bounds!r}") from None
    if not (np.isfinite(low).all() and np.isfinite(high).all()):
        raise ValueError(f"{owner}: bounds must be finite; got lower {low.tolist()}, "
                         f"upper {high.tolist()}")
    bad = np.flatnonzero(low >= high)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{owner}: bounds must have lower < upper for every variable; "
                         f"variable {i} has lower {low[i]} and upper {high[i]}")
    return low, high


def _rows_objectives(objectives, rows):
    """Worker side: objectives of a chunk shipped as lists of floats (no pickled arrays)."""
    return np.asarray(objectives(np.array(rows, dtype=np.float64)), dtype=np.float64).tolist()


class NSGA2:
    """The non-dominated sorting genetic algorithm II for real vectors in box bounds.

    Parameters
    ----------
    n_objectives : int
        How many objectives ``objectives(X)`` returns per individual (minimised).
    population : int, default 100
        ``N``; a multiple of 4 (two shuffles of ``N/2`` tournament pairs feed
        ``N/2`` crossover pairs).
    crossover : {"sbx", None}
        Simulated binary crossover, or none (children are copies).
    mutation : {"polynomial", None}
    crossover_prob : float, default 0.9
        Probability that a pair is crossed; each variable of a crossed pair is
        then crossed with probability 1/2 (Deb's code, pymoo's ``prob_var``).
    eta_c, eta_m : float, default 20
        Distribution indices of SBX and polynomial mutation (the paper's).
    mutation_prob : float, optional
        Probability that each variable of a child is mutated; default
        ``1 / n_variables``.
    tournament : {"crowded", "dominance"}, default "crowded"
        How a binary tournament is decided. ``"crowded"``: the paper's
        crowded comparison, the lower rank, then the larger crowding
        distance. ``"dominance"``: Deb's C code and pymoo's, the one that
        dominates the other, else the larger crowding distance (two points of
        different ranks that do not dominate each other meet as equals). The
        milder pressure keeps more spread early: on ZDT2 (population 100,
        100 generations, seeds 0-19) 6 of 20 crowded runs were still stuck
        near the corner f1 = 0 (IGD > 0.05), 1 of 20 dominance runs (pymoo:
        1 of 20 without duplicate elimination); after the paper's 250
        generations all runs converge either way.
    eliminate_duplicates : bool, default False
        Drop a child equal to a member of the population or to an earlier
        child, and breed more until there are ``N`` (at most 100 rounds; then
        fewer children are evaluated), as pymoo's default does; Deb's code and
        the paper keep them. With ``tournament="dominance"`` this is pymoo's
        NSGA2: on ZDT2 (as above) no run of 20 stuck, median IGD 0.027
        against pymoo's 0.025.
    rng : numpy.random.Generator or int, optional

    Attributes
    ----------
    X, F : ndarray
        The current population and its objectives (after :meth:`run`).
    ranks, crowding : ndarray
        Each individual's front (0 = non-dominated) and crowding distance.
    tournament_rule : str
        The ``tournament`` argument (the method :meth:`tournament` runs it).
    evaluations : int

    Examples
    --------
    >>> import rosenblatt as rb
    >>> zdt1 = rb.evolution.problems.ZDT1()
    >>> res = rb.evolution.NSGA2(2, population=20, rng=0).run(zdt1, 30, zdt1.bounds, 5)
    >>> res.F.shape[1], res.generations, res.evaluations
    (2, 5, 120)
    """

    def __init__(self, n_objectives, population=100, crossover="sbx", mutation="polynomial",
                 crossover_prob=0.9, eta_c=20.0, eta_m=20.0, mutation_prob=None,
                 tournament="crowded", eliminate_duplicates=False, rng=None):
        self.n_objectives = positive_int("NSGA2", "n_objectives", n_objectives)
        self.population = positive_int("NSGA2", "population", population)
        if self.population % 4:
            raise ValueError(f"NSGA2: population must be a multiple of 4 (each shuffle pairs "
                             f"tournament winners into crossover pairs); got {population}, "
                             f"try {max(4, 4 * round(self.population / 4))}")
        self.crossover = one_of("NSGA2", "crossover", crossover, CROSSOVERS)
        self.mutation = one_of("NSGA2", "mutation", mutation, MUTATIONS)
        self.crossover_prob = unit_interval("NSGA2", "crossover_prob", crossover_prob,
                                            closed_high=True)
        self.eta_c = positive_float("NSGA2", "eta_c", eta_c, allow_zero=True)
        self.eta_m = positive_float("NSGA2", "eta_m", eta_m, allow_zero=True)
        self.mutation_prob = (None if mutation_prob is None else
                              unit_interval("NSGA2", "mutation_prob", mutation_prob,
                                            closed_high=True))
        self.tournament_rule = one_of("NSGA2", "tournament", tournament, TOURNAMENTS)
        if not isinstance(eliminate_duplicates, (bool, np.bool_)):
            raise TypeError(f"NSGA2: eliminate_duplicates must be True or False; got "
                            f"{eliminate_duplicates!r}")
        self.eliminate_duplicates = bool(eliminate_duplicates)
        self.rng = resolve_rng(rng)
        self.X = self.F = self.ranks = self.crowding = None
        self.evaluations = 0

    # -- selection ------------------------------------------------------------------------
    def tournament(self, ranks, crowding, F=None):
        """Indices of ``N`` parents: binary tournaments under the crowded comparison.

        The population is shuffled twice and neighbours meet (each individual
        in two tournaments); the lower rank wins (``tournament="dominance"``:
        the one whose objectives ``F`` dominate the other's; default the
        population's), then the larger crowding distance, then a coin flip.
        """
        N = ranks.shape[0]
        pairs = np.concatenate([self.rng.permutation(N), self.rng.permutation(N)]).reshape(-1, 2)
        a, b = pairs[:, 0], pairs[:, 1]
        coin = self.rng.random(len(a)) < 0.5
        if self.tournament_rule == "crowded":
            a_better, b_better = ranks[a] < ranks[b], ranks[b] < ranks[a]
        else:
            F = self.F if F is None else np.asarray(F, dtype=np.float64)
            if F is None or F.shape[0] != N:
                raise ValueError(f"NSGA2.tournament: a dominance tournament needs the "
                                 f"objectives F of the {N} individuals")
            Fa, Fb = F[a], F[b]
            a_better = (Fa <= Fb).all(axis=1) & (Fa < Fb).any(axis=1)
            b_better = (Fb <= Fa).all(axis=1) & (Fb < Fa).any(axis=1)
        a_wins = a_better | (~b_better & (
            (crowding[a] > crowding[b]) | ((crowding[a] == crowding[b]) & coin)))
        return np.where(a_wins, a, b)

    def survive(self, F):
        """Indices of the ``N`` best of ``F`` (rank, then crowding), with their ranks and crowding.

        Rows with a non-finite objective (``on_error="worst"``) rank behind all others.
        """
        ranks = np.full(len(F), len(F), dtype=np.intp)
        crowding = np.zeros(len(F))
        ok = np.isfinite(F).all(axis=1)
        Fv = F[ok]
        if len(Fv):
            r = _ranks_2d(Fv) if Fv.shape[1] == 2 else _ranks_matrix(Fv)
            ranks[ok] = r
            crowding[ok] = crowding_distance(Fv, r)
        keep = np.lexsort((-crowding, ranks))[:self.population]
        return keep, ranks[keep], crowding[keep]

    # -- variation ------------------------------------------------------------------------
    def recombine(self, a, b, low, high):
        """SBX children of the parent rows ``a`` and ``b`` (each ``(k, n)``): ``(2k, n)``."""
        if self.crossover is None:
            return np.concatenate([a, b])
        k, n = a.shape
        rng = self.rng
        cross = ((rng.random((k, 1)) < self.crossover_prob) & (rng.random((k, n)) <= 0.5)
                 & (np.abs(a - b) > _EPS))
        u = rng.random((k, n))
        swap = rng.random((k, n)) < 0.5
        lo_child, hi_child = sbx(a, b, low, high, self.eta_c, u)
        # lo_child belongs to the smaller parent value; then each pair of values is swapped
        # between the children with probability 1/2 (Deb's code)
        first = np.where(swap, hi_child, lo_child)
        second = np.where(swap, lo_child, hi_child)
        return np.concatenate([np.where(cross, first, a), np.where(cross, second, b)])

    def mutate(self, X, low, high, prob):
        """Polynomial mutation of each variable with probability ``prob``."""
        if self.mutation is None:
            return X
        mask = self.rng.random(X.shape) < prob
        u = self.rng.random(X.shape)
        return np.where(mask, polynomial_mutation(X, low, high, self.eta_m, u), X)

    def offspring(self, low, high, prob):
        """The children of one generation: tournaments, SBX, then mutation.

        ``N`` of them; with ``eliminate_duplicates`` the children that repeat a
        member of the population (``X``) or an earlier child are dropped and
        more bred, up to 100 rounds (fewer than ``N`` may come back).
        """
        def breed():
            parents = self.tournament(self.ranks, self.crowding, self.F)
            children = self.recombine(self.X[parents[0::2]], self.X[parents[1::2]], low, high)
            return self.mutate(children, low, high, prob)

        children = breed()
        if not self.eliminate_duplicates:
            return children
        kept = children[:0]
        for _ in range(100):
            rows = np.concatenate([self.X, kept, children])
            _, first = np.unique(rows, axis=0, return_index=True)  # first occurrences
            new = np.zeros(len(rows), dtype=bool)
            new[first] = True
            kept = np.concatenate([kept, children[new[len(self.X) + len(kept):]]])
            if len(kept) >= self.population:
                return kept[:self.population]
            children = breed()
        return kept

    # -- evaluation -----------------------------------------------------------------------
    def _shaped(self, F, P):
        """``F`` as a float ``(P, n_objectives)`` array, or the error naming both shapes."""
        M = self.n_objectives
        try:
            F = np.asarray(F, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"NSGA2: objectives must return a numeric array of shape ({P}, {M})"
                            f"; got {type(F).__name__}") from None
        if M == 1 and F.shape == (P,):
            F = F[:, None]
        if F.shape != (P, M):
            raise ValueError(f"NSGA2: objectives must return an array of shape (population, "
                             f"n_objectives) = ({P}, {M}); got shape {F.shape}")
        return F

    def _objectives(self, objectives, X, executor, on_error):
        P = X.shape[0]
        if P == 0:  # every child a duplicate (eliminate_duplicates): nothing to evaluate
            return np.empty((0, self.n_objectives))
        if executor is None:
            view = X.view()
            view.flags.writeable = False  # objectives must not edit the population
            F = self._shaped(objectives(view), P)
        else:
            # each chunk's answer is checked as a whole population would be (no reshape: a
            # transposed or flattened answer would silently scramble the objectives)
            # (rb.parallel: four tasks per worker of the executor, a closed executor or an
            # unsendable function named as NSGA2's, Dask's round in one message)
            chunks = np.array_split(X, min(P, 4 * workers(executor)))
            answers = map_chunks(functools.partial(_rows_objectives, objectives),
                                 [c.tolist() for c in chunks], executor,
                                 chunks=len(chunks), owner="NSGA2")
            F = np.vstack([self._shaped(part, len(c)) for c, part in zip(chunks, answers)])
        self.evaluations += P  # spent, also when a NaN below stops the run
        bad = ~np.isfinite(F).all(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            if on_error != "worst":
                raise FitnessError(f"NSGA2: objectives returned {F[i].tolist()} for individual "
                                   f"{i} (NaN or inf; pass on_error='worst' to rank it last "
                                   f"and go on)")
            F = F.copy()
            F[bad] = np.inf
        return F

    def run(self, objectives, n_variables, bounds, generations, executor=None, callbacks=None,
            stop=None, on_error="raise"):
        """Evolve for up to ``generations`` generations of ``N`` children each.

        Parameters
        ----------
        objectives : callable
            ``objectives(X) -> F``: ``X`` of shape ``(population, n_variables)``
            (read-only), ``F`` of shape ``(population, n_objectives)``,
            minimised. Problems of :mod:`rosenblatt.evolution.problems` are such
            callables.
        n_variables : int
        bounds : (lower, upper)
            Numbers or arrays of shape ``(n_variables,)``, finite, lower < upper.
            The first population is uniform in this box and children stay in it.
        generations : int
            Generations after the first population (``N (generations + 1)``
            evaluations in all; fewer where ``eliminate_duplicates`` found no
            new children to replace duplicates).
        executor : concurrent.futures.Executor, optional
            Evaluate the population in chunks (four per worker of the executor,
            :func:`rosenblatt.parallel.map_chunks`), shipped as lists of floats;
            ``objectives`` must then be picklable by reference (a module-level
            function or a ``functools.partial`` of one).
        callbacks : list of callable, optional
            ``callback(state)`` after each generation (``state["champion"]`` is
            the current first front's ``F``); returning True stops.
        stop : callable, optional
            ``stop(F_front) -> bool``.
        on_error : {"raise", "stop", "worst"}
            Objectives with NaN or inf raise a FitnessError naming the
            individual, end the run cleanly (``result.error``), or rank that
            individual behind all others.

        Returns
        -------
        ParetoResult
            ``X`` and ``F``: the final population's non-dominated individuals.
        """
        n = positive_int("NSGA2.run", "n_variables", n_variables)
        low, high = _bounds("NSGA2.run", bounds, n)
        one_of("NSGA2.run", "on_error", on_error, ON_ERROR)
        if not callable(objectives):
            raise TypeError(f"NSGA2.run: objectives must be callable; got "
                            f"{type(objectives).__name__}")
        prob = 1.0 / n if self.mutation_prob is None else self.mutation_prob
        N = self.population
        self.evaluations = 0
        self.X = low + self.rng.random((N, n)) * (high - low)
        try:
            self.F = self._objectives(objectives, self.X, executor, on_error)
        except FitnessError as e:
            if on_error != "stop":
                raise
            X, F = np.empty((0, n)), np.empty((0, self.n_objectives))
            return ParetoResult(best=X, best_fitness=math.nan, generations=0,
                                evaluations=self.evaluations, history={}, stopped=True,
                                error=str(e), X=X, F=F)
        keep, self.ranks, self.crowding = self.survive(self.F)  # ranks for the first tournaments
        self.X, self.F = self.X[keep], self.F[keep]
        history = {}

        def one(g):
            children = self.offspring(low, high, prob)
            F_children = self._objectives(objectives, children, executor, on_error)
            X, F = np.concatenate([self.X, children]), np.concatenate([self.F, F_children])
            keep, self.ranks, self.crowding = self.survive(F)
            self.X, self.F = X[keep], F[keep]
            front = self.F[self.ranks == 0]
            ok = np.isfinite(self.F).all(axis=1)
            history.setdefault("front_size", []).append(int(front.shape[0]))
            history.setdefault("fronts", []).append(int(self.ranks[ok].max()) + 1 if ok.any()
                                                    else 0)
            history.setdefault("ideal", []).append(self.F[ok].min(axis=0).tolist() if ok.any()
                                                   else None)
            history.setdefault("evaluations", []).append(self.evaluations)
            return front.copy(), math.nan

        ran, stopped, error = run_loop(one, generations, callbacks, stop, "NSGA2.run", on_error)
        front = np.flatnonzero(self.ranks == 0)
        front = front[np.argsort(self.F[front, 0], kind="stable")]
        X, F = self.X[front].copy(), self.F[front].copy()
        return ParetoResult(best=X, best_fitness=math.nan, generations=ran,
                            evaluations=self.evaluations, history=history, stopped=stopped,
                            error=error, X=X, F=F)

    def evolve_weights(self, model, objectives, generations, bound=2.0, prune_below=0.2,
                       executor=None, callbacks=None, stop=None, on_error="raise"):
        """NSGA-II on the flat weight vectors of a fixed network (CNE's genome).

        Each individual is a vector of ``model.num_parameters()`` weights in
        ``[-bound, bound]``; a weight with ``|w| < prune_below`` is read as 0
        (the connection is absent), so the number of connections is something
        evolution can lower. ``objectives`` sees the pruned vectors.

        Parameters
        ----------
        model : Module
            The fixed architecture (its weights are not changed); see
            :func:`~rosenblatt.evolution.population_forward` for evaluating a
            whole population of weight vectors at once.
        objectives : callable
            ``objectives(thetas) -> (population, n_objectives)``, minimised,
            ``thetas`` of shape ``(population, model.num_parameters())`` in the
            model's ``ParameterVector`` layout, e.g. :func:`error_and_connections`.
        generations : int
        bound : float, default 2.0
        prune_below : float, default 0.2
            Weights closer to 0 than this are exactly 0 (0 turns pruning off).
        executor, callbacks, stop, on_error
            As in :meth:`run`.

        Returns
        -------
        ParetoResult
            ``X``: the pruned weight vectors of the final front (load one with
            ``rb.nn.ParameterVector(model.parameters()).data[:] = X[i]``).

        Examples
        --------
        >>> import numpy as np, rosenblatt as rb
        >>> net = rb.nn.Sequential(rb.nn.Dense(2, 2), rb.nn.Tanh(), rb.nn.Dense(2, 1))
        >>> X, y = np.array([[0., 0], [0, 1], [1, 0], [1, 1]]), np.array([[0.], [1], [1], [0]])
        >>> objectives = rb.evolution.error_and_connections(net, X, y)
        >>> res = rb.evolution.NSGA2(2, population=16, rng=0).evolve_weights(net, objectives, 3)
        >>> res.X.shape[1] == net.num_parameters(), bool((res.F[:, 1] <= 6).all())
        (True, True)
        """
        if not isinstance(model, Module):
            raise TypeError(f"NSGA2.evolve_weights: model must be a Module; got "
                            f"{type(model).__name__}")
        bound = positive_float("NSGA2.evolve_weights", "bound", bound)
        prune_below = positive_float("NSGA2.evolve_weights", "prune_below", prune_below,
                                     allow_zero=True)
        if prune_below >= bound:
            raise ValueError(f"NSGA2.evolve_weights: prune_below must be smaller than bound "
                             f"({bound}); got {prune_below}")
        if not callable(objectives):  # run would see only the (callable) pruning wrapper
            raise TypeError(f"NSGA2.evolve_weights: objectives must be callable; got "
                            f"{type(objectives).__name__}")
        _, size = parameter_layout(model)
        res = self.run(functools.partial(_pruned, objectives, prune_below), size,
                       (-bound, bound), generations, executor, callbacks, stop, on_error)
        res.X = res.best = _prune(res.X, prune_below)
        return res


def _prune(thetas, threshold):
    return np.where(np.abs(thetas) < threshold, 0.0, thetas)


def _pruned(objectives, threshold, thetas):
    return objectives(_prune(thetas, threshold))


def _weight_slices(model):
    layout, _ = parameter_layout(model)
    for layer in _leaves(model):
        if not isinstance(layer, Dense) and list(layer.parameters()):
            # its weights are not Dense connections: counting only the Dense ones would
            # silently leave them out
            raise ValueError(f"count_connections: {type(layer).__name__} has weights that are "
                             f"not Dense connections; the model must be Dense and "
                             f"parameter-free layers")
    return [layout[id(layer.W)][0] for layer in _leaves(model) if isinstance(layer, Dense)]


def count_connections(model, thetas):
    """Nonzero connection weights (entries of the Dense layers' ``W``, not biases) per row.

    Parameters
    ----------
    model : Module
        A Dense layer or a Sequential of Dense and parameter-free layers.
    thetas : array_like, shape (population, model.num_parameters())

    Returns
    -------
    ndarray of int, shape (population,)

    Raises
    ------
    ValueError
        If ``thetas`` is not ``(population, model.num_parameters())``, or the
        model holds a layer with parameters other than Dense (RNN, Maxout, ...).

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> net = rb.nn.Dense(2, 1)
    >>> rb.evolution.count_connections(net, np.array([[0.5, 0.0, 1.0], [0.0, 0.0, 1.0]])).tolist()
    [1, 0]
    """
    thetas = np.atleast_2d(np.asarray(thetas))
    _, size = parameter_layout(model)
    if thetas.ndim != 2 or thetas.shape[1] != size:
        raise ValueError(f"count_connections: thetas must be (population, {size}) for this "
                         f"model's {size} parameters; got shape {thetas.shape}")
    count = np.zeros(thetas.shape[0], dtype=np.int64)
    for s in _weight_slices(model):
        count += (thetas[:, s] != 0).sum(axis=1)
    return count


def _error_and_connections(model, X, y, thetas):
    count = count_connections(model, thetas)  # checks the width of thetas first
    out = population_forward(model, thetas, X)
    if out.shape[1:] != y.shape:  # (P, n, out) against (n, out_y): no silent broadcast
        raise ValueError(f"error_and_connections: the model gives outputs of shape "
                         f"{out.shape[1:]} but y has shape {y.shape}; y must be (n, "
                         f"out_features) with the model's out_features")
    error = ((out - y[None]) ** 2).mean(axis=(1, 2))
    return np.stack([error, count], axis=1)


def error_and_connections(model, X, y):
    """Objectives for :meth:`NSGA2.evolve_weights`: mean squared error and connections.

    Parameters
    ----------
    model : Module
        Dense layers and parameter-free layers (see ``population_forward``).
    X : array_like, shape (n, in_features)
    y : array_like, shape (n, out_features)

    Returns
    -------
    callable
        ``objectives(thetas) -> (population, 2)``: each network's mean squared
        error on ``(X, y)`` (the whole population in one batched product per
        layer) and its number of nonzero connection weights.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if X.ndim != 2 or y.shape[0] != X.shape[0]:
        raise ValueError(f"error_and_connections: X must be (n, in_features) and y (n, "
                         f"out_features) with the same n; got {X.shape} and {y.shape}")
    for name, a in (("X", X), ("y", y)):
        bad = ~np.isfinite(a).all(axis=1)
        if bad.any():
            raise ValueError(f"error_and_connections: {name} must be finite; row "
                             f"{int(np.flatnonzero(bad)[0])} has NaN or inf")
    return functools.partial(_error_and_connections, model, X, y)
