"""Audit fixes (s7, a5): crowding distance of copies, TicTacToe with no games and its rng=,
polynomial mutation / SBX bounds, shared fitness and sampling of a 1-D score vector."""

import warnings

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution import NSGA2, crowding_distance, non_dominated_sort
from rosenblatt.evolution.envs import games as ttt
from rosenblatt.evolution.nsga2 import polynomial_mutation, sbx

# -- 1: copies of a point are measured once; later copies get 0 -----------------------------

def test_1_copies_of_a_boundary_point_take_one_infinite_slot():
    # before: [inf, inf, 2.0, inf], the second copy took the f2 boundary
    d = crowding_distance([[0, 1], [0, 1], [0.5, 0.5], [1, 0]])
    assert d.tolist() == [np.inf, 0.0, 2.0, np.inf]
    # the distances are those of the distinct points, whichever copies are added
    distinct = [[0, 4], [1, 2], [3, 1], [4, 0]]
    F = [distinct[i] for i in (2, 0, 2, 1, 3, 0, 2)]
    assert crowding_distance(F).tolist() == [1.25, np.inf, 0.0, 1.5, np.inf, 0.0, 0.0]
    assert crowding_distance([[2, 3]] * 3).tolist() == [np.inf, 0.0, 0.0]


def _pymoo_filtered(metrics, F):
    """pymoo's crowding distance with duplicates filtered out, as a sum over objectives."""
    fun = metrics.FunctionalDiversity(metrics.calc_crowding_distance,
                                      filter_out_duplicates=True)
    return fun.do(F) * F.shape[1]


@pytest.mark.parametrize("M", [2, 3])
def test_1_crowding_distance_matches_pymoo_with_and_without_copies(M):
    metrics = pytest.importorskip("pymoo.operators.survival.rank_and_crowding.metrics")
    rng = np.random.default_rng(10 + M)
    for n in (3, 8, 40):
        points = rng.random((n, M))
        for copies in (0, 1, n // 2 + 1, 2 * n):
            F = np.concatenate([points, points[rng.integers(0, n, copies)]])
            F = F[rng.permutation(len(F))]
            ours, theirs = crowding_distance(F), _pymoo_filtered(metrics, F)
            np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs))
            finite = np.isfinite(ours)
            np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-12, atol=0)


def test_1_copies_within_fronts_equal_front_by_front():
    rng = np.random.default_rng(0)
    F = rng.integers(0, 5, (300, 2)).astype(float)  # many copies, in many fronts
    fronts, ranks = non_dominated_sort(F, return_ranks=True)
    d = crowding_distance(F, ranks)
    for f in fronts:
        np.testing.assert_array_equal(d[f], crowding_distance(F[f]))
    # equal points ranked apart by the caller are not copies of each other
    assert crowding_distance([[0, 1], [0, 1]], ranks=[0, 1]).tolist() == [np.inf, np.inf]


def test_1_survive_keeps_distinct_points_over_copies():
    F = np.array([[0, 1]] * 3 + [[0.25, 0.5], [0.5, 0.3], [0.75, 0.1], [1, 0]], float)
    keep, _, _ = NSGA2(2, population=4, rng=0).survive(F)
    # before: two copies of (0, 1) survived and (0.5, 0.3), (0.75, 0.1) were dropped
    assert len({tuple(p) for p in F[keep]}) == 4
    assert {tuple(p) for p in F[keep]} >= {(0.0, 1.0), (1.0, 0.0)}


# -- 2: TicTacToe with a side that plays no game ---------------------------------------------

def _network_player():
    net = rb.nn.Sequential(rb.nn.Dense(18, 9, rng=0))
    pm = rb.evolution.PopulationModel(net, rb.evolution.CNE(net, population=4, rng=0).thetas)
    return ttt.TicTacToe().player(pm)


def test_2_versus_one_game_with_a_network_player():
    game, p = ttt.TicTacToe(), _network_player()
    r = game.versus(p, ttt.random_player(0), n_games=1)  # the one game, played as O
    assert sorted(r) == ["draw", "loss", "win"] and sum(r.values()) == 1.0
    assert game.play(p, p, n_games=0).shape == (0,)
    assert game.play(p, p, who_x=[], who_o=[]).shape == (0,)


def test_2_versus_refuses_no_games():
    game = ttt.TicTacToe()
    for n in (0, -3, 2.5):
        with pytest.raises(ValueError, match="versus: n_games must be a positive integer"):
            game.versus(ttt.random_player(1), ttt.random_player(0), n_games=n)
    with pytest.raises(ValueError, match="play: n_games must be a non-negative integer"):
        game.play(ttt.random_player(1), ttt.random_player(0), n_games=-1)


# -- 3: polynomial mutation and SBX on fixed or reversed bounds ------------------------------

def test_3_polynomial_mutation_leaves_a_fixed_variable_unchanged():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # before: NaN with a RuntimeWarning
        y = polynomial_mutation(np.array([0.5, 0.2]), np.array([0.5, 0.0]),
                                np.array([0.5, 1.0]), 20.0, np.array([0.3, 0.3]))
    assert y[0] == 0.5
    assert y[1] == polynomial_mutation(0.2, 0.0, 1.0, 20.0, 0.3)
    assert float(polynomial_mutation(2.0, 2.0, 2.0, 20.0, 0.9)) == 2.0


def test_3_reversed_bounds_are_refused():
    with pytest.raises(ValueError, match="polynomial_mutation: low must not exceed high"):
        polynomial_mutation(0.5, 1.0, 0.0, 20.0, 0.3)
    with pytest.raises(ValueError, match="polynomial_mutation: low must not exceed high"):
        polynomial_mutation(np.array([0.5, 0.5]), np.array([0.0, np.nan]), 1.0, 20.0, 0.3)
    with pytest.raises(ValueError, match="sbx: low must not exceed high"):
        sbx(0.4, 0.6, 1.0, 0.0, 20.0, 0.3)
    c1, c2 = sbx(0.5, 0.5, 0.5, 0.5, 20.0, 0.3)  # a fixed variable: the parents, unchanged
    assert (float(c1), float(c2)) == (0.5, 0.5)


# -- 4: shared fitness / sampling need a (hosts, opponents) matrix ---------------------------

def test_4_shared_fitness_and_sample_refuse_a_vector():
    with pytest.raises(ValueError, match=r"shared_fitness: scores must be a \(hosts, "
                                         r"opponents\) matrix; got shape \(2,\)"):
        rb.evolution.shared_fitness(np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"shared_sample: wins must be a \(candidates, "
                                         r"hosts\) matrix; got shape \(2,\)"):
        rb.evolution.shared_sample(np.array([1.0, 0.0]), 1)
    with pytest.raises(ValueError, match="shared_fitness: scores must be finite"):
        rb.evolution.shared_fitness(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="shared_sample: wins must be finite"):
        rb.evolution.shared_sample(np.array([[1.0, np.inf]]), 1)
    assert rb.evolution.shared_fitness([[1.0, 1.0], [1.0, 0.0]]).tolist() == [1.5, 0.5]


# -- 5: TicTacToe.play(rng=) / versus(rng=) drive the noise and openings --------------------

def _first_cell(boards, who):
    return np.tile(np.arange(9, 0, -1.0), (len(boards), 1))  # deterministic


def test_5_play_and_versus_rng_drive_noise_and_openings():
    game = ttt.TicTacToe(noise=0.3, openings=2, rng=0)
    a = game.play(_first_cell, _first_cell, 200, rng=1)
    b = game.play(_first_cell, _first_cell, 200, rng=1)
    np.testing.assert_array_equal(a, b)  # before: 120 of 200 games differed
    other = game.play(_first_cell, _first_cell, 200, rng=np.random.default_rng(2))
    assert (other != a).any()
    assert game.versus(_first_cell, _first_cell, 200, rng=5) == game.versus(
        _first_cell, _first_cell, 200, rng=5)
    # without rng= the game's own generator draws, as before
    fresh = [ttt.TicTacToe(noise=0.3, openings=2, rng=0).play(_first_cell, _first_cell, 200)
             for _ in range(2)]
    np.testing.assert_array_equal(*fresh)
    assert (game.play(_first_cell, _first_cell, 200) != game.play(
        _first_cell, _first_cell, 200)).any()


def _reference_crowding(F, ranks):
    """Deb et al.'s formula front by front over the distinct points, in plain Python."""
    d = np.zeros(len(F))
    for rank in np.unique(ranks):
        seen, members = set(), []
        for i in np.flatnonzero(ranks == rank):  # the first copy of each point measures
            if tuple(F[i]) not in seen:
                seen.add(tuple(F[i]))
                members.append(i)
        for m in range(F.shape[1]):
            s = sorted(members, key=lambda i: (F[i, m], i))
            span = F[s[-1], m] - F[s[0], m]
            if span > 0 or len(s) == 1:  # a constant objective has no boundary (s9 finding 2)
                d[s[0]] = d[s[-1]] = np.inf
            for a, i, b in zip(s, s[1:], s[2:]):
                d[i] += (F[b, m] - F[a, m]) / span if span > 0 else 0.0
    return d


@pytest.mark.parametrize("M", [1, 2, 3, 4])
def test_1_crowding_distance_matches_the_formula_on_ties_and_copies(M):
    rng = np.random.default_rng(M)
    for n in (1, 2, 5, 60):
        F = rng.integers(0, 4, (n, M)).astype(float)  # ties, copies, constant objectives
        ranks = rng.integers(0, 3, n)  # copies of a point in different fronts stay apart
        np.testing.assert_array_equal(crowding_distance(F, ranks), _reference_crowding(F, ranks))
        np.testing.assert_array_equal(crowding_distance(F), _reference_crowding(F, np.zeros(n)))
