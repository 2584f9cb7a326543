"""Fixes of the s11 audit of the optimizers (h1's findings): one test (or a few) per finding."""

import importlib.util

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff import _kernels
from rosenblatt.optim.sgd import sgd_rule

needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                 reason="the fast extra (numba) is not installed")


# -- 1. SGD(nesterov=True): the compiled pass rounds as the NumPy rule, bit for bit --------------
@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nesterov_kernel_equals_the_numpy_rule_bit_for_bit(dtype):
    rng = np.random.default_rng(1)
    start = rng.standard_normal(5000).astype(dtype)  # above the kernel's minimum size
    grads = [rng.standard_normal(5000).astype(dtype) for _ in range(3)]
    results = []
    try:
        for use in (True, False):
            _kernels.use_numba(use)
            theta, velocity, buf = start.copy(), np.zeros_like(start), np.empty_like(start)
            for t, g in enumerate(grads):
                sgd_rule(theta, g, velocity, buf, lr=0.0123, momentum=0.87, nesterov=True,
                         weight_decay=1e-3, first=t == 0)
            results.append(theta)
    finally:
        _kernels.use_numba(None)
    np.testing.assert_array_equal(results[0], results[1])


@needs_numba
def test_nesterov_step_part_over_small_shards_is_the_whole_step():
    def run(parts):
        w = rb.nn.Parameter(np.random.default_rng(0).normal(size=5000))
        opt = rb.optim.SGD([w], lr=0.0123, momentum=0.87, nesterov=True)
        r = np.random.default_rng(1)
        for _ in range(3):
            opt.zero_grad()
            w.grad = r.normal(size=5000)
            t = opt.t
            for lo in range(0, 5000, 5000 // parts):
                opt.t = t
                opt.step_part(slice(lo, lo + 5000 // parts))
        return w.data
    np.testing.assert_array_equal(run(1), run(2))


# -- 3. CauchyAnnealer(saturation=...): model and level checked when it is built ----------------
def _saturating_net():
    rb.seed(0)
    return rb.nn.Sequential(rb.nn.Dense(3, 4), rb.nn.Tanh(), rb.nn.Dense(4, 1))


@pytest.mark.parametrize("level, error, match", [
    (1.5, ValueError, r"saturation's level .* must be in \[0, 1\); got 1.5"),
    (-1.0, ValueError, r"saturation's level .* must be finite and >= 0"),
    (float("nan"), ValueError, r"saturation's level .* must be finite"),
    ("0.9", TypeError, r"saturation's level .* must be a number"),
])
def test_cauchy_saturation_level_is_checked_when_built(level, error, match):
    net = _saturating_net()
    with pytest.raises(error, match=match):
        rb.optim.CauchyAnnealer(net.parameters(), squash=0.5,
                                saturation=(net, np.ones((2, 3)), level))


@pytest.mark.parametrize("which", ["layer", "parameters"])
def test_cauchy_saturation_model_must_be_a_sequential_when_built(which):
    net = _saturating_net()
    model = net[0] if which == "layer" else net.parameters()
    with pytest.raises(TypeError, match="CauchyAnnealer: saturation's model must be an rb.nn.Seq"):
        rb.optim.CauchyAnnealer(net.parameters(), squash=0.5, saturation=(model, np.ones((2, 3))))


def test_cauchy_saturation_with_a_good_level_still_squashes():
    net = _saturating_net()
    X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32) * 50
    ann = rb.optim.CauchyAnnealer(net.parameters(), T0=1e-12, squash=0.5,
                                  saturation=(net, X, 0.5), rng=0)
    ann.step(lambda: 0.0)  # a negligible move, always accepted; then the squash
    assert np.abs(net[0].W.data).max() <= 0.5  # every tanh unit saturated: squashed


# -- 7. LBFGS: a history_size written since the last step is saved with a memory of its size ----
def _rosen(w):
    x, y = w[:-1], w[1:]
    return ((1 - x) ** 2).sum() + (100.0 * (y - x * x) ** 2).sum()


@pytest.mark.parametrize("before, after", [(10, 5), (3, 10), (10, np.int64(2))])
def test_lbfgs_state_saved_after_a_history_size_write_loads_and_resumes(before, after):
    start = np.array([-1.2, 1.0, -0.5, 0.8])
    w = rb.nn.Parameter(start.copy())
    opt = rb.optim.LBFGS([w], max_iter=4, history_size=before)
    opt.step(lambda: _rosen(w))
    opt.history_size = after
    state = opt.state_dict()
    assert state["S"].shape == (after, 4) and state["rho"].shape == (after,)
    resumed = rb.optim.LBFGS([rb.nn.Parameter(w.data.copy())], max_iter=4)
    resumed.load_state_dict(state)
    w2 = resumed.params[0]
    for _ in range(2):
        opt.step(lambda: _rosen(w))
        resumed.step(lambda: _rosen(w2))
    np.testing.assert_array_equal(w.data, w2.data)
