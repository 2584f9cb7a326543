"""Second-round audit fixes (s5, b4 #2, #3, #5, #6): cascading's number of fitness
functions, CNE.step's docstring, Interactive's config on undo, ragged objectives."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution.cppn import cppn_config
from rosenblatt.evolution.interactive import Interactive


def _two(th):
    return np.stack([-np.abs(th).sum(1), -th.sum(1)], axis=1)


def _three(th):
    return np.stack([-np.abs(th).sum(1), -th.sum(1), th[:, 0]], axis=1)


def _cne(**kwargs):
    net = rb.nn.Dense(2, 1, rng=0).astype(np.float64)
    return rb.evolution.CNE(net, population=6, selection="cascading", rng=0, **kwargs)


# -- #2: the number of fitness functions does not leak from one step() into the next ----
def test_cne_step_with_a_new_fitness_of_another_width_works_like_a_fresh_cne():
    cne = _cne()
    cne.step(_two, vectorized=True)
    f, theta = cne.step(_three, vectorized=True)
    fresh = _cne()
    fresh.step(_two, vectorized=True)  # the same random stream as `cne`
    assert f.shape == (6,) and cne.objectives.shape == (6, 3)
    np.testing.assert_array_equal(theta, fresh.step(_three, vectorized=True)[1])


def test_cne_step_per_individual_with_a_new_width_and_back():
    cne = _cne()

    def two(model):
        w = np.concatenate([p.data.ravel() for p in model.parameters()])
        return [-float((w ** 2).sum()), -float(np.abs(w).sum())]

    def three(model):
        return two(model) + [1.0]

    cne.step(two)
    cne.step(three)
    assert cne.objectives.shape == (6, 3)
    cne.step(two)
    assert cne.objectives.shape == (6, 2)


def test_cne_step_with_the_same_fitness_still_refuses_another_width():
    state = {"width": 2}

    def fit(th):
        return np.zeros((th.shape[0], state["width"]))

    cne = _cne()
    cne.step(fit, vectorized=True)
    state["width"] = 3
    with pytest.raises(ValueError, match=r"shape \(6, 2\); got \(6, 3\)"):
        cne.step(fit, vectorized=True)


def test_cne_step_with_the_same_fitness_keeps_the_width_when_all_fail():
    state = {"fail": False}

    def fit(model):
        if state["fail"]:
            raise RuntimeError("simulator down")
        return [0.0, 1.0]

    cne = _cne()
    cne.step(fit)
    state["fail"] = True
    cne.step(fit, on_error="worst")
    assert cne.objectives.shape == (6, 2) and np.all(cne.objectives == -np.inf)


def test_neat_evaluate_with_a_new_fitness_of_another_width_works_like_a_fresh_neat():
    def neat():
        return rb.evolution.NEAT(2, 1, rb.evolution.NEATConfig(population=6), rng=0,
                                 selection="cascading")

    def two(g):
        return [0.0, -len(g.connections)]

    def three(g):
        return [0.0, -len(g.connections), 1.0]

    n = neat()
    n.evaluate(two)
    np.testing.assert_array_equal(n.evaluate(three), neat().evaluate(three))
    assert n.evaluate(two).shape == (6, 2)
    # vectorized too
    n2 = neat()
    n2.evaluate(lambda pop: np.zeros((pop.size, 2)), vectorized=True)
    assert n2.evaluate(lambda pop: np.ones((pop.size, 3)), vectorized=True).shape == (6, 3)


# -- #3: CNE.step's docstring says what it returns ----------------------------------------
def test_cne_step_docstring_names_the_tuple_it_returns():
    doc = rb.evolution.CNE.step.__doc__
    assert "returns the fitness array" not in doc
    assert "(fitness, theta)" in doc
    ret = _cne().step(_two, vectorized=True)
    assert isinstance(ret, tuple) and len(ret) == 2


# -- #5: undo restores the caller's config in place ----------------------------------------
def test_interactive_undo_restores_the_callers_config_in_place():
    cfg = cppn_config()
    rate = cfg.add_node_rate

    def shaping(session):
        session.config.add_node_rate = 0.9

    s = Interactive(population=4, width=4, height=4, config=cfg, rng=0, shaping=shaping)
    s.next([0])
    assert s.config is cfg and cfg.add_node_rate == 0.9
    s.undo()
    assert s.config is cfg and cfg.add_node_rate == rate
    cfg.add_node_rate = 1.0  # the caller reshapes the task through its config
    assert s.config.add_node_rate == 1.0


def test_interactive_undo_after_shaping_swapped_the_config_restores_the_first():
    cfg = cppn_config()
    rate = cfg.add_node_rate

    def shaping(session):
        cfg.add_node_rate = 0.7  # edit the old one, then hand the session another
        session.config = cppn_config()

    s = Interactive(population=4, width=4, height=4, config=cfg, rng=0, shaping=shaping)
    s.next([0])
    assert s.config is not cfg
    s.undo()
    assert s.config is cfg and cfg.add_node_rate == rate


def test_interactive_failed_next_leaves_the_callers_config_attached_and_unchanged():
    cfg = cppn_config()
    rate = cfg.add_node_rate

    def shaping(session):
        session.config.add_node_rate = 0.5
        raise ZeroDivisionError("shaping failed")

    s = Interactive(population=4, width=4, height=4, config=cfg, rng=0, shaping=shaping)
    with pytest.raises(ZeroDivisionError):
        s.next([0])
    assert s.config is cfg and cfg.add_node_rate == rate


# -- #6: a first generation where all fail records k objectives, not 1 -------------------
def _failing_first(n_fail):
    calls = {"n": 0}

    def two(item):
        calls["n"] += 1
        if calls["n"] <= n_fail:
            raise RuntimeError("simulator not ready")
        if isinstance(item, rb.evolution.Genome):
            return [0.0, -float(len(item.connections))]
        w = np.concatenate([p.data.ravel() for p in item.parameters()])
        return [-float((w ** 2).sum()), -float(np.abs(w).sum())]

    return two


def test_cne_run_first_generation_all_failed_records_k_objectives():
    r = _cne().run(_failing_first(12), 4, on_error="worst")
    obj = np.asarray(r.history["objectives"])
    assert obj.shape == (4, 2)
    assert np.all(obj[:2] == -np.inf) and np.all(np.isfinite(obj[2:]))


def test_neat_run_first_generation_all_failed_records_k_objectives():
    neat = rb.evolution.NEAT(2, 1, rb.evolution.NEATConfig(population=6), rng=0,
                             selection="cascading")
    r = neat.run(_failing_first(6), 3, on_error="worst")
    obj = np.asarray(r.history["objectives"])
    assert obj.shape == (3, 2)
    assert np.all(obj[0] == -np.inf) and np.all(np.isfinite(obj[1:]))


def test_cne_run_where_every_generation_fails_records_one_value_each():
    r = _cne().run(_failing_first(10 ** 6), 2, on_error="worst")
    assert np.asarray(r.history["objectives"]).shape == (2, 1)
