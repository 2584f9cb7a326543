"""Run the tour: every chapter, its timing, its claims, and the HTML report.

A chapter that raises is reported as failed, with its traceback, and the tour
goes on. Progress goes to stderr; only :func:`run_tour`'s caller decides what
reaches stdout.
"""

import datetime
import json
import os
import sys
import time
import traceback
import zlib
from dataclasses import dataclass, field

import numpy as np

from .. import randomness
from ..io.atomic import atomic_write, write_bytes_atomic
from ..training import progress as bars
from .context import Context
from .registry import Chapter, discover
from .report import render
from .threads import blas_threads


@dataclass
class ChapterResult:
    """What one chapter produced."""

    chapter: Chapter
    blocks: list = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""

    @property
    def claims(self):
        return [b.payload["claim"] for b in self.blocks if b.kind == "claim"]


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
    """The chapters matching any name of ``only`` (all when ``only`` is empty).

    Raises
    ------
    ValueError
        If a name matches no chapter; the message lists the names.
    """
    if not only:
        return sorted(chapters, key=lambda c: (c.order, c.title))
    chosen = []
    for query in only:  # a name, module or title selects exactly; else words of titles
        hits = [c for c in chapters if c.matches_exactly(query)] or \
            [c for c in chapters if c.matches(query)]
        if not hits:
            names = ", ".join(c.name for c in chapters)
            raise ValueError(f"tour --only: no chapter named {query!r}; the chapters are: {names}")
        chosen.extend(c for c in hits if c not in chosen)
    return sorted(chosen, key=lambda c: (c.order, c.title))


def run_chapter(chapter, quick=False, seed=0, log=None):
    """Run one chapter in its own Context; exceptions become the result's ``error``."""
    log = log if log is not None else sys.stderr
    s = chapter_seed(seed, chapter)
    ctx = Context(quick=quick, rng=np.random.default_rng(s), log=log)
    start = time.perf_counter()
    error = ""
    if chapter.import_error:
        error = chapter.import_error
    else:
        randomness.seed(s)  # chapters that use the library generator are reproducible too
        try:
            with np.errstate(all="ignore"):
                chapter.fn(ctx)
        except Exception:
            error = traceback.format_exc()
    return ChapterResult(chapter, ctx.blocks, time.perf_counter() - start, error)


def run_tour(quick=False, out="rosenblatt-tour", only=None, seed=0, chapters=None, log=None,
             threads=1, progress=True):
    """Run the tour's chapters and write ``report.html`` into ``out``.

    Also written: ``report.json`` (claims and timings, machine-readable) and
    ``figures/<chapter>-<k>.png``.

    Parameters
    ----------
    quick : bool, default False
        Quick mode: every chapter runs in seconds.
    out : str or path, default 'rosenblatt-tour'
        The folder for the report (created if needed). None: write nothing.
    only : list of str, optional
        Run only the chapters with these names (module names, or title words).
    seed : int, default 0
        The tour's seed; each chapter derives its own from it.
    chapters : list of Chapter, optional
        The chapters to consider; default: every chapter of the package.
    log : file, default sys.stderr
        Where progress goes: a line per chapter, and a bar (tqdm) when it is
        a terminal.
    threads : int or None, default 1
        BLAS threads while the chapters run (small matrices: one is fastest);
        None leaves NumPy's setting alone.
    progress : bool, default True
        A bar over the chapters on ``log`` when it is a terminal (False: never).

    Returns
    -------
    TourResult
    """
    log = log if log is not None else sys.stderr
    from .._version import __version__

    chapters = discover() if chapters is None else list(chapters)
    chosen = select(chapters, only)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.perf_counter()
    results = []
    width = len(str(len(chosen)))
    indent = " " * (2 * width + 3)
    with bars.bar(total=len(chosen), desc="tour", stream=log, enabled=progress,
                  unit="chapter") as bar:
        for i, chapter in enumerate(chosen, 1):
            bar.set_description_str(f"tour: {chapter.title}")
            bars.write(f"[{i:>{width}}/{len(chosen)}] {chapter.title} ...", stream=log)
            with blas_threads(threads):
                r = run_chapter(chapter, quick=quick, seed=seed, log=log)
            passed = sum(c.passed for c in r.claims)
            status = "ERROR" if r.error else "ok"
            bars.write(f"{indent}{status}: {passed}/{len(r.claims)} claims confirmed "
                       f"({r.seconds:.1f} s)", stream=log)
            if r.error:
                bars.write(f"{indent}{r.error.strip().splitlines()[-1]}", stream=log)
            results.append(r)
            bar.update(1)
        bar.set_description_str("tour", refresh=False)
    tour = TourResult(results, quick=quick, seed=seed, seconds=time.perf_counter() - t0,
                      started=started, version=__version__,
                      environment=environment(threads))
    if out is not None:
        os.makedirs(out, exist_ok=True)
        path = os.path.join(out, "report.html")
        _write_text(path, render(tour))
        _write_text(os.path.join(out, "report.json"), json.dumps(tour.to_json(), indent=2))
        _write_figures(out, tour)
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


def _write_figures(out, tour):
    """Each figure also as a PNG file, figures/<chapter>-<k>.png (for slides and docs)."""
    folder = os.path.join(out, "figures")
    os.makedirs(folder, exist_ok=True)
    for r in tour.results:
        for b in r.blocks:
            if b.kind == "figure":
                path = os.path.join(folder, f"{r.chapter.name}-{b.payload['index']}.png")
                write_bytes_atomic(path, b.payload["png"])


def _write_text(path, text):
    """Reports are written atomically (temp file, fsync, rename): never half a report."""
    with atomic_write(path, "w") as f:
        f.write(text)
