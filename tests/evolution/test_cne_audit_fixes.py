"""CNE/ESP fixes: layers acting on the batch axis, re-packed parameters, executor state, empty
batches (population_forward must equal a loop of model forwards)."""

import concurrent.futures

import numpy as np
import pytest

import rosenblatt as rb

nn = rb.nn


def _loop(net, thetas, X):
    """The reference: each row of ``thetas`` written into the model, one forward each."""
    vec = nn.ParameterVector(net.parameters())
    out = []
    for t in thetas:
        vec.data[:] = t
        out.append(net(rb.tensor(X)).data.copy())
    return np.stack(out)


@pytest.mark.parametrize("layers, tail", [
    ([nn.Dense(3, 4), nn.Flatten()], []),
    ([nn.Dense(3, 4), nn.Flatten()], [nn.Dense(4, 2)]),
    ([nn.Dense(3, 4), nn.Softmax(axis=0)], []),
    ([nn.Dense(3, 4), nn.LogSoftmax(axis=0)], []),
    ([nn.Dense(3, 4), nn.Softmax(axis=1)], [nn.Dense(4, 2), nn.Tanh()]),
    ([nn.Dense(3, 4), nn.KMaxPool(2, axis=0)], [nn.Dense(4, 2)]),
    ([nn.Dense(3, 4), nn.Tanh(), nn.Softmax()], []),
])
def test_population_forward_batch_axis_layers_equal_a_loop(rng, monkeypatch, layers, tail):
    net = nn.Sequential(*layers, *tail).astype(np.float64)
    thetas = rng.normal(size=(4, net.num_parameters()))
    X = rng.normal(size=(6, 3))
    want = _loop(net, thetas, X)
    got = rb.evolution.population_forward(net, thetas, X)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # one batch per network, and small cache groups (several groups of networks)
    monkeypatch.setattr(rb.evolution.cne, "_BLOCK_BYTES", 200)
    Xs = rng.normal(size=(4, 6, 3))
    want = np.stack([_loop(net, thetas[p:p + 1], Xs[p])[0] for p in range(4)])
    np.testing.assert_allclose(rb.evolution.population_forward(net, thetas, Xs), want,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("X", [np.zeros((0, 3)), np.zeros((4, 0, 3))])
def test_population_forward_empty_batch(X):
    net = nn.Sequential(nn.Dense(3, 2), nn.Tanh())
    out = rb.evolution.population_forward(net, np.zeros((4, net.num_parameters()), np.float32), X)
    assert out.shape == (4, 0, 2) and out.dtype == np.float32


def _data(seed=0):
    X = np.random.default_rng(seed).normal(size=(16, 2))
    return X, X[:, :1] * 2 - X[:, 1:]


def test_cne_scores_each_individual_after_repacking():
    X, y = _data()

    def plain(model):
        return -float(((model(rb.tensor(X)).data - y) ** 2).mean())

    def repacking(model):  # e.g. a fine-tuning optimizer built in the fitness (lr 0 here)
        rb.optim.SGD(model.parameters(), lr=0.0)
        return plain(model)

    results = []
    for f in (plain, repacking):
        net = nn.Sequential(nn.Dense(2, 1, rng=0)).astype(np.float64)
        cne = rb.evolution.CNE(net, population=8, rng=0)
        res = cne.run(f, 3)
        results.append((cne.fitness, res.best, res.best_fitness, plain(net)))
    (f0, b0, bf0, m0), (f1, b1, bf1, m1) = results
    assert np.unique(f0).size > 1
    np.testing.assert_array_equal(f1, f0)
    np.testing.assert_array_equal(b1, b0)
    assert bf1 == bf0 and m1 == m0 == bf0  # the best weights reached the model


def test_second_cne_on_the_same_model_does_not_blind_the_first():
    X, y = _data()

    def f(m):
        return -float(((m(rb.tensor(X)).data - y) ** 2).mean())

    net = nn.Sequential(nn.Dense(2, 1, rng=0)).astype(np.float64)
    alone = rb.evolution.CNE(net, population=8, rng=0)
    want = alone.run(f, 2)
    net2 = nn.Sequential(nn.Dense(2, 1, rng=0)).astype(np.float64)
    a = rb.evolution.CNE(net2, population=8, rng=0)
    rb.evolution.CNE(net2, population=8, rng=1)  # packs net2's parameters again
    got = a.run(f, 2)
    np.testing.assert_array_equal(a.fitness, alone.fitness)
    np.testing.assert_array_equal(got.best, want.best)
    assert f(net2) == got.best_fitness == want.best_fitness


def test_esp_scores_each_network_after_repacking():
    X, y = _data()

    def f(m):
        return -float(((m(rb.tensor(X)).data - y) ** 2).mean())

    def make():
        return nn.Sequential(nn.Dense(2, 3, rng=0), nn.Tanh(),
                             nn.Dense(3, 1, rng=0)).astype(np.float64)

    net = make()
    alone = rb.evolution.ESP(net, population=8, trials=1, rng=0)
    want = alone.run(f, 2)
    net3 = make()
    esp = rb.evolution.ESP(net3, population=8, trials=1, rng=0)
    rb.optim.SGD(net3.parameters(), lr=0.0)  # parameters re-packed elsewhere
    got = esp.run(f, 2)
    np.testing.assert_array_equal(esp.neuron_fitness, alone.neuron_fitness)
    np.testing.assert_array_equal(got.best, want.best)
    assert f(net3) == got.best_fitness


X5 = np.random.default_rng(1).normal(size=(8, 2))
Y5 = (X5[:, 0] * X5[:, 1] > 0).astype(float)


def _fit5(m):  # module level: a process pool sends it by name
    return -float(((m(rb.tensor(X5)).data[:, 0] - Y5) ** 2).sum())


def _eval_dropout():
    net = nn.Sequential(nn.Dense(2, 8, rng=0), nn.Tanh(), nn.Dropout(0.5, rng=0),
                        nn.Dense(8, 1, rng=0)).astype(np.float64)
    return net.eval()


def _eval_batchnorm():
    net = nn.Sequential(nn.Dense(2, 8, rng=0), nn.BatchNorm1d(8), nn.Tanh(),
                        nn.Dense(8, 1, rng=0)).astype(np.float64)
    for i in range(5):  # running statistics learnt, then inference mode
        net(rb.tensor(np.random.default_rng(i).normal(3, 2, size=(32, 2))))
    return net.eval()


@pytest.mark.parametrize("make, algo", [(_eval_dropout, "CNE"), (_eval_batchnorm, "CNE"),
                                        (_eval_dropout, "ESP")])  # ESP: two Dense layers only
def test_executor_scores_the_serial_network(make, algo):
    def run(executor):
        net = make()
        a = (rb.evolution.CNE(net, population=4, rng=0) if algo == "CNE"
             else rb.evolution.ESP(net, population=8, trials=1, rng=0, hidden=8))
        res = a.run(_fit5, 2, executor=executor)
        return res.history["best"], res.best, net.training, net[1].training

    serial = run(None)
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        threads = run(ex)
    assert serial[0] == threads[0]
    np.testing.assert_array_equal(serial[1], threads[1])
    assert serial[2:] == threads[2:] == (False, False)  # the caller's model keeps its mode


def test_process_executor_scores_the_serial_network():
    serial = rb.evolution.CNE(_eval_batchnorm(), population=4, rng=0).run(_fit5, 1)
    with concurrent.futures.ProcessPoolExecutor(1) as ex:
        par = rb.evolution.CNE(_eval_batchnorm(), population=4, rng=0).run(_fit5, 1, executor=ex)
    assert par.history["best"] == serial.history["best"]


def test_cosyne_keeps_its_best_in_the_model_after_repacking():
    """CoSyNE shares CNE's weight writing: a fitness that packs the model's parameters again
    changes neither the scores nor where the best weights end up."""
    X, y = _data()

    def plain(model):
        return -float(((model(rb.tensor(X)).data - y) ** 2).mean())

    def repacking(model):
        rb.optim.SGD(model.parameters(), lr=0.0)
        return plain(model)

    results = []
    for f in (plain, repacking):
        net = nn.Sequential(nn.Dense(2, 3, rng=0), nn.Tanh(), nn.Dense(3, 1, rng=0)).astype(
            np.float64)
        res = rb.evolution.CoSyNE(net, population=8, rng=0).run(f, 3)
        results.append((res.best, res.best_fitness, plain(net)))
    (b0, bf0, m0), (b1, bf1, m1) = results
    np.testing.assert_array_equal(b1, b0)
    assert bf1 == bf0 and m1 == m0 == bf0


def test_history_mean_of_fitnesses_near_the_float64_limit():
    """record()'s mean does not overflow (a RuntimeWarning, an error under the tests' strict
    floating-point settings) when the fitnesses are near the float64 limit."""
    from rosenblatt.evolution.core import record

    history = {}
    record(history, np.array([1e308, 1.5e308, 1.7e308]))
    assert history["mean"][0] == pytest.approx(1.4e308)
    assert history["best"][0] == 1.7e308
