"""Numba kernels of pole balancing with NEAT or fully recurrent controllers (the ``fast`` extra).

Imported only by :meth:`rosenblatt.evolution.envs.CartPole.evaluate` after
:func:`rosenblatt.evolution._kernels.get` said the kernels are on (Numba
installed, not ``ROSENBLATT_NO_NUMBA=1``), never at ``import rosenblatt``.

:func:`pole_episodes` runs whole trials of many carts, each controlled by
one feed-forward NEAT record (see :mod:`rosenblatt.evolution._numba_kernels`),
one cart after the other, its time loop innermost: observation, network,
force, two fourth-order Runge-Kutta steps (or eight Euler steps), failure
test. It performs the floating-point operations of
:func:`rosenblatt.evolution.envs.pole.rk4` (and ``euler``) in the same order
(no fast-math, no contraction), so states agree with the NumPy simulation to
the last bits that ``sin``/``cos`` (libm here, NumPy's own there) and the
network's sums (as in ``neat_forward``) leave.

:func:`recurrent_pole_episodes` is the same loop for fully recurrent networks
of fixed architecture (what CoSyNE evolves for the tasks without velocities,
:class:`~rosenblatt.evolution.recurrent.RecurrentPopulationModel` with
``outputs``), the network's recurrent state carried from one decision to the
next.
"""

import math

import numba
import numpy as np

from ._numba_kernels import _activate, _sections

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@numba.njit(cache=True, inline="always", error_model="numpy")
def _derivs(s, force, n_poles, g, mass_cart, mup, masses, halves, d):
    """d/dt of one cart's state ``s`` (6,) into ``d``: :func:`pole._derivs_one`'s order."""
    num = force
    den = mass_cart
    c0 = 0.0
    gs0 = 0.0
    t0 = 0.0
    c1 = 0.0
    gs1 = 0.0
    t1 = 0.0
    for i in range(n_poles):
        th = s[2 + 2 * i]
        thd = s[3 + 2 * i]
        m = masses[i]
        half = halves[i]
        c = math.cos(th)
        sn = math.sin(th)
        gsin = g * sn
        ml = m * half
        temp = mup * thd / ml
        num += ml * thd * thd * sn + 0.75 * m * c * (temp + gsin)
        den += m * (1.0 - 0.75 * c * c)
        if i == 0:
            c0, gs0, t0 = c, gsin, temp
        else:
            c1, gs1, t1 = c, gsin, temp
    xdd = num / den
    d[0] = s[1]
    d[1] = xdd
    d[2] = s[3]
    d[3] = -0.75 * (xdd * c0 + gs0 + t0) / halves[0]
    if n_poles == 2:
        d[4] = s[5]
        d[5] = -0.75 * (xdd * c1 + gs1 + t1) / halves[1]
    else:
        d[4] = 0.0
        d[5] = 0.0


@numba.njit(cache=True, inline="always", error_model="numpy")
def _rk4(s, force, n_poles, g, mass_cart, mup, masses, halves, dt, k1, k2, k3, k4, tmp):
    """One RK4 step of ``s`` in place, as :func:`pole._rk4_one` / :func:`pole.rk4`."""
    h = 0.5 * dt
    _derivs(s, force, n_poles, g, mass_cart, mup, masses, halves, k1)
    for j in range(6):
        tmp[j] = s[j] + h * k1[j]
    _derivs(tmp, force, n_poles, g, mass_cart, mup, masses, halves, k2)
    for j in range(6):
        tmp[j] = s[j] + h * k2[j]
    _derivs(tmp, force, n_poles, g, mass_cart, mup, masses, halves, k3)
    for j in range(6):
        tmp[j] = s[j] + dt * k3[j]
    _derivs(tmp, force, n_poles, g, mass_cart, mup, masses, halves, k4)
    sixth = dt / 6.0
    for j in range(6):
        s[j] = s[j] + sixth * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j])


@numba.njit(cache=True, inline="always", error_model="numpy")
def _euler(s, force, n_poles, g, mass_cart, mup, masses, halves, dt, k1):
    """One Euler step ``s + dt * ds/dt`` in place, as :func:`pole.euler`."""
    _derivs(s, force, n_poles, g, mass_cart, mup, masses, halves, k1)
    for j in range(6):
        s[j] = s[j] + dt * k1[j]


@numba.njit(cache=True, inline="always", error_model="numpy")
def _observe(s, n_poles, velocities, V):
    """The scaled observation of state ``s`` into ``V[:k]`` (:meth:`CartPole.observe`)."""
    if velocities:
        V[0] = s[0] / 4.8
        V[1] = s[1] / 2.0
        V[2] = s[2] / 0.52
        V[3] = s[3] / 2.0
        if n_poles == 2:
            V[4] = s[4] / 0.52
            V[5] = s[5] / 2.0
    else:
        V[0] = s[0] / 4.8
        V[1] = s[2] / 0.52
        if n_poles == 2:
            V[2] = s[4] / 0.52


@numba.njit(cache=True, inline="always", error_model="numpy")
def _advance(s, a, t, p, n_poles, failure_angle, gruau, physics, masses, halves, euler,
             jiggle, trace, k1, k2, k3, k4, tmp):
    """Decision ``t`` of cart ``p`` with action ``a``: force, two RK4 steps (``euler``: eight
    Euler steps of a quarter of ``tau``, ``pole.EULER_SUBSTEPS``), Gruau's jiggle term, the
    trace; returns whether the cart failed."""
    g, mass_cart, force_mag, tau, mup, track = (physics[0], physics[1], physics[2],
                                                 physics[3], physics[4], physics[5])
    force = (a - 0.5) * 2.0 * force_mag
    if force > force_mag:
        force = force_mag
    elif force < -force_mag:
        force = -force_mag
    if euler:
        dt = tau / 4.0
        for _ in range(8):
            _euler(s, force, n_poles, g, mass_cart, mup, masses, halves, dt, k1)
    else:
        _rk4(s, force, n_poles, g, mass_cart, mup, masses, halves, tau, k1, k2, k3, k4, tmp)
        _rk4(s, force, n_poles, g, mass_cart, mup, masses, halves, tau, k1, k2, k3, k4, tmp)
    if gruau:
        jiggle[t % 100] = abs(s[0]) + abs(s[1]) + abs(s[2]) + abs(s[3])
    if t < trace.shape[0]:
        for j in range(6):
            trace[t, p, j] = s[j]
    # NaN (a NaN action) is never within the limits: it fails, as CartPole.failed
    bad = not abs(s[0]) <= track or not abs(s[2]) <= failure_angle
    if n_poles == 2:
        bad = bad or not abs(s[4]) <= failure_angle
    return bad


@numba.njit(cache=True, inline="always", error_model="numpy")
def _finish(p, result, max_steps, gruau, jiggle, steps, f2, trace):
    """Cart ``p``'s steps, Gruau's damping term, and NaN in its trace after a failure."""
    steps[p] = result
    if gruau:
        f2[p] = 0.0
        if result >= 100:
            total = 0.0
            for j in range(100):
                total += jiggle[j]
            if not math.isnan(total):  # NaN: a NaN action's state, no credit (pole._damping)
                f2[p] = 0.75 / total
    for t in range(min(result + 1, max_steps), trace.shape[0]):
        for j in range(6):
            trace[t, p, j] = np.nan


@_jit
def pole_episodes(records, offsets, starts, n_poles, velocities, max_steps, failure_angle,
                  gruau, physics, masses, halves, euler, steps, f2, trace):
    """Trials of ``P`` carts, cart ``p`` controlled by record ``p`` of ``records``.

    ``starts`` (P, 6) start states; ``physics`` = (gravity, cart mass, force
    magnitude, tau, hinge friction, track half-width); ``masses``/``halves`` per
    pole; ``euler`` integrates by Euler's method instead of RK4. Writes
    ``steps[p]`` (decisions before failure, ``max_steps`` when it never failed)
    and, with ``gruau``, ``f2[p]`` (Gruau's damping term). The states after each
    of the first ``trace.shape[0]`` decisions go to ``trace[t, p]`` (NaN once the
    cart failed).
    """
    P = starts.shape[0]
    n_in = int(records[0])
    n_out = int(records[1])
    widest = 1
    for p in range(P):
        widest = max(widest, int(records[offsets[p] + 2]))
    V = np.empty(widest)
    s = np.empty(6)
    k1 = np.empty(6)
    k2 = np.empty(6)
    k3 = np.empty(6)
    k4 = np.empty(6)
    tmp = np.empty(6)
    jiggle = np.zeros(100)
    for p in range(P):
        rec = records[offsets[p]:offsets[p + 1]]
        nn = int(rec[2])
        ne = int(rec[3])
        c_at, o_at, s_at, e_at, w_at = _sections(nn, ne)
        for j in range(6):
            s[j] = starts[p, j]
        for j in range(100):
            jiggle[j] = 0.0
        result = max_steps
        for t in range(max_steps):
            _observe(s, n_poles, velocities, V)  # observation (Stanley's scaling), bias
            V[n_in] = 1.0
            # the network, node by node in topological order (neat_forward's sums)
            for q in range(nn):
                u = int(rec[o_at + q])
                if u <= n_in:
                    continue
                acc = 0.0
                for e in range(int(rec[s_at + u]), int(rec[s_at + u + 1])):
                    acc += rec[w_at + e] * V[int(rec[e_at + e])]
                V[u] = _activate(int(rec[c_at + u]), acc)
            a = V[n_in + 1] if n_out > 0 else 0.0
            if _advance(s, a, t, p, n_poles, failure_angle, gruau, physics, masses, halves,
                        euler, jiggle, trace, k1, k2, k3, k4, tmp):
                result = t
                break
        _finish(p, result, max_steps, gruau, jiggle, steps, f2, trace)


@_jit
def recurrent_pole_episodes(W_x, W_h, b, relu, starts, n_poles, velocities, max_steps,
                            failure_angle, gruau, physics, masses, halves, euler, steps, f2,
                            trace):
    """Trials of ``P`` carts, cart ``p`` controlled by fully recurrent network ``p``.

    Network ``p`` has input weights ``W_x[p]`` (k, N), recurrent weights
    ``W_h[p]`` (N, N) and biases ``b[p]`` (N,); its state starts at zero and
    each decision computes ``h = f(obs W_x + h W_h + b)`` (``f`` tanh, or relu
    with ``relu``), every unit reading the previous decision's state, and
    unit 0 is the action (``(h_0 + 1) / 2`` for tanh), as
    :class:`~rosenblatt.evolution.recurrent.RecurrentPopulationModel` with
    ``outputs``. The sums run in its order (inputs, then the state, then the
    bias). The rest is :func:`pole_episodes`.
    """
    P, k, N = W_x.shape
    V = np.empty(max(k, 1))
    h = np.empty(N)
    hn = np.empty(N)
    s = np.empty(6)
    k1 = np.empty(6)
    k2 = np.empty(6)
    k3 = np.empty(6)
    k4 = np.empty(6)
    tmp = np.empty(6)
    jiggle = np.zeros(100)
    for p in range(P):
        for j in range(6):
            s[j] = starts[p, j]
        for j in range(100):
            jiggle[j] = 0.0
        for j in range(N):
            h[j] = 0.0
        result = max_steps
        for t in range(max_steps):
            _observe(s, n_poles, velocities, V)
            for j in range(N):
                acc = 0.0
                for i in range(k):
                    acc += V[i] * W_x[p, i, j]
                rec = 0.0
                for i in range(N):
                    rec += h[i] * W_h[p, i, j]
                z = (acc + rec) + b[p, j]
                hn[j] = max(z, 0.0) if relu else math.tanh(z)
            for j in range(N):
                h[j] = hn[j]
            a = h[0] if relu else 0.5 * (h[0] + 1.0)
            if _advance(s, a, t, p, n_poles, failure_angle, gruau, physics, masses, halves,
                        euler, jiggle, trace, k1, k2, k3, k4, tmp):
                result = t
                break
        _finish(p, result, max_steps, gruau, jiggle, steps, f2, trace)
