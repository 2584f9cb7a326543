"""Sequence data sets for recurrent networks (notes: "Recurrent Neural Networks", "LSTMs").

- The embedded Reber grammar (Hochreiter & Schmidhuber 1997): strings of a
  finite automaton, wrapped as B T <Reber string> T E or B P <Reber string>
  P E. Predicting the next symbol is local except at the second-to-last
  symbol, which must repeat the second one: a dependency across the whole
  inner string, the long-range memory that the notes credit LSTMs with and
  vanilla RNNs lack.
- The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015): sum the
  two values marked in a long sequence of random numbers.
- The copy task: reproduce a sequence of symbols after a delimiter.
- A character-level text reader for a user's file (:func:`read_text`).

Randomness comes only from ``rng`` (a Generator, an int seed, or None for
the library generator seeded by ``rb.seed``).
"""

import os

import numpy as np

from ..checks import int_at_least
from ..randomness import resolve_rng
from .catalog import list_datasets, register_dataset

REBER_SYMBOLS = "BTSXPVE"
_INDEX = {c: i for i, c in enumerate(REBER_SYMBOLS)}

# The Reber automaton: state -> [(symbol, next state)]; state 5 is the exit (emits E).
_REBER = {
    0: (("T", 1), ("P", 2)),
    1: (("S", 1), ("X", 3)),
    2: (("T", 2), ("V", 4)),
    3: (("X", 2), ("S", 5)),
    4: (("P", 3), ("V", 5)),
}


def _reber_inner(rng):
    """One Reber string and, after each of its symbols but the last, the set of legal next ones."""
    out, nexts, state = ["B"], [], 0
    while state != 5:
        choices = _REBER[state]
        nexts.append({c for c, _ in choices})
        symbol, state = choices[rng.integers(len(choices))]
        out.append(symbol)
    nexts.append({"E"})
    out.append("E")
    return "".join(out), nexts


def reber_strings(n_samples=100, embedded=True, rng=None):
    """Strings of the (embedded) Reber grammar, with their next-symbol sets.

    Parameters
    ----------
    n_samples : int, default 100
    embedded : bool, default True
        Wrap each string as B c <string> c E with c in {T, P}.
    rng : Generator, int or None

    Returns
    -------
    strings : list of str
    next_symbols : list of list of set
        ``next_symbols[k][t]`` is the set of symbols that may follow
        ``strings[k][:t + 1]`` (one set per symbol but the last).

    Examples
    --------
    >>> import rosenblatt as rb
    >>> strings, nexts = rb.datasets.reber_strings(2, rng=0)
    >>> s = strings[0]; s[0], s[1] == s[-2], s[-1]
    ('B', True, 'E')
    >>> sorted(nexts[0][0]), nexts[0][-2] == {s[1]}  # the long-range dependency
    (['P', 'T'], True)
    """
    n = int_at_least("reber_strings", "n_samples", n_samples, 1)
    rng = resolve_rng(rng)
    strings, nexts = [], []
    for _ in range(n):
        inner, inner_next = _reber_inner(rng)
        if not embedded:
            strings.append(inner)
            nexts.append(inner_next)
            continue
        c = "TP"[rng.integers(2)]
        # after B: {T, P}; after c: {B}; the inner string; after its E: {c}; after c: {E}
        strings.append("B" + c + inner + c + "E")
        nexts.append([{"T", "P"}, {"B"}] + inner_next + [{c}, {"E"}])
    return strings, nexts


def encode_reber(strings, next_symbols):
    """Padded one-hot inputs and multi-hot next-symbol targets.

    Returns
    -------
    X : float32 (n, T, 7)
        One-hot symbols of each string but its last, zero-padded to the longest.
    Y : float32 (n, T, 7)
        1 for every symbol that may come next; all zeros at padding (so
        ``Y.sum(-1) > 0`` is the mask of real steps).
    """
    T = max(len(s) for s in strings) - 1
    X = np.zeros((len(strings), T, len(REBER_SYMBOLS)), dtype=np.float32)
    Y = np.zeros_like(X)
    for k, (s, sets) in enumerate(zip(strings, next_symbols)):
        for t, (c, allowed) in enumerate(zip(s[:-1], sets)):
            X[k, t, _INDEX[c]] = 1
            for a in allowed:
                Y[k, t, _INDEX[a]] = 1
    return X, Y


def embedded_reber(n_samples=1000, embedded=True, rng=None):
    """The embedded Reber grammar as arrays: ``(X, Y)`` of :func:`encode_reber`.

    A model is correct on a string when, at every step, the symbols it
    predicts (e.g. sigmoid outputs > 0.5) are exactly the possible next ones.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> X, Y = rb.datasets.embedded_reber(5, rng=0)
    >>> X.shape[0], X.shape[2], bool((Y.sum(-1) > 0).any())
    (5, 7, True)
    """
    return encode_reber(*reber_strings(n_samples, embedded, rng))


def adding_problem(n_samples=1000, length=50, rng=None):
    """Sum the two marked numbers of a sequence.

    Each step has two inputs: a value U(0, 1) and a marker, 1 at exactly two
    steps (one in each half of the sequence) and 0 elsewhere. The target is
    the sum of the two marked values (predicting 1 always gives MSE ~ 1/6).

    Returns
    -------
    X : float32 (n, length, 2)
    y : float32 (n, 1)
    """
    n = int_at_least("adding_problem", "n_samples", n_samples, 1)
    T = int_at_least("adding_problem", "length", length, 2)
    rng = resolve_rng(rng)
    X = np.zeros((n, T, 2), dtype=np.float32)
    X[:, :, 0] = rng.random((n, T))
    half = T // 2
    first = rng.integers(0, half, n)
    second = rng.integers(half, T, n)
    rows = np.arange(n)
    X[rows, first, 1] = 1
    X[rows, second, 1] = 1
    y = (X[rows, first, 0] + X[rows, second, 0]).astype(np.float32)[:, None]
    return X, y


def copy_task(n_samples=1000, length=10, n_symbols=8, delay=0, rng=None):
    """Reproduce a sequence after a delimiter.

    Input: ``length`` random symbols in 1..n_symbols, ``delay`` blanks (0), the
    delimiter (n_symbols + 1), then ``length`` blanks. Target: blank (0) up to
    and including the delimiter, then the symbols again.

    Returns
    -------
    X : float32 (n, T, n_symbols + 2), one-hot; T = 2 length + delay + 1
    y : int64 (n, T)
    """
    n = int_at_least("copy_task", "n_samples", n_samples, 1)
    L = int_at_least("copy_task", "length", length, 1)
    K = int_at_least("copy_task", "n_symbols", n_symbols, 1)
    delay = int_at_least("copy_task", "delay", delay, 0)
    rng = resolve_rng(rng)
    T = 2 * L + delay + 1
    seq = rng.integers(1, K + 1, (n, L))
    tokens = np.zeros((n, T), dtype=np.int64)
    tokens[:, :L] = seq
    tokens[:, L + delay] = K + 1
    y = np.zeros((n, T), dtype=np.int64)
    y[:, L + delay + 1:] = seq
    X = np.eye(K + 2, dtype=np.float32)[tokens]
    return X, y


class CharText:
    """A text as character indices, for character-level models.

    Attributes
    ----------
    text : str
    vocab : str
        The distinct characters, sorted.
    ids : int64 array (len(text),)

    Examples
    --------
    >>> import rosenblatt as rb
    >>> data = rb.datasets.CharText("hello world")
    >>> data.vocab, data.decode(data.encode("low"))
    (' dehlorw', 'low')
    >>> X, Y = data.sequences(4); X.shape, Y.shape
    ((2, 4), (2, 4))
    """

    def __init__(self, text, vocab=None):
        if not isinstance(text, str) or len(text) < 2:
            raise ValueError(f"CharText: need a text of at least 2 characters; got {text!r:.40}")
        self.text = text
        self.vocab = "".join(sorted(set(text))) if vocab is None else vocab
        self.index = {c: i for i, c in enumerate(self.vocab)}
        self.ids = self.encode(text)

    def __len__(self):
        return len(self.text)

    @property
    def vocab_size(self):
        return len(self.vocab)

    def encode(self, s):
        """Characters -> int64 indices (ValueError naming an unknown character)."""
        try:
            return np.array([self.index[c] for c in s], dtype=np.int64)
        except KeyError as err:
            raise ValueError(f"CharText.encode: character {err.args[0]!r} is not in the "
                             f"vocabulary") from None

    def decode(self, ids):
        """Indices -> string."""
        return "".join(self.vocab[int(i)] for i in np.asarray(ids).reshape(-1))

    def sequences(self, seq_len):
        """Non-overlapping windows: X = ids[i:i+L], Y = ids[i+1:i+L+1]; int64 (n, L) each."""
        L = int_at_least("CharText.sequences", "seq_len", seq_len, 1)
        n = (len(self.ids) - 1) // L
        if n == 0:
            raise ValueError(f"CharText.sequences: the text ({len(self.ids)} characters) is "
                             f"shorter than seq_len + 1 = {L + 1}")
        X = self.ids[:n * L].reshape(n, L)
        Y = self.ids[1:n * L + 1].reshape(n, L)
        return X, Y

    def streams(self, batch_size):
        """The text cut into ``batch_size`` contiguous streams (batch, T) for truncated BPTT:
        X[b, t] is followed by Y[b, t] = X[b, t + 1], and chunk k + 1 continues chunk k."""
        B = int_at_least("CharText.streams", "batch_size", batch_size, 1)
        T = (len(self.ids) - 1) // B
        if T == 0:
            raise ValueError(f"CharText.streams: {len(self.ids)} characters cannot fill "
                             f"{B} streams")
        X = np.stack([self.ids[b * T:(b + 1) * T] for b in range(B)])
        Y = np.stack([self.ids[b * T + 1:(b + 1) * T + 1] for b in range(B)])
        return X, Y


def read_text(path, encoding="utf-8", max_chars=None):
    """Read a user's text file for a character-level model: a :class:`CharText`.

    Parameters
    ----------
    path : str or os.PathLike
    encoding : str, default "utf-8"
    max_chars : int, optional
        Keep only the first ``max_chars`` characters.

    Raises
    ------
    FileNotFoundError, ValueError (empty file or undecodable bytes, naming the file)
    """
    path = os.fspath(path)
    try:
        with open(path, encoding=encoding) as f:
            text = f.read() if max_chars is None else f.read(int(max_chars))
    except UnicodeDecodeError as err:
        raise ValueError(f"read_text: {path} is not valid {encoding} text ({err.reason} at "
                         f"byte {err.start}); pass encoding=") from None
    if len(text) < 2:
        raise ValueError(f"read_text: {path} has fewer than 2 characters")
    return CharText(text)



def _register(name, fn, description):
    if name not in list_datasets():  # importing the module twice (doctests) is harmless
        register_dataset(name, fn, description)


_register("embedded_reber", embedded_reber,
          "embedded Reber grammar: one-hot symbols, multi-hot possible next symbols")
_register("adding_problem", adding_problem,
          "adding problem: sum the two marked values of a long sequence")
_register("copy_task", copy_task, "copy task: reproduce symbols after a delimiter")
