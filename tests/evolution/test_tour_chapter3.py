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
                  "Connections develop during a lifetime", "plastic networks relearn",
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


def test_relearning_verdict_fails_with_the_rule_off():
    tasks = [rb.evolution.envs.TwoArmedBandit(trials=20, switch_at=a)
             for a in chapter3.EVOLVED_SWITCHES]
    net, theta = chapter3._evolve(None, 0, tasks, population=20, generations=10)
    after = np.mean([chapter3._rewards(net, theta, switch_at=a)[:, a:].mean()
                     for a in chapter3.TESTED_SWITCHES])
    assert after <= 0.55
    assert not chapter3._relearning_confirmed([after] * 3, [0.5] * 3)
    assert chapter3._relearning_confirmed([0.9, 0.55, 0.8], [0.5] * 3)  # a run may fail
    assert not chapter3._relearning_confirmed([0.9, 0.55, 0.6], [0.5] * 3)


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
