"""Scaling out (issue 21): data-parallel MLP training over MPI, NEAT populations on Dask.

Run standalone (it starts ``mpirun`` and a Dask cluster itself, so the
harness's in-process timing does not apply and ``workloads()`` is empty)::

    python -m benchmarks.workloads.scale [--quick] [--json PATH]

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
  worker processes, using one of them or both; sub-populations of
  ``--chunk`` genomes as JSON per task (vectorised simulation in the worker).
  Target >= 1.6x. Also one process without Dask, the genome bytes per
  generation and the master's serial share (speciation and reproduction).
* **64 nodes on paper**, from the measured numbers.

Every process uses one BLAS thread. The machine this ran on is shared: ratios
are indicative.
"""

import argparse
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
           # machine the spinning rank takes the core its partner needs to finish the step)
           OMPI_MCA_mpi_yield_when_idle="1",
           PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))


def workloads(quick):
    """None for the harness: this benchmark runs standalone (see the module docstring)."""
    return []


# -- MLP over MPI ---------------------------------------------------------------------------
def mlp_rank(n, epochs, wait="block"):
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
        dist = rb.distributed.DataParallel(model, opt, wait=wait)
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
    if comm is not None:  # the one message per step, alone: bytes and time
        dp = dist
        out["message_bytes"] = dp.message_bytes
        for _ in range(5):
            dp.allreduce(0.5)
        comm.Barrier()
        t = time.perf_counter()
        for _ in range(50):
            dp.allreduce(0.5)
        out["allreduce_ms"] = (time.perf_counter() - t) / 50 * 1e3
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


def _run_mlp(ranks, n, epochs, wait="block"):
    cmd = [sys.executable, "-m", "benchmarks.workloads.scale", "--mlp-rank", "--n", str(n),
           "--epochs", str(epochs), "--wait", wait]
    if ranks > 1:
        # ranks bound to cores (mpirun's default when there are as many cores as ranks):
        # unbound, the one Allreduce took 5-90 ms instead of 0.6-3 ms on the loaded machine
        cmd = ["mpirun", "-n", str(ranks), "--allow-run-as-root", *cmd]
    done = subprocess.run(cmd, env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-2000:] + done.stderr[-2000:])
    line = [s for s in done.stdout.splitlines() if s.startswith("RESULT ")][-1]
    return json.loads(line[7:])


def mlp_over_mpi(quick, rounds):
    n, epochs = (12_800, 1) if quick else (60_000, 1)
    one, two, polled = [], [], []
    for _ in range(rounds):  # alternating, so a slow phase of the machine hits both
        one.append(_run_mlp(1, n, epochs))
        two.append(_run_mlp(2, n, epochs))
        polled.append(_run_mlp(2, n, epochs, "poll"))
    poll_ratios = [b["samples_per_s"] / a["samples_per_s"] for a, b in zip(one, polled)]
    ratios = [b["samples_per_s"] / a["samples_per_s"] for a, b in zip(one, two)]
    cpu_ratios = [b["samples_per_cpu_s"] / a["samples_per_cpu_s"] for a, b in zip(one, two)]
    return {"samples": n * epochs, "one_process": [r["samples_per_s"] for r in one],
            "two_ranks": [r["samples_per_s"] for r in two], "ratios": ratios,
            "ratio": statistics.median(ratios), "message_bytes": two[0]["message_bytes"],
            "cpu_time_ratios": cpu_ratios, "cpu_time_ratio": statistics.median(cpu_ratios),
            "two_ranks_poll": [r["samples_per_s"] for r in polled], "poll_ratios": poll_ratios,
            "poll_ratio": statistics.median(poll_ratios),
            "allreduce_ms": statistics.median(r["allreduce_ms"] for r in two),
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
    t = time.perf_counter()
    tell = 0.0
    bests = []
    for _ in range(generations):
        f = neat.evaluate(_pole_fitness, executor, vectorized=True, chunk_size=chunk)
        t0 = time.perf_counter()
        neat.tell(f)
        tell += time.perf_counter() - t0
        bests.append(float(f.max()))
    return time.perf_counter() - t, tell, bests


def neat_on_dask(quick, rounds, warmup, chunk):
    from distributed import Client, LocalCluster
    from threadpoolctl import threadpool_limits

    import rosenblatt as rb

    threadpool_limits(1)
    generations = 3 if quick else 5
    neat = rb.evolution.NEAT(6, 1, rng=0)
    for _ in range(warmup):
        neat.tell(neat.evaluate(_pole_fitness, vectorized=True))
    start_state = copy.deepcopy(neat)
    genome_bytes = sum(len(g.to_json()) for g in neat.population)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=":0", worker_dashboard_address=None,
                           env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    client = Client(cluster)
    try:
        addresses = sorted(client.scheduler_info()["workers"])
        ex1 = client.get_executor(workers=addresses[:1], allow_other_workers=False)
        ex2 = client.get_executor()
        _generations(copy.deepcopy(start_state), ex2, 1, chunk)  # workers import, warm up
        one, two, local, tells = [], [], [], []
        for _ in range(rounds):
            s1, tell1, b1 = _generations(copy.deepcopy(start_state), ex1, generations, chunk)
            s2, _, b2 = _generations(copy.deepcopy(start_state), ex2, generations, chunk)
            s0, _, b0 = _generations(copy.deepcopy(start_state), None, generations, chunk)
            assert b1 == b2, "the results must not depend on the number of workers"
            one.append(s1)
            two.append(s2)
            local.append(s0)
            tells.append(tell1)
    finally:
        client.close()
        cluster.close()
    ratios = [a / b for a, b in zip(one, two)]
    return {"generations": generations, "warmup": warmup, "chunk": chunk,
            "population": len(start_state.population), "best_after": b2[-1],
            "seconds_one_worker": one, "seconds_two_workers": two,
            "seconds_one_process_no_dask": local, "ratios": ratios,
            "ratio": statistics.median(ratios),
            "serial_share": statistics.median(t / s for t, s in zip(tells, one)),
            "genome_json_bytes_per_generation": genome_bytes,
            "tasks_per_generation": -(-len(start_state.population) // chunk)}


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
        serial = n["serial_share"]
        out["neat_amdahl_limit"] = 1 / serial if serial > 0 else None
        out["neat_speedup_64_nodes"] = 1 / (serial + (1 - serial) / min(
            nodes, n["tasks_per_generation"]))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--warmup", type=int, default=20, help="NEAT generations before timing")
    p.add_argument("--chunk", type=int, default=25, help="genomes per Dask task")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--only", choices=("mpi", "dask"))
    p.add_argument("--mlp-rank", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=12_800, help=argparse.SUPPRESS)
    p.add_argument("--epochs", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--wait", default="block", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.mlp_rank:
        return mlp_rank(args.n, args.epochs, args.wait)
    results = {"load_average": os.getloadavg(), "cpus": os.cpu_count()}
    if args.only in (None, "mpi"):
        results["mlp_mpi"] = m = mlp_over_mpi(args.quick, args.rounds)
        print(f"MLP 784-256-256-10, batch 128, {m['samples']:,} samples: 1 process "
              f"{statistics.median(m['one_process']):,.0f} samples/s, 2 ranks "
              f"{statistics.median(m['two_ranks']):,.0f} samples/s: {m['ratio']:.2f}x "
              f"(rounds {', '.join(f'{r:.2f}' for r in m['ratios'])}); by CPU time (the busiest "
              f"rank's) {m['cpu_time_ratio']:.2f}x; 2 ranks with wait='poll' "
              f"{statistics.median(m['two_ranks_poll']):,.0f} samples/s: {m['poll_ratio']:.2f}x; "
              f"one Allreduce per step "
              f"of {m['message_bytes']:,} bytes taking {m['allreduce_ms']:.2f} ms", flush=True)
    if args.only in (None, "dask"):
        results["neat_dask"] = n = neat_on_dask(args.quick, args.rounds, args.warmup, args.chunk)
        print(f"NEAT double pole, {n['generations']} generations after {n['warmup']}: 1 Dask "
              f"worker {statistics.median(n['seconds_one_worker']):.2f} s, 2 workers "
              f"{statistics.median(n['seconds_two_workers']):.2f} s: {n['ratio']:.2f}x "
              f"(rounds {', '.join(f'{r:.2f}' for r in n['ratios'])}); one process without "
              f"Dask {statistics.median(n['seconds_one_process_no_dask']):.2f} s; "
              f"{n['genome_json_bytes_per_generation']:,} bytes of genome JSON per generation "
              f"in {n['tasks_per_generation']} tasks; master's serial share "
              f"{n['serial_share']:.1%}", flush=True)
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
