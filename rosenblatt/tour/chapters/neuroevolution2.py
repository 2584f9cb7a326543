"""Tour: neuroevolution II (notes: "Neuroevolution").

Competitive coevolution (tic-tac-toe players measured against random and
perfect players they never meet), cooperative coevolution (CoSyNE against
ESP, NEAT and CNE on double-pole balancing, and an ESP run), cascading
elitism against a weighted sum, and NSGA-II: its fronts on ZDT1, ZDT2 and
ZDT3 against the true Pareto fronts with the paper's convergence and spread
metrics, and an error/size front of XOR networks.
"""

import statistics

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter
from rosenblatt.tour.chapters._noisy_fitness import averaging_over_plays

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
    seeds = range(3) if ctx.quick else range(10)
    snapshots = (20, 50, 100)
    rows, fronts, history = [], {}, {}
    ratios, covered = {}, {}
    for name in ("ZDT1", "ZDT2", "ZDT3"):
        problem = getattr(ev.problems, name)()
        true = problem.true_front(500)
        metrics, pymoo_igd, cover = [], [], []
        for seed in seeds:
            seen = {}

            def snap(state, seen=seen):
                if state["generation"] + 1 in snapshots:  # generation counts from 0
                    seen[state["generation"] + 1] = np.array(state["champion"])

            res = ev.NSGA2(2, population=100, rng=ctx.run_seed(seed)).run(
                problem, problem.n_variables, problem.bounds, generations,
                callbacks=[snap] if seed == 0 else None)
            metrics.append((ev.convergence(res.F, true), ev.spread(res.F, true),
                            ev.igd(res.F, true)))
            # no gap: 100 solutions evenly spread on a front ~1.5 long are ~0.015 apart
            near = np.sqrt(((true[:, None, :] - res.F[None]) ** 2).sum(-1)).min(axis=1)
            cover.append((float((near < 0.05).mean()), float(near.max())))
            if seed == 0:
                fronts[name], history[name] = res.F, seen
            if not ctx.quick:
                F = _pymoo_front(name, ctx.run_seed(seed) % 2**32, generations)
                if F is not None:
                    pymoo_igd.append(ev.igd(F, true))
        covered[name] = cover
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
    ctx.claim("NSGA-II spreads its solutions along the true front: spread Delta at most 1.2x "
              "the paper's",
              worst_delta <= 1.2, ", ".join(f"{n} {r[1]:.3f}x" for n, r in ratios.items()))
    if all(r[2] is not None for r in ratios.values()):
        ctx.claim("IGD within 1.2x of pymoo's NSGA2 run side by side",
                  max(r[2] for r in ratios.values()) <= 1.2,
                  ", ".join(f"{n} {r[2]:.3f}x" for n, r in ratios.items()))
    # a run can lose one of ZDT3's pieces (tour seeds 0-39: 3 of 40 runs did): judged over
    # the runs, most of which must cover the whole front
    whole = {n: sum(c == 1.0 for c, _ in runs) for n, runs in covered.items()}
    ctx.claim("The final population covers the whole true front, ZDT3's five pieces included, "
              "in most runs (every one of 500 points of the true front within 0.05 of a "
              "solution)", all(2 * k > len(seeds) for k in whole.values()),
              ", ".join(f"{n}: {whole[n]} of {len(seeds)} runs, the worst "
                        f"{100 * min(c for c, _ in runs):.0f}% covered (farthest point "
                        f"{max(d for _, d in runs):.3f} away)" for n, runs in covered.items()))

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
    rng = np.random.default_rng(ctx.run_seed(0))
    net = rb.nn.Sequential(rb.nn.Dense(2, 4, rng=rng), rb.nn.Tanh(), rb.nn.Dense(4, 1, rng=rng),
                           rb.nn.Sigmoid()).astype(np.float64)
    res = ev.NSGA2(2, population=100, rng=ctx.run_seed(0)).evolve_weights(
        # 400 generations: at 200 the smallest network was missed at 2 of tour seeds 0-10
        # and 18 (7 connections), at 400 at none
        net, ev.error_and_connections(net, X, y), 400, bound=8.0, prune_below=0.5)
    out = ev.population_forward(net, res.X, X)[:, :, 0]
    solves = ((out > 0.5) == (y[:, 0] > 0.5)).all(axis=1)
    connections = res.F[:, 1].astype(int)
    _, first = np.unique(res.F, axis=0, return_index=True)  # identical networks once
    first = first[np.argsort(connections[first], kind="stable")]
    ctx.table(["connections", "squared error", "solves XOR"],
              [[connections[i], res.F[i, 0], bool(solves[i])] for i in first],
              caption="The final front of NSGA-II on XOR (population 100, 400 generations): "
                      "error against the number of connections of a 2-4-1 network.")
    smallest = int(connections[solves].min()) if solves.any() else None
    ctx.claim("On a network, NSGA-II's front trades error for size and finds the smallest "
              "XOR network the architecture allows (two hidden units: 6 connections)",
              smallest == 6 and not solves[connections < 6].any(),
              f"smallest network classifying all four points: {smallest} connections; "
              f"{len(set(connections[connections < 6].tolist()))} smaller sizes on the front, "
              f"none solves it")
    with ctx.figure("The Pareto front of error against connections for XOR: every point is "
                    "a network no other beats in both.", size=(4.5, 3)) as fig:
        ax = fig.subplots()
        ax.step(res.F[:, 1], res.F[:, 0], where="post", color="0.6")
        ax.plot(res.F[~solves, 1], res.F[~solves, 0], "o", color="C0", label="fails XOR")
        ax.plot(res.F[solves, 1], res.F[solves, 0], "o", color="C3", label="solves XOR")
        ax.set_xlabel("connections")
        ax.set_ylabel("mean squared error")
        ax.legend(fontsize=7)


# -- cooperative coevolution: CoSyNE, ESP, against CNE and NEAT --------------------------------

def _pole_net(seed, hidden):
    """A 6-input controller: one sigmoid neuron (hidden=0) or a tanh layer and a sigmoid."""
    r = np.random.default_rng(seed)
    if not hidden:
        return rb.nn.Sequential(rb.nn.Dense(6, 1, rng=r), rb.nn.Sigmoid()).astype(np.float64)
    return rb.nn.Sequential(rb.nn.Dense(6, hidden, rng=r), rb.nn.Tanh(),
                            rb.nn.Dense(hidden, 1, rng=r), rb.nn.Sigmoid()).astype(np.float64)


def _solve_poles(method, seed, env, budget, keep=None):
    """Evaluations ``method`` spends until a network balances for ``env.max_steps`` (or None)."""
    ev = rb.evolution
    steps = env.max_steps
    done = [lambda state: state["fitness"] >= steps]
    if method == "NEAT":
        res = ev.NEAT(6, 1, rng=seed).run(env.evaluate, budget // 150, vectorized=True,
                                          stop=lambda g: g.fitness >= steps)
    else:
        net = _pole_net(seed, 0 if method == "CoSyNE" else 5)
        if method == "CoSyNE":
            algo, per_gen = ev.CoSyNE(net, population=40, rng=seed), 40
        elif method == "ESP":
            algo, per_gen = ev.ESP(net, population=20, trials=5, rng=seed), 100
        else:
            algo = ev.CNE(net, population=150, mutation_std=0.5, init_std=3.0, rng=seed)
            per_gen = 150
        res = algo.run(lambda th: env.evaluate(ev.PopulationModel(net, th)), budget // per_gen,
                       vectorized=True, callbacks=done)
        if keep is not None:
            keep[method] = (algo, res)
    return res.evaluations if res.best_fitness >= steps else None


def _median_evaluations(runs):
    """The median of evaluations to solve, failures counting as more than any success."""
    ordered = sorted(runs, key=lambda e: (e is None, e or 0))
    return ordered[(len(ordered) - 1) // 2]


def _cooperative(ctx):
    ev = rb.evolution
    ctx.text(
        "**Cooperative coevolution.** The notes: fitness may be \"based on its performance "
        "in collaboration with other players ... applying it at the individual neuron "
        "level - that is, each neuron's fitness depends on how well it works with the other "
        "neurons in the network. The CoSyNE neuroevolution algorithm is based on this.\" "
        "ESP keeps one subpopulation of hidden neurons per hidden position and scores a "
        "neuron by the mean fitness of the networks it was drawn into; CoSyNE goes down to "
        "single weights: one subpopulation per weight, the top quarter of networks "
        "recombined, and each subpopulation *permuted* among the poorer networks so that "
        "surviving weights are tried in new combinations. The benchmark is balancing two "
        "poles (1 m and 0.1 m) on a cart, the controller seeing positions and velocities; "
        "the count that matters is the number of networks evaluated until one balances for "
        "the whole trial (the CoSyNE paper, 100,000-step trials: CoSyNE 954, NEAT 3,600, "
        "ESP 3,800, CNE 22,100)."
    )
    steps = 1000 if ctx.quick else 10_000
    # one run per method is a coin toss (over tour seeds 0-10 and 18 ESP, NEAT or CNE beat
    # CoSyNE's single run twice); the median of three is not
    seeds = range(3) if ctx.quick else range(10)
    budget = 6000 if ctx.quick else 15_000
    env = ev.envs.CartPole(poles=2, velocities=True, max_steps=steps)
    methods = {"CoSyNE": "one sigmoid neuron (7 weights), 40 per subpopulation",
               "ESP": "6-5-1, 20 neurons per subpopulation, 5 trials each",
               "NEAT": "population 150, from no hidden node",
               "CNE": "6-5-1, population 150"}
    kept = {}
    evaluations = {m: [_solve_poles(m, ctx.run_seed(s), env, budget,
                                    kept if s == seeds[0] else None)
                       for s in seeds] for m in methods}
    medians = {m: _median_evaluations(e) for m, e in evaluations.items()}
    ctx.table(["method", "network", "solved", "median evaluations"],
              [[m, methods[m], f"{sum(e is not None for e in evaluations[m])} of {len(seeds)}",
                f"{medians[m]:,}" if medians[m] is not None else f"> {budget:,}"]
               for m in methods],
              caption=f"Double-pole balancing with velocities, {steps:,}-step trials: "
                      f"networks evaluated until one balances the poles for the whole trial "
                      f"(a run gives up after {budget:,}), over {len(seeds)} seed(s).")
    others = {m: v for m, v in medians.items() if m != "CoSyNE"}
    cosyne = medians["CoSyNE"]
    ctx.claim("CoSyNE needs fewer evaluations than ESP, NEAT and CNE to balance two poles",
              cosyne is not None and all(v is None or cosyne < v for v in others.values()),
              "median evaluations: " + ", ".join(
                  f"{m} {v:,}" if v is not None else f"{m} > {budget:,}"
                  for m, v in medians.items()))

    _topology(ctx, evaluations["NEAT"], evaluations["CNE"], budget)

    # the ESP run of the first seed: one more generation, watched
    esp, res = kept["ESP"]
    before, seen = esp.neurons.copy(), {}

    def watched(thetas):
        seen["thetas"], seen["f"] = thetas.copy(), env.evaluate(ev.PopulationModel(
            esp.model, thetas))
        return seen["f"]

    esp.step(watched, vectorized=True)
    layout = ev.esp.neuron_layout(esp.model)  # each hidden neuron's weights in a network
    hidden, n = before.shape[:2]
    means, fitness = [], []
    for i in range(hidden):
        _, index, counts = np.unique(before[i], axis=0, return_index=True, return_counts=True)
        for j in index[counts == 1]:  # a neuron with a twin shares its networks: left out
            uses = (seen["thetas"][:, layout[i]] == before[i, j]).all(axis=1)
            means.append(seen["f"][uses].mean())
            fitness.append(esp.neuron_fitness[i, j])
    means = np.array(means)
    ctx.claim("In ESP a neuron's fitness is how well it works with the others: the mean "
              "fitness of the networks it was drawn into",
              len(means) > 0 and np.allclose(fitness, means),
              f"{len(means)} neurons ({hidden} subpopulations of {n}), each in {esp.trials} "
              f"of the {len(seen['f'])} networks of a generation; neuron fitness from "
              f"{means.min():.0f} to {means.max():.0f} steps")
    h = res.history
    bursts = np.flatnonzero(h["bursts"]) + 1
    g = np.arange(1, res.generations + 1)
    with ctx.figure("An ESP run on the double pole (first seed): the best and mean steps "
                    "balanced by the networks assembled each generation (burst mutations "
                    "marked), and each hidden neuron's fitness, the mean of the networks it "
                    "took part in, by subpopulation at the end.", size=(10, 3)) as fig:
        ax = fig.subplots(1, 2)
        ax[0].plot(g, h["best"], label="best network")
        ax[0].plot(g, h["mean"], label="mean network")
        for b in bursts:
            ax[0].axvline(b, color="0.7", ls=":", lw=1)
        ax[0].set_yscale("log")
        ax[0].set_xlabel("generation")
        ax[0].set_ylabel("steps balanced")
        ax[0].legend(fontsize=7)
        fit = np.sort(esp.neuron_fitness, axis=1)[:, ::-1]
        im = ax[1].imshow(np.log10(np.maximum(fit, 1.0)), aspect="auto", cmap="viridis")
        ax[1].set_xlabel("neuron (best first)")
        ax[1].set_ylabel("hidden position")
        fig.colorbar(im, ax=ax[1], label="log10 neuron fitness")


def _topology_pays(neat, cne):
    """Whether NEAT beat CNE over the same seeds: solved at least as often, at a lower median
    of evaluations (a failure counting as more than any success). None marks a failure."""
    solved = sum(e is not None for e in neat) >= sum(e is not None for e in cne)
    a, b = _median_evaluations(neat), _median_evaluations(cne)
    return solved and a is not None and (b is None or a < b)


def _topology(ctx, neat, cne, budget):
    """The notes: "evolving the topology too can lead to better performance" (NEAT against
    CNE's fixed 6-5-1 network, on the runs of the table above)."""
    show = "; ".join(f"{m}: solved {sum(e is not None for e in runs)} of {len(runs)}, median "
                     + (f"{_median_evaluations(runs):,}" if _median_evaluations(runs)
                        is not None else f"> {budget:,}") for m, runs in (("NEAT", neat),
                                                                           ("CNE", cne)))
    if ctx.quick:
        # measured with this chapter's quick settings over 16 runs (tour seeds 0 and 2):
        # NEAT solved 12, CNE 10, and CNE was the faster in 6 of the 8 runs both solved; a
        # verdict over three runs would pass or fail by the draw (it did both)
        ctx.text(
            "Evolving the topology too, the notes say, can lead to better performance. At "
            "1,000-step trials and this budget NEAT and CNE are on par (here " + show + "; "
            "over 16 runs NEAT solved 12 and CNE 10, CNE the faster in 6 of the 8 both "
            "solved), so quick mode makes no claim. The full mode's 10,000-step trials "
            "separate them (at tour seed 0 NEAT solved all 10 runs at a median of 3,600 "
            "evaluations, the CoSyNE paper's figure; CNE 6 of 10, at a median of 6,900) and "
            "states it as a claim.")
        return
    ctx.claim("Evolving the topology too can perform better: NEAT, growing its network from "
              "no hidden node, balances the poles at least as often as CNE on a fixed 6-5-1 "
              "network, after fewer evaluations", _topology_pays(neat, cne), show)


# -- CoSyNE without velocities: the damping fitness ------------------------------------------

# benchmarks/cosyne_claims.py's settings for this task (OPTIONS_NON_MARKOV, NEURONS_NON_MARKOV):
# Gomez's CoSyNE program's mutation (each child weight with probability 0.8, Cauchy noise of
# scale 0.3 redrawn beyond 10); uncut Cauchy noise saturated the tanh units of the runs that
# stalled (benchmarks/README.md)
NON_MARKOV = dict(population=40, offspring=0.5, mutation_rate=0.8, mutation_scale=0.3,
                  mutation_cut=10.0, init_std=1.0)
NON_MARKOV_NEURONS = 2


def _balanced(candidates, f, trial):
    """The rows of ``candidates`` that ``trial(rows)`` finds balancing all 1,000 steps.

    ``f`` is their damping fitness, 0.1 t/1000 + 0.9 f2 (f2 > 0 past 100 steps): a network
    that balances the 1,000 steps has f >= 0.1, but so can a calm one that falls near the
    end (one fell at step 988 with f = 0.101). So f >= 0.1 only picks the candidates, a few
    a generation, and their steps, counted by ``trial``, decide.
    """
    good = candidates[f >= 0.1]
    return good[trial(good) >= 1000] if len(good) else good


def _no_velocity_run(seed, budget, full_test=True):
    """CoSyNE on two poles without velocities (Gruau's damping fitness, 1,000-step trials).

    Returns ``(evaluations to the first network that balanced the 1,000 steps,
    evaluations to a solution)``, None where not reached within ``budget``: a
    solution balances 100,000 steps and at least 200 of the 625 generalisation
    starts (tried on every network of a generation that balanced the 1,000
    steps). Without ``full_test`` the run stops at the first 1,000-step network.
    """
    from rosenblatt.evolution.recurrent import RecurrentPopulationModel

    ev = rb.evolution
    net = rb.nn.Sequential(rb.nn.RNN(3, NON_MARKOV_NEURONS, rng=seed)).astype(np.float64)
    env = ev.envs.CartPole(poles=2, velocities=False, max_steps=1000, fitness="gruau")
    counted = ev.envs.CartPole(poles=2, velocities=False, max_steps=1000)  # fitness: steps
    test = ev.envs.CartPole(poles=2, velocities=False, max_steps=100_000)

    def controllers(X):  # unit 0 is the output; whole trials compiled (rosenblatt[fast])
        return RecurrentPopulationModel(net, X, outputs=1, fast=True)

    seen, tested = {"n": 0}, set()

    def fitness(X):
        seen["n"] += len(X)
        f = env.evaluate(controllers(X))
        good = _balanced(X, f, lambda rows: counted.evaluate(controllers(rows)))
        if len(good):
            seen.setdefault("first", seen["n"])
            # rows tested before fail again (deterministic): survivors are not re-run
            good = np.array([x for x in good if x.tobytes() not in tested]).reshape(-1, X.shape[1])
            tested.update(x.tobytes() for x in good)
            lasting = (good[test.evaluate(controllers(good)) >= 100_000]
                       if full_test and len(good) else ())
            if len(lasting) and (test.generalization(controllers(lasting)) >= 200).any():
                seen["solved"] = seen["n"]
        return f

    done = "solved" if full_test else "first"
    ev.CoSyNE(net, rng=seed, **NON_MARKOV).run(fitness, budget // NON_MARKOV["population"],
                                               vectorized=True, stop=lambda c: done in seen)
    return seen.get("first"), seen.get("solved")


def _no_velocities(ctx):
    ctx.text(
        "**Without velocities.** Seeing only the cart's position and the two angles, a "
        "controller must keep a memory to estimate the velocities; the CoSyNE paper evolves "
        "a fully recurrent network (every neuron, the output too, feeds its last value back "
        "to every neuron) with Gruau et al.'s *damping* fitness over 1,000-step trials, "
        "0.1 t/1000 + 0.9 f2 with f2 = 0.75 / (the sum of |x| + |x'| + |theta1| + "
        "|theta1'| over the last 100 steps), which rewards calm balancing over jiggling. "
        "A run is solved by a network that balances for 100,000 steps **and** from at "
        "least 200 of 625 other starting states (the paper: a mean of 1,249 evaluations). "
        f"Here: {NON_MARKOV_NEURONS} tanh neurons (the output read as (h + 1)/2), "
        f"{NON_MARKOV['population']} per subpopulation, each child weight mutated with "
        f"probability {NON_MARKOV['mutation_rate']} by Cauchy noise of scale "
        f"{NON_MARKOV['mutation_scale']} drawn again beyond {NON_MARKOV['mutation_cut']:g} "
        "(as Gomez's CoSyNE program does). The cut matters: with the Cauchy's full tails "
        "an occasional jump of a weight to hundreds saturates the tanh units, the network "
        "becomes a bang-bang controller that keeps the poles up a few hundred steps by "
        "jiggling, small mutations no longer change what it does, and the population stalls "
        "there (without the cut 11 of 20 runs solved, 5 stalled; with it 20 of 20). "
        "Measured over 20 seeds (the full mode; benchmarks/README.md): every run solves it, "
        "at a median of about 2,400 evaluations, twice the paper's mean."
    )
    if ctx.quick:  # one seed, to the first network that balances the 1,000 steps
        budget = 10_000
        first, _ = _no_velocity_run(ctx.run_seed(0), budget, full_test=False)
        ctx.claim("CoSyNE's fully recurrent network learns to balance two poles without "
                  "velocities under the damping fitness (1,000 steps; the full mode runs "
                  "the paper's 100,000-step and generalisation tests over 20 seeds)",
                  first is not None,
                  f"run seed {ctx.run_seed(0)}: first 1,000-step network after {first:,} "
                  f"evaluations" if first is not None else
                  f"run seed {ctx.run_seed(0)}: none within {budget:,} evaluations")
        return
    budget, seeds = 10_000, range(20)
    runs = [_no_velocity_run(ctx.run_seed(seed), budget) for seed in seeds]
    solved = [e for _, e in runs if e is not None]
    median = _median_evaluations([e for _, e in runs])
    ctx.table(["seeds", "solved", "median evaluations", "mean of the solved",
               "first 1,000-step network (median)"],
              [[len(seeds), f"{len(solved)} of {len(seeds)}",
                f"{median:,}" if median is not None else f"> {budget:,}",
                f"{np.mean(solved):,.0f}" if solved else "-",
                f"{_median_evaluations([f for f, _ in runs]) or 0:,}"]],
              caption="CoSyNE on two poles without velocities, damping fitness: networks "
                      "evaluated until one balances 100,000 steps and 200 of the 625 "
                      f"generalisation starts (a run gives up after {budget:,}; the paper: "
                      "1,249).")
    ctx.claim("CoSyNE solves double-pole balancing without velocities with the damping "
              "fitness (100,000 steps and the generalisation test) in at least 18 of 20 runs",
              len(solved) >= 18,
              f"{len(solved)} of {len(seeds)} runs solved within {budget:,} evaluations; "
              f"median {median:,} (failures counted as more), the paper's 1,249"
              if median is not None else f"{len(solved)} of {len(seeds)} runs solved")


# -- cascading elitism against a weighted sum ------------------------------------------------

def _two_task_net(seed):
    r = np.random.default_rng(seed)
    return rb.nn.Sequential(rb.nn.Dense(2, 8, rng=r), rb.nn.Tanh(),
                            rb.nn.Dense(8, 2, rng=r)).astype(np.float64)


def _cascading(ctx):
    ev = rb.evolution
    ctx.text(
        "**Several fitness functions, no front.** The notes: when performance has many "
        "dimensions, \"the simplest way around this is to combine these various metrics in "
        "some way - e.g. as a linear combination - but another way is cascading elitism, "
        "where each generation contains separate selection events for each fitness "
        "function, ensuring equal selection pressure\". A network with two outputs has two "
        "tasks: output 1 fits 2 x₁ x₂, output 2 fits sin(π x₁), on 64 points; "
        "fitness k is minus the squared error of output k, the second reported in units "
        "a hundred times smaller. CNE (population 100) evolves the network on the sum of "
        "the two fitnesses, and with cascading elitism (`selection=\"cascading\"`: the best "
        "55 on the first function go on, the best 10 of those on the second breed, and "
        "each function's champion is kept)."
    )
    rng = np.random.default_rng(ctx.run_seed(0))
    X = rng.uniform(-1.0, 1.0, (64, 2))
    T = np.stack([2.0 * X[:, 0] * X[:, 1], np.sin(np.pi * X[:, 0])], axis=1)
    generations = 100 if ctx.quick else 300
    seeds = range(2) if ctx.quick else range(10)

    def errors(model, thetas):
        return ((ev.population_forward(model, thetas, X) - T[None]) ** 2).mean(axis=1)

    def evolve(cascading, seed, units):
        model = _two_task_net(seed)
        scale = np.array([1.0, units])
        if cascading:
            cne = ev.CNE(model, population=100, selection="cascading", mutation_std=0.2,
                         rng=seed)
            fitness = lambda th: -errors(model, th) * scale  # noqa: E731
        else:
            cne = ev.CNE(model, population=100, mutation_std=0.2, rng=seed)
            fitness = lambda th: -(errors(model, th) * scale).sum(axis=1)  # noqa: E731
        curve = [errors(model, cne.thetas).min(axis=0)]
        # the best error on each task of every bred generation (in the tasks' own units)
        cne.run(fitness, generations, vectorized=True,
                callbacks=[lambda state: curve.append(errors(model, cne.thetas).min(axis=0))])
        return curve[0], curve[-1], cne.thetas.copy(), np.array(curve)

    setups = {"weighted sum, fitness 2 in units of 1/100": (False, 0.01),
              "cascading elitism, fitness 2 in units of 1/100": (True, 0.01),
              "weighted sum, both in the same units": (False, 1.0)}
    results = {name: [evolve(c, ctx.run_seed(s), u) for s in seeds]
               for name, (c, u) in setups.items()}
    med = {name: [statistics.median(float(r[i][k]) for r in runs) for i in (0, 1)
                  for k in (0, 1)] for name, runs in results.items()}
    ctx.table(["selection", "task 1: first -> last", "task 2: first -> last"],
              [[name, f"{m[0]:.3f} -> {m[2]:.4f}", f"{m[1]:.3f} -> {m[3]:.4f}"]
               for name, m in med.items()],
              caption=f"CNE, population 100, {generations} generations: the best squared "
                      f"error on each task in the first and the last population (in the "
                      f"tasks' own units), median over {len(seeds)} seeds.")
    # the same cascade in the same units: equal pressure whatever the scale
    _, _, same_units, _ = evolve(True, ctx.run_seed(seeds[0]), 1.0)
    identical = np.array_equal(
        same_units, results["cascading elitism, fitness 2 in units of 1/100"][0][2])
    ctx.claim("Cascading elitism gives each fitness function equal selection pressure "
              "whatever its scale: with the second fitness a hundred times smaller, the run "
              "is the same weight for weight", identical,
              "final populations identical" if identical else "final populations differ")
    casc = med["cascading elitism, fitness 2 in units of 1/100"]
    wsum = med["weighted sum, fitness 2 in units of 1/100"]
    ctx.claim("A weighted sum gives the larger fitness the pressure and leaves the other task "
              "behind, while cascading elitism improves both",
              wsum[3] >= 3 * casc[3] and casc[2] < 0.5 * casc[0] and casc[3] < 0.5 * casc[1],
              f"task 2's best error: weighted sum {wsum[1]:.3f} -> {wsum[3]:.3f}, cascading "
              f"{casc[1]:.3f} -> {casc[3]:.4f}; task 1: weighted sum {wsum[2]:.4f}, "
              f"cascading {casc[0]:.3f} -> {casc[2]:.4f}")
    ctx.text(
        "With the fitnesses in comparable units and weights chosen by hand the weighted sum "
        "does well too (last row): cascading elitism's point is that it needs no weights, "
        "not that it beats well-chosen ones."
    )
    with ctx.figure("The best squared error on each task per generation (first seed): the "
                    "weighted sum with the second fitness in small units (dashed), cascading "
                    "elitism (solid).", size=(6, 3)) as fig:
        ax = fig.subplots()
        for name, style in (("weighted sum, fitness 2 in units of 1/100", "--"),
                            ("cascading elitism, fitness 2 in units of 1/100", "-")):
            curve = results[name][0][3]
            for k, color in ((0, "C0"), (1, "C3")):
                ax.plot(curve[:, k], style, color=color,
                        label=f"task {k + 1}, {name.split(',')[0]}")
        ax.set_yscale("log")
        ax.set_xlabel("generation")
        ax.set_ylabel("best squared error")
        ax.legend(fontsize=7)


# -- competitive coevolution: tic-tac-toe players that never meet a reference ------------------

def _coevolution(ctx):
    ev = rb.evolution
    ttt = ev.envs
    ctx.text(
        "**Competitive coevolution.** The notes: \"a challenge in evolving competitive AI is "
        "that there may not be a good enough opponent to play against and learn from. A "
        "method called competitive coevolution can be used, in which the fitness of one AI "
        "player depends on how it performs against another AI player drawn from the same or "
        "from another population.\" Tic-tac-toe players (a network from the 18 inputs of "
        "its own and the opponent's marks to a score per cell, each board seen under its 8 "
        "symmetries) are evolved by CNE with fitness from games against a *shared sample* "
        "of their own population's previous generation and a *hall of fame* of past "
        "champions (Rosin & Belew 1997), a win against an opponent few beat counting for "
        "more (competitive fitness sharing), in training games where 30% of moves are "
        "random. "
        "The reference players, uniformly random and perfect (minimax), are used only to "
        "measure each generation's champion from outside; evolution never sees them."
    )
    generations = 40 if ctx.quick else 300
    population, hidden = (40, 10) if ctx.quick else (100, 20)
    every = 10 if ctx.quick else 25
    seed = ctx.run_seed(0)
    rng = np.random.default_rng(seed)
    net = rb.nn.Sequential(rb.nn.Dense(18, hidden, rng=rng), rb.nn.Tanh(),
                           rb.nn.Dense(hidden, 9, rng=rng)).astype(np.float64)
    cne = ev.CNE(net, population=population, mutation_std=0.3, init_std=0.5, rng=seed)
    game = ttt.TicTacToe()  # the plain game, for measuring

    def player(thetas):
        return ttt.network_player(ev.PopulationModel(net, np.atleast_2d(thetas)), symmetric=True)

    def measure(theta, seed):
        return (game.versus(player(theta), ttt.random_player(seed), 1000),
                game.versus(player(theta), ttt.perfect_player(seed), 200))

    def population_vs_random(thetas, seed):
        """Every member plays 20 games against random, 10 moving first: results (+1 a win)."""
        who = np.repeat(np.arange(len(thetas)), 10)
        return np.concatenate([
            game.play(player(thetas), ttt.random_player(seed), who_x=who),
            -game.play(ttt.random_player(seed + 1), player(thetas), who_o=who)])

    first = population_vs_random(cne.thetas, 1)
    curve = [(0, {"win": float((first == 1).mean())}, None, None)]

    def checkpoint(state):
        g = state["generation"] + 1
        if g % every == 0 or g == generations:
            pop = population_vs_random(cne.thetas, 100 + g)  # the bred generation g
            curve.append((g, {"win": float((pop == 1).mean()), "loss": float((pop == -1).mean())},
                          *measure(np.asarray(state["champion"]), 100 + g)))

    coev = ev.Coevolution(cne, game=ttt.TicTacToe(noise=0.3, symmetric=True, rng=seed),
                          sample=8 if ctx.quick else 10, hall_of_fame=8 if ctx.quick else 10,
                          rng=seed)
    res = coev.run(generations, callbacks=[checkpoint])
    g = [c[0] for c in curve]
    pop_win = [c[1]["win"] for c in curve]
    checks = curve[1:]
    champion_random = checks[-1][2]
    perfect = game.versus(ttt.perfect_player(7), ttt.random_player(8), 1000)
    ctx.table(["generation", "population: wins vs random", "champion: wins vs random",
               "losses", "champion vs perfect: draws", "losses"],
              [[gen, pop["win"], r["win"], r["loss"], p["draw"], p["loss"]]
               for gen, pop, r, p in checks],
              caption=f"Each checkpoint: the population (20 games a member) and the "
                      f"generation's champion (1,000 games against random, 200 against "
                      f"perfect) against the reference players, half the games moving first; "
                      f"CNE population {population}, 18-{hidden}-9, {res.evaluations:,} "
                      f"coevolution games in all. Before evolution the population won "
                      f"{100 * pop_win[0]:.0f}% against random; the perfect player wins "
                      f"{100 * perfect['win']:.0f}% against it (and never loses).")
    ctx.claim("Coevolved players learn to play without a good opponent to learn from: "
              "having only ever met each other, they beat a random player far more often than "
              "the first generation did",
              pop_win[-1] >= pop_win[0] + 0.15 and champion_random["win"] >= pop_win[0] + 0.15
              and champion_random["loss"] <= 0.3,
              f"population's wins against random {100 * pop_win[0]:.0f}% -> "
              f"{100 * pop_win[-1]:.0f}%; champion of generation {g[-1]}: "
              f"{100 * champion_random['win']:.0f}% wins, {100 * champion_random['loss']:.0f}% "
              f"losses")
    with ctx.figure("Coevolved tic-tac-toe players measured against reference players they "
                    "never met: the population's and the champion's wins against a random "
                    "player, the champion's losses to it, and the share of games the champion "
                    "draws against a perfect player (it cannot be beaten).",
                    size=(6, 3)) as fig:
        ax = fig.subplots()
        ax.plot(g, pop_win, "o-", label="population: wins vs random")
        ax.plot(g[1:], [c[2]["win"] for c in checks], "o-", label="champion: wins vs random")
        ax.plot(g[1:], [c[2]["loss"] for c in checks], "o-", label="champion: losses vs random")
        ax.plot(g[1:], [c[3]["draw"] for c in checks], "o-", label="champion: draws vs perfect")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("generation")
        ax.set_ylabel("share of games")
        ax.legend(fontsize=7)
    _coevolution_lines(ctx)


def _coevolution_lines(ctx):
    """The issue's claim: coevolved players win >= 90% against random, never having met it."""
    ev = rb.evolution
    ttt = ev.envs
    ref = {k: ttt.expected_outcome(k) for k in ("minimax", "minimax_expectimax", "expectimax")}
    ctx.text(
        "**How well can one do against a random player?** Computed exactly over the whole game "
        "tree (5,478 positions, the random player's moves weighted uniformly; "
        "`rb.evolution.envs.expected_outcome`): a minimax player choosing at random among "
        f"its optimal moves wins {100 * ref['minimax']['mean']['win']:.1f}% of games "
        f"({100 * ref['minimax']['x']['win']:.1f}% moving first, "
        f"{100 * ref['minimax']['o']['win']:.1f}% second); the best response to the random "
        f"player (expectimax) wins {100 * ref['expectimax']['mean']['win']:.1f}% "
        f"({100 * ref['expectimax']['x']['win']:.1f}% / "
        f"{100 * ref['expectimax']['o']['win']:.1f}%, losing "
        f"{100 * ref['expectimax']['mean']['loss']:.1f}%), and minimax that breaks ties by "
        f"expectimax {100 * ref['minimax_expectimax']['mean']['win']:.1f}% without ever "
        "losing. Winning against weak play takes more than not losing. "
        "The players above read the 18 marks; below, a player scores each empty cell from "
        "what the lines through it hold (how many lines with two of its own marks, two of "
        "the opponent's, one of each, ...; and whether the cell is a corner, the centre or "
        "an edge: 9 features) with one network shared by the nine cells, an n-tuple-like "
        "encoding, here linear: 10 weights. Coevolution, as above (shared sampling, hall of "
        "fame, 10% random moves and random openings in the training games, no reference "
        "player), has to find those weights."
    )
    generations = 40 if ctx.quick else 100
    population, sample = (50, 8) if ctx.quick else (100, 10)
    seed = ctx.run_seed(0)
    net = rb.nn.Sequential(rb.nn.Dense(9, 1, rng=np.random.default_rng(seed))).astype(
        np.float64)
    cne = ev.CNE(net, population=population, mutation_std=0.3, init_std=0.5, rng=seed)

    def players(thetas):
        return ttt.network_player(ev.PopulationModel(net, np.atleast_2d(thetas)),
                                  encoding="lines")

    first = ttt.expected_outcome(players(cne.thetas), members=population)
    coev = ev.Coevolution(cne, game=ttt.TicTacToe(noise=0.1, openings=4, encoding="lines",
                                                  rng=seed),
                          sample=sample, hall_of_fame=sample, fitness_sharing=False, rng=seed)
    res = coev.run(generations)
    champion = players(res.best)
    exact = ttt.expected_outcome(champion)
    played = ttt.TicTacToe().versus(champion, ttt.random_player(seed + 1), 2000)
    perfect = ttt.TicTacToe().versus(champion, ttt.perfect_player(seed + 2), 400)
    pct = lambda v: f"{100 * v:.1f}%"  # noqa: E731
    ctx.table(["player", "wins vs random (exact)", "moving first", "second",
               "losses (exact)", "2,000 played games: wins"],
              [["first generation (medians over members)", pct(np.median(first["mean"]["win"])),
                pct(np.median(first["x"]["win"])), pct(np.median(first["o"]["win"])),
                pct(np.median(first["mean"]["loss"])), ""],
               [f"coevolved champion, generation {res.generations}",
                pct(exact["mean"]["win"]), pct(exact["x"]["win"]), pct(exact["o"]["win"]),
                pct(exact["mean"]["loss"]), pct(played["win"])]]
              + [[name, pct(r["mean"]["win"]), pct(r["x"]["win"]), pct(r["o"]["win"]),
                  pct(r["mean"]["loss"]), ""] for name, r in
                 (("minimax, random tie-break", ref["minimax"]),
                  ("minimax, expectimax tie-break", ref["minimax_expectimax"]),
                  ("expectimax (best response to random)", ref["expectimax"]))],
              caption=f"Line-feature players, CNE population {population}, "
                      f"{res.evaluations:,} coevolution games in all; against a perfect "
                      f"player the champion draws {pct(perfect['draw'])} and loses "
                      f"{pct(perfect['loss'])} (400 games).")
    ctx.claim("Coevolved line players beat a random player in >= 90% of games without "
              "ever having played it",
              exact["mean"]["win"] >= 0.90 and played["win"] >= 0.88,
              f"exactly {pct(exact['mean']['win'])} ({pct(exact['x']['win'])} moving first, "
              f"{pct(exact['o']['win'])} second; {pct(played['win'])} of 2,000 played "
              f"games); the first generation's median member {pct(np.median(first['mean']['win']))}"
              f"; the best possible {pct(ref['expectimax']['mean']['win'])}")


# -- staging: a growing second pole ----------------------------------------------------------

def _staging(ctx):
    ev = rb.evolution
    ctx.text(
        "**Staging.** The notes: \"it sometimes is too difficult to evolve the network "
        "directly to that problem. Instead, staging (also called incremental evolution) may "
        "be preferred, where the network is evolved on simpler problems that gradually "
        "increase towards the original complex task.\" Double-pole balancing gets harder as "
        "the short pole grows towards the long one (Gomez & Miikkulainen's incremental "
        "evolution grew it from a tenth of the long pole's length). `Staged` moves one CoSyNE "
        "population through poles of growing length, each time the best network balances "
        "the whole trial; direct evolution starts on the longest pole with the same budget."
    )
    steps = 300 if ctx.quick else 1000
    ratios = (0.1, 0.25, 0.4) if ctx.quick else (0.1, 0.2, 0.3, 0.4, 0.5)
    # one seed (quick mode used to run one) leaves "less often or later" to a coin toss of a
    # few generations; over three, tour seeds 0-2 each had staging solve more often. At 60
    # generations neither solved at tour seed 3 (0 of 3 each); at 100, staging solved more
    # often than direct evolution at each of the tour seeds measured (0-10, 18)
    seeds = range(3) if ctx.quick else range(10)
    population, generations = (20, 100) if ctx.quick else (40, 100)

    def evolve(seed, tasks_ratios):
        net = rb.nn.Sequential(rb.nn.Dense(6, 1, rng=seed), rb.nn.Sigmoid()).astype(np.float64)
        envs = [ev.envs.CartPole(poles=2, max_steps=steps, half_lengths=(0.5, 0.5 * r))
                for r in tasks_ratios]
        tasks = [lambda X, e=e: e.evaluate(ev.PopulationModel(net, X)) for e in envs]
        res = ev.Staged(tasks, threshold=steps).run(ev.CoSyNE(net, population=population,
                                                              rng=seed),
                                                    generations, vectorized=True)
        return res.generations if res.stopped else None

    staged = [evolve(ctx.run_seed(s), ratios) for s in seeds]
    direct = [evolve(ctx.run_seed(s), ratios[-1:]) for s in seeds]

    def show(runs):
        done = [g for g in runs if g is not None]
        return (f"{len(done)} of {len(runs)}" + (f", median {int(np.median(done))} generations"
                                                  if done else ""))

    ctx.table(["evolution", "solved the longest short pole"],
              [[f"staged (short pole {', '.join(f'{r:g}' for r in ratios)} of the long)",
                show(staged)], [f"direct (short pole {ratios[-1]:g} of the long)", show(direct)]],
              caption=f"Two poles with velocities, {steps:,}-step trials, CoSyNE (one sigmoid "
                      f"neuron, {population} per subpopulation) for at most {generations} "
                      f"generations in all, over {len(seeds)} seed(s).")
    ctx.claim("Staging through a growing second pole reaches a task that direct evolution "
              "solves less often or later",
              _staging_wins(staged, direct),
              f"staged: {show(staged)}; direct: {show(direct)}")


def _staging_wins(staged, direct):
    """Whether staged evolution solved the last task more often than direct evolution, or as
    often and in fewer generations (medians, a failure counting as more than any success).

    Generations to solve, None where a run did not; nothing solved confirms nothing.
    """
    solved_staged = sum(g is not None for g in staged)
    solved_direct = sum(g is not None for g in direct)
    if solved_staged == 0 or solved_staged < solved_direct:
        return False
    if solved_staged > solved_direct:
        return True
    later, sooner = _median_evaluations(direct), _median_evaluations(staged)
    return sooner is not None and (later is None or sooner < later)


@chapter("Neuroevolution II: coevolution, cascading elitism and NSGA-II",
         section="Neuroevolution", order=91)
def run(ctx):
    ctx.text(
        "The second half of the notes' neuroevolution: populations whose fitness comes from "
        "one another, in competition (players that have only met each other) and in "
        "cooperation (neurons and single weights scored by the networks they take part "
        "in), and evolution under several fitness functions at once, by cascading elitism "
        "or by a multi-objective algorithm that returns the whole Pareto front."
    )
    _coevolution(ctx)
    averaging_over_plays(ctx)
    _cooperative(ctx)
    _no_velocities(ctx)
    _staging(ctx)
    _cascading(ctx)
    _nsga2(ctx)
    _nsga2_network(ctx)
