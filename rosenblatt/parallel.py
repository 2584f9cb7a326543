"""Executors: one protocol for evaluating many independent things on many cores or machines.

Notes: "Neuroevolution" (a population is many independent fitness
evaluations) and "Choosing hyperparameters" (a search is many independent
trials). Everything in the library that evaluates many independent things
(NEAT, CNE and HyperNEAT populations, hyper-parameter trials) takes
``executor=``, any :class:`concurrent.futures.Executor`:

* this machine: :func:`local` (a process pool whose workers use one BLAS
  thread each, so ``n`` workers keep ``n`` cores busy without oversubscribing);
* a Dask cluster: ``distributed.Client("tcp://host:8786").get_executor()``
  (:func:`dask_executor` connects with a timeout and a clear error);
* an MPI job: ``mpi4py.futures.MPIPoolExecutor()`` under
  ``mpirun -n N python -m mpi4py.futures script.py``.

What crosses to a worker is plain data (genomes as JSON text or, a
sub-population at a time, as flat NumPy arrays; weight vectors as lists of
floats, trial parameters as dicts) and a module-level function
named by reference (``functools.partial`` of one is fine); never a pickled
model. Work is sent in chunks (:func:`map_chunks`): one message carries
several individuals, so a message is worth its round trip. Results come back
in order and each item is a pure function of its payload, so they do not
depend on the executor or the number of workers. A Dask cluster re-runs the
tasks of a worker that dies (each result is still collected exactly once);
a process pool whose worker dies is broken and says so.

Examples
--------
>>> import rosenblatt as rb
>>> with rb.parallel.local(2) as pool:
...     rb.parallel.map_chunks(abs, [-1, 2, -3], pool)
[1, 2, 3]
"""

import concurrent.futures
import functools
import multiprocessing
import os
import sys
import threading
import weakref

from .checks import positive_float, positive_int

__all__ = ["DASK_CONFIG", "ExecutorShutdownError", "LocalExecutor", "dask_executor", "local",
           "map_chunks", "submit", "workers"]

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "BLIS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
_limits = None  # the worker's threadpoolctl limit, kept alive for the worker's life

#: Dask settings for clusters that run many short tasks (a NEAT generation is one round of
#: tasks of tens of milliseconds): Dask's own housekeeping sampled every 10-500 ms (the
#: workers' statistical profiler, event-loop ticks, system and memory monitors, work
#: stealing) otherwise costs each worker and the scheduler about 4% of a core, idle or not
#: (measured on a 2-core machine: docs/scale.md). Use ``dask.config.set(DASK_CONFIG)``
#: before starting a ``LocalCluster``, or give the workers and the scheduler the same
#: settings in a Dask YAML file or ``DASK_DISTRIBUTED__...`` environment variables.
DASK_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.scheduler.work-stealing": False,
}


class ExecutorShutdownError(RuntimeError):
    """Work was submitted to an executor that has been shut down (or whose pool is broken,
    or whose Dask client is closed)."""


def _limit_threads(n):
    """Worker initializer: at most ``n`` BLAS/OpenMP threads in this process."""
    global _limits
    for name in _THREAD_VARIABLES:  # for libraries loaded later
        os.environ[name] = str(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the variables above still hold for a spawned worker
        return
    _limits = threadpool_limits(limits=n)


class LocalExecutor(concurrent.futures.ProcessPoolExecutor):
    """A process pool whose workers each use ``blas_threads`` BLAS threads (see :func:`local`)."""

    def __init__(self, n_workers, blas_threads=1, mp_context=None):
        self.n_workers = n_workers
        self.blas_threads = blas_threads
        context = None if mp_context is None else multiprocessing.get_context(mp_context)
        super().__init__(max_workers=n_workers, mp_context=context,
                         initializer=_limit_threads, initargs=(blas_threads,))

    def __repr__(self):
        return f"rb.parallel.local({self.n_workers}, blas_threads={self.blas_threads})"


def local(n_workers=None, *, blas_threads=1, mp_context=None):
    """A process pool on this machine, each worker with ``blas_threads`` BLAS threads.

    Parameters
    ----------
    n_workers : int, optional
        Worker processes; default ``os.cpu_count()``.
    blas_threads : int, default 1
        BLAS (and OpenMP) threads per worker: one, so that ``n_workers`` workers
        use ``n_workers`` cores (DESIGN principle 9).
    mp_context : {"fork", "spawn", "forkserver"}, optional
        How workers start (default: the platform's). With "spawn" or
        "forkserver" the fitness or objective must be importable by name.

    Returns
    -------
    LocalExecutor
        A :class:`concurrent.futures.ProcessPoolExecutor`; use it in a ``with``
        block (or call ``shutdown()``) to stop the workers.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> with rb.parallel.local(2) as pool:
    ...     rb.parallel.workers(pool)
    2
    """
    if n_workers is None:
        n_workers = os.cpu_count() or 1
    n_workers = positive_int("parallel.local", "n_workers", n_workers)
    blas_threads = positive_int("parallel.local", "blas_threads", blas_threads)
    if mp_context is not None and mp_context not in multiprocessing.get_all_start_methods():
        raise ValueError(f"parallel.local: mp_context must be one of "
                         f"{multiprocessing.get_all_start_methods()} or None; got {mp_context!r}")
    return LocalExecutor(n_workers, blas_threads, mp_context)


def workers(executor):
    """How many tasks ``executor`` runs at once (1 for ``None``; at least 1).

    Knows the standard pools and mpi4py's (``_max_workers``, ``num_workers``)
    and Dask's ``ClientExecutor`` (the cluster's worker threads, now).
    """
    if executor is None:
        return 1
    client = getattr(executor, "_client", None)
    if client is not None:  # dask.distributed's ClientExecutor
        try:
            return max(1, sum(client.nthreads().values()))
        except Exception:  # noqa: BLE001 - a cluster that cannot say: assume one
            return 1
    n = getattr(executor, "_max_workers", None) or getattr(executor, "num_workers", None)
    try:
        return max(1, int(n))
    except (TypeError, ValueError):
        return 1


def _shut_down(owner, executor, error):
    return ExecutorShutdownError(
        f"{owner}: the executor {type(executor).__name__} cannot take work: "
        f"{str(error).rstrip('.')}. It was "
        f"shut down (a `with` block ended, or shutdown() was called), its pool broke (a "
        f"worker process died) or its Dask client was closed; create a new one, e.g. "
        f"rb.parallel.local(n_workers), client.get_executor() or "
        f"mpi4py.futures.MPIPoolExecutor()")


def _is_shut_down(error):
    """True for the errors of an executor that takes no more work: the standard pools'
    RuntimeError after shutdown, and Dask's ClosedClientError (which is no RuntimeError)."""
    closed = getattr(sys.modules.get("distributed.client"), "ClosedClientError", None)
    if closed is not None and isinstance(error, closed):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and ("shutdown" in text or "shut down" in text
                                                or "closed" in text)


def submit(executor, fn, *args, owner="parallel"):
    """``executor.submit(fn, *args)``, with a clear :class:`ExecutorShutdownError` when it is
    shut down (a ``TypeError`` when it is not an executor)."""
    if not callable(getattr(executor, "submit", None)):
        raise TypeError(f"{owner}: executor must be a concurrent.futures.Executor (with "
                        f"submit), e.g. rb.parallel.local(n); got {type(executor).__name__}")
    try:
        return executor.submit(fn, *args)
    except concurrent.futures.BrokenExecutor as e:
        raise _shut_down(owner, executor, e) from e
    except Exception as e:
        if _is_shut_down(e):
            raise _shut_down(owner, executor, e) from e
        raise


def _nameless(fn):
    """The first callable in ``fn`` (a function, or a ``functools.partial``'s function and
    arguments, nested) that has no importable name: a lambda or a function defined inside
    another (``"<lambda>"``, ``"outer.<locals>.inner"``); else None. A process pool sends
    functions by name, so it cannot send these (looked at by name: nothing is pickled)."""
    stack = [fn]
    while stack:
        f = stack.pop()
        if isinstance(f, functools.partial):
            stack.extend([*f.keywords.values(), *reversed(f.args), f.func])
        elif callable(f) and "<" in str(getattr(f, "__qualname__", "")):
            return f
    return None


def _is_pickling_error(error):
    """True for an item or function that could not be sent to (or back from) a worker: the
    standard pools re-raise pickle's own error (AttributeError, TypeError, PicklingError)."""
    if type(error).__name__ == "PicklingError":
        return True
    return isinstance(error, (AttributeError, TypeError)) and "pickle" in str(error)


def _unsendable(owner, fn, error):
    culprit = _nameless(fn)
    what = (f"the function {culprit.__qualname__!r}" if culprit is not None
            else "a function or an item")
    return TypeError(
        f"{owner}: {what} cannot be sent to the executor's workers ({type(error).__name__}: "
        f"{error}); a function must be a module-level function (or a functools.partial of "
        f"one with plain-data arguments), not a lambda or a function defined inside "
        f"another, and items plain data")


def _run_chunk(fn, chunk):
    """One task: ``fn`` over a chunk of items (module level: it travels by name)."""
    return [fn(item) for item in chunk]


def _dask_client(executor):
    """The ``distributed.Client`` behind a Dask ``ClientExecutor``, else None."""
    client = getattr(executor, "_client", None)
    if client is None or not type(executor).__module__.startswith("distributed"):
        return None
    if not (callable(getattr(client, "map", None)) and callable(getattr(client, "gather", None))):
        return None
    return client


# The last round of futures of each Dask executor, released only after the next round has
# been submitted: Dask's client batches the messages it sends the scheduler (one message
# per 10 ms at most), so a release sent just before a round's submission would hold the
# submission back by up to 10 ms (docs/scale.md, "Dask's round").
_last_round = weakref.WeakKeyDictionary()


def _dask_map(client, executor, fn, parts, owner):
    """One round on a Dask cluster: every task in one ``client.map`` message (with the
    executor's settings, e.g. ``pure=False``); each result is fetched by the client's event
    loop as soon as its task ends (the executor's own wrapping), read in order."""
    if getattr(executor, "_shutdown", False):
        raise _shut_down(owner, executor, "cannot schedule new futures after shutdown")
    try:
        previous = _last_round.pop(executor, None)
    except TypeError:  # an executor that cannot be weakly referenced
        previous = None
    try:
        futures = client.map(_run_chunk, [fn] * len(parts), parts,
                             **dict(getattr(executor, "_kwargs", None) or {}))
    except Exception as e:
        if _is_shut_down(e):
            raise _shut_down(owner, executor, e) from e
        raise
    try:
        _last_round[executor] = futures
    except TypeError:
        pass
    del previous  # now its release travels behind this round's submission
    wrap = getattr(executor, "_wrap_future", None)  # fetched by the event loop as each ends
    if wrap is not None:
        futures = [wrap(future) for future in futures]
    out = []
    for future in futures:
        out.extend(future.result())
    return out


def map_chunks(fn, items, executor=None, *, chunks=None, owner="parallel"):
    """``[fn(item) for item in items]``, in order, the items sent to ``executor`` in chunks.

    Parameters
    ----------
    fn : callable
        Module-level (or a ``functools.partial`` of one) when an executor is used.
    items : sequence
        Plain data (JSON text, lists, dicts): what crosses to the workers.
    executor : concurrent.futures.Executor, optional
        ``None``: run here, one by one.
    chunks : int, optional
        How many tasks to cut ``items`` into; default four per worker (enough
        to balance uneven work, few enough that each message carries several
        items), at most one per item.
    owner : str
        Named in error messages.

    Returns
    -------
    list
        ``fn(item)`` for every item, in the order of ``items``.

    Notes
    -----
    On a Dask ``ClientExecutor`` a round is one ``client.map`` of all the chunks
    (with the executor's settings, e.g. ``pure=False``): one message to the
    scheduler instead of one per chunk, which Dask's client batches at most
    one per 10 ms. The round's futures are released after the next round is
    submitted, so that the release does not hold that submission back either.

    Raises
    ------
    ExecutorShutdownError
        The executor is shut down, or a process pool broke when a worker died.
    TypeError
        ``executor`` is not an executor, or ``fn`` (a lambda, a function defined
        inside another) or an item cannot be sent to its workers.
    """
    items = list(items)
    if chunks is not None:  # checked serially too: a call that works serially works on a pool
        chunks = positive_int(owner, "chunks", chunks)
    if executor is None or not items:
        return [fn(item) for item in items]
    if chunks is None:
        chunks = 4 * workers(executor)
    chunks = min(chunks, len(items))
    size, extra = divmod(len(items), chunks)
    parts, start = [], 0
    for k in range(chunks):
        stop = start + size + (k < extra)
        parts.append(items[start:stop])
        start = stop
    client = _dask_client(executor)
    if client is not None:
        return _dask_map(client, executor, fn, parts, owner)
    if isinstance(executor, concurrent.futures.ProcessPoolExecutor) and _nameless(fn):
        # the pool would fail to send every task, in its background thread; say so now
        raise _unsendable(owner, fn, TypeError("it has no importable name"))
    futures = [submit(executor, _run_chunk, fn, part, owner=owner) for part in parts]
    out = []
    for future in futures:
        try:
            out.extend(future.result())
        except concurrent.futures.BrokenExecutor as e:
            raise _shut_down(owner, executor, e) from e
        except Exception as e:
            if _is_pickling_error(e):
                raise _unsendable(owner, fn, e) from None
            raise
    return out


def dask_executor(address, *, timeout=10.0):
    """Connect to a running Dask scheduler; returns ``(client, executor)``.

    Parameters
    ----------
    address : str
        The scheduler, e.g. ``"tcp://10.0.0.5:8786"`` (start one with
        ``dask scheduler`` and workers with ``dask worker tcp://host:8786
        --nthreads 1``).
    timeout : float, default 10
        Seconds to wait for the scheduler to answer.

    Raises
    ------
    ImportError
        Dask's ``distributed`` is not installed (``pip install rosenblatt[dask]``).
    ConnectionError
        Nothing answered at ``address`` within ``timeout``.
    """
    timeout = positive_float("dask_executor", "timeout", timeout)
    if not isinstance(address, str) or not address:
        raise TypeError(f"dask_executor: address must be a scheduler address such as "
                        f"'tcp://host:8786'; got {address!r}")
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("dask_executor: Dask's distributed scheduler is not installed; "
                          "pip install 'rosenblatt[dask]' (dask and distributed)") from None
    box = {}

    def connect():
        try:
            box["client"] = Client(address, timeout=timeout, set_as_default=False)
        except Exception as e:  # noqa: BLE001 - reported below, in the caller's thread
            box["error"] = e

    # In a thread, so that the timeout holds even when something that is not a Dask
    # scheduler accepts the connection and never answers (Client's own timeout did not).
    thread = threading.Thread(target=connect, name="rosenblatt-dask-connect", daemon=True)
    thread.start()
    thread.join(timeout + 2.0)
    if "client" in box:
        return box["client"], box["client"].get_executor()
    why = "no answer" if thread.is_alive() else f"{type(box['error']).__name__}: {box['error']}"
    raise ConnectionError(
        f"dask_executor: no Dask scheduler answered at {address} within {timeout:g} s ({why}). "
        f"Start one with `dask scheduler` and workers with `dask worker {address} --nthreads "
        f"1`, or check the address and port")
