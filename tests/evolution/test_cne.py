"""CNE: population_forward against single networks; the GA solves XOR and single-pole."""

import concurrent.futures
import threading

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution.cne import parameter_layout


def _net(seed=0):
    return rb.nn.Sequential(rb.nn.Dense(2, 4, rng=seed), rb.nn.Tanh(), rb.nn.Dense(4, 1, rng=seed),
                            rb.nn.Sigmoid()).astype(np.float64)


def test_population_forward_equals_each_network(rng):
    net = _net()
    vec = rb.nn.ParameterVector(net.parameters())
    thetas = rng.normal(size=(7, vec.size))
    X = rng.normal(size=(5, 2))
    out = rb.evolution.population_forward(net, thetas, X)
    for p in range(7):
        vec.data[:] = thetas[p]
        np.testing.assert_allclose(out[p], net(rb.tensor(X)).data, rtol=1e-12, atol=1e-12)
    # one batch per network
    Xs = rng.normal(size=(7, 5, 2))
    out = rb.evolution.population_forward(net, thetas, Xs)
    vec.data[:] = thetas[3]
    np.testing.assert_allclose(out[3], net(rb.tensor(Xs[3])).data, rtol=1e-12)


def test_layout_matches_parameter_vector():
    net = _net()
    layout, size = parameter_layout(net)
    vec = rb.nn.ParameterVector(net.parameters())
    assert size == vec.size
    assert [layout[id(p)][0] for p in vec.params] == vec.slices


def test_population_forward_bad_input():
    net = _net()
    with pytest.raises(ValueError, match=r"thetas must have shape \(P, 17\)"):
        rb.evolution.population_forward(net, np.zeros((3, 5)), np.zeros((4, 2)))
    with pytest.raises(TypeError, match="cannot batch layer"):
        rb.evolution.population_forward(rb.nn.Sequential(rb.nn.BatchNorm1d(2)),
                                        np.zeros((1, 4)), np.zeros((3, 2)))


def test_cne_solves_xor():
    xor = rb.evolution.envs.XOR()
    net = _net(1)
    cne = rb.evolution.CNE(net, population=100, mutation_std=0.5, init_std=3.0, rng=1)

    def solved(theta):
        return bool(xor.solved(rb.evolution.population_forward(net, theta[None], xor.X))[0])

    res = cne.run(lambda th: xor.evaluate(rb.evolution.PopulationModel(net, th)), 200,
                  vectorized=True, stop=solved)
    assert res.stopped and res.generations < 200
    # the best weights are left in the model
    assert xor.solved(net(rb.tensor(xor.X)).data)
    assert len(res.history["best"]) == res.generations
    assert res.evaluations == 100 * res.generations


def test_cne_solves_single_pole():
    env = rb.evolution.envs.CartPole(poles=1, max_steps=10_000)
    net = rb.nn.Sequential(rb.nn.Dense(4, 1, rng=0), rb.nn.Sigmoid()).astype(np.float64)
    cne = rb.evolution.CNE(net, population=50, mutation_std=0.5, init_std=3.0, rng=0)
    res = cne.run(lambda th: env.evaluate(rb.evolution.PopulationModel(net, th)), 40,
                  vectorized=True, callbacks=[lambda s: s["fitness"] >= 10_000])
    assert res.best_fitness == 10_000
    # the weights left in the model balance the pole too
    single = rb.evolution.PopulationModel(net, rb.nn.ParameterVector(net.parameters()).data[None])
    assert env.evaluate(single)[0] == 10_000


def test_cne_model_fitness_and_seed_reproducible():
    xor = rb.evolution.envs.XOR()

    def fitness(model):
        return xor(lambda X: model(rb.tensor(X)).data)

    runs = []
    for _ in range(2):
        net = _net(2)
        runs.append(rb.evolution.CNE(net, population=20, rng=5).run(fitness, 5))
    assert runs[0].history == runs[1].history
    np.testing.assert_array_equal(runs[0].best, runs[1].best)


@pytest.mark.parametrize("selection", ["tournament", "truncation", "roulette"])
@pytest.mark.parametrize("crossover", ["uniform", "one_point", "arithmetic", None])
def test_cne_operators_improve(selection, crossover):
    target = np.linspace(-1, 1, 17)
    net = _net(3)
    cne = rb.evolution.CNE(net, population=40, selection=selection, crossover=crossover, rng=0)
    res = cne.run(lambda th: -((th - target) ** 2).sum(axis=1), 30, vectorized=True)
    assert res.history["best"][-1] > res.history["best"][0]
    assert all(np.diff(res.history["best"]) >= -1e-12)  # elitism: the best never gets worse


def _sphere(model):
    return -float(sum((p.data ** 2).sum() for p in model.parameters()))


def test_cne_executor_equals_serial():
    serial = rb.evolution.CNE(_net(4), population=10, rng=3).run(_sphere, 3)
    with concurrent.futures.ProcessPoolExecutor(2) as ex:
        parallel = rb.evolution.CNE(_net(4), population=10, rng=3).run(_sphere, 3, executor=ex)
    assert serial.history == parallel.history
    np.testing.assert_array_equal(serial.best, parallel.best)


def _l1(thetas):
    return -np.abs(thetas).sum(axis=1)  # in the rows' own dtype: float32 rounds differently


def test_cne_thread_and_vectorised_executors_equal_serial():
    # a thread pool's workers share one process: each thread decodes into a model of its
    # own (once they shared one and raced on its weights); vectorised sub-populations
    # arrive in the population's dtype (once float64 for a float32 population)
    net32 = _net(4).astype(np.float32)
    serial = rb.evolution.CNE(net32, population=40, rng=3).run(_sphere, 3)
    vec_serial = rb.evolution.CNE(net32, population=70, rng=3).run(_l1, 3, vectorized=True)
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        threads = rb.evolution.CNE(net32, population=40, rng=3).run(_sphere, 3, executor=ex)
        vec = rb.evolution.CNE(net32, population=70, rng=3).run(_l1, 3, vectorized=True,
                                                                executor=ex)
    assert serial.history == threads.history
    assert vec_serial.history == vec.history
    from rosenblatt.evolution.cne import _decode_model, _model_text
    spec = _model_text(net32)  # the spec, modes and buffers a worker rebuilds the model from
    theta = rb.nn.ParameterVector(net32.parameters()).data.tolist()
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        barrier = threading.Barrier(2)

        def decode(_):
            barrier.wait()
            return id(_decode_model(spec, theta))

        assert len(set(ex.map(decode, range(2)))) == 2


def test_cne_keeps_the_best_weights_when_a_fitness_raises():
    first = rb.evolution.CNE(_net(4), population=10, rng=3).run(_sphere, 1)
    calls = []

    def fitness(model):
        calls.append(1)
        if len(calls) > 10:  # the second generation's first individual
            raise RuntimeError("simulator crashed")
        return _sphere(model)

    cne = rb.evolution.CNE(_net(4), population=10, rng=3)
    with pytest.raises(rb.evolution.FitnessError):
        cne.run(fitness, 3)
    np.testing.assert_array_equal(cne.vector.data, first.best)


def test_cne_bad_arguments():
    with pytest.raises(ValueError, match="selection"):
        rb.evolution.CNE(_net(), selection="best")
    with pytest.raises(ValueError, match="mutation_rate"):
        rb.evolution.CNE(_net(), mutation_rate=1.5)
    with pytest.raises(ValueError, match="population"):
        rb.evolution.CNE(_net(), population=1)
    with pytest.raises(TypeError, match="model must be a Module"):
        rb.evolution.CNE("net")


def test_cne_nan_fitness():
    cne = rb.evolution.CNE(_net(), population=6, rng=0)

    def fitness(thetas):
        f = -np.abs(thetas).sum(axis=1)
        f[2] = np.nan
        return f

    with pytest.raises(rb.evolution.FitnessError, match="individual 2"):
        cne.run(fitness, 2, vectorized=True)
    res = rb.evolution.CNE(_net(), population=6, rng=0).run(fitness, 2, vectorized=True,
                                                             on_error="worst")
    assert np.isfinite(res.best_fitness)


def test_cne_fitness_error_stops_cleanly():
    def fitness(thetas):
        f = -np.abs(thetas).sum(axis=1)
        f[4] = np.nan
        return f

    res = rb.evolution.CNE(_net(), population=6, rng=0).run(fitness, 3, vectorized=True,
                                                             on_error="stop")
    assert res.stopped and res.generations == 0 and "individual 4" in res.error


def test_population_forward_in_groups_equals_one_pass(monkeypatch):
    import rosenblatt.evolution.cne as cne

    net = rb.nn.Sequential(rb.nn.Dense(3, 5, rng=0), rb.nn.Tanh(), rb.nn.Dense(5, 2, rng=0))
    g = np.random.default_rng(0)
    thetas, X = g.normal(size=(23, net.num_parameters())), g.normal(size=(7, 3))
    whole = cne.population_forward(net, thetas, X)
    monkeypatch.setattr(cne, "_BLOCK_BYTES", 7 * 5 * 8 * 4)  # groups of 4 networks
    np.testing.assert_array_equal(cne.population_forward(net, thetas, X), whole)
    per_net = g.normal(size=(23, 7, 3))
    grouped = cne.population_forward(net, thetas, per_net)
    monkeypatch.setattr(cne, "_BLOCK_BYTES", 1 << 30)
    np.testing.assert_array_equal(grouped, cne.population_forward(net, thetas, per_net))
