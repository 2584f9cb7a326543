"""Attention mechanisms (notes: "Attention mechanisms").

The notes: attention "amounts to a weighted sum across input states (typically
weights are normalized to sum to 1); higher weights indicate more focus". For
a query q (e.g. the decoder's state) and the encoder's states k_1 ... k_n:

    score_j   = q . k_j                              ("dot", Luong et al. 2015)
              = v . tanh(q W_q + k_j W_k + b)        ("additive", Bahdanau et al. 2015)
    alpha_j   = softmax(score)_j                     (the attention weights, sum 1;
                                                      masked positions get exactly 0)
    context   = sum_j alpha_j value_j                (values default to the keys)

Built from differentiable primitives (matmul, tanh, softmax), so any query
shape works: one query per example ``(batch, d)``, or one per decoding step
``(batch, steps, d)`` (all steps at once under teacher forcing).
"""

import numpy as np

from ..autodiff.tensor import Tensor
from ..checks import boolean, is_int, one_of, positive_int
from ..randomness import resolve_rng
from .activations import keep_mask, masked_softmax, softmax
from .init import _float_dtype
from .module import Module
from .parameter import Parameter

_KINDS = ("additive", "dot")


class Attention(Module):
    """Soft attention over a sequence of states; returns (context, weights).

    Parameters
    ----------
    kind : {"additive", "dot"}, default "additive"
    query_size, key_size : int, optional
        Needed for "additive" (the sizes of q and k).
    attention_size : int, optional
        The width of the additive scorer's hidden layer; default ``key_size``.
    scale : bool, default False
        "dot" only: divide the scores by sqrt(d) (Vaswani et al. 2017).
    rng : numpy.random.Generator, optional
    dtype : default float32

    Returns (when called as ``attention(query, keys, values=None, mask=None, causal=False)``)
    ------------------------------------------------------------------------------------------
    context : Tensor, shape (batch, d_v) or (batch, steps, d_v)
    weights : Tensor, shape (batch, time) or (batch, steps, time)
        Each row sums to 1; positions where ``mask`` (bool, (batch, time)) is False get
        exactly 0 whatever their score (:func:`rosenblatt.nn.functional.masked_softmax`),
        and an example with every position masked gets all-zero weights and a zero
        context. ``causal=True`` (queries (batch, steps, d) only) also masks the future:
        step i attends to positions j <= i (self-attention in a decoder; PyTorch's
        ``is_causal``, aligned at the top left when steps != time).

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> att = rb.nn.Attention("additive", query_size=4, key_size=6, rng=0)
    >>> ctx, w = att(np.ones((2, 4), dtype=np.float32), np.ones((2, 5, 6), dtype=np.float32))
    >>> ctx.shape, w.shape, np.allclose(w.data.sum(axis=-1), 1)
    ((2, 6), (2, 5), True)
    """

    @classmethod
    def state_shapes(cls, config):
        """``W_q`` (query_size, a), ``W_k`` (key_size, a), ``b`` (a,), ``v`` (a, 1) for the
        additive kind (a = attention_size or key_size); nothing for dot products."""
        one_of("Attention", "kind", config["kind"], _KINDS)
        if config["kind"] != "additive":
            return {}
        q = positive_int("Attention('additive')", "query_size", config["query_size"])
        k = positive_int("Attention('additive')", "key_size", config["key_size"])
        a = config["attention_size"]
        a = k if a is None else positive_int("Attention('additive')", "attention_size", a)
        return {"W_q": (q, a), "W_k": (k, a), "b": (a,), "v": (a, 1)}

    def __init__(self, kind="additive", query_size=None, key_size=None, attention_size=None,
                 scale=False, rng=None, dtype=np.float32):
        one_of("Attention", "kind", kind, _KINDS)
        self.kind = kind
        self.query_size = query_size
        self.key_size = key_size
        self.attention_size = attention_size
        self.scale = boolean("Attention", "scale", scale)
        if self.scale and kind != "dot":
            raise ValueError(f"Attention: scale=True applies to kind='dot' only (the additive "
                             f"scorer learns its own scale); got kind={kind!r}")
        dtype = _float_dtype("Attention", dtype)  # int weights would round to zero
        if kind == "dot":  # sizes are optional (unused); given, they must still be sizes
            for name, value in (("query_size", query_size), ("key_size", key_size),
                                ("attention_size", attention_size)):
                if value is not None:
                    positive_int("Attention('dot')", name, value)
        if kind == "additive":
            for name, value in (("query_size", query_size), ("key_size", key_size)):
                positive_int("Attention('additive')", name, value)
            if attention_size is not None and (not is_int(attention_size)
                                               or attention_size <= 0):
                raise ValueError(f"Attention('additive'): attention_size must be a positive "
                                 f"integer or None (key_size); got {attention_size!r}")
            a = int(attention_size or key_size)
            rng = resolve_rng(rng)

            def uniform(n_in, shape):
                bound = np.sqrt(6.0 / (n_in + a))
                return rng.uniform(-bound, bound, shape).astype(dtype)

            self.W_q = Parameter(uniform(query_size, (query_size, a)))
            self.W_k = Parameter(uniform(key_size, (key_size, a)))
            self.b = Parameter(np.zeros(a, dtype=dtype))
            self.v = Parameter(uniform(a, (a, 1)))

    def scores(self, query, keys):
        """Unnormalised scores, shape (batch, steps, time), for queries (batch, steps, d)."""
        if self.kind == "dot":
            s = query @ keys.swapaxes(-1, -2)
            if self.scale:
                s = s * (1.0 / np.sqrt(keys.shape[-1]))
            return s
        B, S, _ = query.shape
        a = self.W_q.shape[1]  # explicit sizes: -1 is ambiguous on 0 rows (an idle rank)
        q = (query @ self.W_q).reshape(B, S, 1, a)
        k = (keys @ self.W_k + self.b).reshape(B, 1, keys.shape[1], a)
        return ((q + k).tanh() @ self.v).reshape(B, S, keys.shape[1])

    def forward(self, query, keys, values=None, mask=None, causal=False):
        causal = boolean("Attention", "causal", causal)  # "False" is truthy: not a switch
        query = query if isinstance(query, Tensor) else Tensor(query)
        keys = keys if isinstance(keys, Tensor) else Tensor(keys)
        values = keys if values is None else values
        values = values if isinstance(values, Tensor) else Tensor(values)
        if keys.ndim != 3 or query.ndim not in (2, 3) or query.shape[0] != keys.shape[0]:
            raise ValueError(
                f"Attention: expected query (batch, d) or (batch, steps, d) and keys "
                f"(batch, time, d); got {tuple(query.shape)} and {tuple(keys.shape)}"
            )
        if self.kind == "dot" and query.shape[-1] != keys.shape[-1]:
            raise ValueError(f"Attention('dot'): query and keys need the same size; got "
                             f"{query.shape[-1]} and {keys.shape[-1]}")
        if self.kind == "additive" and (query.shape[-1] != self.query_size
                                        or keys.shape[-1] != self.key_size):
            raise ValueError(
                f"Attention('additive', query_size={self.query_size}, key_size={self.key_size}): "
                f"got query size {query.shape[-1]} and key size {keys.shape[-1]}"
            )
        if values.ndim != 3 or values.shape[:2] != keys.shape[:2]:
            raise ValueError(
                f"Attention: values must be (batch, time, d_v) with the keys' batch and time "
                f"{tuple(keys.shape[:2])}; got values {tuple(values.shape)} and keys "
                f"{tuple(keys.shape)}"
            )
        single = query.ndim == 2
        if causal and single:
            raise ValueError(f"Attention: causal=True needs queries of shape (batch, steps, d), "
                             f"one per step; got {tuple(query.shape)}")
        q = query.reshape(query.shape[0], 1, query.shape[1]) if single else query
        s = self.scores(q, keys)
        keep = None
        if mask is not None:
            keep = keep_mask(mask, "Attention", "mask")
            if keep.shape != (keys.shape[0], keys.shape[1]):
                raise ValueError(f"Attention: mask must have shape (batch, time) = "
                                 f"{(keys.shape[0], keys.shape[1])}; got {keep.shape}")
            keep = keep[:, None, :]
        if causal:  # step i sees positions j <= i (top-left aligned, as torch's is_causal)
            tri = np.tri(q.shape[1], keys.shape[1], dtype=bool)[None]
            keep = tri if keep is None else keep & tri
        if keep is not None:
            weights = masked_softmax(s, keep, axis=-1)
        else:
            weights = softmax(s, axis=-1)
        context = weights @ values
        if single:
            n = context.shape[0]  # explicit sizes: -1 is ambiguous on 0 rows (an idle rank)
            return (context.reshape(n, context.shape[-1]),
                    weights.reshape(n, weights.shape[-1]))
        return context, weights

    def extra_repr(self):
        if self.kind == "dot":
            return "'dot'" + (", scale=True" if self.scale else "")
        return f"'additive', query_size={self.query_size}, key_size={self.key_size}"
