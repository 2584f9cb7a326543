"""CPPNs, cppn_image, HyperNEAT's batched painting and the visual discrimination task."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution import cppn
from rosenblatt.evolution.activations import ACTIVATIONS, CPPN_ACTIVATIONS
from rosenblatt.evolution.genome import ConnectionGene as C, Genome, NodeGene


def test_cppn_activations():
    x = np.array([-1.0, 0.0, 0.5])
    np.testing.assert_allclose(ACTIVATIONS["sine"](x), np.sin(x))
    np.testing.assert_allclose(ACTIVATIONS["gaussian"](x), np.exp(-x ** 2))
    np.testing.assert_allclose(ACTIVATIONS["sigmoid"](x), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(ACTIVATIONS["steep_sigmoid"](x), 1 / (1 + np.exp(-4.9 * x)))
    np.testing.assert_array_equal(ACTIVATIONS["step"](x), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(ACTIVATIONS["abs"](x), [1.0, 0.0, 0.5])
    assert set(CPPN_ACTIVATIONS) == {"sine", "gaussian", "sigmoid", "tanh", "abs", "identity",
                                     "step"}


def _ring():
    """out = sine(3 d) through a hidden sine node: concentric rings."""
    nodes = [NodeGene(0, "input", "identity"), NodeGene(1, "input", "identity"),
             NodeGene(2, "input", "identity"), NodeGene(3, "bias", "identity"),
             NodeGene(4, "output", "identity"), NodeGene(5, "hidden", "sine")]
    return Genome(0, 3, 1, nodes, [C(0, 2, 5, 3.0), C(1, 5, 4, 1.0)])


def test_cppn_image():
    img = cppn.cppn_image(_ring(), 9, 7)
    assert img.shape == (7, 9)
    y, x = np.meshgrid(np.linspace(-1, 1, 7), np.linspace(-1, 1, 9), indexing="ij")
    np.testing.assert_allclose(img, np.sin(3 * np.sqrt(x ** 2 + y ** 2)), atol=1e-12)
    np.testing.assert_allclose(img, img[::-1, ::-1])  # radial symmetry
    with pytest.raises(ValueError, match="3 inputs"):
        cppn.cppn_image(Genome.minimal(0, 2, 1, [0, 0, 0]), 4, 4)


def test_mixed_activations_in_one_population():
    rng = np.random.default_rng(0)
    genomes = []
    for k, act in enumerate(CPPN_ACTIVATIONS):
        g = _ring()
        g = g.with_genes(k, nodes=g.nodes[:5] + [NodeGene(5, "hidden", act)])
        genomes.append(g)
    X = rng.normal(size=(6, 3))
    pop = rb.evolution.PopulationNetwork(genomes)(X)
    for k, g in enumerate(genomes):
        np.testing.assert_allclose(pop[k], g.network()(X), rtol=1e-12)
        np.testing.assert_allclose(pop[k][:, 0], ACTIVATIONS[g.nodes[5].activation](3 * X[:, 2]),
                                   rtol=1e-12)


def _cppn4(seed):
    rng = np.random.default_rng(seed)
    g = Genome.minimal(seed, 4, 1, rng.normal(size=5), activation="tanh")
    t = rb.evolution.InnovationTracker(5, 6)
    cfg = cppn.cppn_config()
    for k in range(6):
        g = rb.evolution.neat.mutate_add_node(g, t, cfg, rng, k)
        g = rb.evolution.neat.mutate_add_connection(g, t, cfg, rng, k)
    return g


def test_paint_queries_every_connection_in_one_batch():
    sub = cppn.Substrate(cppn.grid(3), cppn.grid(2), hidden=cppn.grid(1, 2))
    genomes = [_cppn4(s) for s in range(3)]
    net = cppn.paint(genomes, sub, threshold=0.2, weight_max=3.0)
    assert [w.shape for w in net.weights] == [(3, 9, 2), (3, 2, 4)]
    g = genomes[1]
    for layer, (src, dst) in enumerate([(sub.inputs, sub.hidden), (sub.hidden, sub.outputs)]):
        for i in range(len(src)):
            for j in range(len(dst)):
                raw = g.network()(np.concatenate([src[i], dst[j]])[None])[0, 0]
                want = 0.0 if abs(raw) <= 0.2 else np.sign(raw) * (abs(raw) - 0.2) / 0.8 * 3
                assert net.weights[layer][1, i, j] == pytest.approx(want, abs=1e-12)
    X = np.random.default_rng(0).normal(size=(5, 9))
    np.testing.assert_allclose(net(X)[1], X @ net.weights[0][1] @ net.weights[1][1], rtol=1e-10)


def test_same_cppn_paints_two_resolutions():
    g = _cppn4(4)
    small = cppn.paint([g], cppn.Substrate(cppn.grid(11), cppn.grid(11))).weights[0][0]
    large = cppn.paint([g], cppn.Substrate(cppn.grid(21), cppn.grid(21))).weights[0][0]
    # the 11 x 11 grid's points are every other point of the 21 x 21 grid
    idx = (np.arange(0, 21, 2)[:, None] * 21 + np.arange(0, 21, 2)[None, :]).ravel()
    np.testing.assert_allclose(large[np.ix_(idx, idx)], small, atol=1e-12)


def test_visual_discrimination_scenes():
    env = rb.evolution.envs.VisualDiscrimination()
    assert env.X.shape == (75, 121) and env.targets.shape == (75, 2)
    assert np.all(env.X.sum(axis=1) == 10)  # 3 x 3 + 1 x 1
    perfect = np.zeros((75, 121))
    t = env.targets.astype(int)
    perfect[np.arange(75), t[:, 1] * 11 + t[:, 0]] = 1.0
    assert np.all(env.distances(perfect) == 0) and env.fitness(perfect) == 100.0
    big = rb.evolution.envs.VisualDiscrimination(33)
    assert np.all(big.X.sum(axis=1) == 90)  # 9 x 9 + 3 x 3
    perfect33 = np.zeros((75, 33 * 33))
    perfect33[np.arange(75), (3 * t[:, 1] + 1) * 33 + 3 * t[:, 0] + 1] = 1.0
    assert np.all(big.distances(perfect33) == 0)
    assert env.best_fitness == big.best_fitness == 100.0


def test_visual_discrimination_resolutions():
    # below 6 the 3 x 3 object is one cell, like the 1 x 1 one: nothing to discriminate
    with pytest.raises(ValueError, match="at least 6"):
        rb.evolution.envs.VisualDiscrimination(5)
    six = rb.evolution.envs.VisualDiscrimination(6)
    assert np.all(six.X.sum(axis=1) == 5)  # 2 x 2 + 1 x 1
    # at 22 the large object (6 x 6) has no centre cell: a perfect field scores below 100
    even = rb.evolution.envs.VisualDiscrimination(22)
    oracle = np.zeros((75, 22 * 22))
    t = even.targets
    cells = even.peaks(np.eye(22 * 22))
    nearest = np.linalg.norm(t[:, None] - cells[None], axis=-1).argmin(axis=1)
    oracle[np.arange(75), nearest] = 1.0
    assert even.fitness(oracle) == pytest.approx(even.best_fitness) and even.best_fitness < 92


def test_hyperneat_beats_chance_and_scales_up():
    env = rb.evolution.envs.VisualDiscrimination()
    chance = env.distances(np.random.default_rng(0).random((100, 75, 121))).mean()
    sub = cppn.Substrate(cppn.grid(11), cppn.grid(11))
    h = rb.evolution.HyperNEAT(sub, cppn.cppn_config(population=50), deltas=True, rng=1)
    res = h.run(env.evaluate, 20, vectorized=True)
    d11 = env.distances(h.develop(res.best)(env.X)).mean()
    env33 = rb.evolution.envs.VisualDiscrimination(33)
    big = h.develop(res.best, cppn.Substrate(cppn.grid(33), cppn.grid(33)))
    d33 = env33.distances(big(env33.X)).mean()
    assert d11 < 0.7 * chance and d33 < 0.7 * chance, (d11, d33, chance)


def test_hyperneat_per_network_fitness_equals_vectorised():
    env = rb.evolution.envs.VisualDiscrimination()
    sub = cppn.Substrate(cppn.grid(11), cppn.grid(11))
    a = rb.evolution.HyperNEAT(sub, cppn.cppn_config(population=12), rng=1).run(
        env.evaluate, 2, vectorized=True)
    b = rb.evolution.HyperNEAT(sub, cppn.cppn_config(population=12), rng=1).run(env, 2)
    np.testing.assert_allclose(a.history["best"], b.history["best"], rtol=1e-12)


def test_bad_input():
    with pytest.raises(TypeError, match="Substrate"):
        rb.evolution.HyperNEAT("grid")
    with pytest.raises(ValueError, match="4 inputs"):
        cppn.paint([Genome.minimal(0, 2, 1, [0, 0, 0])], cppn.Substrate(cppn.grid(2),
                                                                          cppn.grid(2)))


# -- audit a4 -----------------------------------------------------------------------------------
def _identity_cppn(weights):
    """A 4-input identity CPPN: ``w = weights . (x1, y1, x2, y2, bias)``."""
    return Genome.minimal(0, 4, 1, weights=weights, activation="identity")


@pytest.mark.parametrize("threshold", [0.0, 0.2, 0.999])
def test_painted_weights_stay_within_weight_max(threshold):
    s = cppn.Substrate(cppn.grid(2), cppn.grid(1, 3), cppn.grid(2, 1))
    h = cppn.HyperNEAT(s, threshold=threshold, weight_max=3.0, rng=0)
    net = h.develop(_identity_cppn([0.9, 0.0, 0.0, -0.6, 0.1]))  # |raw| up to 1.6
    top = max(np.abs(w).max() for w in net.weights)
    assert top == 3.0  # clamped to [-1, 1], then scaled onto [-weight_max, weight_max]


def test_paint_refuses_a_cppn_of_several_outputs():
    s = cppn.Substrate(cppn.grid(2), cppn.grid(1))
    h = cppn.HyperNEAT(s, rng=0)
    g2 = Genome.minimal(0, 4, 2, weights=[0.1] * 10, activation="identity")
    with pytest.raises(ValueError, match="paint: a HyperNEAT CPPN has 1 output; got 2"):
        h.develop(g2)


def test_cppn_image_of_one_pixel_is_at_the_centre():
    x_only = Genome.minimal(0, 3, 1, weights=[1.0, 0, 0, 0], activation="identity")
    d_only = Genome.minimal(0, 3, 1, weights=[0, 0, 1.0, 0], activation="identity")
    y_only = Genome.minimal(0, 3, 1, weights=[0, 1.0, 0, 0], activation="identity")
    assert cppn.cppn_image(x_only, 1, 1).tolist() == [[0.0]]
    assert cppn.cppn_image(d_only, 1, 1).tolist() == [[0.0]]
    assert cppn.cppn_image(x_only, 3, 1).tolist() == [[-1.0, 0.0, 1.0]]
    assert cppn.cppn_image(y_only, 3, 1).tolist() == [[0.0, 0.0, 0.0]]
    assert cppn.cppn_image(y_only, 1, 3).tolist() == [[-1.0], [0.0], [1.0]]


def test_hyperneat_fitness_must_be_callable():
    h = cppn.HyperNEAT(cppn.Substrate(cppn.grid(2), cppn.grid(1)),
                       config=cppn.cppn_config(population=4), rng=0)
    with pytest.raises(TypeError, match="HyperNEAT.run: fitness must be callable; got str"):
        h.run("xor", 2, on_error="worst")


def test_substrate_network_keeps_float32():
    h = cppn.HyperNEAT(cppn.Substrate(cppn.grid(2), cppn.grid(1), cppn.grid(2)), rng=0)
    net = h.develop(h.neat.population[:3])
    X = np.random.default_rng(0).normal(size=(5, 4))
    out32 = net(X.astype(np.float32))
    assert out32.dtype == np.float32 and net(X).dtype == np.float64
    np.testing.assert_array_equal(out32, net(X.astype(np.float32).astype(np.float64))
                                  .astype(np.float32))
    assert net.step(X[:3].astype(np.float32)).dtype == np.float32


def _sizes(popnet):
    return np.full(popnet.size, float(popnet.size))


def test_hyperneat_run_passes_chunk_size():
    import concurrent.futures

    h = cppn.HyperNEAT(cppn.Substrate(cppn.grid(2), cppn.grid(1)),
                       config=cppn.cppn_config(population=8), rng=0)
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        res = h.run(_sizes, 1, executor=ex, vectorized=True, chunk_size=3)
    assert res.history["best"] == [3.0]  # chunks of 3, 3 and 2 CPPNs


@pytest.mark.parametrize("hidden", [5, 0.5, "abc", [[0.0, 0.0, 1.0]]])
def test_substrate_hidden_must_be_coordinates(hidden):
    with pytest.raises(ValueError, match="Substrate: hidden must be an \\(n, 2\\) array"):
        cppn.Substrate(cppn.grid(2), cppn.grid(1), hidden=hidden)


def test_substrate_hidden_empty_is_none():
    for hidden in (None, [], np.zeros((0, 2))):
        assert cppn.Substrate(cppn.grid(2), cppn.grid(1), hidden=hidden).hidden is None
