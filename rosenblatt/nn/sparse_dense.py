"""A dense layer whose connections can form and break (notes: "Other neural networks", "Nonlinear
neural nets").

"In a nonlinear neural net the connections between neurons become dynamic,
so that new connections may form and old connections may break."
:class:`SparseDense` is a fully-connected layer of which only the
connections in ``mask`` exist; ``rb.callbacks.Rewire`` breaks and forms
them during training (sparse evolutionary training, RigL).

Cost: with few live connections (``density`` below ``sparse_below``) the
forward and backward are sparse products over the live connections only
(compiled kernels with ``rosenblatt[fast]``: a multiply-add over the batch per
live connection, and dE/dW for the live connections alone; else scipy.sparse
CSR products and the masked dense dE/dW); otherwise a dense product with the
masked weight. Either way the gradient of a missing connection is zero.
"""

import numpy as np

from ..autodiff import _kernels
from ..autodiff.tensor import _make as make, needs_grad, sum_to_shape
from ..checks import boolean, positive_int, unit_interval
from ..randomness import resolve_rng
from . import init as initializers
from ._operands import as_tensor, check_shape, optional_tensor
from .module import Module
from .parameter import Parameter


def sparse_dense(x, weight, bias, mask, structure=None, dense_grad=None):
    """``x @ (W * mask) + b`` as one op; with ``structure`` a sparse product.

    Parameters
    ----------
    x : Tensor or array_like (batch, in_features)
        Integers become float32, as for ``Dense``.
    weight : Tensor or array_like (in_features, out_features)
    bias : Tensor or array_like (out_features,), or None
    mask : array_like of bool (in_features, out_features)
        Integers or floats of 0 and 1 are taken as bools.
    structure : (flat, csr), optional
        The flat indices of the live connections (row-major) and a CSR matrix
        with that pattern (:meth:`SparseDense.structure`); each call takes the
        values from ``weight`` into a CSR matrix of its own (the cached one is
        only read). Given, the forward product and dE/dX (and with the
        compiled kernels dE/dW) cost O(batch x live connections) instead of
        O(batch x in x out).
    dense_grad : list, optional
        Given, the backward also collects ``x^T g``, the gradient of every
        connection, live or not (RigL grows connections where it is largest):
        one entry per backward pass, summed over the uses of the layer in it
        (a layer applied twice, or the clean and adversarial halves of an
        adversarial objective: the backward of a use adds into the entry that
        a later use appended since this forward). Only a weight that requires
        grad collects: an attack's input-gradient pass, with the weights
        frozen, adds nothing.

    Returns
    -------
    Tensor (batch, out_features)

    Raises
    ------
    ValueError
        For operands whose shapes do not fit together (the message names both shapes),
        or a mask with values other than 0 and 1.
    TypeError
        For operands that are not real numbers.

    Notes
    -----
    dE/dW is ``(x^T g) * mask``. With ``structure`` and the compiled kernels
    (``rosenblatt[fast]``) only the live entries of ``x^T g`` are computed (a
    sampled dense-dense product, ``sampled_product``: one dot product over the
    batch per live connection); otherwise, and when ``dense_grad`` asks for every
    entry, the whole BLAS product is masked: NumPy and SciPy have no sampled
    product, and gathering ``x`` and ``g`` column by column costs more than the
    BLAS product at these sizes (measured: 15 ms against 3 ms for 784 x 512 at
    5%, batch 128).
    """
    x = as_tensor(x, "sparse_dense", "x")
    xd = x.data
    weight = as_tensor(weight, "sparse_dense", "weight", like=xd)
    bias = optional_tensor(bias, "sparse_dense", "bias", like=xd)
    W = weight.data
    if W.ndim != 2:
        raise ValueError(f"sparse_dense: weight must be (in_features, out_features); got shape "
                         f"{W.shape}")
    if xd.ndim != 2 or xd.shape[1] != W.shape[0]:
        raise ValueError(f"sparse_dense: expected input of shape (batch, {W.shape[0]}); got "
                         f"{xd.shape} (weight shape {W.shape})")
    check_shape(bias, (W.shape[1],), "sparse_dense", "bias", "(out_features,)")
    mask = _mask(mask)
    check_shape(mask, W.shape, "sparse_dense", "mask", "the weight's (in_features, out_features)")
    return _sparse_dense(x, weight, bias, mask, structure, dense_grad)


def _mask(mask):
    """``mask`` as a bool ndarray (itself if it is one); 0/1 numbers are taken as bools."""
    mask = np.asarray(mask)
    if mask.dtype != bool:
        if mask.dtype.kind not in "iuf" or not np.isin(mask, (0, 1)).all():
            raise ValueError(f"sparse_dense: mask must hold bools (or 0 and 1); got an array "
                             f"of dtype {mask.dtype}" + (" with other values"
                                                         if mask.dtype.kind in "iuf" else ""))
        mask = mask.astype(bool)
    return mask


def _sparse_dense(x, weight, bias, mask, structure, dense_grad):
    """:func:`sparse_dense` on operands already converted and checked (the layer's own, at
    every step: a Tensor input of the right shape, its parameters and its bool mask)."""
    xd = x.data
    W = weight.data
    # the output's dtype is the dense product's (as Dense: float64 input, float64 output); the
    # compiled kernels take one dtype throughout, float32 or float64
    dtype = np.result_type(xd, W)
    fast = _kernels.kernels() if structure is not None and xd.dtype == W.dtype \
        and W.dtype in (np.float32, np.float64) else None
    if structure is None:
        Wm = W * mask
        y = xd @ Wm
    else:
        flat, pattern = structure
        # this call's values, in a CSR of their own over the shared (never written) index
        # arrays: the backward reads the weights of this forward, whatever other forwards
        # run meanwhile (a clone shares the cached structure with its original)
        vals = W.reshape(-1).take(flat)
        csr = pattern  # the compiled kernels read the index arrays and ``vals`` alone
        if fast is None:  # SciPy's product needs a matrix object: one of this call's own
            csr = pattern.__class__((vals, pattern.indices, pattern.indptr),
                                    shape=pattern.shape, copy=False)
        if fast is not None:  # compiled: each live connection a multiply-add over the batch
            xT = np.ascontiguousarray(xd.T, dtype=W.dtype)
            yT = np.empty((W.shape[1], xd.shape[0]), W.dtype)
            fast.sparse_rows_forward(xT, csr.indptr, csr.indices, vals, yT)
            y = np.ascontiguousarray(yT.T)
        else:  # (out, in) CSC times (in, batch): a product over the live entries only
            y = np.ascontiguousarray((csr.T @ xd.T).T, dtype=dtype)
    if bias is not None:
        y += bias.data
    collected = None if dense_grad is None else len(dense_grad)

    def backward(g):
        gx = gw = gb = None
        gT = np.ascontiguousarray(g.T, dtype=W.dtype) if fast is not None else None
        if needs_grad(x):
            if structure is None:
                gx = g @ Wm.T
            elif fast is not None:
                gxT = np.empty((W.shape[0], g.shape[0]), W.dtype)
                fast.sparse_rows_backward(gT, csr.indptr, csr.indices, vals, gxT)
                gx = np.ascontiguousarray(gxT.T)
            else:
                gx = np.ascontiguousarray((csr @ g.T).T, dtype=np.result_type(g, W))
        if weight.requires_grad:
            slot = weight._grad_slot()
            # C order whatever W's: ``flat`` indexes the weight row-major
            out = np.empty(W.shape, W.dtype) if slot is None else slot
            if fast is not None and dense_grad is None:  # the live entries of x^T g only
                live_grad = np.empty(len(flat), W.dtype)
                fast.sampled_product(xT, gT, flat, W.shape[1], live_grad)
                out.fill(0)
                np.put(out, flat, live_grad)  # row-major, and in place for any layout
            else:
                np.matmul(xd.T, g, out=out)
                if dense_grad is not None:  # Rewire (RigL) asked for every connection's gradient
                    if len(dense_grad) > collected:  # another use of this pass appended it
                        dense_grad[-1] += out
                    else:
                        dense_grad.append(out.copy())
                out *= mask
            gw = None if slot is not None else out
        if bias is not None and bias.requires_grad:
            gb = sum_to_shape(g, bias.shape)  # (float16 summed in float32)
        return gx, gw, gb

    return make(y, (x, weight, bias), backward)


class SparseDense(Module):
    """A fully-connected layer with only some connections: ``y = x @ (W * mask) + b``.

    Parameters
    ----------
    in_features, out_features : int
    density : float in (0, 1], default 0.1
        The fraction of the ``in_features x out_features`` connections that
        exist, drawn uniformly at random (Erdos-Renyi).
    bias : bool, default True
    init : str or callable, default "glorot_uniform"
        As for ``Dense``, with the fan-in and fan-out of the live connections
        (``density x in_features``, ``density x out_features``), so that a
        sparse layer starts with the signal scale of a dense one. Kept as
        ``init``: ``Rewire("set")`` draws the weights of new connections with
        it; a name is saved with the model, a callable is not.
    sparse_below : float, default 0.15
        Below this density the products are sparse (CSR), above it dense and masked.
    rng : numpy.random.Generator or int, optional
    dtype : default float32

    Attributes
    ----------
    W : Parameter (in_features, out_features)
        Zero where there is no connection.
    b : Parameter (out_features,) or None
    mask : ndarray of bool (in_features, out_features)
        A buffer: saved with the model, changed by ``rb.callbacks.Rewire``.
    live_connections : int

    Raises
    ------
    ValueError
        If ``density`` is outside (0, 1].

    References
    ----------
    Mocanu et al., "Scalable training of artificial neural networks with adaptive sparse
    connectivity inspired by network science", Nature Communications 2018.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> layer = rb.nn.SparseDense(100, 50, density=0.1, rng=0)
    >>> layer.live_connections
    500
    >>> layer(rb.tensor(np.ones((2, 100)))).shape
    (2, 50)
    """

    buffers = ("mask",)

    @classmethod
    def state_shapes(cls, config):
        """``W`` and the ``mask`` buffer (in_features, out_features); ``b`` if ``bias``."""
        shape = tuple(positive_int("SparseDense", k, config[k])
                      for k in ("in_features", "out_features"))
        return {"W": shape, **({"b": shape[1:]} if config["bias"] else {}), "mask": shape}

    def __init__(self, in_features, out_features, density=0.1, bias=True,
                 init="glorot_uniform", sparse_below=0.15, rng=None, dtype=np.float32):
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"SparseDense: {name} must be a positive integer; got {value!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.density = unit_interval("SparseDense", "density", density, closed_low=False,
                                     closed_high=True)
        self.sparse_below = unit_interval("SparseDense", "sparse_below", sparse_below,
                                          closed_high=True)
        self.bias = boolean("SparseDense", "bias", bias)
        self.init = init
        rng = resolve_rng(rng)
        shape = (self.in_features, self.out_features)
        total = self.in_features * self.out_features
        live = max(1, int(round(self.density * total)))
        mask = np.zeros(total, dtype=bool)
        mask[rng.choice(total, size=live, replace=False)] = True
        self.mask = mask.reshape(shape)
        fan_in = max(1, int(round(self.density * self.in_features)))
        fan_out = max(1, int(round(self.density * self.out_features)))
        W = initializers.get(init, "SparseDense")(shape, fan_in=fan_in, fan_out=fan_out,
                                                  rng=rng, dtype=dtype)
        W *= self.mask
        self.W = Parameter(W)
        self.b = Parameter(np.zeros(self.out_features, dtype=dtype)) if bias else None
        self._structure = None
        self.dense_grad = None  # a list while rb.callbacks.Rewire (RigL) collects x^T g

    def config(self):
        """The constructor arguments a saved model is rebuilt from. ``init`` is among them when
        it is a name: unlike Dense's, it is used after construction (``Rewire("set")`` draws
        the weights of the connections it forms with it). A callable ``init`` is not saved:
        a loaded layer has the default, so set ``layer.init`` again before rewiring it."""
        config = {"in_features": self.in_features, "out_features": self.out_features,
                  "density": self.density, "bias": self.bias, "sparse_below": self.sparse_below}
        if isinstance(self.init, str):
            config["init"] = self.init
        return config

    @property
    def live_connections(self):
        """The number of connections that exist now."""
        return int(np.count_nonzero(self.mask))

    def structure(self, live=None):
        """(flat indices, CSR matrix) of the live connections, rebuilt only when the mask changed.

        The cache is checked in O(live connections): the mask is unchanged if
        it has as many connections as the cached structure and all of them.
        """
        live = self.live_connections if live is None else live
        cached = self._structure
        if (cached is None or len(cached[0]) != live or cached[1].dtype != self.W.dtype
                or not self.mask.reshape(-1)[cached[0]].all()):
            flat = np.flatnonzero(self.mask)
            rows, cols = np.divmod(flat, self.out_features)
            indptr = np.zeros(self.in_features + 1, dtype=np.int64)
            np.cumsum(np.bincount(rows, minlength=self.in_features), out=indptr[1:])
            values = np.zeros(len(flat), dtype=self.W.dtype)
            import scipy.sparse  # on first use: importing rosenblatt stays free of SciPy

            csr = scipy.sparse.csr_matrix((values, cols, indptr), shape=self.mask.shape)
            self._structure = cached = (flat, csr)
        return cached

    def forward(self, x):
        x = as_tensor(x, "SparseDense")  # as Dense: array_like, integers as float32
        shape = x.shape
        if len(shape) != 2 or shape[-1] != self.in_features:
            raise ValueError(
                f"SparseDense({self.in_features}, {self.out_features}): expected input of shape "
                f"(batch, {self.in_features}); got {tuple(shape)}")
        if self.mask.dtype != bool or not self.mask.flags.c_contiguous:  # loaded or user-set
            # Rewire edits the mask through a flat view: it must be C-ordered bool
            self.mask = np.ascontiguousarray(self.mask, dtype=bool)
        live = self.live_connections
        structure = self.structure(live) if live < self.sparse_below * self.mask.size else None
        return _sparse_dense(x, self.W, self.b, self.mask, structure, self.dense_grad)

    def extra_repr(self):
        bias = "" if self.b is not None else ", bias=False"
        return (f"{self.in_features}, {self.out_features}, live={self.live_connections:,}/"
                f"{self.mask.size:,}{bias}")
