"""Numba kernels of the neuroevolution layer (the optional ``fast`` extra).

Imported only through :mod:`rosenblatt.evolution._kernels`, which returns None
(the NumPy path runs) when Numba is absent, ``ROSENBLATT_NO_NUMBA=1`` is set
or :func:`rosenblatt.autodiff._kernels.use_numba(False)` was called. Every
kernel compiles on its first call with ``cache=True``.

* :func:`neat_pack` / :func:`neat_forward`: NEAT phenotypes of a whole
  population. ``neat_pack`` turns the concatenated genes of many genomes into
  one *record* per genome (enabled connections in local node indices, grouped
  by destination, and a topological order of the nodes: Kahn's algorithm;
  :func:`neat_pack_block` reads a population's gene block as it is);
  ``neat_forward`` evaluates all records on a batch in one call, node by node
  in topological order, the samples innermost. Their NumPy twin is the padded
  level-by-level evaluation of :class:`~rosenblatt.evolution.network.PopulationNetwork`
  (tests/evolution/test_kernels.py, to 1e-6; sums are taken in another order,
  so results differ in the last bits).
* :func:`mlp_forward`: one Dense layer of a population of networks with its
  activation fused, for :func:`~rosenblatt.evolution.cne.population_forward`.

A record (float64, integers stored exactly) is::

    [n_inputs, n_outputs, n_nodes, n_edges, length,
     codes (n_nodes), order (n_nodes), in_start (n_nodes + 1),
     src (n_edges), weight (n_edges)]

with ``in_start`` the CSR offsets of each node's incoming connections.
"""

import math

import numba
import numba.extending
import numpy as np

from ..autodiff._numba_kernels import wide_vectors
from .activations import NAMES

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")

# the activation codes of activations.NAMES, as the kernels number them
_ORDER = ("steep_sigmoid", "sigmoid", "tanh", "sine", "gaussian", "abs", "identity", "step",
          "relu")
if NAMES != _ORDER:  # pragma: no cover - a guard for whoever reorders activations.ACTIVATIONS
    raise ImportError("rosenblatt.evolution._numba_kernels: activation codes changed; update "
                      "_ORDER and _activate")

HEADER = 5


@numba.njit(cache=True, inline="always")
def _sections(nn, ne):
    """Where a record's codes, order, in_start, src and weight sections begin."""
    o_at = HEADER + nn
    s_at = o_at + nn
    e_at = s_at + nn + 1
    return HEADER, o_at, s_at, e_at, e_at + ne


@numba.njit(cache=True, inline="always")
def _activate(code, x):
    # activations.py's formulas, with libm's tanh (NumPy's differs in the last bit of ~20%
    # of values): 1 / (1 + exp(-a x)) would round differently near 0 and 1, where NEAT's
    # saturated outputs tie
    if code == 0:
        return 0.5 * (1.0 + math.tanh(2.45 * x))
    if code == 1:
        return 0.5 * (1.0 + math.tanh(0.5 * x))
    if code == 2:
        return math.tanh(x)
    if code == 3:
        return math.sin(x)
    if code == 4:
        return math.exp(-min(x * x, 700.0))
    if code == 5:
        return abs(x)
    if code == 6:
        return x
    if code == 7:
        return 1.0 if x > 0 else 0.0
    return max(x, 0.0)


@_jit
def neat_pack(n_inputs, n_outputs, node_counts, ids, codes, gene_counts, src, dst, weight,
              enabled, offsets, out):
    """Write one record per genome into ``out`` (at ``offsets[p]``); ``offsets[P]`` is the end.

    ``ids``/``codes`` are the genomes' node genes concatenated (ids sorted within
    a genome), ``src``/``dst``/``weight``/``enabled`` their connection genes.
    Returns -1, or the index of the first genome whose enabled connections form
    a cycle. Connections into an input or the bias are ignored (nothing sets them).
    """
    P = node_counts.shape[0]
    fixed = n_inputs + 1
    big_n = 1
    big_g = 1
    for p in range(P):
        big_n = max(big_n, node_counts[p])
        big_g = max(big_g, gene_counts[p])
    # scratch, allocated once: local ends of the enabled genes, degrees, CSR offsets, queue
    ls = np.empty(big_g, np.int64)
    ld = np.empty(big_g, np.int64)
    w_of = np.empty(big_g, np.float64)
    indeg = np.empty(big_n, np.int64)
    outdeg = np.empty(big_n, np.int64)
    fill = np.empty(big_n + 1, np.int64)
    ostart = np.empty(big_n + 1, np.int64)
    nxt = np.empty(big_g, np.int64)
    queue = np.empty(big_n, np.int64)
    n0 = 0
    g0 = 0
    for p in range(P):
        nn = node_counts[p]
        ng = gene_counts[p]
        node_ids = ids[n0:n0 + nn]
        for i in range(nn):
            indeg[i] = 0
            outdeg[i] = 0
        ne = 0
        for k in range(ng):
            if not enabled[g0 + k]:
                continue
            d = np.searchsorted(node_ids, dst[g0 + k])
            if d < fixed:
                continue
            s = np.searchsorted(node_ids, src[g0 + k])
            ls[ne] = s
            ld[ne] = d
            w_of[ne] = weight[g0 + k]
            ne += 1
            indeg[d] += 1
            outdeg[s] += 1
        base = offsets[p]
        rec = out[base:offsets[p + 1]]
        rec[0] = n_inputs
        rec[1] = n_outputs
        rec[2] = nn
        rec[3] = ne
        rec[4] = offsets[p + 1] - base
        c_at, o_at, s_at, e_at, w_at = _sections(nn, ne)
        for i in range(nn):
            rec[c_at + i] = codes[n0 + i]
        # incoming connections grouped by destination, in gene order (a stable counting
        # sort), and outgoing ones for Kahn's algorithm
        fill[0] = 0
        ostart[0] = 0
        for i in range(nn):
            rec[s_at + i] = fill[i]
            fill[i + 1] = fill[i] + indeg[i]
            ostart[i + 1] = ostart[i] + outdeg[i]
        rec[s_at + nn] = fill[nn]
        for e in range(ne):
            d = ld[e]
            at = int(rec[s_at + d]) + (fill[d + 1] - fill[d] - indeg[d])
            indeg[d] -= 1
            rec[e_at + at] = ls[e]
            rec[w_at + at] = w_of[e]
            s = ls[e]
            nxt[ostart[s + 1] - outdeg[s]] = d
            outdeg[s] -= 1
        for i in range(nn):  # the in-degrees again (counted down above)
            indeg[i] = fill[i + 1] - fill[i]
        tail = 0
        for i in range(nn):
            if indeg[i] == 0:
                queue[tail] = i
                tail += 1
        head = 0
        while head < tail:
            u = queue[head]
            head += 1
            for e in range(ostart[u], ostart[u + 1]):
                v = nxt[e]
                indeg[v] -= 1
                if indeg[v] == 0:
                    queue[tail] = v
                    tail += 1
        if tail < nn:
            return p
        for i in range(nn):
            rec[o_at + i] = queue[i]
        n0 += nn
        g0 += ng
    return -1


@_jit
def neat_pack_block(n_inputs, n_outputs, node_starts, ids, codes, gene_starts, src, dst, weight,
                    enabled, bias):
    """:func:`neat_pack` of a population's :class:`~rosenblatt.evolution.genome.GeneBlock`
    as it is (rows given by their starts), with the weights of connections from the bias
    times each genome's ``bias``. Returns ``(records, offsets, bad)``: ``bad`` as
    :func:`neat_pack` returns it."""
    P = node_starts.shape[0] - 1
    node_counts = np.empty(P, np.int64)
    gene_counts = np.empty(P, np.int64)
    offsets = np.empty(P + 1, np.int64)
    offsets[0] = 0
    scaled = False
    for p in range(P):
        node_counts[p] = node_starts[p + 1] - node_starts[p]
        gene_counts[p] = gene_starts[p + 1] - gene_starts[p]
        on = 0
        for k in range(gene_starts[p], gene_starts[p + 1]):
            if enabled[k]:
                on += 1
        offsets[p + 1] = offsets[p] + HEADER + 3 * node_counts[p] + 1 + 2 * on
        if bias[p] != 1.0:
            scaled = True
    w = weight
    if scaled:  # w b: the term a bias node of value b adds, bit for bit
        w = weight.copy()
        for p in range(P):
            for k in range(gene_starts[p], gene_starts[p + 1]):
                if src[k] == n_inputs:
                    w[k] = weight[k] * bias[p]
    out = np.zeros(offsets[P])
    bad = neat_pack(n_inputs, n_outputs, node_counts, ids, codes, gene_counts, src, dst, w,
                    enabled, offsets, out)
    return out, offsets, bad


@_jit
def neat_offsets(records, offsets):
    """Where each record of the concatenated ``records`` starts (into ``offsets``, P + 1).
    Returns -1, or the first record whose inputs or outputs differ in number from the
    first's."""
    P = offsets.shape[0] - 1
    at = 0
    for p in range(P):
        offsets[p] = at
        if records[at] != records[0] or records[at + 1] != records[1]:
            return p
        at += int(records[at + 4])
    offsets[P] = at
    return -1


@_jit
def neat_forward(records, offsets, X, out):
    """Outputs of every record on its batch: ``X`` (P, n, n_inputs) (a broadcast view is
    fine), ``out`` (P, n, n_outputs); ``offsets`` from :func:`neat_offsets`. A connection
    of weight 0 is skipped (a non-finite source adds nothing through it, as in NumPy)."""
    P, n, _ = out.shape
    n_in = int(records[0])
    n_out = int(records[1])
    widest = 0
    for p in range(P):
        widest = max(widest, int(records[offsets[p] + 2]))
    V = np.empty((widest, n))
    acc = np.empty(n)
    for p in range(P):
        rec = records[offsets[p]:offsets[p + 1]]
        nn = int(rec[2])
        ne = int(rec[3])
        c_at, o_at, s_at, e_at, w_at = _sections(nn, ne)
        for i in range(n_in):
            for s in range(n):
                V[i, s] = X[p, s, i]
        for s in range(n):
            V[n_in, s] = 1.0
        for t in range(nn):
            u = int(rec[o_at + t])
            if u <= n_in:
                continue
            for s in range(n):
                acc[s] = 0.0
            for e in range(int(rec[s_at + u]), int(rec[s_at + u + 1])):
                w = rec[w_at + e]
                if w == 0.0:  # adds nothing, also from a NaN or inf source (the NumPy path)
                    continue
                src = int(rec[e_at + e])
                for s in range(n):
                    acc[s] += w * V[src, s]
            code = int(rec[c_at + u])
            for s in range(n):
                V[u, s] = _activate(code, acc[s])
        for o in range(n_out):
            for s in range(n):
                out[p, s, o] = V[n_in + 1 + o, s]


# -- CNE: a population of fixed MLPs -----------------------------------------------------------

_FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}
_fast_jit = numba.njit(cache=True, fastmath=_FAST, nogil=True, error_model="numpy")
IDENTITY, TANH, SIGMOID, RELU = 0, 1, 2, 3


# tanh(x) ~ x P(x^2) / Q(x^2), x clamped to +-TANH_C[0]: a [7/8] minimax rational (fitted by
# the differential-correction algorithm, a linear program per step, on a dense grid of
# [0, 7.95] with the clamp's tail, 1 - P/Q at the clamp, as one more point): absolute error
# below 1.8e-7 (tests/evolution/test_evolution_kernels.py). Nine multiply-adds and a division
# per value, where the [13/6] rational of autodiff's tanh32 took eleven: on a 4-16-1 network
# the tanh's multiply-adds outnumber the layers' ones two to one. Layout: (clamp, p0, p1, p2,
# p3, q1, q2, q3, q4), q0 = 1.
TANH_C = (7.95, 0.9999994971309641, 0.12915284106692446, 0.002940308518447313,
          1.1319584874900225e-05, 0.462484146755661, 0.02377064312644132,
          0.00023719936652366393, 2.425481077030026e-07)
# read by mlp_forward into the tuple it passes down. Numba freezes a global array into the
# compiled code, so LLVM sees constants either way; what keeps them in registers across the
# sample loops is reading them once per call into that tuple (see tanh_rational)
_TANH_C = np.array(TANH_C)


@numba.njit(cache=True, fastmath=_FAST, inline="always", error_model="numpy")
def tanh_rational(x, c):
    """tanh within 1.8e-7 (NaN stays NaN), ``c`` = :data:`TANH_C`; it vectorises (libm's
    tanh does not). The kernels take ``c`` as an argument rather than as constants: numba's
    code model reloads constants from memory inside a loop, arguments stay in registers."""
    hi, p0, p1, p2, p3, q1, q2, q3, q4 = c
    x = hi if x > hi else x
    x = -hi if x < -hi else x
    t = x * x
    p = ((p3 * t + p2) * t + p1) * t + p0
    q = (((q4 * t + q3) * t + q2) * t + q1) * t + _like(hi, 1.0)
    return x * p / q


def _like(x, value):
    """``value`` as a float of the precision of ``x`` (a float or an array of floats);
    compiled, float32 for float32, so that a literal does not turn float32 arithmetic into
    float64."""
    return float(value)


@numba.extending.overload(_like, inline="always")
def _like_compiled(x, value):
    kind = x.dtype if isinstance(x, numba.types.Array) else x
    if isinstance(kind, numba.types.Float) and kind.bitwidth == 32:
        return lambda x, value: np.float32(value)
    return lambda x, value: np.float64(value)


@_fast_jit
def _dense_rows(A, th, k, m, w_at, b_at, code, B, c):
    """:func:`_rows` with ``code`` a constant in each of four inlined copies (LLVM then
    optimises each on its own: ~1.5x faster than one copy with a run-time ``code``)."""
    if code == TANH:
        _rows(A, th, k, m, w_at, b_at, TANH, B, c)
    elif code == SIGMOID:
        _rows(A, th, k, m, w_at, b_at, SIGMOID, B, c)
    elif code == RELU:
        _rows(A, th, k, m, w_at, b_at, RELU, B, c)
    else:
        _rows(A, th, k, m, w_at, b_at, IDENTITY, B, c)


@numba.njit(cache=True, fastmath=_FAST, inline="always", error_model="numpy")
def _rows(A, th, k, m, w_at, b_at, code, B, c):
    """B[j, :] = act(b_j + sum_i W[i, j] A[i, :]) for one network: W (k, m) row-major at
    ``th[w_at:]``, b at ``th[b_at:]`` (none when ``b_at < 0``); four inputs per pass over
    the samples, the activation in the last pass (one loop per activation: a switch inside
    the loop would stop it vectorising). With at most four inputs there is one pass, the
    bias added in it (no pass that only writes the bias). Every constant in the arrays'
    dtype (``c``'s): float32 networks compute in float32, twice float64's lanes a vector."""
    wide_vectors()
    n = A.shape[1]
    zero, half = _like(c[0], 0.0), _like(c[0], 0.5)
    j = 0
    while k <= 4 and j + 1 < m:  # two units per pass: half the loops to enter
        # (their set-up and alias checks cost ~10% of a 4-16-1 network on 256 samples)
        b = th[b_at + j] if b_at >= 0 else zero
        e = th[b_at + j + 1] if b_at >= 0 else zero
        je = j + 1
        w0 = th[w_at + j]
        v0 = th[w_at + j + 1]
        w1 = th[w_at + m + j] if k > 1 else zero
        v1 = th[w_at + m + j + 1] if k > 1 else zero
        w2 = th[w_at + 2 * m + j] if k > 2 else zero
        v2 = th[w_at + 2 * m + j + 1] if k > 2 else zero
        w3 = th[w_at + 3 * m + j] if k > 3 else zero
        v3 = th[w_at + 3 * m + j + 1] if k > 3 else zero
        i1 = 1 if k > 1 else 0
        i2 = 2 if k > 2 else 0
        i3 = 3 if k > 3 else 0
        if code == TANH:
            for s in range(n):
                a0, a1, a2, a3 = A[0, s], A[i1, s], A[i2, s], A[i3, s]
                B[j, s] = tanh_rational(b + w0 * a0 + w1 * a1 + w2 * a2 + w3 * a3, c)
                B[je, s] = tanh_rational(e + v0 * a0 + v1 * a1 + v2 * a2 + v3 * a3, c)
        elif code == SIGMOID:
            for s in range(n):
                a0, a1, a2, a3 = A[0, s], A[i1, s], A[i2, s], A[i3, s]
                B[j, s] = half + half * tanh_rational(half * (b + w0 * a0 + w1 * a1 + w2 * a2
                                                         + w3 * a3), c)
                B[je, s] = half + half * tanh_rational(half * (e + v0 * a0 + v1 * a1 + v2 * a2
                                                         + v3 * a3), c)
        elif code == RELU:
            for s in range(n):
                a0, a1, a2, a3 = A[0, s], A[i1, s], A[i2, s], A[i3, s]
                B[j, s] = max(b + w0 * a0 + w1 * a1 + w2 * a2 + w3 * a3, zero)
                B[je, s] = max(e + v0 * a0 + v1 * a1 + v2 * a2 + v3 * a3, zero)
        else:
            for s in range(n):
                a0, a1, a2, a3 = A[0, s], A[i1, s], A[i2, s], A[i3, s]
                B[j, s] = b + w0 * a0 + w1 * a1 + w2 * a2 + w3 * a3
                B[je, s] = e + v0 * a0 + v1 * a1 + v2 * a2 + v3 * a3
        j += 2
    while j < m:
        b = th[b_at + j] if b_at >= 0 else zero
        if k > 4:
            for s in range(n):
                B[j, s] = b
        i = 0
        while True:
            left = k - i
            w0 = th[w_at + i * m + j] if left > 0 else zero
            w1 = th[w_at + (i + 1) * m + j] if left > 1 else zero
            w2 = th[w_at + (i + 2) * m + j] if left > 2 else zero
            w3 = th[w_at + (i + 3) * m + j] if left > 3 else zero
            i0 = i if left > 0 else 0  # zero weights pad the last pass
            i1 = i + 1 if left > 1 else 0
            i2 = i + 2 if left > 2 else 0
            i3 = i + 3 if left > 3 else 0
            i += 4
            if left > 4:
                for s in range(n):
                    B[j, s] += w0 * A[i0, s] + w1 * A[i1, s] + w2 * A[i2, s] + w3 * A[i3, s]
                continue
            if k <= 4:  # one pass: the bias in it (the activation spelt out in each loop:
                # a helper with the switch, even on a constant code, slows it down)
                if code == TANH:
                    for s in range(n):
                        B[j, s] = tanh_rational(b + w0 * A[i0, s] + w1 * A[i1, s] + w2 * A[i2, s]
                                              + w3 * A[i3, s], c)
                elif code == SIGMOID:
                    for s in range(n):
                        B[j, s] = half + half * tanh_rational(half * (
                            b + w0 * A[i0, s] + w1 * A[i1, s] + w2 * A[i2, s] + w3 * A[i3, s]), c)
                elif code == RELU:
                    for s in range(n):
                        B[j, s] = max(b + w0 * A[i0, s] + w1 * A[i1, s] + w2 * A[i2, s]
                                      + w3 * A[i3, s], zero)
                else:
                    for s in range(n):
                        B[j, s] = b + w0 * A[i0, s] + w1 * A[i1, s] + w2 * A[i2, s] + w3 * A[i3, s]
            elif code == TANH:
                for s in range(n):
                    B[j, s] = tanh_rational(B[j, s] + w0 * A[i0, s] + w1 * A[i1, s] + w2 * A[i2, s]
                                          + w3 * A[i3, s], c)
            elif code == SIGMOID:
                for s in range(n):
                    B[j, s] = half + half * tanh_rational(half * (
                        B[j, s] + w0 * A[i0, s] + w1 * A[i1, s] + w2 * A[i2, s] + w3 * A[i3, s]), c)
            elif code == RELU:
                for s in range(n):
                    B[j, s] = max(B[j, s] + w0 * A[i0, s] + w1 * A[i1, s] + w2 * A[i2, s]
                                  + w3 * A[i3, s], zero)
            else:
                for s in range(n):
                    B[j, s] += w0 * A[i0, s] + w1 * A[i1, s] + w2 * A[i2, s] + w3 * A[i3, s]
            break
        j += 1


@_fast_jit
def mlp_forward(X, thetas, plan, out):
    """A population of MLPs: ``out[p]`` (n, sizes[-1]) of network ``p`` (row ``p`` of
    ``thetas``, C-contiguous) on ``X[p]`` or, when ``X`` has one row, ``X[0]`` (X: (1 or P,
    n, sizes[0]), C-contiguous). ``plan`` (4, L + 1) int64: ``sizes``, then per layer ``l``
    (mapping ``sizes[l]`` to ``sizes[l + 1]`` features) the offset of its weights, of its bias
    (-1: none) and its activation (IDENTITY, TANH, SIGMOID, RELU). The samples are innermost
    (vectorised, at 512 bits where the processor has them); each network's activations stay
    in two (widest, n) buffers. Threads run it on blocks of networks (``thetas[a:b]``,
    ``out[a:b]``): each network's arithmetic is the same, so the outputs are bit for bit
    those of one call."""
    wide_vectors()
    n = X.shape[1]
    L = plan.shape[1] - 1
    widest = 1
    for layer in range(L + 1):
        widest = max(widest, plan[0, layer])
    buf_a = np.empty((widest, n), thetas.dtype)
    buf_b = np.empty((widest, n), thetas.dtype)
    XT = np.empty((plan[0, 0], n), thetas.dtype)  # the inputs transposed: samples innermost
    w = thetas  # the constants in the networks' dtype
    c = (_like(w, _TANH_C[0]), _like(w, _TANH_C[1]), _like(w, _TANH_C[2]),
         _like(w, _TANH_C[3]), _like(w, _TANH_C[4]), _like(w, _TANH_C[5]),
         _like(w, _TANH_C[6]), _like(w, _TANH_C[7]), _like(w, _TANH_C[8]))
    shared = X.shape[0] == 1
    for p in range(thetas.shape[0]):
        if p == 0 or not shared:
            Xp = X[0] if shared else X[p]
            for i in range(plan[0, 0]):
                for s in range(n):
                    XT[i, s] = Xp[s, i]
        th = thetas[p]
        A = XT
        for layer in range(L):
            B = buf_a if layer % 2 == 0 else buf_b
            _dense_rows(A, th, plan[0, layer], plan[0, layer + 1], plan[1, layer],
                        plan[2, layer], plan[3, layer], B, c)
            A = B
        for j in range(plan[0, L]):
            for s in range(n):
                out[p, s, j] = A[j, s]


# -- NEAT speciation -----------------------------------------------------------------------------

@_jit
def compat_distances(innov, weight, offsets, P, c1, c2, c3, normalize_below, out):
    """``out[a, b]``: NEAT's compatibility distance of genome ``a < P`` to genome ``P + b``
    (genes ``offsets[g]:offsets[g + 1]`` of the concatenated ``innov`` (sorted within a
    genome) and ``weight``); each pair's genes walked once in innovation order.
    ``delta = c1 E / N + c2 D / N + c3 W-bar`` as :func:`~rosenblatt.evolution.neat.distance_matrix`
    (N the larger gene count, 1 below ``normalize_below``; no genome empty)."""
    S = out.shape[1]
    for a in range(P):
        a0 = offsets[a]
        a1 = offsets[a + 1]
        for b in range(S):
            b0 = offsets[P + b]
            b1 = offsets[P + b + 1]
            i = a0
            j = b0
            matching = 0
            wdiff = 0.0
            while i < a1 and j < b1:
                x = innov[i]
                y = innov[j]
                if x == y:
                    matching += 1
                    wdiff += abs(weight[i] - weight[j])
                    i += 1
                    j += 1
                elif x < y:
                    i += 1
                else:
                    j += 1
            na = a1 - a0
            nb = b1 - b0
            excess = (a1 - i) + (b1 - j)  # the genes past the other genome's last one
            disjoint = na + nb - 2 * matching - excess
            big = max(na, nb)
            if big < normalize_below:
                big = 1
            d = c1 * excess / big + c2 * disjoint / big
            if matching > 0:
                d += c3 * (wdiff / matching)
            out[a, b] = d
