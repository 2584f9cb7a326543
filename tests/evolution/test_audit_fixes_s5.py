"""Regression tests of audit a5 (neuroevolution II): one test per defect of its report.

Each test failed before its fix: the defect's number is in the test's name.
"""

import importlib.util
import math

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution import cosyne, nsga2, problems
from rosenblatt.evolution.cascading import evaluate_objectives, vector_objectives
from rosenblatt.evolution.envs.pole import CartPole
from rosenblatt.evolution.recurrent import RecurrentPopulationModel

HAVE_NUMBA = importlib.util.find_spec("numba") is not None


def _rnn_population(k, hidden=3, P=8, seed=0, **kwargs):
    net = rb.nn.RNN(k, hidden, rng=0).astype(np.float64)
    th = np.random.default_rng(seed).normal(size=(P, net.num_parameters()))
    return RecurrentPopulationModel(net, th, outputs=1, **kwargs)


# ---- 17: the compiled CartPole kernel with a network of the wrong input width -------------

@pytest.mark.parametrize("k, velocities", [(3, True), (6, False)])
@pytest.mark.parametrize("fast", [False, True])
def test_17_cartpole_refuses_a_recurrent_policy_of_another_input_width(k, velocities, fast):
    env = CartPole(poles=2, velocities=velocities, max_steps=50)  # 6 or 3 observations
    pop = _rnn_population(k, fast=fast)
    with pytest.raises(ValueError, match=rf"takes? {k} inputs.*{env.n_inputs}"):
        env.evaluate(pop)


@pytest.mark.skipif(not HAVE_NUMBA, reason="the fast extra (numba) is not installed")
def test_17_cartpole_refuses_a_fast_neat_network_of_another_input_width():
    # a NEAT network for 1 input on the 6-observation task: its compiled buffer holds
    # 3 nodes, the observation 6 values
    neat = rb.evolution.NEAT(1, 1, rb.evolution.NEATConfig(population=4), rng=0, fast=True)
    env = CartPole(poles=2, velocities=True, max_steps=20)
    with pytest.raises(ValueError, match="takes? 1 inputs.*6"):
        env.evaluate(neat.population_network())


@pytest.mark.skipif(not HAVE_NUMBA, reason="the fast extra (numba) is not installed")
def test_17_compiled_path_checks_the_width_of_any_policy_it_runs():
    # a policy that hands the kernel its weights but does not say its input width
    pop = _rnn_population(3, fast=True)

    class Bare:
        size = pop.size
        compiled_weights = staticmethod(pop.compiled_weights)

    env = CartPole(poles=2, velocities=True, max_steps=20)
    with pytest.raises(ValueError, match="take 3 inputs but this task gives 6"):
        env.evaluate(Bare())


def test_17_matching_width_still_runs_on_both_paths():
    env = CartPole(poles=2, velocities=False, max_steps=30)
    slow = env.evaluate(_rnn_population(3))
    fast = env.evaluate(_rnn_population(3, fast=True))
    assert slow.shape == fast.shape == (8,)


# ---- 1: RecurrentPopulationModel.step checks the observation's shape -----------------------

@pytest.mark.parametrize("shape", [(4, 1), (4, 3), (2, 2)])
def test_1_recurrent_step_refuses_observations_of_the_wrong_shape(shape):
    net = rb.nn.Sequential(rb.nn.RNN(2, 3, rng=0), rb.nn.Dense(3, 1, rng=0))
    pop = RecurrentPopulationModel(net, np.ones((4, net.num_parameters())))
    with pytest.raises(ValueError, match=r"RecurrentPopulationModel: obs must have shape "
                                         r"\(4, 2\).*" + re_shape(shape)):
        pop.step(np.ones(shape))
    assert pop.step(np.ones((4, 2))).shape == (4, 1)


def re_shape(shape):
    return r"\(" + ", ".join(str(s) for s in shape) + r"\)"


# ---- 3: cascading keeps k columns when a whole generation fails ----------------------------

def _fail(_):
    raise RuntimeError("simulator crashed")


def test_3_evaluate_objectives_all_failed_keeps_the_known_width():
    F = evaluate_objectives(_fail, [0, 1, 2], on_error="worst", k=3)
    assert F.shape == (3, 3) and np.all(F == -np.inf)
    with pytest.raises(ValueError, match=r"shape \(3, 3\)"):
        evaluate_objectives(lambda x: [1.0, 2.0], [0, 1, 2], k=3)
    with pytest.raises(ValueError, match=r"shape \(3, 3\)"):
        vector_objectives(lambda X: np.ones((3, 2)), np.zeros((3, 1)), [0, 1, 2], k=3)


def test_3_cne_cascading_history_keeps_k_objectives_through_an_all_failed_generation():
    net = rb.nn.Sequential(rb.nn.Dense(2, 1, rng=0))
    gen = {"g": 0}

    def fitness(model):
        if gen["g"] == 1:
            raise RuntimeError("simulator down")
        return [1.0, float(sum(p.data.sum() for p in model.parameters())), 0.5]

    def tick(state):
        gen["g"] += 1

    cne = rb.evolution.CNE(net, population=6, selection="cascading", rng=0)
    res = cne.run(fitness, 3, callbacks=[tick], on_error="worst")
    assert [len(o) for o in res.history["objectives"]] == [3, 3, 3]


def test_3_cne_cascading_refuses_a_fitness_that_changes_its_number_of_objectives():
    net = rb.nn.Sequential(rb.nn.Dense(2, 1, rng=0))
    calls = {"n": 0}

    def fitness(X):
        calls["n"] += 1
        return np.ones((len(X), 3 if calls["n"] == 1 else 2))

    cne = rb.evolution.CNE(net, population=6, selection="cascading", rng=0)
    with pytest.raises(ValueError, match=r"\(6, 3\)"):
        cne.run(fitness, 3, vectorized=True)


def test_3_neat_cascading_keeps_k_objectives_through_an_all_failed_generation():
    gen = {"g": 0}

    def fitness(genome):
        if gen["g"] == 1:
            raise RuntimeError("simulator down")
        return [1.0, float(genome.n_enabled), 0.5]

    def tick(state):
        gen["g"] += 1

    neat = rb.evolution.NEAT(2, 1, rb.evolution.NEATConfig(population=6), rng=0,
                             selection="cascading")
    res = neat.run(fitness, 3, callbacks=[tick], on_error="worst")
    assert [len(o) for o in res.history["objectives"]] == [3, 3, 3]


# ---- 4 and 6: Staged ---------------------------------------------------------------------

def test_4_staged_records_a_task_completed_in_the_generation_stop_fires():
    net = rb.nn.Dense(1, 1, rng=0).astype(np.float64)
    tasks = [lambda th: np.zeros(len(th)), lambda th: np.zeros(len(th))]
    staged = rb.evolution.Staged(tasks, threshold=-1.0)
    res = staged.run(rb.evolution.CoSyNE(net, population=8, rng=0), 10, vectorized=True,
                     stop=lambda champ: True)
    assert res.generations == 1 and res.stopped
    assert res.history["stages"] == [1]
    # a single task completed in the stopping generation counts as solved
    one = rb.evolution.Staged(tasks[:1], threshold=-1.0)
    res = one.run(rb.evolution.CoSyNE(net, population=8, rng=0), 10, vectorized=True,
                  stop=lambda champ: True)
    assert res.history["stages"] == [1]


def test_6_staged_neat_counts_the_evaluations_of_this_run_only():
    xor = rb.evolution.envs.xor_fitness
    neat = rb.evolution.NEAT(2, 1, rb.evolution.NEATConfig(population=30), rng=0)
    neat.run(xor, 2)  # an earlier run: 60 evaluations
    res = rb.evolution.Staged([xor, xor], threshold=[1e9, 1e9]).run(neat, 3)
    assert res.generations == 3 and res.evaluations == 90


# ---- 7: sbx with equal parents -----------------------------------------------------------

def test_7_sbx_keeps_equal_parents():
    c1, c2 = nsga2.sbx(0.5, 0.5, 0.0, 1.0, eta=20, u=0.3)
    assert float(c1) == 0.5 and float(c2) == 0.5
    c1, c2 = nsga2.sbx(np.array([0.2, 0.5]), np.array([0.4, 0.5 + 1e-15]), 0.0, 1.0, eta=20,
                       u=np.array([0.3, 0.3]))
    assert c1[1] == 0.5 and c2[1] == 0.5 + 1e-15
    assert c1[0] != 0.2 and 0.0 <= c1[0] <= c2[0] <= 1.0  # the first variable is crossed
    # float32 stays float32
    c1, c2 = nsga2.sbx(np.float32([0.5]), np.float32([0.5]), 0.0, 1.0, eta=20, u=np.float32([0.3]))
    assert c1.dtype == c2.dtype == np.float32


def test_7_sbx_unchanged_for_distinct_parents_against_pymoo_formula():
    rng = np.random.default_rng(0)
    a, b, u = rng.random(50), rng.random(50), rng.random(50)
    c1, c2 = nsga2.sbx(a, b, 0.0, 1.0, eta=15, u=u)
    y1, y2 = np.minimum(a, b), np.maximum(a, b)
    span = y2 - y1
    power = 1 / 16

    def spread(beta):
        alpha = 2 - beta ** -16
        return np.where(u <= 1 / alpha, (u * alpha) ** power, (1 / (2 - u * alpha)) ** power)

    want1 = np.clip(0.5 * (y1 + y2) - 0.5 * spread(1 + 2 * y1 / span) * span, 0, 1)
    want2 = np.clip(0.5 * (y1 + y2) + 0.5 * spread(1 + 2 * (1 - y2) / span) * span, 0, 1)
    np.testing.assert_allclose(c1, want1, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(c2, want2, rtol=1e-12, atol=1e-15)


# ---- 11, 14, 2, 5: NSGA2 -----------------------------------------------------------------

def test_11_nsga2_counts_the_batch_that_failed():
    calls = {"rows": 0, "fail_after": 24}

    def obj(X):
        calls["rows"] += len(X)
        F = np.stack([X[:, 0], 1 - X[:, 0]], 1)
        if calls["rows"] > calls["fail_after"]:
            F[0] = np.nan
        return F

    res = rb.evolution.NSGA2(2, population=8, rng=0).run(obj, 2, (0, 1), 10, on_error="stop")
    assert res.stopped and calls["rows"] == 32 and res.evaluations == 32
    calls["rows"], calls["fail_after"] = 0, 0
    res = rb.evolution.NSGA2(2, population=8, rng=0).run(obj, 2, (0, 1), 10, on_error="stop")
    assert calls["rows"] == 8 and res.evaluations == 8


@pytest.mark.parametrize("objectives", ["xor", None])
def test_14_evolve_weights_refuses_a_non_callable_objectives(objectives):
    net = rb.nn.Dense(2, 1, rng=0)
    with pytest.raises(TypeError, match=r"NSGA2.evolve_weights: objectives must be callable"):
        rb.evolution.NSGA2(2, population=8, rng=0).evolve_weights(net, objectives, 2)


@pytest.mark.parametrize("which", ["X", "y"])
def test_2_error_and_connections_refuses_nan_or_inf_data(which):
    net = rb.nn.Sequential(rb.nn.Dense(2, 2, rng=0), rb.nn.Tanh(), rb.nn.Dense(2, 1, rng=0))
    X = np.array([[0., 0], [0, 1], [1, 0], [1, 1]])
    y = np.array([[0.], [1], [1], [0]])
    if which == "X":
        X[3, 1] = np.nan
    else:
        y[2, 0] = np.inf
    with pytest.raises(ValueError, match=rf"error_and_connections: {which} must be finite; "
                                         rf"row {3 if which == 'X' else 2}"):
        rb.evolution.error_and_connections(net, X, y)


@pytest.mark.parametrize("first", [lambda: rb.nn.RNN(2, 3, rng=0),
                                   lambda: rb.nn.Maxout(2, 3, 2, rng=0)])
def test_5_count_connections_refuses_layers_with_other_weights(first):
    net = rb.nn.Sequential(first(), rb.nn.Dense(3, 1, rng=0))
    with pytest.raises(ValueError, match=r"count_connections: (RNN|Maxout) has weights"):
        rb.evolution.count_connections(net, np.ones((1, net.num_parameters())))


def test_5_count_connections_still_counts_dense_models():
    net = rb.nn.Sequential(rb.nn.Dense(2, 2, rng=0), rb.nn.Tanh(), rb.nn.Dense(2, 1, rng=0))
    th = np.ones((2, net.num_parameters()))
    th[1, :4] = 0.0
    assert rb.evolution.count_connections(net, th).tolist() == [6, 2]


# ---- 8: problems keep float32 --------------------------------------------------------------

@pytest.mark.parametrize("make", [problems.ZDT1, problems.ZDT2, problems.ZDT3, problems.ZDT4,
                                  lambda: problems.DTLZ2(3), lambda: problems.DTLZ2(5)])
def test_8_problems_keep_float32_and_float64_unchanged(make):
    p = make()
    lo, hi = p.bounds
    X = lo + (hi - lo) * np.random.default_rng(0).random((16, p.n_variables))
    F64 = p(X)
    assert F64.dtype == np.float64
    F32 = p(X.astype(np.float32))
    assert F32.dtype == np.float32 and F32.shape == F64.shape
    np.testing.assert_allclose(F32, F64, rtol=2e-4, atol=1e-4)
    # integer and list input still evaluate in float64
    assert p(np.zeros((2, p.n_variables), dtype=np.int64)).dtype == np.float64
    assert p(X.tolist()).dtype == np.float64


def test_8_float64_path_bit_for_bit_as_before():
    # the float64 formulas written out as before the fix
    X = np.random.default_rng(1).random((10, 12))
    M = 3
    g = ((X[:, M - 1:] - 0.5) ** 2).sum(axis=1)
    t = X[:, :M - 1] * (math.pi / 2)
    cos = np.cumprod(np.hstack([np.ones((len(X), 1)), np.cos(t)]), axis=1)
    sin = np.hstack([np.ones((len(X), 1)), np.sin(t[:, ::-1])])
    want = (1.0 + g)[:, None] * (cos[:, ::-1] * sin)
    assert np.array_equal(problems.DTLZ2(3)(X), want)
    X = np.random.default_rng(2).random((10, 30))
    g = 1.0 + 9.0 * X[:, 1:].sum(axis=1) / 29
    assert np.array_equal(problems.ZDT1()(X), np.stack([X[:, 0], g * (1 - np.sqrt(X[:, 0] / g))],
                                                       axis=1))


# ---- 9, 10, 16: Interactive -------------------------------------------------------------------

def test_9_undo_restores_a_config_changed_in_place():
    def shaping(session):
        session.config.add_node_rate = 0.9

    s = rb.evolution.Interactive(population=4, width=8, height=8, shaping=shaping, rng=0)
    before = s.config.add_node_rate
    s.next([0])
    assert s.config.add_node_rate == 0.9
    s.undo()
    assert s.config.add_node_rate == before


def test_9_failed_next_restores_a_config_changed_in_place():
    def bad(session):
        session.config.add_connection_rate = 0.7
        raise RuntimeError("shaping failed")

    s = rb.evolution.Interactive(population=4, width=8, height=8, shaping=bad, rng=0)
    before = s.config.add_connection_rate
    with pytest.raises(RuntimeError, match="shaping failed"):
        s.next([0])
    assert s.config.add_connection_rate == before


def test_10_load_takes_a_single_path(tmp_path):
    s = rb.evolution.Interactive(population=4, width=8, height=8, rng=0)
    _, js = s.save(0, str(tmp_path))
    loaded = rb.evolution.Interactive.load(js, population=4, width=8, height=8)
    assert np.array_equal(loaded.image(0), s.image(0))
    loaded = rb.evolution.Interactive.load(tmp_path / js.split("/")[-1], population=4, width=8,
                                           height=8)
    assert np.array_equal(loaded.image(0), s.image(0))


def test_16_run_history_holds_this_runs_choices_only():
    s = rb.evolution.Interactive(chooser=lambda images: [0], population=4, width=8, height=8,
                                 rng=0)
    s.run(2)
    r2 = s.run(2)
    assert r2.generations == 2 and r2.evaluations == 8
    assert r2.history["chosen"] == [[0], [0]]


# ---- 12: GalleryServer size / port -----------------------------------------------------------

@pytest.mark.parametrize("size", [0, -160, True, "large", 2.5])
def test_12_gallery_refuses_a_bad_size(size):
    s = rb.evolution.Interactive(population=4, width=8, height=8, rng=0)
    with pytest.raises((ValueError, TypeError), match="GalleryServer: size"):
        rb.evolution.GalleryServer(s, size=size)


@pytest.mark.parametrize("port", [-1, 70000, "80", True])
def test_12_gallery_refuses_a_bad_port(port):
    s = rb.evolution.Interactive(population=4, width=8, height=8, rng=0)
    with pytest.raises((ValueError, TypeError), match="GalleryServer: port"):
        rb.evolution.GalleryServer(s, port=port)


# ---- 13, 15: CoSyNE ---------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, -2, 1.5])
def test_13_marking_probability_refuses_a_bad_n(n):
    with pytest.raises(ValueError, match="marking_probability: n must be a positive integer"):
        cosyne.marking_probability(np.array([0.0, 1.0, 4.0]), n=n)


def test_13_permute_and_crossover_take_an_int_seed():
    X = np.arange(8.0).reshape(4, 2)
    marked = np.ones((4, 2), dtype=bool)
    Y = cosyne.permute_subpopulations(X, marked, 0)
    assert np.array_equal(Y, cosyne.permute_subpopulations(X, marked, np.random.default_rng(0)))
    a, b = np.zeros((2, 5)), np.ones((2, 5))
    c = cosyne.multipoint_crossover(a, b, 2, 0)
    assert np.array_equal(c, cosyne.multipoint_crossover(a, b, 2, np.random.default_rng(0)))
    with pytest.raises(TypeError, match="rng"):
        cosyne.permute_subpopulations(X, marked, "seed")


@pytest.mark.parametrize("vectorized", [False, True])
@pytest.mark.parametrize("fitness", ["fitness", None])
def test_15_cosyne_run_refuses_a_non_callable_fitness(fitness, vectorized):
    net = rb.nn.Dense(1, 1, rng=0).astype(np.float64)
    cos = rb.evolution.CoSyNE(net, population=8, rng=0)
    with pytest.raises(TypeError, match="CoSyNE.run: fitness must be callable"):
        cos.run(fitness, 3, vectorized=vectorized, on_error="worst")


def test_15_cne_step_refuses_a_non_callable_fitness():
    cne = rb.evolution.CNE(rb.nn.Dense(1, 1, rng=0), population=6, rng=0)
    with pytest.raises(TypeError, match="CNE: fitness must be callable"):
        cne.step("fitness", on_error="worst")
