"""The tour as a book: every figure of the notes' first half redrawn, captioned and numbered;
contents by the notes' sections; the chapters of issue 22 confirm their claims in quick mode."""

import io
import os
import re
from html.parser import HTMLParser

import pytest

from rosenblatt.tour import captions, discover, run_tour
from rosenblatt.tour.context import Context
from rosenblatt.tour.report import render

NEW = ["neurons", "details", "statistical", "gains", "training_tips", "overfitting",
       "constraints", "unstable", "cnn_parts", "rnn_parts"]
# The chapters that redraw the notes' first-half figures (with those of NEW).
REDRAW = NEW + ["perceptron", "activations", "adversarial", "regularization", "dropout", "cnn",
                "modular"]  # (modular: the second half's three figures)

_BESIDE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "notes",
                       "neural-nets.txt")
NOTES = os.environ.get("ROSENBLATT_NOTES", os.path.normpath(_BESIDE))


class _Figures(HTMLParser):
    """Collects each <figure>: its data-notes captions, whether it has an image, its caption."""

    def __init__(self):
        super().__init__()
        self.figures, self.toc_sections, self._in_caption = [], [], False
        self._in_sec = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure":
            notes = attrs.get("data-notes", "")
            self.figures.append({"notes": notes.split("|") if notes else [], "img": False,
                                 "caption": "", "id": attrs.get("id", "")})
        elif tag == "img" and self.figures:
            self.figures[-1]["img"] = attrs.get("src", "").startswith("data:image/png;base64,")
        elif tag == "figcaption":
            self._in_caption = True
        elif tag == "tr" and attrs.get("class") == "sec":
            self._in_sec = True

    def handle_endtag(self, tag):
        if tag == "figcaption":
            self._in_caption = False
        elif tag == "tr":
            self._in_sec = False

    def handle_data(self, data):
        if self._in_caption:
            self.figures[-1]["caption"] += data
        if self._in_sec and data.strip():
            self.toc_sections.append(data.strip())


@pytest.fixture(scope="module")
def quick_tour(tmp_path_factory):
    out = tmp_path_factory.mktemp("tour")
    return run_tour(quick=True, out=out, only=REDRAW, log=io.StringIO(), progress=False)


@pytest.mark.slow
def test_every_caption_of_the_first_half_has_a_figure(quick_tour):
    with open(quick_tour.path, encoding="utf-8") as f:
        page = f.read()
    parser = _Figures()
    parser.feed(page)
    drawn = {n for fig in parser.figures for n in fig["notes"] if fig["img"]}
    missing = [c for c in captions.ALL if c not in drawn]
    assert not missing, f"captions of the notes without a figure: {missing}"
    for fig in parser.figures:
        assert fig["img"] and re.match(r"Figure \d+\.\d+\. ", fig["caption"]), fig
        for name in fig["notes"]:  # the notes' caption comes first, verbatim
            assert name in fig["caption"]
    # The closing note lists every caption and where it is drawn.
    closing = page[page.index('id="notes-figures"'):]
    for name in captions.ALL:
        assert name.replace("'", "&#x27;") in closing or name in closing
    # Contents by the notes' sections, in the notes' order.
    from rosenblatt.tour.sections import rank
    ranks = [rank(s) for s in parser.toc_sections if rank(s) is not None]
    assert ranks == sorted(ranks) and len(ranks) >= 20
    assert "<script" not in page and "http://" not in page.split("</style>")[0]


@pytest.mark.slow
def test_the_new_chapters_confirm_every_claim_in_quick_mode(quick_tour):
    results = [r for r in quick_tour.results if r.chapter.module in NEW]
    assert {r.chapter.module for r in results} == set(NEW)
    errors = {r.chapter.name: r.error for r in results if r.error}
    assert not errors
    failed = [(r.chapter.name, c.text, c.detail) for r in results for c in r.claims
              if not c.passed]
    assert not failed
    assert all(r.claims for r in results)


@pytest.mark.skipif(not os.path.exists(NOTES), reason="the notes are not on this machine")
def test_the_caption_list_is_the_notes_figures():
    with open(NOTES, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    doubled = [a for a, b in zip(lines, lines[1:]) if a and a == b]
    found = [re.sub(r" source$", "", c) for c in doubled if not re.fullmatch(r"[ox]+", c)]
    listed = [c for c in captions.ALL if c != "The exploding-gradient cost cliff"]
    assert found == listed
    half = lines.index("Unsupervised neural networks")
    first = [re.sub(r" source$", "", a) for i, (a, b) in enumerate(zip(lines, lines[1:]))
             if a and a == b and i < half and not re.fullmatch(r"[ox]+", a)]
    assert [c for c in captions.FIRST_HALF if c != "The exploding-gradient cost cliff"] == first


def test_a_figure_names_only_captions_of_the_notes():
    ctx = Context(quick=True)
    with pytest.raises(ValueError, match="not a caption of the notes"):
        with ctx.figure("x", notes="A LSTM"):
            pass
    with ctx.figure("live", notes=("XOR",)) as fig:
        fig.add_subplot().plot([0, 1])
    assert ctx.blocks[-1].payload["notes"] == ("XOR",)


def test_only_a_module_selects_all_its_chapters():
    chapters = discover()
    from rosenblatt.tour.runner import select
    chosen = select(chapters, ["rnn_parts"])
    assert len(chosen) == 4 and {c.module for c in chosen} == {"rnn_parts"}
    assert [c.name for c in chosen] == ["simple-rnn", "lstm-unit", "lstm-variants", "bi-rnn"]
    assert [c.name for c in select(chapters, ["lstm-unit"])] == ["lstm-unit"]
    from rosenblatt.tour import chapter
    with pytest.raises(ValueError, match="name must be lower case"):
        chapter("x", section="Perceptrons", name="Bad Name")


def test_report_renders_a_figure_with_its_notes_caption():
    from rosenblatt.tour.runner import ChapterResult, TourResult

    ctx = Context(quick=True)
    with ctx.figure("drawn live.", notes="The step function") as fig:
        fig.add_subplot().plot([0, 1])
    chapter = next(c for c in discover() if c.module == "neurons")
    tour = TourResult([ChapterResult(chapter, ctx.blocks, 0.1)], quick=True, seed=0,
                      seconds=0.1, started="now", version="test")
    page = render(tour)
    assert 'data-notes="The step function"' in page
    assert "Figure 1.1. <b class=\"notes-caption\">The step function.</b> drawn live." in page
    assert "not in this run" in page  # the closing note names the captions not drawn
