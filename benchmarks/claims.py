"""The papers' claims over seeded runs, the runs in parallel through an executor.

Timed workloads never run in parallel (two at once would distort each
other's timings). The claim runners are different: each measures what a
seeded run *achieves* (evaluations to solve, Upsilon and Delta), a pure
function of its seed, so independent runs can go to several processes or a
Dask cluster and give the same rows as a serial loop::

    python -m benchmarks.run --claims neat-xor --runs 100 --workers 2
    python -m benchmarks.run --claims cosyne-markov,nsga2 --scheduler tcp://host:8786
    python -m benchmarks.workloads.neat --xor-runs 100 --workers 2     # the same runner
    python benchmarks/cosyne_claims.py --runs 20 --workers 2
    python -m benchmarks.workloads.nsga2 --claims --workers 2

A run crosses to a worker as plain data (its seed and keyword arguments); the
worker imports the runner's module by name (:func:`call`). The ``seconds``
some runners print are those of each run in its worker.
"""

import functools
import importlib

import rosenblatt as rb

RUNNERS = {  # name: (module, default runs, what it measures)
    "neat-xor": ("benchmarks.workloads.neat", 100, "NEAT on XOR (paper: 32 generations, "
                 "4,755 evaluations, 0 failures)"),
    "neat-pole": ("benchmarks.workloads.neat", 10, "NEAT on double pole with velocities "
                  "(paper: 3,600 evaluations)"),
    "cosyne-markov": ("benchmarks.cosyne_claims", 20, "CoSyNE, double pole with velocities "
                      "(paper: 954 evaluations)"),
    "cosyne-non-markov": ("benchmarks.cosyne_claims", 20, "CoSyNE, double pole without "
                          "velocities (paper: 1,249 evaluations)"),
    "nsga2": ("benchmarks.workloads.nsga2", 10, "NSGA-II on ZDT1-3 (Upsilon, Delta; IGD vs "
              "pymoo)"),
}


def call(module, function, kwargs, seed):
    """One run in a worker: ``module.function(seed, **kwargs)``, the module imported by name."""
    return getattr(importlib.import_module(module), function)(seed, **kwargs)


def by_seed(module, function, seeds, executor=None, **kwargs):
    """``[module.function(seed, **kwargs) for seed in seeds]``, one seed per task through
    ``executor`` (None: here, in turn); in the order of ``seeds`` whatever finishes first."""
    seeds = list(seeds)
    fn = functools.partial(call, module, function, kwargs)
    return rb.parallel.map_chunks(fn, seeds, executor, chunks=max(1, len(seeds)),
                                  owner=f"{module}.{function}")


def run(name, runs=None, executor=None, **options):
    """Run the claim runner ``name`` (a key of :data:`RUNNERS`) over seeds ``0 .. runs - 1``,
    printing its summary; returns its rows."""
    if name not in RUNNERS:
        raise ValueError(f"benchmarks.claims: no runner {name!r}; the runners are "
                         f"{', '.join(RUNNERS)}")
    module_name, default, label = RUNNERS[name]
    runs = default if runs is None else runs
    module = importlib.import_module(module_name)
    if name == "neat-xor":
        rows = module.xor_runs(runs, executor=executor, **options)
        module._summary(rows, label)
    elif name == "neat-pole":
        rows = module.pole_runs(runs, executor=executor, **options)
        module._summary(rows, label)
    elif name.startswith("cosyne"):
        function = "run_markov" if name == "cosyne-markov" else "non_markov_evaluations"
        rows = by_seed(module_name, function, range(runs), executor, **options)
        module.summarise(label, rows, 954 if name == "cosyne-markov" else 1249,
                         claim=1500 if name == "cosyne-markov" else None)
    else:
        rows = module.claims(runs, executor=executor, **options)
        module._report(rows)
    return rows
