"""Audit s12 (a2): datasets fixes, each test failing before its fix."""

import re

import numpy as np
import pytest

import rosenblatt as rb


# -- 1: masked_targets on (n, T) class labels ------------------------------------------------
@pytest.mark.parametrize("n", [2, 5])  # 5 == T: the old broadcast gave (n, T, T) silently
def test_masked_targets_keeps_the_shape_of_class_label_targets(n):
    _, y = rb.datasets.copy_task(n, length=2, n_symbols=3, rng=0)  # int64 (n, 5)
    mask = y > 0
    out = rb.datasets.masked_targets(y, mask)
    assert out.shape == y.shape and out.dtype == y.dtype
    np.testing.assert_array_equal(out, np.where(mask, y, -1))


def test_masked_targets_refuses_a_fill_that_integer_targets_cannot_hold():
    y = np.array([[3, 2]])
    with pytest.raises(ValueError, match=r"masked_targets: fill must be one number \(int64 "
                                         r"targets: an integer\); got -0.5"):
        rb.datasets.masked_targets(y, np.array([[False, True]]), fill=-0.5)


def test_masked_targets_refuses_targets_without_a_time_axis():
    with pytest.raises(ValueError, match=r"masked_targets: targets must be \(n, T, \.\.\.\) and "
                                         r"mask \(n, T\); got targets of shape \(3,\)"):
        rb.datasets.masked_targets(np.zeros(3), np.ones(3, bool))


# -- 3: Standardizer.transform / inverse_transform read only numbers ---------------------------
@pytest.mark.parametrize("where", ["transform", "inverse_transform"])
@pytest.mark.parametrize("X", [np.array([[1 + 5j, 2 + 0j]]), np.array([["1", "2"]])])
def test_standardizer_refuses_complex_or_text_after_fit(where, X):
    scaler = rb.datasets.Standardizer().fit(np.array([[0.0, 1.0], [2.0, 3.0]]))
    with pytest.raises(ValueError, match=rf"Standardizer.{where}: X must be a numeric array "
                                         rf"\(as fit takes\); got {X.dtype}"):
        getattr(scaler, where)(X)


# -- 4: read_text(max_chars) and a bad byte after the kept characters -------------------------
def test_read_text_max_chars_ignores_undecodable_bytes_after_the_kept_text(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"hello world, fine text\n\xff tail")  # the bad byte is in the first block
    assert rb.datasets.read_text(path, max_chars=10).text == "hello worl"
    assert rb.datasets.read_text(path, max_chars=23).text.endswith("text\n")
    with pytest.raises(ValueError, match=r"is not valid utf-8 text \(invalid start byte at byte "
                                         r"23\)"):
        rb.datasets.read_text(path, max_chars=24)
    with pytest.raises(ValueError, match="is not valid utf-8 text"):
        rb.datasets.read_text(path)


# -- 5: split / train_test_split name a scalar X or y and unreadable fractions -----------------
@pytest.mark.parametrize("call, message", [
    (lambda: rb.datasets.split(5), r"split: X must be an array or list of samples, shape "
                                   r"\(n, \.\.\.\); got int 5"),
    (lambda: rb.datasets.split(np.arange(4), 3), r"split: y must be an array or list of samples"),
    (lambda: rb.datasets.train_test_split(x for x in range(4)),
     r"train_test_split: X must be an array or list of samples, shape \(n, \.\.\.\); got "
     r"generator"),
])
def test_split_names_an_x_or_y_that_holds_no_samples(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_split_names_fractions_that_are_not_numbers():
    with pytest.raises(ValueError, match=r"split: fractions must be >= 2 positive numbers summing "
                                         r"to 1; got 'ab'"):
        rb.datasets.split(np.arange(4), fractions="ab")


# -- 6: the NTM tasks' length ranges ---------------------------------------------------------
def test_ntm_task_ranges_take_an_array_pair_and_name_a_pair_of_another_length():
    X, _, _ = rb.datasets.copy_bits(2, length=np.array([1, 3]), bits=2, rng=0)
    assert X.shape == (2, 7, 3)
    with pytest.raises(ValueError, match=r"repeat_copy: repeats must be an integer >= 1 or a pair "
                                         r"\(low, high\) of them; got \(1, 2, 3\)"):
        rb.datasets.repeat_copy(2, repeats=(1, 2, 3))


# -- 5 (continued): arguments of the wrong kind, named ------------------------------------------
@pytest.mark.parametrize("call, message", [
    (lambda: rb.datasets.encode_reber(["BTE"], None),
     r"encode_reber: strings and next_symbols must be lists \(as reber_strings returns them\); "
     r"got list and NoneType"),
    (lambda: rb.datasets.read_cifar10(5),
     r"read_cifar10: paths must be a path, a list of paths or a directory; got int"),
    (lambda: rb.datasets.parse_tree("(a b)", vocab=["a", "b"]),
     r"parse_tree: vocab must be a dict word -> id; got list"),
])
def test_readers_name_arguments_of_the_wrong_kind(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_read_treebank_names_a_vocab_that_is_not_a_dict(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("(1 (0 a) (1 b))\n")
    with pytest.raises(TypeError, match=r"read_treebank: vocab must be a dict word -> id; got "
                                        r"list"):
        rb.datasets.read_treebank(path, vocab=["a", "b"])


def test_standardizer_with_a_numpy_int_axis_names_a_width_mismatch():
    scaler = rb.datasets.Standardizer(axis=np.int64(0)).fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"Standardizer.transform: fitted on data of shape "
                                         r"\('n', 2\); got \(1, 3\)"):
        scaler.transform(np.ones((1, 3)))



@pytest.mark.parametrize("axis, shape, X_shape, fitted", [
    (0, (5, 3, 4), (4,), r"\('n', 3, 4\)"),
    ((0, 2, 3), (2, 3, 4, 4), (4, 4), r"\('n', 3, 'n', 'n'\)")])
@pytest.mark.parametrize("where", ["transform", "inverse_transform"])
def test_standardizer_names_a_sample_that_lacks_a_feature_axis(axis, shape, X_shape, fitted, where):
    scaler = rb.datasets.Standardizer(axis=axis).fit(np.random.default_rng(0).random(shape))
    with pytest.raises(ValueError, match=rf"Standardizer.{where}: fitted on data of shape "
                                         rf"{fitted}; got {re.escape(str(X_shape))}"):
        getattr(scaler, where)(np.ones(X_shape))

# -- 2: train_test_split rounds a decimal half up even when float round-off hides it -----------
@pytest.mark.parametrize("test_size, n, n_test", [(0.58, 25, 15), (0.7, 45, 32), (0.29, 50, 15),
                                                  (0.25, 10, 3), (0.2, 12, 2)])
@pytest.mark.parametrize("stratify", [False, True])
def test_train_test_split_sends_a_half_up_despite_float_round_off(test_size, n, n_test, stratify):
    y = np.arange(n) % 2
    _, X_test, _, _ = rb.datasets.train_test_split(np.arange(n), y, test_size=test_size,
                                                   stratify=stratify)
    assert len(X_test) == n_test
