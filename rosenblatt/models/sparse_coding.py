"""Sparse coding (notes: "Sparse Coding").

The model: each input x_t (a column of n_features values) is a sparse combination D h_t of
the columns ("atoms") of a dictionary D, found by

    min_D (1/T) sum_t min_{h_t} 1/2 ||x_t - D h_t||_2^2 + lam ||h_t||_1

with every column of D of norm 1 (``dictionary_norm="unit"``) or at most 1 ("at_most_one"),
since otherwise D could grow and the codes shrink. D h_t is the reconstruction; D plays the
part of an autoencoder's output weights.

Code inference (D fixed) is a lasso per example. Written for a whole batch at once, with rows
of X (n, n_features) as examples and H (n, n_atoms) the codes, the smooth part's gradient is
H G - X D with G = D^T D, so every solver step is a matrix product over the batch:

- ISTA: H <- soft(H - (H G - X D) / L, lam / L), L the largest eigenvalue of G;
- FISTA (Beck & Teboulle 2009): the same step taken from an extrapolated point
  Y = H_k + (t_{k-1} - 1) / t_k (H_k - H_{k-1}), t_k = (1 + sqrt(1 + 4 t_{k-1}^2)) / 2;
- coordinate descent: one atom at a time for all examples together,
  h_k <- soft(x D_k - sum_{j != k} h_j G_jk, lam) / G_kk, keeping R = X D - H G up to date;

with soft(v, a) = sign(v) max(|v| - a, 0).

Dictionary update (H fixed): block coordinate descent on the sufficient statistics
A = sum_t h_t h_t^T and B = sum_t x_t h_t^T of the examples seen (Mairal et al. 2009, online
dictionary learning, with their forgetting of old mini-batches), one column at a time:
d_k <- d_k + (b_k - D a_k) / A_kk, then projected back on the unit sphere (or ball). An atom
no example uses (A_kk = 0) is restarted from a random example.

Inference that reaches ``max_iter`` with codes still moving returns them with a
:class:`ConvergenceWarning` (as scikit-learn's ``sparse_encode`` does); ISTA, whose step is
1/L, is the slow one (kept for study: FISTA takes the same steps with momentum).

A model is saved by ``rb.save`` like any other (safetensors + JSON): the dictionary is its one
buffer, its width ``n_features`` part of its config.
"""

import warnings

import numpy as np

from ..autodiff.tensor import Tensor
from ..checks import one_of, positive_float, positive_int
from ..nn.module import Module
from ..randomness import resolve_rng

__all__ = ["ConvergenceWarning", "SparseCoding", "soft_threshold"]


class ConvergenceWarning(UserWarning):
    """Code inference stopped at ``max_iter`` before the codes settled (scikit-learn's name)."""

SOLVERS = ("fista", "ista", "coordinate_descent")
NORMS = ("unit", "at_most_one")


def soft_threshold(v, a):
    """sign(v) max(|v| - a, 0), the proximal operator of a ||.||_1 (elementwise).

    Computed as v - clip(v, -a, a): two passes over v instead of four.
    """
    return v - np.clip(v, -a, a)


def _lipschitz(G):
    return max(float(np.linalg.eigvalsh(G)[-1]), 1e-12)


def _movement(new, old):
    """How far each row's codes moved, relative to the row's largest code (at least 1): a row
    has settled when this is at most ``tol``."""
    return np.abs(new - old).max(axis=1) / np.maximum(1.0, np.abs(new).max(axis=1))


def _proximal_gradient(C, G, lam, H, max_iter, tol, accelerated):
    """ISTA / FISTA over a batch: C = X D (n, k), G = D^T D; H the start (n, k).

    Each row stops when it has converged (tested every 10 iterations), so a row's codes do
    not depend on the other rows of the batch. Returns the codes, the number of rows that
    had not settled at ``max_iter`` and the largest relative movement among them.
    """
    L = _lipschitz(G)
    step, threshold = 1.0 / L, lam / L
    out = H.copy()
    rows = np.arange(len(H))
    Y, t = H.copy(), 1.0
    for it in range(max_iter):
        grad = Y @ G
        grad -= C
        Y -= step * grad
        H_new = soft_threshold(Y, threshold)
        if accelerated:
            t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
            Y = H_new + ((t - 1) / t_new) * (H_new - H)
            t = t_new
        else:
            Y = H_new.copy()
        if it % 10 == 9 or it == max_iter - 1:
            moved = _movement(H_new, H)
            done = moved <= tol
            out[rows[done]] = H_new[done]
            if done.all():
                return out, 0, 0.0
            if done.any():
                keep = ~done
                rows, C, Y, H_new, moved = rows[keep], C[keep], Y[keep], H_new[keep], moved[keep]
        H = H_new
    out[rows] = H
    return out, len(rows), float(moved.max())


def _coordinate_descent(C, G, lam, H, max_iter, tol):
    """Cyclic coordinate descent, one atom for the whole batch at a time (rows stop apart).

    Returns what :func:`_proximal_gradient` returns."""
    out = H
    rows = np.arange(len(H))
    H = H.copy()
    R = C - H @ G  # R[:, k] + H[:, k] G_kk is the k-th coordinate's least-squares target
    diag = np.maximum(np.diag(G), 1e-12)
    for _ in range(max_iter):
        before = H.copy()
        for k in range(H.shape[1]):
            old = H[:, k].copy()
            new = soft_threshold(R[:, k] + diag[k] * old, lam) / diag[k]
            delta = new - old
            if delta.any():
                R -= np.outer(delta, G[k])
                H[:, k] = new
        moved = _movement(H, before)
        done = moved <= tol
        out[rows[done]] = H[done]
        if done.all():
            return out, 0, 0.0
        keep = ~done
        rows, H, R, moved = rows[keep], H[keep], R[keep], moved[keep]
    out[rows] = H
    return out, len(rows), float(moved.max())


def _float_dtype_of(X):
    """``X``'s dtype if it is a float one, else float64: the dtype of what is computed from it."""
    dtype = getattr(X, "dtype", None)
    return np.dtype(dtype) if dtype is not None and np.dtype(dtype).kind == "f" \
        else np.dtype(np.float64)


class SparseCoding(Module):
    """Sparse coding: a dictionary learned with its sparse codes.

    Parameters
    ----------
    n_atoms : int
        The number of dictionary columns (atoms); more than the input size is overcomplete.
        ``fit`` learns a dictionary of this many atoms: set since, it must be refitted before
        ``transform``, ``reconstruct``, ``objective`` or ``rb.save`` (which refuse otherwise).
    lam : float
        The L1 weight lambda of the notes' objective.
    dictionary_norm : {"unit", "at_most_one"}, default "unit"
        Columns of norm exactly 1, or at most 1.
    solver : {"fista", "ista", "coordinate_descent"}, default "fista"
        Code inference (see the module docstring).
    rng : numpy.random.Generator or int, optional
        The initial dictionary (random examples), the order of examples, restarted atoms.
    max_iter : int, default 1000
        The most solver iterations (sweeps over the atoms for coordinate descent) per batch.
        Each row stops as soon as it has settled, so a generous limit costs little; 300 (the
        default before) left FISTA's codes of a third of the digits unsettled with 64 atoms.
    tol : float, default 1e-4
        Stop inference when no code moves by more than ``tol`` (relative to the largest).
        Rows still moving at ``max_iter`` are returned with a :class:`ConvergenceWarning`
        (raise ``max_iter``). ISTA needs many more iterations than FISTA or coordinate
        descent, and its test is on one step of length 1/L: its settled codes can still be a
        few percent off the lasso solution (use it to study the method, FISTA to use it).

    Attributes
    ----------
    dictionary : ndarray, shape (n_features, n_atoms)
        D, set by :meth:`fit` (a buffer: ``rb.save``/``rb.load`` keep it).
    history : list of float
        The training objective (with the codes of each batch when it was seen) per epoch.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> X, _ = rb.datasets.load_digits()
    >>> sc = rb.models.SparseCoding(32, lam=0.1, rng=0).fit(X[:500], epochs=3)
    >>> np.allclose(np.linalg.norm(sc.dictionary, axis=0), 1.0)
    True
    >>> codes = sc.transform(X[500:510])
    >>> codes.shape, bool((codes == 0).mean() > 0.5)
    ((10, 32), True)
    """

    buffers = ("dictionary",)

    @classmethod
    def state_shapes(cls, config):
        """The dictionary (n_features, n_atoms) once fitted (``n_features`` in the config)."""
        n_atoms = positive_int("SparseCoding", "n_atoms", config["n_atoms"])
        n_features = config.get("n_features")
        if n_features is None:
            return {}
        return {"dictionary": (positive_int("SparseCoding", "n_features", n_features), n_atoms)}

    @classmethod
    def from_config(cls, config):
        """Rebuild from :meth:`config`: the constructor's arguments and ``n_features`` (the
        width of the dictionary to be filled in by the loader; None before fit)."""
        config = dict(config)
        n_features = config.pop("n_features", None)
        model = cls(**config)
        if n_features is not None:
            n_features = positive_int("SparseCoding", "n_features", n_features)
            model.dictionary = np.zeros((n_features, model.n_atoms))
        return model

    def _check_hyper(self, owner, fitting=False):
        """Check the settings the solvers read and ``rb.save`` writes: the constructor's
        checks, run again by :meth:`fit`, :meth:`transform` (and the other methods that
        infer codes) and :meth:`config` for values set since. ``n_atoms`` set since must
        agree with the learned dictionary until ``fit`` (``fitting``) learns a new one."""
        self.n_atoms = positive_int(owner, "n_atoms", self.n_atoms)
        dictionary = self.__dict__.get("dictionary")
        if not fitting and dictionary is not None and np.shape(dictionary)[1] != self.n_atoms:
            raise ValueError(f"{owner}: n_atoms is {self.n_atoms} but the dictionary was "
                             f"learned with {np.shape(dictionary)[1]} atoms; call fit(X) to "
                             f"learn one of n_atoms atoms, or set n_atoms back")
        self.lam = positive_float(owner, "lam", self.lam, allow_zero=True)
        self.dictionary_norm = one_of(owner, "dictionary_norm", self.dictionary_norm, NORMS)
        self.solver = one_of(owner, "solver", self.solver, SOLVERS)
        self.max_iter = positive_int(owner, "max_iter", self.max_iter)
        self.tol = positive_float(owner, "tol", self.tol, allow_zero=True)

    def config(self):
        """The constructor arguments (``rng`` aside) and the dictionary's ``n_features``,
        checked as the constructor checks them."""
        self._check_hyper("save: SparseCoding")
        return {"n_atoms": self.n_atoms, "lam": self.lam,
                "dictionary_norm": self.dictionary_norm, "solver": self.solver,
                "max_iter": self.max_iter, "tol": self.tol,
                "n_features": None if self.dictionary is None else
                int(np.shape(self.dictionary)[0])}

    def named_buffers(self, prefix="", _seen=None):
        """The dictionary, once there is one."""
        if self.dictionary is None:
            return []
        return [(f"{prefix}dictionary", self.dictionary)]

    def forward(self, x):
        """``transform`` as a Tensor (no gradient), so a model can sit in a pipeline."""
        return Tensor(self.transform(x))

    def __init__(self, n_atoms, lam, dictionary_norm="unit", solver="fista", rng=None, *,
                 max_iter=1000, tol=1e-4):
        owner = "SparseCoding"
        self.n_atoms, self.lam, self.dictionary_norm, self.solver = n_atoms, lam, \
            dictionary_norm, solver
        self.max_iter, self.tol = max_iter, tol
        self._check_hyper(owner)
        self.rng = None if rng is None else resolve_rng(rng)  # None: the library generator
        self.dictionary = None
        self.history = []

    def __repr__(self):
        return (f"SparseCoding(n_atoms={self.n_atoms}, lam={self.lam}, "
                f"dictionary_norm={self.dictionary_norm!r}, solver={self.solver!r})")

    # -- checks -----------------------------------------------------------------------------
    def _check_X(self, X, where, check_width=True):
        """X as a float64 array; ``check_width``: its width against the learned dictionary
        (not in fit, which learns a new one)."""
        if not isinstance(X, (np.ndarray, Tensor)) and callable(getattr(X, "toarray", None)):
            raise TypeError(f"SparseCoding.{where}: X is a sparse matrix of shape "
                            f"{getattr(X, 'shape', '?')}; pass X.toarray() (the solvers work on "
                            f"dense arrays)")
        X = np.asarray(X.data if isinstance(X, Tensor) else X)
        if X.dtype == object or X.dtype.kind not in "biuf":
            raise TypeError(f"SparseCoding.{where}: X must be a numeric array; got dtype "
                            f"{X.dtype}")
        if X.ndim != 2 or len(X) == 0:
            raise ValueError(f"SparseCoding.{where}: X must have shape (n_examples, n_features) "
                             f"with n_examples >= 1; got {X.shape}")
        if check_width and self.dictionary is not None and X.shape[1] != self.dictionary.shape[0]:
            raise ValueError(f"SparseCoding.{where}: X has {X.shape[1]} features but the "
                             f"dictionary was learned on {self.dictionary.shape[0]}")
        X = X.astype(np.float64, copy=False)
        if not np.isfinite(X).all():
            raise ValueError(f"SparseCoding.{where}: X contains NaN or infinite values; remove "
                             f"or impute them")
        return X

    def _fitted(self, where):
        self._check_hyper(f"SparseCoding.{where}")  # (set since construction, maybe)
        if self.dictionary is None:
            raise RuntimeError(f"SparseCoding.{where}: call fit(X) first (no dictionary yet)")
        # a file's dictionary is loaded as given: a NaN in it would fail deep in NumPy's
        # eigenvalue solver ("Eigenvalues did not converge"), an inf give NaN codes
        if not np.isfinite(self.dictionary).all():
            raise ValueError(f"SparseCoding.{where}: the dictionary contains NaN or infinite "
                             f"values (a corrupt file?); refit with fit(X)")

    # -- the two halves of the alternation -------------------------------------------------
    def _infer(self, X, D, H=None, max_iter=None, where=None):
        """The codes of the rows of ``X`` for the dictionary ``D`` (one batch, no loop per row).

        ``where`` (an entry point's name) asks for a :class:`ConvergenceWarning` when rows are
        still moving at ``max_iter``; fit's deliberately short inner solves pass none.
        """
        max_iter = self.max_iter if max_iter is None else max_iter
        G = D.T @ D
        C = X @ D
        if H is None:
            H = np.zeros((len(X), D.shape[1]))
        if self.solver == "coordinate_descent":
            H, left, moved = _coordinate_descent(C, G, self.lam, H.copy(), max_iter, self.tol)
        else:
            H, left, moved = _proximal_gradient(C, G, self.lam, H, max_iter, self.tol,
                                                accelerated=self.solver == "fista")
        if left and where is not None:
            advice = "raise max_iter, or use solver='fista' (ISTA's steps with momentum) or " \
                "'coordinate_descent'" if self.solver == "ista" else "raise max_iter or tol"
            warnings.warn(
                f"SparseCoding.{where}: {left} of {len(X)} rows did not converge in "
                f"max_iter={max_iter} iterations (solver={self.solver!r}); their codes still "
                f"moved by up to {moved:.3g} (tol={self.tol:g}): {advice}", ConvergenceWarning,
                stacklevel=3)
        return H

    def _project(self, d):
        norm = np.linalg.norm(d)
        if self.dictionary_norm == "unit":
            return d / norm if norm > 1e-12 else None
        return d / max(norm, 1.0)

    def _restart(self, X):
        """A random example, normalised (for an atom no example uses)."""
        rng = resolve_rng(self.rng)
        d = X[rng.integers(len(X))] + 1e-3 * rng.standard_normal(X.shape[1])
        return d / max(np.linalg.norm(d), 1e-12)

    def _update_dictionary(self, D, A, B, X):
        """One block coordinate descent sweep over the columns, each projected on the sphere."""
        for k in range(D.shape[1]):
            if A[k, k] < 1e-10:
                D[:, k] = self._restart(X)
                continue
            d = D[:, k] + (B[:, k] - D @ A[:, k]) / A[k, k]
            d = self._project(d)
            D[:, k] = self._restart(X) if d is None else d
        return D

    # -- public API --------------------------------------------------------------------------
    def fit(self, X, epochs=10, batch_size=256, inner_iter=50):
        """Learn the dictionary from ``X`` (n_examples, n_features); returns self.

        Each mini-batch: infer its codes (warm-started from the codes of the previous epoch),
        fold them into the statistics A, B, and take a block coordinate descent sweep on D.

        Parameters
        ----------
        X : array_like, shape (n_examples, n_features)
        epochs : int, default 10
        batch_size : int, default 256
        inner_iter : int, default 50
            At most this many solver iterations per batch while learning (and at most
            ``max_iter``): the codes need not be exact while D still moves, and each epoch
            starts from the codes of the last, so they keep improving.
        """
        self._check_hyper("SparseCoding.fit", fitting=True)  # (set since construction, maybe)
        X = self._check_X(X, "fit", check_width=False)
        inner_iter = min(positive_int("SparseCoding.fit", "inner_iter", inner_iter),
                         self.max_iter)
        epochs = positive_int("SparseCoding.fit", "epochs", epochs)
        batch_size = min(positive_int("SparseCoding.fit", "batch_size", batch_size), len(X))
        n, n_features = X.shape
        rng = resolve_rng(self.rng)
        start = X[rng.choice(n, self.n_atoms, replace=self.n_atoms > n)].T.copy()
        start += 1e-3 * rng.standard_normal(start.shape)
        D = start / np.maximum(np.linalg.norm(start, axis=0), 1e-12)
        A = np.zeros((self.n_atoms, self.n_atoms))
        B = np.zeros((n_features, self.n_atoms))
        codes = np.zeros((n, self.n_atoms))
        self.history, step = [], 0
        for _ in range(epochs):
            order = rng.permutation(n)
            total = 0.0
            for begin in range(0, n, batch_size):
                index = order[begin:begin + batch_size]
                xb = X[index]
                H = self._infer(xb, D, codes[index], max_iter=inner_iter)
                codes[index] = H
                residual = xb - H @ D.T
                total += 0.5 * float(np.vdot(residual, residual)) + self.lam * np.abs(H).sum()
                # forget the codes of older dictionaries (Mairal et al. 2009, section 3.4.1)
                size = len(index)
                theta = (step + 1) * size if step < size - 1 else size * size + step + 1 - size
                beta = (theta + 1 - size) / (theta + 1)
                A *= beta
                A += H.T @ H / size
                B *= beta
                B += xb.T @ H / size
                D = self._update_dictionary(D, A, B, xb)
                step += 1
            self.history.append(total / n)
        self.dictionary = D
        return self

    def transform(self, X):
        """The sparse codes of ``X`` (n, n_features) for the learned dictionary: (n, n_atoms),
        in ``X``'s float dtype (float64 for integer data); solved in float64."""
        self._fitted("transform")
        dtype = _float_dtype_of(X)
        X = self._check_X(X, "transform")
        return self._infer(X, self.dictionary, where="transform").astype(dtype, copy=False)

    def reconstruct(self, X):
        """D h for the codes h of ``X``: (n, n_features), in ``X``'s float dtype."""
        self._fitted("reconstruct")
        dtype = _float_dtype_of(X)
        X = self._check_X(X, "reconstruct")
        H = self._infer(X, self.dictionary, where="reconstruct")
        return (H @ self.dictionary.T).astype(dtype, copy=False)

    def objective(self, X, codes=None):
        """(1/T) sum_t 1/2 ||x_t - D h_t||^2 + lam ||h_t||_1, the notes' objective, on ``X``."""
        self._fitted("objective")
        X = self._check_X(X, "objective")
        if codes is None:
            H = self._infer(X, self.dictionary, where="objective")
        else:
            H = np.asarray(codes)
            if H.dtype.kind not in "biuf" or H.shape != (len(X), self.n_atoms):
                raise ValueError(f"SparseCoding.objective: codes must be a numeric array of "
                                 f"shape (n_examples, n_atoms) = {(len(X), self.n_atoms)}; got "
                                 f"shape {H.shape}, dtype {H.dtype}")
            H = H.astype(np.float64, copy=False)
            if not np.isfinite(H).all():
                raise ValueError("SparseCoding.objective: codes contain NaN or infinite values")
        residual = X - H @ self.dictionary.T
        return float(0.5 * np.einsum("ij,ij->", residual, residual) / len(X)
                     + self.lam * np.abs(H).sum() / len(X))
