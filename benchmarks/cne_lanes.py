"""CNE's population pass with the networks in the SIMD lanes: prototypes against the kernel.

Issue 18, branch ``cne6``. The library's ``mlp_forward`` puts the samples of one network in
the vector lanes (one network at a time, ~13 short loops over the batch per network). The
prototypes here put a block of ``LANES`` networks in the lanes instead: their weights are
transposed to lane-major rows ``WT[param, network]`` once per block, then each sample runs
through the block with every weight a vector load and every input a scalar broadcast.

* :func:`specialised_kernel`: the best case, 4-16-1 (Tanh, Sigmoid) with a shared batch
  only, everything spelt out: the four inputs in registers, each hidden unit's value
  accumulated straight into the output (``acc += v_j h_j``), no hidden buffer.
* :func:`generic_kernel`: any chain of Dense layers with Tanh/Sigmoid/ReLU, one X or one
  per network; first-layer inputs as scalars when shared and <= 4, layers of <= 4 inputs
  in one pass, wider ones four inputs a pass (the sums in ``mlp_forward``'s order: its
  outputs equal bit for bit on this workload).

Both keep ``tanh_rational``'s arithmetic. Paired CPU-time rounds (one thread) of
``mlp_forward``, the two prototypes and the exact NumPy path, 1,000 networks, batch sizes
from the command line::

    nice -n -15 env PYTHONPATH=$PWD python -m benchmarks.cne_lanes 4 16 64 256

Benchmarks are not tests: nothing here is asserted (the maximum difference from the exact
path is printed).
"""

import sys
import time

import numba
import numpy as np

import rosenblatt as rb
from benchmarks.workloads import neat
from rosenblatt.evolution import _numba_kernels as K
from rosenblatt.evolution._numba_kernels import _FAST, _TANH_C, RELU, SIGMOID, TANH, tanh_rational


def specialised_kernel(LANES):
    """4-16-1, Tanh then Sigmoid, X shared: ``f(X (1, n, 4), thetas (P, 97), out (P, n, 1))``."""

    @numba.njit(fastmath=_FAST, error_model="numpy")
    def lanes(X, thetas, out):
        P = thetas.shape[0]
        n = X.shape[1]
        size = thetas.shape[1]
        WT = np.zeros((size, LANES))
        acc = np.empty(LANES)
        o = np.empty(LANES)
        c = (_TANH_C[0], _TANH_C[1], _TANH_C[2], _TANH_C[3], _TANH_C[4], _TANH_C[5], _TANH_C[6],
             _TANH_C[7], _TANH_C[8])
        for q0 in range(0, P, LANES):
            w = min(LANES, P - q0)
            for r in range(size):
                for b in range(w):
                    WT[r, b] = thetas[q0 + b, r]
                for b in range(w, LANES):
                    WT[r, b] = 0.0
            for s in range(n):
                x0, x1, x2, x3 = X[0, s, 0], X[0, s, 1], X[0, s, 2], X[0, s, 3]
                for b in range(LANES):
                    acc[b] = WT[96, b]
                for j in range(16):
                    for b in range(LANES):
                        h = tanh_rational(WT[64 + j, b] + x0 * WT[j, b] + x1 * WT[16 + j, b]
                                          + x2 * WT[32 + j, b] + x3 * WT[48 + j, b], c)
                        acc[b] += h * WT[80 + j, b]
                for b in range(LANES):
                    o[b] = 0.5 + 0.5 * tanh_rational(0.5 * acc[b], c)
                for b in range(w):
                    out[q0 + b, s, 0] = o[b]

    return lanes


def generic_kernel(LANES):
    @numba.njit(fastmath=_FAST, inline="always", error_model="numpy")
    def _layer(A, x, first, WT, k, m, w_at, b_at, code, B, c, zero):
        """B[j, :] = act(b_j + sum_i W[i, j] a_i) for the block's LANES networks; a_i the
        scalar x[i] (``first``: one input row shared by the block) or the row A[i, :]."""
        for j in range(m):
            br = b_at + j if b_at >= 0 else zero
            if k <= 4:
                r0 = w_at + j
                r1 = r0 + m if k > 1 else zero
                r2 = r0 + 2 * m if k > 2 else zero
                r3 = r0 + 3 * m if k > 3 else zero
                if first:
                    x0 = x[0]
                    x1 = x[1] if k > 1 else 0.0
                    x2 = x[2] if k > 2 else 0.0
                    x3 = x[3] if k > 3 else 0.0
                    if code == TANH:
                        for b in range(LANES):
                            B[j, b] = tanh_rational(WT[br, b] + x0 * WT[r0, b] + x1 * WT[r1, b]
                                                    + x2 * WT[r2, b] + x3 * WT[r3, b], c)
                    elif code == SIGMOID:
                        for b in range(LANES):
                            B[j, b] = 0.5 + 0.5 * tanh_rational(0.5 * (
                                WT[br, b] + x0 * WT[r0, b] + x1 * WT[r1, b]
                                + x2 * WT[r2, b] + x3 * WT[r3, b]), c)
                    elif code == RELU:
                        for b in range(LANES):
                            B[j, b] = max(WT[br, b] + x0 * WT[r0, b] + x1 * WT[r1, b]
                                          + x2 * WT[r2, b] + x3 * WT[r3, b], 0.0)
                    else:
                        for b in range(LANES):
                            B[j, b] = (WT[br, b] + x0 * WT[r0, b] + x1 * WT[r1, b]
                                       + x2 * WT[r2, b] + x3 * WT[r3, b])
                    continue
                i1 = 1 if k > 1 else 0
                i2 = 2 if k > 2 else 0
                i3 = 3 if k > 3 else 0
                if code == TANH:
                    for b in range(LANES):
                        B[j, b] = tanh_rational(WT[br, b] + A[0, b] * WT[r0, b]
                                                + A[i1, b] * WT[r1, b] + A[i2, b] * WT[r2, b]
                                                + A[i3, b] * WT[r3, b], c)
                elif code == SIGMOID:
                    for b in range(LANES):
                        B[j, b] = 0.5 + 0.5 * tanh_rational(0.5 * (
                            WT[br, b] + A[0, b] * WT[r0, b] + A[i1, b] * WT[r1, b]
                            + A[i2, b] * WT[r2, b] + A[i3, b] * WT[r3, b]), c)
                elif code == RELU:
                    for b in range(LANES):
                        B[j, b] = max(WT[br, b] + A[0, b] * WT[r0, b] + A[i1, b] * WT[r1, b]
                                      + A[i2, b] * WT[r2, b] + A[i3, b] * WT[r3, b], 0.0)
                else:
                    for b in range(LANES):
                        B[j, b] = (WT[br, b] + A[0, b] * WT[r0, b] + A[i1, b] * WT[r1, b]
                                   + A[i2, b] * WT[r2, b] + A[i3, b] * WT[r3, b])
                continue
            # more than four inputs: B[j] accumulates four a pass
            for b in range(LANES):
                B[j, b] = WT[br, b]
            i = 0
            while k - i > 4:
                r0 = w_at + i * m + j
                for b in range(LANES):
                    B[j, b] += (A[i, b] * WT[r0, b] + A[i + 1, b] * WT[r0 + m, b]
                                + A[i + 2, b] * WT[r0 + 2 * m, b] + A[i + 3, b] * WT[r0 + 3 * m, b])
                i += 4
            left = k - i
            r0 = w_at + i * m + j
            r1 = r0 + m if left > 1 else zero
            r2 = r0 + 2 * m if left > 2 else zero
            r3 = r0 + 3 * m if left > 3 else zero
            i1 = i + 1 if left > 1 else i
            i2 = i + 2 if left > 2 else i
            i3 = i + 3 if left > 3 else i
            if code == TANH:
                for b in range(LANES):
                    B[j, b] = tanh_rational(B[j, b] + A[i, b] * WT[r0, b] + A[i1, b] * WT[r1, b]
                                            + A[i2, b] * WT[r2, b] + A[i3, b] * WT[r3, b], c)
            elif code == SIGMOID:
                for b in range(LANES):
                    B[j, b] = 0.5 + 0.5 * tanh_rational(0.5 * (
                        B[j, b] + A[i, b] * WT[r0, b] + A[i1, b] * WT[r1, b]
                        + A[i2, b] * WT[r2, b] + A[i3, b] * WT[r3, b]), c)
            elif code == RELU:
                for b in range(LANES):
                    B[j, b] = max(B[j, b] + A[i, b] * WT[r0, b] + A[i1, b] * WT[r1, b]
                                  + A[i2, b] * WT[r2, b] + A[i3, b] * WT[r3, b], 0.0)
            else:
                for b in range(LANES):
                    B[j, b] = (B[j, b] + A[i, b] * WT[r0, b] + A[i1, b] * WT[r1, b]
                               + A[i2, b] * WT[r2, b] + A[i3, b] * WT[r3, b])

    @numba.njit(fastmath=_FAST, error_model="numpy")
    def lanes(X, thetas, plan, out, p0, p1):
        n = X.shape[1]
        L = plan.shape[1] - 1
        size = thetas.shape[1]
        widest = 1
        for layer in range(L + 1):
            widest = max(widest, plan[0, layer])
        dt = thetas.dtype
        zero = size
        WT = np.zeros((size + 1, LANES), dt)
        buf_a = np.zeros((widest, LANES), dt)
        buf_b = np.zeros((widest, LANES), dt)
        XT = np.zeros((plan[0, 0], LANES), dt)
        x = np.zeros(4, dt)
        c = (_TANH_C[0], _TANH_C[1], _TANH_C[2], _TANH_C[3], _TANH_C[4], _TANH_C[5], _TANH_C[6],
             _TANH_C[7], _TANH_C[8])
        shared = X.shape[0] == 1
        k0 = plan[0, 0]
        first = shared and k0 <= 4
        for q0 in range(p0, p1, LANES):
            w = min(LANES, p1 - q0)
            for r in range(size):
                for b in range(w):
                    WT[r, b] = thetas[q0 + b, r]
            if w < LANES:
                for r in range(size):
                    for b in range(w, LANES):
                        WT[r, b] = 0.0
            for s in range(n):
                if first:
                    for i in range(k0):
                        x[i] = X[0, s, i]
                elif shared:
                    for i in range(k0):
                        xi = X[0, s, i]
                        for b in range(LANES):
                            XT[i, b] = xi
                else:
                    for i in range(k0):
                        for b in range(w):
                            XT[i, b] = X[q0 + b, s, i]
                for layer in range(L):
                    k = plan[0, layer]
                    m = plan[0, layer + 1]
                    if layer == 0:
                        _layer(XT, x, first, WT, k, m, plan[1, 0], plan[2, 0], plan[3, 0], buf_a,
                               c, zero)
                    elif layer % 2 == 1:
                        _layer(buf_a, x, False, WT, k, m, plan[1, layer], plan[2, layer],
                               plan[3, layer], buf_b, c, zero)
                    else:
                        _layer(buf_b, x, False, WT, k, m, plan[1, layer], plan[2, layer],
                               plan[3, layer], buf_a, c, zero)
                m = plan[0, L]
                if L % 2 == 1:
                    for j in range(m):
                        for b in range(w):
                            out[q0 + b, s, j] = buf_a[j, b]
                else:
                    for j in range(m):
                        for b in range(w):
                            out[q0 + b, s, j] = buf_b[j, b]
    return lanes


def _per_call(fn, k):
    t0 = time.process_time()
    for _ in range(k):
        fn()
    return (time.process_time() - t0) / k


def _sides(model, thetas, plan, X, outs, spec, gen):
    Xs = X[None].copy()
    return {
        "mlp_forward": lambda: K.mlp_forward(Xs, thetas, plan, outs[0]),
        "specialised": lambda: spec(Xs, thetas, outs[1]),
        "generic": lambda: gen(Xs, thetas, plan, outs[2], 0, 1000),
        "numpy": lambda: rb.evolution.population_forward(model, thetas, X),
    }


def main(batches=(4, 16, 64, 256), rounds=7, lanes=16):
    model = neat._cne_model()
    rng = np.random.default_rng(0)
    thetas = rng.normal(size=(1000, model.num_parameters()))
    rb.evolution.population_forward(model, thetas, np.zeros((16, 4)), fast=True)
    plan = rb.evolution.cne._FAST_PLANS[id(model)][2][1]
    spec, gen = specialised_kernel(lanes), generic_kernel(lanes)
    for n in batches:
        X = rng.normal(size=(n, 4))
        outs = [np.empty((1000, n, 1)) for _ in range(3)]
        sides = _sides(model, thetas, plan, X, outs, spec, gen)
        for fn in sides.values():
            fn()
        exact = rb.evolution.population_forward(model, thetas, X)
        k = max(10, 25600 // n)
        times = {name: [] for name in sides}
        for _ in range(rounds):
            for name, fn in sides.items():
                times[name].append(_per_call(fn, k if name != "numpy" else k // 10 + 1))
        t = {name: np.array(v) for name, v in times.items()}
        print(f"batch {n}, {lanes} lanes: " + ", ".join(
            f"{name} {np.median(v) * 1e3:.3f} ms" for name, v in t.items()))
        print("  paired ratios (time / lane time): " + "; ".join(
            f"{other} / {side} {np.median(t[other] / t[side]):.2f}x "
            f"[{(t[other] / t[side]).min():.2f}-{(t[other] / t[side]).max():.2f}]"
            for side in ("specialised", "generic") for other in ("mlp_forward", "numpy")))
        print("  max |out - exact|: " + ", ".join(
            f"{name} {np.abs(o - exact).max():.2e}"
            for name, o in zip(("mlp_forward", "specialised", "generic"), outs)))


if __name__ == "__main__":
    main(tuple(int(a) for a in sys.argv[1:]) or (4, 16, 64, 256))
