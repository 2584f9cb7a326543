"""Fixes of the s11 audit of the engine (h1's findings): one test (or a few) per finding."""

import numpy as np
import pytest

import rosenblatt as rb


# -- 2. d(a**b)/db at a = 0, b < 0: PyTorch's -inf (a^b ln a = inf * -inf), not NaN -------------
@pytest.mark.parametrize("array_base", [False, True])
def test_power_exponent_gradient_at_a_zero_base_is_pytorchs(array_base):
    b = rb.tensor(np.array([2.0, 0.0, -1.0, -0.5, np.nan]), requires_grad=True)
    base = rb.tensor(np.zeros(5)) if array_base else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        (base ** b).backward(np.ones(5))
    np.testing.assert_array_equal(b.grad, [0.0, 0.0, -np.inf, -np.inf, np.nan])


def test_power_exponent_gradient_at_a_zero_base_keeps_float32():
    b = rb.tensor(np.array([-1.0, 1.0], np.float32), requires_grad=True)
    with np.errstate(divide="ignore"):
        (0.0 ** b).backward(np.ones(2, np.float32))
    assert b.grad.dtype == np.float32
    np.testing.assert_array_equal(b.grad, [-np.inf, 0.0])


# -- 4. rb.pad: a pad_width that does not fit x's axes is refused naming pad and the axes ------
@pytest.mark.parametrize("pad_width", [((1, 1), (1, 1), (1, 1)), [1, 2, 3], ((1, 2, 3), (1, 2, 3))])
def test_pad_width_that_does_not_fit_is_refused_clearly(pad_width):
    x = rb.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"pad: pad_width must be \(before, after\) for each of "
                                         r"the 2 axes of x \(shape \(2, 3\)\)"):
        rb.pad(x, pad_width)


def test_pad_widths_that_fit_still_pad():
    x = rb.tensor(np.ones((2, 3)), requires_grad=True)
    assert rb.pad(x, 1).shape == (4, 5)
    assert rb.pad(x, (1, 2)).shape == (5, 6)
    y = rb.pad(x, ((1, 0), (0, 2)))
    y.backward(np.arange(15.0).reshape(3, 5))
    np.testing.assert_array_equal(x.grad, np.arange(15.0).reshape(3, 5)[1:, :3])


# -- 5. rb.split: indices_or_sections that is neither an int nor a sequence of ints ---------------
@pytest.mark.parametrize("arg, match", [
    (2.0, r"split: indices_or_sections must be an int \(that many equal parts\) or a sequence"),
    ("2", r"split: indices_or_sections must be an int"),
    (None, r"split: indices_or_sections must be an int"),
    ([1.5, 3], r"split: each index to cut at must be an integer; got float 1.5"),
])
def test_split_refuses_bad_sections_clearly(arg, match):
    with pytest.raises(TypeError, match=match):
        rb.split(rb.tensor(np.arange(6.0), requires_grad=True), arg)


@pytest.mark.parametrize("arg", [3, np.int64(2), [1, 4], np.array([2, 5]), [-2]])
def test_split_still_splits_as_numpy(arg):
    x = rb.tensor(np.arange(6.0), requires_grad=True)
    parts = rb.split(x, arg)
    assert [p.shape for p in parts] == [a.shape for a in np.split(np.arange(6.0), arg)]

