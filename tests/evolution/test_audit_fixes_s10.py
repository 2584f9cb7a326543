"""Audit fixes, session 10 (demonstration, developmental networks, the bandit): plastic networks
refused by Imitation, serial vectorised runs seeded by the algorithm's rng, the genes saved with
their configuration, finite observations, genome equality, developmental genomes as one
network, copies of thetas, clearer errors, and the bandit's bound of one half (no switch only).
The chapter's reversal verdict is tested in test_tour_chapter3.py."""

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
)
from rosenblatt.evolution.envs import TwoArmedBandit


def _demo(rng, steps=12):
    obs = rng.normal(size=(steps, 1))
    return Demonstration(obs, (obs > 0).astype(float))


# -- 2: a plastic population is refused by Imitation (it would act with its birth weights) --
def test_imitation_refuses_plastic_networks(rng):
    net = DevelopmentalNetwork((1, 2, 1))
    thetas = rng.normal(size=(3, net.num_genes))
    imitation = Imitation(_demo(rng))
    with pytest.raises(ValueError, match="recurrent DevelopmentalPopulation"):
        imitation.evaluate(net.population(thetas))
    with pytest.raises(ValueError, match="recurrent"):
        imitation(net.genome(thetas[0]))


def test_imitation_scores_developmental_networks_with_fixed_weights(rng):
    net = DevelopmentalNetwork((1, 2, 1), rule=None)
    thetas = rng.normal(size=(3, net.num_genes))
    imitation = Imitation(_demo(rng))
    pop = net.population(thetas)
    assert not pop.recurrent
    scores = imitation.evaluate(pop)
    assert scores.shape == (3,)
    # 7: one genome, network or genes module scores as the population of one
    assert imitation(net.genome(thetas[1])) == scores[1]
    genome = net.genome(thetas[1])
    assert imitation(genome.network()) == scores[1]
    assert imitation(genome.network().genes) == scores[1]


# -- 3: serial vectorised runs follow from the algorithm's seed ------------------------------
def _cne_history(executor=None, population=20):
    net = DevelopmentalNetwork((1, 1))
    task = TwoArmedBandit(trials=5, lifetimes=3, sides="random")
    cne = CNE(net.genes, population=population, rng=5)
    return cne.run(lambda thetas: task.evaluate(net.population(thetas)), 3, vectorized=True,
                   executor=executor).history


def test_cne_serial_vectorised_run_is_reproducible_from_its_seed():
    first = _cne_history()
    rb.randomness.generator().random(7)  # the library generator moved between the runs
    assert _cne_history() == first
    with concurrent.futures.ThreadPoolExecutor(2) as pool:  # one sub-population: the same
        assert _cne_history(pool) == first


def test_neat_serial_vectorised_run_is_reproducible_from_its_seed():
    task = TwoArmedBandit(trials=5, lifetimes=3, sides="random")

    def run():
        return NEAT(1, 1, NEATConfig(population=12), rng=0).run(task.evaluate, 3,
                                                                 vectorized=True).history

    first = run()
    rb.randomness.generator().random(7)
    assert run() == first


def test_serial_vectorised_run_leaves_the_library_generator_alone():
    before = rb.randomness.generator().bit_generator.state
    _cne_history()
    assert rb.randomness.generator().bit_generator.state == before


# -- 4: rb.save(net.genes) keeps what the genes mean -----------------------------------------
def test_saved_genes_rebuild_their_network(tmp_path, rng):
    net = DevelopmentalNetwork((1, 3, 1), rule="layer", threshold=0.5, w_max=3.0)
    theta = rng.normal(size=net.num_genes)
    for p, value in zip(net.genes.parameters(), net.genome(theta).network().genes.parameters()):
        p.data[...] = value.data
    path = tmp_path / "genes.safetensors"
    rb.save(net.genes, path)
    back = rb.load(path).network()
    assert repr(back) == repr(net)
    np.testing.assert_array_equal(back.theta(), theta)


def test_genes_config_is_checked():
    from rosenblatt.evolution.developmental import _Genes

    config = DevelopmentalNetwork((1, 2)).genes.config()
    config["network"]["sizes"] = [2, 2]  # other shapes than the config lists
    with pytest.raises(ValueError, match="does not give the gene shapes"):
        _Genes.from_config(config)
    del config["network"]["rule"]
    with pytest.raises(ValueError, match="must hold sizes, rule"):
        _Genes.from_config(config)
    old = {"shapes": DevelopmentalNetwork((1, 2)).genes.config()["shapes"]}  # older files
    with pytest.raises(ValueError, match="no network configuration"):
        _Genes.from_config(old).network()


# -- 5: finite observations; step and __call__ express the same weights ----------------------
def test_step_refuses_non_finite_observations(rng):
    net = DevelopmentalNetwork((2, 2, 1))
    pop = net.population(rng.normal(size=(3, net.num_genes)))
    obs = rng.normal(size=(3, 2))
    obs[1, 0] = np.nan
    with pytest.raises(ValueError, match="obs must be finite; row 1"):
        pop.step(obs)
    obs[1, 0] = np.inf
    with pytest.raises(ValueError, match="obs must be finite; row 1"):
        pop.step(obs)


def test_refused_observation_leaves_the_weights_alone(rng):
    net = DevelopmentalNetwork((1, 2, 1))
    pop = net.population(rng.normal(size=(2, net.num_genes)))
    clean = net.population(pop.thetas)
    with pytest.raises(ValueError, match="finite"):
        pop.step(np.array([[np.nan], [1.0]]))
    for obs in (np.ones((2, 1)), np.zeros((2, 1))):
        np.testing.assert_array_equal(pop.step(obs), clean.step(obs))
    assert all(np.isfinite(w).all() for w in pop.weights)
    # step and __call__ act through the same expressed weights (step develops them after)
    X = np.array([[0.5]])
    expected = pop(X)[:, 0]
    np.testing.assert_array_equal(pop.step(np.repeat(X, 2, axis=0)), expected)


def test_rules_that_overflow_are_refused():
    net = DevelopmentalNetwork((1, 1), rule="layer")
    genome = net.genome(np.zeros(net.num_genes))
    genome.layers[0]["eta"][...] = 1e200
    genome.layers[0]["A"][...] = 1e200
    with pytest.raises(ValueError, match="overflows float64"):
        net.population(genome.theta()[None])


# -- 6: genomes compare by value -------------------------------------------------------------
def test_genome_equality(rng):
    net = DevelopmentalNetwork((2, 3, 1), rule="layer")
    genome = net.genome(rng.normal(size=net.num_genes))
    assert genome == DevelopmentalGenome.from_json(genome.to_json())
    other = net.genome(rng.normal(size=net.num_genes))
    assert genome != other
    assert genome != DevelopmentalNetwork((2, 3, 1), rule="layer", w_max=5.0).genome(
        genome.theta())
    assert genome != "genome"


# -- 7: the bandit scores a developmental genome, network or genes ---------------------------
def test_bandit_scores_developmental_genomes_networks_and_genes(rng):
    task = TwoArmedBandit(trials=10)
    net = DevelopmentalNetwork((1, 2, 1))
    theta = rng.normal(size=net.num_genes)
    expected = task.evaluate(net.population(theta[None]))[0]
    genome = net.genome(theta)
    assert task(genome) == expected
    assert task(genome.network()) == expected
    assert task(genome.network().genes) == expected  # what CNE hands a per-individual fitness


def test_cne_per_individual_on_developmental_genes():
    net = DevelopmentalNetwork((1, 2, 1))
    task = TwoArmedBandit(trials=10)
    res = CNE(net.genes, population=8, rng=0).run(task, 2)
    assert res.best_fitness == task.evaluate(net.population(res.best[None]))[0]


# -- 8: a population owns its genes ----------------------------------------------------------
def test_population_copies_thetas(rng):
    net = DevelopmentalNetwork((1, 2, 1))
    thetas = rng.normal(size=(2, net.num_genes))
    pop = net.population(thetas)
    obs = np.ones((2, 1))
    before = pop.step(obs)
    thetas[:] = 0.0
    pop.reset()
    np.testing.assert_array_equal(pop.step(obs), before)
    np.testing.assert_array_equal(pop.take([0, 1]).step(obs), before)


# -- 9: named errors ------------------------------------------------------------------------
def test_clear_errors_on_wrong_inputs(rng):
    net = DevelopmentalNetwork((1, 2, 1))
    pop = net.population(rng.normal(size=(3, net.num_genes)))
    with pytest.raises(TypeError, match="TwoArmedBandit.evaluate: population must be"):
        TwoArmedBandit().evaluate(lambda obs: obs)
    with pytest.raises(ValueError, match="keep: mask must have shape \\(3,\\)"):
        pop.keep([True, False])
    with pytest.raises(ValueError, match="take: index must be"):
        pop.take([5])
    with pytest.raises(ValueError, match="take: index must be"):
        pop.take([0.5])
    with pytest.raises(ValueError, match="thetas must be a \\(P, num_genes\\) array of numbers"):
        net.population([["a"] * net.num_genes])
    wide = DevelopmentalNetwork((2, 1))
    with pytest.raises(ValueError, match="must have 1 input .*got 2"):
        TwoArmedBandit().evaluate(wide.population(np.zeros((1, wide.num_genes))))


# -- 10: the bandit's bound of one half holds without a switch only --------------------------
class _Maps:
    """Fixed policies: each network's choice is a map of its one input, the last reward."""

    def __init__(self, maps):
        self.maps, self.size = np.asarray(maps, dtype=float), len(maps)

    def reset(self, population=None):
        pass

    def step(self, obs):
        return self.maps[np.arange(self.size), obs[:, 0].astype(int)][:, None]

    def take(self, index):
        return _Maps(self.maps[np.asarray(index)])


def _best_fixed(task):
    """The best fixed network's score: the best of the four maps {loss, win} -> {left, right}."""
    return task.evaluate(_Maps([[-1, -1], [1, 1], [-1, 1], [1, -1]])).max()


def test_bandit_bound_of_one_half_holds_without_a_switch():
    for trials in (1, 2, 5, 20):
        assert _best_fixed(TwoArmedBandit(trials=trials)) <= 0.5


def test_bandit_fixed_networks_beat_one_half_with_a_switch():
    # as the Notes say: 0.65 at trials=20, switch_at=5, and 0.6 at switch_at=7
    assert _best_fixed(TwoArmedBandit(trials=20, switch_at=5)) == pytest.approx(0.65)
    assert _best_fixed(TwoArmedBandit(trials=20, switch_at=7)) == pytest.approx(0.6)
    # the map of the Notes ("left after a loss, right after a win") as a fixed network
    net = DevelopmentalNetwork((1, 1), rule=None)
    genome = net.genome(np.array([3.0, -1.5]))
    task = TwoArmedBandit(trials=20, switch_at=5)
    assert task.evaluate(net.population(genome.theta()[None]))[0] == pytest.approx(0.65)
