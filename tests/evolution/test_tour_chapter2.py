"""The second neuroevolution chapter runs in quick mode and confirms every claim."""

import pytest


@pytest.mark.slow
def test_neuroevolution2_chapter_confirms_every_claim(tmp_path, quick_chapter):
    pytest.importorskip("matplotlib")
    result = quick_chapter("neuroevolution2", tmp_path)  # fails on an error or a failed claim
    texts = [c.text for c in result.claims]
    # one claim or more for each part: coevolution, CoSyNE, ESP, cascading elitism, NSGA-II,
    # staging
    for word in ("Coevolved players", "CoSyNE needs fewer evaluations", "In ESP",
                 "Cascading elitism", "weighted sum", "Upsilon", "Delta", "true front",
                 "smallest XOR network", "Staging through a growing second pole",
                 "beat a random player in >= 90%"):
        assert any(word in t for t in texts), word
    assert sum(b.kind == "figure" for b in result.blocks) >= 5
    assert sum(b.kind == "table" for b in result.blocks) >= 5
