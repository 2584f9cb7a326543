"""``rosenblatt tour``: run the executable notes and write the HTML report.

``--workers N`` (or ``--scheduler ADDRESS``) runs the independent chapters in
parallel, each worker with one BLAS thread; the report lists them in the
notes' order with the same claims as a serial run.
"""

import sys

from .errors import CLIError
from .executors import add_options as add_executor_options, executor_for
from .train import _Output


def add_parser(sub):
    p = sub.add_parser(
        "tour",
        help="run the notes' claims as experiments; write an HTML report",
        description="Run the tour's chapters (progress on stderr) and write one self-contained "
        "HTML report with figures and a pass/fail mark per claim.",
    )
    p.add_argument("--quick", action="store_true", help="small budgets: the whole tour in ~2 min")
    p.add_argument("--out", default="rosenblatt-tour", metavar="DIR",
                   help="folder for report.html and report.json (default: ./rosenblatt-tour)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these chapters")
    p.add_argument("--seed", type=int, default=0, help="the tour's seed (default 0)")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="BLAS threads (default 1: fastest for the tour's small matrices; "
                   "0 = NumPy's default)")
    add_executor_options(p, "run the chapters")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--list", action="store_true", help="list the chapters and exit")
    p.add_argument("--strict", action="store_true",
                   help="exit with status 1 if a claim is not confirmed or a chapter fails")
    p.set_defaults(func=run)
    return p


def run(args):
    from ..tour import discover, run_tour
    from ..tour.runner import select

    chapters = discover()
    if args.list:
        for c in chapters:
            print(f"{c.name:24s} {c.title}  [{c.section}]")
        return 0
    try:
        import matplotlib  # noqa: F401  (every chapter draws figures: fail before running any)
    except ImportError:
        raise CLIError("the tour's figures need matplotlib: pip install 'rosenblatt[plot]'") \
            from None
    if args.threads < 0:
        raise CLIError(f"--threads must be >= 0 (0: NumPy's default); got {args.threads}")
    if not 0 <= args.seed < 2**32:  # chapter seeds are taken modulo 2^32
        raise CLIError(f"--seed must be in [0, {2**32 - 1}]; got {args.seed}")
    try:
        select(chapters, args.only)  # a name that matches nothing: before any folder is made
    except ValueError as e:
        raise CLIError(str(e)) from None
    output = _Output(args.out)
    output.make(args.out, "option --out")  # before any chapter runs
    try:
        with executor_for(args, "tour") as executor:
            tour = run_tour(quick=args.quick, out=args.out, only=args.only, seed=args.seed,
                            chapters=chapters, log=sys.stderr,
                            threads=args.threads or None, progress=not args.quiet,
                            executor=executor)
    except ValueError as e:
        output.discard()
        raise CLIError(str(e)) from e
    except BaseException:  # a refused executor, Ctrl-C: leave no empty folder behind
        output.discard()
        raise
    s = tour.summary()
    print(f"report: {tour.path}")
    print(f"claims: {s['claims_passed']} confirmed, {s['claims_failed']} not confirmed "
          f"(of {s['claims']}); chapters: {s['chapters']} run, {s['chapters_failed']} with "
          f"errors; {s['seconds']:.1f} s")
    for r in tour.results:
        for c in r.claims:
            if not c.passed:
                print(f"  not confirmed [{r.chapter.name}]: {c.text} ({c.detail})")
        if r.error:
            print(f"  error [{r.chapter.name}]: {r.error_line}")
    if args.strict and not tour.ok:
        return 1
    return 0
