"""Pareto dominance, fronts and the quality of a front (notes: "Neuroevolution", MOEAs).

"When a solution is found where no objective can be further improved without
worsening another, the solution is said to be on the Pareto Front." Every
function here *minimises* every objective; a set of ``N`` points in ``M``
objectives is an array ``F`` of shape ``(N, M)``.

* :func:`pareto_front` - the indices of the non-dominated points.
* :func:`non_dominated_sort` - NSGA-II's fast non-dominated sorting: every
  point's front (rank 0 is the non-dominated set, rank 1 is non-dominated once
  rank 0 is removed, ...). For two objectives it is a sort and one sweep,
  O(N log N); otherwise the dominance matrix by broadcasting, peeled front by
  front.
* :func:`crowding_distance` - NSGA-II's density estimate inside a front.
* Quality of an obtained front: :func:`hypervolume` (exact, by slicing),
  :func:`igd`, and Deb et al.'s (2002) convergence :func:`convergence`
  (Upsilon) and spread :func:`spread` (Delta).

Notes
-----
``a`` dominates ``b`` (``a < b``) when ``a_m <= b_m`` for every objective and
``a_m < b_m`` for at least one; equal points do not dominate each other, so
duplicates share a front.

References
----------
Deb, K., Pratap, A., Agarwal, S. & Meyarivan, T. (2002). A fast and elitist
multiobjective genetic algorithm: NSGA-II. IEEE Trans. Evol. Comput. 6(2), 182-197.
"""

import bisect

import numpy as np

__all__ = ["convergence", "crowding_distance", "hypervolume", "igd", "non_dominated_sort",
           "pareto_front", "spread"]

_CHUNK = 1 << 22  # elements of a broadcast dominance block (bounds the memory of large sorts)


def _points(owner, name, F, allow_empty=False):
    """``F`` as a finite float array of shape (N, M), or a ValueError naming the owner."""
    F = np.asarray(F, dtype=np.float64)
    if F.ndim != 2 or F.shape[1] < 1 or (F.shape[0] == 0 and not allow_empty):
        raise ValueError(f"{owner}: {name} must have shape (n_points, n_objectives) with at "
                         f"least one point; got shape {F.shape}")
    if not np.isfinite(F).all():
        raise ValueError(f"{owner}: {name} must be finite; got NaN or inf")
    return F


def _dominance(A, B):
    """``D[i, j]``: ``A[i]`` dominates ``B[j]`` (broadcast in blocks of rows)."""
    D = np.empty((A.shape[0], B.shape[0]), dtype=bool)
    step = max(1, _CHUNK // max(1, B.shape[0] * A.shape[1]))
    for s in range(0, A.shape[0], step):
        a = A[s:s + step, None, :]
        D[s:s + step] = (a <= B[None]).all(-1) & (a < B[None]).any(-1)
    return D


def _unique_lex(F):
    """Distinct rows of a 2-objective ``F`` sorted by (f1, f2), and each point's row there."""
    order = np.lexsort((F[:, 1], F[:, 0]))
    s = F[order]
    new = np.ones(len(s), dtype=bool)
    new[1:] = (s[1:] != s[:-1]).any(axis=1)
    inverse = np.empty(len(F), dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    return s[new], inverse


def pareto_front(points):
    """Indices of the non-dominated points (every objective minimised).

    Parameters
    ----------
    points : array_like, shape (n_points, n_objectives)

    Returns
    -------
    ndarray of int
        Increasing indices of the points no other point dominates (duplicates
        of a non-dominated point are all returned).

    Examples
    --------
    >>> import rosenblatt as rb
    >>> rb.evolution.pareto_front([[1, 4], [2, 2], [3, 3], [4, 1], [2, 2]]).tolist()
    [0, 1, 3, 4]
    """
    F = _points("pareto_front", "points", points)
    if F.shape[1] == 1:
        return np.flatnonzero(F[:, 0] == F[:, 0].min())
    if F.shape[1] == 2:
        # Distinct points in (f1, f2) order: an earlier point with f2 <= this f2 dominates it.
        u, inverse = _unique_lex(F)
        best_before = np.minimum.accumulate(np.concatenate([[np.inf], u[:-1, 1]]))
        return np.flatnonzero((u[:, 1] < best_before)[inverse])
    dominated = np.zeros(len(F), dtype=bool)
    step = max(1, _CHUNK // (len(F) * F.shape[1]))
    for s in range(0, len(F), step):  # dominators in blocks: memory stays O(N), not O(N^2)
        dominated |= _dominance(F[s:s + step], F).any(axis=0)
    return np.flatnonzero(~dominated)


def _ranks_2d(F):
    """Front of each point for two objectives: a sort and one sweep with binary search.

    In (f1, f2) order an earlier point dominates a later distinct one iff its
    f2 is not larger. Each front, read in that order, has decreasing f2, so
    only its last member can dominate the next point, and the fronts' last f2
    values increase with the rank: the point joins the first front whose last
    f2 is larger than its own (Jensen 2003; O(N log N)).
    """
    u, inverse = _unique_lex(F)
    lasts, ranks = [], []
    search, rank = bisect.bisect_right, ranks.append  # (plain lists: ~1.5x faster than arrays)
    for f2 in u[:, 1].tolist():
        k = search(lasts, f2)
        if k == len(lasts):
            lasts.append(f2)
        else:
            lasts[k] = f2
        rank(k)
    return np.array(ranks, dtype=np.intp)[inverse]


def _ranks_matrix(F):
    """Front of each point from the dominance matrix (Deb et al.'s counts, vectorised)."""
    D = _dominance(F, F)
    count = D.sum(axis=0)  # how many points dominate each point
    ranks = np.full(len(F), -1, dtype=np.intp)
    current = np.flatnonzero(count == 0)
    k = 0
    while current.size:
        ranks[current] = k
        count = count - D[current].sum(axis=0)
        count[current] = -1
        current = np.flatnonzero(count == 0)
        k += 1
    return ranks


def non_dominated_sort(F, return_ranks=False):
    """NSGA-II's fast non-dominated sorting: the points split into fronts.

    Parameters
    ----------
    F : array_like, shape (n_points, n_objectives)
        Objective values, minimised.
    return_ranks : bool, default False
        Also return each point's rank (its front's index).

    Returns
    -------
    fronts : list of ndarray of int
        ``fronts[0]`` holds the non-dominated points, ``fronts[1]`` those
        non-dominated once ``fronts[0]`` is removed, and so on (indices
        increasing within a front).
    ranks : ndarray of int, shape (n_points,)
        Only with ``return_ranks``.

    Notes
    -----
    Deb et al. (2002) count for each point ``p`` the points dominating it
    (``n_p``) and collect the set it dominates (``S_p``); the points with
    ``n_p = 0`` form the first front, and removing a front decrements the counts
    of what it dominates. Here the dominance matrix is one broadcast
    comparison and each front one column sum: O(M N^2) work in a few array
    operations. With two objectives a sort and a sweep do it in O(N log N)
    (10,000 points in milliseconds).

    Examples
    --------
    >>> import rosenblatt as rb
    >>> fronts = rb.evolution.non_dominated_sort([[1, 4], [2, 2], [3, 3], [4, 1], [5, 5]])
    >>> [f.tolist() for f in fronts]
    [[0, 1, 3], [2], [4]]
    """
    F = _points("non_dominated_sort", "F", F)
    ranks = _ranks_2d(F) if F.shape[1] == 2 else _ranks_matrix(F)
    order = np.argsort(ranks, kind="stable")
    cuts = np.flatnonzero(np.diff(ranks[order])) + 1
    fronts = np.split(order, cuts)
    return (fronts, ranks) if return_ranks else fronts


def crowding_distance(F, ranks=None):
    """NSGA-II's crowding distance of each point within its front.

    Parameters
    ----------
    F : array_like, shape (n_points, n_objectives)
    ranks : array_like of int, shape (n_points,), optional
        Each point's front; distances are then measured among points of the
        same rank (all fronts at once). Default: ``F`` is one front.

    Returns
    -------
    ndarray, shape (n_points,)
        ``inf`` for the boundary points of each objective that is not constant
        over the front (and for a front of one point); 0 for a copy of an
        earlier point of the same front.

    Notes
    -----
    Along each objective ``m`` the points of a front are sorted; the two
    boundary points get an infinite distance and every other point ``i`` adds
    the normalised gap between its neighbours (Deb et al. 2002, Fig. 6):

    .. math:: d_i \\mathrel{+}= \\frac{f_m^{(i+1)} - f_m^{(i-1)}}{f_m^{\\max} - f_m^{\\min}}

    (nothing is added along an objective that is constant over the front, not
    even the boundary's ``inf``: every point there is both smallest and largest,
    and which one sorts first would be decided by index alone; pymoo does the
    same, while Deb's C program gives ``inf`` to the first and last by index).
    The sum is the paper's; pymoo divides it by the number of objectives.
    Ties are broken by index (a stable sort).

    Copies (points equal in every objective) are measured once: the formula
    runs over each front's distinct points, the first copy (by index) gets
    that distance and the later copies 0, as pymoo's ``filter_out_duplicates``
    does (the default of its ``calc_crowding_distance`` up to 0.5; pymoo 0.6's
    NSGA2 removes repeated decision vectors instead). Otherwise ``k`` copies
    of an extreme point would take the infinite distance at both ends of the
    ties (the first copy along one objective, the last along the other) and
    crowd distinct points out of NSGA-II's selection. A front made of one
    point repeated thus gives ``inf`` to its first copy and 0 to the others.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> rb.evolution.crowding_distance([[0, 4], [1, 2], [3, 1], [4, 0]]).tolist()
    [inf, 1.5, 1.25, inf]
    >>> rb.evolution.crowding_distance([[0, 1], [0, 1], [0.5, 0.5], [1, 0]]).tolist()
    [inf, 0.0, 2.0, inf]
    """
    F = _points("crowding_distance", "F", F, allow_empty=True)
    n, M = F.shape
    r = np.zeros(n, dtype=np.intp) if ranks is None else np.asarray(ranks).reshape(-1)
    if r.shape[0] != n:
        raise ValueError(f"crowding_distance: ranks must have one entry per point ({n}); got "
                         f"{r.shape[0]}")
    if r.dtype.kind not in "iub":  # a float or string rank would split fronts silently
        if r.dtype.kind != "f" or not np.all(np.isfinite(r)) or np.any(r != np.round(r)):
            raise ValueError(f"crowding_distance: ranks must be integers (front numbers, as "
                             f"non_dominated_sort gives); got dtype {r.dtype} "
                             f"{np.asarray(ranks).reshape(-1)[:4].tolist()}")
        r = r.astype(np.intp)
    d = np.zeros(n)
    if n == 0:
        return d
    order0 = np.lexsort((F[:, 0], r))  # the first objective's order; it also finds the copies
    copy = _copies(F, r, order0)
    if not copy.any():
        return _crowding(F, r, order0)
    keep = ~copy
    renumber = np.cumsum(keep) - 1  # a point's place among the distinct ones
    d[keep] = _crowding(F[keep], r[keep], renumber[order0[keep[order0]]])
    return d


def _copies(F, r, order):
    """``True`` for a point equal in every objective to an earlier point of its front.

    ``order`` sorts the points by front, then first objective (then index): copies lie in
    its runs of ties, where the other objectives are compared.
    """
    f, fr = F[order], r[order]
    tie = np.zeros(len(F), dtype=bool)
    tie[1:] = (fr[1:] == fr[:-1]) & (f[1:, 0] == f[:-1, 0])
    copy = np.zeros(len(F), dtype=bool)
    if not tie.any():
        return copy
    run = np.cumsum(~tie)  # each sorted place's run of ties
    sub = np.flatnonzero(tie | np.append(tie[1:], False))  # the places in runs of 2 or more
    o = np.lexsort((*f[sub, 1:].T[::-1], run[sub]))  # (stable: equal rows stay in index order)
    g, rest = run[sub][o], f[sub][o, 1:]
    same = (g[1:] == g[:-1]) & (rest[1:] == rest[:-1]).all(axis=1)
    copy[order[sub[o[1:][same]]]] = True
    return copy


def _crowding(F, r, order0):
    """Crowding distance of distinct points, every front at once: one sort per objective
    (``order0``, the sort by front and first objective, is given)."""
    n, M = F.shape
    # sorted by front first, every objective's order puts each front in the same places
    fr = r[order0]
    first = np.ones(n, dtype=bool)
    first[1:] = fr[1:] != fr[:-1]
    last = np.ones(n, dtype=bool)
    last[:-1] = first[1:]
    sizes = np.diff(np.append(np.flatnonzero(first), n))
    inner = np.flatnonzero(~(first | last))
    ends = first | last
    lone = np.repeat(sizes == 1, sizes)  # a front of one point: its own boundary
    d = np.zeros(n)
    for m in range(M):
        order = order0 if m == 0 else np.lexsort((F[:, m], r))  # (stable: ties by index)
        f = F[order, m]
        span = np.repeat(f[last] - f[first], sizes)  # the range of each one's front
        ok = span[inner] > 0
        gap = np.zeros(n)
        gap[inner[ok]] = (f[inner[ok] + 1] - f[inner[ok] - 1]) / span[inner][ok]
        # along an objective constant over the front the boundary points are only first
        # and last by index: no infinity there either (as pymoo)
        gap[ends & ((span > 0) | lone)] = np.inf
        d[order] += gap
    return d


def _hv2(F, ref):
    """Area dominated by 2-D points below ``ref`` (all points already strictly below it)."""
    u, _ = _unique_lex(F)
    best_before = np.minimum.accumulate(np.concatenate([[np.inf], u[:-1, 1]]))
    u = u[u[:, 1] < best_before]  # the non-dominated staircase, f1 up and f2 down
    widths = np.diff(np.append(u[:, 0], ref[0]))
    return float(np.sum(widths * (ref[1] - u[:, 1])))


def _hv(F, ref):
    """Exact hypervolume by slicing along the last objective (HSO, While et al. 2006)."""
    M = F.shape[1]
    if M == 1:
        return float(ref[0] - F[:, 0].min())
    if M == 2:
        return _hv2(F, ref)
    order = np.argsort(F[:, -1], kind="stable")
    F = F[order]
    z = np.append(F[:, -1], ref[-1])
    total = 0.0
    for i in range(len(F)):
        height = z[i + 1] - z[i]
        if height > 0:  # the slab [z_i, z_{i+1}) is covered by the points up to i
            total += height * _hv(F[:i + 1, :-1], ref[:-1])
    return total


def hypervolume(points, ref):
    """The volume dominated by ``points`` and bounded by the reference point ``ref``.

    Parameters
    ----------
    points : array_like, shape (n_points, n_objectives)
        Minimised objectives; points not strictly better than ``ref`` in every
        objective add nothing.
    ref : array_like, shape (n_objectives,)

    Returns
    -------
    float

    Notes
    -----
    Exact: in 2-D the staircase of the non-dominated points sorted by the
    first objective, ``sum_i (f1^(i+1) - f1^(i)) (r_2 - f2^(i))`` with
    ``f1^(n+1) = r_1``; in 3-D and above, slices along the last objective, each
    a 2-D (or lower) hypervolume: O(N^2 log N) in 3-D, exponential in the
    number of objectives beyond (use it up to 4 or 5 objectives).

    Examples
    --------
    >>> import rosenblatt as rb
    >>> rb.evolution.hypervolume([[1, 3], [2, 2], [3, 1]], ref=[4, 4])
    6.0
    """
    F = _points("hypervolume", "points", points, allow_empty=True)
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    if ref.shape[0] != F.shape[1] or not np.isfinite(ref).all():
        raise ValueError(f"hypervolume: ref must be a finite point with {F.shape[1]} "
                         f"objectives; got {ref.tolist()}")
    F = F[(F < ref).all(axis=1)]
    return 0.0 if len(F) == 0 else _hv(F, ref)


def _nearest(A, B):
    """For each row of ``A``, its Euclidean distance to the nearest row of ``B``."""
    out = np.empty(len(A))
    step = max(1, _CHUNK // max(1, len(B) * A.shape[1]))
    for s in range(0, len(A), step):
        diff = A[s:s + step, None, :] - B[None]
        out[s:s + step] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff).min(axis=1))
    return out


def _pair(owner, front, reference, names=("front", "reference")):
    a = _points(owner, names[0], front)
    b = _points(owner, names[1], reference)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{owner}: {names[0]} and {names[1]} must have the same number of "
                         f"objectives; got {a.shape[1]} and {b.shape[1]}")
    return a, b


def igd(front, reference):
    """Inverted generational distance: mean distance from each reference point to the front.

    Parameters
    ----------
    front : array_like, shape (n_points, n_objectives)
        The obtained solutions' objectives.
    reference : array_like, shape (n_reference, n_objectives)
        A dense sample of the true Pareto front.

    Returns
    -------
    float
        ``mean_r min_p ||r - p||`` (Euclidean): small only when the front is
        both close to the true front and covers all of it.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> rb.evolution.igd([[0.0, 1.0]], [[0.0, 1.0], [1.0, 1.0]])
    0.5
    """
    a, b = _pair("igd", front, reference)
    return float(_nearest(b, a).mean())


def convergence(front, true_front):
    """Deb et al.'s (2002) convergence metric Upsilon: mean distance to the true front.

    Parameters
    ----------
    front : array_like, shape (n_points, n_objectives)
        The obtained non-dominated solutions' objectives.
    true_front : array_like, shape (H, n_objectives)
        Uniformly spaced points of the Pareto-optimal front (the paper uses
        ``H = 500``; see ``problem.true_front(500)``).

    Returns
    -------
    float
        ``mean_p min_h ||p - h||``: 0 when every solution lies on the sampled front.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> rb.evolution.convergence([[0.0, 2.0]], [[0.0, 1.0], [1.0, 0.0]])
    1.0
    """
    a, b = _pair("convergence", front, true_front, ("front", "true_front"))
    return float(_nearest(a, b).mean())


def spread(front, true_front):
    """Deb et al.'s (2002) spread (diversity) metric Delta, for two objectives.

    Parameters
    ----------
    front : array_like, shape (n_points, 2)
        The obtained non-dominated solutions' objectives.
    true_front : array_like, shape (H, 2)
        Points of the Pareto-optimal front; only its two extreme points (the
        best in each objective) are used.

    Returns
    -------
    float
        0 for solutions evenly spaced from one extreme of the true front to
        the other; larger for gaps, clusters or missing extremes.

    Notes
    -----
    With the solutions sorted along the front (by the first objective),
    ``d_i`` the Euclidean distances between consecutive ones, ``d_mean``
    their mean and ``d_f``, ``d_l`` the distances from the true front's
    extreme points to the boundary solutions (Deb et al. 2002, eq. 1):

    .. math:: \\Delta = \\frac{d_f + d_l + \\sum_{i=1}^{N-1} |d_i - \\bar d|}
                             {d_f + d_l + (N - 1) \\bar d}

    A disconnected true front (ZDT3) counts its gaps as large ``d_i``, which is
    why the paper's values there are higher.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> round(rb.evolution.spread([[0, 1], [0.5, 0.5], [1, 0]], [[0, 1], [1, 0]]), 6)
    0.0
    """
    a, b = _pair("spread", front, true_front, ("front", "true_front"))
    if a.shape[1] != 2:
        raise ValueError(f"spread: Delta is defined for two objectives; got {a.shape[1]}")
    a = a[np.lexsort((-a[:, 1], a[:, 0]))]
    first = b[np.lexsort((b[:, 1], b[:, 0]))[0]]   # the true front's best f1
    last = b[np.lexsort((b[:, 0], b[:, 1]))[0]]    # ... and best f2
    d_f = float(np.linalg.norm(a[0] - first))
    d_l = float(np.linalg.norm(a[-1] - last))
    d = np.linalg.norm(np.diff(a, axis=0), axis=1)
    mean = d.mean() if d.size else 0.0
    den = d_f + d_l + d.size * mean
    if den == 0:
        return 0.0
    return float((d_f + d_l + np.abs(d - mean).sum()) / den)
