"""Encoder-decoder with optional attention (notes: "Attention mechanisms").

The notes' neural machine translation setting: one RNN (the encoder) reads
the input sequence, another (the decoder) writes the output sequence. Without
attention the decoder only gets the encoder's final state, "a single
embedding [that] is challenging [...] earlier parts of the sentence may be
forgotten". With attention, each decoding step computes a weighted
combination of *all* the encoder's states (Luong et al. 2015: the decoder's
state is the query; ``h~ = tanh([h; context] W_c)`` feeds the output layer),
and, as the notes say, the attention weights of every step are kept
(:attr:`Seq2Seq.attention_weights`) for inspection and plotting.

Training uses teacher forcing: the decoder reads the target shifted right
behind a start symbol, so all decoding steps (and their attention) run as a
few whole-sequence ops. :meth:`Seq2Seq.generate` decodes greedily, one step
at a time, feeding back its own predictions.
"""

import numpy as np

from ..autodiff.shape import concatenate
from ..autodiff.tensor import no_grad
from ..checks import positive_int
from ..nn.attention import Attention
from ..nn.dense import Dense
from ..nn.embedding import Embedding
from ..nn.gru import GRU
from ..nn.lstm import LSTM
from ..nn.module import Module
from ..nn.registry import shapes_of
from ..nn.rnn import RNN
from ..randomness import resolve_rng

_CELLS = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}


def _tokens(owner, name, tokens, vocab):
    """``tokens`` (batch, time) as an integer array, checked against ``vocab`` here, so that an
    error names the argument rather than an inner Embedding. Integral floats (``1.0``) are
    token ids too, in ``source`` and ``target`` alike, as Embedding takes them."""
    if tokens.dtype.kind == "f" and np.all(np.isfinite(tokens)) \
            and np.array_equal(tokens, np.round(tokens)):
        tokens = tokens.astype(np.int64)
    if tokens.dtype.kind not in "iu" or (tokens.size and (tokens.min() < 0
                                                            or tokens.max() >= vocab)):
        got = (f"{tokens.dtype} values {tokens.min()} to {tokens.max()}"
               if tokens.size and tokens.dtype.kind in "iuf" else f"dtype {tokens.dtype}")
        vocab_name = "in_vocab" if name == "source" else "out_vocab"
        raise ValueError(f"{owner}: {name} tokens must be integers 0 to {vocab - 1} "
                         f"({vocab_name}={vocab}); got {got}")
    return tokens


def _token_array(owner, name, tokens):
    """``tokens`` as an array, or a ValueError naming ``name`` for rows of different lengths
    (NumPy's own message names neither the model nor the argument)."""
    try:
        return np.asarray(tokens)
    except ValueError:
        fix = " and pass source_lengths" if name == "source" else ""
        raise ValueError(f"{owner}: {name} must be a (batch, time) array of token ids; got "
                         f"sequences of different lengths (pad them to one length{fix})") from None


def _source_lengths(owner, lengths, source):
    """``source_lengths`` (batch,) as an integer array, each in 1 .. the source's time steps."""
    if lengths is None:
        return None
    lengths = np.asarray(lengths)
    B, T = source.shape
    if lengths.shape != (B,) or lengths.dtype.kind not in "iu":
        raise ValueError(f"{owner}: source_lengths must be {B} integers (one per sequence); "
                         f"got {lengths.dtype} array of shape {lengths.shape}")
    if B and (lengths.min() < 1 or lengths.max() > T):
        raise ValueError(f"{owner}: source_lengths must be between 1 and the source's time "
                         f"steps ({T}); got {int(lengths.min())} to {int(lengths.max())}")
    return lengths


def _source(owner, source, vocab):
    """``source`` checked: a (batch, time) array of tokens of ``in_vocab``, time >= 1."""
    if source.ndim == 2 and source.shape[1] == 0:
        raise ValueError(f"{owner}: source must hold at least one time step; got shape "
                         f"{source.shape}")
    return _tokens(owner, "source", source, vocab)


class Seq2Seq(Module):
    """Sequence-to-sequence model over token indices.

    Parameters
    ----------
    in_vocab, out_vocab : int
        Source and target vocabulary sizes. The decoder's start symbol is the
        extra index ``out_vocab`` of its embedding.
    hidden_size : int
    embedding_dim : int, optional
        Default ``hidden_size``.
    cell : {"GRU", "LSTM", "RNN"}, default "GRU"
    attention : {None, "dot", "additive"}, default None
    rng : numpy.random.Generator, optional

    Attributes
    ----------
    attention_weights : ndarray (batch, target time, source time) or None
        The attention of every decoding step of the last call.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> model = rb.models.Seq2Seq(5, 5, 8, attention="dot", rng=0)
    >>> src = np.array([[1, 2, 3, 4]])
    >>> model(src, src).shape, model.attention_weights.shape
    ((1, 4, 5), (1, 4, 4))
    >>> model.generate(src, 3).shape
    (1, 3)
    """

    @classmethod
    def state_shapes(cls, config):
        """The embeddings, the encoder and decoder cells, the attention and its ``combine``
        layer (if any) and the ``output`` layer, each under its attribute name."""
        if config["cell"] not in _CELLS:
            raise ValueError(f"Seq2Seq: cell must be one of {sorted(_CELLS)}; got "
                             f"{config['cell']!r}")
        if config["attention"] not in (None, "dot", "additive"):
            raise ValueError(f"Seq2Seq: attention must be None, 'dot' or 'additive'; got "
                             f"{config['attention']!r}")
        H = config["hidden_size"]
        E = config["embedding_dim"] or H
        cell = _CELLS[config["cell"]]
        shapes = {}
        for name, layer, args in (
            ("source_embedding", Embedding, {"num_embeddings": config["in_vocab"],
                                             "embedding_dim": E}),
            ("target_embedding", Embedding, {"num_embeddings": config["out_vocab"] + 1,
                                             "embedding_dim": E}),
            ("encoder", cell, {"input_size": E, "hidden_size": H}),
            ("decoder", cell, {"input_size": E, "hidden_size": H}),
        ):
            shapes.update(shapes_of(layer, args, f"{name}."))
        if config["attention"] is not None:
            shapes.update(shapes_of(Attention, {"kind": config["attention"], "query_size": H,
                                                "key_size": H}, "attend."))
            shapes.update(shapes_of(Dense, {"in_features": 2 * H, "out_features": H},
                                    "combine."))
        shapes.update(shapes_of(Dense, {"in_features": H, "out_features": config["out_vocab"]},
                                "output."))
        return shapes

    def __init__(self, in_vocab, out_vocab, hidden_size, embedding_dim=None, cell="GRU",
                 attention=None, rng=None):
        if cell not in _CELLS:
            raise ValueError(f"Seq2Seq: cell must be 'GRU', 'LSTM' or 'RNN'; got {cell!r}")
        if attention not in (None, "dot", "additive"):
            raise ValueError(f"Seq2Seq: attention must be None, 'dot' or 'additive'; "
                             f"got {attention!r}")
        rng = resolve_rng(rng)
        self.in_vocab = positive_int("Seq2Seq", "in_vocab", in_vocab)
        self.out_vocab = positive_int("Seq2Seq", "out_vocab", out_vocab)
        self.hidden_size = positive_int("Seq2Seq", "hidden_size", hidden_size)
        self.embedding_dim = self.hidden_size if embedding_dim is None else \
            positive_int("Seq2Seq", "embedding_dim", embedding_dim)
        self.cell = cell
        self.attention = attention
        E, H = self.embedding_dim, self.hidden_size
        self.source_embedding = Embedding(self.in_vocab, E, rng=rng)
        self.target_embedding = Embedding(self.out_vocab + 1, E, rng=rng)
        self.encoder = _CELLS[cell](E, H, rng=rng)
        self.decoder = _CELLS[cell](E, H, rng=rng)
        if attention is not None:
            self.attend = Attention(attention, query_size=H, key_size=H, rng=rng)
            self.combine = Dense(2 * H, H, rng=rng)
        self.output = Dense(H, self.out_vocab, rng=rng)
        self.attention_weights = None

    @property
    def start(self):
        """The decoder's start symbol (an index of its embedding)."""
        return self.out_vocab

    def decoder_inputs(self, target):
        """The target shifted right behind the start symbol (teacher forcing)."""
        target = np.asarray(target)
        start = np.full((target.shape[0], 1), self.start, dtype=np.int64)
        # [:, :T]: as many steps as the target, none for an empty one
        return np.concatenate([start, target[:, :-1]], axis=1)[:, :target.shape[1]]

    def encode(self, source, lengths=None):
        """Encoder states (batch, time, H) and final state."""
        return self.encoder(self.source_embedding(source), lengths=lengths)

    @staticmethod
    def _mask(lengths, T):
        return None if lengths is None else np.arange(T)[None, :] < np.asarray(lengths)[:, None]

    def _readout(self, dec_out, enc_out, mask=None):
        if self.attention is None:
            return self.output(dec_out), None
        context, weights = self.attend(dec_out, enc_out, mask=mask)
        combined = self.combine(concatenate([dec_out, context], axis=-1)).tanh()
        return self.output(combined), weights

    def forward(self, source, target, source_lengths=None):
        """Logits (batch, target time, out_vocab) under teacher forcing.

        ``target`` holds the tokens to produce; the decoder reads them shifted
        right (:meth:`decoder_inputs`). ``source_lengths`` (batch,), for a
        padded batch of sources: the encoder stops at each source's end and
        attention ignores the padding.

        Raises
        ------
        ValueError
            Naming the argument: ``source`` tokens outside ``0 .. in_vocab - 1``,
            ``target`` tokens outside ``0 .. out_vocab - 1`` (integral floats
            such as ``1.0`` are token ids in both), an empty source or target,
            ``source_lengths`` that are not one integer per sequence in
            ``1 ..`` the source's time steps.
        """
        source = _token_array("Seq2Seq", "source", source)
        target = _token_array("Seq2Seq", "target", target)
        if source.ndim != 2 or target.ndim != 2 or source.shape[0] != target.shape[0]:
            raise ValueError(f"Seq2Seq: source and target must be (batch, time) token arrays "
                             f"with the same batch; got {source.shape} and {target.shape}")
        if target.shape[1] == 0:
            raise ValueError(f"Seq2Seq: target must hold at least one time step (the tokens to "
                             f"produce); got shape {target.shape}")
        source = _source("Seq2Seq", source, self.in_vocab)
        target = _tokens("Seq2Seq", "target", target, self.out_vocab)
        source_lengths = _source_lengths("Seq2Seq", source_lengths, source)
        enc_out, state = self.encode(source, source_lengths)
        dec_out, _ = self.decoder(self.target_embedding(self.decoder_inputs(target)), state)
        logits, weights = self._readout(dec_out, enc_out, self._mask(source_lengths,
                                                                      source.shape[1]))
        self.attention_weights = None if weights is None else weights.data
        return logits

    def generate(self, source, length, source_lengths=None):
        """Greedy decoding of ``length`` tokens, feeding back each prediction.

        Returns int64 (batch, length); :attr:`attention_weights` holds the
        weights of every step, (batch, length, source time).
        """
        source = _token_array("Seq2Seq.generate", "source", source)
        if source.ndim != 2:
            raise ValueError(f"Seq2Seq.generate: source must be a (batch, time) token array; "
                             f"got shape {source.shape} (one sequence s: pass [s])")
        source = _source("Seq2Seq.generate", source, self.in_vocab)
        source_lengths = _source_lengths("Seq2Seq.generate", source_lengths, source)
        length = positive_int("Seq2Seq.generate", "length", length)
        with no_grad():
            enc_out, state = self.encode(source, source_lengths)
            mask = self._mask(source_lengths, source.shape[1])
            token = np.full((source.shape[0], 1), self.start, dtype=np.int64)
            out, weights = [], []
            for _ in range(length):
                dec_out, state = self.decoder(self.target_embedding(token), state)
                logits, w = self._readout(dec_out, enc_out, mask)
                token = logits.data.argmax(axis=-1)
                out.append(token[:, 0])
                if w is not None:
                    weights.append(w.data[:, 0])
        self.attention_weights = np.stack(weights, axis=1) if weights else None
        return np.stack(out, axis=1).astype(np.int64)

    def extra_repr(self):
        return (f"{self.in_vocab}, {self.out_vocab}, {self.hidden_size}, cell={self.cell!r}, "
                f"attention={self.attention!r}")

