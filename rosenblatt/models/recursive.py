"""Recursive (tree-structured) neural networks (notes: "Other neural networks", "Recursive Neural
Networks").

The notes' association module A takes two representations and merges them
into one of the same size, so that it can take "either a representation
from a word (via a W module) or from a phrase (via another A module)":
applied over a parse tree, modules feed modules of the same type. Leaves
are word vectors (W, an embedding), every inner node is A(left, right), and
a softmax classifier reads every node (sentiment per phrase, as in the
Stanford Sentiment Treebank) or only the root.

Training batches many trees at once by height (:mod:`.tree_ops`): one
gather and one matrix product per height for the whole batch, forward and
backward, with no Python recursion per node.
"""

import numpy as np

from ..autodiff.shape import getitem
from ..autodiff.tensor import no_grad
from ..checks import one_of, positive_float, positive_int
from ..datasets.trees import Tree
from ..nn import init as initializers
from ..nn.dense import dense
from ..nn.losses import cross_entropy
from ..nn.module import Module
from ..nn.parameter import Parameter
from ..optim.adam import Adam
from ..randomness import resolve_rng
from ..training.fit import _check_optimizer_owns_model
from .tree_ops import COMPOSITIONS, Forest, compose_forest, flatten_tree


class RecursiveNet(Module):
    """Word vectors merged by an association module over binary parse trees, with a classifier.

    Parameters
    ----------
    vocab_size : int
    dim : int
        The size of every node's vector.
    n_classes : int
    composition : {"tanh", "matrix_vector", "tensor"}, default "tanh"
        ``"tanh"``: ``p = tanh([a; b] W + w0)``; ``"matrix_vector"``: Socher's
        MV-RNN (every word and phrase also has a d x d matrix that acts on its
        sibling); ``"tensor"``: Socher's RNTN (adds ``x^T V_k x``).
    classify : {"nodes", "root"}, default "nodes"
        Train the classifier on every labelled node, or on the roots only.
    rng : numpy.random.Generator or int, optional
    dtype : default float32

    Attributes
    ----------
    E : Parameter (vocab_size, dim)
        The word vectors (the notes' W module).
    W : Parameter (2 dim, dim), b : Parameter (dim,)
        The association module A.
    EM : Parameter (vocab_size, dim, dim), WM : Parameter (dim, 2 dim)
        ``"matrix_vector"`` only: word matrices and the matrix composition.
    V : Parameter (dim, 2 dim, 2 dim)
        ``"tensor"`` only.
    Wc : Parameter (dim, n_classes), bc : Parameter (n_classes,)
        The classifier.

    Notes
    -----
    For a node with children vectors :math:`a, b`:

    .. math::

        p = \\tanh([a; b] W + w_0), \\qquad
        \\hat y_p = \\operatorname{softmax}(p W_c + b_c)

    The loss is the mean cross-entropy over the labelled nodes; its gradient
    flows down the tree through every A to the word vectors (backpropagation
    through structure, Goller and Kuechler 1996).

    References
    ----------
    Bottou, "From machine learning to machine reasoning", 2011.
    Socher, Huval, Manning and Ng, "Semantic compositionality through recursive
    matrix-vector spaces", EMNLP 2012.
    Socher et al., "Recursive deep models for semantic compositionality over a
    sentiment treebank", EMNLP 2013.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> net = rb.models.RecursiveNet(vocab_size=5, dim=4, n_classes=2, rng=0)
    >>> net.node_vectors(((1, 2), 3)).shape
    (5, 4)
    >>> net.predict(["(1 (0 3) (1 2))", (3, 4)]).shape
    (2,)
    """

    @classmethod
    def state_shapes(cls, config):
        """``E`` (vocab_size, dim), ``W`` (2 dim, dim), ``b``, the composition's ``EM`` and
        ``WM`` (matrix_vector) or ``V`` (tensor), ``Wc`` (dim, n_classes) and ``bc``."""
        owner = "RecursiveNet"
        V = positive_int(owner, "vocab_size", config["vocab_size"])
        d = positive_int(owner, "dim", config["dim"])
        c = positive_int(owner, "n_classes", config["n_classes"])
        composition = one_of(owner, "composition", config["composition"], COMPOSITIONS)
        shapes = {"E": (V, d), "W": (2 * d, d), "b": (d,)}
        if composition == "matrix_vector":
            shapes.update(EM=(V, d, d), WM=(d, 2 * d))
        elif composition == "tensor":
            shapes["V"] = (d, 2 * d, 2 * d)
        shapes.update(Wc=(d, c), bc=(c,))
        return shapes

    def __init__(self, vocab_size, dim, n_classes, composition="tanh", classify="nodes",
                 rng=None, dtype=np.float32):
        owner = "RecursiveNet"
        self.vocab_size = positive_int(owner, "vocab_size", vocab_size)
        self.dim = positive_int(owner, "dim", dim)
        self.n_classes = positive_int(owner, "n_classes", n_classes)
        self.composition = one_of(owner, "composition", composition, COMPOSITIONS)
        self.classify = one_of(owner, "classify", classify, ("nodes", "root"))
        rng = resolve_rng(rng)
        d = self.dim
        self.E = Parameter(initializers.normal((self.vocab_size, d), std=1.0 / np.sqrt(d),
                                               rng=rng, dtype=dtype))
        self.W = Parameter(initializers.get("glorot_uniform", owner)(
            (2 * d, d), fan_in=2 * d, fan_out=d, rng=rng, dtype=dtype))
        self.b = Parameter(np.zeros(d, dtype=dtype))
        if self.composition == "matrix_vector":
            # Socher et al. 2012: word matrices start near the identity
            noise = initializers.normal((self.vocab_size, d, d), std=0.01, rng=rng, dtype=dtype)
            self.EM = Parameter(noise + np.eye(d, dtype=dtype))
            self.WM = Parameter(np.concatenate([np.eye(d, dtype=dtype)] * 2, axis=1) / 2
                                + initializers.normal((d, 2 * d), std=0.01, rng=rng,
                                                      dtype=dtype))
        elif self.composition == "tensor":
            self.V = Parameter(initializers.normal((d, 2 * d, 2 * d), std=0.01 / np.sqrt(d),
                                                   rng=rng, dtype=dtype))
        self.Wc = Parameter(initializers.get("glorot_uniform", owner)(
            (d, self.n_classes), fan_in=d, fan_out=self.n_classes, rng=rng, dtype=dtype))
        self.bc = Parameter(np.zeros(self.n_classes, dtype=dtype))

    # -- structure ----------------------------------------------------------------------
    def _extra(self):
        if self.composition == "matrix_vector":
            return (self.EM, self.WM)
        if self.composition == "tensor":
            return (self.V,)
        return ()

    def forest(self, trees):
        """A :class:`~rosenblatt.models.tree_ops.Forest` of ``trees``, with the tokens checked."""
        if isinstance(trees, Forest):
            forest = trees
        else:
            forest = Forest.from_trees(_many(trees), "RecursiveNet")
        forest.check_tokens(self.vocab_size, "RecursiveNet")
        return forest

    def node_tensor(self, trees):
        """Every node's vector, with the forest that orders them.

        Returns
        -------
        forest : Forest
            The Forest of ``trees`` (``trees`` itself if it is one).
        H : Tensor, shape (n_nodes, dim)
            Every node's vector in the forest's height order: ``H[forest.roots]`` are the
            roots, ``H[forest.position]`` the nodes in post-order, tree after tree.
        """
        forest = self.forest(trees)
        return forest, compose_forest(forest, self.composition, self.E, self.W, self.b,
                                      *self._extra())

    def forward(self, trees):
        """The roots' class scores (logits), shape (n_trees, n_classes)."""
        forest, H = self.node_tensor(trees)
        return dense(getitem(H, forest.roots), self.Wc, self.bc)

    def loss(self, trees, y=None):
        """Mean cross-entropy over the labelled nodes (or roots, with ``classify="root"``).

        ``y`` (one label per tree) sets the roots' labels.
        """
        forest = self.forest(trees)
        labels = self._labels(forest, y, "RecursiveNet.loss")
        index = self._scored(forest, labels)
        if len(index) == 0:
            raise ValueError("RecursiveNet: no labelled node to train on (give y, or trees "
                             "with labels)")
        return self._loss(forest, labels, index)

    def _scored(self, forest, labels):
        """The nodes the loss scores: the labelled ones (or labelled roots, ``classify="root"``)."""
        if self.classify == "root":
            return forest.roots[labels[forest.roots] >= 0]
        return np.flatnonzero(labels >= 0)

    def _loss(self, forest, labels, index):
        """The loss of a forest whose tokens are checked (by :meth:`forest`, or by ``fit`` for
        all its trees at once)."""
        H = compose_forest(forest, self.composition, self.E, self.W, self.b, *self._extra())
        chosen = H if len(index) == forest.n_nodes else getitem(H, index)  # all: no gather
        return cross_entropy(dense(chosen, self.Wc, self.bc), labels[index])

    def _root_labels(self, y, n_trees, where):
        """``y`` as int64 root labels: one per tree, each an integer in 0 .. n_classes - 1."""
        y = np.asarray(y)
        if y.shape != (n_trees,):
            raise ValueError(f"{where}: y must hold one label per tree ({n_trees}); got shape "
                             f"{y.shape}")
        if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            y = y.astype(np.int64)  # integral floats (2.0) are labels; 1.7 is not
        if y.dtype.kind not in "iu":
            got = f"dtype {y.dtype}"
            if y.dtype.kind == "f":
                odd = y[~np.isfinite(y) | (y != np.round(y))]
                got = f"the value {float(odd[0])!r}"
            raise TypeError(f"{where}: y must hold integer class labels 0 to "
                            f"{self.n_classes - 1}; got {got}")
        bad = (y < 0) | (y >= self.n_classes)
        if bad.any():
            raise ValueError(f"{where}: y: label {int(y[bad][0])} is outside 0 to "
                             f"{self.n_classes - 1} (n_classes={self.n_classes}); every tree "
                             f"given y needs a label (leave y out to train on the trees' own "
                             f"labels)")
        return y.astype(np.int64, copy=False)

    def _labels(self, forest, y, where="RecursiveNet", checked=False):
        """The forest's labels as the loss reads them (``y``, one per tree, on the roots).
        ``checked``: ``y`` and the labels were checked already (``fit``, for all its trees)."""
        labels = forest.labels.copy()
        if self.classify == "root":
            # only the roots are scored: inner labels (SST's 0-4 on every node) are not
            # read, so they are neither checked nor kept
            roots = labels[forest.roots]
            labels[:] = -1
            labels[forest.roots] = roots
        if y is not None:
            labels[forest.roots] = y if checked else self._root_labels(y, forest.n_trees, where)
        if checked:
            return labels
        bad = labels >= self.n_classes
        if bad.any():
            raise ValueError(f"{where}: label {int(labels[bad][0])} is outside 0 to "
                             f"{self.n_classes - 1} (n_classes={self.n_classes})")
        return labels

    def _check_tokens(self, flats, where):
        """Every leaf token of the flattened trees in 0 .. vocab_size - 1; the error names the
        tree by its index in the data (not in a mini-batch)."""
        sizes = [len(f[1]) for f in flats]
        tokens = np.concatenate([f[1] for f in flats])
        leaf = np.concatenate([f[2] for f in flats]) < 0
        bad = leaf & ((tokens < 0) | (tokens >= self.vocab_size))
        if bad.any():
            k = int(np.argmax(bad))
            tree = int(np.searchsorted(np.cumsum(sizes), k, side="right"))
            raise ValueError(f"{where}: token id {int(tokens[k])} in tree {tree} is outside the "
                             f"vocabulary (valid: 0 to {self.vocab_size - 1})")

    def _check_labels(self, flats, y, where):
        """The labels training reads (:meth:`_labels`) in 0 .. n_classes - 1, checked once for
        the whole data: the error names the tree by its index in the data."""
        ends = np.cumsum([len(f[4]) for f in flats])
        labels = np.concatenate([f[4] for f in flats])
        read = np.full(len(labels), self.classify != "root")
        read[ends - 1] = y is None  # the roots (post-order: last); y, checked, replaces them
        bad = read & (labels >= self.n_classes)
        if bad.any():
            k = int(np.argmax(bad))
            tree = int(np.searchsorted(ends, k, side="right"))
            raise ValueError(f"{where}: label {int(labels[k])} in tree {tree} is outside 0 to "
                             f"{self.n_classes - 1} (n_classes={self.n_classes})")

    # -- training -----------------------------------------------------------------------
    def fit(self, trees, y=None, *, epochs=10, batch_size=32, optimizer=None, lr=0.01,
            rng=None, callback=None):
        """Train on ``trees`` with mini-batches batched by height; returns the epoch losses.

        Parameters
        ----------
        trees : sequence of Tree, bracket strings or nested 2-tuples of token ids
        y : array_like of int, shape (n_trees,), optional
            Root labels in ``0 .. n_classes - 1`` (overriding any in the trees).
        epochs, batch_size : int
        optimizer : rb.optim optimizer, optional
            Default ``Adam(self.parameters(), lr=lr)``.
        lr : float, default 0.01
        rng : numpy.random.Generator or int, optional
            Shuffles the trees every epoch.
        callback : callable, optional
            ``callback(epoch, loss)`` after every epoch.

        Trees without a labelled node may be mixed with labelled ones (they
        still shape nothing on their own): a mini-batch that holds only such
        trees takes no step and is left out of the epoch's mean loss. A set
        with no labelled node at all is refused before training.

        Returns
        -------
        list of float: the mean training loss of each epoch (over the trees of
        the batches that took a step).

        Raises
        ------
        ValueError
            Before the first step: a token outside ``0 .. vocab_size - 1`` or a
            label (one that training reads) outside ``0 .. n_classes - 1``,
            naming the tree by its index in ``trees``; no labelled node; an
            ``optimizer`` that holds none of the model's parameters (as ``rb.fit``;
            one that misses some is warned about).
        TypeError
            For a ``callback`` that is not callable, or one tree (a tuple of token
            ids, a bracket string) given where a list of trees belongs.
        """
        epochs = positive_int("RecursiveNet.fit", "epochs", epochs)
        batch_size = positive_int("RecursiveNet.fit", "batch_size", batch_size)
        if callback is not None and not callable(callback):
            raise TypeError(f"RecursiveNet.fit: callback must be callable as callback(epoch, "
                            f"loss); got {type(callback).__name__}")
        rng = resolve_rng(rng)
        flats = [flatten_tree(t, f"RecursiveNet.fit: tree {i}")
                 for i, t in enumerate(_many(trees))]
        if not flats:
            raise ValueError("RecursiveNet.fit: got no trees")
        # the whole data checked once, before the first step (not batch by batch, which
        # would train on the trees before a bad one and name it by its place in its batch)
        self._check_tokens(flats, "RecursiveNet.fit")
        if y is not None:
            y = self._root_labels(y, len(flats), "RecursiveNet.fit")
        self._check_labels(flats, y, "RecursiveNet.fit")
        if y is None:
            # once, before any step: a data set with nothing to learn from is refused
            # (a flat tree's labels are f[4], its root last; the first labelled tree ends
            # the search, with no forest built)
            root = self.classify == "root"
            if not any((np.asarray(f[4])[-1:] if root else np.asarray(f[4])).max(initial=-1)
                       >= 0 for f in flats):
                raise ValueError(f"RecursiveNet.fit: no labelled node (no tree has one "
                                 f"{'at its root' if self.classify == 'root' else 'anywhere'}) to "
                                 f"train on; give y (one label per tree) or labelled trees")
        if optimizer is None:
            optimizer = Adam(self.parameters(), lr=positive_float("RecursiveNet.fit", "lr", lr))
        else:  # as rb.fit: an optimizer of another model would silently train nothing
            _check_optimizer_owns_model(optimizer, self)
        losses = []
        self.train()
        for epoch in range(epochs):
            order = rng.permutation(len(flats))
            total, seen = 0.0, 0
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                forest = Forest.from_flat([flats[i] for i in idx])
                labels = self._labels(forest, None if y is None else y[idx], checked=True)
                index = self._scored(forest, labels)
                if len(index) == 0:  # unlabelled trees only (of a partly labelled set): no step
                    continue
                loss = self._loss(forest, labels, index)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.item()) * len(idx)
                seen += len(idx)
            losses.append(total / seen if seen else float("nan"))
            if callback is not None:
                callback(epoch, losses[-1])
        return losses

    # -- reading the model ----------------------------------------------------------------
    def predict(self, trees, batch_size=1024):
        """The root class of each tree, shape (n_trees,)."""
        batch_size = positive_int("RecursiveNet.predict", "batch_size", batch_size)
        flats = [flatten_tree(t, f"RecursiveNet.predict: tree {i}")
                 for i, t in enumerate(_many(trees))]
        if flats:  # checked whole: an error names the tree's index in trees, not in a batch
            self._check_tokens(flats, "RecursiveNet.predict")
        out = []
        with no_grad(), self.evaluating():
            for start in range(0, len(flats), batch_size):
                forest = Forest.from_flat(flats[start:start + batch_size])
                out.append(self(forest).data.argmax(axis=1))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def node_vectors(self, tree):
        """Every node's vector of one tree, in post-order (children before parents), (n, dim)."""
        with no_grad():
            forest, H = self.node_tensor([tree])
        return H.data[forest.position]

    def predict_nodes(self, tree):
        """Every node's class probabilities of one tree, in post-order, (n, n_classes)."""
        H = self.node_vectors(tree)
        z = H @ self.Wc.data + self.bc.data
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def extra_repr(self):
        return (f"vocab_size={self.vocab_size}, dim={self.dim}, n_classes={self.n_classes}, "
                f"composition={self.composition!r}, classify={self.classify!r}")


def _many(trees):
    """``trees`` as a list, refusing one tree given where a list of trees is expected."""
    if isinstance(trees, (str, int, np.integer, Tree)) or (
            isinstance(trees, tuple) and not all(isinstance(t, (Tree, str)) for t in trees)):
        raise TypeError("RecursiveNet: expected a list of trees (a tuple of token ids is one "
                        "tree: wrap it in a list, [tree])")
    return list(trees)
