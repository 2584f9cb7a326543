"""Separate adaptive learning rates: a gain per weight (notes: "Separate adaptive learning rates").

Each weight's step is the global rate times a local gain. The gain grows
additively (``+ up``) while the weight's gradient keeps its sign and shrinks
multiplicatively (``* down``) when it flips, "so big gains decay rapidly when
oscillations start", and stays within ``gain_range``. With momentum, the
notes use the agreement in sign between the current gradient and the
velocity instead: the gain grows while the descent direction ``-g`` agrees
with the velocity ``v``.

A zero product (the first step, or a zero gradient) carries no information
and leaves the gain unchanged. Like Rprop, this is meant for full-batch
learning or very large mini-batches.
"""

import numpy as np

from ..checks import positive_float, unit_interval
from .optimizer import Optimizer, as_pair


def gains_rule(theta, grad, gains, reference, velocity, buf, *, lr, up, down, gain_range,
               momentum):
    """One adaptive-gains step, in place.

    ``agree = g * g_prev > 0`` (or ``-g * v > 0`` with momentum),
    ``disagree = ... < 0``; ``gain += up`` where agree, ``gain *= down`` where
    disagree, clipped to ``gain_range``; then ``v = mu v - lr gain g; theta += v``
    (or ``theta -= lr gain g``).
    """
    if velocity is not None:
        np.multiply(grad, velocity, out=buf)
        np.negative(buf, out=buf)
    else:
        np.multiply(grad, reference, out=buf)
        reference[...] = grad
    np.add(gains, up, out=gains, where=buf > 0)
    np.multiply(gains, down, out=gains, where=buf < 0)
    np.clip(gains, gain_range[0], gain_range[1], out=gains)
    np.multiply(gains, grad, out=buf)
    buf *= lr
    if velocity is not None:
        velocity *= momentum
        velocity -= buf
        theta += velocity
    else:
        theta -= buf


class AdaptiveGains(Optimizer):
    """Gradient descent with a separate, adaptive gain per weight (Jacobs' delta-bar-delta family).

    Parameters
    ----------
    params : iterable of Parameter or ParameterVector
    lr : float or schedule
        The global learning rate.
    up : float, default 0.05
        Added to a gain when the signs agree.
    down : float, default 0.95
        Multiplies a gain when they disagree, in (0, 1).
    gain_range : (float, float), default (0.1, 10)
    momentum : float, default 0
        With momentum, agreement is between ``-g`` and the velocity.

    Notes
    -----
    .. math::

        g_{ij}(t) = \\begin{cases} g_{ij}(t-1) + 0.05 & \\text{if }
        \\frac{\\partial E}{\\partial w_{ij}}(t)\\frac{\\partial E}{\\partial w_{ij}}(t-1) > 0
        \\\\ 0.95\\, g_{ij}(t-1) & \\text{if } < 0 \\end{cases}, \\quad
        w_{ij} \\leftarrow w_{ij} - \\eta\\, g_{ij}(t) \\frac{\\partial E}{\\partial w_{ij}}(t)

    References
    ----------
    Jacobs, "Increased rates of convergence through learning rate adaptation",
    Neural Networks 1, 1988. Hinton, Lecture 6.4 of "Neural Networks for Machine Learning".
    """

    hyperparameters = ("lr", "up", "down", "gain_range", "momentum")
    state_names = ("gains", "prev_grad", "velocity")

    def __init__(self, params, lr, up=0.05, down=0.95, gain_range=(0.1, 10), momentum=0.0):
        super().__init__(params, lr)
        self._set_hyperparameters(up=up, down=down, gain_range=gain_range, momentum=momentum)
        self.gains = np.ones_like(self.vec.data)
        self.prev_grad = self._zeros()
        self.velocity = self._zeros() if self.momentum else None
        self._buf = self._zeros()

    def _checked_hyperparameters(self, hp):
        """The constructor's checks (``load_state_dict`` runs them too)."""
        up = positive_float("AdaptiveGains", "up", hp["up"], allow_zero=True)
        down = unit_interval("AdaptiveGains", "down", hp["down"], closed_low=False)
        gain_range = as_pair(hp["gain_range"]) or hp["gain_range"]
        if isinstance(gain_range, (tuple, list)) and len(gain_range) == 2:
            gain_range = [positive_float("AdaptiveGains", f"gain_range[{i}]", v, allow_zero=True)
                          for i, v in enumerate(gain_range)]
        if (not isinstance(gain_range, (tuple, list)) or len(gain_range) != 2
                or not 0 < gain_range[0] <= 1 <= gain_range[1]):
            raise ValueError(f"AdaptiveGains: gain_range must be a pair (low, high), a tuple "
                             f"or list, with 0 < low <= 1 <= high; got {gain_range!r:.60}")
        return dict(up=up, down=down, gain_range=(float(gain_range[0]), float(gain_range[1])),
                    momentum=unit_interval("AdaptiveGains", "momentum", hp["momentum"]))

    def _update(self, theta, grad):
        if self.momentum and self.velocity is None:
            self.velocity = self._zeros()
        gains_rule(theta, grad, self.gains, self.prev_grad,
                   self.velocity if self.momentum else None, self._buf, lr=self.lr,
                   up=self.up, down=self.down, gain_range=self.gain_range,
                   momentum=self.momentum)
