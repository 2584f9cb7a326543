"""Neuroevolution: NEAT on XOR against neat-python 2.0, and CNE's population evaluation.

* **NEAT genome evaluations per second** on XOR: the population after 20
  generations of each library (same configuration: the NEAT paper's XOR
  settings), each genome decoded into its network and run on the four
  patterns. rosenblatt (``NEAT(fast=True)``: the compiled phenotypes of the
  ``fast`` extra) holds the population's genes as one block of arrays
  (``NEAT.genes()``, a ``GeneBlock``: what reproduction writes, and what each
  genome's gene arrays are views into) and decodes the whole block into one
  ``PopulationNetwork`` (a record per genome: a topological order and the
  enabled connections grouped by destination) in one compiled call, then
  evaluates it in another; neat-python builds a ``FeedForwardNetwork`` per
  genome from its gene dicts and activates it per pattern. Both decode every
  genome at every evaluation (nothing derived from the genes is cached
  between the timed calls). Figures published before 2026-12-06 timed cached
  records, decoding nothing; those of 2026-12-06 (6.0-6.2x) decoded from the
  genomes' own arrays, gathered genome by genome. Target (issue 18): >= 20x
  neat-python.
* **NEAT generations per second**: whole generations (evaluate, speciate,
  reproduce) from a minimal population. Target: >= 5x neat-python.
* **CNE population evaluation**: 1,000 fixed 4-16-1 networks on a batch of
  256 inputs with :func:`rb.evolution.population_forward` (``fast=True``: the
  fused compiled kernel with a rational tanh, within 1.8e-7) against a loop that loads
  each weight vector into the model and calls it. Target: >= 10x the loop; on
  256 inputs both sides do the same arithmetic (the loop's overhead is a
  quarter of its time), so a second row measures 4 inputs, where overhead
  dominates and batching shows.

``python -m benchmarks.workloads.neat --xor-runs 100`` instead measures the
NEAT paper's XOR claim over seeded runs (generations and evaluations to solve,
failures, hidden nodes of the solutions), and ``--pole-runs N`` double-pole
balancing with velocities (evaluations to balance 100,000 steps).
"""

import os
import tempfile

import numpy as np

import rosenblatt as rb
from benchmarks.common import blas_threads, optional

NEAT_PYTHON_CONFIG = """
[NEAT]
fitness_criterion = max
fitness_threshold = 100.0
pop_size = 150
reset_on_extinction = True
no_fitness_termination = True

[DefaultGenome]
activation_default = sigmoid
activation_mutate_rate = 0.0
activation_options = sigmoid
aggregation_default = sum
aggregation_mutate_rate = 0.0
aggregation_options = sum
bias_init_mean = 0.0
bias_init_stdev = 1.0
bias_max_value = 8.0
bias_min_value = -8.0
bias_mutate_power = 2.5
bias_mutate_rate = 0.8
bias_replace_rate = 0.1
compatibility_disjoint_coefficient = 1.0
compatibility_weight_coefficient = 0.4
conn_add_prob = 0.05
conn_delete_prob = 0.0
enabled_default = True
enabled_mutate_rate = 0.0
feed_forward = True
initial_connection = full_direct
node_add_prob = 0.03
node_delete_prob = 0.0
num_hidden = 0
num_inputs = 2
num_outputs = 1
response_init_mean = 1.0
response_init_stdev = 0.0
response_max_value = 30.0
response_min_value = -30.0
response_mutate_power = 0.0
response_mutate_rate = 0.0
response_replace_rate = 0.0
weight_init_mean = 0.0
weight_init_stdev = 1.0
weight_max_value = 8
weight_min_value = -8
weight_mutate_power = 2.5
weight_mutate_rate = 0.8
weight_replace_rate = 0.1

[DefaultSpeciesSet]
compatibility_threshold = 3.0

[DefaultStagnation]
species_fitness_func = max
max_stagnation = 15
species_elitism = 1

[DefaultReproduction]
elitism = 1
survival_threshold = 0.2
"""

XOR_IN = [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)]
XOR_OUT = [0.0, 1.0, 1.0, 0.0]
WARM_GENERATIONS = 20


def _neat_python():
    neat = optional("neat")
    if neat is None or not hasattr(neat, "DefaultGenome"):
        return None, None
    path = os.path.join(tempfile.mkdtemp(), "xor.cfg")
    with open(path, "w") as f:
        f.write(NEAT_PYTHON_CONFIG)
    config = neat.Config(neat.DefaultGenome, neat.DefaultReproduction, neat.DefaultSpeciesSet,
                         neat.DefaultStagnation, path)
    return neat, config


def _np_eval(neat):
    def evaluate(genomes, config):
        for _, g in genomes:
            net = neat.nn.FeedForwardNetwork.create(g, config)
            err = sum(abs(net.activate(x)[0] - y) for x, y in zip(XOR_IN, XOR_OUT))
            g.fitness = (4.0 - err) ** 2
    return evaluate


def rb_evaluations(repeats):
    """``repeats`` evaluations of the population after the warm-up generations, each decoding
    every genome's phenotype from the population's genes (``neat.genes()``, the block
    reproduction wrote) in one compiled call: ``population_network()`` caches nothing, so
    every timed call packs all 150 records afresh, as neat-python builds every network.
    ``run.neat`` is the NEAT instance (tests look at its population)."""
    xor = rb.evolution.envs.XOR()
    neat = rb.evolution.NEAT(2, 1, rng=0, fast=True)
    neat.run(xor.evaluate, WARM_GENERATIONS, vectorized=True)

    def run():
        for _ in range(repeats):
            xor.evaluate(neat.population_network())  # decode + evaluate the population

    run.neat = neat
    return run


def np_evaluations(repeats):
    neat, config = _neat_python()
    if neat is None:
        return None
    pop = neat.Population(config)
    evaluate = _np_eval(neat)
    pop.run(evaluate, WARM_GENERATIONS)
    genomes = list(pop.population.items())

    def run():
        for _ in range(repeats):
            evaluate(genomes, config)

    return run


def rb_generations(generations):
    xor = rb.evolution.envs.XOR()

    def run():
        rb.evolution.NEAT(2, 1, rng=0, fast=True).run(xor.evaluate, generations,
                                                      vectorized=True)

    return run


def np_generations(generations):
    neat, config = _neat_python()
    if neat is None:
        return None
    evaluate = _np_eval(neat)

    def run():
        neat.Population(config).run(evaluate, generations)

    return run


def _cne_model(dtype=np.float64):
    return rb.nn.Sequential(rb.nn.Dense(4, 16, rng=0), rb.nn.Tanh(), rb.nn.Dense(16, 1, rng=0),
                            rb.nn.Sigmoid()).astype(dtype)


def _cne_populations(population, batch, dtype, populations, n):
    """``populations`` distinct weight matrices (population, n) and one input batch."""
    rng = np.random.default_rng(0)
    thetas = [rng.normal(size=(population, n)).astype(dtype) for _ in range(populations)]
    return thetas, rng.normal(size=(batch, 4)).astype(dtype)


def rb_cne(population, batch, dtype=np.float64, threads=None, populations=1):
    """The fused pass over ``populations`` distinct populations (one a generation, as in
    a run); ``threads``: kernel threads for it (None: as set, one by default; the blocks
    of networks then go over ``run_parts``' threads)."""
    from rosenblatt.autodiff._kernels import kernel_threads

    model = _cne_model(dtype)
    pops, X = _cne_populations(population, batch, dtype, populations,
                               model.num_parameters())

    def run():
        with kernel_threads(threads):
            for thetas in pops:
                rb.evolution.population_forward(model, thetas, X, fast=True)

    return run


def loop_cne(population, batch, dtype=np.float64, populations=1):
    """The loop over single networks, over the same populations as :func:`rb_cne`."""
    model = _cne_model(dtype)
    vec = rb.nn.ParameterVector(model.parameters())
    pops, X = _cne_populations(population, batch, dtype, populations, vec.size)
    X = rb.tensor(X)

    def run():
        with rb.no_grad():
            for thetas in pops:
                for theta in thetas:
                    vec.data[:] = theta
                    model(X)

    return run


def _dpv_run(compiled, found=None, seed=0):
    """NEAT (fast=True) on double pole with velocities until a network balances 100,000
    steps; ``compiled=False`` keeps the pole trials on the NumPy loop (the network
    still compiled). The solver goes to ``found["genome"]``."""
    from rosenblatt.evolution.envs.pole import CartPole

    found = {} if found is None else found
    env = CartPole(poles=2, velocities=True, max_steps=100_000)
    neat = rb.evolution.NEAT(6, 1, rb.evolution.NEATConfig.double_pole(), rng=seed, fast=True)

    def fitness(pop):
        f = env.evaluate(pop) if compiled else env.evaluate(_NumpyLoop(pop))
        ok = np.flatnonzero(f >= env.max_steps)
        if ok.size and "genome" not in found:
            found["genome"] = neat.population[int(ok[0])]
        return f

    neat.run(fitness, 200, vectorized=True, stop=lambda g: "genome" in found)
    return found.get("genome")


class _NumpyLoop:
    """A population network seen through the control protocol alone (so CartPole runs its
    NumPy loop rather than the compiled trials)."""

    def __init__(self, net):
        self.net, self.size = net, net.size

    def step(self, obs):
        return self.net.step(obs)

    def keep(self, mask):
        self.net.keep(mask)


def pole_cart(compiled):
    """One cart balanced by a double-pole solver for 100,000 decisions."""
    from rosenblatt.evolution.envs.pole import CartPole

    genome = _dpv_run(True)
    env = CartPole(poles=2, velocities=True, max_steps=100_000)

    def run():
        net = rb.evolution.PopulationNetwork([genome], fast=True)
        steps = env.evaluate(net if compiled else _NumpyLoop(net))
        assert steps[0] == 100_000

    return run


def workloads(quick):
    reps = 20 if quick else 100
    gens = 20 if quick else 50
    pop = 1000
    # distinct populations per timed call, one a generation: every other row times many
    # steps a call, and one 1-3 ms pass straight after the runner's gc.collect() paid a
    # 0.1-0.2 ms cold start (README, "CNE's rows: ten generations a call")
    cne_pops = 3 if quick else 10
    return [
        {
            "name": f"neat xor genome evaluations (150 genomes x {reps})",
            "unit": "samples/s",  # a sample = one genome decoded and evaluated
            "work": 150 * reps,
            "rosenblatt": rb_evaluations(reps),
            "references": {"neat-python": np_evaluations(reps)},
            "target": ">= 20x neat-python",
            "target_ratio": {"neat-python": 20.0},
            "notes": "both sides decode every genome at every evaluation (rosenblatt from "
                     "the population's gene block, in one compiled call; nothing is "
                     "cached between calls)",
        },
        {
            "name": f"neat xor whole generations ({gens}, population 150)",
            "unit": "steps/s",  # a step = one generation
            "work": gens,
            "rosenblatt": rb_generations(gens),
            "references": {"neat-python": np_generations(gens)},
            "target": ">= 5x neat-python",
            "target_ratio": {"neat-python": 5.0},
        },
        {
            "name": f"cne population of {pop} 4-16-1 networks on 256 inputs, "
                    f"{cne_pops} generations",
            "unit": "samples/s",  # a sample = one network on the batch
            "work": pop * cne_pops,
            "rosenblatt": rb_cne(pop, 256, populations=cne_pops),
            "references": {"loop over networks": loop_cne(pop, 256, populations=cne_pops)},
            "target": ">= 10x a loop over single networks",
            "target_ratio": {"loop over networks": 10.0},
            "notes": "arithmetic-bound: 4M tanh values and 20M multiply-adds in both; "
                     "population_forward(fast=True) fuses each layer's products and "
                     "activation in one pass over the samples (two hidden units per pass) "
                     "with a vectorised [7/8] rational tanh (9 multiply-adds and a "
                     "division, error < 1.8e-7) instead of libm-accurate np.tanh",
        },
        {
            "name": f"cne population of {pop} 4-16-1 networks on 256 inputs, float32, "
                    f"{cne_pops} generations",
            "unit": "samples/s",
            "work": pop * cne_pops,
            "rosenblatt": rb_cne(pop, 256, np.float32, populations=cne_pops),
            "references": {"loop over networks": loop_cne(pop, 256, np.float32,
                                                           populations=cne_pops)},
            "target": "(the row above in rosenblatt's default dtype: the same target)",
            "target_ratio": {"loop over networks": 10.0},
            "notes": "float32 networks (the layers' default dtype) on both sides: the fused "
                     "pass computes in float32, twice float64's lanes a vector (16 at 512 "
                     "bits with AVX-512: the kernel asks for them, wide_vectors); the loop's "
                     "per-network NumPy calls cost about the same in either dtype",
        },
        {
            "name": f"cne population of {pop} 4-16-1 networks on 256 inputs, float32, "
                    f"{cne_pops} generations, kernel threads as NumPy's BLAS",
            "unit": "samples/s",
            "work": pop * cne_pops,
            "rosenblatt": rb_cne(pop, 256, np.float32, threads=min(2, blas_threads()),
                                 populations=cne_pops),
            "references": {"loop over networks": loop_cne(pop, 256, np.float32,
                                                           populations=cne_pops)},
            "target": ">= 10x a loop over single networks (the row above with the second "
                      "core: rb.set_num_threads(2))",
            "target_ratio": {"loop over networks": 10.0},
            "notes": "the fused pass on blocks of networks over two threads (the caller and "
                     "one of run_parts' workers) when NumPy's BLAS has two or more, as "
                     "rb.set_num_threads(2) asks for; one thread (the row above) otherwise. "
                     "The loop's per-network calls have no second core to use",
        },
        {
            "name": f"cne population of {pop} 4-16-1 networks on 4 inputs (XOR-sized), "
                    f"{cne_pops} generations",
            "unit": "samples/s",
            "work": pop * cne_pops,
            "rosenblatt": rb_cne(pop, 4, populations=cne_pops),
            "references": {"loop over networks": loop_cne(pop, 4, populations=cne_pops)},
            "target": "(overhead-bound: where batching the population pays)",
        },
        {
            "name": "neat double pole: one cart balanced for 100,000 decisions",
            "unit": "steps/s",  # a step = one decision (network, two RK4 steps, tests)
            "work": 100_000,
            "rosenblatt": pole_cart(True),
            "references": {"numpy loop": pole_cart(False)},
            "target": "(issue 23: the pole loop compiled with the fast extra)",
            "notes": "CartPole.evaluate on a PopulationNetwork(fast=True): the whole "
                     "trial in one compiled call against the NumPy loop calling the "
                     "compiled network each decision",
        },
    ] + ([] if quick else [{
        "name": "neat double pole with velocities: whole run, seed 0, to the first solver",
        "unit": "steps/s",  # a step = one run
        "work": 1,
        "rosenblatt": lambda: _dpv_run(True),
        "references": {"numpy loop": lambda: _dpv_run(False)},
        "target": "(issue 23)",
    }])


# -- the paper's claims, measured over seeded runs ----------------------------------------
MODULE = "benchmarks.workloads.neat"  # what a worker imports (also when run as __main__)


def _seeds(n):
    return range(n) if isinstance(n, int) else list(n)


def xor_seed(seed, generations=300, config=None, fast=False):
    """One row of :func:`xor_runs` (``config`` as a dict): what a worker runs."""
    config = None if config is None else rb.evolution.NEATConfig.from_dict(config)
    return xor_runs([seed], generations, config, fast=fast)[0]


def pole_seed(seed, generations=200, config=None, start_angle=None, fast=False):
    """One row of :func:`pole_runs` (``config`` as a dict): what a worker runs."""
    config = None if config is None else rb.evolution.NEATConfig.from_dict(config)
    return pole_runs([seed], generations, config, start_angle=start_angle, fast=fast)[0]


def xor_runs(n, generations=300, config=None, executor=None, fast=False):
    """NEAT on XOR from seeds 0..n-1: generations, evaluations and hidden nodes at the first
    solution (any genome with all four outputs on the right side of 0.5). ``n`` may be a
    list of seeds; ``executor``: one seed per task (benchmarks.claims), the same rows."""
    if executor is not None:
        from benchmarks.claims import by_seed

        plain = None if config is None else config.to_dict()
        return [tuple(r) for r in by_seed(MODULE, "xor_seed", _seeds(n), executor,
                                          generations=generations, config=plain, fast=fast)]
    xor = rb.evolution.envs.XOR()
    rows = []
    for seed in _seeds(n):
        neat = rb.evolution.NEAT(2, 1, config, rng=seed, fast=fast)
        found = {}

        def fitness(pop, neat=neat, found=found):
            out = pop(xor.X)
            ok = np.flatnonzero(xor.solved(out))
            if ok.size and not found:
                found["hidden"] = neat.population[int(ok[0])].n_hidden
                found["evaluations"] = neat.evaluations + int(ok[0]) + 1
            return xor.fitness(out)

        res = neat.run(fitness, generations, vectorized=True, stop=lambda g, f=found: bool(f))
        rows.append((seed, res.generations if found else None, found.get("evaluations"),
                     found.get("hidden")))
    return rows


def pole_runs(n, generations=200, config=None, start_angle=None, executor=None, fast=False):
    """NEAT on double-pole balancing with velocities (100,000 steps), seeds 0..n-1 (or a
    list of seeds; ``executor``: one seed per task, the same rows).

    Evaluations are counted as the paper and NEAT C++ (``pole2_test``:
    ``pop_size * (gen - 1) + winnernum``) count them: every network evaluated
    in the generations before, plus the solver's position in its generation.
    The run stops at the first network that balances both poles for the whole
    100,000-step trial (its fitness is the steps balanced); no further test of
    the champion is counted (the generalisation test is not part of DPV).
    ``config`` defaults to :meth:`rb.evolution.NEATConfig.double_pole`.
    ``start_angle`` (radians) overrides the long pole's start, 0.07 rad (4
    degrees) in NEAT C++ and in :class:`~rosenblatt.evolution.envs.CartPole`;
    the paper's text says 1 degree (0.01745 rad). ``fast``: ``NEAT(fast=True)``, whose
    networks also run the pole trials compiled.
    """
    if config is None:
        config = rb.evolution.NEATConfig.double_pole()
    if executor is not None:
        from benchmarks.claims import by_seed

        return [tuple(r) for r in by_seed(MODULE, "pole_seed", _seeds(n), executor,
                                          generations=generations, config=config.to_dict(),
                                          start_angle=start_angle, fast=fast)]
    env = rb.evolution.envs.CartPole(poles=2, velocities=True, max_steps=100_000)
    rows = []
    for seed in _seeds(n):
        neat = rb.evolution.NEAT(6, 1, config, rng=seed, fast=fast)
        found = {}

        def fitness(pop, neat=neat, found=found):
            starts = None
            if start_angle is not None:
                starts = np.zeros((pop.size, 6))
                starts[:, 2] = start_angle
            f = env.evaluate(pop, starts=starts)
            ok = np.flatnonzero(f >= env.max_steps)
            if ok.size and not found:
                found["evaluations"] = neat.evaluations + int(ok[0]) + 1
                found["hidden"] = neat.population[int(ok[0])].n_hidden
            return f

        res = neat.run(fitness, generations, vectorized=True, stop=lambda g, f=found: bool(f))
        rows.append((seed, res.generations if found else None, found.get("evaluations"),
                     found.get("hidden")))
        print(rows[-1], flush=True)
    return rows


def _summary(rows, label):
    solved = [r for r in rows if r[1] is not None]
    gens = [r[1] for r in solved]
    evals = [r[2] for r in solved]
    hidden = [r[3] for r in solved]
    print(f"{label}: {len(rows)} runs, {len(rows) - len(solved)} failures")
    if solved:
        print(f"  generations: mean {np.mean(gens):.1f}, median {np.median(gens):.1f}, "
              f"sd {np.std(gens):.1f}")
        q1, q3 = np.percentile(evals, [25, 75])
        print(f"  evaluations: mean {np.mean(evals):.0f}, median {np.median(evals):.0f}, "
              f"quartiles {q1:.0f} / {q3:.0f}, sd {np.std(evals):.0f}, "
              f"range {min(evals)}-{max(evals)}")
        print(f"  hidden nodes of the first solution: mean {np.mean(hidden):.2f}, "
              f"max {max(hidden)}")


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--xor-runs", type=int, default=0)
    parser.add_argument("--pole-runs", type=int, default=0)
    parser.add_argument("--config", default="{}", help="NEATConfig overrides as JSON (for "
                        "--pole-runs, over NEATConfig.double_pole())")
    parser.add_argument("--fast", action="store_true",
                        help="compiled phenotypes (NEAT(fast=True), rosenblatt[fast])")
    parser.add_argument("--first-seed", type=int, default=0, help="first seed of --pole-runs")
    parser.add_argument("--start-angle", type=float, default=None,
                        help="the long pole's start in radians (default 0.07)")
    from rosenblatt.cli.executors import add_options, executor_for

    add_options(parser, "run the seeds")
    args = parser.parse_args()
    overrides = json.loads(args.config)
    cfg = rb.evolution.NEATConfig.from_dict(overrides)
    with executor_for(args, "neat claims") as ex:
        if args.xor_runs:
            _summary(xor_runs(args.xor_runs, config=cfg, executor=ex, fast=args.fast),
                     "NEAT on XOR (paper: 32 generations, 4,755 evaluations, sd 2,553, "
                     "0 failures, 2.35 hidden nodes)")
        if args.pole_runs:
            seeds = range(args.first_seed, args.first_seed + args.pole_runs)
            _summary(pole_runs(seeds, config=rb.evolution.NEATConfig.double_pole(**overrides),
                               start_angle=args.start_angle, executor=ex, fast=args.fast),
                     "NEAT on double pole with velocities (paper: mean 3,600 evaluations "
                     "over 120 runs, sd 2,704)")
