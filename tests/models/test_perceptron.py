"""The perceptron: Rosenblatt's rule converges on separable data and cannot fit XOR."""

import itertools

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.models import Perceptron

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_SIGN = np.array([-1, 1, 1, -1])


@pytest.mark.parametrize("output, low", [("sign", -1), ("binary", 0)])
def test_learns_the_separable_boolean_functions(output, low):
    for name, truth in [("AND", [0, 0, 0, 1]), ("OR", [0, 1, 1, 1]), ("NAND", [1, 1, 1, 0])]:
        y = np.where(np.array(truth) == 1, 1, low)
        p = Perceptron(2, output=output)
        errors = p.fit(XOR_X, y, epochs=50)
        assert errors[-1] == 0 and len(errors) < 50, name
        np.testing.assert_array_equal(p.predict(XOR_X), y)


def test_converges_on_separable_data_within_novikoffs_bound(rng):
    """Mistakes <= (R / gamma)^2 for data separated with margin gamma (Novikoff 1962)."""
    w_true = np.array([2.0, -1.0, 0.5])
    X = rng.uniform(-1, 1, size=(300, 3))
    margin = X @ w_true
    keep = np.abs(margin) > 0.3
    X, y = X[keep], np.sign(margin[keep])
    gamma = np.min(np.abs(X @ w_true)) / np.linalg.norm(w_true)
    R = np.max(np.linalg.norm(np.c_[X, np.ones(len(X))], axis=1))
    p = Perceptron(3)
    errors = p.fit(X, y, epochs=1000, shuffle=True, rng=rng)
    assert errors[-1] == 0
    assert p.score(X, y) == 1.0
    assert sum(errors) <= (R / gamma) ** 2  # R over the inputs augmented with the bias 1


def test_cannot_fit_xor_rule_never_reaches_four_of_four():
    for lr, output in itertools.product([1.0, 0.1, 0.37], ["sign", "binary"]):
        y = XOR_SIGN if output == "sign" else (XOR_SIGN + 1) // 2
        p = Perceptron(2, output=output, lr=lr)
        errors = p.fit(XOR_X, y, epochs=500)
        assert len(errors) == 500 and min(errors) > 0
        assert p.score(XOR_X, y) <= 0.75


def test_no_threshold_unit_separates_xor(rng):
    """The proof, checked: the four conditions
    b <= 0, w1 + b > 0, w2 + b > 0, w1 + w2 + b <= 0 are contradictory
    (add the middle two: w1 + w2 + 2b > 0, so w1 + w2 + b > -b >= 0)."""
    W = rng.normal(size=(200_000, 3)) * rng.choice([0.1, 1, 10], size=(200_000, 1))
    net = np.c_[XOR_X, np.ones(4)] @ W.T  # (4 points, candidates)
    correct = ((net > 0) == (XOR_SIGN[:, None] > 0)).sum(axis=0)
    assert correct.max() == 3
    w1, w2, b = W.T
    conditions = (b <= 0) & (w1 + b > 0) & (w2 + b > 0) & (w1 + w2 + b <= 0)
    assert not conditions.any()


def test_predict_forward_and_module_api():
    p = Perceptron(2)
    p.fit(XOR_X, [-1, -1, -1, 1], epochs=20)
    assert p(rb.tensor(XOR_X)).data.tolist() == [-1, -1, -1, 1]
    assert p.net(XOR_X).shape == (4,)
    state = p.state_dict()
    q = Perceptron(2).load_state_dict(state)
    np.testing.assert_array_equal(q.predict(XOR_X), p.predict(XOR_X))
    assert "Perceptron(2, output='sign', lr=1.0)" in repr(p)


def test_errors():
    with pytest.raises(ValueError, match="output must be 'sign' or 'binary'; got 'tanh'"):
        Perceptron(2, output="tanh")
    with pytest.raises(ValueError, match=r"with output='sign' targets must be -1 or 1"):
        Perceptron(2).fit(XOR_X, [0, 1, 1, 0])
    with pytest.raises(ValueError, match=r"Perceptron\(2\).fit: expected X of shape \(n, 2\); "
                                         r"got \(4, 3\)"):
        Perceptron(2).fit(np.zeros((4, 3)), [1, 1, 1, 1])
    with pytest.raises(ValueError, match="X has 4 rows but y has 3"):
        Perceptron(2).fit(XOR_X, [1, 1, 1])
    with pytest.raises(ValueError, match="n_inputs must be a positive integer"):
        Perceptron(0)
    bad = XOR_X.astype(float).copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN or inf \(first in row 2\)"):
        Perceptron(2).fit(bad, [1, 1, 1, 1])


def test_predict_keeps_the_perceptrons_float32_dtype():
    p = Perceptron(2, dtype=np.float32)
    p.fit(np.array([[0, 0], [1, 1]], np.float32), [-1, 1])
    assert p.predict(np.array([[0, 0], [1, 1]], np.float32)).dtype == np.float32
    assert p(np.array([[1, 1]], np.float32)).data.dtype == np.float32


def test_score_refuses_a_wrong_length_y_and_predict_refuses_nan():
    p = Perceptron(2)
    p.fit(XOR_X, [-1, -1, -1, 1])
    with pytest.raises(ValueError, match=r"Perceptron.score: X has 4 rows but y has 1"):
        p.score(XOR_X, [1])
    with pytest.raises(ValueError, match=r"Perceptron.score: X has 4 rows but y has 3"):
        p.score(XOR_X, [1, 1, 1])
    with pytest.raises(ValueError,
                       match=r"Perceptron.predict: X contains NaN or inf \(first in row 1\)"):
        p.predict(np.array([[0.0, 0.0], [np.nan, 0.0]]))


def test_fit_and_score_refuse_no_examples():
    """Audit s5 a8 #14 (scikit-learn refuses 0 samples too)."""
    p = Perceptron(2)
    with pytest.raises(ValueError, match="Perceptron.fit: X holds no examples"):
        p.fit(np.zeros((0, 2)), [])
    with pytest.raises(ValueError, match="Perceptron.score: X holds no examples"):
        p.score(np.zeros((0, 2)), [])
