"""A word module reused over a window of words (notes: "Other neural networks", "Modular Neural
Networks").

The notes' example (Bottou 2011): a trained network W maps a word to its
vector; the same W, applied to each of five words, feeds a second network R
that reads the five vectors side by side and outputs a score s. The window
network holds W once: its parameters appear once in ``parameters()`` and in
an optimizer's flat vector, and their gradient is the sum over the five
positions. Freeze W (``word_module.freeze()``) to train R alone on top of it,
or pass ``word_module.clone()`` to fine-tune a copy and keep the original.
"""

import numpy as np

from ..autodiff.shape import reshape
from ..autodiff.tensor import Tensor, no_grad
from ..checks import positive_int
from ..nn.activations import Tanh
from ..nn.dense import Dense
from ..nn.module import Module, Sequential
from ..nn.registry import shapes_of
from ..randomness import resolve_rng


def _output_width(word_module, owner):
    for name in ("embedding_dim", "out_features"):
        width = getattr(word_module, name, None)
        if isinstance(width, (int, np.integer)):
            return int(width)
    with no_grad():  # a module of another kind: ask it what one word becomes
        out = word_module(np.zeros((1, 1), dtype=np.int64))
    shape = out.shape
    if len(shape) != 3:
        raise ValueError(f"{owner}: word_module must map (batch, window) token ids to "
                         f"(batch, window, dim) vectors; it gave shape {tuple(shape)}")
    return int(shape[-1])


class WindowClassifier(Module):
    """R(W(w1), ..., W(wn)): a shared word module over a fixed window, then a head.

    Parameters
    ----------
    word_module : Module
        Maps token ids ``(batch, window)`` to vectors ``(batch, window, dim)``
        (``rb.nn.Embedding``, or any module that does; W in the notes). The
        same instance is used at every position.
    window : int, default 5
        The number of words read at once.
    head : Module, optional
        R: reads ``(batch, window * dim)`` and gives the scores. Default
        ``Dense(window * dim, hidden) -> Tanh -> Dense(hidden, n_classes)``.
    n_classes : int, default 2
        Used by the default head only.
    hidden : int, default 32
        Used by the default head only.
    rng : numpy.random.Generator or int, optional
        For the default head's initial weights.

    Notes
    -----
    With word vectors :math:`W(w_i) \\in \\mathbb R^d`,
    :math:`s = R([W(w_1); \\dots; W(w_n)])`; the gradient of W is
    :math:`\\sum_i \\partial s / \\partial W` through each position.

    References
    ----------
    Bottou, "From machine learning to machine reasoning", 2011 (arXiv:1102.1808).

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> words = rb.nn.Embedding(50, 8, rng=0)
    >>> net = rb.models.WindowClassifier(words, window=5, n_classes=3, rng=0)
    >>> net(np.array([[1, 2, 3, 4, 5]])).shape
    (1, 3)
    """

    @classmethod
    def state_shapes(cls, config):
        """The word module's state under ``word_module.``, the head's under ``head.``."""
        word, head = config["word_module"], config["head"]
        for name, value in (("word_module", word), ("head", head)):
            if value is not None and not hasattr(value, "shapes_under"):
                raise TypeError(f"WindowClassifier: {name} must be a Module; got "
                                f"{type(value).__name__}")
        if word is None:
            raise TypeError("WindowClassifier: word_module must be a Module; got NoneType")
        shapes = word.shapes_under("word_module")
        if head is not None:
            shapes.update(head.shapes_under("head"))
            return shapes
        dim = word.config.get("embedding_dim", word.config.get("out_features"))
        window = positive_int("WindowClassifier", "window", config["window"])
        hidden = positive_int("WindowClassifier", "hidden", config["hidden"])
        n_classes = positive_int("WindowClassifier", "n_classes", config["n_classes"])
        dim = positive_int("WindowClassifier", "the word module's output width", dim)
        shapes.update(shapes_of(Dense, {"in_features": window * dim, "out_features": hidden},
                                "head.0."))
        shapes.update(shapes_of(Dense, {"in_features": hidden, "out_features": n_classes},
                                "head.2."))
        return shapes

    def __init__(self, word_module, window=5, head=None, n_classes=2, hidden=32, rng=None):
        if not isinstance(word_module, Module):
            raise TypeError(f"WindowClassifier: word_module must be a Module; got "
                            f"{type(word_module).__name__}")
        self.window = positive_int("WindowClassifier", "window", window)
        self.n_classes = positive_int("WindowClassifier", "n_classes", n_classes)
        self.hidden = positive_int("WindowClassifier", "hidden", hidden)
        self.word_module = word_module
        self.dim = _output_width(word_module, "WindowClassifier")
        if head is None:  # in the word module's precision: one dtype for the whole model
            dtype = next((p.data.dtype for p in word_module.parameters()), np.dtype(np.float32))
            # one generator for both layers: an int seed handed to each would draw the second
            # layer's weights as a rescaled copy of the first one's first rows
            rng = resolve_rng(rng)
            head = Sequential(Dense(self.window * self.dim, self.hidden, rng=rng, dtype=dtype),
                              Tanh(), Dense(self.hidden, self.n_classes, rng=rng, dtype=dtype))
        elif not isinstance(head, Module):
            raise TypeError(f"WindowClassifier: head must be a Module; got {type(head).__name__}")
        self.head = head

    def config(self):
        return {"word_module": self.word_module, "window": self.window, "head": self.head,
                "n_classes": self.n_classes, "hidden": self.hidden}

    def forward(self, tokens):
        if isinstance(tokens, Tensor):
            ids = tokens.data
        else:
            try:
                ids = np.asarray(tokens)
            except ValueError:  # NumPy's message names neither the model nor the fix
                raise ValueError(f"WindowClassifier(window={self.window}): expected token ids "
                                 f"of shape (batch, {self.window}); got rows of different "
                                 f"lengths") from None
        if ids.ndim != 2 or ids.shape[1] != self.window:
            raise ValueError(f"WindowClassifier(window={self.window}): expected token ids of "
                             f"shape (batch, {self.window}); got {ids.shape}")
        if ids.dtype.kind == "f":  # rb.fit hands the batch over as a float tensor
            whole = np.mod(ids, 1) == 0  # False for 1.5, NaN and inf
            if not whole.all():
                raise TypeError(f"WindowClassifier: token ids must be integers; got the "
                                f"non-integral value {float(ids[~whole][0])!r}")
            ids = ids.astype(np.int64)
        vectors = self.word_module(ids)
        return self.head(reshape(vectors, ids.shape[0], self.window * self.dim))

    def extra_repr(self):
        return f"window={self.window}, dim={self.dim}"
