"""The neuroevolution kernels (``rosenblatt[fast]``) against their NumPy twins.

NEAT phenotypes (``fast=True``): the compiled records (``neat_pack`` / ``neat_forward``) against
the padded level-by-level NumPy evaluation and against each genome's own
network; CNE: ``population_forward(fast=True)`` (``mlp_forward``) against the
exact NumPy path. ``use_numba(True)`` overrides ``ROSENBLATT_NO_NUMBA``, so the
comparisons also run in the CI's NumPy-only pass; without Numba they are
skipped and the fallback alone is checked.
"""

import importlib.util

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff import _kernels
from rosenblatt.evolution import activations
from rosenblatt.evolution.genome import ConnectionGene, Genome, NodeGene

HAVE_NUMBA = importlib.util.find_spec("numba") is not None
needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="the fast extra (numba) is not installed")


def _evolved(generations=8, seed=0, activation_set=None):
    """A population after a few XOR generations (hidden nodes, disabled genes); with
    ``activation_set`` every hidden node draws its activation from it (CPPN-like)."""
    xor = rb.evolution.envs.XOR()
    neat = rb.evolution.NEAT(2, 1, rng=seed)
    _kernels.use_numba(False)
    try:
        neat.run(xor.evaluate, generations, vectorized=True)
    finally:
        _kernels.use_numba(None)
    pop = neat.population
    if activation_set is not None:
        rng = np.random.default_rng(seed)
        pop = [g.with_genes(g.id, nodes=[NodeGene(n.id, n.kind, str(rng.choice(activation_set)))
                                         if n.kind in ("hidden", "output") else n
                                         for n in g.nodes]) for g in pop]
    return pop


@needs_numba
@pytest.mark.parametrize("acts", [None, activations.NAMES])
def test_neat_population_kernel_matches_numpy(both, acts):
    pop = _evolved(activation_set=acts)
    assert sum(g.n_hidden for g in pop) > 0 and any(not c.enabled for g in pop
                                                    for c in g.connections)
    X = np.random.default_rng(1).normal(size=(7, 2))

    def run():
        net = rb.evolution.PopulationNetwork(pop, recurrent=False, fast=True)
        return net(X), net(np.broadcast_to(X, (len(pop),) + X.shape) * 0.5)

    (fast, fast_each), (slow, slow_each) = both(run)
    np.testing.assert_allclose(fast, slow, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fast_each, slow_each, rtol=1e-6, atol=1e-6)
    # the same genomes again: their cached records give the same outputs
    _kernels.use_numba(True)
    try:
        again = rb.evolution.PopulationNetwork(pop, recurrent=False, fast=True)(X)
    finally:
        _kernels.use_numba(None)
    np.testing.assert_array_equal(again, fast)


@needs_numba
def test_population_equals_each_genome_network(both):
    pop = _evolved(seed=3)
    X = np.random.default_rng(2).normal(size=(5, 2))

    def run():
        whole = rb.evolution.PopulationNetwork(pop, fast=True)(X)
        return whole, np.stack([g.network(fast=True)(X) for g in pop])

    (fast_whole, fast_each), (slow_whole, _) = both(run)
    np.testing.assert_allclose(fast_whole, fast_each, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast_whole, slow_whole, rtol=1e-6, atol=1e-6)


@needs_numba
def test_control_protocol_and_padded_arrays_on_the_compiled_path(both):
    pop = _evolved(seed=1)[:12]
    obs = np.random.default_rng(3).normal(size=(12, 2))

    def run():
        net = rb.evolution.PopulationNetwork(pop, recurrent=False, fast=True)
        padded = net.level, net.W  # built on first use on the compiled path
        taken = net.take([3, 3, 0])
        net.keep(np.arange(12) % 2 == 0)
        return (net.step(obs[::2]), taken.step(obs[[3, 3, 0]]), np.array(net.ids),
                np.array(taken.ids), net.size, *padded)

    fast, slow = both(run)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@needs_numba
def test_compiled_path_errors_name_the_genome():
    g = Genome(7, 1, 1, [NodeGene(0, "input", "identity"), NodeGene(1, "bias", "identity"),
                         NodeGene(2, "output"), NodeGene(3, "hidden"), NodeGene(4, "hidden")],
               [ConnectionGene(0, 0, 3, 1.0), ConnectionGene(1, 3, 4, 1.0),
                ConnectionGene(2, 4, 3, 1.0), ConnectionGene(3, 4, 2, 1.0)])
    _kernels.use_numba(True)
    try:
        with pytest.raises(ValueError, match="Genome 7: .*cycle"):
            rb.evolution.PopulationNetwork([g], recurrent=False, fast=True)
        ok = Genome.minimal(1, 2, 1, [0.0, 0.0, 0.0])
        other = Genome.minimal(2, 3, 1, [0.0, 0.0, 0.0, 0.0])
        ok.network(fast=True)(np.zeros((1, 2)))  # its record is cached now
        with pytest.raises(ValueError, match="genome 2 has 3 inputs"):
            rb.evolution.PopulationNetwork([ok, other], recurrent=False, fast=True)
        with pytest.raises(TypeError, match="expected Genomes"):
            rb.evolution.PopulationNetwork([ok, "x"], recurrent=False, fast=True)
        net = rb.evolution.PopulationNetwork([ok], recurrent=False, fast=True)
        with pytest.raises(ValueError, match="inputs must have shape"):
            net(np.zeros((4, 3)))
    finally:
        _kernels.use_numba(None)


def test_children_with_the_same_genes_share_the_record():
    g = Genome.minimal(0, 2, 1, [0.5, -0.5, 1.0])
    g.network(fast=True)(np.zeros((1, 2)))
    child = g.with_genes(1)
    assert ("record" in child._cache) == ("record" in g._cache)
    innov, src, dst, w, on = g.gene_arrays()
    assert "record" not in g.with_arrays(2, innov, src, dst, w + 1.0, on)._cache


def test_fast_is_opt_in():
    g = Genome.minimal(0, 2, 1, [0.5, -0.5, 1.0])
    assert rb.evolution.PopulationNetwork([g])._fast is None
    assert rb.evolution.NEAT(2, 1, rng=0).fast is False


def test_neat_runs_match_with_and_without_the_kernels(both):
    """Same seed: the same species and sizes; fitness to the last bits (sums in another
    order and libm's tanh: results differ by a few ulp, which could only matter where two
    genomes' fitnesses tie to the last bit)."""
    xor = rb.evolution.envs.XOR()

    def run():
        res = rb.evolution.NEAT(2, 1, rng=2, fast=True).run(xor.evaluate, 6, vectorized=True)
        return res.history

    fast, slow = both(run)
    assert fast["species"] == slow["species"]
    np.testing.assert_allclose(fast["best"], slow["best"], rtol=1e-12)


@needs_numba
def test_distance_kernel_matches_numpy():
    from rosenblatt.evolution.neat import distance_matrix

    pop = _evolved(generations=10, seed=4)
    others = pop[::7]
    _kernels.use_numba(True)
    try:
        fast = distance_matrix(pop, others, 1.0, 1.0, 0.4, 20, fast=True)
        fast_below = distance_matrix(pop, others, 1.0, 1.0, 0.4, 3, below=3.0, fast=True)
    finally:
        _kernels.use_numba(None)
    np.testing.assert_allclose(fast, distance_matrix(pop, others), rtol=1e-12, atol=1e-12)
    slow_below = distance_matrix(pop, others, 1.0, 1.0, 0.4, 3, below=3.0)
    np.testing.assert_array_equal(fast_below < 3.0, slow_below < 3.0)
    assert (fast_below < 3.0).any() and not (fast_below < 3.0).all()


# -- CNE ----------------------------------------------------------------------------------------

def _mlps():
    nn = rb.nn
    return [
        nn.Sequential(nn.Dense(4, 16, rng=0), nn.Tanh(), nn.Dense(16, 1, rng=0), nn.Sigmoid()),
        nn.Sequential(nn.Dense(7, 5, rng=0), nn.ReLU(), nn.Dense(5, 9, bias=False, rng=0),
                      nn.Tanh(), nn.Identity(), nn.Dense(9, 3, rng=0)),
        nn.Dense(3, 2, rng=0),
        # <= 4 inputs and an odd width: units in pairs, then one alone
        nn.Sequential(nn.Dense(2, 5, rng=0), nn.ReLU(), nn.Dense(5, 3, bias=False, rng=0),
                      nn.Sigmoid()),
    ]


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", range(4))
def test_mlp_kernel_matches_numpy(both, dtype, k):
    model = _mlps()[k].astype(dtype)
    rng = np.random.default_rng(k)
    thetas = (0.5 * rng.normal(size=(13, model.num_parameters()))).astype(dtype)
    n_in = model.parameters()[0].data.shape[0]
    shared, each = rng.normal(size=(9, n_in)), rng.normal(size=(13, 21, n_in))

    def run():
        return [rb.evolution.population_forward(model, thetas, X, fast=True)
                for X in (shared, each)]

    fast, slow = both(run)
    assert not np.array_equal(fast[0], slow[0]) or k == 2  # the kernel did run
    tol = 1e-6 if dtype == np.float64 else 1e-5
    for a, b in zip(fast, slow):
        assert a.dtype == b.dtype == dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_fast_flag_falls_back_to_the_exact_path():
    nn = rb.nn
    model = nn.Sequential(nn.Dense(2, 3, rng=0), nn.Tanh(), nn.Tanh(), nn.Dense(3, 1, rng=0))
    thetas = np.random.default_rng(0).normal(size=(4, model.num_parameters()))
    X = np.random.default_rng(1).normal(size=(5, 2))
    np.testing.assert_array_equal(rb.evolution.population_forward(model, thetas, X, fast=True),
                                  rb.evolution.population_forward(model, thetas, X))
    _kernels.use_numba(False)
    try:
        model = _mlps()[0]
        thetas = np.random.default_rng(0).normal(size=(4, model.num_parameters()))
        X = np.random.default_rng(1).normal(size=(5, 4))
        np.testing.assert_array_equal(
            rb.evolution.population_forward(model, thetas, X, fast=True),
            rb.evolution.population_forward(model, thetas, X))
    finally:
        _kernels.use_numba(None)


@needs_numba
def test_rational_tanh_is_within_1_8e7():
    import numba

    from rosenblatt.evolution._numba_kernels import TANH_C, tanh_rational

    @numba.njit
    def apply(x, out):
        for i in range(x.size):
            out[i] = tanh_rational(x[i], TANH_C)

    x = np.concatenate([np.linspace(-12.0, 12.0, 400_001), [np.inf, -np.inf, 7.95, -7.95]])
    out = np.empty_like(x)
    apply(x, out)
    assert np.abs(out - np.tanh(x)).max() < 1.8e-7
    apply(np.array([np.nan]), out[:1])
    assert np.isnan(out[0])


@needs_numba
def test_fast_population_forward_error_is_bounded_by_the_tanh_error(both):
    # the benchmark's networks (4-16-1, Tanh then Sigmoid, float64): each output differs from
    # the exact NumPy path by at most (1.8e-7 / 4) (1 + sum_j |v_j|), the hidden errors
    # carried by the output weights v through the sigmoid (slope <= 1/4)
    nn = rb.nn
    model = nn.Sequential(nn.Dense(4, 16, rng=0), nn.Tanh(), nn.Dense(16, 1, rng=0),
                          nn.Sigmoid()).astype(np.float64)
    rng = np.random.default_rng(0)
    thetas, X = rng.normal(size=(200, model.num_parameters())), rng.normal(size=(64, 4))
    fast, slow = both(lambda: rb.evolution.population_forward(model, thetas, X, fast=True))
    v = np.abs(thetas[:, 80:96]).sum(axis=1)
    err = np.abs(fast - slow)[:, :, 0].max(axis=1)
    assert (err <= 1.8e-7 / 4 * (1 + v)).all()
    assert 1e-9 < err.max() < 1e-6  # measured: 3.3e-7 (the kernel ran)


@needs_numba
def test_float32_population_forward_computes_in_float32_within_its_rounding():
    # float32 networks (the layers' default dtype): the fused pass computes in float32 (its
    # constants in the networks' dtype, none promoting the arithmetic to float64). Against the
    # float64 evaluation each output is within 6e-8 (1 + sum_j |v_j|): the tanh's 1.8e-7 / 4
    # and float32's rounding (measured 2.7e-8; NumPy's own float32 path 1.2e-8)
    nn = rb.nn
    model = nn.Sequential(nn.Dense(4, 16, rng=0), nn.Tanh(), nn.Dense(16, 1, rng=0),
                          nn.Sigmoid())
    rng = np.random.default_rng(0)
    thetas = rng.normal(size=(200, model.num_parameters())).astype(np.float32)
    X = rng.normal(size=(64, 4)).astype(np.float32)
    fast = rb.evolution.population_forward(model, thetas, X, fast=True)
    exact = rb.evolution.population_forward(model.astype(np.float64), thetas.astype(np.float64),
                                            X.astype(np.float64))
    assert fast.dtype == np.float32
    v = np.abs(thetas[:, 80:96].astype(np.float64)).sum(axis=1)
    err = np.abs(fast - exact)[:, :, 0].max(axis=1)
    assert (err <= 6e-8 * (1 + v)).all()


@needs_numba
def test_mlp_kernel_threads_give_the_serial_outputs(monkeypatch):
    # with kernel threads the networks go in blocks over our own threads (the caller one of
    # them): each network's arithmetic is that of one call, so the outputs are equal bit for
    # bit, for a shared batch and for a batch per network, and any number of threads
    nn = rb.nn
    model = nn.Sequential(nn.Dense(4, 16, rng=0), nn.Tanh(), nn.Dense(16, 1, rng=0),
                          nn.Sigmoid()).astype(np.float64)
    rng = np.random.default_rng(3)
    thetas, X = rng.normal(size=(61, model.num_parameters())), rng.normal(size=(64, 4))
    each = rng.normal(size=(61, 64, 4))
    split = []
    run_parts = _kernels.run_parts
    monkeypatch.setattr(_kernels, "run_parts", lambda fn, n: split.append(n) or run_parts(fn, n))
    for batch in (X, each):
        serial = rb.evolution.population_forward(model, thetas, batch, fast=True)  # 66,368
        for threads in (2, 3, 100):  # activations: over PARALLEL_MIN_SIZE
            with _kernels.kernel_threads(threads):
                threaded = rb.evolution.population_forward(model, thetas, batch, fast=True)
            np.testing.assert_array_equal(threaded, serial)
    assert split == [2, 3, 61] * 2  # no more blocks than networks
    with _kernels.kernel_threads(2):  # small work stays on one thread
        rb.evolution.population_forward(model, thetas[:5], X, fast=True)
    assert len(split) == 6


@needs_numba
def test_fast_plan_follows_the_model():
    # the fused plan is cached per model; changing the model's layers makes a new one
    nn = rb.nn
    model = nn.Sequential(nn.Dense(3, 5, rng=0), nn.Tanh(), nn.Dense(5, 2, rng=0))
    rng = np.random.default_rng(0)
    thetas, X = rng.normal(size=(4, model.num_parameters())), rng.normal(size=(9, 3))
    for change in (None, lambda m: m.layers.__setitem__(1, nn.ReLU()),
                   lambda m: m.append(nn.Sigmoid()),
                   lambda m: m.layers.__setitem__(0, nn.Dense(3, 5, bias=False, rng=0))):
        if change is not None:
            change(model)
        thetas = rng.normal(size=(4, model.num_parameters()))
        np.testing.assert_allclose(rb.evolution.population_forward(model, thetas, X, fast=True),
                                   rb.evolution.population_forward(model, thetas, X),
                                   rtol=1e-6, atol=1e-6)


@needs_numba
def test_cne_kernel_vectorises_at_512_bits_where_the_processor_can():
    # wide_vectors() marks the fused pass with LLVM's per-function prefer-vector-width=512: on
    # AVX-512 processors its loops use zmm registers, while the other kernels keep the
    # 256-bit tuning (the mechanism's own test is in tests/autodiff/test_dense_kernels.py).
    # Compiled afresh here: a kernel loaded from Numba's cache has no IR to inspect.
    import llvmlite.binding as ll
    import numba

    from rosenblatt.evolution import _numba_kernels as k

    model = _mlps()[0].astype(np.float32)
    thetas = np.random.default_rng(0).normal(size=(3, model.num_parameters())).astype(np.float32)
    X = np.ones((1, 40, 4), np.float32)
    fresh = numba.njit(fastmath=k._FAST, error_model="numpy")(k.mlp_forward.py_func)
    rb.evolution.population_forward(model, thetas, X[0], fast=True)
    plan = rb.evolution.cne._FAST_PLANS[id(model)][2][1]
    out = np.empty((3, 40, 1), np.float32)
    fresh(X, thetas, plan, out)
    np.testing.assert_array_equal(
        out, rb.evolution.population_forward(model, thetas, X[0], fast=True))
    assert '"prefer-vector-width"="512"' in next(iter(fresh.inspect_llvm().values()))
    if ll.get_host_cpu_features().get("avx512f"):
        assert "zmm" in next(iter(fresh.inspect_asm().values()))
