"""Boltzmann and Cauchy training (notes: "Statistical (stochastic) training").

Both annealers make a random change to the whole flat weight vector,
re-evaluate the objective, and keep the change if it improves the objective
or, if it worsens it by ``c``, with the Boltzmann probability
``exp(-c / (k T))``. The temperature ``T`` cools with the artificial time
``t`` (the number of steps taken):

* Boltzmann training: Gaussian steps ``P(w) ~ exp(-w^2 / T^2)`` (standard
  deviation ``T / sqrt(2)``) and the slow schedule ``T(t) = T0 / log(1 + t)``
  (``t`` counted from 1, so ``T(1) = T0 / log 2``).
* Cauchy training: fat-tailed steps ``x_c = rho T tan(u)``,
  ``u ~ U(-pi/2, pi/2)``, and the fast schedule ``T(t) = T0 / (1 + t)``.
  With ``backprop_weight`` eta > 0 the step mixes backpropagation in:
  ``eta [alpha dW_prev + (1 - alpha) (-lr grad)] + (1 - eta) x_c``.
  Optional squashing ``w <- R tanh(w / R)`` after each move limits the
  network paralysis that the Cauchy distribution's infinite variance can
  cause: it "reduces large weights while only attenuating smaller ones". As
  the notes recommend, it can be applied only to the incoming weights of
  saturated units (``saturation=(model, X)``: a Sequential whose Dense
  layers feed Tanh/Sigmoid units, probed on inputs ``X``), or to every weight.

Each step re-evaluates ``closure()``, a function returning the objective
(a float or a Tensor) on fixed data; the annealer keeps the current and the
best objective and weights (``restore_best()``). Moves that produce a
non-finite objective are rejected.
"""

import math

import numpy as np

from ..autodiff.tensor import Tensor, no_grad
from ..checks import positive_float, unit_interval
from ..randomness import resolve_rng
from .optimizer import fill_normal, pack


def saturated_units(model, x, level=0.9):
    """``[(dense_layer, unit_mask)]``: the Dense layers of a Sequential feeding saturated units.

    A Tanh (Sigmoid) unit is saturated when the mean of ``|tanh(net)|``
    (``|2 sigmoid(net) - 1|``) over the examples ``x`` is above ``level``.
    """
    from ..nn.activations import Sigmoid, Tanh
    from ..nn.dense import Dense
    from ..nn.module import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"saturated_units: expected an rb.nn.Sequential; got "
                        f"{type(model).__name__}")
    found = []
    out = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    layers = list(model)
    with no_grad(), np.errstate(over="ignore"):
        for layer, after in zip(layers, layers[1:] + [None]):
            out = layer(out)
            if isinstance(layer, Dense) and isinstance(after, (Tanh, Sigmoid)):
                act = np.tanh(out.data) if isinstance(after, Tanh) else \
                    2.0 / (1.0 + np.exp(-out.data)) - 1.0
                units = np.abs(act).reshape(-1, act.shape[-1]).mean(axis=0) > level
                if units.any():
                    found.append((layer, units))
    return found


def metropolis_accept(delta, temperature, k, rng):
    """Keep a change ``delta`` of the objective: always if <= 0, else w.p. exp(-delta / kT)."""
    if not math.isfinite(delta):
        return False
    if delta <= 0:
        return True
    return bool(rng.random() < math.exp(-delta / (k * temperature)))


def _value(loss):
    value = loss.item() if isinstance(loss, Tensor) else float(loss)
    return value if math.isfinite(value) else math.inf


class _Annealer:
    """Shared bookkeeping: flat weights, current/best objective, the accept-or-revert move."""

    def __init__(self, params, T0, k, rng):
        self.vec = pack(params)
        self.T0 = positive_float(type(self).__name__, "T0", T0)
        self.k = positive_float(type(self).__name__, "k", k)
        self.rng = resolve_rng(rng)
        self.t = 0
        self.loss = None
        self.best_loss = math.inf
        self.best_theta = self.vec.data.copy()
        self.accepted = 0
        self._saved = np.empty_like(self.vec.data)
        self._move = np.empty_like(self.vec.data)

    def _evaluate(self, closure):
        with no_grad(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return _value(closure())

    def _try(self, closure, move, temperature):
        """Apply ``move``, keep it per the Metropolis rule, else restore; returns accepted."""
        theta = self.vec.data
        np.copyto(self._saved, theta)
        theta += move
        self._after_move(theta)
        new = self._evaluate(closure)
        if metropolis_accept(new - self.loss, temperature, self.k, self.rng):
            self.loss = new
            self.accepted += 1
            if new < self.best_loss:
                self.best_loss = new
                np.copyto(self.best_theta, theta)
            return True
        np.copyto(theta, self._saved)
        return False

    def _after_move(self, theta):
        pass

    def _start(self, closure):
        if self.loss is None:
            self.loss = self._evaluate(closure)
            self.best_loss = self.loss
            np.copyto(self.best_theta, self.vec.data)

    def reset(self):
        """Forget the cached objective (call when the closure's data change)."""
        self.loss = None

    def restore_best(self):
        """Copy the best weights seen back into the model; returns the best objective."""
        np.copyto(self.vec.data, self.best_theta)
        self.loss = self.best_loss
        return self.best_loss


class BoltzmannAnnealer(_Annealer):
    """Boltzmann training: Gaussian weight changes, Metropolis acceptance, T = T0 / log(1 + t).

    Parameters
    ----------
    params : iterable of Parameter or ParameterVector
    T0 : float
        The initial temperature.
    k : float, default 1.0
        Boltzmann's constant of the acceptance rule ``exp(-c / (k T))``:
        smaller means greedier.
    rng : numpy.random.Generator or int, optional

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> w = rb.nn.Parameter(np.array([3.0]))
    >>> ann = rb.optim.BoltzmannAnnealer([w], T0=1.0, k=0.01, rng=0)
    >>> for _ in range(300):
    ...     _ = ann.step(lambda: float((w.data ** 2).sum()))
    >>> ann.best_loss < 0.01
    True
    """

    def __init__(self, params, T0, k=1.0, rng=None):
        super().__init__(params, T0, k, rng)

    def temperature(self, t=None):
        """``T0 / log(1 + t)`` at step ``t`` (from 1; default: the next step)."""
        t = self.t + 1 if t is None else t
        return self.T0 / math.log1p(t)

    def step(self, closure):
        """One annealing move; returns the current objective."""
        self.vec.check_packed(f"{type(self).__name__}.step")
        self._start(closure)
        temperature = self.temperature()
        fill_normal(self.rng, self._move)
        self._move *= temperature / math.sqrt(2.0)
        self._try(closure, self._move, temperature)
        self.t += 1
        return self.loss


class CauchyAnnealer(_Annealer):
    """Cauchy training, optionally mixed with backpropagation: T = T0 / (1 + t).

    Parameters
    ----------
    params : iterable of Parameter or ParameterVector
    T0 : float
        The initial temperature.
    rho : float, default 1.0
        The learning-rate coefficient of the Cauchy step ``rho T tan(u)``.
    backprop_weight : float, default 0.0
        The notes' eta in [0, 1]: 0 is pure Cauchy training, 1 pure backprop
        (the closure must then return a Tensor that can be backpropagated).
    momentum : float, default 0.0
        The notes' alpha, weighting the previous accepted change in the backprop part.
    lr : float, default 0.1
        The backprop part's learning rate.
    k : float, default 1.0
        Boltzmann's constant of the acceptance rule.
    squash : float, optional
        ``R``: after each move, ``w <- R tanh(w / R)``.
    saturation : (Sequential, ndarray) or (Sequential, ndarray, float), optional
        Squash only the weights and bias of units that are saturated on these
        inputs (mean ``|tanh|`` or ``|2 sigmoid - 1|`` above the level,
        default 0.9); needs ``squash``. Costs one forward pass per move.
    rng : numpy.random.Generator or int, optional

    References
    ----------
    Szu and Hartley, "Fast simulated annealing", Physics Letters A, 1987.
    Wasserman, "Neural Computing: Theory and Practice", 1989 (chapter 5).
    """

    def __init__(self, params, T0, rho=1.0, backprop_weight=0.0, momentum=0.0, lr=0.1, k=1.0,
                 squash=None, saturation=None, rng=None):
        super().__init__(params, T0, k, rng)
        self.rho = positive_float("CauchyAnnealer", "rho", rho)
        self.backprop_weight = positive_float("CauchyAnnealer", "backprop_weight",
                                              backprop_weight, allow_zero=True)
        if self.backprop_weight > 1:
            raise ValueError(f"CauchyAnnealer: backprop_weight must be in [0, 1]; "
                             f"got {backprop_weight!r}")
        self.momentum = unit_interval("CauchyAnnealer", "momentum", momentum)
        self.lr = positive_float("CauchyAnnealer", "lr", lr, allow_zero=True)
        self.squash = None if squash is None else positive_float("CauchyAnnealer", "squash",
                                                                 squash)
        if saturation is not None and self.squash is None:
            raise ValueError("CauchyAnnealer: saturation=(model, X) needs squash=R")
        if saturation is not None and (not isinstance(saturation, (tuple, list))
                                       or len(saturation) not in (2, 3)):
            raise TypeError(f"CauchyAnnealer: saturation must be (model, X) or (model, X, level); "
                            f"got {type(saturation).__name__} {saturation!r}")
        self.saturation = saturation
        self.prev_change = np.zeros_like(self.vec.data)

    def temperature(self, t=None):
        """``T0 / (1 + t)`` at step ``t`` (default: the next step, ``t`` = steps taken)."""
        t = self.t if t is None else t
        return self.T0 / (1.0 + t)

    def _after_move(self, theta):
        if self.squash is None:
            return
        if self.saturation is None:
            np.tanh(theta / self.squash, out=theta)
            theta *= self.squash
            return
        model, x, *level = self.saturation
        r = self.squash
        for layer, units in saturated_units(model, x, *level):  # in place: views of theta
            layer.W.data[:, units] = r * np.tanh(layer.W.data[:, units] / r)
            if layer.b is not None:
                layer.b.data[units] = r * np.tanh(layer.b.data[units] / r)

    def step(self, closure):
        """One move: Cauchy step (mixed with backprop if asked), accept or revert.

        Returns the current objective.
        """
        self.vec.check_packed(f"{type(self).__name__}.step")
        temperature = self.temperature()
        eta = self.backprop_weight
        move = self._move
        u = self.rng.uniform(-math.pi / 2, math.pi / 2, size=move.shape)
        np.multiply(np.tan(u), self.rho * temperature, out=move, casting="unsafe")
        if eta > 0:
            self.vec.grad.fill(0)
            loss = closure()
            if not isinstance(loss, Tensor) or not loss.requires_grad:
                raise TypeError("CauchyAnnealer: with backprop_weight > 0 the closure must "
                                "return a Tensor that depends on the parameters")
            loss.backward()
            self.loss = _value(loss)  # fresh objective at the current weights
            if self.best_loss == math.inf or self.loss < self.best_loss:
                self.best_loss = self.loss
                np.copyto(self.best_theta, self.vec.data)
            backprop = self.momentum * self.prev_change - (1 - self.momentum) * self.lr \
                * self.vec.grad
            move *= 1 - eta
            move += eta * backprop
        else:
            self._start(closure)
        before = self.vec.data.copy() if eta > 0 else None
        if self._try(closure, move, temperature) and before is not None:
            np.subtract(self.vec.data, before, out=self.prev_change)
        self.t += 1
        return self.loss
