"""Audit s6 (a4) fixes in the readers and the train/test split."""
import gzip
import struct

import numpy as np
import pytest

from rosenblatt.datasets import read_cifar10, read_idx


# -- 6: a damaged deflate block is the documented ValueError naming the file -------------------
@pytest.mark.parametrize("reader", [read_idx, read_cifar10])
def test_damaged_gzip_body_is_a_value_error_naming_the_file(tmp_path, reader):
    raw = struct.pack(">BBBBI", 0, 0, 8, 1, 5000) + np.random.default_rng(0).integers(
        0, 256, 5000, dtype=np.uint8).tobytes()
    blob = bytearray(gzip.compress(raw))
    blob[12] ^= 0xFF  # inside the first deflate block header: zlib.error, not OSError
    blob[13] ^= 0x55
    path = tmp_path / "damaged.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match=r"damaged\.gz: corrupted gzip data"):
        reader(path)


# -- 5: train_test_split rounds halves of the test part up, as scikit-learn's ceil -----------
@pytest.mark.parametrize("n, test_size", [(10, 0.25), (115, 0.1), (30, 0.15), (5, 0.5),
                                          (25, 0.3), (1797, 0.5)])
@pytest.mark.parametrize("stratify", [False, True])
def test_train_test_split_sends_half_a_sample_to_the_test_part(n, test_size, stratify):
    sk = pytest.importorskip("sklearn.model_selection")
    from rosenblatt.datasets import train_test_split

    X, y = np.arange(n)[:, None], np.arange(n) % 2
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=test_size, stratify=stratify)
    assert len(Xte) == len(sk.train_test_split(X, test_size=test_size)[1])  # ceil on a tie
    assert sorted(np.concatenate([Xtr, Xte])[:, 0].tolist()) == list(range(n))
    if stratify:  # each class within one sample of its share
        assert abs(np.sum(yte == 1) - np.sum(y == 1) * len(yte) / n) < 1


@pytest.mark.parametrize("n, test_size, n_test", [(12, 0.2, 2), (1797, 0.2, 359),
                                                   (1797, 0.25, 449), (10, 0.3, 3)])
def test_train_test_split_rounds_other_sizes_to_the_nearest(n, test_size, n_test):
    from rosenblatt.datasets import train_test_split

    # not scikit-learn's ceil (3, 360, 450, 3): the splits made so far stay as they were
    assert len(train_test_split(np.arange(n), test_size=test_size)[1]) == n_test


def test_train_test_split_keeps_the_split_it_made_before():
    from rosenblatt.datasets import split, train_test_split

    X, y = np.arange(200)[:, None], np.arange(200) % 3
    for stratify in (False, True):
        Xtr, Xte, _, _ = train_test_split(X, y, test_size=0.2, rng=5, stratify=stratify)
        (Str, _), (Ste, _) = split(X, y, (0.8, 0.2), rng=5, stratify=stratify)
        np.testing.assert_array_equal(Xtr, Str)
        np.testing.assert_array_equal(Xte, Ste)
