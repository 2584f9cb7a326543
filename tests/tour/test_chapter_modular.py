"""The modular / recursive / nonlinear networks chapter runs in quick mode and confirms every
claim."""


import pytest


@pytest.mark.slow
def test_modular_chapter_confirms_every_claim(tmp_path, quick_chapter):
    result = quick_chapter("modular", tmp_path)
    assert len(result.claims) >= 5
    assert sum(b.kind == "figure" for b in result.blocks) >= 3
