"""LeNet-5 steps (the `cnn` workload's network, batch 64) under thread settings, in one process.

Two measurements for issue 23's two-thread target (see benchmarks/README.md, the section
"LeNet-5 at two threads"):

``--ab``: wall clock of 10-step rounds, alternating the settings round by round, the
median of each setting and of the paired speed-up over the first:

- ``serial``: NumPy's BLAS as installed, the convolution and pooling kernels on one thread
  (the default);
- ``parts``: the ops split in as many parts as NumPy's BLAS has threads, BLAS at one thread
  inside them (opt-in: ``rb.set_num_threads(n)``);
- ``onethread``: BLAS and kernels at one thread.

``--estimate`` (what a busy machine allows): BLAS at one thread, the ops split in two;
per step the main thread's CPU time outside the split regions plus, per region, the
longest part's CPU time: the step's wall time on two idle cores, less the wake-ups.

Run from the repository root::

    python benchmarks/lenet_threads.py --ab --rounds 11
    python benchmarks/lenet_threads.py --estimate --rounds 9
"""

import argparse
import contextlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import rosenblatt as rb  # noqa: E402
from benchmarks.workloads.cnn import data, lenet  # noqa: E402
from rosenblatt.autodiff import _kernels  # noqa: E402

STEPS, BATCH = 10, 64


def trainer(x, y):
    model = lenet(np.random.default_rng(0))
    opt = rb.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def steps():
        for i in range(STEPS):
            s = slice(i * BATCH, (i + 1) * BATCH)
            loss = rb.losses.cross_entropy(model(rb.tensor(x[s])), y[s])
            opt.zero_grad()
            loss.backward()
            opt.step()

    return steps


def setting(name):
    from threadpoolctl import threadpool_limits

    stack = contextlib.ExitStack()
    if name == "serial":
        stack.enter_context(_kernels.kernel_threads(1))
    elif name == "onethread":
        stack.enter_context(threadpool_limits(1, user_api="blas"))
        stack.enter_context(_kernels.kernel_threads(1))
    elif name == "parts":
        from threadpoolctl import threadpool_info

        blas = max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"),
                   default=1)
        stack.enter_context(_kernels.kernel_threads(blas))
    else:
        raise SystemExit(f"unknown setting {name!r}")
    return stack


def ab(names, rounds):
    x, y = data(BATCH * STEPS)
    runs = {name: trainer(x, y) for name in names}
    wall = {name: [] for name in names}
    for r in range(rounds + 1):  # round 0 warms up (compiles, fills the workspace)
        for name in names:
            with setting(name):
                t = time.perf_counter()
                runs[name]()
                if r:
                    wall[name].append((time.perf_counter() - t) / STEPS * 1e3)
    first = np.array(wall[names[0]])
    for name in names:
        w = np.array(wall[name])
        q = first / w
        print(f"{name:10s} {np.median(w):6.2f} ms/step [{w.min():.2f}-{w.max():.2f}]  "
              f"speed-up over {names[0]}: {np.median(q):.2f}x [{q.min():.2f}-{q.max():.2f}]")


def estimate(rounds):
    from threadpoolctl import threadpool_limits

    x, y = data(BATCH * STEPS)
    one, split = trainer(x, y), trainer(x, y)
    regions = {"part0": 0, "longest": 0, "sum": 0}
    real = _kernels.run_parts

    def timed_run_parts(fn, n):
        spent = [0] * n

        def part(k):
            t = time.thread_time_ns()
            fn(k)
            spent[k] = time.thread_time_ns() - t

        real(part, n)
        regions["part0"] += spent[0]
        regions["longest"] += max(spent)
        regions["sum"] += sum(spent)

    rows = []
    _kernels.run_parts = timed_run_parts
    try:
        with threadpool_limits(1, user_api="blas"):
            for r in range(rounds + 1):
                with _kernels.kernel_threads(1):
                    t = time.process_time_ns()
                    one()
                    t_one = time.process_time_ns() - t
                for key in regions:
                    regions[key] = 0
                with _kernels.kernel_threads(2):
                    t = time.thread_time_ns()
                    split()
                    t_main = time.thread_time_ns() - t
                if r:
                    outside = t_main - regions["part0"]
                    rows.append([t_one, outside, regions["sum"], regions["longest"],
                                 outside + regions["longest"]])
    finally:
        _kernels.run_parts = real
    rows = np.array(rows) / STEPS / 1e6
    med = np.median(rows, axis=0)
    q = rows[:, 0] / rows[:, 4]
    print(f"one thread: {med[0]:.2f} ms of CPU per step")
    print(f"split in two: main thread outside the regions {med[1]:.2f} ms; in the regions "
          f"{med[2]:.2f} ms of parts, the longest parts {med[3]:.2f} ms")
    print(f"estimated two-thread step {med[4]:.2f} ms = {np.median(q):.2f}x the one-thread "
          f"step [{q.min():.2f}-{q.max():.2f}]")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ab", action="store_true")
    parser.add_argument("--estimate", action="store_true")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--settings", default="serial,parts,onethread")
    args = parser.parse_args()
    if args.ab or not args.estimate:
        ab(args.settings.split(","), args.rounds)
    if args.estimate:
        estimate(args.rounds)


if __name__ == "__main__":
    main()
