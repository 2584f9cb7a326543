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
import re

import numpy as np

from ..checks import boolean, codec, int_at_least
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
    embedded = boolean("reber_strings", "embedded", embedded)
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

    Raises
    ------
    ValueError
        For no strings, an empty string, a symbol outside ``REBER_SYMBOLS``,
        or a ``next_symbols`` of another length than ``strings``.
    """
    try:
        strings, next_symbols = list(strings), list(next_symbols)
    except TypeError:  # "'NoneType' object is not iterable" names neither argument
        raise TypeError(f"encode_reber: strings and next_symbols must be lists (as reber_strings "
                        f"returns them); got {type(strings).__name__} and "
                        f"{type(next_symbols).__name__}") from None
    if not strings or not all(isinstance(s, str) and s for s in strings):
        raise ValueError(f"encode_reber: strings must be a non-empty list of non-empty strings "
                         f"(as reber_strings returns); got {strings!r:.80}")
    if len(next_symbols) != len(strings):
        raise ValueError(f"encode_reber: next_symbols must hold one list of sets per string; "
                         f"got {len(next_symbols)} for {len(strings)} strings")
    unknown = {c for s in strings for c in s} - set(_INDEX)
    if unknown:
        raise ValueError(f"encode_reber: strings may hold only the symbols {REBER_SYMBOLS!r}; "
                         f"got {sorted(unknown)!r}")
    for k, (s, sets) in enumerate(zip(strings, next_symbols)):
        _check_next_symbols(k, s, sets)
    T = max(len(s) for s in strings) - 1
    X = np.zeros((len(strings), T, len(REBER_SYMBOLS)), dtype=np.float32)
    Y = np.zeros_like(X)
    for k, (s, sets) in enumerate(zip(strings, next_symbols)):
        for t, (c, allowed) in enumerate(zip(s[:-1], sets)):
            X[k, t, _INDEX[c]] = 1
            for a in allowed:
                Y[k, t, _INDEX[a]] = 1
    return X, Y


def _check_next_symbols(k, string, sets):
    """``sets`` is one collection of grammar symbols per step of string ``k`` (but its last)."""
    steps = len(string) - 1
    if isinstance(sets, str) or not hasattr(sets, "__len__") or len(sets) != steps:
        got = f"{len(sets)}" if hasattr(sets, "__len__") and not isinstance(sets, str) \
            else repr(sets)
        raise ValueError(f"encode_reber: next_symbols[{k}] must hold {steps} sets (one per "
                         f"step of {string!r} but its last); got {got}")
    for t, allowed in enumerate(sets):
        if isinstance(allowed, str) or not hasattr(allowed, "__iter__"):
            raise ValueError(f"encode_reber: next_symbols[{k}][{t}] must be a set of symbols; "
                             f"got {allowed!r}")
        unknown = [a for a in allowed if a not in _INDEX]
        if unknown:
            raise ValueError(f"encode_reber: next_symbols[{k}][{t}] may hold only the symbols "
                             f"{REBER_SYMBOLS!r}; got {unknown[0]!r}")


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
    embedded = boolean("embedded_reber", "embedded", embedded)
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
        if vocab is not None:
            _check_vocab(vocab)
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
        """Indices -> string (ValueError for an index that is not an integer in
        ``[0, vocab_size)``)."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.dtype.kind not in "iu" or ids.min() < 0
                         or ids.max() >= self.vocab_size):
            bad = ids if ids.dtype.kind not in "iu" else ids[(ids < 0) | (ids >= self.vocab_size)]
            raise ValueError(f"CharText.decode: ids must be integers in [0, {self.vocab_size}); "
                             f"got {bad[0]!r} (dtype {ids.dtype})")
        return "".join(self.vocab[i] for i in ids.tolist())

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


def _check_vocab(vocab):
    """A vocabulary is a string of distinct characters: one id, one output unit each."""
    if not isinstance(vocab, str):
        raise ValueError(f"CharText: vocab must be a string of distinct characters; got "
                         f"{type(vocab).__name__}")
    if len(set(vocab)) != len(vocab):
        repeated = next(c for i, c in enumerate(vocab) if c in vocab[:i])
        raise ValueError(f"CharText: vocab must be a string of distinct characters; got "
                         f"{vocab!r:.80} ({repeated!r} repeats)")


def read_text(path, encoding="utf-8", max_chars=None):
    """Read a user's text file for a character-level model: a :class:`CharText`.

    Parameters
    ----------
    path : str or os.PathLike
    encoding : str, default "utf-8"
        A UTF-8 byte-order mark at the start of the file is dropped (as "utf-8-sig").
    max_chars : int >= 2, optional
        Keep only the first ``max_chars`` characters (bytes after them that do not decode
        are not read as text, so they are no error).

    Raises
    ------
    FileNotFoundError, ValueError (empty file or undecodable bytes, naming the file; an
    unknown encoding)
    TypeError
        For an ``encoding`` that is not a string.
    """
    path = os.fspath(path)
    if max_chars is not None:
        max_chars = int_at_least("read_text", "max_chars", max_chars, 2)
    # an editor's byte-order mark is no character of the text
    utf8 = codec("read_text", "encoding", encoding) == "utf-8"
    opened = "utf-8-sig" if utf8 else encoding
    try:
        with open(path, encoding=opened) as f:
            text = f.read() if max_chars is None else f.read(max_chars)
    except UnicodeDecodeError as err:
        # the reader decodes a whole block: a bad byte just after the kept text fails it too
        text = None if max_chars is None else _leading_text(path, opened, max_chars)
        if text is None:
            raise ValueError(f"read_text: {path} is not valid {encoding} text ({err.reason} at "
                             f"byte {err.start}); pass encoding=") from None
    if len(text) < 2:
        raise ValueError(f"read_text: {path} has fewer than 2 characters")
    return CharText(text)


def _leading_text(path, encoding, n):
    """The first ``n`` characters of a file when they decode (its bad bytes all come after
    them), else None."""
    with open(path, encoding=encoding, errors="surrogateescape") as f:
        text = f.read(n)
    # an undecodable byte reads as a lone surrogate (U+DC80..U+DCFF), which no strict decoding gives
    return None if re.search("[\udc80-\udcff]", text) else text



def _register(name, fn, description):
    if name not in list_datasets():  # importing the module twice (doctests) is harmless
        register_dataset(name, fn, description)


_register("embedded_reber", embedded_reber,
          "embedded Reber grammar: one-hot symbols, multi-hot possible next symbols")
_register("adding_problem", adding_problem,
          "adding problem: sum the two marked values of a long sequence")
_register("copy_task", copy_task, "copy task: reproduce symbols after a delimiter")


# -- the Neural Turing Machine tasks (Graves, Wayne & Danihelka 2014) -----------------------
#
# Each returns inputs, targets and a boolean mask (n, T) of the time steps that are scored;
# a batch holds sequences of different lengths padded with zeros to one T, so the mask is
# what tells the loss and the metric where the answer is.


def _length_range(owner, name, value, minimum=1):
    """An int, or an inclusive (low, high) pair (a tuple, list or array), as (low, high)."""
    if isinstance(value, np.ndarray) and value.ndim == 1:
        value = value.tolist()  # (as sentiment_trees' ranges)
    if isinstance(value, (tuple, list)) and len(value) != 2:
        raise ValueError(f"{owner}: {name} must be an integer >= {minimum} or a pair (low, high) "
                         f"of them; got {value!r:.60}")
    if isinstance(value, (tuple, list)):
        low = int_at_least(owner, f"{name}[0]", value[0], minimum)
        high = int_at_least(owner, f"{name}[1]", value[1], minimum)
        if high < low:
            raise ValueError(f"{owner}: {name} must be (low, high) with low <= high; got {value!r}")
        return low, high
    value = int_at_least(owner, f"{name}", value, minimum)
    return value, value


def copy_bits(n_samples=1000, length=(1, 20), bits=8, rng=None):
    """The NTM copy task: read a sequence of random bit vectors, then write it out again.

    Input channel ``bits`` is the delimiter, on for one step after the sequence;
    the targets are the sequence again, scored on the ``length`` steps after the
    delimiter.

    Parameters
    ----------
    n_samples : int, default 1000
    length : int or (int, int), default (1, 20)
        The sequence length, or an inclusive range drawn uniformly per sequence.
    bits : int, default 8
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    X : float32 (n, T, bits + 1), T = 2 max_length + 1
    Y : float32 (n, T, bits)
    mask : bool (n, T)

    Examples
    --------
    >>> import rosenblatt as rb
    >>> X, Y, mask = rb.datasets.copy_bits(2, length=3, bits=4, rng=0)
    >>> X.shape, Y.shape, mask[0].astype(int).tolist()
    ((2, 7, 5), (2, 7, 4), [0, 0, 0, 0, 1, 1, 1])
    >>> bool((Y[:, 4:] == X[:, :3, :4]).all())
    True
    """
    n = int_at_least("copy_bits", "n_samples", n_samples, 1)
    low, high = _length_range("copy_bits", "length", length)
    bits = int_at_least("copy_bits", "bits", bits, 1)
    rng = resolve_rng(rng)
    T = 2 * high + 1
    lengths = rng.integers(low, high + 1, n)
    seq = rng.integers(0, 2, (n, high, bits)).astype(np.float32)
    t = np.arange(high)
    seq *= (t[None, :] < lengths[:, None])[..., None]
    X = np.zeros((n, T, bits + 1), np.float32)
    Y = np.zeros((n, T, bits), np.float32)
    X[:, :high, :bits] = seq
    rows = np.arange(n)
    X[rows, lengths, bits] = 1
    steps = np.arange(T)[None, :]
    mask = (steps > lengths[:, None]) & (steps <= 2 * lengths[:, None])
    # Y[i, L + 1 + j] = seq[i, j] for j < L
    src = np.clip(steps - lengths[:, None] - 1, 0, high - 1)
    Y[:] = seq[rows[:, None], src] * mask[..., None]
    return X, Y, mask


def repeat_copy(n_samples=1000, length=(1, 10), repeats=(1, 10), bits=8, max_repeats=None,
                rng=None):
    """The NTM repeat-copy task: output a sequence a given number of times, then an end marker.

    After the sequence, input channel ``bits`` flags one step and channel ``bits + 1`` carries
    the number of repeats on that step, scaled by ``max_repeats``; the targets are the sequence
    ``repeats`` times over, then a step with only channel ``bits`` (the end marker) on.

    Parameters
    ----------
    n_samples : int, default 1000
    length, repeats : int or (int, int)
        Fixed, or inclusive ranges drawn uniformly per sequence.
    bits : int, default 8
    max_repeats : int, optional
        The scale of the repeat count (default: the largest of ``repeats``), so that longer
        tests can ask for more repeats than training saw with the same encoding.
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    X : float32 (n, T, bits + 2), T = L_max + 1 + L_max R_max + 1
    Y : float32 (n, T, bits + 1)
    mask : bool (n, T), True on the L R + 1 output steps of each sequence

    Examples
    --------
    >>> import rosenblatt as rb
    >>> X, Y, mask = rb.datasets.repeat_copy(1, length=2, repeats=3, bits=3, rng=0)
    >>> X.shape, Y.shape, int(mask.sum())
    ((1, 10, 5), (1, 10, 4), 7)
    >>> Y[0, 9].tolist(), float(X[0, 2, 4])
    ([0.0, 0.0, 0.0, 1.0], 1.0)
    """
    owner = "repeat_copy"
    n = int_at_least(owner, "n_samples", n_samples, 1)
    lo_l, hi_l = _length_range(owner, "length", length)
    lo_r, hi_r = _length_range(owner, "repeats", repeats)
    bits = int_at_least(owner, "bits", bits, 1)
    scale = hi_r if max_repeats is None else int_at_least(owner, "max_repeats", max_repeats, 1)
    rng = resolve_rng(rng)
    T = hi_l + 1 + hi_l * hi_r + 1
    L = rng.integers(lo_l, hi_l + 1, n)
    Rp = rng.integers(lo_r, hi_r + 1, n)
    seq = rng.integers(0, 2, (n, hi_l, bits)).astype(np.float32)
    seq *= (np.arange(hi_l)[None, :] < L[:, None])[..., None]
    X = np.zeros((n, T, bits + 2), np.float32)
    Y = np.zeros((n, T, bits + 1), np.float32)
    X[:, :hi_l, :bits] = seq
    rows = np.arange(n)
    X[rows, L, bits] = 1
    X[rows, L, bits + 1] = Rp / scale
    steps = np.arange(T)[None, :]
    start = L[:, None] + 1
    out_len = (L * Rp)[:, None]
    body = (steps >= start) & (steps < start + out_len)
    src = np.clip(steps - start, 0, None) % L[:, None]
    Y[..., :bits] = seq[rows[:, None], src] * body[..., None]
    Y[rows, (L + 1 + L * Rp), bits] = 1
    mask = (steps >= start) & (steps <= start + out_len)
    return X, Y, mask


def associative_recall(n_samples=1000, items=(2, 6), item_length=3, bits=6, rng=None):
    """The NTM associative-recall task: after a list of items and a query item, output the item
    that followed the query in the list.

    Each item is ``item_length`` random bit vectors, preceded by a step with input channel
    ``bits`` on; the query is one of the items (not the last), between two steps with
    channel ``bits + 1`` on; the target is the next item, scored on the ``item_length`` steps
    after the query.

    Parameters
    ----------
    n_samples : int, default 1000
    items : int or (int, int), default (2, 6)
        The number of items (>= 2), fixed or an inclusive range drawn per sequence.
    item_length : int, default 3
    bits : int, default 6
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    X : float32 (n, T, bits + 2), T = (K_max + 1)(item_length + 1) + item_length + 1
    Y : float32 (n, T, bits)
    mask : bool (n, T)

    Examples
    --------
    >>> import rosenblatt as rb
    >>> X, Y, mask = rb.datasets.associative_recall(3, items=(2, 4), item_length=2, bits=4,
    ...                                              rng=0)
    >>> X.shape, Y.shape, mask.sum(axis=1).tolist()
    ((3, 18, 6), (3, 18, 4), [2, 2, 2])
    """
    owner = "associative_recall"
    n = int_at_least(owner, "n_samples", n_samples, 1)
    lo, hi = _length_range(owner, "items", items, minimum=2)
    ilen = int_at_least(owner, "item_length", item_length, 1)
    bits = int_at_least(owner, "bits", bits, 1)
    rng = resolve_rng(rng)
    span = ilen + 1
    T = (hi + 1) * span + ilen + 1
    K = rng.integers(lo, hi + 1, n)
    data = rng.integers(0, 2, (n, hi, ilen, bits)).astype(np.float32)
    query = (rng.random(n) * (K - 1)).astype(np.int64)  # 0 .. K - 2: an item with a successor
    X = np.zeros((n, T, bits + 2), np.float32)
    Y = np.zeros((n, T, bits), np.float32)
    mask = np.zeros((n, T), bool)
    rows = np.arange(n)
    for k in range(hi):  # item k occupies steps k*span .. k*span + ilen; few items, no batch loop
        on = k < K
        X[rows[on], k * span, bits] = 1
        X[rows[on], k * span + 1:(k + 1) * span, :bits] = data[on, k]
    qs = K * span  # the query's opening delimiter
    X[rows, qs, bits + 1] = 1
    offsets = np.arange(ilen)
    X[rows[:, None], qs[:, None] + 1 + offsets, :bits] = data[rows, query]
    X[rows, qs + ilen + 1, bits + 1] = 1
    answer = qs[:, None] + ilen + 2 + offsets
    Y[rows[:, None], answer] = data[rows, query + 1]
    mask[rows[:, None], answer] = True
    return X, Y, mask


def bit_errors_per_sequence(logits, targets, mask=None, threshold=0.0, per_sequence=False):
    """Bits of error per sequence: wrong bits on the scored steps, averaged over sequences.

    Parameters
    ----------
    logits : array_like (n, T, bits)
        The model's outputs; a bit is predicted 1 where ``logits > threshold`` (0 for logits;
        use 0.5 for probabilities).
    targets : array_like (n, T, bits)
        Bits; entries < 0 are not scored (see :func:`masked_targets`).
    mask : bool array (n, T), optional
        The scored steps; default all steps (with targets < 0 excluded).
    threshold : float, default 0.0
    per_sequence : bool, default False
        Return the (n,) array of each sequence's errors instead of the mean.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> t = np.array([[[1, 0], [0, 1]]], np.float32)
    >>> rb.datasets.bit_errors_per_sequence(np.array([[[2.0, -1.0], [3.0, -1.0]]]), t)
    2.0
    """
    per_sequence = boolean("bit_errors_per_sequence", "per_sequence", per_sequence)
    p = np.asarray(getattr(logits, "data", logits)) > threshold
    t = np.asarray(targets)
    if p.shape != t.shape or t.ndim != 3:
        raise ValueError(f"bit_errors_per_sequence: logits and targets must both be "
                         f"(n, T, bits); got {p.shape} and {t.shape}")
    wrong = (p != (t > 0.5)) & (t >= 0)
    if mask is not None:
        mask = np.asarray(mask, bool)
        if mask.shape != t.shape[:2]:
            raise ValueError(f"bit_errors_per_sequence: mask must be (n, T) = {t.shape[:2]}; "
                             f"got {mask.shape}")
        wrong &= mask[..., None]
    errors = wrong.sum(axis=(1, 2)).astype(np.float64)
    return errors if per_sequence else float(errors.mean())


def masked_targets(targets, mask, fill=-1.0):
    """Targets with ``fill`` (default -1) on the unscored steps: one array that carries the mask,
    for a loss and metric that take ``(pred, target)`` (``rb.fit``).

    Parameters
    ----------
    targets : array_like (n, T, ...)
        Per-step targets: bit vectors (n, T, bits), or class labels (n, T) such as
        :func:`copy_task`'s.
    mask : bool array (n, T)
        The scored steps; each step's whole target is filled where it is False.
    fill : float, default -1.0
        One number; an integer for integer targets.

    Float and signed-integer targets keep their dtype; boolean and unsigned ones, which cannot
    hold -1, come back as float32.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> rb.datasets.masked_targets(np.ones((1, 2, 1), np.float32), np.array([[True, False]]))
    array([[[ 1.],
            [-1.]]], dtype=float32)
    >>> rb.datasets.masked_targets(np.array([[3, 2]]), np.array([[False, True]]))
    array([[-1,  2]])
    """
    targets = np.asarray(targets)
    mask = np.asarray(mask, bool)
    if targets.ndim < 2 or mask.shape != targets.shape[:2]:
        raise ValueError(f"masked_targets: targets must be (n, T, ...) and mask (n, T); got "
                         f"targets of shape {targets.shape} and mask of shape {mask.shape}")
    # Booleans and unsigned integers cannot hold the fill (-1 would become True or wrap): those
    # targets come back as float32, others keep their dtype.
    dtype = targets.dtype if targets.dtype.kind in "fi" else np.dtype(np.float32)
    filler = np.asarray(fill, dtype)
    if filler.ndim or (dtype.kind == "i" and filler != fill):  # -0.5 would become class 0
        raise ValueError(f"masked_targets: fill must be one number ({dtype} targets: an "
                         f"integer); got {fill!r}")
    # the mask covers each step's whole target, whatever its trailing axes (none for labels)
    mask = mask.reshape(mask.shape + (1,) * (targets.ndim - 2))
    return np.where(mask, targets.astype(dtype, copy=False), filler)


def bit_error_metric(pred, target):
    """``rb.fit`` metric: (total bit errors, number of sequences), targets < 0 unscored."""
    errors = bit_errors_per_sequence(pred, target, per_sequence=True)
    return float(errors.sum()), len(errors)
