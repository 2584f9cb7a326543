"""CoSyNE: the permutation keeps every subpopulation a permutation of itself, the marking
probability is the paper's, crossover and the generation by hand, pole balancing, errors."""

import concurrent.futures

import numpy as np
import pytest
from hypothesis import given, strategies as st

import rosenblatt as rb
from rosenblatt.evolution.cosyne import (
    marking_probability,
    multipoint_crossover,
    permute_subpopulations,
)


@given(m=st.integers(1, 12), n=st.integers(1, 6), seed=st.integers(0, 2**31 - 1),
       p=st.floats(0.0, 1.0))
def test_permutation_keeps_each_subpopulation_a_permutation_of_itself(m, n, seed, p):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n))
    marked = rng.random((m, n)) < p
    Y = permute_subpopulations(X, marked, rng)
    for j in range(n):
        np.testing.assert_array_equal(np.sort(Y[:, j]), np.sort(X[:, j]))  # same multiset
        np.testing.assert_array_equal(Y[~marked[:, j], j], X[~marked[:, j], j])  # unmarked stay
        # marked values only move among marked rows
        np.testing.assert_array_equal(np.sort(Y[marked[:, j], j]), np.sort(X[marked[:, j], j]))


def test_permutation_actually_shuffles():
    rng = np.random.default_rng(0)
    X = np.arange(200.0).reshape(100, 2)
    Y = permute_subpopulations(X, np.ones_like(X, dtype=bool), rng)
    assert (Y != X).mean() > 0.9
    assert not np.array_equal(Y[:, 0] - X[:, 0], Y[:, 1] - X[:, 1])  # columns independently


def test_marking_probability_is_the_papers_nth_root():
    f = np.array([2.0, 10.0, 4.0, -np.inf, 6.0])
    n = 3
    expect = 1 - ((np.array([2.0, 10.0, 4.0, 2.0, 6.0]) - 2.0) / 8.0) ** (1 / 3)
    np.testing.assert_allclose(marking_probability(f, n), expect)
    assert marking_probability(f, n)[1] == 0.0  # the champion is never moved
    assert marking_probability(f, n)[0] == 1.0  # the worst always
    np.testing.assert_array_equal(marking_probability(np.ones(4), 5), np.ones(4))


def test_multipoint_crossover_children_are_complementary():
    rng = np.random.default_rng(1)
    a, b = np.zeros((6, 9)), np.ones((6, 9))
    kids = multipoint_crossover(a, b, 2, rng)
    assert kids.shape == (12, 9)
    np.testing.assert_array_equal(kids[:6] + kids[6:], np.ones((6, 9)))
    assert (kids[:6, 0] == 0).all()  # the first child starts with parent a
    changes = np.abs(np.diff(kids[:6], axis=1)).sum(axis=1)
    assert (changes <= 2).all() and changes.max() > 0


def test_one_generation_by_hand():
    net = rb.nn.Dense(3, 2, rng=0).astype(np.float64)  # 8 weights
    cos = rb.evolution.CoSyNE(net, population=12, offspring=0.25, mutation_rate=0.3, rng=4)
    X0 = cos.X.copy()
    fitness = X0.sum(axis=1)
    f, champion = cos.step(lambda X: X.sum(axis=1), vectorized=True)
    np.testing.assert_array_equal(f, fitness)
    order = np.argsort(-fitness, kind="stable")
    np.testing.assert_array_equal(champion, X0[order[0]])
    survivors = 12 - cos.n_offspring
    assert cos.n_offspring == 4
    # the champion row is untouched; each column of the survivors is a permutation of the
    # survivors' weights in that subpopulation
    np.testing.assert_array_equal(cos.X[0], X0[order[0]])
    for j in range(8):
        np.testing.assert_array_equal(np.sort(cos.X[:survivors, j]),
                                      np.sort(X0[order[:survivors], j]))
    # the worst rows were replaced by children of the top quarter (+ sparse Cauchy noise)
    parents = X0[order[:cos.n_parents]]
    kids = cos.X[survivors:]
    from_parents = np.isin(kids, parents).mean()
    assert 0.4 < from_parents < 1.0


def test_permutation_none_and_all():
    net = rb.nn.Dense(3, 2, rng=0).astype(np.float64)
    none = rb.evolution.CoSyNE(net, population=8, offspring=0.25, permutation=None, rng=0)
    X0 = none.X.copy()
    none.step(lambda X: X.sum(axis=1), vectorized=True)
    order = np.argsort(-X0.sum(axis=1), kind="stable")
    np.testing.assert_array_equal(none.X[:6], X0[order[:6]])  # a plain GA keeps its rows
    net = rb.nn.Dense(20, 2, rng=0).astype(np.float64)
    every = rb.evolution.CoSyNE(net, population=40, offspring=0.25, permutation="all", rng=0)
    X0 = every.X.copy()
    every.step(lambda X: X.sum(axis=1), vectorized=True)
    order = np.argsort(-X0.sum(axis=1), kind="stable")
    moved = every.X[:30] != X0[order[:30]]
    assert moved.mean() > 0.9  # every evaluated weight was shuffled within its column
    np.testing.assert_array_equal(np.sort(every.X[:30], axis=0), np.sort(X0[order[:30]], axis=0))


def test_cosyne_balances_a_pole():
    """The paper's double-pole figures are measured by benchmarks/cosyne_claims.py; here
    one pole for 1,000 steps within a small budget."""
    env = rb.evolution.envs.CartPole(poles=1, max_steps=1000)
    net = rb.nn.Sequential(rb.nn.Dense(4, 1, rng=0), rb.nn.Sigmoid()).astype(np.float64)
    cos = rb.evolution.CoSyNE(net, population=20, mutation_scale=1.0, rng=0)
    res = cos.run(lambda X: env.evaluate(rb.evolution.PopulationModel(net, X)), 50,
                  vectorized=True, callbacks=[lambda s: s["fitness"] >= 1000])
    assert res.stopped and res.best_fitness == 1000 and res.evaluations <= 1000
    assert env.evaluate(rb.evolution.PopulationModel(net, res.best[None]))[0] == 1000


def test_cosyne_double_pole_with_velocities_small():
    env = rb.evolution.envs.CartPole(poles=2, max_steps=1000)
    net = rb.nn.Sequential(rb.nn.Dense(6, 1, rng=3), rb.nn.Sigmoid()).astype(np.float64)
    cos = rb.evolution.CoSyNE(net, population=40, mutation_scale=1.0, rng=3)
    res = cos.run(lambda X: env.evaluate(rb.evolution.PopulationModel(net, X)), 60,
                  vectorized=True, callbacks=[lambda s: s["fitness"] >= 1000])
    assert res.best_fitness == 1000


def test_cosyne_double_pole_without_velocities_small():
    """Non-Markov: the paper's fully recurrent network (3 neurons, the output feeding back) and
    Gruau's damping fitness; 300 steps here (benchmarks/cosyne_claims.py: the 100,000-step
    and generalisation tests over 10 seeds)."""
    from rosenblatt.evolution.recurrent import RecurrentPopulationModel

    env = rb.evolution.envs.CartPole(poles=2, velocities=False, max_steps=300, fitness="gruau")
    steps = rb.evolution.envs.CartPole(poles=2, velocities=False, max_steps=300)
    net = rb.nn.Sequential(rb.nn.RNN(3, 3, rng=0)).astype(np.float64)
    cos = rb.evolution.CoSyNE(net, population=20, mutation_scale=1.0, init_std=1.0, rng=0)
    res = cos.run(lambda X: env.evaluate(RecurrentPopulationModel(net, X, outputs=1)), 60,
                  vectorized=True,
                  stop=lambda c: steps.evaluate(RecurrentPopulationModel(net, c[None],
                                                                         outputs=1))[0] == 300)
    assert res.stopped and res.evaluations <= 1000
    assert steps.evaluate(RecurrentPopulationModel(net, res.best[None], outputs=1))[0] == 300


def test_mutation_cut_redraws_large_noise():
    """Cut noise stays within the cut and inside it keeps its shape: for a Cauchy of scale s
    cut at c, P(|u| <= x) = atan(x/s) / atan(c/s)."""
    net = rb.nn.Dense(4, 1, rng=0).astype(np.float64)
    cos = rb.evolution.CoSyNE(net, population=8, mutation_cut=2.0, rng=0)
    u = cos._noise((40_000, 2), 0.5)
    assert np.abs(u).max() <= 2.0
    for x in (0.25, 0.5, 1.0):
        expect = np.arctan(x / 0.5) / np.arctan(2.0 / 0.5)
        assert abs((np.abs(u) <= x).mean() - expect) < 0.01
    gauss = rb.evolution.CoSyNE(net, population=8, mutation="gaussian", mutation_cut=0.5, rng=0)
    assert np.abs(gauss._noise((1000, 3), 1.0)).max() <= 0.5
    # the first population and the children's mutations are cut as well
    wide = rb.evolution.CoSyNE(net, population=40, init_std=3.0, mutation_scale=3.0,
                               mutation_cut=1.0, rng=1)
    assert np.abs(wide.X - wide.X[0]).max() <= 1.0
    uncut = rb.evolution.CoSyNE(net, population=40, init_std=3.0, rng=1)
    assert np.abs(uncut.X - uncut.X[0]).max() > 1.0


def test_init_range_draws_the_first_population_uniformly():
    net = rb.nn.Dense(4, 2, rng=0).astype(np.float64)
    cos = rb.evolution.CoSyNE(net, population=400, init_range=10.0, rng=0)
    assert np.abs(cos.X).max() <= 10.0 and np.abs(cos.X).max() > 9.5
    assert abs(cos.X.mean()) < 0.5 and abs(cos.X.std() - 10 / np.sqrt(3)) < 0.2


def test_burst_mutation_after_stagnation():
    """A flat fitness stagnates: after ``stagnation`` generations without a better best,
    the population is refilled around the best network (kept as row 0), once per
    stagnation period."""
    net = rb.nn.Dense(3, 1, rng=0).astype(np.float64)
    cos = rb.evolution.CoSyNE(net, population=8, stagnation=3, burst_scale=0.01,
                              mutation_cut=0.05, rng=0)
    bursts = []
    for _ in range(9):
        cos.step(lambda X: np.zeros(len(X)), vectorized=True)
        if cos.bursts > (bursts or [0])[-1]:  # just burst: the next population
            np.testing.assert_array_equal(cos.X[0], cos.best_theta)
            assert 0 < np.abs(cos.X[1:] - cos.best_theta).max() <= 0.05
        bursts.append(cos.bursts)
    # generation 1 sets the record; 2, 3, 4 find nothing better: burst after 4, then after 8
    assert bursts == [0, 0, 0, 1, 1, 1, 1, 2, 2]
    # a new run (another fitness, e.g. the next task of Staged) counts afresh
    cos.run(lambda X: np.full(len(X), -1.0), 3, vectorized=True)
    assert cos.bursts == 2 and cos.best_fitness == -1.0
    # a fitness that keeps improving never stagnates
    rising = rb.evolution.CoSyNE(net, population=8, stagnation=2, rng=0)
    for g in range(6):
        rising.step(lambda X, g=g: np.full(len(X), float(g)), vectorized=True)
    assert rising.bursts == 0
    # without ``stagnation`` (the default) there is never a burst
    plain = rb.evolution.CoSyNE(net, population=8, rng=0)
    for _ in range(6):
        plain.step(lambda X: np.zeros(len(X)), vectorized=True)
    assert plain.bursts == 0


def _sphere(model):
    return -float(sum((p.data ** 2).sum() for p in model.parameters()))


def test_per_individual_executor_and_vectorised_agree():
    def net():
        return rb.nn.Dense(2, 2, rng=1).astype(np.float64)

    vec = rb.evolution.CoSyNE(net(), population=8, rng=3).run(
        lambda X: -(X ** 2).sum(axis=1), 3, vectorized=True)
    serial = rb.evolution.CoSyNE(net(), population=8, rng=3).run(_sphere, 3)
    with concurrent.futures.ProcessPoolExecutor(2) as ex:
        parallel = rb.evolution.CoSyNE(net(), population=8, rng=3).run(_sphere, 3, executor=ex)
    assert serial.history == parallel.history
    np.testing.assert_allclose(vec.history["best"], serial.history["best"], rtol=1e-12)
    np.testing.assert_array_equal(serial.best, parallel.best)


def test_seed_reproducible_and_best_written_to_model():
    runs = []
    for _ in range(2):
        net = rb.nn.Dense(2, 1, rng=0).astype(np.float64)
        res = rb.evolution.CoSyNE(net, population=8, rng=7).run(_sphere, 5)
        runs.append(res)
        np.testing.assert_array_equal(rb.nn.ParameterVector(net.parameters()).data, res.best)
    assert runs[0].history == runs[1].history
    assert runs[0].best_fitness == max(runs[0].history["best"])


def test_bad_input():
    net = rb.nn.Dense(2, 1)
    with pytest.raises(ValueError, match="population must be an integer >= 8; got 6"):
        rb.evolution.CoSyNE(net, population=6)
    with pytest.raises(ValueError, match="at least 2 parents"):
        rb.evolution.CoSyNE(net, population=8, parents=0.1)
    with pytest.raises(ValueError, match="offspring must leave at least the champion"):
        rb.evolution.CoSyNE(net, population=8, offspring=0.95)
    with pytest.raises(ValueError, match="permutation must be .probabilistic., .all. or None"):
        rb.evolution.CoSyNE(net, permutation="some")
    with pytest.raises(ValueError, match="mutation must be"):
        rb.evolution.CoSyNE(net, mutation="uniform")
    with pytest.raises(TypeError, match="model must be a Module"):
        rb.evolution.CoSyNE(np.zeros(3))
    with pytest.raises(ValueError, match="CoSyNE: stagnation must be"):
        rb.evolution.CoSyNE(net, stagnation=0)
    with pytest.raises(ValueError, match="CoSyNE: mutation_cut must be"):
        rb.evolution.CoSyNE(net, mutation_cut=-1.0)
    with pytest.raises(ValueError, match="CoSyNE: init_range must be"):
        rb.evolution.CoSyNE(net, init_range=0.0)
    with pytest.raises(ValueError, match="CoSyNE: burst_scale must be"):
        rb.evolution.CoSyNE(net, burst_scale=float("nan"))
    cos = rb.evolution.CoSyNE(net, population=8, rng=0)
    with pytest.raises(rb.evolution.FitnessError, match="individual 0"):
        cos.run(lambda X: np.full(len(X), np.nan), 2, vectorized=True)
    with pytest.raises(ValueError, match=r"one value per individual \(8\); got 3"):
        cos.run(lambda X: np.zeros(3), 2, vectorized=True)
    res = cos.run(lambda X: np.where(np.arange(len(X)) == 2, np.nan, 1.0), 2, vectorized=True,
                  on_error="worst")
    assert res.generations == 2
    res = cos.run(lambda X: np.full(len(X), np.nan), 2, vectorized=True, on_error="stop")
    assert res.stopped and "individual 0" in res.error


def test_recurrent_population_steps_like_the_rnn_layer(rng):
    from rosenblatt.evolution.recurrent import RecurrentPopulationModel

    net = rb.nn.Sequential(rb.nn.RNN(3, 4, rng=0), rb.nn.Dense(4, 1, rng=0),
                           rb.nn.Sigmoid()).astype(np.float64)
    vec = rb.nn.ParameterVector(net.parameters())
    thetas = rng.normal(size=(5, vec.size))
    seq = rng.normal(size=(5, 7, 3))  # one observation sequence per controller
    pop = RecurrentPopulationModel(net, thetas)
    pop.reset()
    outs = np.stack([pop.step(seq[:, t]) for t in range(7)], axis=1)  # (5, 7, 1)
    for p in range(5):
        vec.data[:] = thetas[p]
        h, _ = net[0](rb.tensor(seq[p:p + 1]))
        expect = 1 / (1 + np.exp(-(h.data[0] @ net[1].W.data + net[1].b.data)))
        np.testing.assert_allclose(outs[p], expect, rtol=1e-10)
    pop.reset()
    pop.step(seq[:, 0])
    pop.keep(np.array([True, False, True, False, True]))
    assert pop.size == 3 and pop.step(seq[[0, 2, 4], 1]).shape == (3, 1)
    with pytest.raises(TypeError, match="starting with an RNN"):
        RecurrentPopulationModel(rb.nn.Sequential(rb.nn.Dense(2, 1)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"thetas must have shape \(P, 37\)"):
        RecurrentPopulationModel(net, np.zeros((2, 3)))


def test_fully_recurrent_population_feeds_the_output_back(rng):
    from rosenblatt.evolution.recurrent import RecurrentPopulationModel

    net = rb.nn.Sequential(rb.nn.RNN(3, 4, rng=0)).astype(np.float64)
    vec = rb.nn.ParameterVector(net.parameters())
    thetas = rng.normal(size=(5, vec.size))
    assert vec.size == 4 * (3 + 4 + 1)  # every unit reads the inputs, the bias and all units
    seq = rng.normal(size=(5, 6, 3))
    pop = RecurrentPopulationModel(net, thetas, outputs=1)
    pop.reset()
    outs = np.stack([pop.step(seq[:, t]) for t in range(6)], axis=1)  # (5, 6, 1)
    for p in range(5):
        vec.data[:] = thetas[p]
        h, _ = net[0](rb.tensor(seq[p:p + 1]))
        np.testing.assert_allclose(outs[p, :, 0], (h.data[0, :, 0] + 1) / 2, rtol=1e-10)
    # the output unit's last value reaches every unit through W_h: zero its row, outputs change
    from rosenblatt.evolution.cne import parameter_layout

    cut = thetas.copy()
    W_h, _ = parameter_layout(net)[0][id(net[0].W_h[0])]  # (4, 4): row i read from unit i
    cut[:, W_h] = (cut[:, W_h].reshape(5, 4, 4) * (np.arange(4)[:, None] != 0)).reshape(5, 16)
    other = RecurrentPopulationModel(net, cut, outputs=1)
    other.reset()
    later = np.stack([other.step(seq[:, t]) for t in range(6)], axis=1)
    np.testing.assert_allclose(later[:, 0], outs[:, 0])  # same first step
    assert not np.allclose(later[:, 2:], outs[:, 2:])
    assert RecurrentPopulationModel(net[0], thetas, outputs=2).step(seq[:, 0]).shape == (5, 2)
    assert pop.take([0, 0]).step(seq[:2, 0]).shape == (2, 1)
    with pytest.raises(ValueError, match="outputs= reads the units of a lone RNN"):
        RecurrentPopulationModel(net, thetas, outputs=5)
    with pytest.raises(ValueError, match="outputs= reads the units of a lone RNN"):
        RecurrentPopulationModel(rb.nn.Sequential(rb.nn.RNN(3, 4), rb.nn.Dense(4, 1)),
                                 np.zeros((1, 37)), outputs=1)


def test_cut_mutation_keeps_the_no_velocity_population_off_saturation():
    """Why uncut Cauchy noise stalled the no-velocity runs (benchmarks/README.md): with the
    tour chapter's settings (Gomez's program's mutation, cut at 10) seed 0 finds a network
    that balances the 1,000 damping-fitness steps; the same run with the Cauchy's full tails
    drifts to huge weights and bang-bang networks that do not."""
    from rosenblatt.evolution.recurrent import RecurrentPopulationModel
    from rosenblatt.tour.chapters.neuroevolution2 import NON_MARKOV, NON_MARKOV_NEURONS

    env = rb.evolution.envs.CartPole(poles=2, velocities=False, max_steps=1000, fitness="gruau")
    results = {}
    for cut in (NON_MARKOV["mutation_cut"], None):
        net = rb.nn.Sequential(rb.nn.RNN(3, NON_MARKOV_NEURONS, rng=0)).astype(np.float64)
        cos = rb.evolution.CoSyNE(net, rng=0, **{**NON_MARKOV, "mutation_cut": cut})
        def fitness(X, net=net):
            return env.evaluate(RecurrentPopulationModel(net, X, outputs=1, fast=True))

        results[cut] = cos.run(fitness, 25, vectorized=True,
                               callbacks=[lambda s: s["fitness"] >= 0.1])
    cut, uncut = results[NON_MARKOV["mutation_cut"]], results[None]
    assert cut.best_fitness >= 0.1 and cut.evaluations <= 1000  # 1,000 steps balanced
    assert uncut.best_fitness < 0.05  # a few hundred steps at most
    assert np.abs(cut.best).max() < 20 < np.abs(uncut.best).max()


@pytest.mark.parametrize("mutation", ["cauchy", "gaussian"])
def test_mutation_cut_far_inside_the_scale_is_sampled_not_redrawn(mutation):
    """A cut of 1e-7 once redrew forever; now it is drawn within the cut, with the truncated
    density: P(|u| <= x) = atan(x/s) / atan(c/s) (Cauchy), erf(x/s/sqrt2) / erf(c/s/sqrt2)."""
    from math import erf, sqrt

    net = rb.nn.Dense(2, 1, rng=0).astype(np.float64)
    tiny = rb.evolution.CoSyNE(net, population=16, mutation=mutation, mutation_cut=1e-7, rng=0)
    assert np.abs(tiny.X - tiny.X[0]).max() <= 1e-7
    assert np.abs(tiny._noise((100, 3), 1.0)).max() <= 1e-7
    cos = rb.evolution.CoSyNE(net, population=8, mutation=mutation, mutation_cut=1.0, rng=0)
    u = cos._noise((50_000, 2), 2.0)  # the cut at half the scale
    assert np.abs(u).max() <= 1.0
    for x in (0.25, 0.5, 0.75):
        if mutation == "cauchy":
            expect = np.arctan(x / 2.0) / np.arctan(1.0 / 2.0)
        else:
            expect = erf(x / 2.0 / sqrt(2)) / erf(1.0 / 2.0 / sqrt(2))
        assert abs((np.abs(u) <= x).mean() - expect) < 0.01


def test_mutation_cut_outside_the_scale_still_redraws():
    # the redrawing of Gomez's program, draw for draw as before (seeded results unchanged)
    net = rb.nn.Dense(2, 1, rng=0).astype(np.float64)
    cos = rb.evolution.CoSyNE(net, population=8, mutation_cut=3.0, rng=5)
    cos.rng = np.random.default_rng(7)
    got = cos._noise((200, 4), 1.5)
    rng = np.random.default_rng(7)
    want = 1.5 * rng.standard_cauchy((200, 4))
    far = np.abs(want) > 3.0
    while far.any():
        want[far] = 1.5 * rng.standard_cauchy(int(far.sum()))
        far = np.abs(want) > 3.0
    np.testing.assert_array_equal(got, want)


def test_multipoint_crossover_cuts_are_distinct():
    """Two equal cuts would cancel and the child would copy a parent (with 2 points on 3
    genes, half the children did); every child of a 2-point crossover now mixes both."""
    a, b = np.zeros((4000, 3)), np.ones((4000, 3))
    kids = multipoint_crossover(a, b, 2, np.random.default_rng(0))
    assert ((kids.min(axis=1) == 0) & (kids.max(axis=1) == 1)).all()
    a, b = np.zeros((2000, 10)), np.ones((2000, 10))
    changes = np.abs(np.diff(multipoint_crossover(a, b, 3, 1)[:2000], axis=1)).sum(axis=1)
    assert (changes == 3).all()  # three distinct cuts: three switches of parent
    with pytest.raises(ValueError, match="3 cut points do not fit between 3 genes"):
        multipoint_crossover(a[:, :3], b[:, :3], 3, 0)


def test_cosyne_refuses_more_crossover_points_than_gaps():
    net = rb.nn.Dense(1, 1, rng=0).astype(np.float64)  # 2 weights: one gap
    with pytest.raises(ValueError, match="crossover_points must be below the network's 2"):
        rb.evolution.CoSyNE(net, crossover_points=2, rng=0)
    rb.evolution.CoSyNE(net, crossover_points=1, rng=0)
