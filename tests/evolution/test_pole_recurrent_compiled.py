"""Pole balancing with fully recurrent controllers in one compiled call against NumPy.

:meth:`CartPole.evaluate` runs whole trials in ``_numba_pole.recurrent_pole_episodes``
when the policy is a :class:`RecurrentPopulationModel` with ``outputs`` (the networks
CoSyNE evolves without velocities) and ``fast=True``, and the kernels are on. The kernel sums in the
NumPy step's order; the one arithmetic left that differs is ``tanh`` (libm's in the
kernel, NumPy's own in ~30% of last bits), and these saturated controllers amplify
a last-bit difference until trajectories part after ~100 decisions. So: with libm's
tanh swapped into the NumPy step, trials agree (same steps, Gruau fitness to 1e-9) on
many weights and starts; with NumPy's own, the first decisions agree to 1e-9.
"""

import importlib.util
import math

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff import _kernels
from rosenblatt.evolution import recurrent
from rosenblatt.evolution.envs.pole import CartPole, generalization_starts
from rosenblatt.evolution.recurrent import RecurrentPopulationModel

# a fully recurrent network of 3 tanh neurons (RNN(3, 3) layout: W_x, W_h, b) that CoSyNE
# (benchmarks/cosyne_claims.py, seed 0) evolved: balances two poles without velocities for
# 100,000 steps and 310 of the 625 generalisation starts
SOLUTION = [-6.267554026032111, -12.55606738395728, -15.816118361080187, -28.739963067942504,
            27.218346348484577, 10.312348732470483, 20.52524336187814, -14.677895689538234,
            2.9862577710975593, -1.8770901553845727, 34.426042933486656, -3.6484061130681407,
            -0.4163695925602351, -2.013829020060272, 15.285312131981614, 0.1799557390971869,
            -3.1602462047041, -1000.6201216476283, 0.4471181143955526, 13.046574041763865,
            -60.33217210113725]

HAVE_NUMBA = importlib.util.find_spec("numba") is not None
needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="the fast extra (numba) is not installed")


def _net(neurons=3, nonlinearity="tanh"):
    return rb.nn.Sequential(rb.nn.RNN(3, neurons, nonlinearity=nonlinearity,
                                      rng=0)).astype(np.float64)


def _weights(seed, neurons=3, count=40):
    """The solution jittered by up to 20% (3 neurons), and Cauchy weights as CoSyNE's first
    generation draws them: long, short and failing trials."""
    rng = np.random.default_rng(seed)
    size = neurons * (3 + neurons + 1)
    X = rng.standard_cauchy((count, size))
    if neurons == 3:
        sol = np.array(SOLUTION)
        X[: count // 2] = sol * rng.uniform(0.8, 1.2, (count // 2, size))
        X[0] = sol
    return X


def _starts(P, seed):
    s = generalization_starts()[np.random.default_rng(seed).choice(625, P)]
    s[: P // 2] = 0.0  # half from the standard start
    s[: P // 2, 2] = 0.07
    return s


@pytest.fixture
def libm_tanh(monkeypatch):
    """The NumPy step with the kernel's tanh (libm's), so both paths round alike."""
    monkeypatch.setattr(recurrent, "_tanh", np.vectorize(math.tanh, otypes=[float]))


def _both(env, net, X, starts=None, outputs=1):
    try:
        _kernels.use_numba(True)
        pop = RecurrentPopulationModel(net, X, outputs=outputs, fast=True)
        assert pop.compiled_weights() is not None
        fast = env.evaluate(pop, starts=starts)
        _kernels.use_numba(False)
        slow_pop = RecurrentPopulationModel(net, X, outputs=outputs, fast=True)
        assert slow_pop.compiled_weights() is None
        slow = env.evaluate(slow_pop, starts=starts)
    finally:
        _kernels.use_numba(None)
    return fast, slow, pop


@needs_numba
@pytest.mark.parametrize("seed,neurons,fitness,standard", [
    (0, 3, "gruau", True), (1, 3, "gruau", False), (2, 3, "steps", True),
    (3, 3, "steps", False), (4, 5, "gruau", False), (5, 1, "steps", True)])
def test_compiled_recurrent_trials_match_the_numpy_loop(libm_tanh, seed, neurons, fitness,
                                                        standard):
    if not np.array_equal(np.sin(np.linspace(-1, 1, 1001)),
                          [math.sin(v) for v in np.linspace(-1, 1, 1001)]):
        pytest.skip("NumPy's sin is not libm's on this platform: trajectories part by chaos")
    T = 1000 if fitness == "gruau" else 2000
    env = CartPole(2, False, max_steps=T, fitness=fitness)
    X = _weights(seed, neurons)
    starts = None if standard else _starts(len(X), seed)
    fast, slow, pop = _both(env, _net(neurons), X, starts)
    if fitness == "steps":
        np.testing.assert_array_equal(fast, slow)
        assert pop.size == len(X)  # the population passed in stays whole
        assert len(np.unique(fast)) > 5  # short and long trials
    else:  # Gruau's f2 sums its 100 terms in another order
        np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=0)
        assert len(np.unique(fast)) > 5
    if neurons == 3 and standard:
        assert (fast >= (0.1 if fitness == "gruau" else T)).sum() >= 3  # some balance it all


@needs_numba
def test_relu_units_and_several_outputs_match(libm_tanh):
    env = CartPole(2, False, max_steps=300, fitness="gruau")
    X = np.random.default_rng(6).normal(0, 2, (30, 4 * 8))
    fast, slow, _ = _both(env, _net(4, "relu"), X, outputs=2)
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=0)


@needs_numba
def test_with_numpys_tanh_the_first_decisions_agree():
    """NumPy's tanh differs from libm's in last bits: the states still agree to 1e-9 over
    the first 60 decisions (they part later: the controllers amplify rounding)."""
    env = CartPole(2, False, max_steps=1000, fitness="gruau")
    X, K = _weights(7), 60
    net = _net()
    trace = np.zeros((K, len(X), 6))
    s = env.initial_state(len(X))
    try:
        _kernels.use_numba(True)
        env._compiled(RecurrentPopulationModel(net, X, outputs=1, fast=True), len(X), 1000, s,
                      trace)
        _kernels.use_numba(False)
        pop = RecurrentPopulationModel(net, X, outputs=1)
        pop.reset()
        seen = np.zeros((K, len(X), 6))
        for t in range(K):  # the NumPy step and physics, carts never dropped
            force = np.clip((pop.step(env.observe(s))[:, 0] - 0.5) * 20.0, -10.0, 10.0)
            s = rb.evolution.envs.pole.rk4(rb.evolution.envs.pole.rk4(s, force, 2), force, 2)
            seen[t] = s.T
    finally:
        _kernels.use_numba(None)
    alive = np.isfinite(trace)
    assert alive[-1].all(axis=1).sum() >= 15  # many carts still up after 60 decisions
    np.testing.assert_allclose(trace[alive], seen[alive], rtol=0, atol=1e-9)


@needs_numba
def test_solution_passes_the_papers_tests_compiled():
    """The 100,000 steps and the generalisation test, each in one compiled call."""
    net = _net()
    env = CartPole(2, False, max_steps=100_000)
    pop = RecurrentPopulationModel(net, np.array([SOLUTION]), outputs=1, fast=True)
    assert env.evaluate(pop)[0] == 100_000
    general = env.generalization(RecurrentPopulationModel(net, np.array([SOLUTION] * 2),
                                                          outputs=1, fast=True), steps=1000)
    assert general[0] == general[1] >= 200


def test_numpy_path_without_numba(monkeypatch):
    monkeypatch.setenv("ROSENBLATT_NO_NUMBA", "1")
    net = _net()
    X = _weights(8, count=6)
    pop = RecurrentPopulationModel(net, X, outputs=1, fast=True)
    assert pop.compiled_weights() is None
    steps = CartPole(2, False, max_steps=50).evaluate(pop)
    assert steps.shape == (6,) and steps[0] == 50
    monkeypatch.delenv("ROSENBLATT_NO_NUMBA")
    assert RecurrentPopulationModel(net, X, outputs=1).compiled_weights() is None  # opt-in
    elman = rb.nn.Sequential(rb.nn.RNN(3, 2), rb.nn.Dense(2, 1), rb.nn.Sigmoid())
    elman_pop = RecurrentPopulationModel(elman, np.zeros((2, 15)), fast=True)
    assert elman_pop.compiled_weights() is None
    if HAVE_NUMBA:
        assert pop.compiled_weights() is not None
        assert pop.take([0]).compiled_weights() is not None
