"""CoSyNE: Cooperative Synapse Neuroevolution (notes: "Neuroevolution", cooperative coevolution).

The notes: cooperative coevolution "may be adapted more generally by applying it
at the individual neuron level - that is, each neuron's fitness depends on how
well it works with the other neurons in the network. The CoSyNE neuroevolution
algorithm is based on this." CoSyNE (Gomez, Schmidhuber & Miikkulainen 2008)
goes one level further down, to the single synapse: a fixed network of ``n``
weights is evolved as ``n`` subpopulations of ``m`` weights each. The whole
population is one array ``X`` of shape ``(m, n)``: **column** ``i`` is the
subpopulation ``P_i`` of weight ``i``, **row** ``j`` is the network ``x_j``
(weights ``x_1j .. x_nj``), laid out as the model's flat
:class:`~rosenblatt.nn.ParameterVector`.

One generation (the paper's Algorithm 1):

1. evaluate the ``m`` networks (rows);
2. sort the rows by fitness; the top quarter are parents: children of
   multi-point crossover between random pairs of parents, each weight then
   mutated with probability ``mutation_rate`` by Cauchy noise (scale
   ``mutation_scale``, the paper's choice; Gaussian as an option), replace the
   ``offspring`` worst rows;
3. **permute** each subpopulation: in every column, a weight of network ``j``
   is *marked* with probability (the paper's Section 3, the "n-th root" form,
   ``n`` the number of subpopulations)

   .. math::

       \\mathrm{prob}(x_{ij}) = 1 - \\sqrt[n]{\\frac{f(x_j) - f_{\\min}}
                                               {f_{\\max} - f_{\\min}}}

   and the marked weights of the column are shuffled among themselves
   (:func:`permute_subpopulations`). Weights of good networks are rarely
   moved (the champion's never), those of poor ones nearly always, so the
   next generation tries the surviving weights in new combinations without
   breaking the good ones. The children, which have no fitness yet, are not
   marked; ``permutation="all"`` permutes every evaluated row (the paper's
   simplest variant, Fig. 2c), ``None`` none (a plain GA, for comparison).

Two safeguards of Gomez's CoSyNE program (and of ESP before it), options
here: mutation noise is **cut** (a Cauchy draw beyond ``mutation_cut`` is
drawn again; the program adds Cauchy noise of scale 0.3 cut at 10), so
that no weight jumps to hundreds, where the tanh units saturate and the
network becomes a bang-bang controller that small changes no longer move;
and **burst mutation** on stagnation: when the best fitness has not risen
for ``stagnation`` generations, every subpopulation is refilled around the
best network found (its weights plus the mutation noise, Cauchy or
Gaussian, of scale ``burst_scale``, the champion itself kept) in place of that generation's
recombination, so a population that has converged on a dead end searches
again from the best it knows.

References
----------
F. Gomez, J. Schmidhuber and R. Miikkulainen, "Accelerated Neural Evolution
through Cooperatively Coevolved Synapses", JMLR 9 (2008), 937-965.
"""

import math

import numpy as np

from ..checks import int_at_least, one_of, positive_float, positive_int, unit_interval
from ..nn.module import Module
from ..nn.parameter import ParameterVector
from ..randomness import resolve_rng
from .cne import evaluate_thetas, read_weights, write_weights
from .core import FitnessError, Result, record, run_loop

__all__ = ["CoSyNE", "marking_probability", "multipoint_crossover", "permute_subpopulations"]

PERMUTATIONS = ("probabilistic", "all", None)
NOISES = ("cauchy", "gaussian")


def marking_probability(fitness, n):
    """The paper's probability that each network's weights are marked for permutation.

    ``1 - ((f - f_min) / (f_max - f_min)) ** (1 / n)`` for fitnesses ``f`` of
    shape ``(m,)`` (higher is better) and ``n`` subpopulations. ``-inf``
    (failed evaluations) counts as ``f_min``. When all fitnesses are equal
    nothing distinguishes the networks and every weight is marked.

    Examples
    --------
    >>> marking_probability(np.array([0.0, 1.0, 4.0]), n=2).round(3).tolist()
    [1.0, 0.5, 0.0]
    """
    n = positive_int("marking_probability", "n", n)
    f = np.asarray(fitness, dtype=np.float64)
    finite = np.isfinite(f)
    if not finite.any():
        return np.ones_like(f)
    low, high = f[finite].min(), f[finite].max()
    f = np.where(finite, f, low)
    if high == low:
        return np.ones_like(f)
    return 1.0 - ((f - low) / (high - low)) ** (1.0 / n)


def permute_subpopulations(X, marked, rng):
    """Shuffle, within each column of ``X`` (m, n), the entries where ``marked`` is True.

    Each column stays a permutation of itself (the multiset of a
    subpopulation's weights never changes); unmarked entries stay in place.
    One vectorised pass for all columns: the marked rows of a column, listed
    once in row order and once in random order, are matched position by
    position.

    Examples
    --------
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> marked = np.array([[True, False], [True, False], [False, False], [True, False]])
    >>> Y = permute_subpopulations(X, marked, np.random.default_rng(0))
    >>> sorted(Y[:, 0].tolist()), Y[:, 1].tolist(), float(Y[2, 0])
    ([0.0, 2.0, 4.0, 6.0], [1.0, 3.0, 5.0, 7.0], 4.0)
    """
    rng = resolve_rng(rng)
    marked = np.asarray(marked, dtype=bool)
    if marked.shape != X.shape:
        raise ValueError(f"permute_subpopulations: marked must have X's shape {X.shape}; "
                         f"got {marked.shape}")
    # marked rows first (in row order), then the unmarked ones (in row order)
    targets = np.argsort(~marked, axis=0, kind="stable")
    # marked rows first (in random order), then the unmarked ones (in row order)
    keys = np.where(marked, rng.random(X.shape), 2.0)
    sources = np.argsort(keys, axis=0, kind="stable")
    out = np.empty_like(X)
    np.put_along_axis(out, targets, np.take_along_axis(X, sources, axis=0), axis=0)
    return out


def multipoint_crossover(a, b, points, rng):
    """Two children per parent pair by ``points``-point crossover of rows ``a``, ``b`` (k, n).

    ``points`` distinct cut positions are drawn uniformly from ``1 .. n-1`` for
    each pair (without replacement: two equal cuts would cancel, and the child
    would copy a parent); between cuts the children take alternately from
    ``a`` and ``b`` (the first child starts with ``a``, the second is its
    complement). Returns ``(2k, n)``; with ``n < 2`` no cut exists and the
    parents come back.

    Raises
    ------
    ValueError
        For more points than the ``n - 1`` positions between genes.
    """
    rng = resolve_rng(rng)
    k, n = a.shape
    if n < 2:
        return np.concatenate([a, b])
    if points > n - 1:
        raise ValueError(f"multipoint_crossover: {points} cut points do not fit between {n} "
                         f"genes (at most {n - 1})")
    if points == 1:  # one cut: no repeat possible (and the draws of every earlier run kept)
        cuts = rng.integers(1, n, size=(k, 1))
    else:  # the first `points` of a random order of the positions, for each pair at once
        cuts = np.argsort(rng.random((k, n - 1)), axis=1)[:, :points] + 1
    # parity of the number of cuts at or before each position: which parent gives the gene
    crossed = (cuts[:, :, None] <= np.arange(n)[None, None, :]).sum(axis=1) % 2 == 1
    return np.concatenate([np.where(crossed, b, a), np.where(crossed, a, b)])


def _within_cut(rng, shape, a, cauchy):
    """Standard Cauchy (or normal) draws truncated to ``[-a, a]``, for a cut inside the scale.

    Uniform proposals on ``[-a, a]``, each kept with probability ``density(x) /
    density(0)`` (``1 / (1 + x^2)``, or ``exp(-x^2 / 2)``): the truncated density
    exactly. Below ``a = pi/2`` (``sqrt(pi/2)`` for the normal) this keeps more
    proposals than redrawing the noise itself would, at least 64%, however small ``a``.
    """
    out = np.empty(int(np.prod(shape)))
    todo = np.arange(out.size)
    while todo.size:
        x = rng.uniform(-a, a, todo.size)
        keep = rng.random(todo.size) < (1.0 / (1.0 + x * x) if cauchy else np.exp(-0.5 * x * x))
        out[todo[keep]] = x[keep]
        todo = todo[~keep]
    return out.reshape(shape)


class CoSyNE:
    """Cooperative Synapse Neuroevolution: one subpopulation per weight of a fixed network.

    Parameters
    ----------
    model : Module
        The fixed architecture (its flat ParameterVector is the genome). Its
        current weights seed the population and the best weights found are
        left in it by :meth:`run`.
    population : int, default 40
        ``m``, the size of every subpopulation (= networks per generation).
        At least 8, so that the top quarter holds two parents.
    parents : float, default 0.25
        Fraction of the best networks that recombine (the paper's top quarter).
    offspring : float, default 0.5
        Fraction of the population replaced by children each generation (the
        worst rows); rounded to an even count of at least 2.
    crossover_points : int, default 1
        Cut points of the multi-point crossover (distinct, fewer than the
        network's weights).
    mutation : {"cauchy", "gaussian"}
        The noise added to mutated weights of children.
    mutation_rate : float, default 0.8
        Probability that each weight of a child is mutated.
    mutation_scale : float, default 1.0
        Scale of the Cauchy noise (its half-width), or the Gaussian's std.
        (The defaults of ``offspring``, ``mutation_rate`` and
        ``mutation_scale`` were chosen on a 1,000-step double pole task;
        ``benchmarks/cosyne_claims.py`` measures them on the paper's.)
    permutation : {"probabilistic", "all", None}
        The paper's fitness-dependent marking (default), every evaluated
        weight, or none.
    mutation_cut : float, optional
        Draws of the mutation noise (after scaling) larger than this in
        magnitude are drawn again; default None (no cut). Also cuts the
        initial and the burst noise. A cut below ``pi/2`` times the scale
        (``sqrt(pi/2)`` for Gaussian noise), which most draws would pass, is
        sampled within the cut instead (the same truncated distribution).
    init_std : float, default 1.0
        The first population: the model's weights plus ``init_std`` times the
        mutation noise (the model's own weights are the first row).
    init_range : float, optional
        Instead, draw every weight of the first population uniformly in
        ``[-init_range, init_range]`` (Gomez's program: 10); the model's own
        weights are then not used.
    stagnation : int, optional
        Burst-mutate when the best fitness of a generation has not exceeded
        the best seen ``stagnation`` generations before (Gomez's program: 20);
        default None (never).
    burst_scale : float, default 0.05
        Scale of the burst's noise around the best network.
    rng : numpy.random.Generator or int, optional

    Attributes
    ----------
    X : ndarray (population, n_weights)
        The subpopulations, one per column.
    fitness : ndarray (population,) or None
        The last generation's fitness of each row (before recombination).
    bursts : int
        How many burst mutations have happened.
    best_fitness, best_theta : float, ndarray
        The best fitness any network has had and its weights.

    Notes
    -----
    See the module docstring for the generation and the marking probability.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> net = rb.nn.Dense(2, 1, rng=0).astype(np.float64)
    >>> target = np.array([1.0, -2.0, 0.5])
    >>> cosyne = rb.evolution.CoSyNE(net, population=16, rng=0)
    >>> res = cosyne.run(lambda th: -((th - target) ** 2).sum(axis=1), 60, vectorized=True)
    >>> bool(res.best_fitness > -0.05)
    True
    """

    def __init__(self, model, population=40, parents=0.25, offspring=0.5, crossover_points=1,
                 mutation="cauchy", mutation_rate=0.8, mutation_scale=1.0,
                 permutation="probabilistic", mutation_cut=None, init_std=1.0, init_range=None,
                 stagnation=None, burst_scale=0.05, rng=None):
        if not isinstance(model, Module):
            raise TypeError(f"CoSyNE: model must be a Module; got {type(model).__name__}")
        self.model = model
        self.population = int_at_least("CoSyNE", "population", population, 8)
        self.parents = unit_interval("CoSyNE", "parents", parents, closed_low=False)
        self.offspring = unit_interval("CoSyNE", "offspring", offspring, closed_low=False)
        self.n_parents = int(round(self.parents * self.population))
        if self.n_parents < 2:
            raise ValueError(f"CoSyNE: parents * population must leave at least 2 parents; got "
                             f"{parents} * {population} = {self.n_parents}")
        n_off = max(2, 2 * int(round(self.offspring * self.population / 2)))
        if n_off > self.population - 1:
            raise ValueError(f"CoSyNE: offspring must leave at least the champion in place; "
                             f"{offspring} of {population} replaces {n_off}")
        self.n_offspring = n_off
        self.crossover_points = positive_int("CoSyNE", "crossover_points", crossover_points)
        self.mutation = one_of("CoSyNE", "mutation", mutation, NOISES)
        self.mutation_rate = unit_interval("CoSyNE", "mutation_rate", mutation_rate,
                                           closed_high=True)
        self.mutation_scale = positive_float("CoSyNE", "mutation_scale", mutation_scale)
        self.permutation = one_of("CoSyNE", "permutation", permutation, PERMUTATIONS)
        self.mutation_cut = (None if mutation_cut is None else
                             positive_float("CoSyNE", "mutation_cut", mutation_cut))
        self.init_std = positive_float("CoSyNE", "init_std", init_std, allow_zero=True)
        self.init_range = (None if init_range is None else
                           positive_float("CoSyNE", "init_range", init_range))
        self.stagnation = (None if stagnation is None else
                           positive_int("CoSyNE", "stagnation", stagnation))
        self.burst_scale = positive_float("CoSyNE", "burst_scale", burst_scale)
        self.rng = resolve_rng(rng)
        self.vector = ParameterVector(model.parameters())
        self.n_weights = self.vector.size
        if 2 <= self.n_weights <= self.crossover_points:
            raise ValueError(f"CoSyNE: crossover_points must be below the network's "
                             f"{self.n_weights} weights (the cuts between them); got "
                             f"{crossover_points}")
        shape = (self.population, self.n_weights)
        if self.init_range is not None:
            X = self.rng.uniform(-self.init_range, self.init_range, shape)
        else:
            noise = self._noise(shape, self.init_std)
            noise[0] = 0.0
            X = self.vector.data[None, :] + noise
        self.X = X.astype(self.vector.data.dtype)
        self.fitness = None
        self.bursts = 0
        self.best_fitness, self.best_theta = -math.inf, self.X[0].copy()
        self._record = []  # best fitness of each generation since the last burst

    def _noise(self, shape, scale):
        """``scale`` times the mutation noise, redrawn where beyond ``mutation_cut``."""
        cauchy = self.mutation == "cauchy"
        draw = self.rng.standard_cauchy if cauchy else self.rng.standard_normal
        if self.mutation_cut is None or scale == 0:
            return scale * draw(shape)
        a = self.mutation_cut / scale  # the cut in units of the noise's scale
        if a < (math.pi / 2 if cauchy else math.sqrt(math.pi / 2)):
            # most draws would land beyond a cut this far inside the scale (at 1e-7 the
            # redrawing would never end): draw within the cut instead, the same distribution
            return scale * _within_cut(self.rng, shape, a, cauchy)
        noise = scale * draw(shape)
        far = np.abs(noise) > self.mutation_cut
        while far.any():  # each round keeps > 64% of the rest (a >= pi/2, or sqrt(pi/2))
            noise[far] = scale * draw(int(far.sum()))
            far = np.abs(noise) > self.mutation_cut
        return noise

    def burst(self, champion):
        """Refill every subpopulation around ``champion`` (its weights plus burst noise).

        The first row is the champion itself. Returns the new ``X``.
        """
        noise = self._noise((self.population, self.n_weights), self.burst_scale)
        noise[0] = 0.0
        self.bursts += 1
        self._record = []
        return (champion[None, :] + noise).astype(self.X.dtype)

    def _stagnated(self, value):
        """Record this generation's best; True when the last ``stagnation`` generations
        (since the last burst) found nothing better than those before them."""
        if self.stagnation is None:
            return False
        self._record.append(value)
        return (len(self._record) > self.stagnation
                and max(self._record[-self.stagnation:]) <= max(self._record[:-self.stagnation]))

    def recombine(self, X, order):
        """``n_offspring`` children of the top rows of ``X`` (``order``: rows best first)."""
        top = order[:self.n_parents]
        k = self.n_offspring // 2
        a = X[top[self.rng.integers(0, top.size, size=k)]]
        b = X[top[self.rng.integers(0, top.size, size=k)]]
        children = multipoint_crossover(a, b, self.crossover_points, self.rng)
        mask = self.rng.random(children.shape) < self.mutation_rate
        noise = self._noise(children.shape, self.mutation_scale)
        return (children + mask * noise).astype(X.dtype)

    def step(self, fitness, vectorized=False, executor=None, repeats=1, on_error="raise"):
        """Evaluate the networks, recombine, permute; returns ``(fitness, best row)``.

        With ``stagnation``, a generation whose best is no better than the best
        ``stagnation`` generations before is followed by a burst mutation around
        the best network seen (``best_theta``) instead of recombination.
        """
        # rng: each network scored with a generator of its own, read from self.rng (not
        # drawn from it), so a model or fitness that draws scores as serially on any executor
        f = evaluate_thetas("CoSyNE", self.model, self.vector, self.X, fitness, vectorized,
                            executor, repeats, on_error, rng=self.rng)
        self.fitness = f
        order = np.argsort(-f, kind="stable")
        X = self.X[order]  # every subpopulation sorted by the fitness of its networks
        fs = f[order]
        best = X[0].copy()
        if fs[0] > self.best_fitness:
            self.best_fitness, self.best_theta = float(fs[0]), best.copy()
        if self._stagnated(float(fs[0])):
            self.X = self.burst(self.best_theta)
            return f, best
        children = self.recombine(X, np.arange(self.population))
        survivors = self.population - self.n_offspring
        if self.permutation is not None:
            marked = np.zeros(X.shape, dtype=bool)
            if self.permutation == "all":
                marked[:survivors] = True
            else:
                p = marking_probability(fs[:survivors], self.n_weights)
                marked[:survivors] = self.rng.random((survivors, self.n_weights)) < p[:, None]
            X = permute_subpopulations(X, marked, self.rng)
        X[survivors:] = children
        self.X = X
        return f, best

    def run(self, fitness, generations, executor=None, callbacks=None, stop=None,
            vectorized=False, repeats=1, on_error="raise"):
        """Evolve for up to ``generations``; the best weights end up in the model.

        Parameters and the returned :class:`~rosenblatt.evolution.Result` are
        those of :meth:`CNE.run <rosenblatt.evolution.CNE.run>`: ``fitness(model)
        -> float`` per network, or with ``vectorized=True`` ``fitness(X) ->
        (population,)`` for the whole population matrix (e.g. scored through
        :class:`~rosenblatt.evolution.PopulationModel`); ``stop(best_row)``.
        ``result.evaluations`` counts networks evaluated. Each run starts the
        stagnation count and the best seen for burst mutation afresh (the
        fitness may have changed, e.g. the next task of
        :class:`~rosenblatt.evolution.Staged`).
        """
        if not callable(fitness):  # before anything is evaluated or reset
            raise TypeError(f"CoSyNE.run: fitness must be callable; got "
                            f"{type(fitness).__name__}")
        self.best_fitness, self.best_theta = -math.inf, self.X[0].copy()
        self._record = []
        history = {}
        best = {"theta": read_weights(self.vector).copy(), "fitness": -math.inf, "evals": 0}

        def one(g):
            try:
                f, champion = self.step(fitness, vectorized, executor, repeats, on_error)
            except FitnessError:  # every network was scored before the error was found
                best["evals"] += self.population
                raise
            record(history, f)
            best["evals"] += self.population
            value = float(f.max())
            if value > best["fitness"]:
                best["fitness"], best["theta"] = value, champion.copy()
            return champion, value

        try:
            ran, stopped, error = run_loop(one, generations, callbacks, stop, "CoSyNE.run",
                                           on_error)
        finally:  # also when a fitness raises: the model holds the best weights seen
            write_weights(self.vector, best["theta"])
        return Result(best=best["theta"], best_fitness=best["fitness"], generations=ran,
                      evaluations=best["evals"], history=history, stopped=stopped, error=error)
