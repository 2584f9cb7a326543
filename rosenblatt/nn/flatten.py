"""Flatten (notes: "Convolutional Neural Networks", "Network architecture").

The bridge from a convolution-pooling stack to the fully-connected layers on
top: every feature map of an example becomes one vector,
(batch, channels, h, w) -> (batch, channels h w). A reshape; its backward
reshapes the gradient back.
"""

from ..autodiff.shape import flatten
from ..autodiff.tensor import Tensor
from ..checks import is_int
from ._operands import as_tensor
from .module import Module, no_state


class Flatten(Module):
    """Merge every axis from ``start_axis`` on: (batch, ...) -> (batch, features).

    Parameters
    ----------
    start_axis : int, default 1
        The first axis merged; 1 keeps the batch axis. Negative counts from the end.

    Raises
    ------
    TypeError
        For a ``start_axis`` that is no integer (a bool, a float, a string), or an input
        that is no real numbers.
    ValueError
        When called on an input without the axis ``start_axis``.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> rb.nn.Flatten()(rb.tensor(np.zeros((8, 16, 5, 5)))).shape
    (8, 400)
    """

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def __init__(self, start_axis=1):
        if not is_int(start_axis):
            raise TypeError(f"Flatten: start_axis must be an integer; got {start_axis!r}")
        self.start_axis = int(start_axis)

    def forward(self, x):
        if not isinstance(x, Tensor):
            x = as_tensor(x, f"Flatten(start_axis={self.start_axis})")
        if not -x.ndim <= self.start_axis < x.ndim:
            need = self.start_axis + 1 if self.start_axis >= 0 else -self.start_axis
            raise ValueError(
                f"Flatten(start_axis={self.start_axis}): the input needs at least {need} "
                f"axes; got shape {tuple(x.shape)}"
            )
        return flatten(x, self.start_axis)

    def extra_repr(self):
        return "" if self.start_axis == 1 else f"start_axis={self.start_axis}"
