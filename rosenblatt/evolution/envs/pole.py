"""Pole balancing on a cart, one or two poles, simulated for a whole population at once.

Wieland's (1991) equations of a cart carrying ``N`` hinged poles, with the
constants Stanley & Miikkulainen (2002) and Gomez et al. (2008) use: cart
1 kg on a 4.8 m track, poles of half-lengths 0.5 m and 0.05 m, masses 0.1 kg
and 0.01 kg, hinge friction 2e-6, force at most 10 N, a fourth-order
Runge-Kutta step of 0.01 s taken twice per network decision (0.02 s), or
(``integrator="euler"``) the Euler step of Stanley's code, eight steps of
0.0025 s per decision. A trial fails when the cart leaves the track
(``|x| > 2.4``) or a pole passes ``failure_angle`` (36 degrees for two
poles). Success is balancing for 100,000 decisions (about 33 simulated
minutes).

Notes
-----
For pole ``i`` with half-length ``l_i``, mass ``m_i`` and hinge friction
``mu_p``, effective force and mass on the cart:

.. math::

    \\tilde F_i = m_i l_i \\dot\\theta_i^2 \\sin\\theta_i
        + \\tfrac34 m_i \\cos\\theta_i \\Big(\\frac{\\mu_p \\dot\\theta_i}{m_i l_i}
        + g \\sin\\theta_i\\Big),\\qquad
    \\tilde m_i = m_i \\big(1 - \\tfrac34 \\cos^2\\theta_i\\big)

.. math::

    \\ddot x = \\frac{F + \\sum_i \\tilde F_i}{M + \\sum_i \\tilde m_i},\\qquad
    \\ddot\\theta_i = -\\frac{3}{4 l_i}\\Big(\\ddot x\\cos\\theta_i + g\\sin\\theta_i
        + \\frac{\\mu_p \\dot\\theta_i}{m_i l_i}\\Big)

with ``g = -9.8`` (the sign convention of the papers' code).

The state ``s = (x, x', th1, th1', th2, th2')`` advances by RK4,

.. math::

    s \\leftarrow s + \\tfrac{\\tau}{6}(k_1 + 2k_2 + 2k_3 + k_4)

twice per decision with ``tau = 0.01``, or by Euler's method,
``s <- s + tau' ds/dt(s)``, eight times per decision with ``tau' = tau / 4``
(the ``RK4=false`` branch of Stanley's ``CartPole::performAction``).
"""

import math

import numpy as np

from ...checks import boolean, one_of, positive_float, positive_int

__all__ = ["CartPole", "generalization_starts"]

GRAVITY = -9.8
MASS_CART = 1.0
FORCE_MAG = 10.0
TAU = 0.01
MUP = 0.000002
TRACK = 2.4
HALF_LENGTHS = (0.5, 0.05)
MASSES = (0.1, 0.01)
EULER_SUBSTEPS = 4  # Euler steps per RK4 step (of TAU / 4 s each), as Stanley's EULER_TAU
SCALAR_BELOW = 3  # carts simulated on Python floats when fewer remain
START_ANGLE = 0.07  # 4 degrees, the first pole's start in Stanley's and Gomez's code


def _derivs(s, force, n_poles, half_lengths=HALF_LENGTHS, masses=MASSES):
    """d/dt of states ``s`` (6, P): x, x', th1, th1', th2, th2' (th2 rows unused for one pole)."""
    d = np.empty_like(s)
    num = force.copy()
    den = np.full_like(force, MASS_CART)
    parts = []
    for i in range(n_poles):
        th, thd = s[2 + 2 * i], s[3 + 2 * i]
        m, half = masses[i], half_lengths[i]
        c, sn = np.cos(th), np.sin(th)
        gsin = GRAVITY * sn
        ml = m * half
        temp = MUP * thd / ml
        num += ml * thd * thd * sn + 0.75 * m * c * (temp + gsin)
        den += m * (1.0 - 0.75 * c * c)
        parts.append((c, gsin, temp, half))
    xdd = num / den
    d[0] = s[1]
    d[1] = xdd
    for i, (c, gsin, temp, half) in enumerate(parts):
        d[2 + 2 * i] = s[3 + 2 * i]
        d[3 + 2 * i] = -0.75 * (xdd * c + gsin + temp) / half
    if n_poles == 1:
        d[4:] = 0.0
    return d


def _derivs_one(s, force, n_poles, half_lengths=HALF_LENGTHS, masses=MASSES):
    """:func:`_derivs` for one cart on Python floats (a list of 6)."""
    num, den = force, MASS_CART
    parts = []
    for i in range(n_poles):
        th, thd = s[2 + 2 * i], s[3 + 2 * i]
        m, half = masses[i], half_lengths[i]
        c, sn = math.cos(th), math.sin(th)
        gsin = GRAVITY * sn
        ml = m * half
        temp = MUP * thd / ml
        num += ml * thd * thd * sn + 0.75 * m * c * (temp + gsin)
        den += m * (1.0 - 0.75 * c * c)
        parts.append((c, gsin, temp, half))
    xdd = num / den
    d = [s[1], xdd, 0.0, 0.0, 0.0, 0.0]
    for i, (c, gsin, temp, half) in enumerate(parts):
        d[2 + 2 * i] = s[3 + 2 * i]
        d[3 + 2 * i] = -0.75 * (xdd * c + gsin + temp) / half
    return d


def _rk4_one(s, force, n_poles, dt=TAU, poles=(HALF_LENGTHS, MASSES)):
    k1 = _derivs_one(s, force, n_poles, *poles)
    k2 = _derivs_one([a + 0.5 * dt * b for a, b in zip(s, k1)], force, n_poles, *poles)
    k3 = _derivs_one([a + 0.5 * dt * b for a, b in zip(s, k2)], force, n_poles, *poles)
    k4 = _derivs_one([a + dt * b for a, b in zip(s, k3)], force, n_poles, *poles)
    return [a + (dt / 6.0) * (b + 2 * c + 2 * d + e) for a, b, c, d, e in zip(s, k1, k2, k3, k4)]


def rk4(s, force, n_poles, dt=TAU, half_lengths=HALF_LENGTHS, masses=MASSES):
    """One fourth-order Runge-Kutta step of the cart-pole states ``s`` (6, P).

    ``half_lengths`` and ``masses`` of the poles (m, kg) default to the
    papers' (0.5, 0.05) and (0.1, 0.01).

    With a handful of carts left, the arithmetic runs on Python floats per cart
    (NumPy's per-call overhead would dominate a 100,000-step trial).
    """
    if s.shape[1] <= SCALAR_BELOW:
        out = np.empty_like(s)
        for j in range(s.shape[1]):
            out[:, j] = _rk4_one(s[:, j].tolist(), float(force[j]), n_poles, dt,
                                 (half_lengths, masses))
        return out
    k1 = _derivs(s, force, n_poles, half_lengths, masses)
    k2 = _derivs(s + 0.5 * dt * k1, force, n_poles, half_lengths, masses)
    k3 = _derivs(s + 0.5 * dt * k2, force, n_poles, half_lengths, masses)
    k4 = _derivs(s + dt * k3, force, n_poles, half_lengths, masses)
    return s + (dt / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)


def euler(s, force, n_poles, dt=TAU, half_lengths=HALF_LENGTHS, masses=MASSES):
    """One Euler step ``s + dt * ds/dt`` of the cart-pole states ``s`` (6, P).

    The arguments are :func:`rk4`'s; with a handful of carts left the
    arithmetic runs on Python floats per cart, as there.
    """
    if s.shape[1] <= SCALAR_BELOW:
        out = np.empty_like(s)
        for j in range(s.shape[1]):
            col = s[:, j].tolist()
            d = _derivs_one(col, float(force[j]), n_poles, half_lengths, masses)
            out[:, j] = [a + dt * b for a, b in zip(col, d)]
        return out
    return s + dt * _derivs(s, force, n_poles, half_lengths, masses)


def _pair(name, value):
    """Two positive floats (long pole, short pole), checked."""
    try:
        pair = tuple(float(v) for v in value)
    except TypeError:
        raise TypeError(f"CartPole: {name} must be two numbers (long pole, short pole); got "
                        f"{type(value).__name__}") from None
    if len(pair) != 2 or not all(math.isfinite(v) and v > 0 for v in pair):
        raise ValueError(f"CartPole: {name} must be two positive numbers (long pole, short "
                         f"pole); got {value!r}")
    return pair


def _damping(total):
    """Gruau's damping term ``0.75 / total`` of the summed jiggle; 0 where the sum is NaN
    (a NaN action's state: no credit)."""
    out = np.zeros_like(total)
    ok = ~np.isnan(total)
    out[ok] = 0.75 / total[ok]
    return out


def generalization_starts():
    """The 625 start states of the generalisation test (Gruau et al. 1996; Gomez et al.).

    Each of x, x', theta1, theta1' takes the values 0.05, 0.25, 0.5, 0.75, 0.95
    of its range (x in [-2.16, 2.16], x' in [-1.35, 1.35], theta1 in
    [-0.0628, 0.0628] rad, theta1' in [-0.15, 0.15] rad/s); the short pole
    starts upright and still. Returns an array (625, 6).
    """
    v = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    grid = np.stack(np.meshgrid(v, v, v, v, indexing="ij"), -1).reshape(-1, 4)
    s = np.zeros((625, 6))
    s[:, 0] = grid[:, 0] * 4.32 - 2.16
    s[:, 1] = grid[:, 1] * 2.70 - 1.35
    s[:, 2] = grid[:, 2] * 0.12566304 - 0.06283152
    s[:, 3] = grid[:, 3] * 0.30019504 - 0.15009752
    return s


class CartPole:
    """Single or double pole balancing, with or without velocity inputs.

    Parameters
    ----------
    poles : {1, 2}
    velocities : bool, default True
        Markovian task (positions and velocities observed) or the harder
        non-Markovian one (only x and the pole angles; the controller needs
        recurrent memory).
    max_steps : int, default 100_000
        Decisions a trial lasts at most (the papers' success criterion).
    failure_angle : float, optional
        Radians, finite and > 0; default 36 degrees for two poles, 12 degrees
        for one.
    fitness : {"steps", "gruau"}
        Steps balanced (with velocities), or Gruau et al.'s damping fitness
        ``0.1 t/1000 + 0.9 f2`` used without velocities, where ``f2`` is
        ``0.75 / sum over the last 100 steps of (|x| + |x'| + |th1| + |th1'|)``
        (0 before 100 steps), which rewards not merely jiggling the poles.
    half_lengths : (float, float), default (0.5, 0.05)
        Half-lengths of the long and the short pole in metres. A longer short
        pole makes the double pole task harder (the incremental evolution of
        Gomez & Miikkulainen grows it from a tenth of the long pole's length).
    masses : (float, float), optional
        Pole masses in kg; default proportional to the lengths, 0.2 kg per
        metre of half-length (0.1 and 0.01 kg for the default poles).
    integrator : {"rk4", "euler"}, default "rk4"
        Two fourth-order Runge-Kutta steps of 0.01 s per decision, or eight
        Euler steps of 0.0025 s (Stanley's code offers both; see the module
        docstring). Either runs in the compiled path too.

    Notes
    -----
    Observations are scaled as in Stanley's code: ``x/4.8, x'/2, th/0.52,
    th'/2``. The controller's first output ``o`` (a sigmoid in [0, 1]) gives
    the force ``F = 20 (o - 0.5)`` newtons, clipped to [-10, 10].

    A *policy* is either a callable ``obs (P, k) -> actions (P, >=1)`` or an
    object with ``reset(P)`` (clear recurrent state) and ``step(obs)``.

    Examples
    --------
    >>> import numpy as np
    >>> env = CartPole(poles=2, max_steps=50)
    >>> steps = env.evaluate(lambda obs: np.full((obs.shape[0], 1), 0.5), population=3)
    >>> steps.shape
    (3,)
    """

    def __init__(self, poles=2, velocities=True, max_steps=100_000, failure_angle=None,
                 fitness="steps", half_lengths=HALF_LENGTHS, masses=None, integrator="rk4"):
        self.poles = one_of("CartPole", "poles", poles, (1, 2))
        self.velocities = boolean("CartPole", "velocities", velocities)
        self.max_steps = positive_int("CartPole", "max_steps", max_steps)
        if failure_angle is None:
            failure_angle = np.deg2rad(36.0) if poles == 2 else np.deg2rad(12.0)
        # NaN would never fail a trial, a negative angle always
        self.failure_angle = positive_float("CartPole", "failure_angle", failure_angle)
        self.fitness_kind = one_of("CartPole", "fitness", fitness, ("steps", "gruau"))
        self.half_lengths = _pair("half_lengths", half_lengths)
        if masses is None:  # proportional to the lengths (exactly the papers' for theirs)
            masses = MASSES if self.half_lengths == HALF_LENGTHS else tuple(
                MASSES[0] * h / HALF_LENGTHS[0] for h in self.half_lengths)
        self.masses = _pair("masses", masses)
        self.integrator = one_of("CartPole", "integrator", integrator, ("rk4", "euler"))
        k = 2 + 2 * self.poles if self.velocities else 1 + self.poles
        self.n_inputs, self.n_outputs = k, 1

    def __call__(self, network):
        """Fitness of one controller or genome (its phenotype): ``evaluate(network,
        population=1)[0]``, for use as a per-genome ``fitness=`` (through a process
        executor too)."""
        if not callable(network) and hasattr(network, "network"):
            network = network.network()
        return float(self.evaluate(network, population=1)[0])

    def initial_state(self, population):
        """States (6, P): every cart still at the centre, the long pole at 0.07 rad."""
        s = np.zeros((6, population))
        s[2] = START_ANGLE
        return s

    def observe(self, s):
        """Scaled observations (P, n_inputs) of states (6, P)."""
        if self.velocities:
            rows = [s[0] / 4.8, s[1] / 2.0, s[2] / 0.52, s[3] / 2.0]
            if self.poles == 2:
                rows += [s[4] / 0.52, s[5] / 2.0]
        else:
            rows = [s[0] / 4.8, s[2] / 0.52] + ([s[4] / 0.52] if self.poles == 2 else [])
        return np.stack(rows, axis=1)

    def failed(self, s):
        """Where the cart left the track or a pole passed ``failure_angle``, for states (6, P).

        A NaN state (from a NaN action, which is no force) fails too: the
        comparisons are written so that NaN is never within the limits (the
        compiled twin tests the same way).
        """
        out = ~(np.abs(s[0]) <= TRACK) | ~(np.abs(s[2]) <= self.failure_angle)
        if self.poles == 2:
            out |= ~(np.abs(s[4]) <= self.failure_angle)
        return out

    def evaluate(self, policy, population=None, starts=None, max_steps=None):
        """Steps balanced (or Gruau fitness) for each of ``P`` controllers at once.

        Parameters
        ----------
        policy : callable or object with ``reset``/``step``
            Maps observations ``(P', k)`` of the controllers still balancing
            to actions; it is told which ones through ``policy.keep(mask)``
            when it has such a method (to drop recurrent state of failures).
            A population network (one with ``take`` too) is narrowed on a copy
            (``take(arange(P))``): the one passed in stays whole, and evaluating
            it again gives the same fitness.
        population : int, optional
            ``P`` (default: ``policy.size``).
        starts : array (P, 6), optional
            Start states, one finite row ``(x, x', th1, th1', th2, th2')`` per
            controller (the th2 columns unused with one pole; default:
            :meth:`initial_state`).
        max_steps : int, optional

        Returns
        -------
        ndarray (P,)

        Raises
        ------
        ValueError
            If ``population`` exceeds ``policy.size``, or the policy's actions
            are not of shape ``(P', >=1)``, one row per observation it was
            given (a controller that outputs NaN is not an error: its trial
            fails at that decision).

        Notes
        -----
        A feed-forward NEAT population network built with ``fast=True`` (e.g.
        by ``NEAT(fast=True)``) or a population of fully recurrent networks
        (:class:`~rosenblatt.evolution.recurrent.RecurrentPopulationModel` with
        ``outputs``, as CoSyNE evolves them without velocities) runs each whole
        trial in one compiled call (``rosenblatt[fast]``; not with
        ``ROSENBLATT_NO_NUMBA=1``): the same arithmetic in the same order as this
        loop with that network, so the same steps (and Gruau fitness to
        rounding), some 70 times faster per decision.
        """
        if population is None:
            population = getattr(policy, "size", None)
            if population is None:
                raise ValueError("CartPole.evaluate: pass population= for a plain callable")
        P = positive_int("CartPole.evaluate", "population", population)
        size = getattr(policy, "size", None)
        if isinstance(size, (int, np.integer)) and P > size:
            raise ValueError(f"CartPole.evaluate: population must be at most the policy's size "
                             f"{size}; got {P}")
        T = self.max_steps if max_steps is None else positive_int("CartPole", "max_steps",
                                                                  max_steps)
        s = self.initial_state(P) if starts is None else self._starts(starts, P)
        width = getattr(policy, "n_inputs", None)
        if isinstance(width, (int, np.integer)) and not isinstance(width, bool):
            self._check_width(int(width))
        compiled = self._compiled(policy, P, T, s)
        if compiled is not None:
            return compiled
        if getattr(policy, "keep", None) is not None and getattr(policy, "take", None) is not None:
            policy = policy.take(np.arange(P))  # narrowed below as controllers fail
        step_fn = getattr(policy, "step", policy)
        if hasattr(policy, "reset"):
            policy.reset(P)
        keep = getattr(policy, "keep", None)
        alive = np.arange(P)
        steps = np.zeros(P, dtype=np.int64)
        gruau = self.fitness_kind == "gruau"
        jiggle = np.zeros((100, P)) if gruau else None
        poles = (self.half_lengths, self.masses)
        euler_dt = TAU / EULER_SUBSTEPS if self.integrator == "euler" else None
        f2 = np.zeros(P)
        for t in range(T):
            action = np.asarray(step_fn(self.observe(s)), dtype=np.float64)
            if action.ndim != 2 or action.shape[0] != s.shape[1] or action.shape[1] < 1:
                # a policy that always answers for all P controllers would push the survivors
                # with the failed ones' actions
                raise ValueError(f"CartPole.evaluate: the policy must return actions of shape "
                                 f"({s.shape[1]}, >=1), one row per observation (the "
                                 f"controllers still balancing, told through keep(mask)); "
                                 f"got {action.shape}")
            force = np.clip((action[:, 0] - 0.5) * 2.0 * FORCE_MAG, -FORCE_MAG, FORCE_MAG)
            if euler_dt is None:
                s = rk4(rk4(s, force, self.poles, TAU, *poles), force, self.poles, TAU, *poles)
            else:
                for _ in range(2 * EULER_SUBSTEPS):
                    s = euler(s, force, self.poles, euler_dt, *poles)
            if gruau:
                jiggle[t % 100] = np.abs(s[0]) + np.abs(s[1]) + np.abs(s[2]) + np.abs(s[3])
            bad = self.failed(s)
            if bad.any():
                done = alive[bad]
                steps[done] = t
                if gruau and t >= 100:
                    f2[done] = _damping(jiggle[:, bad].sum(axis=0))
                ok = ~bad
                alive, s = alive[ok], s[:, ok]
                if gruau:
                    jiggle = jiggle[:, ok]
                if keep is not None:
                    keep(ok)
                if alive.size == 0:
                    break
        steps[alive] = T
        if gruau:
            if T >= 100 and alive.size:
                f2[alive] = _damping(jiggle.sum(axis=0))
            return 0.1 * steps / 1000.0 + 0.9 * f2
        return steps.astype(np.float64)

    @staticmethod
    def _starts(starts, P):
        """``starts`` (P, 6) checked, as states (6, P)."""
        try:
            a = np.array(starts, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"CartPole.evaluate: starts must be an array (P, 6) of numbers; "
                             f"got {type(starts).__name__}") from None
        if a.shape != (P, 6):
            raise ValueError(f"CartPole.evaluate: starts must have shape (population, 6) = "
                             f"({P}, 6), one state (x, x', th1, th1', th2, th2') per "
                             f"controller; got {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError("CartPole.evaluate: starts must be finite")
        return a.T.copy()

    def physics(self):
        """The constants the simulation uses, as a dict (read by the compiled path)."""
        return {"gravity": getattr(self, "gravity", GRAVITY),
                "mass_cart": getattr(self, "mass_cart", MASS_CART),
                "force_mag": getattr(self, "force_mag", FORCE_MAG),
                "tau": getattr(self, "tau", TAU), "mup": getattr(self, "mup", MUP),
                "track": getattr(self, "track", TRACK),
                "masses": tuple(getattr(self, "masses", MASSES)),
                "half_lengths": tuple(getattr(self, "half_lengths", HALF_LENGTHS))}

    def _check_width(self, width):
        """Refuse networks that take ``width`` inputs when this task gives another number."""
        if width != self.n_inputs:
            raise ValueError(f"CartPole.evaluate: the policy's networks take {width} inputs "
                             f"but this task gives {self.n_inputs} observations (poles="
                             f"{self.poles}, velocities={self.velocities}); build the "
                             f"networks with {self.n_inputs} inputs")

    def _compiled(self, policy, P, T, s, trace=None):
        """:meth:`evaluate` in one compiled call when ``policy`` is a feed-forward NEAT
        population network built with ``fast=True`` or a population of fully recurrent
        networks (:class:`~rosenblatt.evolution.recurrent.RecurrentPopulationModel` with
        ``outputs``) and the kernels are on; else None.

        Same steps (and Gruau fitness) as the NumPy loop but where the last bits of
        ``sin``/``cos`` flip a failure test; ``trace`` (K, P, 6), when given, receives
        the states after each of the first K decisions (NaN after a failure).
        """
        get_records = getattr(policy, "compiled_records", None)
        records = get_records() if get_records is not None else None
        get_weights = getattr(policy, "compiled_weights", None)
        weights = get_weights() if get_weights is not None and records is None else None
        if ((records is None and weights is None) or getattr(policy, "size", None) != P
                or s.shape != (6, P)):
            return None
        # the kernels write n_inputs observations into a buffer sized by the network's
        # inputs (no bounds checks): a width mismatch would write past it
        self._check_width(int(records[0][0]) if records is not None else weights[0].shape[1])
        from .. import _kernels

        if _kernels.get("neat_forward") is None:
            return None
        from .._numba_pole import pole_episodes, recurrent_pole_episodes

        c = self.physics()
        physics = np.array([c["gravity"], c["mass_cart"], c["force_mag"], c["tau"], c["mup"],
                            c["track"]], dtype=np.float64)
        masses = np.zeros(2)
        halves = np.ones(2)
        masses[:self.poles] = c["masses"][:self.poles]
        halves[:self.poles] = c["half_lengths"][:self.poles]
        steps = np.zeros(P, dtype=np.int64)
        f2 = np.zeros(P)
        gruau = self.fitness_kind == "gruau"
        if trace is None:
            trace = np.zeros((0, P, 6))
        common = (np.ascontiguousarray(s.T), self.poles, self.velocities, T, self.failure_angle,
                  gruau, physics, masses, halves, self.integrator == "euler", steps, f2, trace)
        if records is not None:
            pole_episodes(*records, *common)
        else:
            recurrent_pole_episodes(*weights, *common)
        if gruau:
            return 0.1 * steps / 1000.0 + 0.9 * f2
        return steps.astype(np.float64)

    def generalization(self, policy, steps=1000):
        """How many of the 625 generalisation starts each controller balances for ``steps``.

        ``policy`` is a population network (with ``take``, e.g. a
        PopulationNetwork or PopulationModel, or one genome's
        ``genome.network()``, which has ``take`` too: each of its networks is
        tried from all 625 starts at once), a plain callable (one controller,
        mapping a batch of observations to actions) or one controller that steps
        a single observation at a time and cannot be copied (``step`` but no
        ``take``: tried from each start in turn). Returns an int array (P,); the
        papers count a solution as general when it balances at least 200 of the
        625.
        """
        starts = generalization_starts()
        env = CartPole(self.poles, self.velocities, steps, self.failure_angle, "steps",
                       self.half_lengths, self.masses, self.integrator)
        if not hasattr(policy, "take") and hasattr(policy, "step"):
            # a single phenotype's step reads one observation (its recurrent state is one
            # network's), so the 625 trials cannot share a batch: one after another
            balanced = np.array([env.evaluate(policy, population=1, starts=start[None])[0]
                                 for start in starts])
            return np.array([int(np.count_nonzero(balanced >= steps))])
        P = getattr(policy, "size", 1)
        tiled = policy.take(np.repeat(np.arange(P), 625)) if hasattr(policy, "take") else policy
        balanced = env.evaluate(tiled, population=P * 625, starts=np.tile(starts, (P, 1)))
        return (balanced >= steps).reshape(P, 625).sum(axis=1)
