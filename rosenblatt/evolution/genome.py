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

__all__ = ["ConnectionGene", "Genome", "GenomeFormatError", "NodeGene"]

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

    Notes
    -----
    The operators of :mod:`~rosenblatt.evolution.neat` work on the genes as
    arrays (:meth:`gene_arrays`); a genome they make from arrays
    (:meth:`with_arrays`) builds its ``connections`` list only when it is
    first read.

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
                 recurrent=False, fitness=None):
        self.id = id
        self.n_inputs = n_inputs
        self.n_outputs = n_outputs
        self.nodes = nodes
        self._connections = connections
        self.recurrent = recurrent
        self.fitness = fitness
        self._arrays = None  # the genes as arrays (gene_arrays), the operators' view
        self._cache = {}  # what is derived from the genes (levels, lookups)

    @property
    def connections(self):
        """The connection genes, a list of :class:`ConnectionGene` sorted by innovation."""
        c = self._connections
        if c is None:
            i, s, d, w, e = self._arrays
            c = self._connections = list(map(ConnectionGene._make, zip(
                i.tolist(), s.tolist(), d.tolist(), w.tolist(), e.tolist())))
        return c

    @connections.setter
    def connections(self, value):
        self._connections = value
        self._arrays = None
        self._cache.clear()

    def _fields(self):
        return (self.id, self.n_inputs, self.n_outputs, self.nodes, self.connections,
                self.recurrent, self.fitness)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    def __repr__(self):
        return (f"Genome(id={self.id!r}, n_inputs={self.n_inputs!r}, "
                f"n_outputs={self.n_outputs!r}, nodes={self.nodes!r}, "
                f"connections={self.connections!r}, recurrent={self.recurrent!r}, "
                f"fitness={self.fitness!r})")

    @property
    def n_connections(self):
        """Number of connection genes (enabled or not)."""
        c = self._connections
        return len(c) if c is not None else len(self._arrays[0])

    # -- construction -------------------------------------------------------------------
    @classmethod
    def minimal(cls, id, n_inputs, n_outputs, weights,  # noqa: A002 - the genome's id field
                activation="steep_sigmoid", output_activation=None, recurrent=False):
        """Inputs and the bias fully connected to the outputs, no hidden nodes.

        Connection ``(i, o)`` gets innovation number ``o * (n_inputs + 1) + i``
        (the same in every genome of the first generation); ``weights`` lists
        them in that order.
        """
        output_activation = output_activation or activation
        nodes = [NodeGene(i, "input", "identity") for i in range(n_inputs)]
        nodes.append(NodeGene(n_inputs, "bias", "identity"))
        nodes += [NodeGene(n_inputs + 1 + o, "output", output_activation)
                  for o in range(n_outputs)]
        conns, k = [], 0
        for o in range(n_outputs):
            for i in range(n_inputs + 1):
                conns.append(ConnectionGene(k, i, n_inputs + 1 + o, float(weights[k])))
                k += 1
        return cls(id, n_inputs, n_outputs, nodes, conns, recurrent)

    def with_genes(self, id, nodes=None, connections=None):  # noqa: A002 - the new genome's id
        """A new genome with this one's shape and the given genes."""
        if connections is None:  # the same genes: share the arrays, the list only if built
            connections = self._connections
        g = Genome(id, self.n_inputs, self.n_outputs,
                   list(self.nodes if nodes is None else nodes),
                   None if connections is None else list(connections), self.recurrent)
        if connections is self._connections:
            g._arrays = self._arrays
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

    def with_arrays(self, id, innovation, src, dst, weight, enabled, nodes=None,  # noqa: A002
                    frozen=False):
        """A new genome whose connection genes are given as arrays (sorted by innovation).

        The arrays become the new genome's :meth:`gene_arrays` (the operators
        work on arrays); its ``connections`` list is built when first read.
        ``frozen=True`` promises that they are read-only already.
        """
        g = Genome(id, self.n_inputs, self.n_outputs,
                   list(self.nodes if nodes is None else nodes), None, self.recurrent)
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
        if a is None:
            codes = _act.CODES
            a = self._cache["node_arrays"] = (
                _frozen(np.array([n.id for n in self.nodes], np.int64)),
                _frozen(np.array([codes[n.activation] for n in self.nodes], np.int64)))
        return a

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
        return {
            "format": FORMAT, "version": VERSION, "id": int(self.id),
            "n_inputs": int(self.n_inputs), "n_outputs": int(self.n_outputs),
            "recurrent": bool(self.recurrent),
            "fitness": None if self.fitness is None or not math.isfinite(self.fitness)
            else float(self.fitness),
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
        if d.get("version") != VERSION:
            raise GenomeFormatError(f"{where}: unsupported genome version {d.get('version')!r}")
        try:
            n_in, n_out = int(d["n_inputs"]), int(d["n_outputs"])
            nodes = [NodeGene(int(n["id"]), str(n["kind"]), str(n["activation"]))
                     for n in d["nodes"]]
            conns = [ConnectionGene(int(c["innovation"]), int(c["src"]), int(c["dst"]),
                                    float(c["weight"]), bool(c["enabled"]))
                     for c in d["connections"]]
            genome = cls(int(d["id"]), n_in, n_out, nodes, conns, bool(d["recurrent"]),
                         None if d.get("fitness") is None else float(d["fitness"]))
        except (KeyError, TypeError, ValueError) as e:
            raise GenomeFormatError(f"{where}: malformed genome ({type(e).__name__}: {e})") \
                from None
        validate(genome, where)
        return genome

    @classmethod
    def from_json(cls, text):
        """Rebuild a genome from :meth:`to_json`'s text; anything else is a GenomeFormatError."""
        try:
            d = json.loads(text)
        except (TypeError, ValueError) as e:
            raise GenomeFormatError(f"Genome.from_json: not JSON ({e})") from None
        return cls.from_dict(d)

    def save(self, path):
        """Write the genome's JSON atomically."""
        from ..io.atomic import write_bytes_atomic

        write_bytes_atomic(path, self.to_json(indent=1).encode())

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            return cls.from_json(text)
        except GenomeFormatError as e:
            raise GenomeFormatError(f"{path}: {e}") from None


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
    ids = {}
    for n in g.nodes:
        if n.kind not in KINDS:
            raise GenomeFormatError(f"{where}: node {n.id} has unknown kind {n.kind!r}")
        if n.activation not in _act.ACTIVATIONS:
            raise GenomeFormatError(f"{where}: node {n.id} has unknown activation "
                                    f"{n.activation!r}")
        if n.id in ids:
            raise GenomeFormatError(f"{where}: node id {n.id} appears twice")
        ids[n.id] = n.kind
    n_in = g.n_inputs
    for i in range(n_in + 1 + g.n_outputs):
        want = "input" if i < n_in else "bias" if i == n_in else "output"
        if ids.get(i) != want:
            raise GenomeFormatError(f"{where}: node {i} must be a {want} node")
    seen = set()
    for c in g.connections:
        if c.innovation in seen:
            raise GenomeFormatError(f"{where}: innovation {c.innovation} appears twice")
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
