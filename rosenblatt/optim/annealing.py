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
  ``eta [alpha dW_prev + (1 - alpha) (-lr grad)] + (1 - eta) x_c``
  (eta = 1: purely backprop, every step to a finite objective kept).
  Optional squashing ``w <- R tanh(w / R)`` after each move limits the
  network paralysis that the Cauchy distribution's infinite variance can
  cause: it "reduces large weights while only attenuating smaller ones". As
  the notes recommend, it can be applied only to the incoming weights of
  saturated units (``saturation=(model, X)``: a Sequential whose Dense
  layers feed Tanh/Sigmoid units, probed on inputs ``X``), or to every weight.

Each step re-evaluates ``closure()``, a function returning the objective
(a float or a Tensor) on fixed data; the annealer keeps the current and the
best objective and weights (``loss``, ``best_loss``, ``best_theta``,
``restore_best()``) and a ``trace`` of every step (``trace["temperature"]``,
``trace["loss"]``, ``trace["accepted"]``: the fraction of moves kept (with
``per_weight``, of the weights swept: an attached model's missing connections and
padding rows are neither moved nor evaluated); compact ``array('d')`` sequences).
Moves that produce a non-finite objective are rejected.

What the notes add, and the annealers offer:

* ``per_weight=True``: "steps 3 and 4 are repeated for each of the
  weights". One step is then a sweep over the weights in order: weight ``i``
  alone takes its random change, the objective is re-evaluated, and the
  Metropolis rule keeps or reverts that one change before weight ``i + 1`` is
  tried. The random changes and the uniform numbers of a sweep are drawn in
  one array operation; the evaluations are sequential, as the algorithm is
  (each weight's objective change depends on the changes kept before it).
* ``schedule="specific_heat"``: the artificial specific heat. The temperature
  is held for ``block`` steps while the mean objective at that temperature is
  measured; after each block the sensitivity of the mean objective to the
  temperature, ``C = |d<E> / d log T| / E_ref``, sets the next cooling step
  ``log T <- log T - cooling / (1 + g C)``: slow where the mean objective
  changes abruptly with temperature (a "phase change"), fast where it does
  not (:class:`SpecificHeatSchedule`).
* Training through ``rb.fit(model, X, y, loss=..., optimizer=annealer)``:
  fit builds the closure (the loss, plus penalties, on the batch; with
  ``batch_size >= len(X)`` on the whole set) and calls ``step(closure)``
  once per batch. With ``restore_best=True`` (the default) the model holds
  the best weights seen when fit returns. With mini-batches the objective is
  re-measured on each new batch and "best" is judged batch by batch; with
  ``batch_size >= len(X)`` it is the exact best on the training set.
* Default constants scaled to the problem: ``T0=None`` takes the scale of the
  initial weights (their root mean square, at least 0.1; times 0.25 for
  Boltzmann's slow schedule, times 1 for Cauchy's fast one), and ``k=None``
  makes ``k T0`` one hundredth of the first objective measured, so a
  worsening of 1% of the starting objective is kept at the first step with
  probability ``1/e`` by Cauchy training (``T(0) = T0``) and ``1/2`` by
  Boltzmann training (``T(1) = T0 / log 2``), and ever more rarely as ``T``
  falls.

The moves change only what a gradient step may change: parameters frozen
after the annealer was built (``requires_grad`` False; those frozen before
are not packed at all), an attached model's missing connections and padding
rows are neither moved nor squashed.
"""

import math
from array import array

import numpy as np

from ..autodiff.tensor import Tensor, no_grad
from ..checks import boolean, finite_float, one_of, positive_float, positive_int, unit_interval
from ..randomness import resolve_rng
from .inert import InertWeights
from .optimizer import check_state_keys, fill_normal, hyperparameters_changed, pack


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


def _checked_saturation(saturation):
    """CauchyAnnealer's ``saturation=(model, X[, level])``, checked when it is built (the
    probe runs at every move): ``model`` a Sequential, ``level`` in [0, 1) (a mean of
    ``|tanh|`` is at most 1: a level of 1 or more, or NaN, would never find a saturated unit
    and nothing would be squashed, silently)."""
    from ..nn.module import Sequential

    model, x, *level = saturation
    if not isinstance(model, Sequential):
        raise TypeError(f"CauchyAnnealer: saturation's model must be an rb.nn.Sequential (its "
                        f"Dense layers feeding Tanh/Sigmoid units are probed); got "
                        f"{type(model).__name__}")
    if level:
        level = [unit_interval("CauchyAnnealer", "saturation's level (the mean |tanh| or "
                               "|2 sigmoid - 1| above which a unit is saturated)", level[0])]
    return (model, x, *level)


def metropolis_accept(delta, temperature, k, rng):
    """Keep a change ``delta`` of the objective: always if <= 0, else w.p. exp(-delta / kT).

    A move to a non-finite objective (``delta`` +inf, or NaN from inf - inf) is
    rejected; a move from an infinite objective to a finite one (``delta`` -inf)
    is an improvement and kept.
    """
    if math.isnan(delta) or delta == math.inf:
        return False
    if delta <= 0:
        return True
    return bool(rng.random() < math.exp(-delta / (k * temperature)))


def _value(loss):
    value = loss.item() if isinstance(loss, Tensor) else float(loss)
    return value if math.isfinite(value) else math.inf


_LOG2 = math.log(2.0)


class SpecificHeatSchedule:
    """The artificial-specific-heat schedule (notes: "Statistical (stochastic) training").

    The temperature is held for ``block`` steps; :meth:`record` receives the
    objective after each step. At the end of a block the mean objective
    ``E_j`` at temperature ``T_j`` is compared with the previous block's
    ``E_{j-1}`` at ``T_{j-1}``:

    .. math::

        C_j = \\frac{|E_j - E_{j-1}|}{|\\log T_j - \\log T_{j-1}|\\, E_{ref}},
        \\qquad \\log T_{j+1} = \\log T_j - \\frac{\\text{cooling}}{1 + g\\, C_j}

    where ``E_ref`` is the first block's mean objective in absolute value (the
    objective's own scale). Where the mean objective changes abruptly with
    temperature, ``C`` is large and the temperature falls slowly; where it
    barely changes, ``T`` falls by the full factor ``exp(-cooling)`` per block.

    Parameters
    ----------
    T0 : float
        The initial temperature.
    block : int, default 20
        Steps held at one temperature to measure the mean objective.
    cooling : float, default log(2)
        The largest drop of ``log T`` per block (``log 2``: T halves).
    gain : float, default 5.0
        ``g``: how strongly the specific heat slows the cooling.

    Attributes
    ----------
    T : float
        The current temperature.
    blocks : list of (float, float, float)
        ``(T_j, E_j, C_j)`` of every finished block (``C_0`` is 0).

    Examples
    --------
    >>> from rosenblatt.optim.annealing import SpecificHeatSchedule
    >>> s = SpecificHeatSchedule(1.0, block=2)
    >>> for e in [1.0, 1.0, 1.0, 1.0]:   # a flat objective: T halves every block
    ...     s.record(e)
    >>> round(s.T, 6)
    0.25
    """

    def __init__(self, T0, block=20, cooling=_LOG2, gain=5.0):
        self.T = positive_float("SpecificHeatSchedule", "T0", T0)
        self.block = positive_int("SpecificHeatSchedule", "block", block)
        self.cooling = positive_float("SpecificHeatSchedule", "cooling", cooling)
        self.gain = positive_float("SpecificHeatSchedule", "gain", gain, allow_zero=True)
        self.blocks = []
        self._sum, self._count, self._ref = 0.0, 0, None

    def record(self, objective):
        """The objective after one step at the current temperature; may cool at a block's end."""
        value = float(objective)
        if not math.isfinite(value):
            return
        self._sum += value
        self._count += 1
        if self._count < self.block:
            return
        mean = self._sum / self._count
        self._sum, self._count = 0.0, 0
        if self._ref is None:
            self._ref = max(abs(mean), 1e-12)
        heat = 0.0
        if self.blocks:
            t_prev, e_prev, _ = self.blocks[-1]
            dlog = abs(math.log(self.T) - math.log(t_prev))
            heat = abs(mean - e_prev) / (max(dlog, 1e-12) * self._ref)
        self.blocks.append((self.T, mean, heat))
        self.T *= math.exp(-self.cooling / (1.0 + self.gain * heat))


def _number(where, key, value):
    """A saved objective: a real number (an infinite or NaN objective is one a chain can have)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{where}: {key} must be a number or None; got {value!r:.40}")
    return float(value)


def _weights(where, key, value, like):
    """A saved weight vector: finite numbers of ``like``'s shape."""
    value = np.asarray(value)
    if value.shape != like.shape or value.dtype.kind not in "fiu" \
            or not np.isfinite(value).all():
        raise ValueError(f"{where}: {key} must be {like.size} finite numbers (one per weight); "
                         f"got {value.dtype} of shape {value.shape}")
    return value


def _heat_state(where, heat):
    """The specific-heat schedule's saved state: (T, sum, count, ref, blocks), checked."""
    if not isinstance(heat, dict):
        raise TypeError(f"{where}: heat must be a dict; got {type(heat).__name__}")
    T = positive_float(where, "heat T (the temperature)", heat["T"])
    total = finite_float(where, "heat sum", heat["sum"])
    count = positive_int(where, "heat count", heat["count"], allow_zero=True)
    ref = None if heat["ref"] is None else positive_float(where, "heat ref", heat["ref"])
    blocks = heat["blocks"]
    if not isinstance(blocks, (list, tuple)):
        raise TypeError(f"{where}: heat blocks must be a list of [T, mean, heat]; got "
                        f"{type(blocks).__name__}")
    checked = []
    for i, block in enumerate(blocks):
        if not isinstance(block, (list, tuple)) or len(block) != 3:
            raise ValueError(f"{where}: heat blocks[{i}] must be [T, mean objective, heat]; "
                             f"got {block!r:.60}")
        checked.append((positive_float(where, f"heat blocks[{i}] T", block[0]),
                        finite_float(where, f"heat blocks[{i}] mean", block[1]),
                        positive_float(where, f"heat blocks[{i}] heat", block[2],
                                       allow_zero=True)))
    return T, total, count, ref, checked


def _scaled_T0(vec, factor):
    """The default initial temperature: ``factor`` times the weights' RMS (at least 0.1)."""
    theta = vec.data
    rms = float(np.sqrt(np.mean(np.square(theta, dtype=np.float64)))) if theta.size else 0.0
    return factor * max(rms, 0.1)


class _Annealer:
    """Shared bookkeeping: flat weights, current/best objective, the accept-or-revert moves."""

    T0_FACTOR = 1.0
    SCHEDULES = ()
    FIRST_T = 0  # the first step of the temperature schedule
    #: ``rb.fit`` calls ``step(closure)`` instead of ``backward(); step()``.
    needs_closure = True
    #: the constants a step reads, plain attributes: one written since the last step is
    #: checked at the next, as the constructor checks it (:meth:`state_dict` saves T0, k)
    hyperparameters = ("T0", "k", "per_weight", "schedule")

    def __init__(self, params, T0, k, rng, per_weight=False, schedule=None, block=20,
                 restore_best=True, model=None):
        name = type(self).__name__
        self.vec = pack(params)
        self._inert = None
        if model is not None:
            self.attach(model)
        self.T0 = _scaled_T0(self.vec, self.T0_FACTOR) if T0 is None else \
            positive_float(name, "T0", T0)
        self.k = None if k is None else positive_float(name, "k", k)
        self.rng = resolve_rng(rng)
        self.per_weight = boolean(name, "per_weight", per_weight)
        self.schedule = one_of(name, "schedule", self.SCHEDULES[0] if schedule is None
                               else schedule, self.SCHEDULES)
        self.block = positive_int(name, "block", block)
        self.heat = SpecificHeatSchedule(self.T0, block) if self.schedule == "specific_heat" \
            else None
        self.keep_best = boolean(name, "restore_best", restore_best)
        self.t = 0
        self.loss = None
        self.best_loss = math.inf
        self.best_theta = self.vec.data.copy()
        self.accepted = 0
        # One entry per step (compact: 8 bytes a number): T, the objective, the fraction kept.
        self.trace = {name: array("d") for name in ("temperature", "loss", "accepted")}
        self._saved = np.empty_like(self.vec.data)
        self._move = np.empty_like(self.vec.data)
        self._movable = None  # the weights a move may change (_fixed), None for all
        self._closure_differentiates = False  # calls backward() itself (CauchyAnnealer)
        self._hp_checked = None  # the hyper-parameters' values when last checked

    def _checked_hyperparameters(self, hp):
        """The constructor's checks of ``hp`` (a dict of every hyper-parameter); raises
        ValueError/TypeError naming the bad one. The schedule cannot change: its state
        (the specific heat's blocks) is made with the annealer."""
        name = type(self).__name__
        schedule = one_of(name, "schedule", hp["schedule"], self.SCHEDULES)
        if (schedule == "specific_heat") != (self.heat is not None):
            built = "specific_heat" if self.heat is not None else self.SCHEDULES[0]
            raise ValueError(f"{name}: schedule cannot change from {built!r} to "
                             f"{schedule!r} (built with {built!r}); build a new annealer with "
                             f"schedule={schedule!r}")
        return dict(T0=positive_float(name, "T0", hp["T0"]),
                    k=None if hp["k"] is None else positive_float(name, "k", hp["k"]),
                    per_weight=boolean(name, "per_weight", hp["per_weight"]),
                    schedule=schedule)

    def _check_hyperparameters(self):
        """Check the hyper-parameters written as attributes since the last step (one tuple of
        identity tests while nothing changes)."""
        current = tuple(getattr(self, key) for key in self.hyperparameters)
        if hyperparameters_changed(current, self._hp_checked):
            hp = self._checked_hyperparameters(dict(zip(self.hyperparameters, current)))
            for key, value in hp.items():
                setattr(self, key, value)
            self._hp_checked = tuple(getattr(self, key) for key in self.hyperparameters)

    def _evaluate(self, closure):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if self._closure_differentiates:  # its own backward needs a graph
                return _value(closure())
            with no_grad():
                return _value(closure())

    def _keep(self, delta, temperature, u=None):
        """The Metropolis rule with the constant ``k`` (``u``: a pre-drawn uniform number)."""
        if u is None:
            return metropolis_accept(delta, temperature, self.k, self.rng)
        if math.isnan(delta) or delta == math.inf:  # to a non-finite objective (see above)
            return False
        return delta <= 0 or u < math.exp(-delta / (self.k * temperature))

    def _accepted(self, new):
        self.loss = new
        self.accepted += 1
        if new < self.best_loss:
            self.best_loss = new
            np.copyto(self.best_theta, self.vec.data)

    def _try(self, closure, move, temperature):
        """Apply ``move``, keep it per the Metropolis rule, else restore; returns accepted."""
        theta = self.vec.data
        np.copyto(self._saved, theta)
        theta += move
        self._after_move(theta)
        new = self._evaluate(closure)
        if self._keep(new - self.loss, temperature):
            self._accepted(new)
            return True
        np.copyto(theta, self._saved)
        return False

    def _sweep(self, closure, move, temperature):
        """Weight by weight: change weight i alone, keep or revert it; returns the fraction of
        the weights visited (the live ones, :meth:`_live`) whose change was kept.

        The uniform numbers of the Metropolis rule are drawn for the whole
        sweep at once (one per weight, used only when the change worsens the
        objective).
        """
        theta = self.vec.data
        u = self.rng.random(theta.size)
        whole = self._squash_touches_others()
        kept = 0
        live = self._live()
        for i in live:
            if whole:
                np.copyto(self._saved, theta)
            old = theta[i]
            theta[i] = old + move[i]
            self._after_weight(theta, i)
            new = self._evaluate(closure)
            if self._keep(new - self.loss, temperature, u[i]):
                self._accepted(new)
                kept += 1
            elif whole:
                np.copyto(theta, self._saved)
            else:
                theta[i] = old
        return kept / max(len(live), 1)

    def _live(self):
        """The weights a sweep visits: all but the fixed ones (:meth:`_fixed`)."""
        if self._movable is None:
            return range(self.vec.data.size)
        return np.flatnonzero(self._movable)

    def _fixed(self):
        """Find, before a step, the weights that no move changes (nor a squash): the inert ones
        (missing connections, padding rows of the attached model) and the parameters frozen
        since packing (``requires_grad`` False, as the gradient optimizers leave them).
        ``self._movable``: a boolean mask of the others, or None when every weight moves.
        Returns the frozen parameters' slices."""
        vec = self.vec
        frozen = [sl for p, sl in zip(vec.params, vec.slices) if not p.requires_grad]
        if not self._inert and not frozen:
            self._movable = None
            return frozen
        movable = np.ones(vec.data.shape, dtype=np.int8)
        if self._inert:
            self._inert.zero(movable)
        for sl in frozen:
            movable[sl] = 0
        self._movable = movable.astype(bool)
        return frozen

    def _squash_touches_others(self):
        return False

    def _after_move(self, theta):
        pass

    def _after_weight(self, theta, i):
        pass

    def _start(self, closure):
        if self.loss is None:
            self.loss = self._evaluate(closure)
            if self.best_loss == math.inf or self.loss < self.best_loss:
                self.best_loss = self.loss
                np.copyto(self.best_theta, self.vec.data)
        if self.k is None:  # k T0 = 1% of the first objective (its scale)
            scale = abs(self.loss) if math.isfinite(self.loss) and self.loss != 0 else 1.0
            self.k = 0.01 * scale / self.T0

    def attach(self, model):
        """Move no missing connection of ``model``'s layers (``SparseDense``) nor an
        ``Embedding``'s padding row; returns self. ``rb.fit`` attaches the model it trains."""
        self._inert = InertWeights(self.vec, model, type(self).__name__)
        return self

    def _moves(self, closure, move, temperature):
        """The whole-vector move or the per-weight sweep; records the trace; advances time."""
        if self._movable is not None:  # set by _fixed() at the start of the step
            move[~self._movable] = 0
        if self.per_weight:  # the fraction of the live weights' moves that was kept
            kept = self._sweep(closure, move, temperature)
        else:
            kept = float(self._try(closure, move, temperature))
        self.t += 1
        self.trace["temperature"].append(temperature)
        self.trace["loss"].append(self.loss)
        self.trace["accepted"].append(kept)
        if self.heat is not None:
            self.heat.record(self.loss)
        return self.loss

    def temperature(self, t=None):
        """The temperature of step ``t`` (default: the next step).

        With ``schedule="specific_heat"`` the temperature depends on the
        objectives measured so far, so only the next step's is known.
        """
        if self.heat is not None:
            if t is not None and t != self.t:
                raise ValueError(f"{type(self).__name__}: with schedule='specific_heat' only "
                                 f"the next step's temperature is known (t={self.t}); got t={t}")
            return self.heat.T
        return self._scheduled(self.t if t is None else self._checked_t(t))

    def _checked_t(self, t):
        """``t`` of :meth:`temperature`, checked: a number from the schedule's first step on
        (the formulas divide by zero or turn negative before it)."""
        name, first = type(self).__name__, self.FIRST_T
        if isinstance(t, bool) or not isinstance(t, (int, float, np.number)):
            raise TypeError(f"{name}: t must be a step number >= {first}; got "
                            f"{type(t).__name__} {t!r:.40}")
        if not (math.isfinite(t) and t >= first):
            raise ValueError(f"{name}: t must be a step number >= {first} (the schedule "
                             f"starts at t={first}); got {t!r}")
        return t

    def zero_grad(self):
        """Clear the gradients (the annealing moves themselves use no gradient): each
        parameter's ``grad`` becomes None, as ``Optimizer.zero_grad()`` leaves it."""
        self.vec.clear_grad()

    def reset(self):
        """Forget the cached objective (call when the closure's data change).

        The best weights and objective are kept.
        """
        self.loss = None

    def restore_best(self):
        """Copy the best weights seen back into the model; returns the best objective."""
        np.copyto(self.vec.data, self.best_theta)
        self.loss = self.best_loss
        return self.best_loss

    def state_dict(self):
        """Plain values and array copies: time, constants, the chain's and the best objective.

        The random generator is not included (``rb.fit``'s checkpoints save the
        state of every generator they find, this one included); nor is ``trace``.
        """
        heat = None if self.heat is None else {
            "T": self.heat.T, "blocks": [list(b) for b in self.heat.blocks],
            "sum": self.heat._sum, "count": self.heat._count, "ref": self.heat._ref}
        state = {"algorithm": type(self).__name__, "t": int(self.t), "T0": self.T0,
                 "k": self.k, "loss": self.loss,
                 "best_loss": None if self.best_loss == math.inf else self.best_loss,
                 "best_theta": self.best_theta.copy(), "accepted": int(self.accepted),
                 "heat": heat}
        if hasattr(self, "prev_change"):
            state["prev_change"] = self.prev_change.copy()
        return state

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned (in place); returns self.

        Raises
        ------
        ValueError, TypeError
            If the state is for another algorithm or another number of weights, or a value
            is one the constructor would refuse (``T0 <= 0``, a negative ``k``, count or
            heat temperature, a non-finite weight ...), or the state is for the other
            temperature ``schedule`` (its ``heat``, the specific heat's state, says which):
            checked before anything changes. ``T0`` and ``k`` are the state's; the other
            settings (``per_weight``, the Cauchy moves') keep the values built with.
        """
        name = type(self).__name__
        where = f"{name}.load_state_dict"
        if not isinstance(state, dict):
            raise TypeError(f"{where}: state must be a dict (state_dict()); got "
                            f"{type(state).__name__}")
        if state.get("algorithm", name) != name:
            raise ValueError(f"{where}: the state is for {state['algorithm']!r:.40}")
        check_state_keys(name, state, ("T0", "k", "loss", "best_loss", "best_theta",
                                       "accepted", "heat", "prev_change"))
        missing = [key for key in ("T0", "k", "loss", "best_loss", "best_theta", "accepted")
                   if key not in state]
        if missing:
            raise ValueError(f"{where}: the state has no {missing} (state_dict() writes them)")
        t = positive_int(where, "t", state["t"], allow_zero=True)
        # the schedule: the specific heat's state (its temperature, its blocks) is saved
        # as "heat", None for the other schedule
        ours = "specific_heat" if self.heat is not None else self.SCHEDULES[0]
        theirs = "specific_heat" if state.get("heat") is not None else self.SCHEDULES[0]
        if theirs != ours:
            raise ValueError(f"{where}: the state is for schedule={theirs!r} (its 'heat' is "
                             f"{'set' if theirs == 'specific_heat' else 'None'}), this "
                             f"annealer has schedule={ours!r}: the temperature would restart "
                             f"or lose its state; build the annealer with schedule={theirs!r}")
        hp = self._checked_hyperparameters({**{key: getattr(self, key)
                                               for key in self.hyperparameters},
                                            "T0": state["T0"], "k": state["k"]})
        loss = None if state["loss"] is None else _number(where, "loss", state["loss"])
        best_loss = math.inf if state["best_loss"] is None else \
            _number(where, "best_loss", state["best_loss"])
        accepted = positive_int(where, "accepted", state["accepted"], allow_zero=True)
        best_theta = _weights(where, "best_theta", state["best_theta"], self.best_theta)
        prev_change = None
        if "prev_change" in state and hasattr(self, "prev_change"):
            prev_change = _weights(where, "prev_change", state["prev_change"], self.prev_change)
        heat = state.get("heat")
        if heat is not None and self.heat is not None:
            heat = _heat_state(where, heat)
        for key, value in hp.items():
            setattr(self, key, value)
        self.t, self.loss, self.best_loss = t, loss, best_loss
        self.best_theta[...] = best_theta
        self.accepted = accepted
        if prev_change is not None:
            self.prev_change[...] = prev_change
        if heat is not None and self.heat is not None:
            (self.heat.T, self.heat._sum, self.heat._count, self.heat._ref,
             self.heat.blocks) = heat
        return self

    def on_train_end(self):
        """Called by ``rb.fit`` when training ends: restore the best weights (``restore_best``)."""
        if self.keep_best and self.best_loss < math.inf:
            self.restore_best()


class BoltzmannAnnealer(_Annealer):
    """Boltzmann training: Gaussian weight changes, Metropolis acceptance, T = T0 / log(1 + t).

    Parameters
    ----------
    params : iterable of Parameter or ParameterVector
    T0 : float, optional
        The initial temperature; default a quarter of the initial weights'
        root mean square (at least 0.025).
    k : float, optional
        Boltzmann's constant of the acceptance rule ``exp(-c / (k T))``:
        smaller means greedier. Default: ``k T0`` is 1% of the first
        objective measured.
    schedule : {"log", "specific_heat"}, default "log"
        ``T0 / log(1 + t)`` (the notes' Boltzmann schedule) or the artificial
        specific heat (:class:`SpecificHeatSchedule`).
    per_weight : bool, default False
        One step is a sweep over the weights, each changed alone and kept or
        reverted on its own objective change (the notes' "steps 3 and 4 are
        repeated for each of the weights"); ``False`` moves the whole vector
        at once.
    block : int, default 20
        With ``schedule="specific_heat"``: steps held at one temperature.
    restore_best : bool, default True
        ``rb.fit`` puts the best weights seen back into the model at the end.
    rng : numpy.random.Generator or int, optional
    model : Module, optional
        The model the parameters belong to: the moves leave its missing
        connections (``SparseDense``) and an ``Embedding``'s padding row as
        they are (:meth:`attach`; ``rb.fit`` attaches the model it trains).
        ``TypeError`` if it is not a Module, ``ValueError`` if it owns none of
        ``params``.

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

    T0_FACTOR = 0.25
    SCHEDULES = ("log", "specific_heat")
    FIRST_T = 1  # T0 / log(1 + t): infinite at t = 0

    def __init__(self, params, T0=None, k=None, rng=None, *, per_weight=False, schedule=None,
                 block=20, restore_best=True, model=None):
        super().__init__(params, T0, k, rng, per_weight, schedule, block, restore_best, model)

    def temperature(self, t=None):
        """``T0 / log(1 + t)`` at step ``t`` (from 1; default: the next step)."""
        if self.heat is not None:
            return super().temperature(t)
        t = self.t + 1 if t is None else self._checked_t(t)
        return self.T0 / math.log1p(t)

    def step(self, closure):
        """One annealing move (or sweep, with ``per_weight``); returns the current objective."""
        self.vec.check_packed(f"{type(self).__name__}.step")
        self._check_hyperparameters()
        self._fixed()
        self._start(closure)
        temperature = self.temperature()
        fill_normal(self.rng, self._move)
        self._move *= temperature / math.sqrt(2.0)
        return self._moves(closure, self._move, temperature)


class CauchyAnnealer(_Annealer):
    """Cauchy training, optionally mixed with backpropagation: T = T0 / (1 + t).

    Parameters
    ----------
    params : iterable of Parameter or ParameterVector
    T0 : float, optional
        The initial temperature; default the initial weights' root mean
        square (at least 0.1).
    rho : float, default 1.0
        The learning-rate coefficient of the Cauchy step ``rho T tan(u)``.
    backprop_weight : float, default 0.0
        The notes' eta in [0, 1]: 0 is pure Cauchy training, 1 pure backprop
        (every step to a finite objective kept, no Metropolis test). Above 0
        the closure must return a Tensor that can be backpropagated.
    momentum : float, default 0.0
        The notes' alpha, weighting the previous accepted change in the backprop part.
    lr : float, default 0.1
        The backprop part's learning rate.
    k : float, optional
        Boltzmann's constant of the acceptance rule. Default: ``k T0`` is 1%
        of the first objective measured.
    squash : float, optional
        ``R``: after each move, ``w <- R tanh(w / R)`` (with ``per_weight``,
        on the changed weight).
    saturation : (Sequential, ndarray) or (Sequential, ndarray, float), optional
        Squash only the weights and bias of units that are saturated on these
        inputs (mean ``|tanh|`` or ``|2 sigmoid - 1|`` above the level,
        default 0.9); needs ``squash``. Costs one forward pass per move.
    schedule : {"fast", "specific_heat"}, default "fast"
        ``T0 / (1 + t)`` (the notes' Cauchy schedule) or the artificial
        specific heat (:class:`SpecificHeatSchedule`).
    per_weight : bool, default False
        One step is a sweep over the weights, each changed alone and kept or
        reverted on its own objective change (the notes' "steps 3 and 4 are
        repeated for each of the weights"); ``False`` moves the whole vector
        at once.
    block : int, default 20
        With ``schedule="specific_heat"``: steps held at one temperature.
    restore_best : bool, default True
        ``rb.fit`` puts the best weights seen back into the model at the end.
    rng : numpy.random.Generator or int, optional
    model : Module, optional
        The model the parameters belong to: the moves leave its missing
        connections (``SparseDense``) and an ``Embedding``'s padding row as
        they are (:meth:`attach`; ``rb.fit`` attaches the model it trains).
        ``TypeError`` if it is not a Module, ``ValueError`` if it owns none of
        ``params``.

    References
    ----------
    Szu and Hartley, "Fast simulated annealing", Physics Letters A, 1987.
    Wasserman, "Neural Computing: Theory and Practice", 1989 (chapter 5).

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> w = rb.nn.Parameter(np.array([3.0, -2.0]))
    >>> ann = rb.optim.CauchyAnnealer([w], rng=0, per_weight=True)
    >>> start = float((w.data ** 2).sum())
    >>> for _ in range(100):
    ...     _ = ann.step(lambda: float((w.data ** 2).sum()))
    >>> ann.best_loss < start / 10
    True
    """

    SCHEDULES = ("fast", "specific_heat")
    hyperparameters = (*_Annealer.hyperparameters, "rho", "backprop_weight", "momentum", "lr",
                       "squash")

    def __init__(self, params, T0=None, rho=1.0, backprop_weight=0.0, momentum=0.0, lr=0.1,
                 k=None, squash=None, saturation=None, rng=None, *, per_weight=False,
                 schedule=None, block=20, restore_best=True, model=None):
        super().__init__(params, T0, k, rng, per_weight, schedule, block, restore_best, model)
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
        self.saturation = None if saturation is None else _checked_saturation(saturation)
        self.prev_change = np.zeros_like(self.vec.data)

    def _checked_hyperparameters(self, hp):
        """The constructor's checks (at the next step for a value written as an attribute,
        and by ``load_state_dict``)."""
        checked = super()._checked_hyperparameters(hp)
        checked["rho"] = positive_float("CauchyAnnealer", "rho", hp["rho"])
        weight = positive_float("CauchyAnnealer", "backprop_weight", hp["backprop_weight"],
                                allow_zero=True)
        if weight > 1:
            raise ValueError(f"CauchyAnnealer: backprop_weight must be in [0, 1]; "
                             f"got {hp['backprop_weight']!r}")
        checked["backprop_weight"] = weight
        checked["momentum"] = unit_interval("CauchyAnnealer", "momentum", hp["momentum"])
        checked["lr"] = positive_float("CauchyAnnealer", "lr", hp["lr"], allow_zero=True)
        squash = hp["squash"]
        checked["squash"] = None if squash is None else \
            positive_float("CauchyAnnealer", "squash", squash)
        if squash is None and self.saturation is not None:
            raise ValueError("CauchyAnnealer: saturation=(model, X) needs squash=R; got "
                             "squash=None")
        return checked

    def _keep(self, delta, temperature, u=None):
        """The Metropolis rule; with ``backprop_weight=1`` (the notes' eta = 1: "purely
        backprop") every move to a finite objective is kept, as backprop keeps every step:
        a rejected gradient step would be proposed again unchanged (no Cauchy part to
        vary it) and the weights would freeze once the temperature is low."""
        if self.backprop_weight == 1 and not (math.isnan(delta) or delta == math.inf):
            return True
        return super()._keep(delta, temperature, u)

    def _scheduled(self, t):
        return self.T0 / (1.0 + t)

    def temperature(self, t=None):
        """``T0 / (1 + t)`` at step ``t`` (default: the next step, ``t`` = steps taken)."""
        return super().temperature(t)

    def _after_move(self, theta):
        if self.squash is None:
            return
        r = self.squash
        if self.saturation is None:
            if self._movable is None:
                np.tanh(theta / r, out=theta)
                theta *= r
            else:  # a padding row, a missing connection, a frozen parameter: not squashed
                theta[self._movable] = r * np.tanh(theta[self._movable] / r)
            return
        model, x, *level = self.saturation
        for layer, units in saturated_units(model, x, *level):  # in place: views of theta
            # only what this annealer trains: not a frozen layer, nor one it does not hold
            if self._trains(layer.W):
                layer.W.data[:, units] = r * np.tanh(layer.W.data[:, units] / r)
            if layer.b is not None and self._trains(layer.b):
                layer.b.data[units] = r * np.tanh(layer.b.data[units] / r)

    def _trains(self, p):
        """Whether ``p`` is one of this annealer's parameters and not frozen."""
        return p.requires_grad and p.data.base is self.vec.data

    def _squash_touches_others(self):
        return self.squash is not None and self.saturation is not None

    def _after_weight(self, theta, i):
        if self.squash is None:
            return
        if self.saturation is None:
            theta[i] = self.squash * math.tanh(theta[i] / self.squash)
        else:
            self._after_move(theta)

    def step(self, closure):
        """One move or sweep: Cauchy step (mixed with backprop if asked), accept or revert.

        Returns the current objective.
        """
        self.vec.check_packed(f"{type(self).__name__}.step")
        self._check_hyperparameters()
        self._fixed()
        temperature = self.temperature()
        eta = self.backprop_weight
        move = self._move
        u = self.rng.uniform(-math.pi / 2, math.pi / 2, size=move.shape)
        np.multiply(np.tan(u), self.rho * temperature, out=move, casting="unsafe")
        if eta > 0:
            self.vec.clear_grad()
            loss = closure()
            # PyTorch's idiom (zero_grad(); loss.backward(); return loss) leaves gradients in
            # the parameters: differentiate only when the closure did not, as LBFGS does
            self._closure_differentiates = any(p.grad is not None for p in self.vec.params)
            if not self._closure_differentiates:
                if not isinstance(loss, Tensor) or not loss.requires_grad:
                    raise TypeError("CauchyAnnealer: with backprop_weight > 0 the closure must "
                                    "return a Tensor that depends on the parameters (or "
                                    "call backward() on it itself)")
                loss.backward()
            self.loss = _value(loss)  # fresh objective at the current weights
            if self.best_loss == math.inf or self.loss < self.best_loss:
                self.best_loss = self.loss
                np.copyto(self.best_theta, self.vec.data)
            self._start(closure)  # sets the default k
            backprop = self.momentum * self.prev_change - (1 - self.momentum) * self.lr \
                * self.vec.grad
            move *= 1 - eta
            move += eta * backprop
            before, accepted = self.vec.data.copy(), self.accepted
            self._moves(closure, move, temperature)
            if self.accepted > accepted:  # alpha weights the last change that was kept
                np.subtract(self.vec.data, before, out=self.prev_change)
            return self.loss
        self._start(closure)
        return self._moves(closure, move, temperature)
