"""Four claims of the notes' second half that nothing demonstrated (s12), each run at its quick
budget, and run once more with its cause removed, where it must then fail.

Notes sections: "Loss function gradient in autoencoders" (with tied weights the gradient is
the sum of two gradients), "Contractive autoencoders" ("The lambda hyperparameter lets us
tweak which of these terms to prioritize"), "Sparse Coding" (the columns of D have norm 1
"because otherwise D could just grow large, allowing h to become small") and "Neuroevolution"
(a noisy fitness in non-deterministic games; "average the performance over many independent
plays").
"""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour.chapters import (
    _contractive_lambda,
    _dictionary_norm,
    _noisy_fitness,
    _tied_gradient,
)
from rosenblatt.tour.context import Context


def _ctx(seed=0):
    return Context(quick=True, rng=np.random.default_rng(seed), seed=seed)


def _only_claim(ctx, words):
    (claim,) = ctx.claims
    assert words in claim.text
    return claim


# -- tied weights -----------------------------------------------------------------------------

def _tied_claim(tied):
    ctx = _ctx()
    errors = _tied_gradient.tied_gradient_is_a_sum(ctx, ctx.rng, tied=tied)
    return _only_claim(ctx, "sum of two gradients"), errors


def test_tied_gradient_is_the_sum_of_the_encoder_and_decoder_gradients():
    claim, errors = _tied_claim(True)
    assert claim.passed, claim.detail
    assert errors["sum"] < 1e-6 and errors["engine"] < 1e-6
    assert errors["encoder"] > 0.5 and errors["decoder"] > 0.05  # measured 0.97, 0.26


def test_untied_weights_have_only_the_encoder_gradient():
    # the cause removed: a decoder with weights of its own; W is then used once, and its
    # gradient is the encoder's term alone, not the sum
    claim, errors = _tied_claim(False)
    assert not claim.passed, claim.detail
    assert errors["encoder"] < 1e-6 and errors["sum"] > 1.0


# -- contractive autoencoders: lambda -----------------------------------------------------------

def _lambda_claim(**kwargs):
    ctx = _ctx()
    rows = _contractive_lambda.lambda_trades_off(ctx, ctx.rng, **kwargs)
    return _only_claim(ctx, "Lambda tweaks which term is prioritised"), rows


def test_a_larger_lambda_trades_reconstruction_for_insensitivity():
    claim, rows = _lambda_claim()
    assert claim.passed, claim.detail
    (_, j0, e0), (_, j1, e1) = rows[0], rows[-1]
    assert j1 < 0.1 * j0 and e1 > 2 * e0  # measured 52 -> 1.4 and 0.50 -> 1.5


def test_without_the_penalty_lambda_trades_nothing():
    # the cause removed: every "lambda" is 0, so no penalty is there to prioritise; the runs
    # are the same run, and neither the Jacobian norm nor the error moves
    claim, rows = _lambda_claim(lams=(0.0, 0.0, 0.0))
    assert not claim.passed, claim.detail
    assert len({r[1] for r in rows}) == 1 and len({r[2] for r in rows}) == 1


# -- sparse coding: the dictionary's norm ------------------------------------------------------

def _norm_claim(**kwargs):
    ctx = _ctx()
    unit, free = _dictionary_norm.dictionary_norm_matters(ctx, ctx.rng, **kwargs)
    return _only_claim(ctx, "norm-1 constraint"), unit, free


def test_without_the_norm_constraint_the_dictionary_grows_and_the_codes_shrink():
    claim, unit, free = _norm_claim()
    assert claim.passed, claim.detail
    assert np.allclose(unit[:, 0], 1.0)
    assert free[-1, 0] > 10 and free[-1, 1] < 0.3 * unit[-1, 1]  # measured 12.4, 1.10 vs 4.32
    assert np.all(np.diff(free[:, 0]) > 0)  # the columns grow every round


def test_without_the_l1_penalty_the_free_dictionary_does_not_grow():
    # the cause removed: with lam = 0 nothing rewards small codes, and the unconstrained
    # columns stay near norm 1 (measured 1.3)
    claim, _, free = _norm_claim(lam=0.0)
    assert not claim.passed, claim.detail
    assert free[-1, 0] < 2.0


def test_the_projection_is_the_only_difference_between_the_two_runs():
    X, _ = rb.datasets.load_digits()
    x = X[:60].astype(np.float64)
    start = x[:8].T / np.linalg.norm(x[:8].T, axis=0)
    unit = _dictionary_norm._learn(x, start, 0.2, True)
    again = _dictionary_norm._learn(x, start, 0.2, True)
    np.testing.assert_array_equal(unit, again)  # deterministic
    assert np.allclose(unit[:, 0], 1.0)
    np.testing.assert_array_equal(start, x[:8].T / np.linalg.norm(x[:8].T, axis=0))  # not moved


# -- neuroevolution: a noisy fitness -----------------------------------------------------------

def _noise_claim(**kwargs):
    ctx = _ctx()
    rows = _noisy_fitness.averaging_over_plays(ctx, **kwargs)
    return _only_claim(ctx, "averaging over many independent plays"), rows


def test_averaging_over_plays_ranks_players_by_their_real_strength():
    claim, rows = _noise_claim()
    assert claim.passed, claim.detail
    one, avg = rows["one play"], rows["averaged"]
    # every single-play champion was measured perfect (it won its one game)
    assert all(r["measured"] == 1.0 for r in one)
    assert min(r["correlation"] for r in avg) > max(r["correlation"] for r in one)


def test_with_one_play_in_both_runs_nothing_is_gained():
    # the cause removed: "averaged" over one play is the single-play run itself
    claim, rows = _noise_claim(plays=1, runs=1)
    assert not claim.passed, claim.detail
    assert rows["one play"] == rows["averaged"]


def test_the_fast_exact_scorer_is_the_library_player():
    net = _noisy_fitness._net(0)
    thetas = np.random.default_rng(1).normal(0.0, 1.0, (4, 10))
    fast, _ = _noisy_fitness._exact_scores(net, thetas)
    player = rb.evolution.envs.network_player(rb.evolution.PopulationModel(net, thetas),
                                              encoding="lines")
    r = rb.evolution.envs.expected_outcome(player, members=len(thetas))
    np.testing.assert_allclose(fast, np.asarray(r["mean"]["win"]) - r["mean"]["loss"],
                               atol=1e-12)
