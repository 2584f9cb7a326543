"""Tour: training algorithms (notes: "Training algorithms": momentum, Nesterov, Adagrad,
Adadelta, RMSprop, Adam)."""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter

# An ill-conditioned quadratic valley: curvatures 0.2 and 20 along axes rotated by 30 degrees.
_ANGLE = np.pi / 6
_R = np.array([[np.cos(_ANGLE), -np.sin(_ANGLE)], [np.sin(_ANGLE), np.cos(_ANGLE)]])
_A = _R @ np.diag([0.2, 20.0]) @ _R.T
_START = np.array([-4.0, 2.0])

_SURFACE_OPTIMIZERS = [
    ("SGD", lambda p: rb.optim.SGD(p, lr=0.06)),
    ("momentum 0.9", lambda p: rb.optim.SGD(p, lr=0.06, momentum=0.9)),
    ("Nesterov 0.9", lambda p: rb.optim.SGD(p, lr=0.06, momentum=0.9, nesterov=True)),
    ("Adagrad", lambda p: rb.optim.Adagrad(p, lr=0.5)),
    ("Adadelta", lambda p: rb.optim.Adadelta(p, lr=1.0)),
    ("RMSprop", lambda p: rb.optim.RMSprop(p, lr=0.05)),
    ("Adam", lambda p: rb.optim.Adam(p, lr=0.3)),
]


def _surface(theta):
    return 0.5 * np.einsum("...i,ij,...j->...", theta, _A, theta)


class _Valley(rb.nn.Module):
    """The valley as a model: its one parameter is θ, its output the cost ½ θᵀAθ + θ·x.

    An input x (a row of noise) makes the gradient noisy; zeros leave the valley as it is.
    """

    def __init__(self, start, A=_A):
        self.theta = rb.nn.Parameter(np.array(start, dtype=np.float64))
        self.A = np.asarray(A, dtype=np.float64)

    def forward(self, x):
        theta = self.theta
        return 0.5 * (theta @ (rb.tensor(self.A) @ theta)) + (x @ theta).sum()


def _descend(valley, optimizer, inputs, record, loss=lambda cost, _: cost, targets=None):
    """One ``rb.fit`` step per row of ``inputs`` (the output is the cost, unless ``loss`` and
    ``targets`` are given); ``record()`` after each."""
    rb.fit(valley, inputs, targets, loss=loss, optimizer=optimizer, epochs=1,
           batch_size=1, shuffle=False, metrics=(), progress=False,
           callbacks=[rb.callbacks.LambdaCallback(on_batch_end=lambda *_: record())])


def _path(make, steps):
    """Run an optimizer on the valley; return the path and the optimizer."""
    valley = _Valley(_START)
    opt = make(valley.parameters())
    path = [valley.theta.data.copy()]
    _descend(valley, opt, np.zeros((steps, 2)), lambda: path.append(valley.theta.data.copy()))
    return np.array(path), opt


@chapter("Optimizers: paths on an error surface and learning curves",
         section="Training algorithms")
def run(ctx):
    steps = 100
    ctx.text(
        f"Each optimizer starts at ({_START[0]:g}, {_START[1]:g}) on the valley "
        "J(θ) = ½ θᵀAθ, whose curvatures differ by a factor 100 (0.2 and 20), and takes "
        f"{steps} steps. Plain gradient descent must use a learning rate small enough for "
        "the steep direction (here 0.06, below 2/20) and then crawls along the shallow "
        "one; momentum keeps a velocity that accumulates along the valley and cancels "
        "across it."
    )
    results = {}
    for name, make in _SURFACE_OPTIMIZERS:
        path, opt = _path(make, steps)
        results[name] = (path, opt)
    rows = [[name, float(_surface(p[-1])), int(np.argmax(_surface(p) < 1e-3))
             if np.any(_surface(p) < 1e-3) else f"> {steps}"]
            for name, (p, _) in results.items()]
    ctx.table(["optimizer", f"J after {steps} steps", "steps until J < 1e-3"], rows)
    with ctx.figure("Paths of the optimizers on the valley (contours of J). SGD zig-zags "
                    "across the valley and crawls along it; momentum and Nesterov "
                    "overshoot and settle; the adaptive methods rescale each coordinate.",
                    size=(10, 4.2)) as fig:
        ax = fig.add_subplot()
        gx, gy = np.meshgrid(np.linspace(-4.6, 4.6, 300), np.linspace(-2.8, 2.8, 200))
        z = _surface(np.stack([gx, gy], axis=-1))
        ax.contour(gx, gy, z, levels=np.geomspace(1e-3, 40, 14), colors="grey",
                   linewidths=0.5)
        for i, (name, (path, _)) in enumerate(results.items()):
            ax.plot(path[:, 0], path[:, 1], "-", marker=".", ms=3, lw=1, color=f"C{i}",
                    label=name)
        ax.plot(0, 0, "k*", ms=12)
        ax.set_aspect("equal")
        ax.set_xlim(-4.6, 4.6)
        ax.set_ylim(-2.8, 2.8)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    j = {name: float(_surface(p[-1])) for name, (p, _) in results.items()}
    ctx.claim("Momentum (and Nesterov momentum) speed gradient descent along a shallow "
              "valley", max(j["momentum 0.9"], j["Nesterov 0.9"]) < j["SGD"] / 10,
              f"after {steps} steps at lr 0.06: J = {j['SGD']:.2e} (SGD), "
              f"{j['momentum 0.9']:.2e} (momentum 0.9), {j['Nesterov 0.9']:.2e} (Nesterov)")

    # -- Adagrad's shrinking learning rate -----------------------------------------------
    rng = ctx.rng
    noisy_steps = 300 if ctx.quick else 1000
    noise = rng.standard_normal((noisy_steps, 2))  # a noisy quadratic: gradients keep arriving
    adagrad_valley, rmsprop_valley = (_Valley([1.0, -1.0], A=np.eye(2)) for _ in range(2))
    adagrad = rb.optim.Adagrad(adagrad_valley.parameters(), lr=0.5)
    rmsprop = rb.optim.RMSprop(rmsprop_valley.parameters(), lr=0.05)
    eff_ada, eff_rms = [], []
    _descend(adagrad_valley, adagrad, noise, lambda: eff_ada.append(
        adagrad.lr / (np.sqrt(adagrad.sum_sq) + adagrad.eps)))
    _descend(rmsprop_valley, rmsprop, noise, lambda: eff_rms.append(
        rmsprop.lr / (np.sqrt(_rms_state(rmsprop)) + rmsprop.eps)))
    eff_ada, eff_rms = np.array(eff_ada), np.array(eff_rms)
    with ctx.figure("Effective per-parameter learning rate η/(√G + ε) of Adagrad on a noisy "
                    "quadratic keeps falling; RMSprop's running average lets it recover.",
                    size=(6.5, 3)) as fig:
        ax = fig.add_subplot()
        ax.loglog(range(1, noisy_steps + 1), eff_ada[:, 0], label="Adagrad (θ₁)")
        ax.loglog(range(1, noisy_steps + 1), eff_rms[:, 0], label="RMSprop (θ₁)")
        ax.set_xlabel("step")
        ax.set_ylabel("effective learning rate")
        ax.legend()
        ax.grid(True, alpha=0.3)
    _learning_ceases(ctx, rng, noise)
    ctx.claim("RMSprop/Adadelta's decaying average of squared gradients does not halt "
              "learning", bool(np.any(np.diff(eff_rms, axis=0) > 0))
              and eff_rms[-1].min() > 0.1 * eff_rms[len(eff_rms) // 10].min(),
              f"RMSprop's effective rate at the end: {eff_rms[-1].min():.3f} "
              f"(it rises and falls with the gradients)")

    _rare_features(ctx, rng)

    # -- learning curves on a real network ---------------------------------------------
    x, y = rb.datasets.spirals(300, noise=0.05, turns=1.0, rng=rng)
    epochs = 300 if ctx.quick else 1000
    makers = [
        ("gradient descent", lambda p: rb.optim.SGD(p, lr=0.3)),
        ("momentum", lambda p: rb.optim.SGD(p, lr=0.3, momentum=0.9)),
        ("Nesterov", lambda p: rb.optim.SGD(p, lr=0.3, momentum=0.9, nesterov=True)),
        ("Adagrad", lambda p: rb.optim.Adagrad(p, lr=0.1)),
        ("Adadelta", lambda p: rb.optim.Adadelta(p, lr=1.0)),
        ("RMSprop", lambda p: rb.optim.RMSprop(p, lr=0.01)),
        ("Adam", lambda p: rb.optim.Adam(p, lr=0.02)),
    ]
    seed = int(rng.integers(2**31))
    curves = {}
    for name, make in makers:
        r = np.random.default_rng(seed)
        net = rb.nn.Sequential(rb.nn.Dense(2, 64, rng=r), rb.nn.Tanh(), rb.nn.Dense(64, 2, rng=r))
        curves[name] = rb.fit(net, x, y, loss="cross_entropy", optimizer=make(net.parameters()),
                              epochs=epochs, batch_size=len(x), metrics=(), progress=False,
                              rng=np.random.default_rng(seed))["loss"]
    with ctx.figure(f"Training loss of a 2-64-2 tanh network on two spirals ({len(x)} points, "
                    "full batch), same initial weights for every optimizer. Plain gradient "
                    "descent stalls on the plateau at the linear solution.",
                    size=(7, 3.4)) as fig:
        ax = fig.add_subplot()
        for name, c in curves.items():
            ax.semilogy(range(1, len(c) + 1), c, label=name)
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy")
        ax.legend(fontsize=8, ncol=2)
        ax.grid(True, alpha=0.3)
    final = {k: v[-1] for k, v in curves.items()}
    ctx.table(["optimizer", f"training loss after {epochs} steps"],
              [[k, v] for k, v in final.items()])
    faster = ("momentum", "Nesterov", "Adagrad", "RMSprop", "Adam")
    beat = [k for k in faster if final[k] < final["gradient descent"]]
    ctx.claim("Momentum, Nesterov momentum and the adaptive methods (Adagrad, RMSprop, Adam) "
              "train the network faster than plain gradient descent", len(beat) == len(faster),
              f"loss below gradient descent's ({final['gradient descent']:.3f}): "
              + (", ".join(f"{k} {final[k]:.3f}" for k in beat) or "none"))


_SHIFT = np.array([-3.0, 3.0])  # added to the noise: the optimum −mean(x) moves to (3, −3)


def _gap_closed(make, noise, moved, reset):
    """Run ``make``'s optimizer on the noisy valley, then move the optimum for ``moved`` steps.

    ``reset``: start a new optimizer when the optimum moves (no accumulated history).
    Returns the length of every step and the fraction of the distance to the moved optimum
    left after the ``moved`` steps.
    """
    valley = _Valley([1.0, -1.0], A=np.eye(2))
    opt = make(valley.parameters())
    path = [valley.theta.data.copy()]
    _descend(valley, opt, noise, lambda: path.append(valley.theta.data.copy()))
    if reset:
        opt = make(valley.parameters())
    start = np.linalg.norm(valley.theta.data + _SHIFT)
    _descend(valley, opt, moved + _SHIFT, lambda: path.append(valley.theta.data.copy()))
    steps = np.linalg.norm(np.diff(np.array(path), axis=0), axis=1)
    return steps, float(np.linalg.norm(valley.theta.data + _SHIFT) / start)


def _learning_ceases(ctx, rng, noise, make=lambda p: rb.optim.Adagrad(p, lr=0.5)):
    """Adagrad's steps shrink, and once the optimum moves it cannot follow (notes: "Adagrad":
    "learning eventually virtually ceases").

    ``make``: the optimizer under test (the tests pass RMSprop to check that the claim then
    fails).
    """
    n, moved = len(noise), 50
    later = rng.standard_normal((moved, 2))
    steps, left = _gap_closed(make, noise, later, reset=False)
    _, left_fresh = _gap_closed(make, noise, later, reset=True)
    early, late = steps[:100].mean(), steps[n - 100:n].mean()
    ctx.text(
        f"Does learning cease? The mean length of Adagrad's steps over the first and the last "
        f"100 of the {n} noisy steps, then the optimum moves from (0, 0) to (3, −3) and "
        f"Adagrad takes {moved} more steps: with its accumulated G, and started afresh there.")
    ctx.table(["mean |step|, steps 1-100", f"mean |step|, steps {n - 99}-{n}",
               f"distance left after {moved} steps (accumulated G)",
               "distance left (started afresh)"],
              [[float(early), float(late), left, left_fresh]])
    ctx.claim("Adagrad's per-parameter learning rate only shrinks, so learning eventually "
              "virtually ceases: its steps shrink, and when the optimum moves it follows far "
              "more slowly than the same optimizer started afresh",
              late < 0.5 * early and left > 2 * left_fresh,
              f"mean step {early:.3f} → {late:.3f}; after the optimum moved, {left:.0%} of the "
              f"distance left after {moved} steps, against {left_fresh:.0%} when started afresh")


def _rare_features(ctx, rng, frequent=0.5, rare=0.02):
    """Adagrad and RMSprop give rare features larger learning rates (notes: "Adagrad",
    "RMSprop": "higher learning rates are assigned to infrequently updated parameters").

    ``frequent``, ``rare``: how often the two groups of binary features are on (the tests
    pass ``rare=0.5`` to check that the claim then fails).
    """
    freqs = np.array([frequent] * 16 + [rare] * 8)
    steps = 600
    x = (rng.random((steps, len(freqs))) < freqs).astype(np.float64)
    w_true = rng.choice([-1.0, 1.0], len(freqs)) * rng.uniform(1, 2, len(freqs))
    y = x @ w_true[:, None]
    group = {"frequent": slice(0, 16), "rare": slice(16, None)}
    makers = [("SGD", lambda p: rb.optim.SGD(p, lr=0.05)),
              ("Adagrad", lambda p: rb.optim.Adagrad(p, lr=0.5)),
              ("RMSprop", lambda p: rb.optim.RMSprop(p, lr=0.05))]
    rates = {  # the effective per-weight rate η / (√G + ε) after each step
        "Adagrad": lambda o: o.lr / (np.sqrt(o.sum_sq.ravel()) + o.eps),
        "RMSprop": lambda o: o.lr / (np.sqrt(_rms_state(o).ravel()) + o.eps),
    }
    rows, ratio = [], {}
    for name, make in makers:
        model = rb.nn.Dense(len(freqs), 1, bias=False, dtype=np.float64)
        model.W.data[...] = 0.0
        opt = make(model.parameters())
        trace, rate = [], rates.get(name)

        def record(trace=trace, opt=opt, rate=rate):  # bound to this run
            if rate is not None:
                trace.append(rate(opt))

        _descend(model, opt, x, record, loss="mse", targets=y)
        error = np.abs(model.W.data[:, 0] - w_true) / np.abs(w_true)
        if name in rates:
            # the median over the second half of the run: RMSprop's rate swings with each
            # step's gradient (and jumps while a rare feature is off)
            eff = np.median(np.array(trace)[steps // 2:], axis=0)
            ratio[name] = eff[group["rare"]].mean() / eff[group["frequent"]].mean()
            rates_cells = [eff[group["frequent"]].mean(), eff[group["rare"]].mean()]
        else:
            rates_cells = [opt.lr, opt.lr]
        rows.append([name, *rates_cells, error[group["frequent"]].mean(),
                     error[group["rare"]].mean()])
    ctx.text(
        f"Sparse data: a linear model, {steps} examples seen once (batch 1), 16 binary "
        f"features on with probability {frequent:g} and 8 on with probability {rare:g}; the "
        "target is an exact linear function of them. A weight gets a gradient only when its "
        "feature is on, so a rare feature's sum of squared gradients stays small and "
        "Adagrad and RMSprop divide its rate by less.")
    ctx.table(["optimizer", "rate of frequent weights", "rate of rare weights",
               "relative error, frequent weights", "relative error, rare weights"], rows,
              caption="Rates: the median of η/(√G + ε) over the second half of the run.")
    err = {r[0]: (r[3], r[4]) for r in rows}
    ahead = [group for group, k in (("frequent", 0), ("rare", 1))
             if err["Adagrad"][k] < err["SGD"][k]]
    ctx.text(
        f"Relative error after the one pass: rare weights {err['Adagrad'][1]:.2f} with "
        f"Adagrad, {err['SGD'][1]:.2f} with SGD; frequent weights {err['Adagrad'][0]:.3f} and "
        f"{err['SGD'][0]:.3f}. "
        + ("Adagrad is ahead on both groups at these rates, so this run does not isolate a "
           "benefit for the rare features; " if len(ahead) == 2 else
           f"Adagrad is ahead on the {ahead[0]} weights only; " if ahead else "")
        + "the claim below is about the rates.")
    ctx.claim("Adagrad and RMSprop assign higher learning rates to infrequently updated "
              "parameters (rare features)", min(ratio.values()) > 2,
              "rate of the rare weights / rate of the frequent: "
              + ", ".join(f"{k} {v:.1f}×" for k, v in ratio.items()))


def _rms_state(opt):
    """RMSprop's running average of squared gradients (whatever the attribute is called)."""
    for name in ("square_avg", "sq_avg", "avg_sq", "mean_sq", "v"):
        if isinstance(getattr(opt, name, None), np.ndarray):
            return getattr(opt, name)
    raise AttributeError("RMSprop: cannot find the running average of squared gradients")
