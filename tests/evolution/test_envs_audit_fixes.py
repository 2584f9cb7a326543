"""Environment fixes: a NaN action fails the trial (NumPy and compiled twins alike), the
policy's action rows are checked, XOR's fitness is bounded by 16."""

import importlib.util

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution.envs import CartPole
from rosenblatt.evolution.recurrent import RecurrentPopulationModel

needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                 reason="the fast extra (numba) is not installed")


@pytest.mark.parametrize("poles", [1, 2])
@pytest.mark.parametrize("fitness", ["steps", "gruau"])
def test_a_nan_action_fails_at_once(poles, fitness):
    env = CartPole(poles=poles, max_steps=500, fitness=fitness)
    got = env.evaluate(lambda o: np.full((len(o), 1), np.nan), population=2)
    np.testing.assert_array_equal(got, [0.0, 0.0])


def test_a_nan_action_after_100_steps_fails_with_finite_gruau_fitness():
    env = CartPole(poles=2, max_steps=500, fitness="gruau")
    t = {"now": 0}

    def policy(obs):  # a still cart (force 0) that stays balanced, then NaN at decision 120
        t["now"] += 1
        return np.full((len(obs), 1), 0.5 if t["now"] <= 120 else np.nan)

    starts = np.zeros((2, 6))  # poles upright and still: balanced by doing nothing
    starts[:, 0] = [0.5, -0.5]  # off centre: the damping term has a finite denominator
    got = env.evaluate(policy, population=2, starts=starts)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, 0.1 * 120 / 1000.0)  # failed at 120, no damping credit


def test_a_network_with_a_nan_weight_scores_zero_not_max_steps():
    m = rb.nn.Sequential(rb.nn.Dense(6, 1, dtype=np.float64), rb.nn.Sigmoid())
    th = np.zeros((2, 7))
    th[1, 0] = np.nan
    got = CartPole(poles=2, max_steps=500).evaluate(rb.evolution.PopulationModel(m, th))
    np.testing.assert_array_equal(got, [22.0, 0.0])


@needs_numba
@pytest.mark.parametrize("fitness", ["steps", "gruau"])
def test_nan_weight_in_a_recurrent_controller_fails_in_both_twins(both, fitness):
    rnn = rb.nn.RNN(3, 2).astype(np.float64)
    th = np.zeros((3, rnn.num_parameters()))
    th[1, 0] = np.nan
    th[2, -1] = np.nan  # a NaN bias: the action is NaN from the first decision
    env = CartPole(poles=2, velocities=False, max_steps=300, fitness=fitness)
    fast, slow = both(lambda: env.evaluate(RecurrentPopulationModel(rnn, th, outputs=1,
                                                                    fast=True)))
    np.testing.assert_array_equal(fast, slow)
    # a NaN input weight: a NaN action at once; a NaN bias of the other unit: one step later
    assert fast[1] == 0.0 and fast[2] == (1.0 if fitness == "steps" else 1e-4) and fast[0] > 0


class _Fixed:
    """Three constant controllers whose step ignores which carts are still balancing."""

    size = 3
    out = np.array([[1.0], [0.0], [0.5]])

    def reset(self, P):
        pass

    def step(self, obs):
        return self.out


@pytest.mark.parametrize("policy, population", [
    (_Fixed(), None),
    (lambda o: np.full(len(o), 0.5), 3),  # (P,) instead of (P, 1)
    (lambda o: np.array([[0.5]]), 3),  # one row for three carts
    (lambda o: np.zeros((len(o), 0)), 3),  # no output
])
def test_actions_must_have_one_row_per_observation(policy, population):
    env = CartPole(poles=1, max_steps=200)
    with pytest.raises(ValueError, match=r"CartPole.evaluate: the policy must return actions "
                                         r"of shape \(\d, >=1\)"):
        env.evaluate(policy, population=population)


def test_population_larger_than_the_policy_is_refused():
    m = rb.nn.Sequential(rb.nn.Dense(6, 1, dtype=np.float64), rb.nn.Sigmoid())
    pop = rb.evolution.PopulationModel(m, np.zeros((3, 7)))
    with pytest.raises(ValueError, match="population must be at most the policy's size 3; got 5"):
        CartPole(poles=2, max_steps=10).evaluate(pop, population=5)
    # fewer is fine (the first networks)
    np.testing.assert_array_equal(CartPole(poles=2, max_steps=10).evaluate(pop, population=2),
                                  [10.0, 10.0])


def test_xor_fitness_is_at_most_16_and_falls_with_the_error():
    env = rb.evolution.envs.XOR()
    assert env.fitness(env.y.astype(float)) == 16.0
    assert env.fitness(np.full((4, 1), 10.0)) == 0.0
    assert env.fitness(np.full((4, 1), -3.0)) == 0.0
    o = env.y + np.linspace(0, 3, 13)[:, None, None]  # each output further off
    f = env.fitness(o)
    assert (f <= 16).all() and (np.diff(f) <= 0).all() and f[-1] == 0.0
    # outputs in [0, 1] (sigmoids, NEAT's) keep the paper's score
    out = np.random.default_rng(0).random((5, 4, 1))
    np.testing.assert_allclose(env.fitness(out), (4 - np.abs(out - env.y).sum(axis=(1, 2))) ** 2)


def test_cne_on_a_linear_output_net_is_not_rewarded_for_far_off_outputs():
    env = rb.evolution.envs.XOR()
    net = rb.nn.Sequential(rb.nn.Dense(2, 2, rng=0), rb.nn.Tanh(),
                           rb.nn.Dense(2, 1, rng=0)).astype(np.float64)
    res = rb.evolution.CNE(net, population=20, rng=0).run(
        lambda th: env.evaluate(rb.evolution.PopulationModel(net, th)), 30, vectorized=True)
    assert res.best_fitness <= 16.0
    assert np.abs(net(rb.tensor(env.X)).data).max() < 2.0
