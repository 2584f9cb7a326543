"""The operands of the functional ops: what ``rb.nn.functional`` accepts in place of a Tensor.

Every op of the namespace takes a Tensor, an ndarray or a nested list for each of its
array arguments, and converts them all the same way: a Tensor passes through untouched
(one ``isinstance`` check, nothing measurable on the fast paths), anything else becomes a
constant Tensor through :func:`~rosenblatt.autodiff.tensor.as_tensor_array`, the conversion
of ``rb.tensor`` (float arrays keep their dtype; Python floats, integers and booleans become
float32, the library default; strings and objects are refused with the op's name).

Why one helper: an ndarray's own ``.data`` is a memoryview, so an op that read ``x.data``
from an ndarray failed far from the call with an ``AttributeError`` about memoryviews.

A list, a tuple or a scalar has no dtype of its own: given ``like`` (the op's float input),
it takes that input's dtype, so ``dense(x_float32, W.tolist())`` stays float32 as a Python
float constant does in the tensor ops; an ndarray keeps its own dtype.

:func:`check_shape` is the shape check of an operand, with the message every op gives.
"""

import numpy as np

from ..autodiff.tensor import Tensor, as_tensor_array


def as_array(x, where, like=None):
    """The array of operand ``x``: a Tensor's data, else ``x`` as a float array, in ``like``'s
    float dtype when ``x`` has no dtype of its own (a list, a tuple, a scalar).

    Parameters
    ----------
    x : Tensor or array_like
    where : str
        For error messages ("conv2d", "dense: weight").
    like : Tensor or ndarray, optional
        The op's float input.
    """
    if isinstance(x, Tensor):
        return x.data
    dtype = None
    if like is not None and not isinstance(x, np.ndarray):
        dtype = like.dtype
        if dtype.kind != "f":
            dtype = None
    return as_tensor_array(x, dtype, where=where)


def as_tensor(x, where, name=None, like=None):
    """``x`` itself if it is a Tensor, else a constant Tensor of ``x`` as a float array.

    Parameters
    ----------
    x : Tensor or array_like
    where : str
        The op or layer, for error messages ("relu", "RBF.init_centers").
    name : str, optional
        The argument, for error messages ("W_h").
    like : Tensor or ndarray, optional
        The op's float input: a list, tuple or scalar ``x`` takes its dtype (an ndarray
        keeps its own; without ``like``, lists of Python floats become float32, as in
        ``rb.tensor``).

    Raises
    ------
    TypeError
        For data that are no real numbers (strings, objects, complex).
    """
    if isinstance(x, Tensor):
        return x
    return Tensor(as_array(x, where if name is None else f"{where}: {name}", like))


def optional_tensor(x, where, name, like=None):
    """As :func:`as_tensor`, with None passed through (an optional bias or weight)."""
    if x is None or isinstance(x, Tensor):
        return x
    return Tensor(as_array(x, f"{where}: {name}", like))


def check_shape(x, shape, where, name, meaning=None):
    """Raise unless operand ``x`` (a Tensor, an ndarray or None: nothing to check) has
    ``shape``; the message names the op, the argument and both shapes.

    Parameters
    ----------
    x : Tensor, ndarray or None
    shape : tuple of int
    where, name : str
        The op ("lstm") and the argument ("peephole").
    meaning : str, optional
        The expected shape in the op's own terms ("(G*H,)"), shown beside the numbers.

    Raises
    ------
    ValueError
    """
    if x is not None and x.shape != shape:
        said = "" if meaning is None else f" = {meaning}"
        raise ValueError(f"{where}: {name} must have shape {shape}{said}; got {tuple(x.shape)}")
