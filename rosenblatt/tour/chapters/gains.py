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
    # 90% of the stability limit 2 / (largest curvature of the mean squared error,
    # 2 x the top eigenvalue of x^T x / n, ~200): the steep weight just stable, any seed
    lr = float(0.9 * 2 / (2 * np.linalg.eigvalsh(x.T @ x / n)[-1]))
    epochs = 60 if ctx.quick else 150
    curves, models = {}, {}
    for name in ("SGD", "SGD with gains"):
        model = rb.nn.Sequential(rb.nn.Dense(2, 1, rng=np.random.default_rng(0),
                                             dtype=np.float64, bias=False))
        model[0].W.data[...] = 0.0
        opt = rb.optim.SGD(model.parameters(), lr=lr) if name == "SGD" else \
            rb.optim.AdaptiveGains(model.parameters(), lr=lr, up=0.05, down=0.95,
                                   gain_range=(0.1, 10))
        hist = rb.fit(model, x, y, loss="mse", optimizer=opt, epochs=epochs, batch_size=n,
                      metrics=(), progress=False)
        curves[name], models[name] = hist["loss"], (model, opt)
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
