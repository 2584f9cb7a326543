"""Gradient checking (notes: "Gradient Checking").

The analytic gradient from backpropagation is compared with the centered
difference (J(theta + eps) - J(theta - eps)) / (2 eps) for every input
element, in float64. For a non-scalar output, J is the projection of the
output on a fixed random direction v, so the check covers the whole
vector-Jacobian product v^T J.
"""

import numpy as np

from .tensor import Tensor, no_grad


class GradcheckError(AssertionError):
    """Raised when an analytic gradient disagrees with the numerical one."""


def _scalar(out, v):
    data = out.data if isinstance(out, Tensor) else np.asarray(out)
    return float(np.sum(data * v))


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-6, rtol=1e-4, seed=0):
    """Check the gradients of ``fn`` at ``inputs`` by centered differences.

    Parameters
    ----------
    fn : callable
        ``fn(*inputs) -> Tensor``.
    *inputs : Tensor
        float64 tensors; those with ``requires_grad=True`` are checked.
    eps : float, default 1e-6
        The finite-difference step.
    atol, rtol : float
        An element passes when |analytic - numeric| <= atol + rtol |numeric|.
    seed : int, default 0
        Seeds the random projection of a non-scalar output.

    Returns
    -------
    True

    Raises
    ------
    GradcheckError
        Naming the input, the index and the worst absolute and relative error.
    TypeError
        If a checked input is not float64.

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
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need float64 "
                f"(rb.tensor(x, dtype=np.float64), or model.astype(np.float64))"
            )
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor; got {type(out).__name__}")
    v = np.random.default_rng(seed).standard_normal(out.shape)
    for i in checked:
        if inputs[i].grad is not None:
            inputs[i].grad[...] = 0  # in place: the grad may be a view into a ParameterVector
    out.backward(v.astype(out.dtype))
    with no_grad():
        for i in checked:
            x = inputs[i]
            analytic = np.zeros(x.shape) if x.grad is None else np.array(x.grad)
            numeric = np.empty(x.shape)
            xd = x.data  # perturbed in place, element by element (any memory layout)
            for index in np.ndindex(x.shape):
                saved = xd[index]
                xd[index] = saved + eps
                plus = _scalar(fn(*inputs), v)
                xd[index] = saved - eps
                minus = _scalar(fn(*inputs), v)
                xd[index] = saved
                numeric[index] = (plus - minus) / (2 * eps)
            err = np.abs(analytic - numeric)
            bad = err > atol + rtol * np.abs(numeric)
            if bad.any():
                rel = err / np.maximum(np.abs(numeric), 1e-300)
                k = int(np.argmax(np.where(bad, err, -1)))
                index = np.unravel_index(k, x.shape) if x.ndim else ()
                raise GradcheckError(
                    f"gradcheck: input {i}, index {tuple(int(j) for j in index)}: analytic "
                    f"{analytic.reshape(-1)[k]:.6g} vs numeric {numeric.reshape(-1)[k]:.6g}; "
                    f"worst absolute error {err.max():.3g}, worst relative error "
                    f"{rel[bad].max():.3g} ({int(bad.sum())} of {x.size} elements fail)"
                )
    return True
