"""Boltzmann and Cauchy training reduce the loss of a small network on XOR."""

import math

import numpy as np
import pytest

import rosenblatt as rb

from .helpers import XorNet, xor_loss


def test_boltzmann_annealing_reduces_xor_loss():
    net = XorNet(hidden=4, rng=2)
    start = xor_loss(net).item()
    ann = rb.optim.BoltzmannAnnealer(net.parameters(), T0=0.3, k=0.002, rng=0)
    for _ in range(1500):
        ann.step(lambda: xor_loss(net))
    assert ann.loss < start / 10
    assert ann.restore_best() <= ann.loss
    assert xor_loss(net).item() == pytest.approx(ann.best_loss)


def test_cauchy_annealing_reduces_xor_loss():
    net = XorNet(hidden=4, rng=2)
    start = xor_loss(net).item()
    ann = rb.optim.CauchyAnnealer(net.parameters(), T0=5.0, rho=1.0, k=0.01, squash=8.0, rng=0)
    for _ in range(1000):
        ann.step(lambda: xor_loss(net))
    assert ann.loss < start / 4
    assert np.all(np.abs(ann.vec.data) <= 8.0)


def test_cauchy_mixed_with_backprop_solves_xor():
    net = XorNet(hidden=4, rng=2)
    ann = rb.optim.CauchyAnnealer(net.parameters(), T0=0.1, rho=0.1, backprop_weight=0.9,
                                  momentum=0.5, lr=2.0, k=0.001, rng=0)
    for _ in range(800):
        ann.step(lambda: xor_loss(net))
    assert ann.loss < 0.01


def test_annealers_are_reproducible_and_cool():
    def run():
        net = XorNet(rng=2)
        ann = rb.optim.BoltzmannAnnealer(net.parameters(), T0=0.3, k=0.01, rng=5)
        for _ in range(50):
            ann.step(lambda: xor_loss(net))
        return ann.vec.data.copy(), ann

    a, ann = run()
    b, _ = run()
    np.testing.assert_array_equal(a, b)
    assert ann.temperature(1) == pytest.approx(0.3 / math.log(2))
    assert ann.temperature(100) < ann.temperature(10)
    cauchy = rb.optim.CauchyAnnealer([rb.nn.Parameter(np.zeros(2))], T0=2.0)
    assert cauchy.temperature(0) == 2.0 and cauchy.temperature(3) == 0.5


def test_metropolis_rule():
    rng = np.random.default_rng(0)
    accept = rb.optim.annealing.metropolis_accept
    assert accept(-1.0, 1.0, 1.0, rng) and accept(0.0, 1.0, 1.0, rng)
    assert not accept(math.inf, 1.0, 1.0, rng) and not accept(math.nan, 1.0, 1.0, rng)
    rate = np.mean([accept(1.0, 1.0, 2.0, rng) for _ in range(4000)])
    assert rate == pytest.approx(math.exp(-0.5), abs=0.03)


def test_non_finite_moves_are_rejected():
    w = rb.nn.Parameter(np.array([1.0]))
    ann = rb.optim.CauchyAnnealer([w], T0=1.0, rng=0)
    ann.step(lambda: float(w.data[0] ** 2))  # fine
    before = w.data.copy()
    ann.step(lambda: math.nan)
    np.testing.assert_array_equal(w.data, before)


def test_backprop_mixing_needs_a_tensor_closure():
    w = rb.nn.Parameter(np.array([1.0]))
    ann = rb.optim.CauchyAnnealer([w], T0=1.0, backprop_weight=0.5)
    with pytest.raises(TypeError, match="closure must return a Tensor"):
        ann.step(lambda: 1.0)


def test_squashing_only_the_saturated_units():
    net = rb.nn.Sequential(rb.nn.Dense(2, 3, rng=0, dtype=np.float64), rb.nn.Tanh(),
                           rb.nn.Dense(3, 1, rng=1, dtype=np.float64), rb.nn.Sigmoid())
    net[0].W.data[:, 0] = [40.0, 40.0]  # unit 0 saturates on positive inputs
    net[0].b.data[0] = 30.0
    X = np.array([[1.0, 1.0], [0.5, 1.0]])
    found = rb.optim.annealing.saturated_units(net, X)
    assert len(found) == 1 and found[0][0] is net[0]
    assert found[0][1].tolist() == [True, False, False]
    others = net[0].W.data[:, 1:].copy()
    ann = rb.optim.CauchyAnnealer(net.parameters(), T0=1e-12, squash=5.0, saturation=(net, X),
                                  rng=0)
    ann.step(lambda: 0.0)  # a negligible move, always accepted; then the squash
    np.testing.assert_allclose(net[0].W.data[:, 0], 5 * np.tanh(8.0), rtol=1e-9)
    assert net[0].b.data[0] == pytest.approx(5 * np.tanh(6.0))
    np.testing.assert_allclose(net[0].W.data[:, 1:], others, atol=1e-9)
    with pytest.raises(ValueError, match="saturation=\\(model, X\\) needs squash=R"):
        rb.optim.CauchyAnnealer(net.parameters(), T0=1.0, saturation=(net, X))
    with pytest.raises(TypeError, match="saturated_units: expected an rb.nn.Sequential"):
        rb.optim.annealing.saturated_units(net[0], X)
    with pytest.raises(TypeError, match=r"saturation must be \(model, X\) or \(model, X, level\); "
                                        r"got float 0.9"):
        rb.optim.CauchyAnnealer(net.parameters(), T0=1.0, squash=5.0, saturation=0.9)
