"""Randomness: one library generator, seeded by ``rb.seed`` (DESIGN principle 5).

Every function that draws random numbers takes an optional ``rng``
(a :class:`numpy.random.Generator`). When it is ``None`` the library
generator is used, so ``rb.seed(n)`` makes a whole run reproducible, bit for
bit, without touching NumPy's global state or Python's ``random``.
``using(rng)`` overrides the library generator for the calling thread only,
so threads that each build or train with their own generator (parallel trials
on a thread pool) cannot draw from one another's.
"""

import contextlib
import threading

import numpy as np

_generator = np.random.default_rng()
_override = threading.local()  # .rng: this thread's generator inside `using`, else absent


def seed(n):
    """Reseed the library generator; same seed, same run.

    The generator is reset in place, so everything that holds it (objects built
    with ``rng=None`` before the call) draws from the new stream too.

    Parameters
    ----------
    n : int
        A non-negative integer seed.

    Examples
    --------
    >>> from rosenblatt.randomness import generator, seed  # rb.seed is this seed
    >>> seed(0); a = generator().random()
    >>> seed(0); a == generator().random()
    True
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"seed: expected a non-negative integer; got {n!r}")
    # reset the one generator in place rather than replacing it: an object built earlier
    # with rng=None (an RBM, NEAT, an optimizer's noise) holds this generator, and a later
    # rb.seed must decide its draws as well
    _generator.bit_generator.state = np.random.default_rng(int(n)).bit_generator.state


def generator():
    """The library generator (the one ``rb.seed`` resets), or this thread's inside ``using``."""
    rng = getattr(_override, "rng", None)
    if rng is None:
        return _generator
    if type(rng) is _Deferred:  # built on first use (deferred): the outer one meanwhile
        _override.rng = rng.outer
        rng = _override.rng = rng.build()
    return rng


class _Deferred:
    """A generator :func:`deferred` builds only if something asks for the library generator."""

    __slots__ = ("build", "outer")

    def __init__(self, build, outer):
        self.build, self.outer = build, outer


def resolve_rng(rng=None):
    """Return ``rng`` if given, else the library generator.

    ``rng`` may also be a non-negative int, which seeds a fresh generator.

    Raises
    ------
    TypeError
        For anything else (a float, a bool, ``numpy.random.RandomState``).
    ValueError
        For a negative int seed.
    """
    if rng is None:
        return generator()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if rng < 0:  # NumPy's own message names neither rng nor the seed
            raise ValueError(f"rng: an int seed must be >= 0; got {int(rng)}")
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng must be a numpy.random.Generator, an int seed or None; got {type(rng).__name__}"
    )


@contextlib.contextmanager
def using(rng):
    """Make ``rng`` the library generator inside a ``with`` block; the previous one is restored.

    The override holds for the calling thread only: other threads keep
    drawing from their own (or the global) generator. Code that draws with
    ``rng=None`` (layer initialisation, dropout, shuffling) then draws from
    ``rng``. The library uses it to build layers from a file without moving
    ``rb.seed``'s stream.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> rb.seed(0); before = rb.randomness.generator()
    >>> with rb.randomness.using(np.random.default_rng(1)) as g:
    ...     g is rb.randomness.generator()
    True
    >>> rb.randomness.generator() is before
    True
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"using: expected a numpy.random.Generator; got {type(rng).__name__}")
    saved = getattr(_override, "rng", None)
    _override.rng = rng
    try:
        yield rng
    finally:
        _override.rng = saved


@contextlib.contextmanager
def deferred(build):
    """:func:`using` a generator that ``build()`` makes when the library generator is first
    asked for inside the block, if ever (the calling thread only; while ``build`` runs, the
    library generator is the one outside the block). For generators that cost more to make
    than the work they cover, when that work often draws nothing: a generation of
    neuroevolution scored with a generator read from the run's state (~50 us a generation
    for a fitness, like XOR's, that draws nothing)."""
    saved = getattr(_override, "rng", None)
    _override.rng = _Deferred(build, saved)
    try:
        yield
    finally:
        _override.rng = saved
