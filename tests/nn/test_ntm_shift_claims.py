"""NTM location addressing, the notes' claim about repeated shifts (notes: "Location-based
addressing"): an unsharp shift weighting disperses the weighting over time; gamma >= 1
re-sharpens it.

The claim, quoted: "Over time, the shift weighting, if it isn't "sharp", can cause weightings
to disperse over time. For example, with permitted shifts of -1, 0, 1 and s_t = [0.1, 0.8, 0.1],
the single point gets slightly blurred across the three points To counter this, each head also
emits a scalar gamma_t >= 1 that is used to (re)sharpen the final weighting".
"""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.nn.ntm_addressing import sharpen, shift

N = 16  # memory locations
STEPS = 12
UNSHARP = [0.1, 0.8, 0.1]  # the notes' example, over the shifts -1, 0, 1


def entropy(w):
    w = w[w > 0]
    return float(-(w * np.log(w)).sum())


def run_head(s, gamma, start=3, steps=STEPS):
    """A head that only shifts: w_t = sharpen(shift(w_{t-1}, s), gamma), from a one-hot w_0.

    Returns the weightings w_0 .. w_steps, shape (steps + 1, N).
    """
    w = np.zeros((1, 1, N))
    w[0, 0, start] = 1.0
    path = [w[0, 0]]
    for _ in range(steps):
        w = shift(rb.tensor(w, dtype=np.float64), rb.tensor([[s]], dtype=np.float64)).data
        w = sharpen(rb.tensor(w, dtype=np.float64),
                    rb.tensor([[gamma]], dtype=np.float64)).data
        path.append(w[0, 0])
    return np.array(path)


@pytest.mark.parametrize("start", [0, 3, 11])  # wrapping at the edge or not: the same claim
def test_an_unsharp_shift_disperses_a_one_hot_weighting_over_time(start):
    # "the single point gets slightly blurred across the three points" ... "over time"
    path = run_head(UNSHARP, gamma=1.0, start=start)  # gamma = 1: no sharpening at all
    np.testing.assert_allclose(path[1][(start + np.array([-1, 0, 1])) % N], UNSHARP)
    peaks = path.max(axis=1)
    spread = np.array([entropy(w) for w in path])
    assert np.all(np.diff(peaks) < 0) and np.all(np.diff(spread) > 0)  # worse at every step
    assert peaks[-1] < 0.35, peaks  # measured 0.27 after 12 steps: the point is a smear
    np.testing.assert_allclose(path.sum(axis=1), 1.0)  # blurred, not lost
    assert path[-1].argmax() == start  # the shift is symmetric: the centre stays put


def test_a_sharp_shift_does_not_disperse():
    # the cause of the blur is the unsharp s: with s = [0, 1, 0] the point stays a point
    path = run_head([0.0, 1.0, 0.0], gamma=1.0)
    np.testing.assert_array_equal(path.max(axis=1), 1.0)


@pytest.mark.parametrize("gamma", [2.0, 3.0])
def test_sharpening_with_gamma_above_one_keeps_the_weighting_focused(gamma):
    # "each head also emits a scalar gamma_t >= 1 that is used to (re)sharpen"
    blurred = run_head(UNSHARP, gamma=1.0)
    sharpened = run_head(UNSHARP, gamma=gamma)
    peaks = sharpened.max(axis=1)
    assert peaks.min() > 0.95, peaks  # measured 0.96 (gamma 2) and 0.99 (gamma 3) at worst
    assert entropy(sharpened[-1]) < 0.25 * entropy(blurred[-1])
    assert np.all(sharpened.argmax(axis=1) == 3)


def test_sharpening_refocuses_an_already_blurred_weighting():
    # re-sharpen: after 12 unsharp steps (peak 0.27), one gamma step brings the peak back up
    blurred = run_head(UNSHARP, gamma=1.0)[-1]
    again = sharpen(rb.tensor(blurred[None, None], dtype=np.float64),
                    rb.tensor([[10.0]], dtype=np.float64)).data[0, 0]
    assert blurred.max() < 0.35 and again.max() > 0.8  # measured 0.27 -> 0.84
    assert again.argmax() == blurred.argmax()
