"""Parzen windows (notes: "Generative Adversarial Networks": the Parzen window estimate)."""

import numpy as np
import pytest
from scipy.special import logsumexp

import rosenblatt as rb
from rosenblatt.models import parzen


def _direct(centres, X, sigma):
    """The kernel density estimate written out: log mean_j N(x; s_j, sigma^2 I)."""
    d = centres.shape[1]
    sq = ((X[:, None, :] - centres[None]) ** 2).sum(axis=2)
    return (logsumexp(-sq / (2 * sigma**2), axis=1) - np.log(len(centres))
            - 0.5 * d * np.log(2 * np.pi * sigma**2))


def test_log_likelihood_equals_the_direct_sum_and_sklearn():
    from sklearn.neighbors import KernelDensity

    rng = np.random.default_rng(0)
    centres, X = rng.normal(size=(300, 5)), rng.normal(size=(40, 5)) * 2
    kde = rb.models.ParzenWindow(sigma=0.7).fit(centres)
    got = kde.log_likelihood(X)
    np.testing.assert_allclose(got, _direct(centres, X, 0.7), rtol=1e-10)
    ref = KernelDensity(bandwidth=0.7, kernel="gaussian").fit(centres).score_samples(X)
    np.testing.assert_allclose(got, ref, rtol=1e-6)  # sklearn sums with a tolerance
    assert rb.models.parzen_log_likelihood(centres, X, sigma=0.7) == pytest.approx(got.mean())


def test_far_points_stay_finite():
    """exp(-d^2 / 2 sigma^2) underflows to 0 for every centre; the log-sum-exp keeps it finite."""
    centres = np.zeros((10, 3))
    X = np.full((2, 3), 40.0)
    got = rb.models.ParzenWindow(sigma=0.1).fit(centres).log_likelihood(X)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, _direct(centres, X, 0.1), rtol=1e-12)


def test_blocks_give_the_same_values(monkeypatch):
    rng = np.random.default_rng(1)
    centres, X = rng.normal(size=(50, 4)), rng.normal(size=(33, 4))
    whole = rb.models.ParzenWindow(sigma=0.5).fit(centres).log_likelihood(X)
    monkeypatch.setattr(parzen, "_BLOCK_ELEMENTS", 120)  # two test rows per block
    np.testing.assert_allclose(
        rb.models.ParzenWindow(sigma=0.5).fit(centres).log_likelihood(X), whole, rtol=1e-12)


def test_chosen_sigma_maximises_validation_log_likelihood():
    rng = np.random.default_rng(2)
    train, val = rng.normal(size=(400, 2)), rng.normal(size=(200, 2))
    grid = np.geomspace(0.02, 3.0, 15)
    kde = rb.models.ParzenWindow(grid=grid).fit(train, validation=val)
    scores = [_direct(train, val, s).mean() for s in grid]
    np.testing.assert_allclose(kde.scores_, scores, rtol=1e-10)
    assert kde.sigma_ == grid[int(np.argmax(scores))]
    assert 0.02 < kde.sigma_ < 3.0  # an interior optimum: too narrow and too wide both lose


def test_without_validation_a_fifth_is_held_out():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 2))
    kde = rb.models.ParzenWindow(rng=0).fit(X)
    assert kde.sigma_ in kde.grid_
    assert len(kde.centres_) == 500
    assert np.argmax(kde.scores_) not in (0, len(kde.grid_) - 1)


def test_samples_have_the_data_mean_and_the_widened_covariance():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(2000, 2)) * [1.0, 2.0]
    kde = rb.models.ParzenWindow(sigma=0.5, rng=0).fit(X)
    s = kde.sample(20000)
    np.testing.assert_allclose(s.mean(axis=0), X.mean(axis=0), atol=0.05)
    np.testing.assert_allclose(np.cov(s.T), np.cov(X.T) + 0.25 * np.eye(2), atol=0.1)


def test_bad_input():
    with pytest.raises(ValueError, match="ParzenWindow: sigma"):
        rb.models.ParzenWindow(sigma=-1.0)
    with pytest.raises(ValueError, match="grid"):
        rb.models.ParzenWindow(grid=[0.1, 0.0])
    with pytest.raises(RuntimeError, match="fit"):
        rb.models.ParzenWindow(sigma=1.0).log_likelihood(np.zeros((1, 2)))
    kde = rb.models.ParzenWindow(sigma=1.0).fit(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="3 columns"):
        kde.log_likelihood(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        kde.log_likelihood(np.array([[np.nan, 0.0]]))


@pytest.mark.parametrize("offset, sigma", [(100.0, 0.1), (1000.0, 0.2)])
def test_float32_data_far_from_the_origin_scores_as_float64(offset, sigma):
    """||x||^2 + ||s||^2 - 2 x.s in float32 cancels at 1,000 from the origin."""
    rng = np.random.default_rng(0)
    S, T = offset + rng.normal(size=(500, 4)), offset + rng.normal(size=(50, 4))
    exact = rb.models.parzen_log_likelihood(S, T, sigma=sigma)
    kde = rb.models.ParzenWindow(sigma=sigma).fit(S.astype(np.float32))
    ll = kde.log_likelihood(T.astype(np.float32))
    assert ll.dtype == np.float64
    assert kde.score(T.astype(np.float32)) == pytest.approx(exact, abs=1e-3)


def test_sample_needs_a_count():
    kde = rb.models.ParzenWindow(sigma=1.0).fit(np.zeros((3, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="ParzenWindow.sample: n must be a non-negative integer; "
                                         "got -1"):
        kde.sample(-1)
    with pytest.raises(ValueError, match="ParzenWindow.sample: n must be"):
        kde.sample(2.5)
    assert kde.sample(0).shape == (0, 2) and kde.sample(4).dtype == np.float32


@pytest.mark.parametrize("call", ["fit", "log_likelihood"])
def test_a_scalar_X_is_refused_clearly(call):
    pw = rb.models.ParzenWindow(sigma=1.0)
    if call == "fit":
        with pytest.raises(ValueError, match=r"ParzenWindow.fit: X must be \(n, d\) rows.*scalar"):
            pw.fit(5.0)
    else:
        pw.fit(np.zeros((3, 1)))
        with pytest.raises(ValueError, match=r"log_likelihood: X must be \(n, d\).*scalar"):
            pw.log_likelihood(0.5)
