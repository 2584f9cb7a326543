"""Recursive networks over trees, and sparse layers (issue 17).

(a) RecursiveNet training (tanh composition, dim 64, 5 classes at every node,
plain SGD, batches of 64 trees) for one epoch over random binary trees of 5
to 30 leaves (the Stanford Sentiment Treebank's sentence lengths), against
PyTorch written two ways: node by node, recursing over each tree as usual
(one small matmul per node), and batched by height as rosenblatt does (one
gather and one matmul per height for the whole batch, autograd for the
backward). Each library builds its batches inside the timed epoch.

(b) ``SparseDense(784, 1024)`` at 5% density, forward and backward for a
batch of 128, against the dense layer of the same shape (rosenblatt's
``Dense`` and PyTorch's ``Linear``).

Targets: (a) >= 3x PyTorch node by node, >= 1/1.5 of PyTorch batched by
height; (b) faster than the dense layer.
"""

import numpy as np

import rosenblatt as rb
from benchmarks.common import torch_or_none
from rosenblatt.models.tree_ops import Forest, flatten_tree

DIM, CLASSES, BATCH, LR = 64, 5, 64, 0.01
VOCAB = 1000


def random_trees(n, seed=0):
    rng = np.random.default_rng(seed)
    trees = []
    for _ in range(n):
        nodes = [rb.datasets.Tree(int(rng.integers(VOCAB)), label=int(rng.integers(CLASSES)))
                 for _ in range(int(rng.integers(5, 31)))]
        while len(nodes) > 1:
            i = int(rng.integers(len(nodes) - 1))
            nodes[i:i + 2] = [rb.datasets.Tree(left=nodes[i], right=nodes[i + 1],
                                               label=int(rng.integers(CLASSES)))]
        trees.append(nodes[0])
    return trees


def rosenblatt_fn(trees):
    net = rb.models.RecursiveNet(VOCAB, DIM, CLASSES, rng=0)
    opt = rb.optim.SGD(net.parameters(), lr=LR)
    order = np.random.default_rng(1)

    def epoch():
        net.fit(trees, epochs=1, batch_size=BATCH, optimizer=opt, rng=order)

    return epoch


def _torch_params(torch):
    g = torch.Generator().manual_seed(0)
    P = {"E": torch.randn(VOCAB, DIM, generator=g) / DIM ** 0.5,
         "W": (torch.rand(2 * DIM, DIM, generator=g) - 0.5) * 2 * (6 / (3 * DIM)) ** 0.5,
         "b": torch.zeros(DIM), "Wc": torch.randn(DIM, CLASSES, generator=g) * 0.1,
         "bc": torch.zeros(CLASSES)}
    for p in P.values():
        p.requires_grad_(True)
    return P


def pytorch_node_fn(trees):
    """The usual recursive implementation: one call per node, a loss term per node."""
    torch = torch_or_none()
    if torch is None:
        return None
    P = _torch_params(torch)
    opt = torch.optim.SGD(list(P.values()), lr=LR)
    order = np.random.default_rng(1)

    def visit(node, states, labels):
        if node.is_leaf:
            h = P["E"][node.token]
        else:
            h = torch.tanh(torch.cat([visit(node.left, states, labels),
                                      visit(node.right, states, labels)]) @ P["W"] + P["b"])
        states.append(h)
        labels.append(node.label)
        return h

    def epoch():
        perm = order.permutation(len(trees))
        for s in range(0, len(perm), BATCH):
            states, labels = [], []
            for i in perm[s:s + BATCH]:
                visit(trees[i], states, labels)
            logits = torch.stack(states) @ P["Wc"] + P["bc"]
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor(labels))
            opt.zero_grad()
            loss.backward()
            opt.step()

    return epoch


def pytorch_height_fn(trees):
    """rosenblatt's algorithm in PyTorch: nodes ordered by height, one matmul per height."""
    torch = torch_or_none()
    if torch is None:
        return None
    P = _torch_params(torch)
    opt = torch.optim.SGD(list(P.values()), lr=LR)
    order = np.random.default_rng(1)

    def epoch():
        flats = [flatten_tree(t) for t in trees]  # as RecursiveNet.fit does, once per call
        perm = order.permutation(len(trees))
        for s in range(0, len(perm), BATCH):
            f = Forest.from_flat([flats[i] for i in perm[s:s + BATCH]])
            H = P["E"][torch.from_numpy(f.tokens)]
            left, right = torch.from_numpy(f.left), torch.from_numpy(f.right)
            for a, b in f.levels:
                k = slice(a - f.n_leaves, b - f.n_leaves)
                X = torch.cat([H[left[k]], H[right[k]]], dim=1)
                H = torch.cat([H, torch.tanh(X @ P["W"] + P["b"])])
            logits = H @ P["Wc"] + P["bc"]
            loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(f.labels))
            opt.zero_grad()
            loss.backward()
            opt.step()

    return epoch


SHAPE, DENSITY, SBATCH, STEPS = (784, 1024), 0.05, 128, 20


def _layer_steps(layer, x):
    opt = rb.optim.SGD(layer.parameters(), lr=0.01)
    g = np.ones((SBATCH, SHAPE[1]), np.float32) / SBATCH

    def run():
        for _ in range(STEPS):
            opt.zero_grad()
            layer(rb.tensor(x, requires_grad=True)).backward(g)
            opt.step()

    return run


def torch_linear_fn(x):
    torch = torch_or_none()
    if torch is None:
        return None
    layer = torch.nn.Linear(*SHAPE)
    opt = torch.optim.SGD(layer.parameters(), lr=0.01)
    xt = torch.from_numpy(x)
    g = torch.ones(SBATCH, SHAPE[1]) / SBATCH

    def run():
        for _ in range(STEPS):
            opt.zero_grad()
            inp = xt.clone().requires_grad_(True)
            layer(inp).backward(g)
            opt.step()

    return run


def workloads(quick):
    n = 2_000 if quick else 10_000
    trees = random_trees(n)
    nodes = sum(len(flatten_tree(t)[0]) for t in trees)
    x = np.random.default_rng(0).standard_normal((SBATCH, SHAPE[0]), dtype=np.float32)
    return [{
        "name": f"RecursiveNet dim {DIM}, epoch of {n:,} trees ({nodes:,} nodes), batch {BATCH}",
        "unit": "samples/s",  # trees/s
        "work": n,
        "rosenblatt": rosenblatt_fn(trees),
        "references": {"pytorch node by node": pytorch_node_fn(trees),
                       "pytorch by height": pytorch_height_fn(trees)},
        "target": ">= 3x PyTorch node by node, >= 1/1.5 of PyTorch by height",
        "target_ratio": {"pytorch node by node": 3.0, "pytorch by height": 1 / 1.5},
        "repeats": 3,
    }, {
        "name": f"SparseDense {SHAPE[0]}x{SHAPE[1]} at {DENSITY:.0%}, batch {SBATCH}, "
                f"{STEPS} forward+backward+SGD steps",
        "unit": "steps/s",
        "work": STEPS,
        "rosenblatt": _layer_steps(rb.nn.SparseDense(*SHAPE, density=DENSITY, rng=0), x),
        "references": {"rosenblatt Dense": _layer_steps(rb.nn.Dense(*SHAPE, rng=0), x),
                       "pytorch Linear": torch_linear_fn(x)},
        "target": "faster than the dense layer of the same shape",
        "target_ratio": {"rosenblatt Dense": 1.0},
    }]
