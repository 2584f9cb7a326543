"""Audit fixes (s9, a5): executor workers reach a model whose parameters the fitness packed,
crowding distance along a constant objective, ESP's neuron fitness with failed networks,
cascading elitism refusing +inf."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution import NSGA2, CoSyNE, crowding_distance
from rosenblatt.evolution.cascading import cascade, cascading_elites, function_champions
from rosenblatt.evolution.cne import evaluate_thetas
from rosenblatt.evolution.esp import neuron_layout
from rosenblatt.nn.parameter import ParameterVector

# -- 1: a fitness that packs the model's parameters scores the same on an executor ----------


def _packs(model):
    """Packs the model's parameters (as an optimizer built for fine-tuning in the fitness
    does), then scores the weights it sees."""
    return float(ParameterVector(model.parameters()).data.sum())


def test_1_fitness_that_packs_the_parameters_scores_each_row_on_an_executor():
    net = rb.nn.Dense(2, 1, rng=0).astype(np.float64)
    vec = ParameterVector(net.parameters())
    thetas = np.arange(12, dtype=np.float64).reshape(4, 3)
    assert evaluate_thetas("CoSyNE", net, vec, thetas, _packs).tolist() == [3, 12, 21, 30]
    with ThreadPoolExecutor(1) as ex:  # one worker: every row goes through its cached model
        threaded = evaluate_thetas("CoSyNE", net, vec, thetas, _packs, executor=ex)
    assert threaded.tolist() == [3, 12, 21, 30]


def test_1_cosyne_with_a_packing_fitness_runs_the_same_on_threads():
    def run(executor):
        net = rb.nn.Dense(2, 1, rng=0).astype(np.float64)
        return CoSyNE(net, population=8, rng=0).run(_packs, 3, executor=executor)

    serial = run(None)
    with ThreadPoolExecutor(2) as ex:
        threaded = run(ex)
    assert threaded.history["best"] == serial.history["best"]
    np.testing.assert_array_equal(threaded.best, serial.best)


# -- 2: crowding distance along an objective constant over the front -----------------------


def test_2_constant_objective_gives_no_infinity_at_its_index_boundaries():
    # f3 constant: only f1 and f2 have boundaries; the middle point collects
    # (3 - 0)/3 + (4 - 1)/3 = 2 (pymoo: the same, times 1/3)
    F = np.array([[0.0, 4, 1], [3, 1, 1], [2, 3, 1]])
    assert crowding_distance(F).tolist() == [np.inf, np.inf, 2.0]
    # the point that was last by index took the infinity before: not any more
    assert crowding_distance(F[[2, 0, 1]]).tolist() == [2.0, np.inf, np.inf]
    # a front of one point is its own boundary, copies of it 0 (as before)
    assert crowding_distance([[1.0, 2, 3]]).tolist() == [np.inf]
    assert crowding_distance([[1.0, 1], [1, 1]]).tolist() == [np.inf, 0.0]
    # per front: the constant objective of front 1 does not make its points boundaries
    G = np.array([[0.0, 4, 1], [3, 1, 1], [2, 3, 1], [5, 5, 5]])
    assert crowding_distance(G, [0, 0, 0, 1]).tolist() == [np.inf, np.inf, 2.0, np.inf]


def test_2_constant_objective_matches_pymoo():
    metrics = pytest.importorskip("pymoo.operators.survival.rank_and_crowding.metrics")
    rng = np.random.default_rng(3)
    for _ in range(30):
        F = np.column_stack([rng.permutation(6), -rng.permutation(6), np.full(6, 2.0)])
        F = F.astype(float)[:, rng.permutation(3)]  # the constant objective anywhere
        ref = metrics.calc_crowding_distance(F) * F.shape[1]  # pymoo averages
        np.testing.assert_allclose(crowding_distance(F), ref)


def test_2_survive_keeps_the_well_spaced_point_not_the_index_boundaries():
    # one front, f3 constant, rows 0 and 4 near twins: the survivors are those of the
    # same points without the constant objective
    G = np.array([[1.0, 3.5, 1], [0, 4, 1], [2, 3, 1], [3, 1, 1], [1.05, 3.45, 1]])
    keep3 = NSGA2(3, population=4, rng=0).survive(G)[0]
    keep2 = NSGA2(2, population=4, rng=0).survive(G[:, :2])[0]
    assert sorted(keep3.tolist()) == sorted(keep2.tolist()) == [0, 1, 2, 3]


# -- 3: ESP counts a failed network in the fitness of its neurons ----------------------------


def _esp_with_a_breaker():
    net = rb.nn.Sequential(rb.nn.Dense(1, 2, rng=0), rb.nn.Tanh(),
                           rb.nn.Dense(2, 1, rng=0)).astype(np.float64)
    esp = rb.evolution.ESP(net, population=8, trials=4, rng=0, stagnation=100)
    idx = neuron_layout(net)
    esp.neurons[:] = 0.0
    esp.neurons[0, :, 0] = [5.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]  # neuron 0 breaks networks
    esp.neurons[1, :2, 0] = 1.0  # except with these two partners, where it scores 10

    def fitness(thetas):
        w0, w1 = thetas[:, idx[0, 0]], thetas[:, idx[1, 0]]
        f = w0.copy()
        f[w0 + w1 > 2.0] = np.nan
        f[(w0 == 5.0) & (w1 == 1.0)] = 10.0
        return f

    return esp, fitness


def test_3_a_neuron_that_breaks_networks_ranks_worst():
    esp, fitness = _esp_with_a_breaker()
    f, _, _ = esp.step(fitness, vectorized=True, on_error="worst")
    failed = np.isneginf(f)
    assert 0 < failed.sum() < 4  # neuron 0 broke most but not all of its 4 networks
    nf = esp.neuron_fitness[0]
    assert np.argmin(nf) == 0  # ranks worst, not best
    # each failure counts as lo - (hi - lo) in the mean of its 4 networks
    lo, hi = f[~failed].min(), f[~failed].max()
    penalty = lo - (hi - lo)
    n_fail = int(failed.sum())
    assert nf[0] == pytest.approx((n_fail * penalty + (4 - n_fail) * 10.0) / 4)
    np.testing.assert_allclose(nf[1:], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])


def test_3_neuron_fitness_when_no_network_or_every_network_fails():
    esp, fitness = _esp_with_a_breaker()
    esp.step(lambda th: np.full(th.shape[0], 2.0), vectorized=True, on_error="worst")
    assert (esp.neuron_fitness == 2.0).all()  # unchanged when nothing fails
    esp.step(lambda th: np.full(th.shape[0], np.nan), vectorized=True, on_error="worst")
    assert np.isneginf(esp.neuron_fitness).all()
    # equal finite networks: a failure still counts below them (lo - 1)
    esp, _ = _esp_with_a_breaker()
    idx = neuron_layout(esp.model)
    esp.step(lambda th: np.where(th[:, idx[0, 0]] == 5.0, np.nan, 1.0), vectorized=True,
             on_error="worst")
    assert esp.neuron_fitness[0, 0] == 0.0 and (esp.neuron_fitness[0, 1:] == 1.0).all()


# -- 4: cascading elitism refuses +inf and ranks NaN / -inf worst ----------------------------


def test_4_cascade_refuses_plus_inf():
    F = np.array([[np.inf, 0.0], [3, 9], [2, 8], [1, 7]])
    with pytest.raises(ValueError, match=r"cascade: F\[0, 0\] is \+inf"):
        cascade(F, [3, 1])
    with pytest.raises(ValueError, match=r"function_champions: F\[0, 0\] is \+inf"):
        function_champions(F)
    with pytest.raises(ValueError, match=r"cascading_elites: F\[0, 0\] is \+inf"):
        cascading_elites(F, 2)
    with pytest.raises(ValueError, match="cascading_elites: F must be a"):
        cascading_elites(np.ones(3), 1)


def test_4_cascade_ranks_failures_worst():
    for bad in (np.nan, -np.inf):
        F = np.array([[bad, 0.0], [3, 9], [2, 8], [1, 7]])
        assert cascade(F, [3, 1]).tolist() == [0.0, 2 + 2 / 3, 1 + 1 / 3, 1.0]
        assert function_champions(F).tolist() == [1, 1]
