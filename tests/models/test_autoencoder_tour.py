"""The autoencoders chapter of the tour runs in quick mode and confirms every claim."""


import pytest


@pytest.mark.slow
def test_autoencoders_chapter_confirms_every_claim(tmp_path, quick_chapter):
    pytest.importorskip("mlxtend")
    result = quick_chapter("autoencoders", tmp_path)
    assert len(result.claims) >= 6
    assert sum(b.kind == "figure" for b in result.blocks) >= 4
