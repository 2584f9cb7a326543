"""One-hot and embedding inputs (notes: "RNN inputs").

A term (a word, a character) is an index into a vocabulary. The notes give
two representations: a one-hot vector (all zeros and one 1), and a row of an
embedding matrix E that the network learns. Multiplying a one-hot vector by
E selects a row, so :func:`embedding` is that product without the zeros: a
gather in the forward, and in the backward a scatter-add of the gradient rows
into dE (an index that occurs k times gets the sum of its k gradients).
"""

import numpy as np

from ..autodiff.tensor import Tensor, _make as make
from ..checks import is_int, positive_int
from . import init as initializers
from ._operands import as_tensor
from .module import Module
from .parameter import Parameter


def _indices(indices, num, where):
    idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind == "f":
        if not np.all(np.mod(idx, 1) == 0):
            raise TypeError(f"{where}: indices must be integers; got non-integral floats")
    elif idx.dtype.kind not in "iu":
        raise TypeError(f"{where}: indices must be integers; got dtype {idx.dtype}")
    # the range is checked before a float's cast to int64: 1e30 would wrap to -2**63
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        bad = idx[(idx < 0) | (idx >= num)].reshape(-1)[0]
        raise ValueError(f"{where}: index {int(bad)} is out of range for {num} entries "
                         f"(valid: 0 to {num - 1})")
    return idx.astype(np.int64) if idx.dtype.kind == "f" else idx


def _padding_index(padding_idx, num, where):
    """``padding_idx`` as a row number in ``[0, num)`` (negative counts from the end), or None.

    Checked where it is given: NumPy reads ``W[True]`` as every row (the whole gradient
    would be zeroed) and an index out of range would fail only in backward.
    """
    if padding_idx is None:
        return None
    if not is_int(padding_idx) or not -num <= padding_idx < num:
        raise ValueError(f"{where}: padding_idx must be an integer in [-{num}, {num}) or None; "
                         f"got {padding_idx!r}")
    return int(padding_idx) % num


def one_hot(indices, num_classes, dtype=np.float32):
    """One-hot vectors: shape ``indices.shape + (num_classes,)``.

    ``num_classes`` must be a positive integer; an index outside ``[0, num_classes)`` or
    one that is not an integer (``1.5``; integral floats such as ``2.0`` are taken) raises.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> rb.nn.one_hot([2, 0], 3)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    num_classes = positive_int("one_hot", "num_classes", num_classes)
    idx = _indices(indices, num_classes, "one_hot")
    out = np.zeros(idx.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(out, idx[..., None], 1, axis=-1)
    return out


def embedding(indices, weight, padding_idx=None):
    """Rows ``weight[indices]`` as one op; the backward scatter-adds into the rows.

    Parameters
    ----------
    indices : array_like of int, any shape
    weight : Tensor or array_like, shape (num_embeddings, embedding_dim)
    padding_idx : int in ``[-num_embeddings, num_embeddings)``, optional
        A row that receives no gradient (the padding token's, as PyTorch's
        ``padding_idx``; negative counts from the end).

    Returns
    -------
    Tensor, shape ``indices.shape + (embedding_dim,)``

    Raises
    ------
    ValueError
        For an index or a ``padding_idx`` out of range, a ``padding_idx`` that is not
        an integer (``True`` included), or a ``weight`` that is not 2-D.
    TypeError
        For indices that are not integers.
    """
    weight = as_tensor(weight, "embedding", "weight")
    W = weight.data
    if W.ndim != 2:
        raise ValueError(f"embedding: weight must be (num_embeddings, embedding_dim); got "
                         f"shape {W.shape}")
    padding_idx = _padding_index(padding_idx, W.shape[0], "embedding")
    idx = _indices(indices, W.shape[0], "embedding")
    out = W[idx]

    def backward(g):
        # Scatter-add as a sum of rows per index: bincount over each column would
        # loop in Python; np.add.at on the flat rows is vectorised in NumPy >= 2.
        # float16 rows add up in float32, as PyTorch's: a float16 running sum stops growing
        # at 2,048 (an index seen 5,000 times with a gradient of 1 got 2048)
        gw = np.zeros_like(W, dtype=np.float32 if W.dtype.itemsize < 4 else None)
        np.add.at(gw, idx.reshape(-1), g.reshape(-1, W.shape[1]))
        if padding_idx is not None:
            gw[padding_idx] = 0
        return (gw.astype(W.dtype, copy=False),)

    return make(out, (weight,), backward)


class Embedding(Module):
    """A learned embedding matrix: index -> vector.

    Parameters
    ----------
    num_embeddings : int
        The vocabulary size.
    embedding_dim : int
    init : str or callable, default "normal" with std 1 (PyTorch's N(0, 1))
        A ``rb.nn.init`` name or callable ``fn(shape, fan_in=, fan_out=, rng=)`` (see
        :func:`rosenblatt.nn.init.get`); the layer keeps a copy of what the callable
        returns, so pretrained vectors passed that way are not changed (their padding row
        is zeroed in the copy only).
    rng : numpy.random.Generator, optional
    dtype : default float32
    padding_idx : int, optional
        The padding token's index (negative counts from the end): its row
        starts at zeros and gets no gradient, so it stays zero (PyTorch's
        ``padding_idx``). ``rb.optim.GradientNoise`` adds no noise to it (given
        the model; ``rb.fit`` gives it). Weight decay is no gradient: a padding
        row set non-zero by hand decays under an optimizer's ``weight_decay``, as
        in PyTorch (a zero row stays zero).

    Attributes
    ----------
    W : Parameter, shape (num_embeddings, embedding_dim)

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> emb = rb.nn.Embedding(10, 4, rng=0)
    >>> emb(np.array([[1, 2, 3]])).shape
    (1, 3, 4)
    """

    @classmethod
    def state_shapes(cls, config):
        """``W`` (num_embeddings, embedding_dim)."""
        return {"W": (positive_int("Embedding", "num_embeddings", config["num_embeddings"]),
                      positive_int("Embedding", "embedding_dim", config["embedding_dim"]))}

    # a row per word: MaxNorm bounds each embedding vector's norm (as torch's max_norm)
    incoming_axes = {"W": (1,)}

    def __init__(self, num_embeddings, embedding_dim, init=None, rng=None, dtype=np.float32,
                 padding_idx=None):
        self.num_embeddings = positive_int("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = positive_int("Embedding", "embedding_dim", embedding_dim)
        self.padding_idx = _padding_index(padding_idx, self.num_embeddings, "Embedding")
        shape = (self.num_embeddings, self.embedding_dim)
        if init is None:
            data = initializers.normal(shape, std=1.0, rng=rng, dtype=dtype)
        else:
            data = initializers.get(init, "Embedding")(shape, fan_in=self.num_embeddings,
                                          fan_out=self.embedding_dim, rng=rng, dtype=dtype)
        if self.padding_idx is not None:
            data[self.padding_idx] = 0
        self.W = Parameter(data)

    def forward(self, indices):
        # checked here too so that an error names this layer, not the op
        idx = _indices(indices, self.num_embeddings, f"Embedding({self.extra_repr()})")
        return embedding(idx, self.W, self.padding_idx)

    def extra_repr(self):
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"
