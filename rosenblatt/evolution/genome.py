"""NEAT genomes: node genes and connection genes, plain data with a JSON round-trip.

A genome (Stanley & Miikkulainen 2002, figure 2) is a list of node genes
(sensor/input, bias, output, hidden) and a list of connection genes, each
naming its in-node and out-node, a weight, whether it is enabled and its
*innovation number*, the historical marking that lets crossover line up genes
of different topologies without analysing them.

Node ids follow one convention in every genome: inputs ``0 .. n_inputs-1``,
the bias (a constant 1) ``n_inputs``, outputs ``n_inputs+1 ..
n_inputs+n_outputs``, and hidden nodes above, numbered by the innovation
tracker when they are created.
"""

import json
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import activations as _act

__all__ = ["ConnectionGene", "GeneBlock", "Genome", "GenomeFormatError", "NodeGene",
           "genomes_from_arrays", "genomes_to_arrays"]

FORMAT = "rosenblatt.evolution.genome"
VERSION = 1
KINDS = ("input", "bias", "output", "hidden")


class GenomeFormatError(ValueError):
    """A text or file that is not a valid genome."""


@dataclass(slots=True)
class NodeGene:
    """A node: its id, kind (input, bias, output or hidden) and activation name."""

    id: int
    kind: str
    activation: str = "steep_sigmoid"


class ConnectionGene(NamedTuple):
    """A connection ``src -> dst`` with its weight, enabled flag and innovation number.

    An immutable named tuple: operators build new genes (thousands per
    generation, so construction must be cheap) and never change one in place.
    """

    innovation: int
    src: int
    dst: int
    weight: float
    enabled: bool = True

    def replace(self, weight=None, enabled=None):
        """A copy with a new weight and/or enabled flag (genes are never changed in place)."""
        return ConnectionGene(self.innovation, self.src, self.dst,
                              self.weight if weight is None else weight,
                              self.enabled if enabled is None else enabled)


class Genome:
    """A NEAT genome (treated as immutable: operators return new genomes).

    Parameters
    ----------
    id : int
    n_inputs, n_outputs : int
    nodes : list of NodeGene
        Sorted by id.
    connections : list of ConnectionGene
        Sorted by innovation number.
    recurrent : bool, default False
        Whether the phenotype is evaluated as a recurrent network (cycles
        allowed) rather than feed-forward in topological order.
    fitness : float or None
        None: never evaluated; ``-inf``: evaluated and failed (NEAT's mark of
        a fitness that raised, ``on_error="worst"``). JSON keeps both (``-inf``
        as the string ``"-inf"``; JSON has no infinities); NaN and ``+inf``,
        which NEAT never assigns, are written as None.
    bias : float, default 1.0
        The bias node's constant activation. NEAT C++'s pole-balancing
        experiment feeds 0.5 (:meth:`NEATConfig.double_pole
        <rosenblatt.evolution.config.NEATConfig.double_pole>`): every weight is
        initialised and mutated on one scale, so the bias term then moves in half
        steps. It travels with the genome (children, JSON, messages), so a saved
        champion sees the bias it evolved with.

    Notes
    -----
    The operators of :mod:`~rosenblatt.evolution.neat` work on the genes as
    arrays (:meth:`gene_arrays`); a genome they make from arrays
    (:meth:`with_arrays`) builds its ``connections`` list only when it is
    first read. A genome of a NEAT population reads its genes as views into
    the population's :class:`GeneBlock`; pickled or deep-copied (and as the
    champion :meth:`NEAT.tell <rosenblatt.evolution.neat.NEAT.tell>` returns)
    it holds copies of its own.

    Examples
    --------
    >>> g = Genome.minimal(0, 2, 1, weights=[0.5, -0.5, 1.0])
    >>> [c.innovation for c in g.connections], g.n_hidden
    ([0, 1, 2], 0)
    >>> Genome.from_json(g.to_json()) == g
    True
    """

    __hash__ = None  # mutable fitness, compared by value

    def __init__(self, id, n_inputs, n_outputs, nodes, connections,  # noqa: A002
                 recurrent=False, fitness=None, bias=1.0):
        self.id = id
        self.n_inputs = n_inputs
        self.n_outputs = n_outputs
        self._nodes = nodes
        self._connections = connections
        self.recurrent = recurrent
        self.fitness = fitness
        self._bias = float(bias)
        self._arrays = None  # the genes as arrays (gene_arrays), the operators' view
        self._slot = None  # (GeneBlock, row): where a population's block holds the genes
        self._cache = {}  # what is derived from the genes (levels, lookups)

    @property
    def bias(self):
        """The bias node's constant activation (see the class's parameters)."""
        return self._bias

    @bias.setter
    def bias(self, value):
        self._bias = float(value)
        if self._slot is not None:  # the population's block no longer holds it
            self._slot[0].stale = True

    @property
    def nodes(self):
        """The node genes, a list of :class:`NodeGene` sorted by id.

        Give a genome other node genes by assigning a new list (as for
        :attr:`connections`): what its phenotype read from the old ones is then
        dropped. A list changed in place is not seen.
        """
        return self._nodes

    @nodes.setter
    def nodes(self, value):
        if self._slot is not None:  # the genes stay (read out of the block), the nodes change
            self.gene_arrays()
            self._slot[0].stale = True
            self._slot = None
        self._nodes = value
        self._cache.clear()  # activation codes, local edges, levels, compiled record

    @property
    def connections(self):
        """The connection genes, a list of :class:`ConnectionGene` sorted by innovation."""
        c = self._connections
        if c is None:
            i, s, d, w, e = self.gene_arrays()
            c = self._connections = list(map(ConnectionGene._make, zip(
                i.tolist(), s.tolist(), d.tolist(), w.tolist(), e.tolist())))
        return c

    @connections.setter
    def connections(self, value):
        self._connections = value
        self._arrays = None
        if self._slot is not None:  # the population's block no longer holds these genes
            self._slot[0].stale = True
            self._slot = None
        self._cache.clear()

    def _fields(self):
        return (self.id, self.n_inputs, self.n_outputs, self.nodes, self.connections,
                self.recurrent, self.fitness, self.bias)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    def __repr__(self):
        return (f"Genome(id={self.id!r}, n_inputs={self.n_inputs!r}, "
                f"n_outputs={self.n_outputs!r}, nodes={self.nodes!r}, "
                f"connections={self.connections!r}, recurrent={self.recurrent!r}, "
                f"fitness={self.fitness!r}"
                + ("" if self.bias == 1.0 else f", bias={self.bias!r}") + ")")

    @property
    def n_connections(self):
        """Number of connection genes (enabled or not)."""
        c = self._connections
        if c is not None:
            return len(c)
        if self._arrays is None and self._slot is not None:
            block, k = self._slot
            return int(block.gene_starts[k + 1] - block.gene_starts[k])
        return len(self.gene_arrays()[0])

    # -- construction -------------------------------------------------------------------
    @classmethod
    def minimal(cls, id, n_inputs, n_outputs, weights,  # noqa: A002 - the genome's id field
                activation="steep_sigmoid", output_activation=None, recurrent=False,
                bias=1.0):
        """Inputs and the bias fully connected to the outputs, no hidden nodes.

        Connection ``(i, o)`` gets innovation number ``o * (n_inputs + 1) + i``
        (the same in every genome of the first generation); ``weights`` lists
        them in that order.

        Raises
        ------
        ValueError
            ``n_inputs`` or ``n_outputs`` not a positive integer, ``weights`` not
            ``(n_inputs + 1) * n_outputs`` finite numbers, an unknown activation,
            a non-finite ``bias``.
        TypeError
            ``recurrent`` not True or False.
        """
        from ..checks import boolean, positive_int

        where = "Genome.minimal"
        n_inputs = positive_int(where, "n_inputs", n_inputs)
        recurrent = boolean(where, "recurrent", recurrent)
        n_outputs = positive_int(where, "n_outputs", n_outputs)
        output_activation = output_activation or activation
        for name, value in (("activation", activation),
                            ("output_activation", output_activation)):
            if not isinstance(value, str):  # an unhashable value cannot be looked up
                raise ValueError(f"{where}: {name} must be one of {', '.join(_act.NAMES)}; "
                                 f"got {value!r}")
            _act.check(where, name, value)
        try:
            w = np.asarray(weights, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise ValueError(f"{where}: weights must be numbers; got {weights!r:.60}") from None
        n = (n_inputs + 1) * n_outputs
        if len(w) != n:
            raise ValueError(f"{where}: weights must have (n_inputs + 1) * n_outputs = {n} "
                             f"values; got {len(w)}")
        if not np.isfinite(w).all():
            k = int(np.flatnonzero(~np.isfinite(w))[0])
            raise ValueError(f"{where}: weights must be finite; got {w[k]} at {k}")
        if isinstance(bias, bool) or not isinstance(bias, (int, float, np.number)) or not (
                math.isfinite(bias)):
            raise ValueError(f"{where}: bias must be a finite number; got {bias!r}")
        weights = w.tolist()
        nodes = [NodeGene(i, "input", "identity") for i in range(n_inputs)]
        nodes.append(NodeGene(n_inputs, "bias", "identity"))
        nodes += [NodeGene(n_inputs + 1 + o, "output", output_activation)
                  for o in range(n_outputs)]
        conns, k = [], 0
        for o in range(n_outputs):
            for i in range(n_inputs + 1):
                conns.append(ConnectionGene(k, i, n_inputs + 1 + o, weights[k]))
                k += 1
        return cls(id, n_inputs, n_outputs, nodes, conns, recurrent, bias=bias)

    def with_genes(self, id, nodes=None, connections=None):  # noqa: A002 - the new genome's id
        """A new genome with this one's shape and the given genes."""
        if connections is None:  # the same genes: share the arrays, the list only if built
            connections = self._connections
        g = Genome(id, self.n_inputs, self.n_outputs,
                   list(self.nodes if nodes is None else nodes),
                   None if connections is None else list(connections), self.recurrent,
                   bias=self.bias)
        if connections is self._connections:
            if nodes is None:
                g._arrays, g._slot = self._arrays, self._slot
            else:  # other nodes: the genes only (a block row holds both)
                g._arrays = self._arrays if self._connections is not None else (
                    self.gene_arrays())
        if nodes is None:
            same = connections is self._connections
            self._hand_on(g, same_edges=same, same_enabled=True, same_weights=same)
        return g

    def _hand_on(self, child, same_edges, same_enabled, same_weights=False):
        """Give ``child`` (same nodes) what this genome derived from its nodes, and from its
        connections when ``same_edges`` (and ``same_enabled``, and ``same_weights``)."""
        cache, into = self._cache, child._cache
        if "node_arrays" in cache:
            into["node_arrays"] = cache["node_arrays"]
        if same_edges and "local" in cache:
            into["local"] = cache["local"]
            if same_enabled and "local_levels" in cache:
                into["local_levels"] = cache["local_levels"]
        if same_edges and same_enabled and same_weights and "record" in cache:
            into["record"] = cache["record"]  # the compiled phenotype (network.py)

    def _detach(self):
        """Hold copies of what this genome reads from its population's block (its genes;
        cached arrays that are views into arrays of the whole population), so that keeping
        it (a champion kept per generation) keeps no generation's arrays alive."""
        self.__dict__.update(self.__getstate__())

    def __getstate__(self):
        # pickled or deep-copied, a genome holds its own genes (its row of a population's
        # block copied out) and cached arrays, not views into a whole generation's arrays
        # (a user's process pool sends one genome's genes)
        if self._slot is not None:
            self.gene_arrays()  # (read from the block while the slot is here)
        state = dict(self.__dict__)
        state["_slot"] = None
        if self._arrays is not None:
            state["_arrays"] = _owned(self._arrays)
        state["_cache"] = {key: _owned(value) for key, value in self._cache.items()}
        return state

    def with_arrays(self, id, innovation, src, dst, weight, enabled, nodes=None,  # noqa: A002
                    frozen=False):
        """A new genome whose connection genes are given as arrays (sorted by innovation).

        The arrays become the new genome's :meth:`gene_arrays` (the operators
        work on arrays); its ``connections`` list is built when first read.
        ``frozen=True`` promises that they are read-only already.
        """
        g = Genome(id, self.n_inputs, self.n_outputs,
                   list(self.nodes if nodes is None else nodes), None, self.recurrent,
                   bias=self.bias)
        arrays = (innovation, src, dst, weight, enabled)
        g._arrays = arrays if frozen else tuple(map(_frozen, arrays))
        if nodes is None:
            mine = self._arrays
            same = mine is not None and src is mine[1] and dst is mine[2]
            self._hand_on(g, same_edges=same, same_enabled=same and enabled is mine[4],
                          same_weights=same and weight is mine[3])
        return g

    # -- views --------------------------------------------------------------------------
    @property
    def n_hidden(self):
        """Number of hidden nodes."""
        return sum(1 for n in self.nodes if n.kind == "hidden")

    @property
    def n_enabled(self):
        """Number of enabled connection genes."""
        return int(np.count_nonzero(self.gene_arrays()[4]))

    def node_ids(self):
        return [n.id for n in self.nodes]

    def by_innovation(self):
        """``{innovation: ConnectionGene}`` (cached)."""
        d = self._cache.get("innov")
        if d is None:
            d = self._cache["innov"] = {c.innovation: c for c in self.connections}
        return d

    def weights_by_innovation(self):
        """``({innovation: weight}, sorted innovations)`` (cached; what distances read)."""
        d = self._cache.get("weights")
        if d is None:
            d = self._cache["weights"] = ({c.innovation: c.weight for c in self.connections},
                                          sorted(c.innovation for c in self.connections))
        return d

    def gene_arrays(self):
        """``(innovation, src, dst, weight, enabled)`` of the connection genes as read-only
        arrays (int64, int64, int64, float64, bool), in gene order (cached)."""
        a = self._arrays
        if a is None:
            if self._slot is not None and self._connections is None:
                block, k = self._slot
                a = self._arrays = block.genes(k)
                return a
            conns = self._connections
            if conns:
                i, s, d, w, e = zip(*conns)
            else:
                i = s = d = w = e = ()
            a = self._arrays = (
                _frozen(np.array(i, np.int64)), _frozen(np.array(s, np.int64)),
                _frozen(np.array(d, np.int64)), _frozen(np.array(w, np.float64)),
                _frozen(np.array(e, bool)))
        return a

    def node_arrays(self):
        """``(ids, activation codes)`` of the node genes as read-only int64 arrays (cached)."""
        a = self._cache.get("node_arrays")
        if a is None and self._slot is not None:
            block, k = self._slot
            a = self._cache["node_arrays"] = block.nodes(k)
        if a is None:
            codes = _act.CODES
            a = self._cache["node_arrays"] = (
                _frozen(np.array([n.id for n in self.nodes], np.int64)),
                _frozen(np.array([codes[n.activation] for n in self.nodes], np.int64)))
        return a

    def local_edges(self):
        """``(src, dst)`` of the connection genes as positions among the node genes (sorted
        by id) as read-only int64 arrays (cached)."""
        loc = self._cache.get("local")
        if loc is None:
            if self._slot is not None:  # straight from the block (its row holds these genes)
                block, k = self._slot
                a, b = block.gene_starts[k:k + 2].tolist()
                loc = (block.local_src[a:b], block.local_dst[a:b])
            else:
                ids = self.node_arrays()[0]
                _, src, dst, _, _ = self.gene_arrays()
                loc = (_frozen(np.searchsorted(ids, src)), _frozen(np.searchsorted(ids, dst)))
            self._cache["local"] = loc
        return loc

    def network(self, recurrent=None, steps=None, fast=False):
        """The phenotype: a callable ``(n_samples, n_inputs) -> (n_samples, n_outputs)``.

        Parameters
        ----------
        recurrent : bool, optional
            Default: the genome's ``recurrent`` flag.
        steps : int, optional
            For a recurrent network called on a batch: how many synchronous
            activation steps from a zero state (default: the number of
            non-input nodes, enough for any signal to cross the network).
        fast : bool, default False
            Evaluate with the compiled kernels when installed (see
            :class:`~rosenblatt.evolution.network.PopulationNetwork`).
        """
        from .network import Network

        return Network(self, recurrent=recurrent, steps=steps, fast=fast)

    # -- JSON ---------------------------------------------------------------------------
    def to_dict(self):
        bias = {} if self.bias == 1.0 else {"bias": self.bias}  # 1.0 unless told otherwise
        return {
            "format": FORMAT, "version": VERSION, "id": int(self.id), **bias,
            "n_inputs": int(self.n_inputs), "n_outputs": int(self.n_outputs),
            "recurrent": bool(self.recurrent),
            "fitness": _fitness_to_json(self.fitness),
            "nodes": [{"id": int(n.id), "kind": n.kind, "activation": n.activation}
                      for n in self.nodes],
            "connections": [{"innovation": int(c.innovation), "src": int(c.src),
                             "dst": int(c.dst), "weight": float(c.weight),
                             "enabled": bool(c.enabled)} for c in self.connections],
        }

    def to_json(self, indent=None):
        """The genome as JSON text (floats round-trip exactly)."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, d):
        where = "Genome.from_json"
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise GenomeFormatError(f"{where}: not a genome (expected a JSON object with "
                                    f"\"format\": \"{FORMAT}\")")
        if type(d.get("version")) is not int or d["version"] != VERSION:  # (true == 1)
            raise GenomeFormatError(f"{where}: unsupported genome version {d.get('version')!r}")
        try:
            n_in, n_out = _integer(d, "n_inputs", where), _integer(d, "n_outputs", where)
            nodes = [NodeGene(_integer(n, "id", where, "node"), _string(n, "kind", where),
                              _string(n, "activation", where))
                     for n in _records(d, "nodes", where)]
            conns = [ConnectionGene(_integer(c, "innovation", where, "connection"),
                                    _integer(c, "src", where, "connection"),
                                    _integer(c, "dst", where, "connection"),
                                    _number(c, "weight", where, "connection"),
                                    _boolean(c, "enabled", where, "connection"))
                     for c in _records(d, "connections", where)]
            genome = cls(_integer(d, "id", where), n_in, n_out, nodes, conns,
                         _boolean(d, "recurrent", where), _fitness_from_json(d, where),
                         _number(d, "bias", where) if "bias" in d else 1.0)
        except KeyError as e:
            raise GenomeFormatError(f"{where}: malformed genome (missing key {e})") from None
        validate(genome, where)
        return genome

    @classmethod
    def from_json(cls, text):
        """Rebuild a genome from :meth:`to_json`'s text; anything else is a GenomeFormatError."""
        try:
            d = json.loads(text)
        except (TypeError, ValueError) as e:
            raise GenomeFormatError(f"Genome.from_json: not JSON ({e})") from None
        except RecursionError:  # "[[[[..." nested past the interpreter's stack
            raise GenomeFormatError("Genome.from_json: not a genome (JSON nested too deeply)") \
                from None
        return cls.from_dict(d)

    def save(self, path):
        """Write the genome's JSON atomically."""
        from ..io.atomic import write_bytes_atomic

        write_bytes_atomic(path, self.to_json(indent=1).encode())

    @classmethod
    def load(cls, path):
        """Read a genome saved by :meth:`save`; GenomeFormatError if the file holds none."""
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except UnicodeDecodeError:
            raise GenomeFormatError(f"{path}: not a genome (not UTF-8 JSON text; a binary "
                                    f"file?)") from None
        try:
            return cls.from_json(text)
        except GenomeFormatError as e:
            raise GenomeFormatError(f"{path}: {e}") from None


def _records(d, key, where):
    value = d[key]
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise GenomeFormatError(f"{where}: malformed genome ({key!r} must be a list of JSON "
                                f"objects; got {_short(value)})")
    return value


def _field(d, key, owner):
    value = d[key]
    return value, (f"{owner} {key!r}" if owner else repr(key))


def _short(value):
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def _integer(d, key, where, owner=""):
    value, name = _field(d, key, owner)
    if isinstance(value, bool) or not isinstance(value, int):
        raise GenomeFormatError(f"{where}: malformed genome ({name} must be an integer; got "
                                f"{_short(value)})")
    if not 0 <= value < 2**63:  # ids, counts and innovations live in int64 arrays
        raise GenomeFormatError(f"{where}: malformed genome ({name} must be in [0, 2^63); got "
                                f"{_short(value)})")
    return value


def _number(d, key, where, owner=""):
    value, name = _field(d, key, owner)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GenomeFormatError(f"{where}: malformed genome ({name} must be a number; got "
                                f"{_short(value)})")
    try:
        return float(value)
    except OverflowError:  # a JSON integer past the float range
        raise GenomeFormatError(f"{where}: malformed genome ({name} must be a finite number; "
                                f"got an integer too large for a float)") from None


_FAILED = "-inf"  # a failed evaluation's fitness in JSON, which has no infinities


def _fitness_to_json(fitness):
    """None (never evaluated), ``"-inf"`` (evaluated and failed) or the finite fitness."""
    if fitness is None or math.isnan(fitness) or fitness == math.inf:
        return None
    return _FAILED if fitness == -math.inf else float(fitness)


def _fitness_from_json(d, where):
    fitness = d.get("fitness")
    if fitness is None:
        return None
    if fitness == _FAILED:
        return -math.inf
    value = _number(d, "fitness", where)
    if not math.isfinite(value):  # (json reads NaN and Infinity; to_json never writes them)
        raise GenomeFormatError(f"{where}: malformed genome ('fitness' must be a finite number, "
                                f"null (never evaluated) or \"{_FAILED}\" (failed); got {value})")
    return value


def _boolean(d, key, where, owner=""):
    value, name = _field(d, key, owner)
    if not isinstance(value, bool):  # "false" is a string, not false: refuse it
        raise GenomeFormatError(f"{where}: malformed genome ({name} must be true or false; "
                                f"got {_short(value)})")
    return value


def _string(d, key, where):
    value, name = _field(d, key, "node")
    if not isinstance(value, str):
        raise GenomeFormatError(f"{where}: malformed genome ({name} must be a string; got "
                                f"{_short(value)})")
    return value


def _owned(value):
    """``value`` (an array, a tuple of arrays or anything else) with each array that is a view
    into another replaced by a read-only copy of its own."""
    if isinstance(value, np.ndarray):
        return _frozen(value.copy()) if value.base is not None else value
    if isinstance(value, tuple) and value and all(isinstance(a, np.ndarray) for a in value):
        return tuple(map(_owned, value))
    return value


def _frozen(a):
    a = np.asarray(a)
    if a.flags.writeable and a.base is None:
        a.flags.writeable = False
    elif a.flags.writeable:
        a = a.copy()
        a.flags.writeable = False
    return a


def validate(genome, where="Genome"):
    """Check a genome's internal consistency; raise GenomeFormatError naming the problem."""
    g = genome
    if g.n_inputs < 1 or g.n_outputs < 1:
        raise GenomeFormatError(f"{where}: n_inputs and n_outputs must be >= 1")
    if not math.isfinite(g.bias):
        raise GenomeFormatError(f"{where}: the bias must be a finite number; got {g.bias}")
    ids = {}
    previous = None
    for n in g.nodes:
        if n.kind not in KINDS:
            raise GenomeFormatError(f"{where}: node {n.id} has unknown kind {n.kind!r}")
        if n.activation not in _act.ACTIVATIONS:
            raise GenomeFormatError(f"{where}: node {n.id} has unknown activation "
                                    f"{n.activation!r}")
        if n.id in ids:
            raise GenomeFormatError(f"{where}: node id {n.id} appears twice")
        if n.id < 0:
            raise GenomeFormatError(f"{where}: node ids must be >= 0; got {n.id}")
        if previous is not None and n.id < previous:  # phenotypes index nodes by this order
            raise GenomeFormatError(f"{where}: nodes must be sorted by id; node {n.id} comes "
                                    f"after node {previous}")
        previous = n.id
        ids[n.id] = n.kind
    n_in = g.n_inputs
    for i in range(n_in + 1 + g.n_outputs):
        want = "input" if i < n_in else "bias" if i == n_in else "output"
        if ids.get(i) != want:
            raise GenomeFormatError(f"{where}: node {i} must be a {want} node")
    if len(ids) > n_in + 1 + g.n_outputs and any(
            n.kind != "hidden" for n in g.nodes[n_in + 1 + g.n_outputs:]):
        raise GenomeFormatError(f"{where}: nodes after the inputs, bias and outputs (ids "
                                f"above {n_in + g.n_outputs}) must be hidden nodes")
    seen = set()
    previous = None
    for c in g.connections:
        if c.innovation in seen:
            raise GenomeFormatError(f"{where}: innovation {c.innovation} appears twice")
        if previous is not None and c.innovation < previous:
            raise GenomeFormatError(f"{where}: connections must be sorted by innovation; "
                                    f"innovation {c.innovation} comes after {previous}")
        previous = c.innovation
        seen.add(c.innovation)
        if c.src not in ids or c.dst not in ids:
            raise GenomeFormatError(f"{where}: connection {c.innovation} joins a missing node "
                                    f"({c.src} -> {c.dst})")
        if ids[c.dst] in ("input", "bias"):
            raise GenomeFormatError(f"{where}: connection {c.innovation} ends at an input "
                                    f"node {c.dst}")
        if not math.isfinite(c.weight):
            raise GenomeFormatError(f"{where}: connection {c.innovation} has weight "
                                    f"{c.weight}")


# -- many genomes as plain arrays (what an executor's task carries) --------------------------
ARRAYS_FORMAT = "rosenblatt.evolution.genomes"
class GeneBlock:
    """The genes of a population, genome after genome, as read-only arrays.

    Connection genes ``innovation, src, dst, weight, enabled`` (genome ``p``'s
    at ``gene_starts[p]:gene_starts[p + 1]``, sorted by innovation), node genes
    ``node_ids, node_codes`` (genome ``p``'s at ``node_starts[p]:node_starts[p +
    1]``, sorted by id; activation codes of :mod:`.activations`) and one
    ``bias`` per genome: TensorNEAT's layout (Wang et al. 2024) of what each
    :class:`Genome` holds, plus ``local_src, local_dst``, each connection's
    ends as positions among its genome's nodes (:meth:`Genome.local_edges`).
    NEAT keeps its population's genes here: reproduction writes the next
    block with array operations over all genes (each child's row gathered
    from its parent's, crossover and weight mutation over the concatenated
    genes, the few structurally mutated children spliced in), and the
    compatibility distances and the phenotypes read it as it is, with no
    per-genome gathering; a genome of the population reads its own genes as
    views into it (:meth:`Genome.gene_arrays`). ``stale`` is set when one of
    them is given other connection genes. Immutable once built. (A block
    holds no reference to its genomes, which reference it: no reference
    cycle keeps a past generation alive.)
    """

    GENE_COLUMNS = ("innovation", "src", "dst", "weight", "enabled", "local_src", "local_dst")
    NODE_COLUMNS = ("node_ids", "node_codes")
    __slots__ = GENE_COLUMNS + NODE_COLUMNS + ("gene_starts", "node_starts", "bias", "stale",
                                               "io")

    def __init__(self, genes, gene_starts, nodes, node_starts, bias):
        """``genes``: the :attr:`GENE_COLUMNS` in order; ``nodes``: the :attr:`NODE_COLUMNS`."""
        for name, a in zip(self.GENE_COLUMNS + self.NODE_COLUMNS + (
                "gene_starts", "node_starts", "bias"), (*genes, *nodes, gene_starts,
                                                         node_starts, bias)):
            a.flags.writeable = False
            setattr(self, name, a)
        self.stale = False
        self.io = None  # (n_inputs, n_outputs) of every genome, when its owner checked it

    @classmethod
    def of(cls, genomes):
        """The block of ``genomes`` (concatenating each one's arrays)."""
        genomes = list(genomes)
        genes = [g.gene_arrays() for g in genomes]
        nodes = [g.node_arrays() for g in genomes]
        columns = [_joined([a[k] for a in genes], t) for k, t in enumerate(
            (np.int64, np.int64, np.int64, np.float64, bool))]
        glen = np.array([len(a[0]) for a in genes], np.int64)
        nlen = np.array([len(a[0]) for a in nodes], np.int64)
        node_columns = [_joined([a[k] for a in nodes], np.int64) for k in range(2)]
        columns += _local_ends(node_columns[0], nlen, columns[1], columns[2], glen)
        return cls(columns, _starts(glen), node_columns, _starts(nlen),
                   np.array([g.bias for g in genomes], np.float64))

    @property
    def size(self):
        """The number of genomes."""
        return len(self.gene_starts) - 1

    def gene_counts(self):
        return self.gene_starts[1:] - self.gene_starts[:-1]

    def node_counts(self):
        return self.node_starts[1:] - self.node_starts[:-1]

    def _row(self, k):
        """Row ``k`` as a non-negative index (negative counting from the end), or an
        IndexError."""
        n = len(self.gene_starts) - 1
        if not -n <= k < n:
            raise IndexError(f"GeneBlock: row {k} out of range for a block of {n} genomes")
        return k + n if k < 0 else k

    def genes(self, k):
        """Row ``k``'s ``(innovation, src, dst, weight, enabled)`` (views)."""
        k = self._row(k)
        a, b = self.gene_starts[k:k + 2].tolist()
        return (self.innovation[a:b], self.src[a:b], self.dst[a:b], self.weight[a:b],
                self.enabled[a:b])

    def nodes(self, k):
        """Row ``k``'s ``(node ids, activation codes)`` (views)."""
        k = self._row(k)
        a, b = self.node_starts[k:k + 2].tolist()
        return self.node_ids[a:b], self.node_codes[a:b]

    def take(self, rows):
        """A block of the genomes at ``rows`` (an int array; repeats allowed)."""
        g, gs = _rows(self.gene_starts, rows)
        n, ns = _rows(self.node_starts, rows)
        return GeneBlock([getattr(self, c)[g] for c in self.GENE_COLUMNS], gs,
                         [getattr(self, c)[n] for c in self.NODE_COLUMNS], ns, self.bias[rows])

    def splice(self, rows, genomes):
        """This block with the rows ``rows`` (distinct) holding ``genomes``' genes instead
        (one genome per row; ValueError otherwise, IndexError for a row out of range)."""
        genomes = list(genomes)
        if len(rows) != len(genomes):
            raise ValueError(f"GeneBlock.splice: {len(rows)} rows for {len(genomes)} "
                             f"genome(s); give one genome per row")
        if not len(rows):
            return self
        rows = np.asarray(rows, np.int64)
        n = len(self.gene_starts) - 1
        if ((rows < -n) | (rows >= n)).any():
            self._row(int(rows[(rows < -n) | (rows >= n)][0]))  # (names it)
        rows = np.where(rows < 0, rows + n, rows)
        if len(np.unique(rows)) != len(rows):
            raise ValueError(f"GeneBlock.splice: rows must be distinct; got {rows.tolist()}")
        return self._splice(rows, genomes)

    def _splice(self, rows, genomes):
        """:meth:`splice` for rows known to be distinct and in range (an int array of at
        least one row) and a list of as many genomes: reproduction's own call."""
        # the new rows' genes as they are; their node genes and local edges over all of
        # them at once (genome by genome, they cost most of a splice)
        genes = [g.gene_arrays() for g in genomes]
        glen = np.array([len(a[0]) for a in genes], np.int64)
        node_lists = [g.nodes for g in genomes]
        nlen = np.array([len(ns) for ns in node_lists], np.int64)
        every = [node for ns in node_lists for node in ns]
        ids = np.array([node.id for node in every], np.int64)
        codes = _act.CODES
        columns = [_joined([a[k] for a in genes], t) for k, t in enumerate(
            (np.int64, np.int64, np.int64, np.float64, bool))]
        columns += _local_ends(ids, nlen, columns[1], columns[2], glen)
        out = []
        for starts, names, lengths, new in (
                (self.gene_starts, self.GENE_COLUMNS, glen, columns),
                (self.node_starts, self.NODE_COLUMNS, nlen,
                 [ids, np.array([codes[node.activation] for node in every], np.int64)])):
            # one gather from the old columns followed by the new rows' genes
            counts, start = starts[1:] - starts[:-1], starts[:-1].copy()
            counts[rows] = lengths
            start[rows] = starts[-1] + _starts(lengths)[:-1]
            to = _starts(counts)
            at = np.arange(to[-1]) + np.repeat(start - to[:-1], counts)
            out.append(([np.concatenate([getattr(self, c), a])[at]
                         for c, a in zip(names, new)], to))
        bias = self.bias.copy()
        bias[rows] = np.fromiter((g.bias for g in genomes), np.float64, len(genomes))
        (genes, gene_starts), (nodes, node_starts) = out
        return GeneBlock(genes, gene_starts, nodes, node_starts, bias)


def _local_ends(node_ids, node_counts, src, dst, gene_counts):
    """Each connection's ends as positions among its own genome's node ids (sorted by id), for
    many genomes' genes concatenated: one search in the keys (genome, id) of all of them
    (:meth:`Genome.local_edges` for one genome)."""
    m = len(node_counts)
    big = int(max(node_ids.max(initial=0), src.max(initial=0), dst.max(initial=0))) + 1
    keys = np.repeat(np.arange(m), node_counts) * big + node_ids
    owner = np.repeat(np.arange(m), gene_counts)
    first = _starts(node_counts)[owner]
    return [np.searchsorted(keys, owner * big + ends) - first for ends in (src, dst)]


def _starts(counts):
    """Row offsets (``len(counts) + 1``) of rows of ``counts`` elements."""
    starts = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=starts[1:])
    return starts


def _rows(starts, rows):
    """The element indices of the rows ``rows`` of a ragged array with row offsets
    ``starts``, and the offsets of the gathered rows."""
    counts = starts[1:][rows] - starts[:-1][rows]
    out = _starts(counts)
    index = np.arange(out[-1]) + np.repeat(starts[:-1][rows] - out[:-1], counts)
    return index, out


_ARRAYS = {"header": np.int64, "fitness": np.float64, "node_id": np.int64,
           "node_kind": np.int8, "node_activation": np.int64, "innovation": np.int64,
           "src": np.int64, "dst": np.int64, "weight": np.float64, "enabled": bool}
_KIND_CODE = {k: i for i, k in enumerate(KINDS)}


def genomes_to_arrays(genomes):
    """Many genomes as one dict of flat arrays: a message for another process.

    The genomes' nodes and connection genes are concatenated column by column
    (``node_id``, ``node_kind``, ``node_activation``; ``innovation``,
    ``src``, ``dst``, ``weight``, ``enabled``) with a ``header`` of one row
    per genome (id, n_inputs, n_outputs, recurrent, number of nodes, number of
    connection genes), each genome's ``fitness`` (NaN for none) and, when one
    is not 1.0, every genome's ``bias``. Plain data:
    NumPy arrays, a string and an int, never a pickled genome; weights travel
    as float64, so :func:`genomes_from_arrays` gives the genomes back exactly.
    Building it is a few concatenations (the genomes' cached
    :meth:`Genome.gene_arrays` and :meth:`Genome.node_arrays`), much cheaper
    than one :meth:`Genome.to_json` per genome, and so is reading it.

    Examples
    --------
    >>> a = Genome.minimal(0, 2, 1, weights=[0.5, -0.5, 1.0])
    >>> b = Genome.minimal(1, 2, 1, weights=[1.5, 0.25, -2.0])
    >>> m = genomes_to_arrays([a, b])
    >>> m["header"].tolist(), m["weight"].tolist()
    ([[0, 2, 1, 0, 4, 3], [1, 2, 1, 0, 4, 3]], [0.5, -0.5, 1.0, 1.5, 0.25, -2.0])
    >>> genomes_from_arrays(m) == [a, b]
    True
    """
    genomes = list(genomes)
    nodes = [g.node_arrays() for g in genomes]
    genes = [g.gene_arrays() for g in genomes]
    header = np.array([(g.id, g.n_inputs, g.n_outputs, g.recurrent, len(n[0]), len(c[0]))
                       for g, n, c in zip(genomes, nodes, genes)], np.int64).reshape(-1, 6)
    kind = _KIND_CODE
    out = {"format": ARRAYS_FORMAT, "version": VERSION, "header": header,
           "fitness": np.array([np.nan if g.fitness is None else g.fitness for g in genomes],
                               np.float64),
           "node_kind": np.fromiter((kind[n.kind] for g in genomes for n in g.nodes), np.int8,
                                    int(header[:, 4].sum()))}
    if any(g.bias != 1.0 for g in genomes):
        out["bias"] = np.array([g.bias for g in genomes], np.float64)
    for k, name in enumerate(("node_id", "node_activation")):
        out[name] = _joined([n[k] for n in nodes], _ARRAYS[name])
    for k, name in enumerate(("innovation", "src", "dst", "weight", "enabled")):
        out[name] = _joined([c[k] for c in genes], _ARRAYS[name])
    return out


def _joined(arrays, dtype):
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(0, dtype)


def genomes_from_arrays(message, where="genomes_from_arrays"):
    """The genomes of :func:`genomes_to_arrays`'s message, checked as :meth:`Genome.from_json`
    checks one (in array operations over all of them); GenomeFormatError if it is not one."""
    if not isinstance(message, dict) or message.get("format") != ARRAYS_FORMAT:
        raise GenomeFormatError(f"{where}: not a message of genomes (expected a dict with "
                                f"\"format\": \"{ARRAYS_FORMAT}\")")
    if message.get("version") != VERSION:
        raise GenomeFormatError(f"{where}: unsupported version {message.get('version')!r}")
    a = {}
    for name, dtype in _ARRAYS.items():
        try:
            x = np.array(message[name], copy=True)
        except KeyError:
            raise GenomeFormatError(f"{where}: the message has no {name!r}") from None
        if x.dtype != np.dtype(dtype) and not (x.size == 0 and x.dtype.kind in "fiub"):
            raise GenomeFormatError(f"{where}: {name!r} must hold {np.dtype(dtype)}; got "
                                    f"{x.dtype}")
        a[name] = x.astype(dtype, copy=False)
        a[name].flags.writeable = False
    header = a["header"].reshape(-1, 6) if a["header"].size == 0 else a["header"]
    if header.ndim != 2 or header.shape[1] != 6 or len(a["fitness"]) != len(header):
        raise GenomeFormatError(f"{where}: 'header' must be (genomes, 6) and 'fitness' one "
                                f"value per genome")
    gid, n_in, n_out, rec, n_nodes, n_genes = header.T
    if (n_nodes < 0).any() or (n_genes < 0).any():
        raise GenomeFormatError(f"{where}: negative node or gene counts")
    if any(len(a[k]) != n_nodes.sum() for k in ("node_id", "node_kind", "node_activation")) \
            or any(len(a[k]) != n_genes.sum() for k in ("innovation", "src", "dst", "weight",
                                                        "enabled")):
        raise GenomeFormatError(f"{where}: the node and gene columns do not match the header's "
                                f"counts")
    _check_arrays(a, header, where)
    bias = [1.0] * len(header)
    if "bias" in message:
        b = np.asarray(message["bias"])
        if b.dtype.kind != "f" or b.shape != (len(header),) or not np.isfinite(b).all():
            raise GenomeFormatError(f"{where}: 'bias' must hold one finite float per genome")
        bias = b.astype(np.float64).tolist()
    node_end, gene_end = np.cumsum(n_nodes).tolist(), np.cumsum(n_genes).tolist()
    kinds = [KINDS[k] for k in a["node_kind"].tolist()]
    acts = [_act.NAMES[c] for c in a["node_activation"].tolist()]
    node_ids = a["node_id"].tolist()
    genes = [a[k] for k in ("innovation", "src", "dst", "weight", "enabled")]
    fitness = a["fitness"].tolist()
    out, n0, c0 = [], 0, 0
    for p, (i, ni, no, r) in enumerate(zip(gid.tolist(), n_in.tolist(), n_out.tolist(),
                                          rec.tolist())):
        n1, c1 = node_end[p], gene_end[p]
        g = Genome(i, ni, no, list(map(NodeGene, node_ids[n0:n1], kinds[n0:n1], acts[n0:n1])),
                   None, bool(r), None if math.isnan(fitness[p]) else fitness[p], bias[p])
        g._arrays = tuple(x[c0:c1] for x in genes)
        g._cache["node_arrays"] = (a["node_id"][n0:n1], a["node_activation"][n0:n1])
        out.append(g)
        n0, c0 = n1, c1
    return out


def _check_arrays(a, header, where):
    """:func:`validate`'s checks on every genome of a message at once."""
    gid, n_in, n_out, _, n_nodes, n_genes = header.T
    if (n_in < 1).any() or (n_out < 1).any():
        raise GenomeFormatError(f"{where}: n_inputs and n_outputs must be >= 1")
    kind, act, nid = a["node_kind"], a["node_activation"], a["node_id"]
    if ((kind < 0) | (kind >= len(KINDS))).any():
        raise GenomeFormatError(f"{where}: unknown node kind codes")
    if ((act < 0) | (act >= len(_act.NAMES))).any():
        raise GenomeFormatError(f"{where}: unknown activation codes")
    P = len(header)
    owner = np.repeat(np.arange(P), n_nodes)
    first = np.cumsum(n_nodes) - n_nodes
    same = owner[1:] == owner[:-1]
    if (np.diff(nid)[same] <= 0).any():
        raise GenomeFormatError(f"{where}: a genome's node ids must be sorted and unique")
    # the fixed nodes 0 .. n_in + n_out are a genome's first nodes (ids sorted, unique, >= 0)
    fixed = n_in + 1 + n_out
    if (n_nodes < fixed).any() or (nid < 0).any():
        raise GenomeFormatError(f"{where}: each genome needs its input, bias and output nodes")
    local = np.arange(len(nid)) - first[owner]
    is_fixed = local < fixed[owner]
    want = np.where(local < n_in[owner], 0, np.where(local == n_in[owner], 1, 2))
    if (nid[is_fixed] != local[is_fixed]).any() or (kind[is_fixed] != want[is_fixed]).any():
        raise GenomeFormatError(f"{where}: nodes 0 .. n_inputs + n_outputs must be the "
                                f"inputs, the bias and the outputs, in order")
    gene_owner = np.repeat(np.arange(P), n_genes)
    same = gene_owner[1:] == gene_owner[:-1]
    if (np.diff(a["innovation"])[same] <= 0).any():
        raise GenomeFormatError(f"{where}: a genome's innovations must be sorted and unique")
    if not np.isfinite(a["weight"]).all():
        raise GenomeFormatError(f"{where}: a connection has a non-finite weight")
    # each end of a connection among its genome's nodes: (owner, id) keys, sorted already
    span = int(nid.max()) + 2 if len(nid) else 1
    keys = owner * span + nid
    for end in ("src", "dst"):
        x = a[end]
        k = gene_owner * span + np.clip(x, -1, span - 1)
        at = np.minimum(np.searchsorted(keys, k), max(len(keys) - 1, 0))
        if len(x) and ((x < 0) | (x >= span) | (keys[at] != k)).any():
            raise GenomeFormatError(f"{where}: a connection joins a missing node")
        if end == "dst" and len(x) and (kind[at] <= 1).any():
            raise GenomeFormatError(f"{where}: a connection ends at an input or bias node")
