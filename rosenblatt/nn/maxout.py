"""Maxout units (notes: "Activation functions": the Maxout neuron).

A maxout unit outputs max(w_1^T x + b_1, ..., w_k^T x + b_k): the maximum of
``pieces`` affine functions of its input. ReLU (max(0, w^T x + b)) and leaky
ReLU are special cases. Here one :func:`~rosenblatt.nn.dense.dense` op computes
every piece of every unit at once, and one ``maxout`` node picks the winners.
"""

import numpy as np

from ..autodiff.tensor import _make as make
from ..checks import positive_int
from . import init as initializers
from ._operands import as_tensor
from .dense import dense
from .module import Module
from .parameter import Parameter


def maxout(z, pieces):
    """Max over groups of ``pieces`` consecutive features of the last axis.

    Parameters
    ----------
    z : Tensor or array_like, shape (..., units * pieces)
    pieces : int

    Returns
    -------
    Tensor, shape (..., units)
        The gradient goes to the winning piece of each unit (the first on ties).

    Raises
    ------
    ValueError
        For a ``pieces`` that is not a positive integer, a 0-d ``z``, or a last axis that
        is not a multiple of ``pieces``.
    """
    pieces = positive_int("maxout", "pieces", pieces)
    z = as_tensor(z, "maxout", "z")
    zd = z.data
    if zd.ndim == 0:
        raise ValueError("maxout: z must have at least one axis (..., units * pieces); got a "
                         "0-d array")
    if zd.shape[-1] % pieces:
        raise ValueError(f"maxout: the last axis ({zd.shape[-1]}) is not a multiple of "
                         f"pieces={pieces}")
    grouped = zd.reshape(zd.shape[:-1] + (zd.shape[-1] // pieces, pieces))
    winner = grouped.argmax(axis=-1)[..., None]
    y = np.take_along_axis(grouped, winner, axis=-1)[..., 0]

    def backward(g):
        gz = np.zeros_like(grouped)
        np.put_along_axis(gz, winner, g[..., None], axis=-1)
        return (gz.reshape(zd.shape),)

    return make(y, (z,), backward)


class Maxout(Module):
    """A layer of maxout units: y_j = max_k (x W_jk + b_jk).

    Parameters
    ----------
    in_features, out_features : int
    pieces : int, default 2
        Affine pieces per unit (the notes' two: max(w_1^T x + b_1, w_2^T x + b_2)).
    init : str or callable, default "glorot_uniform"
        As for ``Dense``: a ``rb.nn.init`` name or callable ``fn(shape, fan_in=, fan_out=,
        rng=)`` (see :func:`rosenblatt.nn.init.get`).
    rng : numpy.random.Generator, optional
    dtype : default float32

    Attributes
    ----------
    W : Parameter, shape (in_features, out_features * pieces)
        Column ``j * pieces + k`` is piece ``k`` of unit ``j``.
    b : Parameter, shape (out_features * pieces,)

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> rb.nn.Maxout(3, 2, pieces=4)(rb.tensor(np.ones((5, 3)))).shape
    (5, 2)
    """

    @classmethod
    def state_shapes(cls, config):
        """``W`` (in_features, out_features * pieces) and ``b`` (out_features * pieces,)."""
        n_in = positive_int("Maxout", "in_features", config["in_features"])
        width = (positive_int("Maxout", "out_features", config["out_features"])
                 * positive_int("Maxout", "pieces", config["pieces"]))
        return {"W": (n_in, width), "b": (width,)}

    def __init__(self, in_features, out_features, pieces=2, init="glorot_uniform", rng=None,
                 dtype=np.float32):
        self.in_features = positive_int("Maxout", "in_features", in_features)
        self.out_features = positive_int("Maxout", "out_features", out_features)
        self.pieces = positive_int("Maxout", "pieces", pieces)
        shape = (self.in_features, self.out_features * self.pieces)
        self.W = Parameter(initializers.get(init, "Maxout")(shape, fan_in=self.in_features,
                                                  fan_out=self.out_features, rng=rng, dtype=dtype))
        self.b = Parameter(np.zeros(shape[1], dtype=dtype))

    def forward(self, x):
        x = as_tensor(x, "Maxout")  # as Dense: array_like, integers as float32
        if not x.shape or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Maxout({self.in_features}, {self.out_features}): expected input of shape "
                f"(batch, {self.in_features}); got {tuple(x.shape)}"
            )
        return maxout(dense(x, self.W, self.b), self.pieces)

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}, pieces={self.pieces}"
