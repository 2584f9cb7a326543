"""Staging (incremental evolution): a sequence of ever harder tasks (notes: "Neuroevolution").

The notes: "For complex problems, it sometimes is too difficult to evolve the
network directly to that problem. Instead, staging (also called incremental
evolution) may be preferred, where the network is evolved on simpler problems
that gradually increase towards the original complex task." (Gomez &
Miikkulainen 1997 evolved double-pole controllers while the short pole grew.)

:class:`Staged` drives any algorithm of this layer (CNE, CoSyNE, ESP, NEAT:
anything whose ``run`` keeps its population between calls) through a list of
fitness functions: it runs the algorithm on task ``i`` until the generation's
best fitness reaches ``threshold[i]``, then moves the *same population* on to
task ``i + 1``. The run ends when the last task's threshold is reached or the
generations are spent.

The growing second pole: ``CartPole(poles=2, half_lengths=(0.5, 0.5 * r))``
for ``r = 0.1, 0.2, ...`` (masses proportional to the lengths) gives the
sequence of tasks; with one sigmoid neuron evolved by CoSyNE, staging from
``r = 0.1`` reached ``r = 0.5`` (1,000-step trials) in 3 of 4 seeds within
4,000 evaluations where direct evolution on ``r = 0.5`` solved none (the
neuroevolution II tour chapter measures it).
"""

import math
import numbers
from collections.abc import Iterable

import numpy as np

from ..checks import positive_int
from .core import Result, callback_list

__all__ = ["Staged"]


class Staged:
    """Evolve one population on a sequence of tasks of increasing difficulty.

    Parameters
    ----------
    tasks : sequence of callable
        Fitness functions, easiest first, each as the algorithm's ``run``
        expects it (per individual, or vectorised with ``vectorized=True``).
    threshold : float or sequence of float
        Best fitness that completes each task (one value for all, or one per
        task).

    Attributes
    ----------
    task : int
        The task being evolved on (after :meth:`run`: the last one reached).

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> net = rb.nn.Dense(1, 1, rng=0).astype(np.float64)
    >>> tasks = [lambda th, c=c: -np.abs(th - c).sum(axis=1) for c in (0.5, 1.0, 2.0)]
    >>> staged = rb.evolution.Staged(tasks, threshold=-0.1)
    >>> res = staged.run(rb.evolution.CoSyNE(net, population=16, rng=0), 200, vectorized=True)
    >>> res.history["task"][-1], res.stopped
    (2, True)
    """

    def __init__(self, tasks, threshold):
        tasks = list(tasks) if not callable(tasks) else None
        if not tasks:
            raise ValueError("Staged: tasks must be a non-empty sequence of fitness functions")
        for i, t in enumerate(tasks):
            if not callable(t):
                raise TypeError(f"Staged: task {i} must be callable; got {type(t).__name__}")
        threshold = self._thresholds(threshold, len(tasks))
        if len(threshold) != len(tasks):
            raise ValueError(f"Staged: threshold must give one value per task ({len(tasks)}); "
                             f"got {len(threshold)}")
        if any(math.isnan(t) for t in threshold):
            raise ValueError("Staged: threshold must not be NaN")
        self.tasks, self.threshold = tasks, threshold
        self.task = 0

    @staticmethod
    def _thresholds(threshold, n):
        """One float per task from a number (NumPy scalars and 0-d arrays too) or a sequence."""

        def number(t):
            # bools, strings and bytes are not numbers here, though float() takes some of them
            if isinstance(t, (bool, np.bool_, str, bytes)) or not (
                    isinstance(t, numbers.Real) or (isinstance(t, np.ndarray) and t.ndim == 0
                                                    and t.dtype.kind in "iuf")):
                raise TypeError(f"Staged: threshold must be a number or one number per task; "
                                f"got {type(t).__name__}")
            return float(t)

        if (isinstance(threshold, (str, bytes)) or not isinstance(threshold, Iterable)
                or isinstance(threshold, np.ndarray) and threshold.ndim == 0):
            return [number(threshold)] * n
        return [number(t) for t in threshold]

    def run(self, algorithm, generations, callbacks=None, stop=None, **run_kwargs):
        """Evolve ``algorithm`` through the tasks for at most ``generations`` in all.

        Parameters
        ----------
        algorithm : CNE, CoSyNE, ESP, NEAT, ...
            Anything with ``run(fitness, generations, callbacks=..., stop=...,
            **run_kwargs) -> Result`` that keeps its population between calls.
        generations : int
            The budget over all tasks.
        callbacks, stop :
            As for the algorithm's ``run``: ``stop`` firing, or a callback
            returning True, ends the whole run (``stopped`` True), even in a
            generation that reached the task's threshold.
        **run_kwargs
            Passed to every ``algorithm.run`` (``vectorized``, ``executor``, ...).

        Returns
        -------
        Result
            ``best``/``best_fitness``: the best on the last task reached;
            ``history`` concatenates the algorithm's per-generation series and
            adds ``task`` (the task of each generation); ``history["stages"]``
            lists the generation at which each task was completed. ``stopped``
            is True when the last task was completed (or ``stop`` or a
            callback ended the run).
        """
        generations = positive_int("Staged", "generations", generations)
        if not hasattr(algorithm, "run"):
            raise TypeError(f"Staged: algorithm must have a run method; got "
                            f"{type(algorithm).__name__}")
        history, stages = {"task": []}, []
        spent, evaluations, result = 0, 0, None
        self.task = 0
        user_stop = {"fired": False}

        def wrapped_stop(champion):
            if stop is not None and stop(champion):
                user_stop["fired"] = True
                return True
            return False

        user_callbacks = callback_list(callbacks, "Staged.run")

        def wrapped_callbacks(state):  # every one called, as run_loop does; True ends it all
            fired = [bool(c(state)) for c in user_callbacks]
            if any(fired):
                user_stop["fired"] = True
            return any(fired)

        while spent < generations:
            threshold = self.threshold[self.task]
            passed = {"gen": None}

            def reached(state, threshold=threshold, passed=passed):
                if state["fitness"] >= threshold:
                    passed["gen"] = state["generation"]
                    return True
                return False

            result = algorithm.run(self.tasks[self.task], generations - spent,
                                   callbacks=[reached, wrapped_callbacks],
                                   stop=wrapped_stop, **run_kwargs)
            for key, series in result.history.items():
                history.setdefault(key, []).extend(series)
            history["task"].extend([self.task] * result.generations)
            spent += result.generations
            evaluations += result.evaluations  # each algorithm's run counts its own
            # a task whose threshold was reached counts as completed even when the
            # user's stop or a callback ends the run in that same generation
            if passed["gen"] is not None:
                stages.append(spent)
            if result.error is not None or user_stop["fired"] or passed["gen"] is None:
                break  # stopped, failed, or the budget ran out on this task
            if self.task == len(self.tasks) - 1:
                break
            self.task += 1
        history["stages"] = stages
        solved = len(stages) == len(self.tasks)
        return Result(best=result.best, best_fitness=result.best_fitness, generations=spent,
                      evaluations=evaluations, history=history,
                      stopped=solved or user_stop["fired"], error=result.error)

