"""The NTM tasks (copy, repeat copy, associative recall) and the bit-error metric, checked
sequence by sequence against their definitions."""

import numpy as np
import pytest

import rosenblatt as rb


def test_copy_bits_layout():
    X, Y, mask = rb.datasets.copy_bits(50, length=(1, 6), bits=5, rng=0)
    assert X.shape == (50, 13, 6) and Y.shape == (50, 13, 5) and mask.shape == (50, 13)
    for x, y, m in zip(X, Y, mask):
        L = int(np.flatnonzero(x[:, 5])[0])  # the delimiter
        assert 1 <= L <= 6 and x[:, 5].sum() == 1
        np.testing.assert_array_equal(y[L + 1:2 * L + 1], x[:L, :5])
        np.testing.assert_array_equal(m, (np.arange(13) > L) & (np.arange(13) <= 2 * L))
        assert not x[L + 1:].any() and not y[~m].any()
    lengths = X[:, :, 5].argmax(axis=1)
    assert set(lengths) == set(range(1, 7))


def test_repeat_copy_layout():
    X, Y, mask = rb.datasets.repeat_copy(40, length=(1, 4), repeats=(1, 3), bits=3, rng=1)
    T = 4 + 1 + 12 + 1
    assert X.shape == (40, T, 5) and Y.shape == (40, T, 4)
    for x, y, m in zip(X, Y, mask):
        L = int(np.flatnonzero(x[:, 3])[0])
        R = int(round(x[L, 4] * 3))
        assert 1 <= R <= 3
        want = np.tile(x[:L, :3], (R, 1))
        np.testing.assert_array_equal(y[L + 1:L + 1 + L * R, :3], want)
        assert y[L + 1 + L * R, 3] == 1 and y[:, 3].sum() == 1
        assert m.sum() == L * R + 1 and m[L + 1] and m[L + 1 + L * R]


def test_associative_recall_layout():
    X, Y, mask = rb.datasets.associative_recall(40, items=(2, 5), item_length=3, bits=4, rng=2)
    for x, y, m in zip(X, Y, mask):
        starts = np.flatnonzero(x[:, 4])
        items = [x[s + 1:s + 4, :4] for s in starts]
        q0, q1 = np.flatnonzero(x[:, 5])
        assert q1 - q0 == 4
        query = x[q0 + 1:q1, :4]
        k = [i for i, item in enumerate(items) if np.array_equal(item, query)][0]
        assert k < len(items) - 1
        np.testing.assert_array_equal(y[m], items[k + 1])
        assert list(np.flatnonzero(m)) == [q1 + 1, q1 + 2, q1 + 3]


def test_bit_errors():
    X, Y, mask = rb.datasets.copy_bits(10, length=4, bits=8, rng=3)
    logits = np.where(Y > 0.5, 5.0, -5.0)
    assert rb.datasets.bit_errors_per_sequence(logits, Y, mask) == 0
    logits[:, 5, 0] *= -1  # one wrong bit per sequence on a scored step
    logits[:, 0, 0] = 5.0 if Y[0, 0, 0] < 0.5 else -5.0  # unscored: not counted
    assert rb.datasets.bit_errors_per_sequence(logits, Y, mask) == 1
    masked = rb.datasets.masked_targets(Y, mask)
    assert rb.datasets.bit_errors_per_sequence(logits, masked) == 1
    assert rb.datasets.bit_error_metric(logits, masked) == (10.0, 10)


@pytest.mark.parametrize("call,match", [
    (lambda: rb.datasets.copy_bits(5, length=(4, 2)), "low <= high"),
    (lambda: rb.datasets.copy_bits(5, length=0), "length"),
    (lambda: rb.datasets.associative_recall(5, items=1), "items"),
    (lambda: rb.datasets.repeat_copy(5, repeats=(0, 2)), "repeats"),
    (lambda: rb.datasets.bit_errors_per_sequence(np.zeros((2, 3, 4)), np.zeros((2, 3, 5))),
     "must both be"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
