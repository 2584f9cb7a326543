"""Audit s11/g1: NEAT's population gene block (GeneBlock) against the genomes it stands for."""
import numpy as np

import rosenblatt as rb
from rosenblatt.evolution import NEAT, NEATConfig, PopulationNetwork


def _each(neat, X, fast):
    return np.stack([PopulationNetwork([g], recurrent=neat.config.recurrent, fast=fast)(X)[0]
                     for g in neat.population])


def test_bias_edited_between_generations_reaches_the_phenotypes():
    # a genome's bias edited by hand (it travels to children, JSON and networks): the
    # population's network must use it, as each genome's own network does
    xor = rb.evolution.envs.XOR()
    for fast in (False, True):
        neat = NEAT(2, 1, config=NEATConfig(population=10), rng=0, fast=fast)
        neat.tell(neat.evaluate(xor.evaluate, vectorized=True))
        for g in neat.population:
            g.bias = 0.25
        np.testing.assert_array_equal(neat.population_network()(xor.X), _each(neat, xor.X, fast))
        assert neat.genes().bias.tolist() == [0.25] * 10
        neat.tell(neat.evaluate(xor.evaluate, vectorized=True))  # children inherit it
        np.testing.assert_array_equal(neat.population_network()(xor.X), _each(neat, xor.X, fast))


def _owned(a):
    """Whether ``a`` holds its own data (not a view into a larger array)."""
    return a.base is None or a.base.nbytes <= a.nbytes


def test_a_champion_kept_does_not_keep_its_generation_alive():
    # tell's champion (NEAT.best, Result.best, a callback's state, Coevolution's hall of
    # fame keep one per generation) holds its own genes, not views into the whole block
    xor = rb.evolution.envs.XOR()
    neat = NEAT(2, 1, config=NEATConfig(population=30, add_node_rate=0.3), rng=0)
    for _ in range(3):
        champion = neat.tell(neat.evaluate(xor.evaluate, vectorized=True))
        saved = champion.to_json()
        assert champion._slot is None
        arrays = [*champion.gene_arrays(), *champion.node_arrays(), *champion.local_edges()]
        assert all(_owned(a) and not a.flags.writeable for a in arrays)
        assert all(_owned(a) for a in champion._cache.values() if isinstance(a, np.ndarray))
        assert champion.to_json() == saved
        np.testing.assert_array_equal(PopulationNetwork([champion])(xor.X),
                                      PopulationNetwork([type(champion).from_json(saved)])(xor.X))


def test_genome_edited_after_the_block_was_built_from_the_population():
    # a population set by hand (a resumed run) is read into a block on first use; a genome
    # given other connection genes after that must not leave the block holding its old ones
    from rosenblatt.evolution.genome import Genome

    xor = rb.evolution.envs.XOR()
    for fast in (False, True):
        neat = NEAT(2, 1, config=NEATConfig(population=6), rng=0, fast=fast)
        neat.population = [Genome.from_json(g.to_json()) for g in neat.population]
        neat.evaluate(xor.evaluate, vectorized=True)
        g = neat.population[0]
        g.connections = [c.replace(weight=5.0) for c in g.connections]
        np.testing.assert_array_equal(neat.population_network()(xor.X), _each(neat, xor.X, fast))
        assert neat.genes().weight[:3].tolist() == [5.0] * 3


def test_two_runs_sharing_genomes_each_see_an_edit():
    xor = rb.evolution.envs.XOR()
    a = NEAT(2, 1, config=NEATConfig(population=6), rng=0)
    b = NEAT(2, 1, config=NEATConfig(population=6), rng=1)
    b.population = list(a.population)
    b.evaluate(xor.evaluate, vectorized=True)
    g = a.population[1]
    g.connections = [c.replace(weight=-2.0) for c in g.connections]
    for neat in (a, b):
        np.testing.assert_array_equal(neat.population_network()(xor.X),
                                      _each(neat, xor.X, False))


def test_gene_block_rows_out_of_range_and_splice_mismatch():
    import pytest

    from rosenblatt.evolution.genome import GeneBlock, Genome

    a = Genome.minimal(0, 2, 1, weights=[0.5, -0.5, 1.0])
    b = Genome.minimal(1, 2, 1, weights=[1.0, 2.0, 3.0])
    block = GeneBlock.of([a, b])
    assert block.genes(-1)[3].tolist() == [1.0, 2.0, 3.0]  # as take([-1]) reads it
    assert block.nodes(-2)[0].tolist() == [0, 1, 2, 3]
    for k in (2, -3):
        with pytest.raises(IndexError, match="row"):
            block.genes(k)
        with pytest.raises(IndexError, match="row"):
            block.nodes(k)
    with pytest.raises(ValueError, match="2 rows.*1 genome"):
        block.splice([0, 1], [a])
    with pytest.raises(ValueError, match="distinct"):
        block.splice([1, 1], [a, a])
    with pytest.raises(IndexError, match="row"):
        block.splice([2], [a])


def test_population_network_refuses_a_genome_of_another_shape_with_fast():
    import pytest

    from rosenblatt.evolution.genome import Genome

    for fast in (True, False):
        neat = NEAT(2, 1, config=NEATConfig(population=4), rng=0, fast=fast)
        neat.population[1] = Genome.minimal(1, 3, 1, weights=[0.1, 0.2, 0.3, 0.4])
        with pytest.raises(ValueError, match="genome 1 has 3 inputs"):
            neat.population_network()


def test_a_pickled_or_copied_genome_carries_its_own_genes_only():
    # a user's own process pool pickles genomes one by one: each must not carry the block
    import copy
    import pickle

    from rosenblatt.evolution.genome import Genome

    xor = rb.evolution.envs.XOR()
    neat = NEAT(2, 1, config=NEATConfig(population=60, add_node_rate=0.3), rng=0)
    for _ in range(3):
        neat.tell(neat.evaluate(xor.evaluate, vectorized=True))
    neat.population_network()  # (caches views on the genomes)
    for g in neat.population[:5]:
        alone = Genome.from_json(g.to_json())
        alone.gene_arrays(), alone.node_arrays(), alone.local_edges()
        assert len(pickle.dumps(g)) < 2 * len(pickle.dumps(alone)) + 500
        for twin in (pickle.loads(pickle.dumps(g)), copy.deepcopy(g)):
            assert twin == g and twin._slot is None
            np.testing.assert_array_equal(PopulationNetwork([twin])(xor.X),
                                          PopulationNetwork([g])(xor.X))
    assert g._slot is not None  # (the original is left as it was)
    twin = copy.deepcopy(neat)  # a copied run goes on as the original does
    for run in (neat, twin):
        run.tell(run.evaluate(xor.evaluate, vectorized=True))
    assert [g.to_json() for g in twin.population] == [g.to_json() for g in neat.population]


def test_cascading_champions_put_back_are_written_into_the_block():
    # selection="cascading" puts each function's champion back in place of the last
    # children: the block tell leaves must hold them (not be rebuilt from every genome)
    from rosenblatt.evolution.genome import GeneBlock

    xor = rb.evolution.envs.XOR()

    def casc(net):
        o = net(xor.X)
        return np.stack([xor.fitness(o), -np.abs(o).sum(axis=(1, 2))], axis=1)

    neat = NEAT(2, 1, config=NEATConfig(population=20, add_node_rate=0.2), rng=11,
                selection="cascading")
    put_back = 0
    for _ in range(6):
        ids = {g.id for g in neat.population}
        neat.tell(neat.evaluate(casc, vectorized=True))
        put_back += sum(g.id in ids and g._slot is not None for g in neat.population[-2:])
        block = neat._genes[0]
        assert neat.genes() is block
        whole = GeneBlock.of(neat.population)
        for name in GeneBlock.__slots__[:-1]:
            np.testing.assert_array_equal(getattr(block, name), getattr(whole, name))
    assert put_back


def test_inserted_genes_fall_where_their_innovations_do():
    # (structural mutations write their new genes with _inserted: lists, not array calls)
    from rosenblatt.evolution.neat import _inserted

    genes = (np.array([2, 5, 9]), np.array([0, 1, 2]), np.array([3, 3, 3]),
             np.array([0.5, -0.25, 1.0]), np.array([True, False, True]))
    out = _inserted(genes, [(10, 4, 3, 0.125, True), (0, 7, 8, -1.0, True), (6, 1, 7, 2.0, False)])
    assert [a.dtype for a in out] == [a.dtype for a in genes]
    assert not any(a.flags.writeable for a in out)
    assert out[0].tolist() == [0, 2, 5, 6, 9, 10]
    assert out[3].tolist() == [-1.0, 0.5, -0.25, 2.0, 1.0, 0.125]
    assert out[4].tolist() == [True, True, False, False, True, True]
    empty = tuple(a[:0] for a in genes)
    assert _inserted(empty, [(3, 0, 1, 1.0, True)])[2].tolist() == [1]
