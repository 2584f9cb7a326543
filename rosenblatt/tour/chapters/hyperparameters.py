"""Tour: choosing hyperparameters (notes: "Choosing hyperparameters")."""

import math

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter

T = rb.tuning


def _digits_problem(rng, quick):
    """Train/validation digits and a builder of the MLP whose hyper-parameters are searched."""
    X, Y = rb.datasets.load_digits()
    n_train = 400 if quick else 600
    x, xv, y, yv = rb.datasets.train_test_split(X, Y, test_size=1 - n_train / len(X), rng=rng)
    space = T.Space({"lr": T.LogUniform(1e-4, 1.0), "hidden": T.Int(4, 256, log=True),
                     "dropout": T.Uniform(0.0, 0.7), "l2": T.LogUniform(1e-6, 1e-1)})

    def build(p):
        model = rb.nn.Sequential(rb.nn.Dense(64, p["hidden"]), rb.nn.ReLU(),
                                 rb.nn.Dropout(p["dropout"]), rb.nn.Dense(p["hidden"], 10))
        return {"model": model, "optimizer": rb.optim.Adam(model.parameters(), lr=p["lr"]),
                "regularizers": [rb.regularizers.L2(p["l2"])]}

    return x, y, xv, yv, space, build


def _grid_vs_random_designs(rng, repeats=400, k=3):
    """Best of f(x, y) = (x - a)^2 (y has no effect) on a k x k grid and on k^2 random points."""
    grid_axis = np.linspace(0, 1, k)
    grid_best, random_best = [], []
    for _ in range(repeats):
        a = rng.random()
        grid_best.append(np.min((grid_axis - a) ** 2))       # only k distinct x values
        random_best.append(np.min((rng.random(k * k) - a) ** 2))  # k^2 distinct x values
    return np.array(grid_best), np.array(random_best)


def _beats(picked, others):
    """The probability that a trial of ``picked`` beats a trial of ``others`` (accuracies; a
    tie counts a half): 0.5 when the two are draws from the same search."""
    a, b = np.asarray(picked)[:, None], np.asarray(others)[None, :]
    return float(np.mean((a > b) + 0.5 * (a == b)))


def _picks_better(picked, others):
    """Whether the Gaussian process's picks beat random search's trials two times in three.

    Between two random searches (no model) the probability is 0.5 with a standard error of
    sqrt((n + m + 1) / 12nm) = 0.055 for the chapter's 55 trials each (5 seeds of 11 picks);
    2/3 is three standard errors above. The model's picks beat random trials 0.73-0.83 of the
    time (tour seeds 0-4): most of its picks are near the best, a few explore.
    """
    return _beats(picked, others) > 2 / 3


def _better_on_average(bayes, random, resolution):
    """Whether Bayesian optimisation's best accuracies beat random search's (paired by seed) by
    more than ``resolution`` (one validation example) on average and on more seeds than not.

    A tie is no win: the same search under both names passes nothing.
    """
    diff = np.asarray(bayes) - np.asarray(random)
    return bool(diff.mean() > resolution and np.sum(diff > resolution) > np.sum(diff < -resolution))


def _known_objective(p):
    """A stand-in for validation error on the chapter's space where only lr and dropout
    matter, equally: each term runs from 0 at its optimum to 1 at the range's far end."""
    return float(0.25 * (math.log10(p["lr"]) + 2) ** 2 + ((p["dropout"] - 0.35) / 0.35) ** 2)


def _relevance_shown(importance, predicted, truth, relevant):
    """Whether a surrogate names ``relevant`` (two names): each gets a share of at least 0.2
    and together at least 0.8, and its predictions at untried points follow ``truth``
    (correlation >= 0.8; on a pure-noise objective, which has nothing to find, the shares
    still pile up on two random parameters, but the predictions follow nothing)."""
    r = float(np.corrcoef(predicted, truth)[0, 1])
    ok = (all(importance[n] >= 0.2 for n in relevant)
          and sum(importance[n] for n in relevant) >= 0.8 and r >= 0.8)
    return ok, r


def _known_relevance(ctx, space, budget, seed):
    """The length scales on an objective whose relevant hyper-parameters are known."""
    ctx.text(
        "Which of the network's hyper-parameters matter is not known, so the table cannot be "
        "checked. On the same space and budget, a stand-in objective where it is known: "
        "0.25 (log10 lr + 2)^2 + ((dropout - 0.35) / 0.35)^2, lr and dropout mattering "
        "equally, hidden and L2 not at all.")
    study = T.minimize(_known_objective, space, method="bayes", n_trials=budget, n_initial=5,
                       seed=seed)
    gp = study.surrogate()
    importance = study.importance(gp)
    untried = space.from_unit(np.random.default_rng(seed).random((300, len(space.names))))
    predicted = gp.predict(space.to_unit(untried))[0]
    ok, r = _relevance_shown(importance, predicted, [_known_objective(p) for p in untried],
                             ("lr", "dropout"))
    ctx.claim("The learned length scales show which hyper-parameters matter: on an objective "
              "where only lr and dropout do, the Gaussian process gives them nearly all the "
              "relevance, and its predictions at untried points follow the objective",
              ok, ", ".join(f"{n} {v:.2f}" for n, v in importance.items())
              + f" after {budget} trials; correlation of prediction and objective at 300 "
                f"untried points {r:.2f}")


@chapter("Choosing hyperparameters: grid, random and Bayesian search",
         section="Choosing hyperparameters", order=56)
def run(ctx):
    rng = ctx.rng
    ctx.text(
        "The notes: a naive grid search \"blows up in size\"; random search \"still has the "
        "problem of repeatedly trying hyperparameter values which may have no effect\"; instead, "
        "\"apply machine learning to this problem\": a Gaussian process predicts a Gaussian for "
        "each untried combination, learns \"this scale of similarity for each hyperparameter\", "
        "and picks the next trial trading off prediction and uncertainty, without ever "
        "replacing the best so far. `rb.tuning.minimize(objective, space, method=\"grid\" | "
        "\"random\" | \"bayes\")` does all three; `rb.tuning.tune_fit` trains a network per "
        "trial with `rb.fit`."
    )

    # -- 1. random search wastes fewer trials than a grid when a parameter has no effect --------
    grid_best, random_best = _grid_vs_random_designs(rng)
    with ctx.figure("Nine trials of f(x, y) = (x − a)², where y has no effect: the 3 × 3 grid "
                    "tries only three values of x, nine random trials try nine (the ticks on "
                    "the axis are what each design learns about x).", size=(7, 3.2)) as fig:
        axes = fig.subplots(1, 2)
        pts = {"grid": np.array([(gx, gy) for gx in np.linspace(0, 1, 3)
                                 for gy in np.linspace(0, 1, 3)]),
               "random": rng.random((9, 2))}
        for ax, (name, p) in zip(axes, pts.items()):
            ax.scatter(p[:, 0], p[:, 1], s=30)
            ax.plot(p[:, 0], np.full(9, -0.08), "|", color="C3", ms=12)
            ax.set_xlim(-0.05, 1.05)
            ax.set_ylim(-0.15, 1.05)
            ax.set_xlabel("x (matters)")
            ax.set_ylabel("y (no effect)")
            ax.set_title(f"{name}: {len(np.unique(np.round(p[:, 0], 9)))} distinct x", fontsize=9)
    ctx.table(["design (9 trials)", "median best (x − a)²", "mean best (x − a)²"],
              [["3 × 3 grid", float(np.median(grid_best)), float(grid_best.mean())],
               ["random", float(np.median(random_best)), float(random_best.mean())]],
              caption=f"Over {len(grid_best)} random optima a.")
    ctx.claim("Random search wastes fewer trials than grid search when a parameter has no "
              "effect", np.median(random_best) < np.median(grid_best) / 2,
              f"median best error {np.median(grid_best):.2g} (grid) vs "
              f"{np.median(random_best):.2g} (random) with 9 trials")

    # -- 2. grid vs random vs Bayesian optimisation on a real network --------------------------
    x, y, xv, yv, space, build = _digits_problem(rng, ctx.quick)
    epochs = 6 if ctx.quick else 12
    budget = 16  # a 2-point grid in 4 dimensions
    seeds = [int(v) for v in rng.integers(2**31, size=5)]
    runs = {"grid": [], "random": [], "bayes": []}
    for i, seed in enumerate(seeds):
        for method in ("grid", "random", "bayes"):
            if method == "grid" and i:
                continue  # the grid is the same for every seed
            study, _ = T.tune_fit(build, space, x, y, validation_data=(xv, yv), epochs=epochs,
                                  metric="val_accuracy", method=method, n_trials=budget,
                                  n_initial=5, seed=seed)
            runs[method].append(study)
    studies = {m: r[0] for m, r in runs.items()}
    ctx.table(["method", "best validation accuracy", "best lr", "best hidden", "best dropout",
               "best L2"],
              [[m, -s.best_value, s.best_params["lr"], s.best_params["hidden"],
                s.best_params["dropout"], s.best_params["l2"]] for m, s in studies.items()],
              caption=f"{budget} trials each (first seed), digits MLP (64-hidden-10, Adam, "
                      f"dropout, L2), {epochs} epochs per trial, early stopping's best epoch.")
    with ctx.figure("Best validation accuracy so far against the number of trials (first "
                    "seed).", size=(6, 3.2)) as fig:
        ax = fig.add_subplot()
        for m, s in studies.items():
            ax.step(np.arange(1, budget + 1), -s.best_so_far(), where="post", label=m)
        ax.set_xlabel("trials")
        ax.set_ylabel("best validation accuracy")
        ax.legend()
        ax.grid(True, alpha=0.3)
    best = {m: [-s.best_value for s in r] for m, r in runs.items()}
    ctx.table(["seed", "random search", "Bayesian optimisation"],
              [[i, r, b] for i, (r, b) in enumerate(zip(best["random"], best["bayes"]))],
              caption=f"Best validation accuracy after the same budget, on {len(seeds)} seeds.")
    # Which trials each search spent its budget on: the Gaussian process picks every trial
    # after its n_initial = 5 random ones; random search's trials at the same places
    picked = [-t.value for s in runs["bayes"] for t in s.completed if t.number >= 5]
    drawn = [-t.value for s in runs["random"] for t in s.completed if t.number >= 5]
    ctx.claim("Bayesian optimisation spends its trials on good networks: a trial the Gaussian "
              "process picks beats a trial of random search two times in three or more",
              _picks_better(picked, drawn),
              f"a pick beats a random trial with probability {_beats(picked, drawn):.2f} (0.5 "
              f"without a model); median validation accuracy of trials 6-{budget} over "
              f"{len(seeds)} seeds: {np.median(picked):.1%} (Bayesian), {np.median(drawn):.1%} "
              f"(random); best of the 2-point grid {best['grid'][0]:.1%}")
    mean_r, mean_b = np.mean(best["random"]), np.mean(best["bayes"])
    one = 1.0 / len(yv)
    wins = sum(b > r + one for r, b in zip(best["random"], best["bayes"]))
    losses = sum(b < r - one for r, b in zip(best["random"], best["bayes"]))
    outcome = (f"mean best {mean_b:.2%} (Bayesian) vs {mean_r:.2%} (random); Bayesian better "
               f"on {wins}, worse on {losses} of {len(seeds)} seeds: "
               + "; ".join(f"{b:.1%} vs {r:.1%}"
                           for r, b in zip(best["random"], best["bayes"])))
    if ctx.quick:
        # The best of 16 trials differs between the two searches by a spread of 1.5-2 points
        # a seed against a mean gain of 0.5-1: over 5 seeds "better on average and on more
        # seeds than not" failed at tour seeds 8 and 12 (of 6-24), and two independent random
        # searches pass it about 40% of the time. Deciding it needs ~25 seeds (audit s11 g4,
        # finding 6), so quick mode reports the numbers and makes no claim.
        ctx.text(
            "Does it then find a better network than random search on the same budget? Here: "
            f"{outcome}. The best of 16 trials differs from seed to seed by more than the "
            "searches differ (1.5-2 points against 0.5-1), so five seeds cannot decide it: "
            "quick mode makes no claim. The claim above, on where the trials go, is the one "
            "this budget can judge.")
        return _after_search(ctx, studies, space, budget, seeds, x, y, xv, yv, build, epochs)
    ctx.claim("… and so, on the same budget, it finds a better network than random search: "
              "better on average over the seeds, and on more seeds than not (by more than one "
              "validation example; the margin is small against the seed-to-seed spread of the "
              "best of 16 trials)",
              _better_on_average(best["bayes"], best["random"], one), outcome)
    return _after_search(ctx, studies, space, budget, seeds, x, y, xv, yv, build, epochs)


def _after_search(ctx, studies, space, budget, seeds, x, y, xv, yv, build, epochs):
    """Sections 3 and 4: the length scales, and the GP over the learning rate alone."""

    # -- 3. the learned length scales: which hyper-parameters matter ---------------------------
    bayes = studies["bayes"]
    gp = bayes.surrogate()
    importance = bayes.importance(gp)
    ctx.table(["hyper-parameter", "length scale (unit cube)", "importance"],
              [[n, float(gp.length_scales_[space.slices[n]].min()), importance[n]]
               for n in space.names],
              caption="The Gaussian process fitted to the Bayesian search's trials: a short "
                      "length scale means the accuracy changes quickly with that parameter.")
    with ctx.figure("Importance of each hyper-parameter, 1/length scale (normalised).",
                    size=(5, 2.4)) as fig:
        bayes.plot_importance(fig.add_subplot(), gp=gp)
    _known_relevance(ctx, space, budget, seeds[0])

    # -- 4. the GP's mean and uncertainty over one hyper-parameter -------------------------------
    one = T.Space({"lr": T.LogUniform(1e-4, 1.0)})
    fixed = {"hidden": 64, "dropout": 0.1, "l2": 1e-5}
    lr_study, _ = T.tune_fit(lambda p: build({**fixed, **p}), one, x, y,
                             validation_data=(xv, yv), epochs=epochs, metric="val_loss",
                             n_trials=6, n_initial=3, seed=seeds[0])
    gp1 = lr_study.surrogate()
    grid = np.linspace(0, 1, 200)[:, None]
    mean, std = gp1.predict(grid)
    lrs = np.array([one.from_unit([[u]])[0]["lr"] for u in grid[:, 0]])
    best_n = float(gp1.normalise(min(t.value for t in lr_study.completed)))
    ei = T.expected_improvement(gp1.normalise(mean), std / gp1.y_std_, best_n)
    with ctx.figure("The Gaussian process after six trials over the learning rate alone: "
                    "its mean validation loss ± 2 standard deviations (a Gaussian for every "
                    "untried value), and the expected improvement that picks the next trial.",
                    size=(7, 4.2)) as fig:
        ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
        ax.fill_between(lrs, mean - 2 * std, mean + 2 * std, alpha=0.25, label="mean ± 2 std")
        ax.plot(lrs, mean, label="GP mean")
        done = lr_study.completed
        ax.plot([t.params["lr"] for t in done], [t.value for t in done], "ko", label="trials")
        ax.set_xscale("log")
        ax.set_ylabel("validation loss")
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
        ax2.plot(lrs, ei, color="C2")
        ax2.set_xscale("log")
        ax2.set_xlabel("learning rate")
        ax2.set_ylabel("EI")
        ax2.grid(True, alpha=0.3)
    # the std at the trials themselves, as the claim says (the predicted best can lie between
    # two trials, where the GP is rightly unsure: the full mode's seed 0 had it there)
    at_trials = gp1.predict(one.to_unit([t.params for t in done]))[1]
    spread = std.max() / max(float(at_trials.max()), 1e-12)
    ctx.claim("The model is explicit about its uncertainty: it is far less sure between and "
              "beyond the trials than at them", bool(spread > 3) and math.isfinite(spread),
              f"largest std over the range / largest std at a trial = {spread:.1f}")
