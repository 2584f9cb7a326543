"""The recurrent-networks chapter runs in quick mode and confirms every claim."""


import pytest


@pytest.mark.slow
def test_rnn_chapter_confirms_every_claim(tmp_path, quick_chapter):
    result = quick_chapter("rnn", tmp_path)
    assert len(result.claims) >= 6
    assert sum(b.kind == "figure" for b in result.blocks) >= 3
