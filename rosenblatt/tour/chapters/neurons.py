"""Tour: units (notes: "Sigmoid (logistic) neurons", "Common activation functions" (Maxout),
"Radial basis functions").

Three neighbouring sections of the notes, one chapter each: the sigmoid neuron
as a smoothed perceptron (the lost figures "The step function" and "The
sigmoid function"), the maxout unit as a generalised ReLU, and radial basis
functions (the lost "1D Gaussian RBF" and "The Ricker Wavelet") with an RBF
network trained through ``rb.fit``.
"""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter

from ._plots import plot_boundary, softmax_p1


def _curve(module, z):
    """``module`` applied to the column ``z`` (the library's own forward pass)."""
    with rb.no_grad():
        return module(rb.tensor(z.reshape(-1, 1))).data.ravel()


def _output_changes(activation, net, dnet):
    """|activation(net + dnet) − activation(net)|, both through the library's forward pass.

    ``net``: (points,) net inputs; ``dnet``: (changes, points) changes of them; returns the
    (changes, points) output changes.
    """
    before = _curve(activation, net)
    return np.abs(_curve(activation, net[None] + dnet).reshape(dnet.shape) - before)


def _changes_bounded(changes, dnet):
    """Whether every output change is at most σ'max = 1/4 times its net input's change, and
    the output responds at all: true of a sigmoid, false of a step (a flip changes the output
    by 1 whatever the net input's change) or of a unit whose output never moves."""
    return bool(np.all(changes <= 0.25 * np.abs(dnet) + 1e-12) and changes.max() > 0)


@chapter("Sigmoid neurons: the perceptron's step, smoothed", section="Sigmoid (logistic) neurons",
         name="sigmoid-neurons")
def sigmoid_neurons(ctx):
    ctx.text(
        "A perceptron outputs the step function of its net input w·x + b: a small change of a "
        "weight can flip its output from 0 to 1. A sigmoid neuron outputs σ(w·x + b) instead, "
        "a smoothed step, so small changes of the weights make small changes of the output, "
        "which is what learning by small steps needs. Below, one sigmoid neuron learns AND "
        "through `rb.fit`; scaling its weights by c turns it back into the perceptron."
    )
    x, y = rb.datasets.logic("and")
    x = x.astype(np.float64)
    neuron = rb.nn.Sequential(rb.nn.Dense(2, 1, rng=ctx.rng, dtype=np.float64), rb.nn.Sigmoid())
    rb.fit(neuron, x, y.reshape(-1, 1).astype(np.float64), loss="binary_cross_entropy",
           optimizer=rb.optim.SGD(neuron.parameters(), lr=2.0), epochs=400, batch_size=4,
           metrics=(), progress=False, rng=ctx.rng)
    w, b = neuron[0].W.data[:, 0].copy(), float(neuron[0].b.data[0])
    out = rb.training.predict(neuron, x).ravel()
    ctx.claim("A sigmoid neuron learns AND by gradient descent (output above 1/2 only on (1, 1))",
              np.array_equal(out > 0.5, y.astype(bool)),
              f"outputs {np.round(out, 3).tolist()} on (0,0), (0,1), (1,0), (1,1); "
              f"w = {np.round(w, 2).tolist()}, b = {b:.2f}")

    z = np.linspace(-6, 6, 601)
    sig = _curve(rb.nn.Sigmoid(), z)
    step = (z > 0).astype(float)
    t = np.linspace(-0.5, 1.5, 401)  # along the diagonal x1 = x2 = t
    net = (np.stack([t, t], 1) @ w + b)
    scales = (1, 5, 100)
    scaled = {c: _curve(rb.nn.Sigmoid(), c * net) for c in scales}
    off = np.abs(net) > 0.05 * np.abs(net).max()
    gap = float(np.abs(scaled[100] - (net > 0))[off].max())
    with ctx.figure("Left: the perceptron's step function and the sigmoid σ(z) = 1/(1 + e^−z) "
                    "(computed by rb.nn.Sigmoid). Right: the trained AND neuron along the "
                    "diagonal x1 = x2 = t with its weights scaled by c: as c grows the sigmoid "
                    "neuron becomes the perceptron.", size=(9, 3),
                    notes=("The step function", "The sigmoid function")) as fig:
        a, b_ax = fig.subplots(1, 2)
        a.plot(z, step, "k", lw=2, label="step (perceptron)")
        a.plot(z, sig, "C0", lw=2, label="sigmoid")
        a.set_xlabel("net input z = w·x + b")
        a.legend(fontsize=8)
        for c in scales:
            b_ax.plot(t, scaled[c], label=f"c = {c}")
        b_ax.plot(t, net > 0, "k--", lw=1, label="perceptron")
        b_ax.set_xlabel("t")
        b_ax.legend(fontsize=8)
    ctx.claim("With large weights a sigmoid neuron behaves like a perceptron (the step "
              "function)", gap < 0.01,
              f"weights × 100: |σ − step| ≤ {gap:.1e} away from the boundary")

    # Small weight changes: bounded output changes for the sigmoid, flips for the step. The
    # outputs are the library's (the trained neuron's own Sigmoid and rb.nn.Step), so a
    # sigmoid that were not smooth (a step, a steep or broken one) fails the claim. The step's
    # half is an illustration: the 21 points within 1e-4 of the decision boundary are placed
    # where a step flips under changes this small (few of 2000 uniform points lie that close).
    rng = ctx.rng
    t0 = -b / w.sum()  # the diagonal crosses the decision boundary at x1 = x2 = t0
    near = t0 + np.linspace(-1e-4, 1e-4, 21)
    grid = np.concatenate([rng.uniform(-0.5, 1.5, (2000, 2)), np.stack([near, near], 1)])
    base = grid @ w + b
    dnet = (rng.standard_normal((200, 2)) * 1e-3) @ grid.T  # weight changes ~1e-3
    changes = _output_changes(neuron[1], base, dnet)
    step_changes = _output_changes(rb.nn.Step(), base, dnet)
    flips = int((step_changes > 0).sum())
    ctx.claim("Small changes of the weights make small changes of a sigmoid neuron's output "
              "(at most σ'max = 1/4 times the change of the net input), while the same changes "
              "flip some of the perceptron's outputs from 0 to 1",
              _changes_bounded(changes, dnet) and not _changes_bounded(step_changes, dnet),
              f"largest output change {changes.max():.1e} for weight changes ~1e-3 (largest "
              f"net-input change {np.abs(dnet).max():.1e}); {flips} step outputs flipped "
              f"out of {changes.size}")


@chapter("Maxout units", section="Common activation functions", name="maxout")
def maxout(ctx):
    ctx.text(
        "A maxout unit outputs the largest of several affine functions of its input, "
        "max(w₁·x + b₁, w₂·x + b₂). With one piece fixed at zero it is a ReLU, so maxout "
        "generalises ReLU (and leaky ReLU); it never saturates and never dies, at the price "
        "of twice the parameters per unit."
    )
    rng = ctx.rng
    layer = rb.nn.Maxout(3, 4, pieces=2, rng=rng, dtype=np.float64)
    layer.W.data[:, 1::2] = 0  # the second piece of every unit: 0
    layer.b.data[1::2] = 0
    dense = rb.nn.Dense(3, 4, rng=rng, dtype=np.float64)
    dense.W.data[...] = layer.W.data[:, 0::2]
    dense.b.data[...] = layer.b.data[0::2]
    xs = rng.standard_normal((500, 3))
    with rb.no_grad():
        diff = np.abs(layer(rb.tensor(xs)).data - dense(rb.tensor(xs)).relu().data).max()
    ctx.claim("A maxout unit with pieces (w·x + b, 0) is exactly a ReLU unit", diff == 0.0,
              f"max difference {diff:g} over 500 random inputs")

    n = 300 if ctx.quick else 600
    x, y = rb.datasets.moons(n, noise=0.15, rng=rng)
    xt, yt = rb.datasets.moons(1000, noise=0.15, rng=rng)
    epochs = 150 if ctx.quick else 400
    nets, rows = {}, []
    # Three initialisations each, the same three for both, and their medians: about one
    # 2-16-2 net in ten, maxout or ReLU, stalls near the linear solution (88-89% on the test
    # points; maxout at tour seeds 1 and 6 with the weights drawn from the seed), so one run
    # each compared two lottery tickets.
    inits = (1, 2, 3)
    for name, hidden in (("maxout (2 pieces)", lambda r: rb.nn.Maxout(2, 16, pieces=2, rng=r)),
                         ("ReLU", lambda r: rb.nn.Sequential(rb.nn.Dense(2, 16, rng=r),
                                                             rb.nn.ReLU()))):
        runs = []
        for k in inits:
            r = np.random.default_rng(ctx.run_seed(k))
            net = rb.nn.Sequential(hidden(r), rb.nn.Dense(16, 2, rng=r))
            hist = rb.fit(net, x, y, loss="cross_entropy", optimizer=rb.optim.Adam(
                net.parameters(), lr=0.02), epochs=epochs, batch_size=64, progress=False,
                rng=r)
            test = rb.training.evaluate(net, xt, yt, loss="cross_entropy")
            nets.setdefault(name, net)  # the figure: the first initialisation's
            runs.append((hist["accuracy"][-1], test["accuracy"]))
        train, test = np.median(runs, axis=0)
        rows.append([name, net.num_parameters(), float(train), float(test),
                     ", ".join(f"{t:.1%}" for _, t in runs)])
    ctx.table(["network 2-16-2", "parameters", "train accuracy (median)",
               "test accuracy (median)", f"test accuracy of the {len(inits)} initialisations"],
              rows)
    with ctx.figure("Decision regions of a maxout network and a ReLU network of the same "
                    "width on two moons (the first initialisation of each).",
                    size=(7, 3)) as fig:
        for ax, (name, net) in zip(fig.subplots(1, 2), nets.items()):
            plot_boundary(ax, softmax_p1(net), x, y, title=name)
    ctx.claim("A network of maxout units learns a nonlinear boundary (two moons) as well as "
              "ReLU units do", rows[0][3] >= 0.95 and rows[0][3] >= rows[1][3] - 0.02,
              f"median test accuracy over {len(inits)} initialisations: maxout "
              f"{rows[0][3]:.1%}, ReLU {rows[1][3]:.1%}")


@chapter("Radial basis functions and RBF networks", section="Radial basis functions", name="rbf")
def radial_basis(ctx):
    ctx.text(
        "A radial basis function φ depends only on the distance r = ||x − c|| / s of the input "
        "from a centre c. The notes give two: the Gaussian φ(r) = exp(−r²) and the Ricker "
        "wavelet φ(r) = (1 − r²) exp(−r²/2). An RBF network sums such units, "
        "f(x) = Σᵢ aᵢ φ(||x − cᵢ|| / sᵢ): each unit answers only near its centre."
    )
    r = np.linspace(-4, 4, 801)
    curves = {}
    for kind in ("gaussian", "ricker"):
        unit = rb.nn.RBF(1, 1, kind=kind, width=1.0, dtype=np.float64)
        unit.centers.data[...] = 0.0
        curves[kind] = _curve(unit, r)
    exact = {"gaussian": np.exp(-r ** 2), "ricker": (1 - r ** 2) * np.exp(-r ** 2 / 2)}
    err = max(float(np.abs(curves[k] - exact[k]).max()) for k in curves)
    with ctx.figure("The 1D Gaussian RBF φ(r) = exp(−r²), computed by an rb.nn.RBF unit "
                    "centred at 0 with width 1.", size=(4.5, 2.6),
                    notes="1D Gaussian RBF") as fig:
        ax = fig.add_subplot()
        ax.plot(r, curves["gaussian"], "C0", lw=2)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("r")
    with ctx.figure("The Ricker wavelet φ(r) = (1 − r²) exp(−r²/2) (the \"Mexican hat\"), "
                    "computed by an rb.nn.RBF unit of kind 'ricker'.", size=(4.5, 2.6),
                    notes="The Ricker Wavelet") as fig:
        ax = fig.add_subplot()
        ax.plot(r, curves["ricker"], "C3", lw=2)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("r")
    ctx.claim("rb.nn.RBF computes the notes' Gaussian and Ricker functions", err < 1e-12,
              f"max difference from the formulas {err:.1e}")
    far = max(abs(curves["gaussian"][np.abs(r) > 3]).max(), abs(curves["ricker"][np.abs(r) > 3.8])
              .max())
    ctx.claim("A radial basis unit responds only near its centre", far < 0.01,
              f"|φ| < {far:.1e} beyond r = 3 (Gaussian) and r = 3.8 (Ricker)")

    rng = ctx.rng
    n = 200
    x, y = rb.datasets.sine(n, noise=0.05, low=-3, high=3, rng=rng)
    x, y = x.astype(np.float64), y.astype(np.float64)
    epochs = 300 if ctx.quick else 800
    fits = {}
    for kind in ("gaussian", "ricker"):
        r_ = np.random.default_rng(ctx.run_seed(2))  # the same for both kinds
        layer = rb.nn.RBF(1, 12, kind=kind, width=0.8, rng=r_, dtype=np.float64)
        layer.init_centers(x, rng=r_)
        net = rb.nn.Sequential(layer, rb.nn.Dense(12, 1, rng=r_, dtype=np.float64))
        rb.fit(net, x, y, loss="mse", optimizer=rb.optim.Adam(net.parameters(), lr=0.03),
               epochs=epochs, batch_size=50, metrics=(), progress=False, rng=r_)
        fits[kind] = (net, rb.training.evaluate(net, x, y, loss="mse", metrics=())["loss"])
    grid = np.linspace(-3, 3, 300).reshape(-1, 1)
    with ctx.figure("RBF networks of 12 units (1-12-1, centres on training points) fitted to "
                    f"{n} noisy samples of sin(x) through rb.fit.", size=(6, 3)) as fig:
        ax = fig.add_subplot()
        ax.scatter(x.ravel(), y.ravel(), s=6, color="0.6", label="data")
        for kind, (net, mse) in fits.items():
            ax.plot(grid, rb.training.predict(net, grid), lw=2, label=f"{kind}: MSE {mse:.4f}")
        ax.legend(fontsize=8)
    worst = max(m for _, m in fits.values())
    ctx.claim("A network of radial basis units fits a smooth function (sin x, noise 0.05)",
              worst < 0.01, ", ".join(f"{k}: training MSE {m:.4f}" for k, (_, m) in
                                      fits.items()))
