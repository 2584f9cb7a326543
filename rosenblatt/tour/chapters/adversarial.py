"""Tour: adversarial examples (notes: "Adversarial examples")."""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter


def _accuracy(model, x, y):
    return rb.training.evaluate(model, x, y, loss="cross_entropy")["accuracy"]


def _mlp(rng):
    return rb.nn.Sequential(rb.nn.Dense(64, 128, init="he", rng=rng), rb.nn.ReLU(),
                            rb.nn.Dense(128, 10, rng=rng))


@chapter("Adversarial examples", section="Adversarial examples")
def run(ctx):
    rng = ctx.rng
    ctx.text(
        "The notes: adding (carefully chosen) noise to an input can throw off a classifier; one "
        "defence is to generate such adversarial examples and include them in the training set. "
        "The noise here is the fast gradient sign method (Goodfellow et al. 2015, "
        "rb.adversarial.fgsm): each pixel moves by ±ε in the direction that increases the "
        "loss, ∂J/∂x computed by the same backpropagation that trains the network. Adversarial "
        "training is an rb.fit option, adversarial=rb.adversarial.FGSM(eps, alpha)."
    )
    x, y = rb.datasets.load_digits()
    x, xt, y, yt = rb.datasets.train_test_split(x, y, test_size=1 - 1200 / len(x), rng=rng)
    epochs = 15 if ctx.quick else 40
    seed = int(rng.integers(2**31))
    net = _mlp(np.random.default_rng(seed))
    rb.fit(net, x, y, loss="cross_entropy", optimizer=rb.optim.Adam(net.parameters(), lr=2e-3),
           epochs=epochs, batch_size=32, metrics=(), progress=False,
           rng=np.random.default_rng(seed))
    eps_grid = [0.0, 0.05, 0.1, 0.15, 0.2]
    rows = []
    for eps in eps_grid:
        noise = np.clip(xt + eps * rng.choice([-1.0, 1.0], size=xt.shape), 0, 1).astype(xt.dtype)
        adversarial = rb.adversarial.fgsm(net, xt, yt, eps)
        rows.append([eps, _accuracy(net, noise, yt), _accuracy(net, adversarial, yt)])
    ctx.table(["ε (pixels in [0, 1])", "accuracy, random ±ε noise", "accuracy, adversarial ±ε"],
              rows)
    with ctx.figure("Test accuracy against the size ε of the input perturbation: random "
                    "±ε noise hardly matters, the same-size adversarial one is devastating.",
                    size=(5.5, 3)) as fig:
        ax = fig.add_subplot()
        ax.plot(eps_grid, [r[1] for r in rows], "o-", label="random ±ε")
        ax.plot(eps_grid, [r[2] for r in rows], "s-", label="adversarial ±ε (FGSM)")
        ax.set_xlabel("ε")
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1.02)
        ax.legend()
        ax.grid(True, alpha=0.3)
    by_eps = {r[0]: r for r in rows}
    ctx.claim("Small, carefully chosen input noise throws off a classifier that random noise "
              "of the same size barely affects",
              by_eps[0.1][2] < by_eps[0.0][1] - 0.3 and by_eps[0.1][1] > by_eps[0.0][1] - 0.05,
              f"ε = 0.1: accuracy {by_eps[0.0][1]:.1%} clean, {by_eps[0.1][1]:.1%} with random "
              f"±ε noise, {by_eps[0.1][2]:.1%} adversarial")

    # -- adversarial training -----------------------------------------------------------------
    eps = 0.1
    robust = _mlp(np.random.default_rng(seed))
    # Every step trains on half clean, half adversarial loss, the adversarial batch made
    # against the current weights (Goodfellow et al.'s objective, alpha = 0.5).
    rb.fit(robust, x, y, loss="cross_entropy",
           optimizer=rb.optim.Adam(robust.parameters(), lr=2e-3), epochs=epochs, batch_size=32,
           metrics=(), progress=False, rng=np.random.default_rng(seed),
           adversarial=rb.adversarial.FGSM(eps=eps, alpha=0.5))
    plain_adv = _accuracy(net, rb.adversarial.fgsm(net, xt, yt, eps), yt)
    robust_adv = _accuracy(robust, rb.adversarial.fgsm(robust, xt, yt, eps), yt)
    robust_clean = _accuracy(robust, xt, yt)
    ctx.table(["network", "clean test accuracy", f"adversarial accuracy (ε = {eps:g})"],
              [["trained on clean digits", by_eps[0.0][1], plain_adv],
               ["trained with adversarial examples", robust_clean, robust_adv]])
    clean_pred = rb.training.predict(net, xt).argmax(axis=1)
    adv_pred = rb.training.predict(net, rb.adversarial.fgsm(net, xt, yt, eps)).argmax(axis=1)
    flipped = np.nonzero((clean_pred == yt) & (adv_pred != yt))[0]
    example = int(flipped[0]) if flipped.size else 0
    xs, ys = xt[example:example + 1], yt[example:example + 1]
    xa = rb.adversarial.fgsm(net, xs, ys, eps)
    with ctx.figure(f"A test digit, the adversarial perturbation (±{eps:g} per pixel) and the "
                    "perturbed digit, with the network's predictions.", size=(6.5, 2.4),
                    notes="Adversarial example") as fig:
        axes = fig.subplots(1, 3)
        pred = [int(rb.training.predict(net, v).argmax()) for v in (xs, xa)]
        for ax, img, title in zip(axes, [xs, xa - xs, xa],
                                  [f"input: predicted {pred[0]}", "perturbation",
                                   f"adversarial: predicted {pred[1]}"]):
            ax.imshow(img.reshape(8, 8), cmap="gray" if title != "perturbation" else "RdBu",
                      vmin=0 if title != "perturbation" else -eps,
                      vmax=1 if title != "perturbation" else eps)
            ax.set_title(title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    ctx.claim("Including adversarial examples in the training set makes the network more "
              "robust to them", robust_adv > plain_adv + 0.15,
              f"adversarial accuracy at ε = {eps:g}: {plain_adv:.1%} → {robust_adv:.1%} "
              f"(clean accuracy {by_eps[0.0][1]:.1%} → {robust_clean:.1%})")
