"""Cascading elitism: hand-worked cascades, each function's elite survives in CNE and NEAT."""

import re

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution.cascading import (
    cascade,
    cascade_sizes,
    cascading_elites,
    function_champions,
)


def test_cascade_by_hand():
    # 6 individuals, 2 functions; event 1 keeps 4 on f1, event 2 keeps 2 of those on f2
    F = np.array([[6., 0.], [5., 1.], [4., 5.], [3., 4.], [2., 9.], [1., 8.]])
    s = cascade(F, [4, 2])
    # 4 and 5 are dropped by f1 (despite being the best on f2); of 0..3, f2 keeps 2 and 3
    assert set(np.argsort(-s)[:2].tolist()) == {2, 3}
    assert s[2] > s[3] > s[1] > s[0] > s[4] > s[5]
    np.testing.assert_allclose(s, [1 + 0 / 4, 1 + 1 / 4, 2 + 3 / 4, 2 + 2 / 4, 1 / 6, 0.0])
    assert function_champions(F).tolist() == [0, 4]


def test_cascade_refuses_bad_sizes_and_shapes():
    F = np.array([[4., 0.], [3., 9.], [2., 8.], [1., 7.]])
    assert cascade(F, np.array([3, 1])).tolist() == cascade(F, [3, 1]).tolist()
    assert cascade(F, [0, 0]).tolist() == [0.75, 0.5, 0.25, 0.0]  # nobody survives event 1
    for sizes, got in (([-1, 1], "-1"), ([2.7, 1], "2.7"), ([float("nan"), 1], "nan"),
                       ([2, "1"], "'1'"), ([True, 1], "True")):
        with pytest.raises(ValueError, match=r"cascade: sizes\[\d\] must be a non-negative "
                                             r"integer; got " + re.escape(got)):
            cascade(F, sizes)
    with pytest.raises(ValueError, match=r"cascade: F must be a \(P, k\) fitness matrix; got "
                                         r"shape \(4,\)"):
        cascade(F[:, 0], [2])


def test_cascade_sizes_shrink_to_the_elite():
    assert cascade_sizes(50, 2, 10).tolist() == [30, 10]
    assert cascade_sizes(10, 4, 3).tolist()[-1] == 3


def test_elite_holds_every_functions_champion():
    F = np.array([[6., 0.], [5., 1.], [4., 5.], [3., 4.], [2., 9.], [1., 8.]])
    elite, _ = cascading_elites(F, 3)
    assert 0 in elite and 4 in elite and elite.size == 3
    assert elite.tolist()[:2] == [0, 4]


def _net():
    return rb.nn.Sequential(rb.nn.Dense(2, 1, rng=0)).astype(np.float64)


def test_cne_cascading_keeps_each_functions_elite():
    net = _net()
    cne = rb.evolution.CNE(net, population=20, selection="cascading", elite=0.1, rng=0)

    def two(thetas):  # opposite wishes: weight 0 large, or weight 1 large
        return np.stack([thetas[:, 0], thetas[:, 1]], axis=1)

    before = cne.thetas.copy()
    F = two(before)
    champs = [before[np.argmax(F[:, 0])], before[np.argmax(F[:, 1])]]
    cne.step(two, vectorized=True)
    for c in champs:
        assert any(np.array_equal(c, row) for row in cne.thetas[:2])
    res = cne.run(two, 10, vectorized=True)
    assert len(res.history["objectives"]) == 10 and len(res.history["objectives"][0]) == 2
    # both objectives improved under equal selection pressure
    assert res.history["objectives"][-1][0] > F[:, 0].max()
    assert res.history["objectives"][-1][1] > F[:, 1].max()


def test_cne_cascading_per_individual_matches_vectorised():
    net = _net()

    def one(model):
        w = model[0].W.data.ravel()
        return [float(w[0]), float(w[1])]

    a = rb.evolution.CNE(_net(), population=12, selection="cascading", rng=3)
    b = rb.evolution.CNE(net, population=12, selection="cascading", rng=3)
    ra = a.run(lambda th: th[:, :2], 3, vectorized=True)
    rb_ = b.run(one, 3)
    np.testing.assert_allclose(ra.history["objectives"], rb_.history["objectives"])


def test_neat_cascading_keeps_each_functions_champion():
    xor = rb.evolution.envs.XOR()
    cfg = rb.evolution.NEATConfig(population=30)
    neat = rb.evolution.NEAT(2, 1, config=cfg, rng=0, selection="cascading")

    def two(genome):  # XOR fitness, and fewer connections
        return [xor(genome), -float(genome.n_enabled)]

    for _ in range(3):
        pop = list(neat.population)
        F = neat.evaluate(two)
        champs = [pop[int(np.argmax(F[:, j]))] for j in range(2)]
        neat.tell(F)
        for c in champs:  # unchanged, as a copy (the champion keeps the fitness it had)
            assert any(c.id == g.id and c.nodes == g.nodes and c.connections == g.connections
                       and g is not c for g in neat.population)
    res = neat.run(two, 3)
    assert res.generations == 3 and len(res.history["objectives"][-1]) == 2


def test_cascading_bad_fitness():
    net = _net()
    cne = rb.evolution.CNE(net, population=10, selection="cascading", rng=0)
    with pytest.raises(ValueError, match=r"shape \(10, k\)"):
        cne.step(lambda th: np.zeros((3, 2)), vectorized=True)
    with pytest.raises(rb.evolution.FitnessError, match="individual 0"):
        cne.step(lambda th: np.full((10, 2), np.nan), vectorized=True)
    with pytest.raises(ValueError, match="one per fitness function"):
        calls = iter(range(100))
        cne.step(lambda m: [1.0] * (1 + next(calls) % 2))
    res = cne.run(lambda th: np.full((10, 2), np.nan), 2, vectorized=True, on_error="worst")
    assert res.generations == 2
    with pytest.raises(ValueError, match="selection"):
        rb.evolution.NEAT(2, 1, selection="pareto")


def test_cascading_errors_name_the_genome_id():
    from rosenblatt.evolution.cascading import check_objectives, evaluate_objectives

    F = np.ones((4, 2))
    F[3, 0] = np.nan
    with pytest.raises(rb.evolution.FitnessError, match="individual 41: fitness returned"):
        check_objectives(F, 4, "NEAT", ids=[7, 9, 12, 41])
    with pytest.raises(rb.evolution.FitnessError, match="individual 43: ValueError"):
        evaluate_objectives(lambda x: [1.0, 2.0] if x != 2 else int("no"), [0, 1, 2],
                            owner="NEAT", ids=[40, 41, 43])


def test_cascading_checks_repeats_and_on_error():
    from rosenblatt.evolution.cascading import (
        check_objectives,
        evaluate_objectives,
        vector_objectives,
    )

    def two(x):
        return [1.0, 2.0]

    with pytest.raises(ValueError, match="repeats must be a positive integer; got 0"):
        evaluate_objectives(two, [0, 1], repeats=0, owner="NEAT")
    with pytest.raises(ValueError, match="on_error must be 'raise', 'stop' or 'worst'"):
        evaluate_objectives(two, [0, 1], on_error="bogus", owner="NEAT")
    with pytest.raises(ValueError, match="on_error must be"):
        check_objectives(np.ones((2, 2)), 2, "NEAT", on_error="bogus")

    def many(thetas):
        return np.ones((len(thetas), 2))

    with pytest.raises(ValueError, match="NEAT: repeats must be a positive integer; got 0"):
        vector_objectives(many, np.zeros((3, 1)), [0, 1, 2], repeats=0, owner="NEAT")
    with pytest.raises(ValueError, match="cannot use an executor"):
        vector_objectives(many, np.zeros((3, 1)), [0, 1, 2], executor=object(), owner="NEAT")
    F = vector_objectives(lambda t: np.stack([t[:, 0], -t[:, 0]], 1), np.arange(3.0)[:, None],
                          [5, 6, 7], repeats=2, owner="NEAT")
    np.testing.assert_array_equal(F, [[0, 0], [1, -1], [2, -2]])
