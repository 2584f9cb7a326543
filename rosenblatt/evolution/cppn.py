"""CPPNs and HyperNEAT (notes: "Neuroevolution", direct vs indirect encodings).

A compositional pattern-producing network (CPPN, Stanley 2007) is a NEAT
genome whose nodes draw their activation from functions with regularities:
sine (repetition), Gaussian (symmetry), sigmoid, tanh, absolute value,
identity and step. Queried at every coordinate it *paints* a pattern:
:func:`cppn_image` paints an image from inputs ``(x, y, d)``.

HyperNEAT (Stanley, D'Ambrosio & Gauci 2009) is an *indirect* encoding: the
evolved CPPN paints the weights of a larger network laid out on a geometric
:class:`Substrate`. The weight of the connection from the node at
``(x1, y1)`` to the node at ``(x2, y2)`` is ``CPPN(x1, y1, x2, y2)``; all
connections of all CPPNs of a population are queried in one batched
evaluation. The CPPN's output is clamped to ``[-1, 1]`` (a tanh output node,
:func:`cppn_config`'s, is already there); outputs with ``|w| <= threshold``
are not expressed; the others are scaled to
``sign(w) (|w| - threshold) / (1 - threshold) * weight_max``, within
``[-weight_max, weight_max]``.
Because the pattern is a function of geometry, the same CPPN paints a
substrate of any resolution.
"""

import functools

import numpy as np

from ..checks import boolean, positive_float, positive_int, unit_interval
from . import activations as _act
from .config import NEATConfig
from .genome import Genome
from .neat import NEAT
from .network import PopulationNetwork, _like

__all__ = ["HyperNEAT", "Substrate", "SubstrateNetwork", "cppn_config", "cppn_image",
           "grid"]


def cppn_config(**overrides):
    """A NEATConfig for CPPNs: hidden nodes draw from sine, Gaussian, sigmoid, tanh, abs,
    identity and step; ``activation_mutation_rate`` 0.1; tanh outputs; more
    structural mutation than NEAT's XOR settings (add-node 0.1, add-connection
    0.2); a dynamic compatibility threshold aiming at 10 species.

    Examples
    --------
    >>> cppn_config(population=20).activations[:2]
    ('sine', 'gaussian')
    """
    settings = dict(activations=_act.CPPN_ACTIVATIONS, activation="tanh",
                    output_activation="tanh", activation_mutation_rate=0.1,
                    add_node_rate=0.1, add_connection_rate=0.2, target_species=10)
    settings.update(overrides)
    return NEATConfig(**settings)


def cppn_image(genome, width, height):
    """Paint a CPPN with inputs ``(x, y, d)`` on a ``height x width`` grid.

    ``x`` and ``y`` run over ``[-1, 1]`` (a single column or row lies at the
    centre, 0, as in :func:`grid`), ``d = sqrt(x^2 + y^2)`` is the distance
    from the centre. Returns ``(height, width)`` for one output, or
    ``(height, width, n_outputs)``.

    Examples
    --------
    >>> g = Genome.minimal(0, 3, 1, weights=[0.0, 0.0, 1.0, 0.0], activation="identity")
    >>> img = cppn_image(g, 5, 3)  # the output is d
    >>> img.shape, float(img[1, 2])
    ((3, 5), 0.0)
    """
    width = positive_int("cppn_image", "width", width)
    height = positive_int("cppn_image", "height", height)
    if genome.n_inputs != 3:
        raise ValueError(f"cppn_image: the CPPN must have 3 inputs (x, y, d); genome "
                         f"{genome.id} has {genome.n_inputs}")
    xs = np.linspace(-1, 1, width) if width > 1 else np.zeros(1)
    ys = np.linspace(-1, 1, height) if height > 1 else np.zeros(1)
    x, y = np.meshgrid(xs, ys)
    pts = np.stack([x.ravel(), y.ravel(), np.sqrt(x.ravel() ** 2 + y.ravel() ** 2)], axis=1)
    out = genome.network()(pts).reshape(height, width, genome.n_outputs)
    return out[:, :, 0] if genome.n_outputs == 1 else out


def grid(n, m=None):
    """Coordinates ``(n*m, 2)`` of an ``n x m`` grid over ``[-1, 1]^2``, row-major (y, then x).

    ``n`` rows and ``m`` columns (default ``n``), positive integers; a single row or
    column lies at the centre, 0.
    """
    n = positive_int("grid", "n", n)
    m = n if m is None else positive_int("grid", "m", m)
    xs = np.linspace(-1, 1, m) if m > 1 else np.zeros(1)
    ys = np.linspace(-1, 1, n) if n > 1 else np.zeros(1)
    y, x = np.meshgrid(ys, xs, indexing="ij")
    return np.stack([x.ravel(), y.ravel()], axis=1)


class Substrate:
    """Node coordinates of the network HyperNEAT paints: input, hidden and output layers.

    Connections run input -> hidden -> output (input -> output when there is
    no hidden layer).

    Parameters
    ----------
    inputs, outputs : array (n, 2)
        One finite ``(x, y)`` per node, ``n >= 1`` (the CPPN reads two
        coordinates per end of a connection).
    hidden : array (h, 2), optional
        None or empty: no hidden layer.
    activation : str, default "identity"
        Activation of hidden and output nodes.

    Raises
    ------
    ValueError
        A layer that is not a non-empty ``(n, 2)`` array of finite numbers
        (the message names the layer and its shape).

    Examples
    --------
    >>> s = Substrate(grid(3), grid(3))
    >>> s.queries().shape  # 9 x 9 connections, (x1, y1, x2, y2) each
    (81, 4)
    """

    def __init__(self, inputs, outputs, hidden=None, activation="identity"):
        self.inputs = _layer("inputs", inputs)
        self.outputs = _layer("outputs", outputs)
        if hidden is not None and not isinstance(hidden, str) and np.size(hidden) == 0:
            hidden = None  # an empty layer: no hidden layer
        self.hidden = None if hidden is None else _layer("hidden", hidden)
        if not isinstance(activation, str):  # an unhashable value cannot be looked up
            raise ValueError(f"Substrate: activation must be one of {', '.join(_act.NAMES)}; "
                             f"got {activation!r}")
        self.activation = _act.check("Substrate", "activation", activation)

    @property
    def layers(self):
        return [self.inputs] + ([self.hidden] if self.hidden is not None else []) + [
            self.outputs]

    def queries(self, deltas=False):
        """Every connection's ``(x1, y1, x2, y2)`` (and ``x2 - x1, y2 - y1`` with
        ``deltas``), layer pair after layer pair."""
        qs = []
        for src, dst in zip(self.layers[:-1], self.layers[1:]):
            a = np.repeat(src, len(dst), axis=0)
            b = np.tile(dst, (len(src), 1))
            qs.append(np.concatenate([a, b] + ([b - a] if deltas else []), axis=1))
        return np.concatenate(qs)

    def to_dict(self):
        return {"inputs": self.inputs.tolist(), "outputs": self.outputs.tolist(),
                "hidden": None if self.hidden is None else self.hidden.tolist(),
                "activation": self.activation}


class SubstrateNetwork:
    """The networks painted on a substrate for ``P`` CPPNs: ``(n, n_in) -> (P, n, n_out)``.

    Computed in float64 (the painted weights); outputs have the input's
    floating dtype (float32 in, float32 out), float64 for any other. ``X`` may
    also be ``(P, n, n_in)``, a batch per network (what :meth:`step` passes);
    another shape is a ValueError naming the substrate's ``n_in``.

    Attributes
    ----------
    weights : list of ndarray (P, n_src, n_dst)
        One per layer pair, after thresholding and scaling.
    """

    def __init__(self, substrate, weights):
        self.substrate = substrate
        self.weights = weights
        self.size = weights[0].shape[0]
        self._f = _act.ACTIVATIONS[substrate.activation]

    def __call__(self, X):
        h = np.asarray(X, dtype=np.float64)
        n_in = self.weights[0].shape[1]
        if h.ndim not in (2, 3) or h.shape[-1] != n_in or (h.ndim == 3
                                                           and h.shape[0] != self.size):
            # (a raw matmul error would name neither the substrate nor the shape it takes)
            raise ValueError(f"SubstrateNetwork: X must have shape (n, {n_in}) (one input per "
                             f"node of the substrate's input layer) or ({self.size}, n, "
                             f"{n_in}) (a batch per network); got {h.shape}")
        for W in self.weights:
            h = self._f(np.matmul(h, W))
        return _like(h, X)

    def step(self, obs):
        obs = np.asarray(obs)
        n_in = self.weights[0].shape[1]
        if obs.shape != (self.size, n_in):
            raise ValueError(f"SubstrateNetwork.step: obs must have shape ({self.size}, {n_in})"
                             f" (one observation per network, one input per node of the "
                             f"substrate's input layer); got {obs.shape}")
        return self(obs[:, None, :] if obs.dtype.kind == "f" else
                    np.asarray(obs, dtype=np.float64)[:, None, :])[:, 0]

    def reset(self, population=None):
        pass

    def keep(self, mask):
        mask = np.asarray(mask, dtype=bool)
        self.weights = [W[mask] for W in self.weights]
        self.size = int(mask.sum())

    def take(self, index):
        return SubstrateNetwork(self.substrate, [W[np.asarray(index)] for W in self.weights])


def _layer(name, points):
    """A substrate layer as a float ``(n, 2)`` array; ValueError naming the layer otherwise."""
    try:
        a = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"Substrate: {name} must be an (n, 2) array of node coordinates; "
                         f"got {points!r:.60}") from None
    if a.ndim != 2 or a.shape[1] != 2 or a.shape[0] < 1:  # (4, 3) is not six 2-D points
        raise ValueError(f"Substrate: {name} must be an (n, 2) array of node coordinates "
                         f"(x, y) with n >= 1; got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"Substrate: {name} has a non-finite coordinate at node "
                         f"{int(np.flatnonzero(~np.isfinite(a).all(axis=1))[0])}")
    return a


def paint(cppns, substrate, threshold=0.2, weight_max=3.0):
    """Query CPPNs for every connection of ``substrate`` in one batched evaluation.

    ``cppns`` is a list of genomes (4 inputs ``x1, y1, x2, y2``, or 6 with the
    offsets ``x2 - x1, y2 - y1``; 1 output) or a :class:`PopulationNetwork` of
    them. Each output is clamped to ``[-1, 1]``, thresholded and scaled onto
    ``[-weight_max, weight_max]`` (the module's docstring). Returns a
    :class:`SubstrateNetwork`.

    Raises
    ------
    ValueError
        CPPNs of another number of inputs, or of more than one output.
    """
    net = cppns if isinstance(cppns, PopulationNetwork) else PopulationNetwork(list(cppns))
    if net.n_inputs not in (4, 6):
        raise ValueError(f"paint: a HyperNEAT CPPN has 4 inputs (x1, y1, x2, y2) or 6 (with "
                         f"the offsets); got {net.n_inputs}")
    if net.n_outputs != 1:
        raise ValueError(f"paint: a HyperNEAT CPPN has 1 output; got {net.n_outputs}")
    raw = net(substrate.queries(deltas=net.n_inputs == 6))[:, :, 0]  # (P, connections)
    raw = np.clip(raw, -1.0, 1.0)  # |w| > 1 would be painted beyond weight_max
    mag = np.abs(raw)
    w = np.where(mag > threshold, np.sign(raw) * (mag - threshold) / (1 - threshold), 0.0)
    w *= weight_max
    weights, start = [], 0
    for src, dst in zip(substrate.layers[:-1], substrate.layers[1:]):
        n = len(src) * len(dst)
        weights.append(w[:, start:start + n].reshape(-1, len(src), len(dst)))
        start += n
    return SubstrateNetwork(substrate, weights)


def _fitness_of_painted(fitness, substrate, threshold, weight_max, genome):
    """Executor-side: paint one CPPN genome on the substrate (given as plain data), score it."""
    if isinstance(substrate, dict):
        substrate = Substrate(substrate["inputs"], substrate["outputs"], substrate["hidden"],
                              substrate["activation"])
    return fitness(paint([genome], substrate, threshold, weight_max))


def _fitness_of_painted_population(fitness, substrate, threshold, weight_max, popnet):
    """Executor-side, vectorised: paint a sub-population's CPPNs (a PopulationNetwork rebuilt
    from genome JSON) on the substrate (plain data) at once, score them all."""
    substrate = Substrate(substrate["inputs"], substrate["outputs"], substrate["hidden"],
                          substrate["activation"])
    return fitness(paint(popnet, substrate, threshold, weight_max))


class HyperNEAT:
    """HyperNEAT: NEAT evolves CPPNs that paint the weights of a network on a substrate.

    Parameters
    ----------
    substrate : Substrate
    config : NEATConfig, optional
        Default :func:`cppn_config`.
    threshold : float, default 0.2
        CPPN outputs with ``|w|`` below it express no connection.
    weight_max : float, default 3.0
    deltas : bool, default False
        Give the CPPN the offsets ``x2 - x1, y2 - y1`` as two more inputs (a
        common HyperNEAT variant that makes locality easy to express).
    rng : numpy.random.Generator or int, optional

    Attributes
    ----------
    neat : NEAT
        The NEAT run over CPPN genomes (4 or 6 inputs, 1 output).
    """

    def __init__(self, substrate, config=None, threshold=0.2, weight_max=3.0, deltas=False,
                 rng=None):
        if not isinstance(substrate, Substrate):
            raise TypeError(f"HyperNEAT: substrate must be a Substrate; got "
                            f"{type(substrate).__name__}")
        self.substrate = substrate
        self.threshold = unit_interval("HyperNEAT", "threshold", threshold)
        self.weight_max = positive_float("HyperNEAT", "weight_max", weight_max)
        self.deltas = boolean("HyperNEAT", "deltas", deltas)
        self.neat = NEAT(6 if deltas else 4, 1,
                         config if config is not None else cppn_config(), rng=rng)

    def develop(self, cppns, substrate=None):
        """The substrate network(s) painted by a genome, a list of genomes or a population
        network, on ``substrate`` (default: this one; any resolution works)."""
        if substrate is None:
            substrate = self.substrate
        elif not isinstance(substrate, Substrate):  # `substrate or ...` raised on an array
            raise TypeError(f"HyperNEAT.develop: substrate must be a Substrate (e.g. "
                            f"Substrate(grid(33), grid(33))) or None; got "
                            f"{type(substrate).__name__}")
        if isinstance(cppns, Genome):
            cppns = [cppns]
        return paint(cppns, substrate, self.threshold, self.weight_max)

    def run(self, fitness, generations, executor=None, callbacks=None, stop=None,
            vectorized=False, repeats=1, on_error="raise", chunk_size=32):
        """Evolve CPPNs; ``fitness`` scores painted networks.

        ``fitness(substrate_network) -> float`` for one network (a
        SubstrateNetwork of size 1), or with ``vectorized=True`` ``-> (P,)`` for
        the whole population painted at once (with an ``executor``: sub-populations
        of genome JSON, painted and scored in the workers; ``fitness`` must then
        be module level). Other arguments (``chunk_size``: CPPNs per task with
        ``vectorized=True`` and an executor) as :meth:`NEAT.run`; the result's
        ``best`` is the best CPPN genome seen.
        """
        if not callable(fitness):
            raise TypeError(f"HyperNEAT.run: fitness must be callable; got "
                            f"{type(fitness).__name__}")
        if vectorized and executor is not None:
            painted = functools.partial(_fitness_of_painted_population, fitness,
                                        self.substrate.to_dict(), self.threshold,
                                        self.weight_max)
            return self.neat.run(painted, generations, executor, callbacks, stop, True,
                                 repeats, on_error, chunk_size)
        if vectorized:
            def painted(popnet):
                return fitness(self.develop(popnet))

            return self.neat.run(painted, generations, None, callbacks, stop, True, repeats,
                                 on_error, chunk_size)
        sub = self.substrate.to_dict() if executor is not None else self.substrate
        one = functools.partial(_fitness_of_painted, fitness, sub, self.threshold,
                                self.weight_max)
        return self.neat.run(one, generations, executor, callbacks, stop, False, repeats,
                             on_error, chunk_size)
