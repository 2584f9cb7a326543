"""The hyperparameters chapter of the tour runs in quick mode and confirms every claim."""

import io

import pytest

from rosenblatt.tour import run_tour


@pytest.mark.slow
def test_hyperparameters_chapter_confirms_every_claim(tmp_path):
    pytest.importorskip("sklearn")
    tour = run_tour(quick=True, out=tmp_path, only=["hyperparameters"], log=io.StringIO())
    (result,) = tour.results
    assert not result.error
    failed = [(c.text, c.detail) for c in result.claims if not c.passed]
    assert not failed
    assert len(result.claims) >= 5
    assert sum(b.kind == "figure" for b in result.blocks) >= 4
