"""Dense (fully-connected, affine) layers (notes: "Feed-forward neural networks").

NET = X W + b as one graph node: the forward is one matrix product and an
in-place bias add; the backward is the notes' three rules,
dE/dX = dE/dNET W^T, dE/dW = X^T dE/dNET, dE/db = sum over the batch of dE/dNET.
"""

import numpy as np

from ..autodiff.tensor import Tensor, _make as make, as_tensor_array, sum_to_shape
from ..checks import boolean, finite_float, positive_int
from . import init as initializers
from ._operands import as_tensor, optional_tensor
from .module import Module
from .parameter import Parameter


def dense(x, weight, bias=None):
    """X @ W + b in one op.

    Parameters
    ----------
    x : Tensor or array_like, shape (..., in_features)
    weight : Tensor or array_like, shape (in_features, out_features)
    bias : Tensor or array_like, shape (out_features,), optional

    Returns
    -------
    Tensor, shape (..., out_features)

    Raises
    ------
    ValueError
        For shapes that do not fit together (the message names both).
    """
    xd = _input_array(x, "dense")
    weight = as_tensor(weight, "dense", "weight", like=xd)
    bias = optional_tensor(bias, "dense", "bias", like=xd)
    wd = weight.data
    if wd.ndim != 2:
        raise ValueError(f"dense: weight must be (in_features, out_features); got shape "
                         f"{wd.shape}")
    if bias is not None and bias.shape != (wd.shape[1],):
        raise ValueError(f"dense: bias must have shape (out_features,) = ({wd.shape[1]},); got "
                         f"{bias.shape} (weight shape {wd.shape})")
    if xd.ndim == 0:
        raise ValueError(f"dense: input must be (..., {wd.shape[0]}); got a 0-d array")
    if xd.shape[-1] != wd.shape[0]:
        raise ValueError(
            f"dense: input has {xd.shape[-1]} features (shape {xd.shape}) but the weight "
            f"expects {wd.shape[0]} (shape {wd.shape})"
        )
    return _dense(x, xd, weight, wd, bias)


def _input_array(x, name):
    """The array of a Dense input: a Tensor's data, or ``x`` as ``rb.tensor`` converts it
    (integers and Python floats become float32, so a float32 layer stays float32). A tuple is the
    usual slip of a recurrent layer's (outputs, state) handed on without SequenceOutputs."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, tuple):
        raise TypeError(
            f"{name}: got a tuple, not an array: a recurrent layer (RNN, LSTM, GRU) returns "
            f"(outputs, state); put rb.nn.SequenceOutputs() after it (last=True for the last "
            f"step's output only, one per sequence)"
        )
    return as_tensor_array(x, where=name)


def _dense(x, xd, weight, wd, bias):
    """:func:`dense` once the shapes are known to agree (``xd``, ``wd``: the arrays)."""
    n_in, n_out = wd.shape
    flat = xd.ndim != 2
    x2 = xd.reshape(-1, n_in) if flat else xd
    y = np.dot(x2, wd)  # np.dot: the same BLAS product as @, ~0.3 us less per call
    if bias is not None:
        y += bias.data

    def backward(g):
        g2 = g.reshape(-1, n_out) if g.ndim != 2 else g
        gx = gw = gb = None
        if x_grad:
            gx = np.dot(g2, wd.T)
            if flat:
                gx = gx.reshape(xd.shape)
        if weight.requires_grad:
            slot = weight._grad_slot()  # the first gradient since zero_grad: write it in place
            if slot is None:
                gw = np.dot(x2.T, g2)
            elif x2.dtype is g2.dtype is slot.dtype:  # np.dot's out= takes no casts
                np.dot(x2.T, g2, out=slot)
            else:
                np.matmul(x2.T, g2, out=slot)
        if bias is not None and bias.requires_grad:
            if g2.dtype.itemsize < 4:  # float16 sums in float32: past 2,048 rows a float16
                gb = sum_to_shape(g2, bias.data.shape)  # running sum stops growing
            else:
                slot = bias._grad_slot()  # the same for the bias: its sum goes straight in
                if slot is None:
                    gb = np.add.reduce(g2, 0)
                else:
                    np.add.reduce(g2, 0, out=slot)
        return gx, gw, gb

    x_grad = isinstance(x, Tensor) and x.requires_grad
    return make(y.reshape(xd.shape[:-1] + (n_out,)) if flat else y, (x, weight, bias), backward)


class Dense(Module):
    """A fully-connected layer: ``y = x @ W + b``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool, default True
    init : str or callable, default "glorot_uniform"
        One of ``rb.nn.init``'s names (zeros, constant, normal, fan_in, he,
        glorot_uniform, sparse) or a callable ``fn(shape, fan_in=, fan_out=, rng=)``
        returning an ndarray of ``shape`` (cast to ``dtype``; ``fn`` gets ``dtype=`` too if
        it takes it: see :func:`rosenblatt.nn.init.get`).
    bias_init : float, default 0.0
        The initial bias (the notes suggest 0.01 for ReLU layers), a finite number.
    rng : numpy.random.Generator, optional
    dtype : default float32

    Attributes
    ----------
    W : Parameter, shape (in_features, out_features)
    b : Parameter, shape (out_features,) or None

    Raises
    ------
    ValueError
        When called on an input whose last axis is not ``in_features``.
    TypeError
        When called on a tuple (a recurrent layer's (outputs, state): put
        :class:`~rosenblatt.nn.SequenceOutputs` between them) or on non-numeric data.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> layer = rb.nn.Dense(3, 2)
    >>> layer(rb.tensor(np.ones((4, 3)))).shape
    (4, 2)
    """

    @classmethod
    def state_shapes(cls, config):
        """``W`` (in_features, out_features) and ``b`` (out_features,) if ``bias``."""
        n_in = positive_int("Dense", "in_features", config["in_features"])
        n_out = positive_int("Dense", "out_features", config["out_features"])
        return {"W": (n_in, n_out), **({"b": (n_out,)} if config["bias"] else {})}

    def __init__(self, in_features, out_features, bias=True, init="glorot_uniform",
                 bias_init=0.0, rng=None, dtype=np.float32):
        self.in_features = positive_int("Dense", "in_features", in_features)
        self.out_features = positive_int("Dense", "out_features", out_features)
        self.init = init
        fn = initializers.get(init, "Dense")
        shape = (self.in_features, self.out_features)
        self.W = Parameter(fn(shape, fan_in=self.in_features, fan_out=self.out_features,
                              rng=rng, dtype=dtype))
        bias = boolean("Dense", "bias", bias)
        bias_init = finite_float("Dense", "bias_init", bias_init)
        self.b = Parameter(np.full(self.out_features, bias_init, dtype=dtype)) if bias else None

    def forward(self, x):
        xd = x.data if isinstance(x, Tensor) else _input_array(
            x, f"Dense({self.in_features}, {self.out_features})")
        shape = xd.shape
        wd = self.W.data
        if not shape or shape[-1] != wd.shape[0]:
            raise ValueError(
                f"Dense({self.in_features}, {self.out_features}): expected input of shape "
                f"(batch, {self.in_features}); got {tuple(shape)}"
            )
        return _dense(x, xd, self.W, wd, self.b)

    def config(self):
        """The constructor arguments a saved model is rebuilt from (``init`` is not saved: the
        stored weights replace the initial ones)."""
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.b is not None}

    def extra_repr(self):
        bias = "" if self.b is not None else ", bias=False"
        return f"{self.in_features}, {self.out_features}{bias}"
