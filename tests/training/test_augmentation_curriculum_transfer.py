"""Image augmentation, curriculum ordering, transfer-learning helpers."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.training import (
    Curriculum,
    ImageAugmentation,
    feature_extractor,
    features,
    replace_output,
    shift_rotate,
)


def _square(n=1, size=9):
    img = np.zeros((n, size, size), dtype=np.float32)
    img[:, 3:6, 2:5] = 1.0
    return img


def test_zero_shift_and_angle_is_the_identity():
    img = np.random.default_rng(0).random((3, 2, 7, 7)).astype(np.float32)
    out = shift_rotate(img, rng=0, max_shift=0, max_angle=0)
    assert out.dtype == np.float32 and out.shape == img.shape
    np.testing.assert_allclose(out, img, atol=1e-6)


def test_a_quarter_turn_is_rot90(monkeypatch):
    from rosenblatt.training import augmentation

    class Fixed:  # uniform draws fixed: angle 90 degrees, no shift
        def uniform(self, low, high, size):
            return np.full(size, 90.0) if np.ndim(size) == 0 else np.zeros(size)

    monkeypatch.setattr(augmentation, "resolve_rng", lambda rng: Fixed())
    img = np.random.default_rng(1).random((1, 6, 6))
    turned = shift_rotate(img, max_shift=0, max_angle=90)
    assert min(np.abs(turned[0] - np.rot90(img[0], k)).max() for k in (1, 3)) < 1e-9


def test_shifts_move_the_mass_by_at_most_max_shift():
    img = _square(200)
    out = shift_rotate(img, rng=3, max_shift=1.5, max_angle=0)
    grid = np.arange(9)
    com = (out.sum(axis=1) * grid).sum(axis=1) / out.sum(axis=(1, 2))  # column centre of mass
    assert np.all(np.abs(com - 3.0) <= 1.5 + 1e-5)
    assert np.std(com) > 0.3  # they do move
    np.testing.assert_allclose(out.sum(axis=(1, 2)), 9.0, rtol=1e-5)  # interior: mass kept


def test_flat_rows_reproducibility_and_errors():
    rows = _square(4).reshape(4, 81)
    aug = ImageAugmentation(max_shift=1, max_angle=15, image_shape=(9, 9))
    a = aug(rows, np.random.default_rng(5))
    b = aug(rows, np.random.default_rng(5))
    assert a.shape == (4, 81)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, rows)
    with pytest.raises(ValueError, match="shift_rotate: images of shape"):
        shift_rotate(rows, image_shape=(8, 8))
    with pytest.raises(ValueError, match="expected images of shape"):
        shift_rotate(rows)
    with pytest.raises(ValueError, match="max_angle must be in"):
        ImageAugmentation(max_angle=270)


def test_fit_applies_augment_to_each_training_batch(rng):
    X = np.tile(_square(1).reshape(1, 81), (32, 1))
    y = np.zeros(32, dtype=np.int64)
    seen = []

    def spy(x, r):
        seen.append(x.copy())
        return ImageAugmentation(1, 10, image_shape=(9, 9))(x, r)

    net = rb.nn.Sequential(rb.nn.Dense(81, 2, rng=0))
    rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
           epochs=2, batch_size=8, augment=spy, progress=False, rng=0)
    assert len(seen) == 8 and all(s.shape == (8, 81) for s in seen)


def test_fit_takes_a_one_argument_augment_and_checks_what_it_returns():
    X = np.ones((8, 3), dtype=np.float32)
    y = np.zeros(8, dtype=np.int64)
    seen = []

    def flip(x):  # deterministic: no rng parameter
        seen.append(len(x))
        return -x

    net = rb.nn.Sequential(rb.nn.Dense(3, 2, rng=0))
    args = {"loss": "cross_entropy", "epochs": 1, "batch_size": 4, "progress": False, "rng": 0}
    rb.fit(net, X, y, optimizer=rb.optim.SGD(net.parameters(), lr=0.1), augment=flip, **args)
    assert seen == [4, 4]
    for bad, got in ((lambda x, r: x[:2], r"shape \(2, 3\)"), (lambda x, r: None, "NoneType")):
        with pytest.raises(ValueError, match="fit: augment must return the batch as an ndarray "
                                             "with the same 4 examples; got " + got):
            rb.fit(net, X, y, optimizer=rb.optim.SGD(net.parameters(), lr=0.1), augment=bad,
                   **args)


def test_curriculum_orders_easy_first_and_widens():
    c = Curriculum([5.0, 1.0, 3.0, 2.0, 4.0], start=0.4, epochs_to_full=4)
    assert c.order(0).tolist() == [1, 3]
    assert [c.pool_size(e) for e in range(5)] == [2, 3, 4, 5, 5]
    shuffled = Curriculum([5.0, 1.0, 3.0, 2.0, 4.0], start=0.6, shuffle_pool=True,
                          epochs_to_full=2)
    assert sorted(shuffled.order(0, np.random.default_rng(0)).tolist()) == [1, 2, 3]
    with pytest.raises(ValueError, match="Curriculum: start must be in"):
        Curriculum([1.0], start=0)
    with pytest.raises(ValueError, match="scores must be a finite 1-D array"):
        Curriculum([[1.0]])


def test_fit_presents_the_curriculum(rng):
    X = np.arange(12, dtype=np.float32).reshape(12, 1)
    y = np.zeros(12, dtype=np.int64)
    batches = []
    spy = rb.callbacks.LambdaCallback(
        on_batch_end=lambda trainer, b, logs: batches.append(trainer.x_batch[:, 0].tolist()))
    net = rb.nn.Sequential(rb.nn.Dense(1, 2, rng=0))
    rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.0),
           epochs=2, batch_size=4, curriculum=Curriculum(-X[:, 0], start=0.5, epochs_to_full=2),
           callbacks=[spy], progress=False, rng=0)
    assert batches[:2] == [[11, 10, 9, 8], [7, 6]]  # epoch 0: the easiest half, easiest first
    assert sum(len(b) for b in batches[2:]) == 12
    with pytest.raises(ValueError, match="the curriculum scores 3 examples; X has 12"):
        rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
               epochs=1, curriculum=[1, 2, 3], progress=False)
    # a callable curriculum
    rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
           epochs=1, curriculum=lambda X, y: X[:, 0], progress=False)


def test_transfer_learning_replace_output_and_fine_tune(rng):
    X = rng.normal(size=(120, 4)).astype(np.float32)
    y_old = (X[:, 0] > 0).astype(np.int64)
    y_new = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64) + 2 * (X[:, 2] > 0)
    base = rb.nn.Sequential(rb.nn.Dense(4, 16, rng=0), rb.nn.Tanh(), rb.nn.Dense(16, 2, rng=1))
    rb.fit(base, X, y_old, loss="cross_entropy", epochs=20, progress=False, rng=0,
           optimizer=rb.optim.Adam(base.parameters(), lr=0.01))
    assert features(base, X).shape == (120, 16)
    assert len(feature_extractor(base)) == 2
    hidden = base[0].W.data.copy()
    new = replace_output(base, rb.nn.Dense(16, 4, rng=2))
    assert new[0] is base[0]  # shared, not copied
    opt = rb.optim.Adam(new.parameters(), lr=0.02)
    assert opt.vec.size == 16 * 4 + 4  # only the new layer is trained
    h = rb.fit(new, X, y_new, loss="cross_entropy", optimizer=opt, epochs=40, progress=False,
               rng=0)
    np.testing.assert_array_equal(base[0].W.data, hidden)
    assert h["accuracy"][-1] > 0.8
    new.unfreeze()  # fine-tune everything at a low rate
    h2 = rb.fit(new, X, y_new, loss="cross_entropy", epochs=5, progress=False, rng=0,
                optimizer=rb.optim.Adam(new.parameters(), lr=1e-3))
    assert not np.array_equal(base[0].W.data, hidden)
    assert h2["loss"][-1] <= h["loss"][-1] * 1.05
    with pytest.raises(TypeError, match="feature_extractor: expected an rb.nn.Sequential"):
        feature_extractor(rb.nn.Dense(2, 2))


def test_features_of_an_empty_batch_and_a_bad_batch_size():
    net = rb.nn.Sequential(rb.nn.Dense(4, 8, rng=0), rb.nn.ReLU(), rb.nn.Dense(8, 3, rng=0))
    assert features(net, np.zeros((0, 4), np.float32)).shape == (0, 8)
    for bad in (0, -1, 1.5):
        with pytest.raises((ValueError, TypeError), match="features: batch_size"):
            features(net, np.zeros((3, 4), np.float32), batch_size=bad)


def test_shift_rotate_checks_max_shift_and_max_angle():
    img = np.zeros((2, 5, 5), np.float32)
    for kwargs, match in (({"max_shift": -2.0}, "shift_rotate: max_shift must be >= 0; got -2.0"),
                          ({"max_shift": np.inf}, "shift_rotate: max_shift must be >= 0"),
                          ({"max_angle": np.nan}, "shift_rotate: max_angle must be in"),
                          ({"max_angle": 200}, "shift_rotate: max_angle must be in")):
        with pytest.raises(ValueError, match=match):
            shift_rotate(img, rng=0, **kwargs)
    with pytest.raises(ValueError, match="ImageAugmentation: max_shift must be >= 0"):
        ImageAugmentation(max_shift=-1)


@pytest.mark.parametrize("fill", [np.nan, np.inf, -1.0])
def test_a_non_finite_fill_only_marks_pixels_from_outside(monkeypatch, fill):
    from rosenblatt.training import augmentation

    img = np.random.default_rng(0).random((2, 3, 4, 4)).astype(np.float32)
    np.testing.assert_array_equal(shift_rotate(img, rng=0, max_shift=0, max_angle=0, fill=fill),
                                  img)

    class Fixed:  # no rotation, a shift of exactly one pixel down and right
        def uniform(self, low, high, size):
            return np.zeros(size) if np.ndim(size) == 0 else np.ones(size)

    monkeypatch.setattr(augmentation, "resolve_rng", lambda rng: Fixed())
    out = shift_rotate(img, max_shift=1, max_angle=0, fill=fill)
    np.testing.assert_array_equal(out[:, :, 1:, 1:], img[:, :, :-1, :-1])
    assert np.all((out[:, :, 0, :] == fill) | (np.isnan(fill) & np.isnan(out[:, :, 0, :])))
    assert np.all((out[:, :, :, 0] == fill) | (np.isnan(fill) & np.isnan(out[:, :, :, 0])))


def test_shift_rotate_integer_images_become_float32_as_documented():
    img = np.zeros((1, 5, 5), np.uint8)
    img[0, 2, 2] = 200
    assert shift_rotate(img, rng=0, max_shift=0, max_angle=0).dtype == np.float32
    assert "integer images become float32" in " ".join(shift_rotate.__doc__.split())


def test_a_frozen_body_with_batch_norm_stays_fixed_and_so_does_the_original():
    """replace_output(freeze=True): only the new layer learns. rb.fit runs the frozen body's
    batch-norm layers in evaluation mode (as Keras does for a non-trainable BatchNormalization),
    so their running statistics, and the shared original model, do not change."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    base = rb.nn.Sequential(rb.nn.Dense(4, 16, rng=0), rb.nn.BatchNorm1d(16), rb.nn.Tanh(),
                            rb.nn.Dense(16, 2, rng=1))
    rb.fit(base, X, y, loss="cross_entropy", epochs=2, progress=False, rng=0,
           optimizer=rb.optim.Adam(base.parameters(), lr=0.01))
    before = rb.training.predict(base, X)
    mean, var = base[1].running_mean.copy(), base[1].running_var.copy()
    new = replace_output(base, rb.nn.Dense(16, 3, rng=2))
    X2 = (rng.normal(size=(120, 4)) * 3 + 2).astype(np.float32)
    y2 = rng.integers(3, size=120)
    head = new[-1].W.data.copy()
    rb.fit(new, X2, y2, loss="cross_entropy", epochs=2, progress=False, rng=0,
           optimizer=rb.optim.Adam(new.parameters(), lr=0.01))
    np.testing.assert_array_equal(base[1].running_mean, mean)
    np.testing.assert_array_equal(base[1].running_var, var)
    np.testing.assert_array_equal(rb.training.predict(base, X), before)
    assert not np.array_equal(new[-1].W.data, head)
    assert new[1].training  # modes are restored after fit
    # fine-tuning (unfrozen) updates them again
    new.unfreeze()
    rb.fit(new, X2, y2, loss="cross_entropy", epochs=1, progress=False, rng=0,
           optimizer=rb.optim.Adam(new.parameters(), lr=1e-3))
    assert not np.array_equal(base[1].running_mean, mean)
