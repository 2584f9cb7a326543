"""Where a step of ``rb.fit`` spends its time: one process against two MPI ranks (issue 21).

Run from the repository root (it starts ``mpirun -n 2`` itself)::

    python -m benchmarks.mpi_phases [--rounds 10] [--n 12800]

The MLP benchmark (784-256-256-10, SGD momentum, global batch 128, float32,
one BLAS thread per process) trained by ``rb.fit`` itself, every phase of
every step timed with ``time.perf_counter`` by wrappers around the trainer's
calls: ``forward`` (the model), ``loss``, ``backward``, ``exchange``
(``DataParallel.reduce``: the first meeting and the sum over this rank's
shard), ``step`` (the optimizer; sharded: ``DataParallel.update``, i.e. the
half step, the second meeting and the copy of the other half of theta),
``keep`` (the copy of the last good weights), ``other`` (the rest of the
trainer's step: the rows' gather, the shard's cut, the loss check). ``meet1``
and ``meet2`` are the two meetings alone (inside ``exchange`` and ``step``).

1. One process at batch 128, alone on the machine.
2. Under ``mpirun -n 2 --bind-to core``, in one job, alternating fit call by
   fit call so that a slow moment of a shared machine hits both: the two
   ranks sharded (batch 128, 64 each), and both ranks training alone at batch
   64 without any communication (the most two processes can do: the ceiling).

Per-step medians (a step that another process interrupted does not move
them) and the wall time per step of each call (it does). Every figure is a
median over the calls; on a shared machine the ratios are indicative.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

_CUR, _LOG = {}, []  # the step being timed: phase -> seconds; the steps timed so far
KEYS = ("forward", "loss", "backward", "exchange", "meet1", "meet2", "step", "keep", "other",
        "total")


def _instrumented(model, opt, dp):
    """Wrap the calls of a training step so that each adds its time to the step's phases."""
    from rosenblatt.autodiff.tensor import Tensor
    from rosenblatt.training import trainer as T

    clock, cur = time.perf_counter, _CUR

    def wrap(fn, key):
        def timed(*a, **kw):
            t = clock()
            out = fn(*a, **kw)
            cur[key] = cur.get(key, 0.0) + clock() - t
            return out
        return timed

    if not getattr(T.Trainer, "_phases", False):
        step, init = T.Trainer._step, T.Trainer.__init__

        def timed_step(self, index, means):
            cur.clear()
            t = clock()
            step(self, index, means)
            cur["total"] = clock() - t
            _LOG.append(dict(cur))

        def timed_init(self, *a, **kw):
            init(self, *a, **kw)
            self.loss_fn = wrap(self.loss_fn, "loss")

        T.Trainer._step, T.Trainer.__init__ = timed_step, timed_init
        T.Tensor.backward = wrap(Tensor.backward, "backward")
        T.Trainer._keep_good_weights = wrap(T.Trainer._keep_good_weights, "keep")
        T.Trainer._phases = True
    model.forward = wrap(model.forward, "forward")
    opt.step = wrap(opt.step, "step")
    if dp is not None:
        dp.reduce = wrap(dp.reduce, "exchange")
        dp.update = wrap(dp.update, "step")
        meet = dp._meet

        def timed_meet():
            t = clock()
            meet()
            key = "meet2" if "meet1" in cur else "meet1"
            cur[key] = cur.get(key, 0.0) + clock() - t

        dp._meet = timed_meet


def _summary(log, wall):
    """Per-step medians of each phase (ms), the wall time per step of the call."""
    ms = {k: np.array([s.get(k, 0.0) for s in log]) * 1e3 for k in KEYS}
    ms["other"] = ms["total"] - sum(ms[k] for k in ("forward", "loss", "backward", "exchange",
                                                    "step", "keep"))
    out = {k: float(np.median(v)) for k, v in ms.items()}
    out.update(wall=wall * 1e3 / len(log), mean_total=float(np.mean(ms["total"])),
               mean_meet1=float(np.mean(ms["meet1"])))
    return out


def rank_job(n, rounds):
    """One process (outside mpirun) or one of two ranks: the measured calls, as JSON."""
    from threadpoolctl import threadpool_limits

    import rosenblatt as rb
    from benchmarks.workloads import mlp

    threadpool_limits(1)
    x, y = mlp.data(n)
    mpi = rb.distributed.launched_by_mpirun()
    comm = rb.distributed.world() if mpi else None
    setups = {}
    for name in (("sharded", "solo") if mpi else ("one",)):
        model = mlp.rosenblatt_model()
        opt = rb.optim.SGD(model.parameters(), lr=mlp.LR, momentum=mlp.MOMENTUM)
        dp = rb.distributed.DataParallel(model, opt) if name == "sharded" else None
        _instrumented(model, opt, dp)
        setups[name] = (model, opt, dp, mlp.BATCH // 2 if name == "solo" else mlp.BATCH)
    results = {name: [] for name in setups}
    for r in range(rounds + 1):  # round 0 warms up
        order = list(setups) if r % 2 else list(setups)[::-1]
        for name in order:
            model, opt, dp, batch = setups[name]
            size = n // 2 if name == "solo" else n  # the same number of steps
            _LOG.clear()
            if comm is not None:
                comm.Barrier()
            t = time.perf_counter()
            rb.fit(model, x[:size], y[:size], loss="cross_entropy", optimizer=opt, epochs=1,
                   batch_size=batch, progress=False, rng=2, metrics=(), distributed=dp)
            wall = np.array([time.perf_counter() - t])
            if comm is not None:  # the job's time: the slower rank's
                comm.Allreduce(wall.copy(), wall, op=__import__("mpi4py").MPI.MAX)
            if r:
                results[name].append(_summary(_LOG, float(wall[0])))
    rows = [results] if comm is None else comm.gather(results, root=0)
    if comm is None or comm.Get_rank() == 0:
        print("RESULT " + json.dumps(rows), flush=True)


def _run(cmd, env):
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-2000:] + done.stderr[-2000:])
    return json.loads([s for s in done.stdout.splitlines() if s.startswith("RESULT ")][-1][7:])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--n", type=int, default=12_800)
    p.add_argument("--rank-job", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.rank_job:
        return rank_job(args.n, args.rounds)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    job = [sys.executable, "-m", "benchmarks.mpi_phases", "--rank-job", "--n", str(args.n),
           "--rounds", str(args.rounds)]
    one = _run(job, env)[0]["one"]
    two = _run(["mpirun", "-n", "2", "--allow-run-as-root", "--bind-to", "core", "--map-by",
                "core", *job], env)
    print(f"ms per step, medians over {args.rounds} fit calls of {args.n // 128} steps "
          f"(per-step medians; wall: the call's time per step)")
    print(f"{'run':<16}" + "".join(f"{k:>11}" for k in KEYS + ("wall", "mean_total")))
    rows = [("one process", one)] + [(f"{name} r{rank}", two[rank][name])
                                     for name in ("sharded", "solo") for rank in (0, 1)]
    for label, calls in rows:
        print(f"{label:<16}" + "".join(
            f"{statistics.median(c[k] for c in calls):11.3f}"
            for k in KEYS + ("wall", "mean_total")))
    sharded, solo = two[0]["sharded"], two[0]["solo"]
    ratio = [s["wall"] / h["wall"] for h, s in zip(sharded, solo)]
    wall = {name: statistics.median(c["wall"] for c in calls)
            for name, calls in (("one", one), ("sharded", sharded), ("solo", solo))}
    print(f"sharded against the ceiling (paired calls, solo wall / sharded wall): median "
          f"{statistics.median(ratio):.3f} [{min(ratio):.3f}-{max(ratio):.3f}]; one process "
          f"/ sharded by the median wall: {wall['one'] / wall['sharded']:.2f}x, one process / "
          f"ceiling: {wall['one'] / wall['solo']:.2f}x; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
