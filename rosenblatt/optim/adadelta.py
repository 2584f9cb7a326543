"""Adadelta: decaying averages, matched units (notes: "Training algorithms", "Adadelta").

The notes' final rule, ``dtheta = -RMS[dtheta]_{t-1} / RMS[g]_t g``, is the
paper's. PyTorch (and we) also multiply by a learning rate ``lr`` (default 1,
which gives the paper's rule).
"""

import numpy as np

from ..checks import positive_float, unit_interval
from .optimizer import Optimizer


def adadelta_rule(theta, grad, sq_avg, delta_avg, buf, buf2, *, lr, rho, eps):
    """One Adadelta step, in place (``buf``, ``buf2``: scratch arrays).

    ``E[g^2] = rho E[g^2] + (1 - rho) g^2``;
    ``d = sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) g``;
    ``E[dx^2] = rho E[dx^2] + (1 - rho) d^2``; ``theta -= lr d``.
    """
    sq_avg *= rho
    np.multiply(grad, grad, out=buf)
    buf *= 1.0 - rho
    sq_avg += buf
    np.add(sq_avg, eps, out=buf)
    np.sqrt(buf, out=buf)                   # RMS[g]_t
    np.add(delta_avg, eps, out=buf2)
    np.sqrt(buf2, out=buf2)                 # RMS[dtheta]_{t-1}
    np.divide(buf2, buf, out=buf2)
    buf2 *= grad                            # d
    delta_avg *= rho
    np.multiply(buf2, buf2, out=buf)
    buf *= 1.0 - rho
    delta_avg += buf
    buf2 *= lr
    theta -= buf2


class Adadelta(Optimizer):
    """Adadelta (Zeiler).

    Parameters
    ----------
    params : iterable of Parameter or ParameterVector
    lr : float or schedule, default 1.0
        Scales the step (1 is the paper's rule).
    rho : float, default 0.9
        Decay rate gamma of both running averages, in [0, 1).
    eps : float, default 1e-6
    weight_decay : float, default 0

    Notes
    -----
    .. math::

        E[g^2]_t = \\rho E[g^2]_{t-1} + (1-\\rho) g_t^2, \\quad
        \\Delta\\theta_t = -\\frac{\\sqrt{E[\\Delta\\theta^2]_{t-1} + \\epsilon}}
        {\\sqrt{E[g^2]_t + \\epsilon}} g_t, \\\\
        E[\\Delta\\theta^2]_t = \\rho E[\\Delta\\theta^2]_{t-1} + (1-\\rho) \\Delta\\theta_t^2,
        \\quad \\theta_{t+1} = \\theta_t + \\eta \\Delta\\theta_t

    References
    ----------
    Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701, 2012.
    """

    hyperparameters = ("lr", "rho", "eps", "weight_decay")
    state_names = ("sq_avg", "delta_avg")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        super().__init__(params, lr)
        self._set_hyperparameters(rho=rho, eps=eps, weight_decay=weight_decay)
        self.sq_avg = self._zeros()
        self.delta_avg = self._zeros()
        self._buf = self._zeros()
        self._buf2 = self._zeros()

    def _checked_hyperparameters(self, hp):
        """The constructor's checks (``load_state_dict`` runs them too)."""
        return dict(rho=unit_interval("Adadelta", "rho", hp["rho"]),
                    eps=positive_float("Adadelta", "eps", hp["eps"], allow_zero=True),
                    weight_decay=positive_float("Adadelta", "weight_decay", hp["weight_decay"],
                                                allow_zero=True))

    def _update(self, theta, grad):
        grad = self._decayed_grad(theta, grad, self.weight_decay)
        adadelta_rule(theta, grad, self.sq_avg, self.delta_avg, self._buf, self._buf2, lr=self.lr,
                      rho=self.rho, eps=self.eps)
