"""Where the MLP 784-256-256-10 step's time goes at one and two threads, and how close to
the float32 GEMM peak any implementation of it can get on this machine (issue 23).

Run from the repository root (native OpenBLAS kernels, as the benchmark figures)::

    nice -n -15 env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=$PWD \\
        .venv/bin/python -m benchmarks.mlp_bound --rounds 15

It prints, each the best (minimum) over ``--rounds`` alternating rounds, since other
programs can only add time to a measurement:

- the float32 GEMM peak at 1 and 2 threads, measured as ``benchmarks/run.py`` does
  (``np.matmul`` of two 2048x2048 matrices);
- each of the step's eight products alone, in the orientation ``nn/dense.py`` computes it,
  at 1 and 2 BLAS threads, and each as two half-batch products (what each core does when
  the batch, not the product, is split between two threads);
- the passes outside the products that no library can skip: the loop's ``x[idx]`` gather
  of 128 rows and one SGD-momentum pass over the 269,322 parameters;
- whole steps (epochs of 20 steps, 3 x ``--rounds`` of them): the hand-written NumPy loop
  of ``workloads/mlp.py`` (no autodiff) and rosenblatt's, at 1 and 2 BLAS threads; the
  hand-written loop split by batch halves over two Python threads with one BLAS thread
  each (``--no-split`` skips it); ``rb.fit`` at 2 BLAS threads and ``rb.fit`` over
  ``rb.distributed.ThreadParallel`` (batch halves on two threads, one BLAS thread each;
  ``--no-threads`` skips both), with the two-thread GEMM peak between the rounds.

Benchmarks are not tests: nothing here is asserted.
"""

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import best_per_call as _best  # noqa: E402
from benchmarks.workloads import mlp  # noqa: E402

B = mlp.BATCH
STEP_FLOPS = mlp.flops(B)  # 155.2 MFLOP: forward, dW of each layer, dX of layers 2 and 3


def _limits(n):
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n, user_api="blas")


def products():
    """The step's products as ``(name, a, b, out)``: ``np.dot(a, b, out=out)``, as
    ``nn/dense.py`` computes them (W stored (in, out), dW = x^T g, dX = g W^T)."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    x = rng.standard_normal((B, 784), dtype=f32)
    h = rng.standard_normal((B, 256), dtype=f32)
    g = rng.standard_normal((B, 256), dtype=f32)
    g3 = rng.standard_normal((B, 10), dtype=f32)
    w1 = rng.standard_normal((784, 256), dtype=f32)
    w2 = rng.standard_normal((256, 256), dtype=f32)
    w3 = rng.standard_normal((256, 10), dtype=f32)
    return [
        ("forward 1  x W1   128x784x256", x, w1),
        ("forward 2  h W2   128x256x256", h, w2),
        ("forward 3  h W3   128x256x10", h, w3),
        ("dW3  h^T g3       256x128x10", h.T, g3),
        ("dX3  g3 W3^T      128x10x256", g3, w3.T),
        ("dW2  h^T g        256x128x256", h.T, g),
        ("dX2  g W2^T       128x256x256", g, w2.T),
        ("dW1  x^T g        784x128x256", x.T, g),
    ]


def _half(a, b, name):
    """The same product on half the batch (rows of a, or for dW the inner axis)."""
    if name.startswith("dW"):
        return np.ascontiguousarray(a[:, : B // 2].T).T, np.ascontiguousarray(b[: B // 2])
    return np.ascontiguousarray(a[: B // 2]), b


def gemm_table(rounds):
    prods = products()
    outs = [np.empty((a.shape[0], b.shape[1]), np.float32) for _, a, b in prods]
    halves = [_half(a, b, name) for name, a, b in prods]
    half_outs = [np.empty((a.shape[0], b.shape[1]), np.float32) for a, b in halves]
    rng = np.random.default_rng(1)
    big = rng.standard_normal((2048, 2048), dtype=np.float32)
    big_out = np.empty_like(big)
    res = {}
    for _ in range(rounds):
        for nt in (1, 2):
            with _limits(nt):
                key = ("peak", nt)
                t = _best(lambda: np.matmul(big, big, out=big_out), 1, 2)
                res[key] = min(res.get(key, np.inf), t)
                for (name, a, b), out in zip(prods, outs):
                    t = _best(lambda a=a, b=b, out=out: np.dot(a, b, out=out), 20)
                    res[name, nt] = min(res.get((name, nt), np.inf), t)
                if nt == 1:
                    for (name, _, _), (a, b), out in zip(prods, halves, half_outs):
                        t = _best(lambda a=a, b=b, out=out: np.dot(a, b, out=out), 20)
                        res[name, "half"] = min(res.get((name, "half"), np.inf), t)
    return prods, res


def outside_products(rounds):
    """The gather of 128 rows from 60,000 and one SGD-momentum pass (one BLAS thread)."""
    import rosenblatt as rb
    from rosenblatt.optim.sgd import sgd_rule

    x, _ = mlp.data(60_000)
    perm = np.random.default_rng(1).permutation(len(x))
    size = sum(a * b + b for a, b in zip(mlp.SIZES[:-1], mlp.SIZES[1:]))
    theta, grad, vel, buf = (np.ones(size, np.float32) for _ in range(4))
    it = iter(range(0, len(x) - B, B))

    def gather():
        nonlocal it
        i = next(it, None)
        if i is None:
            it = iter(range(0, len(x) - B, B))
            i = next(it)
        return rb.tensor(x[perm[i:i + B]])

    def sgd():
        sgd_rule(theta, grad, vel, buf, lr=0.01, momentum=0.9, nesterov=False,
                 weight_decay=0.0, first=False)

    with _limits(1):
        return {"gather": min(_best(gather, 50) for _ in range(rounds)),
                "sgd": min(_best(sgd, 50) for _ in range(rounds)), "size": size}


def split_numpy_loop(x, y):
    """The hand-written loop with the batch split in halves over two Python threads (one
    BLAS thread each; NumPy releases the GIL in its products and ufunc loops): each half's
    forward and backward into its own gradient vector, then each thread updates half of
    the parameters from the sum. Three barriers per step. Not a library: what threads
    over batch halves could reach."""
    sizes, lr, mu = mlp.SIZES, mlp.LR, mlp.MOMENTUM
    shapes = list(zip(sizes[:-1], sizes[1:]))
    size = sum(a * b + b for a, b in shapes)
    f32 = np.float32

    def views(vec):
        out, s = [], 0
        for a, b in shapes:
            w = vec[s:s + a * b].reshape(a, b)
            s += a * b
            out.append((w, vec[s:s + b]))
            s += b
        return out

    rng = np.random.default_rng(0)
    theta, vel = np.zeros(size, f32), np.zeros(size, f32)
    grads = [np.zeros(size, f32) for _ in range(2)]
    params = views(theta)
    for (a, b), (w, _) in zip(shapes, params):
        w[...] = rng.uniform(-1, 1, (a, b)) * np.sqrt(6 / (a + b))
    gviews = [views(g) for g in grads]
    half = B // 2
    bufs = [{"x": np.empty((half, sizes[0]), f32),
             "h": [np.empty((half, b), f32) for _, b in shapes],
             "d": [np.empty((half, b), f32) for _, b in shapes[:-1]],
             "buf": np.empty(size // 2 + 1, f32)} for _ in range(2)]
    state = {}

    def part(k):
        idx = state["idx"][k * half:(k + 1) * half]
        m, bk, gk = len(idx), bufs[k], gviews[k]
        inp = bk["x"][:m]
        np.take(x, idx, axis=0, out=inp)
        h = [a[:m] for a in bk["h"]]
        for i, (w, b) in enumerate(params):
            np.matmul(inp, w, out=h[i])
            h[i] += b
            if i < len(params) - 1:
                np.maximum(h[i], 0, out=h[i])
            inp = h[i]
        p = h[-1]
        p -= p.max(axis=1, keepdims=True)
        np.exp(p, out=p)
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(m), y[idx]] -= 1
        p *= 1.0 / len(state["idx"])
        delta = p
        for i in range(len(params) - 1, -1, -1):
            below = h[i - 1] if i else bk["x"][:m]
            np.matmul(below.T, delta, out=gk[i][0])
            np.add.reduce(delta, 0, out=gk[i][1])
            if i:
                d = bk["d"][i - 1][:m]
                np.matmul(delta, params[i][0].T, out=d)
                d *= below > 0
                delta = d

    def update(k):
        lo, hi = k * size // 2, (k + 1) * size // 2
        v, buf = vel[lo:hi], bufs[k]["buf"][:hi - lo]
        v *= mu
        v += grads[0][lo:hi]
        v += grads[1][lo:hi]
        np.multiply(v, lr, out=buf)
        theta[lo:hi] -= buf

    go, mid, end = (threading.Barrier(2) for _ in range(3))
    stop = []

    def worker():
        while True:
            go.wait()
            if stop:
                return
            part(1)
            mid.wait()
            update(1)
            end.wait()

    threading.Thread(target=worker, daemon=True).start()
    order = np.random.default_rng(1)

    def epoch():
        perm = order.permutation(len(x))
        for i in range(0, len(x) - B + 1, B):
            state["idx"] = perm[i:i + B]
            go.wait()
            part(0)
            mid.wait()
            update(0)
            end.wait()

    def close():
        stop.append(True)
        go.wait()

    epoch.close = close
    epoch.theta = theta
    return epoch


def loops(rounds, split=True, samples=2560, threads=True):
    """Seconds per step of whole epochs of ``samples`` samples, each over rounds. Short epochs
    (20 steps) many times: on a shared machine the best of them is the quiet one."""
    from benchmarks.common import rosenblatt_sgd_epoch

    x, y = mlp.data(samples)
    steps = len(x) // B
    impls = {
        ("numpy loop", 1): mlp.numpy_fn(x, y), ("numpy loop", 2): mlp.numpy_fn(x, y),
        ("rosenblatt", 1): rosenblatt_sgd_epoch(mlp.rosenblatt_model(), x, y, B, mlp.LR,
                                                mlp.MOMENTUM),
        ("rosenblatt", 2): rosenblatt_sgd_epoch(mlp.rosenblatt_model(), x, y, B, mlp.LR,
                                                mlp.MOMENTUM),
    }
    if split:
        impls["numpy loop, batch halves on 2 threads", 1] = split_numpy_loop(x, y)
    if threads:  # the library's data-parallel training over threads, and rb.fit without it
        impls["rb.fit", 2] = _fit_epoch(x, y, None)
        impls["rb.fit, ThreadParallel: batch halves on 2 threads", 2] = _fit_epoch(x, y, 2)
    times = {k: [] for k in impls}
    big = np.random.default_rng(1).standard_normal((2048, 2048), dtype=np.float32)
    big_out = np.empty_like(big)
    for r in range(rounds + 1):
        with _limits(2):  # the two-thread peak, between the rounds, as run.py measures it
            t = _best(lambda: np.matmul(big, big, out=big_out), 1, 2)
            times.setdefault(("peak", 2), []).append(t)
        for (name, nt), fn in impls.items():
            with _limits(nt):
                t0 = time.perf_counter()
                fn()
                if r:
                    times[name, nt].append((time.perf_counter() - t0) / steps)
    for fn in impls.values():
        if hasattr(fn, "close"):
            fn.close()
    return times


def _fit_epoch(x, y, threads):
    """An epoch through ``rb.fit`` as the benchmark's row; ``threads``: over a
    ``rb.distributed.ThreadParallel`` of that many threads (kept across epochs)."""
    import rosenblatt as rb

    model = mlp.rosenblatt_model()
    opt = rb.optim.SGD(model.parameters(), lr=mlp.LR, momentum=mlp.MOMENTUM)
    parallel = None if threads is None else rb.distributed.ThreadParallel(model, opt, threads)
    order = np.random.default_rng(1)

    def epoch():
        rb.fit(model, x, y, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=B,
               progress=False, rng=order, distributed=parallel)

    if parallel is not None:
        epoch.close = parallel.close
    return epoch


PHASES = ("gather", "forward", "loss", "zero_grad", "backward", "step")


def phases(rounds, steps=100):
    """rosenblatt's loop (``common.rosenblatt_sgd_epoch``) timed phase by phase at 1 and 2
    BLAS threads: {(threads, phase): [median seconds of each round]}."""
    import rosenblatt as rb

    x, y = mlp.data(steps * B)
    model = mlp.rosenblatt_model()
    opt = rb.optim.SGD(model.parameters(), lr=mlp.LR, momentum=mlp.MOMENTUM)
    order = np.random.default_rng(1)
    clock = time.perf_counter
    out = {}
    for r in range(rounds + 1):
        for nt in (1, 2):
            rec = {name: [] for name in PHASES + ("total",)}
            perm = order.permutation(len(x))
            with _limits(nt):
                for j in range(steps):
                    idx = perm[j * B:(j + 1) * B]
                    t0 = clock()
                    xb, yb = rb.tensor(x[idx]), y[idx]
                    t1 = clock()
                    logits = model(xb)
                    t2 = clock()
                    loss = rb.losses.cross_entropy(logits, yb)
                    t3 = clock()
                    opt.zero_grad()
                    t4 = clock()
                    loss.backward()
                    t5 = clock()
                    opt.step()
                    t6 = clock()
                    for name, a, b in zip(PHASES, (t0, t1, t2, t3, t4, t5),
                                          (t1, t2, t3, t4, t5, t6)):
                        rec[name].append(b - a)
                    rec["total"].append(t6 - t0)
            if r:  # round 0 warms up
                for name, ts in rec.items():
                    out.setdefault((nt, name), []).append(statistics.median(ts))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--loops-only", action="store_true",
                        help="only the whole steps (a short run for a quiet moment)")
    parser.add_argument("--phases", action="store_true",
                        help="only rosenblatt's step phase by phase at 1 and 2 threads")
    parser.add_argument("--no-split", action="store_true",
                        help="skip the loop over batch halves on two Python threads")
    parser.add_argument("--no-threads", action="store_true",
                        help="skip rb.fit and rb.fit over rb.distributed.ThreadParallel")
    args = parser.parse_args(argv)
    if args.phases:
        res = phases(args.rounds)
        print(f"{'phase':10s} {'1 thread':>24s} {'2 threads':>24s}   (us: best round, median)")
        for name in PHASES + ("total",):
            cells = [f"{min(ts) * 1e6:8.1f} {statistics.median(ts) * 1e6:8.1f}"
                     for ts in (res[1, name], res[2, name])]
            print(f"{name:10s} {cells[0]:>24s} {cells[1]:>24s}")
        return
    if args.loops_only:
        _print_loops(loops(3 * args.rounds, split=not args.no_split,
                           threads=not args.no_threads), None)
        return
    prods, res = gemm_table(args.rounds)
    peak = {nt: 2 * 2048**3 / res["peak", nt] / 1e9 for nt in (1, 2)}
    print(f"float32 GEMM peak: 1 thread {peak[1]:.0f} GFLOP/s, 2 threads {peak[2]:.0f} GFLOP/s")
    print(f"{'product':32s} {'1 thread':>17s} {'2 threads':>17s} {'half batch, 1 thr':>20s}")
    tot = {1: 0.0, 2: 0.0, "half": 0.0}
    for name, a, b in prods:
        fl = 2.0 * a.shape[0] * a.shape[1] * b.shape[1]
        cells = []
        for key in (1, 2, "half"):
            t = res[name, key]
            tot[key] += t
            rate = fl / (2 if key == "half" else 1) / t / 1e9
            cells.append(f"{t * 1e6:7.1f} us {rate:4.0f} GF/s")
        print(f"{name:32s} {cells[0]:>17s} {cells[1]:>17s} {cells[2]:>20s}")
    for key, label, p in ((1, "1 thread", peak[1]), (2, "2 threads", peak[2]),
                          ("half", "batch halves, one per core", peak[2])):
        rate = STEP_FLOPS / tot[key] / 1e9  # halves: each core does half the work in tot
        print(f"the step's products, {label}: {tot[key] * 1e6:.0f} us of "
              f"{'each core' if key == 'half' else 'wall'}, {rate:.0f} GFLOP/s = "
              f"{100 * rate / p:.0f}% of the {'2-thread' if key != 1 else '1-thread'} peak")
    out = outside_products(max(3, args.rounds // 3))
    print(f"outside the products (1 thread): gather of {B} rows {out['gather'] * 1e6:.1f} us, "
          f"SGD-momentum pass over {out['size']:,} values {out['sgd'] * 1e6:.1f} us")
    budget = STEP_FLOPS / (0.65 * peak[2] * 1e9)
    floor = tot[2] + out["gather"] + out["sgd"]
    print(f"65% of the 2-thread peak allows {budget * 1e6:.0f} us per step; the 2-thread "
          f"products + gather + SGD pass alone take {floor * 1e6:.0f} us "
          f"({100 * STEP_FLOPS / floor / 1e9 / peak[2]:.0f}% of the peak)")
    _print_loops(loops(3 * args.rounds, split=not args.no_split,
                       threads=not args.no_threads), peak)


def _print_loops(times, peak):
    peaks = times.pop(("peak", 2))
    inner = 2 * 2048**3 / min(peaks) / 1e9
    print(f"float32 GEMM peak at 2 threads between the rounds: best {inner:.0f} GFLOP/s, "
          f"median {2 * 2048**3 / statistics.median(peaks) / 1e9:.0f}")
    if peak is None:
        peak = {2: inner}
    else:
        peak = {**peak, 2: max(peak[2], inner)}
    ref = times.get(("rb.fit", 2))
    # the rounds that had both cores: the peak measured just before them within 10% of the best
    # (on a shared machine another program can take a core for seconds)
    both = [i for i, t in enumerate(peaks[1:]) if t <= 1.1 * min(peaks)]
    print(f"rounds with both cores (peak within 10% of the best just before): {len(both)} "
          f"of {len(peaks) - 1}")
    for (name, nt), ts in times.items():
        if both and ref is not None:
            sel = [ts[i] for i in both]
            pairs = sorted(ref[i] / ts[i] for i in both)
            print(f"  [both cores] {name}, {nt} BLAS: median {statistics.median(sel) * 1e6:.0f} "
                  f"us per step = {100 * STEP_FLOPS / statistics.median(sel) / 1e9 / inner:.0f}%"
                  f" of the 2-thread peak; speed / rb.fit paired median "
                  f"{statistics.median(pairs):.2f}x [{pairs[0]:.2f}-{pairs[-1]:.2f}]")
    for (name, nt), ts in times.items():
        best = min(ts)
        two = "halves" in name or nt == 2
        line = (f"{name}, {nt} BLAS thread(s): best {best * 1e6:.0f} us per step "
                f"(median {statistics.median(ts) * 1e6:.0f}), "
                f"{STEP_FLOPS / best / 1e9:.0f} GFLOP/s")
        if two or 1 in peak:
            p = peak[2] if two else peak[1]
            line += (f" = {100 * STEP_FLOPS / best / 1e9 / p:.0f}% of the "
                     f"{'2-thread' if two else '1-thread'} peak (median "
                     f"{100 * STEP_FLOPS / statistics.median(ts) / 1e9 / p:.0f}%)")
        if ref is not None and ts is not ref:
            pairs = sorted(a / b for a, b in zip(ref, ts))
            line += (f"; speed / rb.fit paired median {statistics.median(pairs):.2f}x "
                     f"[{pairs[0]:.2f}-{pairs[-1]:.2f}]")
        print(line)


if __name__ == "__main__":
    main()
