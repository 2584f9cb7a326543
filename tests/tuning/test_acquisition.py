"""maximize_acquisition's arguments (audit a1 #18)."""

import numpy as np
import pytest

import rosenblatt as rb

T = rb.tuning


@pytest.fixture
def fitted():
    space = T.Space({"x": T.Uniform(0, 1), "c": T.Choice(["a", "b"])})
    params = space.sample(6, 0)
    y = np.array([p["x"] + (p["c"] == "a") for p in params])
    gp = T.GaussianProcess(rng=0).fit(space.to_unit(params), y)
    return gp, space, float(gp.normalise(y).min())


@pytest.mark.parametrize("kwargs,message", [
    ({"n_candidates": 0}, "maximize_acquisition: n_candidates must be a positive integer; got 0"),
    ({"n_candidates": -5}, "maximize_acquisition: n_candidates must be a positive integer"),
    ({"n_polish": 0}, "maximize_acquisition: n_polish must be a positive integer; got 0"),
    ({"n_polish": 2.5}, "maximize_acquisition: n_polish must be a positive integer"),
])
def test_counts_are_checked_by_name(fitted, kwargs, message):
    gp, space, best = fitted
    with pytest.raises(ValueError, match=message):
        T.maximize_acquisition(gp, space, best, np.random.default_rng(0), **kwargs)


def test_rng_takes_an_int_seed_and_gp_must_fit_the_space(fitted):
    gp, space, best = fitted
    by_seed = T.maximize_acquisition(gp, space, best, 3, n_candidates=100)
    by_generator = T.maximize_acquisition(gp, space, best, np.random.default_rng(3),
                                          n_candidates=100)
    np.testing.assert_array_equal(by_seed, by_generator)
    assert by_seed.shape == (space.dim,)
    other = T.Space({"x": T.Uniform(0, 1)})
    with pytest.raises(ValueError, match=r"maximize_acquisition: gp was fitted on 3 columns; "
                                         r"the space has 1"):
        T.maximize_acquisition(gp, other, best, 0)
    with pytest.raises(ValueError, match=r"maximize_acquisition: gp must be fitted"):
        T.maximize_acquisition(T.GaussianProcess(), space, best, 0)
    with pytest.raises(TypeError, match=r"maximize_acquisition: space must be a Space"):
        T.maximize_acquisition(gp, {"x": T.Uniform(0, 1)}, best, 0)
