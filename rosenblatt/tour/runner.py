"""Run the tour: every chapter, its timing, its claims, and the HTML report.

A chapter that raises is reported as failed, with its traceback, and the tour
goes on. Progress goes to stderr; only :func:`run_tour`'s caller decides what
reaches stdout.

The chapters are independent (each has its own seed and Context), so
``run_tour(executor=...)`` runs them in parallel: a chapter crosses to a
worker as plain data (its module and name, :func:`chapter_task`), the worker
runs it (:func:`run_named_chapter`) and sends back a JSON-able dict (figures
as base64 PNG), and the results are reported in the tour's order, the same as
a serial run's but for the timings.
"""

import base64
import concurrent.futures
import datetime
import importlib
import io
import json
import os
import re
import sys
import time
import traceback
import zlib
from dataclasses import dataclass, field

import numpy as np

from .. import randomness
from ..io.atomic import atomic_write, write_bytes_atomic
from ..parallel import submit, workers
from ..training import progress as bars
from .context import Block, Claim, Context
from .registry import Chapter, discover, registered
from .report import render
from .threads import blas_threads


@dataclass
class ChapterResult:
    """What one chapter produced."""

    chapter: Chapter
    blocks: list = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""
    error_summary: str = ""

    @property
    def claims(self):
        return [b.payload["claim"] for b in self.blocks if b.kind == "claim"]

    @property
    def error_line(self):
        """The error in one line: the exception's type and the first line of its message
        (a traceback's last line can be a message's continuation or a note)."""
        if self.error_summary:
            return self.error_summary
        return self.error.strip().splitlines()[-1] if self.error.strip() else ""


@dataclass
class TourResult:
    """All chapters' results, and where the report was written."""

    results: list
    quick: bool
    seed: int
    seconds: float
    started: str
    version: str
    path: str = ""
    environment: dict = field(default_factory=dict)

    def summary(self):
        """Counts of chapters and claims, as a dict."""
        claims = [c for r in self.results for c in r.claims]
        return {
            "chapters": len(self.results),
            "chapters_failed": sum(bool(r.error) for r in self.results),
            "claims": len(claims),
            "claims_passed": sum(c.passed for c in claims),
            "claims_failed": sum(not c.passed for c in claims),
            "seconds": self.seconds,
        }

    @property
    def ok(self):
        """No chapter raised and every claim was confirmed."""
        s = self.summary()
        return s["chapters_failed"] == 0 and s["claims_failed"] == 0

    def to_json(self):
        """A machine-readable summary: per chapter, its time, error and claims."""
        return {
            "summary": self.summary(),
            "quick": self.quick,
            "seed": self.seed,
            "version": self.version,
            "environment": self.environment,
            "chapters": [
                {
                    "name": r.chapter.name,
                    "title": r.chapter.title,
                    "section": r.chapter.section,
                    "seconds": round(r.seconds, 3),
                    "error": r.error,
                    "claims": [
                        {"text": c.text, "passed": c.passed, "detail": c.detail} for c in r.claims
                    ],
                }
                for r in self.results
            ],
        }


def chapter_seed(seed, chapter):
    """A per-chapter seed: stable across runs, independent of which chapters are selected."""
    return (int(seed) * 1_000_003 + zlib.crc32(chapter.name.encode())) % (2**32)


def select(chapters, only):
    """The chapters matching any name of ``only`` (all when ``only`` is empty; one name may be
    given as a string).

    Raises
    ------
    ValueError
        If a name matches no chapter; the message lists the names.
    """
    if not only:
        return sorted(chapters, key=lambda c: (c.order, c.title))
    if isinstance(only, str):  # one name, not its letters
        only = [only]
    chosen = []
    for query in only:  # a name, module or title selects exactly; else words of titles
        hits = [c for c in chapters if c.matches_exactly(query)] or \
            [c for c in chapters if c.matches(query)]
        if not hits:
            names = ", ".join(c.name for c in chapters)
            raise ValueError(f"tour --only: no chapter named {query!r}; the chapters are: {names}")
        chosen.extend(c for c in hits if c not in chosen)
    return sorted(chosen, key=lambda c: (c.order, c.title))


def exception_summary(exc):
    """``"ValueError: first line of the message"``: an exception in one line."""
    lines = traceback.format_exception_only(type(exc), exc)
    text = "".join(lines).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run_chapter(chapter, quick=False, seed=0, log=None):
    """Run one chapter in its own Context; exceptions become the result's ``error``.

    Code that draws from the library generator (``rng=None``) inside the chapter draws from
    one seeded by the chapter's seed, for this thread only (:func:`rosenblatt.randomness.using`):
    the caller's ``rb.seed`` stream is left where it was, and chapters run on threads of one
    process cannot draw from each other's.
    """
    log = log if log is not None else sys.stderr
    s = chapter_seed(seed, chapter)
    ctx = Context(quick=quick, rng=np.random.default_rng(s), log=log, seed=seed)
    start = time.perf_counter()
    error = summary = ""
    if chapter.import_error:
        error = chapter.import_error
    else:
        try:
            with randomness.using(np.random.default_rng(s)), np.errstate(all="ignore"):
                chapter.fn(ctx)
        except Exception as e:
            error, summary = traceback.format_exc(), exception_summary(e)
    return ChapterResult(chapter, ctx.blocks, time.perf_counter() - start, error, summary)


def chapter_task(chapter):
    """What names ``chapter`` to a worker: ``{"module": ..., "name": ...}`` (plain data)."""
    return {"module": getattr(chapter.fn, "__module__", "") or "", "name": chapter.name}


def result_to_json(result, log_text=""):
    """A :class:`ChapterResult` as a JSON-able dict (figures' PNG bytes as base64 text)."""
    blocks = []
    for b in result.blocks:
        payload = dict(b.payload)
        if b.kind == "claim":
            c = payload["claim"]
            payload["claim"] = {"text": c.text, "passed": c.passed, "detail": c.detail}
        elif b.kind == "figure":
            payload["png"] = base64.b64encode(payload["png"]).decode("ascii")
            payload["notes"] = list(payload.get("notes", ()))
        blocks.append({"kind": b.kind, "payload": payload})
    return {"name": result.chapter.name, "seconds": result.seconds, "error": result.error,
            "error_summary": result.error_summary, "blocks": blocks, "log": log_text}


def result_from_json(chapter, data):
    """The :class:`ChapterResult` of ``chapter`` from :func:`result_to_json`'s dict."""
    blocks = []
    for b in data["blocks"]:
        payload = dict(b["payload"])
        if b["kind"] == "claim":
            payload["claim"] = Claim(**payload["claim"])
        elif b["kind"] == "figure":
            payload["png"] = base64.b64decode(payload["png"])
            payload["notes"] = tuple(payload.get("notes", ()))
        blocks.append(Block(b["kind"], payload))
    return ChapterResult(chapter, blocks, float(data["seconds"]), data["error"],
                         data.get("error_summary", ""))


def run_named_chapter(task, quick=False, seed=0, threads=1):
    """Worker side: import the chapter named by ``task`` (:func:`chapter_task`), run it with
    ``threads`` BLAS threads, return :func:`result_to_json`'s dict (its log lines inside)."""
    start = time.perf_counter()
    try:
        importlib.import_module(task["module"])
        found = [c for c in registered() if c.name == task["name"]
                 and (getattr(c.fn, "__module__", "") or "") == task["module"]]
        if not found:
            raise LookupError(f"tour: no chapter {task['name']!r} in module {task['module']!r} "
                              f"in this worker")
    except Exception as e:
        missing = Chapter(title=task["name"], section="", order=0, fn=None, name=task["name"])
        return result_to_json(ChapterResult(missing, [], time.perf_counter() - start,
                                            traceback.format_exc(), exception_summary(e)))
    log = io.StringIO()
    with blas_threads(threads):
        r = run_chapter(found[0], quick=quick, seed=seed, log=log)
    return result_to_json(r, log.getvalue())


def in_a_worker(chapter):
    """Can a worker process find ``chapter`` by its module and name? Only a chapter registered
    with ``@chapter`` in an importable module (not ``__main__``, which a spawned worker does
    not run, and not a ``Chapter(...)`` built by hand)."""
    task = chapter_task(chapter)
    if not task["module"] or task["module"] == "__main__":
        return False
    return any(c.name == chapter.name and c.fn is chapter.fn for c in registered())


def _results(chosen, quick, seed, threads, log, executor):
    """Yield each chapter's result in the tour's order (run here, or through ``executor``;
    a chapter a worker could not find by name runs here, as a serial run would)."""
    if executor is None:
        for chapter in chosen:
            with blas_threads(threads):
                yield run_chapter(chapter, quick=quick, seed=seed, log=log)
        return
    futures = [None if c.import_error or not in_a_worker(c) else
               submit(executor, run_named_chapter, chapter_task(c), quick, seed, threads,
                      owner="run_tour") for c in chosen]
    for chapter, future in zip(chosen, futures):
        if future is None:
            with blas_threads(threads):
                yield run_chapter(chapter, quick=quick, seed=seed, log=log)
            continue
        try:
            data = future.result()
        except concurrent.futures.BrokenExecutor:
            raise
        except Exception as e:  # noqa: BLE001 - the executor failed this chapter: report it
            yield ChapterResult(chapter, [], 0.0, traceback.format_exc(), exception_summary(e))
            continue
        if data["log"]:
            log.write(data["log"])
        yield result_from_json(chapter, data)


def run_tour(quick=False, out="rosenblatt-tour", only=None, seed=0, chapters=None, log=None,
             threads=1, progress=True, executor=None):
    """Run the tour's chapters and write ``report.html`` into ``out``.

    Also written: ``report.json`` (claims and timings, machine-readable) and
    ``figures/<chapter>-<k>.png``.

    Parameters
    ----------
    quick : bool, default False
        Quick mode: every chapter runs in seconds.
    out : str or path, default 'rosenblatt-tour'
        The folder for the report (created if needed). None: write nothing.
    only : list of str or str, optional
        Run only the chapters with these names (module names, or title words); a single
        string is one name.
    seed : int, default 0
        The tour's seed; each chapter derives its own from it.
    chapters : list of Chapter, optional
        The chapters to consider; default: every chapter of the package.
    log : file, default sys.stderr
        Where progress goes: a line per chapter, and a bar (tqdm) when it is
        a terminal.
    threads : int or None, default 1
        BLAS threads while the chapters run, a positive integer (small matrices: one is
        fastest); None leaves NumPy's setting alone.
    progress : bool, default True
        A bar over the chapters on ``log`` when it is a terminal (False: never).
    executor : concurrent.futures.Executor, optional
        Run the chapters through it (e.g. ``rb.parallel.local(n)``, whose
        workers use one BLAS thread each); each chapter is named to a worker
        by module and name and comes back as a JSON-able dict. Results are
        reported in the tour's order and equal a serial run's (timings aside),
        a thread pool's too (each chapter's library generator is its thread's
        own). A chapter a worker cannot import by name (built with
        ``Chapter(...)``, or defined in ``__main__``) runs here. BLAS thread
        limits are per process: with a thread pool, ``threads`` is shared by
        the chapters running at once (prefer a process pool).

    Returns
    -------
    TourResult
    """
    log = log if log is not None else sys.stderr
    from .._version import __version__

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
            or not 0 <= seed < 2**32:  # chapter seeds are taken modulo 2^32
        raise ValueError(f"run_tour: seed must be an integer in [0, 2^32); got {seed!r}")
    if threads is not None and (isinstance(threads, bool)
                                or not isinstance(threads, (int, np.integer)) or threads < 1):
        raise ValueError(f"run_tour: threads must be a positive integer or None (NumPy's "
                         f"default); got {threads!r}")
    chapters = discover() if chapters is None else list(chapters)
    chosen = select(chapters, only)
    if out is not None:  # a folder it cannot write in is found now, not after every chapter
        _writable_folder(out)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.perf_counter()
    results = []
    width = len(str(len(chosen)))
    indent = " " * (2 * width + 3)
    with bars.bar(total=len(chosen), desc="tour", stream=log, enabled=progress,
                  unit="chapter") as bar:
        done = _results(chosen, quick, seed, threads, log, executor)
        for i, chapter in enumerate(chosen, 1):
            bar.set_description_str(f"tour: {chapter.title}")
            bars.write(f"[{i:>{width}}/{len(chosen)}] {chapter.title} ...", stream=log)
            r = next(done)
            passed = sum(c.passed for c in r.claims)
            status = "ERROR" if r.error else "ok"
            bars.write(f"{indent}{status}: {passed}/{len(r.claims)} claims confirmed "
                       f"({r.seconds:.1f} s)", stream=log)
            if r.error:
                bars.write(f"{indent}{r.error_line}", stream=log)
            results.append(r)
            bar.update(1)
        bar.set_description_str("tour", refresh=False)
    tour = TourResult(results, quick=quick, seed=seed, seconds=time.perf_counter() - t0,
                      started=started, version=__version__,
                      environment=environment(threads))
    if executor is not None:
        tour.environment["workers"] = workers(executor)
    if out is not None:
        os.makedirs(out, exist_ok=True)
        earlier = _earlier_figures(out)  # before report.json is replaced
        path = os.path.join(out, "report.html")
        _write_text(path, render(tour))
        report = tour.to_json()
        report["figures"] = sorted(_figure_names(tour))
        _write_text(os.path.join(out, "report.json"), json.dumps(report, indent=2))
        _write_figures(out, tour, earlier)
        tour.path = os.path.abspath(path)
    return tour


def environment(threads=None):
    """Where the tour ran: Python, NumPy, platform, CPUs and BLAS threads used."""
    import platform

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(terse=True),
        "cpus": os.cpu_count(),
        "blas_threads": threads if threads else "NumPy default",
    }


def _writable_folder(out):
    """Create ``out`` and write a probe file in it; ValueError naming ``out`` if it cannot."""
    folder = os.path.abspath(os.fspath(out))
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValueError(f"run_tour: out must be a folder; {os.fspath(out)!r} is a file")
    for name, want_dir in (("report.html", False), ("report.json", False), ("figures", True)):
        path = os.path.join(folder, name)  # where the report goes must be free for it
        if os.path.exists(path) and os.path.isdir(path) != want_dir:
            kind = "a folder" if want_dir else "a file"
            raise ValueError(f"run_tour: {path} must be {kind} (the report writes it there); "
                             f"move it away or choose another out")
    probe = os.path.join(folder, f".rosenblatt-write-test.{os.getpid()}")
    try:
        os.makedirs(folder, exist_ok=True)
        with open(probe, "wb") as f:
            f.write(b"x")
        os.unlink(probe)
    except OSError as e:
        raise ValueError(f"run_tour: cannot write the report in out={os.fspath(out)!r}: "
                         f"{e.strerror or e}") from None


def _figure_names(tour):
    """The file names of the tour's figures, figures/<chapter>-<k>.png."""
    return {f"{r.chapter.name}-{b.payload['index']}.png"
            for r in tour.results for b in r.blocks if b.kind == "figure"}


def _earlier_figures(out):
    """The figure files an earlier tour wrote in ``out``, by its report.json: its "figures"
    list, or (older reports) ``<chapter>-<k>.png`` for the chapters it lists. Nothing when
    there is no readable report.json: the files in figures/ are then not the tour's."""
    try:
        with open(os.path.join(out, "report.json"), encoding="utf-8") as f:
            report = json.load(f)
        if "figures" in report:
            return {str(n) for n in report["figures"]}
        names = {str(c["name"]) for c in report.get("chapters", [])}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return set()
    folder = os.path.join(out, "figures")
    files = os.listdir(folder) if os.path.isdir(folder) else []
    return {f for f in files if (m := re.fullmatch(r"(.+)-\d+\.png", f)) and m[1] in names}


def _write_figures(out, tour, earlier=()):
    """Each figure also as a PNG file, figures/<chapter>-<k>.png (for slides and docs).

    Of the files already there, only those an earlier tour wrote (``earlier``, from its
    report.json) and this one did not are removed: any other file is the user's."""
    folder = os.path.join(out, "figures")
    os.makedirs(folder, exist_ok=True)
    written = set()
    for r in tour.results:
        for b in r.blocks:
            if b.kind == "figure":
                name = f"{r.chapter.name}-{b.payload['index']}.png"
                write_bytes_atomic(os.path.join(folder, name), b.payload["png"])
                written.add(name)
    for name in set(earlier) - written:  # an earlier tour's figures the report no longer has
        path = os.path.join(folder, os.path.basename(name))
        if os.path.isfile(path):
            os.unlink(path)


def _write_text(path, text):
    """Reports are written atomically (temp file, fsync, rename): never half a report."""
    with atomic_write(path, "w") as f:
        f.write(text)
