"""Build the API reference from the docstrings, offline: ``python docs/build_api.py``.

Writes HTML pages into ``docs/api/`` (open ``docs/api/index.html``, which links
every page) with pdoc (``pip install pdoc``, part of the ``test`` extra): one page
per public module of rosenblatt (``rb``, ``rb.nn``, ``rb.optim``, ``rb.losses``,
``rb.models``, ``rb.datasets``, ``rb.training``, ...; ``rb.losses`` and
``rb.regularizers`` are ``rosenblatt.nn.losses`` and ``rosenblatt.nn.regularizers``), numpydoc
docstrings rendered, equations as LaTeX source. No network is needed to build
or to read it.

Options: ``--out DIR`` (default ``docs/api``), ``--all`` (every module of the
package, not only the public ones: ``rb.nn.conv``, ``rb.evolution.neat``,
``rb.cli`` ...; the private ``_`` modules aside), ``--strict`` (a docstring pdoc
cannot render, e.g. a malformed numpydoc section, is an error).
"""

import argparse
import html
import os
import sys
import warnings
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The public modules: what ``import rosenblatt as rb`` exposes as ``rb.<name>``, and
#: ``rosenblatt.tour`` (imported by name) (a package brings its submodules; ``!`` drops the
#: others of the top package).
PUBLIC = (
    "rosenblatt",
    "!rosenblatt\\..*",
    "rosenblatt.nn",
    "rosenblatt.optim",
    "rosenblatt.models",
    "rosenblatt.datasets",
    "rosenblatt.training",
    "rosenblatt.training.adversarial",
    "rosenblatt.training.distributed",
    "rosenblatt.parallel",
    "rosenblatt.tuning",
    "rosenblatt.evolution",
    "rosenblatt.autodiff",
    "rosenblatt.io",
    "rosenblatt.tour",
    "rosenblatt.sklearn",
    "rosenblatt.randomness",
)


def all_modules():
    """Every module of the package by name, the private ones (a name part starting with
    ``_``: ``_kernels``, ``__main__`` ...) aside. pdoc given the package alone renders only
    the submodules its ``__all__`` names, so ``--all`` lists them."""
    import pkgutil

    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    import rosenblatt

    names = [info.name for info in pkgutil.walk_packages(rosenblatt.__path__, "rosenblatt.")]
    return ("rosenblatt",) + tuple(n for n in names
                                   if not any(part.startswith("_") for part in n.split(".")))


def build(out=None, modules=PUBLIC, strict=False):
    """Render ``modules`` into ``out``; returns the list of files written.

    With ``strict``, any warning pdoc raises while rendering (a docstring it
    cannot parse) is raised as an error. Without pdoc, a ``ModuleNotFoundError``
    that says what to install.
    """
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    try:
        import pdoc
        import pdoc.render
    except ModuleNotFoundError as e:
        if e.name != "pdoc":
            raise
        raise ModuleNotFoundError("the API reference is rendered by pdoc, which is not "
                                  "installed: pip install pdoc (it is part of the test extra, "
                                  "pip install -e '.[test]')", name="pdoc") from None

    out = Path(out or os.path.join(ROOT, "docs", "api"))
    pdoc.render.configure(docformat="numpy", math=False, search=False,
                          footer_text="rosenblatt API reference (generated from the docstrings)")
    with warnings.catch_warnings():
        warnings.simplefilter("error" if strict else "default")
        # --all names every module, so a package's spec re-adds submodules named before it:
        # one page each all the same
        warnings.filterwarnings("ignore", message="The module specification .* adds a module "
                                "named .* but a module with this name has already been added")
        pdoc.pdoc(*modules, output_directory=out)
    write_index(out)
    return sorted(str(p) for p in out.rglob("*.html"))


def write_index(out):
    """``index.html``: a link to every module page in ``out``. pdoc's own index of one package
    only redirects to the package's page, which links the submodules of its ``__all__``, so
    ``rb.sklearn`` (imported on first use) and ``rb.tour`` would be linked from no page."""
    out = Path(out)
    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html")
                   if p.name != "index.html")
    items = "\n".join(f'<li><a href="{html.escape(page)}">'
                      f'{html.escape(page[:-len(".html")].replace("/", "."))}</a></li>'
                      for page in pages)
    (out / "index.html").write_text(
        '<!doctype html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        "<title>rosenblatt API reference</title>\n</head>\n<body>\n"
        "<h1>rosenblatt API reference</h1>\n"
        "<p>Generated from the docstrings by <code>docs/build_api.py</code>.</p>\n"
        f"<ul>\n{items}\n</ul>\n</body>\n</html>\n", encoding="utf-8")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None, help="output folder (default docs/api)")
    p.add_argument("--all", action="store_true", help="every submodule of rosenblatt")
    p.add_argument("--strict", action="store_true", help="rendering warnings are errors")
    args = p.parse_args(argv)
    try:
        files = build(args.out, all_modules() if args.all else PUBLIC, args.strict)
    except ModuleNotFoundError as e:
        if e.name != "pdoc":
            raise
        sys.exit(f"build_api.py: {e}")
    print(f"{len(files)} pages in {os.path.dirname(files[0]) if files else args.out}")


if __name__ == "__main__":
    main()
