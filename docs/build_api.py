"""Build the API reference from the docstrings, offline: ``python docs/build_api.py``.

Writes HTML pages into ``docs/api/`` (open ``docs/api/index.html``) with pdoc
(``pip install pdoc``, part of the ``test`` extra): one page per public module
of rosenblatt (``rb``, ``rb.nn``, ``rb.optim``, ``rb.losses``, ``rb.models``,
``rb.datasets``, ``rb.training``, ...; ``rb.losses`` and ``rb.regularizers``
are ``rosenblatt.nn.losses`` and ``rosenblatt.nn.regularizers``), numpydoc
docstrings rendered, equations as LaTeX source. No network is needed to build
or to read it.

Options: ``--out DIR`` (default ``docs/api``), ``--all`` (every submodule, not
only the public ones), ``--strict`` (a docstring pdoc cannot render, e.g. a
malformed numpydoc section, is an error).
"""

import argparse
import os
import sys
import warnings
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The public modules: what ``import rosenblatt as rb`` exposes as ``rb.<name>`` (a package
#: brings its submodules; ``!`` drops the others of the top package).
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


def build(out=None, modules=PUBLIC, strict=False):
    """Render ``modules`` into ``out``; returns the list of files written.

    With ``strict``, any warning pdoc raises while rendering (a docstring it
    cannot parse) is raised as an error.
    """
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    import pdoc
    import pdoc.render

    out = Path(out or os.path.join(ROOT, "docs", "api"))
    pdoc.render.configure(docformat="numpy", math=False, search=False,
                          footer_text="rosenblatt API reference (generated from the docstrings)")
    with warnings.catch_warnings():
        warnings.simplefilter("error" if strict else "default")
        pdoc.pdoc(*modules, output_directory=out)
    return sorted(str(p) for p in out.rglob("*.html"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None, help="output folder (default docs/api)")
    p.add_argument("--all", action="store_true", help="every submodule of rosenblatt")
    p.add_argument("--strict", action="store_true", help="rendering warnings are errors")
    args = p.parse_args(argv)
    files = build(args.out, ("rosenblatt",) if args.all else PUBLIC, args.strict)
    print(f"{len(files)} pages in {os.path.dirname(files[0]) if files else args.out}")


if __name__ == "__main__":
    main()
