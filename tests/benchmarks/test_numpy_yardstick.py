"""The MLP benchmark's hand-written NumPy loop computes what rosenblatt computes, so the
ratio between the two measures overhead, not a different amount of work."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

mlp = pytest.importorskip("benchmarks.workloads.mlp")
common = pytest.importorskip("benchmarks.common")


def _flat(model):
    return np.concatenate([np.concatenate([layer.W.data.ravel(), layer.b.data.ravel()])
                           for layer in model if hasattr(layer, "W")])


def test_the_numpy_loop_trains_exactly_like_rosenblatt():
    x, y = mlp.data(1000)  # 7 full batches and a short last one
    model = mlp.rosenblatt_model()
    start = [(layer.W.data.copy(), layer.b.data.copy()) for layer in model if hasattr(layer, "W")]
    before = _flat(model)
    by_hand = mlp.numpy_fn(x, y, init=start)
    by_rosenblatt = common.rosenblatt_sgd_epoch(model, x, y, mlp.BATCH, mlp.LR, mlp.MOMENTUM)
    for _ in range(2):
        by_hand()
        by_rosenblatt()
    moved = np.abs(_flat(model) - before).max()
    assert moved > 1e-2
    np.testing.assert_allclose(by_hand.theta, _flat(model), rtol=0, atol=1e-4 * moved)


def test_the_loop_over_batch_halves_on_two_threads_trains_like_the_numpy_loop():
    bound = pytest.importorskip("benchmarks.mlp_bound")
    x, y = mlp.data(10 * mlp.BATCH)  # full batches only: the split loop needs them
    by_hand, split = mlp.numpy_fn(x, y), bound.split_numpy_loop(x, y)
    before = by_hand.theta.copy()
    try:
        for _ in range(2):
            by_hand()
            split()
    finally:
        split.close()
    moved = np.abs(by_hand.theta - before).max()
    assert moved > 1e-2
    np.testing.assert_allclose(split.theta, by_hand.theta, rtol=0, atol=1e-4 * moved)
