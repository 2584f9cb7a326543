"""RMSprop: gradients divided by a running RMS (notes: "Rmsprop", "Adadelta").

The notes keep ``MA = lambda MA + (1 - lambda) g^2`` and step along
``g / sqrt(MA)``, optionally through a momentum velocity. Our ``rho`` is the
notes' lambda and PyTorch's ``alpha``. Defaults follow the notes and Hinton's
lecture (``rho = 0.9``, ``lr = 1e-3``), which differ from PyTorch's
(``alpha = 0.99``, ``lr = 0.01``): given the same hyper-parameters the
trajectories are identical (epsilon is added outside the root, as PyTorch).
"""

import numpy as np

from ..checks import boolean, positive_float, unit_interval
from .optimizer import Optimizer


def rmsprop_rule(theta, grad, sq_avg, grad_avg, velocity, buf, *, lr, rho, eps, momentum):
    """One RMSprop step, in place.

    ``MA = rho MA + (1 - rho) g^2``; ``s = sqrt(max(MA - mean_g^2, 0)) + eps`` (centered)
    or ``sqrt(MA) + eps``; with momentum ``v = mu v + g / s; theta -= lr v``,
    else ``theta -= lr g / s``.
    """
    sq_avg *= rho
    np.multiply(grad, grad, out=buf)
    buf *= 1.0 - rho
    sq_avg += buf
    if grad_avg is not None:  # centered: subtract the squared running mean of g
        grad_avg *= rho
        np.multiply(grad, 1.0 - rho, out=buf)
        grad_avg += buf
        np.multiply(grad_avg, grad_avg, out=buf)
        np.subtract(sq_avg, buf, out=buf)
        # E[g^2] - E[g]^2 >= 0, but once a constant gradient's rho^t falls below the
        # dtype's epsilon the difference rounds to a tiny negative number and the root
        # gives NaN (PyTorch has this flaw); clamped, results equal PyTorch's where finite
        np.maximum(buf, 0, out=buf)
        np.sqrt(buf, out=buf)
    else:
        np.sqrt(sq_avg, out=buf)
    buf += eps
    np.divide(grad, buf, out=buf)
    if velocity is not None:
        velocity *= momentum
        velocity += buf
        np.multiply(velocity, lr, out=buf)
    else:
        buf *= lr
    theta -= buf


class RMSprop(Optimizer):
    """RMSprop (Tieleman and Hinton), optionally with momentum or centered.

    Parameters
    ----------
    params : iterable of Parameter or ParameterVector
    lr : float or schedule, default 1e-3
    rho : float, default 0.9
        Decay of the running mean of g^2 (PyTorch's ``alpha``), in [0, 1).
    eps : float, default 1e-8
    momentum : float, default 0
    centered : bool, default False
        Divide by an estimate of the gradient's standard deviation instead.
    weight_decay : float, default 0

    Notes
    -----
    .. math::

        MA_t = \\rho MA_{t-1} + (1-\\rho) g_t^2, \\quad
        v_t = \\mu v_{t-1} + \\frac{g_t}{\\sqrt{MA_t} + \\epsilon}, \\quad
        \\theta_{t+1} = \\theta_t - \\eta v_t

    Centered, the variance ``MA - mean_g^2`` is clamped at 0 before the root: a
    constant gradient makes it round to a tiny negative number once ``rho^t`` is
    below the dtype's epsilon (NaN in PyTorch; equal to PyTorch wherever that is
    finite). float16 parameters step in float32, with float32 state (eps rounds
    to 0 in float16, and a zero gradient would give 0 / 0).

    References
    ----------
    Tieleman and Hinton, Lecture 6.5 of "Neural Networks for Machine Learning", 2012.
    """

    hyperparameters = ("lr", "rho", "eps", "momentum", "centered", "weight_decay")
    state_names = ("sq_avg", "grad_avg", "velocity")

    def __init__(self, params, lr=1e-3, rho=0.9, eps=1e-8, momentum=0.0, centered=False,
                 weight_decay=0.0):
        super().__init__(params, lr)
        self._set_hyperparameters(rho=rho, eps=eps, momentum=momentum, centered=centered,
                                  weight_decay=weight_decay)
        self.sq_avg = self._zeros()
        self.grad_avg = self._zeros() if self.centered else None
        self.velocity = self._zeros() if self.momentum else None
        self._buf = self._zeros()

    def _checked_hyperparameters(self, hp):
        """The constructor's checks (``load_state_dict`` runs them too)."""
        return dict(
            rho=unit_interval("RMSprop", "rho", hp["rho"]),
            eps=positive_float("RMSprop", "eps", hp["eps"], allow_zero=True),
            momentum=unit_interval("RMSprop", "momentum", hp["momentum"]),
            centered=boolean("RMSprop", "centered", hp["centered"]),
            weight_decay=positive_float("RMSprop", "weight_decay", hp["weight_decay"],
                                        allow_zero=True))

    half_in_float32 = True  # float16: eps rounds to 0 (Optimizer.half_in_float32)

    def _update(self, theta, grad):
        if theta.dtype.itemsize < 4:
            return self._in_float32(theta, grad, None)
        grad = self._decayed_grad(theta, grad, self.weight_decay)
        if self.momentum and self.velocity is None:
            self.velocity = self._zeros()
        if self.centered and self.grad_avg is None:
            self.grad_avg = self._zeros()
        rmsprop_rule(theta, grad, self.sq_avg, self.grad_avg if self.centered else None,
                     self.velocity if self.momentum else None, self._buf, lr=self.lr,
                     rho=self.rho, eps=self.eps, momentum=self.momentum)
