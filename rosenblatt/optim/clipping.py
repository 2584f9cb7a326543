"""Gradient clipping, on the flat gradient vector (notes: "Unstable gradients").

Exploding gradients make "the optimizer make an exaggerated step"; clipping
bounds the step. Both functions act in place on the flat gradient of an
optimizer (or a ParameterVector), so they cost one or two array operations
whatever the depth of the network.
"""

import numpy as np

from ..autodiff.tensor import Tensor
from ..checks import positive_float
from ..nn.parameter import ParameterVector


def _grads(target, owner):
    """The gradient arrays to clip: the flat one of an optimizer/ParameterVector, or each
    parameter's ``grad`` (parameters without a gradient are skipped)."""
    if isinstance(target, ParameterVector):
        return [target.grad]
    vec = getattr(target, "vec", None)
    if isinstance(vec, ParameterVector):
        return [vec.grad]
    items = [target] if isinstance(target, Tensor) else target
    try:
        items = list(items)
    except TypeError:
        items = None
    if items is None or not all(isinstance(p, Tensor) for p in items):
        raise TypeError(f"{owner}: expected an optimizer, a ParameterVector or parameters "
                        f"(model.parameters()); got {type(target).__name__}")
    return [p.grad for p in items if p.grad is not None]


def clip_grad_norm(target, max_norm):
    """Rescale the whole gradient so that its L2 norm is at most ``max_norm``.

    ``g <- g * min(1, max_norm / (||g|| + 1e-6))`` (PyTorch's ``clip_grad_norm_``).

    Parameters
    ----------
    target : Optimizer, ParameterVector or iterable of Parameter
        The flat gradient of an optimizer or vector (one array operation),
        or the ``grad`` of each parameter (``model.parameters()``); the norm
        is global over all of them.
    max_norm : float

    Returns
    -------
    float
        The norm before clipping.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> vec = rb.nn.ParameterVector([rb.nn.Parameter(np.zeros(2))])
    >>> vec.grad[:] = [3.0, 4.0]
    >>> rb.optim.clip_grad_norm(vec, 1.0)
    5.0
    >>> np.round(vec.grad, 4)
    array([0.6, 0.8])
    """
    max_norm = positive_float("clip_grad_norm", "max_norm", max_norm)
    grads = _grads(target, "clip_grad_norm")
    norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads)))
    coef = max_norm / (norm + 1e-6)
    if coef < 1:
        for g in grads:
            g *= coef
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
    for g in _grads(target, "clip_grad_value"):
        np.clip(g, -clip_value, clip_value, out=g)
