"""Where the client process's and the workers' CPU goes in a NEAT generation on Dask (issue 21).

The benchmark's set-up (``benchmarks.workloads.scale``, ``--only dask``: NEAT on double pole
with velocities, population 150, 20 generations evolved serially, then generations timed
from that state on a ``LocalCluster`` of one-thread workers, ``rb.parallel.DASK_CONFIG``,
tasks of ``--chunk`` genomes), run for ``--generations`` generations on a 1- and a
2-worker cluster (alternating, ``--rounds`` times), with per generation:

* the wall time;
* the client process's CPU by thread: the main thread (NEAT's ``tell``, the messages,
  ``client.map`` and the wait for the results) and each other thread (Dask's event loop,
  which runs the client's comms, the scheduler and the nannies in ``LocalCluster``'s
  default set-up, and any helper threads);
* in the main thread, the pieces: building the messages (``vector_chunks``' encoding),
  the submission (``client.map``), waiting for the results, ``tell``;
* each worker process's CPU and involuntary context switches, and within it the tasks'
  own CPU (decoding the genomes and the simulation; the simulation alone), measured in the
  task's thread (the workers' ``_vector_part`` is wrapped by ``client.run``);
* the round's timeline: from the call to the first task's start, the tasks' span (first
  start to last end), the longest task's wall and CPU time, the mean task's CPU, the
  first end to the last, the last end to the results in the main thread (the workers'
  and this process's ``perf_counter`` are the same clock, CLOCK_MONOTONIC).

``--setups local,external``: ``LocalCluster`` (its scheduler and nannies in this process,
the benchmark's set-up) and ``dask scheduler`` + ``dask worker --nworkers n`` processes
(the docs' cluster set-up; only the client in this process; the scheduler process's CPU
is reported too), alternating. ``--spy PATH``: py-spy (raw stacks) on this process and
every worker during the timed rounds.

    python -m benchmarks.neat_dask_client [--rounds 5] [--generations 5] [--chunk 75]
        [--setups local,external] [--json PATH] [--spy PATH --rate 200]
"""

import argparse
import copy
import json
import os
import signal
import statistics
import time

from benchmarks import neat_dask_client as here  # workers find the timers by this name
from benchmarks.workloads import scale

_TASKS = {"task": 0.0, "fitness": 0.0, "parent_during": 0.0, "own_threads_during": 0.0}
# CPU seconds of the tasks run in this worker, and during them: of the worker's parent
# process (LocalCluster: the client process, where the nanny lives), of this worker's
# other threads (its Dask event loop)
_SPANS = []  # (start, end, CPU) of each task run in this worker (perf_counter: CLOCK_MONOTONIC)


def _run_ns(pid, skip=None):
    """CPU ns of every thread of ``pid`` so far (``/proc/PID/task/*/schedstat``), without
    thread ``skip``."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tids:
        if skip is not None and int(tid) == skip:
            continue
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def _install_task_timers():
    """In a worker (``client.run``): time each task (decoding and fitness) and its fitness
    alone, in the task's thread. ``vector_chunks`` sends ``_vector_part`` by name, so the
    worker's module attribute is what runs."""
    from rosenblatt.evolution import core

    if getattr(core, "_untimed_vector_part", None) is None:
        core._untimed_vector_part = core._vector_part

        def timed_part(fitness, decode_many, repeats, payloads):
            def timed_fitness(population):
                t = time.thread_time()
                try:
                    return fitness(population)
                finally:
                    _TASKS["fitness"] += time.thread_time() - t

            import threading

            me, parent = threading.get_native_id(), os.getppid()
            p0, o0 = _run_ns(parent), _run_ns(os.getpid(), skip=me)
            t, w = time.thread_time(), time.perf_counter()
            try:
                return core._untimed_vector_part(timed_fitness, decode_many, repeats, payloads)
            finally:
                _TASKS["task"] += time.thread_time() - t
                _SPANS.append((w, time.perf_counter(), time.thread_time() - t))
                _TASKS["parent_during"] += (_run_ns(parent) - p0) * 1e-9
                _TASKS["own_threads_during"] += (_run_ns(os.getpid(), skip=me) - o0) * 1e-9

        core._vector_part = timed_part
    return dict(_TASKS)


def _read_task_timers():
    return dict(_TASKS)


def _take_spans():
    out = list(_SPANS)
    _SPANS.clear()
    return out


def _round_timeline(rounds, spans):
    """Per round, ms: from the call to the first task's start, the tasks' first start to
    last end (and the longest task), the last end to the results in the main thread."""
    out = {"to_first_start": [], "tasks": [], "longest_task": [], "longest_task_cpu": [],
           "mean_task_cpu": [], "last_end_to_result": [], "first_end_to_last_end": []}
    for call, done in rounds:
        mine = [(a, b, c) for a, b, c in spans if call <= a <= done]
        if not mine:
            continue
        longest = max(mine, key=lambda x: x[1] - x[0])
        out["to_first_start"].append(min(x[0] for x in mine) - call)
        out["tasks"].append(max(x[1] for x in mine) - min(x[0] for x in mine))
        out["longest_task"].append(longest[1] - longest[0])
        out["longest_task_cpu"].append(longest[2])
        out["mean_task_cpu"].append(sum(x[2] for x in mine) / len(mine))
        out["first_end_to_last_end"].append(max(x[1] for x in mine) - min(x[1] for x in mine))
        out["last_end_to_result"].append(done - max(x[1] for x in mine))
    return {k: 1e3 * sum(v) / max(1, len(v)) for k, v in out.items()}


def _thread_cpu(proc):
    return {t.id: t.user_time + t.system_time for t in proc.threads()}


def _threads_delta(before, after, main_tid):
    main = after.get(main_tid, 0.0) - before.get(main_tid, 0.0)
    other = sum(v - before.get(k, 0.0) for k, v in after.items() if k != main_tid)
    return main, other


def run(client, executor, start_state, generations, chunk, workers, me, others=()):
    """``generations`` generations from ``start_state``; per-generation CPU by piece."""
    import threading

    from rosenblatt import parallel

    neat = copy.deepcopy(start_state)
    pieces = dict.fromkeys(("encode", "submit", "wait", "tell", "main_other"), 0.0)
    clock = time.thread_time
    orig_map, orig_encode = parallel._dask_map, None

    rounds = []  # (call, results in hand) perf_counter of each round

    def dask_map(client, ex, fn, parts, owner):  # submit and wait timed apart
        call = time.perf_counter()
        t0 = clock()
        futures = client.map(parallel._run_chunk, [fn] * len(parts), parts,
                             **dict(getattr(ex, "_kwargs", None) or {}))
        prev = parallel._last_round.pop(ex, None)
        parallel._last_round[ex] = futures
        del prev
        t1 = clock()
        futures = [ex._wrap_future(f) for f in futures]
        out = []
        for f in futures:
            out.extend(f.result())
        pieces["submit"] += t1 - t0
        pieces["wait"] += clock() - t1
        rounds.append((call, time.perf_counter()))
        return out

    from rosenblatt.evolution import neat as neat_mod
    orig_encode = neat_mod.genomes_to_arrays

    def encode(genomes):
        t = clock()
        out = orig_encode(genomes)
        pieces["encode"] += clock() - t
        return out

    parallel._dask_map, neat_mod.genomes_to_arrays = dask_map, encode
    main_tid = threading.get_native_id()
    try:
        threads0 = _thread_cpu(me)
        workers0 = [sum(w.cpu_times()[:2]) for w in workers]
        switches0 = [w.num_ctx_switches().involuntary for w in workers]
        others0 = sum(sum(o.cpu_times()[:2]) for o in others)
        tasks0 = client.run(here._read_task_timers)
        client.run(here._take_spans)
        wall = time.perf_counter()
        main0 = clock()
        for _ in range(generations):
            f = neat.evaluate(scale._pole_fitness, executor, vectorized=True, chunk_size=chunk)
            t = clock()
            neat.tell(f)
            pieces["tell"] += clock() - t
        main_total = clock() - main0
        wall = time.perf_counter() - wall
        workers1 = [sum(w.cpu_times()[:2]) for w in workers]
        switches1 = [w.num_ctx_switches().involuntary for w in workers]
        others1 = sum(sum(o.cpu_times()[:2]) for o in others)
        tasks1 = client.run(here._read_task_timers)
        spans = [x for v in client.run(here._take_spans).values() for x in v]
        threads1 = _thread_cpu(me)
    finally:
        parallel._dask_map, neat_mod.genomes_to_arrays = orig_map, orig_encode
    main, other = _threads_delta(threads0, threads1, main_tid)
    pieces["main_other"] = main_total - sum(v for k, v in pieces.items() if k != "main_other")
    per = 1e3 / generations
    return {"wall_ms": wall * per, "main_thread_ms": main * per, "other_threads_ms": other * per,
            **{f"{k}_ms": v * per for k, v in pieces.items()},
            **{f"{k}_ms": v for k, v in _round_timeline(rounds, spans).items()},
            "scheduler_process_ms": (others1 - others0) * per,
            # the workers' involuntary context switches (preempted by another process)
            "worker_preemptions": sum(b - a for a, b in zip(switches0, switches1)) / generations,
            "workers_ms": [(b - a) * per for a, b in zip(workers0, workers1)],
            "task_ms": sum(tasks1[w]["task"] - tasks0[w]["task"] for w in tasks1) * per,
            "fitness_ms": sum(tasks1[w]["fitness"] - tasks0[w]["fitness"] for w in tasks1) * per,
            # summed over the tasks (with 2 workers, overlapping windows count twice)
            "parent_cpu_during_tasks_ms": sum(
                tasks1[w]["parent_during"] - tasks0[w]["parent_during"] for w in tasks1) * per,
            "worker_loop_cpu_during_tasks_ms": sum(
                tasks1[w]["own_threads_during"] - tasks0[w]["own_threads_during"]
                for w in tasks1) * per}


class _External:
    """``dask scheduler`` and ``dask worker --nworkers n --nthreads 1`` as processes of their
    own (the docs' cluster set-up, on 127.0.0.1), with ``rb.parallel.DASK_CONFIG`` given to
    them as environment variables; ``close()`` stops them."""

    def __init__(self, n, lean=True):
        import subprocess
        import tempfile

        from rosenblatt.parallel import DASK_CONFIG

        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        if lean:
            for key, value in DASK_CONFIG.items():
                env["DASK_" + "__".join(key.upper().replace("-", "_").split("."))] = str(value)
        self.file = os.path.join(tempfile.mkdtemp(prefix="neat-dask-"), "scheduler.json")
        dask = [os.path.join(os.path.dirname(os.sys.executable), "dask")]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
        self.procs = [subprocess.Popen(dask + ["scheduler", "--host", "127.0.0.1", "--port",
                                               "0", "--no-dashboard", "--scheduler-file",
                                               self.file], **quiet)]
        while not os.path.exists(self.file):
            time.sleep(0.1)
        time.sleep(0.3)
        self.procs.append(subprocess.Popen(dask + ["worker", "--scheduler-file", self.file,
                                                   "--nthreads", "1", "--nworkers", str(n),
                                                   "--host", "127.0.0.1", "--no-dashboard"],
                                           **quiet))

    def close(self):
        for proc in reversed(self.procs):
            proc.terminate()
            proc.wait(timeout=30)


def _cluster(n, external):
    """``scale._cluster``'s tuple; with ``external``, the scheduler and the workers are
    processes of their own (``_External``) and the client alone is in this process."""
    if not external:
        return scale._cluster(n)
    import psutil
    from distributed import Client

    cluster = _External(n)
    client = Client(scheduler_file=cluster.file)
    client.wait_for_workers(n)
    workers = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
    return cluster, client, client.get_executor(pure=False), workers


def _spy(path, rate, me, clusters):
    """py-spy record (``--idle`` off: only running threads) on this process and every
    worker, until SIGINT."""
    import subprocess

    pids = {"client": me.pid}
    for (setup, n), (_, _, _, workers) in clusters.items():
        for k, w in enumerate(workers):
            pids[f"{setup}{n}_worker{k}"] = w.pid
    spies = [subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--threads", "-r",
                               str(rate), "--nonblocking", "--format", "raw", "-o",
                               f"{path}.{name}.txt"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
             for name, pid in pids.items()]
    time.sleep(1.0)  # py-spy attaches
    return spies


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--generations", type=int, default=5)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--chunk", type=int, default=75)
    p.add_argument("--workers", default="1,2")
    p.add_argument("--json")
    p.add_argument("--setups", default="local",
                   help="comma-separated: local (LocalCluster: its scheduler and nannies in "
                        "this process), external (dask scheduler and dask worker processes)")
    p.add_argument("--spy", help="py-spy the timed rounds of this process and the workers: "
                                 "raw stacks written to SPY.client.txt, SPY.workerK.txt")
    p.add_argument("--rate", type=int, default=200, help="--spy: samples per second")
    args = p.parse_args(argv)
    import psutil
    from threadpoolctl import threadpool_limits

    import rosenblatt as rb

    threadpool_limits(1)
    neat = rb.evolution.NEAT(6, 1, config=rb.evolution.NEATConfig(population=150), rng=0)
    for _ in range(args.warmup):
        neat.tell(neat.evaluate(scale._pole_fitness, vectorized=True))
    start = copy.deepcopy(neat)
    me = psutil.Process()
    ns = [int(x) for x in args.workers.split(",")]
    setups = args.setups.split(",")
    keys = [(setup, n) for setup in setups for n in ns]
    clusters = {(setup, n): _cluster(n, setup == "external") for setup, n in keys}
    others = {key: [psutil.Process(c[0].procs[0].pid)] if key[0] == "external" else []
              for key, c in clusters.items()}
    rows = {key: [] for key in keys}
    try:
        for key in keys:
            clusters[key][1].run(here._install_task_timers)
            run(clusters[key][1], clusters[key][2], start, 2, args.chunk, clusters[key][3], me)
        spies = _spy(args.spy, args.rate, me, clusters) if args.spy else []
        for _ in range(args.rounds):  # alternating, so a slow phase of the machine hits each
            for key in keys:
                rows[key].append(run(clusters[key][1], clusters[key][2], start,
                                     args.generations, args.chunk, clusters[key][3], me,
                                     others[key]))
        for spy in spies:
            spy.send_signal(signal.SIGINT)
        for spy in spies:
            spy.wait()
    finally:
        for cluster, client, _, _ in clusters.values():
            client.close()
            cluster.close()
    out = {"load": os.getloadavg(), "generations": args.generations, "chunk": args.chunk,
           "rows": {f"{setup}_{n}": r for (setup, n), r in rows.items()}}
    for setup, n in keys:
        r = rows[setup, n]
        med = {k: statistics.median(x[k] for x in r) for k in r[0] if k != "workers_ms"}
        med["workers_ms"] = [statistics.median(x["workers_ms"][i] for x in r) for i in range(n)]
        out[f"median_{setup}_{n}"] = med
        print(f"{setup}, {n} worker(s), ms per generation (median of {args.rounds}): "
              + ", ".join(f"{k[:-3]} {v:.1f}" for k, v in med.items() if k != "workers_ms")
              + ", workers " + ", ".join(f"{v:.1f}" for v in med["workers_ms"]))
    for setup in setups:
        if len(ns) == 2:
            ratios = [a["wall_ms"] / b["wall_ms"] for a, b in zip(rows[setup, ns[0]],
                                                                  rows[setup, ns[1]])]
            out[f"ratios_{setup}"] = ratios
            print(f"{setup}: {ns[1]} vs {ns[0]} workers, wall ratios "
                  + ", ".join(f"{x:.2f}" for x in ratios)
                  + f" (median {statistics.median(ratios):.2f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)

if __name__ == "__main__":
    main()
