"""How a NEAT population's cut into Dask tasks bounds 2 workers against 1 (issue 21).

Runs one seeded NEAT run on double pole with velocities to solution in this process, cut
into the tasks a Dask run gets (``chunk_size`` 75, the NumPy pole loop), records every
task's CPU time and every genome's steps, fits the task cost model

    cost = a V + b S + c C + d

(``V`` steps while more than 3 of the task's carts balance: the vectorised loop; ``S``
steps after that and ``C`` cart-steps after that: the per-cart loop on Python floats),
and from it compares cuts (consecutive runs against dealing in turn; 1-10 tasks): the
sum of the tasks (1 worker) and their makespan on 2 workers taking tasks in order.

    python -m benchmarks.neat_dask_cut [--seed 0] [--json PATH]
"""

import argparse
import json
import time

import numpy as np


def record_run(seed):
    from threadpoolctl import threadpool_limits

    import rosenblatt as rb
    from benchmarks.workloads import scale

    threadpool_limits(1)
    tasks, marks = [], []

    def fitness(population):
        t = time.thread_time()
        f = scale._pole_fitness(population)
        tasks.append((time.thread_time() - t, f.tolist()))
        return f

    neat = rb.evolution.NEAT(6, 1, rng=seed)
    neat.run(fitness, 200, scale.InProcess(), vectorized=True, chunk_size=75,
             stop=scale._solved, callbacks=[lambda state: marks.append(len(tasks))])
    return [tasks[a:b] for a, b in zip([0] + marks[:-1], marks)]


def features(steps):
    s = np.sort(np.asarray(steps, dtype=float))
    v = s[-4] if s.size > 3 else 0.0
    return [v, s[-1] - v, float(np.sum(s[-3:] - v)), 1.0]


def makespan(times, n=2):
    free = [0.0] * n
    for x in times:
        free[free.index(min(free))] += x
    return max(free)


CUTS = {"consecutive": lambda f, k: [f[i * len(f) // k:(i + 1) * len(f) // k] for i in range(k)],
        "dealt": lambda f, k: [f[j::k] for j in range(k)]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json")
    args = p.parse_args(argv)
    gens = record_run(args.seed)
    X = np.array([features(f) for g in gens for _, f in g])
    y = np.array([t for g in gens for t, _ in g])
    coef = np.linalg.lstsq(X, y, rcond=None)[0]
    r2 = 1 - np.sum((y - X @ coef) ** 2) / np.sum((y - y.mean()) ** 2)
    print(f"{len(gens)} generations, {len(y)} tasks; cost model (us): vector step "
          f"{coef[0] * 1e6:.1f}, per-cart step {coef[1] * 1e6:.1f} + {coef[2] * 1e6:.1f} a cart, "
          f"fixed {coef[3] * 1e6:.0f}; R^2 {r2:.3f}")
    out = {"seed": args.seed, "coef_s": coef.tolist(), "r2": r2, "cuts": {}}
    windows = [(0, len(gens), "whole run"), (20, 25, "generations 20-24"),
               (25, len(gens) - 1, f"generations 25-{len(gens) - 2}"),
               (len(gens) - 1, len(gens), "last generation")]
    for k in (1, 2, 3, 4, 6, 10):
        for name, cut in CUTS.items():
            for lo, hi, label in windows:
                one = two = 0.0
                for g in gens[lo:hi]:
                    f = [x for _, part in g for x in part]
                    c = [float(np.array(features(part)) @ coef) for part in cut(f, k)]
                    one, two = one + sum(c), two + makespan(c)
                out["cuts"][f"{k} {name} {label}"] = {"one_worker_s": one, "two_workers_s": two}
                print(f"  {k:2d} tasks {name:11s} {label:20s}: 1 worker {one:6.2f} s, "
                      f"2 workers {two:6.2f} s, ratio {one / max(two, 1e-12):.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
