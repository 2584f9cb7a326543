"""Labelled binary trees for recursive networks (notes: "Other neural networks", "Recursive
Neural Networks").

- :class:`Tree`: a binary parse tree whose leaves hold tokens (word ids or
  words) and whose nodes may carry a label (the Stanford Sentiment Treebank
  gives one per node).
- :func:`parse_tree` / :func:`read_treebank`: the treebank bracket format
  ``"(3 (2 not) (4 good))"``; a malformed string raises a ValueError that
  names the character where it breaks.
- :func:`sentiment_trees`: a small generated grammar with negation and
  intensifiers ("not good" is negative, "not not good" positive), whose
  meaning a bag of words cannot read (the parity of the negations).
- :func:`arithmetic_trees`: expressions like ``(3 + (4 * 2))`` with the value
  mod 10 as the label of every number-valued node.

Randomness comes only from ``rng`` (a Generator, an int seed, or None for
the library generator seeded by ``rb.seed``).
"""

import codecs
import os

import numpy as np

from ..checks import codec, is_int, positive_int, unit_interval
from ..randomness import resolve_rng


class Tree:
    """A binary tree: a leaf holds a ``token``, an inner node two children.

    Parameters
    ----------
    token : int or str, optional
        The word (or its id) of a leaf; None for an inner node.
    left, right : Tree, optional
        The children of an inner node.
    label : int, optional
        The node's class (None: unlabelled).

    Examples
    --------
    >>> import rosenblatt as rb
    >>> t = rb.datasets.parse_tree("(1 (1 not) (0 bad))")
    >>> t.label, t.left.token, len(t), t.height
    (1, 'not', 3, 1)
    >>> str(t)
    '(1 (1 not) (0 bad))'
    """

    __slots__ = ("token", "left", "right", "label")

    def __init__(self, token=None, left=None, right=None, label=None):
        if (left is None) != (right is None):
            raise ValueError("Tree: an inner node needs two children (left and right)")
        if left is not None and token is not None:
            raise ValueError("Tree: a node is either a leaf (token) or inner (left, right)")
        if left is None and token is None:
            raise ValueError("Tree: a leaf needs a token")
        if left is not None and not (isinstance(left, Tree) and isinstance(right, Tree)):
            raise TypeError(f"Tree: left and right must be Tree nodes; got "
                            f"{type(left).__name__} and {type(right).__name__} (use Tree(1) "
                            f"for a leaf, or as_tree((1, 2)) to build a tree from tuples)")
        if label is not None:
            if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or label < 0:
                raise ValueError(f"Tree: label must be a non-negative integer; got {label!r}")
            label = int(label)
        self.token, self.left, self.right, self.label = token, left, right, label

    @property
    def is_leaf(self):
        return self.left is None

    def nodes(self):
        """Every node in post-order (children before parents), without recursion."""
        out, stack = [], [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if node.is_leaf or expanded:
                out.append(node)
            else:
                stack.extend(((node, True), (node.right, False), (node.left, False)))
        return out

    def __len__(self):
        return len(self.nodes())

    @property
    def height(self):
        """0 for a leaf, else 1 + the larger child height."""
        heights = {}
        for node in self.nodes():
            heights[id(node)] = 0 if node.is_leaf else 1 + max(heights[id(node.left)],
                                                                  heights[id(node.right)])
        return heights[id(self)]

    def leaves(self):
        """The tokens, left to right."""
        return [n.token for n in self.nodes() if n.is_leaf]

    def map_tokens(self, fn):
        """A copy with every leaf token replaced by ``fn(token)``."""
        done = {}
        for node in self.nodes():
            if node.is_leaf:
                done[id(node)] = Tree(fn(node.token), label=node.label)
            else:
                done[id(node)] = Tree(left=done[id(node.left)], right=done[id(node.right)],
                                      label=node.label)
        return done[id(self)]

    def __str__(self):
        text = {}
        for node in self.nodes():
            head = "" if node.label is None else f"{node.label} "
            body = (str(node.token) if node.is_leaf
                    else f"{text[id(node.left)]} {text[id(node.right)]}")
            text[id(node)] = f"({head}{body})"
        return text[id(self)]

    def __repr__(self):
        return f"Tree({self})"


def as_tree(obj, where="tree"):
    """A :class:`Tree` from a Tree, a bracket string, a token, or nested 2-tuples of tokens."""
    if isinstance(obj, Tree):
        return obj
    if isinstance(obj, str):
        return parse_tree(obj)
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, bool):
        return Tree(int(obj))
    if not isinstance(obj, (tuple, list)):
        raise TypeError(f"{where}: expected a Tree, a bracket string, a token id or a 2-tuple of "
                        f"subtrees; got {type(obj).__name__}")
    # iterative: (a, (b, (c, ...))) chains can be deeper than Python's recursion limit
    done, stack = {}, [(obj, False)]
    while stack:
        item, expanded = stack.pop()
        if isinstance(item, (tuple, list)):
            if len(item) != 2:
                raise ValueError(f"{where}: an inner node is a 2-tuple (left, right); got a "
                                 f"{type(item).__name__} of length {len(item)}: {item!r}")
            if expanded:
                done[id(item)] = Tree(left=done[id(item[0])], right=done[id(item[1])])
            else:
                stack.extend(((item, True), (item[1], False), (item[0], False)))
        elif isinstance(item, Tree):
            done[id(item)] = item
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            done[id(item)] = Tree(int(item))
        else:
            raise TypeError(f"{where}: a leaf must be an integer token id; got "
                            f"{type(item).__name__} {item!r}")
    return done[id(obj)]


# -- the treebank bracket format ---------------------------------------------------------
def _tokens(text):
    """(kind, value, position): '(' , ')' and atoms (maximal runs of other non-space chars)."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            yield c, c, i
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "()":
                j += 1
            yield "atom", text[i:j], i
            i = j


def _where(text, pos):
    start = max(0, pos - 20)
    snippet = text[start:pos + 20]
    return f"at character {pos}:\n  {snippet!r}\n  {' ' * (pos - start + 1)}^"


def _is_label(atom):
    # ASCII only: "²".isdigit() is True but int("²") fails, and "٣" is not a treebank label
    return atom.isascii() and atom.isdigit()


def parse_tree(text, vocab=None):
    """Parse one tree in the treebank bracket format.

    ``"(3 (2 not) (4 good))"``: a node is ``(label child child)`` or a leaf
    ``(label word)``; the label (a non-negative integer) is optional, so
    ``"(not good)"`` is an unlabelled node over two unlabelled leaves, and a
    bare word may stand for an unlabelled leaf. A leading integer followed by
    something else is read as the label.

    Parameters
    ----------
    text : str
    vocab : dict, optional
        word -> token id. Given, leaves hold ids (a word not in it raises,
        unless ``"<unk>"`` is in it); otherwise the words themselves.

    Returns
    -------
    Tree

    Raises
    ------
    ValueError
        Naming the character where the string breaks (an unbalanced
        parenthesis, a node with three children, trailing text ...).
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_tree: expected a str; got {type(text).__name__}")
    _check_vocab("parse_tree", vocab)
    stack = []  # open nodes: [position, label, items]
    root = None
    for kind, value, pos in _tokens(text):
        if root is not None:
            raise ValueError(f"parse_tree: text after the end of the tree {_where(text, pos)}")
        if kind == "(":
            stack.append([pos, None, []])
        elif kind == "atom":
            if not stack:
                raise ValueError(f"parse_tree: a tree starts with '(' {_where(text, pos)}")
            stack[-1][2].append((value, pos))
        else:
            if not stack:
                raise ValueError(f"parse_tree: unmatched ')' {_where(text, pos)}")
            start, _, items = stack.pop()
            node = _node(items, text, start, pos, vocab)
            if stack:
                stack[-1][2].append((node, start))
            else:
                root = node
    if stack:
        raise ValueError(f"parse_tree: '(' never closed {_where(text, stack[-1][0])}")
    if root is None:
        raise ValueError("parse_tree: empty string (no tree)")
    return root


def _check_vocab(owner, vocab):
    """A vocabulary maps words to ids (a list would be indexed by the word: a bare TypeError)."""
    if vocab is not None and not (hasattr(vocab, "keys") and hasattr(vocab, "__getitem__")):
        raise TypeError(f"{owner}: vocab must be a dict word -> id; got {type(vocab).__name__} "
                        f"(for a list of words: {{w: i for i, w in enumerate(words)}})")


def _leaf(word, vocab, text, pos):
    if vocab is None:
        return word
    if word in vocab:
        return vocab[word]
    if "<unk>" in vocab:
        return vocab["<unk>"]
    raise ValueError(f"parse_tree: the word {word!r} is not in the vocabulary "
                     f"{_where(text, pos)}")


def _node(items, text, start, end, vocab):
    label = None
    if len(items) >= 2 and isinstance(items[0][0], str) and _is_label(items[0][0]):
        label = int(items[0][0])
        items = items[1:]
    if not items:
        raise ValueError(f"parse_tree: empty node {_where(text, start)}")
    if len(items) == 1:
        value, pos = items[0]
        if isinstance(value, Tree):  # (3 (...)): a label on a single subtree
            if value.label is not None and label is not None:
                raise ValueError(f"parse_tree: a node with one child {_where(text, start)}")
            if label is not None:
                value.label = label
            return value
        return Tree(_leaf(value, vocab, text, pos), label=label)
    if len(items) > 2:
        raise ValueError(f"parse_tree: a node has {len(items)} children, but trees are binary "
                         f"{_where(text, items[2][1])}")
    kids = [v if isinstance(v, Tree) else Tree(_leaf(v, vocab, text, p)) for v, p in items]
    return Tree(left=kids[0], right=kids[1], label=label)


def read_treebank(path, vocab=None, encoding="utf-8"):
    """Read a treebank file: one bracketed tree per line (the SST's ``train.txt`` format).

    Parameters
    ----------
    path : str or os.PathLike
    vocab : dict, optional
        word -> id. None: built from the file in order of first appearance.
    encoding : str, default "utf-8"
        The file's text encoding ("latin-1" for some older treebanks); a UTF-8
        byte-order mark at the start of the file is dropped (as "utf-8-sig").

    Returns
    -------
    trees : list of Tree (leaves hold ids)
    vocab : dict word -> id

    Raises
    ------
    ValueError
        For a malformed line, naming the line number and the character; for bytes
        that are not valid ``encoding`` text, naming the line and the byte; for an
        unknown ``encoding``.
    TypeError
        For an ``encoding`` that is not a string.
    """
    path = os.fspath(path)
    utf8 = codec("read_treebank", "encoding", encoding) == "utf-8"
    _check_vocab("read_treebank", vocab)
    trees, build = [], vocab is None
    vocab = {} if vocab is None else vocab
    try:
        # an editor's byte-order mark is no text
        with open(path, encoding="utf-8-sig" if utf8 else encoding) as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:  # a given vocab maps the words as they are read: an error names the word
                    tree = parse_tree(line.strip(), vocab=None if build else vocab)
                except ValueError as err:
                    raise ValueError(f"read_treebank: {path}, line {number}: {err}") from None
                if build:
                    for word in tree.leaves():
                        vocab.setdefault(word, len(vocab))
                    tree = tree.map_tokens(vocab.__getitem__)
                trees.append(tree)
    except UnicodeDecodeError:  # the text reader decodes in blocks: find the line again
        raise ValueError(_decode_error("read_treebank", path, encoding, utf8)) from None
    return trees, vocab


def _decode_error(owner, path, encoding, utf8):
    """The message for a file that is not valid ``encoding`` text, naming its first bad
    line (counted as the text reader counts them: universal newlines) and byte."""
    with open(path, "rb") as fh:
        data = fh.read()
    skip = len(codecs.BOM_UTF8) if utf8 and data.startswith(codecs.BOM_UTF8) else 0
    try:
        data[skip:].decode(encoding)
    except UnicodeDecodeError as err:
        before = data[skip:skip + err.start].decode(encoding)
        number = before.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1
        return (f"{owner}: {path}, line {number}: not valid {encoding} text ({err.reason} at "
                f"byte {skip + err.start}); pass encoding= (e.g. 'latin-1')")
    return f"{owner}: {path} is not valid {encoding} text; pass encoding="  # pragma: no cover


# -- generated data ----------------------------------------------------------------------
SENTIMENT_WORDS = ("the", "movie", "film", "plot", "is", "was", "not", "very", "really",
                   "good", "great", "fine", "nice", "bad", "awful", "poor", "dull")
_S = {w: i for i, w in enumerate(SENTIMENT_WORDS)}
_POSITIVE, _NEGATIVE = ("good", "great", "fine", "nice"), ("bad", "awful", "poor", "dull")
NEGATIVE, NEUTRAL, POSITIVE = 0, 1, 2


def sentiment_trees(n_trees=500, negations=(0, 2), intensifier_prob=0.3, rng=None):
    """Sentences like "the movie is not not good", parsed, with a sentiment at every node.

    A phrase is an adjective (4 positive, 4 negative), or a modifier applied
    to a phrase: ``not`` flips its sentiment, ``very`` / ``really`` keep it.
    A sentence is ``((the NOUN) (VERB PHRASE))``. Labels: 0 negative,
    1 neutral (the words and phrases without sentiment), 2 positive; the root
    has the phrase's sentiment. A bag of words sees only how many ``not``
    there are, so it must learn their parity, and cannot extrapolate it to
    more negations than it was trained on; a tree net can apply the same
    negation function once more.

    Parameters
    ----------
    n_trees : int, default 500
    negations : (int, int), default (0, 2)
        The smallest and largest number of ``not`` in a sentence (drawn uniformly).
    intensifier_prob : float, default 0.3
        Before each negation and before the adjective, an intensifier is
        inserted with this probability, in [0, 1] (1: before every one).
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    trees : list of Tree (token ids into ``SENTIMENT_WORDS``)
    y : ndarray of int, shape (n_trees,)
        The root labels (0 or 2).

    Examples
    --------
    >>> import rosenblatt as rb
    >>> trees, y = rb.datasets.sentiment_trees(2, negations=(2, 2), intensifier_prob=0, rng=0)
    >>> words = rb.datasets.SENTIMENT_WORDS
    >>> " ".join(words[t] for t in trees[0].leaves()), int(y[0])
    ('the movie was not not fine', 2)
    """
    n_trees = positive_int("sentiment_trees", "n_trees", n_trees)
    low, high = _range("sentiment_trees", "negations", negations)
    intensifier_prob = unit_interval("sentiment_trees", "intensifier_prob", intensifier_prob,
                                     closed_high=True)
    rng = resolve_rng(rng)
    trees, y = [], np.empty(n_trees, dtype=np.int64)
    for i in range(n_trees):
        positive = bool(rng.integers(2))
        adjective = (_POSITIVE if positive else _NEGATIVE)[rng.integers(4)]
        sign = POSITIVE if positive else NEGATIVE
        phrase = Tree(_S[adjective], label=sign)
        for _ in range(int(rng.integers(low, high + 1))):
            if rng.random() < intensifier_prob:
                phrase = Tree(left=Tree(_S[("very", "really")[rng.integers(2)]], label=NEUTRAL),
                              right=phrase, label=sign)
            sign = 2 - sign
            phrase = Tree(left=Tree(_S["not"], label=NEUTRAL), right=phrase, label=sign)
        if rng.random() < intensifier_prob:
            phrase = Tree(left=Tree(_S[("very", "really")[rng.integers(2)]], label=NEUTRAL),
                          right=phrase, label=sign)
        subject = Tree(left=Tree(_S["the"], label=NEUTRAL),
                       right=Tree(_S[("movie", "film", "plot")[rng.integers(3)]], label=NEUTRAL),
                       label=NEUTRAL)
        predicate = Tree(left=Tree(_S[("is", "was")[rng.integers(2)]], label=NEUTRAL),
                         right=phrase, label=sign)
        trees.append(Tree(left=subject, right=predicate, label=sign))
        y[i] = sign
    return trees, y


def _range(owner, name, value):
    """``(low, high)`` integers; a string ("02") or fractions ((0.5, 2.7)) are refused."""
    pair = list(value) if isinstance(value, (tuple, list, np.ndarray)) else None
    if pair is None or len(pair) != 2 or not all(is_int(v) for v in pair):
        raise ValueError(f"{owner}: {name} must be a pair (low, high) of integers; "
                         f"got {value!r}")
    low, high = int(pair[0]), int(pair[1])
    if low < 0 or high < low:
        raise ValueError(f"{owner}: {name} must satisfy 0 <= low <= high; got {value!r}")
    return low, high


ARITHMETIC_WORDS = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "+", "*")


def arithmetic_trees(n_trees=500, depth=(1, 3), rng=None):
    """Expressions like ``(3 + (4 * 2))`` as binary trees, each number-valued node labelled mod 10.

    An expression ``a op b`` is the tree ``(a (op b))``: the leaf ``op`` and
    the half-expression ``(op b)`` are unlabelled (they have no value); the
    digits and every expression carry their value mod 10 (10 classes).

    Parameters
    ----------
    n_trees : int, default 500
    depth : (int, int), default (1, 3)
        The smallest and largest number of operators on the longest path.
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    trees : list of Tree (token ids into ``ARITHMETIC_WORDS``: digits 0-9, 10 '+', 11 '*')
    y : ndarray of int, shape (n_trees,), the value mod 10

    Examples
    --------
    >>> import rosenblatt as rb
    >>> trees, y = rb.datasets.arithmetic_trees(1, depth=(1, 1), rng=0)
    >>> trees[0].height, int(y[0]) == trees[0].label
    (2, True)
    """
    n_trees = positive_int("arithmetic_trees", "n_trees", n_trees)
    low, high = _range("arithmetic_trees", "depth", depth)
    if low < 1:
        raise ValueError(f"arithmetic_trees: depth must be at least 1; got {depth!r}")
    rng = resolve_rng(rng)
    trees = []
    for _ in range(n_trees):
        trees.append(_expression(int(rng.integers(low, high + 1)), rng))
    return trees, np.array([t.label for t in trees], dtype=np.int64)


def _expression(depth, rng):
    if depth == 0:
        digit = int(rng.integers(10))
        return Tree(digit, label=digit)
    deep_left = bool(rng.integers(2))
    left = _expression(depth - 1 if deep_left else int(rng.integers(depth)), rng)
    right = _expression(int(rng.integers(depth)) if deep_left else depth - 1, rng)
    plus = bool(rng.integers(2))
    value = (left.label + right.label) if plus else (left.label * right.label)
    half = Tree(left=Tree(10 if plus else 11), right=right)
    return Tree(left=left, right=half, label=value % 10)
