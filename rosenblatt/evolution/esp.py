"""ESP: Enforced SubPopulations, neuron-level cooperative coevolution (notes: "Neuroevolution").

The notes: cooperative coevolution "may be adapted more generally by applying it
at the individual neuron level - that is, each neuron's fitness depends on how
well it works with the other neurons in the network." ESP (Gomez &
Miikkulainen 1997, 1999) evolves a network of ``h`` hidden neurons as ``h``
subpopulations of ``n`` neurons; subpopulation ``i`` only ever supplies hidden
position ``i``, so each specialises in one role. A neuron's chromosome is
all its weights: its input weights and bias (a column of the hidden Dense
layer) and its output weights (a row of the output Dense layer).

One generation, for all subpopulations at once:

1. **Evaluation.** ``trials`` rounds; in each, every subpopulation is shuffled
   and network ``t`` of the round is assembled from neuron ``t`` of each
   shuffled subpopulation, so every neuron takes part in exactly ``trials``
   networks. All ``trials * n`` networks are written into one ``(T, n_weights)``
   array in the model's ParameterVector layout and scored together.
   A neuron's fitness is the **mean fitness of the networks it took part in**;
   a network that failed (``on_error="worst"``) counts in that mean below the
   generation's worst finite network fitness by the generation's range, so a
   neuron that breaks the networks it joins is not selected for the few that
   worked.
2. **Recombination** within each subpopulation: each neuron of the top
   quarter is crossed (one point) with a random higher-ranking neuron of the
   top quarter; the two children of each pair replace the worst neurons;
   each child weight is mutated with probability ``mutation_rate`` by Cauchy
   noise.
3. **Burst mutation.** When the best network has not improved for
   ``stagnation`` generations, every subpopulation is rebuilt around the
   neuron the best network used at its position: that neuron plus Cauchy
   noise of scale ``burst_scale`` (the neuron itself kept unchanged), so
   search restarts near the best solution.

4. **Network-size adaptation** (``adapt_size``, on as in ESP). When the best
   network has still not improved ``stagnation`` generations after **two**
   burst mutations in a row, the size of the network is adapted: the best
   network is evaluated once whole and once *lesioned* at each of its hidden
   positions (that neuron's chromosome zeroed, so it contributes nothing); if
   the network without some neuron scores at least as well (within
   ``remove_tolerance``), the subpopulation whose neuron mattered least is
   removed for good; otherwise a new subpopulation is added at a free
   position, of random neurons centred on the zero neuron (so the best network
   is, to begin with, the same network). A burst mutation follows either way.
   The model's hidden width is the most positions ESP can use; ``hidden=``
   starts it on fewer. A removed position's neuron is zero in every assembled
   network. The lesion evaluations count as evaluations.

The output layer's bias, if it has one, belongs to no neuron and stays at the
model's value.

References
----------
F. Gomez and R. Miikkulainen, "Incremental Evolution of Complex General
Behavior", Adaptive Behavior 5 (1997); "Solving Non-Markovian Control Tasks
with Neuroevolution", IJCAI 1999.
"""

import math

import numpy as np

from ..checks import boolean, int_at_least, positive_float, positive_int, unit_interval
from ..nn.dense import Dense
from ..nn.module import Module
from ..nn.parameter import ParameterVector
from ..randomness import resolve_rng
from .cne import _leaves, evaluate_thetas, parameter_layout, read_weights, write_weights
from .core import FitnessError, Result, record, run_loop

__all__ = ["ESP", "neuron_layout"]


def neuron_layout(model):
    """Flat indices ``(h, L)`` of each hidden neuron's weights in ``model``'s ParameterVector.

    ``model`` has exactly two Dense layers (hidden, output) and otherwise only
    parameter-free layers. Row ``i`` lists hidden column ``i``'s input
    weights, its bias (if any) and row ``i`` of the output weights.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> net = rb.nn.Sequential(rb.nn.Dense(2, 3), rb.nn.Tanh(), rb.nn.Dense(3, 1))
    >>> neuron_layout(net).tolist()
    [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8, 11]]
    """
    dense = [m for m in _leaves(model) if isinstance(m, Dense)]
    others = [m for m in _leaves(model) if not isinstance(m, Dense) and list(m.parameters())]
    if len(dense) != 2 or others:
        raise ValueError(f"ESP: model must have exactly two Dense layers (hidden and output) and "
                         f"otherwise parameter-free layers; got {len(dense)} Dense and "
                         f"{len(others)} other layers with parameters")
    layout, _ = parameter_layout(model)
    hidden, out = dense
    w1, (n_in, h) = layout[id(hidden.W)]
    w2, (h2, _) = layout[id(out.W)]
    if h2 != h:
        raise ValueError(f"ESP: the output layer reads {h2} features but the hidden layer has {h}")
    flat1 = np.arange(w1.start, w1.stop).reshape(n_in, h).T  # (h, in): column i of W1
    parts = [flat1]
    if hidden.b is not None:
        b1, _ = layout[id(hidden.b)]
        parts.append(np.arange(b1.start, b1.stop)[:, None])
    parts.append(np.arange(w2.start, w2.stop).reshape(h, -1))  # row i of W2
    return np.concatenate(parts, axis=1)


class ESP:
    """Enforced SubPopulations: one subpopulation of neurons per hidden position.

    Parameters
    ----------
    model : Module
        ``Sequential(Dense(in, h), <activation>, Dense(h, out), <activation>)``
        (any parameter-free layers around the two Dense layers). Its weights
        seed the subpopulations; the best network found is left in it.
    population : int, default 40
        Neurons per subpopulation ``n`` (at least 8).
    trials : int, default 10
        Networks each neuron takes part in per generation (``trials * n``
        evaluations per generation).
    mutation_rate : float, default 0.4
    mutation_scale : float, default 0.3
        Scale of the Cauchy noise of mutation.
    stagnation : int, default 20
        Generations without improvement of the best network before a burst.
    burst_scale : float, default 0.3
        Scale of the Cauchy noise of burst mutation.
    init_std : float, default 1.0
        Neurons start as the model's neurons plus ``init_std`` Cauchy noise.
    adapt_size : bool, default True
        Adapt the number of hidden neurons after two fruitless burst mutations
        (step 4 above; Gomez & Miikkulainen 1999).
    hidden : int, optional
        Hidden positions in use at the start (default: all of the model's
        hidden units, which are also the most ESP can grow to).
    remove_tolerance : float, default 0.0
        A neuron is removed when the best network without it scores at least
        ``f - remove_tolerance * |f|`` (``f`` the whole network's score): by
        default, when its fitness does not drop.
    rng : numpy.random.Generator or int, optional

    Attributes
    ----------
    neurons : ndarray (H, population, L)
        The subpopulations, one per hidden position of the model, in use or
        not (``L`` weights per neuron, see :func:`neuron_layout`).
    active : ndarray of bool (H,)
        The positions in use (their subpopulations evolve; the others'
        neurons are zero in every network).
    neuron_fitness : ndarray (H, population) or None
        Each neuron's mean fitness in the last step's trials (a network that
        failed, with ``on_error="worst"``, counts as ``lo - (hi - lo)``, ``lo``
        and ``hi`` the generation's lowest and highest finite network fitness;
        ``lo - 1`` when they are equal; ``-inf`` for all if every network
        failed), in the order the neurons had when they were evaluated:
        ``recombine`` then ranks each subpopulation best first, so column
        ``j`` is not row ``j`` of the current ``neurons`` (sort it, as
        ``recombine`` does, to pair them).
        NaN at positions not in use.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> xor = rb.evolution.envs.XOR()
    >>> net = rb.nn.Sequential(rb.nn.Dense(2, 3, rng=0), rb.nn.Tanh(), rb.nn.Dense(3, 1, rng=0),
    ...                        rb.nn.Sigmoid()).astype(np.float64)
    >>> esp = rb.evolution.ESP(net, population=8, trials=4, rng=0)
    >>> res = esp.run(lambda th: xor.evaluate(rb.evolution.PopulationModel(net, th)), 3,
    ...               vectorized=True)
    >>> res.evaluations
    96
    """

    def __init__(self, model, population=40, trials=10, mutation_rate=0.4, mutation_scale=0.3,
                 stagnation=20, burst_scale=0.3, init_std=1.0, adapt_size=True, hidden=None,
                 remove_tolerance=0.0, rng=None):
        if not isinstance(model, Module):
            raise TypeError(f"ESP: model must be a Module; got {type(model).__name__}")
        self.model = model
        self.index = neuron_layout(model)
        self.population = int_at_least("ESP", "population", population, 8)
        self.trials = positive_int("ESP", "trials", trials)
        self.mutation_rate = unit_interval("ESP", "mutation_rate", mutation_rate,
                                           closed_high=True)
        self.mutation_scale = positive_float("ESP", "mutation_scale", mutation_scale)
        self.stagnation = positive_int("ESP", "stagnation", stagnation)
        self.burst_scale = positive_float("ESP", "burst_scale", burst_scale)
        self.init_std = positive_float("ESP", "init_std", init_std, allow_zero=True)
        self.adapt_size = boolean("ESP", "adapt_size", adapt_size)
        width = self.index.shape[0]
        start = width if hidden is None else positive_int("ESP", "hidden", hidden)
        if start > width:
            raise ValueError(f"ESP: hidden must be at most the model's {width} hidden units; "
                             f"got {hidden}")
        self.remove_tolerance = positive_float("ESP", "remove_tolerance", remove_tolerance,
                                               allow_zero=True)
        self.rng = resolve_rng(rng)
        self.vector = ParameterVector(model.parameters())
        h, L = self.index.shape
        seed = self.vector.data[self.index]  # (h, L): the model's own neurons
        noise = self.init_std * self.rng.standard_cauchy((h, self.population, L))
        noise[:, 0] = 0.0
        self.neurons = (seed[:, None, :] + noise).astype(self.vector.data.dtype)
        self.active = np.arange(h) < start
        self.neuron_fitness = None
        self.best_neurons = seed * self.active[:, None]
        self._since_improved = 0
        self._bursts = 0  # burst mutations since the best network last improved
        self._best = -math.inf
        self.adapted = 0  # +1 / -1 when the last step added / removed a neuron, else 0
        self.extra_evaluations = 0  # lesion tests of the last step

    @property
    def hidden(self):
        """The number of hidden positions in use."""
        return int(self.active.sum())

    def _network(self, genes):
        """Weight vectors ``(T, n_weights)`` holding neurons ``genes`` (T, H, L)."""
        genes = genes * self.active[None, :, None]  # unused positions contribute nothing
        # the model's current weights (the output bias belongs to no neuron)
        thetas = np.repeat(read_weights(self.vector)[None, :], genes.shape[0], axis=0)
        thetas[:, self.index.ravel()] = genes.reshape(genes.shape[0], -1)
        return thetas

    def assemble(self, choice):
        """Weight vectors ``(T, n_weights)`` of networks made of neurons ``choice`` (T, H)."""
        H = self.index.shape[0]
        return self._network(self.neurons[np.arange(H)[None, :], choice])

    def _choices(self):
        """(trials * n, h): round r, network t takes neuron perm_r,i[t] of subpopulation i."""
        h, n = self.index.shape[0], self.population
        keys = self.rng.random((self.trials, n, h))
        return np.argsort(keys, axis=1).reshape(self.trials * n, h)

    def recombine(self, fit):
        """Replace each subpopulation's worst neurons by children of its top quarter."""
        h, n, L = self.neurons.shape
        order = np.argsort(-fit, axis=1, kind="stable")  # (h, n) best first
        ranked = np.take_along_axis(self.neurons, order[:, :, None], axis=1)
        q = max(2, n // 4)
        r = np.arange(q)
        # each top-quarter neuron mates with a higher-ranked one (the best with another top one)
        mate = np.where(r > 0, np.floor(self.rng.random((h, q)) * np.maximum(r, 1)).astype(int),
                        self.rng.integers(1, q, size=(h, q)))
        a, b = ranked[:, :q], np.take_along_axis(ranked, mate[:, :, None], axis=1)
        cut = self.rng.integers(1, max(L, 2), size=(h, q, 1))
        first = np.arange(L)[None, None, :] < cut
        children = np.concatenate([np.where(first, a, b), np.where(first, b, a)], axis=1)
        mask = self.rng.random(children.shape) < self.mutation_rate
        children = children + mask * self.mutation_scale * self.rng.standard_cauchy(
            children.shape)
        ranked[:, n - 2 * q:] = children.astype(ranked.dtype)
        self.neurons = ranked

    def burst(self):
        """Rebuild every subpopulation around the best network's neuron at its position."""
        h, n, L = self.neurons.shape
        noise = self.burst_scale * self.rng.standard_cauchy((h, n, L))
        noise[:, 0] = 0.0
        self.neurons = (self.best_neurons[:, None, :] + noise).astype(self.neurons.dtype)

    def adapt(self, fitness, vectorized=False, executor=None, repeats=1, on_error="raise"):
        """Remove the neuron the best network does not need, or else add one (step 4).

        Evaluates the best network whole and lesioned at each position in use;
        returns ``-1`` (a position removed), ``+1`` (one added) or ``0`` (none
        could be: a single neuron left that matters, and no free position).
        """
        used = np.flatnonzero(self.active)
        genes = np.repeat(self.best_neurons[None], used.size + 1, axis=0)
        genes[np.arange(1, used.size + 1), used] = 0.0  # row k + 1: without neuron used[k]
        try:
            f = evaluate_thetas("ESP", self.model, self.vector, self._network(genes), fitness,
                                vectorized, executor, repeats, on_error, rng=self.rng)
        finally:  # spent also when one of them fails (on_error="stop")
            self.extra_evaluations += genes.shape[0]
        whole, lesioned = f[0], np.where(np.isfinite(f[1:]), f[1:], -np.inf)
        k = int(np.argmax(lesioned))
        if used.size > 1 and lesioned[k] >= whole - self.remove_tolerance * abs(whole):
            i = used[k]
            self.active[i] = False
            self.best_neurons[i] = 0.0
            self._best = float(lesioned[k])  # the network without it is the one kept
            return -1
        free = np.flatnonzero(~self.active)
        if free.size == 0:
            return 0
        i = free[0]
        self.active[i] = True
        self.best_neurons[i] = 0.0  # the new neurons start around the neuron that does nothing
        return 1

    def _neuron_fitness(self, f, choice):
        """Each neuron's mean network fitness ``(h, n)`` from networks' ``f`` (T,), ``choice``.

        A failed network (``-inf``, ``on_error="worst"``) counts at ``lo - (hi - lo)``
        (``lo``/``hi`` the generation's lowest/highest finite network fitness; ``lo - 1``
        when they are equal): below every network that did not fail, by at least the
        generation's range, so a neuron that breaks the networks it joins ranks low instead
        of being judged on the few that worked. A generation where every network failed
        gives every neuron ``-inf``.
        """
        h, n = self.index.shape[0], self.population
        ok = np.isfinite(f)
        if not ok.any():
            return np.full((h, n), -np.inf)
        lo, hi = f[ok].min(), f[ok].max()
        scored = np.where(ok, f, lo - (hi - lo if hi > lo else 1.0))
        flat = (np.arange(h)[None, :] * n + choice).ravel()
        sums = np.bincount(flat, weights=np.repeat(scored, h), minlength=h * n)
        counts = np.bincount(flat, minlength=h * n)  # trials, for every neuron
        return (sums / counts).reshape(h, n)

    def step(self, fitness, vectorized=False, executor=None, repeats=1, on_error="raise"):
        """One generation; returns ``(network fitness (T,), best network's weights, burst?)``.

        Sets :attr:`adapted` (``+1``/``-1`` when the network grew/shrank) and
        :attr:`extra_evaluations` (the lesion tests' evaluations).
        """
        h = self.index.shape[0]
        self.adapted, self.extra_evaluations = 0, 0
        choice = self._choices()
        thetas = self.assemble(choice)
        # rng: each network scored with a generator of its own, read from self.rng (not
        # drawn from it), so a model or fitness that draws scores as serially on any executor
        f = evaluate_thetas("ESP", self.model, self.vector, thetas, fitness, vectorized,
                            executor, repeats, on_error, rng=self.rng)
        fit = self._neuron_fitness(f, choice)
        self.neuron_fitness = np.where(self.active[:, None], fit, np.nan)
        i = int(np.argmax(np.where(np.isfinite(f), f, -np.inf)))
        champion = thetas[i].copy()
        burst = False
        if f[i] > self._best:
            self._best, self._since_improved, self._bursts = float(f[i]), 0, 0
            self.best_neurons = self.neurons[np.arange(h), choice[i]] * self.active[:, None]
        else:
            self._since_improved += 1
        self.recombine(np.where(self.active[:, None], fit, 0.0))
        if self._since_improved >= self.stagnation:
            if self.adapt_size and self._bursts >= 2:
                self.adapted = self.adapt(fitness, vectorized, executor, repeats, on_error)
                self._bursts = 0
            else:
                self._bursts += 1
            self.burst()
            self._since_improved, burst = 0, True
        return f, champion, burst

    def run(self, fitness, generations, executor=None, callbacks=None, stop=None,
            vectorized=False, repeats=1, on_error="raise"):
        """Evolve for up to ``generations``; the best network's weights end up in the model.

        ``fitness`` and the other arguments are those of :meth:`CNE.run
        <rosenblatt.evolution.CNE.run>`; with ``vectorized=True`` it scores a
        ``(trials * population, n_weights)`` array of assembled networks.
        ``history`` adds ``bursts`` (1 in a generation that ended with a burst
        mutation), ``hidden`` (the positions in use at the generation's end)
        and ``adapted`` (+1/-1 where a neuron was added/removed);
        ``evaluations`` counts assembled networks and lesion tests.
        """
        history = {}
        best = {"theta": read_weights(self.vector).copy(), "fitness": -math.inf, "evals": 0}
        # a run's fitness is its own (Staged hands each task to a run): the best network's
        # score and the stagnation clock that triggers burst mutation start afresh (the
        # bursts stay centred on the best neurons so far until this run's first generation)
        self._best, self._since_improved, self._bursts = -math.inf, 0, 0

        def one(g):
            try:
                f, champion, burst = self.step(fitness, vectorized, executor, repeats, on_error)
            except FitnessError:  # the networks (and lesion tests) scored before the error
                best["evals"] += self.trials * self.population + self.extra_evaluations
                raise
            record(history, f, bursts=int(burst), hidden=self.hidden, adapted=self.adapted)
            best["evals"] += f.shape[0] + self.extra_evaluations
            value = float(np.max(np.where(np.isfinite(f), f, -np.inf)))
            if value > best["fitness"]:
                best["fitness"], best["theta"] = value, champion
            if self.adapted == -1 and self._best > best["fitness"]:
                # the lesion test found the network better without a neuron: the best yet
                best["fitness"] = self._best
                best["theta"] = self._network(self.best_neurons[None])[0]
            return champion, value

        try:
            ran, stopped, error = run_loop(one, generations, callbacks, stop, "ESP.run",
                                           on_error)
        finally:  # also when a fitness raises: the model holds the best weights seen
            write_weights(self.vector, best["theta"])
        return Result(best=best["theta"], best_fitness=best["fitness"], generations=ran,
                      evaluations=best["evals"], history=history, stopped=stopped, error=error)
