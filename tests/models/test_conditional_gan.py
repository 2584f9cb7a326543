"""ConditionalGAN (notes: "Generative Adversarial Networks"): conditions, save/load, astype."""

import numpy as np
import pytest

import rosenblatt as rb

nn = rb.nn


def _cgan(cond_width, **kw):
    G = nn.Sequential(nn.Dense(2 + cond_width, 8, rng=0), nn.Tanh(), nn.Dense(8, 2, rng=1))
    D = nn.Sequential(nn.Dense(2 + cond_width, 8, rng=2), nn.Tanh(), nn.Dense(8, 1, rng=3))
    return rb.models.ConditionalGAN(G, D, noise_dim=2, rng=0, **kw)


def test_vector_conditions_sample_the_same_after_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    c = _cgan(2, condition_dim=2)
    c.fit(rng.normal(size=(60, 2)).astype(np.float32), rng.normal(size=(60, 2)), epochs=1,
          batch_size=20)
    path = tmp_path / "c.rb"
    rb.save(c, path)
    c2 = rb.load(path)
    assert np.array_equal(c.sample_conditions(5, rng=1), c2.sample_conditions(5, rng=1))
    assert np.array_equal(c.sample(5, rng=1), c2.sample(5, rng=1))
    assert np.array_equal(c.last_conditions, c2.last_conditions)


def test_integer_one_hot_rows_are_labels_like_float_ones():
    X = np.random.default_rng(0).normal(size=(30, 2)).astype(np.float32)
    y = np.arange(30) % 3
    a, b = _cgan(3, n_classes=3), _cgan(3, n_classes=3)
    a.fit(X, y, epochs=1, batch_size=10)
    b.fit(X, np.eye(3, dtype=np.int64)[y], epochs=1, batch_size=10)
    assert np.array_equal(a.generator[0].W.data, b.generator[0].W.data)
    assert np.array_equal(b.check_conditions(np.eye(3, dtype=bool)[y[:4]], 4, "fit"), y[:4])
    assert np.array_equal(b.check_conditions(np.eye(3)[y[:4]], 4, "fit"), y[:4])


@pytest.mark.parametrize("rows", [[[0.3, 0.7, 0.0]], [[0.0, 0.0, 0.0]], [[1.0, 1.0, 0.0]],
                                  [[2, 0, 0]]])
def test_rows_that_are_not_one_hot_are_refused(rows):
    c = _cgan(3, n_classes=3)
    with pytest.raises(ValueError, match="row 0 .*not one-hot"):
        c.check_conditions(np.array(rows), 1, "fit")


def test_astype_rebuilds_the_models_own_optimizers():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 2)), rng.normal(size=(60, 2))
    c = _cgan(2, condition_dim=2)
    c.astype(np.float64)
    c.fit(X, y, epochs=1, batch_size=20)
    assert all(p.dtype == np.float64 for p in c.parameters())
    # the same as a model built in float64 from the start
    G = nn.Sequential(nn.Dense(4, 8, rng=0, dtype=np.float64), nn.Tanh(),
                      nn.Dense(8, 2, rng=1, dtype=np.float64))
    D = nn.Sequential(nn.Dense(4, 8, rng=2, dtype=np.float64), nn.Tanh(),
                      nn.Dense(8, 1, rng=3, dtype=np.float64))
    for a, b in zip(G.parameters() + D.parameters(), _cgan(2, condition_dim=2).parameters()):
        a.data[...] = b.data
    ref = rb.models.ConditionalGAN(G, D, noise_dim=2, condition_dim=2, rng=0)
    ref.fit(X, y, epochs=1, batch_size=20)
    for a, b in zip(c.parameters(), ref.parameters()):
        assert np.array_equal(a.data, b.data)


def test_a_cast_model_samples_the_same_after_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    c = _cgan(2, condition_dim=2)
    c.fit(rng.normal(size=(60, 2)).astype(np.float32), rng.normal(size=(60, 2)), epochs=1,
          batch_size=20)
    c.astype(np.float64)
    rb.save(c, tmp_path / "c.rb")
    c2 = rb.load(tmp_path / "c.rb")
    assert np.array_equal(c.sample(4, rng=1), c2.sample(4, rng=1))
