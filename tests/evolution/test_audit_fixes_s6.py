"""Audit fixes (s6, a1): NEAT.tell's fitness shape, GymTask's action spaces, XOR on a
population of one, SequenceOutputs in RecurrentPopulationModel, CartPole's Euler step,
genome JSON (huge integers, a failed fitness), Network's input check, run's docstrings."""

import importlib.util
import json
import math
import sys
import types

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution.envs import pole
from rosenblatt.evolution.envs.pole import CartPole
from rosenblatt.evolution.genome import Genome, GenomeFormatError
from rosenblatt.evolution.network import PopulationNetwork
from rosenblatt.evolution.recurrent import RecurrentPopulationModel

HAVE_NUMBA = importlib.util.find_spec("numba") is not None
needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="the fast extra (numba) is not installed")


# -- 1: NEAT.tell reads the fitness by the selection, not by the array's shape ----------
def _neat(selection="fitness"):
    return rb.evolution.NEAT(2, 1, rb.evolution.NEATConfig(population=20), rng=0,
                             selection=selection)


def test_1_tell_a_column_on_a_fitness_neat_is_the_one_fitness():
    f = rb.evolution.envs.XOR().evaluate(_neat().population_network())
    flat, column = _neat(), _neat()
    a, b = flat.tell(f), column.tell(f[:, None])
    assert b.fitness == a.fitness == f.max()  # not a cascade score
    assert [g.fitness for g in column.population] == [g.fitness for g in flat.population]
    assert [g.connections for g in column.population] == [g.connections
                                                          for g in flat.population]


def test_1_tell_refuses_a_shape_the_selection_cannot_read():
    f = rb.evolution.envs.XOR().evaluate(_neat().population_network())
    with pytest.raises(ValueError, match=r"got shape \(20, 2\).*selection='cascading'"):
        _neat().tell(np.stack([f, -f], axis=1))
    # cascading reads (P,) as one fitness function, as CNE does: cascade scores, the same as
    # for the (P, 1) column
    flat, column = _neat("cascading"), _neat("cascading")
    champion = flat.tell(f)
    assert champion.fitness == column.tell(f[:, None]).fitness < 2.0 < f.max()
    assert [g.fitness for g in flat.population] == [g.fitness for g in column.population]


# -- 2 and 6: GymTask's action spaces, on a stand-in gymnasium ------------------------
class _Discrete:
    def __init__(self, n, start=0):
        self.n, self.start, self.shape = n, start, ()


class _Box:
    def __init__(self, low, high, shape):
        self.low, self.high, self.shape = np.full(shape, low), np.full(shape, high), shape


class _MultiDiscrete:
    def __init__(self, nvec):
        self.nvec = np.array(nvec)
        self.shape = self.nvec.shape


class _Env:
    def __init__(self, action_space):
        self.action_space, self.observation_space = action_space, _Box(-1.0, 1.0, (2,))
        self.actions = []

    def reset(self, seed=None):
        return np.zeros(2), {}

    def step(self, a):
        space = self.action_space
        if not space.start <= a < space.start + space.n:  # as gymnasium's Discrete.contains
            raise ValueError(f"action {a} not in Discrete({space.n}, start={space.start})")
        self.actions.append(a)
        return np.zeros(2), 1.0, len(self.actions) >= 3, False, {}


@pytest.fixture
def gym(monkeypatch):
    spaces = {"Shifted": _Discrete(3, start=-1), "Two": _Discrete(2, start=5),
              "Multi": _MultiDiscrete([2, 3])}
    fake = types.ModuleType("gymnasium")
    fake.spaces = types.SimpleNamespace(Discrete=_Discrete, Box=_Box,
                                        MultiDiscrete=_MultiDiscrete)
    fake.make = lambda env_id, **kwargs: _Env(spaces[env_id])
    monkeypatch.setitem(sys.modules, "gymnasium", fake)
    return rb.evolution.envs.GymTask


def test_2_gym_discrete_actions_start_at_the_spaces_start(gym):
    task = gym("Shifted")  # actions -1, 0, 1
    assert task.action(np.array([[0.0, 0.0, 1.0]])) == 1
    assert task.action(np.array([[1.0, 0.0, 0.0]])) == -1
    assert task(lambda x: np.array([[0.0, 0.0, 1.0]])) == 3.0  # the env accepts them
    assert task.env.actions == [1, 1, 1]
    two = gym("Two")  # one output for two actions 5, 6
    assert (two.action(np.array([0.2])), two.action(np.array([0.8]))) == (5, 6)


def test_6_gym_refuses_an_unsupported_action_space(gym):
    with pytest.raises(ValueError, match="MultiDiscrete action space; supported: Discrete, Box"):
        gym("Multi")


# -- 3: XOR() scores a population of one network -------------------------------------
def test_3_xor_scores_a_population_network_of_one():
    xor = rb.evolution.envs.XOR()
    g = Genome.minimal(0, 2, 1, weights=[0.5, -0.5, 1.0])
    assert xor(PopulationNetwork([g])) == xor(g)
    net = rb.nn.Sequential(rb.nn.Dense(2, 3, rng=0), rb.nn.Tanh(), rb.nn.Dense(3, 1, rng=1),
                           rb.nn.Sigmoid()).astype(np.float64)
    theta = rb.nn.ParameterVector(net.parameters()).data.copy()
    assert xor(rb.evolution.PopulationModel(net, theta[None])) == pytest.approx(xor(net),
                                                                               rel=1e-12)
    with pytest.raises(ValueError, match=r"got \(2, 4, 1\); score a population with"):
        xor(PopulationNetwork([g, g]))


def test_3_hyperneat_runs_on_the_per_network_xor():
    from rosenblatt.evolution.cppn import HyperNEAT, Substrate

    sub = Substrate([[-1, 0], [1, 0]], [[0, 1]], hidden=[[-1, 0.5], [1, 0.5]])
    res = HyperNEAT(sub, rb.evolution.cppn_config(population=6), rng=0).run(
        rb.evolution.envs.XOR(), 1)
    assert res.generations == 1 and math.isfinite(res.best_fitness)


# -- 4: SequenceOutputs after the RNN --------------------------------------------------
@pytest.mark.parametrize("last", [False, True])
def test_4_recurrent_population_skips_sequence_outputs(last):
    nn = rb.nn
    model = nn.Sequential(nn.RNN(3, 4, rng=0), nn.SequenceOutputs(last=last),
                          nn.Dense(4, 2, rng=1), nn.Sigmoid()).astype(np.float64)
    rng = np.random.default_rng(0)
    P, T = 3, 5
    thetas = rng.normal(size=(P, model.num_parameters()))
    X = rng.normal(size=(P, T, 3))
    pop = RecurrentPopulationModel(model, thetas)
    got = np.stack([pop.step(X[:, t]) for t in range(T)], axis=1)  # (P, T, 2)
    vec = nn.ParameterVector(model.parameters())
    for p in range(P):  # rb.nn runs the model on the whole sequence
        vec.data[:] = thetas[p]
        want = model(X[p:p + 1]).data[0]  # (T, 2), or the last step's (2,)
        np.testing.assert_allclose(got[p, -1] if last else got[p], want, rtol=1e-12,
                                   atol=1e-14)


def test_4_outputs_reads_a_lone_rnn_followed_by_sequence_outputs():
    nn = rb.nn
    bare = nn.Sequential(nn.RNN(3, 3, rng=0)).astype(np.float64)
    wrapped = nn.Sequential(nn.RNN(3, 3, rng=0), nn.SequenceOutputs()).astype(np.float64)
    thetas = np.random.default_rng(1).normal(size=(4, bare.num_parameters()))
    obs = np.ones((4, 3))
    np.testing.assert_array_equal(RecurrentPopulationModel(wrapped, thetas, outputs=1).step(obs),
                                  RecurrentPopulationModel(bare, thetas, outputs=1).step(obs))
    dense = nn.Sequential(nn.RNN(3, 3), nn.SequenceOutputs(), nn.Dense(3, 1))
    with pytest.raises(ValueError, match="lone RNN"):
        RecurrentPopulationModel(dense, np.zeros((1, dense.num_parameters())), outputs=1)


# -- 5: CartPole's Euler step ------------------------------------------------------------
def _hand_derivs(s, F, half=(0.5, 0.05), mass=(0.1, 0.01)):
    """Wieland's equations for one cart with two poles, written out (g = -9.8)."""
    g, mup = -9.8, 0.000002
    forces = [mass[i] * half[i] * s[3 + 2 * i] ** 2 * math.sin(s[2 + 2 * i])
              + 0.75 * mass[i] * math.cos(s[2 + 2 * i])
              * (mup * s[3 + 2 * i] / (mass[i] * half[i]) + g * math.sin(s[2 + 2 * i]))
              for i in range(2)]
    masses = [mass[i] * (1 - 0.75 * math.cos(s[2 + 2 * i]) ** 2) for i in range(2)]
    xdd = (F + sum(forces)) / (1.0 + sum(masses))
    thdd = [-0.75 / half[i] * (xdd * math.cos(s[2 + 2 * i]) + g * math.sin(s[2 + 2 * i])
                               + mup * s[3 + 2 * i] / (mass[i] * half[i])) for i in range(2)]
    return np.array([s[1], xdd, s[3], thdd[0], s[5], thdd[1]])


def _hand_trial(start, action, T, dt=0.0025, substeps=8):
    """Decisions balanced by a constant action under Euler steps, and the states."""
    s = np.array(start, dtype=np.float64)
    F = float(np.clip((action - 0.5) * 20.0, -10.0, 10.0))
    states = []
    for t in range(T):
        for _ in range(substeps):
            s = s + dt * _hand_derivs(s, F)
        states.append(s.copy())
        if not (abs(s[0]) <= 2.4 and abs(s[2]) <= math.radians(36)
                and abs(s[4]) <= math.radians(36)):
            return t, states
    return T, states


def test_5_euler_step_matches_a_hand_step():
    rng = np.random.default_rng(0)
    s = rng.uniform(-0.2, 0.2, (6, 5))
    force = rng.uniform(-10, 10, 5)
    want = np.stack([s[:, j] + 0.0025 * _hand_derivs(s[:, j], force[j]) for j in range(5)], 1)
    np.testing.assert_allclose(pole.euler(s, force, 2, 0.0025), want, rtol=1e-13, atol=1e-15)
    # the per-cart path (a handful of carts) is the same step
    np.testing.assert_allclose(pole.euler(s[:, :2], force[:2], 2, 0.0025), want[:, :2],
                               rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("action", [0.7, 0.35])
def test_5_cartpole_euler_trial_matches_a_hand_trial(action):
    T = 200
    start = [0.0, 0.0, 0.07, 0.0, 0.0, 0.0]
    want, _ = _hand_trial(start, action, T)
    env = CartPole(2, max_steps=T, integrator="euler")
    steps = env.evaluate(lambda obs: np.full((len(obs), 1), action), population=4)
    assert 0 < want < T and (steps == want).all()
    assert CartPole().integrator == "rk4"  # the default: every earlier result unchanged
    with pytest.raises(ValueError, match="integrator"):
        CartPole(integrator="midpoint")


def test_5_generalization_keeps_the_integrator():
    env = CartPole(2, max_steps=5, integrator="euler")
    seen = {}
    original = pole.CartPole.evaluate

    def spy(self, *args, **kwargs):
        seen["integrator"] = self.integrator
        return original(self, *args, **kwargs)

    pole.CartPole.evaluate = spy
    try:
        env.generalization(lambda obs: np.full((len(obs), 1), 0.5), steps=2)
    finally:
        pole.CartPole.evaluate = original
    assert seen["integrator"] == "euler"


@needs_numba
def test_5_compiled_euler_trials_match_numpy(monkeypatch):
    from rosenblatt.autodiff import _kernels
    from rosenblatt.evolution import recurrent

    # the NumPy step with the kernel's tanh (libm's), so both paths round alike
    monkeypatch.setattr(recurrent, "_tanh", np.vectorize(math.tanh, otypes=[float]))
    net = rb.nn.Sequential(rb.nn.RNN(3, 3, rng=0)).astype(np.float64)
    X = np.random.default_rng(0).standard_cauchy((16, net.num_parameters()))
    P, T = len(X), 300
    start = np.tile([0.0, 0.0, 0.07, 0.0, 0.0, 0.0], (P, 1))
    steps, traces = {}, {}
    for integrator in ("euler", "rk4"):
        env = CartPole(2, False, max_steps=T, integrator=integrator)
        trace = np.zeros((1, P, 6))
        try:
            _kernels.use_numba(True)
            pop = RecurrentPopulationModel(net, X, outputs=1, fast=True)
            fast = env._compiled(pop, P, T, start.T.copy(), trace)
        finally:
            _kernels.use_numba(None)
        slow = env.evaluate(RecurrentPopulationModel(net, X, outputs=1), starts=start)
        np.testing.assert_array_equal(fast, slow)
        steps[integrator], traces[integrator] = fast, trace[0]
    # the kernel's first decision by hand: the network's action, then eight Euler steps
    a = RecurrentPopulationModel(net, X, outputs=1).step(env.observe(start.T))[:, 0]
    for p in range(P):
        s = start[p]
        for _ in range(8):
            s = s + 0.0025 * _hand_derivs(s, float(np.clip((a[p] - 0.5) * 20.0, -10, 10)))
        np.testing.assert_allclose(traces["euler"][p], s, rtol=1e-12, atol=1e-15)
    assert len(np.unique(steps["euler"])) > 3
    assert not np.array_equal(traces["euler"], traces["rk4"])  # the flag reaches the kernel


# -- 7 and 9: genome JSON -----------------------------------------------------------------
def test_7_a_huge_integer_weight_is_a_genome_format_error(tmp_path):
    g = Genome.minimal(0, 2, 1, weights=[0.5, -0.5, 1.0])
    text = g.to_json().replace('"weight": 0.5', '"weight": 1' + "0" * 400)
    with pytest.raises(GenomeFormatError, match="'weight' must be a finite number; got an "
                                                "integer too large"):
        Genome.from_json(text)
    path = tmp_path / "g.json"
    path.write_text(text)
    with pytest.raises(GenomeFormatError, match="g.json: .*too large for a float"):
        Genome.load(path)


def test_9_a_failed_fitness_survives_the_json_round_trip():
    g = Genome.minimal(0, 2, 1, weights=[0.5, -0.5, 1.0])
    for fitness in (-math.inf, None, 2.5):
        g.fitness = fitness
        back = Genome.from_json(g.to_json())
        assert back == g and back.fitness == fitness
    g.fitness = -math.inf
    assert json.loads(g.to_json())["fitness"] == "-inf"  # strict JSON: no -Infinity
    d = g.to_dict()
    d["fitness"] = "failed"
    with pytest.raises(GenomeFormatError, match="'fitness' must be a number"):
        Genome.from_dict(d)


# -- 8: Network names itself and the shape it was given ---------------------------------
def test_8_network_checks_the_input_width():
    net = Genome.minimal(7, 2, 1, weights=[0.5, -0.5, 1.0]).network()
    with pytest.raises(ValueError, match=r"^Network: inputs must have shape \(n, 2\) \(genome "
                                         r"7\); got \(4, 3\)$"):
        net(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"Network.step: inputs must have shape \(2,\)"):
        net.step(np.ones(3))
    assert net(np.ones((4, 2))).shape == (4, 1) and net.step(np.ones(2)).shape == (1, 1)


# -- 10: run's docstrings say an infinity is a fitness error ----------------------------
def test_10_run_docstrings_name_infinities():
    for run in (rb.evolution.NEAT.run, rb.evolution.CNE.run):
        assert "NaN or an infinity" in " ".join(run.__doc__.split())
    neat = rb.evolution.NEAT(2, 1, rb.evolution.NEATConfig(population=6), rng=0)
    with pytest.raises(rb.evolution.FitnessError, match="fitness returned -inf"):
        neat.run(lambda g: -math.inf, 1)
