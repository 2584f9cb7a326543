"""Scaling out (issue 21): data-parallel MLP training over MPI, NEAT populations on Dask.

Run standalone (it starts ``mpirun`` and a Dask cluster itself, so the
harness's in-process timing does not apply and ``workloads()`` is empty)::

    python -m benchmarks.workloads.scale [--quick] [--json PATH] [--only mpi|dask|solution]

* **MLP over MPI**: the MLP benchmark's model (784-256-256-10, ReLU, SGD
  momentum 0.9, global batch 128, float32) trained by ``rb.fit`` for whole
  epochs, by one process with one BLAS thread and by ``mpirun -n 2`` ranks
  with one thread each (``distributed="mpi"``: each rank computes 64 examples
  of every batch, one Allreduce of the flat gradient). Samples per second,
  rounds alternating; target >= 1.6x. Also the bytes and the time of the one
  Allreduce per step.
* **NEAT on Dask**: NEAT on double-pole balancing with velocities (100,000
  steps), the population first evolved ``--warmup`` generations serially (so
  that evaluations are long enough to be worth a message), then the same
  generations timed through a Dask ``LocalCluster`` of two single-threaded
  worker processes, using one of them or both (``rb.parallel.DASK_CONFIG``
  unless ``--default-dask-config``); sub-populations of ``--chunk`` genomes as
  flat arrays per task (vectorised simulation in the worker: the NumPy pole
  loop, or the compiled one with ``--fast``). Target >= 1.6x. Also one
  process without Dask, the message bytes per generation (arrays, and JSON
  for comparison), the client's CPU per generation and its serial share, and
  from the same tasks run in this process the most 2 workers can do.
* **NEAT to solution** (``--only solution``): whole seeded NEAT runs on double
  pole with velocities until a champion balances 100,000 steps, on a 1- and a
  2-worker ``LocalCluster``, ``rb.parallel.local(1)`` and ``local(2)``, and in
  this process (the same tasks, or one array program), alternating; every run
  of a seed must be the same run (champion, generations, histories).
  Evaluations per second, ratios by wall and CPU time, and from the serial run
  the most two workers could do (a whole run's critical path is the last
  generation's 100,000-step simulation).
* **64 nodes on paper**, from the measured numbers.

Every process uses one BLAS thread. The machine this ran on is shared: ratios
are indicative.
"""

import argparse
import concurrent.futures
import copy
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
           OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           # a rank waiting in the Allreduce yields its core instead of spinning (on a shared
           # machine the spinning rank takes the core its partner needs to finish the step);
           # the sharded step makes no MPI call (its ranks meet through flags in the node's
           # memory), so this setting only reaches the unsharded runs and the per-epoch sums
           OMPI_MCA_mpi_yield_when_idle="1",
           PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))


def workloads(quick):
    """None for the harness: this benchmark runs standalone (see the module docstring)."""
    return []


# -- MLP over MPI ---------------------------------------------------------------------------
def mlp_rank(n, epochs, wait="block", shard="auto"):
    """One training run (one process, or one rank under mpirun); rank 0 prints JSON."""
    from threadpoolctl import threadpool_limits

    import rosenblatt as rb
    from benchmarks.workloads import mlp

    threadpool_limits(1)
    dist = "mpi" if rb.distributed.launched_by_mpirun() else None
    x, y = mlp.data(n)
    model = mlp.rosenblatt_model()
    opt = rb.optim.SGD(model.parameters(), lr=mlp.LR, momentum=mlp.MOMENTUM)
    comm = rb.distributed.world() if dist else None
    if dist:
        dist = rb.distributed.DataParallel(model, opt, wait=wait, shard=_SHARD[shard])
    rb.fit(model, x[:mlp.BATCH * 4], y[:mlp.BATCH * 4], loss="cross_entropy", optimizer=opt,
           epochs=1, batch_size=mlp.BATCH, progress=False, rng=1, distributed=dist)  # warm up
    if comm is not None:
        comm.Barrier()
    start, cpu = time.perf_counter(), time.process_time()
    rb.fit(model, x, y, loss="cross_entropy", optimizer=opt, epochs=epochs,
           batch_size=mlp.BATCH, progress=False, rng=2, metrics=(), distributed=dist)
    cpu = np.array([time.process_time() - cpu])
    if comm is not None:
        comm.Barrier()
        comm.Allreduce(cpu.copy(), cpu, op=__import__("mpi4py").MPI.MAX)
    seconds = time.perf_counter() - start
    out = {"ranks": 1 if comm is None else comm.Get_size(), "samples_per_s": n * epochs / seconds,
           "samples_per_cpu_s": n * epochs / float(cpu[0]),
           "steps_per_s": epochs * -(-n // mlp.BATCH) / seconds}
    if comm is not None:  # the communication of a step, alone: bytes and time
        dp = dist
        out["message_bytes"] = dp.message_bytes
        out["sharded"] = dp.sharded

        def timed(fn):
            for _ in range(5):
                fn()
            comm.Barrier()
            t = time.perf_counter()
            for _ in range(50):
                fn()
            return (time.perf_counter() - t) / 50 * 1e3

        out["allreduce_ms"] = timed(lambda: dp.allreduce(0.5))  # the plain path's Allreduce
        if dp.sharded:  # the sharded path: reduce-scatter into the shards, all-gather theta
            out["exchange_ms"] = timed(lambda: (dp.reduce(0.5, scaled=True),
                                                dp.gather_parts(opt.vec.data)))
    else:  # step time at the per-rank batch, for the paper extrapolation
        out["parameters"] = int(opt.vec.size)
        for b in (mlp.BATCH // 2, 2):
            xs, ys = x[:b * 40], y[:b * 40]
            t = time.perf_counter()
            rb.fit(model, xs, ys, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=b,
                   progress=False, rng=3, metrics=())
            out[f"step_ms_batch{b}"] = (time.perf_counter() - t) / 40 * 1e3
    if comm is None or comm.Get_rank() == 0:
        print("RESULT " + json.dumps(out), flush=True)


_SHARD = {"auto": "auto", "yes": True, "no": False}


def _process_facts():
    """What a rank runs on: its cores, threads, BLAS pools, context switches so far."""
    import resource

    from threadpoolctl import threadpool_info

    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open("/proc/self/status") as f:
        threads = int(next(line for line in f if line.startswith("Threads:")).split()[1])
    return {"cores": sorted(os.sched_getaffinity(0)), "threads": threads,
            "blas_threads": [p["num_threads"] for p in threadpool_info()],
            "voluntary_switches": usage.ru_nvcsw, "involuntary_switches": usage.ru_nivcsw}


def profile_rank(n, wait="block", batch=None, solo=False, shard="auto"):
    """The steps of ``rb.fit`` written out, timed by phase (one process, or one rank).

    Per step, in ms of wall time: ``shard`` (the rank's indices and the copy of its
    examples), ``forward`` (and the loss), ``backward``, the Allreduce's ``pack``,
    ``wait``, ``allreduce`` and ``unpack`` (``DataParallel.timers``), ``step`` (the
    optimizer), and the CPU time of the process. ``solo``: under mpirun, every rank
    trains alone on ``batch`` examples per step (no communication): the machine's own
    ceiling for two processes.
    """
    from threadpoolctl import threadpool_limits

    import rosenblatt as rb
    from benchmarks.workloads import mlp

    threadpool_limits(1)
    comm = rb.distributed.world() if rb.distributed.launched_by_mpirun() else None
    batch = mlp.BATCH if batch is None else batch
    x, y = mlp.data(n)
    model = mlp.rosenblatt_model()
    opt = rb.optim.SGD(model.parameters(), lr=mlp.LR, momentum=mlp.MOMENTUM)
    dp = None if comm is None or solo else rb.distributed.DataParallel(
        model, opt, wait=wait, shard=_SHARD[shard])
    good = np.empty_like(opt.vec.data)
    mine = slice(None) if dp is None or not dp.sharded else dp.part  # fit: a rank keeps its shard
    order = np.random.default_rng(2).permutation(n)
    plan = [order[i:i + batch] for i in range(0, n, batch)]
    phases = dict.fromkeys(("shard", "forward", "backward", "allreduce_all", "step"), 0.0)
    clock = time.perf_counter

    def run(batches):
        for index in batches:
            t0 = clock()
            index, weight = (index, 1.0) if dp is None else dp.shard(index)
            xb, yb = x[index], y[index]
            t1 = clock()
            loss = rb.losses.cross_entropy(model(rb.tensor(xb)), yb)
            value = float(loss.item())
            np.copyto(good[mine], opt.vec.data[mine])  # fit keeps the last good weights
            t2 = clock()
            opt.zero_grad()
            if dp is None:
                loss.backward()
            else:  # fit seeds backward with the shard's weight
                loss.backward(np.full(loss.data.shape, weight, loss.data.dtype))
            t3 = clock()
            if dp is not None:
                dp.reduce(weight, value, scaled=True)
            t4 = clock()
            if dp is None:
                opt.step()
            else:  # sharded: step this rank's shard, all-gather the weights
                dp.update()
            t5 = clock()
            for key, a, b in (("shard", t0, t1), ("forward", t1, t2), ("backward", t2, t3),
                              ("allreduce_all", t3, t4), ("step", t4, t5)):
                phases[key] += b - a
            waited = 0.0 if dp is None else dp.timers["wait"] + (
                0.0 if dp.sharded else dp.timers["allreduce"])
            per_step.append((t5 - t0, waited))

    per_step = []  # (wall, waiting for the other ranks so far) of every step
    run(plan[:20])  # warm up
    phases = dict.fromkeys(phases, 0.0)
    per_step.clear()
    if dp is not None:
        dp.timers = dict.fromkeys(dp.timers, 0.0)
    if comm is not None:
        comm.Barrier()
    start, cpu = clock(), time.process_time()
    run(plan)
    cpu, wall = time.process_time() - cpu, clock() - start
    steps = len(plan)
    out = {k: v / steps * 1e3 for k, v in phases.items()}
    if dp is not None:
        out.update({k: v / steps * 1e3 for k, v in dp.timers.items() if k != "steps"})
    walls = np.array([w for w, _ in per_step])
    waits = np.diff([0.0] + [v for _, v in per_step])
    # medians over the steps: a step that another process interrupted does not move them
    out.update(median_step_ms=float(np.median(walls)) * 1e3,
               median_busy_ms=float(np.median(walls - waits)) * 1e3,
               p10_step_ms=float(np.percentile(walls, 10)) * 1e3)
    out.update(wall_ms=wall / steps * 1e3, cpu_ms=cpu / steps * 1e3,
               samples=n * (1 if comm is None or not solo else comm.Get_size()),
               batch=batch, **_process_facts())
    rows = [out] if comm is None else comm.gather(out, root=0)
    if comm is None or comm.Get_rank() == 0:
        if comm is not None:  # the job's throughput: the slowest rank's wall time
            wall = max(r["wall_ms"] for r in rows) * steps / 1e3
        per_step = batch * (len(rows) if solo else 1)  # samples the job takes per step
        median = per_step / max(r["median_step_ms"] for r in rows) * 1e3
        p10 = per_step / max(r["p10_step_ms"] for r in rows) * 1e3
        print("RESULT " + json.dumps({"ranks": rows, "samples_per_s": rows[0]["samples"] / wall,
                                      "median_samples_per_s": median,
                                      "p10_samples_per_s": p10,
                                      "samples_per_cpu_s": rows[0]["samples"] / max(
                                          r["cpu_ms"] * steps / 1e3 for r in rows),
                                      "load": os.getloadavg()[0]}), flush=True)


def overlap_rank(repeats=200):
    """Does a non-blocking Allreduce move while the rank computes? (Open MPI, shared memory).

    Times the blocking Allreduce of the MLP's gradient alone; a matrix product (about
    the backward pass of the first layer at batch 64) alone; and an ``Iallreduce``
    started before the product and waited for after it. If the reduction progressed
    during the product, the last would cost about the product alone.
    """
    from mpi4py import MPI
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    comm = MPI.COMM_WORLD
    grad = np.ones(269_322, dtype=np.float32)
    a = np.ones((784, 64), dtype=np.float32)
    b = np.ones((64, 256), dtype=np.float32)

    def timed(fn):
        for _ in range(10):
            fn()
        times = []
        for _ in range(repeats):
            comm.Barrier()
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return float(np.median(times) * 1e3)

    def both():
        request = comm.Iallreduce(MPI.IN_PLACE, grad)
        a @ b
        request.Wait()

    out = {"allreduce_ms": timed(lambda: comm.Allreduce(MPI.IN_PLACE, grad)),
           "iallreduce_ms": timed(lambda: comm.Iallreduce(MPI.IN_PLACE, grad).Wait()),
           "matmul_ms": timed(lambda: a @ b), "iallreduce_around_matmul_ms": timed(both),
           "load": os.getloadavg()[0]}
    if comm.Get_rank() == 0:
        print("RESULT " + json.dumps(out), flush=True)


def rank_alone(n, rounds):
    """What a sharded rank's step costs without waiting, measured in one process.

    Rank 0 of 2 sharded ranks runs ``rb.fit`` alone: its ``DataParallel`` gets
    buffers in this process's memory for the node's shared window (the other
    rank's gradient and weights stand still, the meetings return at once), so
    it does all of a rank's work (its 64 examples of every batch, the sum over
    its half, the half step, the copy of the other half) and never waits.
    Alternating with one process at batch 128 and one at batch 64 (the most
    two processes without communication can do), per-step times from
    ``on_batch_end``: on a loaded machine the low percentiles are the steps
    that nothing interrupted.
    """
    from mpi4py import MPI
    from threadpoolctl import threadpool_limits

    import rosenblatt as rb
    from benchmarks.workloads import mlp

    threadpool_limits(1)

    class Stamps(rb.callbacks.Callback):
        def __init__(self):
            self.t = []

        def on_batch_end(self, trainer, batch, logs):
            self.t.append(time.perf_counter())

    class Memory:  # what _NodeMemory holds, for 2 ranks, in this process
        def __init__(self, size, small, dtype):
            self.grads = [np.zeros(size, dtype) for _ in range(2)]
            self.thetas = [np.zeros(size, dtype) for _ in range(2)]
            self.exchange = np.zeros(size, dtype)
            self.smalls = np.zeros((2, small), dtype)
            self.win = type("Win", (), {"Sync": lambda self: None})()

        def meet(self, spin, interval=None):  # the other rank is always there already
            self.win.Sync()

    x, y = mlp.data(n)

    def setup(kind):
        model = mlp.rosenblatt_model()
        opt = rb.optim.SGD(model.parameters(), lr=mlp.LR, momentum=mlp.MOMENTUM)
        if kind != "rank":
            return model, opt, None
        dp = rb.distributed.DataParallel(model, opt, comm=MPI.COMM_SELF, shard=False)
        dp.size, dp.rank = 2, 0
        # the collectives that would meet the absent rank 1: check_data's Allgather (whose
        # one-rank buffer would read as "rank 1 has 0 examples") and the small sums (per-batch
        # logs, stops), which the real runs (progress=False, no callbacks) do not pay per batch
        dp.check_data = lambda *args, **kw: None
        dp.sum = lambda values: np.array(values, dtype=np.float64)
        cut = min(opt.vec.size, (opt.vec.size // 2 + 15) // 16 * 16)
        dp.parts = [slice(0, cut), slice(cut, opt.vec.size)]
        dp.part = dp.parts[0]
        dp._node = Memory(opt.vec.size, dp._small.size, opt.vec.data.dtype)
        dp.sharded = True
        opt.vec.move_to(dp._node.thetas[0], dp._node.grads[0])
        return model, opt, dp

    runs = {kind: setup(kind) for kind in ("one", "rank", "solo64")}
    steps = {kind: [] for kind in runs}
    for _ in range(rounds):
        for kind, (model, opt, dp) in runs.items():
            stamps = Stamps()
            rb.fit(model, x, y, loss="cross_entropy", optimizer=opt, epochs=1,
                   batch_size=mlp.BATCH // 2 if kind == "solo64" else mlp.BATCH, progress=False,
                   rng=2, metrics=(), distributed=dp, callbacks=[stamps])
            steps[kind].extend(np.diff(stamps.t) * 1e3)
    out = {"load": os.getloadavg()[0]}
    for q in (5, 10, 25, 50):
        ms = {kind: float(np.percentile(v, q)) for kind, v in steps.items()}
        out[f"p{q}"] = dict(ms, rank_ratio=ms["one"] / ms["rank"],
                            solo_ratio=ms["one"] / ms["solo64"])
    return out


def _mpirun(ranks, args):
    cmd = [sys.executable, "-m", "benchmarks.workloads.scale", *args]
    if ranks > 1:
        # ranks bound to cores (mpirun's default when there are as many cores as ranks):
        # unbound, the one Allreduce took 5-90 ms instead of 0.6-3 ms on the loaded machine
        cmd = ["mpirun", "-n", str(ranks), "--allow-run-as-root", "--bind-to", "core",
               "--map-by", "core", *cmd]
    done = subprocess.run(cmd, env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-2000:] + done.stderr[-2000:])
    line = [s for s in done.stdout.splitlines() if s.startswith("RESULT ")][-1]
    return json.loads(line[7:])


def mlp_profile(quick, rounds):
    """Where a step's time goes, per rank: 1 process at batch 128, 2 ranks at 64 each
    (wait "block" and "poll"), 2 processes at 64 each without communication (the
    machine's ceiling), and whether an Iallreduce overlaps computation."""
    n = 6_400 if quick else 25_600
    runs = {"one": [], "two_block": [], "two_allreduce": [], "two_poll": [], "two_solo": []}
    for _ in range(rounds):  # alternating, so a slow phase of the machine hits each
        runs["one"].append(_mpirun(1, ["--profile-rank", "--n", str(n)]))
        runs["two_block"].append(_mpirun(2, ["--profile-rank", "--n", str(n)]))
        runs["two_allreduce"].append(_mpirun(2, ["--profile-rank", "--n", str(n),
                                                 "--shard", "no"]))
        runs["two_poll"].append(_mpirun(2, ["--profile-rank", "--n", str(n), "--wait", "poll"]))
        runs["two_solo"].append(_mpirun(2, ["--profile-rank", "--n", str(n // 2), "--solo",
                                            "--batch", "64"]))
    out = {"samples": n, "runs": runs}
    for key in ("two_block", "two_allreduce", "two_poll", "two_solo"):
        out[f"{key}_ratio"] = statistics.median(
            b["samples_per_s"] / a["samples_per_s"] for a, b in zip(runs["one"], runs[key]))
        for stat in ("median", "p10"):
            out[f"{key}_{stat}_ratio"] = statistics.median(
                b[f"{stat}_samples_per_s"] / a[f"{stat}_samples_per_s"]
                for a, b in zip(runs["one"], runs[key]))
        out[f"{key}_cpu_ratio"] = statistics.median(
            b["samples_per_cpu_s"] / a["samples_per_cpu_s"]
            for a, b in zip(runs["one"], runs[key]))
    out["overlap"] = _mpirun(2, ["--overlap-rank"])
    out["rank_alone"] = rank_alone(n, rounds * 2)
    return out


def _print_profile(m):
    keys = ("shard", "forward", "backward", "allreduce_all", "pack", "allreduce",
            "unpack", "step", "wall_ms", "cpu_ms", "median_step_ms", "median_busy_ms",
            "p10_step_ms")
    print(f"Per-step profile (ms, medians over rounds; {m['samples']:,} samples):")
    print("  run          rank " + " ".join(f"{k[:9]:>9}" for k in keys) + "  switches(vol/invol)")
    for name, rounds in m["runs"].items():
        for r in range(len(rounds[0]["ranks"])):
            rows = [x["ranks"][r] for x in rounds]
            cells = [statistics.median(row.get(k, 0.0) for row in rows) for k in keys]
            print(f"  {name:<12} {r:>4} " + " ".join(f"{c:9.3f}" for c in cells)
                  + f"  {rows[-1]['voluntary_switches']}/{rows[-1]['involuntary_switches']}"
                  f"  cores {rows[-1]['cores']} threads {rows[-1]['threads']} blas "
                  f"{rows[-1]['blas_threads']}")
    print("  samples/s vs 1 process (wall; by the busiest rank's CPU time): " + "; ".join(
        f"{k} {m[k + '_ratio']:.2f}x ({m[k + '_cpu_ratio']:.2f}x)"
        for k in ("two_block", "two_allreduce", "two_poll", "two_solo")))
    print("  by the median step, and by the 10th percentile of the steps (steps no other "
          "process interrupted): " + "; ".join(
              f"{k} {m[k + '_median_ratio']:.2f}x, {m[k + '_p10_ratio']:.2f}x"
              for k in ("two_block", "two_allreduce", "two_poll", "two_solo")))
    print("  a sharded rank's step alone (no waiting; one process, see rank_alone), ms per step "
          "at percentiles of the steps: " + "; ".join(
              f"p{q} one process {r['one']:.3f}, rank {r['rank']:.3f}, a process at batch 64 "
              f"{r['solo64']:.3f}: {r['rank_ratio']:.2f}x ({r['solo_ratio']:.2f}x)"
              for q, r in ((q, m["rank_alone"][f"p{q}"]) for q in (5, 10, 50))))
    o = m["overlap"]
    print(f"  overlap: Allreduce {o['allreduce_ms']:.3f} ms, Iallreduce {o['iallreduce_ms']:.3f}"
          f" ms, a product {o['matmul_ms']:.3f} ms, Iallreduce started before the product "
          f"and waited for after it {o['iallreduce_around_matmul_ms']:.3f} ms")


def _run_mlp(ranks, n, epochs, wait="block", shard="auto"):
    return _mpirun(ranks, ["--mlp-rank", "--n", str(n), "--epochs", str(epochs), "--wait", wait,
                           "--shard", shard])


def mlp_over_mpi(quick, rounds):
    n, epochs = (12_800, 1) if quick else (60_000, 1)
    one, two, polled, plain = [], [], [], []
    for _ in range(rounds):  # alternating, so a slow phase of the machine hits both
        one.append(_run_mlp(1, n, epochs))
        two.append(_run_mlp(2, n, epochs))
        polled.append(_run_mlp(2, n, epochs, "poll"))
        plain.append(_run_mlp(2, n, epochs, shard="no"))  # one Allreduce, whole steps
    plain_ratios = [b["samples_per_s"] / a["samples_per_s"] for a, b in zip(one, plain)]
    poll_ratios = [b["samples_per_s"] / a["samples_per_s"] for a, b in zip(one, polled)]
    poll_cpu = [b["samples_per_cpu_s"] / a["samples_per_cpu_s"] for a, b in zip(one, polled)]
    ratios = [b["samples_per_s"] / a["samples_per_s"] for a, b in zip(one, two)]
    cpu_ratios = [b["samples_per_cpu_s"] / a["samples_per_cpu_s"] for a, b in zip(one, two)]
    best = (lambda runs: max(r["samples_per_s"] for r in runs))
    return {"samples": n * epochs, "one_process": [r["samples_per_s"] for r in one],
            # the fastest run of each: on a shared machine, the one least interrupted
            "best_ratio": best(two) / best(one), "plain_best_ratio": best(plain) / best(one),
            "two_ranks": [r["samples_per_s"] for r in two], "ratios": ratios,
            "ratio": statistics.median(ratios), "message_bytes": two[0]["message_bytes"],
            "cpu_time_ratios": cpu_ratios, "cpu_time_ratio": statistics.median(cpu_ratios),
            "two_ranks_poll": [r["samples_per_s"] for r in polled], "poll_ratios": poll_ratios,
            "poll_ratio": statistics.median(poll_ratios), "poll_cpu_time_ratios": poll_cpu,
            "poll_cpu_time_ratio": statistics.median(poll_cpu),
            "two_ranks_plain": [r["samples_per_s"] for r in plain], "plain_ratios": plain_ratios,
            "plain_ratio": statistics.median(plain_ratios),
            "allreduce_ms": statistics.median(r["allreduce_ms"] for r in two),
            "sharded": two[0].get("sharded", False),
            "exchange_ms": statistics.median(r.get("exchange_ms", float("nan")) for r in two),
            "steps_per_s_one": statistics.median(r["steps_per_s"] for r in one),
            "step_ms_batch64": statistics.median(r["step_ms_batch64"] for r in one),
            "step_ms_batch2": statistics.median(r["step_ms_batch2"] for r in one),
            "parameters": one[0]["parameters"]}


# -- NEAT on Dask ---------------------------------------------------------------------------
def _pole_fitness(population):
    """Double pole with velocities, 100,000 steps (module level: workers import it by name)."""
    from rosenblatt.evolution.envs import CartPole

    return CartPole(poles=2, velocities=True, max_steps=100_000).evaluate(population)


def _generations(neat, executor, generations, chunk):
    """Evaluate and breed ``generations`` times; (seconds, seconds in tell, all fitnesses)."""
    t = time.perf_counter()
    tell = 0.0
    fitnesses = []
    for _ in range(generations):
        f = neat.evaluate(_pole_fitness, executor, vectorized=True, chunk_size=chunk)
        t0 = time.perf_counter()
        neat.tell(f)
        tell += time.perf_counter() - t0
        fitnesses.append(f.tolist())
    return time.perf_counter() - t, tell, fitnesses


def _cpu_seconds(processes):
    """User + system CPU seconds of each group of processes (those gone count 0)."""
    out = {}
    for name, group in processes.items():
        total = 0.0
        for proc in group:
            try:
                total += sum(proc.cpu_times()[:2])
            except Exception:  # noqa: BLE001 - a process that ended
                pass
        out[name] = total
    return out


def _cluster(n_workers, lean=True):
    """A LocalCluster of ``n_workers`` one-thread worker processes, its client, a
    ``pure=False`` executor (every task runs: none is answered from an identical
    earlier one) and its worker processes (the scheduler and the nannies run in this
    process, LocalCluster's way). ``lean``: with ``rb.parallel.DASK_CONFIG`` (Dask's
    profiler, ticks and monitors slowed or off), which then stays set in this process."""
    import dask
    import psutil
    from distributed import Client, LocalCluster

    from rosenblatt.parallel import DASK_CONFIG

    if lean:
        dask.config.set(DASK_CONFIG)
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=":0",
                           worker_dashboard_address=None,
                           env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    client = Client(cluster)
    client.wait_for_workers(n_workers)
    workers = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
    return cluster, client, client.get_executor(pure=False), workers


def _message_costs(neat, chunks, repeats=20):
    """What one generation's messages cost the client: bytes and CPU ms to build them, as
    flat arrays (what NEAT sends) and as one JSON text per genome (what it sent before)."""
    from rosenblatt.evolution.genome import genomes_to_arrays

    pop = neat.population
    out = {}
    for chunk in chunks:
        t = time.process_time()
        for _ in range(repeats):
            parts = [genomes_to_arrays(pop[i:i + chunk]) for i in range(0, len(pop), chunk)]
        out[chunk] = {"array_bytes": sum(v.nbytes for m in parts for v in m.values()
                                         if isinstance(v, np.ndarray)),
                      "array_ms": 1e3 * (time.process_time() - t) / repeats}
    t = time.process_time()
    for _ in range(repeats):
        texts = [g.to_json() for g in pop]
    json_ms = 1e3 * (time.process_time() - t) / repeats
    return out, {"json_bytes": sum(len(x) for x in texts), "json_ms": json_ms}


def neat_on_dask(quick, rounds, warmup, chunks, fast=False, population=150, lean=True):
    """1-worker cluster vs 2-worker cluster (and one process without Dask) running the same
    NEAT generations from the same state, for each chunk size: wall time, evaluations per
    second and every process's CPU time (this process holds the client, the scheduler and
    the nannies; "other_processes" are the idle cluster's worker and helpers). ``fast``:
    ``NEAT(fast=True)``, the compiled pole loop in the workers (``rosenblatt[fast]``)."""
    import psutil
    from threadpoolctl import threadpool_limits

    import rosenblatt as rb

    threadpool_limits(1)
    generations = 3 if quick else 5
    config = rb.evolution.NEATConfig(population=population)
    neat = rb.evolution.NEAT(6, 1, config=config, rng=0, fast=fast)
    for _ in range(warmup):
        neat.tell(neat.evaluate(_pole_fitness, vectorized=True))
    start_state = copy.deepcopy(neat)
    population = len(start_state.population)
    messages, json_cost = _message_costs(start_state, chunks)
    me = [psutil.Process()]
    clusters = {1: _cluster(1, lean), 2: _cluster(2, lean)}
    runs = {c: {"one_worker": [], "two_workers": [], "no_dask": [], "profile": []}
            for c in chunks}
    try:
        for n in (1, 2):  # workers import rosenblatt and warm up
            _generations(copy.deepcopy(start_state), clusters[n][2], 1, chunks[0])
        for _ in range(rounds):  # alternating, so a slow phase of the machine hits each
            for chunk in chunks:
                reference, same_as_no_dask = None, None
                # the same tasks in this process first: each task's CPU, and the client's
                inproc, marks, state = InProcess(), [], copy.deepcopy(start_state)
                t = time.thread_time()
                for _ in range(generations):
                    state.tell(state.evaluate(_pole_fitness, inproc, vectorized=True,
                                              chunk_size=chunk))
                    marks.append(len(inproc.tasks))
                profile = _task_profile(inproc.tasks, marks, time.thread_time() - t)
                profile["generation_makespans_two"] = [
                    _makespan(inproc.tasks[a:b], 2) for a, b in zip([0] + marks[:-1], marks)]
                runs[chunk]["profile"].append(profile)
                for key, n in (("one_worker", 1), ("two_workers", 2), ("no_dask", 0)):
                    executor = clusters[n][2] if n else None
                    mine = clusters[n][3] if n else []
                    others = [c for c in me[0].children(recursive=True) if c not in mine]
                    groups = {"client_scheduler_nannies": me, "other_processes": others,
                              **{f"worker{i}": [w] for i, w in enumerate(mine)}}
                    before, load = _cpu_seconds(groups), os.getloadavg()[0]
                    seconds, tell, fitness = _generations(copy.deepcopy(start_state), executor,
                                                          generations, chunk)
                    after = _cpu_seconds(groups)
                    if reference is None:
                        reference = fitness
                    elif n:
                        assert fitness == reference, "results must not depend on the workers"
                    else:  # the whole population in one array program, not in chunks
                        same_as_no_dask = fitness == reference
                    cpu = {k: after[k] - before[k] for k in groups}
                    runs[chunk][key].append({
                        "seconds": seconds, "tell_seconds": tell, "load": load,
                        "evaluations_per_s": population * generations / seconds,
                        "cpu_seconds": cpu})
                runs[chunk]["no_dask"][-1]["same_fitness_as_dask"] = same_as_no_dask
    finally:
        for cluster, client, _, _ in clusters.values():
            client.close()
            cluster.close()
    out = {"generations": generations, "warmup": warmup, "population": population,
           "fast": fast, "lean_dask_config": lean,
           "genome_json_bytes_per_generation": json_cost["json_bytes"],
           "genome_json_ms_per_generation": json_cost["json_ms"], "chunks": {}}
    for chunk, r in runs.items():
        one, two, local = r["one_worker"], r["two_workers"], r["no_dask"]
        ratios = [a["seconds"] / b["seconds"] for a, b in zip(one, two)]

        def workers(run):
            return [v for k, v in run["cpu_seconds"].items() if k.startswith("worker")]

        def critical(run):  # the client's CPU (serial) plus the busiest worker's
            return run["cpu_seconds"]["client_scheduler_nannies"] + max(workers(run))

        def per_generation_ms(runs, f):
            return statistics.median(1e3 * f(x) / generations for x in runs)

        cpu_ratios = [critical(a) / critical(b) for a, b in zip(one, two)]
        client_ms = per_generation_ms(one, lambda x: x["cpu_seconds"]["client_scheduler_nannies"])
        worker_ms = per_generation_ms(one, lambda x: sum(workers(x)))
        prof = r["profile"]
        task_ms = per_generation_ms(prof, lambda x: x["task_cpu"])
        serial_ms = per_generation_ms(prof, lambda x: x["client_serial_cpu"])
        makespan_ms = per_generation_ms(prof, lambda x: sum(x["generation_makespans_two"]))
        # Dask's own CPU per generation in the client process (client, scheduler, nannies)
        dask_ms = max(0.0, client_ms - serial_ms)
        out["chunks"][chunk] = {
            "tasks_per_generation": -(-population // chunk), "runs": r,
            "message_bytes_per_generation": messages[chunk]["array_bytes"],
            "message_ms_per_generation": messages[chunk]["array_ms"],
            "seconds_one_worker": [a["seconds"] for a in one],
            "seconds_two_workers": [b["seconds"] for b in two],
            "seconds_no_dask": [c["seconds"] for c in local],
            "evaluations_per_s_two_workers": statistics.median(
                b["evaluations_per_s"] for b in two),
            "ratios": ratios, "ratio": statistics.median(ratios),
            "cpu_ratios": cpu_ratios, "cpu_ratio": statistics.median(cpu_ratios),
            "two_workers_vs_no_dask": statistics.median(
                c["seconds"] / b["seconds"] for b, c in zip(two, local)),
            "tell_ms_per_generation": per_generation_ms(one, lambda x: x["tell_seconds"]),
            "client_cpu_ms_per_generation": client_ms,
            "worker_cpu_ms_per_generation": worker_ms,
            "busiest_worker_cpu_ms_per_generation_two": per_generation_ms(
                two, lambda x: max(workers(x))),
            # the client process's share of all CPU spent on a generation by one worker's run
            "serial_share": client_ms / (client_ms + worker_ms),
            # from the same tasks run in this process (CPU ms per generation)
            "profile_task_ms": task_ms, "profile_client_ms": serial_ms,
            "profile_makespan_two_ms": makespan_ms, "dask_client_ms": dask_ms,
            # the most 2 workers can do against 1 on these tasks: without Dask's own work,
            # and with the client process's Dask work measured above
            "bound_two_workers": (serial_ms + task_ms) / (serial_ms + makespan_ms),
            "bound_two_workers_with_dask": (client_ms + task_ms) / (client_ms + makespan_ms)}
    return out


def _print_dask(n):
    print(f"NEAT double pole, population {n['population']}, {n['generations']} generations "
          f"after {n['warmup']}, {'compiled' if n['fast'] else 'NumPy'} pole loop, "
          f"{'lean' if n['lean_dask_config'] else 'default'} Dask config; genome JSON would be "
          f"{n['genome_json_bytes_per_generation']:,} bytes "
          f"({n['genome_json_ms_per_generation']:.1f} ms) per generation:")
    for chunk, c in n["chunks"].items():
        one = c["runs"]["one_worker"][-1]["cpu_seconds"]
        two = c["runs"]["two_workers"][-1]["cpu_seconds"]
        fmt = (lambda d: ", ".join(f"{k} {v:.2f}" for k, v in d.items()))
        print(f"  {c['tasks_per_generation']} tasks of {chunk} genomes "
              f"({c['message_bytes_per_generation']:,} bytes of arrays per generation, built in "
              f"{c['message_ms_per_generation']:.1f} ms): 1 worker "
              f"{statistics.median(c['seconds_one_worker']):.2f} s, 2 workers "
              f"{statistics.median(c['seconds_two_workers']):.2f} s "
              f"({c['evaluations_per_s_two_workers']:,.0f} evaluations/s): {c['ratio']:.2f}x "
              f"(rounds {', '.join(f'{r:.2f}' for r in c['ratios'])}; by CPU time, the "
              f"client's plus the busiest worker's: {c['cpu_ratio']:.2f}x, rounds "
              f"{', '.join(f'{r:.2f}' for r in c['cpu_ratios'])}); one process "
              f"without Dask {statistics.median(c['seconds_no_dask']):.2f} s (2 workers "
              f"{c['two_workers_vs_no_dask']:.2f}x that)")
        print(f"    per generation, 1 worker: client CPU {c['client_cpu_ms_per_generation']:.1f} "
              f"ms (tell {c['tell_ms_per_generation']:.1f} ms), worker CPU "
              f"{c['worker_cpu_ms_per_generation']:.1f} ms: the client's serial share "
              f"{c['serial_share']:.1%}; 2 workers: busiest worker "
              f"{c['busiest_worker_cpu_ms_per_generation_two']:.1f} ms")
        print(f"    the same tasks in this process, CPU per generation: tasks "
              f"{c['profile_task_ms']:.1f} ms (2 workers' makespan "
              f"{c['profile_makespan_two_ms']:.1f} ms), client {c['profile_client_ms']:.1f} ms "
              f"(message arrays and tell), so at most {c['bound_two_workers']:.2f}x for 2 "
              f"workers; with Dask's {c['dask_client_ms']:.1f} ms in the client process "
              f"{c['bound_two_workers_with_dask']:.2f}x")
        print(f"    CPU s, last round: 1 worker: {fmt(one)}; 2 workers: {fmt(two)}")


# -- NEAT to solution: whole seeded runs ---------------------------------------------------
SOLVED = 100_000  # steps a champion must balance: the claim runs' (and users') stopping point


def _pole_genome_fitness(genome):
    """Per-genome double pole with velocities (100,000 steps): one cart, one network, one
    task item (module level: workers import it by name)."""
    from rosenblatt.evolution.envs import CartPole

    env = CartPole(poles=2, velocities=True, max_steps=SOLVED)
    return float(env.evaluate(genome.network(), population=1)[0])


def _solved(champion):
    return champion.fitness >= SOLVED


class InProcess(concurrent.futures.Executor):
    """Runs each task at once in this process: a serial run cut into exactly the tasks an
    executor would get (so its results are the Dask runs', and the difference in time is
    what the executor costs)."""

    def __init__(self):
        self.tasks = []  # CPU seconds of each task (this thread's only), in submission order

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        t = time.thread_time()  # not Dask's threads, which may live in this process
        try:
            future.set_result(fn(*args, **kwargs))
            self.tasks.append(time.thread_time() - t)
        except BaseException as e:  # noqa: BLE001 - handed to the caller, as a pool would
            future.set_exception(e)
        return future


def whole_run(seed, executor=None, fitness="vector", chunk=75, generations=200, fast=False):
    """One seeded NEAT run on double pole with velocities until a champion balances
    100,000 steps (or ``generations``): the claim runner's configuration (``NEAT(6, 1)``,
    default ``NEATConfig``, population 150).

    ``fitness``: "vector" (``CartPole.evaluate`` over a sub-population of ``chunk``
    genomes per task, ``vectorized=True``) or "genome" (one cart per genome,
    ``rb.parallel.map_chunks``'s default cut: four tasks per worker). Returns what must
    not depend on the executor (generations, evaluations, champion JSON, histories)
    and the time it took. ``fast``: ``NEAT(fast=True)``, the compiled pole loop.
    """
    import rosenblatt as rb

    neat = rb.evolution.NEAT(6, 1, rng=seed, fast=fast)
    vector = fitness == "vector"
    marks = []  # tasks run by the end of each generation (InProcess only)
    if isinstance(executor, InProcess):
        executor.tasks = []
    callbacks = [lambda state: marks.append(len(getattr(executor, "tasks", ())))]
    t, cpu, mine = time.perf_counter(), time.process_time(), time.thread_time()
    res = neat.run(_pole_fitness if vector else _pole_genome_fitness, generations, executor,
                   vectorized=vector, chunk_size=chunk, stop=_solved, callbacks=callbacks)
    seconds, cpu, mine = (time.perf_counter() - t, time.process_time() - cpu,
                          time.thread_time() - mine)
    history = json.loads(json.dumps(res.history))  # plain data (species ids as text)
    out = {"seed": seed, "generations": res.generations, "evaluations": res.evaluations,
           "solved": bool(res.best_fitness >= SOLVED), "best_fitness": res.best_fitness,
           "champion": res.best.to_json(), "history": history, "seconds": seconds,
           "this_process_cpu": cpu}
    if isinstance(executor, InProcess):
        out.update(_task_profile(executor.tasks, marks, mine))
    return out


def _makespan(times, n):
    """Tasks handed in order to whichever of ``n`` workers is free first: the last end."""
    free = [0.0] * n
    for x in times:
        free[free.index(min(free))] += x
    return max(free)


def _task_profile(tasks, marks, cpu):
    """From a serial run's task times (``cpu``: the run's CPU time in this thread): the
    client's serial CPU, the longest task of the run's last generation, and the most 2
    workers could do (each generation's tasks handed in order to whichever worker is free
    first, the client's work unchanged)."""
    gens = [tasks[a:b] for a, b in zip([0] + marks[:-1], marks)]

    work = sum(tasks)
    two = sum(_makespan(g, 2) for g in gens)
    return {"task_cpu": work, "client_serial_cpu": cpu - work, "tasks_per_generation":
            [len(g) for g in gens], "last_generation_cpu": sum(gens[-1]) if gens else 0.0,
            "last_generation_longest_task": max(gens[-1]) if gens and gens[-1] else 0.0,
            "two_worker_bound": cpu / (cpu - work + two) if cpu > work else None}


def _same_run(a, b):
    keys = ("generations", "evaluations", "solved", "best_fitness", "champion", "history")
    return all(a[k] == b[k] for k in keys)


def _pool(n):
    """``rb.parallel.local(n)``, started, and its worker processes."""
    import psutil

    import rosenblatt as rb

    pool = rb.parallel.local(n)
    list(pool.map(abs, range(4 * n)))  # start every worker (and import numpy there)
    for f in [pool.submit(_warm_worker) for _ in range(n)]:
        f.result()
    return pool, [psutil.Process(pid) for pid in pool._processes]


def _warm_worker():
    import rosenblatt  # noqa: F401 - workers import the library before timing starts

    return os.getpid()


def neat_to_solution(quick, rounds, seeds, setups, kinds, generations=None, lean=True,
                     fast=False):
    """Whole seeded NEAT runs to solution on each executor, alternating, checked identical.

    ``setups``: (fitness, chunk) pairs; ``kinds``: executors among "dask1", "dask2",
    "local1", "local2", "serial" (this process, the same tasks: :class:`InProcess`) and
    "serial_whole" (this process, the whole population in one array program: the
    default without an executor; a vectorised run may differ in the last bits and then
    follows another trajectory).
    """
    import psutil
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    me = psutil.Process()
    if generations is None:
        generations = 60 if quick else 200
    executors = {}
    try:
        for kind in kinds:
            if kind.startswith("dask"):
                cluster, client, ex, procs = _cluster(int(kind[-1]), lean)
                executors[kind] = (ex, procs, (client, cluster))
            elif kind.startswith("local"):
                pool, procs = _pool(int(kind[-1]))
                executors[kind] = (pool, procs, (pool,))
            elif kind == "serial":
                executors[kind] = (InProcess(), [], ())
            elif kind == "serial_whole":
                executors[kind] = (None, [], ())
            else:
                raise ValueError(f"unknown executor {kind!r}")
        for kind in kinds:  # warm up: workers import rosenblatt, run one generation
            for fitness, chunk in setups:
                whole_run(0, executors[kind][0], fitness, chunk, generations=1, fast=fast)
        runs = {f"{fitness}{chunk}": {k: [] for k in kinds} for fitness, chunk in setups}
        for _ in range(rounds):
            for seed in seeds:
                for fitness, chunk in setups:
                    reference = None
                    for kind in kinds:  # alternating, so a slow phase of the machine hits each
                        ex, procs = executors[kind][:2]
                        others = [c for c in me.children(recursive=True) if c not in procs]
                        groups = {"client": [me], "other_processes": others,
                                  **{f"worker{i}": [w] for i, w in enumerate(procs)}}
                        before, load = _cpu_seconds(groups), os.getloadavg()
                        r = whole_run(seed, ex, fitness, chunk, generations, fast)
                        after = _cpu_seconds(groups)
                        r.update(load=load, cpu_seconds={k: after[k] - before[k] for k in groups},
                                 evaluations_per_s=r["evaluations"] / r["seconds"])
                        if kind == "serial_whole" and fitness == "vector":
                            r["same_as_chunked"] = reference is None or _same_run(r, reference)
                        elif reference is None:
                            reference = r
                        else:
                            assert _same_run(r, reference), f"{kind} changed the run of seed {seed}"
                            r["same_as_first"] = True
                        runs[f"{fitness}{chunk}"][kind].append(r)
                        print(f"  {fitness} fitness, chunk {chunk}, seed {seed}, {kind}: "
                              f"{r['generations']} generations, {r['evaluations']} evaluations, "
                              f"{r['seconds']:.1f} s ({r['evaluations_per_s']:.0f}/s), CPU s "
                              + ", ".join(f"{k} {v:.1f}" for k, v in r["cpu_seconds"].items())
                              + f", load {load[0]:.1f}", flush=True)
    finally:
        for _, _, closers in executors.values():
            for c in closers:
                (c.shutdown if hasattr(c, "shutdown") else c.close)()
    def critical(run):  # CPU s of the client (serial) plus the busiest worker's
        workers = [v for k, v in run["cpu_seconds"].items() if k.startswith("worker")]
        return run["cpu_seconds"]["client"] + max(workers, default=0.0)

    out = {"seeds": list(seeds), "rounds": rounds, "setups": {}}
    for name, r in runs.items():
        summary = {"runs": r}
        for kind in kinds:
            summary[f"evaluations_per_s_{kind}"] = statistics.median(
                x["evaluations_per_s"] for x in r[kind])
        pairs = [(a, b) for a, b in (("dask1", "dask2"), ("local1", "local2")) if a in r and b in r]
        pairs += [("serial", k) for k in kinds if k != "serial" and "serial" in r]
        for a, b in pairs:
            summary[f"{b}_vs_{a}"] = statistics.median(
                x["seconds"] / y["seconds"] for x, y in zip(r[a], r[b]))
            summary[f"{b}_vs_{a}_cpu"] = statistics.median(
                critical(x) / critical(y) for x, y in zip(r[a], r[b]))
        summary["load"] = [min(x["load"][0] for k in kinds for x in r[k]),
                           max(x["load"][0] for k in kinds for x in r[k])]
        out["setups"][name] = summary
    return out


def _print_solution(s):
    print(f"NEAT to solution on double pole with velocities (100,000 steps), seeds "
          f"{s['seeds']}, {s['rounds']} round(s):")
    for name, summary in s["setups"].items():
        print(f"  {name}: evaluations/s " + ", ".join(
            f"{k[len('evaluations_per_s_'):]} {v:,.0f}" for k, v in summary.items()
            if k.startswith("evaluations_per_s_")))
        print("    ratios by wall time (by CPU time: the client's plus the busiest worker's): "
              + ", ".join(f"{k} {v:.2f}x ({summary[k + '_cpu']:.2f}x)"
                          for k, v in summary.items() if "_vs_" in k and not k.endswith("_cpu"))
              + f"; load average {summary['load'][0]:.1f}-{summary['load'][1]:.1f}")
        for r in summary["runs"].get("serial", []):
            print(f"    serial run of seed {r['seed']} (CPU s): tasks {r['task_cpu']:.1f}, client "
                  f"{r['client_serial_cpu']:.1f}; last generation {r['last_generation_cpu']:.1f}, "
                  f"its longest task {r['last_generation_longest_task']:.1f}; the most 2 "
                  f"workers can do: {r['two_worker_bound']:.2f}x")


# -- on paper ------------------------------------------------------------------------------
def paper(m, n):
    """A 64-node cluster from the measured numbers (ring Allreduce; 10 Gb/s, 20 us links)."""
    bw, lat, nodes = 1.25e9, 20e-6, 64
    size = m["message_bytes"]
    ring = 2 * (nodes - 1) / nodes * size / bw + 2 * (nodes - 1) * lat
    step1 = 1e3 / m["steps_per_s_one"]  # one process, batch 128, ms
    strong = step1 / (m["step_ms_batch2"] + ring * 1e3)  # batch 128 split 64 ways (2 per node)
    weak = nodes * step1 / (step1 + ring * 1e3)  # batch 128 per node (8,192 global)
    out = {"allreduce_ms_64_nodes": ring * 1e3, "strong_speedup_batch128": strong,
           "weak_speedup_batch8192": weak}
    if n is not None:
        for chunk, c in n["chunks"].items():
            serial = c["serial_share"]
            out[f"neat_chunk{chunk}_amdahl_limit"] = 1 / serial if serial > 0 else None
            out[f"neat_chunk{chunk}_speedup_64_nodes"] = 1 / (serial + (1 - serial) / min(
                nodes, c["tasks_per_generation"]))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--warmup", type=int, default=20, help="NEAT generations before timing")
    p.add_argument("--chunk", default="25,75",
                   help="genomes per Dask task (comma-separated: each is measured)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--fast", action="store_true",
                   help="dask, solution: NEAT(fast=True), the compiled pole loop in the workers")
    p.add_argument("--population", type=int, default=150, help="dask: NEAT's population")
    p.add_argument("--default-dask-config", action="store_true",
                   help="dask, solution: Dask's own settings instead of rb.parallel.DASK_CONFIG")
    p.add_argument("--only", choices=("mpi", "dask", "solution"))
    p.add_argument("--seeds", default="0", help="solution: seeds of the whole runs")
    p.add_argument("--setups", default="vector75,genome",
                   help="solution: fitness and genomes per task, 'vectorN' (vectorised, N "
                        "genomes per task) or 'genome' (one cart per genome)")
    p.add_argument("--executors", default="dask1,dask2,local1,local2,serial",
                   help="solution: dask1, dask2 (LocalCluster), local1, local2 "
                        "(rb.parallel.local), serial (in this process, the same tasks), "
                        "serial_whole (in this process, one array program)")
    p.add_argument("--mlp-rank", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=12_800, help=argparse.SUPPRESS)
    p.add_argument("--epochs", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--wait", default="block", help=argparse.SUPPRESS)
    p.add_argument("--profile", action="store_true",
                   help="MPI: per-phase timers per rank instead of the rb.fit runs")
    p.add_argument("--profile-rank", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--overlap-rank", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--solo", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--shard", default="auto", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.mlp_rank:
        return mlp_rank(args.n, args.epochs, args.wait, args.shard)
    if args.profile_rank:
        return profile_rank(args.n, args.wait, args.batch, args.solo, args.shard)
    if args.overlap_rank:
        return overlap_rank()
    results = {"load_average": os.getloadavg(), "cpus": os.cpu_count()}
    if args.profile and args.only in (None, "mpi"):
        results["mlp_profile"] = m = mlp_profile(args.quick, args.rounds)
        _print_profile(m)
    elif args.only in (None, "mpi"):
        results["mlp_mpi"] = m = mlp_over_mpi(args.quick, args.rounds)
        print(f"MLP 784-256-256-10, batch 128, {m['samples']:,} samples: 1 process "
              f"{statistics.median(m['one_process']):,.0f} samples/s, 2 ranks "
              f"{statistics.median(m['two_ranks']):,.0f} samples/s: {m['ratio']:.2f}x "
              f"(rounds {', '.join(f'{r:.2f}' for r in m['ratios'])}; fastest run against "
              f"fastest run {m['best_ratio']:.2f}x); by CPU time (the busiest "
              f"rank's) {m['cpu_time_ratio']:.2f}x; 2 ranks with wait='poll' "
              f"{statistics.median(m['two_ranks_poll']):,.0f} samples/s: "
              f"{m['poll_ratio']:.2f}x (by CPU time {m['poll_cpu_time_ratio']:.2f}x); 2 ranks "
              f"unsharded (one Allreduce, every rank steps the whole vector) "
              f"{m['plain_ratio']:.2f}x (rounds "
              f"{', '.join(f'{r:.2f}' for r in m['plain_ratios'])}; fastest "
              f"{m['plain_best_ratio']:.2f}x); "
              f"per step {m['message_bytes']:,} bytes each way: "
              + (f"sharded (a reduce-scatter and an all-gather through the node's shared "
                 f"memory) {m['exchange_ms']:.2f} ms, " if m["sharded"] else "")
              + f"one Allreduce {m['allreduce_ms']:.2f} ms", flush=True)
    if args.only == "solution":
        setups = [("genome", 32) if x == "genome" else ("vector", int(x[len("vector"):]))
                  for x in args.setups.split(",")]
        results["neat_solution"] = sol = neat_to_solution(
            args.quick, args.rounds, [int(x) for x in args.seeds.split(",")], setups,
            args.executors.split(","), lean=not args.default_dask_config, fast=args.fast)
        _print_solution(sol)
    if args.only in (None, "dask"):
        chunks = [int(c) for c in str(args.chunk).split(",")]
        results["neat_dask"] = n = neat_on_dask(args.quick, args.rounds, args.warmup, chunks,
                                                args.fast, args.population,
                                                not args.default_dask_config)
        _print_dask(n)
    if "mlp_mpi" in results:
        results["paper_64_nodes"] = q = paper(results["mlp_mpi"], results.get("neat_dask"))
        print("64 nodes on paper: " + json.dumps({k: round(v, 2) if v else v
                                                  for k, v in q.items()}))
    print(f"load average {results['load_average']} on {results['cpus']} CPUs (shared machine: "
          f"ratios are indicative)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
