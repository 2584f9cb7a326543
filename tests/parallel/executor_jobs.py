"""Module-level work for tests/parallel (worker processes import this file by name).

Also the MPI job: ``mpirun -n 3 python -m mpi4py.futures executor_jobs.py mpi OUT`` runs a
NEAT population and a Bayesian-optimisation study through ``MPIPoolExecutor`` (rank 0
submits, ranks 1 and 2 work) and writes what it got to ``OUT/report.json``.
"""

import json
import os
import sys


def objective(params):
    """A smooth bowl with its minimum at (0.5, 1)."""
    return (params["x"] - 0.5) ** 2 + (params["y"] - 1.0) ** 2


def space():
    import rosenblatt as rb

    return rb.tuning.Space({"x": rb.tuning.Uniform(-2, 2), "y": rb.tuning.Uniform(-1, 3)})


def _crash_once(marker, parent):
    """In a worker process (not the test's), the first call ends the process abruptly."""
    if os.getpid() == parent:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    os._exit(1)  # the worker dies mid-task, as if killed


def crashing_xor(marker, parent, genome):
    """XOR fitness whose first call in a worker kills that worker."""
    from rosenblatt.evolution.envs import xor_fitness

    _crash_once(marker, parent)
    return xor_fitness(genome)


def crashing_objective(marker, parent, params):
    _crash_once(marker, parent)
    return objective(params)


def slow_crashing_objective(marker, parent, params):
    """As crashing_objective, after 0.2 s: the next trials are in flight when a worker dies."""
    import time

    time.sleep(0.2)
    return crashing_objective(marker, parent, params)


def run_neat(executor=None, fitness=None, vectorized=False, generations=3):
    import rosenblatt as rb

    neat = rb.evolution.NEAT(2, 1, rng=0)
    if fitness is None:
        fitness = rb.evolution.envs.xor_fitness
    result = neat.run(fitness, generations, executor=executor, vectorized=vectorized)
    return result.history["best"] + result.history["mean"] + [result.best.to_json()]


def xor_population(population):
    """The vectorised XOR fitness of a population network (module level)."""
    from rosenblatt.evolution.envs import XOR

    return XOR().evaluate(population)


def run_study(executor=None, objective_fn=objective, n_trials=6):
    import rosenblatt as rb

    study = rb.tuning.minimize(objective_fn, space(), method="bayes", n_trials=n_trials,
                               n_initial=3, seed=0, executor=executor, n_parallel=2,
                               n_candidates=200)
    return [(t.number, t.params, t.value, t.status) for t in study.trials]


def mpi_job(out):
    import executor_jobs  # by name, so that the workers import the same functions
    from mpi4py.futures import MPIPoolExecutor

    with MPIPoolExecutor() as pool:
        report = {"neat": executor_jobs.run_neat(pool),
                  "neat_vectorized": executor_jobs.run_neat(pool, executor_jobs.xor_population,
                                                            vectorized=True),
                  "study": executor_jobs.run_study(pool)}
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    {"mpi": mpi_job}[sys.argv[1]](sys.argv[2])
