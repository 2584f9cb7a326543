"""NEAT: NeuroEvolution of Augmenting Topologies (Stanley & Miikkulainen 2002).

Notes, "Neuroevolution": NEAT evolves the topology with the weights. It starts
from minimal networks (inputs wired straight to outputs) and complexifies:

* **Historical markings.** Every new connection gene gets a global
  *innovation number*; the same structural mutation within one generation
  (the same new connection, or the same connection split by add-node) gets
  the same number (:class:`InnovationTracker`).
* **Mutation.** Weights are perturbed or replaced (:func:`mutate_weights`);
  :func:`mutate_add_connection` joins two unconnected nodes;
  :func:`mutate_add_node` splits a connection: it is disabled, the new node
  receives it with weight 1 and passes it on with the old weight;
  :func:`mutate_toggle_enable` flips a gene's enabled flag.
* **Crossover** (:func:`crossover`) lines up genes by innovation number:
  matching genes are inherited at random, disjoint and excess genes from the
  fitter parent, each with its enabled flag; a matching gene disabled in
  either parent is disabled with probability 0.75, else keeps the flag of the
  parent it came from (NEAT C++, neat-python): disabled in one parent, it
  stays off 87.5% of the time.
* **Speciation.** The compatibility distance (:func:`compatibility_distance`)

  .. math:: \\delta = \\frac{c_1 E}{N} + \\frac{c_2 D}{N} + c_3 \\bar W

  (E excess, D disjoint genes, W-bar the mean weight difference of matching
  genes, N the gene count of the larger genome) groups genomes into species
  (:func:`speciate`): each genome joins the first species whose
  representative (a random member from the previous generation) is within
  ``delta_t``.
* **Explicit fitness sharing** (:func:`adjusted_fitness`):
  ``f'_i = f_i / |species of i|``; each species gets offspring in proportion
  to the sum of its adjusted fitnesses (:func:`allocate_offspring`). Species
  that have not improved for 15 generations do not reproduce; the champion
  of every species of more than five is copied unchanged (elitism); the
  lowest-performing members do not breed (:func:`reproduce`).

Genomes keep their genes as arrays (:meth:`Genome.gene_arrays`), and
:func:`reproduce` does the per-gene work of a whole generation at once (one
crossover over every child's genes, one weight mutation); :func:`crossover`
and :func:`mutate` are the same operators on one genome.
"""

import bisect
import collections
import functools
import math
import operator
from dataclasses import dataclass, field

import numpy as np

from ..randomness import resolve_rng
from . import _kernels, activations as _act
from .cascading import (
    cascade,
    cascade_sizes,
    evaluate_objectives,
    fill_objectives,
    known_width,
    vector_objectives,
)
from .config import NEATConfig
from .core import (
    FitnessError,
    Result,
    evaluate,
    record,
    run_loop,
    seeded,
    vector_chunks,
    vector_fitness,
)
from .genome import (
    ConnectionGene,  # noqa: F401 - the doctests use it
    GeneBlock,
    Genome,
    NodeGene,
    _frozen,
    _rows,
    genomes_from_arrays,
    genomes_to_arrays,
)
from .network import PopulationNetwork

__all__ = [
    "NEAT", "InnovationTracker", "Species", "adjusted_fitness", "allocate_offspring",
    "compatibility_distance", "creates_cycle", "crossover", "mutate", "mutate_add_connection",
    "mutate_add_node", "mutate_toggle_enable", "mutate_weights", "reproduce", "speciate",
]


# -- historical markings -------------------------------------------------------------------
@dataclass
class InnovationTracker:
    """Global innovation and node numbers; structural mutations are remembered per generation.

    ``connection(src, dst)`` returns the innovation number of a new connection
    ``src -> dst``: the same pair gets the same number until :meth:`new_generation`.
    ``split(innovation)`` returns ``(node id, innovation in, innovation out)`` for
    add-node on that connection, likewise shared within the generation.

    Examples
    --------
    >>> t = InnovationTracker(next_innovation=3, next_node=4)
    >>> t.connection(0, 3), t.connection(1, 3), t.connection(0, 3)
    (3, 4, 3)
    >>> t.split(0), t.split(0)
    ((4, 5, 6), (4, 5, 6))
    >>> t.new_generation(); t.connection(0, 3)
    7
    """

    next_innovation: int = 0
    next_node: int = 0
    connections: dict = field(default_factory=dict)
    splits: dict = field(default_factory=dict)

    def new_generation(self):
        self.connections.clear()
        self.splits.clear()

    def connection(self, src, dst):
        key = (src, dst)
        if key not in self.connections:
            self.connections[key] = self.next_innovation
            self.next_innovation += 1
        return self.connections[key]

    def split(self, innovation, taken=()):
        """``(node id, innovation in, innovation out)`` of add-node on connection
        ``innovation``; ``taken``: the node ids of the genome being split (a node it holds
        already is not given to it again). Raises ValueError when a new node id is taken
        (a tracker started below the genome's numbers)."""
        entry = self.splits.get(innovation)
        if entry is None or entry[0] in taken:
            entry = (self.next_node, self.next_innovation, self.next_innovation + 1)
            if entry[0] in taken:
                raise ValueError(_behind("node id", entry[0]))
            self.next_node += 1
            self.next_innovation += 2
            if innovation not in self.splits:
                self.splits[innovation] = entry
        return entry


def _behind(what, number):
    """The message of a tracker whose new numbers a genome holds already."""
    return (f"InnovationTracker: new {what} {number} is already in the genome: the tracker "
            f"is behind the genome's numbers (a genome made elsewhere or loaded); start it "
            f"past them, InnovationTracker(next_innovation=1 + the largest innovation, "
            f"next_node=1 + the largest node id)")


# -- mutation ------------------------------------------------------------------------------
def mutate_weights(genome, config, rng, new_id):
    """Each weight perturbed by U(-p, p) (probability ``weight_perturb_rate``) or replaced
    by a draw from U(-p, p), ``p = config.weight_mutation_power``; clipped to ``weight_max``."""
    innov, src, dst, w, enabled = genome.gene_arrays()
    n = len(w)
    if not n:
        return genome.with_genes(new_id)
    perturb = rng.random(n) < config.weight_perturb_rate
    power = config.weight_mutation_power
    draw = rng.uniform(-power, power, n)
    w = np.clip(np.where(perturb, w + draw, draw), -config.weight_max, config.weight_max)
    return genome.with_arrays(new_id, innov, src, dst, w, enabled)


def creates_cycle(connections, src, dst):
    """Would ``src -> dst`` close a cycle among ``connections`` (enabled or not)?

    True when ``dst`` already reaches ``src`` (or ``src == dst``). Disabled
    genes count, so that re-enabling one can never make a feed-forward genome
    cyclic.

    Examples
    --------
    >>> cs = [ConnectionGene(0, 0, 3, 1.0), ConnectionGene(1, 3, 4, 1.0)]
    >>> creates_cycle(cs, 4, 0), creates_cycle(cs, 0, 4)
    (True, False)
    """
    return _reaches(_successors([c.src for c in connections], [c.dst for c in connections]),
                    dst, src)


def _successors(srcs, dsts):
    """``{node: [nodes it has a connection to]}`` of the connections ``srcs[i] -> dsts[i]``."""
    out = {}
    for s, d in zip(srcs, dsts):
        out.setdefault(s, []).append(d)
    return out


def _reaches(successors, start, goal):
    """Whether a path leads from ``start`` to ``goal`` (or they are one node)."""
    if start == goal:
        return True
    seen, stack = {start}, [start]
    while stack:
        n = stack.pop()
        for m in successors.get(n, ()):
            if m == goal:
                return True
            if m not in seen:
                seen.add(m)
                stack.append(m)
    return False


def mutate_add_connection(genome, tracker, config, rng, new_id):
    """Connect two unconnected nodes with a weight from U(-r, r), ``r = weight_init_range``
    (clipped to ``+-weight_max``).

    Tries ``config.add_connection_tries`` random pairs; the destination is
    never an input or the bias; without ``config.recurrent`` the new gene may
    not close a cycle. Returns the genome unchanged (new id) if none fits.
    """
    nodes = genome.nodes
    dsts = [n.id for n in nodes if n.kind in ("hidden", "output")]
    srcs = [n.id for n in nodes]
    innov, src_a, dst_a, w, enabled = genome.gene_arrays()
    gene_srcs, gene_dsts = src_a.tolist(), dst_a.tolist()
    existing = set(zip(gene_srcs, gene_dsts))
    successors = None
    for _ in range(config.add_connection_tries):
        src = srcs[_index(rng, len(srcs))]
        dst = dsts[_index(rng, len(dsts))]
        if (src, dst) in existing:
            continue
        if not config.recurrent:
            if successors is None:
                successors = _successors(gene_srcs, gene_dsts)
            if _reaches(successors, dst, src):
                continue
        number = tracker.connection(src, dst)
        r = config.weight_init_range
        weight = float(rng.uniform(-r, r))
        if r > config.weight_max:  # weights stay within +-weight_max (NEATConfig)
            weight = min(max(weight, -config.weight_max), config.weight_max)
        return genome.with_arrays(new_id, *_inserted(genome.gene_arrays(),
                                                     [(number, src, dst, weight, True)]),
                                  frozen=True)
    return genome.with_genes(new_id)


def _inserted(genes, new):
    """The gene arrays ``genes`` with the genes ``new`` (tuples ``(innovation, src, dst,
    weight, enabled)`` of numbers none of ``genes`` has) inserted where their innovation
    numbers fall (read-only arrays)."""
    # (a genome's few genes: as lists, a few times faster than array calls)
    cols = [col.tolist() for col in genes]
    innovations = cols[0]
    for gene in sorted(new, reverse=True):  # the last first: earlier positions stay put
        at = bisect.bisect_left(innovations, gene[0])
        if at < len(innovations) and innovations[at] == gene[0]:
            raise ValueError(_behind("innovation number", gene[0]))
        for col, value in zip(cols, gene):
            col.insert(at, value)
    out = [np.array(col, c.dtype) for col, c in zip(cols, genes)]
    for a in out:
        a.flags.writeable = False
    return out


def mutate_add_node(genome, tracker, config, rng, new_id):
    """Split an enabled connection ``a -> b`` into ``a -> new`` (weight 1, or
    ``weight_max`` when that is smaller) and ``new -> b`` (the old weight); the old
    connection is disabled.

    Which connection: in genomes of fewer than ``config.split_old_below`` genes,
    the oldest enabled one not leaving the bias that wins a 70% draw (as NEAT's
    own code does, to avoid chains of new nodes); otherwise a random enabled one.
    """
    innov, src, dst, w, enabled = genome.gene_arrays()
    bias = genome.n_inputs
    k = None
    if len(innov) < config.split_old_below:
        # NEAT's code: in small genomes walk the genes oldest first and split the first
        # enabled, non-bias one that wins a 70% draw (avoids chaining new nodes).
        for i, (on, s) in enumerate(zip(enabled.tolist(), src.tolist())):
            if on and s != bias and rng.random() >= 0.3:
                k = i
                break
    if k is None:
        candidates = np.flatnonzero(enabled).tolist()
        if not candidates:
            return genome.with_genes(new_id)
        k = candidates[_index(rng, len(candidates))]
    node_id, in_innov, out_innov = tracker.split(int(innov[k]), taken=set(genome.node_ids()))
    if len(config.activations) == 1:
        activation = config.activations[0]
    else:
        activation = config.activations[_index(rng, len(config.activations))]
    nodes = genome.nodes + [NodeGene(node_id, "hidden", activation)]
    nodes.sort(key=lambda n: n.id)
    on = enabled.copy()
    on[k] = False
    a, b = int(src[k]), int(dst[k])
    genes = _inserted((innov, src, dst, w, on), [(in_innov, a, node_id,
                                                  min(1.0, config.weight_max), True),
                                                 (out_innov, node_id, b, float(w[k]), True)])
    return genome.with_arrays(new_id, *genes, nodes=nodes, frozen=True)


def mutate_toggle_enable(genome, config, rng, new_id):
    """Flip the enabled flag of one random connection (re-enabling never closes a
    cycle in a feed-forward genome: see :func:`creates_cycle`)."""
    innov, src, dst, w, enabled = genome.gene_arrays()
    k = _toggled(len(innov), rng)
    if k is None:
        return genome.with_genes(new_id)
    on = enabled.copy()
    on[k] = not on[k]
    return genome.with_arrays(new_id, innov, src, dst, w, on)


def _toggled(n_genes, rng):
    """Which of ``n_genes`` connection genes :func:`mutate_toggle_enable` flips (None: no
    genes, no draw)."""
    return _index(rng, n_genes) if n_genes else None


def mutate_activation(genome, config, rng, new_id):
    """Re-draw one hidden node's activation from ``config.activations`` (CPPNs)."""
    nodes = _redrawn(genome.nodes, config, rng)
    return genome.with_genes(new_id, nodes=nodes)


def _redrawn(nodes, config, rng):
    """``nodes`` with one hidden node's activation re-drawn (:func:`mutate_activation`), or
    None when there is no hidden node (no draw)."""
    hidden = [i for i, n in enumerate(nodes) if n.kind == "hidden"]
    if not hidden:
        return None
    k = hidden[_index(rng, len(hidden))]
    nodes = list(nodes)
    act = config.activations[_index(rng, len(config.activations))]
    nodes[k] = NodeGene(nodes[k].id, "hidden", act)
    return nodes


def mutate(genome, tracker, config, rng, new_id):
    """One NEAT mutation step: add-node (3%), else add-connection (5%), else weights (80%)
    and an enable flip; structural mutations exclude weight mutation, as in NEAT's code."""
    r = rng.random()
    if r < config.add_node_rate:
        return mutate_add_node(genome, tracker, config, rng, new_id)
    if rng.random() < config.add_connection_rate:
        return mutate_add_connection(genome, tracker, config, rng, new_id)
    child = genome
    if rng.random() < config.weight_mutation_rate:
        child = mutate_weights(child, config, rng, new_id)
    if config.toggle_enable_rate and rng.random() < config.toggle_enable_rate:
        child = mutate_toggle_enable(child, config, rng, new_id)
    if config.activation_mutation_rate and rng.random() < config.activation_mutation_rate:
        child = mutate_activation(child, config, rng, new_id)
    return child if child is not genome else genome.with_genes(new_id)


# -- crossover -----------------------------------------------------------------------------
def _fitter_first(a, b):
    fa = -math.inf if a.fitness is None else a.fitness
    fb = -math.inf if b.fitness is None else b.fitness
    if fa > fb:
        return a, b
    if fb > fa:
        return b, a
    return (a, b) if a.n_connections <= b.n_connections else (b, a)


def crossover(a, b, config, rng, new_id):
    """The child of genomes ``a`` and ``b`` (their ``fitness`` decides which is fitter).

    Genes are aligned by innovation number. Matching genes are inherited from
    either parent at random (or, with probability ``mate_average_rate``, for
    the whole child, with the mean of the two weights, as NEAT's code does);
    disjoint and excess genes come from the fitter parent (on a tie, the
    smaller genome). An inherited gene keeps its enabled flag, and a matching
    gene disabled in either parent is disabled in the child with probability
    ``disable_inherit_rate`` (NEAT C++ ``Genome::mate_multipoint``: a gene
    disabled in the chosen parent, or a disjoint or excess gene disabled in
    the fitter one, stays disabled; an averaged gene starts enabled). The
    child's nodes are the fitter parent's.
    """
    fit, other = _fitter_first(a, b)
    average = config.mate_average_rate and rng.random() < config.mate_average_rate
    innov, src, dst, w, enabled = fit.gene_arrays()
    o_innov, _, _, o_w, o_enabled = other.gene_arrays()
    n = len(innov)
    pick = rng.random(n) < 0.5  # per gene: take the other parent's matching gene
    drop = rng.random(n) < config.disable_inherit_rate  # disabled in either: stays off
    if len(o_innov):  # genes line up by innovation number: both lists are sorted by it
        at = np.minimum(np.searchsorted(o_innov, innov), len(o_innov) - 1)
        match = o_innov[at] == innov
        o_w, o_enabled = o_w[at], o_enabled[at]
    else:
        match, o_w, o_enabled = np.zeros(n, bool), w, enabled
    off_in_either = match & ~(enabled & o_enabled)
    if average:
        weight = np.where(match, 0.5 * (w + o_w), w)
        child_enabled = np.where(match, True, enabled)
    else:
        take = match & pick
        weight = np.where(take, o_w, w)
        child_enabled = np.where(take, o_enabled, enabled)
    child_enabled = child_enabled & ~(off_in_either & drop)
    nodes = _mixed_nodes(fit, other, rng) if len(config.activations) > 1 else None
    return fit.with_arrays(new_id, innov, src, dst, weight, child_enabled, nodes=nodes)


# -- speciation ----------------------------------------------------------------------------
def compatibility_distance(a, b, c1=1.0, c2=1.0, c3=0.4, normalize_below=20):
    """``delta = c1 E / N + c2 D / N + c3 W-bar`` between genomes ``a`` and ``b``.

    E counts the excess genes (innovation numbers beyond the other genome's
    largest), D the disjoint ones (unmatched within its range), W-bar is the
    mean absolute weight difference of matching genes (disabled ones
    included), and N the number of genes of the larger genome, taken as 1
    when both have fewer than ``normalize_below`` genes.

    Examples
    --------
    >>> a = Genome.minimal(0, 1, 1, weights=[1.0, 0.0])
    >>> b = a.with_genes(1, connections=a.connections[:1])
    >>> compatibility_distance(a, b)  # one excess gene, no weight difference
    1.0
    """
    wa, sa = a.weights_by_innovation()
    wb, sb = b.weights_by_innovation()
    if not sa or not sb:
        return (c1 * max(len(sa), len(sb))) / (1 if max(len(sa), len(sb)) < normalize_below
                                                else max(len(sa), len(sb)))
    common = wa.keys() & wb.keys()
    m = len(common)
    if sa[-1] > sb[-1]:
        excess = len(sa) - bisect.bisect_right(sa, sb[-1])
    else:
        excess = len(sb) - bisect.bisect_right(sb, sa[-1])
    disjoint = len(sa) + len(sb) - 2 * m - excess
    wbar = sum([abs(wa[k] - wb[k]) for k in common]) / m if m else 0.0
    n = max(len(sa), len(sb))
    if n < normalize_below:
        n = 1
    return c1 * excess / n + c2 * disjoint / n + c3 * wbar


#: Values per temporary array of W-bar in :func:`distance_matrix` (2**21 float64: 16 MiB).
_WBAR_CHUNK = 2**21


def distance_matrix(genomes, others, c1=1.0, c2=1.0, c3=0.4, normalize_below=20,
                    below=None, fast=False, genes=None, other_genes=None):
    """:func:`compatibility_distance` of every genome to every one of ``others``, as arrays.

    Genes become columns of dense presence and weight matrices (one column per
    innovation number present); matching counts are a matrix product, excess
    genes are counted from cumulative sums up to the other genome's largest
    innovation, and W-bar is one masked difference over each pair's matching
    genes, gathered from the other genome's own genes (a (pairs, K) array, K
    the largest of ``others``).

    With ``below`` (a threshold), W-bar is computed only for the pairs whose
    excess and disjoint terms alone are under it; the others get those terms
    only, a lower bound that is not under ``below`` either (what speciation
    needs to know).

    With ``fast=True`` and the compiled kernels (``rosenblatt[fast]``), every
    pair's genes are walked once in a compiled loop instead (all distances in
    full; W-bar summed in another order: equal to a few ulp).

    ``genes`` / ``other_genes``: the :class:`~.genome.GeneBlock` of ``genomes``
    / ``others`` when one is at hand (read as it is instead of gathered).

    Examples
    --------
    >>> a = Genome.minimal(0, 1, 1, weights=[1.0, 0.0])
    >>> b = a.with_genes(1, connections=a.connections[:1])
    >>> distance_matrix([a, b], [a, b]).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    every = list(genomes) + list(others)
    parts = [_innovations_weights(genomes, genes), _innovations_weights(others, other_genes)]
    lengths = np.concatenate([parts[0][2], parts[1][2]])
    if not lengths.all():  # an empty genome: the scalar definition
        return np.array([[compatibility_distance(a, b, c1, c2, c3, normalize_below)
                          for b in others] for a in genomes])
    innov = np.concatenate([parts[0][0], parts[1][0]])
    weight = np.concatenate([parts[0][1], parts[1][1]])
    kernel = _kernels.get("compat_distances") if fast else None
    if kernel is not None:
        offsets = np.zeros(len(every) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        out = np.empty((len(genomes), len(every) - len(genomes)))
        kernel(innov, weight, offsets, len(genomes), float(c1), float(c2), float(c3),
               int(normalize_below), out)
        return out
    rows = np.repeat(np.arange(len(every)), lengths)
    cols, col_of = np.unique(innov, return_inverse=True)
    n, m = len(every), len(cols)
    present = np.zeros((n, m))
    w = np.zeros((n, m))
    present[rows, col_of] = 1.0
    w[rows, col_of] = weight
    P = len(genomes)
    gm, om, gw = present[:P], present[P:], w[:P]
    matching = gm @ om.T
    size_g, size_o = lengths[:P].astype(np.float64), lengths[P:].astype(np.float64)
    last = col_of[np.cumsum(lengths) - 1]  # column of each genome's newest gene (sorted genes)
    last_g, last_o = last[:P], last[P:]
    upto_g, upto_o = np.cumsum(gm, axis=1), np.cumsum(om, axis=1)
    excess = (size_g[:, None] - upto_g[:, last_o]) + (size_o[None, :] - upto_o[:, last_g].T)
    disjoint = size_g[:, None] + size_o[None, :] - 2 * matching - excess
    big = np.maximum(size_g[:, None], size_o[None, :])
    big = np.where(big < normalize_below, 1.0, big)
    d = c1 * excess / big + c2 * disjoint / big
    if c3:
        # W-bar of the pairs that need it: the genome's weights at the other genome's own
        # gene columns (padding and genes the genome lacks masked)
        k_o = lengths[P:]
        valid = np.arange(int(k_o.max()))[None, :] < k_o[:, None]
        first_o = int(lengths[:P].sum())
        o_cols = np.zeros(valid.shape, np.int64)
        o_cols[valid] = col_of[first_o:]
        o_w = np.zeros(valid.shape)
        o_w[valid] = weight[first_o:]
        # the (pairs, K) temporaries in chunks of at most _WBAR_CHUNK values each, so that
        # large genomes (the 11x11 retina: K = 14,641) stay within memory; each pair's sum is
        # the same row reduction whatever the chunk, so the distances are bit-identical
        K = valid.shape[1]
        if below is None:  # every pair: (rows, S, K) for a block of rows at a time
            wdiff = np.empty(matching.shape)
            # blocks of >= 2 rows: the gathered (rows, S, K) arrays then keep the layout (and
            # the order of the sum over K) of the whole (P, S, K) one; a lone row would not
            step = max(2, _WBAR_CHUNK // max(1, K * len(k_o)))
            starts = list(range(0, P, step))
            if len(starts) > 1 and P - starts[-1] == 1:
                starts.pop()  # the last row joins the block before it
            for a, b in zip(starts, starts[1:] + [P]):
                wdiff[a:b] = (np.abs(gw[a:b][:, o_cols] - o_w) *
                              (gm[a:b][:, o_cols] * valid)).sum(axis=2)
            wbar = np.divide(wdiff, matching, out=np.zeros_like(wdiff), where=matching > 0)
            return d + c3 * wbar
        p_i, s_i = np.nonzero((d < below) & (matching > 0))
        wdiff = np.empty(len(p_i))
        step = max(1, _WBAR_CHUNK // max(1, K))
        for a in range(0, len(p_i), step):
            pc, sc = p_i[a:a + step], s_i[a:a + step]
            at = o_cols[sc]
            wdiff[a:a + step] = (np.abs(gw[pc[:, None], at] - o_w[sc]) *
                                 (gm[pc[:, None], at] * valid[sc])).sum(axis=1)
        nm = matching[p_i, s_i]
        d[p_i, s_i] += c3 * np.divide(wdiff, nm, out=np.zeros_like(wdiff), where=nm > 0)
    return d


def _innovations_weights(genomes, block=None):
    """``(innovations, weights, genes per genome)`` of ``genomes``, concatenated (read from
    their ``block`` when given)."""
    if block is not None:
        return block.innovation, block.weight, block.gene_counts()
    arrays = [g.gene_arrays() for g in genomes]
    lengths = np.fromiter((len(a[0]) for a in arrays), np.int64, len(arrays))
    if not arrays:
        return np.zeros(0, np.int64), np.zeros(0), lengths
    return (np.concatenate([a[0] for a in arrays]), np.concatenate([a[3] for a in arrays]),
            lengths)


@dataclass
class Species:
    """A species: its representative, members, and when its best fitness last improved."""

    id: int
    representative: Genome
    members: list = field(default_factory=list)
    created: int = 0
    best_fitness: float = -math.inf
    last_improved: int = 0


def speciate(genomes, species, threshold, config, rng, next_id, generation=0, fast=False,
             genes=None):
    """Place each genome into the first species whose representative is within ``threshold``.

    Existing ``species`` keep their representatives (random members of the
    previous generation); a genome compatible with none founds a new species
    (it becomes the representative). Species left empty die. Afterwards each
    species draws a random member as its representative for the next
    generation (the paper), or keeps its fittest (``config.representative =
    "champion"``, what NEAT's C++ code does in effect). Returns ``(species, next_id)``.
    ``fast=True``: the distances from the compiled kernel (see :func:`distance_matrix`).
    ``genes``: the :class:`~.genome.GeneBlock` of ``genomes``, if at hand.
    """
    for s in species:
        s.members = []
    c1, c2, c3 = (config.excess_coefficient, config.disjoint_coefficient,
                  config.weight_coefficient)
    existing = len(species)
    # distances to the existing representatives all at once; only genomes that found no
    # existing species are compared, one by one, with the species founded during this call
    first = np.full(len(genomes), -1)
    if existing and genomes:
        d = distance_matrix(genomes, [s.representative for s in species], c1, c2, c3,
                            config.normalize_below, below=threshold, fast=fast, genes=genes)
        close = d < threshold
        hit = close.any(axis=1)
        first[hit] = np.argmax(close[hit], axis=1)
    first = first.tolist()
    # the genomes no existing species took: their distances to each other at once (the
    # species founded below are represented by some of them)
    rest = [i for i, k in enumerate(first) if k < 0]
    if len(rest) > 1:
        sub = None if genes is None else genes.take(np.array(rest, np.int64))
        among = distance_matrix([genomes[i] for i in rest], [genomes[i] for i in rest],
                                c1, c2, c3, config.normalize_below, below=threshold,
                                fast=fast, genes=sub, other_genes=sub) < threshold
    else:
        among = np.zeros((len(rest), len(rest)), bool)
    founders = []  # positions in rest of the new species' representatives
    for j, i in enumerate(rest):
        for s, f in zip(species[existing:], founders):
            if among[j, f]:
                s.members.append(genomes[i])
                break
        else:
            species.append(Species(next_id, genomes[i], [genomes[i]], created=generation,
                                   last_improved=generation))
            founders.append(j)
            next_id += 1
    for g, k in zip(genomes, first):
        if k >= 0:
            species[k].members.append(g)
    species = [s for s in species if s.members]
    for s in species:
        if config.representative == "champion":
            s.representative = max(s.members, key=lambda g: _key(
                -math.inf if g.fitness is None else g.fitness))
        else:
            s.representative = s.members[_index(rng, len(s.members))]
    return species, next_id


def adjusted_fitness(fitness, sizes):
    """Explicit fitness sharing: ``f'_i = f_i / n_s`` (``sizes[i]`` the size of i's species).

    Fitnesses are first shifted to be non-negative (``-inf``, a failed
    evaluation, counts as the worst). Where that shift would overflow (finite
    fitnesses near the float range's ends) everything is halved first: the
    shares keep their proportions.

    Examples
    --------
    >>> adjusted_fitness(np.array([4.0, 2.0, 3.0]), np.array([2, 2, 1])).tolist()
    [2.0, 1.0, 3.0]
    """
    f = np.asarray(fitness, dtype=np.float64)
    finite = np.isfinite(f)
    low = f[finite].min() if finite.any() else 0.0
    with np.errstate(over="ignore"):
        shifted = f - min(low, 0.0)
    if not np.isfinite(shifted[finite]).all():
        shifted = 0.5 * f - 0.5 * min(low, 0.0)
    f = np.where(finite, shifted, 0.0)
    return f / np.asarray(sizes, dtype=np.float64)


def allocate_offspring(shares, total):
    """Offspring per species, proportional to ``shares`` and summing to ``total``.

    Largest-remainder rounding (ties to the earlier species); equal shares
    when all are zero. Shares whose sum overflows are scaled by the largest
    first; infinite shares split ``total`` among themselves.

    Examples
    --------
    >>> allocate_offspring([3.0, 1.0], 10).tolist()
    [8, 2]
    >>> allocate_offspring([1e308, 1e308], 10).tolist()
    [5, 5]
    """
    shares = np.asarray(shares, dtype=np.float64)
    if shares.size == 0:
        return np.zeros(0, dtype=np.int64)
    with np.errstate(over="ignore"):
        whole = shares.sum()
    if np.isinf(shares).any():
        shares = np.isinf(shares).astype(np.float64)
    elif not np.isfinite(whole):  # huge finite shares: the same proportions, a finite sum
        shares = shares / shares.max()
    if shares.sum() <= 0:
        shares = np.ones_like(shares)
    exact = shares / shares.sum() * total
    counts = np.floor(exact).astype(np.int64)
    short = total - counts.sum()
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


def reproduce(species, fitness_of, generation, config, tracker, rng, next_id, champion_id,
              focus=False, block=None, genomes=None):
    """The next population from the current species (fitnesses given by ``fitness_of``).

    Returns ``(genomes, next_genome_id)``. Steps: explicit fitness sharing
    gives each species a share (sum of adjusted fitness); species stagnant for
    ``config.stagnation`` generations get none unless they hold the champion;
    offspring are allocated by share; the champion of each species larger
    than ``elitism_min_size`` is copied; the rest are children of the top
    ``survival_threshold`` of the species, by mutation alone
    (``mutation_only_rate``, and always when only one member may breed) or
    crossover (partners from another species with probability
    ``interspecies_rate``) followed by mutation (unless ``mate_only_rate``;
    always when the parents are one genome or have the same genes). Those two
    "always" follow NEAT C++ ``Species::reproduce``: no child is a copy of its
    parent by construction (one can still be by chance: a mutation-only child
    whose draws picked no mutation, a mate-only child whose genes all came
    from one parent, as in the paper and NEAT C++). With ``focus`` (the
    population has stagnated) the two species with the best champions get
    half the population each, as their champion and mutations of it, and
    count as improved now.

    ``block``, ``genomes``: the :class:`~.genome.GeneBlock` of ``genomes``, a
    population holding every member of ``species`` (default: built from the
    members); the children are bred from it with array operations (see
    :class:`_Breeder`).
    """
    return _reproduce(species, fitness_of, generation, config, tracker, rng, next_id,
                      champion_id, focus, block, genomes)[:2]


def _reproduce(species, fitness_of, generation, config, tracker, rng, next_id, champion_id,
               focus=False, block=None, genomes=None, keep=()):
    """:func:`reproduce`, also returning the children's :class:`~.genome.GeneBlock`.

    ``keep``: genomes (cascading selection's champions, one per fitness function) that
    survive unchanged: each one no child copies takes the place of one of the last
    children (bred all the same: the draws do not depend on it), its genes written into
    the block with the structurally mutated children's."""
    tracker.new_generation()
    shares = []
    for s in species:
        f = np.array([fitness_of[g.id] for g in s.members])
        best = f.max() if np.isfinite(f).any() else -math.inf
        if best > s.best_fitness:
            s.best_fitness, s.last_improved = float(best), generation
        shares.append(f)
    all_f = np.concatenate(shares)
    sizes = np.concatenate([np.full(len(s.members), len(s.members)) for s in species])
    adj = adjusted_fitness(all_f, sizes)
    with np.errstate(over="ignore"):
        overflow = not np.isfinite(adj.sum())
    if overflow:  # huge finite fitnesses: scale so that no species' sum overflows
        adj = adj / adj.max()
    sums, start = [], 0
    for s in species:
        n = len(s.members)
        stagnant = generation - s.last_improved >= config.stagnation
        holds_champion = any(g.id == champion_id for g in s.members)
        sums.append(0.0 if stagnant and not holds_champion else float(adj[start:start + n].sum()))
        start += n
    sums = np.array(sums)
    if sums.sum() <= 0:  # every share zero: only unstagnant (or champion's) species, equally
        sums = np.array([0.0 if generation - s.last_improved >= config.stagnation and not any(
            g.id == champion_id for g in s.members) else 1.0 for s in species])
    counts = allocate_offspring(sums, config.population)
    if focus:  # delta coding: search around the two best champions only
        best = sorted(range(len(species)), key=lambda k: -species[k].best_fitness)[:2]
        counts = np.zeros(len(species), dtype=np.int64)
        counts[best] = allocate_offspring(np.ones(len(best)), config.population)
        for k in best:
            species[k].last_improved = generation
    if block is None:
        genomes = [g for s in species for g in s.members]
        block = GeneBlock.of(genomes)
    u = _Uniforms(rng)  # the many scalar draws of the loop, from one buffer
    breed = _Breeder(tracker, config, rng, u, block, genomes)  # children planned, built below
    for s, n_off in zip(species, counts):
        if n_off == 0:
            continue
        ranked = sorted(s.members, key=lambda g: -_key(fitness_of[g.id]))
        if len(s.members) > config.elitism_min_size or focus:
            # a copy (same id, genes and cached phenotype): the parent keeps the fitness it
            # was scored (and maybe reported as champion) with when the copy is re-scored
            breed.copy(ranked[0])
            n_off -= 1
        pool = ranked[:1] if focus else ranked[:int(config.survival_threshold * len(ranked) + 1)]
        for _ in range(n_off):  # (NEAT C++ keeps floor(t n + 1) of each species)
            mom = pool[int(u() * len(pool))]
            if focus or u() < config.mutation_only_rate or len(pool) == 1:
                breed.mutant(mom, next_id)
            else:
                if u() < config.interspecies_rate and len(species) > 1:
                    others = [o for o in species if o is not s]
                    o = others[int(u() * len(others))]
                    dad = max(o.members, key=lambda g: _key(fitness_of[g.id]))
                else:
                    dad = pool[int(u() * len(pool))]
                breed.offspring(_with_fitness(mom, fitness_of), _with_fitness(dad, fitness_of),
                                next_id)
            next_id += 1
    children, block = breed.build(keep)
    return children, next_id, block


class _Breeder:
    """The children of one generation, planned one by one and built together.

    :meth:`copy`, :meth:`mutant` and :meth:`offspring` record each child's
    parents in the order :func:`reproduce` chooses them; :meth:`build` then
    draws every child's choices (averaging crossover or not, mutated or not,
    which mutations: those of :func:`crossover` and :func:`mutate`) as arrays
    and writes the children's :class:`~.genome.GeneBlock` from the parents'
    block: every child's row gathered from its fitter parent's in one take,
    one crossover over all crossover children's genes (aligned by ``(child,
    innovation)`` keys), one weight mutation over all mutated children's
    genes, then the (rare) structural mutations child by child, spliced in.
    The draws are those of :func:`crossover` and :func:`mutate` in the same
    order, so a run does not depend on how its children are built.
    """

    def __init__(self, tracker, config, rng, uniform, block, genomes):
        self.tracker, self.config, self.rng, self.u = tracker, config, rng, uniform
        self.block = block
        self.row = {id(g): k for k, g in enumerate(genomes)}  # the parents' rows
        self.plans = []  # (new_id, fitter parent, other parent or None, mom, dad)
        self.children = []  # per child: a copied Genome, or the index of its plan
        self.source = []  # per child: the block row its genes start from
        self.partner = []  # per plan: the other parent's row (-1: none)
        self.at = []  # per plan: its child's position among the children

    def copy(self, g):
        self.children.append(g)
        self.source.append(self.row[id(g)])

    def mutant(self, mom, new_id):
        self.at.append(len(self.children))
        self.children.append(len(self.plans))
        self.source.append(self.row[id(mom)])
        self.partner.append(-1)
        self.plans.append((new_id, mom, None, None, None))

    def offspring(self, mom, dad, new_id):
        fit, other = _fitter_first(mom, dad)
        self.at.append(len(self.children))
        self.children.append(len(self.plans))
        self.source.append(self.row[id(fit)])
        self.partner.append(self.row[id(other)])
        self.plans.append((new_id, fit, other, mom, dad))

    def build(self, keep=()):
        """``(children, their GeneBlock)``; ``keep`` as :func:`_reproduce` takes it."""
        c, rng, plans, old = self.config, self.rng, self.plans, self.block
        n = len(plans)
        r = rng.random((7, n))
        partner = np.array(self.partner, np.int64)
        mated_mask = partner >= 0
        average = mated_mask & (r[0] < c.mate_average_rate)
        children = self.children
        P = len(children)
        source = np.array(self.source, np.int64)
        at = np.array(self.at, np.int64)  # each plan's position among the children
        mutated = ~mated_mask | (r[1] >= c.mate_only_rate)
        copies = np.flatnonzero(~mutated)  # a child that is a copy of a parent is mutated
        mutated[copies] = _same_rows(old, source[at[copies]], partner[copies])
        node = mutated & (r[2] < c.add_node_rate)
        connection = mutated & ~node & (r[3] < c.add_connection_rate)
        other = mutated & ~node & ~connection
        perturb = other & (r[4] < c.weight_mutation_rate)
        toggle = other & (r[5] < c.toggle_enable_rate)
        activation = other & (r[6] < c.activation_mutation_rate)
        # each child's genes start as its fitter parent's (a copy's as its own)
        base = old.take(source)
        counts = base.gene_counts()
        weight, enabled = base.weight.copy(), base.enabled.copy()
        mated = np.flatnonzero(mated_mask)
        changed = np.zeros(n, bool)  # enabled flags that crossover changed
        if len(mated):
            genes = np.repeat(_scatter(at[mated], P), counts)
            index, starts = _rows(old.gene_starts, partner[mated])  # the other parents' genes
            w, e, changed[mated] = _crossover_genes(
                base.innovation[genes], weight[genes], enabled[genes], counts[at[mated]],
                old.innovation[index], old.weight[index], old.enabled[index],
                starts[1:] - starts[:-1], average[mated], c, rng)
            weight[genes], enabled[genes] = w, e
        perturbed = perturb & (counts[at] > 0)
        if perturbed.any():
            genes = np.repeat(_scatter(at[perturbed], P), counts)
            weight[genes] = _mutate_weights_genes(weight[genes], c, rng)
        # the children whose nodes or edges change, one by one (their draws in order): a
        # flipped enabled flag and new activations (CPPN crossover, activation mutation)
        # are written into the child's row; a new node or connection makes a genome of its
        # own, spliced in below
        node_codes = base.node_codes
        mixed = mated_mask if len(c.activations) > 1 else np.zeros(n, bool)
        nodes_of, rebuilt = {}, {}  # per plan: new node genes; a new genome
        for k in np.flatnonzero(mixed | node | connection | toggle | activation).tolist():
            new_id, parent, partner_genome, _, _ = plans[k]
            j = int(at[k])
            nodes = _mixed_nodes(parent, partner_genome, rng) if mixed[k] else None
            if node[k] or connection[k]:
                a, b = base.gene_starts[j:j + 2].tolist()
                g = parent.with_arrays(new_id, base.innovation[a:b], base.src[a:b],
                                       base.dst[a:b], _frozen(weight[a:b]),
                                       _frozen(enabled[a:b]), nodes=nodes, frozen=True)
                mutation = mutate_add_node if node[k] else mutate_add_connection
                rebuilt[k] = mutation(g, self.tracker, c, rng, new_id)
                continue
            if toggle[k]:
                a, b = base.gene_starts[j:j + 2].tolist()
                flip = _toggled(b - a, rng)
                if flip is not None:
                    enabled[a + flip] = not enabled[a + flip]
                    changed[k] = True
            if activation[k]:
                nodes = _redrawn(parent.nodes if nodes is None else nodes, c, rng) or nodes
            if nodes is not None:
                if node_codes is base.node_codes:
                    node_codes = node_codes.copy()
                a, b = base.node_starts[j:j + 2].tolist()
                node_codes[a:b] = [_act.CODES[m.activation] for m in nodes]
                nodes_of[k] = nodes
        block = GeneBlock((base.innovation, base.src, base.dst, weight, enabled, base.local_src,
                           base.local_dst), base.gene_starts, (base.node_ids, node_codes),
                          base.node_starts, base.bias)
        rows = dict(zip(at[list(rebuilt)].tolist(), rebuilt.values()))
        rows.update(self._kept(keep))
        if rows:  # (rows of this block, distinct: no checks)
            order = sorted(rows)
            block = block._splice(np.array(order, np.int64), [rows[j] for j in order])
        out = []
        same_weights = (~mated_mask & ~perturb).tolist()
        changed = changed.tolist()
        for j, x in enumerate(children):
            if j in rows:  # a kept champion in place of this child (an elite's copy too), or
                g = rows[j]  # its mutant
            elif x.__class__ is not int:
                g = x.with_genes(x.id)
            else:
                new_id, parent = plans[x][:2]
                nodes = nodes_of.get(x)
                g = Genome(new_id, parent.n_inputs, parent.n_outputs,
                           list(parent.nodes) if nodes is None else nodes, None,
                           parent.recurrent, bias=parent.bias)
                if nodes is None:
                    parent._hand_on(g, same_edges=True, same_enabled=not changed[x],
                                    same_weights=same_weights[x])
            g._slot = (block, j)
            out.append(g)
        return out, block

    def _kept(self, keep):
        """``{child position: copy}`` of the ``keep`` genomes that no child copies, each in
        place of one of the last children that is not one of them."""
        if not keep:
            return {}
        ids = [x.id if x.__class__ is not int else self.plans[x][0] for x in self.children]
        missing = [g for g in keep if g.id not in ids]
        kept = {g.id for g in keep}
        slots = [j for j in range(len(ids) - 1, -1, -1) if ids[j] not in kept]
        return {j: g.with_genes(g.id) for g, j in zip(missing, slots)}


def _scatter(index, n):
    """A boolean mask of length ``n``, True at ``index``."""
    mask = np.zeros(n, bool)
    mask[index] = True
    return mask


class _Uniforms:
    """``u()``: the next U(0, 1) number of ``rng``, drawn a block at a time (a scalar
    ``rng.random()`` call costs more than the number)."""

    def __init__(self, rng, block=1024):
        self.rng, self.block = rng, block
        self.buffer, self.i = [], 0

    def __call__(self):
        if self.i == len(self.buffer):
            self.buffer, self.i = self.rng.random(self.block).tolist(), 0
        self.i += 1
        return self.buffer[self.i - 1]


def _crossover_genes(innov, w, on, nf, o_innov, o_w, o_on, no, averages, config, rng):
    """:func:`crossover`'s weights and enabled flags for many children at once.

    ``innov``, ``w``, ``on``: the fitter parents' genes concatenated, ``nf``
    genes per child; ``o_innov``, ``o_w``, ``o_on``: the other parents',
    ``no`` per child. Returns the children's ``(weight, enabled)`` aligned with
    ``innov``, and per child whether any enabled flag differs from its fitter
    parent's.
    """
    C = len(nf)
    n = len(innov)
    pick = rng.random(n) < 0.5
    drop = rng.random(n) < config.disable_inherit_rate
    if len(o_innov) and n:
        big = int(max(innov.max(), o_innov.max())) + 1
        key = np.repeat(np.arange(C), nf) * big + innov
        o_key = np.repeat(np.arange(C), no) * big + o_innov
        at = np.minimum(np.searchsorted(o_key, key), len(o_key) - 1)
        match = o_key[at] == key
        o_w = o_w[at]
        o_on = o_on[at]
    else:
        match, o_w, o_on = np.zeros(n, bool), w, on
    avg = np.repeat(np.asarray(averages, bool), nf) & match
    take = match & pick & ~avg
    weight = np.where(avg, 0.5 * (w + o_w), np.where(take, o_w, w))
    enabled = np.where(avg, True, np.where(take, o_on, on)) & ~(match & ~(on & o_on) & drop)
    changed = np.zeros(C, bool)
    differs = enabled != on
    if differs.any():
        changed[np.repeat(np.arange(C), nf)[differs]] = True
    return weight, enabled, changed


def _mutate_weights_genes(w, config, rng):
    """:func:`mutate_weights` on many children's weights (concatenated) at once."""
    n = len(w)
    perturb = rng.random(n) < config.weight_perturb_rate
    power = config.weight_mutation_power
    draw = rng.uniform(-power, power, n)
    w = np.where(perturb, w + draw, draw)
    np.clip(w, -config.weight_max, config.weight_max, out=w)
    return w


def _mixed_nodes(fit, other, rng):
    """CPPN crossover: a hidden node's activation from either parent (None: unchanged)."""
    other_nodes = {m.id: m for m in other.nodes}
    mixed = []
    for node in fit.nodes:
        m = other_nodes.get(node.id)
        if m is not None and node.kind == "hidden" and m.activation != node.activation \
                and rng.random() < 0.5:
            node = m
        mixed.append(node)
    return mixed if any(x is not y for x, y in zip(mixed, fit.nodes)) else None


def _index(rng, n):
    """A uniform index below ``n`` (``rng.integers`` costs several times more per call)."""
    return int(rng.random() * n)


def _same_rows(block, a, b):
    """Per pair, whether the genomes at rows ``a[i]`` and ``b[i]`` of ``block`` have the same
    genes (innovations and weights: compatibility distance 0; a child of the two is then a
    copy, so NEAT C++ mutates it)."""
    starts, counts = block.gene_starts, block.gene_counts()
    same = counts[a] == counts[b]
    i, j = a[same], b[same]
    ia, _ = _rows(starts, i)
    ib, lengths = _rows(starts, j)
    differ = (block.innovation[ia] != block.innovation[ib]) | (block.weight[ia] != block.weight[ib])
    owner = np.repeat(np.arange(len(i)), lengths[1:] - lengths[:-1])
    same[np.flatnonzero(same)[np.unique(owner[differ])]] = False
    return same


_slot_of = operator.attrgetter("_slot")
_n_inputs, _n_outputs = operator.attrgetter("n_inputs"), operator.attrgetter("n_outputs")


def _key(f):
    return f if math.isfinite(f) else -math.inf


def population_from_arrays(recurrent, message, fast=False):
    """The :class:`PopulationNetwork` of genomes sent as :func:`~.genome.genomes_to_arrays`'s
    flat arrays (what a worker rebuilds for a vectorised fitness)."""
    return PopulationNetwork(genomes_from_arrays(message, "NEAT"), recurrent=recurrent,
                             fast=fast)


def _with_fitness(g, fitness_of):
    g.fitness = fitness_of[g.id]
    return g


# -- the algorithm -------------------------------------------------------------------------
class NEAT:
    """NEAT (Stanley & Miikkulainen 2002): evolve topology and weights together.

    Parameters
    ----------
    n_inputs, n_outputs : int
        Network inputs (a bias input is added) and outputs.
    config : NEATConfig, optional
        Defaults to the paper's XOR settings.
    rng : numpy.random.Generator or int, optional
    selection : {"fitness", "cascading"}
        NEAT's own selection on one fitness, or cascading elitism
        (:mod:`.cascading`): ``fitness`` returns one value per fitness
        function (``(P, k)`` when vectorised); the cascade of one selection
        event per function, down to the ``survival_threshold`` fraction,
        gives each genome a cascade score that NEAT's speciation, sharing and
        breeding use as its fitness (``genome.fitness``, ``best_fitness``),
        and each function's champion is copied unchanged into the next
        generation. ``history["objectives"]`` holds each function's best and
        ``history["best"]``/``"mean"`` the mean over the functions; cascade
        scores rank genomes within one generation only, so the run's best
        genome (``Result.best``, :attr:`best`) is the one with the best mean
        over the functions, ``Result.best_fitness`` that mean (population
        stagnation follows it too).
    fast : bool, default False
        Use the compiled kernels (``rosenblatt[fast]``; NumPy without Numba
        or with ``ROSENBLATT_NO_NUMBA=1``): a vectorised ``fitness`` gets
        population networks evaluated by them (see
        :class:`~rosenblatt.evolution.network.PopulationNetwork`), and
        speciation's compatibility distances are walked gene by gene in a
        compiled loop. Faster, equal to NumPy to a few ulp, so a run can part
        from the NumPy run of the same seed where two fitnesses (or a
        distance and the threshold) tie to the last bit. The default keeps
        every run bit for bit as NumPy's.

    Attributes
    ----------
    population : list of Genome
        May be set by hand (genomes loaded from files: a resumed or seeded
        run); each needs an id of its own, and new innovation numbers, node
        ids and genome ids then continue after the largest it holds.
    species : list of Species
    threshold : float
        The current compatibility threshold ``delta_t``.
    tracker : InnovationTracker
    generation : int
    evaluations : int
        Fitness evaluations over every run of this instance (a run's
        ``Result.evaluations`` counts its own).

    Examples
    --------
    >>> import rosenblatt as rb
    >>> xor = rb.evolution.envs.XOR()
    >>> neat = rb.evolution.NEAT(2, 1, rng=0)
    >>> result = neat.run(xor, generations=2)
    >>> result.generations, len(neat.population)
    (2, 150)
    """

    def __init__(self, n_inputs, n_outputs, config=None, rng=None, selection="fitness",
                 fast=False):
        from ..checks import boolean, one_of, positive_int

        self.selection = one_of("NEAT", "selection", selection, ("fitness", "cascading"))
        self.fast = boolean("NEAT", "fast", fast)

        self.n_inputs = positive_int("NEAT", "n_inputs", n_inputs)
        self.n_outputs = positive_int("NEAT", "n_outputs", n_outputs)
        if config is None:
            config = NEATConfig()
        if not isinstance(config, NEATConfig):
            raise TypeError(f"NEAT: config must be a NEATConfig; got {type(config).__name__}")
        self.config = config
        self.rng = resolve_rng(rng)
        n_conn = (self.n_inputs + 1) * self.n_outputs
        self.tracker = InnovationTracker(next_innovation=n_conn,
                                         next_node=self.n_inputs + 1 + self.n_outputs)
        self.population = self._initial_population()
        self.next_genome_id = config.population
        self.species, self.next_species_id = [], 0
        self.threshold = float(config.compatibility_threshold)
        self.generation = 0
        self.evaluations = 0
        # cascading: (fitness, its number of functions) once a genome was scored
        self._k = None
        self.best = None
        self._best_mean = -math.inf  # cascading: the best's mean over the fitness functions
        self._config_seen = None  # the config's fields when last checked (_check_config)
        self.last_improved = 0  # the generation the population's best fitness last rose

    def _initial_population(self):
        """Minimal genomes with weights from U(-r, r), ``r = weight_init_range`` (clipped to
        ``+-weight_max``); all but the first share its gene arrays except the weights."""
        c = self.config
        r = c.weight_init_range
        w = self.rng.uniform(-r, r, (c.population, (self.n_inputs + 1) * self.n_outputs))
        if r > c.weight_max:  # weights stay within +-weight_max (NEATConfig)
            np.clip(w, -c.weight_max, c.weight_max, out=w)
        w.flags.writeable = False
        first = Genome.minimal(0, self.n_inputs, self.n_outputs, w[0], activation=c.activation,
                               output_activation=c.output_activation, recurrent=c.recurrent,
                               bias=c.bias)
        innov, src, dst, _, enabled = first.gene_arrays()
        population = [first] + [first.with_arrays(i, innov, src, dst, w[i], enabled)
                                for i in range(1, c.population)]
        P, n = w.shape
        ids, codes = first.node_arrays()
        tiled = [np.tile(a, P) for a in (innov, src, dst)]
        block = GeneBlock((*tiled, w.ravel(), np.tile(enabled, P),
                           *(np.tile(a, P) for a in first.local_edges())),
                          np.arange(P + 1) * n, (np.tile(ids, P), np.tile(codes, P)),
                          np.arange(P + 1) * len(ids), np.full(P, first.bias))
        for k, g in enumerate(population):
            g._slot = (block, k)
        self._own(block, population)
        return population

    def _own(self, block, population):
        """Keep ``block`` as the genes of ``population`` (whose genomes point at its rows),
        with what :meth:`genes` checks it against."""
        self._genes = (block, tuple(population), tuple(map(_slot_of, population)))
        shapes = set(zip(map(_n_inputs, population), map(_n_outputs, population)))
        block.io = shapes.pop() if len(shapes) == 1 else None

    def genes(self):
        """The population's :class:`~.genome.GeneBlock` (every genome's genes as arrays).

        The block reproduction wrote, while :attr:`population` holds the
        genomes it made, in order, none given other connection genes or
        another ``bias`` since; else built from the genomes (and kept, each
        genome pointed at its row, so that one given other connection genes
        later is seen: :attr:`Genome.connections <.genome.Genome.connections>`
        unlinks it)."""
        block, genomes, slots = getattr(self, "_genes", (None, (), ()))
        population = self.population
        # (each test runs in C over the population: this is read at every evaluation; a
        # genome given other connection genes or another bias marks its slot's block stale)
        if block is None or block.stale or len(genomes) != len(population) or not all(
                map(operator.is_, genomes, population)) or not all(
                map(operator.is_, map(_slot_of, population), slots)):
            block = GeneBlock.of(population)
            for k, g in enumerate(population):
                if g._slot is not None and g._slot[0] is not block:
                    g._slot[0].stale = True  # (another run's block loses it: that run rebuilds)
                g._slot = (block, k)
            self._own(block, population)
            self._number_after(block, population)
        return block

    def _number_after(self, block, population):
        """New innovation numbers, node ids and genome ids after those of ``population`` (a
        population set by hand: genomes loaded from files, a resumed or seeded run), so that
        no new gene or node takes a number one of them already gives another."""
        t = self.tracker
        if block.innovation.size:
            t.next_innovation = max(t.next_innovation, int(block.innovation.max()) + 1)
        if block.node_ids.size:
            t.next_node = max(t.next_node, int(block.node_ids.max()) + 1)
        ids = [g.id for g in population if isinstance(g.id, (int, np.integer))]
        if ids:
            self.next_genome_id = max(self.next_genome_id, int(max(ids)) + 1)

    def population_network(self, genomes=None):
        """The padded :class:`PopulationNetwork` of ``genomes`` (default: the population,
        whose phenotypes are then built from its :meth:`genes` directly)."""
        if genomes is None:
            return PopulationNetwork(self.population, recurrent=self.config.recurrent,
                                     fast=self.fast, genes=self.genes())
        return PopulationNetwork(genomes, recurrent=self.config.recurrent, fast=self.fast)

    def _check_config(self):
        """``config.check()`` when a field changed (by value or type) since the last check:
        checking every key costs more than a generation's Python over its fields."""
        c = self.config
        seen = tuple((v.__class__, v) for v in vars(c).values())
        if seen != self._config_seen:
            c.check()  # (may normalise values: what it leaves is what was checked)
            self._config_seen = tuple((v.__class__, v) for v in vars(c).values())

    def evaluate(self, fitness, executor=None, vectorized=False, repeats=1, on_error="raise",
                 chunk_size=32):
        """Fitness of every genome of the population (array in population order)."""
        self._check_config()  # an edited config named before a generation is spent on it
        ids = [g.id for g in self.population]
        if self.selection == "cascading":
            k = known_width(self._k, fitness)
            if vectorized:
                F = vector_objectives(fitness, self.population_network(), ids,
                                      executor=executor, repeats=repeats, on_error=on_error,
                                      owner="NEAT", k=k)
            else:
                json_ = executor is not None
                scored, payloads, decode = seeded(
                    self.rng, fitness,
                    [g.to_json() for g in self.population] if json_ else self.population,
                    Genome.from_json if json_ else None)
                F = evaluate_objectives(scored, payloads, decode=decode, executor=executor,
                                        repeats=repeats, on_error=on_error, owner="NEAT",
                                        ids=ids, k=k)
            if k is None and np.isfinite(F).any():
                # the number of fitness functions, known once a genome was scored: a later
                # generation of this fitness where all fail keeps it, and one of another
                # width is refused; another fitness (a new task) starts afresh
                self._k = (fitness, F.shape[1])
            return F
        if vectorized and executor is not None:  # sub-populations as flat arrays per task
            return vector_chunks(fitness, self.population, ids,
                                 functools.partial(population_from_arrays,
                                                   self.config.recurrent, fast=self.fast),
                                 executor, chunk_size=chunk_size, repeats=repeats,
                                 on_error=on_error, owner="NEAT",
                                 encode_many=genomes_to_arrays, rng=self.rng)
        if vectorized:
            # with a generator read from self.rng (not drawn from it), as the executor's
            # first sub-population: a fitness that draws follows from the seed alone
            return vector_fitness(fitness, self.population_network(), ids, repeats, on_error,
                                  "NEAT", rng=self.rng)
        # per genome: each scored with a generator of its own (read from self.rng, not drawn
        # from it), so a fitness that draws scores the same serially and on any executor
        if executor is not None:
            scored, payloads, decode = seeded(self.rng, fitness,
                                              [g.to_json() for g in self.population],
                                              Genome.from_json)
        else:
            scored, payloads, decode = seeded(self.rng, fitness, self.population)
        return evaluate(scored, payloads, ids, decode=decode, executor=executor,
                        repeats=repeats, on_error=on_error, owner="NEAT")

    def tell(self, fitness):
        """Speciate the evaluated population and breed the next generation.

        Parameters
        ----------
        fitness : array (P,) or (P, k)
            One fitness per genome of :attr:`population`, in its order (higher
            is better): ``(P,)`` (or a ``(P, 1)`` column) for
            ``selection="fitness"``; ``(P, k)``, one column per fitness
            function, for ``selection="cascading"`` (``(P,)`` is read as one
            function, as CNE reads it). ``-inf`` marks a failed evaluation
            (the worst); NaN and ``+inf`` are refused.

        Returns
        -------
        Genome
            This generation's champion, its ``fitness`` set (and never changed
            later: an elite enters the next generation as a copy).

        Raises
        ------
        ValueError
            ``fitness`` of another shape (several columns for
            ``selection="fitness"``), not numbers, or holding NaN or ``+inf``.
        """
        c = self.config
        self._check_config()  # a config edited since construction: a bad value is named here
        fitness = self._checked(fitness)
        keep, objectives = [], None
        if self.selection == "cascading":  # one selection event per fitness function
            P, k = fitness.shape
            survivors = max(1, int(math.ceil(c.survival_threshold * P)))
            keep = [self.population[i] for i in dict.fromkeys(
                np.argmax(np.where(np.isfinite(fitness), fitness, -np.inf), axis=0).tolist())]
            objectives = fitness
            fitness = cascade(fitness, cascade_sizes(P, k, survivors))
        fitness_of = {g.id: float(f) for g, f in zip(self.population, fitness)}
        if len(fitness_of) != len(self.population):
            self._shared_ids()
        for g, f in zip(self.population, fitness):
            g.fitness = float(f)
        i = int(np.argmax(np.where(np.isfinite(fitness), fitness, -np.inf)))
        champion = self.population[i]
        if objectives is None:
            if self.best is None or _key(fitness[i]) > _key(self.best.fitness):
                self.best = champion
                self.last_improved = self.generation
        else:
            # cascade scores are ranks within one generation (its top score is the same every
            # generation): the best genome across generations is the one with the best mean
            # over the functions, as history["best"] records it
            with np.errstate(invalid="ignore"):
                means = objectives.mean(axis=1)
            means = np.where(np.isfinite(means), means, -np.inf)
            j = int(np.argmax(means))
            if self.best is None or _key(means[j]) > _key(self._best_mean):
                self.best, self._best_mean = self.population[j], float(means[j])
                self.last_improved = self.generation
        focus = bool(c.population_stagnation) and (
            self.generation - self.last_improved >= c.population_stagnation)
        if focus:
            self.last_improved = self.generation
        block = self.genes()
        self.species, self.next_species_id = speciate(
            self.population, self.species, self.threshold, c, self.rng,
            self.next_species_id, self.generation, fast=self.fast, genes=block)
        if c.target_species is not None:
            if len(self.species) < c.target_species:
                self.threshold = max(c.threshold_min, self.threshold - c.threshold_step)
            elif len(self.species) > c.target_species:
                self.threshold += c.threshold_step
        children, self.next_genome_id, block = _reproduce(
            self.species, fitness_of, self.generation, c, self.tracker, self.rng,
            self.next_genome_id, champion.id, focus=focus, block=block,
            genomes=self.population, keep=keep)  # (elites are copies, with their parents' ids)
        self._own(block, children)
        champion._detach()  # kept (best, results, halls of fame): its own genes, not the block
        if self.best._slot is not None:  # (cascading: the best by mean, not the champion)
            self.best._detach()
        self.population = children
        self.generation += 1
        return champion

    def _shared_ids(self):
        """The ValueError of a population whose genomes do not each have an id of their own
        (fitnesses are looked up by id when breeding)."""
        ident, n = collections.Counter(g.id for g in self.population).most_common(1)[0]
        raise ValueError(f"NEAT.tell: genome id {ident!r} is shared by {n} genomes of the "
                         f"population; each genome needs an id of its own (fitnesses are "
                         f"looked up by id): give genomes set by hand distinct ids, e.g. "
                         f"genome.with_genes(new_id)")

    def _checked(self, fitness):
        """``fitness`` as a float array of one row per genome, or a ValueError naming the
        problem."""
        P = len(self.population)
        try:
            f = np.asarray(fitness, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"NEAT.tell: fitness must be numbers, one per genome ({P}); got "
                             f"{fitness!r:.60}") from None
        if f.ndim not in (1, 2) or f.shape[0] != P:
            raise ValueError(f"NEAT.tell: expected one fitness per genome ({P}), shape ({P},) "
                             f"or ({P}, k); got shape {f.shape}")
        # the selection decides how the columns are read, not the array's shape: a (P, 1)
        # column of one fitness must not be scored by cascade ranks
        if self.selection == "fitness":
            if f.ndim == 2 and f.shape[1] != 1:
                raise ValueError(f"NEAT.tell: selection='fitness' takes one fitness per "
                                 f"genome, shape ({P},); got shape {f.shape}; several fitness "
                                 f"functions need NEAT(..., selection='cascading')")
            f = f.reshape(P)
        elif f.ndim == 1:  # one fitness function, as cascading.check_objectives reads it
            f = f[:, None]
        bad = np.isnan(f) | (f == np.inf)
        if bad.any():
            i = int(np.flatnonzero(bad.reshape(P, -1).any(axis=1))[0])
            raise ValueError(f"NEAT.tell: fitness is NaN or +inf for genome "
                             f"{self.population[i].id} (index {i}); score a failed "
                             f"evaluation -inf (the worst)")
        return f

    def run(self, fitness, generations, executor=None, callbacks=None, stop=None,
            vectorized=False, repeats=1, on_error="raise", chunk_size=32):
        """Evolve for up to ``generations``.

        Parameters
        ----------
        fitness : callable
            ``fitness(genome) -> float`` (higher is better); with
            ``vectorized=True``, ``fitness(population_network) -> (P,)`` scores
            a :class:`PopulationNetwork` of the whole population at once (e.g.
            ``rb.evolution.envs.XOR().evaluate``).
        generations : int
        executor : concurrent.futures.Executor, optional
            E.g. ``rb.parallel.local(n)`` or a Dask ``client.get_executor()``.
            Genomes are shipped to the workers as plain data and rebuilt
            there, several per message; ``fitness`` must be a module-level
            function (or a ``functools.partial`` of one). Per-genome fitness:
            one JSON text per genome, the same results as serial (each genome,
            serially too, is scored with a generator of its own, derived from
            ``rng``'s state each generation, as the library generator, so a
            noisy fitness draws the same numbers wherever it runs). With
            ``vectorized=True`` each task scores a sub-population of
            ``chunk_size`` genomes at once, sent as one dict of flat arrays
            (:func:`~rosenblatt.evolution.genome.genomes_to_arrays`; the cut
            does not depend on the executor or its workers).
        callbacks : list of callable, optional
            ``callback(state)`` after each generation (state: generation,
            champion, fitness); returning True stops.
        stop : callable, optional
            ``stop(champion) -> bool``; the champion genome has ``fitness`` set.
            A run ended by ``stop`` or a callback still returns the best genome
            seen (the champion that stopped it is the ``state["champion"]`` a
            callback sees).
        repeats : int
            Average a noisy fitness over this many evaluations.
        on_error : {"raise", "stop", "worst"}
            A fitness that raises or returns NaN or an infinity (``-inf``
            too: to mark a failed evaluation here, raise): raise a
            FitnessError naming the genome id, end the run cleanly (the
            result's ``error`` says why), or score it worst (``-inf``) and go
            on. (:meth:`tell` takes ``-inf`` as a failed evaluation from a loop
            written by hand.) A vectorised fitness that raises: its exception
            as raised ("raise"), a clean end naming the genomes it was scoring
            ("stop"), or those genomes (the population, or one executor task's
            sub-population) scored worst ("worst").
        chunk_size : int, default 32
            Genomes per task (at most) with ``vectorized=True`` and an
            executor: the population is dealt to ``ceil(P / chunk_size)``
            tasks in turn, so each task gets members of every species. More
            per message amortises the round trip and the simulation's per-step
            overhead, fewer balances the workers. A run's results depend on
            ``chunk_size`` but not on the executor or its workers: each task
            is scored with a generator of its own (derived from ``rng``'s
            state each generation, not drawn from it) as the library
            generator, and the fitness is called once per task (a draw it
            makes once per call, shared by its population, is made once per
            task). Without an
            executor the population is scored whole, and each genome scores the
            same bit for bit as in any task when ``fast=True`` (feed-forward,
            ``rosenblatt[fast]``: each genome runs on its own) or when the
            fitness feeds its networks at most four samples at a time (a control
            step, XOR: the NumPy evaluation then sums each node's connections in
            a fixed order). On longer batches the NumPy evaluation's padded
            products can round differently in another group (the last bit; on a
            chaotic task a trial could end a step apart).

        Returns
        -------
        Result
            ``best`` is the best genome seen; ``history`` has ``best``,
            ``mean``, ``worst``, ``species``, ``species_sizes`` ({species id:
            size}), ``hidden`` (the champion's hidden nodes), ``mean_hidden``,
            ``connections`` (the champion's enabled connections), ``threshold``.
            ``evaluations`` counts this run's (:attr:`evaluations` keeps the
            count over every run of this instance).
        """
        if not callable(fitness):
            raise TypeError(f"NEAT.run: fitness must be callable; got {type(fitness).__name__}")
        history = {}
        # a run's fitness is its own (Staged hands each task to a run of its own): the
        # champion and the population's stagnation clock start afresh, not from fitnesses
        # of another task
        self._check_config()  # a config edited since construction (Interactive does)
        self.best, self.last_improved = None, self.generation
        # each species' stagnation clock too: its best fitness so far is on another task's
        # scale (Staged's next task is usually harder, its fitnesses lower)
        for s in self.species:
            s.best_fitness, s.last_improved = -math.inf, self.generation
        self._k = None  # its number of fitness functions too (cascading selection)
        evaluations_before = self.evaluations  # the attribute keeps the lifetime count

        def one(_):
            pop = self.population
            try:
                f = self.evaluate(fitness, executor, vectorized, repeats, on_error, chunk_size)
            except FitnessError:  # every genome was scored before the error was found
                self.evaluations += len(pop)
                raise
            self.evaluations += len(pop)
            champion = self.tell(f)
            extra = {}
            if f.ndim == 2:
                f, extra = f.mean(axis=1), {"objectives": f.max(axis=0).tolist()}
            record(history, f, **extra, species=len(self.species),
                   species_sizes={s.id: len(s.members) for s in self.species},
                   hidden=champion.n_hidden,
                   mean_hidden=float(np.mean([g.n_hidden for g in pop])),
                   connections=champion.n_enabled, threshold=self.threshold)
            if extra:
                fill_objectives(history)  # first generations that all failed: k values too
            return champion, champion.fitness

        ran, stopped, error = run_loop(one, generations, callbacks, stop, "NEAT.run", on_error)
        best = self.best
        if best is None:  # the first generation failed
            best = self.population[0]
        if self.selection == "cascading" and self.best is not None:
            fitness_value = self._best_mean  # (its fitness is a rank within its generation)
        else:
            fitness_value = -math.inf if best.fitness is None else float(best.fitness)
        return Result(best=best, best_fitness=fitness_value, generations=ran,
                      evaluations=self.evaluations - evaluations_before, history=history,
                      stopped=stopped, error=error)
