"""Learning-rate schedules (notes: "Adaptive learning rates", "Tweaking hyperparameters").

"When starting out training, you may want a high learning rate to quickly get
close to a minimum. But once you get closer, you may want to decrease the
learning rate": a schedule is a function ``t -> eta_t``. Any optimizer takes
one as ``lr`` (evaluated before every step, ``t`` = steps taken so far), and
``rb.callbacks.LearningRateScheduler`` applies one per epoch instead.
Schedules hold no state, so a resumed run continues them exactly.

Each matches a PyTorch scheduler value for value, with ``t`` the number of
``scheduler.step()`` calls: :class:`Step` (``StepLR``), :class:`MultiStep`
(``MultiStepLR``), :class:`Exponential` (``ExponentialLR``), :class:`Cosine`
(``CosineAnnealingLR`` up to ``t_max``), :class:`Linear` (``LinearLR``);
:class:`Warmup` puts a linear warm-up in front of any schedule
(``ChainedScheduler`` or ``SequentialLR`` of ``LinearLR`` and the schedule).

Examples
--------
>>> import rosenblatt as rb
>>> s = rb.optim.schedules.InverseTime(0.1, lam=10.0)
>>> [round(s(t), 4) for t in (0, 1, 9)]
[0.1, 0.05, 0.01]
"""

import bisect
import math

from ..checks import boolean, positive_float, positive_int


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


class MultiStep(Schedule):
    """``eta_t = lr gamma^k``, ``k`` the number of ``milestones`` ``<= t`` (``MultiStepLR``).

    Parameters
    ----------
    lr : float
    milestones : sequence of int
        The steps (or epochs) at which the rate drops, increasing.
    gamma : float, default 0.1

    Examples
    --------
    >>> from rosenblatt.optim.schedules import MultiStep
    >>> s = MultiStep(1.0, milestones=[2, 5], gamma=0.5)
    >>> [s(t) for t in range(7)]
    [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(self, lr, milestones, gamma=0.1):
        self.lr = positive_float("MultiStep", "lr", lr)
        try:
            milestones = list(milestones)
        except TypeError:
            raise TypeError(f"MultiStep: milestones must be a sequence of steps; got "
                            f"{type(milestones).__name__}") from None
        self.milestones = [positive_int("MultiStep", f"milestones[{i}]", m)
                           for i, m in enumerate(milestones)]
        if any(a >= b for a, b in zip(self.milestones, self.milestones[1:])):
            raise ValueError(f"MultiStep: milestones must increase; got {self.milestones}")
        self.gamma = positive_float("MultiStep", "gamma", gamma)

    def __call__(self, t):
        return self.lr * self.gamma ** bisect.bisect_right(self.milestones, t)


class Linear(Schedule):
    """A rate that changes linearly for ``total_iters`` steps, then stays (``LinearLR``).

    ``eta_t = lr (s + (e - s) min(t, total_iters) / total_iters)`` with ``s`` the
    ``start_factor`` and ``e`` the ``end_factor``: a linear warm-up with the
    defaults, a linear decay with ``start_factor=1, end_factor=0``.

    Parameters
    ----------
    lr : float
    start_factor : float, default 1/3
    end_factor : float, default 1
    total_iters : int, default 5

    Examples
    --------
    >>> from rosenblatt.optim.schedules import Linear
    >>> s = Linear(0.1, start_factor=0.5, total_iters=2)
    >>> [round(s(t), 4) for t in range(4)]
    [0.05, 0.075, 0.1, 0.1]
    """

    def __init__(self, lr, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
        self.lr = positive_float("Linear", "lr", lr)
        self.start_factor = positive_float("Linear", "start_factor", start_factor,
                                           allow_zero=True)
        self.end_factor = positive_float("Linear", "end_factor", end_factor, allow_zero=True)
        self.total_iters = positive_int("Linear", "total_iters", total_iters)

    def __call__(self, t):
        s, e = self.start_factor, self.end_factor
        return self.lr * (s + (e - s) * min(self.total_iters, t) / self.total_iters)


class Warmup(Schedule):
    """A linear warm-up in front of another schedule (or a constant rate).

    For ``t < warmup_steps`` the rate is the schedule's times a factor that
    rises linearly from ``start_factor`` (at ``t = 0``) to 1 (at
    ``t = warmup_steps``); from then on it is the schedule's alone.

    Parameters
    ----------
    schedule : Schedule, callable or float
        The rate after the warm-up: a schedule ``t -> lr``, or a number.
    warmup_steps : int
    start_factor : float, default 0
        The fraction of the rate at ``t = 0`` (in [0, 1]).
    delay : bool, default False
        False: the schedule runs from ``t = 0``, scaled down during the warm-up
        (PyTorch's ``ChainedScheduler([LinearLR(...), scheduler])``). True: it
        starts when the warm-up ends, ``schedule(t - warmup_steps)``, and the
        warm-up ramps up to ``schedule(0)`` (``SequentialLR([LinearLR(...),
        scheduler], milestones=[warmup_steps])``).

    Examples
    --------
    >>> from rosenblatt.optim.schedules import Cosine, Warmup
    >>> s = Warmup(0.1, warmup_steps=4)
    >>> [round(s(t), 4) for t in range(6)]
    [0.0, 0.025, 0.05, 0.075, 0.1, 0.1]
    >>> s = Warmup(Cosine(0.1, t_max=10), warmup_steps=2, start_factor=0.5, delay=True)
    >>> [round(s(t), 4) for t in (0, 1, 2, 12)]
    [0.05, 0.075, 0.1, 0.0]
    """

    def __init__(self, schedule, warmup_steps, start_factor=0.0, delay=False):
        if not callable(schedule):
            schedule = Constant(positive_float("Warmup", "schedule", schedule, allow_zero=True))
        self.schedule = schedule
        self.warmup_steps = positive_int("Warmup", "warmup_steps", warmup_steps)
        self.start_factor = positive_float("Warmup", "start_factor", start_factor,
                                           allow_zero=True)
        if self.start_factor > 1:
            raise ValueError(f"Warmup: start_factor must be in [0, 1]; got {start_factor!r}")
        self.delay = boolean("Warmup", "delay", delay)

    def __call__(self, t):
        w = self.warmup_steps
        if t >= w:
            return self.schedule(t - w if self.delay else t)
        factor = self.start_factor + (1.0 - self.start_factor) * t / w
        return factor * self.schedule(0 if self.delay else t)
