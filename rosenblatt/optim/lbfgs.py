"""Limited-memory BFGS (notes: "Contractive vs denoising autoencoders": a deterministic
gradient "means second-order optimizers can be used (conjugate gradient, LBFGs, etc)").

L-BFGS builds its search direction ``d = -H g`` from an approximation ``H`` of the inverse
Hessian that it never forms: the last ``m`` steps ``s_i = theta_{i+1} - theta_i`` and
gradient changes ``y_i = g_{i+1} - g_i`` define it, applied to ``g`` by the two-loop
recursion in ``O(m n)``. Each direction is followed by a strong Wolfe line search
(:mod:`rosenblatt.optim.line_search`), which keeps every pair's curvature ``y_i . s_i``
positive and so ``H`` positive definite: ``d`` always descends.
"""

import numpy as np

from ..checks import positive_float, positive_int
from .line_search import LineSearchOptimizer


def two_loop(g, S, Y, rho, order, gamma):
    """``H g`` by the two-loop recursion (Nocedal and Wright, Algorithm 7.4).

    ``S``, ``Y``: (m, n) stored steps and gradient changes; ``rho[i] = 1 / (y_i . s_i)``;
    ``order``: the rows in use, oldest first; ``H_0 = gamma I``.

    .. math::

        q \\leftarrow g;\\ \\alpha_i = \\rho_i s_i^\\top q,\\ q \\leftarrow q - \\alpha_i y_i
        \\ (\\text{newest to oldest});\\ r \\leftarrow \\gamma q;\\
        \\beta_i = \\rho_i y_i^\\top r,\\ r \\leftarrow r + (\\alpha_i - \\beta_i) s_i
        \\ (\\text{oldest to newest})
    """
    q = g.copy()
    alpha = {}
    for i in reversed(order):
        alpha[i] = rho[i] * float(np.dot(S[i], q))
        q -= alpha[i] * Y[i]
    q *= gamma
    for i in order:
        beta = rho[i] * float(np.dot(Y[i], q))
        q += (alpha[i] - beta) * S[i]
    return q


class LBFGS(LineSearchOptimizer):
    """L-BFGS with a strong Wolfe line search; ``step(closure)`` runs up to ``max_iter``
    iterations.

    Parameters
    ----------
    params : iterable of Parameter or ParameterVector
    lr : float, default 1
        The first trial step of each line search (the quasi-Newton step is already scaled:
        1 is right); the very first direction, steepest descent, tries
        ``lr * min(1, 1 / ||g||_1)``.
    max_iter : int, default 20
        Iterations (directions) per ``step``.
    max_eval : int, optional
        Evaluations of the objective per ``step`` (default ``1.25 max_iter``).
    tolerance_grad : float, default 1e-7
        Stop when every gradient component is at most this in size.
    tolerance_change : float, default 1e-9
        Stop when a step moves no weight, or the objective, by more than this.
    history_size : int, default 10
        ``m``: the pairs ``(s, y)`` remembered, SciPy's default (``torch.optim.LBFGS``
        keeps 100). The pairs are allocated up front: ``2 m n`` numbers for ``n`` weights.
        Written as an attribute (as every setting here, checked at the next step as the
        constructor checks it), it resizes the memory, keeping the newest pairs that fit.
    line_search : {"strong_wolfe", None}, default "strong_wolfe"
        None takes the trial step as it is (cheaper, no guarantee of descent).

    Attributes
    ----------
    loss : float or None
        The objective at the point the last step reached.
    evaluations : int
        Evaluations of the objective so far.

    Notes
    -----
    After each iteration the pair is kept if ``y . s > 1e-10`` (with Wolfe steps it always
    is), and ``H_0 = gamma I`` with ``gamma = (s . y) / (y . y)`` of the newest pair
    (Nocedal and Wright, 7.20). rb.fit's checkpoints store the pairs: a resumed run goes on
    exactly as an uninterrupted one.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> w = rb.nn.Parameter(np.array([3.0, -2.0]))
    >>> opt = rb.optim.LBFGS([w])
    >>> round(opt.step(lambda: ((w - 1.0) ** 2).sum()), 12)
    0.0

    References
    ----------
    Liu and Nocedal, "On the limited memory BFGS method for large scale optimization",
    Mathematical Programming 45, 1989. Nocedal and Wright, "Numerical Optimization",
    2nd ed., 2006, chapter 7.
    """

    hyperparameters = ("lr", "max_iter", "max_eval", "tolerance_grad", "tolerance_change",
                       "history_size", "line_search")
    extra_state_keys = ("S", "Y", "rho", "pairs", "head", "evaluations")

    def __init__(self, params, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=10, line_search="strong_wolfe"):
        super().__init__(params, lr, max_iter, max_eval, tolerance_grad, tolerance_change,
                         line_search)
        positive_float("LBFGS", "lr", self.lr)  # a zero first step would never move
        self.history_size = positive_int("LBFGS", "history_size", history_size)
        n = self.vec.data.size
        self.S = np.zeros((self.history_size, n), dtype=self.vec.data.dtype)
        self.Y = np.zeros_like(self.S)
        self.rho = np.zeros(self.history_size)
        self.pairs = 0  # pairs stored, at most history_size
        self.head = 0   # the row the next pair goes into

    zero_lr_allowed = False  # a zero first step would never move (the constructor's check)

    def _checked_hyperparameters(self, hp):
        """The constructor's checks (a value written as an attribute is checked by them at
        the next step, ``load_state_dict`` runs them too)."""
        checked = super()._checked_hyperparameters(hp)
        checked["history_size"] = positive_int("LBFGS", "history_size", hp["history_size"])
        return checked

    def _set_hyperparameters(self, **hp):
        """As :meth:`Optimizer._set_hyperparameters`; a ``history_size`` written as an
        attribute resizes the memory, keeping the newest pairs that fit."""
        super()._set_hyperparameters(**hp)
        if self.history_size != len(self.rho):
            self.S, self.Y, self.rho, self.pairs, self.head = self._memory(self.history_size)

    def _memory(self, m):
        """``(S, Y, rho, pairs, head)``: the memory resized to ``m`` pairs, the newest that
        fit (new arrays; the memory itself is left as it is)."""
        rows = self._order()[-m:]  # the newest pairs that fit, oldest first
        k = len(rows)
        S, Y, rho = np.zeros((m, self.S.shape[1]), dtype=self.S.dtype), \
            np.zeros((m, self.Y.shape[1]), dtype=self.Y.dtype), np.zeros(m)
        S[:k], Y[:k], rho[:k] = self.S[rows], self.Y[rows], self.rho[rows]
        return S, Y, rho, k, k % m

    def _order(self):
        """The rows in use, oldest first."""
        m = len(self.rho)  # history_size, unless written since (resized at the next step)
        return [(self.head - self.pairs + k) % m for k in range(self.pairs)]

    def _direction(self, g):
        if not self.pairs:
            return np.negative(g)
        newest = (self.head - 1) % len(self.rho)
        y = self.Y[newest]
        gamma = 1.0 / (self.rho[newest] * float(np.dot(y, y)))
        return np.negative(two_loop(g, self.S, self.Y, self.rho, self._order(), gamma))

    def _first_step(self, g, slope):
        if self.pairs:
            return self.lr
        return self.lr * min(1.0, 1.0 / float(np.sum(np.abs(g))))

    def _remember(self, s, y, g, d, a, slope):
        ys = float(np.dot(y, s))
        if ys <= 1e-10:  # no positive curvature along s: the pair would spoil H
            return
        self.S[self.head] = s
        self.Y[self.head] = y
        self.rho[self.head] = 1.0 / ys
        self.head = (self.head + 1) % len(self.rho)
        self.pairs = min(self.pairs + 1, len(self.rho))

    def _restart(self):
        self.pairs = 0

    def state_dict(self):
        """Hyper-parameters, ``t`` and the remembered pairs (copies). A ``history_size``
        written since the last step is saved with the memory resized to it, as the next step
        will resize it (the newest pairs that fit): the state loads as its sizes say."""
        state = super().state_dict()
        m = self.history_size
        if m != len(self.rho) and isinstance(m, (int, np.integer)) and not isinstance(m, bool) \
                and m > 0:
            S, Y, rho, pairs, head = self._memory(m)  # (an invalid one: saved as it is,
        else:                                         # refused on loading, as at the step)
            S, Y, rho, pairs, head = self.S.copy(), self.Y.copy(), self.rho.copy(), \
                self.pairs, self.head
        state.update(S=S, Y=Y, rho=rho, pairs=int(pairs), head=int(head),
                     evaluations=int(self.evaluations))
        return state

    def _check_state(self, state):
        super()._check_state(state)
        name = "LBFGS.load_state_dict"
        if "lr" in state and self.schedule is None:  # as the constructor: a number is > 0
            positive_float(name, "lr", state["lr"])
        m = positive_int(name, "history_size", state.get("history_size", self.history_size))
        shape = (m, self.vec.data.size)
        for key in ("S", "Y"):
            if np.shape(state.get(key)) != shape or not np.all(np.isfinite(state[key])):
                raise ValueError(f"{name}: {key} must be a finite array of shape {shape} "
                                 f"(history_size x weights); got {np.shape(state.get(key))}")
        rho = np.asarray(state.get("rho"), dtype=np.float64)
        if rho.shape != (m,) or not np.all(np.isfinite(rho)):
            raise ValueError(f"{name}: rho must be {m} finite numbers; got "
                             f"{state.get('rho')!r:.60}")
        for key, high in (("pairs", m), ("head", m - 1)):
            value = positive_int(name, key, state.get(key), allow_zero=True)
            if value > high:
                raise ValueError(f"{name}: {key} must lie in [0, {high}]; got {value}")

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned (in place); returns self. Every value is
        checked before anything changes."""
        super().load_state_dict(state)
        self.S = np.array(state["S"], dtype=self.vec.data.dtype)
        self.Y = np.array(state["Y"], dtype=self.vec.data.dtype)
        self.rho = np.array(state["rho"], dtype=np.float64).reshape(self.history_size)
        self.pairs, self.head = int(state["pairs"]), int(state["head"])
        return self
