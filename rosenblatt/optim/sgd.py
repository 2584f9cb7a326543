"""Gradient descent with momentum and Nesterov momentum (notes: "Training algorithms", "Momentum").

The notes write momentum as a velocity, ``V' = mu V - eta grad; W' = W + V'``.
With a constant learning rate that is the same trajectory as the form used
here (and by PyTorch), which accumulates gradients and scales by the learning
rate at the end: ``b = mu b + g; W' = W - eta b``, so that changing ``lr``
during training (a schedule) rescales the whole step at once.
"""

import numpy as np

from ..autodiff import _kernels
from ..checks import boolean, positive_float, unit_interval
from .optimizer import Optimizer, flat_same


def sgd_rule(theta, grad, velocity, buf, *, lr, momentum, nesterov, weight_decay, first,
             keep=None, dampening=0.0):
    """One SGD step on flat arrays, in place.

    ``d = g + wd theta``; with momentum ``b = mu b + (1 - dampening) d`` (``b = d``
    at the first step), ``d = d + mu b`` (Nesterov) or ``d = b``; ``theta -= lr d``.
    ``buf`` is scratch space shaped like ``theta``; ``keep``, if given, receives
    theta before the step. With the ``fast`` extra and momentum (no dampening),
    large vectors take one compiled pass, ``keep`` written in it (checked against
    this code in ``tests/autodiff/test_kernels.py``).
    """
    d = grad
    if weight_decay:
        np.multiply(theta, weight_decay, out=buf)
        buf += grad
        d = buf
    kernel = None
    if velocity is not None and not dampening and theta.size >= KERNEL_MIN_SIZE:
        kernel = _kernels.get("sgd_momentum")
    to = theta if keep is None else keep  # the kernel's keep: not written unless asked
    if kernel is not None and flat_same(theta, d, velocity, to):
        dt = theta.dtype.type  # the scalars in the arrays' dtype: float32 stays float32
        kernel(theta, d, velocity, dt(lr), dt(momentum), bool(nesterov), bool(first), to,
               keep is not None)
        return
    if keep is not None:
        np.copyto(keep, theta)
    if velocity is None:
        np.multiply(d, lr, out=buf)
        theta -= buf
        return
    if first:
        velocity[...] = d
    elif dampening:
        velocity *= momentum
        np.multiply(d, 1.0 - dampening, out=buf)
        velocity += buf
    else:
        velocity *= momentum
        velocity += d
    if nesterov:  # theta -= lr (d + mu b), as two scaled subtractions to reuse one buffer
        np.multiply(d, lr, out=buf)
        theta -= buf
        np.multiply(velocity, lr * momentum, out=buf)
    else:
        np.multiply(velocity, lr, out=buf)
    theta -= buf


KERNEL_MIN_SIZE = 4096  # below, the compiled call's dispatch costs more than NumPy's passes


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum and L2 weight decay.

    Parameters
    ----------
    params : iterable of Parameter or ParameterVector
    lr : float or schedule
        The learning rate eta.
    momentum : float, default 0
        The momentum coefficient mu in [0, 1) (the notes' "friction": 0 is
        plain gradient descent).
    nesterov : bool, default False
        Nesterov accelerated gradient (needs ``momentum > 0``), PyTorch's
        formulation: the look-ahead gradient is approximated by ``g + mu b``.
    weight_decay : float, default 0
        L2 penalty coefficient added to the gradient: ``g + wd * theta``.
    dampening : float, default 0
        In [0, 1): the share of each new gradient left out of the momentum
        buffer, ``b = mu b + (1 - dampening) d`` (PyTorch's ``dampening``; not
        with ``nesterov``). The first step's buffer is ``d`` undamped, as in PyTorch.

    Notes
    -----
    .. math::

        d_t = g_t + \\lambda \\theta_t, \\quad
        b_t = \\mu b_{t-1} + (1 - \\tau) d_t \\ (b_1 = d_1), \\quad
        \\theta_{t+1} = \\theta_t - \\eta (d_t + \\mu b_t \\text{ if Nesterov else } b_t)

    with :math:`\\tau` the dampening. Identical, step for step, to ``torch.optim.SGD``.

    References
    ----------
    Sutskever, Martens, Dahl and Hinton, "On the importance of initialization
    and momentum in deep learning", ICML 2013.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> w = rb.nn.Parameter(np.array([1.0, -2.0]))
    >>> opt = rb.optim.SGD([w], lr=0.1)
    >>> opt.zero_grad(); (w * w).sum().backward(); opt.step()
    >>> w.data
    array([ 0.8, -1.6])
    """

    hyperparameters = ("lr", "momentum", "nesterov", "weight_decay", "dampening")
    state_names = ("velocity",)

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0,
                 dampening=0.0):
        super().__init__(params, lr)
        self.momentum = unit_interval("SGD", "momentum", momentum)
        self.weight_decay = positive_float("SGD", "weight_decay", weight_decay, allow_zero=True)
        self.dampening = unit_interval("SGD", "dampening", dampening)
        if nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0; got momentum=0")
        if nesterov and self.dampening:
            raise ValueError(f"SGD: nesterov=True needs dampening=0 (as in PyTorch); got "
                             f"dampening={self.dampening}")
        self.nesterov = boolean("SGD", "nesterov", nesterov)
        self.velocity = self._zeros() if self.momentum else None
        self._buf = self._zeros()

    def _update(self, theta, grad, keep=None):
        if self.momentum and self.velocity is None:  # momentum switched on after construction
            self.velocity = self._zeros()
        sgd_rule(theta, grad, self.velocity if self.momentum else None, self._buf, lr=self.lr,
                 momentum=self.momentum, nesterov=self.nesterov,
                 weight_decay=self.weight_decay, first=self.t == 0, keep=keep,
                 dampening=self.dampening)
