"""Audit s12/a3 (neuroevolution I outside NEAT's gene block): one test per fixed finding.

Reproductions and the report: /tmp/s12/a3 (REPORT.md).
"""

import dataclasses
import json

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution.cne import population_forward
from rosenblatt.evolution.config import ConfigError, NEATConfig
from rosenblatt.evolution.neat import NEAT


# -- 1. NEATConfig: the default activations froze the activation it was built with ------------
def test_default_activations_follow_activation_in_a_derived_config():
    base = NEATConfig(population=10)
    assert base.activations == ("steep_sigmoid",)
    assert dataclasses.replace(base, activation="relu").activations == ("relu",)
    d = base.to_dict()
    d["activation"] = "tanh"
    assert NEATConfig.from_dict(d).activations == ("tanh",)
    edited = NEATConfig(population=10)
    edited.activation = "tanh"
    edited.check()  # what NEAT.run and NEAT.tell do
    assert edited.activations == ("tanh",)
    # activations given explicitly stay as given
    explicit = NEATConfig(population=10, activations=("sine", "abs"))
    assert dataclasses.replace(explicit, activation="tanh").activations == ("sine", "abs")
    assert NEATConfig.from_dict(explicit.to_dict()) == explicit
    assert NEATConfig.from_dict(base.to_dict()) == base


def test_hidden_nodes_of_a_replaced_config_get_its_activation():
    cfg = dataclasses.replace(NEATConfig(population=12), activation="relu", add_node_rate=1.0)
    neat = NEAT(2, 1, cfg, rng=0)
    neat.tell(np.arange(12.0))
    acts = {n.activation for g in neat.population for n in g.nodes if n.kind == "hidden"}
    assert acts == {"relu"}


# -- 2. NEATConfig refused NumPy numbers ("must be a positive integer; got np.int64(20)") -----
def test_numpy_numbers_are_accepted_and_stored_as_python_numbers():
    cfg = NEATConfig(population=np.int64(20), stagnation=np.int32(7), target_species=np.int64(4),
                     elitism_min_size=np.int16(2), add_node_rate=np.float32(0.25),
                     weight_coefficient=np.float64(0.5), compatibility_threshold=np.int64(3),
                     bias=np.float32(0.5))
    assert cfg.population == 20 and type(cfg.population) is int
    assert type(cfg.stagnation) is int and type(cfg.target_species) is int
    assert type(cfg.elitism_min_size) is int
    assert type(cfg.add_node_rate) is float and cfg.add_node_rate == 0.25
    assert type(cfg.compatibility_threshold) is float and type(cfg.bias) is float
    json.dumps(cfg.to_dict())  # plain values
    with pytest.raises(ConfigError, match="population must be a positive integer"):
        NEATConfig(population=np.float64(20.0))
    with pytest.raises(ConfigError, match="recurrent must be True or False"):
        NEATConfig(recurrent=np.int64(1))
    with pytest.raises(ConfigError, match="add_node_rate must be a probability"):
        NEATConfig(add_node_rate=np.bool_(True))


# -- 3. NEATConfig.from_toml on a file with a [neat] table: "unknown key 'neat'" ---------------
def test_from_toml_names_the_table_to_read(tmp_path):
    path = tmp_path / "evolve.toml"
    path.write_text("algorithm = 'neat'\n[neat]\npopulation = 30\n")
    with pytest.raises(ConfigError, match=r"\[neat\] is a table.*table='neat'"):
        NEATConfig.from_toml(path)
    assert NEATConfig.from_toml(path, table="neat").population == 30


# -- 4. population_forward(fast=True) on an empty population: ZeroDivisionError ----------------
def test_population_forward_fast_on_no_networks():
    net = rb.nn.Sequential(rb.nn.Dense(3, 5), rb.nn.Tanh(), rb.nn.Dense(5, 2))
    X = np.zeros((16, 3), np.float32)
    for fast in (False, True):
        out = population_forward(net, np.zeros((0, net.num_parameters()), np.float32), X,
                                 fast=fast)
        assert out.shape == (0, 16, 2) and out.dtype == np.float32


# -- 5. population_forward != a loop of model(X) with two layers drawing per network -----------
def test_population_forward_with_two_dropouts_in_training_equals_the_loop():
    net = rb.nn.Sequential(rb.nn.Dense(3, 8, dtype=np.float64), rb.nn.Dropout(0.5),
                           rb.nn.Dense(8, 8, dtype=np.float64), rb.nn.Dropout(0.5),
                           rb.nn.Dense(8, 1, dtype=np.float64)).train()
    vector = rb.nn.ParameterVector(net.parameters())
    thetas = np.random.default_rng(1).normal(size=(3, vector.size))
    X = np.ones((4, 3))
    rb.seed(5)
    batched = population_forward(net, thetas, X)
    rb.seed(5)
    loop = []
    for theta in thetas:
        vector.data[:] = theta
        loop.append(net(rb.tensor(X)).data)
    assert np.array_equal(batched, np.stack(loop))
    # one batch per network too
    Xp = np.random.default_rng(2).normal(size=(3, 4, 3))
    rb.seed(6)
    batched = population_forward(net, thetas, Xp)
    rb.seed(6)
    loop = []
    for theta, x in zip(thetas, Xp):
        vector.data[:] = theta
        loop.append(net(rb.tensor(x)).data)
    assert np.array_equal(batched, np.stack(loop))


# -- 6. GymTask: seed=1.7 taken as 1, '3' as 3, None a bare int() TypeError -----------------
@pytest.mark.parametrize("seed", [None, 1.7, "3", True, -1])
def test_gym_task_refuses_a_seed_that_is_no_non_negative_integer(seed):
    pytest.importorskip("gymnasium")
    with pytest.raises(ValueError, match="GymTask: seed must be a non-negative integer"):
        rb.evolution.envs.GymTask("CartPole-v1", seed=seed)


def test_gym_task_takes_numpy_integer_seeds():
    pytest.importorskip("gymnasium")
    task = rb.evolution.envs.GymTask("CartPole-v1", seed=np.int64(3), max_steps=5)
    assert task.seed == 3 and type(task.seed) is int


# -- 7. Interactive: what shaping changed was used unchecked ----------------------------------
def test_interactive_checks_what_shaping_changed():
    from rosenblatt.evolution.interactive import Interactive

    def bad_rate(session):
        session.config.add_node_rate = 5.0

    s = Interactive(population=4, width=4, height=4, rng=0, shaping=bad_rate)
    before = [g.id for g in s.genomes]
    with pytest.raises(ConfigError, match="add_node_rate must be a probability"):
        s.next([0])
    assert s.generation == 0 and [g.id for g in s.genomes] == before
    assert s.config.add_node_rate == rb.evolution.cppn_config().add_node_rate

    def not_a_config(session):
        session.config = {"add_node_rate": 0.1}

    s = Interactive(population=4, width=4, height=4, rng=0, shaping=not_a_config)
    with pytest.raises(TypeError, match="config must be a NEATConfig; got dict"):
        s.next([0])
    assert isinstance(s.config, NEATConfig)

    def zero_width(session):
        session.width = 0

    s = Interactive(population=4, width=4, height=4, rng=0, shaping=zero_width)
    with pytest.raises(ValueError, match="width must be a positive integer"):
        s.next([0])
    assert s.width == 4


def test_interactive_shaped_activation_reaches_new_hidden_nodes():
    from rosenblatt.evolution.interactive import Interactive

    def relu(session):
        session.config.activation = "relu"

    s = Interactive(population=6, width=4, height=4, rng=0, shaping=relu,
                    config=NEATConfig(add_node_rate=1.0))
    old = {n.id for g in s.genomes for n in g.nodes}
    s.next([0])
    new = {n.activation for g in s.genomes for n in g.nodes
           if n.kind == "hidden" and n.id not in old}
    assert new == {"relu"}


# -- 8. HyperNEAT.develop(genome, grid(33)): "truth value of an array is ambiguous" ------------
def test_develop_names_a_substrate_that_is_no_substrate():
    from rosenblatt.evolution.cppn import HyperNEAT, Substrate, grid

    h = HyperNEAT(Substrate(grid(3), grid(3)), rb.evolution.cppn_config(population=10), rng=0)
    g = h.neat.population[0]
    for bad in (grid(5), Substrate(grid(5), grid(5)).to_dict()):
        with pytest.raises(TypeError, match="HyperNEAT.develop: substrate must be a Substrate"):
            h.develop(g, bad)
    assert h.develop(g, Substrate(grid(5), grid(5))).weights[0].shape == (1, 25, 25)
    assert h.develop(g).weights[0].shape == (1, 9, 9)


# -- 9. population_forward: a layer that changes each network's rank broke the next Dense -----
class _Unsqueeze(rb.nn.Module):
    """Each network's (n, f) as (n, 1, f): a parameter-free layer that adds an axis."""

    def forward(self, x):
        return x.reshape(x.shape[0], 1, x.shape[1])


def _loop(net, thetas, X):
    vector = rb.nn.ParameterVector(net.parameters())
    out = []
    for theta in thetas:
        vector.data[:] = theta
        out.append(net(rb.tensor(X)).data)
    return np.stack(out)


@pytest.mark.parametrize("middle", [rb.nn.Flatten(0), _Unsqueeze()])
def test_population_forward_after_a_layer_that_changes_the_rank(middle):
    n_in = 12 if isinstance(middle, rb.nn.Flatten) else 4
    first = [] if isinstance(middle, rb.nn.Flatten) else [rb.nn.Dense(3, 4, dtype=np.float64)]
    net = rb.nn.Sequential(*first, middle, rb.nn.Dense(n_in, 2, dtype=np.float64))
    thetas = np.random.default_rng(0).normal(size=(4, net.num_parameters()))
    X = np.random.default_rng(1).normal(size=(4, 3))  # n == P: a broadcast would pass silently
    expected = _loop(net, thetas, X)
    out = population_forward(net, thetas, X)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


# -- 10. VisualDiscrimination: a NaN output field was scored off its first NaN cell ------------
def test_visual_discrimination_fitness_of_nan_outputs_is_nan():
    env = rb.evolution.envs.VisualDiscrimination()
    assert np.isnan(env.fitness(np.full((75, 121), np.nan)))
    fields = np.random.default_rng(0).normal(size=(3, 75, 121)).astype(np.float32)
    fields[1, 7, 5] = np.nan
    f = env.fitness(fields)
    assert np.isnan(f[1]) and np.isfinite(f[[0, 2]]).all()
    assert np.array_equal(f[[0, 2]], env.fitness(fields[[0, 2]]))
    assert np.isnan(env(lambda X: np.full((75, 121), np.nan)))  # a per-network fitness too


def test_gym_task_fitness_of_nan_outputs_is_nan():
    pytest.importorskip("gymnasium")
    task = rb.evolution.envs.GymTask("CartPole-v1", max_steps=20)  # Discrete(2)
    assert np.isnan(task(lambda x: np.full((1, 2), np.nan)))
    assert task(lambda x: np.array([[1.0, 0.0]])) > 0


# -- 11. truthy strings taken for True: population_forward(fast=), draw(show_disabled=, labels=)
def test_population_forward_refuses_a_string_for_fast():
    net = rb.nn.Sequential(rb.nn.Dense(2, 3), rb.nn.Tanh(), rb.nn.Dense(3, 1))
    thetas = np.zeros((2, net.num_parameters()), np.float32)
    with pytest.raises(TypeError, match="population_forward: fast must be True or False"):
        population_forward(net, thetas, np.ones((8, 2)), fast="false")
    assert population_forward(net, thetas, np.ones((8, 2)), fast=np.bool_(False)).shape == (
        2, 8, 1)


@pytest.mark.parametrize("option", ["show_disabled", "labels"])
def test_draw_refuses_a_string_for_its_switches(option):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    g = rb.evolution.Genome.minimal(0, 2, 1, [0.5, -0.5, 1.0])
    with pytest.raises(TypeError, match=f"draw: {option} must be True or False"):
        rb.evolution.draw(g, **{option: "no"})


def test_bandit_fitness_of_nan_outputs_is_nan():
    class Const:  # a population network answering v to every input
        def __init__(self, v, size=1):
            self.v, self.size = v, size

        def reset(self, population=None):
            pass

        def step(self, obs):
            return np.full((self.size, 1), self.v)

        def take(self, index):
            return Const(self.v, len(index))

    task = rb.evolution.envs.TwoArmedBandit(trials=10)
    assert np.isnan(task.evaluate(Const(np.nan))[0])
    assert task.evaluate(Const(-1.0))[0] == 0.5
