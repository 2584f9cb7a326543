"""Batch normalisation (notes: "Batch Normalization").

For each feature k over the mini-batch (and, for images, over the spatial
positions): mean x̄_k, biased variance σ²_k, x̂_k = (x_k - x̄_k) / sqrt(σ²_k + eps),
BN(x)_k = γ_k x̂_k + β_k. In training the running statistics follow PyTorch:
running = (1 - momentum) running + momentum batch, with the unbiased batch
variance (m / (m - 1) σ²); in evaluation x̂ uses the running statistics.

One fused op with a hand-written backward; with g = dE/dy, over the m values
of a feature:

    dE/dβ = Σ g,   dE/dγ = Σ g x̂,
    dE/dx = γ / sqrt(σ² + eps) · (g - mean(g) - x̂ mean(g x̂))    (training)
    dE/dx = γ / sqrt(running_var + eps) · g                     (evaluation)

Data-parallel training (``rb.distributed.DataParallel``) sums the per-channel
sums over the ranks: the batch statistics, and the two means of the training
backward, are those of the whole global batch, as one process computes them
(PyTorch's SyncBatchNorm); dE/dγ and dE/dβ stay each rank's own sums (the
gradient's Allreduce adds them up).
"""

import numpy as np

from ..autodiff.tensor import Tensor, _make as make, as_tensor_array, needs_grad
from ..checks import boolean, positive_float, positive_int, unit_interval
from . import init as initializers
from ._operands import as_tensor, check_shape
from .module import Module
from .parameter import Parameter


def _per_channel(spec, *arrays, dtype=None):
    """Sum over every axis but the channel axis (of the product of ``arrays``).

    ``einsum`` reduces without the temporary that ``(a * b).sum(axis)`` allocates.
    ``dtype`` is the accumulator's (float32 for float16 inputs: a channel's sum
    passes float16's 65,504 long before its mean does).
    """
    subscripts = ",".join([spec] * len(arrays)) + "->b"
    if dtype is None:  # float32/float64: the input's own dtype, no keyword to parse
        return np.einsum(subscripts, *arrays)
    return np.einsum(subscripts, *arrays, dtype=dtype)


def _running(value, name, training, x, where):
    """A running statistic of :func:`batch_norm`: in training a float ndarray, updated in
    place (refused otherwise: the update would go to a temporary, or fail to cast), in
    evaluation anything array_like (a list takes ``x``'s dtype)."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value
    if training:
        got = (f"an ndarray of dtype {value.dtype}" if isinstance(value, np.ndarray)
               else type(value).__name__)
        raise TypeError(f"{where}: {name} must be a float ndarray (it is updated in place); "
                        f"got {got}. Pass e.g. numpy.zeros(channels, dtype=numpy.float32)")
    return as_tensor(value, where, name, like=x).data


def batch_norm(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1,
               eps=1e-5, sum_over_ranks=None, *, where="batch_norm"):
    """Normalise ``x`` per channel (axis 1) over every other axis; one graph node.

    Parameters
    ----------
    x : Tensor or array_like, shape (batch, channels) or (batch, channels, *spatial)
    gamma, beta : Tensor or array_like, shape (channels,)
    running_mean, running_var : ndarray, shape (channels,)
        Updated in place when ``training`` (a float ndarray then; in evaluation anything
        array_like).
    training : bool, default True
        True or False (a NumPy bool too); anything else is a TypeError.
    momentum : float in [0, 1], default 0.1
        Weight of the batch in the running statistics.
    eps : float > 0, default 1e-5
    sum_over_ranks : callable, optional
        ``f(array) -> array``: the element-wise sum of a small array over the
        ranks of a data-parallel job (a collective: every rank calls it). In
        training, the statistics and the backward's means then cover every
        rank's shard of the batch.
    where : str, default "batch_norm"
        The name error messages start with (a layer passes its own).

    Returns
    -------
    Tensor, the shape of ``x``.

    Raises
    ------
    ValueError
        For an input with fewer than two axes, an operand that is not (channels,)
        (the message names it and both shapes), a momentum outside [0, 1] or an eps
        that is not finite and > 0.
    TypeError
        In training, for running statistics that are not float ndarrays; for a
        ``training`` that is not a bool.

    Notes
    -----
    For float16 input the per-channel sums are taken in float32 (as PyTorch does):
    a channel of 50,000 values of mean 2 sums past float16's largest number. In
    evaluation the running statistics are used in float32 too (a feature of std 256
    has a variance past 65,504), and only x̂ is rounded to float16.
    """
    momentum = unit_interval(where, "momentum", momentum, closed_high=True)
    eps = positive_float(where, "eps", eps)
    training = boolean(where, "training", training)  # "False" would train (and update)
    return _batch_norm(x, gamma, beta, running_mean, running_var, training, momentum, eps,
                       sum_over_ranks, where)


def _batch_norm(x, gamma, beta, running_mean, running_var, training, momentum, eps,
                sum_over_ranks, where):
    """:func:`batch_norm` with ``momentum`` and ``eps`` already checked (the layers check
    theirs once, at construction, not at every step)."""
    x = as_tensor(x, where, "x")
    xd = x.data
    if xd.ndim < 2:
        raise ValueError(f"{where}: input must be (batch, channels) or (batch, channels, "
                         f"*spatial); got shape {tuple(xd.shape)}")
    gamma = as_tensor(gamma, where, "gamma", like=x)
    beta = as_tensor(beta, where, "beta", like=x)
    running_mean = _running(running_mean, "running_mean", training, x, where)
    running_var = _running(running_var, "running_var", training, x, where)
    for name, value in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                        ("running_var", running_var)):
        check_shape(value, (xd.shape[1],), where, name, "(channels,)")
    bshape = (1, xd.shape[1]) + (1,) * (xd.ndim - 2)  # broadcast a (channels,) vector
    m = xd.size // xd.shape[1]
    spec = "ab" + "cdefgh"[:xd.ndim - 2]  # einsum letters; "b" is the channel axis
    total = m  # values per channel over the whole (global) batch
    acc = np.float32 if xd.dtype.itemsize < 4 else None  # float16: sums in float32
    if training:
        if sum_over_ranks is None:
            mean = _per_channel(spec, xd, dtype=acc) / m
        else:  # the sums and the counts of every rank's shard
            sums = _per_channel(spec, xd, dtype=acc)
            head = sum_over_ranks(np.append(sums, sums.dtype.type(m)))
            total = int(head[-1])
        if total < 2:
            raise ValueError(
                f"{where}: training needs more than one value per channel to estimate a "
                f"variance; got input of shape {tuple(xd.shape)}"
            )
        if sum_over_ranks is not None:
            mean = head[:-1] / total
        xc = xd - (mean if acc is None else mean.astype(xd.dtype)).reshape(bshape)
        squares = _per_channel(spec, xc, xc, dtype=acc)
        var = (squares if sum_over_ranks is None else sum_over_ranks(squares)) / total
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += (momentum * total / (total - 1)) * var
    else:
        # float16 input: the statistics stay float32, as in training (a running variance
        # passes float16's 65,504 at a std of 256, a mean difference at 2 x 32,752), and
        # only x̂ comes back to float16
        stat = xd.dtype if acc is None else acc
        xc = xd - running_mean.reshape(bshape).astype(stat, copy=False)
        var = running_var.astype(stat, copy=False)
    inv_std = 1 / np.sqrt(var + eps)
    xhat = xc
    xhat *= inv_std.reshape(bshape)  # xc is ours: normalise in place
    if acc is not None:
        xhat = xhat.astype(xd.dtype, copy=False)
        inv_std = inv_std.astype(xd.dtype)
    y = xhat * gamma.data.reshape(bshape) + beta.data.reshape(bshape)

    def backward(g):
        # float16 input: the sums in float32, or wider when the gradient is (a float64 layer
        # or op after this one; einsum refuses to sum float64 into float32)
        gacc = acc if acc is None or g.dtype.itemsize <= 4 else g.dtype
        gbeta = _per_channel(spec, g, dtype=gacc)  # sum g
        ggamma = _per_channel(spec, g, xhat, dtype=gacc)  # sum g xhat
        gx = None
        if needs_grad(x):
            scale = (gamma.data * inv_std).reshape(bshape)
            if training:  # g - mean(g) - xhat mean(g xhat)
                sums = (gbeta, ggamma) if sum_over_ranks is None else np.split(
                    sum_over_ranks(np.concatenate([gbeta, ggamma])), 2)
                means = (sums[0] / total, sums[1] / total)
                if acc is not None:  # float16: the means back in g's dtype
                    means = tuple(value.astype(g.dtype) for value in means)
                gx = g - means[0].reshape(bshape)
                gx -= xhat * means[1].reshape(bshape)
                gx *= scale
            else:
                gx = g * scale
        if acc is not None:
            gbeta, ggamma = gbeta.astype(beta.dtype), ggamma.astype(gamma.dtype)
        return (gx, ggamma if gamma.requires_grad else None,
                gbeta if beta.requires_grad else None)

    return make(y, (x, gamma, beta), backward)


class _BatchNorm(Module):
    buffers = ("running_mean", "running_var")
    _input_ndims = ()
    _shape_text = ""
    # set by rb.distributed.DataParallel while it trains the model: the element-wise sum
    # over the ranks that synchronises the batch statistics (see batch_norm)
    sum_over_ranks = None

    @classmethod
    def state_shapes(cls, config):
        """``gamma``, ``beta`` and the running statistics, each (num_features,)."""
        n = positive_int(cls.__name__, "num_features", config["num_features"])
        return {name: (n,) for name in ("gamma", "beta", "running_mean", "running_var")}

    def __init__(self, num_features, momentum=0.1, eps=1e-5, dtype=np.float32):
        owner = type(self).__name__
        self.num_features = positive_int(owner, "num_features", num_features)
        self.momentum = unit_interval(owner, "momentum", momentum, closed_high=True)
        self.eps = positive_float(owner, "eps", eps)
        dtype = initializers._float_dtype(owner, dtype)  # the running statistics are floats
        self.gamma = Parameter(np.ones(self.num_features, dtype=dtype))
        self.beta = Parameter(np.zeros(self.num_features, dtype=dtype))
        self.running_mean = np.zeros(self.num_features, dtype=dtype)
        self.running_var = np.ones(self.num_features, dtype=dtype)

    def forward(self, x):
        if not isinstance(x, (Tensor, np.ndarray)):  # array_like, as batch_norm takes (float32)
            x = as_tensor_array(x, where=f"{type(self).__name__}({self.num_features})")
        shape = tuple(x.shape)
        if len(shape) not in self._input_ndims or shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}): expected input of shape "
                f"{self._shape_text.format(self.num_features)}; got {shape}"
            )
        return _batch_norm(x, self.gamma, self.beta, self.running_mean, self.running_var,
                           self.training, self.momentum, self.eps, self.sum_over_ranks,
                           f"{type(self).__name__}({self.num_features})")

    def extra_repr(self):
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of features: input (batch, features) or (batch, features, length).

    Parameters
    ----------
    num_features : int
    momentum : float, default 0.1
        Weight of the new batch in the running statistics (PyTorch's convention).
    eps : float, default 1e-5
    dtype : default float32
        A floating type (an integer one raises TypeError).

    Attributes
    ----------
    gamma, beta : Parameter, shape (num_features,)
        Learned scale (init 1) and shift (init 0).
    running_mean, running_var : ndarray, shape (num_features,)
        Buffers used in ``eval()``.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> bn = rb.nn.BatchNorm1d(3)
    >>> y = bn(rb.tensor(np.random.default_rng(0).normal(5, 2, (64, 3))))
    >>> bool(abs(y.data.mean()) < 1e-6), bool(abs(y.data.std() - 1) < 1e-3)
    (True, True)
    """

    _input_ndims = (2, 3)
    _shape_text = "(batch, {0}) or (batch, {0}, length)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of image channels: input (batch, channels, height, width).

    Statistics are taken per channel over the batch and every position.
    Parameters and attributes as :class:`BatchNorm1d`.
    """

    _input_ndims = (4,)
    _shape_text = "(batch, {0}, height, width)"
