"""Acquisition functions: where to try next (notes: "Choosing hyperparameters").

The notes: the model predicts "regions in the hyperparameter space that might
do well" and is "explicit about the uncertainty in our prediction"; a new
combination "might not do that well, but we won't have replaced our current
best". An acquisition function turns the Gaussian posterior
:math:`\\mathcal N(\\mu(x), \\sigma^2(x))` into the value of trying :math:`x`,
trading off a good prediction against a large uncertainty. For minimisation,
with the best value so far :math:`f^*` and :math:`z = (f^* - \\mu - \\xi) / \\sigma`:

.. math::

    \\mathrm{EI}(x) &= \\mathbb E[\\max(f^* - f(x), 0)]
                   = (f^* - \\mu - \\xi)\\,\\Phi(z) + \\sigma\\,\\varphi(z)
                   \\quad\\text{(expected improvement, Mockus 1978)}\\\\
    \\mathrm{PI}(x) &= P(f(x) < f^* - \\xi) = \\Phi(z)
                   \\quad\\text{(probability of improvement, Kushner 1964)}\\\\
    \\mathrm{UCB}(x) &= -\\mu + \\kappa\\sigma
                   \\quad\\text{(the lower confidence bound, negated; Srinivas et al. 2010)}

Their gradients follow from :math:`\\partial\\mathrm{EI}/\\partial\\mu = -\\Phi(z)`,
:math:`\\partial\\mathrm{EI}/\\partial\\sigma = \\varphi(z)`,
:math:`\\partial\\mathrm{PI}/\\partial\\mu = -\\varphi(z)/\\sigma`,
:math:`\\partial\\mathrm{PI}/\\partial\\sigma = -z\\varphi(z)/\\sigma`, and the
posterior's own gradient (:meth:`GaussianProcess.predict_with_gradient`).
The acquisition is maximised over the unit cube by scoring random candidates
(and candidates near the best points so far), then polishing the best few with
L-BFGS-B, all of them in one call (their objectives are independent, so the
summed objective's gradient is theirs side by side).
"""

import math

import numpy as np

from ..checks import one_of, positive_int
from ..randomness import resolve_rng
from .space import Space

ACQUISITIONS = ("ei", "ucb", "pi")
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_MIN_STD = 1e-12


def _normal_cdf_pdf(z):
    from scipy.special import ndtr

    return ndtr(z), _INV_SQRT_2PI * np.exp(-0.5 * z * z)


def expected_improvement(mean, std, best, xi=0.0):
    """EI (minimisation): ``(best - mean - xi) Phi(z) + std phi(z)``, ``z = (best-mean-xi)/std``.

    Examples
    --------
    >>> round(float(expected_improvement(0.0, 1.0, 0.0)), 6)  # phi(0) = 1/sqrt(2 pi)
    0.398942
    """
    std = np.maximum(np.asarray(std, dtype=np.float64), _MIN_STD)
    gap = best - np.asarray(mean, dtype=np.float64) - xi
    cdf, pdf = _normal_cdf_pdf(gap / std)
    return gap * cdf + std * pdf


def probability_of_improvement(mean, std, best, xi=0.0):
    """PI for minimisation: ``Phi((best - mean - xi) / std)``."""
    std = np.maximum(np.asarray(std, dtype=np.float64), _MIN_STD)
    return _normal_cdf_pdf((best - np.asarray(mean, dtype=np.float64) - xi) / std)[0]


def upper_confidence_bound(mean, std, kappa=1.96):
    """The confidence bound for minimisation, as a value to maximise: ``-mean + kappa std``."""
    return -np.asarray(mean, dtype=np.float64) + kappa * np.asarray(std, dtype=np.float64)


def acquisition_values(name, mean, std, best, xi=0.0, kappa=1.96):
    """The acquisition ``name`` ("ei", "ucb", "pi") at posterior ``mean``/``std``."""
    if name == "ei":
        return expected_improvement(mean, std, best, xi)
    if name == "pi":
        return probability_of_improvement(mean, std, best, xi)
    return upper_confidence_bound(mean, std, kappa)


def acquisition_with_gradient(name, gp, U, best, xi=0.0, kappa=1.96):
    """Acquisition values ``(m,)`` and gradients ``(m, dim)`` at rows ``U`` (standardised units)."""
    mean, std, dmean, dstd = gp.predict_with_gradient(U)
    std = np.maximum(std, _MIN_STD)
    if name == "ucb":
        return -mean + kappa * std, -dmean + kappa * dstd
    gap = best - mean - xi
    z = gap / std
    cdf, pdf = _normal_cdf_pdf(z)
    if name == "ei":
        value = gap * cdf + std * pdf
        d_mean, d_std = -cdf, pdf
    else:
        value = cdf
        d_mean, d_std = -pdf / std, -z * pdf / std
    return value, d_mean[:, None] * dmean + d_std[:, None] * dstd


def maximize_acquisition(gp, space, best, rng, acquisition="ei", xi=0.0, kappa=1.96,
                         n_candidates=2000, n_polish=5, exclude=None, anchors=None):
    """The point of the cube (decoded to a valid point of ``space``) with the largest acquisition.

    Parameters
    ----------
    gp : GaussianProcess
        Fitted on rows of ``space``'s unit cube.
    space : Space
    best : float
        The best (lowest) observed value, in the GP's standardised units.
    rng : numpy.random.Generator or int
        Draws the candidates (an int seeds a new generator).
    acquisition : {"ei", "ucb", "pi"}
    n_candidates : int
        Random candidates scored before polishing (plus ``n_candidates // 4``
        more drawn near ``anchors``, when given).
    n_polish : int
        How many of the best candidates L-BFGS-B polishes.
    exclude : ndarray, shape (k, dim), optional
        Rows (already projected) that must not be proposed again: pending and
        evaluated points. Skipped while other candidates remain.
    anchors : ndarray, shape (a, dim), optional
        Good points so far: ``n_candidates // 4`` more candidates are drawn around
        them (a normal step of 0.05 in the cube from an anchor picked at random).

    Returns
    -------
    ndarray, shape (dim,)
        A projected row of the cube (rounded integers, one-hot choices).
    """
    from scipy.optimize import minimize

    owner = "maximize_acquisition"
    one_of(owner, "acquisition", acquisition, ACQUISITIONS)
    if not isinstance(space, Space):
        raise TypeError(f"{owner}: space must be a Space; got {type(space).__name__}")
    if getattr(gp, "X_", None) is None:
        raise ValueError(f"{owner}: gp must be fitted (call gp.fit(X, y) on rows of the "
                         f"space's unit cube first)")
    if gp.X_.shape[1] != space.dim:
        raise ValueError(f"{owner}: gp was fitted on {gp.X_.shape[1]} columns; the space has "
                         f"{space.dim} (Space.dim: one per numeric parameter, one per choice "
                         f"value)")
    n_candidates = positive_int(owner, "n_candidates", n_candidates)
    n_polish = positive_int(owner, "n_polish", n_polish)
    rng = resolve_rng(rng)
    dim = space.dim
    candidates = rng.random((n_candidates, dim))
    if anchors is not None and len(anchors):
        k = n_candidates // 4
        picks = anchors[rng.integers(len(anchors), size=k)]
        local = np.clip(picks + rng.normal(0.0, 0.05, size=(k, dim)), 0.0, 1.0)
        candidates = np.concatenate([candidates, local])
    candidates = space.project(candidates)
    mean, std = gp.predict(candidates)
    scores = acquisition_values(acquisition, gp.normalise(mean), std / gp.y_std_, best, xi,
                                kappa)
    order = np.argsort(-scores, kind="stable")
    starts = candidates[order[:n_polish]]

    def negative(flat):
        U = flat.reshape(-1, dim)
        value, grad = acquisition_with_gradient(acquisition, gp, U, best, xi, kappa)
        return -float(value.sum()), -grad.ravel()

    result = minimize(negative, starts.ravel(), jac=True, method="L-BFGS-B",
                      bounds=[(0.0, 1.0)] * starts.size, options={"maxiter": 50})
    polished = space.project(result.x.reshape(-1, dim))
    pool = np.concatenate([polished, candidates[order[:4 * n_polish]]])
    mean, std = gp.predict(pool)
    pool_scores = acquisition_values(acquisition, gp.normalise(mean), std / gp.y_std_, best, xi,
                                     kappa)
    ranked = np.argsort(-pool_scores, kind="stable")
    if exclude is not None and len(exclude):
        for i in ranked:
            if not np.any(np.all(np.abs(exclude - pool[i]) < 1e-9, axis=1)):
                return pool[i]
        for i in order:  # every good candidate was taken: the best fresh random one
            if not np.any(np.all(np.abs(exclude - candidates[i]) < 1e-9, axis=1)):
                return candidates[i]
    return pool[ranked[0]]
