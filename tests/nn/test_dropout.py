"""Dropout: both forms of the notes' listings, rates, gradients, eval mode, errors."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import nn


@pytest.mark.parametrize("inverted", [True, False])
def test_rate_is_the_fraction_dropped_and_expectation_is_kept(inverted, rng):
    layer = nn.Dropout(0.3, inverted=inverted, rng=rng)
    x = rb.tensor(np.ones((400, 500)))
    y = layer(x).data
    assert abs((y == 0).mean() - 0.3) < 0.005
    kept = y[y != 0]
    np.testing.assert_allclose(kept, 1 / 0.7 if inverted else 1.0, rtol=1e-6)
    test_time = layer.eval()(x).data
    # the same expected output in training and at test time
    assert abs(y.mean() - test_time.mean()) < 0.01
    np.testing.assert_allclose(test_time, 1.0 if inverted else 0.7, rtol=1e-6)


def test_matches_the_notes_listings(rng):
    """Same uniform draws as ``np.random.rand(*H.shape) < p`` with p = 1 - rate."""
    p = 0.5
    h = rng.normal(size=(3, 7)).astype(np.float32)
    u = np.random.default_rng(7).random(h.shape, dtype=np.float32)
    inverted = nn.Dropout(1 - p, rng=np.random.default_rng(7))(rb.tensor(h)).data
    np.testing.assert_allclose(inverted, h * ((u < p) / p))
    classic = nn.Dropout(1 - p, inverted=False, rng=np.random.default_rng(7))
    np.testing.assert_allclose(classic(rb.tensor(h)).data, h * (u < p))
    np.testing.assert_allclose(classic.eval()(rb.tensor(h)).data, h * p)


def test_gradient_uses_the_same_mask(rng):
    x = rb.tensor(rng.normal(size=(4, 6)), requires_grad=True)
    y = nn.Dropout(0.5, rng=rng)(x)
    g = rng.normal(size=y.shape)
    y.backward(g)
    mask = y.data / x.data
    np.testing.assert_allclose(x.grad, g * mask)
    assert rb.gradcheck(lambda t: nn.functional.dropout(t, 0.4, rng=np.random.default_rng(1)),
                        rb.tensor(rng.normal(size=(3, 4)), requires_grad=True))
    assert rb.gradcheck(lambda t: nn.functional.dropout(t, 0.4, training=False, inverted=False),
                        rb.tensor(rng.normal(size=(3, 4)), requires_grad=True))


def test_off_in_eval_and_seeded_by_rb_seed():
    x = rb.tensor(np.ones((5, 5)))
    layer = nn.Dropout(0.5).eval()
    assert layer(x) is x
    rb.seed(3)
    a = nn.Dropout(0.5)(x).data
    rb.seed(3)
    np.testing.assert_array_equal(a, nn.Dropout(0.5)(x).data)
    assert nn.Dropout(0.0)(x) is x


def test_errors_and_repr():
    for bad in (1.0, -0.1, "half", True):
        with pytest.raises(ValueError, match=r"Dropout: rate \(the fraction dropped\) must be in "
                                             r"\[0, 1\)"):
            nn.Dropout(bad)
    assert repr(nn.Dropout(0.2, inverted=False)) == "Dropout(rate=0.2, inverted=False)"


def test_an_int_seed_gives_a_stream_of_masks_not_one_mask():
    """rng=0 seeds one generator in __init__: successive calls draw new masks, reproducibly."""
    x = rb.tensor(np.ones((4, 64), np.float32))
    a, b = nn.Dropout(0.5, rng=0), nn.Dropout(0.5, rng=0)
    first, second = a(x).data, a(x).data
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(b(x).data, first)
    np.testing.assert_array_equal(b(x).data, second)


@pytest.mark.parametrize("rate", [-0.5, 1.0, 1.5, float("nan"), True])
def test_functional_dropout_checks_the_rate_like_the_layer(rate):
    x = rb.tensor(np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match=r"dropout: rate .* must be in \[0, 1\)"):
        nn.functional.dropout(x, rate)
    with pytest.raises(ValueError, match=r"Dropout: rate .* must be in \[0, 1\)"):
        nn.Dropout(rate)
