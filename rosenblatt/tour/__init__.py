"""The tour: the notes' claims as experiments, gathered into one HTML report.

Write a chapter in ``rosenblatt/tour/chapters/<topic>.py``::

    from rosenblatt.tour import chapter

    @chapter("Convolutional networks", section="Convolutional Neural Networks (CNNs)")
    def run(ctx):
        ctx.text("...")                       # Markdown subset
        ctx.table(["a", "b"], [[1, 2.5]])
        with ctx.figure("caption") as fig:    # a matplotlib Figure (Agg)
            ax = fig.add_subplot()
        ctx.claim("what the notes say", passed, "the numbers")

The section, one of the notes' headings listed in order in
``rosenblatt/tour/sections.py``, decides where the chapter runs: the tour
follows the notes.

Run it with ``rosenblatt tour [--quick] [--out DIR] [--only NAME ...]``.
"""

from .context import Claim, Context
from .registry import Chapter, chapter, discover
from .runner import ChapterResult, TourResult, run_chapter, run_tour

__all__ = [
    "Chapter", "ChapterResult", "Claim", "Context", "TourResult", "chapter", "discover",
    "run_chapter", "run_tour",
]
