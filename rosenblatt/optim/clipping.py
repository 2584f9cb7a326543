"""Gradient clipping, on the flat gradient vector (notes: "Unstable gradients").

Exploding gradients make "the optimizer make an exaggerated step"; clipping
bounds the step. Both functions act in place on the flat gradient of an
optimizer (or a ParameterVector), so they cost one or two array operations
whatever the depth of the network.
"""

import math

import numpy as np

from ..autodiff.tensor import Tensor
from ..checks import positive_float
from ..nn.parameter import ParameterVector
from .optimizer import unreached


def _grads(target, owner):
    """``(arrays, unreached)``: the gradient arrays to clip (the flat one of an
    optimizer/ParameterVector, or each parameter's ``grad``, parameters without a gradient
    skipped) and the parameters whose ``grad`` is None, to be set back to None after the
    clip (reading the flat gradient fills their slots with zeros; the step must still see
    that no gradient reached them and skip them, as PyTorch's clipping and step do)."""
    if not isinstance(target, ParameterVector):
        vec = getattr(target, "vec", None)
        target = vec if isinstance(vec, ParameterVector) else target
    if isinstance(target, ParameterVector):
        none = unreached(target)  # before reading the gradient, which fills their slots
        return [target.grad], none
    items = [target] if isinstance(target, Tensor) else target
    try:
        items = list(items)
    except TypeError:
        items = None
    if items is None or not all(isinstance(p, Tensor) for p in items):
        raise TypeError(f"{owner}: expected an optimizer, a ParameterVector or parameters "
                        f"(model.parameters()); got {type(target).__name__}")
    return [p.grad for p in items if p.grad is not None], ()


def _is_inf(value):
    return isinstance(value, (float, np.floating)) and value == math.inf


def _norm_type(value):
    """``norm_type`` checked: a float p > 0, or inf (also the string "inf", as PyTorch)."""
    if isinstance(value, str) and value.lower() == "inf":
        return math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
            or not float(value) > 0:
        raise ValueError(f"clip_grad_norm: norm_type must be a number p > 0 or inf (2 is the "
                         f"Euclidean norm); got {value!r}")
    return float(value)


def _power_sum(g, p):
    """``sum |g|^p`` (``max |g|`` for p = inf) as a Python float, accumulated in at least
    float32: in float16 the squares of a norm above 256 would overflow (another p than 1,
    2 or inf: in float64)."""
    if g.dtype.itemsize < 4:
        g = g.astype(np.float32)
    if g.size == 0:
        return 0.0
    if p == math.inf:
        return float(np.max(np.abs(g)))
    if p == 2:
        return float(np.vdot(g, g))
    if p == 1:
        return float(np.sum(np.abs(g)))
    return float(np.sum(np.abs(g.astype(np.float64)) ** p))  # a rare p: room for |g|^p


def clip_grad_norm(target, max_norm, norm_type=2.0):
    """Rescale the whole gradient so that its norm is at most ``max_norm``.

    ``g <- g * min(1, max_norm / (||g||_p + 1e-6))`` (PyTorch's ``clip_grad_norm_``).

    Parameters
    ----------
    target : Optimizer, ParameterVector or iterable of Parameter
        The flat gradient of an optimizer or vector (one array operation),
        or the ``grad`` of each parameter (``model.parameters()``); the norm
        is global over all of them.
    max_norm : float
        Positive; ``inf`` clips nothing and only measures the norm (as PyTorch).
    norm_type : float or inf, default 2
        The p of the norm: 2 (Euclidean), 1, ``inf`` (the largest absolute
        component; the string "inf" too) or any p > 0, ``(sum |g|^p)^(1/p)``.

    Returns
    -------
    float
        The norm before clipping (summed in float32 at least, so a float16
        gradient's norm does not overflow while float16 can hold it).

    Raises
    ------
    ValueError
        If ``max_norm`` is not a positive number (or inf), or ``norm_type`` not p > 0 or inf.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> vec = rb.nn.ParameterVector([rb.nn.Parameter(np.zeros(2))])
    >>> vec.grad[:] = [3.0, 4.0]
    >>> rb.optim.clip_grad_norm(vec, 1.0)
    5.0
    >>> np.round(vec.grad, 4)
    array([0.6, 0.8])
    >>> vec.grad[:] = [3.0, 4.0]
    >>> rb.optim.clip_grad_norm(vec, 2.0, norm_type="inf")
    4.0
    >>> np.round(vec.grad, 4)
    array([1.5, 2. ])
    """
    if not _is_inf(max_norm):  # inf: measure only (PyTorch accepts it)
        max_norm = positive_float("clip_grad_norm", "max_norm", max_norm)
    p = _norm_type(norm_type)
    grads, none = _grads(target, "clip_grad_norm")
    sums = [_power_sum(g, p) for g in grads]
    if p == math.inf:
        norm = max(sums, default=0.0)
    else:
        total = sum(sums)
        norm = float(np.sqrt(total)) if p == 2 else float(total ** (1.0 / p))
    coef = max_norm / (norm + 1e-6)
    if coef < 1:
        for g in grads:
            g *= coef
    for q in none:
        q.grad = None
    return norm


def clip_grad_value(target, clip_value):
    """Clip every gradient component to ``[-clip_value, clip_value]``, in place.

    ``target`` is an optimizer, a ParameterVector or parameters, as for
    :func:`clip_grad_norm`.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> vec = rb.nn.ParameterVector([rb.nn.Parameter(np.zeros(3))])
    >>> vec.grad[:] = [-5.0, 0.5, 2.0]
    >>> rb.optim.clip_grad_value(vec, 1.0); vec.grad
    array([-1. ,  0.5,  1. ])
    """
    clip_value = positive_float("clip_grad_value", "clip_value", clip_value)
    grads, none = _grads(target, "clip_grad_value")
    for g in grads:
        np.clip(g, -clip_value, clip_value, out=g)
    for q in none:
        q.grad = None
