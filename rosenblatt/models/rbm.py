"""Restricted Boltzmann machines (notes: "Restricted Boltzmann machines", "Deep autoencoders").

An RBM is a two-layer undirected model: visible units v, binary hidden
units h, and no connections inside a layer. Its energy and the distribution
it defines are

    E(v, h) = -v.b - h.c - v W h                      (Bernoulli visibles)
    E(v, h) = |v - b|^2 / 2 - h.c - v W h             (Gaussian visibles, unit variance)
    p(v, h) = exp(-E(v, h)) / Z,   F(v) = -log sum_h exp(-E(v, h))

Because a layer has no internal connections, each layer is conditionally
independent given the other:

    p(h_j = 1 | v) = sigma(c_j + (v W)_j)
    p(v_i = 1 | h) = sigma(b_i + (W h)_i)             (Bernoulli)
    v_i | h ~ N(b_i + (W h)_i, 1)                      (Gaussian)

so Gibbs sampling alternates two matrix products. The log-likelihood
gradient is a difference of two correlations, <v h>_data - <v h>_model;
contrastive divergence (CD-k, Hinton 2002) replaces the model expectation by
the state of a Gibbs chain run k steps from the data, persistent CD (PCD-k,
Tieleman 2008) by chains that carry on from one minibatch to the next.

The notes use RBMs for unsupervised feature learning (``transform``: the
hidden probabilities) and semi-supervised learning (features learned from
abundant unlabelled data feed a classifier trained on few labels).
"""

import collections
import math
import os
import sys
import time

import numpy as np

from ..autodiff.elementwise import sigmoid_probabilities
from ..autodiff.tensor import Tensor
from ..checks import boolean, one_of, positive_float, positive_int, unit_interval
from ..nn.module import Module
from ..nn.parameter import Parameter, ParameterVector
from ..optim.sgd import SGD
from ..randomness import generator, resolve_rng
from ..training.callbacks import callback_list
from ..training.history import History
from ..training.trainer import callback_kind, match_callback_states, placed_callbacks

LogEstimate = collections.namedtuple("LogEstimate", "value low high")
LogEstimate.__doc__ = """An estimate with its error bars (low = high = value when exact)."""

EXACT_LIMIT = 20  # enumerate 2**20 states at most


def _check_dtype(owner, dtype):
    """``dtype`` as a NumPy dtype, float32 or float64 (NumPy's generators draw only these:
    ``rng.random(..., dtype=float16)`` raises); else a TypeError naming ``owner``."""
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{owner}: dtype must be float32 or float64; got {dtype}")
    return dtype


def softplus(x):
    """log(1 + e^x) = max(x, 0) + log1p(e^-|x|): stable for any magnitude, keeps the dtype.

    Written out because ``np.logaddexp(0, x)`` is about 15x slower (it is AIS's inner loop).
    """
    x = np.asarray(x)
    out = np.abs(x)
    np.negative(out, out=out)
    np.exp(out, out=out)
    np.log1p(out, out=out)
    out += np.maximum(x, 0)
    return out


def sigmoid_(a):
    """The logistic function in place, as (1 + tanh(a / 2)) / 2 (never overflows); returns a."""
    return sigmoid_probabilities(a, out=a)


def _logsumexp(a, axis=None):
    m = np.max(a, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True))
    return np.squeeze(out, axis=axis) if axis is not None else float(out.reshape(()))


def softmax_(a):
    """Row-wise softmax in place (shifted by each row's maximum: never overflows); returns a."""
    a -= a.max(axis=1, keepdims=True)
    np.exp(a, out=a)
    a /= a.sum(axis=1, keepdims=True)
    return a


def draw_one_hot(p, rng):
    """One one-hot row per row of probabilities ``p`` (rows summing to 1), in p's dtype."""
    pick = (np.cumsum(p, axis=1) < rng.random((len(p), 1))).sum(axis=1)
    out = np.zeros_like(p)
    out[np.arange(len(p)), np.minimum(pick, p.shape[1] - 1)] = 1
    return out


def all_states(n, start=0, stop=None, dtype=np.float64):
    """Binary vectors ``start .. stop-1`` of the 2**n states, as rows, shape (stop-start, n)."""
    stop = 2 ** n if stop is None else stop
    codes = np.arange(start, stop, dtype=np.int64)
    return ((codes[:, None] >> np.arange(n, dtype=np.int64)) & 1).astype(dtype)


def _saved_array(saved, key, shape, field, kinds="f", optional=True, unit=False):
    """``saved[key]``, an array of ``shape`` (None: any length) and dtype kind ``kinds``;
    ``unit``: finite and in [0, 1]. A FormatError starting with ``field`` otherwise."""
    from ..io import FormatError

    value = saved.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, np.ndarray) or value.dtype.kind not in kinds or len(
            value.shape) != len(shape) or any(
            s is not None and s != v for s, v in zip(shape, value.shape)):
        raise FormatError(f"{field}[{key!r}]: expected an array of shape {shape}; got "
                          f"{getattr(value, 'shape', value)!r:.60}")
    if unit and value.size and not (np.all(np.isfinite(value)) and value.min() >= 0
                                    and value.max() <= 1):  # (NaN fails the first test)
        raise FormatError(f"{field}[{key!r}]: expected finite values in [0, 1]; got values "
                          f"from {np.min(value)} to {np.max(value)}")
    return value


class _FitState:
    """What callbacks see during ``RBM.fit`` (the ``trainer`` of rb.callbacks hooks)."""

    def __init__(self, model, optimizer, history, n_batches):
        self.model, self.optimizer, self.history = model, optimizer, history
        self.n_batches, self.epoch, self.batch, self.x_batch = n_batches, 0, 0, None
        self.start_epoch = self.steps = 0
        self.stop_training = False
        self.pending_checkpoints = []


class RBM(Module):
    """A restricted Boltzmann machine trained by CD-k or persistent CD-k.

    Parameters
    ----------
    n_visible, n_hidden : int
    visible : {"bernoulli", "gaussian"}, default "bernoulli"
        Binary visible units (data in [0, 1], read as probabilities), or
        linear units with unit-variance Gaussian noise (standardise the data).
    k : int, default 1
        Gibbs steps per update (CD-k / PCD-k).
    persistent : bool, default False
        Persistent chains (PCD, Tieleman 2008) instead of chains restarted at
        the data (CD).
    lr : float, default 0.05
        The learning rate of the default optimizer (momentum SGD on the flat
        parameter vector).
    momentum : float, default 0.5
    weight_decay : float, default 0
        L2 penalty on the weights (not the biases), as Hinton's guide advises.
    sparsity : None, float or (float, float)
        Target mean activation of the hidden units, optionally with the
        penalty's cost (default 0.1): the hidden biases and weights are pushed
        toward the target by the gradient of a cross-entropy penalty on a
        running average q of the activations (Lee et al. 2008; Hinton's guide, 11).
    rng : numpy.random.Generator, int or None
        All draws (initial weights, sampling) come from it.
    dtype : default float32
    softmax : int, default 0
        The last ``softmax`` visible units form one softmax group: exactly one
        of them is on (a one-of-K code such as a label), with p(unit l | h)
        proportional to exp(b_l + W_l h). This is how Hinton, Osindero and Teh
        (2006) join the label units to the top RBM of a deep belief net.

    Attributes
    ----------
    W : Parameter, shape (n_visible, n_hidden)
        Initially N(0, 0.01^2).
    b : Parameter, shape (n_visible,)
        Visible biases.
    c : Parameter, shape (n_hidden,)
        Hidden biases.
    vector : ParameterVector
        W, b and c as views into one flat vector (what optimizers update).
    history_ : History
        Per epoch, on a fixed subset of up to 1,000 training rows:
        ``reconstruction_error`` (mean squared error of the mean-field
        reconstruction p(v | p(h | v))), ``pseudo_likelihood`` (Bernoulli) and
        ``time``.

    Notes
    -----
    The CD-k update of a minibatch V0 of B rows, with H0 = p(h | V0) and
    (Vk, Hk) the chain's negative particles (Vk the visible probabilities
    after k steps for CD, as Hinton's guide suggests, the chains' sampled
    states for PCD, Hk = p(h | Vk)), is the gradient estimate

    .. math::

        \\Delta W = (V_0^T H_0 - V_k^T H_k) / B - \\lambda W, \\quad
        \\Delta b = \\overline{V_0 - V_k}, \\quad \\Delta c = \\overline{H_0 - H_k}

    which the optimizer ascends (it receives its negative as ``grad``).

    References
    ----------
    Hinton, "Training products of experts by minimizing contrastive
    divergence", Neural Computation 14, 2002. Tieleman, "Training restricted
    Boltzmann machines using approximations to the likelihood gradient",
    ICML 2008. Hinton, "A practical guide to training restricted Boltzmann
    machines", UTML TR 2010-003. Salakhutdinov and Murray, "On the
    quantitative analysis of deep belief networks", ICML 2008.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> X = np.array([[1, 1, 0, 0], [0, 0, 1, 1]] * 20, dtype=np.float32)
    >>> rbm = rb.models.RBM(4, 2, lr=0.1, rng=0)
    >>> before = rbm.log_likelihood(X)
    >>> history = rbm.fit(X, epochs=30, batch_size=10, progress=False)
    >>> bool(rbm.log_likelihood(X) > before), rbm.transform(X).shape
    (True, (40, 2))
    """

    @classmethod
    def state_shapes(cls, config):
        """``W`` (n_visible, n_hidden), ``b`` (n_visible,), ``c`` (n_hidden,)."""
        nv = positive_int("RBM", "n_visible", config["n_visible"])
        nh = positive_int("RBM", "n_hidden", config["n_hidden"])
        return {"W": (nv, nh), "b": (nv,), "c": (nh,)}

    def __init__(self, n_visible, n_hidden, visible="bernoulli", k=1, persistent=False,
                 lr=0.05, momentum=0.5, weight_decay=0.0, sparsity=None, rng=None,
                 dtype=np.float32, softmax=0):
        self.n_visible = positive_int("RBM", "n_visible", n_visible)
        self.n_hidden = positive_int("RBM", "n_hidden", n_hidden)
        self.visible, self.k, self.persistent = visible, k, persistent
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.softmax = softmax
        self._check_hyper("RBM")
        self.sparsity = sparsity  # (checked, and the (target, cost) pair training reads)
        self.rng = resolve_rng(rng)
        dtype = _check_dtype("RBM", dtype)
        self.W = Parameter((0.01 * self.rng.standard_normal(
            (self.n_visible, self.n_hidden))).astype(dtype), name="W")
        self.b = Parameter(np.zeros(self.n_visible, dtype), name="b")
        self.c = Parameter(np.zeros(self.n_hidden, dtype), name="c")
        self._vector = ParameterVector([self.W, self.b, self.c])
        self._optimizer = None
        self._chains = None  # the persistent chains' hidden states (PCD)
        self._q = None  # running mean of the hidden activations (sparsity)

    def _check_hyper(self, owner):
        """Check (and make plain) the hyper-parameters training reads and ``rb.save`` writes:
        the constructor's checks, run again by :meth:`fit` and :meth:`config` for values set
        since (a file the constructor would refuse is never written). ``sparsity`` has its
        own checking setter."""
        self.visible = one_of(owner, "visible", self.visible, ("bernoulli", "gaussian"))
        self.k = positive_int(owner, "k", self.k)
        self.persistent = boolean(owner, "persistent", self.persistent)
        self.lr = positive_float(owner, "lr", self.lr)
        self.momentum = unit_interval(owner, "momentum", self.momentum)
        self.weight_decay = positive_float(owner, "weight_decay", self.weight_decay,
                                           allow_zero=True)
        softmax = self.softmax
        self.softmax = positive_int(owner, "softmax", softmax, allow_zero=True)
        if self.softmax == 1 or self.softmax > self.n_visible:
            raise ValueError(f"{owner}: softmax (the size of the softmax group at the end of "
                             f"the visible layer) must be 0 or in [2, n_visible="
                             f"{self.n_visible}]; got {softmax}")

    def config(self):
        """The constructor arguments (``rng`` and ``dtype`` aside) for ``rb.save``, checked
        as the constructor checks them."""
        self._check_hyper("save: RBM")
        return {"n_visible": self.n_visible, "n_hidden": self.n_hidden, "visible": self.visible,
                "k": self.k, "persistent": self.persistent, "lr": self.lr,
                "momentum": self.momentum, "weight_decay": self.weight_decay,
                "sparsity": self.sparsity, "softmax": self.softmax}

    def astype(self, dtype):
        """Cast W, b and c (and the chains) to ``dtype``: float32 or float64 only, as in the
        constructor (sampling draws in the parameters' dtype)."""
        super().astype(_check_dtype("RBM", dtype))
        self._cast_state(dtype)
        return self

    def _cast_state(self, dtype):
        """After a cast of W, b and c (``astype``, also a DBN's): the persistent chains and the
        sparsity's running mean in ``dtype`` (as the parameters: float64 chains would make a
        float32 model sample in float64 for ever), and the default optimizer rebuilt on the
        cast parameters with its state (the momentum velocity persists across fits, as
        :meth:`fit` says, a cast in between included)."""
        dtype = np.dtype(dtype)
        if self._chains is not None:
            self._chains = self._chains.astype(dtype, copy=False)
        if self._q is not None:
            self._q = np.asarray(self._q).astype(dtype, copy=False)
        opt, vec = self._optimizer, self._vector
        if opt is not None and opt.vec is vec and not vec.is_packed():  # the cast moved them
            state = opt.state_dict()
            self._vector = ParameterVector([self.W, self.b, self.c])
            self._optimizer = SGD(self._vector, lr=opt.lr, momentum=opt.momentum)
            self._optimizer.load_state_dict(state)

    @property
    def sparsity(self):
        """The sparsity target (and cost) as given: None, a float or a (target, cost) pair.

        Setting it is checked and takes effect at the next update (``cd_gradient`` reads the
        pair it derives), as it does in a model saved and loaded.
        """
        return self._sparsity_given

    @sparsity.setter
    def sparsity(self, value):
        self._sparsity = self._check_sparsity(value)
        # plain numbers, as the file format saves them (an ndarray pair could not be saved)
        self._sparsity_given = value if value is None or isinstance(value, (list, tuple)) \
            else float(value) if np.ndim(value) == 0 else [float(v) for v in value]

    @staticmethod
    def _check_sparsity(sparsity):
        if sparsity is None:
            return None
        target, cost = sparsity, 0.1
        if np.ndim(sparsity) == 0:  # a number, a NumPy scalar or a 0-d array
            target = float(sparsity) if isinstance(sparsity, np.ndarray) else sparsity
        elif np.ndim(sparsity) != 1 or len(sparsity) != 2:
            raise ValueError(f"RBM: sparsity must be None, a target in (0, 1) or a pair "
                             f"(target, cost); got {sparsity!r}")
        else:
            target, cost = sparsity
        target = unit_interval("RBM", "sparsity target", target, closed_low=False)
        cost = positive_float("RBM", "sparsity cost", cost, allow_zero=True)
        return target, cost

    # -- the flat vector ------------------------------------------------------------------
    @property
    def vector(self):
        """W, b and c packed in one :class:`ParameterVector` (repacked if they were moved, or
        if the vector holds other parameters: those of the model this one was cloned from)."""
        vec = self._vector
        if not (len(vec.params) == 3 and vec.params[0] is self.W and vec.params[1] is self.b
                and vec.params[2] is self.c and vec.is_packed()):
            self._vector = ParameterVector([self.W, self.b, self.c])
        return self._vector

    def _after_clone(self, original):
        """After ``Module.clone``'s structural copy of ``original`` (a clone of this RBM, or of
        a DBN or any module holding it): a flat vector over the copy's parameters and its own
        default optimizer (momentum SGD) with ``original``'s state (the velocity), so that the
        copy trains on as the original would, and its own History. The persistent chains and
        the sparsity average are copied; the random generator ``rng`` is copied in its
        current state by ``Module.clone`` (the library generator, ``rng=None``, stays
        shared), so that each RBM goes on with its own stream."""
        self._vector = ParameterVector([self.W, self.b, self.c])
        opt = original._optimizer
        self._optimizer = None
        if opt is not None and opt.vec is original._vector and original._vector.is_packed():
            self._optimizer = SGD(self._vector, lr=opt.lr, momentum=opt.momentum)
            self._optimizer.load_state_dict(opt.state_dict())
        if isinstance(getattr(original, "history_", None), History):
            self.history_ = History.from_dict(original.history_.to_dict())

    # -- input checks ---------------------------------------------------------------------
    def _visible_data(self, X, where, width=None, owner=None):
        """X as a checked 2-D array in the parameters' dtype (``width`` columns, default
        n_visible; ``owner`` names the caller in messages)."""
        width = self.n_visible if width is None else width
        owner = owner or f"RBM({self.n_visible}, {self.n_hidden})"
        X = np.asarray(X.data if isinstance(X, Tensor) else X)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{owner}.{where}: expected a numeric array; got dtype {X.dtype}")
        X = X.astype(self.W.dtype, copy=False)
        if X.ndim == 1:
            X = X[None]
        if X.ndim != 2 or X.shape[1] != width:
            raise ValueError(f"{owner}.{where}: expected data of shape (n, {width}); "
                             f"got {X.shape}")
        if not np.all(np.isfinite(X)):
            row = int(np.argwhere(~np.isfinite(X))[0, 0])
            raise ValueError(f"{owner}.{where}: the data contain NaN or inf (first in row {row})")
        if self.visible == "bernoulli" and X.size and (X.min() < 0 or X.max() > 1):
            X = self._clip_unit(X, f"{owner}.{where}")
        if self.softmax and width == self.n_visible and len(X):
            K = self.softmax
            sums = X[:, -K:].sum(axis=1, dtype=np.float64)
            bad = np.flatnonzero(np.abs(sums - 1) > 1e-5 + K * np.finfo(X.dtype).eps)
            if len(bad):
                raise ValueError(f"{owner}.{where}: the last {K} visible units are a softmax "
                                 f"group and must sum to 1 in every row (a one-hot code, or "
                                 f"probabilities); row {bad[0]} sums to {sums[bad[0]]:g}")
        return X

    @staticmethod
    def _clip_unit(X, where):
        """X clipped to [0, 1] (a copy) when it leaves it by rounding errors only (a few ulps,
        as scaling and division leave); otherwise a ValueError naming the first bad value."""
        tol = 4 * np.finfo(X.dtype).eps
        outside = (X < -tol) | (X > 1 + tol)
        if outside.any():
            row, col = (int(i) for i in np.argwhere(outside)[0])
            raise ValueError(f"{where}: Bernoulli visible units need data in [0, 1]; got "
                             f"{float(X[row, col])!r} at row {row}, column {col} (data in "
                             f"[{float(X.min())!r}, {float(X.max())!r}]; scale the data, or "
                             f"use visible='gaussian' on standardised data)")
        return np.clip(X, 0, 1)

    def _hidden_data(self, H, where):
        """H as a checked 2-D array in the parameters' dtype: numeric, (n, n_hidden), finite
        and in [0, 1] (binary states, or mean-field probabilities for ``visible_probs``)."""
        owner = f"RBM({self.n_visible}, {self.n_hidden}).{where}"
        H = np.asarray(H.data if isinstance(H, Tensor) else H)
        if H.dtype.kind not in "biuf":
            raise TypeError(f"{owner}: expected numeric hidden states; got dtype {H.dtype}")
        H = H.astype(self.W.dtype, copy=False)
        if H.ndim == 1:
            H = H[None]
        if H.ndim != 2 or H.shape[1] != self.n_hidden:
            raise ValueError(f"{owner}: expected hidden states of shape (n, {self.n_hidden}); "
                             f"got {H.shape}")
        if not np.all(np.isfinite(H)):
            raise ValueError(f"{owner}: the hidden states contain NaN or inf")
        if H.size and (H.min() < 0 or H.max() > 1):
            tol = 4 * np.finfo(H.dtype).eps  # a few rounding errors are clipped, as for v
            outside = (H < -tol) | (H > 1 + tol)
            if outside.any():
                row, col = (int(i) for i in np.argwhere(outside)[0])
                raise ValueError(f"{owner}: hidden units are binary: states (or probabilities) "
                                 f"must lie in [0, 1]; got {float(H[row, col])!r} at row {row}, "
                                 f"column {col}")
            H = np.clip(H, 0, 1)
        return H

    # -- the model ------------------------------------------------------------------------
    def energy(self, v, h):
        """E(v, h) for each row pair, shape (n,)."""
        v = self._visible_data(v, "energy")
        h = self._hidden_data(h, "energy")
        if len(v) != len(h):
            raise ValueError(f"RBM.energy: v has {len(v)} rows but h has {len(h)}")
        v64, h64 = v.astype(np.float64), h.astype(np.float64)
        W, b, c = (p.data.astype(np.float64) for p in (self.W, self.b, self.c))
        coupling = np.einsum("ni,ij,nj->n", v64, W, h64)
        return self._visible_term(v64, b) - h64 @ c - coupling

    @property
    def _n_single(self):
        """How many visible units are single units (the rest form the softmax group)."""
        return self.n_visible - self.softmax

    def _visible_term(self, v, b):
        """The energy's visible part, -v.b (Bernoulli and softmax units) or |v - b|^2 / 2
        (Gaussian units), per row."""
        if self.visible == "bernoulli":
            return -(v @ b)
        g = self._n_single
        return 0.5 * np.sum((v[:, :g] - b[:g]) ** 2, axis=1) - v[:, g:] @ b[g:]

    def _free_energy(self, v, W, b, c):
        """F(v) with explicit parameters (float64 callers), shape (n,)."""
        return self._visible_term(v, b) - softplus(v @ W + c).sum(axis=1)

    def free_energy(self, v):
        """F(v) = -log sum_h exp(-E(v, h)), shape (n,), in float64.

        Bernoulli: ``-v.b - sum_j softplus(c_j + (v W)_j)``; Gaussian:
        ``|v - b|^2 / 2 - sum_j softplus(c_j + (v W)_j)``.
        """
        v = self._visible_data(v, "free_energy").astype(np.float64)
        return self._free_energy(v, *self._params64())

    def _params64(self):
        return tuple(p.data.astype(np.float64) for p in (self.W, self.b, self.c))

    def hidden_probs(self, v):
        """p(h = 1 | v) = sigma(c + v W), shape (n, n_hidden)."""
        return self._hidden_probs(self._visible_data(v, "hidden_probs"))

    def _hidden_probs(self, v):
        a = v @ self.W.data
        a += self.c.data
        return sigmoid_(a)

    def visible_probs(self, h):
        """E[v | h]: sigma(b + W h) (Bernoulli) or b + W h (Gaussian), shape (n, n_visible)."""
        return self._visible_mean(self._hidden_data(h, "visible_probs"))

    def _visible_mean(self, h):
        a = h @ self.W.data.T
        a += self.b.data
        return self._visible_activation(a)

    def _visible_activation(self, a):
        """The visible means given their total inputs ``a`` (in place): sigma(a) (Bernoulli)
        or a (Gaussian), and a softmax over the softmax group; returns a."""
        g = self._n_single
        if self.visible == "bernoulli":
            sigmoid_(a[:, :g] if self.softmax else a)
        if self.softmax:
            softmax_(a[:, g:])
        return a

    @staticmethod
    def _draw_hidden(p, rng):
        """Binary states with probabilities p."""
        u = rng.random(p.shape, dtype=p.dtype)
        return np.less(u, p, out=u)  # 0./1. written over the uniforms: no second array

    def _draw_visible(self, mean, rng):
        """Visible states given their means: bits (Bernoulli) or mean + N(0, 1) (Gaussian);
        one unit on in the softmax group."""
        if not self.softmax:
            if self.visible == "bernoulli":
                return self._draw_hidden(mean, rng)
            return mean + rng.standard_normal(mean.shape, dtype=mean.dtype)
        g = self._n_single
        v = np.empty_like(mean)
        if self.visible == "bernoulli":
            v[:, :g] = self._draw_hidden(mean[:, :g], rng)
        else:
            v[:, :g] = mean[:, :g] + rng.standard_normal((len(mean), g), dtype=mean.dtype)
        v[:, g:] = draw_one_hot(mean[:, g:], rng)
        return v

    def _sample_hidden(self, v, rng):
        p = self._hidden_probs(v)
        return self._draw_hidden(p, rng), p

    def _sample_visible(self, h, rng):
        mean = self._visible_mean(h)
        return self._draw_visible(mean, rng), mean

    def _grad_slots(self):
        """W.grad, b.grad, c.grad as writable arrays (their slots in the flat gradient)."""
        out = []
        for p in (self.W, self.b, self.c):
            if p.grad is None:
                p.grad = np.empty_like(p.data)
            out.append(p.grad)
        return out

    def transform(self, X):
        """The hidden probabilities p(h = 1 | v) of each row: the RBM's features."""
        return self.hidden_probs(X)

    def forward(self, x):
        """``transform`` as a Tensor (no gradient), so an RBM can sit in a pipeline of modules."""
        return Tensor(self.transform(x))

    def gibbs(self, v, steps=1, rng=None):
        """Run ``steps`` Gibbs steps v -> h -> v from each row of v; returns sampled visibles.

        ``v`` is checked as data are (in [0, 1] for Bernoulli units, softmax group rows summing
        to 1): the first step reads it through ``v W`` only, so a valid start loses nothing.
        """
        steps = positive_int("RBM.gibbs", "steps", steps)
        v = self._visible_data(v, "gibbs")
        rng = self.rng if rng is None else resolve_rng(rng)
        for _ in range(steps):
            h, _ = self._sample_hidden(v, rng)
            v, _ = self._sample_visible(h, rng)
        return v

    def sample(self, n, steps=1000, init=None, rng=None, mean=False):
        """Draw ``n`` visible vectors by running Gibbs chains for ``steps`` steps.

        Parameters
        ----------
        n : int
        steps : int, default 1000
        init : array_like (n, n_visible), optional
            The chains' start, checked as data are (in [0, 1] for Bernoulli units, softmax
            group rows summing to 1); default: random bits with probability 1/2 (Bernoulli)
            or standard normal noise (Gaussian).
        rng : numpy.random.Generator, optional
        mean : bool, default False
            Return the last step's visible means (smoother images) instead
            of the sampled states.
        """
        n = positive_int("RBM.sample", "n", n)
        steps = positive_int("RBM.sample", "steps", steps)
        mean = boolean("RBM.sample", "mean", mean)
        rng = self.rng if rng is None else resolve_rng(rng)
        dtype = self.W.dtype
        if init is None:
            if self.visible == "bernoulli":
                v = (rng.random((n, self.n_visible)) < 0.5).astype(dtype)
            else:
                v = rng.standard_normal((n, self.n_visible)).astype(dtype)
        else:
            v = self._visible_data(init, "sample")
            if len(v) != n:
                raise ValueError(f"RBM.sample: init has {len(v)} rows but n={n}")
        for _ in range(steps):
            h, _ = self._sample_hidden(v, rng)
            v, m = self._sample_visible(h, rng)
        return m if mean else v

    # -- learning -------------------------------------------------------------------------
    def cd_gradient(self, v0, rng=None):
        """Write the CD-k/PCD-k gradient estimate of minibatch ``v0`` into W.grad, b.grad, c.grad.

        The sign is that of a loss (the optimizer steps against it).

        Parameters
        ----------
        v0 : ndarray (B, n_visible)
            Checked data (in the parameters' dtype).
        rng : numpy.random.Generator, optional

        Returns
        -------
        ndarray (M, n_visible)
            The negative particles V_k (the chains' sampled states for PCD, the last
            reconstruction's means for CD), e.g. for the sleep phase of ``DBN.up_down``.
        """
        rng = self.rng if rng is None else rng
        B = len(v0)
        h0_prob = self._hidden_probs(v0)
        if self.persistent:
            # The fantasy particles carry on from update to update; Tieleman starts them at
            # the data. Their state is kept as hidden samples (drawn from the last negative
            # phase's probabilities, as scikit-learn does): a Gibbs step then costs two matrix
            # products, and the negative phase's p(h | v) is the next step's first half.
            if self._chains is None or self._chains.shape[1] != self.n_hidden:
                self._chains = self._draw_hidden(h0_prob, rng)  # as many as this batch has rows
            h = self._chains
            for _ in range(self.k):
                v = self._draw_visible(self._visible_mean(h), rng)
                hk_prob = self._hidden_probs(v)
                h = self._draw_hidden(hk_prob, rng)
            self._chains = h
        else:
            # CD ends on the mean of the last reconstruction (less noise, Hinton's guide 3.2)
            v = self._visible_mean(self._draw_hidden(h0_prob, rng))
            for _ in range(self.k - 1):
                v = self._visible_mean(self._draw_hidden(
                    self._hidden_probs(self._draw_visible(v, rng)), rng))
            hk_prob = self._hidden_probs(v)
        gW, gb, gc = self._grad_slots()
        # one GEMM for both correlations: [Vk; V0]^T [Hk / M; -H0 / B] (M negative particles)
        M = len(v)
        H = np.concatenate([hk_prob, h0_prob])
        H[:M] *= 1.0 / M
        H[M:] *= -1.0 / B
        np.matmul(np.concatenate([v, v0]).T, H, out=gW)
        np.subtract(v.sum(axis=0) * (1.0 / M), v0.sum(axis=0) * (1.0 / B), out=gb)
        np.sum(H, axis=0, out=gc)
        if self.weight_decay:
            gW += self.weight_decay * self.W.data
        if self._sparsity is not None:
            target, cost = self._sparsity
            q = h0_prob.mean(axis=0)
            self._q = q if self._q is None else 0.9 * self._q + 0.1 * q
            push = (cost * (self._q - target)).astype(gc.dtype)
            gc += push
            gW += np.outer(v0.mean(axis=0), push)
        return v

    def fit(self, X, epochs=10, batch_size=100, callbacks=None, optimizer=None, shuffle=True,
            progress=True, rng=None, resume_from=None):
        """Train by CD-k (or PCD-k) on minibatches of X; returns the :class:`History`.

        Parameters
        ----------
        X : array_like, shape (n, n_visible)
            In [0, 1] for Bernoulli visibles (values a few rounding errors outside are
            clipped).
        epochs : int, default 10
            The total number of epochs (with ``resume_from``: counting those done before).
        batch_size : int, default 100
        callbacks : rb.callbacks.Callback or sequence of them, optional
            Hooks ``on_train_begin``, ``on_epoch_begin``, ``on_batch_end``,
            ``on_epoch_end`` (with the epoch's logs), ``on_train_end``; a
            callback may set ``trainer.stop_training``. ``rb.callbacks.Checkpoint(path)``
            writes a training checkpoint that ``resume_from`` continues.
        optimizer : rb.optim optimizer, optional
            Built on ``rbm.parameters()`` (or ``rbm.vector``); it receives the
            negated CD statistics as the gradient (one that does not hold the RBM's
            trainable parameters is refused). Default: SGD with the
            RBM's ``lr`` and ``momentum`` (its velocity persists across fits).
        shuffle : bool, default True
        progress : bool, default True
            A tqdm bar on stderr (only when stderr is a terminal).
        rng : numpy.random.Generator, optional
            Default: the RBM's generator.
        resume_from : str or os.PathLike, optional
            A checkpoint written by ``rb.callbacks.Checkpoint`` during an earlier fit of an
            RBM of the same architecture on the same data: training continues from it and
            ends exactly as the uninterrupted run would (weights, optimizer state, persistent
            chains, sparsity average, the generator's state, the monitored rows and flipped
            bits of the pseudo-likelihood, the History and the callbacks' states, each to
            this run's callback of its kind, as in ``rb.fit``). A file
            that does not exist yet starts the run from scratch (the same call starts and
            resumes, as in ``rb.fit``).

        Raises
        ------
        FloatingPointError
            If the parameters stop being finite; the weights (and the optimizer's state,
            the chains) of the end of the last good epoch are kept.
        TypeError, ValueError
            For bad data or arguments (checked before training): e.g. a callback that is
            not an ``rb.callbacks.Callback``, an optimizer that does not hold the RBM's
            trainable parameters.

        Notes
        -----
        A checkpoint is ``rb.save(rbm, path, optimizer=optimizer, metadata=...)`` with the
        training metadata of ``rb.fit`` (``epoch``, ``generators``, ``history``,
        ``callbacks``, ``stopped``) and ``"rbm"``: the chains, the sparsity average and the
        monitor rows and bits (:mod:`rosenblatt.io.checkpoint_schema`). ``generators`` holds
        every random generator the run draws from, as ``rb.fit`` names them: ``"fit"`` (``rng``),
        ``"library"``, and the optimizer's own (``"optimizer.rng"`` of
        ``rb.optim.GradientNoise``).
        """
        X = self._visible_data(X, "fit")
        if len(X) == 0:
            raise ValueError(f"RBM.fit: X must hold at least one example; got shape {X.shape}")
        epochs = positive_int("RBM.fit", "epochs", epochs)
        batch_size = positive_int("RBM.fit", "batch_size", batch_size)
        shuffle = boolean("RBM.fit", "shuffle", shuffle)
        progress = boolean("RBM.fit", "progress", progress)
        self._check_hyper("RBM.fit")  # (set since construction, maybe)
        rng = self.rng if rng is None else resolve_rng(rng)
        optimizer = self._default_optimizer(optimizer)
        callbacks = callback_list("RBM.fit", callbacks)
        resumed = None
        if resume_from is not None and os.path.exists(os.fspath(resume_from)):
            from ..io import FormatError
            from ..nn import registry

            ckpt, where = self._open_checkpoint(resume_from, "RBM.fit", "rbm")
            difference = registry.describe_difference(registry.spec_of(ckpt.model),
                                                      registry.spec_of(self))
            if difference is not None:
                raise FormatError(f"{where} holds another architecture: {difference}")
            resumed = self._check_resume(ckpt, where, optimizer, rng, callbacks)
            self.load_state_dict(ckpt.model.state_dict())  # everything checked: now change

        def save(path, metadata):
            from ..io import save as write  # io sits below models: imported when writing

            write(self, path, optimizer=optimizer, metadata=metadata, training_checkpoint=True)

        return self._fit(X, epochs, batch_size, callbacks, optimizer, shuffle, progress, rng,
                         resumed, save)

    def _default_optimizer(self, optimizer):
        """``optimizer``, or the RBM's own momentum SGD (kept across fits). A given optimizer
        must step (``step()``) and hold the RBM's trainable parameters: one built on another
        model's would leave this RBM untrained, silently (``rb.fit`` refuses it likewise)."""
        if optimizer is not None:
            if not callable(getattr(optimizer, "step", None)):
                raise TypeError(f"RBM.fit: optimizer must be an rb.optim optimizer built on "
                                f"rbm.parameters() (or None: momentum SGD); got "
                                f"{type(optimizer).__name__}")
            vec = getattr(optimizer, "vec", None)
            if vec is None:  # a wrapper such as rb.optim.GradientNoise: the one it wraps
                vec = getattr(getattr(optimizer, "optimizer", None), "vec", None)
            held = getattr(vec, "params", None)
            if held is not None:
                ids = {id(p) for p in held}
                missing = [p.name for p in (self.W, self.b, self.c)
                           if p.requires_grad and id(p) not in ids]
                if missing:
                    raise ValueError(f"RBM.fit: the optimizer does not hold the RBM's "
                                     f"parameter(s) {', '.join(missing)}, so training would not "
                                     f"change them (it was built on other parameters); build it "
                                     f"on this RBM: {type(optimizer).__name__}(rbm.parameters(), "
                                     f"...)")
            if getattr(optimizer, "needs_closure", False):
                raise ValueError(f"RBM.fit: {type(optimizer).__name__} evaluates an objective "
                                 f"itself (step(closure)), but contrastive divergence has no "
                                 f"objective to evaluate, only a stochastic gradient; use an "
                                 f"optimizer such as rb.optim.SGD")
            return optimizer
        if self._optimizer is None or self._optimizer.vec is not self.vector:
            self._optimizer = SGD(self.vector, lr=self.lr, momentum=self.momentum)
        else:  # kept for its velocity; lr and momentum as they are now (set since, maybe)
            self._optimizer.lr, self._optimizer.momentum = self.lr, self.momentum
        return self._optimizer

    def _fit(self, X, epochs, batch_size, callbacks, optimizer, shuffle, progress, rng, resumed,
             save):
        """The training loop of :meth:`fit` on checked data (``DBN.pretrain`` runs it per RBM):
        ``resumed`` is :meth:`_check_resume`'s result or None, ``save(path, metadata)`` writes
        a checkpoint."""
        n = len(X)
        n_batches = -(-n // batch_size)
        state = _FitState(self, optimizer, History(), n_batches)
        if resumed is not None:
            monitor, flips, stopped = self._apply_resume(resumed, optimizer, rng, callbacks,
                                                         state)
        else:
            # a fixed subset and fixed flipped bits: the pseudo-likelihood curve is then smooth
            monitor = X[rng.choice(n, min(n, 1000), replace=False)]
            flips = rng.integers(0, self._n_units, len(monitor))
            stopped = False
        history = self.history_ = state.history
        for cb in callbacks:
            cb.on_train_begin(state)
        first = epochs if stopped else state.start_epoch  # a stopped run is over
        bar = self._progress_bar(max(epochs - first, 0) * n_batches, progress)
        try:
            for epoch in range(first, epochs):
                state.epoch = epoch
                good = self._snapshot(optimizer)
                for cb in callbacks:
                    cb.on_epoch_begin(state, epoch)
                start = time.perf_counter()
                order = rng.permutation(n) if shuffle else None
                try:
                    for i in range(n_batches):
                        rows = slice(i * batch_size, (i + 1) * batch_size)
                        v0 = X[order[rows]] if shuffle else X[rows]
                        state.batch, state.x_batch = i, v0
                        self.cd_gradient(v0, rng)
                        optimizer.step()
                        state.steps += 1
                        for cb in callbacks:
                            cb.on_batch_end(state, i, {})
                        if bar is not None:
                            bar.update(1)
                    overflow = None
                except FloatingPointError as err:  # np.seterr(all="raise") in force
                    overflow = err
                if overflow is not None or not all(np.all(np.isfinite(p.data))
                                                   for p in (self.W, self.b, self.c)):
                    self._restore(good, optimizer)
                    kept = "from before this fit" if epoch == first else \
                        f"of the end of epoch {epoch}"
                    raise FloatingPointError(
                        f"RBM.fit: the parameters diverged at epoch {epoch + 1}; lower lr (now "
                        f"{getattr(optimizer, 'lr', '?')}); the weights {kept} were "
                        f"kept") from overflow
                recon = self._visible_mean(self._hidden_probs(monitor))
                logs = {"reconstruction_error": float(np.mean(np.square(recon - monitor,
                                                                        dtype=np.float64)))}
                if self.visible == "bernoulli":
                    logs["pseudo_likelihood"] = float(np.mean(self._pseudo_likelihood(monitor,
                                                                                      flips)))
                logs["time"] = time.perf_counter() - start
                for cb in callbacks:
                    cb.on_epoch_end(state, epoch, logs)
                history.append(epoch, logs)
                for path in state.pending_checkpoints:
                    save(path, self._checkpoint_metadata(epoch + 1, rng, callbacks, state,
                                                         monitor, flips))
                state.pending_checkpoints.clear()
                if bar is not None:
                    bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items() if k != "time"})
                if state.stop_training:
                    break
        finally:
            if bar is not None:
                bar.close()
        for cb in callbacks:
            cb.on_train_end(state)
        return history

    # -- divergence and checkpoints -------------------------------------------------------
    def _snapshot(self, optimizer):
        """Copies of what an epoch changes: the weights, the chains, the sparsity average and
        the optimizer's state (put back by :meth:`_restore` when the epoch diverges)."""
        state_dict = getattr(optimizer, "state_dict", None)
        return ([p.data.copy() for p in (self.W, self.b, self.c)],
                None if self._chains is None else self._chains.copy(),
                None if self._q is None else self._q.copy(),
                state_dict() if callable(state_dict) else None)

    def _restore(self, good, optimizer):
        params, self._chains, self._q, opt_state = good
        for p, value in zip((self.W, self.b, self.c), params):
            p.data[...] = value
        if opt_state is not None:
            optimizer.load_state_dict(opt_state)

    def _checkpoint_metadata(self, epochs_done, rng, callbacks, state, monitor, flips):
        """rb.fit's training metadata (Trainer.save_checkpoint's fields) plus ``"rbm"``: the
        sampling state that rb.fit has no notion of."""
        return {
            "epoch": int(epochs_done),
            "generators": {k: g.bit_generator.state
                           for k, g in self._generators(rng, state.optimizer).items()},
            "history": state.history.to_dict(),
            "callbacks": [cb.state_dict() if callable(getattr(cb, "state_dict", None)) else None
                          for cb in callbacks],
            # which callback each state belongs to: a resume matches them by kind, as rb.fit
            "callback_kinds": [callback_kind(cb) for cb in callbacks],
            "stopped": bool(state.stop_training),
            "rbm": {"chains": self._chains, "q": self._q, "monitor": monitor, "flips": flips},
        }

    def _generators(self, rng, optimizer):
        """Every random generator a fit draws from, by a stable name (as ``Trainer.generators``
        names them): the run's ``rng`` ("fit"), the library's, the model's and the optimizer's
        own (GradientNoise's, also of the optimizer it wraps)."""
        found, seen = {}, set()

        def add(name, value):
            if isinstance(value, np.random.Generator) and id(value) not in seen:
                seen.add(id(value))
                found[name] = value

        add("fit", rng)
        add("library", generator())
        for attr, value in vars(self).items():
            add(f"model.{attr}", value)
        for prefix, owner in (("optimizer", optimizer),
                              ("optimizer.inner", getattr(optimizer, "optimizer", None))):
            for attr, value in (vars(owner).items() if hasattr(owner, "__dict__") else ()):
                add(f"{prefix}.{attr}", value)
        return found

    @staticmethod
    def _open_checkpoint(path, owner, section):
        """``rb.io.load_checkpoint(path)`` of a training checkpoint holding ``section``; also
        the prefix of messages about it."""
        import os

        from ..io import load_checkpoint

        where = f"{owner}: {os.fspath(path)}"
        ckpt = load_checkpoint(path)
        meta = ckpt.metadata
        if not isinstance(meta, dict) or "epoch" not in meta or ckpt.optimizer_state is None \
                or not isinstance(meta.get(section), dict):
            raise ValueError(f"{where} is not a training checkpoint of {owner} (written by "
                             f"rb.callbacks.Checkpoint in {owner}'s callbacks)")
        return ckpt, where

    def _check_resume(self, ckpt, where, optimizer, rng, callbacks):
        """Check a checkpoint's training state against this run (the optimizer, the generator,
        the callbacks, the chains, the monitor) without changing anything; returns what
        :meth:`_apply_resume` puts in place."""
        from ..io import FormatError
        from ..io.checkpoint_schema import check_checkpoint

        gens = self._generators(rng, optimizer)
        # each saved callback state goes to this run's callback of its kind (as in rb.fit)
        owner, path = where.split(": ", 1)
        level = 4 if owner == "RBM.fit" else 5  # (DBN.pretrain calls this through _resume)
        owners = placed_callbacks(match_callback_states(ckpt.metadata, callbacks, path, owner,
                                                        stacklevel=level), callbacks)
        try:
            check_checkpoint(ckpt, optimizer, gens, owners, self)
        except FormatError as err:
            raise FormatError(f"{where}: {err}") from None
        meta = ckpt.metadata
        extra = meta["rbm"]
        for name, value in ckpt.model.state_dict().items():
            if not np.all(np.isfinite(value)):
                raise FormatError(f"{where}: checkpoint weights {name!r} hold NaN or infinite "
                                  f"values (a corrupt file, or a run that had diverged)")

        def array(key, shape, kinds="f", optional=True):
            return _saved_array(extra, key, shape, f'{where}: checkpoint "rbm"', kinds, optional)

        chains, q = self._saved_sampling_state(extra, f'{where}: checkpoint "rbm"')
        monitor = array("monitor", (None, self.n_visible), optional=False)
        flips = array("flips", (len(monitor),), kinds="iu", optional=False)
        if len(monitor) == 0 or flips.min() < 0 or flips.max() >= self._n_units \
                or not np.all(np.isfinite(monitor)):
            raise FormatError(f"{where}: checkpoint \"rbm\" holds no valid monitor rows and bits")
        stopped = meta.get("stopped", False)
        saved = meta.get("generators", {})
        if not isinstance(stopped, bool) or saved.get("fit") is None:
            raise FormatError(f"{where}: checkpoint \"stopped\" must be true or false and "
                              f"\"generators\" must hold the run's generator \"fit\"")
        return {"optimizer": ckpt.optimizer_state,
                "generators": {k: v for k, v in saved.items() if k in gens},
                "chains": chains, "q": q, "monitor": monitor.astype(self.W.dtype),
                "flips": flips.astype(np.int64),
                "history": meta.get("history", {}), "epoch": int(meta["epoch"]),
                "callbacks": meta.get("callbacks", []), "owners": owners, "stopped": stopped}

    def _saved_sampling_state(self, saved, field):
        """The PCD chains and the sparsity average of a checkpoint's ``saved`` dict, checked
        (shapes; finite and in [0, 1]: hidden states and a running mean of probabilities) and
        cast to the weights' dtype; ``field`` starts the messages."""
        dtype = self.W.dtype
        chains = _saved_array(saved, "chains", (None, self.n_hidden), field, unit=True)
        q = _saved_array(saved, "q", (self.n_hidden,), field, unit=True)
        return (None if chains is None else chains.astype(dtype),
                None if q is None else q.astype(dtype))

    def _apply_resume(self, resumed, optimizer, rng, callbacks, state):
        """Put a checked checkpoint's training state in place; returns the monitor rows, the
        flipped bits and whether that run had stopped."""
        optimizer.load_state_dict(resumed["optimizer"])
        live = self._generators(rng, optimizer)  # (DBN.pretrain(rng=int): fit's own rng)
        for name, saved in resumed["generators"].items():
            if name in live:
                live[name].bit_generator.state = saved
        self._chains, self._q = resumed["chains"], resumed["q"]
        state.history = History.from_dict(resumed["history"])
        state.start_epoch = state.epoch = resumed["epoch"]
        for cb, cb_state in zip(resumed["owners"], resumed["callbacks"]):
            if cb_state is not None and callable(getattr(cb, "load_state_dict", None)):
                cb.load_state_dict(cb_state)
        return resumed["monitor"], resumed["flips"], resumed["stopped"]

    @staticmethod
    def _progress_bar(total, progress):
        if not progress or not getattr(sys.stderr, "isatty", lambda: False)():
            return None
        from tqdm import tqdm  # a dependency; imported only when a bar is drawn

        return tqdm(total=total, unit="batch", file=sys.stderr, leave=False)

    # -- evaluation -----------------------------------------------------------------------
    @property
    def _n_units(self):
        """The visible layer's conditionally independent units: the single units, and the
        softmax group counted once."""
        return self._n_single + (1 if self.softmax else 0)

    def _pseudo_likelihood(self, v, flips):
        """The one-unit estimate n_units * log p(v_i | v_-i), i = ``flips`` (one per row).

        A single unit's conditional is sigma(F(v~) - F(v)), v~ = v with bit i
        flipped; the softmax group's (i = n_units - 1 when there is one) is
        exp(-F(v)) / sum_l exp(-F(v^l)), v^l = v with unit l of the group on.
        """
        # the big product in the parameters' dtype (float32: half the time), or the data's when
        # wider (float64 data are not rounded to float32); the rest in float64
        dtype = np.result_type(v.dtype, self.W.dtype)
        a = (v.astype(dtype, copy=False) @ self.W.data.astype(dtype, copy=False)).astype(
            np.float64)
        v = v.astype(np.float64)
        W, b, c = self._params64()
        a += c
        rows = np.arange(len(v))
        bit = v[rows, flips]
        delta = 1.0 - 2.0 * bit  # +1 where the bit turns on, -1 where it turns off
        a_flipped = a + delta[:, None] * W[flips]
        fe = -(v @ b) - softplus(a).sum(axis=1)
        fe_flipped = -(v @ b) - delta * b[flips] - softplus(a_flipped).sum(axis=1)
        out = -self._n_units * softplus(-(fe_flipped - fe))
        group = np.flatnonzero(flips == self._n_single) if self.softmax else ()
        if len(group):
            g = self._n_single
            vg = v[group]
            # the inputs and visible term with the group switched off, then with each unit on
            a_off = a[group] - vg[:, g:] @ W[g:]
            term_off = -(vg[:, :g] @ b[:g])
            fe_each = (term_off[:, None] - b[g:][None]
                       - softplus(a_off[:, None, :] + W[g:][None]).sum(axis=2))
            log_p = -fe[group] - _logsumexp(-fe_each, axis=1)
            out[group] = self._n_units * log_p
        return out

    def pseudo_likelihood(self, X, exact=False, rng=None):
        """Log pseudo-likelihood of each row, sum_i log p(v_i | v_-i), shape (n,) (Bernoulli).

        Parameters
        ----------
        X : array_like (n, n_visible)
        exact : bool, default False
            Sum all conditionals (one per visible unit, the softmax group
            counted as one unit); by default one randomly chosen unit per row
            stands for all of them (``n_units * log p(v_i | v_-i)``, an unbiased
            estimate; the quantity scikit-learn's ``BernoulliRBM.score_samples``
            returns).
        rng : numpy.random.Generator, optional
        """
        if self.visible != "bernoulli":
            raise ValueError("RBM.pseudo_likelihood: defined here for Bernoulli visible units "
                             "only (a Gaussian conditional has no closed form over 2^n_hidden "
                             "mixtures); use log_likelihood")
        exact = boolean("RBM.pseudo_likelihood", "exact", exact)
        X = self._visible_data(X, "pseudo_likelihood")
        if not exact:
            rng = self.rng if rng is None else resolve_rng(rng)
            return self._pseudo_likelihood(X, rng.integers(0, self._n_units, len(X)))
        total = np.zeros(len(X))
        for i in range(self._n_units):
            total += self._pseudo_likelihood(X, np.full(len(X), i)) / self._n_units
        return total

    def _log_z_exact(self):
        W, b, c = self._params64()
        nh, g, K = self.n_hidden, self._n_single, self.softmax
        visible_bits = g + math.log2(K) if K else g  # log2 of the number of visible states
        if self.visible == "gaussian" and nh > EXACT_LIMIT:
            raise ValueError(f"RBM.log_likelihood: exact enumeration of {nh} hidden units is "
                             f"too large (limit {EXACT_LIMIT}); use method='ais'")
        if min(visible_bits, nh) > EXACT_LIMIT:
            raise ValueError(f"RBM.log_likelihood: exact enumeration needs a layer of at most "
                             f"2^{EXACT_LIMIT} states; got {self.n_visible} visible and {nh} "
                             f"hidden units (use method='ais')")
        enumerate_hidden = self.visible == "gaussian" or nh <= visible_bits
        n = nh if enumerate_hidden else g
        parts, chunk = [], 2 ** 14
        for start in range(0, 2 ** n, chunk):
            s = all_states(n, start, min(2 ** n, start + chunk))
            if not enumerate_hidden:
                if K:  # every single-unit state with each unit of the softmax group on
                    s = np.concatenate([np.repeat(s, K, axis=0), np.tile(np.eye(K), (len(s), 1))],
                                       axis=1)
                parts.append(-self._free_energy(s, W, b, c))
                continue
            m = s @ W.T  # the visible units' input from each hidden state
            part = s @ c
            if self.visible == "bernoulli":  # sum over v in closed form, per h
                part += softplus(m[:, :g] + b[:g]).sum(axis=1)
            else:  # integral over v of a Gaussian, per h
                part += (m[:, :g] @ b[:g] + 0.5 * np.sum(m[:, :g] ** 2, axis=1)
                         + 0.5 * g * math.log(2 * math.pi))
            if K:
                part += _logsumexp(m[:, g:] + b[g:], axis=1)
            parts.append(part)
        return _logsumexp(np.concatenate(parts))

    def _ais_log_weights(self, base, n_chains, n_betas, rng):
        """Salakhutdinov & Murray's AIS from the base-rate RBM (W = 0, visible biases ``base``).

        Intermediate distributions p_beta(v) ~ exp((1 - beta) v.b_A + beta v.b)
        prod_j (1 + exp(beta (c_j + v W_j))); the transitions are Gibbs steps
        at beta, which leave p_beta invariant. Returns the log importance
        weights (n_chains,) and log Z of the base model.
        """
        dtype = self.W.dtype
        W, b, c = self.W.data, self.b.data, self.c.data
        bA = base.astype(dtype)
        betas = np.linspace(0.0, 1.0, n_betas)
        nh = self.n_hidden
        gaussian = self.visible == "gaussian"

        # log p*_k(v) - log p*_{k-1}(v) = (beta_k - beta_{k-1}) [v.(b - b_A) (- (|b|^2 - |b_A|^2)/2
        # for Gaussian units)] + sum_j softplus(beta_k a_j) - softplus(beta_{k-1} a_j), a = c + v W:
        # written as a difference of the terms that change, in float64, never of two big totals
        b64, bA64 = b.astype(np.float64), bA.astype(np.float64)
        g = self._n_single
        shift = -0.5 * (b64[:g] @ b64[:g] - bA64[:g] @ bA64[:g]) if gaussian else 0.0

        # the base model's visibles are independent of each other: draw them at once
        v = self._draw_visible(self._visible_activation(np.tile(bA, (n_chains, 1))), rng)
        log_z0 = nh * math.log(2) + (0.5 * g * math.log(2 * math.pi) if gaussian
                                     else float(softplus(bA64[:g]).sum()))
        if self.softmax:
            log_z0 += _logsumexp(bA64[g:])
        log_w = np.zeros(n_chains)
        for k in range(1, n_betas):
            a = v @ W + c
            a64 = a.astype(np.float64)
            log_w += (betas[k] - betas[k - 1]) * (v @ (b64 - bA64) + shift)
            log_w += softplus(betas[k] * a64).sum(axis=1) - softplus(betas[k - 1] * a64).sum(axis=1)
            if k == n_betas - 1:
                break
            beta = dtype.type(betas[k])
            h = self._draw_hidden(sigmoid_probabilities(beta * a), rng)
            mean = h @ W.T
            mean *= beta
            mean += (1 - beta) * bA + beta * b
            v = self._draw_visible(self._visible_activation(mean), rng)
        return log_w, log_z0

    def log_partition(self, method="exact", n_chains=100, n_betas=10000, base_rate=None,
                      rng=None):
        """log Z, exactly or by annealed importance sampling; a :class:`LogEstimate`.

        Parameters
        ----------
        method : {"exact", "ais"}, default "exact"
            "exact" enumerates the smaller layer (at most 20 units; the hidden
            layer for Gaussian visibles).
        n_chains, n_betas : int
            AIS runs and the number of inverse temperatures (evenly spaced in
            [0, 1]).
        base_rate : array_like (n_visible,), optional
            Visible biases of AIS's base model; default the RBM's own ``b``.
            ``log_likelihood`` passes the data's logit means, as Salakhutdinov
            and Murray do.
        rng : numpy.random.Generator, optional

        Returns
        -------
        LogEstimate
            ``value`` and the bounds ``log(Z_hat -/+ 3 standard errors)`` for AIS
            (``low`` is -inf when 3 standard errors exceed the estimate).
        """
        one_of("RBM.log_partition", "method", method, ("exact", "ais"))
        if method == "exact":
            value = self._log_z_exact()
            return LogEstimate(value, value, value)
        n_chains = positive_int("RBM.log_partition", "n_chains", n_chains)
        n_betas = positive_int("RBM.log_partition", "n_betas", n_betas)
        if n_betas < 2:
            raise ValueError(f"RBM.log_partition: n_betas must be at least 2; got {n_betas}")
        rng = self.rng if rng is None else resolve_rng(rng)
        base = self.b.data if base_rate is None else np.asarray(base_rate, np.float64)
        if base.shape != (self.n_visible,) or not np.all(np.isfinite(base)):
            raise ValueError(f"RBM.log_partition: base_rate must be {self.n_visible} finite "
                             f"values; got shape {base.shape}")
        log_w, log_z0 = self._ais_log_weights(base, n_chains, n_betas, rng)
        top = log_w.max()
        w = np.exp(log_w - top)
        mean, se = w.mean(), w.std(ddof=1) / math.sqrt(n_chains) if n_chains > 1 else 0.0
        offset = top + log_z0
        low = offset + math.log(mean - 3 * se) if mean > 3 * se else -math.inf
        return LogEstimate(offset + math.log(mean), low, offset + math.log(mean + 3 * se))

    def log_likelihood(self, X, method="exact", n_chains=100, n_betas=10000, rng=None,
                       return_bounds=False):
        """The mean log-likelihood (1/n) sum log p(v) of the rows of X, in nats.

        ``log p(v) = -F(v) - log Z``, with log Z from :meth:`log_partition`.

        Parameters
        ----------
        X : array_like (n, n_visible)
        method : {"exact", "ais"}, default "exact"
        n_chains, n_betas : int
            For AIS.
        rng : numpy.random.Generator, optional
        return_bounds : bool, default False
            Return a :class:`LogEstimate` (the bounds of AIS's log Z turned
            into bounds of the log-likelihood) instead of a float.
        """
        return_bounds = boolean("RBM.log_likelihood", "return_bounds", return_bounds)
        X = self._visible_data(X, "log_likelihood")
        if len(X) == 0:  # the mean of no rows (and AIS's base rates) is undefined
            raise ValueError(f"RBM.log_likelihood: X must hold at least one example; got shape "
                             f"{X.shape}")
        base = None
        if method == "ais":  # the base model matches the data's marginals
            mean = np.clip(X.astype(np.float64).mean(axis=0), 0.05, 0.95)
            g = self._n_single
            base = self.b.data.astype(np.float64)
            if self.visible == "bernoulli":
                base[:g] = np.log(mean[:g] / (1 - mean[:g]))
            if self.softmax:
                base[g:] = np.log(mean[g:] / mean[g:].sum())
        log_z = self.log_partition(method, n_chains, n_betas, base_rate=base, rng=rng)
        fe = float(np.mean(self.free_energy(X)))
        if return_bounds:
            return LogEstimate(-fe - log_z.value, -fe - log_z.high, -fe - log_z.low)
        return -fe - log_z.value

    def extra_repr(self):
        kind = f"PCD-{self.k}" if self.persistent else f"CD-{self.k}"
        return f"{self.n_visible}, {self.n_hidden}, visible={self.visible!r}, {kind}"
