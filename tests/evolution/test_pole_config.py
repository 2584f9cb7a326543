"""NEAT's double-pole settings: the paper's (XOR) defaults but for NEAT C++'s weight-mutation
rate for that experiment; the measured claim is in benchmarks/README.md."""

import pytest

import rosenblatt as rb


def test_double_pole_differs_from_the_defaults_only_in_weight_mutation():
    cfg = rb.evolution.NEATConfig.double_pole().to_dict()
    default = rb.evolution.NEATConfig().to_dict()
    assert {k for k in cfg if cfg[k] != default[k]} == {"weight_mutation_rate"}
    assert cfg["weight_mutation_rate"] == 0.9 and cfg["population"] == 150
    assert rb.evolution.NEATConfig.double_pole(population=40).population == 40
    with pytest.raises(rb.evolution.ConfigError, match="unknown key 'populaton'"):
        rb.evolution.NEATConfig.double_pole(populaton=40)


def test_neat_double_pole_balances_a_short_trial():
    env = rb.evolution.envs.CartPole(poles=2, velocities=True, max_steps=500)
    res = rb.evolution.NEAT(6, 1, rb.evolution.NEATConfig.double_pole(), rng=2).run(
        env.evaluate, 40, vectorized=True, stop=lambda g: g.fitness >= 500)
    assert res.best_fitness >= 500
