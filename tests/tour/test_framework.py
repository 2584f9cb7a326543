"""The tour framework: registry, Context, runner, the HTML report."""

import base64
import io
import json
import re

import numpy as np
import pytest

from rosenblatt.tour import Chapter, Context, chapter, discover, run_chapter, run_tour
from rosenblatt.tour.registry import slug
from rosenblatt.tour.report import markdown


def _good(ctx):
    ctx.text("Some **bold** text and `code`.")
    ctx.table(["name", "value"], [["pi", np.pi], ["small", 1.5e-7], ["flag", True]])
    with ctx.figure("A line") as fig:
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1])
    ctx.claim("a true claim", True, "detail one")
    ctx.claim("a false claim", np.bool_(False), "detail two")


def _raises(ctx):
    ctx.claim("made before the error", True)
    raise RuntimeError("boom in chapter")


GOOD = Chapter("Good chapter", section="Perceptrons", order=1, fn=_good, name="good")
BAD = Chapter("Bad chapter", section="XOR", order=2, fn=_raises, name="bad")


def test_context_records_blocks_in_order():
    ctx = Context(quick=True, rng=np.random.default_rng(0))
    _good(ctx)
    assert [b.kind for b in ctx.blocks] == ["text", "table", "figure", "claim", "claim"]
    assert [c.passed for c in ctx.claims] == [True, False]
    assert type(ctx.claims[1].passed) is bool
    png = ctx.blocks[2].payload["png"]
    assert png.startswith(b"\x89PNG")
    assert ctx.blocks[1].payload["rows"][0] == ["pi", "3.142"]
    assert ctx.blocks[1].payload["rows"][1] == ["small", "1.500e-07"]


def test_context_errors_name_the_problem():
    ctx = Context()
    with pytest.raises(ValueError, match="row 0 has 1 cells but the header has 2"):
        ctx.table(["a", "b"], [[1]])
    with pytest.raises(ValueError, match="ctx.claim: text must be a non-empty string"):
        ctx.claim("", True)
    with pytest.raises(TypeError, match="ctx.text: expected a string"):
        ctx.text(3)


def test_figure_error_propagates_and_records_nothing():
    ctx = Context()
    with pytest.raises(ZeroDivisionError), ctx.figure("never") as fig:
        fig.add_subplot()
        1 / 0  # noqa: B018
    assert ctx.blocks == []


def test_a_chapter_that_raises_is_reported_and_the_tour_goes_on(tmp_path):
    log = open(tmp_path / "log.txt", "w")  # noqa: SIM115 - closed below
    tour = run_tour(quick=True, out=tmp_path, chapters=[BAD, GOOD], log=log)
    log.close()
    assert [r.chapter.name for r in tour.results] == ["good", "bad"]  # sorted by order
    good, bad = tour.results
    assert good.error == "" and len(good.claims) == 2
    assert "RuntimeError: boom in chapter" in bad.error
    assert [c.text for c in bad.claims] == ["made before the error"]
    s = tour.summary()
    assert (s["chapters"], s["chapters_failed"], s["claims"], s["claims_passed"]) == (2, 1, 3, 2)
    assert not tour.ok
    text = (tmp_path / "log.txt").read_text()
    assert "[1/2] Good chapter" in text and "ERROR" in text


def test_html_report_embeds_figures_and_marks_claims(tmp_path):
    tour = run_tour(quick=True, out=tmp_path, chapters=[GOOD, BAD], log=io.StringIO())
    html = (tmp_path / "report.html").read_text()
    assert tour.path == str((tmp_path / "report.html").resolve())
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 1
    assert base64.b64decode(images[0]).startswith(b"\x89PNG")
    assert "http" not in html.split("<body>")[0]  # nothing fetched from the network
    assert html.count('class="claim pass"') == 2 and html.count('class="claim fail"') == 1
    assert "&#10004; confirmed" in html and "&#10008; not confirmed" in html
    assert "boom in chapter" in html and "<b>bold</b>" in html
    assert "<td>3.142</td>" in html
    assert (tmp_path / "figures" / "good-1.png").read_bytes() == base64.b64decode(images[0])
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["summary"]["claims_failed"] == 1
    assert report["chapters"][1]["error"].strip().endswith("RuntimeError: boom in chapter")


def test_chapter_seeds_are_reproducible_and_independent_of_selection():
    drawn = []
    c = Chapter("Draws", section="", order=0, fn=lambda ctx: drawn.append(ctx.rng.random()))
    run_chapter(c, seed=3)
    run_chapter(c, seed=3)
    run_chapter(c, seed=4)
    assert drawn[0] == drawn[1] != drawn[2]


def test_only_selects_by_name_or_title_and_rejects_unknown(tmp_path):
    tour = run_tour(out=None, only=["bad"], chapters=[GOOD, BAD], log=io.StringIO())
    assert [r.chapter.name for r in tour.results] == ["bad"]
    tour = run_tour(out=None, only=["Good Chapter"], chapters=[GOOD, BAD],
                    log=io.StringIO())
    assert [r.chapter.name for r in tour.results] == ["good"]
    with pytest.raises(ValueError, match="no chapter named 'nope'; the chapters are: good, bad"):
        run_tour(out=None, only=["nope"], chapters=[GOOD, BAD])


def test_chapter_decorator_validates_and_returns_the_function():
    with pytest.raises(ValueError, match="title must be a non-empty string"):
        chapter("", section="x")
    with pytest.raises(TypeError, match="order must be an int"):
        chapter("T", section="x", order="1")

    def run(ctx):
        pass

    assert chapter("Decorator test chapter", section="x", order=5000)(run) is run
    assert slug("Weight initialisation (NET)") == "weight-initialisation-net"


def test_discover_finds_the_package_chapters():
    chapters = discover()
    names = [c.name for c in chapters]
    assert "backprop" in names
    assert [c.order for c in chapters if not c.import_error] == sorted(
        c.order for c in chapters if not c.import_error
    )
    assert "decorator-test-chapter" not in names  # only the chapters package


def test_markdown_subset():
    assert markdown("a < b") == "<p>a &lt; b</p>"
    assert markdown("# Title") == "<h3>Title</h3>"
    assert markdown("1. x\n2. y") == "<ol><li>x</li><li>y</li></ol>"
    assert markdown("p1\n\np2") == "<p>p1</p><p>p2</p>"
    assert markdown("*it* and 2 * 3 * 4") == "<p><i>it</i> and 2 * 3 * 4</p>"


def test_progress_bar_goes_to_the_stream_only_on_a_terminal():
    from rosenblatt.tour.context import progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Tty(), io.StringIO()
    assert list(progress(range(5), desc="epochs", stream=tty)) == [0, 1, 2, 3, 4]
    assert list(progress(range(5), desc="epochs", stream=pipe)) == [0, 1, 2, 3, 4]
    assert "epochs [" in tty.getvalue() and "5/5" in tty.getvalue()
    assert pipe.getvalue() == ""


def test_an_out_folder_that_cannot_be_written_is_refused_before_any_chapter(tmp_path):
    ran = []
    counted = Chapter("Counted", section="Perceptrons", order=1, fn=lambda ctx: ran.append(1),
                      name="counted")

    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match=r"run_tour: out must be a folder; '.*afile' is a file"):
        run_tour(quick=True, out=str(tmp_path / "afile"), chapters=[counted], progress=False,
                 log=io.StringIO())
    with pytest.raises(ValueError, match=r"run_tour: cannot write the report in out="):
        run_tour(quick=True, out=str(tmp_path / "afile" / "sub"), chapters=[counted],
                 progress=False, log=io.StringIO())
    assert ran == []
    (tmp_path / "out" / "report.html").mkdir(parents=True)  # where the report must go
    with pytest.raises(ValueError, match=r"report.html must be a file"):
        run_tour(quick=True, out=str(tmp_path / "out"), chapters=[counted], progress=False,
                 log=io.StringIO())
    for seed in (-1, 2**32, 1.5):  # chapter seeds repeat modulo 2^32: out of range is refused
        with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\^32\)"):
            run_tour(out=None, seed=seed, chapters=[counted], log=io.StringIO())
    assert ran == []


def test_figures_of_an_earlier_tour_are_removed_from_the_folder(tmp_path):
    other = Chapter("Other chapter", section="XOR", order=2, fn=_good, name="other")
    run_tour(out=str(tmp_path), chapters=[GOOD, other], progress=False, log=io.StringIO())
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["good-1.png",
                                                                      "other-1.png"]
    (tmp_path / "figures" / "notes.txt").write_text("mine")  # not a tour figure: kept
    run_tour(out=str(tmp_path), only=["good"], chapters=[GOOD, other], progress=False,
             log=io.StringIO())
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["good-1.png",
                                                                      "notes.txt"]


def test_only_takes_dashes_for_underscores_and_word_starts():
    lr = Chapter("Learning rates and momentum", section="", order=1, fn=_good,
                 name="learning_rate")
    hyper = Chapter("Choosing hyperparameters", section="", order=2, fn=_good, name="hyper")
    percept = Chapter("The perceptron", section="", order=3, fn=_good, name="perceptron")
    from rosenblatt.tour.runner import select

    assert [c.name for c in select([lr, hyper, percept], ["learning-rate"])] == ["learning_rate"]
    assert [c.name for c in select([lr, hyper, percept], ["per"])] == ["perceptron"]
    assert [c.name for c in select([lr, hyper, percept], ["hyper"])] == ["hyper"]
