"""The neuroevolution chapter runs in quick mode and confirms every claim."""

import io

import pytest

from rosenblatt.tour import run_tour


@pytest.mark.slow
def test_neuroevolution_chapter_confirms_every_claim(tmp_path):
    pytest.importorskip("matplotlib")
    tour = run_tour(quick=True, out=tmp_path, only=["neuroevolution"], log=io.StringIO())
    (result,) = tour.results
    assert not result.error
    failed = [(c.text, c.detail) for c in result.claims if not c.passed]
    assert not failed
    assert len(result.claims) >= 6
    assert sum(b.kind == "figure" for b in result.blocks) >= 5
