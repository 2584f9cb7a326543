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
             keep=None, dampening=0.0, fresh=()):
    """One SGD step on flat arrays, in place.

    ``d = g + wd theta``; with momentum ``b = mu b + (1 - dampening) d`` (``b = d``
    at the first step: everywhere with ``first``, in the slices ``fresh`` of theta
    otherwise, the buffers that begin at this step), ``d = d + mu b`` (Nesterov)
    or ``d = b``; ``theta -= lr d``.
    ``buf`` is scratch space shaped like ``theta``; ``keep``, if given, receives
    theta before the step. With the ``fast`` extra and momentum (no dampening, no
    ``fresh``), large vectors take one compiled pass, ``keep`` written in it
    (checked against this code in ``tests/autodiff/test_kernels.py``).
    """
    d = grad
    if weight_decay:
        np.multiply(theta, weight_decay, out=buf)
        buf += grad
        d = buf
    kernel = None
    if velocity is not None and not dampening and not fresh and theta.size >= KERNEL_MIN_SIZE:
        kernel = _kernels.get("sgd_momentum")
    to = theta if keep is None else keep  # the kernel's keep: not written unless asked
    if kernel is not None and flat_same(theta, d, velocity, to):
        dt = theta.dtype.type  # the scalars in the arrays' dtype: float32 stays float32
        kernel(theta, d, velocity, dt(lr), dt(momentum), dt(lr * momentum), bool(nesterov),
               bool(first), to, keep is not None)
        return
    if keep is not None:
        np.copyto(keep, theta)
    if velocity is None:
        np.multiply(d, lr, out=buf)
        theta -= buf
        return
    begin = [(sl, d[sl].copy()) for sl in fresh] if not first else ()  # d: buf may be reused
    if first:
        velocity[...] = d
    elif dampening:
        velocity *= momentum
        np.multiply(d, 1.0 - dampening, out=buf)
        velocity += buf
    else:
        velocity *= momentum
        velocity += d
    for sl, values in begin:  # buffers that begin now: d undamped, as PyTorch's first step
        velocity[sl] = values
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
        with ``nesterov``). A buffer's first update is ``d`` undamped, as in PyTorch:
        at the first step, and for a parameter frozen (after building the optimizer)
        or without a gradient (``grad`` None) until a later step, or all of them when
        momentum is switched on after construction, at the step where it begins.

    Notes
    -----
    .. math::

        d_t = g_t + \\lambda \\theta_t, \\quad
        b_t = \\mu b_{t-1} + (1 - \\tau) d_t \\ (b_1 = d_1), \\quad
        \\theta_{t+1} = \\theta_t - \\eta (d_t + \\mu b_t \\text{ if Nesterov else } b_t)

    with :math:`\\tau` the dampening. Identical, step for step, to ``torch.optim.SGD``,
    also where a parameter gets no gradient (``grad`` None after ``zero_grad()``): it is
    skipped, its velocity kept.

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
    extra_state_keys = ("momentum_unstarted",)

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0,
                 dampening=0.0):
        super().__init__(params, lr)
        self._set_hyperparameters(momentum=momentum, nesterov=nesterov,
                                  weight_decay=weight_decay, dampening=dampening)
        self.velocity = self._zeros() if self.momentum else None
        self._buf = self._zeros()
        # the parameters (indices) whose momentum buffer has not begun (PyTorch: no
        # momentum_buffer yet), and (t, indices) of those that began at step t
        self._unstarted = list(range(len(self.vec.params)))
        self._begun = (-1, [])

    def _checked_hyperparameters(self, hp):
        """The constructor's checks (``load_state_dict`` runs them too)."""
        momentum = unit_interval("SGD", "momentum", hp["momentum"])
        weight_decay = positive_float("SGD", "weight_decay", hp["weight_decay"],
                                      allow_zero=True)
        dampening = unit_interval("SGD", "dampening", hp["dampening"])
        nesterov = boolean("SGD", "nesterov", hp["nesterov"])
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0; got momentum=0")
        if nesterov and dampening:
            raise ValueError(f"SGD: nesterov=True needs dampening=0 (as in PyTorch); got "
                             f"dampening={dampening}")
        return dict(momentum=momentum, nesterov=nesterov, weight_decay=weight_decay,
                    dampening=dampening)

    def _beginning(self):
        """``(first, fresh)`` for :func:`sgd_rule`: the buffers that begin at this step (the
        unfrozen parameters whose buffer has not begun), as slices of the theta being
        stepped (within the part, in a :meth:`step_part`), or ``first`` when they cover it.
        Runs only while some buffer has not begun.

        A buffer begins at the step, whichever part steps it: every data-parallel rank
        steps the same steps (each its own shard), so every rank's ``_unstarted`` (which
        its checkpoint carries) is the same, as after a whole :meth:`step`."""
        vec, t = self.vec, self.t
        begun = self._begun[1] if self._begun[0] == t else []  # another part of this step
        part = getattr(self, "_part", None)
        lo, hi = (0, vec.size) if part is None else part.indices(vec.size)[:2]
        skipped = {id(p) for p in getattr(self, "_skipped", ())}  # frozen, or no gradient
        now = [i for i in self._unstarted if id(vec.params[i]) not in skipped]
        if now:
            self._unstarted = [i for i in self._unstarted if id(vec.params[i]) in skipped]
            begun = begun + now
        self._begun = (t, begun)
        fresh = []
        for i in begun:
            sl = vec.slices[i]
            start, stop = max(sl.start, lo), min(sl.stop, hi)
            if start < stop:
                fresh.append(slice(start - lo, stop - lo))
        if sum(s.stop - s.start for s in fresh) == hi - lo:
            return True, ()
        return False, fresh

    def _update(self, theta, grad, keep=None):
        if self.momentum and self.velocity is None:  # momentum switched on after construction
            self.velocity = self._zeros()
            self._unstarted = list(range(len(self.vec.params)))  # every buffer begins anew
        first, fresh = False, ()
        if self.momentum and (self._unstarted or self._begun[0] == self.t):
            first, fresh = self._beginning()
        sgd_rule(theta, grad, self.velocity if self.momentum else None, self._buf, lr=self.lr,
                 momentum=self.momentum, nesterov=self.nesterov,
                 weight_decay=self.weight_decay, first=first, keep=keep,
                 dampening=self.dampening, fresh=fresh)

    def state_dict(self):
        """As :meth:`Optimizer.state_dict`, plus ``momentum_unstarted``: the indices of the
        parameters whose momentum buffer has not begun (frozen so far)."""
        state = super().state_dict()
        state["momentum_unstarted"] = [int(i) for i in self._unstarted]
        return state

    def load_state_dict(self, state):
        """As :meth:`Optimizer.load_state_dict`; a state without ``momentum_unstarted`` (an
        older checkpoint) counts every buffer as begun after the first step."""
        unstarted = state.get("momentum_unstarted") if isinstance(state, dict) else None
        n = len(self.vec.params)
        if unstarted is None:
            t = state.get("t", self.t) if isinstance(state, dict) else 0
            unstarted = list(range(n)) if t == 0 else []
        elif (not isinstance(unstarted, (list, tuple, np.ndarray))
              or not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool)
                         and 0 <= i < n for i in unstarted)
              or len(set(int(i) for i in unstarted)) != len(unstarted)):
            raise ValueError(f"SGD.load_state_dict: momentum_unstarted must be distinct "
                             f"parameter indices in [0, {n}); got {unstarted!r:.60}")
        super().load_state_dict(state)
        self._unstarted = sorted(int(i) for i in unstarted)
        self._begun = (-1, [])
        return self
