"""Audit fixes (round s5, area a4): GAN and ConditionalGAN randomness, frozen batch norm,
dtypes, argument checks; models loaded by rb.load drawing from the library generator."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.nn import registry

nn = rb.nn


def _gan(rng=None, noise_dim=2, **options):
    G = nn.Sequential(nn.Dense(noise_dim, 8, rng=1), nn.ReLU(), nn.Dense(8, 2, rng=2))
    D = nn.Sequential(nn.Dense(2, 8, rng=3), nn.ReLU(), nn.Dense(8, 1, rng=4))
    return rb.models.GAN(G, D, noise_dim=noise_dim, rng=rng, **options)


def _cgan(rng=None, **options):
    G = nn.Sequential(nn.Dense(2 + 3, 8, rng=0), nn.Tanh(), nn.Dense(8, 2, rng=1))
    D = nn.Sequential(nn.Dense(2 + 3, 8, rng=2), nn.Tanh(), nn.Dense(8, 1, rng=3))
    return rb.models.ConditionalGAN(G, D, noise_dim=2, n_classes=3, rng=rng, **options)


_X = np.random.default_rng(0).normal(size=(48, 2)).astype(np.float32)


# -- rng=None is the library generator at each draw (rb.seed after construction) ----------
def test_gan_with_rng_none_follows_a_later_rb_seed():
    gan = _gan()
    rb.seed(0)
    a = gan.sample(3)
    rb.seed(0)
    assert np.array_equal(a, gan.sample(3))
    assert gan.rng is rb.randomness.generator()
    g1, g2 = _gan(), _gan()
    rb.seed(5)
    g1.fit(_X, epochs=1, batch_size=16)
    rb.seed(5)
    g2.fit(_X, epochs=1, batch_size=16)
    for p, q in zip(g1.parameters(), g2.parameters()):
        assert np.array_equal(p.data, q.data)


def test_conditional_gan_with_rng_none_follows_a_later_rb_seed():
    c1, c2 = _cgan(), _cgan()
    y = np.arange(48) % 3
    rb.seed(3)
    c1.fit(_X, y, epochs=1, batch_size=16)
    rb.seed(3)
    c2.fit(_X, y, epochs=1, batch_size=16)
    for p, q in zip(c1.parameters(), c2.parameters()):
        assert np.array_equal(p.data, q.data)
    rb.seed(1)
    a = c1.sample(4)
    rb.seed(1)
    assert np.array_equal(a, c1.sample(4))


def test_a_given_rng_is_still_the_gans_own():
    gen = np.random.default_rng(7)
    gan = _gan(rng=gen)
    assert gan.rng is gen
    assert "model.rng" in gan._generators()


# -- a loaded GAN draws from the library generator, not the loader's throwaway one --------
@pytest.mark.parametrize("conditional", [False, True])
def test_a_loaded_gan_draws_from_the_library_generator(tmp_path, conditional):
    model = _cgan(rng=0) if conditional else _gan(rng=0)
    if conditional:
        model.fit(_X, np.arange(48) % 3, epochs=1, batch_size=16)
    path = tmp_path / "gan.rb"
    rb.save(model, path)
    a, b = rb.load(path), rb.load(path)
    assert not isinstance(a.rng, registry._BudgetGenerator)
    assert a.rng is rb.randomness.generator()
    rb.seed(1)
    s1 = a.sample(3)
    rb.seed(2)
    s2 = b.sample(3)
    assert not np.array_equal(s1, s2)
    rb.seed(1)
    assert np.array_equal(a.sample(3), s1)


@pytest.mark.parametrize("kind", ["RBM", "DBN"])
def test_other_loaded_models_do_not_keep_the_loaders_generator(tmp_path, kind):
    """rb.load replaces the throwaway generator a constructor kept (rng=None) by the library
    generator: no draw budget, no fixed stream."""
    model = rb.models.RBM(4, 3, rng=0) if kind == "RBM" else rb.models.DBN([4, 3, 2], rng=0)
    path = tmp_path / "m.rb"
    rb.save(model, path)
    loaded = rb.load(path)
    found = [value for m in loaded.modules() for value in vars(m).values()
             if isinstance(value, np.random.Generator)]
    assert found and not any(isinstance(g, registry._BudgetGenerator) for g in found)
    assert all(g is rb.randomness.generator() for g in found)


# -- frozen batch norm stays fixed in GAN.fit ------------------------------------------------
def test_gan_fit_holds_frozen_batch_norm_in_evaluation_mode():
    rng = np.random.default_rng(0)
    pre = nn.Sequential(nn.Dense(2, 8, rng=0), nn.BatchNorm1d(8), nn.ReLU(), nn.Dense(8, 3, rng=1))
    bn = pre[1]
    bn.running_mean[...] = rng.normal(size=8)
    mean0, var0 = bn.running_mean.copy(), bn.running_var.copy()
    D = rb.training.transfer.replace_output(pre, nn.Dense(8, 1, rng=2))
    gbody = nn.Sequential(nn.Dense(2, 8, rng=5), nn.BatchNorm1d(8))
    gbody.freeze()
    gbn = gbody[1]
    gmean0 = gbn.running_mean.copy()
    G = nn.Sequential(*gbody.layers, nn.ReLU(), nn.Dense(8, 2, rng=4))
    gan = rb.models.GAN(G, D, noise_dim=2, rng=0)
    gan.train()
    gan.fit(5 + rng.normal(size=(64, 2)), epochs=1, batch_size=16)
    assert np.array_equal(bn.running_mean, mean0) and np.array_equal(bn.running_var, var0)
    assert np.array_equal(gbn.running_mean, gmean0)
    assert bn.training and gbn.training  # modes restored after fit


# -- dtypes, argument checks ----------------------------------------------------------------
def test_discriminate_keeps_the_models_float32():
    gan = _gan(rng=0)
    assert gan.discriminate(_X).dtype == np.float32
    c = _cgan(rng=0)
    assert c.discriminate(_X, np.arange(48) % 3).dtype == np.float32
    # the probabilities themselves: sigmoid of the logits
    logits = gan.discriminator(rb.tensor(_X)).data.reshape(-1)
    np.testing.assert_allclose(gan.discriminate(_X), 1 / (1 + np.exp(-logits)), rtol=1e-6)


@pytest.mark.parametrize("n", [-1, 2.5, "3", True])
def test_draw_noise_and_sample_conditions_check_n(n):
    c = _cgan(rng=0, condition_sampler="empirical")
    c.fit(_X, np.arange(48) % 3, epochs=1, batch_size=16)
    with pytest.raises((TypeError, ValueError), match="ConditionalGAN.draw_noise: n"):
        c.draw_noise(n)
    with pytest.raises((TypeError, ValueError), match="ConditionalGAN.sample_conditions: n"):
        c.sample_conditions(n)
    assert c.draw_noise(0).shape == (0, 2)
    assert c.draw_noise(np.int64(2)).shape == (2, 2)


@pytest.mark.parametrize("name", ["LBFGS", "BoltzmannAnnealer"])
def test_closure_optimizers_are_refused_at_construction(name):
    cls = getattr(rb.optim, name)
    D = nn.Sequential(nn.Dense(2, 8, rng=3), nn.ReLU(), nn.Dense(8, 1, rng=4))
    G = nn.Sequential(nn.Dense(2, 8, rng=1), nn.ReLU(), nn.Dense(8, 2, rng=2))
    with pytest.raises(TypeError, match=f"GAN: optimizer_d \\({name}\\) needs a closure"):
        rb.models.GAN(G, D, noise_dim=2, optimizer_d=cls(D.parameters()), rng=0)
    with pytest.raises(TypeError, match="GAN: optimizer_g .* needs a closure"):
        rb.models.GAN(G, D, noise_dim=2, optimizer_g=lambda p: cls(p), rng=0)


@pytest.mark.parametrize("bad", [lambda p: None, lambda p: p])
def test_a_callable_that_returns_no_optimizer_is_refused_by_name(bad):
    with pytest.raises(TypeError, match=r"GAN: optimizer_d\(params\) must return an rb.optim "
                                        r"optimizer; got"):
        _gan(rng=0, optimizer_d=bad)


def test_a_closure_optimizer_assigned_after_construction_is_refused_by_fit():
    gan = _gan(rng=0)
    gan.optimizer_d = rb.optim.LBFGS(gan.discriminator.parameters())
    before = [p.data.copy() for p in gan.parameters()]
    with pytest.raises(TypeError, match=r"GAN.fit: optimizer_d \(LBFGS\) needs a closure"):
        gan.fit(_X, epochs=1, batch_size=16)
    for p, v in zip(gan.parameters(), before):
        assert np.array_equal(p.data, v)
