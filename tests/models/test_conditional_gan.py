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


def _labelled(k=1):
    rng = np.random.default_rng(0)
    G = nn.Sequential(nn.Dense(5, 8, rng=rng), nn.ReLU(), nn.Dense(8, 2, rng=rng))
    D = nn.Sequential(nn.Dense(4, 8, rng=rng), nn.ReLU(), nn.Dense(8, 1, rng=rng))
    return rb.models.ConditionalGAN(G, D, 3, n_classes=2, rng=1, k=k)


@pytest.mark.parametrize("condition_sampler", ["empirical", "parzen"])
def test_a_refused_resume_leaves_the_training_conditions_and_the_generator(tmp_path,
                                                                           condition_sampler):
    """fit(resume_from=<another architecture>) is refused before fit keeps the new conditions
    or draws from the model's generator: sample_conditions() is as before."""
    X = np.random.default_rng(5).normal(size=(44, 2)).astype(np.float32)
    path = tmp_path / "c.ckpt"
    _labelled().fit(X, np.arange(44) % 2, 2, batch_size=8,
                    callbacks=[rb.callbacks.Checkpoint(path)])
    trained = _labelled(k=2)
    trained.condition_sampler = condition_sampler
    trained.fit(X, np.arange(44) % 2, 2, batch_size=8)
    before = {k: v.copy() for k, v in trained.state_dict().items()}
    state = trained.rng.bit_generator.state
    with pytest.raises(rb.io.FormatError, match="another architecture"):
        trained.fit(X, np.zeros(44, dtype=int), 4, batch_size=8, resume_from=path)
    for key, value in trained.state_dict().items():
        assert np.array_equal(value, before[key], equal_nan=True), key
    assert trained.rng.bit_generator.state == state
    assert np.bincount(trained.sample_conditions(200, rng=0), minlength=2).min() > 50
