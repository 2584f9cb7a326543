"""Test problems: the sizes of the sampled true fronts."""

import numpy as np
import pytest

from rosenblatt.evolution import problems


@pytest.mark.parametrize("M, n", [(2, 2), (3, 3), (3, 5), (3, 20), (4, 4), (5, 5), (5, 30)])
def test_dtlz2_true_front_gives_at_most_n_points(M, n):
    front = problems.DTLZ2(M).true_front(n)
    assert M <= len(front) <= n and front.shape[1] == M
    np.testing.assert_allclose(np.linalg.norm(front, axis=1), 1.0)


@pytest.mark.parametrize("M, n", [(3, 2), (5, 3), (4, 1)])
def test_dtlz2_true_front_needs_at_least_the_corners(M, n):
    # the smallest lattice is the M corners (one point per objective)
    with pytest.raises(ValueError, match=f"DTLZ2: n_points must be an integer >= {M}; got {n}"):
        problems.DTLZ2(M).true_front(n)
