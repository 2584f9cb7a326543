"""The tour's CNN chapter runs in quick mode and every claim holds."""

import io

import pytest


@pytest.mark.slow
def test_cnn_chapter_quick():
    pytest.importorskip("matplotlib")
    from rosenblatt.tour import discover, run_chapter

    (chapter,) = [c for c in discover() if c.name == "cnn"]
    result = run_chapter(chapter, quick=True, log=io.StringIO())
    assert not result.error, result.error
    claims = [b.payload["claim"] for b in result.blocks if b.kind == "claim"]
    assert len(claims) >= 4
    assert all(c.passed for c in claims), [c for c in claims if not c.passed]
    assert sum(b.kind == "figure" for b in result.blocks) >= 3
