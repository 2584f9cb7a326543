"""The third neuroevolution chapter runs in quick mode and confirms every claim; each of its
verdicts fails once the cause is removed (shuffled keys, the plastic rule off, no development,
a chooser choosing at random)."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.tour.chapters import neuroevolution3 as chapter3


@pytest.mark.slow
def test_neuroevolution3_chapter_confirms_every_claim(tmp_path, quick_chapter):
    pytest.importorskip("matplotlib")
    result = quick_chapter("neuroevolution3", tmp_path)  # fails on an error or a failed claim
    texts = [c.text for c in result.claims]
    for words in ("agree with a demonstration", "plastic networks collect far more",
                  "Connections develop during a lifetime", "plastic networks can relearn",
                  "steers the images"):
        assert any(words in t for t in texts), words
    assert sum(b.kind == "figure" for b in result.blocks) >= 4
    assert sum(b.kind == "table" for b in result.blocks) >= 4


# -- learning from a demonstration ------------------------------------------------------------

def test_imitation_verdict_needs_the_demonstrators_keys():
    steps = 1000
    learned = [chapter3._imitate(seed, steps) for seed in range(3)]
    shuffled = [chapter3._imitate(seed, steps, shuffle=True) for seed in range(3)]
    assert chapter3._imitation_confirmed([r["start"] for r in learned],
                                         [r["champion"] for r in learned], steps)
    # the same observations with the keys permuted: nothing to learn, nothing balances
    assert not chapter3._imitation_confirmed([r["start"] for r in shuffled],
                                             [r["champion"] for r in shuffled], steps)
    # the fitness never ran the pole: the recording alone told the network what to do
    assert [r["start"].tolist() for r in learned] == [r["start"].tolist() for r in shuffled]


def test_imitation_verdict_by_hand():
    early, late = np.full(40, 12.0), np.full(40, 150.0)
    assert chapter3._imitation_confirmed([early] * 5, [1000, 1000, 1000, 1000, 300], 1000)
    assert not chapter3._imitation_confirmed([early] * 5, [1000, 1000, 1000, 300, 300], 1000)
    assert not chapter3._imitation_confirmed([early] * 4 + [late], [1000] * 5, 1000)


# -- developmental networks --------------------------------------------------------------------

def test_plastic_verdict_fails_with_the_rule_off():
    task = rb.evolution.envs.TwoArmedBandit(trials=20)
    plastic, off, fixed = [], [], []
    for seed in range(2):
        for rule, into in (("connection", plastic), (None, off)):
            net, theta = chapter3._evolve(rule, seed, task)
            into.append(chapter3._rewards(net, theta).mean())
        fixed.append(off[-1])  # the fixed network of the run: rule=None, the same seed
    assert chapter3._plastic_confirmed(plastic, fixed)
    assert off == [0.5, 0.5]  # no network without development beats a guess
    assert not chapter3._plastic_confirmed(off, fixed)


def test_growth_verdict_fails_without_development():
    task = rb.evolution.envs.TwoArmedBandit(trials=20)
    net, theta = chapter3._evolve("connection", 0, task, initial_weights="zero")

    def lifetime(theta):
        watched = chapter3._Watched(net.population(np.repeat(theta[None], 2, axis=0)))
        start = int(watched.population.expressed().max())
        rewards = task.lifetime(watched, np.array([-1, 1]))
        return start, int(watched.expressed[-1].min()), rewards.mean()

    assert chapter3._growth_confirmed(*zip(lifetime(theta)))
    genome = net.genome(theta)
    for layer in genome.layers:
        layer["eta"][...] = 0.0  # the rules switched off: the weights stay at 0
    start, end, reward = lifetime(genome.theta())
    assert (start, end) == (0, 0) and reward <= 0.5
    assert not chapter3._growth_confirmed([start], [end], [reward])


def _after(net, theta):
    return chapter3._after_switch({a: chapter3._rewards(net, theta, switch_at=a)
                                   for a in chapter3.TESTED_SWITCHES})


def test_relearning_verdict_fails_with_the_rule_off():
    tasks = [rb.evolution.envs.TwoArmedBandit(trials=20, switch_at=a)
             for a in chapter3.EVOLVED_SWITCHES]
    net, theta = chapter3._evolve(None, 0, tasks, population=20, generations=10)
    best, relearner = chapter3._best_fixed_after(), chapter3._relearner_after()
    assert _after(net, theta) <= best < relearner
    assert not chapter3._relearning_confirmed([_after(net, theta)] * 3, best, relearner)


def test_relearning_verdict_fails_for_the_best_fixed_network():
    # a fixed network (rule=None, nothing learned) choosing left after a loss, right after a
    # win: 0.777 after the switch, far above one half, the floor the verdict once used
    net = rb.evolution.DevelopmentalNetwork(chapter3.SHAPE, rule=None)
    genome = net.genome(np.zeros(net.num_genes))
    genome.layers[0]["weight"][0] = [3.0, -1.5]  # hidden 0: -0.9 after a loss, +0.9 a win
    genome.layers[1]["weight"][0] = [1.0, 0.0, 0.0, 0.0]
    after = _after(net, genome.theta())
    best, relearner = chapter3._best_fixed_after(), chapter3._relearner_after()
    assert after == pytest.approx(best) and best == pytest.approx(0.7775, abs=1e-4)
    assert not chapter3._relearning_confirmed([after] * 5, best, relearner)


def test_best_fixed_policy_bounds_every_fixed_network(rng):
    net = rb.evolution.DevelopmentalNetwork(chapter3.SHAPE, rule=None)
    thetas = rng.normal(scale=3.0, size=(300, net.num_genes))
    best = chapter3._best_fixed_after()
    values = [_after(net, t) for t in thetas]
    assert max(values) <= best + 1e-12
    assert max(values) == pytest.approx(best)  # and it is reached: the bound is exact


def test_relearner_by_hand():
    # switch after 7: loses 1 of 13 choices; after 13: 1 of 7
    assert chapter3._relearner_after((7, 13)) == pytest.approx((12 / 13 + 6 / 7) / 2)

    class Relearner:  # win-stay, lose-shift, with the memory a fixed network lacks
        size = 2

        def reset(self, population=None):
            self.arm = np.ones(2)

        def step(self, obs):
            self.arm = np.where(obs[:, 0] > 0, self.arm, -self.arm)
            return self.arm[:, None]

    rewards = {a: rb.evolution.envs.TwoArmedBandit(trials=20, switch_at=a).lifetime(
        Relearner(), np.array([-1, 1])) for a in (7, 13)}
    assert chapter3._after_switch(rewards) == pytest.approx(chapter3._relearner_after((7, 13)))


def test_relearning_verdict_by_hand():
    best, relearner = chapter3._best_fixed_after(), chapter3._relearner_after()
    # some run relearns (a relearner's reward or more, above every fixed network's)
    assert chapter3._relearning_confirmed([0.6, 0.8, relearner], best, relearner)
    assert chapter3._relearning_confirmed([0.9451, 0.5], best, relearner)
    assert chapter3._relearning_confirmed([0.8901, 0.9, 0.8709], best, relearner)
    assert not chapter3._relearning_confirmed([0.8709, 0.88, 0.7775], best, relearner)
    with pytest.raises(ValueError, match="more than the best fixed policy"):
        chapter3._relearning_confirmed([0.9], relearner, best)


# -- interactive evolution ---------------------------------------------------------------------

def test_interactive_verdict_fails_with_a_chooser_choosing_at_random():
    width, generations = 32, 30
    target = chapter3._target(width)
    unselected = [chapter3._distance(im, target) for im in rb.evolution.Interactive(
        population=200, width=width, height=width, rng=900).images()]
    steered = [chapter3._session(seed, width, generations)[0][-1] for seed in range(2)]
    at_random = [chapter3._session(seed, width, generations, chooser="random")[0][-1]
                 for seed in range(2)]
    assert chapter3._interactive_confirmed(steered, unselected)
    assert not chapter3._interactive_confirmed(at_random, unselected)


def test_distance_to_the_target_by_hand():
    target = chapter3._target(8)
    assert set(np.unique(target)) == {0.0, 255.0}
    assert chapter3._distance(target, target) == 0.0
    assert chapter3._distance(np.full((8, 8), 127.5), target) == 0.5  # flat grey: 1/2
    assert chapter3._distance(255 - target, target) == 1.0
