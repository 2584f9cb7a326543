"""Audit a4 (session 9): generative and unsupervised models. Clones after astype and at any
depth, the penalties of adversarial autoencoder training, per-layer settings of a stacked
autoencoder through save/load, hyper-parameters set after construction, a diverged GAN's
weights, and the boolean switches of the RBM, DBN and Autoencoder methods."""

import os

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff.tensor import Tensor

nn = rb.nn


def _bits(n=40, d=6, seed=0):
    return (np.random.default_rng(seed).random((n, d)) < 0.5).astype(np.float32)


def _gan(lr=None, out=2):
    G = nn.Sequential(nn.Dense(2, 8, rng=0), nn.Tanh(), nn.Dense(8, out, rng=1))
    D = nn.Sequential(nn.Dense(out, 8, rng=2), nn.Tanh(), nn.Dense(8, 1, rng=3))
    if lr is None:
        return rb.models.GAN(G, D, noise_dim=2, rng=0)
    return rb.models.GAN(G, D, noise_dim=2, rng=0,
                         optimizer_d=lambda p: rb.optim.SGD(p, lr=lr),
                         optimizer_g=lambda p: rb.optim.SGD(p, lr=lr))


class _Holder(nn.Module):
    def __init__(self, inner):
        self.inner = inner


# -- finding 1: a clone right after astype keeps the cast dtype and values ------------------
def test_rbm_clone_right_after_astype_is_float64_with_the_same_values():
    r = rb.models.RBM(6, 3, rng=0)
    r.fit(_bits(), epochs=1, batch_size=10, progress=False)
    r.astype(np.float64)
    r.W.data += 1e-9 * np.arange(r.W.size).reshape(r.W.shape)  # not representable in float32
    c = r.clone()
    assert c.W.dtype == np.float64 and c.vector.data.dtype == np.float64
    assert np.array_equal(c.W.data, r.W.data)
    assert np.array_equal(c.free_energy(_bits()[:3]), r.free_energy(_bits()[:3]))


def test_dbn_clone_right_after_astype_keeps_every_rbm_float64():
    d = rb.models.DBN([6, 4, 3], rng=0).astype(np.float64)
    c = d.clone()
    assert all(rbm.W.dtype == np.float64 for rbm in c.rbms)
    assert all(np.array_equal(a.W.data, b.W.data) for a, b in zip(c.rbms, d.rbms))


# -- finding 2: adversarial training penalises the training batch, not the adversarial one --
def test_autoencoder_adversarial_fit_takes_the_penalties_of_the_training_batch():
    X = np.random.default_rng(0).random((16, 6))
    eps, alpha, lr = 0.1, 0.5, 0.5

    def model():
        return rb.models.Autoencoder(6, 4, contractive=5.0, sparsity=0.05, rng=0).astype(
            np.float64)

    a = model()
    a.fit(X, epochs=1, batch_size=16, shuffle=False, optimizer=rb.optim.SGD(a.parameters(), lr=lr),
          adversarial=rb.adversarial.FGSM(eps, alpha=alpha))
    m = model()  # the same step by hand: alpha J(x) + (1 - alpha) J(x_adv) + penalties(x)
    xa = rb.adversarial.fgsm(m, X, X, eps, loss=m.reconstruction_loss)
    m.train()
    objective = (m.reconstruction_loss(m(Tensor(X)), X) * alpha
                 + m.reconstruction_loss(m(Tensor(xa)), X) * (1 - alpha) + m.penalty(X))
    objective.backward()
    for p in m.parameters():
        p.data -= lr * p.grad
    assert max(float(np.abs(p.data - q.data).max())
               for p, q in zip(a.parameters(), m.parameters())) < 1e-12


@pytest.mark.parametrize("extra, fresh", [("none", False), ("input_noise", False),
                                           ("fgsm", True)])
def test_autoencoder_penalties_encode_afresh_only_after_other_passes(monkeypatch, extra, fresh):
    calls = []
    real = rb.models.Autoencoder._penalty_of

    def spy(self, x):
        calls.append(x is not None)
        return real(self, x)

    monkeypatch.setattr(rb.models.Autoencoder, "_penalty_of", spy)
    ae = rb.models.Autoencoder(6, 4, contractive=0.5, rng=0)
    options = {"input_noise": {"regularizers": [nn.regularizers.InputNoise(0.05)]},
               "fgsm": {"adversarial": rb.adversarial.FGSM(0.1)}, "none": {}}[extra]
    ae.fit(_bits(), epochs=1, batch_size=10, **options)
    # the training pass's code when it is the batch's (no extra encoder pass a step)
    assert calls and all(c == fresh for c in calls)


# -- finding 3: a stacked autoencoder's per-layer settings survive save and load ------------
def test_stacked_autoencoder_saves_settings_changed_on_one_layer(tmp_path):
    s = rb.models.StackedAutoencoder([6, 4, 3], kind="denoising", rng=0)
    assert s.layer_overrides is None and "layer_overrides" not in s.config()
    s.layers[0].noise = ("gaussian", 0.3)
    s.layers[1].contractive = 0.5
    assert s.layer_overrides == [{"noise": ["gaussian", 0.3]}, {"contractive": 0.5}]
    path = os.fspath(tmp_path / "s.rbt")
    rb.save(s, path)
    loaded = rb.load(path)
    assert [layer.config() for layer in loaded.layers] == [layer.config() for layer in s.layers]
    assert loaded.layer_overrides == s.layer_overrides


def test_stacked_autoencoder_refuses_bad_layer_overrides():
    with pytest.raises(ValueError, match=r"layer_overrides\[0\] has unknown key\(s\) \['tied'\]"):
        rb.models.StackedAutoencoder([6, 4, 3], layer_overrides=[{"tied": True}, {}])
    with pytest.raises(ValueError, match="one dict per layer"):
        rb.models.StackedAutoencoder([6, 4, 3], layer_overrides=[{}])
    with pytest.raises(ValueError, match=r"layer_overrides\[1\]: contractive"):
        rb.models.StackedAutoencoder([6, 4, 3], layer_overrides=[{}, {"contractive": -1.0}])


# -- finding 4: hyper-parameters set after construction are checked at fit and at save -----
def _rbm_fit(m):
    m.fit(_bits(), epochs=1, batch_size=10, progress=False)


def _ae_fit(m):
    m.fit(_bits(), epochs=1, batch_size=10)


def _sc_fit(m):
    m.fit(_bits(), epochs=1)


def _gan_fit(m):
    m.fit(_bits(d=6), epochs=1, batch_size=10)


def _dbn_fit(m):
    m.pretrain(_bits(), epochs_per_layer=1, batch_size=10, progress=False)


_CASES = [
    ("RBM", lambda: rb.models.RBM(6, 3, rng=0), "k", 0, _rbm_fit, ValueError),
    ("RBM", lambda: rb.models.RBM(6, 3, rng=0, persistent=True), "k", 0, _rbm_fit, ValueError),
    ("RBM", lambda: rb.models.RBM(6, 3, rng=0), "weight_decay", -0.5, _rbm_fit, ValueError),
    ("RBM", lambda: rb.models.RBM(6, 3, rng=0), "persistent", "no", _rbm_fit, TypeError),
    ("Autoencoder", lambda: rb.models.Autoencoder(6, 4, rng=0), "sparsity", 1.5, _ae_fit,
     ValueError),
    ("Autoencoder", lambda: rb.models.Autoencoder(6, 4, rng=0), "sparsity_weight", -3.0,
     _ae_fit, ValueError),
    ("Autoencoder", lambda: rb.models.Autoencoder(6, 4, rng=0), "contractive", -1.0, _ae_fit,
     ValueError),
    ("SparseCoding", lambda: rb.models.SparseCoding(4, lam=0.1, rng=0), "lam", -0.1, _sc_fit,
     ValueError),
    ("GAN", lambda: _gan(out=6), "k", 0, _gan_fit, ValueError),
    ("GAN", lambda: _gan(out=6), "generator_loss", "wasserstein", _gan_fit, ValueError),
]


@pytest.mark.parametrize("owner, make, name, value, fit, error", _CASES,
                         ids=[f"{c[0]}.{c[2]}={c[3]!r}" for c in _CASES])
def test_a_hyper_parameter_set_after_construction_is_checked_at_fit_and_save(
        tmp_path, owner, make, name, value, fit, error):
    model = make()
    setattr(model, name, value)
    with pytest.raises(error, match=rf"{owner}\.fit: {name} must"):
        fit(model)
    path = tmp_path / "m.rbt"
    with pytest.raises(error, match=rf"save: {owner}: {name} must"):
        rb.save(model, os.fspath(path))
    assert not path.exists()  # refused before writing: never a file rb.load refuses


def test_dbn_checks_an_rbm_setting_changed_since_at_pretrain_and_save(tmp_path):
    d = rb.models.DBN([6, 4, 3], rng=0)
    d.rbms[1].persistent = "no"
    with pytest.raises(TypeError, match=r"DBN\.pretrain: rbms\[1\]: persistent must be True"):
        _dbn_fit(d)
    with pytest.raises(TypeError, match=r"rbms\[1\]: persistent must be True"):
        rb.save(d, os.fspath(tmp_path / "d.rbt"))


def test_a_valid_setting_changed_since_still_trains_and_round_trips(tmp_path):
    ae = rb.models.Autoencoder(6, 4, rng=0)
    ae.contractive, ae.sparsity = 0.2, 0.1
    _ae_fit(ae)
    path = os.fspath(tmp_path / "ae.rbt")
    rb.save(ae, path)
    assert rb.load(path).config() == ae.config()


# -- finding 5: the clone's own state at any depth (modules held by other modules) ---------
def test_stacked_autoencoder_clone_does_not_share_its_layers_last_forward():
    X = np.random.default_rng(0).random((8, 6)).astype(np.float32)
    s = rb.models.StackedAutoencoder([6, 4, 3], kind="contractive", rng=0)
    s.layers[0](Tensor(X))
    c = s.clone()
    assert c.layers[0]._last is None and s.layers[0]._last is not None
    assert c.layers[0].penalty() is None


def test_a_gan_held_by_another_module_is_cloned_with_its_own_optimizers_and_history():
    Y = np.random.default_rng(1).normal(size=(32, 2)).astype(np.float32)
    h = _Holder(_gan())
    h.inner.fit(Y, epochs=1, batch_size=16)
    c = h.clone()
    assert c.inner.history is not h.inner.history
    before = [p.data.copy() for p in h.inner.parameters()]
    c.inner.fit(Y, epochs=1, batch_size=16)
    assert len(h.inner.history["d_loss"]) == 1 and len(c.inner.history["d_loss"]) == 2
    assert all(np.array_equal(a, p.data) for a, p in zip(before, h.inner.parameters()))


def test_an_rbm_held_by_another_module_is_cloned_with_its_velocity():
    X = _bits()
    h = _Holder(rb.models.RBM(6, 3, rng=0))
    h.inner.fit(X, epochs=1, batch_size=10, progress=False)
    c = h.clone()
    assert c.inner._optimizer is not None and c.inner._optimizer is not h.inner._optimizer
    assert np.array_equal(c.inner._optimizer.state_dict()["velocity"],
                          h.inner._optimizer.state_dict()["velocity"])


# -- finding 6: a diverged GAN fit keeps the last good weights -----------------------------
def test_gan_fit_that_diverges_puts_back_the_weights_and_optimizer_states():
    X = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    g = _gan(lr=0.05)
    g.fit(X, epochs=1, batch_size=8)
    before = [p.data.copy() for p in g.parameters()]
    states = [g.optimizer_g.state_dict(), g.optimizer_d.state_dict()]
    g.optimizer_d.lr = g.optimizer_g.lr = 1e38
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError,
                                                  match="from before this fit were kept"):
        g.fit(X, epochs=1, batch_size=8)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, g.parameters()))
    for old, new in zip(states, (g.optimizer_g.state_dict(), g.optimizer_d.state_dict())):
        assert all(np.array_equal(np.asarray(old[k]), np.asarray(new[k])) for k in old
                   if k != "lr")
    assert len(g.history["d_loss"]) == 1  # the diverged epoch is not logged


# -- finding 7: method-level boolean switches refuse strings ------------------------------
def _rbm():
    return rb.models.RBM(6, 3, rng=0)


_SWITCHES = [
    ("RBM.fit", "shuffle", lambda v: _rbm().fit(_bits(), epochs=1, progress=False, shuffle=v)),
    ("RBM.fit", "progress", lambda v: _rbm().fit(_bits(), epochs=1, progress=v)),
    ("RBM.sample", "mean", lambda v: _rbm().sample(2, steps=1, mean=v)),
    ("RBM.pseudo_likelihood", "exact", lambda v: _rbm().pseudo_likelihood(_bits(), exact=v)),
    ("RBM.log_likelihood", "return_bounds",
     lambda v: _rbm().log_likelihood(_bits(), return_bounds=v)),
    ("DBN.generate", "mean",
     lambda v: rb.models.DBN([6, 4, 3], rng=0).generate(2, gibbs_steps=1, mean=v)),
    ("DBN.pretrain", "progress",
     lambda v: rb.models.DBN([6, 4, 3], rng=0).pretrain(_bits(), epochs_per_layer=1,
                                                        progress=v)),
    ("Autoencoder.sample_chain", "means",
     lambda v: rb.models.Autoencoder(6, 4, noise=("masking", 0.2), rng=0).sample_chain(
         _bits()[:2], 2, means=v)),
]


@pytest.mark.parametrize("owner, name, call", _SWITCHES, ids=[f"{o}-{n}" for o, n, _ in _SWITCHES])
def test_method_switches_refuse_a_string(owner, name, call):
    with pytest.raises(TypeError, match=rf"{owner}: {name} must be True or False; got 'no'"):
        call("no")
    call(np.bool_(False))  # NumPy booleans still pass
