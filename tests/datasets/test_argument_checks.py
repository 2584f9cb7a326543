"""Data set arguments: bad numbers, counts and pairs fail with a message naming the function,
the argument and the value, never as a raw NumPy/Python error or as silent inf/NaN data."""

import numpy as np
import pytest

import rosenblatt as rb

D = rb.datasets


@pytest.mark.parametrize("make", [D.moons, D.circles, D.sine,
                                  lambda noise: D.spirals(noise=noise)])
def test_noise_must_be_a_finite_non_negative_number(make):
    with pytest.raises(ValueError, match=r"noise must be finite and >= 0; got inf"):
        make(noise=np.inf)
    with pytest.raises(ValueError, match=r"noise must be finite and >= 0; got nan"):
        make(noise=np.nan)
    with pytest.raises(ValueError, match=r"noise must be finite and >= 0; got -0\.1"):
        make(noise=-0.1)
    with pytest.raises(TypeError, match=r"noise must be a number; got bool"):
        make(noise=True)
    with pytest.raises(TypeError, match=r"noise must be a number; got str"):
        make(noise="0.1")
    X, _ = make(noise=np.float32(0.2))
    assert np.isfinite(X).all()


def test_spirals_turns_and_class_count():
    with pytest.raises(ValueError, match=r"spirals: turns must be a finite number; got nan"):
        D.spirals(turns=np.nan, rng=0)
    with pytest.raises(TypeError, match=r"spirals: turns must be a number; got str"):
        D.spirals(turns="x", rng=0)
    with pytest.raises(ValueError, match=r"spirals: n_samples must be >= n_classes \(10\).*"
                                         r"got 5"):
        D.spirals(5, n_classes=10, rng=0)
    X, y = D.spirals(10, n_classes=10, turns=-1, rng=0)  # one point per arm, wound backwards
    assert sorted(y.tolist()) == list(range(10)) and np.isfinite(X).all()


def test_circles_factor_and_sine_bounds():
    with pytest.raises(TypeError, match=r"circles: factor must be a number; got str"):
        D.circles(factor="a")
    with pytest.raises(ValueError, match=r"circles: factor must be in \(0, 1\); got 1\.0"):
        D.circles(factor=1)
    with pytest.raises(ValueError, match=r"sine: low must be a finite number; got -inf"):
        D.sine(low=-np.inf)
    with pytest.raises(TypeError, match=r"sine: high must be a number; got NoneType"):
        D.sine(high=None)
    with pytest.raises(ValueError, match=r"sine: high - low must be finite"):
        D.sine(low=-1e308, high=1e308)
    with pytest.raises(ValueError, match=r"sine: need low < high"):
        D.sine(low=1, high=1)


@pytest.mark.parametrize("seed, match", [
    (None, r"load_mnist1d: seed must be an integer >= 0; got None"),
    ("a", r"load_mnist1d: seed must be an integer >= 0; got 'a'"),
    (1.5, r"got 1\.5"), (True, r"got True"), (-1, r"got -1"),
    (2**32, r"load_mnist1d: seed must be an integer in \[0, 2\*\*32\)"),
])
def test_mnist1d_seed_is_checked_before_generating(seed, match):
    with pytest.raises(ValueError, match=match):
        D.load_mnist1d(100, seed=seed)


@pytest.mark.parametrize("negations", ["02", (0.5, 2.7), (0, 2, 3), (True, 2), 2, None])
def test_sentiment_negations_must_be_a_pair_of_integers(negations):
    with pytest.raises(ValueError, match=r"sentiment_trees: negations must be a pair \(low, "
                                         r"high\) of integers"):
        D.sentiment_trees(3, negations=negations, rng=0)


def test_sentiment_intensifier_prob_and_arithmetic_depth():
    with pytest.raises(TypeError, match=r"sentiment_trees: intensifier_prob must be a number; "
                                        r"got str"):
        D.sentiment_trees(3, intensifier_prob="a")
    with pytest.raises(ValueError, match=r"intensifier_prob must be finite and >= 0; got nan"):
        D.sentiment_trees(3, intensifier_prob=np.nan)
    with pytest.raises(ValueError, match=r"arithmetic_trees: depth must be a pair \(low, high\) "
                                         r"of integers; got \(1\.5, 2\)"):
        D.arithmetic_trees(3, depth=(1.5, 2))
    with pytest.raises(ValueError, match=r"arithmetic_trees: depth must be a pair"):
        D.arithmetic_trees(3, depth="13")
    trees, _ = D.sentiment_trees(3, negations=np.array([1, 1]), rng=0)  # NumPy ints are fine
    assert len(trees) == 3
    assert len(D.arithmetic_trees(2, depth=[2, 2], rng=0)[0]) == 2


def test_encode_reber_names_what_is_wrong():
    with pytest.raises(ValueError, match=r"encode_reber: strings must be a non-empty list"):
        D.encode_reber([], [])
    with pytest.raises(ValueError, match=r"encode_reber: strings must be a non-empty list"):
        D.encode_reber(["BTE", ""], [[{"T"}, {"E"}], []])
    with pytest.raises(ValueError, match=r"next_symbols must hold one list of sets per string; "
                                         r"got 1 for 2 strings"):
        D.encode_reber(["BTE", "BPE"], [[{"T"}, {"E"}]])
    with pytest.raises(ValueError, match=r"only the symbols 'BTSXPVE'; got \['Z'\]"):
        D.encode_reber(["BZE"], [[{"T"}, {"E"}]])
    strings, nexts = D.reber_strings(3, rng=0)
    X, Y = D.encode_reber(strings, nexts)
    assert X.shape[0] == 3 and Y.shape == X.shape


def test_one_hot_split_and_standardizer_name_bad_arguments():
    with pytest.raises(ValueError, match="one_hot: n_classes"):
        rb.datasets.one_hot([], n_classes=-1)
    with pytest.raises(ValueError, match="one_hot: n_classes"):
        rb.datasets.one_hot([1], n_classes=2.5)
    assert rb.datasets.one_hot([], n_classes=3).shape == (0, 3)
    with pytest.raises(TypeError, match="train_test_split: test_size"):
        rb.datasets.train_test_split(np.arange(10), test_size="a")
    with pytest.raises(ValueError, match=r"test_size must be in \(0, 1\)"):
        rb.datasets.train_test_split(np.arange(10), test_size=1.0)
    scaler = rb.datasets.Standardizer().fit(np.random.default_rng(0).normal(size=(4, 3)))
    for X in (np.ones((4, 2)), np.ones((4, 1))):  # (4, 1) once broadcast to (4, 3) silently
        with pytest.raises(ValueError, match=r"fitted on data of shape \('n', 3\); got"):
            scaler.transform(X)
    with pytest.raises(ValueError, match="Standardizer.inverse_transform"):
        scaler.inverse_transform(np.ones((2, 5)))
    assert scaler.transform(np.ones(3)).shape == (3,)  # one sample keeps its shape (s8 F-E)
    images = rb.datasets.Standardizer(axis=(0, 2, 3)).fit(np.ones((4, 3, 2, 2)))
    assert images.transform(np.ones((5, 3, 7, 7))).shape == (5, 3, 7, 7)
