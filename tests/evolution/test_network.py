"""NEAT phenotypes (rosenblatt.evolution.network): non-finite inputs, steps, step shapes,
dtypes."""

import numpy as np
import pytest

from rosenblatt.evolution import _kernels
from rosenblatt.evolution.genome import ConnectionGene as C, Genome, NodeGene
from rosenblatt.evolution.network import PopulationNetwork

needs_numba = pytest.mark.skipif(_kernels.get("neat_forward") is None,
                                 reason="compiled kernels unavailable")


def _unused_input(how):
    """A 2-input identity genome whose output reads input 1 (weight 1) and the bias (0.5),
    input 0 through a gene of weight 0 or a disabled one."""
    g = Genome.minimal(0, 2, 1, weights=[0.0, 1.0, 0.5], activation="identity")
    if how == "disabled":
        c = g.connections
        g = g.with_genes(1, connections=[c[0].replace(weight=3.0, enabled=False), c[1], c[2]])
    return g


@pytest.mark.parametrize("how", ["zero weight", "disabled"])
@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("n", [1, 4, 5, 20])
def test_non_finite_unused_input_does_not_poison_outputs(how, value, n):
    g = _unused_input(how)
    X = np.tile([[value, 0.5]], (n, 1))
    np.testing.assert_array_equal(g.network()(X), np.ones((n, 1)))
    if _kernels.get("neat_forward") is not None:
        np.testing.assert_array_equal(g.network(fast=True)(X), np.ones((n, 1)))


def test_non_finite_input_reaches_only_its_nodes():
    """A hidden chain fed by an infinite input is inf; the other output stays finite, on
    both paths and every batch size; recurrent phenotypes likewise."""
    nodes = [NodeGene(0, "input", "identity"), NodeGene(1, "input", "identity"),
             NodeGene(2, "bias", "identity"), NodeGene(3, "output", "identity"),
             NodeGene(4, "output", "identity"), NodeGene(5, "hidden", "identity")]
    conns = [C(0, 0, 5, 2.0), C(1, 5, 3, -1.0), C(2, 1, 4, 1.0), C(3, 2, 4, 0.5),
             C(4, 1, 3, 0.0)]
    g = Genome(0, 2, 2, nodes, conns)
    X = np.array([[np.inf, 1.0]] * 3 + [[np.nan, 2.0]] * 3)
    want = np.array([[-np.inf, 1.5]] * 3 + [[np.nan, 2.5]] * 3)
    for n in (1, 3, 6):
        np.testing.assert_array_equal(g.network()(X[-n:]), want[-n:])
        np.testing.assert_array_equal(PopulationNetwork([g, g])(X[-n:])[1], want[-n:])
        if _kernels.get("neat_forward") is not None:
            np.testing.assert_array_equal(g.network(fast=True)(X[-n:]), want[-n:])
    r = Genome(0, 2, 2, nodes, conns, recurrent=True)
    np.testing.assert_array_equal(r.network()(X), want)


@needs_numba
def test_zero_weight_gene_with_finite_inputs_equals_numpy():
    g = _unused_input("zero weight")
    X = np.random.default_rng(0).normal(size=(7, 2))
    np.testing.assert_array_equal(g.network(fast=True)(X), g.network()(X))


@pytest.mark.parametrize("steps", [0, -3, 2.7, "3", True])
def test_recurrent_steps_must_be_a_positive_integer(steps):
    g = Genome.minimal(0, 1, 1, weights=[1.0, 0.5], activation="identity", recurrent=True)
    with pytest.raises(ValueError, match=f"steps must be a positive integer; got {steps!r}"):
        g.network(steps=steps)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        PopulationNetwork([g], steps=steps)


def test_recurrent_steps_integer_like_accepted():
    g = Genome.minimal(0, 1, 1, weights=[1.0, 0.5], activation="identity", recurrent=True)
    assert g.network(steps=np.int64(2))(np.array([[2.0]])).tolist() == [[2.5]]


@pytest.mark.parametrize("shape", [(3, 1), (1, 2), (3, 3), (2, 2)])
def test_recurrent_step_checks_the_observation_shape(shape):
    gs = [Genome.minimal(i, 2, 1, weights=[1.0, 2.0, 0.0], activation="identity",
                         recurrent=True) for i in range(3)]
    net = PopulationNetwork(gs)
    net.reset()
    with pytest.raises(ValueError, match=r"inputs must have shape.*got"):
        net.step(np.ones(shape))
    np.testing.assert_array_equal(net.step(np.ones((3, 2))), [[3.0]] * 3)


def test_recurrent_network_step_checks_the_observation_width():
    g = Genome.minimal(0, 2, 1, weights=[1.0, 2.0, 0.0], activation="identity",
                       recurrent=True)
    n = g.network()
    n.reset()
    with pytest.raises(ValueError, match="inputs must have shape"):
        n.step(np.array([1.0]))
    assert n.step(np.array([1.0, 1.0])).tolist() == [[3.0]]


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("recurrent", [False, True])
def test_float32_in_float32_out(fast, recurrent):
    g = Genome.minimal(0, 2, 1, weights=[0.5, -0.5, 0.1], recurrent=recurrent)
    X = np.random.default_rng(0).normal(size=(6, 2))
    for dtype in (np.float32, np.float64):
        net = g.network(fast=fast)
        out = net(X.astype(dtype))
        assert out.dtype == dtype
        np.testing.assert_array_equal(out, g.network()(X.astype(dtype).astype(np.float64))
                                      .astype(dtype))
        pop = PopulationNetwork([g, g], fast=fast)
        assert pop(X.astype(dtype)).dtype == dtype
        assert pop(X[None].repeat(2, 0).astype(dtype)).dtype == dtype
        pop.reset()
        assert pop.step(X[:2].astype(dtype)).dtype == dtype
    assert g.network()(np.ones((2, 2), dtype=np.int64)).dtype == np.float64
