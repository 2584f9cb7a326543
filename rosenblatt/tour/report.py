"""The tour's report: one self-contained HTML file (figures embedded as base64 PNG).

Opens in any browser without a network or a server: styles are inline, there
is no JavaScript, and every figure is a ``data:`` URI.
"""

import base64
import html
import re

_CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:980px;
margin:2em auto;padding:0 1em;color:#1d1d1f;line-height:1.5}
h1{margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2.2em}
.meta{color:#666;font-size:.9em}
.summary{display:flex;gap:1em;flex-wrap:wrap;margin:1em 0}
.box{border-radius:8px;padding:.6em 1em;background:#f3f4f6;min-width:7em}
.box b{display:block;font-size:1.6em}
.ok{color:#0a7c2f} .bad{color:#b3261e} .warn{color:#8a5a00}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #d0d0d0;padding:.25em .6em;text-align:right}
th{background:#f3f4f6} td:first-child,th:first-child{text-align:left}
figure{margin:1em 0;text-align:center} figure img{max-width:100%;height:auto}
figcaption{color:#555;font-size:.9em}
.claim{border-left:5px solid;padding:.35em .8em;margin:.5em 0;background:#fafafa}
.claim.pass{border-color:#0a7c2f} .claim.fail{border-color:#b3261e}
.claim .mark{font-weight:bold;margin-right:.4em}
.claim .detail{color:#555;font-size:.9em;display:block}
pre.tb{background:#fff3f2;border:1px solid #f0c0bc;padding:.6em;overflow-x:auto;font-size:.8em}
code{background:#f3f4f6;padding:0 .25em;border-radius:3px}
.toc td,.toc th{text-align:left}
.chead{color:#666;font-size:.9em;margin-top:-.6em}
.toc tr.sec th{background:#e8edf5;font-weight:600}
.notes-caption{color:#1d1d1f}
"""


def _inline(text):
    """Escape, then render `code`, **bold**, *italic* and [text](url)."""
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
            continue
        s = html.escape(part, quote=False)
        s = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)
        s = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<i>\1</i>", s)
        s = re.sub(r"\[([^\]]+)\]\((https?://[^)\s]+)\)", r'<a href="\2">\1</a>', s)
        out.append(s)
    return "".join(out)


def markdown(text):
    """A small Markdown subset to HTML: paragraphs, '- ' lists, '#' headings, inline marks.

    Examples
    --------
    >>> markdown("A **bold** `x<1`.")
    '<p>A <b>bold</b> <code>x&lt;1</code>.</p>'
    >>> markdown("- one\\n- two")
    '<ul><li>one</li><li>two</li></ul>'
    """
    blocks = re.split(r"\n\s*\n", text.strip())
    out = []
    for block in blocks:
        lines = [ln.rstrip() for ln in block.strip().splitlines()]
        if not lines:
            continue
        if all(re.match(r"\s*[-*] ", ln) for ln in lines):
            items = [_inline(re.sub(r"^\s*[-*] ", "", ln)) for ln in lines]
            out.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
        elif all(re.match(r"\s*\d+\. ", ln) for ln in lines):
            items = [_inline(re.sub(r"^\s*\d+\. ", "", ln)) for ln in lines]
            out.append("<ol>" + "".join(f"<li>{i}</li>" for i in items) + "</ol>")
        elif lines[0].startswith("#") and len(lines) == 1:
            level = min(len(lines[0]) - len(lines[0].lstrip("#")) + 2, 6)
            out.append(f"<h{level}>{_inline(lines[0].lstrip('#').strip())}</h{level}>")
        else:
            out.append(f"<p>{_inline(' '.join(ln.strip() for ln in lines))}</p>")
    return "".join(out)


def _block_html(block, chapter_number=None):
    p = block.payload
    if block.kind == "text":
        return markdown(p["markdown"])
    if block.kind == "table":
        head = "".join(f"<th>{html.escape(h)}</th>" for h in p["header"])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
            for row in p["rows"]
        )
        cap = f"<caption>{_inline(p['caption'])}</caption>" if p.get("caption") else ""
        return f"<table>{cap}<tr>{head}</tr>{body}</table>"
    if block.kind == "figure":
        data = base64.b64encode(p["png"]).decode("ascii")
        cap = _inline(p["caption"])
        number = figure_number(chapter_number, p)
        notes = tuple(p.get("notes", ()))
        lead = "".join(f'<b class="notes-caption">{html.escape(n)}.</b> ' for n in notes)
        attr = f' data-notes="{html.escape("|".join(notes))}"' if notes else ""
        return (f'<figure id="fig-{number}"{attr}><img alt="{html.escape(p["caption"])}" '
                f'src="data:image/png;base64,{data}"><figcaption>Figure {number}. '
                f"{lead}{cap}</figcaption></figure>")
    if block.kind == "claim":
        c = p["claim"]
        if c.passed:
            cls, mark = "pass", "&#10004; confirmed"
        else:
            cls, mark = "fail", "&#10008; not confirmed"
        colour = "ok" if c.passed else "bad"
        detail = f'<span class="detail">{_inline(c.detail)}</span>' if c.detail else ""
        return (f'<div class="claim {cls}"><span class="mark {colour}">{mark}</span>'
                f"{_inline(c.text)}{detail}</div>")
    raise ValueError(f"report: unknown block kind {block.kind!r}")


def figure_number(chapter_number, payload):
    """'3.2': the chapter's number, then the figure's within it."""
    return f"{chapter_number}.{payload['index']}" if chapter_number else str(payload["index"])


def notes_figures(tour):
    """``{caption: (chapter number, chapter, figure number)}`` for every notes' figure redrawn."""
    found = {}
    for number, r in enumerate(tour.results, 1):
        for b in r.blocks:
            if b.kind == "figure":
                for name in b.payload.get("notes", ()):
                    found.setdefault(name, (number, r.chapter, figure_number(number, b.payload)))
    return found


def _closing(tour):
    """The closing note: every caption of the notes and the chapter that redraws it."""
    from .captions import FIRST_HALF, SECOND_HALF

    found = notes_figures(tour)
    rows = []
    for half, names in (("first", FIRST_HALF), ("second", SECOND_HALF)):
        for name in names:
            if name in found:
                number, chap, fig = found[name]
                where = (f'<a href="#fig-{fig}">Figure {fig}</a> in {number}. '
                         f'<a href="#{html.escape(chap.name)}">{html.escape(chap.title)}</a>')
            else:
                where = '<span class="warn">not in this run</span>'
            rows.append(f"<tr><td>{html.escape(name)}</td><td>{half}</td><td>{where}</td></tr>")
    n_drawn = sum(name in found for name in FIRST_HALF + SECOND_HALF)
    return (f'<section id="notes-figures"><h2>The notes&rsquo; figures</h2>'
            f"<p>The notes lost their figures; their captions remain. Each is redrawn here from "
            f"live computation: {n_drawn} of the {len(FIRST_HALF) + len(SECOND_HALF)} figures "
            f"in this run.</p><table class=\"toc\"><tr><th>Notes&rsquo; caption</th>"
            f"<th>Half</th><th>Redrawn in</th></tr>{''.join(rows)}</table></section>")


def _api_link():
    """A link to the API reference when it has been built next to the package, else how to."""
    import os

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    index = os.path.join(root, "docs", "api", "index.html")
    how = "<code>python docs/build_api.py</code> writes it to <code>docs/api/</code>"
    if os.path.exists(index):
        return (f'<p class="meta">API reference: <a href="file://{html.escape(index)}">'
                f"docs/api/index.html</a> (generated from the docstrings; {how}).</p>")
    return f'<p class="meta">API reference: generated from the docstrings; {how}.</p>'


def _toc(tour):
    """The table of contents by the notes' sections, in the notes' order."""
    rows, last = [], None
    for number, r in enumerate(tour.results, 1):
        section = r.chapter.section or "(no section)"
        if section != last:
            rows.append(f'<tr class="sec"><th colspan="4">{html.escape(section)}</th></tr>')
            last = section
        figures = sum(b.kind == "figure" for b in r.blocks)
        rows.append(
            f'<tr><td>{number}. <a href="#{html.escape(r.chapter.name)}">'
            f"{html.escape(r.chapter.title)}</a></td>"
            f"<td>{sum(c.passed for c in r.claims)}/{len(r.claims)} claims, {figures} figures</td>"
            f"<td>{r.seconds:.1f} s</td><td>{_status(r)}</td></tr>")
    rows.append('<tr class="sec"><th colspan="4"><a href="#notes-figures">The notes&rsquo; '
                "figures</a> (closing note)</th></tr>")
    return ('<h2 id="contents">Contents</h2><table class="toc"><tr><th>Chapter (by the '
            "notes&rsquo; section)</th><th>Evidence</th><th>Time</th><th>Status</th></tr>"
            f"{''.join(rows)}</table>")


def _status(result):
    if result.error:
        return '<span class="bad">error</span>'
    failed = sum(not c.passed for c in result.claims)
    if failed:
        return f'<span class="bad">{failed} claim(s) not confirmed</span>'
    return '<span class="ok">all confirmed</span>' if result.claims else "ran"


def _environment(tour):
    env = getattr(tour, "environment", None) or {}
    if not env:
        return ""
    text = " &middot; ".join(f"{html.escape(str(k))} {html.escape(str(v))}" for k, v in env.items())
    return f'<p class="meta">{text}</p>'


def render(tour):
    """The HTML text of a :class:`rosenblatt.tour.runner.TourResult`."""
    s = tour.summary()
    mode = "quick" if tour.quick else "full"
    boxes = [
        ("chapters", f"{s['chapters']}", ""),
        ("claims confirmed", f"{s['claims_passed']}/{s['claims']}", "ok"),
        ("claims not confirmed", f"{s['claims_failed']}", "bad" if s["claims_failed"] else ""),
        ("chapters with errors", f"{s['chapters_failed']}", "bad" if s["chapters_failed"] else ""),
        ("time", f"{s['seconds']:.1f} s", ""),
    ]
    summary = "".join(
        f'<div class="box"><b class="{cls}">{html.escape(v)}</b>{html.escape(k)}</div>'
        for k, v, cls in boxes
    )
    toc = _toc(tour)
    chapters = []
    for number, r in enumerate(tour.results, 1):
        c = r.chapter
        body = "".join(_block_html(b, number) for b in r.blocks)
        if r.error:
            body += (f'<p class="bad"><b>This chapter raised an exception</b>; the tour went on.'
                     f'</p><pre class="tb">{html.escape(r.error)}</pre>')
        section = f"notes: &ldquo;{html.escape(c.section)}&rdquo; &middot; " if c.section else ""
        chapters.append(
            f'<section id="{html.escape(c.name)}"><h2>{number}. {html.escape(c.title)}</h2>'
            f'<p class="chead">{section}{r.seconds:.1f} s &middot; {_status(r)}</p>{body}</section>'
        )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>rosenblatt tour</title><style>{_CSS}</style></head><body>"
        "<h1>The rosenblatt tour</h1>"
        f'<p class="meta">The notes&rsquo; claims, run as experiments. rosenblatt '
        f"{html.escape(tour.version)} &middot; {mode} mode &middot; seed {tour.seed} &middot; "
        f"{html.escape(tour.started)}</p>{_environment(tour)}"
        f'<div class="summary">{summary}</div>{_api_link()}{toc}{"".join(chapters)}'
        f"{_closing(tour)}</body></html>\n"
    )
