"""The Gaussian process of Bayesian optimisation (notes: "Choosing hyperparameters").

The notes: Gaussian process models assume "that similar inputs give similar
outputs", "predict a Gaussian distribution of values" for each untried
combination, and "can also learn this scale of similarity for each
hyperparameter". Here the similarity is a stationary kernel of the scaled
distance between two points of the unit cube,

.. math::

    r^2 = \\sum_k \\frac{(x_k - x'_k)^2}{\\ell_k^2}, \\qquad
    k(x, x') = a \\, m(r),

with a length scale :math:`\\ell_k` per column (automatic relevance
determination: a parameter that does not matter gets a long one) and the
amplitude :math:`a`. ``matern52``: :math:`m(r) = (1 + \\sqrt5 r + \\tfrac53
r^2) e^{-\\sqrt5 r}` (the default of Snoek et al. 2012: twice differentiable,
less smooth than the squared exponential); ``rbf``: :math:`m(r) = e^{-r^2/2}`.

Given observations :math:`y` at :math:`X` with noise variance :math:`\\sigma^2`
on the diagonal, :math:`K = k(X, X) + \\sigma^2 I = L L^\\top` (Cholesky),
:math:`\\alpha = K^{-1} y`, the posterior at :math:`x_*` is Gaussian with

.. math::

    \\mu(x_*) = k_*^\\top \\alpha, \\qquad
    \\sigma^2(x_*) = a - \\lVert L^{-1} k_* \\rVert^2,

and the hyper-parameters :math:`\\theta = (\\ln a, \\ln \\ell_1, \\dots)` maximise
the log marginal likelihood (Rasmussen & Williams 2006, eqs. 2.30 and 5.9)

.. math::

    \\log p(y \\mid X, \\theta) = -\\tfrac12 y^\\top \\alpha - \\sum_i \\ln L_{ii}
        - \\tfrac n2 \\ln 2\\pi, \\qquad
    \\frac{\\partial \\log p}{\\partial \\theta_j}
        = \\tfrac12 \\operatorname{tr}\\!\\big((\\alpha\\alpha^\\top - K^{-1})
          \\tfrac{\\partial K}{\\partial \\theta_j}\\big),

where :math:`\\partial K / \\partial \\ln a = k(X, X)` and, with
:math:`D_k = (x_k - x'_k)^2 / \\ell_k^2`,
:math:`\\partial k / \\partial \\ln \\ell_k = a \\tfrac53 (1 + \\sqrt5 r)
e^{-\\sqrt5 r} D_k` (Matérn 5/2) or :math:`k \\, D_k` (RBF). L-BFGS-B
maximises it from several starting points (SciPy, imported on first use).

With a handful of points the likelihood alone is often maximised at a box
edge: :math:`\\ell_k` at its upper bound declares a column irrelevant after
five trials, at its lower bound makes every untried value a stranger, and the
search then refines its first good point until the budget is spent. Priors
turn the fit into a maximum a posteriori one, in :math:`t = \\ln v` for each
hyper-parameter :math:`v` that has one:

.. math::

    \\log p(\\theta \\mid y, X) = \\log p(y \\mid X, \\theta)
        - \\sum_k \\frac{(\\ln \\ell_k - \\mu)^2}{2 s^2}
        + (c - 1) \\ln a - r a + \\text{const}

(``length_scale_prior=(mu, s)``: :math:`\\ln \\ell_k \\sim \\mathcal N(\\mu, s^2)`;
``amplitude_prior=(c, r)``: :math:`a \\sim \\mathrm{Gamma}(c, r)`, and the same
form for ``noise_prior``), whose gradients in :math:`t` add
:math:`-(\\ln \\ell_k - \\mu) / s^2` and :math:`(c - 1) - r a`. The Bayesian
search (:func:`rosenblatt.tuning.minimize`) uses :math:`\\ln \\ell_k \\sim
\\mathcal N(\\ln 0.5, 1)` (a length scale of half the cube, within a factor
e for two thirds of the mass; the box's ends 0.01 and 100 cost 7.6 and 14 nats)
and :math:`a \\sim \\mathrm{Gamma}(2, 0.15)` (BoTorch's classic output-scale
prior: an amplitude of 0.001, every difference called noise, costs 6.8 nats
more than 1).
The plain :class:`GaussianProcess` has none.

References
----------
Rasmussen, C. E. & Williams, C. K. I. (2006). Gaussian Processes for Machine Learning. MIT Press.
Snoek, J., Larochelle, H. & Adams, R. P. (2012). Practical Bayesian optimization of machine
learning algorithms. NeurIPS.
"""

import functools
import math

import numpy as np

from ..checks import one_of, positive_float, positive_int
from ..randomness import resolve_rng

_SQRT5 = math.sqrt(5.0)
_LOG_2PI = math.log(2.0 * math.pi)


def _scaled_sq_dist(X1, X2, length_scales):
    """``r2[i, j] = sum_k ((x1_ik - x2_jk) / l_k)^2``, shape ``(len(X1), len(X2))``.

    One column at a time, the sum in column order: the operations, and so the bits, of
    summing an ``(m, n, dim)`` array of the terms over its last axis, without that array
    (for 2,000 candidates against 100 trials in 6 dimensions, 9.6 MB that left the
    caches)."""
    r2 = np.zeros((len(X1), len(X2))) if X1.shape[1] == 0 else None
    for k in range(X1.shape[1]):
        d = np.subtract.outer(X1[:, k], X2[:, k])
        d /= length_scales[k]
        d *= d
        if r2 is None:
            r2 = d
        else:
            r2 += d
    return r2


@functools.lru_cache(maxsize=8)
def _strict_upper(n):
    """The read-only mask of the entries above the diagonal of an (n, n) matrix."""
    mask = np.triu(np.ones((n, n), dtype=bool), 1)
    mask.flags.writeable = False
    return mask


def _inverse_from_cholesky(L):
    """``K^{-1}`` from the lower Cholesky factor of ``K`` (LAPACK potri: a third of a solve).

    potri writes the lower triangle; the upper one is copied from it in place (NumPy
    copies the transposed source first, as the two overlap)."""
    from scipy.linalg.lapack import dpotri

    inv, info = dpotri(L, lower=1)
    if info:
        raise np.linalg.LinAlgError(f"potri failed (info={info})")
    np.copyto(inv, inv.T, where=_strict_upper(len(inv)))
    return inv


def _squared_differences(X):
    """``(x_ik - x_jk)^2`` for every pair of rows, shape ``(n * n, dim)``."""
    diff = X[:, None, :] - X[None, :, :]
    return (diff * diff).reshape(-1, X.shape[1])


def kernel_matrix(kind, X1, X2, length_scales, amplitude):
    """``k(X1, X2)``, shape ``(len(X1), len(X2))``, for ``kind`` "matern52" or "rbf"."""
    r2 = _scaled_sq_dist(X1, X2, length_scales)
    if kind == "rbf":
        return amplitude * np.exp(-0.5 * r2)
    r = np.sqrt(r2)
    return amplitude * (1.0 + _SQRT5 * r + (5.0 / 3.0) * r2) * np.exp(-_SQRT5 * r)


def _prior(owner, name, prior, meaning, gamma):
    """``prior`` as a checked pair of floats, or None: the second positive, the first finite
    (and positive too for a ``gamma`` prior's concentration)."""
    if prior is None:
        return None
    try:
        a, b = prior
        a, b = float(a), float(b)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: {name} must be {meaning}, or None; got {prior!r}") from None
    if not math.isfinite(a) or (gamma and a <= 0):
        raise ValueError(f"{owner}: {name} must be {meaning}; got {prior!r}")
    return a, positive_float(owner, f"{name}[1]", b)


def _standardisation(value):
    """``fit``'s ``standardisation``: a finite mean and a positive finite std."""
    try:
        mean, std = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"GaussianProcess.fit: standardisation must be (mean, std); got "
                         f"{value!r:.60}") from None
    if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
        raise ValueError(f"GaussianProcess.fit: standardisation must be a finite mean and a "
                         f"positive finite std; got {value!r:.60}")
    return mean, std


class GaussianProcess:
    """Gaussian-process regression with a Matérn 5/2 or RBF kernel and ARD length scales.

    Parameters
    ----------
    kernel : {"matern52", "rbf"}, default "matern52"
    ard : bool, default True
        One length scale per input column (automatic relevance determination);
        ``False``: one shared length scale.
    noise : float, default 1e-6
        The variance added to the diagonal of ``K`` (observation noise, and
        jitter that keeps the Cholesky factorisation stable).
    length_scales : float or array_like, optional
        Starting (``optimize=True``) or fixed (``optimize=False``) length
        scales; default 0.5 per column (inputs live in the unit cube). A
        refit with ``optimize=False`` keeps the fitted ones instead.
    amplitude : float, default 1.0
        The signal variance :math:`a` (of the standardised targets when
        ``normalize_y``).
    normalize_y : bool, default True
        Fit to ``(y - mean) / std`` and scale predictions back.
    learn_noise : bool, default False
        Also fit ``noise`` by maximum likelihood (within ``noise_bounds``),
        for noisy objectives such as a network's validation loss.
    n_restarts : int, default 2
        Extra L-BFGS-B starts from random hyper-parameters (besides the current ones).
    length_scale_bounds, amplitude_bounds, noise_bounds : (float, float)
        Box of the hyper-parameter search.
    length_scale_prior : (float, float), optional
        ``(mean, std)`` of a normal prior on each ``ln(length scale)`` (log-normal).
    amplitude_prior, noise_prior : (float, float), optional
        ``(concentration, rate)`` of a Gamma prior on the amplitude, on the
        noise (when learnt). With any prior the fit maximises the log
        posterior (see the module docstring). Default: none, the plain log
        marginal likelihood.
    rng : numpy.random.Generator or int, optional
        Draws the restarts.

    Attributes
    ----------
    length_scales_ : ndarray, shape (dim,)
    amplitude_, noise_ : float
    log_marginal_likelihood_ : float
        At the fitted hyper-parameters (of the standardised targets when ``normalize_y``).
    y_mean_, y_std_ : float
        The standardisation of the targets (0 and 1 without ``normalize_y``):
        :meth:`normalise` and the acquisitions work in those units.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.linspace(0, 1, 8)[:, None]
    >>> gp = GaussianProcess(rng=0).fit(X, np.sin(6 * X[:, 0]))
    >>> mean, std = gp.predict(X[:2])
    >>> np.allclose(mean, np.sin(6 * X[:2, 0]), atol=1e-3), bool(std.max() < 1e-2)
    (True, True)
    """

    def __init__(self, kernel="matern52", ard=True, noise=1e-6, length_scales=None,
                 amplitude=1.0, normalize_y=True, learn_noise=False, n_restarts=2,
                 length_scale_bounds=(1e-2, 1e2), amplitude_bounds=(1e-3, 1e3),
                 noise_bounds=(1e-8, 1.0), length_scale_prior=None, amplitude_prior=None,
                 noise_prior=None, rng=None):
        owner = "GaussianProcess"
        self.kernel = one_of(owner, "kernel", kernel, ("matern52", "rbf"))
        self.ard = bool(ard)
        self.noise = positive_float(owner, "noise", noise, allow_zero=True)
        if length_scales is not None:
            ls = np.atleast_1d(np.asarray(length_scales, dtype=np.float64))
            if ls.ndim != 1 or not np.all(np.isfinite(ls)) or np.any(ls <= 0):
                raise ValueError(f"{owner}: length_scales must be positive finite numbers; "
                                 f"got {length_scales!r}")
            length_scales = ls
        self.length_scales = length_scales
        self.amplitude = positive_float(owner, "amplitude", amplitude)
        self.normalize_y = bool(normalize_y)
        self.learn_noise = bool(learn_noise)
        self.n_restarts = positive_int(owner, "n_restarts", n_restarts, allow_zero=True)
        for name, bounds in (("length_scale_bounds", length_scale_bounds),
                             ("amplitude_bounds", amplitude_bounds),
                             ("noise_bounds", noise_bounds)):
            if isinstance(bounds, (str, bytes)) or not hasattr(bounds, "__len__") \
                    or len(bounds) != 2:
                raise ValueError(f"{owner}: {name} must be (low, high) with 0 < low < high; "
                                 f"got {bounds!r:.60}")
            lo, hi = (positive_float(owner, name, b) for b in bounds)
            if not lo < hi:
                raise ValueError(f"{owner}: {name} must be (low, high) with 0 < low < high; "
                                 f"got {bounds!r}")
        self.length_scale_bounds = tuple(map(float, length_scale_bounds))
        self.amplitude_bounds = tuple(map(float, amplitude_bounds))
        self.noise_bounds = tuple(map(float, noise_bounds))
        gamma = "(concentration, rate) of a Gamma prior"
        self.length_scale_prior = _prior(owner, "length_scale_prior", length_scale_prior,
                                         "(mean, std) of ln(length scale)", gamma=False)
        self.amplitude_prior = _prior(owner, "amplitude_prior", amplitude_prior, gamma, True)
        self.noise_prior = _prior(owner, "noise_prior", noise_prior, gamma, True)
        self.rng = rng
        self.X_ = None

    # -- hyper-parameters as one vector theta = (ln a, ln l..., [ln noise]) -------------------
    def _n_scales(self, dim):
        return dim if self.ard else 1

    def _theta(self):
        parts = [[math.log(self.amplitude_)], np.log(self._ls_param)]
        if self.learn_noise:
            parts.append([math.log(max(self.noise_, self.noise_bounds[0]))])
        return np.concatenate(parts)

    def _unpack(self, theta, dim):
        amplitude = math.exp(theta[0])
        ls = np.exp(theta[1:1 + self._n_scales(dim)])
        noise = math.exp(theta[-1]) if self.learn_noise else self.noise
        return amplitude, ls, noise

    def _bounds(self, dim):
        b = [tuple(np.log(self.amplitude_bounds))]
        b += [tuple(np.log(self.length_scale_bounds))] * self._n_scales(dim)
        if self.learn_noise:
            b.append(tuple(np.log(self.noise_bounds)))
        return b

    def _full_scales(self, ls, dim):
        return np.broadcast_to(ls, (dim,)) if ls.size == 1 else ls

    # -- the likelihood ------------------------------------------------------------------------
    def _nll_and_grad(self, theta, X, y, sq=None):
        """Negative log marginal likelihood and its gradient with respect to theta.

        ``sq``: the squared differences ``(x_ik - x_jk)^2`` as ``(n * n, dim)``,
        computed once per fit; each evaluation then scales them with one
        matrix-vector product instead of rebuilding an ``(n, n, dim)`` array.
        """
        from scipy.linalg.lapack import dpotrf, dpotrs  # cho_factor's and cho_solve's

        n, dim = X.shape
        if sq is None:
            sq = _squared_differences(X)
        amplitude, ls, noise = self._unpack(theta, dim)
        inv_ls2 = 1.0 / np.asarray(self._full_scales(ls, dim)) ** 2
        r2 = (sq @ inv_ls2).reshape(n, n)
        if self.kernel == "rbf":
            Kf = amplitude * np.exp(-0.5 * r2)
            dK_dlnl = Kf  # dk/dln l_k = dK_dlnl * D_k
        else:  # a (1 + s + s^2 / 3) e^-s and a 5/3 (1 + s) e^-s with s = sqrt(5) r
            s5r = _SQRT5 * np.sqrt(r2)
            e = np.exp(-s5r)
            one_s = 1.0 + s5r
            Kf = (5.0 / 3.0) * r2
            Kf += one_s
            Kf *= amplitude
            Kf *= e
            dK_dlnl = one_s
            dK_dlnl *= amplitude * (5.0 / 3.0)
            dK_dlnl *= e
        K = Kf.copy()
        K.flat[::n + 1] += noise
        L, info = dpotrf(K, lower=1, clean=0)
        if info:
            return np.inf, np.zeros_like(theta)
        alpha, _ = dpotrs(L, y, lower=1)
        log_det_half = np.log(np.diag(L)).sum()
        nll = 0.5 * y @ alpha + log_det_half + 0.5 * n * _LOG_2PI
        W = np.outer(alpha, alpha)
        W -= _inverse_from_cholesky(L)
        # d lml / d theta_j = 1/2 tr(W dK/dtheta_j) = 1/2 sum(W * dK/dtheta_j) (both symmetric)
        grad = [0.5 * np.sum(W * Kf)]
        # sum_ij (W dK_dlnl)_ij D_ijk with D_ijk = sq_ijk / l_k^2
        per_column = 0.5 * ((W * dK_dlnl).ravel() @ sq) * inv_ls2
        grad += list(per_column) if self.ard else [per_column.sum()]
        if self.learn_noise:
            grad.append(0.5 * noise * np.trace(W))
        return float(nll), -np.asarray(grad)

    def _priors(self, dim):
        """``(slice of theta, family, a, b)`` for each hyper-parameter with a prior."""
        n = self._n_scales(dim)
        found = [(slice(1, 1 + n), "lognormal", self.length_scale_prior),
                 (slice(0, 1), "gamma", self.amplitude_prior)]
        if self.learn_noise:
            found.append((slice(1 + n, 2 + n), "gamma", self.noise_prior))
        return [(k, family, *prior) for k, family, prior in found if prior is not None]

    def _neg_log_posterior(self, theta, X, y, sq):
        """:meth:`_nll_and_grad` less the log prior densities of the hyper-parameters that
        have one (the objective of the fit when any is set), in theta = ln(value)."""
        nll, grad = self._nll_and_grad(theta, X, y, sq)
        if not np.isfinite(nll):
            return nll, grad
        grad = grad.copy()
        for k, family, a, b in self._priors(X.shape[1]):
            t = theta[k]
            if family == "lognormal":  # ln(value) ~ N(a, b^2)
                nll += float(np.sum((t - a) ** 2)) / (2.0 * b * b)
                grad[k] += (t - a) / (b * b)
            else:  # value ~ Gamma(a, b): (a - 1) ln(value) - b value
                value = np.exp(t)
                nll -= float(np.sum((a - 1.0) * t - b * value))
                grad[k] -= (a - 1.0) - b * value
        return nll, grad

    def log_marginal_likelihood(self, theta=None, return_gradient=False):
        """The log marginal likelihood of the fitted data at ``theta`` (default: the fitted one).

        ``theta`` is ``(ln amplitude, ln length scales..., [ln noise])``. With
        ``return_gradient`` also returns its gradient with respect to ``theta``.
        """
        self._check_fitted()
        if theta is None:
            theta = self._theta()
        else:
            theta = np.atleast_1d(np.asarray(theta, dtype=np.float64))
            n_scales = self._n_scales(self.X_.shape[1])
            expected = 1 + n_scales + self.learn_noise
            if theta.ndim != 1 or theta.size != expected:
                scales = f"ln length scales ({n_scales})" if self.ard else "ln length scale"
                layout = "ln amplitude, " + scales + (", ln noise" if self.learn_noise else "")
                raise ValueError(f"GaussianProcess.log_marginal_likelihood: theta must have "
                                 f"{expected} values ({layout}); got {theta.size} (shape "
                                 f"{theta.shape})")
        nll, grad = self._nll_and_grad(theta, self.X_, self._y)
        return (-nll, -grad) if return_gradient else -nll

    # -- fitting and predicting ------------------------------------------------------------
    def fit(self, X, y, optimize=True, standardisation=None):
        """Condition on ``y`` observed at ``X`` (``(n, dim)``); ``optimize`` the hyper-parameters.

        ``optimize=False`` keeps ``length_scales``, ``amplitude`` and ``noise``
        as given, or as fitted before (by an earlier ``fit`` on as many
        columns). ``X`` and ``y`` are copied (as scikit-learn's ``copy_X_train``).

        ``standardisation``: ``(mean, std)`` to standardise ``y`` with instead of
        ``y``'s own (with ``normalize_y``), e.g. another fit's ``(y_mean_, y_std_)``:
        with its hyper-parameters, the same GP (prior mean, amplitude and noise in
        the units of ``y``) conditioned on more points, as a Kriging believer needs.
        """
        X = np.array(X, dtype=np.float64, copy=True, ndmin=2)
        y = np.array(y, dtype=np.float64, copy=True)
        shape = y.shape
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if X.ndim != 2 or y.ndim != 1 or len(X) != len(y) or len(y) == 0:
            raise ValueError(f"GaussianProcess.fit: X must be (n, dim) and y (n,) with n >= 1; "
                             f"got X {X.shape}, y {shape}")
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
            raise ValueError("GaussianProcess.fit: X and y must be finite (no NaN/inf)")
        dim = X.shape[1]
        if self.normalize_y and standardisation is not None:
            self.y_mean_, self.y_std_ = _standardisation(standardisation)
        elif self.normalize_y:
            self.y_mean_ = float(y.mean())
            self.y_std_ = float(y.std()) if y.std() > 0 else 1.0
        else:
            self.y_mean_, self.y_std_ = 0.0, 1.0
        self._y = (y - self.y_mean_) / self.y_std_
        refit = (not optimize and self.X_ is not None and self.X_.shape[1] == dim
                 and hasattr(self, "_ls_param"))
        self.X_ = X
        if refit:  # the hyper-parameters as fitted before
            self._condition()
            return self
        n_scales = self._n_scales(dim)
        ls = np.asarray(0.5 if self.length_scales is None else self.length_scales, dtype=float)
        if ls.size not in (1, n_scales):
            expected = f"1 or {dim} (one per column)" if self.ard else "1 (ard=False takes one)"
            raise ValueError(f"GaussianProcess: length_scales has {ls.size} values for inputs "
                             f"of {dim} columns; expected {expected}")
        self._ls_param = np.broadcast_to(ls, (n_scales,)).copy()
        self.amplitude_, self.noise_ = self.amplitude, self.noise
        if optimize:
            self._optimize(X, dim)
        self._condition()
        return self

    def _optimize(self, X, dim):
        from scipy.optimize import minimize

        rng = resolve_rng(self.rng)
        bounds = np.array(self._bounds(dim))
        starts = [np.clip(self._theta(), bounds[:, 0], bounds[:, 1])]
        for _ in range(self.n_restarts):
            start = rng.uniform(bounds[:, 0], bounds[:, 1])
            start[0] = 0.0 if self.normalize_y else start[0]  # unit variance of standardised y
            starts.append(start)
        best = None
        sq = _squared_differences(X)
        objective = self._neg_log_posterior if self._priors(dim) else self._nll_and_grad
        for start in starts:
            result = minimize(objective, start, args=(X, self._y, sq), jac=True,
                              method="L-BFGS-B", bounds=bounds)
            if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
                best = result
        if best is not None:
            self.amplitude_, ls, self.noise_ = self._unpack(best.x, dim)
            self._ls_param = np.asarray(ls, dtype=np.float64).copy()

    def _condition(self):
        from scipy.linalg import cho_factor, cho_solve

        X, dim = self.X_, self.X_.shape[1]
        self.length_scales_ = np.array(self._full_scales(self._ls_param, dim), dtype=np.float64)
        K = kernel_matrix(self.kernel, X, X, self.length_scales_, self.amplitude_)
        K[np.diag_indices_from(K)] += self.noise_
        jitter = 0.0
        for _ in range(6):  # grow the jitter until K factorises (duplicate points, noise 0)
            try:
                self._factor = cho_factor(K + jitter * np.eye(len(K)), lower=True,
                                          check_finite=False)
                break
            except np.linalg.LinAlgError:
                jitter = max(10 * jitter, 1e-10 * self.amplitude_)
        else:
            raise np.linalg.LinAlgError("GaussianProcess: the kernel matrix is not positive "
                                        "definite even with jitter; raise noise")
        self._alpha = cho_solve(self._factor, self._y, check_finite=False)
        self.log_marginal_likelihood_ = float(
            -0.5 * self._y @ self._alpha - np.log(np.diag(self._factor[0])).sum()
            - 0.5 * len(X) * _LOG_2PI)

    def _check_fitted(self):
        if self.X_ is None:
            raise RuntimeError("GaussianProcess: call fit(X, y) before predict")

    def _query(self, X, method):
        """Rows to predict at, checked as ``fit`` checks its own: ``(m, dim)`` with the fitted
        data's columns, finite (NaN or inf would come back as NaN predictions)."""
        self._check_fitted()
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.ndim != 2 or X.shape[1] != self.X_.shape[1]:
            raise ValueError(f"GaussianProcess.{method}: X has {X.shape[-1]} columns; the "
                             f"fitted data had {self.X_.shape[1]} (X must be (m, "
                             f"{self.X_.shape[1]}); got shape {X.shape})")
        if not np.all(np.isfinite(X)):
            raise ValueError(f"GaussianProcess.{method}: X must be finite (no NaN/inf)")
        return X

    def predict(self, X, return_std=True):
        """Posterior mean (and standard deviation of the latent function) at rows of ``X``.

        Returns ``mean`` of shape ``(m,)``, or ``(mean, std)``; the noise
        variance is not added to ``std`` (as scikit-learn's ``predict``).
        """
        from scipy.linalg import solve_triangular

        X = self._query(X, "predict")
        Ks = kernel_matrix(self.kernel, X, self.X_, self.length_scales_, self.amplitude_)
        mean = Ks @ self._alpha * self.y_std_ + self.y_mean_
        if not return_std:
            return mean
        v = solve_triangular(self._factor[0], Ks.T, lower=True, check_finite=False)
        var = np.maximum(self.amplitude_ - np.einsum("ij,ij->j", v, v), 0.0)
        return mean, np.sqrt(var) * self.y_std_

    def predict_with_gradient(self, X):
        """Mean, std and their gradients ``(m, dim)`` with respect to ``X`` (normalised units).

        Used to polish the acquisition with L-BFGS-B. Mean and std are in the
        standardised units of the fitted targets.
        """
        from scipy.linalg import cho_solve

        X = self._query(X, "predict_with_gradient")
        ls2 = self.length_scales_ ** 2
        diff = X[:, None, :] - self.X_[None, :, :]                      # (m, n, d)
        r2 = np.einsum("mnd,d->mn", diff * diff, 1.0 / ls2)
        if self.kernel == "rbf":
            Ks = self.amplitude_ * np.exp(-0.5 * r2)
            dk_factor = -Ks                                              # dk/dx = f * diff/l^2
        else:
            r = np.sqrt(r2)
            e = np.exp(-_SQRT5 * r)
            Ks = self.amplitude_ * (1.0 + _SQRT5 * r + (5.0 / 3.0) * r2) * e
            dk_factor = -self.amplitude_ * (5.0 / 3.0) * (1.0 + _SQRT5 * r) * e
        dK = dk_factor[:, :, None] * diff / ls2                          # (m, n, d)
        mean = Ks @ self._alpha
        dmean = np.einsum("mnd,n->md", dK, self._alpha)
        Kinv_k = cho_solve(self._factor, Ks.T, check_finite=False).T     # (m, n)
        var = np.maximum(self.amplitude_ - np.einsum("mn,mn->m", Ks, Kinv_k), 1e-18)
        std = np.sqrt(var)
        dvar = -2.0 * np.einsum("mnd,mn->md", dK, Kinv_k)
        dstd = dvar / (2.0 * std[:, None])
        return mean, std, dmean, dstd

    def normalise(self, y):
        """Targets in the GP's standardised units."""
        return (np.asarray(y, dtype=np.float64) - self.y_mean_) / self.y_std_
