"""Phenotypes: NEAT genomes decoded into networks evaluated with array operations.

Following TensorNEAT (Wang et al. 2024), genomes of different topologies are
padded to one fixed shape: ``P`` genomes with at most ``N`` nodes become a
weight tensor ``W`` of shape ``(P, N, N)`` (``W[p, i, j]`` the weight of the
enabled connection ``i -> j`` of genome ``p``, 0 elsewhere), an activation
code per node and, for feed-forward genomes, a *level* per node (its longest
path from the inputs). A forward pass over a batch ``X`` of shape ``(n, in)``
is then, for each level ``l = 1 .. L``,

.. math::

    V \\leftarrow \\text{where}(\\text{level} = l,\\; f(V W),\\; V)

with ``V`` of shape ``(P, n, N)``: every genome's nodes of one level at
once, in topological order. A recurrent genome updates all its nodes
synchronously from the previous step's values (the fixed-step activation of
NEAT's recurrent networks).

Local node order in every genome: inputs, bias, outputs, hidden nodes.

Only real connections carry values: a missing or disabled connection, or one
of weight exactly 0, adds nothing to a node's sum even when its source is
NaN or infinite (where a padded product would give ``0 * inf = nan``), so a
non-finite input that a network does not read leaves its outputs alone, on
every path and batch size. (A connection of any other weight passes it on:
``w * inf``.) Outputs have the input's floating dtype (float32 in, float32
out); the sums run in float64, the genomes' precision.
"""

import operator

import numpy as np

from ..checks import boolean, positive_int
from . import _kernels, activations as _act
from .genome import GeneBlock, Genome

__all__ = ["Network", "PopulationNetwork", "batched_levels", "levels_of"]


def levels_of(genome):
    """``{node id: level}`` of a feed-forward genome (inputs and bias 0).

    A node's level is ``1 + max(level of its enabled in-nodes)`` (1 when it
    has none). Raises ValueError when the enabled connections form a cycle.
    """
    cached = genome._cache.get("levels")
    if cached is not None:
        return cached
    preds = {n.id: [] for n in genome.nodes}
    for c in genome.connections:
        if c.enabled:
            preds[c.dst].append(c.src)
    level = {}
    for n in genome.nodes:
        if n.kind in ("input", "bias"):
            level[n.id] = 0
    visiting = set()

    def visit(i):  # depth-first, iterative to survive deep chains
        stack = [(i, False)]
        while stack:
            node, done = stack.pop()
            if node in level:
                continue
            if done:
                visiting.discard(node)
                level[node] = 1 + max((level[p] for p in preds[node]), default=0)
                continue
            if node in visiting:
                raise ValueError(f"Genome {genome.id}: its enabled connections form a cycle "
                                 f"through node {node}; evaluate it with recurrent=True")
            visiting.add(node)
            stack.append((node, True))
            for p in preds[node]:
                if p not in level:
                    if p in visiting:
                        raise ValueError(f"Genome {genome.id}: its enabled connections form a "
                                         f"cycle through node {p}; evaluate it with "
                                         f"recurrent=True")
                    stack.append((p, False))

    for n in genome.nodes:
        visit(n.id)
    genome._cache["levels"] = level
    return level


def batched_levels(adjacency, counts, n_fixed, genomes=None):
    """Levels ``(P, N)`` of ``P`` padded feed-forward graphs at once.

    ``adjacency[p, i, j]`` is True for an enabled connection ``i -> j`` of graph
    ``p``; the first ``n_fixed`` nodes (inputs, bias) are level 0, every other
    real node (``j < counts[p]``) is ``max(1, 1 + max level of its in-nodes)``,
    padding 0. Iterates the longest-path relaxation until nothing changes; a
    level above ``N`` means a cycle (ValueError naming the genome).

    Examples
    --------
    >>> A = np.zeros((1, 4, 4), dtype=bool); A[0, 0, 3] = A[0, 3, 2] = True
    >>> batched_levels(A, np.array([4]), 2).tolist()
    [[0, 0, 2, 1]]
    """
    P, N, _ = adjacency.shape
    idx = np.arange(N)
    free = ((idx[None, :] >= n_fixed) & (idx[None, :] < counts[:, None])).astype(np.int32)
    into = adjacency & (idx >= n_fixed)  # nothing sets an input's or the bias's level
    level = free
    for _ in range(N + 1):
        new = np.maximum((into * (level[:, :, None] + 1)).max(axis=1), free)
        if (new == level).all():
            return level.astype(np.int64)
        level = new
    bad = int(np.flatnonzero(level.max(axis=1) > N)[0]) if (level > N).any() else 0
    gid = genomes[bad].id if genomes is not None else bad
    raise ValueError(f"Genome {gid}: its enabled connections form a cycle; evaluate it with "
                     f"recurrent=True")


#: batches of at most this many samples are summed edge by edge (see :func:`_propagate`)
EDGE_SUM_MAX = 4


def _propagate(WT, V, edges=None):
    """``WT @ V`` for stacks of small square matrices (pre-activations, node-major).

    Up to :data:`EDGE_SUM_MAX` samples (a control step, XOR's four) with ``edges``
    (:meth:`PopulationNetwork._finish`: each genome's connections sorted by destination,
    then source): every node's sum adds its incoming terms one by one in that order
    (``np.bincount``, per sample), so a genome's outputs do not depend on the genomes
    beside it. A padded product's rounding does (BLAS blocks the sum by the padded size):
    on a chaotic task one trial could end a step apart in another sub-population, as cut
    for an executor. For 150 genomes: 6.7 us against the product's 8.7 at one sample,
    32 against 20 at four (a NEAT generation on XOR spends ~0.1 ms there). Longer
    batches: NumPy's batched matmul hands each tiny product to BLAS, which is slow for a
    long batch axis; einsum's own loop is not.

    A NaN or infinite value in ``V`` would poison a padded product's every sum
    (``0 * inf = nan`` for the absent connections): with ``edges`` such a batch is
    summed over the real connections alone, in the same order.
    """
    P, N, n = V.shape
    if edges is not None and n <= EDGE_SUM_MAX:
        src, dst, w = edges
        if n == 1:
            return np.bincount(dst, V.reshape(-1)[src] * w, minlength=P * N).reshape(P, N, 1)
        flat = V.reshape(P * N, n)
        pre = np.empty((P * N, n))
        for s in range(n):
            pre[:, s] = np.bincount(dst, flat[src, s] * w, minlength=P * N)
        return pre.reshape(P, N, n)
    if n > 16:
        pre = np.einsum("pij,pjn->pin", WT, V)
        # pre[:, 0] (input 0's row) sums over every node of a sample's column, through
        # weight 0 where there is no connection: it is NaN or inf whenever that column of V
        # holds one (a check N times cheaper than V's; a finite overflow only costs the
        # exact sum below)
        if edges is None or np.isfinite(pre[:, 0, :]).all():
            return pre
    elif edges is None or np.isfinite(V).all():
        return WT @ V
    src, dst, w = edges
    pre = np.zeros((P * N, n))
    np.add.at(pre, dst, V.reshape(P * N, n)[src] * w[:, None])  # in edge order, as bincount
    return pre.reshape(P, N, n)


_DENSE = ("W", "codes", "level", "N", "steps", "_until", "n_levels", "_groups", "_WT",
          "_edges")


def _gather(records):
    """``(records, concatenated, offsets)`` of per-genome records (see :func:`_records`),
    or None when their numbers of inputs or outputs differ."""
    offsets = np.zeros(len(records) + 1, np.int64)
    if not records:
        return records, np.zeros(0), offsets
    flat = np.concatenate(records)
    if _kernels.get("neat_offsets")(flat, offsets) >= 0:
        return None
    return records, flat, offsets


def _records(genomes):
    """The compiled kernel's view of feed-forward ``genomes``, or None (NumPy path).

    Each genome carries a *record* (``_numba_kernels`` describes it: enabled
    connections in local node indices grouped by destination, a topological
    order), built for the genomes that lack one in one :func:`neat_pack` call
    and cached on the genome (handed on to children with the same genes).
    Returns None when the kernels are off or the genomes do not fit together
    (the NumPy path then names the problem).
    """
    pack = _kernels.get("neat_pack")
    if pack is None:
        return None
    try:
        recs = [g._cache.get("record") for g in genomes]
    except AttributeError:  # not a Genome
        return None
    g0 = genomes[0]
    n_in, n_out = g0.n_inputs, g0.n_outputs
    missing = [i for i, r in enumerate(recs) if r is None]
    if missing:
        sub = [genomes[i] for i in missing]
        if not all(isinstance(g, Genome) and g.n_inputs == n_in and g.n_outputs == n_out
                   for g in sub):
            return None
        nodes = [g.node_arrays() for g in sub]
        genes = [g.gene_arrays() for g in sub]
        m = len(sub)
        node_counts = np.fromiter((len(a[0]) for a in nodes), np.int64, m)
        gene_counts = np.fromiter((len(a[0]) for a in genes), np.int64, m)
        enabled = np.concatenate([a[4] for a in genes])
        src = np.concatenate([a[1] for a in genes])
        owner = np.repeat(np.arange(m), gene_counts)
        weight = _bias_scaled(np.concatenate([a[3] for a in genes]), src == n_in,
                              np.array([g.bias for g in sub], np.float64), owner)
        n_on = np.bincount(owner[enabled], minlength=m)
        offsets = np.zeros(m + 1, np.int64)
        np.cumsum(_HEADER + 3 * node_counts + 1 + 2 * n_on, out=offsets[1:])
        out = np.zeros(int(offsets[-1]))
        bad = pack(n_in, n_out, node_counts, np.concatenate([a[0] for a in nodes]),
                   np.concatenate([a[1] for a in nodes]), gene_counts,
                   src, np.concatenate([a[2] for a in genes]), weight, enabled, offsets, out)
        if bad >= 0:
            raise ValueError(f"Genome {sub[bad].id}: its enabled connections form a cycle; "
                             f"evaluate it with recurrent=True")
        out.flags.writeable = False
        ends = offsets.tolist()
        for j, (i, g) in enumerate(zip(missing, sub)):
            recs[i] = g._cache["record"] = out[ends[j]:ends[j + 1]]
    return _gather(recs)


_n_inputs = operator.attrgetter("n_inputs")
_n_outputs = operator.attrgetter("n_outputs")


def _packed(block, genomes):
    """The compiled kernel's view of a population's :class:`~.genome.GeneBlock` (one
    :func:`neat_pack_block` call over its arrays as they are), or None without the kernels."""
    pack = _kernels.get("neat_pack_block")
    if pack is None:
        return None
    g0 = genomes[0]
    n_in, n_out = getattr(g0, "n_inputs", None), getattr(g0, "n_outputs", None)
    try:  # (in C over the population: this runs at every evaluation)
        fits = block.io == (n_in, n_out) or (set(map(type, genomes)) == {Genome} or all(
            isinstance(g, Genome) for g in genomes)) and set(map(_n_inputs, genomes)) == {
            n_in} and set(map(_n_outputs, genomes)) == {n_out}
    except AttributeError:
        fits = False
    if not fits:
        return None  # (the NumPy path names the genome that does not fit)
    out, offsets, bad = pack(n_in, n_out, block.node_starts, block.node_ids, block.node_codes,
                             block.gene_starts, block.src, block.dst, block.weight,
                             block.enabled, block.bias)
    if bad >= 0:
        raise ValueError(f"Genome {genomes[bad].id}: its enabled connections form a "
                         f"cycle; evaluate it with recurrent=True")
    out.flags.writeable = False
    return None, out, offsets


def _record_list(fast):
    """The per-genome records of a compiled view (sliced out of the concatenation when it
    was packed from a block)."""
    records, flat, offsets = fast
    if records is None:
        ends = offsets.tolist()
        records = [flat[a:b] for a, b in zip(ends, ends[1:])]
    return records


def _bias_scaled(weights, from_bias, bias, owner):
    """``weights`` with those of connections from the bias node times their genome's bias
    value (``bias``, one per genome: :attr:`Genome.bias`): the phenotype's bias node stays 1,
    and ``w * b`` is the term a bias node of value ``b`` would add, bit for bit."""
    if (bias == 1.0).all():
        return weights
    return np.where(from_bias, weights * bias[owner], weights)


_HEADER = 5  # a record's header: n_inputs, n_outputs, n_nodes, n_edges, length


class PopulationNetwork:
    """A whole population of genomes as one padded network (evaluated together).

    Parameters
    ----------
    genomes : list of Genome
        Same ``n_inputs`` and ``n_outputs``.
    recurrent : bool, optional
        Default: True if any genome is recurrent.
    steps : int, optional
        Synchronous steps for a recurrent network called on a batch. Default: each
        genome's own number of non-input nodes, whatever other genomes share the batch
        (the output of a genome does not depend on its company).
    fast : bool, default False
        Feed-forward genomes with the compiled kernels (``rosenblatt[fast]``;
        without Numba, or with ``ROSENBLATT_NO_NUMBA=1``, the NumPy path runs):
        each genome's enabled connections in topological order (a *record*,
        cached on the genome), the whole population evaluated in one call,
        the padded arrays built only if read. Outputs equal the NumPy
        evaluation's to a few ulp, not bit for bit (sums in another order,
        libm's tanh): a NEAT run can then part from the NumPy run of its seed
        where two fitnesses tie to the last bit. The default keeps NumPy.
    genes : GeneBlock, optional
        The genes of exactly ``genomes``, row by row (:meth:`NEAT.genes
        <rosenblatt.evolution.neat.NEAT.genes>`): the phenotypes are then built
        from its arrays as they are (the compiled records packed in one call,
        nothing cached on the genomes; the padded arrays without gathering the
        genomes' arrays). The caller vouches that it is theirs.

    Attributes
    ----------
    size : int
        ``P``, the number of networks.
    W : ndarray (P, N, N)
    codes : ndarray (P, N) of activation codes
    level : ndarray (P, N) (feed-forward only)

    The control protocol of :class:`~rosenblatt.evolution.envs.CartPole`:
    :meth:`reset`, :meth:`step` (one decision per network), :meth:`keep`
    (drop networks whose trial ended) and :meth:`take` (repeat networks).
    """

    def __init__(self, genomes, recurrent=None, steps=None, fast=False, genes=None):
        genomes = list(genomes)
        if not genomes:
            raise ValueError("PopulationNetwork: got no genomes")
        if genes is not None and genes.size != len(genomes):
            raise ValueError(f"PopulationNetwork: genes holds {genes.size} genomes' genes; got "
                             f"{len(genomes)} genomes")
        self.size = len(genomes)
        self.state = None
        self._fast = None
        fast = boolean("PopulationNetwork", "fast", fast)  # ("false" would be truthy)
        if recurrent is not None:
            recurrent = boolean("PopulationNetwork", "recurrent", recurrent)
        if steps is not None:
            steps = positive_int("PopulationNetwork", "steps", steps)
        if fast and recurrent is None and all(isinstance(g, Genome) for g in genomes):
            recurrent = any(g.recurrent for g in genomes)
        if fast and recurrent is not None and not recurrent:
            # feed-forward with the compiled kernels: one record per genome (cached on the
            # genome), evaluated in one call; the padded arrays are built only if asked for
            if genes is not None:
                self._fast = _packed(genes, genomes)
            else:
                self._fast = _records(genomes)
            if self._fast is not None:
                g0 = genomes[0]
                self.n_inputs, self.n_outputs = g0.n_inputs, g0.n_outputs
                self.recurrent = False
                self._genomes, self._steps = genomes, steps
                return
        self._dense(genomes, recurrent, steps, genes)

    def __getattr__(self, name):
        # the padded arrays of a network built for the compiled kernels, on first use
        d = self.__dict__
        if name == "ids" and "_genomes" in d:
            ids = d["ids"] = [g.id for g in d["_genomes"]]
            return ids
        if name in _DENSE and "_genomes" in d and "W" not in d:
            self._dense(d["_genomes"], False, d["_steps"])
            return d[name]
        raise AttributeError(f"'PopulationNetwork' object has no attribute {name!r}")

    def _dense(self, genomes, recurrent, steps, block=None):
        """The padded arrays ``W``, ``codes``, ``level`` (the NumPy evaluation)."""
        if not all(isinstance(g, Genome) for g in genomes):
            g = next(g for g in genomes if not isinstance(g, Genome))
            raise TypeError(f"PopulationNetwork: expected Genomes; got {type(g).__name__}")
        g0 = genomes[0]
        self.n_inputs, self.n_outputs = g0.n_inputs, g0.n_outputs
        for g in genomes:
            if g.n_inputs != self.n_inputs or g.n_outputs != self.n_outputs:
                raise ValueError(f"PopulationNetwork: genome {g.id} has {g.n_inputs} inputs "
                                 f"and {g.n_outputs} outputs; genome {g0.id} has "
                                 f"{self.n_inputs} and {self.n_outputs}")
        self.recurrent = any(g.recurrent for g in genomes) if recurrent is None else bool(
            recurrent)
        P = len(genomes)
        if block is None:  # every genome's genes concatenated (NEAT hands its own over)
            block = GeneBlock.of(genomes)
        counts, lengths = block.node_counts(), block.gene_counts()
        node_codes, on, weight = block.node_codes, block.enabled, block.weight
        src, dst = block.local_src, block.local_dst
        N = int(counts.max())
        self.size, self.N = P, N
        owner = np.repeat(np.arange(P), counts)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        local_of_node = np.arange(len(owner)) - starts[owner]
        codes = np.full((P, N), _act.CODES["identity"], dtype=np.int64)
        codes[owner, local_of_node] = node_codes
        ep = np.repeat(np.arange(P), lengths)[on]
        src, dst, ew = src[on], dst[on], weight[on]
        ew = _bias_scaled(ew, src == self.n_inputs, block.bias, ep)
        flat = (ep * N + src) * N + dst
        W = np.bincount(flat, weights=ew, minlength=P * N * N).reshape(P, N, N)
        level = np.zeros((P, N), dtype=np.int64)
        if not self.recurrent:
            known = [g._cache.get("local_levels") for g in genomes]
            missing = [p for p, lv in enumerate(known) if lv is None]
            if missing:
                adjacency = np.zeros(P * N * N, dtype=bool)
                adjacency[flat] = True
                adjacency = adjacency.reshape(P, N, N)[missing]
                found = batched_levels(adjacency, counts[missing], self.n_inputs + 1,
                                       [genomes[p] for p in missing])
                found.flags.writeable = False
                for j, p in enumerate(missing):
                    known[p] = genomes[p]._cache["local_levels"] = found[j, :counts[p]]
            level[owner, local_of_node] = np.concatenate(known)
        else:  # every real non-input node updates each step: "level 1"
            idx = np.arange(N)
            level = ((idx[None, :] > self.n_inputs) & (idx[None, :] < counts[:, None])).astype(
                np.int64)
        self.W, self.codes, self.level = W, codes, level
        self.ids = [g.id for g in genomes]
        # a recurrent genome's synchronous steps are its own (its non-input nodes), whatever
        # genomes share the batch: each stops updating after its own count (``_until``)
        until = np.maximum(1, counts - (self.n_inputs + 1)) if steps is None else None
        self.steps = int(steps) if steps is not None else int(until.max())
        self._until = until if until is not None and (until < self.steps).any() else None
        self._finish()
        self.state = None

    def _finish(self):
        # for each level, the (genome, node) rows it updates grouped by activation: a level
        # computes every pre-activation with one product, then applies each function only
        # to its own rows
        self.n_levels = int(self.level.max()) if self.level.size else 0
        self._groups = []
        for lv in range(1, self.n_levels + 1):
            p_idx, j_idx = np.nonzero(self.level == lv)
            codes = self.codes[p_idx, j_idx]
            self._groups.append([(_act.ACTIVATIONS[_act.NAMES[c]], p_idx[codes == c],
                                  j_idx[codes == c]) for c in np.unique(codes)])
        # node-major state V (P, N, n): V <- W^T V is one matrix product per genome with
        # the long batch axis innermost
        self._WT = np.ascontiguousarray(self.W.transpose(0, 2, 1))
        # the same connections as a list (rows of V viewed as (P N, n)), by genome,
        # destination, then source: short batches sum over them in this fixed order (a
        # connection of weight exactly 0 is left out: it adds nothing to a finite sum)
        p, dst, src = np.nonzero(self._WT)
        self._edges = (p * self.N + src, p * self.N + dst, self._WT[p, dst, src])

    def _update(self, V, groups):
        pre = _propagate(self._WT, V, self._edges)
        for f, p_idx, j_idx in groups:
            V[p_idx, j_idx] = f(pre[p_idx, j_idx])
        return V

    def _inputs(self, X, P):
        """Node-major state (P, N, n) with the inputs and the bias filled in."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 2:
            X = np.broadcast_to(X, (P,) + X.shape)
        if X.ndim != 3 or X.shape[0] != P or X.shape[2] != self.n_inputs:
            raise ValueError(f"PopulationNetwork: inputs must have shape (n, {self.n_inputs}) "
                             f"or ({P}, n, {self.n_inputs}); got {X.shape}")
        V = np.zeros((P, self.N, X.shape[1]))
        V[:, :self.n_inputs, :] = X.transpose(0, 2, 1)
        V[:, self.n_inputs, :] = 1.0
        return V

    def _forward(self, X):
        """:meth:`__call__` with the compiled kernel (one call for the whole population)."""
        P = self.size
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 2:
            X = np.broadcast_to(X, (P,) + X.shape)
        if X.ndim != 3 or X.shape[0] != P or X.shape[2] != self.n_inputs:
            raise ValueError(f"PopulationNetwork: inputs must have shape (n, {self.n_inputs}) "
                             f"or ({P}, n, {self.n_inputs}); got {X.shape}")
        out = np.empty((P, X.shape[1], self.n_outputs))
        _, flat, offsets = self._fast
        _kernels.get("neat_forward")(flat, offsets, X, out)
        return out

    def _outputs(self, V):
        """(P, n, n_outputs) from a node-major state."""
        o = V[:, self.n_inputs + 1:self.n_inputs + 1 + self.n_outputs, :]
        return np.ascontiguousarray(o.transpose(0, 2, 1))

    def __call__(self, X):
        """Outputs ``(P, n, n_outputs)`` for inputs ``(n, n_inputs)`` or ``(P, n, n_inputs)``.

        Computed in float64; returned in ``X``'s floating dtype (float64 for
        anything else).
        """
        out = self._forward(X) if self._fast is not None else self._evaluate(X)
        return _like(out, X)

    def _evaluate(self, X):
        """:meth:`__call__` with NumPy, in float64."""
        V = self._inputs(X, self.size)
        if not self.recurrent:
            for groups in self._groups:  # levels in topological order
                V = self._update(V, groups)
            return self._outputs(V)
        if not self._groups:
            return self._outputs(V)
        for t in range(self.steps):  # synchronous: every node reads the previous step
            done = () if self._until is None else np.flatnonzero(self._until <= t)
            held = V[done] if len(done) else None  # genomes past their own steps keep V
            V = self._update(V, self._groups[0])
            if held is not None:
                V[done] = held
        return self._outputs(V)

    def compiled_records(self):
        """``(records, offsets)`` the compiled kernels read (concatenated records of the
        networks, where each starts), or None when the network runs on NumPy (``fast``
        off, recurrent, or the kernels unavailable)."""
        return None if self._fast is None else self._fast[1:]

    # -- control protocol -----------------------------------------------------------------
    def reset(self, population=None):
        """Clear recurrent state (one zero state per network)."""
        self.state = np.zeros((self.size, self.N, 1))

    def step(self, obs):
        """One decision per network: ``obs`` (P, n_inputs) -> actions (P, n_outputs).

        Returned in ``obs``'s floating dtype (float64 for anything else).
        """
        x = np.asarray(obs, dtype=np.float64)
        if x.shape != (self.size, self.n_inputs):
            raise ValueError(f"PopulationNetwork: inputs must have shape ({self.size}, "
                             f"{self.n_inputs}) for step (one observation per network); got "
                             f"{x.shape}")
        x = x[:, None, :]
        if not self.recurrent:
            return _like(self(x)[:, 0, :], obs)
        if self.state is None or self.state.shape[0] != self.size:
            self.reset()
        V = self.state
        k = self.n_inputs
        V[:, :k, 0] = x[:, 0, :]
        V[:, k, 0] = 1.0
        if self._groups:
            V = self._update(V, self._groups[0])
        self.state = V
        return _like(self._outputs(V)[:, 0, :], obs)

    def take(self, index):
        """A population network of the networks at ``index`` (repeats allowed), state reset."""
        index = np.asarray(index)
        if self._fast is not None:
            new = object.__new__(PopulationNetwork)
            keep = ("n_inputs", "n_outputs", "recurrent", "_steps")
            new.__dict__.update({k: self.__dict__[k] for k in keep})
            pick = index.tolist()
            new._genomes = [self._genomes[i] for i in pick]
            new._fast = _gather([_record_list(self._fast)[i] for i in pick])
            new.size, new.state = len(pick), None
            return new
        new = object.__new__(PopulationNetwork)
        new.__dict__.update(self.__dict__)
        new.W, new.codes, new.level = self.W[index], self.codes[index], self.level[index]
        new.ids = [self.ids[i] for i in index]
        new._until = None if self._until is None else self._until[index]
        new.size = len(index)
        new.state = None
        new._finish()
        return new

    def keep(self, mask):
        """Keep only the networks where ``mask`` is True (in place)."""
        mask = np.asarray(mask, dtype=bool)
        if self._fast is not None:
            for name in _DENSE + ("ids",):  # rebuilt from the kept genomes when asked for
                self.__dict__.pop(name, None)
            pick = np.flatnonzero(mask).tolist()
            self._genomes = [self._genomes[i] for i in pick]
            self._fast = _gather([_record_list(self._fast)[i] for i in pick])
            self.size = len(pick)
            return
        self.W, self.codes, self.level = self.W[mask], self.codes[mask], self.level[mask]
        self.ids = [i for i, k in zip(self.ids, mask) if k]
        self._until = None if self._until is None else self._until[mask]
        self.size = int(mask.sum())
        if self.state is not None:
            self.state = self.state[mask]
        self._finish()


_FLOAT64 = np.dtype(np.float64)


def _like(out, X):
    """``out`` (float64) in the floating dtype of the input ``X`` (float64 for any other)."""
    dtype = getattr(X, "dtype", None)
    if dtype is _FLOAT64 or dtype is None or dtype.kind != "f" or dtype == _FLOAT64:
        return out  # (the identity test first: float64, the usual case, costs nothing)
    return out.astype(dtype)


class Network:
    """The phenotype of one genome: ``net(X)`` maps ``(n, n_inputs)`` to ``(n, n_outputs)``.

    Outputs have the floating dtype of the inputs (float32 in, float32 out;
    the sums run in float64); other inputs give float64.

    Examples
    --------
    >>> import numpy as np
    >>> from rosenblatt.evolution.genome import Genome
    >>> g = Genome.minimal(0, 2, 1, weights=[1.0, 1.0, 0.0], activation="identity")
    >>> g.network()(np.array([[1.0, 2.0]]))
    array([[3.]])
    """

    def __init__(self, genome, recurrent=None, steps=None, fast=False):
        fast = boolean("Network", "fast", fast)
        if recurrent is not None:
            recurrent = boolean("Network", "recurrent", recurrent)
        self.genome = genome
        self._pop = PopulationNetwork([genome], recurrent=genome.recurrent if recurrent is None
                                      else recurrent, steps=steps, fast=fast)
        self.n_inputs, self.n_outputs = genome.n_inputs, genome.n_outputs
        self.size = 1

    def __call__(self, X):
        X = np.asarray(X)
        if X.dtype.kind != "f":
            X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"Network: inputs must have shape (n, {self.n_inputs}) (genome "
                             f"{self.genome.id}); got {X.shape}")
        return self._pop(X)[0]

    def compiled_records(self):
        """See :meth:`PopulationNetwork.compiled_records`."""
        return self._pop.compiled_records()

    def reset(self, population=None):
        self._pop.reset()

    def take(self, index):
        """A :class:`PopulationNetwork` of copies of this network (``index`` all zeros)."""
        return self._pop.take(index)

    def step(self, obs):
        """One activation step on ``obs`` (n_inputs,) or (1, n_inputs); keeps recurrent state."""
        obs = np.asarray(obs)
        if obs.dtype.kind != "f":
            obs = np.asarray(obs, dtype=np.float64)
        if obs.shape not in ((self.n_inputs,), (1, self.n_inputs)):
            raise ValueError(f"Network.step: inputs must have shape ({self.n_inputs},) or (1, "
                             f"{self.n_inputs}) (genome {self.genome.id}); got {obs.shape}")
        return self._pop.step(obs.reshape(1, -1))
