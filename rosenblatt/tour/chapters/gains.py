"""Tour: separate adaptive learning rates (notes: "Separate adaptive learning rates")."""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter


@chapter("Separate adaptive learning rates: a gain per weight",
         section="Separate adaptive learning rates")
def run(ctx):
    ctx.text(
        "The right learning rate differs between weights: gradients differ in size across "
        "layers, and the fan-in sets how much a unit overshoots. The notes' remedy is a global "
        "learning rate times a local gain per weight, adapted empirically: the gain grows "
        "(+0.05) while the weight's gradient keeps its sign and shrinks (×0.95) when it flips "
        "(`rb.optim.AdaptiveGains`)."
    )
    rng = ctx.rng
    depth = 6
    net = rb.nn.Sequential(*[m for k in range(depth) for m in
                             (rb.nn.Dense(20, 20, init="glorot_uniform", rng=rng),
                              rb.nn.Sigmoid())], rb.nn.Dense(20, 1, rng=rng))
    xs = rng.standard_normal((64, 20)).astype(np.float32)
    ys = rng.standard_normal((64, 1)).astype(np.float32)
    net.zero_grad()
    rb.losses.mse(net(rb.tensor(xs)), ys).backward()
    norms = [float(np.linalg.norm(net[2 * k].W.grad)) for k in range(depth + 1)]
    ctx.table(["layer (input → output)"] + [str(k + 1) for k in range(depth + 1)],
              [["‖∂E/∂W‖"] + norms])
    ctx.claim("The magnitudes of gradients differ across layers, small early and larger later",
              norms[-1] > 10 * norms[0] and norms[0] < norms[depth // 2] < norms[-1],
              f"‖∂E/∂W‖ from {norms[0]:.1e} (first layer) to {norms[-1]:.1e} (last) in a "
              f"network of {depth} sigmoid layers and a linear output ({depth + 1} weight "
              f"layers)")

    # An ill-conditioned regression: one input 10x larger than the other.
    n = 256
    x = rng.standard_normal((n, 2)) * np.array([1.0, 10.0])
    y = x @ np.array([[3.0], [0.5]]) + 0.01 * rng.standard_normal((n, 1))
    lr = _stable_rate(x)
    epochs = 60 if ctx.quick else 150
    curves, models = {}, {}
    for name in ("SGD", "SGD with gains"):
        curves[name], models[name] = _fit_regression(x, y, lr, epochs, name != "SGD")
    gains = models["SGD with gains"][1].gains
    with ctx.figure(f"Training loss (log scale) on a regression whose two inputs differ 10x in "
                    f"scale: one global learning rate ({lr:.4f}) against the same rate times a "
                    "gain per weight.", size=(6, 3)) as fig:
        ax = fig.add_subplot()
        for name, c in curves.items():
            ax.semilogy(c, label=name)
        ax.set_xlabel("epoch (full batch)")
        ax.set_ylabel("MSE")
        ax.legend(fontsize=8)
    plain, adaptive = curves["SGD"][-1], curves["SGD with gains"][-1]
    ctx.claim("A gain per weight speeds up learning where one global learning rate must stay "
              "small for the steepest weight", adaptive < plain / 10,
              f"MSE after {epochs} epochs: {plain:.3g} with SGD, {adaptive:.3g} with gains")
    ctx.claim("The gains separate: the weight of the small input (shallow direction) gets a "
              "larger gain than the weight of the large input",
              gains[0] > 2 * gains[1],
              f"gains {gains[0]:.2f} (input of scale 1) and {gains[1]:.2f} (input of scale 10)")

    _axis_aligned(ctx, x, y, epochs, curves)
    _gains_on_mini_batches(ctx, rng)


def _stable_rate(x):
    """90% of the stability limit 2 / (largest curvature of the mean squared error, 2 x the
    top eigenvalue of x^T x / n): the steepest direction just stable, any seed."""
    return float(0.9 * 2 / (2 * np.linalg.eigvalsh(x.T @ x / len(x))[-1]))


def _fit_regression(x, y, lr, epochs, gains):
    """A linear model from zero weights, full batch; the losses and (model, optimizer)."""
    model = rb.nn.Sequential(rb.nn.Dense(2, 1, rng=np.random.default_rng(0),
                                         dtype=np.float64, bias=False))
    model[0].W.data[...] = 0.0
    opt = rb.optim.AdaptiveGains(model.parameters(), lr=lr, up=0.05, down=0.95,
                                 gain_range=(0.1, 10)) if gains else \
        rb.optim.SGD(model.parameters(), lr=lr)
    hist = rb.fit(model, x, y, loss="mse", optimizer=opt, epochs=epochs, batch_size=len(x),
                  metrics=(), progress=False)
    return hist["loss"], (model, opt)


def _axis_aligned(ctx, x, y, epochs, curves, angle=np.pi / 4):
    """The gains only help when the badly scaled directions are the weights' own axes (notes:
    "adaptive learning rates deal only with axis-aligned effects").

    The same regression with its inputs rotated by ``angle``: the curvatures are unchanged,
    but the steep and the shallow directions now mix both weights. The tests pass
    ``angle=0`` to check that the claim then fails.
    """
    cos, sin = np.cos(angle), np.sin(angle)
    xr = x @ np.array([[cos, -sin], [sin, cos]])
    lr = _stable_rate(xr)
    rotated = {name: _fit_regression(xr, y, lr, epochs, name != "SGD")[0][-1]
               for name in ("SGD", "SGD with gains")}
    aligned = {name: curve[-1] for name, curve in curves.items()}
    ctx.text(
        f"The notes' caveat: a gain per weight can only rescale along the weights' own axes. "
        f"The same regression with its inputs rotated by {np.degrees(angle):.0f}° has the same "
        "curvatures, but its steep and shallow directions now each mix both weights, so no "
        "choice of per-weight gains can separate them.")
    ctx.table(["inputs", "SGD", "SGD with gains", "SGD / gains"],
              [[name, r["SGD"], r["SGD with gains"], r["SGD"] / r["SGD with gains"]]
               for name, r in (("axis-aligned", aligned),
                               (f"rotated by {np.degrees(angle):.0f}°", rotated))],
              caption=f"MSE after {epochs} full-batch epochs.")
    gain = rotated["SGD"] / rotated["SGD with gains"]
    ctx.claim("Adaptive learning rates deal only with axis-aligned effects: with the same "
              "inputs rotated, so that the steep and the shallow directions mix both weights, "
              "the gains no longer speed learning up",
              aligned["SGD"] > 10 * aligned["SGD with gains"] and gain < 2,
              f"SGD's MSE / the gains' MSE: "
              f"{aligned['SGD'] / aligned['SGD with gains']:.1f}× with the scales on the axes, "
              f"{gain:.2f}× rotated by {np.degrees(angle):.0f}°")


def _gains_on_mini_batches(ctx, rng):
    """The gains adapt on full batches; on small mini-batches sign flips are sampling noise."""
    X, y = rb.datasets.load_digits()
    n, batch = 600, 10
    epochs = {n: 60, batch: 6} if ctx.quick else {n: 200, batch: 30}
    order = rng.permutation(len(X))[:n]
    X, y = X[order], y[order]
    seed = int(rng.integers(2**31))
    rows, mean_gain = [], {}
    for size in (n, batch):
        losses = {}
        for name in ("SGD", "SGD with gains"):
            r = np.random.default_rng(seed)
            net = rb.nn.Sequential(rb.nn.Dense(64, 32, rng=r), rb.nn.Tanh(),
                                   rb.nn.Dense(32, 10, rng=r))
            opt = rb.optim.SGD(net.parameters(), lr=0.01) if name == "SGD" else \
                rb.optim.AdaptiveGains(net.parameters(), lr=0.01)
            rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=epochs[size],
                   batch_size=size, metrics=(), progress=False, rng=r)
            with rb.no_grad():
                losses[name] = float(rb.losses.cross_entropy(net(rb.tensor(X)), y).item())
        mean_gain[size] = float(opt.gains.mean())
        updates = epochs[size] * (n // size)
        rows.append(["full batch" if size == n else f"mini-batches of {size}", updates,
                     losses["SGD"], losses["SGD with gains"], mean_gain[size]])
    ctx.text(f"The gains on {n} 8x8 digits (a 64-32-10 tanh network, lr 0.01, the notes' "
             "+0.05 / ×0.95 and range [0.1, 10]), trained full-batch and on mini-batches.")
    ctx.table(["batches", "updates", "SGD: training loss", "with gains: training loss",
               "mean gain"], rows)
    ctx.claim("Adaptive gains are meant for full-batch learning: on small mini-batches the "
              "gradient's sign changes from sampling error alone, so the gains stay near 1 "
              "instead of growing",
              mean_gain[batch] < 1.5 and mean_gain[n] > 2 * mean_gain[batch],
              f"mean gain after {rows[0][1]} full-batch updates {mean_gain[n]:.2f}, after "
              f"{rows[1][1]} updates on mini-batches of {batch} {mean_gain[batch]:.2f}")
