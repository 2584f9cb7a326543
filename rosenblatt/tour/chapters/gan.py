"""Tour: generative adversarial networks (notes: "Generative Adversarial Networks", "Training
generative adversarial networks")."""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter
from rosenblatt.tour.stats import accuracy_standard_error

RING_STD = 0.05


def _ring(n, rng, radius=2.0, std=RING_STD):
    modes = radius * np.stack([np.cos(np.arange(8) * np.pi / 4),
                               np.sin(np.arange(8) * np.pi / 4)], axis=1)
    which = rng.integers(8, size=n)
    return (modes[which] + std * rng.standard_normal((n, 2))).astype(np.float32), modes


def _adam(lr, steps=None, decay=0.05):
    """Adam (beta1 = 0.5, as usual for GANs), the rate decayed over ``steps`` if given."""
    def build(params):
        if steps is None:
            return rb.optim.Adam(params, lr=lr, betas=(0.5, 0.999))
        return rb.optim.Adam(params, lr=lambda t: lr * decay ** min(t / steps, 1.0),
                             betas=(0.5, 0.999))
    return build


def _ring_gan(seed, steps):
    r = np.random.default_rng(seed)
    G = rb.nn.Sequential(rb.nn.Dense(4, 64, rng=r), rb.nn.ReLU(), rb.nn.Dense(64, 64, rng=r),
                         rb.nn.ReLU(), rb.nn.Dense(64, 2, rng=r))
    D = rb.nn.Sequential(rb.nn.Dense(2, 64, rng=r), rb.nn.LeakyReLU(0.2),
                         rb.nn.Dense(64, 64, rng=r), rb.nn.LeakyReLU(0.2),
                         rb.nn.Dense(64, 1, rng=r))
    return rb.models.GAN(G, D, noise_dim=4, optimizer_g=_adam(2e-3, steps),
                         optimizer_d=_adam(2e-3, steps), rng=seed)


def _d_alone(gan, X, seed):
    """Mean D(x) on fresh data and D(G(z)) on fresh samples after training a copy of the GAN's
    discriminator alone (G fixed) for one epoch on ``X`` against as many of G's samples.

    A discriminator that is confused only because it has not learned yet separates the two
    after this; one confused because G's samples look like the data does not."""
    D = gan.discriminator.clone()
    fake = gan.sample(len(X), rng=seed).astype(np.float32)
    both = np.concatenate([X, fake])
    labels = np.concatenate([np.ones(len(X)), np.zeros(len(fake))]).astype(np.float32)
    rb.fit(D, both, labels, loss="binary_cross_entropy_with_logits",
           optimizer=_adam(2e-3)(D.parameters()), epochs=1, batch_size=64, metrics=(),
           progress=False, rng=seed)
    data, _ = _ring(2000, np.random.default_rng(seed + 1))
    samples = gan.sample(2000, rng=seed + 2).astype(np.float32)
    with rb.no_grad():
        d = [float(np.mean(1.0 / (1.0 + np.exp(-D(rb.tensor(a)).data)))) for a in (data, samples)]
    return d[0], d[1]


def _confused(d_real, d_fake, start_probe, end_probe):
    """The game's D ends near 0.5 on both (within 0.1), and the game is what confused it: a
    copy of D trained alone separates the initial G's samples from the data (D(x) − D(G(z))
    above 0.5) but no longer the final G's (below 0.2)."""
    return bool(abs(d_real - 0.5) < 0.1 and abs(d_fake - 0.5) < 0.1
                and start_probe[0] - start_probe[1] > 0.5 and end_probe[0] - end_probe[1] < 0.2)


def _digits_nets(seed, noise_dim, n_cond=0):
    r = np.random.default_rng(seed)
    G = rb.nn.Sequential(rb.nn.Dense(noise_dim + n_cond, 128, rng=r), rb.nn.ReLU(),
                         rb.nn.Dense(128, 64, rng=r), rb.nn.Sigmoid())
    D = rb.nn.Sequential(rb.nn.Dense(64 + n_cond, 128, rng=r), rb.nn.LeakyReLU(0.2),
                         rb.nn.Dense(128, 1, rng=r))
    return G, D


def _grid(ax, images, rows, cols, title, side=8):
    pad = side + 2
    padded = np.zeros((rows, cols, pad, pad))  # a black frame between the tiles
    padded[:, :, 1:side + 1, 1:side + 1] = images.reshape(rows, cols, side, side)
    tiles = padded.transpose(0, 2, 1, 3).reshape(rows * pad, cols * pad)
    ax.imshow(tiles, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def _ring_part(ctx, rng):
    # 60 epochs in both modes: after 40, 47-80% of the samples lay within 3 std of a mode over
    # twelve seeds (the rest on the bridges between modes); after 60, 78-88%
    epochs = 60
    X, modes = _ring(4096, rng)
    seed = int(rng.integers(2**31))
    gan = _ring_gan(seed, epochs * (len(X) // 64))
    ctx.text(
        "**The game as a picture.** Data: 8 Gaussians (std 0.05) on a ring of radius 2, the "
        "classic test of whether a GAN covers every mode. G: 4-64-64-2 (ReLU), D: 2-64-64-1 "
        "(leaky ReLU) whose output is a logit; the notes' algorithm with k = 1 and the "
        "non-saturating generator loss, Adam (beta1 = 0.5), batches of 64."
    )
    start_probe = _d_alone(gan, X, seed)  # can a D trained alone tell the initial G from data?
    stops = [0, 2, 6, epochs]
    gx, gy = np.meshgrid(np.linspace(-3, 3, 90), np.linspace(-3, 3, 90))
    points = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    snaps = []
    for a, b in zip([0] + stops[:-1], stops):
        if b > a:
            gan.fit(X, epochs=b - a, batch_size=64)
        snaps.append((b, gan.sample(1000), gan.discriminate(points).reshape(gx.shape)))
    with ctx.figure("The data (black), the generator's samples (orange) and the discriminator's "
                    "D(x) (blue: 'data', red: 'counterfeit') at several points of training.",
                    size=(10, 2.8)) as fig:
        axes = fig.subplots(1, len(snaps))
        for ax, (ep, s, surf) in zip(axes, snaps):
            ax.contourf(gx, gy, surf, levels=np.linspace(0, 1, 11), cmap="RdBu", alpha=0.6)
            ax.scatter(X[:500, 0], X[:500, 1], s=2, c="k")
            ax.scatter(s[:, 0], s[:, 1], s=2, c="tab:orange", alpha=0.6)
            ax.set_xlim(-3, 3)
            ax.set_ylim(-3, 3)
            ax.set_aspect("equal")
            ax.set_title(f"after {ep} epochs", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    s = gan.sample(2000).astype(np.float64)
    d = np.linalg.norm(s[:, None, :] - modes[None], axis=2)
    near = d.min(axis=1) < 3 * RING_STD
    covered = len(np.unique(d.argmin(axis=1)[near]))
    ctx.claim("Sampling needs only noise: G's outputs cover the data's modes (at least 6 of 8, "
              "most samples within 3 standard deviations of a mode)",
              covered >= 6 and near.mean() > 0.5,
              f"{covered} of 8 modes covered, {near.mean():.0%} of samples within 3 std")
    h = gan.history
    with ctx.figure("Mean D(x) on data and D(G(z)) on counterfeits per epoch: both head for "
                    "0.5, the 'maximally confused' discriminator.", size=(5.5, 3)) as fig:
        _plot_confusion(fig.add_subplot(), h)
    end_probe = _d_alone(gan, X, seed)
    ctx.claim("Training drives the discriminator towards 'maximally confused': D outputs about "
              "0.5 for both true and counterfeit examples",
              _confused(h["d_real"][-1], h["d_fake"][-1], start_probe, end_probe),
              f"last epoch: mean D(x) = {h['d_real'][-1]:.2f}, mean D(G(z)) = "
              f"{h['d_fake'][-1]:.2f} (first epoch: {h['d_real'][0]:.2f}, {h['d_fake'][0]:.2f}); "
              f"a copy of D trained alone for an epoch against G's samples: at the start "
              f"D(x) = {start_probe[0]:.2f}, D(G(z)) = {start_probe[1]:.2f} (G is easy to tell "
              f"apart), at the end {end_probe[0]:.2f}, {end_probe[1]:.2f}")


def _saturation_part(ctx, rng, X):
    ctx.text(
        "**Minimax vs non-saturating.** The notes: early on G is bad and D rejects its samples "
        "easily, so log(1 − D(G(z))) saturates; training G to maximise log D(G(z)) instead gives "
        "the same fixed point with strong gradients. Below, D is first trained against a fresh G "
        "(rb.fit with the logistic loss, data = 1, samples = 0), then the generator's gradient is "
        "measured under both objectives and both games are played on from there (SGD with "
        "momentum, the paper's optimizer)."
    )
    seed = int(rng.integers(2**31))
    epochs = 4 if ctx.quick else 10
    rows, curves = [], {}
    for loss in ("minimax", "non_saturating"):
        G, D = _digits_nets(seed, 16)
        fake = rb.training.predict(G, np.random.default_rng(seed).standard_normal(
            (len(X), 16)).astype(np.float32))
        both = np.concatenate([X, fake])
        labels = np.concatenate([np.ones(len(X)), np.zeros(len(fake))]).astype(np.float32)
        rb.fit(D, both, labels, loss="binary_cross_entropy_with_logits",
               optimizer=rb.optim.Adam(D.parameters(), lr=1e-3), epochs=3, batch_size=64,
               metrics=(), progress=False, rng=seed)
        # the GAN's own optimizers are built now, after D's pre-training: the defaults, SGD
        # with momentum as in the paper (Adam would rescale the small gradient and hide it)
        gan = rb.models.GAN(G, D, 16, generator_loss=loss, rng=seed)
        z = gan.draw_noise(256)
        objective = gan.generator_objective(D(G(rb.tensor(z))))
        for p in G.parameters():
            p.grad = None
        objective.backward()
        norm = float(np.sqrt(sum(np.sum(np.square(p.grad, dtype=np.float64))
                                 for p in G.parameters())))
        d_fake = float(gan.discriminate(G(rb.tensor(z)).data).mean())
        gan.fit(X, epochs=epochs, batch_size=64)
        curves[loss] = [d_fake] + gan.history["d_fake"]
        rows.append([loss, d_fake, norm, gan.history["d_fake"][-1]])
    ctx.table(["generator loss", "mean D(G(z)) at the start", "‖∂J_G/∂θ_g‖ at the start",
               f"mean D(G(z)) after {epochs} epochs"], rows)
    with ctx.figure("Mean D(G(z)) per epoch from the same start (a confident discriminator).",
                    size=(5.5, 3)) as fig:
        ax = fig.add_subplot()
        for loss, c in curves.items():
            ax.plot(range(len(c)), c, "o-", label=loss)
        ax.set_xlabel("epoch")
        ax.set_ylabel("mean D(G(z))")
        ax.legend()
        ax.grid(True, alpha=0.3)
    minimax, ns = rows
    ctx.claim("Early on, log(1 − D(G(z))) saturates: maximising log D(G(z)) gives the generator "
              "a much stronger gradient, and with it the generator gets going",
              minimax[1] < 0.1 and ns[2] > 5 * minimax[2] and ns[3] > minimax[3] + 0.1,
              f"D(G(z)) = {minimax[1]:.3f}: gradient norm {ns[2]:.3g} (non-saturating) vs "
              f"{minimax[2]:.3g} (minimax); mean D(G(z)) after {epochs} epochs "
              f"{ns[3]:.2f} vs {minimax[3]:.2f}")


def _mnist_nets(seed, noise_dim, n_cond=0):
    r = np.random.default_rng(seed)
    G = rb.nn.Sequential(rb.nn.Dense(noise_dim + n_cond, 256, rng=r), rb.nn.LeakyReLU(0.2),
                         rb.nn.Dense(256, 784, rng=r), rb.nn.Sigmoid())
    D = rb.nn.Sequential(rb.nn.Dense(784 + n_cond, 256, rng=r), rb.nn.LeakyReLU(0.2),
                         rb.nn.Dropout(0.3, rng=r), rb.nn.Dense(256, 1, rng=r))
    return G, D


def _digits_part(ctx, rng):
    """Quick: the 8x8 digits with one-hot labels. Full: the MNIST sample, embedded labels."""
    seed = int(rng.integers(2**31))
    if ctx.quick:
        X, y = rb.datasets.load_digits()
        side, epochs, noise_dim, emb = 8, 30, 16, None
        G, D = _digits_nets(seed, noise_dim)
        opt = _adam(2e-3)
        cG, cD = _digits_nets(seed, noise_dim, n_cond=10)
        r = np.random.default_rng(seed)
        clf = rb.nn.Sequential(rb.nn.Dense(64, 64, rng=r), rb.nn.ReLU(),
                               rb.nn.Dense(64, 10, rng=r))
        data = f"scikit-learn's 8×8 digits ({len(X)} images; the full tour uses MNIST)"
        nets = "G 16-128-64 (sigmoid output), D 64-128-1, the cGAN's label one-hot"
    else:
        X, y = rb.datasets.load_mnist_sample()
        side, epochs, noise_dim, emb = 28, 30, 32, 32
        G, D = _mnist_nets(seed, noise_dim)
        opt = _adam(2e-4)
        cG, cD = _mnist_nets(seed, noise_dim, n_cond=emb)
        clf = rb.nn.Dense(784, 10, rng=seed)
        data = f"the MNIST sample ({len(X)} images of 28×28)"
        nets = ("G 32-256-784 (sigmoid output), D 784-256-1 (dropout 0.3), the cGAN's label "
                "through a learned 32-dimensional embedding in each network")
    ctx.text(
        f"**Digits.** {data}: a GAN and a conditional GAN whose networks also read the label "
        f"(the notes' J_D and J_G), {nets}; {epochs} epochs each. A separately trained "
        "classifier then reads the cGAN's samples."
    )
    gan = rb.models.GAN(G, D, noise_dim, optimizer_g=opt, optimizer_d=opt, rng=seed)
    gan.fit(X, epochs=epochs, batch_size=64)
    cgan = rb.models.ConditionalGAN(cG, cD, noise_dim, n_classes=10, embedding_dim=emb,
                                    optimizer_g=opt, optimizer_d=opt, rng=seed)
    cgan.fit(X, y, epochs=epochs, batch_size=64)
    rb.fit(clf, X, y, loss="cross_entropy", optimizer=rb.optim.Adam(clf.parameters(), lr=3e-3),
           epochs=20 if ctx.quick else 10, batch_size=64, metrics=(), progress=False, rng=seed)
    per_label = np.stack([cgan.sample(10, y=c) for c in range(10)])
    with ctx.figure("Left: GAN samples. Right: cGAN samples, one row per label 0-9.",
                    size=(8, 4)) as fig:
        a, b = fig.subplots(1, 2)
        _grid(a, gan.sample(100), 10, 10, "GAN", side)
        _grid(b, per_label.reshape(100, -1), 10, 10, "conditional GAN (row = label)", side)
    h = gan.history
    with ctx.figure("The digits GAN's mean D(x) and D(G(z)) per epoch.", size=(5.5, 3)) as fig:
        _plot_confusion(fig.add_subplot(), h)
    hits = [float((rb.training.predict(clf, cgan.sample(200, y=c)).argmax(axis=1) == c).mean())
            for c in range(10)]
    ctx.claim("A conditional GAN generates what the condition asks for: a separate classifier "
              "reads its samples for each label as that label far more often than chance (10%)",
              float(np.mean(hits)) > 0.5,
              f"mean {np.mean(hits):.0%} (lowest label {int(np.argmin(hits))}: "
              f"{min(hits):.0%})")
    cgan.sample(1000)  # conditions drawn from the Parzen window on the training labels
    counts = np.bincount(cgan.last_conditions, minlength=10)
    ctx.text(f"Without a given label, the cGAN draws its conditions from a Parzen-window estimate "
             f"of the training labels (the notes' p_y(y), width chosen by held-out likelihood: "
             f"σ = {cgan.condition_density_.sigma_:.3g}); labels 0-9 among 1000 draws: "
             f"{', '.join(str(int(c)) for c in counts)}.")
    return gan, X


def _parzen_part(ctx, rng, gan, X):
    order = rng.permutation(len(X))
    half = len(X) // 2
    val, test = X[order[:half]], X[order[half:]]
    samples = gan.sample(3000)
    kde = rb.models.ParzenWindow(grid=np.geomspace(0.01, 1.0, 25)).fit(samples, validation=val)
    test_ll = kde.score(test)
    ctx.text(
        "**Parzen windows.** The notes' kernel density estimate, with the Gaussian kernel's width "
        "σ cross-validated on held-out data; fitted to a generator's samples and scored on test "
        "data it is also the usual log-likelihood evaluation of a GAN "
        "(rb.models.parzen_log_likelihood)."
    )
    with ctx.figure("Mean validation log-likelihood of real digits under a Parzen window on "
                    "3000 GAN samples, against the kernel width σ.", size=(5.5, 3)) as fig:
        ax = fig.add_subplot()
        ax.semilogx(kde.grid_, kde.scores_, "o-")
        near = kde.scores_[(kde.grid_ >= kde.sigma_ / 4) & (kde.grid_ <= kde.sigma_ * 4)]
        top, low = float(kde.scores_.max()), float(near.min())
        ax.set_ylim(low - 0.1 * (top - low), top + 0.1 * (top - low))  # the region of the peak
        ax.axvline(kde.sigma_, color="tab:red", ls="--", label=f"chosen σ = {kde.sigma_:.3g}")
        ax.set_xlabel("σ")
        ax.set_ylabel("mean log-likelihood")
        ax.legend()
        ax.grid(True, alpha=0.3)
    best = int(np.argmax(kde.scores_))
    ctx.claim("Cross-validating the kernel width: both too narrow and too wide a window score "
              "held-out data worse than the chosen σ",
              0 < best < len(kde.grid_) - 1,
              f"σ = {kde.sigma_:.3g}: validation {kde.scores_[best]:.1f} nats per digit "
              f"(σ = {kde.grid_[0]:.2g}: {kde.scores_[0]:.1f}; σ = {kde.grid_[-1]:.2g}: "
              f"{kde.scores_[-1]:.1f}); test log-likelihood {test_ll:.1f}")


def _clean_cost_bound(clean_error, n):
    """The clean test error adversarial training may add: 2 points plus two standard errors
    of a test error on ``n`` examples. Over tour seeds 0-29 it added 1.3 points on average,
    -0.6 to 2.7, more than 2 points at 5 of 30 seeds; training on the adversarial loss alone
    at ε = 0.25 added 16-17 points."""
    return 0.02 + 2 * accuracy_standard_error(clean_error, n)


def _adversarial_training_confirmed(plain, robust, n):
    """Whether adversarial training at least halved the FGSM error at its ε (``[2]`` of each
    table row) at a clean-error cost (``[1]``) within :func:`_clean_cost_bound`."""
    return robust[2] <= plain[2] / 2 and robust[1] <= plain[1] + _clean_cost_bound(plain[1], n)


def _adversarial_part(ctx):
    ctx.text(
        "**Adversarial examples, before and after adversarial training.** Goodfellow et al. "
        "(2015), who also introduced GANs: a softmax regression on MNIST (here the 5000-digit "
        "sample) errs on 99.9% of the test set under the fast gradient sign method with ε = 0.25 "
        "(rb.adversarial.fgsm). Adversarial training, rb.fit(..., adversarial="
        "rb.adversarial.FGSM(eps=0.1, alpha=0.5)), trains on half clean, half adversarial loss."
    )
    X, y = rb.datasets.load_mnist_sample()
    # the split, the initial weights and the batches follow the tour's seed (seed 0: the
    # runs the chapter always showed), so that `tour --seed N` repeats this part too
    seed = ctx.run_seed(0)
    Xtr, Xte, ytr, yte = rb.datasets.train_test_split(X, y, test_size=0.2, rng=seed)
    nets = {}
    for name, adv in (("trained on clean digits", None),
                      ("adversarial training, ε = 0.1", rb.adversarial.FGSM(eps=0.1, alpha=0.5))):
        net = rb.nn.Dense(784, 10, rng=seed)
        rb.fit(net, Xtr, ytr, loss="cross_entropy",
               optimizer=rb.optim.Adam(net.parameters(), lr=1e-2), epochs=15, batch_size=64,
               metrics=(), progress=False, rng=seed, adversarial=adv)
        nets[name] = net

    def error(net, x):
        return float((rb.training.predict(net, x).argmax(axis=1) != yte).mean())

    rows = [[name, error(net, Xte), error(net, rb.adversarial.fgsm(net, Xte, yte, 0.1)),
             error(net, rb.adversarial.fgsm(net, Xte, yte, 0.25))] for name, net in nets.items()]
    ctx.table(["softmax regression", "test error", "FGSM error, ε = 0.1", "FGSM error, ε = 0.25"],
              rows)
    plain, robust = rows
    # a test digit both models get right, that FGSM flips for the plain model only
    right = [rb.training.predict(net, Xte).argmax(axis=1) == yte for net in nets.values()]
    held = [rb.training.predict(net, rb.adversarial.fgsm(net, Xte, yte, 0.1)).argmax(axis=1)
            == yte for net in nets.values()]
    candidates = np.nonzero(right[0] & right[1] & ~held[0] & held[1])[0]
    pick = int(candidates[0]) if candidates.size else int(np.nonzero(right[0])[0][0])
    with ctx.figure("A test digit, the FGSM perturbation (ε = 0.1) against each model, and the "
                    "perturbed digit, with the predictions. Top: plain; bottom: adversarially "
                    "trained.", size=(6.5, 4.6)) as fig:
        axes = fig.subplots(2, 3)
        for row, net in zip(axes, nets.values()):
            xs, ys = Xte[pick:pick + 1], yte[pick:pick + 1]
            xa = rb.adversarial.fgsm(net, xs, ys, 0.1)
            pred = [int(rb.training.predict(net, v).argmax()) for v in (xs, xa)]
            for ax, img, title, cmap, lim in zip(
                    row, [xs, xa - xs, xa],
                    [f"predicted {pred[0]}", "perturbation", f"adversarial: predicted {pred[1]}"],
                    ["gray", "RdBu", "gray"], [(0, 1), (-0.1, 0.1), (0, 1)]):
                ax.imshow(img.reshape(28, 28), cmap=cmap, vmin=lim[0], vmax=lim[1])
                ax.set_title(title, fontsize=9)
                ax.set_xticks([])
                ax.set_yticks([])
    ctx.claim("A softmax regression on MNIST misclassifies at least 90% of FGSM examples at "
              "ε = 0.25 (Goodfellow et al.: 99.9%)", plain[3] >= 0.9,
              f"{plain[3]:.1%} (clean test error {plain[1]:.1%})")
    cost_bound = _clean_cost_bound(plain[1], len(yte))
    ctx.claim("Adversarial training at least halves the FGSM error at its ε while costing "
              "little clean accuracy (2 points, give or take two standard errors of the test "
              "error)",
              _adversarial_training_confirmed(plain, robust, len(yte)),
              f"FGSM error at ε = 0.1: {plain[2]:.1%} → {robust[2]:.1%}; clean error "
              f"{plain[1]:.1%} → {robust[1]:.1%} ({robust[1] - plain[1]:+.1%}; at most "
              f"{cost_bound:.1%} allowed)")


@chapter("Generative adversarial networks", section="Generative Adversarial Networks")
def run(ctx):
    rng = ctx.rng
    ctx.text(
        "The notes: a generator G turns noise into samples, a discriminator D outputs the "
        "probability that its input came from the data, and the two play min_G max_D "
        "E[log D(x)] + E[log(1 − D(G(z)))], trained in alternation: k discriminator steps on "
        "fresh minibatches of data and noise, then one generator step (rb.models.GAN; the "
        "conditional version is rb.models.ConditionalGAN)."
    )
    _ring_part(ctx, rng)
    _saturation_part(ctx, rng, rb.datasets.load_digits()[0])
    gan, X = _digits_part(ctx, rng)
    _parzen_part(ctx, rng, gan, X)
    _adversarial_part(ctx)


def _plot_confusion(ax, history):
    """Mean D(x) and D(G(z)) per epoch against the 'maximally confused' 0.5."""
    ax.plot(history["d_real"], label="D(x), data")
    ax.plot(history["d_fake"], label="D(G(z)), samples")
    ax.axhline(0.5, color="gray", ls=":")
    ax.set_xlabel("epoch")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.grid(True, alpha=0.3)
