"""Tour: elastic net, max-norm constraints and an artificially expanded training set (notes:
"Elastic net regularization", "Max norm constraints", "Artificially expanding the training
set")."""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter
from rosenblatt.tour.stats import accuracy_standard_error


def _pulls_together(shared, alone):
    """Whether the duplicates' weights (the rows' last two entries) of the ``shared`` run are
    clearly closer together than those of the ``alone`` run: their difference under 0.6 of it.

    With nearly equal inputs the data barely see how the weight is split between them, nor
    does L1 (Σ|w| is the same along the split while both are positive), so under L1 the
    difference stays where the initialisation put it (0.323 at the start, 0.320 after 400
    steps, the tour's seed 0); L2's λ₂ w shrinks it by a factor (1 − lr λ₂) a step: 0.45
    after the quick mode's 400 steps, 0.13 after 1000. Without the L2 part
    (``ElasticNet(l1, 0)``) the run is L1's own, and the ratio is 1.
    """
    return abs(shared[4] - shared[5]) < 0.6 * abs(alone[4] - alone[5])


@chapter("Elastic net regularization", section="Elastic net regularization", name="elastic-net")
def elastic_net(ctx):
    ctx.text(
        "Elastic net adds both penalties, λ₁ Σ|w| + λ₂ Σw² (rosenblatt writes the second as "
        "λ₂/2 Σw², like its L2): the L1 part drives useless weights to zero, the L2 part "
        "spreads weight evenly over correlated inputs. A linear model on 30 inputs, of which "
        "only 4 matter and two of those are the same signal recorded twice, trained through "
        "`rb.fit` with each penalty."
    )
    rng = ctx.rng
    n, d = 200, 30
    x = rng.standard_normal((n, d))
    x[:, 1] = x[:, 0] + 0.01 * rng.standard_normal(n)  # a duplicated input
    true = np.zeros(d)
    true[[0, 1, 2, 3]] = [1.5, 1.5, -2.0, 1.0]
    y = x @ true[:, None] + 0.1 * rng.standard_normal((n, 1))
    lr, lam2 = 0.02, 0.1
    penalties = {"L2 (λ = 0.1)": [rb.regularizers.L2(lam2)],
                 "L1 (λ = 0.05)": [rb.regularizers.L1(0.05)],
                 "elastic net (0.05, 0.1)": [rb.regularizers.ElasticNet(0.05, lam2)]}
    rows, weights = [], {}
    steps = 400 if ctx.quick else 1000  # full-batch: one step an epoch
    for name, regs in penalties.items():
        model = rb.nn.Sequential(rb.nn.Dense(d, 1, rng=np.random.default_rng(ctx.run_seed(0)),
                                             dtype=np.float64))  # the same start for each
        rb.fit(model, x, y, loss="mse", optimizer=rb.optim.SGD(model.parameters(), lr=lr),
               epochs=steps, batch_size=n, regularizers=regs, metrics=(),
               progress=False)
        w = model[0].W.data[:, 0]
        weights[name] = w
        rows.append([name, int(np.sum(np.abs(w[4:]) < 0.005)), float(np.median(np.abs(w[4:]))),
                     float(np.abs(w[4:]).max()), float(w[0]), float(w[1])])
    ctx.table(["penalty", "useless weights < 0.005 (of 26)", "median useless |w|",
               "largest useless |w|", "w of input 1", "w of its duplicate"], rows)
    with ctx.figure("The 30 learned weights under each penalty (true: 1.5, 1.5, −2, 1 and 26 "
                    "zeros; inputs 1 and 2 are duplicates).", size=(8, 2.8)) as fig:
        ax = fig.add_subplot()
        for k, (name, w) in enumerate(weights.items()):
            ax.bar(np.arange(d) + 0.27 * (k - 1), w, width=0.27, label=name)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("input")
        ax.legend(fontsize=7)
    model = rb.nn.Sequential(rb.nn.Dense(3, 2, dtype=np.float64))
    w = model[0].W.data
    penalty = float(rb.regularizers.ElasticNet(0.3, 0.2).penalty(model).item())
    formula = 0.3 * np.abs(w).sum() + 0.2 / 2 * (w ** 2).sum()
    ctx.claim("The elastic net penalty is the sum of the L1 and L2 terms",
              abs(penalty - formula) < 1e-12, f"{penalty:.6f} = λ₁Σ|w| + λ₂/2 Σw²")
    l2, l1, en = rows
    # Counted, not the largest: at elastic net's optimum a useless input whose chance
    # correlation with the residual exceeds lambda_1 keeps a weight (seed 4: one of the 26 at
    # 0.027, as scikit-learn's coordinate descent finds too); subgradient steps leave the
    # zeros jittering at about lr * lambda_1 = 0.001
    ctx.claim("Like L1 (and unlike L2) elastic net drives the useless weights to (almost) zero",
              en[1] >= 20 and l1[1] >= 20 and en[2] < 0.2 * l2[2],
              f"useless weights below 0.005: {l2[1]} (L2), {l1[1]} (L1), {en[1]} (elastic net) "
              f"of 26; median useless |w|: {l2[2]:.4f}, {l1[2]:.4f}, {en[2]:.4f}")
    shrink = (1 - lr * lam2) ** steps
    ctx.claim("Like L2, elastic net pulls the weights of duplicated inputs together (each step "
              "shrinks their difference by 1 − lr λ₂), where L1 alone leaves the split the "
              "initialisation gave them",
              _pulls_together(en, l1) and _pulls_together(l2, l1),
              f"weights of the duplicates: {en[4]:.3f} / {en[5]:.3f} (elastic net), "
              f"{l2[4]:.3f} / {l2[5]:.3f} (L2), {l1[4]:.3f} / {l1[5]:.3f} (L1); difference "
              f"{abs(en[4] - en[5]) / abs(l1[4] - l1[5]):.2f} × L1's with elastic net "
              f"((1 − lr λ₂)^{steps} = {shrink:.2f})")


@chapter("Max-norm constraints", section="Max norm constraints", name="max-norm")
def max_norm(ctx):
    ctx.text(
        "A max-norm constraint clamps every unit's incoming weight vector to ||w||₂ ≤ c after "
        "each update (`rb.regularizers.MaxNorm(c)`). The weights can never blow up, so a much "
        "higher learning rate can be used. A 2-64-64-2 ReLU network on two spirals through "
        "`rb.fit`, with a deliberately high learning rate (SGD, 0.5, momentum 0.9, annealed to 0 "
        "over the run by a cosine schedule, as Srivastava et al. decayed theirs), with and "
        "without the constraint (c = 3). At a constant 0.5 the last epoch's accuracy swings by "
        "tens of points from one seed to the next, constrained or not."
    )
    rng = ctx.rng
    x, y = rb.datasets.spirals(300, noise=0.05, turns=1.0, rng=rng)
    rows = []
    worst = 0.0
    for c in (None, 3.0):
        r = np.random.default_rng(ctx.run_seed(2))  # the same network both ways
        net = rb.nn.Sequential(rb.nn.Dense(2, 64, rng=r), rb.nn.ReLU(), rb.nn.Dense(64, 64, rng=r),
                               rb.nn.ReLU(), rb.nn.Dense(64, 2, rng=r))
        regs = [] if c is None else [rb.regularizers.MaxNorm(c)]
        norms = []
        watch = rb.callbacks.LambdaCallback(on_batch_end=lambda t, b, logs, net=net, norms=norms:
                                            norms.append(max(float(np.linalg.norm(
                                                net[k].W.data, axis=0).max()) for k in (0, 2, 4))))
        epochs = 30 if ctx.quick else 80
        anneal = rb.callbacks.LearningRateScheduler(rb.optim.schedules.Cosine(0.5, epochs))
        try:
            hist = rb.fit(net, x, y, loss="cross_entropy", optimizer=rb.optim.SGD(
                net.parameters(), lr=0.5, momentum=0.9), epochs=epochs,
                batch_size=30, regularizers=regs, progress=False, rng=r,
                callbacks=[watch, anneal])
            loss, acc = hist["loss"][-1], hist["accuracy"][-1]
        except rb.training.DivergenceError:
            loss, acc = float("inf"), float("nan")
        if c is not None:
            worst = max(norms)
        rows.append(["no constraint" if c is None else f"max-norm c = {c:g}", max(norms), loss,
                     acc])
    ctx.table(["training (lr 0.5)", "largest ||w|| of a unit seen", "final loss",
               "final accuracy"], rows)
    ctx.claim("After every update each unit's incoming weight vector has ||w||₂ ≤ c",
              worst <= 3.0 + 1e-5, f"largest norm over all steps {worst:.4f} (c = 3)")
    ctx.claim("Without the constraint the weights grow well past c; with it they cannot, and the "
              "constrained network still learns at the high learning rate",
              rows[0][1] > 1.25 * 3.0 and rows[1][3] >= 0.9,
              f"largest unit norm {rows[0][1]:.1f} without the constraint; with it, final "
              f"accuracy {rows[1][3]:.1%} (loss {rows[1][2]:.3g}; {rows[0][2]:.3g} without)")


@chapter("Artificially expanding the training set",
         section="Artificially expanding the training set", name="augmentation")
def augmentation(ctx):
    ctx.text(
        "More data helps against overfitting; when there is no more, modify the data the way the "
        "world would: handwritten digits shifted by a pixel and rotated a little are still the "
        "same digits. `rb.fit(..., augment=rb.training.ImageAugmentation(max_shift=1, "
        "max_angle=5, image_shape=(8, 8)))` draws a new shift and rotation for every example of "
        "every batch. A 64-64-10 network on only 150 digits, tested on the held-out digits as "
        "they are and shifted and rotated the same way (how new handwriting varies). On 8x8 "
        "pixels a shift of a pixel is large, and the clean test digits here are centred like the "
        "training ones, so there augmentation costs a little; on varied handwriting it pays."
    )
    x, y = rb.datasets.load_digits()
    x = x.astype(np.float32)  # the loader scales the pixels to [0, 1]
    rng = ctx.rng
    x, xt, y, yt = rb.datasets.train_test_split(x, y, test_size=0.5, rng=rng)
    x, y = x[:150], y[:150]
    aug = rb.training.ImageAugmentation(max_shift=1, max_angle=5, image_shape=(8, 8))
    xt_moved = aug(xt, np.random.default_rng(ctx.run_seed(1)))
    with ctx.figure("Four training digits (top) and one random shift-and-rotation of each "
                    "(bottom), as rb.fit's augment draws them.", size=(4, 2.2)) as fig:
        axes = fig.subplots(2, 4)
        moved = aug(x[:4], np.random.default_rng(ctx.run_seed(2)))
        for k in range(4):
            axes[0, k].imshow(x[k].reshape(8, 8), cmap="gray_r")
            axes[1, k].imshow(moved[k].reshape(8, 8), cmap="gray_r")
        for ax in axes.ravel():
            ax.set_axis_off()
    rows = []
    for name, augment in (("original 150 digits", None), ("with augmentation", aug)):
        runs = []
        for init in (3, 4, 5):  # three networks each: one network's gain depends on its start
            r = np.random.default_rng(ctx.run_seed(init))
            net = rb.nn.Sequential(rb.nn.Dense(64, 64, rng=r), rb.nn.ReLU(),
                                   rb.nn.Dense(64, 10, rng=r))
            rb.fit(net, x, y, loss="cross_entropy", optimizer=rb.optim.Adam(net.parameters(),
                                                                            lr=0.005),
                   epochs=80 if ctx.quick else 150, batch_size=30, augment=augment,
                   progress=False, rng=r)
            runs.append([rb.training.evaluate(net, a, b, loss="cross_entropy")["accuracy"]
                         for a, b in ((x, y), (xt, yt), (xt_moved, yt))])
        rows.append([name, *(float(v) for v in np.mean(runs, axis=0))])
    ctx.table(["training set (mean of 3 networks)", "train accuracy", "test accuracy",
               "test accuracy, shifted and rotated digits"], rows)
    # better by more than two binomial standard errors of an accuracy on these test digits
    # (a 5-point margin before: seed 26's split gave +4.4 points, the others +8 to +20)
    p0 = rows[0][3]
    se = accuracy_standard_error(p0, len(yt))
    ctx.claim("Training on digits modified the way the world modifies them (small shifts and "
              "rotations) generalises better to such unseen digits",
              rows[1][3] > p0 + 2 * se,
              f"accuracy on shifted and rotated test digits {rows[0][3]:.1%} → {rows[1][3]:.1%}; "
              f"on the centred test digits {rows[0][2]:.1%} → {rows[1][2]:.1%} (standard error "
              f"{se:.1%})")
