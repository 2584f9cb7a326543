"""ESP: network assembly, neuron fitness = mean of its networks, burst mutation, XOR, errors."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution.esp import neuron_layout


def _net(h=3, seed=0):
    return rb.nn.Sequential(rb.nn.Dense(2, h, rng=seed), rb.nn.Tanh(),
                            rb.nn.Dense(h, 1, rng=seed), rb.nn.Sigmoid()).astype(np.float64)


def test_assembled_networks_are_made_of_one_neuron_per_subpopulation(rng):
    net = _net()
    esp = rb.evolution.ESP(net, population=8, rng=0)
    choice = rng.integers(0, 8, size=(5, 3))
    thetas = esp.assemble(choice)
    X = rng.normal(size=(4, 2))
    out = rb.evolution.population_forward(net, thetas, X)
    b2 = net[2].b.data.copy()
    for t in range(5):
        genes = esp.neurons[np.arange(3), choice[t]]  # (h, 2 + 1 + 1)
        W1, b1, W2 = genes[:, :2].T, genes[:, 2], genes[:, 3:]
        expect = 1 / (1 + np.exp(-(np.tanh(X @ W1 + b1) @ W2 + b2)))
        np.testing.assert_allclose(out[t], expect, rtol=1e-12)


def test_neuron_layout_without_biases():
    net = rb.nn.Sequential(rb.nn.Dense(2, 3, bias=False), rb.nn.Tanh(),
                           rb.nn.Dense(3, 2, bias=False))
    assert neuron_layout(net).tolist() == [[0, 3, 6, 7], [1, 4, 8, 9], [2, 5, 10, 11]]


def test_neuron_fitness_is_the_mean_of_its_networks():
    net = _net()
    esp = rb.evolution.ESP(net, population=8, trials=3, rng=1)
    before = esp.neurons.copy()
    seen = {}

    def fitness(thetas):
        f = thetas.sum(axis=1) + np.sin(np.arange(len(thetas)))
        seen["thetas"], seen["f"] = thetas.copy(), f
        return f

    f, champion, _ = esp.step(fitness, vectorized=True)
    assert f.shape == (24,)  # trials * population networks
    idx = neuron_layout(net)
    for i in range(3):
        for j in range(8):
            uses = np.all(seen["thetas"][:, idx[i]] == before[i, j], axis=1)
            assert uses.sum() == 3  # every neuron in exactly `trials` networks
            assert esp.neuron_fitness[i, j] == pytest.approx(seen["f"][uses].mean())
    np.testing.assert_array_equal(champion, seen["thetas"][np.argmax(seen["f"])])


def test_recombination_keeps_the_best_neuron_and_replaces_the_worst_half():
    esp = rb.evolution.ESP(_net(), population=8, rng=2)
    fit = np.tile(np.arange(8.0), (3, 1))  # neuron 7 best in every subpopulation
    best = esp.neurons[:, 7].copy()
    top = esp.neurons[:, 4:].copy()
    esp.recombine(fit)
    np.testing.assert_array_equal(esp.neurons[:, 0], best)
    np.testing.assert_array_equal(esp.neurons[:, :4], top[:, ::-1])


def test_burst_mutation_on_stagnation():
    net = _net()
    esp = rb.evolution.ESP(net, population=8, trials=2, stagnation=3, rng=3)
    res = esp.run(lambda th: np.ones(len(th)), 7, vectorized=True)  # never improves after gen 0
    assert res.history["bursts"] == [0, 0, 0, 1, 0, 0, 1]
    # after the burst every subpopulation sits around the best network's neuron, kept as is
    np.testing.assert_array_equal(esp.neurons[:, 0], esp.best_neurons)


def test_esp_solves_xor():
    xor = rb.evolution.envs.XOR()
    net = _net(3, seed=1)
    esp = rb.evolution.ESP(net, population=16, trials=5, mutation_scale=1.0, rng=1)

    def solved(theta):
        return bool(xor.solved(rb.evolution.population_forward(net, theta[None], xor.X))[0])

    res = esp.run(lambda th: xor.evaluate(rb.evolution.PopulationModel(net, th)), 150,
                  vectorized=True, stop=solved)
    assert res.stopped and res.generations < 150
    assert xor.solved(net(rb.tensor(xor.X)).data[None])[0]  # the champion is left in the model


def test_esp_per_individual_equals_vectorised():
    xor = rb.evolution.envs.XOR()
    a, b = _net(), _net()
    ra = rb.evolution.ESP(a, population=8, trials=2, rng=5).run(
        lambda th: xor.evaluate(rb.evolution.PopulationModel(a, th)), 3, vectorized=True)
    rb_ = rb.evolution.ESP(b, population=8, trials=2, rng=5).run(xor, 3)
    np.testing.assert_allclose(ra.history["best"], rb_.history["best"], rtol=1e-9)


def test_bad_input():
    with pytest.raises(ValueError, match="population must be an integer >= 8"):
        rb.evolution.ESP(_net(), population=4)
    with pytest.raises(ValueError, match="exactly two Dense layers"):
        rb.evolution.ESP(rb.nn.Sequential(rb.nn.Dense(2, 1)))
    with pytest.raises(TypeError, match="must be a Module"):
        rb.evolution.ESP("net")
    esp = rb.evolution.ESP(_net(), population=8, trials=1)
    with pytest.raises(rb.evolution.FitnessError, match="individual"):
        esp.run(lambda th: np.full(len(th), np.nan), 1, vectorized=True)
    with pytest.raises(ValueError, match="one value per individual"):
        esp.run(lambda th: np.zeros(3), 1, vectorized=True)


def test_size_adaptation_removes_neurons_the_network_does_not_need():
    net = _net(3)
    idx = neuron_layout(net)

    def needs_neuron_0(th):  # only neuron 0 matters; the best never improves after gen 0
        return (np.abs(th[:, idx[0]]).sum(axis=1) > 0).astype(float)

    esp = rb.evolution.ESP(net, population=8, trials=2, stagnation=2, rng=0)
    res = esp.run(needs_neuron_0, 20, vectorized=True)
    h = res.history
    # a burst every 2 stagnant generations; after two fruitless ones, the third adapts the
    # size (and bursts too): at generations 7, 13 and 19
    assert h["bursts"] == [0, 0] + [1, 0] * 9
    assert h["adapted"] == [0] * 6 + [-1] + [0] * 5 + [-1] + [0] * 5 + [1, 0]
    assert h["hidden"] == [3] * 6 + [2] * 6 + [1] * 6 + [2, 2]
    # neuron 0 is never removed (without it the fitness drops): at one neuron, one is added
    assert esp.active.tolist() == [True, True, False]
    # lesion tests: best network whole + each neuron in use (3, then 2, then 1) count too
    assert res.evaluations == 20 * 16 + 4 + 3 + 2
    # a position out of use is zero in every assembled network
    choice = np.zeros((5, 3), dtype=int)
    assert (esp.assemble(choice)[:, idx[2]] == 0).all()
    assert np.isnan(esp.neuron_fitness[2]).all() and np.isfinite(esp.neuron_fitness[:2]).all()


def test_size_adaptation_adds_neurons_up_to_the_model_width():
    net = _net(4)
    idx = neuron_layout(net)

    def more_is_better(th):  # every neuron in use counts; none can be spared
        return (np.abs(th[:, idx]).sum(axis=2) > 0).sum(axis=1).astype(float)

    esp = rb.evolution.ESP(net, population=8, trials=2, stagnation=2, hidden=2, rng=0)
    res = esp.run(more_is_better, 25, vectorized=True)
    h = res.history
    assert h["hidden"][0] == 2 and h["hidden"][-1] == 4 and esp.active.all()
    assert sorted(set(h["adapted"])) == [0, 1]  # grew twice, never shrank
    assert h["best"][0] == 2.0 and h["best"][-1] == 4.0
    assert (np.abs(net[2].W.data) > 0).all()  # the champion left in the model uses all 4


def test_size_adaptation_tolerance_and_off():
    net = _net(3)
    idx = neuron_layout(net)

    def small_loss(th):  # neurons 1 and 2 each add 0.01: removing one drops fitness by 1%
        used = (np.abs(th[:, idx]).sum(axis=2) > 0).astype(float)
        return 1.0 * used[:, 0] + 0.01 * used[:, 1:].sum(axis=1)

    strict = rb.evolution.ESP(net, population=8, trials=2, stagnation=2, rng=0)
    assert strict.run(small_loss, 8, vectorized=True).history["adapted"][6] == 0  # nothing
    loose = rb.evolution.ESP(net, population=8, trials=2, stagnation=2, remove_tolerance=0.02,
                             rng=0)
    assert loose.run(small_loss, 8, vectorized=True).history["adapted"][6] == -1
    off = rb.evolution.ESP(net, population=8, trials=2, stagnation=2, adapt_size=False, rng=0)
    res = off.run(small_loss, 20, vectorized=True)
    assert set(res.history["hidden"]) == {3} and set(res.history["adapted"]) == {0}
    assert res.evaluations == 20 * 16
    with pytest.raises(ValueError, match="hidden must be at most the model's 3"):
        rb.evolution.ESP(net, hidden=4)
    with pytest.raises(ValueError, match="hidden"):
        rb.evolution.ESP(net, hidden=0)


def test_esp_keeps_the_best_weights_when_a_fitness_raises():
    calls = []

    def sphere(thetas):
        calls.append(1)
        return -(thetas ** 2).sum(axis=1)

    first = rb.evolution.ESP(_net(), population=8, rng=5).run(sphere, 1, vectorized=True)
    per_generation, calls[:] = len(calls), []

    def failing(thetas):
        if len(calls) == per_generation:  # the second generation's first call
            raise RuntimeError("simulator crashed")
        return sphere(thetas)

    esp = rb.evolution.ESP(_net(), population=8, rng=5)
    with pytest.raises(RuntimeError, match="simulator"):
        esp.run(failing, 3, vectorized=True)
    np.testing.assert_array_equal(esp.vector.data, first.best)


def test_each_run_starts_its_own_stagnation_clock():
    # a second run on a fitness 1,000 lower: the first run's best must not make every
    # generation look stagnant (a burst every `stagnation` generations, re-centred on the
    # old task's network); Staged hands each task to such a run
    net = _net()
    xor = rb.evolution.envs.XOR()

    def task_a(thetas):
        return xor.evaluate(rb.evolution.PopulationModel(net, thetas)) + 1000.0

    def task_b(thetas):
        return xor.evaluate(rb.evolution.PopulationModel(net, thetas))

    esp = rb.evolution.ESP(net, population=8, trials=4, stagnation=5, adapt_size=False, rng=0)
    esp.run(task_a, 3, vectorized=True)
    second = esp.run(task_b, 8, vectorized=True)
    assert sum(second.history["bursts"][:5]) == 0
    assert second.best_fitness == max(second.history["best"]) < 100
    assert esp._best == second.best_fitness
