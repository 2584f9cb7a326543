"""Tour: neuroevolution II (notes: "Neuroevolution").

Multi-objective evolution: NSGA-II's fronts on ZDT1, ZDT2 and ZDT3 against
the true Pareto fronts, with the paper's convergence and spread metrics.
"""

import statistics

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter

# Deb, Pratap, Agarwal & Meyarivan (2002), Tables II and III: NSGA-II (real-coded),
# population 100, 250 generations: the mean convergence Upsilon and spread Delta.
PAPER_NSGA2 = {"ZDT1": (0.033482, 0.390307), "ZDT2": (0.072391, 0.430776),
               "ZDT3": (0.114500, 0.738540)}


def _pymoo_front(name, seed, generations):
    """pymoo's NSGA2 (the paper's operators) on the same problem, or None without pymoo."""
    try:
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.operators.crossover.sbx import SBX
        from pymoo.operators.mutation.pm import PM
        from pymoo.optimize import minimize
        from pymoo.problems import get_problem
    except ImportError:
        return None
    out = minimize(get_problem(name.lower()),
                   NSGA2(pop_size=100, crossover=SBX(prob=0.9, eta=20), mutation=PM(eta=20)),
                   ("n_gen", generations + 1), seed=seed, verbose=False)
    return np.asarray(out.F, dtype=np.float64)


def _nsga2(ctx):
    ev = rb.evolution
    ctx.text(
        "**Several objectives.** A network can be wanted accurate *and* small, fast *and* "
        "safe: objectives that conflict have no single best, only a *Pareto front* of "
        "solutions none of which is better in every objective. NSGA-II (Deb et al. 2002) "
        "evolves a whole front at once: it sorts parents and children into non-dominated "
        "fronts, keeps the best fronts, breaks the tie in the last one by *crowding "
        "distance* (solutions in sparse parts of the front survive), and picks parents by "
        "tournaments under the same order; SBX crossover and polynomial mutation make the "
        "children. On Zitzler, Deb and Thiele's test problems (30 variables in [0, 1]) the "
        "true front is known: ZDT1's is convex, ZDT2's concave, ZDT3's in five pieces. "
        "The paper measures *convergence* Upsilon (mean distance of the solutions to 500 "
        "points of the true front) and *spread* Delta (0 for solutions evenly spread from "
        "one end of the true front to the other); IGD (mean distance from the true front "
        "to the solutions) measures both at once."
    )
    generations = 250  # the paper's budget, in both modes (a run takes about a second)
    seeds = range(1) if ctx.quick else range(10)
    snapshots = (20, 50, 100)
    rows, fronts, history = [], {}, {}
    ratios = {}
    for name in ("ZDT1", "ZDT2", "ZDT3"):
        problem = getattr(ev.problems, name)()
        true = problem.true_front(500)
        metrics, pymoo_igd = [], []
        for seed in seeds:
            seen = {}

            def snap(state, seen=seen):
                if state["generation"] + 1 in snapshots:  # generation counts from 0
                    seen[state["generation"] + 1] = np.array(state["champion"])

            res = ev.NSGA2(2, population=100, rng=seed).run(
                problem, problem.n_variables, problem.bounds, generations,
                callbacks=[snap] if seed == 0 else None)
            metrics.append((ev.convergence(res.F, true), ev.spread(res.F, true),
                            ev.igd(res.F, true)))
            if seed == 0:
                fronts[name], history[name] = res.F, seen
            if not ctx.quick:
                F = _pymoo_front(name, seed, generations)
                if F is not None:
                    pymoo_igd.append(ev.igd(F, true))
        up, delta, igd = (statistics.median(m[k] for m in metrics) for k in range(3))
        paper_up, paper_delta = PAPER_NSGA2[name]
        ratios[name] = (up / paper_up, delta / paper_delta,
                        igd / statistics.median(pymoo_igd) if pymoo_igd else None)
        rows.append([name, up, paper_up, delta, paper_delta, igd,
                     statistics.median(pymoo_igd) if pymoo_igd else "-"])
    ctx.table(["problem", "Upsilon", "Upsilon (paper)", "Delta", "Delta (paper)", "IGD",
               "IGD (pymoo)"], rows,
              caption=f"NSGA-II, population 100, {generations} generations, SBX and "
                      f"polynomial mutation (eta 20), median over {len(seeds)} run(s); the "
                      f"paper's numbers are its means over 10 runs"
                      + ("" if ctx.quick else "; pymoo's NSGA2 run side by side with the "
                         "same operators and seeds") + ".")
    worst_up = max(r[0] for r in ratios.values())
    worst_delta = max(r[1] for r in ratios.values())
    ctx.claim("NSGA-II converges to the true front of ZDT1, ZDT2 and ZDT3: convergence "
              "Upsilon at most 1.5x the paper's", worst_up <= 1.5,
              ", ".join(f"{n} {r[0]:.3f}x" for n, r in ratios.items()))
    ctx.claim("and spreads its solutions along it: spread Delta at most 1.2x the paper's",
              worst_delta <= 1.2, ", ".join(f"{n} {r[1]:.3f}x" for n, r in ratios.items()))
    if all(r[2] is not None for r in ratios.values()):
        ctx.claim("IGD within 1.2x of pymoo's NSGA2 run side by side",
                  max(r[2] for r in ratios.values()) <= 1.2,
                  ", ".join(f"{n} {r[2]:.3f}x" for n, r in ratios.items()))
    covered = {}
    for name, F in fronts.items():
        true = getattr(ev.problems, name)().true_front(500)
        # no gap: 100 solutions evenly spread on a front ~1.5 long are ~0.015 apart
        near = np.sqrt(((true[:, None, :] - F[None]) ** 2).sum(-1)).min(axis=1)
        covered[name] = (float((near < 0.05).mean()), float(near.max()))
    ctx.claim("The final population covers the whole true front, ZDT3's five pieces included "
              "(every one of 500 points of the true front within 0.05 of a solution)",
              min(c for c, _ in covered.values()) == 1.0,
              ", ".join(f"{n}: {100 * c:.0f}% covered, farthest point {d:.3f} away"
                        for n, (c, d) in covered.items()))

    with ctx.figure("NSGA-II on ZDT1 (convex), ZDT2 (concave) and ZDT3 (disconnected): the "
                    "non-dominated solutions of the first run after 20, 50, 100 and 250 "
                    "generations against the true Pareto front (line).",
                    size=(12, 3.4)) as fig:
        axes = fig.subplots(1, 3)
        for ax, name in zip(axes, fronts):
            problem = getattr(ev.problems, name)()
            true = problem.true_front(500)
            if name == "ZDT3":  # draw the five pieces apart
                gaps = np.flatnonzero(np.diff(true[:, 0]) > 0.01) + 1
                for piece in np.split(true, gaps):
                    ax.plot(piece[:, 0], piece[:, 1], "k-", lw=1, zorder=3)
            else:
                ax.plot(true[:, 0], true[:, 1], "k-", lw=1, label="true front", zorder=3)
            for (g, F), shade in zip(sorted(history[name].items()), (0.8, 0.6, 0.4)):
                ax.plot(F[:, 0], F[:, 1], ".", ms=3, color=str(shade), label=f"gen {g}")
            F = fronts[name]
            ax.plot(F[:, 0], F[:, 1], "o", ms=3, color="C3", label=f"gen {generations}")
            seen = np.concatenate(list(history[name].values()) + [F])
            ax.set_ylim(-0.9 if name == "ZDT3" else -0.05, min(3.0, seen[:, 1].max() + 0.1))
            ax.set_xlim(-0.02, 1.02)
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("$f_1$")
            ax.set_ylabel("$f_2$")
        axes[0].legend(fontsize=7)


def _nsga2_network(ctx):
    ev = rb.evolution
    ctx.text(
        "The same algorithm on the weights of a network: a 2-4-1 tanh network for XOR, its "
        "13 weights and 4 biases the genome (CNE's), a weight smaller than 0.5 in size read "
        "as *no connection*. The two objectives are the squared error and the number of "
        "connections; the front is the best error at each size."
    )
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    rng = np.random.default_rng(0)
    net = rb.nn.Sequential(rb.nn.Dense(2, 4, rng=rng), rb.nn.Tanh(), rb.nn.Dense(4, 1, rng=rng),
                           rb.nn.Sigmoid()).astype(np.float64)
    res = ev.NSGA2(2, population=100, rng=0).evolve_weights(
        net, ev.error_and_connections(net, X, y), 200, bound=8.0, prune_below=0.5)
    out = ev.population_forward(net, res.X, X)[:, :, 0]
    solves = ((out > 0.5) == (y[:, 0] > 0.5)).all(axis=1)
    connections = res.F[:, 1].astype(int)
    ctx.table(["connections", "squared error", "solves XOR"],
              [[c, e, bool(ok)] for (e, c), ok in zip(res.F, solves)],
              caption="The final front of NSGA-II on XOR (population 100, 200 generations): "
                      "error against the number of connections of a 2-4-1 network.")
    smallest = int(connections[solves].min()) if solves.any() else None
    ctx.claim("On a network, NSGA-II's front trades error for size and finds the smallest "
              "XOR network the architecture allows (two hidden units: 6 connections)",
              smallest == 6 and not solves[connections < 6].any(),
              f"smallest network classifying all four points: {smallest} connections; "
              f"{int((connections < 6).sum())} smaller networks on the front, none solves it")
    with ctx.figure("The Pareto front of error against connections for XOR: every point is "
                    "a network no other beats in both.", size=(4.5, 3)) as fig:
        ax = fig.subplots()
        ax.step(res.F[:, 1], res.F[:, 0], where="post", color="0.6")
        ax.plot(res.F[~solves, 1], res.F[~solves, 0], "o", color="C0", label="fails XOR")
        ax.plot(res.F[solves, 1], res.F[solves, 0], "o", color="C3", label="solves XOR")
        ax.set_xlabel("connections")
        ax.set_ylabel("mean squared error")
        ax.legend(fontsize=7)


@chapter("Neuroevolution II: NSGA-II, coevolution and cascading elitism",
         section="Neuroevolution", order=91)
def run(ctx):
    ctx.text(
        "The second half of the notes' neuroevolution: evolution with several objectives "
        "(NSGA-II and the Pareto front)."
    )
    _nsga2(ctx)
    _nsga2_network(ctx)
