"""The operands of the functional ops: what ``rb.nn.functional`` accepts in place of a Tensor.

Every op of the namespace takes a Tensor, an ndarray or a nested list for each of its
array arguments, and converts them all the same way: a Tensor passes through untouched
(one ``isinstance`` check, nothing measurable on the fast paths), anything else becomes a
constant Tensor through :func:`~rosenblatt.autodiff.tensor.as_float_array`, the conversion
``Dense``, ``conv2d`` and the pooling functions use (float arrays keep their dtype, integers
and booleans become float32, strings and objects are refused with the op's name).

Why one helper: an ndarray's own ``.data`` is a memoryview, so an op that read ``x.data``
from an ndarray failed far from the call with an ``AttributeError`` about memoryviews.
"""

from ..autodiff.tensor import Tensor, as_float_array


def as_tensor(x, where, name=None):
    """``x`` itself if it is a Tensor, else a constant Tensor of ``x`` as a float array.

    Parameters
    ----------
    x : Tensor or array_like
    where : str
        The op or layer, for error messages ("relu", "RBF.init_centers").
    name : str, optional
        The argument, for error messages ("W_h").

    Raises
    ------
    TypeError
        For data that are no real numbers (strings, objects, complex).
    """
    if isinstance(x, Tensor):
        return x
    return Tensor(as_float_array(x, where=where if name is None else f"{where}: {name}"))


def optional_tensor(x, where, name):
    """As :func:`as_tensor`, with None passed through (an optional bias or weight)."""
    if x is None or isinstance(x, Tensor):
        return x
    return Tensor(as_float_array(x, where=f"{where}: {name}"))
