"""A NEAT population's genes as one block of arrays (GeneBlock): reproduction writes it with
array operations, and it must always hold exactly the genes of the genomes it describes."""

import importlib.util

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff import _kernels
from rosenblatt.evolution import NEAT, NEATConfig, network as network_mod
from rosenblatt.evolution.genome import ConnectionGene, GeneBlock, Genome, NodeGene
from rosenblatt.evolution.neat import _reproduce, distance_matrix, reproduce, speciate

needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                 reason="the fast extra (numba) is not installed")


@pytest.fixture
def kernels():
    """The compiled kernels on (also under ROSENBLATT_NO_NUMBA=1, which use_numba overrides)."""
    _kernels.use_numba(True)
    yield
    _kernels.use_numba(None)


COLUMNS = GeneBlock.GENE_COLUMNS + GeneBlock.NODE_COLUMNS + ("gene_starts", "node_starts",
                                                              "bias")


def _same(a, b):
    for name in COLUMNS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name


def _genomes():
    a = Genome.minimal(0, 2, 1, weights=[0.5, -0.5, 1.0])
    b = Genome(1, 2, 1, a.nodes + [NodeGene(4, "hidden", "tanh")],
               [ConnectionGene(0, 0, 3, 0.25, False), ConnectionGene(3, 0, 4, 1.0),
                ConnectionGene(4, 4, 3, -2.0)], bias=0.5)
    c = Genome(2, 2, 1, list(a.nodes), [])  # no connection genes at all
    return [a, b, c]


def test_a_block_holds_each_genomes_arrays_and_takes_and_splices_rows():
    gs = _genomes()
    block = GeneBlock.of(gs)
    assert block.size == 3
    for k, g in enumerate(gs):
        for x, y in zip(block.genes(k), g.gene_arrays()):
            assert np.array_equal(x, y)
        for x, y in zip(block.nodes(k), g.node_arrays()):
            assert np.array_equal(x, y)
    _same(block.take(np.array([2, 0, 0, 1])), GeneBlock.of([gs[2], gs[0], gs[0], gs[1]]))
    _same(block.take(np.array([], np.int64)), GeneBlock.of([]))
    _same(block.splice([0, 2], [gs[1], gs[1]]), GeneBlock.of([gs[1], gs[1], gs[1]]))
    _same(block.splice([], []), block)
    with pytest.raises(ValueError):  # read-only: a block is never changed in place
        block.weight[0] = 1.0


def test_a_genome_given_other_genes_makes_its_populations_block_stale():
    neat = NEAT(2, 1, config=NEATConfig(population=20), rng=0)
    block = neat.genes()
    assert block is neat.genes()  # kept while the population is the one it describes
    g = neat.population[3]
    g.connections = g.connections[:2]
    assert block.stale and neat.genes() is not block
    assert np.array_equal(neat.genes().genes(3)[0], [0, 1])  # rebuilt from the genomes
    neat.population[5] = Genome.minimal(99, 2, 1, weights=[1.0, 2.0, 3.0])
    assert neat.genes().genes(5)[3].tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("kind", ["xor", "cppn", "cascading"])
def test_reproduction_writes_the_block_of_the_genomes_it_makes(fast, kind):
    xor = rb.evolution.envs.XOR()
    kw = dict(population=50, add_node_rate=0.2, add_connection_rate=0.3,
              toggle_enable_rate=0.1)
    extra = {}
    if kind == "cppn":
        kw.update(activations=("sine", "gaussian", "tanh"), activation_mutation_rate=0.3)
    if kind == "cascading":
        extra = dict(selection="cascading")
    neat = NEAT(2, 1, config=NEATConfig(**kw), rng=1, fast=fast, **extra)
    for _ in range(12):
        f = neat.evaluate(xor.evaluate, vectorized=True)
        if kind == "cascading":
            f = np.stack([f.reshape(-1), -np.arange(len(f), dtype=float)], axis=1)
        neat.tell(f)
        block = neat._genes[0]
        if kind != "cascading":  # (cascading may put kept champions back: rebuilt then)
            assert neat.genes() is block
        _same(neat.genes(), GeneBlock.of(neat.population))
    assert max(g.n_hidden for g in neat.population) > 0


def test_children_read_their_genes_from_the_block():
    xor = rb.evolution.envs.XOR()
    neat = NEAT(2, 1, config=NEATConfig(population=40), rng=2)
    neat.run(xor.evaluate, 3, vectorized=True)
    block = neat.genes()
    views = [np.shares_memory(g.gene_arrays()[3], block.weight) for g in neat.population]
    assert sum(views) > 30  # all but the elites and the structurally mutated children


@needs_numba
@pytest.mark.parametrize("bias", [1.0, 0.5])
def test_phenotypes_packed_from_the_block_equal_those_of_the_genomes(bias, kernels):
    xor = rb.evolution.envs.XOR()
    neat = NEAT(2, 1, config=NEATConfig(population=60, bias=bias, add_node_rate=0.2),
                rng=3, fast=True)
    neat.run(xor.evaluate, 8, vectorized=True)
    from_block = neat.population_network()
    from_genomes = rb.evolution.network.PopulationNetwork(
        [g.with_genes(g.id) for g in neat.population], recurrent=False, fast=True)
    (r1, o1), (r2, o2) = from_block.compiled_records(), from_genomes.compiled_records()
    assert np.array_equal(r1, r2) and np.array_equal(o1, o2)
    assert np.array_equal(from_block(xor.X), from_genomes(xor.X))
    numpy = rb.evolution.network.PopulationNetwork(neat.population, recurrent=False)
    np.testing.assert_allclose(from_block(xor.X), numpy(xor.X), rtol=1e-12, atol=1e-12)
    kept = from_block.take([4, 1, 1])  # per-genome records, sliced out of the block's
    assert np.array_equal(kept(xor.X), from_block(xor.X)[[4, 1, 1]])


@needs_numba
def test_a_cycle_in_the_block_names_the_genome(kernels):
    a, b, _ = _genomes()
    loop = Genome(7, 2, 1, b.nodes, [ConnectionGene(0, 3, 4, 1.0), ConnectionGene(1, 4, 3, 1.0)])
    block = GeneBlock.of([a, loop])
    with pytest.raises(ValueError, match="Genome 7: its enabled connections form a cycle"):
        network_mod.PopulationNetwork([a, loop], recurrent=False, fast=True, genes=block)
    with pytest.raises(ValueError, match="genes holds 2 genomes' genes; got 1 genomes"):
        network_mod.PopulationNetwork([a], recurrent=False, fast=True, genes=block)


def test_distances_and_reproduction_read_the_block_as_the_genomes():
    xor = rb.evolution.envs.XOR()
    neat = NEAT(2, 1, config=NEATConfig(population=60, add_node_rate=0.2), rng=4)
    neat.run(xor.evaluate, 6, vectorized=True)
    pop, block = neat.population, neat.genes()
    reps = pop[::7]
    for fast in (False, True):
        np.testing.assert_array_equal(
            distance_matrix(pop, reps, fast=fast, genes=block),
            distance_matrix(pop, reps, fast=fast))
    f = neat.evaluate(xor.evaluate, vectorized=True)
    for g, x in zip(pop, f):
        g.fitness = float(x)
    fitness_of = {g.id: float(x) for g, x in zip(pop, f)}
    runs = []
    for with_block in (True, False):
        species, _ = speciate(pop, [], neat.threshold, neat.config, np.random.default_rng(0), 0,
                              genes=block if with_block else None)
        args = (species, fitness_of, 6, neat.config, neat.tracker.__class__(
            next_innovation=1000, next_node=100), np.random.default_rng(1), 500, pop[0].id)
        children, _ = (_reproduce(*args, block=block, genomes=pop)[:2] if with_block
                       else reproduce(*args))
        runs.append([g.to_json() for g in children])
    assert runs[0] == runs[1]


def test_a_kept_champion_replaces_an_elites_copy_in_genomes_and_block_alike():
    # cascading's champions take the places of the last children whatever they are: an
    # elite's copy there must become the champion in the genomes as in the block
    from rosenblatt.evolution.neat import InnovationTracker, _Breeder, _Uniforms

    xor = rb.evolution.envs.XOR()
    neat = NEAT(2, 1, config=NEATConfig(population=12, add_node_rate=0.3), rng=5)
    neat.run(xor.evaluate, 4, vectorized=True)
    pop, block = neat.population, neat.genes()
    rng = np.random.default_rng(0)
    breed = _Breeder(InnovationTracker(next_innovation=500, next_node=100), neat.config, rng,
                     _Uniforms(rng), block, pop)
    for k, g in enumerate(pop[:4]):
        breed.mutant(g, 1000 + k)
    breed.copy(pop[4])  # the last child: an elite's copy
    champion = pop[7]
    out, new = breed.build(keep=[champion])
    assert out[-1].id == champion.id and out[-1] is not champion
    _same(new, GeneBlock.of(out))
    assert [g._slot[1] for g in out] == list(range(len(out)))
