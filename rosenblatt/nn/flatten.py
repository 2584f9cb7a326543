"""Flatten (notes: "Convolutional Neural Networks", "Network architecture").

The bridge from a convolution-pooling stack to the fully-connected layers on
top: every feature map of an example becomes one vector,
(batch, channels, h, w) -> (batch, channels h w). A reshape; its backward
reshapes the gradient back.
"""

from ..autodiff.shape import flatten
from ..autodiff.tensor import Tensor
from .module import Module, no_state


class Flatten(Module):
    """Merge every axis from ``start_axis`` on: (batch, ...) -> (batch, features).

    Parameters
    ----------
    start_axis : int, default 1
        The first axis merged; 1 keeps the batch axis.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> rb.nn.Flatten()(rb.tensor(np.zeros((8, 16, 5, 5)))).shape
    (8, 400)
    """

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def __init__(self, start_axis=1):
        self.start_axis = int(start_axis)

    def forward(self, x):
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.ndim <= self.start_axis:
            raise ValueError(
                f"Flatten(start_axis={self.start_axis}): the input needs more than "
                f"{self.start_axis} axes; got shape {tuple(x.shape)}"
            )
        return flatten(x, self.start_axis)

    def extra_repr(self):
        return "" if self.start_axis == 1 else f"start_axis={self.start_axis}"
