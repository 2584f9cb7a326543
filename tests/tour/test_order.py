"""The tour follows the notes: every chapter names a section of the notes, in the notes' order."""

import os
import re

import pytest

from rosenblatt.tour import chapter, discover
from rosenblatt.tour.registry import _REGISTRY, position
from rosenblatt.tour.sections import NOTES_SECTIONS, canonical, normalize, rank, where_to_add

# The notes lie in shared/ beside the repository (as on the developers' machines and in CI).
_BESIDE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "notes",
                       "neural-nets.txt")
NOTES = os.environ.get("ROSENBLATT_NOTES", os.path.normpath(_BESIDE))


def test_every_chapter_names_a_section_of_the_notes():
    chapters = [c for c in discover() if not c.import_error]
    assert chapters
    unknown = [f"chapter {c.name!r} ({c.title}): {where_to_add(c.section)}" for c in chapters
               if rank(c.section) is None]
    assert not unknown, "\n".join(unknown)


def test_every_chapter_runs_in_the_notes_order_of_its_section():
    chapters = [c for c in discover() if not c.import_error]
    ranks = [rank(c.section) for c in chapters]
    order = [f"{c.name} [{c.section}]" for c in chapters]
    assert ranks == sorted(ranks), "chapters out of the notes' order: " + ", ".join(order)
    for c in chapters:  # the position is the section's, not a number the chapter picked
        assert position(c.section) <= c.order < position(c.section) + 1000, c.name
        assert c.section == canonical(c.section), (c.name, c.section)


def test_the_chapters_of_today_in_the_notes_order():
    names = [c.name for c in discover() if not c.import_error]
    mine = ["perceptron", "activations", "backprop", "learning_rate", "optimizers", "batchnorm",
            "saturation", "initialisation", "adversarial", "regularization", "dropout",
            "early_stopping", "cnn", "rnn"]
    assert [n for n in names if n in mine] == mine


def test_a_chapter_without_a_known_section_is_named_in_the_failure():
    @chapter("A chapter of nowhere", section="Quantum backprop")
    def run(ctx):
        pass

    try:
        entry = next(c for c in _REGISTRY.values() if c.fn is run)
        assert rank(entry.section) is None
        assert entry.order >= position("Training generative adversarial networks") + 1000
        msg = where_to_add(entry.section)
        assert "'Quantum backprop'" in msg and "rosenblatt/tour/sections.py" in msg
    finally:
        for key in [k for k, c in _REGISTRY.items() if c.fn is run]:
            del _REGISTRY[key]


def test_section_names_match_loosely_and_are_unique():
    assert rank("convolutional neural networks") == rank("Convolutional Neural Networks (CNNs)")
    assert canonical("recurrent neural networks") == "Recurrent Neural Networks (RNNs)"
    keys = [normalize(s) for s in NOTES_SECTIONS]
    assert len(set(keys)) == len(keys)
    assert rank("Autoencoders") < rank("Restricted Boltzmann machines") \
        < rank("Neural Turing Machines") < rank("Neuroevolution") \
        < rank("Generative Adversarial Networks")


@pytest.mark.skipif(not os.path.exists(NOTES), reason="the notes are not on this machine")
def test_the_list_is_the_notes_headings_in_order():
    with open(NOTES, encoding="utf-8") as f:
        lines = [line.strip() for line in f]
    # A heading: a line of its own after a blank line (figure captions come twice in a row).
    headings = [line for i, line in enumerate(lines) if 0 < i < len(lines) - 1
                and line and not lines[i - 1] and lines[i + 1] != line]
    where = {}
    for i, h in enumerate(headings):
        where.setdefault(h, i)
    missing = [s for s in NOTES_SECTIONS if s not in where]
    assert not missing, f"not headings of the notes: {missing}"
    found = [where[s] for s in NOTES_SECTIONS]
    assert found == sorted(found), [s for s, a, b in zip(NOTES_SECTIONS, found, found[1:]) if a > b]
    # The top-level sections of the notes are all there.
    for top in ("Perceptrons", "Training neural networks", "Overfitting", "Hyperparameters",
                "Unsupervised neural networks", "Other neural networks", "Neuroevolution"):
        assert top in NOTES_SECTIONS and re.search(rf"^{re.escape(top)}$", "\n".join(lines), re.M)
