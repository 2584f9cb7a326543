"""Tour: activation functions and their derivatives (notes: "Activation functions")."""

import numpy as np

import rosenblatt as rb
from rosenblatt.nn import functional as F
from rosenblatt.tour import chapter


def _derivative(fn, z):
    """dy/dz of an elementwise activation by backpropagation (upstream gradient 1)."""
    t = rb.tensor(z, requires_grad=True)
    y = fn(t)
    y.backward(np.ones_like(z))
    return y.data, t.grad


@chapter("Activation functions and their derivatives", section="Activation functions")
def run(ctx):
    ctx.text(
        "The notes' table gives each activation's forward rule and the local derivative that "
        "backpropagation multiplies the upstream gradient by. Below, the derivatives are "
        "computed by rosenblatt's backward pass and compared with those formulas."
    )
    z = np.linspace(-6, 6, 1201)
    z = z[np.abs(z) > 1e-9]  # kinks: derivative conventions are checked separately
    z = z[np.abs(np.abs(z) - 1) > 1e-9]
    table = {
        "sigmoid": (lambda t: t.sigmoid(), lambda x: 1 / ((1 + np.exp(x)) * (1 + np.exp(-x)))),
        "tanh": (lambda t: t.tanh(), lambda x: 1 / np.cosh(x) ** 2),
        "ReLU": (lambda t: t.relu(), lambda x: (x > 0).astype(float)),
        "leaky ReLU (0.01)": (lambda t: F.leaky_relu(t, 0.01), lambda x: np.where(x > 0, 1, 0.01)),
        "hard tanh": (F.hardtanh, lambda x: ((x > -1) & (x < 1)).astype(float)),
    }
    rows, curves = [], {}
    for name, (fn, formula) in table.items():
        y, dy = _derivative(fn, z)
        err = float(np.max(np.abs(dy - formula(z))))
        rows.append([name, err])
        curves[name] = (y, dy)
    ctx.table(["activation", "max |backprop − notes' formula| over [−6, 6]"], rows)
    worst = max(r[1] for r in rows)
    ctx.claim("Backpropagation through sigmoid, tanh, ReLU, leaky ReLU and hard tanh "
              "reproduces the notes' derivative table", worst < 1e-12,
              f"largest difference {worst:.1e} (float64)")
    with ctx.figure("Activation functions (top) and their derivatives computed by "
                    "backpropagation (bottom).", size=(10, 4.2),
                    notes=("Sigmoid activation function", "tanh activation function",
                           "ReLU activation function")) as fig:
        axes = fig.subplots(2, len(curves), sharex=True)
        for j, (name, (y, dy)) in enumerate(curves.items()):
            axes[0, j].plot(z, y, "C0")
            axes[0, j].set_title(name, fontsize=9)
            axes[1, j].plot(z, dy, "C3")
            for ax in axes[:, j]:
                ax.axhline(0, color="grey", lw=0.5)
                ax.axvline(0, color="grey", lw=0.5)
                ax.tick_params(labelsize=7)
        axes[0, 0].set_ylabel("f(x)")
        axes[1, 0].set_ylabel("f'(x)")

    s, ds = curves["sigmoid"]
    ctx.claim("The sigmoid's gradient is at most 1/4 and almost 0 in its tails: a saturated "
              "unit kills the gradient", ds.max() <= 0.25 and ds[np.abs(z) > 5].max() < 0.01,
              f"max σ' = {ds.max():.4f}; max σ' for |x| > 5: {ds[np.abs(z) > 5].max():.4f}")
    tanh_y = curves["tanh"][0]
    ctx.claim("tanh is a rescaled sigmoid: σ(x) = (1 + tanh(x/2)) / 2",
              np.allclose(s, (1 + np.tanh(z / 2)) / 2, atol=1e-12, rtol=0), "checked on [−6, 6]")
    ctx.claim("Sigmoid outputs are not zero-centred; tanh outputs are",
              abs(s.mean() - 0.5) < 1e-9 and abs(tanh_y.mean()) < 1e-9,
              f"mean over symmetric inputs: sigmoid {s.mean():.3f}, tanh {tanh_y.mean():.1e}")
    logits = ctx.rng.standard_normal((5, 4)) * 10
    p = F.softmax(rb.tensor(logits)).data
    shifted = F.softmax(rb.tensor(logits + 1000.0)).data
    ctx.claim("Softmax outputs are positive and sum to 1 (a probability distribution), even "
              "for huge logits", bool(np.all(p > 0) and np.allclose(p.sum(axis=1), 1)
                                      and np.allclose(p, shifted)),
              "rows sum to 1; shifting the logits by 1000 changes nothing")

    # -- ReLU converges faster than sigmoid/tanh with SGD --------------------------------
    rng = ctx.rng
    x, y = rb.datasets.spirals(300 if ctx.quick else 600, noise=0.05, turns=1.5, rng=rng)
    epochs = 40 if ctx.quick else 100
    results = {}
    seed = int(rng.integers(2**31))
    for name, act in [("sigmoid", rb.nn.Sigmoid), ("tanh", rb.nn.Tanh), ("ReLU", rb.nn.ReLU)]:
        r = np.random.default_rng(seed)  # same initial weights for each activation
        init = "he" if name == "ReLU" else "glorot_uniform"
        net = rb.nn.Sequential(rb.nn.Dense(2, 64, init=init, rng=r), act(),
                               rb.nn.Dense(64, 64, init=init, rng=r), act(),
                               rb.nn.Dense(64, 2, rng=r))
        history = rb.fit(net, x, y, loss="cross_entropy",
                         optimizer=rb.optim.SGD(net.parameters(), lr=0.05), epochs=epochs,
                         batch_size=16, metrics=(), progress=False,
                         rng=np.random.default_rng(seed))
        results[name] = history["loss"]
    with ctx.figure(f"Training loss on two spirals ({len(x)} points), a 2-64-64-2 network and "
                    "plain SGD (lr 0.05), same data order for each activation.",
                    size=(6, 3.2)) as fig:
        ax = fig.add_subplot()
        for name, curve in results.items():
            ax.plot(range(1, len(curve) + 1), curve, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy")
        ax.legend()
        ax.grid(True, alpha=0.3)
    final = {k: v[-1] for k, v in results.items()}
    ctx.claim("Compared with sigmoid and tanh, ReLU converges quickly with SGD",
              final["ReLU"] < final["tanh"] and final["ReLU"] < final["sigmoid"],
              ", ".join(f"{k}: {v:.3f}" for k, v in final.items()) + f" after {epochs} epochs")

    _linear_layers_collapse(ctx, rng)


def _linear_layers_collapse(ctx, rng):
    """Without nonlinear activations a deep network is one linear layer (notes: "Deep neural
    networks")."""
    n = 200
    x = rng.normal(0, 0.35, (n, 2)) + rng.choice([-1.0, 1.0], (n, 2))
    y = (np.sign(x[:, 0]) != np.sign(x[:, 1])).astype(np.int64)  # XOR of the quadrants
    x = x.astype(np.float32)
    seed = int(rng.integers(2**31))
    steps = 150 if ctx.quick else 600

    def net(act, depth):
        r = np.random.default_rng(seed)
        if depth == 1:
            return rb.nn.Sequential(rb.nn.Dense(2, 2, rng=r))
        layers = [rb.nn.Dense(2, 16, rng=r), act()]
        for _ in range(depth - 2):
            layers += [rb.nn.Dense(16, 16, rng=r), act()]
        return rb.nn.Sequential(*layers, rb.nn.Dense(16, 2, rng=r))

    nets = {"3 layers, no activation (identity)": net(rb.nn.Identity, 3),
            "1 layer": net(None, 1), "3 layers, tanh": net(rb.nn.Tanh, 3)}
    accuracy = {}
    for name, model in nets.items():
        rb.fit(model, x, y, loss="cross_entropy",
               optimizer=rb.optim.Adam(model.parameters(), lr=0.02), epochs=steps,
               batch_size=n, metrics=(), progress=False, rng=np.random.default_rng(seed))
        accuracy[name] = float(np.mean(model(rb.tensor(x)).data.argmax(axis=1) == y))
    linear = nets["3 layers, no activation (identity)"]
    W, b = np.eye(2), np.zeros(2)
    for layer in (m for m in linear if isinstance(m, rb.nn.Dense)):
        W, b = W @ layer.W.data, b @ layer.W.data + layer.b.data  # x W1 W2 .. + (b1 W2 + ..)
    out = linear(rb.tensor(x)).data
    collapsed = x.astype(np.float64) @ W + b
    gap = float(np.abs(out - collapsed).max() / np.abs(out).max())
    ctx.text(
        f"Why the activations must be nonlinear: {n} points in four blobs labelled by XOR of "
        "their quadrants (not linearly separable), three networks trained alike (Adam, full "
        f"batch, {steps} steps). A stack of Dense layers with no activation between them "
        "computes ((x W1 + b1) W2 + b2) W3 + b3 = x (W1 W2 W3) + b: one layer.")
    ctx.table(["network", "training accuracy"], [[k, v] for k, v in accuracy.items()])
    ctx.claim("Without nonlinear activations a multilayer network is equivalent to a single "
              "layer with weights W1 W2 W3 (its trained function is that matrix product)",
              gap < 1e-5,
              f"largest difference between the 3-layer linear net and x (W1 W2 W3) + b: "
              f"{gap:.1e} of its largest output")
    deep, one = accuracy["3 layers, no activation (identity)"], accuracy["1 layer"]
    ctx.claim("So depth without nonlinearity adds nothing: the deep linear network cannot "
              "learn XOR and does no better than one layer, while the same network with tanh "
              "learns it",
              deep < 0.8 and abs(deep - one) < 0.1 and accuracy["3 layers, tanh"] > 0.95,
              ", ".join(f"{k}: {v:.0%}" for k, v in accuracy.items()))
