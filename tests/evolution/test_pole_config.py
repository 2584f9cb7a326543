"""NEAT's double-pole settings: the paper's (XOR) defaults but for NEAT C++'s weight-mutation
rate and bias sensor value for that experiment; the measured claim is in benchmarks/README.md.
And the bias value itself: it travels with each genome and acts as the bias node's value."""

import json

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff import _kernels
from rosenblatt.evolution.genome import Genome, genomes_from_arrays, genomes_to_arrays
from rosenblatt.evolution.network import PopulationNetwork


def test_double_pole_differs_from_the_defaults_in_weight_mutation_and_bias():
    cfg = rb.evolution.NEATConfig.double_pole().to_dict()
    default = rb.evolution.NEATConfig().to_dict()
    assert {k for k in cfg if cfg[k] != default[k]} == {"weight_mutation_rate", "bias"}
    assert cfg["weight_mutation_rate"] == 0.9 and cfg["bias"] == 0.5
    assert cfg["population"] == 150 and default["bias"] == 1.0
    assert rb.evolution.NEATConfig.double_pole(population=40).population == 40
    with pytest.raises(rb.evolution.ConfigError, match="unknown key 'populaton'"):
        rb.evolution.NEATConfig.double_pole(populaton=40)
    with pytest.raises(rb.evolution.ConfigError, match="bias must be a finite number"):
        rb.evolution.NEATConfig(bias=float("nan"))


def test_neat_double_pole_balances_a_short_trial():
    env = rb.evolution.envs.CartPole(poles=2, velocities=True, max_steps=500)
    res = rb.evolution.NEAT(6, 1, rb.evolution.NEATConfig.double_pole(), rng=2).run(
        env.evaluate, 40, vectorized=True, stop=lambda g: g.fitness >= 500)
    assert res.best_fitness >= 500
    assert res.best.bias == 0.5


def _evolved(bias):
    neat = rb.evolution.NEAT(3, 2, rb.evolution.NEATConfig(population=30, bias=bias,
                                                            add_node_rate=0.2), rng=0)
    xs = np.random.default_rng(0).normal(size=(5, 3))
    for _ in range(8):
        neat.tell(neat.population_network()(xs).sum(axis=(1, 2)))
    return neat.population


@pytest.mark.parametrize("fast", [False, True])
def test_the_bias_value_is_the_bias_nodes_activation(fast):
    # a genome with bias b computes what the same genes compute with the bias node at b:
    # the connections from the bias node count b times their weight, bit for bit
    pop = _evolved(0.5)
    assert all(g.bias == 0.5 for g in pop) and any(g.n_hidden for g in pop)
    X = np.random.default_rng(1).normal(size=(7, 3))
    ones = [Genome.from_json(json.dumps({**json.loads(g.to_json()), "bias": 1.0}))
            for g in pop]
    try:
        _kernels.use_numba(True if fast else False)
        out = PopulationNetwork(pop, fast=fast)(X)
        plain = PopulationNetwork(ones, fast=fast)
        assert not np.array_equal(plain(X), out)
    finally:
        _kernels.use_numba(None)
    # the NumPy evaluation with the bias node itself set to 0.5
    ref = PopulationNetwork(ones)
    V = ref._inputs(X, ref.size)
    V[:, ref.n_inputs, :] = 0.5
    for groups in ref._groups:
        V = ref._update(V, groups)
    np.testing.assert_allclose(out, ref._outputs(V), rtol=0, atol=1e-12 if fast else 0)


def test_the_bias_value_travels_with_the_genome():
    pop = _evolved(0.25)
    g = pop[3]
    assert Genome.from_json(g.to_json()) == g and Genome.from_json(g.to_json()).bias == 0.25
    assert "bias" not in json.loads(_evolved(1.0)[3].to_json())  # the default is not written
    back = genomes_from_arrays(genomes_to_arrays(pop))
    assert back == pop and {x.bias for x in back} == {0.25}
    assert "bias" not in genomes_to_arrays(_evolved(1.0))
    X = np.random.default_rng(2).normal(size=(4, 3))
    np.testing.assert_array_equal(g.network()(X), PopulationNetwork([g])(X)[0])
    bad = {**json.loads(g.to_json()), "bias": "x"}
    with pytest.raises(rb.evolution.GenomeFormatError, match="malformed"):
        Genome.from_json(json.dumps(bad))
    message = genomes_to_arrays(pop)
    message["bias"] = message["bias"][:2]
    with pytest.raises(rb.evolution.GenomeFormatError, match="'bias' must hold"):
        genomes_from_arrays(message)
