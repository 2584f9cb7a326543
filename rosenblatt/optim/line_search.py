"""The strong Wolfe line search of the second-order optimizers (notes: "Contractive vs denoising
autoencoders": a deterministic gradient lets conjugate gradient and L-BFGS be used).

Along a descent direction ``d`` from ``theta``, with ``phi(a) = f(theta + a d)`` and
``phi'(a) = grad f(theta + a d) . d``, a step ``a`` satisfies the strong Wolfe conditions when

    phi(a) <= phi(0) + c1 a phi'(0)       (sufficient decrease)
    |phi'(a)| <= c2 |phi'(0)|             (curvature)

with ``0 < c1 < c2 < 1``. The search (Nocedal and Wright, Algorithms 3.5 and 3.6) grows the
trial step until it brackets such a step, then shrinks the bracket, each trial point at the
minimiser of the cubic through the bracket's two ends (values and slopes), kept away from
the ends. A non-finite objective counts as "too far". ``c2 = 0.9`` suits quasi-Newton
directions (L-BFGS), ``c2 = 0.1`` conjugate gradient.

References
----------
Nocedal and Wright, "Numerical Optimization", 2nd ed., Springer 2006, section 3.5.
"""

import math

import numpy as np

from ..autodiff.tensor import Tensor
from ..checks import positive_float, positive_int
from .optimizer import Optimizer, check_state_keys


def cubic_minimizer(a, fa, ga, b, fb, gb, low, high):
    """The minimiser of the cubic through ``(a, fa)`` and ``(b, fb)`` with slopes ``ga`` and
    ``gb``, clipped to ``[low, high]``; the bisection of ``[low, high]`` if it has none.

    Nocedal and Wright (3.59): ``d1 = ga + gb - 3 (fa - fb) / (a - b)``,
    ``d2 = sign(b - a) sqrt(d1^2 - ga gb)``,
    ``x = b - (b - a) (gb + d2 - d1) / (gb - ga + 2 d2)``.
    """
    if a == b or not all(math.isfinite(v) for v in (fa, ga, fb, gb)):
        return 0.5 * (low + high)
    d1 = ga + gb - 3.0 * (fa - fb) / (a - b)
    square = d1 * d1 - ga * gb
    if square < 0.0:
        return 0.5 * (low + high)
    d2 = math.copysign(math.sqrt(square), b - a)
    denominator = gb - ga + 2.0 * d2
    if denominator == 0.0:
        return 0.5 * (low + high)
    x = b - (b - a) * (gb + d2 - d1) / denominator
    return min(max(x, low), high) if math.isfinite(x) else 0.5 * (low + high)


class Evaluations:
    """The objective along the line: ``phi(a)`` moves theta to ``theta0 + a d`` and returns
    ``(f, grad, slope)``, counting evaluations; ``best`` is the lowest finite point seen."""

    def __init__(self, theta, d, evaluate):
        self.theta, self.d, self.evaluate = theta, d, evaluate
        self.theta0 = theta.copy()
        self.count = 0
        self.best = None  # (f, a, grad)

    def __call__(self, a):
        np.multiply(self.d, a, out=self.theta)
        self.theta += self.theta0
        f, grad = self.evaluate()
        self.count += 1
        slope = float(np.dot(grad, self.d)) if math.isfinite(f) else math.nan
        if not math.isfinite(slope):  # a NaN or inf gradient: as unusable as a NaN objective
            f = math.inf
        if math.isfinite(f) and (self.best is None or f < self.best[0]):
            self.best = (f, a, grad.copy())
        return f, grad, slope

    def go_to(self, a):
        if a == 0.0:  # exactly the start (theta0 + 0 * d is NaN where d is not finite)
            np.copyto(self.theta, self.theta0)
            return
        np.multiply(self.d, a, out=self.theta)
        self.theta += self.theta0


def strong_wolfe(phi, f0, g0, slope0, a1, *, c1=1e-4, c2=0.9, max_evaluations=25,
                 grow=10.0):
    """A step satisfying the strong Wolfe conditions along ``phi`` (an :class:`Evaluations`).

    Parameters
    ----------
    phi : Evaluations
    f0, g0, slope0 : float, ndarray, float
        The objective, gradient and slope ``phi'(0)`` (< 0) at the start.
    a1 : float
        The first trial step (> 0).
    c1, c2 : float
        The sufficient-decrease and curvature constants, ``0 < c1 < c2 < 1``.
    max_evaluations : int
        At most this many evaluations of the objective.
    grow : float
        The bracketing phase tries steps up to ``grow`` times the last one.

    Returns
    -------
    (a, f, grad, found)
        The step taken (theta is left at ``theta0 + a d``), its objective and gradient, and
        whether the conditions hold. When they do not (evaluations spent), the lowest point
        seen is returned if it decreased the objective, else ``a = 0`` (theta put back).
    """
    a_prev, f_prev, slope_prev = 0.0, f0, slope0
    a = a1
    bracket = None
    while phi.count < max_evaluations:
        f, grad, slope = phi(a)
        if not math.isfinite(f) or f > f0 + c1 * a * slope0 or (a_prev > 0 and f >= f_prev):
            bracket = (a_prev, f_prev, slope_prev, a, f, slope)
            break
        if abs(slope) <= -c2 * slope0:
            return a, f, grad, True
        if slope >= 0:
            bracket = (a, f, slope, a_prev, f_prev, slope_prev)
            break
        # extrapolate: the cubic's minimiser beyond a, at most `grow` times further
        a_next = cubic_minimizer(a_prev, f_prev, slope_prev, a, f, slope,
                                 a + 0.01 * (a - a_prev), a * grow)
        a_prev, f_prev, slope_prev = a, f, slope
        a = a_next
    if bracket is not None:
        found = _zoom(phi, bracket, f0, slope0, c1, c2, max_evaluations)
        if found is not None:
            return found
    return _fallback(phi, f0, g0)


def _zoom(phi, bracket, f0, slope0, c1, c2, max_evaluations):
    """Shrink ``(lo, hi)``: ``lo`` the best step so far that decreases enough; the
    minimiser lies between them (Nocedal and Wright, Algorithm 3.6)."""
    lo, f_lo, s_lo, hi, f_hi, s_hi = bracket
    while phi.count < max_evaluations:
        low, high = min(lo, hi), max(lo, hi)
        width = high - low
        if width <= 1e-10 * high:  # relative: a badly scaled problem's steps may be tiny
            break
        margin = 0.1 * width  # keep the trial point away from the ends: a sure shrink
        if math.isfinite(f_hi):
            a = cubic_minimizer(lo, f_lo, s_lo, hi, f_hi, s_hi, low + margin, high - margin)
        else:
            a = 0.5 * (low + high)
        f, grad, slope = phi(a)
        if not math.isfinite(f) or f > f0 + c1 * a * slope0 or f >= f_lo:
            hi, f_hi, s_hi = a, f, slope
            continue
        if abs(slope) <= -c2 * slope0:
            return a, f, grad, True
        if slope * (hi - lo) >= 0:
            hi, f_hi, s_hi = lo, f_lo, s_lo
        lo, f_lo, s_lo = a, f, slope
    return None


def _fallback(phi, f0, g0):
    """No Wolfe step within the budget: the lowest point seen if it is below the start, else
    back to the start."""
    if phi.best is not None and phi.best[0] < f0:
        f, a, grad = phi.best
        phi.go_to(a)
        return a, f, grad, False
    phi.go_to(0.0)
    return 0.0, f0, g0, False


class LineSearchOptimizer(Optimizer):
    """Base of the optimizers that search along a direction: one ``step(closure)`` runs up to
    ``max_iter`` iterations, each a direction (:meth:`_direction`) and a strong Wolfe line
    search along it, then updates what the method remembers (:meth:`_remember`).

    The objective must be deterministic: the line search compares values of ``closure()``
    at different points, which a fresh noise sample at every call (dropout, a denoising
    corruption) would make meaningless. ``rb.fit`` builds the closure (the loss, plus
    penalties, on the batch: the whole set when ``batch_size >= len(X)``).
    """

    #: ``rb.fit`` calls ``step(closure)`` instead of ``backward(); step()``.
    needs_closure = True
    c2 = 0.9

    def __init__(self, params, lr, max_iter, max_eval, tolerance_grad, tolerance_change,
                 line_search):
        super().__init__(params, lr)
        common = self._checked_common(dict(
            max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change, line_search=line_search))
        for key, value in common.items():
            setattr(self, key, value)
        self.loss = None
        self.evaluations = 0
        self.iterations = 0  # directions searched, over all steps
        self._g = self._zeros()

    def _checked_common(self, hp):
        """The constructor's checks of the settings every line-search optimizer has (a
        ``max_eval`` of None becomes its default, ``1.25 max_iter``)."""
        name = type(self).__name__
        max_iter = positive_int(name, "max_iter", hp["max_iter"])
        max_eval = hp["max_eval"]
        max_eval = (max_iter * 5 + 3) // 4 if max_eval is None else \
            positive_int(name, "max_eval", max_eval)
        line_search = hp["line_search"]
        if not (line_search is None or line_search == "strong_wolfe"):
            raise ValueError(f"{name}: line_search must be 'strong_wolfe' or None (a fixed "
                             f"step of lr); got {line_search!r:.60}")
        return dict(
            max_iter=max_iter, max_eval=max_eval,
            tolerance_grad=positive_float(name, "tolerance_grad", hp["tolerance_grad"],
                                          allow_zero=True),
            tolerance_change=positive_float(name, "tolerance_change", hp["tolerance_change"],
                                            allow_zero=True),
            line_search=line_search)

    def _checked_hyperparameters(self, hp):
        """The constructor's checks (a value written as an attribute is checked by them at
        the next step, ``load_state_dict`` runs them too); subclasses add their own."""
        return self._checked_common(hp)

    def _evaluate(self, closure, frozen):
        """``(f, grad)`` at the current theta: ``closure()`` differentiated (unless it returned
        a plain number, its gradient then already in the parameters' ``grad``); the gradient
        a copy, zero at frozen parameters. TypeError when no gradient was computed (a number,
        or a Tensor that does not require grad, and every ``grad`` None): the search would
        read a zero gradient and stop at once."""
        self.zero_grad()
        value = closure_value = closure()
        if isinstance(value, Tensor):
            if value.size != 1:
                raise ValueError(f"{type(self).__name__}.step: the closure must return the "
                                 f"objective, one number; got a Tensor of shape {value.shape}")
            # PyTorch's idiom (zero_grad(); loss.backward(); return loss) leaves gradients in
            # the parameters: differentiate only when the closure did not
            if value.requires_grad and all(p.grad is None for p in self.vec.params):
                value.backward()
            elif all(p.grad is None for p in self.vec.params):
                raise TypeError(
                    f"{type(self).__name__}.step: the closure returned a Tensor that does not "
                    f"require grad (computed under no_grad(), or from .data) and computed no "
                    f"gradient: return the loss Tensor computed from the parameters")
            value = value.item()
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"{type(self).__name__}.step: the closure must return the "
                            f"objective (a Tensor or a number); got "
                            f"{type(value).__name__}") from None
        if not isinstance(closure_value, Tensor) and \
                all(p.grad is None for p in self.vec.params):
            raise TypeError(
                f"{type(self).__name__}.step: the closure returned a "
                f"{type(value).__name__}, not a Tensor, and computed no gradient (every "
                f"parameter's grad is None): return the loss Tensor, or call backward() on it "
                f"in the closure before returning its value")
        self.evaluations += 1
        np.copyto(self._g, self.vec.grad)
        for sl in frozen:
            self._g[sl] = 0.0
        return f, self._g

    def step(self, closure=None):
        """Up to ``max_iter`` line-search iterations on ``closure``; returns the objective at
        the point reached.

        Parameters
        ----------
        closure : callable
            ``closure()`` returns the objective at the current weights: a scalar Tensor,
            which the optimizer differentiates, or a number after the closure's own
            ``backward()``.

        Notes
        -----
        Stops early when the largest gradient component is at most ``tolerance_grad``, or
        a step moves no weight or the objective by more than ``tolerance_change``, or the
        line search finds no lower point, or ``max_eval`` evaluations are spent. With the
        line search the weights never end a step above where it started; when the closure
        raises during a search, they are put back where that search began.

        Raises
        ------
        FloatingPointError
            When the objective is finite but its gradient is not (NaN or inf): no direction
            can be built, and the weights are left as they were.
        """
        name = type(self).__name__
        if not callable(closure):
            raise TypeError(f"{name}.step needs a closure: a function that returns the "
                            f"objective at the current weights; got {type(closure).__name__}")
        vec = self.vec
        theta = vec.data
        frozen = self._frozen(theta, vec.grad)
        start = self.evaluations
        f, g = self._evaluate(closure, frozen)
        g = g.copy()
        self.loss = f
        if math.isfinite(f) and not np.isfinite(g).all():
            raise FloatingPointError(
                f"{name}.step: the objective is finite ({f:.6g}) but its gradient is not (NaN or "
                f"inf at {int((~np.isfinite(g)).sum())} weights), so no search direction "
                f"exists; the weights are left as they were")
        for _ in range(self.max_iter if math.isfinite(f) and self.lr > 0 else 0):
            if float(np.max(np.abs(g), initial=0.0)) <= self.tolerance_grad:
                break
            d = self._direction(g)
            for sl in frozen:  # parameters frozen since packing: their memory must not move them
                d[sl] = 0.0
            slope = float(np.dot(g, d))
            if not slope < 0:  # not a descent direction: start again from steepest descent
                self._restart()
                d = np.negative(g)
                slope = float(np.dot(g, d))
            a1 = self._first_step(g, slope)
            phi = Evaluations(theta, d, lambda: self._evaluate(closure, frozen))
            budget = self.max_eval - (self.evaluations - start)
            if budget <= 0:
                break
            try:
                if self.line_search == "strong_wolfe":
                    a, f_new, g_new, _ = strong_wolfe(phi, f, g, slope, a1, c2=self.c2,
                                                      max_evaluations=budget)
                else:
                    a, f_new, g_new, _ = _fixed_step(phi, f, g, a1)
            except BaseException:  # an interrupt or a failing closure: not at a trial point
                phi.go_to(0.0)
                raise
            if a == 0.0:
                break
            self.iterations += 1
            s = d * a
            y = g_new - g
            self._remember(s, y, g, d, a, slope)
            change = abs(f_new - f)
            f, g = f_new, g_new.copy()
            self.loss = f
            if float(np.max(np.abs(s), initial=0.0)) <= self.tolerance_change \
                    or change <= self.tolerance_change:
                break
        # the parameters' grad holds the gradient at the weights reached (after a fallback
        # to the best trial point, the last evaluation was elsewhere)
        np.copyto(vec.grad, g)
        self.t += 1
        return f

    def reset(self):
        """The data changed (``rb.fit`` with several batches calls it before each batch)."""

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned (in place); returns self. Every value is
        checked, as the constructor checks it, before anything changes."""
        name = type(self).__name__
        if not isinstance(state, dict) or state.get("algorithm", name) != name:
            got = state.get("algorithm") if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"{name}.load_state_dict: the state is for {got!r}, not {name}")
        check_state_keys(name, state, (*self.hyperparameters, *self.state_names,
                                       *self.extra_state_keys, "lr_scale"))
        self._check_state(state)
        super().load_state_dict(state)
        self.evaluations = int(state.get("evaluations", self.evaluations))
        return self

    def _check_state(self, state):
        """Raise ValueError/TypeError unless the settings in ``state`` are ones the
        constructor accepts (subclasses add their own)."""
        name = f"{type(self).__name__}.load_state_dict"
        for key in ("max_iter", "max_eval"):
            if key in state:
                positive_int(name, key, state[key])
        for key in ("tolerance_grad", "tolerance_change"):
            if key in state:
                positive_float(name, key, state[key], allow_zero=True)
        if "lr" in state:  # 0 too: a schedule's value at a step (cosine at t_max)
            positive_float(name, "lr", state["lr"], allow_zero=True)
        if state.get("line_search", self.line_search) not in ("strong_wolfe", None):
            raise ValueError(f"{name}: line_search must be 'strong_wolfe' or None; got "
                             f"{state['line_search']!r}")
        for key in ("t", "evaluations"):
            if key in state:
                positive_int(name, key, state[key], allow_zero=True)

    def _first_step(self, g, slope):
        raise NotImplementedError

    def _direction(self, g):
        raise NotImplementedError

    def _remember(self, s, y, g, d, a, slope):
        """After a step ``s = a d`` from a point of gradient ``g`` (slope ``g . d``), the
        gradient changed by ``y``."""
        raise NotImplementedError

    def _restart(self):
        raise NotImplementedError

    def _update(self, theta, grad):
        raise TypeError(f"{type(self).__name__} takes step(closure): it evaluates the "
                        f"objective itself along each search direction")


def _fixed_step(phi, f0, g0, a):
    """``line_search=None``: the step ``a`` as it is, unless it gives no finite objective."""
    f, grad, _ = phi(a)
    if not math.isfinite(f):
        phi.go_to(0.0)
        return 0.0, f0, g0, False
    return a, f, grad, True
