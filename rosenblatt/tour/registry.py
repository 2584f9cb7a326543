"""The tour's chapters and how they are found (the notes, section by section).

A chapter is a function ``run(ctx)`` decorated with :func:`chapter`, in a
module of :mod:`rosenblatt.tour.chapters`. Each demonstrates the claims of one
section of the notes and names it; the chapters run in the notes' order of
those sections (:data:`rosenblatt.tour.sections.NOTES_SECTIONS`, the one place
that order is written down). :func:`discover` imports every module of that
package and returns the chapters in that order.
"""

import importlib
import pkgutil
import re
import traceback
from dataclasses import dataclass, field

from . import sections


@dataclass
class Chapter:
    """One experiment of the tour.

    Parameters
    ----------
    title : str
        Shown as the chapter's heading.
    section : str
        The section of the notes whose claims it demonstrates.
    order : int
        Chapters run in increasing order (then by title); :func:`chapter` sets
        it from the section's place in the notes.
    fn : callable
        ``fn(ctx)``; see :class:`rosenblatt.tour.context.Context`.
    name : str
        Short name used by ``rosenblatt tour --only NAME`` (the module name, or
        the title's slug when a module holds several chapters).
    module : str
        The module's name: ``--only MODULE`` selects all of its chapters.
    """

    title: str
    section: str
    order: int
    fn: object
    name: str = ""
    import_error: str = field(default="", repr=False)
    module: str = ""

    def __post_init__(self):
        if not self.name:
            self.name = slug(self.title)

    def __call__(self, ctx):
        return self.fn(ctx)

    def matches_exactly(self, query):
        """Whether ``query`` is this chapter's name, module, title or the title's slug (any
        case; '-' and '_' alike: ``learning-rate`` is ``learning_rate``)."""
        q = _plain(query)
        return q in (_plain(self.name), slug(self.title), _plain(self.title),
                     _plain(self.module))

    def matches(self, query):
        """Whether ``--only query`` selects this chapter: an exact match, or (three letters or
        more) the start of a word of its title (``neuro`` selects both neuroevolution
        chapters; ``per`` the perceptron's, not the hyper-parameters')."""
        q = query.strip().lower()
        return self.matches_exactly(query) or (
            len(q) >= 3 and re.search(r"\b" + re.escape(q), self.title.lower()) is not None
        )


_REGISTRY = {}


def _plain(text):
    """Lower case, '_' as '-' (chapter names use both)."""
    return text.strip().lower().replace("_", "-")


def slug(text):
    """Lower-case words joined by '-': 'Weight initialisation' -> 'weight-initialisation'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


SECTION_STRIDE = 1000  # room for that many chapters of one section


def position(section, order=0):
    """A chapter's place in the tour: its section's rank in the notes, then ``order``.

    Sections that are not in :data:`~rosenblatt.tour.sections.NOTES_SECTIONS` go
    after all the notes' sections (the tour's tests reject them in the package).
    """
    r = sections.rank(section)
    r = len(sections.NOTES_SECTIONS) if r is None else r
    return r * SECTION_STRIDE + order


def chapter(title, section, order=0, name=None):
    """Register ``run(ctx)`` as a chapter of the tour.

    Parameters
    ----------
    title : str
        The chapter's heading.
    section : str
        The notes' section it demonstrates: one of
        :data:`rosenblatt.tour.sections.NOTES_SECTIONS` (case and a
        parenthesised part may differ). It decides where the chapter runs.
    order : int, default 0
        Only to order several chapters of one section (lower first).
    name : str, optional
        The short name for ``--only`` and ``--list`` (lower case, digits and
        '-'); default the module's name, or the title's slug when the module
        holds several chapters.

    Returns
    -------
    decorator
        Returns the function unchanged; the chapter is recorded in the registry.

    Examples
    --------
    >>> from rosenblatt.tour import chapter
    >>> @chapter("A tiny demo", section="Perceptrons")
    ... def run(ctx):
    ...     ctx.claim("1 + 1 = 2", 1 + 1 == 2)
    >>> callable(run)
    True
    """
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"chapter: title must be a non-empty string; got {title!r}")
    if not isinstance(section, str):
        raise TypeError(f"chapter: section must be a string; got {type(section).__name__}")
    if isinstance(order, bool) or not isinstance(order, int):
        raise TypeError(f"chapter: order must be an int; got {order!r}")
    if name is not None and (not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_-]+", name)):
        raise ValueError(f"chapter: name must be lower case letters, digits, '-' or '_'; "
                         f"got {name!r}")
    chosen = name

    def register(fn):
        if not callable(fn):
            raise TypeError(f"chapter {title!r}: decorate a function run(ctx)")
        module = getattr(fn, "__module__", "") or ""
        name = module.rsplit(".", 1)[-1] if module.startswith(__package__ + ".chapters") else ""
        key = (module, getattr(fn, "__qualname__", title), title)
        entry = Chapter(title=title, section=sections.canonical(section) or section,
                        order=position(section, order), fn=fn, name=chosen or name, module=name)
        entry.named = chosen is not None
        # Two chapters in one module: the module name alone is ambiguous, use the slug.
        same_module = [c for k, c in _REGISTRY.items() if k[0] == module and k != key]
        if name and same_module:
            for other in [entry, *same_module]:
                if not getattr(other, "named", False):
                    other.name = slug(other.title)
        _REGISTRY[key] = entry
        return fn

    return register


def discover(package="rosenblatt.tour.chapters"):
    """Import every module of ``package`` and return all chapters in the notes' order.

    A module that fails to import becomes a chapter that reports the failure
    (with its traceback), so one broken chapter never stops the tour.
    """
    pkg = importlib.import_module(package)
    broken = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"{package}.{info.name}")
        except Exception:
            broken.append(
                Chapter(
                    title=f"{info.name} (failed to import)",
                    section="",
                    order=position(None, SECTION_STRIDE),
                    fn=None,
                    name=info.name,
                    import_error=traceback.format_exc(),
                )
            )
    found = [c for k, c in _REGISTRY.items() if k[0].startswith(package + ".")]
    return sorted(found, key=lambda c: (c.order, c.title)) + broken


def registered():
    """Every chapter registered so far (including ones outside the chapters package)."""
    return sorted(_REGISTRY.values(), key=lambda c: (c.order, c.title))
