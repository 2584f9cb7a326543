"""Staging: the population really moves from task to task; bad thresholds are refused."""

import numpy as np
import pytest

import rosenblatt as rb


def _targets(*cs):
    return [lambda th, c=c: -np.abs(th - c).sum(axis=1) for c in cs]


def test_moves_on_through_every_task_with_cosyne():
    net = rb.nn.Dense(2, 1, rng=0).astype(np.float64)
    algo = rb.evolution.CoSyNE(net, population=16, rng=1)
    staged = rb.evolution.Staged(_targets(0.5, 1.5, 3.0), threshold=[-0.3, -0.3, -0.2])
    res = staged.run(algo, 300, vectorized=True)
    tasks = res.history["task"]
    assert res.stopped and staged.task == 2
    assert tasks[0] == 0 and tasks[-1] == 2 and sorted(set(tasks)) == [0, 1, 2]
    assert tasks == sorted(tasks)  # never goes back
    assert len(res.history["stages"]) == 3 and res.history["stages"] == sorted(
        res.history["stages"])
    # each task ended at the generation its threshold was reached
    best = np.array(res.history["best"])
    t = np.array(tasks)
    for i, thr in enumerate([-0.3, -0.3, -0.2]):
        assert best[t == i][-1] >= thr and (best[t == i][:-1] < thr).all()
    assert res.best_fitness >= -0.2 and len(best) == res.generations
    assert res.evaluations == 16 * res.generations


def test_staged_cosyne_on_longer_and_longer_pole_trials():
    env = [rb.evolution.envs.CartPole(poles=1, max_steps=n) for n in (50, 200, 1000)]
    net = rb.nn.Sequential(rb.nn.Dense(4, 1, rng=0), rb.nn.Sigmoid()).astype(np.float64)
    algo = rb.evolution.CoSyNE(net, population=20, mutation_scale=1.0, rng=0)
    tasks = [lambda th, e=e: e.evaluate(rb.evolution.PopulationModel(net, th)) for e in env]
    res = rb.evolution.Staged(tasks, threshold=[50, 200, 1000]).run(algo, 100, vectorized=True)
    assert res.stopped and res.history["task"][-1] == 2 and res.best_fitness == 1000


def test_budget_runs_out_on_a_hard_task():
    net = rb.nn.Dense(1, 1, rng=0).astype(np.float64)
    algo = rb.evolution.CoSyNE(net, population=8, rng=0)
    staged = rb.evolution.Staged(_targets(0.0, 1.0), threshold=[-1.0, 1.0])  # 2nd impossible
    res = staged.run(algo, 5, vectorized=True)
    assert not res.stopped and res.generations == 5 and staged.task == 1
    assert len(res.history["stages"]) == 1


def test_user_stop_ends_the_whole_run():
    net = rb.nn.Dense(1, 1, rng=0).astype(np.float64)
    algo = rb.evolution.CoSyNE(net, population=8, rng=0)
    calls = []
    res = rb.evolution.Staged(_targets(5.0, 6.0), threshold=10.0).run(
        algo, 50, vectorized=True, stop=lambda champion: calls.append(1) or len(calls) >= 3)
    assert res.stopped and res.generations == 3


def test_bad_input():
    with pytest.raises(ValueError, match=r"one value per task \(3\); got 2"):
        rb.evolution.Staged(_targets(1, 2, 3), threshold=[1.0, 2.0])
    with pytest.raises(ValueError, match="non-empty"):
        rb.evolution.Staged([], threshold=1.0)
    with pytest.raises(TypeError, match="task 1 must be callable"):
        rb.evolution.Staged([len, 3], threshold=1.0)
    with pytest.raises(TypeError, match="threshold must be a number"):
        rb.evolution.Staged([len], threshold=None)
    with pytest.raises(ValueError, match="NaN"):
        rb.evolution.Staged([len], threshold=float("nan"))
    with pytest.raises(ValueError, match="generations"):
        rb.evolution.Staged([len], threshold=1.0).run(object(), 0)
    with pytest.raises(TypeError, match="run method"):
        rb.evolution.Staged([len], threshold=1.0).run(object(), 3)


@pytest.mark.parametrize("threshold", [0.5, np.float64(0.5), np.float32(0.5), np.array(0.5),
                                       np.array([0.5])[0]])
def test_a_numpy_scalar_threshold_is_one_number_for_every_task(threshold):
    assert rb.evolution.Staged(_targets(1, 2), threshold=threshold).threshold == [0.5, 0.5]


def test_numpy_integer_and_per_task_array_thresholds():
    assert rb.evolution.Staged(_targets(1, 2), threshold=np.int64(900)).threshold == [900.0,
                                                                                      900.0]
    staged = rb.evolution.Staged(_targets(1, 2), threshold=np.array([1, 2], np.float32))
    assert staged.threshold == [1.0, 2.0]
    for bad in ("0.5", b"1", True, np.bool_(True), [0.5, "x"]):
        with pytest.raises(TypeError, match="Staged: threshold must be a number or one number "
                                            "per task; got"):
            rb.evolution.Staged(_targets(1, 2), threshold=bad)


def test_staged_cosyne_through_a_growing_second_pole():
    # the notes' incremental evolution: the short pole grows from a tenth of the long one's
    # length (the standard double pole) to 0.4 of it, each task a harder double pole
    ratios, steps = (0.1, 0.25, 0.4), 300
    envs = [rb.evolution.envs.CartPole(poles=2, max_steps=steps, half_lengths=(0.5, 0.5 * r))
            for r in ratios]
    net = rb.nn.Sequential(rb.nn.Dense(6, 1, rng=1), rb.nn.Sigmoid()).astype(np.float64)
    tasks = [lambda X, e=e: e.evaluate(rb.evolution.PopulationModel(net, X)) for e in envs]
    algo = rb.evolution.CoSyNE(net, population=20, rng=1)
    res = rb.evolution.Staged(tasks, threshold=steps).run(algo, 60, vectorized=True)
    assert res.stopped and res.history["task"][-1] == 2
    assert len(res.history["stages"]) == 3 and res.best_fitness == steps
    # the champion left in the model balances the longest short pole
    assert envs[2].evaluate(rb.evolution.PopulationModel(net, res.best[None]))[0] == steps


def test_staged_neat_reports_the_champion_of_the_last_task():
    # the second task's fitnesses lie 1,000 below the first's: its champion must be its own,
    # not the first task's (NEAT once kept its best genome across runs; no elites here, so
    # the first task's champion is not re-scored on the second)
    xor = rb.evolution.envs.xor_fitness
    tasks = [lambda g: 100.0 * xor(g), lambda g: xor(g) - 1000.0]
    cfg = rb.evolution.NEATConfig(population=30, elitism_min_size=1000)
    neat = rb.evolution.NEAT(2, 1, cfg, rng=0)
    res = rb.evolution.Staged(tasks, threshold=[0.0, 1e9]).run(neat, 6)
    t = np.array(res.history["task"])
    assert t[0] == 0 and t[-1] == 1
    assert res.best_fitness == max(np.array(res.history["best"])[t == 1]) < -990
    neat2 = rb.evolution.NEAT(2, 1, cfg, rng=0)
    neat2.run(tasks[0], 2)
    second = neat2.run(tasks[1], 2)
    assert second.best_fitness == max(second.history["best"]) < -990
    assert second.best.fitness == second.best_fitness


def test_a_callback_that_stops_ends_the_whole_run():
    calls = []

    def cb(state):  # asks to stop after the first generation
        calls.append(state["generation"])
        return True

    net = rb.nn.Dense(1, 1, rng=0).astype(np.float64)
    # every threshold passed at once: the callback's stop must still end the run
    res = rb.evolution.Staged(_targets(0.5, 1.0, 2.0), threshold=-100.0).run(
        rb.evolution.CNE(net, population=8, rng=0), 50, callbacks=[cb], vectorized=True)
    assert res.generations == 1 and res.history["task"] == [0] and res.stopped
    assert calls == [0]
    # a threshold never reached: stopped, as a plain CNE.run with the same callback
    plain = rb.evolution.CNE(net, population=8, rng=0).run(_targets(0.5)[0], 50, callbacks=cb,
                                                           vectorized=True)
    res = rb.evolution.Staged(_targets(0.5, 1.0), threshold=1.0).run(
        rb.evolution.CNE(net, population=8, rng=0), 50, callbacks=cb, vectorized=True)
    assert res.generations == plain.generations == 1 and res.stopped and plain.stopped
    assert res.history["stages"] == []


@pytest.mark.slow  # about 4 s: the direct run spends its whole budget
def test_staging_beats_direct_evolution_on_the_longest_pole():
    # the direct baseline the notes' claim is about: the same CoSyNE population and budget
    # started on the hardest task (short pole 0.4 of the long) does not solve it, where the
    # staged one, moved through 0.1 and 0.25 first, does (seed 2: at generation 51)
    ratios, steps = (0.1, 0.25, 0.4), 300

    def evolve(tasks_ratios):
        net = rb.nn.Sequential(rb.nn.Dense(6, 1, rng=2), rb.nn.Sigmoid()).astype(np.float64)
        envs = [rb.evolution.envs.CartPole(poles=2, max_steps=steps,
                                           half_lengths=(0.5, 0.5 * r)) for r in tasks_ratios]
        tasks = [lambda X, e=e: e.evaluate(rb.evolution.PopulationModel(net, X)) for e in envs]
        algo = rb.evolution.CoSyNE(net, population=20, rng=2)
        return rb.evolution.Staged(tasks, threshold=steps).run(algo, 60, vectorized=True)

    staged, direct = evolve(ratios), evolve(ratios[-1:])
    assert staged.stopped and staged.best_fitness == steps
    assert not direct.stopped and direct.best_fitness < steps


def test_staging_claim_fails_when_nothing_is_solved(monkeypatch):
    # the tour's verdict once passed with staged 0 of 1 and direct 0 of 1 (0 >= 0, and a
    # direct failure counted as "staged at least as fast"); here every run gets one
    # generation, so nothing is solved and the claim must not be confirmed
    from rosenblatt.tour.chapters import neuroevolution2
    from rosenblatt.tour.context import Context

    real = rb.evolution.Staged

    class OneGeneration(real):
        def run(self, algorithm, generations, *args, **kwargs):
            return super().run(algorithm, 1, *args, **kwargs)

    monkeypatch.setattr(rb.evolution, "Staged", OneGeneration)
    ctx = Context(quick=True, rng=np.random.default_rng(0), log=__import__("io").StringIO())
    neuroevolution2._staging(ctx)
    (claim,) = ctx.claims
    assert claim.text.startswith("Staging") and not claim.passed
    assert "staged: 0 of 3" in claim.detail


@pytest.mark.parametrize("staged, direct, wins", [
    ([None], [None], False),            # nothing solved confirms nothing
    ([40], [40], False),                # as often, not sooner
    ([40, None], [None, 30], False),    # as often, later
    ([None, 50, None], [45, None, None], False),  # as often; the median run fails in both
    ([39, 51, None], [45, None, None], True),  # more often
    ([30], [45], True),                 # as often, sooner
    ([30, None], [None, None], True),
    ([None, None], [30, None], False),  # less often
])
def test_staging_verdict(staged, direct, wins):
    from rosenblatt.tour.chapters.neuroevolution2 import _staging_wins

    assert _staging_wins(staged, direct) is wins
