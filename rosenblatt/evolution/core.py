"""The protocol every evolutionary algorithm here shares (notes: "Neuroevolution").

An algorithm (CNE, NEAT, HyperNEAT, and later CoSyNE, ESP, NSGA-II) owns a
population and a ``run(fitness, generations, executor=None, callbacks=None,
stop=None)`` method that returns a :class:`Result`. What they share lives here:

* :class:`Result`: ``best`` (the champion: a weight vector or a genome),
  ``best_fitness``, ``generations`` (how many ran), ``evaluations`` and
  ``history`` (a dict of per-generation lists: ``best``, ``mean``, ``worst``,
  plus whatever the algorithm records, e.g. ``species``).
* :func:`evaluate`: fitness of a list of individuals, serial or through any
  :class:`concurrent.futures.Executor`, averaged over ``repeats`` (the notes'
  remedy for noisy, non-deterministic tasks), with NaN and exceptions either
  raised as :class:`FitnessError` naming the individual or scored worst.
  Individuals cross process boundaries as *plain data* (JSON text, lists of
  floats), never as pickled objects of library classes: a ``decode`` function
  (module level, so it travels by name) rebuilds the individual in the worker.
* :func:`run_loop`: the generation loop with callbacks and ``stop``.

Fitness is "higher is better" throughout.
"""

import functools
import hashlib
import json
import math
import threading
from dataclasses import dataclass, field

import numpy as np

from ..checks import one_of, positive_int
from ..parallel import map_chunks
from ..randomness import deferred, generator, using

__all__ = ["FitnessError", "Result", "evaluate", "run_loop"]

ON_ERROR = ("raise", "stop", "worst")


class FitnessError(RuntimeError):
    """A fitness function raised or returned a non-finite value for an individual."""


@dataclass
class Result:
    """What ``run`` returns.

    Attributes
    ----------
    best : object
        The champion (a weight vector for CNE, a Genome for NEAT).
    best_fitness : float
    generations : int
        How many generations ran (fewer than asked when ``stop`` ended the run).
    evaluations : int
        Fitness evaluations spent (``repeats`` counts once per individual).
    history : dict of list
        One entry per generation: ``best``, ``mean``, ``worst`` fitness, and any
        algorithm-specific series (NEAT adds ``species``, ``species_sizes``,
        ``hidden``, ``threshold``).
    stopped : bool
        True when ``stop`` (or a callback) ended the run, or a fitness error did
        (with ``on_error="stop"``).
    error : str or None
        The fitness error that ended the run (``on_error="stop"``), naming the
        individual.
    """

    best: object
    best_fitness: float
    generations: int
    evaluations: int
    history: dict = field(default_factory=dict)
    stopped: bool = False
    error: str = None


def generation_stream(rng):
    """The ``(state, inc)`` of a PCG64 stream for one generation's individuals, read from
    ``rng``'s state without drawing from it (seeded by a SHA-256 of that state).

    Individual ``i`` draws from block ``i`` of 2**64 numbers of this stream
    (:func:`_individual_rng`): decided by the run's generator, yet leaving its
    stream as it was, so a run scored per individual keeps the draws of the
    same run vectorised, and seeded runs whose fitness draws nothing are
    unchanged.
    """
    return _stream_of(rng.bit_generator.state)


def _stream_of(state):
    """:func:`generation_stream` of a generator's ``bit_generator.state``."""
    text = json.dumps(state, sort_keys=True, default=lambda a: np.asarray(a).tolist())
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    state = np.random.PCG64(seed).state["state"]
    return state["state"], state["inc"]


_SCORING = threading.local()  # .rng: the generator this thread scores individuals with


def _individual_rng(stream, i):
    """A generator at block ``i`` (2**64 draws each) of the generation's PCG64 ``stream``.

    This thread's one generator, reset (~5 us; building a generator costs
    ~20 us, as much as scoring a small network): the individual scored before
    on this thread is done with it, unless it is the one whose fitness is
    scoring this individual (an evaluation nested in a fitness), which gets a
    generator of its own.
    """
    rng = getattr(_SCORING, "rng", None)
    if rng is None or rng is generator():
        rng = np.random.Generator(np.random.PCG64(0))
        if getattr(_SCORING, "rng", None) is None:
            _SCORING.rng = rng
    bits = rng.bit_generator
    bits.state = {"bit_generator": "PCG64", "state": {"state": stream[0], "inc": stream[1]},
                  "has_uint32": 0, "uinteger": 0}
    bits.advance(i << 64)
    return rng


def _seeded_decode(decode, payload):
    """Worker side (or serial): an individual's generator, from the generation's stream and
    its index, and the individual (the generator carries over the ``repeats`` of its
    fitness)."""
    stream, i, data = payload
    return _individual_rng(stream, i), data if decode is None else decode(data)


def _seeded_fitness(fitness, item):
    """``fitness(model)`` with the individual's generator as the library generator, so what
    the model (dropout in train mode with ``rng=None``) or the fitness draws from it does
    not depend on where, or in which order, individuals are scored (a layer's generator of
    its own is not replaced: serially it carries over from individual to individual)."""
    rng, model = item
    with using(rng):
        return fitness(model)


def seeded(rng, fitness, payloads, decode=None):
    """``(fitness, payloads, decode)`` for :func:`~rosenblatt.evolution.core.evaluate` (or
    ``evaluate_objectives``) that score each individual with a generator of its own.

    Individual ``i`` draws from block ``i`` of the generation's stream
    (:func:`generation_stream`, read from ``rng`` without drawing from it):
    what a fitness, or a model, draws from the library generator then does not
    depend on the executor, its workers or the order of scoring. The stream
    and the index travel with each payload (plain ints). Costs ~5-10 us per
    individual.
    """
    stream = generation_stream(rng)
    return (functools.partial(_seeded_fitness, fitness),
            [(stream, i, p) for i, p in enumerate(payloads)],
            functools.partial(_seeded_decode, decode))


def evaluation_options(owner, repeats, on_error):
    """``repeats`` (a positive int) and ``on_error`` checked for ``owner``; returns ``repeats``.

    What every evaluation path (:func:`evaluate`, :func:`vector_fitness`,
    :func:`vector_chunks`, the cascading ones) checks before it calls a fitness.
    """
    repeats = positive_int(owner, "repeats", repeats)
    one_of(owner, "on_error", on_error, ON_ERROR)
    return repeats


def _one(fitness, decode, payload, repeats):
    """Evaluate one individual (runs in a worker when an executor is used)."""
    item = decode(payload) if decode is not None else payload
    total = 0.0
    for _ in range(repeats):
        value = fitness(item)
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"fitness must return a number; got {type(value).__name__}") from None
        total += value
    return total / repeats


def _guarded(fitness, decode, repeats, payload):
    """Like :func:`_one`, but returns ``(value, error text)`` instead of raising."""
    try:
        return _one(fitness, decode, payload, repeats), None
    except Exception as e:  # noqa: BLE001 - reported with the individual's id by the caller
        return math.nan, f"{type(e).__name__}: {e}"


def evaluate(fitness, payloads, ids, *, decode=None, executor=None, repeats=1,
             on_error="raise", owner="evolution"):
    """Fitness of each individual, as a float array (higher is better).

    Parameters
    ----------
    fitness : callable
        ``fitness(individual) -> float``. With an executor it must be picklable
        by reference (a module-level function or a ``functools.partial`` of one).
    payloads : list
        The individuals as plain data (what crosses to a worker).
    ids : list
        A name for each individual (one per payload), used in error messages.
    decode : callable, optional
        Module-level function rebuilding an individual from its payload.
    executor : concurrent.futures.Executor, optional
        Evaluate through the executor, several individuals per task
        (:func:`rosenblatt.parallel.map_chunks`; results are in order, so
        identical to serial evaluation).
    repeats : int, default 1
        Average over this many calls (noisy fitness).
    on_error : {"raise", "stop", "worst"}
        A fitness that raises or returns NaN/inf raises a :class:`FitnessError`
        naming the individual ("raise"; :func:`run_loop` turns it into a clean
        end of the run with "stop"), or scores ``-inf`` (worst) and the run goes on.

    Examples
    --------
    >>> evaluate(lambda x: x * 2.0, [1.0, 2.0], ids=[0, 1]).tolist()
    [2.0, 4.0]
    """
    repeats = evaluation_options(owner, repeats, on_error)
    payloads, ids = list(payloads), list(ids)
    if len(ids) != len(payloads):  # zipped, the values past the shorter would stay unset
        raise ValueError(f"{owner}: ids must name each individual: {len(payloads)} payloads "
                         f"but {len(ids)} ids")
    results = map_chunks(functools.partial(_guarded, fitness, decode, repeats), payloads,
                         executor, owner=owner)
    values = np.empty(len(results))
    for i, ((value, error), ident) in enumerate(zip(results, ids)):
        if error is None and not math.isfinite(value):
            error = f"fitness returned {value}"
        if error is not None:
            if on_error != "worst":
                raise FitnessError(f"{owner}: fitness failed for individual {ident}: {error} "
                                   f"(pass on_error='worst' to score it worst and go on)")
            value = -math.inf
        values[i] = value
    return values


def vector_fitness(fitness, population, ids, repeats=1, on_error="raise", owner="evolution",
                   rng=None):
    """A vectorised fitness ``fitness(population) -> (P,)`` checked like :func:`evaluate`.

    A fitness that raises: its exception propagates (``on_error="raise"``), or a
    :class:`FitnessError` naming the individuals ends the run (``"stop"``), or every
    individual scores ``-inf`` (``"worst"``); :func:`vector_chunks` does the same per
    sub-population.

    With ``rng`` (the run's generator) the population is scored with block 0 of the
    generation's stream as the library generator (all ``repeats`` calls), as
    :func:`vector_chunks` scores its first sub-population: what the fitness draws from the
    library generator then follows from the run's seed alone (the same run serially and,
    while the population fits one sub-population, under any executor), and the library
    generator outside the run is left as it was.
    """
    repeats = evaluation_options(owner, repeats, on_error)
    try:
        if rng is None:
            values = _vector_values(fitness, repeats, population)
        else:  # the run's state read now; the generator built only if the fitness draws
            state = rng.bit_generator.state
            with deferred(lambda: _individual_rng(_stream_of(state), 0)):
                values = _vector_values(fitness, repeats, population)
    except Exception as e:  # noqa: BLE001 - on_error decides (raise: as it was raised)
        if on_error == "raise":
            raise
        values = _vector_failed(ids, f"{type(e).__name__}: {e}", on_error, owner)
    return _checked(values, ids, on_error, owner)


def _vector_failed(ids, error, on_error, owner):
    """A vectorised fitness that raised while scoring the individuals ``ids``: a
    :class:`FitnessError` naming them (``on_error="stop"``: :func:`run_loop` ends the run
    cleanly with it) or ``-inf`` for each (``"worst"``)."""
    if on_error == "worst":
        return np.full(len(ids), -np.inf)
    span = f"{ids[0]}" if len(ids) == 1 else f"{ids[0]}, ... ({len(ids)} in all)"
    raise FitnessError(f"{owner}: fitness failed for individuals {span}, scored together by a "
                       f"vectorised fitness: {error} (pass on_error='worst' to score them worst "
                       f"and go on)")


def vector_mean(fitness, repeats, population):
    """``fitness(population)`` as float64, averaged over ``repeats`` calls (a noisy fitness)."""
    total = 0.0
    for _ in range(repeats):
        total = total + np.asarray(fitness(population), dtype=np.float64)
    return total / repeats


def _vector_values(fitness, repeats, population):
    return np.reshape(vector_mean(fitness, repeats, population), -1)


def _vector_part(fitness, decode_many, repeats, payloads):
    """One task of :func:`vector_chunks`: a sub-population rebuilt from plain data, scored."""
    return _vector_values(fitness, repeats, decode_many(payloads)).tolist()


def _seeded_vector_part(fitness, decode_many, repeats, payload):
    """One task of :func:`vector_chunks` with ``rng``: sub-population ``j`` scored with block
    ``j`` of the generation's stream as the library generator (all ``repeats`` calls)."""
    stream, j, payloads = payload
    with using(_individual_rng(stream, j)):
        return _vector_part(fitness, decode_many, repeats, payloads)


def _guarded_part(score, payload):
    """``(values, None)`` of one task of :func:`vector_chunks`, or ``(None, error text)`` when
    its fitness raised (``on_error`` other than "raise")."""
    try:
        return score(payload), None
    except Exception as e:  # noqa: BLE001 - reported with the individuals' ids by the caller
        return None, f"{type(e).__name__}: {e}"


def _checked(values, ids, on_error, owner):
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.shape[0] != len(ids):
        raise ValueError(f"{owner}: a vectorised fitness must return one value per individual "
                         f"({len(ids)}); got {values.shape[0]}")
    bad = ~np.isfinite(values)
    if bad.any():
        if on_error != "worst":
            ident = ids[int(np.flatnonzero(bad)[0])]
            raise FitnessError(f"{owner}: fitness failed for individual {ident}: fitness "
                               f"returned {values[bad][0]} (pass on_error='worst' to score "
                               f"it worst and go on)")
        values = np.where(bad, -np.inf, values)
    return values


def vector_chunks(fitness, payloads, ids, decode_many, executor, *, chunk_size=32, repeats=1,
                  on_error="raise", owner="evolution", encode_many=None, rng=None):
    """A vectorised fitness over sub-populations of ``chunk_size`` sent through ``executor``.

    Each task rebuilds a sub-population from plain data (``decode_many(list of
    payloads)``, module level) and scores it at once, so one message carries
    up to ``chunk_size`` individuals and the worker still runs one array
    program over them. With ``encode_many``, each sub-population's message is
    ``encode_many(list of payloads)`` instead (built here, e.g. one dict of
    flat arrays for the whole sub-population) and ``decode_many`` reads that.

    The population is dealt to ``k = ceil(P / chunk_size)`` tasks in turn
    (individual ``i`` to task ``i mod k``), not cut into consecutive runs: a
    population is ordered by species, and an episodic fitness such as pole
    balancing costs a sub-population about as many simulated steps as its
    longest-lived members last, so consecutive runs put a long-lived species
    in one task and leave the others short. Dealt, every task gets members of
    every species (the tasks' costs even out, and fewer long-lived members
    share a task: measured in ``docs/scale.md``). The cut depends only on
    ``P`` and ``chunk_size``, not on the executor or its worker count, so
    neither do the results.

    With ``rng`` (the run's generator), sub-population ``j`` is scored with a
    generator of its own as the library generator: block ``j`` of the
    generation's stream (:func:`generation_stream`, read from ``rng``'s state,
    not drawn from it; the stream and ``j`` travel with the sub-population, as
    :func:`seeded` does per individual), so what the fitness draws from the
    library generator does not depend on the executor, its workers or the
    order of the tasks. The fitness is called once per sub-population: a draw
    it makes once per call (one shared by the population it is given, e.g.
    :class:`~rosenblatt.evolution.envs.TwoArmedBandit`'s ``sides="random"``)
    is made once per sub-population. A generator of the fitness's own (not the
    library's) is drawn by whichever worker scores a sub-population (copies of
    it in a process pool), which no seeding here can reach.
    """
    repeats = evaluation_options(owner, repeats, on_error)
    chunk_size = positive_int(owner, "chunk_size", chunk_size)
    k = -(-len(payloads) // chunk_size)
    parts = [payloads[j::k] for j in range(k)]
    sizes = [len(part) for part in parts]
    if encode_many is not None:
        parts = [encode_many(part) for part in parts]
    score = _vector_part
    if rng is not None:
        stream = generation_stream(rng)
        parts = [(stream, j, p) for j, p in enumerate(parts)]
        score = _seeded_vector_part
    score = functools.partial(score, fitness, decode_many, repeats)
    if on_error != "raise":  # a sub-population whose fitness raised: stop, or its members worst
        done = map_chunks(functools.partial(_guarded_part, score), parts, executor,
                          chunks=max(1, k), owner=owner)
        for j, (part, error) in enumerate(done):
            if error is not None:
                part = _vector_failed(ids[j::k], error, on_error, owner).tolist()
            done[j] = part
    else:
        done = map_chunks(score, parts, executor, chunks=max(1, k), owner=owner)
    got = [len(part) for part in done]
    if got != sizes:
        raise ValueError(f"{owner}: a vectorised fitness must return one value per individual "
                         f"of its sub-population ({sizes} individuals); got {got} values")
    values = [None] * len(payloads)
    for j, part in enumerate(done):  # back in population order
        values[j::k] = part
    return _checked(values, ids, on_error, owner)


def record(history, fitnesses, **extra):
    """Append a generation's best/mean/worst (finite values only) and any extra series."""
    finite = fitnesses[np.isfinite(fitnesses)]
    if finite.size == 0:
        finite = np.array([-np.inf])
    history.setdefault("best", []).append(float(finite.max()))
    # fitnesses near the float64 limit: their sum overflows (and +inf meets -inf: invalid)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = finite.mean()
    if not np.isfinite(mean) and np.isfinite(finite).all():
        scale = float(np.abs(finite).max())
        mean = (finite / scale).mean() * scale
    history.setdefault("mean", []).append(float(mean))
    history.setdefault("worst", []).append(float(finite.min()))
    for key, value in extra.items():
        history.setdefault(key, []).append(value)


def callback_list(callbacks, owner="evolution"):
    """``callbacks`` (None, one callable or an iterable of them) as a checked list."""
    if callable(callbacks):  # one callback need not come in a list
        return [callbacks]
    try:
        callbacks = list(callbacks or [])
    except TypeError:
        raise TypeError(f"{owner}: callbacks must be a callable or a list of callables; got "
                        f"{type(callbacks).__name__}") from None
    for c in callbacks:
        if not callable(c):
            raise TypeError(f"{owner}: each callback must be callable; got {type(c).__name__}")
    return callbacks


def run_loop(step, generations, callbacks=None, stop=None, owner="evolution",
             on_error="raise"):
    """Call ``step(generation) -> (champion, champion_fitness)`` up to ``generations`` times.

    After each generation every callback is called as ``callback(algorithm_state)``
    where the state is the dict ``{"generation", "champion", "fitness"}``; a
    callback returning True ends the run, as does ``stop(champion)``.
    ``callbacks`` is a list of callables, or one callable. With
    ``on_error="stop"`` a :class:`FitnessError` ends the run cleanly.
    Returns ``(generations run, stopped, error message or None)``.
    """
    generations = positive_int(owner, "generations", generations)
    callbacks = callback_list(callbacks, owner)
    if stop is not None and not callable(stop):
        raise TypeError(f"{owner}: stop must be callable or None; got {type(stop).__name__}")
    for g in range(generations):
        try:
            champion, value = step(g)
        except FitnessError as e:
            if on_error != "stop":
                raise
            return g, True, str(e)
        state = {"generation": g, "champion": champion, "fitness": value}
        halt = False
        for c in callbacks:
            halt = bool(c(state)) or halt
        if stop is not None and stop(champion):
            return g + 1, True, None
        if halt:
            return g + 1, True, None
    return generations, False, None
