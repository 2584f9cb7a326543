"""Learning-rate schedules (notes: "Adaptive learning rates", "Tweaking hyperparameters").

"When starting out training, you may want a high learning rate to quickly get
close to a minimum. But once you get closer, you may want to decrease the
learning rate": a schedule is a function ``t -> eta_t``. Any optimizer takes
one as ``lr`` (evaluated before every step, ``t`` = steps taken so far), and
``rb.callbacks.LearningRateScheduler`` applies one per epoch instead.
Schedules hold no state, so a resumed run continues them exactly.

Examples
--------
>>> import rosenblatt as rb
>>> s = rb.optim.schedules.InverseTime(0.1, lam=10.0)
>>> [round(s(t), 4) for t in (0, 1, 9)]
[0.1, 0.05, 0.01]
"""

import math

from ..checks import positive_float, positive_int


class Schedule:
    """Base class: ``schedule(t)`` is the learning rate at step (or epoch) ``t >= 0``."""

    def __call__(self, t):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """``eta_t = lr``."""

    def __init__(self, lr):
        self.lr = positive_float("Constant", "lr", lr, allow_zero=True)

    def __call__(self, t):
        return self.lr


class InverseTime(Schedule):
    """The notes' schedule ``eta_t = eta0 (1 + eta0 lam t)^-1``.

    Parameters
    ----------
    eta0 : float
        The initial rate.
    lam : float
        How fast it decays (the notes' lambda).
    """

    def __init__(self, eta0, lam):
        self.eta0 = positive_float("InverseTime", "eta0", eta0)
        self.lam = positive_float("InverseTime", "lam", lam, allow_zero=True)

    def __call__(self, t):
        return self.eta0 / (1.0 + self.eta0 * self.lam * t)


class Step(Schedule):
    """``eta_t = lr gamma^floor(t / step_size)``: drop by ``gamma`` every ``step_size`` steps."""

    def __init__(self, lr, step_size, gamma=0.1):
        self.lr = positive_float("Step", "lr", lr)
        self.step_size = positive_int("Step", "step_size", step_size)
        self.gamma = positive_float("Step", "gamma", gamma)

    def __call__(self, t):
        return self.lr * self.gamma ** (t // self.step_size)


class Exponential(Schedule):
    """``eta_t = lr gamma^t``."""

    def __init__(self, lr, gamma):
        self.lr = positive_float("Exponential", "lr", lr)
        self.gamma = positive_float("Exponential", "gamma", gamma)

    def __call__(self, t):
        return self.lr * self.gamma**t


class Cosine(Schedule):
    """Cosine annealing from ``lr`` to ``eta_min`` over ``t_max`` steps, then constant.

    ``eta_t = eta_min + (lr - eta_min) (1 + cos(pi min(t, t_max) / t_max)) / 2``
    (Loshchilov and Hutter, SGDR, without restarts).
    """

    def __init__(self, lr, t_max, eta_min=0.0):
        self.lr = positive_float("Cosine", "lr", lr)
        self.t_max = positive_int("Cosine", "t_max", t_max)
        self.eta_min = positive_float("Cosine", "eta_min", eta_min, allow_zero=True)

    def __call__(self, t):
        frac = min(t, self.t_max) / self.t_max
        return self.eta_min + (self.lr - self.eta_min) * (1 + math.cos(math.pi * frac)) / 2
