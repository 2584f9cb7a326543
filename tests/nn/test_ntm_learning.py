"""What the notes and the paper claim an NTM learns, on small budgets and fixed seeds."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.tour.chapters.ntm import (
    copy_recipe,
    evaluate_copy,
    train_copy,
    write_moves,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def copier():
    """An NTM trained on the copy task with lengths 1-5 and 8-bit vectors (~1,200 updates)."""
    net = rb.nn.NTM(9, 8, controller_size=32, memory_size=(16, 8), rng=np.random.default_rng(0))
    curve = train_copy(net, copy_recipe(net, lr=3e-3), lengths=(1, 5), rounds=10,
                       per_round=2000)
    return net, curve


def test_ntm_learns_to_copy_short_sequences(copier):
    net, curve = copier
    assert curve[0] > 5  # it started from guessing (~4 bits wrong in 8 per step)
    for length in (1, 3, 5):
        assert evaluate_copy(net, length) < 0.25, length


def test_write_weighting_moves_one_location_per_step(copier):
    net, _ = copier
    X, _, _ = rb.datasets.copy_bits(32, length=5, bits=8, rng=3)
    with net.evaluating(), rb.no_grad():
        _, trace = net(rb.tensor(X), return_trace=True)
    assert write_moves(trace, 5) >= 0.9
    # and the weighting is sharp: most of its mass on one location
    assert np.median(trace["write_weightings"][:, :5, 0].max(axis=-1)) > 0.8
