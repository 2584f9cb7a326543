"""RecursiveNet (notes: "Recursive Neural Networks"): gradients against a node-by-node reference
(float64 gradcheck and PyTorch), batching by height against one tree at a time, trees, bad input."""

import numpy as np
import pytest
import torch

import rosenblatt as rb
from rosenblatt.models.tree_ops import Forest, compose_forest

COMPOSITIONS = ("tanh", "matrix_vector", "tensor")


def random_tree(rng, n_leaves, vocab, n_classes):
    nodes = [rb.datasets.Tree(int(rng.integers(vocab)), label=int(rng.integers(n_classes)))
             for _ in range(n_leaves)]
    while len(nodes) > 1:  # merge two neighbours at random: trees of every shape
        i = int(rng.integers(len(nodes) - 1))
        label = int(rng.integers(n_classes)) if rng.random() < 0.8 else None
        nodes[i:i + 2] = [rb.datasets.Tree(left=nodes[i], right=nodes[i + 1], label=label)]
    return nodes[0]


def forest_loss(net, forest, params, reduction="mean"):
    """The model's loss written with the op, over every labelled node."""
    E, W, b, *rest = params
    extra, (Wc, bc) = rest[:-2], rest[-2:]
    H = compose_forest(forest, net.composition, E, W, b, *extra)
    index = np.flatnonzero(forest.labels >= 0)
    logits = rb.nn.dense(rb.autodiff.getitem(H, index), Wc, bc)
    return rb.losses.cross_entropy(logits, forest.labels[index], reduction=reduction)


def make_net(composition, dim=3, vocab=6, n_classes=3):
    net = rb.models.RecursiveNet(vocab, dim, n_classes, composition=composition, rng=0,
                                 dtype=np.float64)
    rng = np.random.default_rng(1)
    for p in net.parameters():  # away from the near-identity init: test every term
        p.data += rng.normal(scale=0.3, size=p.shape)
    return net


@pytest.mark.parametrize("composition", COMPOSITIONS)
def test_gradcheck_float64(composition):
    rng = np.random.default_rng(0)
    net = make_net(composition)
    trees = [random_tree(rng, n, 6, 3) for n in (1, 2, 4, 5)]
    forest = Forest.from_trees(trees)
    params = [rb.tensor(p.data.copy(), requires_grad=True) for p in net.parameters()]
    assert rb.autodiff.gradcheck(lambda *ps: forest_loss(net, forest, ps), *params)


def torch_node_by_node(net, tree, P):
    """The usual recursive implementation: one call per node (post-order), in PyTorch."""
    d = net.dim
    losses = []

    def visit(node):
        if node.is_leaf:
            h = P["E"][node.token]
            m = P["EM"][node.token] if net.composition == "matrix_vector" else None
        else:
            (a, A), (b, B) = visit(node.left), visit(node.right)
            m = None
            if net.composition == "matrix_vector":
                x = torch.cat([B @ a, A @ b])
                m = P["WM"][:, :d] @ A + P["WM"][:, d:] @ B
            else:
                x = torch.cat([a, b])
            z = x @ P["W"] + P["b"]
            if net.composition == "tensor":
                z = z + torch.einsum("i,kij,j->k", x, P["V"], x)
            h = torch.tanh(z)
        if node.label is not None:
            logits = h @ P["Wc"] + P["bc"]
            losses.append(torch.nn.functional.cross_entropy(
                logits[None], torch.tensor([node.label])))
        return h, m

    visit(tree)
    return losses


@pytest.mark.parametrize("composition", COMPOSITIONS)
def test_matches_pytorch_node_by_node(composition):
    rng = np.random.default_rng(2)
    net = make_net(composition, dim=4, vocab=7, n_classes=3)
    trees = [random_tree(rng, n, 7, 3) for n in (3, 6, 1, 8, 5)]
    loss = net.loss(trees)
    for p in net.parameters():
        p.grad = None
    loss.backward()
    P = {name: torch.tensor(p.data, requires_grad=True) for name, p in net.named_parameters()}
    per_node = [term for t in trees for term in torch_node_by_node(net, t, P)]
    ref = torch.stack(per_node).mean()
    ref.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-12)
    for name, p in net.named_parameters():
        np.testing.assert_allclose(p.grad, P[name].grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=name)


@pytest.mark.parametrize("composition", COMPOSITIONS)
def test_batching_by_height_equals_one_tree_at_a_time(composition):
    rng = np.random.default_rng(3)
    net = make_net(composition)
    trees = [random_tree(rng, n, 6, 3) for n in (7, 1, 3, 9, 4, 2)]
    params = net.parameters()
    batched = forest_loss(net, Forest.from_trees(trees), params, reduction="sum")
    batched.backward()
    grads = [p.grad.copy() for p in params]
    net.zero_grad()
    total = 0.0
    for t in trees:
        single = forest_loss(net, Forest.from_trees([t]), params, reduction="sum")
        single.backward()
        total += single.item()
    np.testing.assert_allclose(batched.item(), total, rtol=1e-12)
    for g, p in zip(grads, params):
        np.testing.assert_allclose(g, p.grad, rtol=1e-10, atol=1e-12)
    # node vectors: the same from a batch as from the tree alone, in post-order
    forest = Forest.from_trees(trees)
    H = compose_forest(forest, net.composition, *params[:-2]).data
    for i, t in enumerate(trees):
        rows = forest.position[forest.offsets[i]:forest.offsets[i + 1]]
        np.testing.assert_allclose(H[rows], net.node_vectors(t), rtol=1e-12)


def test_forest_orders_nodes_by_height():
    forest = Forest.from_trees([((1, 2), 3), 4, (5, (1, (2, 3)))])
    assert forest.n_nodes == 5 + 1 + 7 and forest.n_leaves == 8
    assert [e - s for s, e in forest.levels] == [2, 2, 1]
    assert forest.roots.tolist()[1] < forest.n_leaves  # the one-leaf tree's root is a leaf


def test_trees_as_tuples_strings_and_tree_objects_agree():
    net = rb.models.RecursiveNet(10, 4, 2, rng=0)
    a = net.node_vectors(((1, 2), 3))
    b = net.node_vectors("(1 (0 (1 1) (0 2)) (1 3))")
    T = rb.datasets.Tree
    c = net.node_vectors(T(left=T(left=T(1), right=T(2)), right=T(3)))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_parser_reads_sst_lines_and_round_trips(tmp_path):
    line = "(3 (2 It) (4 (4 (2 's) (3 (2 a) (4 (3 lovely) (2 film)))) (2 .)))"
    tree = rb.datasets.parse_tree(line)
    assert str(tree) == line and tree.label == 3 and len(tree.leaves()) == 6
    path = tmp_path / "train.txt"
    path.write_text(line + "\n\n(1 (2 not) (0 bad))\n", encoding="utf-8")
    trees, vocab = rb.datasets.read_treebank(path)
    assert len(trees) == 2 and vocab["It"] == 0 and vocab["bad"] == len(vocab) - 1
    assert [t.label for t in trees] == [3, 1]


@pytest.mark.parametrize("text, where", [
    ("(3 (2 not) (4 good)", "never closed at character 0"),
    ("(3 (2 not) (4 good)))", "text after the end of the tree at character 20"),
    ("(3 (2 a) (2 b) (2 c))", "3 children, but trees are binary at character 15"),
    ("(2 not))", "after the end of the tree at character 7"),
    ("not", "a tree starts with '(' at character 0"),
    ("(3 ())", "empty node at character 3"),
    ("(3 (4 (2 a) (2 b)))", "a node with one child at character 0"),
    ("", "empty string"),
])
def test_malformed_bracket_strings_say_where(text, where):
    with pytest.raises(ValueError, match=where.replace("(", r"\(")):
        rb.datasets.parse_tree(text)


def test_treebank_reader_names_the_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("(1 (1 a) (1 b))\n(1 (1 a) (1 b)\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: parse_tree: '\\(' never closed"):
        rb.datasets.read_treebank(path)


def test_bad_input():
    net = rb.models.RecursiveNet(5, 3, 2, rng=0)
    with pytest.raises(ValueError, match="token id 7 in tree 1 is outside the vocabulary"):
        net.predict([(1, 2), (3, 7)])
    with pytest.raises(ValueError, match="token id -1 in tree 0"):
        net.predict([(-1, 2)])
    with pytest.raises(TypeError, match="integer ids; got str 'not'"):
        net.predict(["(1 (1 not) (1 good))"])
    with pytest.raises(ValueError, match="2-tuple"):
        net.predict([(1, 2, 3)])
    with pytest.raises(TypeError, match="list of trees"):
        net.predict((1, 2))
    with pytest.raises(ValueError, match="label 5 is outside 0 to 1"):
        net.fit([(1, 2)], [5], epochs=1)
    with pytest.raises(ValueError, match="no labelled node"):
        net.fit([(1, 2)], epochs=1)
    # root labels: integers in 0 .. n_classes - 1, never truncated nor silently dropped
    with pytest.raises(ValueError, match="RecursiveNet.fit: y: label -3 is outside 0 to 1"):
        net.fit([(1, 2), (2, 3)], [-3, 1], epochs=1)
    with pytest.raises(ValueError, match="RecursiveNet.loss: y: label -1 is outside"):
        net.loss([(1, 2)], y=[-1])
    with pytest.raises(TypeError, match="RecursiveNet.fit: y must hold integer class labels 0 "
                                        "to 1; got the value 0.9"):
        net.fit([(1, 2), (2, 3)], y=[0.9, 1.0], epochs=1)
    with pytest.raises(TypeError, match="got the value 1.7"):
        net.loss([(1, 2)], y=[1.7])
    with pytest.raises(TypeError, match="got dtype <U1"):
        net.loss([(1, 2)], y=["a"])
    # integral floats are labels
    assert net.loss([(1, 2)], y=[1.0]).item() == net.loss([(1, 2)], y=[1]).item()
    with pytest.raises(ValueError, match="composition"):
        rb.models.RecursiveNet(5, 3, 2, composition="lstm")
    with pytest.raises(ValueError, match="dim"):
        rb.models.RecursiveNet(5, 0, 2)


def test_save_load_round_trip(tmp_path):
    net = rb.models.RecursiveNet(8, 4, 3, composition="matrix_vector", classify="root", rng=0)
    path = tmp_path / "rnn.safetensors"
    rb.save(net, path)
    back = rb.load(path)
    trees = [((1, 2), 3), (4, (5, 6))]
    assert back.classify == "root"
    np.testing.assert_array_equal(back(trees).data, net(trees).data)


def test_predict_checks_batch_size():
    net = rb.models.RecursiveNet(5, 4, 2, rng=0)
    for bad in (0, 1.5, -3):
        with pytest.raises((ValueError, TypeError), match="RecursiveNet.predict: batch_size"):
            net.predict([(1, 2)], batch_size=bad)


def test_root_mode_ignores_inner_labels_outside_n_classes():
    """SST trees carry 0-4 on every node; a binary root task with y uses only the roots."""
    trees = [rb.datasets.parse_tree(s) for s in ("(3 (4 1) (2 2))", "(1 (0 3) (2 4))")]
    net = rb.models.RecursiveNet(5, 4, 2, classify="root", rng=0)
    assert np.isfinite(net.loss(trees, y=[1, 0]).item())
    assert len(net.fit(trees, y=[1, 0], epochs=1, rng=0)) == 1
    # the nodes mode still refuses them: every node's label is used there
    with pytest.raises(ValueError, match="RecursiveNet.loss: label 4 is outside 0 to 1"):
        rb.models.RecursiveNet(5, 4, 2, rng=0).loss(trees, y=[1, 0])


def test_fit_skips_batches_without_a_labelled_node_whatever_the_batch_size():
    """Audit s5 a8 #10: 2 labelled and 2 unlabelled trees train at every batch size."""
    trees = ["(1 (0 3) (1 2))", "(0 (1 4) (0 2))", ((3, 4), 1), (2, (0, 1))]
    for batch_size in (4, 2, 1):
        net = rb.models.RecursiveNet(vocab_size=5, dim=3, n_classes=2, rng=0)
        losses = net.fit(trees, epochs=2, batch_size=batch_size, rng=0)
        assert len(losses) == 2 and np.all(np.isfinite(losses))
    net = rb.models.RecursiveNet(vocab_size=5, dim=3, n_classes=2, rng=0)
    before = net.E.data.copy()
    with pytest.raises(ValueError, match=r"RecursiveNet.fit: no labelled node \(no tree has one"):
        net.fit(trees[2:], epochs=1, batch_size=1, rng=0)
    np.testing.assert_array_equal(net.E.data, before)
