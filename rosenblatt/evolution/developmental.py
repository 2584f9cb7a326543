"""Developmental (plastic) networks (notes: "Neuroevolution", indirect encodings).

"A form of indirect encodings are developmental approaches in which the network
develops new connections as the game is being played." The genome does not
hold the network's final weights: it holds each connection's *initial* weight
and a *local rule* by which the connection changes while the network acts, so
that what a network knows at the end of a lifetime is what it learned during
it. Evolution then selects rules that learn (Floreano & Urzelai 2000;
Soltoggio et al. 2008; Risi & Stanley 2010).

Notes
-----
Each layer maps its input ``x`` (with a constant 1 appended, the bias unit) to
``o = tanh(W_e x)``, through the *expressed* weights

.. math::

    (W_e)_{ij} = w_{ij}\\,[\\,|w_{ij}| > \\theta\\,]

(a connection exists only while its developed weight passes the threshold
``theta``, as HyperNEAT expresses a CPPN's output). After each step every
connection ``j -> i`` (presynaptic activity ``o_j = x_j``, postsynaptic
``o_i``) develops by the generalised Hebbian rule of Soltoggio et al. (2008,
eq. 2-3),

.. math::

    \\Delta w_{ij} = \\eta\\,(A\\,o_j o_i + B\\,o_j + C\\,o_i + D),
    \\qquad w_{ij} \\leftarrow \\mathrm{clip}(w_{ij} + \\Delta w_{ij}, -w_{max}, w_{max}),

applied to the developed weight ``w`` (not to ``W_e``: a connection below the
threshold keeps growing until it is expressed). ``B`` weighs the presynaptic
activity and ``C`` the postsynaptic, as in the paper, so a rule ``(A, B, C,
D, eta)`` taken from it means the same here. The paper's modulatory neurons
are left out: it applies ``tanh(m / 2) * Delta w``, the rule gated by the
activity ``m`` of modulatory neurons; here every update applies whole
(modulation ``m = 1``: the plain Hebbian ABCD rule, without the gate). The genes per connection are
its initial weight ``w0`` and its rule ``(A, B, C, D, eta)``; with
``rule="layer"`` one rule is shared by the connections of a layer (fewer genes
to evolve), with ``initial_weights="zero"`` every connection starts at 0,
unexpressed, and the genome holds the rules alone (the whole network grows
during its lifetime), and with ``rule=None`` the weights are fixed: the
conventional network of the same shape, the baseline a plastic one must beat.

A population of ``P`` networks is simulated at once: each layer's developed
weights are one array ``(P, out, in + 1)``, one batched product and one
element-wise update per step, no loop over individuals. The genes of a network
are one flat vector (the layout of ``network.genes``' parameters), so
:class:`~rosenblatt.evolution.CNE` evolves them as it evolves any weight
vector.

References
----------
Soltoggio, A., Bullinaria, J. A., Mattiussi, C., Dürr, P. & Floreano, D.
(2008). Evolutionary advantages of neuromodulated plasticity in dynamic,
reward-based scenarios. *ALIFE XI*, 569-576.

Risi, S. & Stanley, K. O. (2010). Indirectly encoding neural plasticity as a
pattern of local rules. *SAB 2010*, 533-543.

Risi, S. & Togelius, J. (2015). Neuroevolution in games: state of the art and
open challenges. *IEEE TCIAIG* 9(1), 25-41.
"""

import json
from dataclasses import dataclass, field

import numpy as np

from ..checks import is_int, one_of, positive_float, real_array
from ..nn.module import Module
from ..nn.parameter import Parameter
from ..nn.registry import register
from .cne import parameter_layout
from .genome import GenomeFormatError

__all__ = ["DevelopmentalGenome", "DevelopmentalNetwork", "DevelopmentalPopulation"]

RULES = ("connection", "layer", None)
INITIAL_WEIGHTS = ("evolved", "zero")
TERMS = ("A", "B", "C", "D", "eta")
FORMAT = "rosenblatt.evolution.developmental"
VERSION = 1


def _configuration(owner, sizes, rule, threshold, w_max, initial_weights):
    """The network's arguments checked and in canonical types (shared by the network and the
    genome, so a genome read from a file is checked before anything of its size is built)."""
    try:
        layers = tuple(sizes)
    except TypeError:
        raise TypeError(f"{owner}: sizes must be a sequence of layer sizes, e.g. (2, 3, 1); "
                        f"got {sizes!r}") from None
    if len(layers) < 2 or not all(is_int(n) and n > 0 for n in layers):
        raise ValueError(f"{owner}: sizes must be at least two positive integers "
                         f"(inputs, ..., outputs); got {sizes!r}")
    rule = one_of(owner, "rule", rule, RULES)
    threshold = positive_float(owner, "threshold", threshold, allow_zero=True)
    w_max = positive_float(owner, "w_max", w_max)
    if w_max <= threshold:
        raise ValueError(f"{owner}: w_max must exceed threshold ({threshold}), or no "
                         f"connection could ever be expressed; got {w_max!r}")
    initial_weights = one_of(owner, "initial_weights", initial_weights, INITIAL_WEIGHTS)
    if rule is None and initial_weights == "zero":
        raise ValueError(f"{owner}: rule=None with initial_weights='zero' leaves every "
                         f"weight at 0 forever; pass a rule or initial_weights='evolved'")
    return tuple(int(n) for n in layers), rule, threshold, w_max, initial_weights


def _gene_shapes(sizes, rule, initial_weights):
    """Per layer, ``{gene name: shape}``: ``weight`` (out, in + 1) when the initial weights
    are evolved, then the rule's terms in the order of ``TERMS``."""
    shapes = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        genes = {}
        if initial_weights == "evolved":
            genes["weight"] = (n_out, n_in + 1)
        if rule is not None:
            for term in TERMS:
                genes[term] = (n_out, n_in + 1) if rule == "connection" else (1, 1)
        shapes.append(genes)
    return shapes


class _Genes(Module):
    """The genes of a developmental network as parameters, for CNE's weight vector.

    Private (not a layer: it has no forward): one dict of parameters per layer, as
    :func:`_gene_shapes` lists them. Registered (below) so that its spec (the network's
    configuration and the gene shapes) travels: CNE's per-individual fitness under an
    executor rebuilds the model it scores in each worker from its spec, and ``rb.save`` /
    ``rb.load`` keep what the genes mean (:meth:`network` rebuilds the network).
    """

    def __init__(self, shapes, configuration=None):
        self.layers = [{name: Parameter(np.zeros(shape)) for name, shape in genes.items()}
                       for genes in shapes]
        # (sizes, rule, threshold, w_max, initial_weights), checked; None: the shapes alone
        # (a file saved before the configuration was kept)
        self.configuration = configuration

    def config(self):
        """The gene shapes as JSON data: per layer, ``[name, [rows, columns]]`` pairs in the
        parameters' order (a list, not a dict: a spec's keys may be sorted), and the
        network's configuration."""
        config = {"shapes": [[[name, list(p.data.shape)] for name, p in genes.items()]
                             for genes in self.layers]}
        if self.configuration is not None:
            sizes, rule, threshold, w_max, initial_weights = self.configuration
            config["network"] = {"sizes": list(sizes), "rule": rule, "threshold": threshold,
                                 "w_max": w_max, "initial_weights": initial_weights}
        return config

    @classmethod
    def from_config(cls, config):
        """The genes of the shapes :meth:`config` lists (all zero), and their network's
        configuration when the config holds one (checked: it must give these shapes)."""
        shapes = _shapes_of(config)
        network = config.get("network")
        if network is None:
            return cls(shapes)
        owner = "DevelopmentalGenes"
        try:
            configuration = _configuration(owner, network["sizes"], network["rule"],
                                           network["threshold"], network["w_max"],
                                           network["initial_weights"])
        except (KeyError, TypeError) as e:
            raise ValueError(f"{owner}: config 'network' must hold sizes, rule, threshold, "
                             f"w_max and initial_weights; got {network!r:.200} ({e})") from None
        if _gene_shapes(configuration[0], configuration[1], configuration[4]) != shapes:
            raise ValueError(f"{owner}: config 'network' {network!r:.200} does not give the "
                             f"gene shapes the config lists")
        return cls(shapes, configuration)

    def network(self):
        """The :class:`DevelopmentalNetwork` these genes belong to, holding a copy of their
        values (e.g. after ``rb.load``)."""
        if self.configuration is None:
            raise ValueError("DevelopmentalGenes: these genes carry no network configuration "
                             "(saved by an older version); build the DevelopmentalNetwork with "
                             "its arguments and copy the parameters into its genes")
        net = DevelopmentalNetwork(*self.configuration)
        for mine, theirs in zip(self.parameters(), net.genes.parameters()):
            theirs.data[...] = mine.data
        return net

    @classmethod
    def state_shapes(cls, config):
        """``layers.{k}.{name}``: each gene's shape, from the config (checked)."""
        return {f"layers.{k}.{name}": shape
                for k, genes in enumerate(_shapes_of(config)) for name, shape in genes.items()}


def _shapes_of(config):
    """The per-layer ``{gene name: shape}`` of a :class:`_Genes` config (from a file: checked)."""
    shapes = config.get("shapes") if isinstance(config, dict) else None
    try:
        layers = [{name: tuple(shape) for name, shape in genes} for genes in shapes]
    except (TypeError, ValueError):
        layers = None
    names = ("weight",) + TERMS
    if not layers or not all(
            set(genes) <= set(names) and all(
                len(shape) == 2 and all(is_int(n) and n > 0 for n in shape)
                for shape in genes.values())
            for genes in layers):
        raise ValueError(f"DevelopmentalGenes: config 'shapes' must list, per layer, [name, "
                         f"[rows, columns]] pairs with names among {names} and positive "
                         f"integer sizes; got {shapes!r}")
    return [{name: tuple(int(n) for n in shape) for name, shape in genes.items()}
            for genes in layers]



register(_Genes, name="DevelopmentalGenes")


class DevelopmentalNetwork:
    """A feed-forward network whose connections develop during its lifetime.

    Parameters
    ----------
    sizes : sequence of int
        Units per layer, inputs first: ``(n_inputs, hidden..., n_outputs)``,
        at least two. Every layer has a bias unit and ``tanh`` units.
    rule : {"connection", "layer", None}, default "connection"
        Who owns a rule ``(A, B, C, D, eta)``: each connection, each layer
        (shared by its connections), or nobody (fixed weights).
    threshold : float, default 0.2
        A connection is expressed while ``|w| > threshold``.
    w_max : float, default 10.0
        Developed weights are clipped to ``[-w_max, w_max]``; must exceed
        ``threshold``.
    initial_weights : {"evolved", "zero"}, default "evolved"
        Each connection's initial weight is a gene, or every connection
        starts at 0 (unexpressed) and only the rules are evolved.

    Attributes
    ----------
    genes : Module
        The genes as parameters (all zero at first); their flat vector
        (``rb.nn.ParameterVector(net.genes.parameters())``) is one genome, the
        vector :class:`~rosenblatt.evolution.CNE` evolves. A registered module
        (``"DevelopmentalGenes"``, parameters only, no forward): it saves with
        ``rb.save``, configuration included (sizes, rule, threshold, w_max,
        initial weights: ``rb.load(path).network()`` is the network again),
        and CNE ships it by its spec to an executor's workers, so a
        per-individual fitness (given the genes module, e.g.
        ``TwoArmedBandit``) runs on any executor.
    num_genes : int

    Notes
    -----
    Each step, layer by layer, ``o = tanh(W_e [x; 1])`` through the expressed
    weights ``(W_e)_ij = w_ij [|w_ij| > threshold]``; then every connection
    ``j -> i`` develops by Soltoggio et al.'s (2008) rule

    .. math::

        w_{ij} \\leftarrow \\mathrm{clip}\\big(w_{ij}
            + \\eta\\,(A\\,o_j o_i + B\\,o_j + C\\,o_i + D),\\ -w_{max},\\ w_{max}\\big),

    with ``o_j`` the presynaptic activity (an input, a hidden unit or the bias
    unit's 1) and ``o_i`` the postsynaptic (``B`` presynaptic, ``C``
    postsynaptic, as in the paper; its modulatory neurons are left out,
    modulation ``m = 1``: see the module's Notes). ``reset`` (a new lifetime) sets
    every ``w`` back to its initial value from the genome.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> net = rb.evolution.DevelopmentalNetwork((1, 1))
    >>> task = rb.evolution.envs.TwoArmedBandit(trials=10)
    >>> cne = rb.evolution.CNE(net.genes, population=20, rng=0)
    >>> res = cne.run(lambda thetas: task.evaluate(net.population(thetas)), generations=5,
    ...               vectorized=True)
    >>> net.num_genes, res.best_fitness > 0.5
    (12, True)
    """

    def __init__(self, sizes, rule="connection", threshold=0.2, w_max=10.0,
                 initial_weights="evolved"):
        (self.sizes, self.rule, self.threshold, self.w_max,
         self.initial_weights) = _configuration("DevelopmentalNetwork", sizes, rule, threshold,
                                                w_max, initial_weights)
        self.genes = _Genes(_gene_shapes(self.sizes, self.rule, self.initial_weights),
                            (self.sizes, self.rule, self.threshold, self.w_max,
                             self.initial_weights))
        self._layout, self.num_genes = parameter_layout(self.genes)

    def __repr__(self):
        return (f"DevelopmentalNetwork(sizes={self.sizes}, rule={self.rule!r}, "
                f"threshold={self.threshold}, w_max={self.w_max}, "
                f"initial_weights={self.initial_weights!r})")

    def decode(self, thetas):
        """Per layer, ``{gene name: array (P, *shape)}`` viewing the rows of ``thetas``.

        Parameters
        ----------
        thetas : array, shape (P, num_genes)

        Raises
        ------
        ValueError
            If ``thetas`` is not ``(P, num_genes)`` or holds a NaN or an infinity.
        """
        if not (isinstance(thetas, np.ndarray) and thetas.dtype.kind in "iuf"):
            thetas = real_array("DevelopmentalNetwork", "thetas", thetas,
                                "a (P, num_genes) array")
        thetas = np.asarray(thetas, dtype=np.float64)  # a float64 array: viewed, not copied
        if thetas.ndim != 2 or thetas.shape[1] != self.num_genes:
            raise ValueError(f"DevelopmentalNetwork: thetas must have shape (P, "
                             f"{self.num_genes}) for {self!r}; got {thetas.shape}")
        if not np.isfinite(thetas).all():
            raise ValueError("DevelopmentalNetwork: thetas must be finite")
        P = thetas.shape[0]
        return [{name: thetas[:, self._layout[id(p)][0]].reshape((P,) + p.data.shape)
                 for name, p in genes.items()} for genes in self.genes.layers]

    def population(self, thetas):
        """The networks of the genomes ``thetas`` (P, num_genes), simulated together.

        Returns
        -------
        DevelopmentalPopulation
        """
        return DevelopmentalPopulation(self, thetas)

    def theta(self):
        """The genes held in :attr:`genes` as one flat vector ``(num_genes,)`` (after
        ``CNE.run``: the champion's)."""
        theta = np.empty(self.num_genes)
        for p in self.genes.parameters():
            theta[self._layout[id(p)][0]] = p.data.ravel()
        return theta

    def genome(self, theta=None):
        """The genes ``theta`` (default: :meth:`theta`) as a :class:`DevelopmentalGenome`."""
        theta = self.theta() if theta is None else np.asarray(theta, dtype=np.float64)
        layers = self.decode(theta.reshape(1, -1))
        return DevelopmentalGenome(
            sizes=self.sizes, rule=self.rule, threshold=self.threshold, w_max=self.w_max,
            initial_weights=self.initial_weights,
            layers=[{name: a[0].copy() for name, a in genes.items()} for genes in layers])


class DevelopmentalPopulation:
    """``P`` developmental networks stepped together; their weights develop as they act.

    Follows the environments' population protocol (``size``, ``reset``,
    ``step``, ``keep``, ``take``). Build it with
    :meth:`DevelopmentalNetwork.population`.

    Attributes
    ----------
    weights : list of ndarray, each (P, out, in + 1)
        The developed weights of each layer (the last column: the bias unit's).
    size : int
    recurrent : bool
        True unless the weights are fixed (``rule=None``): a plastic network's
        outputs depend on what it saw before, as a recurrent network's do, so
        what scores every observation in one batch (``Imitation``) refuses it.
    """

    def __init__(self, network, thetas, _owned=False):
        self.network = network
        layers = network.decode(thetas)  # checked; views into thetas
        if not _owned:  # a copy: the initial weights view it, and a caller may change thetas
            thetas = np.array(thetas, dtype=np.float64)
            layers = network.decode(thetas)
        self.thetas = np.asarray(thetas, dtype=np.float64)
        self.recurrent = network.rule is not None
        self.size = self.thetas.shape[0]
        self._initial, self._rules = [], []
        for n_in, n_out, genes in zip(network.sizes[:-1], network.sizes[1:], layers):
            w0 = genes.get("weight")
            self._initial.append(np.zeros((self.size, n_out, n_in + 1)) if w0 is None else w0)
            if network.rule is not None:
                # eta folded into A..D once: a step then costs two products fewer
                eta = genes["eta"]
                with np.errstate(over="ignore"):
                    rules = tuple(eta * genes[t] for t in TERMS[:4])
                if not all(np.isfinite(r).all() for r in rules):
                    raise ValueError("DevelopmentalPopulation: eta times A, B, C or D "
                                     "overflows float64 in a genome; keep the rule's genes "
                                     "within about 1e150")
                self._rules.append(rules)
        self.reset()

    def reset(self, population=None):
        """Start a new lifetime: every weight back to its initial value."""
        self.weights = [w0.copy() for w0 in self._initial]
        self._scratch = _scratch(self.weights)

    def expressed_weights(self):
        """Per layer, the weights the networks use now: ``w`` where ``|w| > threshold``, else 0."""
        threshold = self.network.threshold
        return [np.where(np.abs(w) > threshold, w, 0.0) for w in self.weights]

    def expressed(self):
        """Number of expressed connections (``|w| > threshold``) of each network, ``(P,)``."""
        threshold = self.network.threshold
        return sum((np.abs(w) > threshold).sum(axis=(1, 2)) for w in self.weights)

    def step(self, obs):
        """Outputs ``(P, n_outputs)`` for the observations ``obs`` (P, n_inputs); then every
        connection develops by its rule (see the module's Notes)."""
        x = np.asarray(obs, dtype=np.float64)
        if x.shape != (self.size, self.network.sizes[0]):
            raise ValueError(f"DevelopmentalPopulation.step: obs must have shape "
                             f"({self.size}, {self.network.sizes[0]}); got {x.shape} (a row "
                             f"per network, {self.network.sizes[0]} inputs each)")
        if not np.isfinite(x).all():  # a NaN would poison the developed weights for good
            row = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
            raise ValueError(f"DevelopmentalPopulation.step: obs must be finite; row {row} "
                             f"holds {x[row].tolist()!r:.80}")
        threshold, w_max = self.network.threshold, self.network.w_max
        for k, w in enumerate(self.weights):
            x1, buf, mask = self._scratch[k]
            x1[:, :-1] = x  # the last column: the bias unit, always 1
            # the expressed weights, then each development term, in one buffer per layer kept
            # from step to step: no (P, out, in + 1) temporaries allocated per step
            np.greater(np.abs(w, out=buf), threshold, out=mask)
            # w * mask is expressed_weights' np.where(mask, w, 0) while w is finite, as it
            # stays: finite genes (checked) and observations (checked), tanh, the clip
            np.multiply(w, mask, out=buf)
            x = np.tanh(np.matmul(buf, x1[:, :, None])[..., 0])
            if self._rules:
                a, b, c, d = self._rules[k]  # eta A, eta B, eta C, eta D
                post, pre = x[:, :, None], x1[:, None, :]
                np.multiply(a, pre, out=buf)  # dw = post (eta A pre + eta C) + eta B pre + eta D
                buf += c
                buf *= post
                w += buf
                np.multiply(b, pre, out=buf)
                buf += d
                w += buf
                np.clip(w, -w_max, w_max, out=w)
        return x

    def __call__(self, X):
        """Outputs ``(P, n, n_outputs)`` of every network on the batch ``X`` (n, n_inputs)
        with its current weights, developing nothing."""
        h = np.asarray(X, dtype=np.float64)
        if h.ndim != 2 or h.shape[1] != self.network.sizes[0]:
            raise ValueError(f"DevelopmentalPopulation: X must have shape (n, "
                             f"{self.network.sizes[0]}); got {h.shape}")
        h = np.broadcast_to(h, (self.size,) + h.shape)
        for w in self.expressed_weights():
            h = np.concatenate([h, np.ones(h.shape[:2] + (1,))], axis=2)
            h = np.tanh(np.matmul(h, np.swapaxes(w, 1, 2)))
        return h

    def keep(self, mask):
        """Keep the networks where ``mask`` (P,) is True, their developed weights with them."""
        mask = np.asarray(mask)
        if mask.shape != (self.size,):
            raise ValueError(f"DevelopmentalPopulation.keep: mask must have shape "
                             f"({self.size},), one per network; got {mask.shape}")
        self._select(mask.astype(bool))

    def take(self, index):
        """A population of the networks ``index`` (repeats allowed), each at the start of a
        lifetime."""
        index = np.asarray(index)
        if index.ndim != 1 or index.dtype.kind not in "iu" or (
                index.size and not (-self.size <= index.min() and index.max() < self.size)):
            raise ValueError(f"DevelopmentalPopulation.take: index must be a 1-D array of "
                             f"network indices in [0, {self.size}); got {index.tolist()!r:.80}")
        # thetas[index] is a new array: the population owns it, no second copy
        return DevelopmentalPopulation(self.network, self.thetas[index], _owned=True)

    def _select(self, index):
        self.thetas = self.thetas[index]
        self.size = self.thetas.shape[0]
        self._initial = [w0[index] for w0 in self._initial]
        self._rules = [tuple(t[index] for t in terms) for terms in self._rules]
        self.weights = [w[index] for w in self.weights]
        self._scratch = _scratch(self.weights)


def _scratch(weights):
    """Per layer of ``weights`` (P, out, in + 1): the input with its bias unit (P, in + 1) and
    room for (P, out, in + 1) values and their mask, kept from step to step."""
    return [(np.ones((w.shape[0], w.shape[2])), np.empty_like(w), np.empty(w.shape, bool))
            for w in weights]


@dataclass(eq=False)  # the generated __eq__ would compare arrays with ==: ambiguous
class DevelopmentalGenome:
    """One developmental network's genes as plain data, with a JSON round-trip.

    Attributes
    ----------
    sizes, rule, threshold, w_max, initial_weights
        As for :class:`DevelopmentalNetwork`.
    layers : list of dict
        Per layer, ``weight`` (out, in + 1) when the initial weights are
        evolved, and ``A``, ``B``, ``C``, ``D``, ``eta`` (out, in + 1), or
        (1, 1) with ``rule="layer"``, unless ``rule`` is None.

    Raises
    ------
    ValueError
        On construction: a configuration :class:`DevelopmentalNetwork`
        refuses, or a layer whose genes are missing, extra, of the wrong shape
        (the message names the shape expected) or not finite.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> g = rb.evolution.DevelopmentalNetwork((2, 1), rule="layer").genome()
    >>> rb.evolution.DevelopmentalGenome.from_json(g.to_json()).layers[0]["weight"].shape
    (1, 3)
    """

    sizes: tuple
    rule: object = "connection"
    threshold: float = 0.2
    w_max: float = 10.0
    initial_weights: str = "evolved"
    layers: list = field(default_factory=list)

    def __post_init__(self):
        owner = "DevelopmentalGenome"
        (self.sizes, self.rule, self.threshold, self.w_max,
         self.initial_weights) = _configuration(owner, self.sizes, self.rule, self.threshold,
                                                self.w_max, self.initial_weights)
        shapes = _gene_shapes(self.sizes, self.rule, self.initial_weights)
        if not isinstance(self.layers, (list, tuple)) or len(self.layers) != len(shapes):
            got = len(self.layers) if isinstance(self.layers, (list, tuple)) else self.layers
            raise ValueError(f"{owner}: sizes {self.sizes} give {len(shapes)} layers; got genes "
                             f"for {got!r}")
        layers = []
        for k, (genes, expected) in enumerate(zip(self.layers, shapes)):
            if not isinstance(genes, dict) or set(genes) != set(expected):
                got = sorted(genes) if isinstance(genes, dict) else genes
                raise ValueError(f"{owner}: layer {k} must hold the genes {sorted(expected)}; "
                                 f"got {got!r:.80}")
            layer = {}
            for name, shape in expected.items():
                a = real_array(owner, f"layer {k} gene {name!r}", genes[name])
                if a.shape != shape:
                    raise ValueError(f"{owner}: layer {k} gene {name!r} must have shape "
                                     f"{shape}; got {a.shape}")
                if not np.isfinite(a).all():
                    raise ValueError(f"{owner}: layer {k} gene {name!r} must be finite")
                layer[name] = a
            layers.append(layer)
        self.layers = layers

    def __eq__(self, other):
        """Equal configurations and equal genes (a JSON round trip gives an equal genome)."""
        if not isinstance(other, DevelopmentalGenome):
            return NotImplemented
        mine = (self.sizes, self.rule, self.threshold, self.w_max, self.initial_weights)
        theirs = (other.sizes, other.rule, other.threshold, other.w_max, other.initial_weights)
        return mine == theirs and all(
            a.keys() == b.keys() and all(np.array_equal(a[n], b[n]) for n in a)
            for a, b in zip(self.layers, other.layers))

    __hash__ = None  # mutable, as the dataclass was

    def network(self):
        """A :class:`DevelopmentalNetwork` holding these genes."""
        net = DevelopmentalNetwork(self.sizes, self.rule, self.threshold, self.w_max,
                                   self.initial_weights)
        for genes, params in zip(self.layers, net.genes.layers):
            for name, p in params.items():
                p.data[...] = genes[name]
        return net

    def theta(self):
        """The genes as the flat vector of :meth:`network`'s layout ``(num_genes,)``."""
        return self.network().theta()

    def to_json(self, indent=None):
        """The genome as JSON text (floats written exactly: ``repr`` round-trips)."""
        return json.dumps({
            "format": FORMAT, "version": VERSION, "sizes": list(self.sizes), "rule": self.rule,
            "threshold": self.threshold, "w_max": self.w_max,
            "initial_weights": self.initial_weights,
            "layers": [{name: a.tolist() for name, a in genes.items()} for genes in self.layers],
        }, indent=indent)

    @classmethod
    def from_json(cls, text):
        """Rebuild a genome from :meth:`to_json`'s text; anything else is a GenomeFormatError."""
        where = "DevelopmentalGenome.from_json"
        try:
            d = json.loads(text)
        except (TypeError, ValueError, RecursionError) as e:  # Recursion: deeply nested
            raise GenomeFormatError(f"{where}: not JSON ({e})") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise GenomeFormatError(f"{where}: not a developmental genome (expected a JSON "
                                    f"object with format {FORMAT!r})")
        if type(d.get("version")) is not int or d["version"] != VERSION:  # not true, 1.0
            raise GenomeFormatError(f"{where}: unsupported version {d.get('version')!r}")
        try:
            layers = d["layers"]  # converted and checked by __post_init__
            return cls(sizes=tuple(d["sizes"]), rule=d["rule"], threshold=d["threshold"],
                       w_max=d["w_max"], initial_weights=d["initial_weights"], layers=layers)
        except KeyError as e:
            raise GenomeFormatError(f"{where}: malformed genome (missing key {e})") from None
        # OverflowError: an integer beyond float64 (w_max = 1e400 written as an int)
        except (TypeError, ValueError, AttributeError, OverflowError) as e:
            raise GenomeFormatError(f"{where}: malformed genome ({e})") from None
