"""Generated tree data sets: the labels mean what the docstrings say."""

import numpy as np
import pytest

import rosenblatt as rb

W = rb.datasets.SENTIMENT_WORDS


def test_sentiment_labels_follow_negation_parity():
    trees, y = rb.datasets.sentiment_trees(200, negations=(0, 4), rng=0)
    for tree, label in zip(trees, y):
        words = [W[t] for t in tree.leaves()]
        positive = words[-1] in ("good", "great", "fine", "nice")
        flips = words.count("not") % 2
        assert label == (2 if positive != bool(flips) else 0) == tree.label
    text = str(rb.datasets.sentiment_trees(1, negations=(2, 2), intensifier_prob=0,
                                           rng=0)[0][0].map_tokens(lambda t: W[t]))
    assert text == "(2 (1 (1 the) (1 movie)) (2 (1 was) (2 (1 not) (0 (1 not) (2 fine)))))"


def evaluate(tree):
    if tree.is_leaf:
        return tree.token
    a, op, b = evaluate(tree.left), tree.right.left.token, evaluate(tree.right.right)
    return a + b if op == 10 else a * b


def test_arithmetic_labels_are_values_mod_10():
    trees, y = rb.datasets.arithmetic_trees(100, depth=(1, 4), rng=0)
    for tree, label in zip(trees, y):
        assert label == evaluate(tree) % 10
        for node in tree.nodes():
            if node.label is not None:
                assert node.label == evaluate(node) % 10


def test_bad_arguments():
    with pytest.raises(ValueError, match="negations"):
        rb.datasets.sentiment_trees(5, negations=(3, 1))
    with pytest.raises(ValueError, match="n_trees"):
        rb.datasets.arithmetic_trees(0)
    with pytest.raises(ValueError, match="two children"):
        rb.datasets.Tree(left=rb.datasets.Tree(1))
    assert np.all(rb.datasets.arithmetic_trees(3, rng=1)[1] < 10)


@pytest.mark.parametrize("text", ["(² good)", "(٣ good)"])
def test_parse_tree_reads_only_ascii_integers_as_labels(text):
    # "²".isdigit() is True but int("²") fails; "٣" is an Arabic-Indic 3
    tree = rb.datasets.parse_tree(text)
    assert tree.label is None and tree.leaves() == text[1:-1].split()


def test_tree_children_must_be_trees():
    with pytest.raises(TypeError, match=r"Tree: left and right must be Tree nodes; got int "
                                        r"and int \(use Tree\(1\) for a leaf"):
        rb.datasets.Tree(left=1, right=2, label=0)
    with pytest.raises(TypeError, match="got Tree and str"):
        rb.datasets.Tree(left=rb.datasets.Tree(1), right="x")


def test_read_treebank_drops_a_utf8_byte_order_mark(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeff(3 (2 not) (4 good))\n(1 bad)\n".encode("utf-8"))
    trees, vocab = rb.datasets.read_treebank(path)
    assert len(trees) == 2 and set(vocab) >= {"not", "good", "bad"}
    assert not any("\ufeff" in word for word in vocab)
