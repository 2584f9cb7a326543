"""The issue's claims: Bayesian optimisation on Branin and on a digits MLP (slow: full versions).

The suite's fast version of the Branin claim (3 seeds) is in test_search.py.
"""

import math
import subprocess
import sys

import numpy as np
import pytest

import rosenblatt as rb

T = rb.tuning


def branin(p):
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


BRANIN = T.Space({"x1": T.Uniform(-5, 10), "x2": T.Uniform(0, 15)})


@pytest.mark.slow
def test_branin_over_20_seeds():
    """Median best after 30 evaluations <= 0.41 (minimum 0.397887); random after 100 is worse."""
    bo = [T.minimize(branin, BRANIN, n_trials=30, seed=s).best_value for s in range(20)]
    rs = [T.minimize(branin, BRANIN, "random", n_trials=100, seed=s).best_value
          for s in range(20)]
    assert np.median(bo) <= 0.41
    assert np.median(bo) < np.median(rs)


def _digits_search(method, seed):
    X, y = rb.datasets.load_digits()
    perm = np.random.default_rng(0).permutation(len(X))
    tr, va = perm[:500], perm[500:]
    space = T.Space({"lr": T.LogUniform(1e-4, 1.0), "hidden": T.Int(4, 256, log=True),
                     "dropout": T.Uniform(0.0, 0.7), "l2": T.LogUniform(1e-6, 1e-1)})

    def build(p):
        model = rb.nn.Sequential(rb.nn.Dense(64, p["hidden"]), rb.nn.ReLU(),
                                 rb.nn.Dropout(p["dropout"]), rb.nn.Dense(p["hidden"], 10))
        return {"model": model, "optimizer": rb.optim.Adam(model.parameters(), lr=p["lr"]),
                "regularizers": [rb.regularizers.L2(p["l2"])]}

    study, _ = T.tune_fit(build, space, X[tr], y[tr], validation_data=(X[va], y[va]),
                          epochs=10, metric="val_accuracy", method=method, n_trials=20,
                          n_initial=6, seed=seed)
    return -study.best_value


@pytest.mark.slow
def test_digits_mlp_bayes_beats_random_on_most_seeds():
    # A tie is no win: with ">=" the test passed with the Gaussian process removed (the
    # "Bayesian" search then is random search with the same seed, equal on every seed).
    # Measured: Bayesian better on 4 of 5 seeds, by 0.8-1.6 points, worse by 1.0 on one;
    # random search against random search with other seeds: better on 2 of 5.
    pytest.importorskip("sklearn")
    diffs = [_digits_search("bayes", s) - _digits_search("random", s) for s in range(5)]
    assert sum(d > 0 for d in diffs) >= 3 and np.mean(diffs) > 0


def test_importing_rosenblatt_does_not_import_scipy():
    code = "import sys, rosenblatt; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
