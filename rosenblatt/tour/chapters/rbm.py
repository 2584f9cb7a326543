"""Tour: restricted Boltzmann machines and deep belief nets (notes: "Restricted Boltzmann
machines", "Deep Belief Nets", "Deep autoencoders")."""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter
from rosenblatt.tour.threads import blas_threads


def _logistic_regression(x, y):
    """A fitted scikit-learn logistic regression (the classic probe of RBM features)."""
    from sklearn.linear_model import LogisticRegression

    # imported now, scipy's own BLAS escaped the tour's thread limit: limit it here too
    with blas_threads(1):
        return LogisticRegression(C=1.0, max_iter=500).fit(x, y)


def _logistic(x, y, xt, yt):
    """Test accuracy of a logistic regression trained on (x, y)."""
    model = _logistic_regression(x, y)
    with blas_threads(1):
        return float(model.score(xt, yt))


def _grid(ax, images, rows, cols, title=""):
    """Draw (rows*cols, 784) images as one mosaic."""
    tiles = images[:rows * cols].reshape(rows, cols, 28, 28).transpose(0, 2, 1, 3)
    ax.imshow(tiles.reshape(rows * 28, cols * 28), cmap="gray")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


@chapter("Restricted Boltzmann machines and deep belief nets",
         section="Restricted Boltzmann machines", order=85)
def run(ctx):
    rng, quick = ctx.rng, ctx.quick
    X, y = rb.datasets.load_mnist_sample()
    perm = rng.permutation(len(X))
    n_train = 2000 if quick else 4000
    tr, te = perm[:n_train], perm[4000:]
    Xtr, ytr, Xte, yte = X[tr], y[tr], X[te], y[te]
    n_hidden, epochs = (128, 10) if quick else (256, 15)
    ctx.text(
        "An RBM is an energy model over visible units v and binary hidden units h with no "
        "connections inside a layer: E(v, h) = −v·b − h·c − vWh. Each layer is then "
        "independent given the other, p(h_j = 1 | v) = σ(c_j + (vW)_j), so Gibbs sampling is "
        "two matrix products. Contrastive divergence (CD-k, Hinton 2002) follows the "
        "likelihood gradient ⟨vh⟩_data − ⟨vh⟩_model with the model term taken k Gibbs steps "
        "from the data; persistent "
        "CD (Tieleman 2008) keeps its chains running between updates. "
        f"Here: {n_train} MNIST digits (the `rb.datasets.load_mnist_sample` images, pixels in "
        f"[0, 1]), an RBM with {n_hidden} hidden units, CD-1, {epochs} epochs.")

    rbm = rb.models.RBM(784, n_hidden, lr=0.05, rng=rng)
    history = rbm.fit(Xtr, epochs=epochs, batch_size=50, progress=False)
    recon, pl = history["reconstruction_error"], history["pseudo_likelihood"]
    with ctx.figure("Left: the first 64 filters (columns of W, each a 28x28 image): strokes "
                    "and blobs. Right: the learning curves.", size=(8, 3.4)) as fig:
        ax1, ax2 = fig.subplots(1, 2)
        W = rbm.W.data.T[:64]
        W = (W - W.min(axis=1, keepdims=True)) / np.ptp(W, axis=1, keepdims=True)
        _grid(ax1, W, 8, 8, "RBM filters")
        epochs_axis = np.arange(1, len(recon) + 1)
        ax2.plot(epochs_axis, recon, "C0-o", ms=3, label="reconstruction error")
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("mean squared error")
        twin = ax2.twinx()
        twin.plot(epochs_axis, pl, "C1-s", ms=3, label="pseudo-likelihood")
        twin.set_ylabel("pseudo-likelihood (nats)")
        ax2.legend(loc="center right", fontsize=8)
        twin.legend(loc="upper right", fontsize=8)
    ctx.claim("CD-1 training lowers the reconstruction error and raises the pseudo-likelihood",
              recon[-1] < 0.8 * recon[0] and pl[-1] > pl[0],
              f"reconstruction error {recon[0]:.4f} → {recon[-1]:.4f}; pseudo-likelihood "
              f"{pl[0]:.1f} → {pl[-1]:.1f} nats per image")

    _exact_likelihood(ctx, rng, quick)
    _semi_supervised(ctx, rng, quick, rbm, Xtr, ytr, Xte, yte)
    _dbn(ctx, rng, quick, Xtr, ytr, Xte, yte)


def _exact_likelihood(ctx, rng, quick):
    """A small RBM on binarised 8x8 digits: exact log-likelihood, CD-1 vs CD-10 vs PCD, AIS."""
    X, _ = rb.datasets.load_digits()
    X = (X > 0.5).astype(np.float32)
    perm = rng.permutation(len(X))
    tr, te = X[perm[:1400]], X[perm[1400:]]
    n_hidden, epochs = (10, 10) if quick else (16, 30)
    ctx.text(
        "The likelihood itself needs the partition function Z, a sum over every joint state. "
        f"With {n_hidden} hidden units it is a sum over 2^{n_hidden} hidden states (the "
        "visible ones sum out in closed form), so on scikit-learn's 8x8 digits (binarised, "
        f"1,400 for training, {len(te)} held out) the exact held-out log-likelihood can be "
        "followed during training, for CD-1, CD-10 and persistent CD-1 (same learning rate "
        "0.05, momentum 0.5, batches of 20).")
    curves, models = {}, {}
    seed = int(rng.integers(2**31))
    for name, kwargs in [("CD-1", {"k": 1}), ("CD-10", {"k": 10}),
                         ("PCD-1", {"k": 1, "persistent": True})]:
        model = rb.models.RBM(64, n_hidden, lr=0.05, rng=seed, **kwargs)
        curve = [model.log_likelihood(te)]
        for _ in range(epochs):
            model.fit(tr, epochs=1, batch_size=20, progress=False)
            curve.append(model.log_likelihood(te))
        curves[name], models[name] = curve, model
    with ctx.figure("Exact held-out log-likelihood (nats per image) during training.",
                    size=(6, 3.4)) as fig:
        ax = fig.add_subplot(1, 1, 1)
        for name, curve in curves.items():
            ax.plot(range(len(curve)), curve, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("log p(v), held out")
        ax.legend()
    best = max(curves, key=lambda k: curves[k][-1])
    ctx.table(["training", "log-likelihood before", "after", "best during training"],
              [[k, c[0], c[-1], max(c)] for k, c in curves.items()])
    final = {k: c[-1] for k, c in curves.items()}
    pcd_note = ("ends below CD-1; a likely reason: persistent chains only track the model "
                "when the learning rate is small (Tieleman decays it), and a fixed 0.05 with "
                "momentum moves the model faster than the chains mix" if final["PCD-1"]
                < final["CD-1"] else
                "ends above CD-1, as Tieleman (2008) found: its chains are not restarted at "
                "the data, so its negative phase explores the model's own modes")
    ctx.text(
        f"At this size and learning rate {best} ends highest. PCD-1 ({final['PCD-1']:.2f}) "
        f"{pcd_note}. CD-10 ({final['CD-10']:.2f}) costs ten times CD-1's sampling for "
        f"{final['CD-10'] - final['CD-1']:+.2f} nats here: with few hidden units CD-1's bias "
        "is small.")
    cd1 = curves["CD-1"]
    ctx.claim("Contrastive divergence raises the (exact) likelihood of held-out data",
              cd1[-1] > cd1[0] + 10,
              f"CD-1: {cd1[0]:.2f} → {cd1[-1]:.2f} nats per image")

    model = models["CD-1"]
    exact = model.log_partition().value
    n_betas = 1000 if quick else 10000
    ais = model.log_partition("ais", n_chains=100, n_betas=n_betas, rng=rng)
    ctx.text(
        "For a large RBM Z cannot be enumerated; annealed importance sampling (Salakhutdinov "
        "and Murray 2008) estimates it by moving 100 chains from a model with W = 0 (whose Z "
        f"is known) to the RBM through {n_betas} intermediate temperatures. On this small RBM "
        "both are available.")
    ctx.claim("Annealed importance sampling estimates log Z within its error bars",
              ais.low <= exact <= ais.high,
              f"exact {exact:.3f}; AIS {ais.value:.3f} (3 standard errors: [{ais.low:.3f}, "
              f"{ais.high:.3f}])")


def _semi_supervised(ctx, rng, quick, rbm, Xtr, ytr, Xte, yte):
    """The notes' use of RBMs: features learned from unlabelled data, a classifier on few labels."""
    per_class = (10, 50) if quick else (5, 10, 50)
    seeds = 8
    ctx.text(
        "The notes' use for an RBM: semi-supervised learning. The RBM above saw the "
        f"{len(Xtr)} training images without their labels. With only a few labels per class, "
        "a logistic regression (scikit-learn's, C = 1) is trained on the raw pixels and on the "
        f"RBM's {rbm.n_hidden} hidden probabilities, and tested on {len(Xte)} other images; "
        f"mean of {seeds} draws of the labelled examples.")
    Fte = rbm.transform(Xte)
    rows, gains = [], []
    for k in per_class:
        pixels, features = [], []
        for _ in range(seeds):
            idx = np.concatenate([rng.choice(np.flatnonzero(ytr == c), k, replace=False)
                                  for c in range(10)])
            pixels.append(_logistic(Xtr[idx], ytr[idx], Xte, yte))
            features.append(_logistic(rbm.transform(Xtr[idx]), ytr[idx], Fte, yte))
        rows.append([k, np.mean(pixels), np.mean(features)])
        gains.append(np.mean(features) - np.mean(pixels))
    ctx.table(["labels per class", "raw pixels: test accuracy", "RBM features: test accuracy"],
              rows)
    helped = sum(g > 0 for g in gains)
    ctx.text(
        f"RBM features did better than raw pixels at {helped} of {len(gains)} label budgets "
        f"(differences {', '.join(f'{g:+.1%}' for g in gains)}). This is one small "
        "experiment, reported as it came out.")
    ctx.claim("Features learned by an RBM from unlabelled images help a classifier trained on "
              "few labels (semi-supervised learning)",
              gains[0] > 0,
              f"{per_class[0]} labels per class: pixels {rows[0][1]:.1%}, RBM features "
              f"{rows[0][2]:.1%}")


def _dbn(ctx, rng, quick, Xtr, ytr, Xte, yte):
    """A DBN with a label layer generates digits of a chosen class; pretraining helps backprop."""
    sizes, epochs, steps = ([784, 128, 256], 5, 200) if quick else ([784, 256, 512], 15, 1000)
    ctx.text(
        f"A deep belief net {sizes[0]}-{sizes[1]}-{sizes[2]} with 10 label units joined to "
        "the top RBM (Hinton, Osindero and Teh 2006), trained greedily: each RBM learns the "
        "hidden probabilities of the one below, the top one learns them jointly with the "
        f"label ({epochs} epochs per layer). Run backwards, it generates: {steps} steps of "
        "Gibbs sampling in the top RBM with the label clamped, then one pass down.")
    dbn = rb.models.DBN(sizes, n_labels=10, lr=0.05, rng=rng)
    dbn.pretrain(Xtr, ytr, epochs_per_layer=epochs, batch_size=50, progress=False)
    per = 20  # images per label: with 6, the agreement of one run moved by +-6 points
    labels = np.tile(np.arange(10), per)
    images = dbn.generate(len(labels), gibbs_steps=steps, labels=labels, rng=rng)
    order = np.argsort(labels, kind="stable").reshape(10, per).T.reshape(-1)
    rows = 6 if quick else 10  # of the ``per`` generated per label, drawn
    with ctx.figure("Digits generated by the DBN: column j was generated with label j.",
                    size=(6, 0.6 * rows + 0.4)) as fig:
        _grid(fig.add_subplot(1, 1, 1), images[order][:rows * 10], rows, 10)
    judge = _logistic_regression(Xtr, ytr)
    agree = float(np.mean(judge.predict(images) == labels))
    own = float(np.mean(dbn.predict(Xte) == yte))
    ctx.claim("A deep belief net run backwards generates plausible inputs of a chosen class",
              agree > 0.3,
              f"a logistic regression trained on real digits ({judge.score(Xte, yte):.0%} on "
              f"real test digits) reads the requested label in {agree:.0%} of the generated "
              f"ones (chance: 10%); the DBN's own label units classify real test digits "
              f"{own:.0%} correctly")

    if quick:
        return
    ctx.text(
        "Pre-training for backprop (the notes' \"Deep autoencoders\": stacking RBMs): a DBN "
        "784-256-128 pre-trained on the training images without labels initialises a "
        "classifier; it and the same network from random initialisation are trained with "
        "Adam on 10 labels per class (3 draws).")
    rows = []
    for seed in range(3):
        g = np.random.default_rng(seed)
        idx = np.concatenate([g.choice(np.flatnonzero(ytr == c), 10, replace=False)
                              for c in range(10)])
        stack = rb.models.DBN([784, 256, 128], lr=0.05, rng=seed)
        stack.pretrain(Xtr, epochs_per_layer=5, batch_size=50, progress=False)
        pre = stack.to_classifier(10, rng=seed)
        rand = rb.nn.Sequential(rb.nn.Dense(784, 256, rng=seed), rb.nn.Sigmoid(),
                                rb.nn.Dense(256, 128, rng=seed), rb.nn.Sigmoid(),
                                rb.nn.Dense(128, 10, rng=seed))
        accs = []
        for net in (pre, rand):
            rb.fit(net, Xtr[idx], ytr[idx], loss="cross_entropy",
                   optimizer=rb.optim.Adam(net.parameters(), lr=1e-3), epochs=60,
                   batch_size=20, progress=False, rng=seed)
            accs.append(float(np.mean(net(rb.tensor(Xte)).data.argmax(axis=1) == yte)))
        rows.append([seed, *accs])
    ctx.table(["draw", "DBN-pretrained: test accuracy", "random init: test accuracy"], rows)
    mean_pre, mean_rand = np.mean([r[1] for r in rows]), np.mean([r[2] for r in rows])
    ctx.claim("Unsupervised pre-training by stacked RBMs helps a deep net learn from few labels",
              mean_pre > mean_rand,
              f"mean test accuracy {mean_pre:.1%} pretrained vs {mean_rand:.1%} random")
