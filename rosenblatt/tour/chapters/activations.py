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

    rng = ctx.rng
    _relu_race(ctx, rng)
    _linear_layers_collapse(ctx, rng)
    _dying_relus(ctx, rng)


_RACE = {"sigmoid": rb.nn.Sigmoid, "tanh": rb.nn.Tanh, "ReLU": rb.nn.ReLU}


def _relu_race(ctx, rng, activations=_RACE, target=0.9):
    """ReLU against sigmoid and tanh with SGD: the same initial weights, epochs to a target.

    ``activations``: name -> activation class; the entry "ReLU" is the one the claim is
    about (the tests swap a sigmoid in to check that the claim then fails).
    """
    X, y = rb.datasets.load_digits()
    order = rng.permutation(len(X))[:600]
    X, y = X[order].astype(np.float32), y[order]
    epochs = 12 if ctx.quick else 30
    seed = int(rng.integers(2**31))
    curves, reached = {}, {}
    for name, act in activations.items():
        r = np.random.default_rng(seed)  # the same initial weights for each activation
        net = rb.nn.Sequential(rb.nn.Dense(64, 64, init="glorot_uniform", rng=r), act(),
                               rb.nn.Dense(64, 64, init="glorot_uniform", rng=r), act(),
                               rb.nn.Dense(64, 64, init="glorot_uniform", rng=r), act(),
                               rb.nn.Dense(64, 10, init="glorot_uniform", rng=r))
        curves[name] = np.array(rb.fit(
            net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.05),
            epochs=epochs, batch_size=16, progress=False,
            rng=np.random.default_rng(seed))["accuracy"])
        hits = np.nonzero(curves[name] >= target)[0]
        reached[name] = int(hits[0]) + 1 if hits.size else None

    def when(name):
        return f"epoch {reached[name]}" if reached[name] else f"not in {epochs} epochs"

    ctx.text(
        "Does ReLU converge faster with SGD? A fair race: three 64-64-64-64-10 networks on 600 "
        "digits that differ only in the activation: the same initial weights (Glorot uniform "
        f"for all three), the same data order, SGD at lr 0.05 for {epochs} epochs; the "
        f"criterion is the first epoch whose training accuracy reaches {target:.0%}.")
    ctx.table(["activation", f"epoch reaching {target:.0%}", "final training accuracy"],
              [[k, when(k), float(c[-1])] for k, c in curves.items()])
    with ctx.figure("Training accuracy on 600 digits, a 64-64-64-64-10 network, plain SGD "
                    "(lr 0.05), the same initial weights and data order for each activation.",
                    size=(6, 3.2)) as fig:
        ax = fig.add_subplot()
        for name, curve in curves.items():
            ax.plot(range(1, len(curve) + 1), curve, marker=".", label=name)
        ax.axhline(target, color="grey", lw=0.5)
        ax.set_xlabel("epoch")
        ax.set_ylabel("training accuracy")
        ax.legend()
        ax.grid(True, alpha=0.3)
    relu, sigmoid = reached.get("ReLU"), reached.get("sigmoid")
    ctx.claim("Compared with sigmoid, ReLU converges quickly with SGD",
              relu is not None and sigmoid is None,
              f"{target:.0%} training accuracy: ReLU at {when('ReLU')}, sigmoid "
              f"{when('sigmoid')} (final accuracy {curves['sigmoid'][-1]:.0%})")
    if "tanh" in reached:  # reported, not claimed: it depends on the task and the weights
        tanh = reached["tanh"]
        if tanh is not None and (relu is None or tanh <= relu):
            lead = (f"Against tanh the notes' claim is not reproduced here: tanh reaches "
                    f"{target:.0%} at {when('tanh')}, ReLU at {when('ReLU')}.")
        else:
            lead = (f"ReLU is also ahead of tanh here ({when('ReLU')} against {when('tanh')}), "
                    "but that is not claimed.")
        ctx.text(
            lead + " On two spirals (a 2-64-64-2 network, 40 epochs) an earlier audit found "
            "ReLU ahead of tanh at every seed when each had its usual initialisation, but tanh "
            "ahead at 5 of 6 seeds when both had the same He weights: which of the two wins "
            "depends on the task, the initial weights and the budget. The large speed-up the "
            "notes cite was measured for deep convolutional networks; the sigmoid's lag is the "
            "part that holds in every setting tried.")


def _silent(net, x):
    """Per hidden layer of a Dense-activation-... stack: which units output <= 0 on all of x
    (for ReLU, the dead units: `rb.callbacks.GradientMonitor.dead_relu_fractions`)."""
    silent, h = [], rb.tensor(x)
    with rb.no_grad():
        for layer in net:
            h = layer(h)
            if not isinstance(layer, rb.nn.Dense):
                silent.append(np.all(h.data <= 0, axis=0))
    return silent


def _dying_relus(ctx, rng, rates=(1.0, 0.05), act=rb.nn.ReLU):
    """ReLUs die at a high learning rate and not at a low one (notes: "Activation functions":
    "ReLUs can still 'die' ... lowering the learning rate can avoid this").

    ``rates``: the high and the low learning rate; ``act``: the activation (the tests pass
    two equal rates, and a leaky ReLU, whose silent units still learn, to check that the
    claims then fail).
    """
    X, y = rb.datasets.load_digits()
    order = rng.permutation(len(X))[:600]
    X, y = X[order].astype(np.float32), y[order]
    seed = int(rng.integers(2**31))
    epochs, more = 4, 2
    rows, dead, frozen = [], {}, {}
    for lr in rates:
        r = np.random.default_rng(seed)
        net = rb.nn.Sequential(rb.nn.Dense(64, 64, init="he", rng=r), act(),
                               rb.nn.Dense(64, 64, init="he", rng=r), act(),
                               rb.nn.Dense(64, 10, rng=r))
        before = np.mean([s.mean() for s in _silent(net, X)])
        accuracy = rb.fit(net, X, y, loss="cross_entropy",
                          optimizer=rb.optim.SGD(net.parameters(), lr=lr), epochs=epochs,
                          batch_size=16, progress=False, rng=np.random.default_rng(seed),
                          )["accuracy"][-1]
        silent = _silent(net, X)
        dead[lr] = float(np.mean([s.mean() for s in silent]))
        # "from then on": train on at the low rate; a unit dead on every example gets no
        # gradient, so its incoming weights must not move at all
        silent = silent[0]
        w_dead = net[0].W.data[:, silent].copy()
        rb.fit(net, X, y, loss="cross_entropy",
               optimizer=rb.optim.SGD(net.parameters(), lr=rates[-1]), epochs=more,
               batch_size=16, metrics=(), progress=False, rng=np.random.default_rng(seed))
        frozen[lr] = (int(silent.sum()), float(np.abs(net[0].W.data[:, silent] - w_dead).max(
            initial=0.0)))
        rows.append([lr, float(before), dead[lr], float(accuracy), frozen[lr][0]])
    high, low = rates
    ctx.text(
        "Dying ReLUs: a large step can push a ReLU's bias and weights to where its input is "
        "negative for every example; its output and its gradient are then 0 and it never "
        "learns again. Two 64-64-64-10 ReLU networks (He initialisation, the same initial "
        f"weights) trained on 600 digits by SGD for {epochs} epochs at a high and a low "
        "learning rate; a unit is dead when it outputs 0 on all 600 digits.")
    ctx.table(["learning rate", "dead units at initialisation", f"dead after {epochs} epochs",
               "training accuracy", "dead units of layer 1"], rows)
    ctx.claim("ReLUs can die: at a high learning rate many units end up outputting 0 on every "
              "example; lowering the learning rate avoids it",
              dead[high] > 0.3 and dead[low] < 0.15 and dead[high] > 3 * dead[low],
              f"dead fraction {dead[high]:.0%} at lr {high:g}, {dead[low]:.0%} at lr {low:g}")
    n_dead, moved = frozen[high]
    ctx.claim("A dead ReLU's gradient is zero from then on: its weights stay where they died",
              n_dead > 0 and moved == 0.0,
              f"{n_dead} dead units in layer 1 after lr {high:g}; their incoming weights moved "
              f"by {moved:g} in {more} more epochs at lr {low:g}")


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
