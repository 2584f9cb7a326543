"""Gradient checking (notes: "Gradient Checking").

The analytic gradient from backpropagation is compared with the centered
difference (f(theta + eps) - f(theta - eps)) / (2 eps) for every input
element, in float64. For a non-scalar output, the difference of the outputs
is projected on a fixed random direction v (differenced first, then projected:
projecting first would lose the change of a small output in the rounding of a
large one's), so the check covers the whole vector-Jacobian product v^T J. For
large inputs, ``directions=k`` perturbs each input along k random directions u
instead of every element, and compares v . (f(theta + eps u) - f(theta - eps u))
/ (2 eps) with grad . u (the random-projection check of HIPS/autograd).
"""

import numpy as np

from ..checks import positive_float, positive_int
from .tensor import Tensor, no_grad


class GradcheckError(AssertionError):
    """Raised when an analytic gradient disagrees with the numerical one."""


def _values(out):
    """A copy of the output's values (a reshape or slice is a view of the input, which is
    perturbed again next)."""
    return np.array(out.data if isinstance(out, Tensor) else out, dtype=np.float64)


def _centered(fn, inputs, v, xd, index, step, eps):
    """v . (f(x + eps step) - f(x - eps step)) / (2 eps), perturbing ``xd[index]`` in place.

    The outputs are differenced before they are projected on ``v``: an output that does not
    depend on the element cancels exactly, so a small output's change is not lost in the
    rounding of a large one's (e^1 beside e^30).
    """
    saved = xd[index].copy()  # (xd[...] is a view)
    try:
        xd[index] = saved + eps * step
        plus = _values(fn(*inputs))
        xd[index] = saved - eps * step
        minus = _values(fn(*inputs))
    finally:  # an error in fn (or a KeyboardInterrupt) leaves the input as it was
        xd[index] = saved
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: a NaN, which fails
        return float(np.sum((plus - minus) * v)) / (2 * eps)


def _check_elements(fn, inputs, i, v, analytic, eps, atol, rtol):
    x = inputs[i]
    numeric = np.empty(x.shape)
    xd = x.data  # perturbed in place, element by element (any memory layout)
    for index in np.ndindex(x.shape):
        numeric[index] = _centered(fn, inputs, v, xd, index, 1.0, eps)
    with np.errstate(invalid="ignore"):  # inf - inf: a NaN error, which fails below
        err = np.abs(analytic - numeric)
    # "not <=" rather than ">": a NaN (in either gradient) fails, as in torch's gradcheck
    bad = ~(err <= atol + rtol * np.abs(numeric))
    if bad.any():
        nan = np.isnan(err)
        if nan.any():
            k = int(np.argmax(nan.reshape(-1)))
            summary = f"NaN in the {_nan_side(analytic.reshape(-1)[k], numeric.reshape(-1)[k])}"
        else:
            k = int(np.argmax(np.where(bad, err, -1)))
            summary = f"worst absolute error {err.max():.3g}, {_relative(err, numeric, bad, atol)}"
        index = np.unravel_index(k, x.shape) if x.ndim else ()
        raise GradcheckError(
            f"gradcheck: input {i}, index {tuple(int(j) for j in index)}: analytic "
            f"{analytic.reshape(-1)[k]:.6g} vs numeric {numeric.reshape(-1)[k]:.6g}; "
            f"{summary} ({int(bad.sum())} of {x.size} elements fail)"
        )


def _relative(err, numeric, bad, atol):
    """The worst relative error of the failing elements, in words, taken only where the
    numeric gradient is not 0 (|numeric| > atol): err / 0 says nothing (it printed 1e+299)."""
    meaningful = bad & (np.abs(numeric) > atol)
    if not meaningful.any():
        return "no relative error: the numeric gradient is 0 (within atol) where they differ"
    return f"worst relative error {(err[meaningful] / np.abs(numeric[meaningful])).max():.3g}"


def _nan_side(analytic, numeric):
    """Which gradient holds a NaN, in words (for the error message)."""
    if np.isnan(analytic) and np.isnan(numeric):
        return "analytic and the numeric gradient"
    if np.isnan(numeric):
        return "numeric gradient (fn is NaN near this point)"
    return "analytic gradient" if np.isnan(analytic) else "error (inf - inf)"


def _check_directions(fn, inputs, i, v, analytic, eps, atol, rtol, directions, rng):
    x = inputs[i]
    for k in range(directions):
        u = rng.standard_normal(x.shape)
        u /= np.linalg.norm(u)
        numeric = _centered(fn, inputs, v, x.data, Ellipsis, u, eps)
        expected = float(np.sum(analytic * u))
        with np.errstate(invalid="ignore"):
            err = abs(expected - numeric)
        if not err <= atol + rtol * abs(numeric):  # (a NaN fails too)
            detail = (f"NaN in the {_nan_side(expected, numeric)}" if np.isnan(err) else
                      f"absolute error {err:.3g}, " + _relative(
                          np.array(err), np.array(numeric), np.array(True), atol))
            raise GradcheckError(
                f"gradcheck: input {i}, random direction {k} of {directions}: analytic "
                f"grad . u = {expected:.6g} vs numeric {numeric:.6g}; {detail} (check every "
                f"element with directions=None to find the index)"
            )


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-6, rtol=1e-4, seed=0, directions=None):
    """Check the gradients of ``fn`` at ``inputs`` by centered differences.

    Parameters
    ----------
    fn : callable
        ``fn(*inputs) -> Tensor``.
    *inputs : Tensor
        float64 tensors; those with ``requires_grad=True`` are checked. One computed by
        an op (not a leaf), or whose array is read-only, is checked as a leaf holding a
        copy of its values, as ``torch.autograd.gradcheck`` does: its own graph and
        array are left alone. The others are perturbed in place and put back, also when
        ``fn`` raises.
    eps : float, default 1e-6
        The finite-difference step (finite, > 0).
    atol, rtol : float
        An element passes when |analytic - numeric| <= atol + rtol |numeric| (each
        finite, >= 0).
    seed : int, default 0
        Seeds the random projection of a non-scalar output (and the directions).
    directions : int, optional
        Check an input with more elements than this along that many random
        unit directions (2 evaluations of ``fn`` each) instead of element by
        element (2 per element). None: every element, always.

    Returns
    -------
    True

    Raises
    ------
    GradcheckError
        Naming the input, the index (or direction) and the worst absolute and
        relative error.
    TypeError
        If a checked input is not float64, or ``eps``, ``atol`` or ``rtol`` is no number.
    ValueError
        For an ``eps`` that is not finite and > 0, an ``atol`` or ``rtol`` that is not
        finite and >= 0, or a bad ``directions``.

    Notes
    -----
    Every ``.grad`` is left as it was, the inputs' and those of the other leaves ``fn``'s
    output depends on (a model's parameters, when an input's gradient is checked): the
    check runs its own backward and puts them back, in place, as ``torch.autograd.gradcheck``
    leaves them. A check between a ``backward()`` and an optimizer step does not change the
    step.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> x = rb.tensor(np.array([0.5, -1.0]), requires_grad=True)
    >>> rb.gradcheck(lambda t: (t * t).tanh(), x)
    True
    """
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    eps = positive_float("gradcheck", "eps", eps)
    atol = positive_float("gradcheck", "atol", atol, allow_zero=True)
    rtol = positive_float("gradcheck", "rtol", rtol, allow_zero=True)
    if directions is not None:
        directions = positive_int("gradcheck", "directions", directions)
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need float64 "
                f"(rb.tensor(x, dtype=np.float64), or model.astype(np.float64))"
            )
    inputs = _as_leaves(inputs, checked)
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor; got {type(out).__name__}")
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(out.shape)
    saved = {}  # id -> (tensor, its grad, the grad's values), put back when the check ends
    try:
        for i in checked:
            x = inputs[i]
            if id(x) in saved:  # (one tensor passed twice)
                continue
            grad = x.grad
            saved[id(x)] = (x, grad, None if grad is None else grad.copy())
            if grad is not None:
                grad[...] = 0  # in place: the grad may be a view into a ParameterVector
        for x in _leaves(out):  # the others the backward reaches (a model's parameters): kept
            if id(x) not in saved:
                grad = x.grad
                saved[id(x)] = (x, grad, None if grad is None else np.array(grad, copy=True))
        if out.requires_grad:
            out.backward(v.astype(out.dtype))
        # else the output does not depend on any input (a constant): every gradient is 0
        analytic = {}
        for i in checked:
            x = inputs[i]
            analytic[i] = np.zeros(x.shape) if x.grad is None else np.array(x.grad)
    finally:
        _restore_grads(saved.values())
    with no_grad():
        for i in checked:
            x = inputs[i]
            if directions is not None and x.size > directions:
                _check_directions(fn, inputs, i, v, analytic[i], eps, atol, rtol, directions,
                                  rng)
            else:
                _check_elements(fn, inputs, i, v, analytic[i], eps, atol, rtol)
    return True


def _as_leaves(inputs, checked):
    """``inputs`` with each checked one that is not a leaf (``base * 2``, which never gets a
    ``.grad``) or whose array cannot be written (read-only, ``np.broadcast_to``, a
    memory-mapped file) replaced by a leaf that requires grad and holds a copy of its values
    (the checked elements are perturbed in place; a graph's closures may hold its array). One
    tensor passed twice is replaced by one leaf."""
    inputs = list(inputs)
    leaves = {}
    for i in checked:
        x = inputs[i]
        if not x.is_leaf or not x.data.flags.writeable:
            if id(x) not in leaves:
                leaves[id(x)] = Tensor(x.data.copy(), requires_grad=True)
            inputs[i] = leaves[id(x)]
    return inputs


def _leaves(out):
    """The leaves that require grad in ``out``'s graph (what its backward writes ``.grad``
    of), each once: a walk over the recorded parents, before the backward frees them."""
    if out._backward is None:
        return [out] if out.requires_grad else []
    seen, leaves, stack = {id(out)}, [], [out]
    while stack:
        for parent in stack.pop()._parents:
            if parent is None or not parent.requires_grad or id(parent) in seen:
                continue
            seen.add(id(parent))
            if parent._backward is None:
                leaves.append(parent)
            else:
                stack.append(parent)
    return leaves


def _restore_grads(saved):
    """Put each input's gradient back as :func:`gradcheck` found it: the same array (a
    ParameterVector's view stays that view) with its old values, or None."""
    for x, grad, values in saved:
        if isinstance(grad, np.ndarray):  # (anything else assigned by hand: as it was)
            grad[...] = values
        x.grad = grad
