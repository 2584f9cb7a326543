"""The Gaussian process: scikit-learn's posterior and likelihood, finite-difference gradients."""

import numpy as np
import pytest

import rosenblatt as rb

GP = rb.tuning.GaussianProcess


def _data(rng, n=15, d=3):
    X = rng.random((n, d))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2 - 0.5 * X[:, 2] + 0.05 * rng.standard_normal(n)
    return X, y


@pytest.mark.parametrize("kernel", ["matern52", "rbf"])
@pytest.mark.parametrize("normalize_y", [False, True])
def test_matches_sklearn_with_fixed_hyperparameters(rng, kernel, normalize_y):
    gpr = pytest.importorskip("sklearn.gaussian_process")
    kernels = pytest.importorskip("sklearn.gaussian_process.kernels")
    X, y = _data(rng)
    Xs = rng.random((7, 3))
    ls, amp, noise = np.array([0.3, 0.7, 1.9]), 1.7, 1e-3
    base = (kernels.Matern(length_scale=ls, nu=2.5, length_scale_bounds="fixed")
            if kernel == "matern52" else kernels.RBF(length_scale=ls, length_scale_bounds="fixed"))
    ref = gpr.GaussianProcessRegressor(kernels.ConstantKernel(amp, "fixed") * base, alpha=noise,
                                       optimizer=None, normalize_y=normalize_y).fit(X, y)
    ours = GP(kernel=kernel, noise=noise, length_scales=ls, amplitude=amp,
              normalize_y=normalize_y).fit(X, y, optimize=False)
    mean, std = ours.predict(Xs)
    ref_mean, ref_std = ref.predict(Xs, return_std=True)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(std, ref_std, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.log_marginal_likelihood_, ref.log_marginal_likelihood_value_,
                               rtol=1e-10)
    np.testing.assert_allclose(ours.predict(Xs, return_std=False), ref_mean, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("kernel", ["matern52", "rbf"])
@pytest.mark.parametrize("ard,learn_noise", [(True, False), (False, False), (True, True)])
def test_log_marginal_likelihood_gradient_matches_finite_differences(rng, kernel, ard,
                                                                     learn_noise):
    X, y = _data(rng, n=12)
    gp = GP(kernel=kernel, ard=ard, noise=1e-2, learn_noise=learn_noise, length_scales=0.4,
            normalize_y=True).fit(X, y, optimize=False)
    theta = gp._theta() + 0.1 * rng.standard_normal(gp._theta().shape)
    value, grad = gp.log_marginal_likelihood(theta, return_gradient=True)
    h = 1e-6
    numeric = np.array([(gp.log_marginal_likelihood(theta + h * e)
                         - gp.log_marginal_likelihood(theta - h * e)) / (2 * h)
                        for e in np.eye(len(theta))])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
    assert np.isfinite(value)


def _plain_nll_and_grad(gp, theta, X, y):
    """The negative log marginal likelihood and its gradient as the textbook writes them:
    K = Kf + noise I, SciPy's Cholesky, K^-1 as a full symmetric matrix."""
    from scipy.linalg import cho_factor, cho_solve
    from scipy.linalg.lapack import dpotri

    n, dim = X.shape
    amplitude, ls, noise = gp._unpack(theta, dim)
    inv_ls2 = 1.0 / np.asarray(gp._full_scales(ls, dim)) ** 2
    diff = X[:, None, :] - X[None, :, :]
    sq = (diff * diff).reshape(-1, dim)
    r2 = (sq @ inv_ls2).reshape(n, n)
    if gp.kernel == "rbf":
        Kf = amplitude * np.exp(-0.5 * r2)
        dK = Kf
    else:
        r = np.sqrt(r2)
        e = np.exp(-np.sqrt(5.0) * r)
        Kf = amplitude * (1.0 + np.sqrt(5.0) * r + (5.0 / 3.0) * r2) * e
        dK = amplitude * (5.0 / 3.0) * (1.0 + np.sqrt(5.0) * r) * e
    factor = cho_factor(Kf + noise * np.eye(n), lower=True, check_finite=False)
    alpha = cho_solve(factor, y, check_finite=False)
    nll = 0.5 * y @ alpha + np.log(np.diag(factor[0])).sum() + 0.5 * n * np.log(2 * np.pi)
    inv = dpotri(factor[0], lower=1)[0]
    inv = np.tril(inv) + np.tril(inv, -1).T
    W = np.outer(alpha, alpha) - inv
    grad = [0.5 * np.sum(W * Kf)]
    per_column = 0.5 * ((W * dK).ravel() @ sq) * inv_ls2
    grad += list(per_column) if gp.ard else [per_column.sum()]
    if gp.learn_noise:
        grad.append(0.5 * noise * np.trace(W))
    return nll, -np.asarray(grad)


@pytest.mark.parametrize("m,n,d", [(300, 40, 6), (7, 15, 3), (1, 20, 1)])
def test_scaled_distances_are_the_summed_terms_bit_for_bit(rng, m, n, d):
    from rosenblatt.tuning.gaussian_process import _scaled_sq_dist

    X1, X2, ls = rng.random((m, d)), rng.random((n, d)), rng.random(d) + 0.05
    terms = (X1[:, None, :] - X2[None, :, :]) / ls
    np.testing.assert_array_equal(_scaled_sq_dist(X1, X2, ls), (terms * terms).sum(axis=2))


@pytest.mark.parametrize("kernel", ["matern52", "rbf"])
@pytest.mark.parametrize("ard,learn_noise", [(True, False), (False, False), (True, True)])
def test_likelihood_is_the_plain_formula_bit_for_bit(rng, kernel, ard, learn_noise):
    # the fitted hyper-parameters, hence every proposal of a seeded search, do not move with
    # how the likelihood is computed (in place, LAPACK called directly)
    X, y = _data(rng, n=40, d=4)
    gp = GP(kernel=kernel, ard=ard, noise=1e-3, learn_noise=learn_noise,
            normalize_y=True).fit(X, y, optimize=False)
    for _ in range(3):
        theta = gp._theta() + 0.3 * rng.standard_normal(gp._theta().shape)
        nll, grad = gp._nll_and_grad(theta, X, gp._y)
        ref_nll, ref_grad = _plain_nll_and_grad(gp, theta, X, gp._y)
        assert nll == ref_nll
        np.testing.assert_array_equal(grad, ref_grad)


def test_optimised_likelihood_is_at_least_sklearns(rng):
    gpr = pytest.importorskip("sklearn.gaussian_process")
    kernels = pytest.importorskip("sklearn.gaussian_process.kernels")
    X, y = _data(rng, n=25)
    ours = GP(noise=1e-4, n_restarts=3, rng=0).fit(X, y)
    k = kernels.ConstantKernel(1.0, (1e-3, 1e3)) * kernels.Matern(
        length_scale=[0.5] * 3, nu=2.5, length_scale_bounds=(1e-2, 1e2))
    ref = gpr.GaussianProcessRegressor(k, alpha=1e-4, normalize_y=True, n_restarts_optimizer=3,
                                       random_state=0).fit(X, y)
    assert ours.log_marginal_likelihood_ >= ref.log_marginal_likelihood_value_ - 1e-3


def test_ard_gives_an_irrelevant_column_a_long_length_scale(rng):
    X = rng.random((30, 2))
    y = np.sin(6 * X[:, 0])  # column 1 does not matter
    gp = GP(rng=0).fit(X, y)
    assert gp.length_scales_[1] > 5 * gp.length_scales_[0]


def test_gradient_of_mean_and_std_matches_finite_differences(rng):
    X, y = _data(rng, n=10)
    for kernel in ("matern52", "rbf"):
        gp = GP(kernel=kernel, noise=1e-4, length_scales=[0.3, 0.5, 0.8]).fit(X, y, optimize=False)
        x = rng.random((4, 3))
        mean, std, dmean, dstd = gp.predict_with_gradient(x)
        m2, s2 = gp.predict(x)
        np.testing.assert_allclose(mean * gp.y_std_ + gp.y_mean_, m2, rtol=1e-10)
        np.testing.assert_allclose(std * gp.y_std_, s2, rtol=1e-8)
        h = 1e-6
        for k in range(3):
            e = np.zeros(3)
            e[k] = h
            mp, sp, _, _ = gp.predict_with_gradient(x + e)
            mm, sm, _, _ = gp.predict_with_gradient(x - e)
            np.testing.assert_allclose(dmean[:, k], (mp - mm) / (2 * h), rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(dstd[:, k], (sp - sm) / (2 * h), rtol=1e-5, atol=1e-7)


def test_bad_arguments():
    with pytest.raises(ValueError, match="kernel must be 'matern52' or 'rbf'"):
        GP(kernel="matern")
    with pytest.raises(ValueError, match="noise must be finite and >= 0"):
        GP(noise=-1)
    with pytest.raises(ValueError, match="length_scales must be positive"):
        GP(length_scales=[0.1, 0.0])
    with pytest.raises(RuntimeError, match="call fit"):
        GP().predict(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="length_scales has 2 values for inputs of 3 columns"):
        GP(length_scales=[1.0, 2.0]).fit(np.zeros((2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        GP().fit(np.zeros((2, 1)), [0.0, np.nan])


PRIORS = {"length_scale_prior": (np.log(0.5), 1.0), "amplitude_prior": (2.0, 0.15),
          "noise_prior": (1.1, 0.05)}


@pytest.mark.parametrize("ard,learn_noise", [(True, False), (False, False), (True, True)])
def test_log_posterior_gradient_matches_finite_differences(rng, ard, learn_noise):
    X, y = _data(rng, n=12)
    gp = GP(ard=ard, noise=1e-2, learn_noise=learn_noise, length_scales=0.4, **PRIORS)
    gp.fit(X, y, optimize=False)
    sq = (X[:, None, :] - X[None, :, :]).reshape(-1, X.shape[1]) ** 2
    theta = gp._theta() + 0.3 * rng.standard_normal(gp._theta().shape)
    value, grad = gp._neg_log_posterior(theta, X, gp._y, sq)
    h = 1e-6
    numeric = np.array([(gp._neg_log_posterior(theta + h * e, X, gp._y, sq)[0]
                         - gp._neg_log_posterior(theta - h * e, X, gp._y, sq)[0]) / (2 * h)
                        for e in np.eye(len(theta))])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
    # the prior's part is the written densities: a normal on ln(length scale), Gamma(c, r)
    nll, _ = gp._nll_and_grad(theta, X, gp._y, sq)
    n = 3 if ard else 1
    (mu, s), (c, r) = PRIORS["length_scale_prior"], PRIORS["amplitude_prior"]
    expected = nll + np.sum((theta[1:1 + n] - mu) ** 2) / (2 * s * s) \
        - ((c - 1) * theta[0] - r * np.exp(theta[0]))
    if learn_noise:
        c, r = PRIORS["noise_prior"]
        expected -= (c - 1) * theta[-1] - r * np.exp(theta[-1])
    np.testing.assert_allclose(value, expected, rtol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_length_scale_prior_keeps_a_few_points_off_the_box_edges(seed):
    # eight points of a 4-D function of its first column only: the likelihood alone sends the
    # other columns' length scales to the box's upper end (100: "irrelevant" after 8 points);
    # the prior keeps every length scale within three e-folds of 0.5, the first the shortest
    X = np.random.default_rng(seed).random((8, 4))
    y = np.sin(6 * X[:, 0])
    plain = GP(rng=0).fit(X, y)
    np.testing.assert_allclose(plain.length_scales_[1:], 100.0)
    gp = GP(rng=0, length_scale_prior=(np.log(0.5), 1.0)).fit(X, y)
    assert np.all(np.abs(np.log(gp.length_scales_ / 0.5)) < 3)
    assert gp.length_scales_[0] < gp.length_scales_[1:].min()


def test_bad_priors():
    with pytest.raises(ValueError, match=r"length_scale_prior must be \(mean, std\)"):
        GP(length_scale_prior=1.0)
    with pytest.raises(ValueError, match=r"length_scale_prior\[1\] must be"):
        GP(length_scale_prior=(0.0, -1.0))
    with pytest.raises(ValueError, match=r"amplitude_prior must be \(concentration, rate\)"):
        GP(amplitude_prior=(0.0, 1.0))
    with pytest.raises(ValueError, match=r"noise_prior must be \(concentration, rate\)"):
        GP(noise_prior=("a", 1.0))


# -- audit a1 ------------------------------------------------------------------------------
def test_log_marginal_likelihood_checks_the_length_of_theta(rng):
    """Audit a1 #5: theta has 1 + (dim with ard, else 1) + learn_noise values."""
    X, y = _data(rng, n=8)
    gp = GP(rng=0, learn_noise=True).fit(X, y)
    theta = gp._theta()
    assert theta.size == 5 and gp.log_marginal_likelihood(theta) == gp.log_marginal_likelihood()
    for bad in (theta[:2], np.concatenate([theta, [0.0, 1.0]]), theta[0]):
        with pytest.raises(ValueError, match=r"GaussianProcess.log_marginal_likelihood: theta "
                                             r"must have 5 values \(ln amplitude, ln length "
                                             r"scales \(3\), ln noise\)"):
            gp.log_marginal_likelihood(bad)
    iso = GP(rng=0, ard=False).fit(X, y)
    with pytest.raises(ValueError, match=r"theta must have 2 values \(ln amplitude, ln length "
                                         r"scale\); got 3"):
        iso.log_marginal_likelihood([0.0, 0.0, 0.0])


def test_other_inputs_are_checked_by_name(rng):
    """Audit a1 #5."""
    X, y = _data(rng, n=6)
    gp = GP(rng=0).fit(X, y)
    with pytest.raises(ValueError, match=r"GaussianProcess.predict_with_gradient: X has 2 "
                                         r"columns; the fitted data had 3"):
        gp.predict_with_gradient(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"GaussianProcess: length_scale_bounds must be "
                                         r"\(low, high\)"):
        GP(length_scale_bounds=(0.1, 1, 5))
    with pytest.raises(ValueError, match=r"got X \(6, 3\), y \(6, 2\)"):
        GP().fit(X, np.zeros((6, 2)))
    assert GP(rng=0).fit(X, y[:, None]).predict(X[:1], return_std=False).shape == (1,)


def test_refit_without_optimizing_keeps_the_fitted_hyperparameters(rng):
    """Audit a1 #9: optimize=False keeps the hyper-parameters as fitted before."""
    X, y = _data(rng, n=20)
    gp = GP(rng=0, learn_noise=True).fit(X, y)
    scales, amplitude, noise = gp.length_scales_.copy(), gp.amplitude_, gp.noise_
    assert not np.allclose(scales, 0.5)
    gp.fit(X[:15], y[:15], optimize=False)
    np.testing.assert_array_equal(gp.length_scales_, scales)
    assert (gp.amplitude_, gp.noise_) == (amplitude, noise)
    fresh = GP(length_scales=scales, amplitude=amplitude, noise=noise).fit(X[:15], y[:15],
                                                                        optimize=False)
    np.testing.assert_array_equal(gp.predict(X)[0], fresh.predict(X)[0])
    # another number of columns: the given (default) values again
    gp.fit(X[:, :1], y, optimize=False)
    np.testing.assert_array_equal(gp.length_scales_, [0.5])


def test_fit_keeps_its_own_copy_of_X(rng):
    """Audit a1 #17: as scikit-learn's copy_X_train, mutating X afterwards changes nothing."""
    X, y = _data(rng, n=10)
    Xq = rng.random((3, 3))
    gp = GP(rng=0).fit(X, y)
    before = gp.predict(Xq)
    X[:] = rng.random(X.shape)
    y[:] = 0.0
    after = gp.predict(Xq)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
