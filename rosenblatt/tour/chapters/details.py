"""Tour: the notes' networks drawn and differentiated by hand (notes: "Backpropagation",
"The details").

The lost figures "Simple neural network", "Single sigmoid neuron" and "A neural
network" are drawn from trained models (:mod:`rosenblatt.tour.diagrams`), and
the notes' chain-rule products and matrix equations are evaluated with their
live values and compared with autodiff.
"""

import time

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter
from rosenblatt.tour.diagrams import draw_network


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _draw_neuron(ax, x, w, b, net, out):
    """One sigmoid neuron expanded: inputs, weights, the sum (net input), the sigmoid."""
    from matplotlib.patches import Circle, FancyArrowPatch

    ys = np.linspace(1, -1, len(x) + 1)
    labels = [f"x{i + 1} = {v:+.2f}" for i, v in enumerate(x)] + ["1 (bias)"]
    weights = list(w) + [b]
    for y, text, wt in zip(ys, labels, weights):
        ax.add_patch(Circle((0, y), 0.17, facecolor="white", edgecolor="k", zorder=3))
        ax.text(-0.25, y, text, ha="right", va="center", fontsize=8)
        ax.add_patch(FancyArrowPatch((0.17, y), (1.55, 0), arrowstyle="-|>", mutation_scale=8,
                                     color="#2166ac" if wt > 0 else "#b2182b",
                                     lw=0.6 + 1.5 * min(abs(wt) / 4, 1)))
        ax.text(0.75, y * 0.55 + 0.08, f"w = {wt:+.2f}", fontsize=7, ha="center")
    ax.add_patch(Circle((1.8, 0), 0.27, facecolor="#f3f4f6", edgecolor="k", zorder=3))
    ax.text(1.8, 0, "Σ", ha="center", va="center", fontsize=13, zorder=4)
    ax.text(1.8, -0.45, f"net i = {net:+.2f}", ha="center", fontsize=8)
    ax.add_patch(FancyArrowPatch((2.07, 0), (2.73, 0), arrowstyle="-|>", mutation_scale=8))
    ax.add_patch(Circle((3.0, 0), 0.27, facecolor="#e5f5e0", edgecolor="k", zorder=3))
    ax.text(3.0, 0, "σ", ha="center", va="center", fontsize=13, zorder=4)
    ax.add_patch(FancyArrowPatch((3.27, 0), (3.9, 0), arrowstyle="-|>", mutation_scale=8))
    ax.text(3.95, 0, f"o = σ(i) = {out:.3f}", va="center", fontsize=8)
    ax.set_xlim(-1.6, 5.3)
    ax.set_ylim(-1.3, 1.3)
    ax.set_aspect("equal")
    ax.set_axis_off()


@chapter("The chain rule on the notes' simple network", section="Backpropagation", order=1,
         name="chain-rule")
def simple_network(ctx):
    ctx.text(
        "The notes' simple network: two inputs, two sigmoid hidden units, two sigmoid outputs, "
        "squared error E = ½ Σ (o − t)². The update of an output weight w₂,₁ needs "
        "∂E/∂w₂,₁ = ∂E/∂o₂,₁ × ∂o₂,₁/∂i₂,₁ × ∂i₂,₁/∂w₂,₁: the error, the sigmoid's slope "
        "o(1 − o), and the input that the weight multiplies. The network is trained briefly "
        "through `rb.fit`; then the three factors are read off its live values."
    )
    rng = ctx.rng
    x = rng.uniform(0, 1, (32, 2))
    t = np.stack([x.sum(1) > 1, x[:, 0] > x[:, 1]], 1).astype(np.float64)
    net = rb.nn.Sequential(rb.nn.Dense(2, 2, rng=rng, dtype=np.float64), rb.nn.Sigmoid(),
                           rb.nn.Dense(2, 2, rng=rng, dtype=np.float64), rb.nn.Sigmoid())
    rb.fit(net, x, t, loss="mse", optimizer=rb.optim.SGD(net.parameters(), lr=2.0,
                                                          momentum=0.9),
           epochs=60 if ctx.quick else 200, batch_size=8, metrics=(), progress=False, rng=rng)
    x0, t0 = x[:1], t[:1]
    with ctx.figure("The notes' simple network (2-2-2, sigmoid units) after training, drawn "
                    "from the model: connection colour and width are the weights (blue "
                    "positive, red negative), node colour the activation on one example.",
                    size=(5, 3.2), notes="Simple neural network") as fig:
        draw_network(fig.add_subplot(), net, x=x0[0])
    W1, b1 = net[0].W.data, net[0].b.data
    W2, b2 = net[2].W.data, net[2].b.data
    h = _sigmoid(x0 @ W1 + b1)[0]
    i_out = h @ W2 + b2
    o = _sigmoid(i_out)
    with ctx.figure("One output neuron of that network expanded, with its live values on the "
                    "example: weighted inputs summed into the net input i, passed through the "
                    "sigmoid.", size=(6, 2.6), notes="Single sigmoid neuron") as fig:
        _draw_neuron(fig.add_subplot(), h, W2[:, 0], b2[0], i_out[0], o[0])
    factors = [(o[0] - t0[0, 0]), o[0] * (1 - o[0]), h[0]]
    by_hand = float(np.prod(factors))
    net.zero_grad()
    pred = net(rb.tensor(x0))
    loss = ((pred - rb.tensor(t0)) ** 2).sum() * 0.5
    loss.backward()
    auto = float(net[2].W.grad[0, 0])
    ctx.table(["∂E/∂o", "∂o/∂i = o(1 − o)", "∂i/∂w = h₁", "product (by hand)", "autodiff"],
              [[*factors, by_hand, auto]])
    ctx.claim("The chain rule's product ∂E/∂o × ∂o/∂i × ∂i/∂w, from the network's live values, "
              "is the gradient that backpropagation computes for w₂,₁",
              abs(by_hand - auto) <= 1e-12 * max(1.0, abs(auto)),
              f"by hand {by_hand:.6e}, autodiff {auto:.6e}")


@chapter("The details: a network's equations in matrix form", section="The details", name="details")
def the_details(ctx):
    ctx.text(
        "The notes write a network layer by layer for a batch X: Z⁽ˡ⁾ = A⁽ˡ⁻¹⁾W⁽ˡ⁾ + b⁽ˡ⁾, "
        "A⁽ˡ⁾ = f(Z⁽ˡ⁾), and backwards δ⁽ˡ⁾ = (δ⁽ˡ⁺¹⁾W⁽ˡ⁺¹⁾ᵀ) ⊙ f′(Z⁽ˡ⁾), "
        "∂E/∂W⁽ˡ⁾ = A⁽ˡ⁻¹⁾ᵀδ⁽ˡ⁾. A 2-6-6-3 tanh network is trained on three spirals through "
        "`rb.fit`; then these equations, written out in NumPy, are compared with the "
        "library's forward pass and autodiff."
    )
    rng = ctx.rng
    x, y = rb.datasets.spirals(150 if ctx.quick else 300, n_classes=3, noise=0.1, rng=rng)
    x = x.astype(np.float64)
    net = rb.nn.Sequential(rb.nn.Dense(2, 6, rng=rng, dtype=np.float64), rb.nn.Tanh(),
                           rb.nn.Dense(6, 6, rng=rng, dtype=np.float64), rb.nn.Tanh(),
                           rb.nn.Dense(6, 3, rng=rng, dtype=np.float64))
    hist = rb.fit(net, x, y, loss="cross_entropy", optimizer=rb.optim.Adam(net.parameters(),
                                                                            lr=0.02),
                  epochs=60 if ctx.quick else 200, batch_size=32, progress=False, rng=rng)
    with ctx.figure("The network of the notes' \"details\" (2-6-6-3, tanh hidden units), drawn "
                    "from the trained model with its activations on one example "
                    f"(training accuracy {hist['accuracy'][-1]:.0%} on three spirals).",
                    size=(6, 3.6), notes="A neural network") as fig:
        draw_network(fig.add_subplot(), net, x=x[0])
    Ws = [net[k].W.data for k in (0, 2, 4)]
    bs = [net[k].b.data for k in (0, 2, 4)]
    A = [x]
    Z = []
    for k, (W, b) in enumerate(zip(Ws, bs)):
        Z.append(A[-1] @ W + b)
        A.append(np.tanh(Z[-1]) if k < 2 else Z[-1])
    out = rb.training.predict(net, x)
    fwd = float(np.abs(out - A[-1]).max())
    # Softmax cross-entropy (mean over the batch): delta at the output is (p - onehot) / m.
    p = np.exp(Z[-1] - Z[-1].max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    delta = (p - np.eye(3)[y]) / len(x)
    grads = [None, None, None]
    for k in (2, 1, 0):
        grads[k] = A[k].T @ delta
        if k:
            delta = (delta @ Ws[k].T) * (1 - np.tanh(Z[k - 1]) ** 2)
    net.zero_grad()
    loss = rb.losses.cross_entropy(net(rb.tensor(x)), y)
    loss.backward()
    bwd = max(float(np.abs(net[k].W.grad - g).max()) for k, g in zip((0, 2, 4), grads))
    ctx.claim("The notes' forward equations Z = AW + b, A = f(Z), layer by layer, give the "
              "network's outputs", fwd < 1e-12, f"max difference {fwd:.1e}")
    ctx.claim("The notes' backward equations δ⁽ˡ⁾ = (δ⁽ˡ⁺¹⁾W⁽ˡ⁺¹⁾ᵀ) ⊙ f′(Z⁽ˡ⁾) and "
              "∂E/∂W⁽ˡ⁾ = A⁽ˡ⁻¹⁾ᵀδ⁽ˡ⁾ give backpropagation's weight gradients",
              bwd < 1e-12, f"max difference over the three weight matrices {bwd:.1e}")
    _gradient_cost(ctx, rng)


def _central_differences(net, x, y, eps=1e-6):
    """∂E/∂w for every weight by (E(w + ε) − E(w − ε)) / 2ε: two forward passes per weight."""
    def loss():
        with rb.no_grad():
            return float(rb.losses.cross_entropy(net(rb.tensor(x)), y).item())
    grads = []
    for p in net.parameters():
        g = np.zeros_like(p.data)
        flat, gflat = p.data.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            w = flat[i]
            flat[i] = w + eps
            up = loss()
            flat[i] = w - eps
            gflat[i] = (up - loss()) / (2 * eps)
            flat[i] = w
        grads.append(g)
    return grads


def _backprop(net, x, y):
    net.zero_grad()
    rb.losses.cross_entropy(net(rb.tensor(x)), y).backward()
    return [p.grad.copy() for p in net.parameters()]


def _fastest(method, net, x, y, repeats):
    """The least time of ``repeats`` calls (the least disturbed by other work), and the result."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        result = method(net, x, y)
        best = min(best, time.perf_counter() - start)
    return best, result


def _gradient_cost(ctx, rng, gradient=_backprop):
    """Backpropagation's cost against finite differences (notes: "Backpropagation": the
    gradient for the cost of about one forward pass instead of one per weight).

    ``gradient``: the method under test, ``(net, x, y) -> list of arrays`` (the tests pass
    the finite differences themselves to check that the claim then fails).
    """
    x = rng.standard_normal((64, 64))
    y = rng.integers(0, 10, 64)
    rows, seconds = [], {}
    for hidden in (2, 16):
        r = np.random.default_rng(ctx.run_seed(0))
        net = rb.nn.Sequential(rb.nn.Dense(64, hidden, rng=r, dtype=np.float64), rb.nn.Tanh(),
                               rb.nn.Dense(hidden, 10, rng=r, dtype=np.float64))
        w = sum(p.data.size for p in net.parameters())
        fast, grads = _fastest(gradient, net, x, y, repeats=5)
        slow, numeric = _fastest(_central_differences, net, x, y, repeats=3)
        err = max(float(np.abs(g - n).max()) for g, n in zip(grads, numeric))
        seconds[w] = (fast, slow)
        rows.append([w, 2 * w, fast * 1e3, slow * 1e3, slow / fast, err])
    ctx.text(
        "What backpropagation saves: the gradient of a 64-h-10 tanh network's cross-entropy "
        "on 64 examples, by backpropagation (one forward and one backward pass) and by "
        "central differences (two forward passes per weight), for two hidden sizes.")
    ctx.table(["weights w", "forward passes for finite differences", "backprop (ms)",
               "finite differences (ms)", "ratio", "largest difference"], rows)
    (w1, (b1, n1)), (w2, (b2, n2)) = sorted(seconds.items())
    ctx.claim("Backpropagation gives all w derivatives for about the cost of one forward and "
              "one backward pass, where estimating them one weight at a time costs w forward "
              "passes or more: its advantage grows with w",
              n2 / b2 > 50 and (n2 / b2) > 2 * (n1 / b1) and max(r[5] for r in rows) < 1e-6,
              f"finite differences / backprop: {n1 / b1:.0f}× at w = {w1}, {n2 / b2:.0f}× at "
              f"w = {w2} (the same gradients within {max(r[5] for r in rows):.0e})")
