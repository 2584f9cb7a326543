"""Tour, statistical training: Cauchy training against backprop, counted in network passes
(notes: "Statistical (stochastic) training": "Still, Cauchy training may be much slower than
backprop").

A section of the chapter :mod:`rosenblatt.tour.chapters.statistical`, which calls
:func:`cauchy_against_backprop` with its ``ctx`` and ``rng``; the leading underscore keeps the
tour from taking this module for a chapter of its own.

How the work is counted: one forward pass of the network over the training set is the unit.
An objective evaluation of Cauchy training is one forward pass. A gradient step of backprop is
one forward pass and one backward pass, and the backward pass is charged as two forward
passes (per dense layer it does two matrix products, the error sent down and the weights'
gradient, where the forward pass does one), so a gradient step costs 3 units. Wall time is not
used: it measures the implementation (the annealer's evaluations below run in NumPy, the
gradient steps through the autodiff engine), not the methods.
"""

import numpy as np

import rosenblatt as rb

FORWARD, BACKWARD = 1, 2  # the cost of a forward and of a backward pass, in forward passes


class _Objective:
    """The mean squared error of a d-h-1 tanh network, counting the passes spent on it.

    Called with gradient recording on (backprop, or an annealer mixed with backprop), it
    returns the loss as a Tensor and is charged a forward and a backward pass: every such
    call here is differentiated. Called under ``rb.no_grad()`` (the annealer's evaluations
    of its moves), it returns a float computed in NumPy from the same weights, the same
    function, and is charged a forward pass.
    """

    def __init__(self, model, x, y):
        self.model, self.x, self.y = model, x, y
        self.X, self.Y = rb.tensor(x), rb.tensor(y)
        self.passes = 0

    def __call__(self):
        if rb.autodiff.is_grad_enabled():
            self.passes += FORWARD + BACKWARD
            return ((self.model(self.X) - self.Y) ** 2).mean()
        self.passes += FORWARD
        # read the weights at each call: an annealer packs them into one vector (new arrays)
        first, last = self.model[0], self.model[2]
        r = np.tanh(self.x @ first.W.data + first.b.data) @ last.W.data + last.b.data - self.y
        return float(np.mean(r * r))


def _network(d, hidden, seed):
    r = np.random.default_rng(seed)
    return rb.nn.Sequential(rb.nn.Dense(d, hidden, rng=r, dtype=np.float64), rb.nn.Tanh(),
                            rb.nn.Dense(hidden, 1, rng=r, dtype=np.float64))


def _backprop_passes(x, y, seed, hidden, target, lr, budget):
    """Full-batch gradient descent with momentum 0.9: passes spent until J < target (or the
    budget, as a lower bound), and the best J so far after each step's passes."""
    model = _network(x.shape[1], hidden, seed)
    objective = _Objective(model, x, y)
    opt = rb.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    curve = []
    while objective.passes < budget:
        opt.zero_grad()
        loss = objective()
        curve.append((objective.passes - BACKWARD, float(loss.data)))
        if curve[-1][1] < target:  # this last forward pass is not differentiated
            objective.passes -= BACKWARD
            return objective.passes, True, curve
        loss.backward()
        opt.step()
    return objective.passes, False, curve


def _cauchy_passes(x, y, seed, hidden, target, budget, annealer):
    """Cauchy training (whole-vector moves, T = T0 / (1 + t)): passes spent until the best
    J seen is below target (or the budget), and the best J after each step's passes."""
    model = _network(x.shape[1], hidden, seed)
    objective = _Objective(model, x, y)
    opt = rb.optim.CauchyAnnealer(model.parameters(), rng=seed, **annealer)
    curve = []
    while objective.passes < budget:
        opt.step(objective)
        curve.append((objective.passes, opt.best_loss))
        if opt.best_loss < target:
            return objective.passes, True, curve
    return objective.passes, False, curve


def cauchy_against_backprop(ctx, rng, *, runs=None, lr=0.3, annealer=None, budget=30000,
                            inputs=16, hidden=32, level=0.02):
    """Passes over the data that Cauchy training and backprop need to reach one loss level.

    Parameters
    ----------
    ctx : Context
    rng : numpy.random.Generator
        Draws the data set and each run's initial weights (the same for both methods).
    runs : int, optional
        Initial weights tried; default 5 (quick) or 10.
    lr : float, default 0.3
        Backprop's learning rate (momentum 0.9).
    annealer : dict, optional
        Keyword arguments of ``rb.optim.CauchyAnnealer``; default ``T0=1``, ``rho=1``
        (pure Cauchy training, ``k`` from the first objective).
    budget : int, default 30000
        Passes allowed to each run of each method; a run that does not reach the level
        is counted at the budget (a lower bound).
    inputs, hidden : int, default 16 and 32
        The network's sizes (``(inputs + 2) hidden + 1`` weights).
    level : float, default 0.02
        The loss to reach, as a fraction of the targets' variance.

    Returns
    -------
    list of float
        Per run, Cauchy's passes over backprop's.
    """
    runs = runs or (5 if ctx.quick else 10)
    annealer = {"T0": 1.0, "rho": 1.0} if annealer is None else dict(annealer)
    d, n = inputs, 32
    x = rng.uniform(-1, 1, (n, d))
    y = np.sin(2 * x.sum(axis=1, keepdims=True) / np.sqrt(d / 2))
    target = level * float(y.var())
    P = (d + 2) * hidden + 1
    seeds = [int(s) for s in rng.integers(2**31, size=runs)]
    rows, ratios, curves = [], [], []
    reached = {"backprop": 0, "Cauchy": 0}
    for seed in seeds:
        bp, bp_ok, bp_curve = _backprop_passes(x, y, seed, hidden, target, lr, budget)
        ca, ca_ok, ca_curve = _cauchy_passes(x, y, seed, hidden, target, budget, annealer)
        reached["backprop"] += bp_ok
        reached["Cauchy"] += ca_ok
        ratios.append(ca / bp)
        curves.append((bp_curve, ca_curve))
        rows.append([seed, (bp - FORWARD) // (FORWARD + BACKWARD), bp if bp_ok else f"≥ {bp}",
                     ca if ca_ok else f"≥ {ca}", ca / bp])
    ctx.text(
        "**Cauchy training against backprop, counted in passes over the data.** A "
        f"{d}-{hidden}-1 tanh network ({P} weights) fits a smooth function of {d} inputs on "
        f"{n} points until its mean squared error falls below {level:.0%} of the targets' "
        "variance, "
        f"from {runs} random initial weights, each the same for both methods: backprop "
        f"(full-batch gradient descent, rate {lr:g}, momentum 0.9) and Cauchy training "
        f"(rb.optim.CauchyAnnealer, {', '.join(f'{k} = {v:g}' for k, v in annealer.items())}, "
        f"whole-vector moves). The cost is counted in forward passes over the {n} points: an "
        "annealer's objective evaluation is one, a gradient step (a forward and a backward "
        "pass) three, the backward pass charged as two forward passes (two matrix products "
        "per layer against one).")
    ctx.table(["initial weights (seed)", "backprop: gradient steps",
               "backprop: forward passes (3 per step)", "Cauchy: forward passes (evaluations)",
               "Cauchy / backprop"], rows)
    with ctx.figure("Best loss so far against the forward passes spent (log scale), for each "
                    "initial weights: backprop (blue) and Cauchy training (orange); the dashed "
                    "line is the level both must reach.", size=(7, 3)) as fig:
        ax = fig.add_subplot()
        for k, (bp_curve, ca_curve) in enumerate(curves):
            b, c = np.array(bp_curve), np.array(ca_curve)
            ax.plot(b[:, 0], np.minimum.accumulate(b[:, 1]), color="C0", lw=1,
                    label="backprop" if k == 0 else None)
            ax.plot(c[:, 0], c[:, 1], color="C1", lw=1, label="Cauchy" if k == 0 else None)
        ax.axhline(target, color="grey", ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("forward passes over the data")
        ax.set_ylabel("best mean squared error")
        ax.legend(fontsize=8)
    median = float(np.median(ratios))
    # In the chapter, over tour seeds 0-9 (quick, 5 runs each), the median ratio was 13.4-18.2
    # and the lowest single run 9.7. T0 = 1 is not a strawman: on seeds 0-2, T0 = 0.3 gave
    # medians of 11-17, T0 = 3 23-27, the default (the initial weights' RMS) 12-16. Given the
    # gradient (backprop_weight=1, lr=0.2) the annealer needed 4.6-6.8 times backprop's passes
    # (medians, seeds 0-9), and against backprop at rate 0.01 Cauchy was only 1.2-2.2 times
    # slower: both fail the claim (tests/tour/test_claims_s11_notes.py)
    ctx.claim("Cauchy training may be much slower than backprop: to reach the same loss it "
              "needs many times (here at least 10 times) the passes over the data",
              reached["backprop"] == runs and median >= 10,
              f"median over {runs} initial weights: Cauchy {median:.0f} times the forward "
              f"passes of backprop (each run: {', '.join(f'{r:.0f}' for r in ratios)}); "
              f"backprop reached the level from {reached['backprop']} of {runs} in "
              f"{int(np.median([r[1] for r in rows]))} gradient steps (median), Cauchy "
              f"from {reached['Cauchy']} of {runs} within {budget} passes")
    return ratios
