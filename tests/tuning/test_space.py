"""Search spaces: warping to the unit cube, sampling, grids, conditions, bad input."""

import math

import numpy as np
import pytest

import rosenblatt as rb

T = rb.tuning


def _space():
    return T.Space({"lr": T.LogUniform(1e-4, 1e-1), "hidden": T.Int(16, 512, log=True),
                    "dropout": T.Uniform(0.0, 0.6), "activation": T.Choice(["relu", "tanh"])})


def test_warping_columns_and_round_trip(rng):
    space = _space()
    assert space.dim == 5 and space.column_names() == [
        "lr", "hidden", "dropout", "activation=relu", "activation=tanh"]
    params = space.sample(200, rng)
    U = space.to_unit(params)
    assert U.shape == (200, 5) and U.min() >= 0 and U.max() <= 1
    assert space.from_unit(U) == params
    # log scale: 1e-3 sits one third of the way from 1e-4 to 1e-1
    u = space.to_unit([{"lr": 1e-3, "hidden": 16, "dropout": 0.3, "activation": "tanh"}])[0]
    np.testing.assert_allclose(u[[0, 2, 3, 4]], [1 / 3, 0.5, 0.0, 1.0])
    # integer cells: each integer owns [i - 1/2, i + 1/2] of the warped scale
    d = T.Int(0, 3)
    np.testing.assert_allclose(d.to_unit([0, 3]), [0.125, 0.875])
    assert d.from_unit(np.array([0.0, 0.249, 0.251, 1.0])).tolist() == [0, 0, 1, 3]


def test_sampling_is_uniform_on_the_warped_scales(rng):
    space = _space()
    params = space.sample(4000, rng)
    lr = np.array([p["lr"] for p in params])
    frac_below = np.mean(lr < 1e-3)  # a third of the log range
    assert abs(frac_below - 1 / 3) < 0.03
    acts = [p["activation"] for p in params]
    assert abs(acts.count("relu") / 4000 - 0.5) < 0.03
    hidden = np.array([p["hidden"] for p in params])
    assert hidden.min() == 16 and hidden.max() == 512 and hidden.dtype.kind == "i"


def test_grid_enumerates_exactly_the_grid():
    space = T.Space({"lr": T.LogUniform(1e-3, 1e-1), "layers": T.Int(1, 2),
                     "act": T.Choice(["relu", "tanh"])})
    grid = space.grid(3)
    lrs = sorted({p["lr"] for p in grid})
    np.testing.assert_allclose(lrs, [1e-3, 1e-2, 1e-1])
    assert len(grid) == 3 * 2 * 2 == space.grid_size(3)
    expected = {(lr, n, a) for lr in lrs for n in (1, 2) for a in ("relu", "tanh")}
    assert {(p["lr"], p["layers"], p["act"]) for p in grid} == expected


def test_conditional_parameters():
    space = T.Space({"optimizer": T.Choice(["sgd", "adam"]),
                     "momentum": T.Uniform(0.0, 0.99, when={"optimizer": "sgd"}),
                     "beta2": T.Uniform(0.9, 0.9999, when={"optimizer": ["adam"]})})
    params = space.sample(50, np.random.default_rng(0))
    for p in params:
        assert ("momentum" in p) == (p["optimizer"] == "sgd")
        assert ("beta2" in p) == (p["optimizer"] == "adam")
    assert space.from_unit(space.to_unit(params)) == params
    # inactive columns are a constant: two sgd points differ only in momentum
    U = space.to_unit([{"optimizer": "sgd", "momentum": 0.1},
                       {"optimizer": "sgd", "momentum": 0.9}])
    assert U[0, space.slices["beta2"]] == U[1, space.slices["beta2"]] == 0.5
    grid = space.grid(2)
    assert len(grid) == 4 and all(("momentum" in p) == (p["optimizer"] == "sgd") for p in grid)
    with pytest.raises(ValueError, match="'momentum' is inactive"):
        space.check({"optimizer": "adam", "momentum": 0.5, "beta2": 0.95})
    with pytest.raises(ValueError, match="depends on 'opt', which is not in the space"):
        T.Space({"m": T.Uniform(0, 1, when={"opt": "sgd"})})
    with pytest.raises(ValueError, match="never takes"):
        T.Space({"opt": T.Choice(["sgd"]), "m": T.Uniform(0, 1, when={"opt": "adam"})})
    with pytest.raises(ValueError, match="cycle"):
        T.Space({"a": T.Choice([1, 2], when={"b": 1}), "b": T.Choice([1, 2], when={"a": 1})})


def test_config_round_trip():
    space = T.Space({"lr": T.LogUniform(1e-4, 1e-1), "n": T.Int(1, 8, log=True),
                     "act": T.Choice(["relu", None, 3]),
                     "p": T.Uniform(0, 1, when={"act": "relu"})})
    assert T.Space(space.config()) == space
    assert T.Space({"lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1}}).params["lr"] == \
        T.LogUniform(1e-4, 1e-1)


def test_bad_ranges_and_values():
    with pytest.raises(ValueError, match=r"Uniform: the range \[1, 0\] is empty or inverted"):
        T.Uniform(1, 0)
    with pytest.raises(ValueError, match="empty or inverted"):
        T.Uniform(0.5, 0.5)
    with pytest.raises(ValueError, match="LogUniform: a log range must be positive; got low=0"):
        T.LogUniform(0, 1)
    with pytest.raises(ValueError, match="log range must be positive"):
        T.LogUniform(-1e-3, 1)
    with pytest.raises(ValueError, match="Int: a log range must be >= 1; got low=0"):
        T.Int(0, 10, log=True)
    with pytest.raises(ValueError, match="Int: the range \\[5, 4\\] is inverted"):
        T.Int(5, 4)
    with pytest.raises(TypeError, match="Int: low and high must be integers"):
        T.Int(1.5, 4)
    with pytest.raises(ValueError, match="Choice: values is empty"):
        T.Choice([])
    with pytest.raises(ValueError, match="duplicates"):
        T.Choice(["a", "a"])
    with pytest.raises(TypeError, match="JSON scalars"):
        T.Choice([[1, 2]])
    with pytest.raises(ValueError, match="must be finite"):
        T.Uniform(0, math.inf)
    with pytest.raises(ValueError, match="non-empty dict"):
        T.Space({})
    with pytest.raises(ValueError, match="type must be one of"):
        T.Space({"lr": {"type": "log-uniform", "low": 1, "high": 2}})
    with pytest.raises(ValueError, match="key 'hgih' is not recognised"):
        T.Space({"lr": {"type": "uniform", "low": 1, "hgih": 2}})
    space = _space()
    with pytest.raises(ValueError, match="unknown parameter 'lrr'"):
        space.check({"lrr": 0.1})
    with pytest.raises(ValueError, match="outside LogUniform"):
        space.check({"lr": 1.0, "hidden": 16, "dropout": 0.0, "activation": "relu"})


def test_project_equals_decoding_then_encoding(rng):
    space = T.Space({"opt": T.Choice(["sgd", "adam", "rms"]),
                     "momentum": T.Uniform(0.0, 0.99, when={"opt": ["sgd", "rms"]}),
                     "nesterov": T.Choice([True, False], when={"opt": "sgd"}),
                     "n": T.Int(1, 64, log=True), "lr": T.LogUniform(1e-5, 1.0)})
    U = rng.random((300, space.dim))
    np.testing.assert_array_equal(space.project(U), space.to_unit(space.from_unit(U)))


def test_latin_hypercube_puts_one_point_in_each_slice_of_every_range(rng):
    space = _space()
    n = 7
    params = space.latin_hypercube(n, rng)
    U = space.to_unit(params)
    for col in (0, 2):  # lr (log scale) and dropout: one value in each seventh of the range
        assert sorted(np.floor(U[:, col] * n).astype(int)) == list(range(n))
    hidden = np.log([p["hidden"] for p in params])  # an Int: up to its rounding
    cells = np.floor((hidden - np.log(15.5)) / (np.log(512.5) - np.log(15.5)) * n)
    assert len(set(cells.astype(int))) >= n - 1
    acts = [p["activation"] for p in params]
    assert sorted([acts.count("relu"), acts.count("tanh")]) == [3, 4]  # the values in turn
    again = space.latin_hypercube(n, np.random.default_rng(5))
    assert again == space.latin_hypercube(n, np.random.default_rng(5))
    assert space.latin_hypercube(0, rng) == []


def test_sample_and_latin_hypercube_take_an_int_seed():
    space = T.Space({"x": T.Uniform(0, 1), "c": T.Choice(["a", "b"])})
    assert space.sample(3, 0) == space.sample(3, np.random.default_rng(0))
    assert space.latin_hypercube(4, 1) == space.latin_hypercube(4, np.random.default_rng(1))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator, an int seed"):
        space.sample(2, "zero")


# -- audit a1 ------------------------------------------------------------------------------
def test_choice_of_numpy_values_holds_plain_values():
    """Audit a1 #1: NumPy scalars are stored as the plain values the JSON study holds."""
    d = T.Choice(np.linspace(0, 0.5, 6))
    assert [type(v) for v in d.values] == [float] * 6
    space = T.Space({"dropout": d, "act": T.Choice(np.array(["relu", "tanh"])),
                     "n": T.Choice([np.int64(1), np.bool_(True)])})
    assert space.check({"dropout": 0.1, "act": "tanh", "n": True}) == \
        {"dropout": 0.1, "act": "tanh", "n": True}
    checked = space.check({"dropout": np.float64(0.1), "act": np.str_("tanh"), "n": np.int64(1)})
    assert checked == {"dropout": 0.1, "act": "tanh", "n": 1}
    assert [type(v) for v in checked.values()] == [float, str, int]
    assert T.Space(space.config()) == space
    with pytest.raises(ValueError, match="duplicates"):
        T.Choice([1.0, np.float64(1.0)])


def test_choice_of_numpy_values_resumes_a_bayesian_search(tmp_path):
    space = T.Space({"dropout": T.Choice(np.linspace(0, 0.5, 6)), "x": T.Uniform(0, 1)})
    path = tmp_path / "s.json"

    def f(p):
        return (p["dropout"] - 0.2) ** 2 + p["x"]

    kw = dict(n_initial=2, seed=0, n_candidates=64)
    T.minimize(f, space, n_trials=3, save_to=path, **kw)
    assert len(T.minimize(f, space, n_trials=4, resume_from=path, **kw).trials) == 4


def test_when_values_are_canonical_so_sampling_and_checking_agree():
    """Audit a1 #2: a NumPy scalar, or an int for a real parent, in `when`."""
    import json

    space = T.Space({"layers": T.Int(1, 3), "w2": T.Int(8, 64, when={"layers": np.int64(2)})})
    params = space.sample(20, np.random.default_rng(0))
    assert any("w2" in p for p in params)
    for p in params:
        assert space.check(p) == p
        assert ("w2" in p) == (p["layers"] == 2)
    assert sum("w2" in p for p in space.grid(3)) == 3
    json.dumps(space.config())
    real = T.Space({"x": T.Uniform(0, 2), "y": T.Uniform(0, 1, when={"x": 1})})
    assert real.from_unit([[0.5, 0.3]]) == [{"x": 1.0, "y": 0.3}]
    assert real.is_active("y", {"x": 1.0}) and real.check({"x": 1.0, "y": 0.3})
    choice = T.Space({"act": T.Choice(["relu", "tanh"]),
                      "slope": T.Uniform(0, 1, when={"act": np.str_("relu")})})
    assert choice.check({"act": "relu", "slope": 0.5}) == {"act": "relu", "slope": 0.5}
    json.dumps(choice.config())


def test_ranges_too_wide_for_float64_are_refused():
    """Audit a1 #14: integers beyond 2**53 and real ranges whose width overflows."""
    with pytest.raises(ValueError, match=r"Int: low and high must be within \+-2\*\*53"):
        T.Int(0, 2**63 - 1)
    with pytest.raises(ValueError, match=r"Int: low and high must be within \+-2\*\*53"):
        T.Int(-2**64, 0)
    d = T.Int(-2**53, 2**53)
    assert int(d.from_unit(1.0)) == 2**53 and int(d.from_unit(0.0)) == -2**53
    with pytest.raises(ValueError, match="Uniform: high - low must be finite"):
        T.Uniform(-1e308, 1e308)


# -- audit a3 ------------------------------------------------------------------------------
@pytest.mark.parametrize("values", [{"relu", "tanh"}, frozenset({"relu", "tanh"})])
def test_choice_refuses_an_unordered_collection(values):
    """A set of strings is listed in hash order, which changes per process (PYTHONHASHSEED):
    the same seed would sample other values in each worker, and resume would be refused."""
    with pytest.raises(TypeError, match=r"Choice: values must be a list \(an ordered sequence\); "
                       r"got \w+ .*order changes from one process to the next"):
        T.Choice(values)
    # tuples, arrays and a dict's keys (in insertion order) are fine
    assert T.Choice(("relu", "tanh")).values == ["relu", "tanh"]
    assert T.Choice({"tanh": 1, "relu": 2}.keys()).values == ["tanh", "relu"]


def test_log_scale_values_at_the_bounds_are_the_bounds():
    d = T.LogUniform(1e-4, 1e-1)
    assert d.grid(3)[0] == 1e-4 and d.grid(3)[-1] == 0.1
    assert float(d.from_unit(0.0)) == 1e-4 and float(d.from_unit(1.0)) == 0.1
    assert float(d.from_unit(-0.5)) == 1e-4 and float(d.from_unit(2.0)) == 0.1  # clipped first
    assert T.LogUniform(1e-5, 1e-3).grid(3)[0] == 1e-5
    # every other value is the exp of the warp, as before (not rounded)
    u = np.linspace(0.0, 1.0, 101)[1:-1]
    expected = np.exp(math.log(1e-4) + u * (math.log(0.1) - math.log(1e-4)))
    assert np.array_equal(d.from_unit(u), expected)
    # a bound reached by a search's proposal (the acquisition's optimum on the box's edge)
    space = T.Space({"lr": d, "x": T.Uniform(0.1, 0.7)})
    assert space.from_unit([[0.0, 1.0]]) == [{"lr": 1e-4, "x": 0.7}]
    assert space.grid(2) == [{"lr": 1e-4, "x": 0.1}, {"lr": 1e-4, "x": 0.7},
                             {"lr": 0.1, "x": 0.1}, {"lr": 0.1, "x": 0.7}]


@pytest.mark.parametrize("low,high,points", [(1, 8, 9), (1, 8, 8), (1, 12, 20), (3, 5, 3)])
def test_grid_of_a_narrow_log_int_range_lists_each_integer(low, high, points):
    assert T.Int(low, high, log=True).grid(points) == list(range(low, high + 1))
    assert T.Space({"n": T.Int(low, high, log=True)}).grid(points) == [
        {"n": i} for i in range(low, high + 1)]


@pytest.mark.parametrize("config,error,message", [
    ({"lr": {"type": "loguniform", "low": 1e-4, "high": 0.1},
      "wd": {"type": "loguniform", "low": 0, "high": 1e-2}},
     ValueError, r"Space: parameter 'wd': LogUniform: a log range must be positive"),
    ({"hidden": {"type": "int", "low": 16, "high": 512.0, "log": True}},
     TypeError, r"Space: parameter 'hidden': Int: low and high must be integers"),
    ({"dropout": {"type": "uniform", "low": 0.6, "high": 0.0}},
     ValueError, r"Space: parameter 'dropout': Uniform: the range \[0.6, 0.0\] is empty"),
    ({"act": {"type": "choice", "values": []}},
     ValueError, r"Space: parameter 'act': Choice: values is empty"),
])
def test_config_errors_name_the_parameter(config, error, message):
    with pytest.raises(error, match=message):
        T.Space(config)


def test_latin_hypercube_draws_which_choice_values_it_tries():
    """Fewer points than values: any value may be in the design (not the first n of the
    list); each value n // c or n // c + 1 times, the first min(n, c) points all different."""
    values = ["sigmoid", "relu", "tanh", "elu", "selu"]
    space = T.Space({"act": T.Choice(values), "x": T.Uniform(0, 1)})
    seen = {v: 0 for v in values}
    for seed in range(60):
        acts = [p["act"] for p in space.latin_hypercube(3, seed)]
        assert len(set(acts)) == 3
        for a in acts:
            seen[a] += 1
    assert min(seen.values()) > 20  # 36 expected for each of the 5
    for n in (5, 7, 12):
        acts = [p["act"] for p in space.latin_hypercube(n, np.random.default_rng(n))]
        counts = [acts.count(v) for v in values]
        assert min(counts) == n // 5 and max(counts) == -(-n // 5)
        assert len(set(acts[:5])) == 5
    assert space.latin_hypercube(4, 3) == space.latin_hypercube(4, 3)  # the seed's design
    assert space.latin_hypercube(0, 3) == []
