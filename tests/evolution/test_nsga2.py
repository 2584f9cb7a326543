"""NSGA-II: its operators against their formulas, selection by hand, bad input, and learning."""

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution import problems
from rosenblatt.evolution.nsga2 import polynomial_mutation, sbx

ev = rb.evolution


# -- SBX and polynomial mutation: the formulas at given draws --------------------------------

def sbx_by_hand(p1, p2, low, high, eta, u):
    """Deb's bounded SBX for one variable, written out with scalars."""
    y1, y2 = min(p1, p2), max(p1, p2)
    out = []
    for beta, sign in ((1 + 2 * (y1 - low) / (y2 - y1), -1), (1 + 2 * (high - y2) / (y2 - y1), 1)):
        alpha = 2 - beta ** -(eta + 1)
        if u <= 1 / alpha:
            betaq = (u * alpha) ** (1 / (eta + 1))
        else:
            betaq = (1 / (2 - u * alpha)) ** (1 / (eta + 1))
        out.append(min(max(0.5 * ((y1 + y2) + sign * betaq * (y2 - y1)), low), high))
    return out


def test_sbx_at_a_given_draw():
    # 0.4 and 0.6 in [0, 1], eta 1, u 1/2: beta = 1 + 2(0.4)/0.2 = 5, alpha = 2 - 1/25 = 1.96,
    # u <= 1/alpha so beta_q = sqrt(0.98); children 0.5 -+ 0.1 sqrt(0.98)
    c1, c2 = sbx(0.4, 0.6, 0.0, 1.0, 1.0, 0.5)
    assert c1 == pytest.approx(0.5 - 0.1 * math.sqrt(0.98), rel=1e-14)
    assert c2 == pytest.approx(0.5 + 0.1 * math.sqrt(0.98), rel=1e-14)
    # both branches, near a bound, parents in either order, vectorised
    cases = [(0.2, 0.3, 0.0, 1.0, 2.0, 0.9), (0.3, 0.2, 0.0, 1.0, 2.0, 0.1),
             (0.01, 0.9, 0.0, 1.0, 20.0, 0.999), (-4.0, 3.0, -5.0, 5.0, 20.0, 0.3),
             (0.99, 0.999, 0.0, 1.0, 5.0, 0.7)]
    p1, p2, low, high, eta, u = (np.array(c) for c in zip(*cases))
    c1, c2 = sbx(p1, p2, low, high, eta, u)
    for i, case in enumerate(cases):
        e1, e2 = sbx_by_hand(*case)
        assert c1[i] == pytest.approx(e1, rel=1e-13) and c2[i] == pytest.approx(e2, rel=1e-13)


def test_sbx_far_from_bounds_is_the_original_operator():
    # with distant bounds alpha -> 2: beta_q = (2u)^(1/(eta+1)) or (2(1-u))^(-1/(eta+1)),
    # the same for both children, so the parents' mean is preserved
    u = np.array([0.05, 0.3, 0.5, 0.7, 0.95])
    c1, c2 = sbx(np.full(5, 1.0), np.full(5, 2.0), -1e9, 1e9, 20.0, u)
    betaq = np.where(u <= 0.5, (2 * u) ** (1 / 21), (2 * (1 - u)) ** (-1 / 21))
    np.testing.assert_allclose(c1, 1.5 - 0.5 * betaq, rtol=1e-12)
    np.testing.assert_allclose(c2, 1.5 + 0.5 * betaq, rtol=1e-12)
    np.testing.assert_allclose(c1 + c2, 3.0, rtol=1e-12)


def test_polynomial_mutation_at_given_draws():
    # y = 1/2 in [0, 1], eta 1: u = 1/4 gives delta_q = sqrt(2/4 + (1/2)(1/4)) - 1
    assert polynomial_mutation(0.5, 0.0, 1.0, 1.0, 0.25) == pytest.approx(
        0.5 + math.sqrt(0.625) - 1, rel=1e-14)
    assert polynomial_mutation(0.5, 0.0, 1.0, 1.0, 0.75) == pytest.approx(
        0.5 + 1 - math.sqrt(0.625), rel=1e-14)
    assert polynomial_mutation(0.3, 0.0, 1.0, 20.0, 0.5) == pytest.approx(0.3)  # u = 1/2: no move
    assert polynomial_mutation(0.3, -1.0, 1.0, 20.0, 0.0) == pytest.approx(-1.0)  # u -> 0: low
    # a general case in [-5, 5], eta 20, by hand
    y, low, high, eta, u = 2.0, -5.0, 5.0, 20.0, 0.9
    d2 = (high - y) / (high - low)
    expected = y + (1 - (2 * (1 - u) + 2 * (u - 0.5) * (1 - d2) ** 21) ** (1 / 21)) * 10
    assert polynomial_mutation(y, low, high, eta, u) == pytest.approx(expected, rel=1e-14)
    out = polynomial_mutation(np.random.default_rng(0).random(1000), 0.0, 1.0, 20.0,
                              np.random.default_rng(1).random(1000))
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_variation_respects_bounds_rates_and_pair_structure():
    nsga = ev.NSGA2(2, population=8, crossover_prob=1.0, rng=0)
    rng = np.random.default_rng(1)
    low, high = np.full(50, -1.0), np.full(50, 2.0)
    a, b = rng.uniform(-1, 2, (400, 50)), rng.uniform(-1, 2, (400, 50))
    children = nsga.recombine(a, b, low, high)
    assert children.shape == (800, 50)
    assert (children >= -1).all() and (children <= 2).all()
    c1, c2 = children[:400], children[400:]
    crossed = (c1 != a)
    # each variable of a crossed pair is crossed with probability 1/2
    assert abs(crossed.mean() - 0.5) < 0.02
    # an uncrossed variable is copied: each child keeps its own parent's value there
    np.testing.assert_array_equal(c2[~crossed], b[~crossed])
    mutated = nsga.mutate(a, low, high, prob=1 / 50)
    assert abs((mutated != a).mean() - 1 / 50) < 0.005
    none = ev.NSGA2(2, population=8, crossover=None, mutation=None, rng=0)
    np.testing.assert_array_equal(none.recombine(a, b, low, high), np.concatenate([a, b]))
    np.testing.assert_array_equal(none.mutate(a, low, high, 0.5), a)


def test_recombine_and_mutate_apply_the_formulas_to_their_draws():
    rng = np.random.default_rng(5)
    a, b = rng.random((6, 4)), rng.random((6, 4))
    low, high = np.zeros(4), np.ones(4)
    nsga = ev.NSGA2(2, population=4, crossover_prob=0.9, rng=11)
    children = nsga.recombine(a, b, low, high)
    draws = np.random.default_rng(11)  # the same draws, in the operator's order
    pair, var, u, swap = (draws.random((6, 1)), draws.random((6, 4)), draws.random((6, 4)),
                          draws.random((6, 4)))
    for i in range(6):
        for j in range(4):
            if pair[i, 0] < 0.9 and var[i, j] <= 0.5:
                lo, hi = sbx_by_hand(a[i, j], b[i, j], 0.0, 1.0, 20.0, u[i, j])
                first, second = (hi, lo) if swap[i, j] < 0.5 else (lo, hi)
            else:
                first, second = a[i, j], b[i, j]
            assert children[i, j] == pytest.approx(first, rel=1e-12)
            assert children[6 + i, j] == pytest.approx(second, rel=1e-12)
    mutated = nsga.mutate(a, low, high, prob=0.3)
    mask, u = draws.random((6, 4)) < 0.3, draws.random((6, 4))
    np.testing.assert_allclose(mutated, np.where(mask, polynomial_mutation(a, 0, 1, 20.0, u), a))


# -- selection ---------------------------------------------------------------------------------

def test_tournament_uses_the_crowded_comparison():
    nsga = ev.NSGA2(2, population=20, rng=0)
    ranks, crowd = np.arange(20), np.zeros(20)
    for _ in range(20):
        winners = nsga.tournament(ranks, crowd)
        counts = np.bincount(winners, minlength=20)
        # each individual plays two tournaments: the best wins both, the worst none
        assert winners.shape == (20,) and counts[0] == 2 and counts[19] == 0
    same_rank = nsga.tournament(np.zeros(20, dtype=int), np.arange(20.0))
    counts = np.bincount(same_rank, minlength=20)
    assert counts[19] == 2 and counts[0] == 0  # then the larger crowding distance wins


def test_dominance_tournament_lets_crowding_decide_between_non_dominating_ranks():
    # 0 dominates 1; 2 (rank 1) does not dominate 3 (rank 0) nor 3 it
    F = np.array([[0.0, 0.0], [1.0, 1.0], [0.2, 5.0], [1.0, 0.1]])
    ranks = np.array([0, 1, 1, 0])
    crowding = np.array([0.0, 9.0, np.inf, 0.5])
    paper = ev.NSGA2(2, population=4, rng=0)
    deb = ev.NSGA2(2, population=4, tournament="dominance", rng=0)
    seen = set()
    for seed in range(30):  # both draw the same pairs and coins as a twin generator
        paper.rng, deb.rng, twin = (np.random.default_rng(seed) for _ in range(3))
        pairs = np.concatenate([twin.permutation(4), twin.permutation(4)]).reshape(-1, 2)
        w_paper, w_deb = paper.tournament(ranks, crowding), deb.tournament(ranks, crowding, F)
        for (a, b), wp, wd in zip(pairs.tolist(), w_paper, w_deb):
            pair = frozenset((a, b))
            seen.add(pair)
            if pair == {0, 1}:  # dominance decides, whatever the crowding
                assert wp == wd == 0
            if pair == {2, 3}:  # the paper: the lower rank; Deb's code: the larger crowding
                assert (wp, wd) == (3, 2)
    assert {frozenset((0, 1)), frozenset((2, 3))} <= seen


def test_dominance_tournament_needs_objectives_and_a_known_rule():
    with pytest.raises(ValueError, match="tournament"):
        ev.NSGA2(2, tournament="rank")
    with pytest.raises(ValueError, match="objectives F"):
        ev.NSGA2(2, population=4, tournament="dominance", rng=0).tournament(
            np.zeros(4, dtype=int), np.zeros(4))


def test_dominance_tournament_keeps_zdt2_out_of_the_corner():
    # seed 19, 100 generations: the paper's crowded tournament is still stuck near f1 = 0
    # (IGD 0.29); Deb's code's and pymoo's dominance tournament spreads (IGD ~0.03)
    z = ev.problems.ZDT2()
    runs = {rule: ev.NSGA2(2, population=100, tournament=rule, rng=19)
            .run(z, z.n_variables, z.bounds, 100) for rule in ("crowded", "dominance")}
    true = z.true_front(500)
    assert ev.igd(runs["crowded"].F, true) > 0.2
    assert ev.igd(runs["dominance"].F, true) < 0.06


def test_eliminate_duplicates_breeds_only_new_children():
    z = ev.problems.ZDT1(n_variables=3)
    # copies only (no crossover, no mutation): every child repeats a parent
    copies = ev.NSGA2(2, population=8, crossover=None, mutation=None,
                      eliminate_duplicates=True, rng=0)
    res = copies.run(z, 3, z.bounds, 2)
    assert res.evaluations == 8 and res.generations == 2  # no child survived elimination
    plain = ev.NSGA2(2, population=8, crossover=None, mutation=None, rng=0)
    assert plain.run(z, 3, z.bounds, 2).evaluations == 24
    # with variation: N children a generation, none equal to another or to the population
    nsga = ev.NSGA2(2, population=12, mutation_prob=0.05, crossover_prob=0.3,
                    eliminate_duplicates=True, rng=1)
    low, high = np.zeros(3), np.ones(3)
    nsga.X = np.random.default_rng(0).random((12, 3))
    nsga.X[6:] = nsga.X[:6]  # a population holding repeats itself
    nsga.F = z(nsga.X)
    _, nsga.ranks, nsga.crowding = nsga.survive(nsga.F)
    children = nsga.offspring(low, high, 0.05)
    assert children.shape == (12, 3)
    assert len(np.unique(np.concatenate([np.unique(nsga.X, axis=0), children]), axis=0)) == 18
    with pytest.raises(TypeError, match="eliminate_duplicates"):
        ev.NSGA2(2, eliminate_duplicates="yes")


def test_pymoos_settings_never_leave_zdt2_in_the_corner():
    z = ev.problems.ZDT2()
    true = z.true_front(500)
    for seed in (0, 19):  # seed 0: the dominance tournament alone stays stuck (IGD 0.29)
        res = ev.NSGA2(2, population=100, tournament="dominance", eliminate_duplicates=True,
                       rng=seed).run(z, z.n_variables, z.bounds, 100)
        assert ev.igd(res.F, true) < 0.06


def test_survival_keeps_whole_fronts_then_the_least_crowded():
    nsga = ev.NSGA2(2, population=4, rng=0)
    F = np.array([[0, 1], [1, 0],                         # front 0
                  [1, 3], [1.5, 2.5], [2, 2], [3, 1],     # front 1: boundaries (1,3), (3,1)
                  [5, 5], [6, 6]], dtype=float)
    keep, ranks, crowd = nsga.survive(F)
    assert sorted(keep.tolist()) == [0, 1, 2, 5]
    assert ranks.tolist() == [0, 0, 1, 1] and np.isinf(crowd).all()
    # non-finite objectives (on_error="worst") rank behind everything
    F[0] = np.inf
    keep, ranks, _ = nsga.survive(F)
    assert 0 not in keep.tolist()


# -- runs --------------------------------------------------------------------------------------

def test_run_returns_the_final_front_and_history():
    zdt = problems.ZDT2()
    nsga = ev.NSGA2(2, population=24, rng=3)
    res = nsga.run(zdt, zdt.n_variables, zdt.bounds, 10)
    assert isinstance(res, ev.ParetoResult) and isinstance(res, ev.Result)
    assert res.generations == 10 and res.evaluations == 24 * 11
    assert len(ev.pareto_front(res.F)) == len(res.F)
    np.testing.assert_array_equal(res.F, zdt(res.X))
    assert (np.diff(res.F[:, 0]) >= 0).all()  # sorted by the first objective
    assert set(res.history) == {"front_size", "fronts", "ideal", "evaluations"}
    assert all(len(v) == 10 for v in res.history.values())
    assert res.best is res.X and math.isnan(res.best_fitness)
    lo, hi = zdt.bounds
    assert (nsga.X >= lo).all() and (nsga.X <= hi).all() and nsga.X.shape == (24, 30)


def test_runs_are_reproducible_and_executors_change_nothing():
    zdt = problems.ZDT1(n_variables=8)
    runs = [ev.NSGA2(2, population=16, rng=7).run(zdt, 8, zdt.bounds, 6) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].X, runs[1].X)
    with ThreadPoolExecutor(2) as pool:
        threaded = ev.NSGA2(2, population=16, rng=7).run(zdt, 8, zdt.bounds, 6, executor=pool)
    np.testing.assert_array_equal(runs[0].X, threaded.X)
    np.testing.assert_array_equal(runs[0].F, threaded.F)


def test_callbacks_and_stop_end_the_run():
    zdt = problems.ZDT1(n_variables=5)
    seen = []

    def callback(state):
        seen.append(state["champion"].shape[1])
        return state["generation"] == 2

    res = ev.NSGA2(2, population=8, rng=0).run(zdt, 5, zdt.bounds, 10, callbacks=[callback])
    assert res.generations == 3 and res.stopped and seen == [2, 2, 2]
    res = ev.NSGA2(2, population=8, rng=0).run(zdt, 5, zdt.bounds, 10,
                                               stop=lambda F: F[:, 0].min() < 2.0)
    assert res.generations == 1 and res.stopped


def test_nsga2_learns_zdt1():
    """Population 100, 100 generations (~0.3 s): IGD ~0.011 against 500 points of the true front."""
    zdt = problems.ZDT1()
    res = ev.NSGA2(2, population=100, rng=0).run(zdt, zdt.n_variables, zdt.bounds, 100)
    true = zdt.true_front(500)
    assert ev.igd(res.F, true) < 0.03
    assert ev.convergence(res.F, true) < 0.02
    assert ev.hypervolume(res.F, [1.1, 1.1]) > 0.84  # the true front's: 1.21 - 1/3 - 0.0 ~ 0.877
    assert len(res.F) == 100


def test_nsga2_on_three_objectives():
    dtlz = problems.DTLZ2(3)
    res = ev.NSGA2(3, population=48, rng=1).run(dtlz, dtlz.n_variables, dtlz.bounds, 40)
    radius = np.linalg.norm(res.F, axis=1)
    assert np.median(radius) < 1.05  # on (near) the unit sphere


# -- networks ----------------------------------------------------------------------------------

def test_count_connections_and_error_objectives_match_a_loop():
    net = rb.nn.Sequential(rb.nn.Dense(2, 3, rng=0), rb.nn.Tanh(), rb.nn.Dense(3, 1, rng=0))
    net = net.astype(np.float64)
    vec = rb.nn.ParameterVector(net.parameters())
    thetas = np.random.default_rng(0).normal(size=(5, vec.size))
    thetas[np.abs(thetas) < 0.5] = 0.0
    X, y = np.random.default_rng(1).normal(size=(7, 2)), np.random.default_rng(2).normal(size=7)
    F = ev.error_and_connections(net, X, y)(thetas)
    W1, W2 = net[0].W.data.size, net[2].W.data.size
    for theta, (err, conn) in zip(thetas, F):
        vec.data[:] = theta
        with rb.no_grad():
            out = net(rb.tensor(X)).data
        assert err == pytest.approx(((out[:, 0] - y) ** 2).mean(), rel=1e-12)
        # biases are not connections
        assert conn == np.count_nonzero(net[0].W.data) + np.count_nonzero(net[2].W.data)
    assert F[:, 1].max() <= W1 + W2


def test_count_connections_and_error_objectives_check_shapes():
    net = rb.nn.Sequential(rb.nn.Dense(2, 2, rng=0), rb.nn.Tanh(), rb.nn.Dense(2, 1, rng=0))
    net = net.astype(np.float64)  # 9 parameters, 6 of them connection weights
    assert ev.count_connections(net, np.ones((2, 9))).tolist() == [6, 6]
    assert ev.count_connections(net, np.ones(9)).tolist() == [6]  # one vector: one row
    for bad in (np.ones((2, 5)), np.ones((2, 20)), np.ones((2, 3, 9))):
        with pytest.raises(ValueError, match=r"count_connections: thetas must be \(population,"
                                             r" 9\) for this model's 9 parameters; got shape"):
            ev.count_connections(net, bad)
    X = np.array([[0.0, 0], [0, 1], [1, 0], [1, 1]])
    objectives = ev.error_and_connections(net, X, np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"error_and_connections: the model gives outputs of "
                                         r"shape \(4, 1\) but y has shape \(4, 3\)"):
        objectives(np.ones((2, 9)))
    with pytest.raises(ValueError, match=r"thetas must be \(population, 9\)"):
        ev.error_and_connections(net, X, np.ones(4))(np.ones((2, 8)))
    assert ev.error_and_connections(net, X, np.ones(4))(np.ones((2, 9))).shape == (2, 2)


def test_evolve_weights_trades_error_for_connections_on_xor():
    net = rb.nn.Sequential(rb.nn.Dense(2, 3), rb.nn.Tanh(), rb.nn.Dense(3, 1),
                           rb.nn.Sigmoid()).astype(np.float64)
    before = rb.nn.ParameterVector(net.parameters()).data.copy()
    X, y = np.array([[0., 0], [0, 1], [1, 0], [1, 1]]), np.array([[0.], [1], [1], [0]])
    objectives = ev.error_and_connections(net, X, y)
    res = ev.NSGA2(2, population=60, rng=0).evolve_weights(net, objectives, 100, bound=8.0,
                                                           prune_below=0.5)
    assert res.X.shape[1] == net.num_parameters()
    np.testing.assert_array_equal(rb.nn.ParameterVector(net.parameters()).data, before)
    # the front is what the weights give, pruning included
    np.testing.assert_allclose(res.F, objectives(res.X))
    assert ((res.X == 0) | (np.abs(res.X) >= 0.5)).all()
    by_error = res.F[np.argsort(res.F[:, 0])]
    assert (np.diff(by_error[:, 1]) <= 0).all()  # less error costs more connections
    solved = res.F[res.F[:, 0] < 0.01]
    assert len(solved) and solved[:, 1].min() <= 7  # XOR solved with few connections
    assert res.F[:, 1].min() <= 2 and res.F[np.argmin(res.F[:, 1]), 0] >= 0.2


# -- bad input ---------------------------------------------------------------------------------

def test_bad_construction():
    with pytest.raises(ValueError, match="NSGA2: population must be a multiple of 4.*got 10"):
        ev.NSGA2(2, population=10)
    with pytest.raises(ValueError, match="NSGA2: crossover must be"):
        ev.NSGA2(2, crossover="blx")
    with pytest.raises(ValueError, match="NSGA2: n_objectives must be a positive integer"):
        ev.NSGA2(0)
    with pytest.raises(ValueError, match="NSGA2: crossover_prob"):
        ev.NSGA2(2, crossover_prob=1.5)


@pytest.mark.parametrize("bounds,match", [
    ((1.0, 0.0), "variable 0 has lower 1.0 and upper 0.0"),
    ((0.0, np.inf), "bounds must be finite"),
    (([0, 0, 0], 1.0), r"pair \(lower, upper\) of numbers or arrays of shape \(2,\)"),
    (5.0, r"pair \(lower, upper\)"),
])
def test_bad_bounds(bounds, match):
    with pytest.raises(ValueError, match=match):
        ev.NSGA2(2, population=4).run(lambda X: X, 2, bounds, 1)


def test_bad_objectives():
    nsga = ev.NSGA2(2, population=8, rng=0)
    with pytest.raises(ValueError, match=r"objectives must return an array of shape "
                                         r"\(population, n_objectives\) = \(8, 2\); got shape "
                                         r"\(8, 3\)"):
        nsga.run(lambda X: X[:, :3], 4, (0, 1), 2)
    with pytest.raises(ValueError, match=r"got shape \(7, 2\)"):
        nsga.run(lambda X: X[1:, :2], 4, (0, 1), 2)
    with pytest.raises(TypeError, match="objectives must be callable"):
        nsga.run("zdt1", 4, (0, 1), 2)
    with pytest.raises(ValueError, match="read-only"):
        nsga.run(lambda X: X.__setitem__(0, 1.0), 4, (0, 1), 2)

    def nan_sometimes(X):
        F = X[:, :2].copy()
        F[X[:, 0] > 0.6, 1] = np.nan
        return F

    with pytest.raises(ev.FitnessError, match="NSGA2: objectives returned .*nan.* individual"):
        nsga.run(nan_sometimes, 4, (0, 1), 2)
    res = ev.NSGA2(2, population=8, rng=0).run(nan_sometimes, 4, (0, 1), 2, on_error="stop")
    assert res.stopped and "NaN or inf" in res.error and res.generations == 0
    res = ev.NSGA2(2, population=8, rng=0).run(nan_sometimes, 4, (0, 1), 5, on_error="worst")
    assert res.generations == 5 and np.isfinite(res.F).all()


def _transposed(X):  # (2, P) instead of (P, 2)
    return np.stack([X[:, 0], 1 - X[:, 0]])


def _flat(X):  # (2P,) instead of (P, 2)
    return np.stack([X[:, 0], 1 - X[:, 0]], axis=1).ravel()


def _extra_row(X):
    return np.zeros((len(X) + 1, 2))


@pytest.mark.parametrize("objectives, got", [(_transposed, r"\(2, \d+\)"),
                                             (_flat, r"\(\d+,\)"),
                                             (_extra_row, r"\(\d+, 2\)")])
def test_executor_checks_each_answer_like_the_serial_path(objectives, got):
    # the serial path and each executor chunk give the same error (no silent reshape)
    with pytest.raises(ValueError, match=r"objectives must return an array of shape "
                                         r"\(population, n_objectives\) = \(12, 2\); got "
                                         r"shape " + got.replace(r"\d+", "(12|13|24)")):
        ev.NSGA2(2, population=12, rng=0).run(objectives, 3, (0, 1), 2)
    with ThreadPoolExecutor(2) as ex, pytest.raises(
            ValueError, match=r"objectives must return an array of shape \(population, "
                              r"n_objectives\) = \(\d+, 2\); got shape " + got):
        ev.NSGA2(2, population=12, rng=0).run(objectives, 3, (0, 1), 2, executor=ex)
    # one objective: a (P,) answer stays accepted on both paths
    with ThreadPoolExecutor(2) as ex:
        res = ev.NSGA2(1, population=8, rng=0).run(lambda X: X[:, 0], 2, (0, 1), 2,
                                                   executor=ex)
    assert res.F.shape[1] == 1


def test_evolve_weights_bad_input():
    nsga = ev.NSGA2(2, population=4)
    with pytest.raises(TypeError, match="model must be a Module"):
        nsga.evolve_weights(np.zeros(3), lambda t: t[:, :2], 1)
    with pytest.raises(ValueError, match="prune_below must be smaller than bound"):
        nsga.evolve_weights(rb.nn.Dense(2, 1), lambda t: t[:, :2], 1, bound=1.0, prune_below=2)
    with pytest.raises(ValueError, match="X must be .* with the same n"):
        ev.error_and_connections(rb.nn.Dense(2, 1), np.zeros((4, 2)), np.zeros(3))
