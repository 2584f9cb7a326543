"""Learning from demonstration (notes: "Neuroevolution", interactive evolution: "the human takes
direct control and the network learns from that example")."""

import json

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution import (
    CNE,
    NEAT,
    Demonstration,
    Imitation,
    NEATConfig,
    PopulationModel,
    Recorder,
    record_demonstration,
)
from rosenblatt.evolution.envs import CartPole

GAINS = np.array([5.0, 5.0, 30.0, 5.0])  # on CartPole's scaled (x, x', th, th')


def keys(obs):
    """A scripted demonstrator that presses 'left' (0) or 'right' (1) like a person at the
    keys: a linear policy, bang-bang, that balances the single pole."""
    return (obs @ GAINS > 0).astype(float)[:, None]


def _demonstration():
    """Eight episodes of 40 decisions from scattered starts: 320 recorded decisions."""
    rng = np.random.default_rng(0)
    starts = np.zeros((8, 6))
    starts[:, 0] = rng.uniform(-1.0, 1.0, 8)
    starts[:, 1] = rng.uniform(-0.5, 0.5, 8)
    starts[:, 2] = rng.uniform(-0.1, 0.1, 8)
    starts[:, 3] = rng.uniform(-0.3, 0.3, 8)
    return record_demonstration(CartPole(poles=1), keys, population=8, starts=starts,
                                max_steps=40)


# -- the notes' claim: the network learns from the example -----------------------------------


def test_cne_evolved_only_on_agreement_with_a_demonstration_balances_the_pole():
    demo = _demonstration()
    assert (demo.steps, demo.n_inputs, demo.n_outputs) == (320, 4, 1)
    assert demo.info["scores"] == [40.0] * 8  # the demonstrator never dropped the pole
    long_trial = CartPole(poles=1, max_steps=1000)
    assert long_trial.evaluate(keys, population=1)[0] == 1000  # it can balance for long

    net = rb.nn.Sequential(rb.nn.Dense(4, 1, rng=0), rb.nn.Sigmoid()).astype(np.float64)
    before = long_trial.evaluate(PopulationModel(net, rb.nn.ParameterVector(
        net.parameters()).data[None].copy()))[0]
    imitation = Imitation(demo)
    cne = CNE(net, population=40, mutation_std=0.5, init_std=2.0, rng=0)
    result = cne.run(lambda thetas: imitation.evaluate(PopulationModel(net, thetas)), 40,
                     vectorized=True)
    # the fitness never ran the pole: only agreement with the 320 recorded decisions
    balanced = long_trial.evaluate(PopulationModel(net, result.best[None]))[0]
    assert before < 100 and balanced == 1000
    assert imitation(net) == pytest.approx(result.best_fitness)  # the model holds the best


def test_neat_scores_a_demonstration_per_genome_and_vectorised_alike():
    imitation = Imitation(_demonstration())
    neat = NEAT(4, 1, NEATConfig(population=12), rng=0)
    neat.run(imitation.evaluate, 2, vectorized=True)
    vector = imitation.evaluate(neat.population_network())
    per_genome = [imitation(g) for g in neat.population]
    np.testing.assert_allclose(vector, per_genome, rtol=1e-12)
    assert (vector <= 0).all() and (vector >= -1).all()


# -- recording ---------------------------------------------------------------------------------


class _Controller:
    """A policy object with step/reset/keep, as the population networks have."""

    def __init__(self):
        self.calls = []

    def reset(self, population):
        self.calls.append(("reset", population))

    def keep(self, mask):
        self.calls.append(("keep", np.asarray(mask).tolist()))

    def step(self, obs):
        return np.where(obs[:, 2] > 0, 1.0, 0.0)  # flat (P,) actions: one column recorded


def test_recorder_keeps_every_decision_and_passes_reset_and_keep_on():
    controller = _Controller()
    env = CartPole(poles=1, max_steps=30)
    starts = np.zeros((2, 6))
    starts[1, 2] = 0.3  # past 12 degrees at once: fails at the first decision
    demo = record_demonstration(env, controller, population=2, starts=starts)
    assert demo.info["scores"] == [30.0, 0.0]
    assert demo.steps == 2 + 29  # both carts' first decision, then the survivor's
    assert demo.actions.shape == (31, 1)
    assert controller.calls == [("reset", 2), ("keep", [True, False])]
    np.testing.assert_array_equal(demo.actions[:, 0], demo.observations[:, 2] > 0)


def test_recorder_errors():
    with pytest.raises(TypeError, match="Recorder: controller must be callable"):
        Recorder(3)
    with pytest.raises(ValueError, match="Recorder: nothing recorded yet"):
        Recorder(keys).demonstration()
    with pytest.raises(ValueError, match=r"actions \(P, a\), one row each; got \(2, 4\) -> "
                                         r"\(3, 1\)"):
        Recorder(lambda obs: np.zeros((3, 1))).step(np.zeros((2, 4)))
    with pytest.raises(TypeError, match="record_demonstration: env must have an evaluate"):
        record_demonstration(object(), keys)
    with pytest.raises(ValueError, match="record_demonstration: population must be a positive"):
        record_demonstration(CartPole(poles=1), keys, population=0)


# -- saving and loading -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["demo.json", "demo.npz"])
def test_save_and_load_round_trip_exactly(tmp_path, name):
    rng = np.random.default_rng(1)
    demo = Demonstration(rng.normal(size=(7, 3)), rng.random((7, 2)), {"task": "pole"})
    demo.save(tmp_path / name)
    back = Demonstration.load(tmp_path / name)
    np.testing.assert_array_equal(back.observations, demo.observations)
    np.testing.assert_array_equal(back.actions, demo.actions)
    assert back.info == {"task": "pole"}
    if name.endswith(".json"):
        assert json.loads((tmp_path / name).read_text())["format"] == "rosenblatt.demonstration"


def test_load_refuses_what_is_not_a_demonstration(tmp_path):
    (tmp_path / "genome.json").write_text(json.dumps({"format": "rosenblatt.genome"}))
    with pytest.raises(ValueError, match=r"genome.json: .*not a demonstration"):
        Demonstration.load(tmp_path / "genome.json")
    (tmp_path / "v2.json").write_text(json.dumps({"format": "rosenblatt.demonstration",
                                                  "version": 2}))
    with pytest.raises(ValueError, match="unsupported demonstration version 2"):
        Demonstration.load(tmp_path / "v2.json")
    (tmp_path / "short.json").write_text(json.dumps(
        {"format": "rosenblatt.demonstration", "version": 1, "observations": [[0.0]],
         "actions": [[1.0], [0.0]]}))
    with pytest.raises(ValueError, match="short.json: .*1 observations and 2 actions"):
        Demonstration.load(tmp_path / "short.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="neither JSON text nor .npz"):
        Demonstration.load(tmp_path / "bin.json")
    # an .npz holding an object array would need unpickling: refused, never unpickled
    np.savez(tmp_path / "evil.npz", format=np.array("rosenblatt.demonstration"),
             version=np.array(1), observations=np.array([[object()]], dtype=object),
             actions=np.zeros((1, 1)))
    with pytest.raises(ValueError, match="evil.npz: not a demonstration"):
        Demonstration.load(tmp_path / "evil.npz")


# -- bad recordings ---------------------------------------------------------------------------


@pytest.mark.parametrize("obs, actions, match", [
    (np.zeros((0, 4)), np.zeros((0, 1)), r"observations must be a non-empty .* got shape "
                                         r"\(0, 4\)"),
    (np.zeros(4), np.zeros((4, 1)), r"observations must be a non-empty .* got shape \(4,\)"),
    (np.zeros((3, 4)), np.zeros((2, 1)), "one action per observation: got 3 observations "
                                         "and 2 actions"),
    ([[0.0, np.nan], [1.0, 1.0]], [[0.0], [1.0]], r"observations must be finite; row 0 is "
                                                  r"\[0.0, nan\]"),
    ([[0.0], [1.0]], [[0.0], [np.inf]], "actions must be finite; row 1"),
    ([["left"]], [[0.0]], "observations must be a .* array of numbers"),
    ([[0.0], [1.0, 2.0]], [[0.0], [1.0]], "observations must be a .* array of numbers"),
])
def test_bad_recordings_are_refused(obs, actions, match):
    with pytest.raises(ValueError, match=match):
        Demonstration(obs, actions)


def test_bad_info_and_concatenation():
    with pytest.raises(ValueError, match="info must be JSON-able"):
        Demonstration([[0.0]], [[1.0]], {"when": object()})
    with pytest.raises(TypeError, match="info must be a dict"):
        Demonstration([[0.0]], [[1.0]], [1])
    a, b = Demonstration([[0.0]], [[1.0]]), Demonstration([[0.0, 1.0]], [[1.0]])
    with pytest.raises(ValueError, match="different .* widths"):
        Demonstration.concatenate([a, b])
    both = Demonstration.concatenate([a, Demonstration([[2.0]], [[0.0]], {"n": 2})])
    assert both.observations.tolist() == [[0.0], [2.0]] and both.info == {
        "parts": [{}, {"n": 2}]}


# -- the measures -----------------------------------------------------------------------------


def test_measures_hand_worked():
    demo = Demonstration([[0.0], [1.0], [2.0], [3.0]], [[0.0, 1.0], [1.0, 0.0], [1.0, 0.0],
                                                         [0.0, 1.0]])
    o = np.array([[0.2, 0.9], [0.6, 0.1], [0.4, 0.3], [0.0, np.nan]])
    # squared: NaN propagates (a failed evaluation for on_error)
    assert np.isnan(Imitation(demo).score(o))
    o[3, 1] = 1.0
    # (0.04 + 0.01 + 0.16 + 0.01 + 0.36 + 0.09 + 0 + 0) / 8
    assert Imitation(demo).score(o) == pytest.approx(-0.67 / 8)
    # agreement at 0.5: 7 of 8 outputs on the demonstrator's side ((2, 0) is not)
    assert Imitation(demo, "agreement").score(o) == 7 / 8
    assert Imitation(demo, "agreement", threshold=0.35).score(o) == 1.0
    # choice: the largest output names the demonstrator's choice at all 4 steps
    assert Imitation(demo, "choice").score(o) == 1.0
    o[2] = [np.nan, 0.0]  # a NaN output agrees with nothing
    assert Imitation(demo, "choice").score(o) == 3 / 4
    assert Imitation(demo, "agreement").score(o) == 7 / 8
    # a population at once
    assert Imitation(demo, "choice").score(np.stack([o, 1 - o])).tolist() == [0.75, 0.0]


def test_imitation_errors():
    demo = Demonstration(np.zeros((5, 4)), np.zeros((5, 1)))
    with pytest.raises(TypeError, match="Imitation: demonstration must be a Demonstration"):
        Imitation(np.zeros((5, 4)))
    with pytest.raises(ValueError, match="Imitation: measure must be"):
        Imitation(demo, "mse")
    with pytest.raises(ValueError, match=r"must have shape \(5, 1\) .* got \(5, 2\)"):
        Imitation(demo)(lambda X: np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"score a population with Imitation.evaluate"):
        Imitation(demo)(lambda X: np.zeros((3, 5, 1)))
    with pytest.raises(ValueError, match=r"Imitation.evaluate: .* got \(5, 1\)"):
        Imitation(demo).evaluate(lambda X: np.zeros((5, 1)))
    net = rb.nn.Sequential(rb.nn.Dense(3, 1))  # built for another task's observations
    with pytest.raises(ValueError):
        Imitation(demo)(net)
