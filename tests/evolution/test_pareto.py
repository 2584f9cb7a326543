"""Pareto sorting, crowding and front metrics: hand-worked sets and pymoo on random sets."""

import itertools

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution import pareto, problems

ev = rb.evolution


def brute_dominates(a, b):
    return bool(np.all(a <= b) and np.any(a < b))


def brute_ranks(F):
    """Peel fronts by the definition (O(N^3), for checking)."""
    left, ranks, k = set(range(len(F))), np.full(len(F), -1), 0
    while left:
        front = [i for i in left if not any(brute_dominates(F[j], F[i]) for j in left)]
        ranks[front] = k
        left -= set(front)
        k += 1
    return ranks


def fronts_as_ranks(fronts, n):
    r = np.full(n, -1)
    for k, f in enumerate(fronts):
        r[f] = k
    return r


# -- pareto_front and non_dominated_sort ------------------------------------------------------

def test_pareto_front_hand_worked():
    F = [[1, 4], [2, 2], [3, 3], [4, 1], [2, 2], [1, 5]]
    # (3,3) is dominated by (2,2); (1,5) by (1,4); the duplicate (2,2) stays
    assert ev.pareto_front(F).tolist() == [0, 1, 3, 4]
    assert ev.pareto_front([[1, 2, 3], [2, 1, 3], [1, 2, 4], [0, 5, 5]]).tolist() == [0, 1, 3]
    assert ev.pareto_front([[3.0], [1.0], [1.0]]).tolist() == [1, 2]


def test_non_dominated_sort_hand_worked():
    F = [[1, 4], [2, 2], [3, 3], [4, 1], [5, 5], [2, 2], [3, 4]]
    fronts, ranks = ev.non_dominated_sort(F, return_ranks=True)
    assert [f.tolist() for f in fronts] == [[0, 1, 3, 5], [2], [6], [4]]
    assert ranks.tolist() == [0, 0, 1, 0, 3, 0, 2]
    # three objectives go through the dominance matrix
    F3 = [[1, 1, 1], [2, 2, 2], [0, 3, 3], [3, 3, 3], [1, 1, 1]]
    assert [f.tolist() for f in ev.non_dominated_sort(F3)] == [[0, 2, 4], [1], [3]]


@pytest.mark.parametrize("M", [2, 3, 4])
def test_sorting_matches_the_definition_with_ties(M):
    rng = np.random.default_rng(M)
    F = rng.integers(0, 5, size=(60, M)).astype(float)  # many ties and duplicates
    ranks = ev.non_dominated_sort(F, return_ranks=True)[1]
    np.testing.assert_array_equal(ranks, brute_ranks(F))
    np.testing.assert_array_equal(ev.pareto_front(F), np.flatnonzero(ranks == 0))
    if M == 2:  # the sweep and the dominance matrix agree
        np.testing.assert_array_equal(pareto._ranks_2d(F), pareto._ranks_matrix(F))


@pytest.mark.parametrize("M,n", [(2, 300), (2, 2000), (3, 300), (5, 200)])
def test_sorting_matches_pymoo(M, n):
    nds = pytest.importorskip("pymoo.util.nds.non_dominated_sorting")
    rng = np.random.default_rng(n + M)
    for F in (rng.random((n, M)), rng.integers(0, 8, size=(n, M)).astype(float)):
        ours = ev.non_dominated_sort(F)
        theirs = nds.NonDominatedSorting().do(F)
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, np.sort(b))
        np.testing.assert_array_equal(ev.pareto_front(F), np.sort(
            nds.NonDominatedSorting().do(F, only_non_dominated_front=True)))


def test_sorting_bad_input():
    with pytest.raises(ValueError, match="non_dominated_sort: F must be finite"):
        ev.non_dominated_sort([[0.0, np.nan]])
    with pytest.raises(ValueError, match=r"pareto_front: points must have shape"):
        ev.pareto_front([1.0, 2.0])
    with pytest.raises(ValueError, match="at least one point"):
        ev.pareto_front(np.zeros((0, 2)))


# -- crowding distance -------------------------------------------------------------------------

def test_crowding_distance_hand_worked():
    # f1 = 0, 1, 3, 4 (range 4) and f2 = 4, 2, 1, 0 (range 4):
    # point 1: (3 - 0)/4 + (4 - 1)/4 = 1.5; point 2: (4 - 1)/4 + (2 - 0)/4 = 1.25
    d = ev.crowding_distance([[0, 4], [1, 2], [3, 1], [4, 0]])
    assert d.tolist() == [np.inf, 1.5, 1.25, np.inf]
    # three objectives; the middle point of each objective's order collects all three gaps
    F = [[0, 0, 2], [1, 1, 1], [2, 2, 0]]
    assert ev.crowding_distance(F).tolist() == [np.inf, 3.0, np.inf]
    # fronts of one or two points are all boundary
    assert ev.crowding_distance([[1, 2], [2, 1]]).tolist() == [np.inf, np.inf]
    # a constant objective adds nothing (no division by a zero range)
    assert ev.crowding_distance([[0, 5], [1, 5], [3, 5], [4, 5]]).tolist() == [
        np.inf, 0.75, 0.75, np.inf]


def test_crowding_distance_within_fronts_equals_front_by_front():
    rng = np.random.default_rng(0)
    F = rng.random((80, 3))
    fronts, ranks = ev.non_dominated_sort(F, return_ranks=True)
    d = ev.crowding_distance(F, ranks)
    for f in fronts:
        np.testing.assert_array_equal(d[f], ev.crowding_distance(F[f]))


@pytest.mark.parametrize("M", [2, 3])
def test_crowding_distance_matches_pymoo(M):
    metrics = pytest.importorskip("pymoo.operators.survival.rank_and_crowding.metrics")
    rng = np.random.default_rng(M)
    for n in (3, 10, 57):
        F = rng.random((n, M))
        ours = ev.crowding_distance(F)
        theirs = metrics.calc_crowding_distance(F)  # pymoo averages over the objectives
        np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs))
        finite = np.isfinite(ours)
        np.testing.assert_allclose(ours[finite] / M, theirs[finite], rtol=1e-12)


def test_crowding_distance_bad_ranks():
    with pytest.raises(ValueError, match="ranks must have one entry per point"):
        ev.crowding_distance(np.zeros((3, 2)), ranks=[0, 0])


# -- hypervolume -------------------------------------------------------------------------------

def test_hypervolume_hand_worked():
    assert ev.hypervolume([[1, 3], [2, 2], [3, 1]], [4, 4]) == 6.0
    # dominated, duplicate and out-of-box points add nothing
    assert ev.hypervolume([[1, 3], [2, 2], [3, 1], [3, 3], [2, 2], [5, 0], [0, 4]], [4, 4]) == 6.0
    assert ev.hypervolume([[1, 1, 1]], [2, 3, 4]) == 6.0
    # two boxes: 2*2*1 + 1*1*2 - overlap 1*1*1 = 5
    assert ev.hypervolume([[0, 0, 1], [1, 1, 0]], [2, 2, 2]) == 5.0
    assert ev.hypervolume([[5, 5]], [4, 4]) == 0.0
    assert ev.hypervolume([[1.0], [3.0]], [4.0]) == 3.0


def brute_hypervolume(F, ref, grid=None):
    """Inclusion-exclusion over all subsets (exact; small sets only)."""
    total = 0.0
    for k in range(1, len(F) + 1):
        for sub in itertools.combinations(range(len(F)), k):
            corner = F[list(sub)].max(axis=0)
            total += (-1) ** (k + 1) * np.prod(np.maximum(ref - corner, 0.0))
    return total


@pytest.mark.parametrize("M", [2, 3, 4])
def test_hypervolume_matches_inclusion_exclusion(M):
    rng = np.random.default_rng(M)
    F = rng.random((9, M))
    assert ev.hypervolume(F, np.ones(M)) == pytest.approx(brute_hypervolume(F, np.ones(M)),
                                                          rel=1e-12)


@pytest.mark.parametrize("M,n", [(2, 50), (2, 400), (3, 40), (3, 150)])
def test_hypervolume_matches_pymoo(M, n):
    hv = pytest.importorskip("pymoo.indicators.hv")
    rng = np.random.default_rng(n)
    F = rng.random((n, M))
    if M == 3:  # points near a sphere: most of them non-dominated
        F = F / np.linalg.norm(F, axis=1, keepdims=True)
    ref = np.full(M, 1.1)
    assert ev.hypervolume(F, ref) == pytest.approx(hv.HV(ref_point=ref)(F), rel=1e-10)


def test_hypervolume_bad_ref():
    with pytest.raises(ValueError, match="hypervolume: ref must be a finite point with 2"):
        ev.hypervolume([[1, 2]], [3, 3, 3])


# -- IGD, convergence (Upsilon), spread (Delta) ---------------------------------------------

def test_igd_hand_worked_and_against_pymoo():
    assert ev.igd([[0, 1]], [[0, 1], [1, 1]]) == 0.5
    igd = pytest.importorskip("pymoo.indicators.igd")
    rng = np.random.default_rng(0)
    ref = problems.ZDT1().true_front(200)
    for M_front in (5, 60):
        F = ref[rng.choice(200, M_front)] + rng.random((M_front, 2)) * 0.1
        assert ev.igd(F, ref) == pytest.approx(igd.IGD(ref)(F), rel=1e-12)


def test_convergence_is_mean_distance_to_the_true_front():
    true = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert ev.convergence([[0, 2], [1, 0]], true) == 0.5
    assert ev.convergence(true, true) == 0.0


def test_spread_hand_worked():
    true = problems.ZDT1().true_front(500)
    on = np.linspace(0, 1, 11)
    front = np.stack([on, 1 - np.sqrt(on)], 1)
    # the order the solutions come in does not matter (they are sorted along the front)
    assert ev.spread(front[::-1], true) == ev.spread(front[[3, 1, 0, 2, 10, 4, 5, 9, 8, 7, 6]],
                                                     true) > 0
    # evenly spaced from one extreme to the other: Delta = 0
    line = [[0, 1], [0.25, 0.75], [0.5, 0.5], [0.75, 0.25], [1, 0]]
    assert ev.spread(line, [[0, 1], [1, 0]]) == 0.0
    # d_f = 1 (misses the (0, 1) extreme), gaps 1 and 2 (mean 1.5): (1 + 0 + 1) / (1 + 0 + 3)
    assert ev.spread([[0, 0], [1, 0], [3, 0]], [[0, 1], [3, 0]]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="spread: Delta is defined for two objectives"):
        ev.spread(np.zeros((3, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="same number of objectives"):
        ev.igd(np.zeros((3, 3)), np.zeros((3, 2)))


# -- the problems ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["ZDT1", "ZDT2", "ZDT3", "ZDT4"])
def test_zdt_matches_pymoo_and_fronts_are_optimal(name):
    get_problem = pytest.importorskip("pymoo.problems").get_problem
    ours, theirs = getattr(problems, name)(), get_problem(name.lower())
    assert ours.n_variables == theirs.n_var and ours.n_objectives == 2
    lo, hi = ours.bounds
    np.testing.assert_array_equal(lo, theirs.xl)
    np.testing.assert_array_equal(hi, theirs.xu)
    X = np.random.default_rng(0).uniform(lo, hi, size=(40, ours.n_variables))
    np.testing.assert_allclose(ours(X), theirs.evaluate(X), rtol=1e-12, atol=1e-12)
    front = ours.true_front(500)
    assert front.shape == (500, 2)
    assert len(ev.pareto_front(front)) == 500  # every sampled point is non-dominated
    # the front is reached by x1 = f1 and the other variables at g's minimum (0)
    Xo = np.zeros((500, ours.n_variables))
    Xo[:, 0] = front[:, 0]
    np.testing.assert_allclose(ours(Xo), front, atol=1e-12)
    # and pymoo's own front sample lies on ours
    assert ev.convergence(theirs.pareto_front(), front) < 5e-3


def test_zdt3_pieces_are_the_literature_values():
    pieces = problems.ZDT3().pieces
    expected = [[0.0, 0.0830015349], [0.1822287280, 0.2577623634], [0.4093136748, 0.4538821041],
                [0.6183967944, 0.6525117038], [0.8233317983, 0.8518328654]]
    np.testing.assert_allclose(pieces, expected, atol=1e-9)
    f1 = problems.ZDT3().true_front(500)[:, 0]
    inside = ((f1[:, None] >= pieces[:, 0] - 1e-12) & (f1[:, None] <= pieces[:, 1])).any(axis=1)
    assert inside.all()


def test_dtlz2_matches_pymoo_and_front_is_the_sphere():
    get_problem = pytest.importorskip("pymoo.problems").get_problem
    for M in (2, 3, 4):
        ours = problems.DTLZ2(M)
        theirs = get_problem("dtlz2", n_var=ours.n_variables, n_obj=M)
        X = np.random.default_rng(M).random((30, ours.n_variables))
        np.testing.assert_allclose(ours(X), theirs.evaluate(X), rtol=1e-12, atol=1e-14)
        front = ours.true_front(300)
        assert len(front) <= 300
        np.testing.assert_allclose(np.linalg.norm(front, axis=1), 1.0)
    assert problems.DTLZ2(2).true_front(50).shape == (50, 2)


def test_problem_bad_input():
    with pytest.raises(ValueError, match=r"ZDT1: X must have shape \(population, 30\)"):
        problems.ZDT1()(np.zeros((2, 29)))
    with pytest.raises(ValueError, match="DTLZ2: n_objectives must be an integer >= 2"):
        problems.DTLZ2(1)


def test_crowding_distance_refuses_ranks_that_are_not_integers():
    F = [[0, 4], [1, 2], [3, 1], [4, 0]]
    with pytest.raises(ValueError, match="ranks must be integers"):
        rb.evolution.crowding_distance(F, ranks=[0, 0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="ranks must be integers"):
        rb.evolution.crowding_distance(F, ranks=["a", "b", "c", "d"])
    same = rb.evolution.crowding_distance(F, ranks=[0.0, 0.0, 0.0, 0.0])  # integral floats
    np.testing.assert_array_equal(same, rb.evolution.crowding_distance(F))
