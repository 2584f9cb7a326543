"""Audit a4 (session 7): generative and unsupervised models. Clones that own their state,
hyper-parameters set after construction, DBN.up_down and frozen parameters, the cGAN's
training conditions (the notes' Parzen draws), and input checks of RBM and GAN methods."""

import numpy as np
import pytest

import rosenblatt as rb

nn = rb.nn


def _bits(n=60, d=6, seed=0):
    return (np.random.default_rng(seed).random((n, d)) < 0.5).astype(np.float32)


def _gan(**kw):
    G = nn.Sequential(nn.Dense(2, 8, rng=0), nn.Tanh(), nn.Dense(8, 2, rng=1))
    D = nn.Sequential(nn.Dense(2, 8, rng=2), nn.Tanh(), nn.Dense(8, 1, rng=3))
    return rb.models.GAN(G, D, noise_dim=2, rng=0, **kw)


def _cgan(cond_width, **kw):
    G = nn.Sequential(nn.Dense(2 + cond_width, 8, rng=0), nn.Tanh(), nn.Dense(8, 2, rng=1))
    D = nn.Sequential(nn.Dense(2 + cond_width, 8, rng=2), nn.Tanh(), nn.Dense(8, 1, rng=3))
    return rb.models.ConditionalGAN(G, D, noise_dim=2, rng=0, **kw)


# -- finding 1: a clone of an RBM or a DBN owns its flat vector and default optimizer -------
def test_rbm_clone_of_a_trained_rbm_trains_itself_only():
    X = _bits()
    a = rb.models.RBM(6, 3, rng=0)
    a.fit(X, epochs=1, batch_size=10, progress=False)
    b = a.clone()
    assert b.vector is not a.vector and b._optimizer is not a._optimizer
    Wa, Wb = a.W.data.copy(), b.W.data.copy()
    b.fit(X, epochs=2, batch_size=10, progress=False, rng=1)
    assert np.array_equal(a.W.data, Wa)
    assert not np.array_equal(b.W.data, Wb)
    # the velocity was copied: the clone trains on as the original would with the same draws
    a.fit(X, epochs=2, batch_size=10, progress=False, rng=1)
    np.testing.assert_array_equal(a.W.data, b.W.data)


def test_rbm_clone_of_a_fresh_rbm_learns():
    X = _bits()
    c = rb.models.RBM(6, 3, rng=0)
    d = c.clone()
    Wc, Wd = c.W.data.copy(), d.W.data.copy()
    d.fit(X, epochs=2, batch_size=10, progress=False)
    assert np.array_equal(c.W.data, Wc) and not np.array_equal(d.W.data, Wd)
    assert all(p is q for p, q in zip(d.vector.params, (d.W, d.b, d.c)))


def test_dbn_clone_pretrains_itself_only():
    X = _bits()
    e = rb.models.DBN([6, 4, 3], rng=0)
    e.pretrain(X, epochs_per_layer=1, batch_size=10, progress=False)
    f = e.clone()
    before = [p.data.copy() for p in e.parameters()]
    Wf = f.rbms[0].W.data.copy()
    f.pretrain(X, epochs_per_layer=2, batch_size=10, progress=False)
    assert all(np.array_equal(p.data, q) for p, q in zip(e.parameters(), before))
    assert not np.array_equal(f.rbms[0].W.data, Wf)


# -- finding 2: hyper-parameters set after construction count, in memory and after a load --
def test_rbm_sparsity_set_later_is_used_by_training(tmp_path):
    X = _bits(200, 8)
    built = rb.models.RBM(8, 6, sparsity=(0.02, 5.0), lr=0.1, rng=0)
    later = rb.models.RBM(8, 6, lr=0.1, rng=0)
    later.sparsity = (0.02, 5.0)
    assert later._sparsity == (0.02, 5.0) and later.sparsity == (0.02, 5.0)
    for r in (built, later):
        r.fit(X, epochs=3, batch_size=20, progress=False, rng=1)
    np.testing.assert_array_equal(built.W.data, later.W.data)
    later.sparsity = None
    assert later._sparsity is None
    with pytest.raises(ValueError, match="sparsity"):
        later.sparsity = 1.5
    later.sparsity = 0.05
    path = tmp_path / "r.rb"
    rb.save(later, path)
    assert rb.load(path)._sparsity == later._sparsity == (0.05, 0.1)


def test_dbn_level_hyper_parameters_reach_every_rbm():
    d = rb.models.DBN([6, 4, 3], rng=0)
    d.lr, d.k, d.persistent, d.momentum, d.weight_decay = 0.5, 3, True, 0.9, 1e-3
    assert [(r.lr, r.k, r.persistent, r.momentum, r.weight_decay) for r in d.rbms] == \
        [(0.5, 3, True, 0.9, 1e-3)] * 2
    assert d.rbm_options is None
    with pytest.raises(ValueError, match="DBN: k"):
        d.k = 0
    with pytest.raises(ValueError, match="DBN: momentum"):
        d.momentum = 1.0
    assert d.k == 3 and d.rbms[0].k == 3


def test_dbn_per_rbm_values_win_and_survive_save_and_load(tmp_path):
    X = _bits()
    d = rb.models.DBN([6, 4, 3], lr=0.1, rng=0)
    d.rbms[1].k, d.rbms[1].persistent, d.rbms[1].weight_decay = 5, True, 1e-3
    d.rbms[0].sparsity = (0.1, 0.5)
    assert d.rbm_options == [{"sparsity": (0.1, 0.5)},
                             {"k": 5, "persistent": True, "weight_decay": 1e-3}]
    path = tmp_path / "d.rb"
    rb.save(d, path)
    e = rb.load(path)
    assert [(r.k, r.persistent, r.weight_decay, r.sparsity, r.lr) for r in e.rbms] == \
        [(r.k, r.persistent, r.weight_decay, r.sparsity, r.lr) for r in d.rbms]
    assert e.rbm_options == d.rbm_options
    # the loaded copy pretrains as the in-memory model does
    d.pretrain(X, epochs_per_layer=2, batch_size=10, progress=False, rng=3)
    e.pretrain(X, epochs_per_layer=2, batch_size=10, progress=False, rng=3)
    for p, q in zip(d.parameters(), e.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    # DBN-level settings set every RBM again
    d.k = 2
    assert [r.k for r in d.rbms] == [2, 2]


def test_dbn_rbm_options_are_checked():
    with pytest.raises(ValueError, match="one dict per RBM"):
        rb.models.DBN([6, 4, 3], rbm_options=[{}])
    with pytest.raises(ValueError, match=r"rbm_options\[1\] has unknown key"):
        rb.models.DBN([6, 4, 3], rbm_options=[{}, {"steps": 3}])
    with pytest.raises(ValueError, match=r"rbm_options\[0\]: k"):
        rb.models.DBN([6, 4, 3], rbm_options=[{"k": 0}, {}])
    d = rb.models.DBN([6, 4, 3], rbm_options=[{"k": 4}, {"sparsity": 0.1}])
    assert (d.rbms[0].k, d.rbms[1].k, d.rbms[1]._sparsity) == (4, 1, (0.1, 0.1))


def test_autoencoder_noise_set_later_is_the_corruption_used(tmp_path):
    ae = rb.models.Autoencoder(6, 3, sparsity=0.1, rng=0)
    ae.noise = ("masking", 0.5)
    assert ae.noise == ("masking", 0.5)
    assert (ae._corruption.kind, ae._corruption.level) == ("masking", 0.5)
    assert ae.regularizers[0] is ae._corruption and len(ae.regularizers) == 2
    assert ae.sample_chain(np.zeros((1, 6)), 2).shape == (2, 1, 6)
    ae.noise = ["gaussian", 0.2]  # replaced in place
    assert ae.regularizers[0] is ae._corruption and ae._corruption.kind == "gaussian"
    assert len(ae.regularizers) == 2
    path = tmp_path / "a.rb"
    rb.save(ae, path)
    b = rb.load(path)
    assert b.noise == ae.noise and [type(r).__name__ for r in b.regularizers] == \
        [type(r).__name__ for r in ae.regularizers]
    ae.noise = None
    assert ae._corruption is None and len(ae.regularizers) == 1
    with pytest.raises(ValueError, match="needs a denoising"):
        ae.sample_chain(np.zeros((1, 6)), 2)
    with pytest.raises(ValueError, match="noise"):
        ae.noise = ("blur", 0.1)
    # set later or given to the constructor: the same training
    X = np.random.default_rng(0).random((40, 6)).astype(np.float32)
    a = rb.models.Autoencoder(6, 3, noise=("masking", 0.3), rng=0)
    c = rb.models.Autoencoder(6, 3, rng=0)
    c.noise = ("masking", 0.3)
    for m in (a, c):
        m.fit(X, epochs=1, batch_size=10)
    np.testing.assert_array_equal(a.W.data, c.W.data)


# -- finding 3: up_down leaves frozen parameters alone ------------------------------------
def test_up_down_leaves_frozen_parameters_alone():
    X = _bits()
    d = rb.models.DBN([6, 4, 3], rng=0)
    d.pretrain(X, epochs_per_layer=1, batch_size=10, progress=False)
    d.freeze()
    before = [p.data.copy() for p in d.parameters()]
    d.up_down(X, epochs=1, batch_size=10)
    assert all(np.array_equal(p.data, q) for p, q in zip(d.parameters(), before))
    # one frozen parameter: only it stays
    d.unfreeze()
    d.gen_W[0].requires_grad = False
    d.rbms[0].W.requires_grad = False
    kept = d.gen_W[0].data.copy(), d.rbms[0].W.data.copy()
    top = d.top.W.data.copy()
    d.up_down(X, epochs=1, batch_size=10)
    assert np.array_equal(d.gen_W[0].data, kept[0]) and np.array_equal(d.rbms[0].W.data, kept[1])
    assert not np.array_equal(d.top.W.data, top)


# -- finding 4: clones do not share the History, nor the last forward pass ----------------
def test_gan_clone_has_its_own_history():
    X = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    g = _gan()
    g.fit(X, epochs=1, batch_size=16)
    h = g.clone()
    assert h.history is not g.history and len(h.history) == 1
    h.fit(X, epochs=1, batch_size=16)
    assert len(g.history) == 1 and len(h.history) == 2


def test_conditional_gan_clone_has_its_own_history():
    X = np.random.default_rng(0).normal(size=(60, 2)).astype(np.float32)
    c = _cgan(3, n_classes=3)
    c.fit(X, np.arange(60) % 3, epochs=2, batch_size=20)
    d = c.clone()
    d.fit(X, np.arange(60) % 3, epochs=1, batch_size=20)
    assert len(c.history) == 2 and len(d.history) == 3


def test_autoencoder_clone_does_not_share_the_last_forward():
    ae = rb.models.Autoencoder(6, 3, sparsity=0.1, rng=0)
    ae(rb.tensor(np.random.default_rng(0).random((4, 6)).astype(np.float32)))
    twin = ae.clone()
    assert twin._last is None and ae._last is not None
    assert twin.penalty() is None
    ae.W.grad = None
    twin(rb.tensor(np.random.default_rng(1).random((4, 6)).astype(np.float32)))
    twin.penalty().backward()
    assert ae.W.grad is None and twin.W.grad is not None


# -- finding 5: the cGAN's training conditions, "data" (default) or "parzen" (the notes) ---
def _spy_conditions(c):
    """Record the conditions of every counterfeit the cGAN generates in training."""
    seen = []
    generate = c._generate

    def spy(z, y):
        seen.append(np.array(y, copy=True))
        return generate(z, y)

    c._generate = spy
    return seen


@pytest.mark.parametrize("mode", ["data", "parzen"])
def test_cgan_train_conditions(mode):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(60, 2)).astype(np.float32), rng.normal(size=(60, 1))
    kw = {} if mode == "data" else {"train_conditions": "parzen"}
    c = _cgan(1, condition_dim=1, **kw)
    assert c.train_conditions == mode
    seen = _spy_conditions(c)
    c.fit(X, Y, epochs=1, batch_size=20)
    used = np.concatenate(seen)[:, 0]
    exact = np.isin(used, Y.astype(np.float32)[:, 0]).mean()
    assert len(used) == 2 * 60  # 3 D steps and 3 G steps of 20 counterfeits
    if mode == "data":
        assert exact == 1.0
    else:
        assert exact == 0.0 and float(c.condition_sigma_) > 0
        # the draws follow the estimate: near the data's spread
        assert 0.5 < used.std() < 2.0


def test_cgan_parzen_training_keeps_the_real_rows_conditions():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(40, 2)).astype(np.float32), rng.normal(size=(40, 1))
    c = _cgan(1, condition_dim=1, train_conditions="parzen")
    real = []
    discriminate = c._discriminate

    def spy(x, y):
        if len(y) == 2 * 20:  # a D step: [real rows; counterfeits]
            real.append(np.array(y[:20], copy=True))
        return discriminate(x, y)

    c._discriminate = spy
    c.fit(X, Y, epochs=1, batch_size=20)
    assert real and np.isin(np.concatenate(real), Y.astype(np.float32)).all()


def test_cgan_parzen_labels_and_empirical_sampler_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2)).astype(np.float32)
    y = np.arange(60) % 3
    c = _cgan(3, n_classes=3, condition_sampler="empirical", train_conditions="parzen")
    seen = _spy_conditions(c)
    c.fit(X, y, epochs=1, batch_size=20)
    labels = np.concatenate(seen)
    assert labels.dtype.kind == "i" and set(labels.tolist()) <= {0, 1, 2}
    assert float(c.condition_sigma_) > 0  # fitted for training though sample() is empirical
    path = tmp_path / "c.rb"
    rb.save(c, path)
    d = rb.load(path)
    assert d.train_conditions == "parzen" and d.condition_sampler == "empirical"
    # the loaded copy draws its training conditions as the saved one does (the estimate
    # rebuilt from the saved conditions and width)
    assert d.condition_density_ is None
    assert np.array_equal(d._parzen_conditions(50, np.random.default_rng(1)),
                          c._parzen_conditions(50, np.random.default_rng(1)))


def test_cgan_parzen_training_resumes_as_the_uninterrupted_run(tmp_path):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(40, 2)).astype(np.float32), rng.normal(size=(40, 1))
    path = tmp_path / "c.ckpt"
    straight = _cgan(1, condition_dim=1, train_conditions="parzen")
    straight.fit(X, Y, epochs=4, batch_size=10)
    _cgan(1, condition_dim=1, train_conditions="parzen").fit(
        X, Y, epochs=2, batch_size=10, callbacks=[rb.callbacks.Checkpoint(path)])
    resumed = _cgan(1, condition_dim=1, train_conditions="parzen")
    resumed.fit(X, Y, epochs=4, batch_size=10, resume_from=path)
    for key, value in straight.state_dict().items():
        assert np.array_equal(value, resumed.state_dict()[key]), key
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert straight.history.history[key] == resumed.history.history[key], key


@pytest.mark.slow
def test_cgan_trained_on_parzen_conditions_draws_each_label():
    """The notes' recipe learns: digits drawn for a label are classified as that label."""
    X, y = rb.datasets.load_digits()
    rng = np.random.default_rng(0)
    clf = nn.Sequential(nn.Dense(64, 64, rng=rng), nn.ReLU(), nn.Dense(64, 10, rng=rng))
    rb.fit(clf, X, y, loss="cross_entropy", optimizer=rb.optim.Adam(clf.parameters(), lr=3e-3),
           epochs=10, batch_size=64, progress=False, rng=0)
    G = nn.Sequential(nn.Dense(16 + 10, 128, rng=rng), nn.ReLU(), nn.Dense(128, 64, rng=rng),
                      nn.Sigmoid())
    D = nn.Sequential(nn.Dense(64 + 10, 128, rng=rng), nn.LeakyReLU(0.2),
                      nn.Dense(128, 1, rng=rng))

    def adam(params):
        return rb.optim.Adam(params, lr=2e-3, betas=(0.5, 0.999))

    cgan = rb.models.ConditionalGAN(G, D, 16, n_classes=10, optimizer_g=adam, optimizer_d=adam,
                                    rng=0, train_conditions="parzen")
    cgan.fit(X, y, epochs=30, batch_size=64)
    hits = [(rb.training.predict(clf, cgan.sample(100, y=c)).argmax(axis=1) == c).mean()
            for c in range(10)]
    assert np.mean(hits) > 0.6 and min(hits) > 0.3  # chance is 0.1


def test_cgan_train_conditions_is_checked_and_defaults_to_data():
    with pytest.raises(ValueError, match="train_conditions"):
        _cgan(3, n_classes=3, train_conditions="kde")
    c = _cgan(3, n_classes=3)
    assert c.config()["train_conditions"] == "data"
    # data mode: the same training as before the option (the G step takes the rows'
    # conditions that the next D step would take)
    X = np.random.default_rng(0).normal(size=(60, 2)).astype(np.float32)
    a, b = _cgan(3, n_classes=3), _cgan(3, n_classes=3, train_conditions="data")
    for m in (a, b):
        m.fit(X, np.arange(60) % 3, epochs=1, batch_size=20)
    np.testing.assert_array_equal(a.generator[0].W.data, b.generator[0].W.data)


# -- finding 6: gibbs and sample(init) check their start as data are checked ---------------
def test_gibbs_and_sample_init_check_the_range():
    r = rb.models.RBM(4, 3, rng=0)
    bad = np.array([[5.0, -3.0, 0.5, 7.0]])
    with pytest.raises(ValueError, match=r"gibbs: Bernoulli visible units need data in \[0, 1\]"):
        r.gibbs(bad)
    with pytest.raises(ValueError, match=r"sample: Bernoulli visible units need data"):
        r.sample(1, steps=2, init=bad)
    assert r.gibbs(np.array([[1.0, 0.0, 0.5, 1.0]])).shape == (1, 4)
    s = rb.models.RBM(5, 3, softmax=3, rng=0)
    with pytest.raises(ValueError, match="gibbs: the last 3 visible units are a softmax group"):
        s.gibbs(np.array([[0.0, 1.0, 0.9, 0.9, 0.9]]))
    with pytest.raises(ValueError, match="sample: the last 3 visible units"):
        s.sample(1, steps=2, init=np.array([[0.0, 1.0, 0.9, 0.9, 0.9]]))
    assert s.gibbs(np.array([[0.0, 1.0, 0.2, 0.3, 0.5]])).shape == (1, 5)
    g = rb.models.RBM(4, 3, visible="gaussian", rng=0)
    assert g.gibbs(bad).shape == (1, 4)  # real-valued units: any finite start


# -- finding 7: GAN.discriminate checks its input -----------------------------------------
def test_gan_discriminate_checks_its_input():
    g = _gan()
    with pytest.raises(ValueError, match="GAN.discriminate: X contains NaN or infinite"):
        g.discriminate(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="GAN.discriminate: X contains NaN or infinite"):
        g.discriminate(np.full((2, 2), np.inf))
    with pytest.raises(ValueError, match=r"GAN.discriminate: X has examples of shape \(3,\)"):
        g.discriminate(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="GAN.discriminate: X must be a numeric array"):
        g.discriminate(np.array([["a", "b"]]))
    one = g.discriminate(np.array([0.5, -0.5]))  # a single sample: one row
    assert one.shape == (1,)
    assert np.array_equal(one, g.discriminate(np.array([[0.5, -0.5]])))
    assert g.discriminate(np.zeros((0, 2))).shape == (0,)
    c = _cgan(3, n_classes=3)
    with pytest.raises(ValueError, match="ConditionalGAN.discriminate: X contains NaN"):
        c.discriminate(np.full((2, 2), np.nan), [0, 1])
    assert c.discriminate(np.array([0.5, -0.5]), 1).shape == (1,)


# -- finding 8: RBM hidden-state inputs are checked (dtype, range) -------------------------
def test_rbm_hidden_state_inputs_are_checked():
    r = rb.models.RBM(4, 3, rng=0)
    v = np.array([[1.0, 0.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match=r"RBM\(4, 3\).energy: hidden units are binary.*7.0"):
        r.energy(v, np.full((1, 3), 7.0))
    with pytest.raises(ValueError, match=r"visible_probs: hidden units are binary.*-50"):
        r.visible_probs(np.full((1, 3), -50.0))
    with pytest.raises(TypeError, match=r"RBM\(4, 3\).visible_probs: expected numeric hidden"):
        r.visible_probs(np.array([["a", "b", "c"]]))
    with pytest.raises(ValueError, match="NaN or inf"):
        r.visible_probs(np.array([[np.nan, 0.0, 1.0]]))
    # binary states, probabilities and a rounding error past 1 are accepted
    assert r.energy(v, np.array([[1, 0, 1]])).shape == (1,)
    assert r.visible_probs(np.array([[0.2, 0.5, 1.0 + 1e-7]], np.float32)).shape == (1, 4)
