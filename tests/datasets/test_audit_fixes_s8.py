"""Audit a4 (session 8) fixes in rb.datasets: read_treebank's encoding (F-C), Standardizer's
statistics of large and tiny values (F-D) and the shape of a single sample (F-E)."""

import warnings

import numpy as np
import pytest

from rosenblatt.datasets import Standardizer, read_treebank


# -- F-C: read_treebank names the file, line and byte of undecodable text; encoding= --------
def test_read_treebank_names_the_line_of_undecodable_text_and_takes_an_encoding(tmp_path):
    path = tmp_path / "train.txt"
    path.write_bytes("(2 (2 the) (3 film))\r\n\r\n(3 (2 the) (3 (2 caf\u00e9) (4 good)))\n"
                     .encode("latin-1"))
    with pytest.raises(ValueError, match=rf"read_treebank: {path}, line 3: not valid utf-8 "
                                         rf"text \(invalid continuation byte at byte 44\); "
                                         rf"pass encoding="):
        read_treebank(path)
    trees, vocab = read_treebank(path, encoding="latin-1")
    assert len(trees) == 2 and "caf\u00e9" in vocab


def test_read_treebank_counts_the_byte_order_mark_in_the_byte_offset(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf(2 ok)\n(2 \xff)\n")
    with pytest.raises(ValueError, match=r"line 2: not valid UTF8 text \(invalid start byte at "
                                         r"byte 13\)"):
        read_treebank(path, encoding="UTF8")  # any spelling of UTF-8 drops the mark
    path.write_bytes(b"\xef\xbb\xbf(2 ok)\n")
    assert read_treebank(path, encoding="utf_8")[1] == {"ok": 0}


def test_read_treebank_refuses_an_unknown_encoding(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("(2 ok)\n")
    with pytest.raises(ValueError, match=r"read_treebank: unknown encoding 'utf-9'"):
        read_treebank(path, encoding="utf-9")
    with pytest.raises(TypeError, match=r"read_treebank: encoding must be a codec name"):
        read_treebank(path, encoding=8)


# -- F-D: no overflow (std_ = inf) nor underflow (std_ = 0) for finite data ------------------
@pytest.mark.parametrize("column, std", [
    ([1e200, -1e200, 3e199], 1e200 * np.std([1.0, -1.0, 0.3])),  # squares overflowed: inf
    ([1e-300, 2e-300, 4e-300], 1e-300 * np.std([1.0, 2.0, 4.0])),  # underflowed: std 0
])
def test_standardizer_statistics_of_huge_and_tiny_values_are_finite(column, std):
    X = np.column_stack([column, [1.0, 2.0, 3.0]])
    # underflow is no error: n eps |mean| of 1e-300 is subnormal in is_constant_feature
    with np.errstate(over="raise", invalid="raise", divide="raise"), \
            warnings.catch_warnings():
        warnings.simplefilter("error")
        scaler = Standardizer().fit(X)
        Z = scaler.transform(X)
        back = scaler.inverse_transform(Z)
    assert scaler.std_[0, 0] == pytest.approx(std, rel=1e-12)
    assert scaler.mean_[0, 0] == pytest.approx(np.mean(np.array(column) / column[0]) * column[0],
                                               rel=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(back, X, rtol=1e-12)


def test_standardizer_statistics_near_the_float64_maximum_are_finite():
    """The mean's sum would overflow too; (x - mean) itself may exceed float64 in transform."""
    X = np.array([[1.7e308], [-1.7e308], [1.7e308]])
    with np.errstate(over="raise", invalid="raise"):
        scaler = Standardizer().fit(X)
    assert scaler.mean_[0, 0] == pytest.approx(1.7e308 / 3, rel=1e-12)
    assert scaler.std_[0, 0] == pytest.approx(1.7e308 * np.std([1.0, -1.0, 1.0]), rel=1e-12)


@pytest.mark.parametrize("axis, shape", [(0, (50, 4)), ((0, 2, 3), (6, 3, 4, 5))])
def test_standardizer_on_ordinary_data_is_bit_for_bit_numpys_mean_and_std(axis, shape):
    X = np.random.default_rng(0).normal(3.0, 7.0, size=shape)
    scaler = Standardizer(axis).fit(X)
    np.testing.assert_array_equal(scaler.mean_, X.mean(axis=axis, keepdims=True))
    np.testing.assert_array_equal(scaler.std_, X.std(axis=axis, keepdims=True))


def test_standardizer_keeps_constant_and_zero_features_centred_only():
    X = np.array([[0.0, 5.0, 0.1], [0.0, 5.0, 0.1], [0.0, 5.0, 0.1]])
    scaler = Standardizer().fit(X)
    assert scaler.std_.tolist() == [[1.0, 1.0, 1.0]]
    np.testing.assert_array_equal(scaler.mean_, X.mean(axis=0, keepdims=True))
    np.testing.assert_array_equal(scaler.transform(X), X - X.mean(axis=0))


# -- F-E: a single sample keeps its shape -----------------------------------------------------
@pytest.mark.parametrize("axis, shape", [(0, (10, 3)), ((0, 2, 3), (8, 3, 4, 4))])
def test_standardizer_transforms_a_single_sample_in_its_own_shape(axis, shape):
    X = np.random.default_rng(1).normal(size=shape)
    scaler = Standardizer(axis).fit(X)
    x = X[0] + 1.0  # one sample, without the batch axis
    z = scaler.transform(x)
    assert z.shape == x.shape
    np.testing.assert_array_equal(z, scaler.transform(x[None])[0])
    assert scaler.inverse_transform(z).shape == x.shape
    np.testing.assert_allclose(scaler.inverse_transform(z), x, rtol=1e-12)
    with pytest.raises(ValueError, match=r"Standardizer.transform: fitted on data of shape"):
        scaler.transform(x[..., :1] if x.ndim == 1 else x[:1, :1, :1])
