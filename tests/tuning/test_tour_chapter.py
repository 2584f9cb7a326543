"""The hyperparameters chapter of the tour runs in quick mode and confirms every claim."""


import pytest


@pytest.mark.slow
def test_hyperparameters_chapter_confirms_every_claim(tmp_path, quick_chapter):
    pytest.importorskip("sklearn")
    result = quick_chapter("hyperparameters", tmp_path)
    assert len(result.claims) >= 5
    assert sum(b.kind == "figure" for b in result.blocks) >= 4
