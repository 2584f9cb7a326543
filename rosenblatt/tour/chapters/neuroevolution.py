"""Tour: neuroevolution (notes: "Neuroevolution").

NEAT evolving XOR (fitness and species over generations, the species stack,
the champion drawn, complexification), CNE against NEAT on double-pole
balancing, CPPN images, and HyperNEAT painting one connectivity pattern at two
substrate resolutions.
"""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter


def _neat_xor(seed, generations=300):
    xor = rb.evolution.envs.XOR()
    neat = rb.evolution.NEAT(2, 1, rng=seed)
    found = {}

    def fitness(pop):
        out = pop(xor.X)
        ok = np.flatnonzero(xor.solved(out))
        if ok.size and not found:
            found["genome"] = neat.population[int(ok[0])]
        return xor.fitness(out)

    res = neat.run(fitness, generations, vectorized=True, stop=lambda g: bool(found))
    return res, found.get("genome")


def _species_stack(ax, history):
    ids = sorted({s for sizes in history["species_sizes"] for s in sizes})
    table = np.array([[sizes.get(s, 0) for s in ids] for sizes in history["species_sizes"]])
    ax.stackplot(np.arange(1, len(table) + 1), table.T, linewidth=0.3, edgecolor="w")
    ax.set_xlabel("generation")
    ax.set_ylabel("genomes per species")
    ax.set_title("species (stacked)", fontsize=9)


@chapter("Neuroevolution: NEAT, CNE, CPPNs and HyperNEAT", section="Neuroevolution",
         order=90)
def run(ctx):
    ctx.text(
        "Neuroevolution evolves networks instead of training them by gradient. CNE keeps the "
        "architecture fixed and runs a genetic algorithm on the weight vector. NEAT evolves "
        "the topology too: it starts from inputs wired straight to the outputs, adds nodes "
        "and connections by mutation, lines genes up by their innovation numbers for "
        "crossover, and protects new structure by speciation with fitness sharing."
    )
    seeds = range(20) if ctx.quick else range(100)  # the claims are about averages
    runs = [_neat_xor(ctx.run_seed(s)) for s in seeds]
    solved = [(r, g) for r, g in runs if g is not None]
    gens = [r.generations for r, _ in solved]
    hidden = [g.n_hidden for _, g in solved]
    ctx.table(["runs", "solved", "mean generations", "mean evaluations", "mean hidden nodes"],
              [[len(runs), len(solved), np.mean(gens), 150 * np.mean(gens),
                np.mean(hidden)]],
              caption="NEAT on XOR, population 150, the paper's settings (the paper: 32 "
                      "generations, 4,755 evaluations, no failure, 2.35 hidden nodes).")
    ctx.claim("NEAT solves XOR in every run within 300 generations",
              len(solved) == len(runs), f"{len(solved)} of {len(runs)} runs")
    # the mean of 100 runs sits near 3 (2.94 in benchmarks/README.md): judged against the
    # noise of the runs measured here, two standard errors of their mean
    mean_hidden = np.mean(hidden)
    noise = 2 * np.std(hidden, ddof=1) / np.sqrt(len(hidden)) if len(hidden) > 1 else 0.0
    ctx.claim("XOR solutions are small: 1 to 3 hidden nodes on average",
              1 - noise <= mean_hidden <= 3 + noise,
              f"mean {mean_hidden:.2f} hidden nodes (two standard errors over "
              f"{len(hidden)} runs: {noise:.2f})")

    res, champion = solved[0]
    h = res.history
    g = np.arange(1, res.generations + 1)
    with ctx.figure("NEAT on XOR: best and mean fitness, the number of species, the species "
                    "stack, and the first solution found (red positive, blue negative "
                    "weights).", size=(12, 3)) as fig:
        ax = fig.subplots(1, 4)
        ax[0].plot(g, h["best"], label="best")
        ax[0].plot(g, h["mean"], label="mean")
        ax[0].set_xlabel("generation")
        ax[0].set_ylabel("fitness (max 16)")
        ax[0].legend(fontsize=7)
        ax[1].plot(g, h["species"])
        ax[1].set_xlabel("generation")
        ax[1].set_ylabel("species")
        _species_stack(ax[2], h)
        rb.evolution.draw(champion, ax=ax[3])

    long_run = rb.evolution.NEAT(2, 1, rng=ctx.run_seed(0)).run(
        rb.evolution.envs.XOR().evaluate, 30 if ctx.quick else 100, vectorized=True)
    mh = long_run.history["mean_hidden"]
    with ctx.figure("Complexification: the mean number of hidden nodes in the population "
                    "grows from zero, generation after generation.", size=(5, 2.6)) as fig:
        ax = fig.subplots()
        ax.plot(np.arange(1, len(mh) + 1), mh)
        ax.set_xlabel("generation")
        ax.set_ylabel("mean hidden nodes")
    ctx.claim("NEAT complexifies: the population starts with no hidden nodes and grows some",
              mh[0] == 0 and mh[-1] > 0.5, f"mean hidden nodes {mh[0]:.2f} -> {mh[-1]:.2f}")

    # CNE vs NEAT on double-pole balancing with velocities
    steps = 1000 if ctx.quick else 10_000
    budget = 60
    env = rb.evolution.envs.CartPole(poles=2, velocities=True, max_steps=steps)
    neat = rb.evolution.NEAT(6, 1, rb.evolution.NEATConfig.double_pole(), rng=ctx.run_seed(2))
    neat_res = neat.run(env.evaluate, budget, vectorized=True,
                        stop=lambda gen: gen.fitness >= steps)
    model = rb.nn.Sequential(rb.nn.Dense(6, 5, rng=ctx.rng), rb.nn.Tanh(),
                             rb.nn.Dense(5, 1, rng=ctx.rng), rb.nn.Sigmoid()).astype(np.float64)
    cne = rb.evolution.CNE(model, population=150, mutation_std=0.5, init_std=3.0,
                           rng=ctx.run_seed(2))
    cne_res = cne.run(lambda th: env.evaluate(rb.evolution.PopulationModel(model, th)), budget,
                      vectorized=True, callbacks=[lambda s: s["fitness"] >= steps])
    ctx.table(["method", "generations", "evaluations", "best steps balanced"],
              [["NEAT", neat_res.generations, neat_res.evaluations, neat_res.best_fitness],
               ["CNE (6-5-1 tanh)", cne_res.generations, cne_res.evaluations,
                cne_res.best_fitness]],
              caption=f"Double-pole balancing with velocities, {steps:,}-step trials, "
                      f"population 150 each; one run each, so no verdict on which is faster "
                      f"here (Neuroevolution II compares their medians over seeds).")
    ctx.claim(f"NEAT balances two poles for {steps:,} steps",
              neat_res.best_fitness >= steps,
              f"best network {neat_res.best_fitness:,.0f} steps after "
              f"{neat_res.evaluations:,} evaluations (the paper, 100,000 steps: 3,600)")
    with ctx.figure("Best steps balanced per generation.", size=(5, 2.6)) as fig:
        ax = fig.subplots()
        ax.plot(neat_res.history["best"], label="NEAT")
        ax.plot(cne_res.history["best"], label="CNE")
        ax.set_yscale("log")
        ax.set_xlabel("generation")
        ax.set_ylabel("steps")
        ax.legend()

    # CPPN images
    rng = np.random.default_rng(ctx.run_seed(3))
    cfg = rb.evolution.cppn_config()
    tracker = rb.evolution.InnovationTracker(4, 5)
    images = []
    for k in range(6):
        genome = rb.evolution.Genome.minimal(k, 3, 1, rng.normal(0, 2, 4), activation="tanh")
        for j in range(8):
            genome = rb.evolution.neat.mutate_add_node(genome, tracker, cfg, rng, j)
            genome = rb.evolution.neat.mutate_add_connection(genome, tracker, cfg, rng, j)
            genome = rb.evolution.neat.mutate_weights(genome, cfg, rng, j)
        images.append(rb.evolution.cppn_image(genome, 64, 64))
    with ctx.figure("CPPN images: networks of sine, Gaussian, sigmoid, tanh, abs, identity "
                    "and step nodes queried at every (x, y, d) of a 64 x 64 grid.",
                    size=(10, 1.8)) as fig:
        for k, img in enumerate(images):
            ax = fig.add_subplot(1, 6, k + 1)
            ax.imshow(img, cmap="gray")
            ax.set_axis_off()
    node = rb.evolution.NodeGene
    conn = rb.evolution.ConnectionGene
    base = [node(0, "input", "identity"), node(1, "input", "identity"),
            node(2, "input", "identity"), node(3, "bias", "identity"),
            node(4, "output", "tanh")]
    sym = rb.evolution.Genome(0, 3, 1, base + [node(5, "hidden", "gaussian")],
                              [conn(0, 0, 5, 2.5), conn(1, 5, 4, 2.0), conn(2, 1, 4, 1.0)])
    rings = rb.evolution.Genome(1, 3, 1, base + [node(5, "hidden", "sine")],
                                [conn(0, 2, 5, 12.0), conn(1, 5, 4, 1.0)])
    img_sym, img_rings = (rb.evolution.cppn_image(x, 64, 64) for x in (sym, rings))
    row = img_rings[32, 32:]
    crossings = int(np.sum(np.diff(np.sign(row)) != 0))
    ctx.claim("A Gaussian node paints symmetry, a sine node repetition",
              np.allclose(img_sym, img_sym[:, ::-1]) and not np.allclose(
                  img_sym, img_sym[::-1, :]) and crossings >= 3,
              f"gaussian(2.5 x): mirror-symmetric left-right, not top-bottom; sine(12 d): "
              f"{crossings} rings from the centre to the edge")

    _hyperneat(ctx)


def _hyperneat(ctx):
    """HyperNEAT: one pattern, two resolutions (a CPPN evolved on 11 x 11 repaints 33 x 33)."""
    vd = rb.evolution.envs.VisualDiscrimination()
    noise = np.random.default_rng(ctx.run_seed(0)).random((100, 75, 121))
    chance = vd.distances(noise).mean()
    sub = rb.evolution.Substrate(rb.evolution.grid(11), rb.evolution.grid(11))
    hyper = rb.evolution.HyperNEAT(sub, rb.evolution.cppn_config(population=50 if ctx.quick
                                                                   else 100),
                                   deltas=True, rng=ctx.run_seed(1))
    # 30 generations in quick mode: after 20, tour seed 12's champion was a weak one (0.55x
    # chance on 11 x 11) whose repainting on 33 x 33 fell to 0.89x chance; after 30 it found
    # the object (0.15x, 0.14x), and seeds 0-13 all held (audit s11 g4, finding 8)
    hres = hyper.run(vd.evaluate, 30 if ctx.quick else 40, vectorized=True)
    d11 = vd.distances(hyper.develop(hres.best)(vd.X)).mean()
    vd33 = rb.evolution.envs.VisualDiscrimination(33)
    big = hyper.develop(hres.best, rb.evolution.Substrate(rb.evolution.grid(33),
                                                          rb.evolution.grid(33)))
    d33 = vd33.distances(big(vd33.X)).mean()
    ctx.table(["retina", "mean distance to the large object", "chance"],
              [["11 x 11 (evolved)", d11, chance], ["33 x 33 (repainted)", d33, chance]],
              caption="HyperNEAT on visual discrimination: the CPPN evolved on 11 x 11 "
                      "paints a 33 x 33 substrate without further evolution.")
    ctx.claim("HyperNEAT finds the larger object well above chance, and still does on a "
              "substrate three times finer", d11 < 0.7 * chance and d33 < 0.7 * chance,
              f"distance {d11:.2f} (11 x 11) and {d33:.2f} (33 x 33) vs {chance:.2f} by chance")
    centre11, centre33 = 60, 16 * 33 + 16
    small_w = hyper.develop(hres.best).weights[0][0][centre11].reshape(11, 11)
    big_w = big.weights[0][0][centre33].reshape(33, 33)
    with ctx.figure("The weights leaving the centre input node, painted by the same CPPN on "
                    "an 11 x 11 and a 33 x 33 substrate: one pattern, two resolutions.",
                    size=(6, 2.8)) as fig:
        ax = fig.subplots(1, 2)
        ax[0].imshow(small_w, cmap="RdBu_r")
        ax[0].set_title("11 x 11", fontsize=9)
        ax[1].imshow(big_w, cmap="RdBu_r")
        ax[1].set_title("33 x 33", fontsize=9)
        for a in ax:
            a.set_axis_off()
