"""The commands' ``--workers N`` / ``--scheduler ADDRESS`` options: one executor for a run.

``rosenblatt evolve``, ``tune`` and ``tour`` evaluate many independent things
(genomes, weight vectors, trials, chapters); these options hand them to
:func:`rosenblatt.parallel.local` (a process pool on this machine, one BLAS
thread per worker) or to a running Dask cluster
(:func:`rosenblatt.parallel.dask_executor`). Results do not depend on which.
"""

import contextlib

from .errors import CLIError


def add_options(parser, what, note=None):
    """Add ``--workers``, ``--scheduler`` and ``--scheduler-timeout`` to ``parser``
    (``note``: what the command adds to ``--workers``' help)."""
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help=f"{what} in N worker processes on this machine (one BLAS thread "
                        f"each){'; ' + note if note else ''}; the results are those of a "
                        f"serial run")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help=f"{what} on a running Dask cluster, e.g. tcp://host:8786")
    parser.add_argument("--scheduler-timeout", type=float, default=10.0, metavar="S",
                        help="seconds to wait for the scheduler to answer (default 10)")


@contextlib.contextmanager
def executor_for(args, command):
    """The executor that ``args`` ask for (None: serial), shut down when the block ends."""
    import rosenblatt as rb

    workers = getattr(args, "workers", None)
    scheduler = getattr(args, "scheduler", None)
    if scheduler is not None and not (isinstance(scheduler, str) and scheduler.strip()):
        # e.g. --scheduler "$DASK_ADDRESS" with the variable unset: not a serial run
        raise CLIError(f"{command}: --scheduler needs an address such as tcp://host:8786; "
                       f"got {scheduler!r}")
    if workers is not None and scheduler is not None:
        raise CLIError(f"{command}: give --workers N (this machine) or --scheduler ADDRESS "
                       f"(a Dask cluster), not both")
    if workers is not None and workers < 1:
        raise CLIError(f"{command}: --workers must be a positive integer; got {workers}")
    if scheduler is not None:
        try:
            client, executor = rb.parallel.dask_executor(scheduler,
                                                         timeout=args.scheduler_timeout)
        except (ImportError, ConnectionError, TypeError, ValueError) as e:
            raise CLIError(str(e)) from None
        try:
            yield executor
        except rb.parallel.ExecutorShutdownError as e:
            raise CLIError(str(e)) from None
        except RuntimeError as e:
            if "deserializ" not in str(e):
                raise
            raise CLIError(f"{command}: the Dask cluster at {scheduler} could not run a task "
                           f"({str(e).splitlines()[0]}); the scheduler and every worker need "
                           f"the same rosenblatt as this command (start them from the same "
                           f"environment)") from None
        finally:
            client.close()
    elif workers is not None and workers > 1:
        with rb.parallel.local(workers) as pool:
            try:
                yield pool
            except rb.parallel.ExecutorShutdownError as e:  # a worker process died
                raise CLIError(str(e)) from None
    else:
        yield None
