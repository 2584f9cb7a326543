"""Adam: adaptive moment estimation (notes: "Training algorithms", "Adam").

The notes put epsilon inside the square root, ``eta m_hat / sqrt(v_hat + eps)``;
the paper (and PyTorch) add it outside, ``eta m_hat / (sqrt(v_hat) + eps)``.
We follow the paper by default so that results compare one to one with
PyTorch; ``eps_inside_sqrt=True`` gives the notes' form. The difference only
matters while ``v_hat`` is of the order of ``eps``.
"""

import math

import numpy as np

from ..autodiff import _kernels
from ..checks import positive_float, unit_interval
from .optimizer import Optimizer, flat_same


def adam_rule(theta, grad, m, v, buf, *, lr, beta1, beta2, eps, t, eps_inside_sqrt=False,
              keep=None):
    """One Adam step (``t`` counts from 1) on flat arrays, in place; ``keep``, if given,
    receives theta before the step.

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
    ``theta -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``
    (or ``/ sqrt(v / (1 - b2^t) + eps)`` with ``eps_inside_sqrt``).

    With the ``fast`` extra (Numba) the paper's form runs as one compiled pass
    (``rosenblatt.autodiff._numba_kernels.adam_update``), checked against this
    NumPy code in ``tests/autodiff/test_kernels.py``; ``keep`` is written in that pass.
    """
    if not eps_inside_sqrt:
        kernel = _kernels.get("adam_update")
        to = theta if keep is None else keep
        if kernel is not None and flat_same(theta, grad, m, v, to):
            s = math.sqrt(1.0 - beta2**t)
            dt = theta.dtype.type  # the scalars in the arrays' dtype: float32 stays float32
            kernel(theta, grad, m, v, dt(beta1), dt(beta2), dt(lr * s / (1.0 - beta1**t)),
                   dt(eps * s), dt(1.0 - beta1), dt(1.0 - beta2), to, keep is not None)
            return
    if keep is not None:
        np.copyto(keep, theta)
    m *= beta1
    np.multiply(grad, 1.0 - beta1, out=buf)
    m += buf
    v *= beta2
    np.multiply(grad, grad, out=buf)
    buf *= 1.0 - beta2
    v += buf
    if eps_inside_sqrt:  # the notes' form
        np.divide(v, 1.0 - beta2**t, out=buf)
        buf += eps
        np.sqrt(buf, out=buf)
        step = lr / (1.0 - beta1**t)
    else:  # sqrt(v)/s + eps = (sqrt(v) + eps s)/s with s = sqrt(1 - b2^t): one pass fewer
        s = math.sqrt(1.0 - beta2**t)
        np.sqrt(v, out=buf)
        buf += eps * s
        step = lr * s / (1.0 - beta1**t)
    np.divide(m, buf, out=buf)
    buf *= step
    theta -= buf


class Adam(Optimizer):
    """Adam (Kingma and Ba): momentum on the gradient, RMS scaling, bias correction.

    Parameters
    ----------
    params : iterable of Parameter or ParameterVector
    lr : float or schedule, default 1e-3
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the first and second moment estimates, each in [0, 1).
    eps : float, default 1e-8
        Added to ``sqrt(v_hat)`` (outside the root, as in the paper).
    weight_decay : float, default 0
        L2 penalty added to the gradient (PyTorch's ``Adam``, not ``AdamW``).
    eps_inside_sqrt : bool, default False
        The notes' ``sqrt(v_hat + eps)`` instead of the paper's ``sqrt(v_hat) + eps``.

    Notes
    -----
    .. math::

        m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t, \\quad
        v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2, \\\\
        \\theta_{t+1} = \\theta_t - \\eta \\frac{m_t / (1-\\beta_1^t)}
        {\\sqrt{v_t / (1-\\beta_2^t)} + \\epsilon}

    References
    ----------
    Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> w = rb.nn.Parameter(np.array([1.0, -2.0]))
    >>> opt = rb.optim.Adam([w], lr=0.1)
    >>> opt.zero_grad(); (w * w).sum().backward(); opt.step()
    >>> np.round(w.data, 6)   # the first step moves every weight by about lr
    array([ 0.9, -1.9])
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay", "eps_inside_sqrt")
    state_names = ("m", "v")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 eps_inside_sqrt=False):
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2); got {betas!r}")
        self.betas = (unit_interval("Adam", "betas[0]", betas[0]),
                      unit_interval("Adam", "betas[1]", betas[1]))
        self.eps = positive_float("Adam", "eps", eps, allow_zero=True)
        self.weight_decay = positive_float("Adam", "weight_decay", weight_decay, allow_zero=True)
        self.eps_inside_sqrt = bool(eps_inside_sqrt)
        self.m = self._zeros()
        self.v = self._zeros()
        self._buf = self._zeros()

    def _update(self, theta, grad, keep=None):
        grad = self._decayed_grad(theta, grad, self.weight_decay)
        adam_rule(theta, grad, self.m, self.v, self._buf, lr=self.lr, beta1=self.betas[0],
                  beta2=self.betas[1], eps=self.eps, t=self.t + 1,
                  eps_inside_sqrt=self.eps_inside_sqrt, keep=keep)
