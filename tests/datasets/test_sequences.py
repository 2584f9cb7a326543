"""Sequence data sets: Reber grammar, adding problem, copy task, character text."""

import re

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.datasets import sequences

# The Reber grammar as a regular expression: every generated string must match it.
# States: 1 = after T (S* X -> 3), 2 = after P (T* V -> 4), 3 = S ends or X T* V -> 4,
# 4 = V ends or P -> 3.
_S3 = r"(?:XT*VP)*(?:S|XT*VV)"
REBER = rf"B(?:TS*X{_S3}|PT*V(?:V|P{_S3}))E"


def test_reber_strings_follow_the_grammar_and_its_embedding(rng):
    strings, nexts = rb.datasets.reber_strings(300, rng=rng)
    for s, sets in zip(strings, nexts):
        assert s[0] == "B" and s[1] in "TP" and s[-2] == s[1] and s[-1] == "E"
        inner = s[2:-2]
        assert re.fullmatch(REBER, inner)
        assert len(sets) == len(s) - 1
        for t, allowed in enumerate(sets):  # the actual next symbol is always allowed
            assert s[t + 1] in allowed
        assert sets[-2] == {s[1]} and sets[0] == {"T", "P"} and sets[1] == {"B"}


def test_plain_reber_strings_are_all_the_grammar_produces(rng):
    strings, nexts = rb.datasets.reber_strings(500, embedded=False, rng=rng)
    for s, sets in zip(strings, nexts):
        assert re.fullmatch(REBER, s)
        # walk the automaton: every symbol must be allowed by the previous set
        assert all(s[t + 1] in sets[t] for t in range(len(s) - 1))
    # all transitions get used
    assert {c for s in strings for c in s} == set(rb.datasets.REBER_SYMBOLS)


def test_encode_reber_shapes_and_mask(rng):
    X, Y = rb.datasets.embedded_reber(20, rng=rng)
    mask = Y.sum(-1) > 0
    assert X.shape == Y.shape and X.dtype == np.float32
    assert np.array_equal(mask, X.sum(-1) > 0)  # targets exactly where there is an input
    assert np.all(X.sum(-1)[mask] == 1)


def test_adding_problem(rng):
    X, y = rb.datasets.adding_problem(50, length=20, rng=rng)
    assert X.shape == (50, 20, 2) and y.shape == (50, 1)
    assert np.all(X[:, :, 1].sum(1) == 2)
    assert np.all(X[:, :10, 1].sum(1) == 1)
    np.testing.assert_allclose((X[:, :, 0] * X[:, :, 1]).sum(1), y[:, 0], rtol=1e-6)


def test_copy_task(rng):
    X, y = rb.datasets.copy_task(5, length=4, n_symbols=3, delay=2, rng=rng)
    assert X.shape == (5, 11, 5) and y.shape == (5, 11)
    tokens = X.argmax(-1)
    assert np.all(tokens[:, 6] == 4)  # delimiter
    np.testing.assert_array_equal(y[:, 7:], tokens[:, :4])
    assert np.all(y[:, :7] == 0)


def test_catalog_names():
    names = rb.datasets.list_datasets()
    assert {"embedded_reber", "adding_problem", "copy_task"} <= set(names)
    X, y = rb.datasets.load("adding_problem", n_samples=3, length=6, rng=0)
    assert X.shape == (3, 6, 2)


def test_read_text_and_char_windows(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("abcabcabcab\n", encoding="utf-8")
    data = rb.datasets.read_text(path)
    assert data.vocab == "\nabc" and data.vocab_size == 4
    X, Y = data.sequences(3)
    assert X.shape == (3, 3)
    np.testing.assert_array_equal(X[:, 1:], Y[:, :-1])
    assert data.decode(X[0]) == "abc"
    Xs, Ys = data.streams(2)
    assert Xs.shape == (2, 5)
    np.testing.assert_array_equal(Xs[:, 1:], Ys[:, :-1])


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="n_samples must be an integer >= 1; got 0"):
        rb.datasets.adding_problem(0)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(ValueError, match="is not valid utf-8 text"):
        rb.datasets.read_text(bad)
    with pytest.raises(ValueError, match="character 'z' is not in the vocabulary"):
        sequences.CharText("abab").encode("z")


# -- audit a7 ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [bool, np.uint8, np.float32, np.int8])
def test_masked_targets_keeps_the_mask_for_any_target_dtype(dtype):
    X, Y, mask = rb.datasets.copy_bits(4, length=3, bits=4, rng=0)
    pred = np.where(Y > 0.5, 5.0, -5.0)  # perfect on the scored steps
    pred[~mask] = -5.0
    t = rb.datasets.masked_targets(Y.astype(dtype), mask)
    assert np.all(t[~mask] == -1) and np.all(t[mask] == Y[mask])
    assert rb.datasets.bit_errors_per_sequence(pred, t) == 0.0
    if np.dtype(dtype).kind in "fi":
        assert t.dtype == dtype  # a dtype that holds -1 is kept


def test_encode_reber_checks_every_next_symbol_set():
    strings, nexts = rb.datasets.reber_strings(2, rng=0)
    bad = [list(n) for n in nexts]
    bad[1][0] = {"T", "Z"}
    with pytest.raises(ValueError, match=r"encode_reber: next_symbols\[1\].*'Z'"):
        rb.datasets.encode_reber(strings, bad)
    short = [list(n) for n in nexts]
    short[0] = short[0][:3]
    with pytest.raises(ValueError, match=rf"encode_reber: next_symbols\[0\] must hold "
                                         rf"{len(strings[0]) - 1} sets.*got 3"):
        rb.datasets.encode_reber(strings, short)
    with pytest.raises(ValueError, match=r"next_symbols\[0\]"):
        rb.datasets.encode_reber(["BTSSXXTVVE"], ["TSXXTVVE?"])


def test_char_text_decode_and_vocab_refuse_bad_ids(tmp_path):
    data = rb.datasets.CharText("hello world")
    assert data.decode(np.array([3, 4], np.int32)) == data.decode([3, 4]) == "hl"
    assert data.decode([]) == ""
    for bad in ([-1], [99], [2.7], ["a"]):
        with pytest.raises(ValueError, match=r"CharText.decode: ids must be integers in "
                                             r"\[0, 8\)"):
            data.decode(bad)
    with pytest.raises(ValueError, match=r"CharText: vocab must be a string of distinct "
                                         r"characters; got 'aabc' \('a' repeats\)"):
        rb.datasets.CharText("abc", vocab="aabc")
    with pytest.raises(ValueError, match=r"CharText: vocab must be a string"):
        rb.datasets.CharText("abc", vocab=["a", "b", "c"])
    path = tmp_path / "t.txt"
    path.write_text("hello world", encoding="utf-8")
    for bad in (-5, 2.9, 1, True):
        with pytest.raises(ValueError, match=r"read_text: max_chars must be an integer >= 2"):
            rb.datasets.read_text(path, max_chars=bad)
    assert rb.datasets.read_text(path, max_chars=np.int64(4)).text == "hell"


def test_read_text_drops_a_utf8_byte_order_mark(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffhello world".encode("utf-8"))
    data = rb.datasets.read_text(path)
    assert data.text == "hello world" and data.vocab == " dehlorw"
    assert rb.datasets.read_text(path, max_chars=5).text == "hello"
    assert rb.datasets.read_text(path, encoding="utf-8-sig").text == "hello world"
