"""Trees batched by height, and the composition op over a whole forest (notes: "Recursive Neural
Networks").

A :class:`Forest` flattens many binary trees into arrays and numbers their
nodes by height: the leaves (height 0) first, then every node of height 1
from every tree, then height 2, and so on. A node's children have smaller
heights, so once all nodes of heights below h are computed, the nodes of
height h, across all the trees, are one gather of their children and one
matrix product. :func:`compose_forest` runs that as one op: the forward
loops over the heights (not over nodes), the backward over the heights in
reverse, scattering each level's gradient into its children (every node
has one parent, so within a level the scatter indices are distinct and a
plain fancy-index add is exact).

Compositions of the two children ``a``, ``b`` (row vectors of size d):

- ``"tanh"`` (Goller and Kuechler 1996; Socher et al. 2011):
  ``p = tanh([a; b] W + w0)``.
- ``"matrix_vector"`` (MV-RNN, Socher et al. 2012): each node also has a
  matrix; children ``(a, A)``, ``(b, B)`` give
  ``p = tanh([B a; A b] W + w0)`` and ``P = W_M [A; B]``.
- ``"tensor"`` (RNTN, Socher et al. 2013): with ``x = [a; b]``,
  ``p_k = tanh(x^T V_k x + (x W)_k + w0_k)``.
"""

import numpy as np

from ..autodiff.tensor import _make as make, sum_to_shape
from ..datasets.trees import Tree, as_tree  # noqa: F401  (Tree: re-exported)

COMPOSITIONS = ("tanh", "matrix_vector", "tensor")


def flatten_tree(tree, where="tree"):
    """One tree as arrays in post-order: (heights, tokens, left, right, labels).

    ``tokens`` is -1 at inner nodes, ``left``/``right`` -1 at leaves (local
    post-order indices), ``labels`` -1 where a node has none. One iterative
    walk (no recursion: a chain of 10,000 negations is fine).
    """
    tree = as_tree(tree, where)
    heights, tokens, left, right, labels = [], [], [], [], []
    done = []  # post-order indices of finished subtrees, as a stack
    stack = [(tree, False)]
    while stack:
        node, expanded = stack.pop()
        if node.left is not None and not expanded:
            stack.extend(((node, True), (node.right, False), (node.left, False)))
            continue
        labels.append(-1 if node.label is None else node.label)
        if node.left is None:
            token = node.token
            # "(1 (0 3) (1 4))": ids as words; ASCII only ("²".isdigit() but int("²") fails)
            if isinstance(token, str) and token.isascii() and token.isdigit():
                token = int(token)
            if isinstance(token, bool) or not isinstance(token, (int, np.integer)):
                raise TypeError(f"{where}: leaf tokens must be integer ids; got "
                                f"{type(token).__name__} {token!r} (map words to ids, e.g. "
                                f"parse_tree(text, vocab=...))")
            tokens.append(token)
            heights.append(0)
            left.append(-1)
            right.append(-1)
        else:
            b = done.pop()
            a = done.pop()
            tokens.append(-1)
            heights.append(1 + max(heights[a], heights[b]))
            left.append(a)
            right.append(b)
        done.append(len(labels) - 1)
    return tuple(np.array(v, dtype=np.int64) for v in (heights, tokens, left, right, labels))


def scatter_rows(target, index, rows):
    """``target[index[i]] += rows[i]`` for repeated indices: a sort and one ``add.reduceat``.

    (``np.add.at`` does the same, several times slower for rows of a matrix.)
    """
    if len(index) == 0:
        return target
    order = np.argsort(index, kind="stable")
    sorted_index = index[order]
    starts = np.flatnonzero(np.r_[True, sorted_index[1:] != sorted_index[:-1]])
    target[sorted_index[starts]] += np.add.reduceat(rows[order], starts, axis=0)
    return target


class Forest:
    """Many trees, their nodes numbered by height (leaves first).

    Built by :meth:`from_flat` from :func:`flatten_tree` outputs with array
    operations only (a concatenation and one stable sort by height).

    Attributes
    ----------
    n_nodes, n_leaves, n_trees : int
    tokens : ndarray (n_leaves,)
        The leaves' token ids.
    left, right : ndarray (n_nodes - n_leaves,)
        The children of the inner nodes, ``n_leaves + j`` being inner node j.
    levels : list of (start, end)
        The node range of each height 1, 2, ...
    labels : ndarray (n_nodes,), -1 where unlabelled
    roots : ndarray (n_trees,)
    position : ndarray (n_nodes,)
        ``position[offsets[i] + j]``: where tree i's j-th node (post-order) lives.
    offsets : ndarray (n_trees + 1,)
    """

    @classmethod
    def from_trees(cls, trees, where="forest"):
        return cls.from_flat([flatten_tree(t, f"{where}: tree {i}") for i, t in enumerate(trees)])

    @classmethod
    def from_flat(cls, flats):
        if not flats:
            raise ValueError("Forest: got no trees")
        sizes = np.array([len(f[0]) for f in flats], dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(sizes)))
        heights = np.concatenate([f[0] for f in flats])
        tokens = np.concatenate([f[1] for f in flats])
        labels = np.concatenate([f[4] for f in flats])
        shift = np.repeat(offsets[:-1], sizes)
        left = np.concatenate([f[2] for f in flats])
        right = np.concatenate([f[3] for f in flats])
        inner = left >= 0
        left[inner] += shift[inner]
        right[inner] += shift[inner]
        order = np.argsort(heights, kind="stable")
        position = np.empty_like(order)
        position[order] = np.arange(len(order))
        self = cls()
        self.n_nodes, self.n_trees = len(order), len(flats)
        self.n_leaves = int(np.count_nonzero(heights == 0))
        hs = heights[order]
        self.tokens = tokens[order[:self.n_leaves]]
        self.left = position[left[order[self.n_leaves:]]]
        self.right = position[right[order[self.n_leaves:]]]
        top = int(hs[-1])
        bounds = np.searchsorted(hs, np.arange(1, top + 2))
        self.levels = [(int(bounds[h]), int(bounds[h + 1])) for h in range(top)]
        self.labels = labels[order]
        self.roots = position[offsets[1:] - 1]
        self.position, self.offsets = position, offsets
        return self

    def check_tokens(self, vocab_size, owner):
        """Raise a ValueError naming the tree of the first token outside [0, vocab_size)."""
        bad = (self.tokens < 0) | (self.tokens >= vocab_size)
        if bad.any():
            leaf = int(np.argmax(bad))
            node = int(np.flatnonzero(self.position == leaf)[0])
            tree = int(np.searchsorted(self.offsets, node, side="right") - 1)
            raise ValueError(f"{owner}: token id {int(self.tokens[leaf])} in tree {tree} is "
                             f"outside the vocabulary (valid: 0 to {vocab_size - 1})")


def compose_forest(forest, composition, E, W, b, *extra):
    """Every node's vector, computed height by height, as one op.

    Parameters
    ----------
    forest : Forest
    composition : {"tanh", "matrix_vector", "tensor"}
    E : Tensor (vocab_size, d)
        The word vectors (the leaves).
    W : Tensor (2d, d), b : Tensor (d,)
        The association module A.
    *extra : Tensor
        ``"matrix_vector"``: the word matrices ``EM`` (vocab_size, d, d) and
        ``WM`` (d, 2d); ``"tensor"``: ``V`` (d, 2d, 2d).

    Returns
    -------
    Tensor (n_nodes, d), the nodes in the forest's height order.
    """
    f = forest
    Ed, Wd, bd = E.data, W.data, b.data
    d, L = Ed.shape[1], f.n_leaves
    H = np.empty((f.n_nodes, d), dtype=Wd.dtype)
    H[:L] = Ed[f.tokens]
    mv = composition == "matrix_vector"
    if mv:
        EMd, WMd = extra[0].data, extra[1].data
        M = np.empty((f.n_nodes, d, d), dtype=Wd.dtype)
        M[:L] = EMd[f.tokens]
    elif composition == "tensor":
        Vd = extra[0].data
        # x @ Vflat -> Y[n, k, j] = sum_i x_i V[k, i, j]; x @ Vflat_t -> sum_i x_i V[k, j, i]
        Vflat = Vd.transpose(1, 0, 2).reshape(2 * d, 2 * d * d)
        Vflat_t = Vd.transpose(2, 0, 1).reshape(2 * d, 2 * d * d)

    def inputs(k):
        """The level's input rows X, and what backward needs to recompute them."""
        li, ri = f.left[k], f.right[k]
        if mv:
            A, B = M[li], M[ri]
            X = np.concatenate((np.matmul(B, H[li][:, :, None])[:, :, 0],
                                np.matmul(A, H[ri][:, :, None])[:, :, 0]), axis=1)
            return X, li, ri, A, B
        return np.concatenate((H[li], H[ri]), axis=1), li, ri, None, None

    for s, e in f.levels:
        k = slice(s - L, e - L)
        X, li, ri, A, B = inputs(k)
        Z = X @ Wd
        Z += bd
        if composition == "tensor":
            Y = (X @ Vflat).reshape(len(X), d, 2 * d)
            Z += np.matmul(Y, X[:, :, None])[:, :, 0]
        np.tanh(Z, out=H[s:e])
        if mv:  # P = WM[:, :d] A + WM[:, d:] B
            M[s:e] = np.matmul(WMd[:, :d], A) + np.matmul(WMd[:, d:], B)

    def backward(g):
        G = np.array(g, dtype=H.dtype, copy=True)
        dW, db = np.zeros_like(Wd), np.zeros_like(bd)
        if mv:
            GM = np.zeros_like(M)
            dWM = np.zeros_like(WMd)
        elif composition == "tensor":
            dV = np.zeros_like(Vd)
        for s, e in reversed(f.levels):
            k = slice(s - L, e - L)
            X, li, ri, A, B = inputs(k)
            Hl = H[s:e]
            Gl = G[s:e] * (1 - Hl * Hl)
            dW += X.T @ Gl
            db += sum_to_shape(Gl, bd.shape)  # (a level's float16 rows summed in float32)
            dX = Gl @ Wd.T
            if composition == "tensor":
                # d(x^T V_k x)/dx = (V_k + V_k^T) x
                Y = (X @ Vflat).reshape(len(X), d, 2 * d)
                Y2 = (X @ Vflat_t).reshape(len(X), d, 2 * d)
                dX += np.matmul(Gl[:, None, :], Y + Y2)[:, 0, :]
                outer = X[:, :, None] * X[:, None, :]
                dV += (Gl.T @ outer.reshape(len(X), -1)).reshape(Vd.shape)
            if mv:
                du, dv = dX[:, :d], dX[:, d:]
                a, bb = H[li], H[ri]
                dP = GM[s:e]
                # u = B a, v = A b, P = WM1 A + WM2 B
                G[li] += np.matmul(B.transpose(0, 2, 1), du[:, :, None])[:, :, 0]
                G[ri] += np.matmul(A.transpose(0, 2, 1), dv[:, :, None])[:, :, 0]
                GM[ri] += du[:, :, None] * a[:, None, :] + np.matmul(WMd[:, d:].T, dP)
                GM[li] += dv[:, :, None] * bb[:, None, :] + np.matmul(WMd[:, :d].T, dP)
                dWM[:, :d] += np.einsum("nij,nkj->ik", dP, A)
                dWM[:, d:] += np.einsum("nij,nkj->ik", dP, B)
            else:
                G[li] += dX[:, :d]
                G[ri] += dX[:, d:]
        dE = scatter_rows(np.zeros_like(Ed), f.tokens, G[:L])
        grads = [dE, dW, db]
        if mv:
            dEM = scatter_rows(np.zeros_like(EMd), f.tokens, GM[:L])
            grads += [dEM, dWM]
        elif composition == "tensor":
            grads.append(dV)
        return tuple(grads)

    return make(H, (E, W, b) + tuple(extra), backward)


__all__ = ["COMPOSITIONS", "Forest", "Tree", "compose_forest", "flatten_tree"]
