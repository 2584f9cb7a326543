"""Parzen-window (Gaussian kernel) density estimates (notes: "Generative Adversarial Networks").

The notes draw the conditions of a conditional GAN from "a kernel density
estimate p_y(y) (called a Parzen window estimate) using the conditional values
in the training data. We use a Gaussian kernel and cross-validate the kernel
width sigma using a held-out validation set." The same estimate, fitted to a
generator's samples and scored on test data, is the usual log-likelihood
evaluation of a GAN (Goodfellow et al. 2014, Table 1):
:func:`parzen_log_likelihood`.

The log-density of a row ``x`` under centres ``s_1..s_N`` in ``d`` dimensions::

    log p(x) = logsumexp_j(-||x - s_j||^2 / (2 sigma^2)) - log N - d/2 log(2 pi sigma^2)

computed block by block (a few thousand test rows at a time), the squared
distances as ``||x||^2 + ||s||^2 - 2 x.s`` with one matrix product per block,
so 10,000 x 10,000 points in 784 dimensions needs well under a gigabyte. The
distances are computed in float64 on points moved to the centres' mean (in
float32 that formula cancels away from the origin); log-likelihoods are float64
whatever the data's dtype.
"""

import math

import numpy as np

from ..checks import positive_float, positive_int
from ..randomness import resolve_rng

__all__ = ["ParzenWindow", "parzen_log_likelihood"]

_BLOCK_ELEMENTS = 1 << 23  # distances per block (64 MiB in float64)


def _as_rows(X, owner, name):
    X = np.asarray(X)
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{owner}: {name} must be a numeric array; got dtype {X.dtype}")
    if X.ndim == 0:
        raise ValueError(f"{owner}: {name} must be (n, d) rows (or a 1-D array of n values); "
                         f"got a scalar")
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        X = X.reshape(len(X), -1)
    if len(X) == 0:
        raise ValueError(f"{owner}: {name} must hold at least one row; got shape {X.shape}")
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    if not np.isfinite(X).all():
        raise ValueError(f"{owner}: {name} contains NaN or infinite values")
    return X


def _prepare(centres):
    """The centres in float64, shifted by their mean, with their squared norms.

    ``||x||^2 + ||s||^2 - 2 x.s`` cancels catastrophically when the points lie far from
    the origin (in float32, at 1,000 from it, every distance is off by ~0.1): the
    distances are computed in float64 on points moved to the centres' mean.
    """
    centres = np.asarray(centres, dtype=np.float64)
    shift = centres.mean(axis=0)
    centred = centres - shift
    return shift, centred, np.einsum("ij,ij->i", centred, centred)


def _log_likelihood(centres, X, sigmas, prepared=None):
    """(len(sigmas), len(X)) float64 log-densities; the distances are computed once for all
    sigmas. ``prepared``: :func:`_prepare` (centres), when the caller keeps it."""
    shift, centres, centre_sq = _prepare(centres) if prepared is None else prepared
    X = np.asarray(X, dtype=np.float64) - shift
    n, d = centres.shape
    sigmas = np.asarray(sigmas, dtype=np.float64)
    out = np.empty((len(sigmas), len(X)))
    rows = max(1, _BLOCK_ELEMENTS // max(n, 1))
    for start in range(0, len(X), rows):
        xb = X[start:start + rows]
        dist = xb @ centres.T  # (b, n): -2 x.s + ||s||^2 + ||x||^2, in place
        dist *= -2
        dist += centre_sq
        dist += np.einsum("ij,ij->i", xb, xb)[:, None]
        np.maximum(dist, 0, out=dist)
        nearest = dist.min(axis=1)  # the largest exponent, for a stable log-sum-exp
        for i, sigma in enumerate(sigmas):
            scale = -0.5 / (sigma * sigma)
            e = np.subtract(dist, nearest[:, None], dtype=np.float64)
            e *= scale
            np.exp(e, out=e)
            out[i, start:start + len(xb)] = np.log(e.sum(axis=1)) + scale * nearest
    out -= math.log(n)
    out -= 0.5 * d * np.log(2 * math.pi * sigmas * sigmas)[:, None]
    return out


def _default_grid(X):
    """Widths from 1/100 of to twice the data's mean per-dimension spread, log-spaced."""
    spread = float(np.mean(np.std(X, axis=0)))
    if not spread > 0:
        spread = 1.0
    return np.geomspace(spread * 1e-2, spread * 2.0, 20)


class ParzenWindow:
    """A Gaussian kernel density estimate, the kernel width chosen by validation.

    Parameters
    ----------
    sigma : float, optional
        The kernel's standard deviation. ``None``: chosen in :meth:`fit` by
        maximising the mean log-likelihood of held-out data over ``grid``.
    grid : sequence of float, optional
        The widths tried when ``sigma`` is None; default 20 log-spaced values
        from 1/100 of to twice the mean per-dimension standard deviation.
    rng : numpy.random.Generator or int, optional
        For the held-out split (when ``fit`` gets no validation set) and :meth:`sample`.

    Attributes
    ----------
    sigma_ : float
        The width in use after :meth:`fit`.
    grid_, scores_ : ndarray or None
        The widths tried and their mean validation log-likelihoods.
    centres_ : ndarray (n, d)
        A copy of the rows ``fit`` was given (editing them afterwards changes nothing).

    Notes
    -----
    .. math::

        \\log p(x) = \\log \\frac{1}{N} \\sum_{j=1}^N \\mathcal{N}(x; s_j, \\sigma^2 I)

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> kde = rb.models.ParzenWindow(sigma=0.5).fit(X)
    >>> kde.log_likelihood(np.zeros((1, 2))).round(2)
    array([-2.09])
    """

    def __init__(self, sigma=None, grid=None, rng=None):
        self.sigma, self.grid = sigma, grid
        self._check_params("ParzenWindow")
        self.rng = resolve_rng(rng)
        self.sigma_ = self.sigma
        self.grid_ = self.scores_ = None
        self.centres_ = None
        self._prepared = None

    def _check_params(self, owner):
        """Check (and make plain) ``sigma`` and ``grid``: the constructor's checks, run again by
        :meth:`fit` for values set since (a zero or NaN width gives NaN log-likelihoods)."""
        sigma, grid = self.sigma, self.grid
        self.sigma = None if sigma is None else positive_float(owner, "sigma", sigma)
        if grid is not None:
            try:
                grid = np.asarray(grid, dtype=np.float64).ravel()
            except (TypeError, ValueError):
                raise TypeError(f"{owner}: grid must be numbers (the candidate widths "
                                f"sigma); got {grid!r:.60}") from None
            if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
                raise ValueError(f"{owner}: grid must hold finite widths > 0; got {grid}")
        self.grid = grid

    def fit(self, X, validation=None):
        """Use the rows of ``X`` as the kernel centres; pick ``sigma`` if it is None.

        Parameters
        ----------
        X : array_like (n, d)
        validation : array_like (m, d), optional
            Held-out rows scoring each width. Default (only when ``sigma`` is
            None): a random fifth of ``X`` is held out for the choice and the
            estimate then keeps all of ``X``.

        Returns
        -------
        ParzenWindow
            self.
        """
        self._check_params("ParzenWindow.fit")  # (set since construction, maybe)
        X = _as_rows(X, "ParzenWindow.fit", "X")
        if self.sigma is None:
            grid = self.grid if self.grid is not None else _default_grid(X)
            if validation is None:
                if len(X) < 2:
                    raise ValueError("ParzenWindow.fit: choosing sigma needs at least 2 rows of X "
                                     "(or a validation set); got 1")
                order = self.rng.permutation(len(X))
                cut = max(1, len(X) // 5)
                train, val = X[order[cut:]], X[order[:cut]]
            else:
                train = X
                val = _as_rows(validation, "ParzenWindow.fit", "validation")
                if val.shape[1] != X.shape[1]:
                    raise ValueError(f"ParzenWindow.fit: validation has {val.shape[1]} columns "
                                     f"but X has {X.shape[1]}")
            scores = _log_likelihood(train, val, grid).mean(axis=1)
            self.grid_, self.scores_ = grid, scores
            self.sigma_ = float(grid[int(np.argmax(scores))])
        else:
            self.sigma_ = self.sigma
        # a copy: sample() and log_likelihood() describe the data fit saw, even when the
        # caller refills its array afterwards (_as_rows keeps a float array as it is)
        self.centres_ = X.copy()
        self._prepared = _prepare(self.centres_)
        return self

    def _check_fitted(self, where):
        if self.centres_ is None:
            raise RuntimeError(f"ParzenWindow.{where}: call fit(X) first")

    def log_likelihood(self, X):
        """The log-density of each row of ``X``; ndarray (len(X),)."""
        self._check_fitted("log_likelihood")
        X = _as_rows(X, "ParzenWindow.log_likelihood", "X")
        if X.shape[1] != self.centres_.shape[1]:
            raise ValueError(f"ParzenWindow.log_likelihood: X has {X.shape[1]} columns; the "
                             f"estimate was fitted on {self.centres_.shape[1]}")
        return _log_likelihood(self.centres_, X, [self.sigma_], self._prepared)[0]

    def score(self, X):
        """The mean log-likelihood of the rows of ``X``."""
        return float(self.log_likelihood(X).mean())

    def sample(self, n, rng=None):
        """``n`` draws: a random centre plus Gaussian noise of width ``sigma``; (n, d)."""
        self._check_fitted("sample")
        n = positive_int("ParzenWindow.sample", "n", n, allow_zero=True)
        rng = self.rng if rng is None else resolve_rng(rng)
        idx = rng.integers(len(self.centres_), size=n)
        noise = rng.standard_normal((n, self.centres_.shape[1]))
        return (self.centres_[idx] + self.sigma_ * noise).astype(self.centres_.dtype, copy=False)


def parzen_log_likelihood(samples, test, sigma=None, validation=None, grid=None, rng=None):
    """Mean log-likelihood of ``test`` under a Parzen window on ``samples`` (GAN evaluation).

    Parameters
    ----------
    samples : array_like (n, d)
        E.g. a generator's samples.
    test : array_like (m, d)
    sigma : float, optional
        ``None``: chosen on ``validation`` (default a fifth of ``samples``), as
        :class:`ParzenWindow` does.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> s = np.random.default_rng(0).normal(size=(500, 2))
    >>> round(rb.models.parzen_log_likelihood(s, s[:50], sigma=0.3), 1)
    -2.8
    """
    kde = ParzenWindow(sigma=sigma, grid=grid, rng=rng).fit(samples, validation=validation)
    return kde.score(test)
