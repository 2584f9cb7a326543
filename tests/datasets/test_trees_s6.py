"""Audit a8 (session 6) fixes: sentiment_trees' intensifier_prob=1, read_treebank naming an
unknown word."""

import pytest

import rosenblatt as rb
from rosenblatt.datasets.trees import read_treebank


def test_sentiment_trees_accepts_an_intensifier_probability_of_one():
    trees, _ = rb.datasets.sentiment_trees(5, negations=(1, 2), intensifier_prob=1.0, rng=0)
    words = rb.datasets.SENTIMENT_WORDS
    for tree in trees:
        leaves = [words[t] for t in tree.leaves()]
        # an intensifier before every "not" and before the adjective
        slots = [i for i, w in enumerate(leaves) if w == "not"] + [len(leaves) - 1]
        assert all(leaves[i - 1] in ("very", "really") for i in slots)
    with pytest.raises(ValueError, match=r"intensifier_prob must be in \[0, 1\]; got 1.5"):
        rb.datasets.sentiment_trees(3, intensifier_prob=1.5, rng=0)


def test_read_treebank_names_a_word_missing_from_the_given_vocabulary(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("(3 (2 not) (4 good))\n(1 (2 very) (0 dull))\n")
    with pytest.raises(ValueError, match=r"train.txt, line 2: .*the word 'dull' is not in the "
                                         r"vocabulary at character 15"):
        read_treebank(path, vocab={"not": 0, "good": 1, "very": 2})
    trees, vocab = read_treebank(path, vocab={"not": 0, "good": 1, "very": 2, "<unk>": 3})
    assert list(trees[1].leaves()) == [2, 3]
    trees, vocab = read_treebank(path)
    assert vocab == {"not": 0, "good": 1, "very": 2, "dull": 3}
    assert list(trees[1].leaves()) == [2, 3]
