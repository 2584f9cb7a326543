"""Tour: learning rates too high and too low (notes: "Learning rates", "Adaptive learning
rates")."""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter


class _Quadratic(rb.nn.Module):
    """J(w) = curvature w² / 2 as a model: one parameter w; the output is the cost."""

    def __init__(self, curvature, w0):
        self.curvature = curvature
        self.w = rb.nn.Parameter(np.array([w0]))

    def forward(self, x):
        return 0.5 * self.curvature * (self.w * self.w).sum()


def _quadratic_run(lr, curvature, steps, w0=1.0):
    """Gradient descent on J(w) = curvature w² / 2 through ``rb.fit``; |w| per step."""
    model = _Quadratic(curvature, w0)
    path = [abs(w0)]
    rb.fit(model, np.zeros((steps, 1)), loss=lambda cost, _: cost,
           optimizer=rb.optim.SGD(model.parameters(), lr=lr), epochs=1, batch_size=1,
           shuffle=False, metrics=(), progress=False, callbacks=[rb.callbacks.LambdaCallback(
               on_batch_end=lambda *_: path.append(abs(float(model.w.data[0]))))],
           divergence_factor=None)  # diverging is what this run shows
    return np.array(path)


@chapter("Learning rate: too high, too low", section="Learning rates")
def run(ctx):
    curvature, steps = 4.0, 30
    critical = 2 / curvature
    ctx.text(
        f"On J(w) = λw²/2 with λ = {curvature:g}, one gradient-descent step multiplies w by "
        f"(1 − ηλ): it converges for η < 2/λ = {critical:g} (monotonically below 1/λ, "
        "oscillating above), and diverges beyond it."
    )
    lrs = [0.02, 0.2, 0.45, 0.55]
    paths = {lr: _quadratic_run(lr, curvature, steps) for lr in lrs}
    with ctx.figure(f"|w| during gradient descent on λw²/2 (λ = {curvature:g}) for four "
                    "learning rates.", size=(6.5, 3.2)) as fig:
        ax = fig.add_subplot()
        labels = {0.02: "too low", 0.2: "good", 0.45: "high: oscillates", 0.55: "too high"}
        for lr in lrs:
            ax.semilogy(paths[lr], "o-", ms=3, label=f"η = {lr:g} ({labels[lr]})")
        ax.set_xlabel("step")
        ax.set_ylabel("|w|")
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
    ctx.claim("Gradient descent on a quadratic diverges once the learning rate exceeds "
              "2 / curvature, and converges below it",
              paths[0.55][-1] > 1 and paths[0.45][-1] < 0.01 and paths[0.2][-1] < 1e-6,
              f"after {steps} steps: |w| = {paths[0.55][-1]:.3g} at η = 0.55, "
              f"{paths[0.45][-1]:.2g} at η = 0.45, {paths[0.2][-1]:.2g} at η = 0.2 "
              f"(2/λ = {critical:g})")
    ctx.claim("A learning rate that is too low makes training slow",
              paths[0.02][-1] > 0.05 and paths[0.2][-1] < 1e-6 * paths[0.02][-1],
              f"|w| = {paths[0.02][-1]:.3f} after {steps} steps at η = 0.02")

    # -- on a network ----------------------------------------------------------------------
    rng = ctx.rng
    x, y = rb.datasets.load_digits()
    n_train = 600 if ctx.quick else 1500
    x, _, y, _ = rb.datasets.train_test_split(x, y, test_size=1 - n_train / len(x), rng=rng)
    epochs = 8 if ctx.quick else 20
    grid = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]
    seed = int(rng.integers(2**31))
    curves = {}
    for lr in grid:
        r = np.random.default_rng(seed)
        net = rb.nn.Sequential(rb.nn.Dense(64, 64, rng=r), rb.nn.Tanh(), rb.nn.Dense(64, 10, rng=r))
        curves[lr] = rb.fit(net, x, y, loss="cross_entropy",
                            optimizer=rb.optim.SGD(net.parameters(), lr=lr), epochs=epochs,
                            batch_size=32, metrics=(), progress=False,
                            rng=np.random.default_rng(seed))["loss"]
    final = {lr: c[-1] for lr, c in curves.items()}
    ctx.table(["learning rate", "loss after epoch 1", f"loss after epoch {epochs}"],
              [[f"{lr:g}", curves[lr][0], final[lr]] for lr in grid])
    with ctx.figure(f"Training loss of a 64-64-10 tanh network on {len(x)} digits with plain "
                    "SGD for learning rates from 1e-4 to 10 (missing points: the loss "
                    "overflowed).", size=(6.5, 3.2)) as fig:
        ax = fig.add_subplot()
        for lr in grid:
            c = np.array(curves[lr], dtype=float)
            c[~np.isfinite(c)] = np.nan
            ax.semilogy(range(1, epochs + 1), c, "o-", ms=3, label=f"η = {lr:g}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy")
        ax.legend(fontsize=8, ncol=2)
        ax.grid(True, alpha=0.3)
    finite = {lr: v if np.isfinite(v) else np.inf for lr, v in final.items()}
    best = min(finite, key=finite.get)
    ctx.claim("Too low a learning rate hardly trains the network; too high a learning rate "
              "makes it diverge or stall; in between it trains well",
              grid[0] < best < grid[-1] and finite[grid[0]] > 2 * finite[best]
              and finite[grid[-1]] > 2 * finite[best],
              f"best η = {best:g} (loss {finite[best]:.3f}); η = {grid[0]:g}: "
              f"{finite[grid[0]]:.3f}; η = {grid[-1]:g}: {final[grid[-1]]:.3g}")

    # -- decaying the learning rate -------------------------------------------------------
    ctx.text(
        "Near a minimum, a constant learning rate keeps stochastic gradient descent bouncing "
        "around it (each mini-batch's gradient is noisy); decreasing the rate lets it settle. "
        "Linear regression on 500 noisy points with batches of 5, where the best possible "
        "loss is known exactly (least squares):"
    )
    n, d = 500, 10
    xr = rng.standard_normal((n, d))
    yr = (xr @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n))[:, None]
    w_star, *_ = np.linalg.lstsq(np.c_[xr, np.ones(n)], yr, rcond=None)
    best_loss = float(np.mean((np.c_[xr, np.ones(n)] @ w_star - yr) ** 2))
    epochs2 = 10 if ctx.quick else 30
    steps_per_epoch = n // 5
    runs = {}
    for name, lr in [("constant η = 0.05", 0.05),
                     ("η = 0.05 / (1 + 0.05 λ t), λ = 0.5",
                      rb.optim.schedules.InverseTime(0.05, lam=0.5))]:
        r = np.random.default_rng(seed)
        lin = rb.nn.Dense(d, 1, rng=r).astype(np.float64)
        excess = []

        def record(trainer, epoch, logs, lin=lin, excess=excess):
            excess.append(float(np.mean((rb.training.predict(lin, xr) - yr) ** 2)) - best_loss)

        rb.fit(lin, xr, yr, loss="mse", optimizer=rb.optim.SGD(lin.parameters(), lr=lr),
               epochs=epochs2, batch_size=5, metrics=(), progress=False,
               callbacks=[rb.callbacks.LambdaCallback(on_epoch_end=record)],
               rng=np.random.default_rng(seed))
        runs[name] = excess
    with ctx.figure("Excess training loss over the least-squares optimum, per epoch, for a "
                    "constant and a decaying learning rate (SGD, batches of 5).",
                    size=(6.5, 3.2)) as fig:
        ax = fig.add_subplot()
        for name, excess in runs.items():
            ax.semilogy(range(1, epochs2 + 1), excess, "o-", ms=3, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss − optimal loss")
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
    (n1, c1), (n2, c2) = runs.items()
    ctx.table(["learning rate", f"excess loss after {epochs2} epochs ({steps_per_epoch} steps "
               "each)"], [[n1, c1[-1]], [n2, c2[-1]]])
    ctx.claim("Decreasing the learning rate as training approaches a minimum avoids "
              "overshooting it", c2[-1] < 0.3 * c1[-1],
              f"excess loss {c1[-1]:.2e} (constant) vs {c2[-1]:.2e} (decaying)")
