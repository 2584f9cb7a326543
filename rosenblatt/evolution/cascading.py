"""Cascading elitism: one selection event per fitness function (notes: "Neuroevolution").

The notes: when there is no single performance metric, instead of a weighted
sum "another way is cascading elitism, where each generation contains
separate selection events for each fitness function, ensuring equal selection
pressure" (Risi & Togelius 2015, after Togelius & Lucas 2006, who evolved car
racing controllers on several tracks: the population was sorted on the first
track and the best kept, those were sorted on the second track and the best of
them kept, and so on).

:func:`cascade` does the events on a fitness matrix ``F`` of shape
``(P, k)`` (one column per function, higher is better): event ``j`` keeps
the best ``sizes[j]`` of the survivors of event ``j - 1`` on function ``j``.
It returns a scalar *cascade score* per individual, so that any algorithm's
ranking machinery (CNE's elitism, NEAT's species) can use it unchanged:

.. math::

    s_i = e_i + \\frac{r_i}{n_i}

where ``e_i`` is the number of events ``i`` survived, ``n_i`` the number of
entrants of the last event ``i`` took part in and ``r_i`` its rank there (0
for the worst entrant). Individuals that passed more events always rank
higher. :func:`function_champions` names the best individual of each
function, which CNE and NEAT's ``selection="cascading"`` copy unchanged into
the next generation (so no function's elite is ever lost).
"""

import functools
import math
import types

import numpy as np

from ..checks import positive_int
from ..parallel import map_chunks
from .core import FitnessError, _vector_failed, evaluation_options, vector_mean

__all__ = ["cascade", "cascade_sizes", "cascading_elites", "check_objectives",
           "evaluate_objectives", "fill_objectives", "function_champions", "known_width",
           "vector_objectives"]


def cascade_sizes(population, k, survivors):
    """Survivors after each of ``k`` events, linearly from ``population`` down to ``survivors``.

    Examples
    --------
    >>> cascade_sizes(100, 3, 10).tolist()
    [70, 40, 10]
    """
    steps = population - (population - survivors) * np.arange(1, k + 1) / k
    return np.maximum(np.round(steps).astype(np.int64), survivors)


def _fitness_matrix(owner, F):
    """``F`` as a float (P, k) matrix with failures (NaN, ``-inf``) as ``-inf``.

    ``+inf`` is refused: the library's evaluations score a fitness that returns
    an infinity as failed (worst), so here it would be either a failure or a
    best that no other value can tie; the caller says which.
    """
    F = np.asarray(F, dtype=np.float64)
    if F.ndim != 2:
        raise ValueError(f"{owner}: F must be a (P, k) fitness matrix; got shape {F.shape}")
    if np.isposinf(F).any():
        i, j = np.argwhere(np.isposinf(F))[0].tolist()
        raise ValueError(f"{owner}: F[{i}, {j}] is +inf; fitness must be finite, with NaN or "
                         f"-inf for a failed evaluation (ranked worst)")
    return np.where(np.isnan(F), -np.inf, F)


def cascade(F, sizes):
    """Cascade scores ``(P,)`` of fitness matrix ``F`` (P, k) with ``sizes[j]`` kept by event j.

    Each size is a non-negative integer (more than the entrants keeps them all).
    NaN and ``-inf`` (failed evaluations) rank worst; ``+inf`` raises a ValueError.

    Examples
    --------
    >>> F = np.array([[4., 0.], [3., 9.], [2., 8.], [1., 7.]])
    >>> cascade(F, [3, 1]).tolist()  # event 1 drops row 3, event 2 keeps row 1 of 0, 1, 2
    [1.0, 2.6666666666666665, 1.3333333333333333, 0.0]
    """
    F = _fitness_matrix("cascade", F)
    P, k = F.shape
    if len(sizes) != k:
        raise ValueError(f"cascade: one size per fitness function ({k}); got {len(sizes)}")
    sizes = [positive_int("cascade", f"sizes[{j}]", s, allow_zero=True)
             for j, s in enumerate(sizes)]
    score = np.zeros(P)
    alive = np.arange(P)
    for j, keep in enumerate(sizes):
        f = F[alive, j]
        order = np.argsort(-f, kind="stable")  # best first
        n = alive.size
        ranks = np.empty(n)
        ranks[order] = np.arange(n - 1, -1, -1)  # the worst entrant 0, the best n - 1
        keep = min(keep, n)
        dropped = alive[order[keep:]]
        score[dropped] = j + ranks[order[keep:]] / n
        alive = alive[order[:keep]]
        score[alive] = j + 1 + ranks[order[:keep]] / n
    return score


def function_champions(F):
    """Index of the best individual on each function (column of ``F``), in column order.

    NaN and ``-inf`` (failed evaluations) rank worst; ``+inf`` raises a ValueError.
    """
    return np.argmax(_fitness_matrix("function_champions", F), axis=0)


def cascading_elites(F, n_elite):
    """The elite of a generation by cascading elitism, best first, and the cascade scores.

    The events shrink the population linearly to ``n_elite`` survivors
    (:func:`cascade_sizes`); the elite is each function's champion (in
    function order, each once) followed by the best-scored others, ``max(n_elite,
    number of champions)`` in all.

    Examples
    --------
    >>> F = np.array([[4., 0.], [3., 9.], [2., 8.], [1., 7.]])
    >>> cascading_elites(F, 2)[0].tolist()
    [0, 1]
    """
    F = _fitness_matrix("cascading_elites", F)
    P, k = F.shape
    score = cascade(F, cascade_sizes(P, k, min(n_elite, P)))
    champions = list(dict.fromkeys(function_champions(F).tolist()))
    taken = set(champions)
    rest = [i for i in np.argsort(-score, kind="stable").tolist() if i not in taken]
    elite = (champions + rest)[:max(n_elite, len(champions))]
    return np.array(elite, dtype=np.int64), score


def known_width(memo, fitness):
    """The number of fitness functions ``memo`` remembers for ``fitness``, else None.

    ``memo`` is ``None`` or ``(fitness, k)``, as CNE and NEAT keep it once an
    individual was scored: the width holds for later generations scored by
    the *same* fitness (a generation where all fail is then ``(P, k)`` of
    ``-inf``, another width an error); a new fitness (another task) starts
    afresh, as on a fresh instance. A bound method counts as the same when
    it binds the same function to the same object (``env.score`` is a new
    object at each attribute access).

    Examples
    --------
    >>> f = lambda x: [0.0, 1.0]
    >>> known_width((f, 2), f), known_width((f, 2), lambda x: [0.0]), known_width(None, f)
    (2, None, None)
    """
    if memo is None:
        return None
    seen, k = memo
    if seen is fitness:
        return k
    if (isinstance(seen, types.MethodType) and isinstance(fitness, types.MethodType)
            and seen.__func__ is fitness.__func__ and seen.__self__ is fitness.__self__):
        return k
    return None


def fill_objectives(history):
    """Widen the leading entries of ``history["objectives"]`` recorded before the run
    knew its number of fitness functions (generations where every individual failed,
    one ``-inf`` each) to the latest entry's width, so that the history is one
    ``(generations, k)`` table. Cheap when there is nothing to do (one length check).

    Examples
    --------
    >>> h = {"objectives": [[-math.inf], [1.0, 2.0]]}
    >>> fill_objectives(h); h["objectives"]
    [[-inf, -inf], [1.0, 2.0]]
    """
    rows = history.get("objectives")
    if not rows:
        return
    k = len(rows[-1])
    if len(rows[0]) == k:  # only a run's first generations can be narrower
        return
    for i, row in enumerate(rows):
        if len(row) != k:
            rows[i] = [-math.inf] * k


def check_objectives(values, P, owner, on_error="raise", k=None, ids=None):
    """``values`` as a float ``(P, k)`` array; wrong shapes raise, NaN/inf as ``on_error`` says.

    ``ids``: a name for each row (genome ids), used in error messages; default the row index.
    """
    evaluation_options(owner, 1, on_error)
    F = np.asarray(values, dtype=np.float64)
    if F.ndim == 1:
        F = F[:, None]
    if F.ndim != 2 or F.shape[0] != P or (k is not None and F.shape[1] != k) or (
            F.ndim == 2 and F.shape[1] == 0):  # no function: nothing would select anything
        want = f"({P}, {k})" if k is not None else f"({P}, k) with k >= 1"
        raise ValueError(f"{owner}: with selection='cascading' fitness must give one value per "
                         f"fitness function for each individual, shape {want}; got {F.shape}")
    bad = ~np.isfinite(F)
    if bad.any():
        if on_error != "worst":
            i = int(np.flatnonzero(bad.any(axis=1))[0])
            raise FitnessError(f"{owner}: fitness failed for individual {_name(ids, i)}: "
                               f"fitness returned {F[i].tolist()} (pass on_error='worst' to "
                               f"score it worst and go on)")
        F = np.where(bad, -np.inf, F)
    return F


def _name(ids, i):
    return i if ids is None else ids[i]


def vector_objectives(fitness, population, ids, *, executor=None, repeats=1, on_error="raise",
                      owner="evolution", k=None):
    """A vectorised fitness ``fitness(population) -> (P, k)``, averaged over ``repeats`` and
    checked like :func:`.core.vector_fitness` (errors name ``ids``).

    ``k``: the number of fitness functions when known (from an earlier
    generation scored by this fitness); another width is then an error.

    The whole population is scored in this process: there is no sub-population
    protocol for several objectives, so an ``executor`` is refused rather than
    left unused (``vectorized=False`` sends individuals through it).
    """
    repeats = evaluation_options(owner, repeats, on_error)
    if executor is not None:
        raise ValueError(f"{owner}: selection='cascading' with vectorized=True scores the "
                         f"whole population in this process and cannot use an executor; "
                         f"pass executor=None, or vectorized=False to send individuals to it")
    try:
        values = vector_mean(fitness, repeats, population)
    except Exception as e:  # noqa: BLE001 - on_error decides (raise: as it was raised)
        if on_error == "raise":
            raise
        _vector_failed(ids, f"{type(e).__name__}: {e}", "stop" if on_error == "stop" else
                       "worst", owner)  # stop: a FitnessError naming the individuals
        values = np.full((len(ids), k or 1), -np.inf)  # worst: every individual
    return check_objectives(values, len(ids), owner, on_error, k=k, ids=ids)


def _objectives(fitness, decode, payload, repeats):
    """One individual's fitness vector, averaged over ``repeats`` (runs in a worker)."""
    try:
        item = decode(payload) if decode is not None else payload
        total = 0.0
        for _ in range(repeats):
            total = total + np.asarray(fitness(item), dtype=np.float64).reshape(-1)
        return (total / repeats).tolist(), None
    except Exception as e:  # noqa: BLE001 - reported with the individual's id by the caller
        return None, f"{type(e).__name__}: {e}"


def _objectives_of(fitness, decode, repeats, payload):
    """:func:`_objectives` with the payload last (for :func:`~rosenblatt.parallel.map_chunks`)."""
    return _objectives(fitness, decode, payload, repeats)


def evaluate_objectives(fitness, payloads, *, decode=None, executor=None, repeats=1,
                        on_error="raise", owner="evolution", ids=None, k=None):
    """Like :func:`.core.evaluate` for a fitness returning several values: a ``(P, k)`` array.

    ``ids``: a name for each individual (genome ids) in error messages; default its index.
    ``k``: the number of fitness functions when known (from an earlier generation scored
    by this fitness): a generation in which every individual fails is then ``(P, k)`` of
    ``-inf`` (with ``on_error="worst"``), and another width is an error.
    """
    repeats = evaluation_options(owner, repeats, on_error)
    n = len(payloads)
    # (rb.parallel, as core.evaluate: several individuals per task, and a shut-down executor
    # or a fitness its workers cannot receive named as the owner's, not a raw error)
    results = map_chunks(functools.partial(_objectives_of, fitness, decode, repeats),
                         payloads, executor, owner=owner)
    known = k is not None
    if not known:
        k = next((len(v) for v, e in results if e is None), None)
        if k == 0:
            i = next(i for i, (v, e) in enumerate(results) if e is None)
            raise ValueError(f"{owner}: fitness returned no values for individual "
                             f"{_name(ids, i)}; it must return one per fitness function "
                             f"(at least one)")
    rows = []
    for i, (value, error) in enumerate(results):
        if error is None and len(value) != k and known:
            raise ValueError(f"{owner}: fitness returned {len(value)} values for individual "
                             f"{_name(ids, i)}; it must return one per fitness function, "
                             f"shape ({n}, {k}) as in the earlier generations this "
                             f"fitness scored")
        if error is None and len(value) != k:
            raise ValueError(f"{owner}: fitness returned {len(value)} values for individual "
                             f"{_name(ids, i)} and {k} for another; it must return one per "
                             f"fitness function")
        if error is not None:
            if on_error != "worst":
                raise FitnessError(f"{owner}: fitness failed for individual {_name(ids, i)}: "
                                   f"{error} (pass on_error='worst' to score it worst and go "
                                   f"on)")
            value = [-math.inf] * (k or 1)
        rows.append(value)
    return check_objectives(rows, n, owner, on_error, k=k if known else None, ids=ids)
