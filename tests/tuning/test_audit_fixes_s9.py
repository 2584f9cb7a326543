"""Audit s9/b3 (tuning): tune_fit refuses fit_kwargs' batch_size and rng (findings 2, 3);
conditional grids counted exactly without listing the parents' combinations, and bounded
by that count (findings 4, 5)."""

import concurrent.futures
import itertools
import random
import time

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.tuning import Choice, Int, LogUniform, Space, Uniform, minimize, tune_fit
from rosenblatt.tuning.search import MAX_GRID


def _data(n=40):
    g = np.random.default_rng(0)
    X = g.normal(size=(n, 3)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(int)


def _build(p):
    return rb.nn.Sequential(rb.nn.Dense(3, p.get("hidden", 4)), rb.nn.Tanh(),
                            rb.nn.Dense(p.get("hidden", 4), 2))


# -- finding 2: a batch size in fit_kwargs would override the searched one ----------------------
def test_tune_fit_refuses_batch_size_in_fit_kwargs():
    X, y = _data()
    with pytest.raises(ValueError, match=r"fit_kwargs must not set 'batch_size' .*pass it to "
                                         r"tune_fit \(or search it"):
        tune_fit(_build, Space({"batch_size": Choice([4, 40])}), X, y, validation_data=(X, y),
                 epochs=1, method="grid", fit_kwargs={"batch_size": 8}, seed=0)


def test_a_searched_batch_size_sets_each_trials_batches():
    X, y = _data()
    steps = {}

    class Counting(rb.optim.SGD):
        def step(self, *args, **kwargs):
            steps[self.tag] = steps.get(self.tag, 0) + 1
            return super().step(*args, **kwargs)

    def build(p):
        model = _build(p)
        opt = Counting(model.parameters(), lr=0.1)
        opt.tag = p["batch_size"]
        return model, opt

    tune_fit(build, Space({"batch_size": Choice([4, 40])}), X, y, validation_data=(X, y),
             epochs=1, method="grid", batch_size=8, seed=0)
    assert steps == {4: 10, 40: 1}  # 40 rows: tune_fit's batch_size=8 is overridden


# -- finding 3: one generator in fit_kwargs would be shared by every trial ----------------------
def test_tune_fit_refuses_a_shared_rng_in_fit_kwargs():
    X, y = _data()
    with pytest.raises(ValueError, match=r"fit_kwargs must not set 'rng' \(got Generator\).*"
                                         r"seed= and the trial's params.*pass seed="):
        tune_fit(_build, Space({"hidden": Int(2, 8)}), X, y, validation_data=(X, y), epochs=1,
                 method="random", n_trials=2, seed=0,
                 fit_kwargs={"rng": np.random.default_rng(123)})


def test_tune_fit_on_a_thread_pool_gives_the_serial_study():
    X, y = _data(80)
    space = Space({"hidden": Int(2, 8), "lr": LogUniform(1e-3, 0.1)})
    kw = dict(validation_data=(X, y), epochs=2, method="random", n_trials=4, seed=0,
              n_parallel=2, batch_size=8)
    serial, _ = tune_fit(_build, space, X, y, **kw)
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        threaded, _ = tune_fit(_build, space, X, y, executor=ex, **kw)
    assert [(t.params, t.value) for t in serial.trials] == \
        [(t.params, t.value) for t in threaded.trials]


# -- findings 4, 5: conditional grids counted exactly, without 2**d parent combinations ------
def _switches(d):
    params = {}
    for i in range(d):
        params[f"use{i}"] = Choice([False, True])
        params[f"w{i}"] = Uniform(0, 1, when={f"use{i}": True})
    return Space(params)


def test_grid_size_of_many_conditional_parents_is_counted_at_once():
    start = time.perf_counter()
    assert _switches(40).grid_size(5) == 6 ** 40  # (1 + 5) per switch: off, or on with 5 values
    with pytest.raises(ValueError, match="smallest useful grid over this space .* has "
                                         "387,420,489 points"):
        minimize(lambda p: 0.0, _switches(18), method="grid", n_trials=50, seed=0)
    assert time.perf_counter() - start < 1.0  # was: a minute for 18 switches


def test_grid_bound_counts_conditions_and_names_the_true_size(monkeypatch):
    # MAX_GRID at 1,000 (as 10**6, but fast): 5 switches make 3 ** 5 = 243 combinations,
    # though the product of every parameter's values is 4 ** 5 = 1,024: the grid runs
    monkeypatch.setattr(rb.tuning.search, "MAX_GRID", 1000)
    space = _switches(5)
    assert space.grid_size(2) == 243 and 4 ** 5 > 1000
    study = minimize(lambda p: 0.0, space, method="grid", grid_points=2, seed=0)
    assert len(study.trials) == 243
    assert len(minimize(lambda p: 0.0, space, method="grid", n_trials=900, seed=0).trials) == 243
    with pytest.raises(ValueError, match=r"makes a grid of 2,187 points, more than 1,000 points"):
        minimize(lambda p: 0.0, _switches(7), method="grid", grid_points=2, seed=0)
    assert MAX_GRID == 10**6  # (the real bound)


def _listed_grid(space, points):
    """The grid as the product of every parameter's values, deduplicated (the reference)."""
    axes = [space.params[name].grid(points) for name in space.names]
    combos, seen = [], set()
    for values in itertools.product(*axes):
        full, p = dict(zip(space.names, values)), {}
        for name in space._order:
            if space.is_active(name, p):
                p[name] = full[name]
        p = {name: p[name] for name in space.names if name in p}
        key = tuple((k, type(v).__name__, v) for k, v in p.items())
        if key not in seen:
            seen.add(key)
            combos.append(p)
    return combos


def _random_conditional_space(rng):
    """Up to 6 parameters, conditions on one or two parents, names in any order."""
    specs = []
    for i in range(rng.randint(1, 6)):
        when = {}
        if specs and rng.random() < 0.7:
            for name, dist in rng.sample(specs, rng.randint(1, min(2, len(specs)))):
                if isinstance(dist, Choice):
                    when[name] = rng.sample(dist.values, rng.randint(1, len(dist.values)))
                else:
                    when[name] = [dist.low]
        kind = rng.choice(["uniform", "int", "logint", "choice", "choice"])
        if kind == "uniform":
            dist = Uniform(0, 1, when=when or None)
        elif kind == "int":
            dist = Int(0, rng.randint(0, 4), when=when or None)
        elif kind == "logint":
            dist = Int(1, rng.randint(1, 40), log=True, when=when or None)
        else:
            values = rng.sample(["a", "b", 1, 1.0, True, 0, False, None], rng.randint(1, 4))
            dist = Choice(values, when=when or None)
        specs.append((f"p{i}", dist))
    rng.shuffle(specs)  # children may come before their parents
    return Space(dict(specs))


def test_grid_and_grid_size_equal_the_listed_product_on_random_conditional_spaces():
    rng = random.Random(0)
    for _ in range(150):
        space = _random_conditional_space(rng)
        for k in (1, 2, 3):
            expected = _listed_grid(space, k)
            assert space.grid(k) == expected  # the same combinations, in the same order
            assert [tuple(map(type, p.values())) for p in space.grid(k)] == \
                [tuple(map(type, p.values())) for p in expected]
            assert space.grid_size(k) == len(expected)


def test_grid_of_a_narrow_range_counts_each_float_once():
    space = Space({"x": Uniform(1.0, 1.0 + 1e-15), "on": Choice([0, 1]),
                   "y": Uniform(1.0, 1.0 + 1e-15, when={"on": 1})})
    for k in (5, 20):
        assert space.grid_size(k) == len(space.grid(k)) == len(_listed_grid(space, k))
