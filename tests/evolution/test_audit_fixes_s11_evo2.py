"""Audit fixes (s11, g2): neuroevolution II and the evolution environments."""

import numpy as np
import pytest

import rosenblatt as rb


# -- 1: GymTask refuses a network whose output width is not the action space's ---------
def test_1_gym_task_refuses_a_network_of_the_wrong_output_width():
    pytest.importorskip("gymnasium")
    task = rb.evolution.envs.GymTask("Acrobot-v1", max_steps=5)  # Discrete(3)
    for width in (1, 2, 4):
        with pytest.raises(ValueError, match=f"takes 3 network outputs; the network gave "
                                             f"{width}"):
            task(lambda x, w=width: np.zeros((1, w)))
    assert task(lambda x: np.array([[0.0, 0.0, 1.0]])) == -5.0  # the right width still runs
    two = rb.evolution.envs.GymTask("CartPole-v1", max_steps=5)  # Discrete(2): 1 or 2 outputs
    assert two(lambda x: np.array([[0.9]])) == two(lambda x: np.array([[0.0, 1.0]]))
    box = rb.evolution.envs.GymTask("Pendulum-v1", max_steps=3)  # Box(1,)
    with pytest.raises(ValueError, match="takes 1 network outputs; the network gave 2"):
        box(lambda x: np.zeros((1, 2)))


# -- 2: switches given as strings are refused, not taken for True ----------------------
def test_2_hyperneat_deltas_and_gallery_verbose_refuse_strings():
    from rosenblatt.evolution.cppn import HyperNEAT, Substrate, grid
    from rosenblatt.evolution.gallery import GalleryServer
    from rosenblatt.evolution.interactive import Interactive

    sub = Substrate(grid(2), grid(1))
    with pytest.raises(TypeError, match="HyperNEAT: deltas must be True or False; got 'false'"):
        HyperNEAT(sub, deltas="false", rng=0)
    assert HyperNEAT(sub, deltas=False, rng=0).neat.population[0].n_inputs == 4
    with pytest.raises(TypeError, match="GalleryServer: verbose must be True or False"):
        GalleryServer(Interactive(population=2, width=4, height=4, rng=0), verbose="no")


# -- 3: VisualDiscrimination refuses output fields of the wrong shape ------------------
def test_3_visual_discrimination_refuses_fields_of_the_wrong_shape():
    env = rb.evolution.envs.VisualDiscrimination()
    for shape in ((75, 1), (75, 11), (1, 121), (3, 75, 1089), (121,)):
        with pytest.raises(ValueError, match=r"shape \(75, 121\) for one network"):
            env.fitness(np.ones(shape))
    with pytest.raises(ValueError, match=r"got \(75, 1\)"):
        env(lambda X: np.ones((75, 1)))
    assert env(lambda X: X) == env.fitness(env.X)  # the right shapes still score
    assert env.evaluate(lambda X: np.stack([X, X])).shape == (2,)


# -- 4: cascading selection refuses a fitness that gives no values ---------------------
def test_4_cascading_selection_refuses_a_fitness_without_values():
    net = rb.nn.Dense(2, 1, rng=0).astype(np.float64)
    cne = rb.evolution.CNE(net, population=8, selection="cascading", rng=0)
    with pytest.raises(ValueError, match=r"shape \(8, k\) with k >= 1; got \(8, 0\)"):
        cne.run(lambda th: np.zeros((len(th), 0)), 2, vectorized=True)
    with pytest.raises(ValueError, match="fitness returned no values for individual 0"):
        cne.run(lambda m: [], 2)
    neat = rb.evolution.NEAT(2, 1, rb.evolution.NEATConfig(population=10), rng=0,
                             selection="cascading")
    with pytest.raises(ValueError, match="k >= 1|no values"):
        neat.run(lambda pop: np.zeros((pop.size, 0)), 2, vectorized=True)
    ok = rb.evolution.CNE(net, population=8, selection="cascading", rng=0)
    assert ok.run(lambda th: -np.abs(th[:, :2]), 2, vectorized=True).generations == 2


# -- 5: a substrate network names the input width it takes -----------------------------
def test_5_substrate_network_names_the_width_it_takes():
    sub = rb.evolution.Substrate(rb.evolution.grid(10), rb.evolution.grid(10))
    hyper = rb.evolution.HyperNEAT(sub, rb.evolution.cppn_config(population=10), rng=0)
    net = hyper.develop(hyper.neat.population[:3])
    with pytest.raises(ValueError, match=r"X must have shape \(n, 100\).*got \(75, 121\)"):
        net(np.zeros((75, 121)))
    with pytest.raises(ValueError, match=r"got \(2, 4, 100\)"):
        net(np.zeros((2, 4, 100)))  # a batch per network, for 2 of the 3 networks
    with pytest.raises(ValueError, match=r"obs must have shape \(3, 100\).*got \(3, 5\)"):
        net.step(np.zeros((3, 5)))
    assert net(np.zeros((4, 100))).shape == (3, 4, 100)
    assert net.step(np.zeros((3, 100), np.float32)).dtype == np.float32


# -- 6: a config file that is not UTF-8 is a ConfigError naming the file ----------------
def test_6_neat_config_from_toml_names_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"population = 10\n# caf\xe9\n")
    with pytest.raises(rb.evolution.ConfigError, match=r"latin1.toml: not valid TOML \(not "
                                                         r"UTF-8 text"):
        rb.evolution.NEATConfig.from_toml(path)
    (tmp_path / "ok.toml").write_text("population = 10\n# café\n", encoding="utf-8")
    assert rb.evolution.NEATConfig.from_toml(tmp_path / "ok.toml").population == 10


# -- 7: cascading selection through an executor goes through rb.parallel ----------------
def _two_scores(model):
    return [float(rb.randomness.generator().random()), 1.0]


def test_7_cascading_selection_names_a_shut_down_executor():
    from concurrent.futures import ThreadPoolExecutor

    from rosenblatt.parallel import ExecutorShutdownError

    def run(executor):
        net = rb.nn.Dense(2, 1, rng=0).astype(np.float64)
        cne = rb.evolution.CNE(net, population=8, selection="cascading", rng=0)
        return cne.run(_two_scores, 2, executor=executor).history["objectives"]

    closed = ThreadPoolExecutor(2)
    closed.shutdown()
    with pytest.raises(ExecutorShutdownError, match="CNE: the executor ThreadPoolExecutor "
                                                    "cannot take work"):
        run(closed)
    with ThreadPoolExecutor(2) as pool:
        assert run(pool) == run(None)


# -- 8: encoding='lines' names a network that gives more than one output ---------------
def test_8_lines_encoding_names_a_network_with_more_than_one_output():
    from rosenblatt.evolution.envs import TicTacToe, random_player

    game = TicTacToe(encoding="lines")
    nine = rb.nn.Dense(9, 9, rng=0)
    pop = rb.evolution.PopulationModel(nine, np.zeros((2, nine.num_parameters())))
    with pytest.raises(ValueError, match="encoding='lines'.*1 output\\); it gave 9 outputs"):
        game.versus(game.player(pop), random_player(0), n_games=4)
    one = rb.nn.Dense(9, 1, rng=0)
    pop = rb.evolution.PopulationModel(one, np.zeros((2, one.num_parameters())))
    assert sum(game.versus(game.player(pop), random_player(0), n_games=4).values()) == 1.0


# -- 9: on_error="stop" counts the generation that failed in result.evaluations --------
@pytest.mark.parametrize("name, kw, per_generation", [("CNE", {}, 8), ("CoSyNE", {}, 8),
                                                       ("ESP", {"trials": 2}, 16)])
def test_9_stopped_runs_count_the_failed_generations_evaluations(name, kw, per_generation):
    calls = [0]

    def fit(th):
        calls[0] += 1
        f = -(th ** 2).sum(axis=1)
        if calls[0] == 3:
            f[2] = np.nan
        return f

    net = rb.nn.Sequential(rb.nn.Dense(2, 2, rng=0), rb.nn.Tanh(),
                           rb.nn.Dense(2, 1, rng=0)).astype(np.float64)
    algo = getattr(rb.evolution, name)(net, population=8, rng=0, **kw)
    res = algo.run(fit, 5, vectorized=True, on_error="stop")
    assert res.stopped and res.error and res.generations == 2
    assert res.evaluations == 3 * per_generation  # the third (failed) generation was spent


def test_9_esp_counts_a_failed_lesion_test():
    calls = [0]

    def fit(th):  # fine until the lesion tests of the size adaptation
        calls[0] += 1
        f = np.zeros(len(th))
        if len(th) != 8:
            f[0] = np.nan
        return f

    net = rb.nn.Sequential(rb.nn.Dense(2, 3, rng=0), rb.nn.Tanh(),
                           rb.nn.Dense(3, 1, rng=0)).astype(np.float64)
    esp = rb.evolution.ESP(net, population=8, trials=1, stagnation=1, rng=0)
    res = esp.run(fit, 10, vectorized=True, on_error="stop")
    assert res.stopped and "ESP" in res.error
    assert res.evaluations == 8 * res.generations + 8 + 4  # its networks and 1 + 3 lesion tests


# -- 10: grid refuses sizes below 1 ----------------------------------------------------
def test_10_grid_refuses_sizes_below_one():
    for args, name in (((0,), "n"), ((-3,), "n"), ((3, 0), "m"), ((2, True), "m")):
        with pytest.raises(ValueError, match=f"grid: {name} must be a positive integer"):
            rb.evolution.grid(*args)
    assert rb.evolution.grid(1, 2).tolist() == [[-1.0, 0.0], [1.0, 0.0]]
    assert rb.evolution.grid(np.int64(3)).shape == (9, 2)


# -- 11: core.evaluate refuses ids that do not name every individual -------------------
def test_11_evaluate_refuses_ids_of_another_length():
    from rosenblatt.evolution.core import evaluate

    with pytest.raises(ValueError, match="3 payloads but 1 ids"):
        evaluate(lambda x: x * 2.0, [1.0, 2.0, 3.0], ids=[0])
    with pytest.raises(ValueError, match="2 payloads but 3 ids"):
        evaluate(lambda x: x * 2.0, [1.0, 2.0], ids=["a", "b", "c"])
    assert evaluate(lambda x: x * 2.0, (1.0, 2.0), ids=range(2)).tolist() == [2.0, 4.0]
