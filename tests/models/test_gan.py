"""GAN (notes: "Generative Adversarial Networks", "Training generative adversarial networks")."""

import numpy as np
import pytest

import rosenblatt as rb


def _mlp(sizes, rng, out_act=None):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(rb.nn.Dense(a, b, rng=rng, dtype=np.float64))
        if i < len(sizes) - 2:
            layers.append(rb.nn.ReLU())
    if out_act is not None:
        layers.append(out_act)
    return rb.nn.Sequential(*layers)


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def test_objectives_equal_hand_computed_values():
    rng = np.random.default_rng(0)
    gan = rb.models.GAN(_mlp([3, 4, 2], rng), _mlp([2, 4, 1], rng), noise_dim=3)
    real = rng.normal(size=(5, 1)) * 3
    fake = rng.normal(size=(5, 1)) * 3
    d = gan.discriminator_loss(rb.tensor(real), rb.tensor(fake)).item()
    want = -np.mean(np.log(_sigmoid(real)) + np.log(1 - _sigmoid(fake)))
    assert d == pytest.approx(want, rel=1e-12)
    g = gan.generator_objective(rb.tensor(fake)).item()
    assert g == pytest.approx(-np.mean(np.log(_sigmoid(fake))), rel=1e-12)
    gan.generator_loss = "minimax"
    g = gan.generator_objective(rb.tensor(fake)).item()
    assert g == pytest.approx(np.mean(np.log(1 - _sigmoid(fake))), rel=1e-12)


def test_conditional_costs_equal_the_notes_J_D_and_J_G():
    rng = np.random.default_rng(1)
    cgan = rb.models.ConditionalGAN(_mlp([3 + 2, 4, 2], rng), _mlp([2 + 2, 4, 1], rng),
                                    noise_dim=3, n_classes=2)
    real, fake = rng.normal(size=(6, 1)), rng.normal(size=(6, 1))
    jd = cgan.discriminator_loss(rb.tensor(real), rb.tensor(fake)).item()
    assert jd == pytest.approx(-(np.log(_sigmoid(real)).sum()
                                 + np.log(1 - _sigmoid(fake)).sum()) / 12, rel=1e-12)
    jg = cgan.generator_objective(rb.tensor(fake)).item()
    assert jg == pytest.approx(-np.log(_sigmoid(fake)).mean(), rel=1e-12)


def _replay_step(G, D, X, m, k, noise_dim, rng, gen_loss, lr=0.1, mu=0.5, scale=1.0):
    """The notes' algorithm for one epoch of one iteration, written out by hand."""
    opt_d = rb.optim.SGD(D.parameters(), lr=lr, momentum=mu)
    opt_g = rb.optim.SGD(G.parameters(), lr=lr, momentum=mu)
    order = rng.permutation(len(X))
    cursor = 0
    for _ in range(k):
        z = rng.standard_normal((m, noise_dim))
        x = X[order[cursor:cursor + m]]
        cursor += m
        fake = G(rb.tensor(z)).data
        real_logit, fake_logit = D(rb.tensor(x)), D(rb.tensor(fake))
        # ascend (1/m) sum [log D(x) + log(1 - D(G(z)))]: descend its negative
        value = (rb.log(rb.sigmoid(real_logit)).sum()
                 + rb.log(1 - rb.sigmoid(fake_logit)).sum()) * (-scale / m)
        opt_d.zero_grad()
        value.backward()
        opt_d.step()
    z = rng.standard_normal((m, noise_dim))
    p = rb.sigmoid(D(G(rb.tensor(z))))
    value = rb.log(1 - p).mean() if gen_loss == "minimax" else -rb.log(p).mean()
    opt_g.zero_grad()
    value.backward()
    opt_g.step()


@pytest.mark.parametrize("k,gen_loss", [(1, "non_saturating"), (3, "minimax")])
def test_one_fit_step_is_the_notes_algorithm(k, gen_loss):
    m, noise_dim = 4, 3
    X = np.random.default_rng(5).normal(size=(m * k, 2))
    nets = []
    for _ in range(2):
        rng = np.random.default_rng(7)
        nets.append((_mlp([noise_dim, 5, 2], rng), _mlp([2, 5, 1], rng)))
    (G, D), (G2, D2) = nets
    gan = rb.models.GAN(G, D, noise_dim, k=k, generator_loss=gen_loss,
                        optimizer_g=rb.optim.SGD(G.parameters(), lr=0.1, momentum=0.5),
                        optimizer_d=rb.optim.SGD(D.parameters(), lr=0.1, momentum=0.5),
                        rng=np.random.default_rng(11))
    gan.fit(X, epochs=1, batch_size=m)
    _replay_step(G2, D2, X, m, k, noise_dim, np.random.default_rng(11), gen_loss)
    for a, b in zip(G.parameters() + D.parameters(), G2.parameters() + D2.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-10, atol=1e-12)
    assert gan.optimizer_d.t == k and gan.optimizer_g.t == 1


def _gan_2d(seed, epochs, n, noise_dim=2, hidden=32, g_layers=1, lr=2e-3, decay=0.02):
    """A small MLP GAN; Adam (beta1 = 0.5) with the learning rate decayed over the run, so the
    game settles instead of circling at the end."""
    rng = np.random.default_rng(seed)
    g = [rb.nn.Dense(noise_dim, hidden, rng=rng), rb.nn.ReLU()]
    for _ in range(g_layers - 1):
        g += [rb.nn.Dense(hidden, hidden, rng=rng), rb.nn.ReLU()]
    G = rb.nn.Sequential(*g, rb.nn.Dense(hidden, 2, rng=rng))
    D = rb.nn.Sequential(rb.nn.Dense(2, hidden, rng=rng), rb.nn.LeakyReLU(0.2),
                         rb.nn.Dense(hidden, hidden, rng=rng), rb.nn.LeakyReLU(0.2),
                         rb.nn.Dense(hidden, 1, rng=rng))
    steps = epochs * (n // 64)

    def schedule(t):
        return lr * decay ** min(t / steps, 1.0)

    return rb.models.GAN(G, D, noise_dim,
                         optimizer_g=rb.optim.Adam(G.parameters(), lr=schedule, betas=(0.5, 0.999)),
                         optimizer_d=rb.optim.Adam(D.parameters(), lr=schedule, betas=(0.5, 0.999)),
                         rng=seed)


@pytest.mark.parametrize("seed", [0, 1])
def test_samples_match_a_gaussian_mean_and_covariance(seed):
    rng = np.random.default_rng(0)
    mean = np.array([2.0, -1.0])
    cov = np.array([[1.0, 0.6], [0.6, 0.5]])
    X = rng.multivariate_normal(mean, cov, size=2048).astype(np.float32)
    gan = _gan_2d(seed, 40, len(X))
    gan.fit(X, epochs=40, batch_size=64)
    s = gan.sample(4000).astype(np.float64)
    np.testing.assert_allclose(s.mean(axis=0), mean, atol=0.15)
    np.testing.assert_allclose(np.cov(s.T), cov, atol=0.2)


def ring(n, rng, radius=2.0, std=0.05):
    """The 8 Gaussians on a ring (Metz et al. 2017's mode-collapse benchmark)."""
    modes = radius * np.stack([np.cos(np.arange(8) * np.pi / 4),
                               np.sin(np.arange(8) * np.pi / 4)], axis=1)
    which = rng.integers(8, size=n)
    return (modes[which] + std * rng.standard_normal((n, 2))).astype(np.float32), modes


def _ring_run(seed):
    X, modes = ring(4096, np.random.default_rng(100 + seed))
    gan = _gan_2d(seed, 40, len(X), noise_dim=4, hidden=64, g_layers=2, decay=0.05)
    gan.fit(X, epochs=40, batch_size=64)
    s = gan.sample(2000).astype(np.float64)
    d = np.linalg.norm(s[:, None, :] - modes[None], axis=2)
    near = d.min(axis=1) < 3 * 0.05
    covered = np.unique(d.argmin(axis=1)[near])
    assert len(covered) >= 6
    assert near.mean() > 0.5


@pytest.mark.parametrize("seed", [0, 1])
def test_ring_of_8_gaussians_covers_most_modes(seed):
    _ring_run(seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 3])
def test_ring_of_8_gaussians_more_seeds(seed):
    _ring_run(seed)


# -- the conditional GAN -------------------------------------------------------------------
def _digits_cgan(seed, noise_dim=16, **kwargs):
    rng = np.random.default_rng(seed)
    G = rb.nn.Sequential(rb.nn.Dense(noise_dim + 10, 128, rng=rng), rb.nn.ReLU(),
                         rb.nn.Dense(128, 64, rng=rng), rb.nn.Sigmoid())
    D = rb.nn.Sequential(rb.nn.Dense(64 + 10, 128, rng=rng), rb.nn.LeakyReLU(0.2),
                         rb.nn.Dense(128, 1, rng=rng))

    def adam(params):
        return rb.optim.Adam(params, lr=2e-3, betas=(0.5, 0.999))

    return rb.models.ConditionalGAN(G, D, noise_dim, n_classes=10, optimizer_g=adam,
                                    optimizer_d=adam, rng=seed, **kwargs)


def test_cgan_samples_are_classified_as_their_label():
    X, y = rb.datasets.load_digits()
    rng = np.random.default_rng(0)
    clf = rb.nn.Sequential(rb.nn.Dense(64, 64, rng=rng), rb.nn.ReLU(),
                           rb.nn.Dense(64, 10, rng=rng))
    rb.fit(clf, X, y, loss="cross_entropy", optimizer=rb.optim.Adam(clf.parameters(), lr=3e-3),
           epochs=20, batch_size=64, progress=False, rng=0)
    cgan = _digits_cgan(0)
    cgan.fit(X, y, epochs=30, batch_size=64)
    hits = [(rb.training.predict(clf, cgan.sample(100, y=c)).argmax(axis=1) == c).mean()
            for c in range(10)]
    assert np.mean(hits) > 0.6  # chance is 0.1
    assert min(hits) > 0.3
    s = cgan.sample(500)  # conditions drawn from the Parzen estimate of the training labels
    counts = np.bincount(cgan.last_conditions, minlength=10)
    assert counts.min() > 20
    agree = (rb.training.predict(clf, s).argmax(axis=1) == cgan.last_conditions).mean()
    assert agree > 0.6


def test_cgan_one_step_is_the_notes_J_D_and_J_G():
    """One iteration replayed with J_D = -1/(2n) sum [...] and J_G = -1/n sum log D(G(z, y), y)."""
    m, nd, nc = 4, 3, 3
    X = np.random.default_rng(5).normal(size=(m, 2))
    y = np.array([0, 2, 1, 2])
    nets = []
    for _ in range(2):
        rng = np.random.default_rng(7)
        nets.append((_mlp([nd + nc, 5, 2], rng), _mlp([2 + nc, 5, 1], rng)))
    (G, D), (G2, D2) = nets
    cgan = rb.models.ConditionalGAN(
        G, D, nd, n_classes=nc, condition_sampler="empirical",
        optimizer_g=rb.optim.SGD(G.parameters(), lr=0.1, momentum=0.5),
        optimizer_d=rb.optim.SGD(D.parameters(), lr=0.1, momentum=0.5),
        rng=np.random.default_rng(11))
    cgan.fit(X, y, epochs=1, batch_size=m)
    rng = np.random.default_rng(11)
    opt_d = rb.optim.SGD(D2.parameters(), lr=0.1, momentum=0.5)
    opt_g = rb.optim.SGD(G2.parameters(), lr=0.1, momentum=0.5)
    order = rng.permutation(m)
    onehot = np.eye(nc)[y[order]]
    z = rng.standard_normal((m, nd))
    fake = G2(rb.tensor(np.concatenate([z, onehot], axis=1))).data
    pr = rb.sigmoid(D2(rb.tensor(np.concatenate([X[order], onehot], axis=1))))
    pf = rb.sigmoid(D2(rb.tensor(np.concatenate([fake, onehot], axis=1))))
    jd = (rb.log(pr).sum() + rb.log(1 - pf).sum()) * (-1 / (2 * m))
    opt_d.zero_grad()
    jd.backward()
    opt_d.step()
    z = rng.standard_normal((m, nd))
    g_in = rb.concatenate([rb.tensor(z), rb.tensor(onehot)], axis=1)
    pf = rb.sigmoid(D2(rb.concatenate([G2(g_in), rb.tensor(onehot)], axis=1)))
    jg = -rb.log(pf).mean()
    opt_g.zero_grad()
    jg.backward()
    opt_g.step()
    for a, b in zip(G.parameters() + D.parameters(), G2.parameters() + D2.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-10, atol=1e-12)


def test_cgan_real_vector_conditions_and_embeddings():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2)).astype(np.float32)
    cond = rng.normal(size=(64, 3)).astype(np.float32)
    G = rb.nn.Sequential(rb.nn.Dense(2 + 3, 8, rng=rng), rb.nn.Tanh(), rb.nn.Dense(8, 2, rng=rng))
    D = rb.nn.Sequential(rb.nn.Dense(2 + 3, 8, rng=rng), rb.nn.Tanh(), rb.nn.Dense(8, 1, rng=rng))
    cgan = rb.models.ConditionalGAN(G, D, 2, condition_dim=3, rng=0)
    cgan.fit(X, cond, epochs=1, batch_size=16)
    assert cgan.sample(5).shape == (5, 2)
    assert cgan.last_conditions.shape == (5, 3)
    assert cgan.sample(2, y=np.ones(3)).shape == (2, 2)
    G = rb.nn.Sequential(rb.nn.Dense(2 + 4, 8, rng=rng), rb.nn.Tanh(), rb.nn.Dense(8, 2, rng=rng))
    D = rb.nn.Sequential(rb.nn.Dense(2 + 4, 8, rng=rng), rb.nn.Tanh(), rb.nn.Dense(8, 1, rng=rng))
    cgan = rb.models.ConditionalGAN(G, D, 2, n_classes=5, embedding_dim=4, rng=0)
    before = cgan.g_embedding.parameters()[0].data.copy()
    cgan.fit(X, np.arange(64) % 5, epochs=1, batch_size=16)
    assert not np.allclose(before, cgan.g_embedding.parameters()[0].data)  # learned by G's step
    assert cgan.sample(3, y=4).shape == (3, 2)


@pytest.mark.parametrize("kind, sampler", [("labels", "parzen"), ("labels", "empirical"),
                                           ("vectors", "parzen")])
def test_a_loaded_cgan_samples_without_y(kind, sampler, tmp_path):
    """The training conditions and the Parzen width are saved with the model."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2)).astype(np.float32)
    width = 3
    y = np.arange(60) % 3 if kind == "labels" else rng.normal(size=(60, 3)).astype(np.float32)
    G = rb.nn.Sequential(rb.nn.Dense(4 + width, 8, rng=0), rb.nn.Tanh(), rb.nn.Dense(8, 2, rng=1))
    D = rb.nn.Sequential(rb.nn.Dense(2 + width, 8, rng=2), rb.nn.Tanh(), rb.nn.Dense(8, 1, rng=3))
    options = {"n_classes": 3} if kind == "labels" else {"condition_dim": 3}
    cgan = rb.models.ConditionalGAN(G, D, noise_dim=4, condition_sampler=sampler, rng=0,
                                    **options)
    cgan.fit(X, y, epochs=1, batch_size=20)
    rb.save(cgan, tmp_path / "cgan.safetensors")
    again = rb.load(tmp_path / "cgan.safetensors")
    np.testing.assert_array_equal(again.conditions_, cgan.conditions_)
    assert again.sample(4).shape == (4, 2)
    if sampler == "parzen":
        assert float(again.condition_sigma_) == pytest.approx(cgan.condition_density_.sigma_,
                                                              rel=1e-6)
        # the same estimate: the same conditions from the same generator
        np.testing.assert_allclose(again.sample_conditions(50, rng=7),
                                   cgan.sample_conditions(50, rng=7), rtol=1e-5)
    fresh = rb.models.ConditionalGAN(G.clone(), D.clone(), noise_dim=4, rng=0, **options)
    rb.save(fresh, tmp_path / "fresh.safetensors")
    with pytest.raises(RuntimeError, match="fit the model first or pass y"):
        rb.load(tmp_path / "fresh.safetensors").sample(2)


# -- bad input -----------------------------------------------------------------------------
def test_bad_input_gets_clear_errors():
    rng = np.random.default_rng(0)
    G, D = _mlp([3, 4, 2], rng), _mlp([2, 4, 1], rng)
    with pytest.raises(ValueError, match="GAN: the generator does not accept noise of noise_dim=5"):
        rb.models.GAN(G, D, noise_dim=5)
    with pytest.raises(ValueError, match="one logit per example.*\\(2,\\)"):
        rb.models.GAN(G, _mlp([2, 4, 2], rng), noise_dim=3)
    with pytest.raises(ValueError, match="does not accept the generator's samples"):
        rb.models.GAN(G, _mlp([3, 4, 1], rng), noise_dim=3)
    with pytest.raises(ValueError, match="generator_loss"):
        rb.models.GAN(G, D, noise_dim=3, generator_loss="wasserstein")
    with pytest.raises(ValueError, match="noise"):
        rb.models.GAN(G, D, noise_dim=3, noise="poisson")
    with pytest.raises(ValueError, match="k must be a positive integer"):
        rb.models.GAN(G, D, noise_dim=3, k=0)
    with pytest.raises(TypeError, match="generator must be an rb.nn.Module"):
        rb.models.GAN(lambda z: z, D, noise_dim=3)
    both = rb.optim.SGD(G.parameters() + D.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="optimizer_g holds parameters of the other network"):
        rb.models.GAN(G, D, noise_dim=3, optimizer_g=both)
    gan = rb.models.GAN(G, D, noise_dim=3)
    with pytest.raises(ValueError, match="shape \\(3,\\) but the generator makes \\(2,\\)"):
        gan.fit(np.zeros((10, 3)), epochs=1, batch_size=2)
    with pytest.raises(ValueError, match="NaN"):
        gan.fit(np.full((10, 2), np.nan), epochs=1, batch_size=2)
    with pytest.raises(ValueError, match="batch_size 20 is larger"):
        gan.fit(np.zeros((10, 2)), epochs=1, batch_size=20)


def test_cgan_bad_conditions():
    rng = np.random.default_rng(0)
    G, D = _mlp([3 + 4, 4, 2], rng), _mlp([2 + 4, 4, 1], rng)
    with pytest.raises(ValueError, match="exactly one of n_classes"):
        rb.models.ConditionalGAN(G, D, 3)
    with pytest.raises(ValueError, match="noise_dim=3 plus a condition code of 5"):
        rb.models.ConditionalGAN(G, D, 3, n_classes=5)
    cgan = rb.models.ConditionalGAN(G, D, 3, n_classes=4, rng=0)
    with pytest.raises(ValueError, match="label 7 is outside the known conditions 0..3"):
        cgan.sample(2, y=7)
    with pytest.raises(ValueError, match="label -1 is outside"):
        cgan.fit(np.zeros((4, 2)), np.array([0, 1, 2, -1]), epochs=1, batch_size=2)
    with pytest.raises(RuntimeError, match="fit the model first or pass y"):
        cgan.sample(2)
    with pytest.raises(ValueError, match="3 samples asked for but 2 conditions"):
        cgan.sample(3, y=np.array([0, 1]))
    vec = rb.models.ConditionalGAN(G, D, 3, condition_dim=4, rng=0)
    with pytest.raises(ValueError, match="condition vectors of length 4"):
        vec.sample(2, y=np.zeros((2, 3)))


# -- the rest of the interface -------------------------------------------------------------
def test_history_callbacks_uniform_noise_and_save_load(tmp_path):
    rng = np.random.default_rng(0)
    G = rb.nn.Sequential(rb.nn.Dense(3, 8, rng=rng), rb.nn.ReLU(), rb.nn.Dense(8, 2, rng=rng))
    D = rb.nn.Sequential(rb.nn.Dense(2, 8, rng=rng), rb.nn.ReLU(), rb.nn.Dense(8, 1, rng=rng))
    gan = rb.models.GAN(G, D, 3, k=2, generator_loss="minimax", noise="uniform", rng=0)
    z = gan.draw_noise(1000)
    assert z.dtype == np.float32 and -1 <= z.min() and z.max() <= 1 and z.min() < -0.99
    seen = []

    def stop_after_two(run, epoch, logs):
        seen.append((epoch, sorted(logs)))
        run.stop_training = epoch == 1

    X = rng.normal(size=(64, 2)).astype(np.float32)
    h = gan.fit(X, epochs=5, batch_size=16,
                callbacks=[rb.callbacks.LambdaCallback(on_epoch_end=stop_after_two)])
    assert [e for e, _ in seen] == [0, 1] and len(h) == 2
    assert seen[0][1] == ["d_fake", "d_loss", "d_real", "g_loss", "time"]
    assert 0 < h["d_real"][-1] < 1 and 0 < h["d_fake"][-1] < 1
    # k = 2, batch 16, 64 rows: 2 iterations per epoch, 4 D-steps and 2 G-steps
    assert gan.optimizer_d.t == 8 and gan.optimizer_g.t == 4
    path = tmp_path / "gan.rb"
    rb.save(gan, path)
    back = rb.load(path)
    assert isinstance(back, rb.models.GAN)
    assert (back.k, back.generator_loss, back.noise) == (2, "minimax", "uniform")
    np.testing.assert_array_equal(back(z[:5]).data, gan(z[:5]).data)
    np.testing.assert_allclose(back.discriminate(X[:5]), gan.discriminate(X[:5]))


def test_one_iteration_matches_pytorch(torch):
    """The same iteration in PyTorch (BCE-with-logits, SGD momentum) from the same weights,
    data rows and noise gives the same weights."""
    m, nd = 8, 3
    X = np.random.default_rng(5).normal(size=(4 * m, 2))
    rng = np.random.default_rng(7)
    G, D = _mlp([nd, 6, 2], rng), _mlp([2, 6, 1], rng)
    tG = torch.nn.Sequential(torch.nn.Linear(nd, 6), torch.nn.ReLU(), torch.nn.Linear(6, 2))
    tD = torch.nn.Sequential(torch.nn.Linear(2, 6), torch.nn.ReLU(), torch.nn.Linear(6, 1))
    for ours, theirs in ((G, tG), (D, tD)):
        for layer, tl in zip([ly for ly in ours if isinstance(ly, rb.nn.Dense)],
                             [tl for tl in theirs if isinstance(tl, torch.nn.Linear)]):
            tl.weight.data = torch.tensor(layer.W.data.T.copy())
            tl.bias.data = torch.tensor(layer.b.data.copy())
    gan = rb.models.GAN(G, D, nd, k=2, rng=np.random.default_rng(3))  # default SGD 0.05, mu 0.5
    gan.fit(X, epochs=1, batch_size=m)
    draw = np.random.default_rng(3)
    order = draw.permutation(len(X))
    opt_d = torch.optim.SGD(tD.parameters(), lr=0.05, momentum=0.5)
    opt_g = torch.optim.SGD(tG.parameters(), lr=0.05, momentum=0.5)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    for it in range(2):  # 32 rows / (k = 2 x m = 8): two iterations
        for j in range(2):
            z = torch.tensor(draw.standard_normal((m, nd)))
            rows = order[(2 * it + j) * m:(2 * it + j + 1) * m]
            with torch.no_grad():
                fake = tG(z)
            loss = (bce(tD(torch.tensor(X[rows])), torch.ones(m, 1))
                    + bce(tD(fake), torch.zeros(m, 1)))
            opt_d.zero_grad()
            loss.backward()
            opt_d.step()
        z = torch.tensor(draw.standard_normal((m, nd)))
        loss = bce(tD(tG(z)), torch.ones(m, 1))
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
    for ours, theirs in ((G, tG), (D, tD)):
        for layer, tl in zip([ly for ly in ours if isinstance(ly, rb.nn.Dense)],
                             [tl for tl in theirs if isinstance(tl, torch.nn.Linear)]):
            np.testing.assert_allclose(layer.W.data, tl.weight.detach().numpy().T, rtol=1e-9,
                                       atol=1e-12)
            np.testing.assert_allclose(layer.b.data, tl.bias.detach().numpy(), rtol=1e-9,
                                       atol=1e-12)


def test_a_cgan_file_from_before_the_conditions_were_saved_still_loads(tmp_path):
    # such a file has no n_conditions in its config and no conditions_ tensors: it loads,
    # samples with y as it did, and saves its conditions once fitted again
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 2)).astype(np.float32), np.arange(60) % 3
    G = rb.nn.Sequential(rb.nn.Dense(7, 8, rng=0), rb.nn.Tanh(), rb.nn.Dense(8, 2, rng=1))
    D = rb.nn.Sequential(rb.nn.Dense(5, 8, rng=2), rb.nn.Tanh(), rb.nn.Dense(8, 1, rng=3))
    old = rb.models.ConditionalGAN(G, D, noise_dim=4, n_classes=3, rng=0)
    old.buffers = ()  # the old layout: what the model wrote before
    assert "n_conditions" not in old.config()
    rb.save(old, tmp_path / "old.safetensors")
    loaded = rb.load(tmp_path / "old.safetensors")
    assert loaded.sample(3, y=np.array([0, 1, 2])).shape == (3, 2)
    with pytest.raises(RuntimeError, match="fit the model first or pass y"):
        loaded.sample(2)
    loaded.fit(X, y, epochs=1, batch_size=20)
    rb.save(loaded, tmp_path / "refit.safetensors")
    again = rb.load(tmp_path / "refit.safetensors")
    assert len(again.conditions_) == 60 and again.sample(4).shape == (4, 2)


# -- the library's callbacks ---------------------------------------------------------------
def _small(conditional, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    width = 2 if conditional else 0
    G = rb.nn.Sequential(rb.nn.Dense(3 + width, 8, rng=rng), rb.nn.ReLU(),
                         rb.nn.Dense(8, 2, rng=rng))
    D = rb.nn.Sequential(rb.nn.Dense(2 + width, 8, rng=rng), rb.nn.ReLU(),
                         rb.nn.Dense(8, 1, rng=rng))
    if conditional:
        model = rb.models.ConditionalGAN(G, D, 3, n_classes=2, rng=seed, **kwargs)
    else:
        model = rb.models.GAN(G, D, 3, rng=seed, **kwargs)
    X = rng.normal(size=(40, 2)).astype(np.float32)

    def fit(**options):
        if conditional:
            return model.fit(X, np.arange(40) % 2, batch_size=10, **options)
        return model.fit(X, batch_size=10, **options)
    return model, fit


@pytest.mark.parametrize("conditional", [False, True])
def test_early_stopping_on_the_game_losses(conditional):
    model, fit = _small(conditional)
    stop = rb.callbacks.EarlyStopping(monitor="d_loss", patience=0, restore_best=False)
    h = fit(epochs=20, callbacks=[stop])
    assert stop.stopped_epoch is not None and len(h) == stop.stopped_epoch + 1 < 20
    assert "early stopping: d_loss" in h.stop_reason
    # the game's losses do not rank the generator's epochs: restoring by them is refused
    with pytest.raises(ValueError, match="monitor='g_loss', restore_best=True.*restore_best=False"):
        fit(epochs=1, callbacks=[rb.callbacks.EarlyStopping(monitor="g_loss")])


@pytest.mark.parametrize("conditional", [False, True])
def test_early_stopping_restores_on_a_measure_a_callback_logs(conditional):
    model, fit = _small(conditional)
    scores = iter([3.0, 1.0, 2.0, 4.0, 5.0])
    saved = {}

    def score(run, epoch, logs):
        logs["quality_loss"] = next(scores)
        saved[epoch] = run.model.state_dict()
    stop = rb.callbacks.EarlyStopping(monitor="quality_loss", patience=2)
    fit(epochs=5, callbacks=[rb.callbacks.LambdaCallback(on_epoch_end=score), stop])
    assert stop.best_epoch == 1 and stop.stopped_epoch == 3
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, saved[1][key])


@pytest.mark.parametrize("conditional", [False, True])
def test_learning_rate_callbacks_set_both_networks_rates(conditional):
    model, fit = _small(conditional)
    fit(epochs=2, callbacks=[rb.callbacks.LearningRateScheduler(lambda epoch: 0.01 / (epoch + 1))])
    assert model.optimizer_g.lr == model.optimizer_d.lr == 0.005
    # a two-timescale pair keeps its ratio
    model, fit = _small(conditional, optimizer_g=lambda p: rb.optim.SGD(p, lr=0.01),
                        optimizer_d=lambda p: rb.optim.SGD(p, lr=0.04))
    plateau = rb.callbacks.ReduceLROnPlateau(monitor="flat_loss", patience=0, factor=0.5)

    def flat(run, epoch, logs):  # never improves after the first epoch: halved three times
        logs["flat_loss"] = 1.0
    fit(epochs=4, callbacks=[rb.callbacks.LambdaCallback(on_epoch_end=flat), plateau])
    assert model.optimizer_d.lr == pytest.approx(0.005)
    assert model.optimizer_g.lr == pytest.approx(0.00125)


@pytest.mark.parametrize("conditional", [False, True])
def test_gradient_monitor_sees_both_networks(conditional):
    model, fit = _small(conditional)
    monitor = rb.callbacks.GradientMonitor()
    networks = []
    spy = rb.callbacks.LambdaCallback(on_backward=lambda run: networks.append(run.network))
    h = fit(epochs=2, callbacks=[monitor, spy])
    assert networks == ["discriminator", "generator"] * 8  # 4 iterations of k = 1, 2 epochs
    record = monitor.records[-1]
    for key in ("grad_norm/generator.0", "grad_norm/discriminator.0"):
        assert record[key] > 0 and key in h.history
    # the plain GAN's forward is G(z): the generator's dead units on the last noise batch
    assert ("dead_relu/generator.1" in record) == (not conditional)


@pytest.mark.parametrize("conditional", [False, True])
def test_rewire_is_refused_before_anything_changes(conditional, tmp_path):
    model, fit = _small(conditional)
    before = model.state_dict()
    path = tmp_path / "gan.ckpt"
    with pytest.raises(ValueError, match="Rewire.*two"):
        fit(epochs=1, callbacks=[rb.callbacks.Rewire()])
    assert not path.exists() and len(model.history) == 0
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_callbacks_leave_a_seeded_run_unchanged():
    model, fit = _small(True)
    fit(epochs=2)
    other, fit_other = _small(True)
    fit_other(epochs=2, callbacks=[rb.callbacks.GradientMonitor(),
                                   rb.callbacks.EarlyStopping("d_loss", 5, restore_best=False)])
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, other.state_dict()[key])


def test_cgan_optimizers_must_hold_the_label_embeddings():
    G = rb.nn.Sequential(rb.nn.Dense(3 + 2, 2, rng=0))
    D = rb.nn.Sequential(rb.nn.Dense(2 + 2, 1, rng=0))
    with pytest.raises(ValueError, match="optimizer_g does not hold the generator's trainable "
                                         "parameters g_embedding.W.*callable"):
        rb.models.ConditionalGAN(G, D, 3, n_classes=4, embedding_dim=2,
                                 optimizer_g=rb.optim.Adam(G.parameters(), lr=0.01))
    with pytest.raises(ValueError, match="optimizer_d .*d_embedding.W"):
        rb.models.ConditionalGAN(G, D, 3, n_classes=4, embedding_dim=2,
                                 optimizer_d=rb.optim.Adam(D.parameters(), lr=0.01))
    with pytest.raises(ValueError, match="generator.0.W, generator.0.b.*generator.parameters"):
        G2 = rb.nn.Sequential(rb.nn.Dense(3, 4, rng=0), rb.nn.Dense(4, 2, rng=0))
        rb.models.GAN(G2, rb.nn.Sequential(rb.nn.Dense(2, 1, rng=0)), 3,
                      optimizer_g=rb.optim.SGD(G2[1].parameters(), lr=0.1))
    # as callables they get the embeddings; the generator step leaves D's embedding no gradient
    cgan = rb.models.ConditionalGAN(G, D, 3, n_classes=4, embedding_dim=2, rng=0,
                                    optimizer_g=lambda p: rb.optim.Adam(p, lr=0.01),
                                    optimizer_d=lambda p: rb.optim.Adam(p, lr=0.01))
    g0, d0 = cgan.g_embedding.W.data.copy(), cgan.d_embedding.W.data.copy()
    cgan.fit(np.random.default_rng(0).normal(size=(40, 2)), np.arange(40) % 4, epochs=1,
             batch_size=10)
    assert not np.allclose(cgan.g_embedding.W.data, g0)
    assert not np.allclose(cgan.d_embedding.W.data, d0)


def test_cgan_frozen_discriminator_embedding_gets_no_generator_gradient():
    """Whatever optimizer_d holds, the generator step freezes every discriminator parameter."""

    class Plain:  # an optimizer of one's own: no flat vector for the model to check
        def __init__(self, params, lr=0.01):
            self.params, self.lr = list(params), lr

        def zero_grad(self):
            for p in self.params:
                p.grad = None

        def step(self):
            for p in self.params:
                if p.grad is not None:
                    p.data -= self.lr * p.grad

    G = rb.nn.Sequential(rb.nn.Dense(3 + 2, 2, rng=0))
    D = rb.nn.Sequential(rb.nn.Dense(2 + 2, 1, rng=0))
    cgan = rb.models.ConditionalGAN(G, D, 3, n_classes=4, embedding_dim=2, rng=0,
                                    optimizer_d=Plain(D.parameters()))
    seen = {"discriminator": [], "generator": []}

    def spy(run):
        seen[run.network].append(np.array(cgan.d_embedding.W.grad, copy=True))
    cgan.fit(np.random.default_rng(0).normal(size=(40, 2)), np.arange(40) % 4, epochs=1,
             batch_size=10, callbacks=[rb.callbacks.LambdaCallback(on_backward=spy)])
    assert len(seen["generator"]) == 4
    for after_d, after_g in zip(seen["discriminator"], seen["generator"]):
        np.testing.assert_array_equal(after_g, after_d)  # the G step added nothing


def test_cgan_one_dimensional_conditions_may_be_plain_numbers():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2)).astype(np.float32)
    c = rng.random(40).astype(np.float32)
    runs = []
    for y in (c, c[:, None]):
        G = rb.nn.Sequential(rb.nn.Dense(3 + 1, 2, rng=0))
        D = rb.nn.Sequential(rb.nn.Dense(2 + 1, 1, rng=0))
        cgan = rb.models.ConditionalGAN(G, D, 3, condition_dim=1, rng=0)
        runs.append(cgan.fit(X, y, epochs=2, batch_size=10)["d_loss"])
        assert cgan.conditions_.shape == (40, 1)
    assert runs[0] == runs[1]
    assert cgan.sample(3, y=0.5).shape == (3, 2)
    np.testing.assert_array_equal(cgan.last_conditions, [[0.5]] * 3)
    assert cgan.sample(3, y=[0.1, 0.2, 0.3]).shape == (3, 2)
    assert cgan.last_conditions.shape == (3, 1)
    with pytest.raises(ValueError, match="3 samples asked for but 2 conditions"):
        cgan.sample(3, y=[0.1, 0.2])


# -- audit a4 -------------------------------------------------------------------------------


def _small_gan(**kw):
    nn = rb.nn
    G = nn.Sequential(nn.Dense(2, 8, rng=0), nn.ReLU(), nn.Dense(8, 2, rng=1))
    D = nn.Sequential(nn.Dense(2, 8, rng=2), nn.ReLU(), nn.Dense(8, 1, rng=3))
    return rb.models.GAN(G, D, noise_dim=2, rng=0, **kw)


def test_astype_then_fit_trains_in_the_new_dtype():
    X = np.random.default_rng(0).normal(size=(64, 2))
    gan = _small_gan()
    momentum = gan.optimizer_d.momentum
    gan.astype(np.float64)
    gan.fit(X, epochs=2, batch_size=16)
    assert all(p.dtype == np.float64 for p in gan.parameters())
    assert gan.optimizer_d.momentum == momentum
    ref = _small_gan()
    for p in ref.parameters():  # cast before the optimizers are built: the reference
        p.data = p.data.astype(np.float64)
    ref.optimizer_g = rb.optim.SGD(ref.generator.parameters(), lr=0.05, momentum=0.5)
    ref.optimizer_d = rb.optim.SGD(ref.discriminator.parameters(), lr=0.05, momentum=0.5)
    ref.fit(X, epochs=2, batch_size=16)
    for a, b in zip(gan.parameters(), ref.parameters()):
        assert np.array_equal(a.data, b.data)


def test_astype_with_a_given_optimizer_instance_names_the_fix():
    nn = rb.nn
    G = nn.Sequential(nn.Dense(2, 8, rng=0), nn.ReLU(), nn.Dense(8, 2, rng=1))
    D = nn.Sequential(nn.Dense(2, 8, rng=2), nn.ReLU(), nn.Dense(8, 1, rng=3))
    gan = rb.models.GAN(G, D, noise_dim=2, rng=0,
                        optimizer_d=rb.optim.Adam(D.parameters(), lr=1e-3))
    gan.astype(np.float64)
    X = np.random.default_rng(0).normal(size=(64, 2))
    with pytest.raises(ValueError, match=r"optimizer_d .*gan.optimizer_d = "):
        gan.fit(X, epochs=1, batch_size=16)
    gan.optimizer_d = rb.optim.Adam(D.parameters(), lr=1e-3)
    gan.fit(X, epochs=1, batch_size=16)
    assert D[0].W.dtype == np.float64


def test_unconditional_fit_refuses_conditions():
    gan = _small_gan()
    X = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    with pytest.raises(ValueError, match="unconditional GAN takes no conditions y.*ConditionalGAN"):
        gan.fit(X, epochs=1, batch_size=16, y=np.arange(64) % 3)


# -- checkpoints: a run resumed from a Checkpoint equals the uninterrupted run ------------------


class _Score(rb.callbacks.Callback):
    """Adds a (made-up) sample-quality number that EarlyStopping may restore the best of."""

    def on_epoch_end(self, run, epoch, logs):
        logs["score"] = abs(logs["d_real"] - 0.5) + 0.1 * logs["g_loss"]


def _resumable(conditional, library_dropout=False):
    """A GAN with dropout (its own generator, or the library's), Adam for D (t, moments), SGD
    with momentum for G, callbacks with state (EarlyStopping restore_best, ReduceLROnPlateau)."""
    rng = np.random.default_rng(7)
    width = 2 if conditional else 0
    nn = rb.nn
    G = nn.Sequential(nn.Dense(3 + width, 8, rng=rng), nn.ReLU(), nn.Dense(8, 2, rng=rng))
    D = nn.Sequential(nn.Dense(2 + width, 8, rng=rng), nn.ReLU(),
                      nn.Dropout(0.3, rng=None if library_dropout else 5), nn.Dense(8, 1, rng=rng))
    kw = dict(k=2, rng=3, optimizer_g=lambda p: rb.optim.SGD(p, lr=0.05, momentum=0.5),
              optimizer_d=lambda p: rb.optim.Adam(p, lr=2e-3))
    if conditional:
        model = rb.models.ConditionalGAN(G, D, 3, n_classes=2, embedding_dim=width, **kw)
    else:
        model = rb.models.GAN(G, D, 3, **kw)
    X = rng.normal(size=(48, 2)).astype(np.float32)

    def fit(epochs, callbacks=(), **options):
        callbacks = [_Score(), rb.callbacks.EarlyStopping("score", patience=50),
                     rb.callbacks.ReduceLROnPlateau("d_loss", factor=0.5, patience=1),
                     *callbacks]
        if conditional:
            return model.fit(X, np.arange(48) % 2, epochs=epochs, batch_size=8,
                             callbacks=callbacks, **options)
        return model.fit(X, epochs=epochs, batch_size=8, callbacks=callbacks, **options)
    return model, fit


@pytest.mark.parametrize("conditional", [False, True])
@pytest.mark.parametrize("library_dropout", [False, True])
def test_a_resumed_run_equals_the_uninterrupted_one(conditional, library_dropout, tmp_path):
    path = tmp_path / "gan.ckpt"
    rb.seed(11)
    straight, fit = _resumable(conditional, library_dropout)
    h = fit(6)
    rb.seed(11)
    first, fit_first = _resumable(conditional, library_dropout)
    fit_first(3, callbacks=[rb.callbacks.Checkpoint(path)])  # interrupted after 3 epochs
    rb.seed(99)  # the resumed run must restore the library generator too
    resumed, fit_resumed = _resumable(conditional, library_dropout)
    h2 = fit_resumed(6, resume_from=path)
    for key, value in straight.state_dict().items():
        assert np.array_equal(value, resumed.state_dict()[key]), key
    for name in ("optimizer_g", "optimizer_d"):
        a, b = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        assert a.keys() == b.keys()
        for key in a:
            assert np.array_equal(a[key], b[key]), (name, key)
    assert straight.rng.bit_generator.state == resumed.rng.bit_generator.state
    assert h.epoch == h2.epoch == list(range(6))
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "score"):
        assert h.history[key] == h2.history[key], key
    assert np.array_equal(straight.sample(5, rng=0), resumed.sample(5, rng=0))


def test_resume_from_a_missing_file_starts_afresh_and_a_stopped_run_stays_stopped(tmp_path):
    path = tmp_path / "gan.ckpt"
    model, fit = _small(False)
    other, fit_other = _small(False)
    fit(epochs=2)
    fit_other(epochs=2, resume_from=path)  # no file yet: from scratch
    for key, value in model.state_dict().items():
        assert np.array_equal(value, other.state_dict()[key])
    model, fit = _small(False)
    stop = rb.callbacks.EarlyStopping("d_loss", patience=0, restore_best=False)
    h = fit(epochs=20, callbacks=[stop, rb.callbacks.Checkpoint(path)])
    again, fit_again = _small(False)
    h2 = fit_again(epochs=20, resume_from=path)
    assert len(h2) == len(h) < 20
    for key, value in model.state_dict().items():
        assert np.array_equal(value, again.state_dict()[key])


def test_resume_refuses_another_architecture_and_a_model_file(tmp_path):
    path = tmp_path / "gan.ckpt"
    model, fit = _small(False)
    fit(epochs=1, callbacks=[rb.callbacks.Checkpoint(path)])
    cgan, fit_c = _small(True)
    with pytest.raises(rb.io.FormatError, match="another architecture"):
        fit_c(epochs=2, resume_from=path)
    rb.save(model, tmp_path / "model.rb")
    with pytest.raises(ValueError, match="not a GAN training checkpoint"):
        fit(epochs=2, resume_from=tmp_path / "model.rb")


def test_a_clone_trains_itself_not_the_original():
    X = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    gan = _small_gan()
    before = gan.state_dict()
    copy = gan.clone()
    copy.fit(X, epochs=2, batch_size=16)
    for key, value in gan.state_dict().items():
        assert np.array_equal(value, before[key])
    ref = _small_gan()
    ref.fit(X, epochs=2, batch_size=16)
    for key, value in ref.state_dict().items():
        assert np.array_equal(value, copy.state_dict()[key]), key
    given = _small_gan(optimizer_d=lambda p: rb.optim.Adam(p, lr=1e-3))
    given.optimizer_d = rb.optim.Adam(given.discriminator.parameters(), lr=1e-3)  # the caller's
    with pytest.raises(ValueError, match=r"optimizer_d .*cloned from.*gan.optimizer_d = "):
        given.clone().fit(X, epochs=1, batch_size=16)


@pytest.mark.parametrize("conditional", [False, True])
def test_reduce_lr_on_plateau_scales_scheduled_gan_optimizers(conditional):
    model, fit = _small(conditional,
                        optimizer_g=lambda p: rb.optim.SGD(p, lr=lambda t: 0.01),
                        optimizer_d=lambda p: rb.optim.SGD(p, lr=0.04))
    plateau = rb.callbacks.ReduceLROnPlateau(monitor="flat_loss", patience=0, factor=0.5)

    def flat(run, epoch, logs):  # never improves after the first epoch: halved three times
        logs["flat_loss"] = 1.0
    fit(epochs=4, callbacks=[rb.callbacks.LambdaCallback(on_epoch_end=flat), plateau])
    assert model.optimizer_g.lr_scale == pytest.approx(0.125)
    assert model.optimizer_d.lr == pytest.approx(0.005)


# -- audit w2: hostile checkpoints are refused before anything changes; every generator -------
def _edit_checkpoint(src, dst, metadata=None, tensor=None, value=None):
    """A copy of checkpoint ``src``: its metadata edited by ``metadata(meta)``, or every entry
    of the stored array that ``tensor(meta)`` names set to ``value``."""
    import json

    from rosenblatt.io.safetensors_format import decode, encode

    tensors, header = decode(src.read_bytes())
    meta = json.loads(header["metadata"])
    if tensor is not None:
        name = tensor(meta)
        tensors[name] = np.full_like(tensors[name], value)
    if metadata is not None:
        metadata(meta)
        header["metadata"] = json.dumps(meta)
    dst.write_bytes(encode(tensors, header))
    return dst


def _frozen(model):
    """What a refused resume must leave as it was."""
    return ({k: v.copy() for k, v in model.state_dict().items()},
            model.optimizer_g.state_dict(), model.optimizer_d.state_dict(),
            model.rng.bit_generator.state, rb.randomness.generator().bit_generator.state,
            model.history.to_dict())


def _assert_same(a, b):
    for key, value in a[0].items():
        assert np.array_equal(value, b[0][key], equal_nan=True), key
    for x, y in zip(a[1:3], b[1:3]):
        assert x.keys() == y.keys()
        for key in x:
            assert np.array_equal(np.asarray(x[key], dtype=object),
                                  np.asarray(y[key], dtype=object)), key
    assert a[3:] == b[3:]


_GAN_EDITS = {
    "early stopping's best = 'x'": (dict(metadata=lambda m: m["callbacks"][0].update(best="x")),
                                    r'"callbacks"\[0\] \(EarlyStopping\)'),
    "optimizer_d velocity = NaN": (dict(tensor=lambda m: m["optimizers"]["optimizer_d"]
                                        ["velocity"]["__array__"], value=np.nan),
                                   'optimizer_d.*"velocity"'),
    "a History list one short": (dict(metadata=lambda m: m["history"]["history"]["d_loss"].pop()),
                                 r'"history"\]\[.d_loss.\]'),
    "epoch 5, a History of 2": (dict(metadata=lambda m: m.update(epoch=5)), '"epoch"'),
    "a weight = inf": (dict(tensor=lambda m: "model/generator.0.W", value=np.inf),
                       "generator.0.W"),
}


@pytest.mark.parametrize("conditional", [False, True])
@pytest.mark.parametrize("case", sorted(_GAN_EDITS))
def test_a_hostile_checkpoint_is_refused_naming_file_and_field_before_any_change(
        tmp_path, case, conditional):
    path, bad = tmp_path / "g.ckpt", tmp_path / "bad.ckpt"
    momentum = dict(optimizer_d=lambda p: rb.optim.SGD(p, lr=0.05, momentum=0.5))
    stop = lambda: rb.callbacks.EarlyStopping("d_loss", patience=5, restore_best=False)  # noqa
    _, fit = _small(conditional, **momentum)
    fit(epochs=2, callbacks=[stop(), rb.callbacks.Checkpoint(path)])
    edit, field = _GAN_EDITS[case]
    _edit_checkpoint(path, bad, **edit)
    model, fit = _small(conditional, seed=1, **momentum)
    fit(epochs=1)  # a trained model: optimizers with state, a History
    before = _frozen(model)
    with pytest.raises(rb.io.FormatError, match=field) as info:
        fit(epochs=4, callbacks=[stop()], resume_from=bad)
    assert "bad.ckpt" in str(info.value) and "learning rate" not in str(info.value)
    _assert_same(before, _frozen(model))


@pytest.mark.parametrize("noise_rng", [7, None])
def test_a_resumed_run_restores_the_optimizers_generators(tmp_path, noise_rng):
    """GradientNoise draws from its own generator (or the library's): the checkpoint holds it
    and the resumed run equals the uninterrupted one bit for bit."""
    path = tmp_path / "g.ckpt"
    noisy = dict(optimizer_d=lambda p: rb.optim.GradientNoise(
        rb.optim.SGD(p, lr=0.05, momentum=0.5), eta=0.01, rng=noise_rng))
    rb.seed(2)
    straight, fit = _small(False, **noisy)
    fit(epochs=4)
    rb.seed(2)
    _, fit_first = _small(False, **noisy)
    fit_first(epochs=2, callbacks=[rb.callbacks.Checkpoint(path)])
    rb.seed(50)
    resumed, fit_resumed = _small(False, **noisy)
    fit_resumed(epochs=4, resume_from=path)
    for key, value in straight.state_dict().items():
        assert np.array_equal(value, resumed.state_dict()[key]), key
    names = set(rb.io.load_checkpoint(path).metadata["generators"])
    assert noise_rng is None or "optimizer_d.rng" in names
