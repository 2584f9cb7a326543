"""Autoencoders (notes: "Unsupervised neural networks", "Autoencoders": tied weights, under- and
overcomplete, "Sparse autoencoders", "Denoising autoencoders", "Loss functions for
autoencoders", "Loss function gradient in autoencoders", "Contractive autoencoders",
"Contractive vs denoising autoencoders"; and the remark under "Generative Adversarial Networks"
that a denoising autoencoder is sampled by a Markov chain, the generative stochastic networks).

The network: an encoder h = f(x W + b) and a decoder x_hat = g(h W* + c), with W* = W^T when
the weights are tied (one parameter; its gradient is the sum of the gradients of its two
uses, as the notes say: the autodiff engine sums them). The loss of one example x:

- sigmoid output (binary or [0, 1] inputs): the sum of Bernoulli cross-entropies
  l = - sum_k x_k log x_hat_k + (1 - x_k) log(1 - x_hat_k), computed from the logits
  a = h W* + c as sum_k softplus(a_k) - x_k a_k (stable), with dl/da = x_hat - x;
- linear output (real inputs): half the squared error l = 1/2 sum_k (x_hat_k - x_k)^2.

It is averaged over the examples of a batch. The constraints that make an overcomplete
hidden layer learn something:

- sparsity (``sparsity=rho``): beta sum_j KL(rho || rho_hat_j), rho_hat_j the mean activation
  of hidden unit j over the batch, KL(p || q) = p log(p/q) + (1-p) log((1-p)/(1-q)); its
  gradient on h_tj is beta/B (-rho/rho_hat_j + (1-rho)/(1-rho_hat_j)). The notes' own wording
  ("some hidden units are randomly turned off during a training iteration") is
  ``hidden_dropout=p``.
- denoising (``noise=(kind, level)``): the encoder sees a corrupted x~ ~ C(x~ | x) and the
  loss compares the reconstruction with the clean x.
- contractive (``contractive=lam``): lam ||J_h(x)||_F^2 with J_h the encoder's Jacobian. For an
  elementwise f, dh_j/dx_i = f'(a_j) W_ij, so ||J||_F^2 = sum_j f'(a_j)^2 ||W_:j||^2 in closed
  form (f' = h(1-h) for the sigmoid, 1-h^2 for tanh), one fused op with its gradient
  d/dh_j = 2 lam f'_j (df'/dh)_j ||W_:j||^2 and d/dW_ij = 2 lam W_ij sum_t f'_tj^2 (per batch
  mean).

Training goes through ``rb.fit`` with ``y=None`` (the target is the clean input): the
corruption is the model's ``transform_input`` regularizer hook and the penalties its
``penalty`` hook, so there is one training loop in the library.
"""

import threading
import weakref

import numpy as np

from ..autodiff import _kernels
from ..autodiff.elementwise import (
    _flat_kernel_case,
    _same_layout,
    sigmoid_array,
    sigmoid_backward_array,
    sigmoid_probabilities,
    zeros_view,
)
from ..autodiff.tensor import Tensor, _make as make, needs_grad, no_grad, sum_to_shape
from ..checks import boolean, is_int, one_of, positive_float, positive_int, unit_interval
from ..nn import init as initializers
from ..nn.dropout import Dropout, dropout
from ..nn.module import Module
from ..nn.parameter import Parameter
from ..nn.regularizers import Regularizer
from ..randomness import resolve_rng

__all__ = ["Autoencoder", "Corruption", "bernoulli_cross_entropy", "contractive_penalty",
           "sparsity_penalty", "squared_error"]

ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
OUTPUTS = ("sigmoid", "linear")
LOSSES = ("cross_entropy", "squared_error")
NOISE_KINDS = ("masking", "gaussian", "salt_pepper")
# the last sigmoid reconstruction made on each thread, with its logits: weak references
# (output, logits), which keep neither alive
_RECENT = threading.local()


# -- the activations and their derivatives written in terms of the output h ---------------
def _activate(a, activation):
    """f(a), computed in place in ``a``."""
    if activation == "sigmoid":  # (1 + tanh(a/2)) / 2: never overflows (codes are not logged)
        return sigmoid_probabilities(a, out=a)
    if activation == "tanh":
        return np.tanh(a, out=a)
    if activation == "relu":
        zeros = zeros_view(a.shape, a.dtype)
        return np.maximum(a, 0 if zeros is None else zeros, out=a)
    return a


def _times_slope(g, h, activation):
    """g f'(a) with f'(a) read from h = f(a), in one new array."""
    if activation == "sigmoid":  # g h (1 - h)
        return sigmoid_backward_array(g, h)
    if activation == "tanh":  # g (1 - h^2)
        out = h * h
        np.subtract(1, out, out=out)
        out *= g
        return out
    if activation == "relu":
        return np.where(h > 0, g, 0).astype(g.dtype, copy=False)
    return g


def _slope(h, activation):
    """f'(a) from h = f(a): h(1-h), 1-h^2, [h > 0] or 1 (relu'(0) = 0, as PyTorch)."""
    if activation == "sigmoid":
        return h * (1 - h)
    if activation == "tanh":
        return 1 - h * h
    if activation == "relu":
        return (h > 0).astype(h.dtype)
    return np.ones_like(h)


def _slope_derivative(h, activation):
    """d f'(a) / dh: 1 - 2h for the sigmoid, -2h for tanh, 0 for relu and linear."""
    if activation == "sigmoid":
        return 1 - 2 * h
    if activation == "tanh":
        return -2 * h
    return np.zeros_like(h)


# -- fused ops --------------------------------------------------------------------------
def encoder(x, weight, bias, activation):
    """h = f(x W + b) in one op; dE/da = dE/dh f'(a), then the dense rules."""
    xd = x.data if isinstance(x, Tensor) else x
    wd = weight.data
    h = xd @ wd
    h += bias.data
    h = _activate(h, activation)

    def backward(g):
        ga = _times_slope(g, h, activation)
        gx = ga @ wd.T if needs_grad(x) else None
        gw = None
        if weight.requires_grad:
            slot = weight._grad_slot()
            if slot is None:
                gw = xd.T @ ga
            else:
                np.matmul(xd.T, ga, out=slot)
        gb = sum_to_shape(ga, bias.shape) if bias.requires_grad else None  # (float16: in float32)
        return gx, gw, gb

    return make(h, (x, weight, bias), backward)


def tied_decoder(h, weight, bias):
    """a = h W^T + c (the tied decoder); dE/dh = dE/da W, dE/dW = (dE/da)^T h, dE/dc = sum."""
    hd, wd = h.data, weight.data
    a = hd @ wd.T
    a += bias.data

    def backward(g):
        gh = g @ wd if needs_grad(h) else None
        gw = None
        if weight.requires_grad:
            slot = weight._grad_slot()  # the first of W's two uses to backpropagate writes in place
            if slot is None:
                gw = g.T @ hd
            else:
                np.matmul(g.T, hd, out=slot)
        gb = sum_to_shape(g, bias.shape) if bias.requires_grad else None  # (float16: in float32)
        return gh, gw, gb

    return make(a, (h, weight, bias), backward)


def bernoulli_cross_entropy(logits, target, probabilities=None):
    """The notes' sum of Bernoulli cross-entropies from the logits, averaged over the batch.

    l = (1/B) sum_t sum_k softplus(a_tk) - x_tk a_tk (= -x log x_hat - (1-x) log(1-x_hat) with
    x_hat = sigma(a)); dl/da = (sigma(a) - x) / B. ``probabilities`` (sigma(a), if already
    computed) saves recomputing it in the backward pass.
    """
    ad = logits.data
    xd = np.asarray(target, dtype=ad.dtype)
    p = sigmoid_array(ad) if probabilities is None else probabilities
    scale = ad.dtype.type(1.0 / ad.shape[0])
    kernel = (_kernels.get("bernoulli_ce") if _flat_kernel_case(ad) and _same_layout(p, ad)
              and _same_layout(xd, ad) else None)
    if kernel is not None:  # the fast extra: one pass, the gradient for g = 1 ready
        d = np.empty_like(ad)
        total = kernel(ad.reshape(-1), p.reshape(-1), xd.reshape(-1), scale, d.reshape(-1))
        return make(np.asarray(total * scale, dtype=ad.dtype), (logits,),
                    lambda g: (d if g == 1 else d * g,))
    # softplus(a) = max(a, 0) + log(1 + e^-|a|) and log(1 + e^-|a|) = -log(max(p, 1 - p)):
    # the logarithm of a number in [1/2, 1], from the probabilities already computed
    q = 1 - p
    np.maximum(q, p, out=q)
    np.log(q, out=q)
    zeros = zeros_view(ad.shape, ad.dtype)  # max(a, 0) against an array: the fast loop
    softplus = np.maximum(ad, 0 if zeros is None else zeros)
    softplus -= q
    total = float(softplus.sum()) - float(np.vdot(xd.ravel(), ad.ravel()))  # pairwise sum
    value = np.asarray(total * scale, dtype=ad.dtype)

    def backward(g):
        return ((p - xd) * (g * scale),)

    return make(value, (logits,), backward)


def squared_error(pred, target):
    """Half the squared error summed over the features, averaged over the batch.

    l = (1/B) sum_t 1/2 ||x_hat_t - x_t||^2; dl/dx_hat = (x_hat - x) / B.
    """
    pd = pred.data
    diff = pd - np.asarray(target, dtype=pd.dtype)
    scale = pd.dtype.type(1.0 / pd.shape[0])
    value = np.asarray(0.5 * float(np.vdot(diff, diff)) * scale, dtype=pd.dtype)
    return make(value, (pred,), lambda g: (diff * (g * scale),))


def _probability_cross_entropy(pred, target):
    """The cross-entropy of probabilities (not logits), clipped away from 0 and 1."""
    eps = 1e-7 if pred.dtype == np.float32 else 1e-12
    p = np.clip(pred.data, eps, 1 - eps)
    x = np.asarray(target, dtype=p.dtype)
    scale = p.dtype.type(1.0 / p.shape[0])
    value = -(x * np.log(p) + (1 - x) * np.log1p(-p)).sum(dtype=np.float64) * scale
    return make(np.asarray(value, dtype=p.dtype), (pred,),
                lambda g: ((p - x) / (p * (1 - p)) * (g * scale),))


def sparsity_penalty(h, rho, weight):
    """beta sum_j KL(rho || rho_hat_j), rho_hat_j = mean_t h_tj (h in (0, 1)), as one op.

    d/dh_tj = beta / B (-rho / rho_hat_j + (1 - rho) / (1 - rho_hat_j)).
    """
    hd = h.data
    n = hd.shape[0]
    eps = 1e-7 if hd.dtype == np.float32 else 1e-12
    rho_hat = np.clip(hd.mean(axis=0, dtype=np.float64), eps, 1 - eps)
    kl = rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))
    value = np.asarray(weight * kl.sum(), dtype=hd.dtype)
    slope = (weight / n * (-rho / rho_hat + (1 - rho) / (1 - rho_hat))).astype(hd.dtype)

    def backward(g):
        return (np.broadcast_to(slope * g, hd.shape),)

    return make(value, (h,), backward)


def contractive_penalty(h, weight, activation, lam):
    """lam ||J_h(x)||_F^2 averaged over the batch, in closed form, as one op.

    ||J||_F^2 = sum_j f'(a_j)^2 ||W_:j||^2 for h = f(x W + b); see the module docstring for the
    gradient. ``h`` is the encoder's output (the op reads f'(a) from it) and ``weight`` its
    (n_inputs, n_hidden) matrix.
    """
    hd, wd = h.data, weight.data
    n = hd.shape[0]
    d = _slope(hd, activation)
    d2 = d * d
    col = np.einsum("ij,ij->j", wd, wd)  # ||W_:j||^2
    scale = lam / n
    value = np.asarray(scale * float((d2 @ col).sum()), dtype=hd.dtype)

    def backward(g):
        k = hd.dtype.type(2 * scale * float(g))
        gh = None
        if needs_grad(h):
            gh = d * _slope_derivative(hd, activation)
            gh *= col
            gh *= k
        gw = None
        if weight.requires_grad:
            factor = sum_to_shape(d2, d2.shape[1:]) * k  # (float16 summed in float32)
            slot = weight._grad_slot()  # this op's backward runs before the encoder's
            if slot is None:
                gw = wd * factor
            else:
                np.multiply(wd, factor, out=slot)
        return gh, gw

    return make(value, (h, weight), backward)


# -- corruption: the denoising autoencoder's C(x~ | x) ---------------------------------------
class Corruption(Regularizer):
    """The corruption process C(x~ | x) of a denoising autoencoder, as an input transform.

    Parameters
    ----------
    kind : {"masking", "gaussian", "salt_pepper"}
        "masking": each input set to 0 with probability ``level``; "gaussian": add
        N(0, level^2); "salt_pepper": each input set, with probability ``level``, to 0 or 1
        (equally likely).
    level : float
        The probability (in [0, 1)) or the standard deviation (> 0).

    Examples
    --------
    >>> import numpy as np
    >>> from rosenblatt.models.autoencoder import Corruption
    >>> x = np.ones((1000, 10), dtype=np.float32)
    >>> bool(abs((Corruption("masking", 0.3)(x, rng=0) == 0).mean() - 0.3) < 0.02)
    True
    """

    def __init__(self, kind, level):
        self.kind = one_of("Autoencoder", "noise kind", kind, NOISE_KINDS)
        if kind == "gaussian":
            self.level = positive_float("Autoencoder", "noise level (the gaussian std)", level)
        else:
            self.level = unit_interval("Autoencoder", f"noise level (the {kind} probability)",
                                       level)

    def __call__(self, x, rng=None):
        """A corrupted copy of ``x`` (the clean ``x`` is left untouched)."""
        rng = resolve_rng(rng)
        x = np.asarray(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
        if self.kind == "gaussian":
            noise = rng.standard_normal(x.shape, dtype=np.float32).astype(dtype, copy=False)
            noise *= dtype.type(self.level)
            return x.astype(dtype, copy=False) + noise  # integers: float32, as the other kinds
        hit = rng.random(x.shape, dtype=np.float32) < self.level
        out = np.array(x, dtype=dtype, copy=True)
        if self.kind == "masking":
            out[hit] = 0
        else:
            salt = rng.random(x.shape, dtype=np.float32) < 0.5
            out[hit] = salt[hit]
        return out

    def transform_input(self, x, rng=None):
        return self(x, rng)


class _Penalties(Regularizer):
    """The model's penalties (sparsity, contractive) for ``rb.fit``: of the whole training batch.

    When the model's last forward pass saw only a part of the batch (``distributed="threads"``:
    each thread reconstructs its part on its replica; ``"mpi"``: each rank its shard), the
    penalty is that of the whole batch, from a fresh encoding of it, so that a step equals the
    one-thread step: the sparsity KL needs the whole batch's mean activation (it is not a sum
    over rows), and the trainers weight the penalty term as the whole batch's (``rb.fit``: once
    per step on the caller's thread; over MPI each rank's term weighted by its shard, the
    weights summing to 1). The batch is the one ``transform_input`` last saw (after the
    corruption, which comes first among the model's regularizers). Likewise when the last
    forward pass was of other inputs than that batch: adversarial training
    (``fit(..., adversarial=rb.adversarial.FGSM(...))``) reconstructs the adversarial batch
    after the clean one, but the penalties stay those of the training batch (the objective
    is ``alpha J(x) + (1 - alpha) J(x_adv)`` plus the penalties of ``x``).
    """

    # slots, not in vars(): rb.save describes a library regularizer by its vars (none here)
    __slots__ = ("_batch", "_owner", "_mark")

    def __init__(self, owner=None):
        self._batch = None  # the last training batch's encoder input (cleared when fit ends)
        self._mark = None  # the owner's forward-pass count when that batch came
        # the model these are of (weakly): a clone, which shares its original's list items,
        # gets its own (Autoencoder.regularizers), so that it neither keeps nor overwrites
        # its original's batch
        self._owner = None if owner is None else weakref.ref(owner)

    def __reduce__(self):  # (pickle: no batch, no owner; the model's list gives it its own)
        return (_Penalties, ())

    def transform_input(self, x, rng=None):
        self._batch = x
        owner = None if self._owner is None else self._owner()
        self._mark = None if owner is None else owner._passes
        return x

    def penalty(self, model):
        if not isinstance(model, Autoencoder):
            return None
        batch, last = self._batch, model._last
        if batch is not None and last is not None:
            batch = batch.data if isinstance(batch, Tensor) else batch
            # the last pass is the batch's: of that very array (rb.fit's forward, a closure
            # optimizer's every evaluation), or the one pass since the batch came, of as many
            # rows (a later input regularizer, such as InputNoise, noised it again)
            own = last[3] is batch or (self._mark is not None and len(last[0]) == len(batch)
                                       and model._passes == self._mark + 1)
            if not own:
                # a part of the batch, or other inputs (an adversarial batch): the whole
                # training batch's penalty (the batch was checked by fit)
                return model._penalty_of(Tensor(np.asarray(batch, dtype=model._dtype())))
        return model.penalty()

    def __repr__(self):
        return "Autoencoder penalties"


# -- the model ------------------------------------------------------------------------------
class Autoencoder(Module):
    """A shallow autoencoder: plain, tied, sparse, denoising or contractive.

    Parameters
    ----------
    n_inputs : int
        Input (and output) size.
    n_hidden : int
        Code size: smaller than ``n_inputs`` is undercomplete, larger overcomplete.
    activation : {"sigmoid", "tanh", "relu", "linear"}, default "sigmoid"
        The encoder's f.
    output : {"sigmoid", "linear"}, default "sigmoid"
        The decoder's output function: sigmoid for binary or [0, 1] data, linear for real data.
    loss : {"cross_entropy", "squared_error"}, optional
        Default: "cross_entropy" (the sum of Bernoulli cross-entropies) for a sigmoid output,
        "squared_error" (half the squared error) for a linear one.
    tied : bool, default False
        Decode with W^T (one weight matrix). Fixed at construction (it decides whether
        ``W_dec`` exists): a value set since is refused by ``fit`` and ``rb.save``.
    sparsity : float in (0, 1), optional
        The target mean activation rho of the KL sparsity penalty (sigmoid encoder only).
    sparsity_weight : float, default 3.0
        beta, the penalty's weight.
    noise : (kind, level), optional
        A denoising autoencoder: ("masking", p), ("gaussian", std) or ("salt_pepper", p).
    contractive : float, default 0.0
        lam of the contractive penalty lam ||J_h(x)||_F^2.
    rng : numpy.random.Generator or int, optional
        Initialisation, hidden dropout and :meth:`fit`'s shuffling and corruption.
    hidden_dropout : float in [0, 1), default 0.0
        The fraction of hidden units turned off at random in each training step (drawn from
        ``rng``, through an ``rb.nn.Dropout`` sub-module when non-zero, so that
        ``DataParallel`` draws it over the global batch as for any dropout layer).

    Attributes
    ----------
    W : Parameter, shape (n_inputs, n_hidden)
    b : Parameter, shape (n_hidden,)
    W_dec : Parameter, shape (n_hidden, n_inputs), or None when tied
    b_dec : Parameter, shape (n_inputs,)

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> X, _ = rb.datasets.load_digits()
    >>> ae = rb.models.Autoencoder(64, 16, tied=True, rng=0)
    >>> history = ae.fit(X[:200], epochs=2, batch_size=50)
    >>> ae.transform(X[:3]).shape, ae(rb.tensor(X[:3])).shape
    ((3, 16), (3, 64))
    """

    _passes = 0  # (an instance counts its own; a model pickled before it had none starts here)

    @classmethod
    def state_shapes(cls, config):
        """``W`` (n_inputs, n_hidden), ``b`` (n_hidden,), ``W_dec`` (n_hidden, n_inputs)
        unless ``tied``, ``b_dec`` (n_inputs,)."""
        n_in = positive_int("Autoencoder", "n_inputs", config["n_inputs"])
        n_hid = positive_int("Autoencoder", "n_hidden", config["n_hidden"])
        shapes = {"W": (n_in, n_hid), "b": (n_hid,)}
        if not config["tied"]:
            shapes["W_dec"] = (n_hid, n_in)
        shapes["b_dec"] = (n_in,)
        return shapes

    def __init__(self, n_inputs, n_hidden, activation="sigmoid", output="sigmoid", loss=None,
                 tied=False, sparsity=None, sparsity_weight=3.0, noise=None, contractive=0.0,
                 rng=None, hidden_dropout=0.0):
        owner = "Autoencoder"
        self.n_inputs = positive_int(owner, "n_inputs", n_inputs)
        self.n_hidden = positive_int(owner, "n_hidden", n_hidden)
        if loss is None:
            loss = "cross_entropy" if output == "sigmoid" else "squared_error"
        self.activation, self.output, self.loss_kind = activation, output, loss
        self.tied = boolean(type(self).__name__, "tied", tied)
        self.sparsity, self.sparsity_weight = sparsity, sparsity_weight
        self.contractive, self.hidden_dropout = contractive, hidden_dropout
        self._check_hyper(owner)
        self._corruption = None
        self.regularizers = [_Penalties(self)]
        self.noise = noise  # (checked; puts the corruption first among the regularizers)
        # None: draw from the library generator at the time of each draw (as rb.nn.Dropout)
        self.rng = None if rng is None else resolve_rng(rng)
        init_rng = resolve_rng(self.rng)
        glorot = initializers.get("glorot_uniform", owner)
        self.W = Parameter(glorot((self.n_inputs, self.n_hidden), fan_in=self.n_inputs,
                                  fan_out=self.n_hidden, rng=init_rng))
        self.b = Parameter(np.zeros(self.n_hidden, dtype=np.float32))
        self.W_dec = None if self.tied else Parameter(glorot(
            (self.n_hidden, self.n_inputs), fan_in=self.n_hidden, fan_out=self.n_inputs,
            rng=init_rng))
        self.b_dec = Parameter(np.zeros(self.n_inputs, dtype=np.float32))
        # the hidden dropout as a layer: rb.distributed.DataParallel gives a Dropout layer's
        # generator the whole global batch's draws (each rank keeps its rows, as one process
        # draws); it shares the model's generator (one stream, as before)
        self._hidden_dropout_layer = Dropout(self.hidden_dropout, rng=self.rng) \
            if self.hidden_dropout else None
        # (hidden before dropout, logits, reconstruction, input array) of the last forward
        self._last = None
        self._passes = 0  # forward passes so far (the penalties tell which pass is the batch's)

    @property
    def regularizers(self):
        """The model's own regularizers (``rb.fit`` applies them): the corruption of a
        denoising autoencoder, then the sparsity and contractive penalties."""
        regs = self.__dict__.get("regularizers", ())
        for i, reg in enumerate(regs):
            if isinstance(reg, _Penalties) and (reg._owner is None or reg._owner() is not self):
                # a clone's list holds its original's: its own, with no batch of the other's
                regs[i] = _Penalties(self)
        return regs

    @regularizers.setter
    def regularizers(self, value):
        self.__dict__["regularizers"] = value if isinstance(value, list) else list(value)

    def _release(self):
        """Let go of the last batch (its graph and the penalties' copy): after fit, and after
        the eval passes that leave nothing behind."""
        self._last = None
        _RECENT.output = None
        for reg in self.__dict__.get("regularizers", ()):
            if isinstance(reg, _Penalties):
                reg._batch = None

    @property
    def noise(self):
        """The corruption of a denoising autoencoder, ``(kind, level)``, or None.

        Setting it is checked and replaces the corruption that training (``fit``, ``loss``)
        and :meth:`sample_chain` apply, in its place among ``regularizers`` (first when
        there was none), as a model saved and loaded with that value would have it.
        """
        return self._noise

    @noise.setter
    def noise(self, value):
        value = None if value is None else self._check_noise(value)
        old = self._corruption
        new = None if value is None else Corruption(*value)
        regs = self.__dict__["regularizers"]
        if old is not None and any(r is old for r in regs):
            at = next(i for i, r in enumerate(regs) if r is old)
            regs[at:at + 1] = [] if new is None else [new]
        elif new is not None:
            regs.insert(0, new)  # the corruption comes first (the penalties see its output)
        self._noise, self._corruption = value, new

    def _after_clone(self, original):
        """After ``Module.clone``'s structural copy (of this model, or of a stack or any module
        holding it): no last forward pass of the original (its graph leads to the original's
        parameters), so ``penalty()`` of the copy needs a forward pass of its own first."""
        self._last = None

    @staticmethod
    def _check_noise(noise):
        if isinstance(noise, str) or not isinstance(noise, (tuple, list)) or len(noise) != 2:
            raise ValueError(f"Autoencoder: noise must be (kind, level) with kind one of "
                             f"{NOISE_KINDS}, e.g. ('masking', 0.25); got {noise!r}")
        Corruption(*noise)  # validates the kind and the level
        return (str(noise[0]), float(noise[1]))

    def _check_hyper(self, owner):
        """Check (and make plain) the settings training reads and ``rb.save`` writes: the
        constructor's checks, run again by :meth:`fit` and :meth:`config` for values set since
        (a file the constructor would refuse is never written). ``noise`` has its own checking
        setter; ``tied``, which decides whether ``W_dec`` exists, cannot change after
        construction."""
        if "b_dec" in vars(self):  # built: tied is the constructor's, W_dec exists or not
            tied = boolean(owner, "tied", self.tied)
            if tied != (self.W_dec is None):
                raise ValueError(f"{owner}: tied is fixed at construction (a tied autoencoder "
                                 f"decodes with W^T and has no W_dec); this one was built with "
                                 f"tied={self.W_dec is None} but tied is now {self.tied!r}: build "
                                 f"a new Autoencoder(..., tied={tied})")
            self.tied = tied
        self.activation = one_of(owner, "activation", self.activation, ACTIVATIONS)
        self.output = one_of(owner, "output", self.output, OUTPUTS)
        self.loss_kind = one_of(owner, "loss", self.loss_kind, LOSSES)
        if self.loss_kind == "cross_entropy" and self.output != "sigmoid":
            raise ValueError(f"{owner}: loss='cross_entropy' needs output='sigmoid' (the "
                             f"Bernoulli cross-entropy of outputs in (0, 1)); got output="
                             f"{self.output!r}, use loss='squared_error'")
        sparsity = self.sparsity
        if sparsity is not None:
            if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float, np.number)) \
                    or not 0 < sparsity < 1:
                raise ValueError(f"{owner}: sparsity must be a target mean activation rho "
                                 f"in (0, 1), or None; got {sparsity!r}")
            if self.activation != "sigmoid":
                raise ValueError(f"{owner}: sparsity needs activation='sigmoid' (mean "
                                 f"activations in (0, 1)); got activation="
                                 f"{self.activation!r}")
            self.sparsity = float(sparsity)
        self.sparsity_weight = positive_float(owner, "sparsity_weight", self.sparsity_weight,
                                              allow_zero=True)
        self.contractive = positive_float(owner, "contractive", self.contractive,
                                          allow_zero=True)
        self.hidden_dropout = unit_interval(owner, "hidden_dropout", self.hidden_dropout)

    def config(self):
        """The constructor arguments (for ``rb.save``/``rb.load``), checked as the constructor
        checks them."""
        self._check_hyper("save: Autoencoder")
        return {"n_inputs": self.n_inputs, "n_hidden": self.n_hidden,
                "activation": self.activation, "output": self.output, "loss": self.loss_kind,
                "tied": self.tied, "sparsity": self.sparsity,
                "sparsity_weight": self.sparsity_weight,
                "noise": None if self.noise is None else list(self.noise),
                "contractive": self.contractive, "hidden_dropout": self.hidden_dropout}

    def extra_repr(self):
        return f"{self.n_inputs}, {self.n_hidden}" + (", tied=True" if self.tied else "")

    # -- checks -----------------------------------------------------------------------------
    def _dtype(self):
        return self.W.data.dtype

    def _check_x(self, X, where, name="X"):
        if isinstance(X, Tensor):
            X = X.data
        X = np.asarray(X)
        if X.dtype == object or X.dtype.kind not in "biuf":
            raise TypeError(f"Autoencoder.{where}: {name} must be a numeric array; got dtype "
                            f"{X.dtype}")
        if X.ndim == 1:
            X = X[None]
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"Autoencoder.{where}: {name} must have shape (n, {self.n_inputs})"
                             f" (n_inputs={self.n_inputs} features); got {X.shape}")
        X = X.astype(self._dtype(), copy=False)
        with np.errstate(over="ignore", invalid="ignore"):
            total = X.sum()  # NaN or inf anywhere makes the sum non-finite: one cheap pass
        if not np.isfinite(total) and not np.isfinite(X).all():
            raise ValueError(f"Autoencoder.{where}: {name} contains NaN or infinite values; "
                             f"remove or impute them")
        return X

    def validation_inputs(self, validation_data, where="fit"):
        """The held-out inputs of ``validation_data``: an array (m, n_inputs), or a pair
        ``(X_val, None)`` or ``(X_val, X_val)`` (Keras's idiom: the target is the input)."""
        data = validation_data
        # a pair, not two rows: recognised by its inputs alone, whatever its second part (1-D
        # labels are then explained below, not left to NumPy's "inhomogeneous shape")
        if isinstance(data, (tuple, list)) and len(data) == 2 and data[0] is not None and \
                np.ndim(data[0].data if isinstance(data[0], Tensor) else data[0]) == 2:
            inputs, targets = (part.data if isinstance(part, Tensor) else part for part in data)
            if targets is not None and targets is not inputs and not (
                    np.shape(targets) == np.shape(inputs)
                    and np.array_equal(np.asarray(targets), np.asarray(inputs))):
                raise ValueError(
                    f"Autoencoder.{where}: validation_data must be held-out inputs (m, "
                    f"{self.n_inputs}) or a pair (X_val, X_val): an autoencoder's target is its "
                    f"own input; got a pair whose targets (shape {np.shape(targets)}) differ "
                    f"from its inputs (shape {np.shape(inputs)})")
            data = inputs
        data = self._check_x(data, where, "validation_data")
        return self._check_range(data, where, "validation_data")

    def _check_range(self, X, where, name="X"):
        """``X`` itself, or clipped to [0, 1] (a copy) where it leaves [0, 1] by a few rounding
        errors (as scaling leaves it); a ValueError naming the first value beyond them."""
        if self.loss_kind != "cross_entropy" or not len(X) or (X.min() >= 0 and X.max() <= 1):
            return X
        tol = 4 * np.finfo(X.dtype).eps
        outside = (X < -tol) | (X > 1 + tol)
        if outside.any():
            row, col = (int(i) for i in np.argwhere(outside)[0])
            raise ValueError(
                f"Autoencoder.{where}: {name} must lie in [0, 1] for loss='cross_entropy' with "
                f"output='sigmoid' (the targets are Bernoulli means); got {float(X[row, col])!r} "
                f"at row {row}, column {col} (values in [{float(X.min())!r}, "
                f"{float(X.max())!r}]). Scale the data to [0, 1] or use output='linear' "
                f"(loss='squared_error')")
        return np.clip(X, 0, 1)

    # -- the network ----------------------------------------------------------------------
    def encode(self, x):
        """The code h = f(x W + b) of a batch ``x`` (Tensor or array): (batch, n_hidden)."""
        if not isinstance(x, Tensor):
            x = Tensor(self._check_x(x, "encode", "x"))
        elif x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"Autoencoder({self.n_inputs}, {self.n_hidden}): expected input of "
                             f"shape (batch, {self.n_inputs}); got {tuple(x.shape)}")
        return encoder(x, self.W, self.b, self.activation)

    def _logits(self, h):
        if self.tied:
            return tied_decoder(h, self.W, self.b_dec)
        return encoder(h, self.W_dec, self.b_dec, "linear")

    def decode(self, h):
        """The reconstruction x_hat = g(h W* + c) of codes ``h`` (batch, n_hidden); a Tensor."""
        if not isinstance(h, Tensor):
            try:
                h = np.asarray(h)
            except ValueError as err:  # a ragged nesting of lists
                raise ValueError(f"Autoencoder.decode: h must be codes of shape (batch, "
                                 f"{self.n_hidden}); got {type(h).__name__} that NumPy cannot "
                                 f"make one array of ({err})") from None
            if h.dtype.kind not in "biuf":  # a cast would parse strings, drop imaginary parts
                raise TypeError(f"Autoencoder.decode: h must be a numeric array; got dtype "
                                f"{h.dtype}")
            h = h.astype(self._dtype(), copy=False)
            if not np.isfinite(h).all():
                raise ValueError("Autoencoder.decode: h contains NaN or infinite values")
            h = Tensor(h)
        if h.ndim != 2 or h.shape[1] != self.n_hidden:
            raise ValueError(f"Autoencoder.decode: h must have shape (batch, {self.n_hidden}); "
                             f"got {tuple(h.shape)}")
        a = self._logits(h)
        return self._output(a)

    def _output(self, a):
        if self.output == "linear":
            return a
        p = sigmoid_array(a.data)
        return make(p, (a,), lambda g: (sigmoid_backward_array(g, p),))

    def forward(self, x):
        """The reconstruction of ``x`` (batch, n_inputs); hidden dropout applies in training."""
        h = self.encode(x)
        code = h
        if self.training and self.hidden_dropout:
            layer = self._hidden_dropout_layer
            rng = self.rng if layer is None else layer.rng
            mark = getattr(rng, "per_example", None)  # under DataParallel: the batch's draws
            if mark is not None:
                with mark(h):
                    code = dropout(h, self.hidden_dropout, training=True, rng=rng)
            else:
                code = dropout(h, self.hidden_dropout, training=True, rng=rng)
        a = self._logits(code)
        out = self._output(a)
        # the input array: the penalties (_Penalties) tell which batch this pass was of
        self._last = (h, a, out, x.data if isinstance(x, Tensor) else x)
        self._passes += 1
        if self.output == "sigmoid":
            # the replicas of rb.fit(distributed="threads") are clones that reconstruct on
            # their own threads, and the loss they are given is this model's bound
            # reconstruction_loss: it finds their logits here. Weakly held: an output that
            # nobody holds any more (a forward outside fit) does not keep its graph alive
            _RECENT.output = (weakref.ref(out), weakref.ref(a))
        return out

    # -- the objective ----------------------------------------------------------------------
    def reconstruction_loss(self, pred, target):
        """The notes' loss of reconstructions ``pred`` against clean ``target``, batch mean.

        When ``pred`` is this model's last output, the cross-entropy is computed from its
        logits (stable for any logit); this is the ``loss`` given to ``rb.fit``.
        """
        target = target.data if isinstance(target, Tensor) else target
        if self.loss_kind == "squared_error":
            return squared_error(pred, target)
        logits = self._logits_of(pred) if self.output == "sigmoid" else None
        if logits is not None:
            return bernoulli_cross_entropy(logits, target, probabilities=pred.data)
        return _probability_cross_entropy(pred, target)

    def _logits_of(self, pred):
        """The logits of ``pred`` when it is the last sigmoid output of this model, or of any
        autoencoder on this thread (a replica of this one under ``distributed="threads"``);
        else None."""
        last = self._last
        if last is not None and pred is last[2]:
            return last[1]
        recent = getattr(_RECENT, "output", None)
        if recent is not None and pred is recent[0]():
            return recent[1]()  # alive while pred is (its parent), None under no_grad
        return None

    def penalty(self, x=None):
        """The sparsity and contractive penalties (a Tensor), or None.

        Parameters
        ----------
        x : array_like, shape (batch, n_inputs), optional
            Inputs to encode afresh (no dropout: the penalties are of the code before it),
            at least one row (the penalties are batch means). Default: the code of the last
            forward pass.
        """
        if x is not None:
            x = self._check_x(x, "penalty", "x")
            if len(x) == 0:  # the penalties are batch means (the sparsity: of the mean code)
                raise ValueError(f"Autoencoder.penalty: x must hold at least one row; got shape "
                                 f"{x.shape}")
            return self._penalty_of(Tensor(x))
        if self._last is None:
            return None
        return self._penalty_of(None)

    def _penalty_of(self, x):
        """The penalties of the code of the checked batch ``x`` (a Tensor), or of the last
        forward pass's when ``x`` is None."""
        h = self._last[0] if x is None else self.encode(x)
        total = None
        if self.sparsity is not None and self.sparsity_weight:
            total = sparsity_penalty(h, self.sparsity, self.sparsity_weight)
        if self.contractive:
            term = contractive_penalty(h, self.W, self.activation, self.contractive)
            total = term if total is None else total + term
        return total

    def loss(self, x, rng=None):
        """Reconstruction loss plus penalties on a clean batch ``x`` (a scalar Tensor).

        In training mode a denoising autoencoder corrupts ``x`` first (drawing from ``rng``,
        default the model's generator) and reconstructs the clean ``x``.
        """
        x = self._check_range(self._check_x(x, "loss", "x"), "loss", "x")
        xin = x
        if self._corruption is not None and self.training:
            xin = self._corruption(x, self.rng if rng is None else rng)
        total = self.reconstruction_loss(self.forward(Tensor(xin)), x)
        extra = self.penalty()
        return total if extra is None else total + extra

    # -- training and use -------------------------------------------------------------------
    def fit(self, X, epochs=10, batch_size=32, optimizer=None, validation_data=None,
            callbacks=None, **options):
        """Train on ``X`` (n, n_inputs) with ``rb.fit`` (target: the clean input); a History.

        Parameters
        ----------
        X : array_like, shape (n, n_inputs)
        epochs : int, default 10
        batch_size : int, default 32
        optimizer : rb.optim optimizer, optional
            Default ``rb.optim.Adam(self.parameters(), lr=1e-3)``.
        validation_data : array_like, shape (m, n_inputs), optional
            Held-out inputs: ``val_loss`` is their clean reconstruction loss.
        callbacks : sequence of rb.callbacks.Callback, optional
        **options
            Passed on to ``rb.fit`` (``shuffle``, ``progress``, ``clip_norm`` ...). With
            ``distributed="threads"`` (or ``"mpi"``) each part of a batch is reconstructed
            on its own replica, and the sparsity and contractive penalties are the whole
            batch's (one more encoder pass over it); the hidden dropout draws, as an
            ``rb.nn.Dropout`` layer does, the whole batch's mask and keeps the part's rows
            (over MPI each rank draws it: ``DataParallel`` gives the dropout layer the global
            batch's draws). So a step equals the one-thread step up to rounding.
        """
        from ..optim.adam import Adam
        from ..training.fit import fit as train

        self._check_hyper("Autoencoder.fit")  # (set since construction, maybe)
        X = self._check_range(self._check_x(X, "fit"), "fit")
        if not is_int(epochs):  # named by type: fit(X, X) would print the whole array
            shape = f" of shape {np.shape(epochs)}" if np.ndim(epochs) else ""
            hint = ("; an autoencoder's target is its input: call fit(X), not fit(X, X)"
                    if np.ndim(epochs) else "")
            raise TypeError(f"Autoencoder.fit: epochs must be a non-negative integer; got "
                            f"{type(epochs).__name__}{shape}{hint}")
        epochs = positive_int("Autoencoder.fit", "epochs", epochs, allow_zero=True)
        if validation_data is not None:
            validation_data = self.validation_inputs(validation_data, "fit")
        if optimizer is None:
            optimizer = Adam(self.parameters(), lr=1e-3)
        options.setdefault("progress", False)
        options.setdefault("rng", self.rng)
        try:
            return train(self, X, None, loss=self.reconstruction_loss, optimizer=optimizer,
                         epochs=epochs, batch_size=batch_size, validation_data=validation_data,
                         metrics=(), callbacks=callbacks or (), **options)
        finally:
            self._release()  # no batch nor its graph kept alive past the fit

    def transform(self, X, batch_size=1024):
        """The codes h of ``X`` (n, n_inputs), an ndarray (n, n_hidden) (eval mode, no graph)."""
        batch_size = positive_int("Autoencoder.transform", "batch_size", batch_size)
        X = self._check_x(X, "transform")
        with self.evaluating(), no_grad():
            parts = [self.encode(Tensor(X[i:i + batch_size])).data
                     for i in range(0, len(X), batch_size)]
        return np.concatenate(parts) if parts else np.empty((0, self.n_hidden), self._dtype())

    def reconstruct(self, X, batch_size=1024):
        """The reconstructions of ``X`` (n, n_inputs), an ndarray (eval mode, no graph)."""
        batch_size = positive_int("Autoencoder.reconstruct", "batch_size", batch_size)
        X = self._check_x(X, "reconstruct")
        with self.evaluating(), no_grad():
            parts = [self.forward(Tensor(X[i:i + batch_size])).data
                     for i in range(0, len(X), batch_size)]
        self._release()  # no batch kept alive
        return np.concatenate(parts) if parts else np.empty((0, self.n_inputs), self._dtype())

    def jacobian_norm(self, X):
        """The squared Frobenius norm ||J_h(x)||_F^2 of the encoder at each row of ``X``, (n,)."""
        H = self.transform(X)
        d = _slope(H, self.activation)
        return (d * d) @ np.einsum("ij,ij->j", self.W.data, self.W.data)

    def sample_chain(self, x0, steps, keep_every=1, rng=None, means=False):
        """Sample a denoising autoencoder by its Markov chain (generative stochastic network).

        Alternates the corruption x~ ~ C(x~ | x) and the reconstruction distribution
        x ~ P(x | x~) (independent Bernoullis of the sigmoid outputs; for a linear output the
        reconstruction itself), starting from ``x0``; the chain's stationary distribution
        approaches the data's.

        Parameters
        ----------
        x0 : array_like, shape (n_chains, n_inputs) or (n_inputs,)
            The starting points (e.g. training examples or noise); one chain per row.
        steps : int
        keep_every : int, default 1
            Keep every ``keep_every``-th state.
        rng : numpy.random.Generator or int, optional
            Default the model's generator.
        means : bool, default False
            Keep the reconstruction means P(x | x~) instead of the sampled states (nicer to
            look at; the chain itself still moves through samples).

        Returns
        -------
        ndarray, shape (steps // keep_every, n_chains, n_inputs)

        Raises
        ------
        ValueError
            When the autoencoder has no ``noise`` (it is not a denoising autoencoder).
        """
        if self._corruption is None:
            raise ValueError("Autoencoder.sample_chain: needs a denoising autoencoder (built "
                             "with noise=(kind, level)); this one has noise=None")
        steps = positive_int("Autoencoder.sample_chain", "steps", steps)
        keep_every = positive_int("Autoencoder.sample_chain", "keep_every", keep_every)
        means = boolean("Autoencoder.sample_chain", "means", means)
        rng = resolve_rng(self.rng if rng is None else rng)
        x = self._check_x(x0, "sample_chain", "x0")
        kept = []
        with self.evaluating(), no_grad():
            for step in range(1, steps + 1):
                p = self.forward(Tensor(self._corruption(x, rng))).data
                if self.output == "sigmoid":
                    x = (rng.random(p.shape, dtype=np.float32) < p).astype(p.dtype)
                else:
                    x = p
                if step % keep_every == 0:
                    kept.append(p if means else x)
        self._release()  # no batch kept alive
        return np.stack(kept) if kept else np.empty((0,) + x.shape, x.dtype)

