"""Nonlinear conjugate gradient (notes: "Contractive vs denoising autoencoders": a
deterministic gradient "means second-order optimizers can be used (conjugate gradient,
LBFGs, etc)").

Each direction mixes the steepest descent with the last direction,
``d_k = -g_k + beta_k d_{k-1}``, so that on a quadratic the directions are conjugate and
the minimum of ``n`` weights is reached in ``n`` exact line searches; on a network's loss
the method keeps the memory of one direction, ``O(n)``, and restarts from ``-g`` every
``restart`` iterations or when ``d`` stops descending. ``beta`` by ``method``:

``"polak_ribiere"`` (default, PR+)
    ``max(0, g_k . (g_k - g_{k-1}) / ||g_{k-1}||^2)``: restarts by itself when progress
    stalls.
``"fletcher_reeves"``
    ``||g_k||^2 / ||g_{k-1}||^2``.
``"hestenes_stiefel"``
    ``g_k . y / (d_{k-1} . y)``, ``y = g_k - g_{k-1}``.
``"dai_yuan"``
    ``||g_k||^2 / (d_{k-1} . y)``.

The line search is strong Wolfe with ``c2 = 0.1`` (Nocedal and Wright's choice for
conjugate gradient; Fletcher-Reeves needs ``c2 < 1/2`` to be sure of descent).
"""

import numpy as np

from ..checks import one_of, positive_int
from .line_search import LineSearchOptimizer

METHODS = ("polak_ribiere", "fletcher_reeves", "hestenes_stiefel", "dai_yuan")


def conjugate_beta(method, g, g_prev, d_prev):
    """``beta_k`` of ``d_k = -g_k + beta_k d_{k-1}`` by ``method`` (see the module docstring)."""
    if method == "fletcher_reeves":
        return float(np.dot(g, g)) / float(np.dot(g_prev, g_prev))
    y = g - g_prev
    if method == "polak_ribiere":
        return max(0.0, float(np.dot(g, y)) / float(np.dot(g_prev, g_prev)))
    dy = float(np.dot(d_prev, y))
    if dy == 0.0:
        return 0.0
    numerator = np.dot(g, y) if method == "hestenes_stiefel" else np.dot(g, g)
    return float(numerator) / dy


class ConjugateGradient(LineSearchOptimizer):
    """Nonlinear conjugate gradient with a strong Wolfe line search; ``step(closure)`` runs
    up to ``max_iter`` iterations.

    Parameters
    ----------
    params : iterable of Parameter or ParameterVector
    lr : float, default 1
        Scales the first trial step of a search after a restart,
        ``lr * min(1, 1 / ||g||_1)``; later searches start from the last step scaled by the
        ratio of slopes, ``a_{k-1} (g_{k-1} . d_{k-1}) / (g_k . d_k)`` (Nocedal and Wright,
        3.60).
    method : {"polak_ribiere", "fletcher_reeves", "hestenes_stiefel", "dai_yuan"}
    max_iter : int, default 20
        Iterations (directions) per ``step``.
    max_eval : int, optional
        Evaluations of the objective per ``step`` (default ``1.25 max_iter``).
    tolerance_grad, tolerance_change : float
        As in :class:`~rosenblatt.optim.LBFGS`.
    restart : int, optional
        Start again from ``-g`` every ``restart`` iterations (default: the number of
        weights, the length of a conjugate sequence on a quadratic).
    line_search : {"strong_wolfe"}, default "strong_wolfe"
        The method needs it (kept as an argument for the family's common signature).

    Examples
    --------
    >>> import rosenblatt as rb
    >>> w = rb.nn.Parameter(np.array([3.0, -2.0]))
    >>> opt = rb.optim.ConjugateGradient([w])
    >>> round(opt.step(lambda: ((w - 1.0) ** 2).sum()), 12)
    0.0

    References
    ----------
    Hestenes and Stiefel 1952; Fletcher and Reeves 1964; Polak and Ribiere 1969; Dai and
    Yuan 1999. Nocedal and Wright, "Numerical Optimization", 2nd ed., 2006, chapter 5.
    """

    hyperparameters = ("lr", "method", "max_iter", "max_eval", "tolerance_grad",
                       "tolerance_change", "restart", "line_search")
    state_names = ("prev_grad", "direction")
    extra_state_keys = ("since_restart", "prev_step", "prev_slope", "evaluations")
    c2 = 0.1

    def __init__(self, params, lr=1.0, method="polak_ribiere", max_iter=20, max_eval=None,
                 tolerance_grad=1e-7, tolerance_change=1e-9, restart=None,
                 line_search="strong_wolfe"):
        if line_search is None:
            raise ValueError("ConjugateGradient: line_search must be 'strong_wolfe': the method "
                             "needs its line search (a fixed step makes the directions "
                             "meaningless and can climb); for fixed steps use rb.optim.SGD")
        super().__init__(params, lr, max_iter, max_eval, tolerance_grad, tolerance_change,
                         line_search)
        self.method = one_of("ConjugateGradient", "method", method, METHODS)
        self.restart = None if restart is None else \
            positive_int("ConjugateGradient", "restart", restart)
        self.prev_grad = self._zeros()
        self.direction = self._zeros()
        self.since_restart = 0   # iterations since the last restart (0: the next is one)
        self.prev_step = 0.0     # a_{k-1}
        self.prev_slope = 0.0    # g_{k-1} . d_{k-1}

    def _checked_hyperparameters(self, hp):
        """The constructor's checks (a value written as an attribute is checked by them at
        the next step, ``load_state_dict`` runs them too)."""
        checked = super()._checked_hyperparameters(hp)
        if checked["line_search"] is None:
            raise ValueError("ConjugateGradient: line_search must be 'strong_wolfe': the "
                             "method needs its line search (for fixed steps use rb.optim.SGD)")
        checked["method"] = one_of("ConjugateGradient", "method", hp["method"], METHODS)
        checked["restart"] = None if hp["restart"] is None else \
            positive_int("ConjugateGradient", "restart", hp["restart"])
        return checked

    def _direction(self, g):
        period = self.vec.data.size if self.restart is None else self.restart
        if self.since_restart == 0 or self.since_restart >= period:
            self.since_restart = 0
            return np.negative(g)
        beta = conjugate_beta(self.method, g, self.prev_grad, self.direction)
        d = self.direction * beta
        d -= g
        return d

    def _first_step(self, g, slope):
        if self.since_restart == 0:
            return self.lr * min(1.0, 1.0 / float(np.sum(np.abs(g))))
        a1 = self.prev_step * self.prev_slope / slope
        return a1 if 0.0 < a1 < float("inf") else self.lr * min(1.0, 1.0 / float(np.sum(np.abs(g))))

    def _remember(self, s, y, g, d, a, slope):
        np.copyto(self.prev_grad, g)  # the gradient where the search began
        np.copyto(self.direction, d)
        self.prev_step, self.prev_slope = a, slope
        self.since_restart += 1

    def _restart(self):
        self.since_restart = 0

    def reset(self):
        """A new batch: conjugacy with the last batch's directions is lost; restart."""
        self._restart()

    def state_dict(self):
        """Hyper-parameters, ``t``, the last gradient and direction, and the restart clock."""
        state = super().state_dict()
        state.update(since_restart=int(self.since_restart), prev_step=float(self.prev_step),
                     prev_slope=float(self.prev_slope), evaluations=int(self.evaluations))
        return state

    def _check_state(self, state):
        super()._check_state(state)
        name = "ConjugateGradient.load_state_dict"
        one_of(name, "method", state.get("method", self.method), METHODS)
        if state.get("line_search", self.line_search) is None:
            raise ValueError(f"{name}: line_search must be 'strong_wolfe' (conjugate gradient "
                             f"needs its line search)")
        if state.get("restart") is not None:
            positive_int(name, "restart", state["restart"])
        positive_int(name, "since_restart", state.get("since_restart"), allow_zero=True)
        for key in ("prev_step", "prev_slope"):
            value = state.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not np.isfinite(value):
                raise ValueError(f"{name}: {key} must be a finite number; got {value!r:.40}")

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned (in place); returns self. Every value is
        checked before anything changes."""
        super().load_state_dict(state)
        self.since_restart = int(state["since_restart"])
        self.prev_step, self.prev_slope = float(state["prev_step"]), float(state["prev_slope"])
        return self
