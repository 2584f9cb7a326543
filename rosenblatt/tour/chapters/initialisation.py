"""Tour: weight initialisation (notes: "Weight initialization")."""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _unit_normal(shape, **kw):
    """N(0, 1) weights: ``rb.nn.init.normal`` with std 1."""
    return rb.nn.init.normal(shape, std=1.0, **kw)


def _train_deep_tanh(rng, x, y, scale, depth=8, width=64, epochs=6):
    """Training loss (mean squared error) of a ``depth``-layer tanh network whose hidden
    weights are N(0, 1) (``scale="N(0, 1)"``) or N(0, 1)/sqrt(fan-in) (``rb.nn.init.fan_in``),
    after ``epochs`` epochs of SGD on ``(x, y)``."""
    layers, n = [], x.shape[1]
    init = _unit_normal if scale == "N(0, 1)" else "fan_in"
    for _ in range(depth):
        layers += [rb.nn.Dense(n, width, init=init, rng=rng), rb.nn.Tanh()]
        n = width
    net = rb.nn.Sequential(*layers, rb.nn.Dense(n, y.shape[1], rng=rng)).astype(np.float64)
    history = rb.fit(net, x, y, loss="mse", optimizer=rb.optim.SGD(net.parameters(), lr=0.02),
                     epochs=epochs, batch_size=25, metrics=(), progress=False, rng=rng)
    return history["loss"][-1]


def _trains_slower(poor, calibrated):
    """Whether the training loss ``poor`` is far above ``calibrated`` after the same training:
    five times. On the chapter's task two fan-in-scaled networks differ by at most 1.5 times
    (seeds 0-19); N(0, 1) ends 15-28 times higher, near the loss of predicting the mean."""
    return poor > 5 * calibrated


@chapter("Weight initialisation", section="Weight initialization")
def run(ctx):
    rng = ctx.rng
    d = 100
    neurons = 5_000 if ctx.quick else 50_000
    ctx.text(
        "The notes: with an all-ones input of dimension d and weights and bias drawn from "
        "N(0, 1), NET = W·X + b is a sum of d + 1 standard normal variables, so its standard "
        "deviation is sqrt(d + 1), about 10 for d = 100: sigmoid units start saturated. "
        "Dividing the weights by sqrt(fan-in) calibrates it back to about 1. "
        f"Here {neurons:,} neurons are drawn with each scheme."
    )
    x = np.ones(d)
    # the weights drawn by the library's initialisers (float64: the same draws as NumPy's)
    init = rb.nn.init
    shape, fans = (neurons, d), {"fan_in": d, "fan_out": d, "rng": rng, "dtype": np.float64}
    schemes = {
        "N(0, 1)": (init.normal(shape, std=1.0, **fans), rng.standard_normal(neurons)),
        "N(0, 1) / sqrt(d)": (init.fan_in(shape, **fans), np.zeros(neurons)),
        "He: N(0, 2/d)": (init.he(shape, **fans), np.zeros(neurons)),
        "Glorot uniform": (init.glorot_uniform(shape, **fans), np.zeros(neurons)),
    }
    nets, rows = {}, []
    for name, (w, b) in schemes.items():
        net = w @ x + b
        s = _sigmoid(net)
        saturated = float(np.mean(s * (1 - s) < 0.01))  # sigmoid'(NET) below 4% of its peak
        nets[name] = net
        rows.append([name, float(net.std()), saturated])
    ctx.table(["initialisation", "std of NET", "sigmoid units saturated (σ' < 0.01)"], rows)
    std_n01 = rows[0][1]
    ctx.claim("With N(0, 1) weights and bias and d = 100, NET has standard deviation "
              "sqrt(d + 1) ≈ 10", abs(std_n01 - np.sqrt(d + 1)) < 0.05 * np.sqrt(d + 1),
              f"measured {std_n01:.3f}, sqrt(101) = {np.sqrt(101):.3f}")
    ctx.claim("Large NET saturates sigmoid units; dividing by sqrt(fan-in) keeps NET's "
              "standard deviation near 1 and the units unsaturated",
              rows[0][2] > 0.5 and rows[1][2] < 0.01 and abs(rows[1][1] - 1) < 0.05,
              f"saturated: {rows[0][2]:.0%} with N(0, 1), {rows[1][2]:.2%} with 1/sqrt(d) "
              f"(std {rows[1][1]:.3f})")
    with ctx.figure("NET = W·1 + b for d = 100: N(0, 1) weights (left) spread NET over "
                    "±30, deep into the sigmoid's flat tails; fan-in scaling (right) keeps "
                    "it where the sigmoid has slope.", size=(8, 3)) as fig:
        axes = fig.subplots(1, 2)
        zz = np.linspace(-35, 35, 400)
        for ax, name in zip(axes, ["N(0, 1)", "N(0, 1) / sqrt(d)"]):
            counts, _, _ = ax.hist(nets[name], bins=80, range=(-35, 35), density=True,
                                   color="C0", alpha=0.7, label="density of NET")
            # The sigmoid drawn on the same axes, scaled to the histogram's height.
            ax.plot(zz, _sigmoid(zz) * counts.max(), "C3", lw=1.5, label="σ(NET) (scaled)")
            ax.set_yticks([])
            ax.set_title(f"{name}: std {nets[name].std():.2f}", fontsize=9)
            ax.set_xlabel("NET")
        axes[0].legend(fontsize=7, loc="upper left")

    # -- deep networks: the spread of activations layer by layer -------------------
    depth, width = (8, 256) if ctx.quick else (10, 500)
    h0 = rng.standard_normal((256, width))
    f64 = {"rng": rng, "dtype": np.float64}
    configs = [  # (n, n) weights from the library's initialisers
        ("tanh, N(0, 0.01²)", "tanh", lambda n: init.normal((n, n), std=0.01, **f64)),
        ("tanh, N(0, 1)", "tanh", lambda n: init.normal((n, n), std=1.0, **f64)),
        ("tanh, N(0, 1)/sqrt(n)", "tanh", lambda n: init.fan_in((n, n), fan_in=n, **f64)),
        ("ReLU, N(0, 2/n) (He)", "relu", lambda n: init.he((n, n), fan_in=n, **f64)),
    ]
    stds, sat = {}, {}
    for label, act, draw in configs:
        h, s_list, frac = h0, [], []
        for _ in range(depth):
            z = h @ draw(width)
            h = np.tanh(z) if act == "tanh" else np.maximum(z, 0)
            s_list.append(float(h.std()))
            frac.append(float(np.mean(np.abs(h) > 0.99)) if act == "tanh" else 0.0)
        stds[label], sat[label] = s_list, frac
    with ctx.figure(f"Standard deviation of each layer's activations in a {depth}-layer, "
                    f"{width}-unit network: tiny weights make the signal vanish, N(0, 1) "
                    "saturates tanh, fan-in scaling keeps it alive.", size=(7, 3.2)) as fig:
        ax = fig.add_subplot()
        for label in stds:
            ax.semilogy(range(1, depth + 1), stds[label], "o-", label=label)
        ax.set_xlabel("layer")
        ax.set_ylabel("std of activations")
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
    small, big, calib, he = (stds[c[0]] for c in configs)
    ctx.claim("Weights that are too small make the signal vanish in a deep network",
              small[-1] < 1e-6, f"tanh with N(0, 0.01²): std {small[0]:.1e} at layer 1, "
              f"{small[-1]:.1e} at layer {depth}")
    ctx.claim("Weights that are too large saturate the units", sat[configs[1][0]][-1] > 0.5,
              f"tanh with N(0, 1): {sat[configs[1][0]][-1]:.0%} of the units at |h| > 0.99 "
              f"in layer {depth}")
    # The consequence is measured, not inferred: saturation need not slow training (a
    # one-hidden-layer sigmoid net on digits trained faster from N(0, 1) in audit a5), a deep
    # one does. A task with no saturation of its own: 16 Gaussian inputs, the target a tanh
    # teacher unit's output, standardised (predicting its mean scores a loss of 1).
    xd = rng.standard_normal((400, 16))
    yd = np.tanh(xd @ rng.standard_normal((16, 1)) / 4)
    yd = (yd - yd.mean()) / yd.std()
    trained = {scale: _train_deep_tanh(rng, xd, yd, scale)
               for scale in ("N(0, 1)", "N(0, 1)/sqrt(n)")}
    ctx.table(["8 × 64 tanh network, hidden weights", "training loss (MSE) after 6 epochs"],
              [[k, v] for k, v in trained.items()],
              caption="400 examples of a teacher unit (16 inputs), SGD (lr 0.02, batches of "
                      "25): the same budget for both; predicting the mean scores 1.")
    poor, calibrated = trained.values()
    ctx.claim("Poor initialisation leads to slow training: with the units saturated, a deep "
              "network barely learns in the budget that trains the fan-in-scaled one",
              _trains_slower(poor, calibrated),
              f"training loss after 6 epochs: {poor:.3f} with N(0, 1), {calibrated:.3f} with "
              f"1/sqrt(n) (ratio {poor / calibrated:.1f}; predicting the mean scores 1)")
    ctx.claim("Fan-in scaling (1/sqrt(n); sqrt(2/n) for ReLU) keeps activations in a useful "
              "range through the depth", calib[-1] > 0.1 and 0.3 < he[-1] / he[0] < 3,
              f"tanh 1/sqrt(n): std {calib[-1]:.2f} at layer {depth}; ReLU He: "
              f"{he[0]:.2f} → {he[-1]:.2f}")

    # -- symmetry breaking ------------------------------------------------------------
    ctx.text(
        "Zero (or any constant) initialisation: every hidden unit computes the same output, "
        "gets the same gradient and the same update, so the units never differentiate. "
        "A 2-4-1 sigmoid network trained by gradient descent on XOR:"
    )
    xs, ys = rb.datasets.xor()
    steps = 2000 if ctx.quick else 5000
    results = {}
    for label, init in [("all zeros", "zeros"), ("random (Glorot)", "glorot_uniform")]:
        net = rb.nn.Sequential(rb.nn.Dense(2, 4, init=init, rng=rng), rb.nn.Sigmoid(),
                               rb.nn.Dense(4, 1, init=init, rng=rng), rb.nn.Sigmoid())
        net.astype(np.float64)
        history = rb.fit(net, xs, ys[:, None].astype(np.float64), loss="mse",
                         optimizer=rb.optim.SGD(net.parameters(), lr=2.0), epochs=steps,
                         batch_size=len(xs), shuffle=False, metrics=(), progress=False)
        w1 = net[0].W.data
        spread = float(np.max(np.abs(w1 - w1[:, :1])))
        pred = rb.training.predict(net, xs)[:, 0] > 0.5
        results[label] = (spread, float(np.mean(pred == ys)), history["loss"][-1])
    ctx.table(["initialisation", "max |W[:, i] - W[:, 0]| after training", "XOR accuracy",
               "final loss"], [[k, *v] for k, v in results.items()])
    zero, rand = results["all zeros"], results["random (Glorot)"]
    ctx.claim("Zero initialisation: the hidden units stay identical (no symmetry breaking), "
              "so the network cannot learn XOR", zero[0] == 0.0 and zero[1] < 1.0,
              f"hidden weight columns differ by {zero[0]:g}; accuracy {zero[1]:.0%}")
    ctx.claim("Random initialisation breaks the symmetry and the same network learns XOR",
              rand[1] == 1.0, f"accuracy {rand[1]:.0%}, final loss {rand[2]:.4f}")
