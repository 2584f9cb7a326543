"""The benchmarks' ThreadParallel rows train the same net the same way as their plain rows."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.common import rosenblatt_sgd_epoch  # noqa: E402
from benchmarks.workloads import cnn, rnn  # noqa: E402


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_the_thread_parallel_row_takes_the_plain_rows_steps(kind):
    # two SGD steps each: two threads over batch halves against one thread on the whole
    # batch, from the same start; only the order of the gradients' additions differs
    x, y = rnn.data(2)
    plain = rnn.rosenblatt_fn(kind, x, y)
    halves = rnn.rosenblatt_threads_fn(kind, x, y, threads=2)
    start = [p.data.copy() for p in plain.model.parameters()]
    for p, q in zip(plain.model.parameters(), halves.model.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    plain()
    halves()
    for p, q, s in zip(plain.model.parameters(), halves.model.parameters(), start):
        assert not np.array_equal(p.data, s)  # the steps moved the weights
        np.testing.assert_allclose(q.data, p.data, rtol=1e-5, atol=1e-6)


def test_the_lenet_thread_parallel_row_takes_the_plain_rows_steps():
    x, y = cnn.data(2 * cnn.BATCH)  # two SGD-momentum steps each
    plain = cnn.lenet(np.random.default_rng(0))
    start = [p.data.copy() for p in plain.parameters()]
    halves = cnn.rosenblatt_threads_fn(x, y, threads=2)
    rosenblatt_sgd_epoch(plain, x, y, cnn.BATCH, cnn.LR, cnn.MOMENTUM)()
    halves()
    for p, q, s in zip(plain.parameters(), halves.model.parameters(), start):
        assert not np.array_equal(p.data, s)
        np.testing.assert_allclose(q.data, p.data, rtol=1e-5, atol=1e-6)
