"""Audit fixes, session 9 (neuroevolution I, third look): vectorised chunks seeded per chunk,
the bandit as a per-individual fitness and seeded by the library generator, developmental
genes on an executor, Soltoggio et al.'s B and C, and demonstrations (recording a population
controller, 'choice' on one action, recurrent networks, damaged .npz files)."""

import concurrent.futures

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution import (
    CNE,
    NEAT,
    Demonstration,
    DevelopmentalGenome,
    DevelopmentalNetwork,
    Imitation,
    NEATConfig,
    record_demonstration,
)
from rosenblatt.evolution.envs import CartPole, TwoArmedBandit
from rosenblatt.randomness import generator, using


class _Backwards(concurrent.futures.Executor):
    """Runs the tasks submitted so far, last first, when any result is asked for: a worker
    order no pool guarantees against."""

    def __init__(self):
        self._queue = []

    def submit(self, fn, *args, **kwargs):
        future = _Deferred(self)
        self._queue.append((future, fn, args, kwargs))
        return future

    def run_all(self):
        queue, self._queue = self._queue, []
        for future, fn, args, kwargs in reversed(queue):
            future.set_result(fn(*args, **kwargs))


class _Deferred(concurrent.futures.Future):
    def __init__(self, executor):
        super().__init__()
        self._executor = executor

    def result(self, timeout=None):
        if not self.done():
            self._executor.run_all()
        return super().result(timeout)


def _noisy(population):
    """A vectorised fitness that draws from the library generator, once per network."""
    return generator().normal(size=population.size)


def _noisy_rows(thetas):
    return thetas[:, 0] + generator().normal(size=thetas.shape[0])


def _neat_history(executor):
    neat = NEAT(2, 1, NEATConfig(population=20), rng=0)
    return neat.run(_noisy, 2, vectorized=True, chunk_size=6, executor=executor).history


# -- 1: a vectorised fitness on an executor draws per chunk, the same on any executor ------
def test_vector_chunks_draw_the_same_in_any_worker_order():
    with concurrent.futures.ThreadPoolExecutor(1) as one:
        forwards = _neat_history(one)
    assert _neat_history(_Backwards()) == forwards
    with concurrent.futures.ThreadPoolExecutor(3) as three:
        assert _neat_history(three) == forwards


def test_vector_chunks_leave_the_library_generator_alone():
    rb.seed(0)
    before = generator().bit_generator.state
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        _neat_history(pool)
    assert generator().bit_generator.state == before


def test_cne_vectorised_on_an_executor_draws_the_same_in_any_worker_order():
    def run(executor):
        rb.seed(0)  # the model's initial weights
        cne = CNE(rb.nn.Sequential(rb.nn.Dense(1, 1)), population=40, rng=0)
        return cne.run(_noisy_rows, 2, vectorized=True, executor=executor).history["best"]

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        assert run(_Backwards()) == run(pool)


def test_vector_chunks_without_draws_are_unchanged_by_seeding():
    # the chunks' generators are read from the run's, not drawn from it: a fitness that
    # draws nothing gives the serial run, and the run's generator ends where it did
    def run(executor):
        neat = NEAT(2, 1, NEATConfig(population=20), rng=0)
        res = neat.run(rb.evolution.envs.XOR().evaluate, 2, vectorized=True, chunk_size=6,
                       executor=executor)
        return res.history["best"], neat.rng.random()

    assert run(_Backwards()) == run(None)


def test_bandit_random_sides_come_from_the_library_generator_at_each_draw():
    task = TwoArmedBandit(lifetimes=6, sides="random")  # built before the generator is set
    with using(np.random.default_rng(5)):
        sides = task.draw_sides()
    expected = np.where(np.random.default_rng(5).random(6) < 0.5, -1, 1)
    assert sides.tolist() == expected.tolist()


def test_bandit_random_sides_on_an_executor_are_the_same_on_any():
    net = DevelopmentalNetwork((1, 1))
    task = TwoArmedBandit(trials=5, lifetimes=3, sides="random")

    def run(executor):
        cne = CNE(net.genes, population=40, rng=0)
        return cne.run(lambda thetas: task.evaluate(net.population(thetas)), 2,
                       vectorized=True, executor=executor).history["mean"]

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        assert run(_Backwards()) == run(pool)


# -- 4: the bandit as a per-individual fitness -------------------------------------------
def test_bandit_scores_a_genome_and_a_model():
    task = TwoArmedBandit(trials=10)
    genome = NEAT(1, 1, NEATConfig(population=3, recurrent=True), rng=0).population[0]
    assert task(genome) == task(genome.network())
    model = rb.nn.Sequential(rb.nn.Dense(1, 1)).astype(np.float64)
    model.parameters()[0].data[...] = 0.0
    model.parameters()[1].data[...] = 1.0  # always right: half of the rewards
    assert task(model) == 0.5
    res = NEAT(1, 1, NEATConfig(population=6, recurrent=True), rng=0).run(task, 1)
    assert res.evaluations == 6
    assert CNE(rb.nn.Sequential(rb.nn.Dense(1, 1)), population=6, rng=0).run(task, 1) \
        .best_fitness >= 0.5


# -- 5: developmental genes, per individual, on an executor -------------------------------
def test_developmental_genes_score_per_individual_on_an_executor():
    task = TwoArmedBandit(trials=10)

    def run(executor):
        net = DevelopmentalNetwork((1, 2, 1))

        def fit(model):
            theta = np.concatenate([np.ravel(p.data) for p in model.parameters()])
            return task(net.population(theta[None]))

        return CNE(net.genes, population=12, rng=0).run(fit, 2, executor=executor).history

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        assert run(pool) == run(None)


def test_developmental_genes_rebuild_from_their_spec_in_order():
    net = DevelopmentalNetwork((2, 3, 1), rule="layer")
    rebuilt = rb.nn.registry.build(rb.nn.registry.spec_of(net.genes))
    assert [p.data.shape for p in rebuilt.parameters()] == \
        [p.data.shape for p in net.genes.parameters()]


# -- 8: B weighs the presynaptic activity, C the postsynaptic (Soltoggio et al. 2008) -----
@pytest.mark.parametrize("term, expected", [("B", 2.0), ("C", np.tanh(2.0))])
def test_b_is_presynaptic_and_c_postsynaptic(term, expected):
    zero = np.zeros((1, 2))
    layer = dict(weight=np.array([[0.0, 0.0]]), A=zero, B=zero, C=zero, D=zero,
                 eta=np.ones((1, 2)))
    layer[term] = np.array([[1.0, 0.0]])  # the input -> output connection only
    layer["weight"] = np.array([[1.0, 0.0]])  # expressed: the output is tanh(input)
    genome = DevelopmentalGenome(sizes=(1, 1), layers=[layer])
    pop = genome.network().population(genome.theta()[None])
    pop.step(np.array([[2.0]]))
    np.testing.assert_allclose(pop.weights[0][0, 0, 0] - 1.0, expected, rtol=1e-15)


# -- 2: recording a population controller leaves it whole ---------------------------------
def test_recording_a_population_controller_leaves_it_whole():
    env = CartPole(poles=1, max_steps=30)
    neat = NEAT(4, 1, NEATConfig(population=6), rng=0)
    pop = neat.population_network()
    direct = env.evaluate(pop)
    demo = record_demonstration(env, pop, population=6)
    assert pop.size == 6
    assert demo.info["scores"] == direct.tolist()
    np.testing.assert_array_equal(env.evaluate(pop), direct)
    with pytest.raises(ValueError, match="at most the policy's size 6"):
        record_demonstration(env, pop, population=7)


# -- 3: 'choice' needs at least two actions ----------------------------------------------
def test_choice_on_one_action_is_refused():
    demo = Demonstration([[0.0], [1.0]], [[0.0], [1.0]])
    with pytest.raises(ValueError, match="measure='choice' needs actions of at least 2.*"
                                         "'agreement'"):
        Imitation(demo, "choice")
    Imitation(Demonstration([[0.0]], [[0.0, 1.0]]), "choice")  # two choices: fine


# -- 6: recurrent networks are refused ----------------------------------------------------
def test_imitation_refuses_recurrent_networks():
    demo = Demonstration(np.zeros((3, 2)), np.zeros((3, 1)))
    imitation = Imitation(demo)
    recurrent = NEAT(2, 1, NEATConfig(population=3, recurrent=True), rng=0)
    for network in (recurrent.population[0], recurrent.population[0].network()):
        with pytest.raises(ValueError, match="only feed-forward networks.*recurrent"):
            imitation(network)
    with pytest.raises(ValueError, match="only feed-forward networks.*recurrent"):
        imitation.evaluate(recurrent.population_network())
    feed_forward = NEAT(2, 1, NEATConfig(population=3), rng=0)
    assert imitation.evaluate(feed_forward.population_network()).shape == (3,)
    assert np.isfinite(imitation(feed_forward.population[0]))


# -- 7: a damaged .npz names the file -----------------------------------------------------
def test_a_damaged_npz_is_a_value_error_naming_the_file(tmp_path):
    path = tmp_path / "demo.npz"
    Demonstration([[0.0, 1.0]], [[1.0]]).save(path)
    data = path.read_bytes()
    for bad in (data[:len(data) // 2], data[:4]):
        path.write_bytes(bad)
        with pytest.raises(ValueError, match="demo.npz: not a demonstration"):
            Demonstration.load(path)


def test_developmental_genes_save_and_load(tmp_path):
    net = DevelopmentalNetwork((2, 3, 1), rule="layer")
    rng = np.random.default_rng(0)
    for p in net.genes.parameters():
        p.data[...] = rng.normal(size=p.data.shape)
    rb.save(net.genes, tmp_path / "genes.st")
    loaded = rb.load(tmp_path / "genes.st")
    for a, b in zip(net.genes.parameters(), loaded.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    with pytest.raises(rb.nn.registry.SpecError, match="config 'shapes' must list"):
        rb.nn.registry.build({"type": "DevelopmentalGenes",
                              "config": {"shapes": [[["X", [1, 1]]]]}})
