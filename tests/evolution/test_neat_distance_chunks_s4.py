"""NEAT's distance matrix in memory-bounded chunks (audit s4, CLI #10: `evolve` NEAT on the
11x11 retina took 8.5 GB in one generation): the distances are bit-identical whatever the
chunk, and the W-bar temporaries stay within the chunk's size."""

import tracemalloc

import numpy as np
import pytest

from rosenblatt.evolution import neat
from rosenblatt.evolution.genome import Genome


def _population(n, n_inputs, n_outputs, seed=0, drop=0.2):
    """Genomes of one minimal topology with random weights and random genes left out."""
    rng = np.random.default_rng(seed)
    base = Genome.minimal(0, n_inputs, n_outputs,
                          weights=rng.normal(size=(n_inputs + 1) * n_outputs))
    out = []
    for i in range(n):
        conns = [c._replace(weight=float(rng.normal())) for c in base.connections
                 if rng.random() > drop]
        out.append(base.with_genes(i + 1, connections=conns))
    return out


@pytest.mark.parametrize("below", [None, 2.5])
def test_distance_matrix_is_bit_identical_in_chunks(monkeypatch, below):
    genomes = _population(25, 12, 6)
    full = neat.distance_matrix(genomes, genomes[:9], below=below)
    for chunk in (1, 100, 1000, 5000):
        monkeypatch.setattr(neat, "_WBAR_CHUNK", chunk)
        np.testing.assert_array_equal(neat.distance_matrix(genomes, genomes[:9], below=below),
                                      full)
    # the scalar definition, where W-bar is computed
    d = [[neat.compatibility_distance(a, b) for b in genomes[:9]] for a in genomes]
    if below is None:
        np.testing.assert_allclose(full, d, rtol=1e-12)


def test_distance_matrix_memory_is_bounded_by_the_chunk(monkeypatch):
    genomes = _population(30, 40, 40, drop=0.05)  # 1,640 genes each, 900 pairs
    for g in genomes:
        g.gene_arrays()  # cached before measuring
    monkeypatch.setattr(neat, "_WBAR_CHUNK", 2**14)
    tracemalloc.start()
    try:
        neat.distance_matrix(genomes, genomes, below=10.0)
        neat.distance_matrix(genomes, genomes)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the dense (genomes, genes) matrices take ~8 MiB; unchunked, the W-bar temporaries took
    # ~39 MiB more (each (pairs, K) array alone 900 * 1640 * 8 bytes = 11.8 MB)
    assert peak < 16 * 2**20, peak
