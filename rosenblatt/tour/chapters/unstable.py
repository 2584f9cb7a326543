"""Tour: unstable gradients and Rprop (notes: "Unstable gradients", "Resilient backpropgation
(Rprop)").

The lost figure of the cost cliff (Pascanu et al.; the notes cite Peter Roelants' linear RNN
that counts ones): the cost surface of a one-unit linear recurrent network over its two
weights, computed live, with a cliff where the recurrent weight passes 1 and the gradient
explodes; gradient descent and Rprop trained on it through ``rb.fit``.
"""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter

STEPS = 15


class _Counter(rb.nn.Module):
    """h_t = h_{t-1} w_rec + x_t w_x over the sequence; the output is the last h."""

    def __init__(self, w_x, w_rec):
        self.w = rb.nn.Parameter(np.array([float(w_x), float(w_rec)]))

    def forward(self, x):
        w_x, w_rec = self.w[0], self.w[1]
        h = x[:, 0:1] * w_x
        for t in range(1, x.shape[1]):
            h = h * w_rec + x[:, t:t + 1] * w_x
        return h


def _surface(x, y, wx, wr):
    """MSE over a grid of (w_x, w_rec), vectorised: h_T = w_x sum_t x_t w_rec^(T-1-t)."""
    powers = wr[..., None] ** np.arange(STEPS - 1, -1, -1)  # (..., T)
    h = wx[..., None] * np.einsum("...t,nt->...n", powers, x)
    return np.mean((h - y[:, 0]) ** 2, axis=-1)


def _train(opt_name, x, y, start, epochs):
    model = _Counter(*start)
    if opt_name == "gradient descent":
        opt = rb.optim.SGD(model.parameters(), lr=5e-4)
    elif opt_name == "gradient descent, clipped":
        opt = rb.optim.SGD(model.parameters(), lr=5e-4)
    else:
        opt = rb.optim.Rprop(model.parameters(), lr=0.001, etas=(0.5, 1.2))
    path = [model.w.data.copy()]
    record = rb.callbacks.LambdaCallback(
        on_batch_end=lambda trainer, batch, logs: path.append(model.w.data.copy()))
    clip = 1.0 if opt_name.endswith("clipped") else None
    try:
        hist = rb.fit(model, x, y, loss="mse", optimizer=opt, epochs=epochs, batch_size=len(x),
                      metrics=(), progress=False, callbacks=[record], clip_norm=clip)
        losses = list(hist["loss"])
    except rb.training.DivergenceError as e:  # the step off the cliff: the cost overflowed
        losses = list(e.history["loss"]) + [np.inf] if len(e.history) else [np.inf]
    return np.array(path), losses, model


_FOOT = (-1.5, 0.5)  # the same w_x on the flat part of the surface, below the cliff


def _first_step(x, y, start):
    """The length of gradient descent's first step from ``start`` (the chapter's rate)."""
    path, _, _ = _train("gradient descent", x, y, start, 1)
    return float(np.linalg.norm(path[-1] - path[0])) if len(path) > 1 else float("inf")


def _exaggerated(on_cliff, on_flat):
    """Is the step from the cliff exaggerated: a thousand times the step from the flat at the
    same learning rate, and longer than the plotted region (6 wide)?"""
    return bool(on_cliff > 1000 * on_flat and on_cliff > 6)


@chapter("Unstable gradients: the cost cliff", section="Unstable gradients", name="cost-cliff")
def cliff(ctx):
    ctx.text(
        f"A one-unit linear recurrent network reads {STEPS} bits and should output how many "
        "were 1: h_t = h_(t−1) w_rec + x_t w_x, the answer w_x = w_rec = 1. Its cost "
        "surface over (w_x, w_rec), computed below on a grid, is flat for |w_rec| < 1 and rises "
        "as w_rec^15 beyond: a cliff where the gradient explodes. A step taken on the cliff face "
        "with an ordinary learning rate is enormous: gradient descent starts there, at "
        "|w_rec| = 2, and its first step leaves the plot."
    )
    rng = ctx.rng
    x = (rng.random((40, STEPS)) < 0.5).astype(np.float64)
    y = x.sum(1, keepdims=True)
    wx, wr = np.meshgrid(np.linspace(-3, 3, 181), np.linspace(-3, 3, 181))
    cost = _surface(x, y, wx, wr)
    start = (-1.5, 2.0)
    epochs = 200 if ctx.quick else 500
    runs = {name: _train(name, x, y, start, epochs) for name in
            ("gradient descent", "gradient descent, clipped", "Rprop")}
    with ctx.figure(f"The cost of the counting RNN over (w_x, w_rec) (log colour scale), with "
                    f"the cliff where |w_rec| passes 1, and the paths of gradient descent, "
                    f"clipped gradient descent and Rprop from {start} ({epochs} full-batch "
                    "steps through rb.fit). The start is on the cliff face: gradient descent's "
                    "first step leaves the plot.", size=(6.5, 5),
                    notes="The exploding-gradient cost cliff") as fig:
        ax = fig.add_subplot()
        cs = ax.contourf(wx, wr, np.log10(cost + 1e-12), levels=30, cmap="viridis")
        fig.colorbar(cs, ax=ax, label="log10 cost")
        for (name, (path, losses, _)), colour in zip(runs.items(), ("m", "orange", "r")):
            if not np.isfinite(losses[-1]):  # up to the first step that leaves the plot
                away = np.flatnonzero(np.any(np.abs(path) > 3, axis=1))
                path = path[:away[0] + 1] if away.size else path
                name += " (jumps off)"
            ax.plot(path[:, 0], path[:, 1], "o-", ms=2, lw=1.2, color=colour, label=name)
        ax.plot([1], [1], "k*", ms=12, label="w_x = w_rec = 1")
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
        ax.set_xlabel("w_x")
        ax.set_ylabel("w_rec")
        ax.legend(fontsize=7, loc="lower left")
    cost_flat, cost_steep = cost[np.abs(wr) < 0.9].max(), cost[np.abs(wr) > 2.5].max()
    ctx.claim("The cost surface changes drastically: beyond |w_rec| = 1 the cost rises "
              "exponentially (a cliff)", cost_steep > 1e6 * cost_flat,
              f"largest cost {cost_flat:.3g} for |w_rec| < 0.9, {cost_steep:.3g} for "
              f"|w_rec| > 2.5")
    path, losses, _ = runs["gradient descent"]
    on_cliff, on_flat = _first_step(x, y, start), _first_step(x, y, _FOOT)
    ctx.claim("The large gradient at the cliff makes gradient descent take an exaggerated step",
              _exaggerated(on_cliff, on_flat),
              f"the first step from {start} (on the cliff) has length {on_cliff:.3g}, from "
              f"{_FOOT} (at the foot, same learning rate) {on_flat:.3g}; the plot is 6 wide"
              + ("; the next step overflowed the cost (rb.fit stopped with DivergenceError after "
                 f"{len(path) - 1} steps)" if not np.isfinite(losses[-1]) else ""))
    ctx.table(["method", "final cost", "final (w_x, w_rec)"],
              [[name, float(loss[-1]), f"({m.w.data[0]:.3g}, {m.w.data[1]:.3g})"]
               for name, (_, loss, m) in runs.items()])
    rprop_final = runs["Rprop"][1][-1]
    ctx.claim("Rprop, which ignores the size of the gradient and uses only its sign, walks "
              "down the cliff and finds the solution", rprop_final < 0.05
              and rprop_final < min(runs["gradient descent"][1][-1], 1e300),
              f"final cost {rprop_final:.2e} with Rprop, "
              f"{runs['gradient descent'][1][-1]:.3g} with gradient descent")
    ctx.text("**Gradient clipping** (`clip_norm=1.0` in `rb.fit`) prevents the exaggerated step "
             "(the table's second row), but with the step bounded by the learning rate it "
             "barely moves in the same number of steps; Rprop's per-weight step sizes adapt.")


@chapter("Resilient backpropagation (Rprop)", section="Resilient backpropgation (Rprop)",
         name="rprop")
def rprop(ctx):
    ctx.text(
        "Rprop keeps a step size Δ per weight and ignores the gradient's size: if the sign of a "
        "weight's gradient is the same as last time, Δ ← Δ η⁺ (η⁺ = 1.2); if it changed (a "
        "minimum was passed), Δ ← Δ η⁻ (η⁻ = 0.5); the weight moves by Δ against the sign."
    )
    w = rb.nn.Parameter(np.array([4.0, -3.0]))
    opt = rb.optim.Rprop([w], lr=0.5, etas=(0.5, 1.2), variant="rprop-")
    scale = np.array([100.0, 0.01])  # curvatures 10,000 times apart
    steps, signs = [], []
    for _ in range(30):
        opt.zero_grad()
        (rb.tensor(scale) * w * w).sum().backward()  # J = sum of scale w^2
        signs.append(np.sign(w.grad.copy()))
        before = w.data.copy()
        opt.step()
        steps.append(np.abs(w.data - before))
    steps, signs = np.array(steps), np.array(signs)
    same = (signs[1:] == signs[:-1])
    ratio = steps[1:] / np.maximum(steps[:-1], 1e-300)
    rule = np.all(np.where(same, np.isclose(ratio, 1.2) | np.isclose(steps[1:], 50),
                           np.isclose(ratio, 0.5) | np.isclose(steps[1:], 1e-6)))
    ctx.claim("Each weight's step grows by η⁺ while its gradient keeps its sign and shrinks "
              "by η⁻ when the sign changes, whatever the gradient's size", bool(rule),
              f"30 steps on a quadratic whose curvatures differ 10⁴-fold; the two weights "
              f"end at {w.data[0]:.2e} and {w.data[1]:.2e}")
    ctx.claim("So both weights of a badly scaled problem converge at the same pace",
              np.all(np.abs(w.data) < 0.05), f"|w| = {np.abs(w.data).round(4).tolist()} "
                                              "after 30 steps from (4, −3)")
    rng = ctx.rng
    x, y = rb.datasets.spirals(200, noise=0.05, turns=1.0, rng=rng)
    rows = []
    for name in ("Rprop", "SGD"):
        r = np.random.default_rng(ctx.run_seed(4))  # the same network for both
        net = rb.nn.Sequential(rb.nn.Dense(2, 32, rng=r), rb.nn.Tanh(), rb.nn.Dense(32, 2, rng=r))
        opt = rb.optim.Rprop(net.parameters(), lr=0.01) if name == "Rprop" else \
            rb.optim.SGD(net.parameters(), lr=0.1)
        hist = rb.fit(net, x, y, loss="cross_entropy", optimizer=opt,
                      epochs=100 if ctx.quick else 300, batch_size=len(x), progress=False, rng=r)
        rows.append([name, hist["loss"][-1], hist["accuracy"][-1]])
    ctx.table(["full-batch training, 2-32-2 on spirals", "final loss", "final accuracy"], rows)
    ctx.claim("Rprop is a full-batch method that trains a network fast without tuning a "
              "learning rate to the gradient's scale", rows[0][1] < rows[1][1],
              f"loss after the same number of full-batch epochs: Rprop {rows[0][1]:.3f}, "
              f"SGD {rows[1][1]:.3f}")

    _rprop_mini_batches(ctx, rng)


def _digits_loss(X, y, optimizer, seed, epochs, batch_size):
    """Train a 64-32-10 tanh network on digits; its cross-entropy on all of ``X`` after."""
    r = np.random.default_rng(seed)
    net = rb.nn.Sequential(rb.nn.Dense(64, 32, rng=r), rb.nn.Tanh(), rb.nn.Dense(32, 10, rng=r))
    rb.fit(net, X, y, loss="cross_entropy", optimizer=optimizer(net.parameters()),
           epochs=epochs, batch_size=batch_size, metrics=(), progress=False, rng=r)
    with rb.no_grad():
        return float(rb.losses.cross_entropy(net(rb.tensor(X)), y).item())


def _rprop_mini_batches(ctx, rng):
    """Rprop is for full batches: on small mini-batches the signs are sampling noise."""
    X, y = rb.datasets.load_digits()
    n, epochs, batch = (600, 30, 10) if ctx.quick else (1200, 60, 10)
    order = rng.permutation(len(X))[:n]
    X, y = X[order], y[order]
    seed = int(rng.integers(2**31))
    rprop = lambda params: rb.optim.Rprop(params, lr=0.01)  # noqa: E731
    sgd = lambda params: rb.optim.SGD(params, lr=0.1)  # noqa: E731
    rmsprop = lambda params: rb.optim.RMSprop(params, lr=1e-3)  # noqa: E731
    loss = {"Rprop, full batch": _digits_loss(X, y, rprop, seed, epochs, n),
            f"Rprop, mini-batches of {batch}": _digits_loss(X, y, rprop, seed, epochs, batch),
            f"SGD (lr 0.1), mini-batches of {batch}": _digits_loss(X, y, sgd, seed, epochs,
                                                                   batch),
            f"RMSprop (lr 0.001), mini-batches of {batch}": _digits_loss(X, y, rmsprop, seed,
                                                                         epochs, batch)}
    ctx.table([f"{n} 8x8 digits, 64-32-10 tanh, {epochs} epochs",
               "training cross-entropy after"], [[k, v] for k, v in loss.items()])
    full, mini, control, rms = loss.values()
    ctx.claim("Rprop is meant for full-batch learning: on small mini-batches the gradient's "
              "sign changes with the sampling of each batch and Rprop fails to train, though "
              "it makes many more updates (and SGD succeeds on the same mini-batches)",
              full < 0.1 and mini > 5 * max(full, control),
              ", ".join(f"{k}: {v:.3f}" for k, v in loss.items())
              + f" ({epochs} updates full-batch, {epochs * (n // batch)} on mini-batches)")
    ctx.claim("RMSprop is the mini-batch version of Rprop: dividing by a running average of "
              "the gradient's magnitude instead of taking its sign, it trains on the same "
              "mini-batches where Rprop fails", rms < 0.1 and mini > 3 * rms,
              f"after {epochs} epochs on mini-batches of {batch}: RMSprop {rms:.3f}, "
              f"Rprop {mini:.3f}")
