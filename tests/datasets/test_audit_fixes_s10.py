"""Audit a2 (session 10) fixes in rb.datasets: load_mnist1d's row count (#2), logic's
``bipolar`` switch (#4), register_dataset's loader (#5), a negative int seed (#7) and
read_text's encoding (#8)."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.datasets import catalog


# -- #2: load_mnist1d makes num_samples // 10 per class: refuse what it cannot return -------
@pytest.mark.parametrize("n", [15, 99, 5005])
def test_load_mnist1d_refuses_a_num_samples_that_is_not_a_multiple_of_10(n):
    # refused before the generator runs: no mnist1d needed
    with pytest.raises(ValueError, match=rf"load_mnist1d: num_samples must be a multiple of "
                                         rf"10 .*; got {n}"):
        rb.datasets.load_mnist1d(num_samples=n)


# -- #4: logic's bipolar is a switch: the string "no" is not True ---------------------------
@pytest.mark.parametrize("make", [lambda v: rb.datasets.logic("xor", bipolar=v),
                                  rb.datasets.xor, rb.datasets.and_, rb.datasets.or_])
def test_logic_refuses_a_string_bipolar(make):
    with pytest.raises(TypeError, match=r"logic: bipolar must be True or False; got 'no'"):
        make("no")
    X, _ = make(np.True_)
    assert X.min() == -1.0


# -- #5: a loader that cannot be called is refused when registered, not when loaded ---------
def test_register_dataset_refuses_a_loader_that_is_not_callable():
    with pytest.raises(TypeError, match=r"register_dataset: fn must be callable "
                                        r"fn\(\*\*kwargs\) -> \(X, y\); got int"):
        rb.datasets.register_dataset("five_s10", 5, "not callable")
    assert "five_s10" not in rb.datasets.list_datasets()
    assert "five_s10" not in catalog._CATALOG


# -- #7: a negative int seed names rng, at every entry point that resolves one --------------
@pytest.mark.parametrize("seed", [-1, np.int64(-3)])
def test_a_negative_int_seed_is_refused_naming_rng(seed):
    with pytest.raises(ValueError, match=r"rng: an int seed must be >= 0; got -[13]"):
        rb.randomness.resolve_rng(seed)
    with pytest.raises(ValueError, match=r"rng: an int seed must be >= 0"):
        rb.datasets.moons(10, rng=seed)
    assert rb.datasets.moons(10, rng=0)[0].shape == (10, 2)


# -- #8: read_text names itself for a bad encoding, as read_treebank does -------------------
def test_read_text_refuses_an_unknown_or_non_string_encoding(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("hello world", encoding="utf-8")
    with pytest.raises(ValueError, match=r"read_text: unknown encoding 'utf9'; pass a codec "
                                         r"name such as 'utf-8' or 'latin-1'"):
        rb.datasets.read_text(path, encoding="utf9")
    with pytest.raises(TypeError, match=r"read_text: encoding must be a codec name \(str\); "
                                        r"got NoneType"):
        rb.datasets.read_text(path, encoding=None)
    # any spelling of UTF-8 still drops a byte-order mark
    path.write_bytes(b"\xef\xbb\xbfhi there")
    assert rb.datasets.read_text(path, encoding="UTF8").text == "hi there"
    assert rb.datasets.read_text(path, encoding="latin-1").text.startswith("\u00ef")
