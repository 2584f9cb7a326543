"""Many genomes as flat arrays (what a vectorised NEAT task carries to a worker)."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution.genome import (
    Genome,
    GenomeFormatError,
    genomes_from_arrays,
    genomes_to_arrays,
)
from rosenblatt.evolution.neat import population_from_arrays


@pytest.fixture(scope="module")
def evolved():
    """Genomes with hidden nodes, disabled genes and fitnesses (NEAT on XOR, a few
    generations), plus one that was never evaluated."""
    neat = rb.evolution.NEAT(2, 1, rng=1)
    neat.run(rb.evolution.envs.XOR().evaluate, 6, vectorized=True)
    genomes = list(neat.population)  # the new generation: fitness None
    for g, f in zip(genomes, np.linspace(-1.0, 3.0, len(genomes))):
        g.fitness = float(f)
    genomes[3].fitness = None
    assert any(g.n_hidden for g in genomes)
    assert any(not g.gene_arrays()[4].all() for g in genomes)
    return genomes


def test_round_trip_is_exact(evolved):
    back = genomes_from_arrays(genomes_to_arrays(evolved))
    assert back == evolved  # ids, nodes, genes (weights to the bit), recurrent, fitness
    assert [g.to_json() for g in back] == [g.to_json() for g in evolved]
    assert genomes_from_arrays(genomes_to_arrays([])) == []


def test_smaller_than_json_and_the_same_network(evolved):
    message = genomes_to_arrays(evolved)
    size = sum(v.nbytes for v in message.values() if isinstance(v, np.ndarray))
    texts = [g.to_json() for g in evolved]
    assert size < sum(map(len, texts)) / 2
    X = np.random.default_rng(0).uniform(-1, 1, (5, 2))
    for fast in (False, True):
        a = population_from_arrays(False, message, fast=fast)(X)
        b = rb.evolution.PopulationNetwork([Genome.from_json(t) for t in texts],
                                           recurrent=False, fast=fast)(X)
        np.testing.assert_array_equal(a, b)


def _broken(evolved, **change):
    m = genomes_to_arrays(evolved[:3])
    for k, f in change.items():
        m[k] = f(m[k])
    return m


@pytest.mark.parametrize("change, says", [
    ({"format": lambda v: "genome"}, "not a message of genomes"),
    ({"version": lambda v: 99}, "unsupported version"),
    ({"weight": lambda v: v.astype(np.float32)}, "must hold float64"),
    ({"weight": lambda v: np.where(np.arange(len(v)) == 1, np.nan, v)}, "non-finite weight"),
    ({"dst": lambda v: np.where(np.arange(len(v)) == 0, 99, v)}, "missing node"),
    ({"dst": lambda v: np.where(np.arange(len(v)) == 0, 0, v)}, "input or bias"),
    ({"innovation": lambda v: v[::-1].copy()}, "innovations must be sorted"),
    ({"node_kind": lambda v: np.where(np.arange(len(v)) == 0, 2, v).astype(np.int8)},
     "the inputs, the bias and the outputs"),
    ({"node_activation": lambda v: v + 1000}, "unknown activation"),
    ({"src": lambda v: v[:-1]}, "do not match"),
])
def test_bad_message_is_a_format_error(evolved, change, says):
    with pytest.raises(GenomeFormatError, match=says):
        genomes_from_arrays(_broken(evolved, **change))


def test_not_a_dict():
    with pytest.raises(GenomeFormatError, match="not a message"):
        genomes_from_arrays([Genome.minimal(0, 1, 1, [0.0, 1.0]).to_json()])
