"""Adagrad: rates from summed squared gradients (notes: "Training algorithms", "Adagrad").

The notes write ``eta / sqrt(G + eps)``; the paper and PyTorch add epsilon
outside the root, ``eta / (sqrt(G) + eps)`` with ``eps = 1e-10``. We follow
PyTorch by default so that trajectories compare one to one;
``eps_inside_sqrt=True`` gives the notes' form. As the notes say, ``G`` only
grows, so the effective rate ``eta / (sqrt(G) + eps)`` of every parameter
shrinks monotonically and learning eventually halts
(:meth:`Adagrad.effective_lr` shows it).
"""

import numpy as np

from ..checks import boolean, positive_float
from .optimizer import Optimizer


def adagrad_rule(theta, grad, sum_sq, buf, *, lr, eps, eps_inside_sqrt=False):
    """``G += g^2``; ``theta -= lr g / (sqrt(G) + eps)`` (or ``sqrt(G + eps)``), in place."""
    np.multiply(grad, grad, out=buf)
    sum_sq += buf
    if eps_inside_sqrt:  # the notes' form
        np.add(sum_sq, eps, out=buf)
        np.sqrt(buf, out=buf)
    else:
        np.sqrt(sum_sq, out=buf)
        buf += eps
    np.divide(grad, buf, out=buf)
    buf *= lr
    theta -= buf


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan and Singer).

    Parameters
    ----------
    params : iterable of Parameter or ParameterVector
    lr : float or schedule, default 0.01
    eps : float, default 1e-10
        Added to ``sqrt(G)`` (PyTorch's placement and default).
    lr_decay : float, default 0
        PyTorch's ``lr_decay``: the rate at step ``t`` (from 1) is ``lr / (1 + (t - 1) lr_decay)``,
        ``t`` each parameter's own step count, as PyTorch's (:attr:`param_steps`: the steps
        that skipped a parameter, its ``grad`` None, do not count).
    weight_decay : float, default 0
    initial_accumulator_value : float, default 0
    eps_inside_sqrt : bool, default False
        The notes' ``sqrt(G + eps)`` instead of ``sqrt(G) + eps``.

    Notes
    -----
    .. math::

        G_t = G_{t-1} + g_t^2, \\quad
        \\theta_{t+1} = \\theta_t - \\frac{\\eta}{\\sqrt{G_t} + \\epsilon} g_t

    float16 parameters step in float32, with float32 state (eps rounds to 0 in
    float16, and a zero gradient would give 0 / 0).

    References
    ----------
    Duchi, Hazan and Singer, "Adaptive Subgradient Methods for Online Learning
    and Stochastic Optimization", JMLR 2011.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> w = rb.nn.Parameter(np.array([1.0, -2.0]))
    >>> opt = rb.optim.Adagrad([w], lr=0.5)
    >>> opt.zero_grad(); (w * w).sum().backward(); opt.step()
    >>> np.round(w.data, 6)
    array([ 0.5, -1.5])
    """

    hyperparameters = ("lr", "eps", "lr_decay", "weight_decay", "initial_accumulator_value",
                       "eps_inside_sqrt")
    state_names = ("sum_sq",)
    per_parameter_steps = True

    def __init__(self, params, lr=0.01, eps=1e-10, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps_inside_sqrt=False):
        super().__init__(params, lr)
        # initial_accumulator_value is kept: what G starts at, for a connection that Rewire
        # forms during training too
        self._set_hyperparameters(eps=eps, lr_decay=lr_decay, weight_decay=weight_decay,
                                  initial_accumulator_value=initial_accumulator_value,
                                  eps_inside_sqrt=eps_inside_sqrt)
        self.sum_sq = self._zeros()
        self.sum_sq += self.initial_accumulator_value
        self._buf = self._zeros()

    def _checked_hyperparameters(self, hp):
        """The constructor's checks (``load_state_dict`` runs them too)."""
        checked = {key: positive_float("Adagrad", key, hp[key], allow_zero=True)
                   for key in ("eps", "lr_decay", "weight_decay", "initial_accumulator_value")}
        checked["eps_inside_sqrt"] = boolean("Adagrad", "eps_inside_sqrt",
                                             hp["eps_inside_sqrt"])
        return checked

    def effective_lr(self):
        """The per-parameter rate ``lr / (sqrt(G) + eps)`` that the next step would use (a copy).

        ``lr`` is the next step's (the schedule's value at ``t``, with ``lr_decay``); ``G``
        is the sum of squares so far: the next gradient's ``g^2`` is not in it yet.
        """
        lr = self._scheduled_lr(self.t) if self.schedule is not None else self.lr
        if self.param_steps is None:
            lr = lr / (1 + self.t * self.lr_decay)
        else:  # each parameter's own count
            sizes = [p.data.size for p in self.vec.params]
            lr = lr / (1 + np.repeat(self.param_steps, sizes) * self.lr_decay)
        if self.eps_inside_sqrt:
            return lr / np.sqrt(self.sum_sq + self.eps)
        return lr / (np.sqrt(self.sum_sq) + self.eps)

    half_in_float32 = True  # float16: eps rounds to 0 (Optimizer.half_in_float32)

    def _update(self, theta, grad):
        if theta.dtype.itemsize < 4:
            return self._in_float32(theta, grad, None)
        grad = self._decayed_grad(theta, grad, self.weight_decay)
        t = self.t + 1 if self.param_steps is None and not self._skipped \
            else self._step_counts()
        if not self.lr_decay:  # the counts (kept for a decay set later) do not matter
            lr = self.lr
        elif isinstance(t, int):  # every parameter that steps at its t-th step
            lr = self.lr / (1 + (t - 1) * self.lr_decay)
        else:  # the parameters' own counts differ: a rate each
            for sl, count in self._count_runs(t):
                adagrad_rule(theta[sl], grad[sl], self.sum_sq[sl], self._buf[sl],
                             lr=self.lr / (1 + (count - 1) * self.lr_decay), eps=self.eps,
                             eps_inside_sqrt=self.eps_inside_sqrt)
            return
        adagrad_rule(theta, grad, self.sum_sq, self._buf, lr=lr, eps=self.eps,
                     eps_inside_sqrt=self.eps_inside_sqrt)
