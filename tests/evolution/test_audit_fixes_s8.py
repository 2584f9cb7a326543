"""Audit fixes (s8, a1): GymTask across threads, species stagnation across runs, CNE's
per-individual generators, XOR's output shapes, envs as per-genome fitnesses, roulette
overflow, GymTask observation spaces, configs edited after construction, NEAT's
evaluations per run."""

import math
import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution import NEAT, NEATConfig
from rosenblatt.evolution.config import ConfigError
from rosenblatt.evolution.envs import XOR, CartPole, VisualDiscrimination

# -- 1: GymTask gives each thread an environment of its own ----------------------------------


def test_1_gym_task_on_a_thread_pool_scores_as_serial():
    pytest.importorskip("gymnasium")
    task = rb.evolution.envs.GymTask("CartPole-v1", episodes=2, max_steps=60)
    neat = NEAT(task.n_inputs, task.n_outputs, NEATConfig(population=24), rng=0)
    serial = neat.evaluate(task)
    for _ in range(2):
        with ThreadPoolExecutor(4) as ex:
            threaded = neat.evaluate(task, executor=ex)
        assert threaded.tolist() == serial.tolist()


def test_1_gym_task_pickles_without_its_environment():
    pytest.importorskip("gymnasium")
    task = rb.evolution.envs.GymTask("CartPole-v1", max_steps=30)
    text = pickle.dumps(task)
    copy = pickle.loads(text)
    assert "env" not in copy.__dict__ and "_local" not in pickle.loads(text).__getstate__()
    net = NEAT(4, 2, NEATConfig(population=2), rng=0).population[0].network()
    assert copy(net) == task(net)
    assert copy.env is not task.env


# -- 2: each run starts every species' stagnation clock afresh ------------------------------
X8 = np.random.default_rng(0).normal(size=(8, 2))


def _err(net):
    return -((net(X8)[..., 0] - 0.8) ** 2).mean(axis=-1)


def test_2_a_new_run_judges_species_on_its_own_fitness():
    neat = NEAT(2, 1, NEATConfig(population=40), rng=0)
    neat.run(lambda net: 1000.0 + _err(net), 3, vectorized=True)
    start = neat.generation
    neat.run(_err, 1, vectorized=True)  # the same landscape, another scale
    assert neat.species
    for s in neat.species:  # improved in the new run, on its scale
        assert s.best_fitness < 1.0 and s.last_improved == start


def test_2_staged_neat_tasks_do_not_inherit_the_previous_scale():
    neat = NEAT(2, 1, NEATConfig(population=30), rng=0)
    seen = []

    def cb(state):
        seen.append([(s.best_fitness, s.last_improved) for s in neat.species])

    staged = rb.evolution.Staged([lambda n: 1000.0 + _err(n), _err], threshold=[-1e9, 1e9])
    staged.run(neat, 3, vectorized=True, callbacks=[cb])
    assert all(f < 1.0 for f, _ in seen[-1])  # task 2's generations: its own scale


# -- 3: CNE scores each individual with a generator of its own ------------------------------
XD = np.random.default_rng(0).normal(size=(16, 3))


def _dropout_fit(model):
    out = model(XD)
    return float(-np.abs(getattr(out, "data", out)).mean())


def _dropout_run(executor=None, library_seed=0):
    rb.seed(library_seed)
    net = rb.nn.Sequential(rb.nn.Dense(3, 8, rng=0), rb.nn.Dropout(0.5),
                           rb.nn.Dense(8, 1, rng=1)).astype(np.float64)
    net.train()
    cne = rb.evolution.CNE(net, population=24, rng=1)
    return cne.run(_dropout_fit, 3, executor=executor).history["best"]


def test_3_cne_with_dropout_is_the_same_serially_and_on_threads():
    serial = _dropout_run()
    for workers in (2, 4):
        with ThreadPoolExecutor(workers) as ex:
            assert _dropout_run(ex) == serial
    assert _dropout_run(library_seed=5) == serial  # the run's rng decides, not rb.seed


def _noisy(model):
    w = model[0].W.data
    return -float(np.abs(w).sum()) + rb.randomness.generator().normal()


def test_3_cne_noisy_fitness_with_repeats_on_threads():
    def run(executor=None):
        net = rb.nn.Sequential(rb.nn.Dense(2, 2, rng=0)).astype(np.float64)
        return rb.evolution.CNE(net, population=16, rng=3).run(
            _noisy, 2, executor=executor, repeats=3).history["mean"]

    serial = run()
    with ThreadPoolExecutor(3) as ex:
        assert run(ex) == serial


@pytest.mark.parametrize("algorithm", ["CoSyNE", "ESP"])
def test_3_cosyne_and_esp_noisy_fitness_on_threads(algorithm):
    def run(executor=None):
        net = rb.nn.Sequential(rb.nn.Dense(2, 4, rng=0), rb.nn.Tanh(),
                               rb.nn.Dense(4, 1, rng=1)).astype(np.float64)
        algo = getattr(rb.evolution, algorithm)(net, population=8, rng=5)
        return algo.run(_noisy, 2, executor=executor).history["mean"]

    serial = run()
    with ThreadPoolExecutor(3) as ex:
        assert run(ex) == serial


def _noisy_xor(genome):
    return rb.evolution.envs.xor_fitness(genome) + rb.randomness.generator().normal()


def test_3_neat_noisy_per_genome_fitness_on_threads():
    def run(executor=None):
        neat = NEAT(2, 1, NEATConfig(population=20), rng=4)
        return neat.run(_noisy_xor, 3, executor=executor, repeats=2).history["mean"]

    serial = run()
    with ThreadPoolExecutor(3) as ex:
        assert run(ex) == serial


def test_3_individual_generators_leave_the_run_generator_alone():
    # read from the run's generator, not drawn from it: per genome and vectorised runs of a
    # fitness that draws nothing stay the same run
    xor = XOR()
    a = NEAT(2, 1, NEATConfig(population=20), rng=2)
    b = NEAT(2, 1, NEATConfig(population=20), rng=2)
    a.run(xor, 3)
    b.run(xor.evaluate, 3, vectorized=True)
    assert [g.to_json() for g in a.population] == [g.to_json() for g in b.population]


# -- 4: XOR reads a network's (4,) outputs as (4, 1), and refuses other shapes -------------
def test_4_xor_scores_flat_outputs_as_a_column():
    xor = XOR()
    assert xor(lambda X: np.array([0.0, 1.0, 1.0, 0.0])) == 16.0
    assert xor.fitness(np.array([0.0, 1.0, 1.0, 0.0])) == 16.0
    assert bool(xor.solved(np.array([0.1, 0.9, 0.6, 0.4])))
    with pytest.raises(ValueError, match=r"XOR.fitness: outputs must have shape .* got \(3, 4\)"):
        xor.evaluate(lambda X: np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"XOR.solved: .* got \(4, 2\)"):
        xor.solved(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"got \(4, 4\)"):
        xor(lambda X: np.zeros((4, 4)))


# -- 5 and 10: VisualDiscrimination and CartPole as per-genome fitnesses --------------------
def test_5_visual_discrimination_scores_a_genome():
    env = VisualDiscrimination()
    neat = NEAT(env.n_inputs, env.n_outputs, NEATConfig(population=4), rng=0)
    g = neat.population[0]
    assert env(g) == env(g.network())
    res = neat.run(env, 1)
    assert res.generations == 1 and math.isfinite(res.best_fitness)


def test_10_cartpole_is_a_per_genome_fitness():
    env = CartPole(max_steps=100)
    neat = NEAT(env.n_inputs, 1, NEATConfig(population=6), rng=0)
    g = neat.population[0]
    expected = env.evaluate(rb.evolution.PopulationNetwork([g]))[0]
    assert env(g) == expected and env(g.network()) == expected
    res = neat.run(env, 1)
    assert res.generations == 1 and 0 <= res.best_fitness <= 100


# -- 6: roulette selection on fitnesses whose spread overflows ------------------------------
def test_6_roulette_keeps_proportions_of_huge_fitnesses():
    net = rb.nn.Sequential(rb.nn.Dense(1, 1, rng=0))
    cne = rb.evolution.CNE(net, population=10, selection="roulette", rng=0)
    with np.errstate(all="raise"):
        picks = cne.select(np.array([1e308, -1e308, 0.0]), 3000)
    counts = np.bincount(picks, minlength=3)
    assert counts[1] == 0 and 1.7 < counts[0] / counts[2] < 2.3  # weights 2e308 : 0 : 1e308
    res = cne.run(lambda m: float(np.sign(m[0].W.data.sum())) * 1e308, 3)
    assert res.generations == 3 and res.best_fitness == 1e308


# -- 7: GymTask flattens Tuple/Dict/Discrete observations ----------------------------------
def test_7_gym_task_flattens_a_tuple_observation():
    pytest.importorskip("gymnasium")
    task = rb.evolution.envs.GymTask("Blackjack-v1")  # Tuple(Discrete(32), (11), (2))
    assert task.n_inputs == 45
    seen = []

    def net(x):
        seen.append(x.shape)
        return np.array([[1.0, 0.0]])

    assert math.isfinite(task(net)) and seen[0] == (1, 45)


# -- 8: a config edited after construction is checked again ---------------------------------
def test_8_neat_checks_an_edited_config_at_run_and_tell():
    cfg = NEATConfig(population=10)
    neat = NEAT(2, 1, cfg, rng=0)
    cfg.add_node_rate = 5.0
    with pytest.raises(ConfigError, match="add_node_rate must be a probability"):
        neat.run(XOR().evaluate, 2, vectorized=True)
    with pytest.raises(ConfigError, match="add_node_rate"):
        neat.tell(np.zeros(10))
    cfg.add_node_rate, cfg.population = 0.03, 0
    with pytest.raises(ConfigError, match="population must be a positive integer; got 0"):
        neat.run(XOR().evaluate, 2, vectorized=True)


# -- 9: NEAT's Result counts this run's evaluations ----------------------------------------
def test_9_neat_result_counts_the_evaluations_of_its_run():
    neat = NEAT(2, 1, NEATConfig(population=30), rng=0)
    first = neat.run(XOR().evaluate, 2, vectorized=True)
    second = neat.run(XOR().evaluate, 2, vectorized=True)
    assert (first.evaluations, second.evaluations, neat.evaluations) == (60, 60, 120)
