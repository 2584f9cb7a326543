"""What a tour chapter writes into: text, tables, figures and claims.

A chapter receives one :class:`Context`. Everything it records becomes a
block of the HTML report, in the order recorded. Claims are the point of the
tour: each states a sentence of the notes and whether this run confirmed it.
"""

import io
import math
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Claim:
    """A sentence of the notes and whether the experiment confirmed it."""

    text: str
    passed: bool
    detail: str = ""


@dataclass
class Block:
    """One item of a chapter's report: kind is 'text', 'table', 'figure' or 'claim'."""

    kind: str
    payload: dict = field(default_factory=dict)


class Context:
    """The handle a chapter uses to report.

    Attributes
    ----------
    quick : bool
        Quick mode: the chapter must finish in a few seconds (smaller data,
        fewer epochs); claims should still be real.
    rng : numpy.random.Generator
        The chapter's own generator, seeded from the tour seed and the chapter.
    seed : int
        The tour seed (``rosenblatt tour --seed``); see :meth:`run_seed`.
    blocks : list of Block
        What has been recorded, in order.

    Examples
    --------
    >>> import numpy as np
    >>> ctx = Context(quick=True, rng=np.random.default_rng(0))
    >>> ctx.text("The *sigmoid* squashes.")
    >>> ctx.table(["x", "sigmoid(x)"], [[0, 0.5]])
    >>> ctx.claim("sigmoid(0) = 1/2", True, "exact")
    True
    >>> [b.kind for b in ctx.blocks], ctx.claims[0].passed
    (['text', 'table', 'claim'], True)
    """

    def __init__(self, quick=False, rng=None, log=None, figure_dpi=90, seed=0):
        self.quick = bool(quick)
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.seed = int(seed)
        self.blocks = []
        self._log = log if log is not None else sys.stderr
        self._dpi = figure_dpi
        self._figures = 0

    def run_seed(self, k):
        """The seed of a chapter's ``k``-th seeded run (``0 <= k < 1000``).

        ``k`` itself at tour seed 0: the runs whose figures the chapter and
        ``benchmarks/`` quote; ``k + 1000 * seed`` at another tour seed, so
        each ``--seed`` repeats the experiment on runs of its own.

        Examples
        --------
        >>> Context(seed=0).run_seed(7), Context(seed=2).run_seed(7)
        (7, 2007)
        """
        if not 0 <= k < 1000:
            raise ValueError(f"ctx.run_seed: k must be in [0, 1000); got {k}")
        return int(k) + 1000 * self.seed

    # -- recording ------------------------------------------------------------
    def text(self, markdown):
        """Add a paragraph in a small Markdown subset: **bold**, *italic*, `code`, '#'
        headings, '-' and '1.' lists, [text](url) links. There is no math markup (the report
        has no JavaScript): write formulas in Unicode (σ², ∂E/∂w) or as `code`."""
        if not isinstance(markdown, str):
            raise TypeError(f"ctx.text: expected a string; got {type(markdown).__name__}")
        self.blocks.append(Block("text", {"markdown": markdown}))

    def table(self, header, rows, caption=""):
        """Add a table; numbers are formatted compactly (4 significant digits)."""
        header = [str(h) for h in header]
        rows = [list(r) for r in rows]
        for i, row in enumerate(rows):
            if len(row) != len(header):
                raise ValueError(
                    f"ctx.table: row {i} has {len(row)} cells but the header has {len(header)}"
                )
        cells = [[format_cell(c) for c in row] for row in rows]
        self.blocks.append(Block("table", {"header": header, "rows": cells, "caption": caption}))

    @contextmanager
    def figure(self, caption, size=(7.0, 3.6), notes=()):
        """A matplotlib Figure (Agg, headless), saved as PNG into the report on exit.

        Use ``fig.add_subplot`` / ``fig.subplots`` on it (no pyplot state).
        ``notes``: the caption(s) of the notes' lost figure(s) this one redraws
        (:mod:`rosenblatt.tour.captions`); the report prints them first.
        """
        from .captions import check

        notes = check(notes)
        fig = new_figure(size)
        try:
            yield fig
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=self._dpi, bbox_inches="tight")
        finally:
            fig.clear()
        self._figures += 1
        self.blocks.append(
            Block("figure", {"caption": str(caption), "png": buf.getvalue(),
                             "index": self._figures, "notes": notes})
        )

    def claim(self, text, passed, detail=""):
        """Record a claim of the notes and whether this run confirmed it; returns ``passed``."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"ctx.claim: text must be a non-empty string; got {text!r}")
        passed = bool(passed)
        c = Claim(text=text, passed=passed, detail=str(detail))
        self.blocks.append(Block("claim", {"claim": c}))
        return passed

    def log(self, message):
        """A progress line on stderr (stdout stays clean; progress bars stay intact)."""
        from ..training.progress import write

        write(f"      {message}", stream=self._log)

    def progress(self, iterable, desc="", total=None):
        """Iterate through a progress bar on stderr (tqdm; only drawn on a terminal)."""
        return progress(iterable, desc=desc, total=total, stream=self._log)

    # -- reading --------------------------------------------------------------
    @property
    def claims(self):
        """The claims recorded so far."""
        return [b.payload["claim"] for b in self.blocks if b.kind == "claim"]


def format_cell(value):
    """A table cell as text: floats with 4 significant digits, others with str."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v) or math.isinf(v):
            return str(v)
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
            return f"{v:.3e}"
        return f"{v:.4g}"
    return str(value)


def new_figure(size=(7.0, 3.6)):
    """A matplotlib Figure on the Agg canvas, independent of pyplot's global state."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "figures (the tour's, learning curves) need matplotlib: pip install 'rosenblatt[plot]'"
        ) from e
    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig


def progress(iterable, desc="", total=None, stream=None, enabled=True):
    """Iterate over ``iterable`` through a tqdm bar ``desc [#####.....] i/n`` on ``stream``.

    Drawn only on a terminal (or in a notebook).
    """
    from ..training import progress as bars

    return bars.bar(iterable, total=total, desc=desc, stream=stream, enabled=enabled)
