"""Two claims of the notes that the tour did not demonstrate (s11), each run at its quick budget,
and run once more with its cause removed, where it must then fail.

Notes sections: "Backpropagation" ("As training nears the global minimum, p increases, so if you
do end up at a local minimum, it will likely be close enough to the global minimum") and
"Statistical (stochastic) training" ("Still, Cauchy training may be much slower than
backprop").
"""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.tour.chapters import _cauchy_speed, backprop
from rosenblatt.tour.context import Context


def _ctx(seed=0):
    return Context(quick=True, rng=np.random.default_rng(seed))


def _minima_claim(seed=0, **kwargs):
    ctx = _ctx(seed)
    rng = ctx.rng
    X = rng.standard_normal((20, 2))  # the data of the chapter's _saddle_points
    y = np.sin(2 * X[:, 0]) * np.cos(X[:, 1])
    backprop._minima_near_global(ctx, rng, X, y, **kwargs)
    (claim,) = ctx.claims
    assert "p (the chance that a point is a minimum" in claim.text
    return claim


def test_training_ends_near_the_best_minimum_with_many_parameters():
    claim = _minima_claim()
    assert claim.passed, claim.detail
    assert "with 33 parameters" in claim.detail


def test_with_few_parameters_the_minima_lie_far_apart():
    # the cause removed: the largest network has 9 parameters, not 33
    claim = _minima_claim(sizes=(1, 2))
    assert not claim.passed, claim.detail
    assert "with 9 parameters" in claim.detail


def test_without_training_p_does_not_rise():
    # the other cause removed: gradient descent that does not move never nears a minimum
    claim = _minima_claim(sizes=(1, 8), starts=20, iterations=5, lr=0.0)
    assert not claim.passed, claim.detail


def _cauchy_claim(seed=0, **kwargs):
    ctx = _ctx(seed)
    ratios = _cauchy_speed.cauchy_against_backprop(ctx, ctx.rng, **kwargs)
    (claim,) = ctx.claims
    assert "Cauchy training may be much slower than backprop" in claim.text
    return claim, ratios


def test_cauchy_training_needs_many_times_the_passes_of_backprop():
    claim, ratios = _cauchy_claim()
    assert claim.passed, claim.detail
    assert len(ratios) == 5 and min(ratios) > 5


def test_an_annealer_given_the_gradient_is_not_many_times_slower():
    # the cause removed: the annealer's moves are gradient steps (the notes' eta = 1), and it
    # still pays a forward and a backward pass a step, and a forward pass for its move
    claim, ratios = _cauchy_claim(runs=3, annealer={"backprop_weight": 1.0, "lr": 0.2})
    assert not claim.passed, claim.detail
    assert max(ratios) < 8


def test_cauchy_is_not_many_times_slower_than_a_crippled_backprop():
    claim, ratios = _cauchy_claim(runs=3, lr=0.01)
    assert not claim.passed, claim.detail
    assert max(ratios) < 5


def test_the_objective_counts_passes_and_its_two_paths_agree():
    net = _cauchy_speed._network(3, 4, seed=1)
    rng = np.random.default_rng(2)
    x, y = rng.uniform(-1, 1, (5, 3)), rng.standard_normal((5, 1))
    objective = _cauchy_speed._Objective(net, x, y)
    tensor = objective()
    assert objective.passes == _cauchy_speed.FORWARD + _cauchy_speed.BACKWARD == 3
    with rb.no_grad():
        value = objective()
    assert objective.passes == 4
    assert isinstance(value, float)
    assert value == pytest.approx(float(tensor.data), rel=1e-12)
