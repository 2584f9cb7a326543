"""The second neuroevolution chapter runs in quick mode and confirms every claim."""

import pytest


@pytest.mark.slow
def test_neuroevolution2_chapter_confirms_every_claim(tmp_path, quick_chapter):
    pytest.importorskip("matplotlib")
    result = quick_chapter("neuroevolution2", tmp_path)
    texts = " ".join(c.text for c in result.claims)
    assert "Upsilon" in texts and "Delta" in texts
    assert sum(b.kind == "figure" for b in result.blocks) >= 1
    assert sum(b.kind == "table" for b in result.blocks) >= 1
