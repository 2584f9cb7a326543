"""Audit a4 (session 8) fixes in rb.sklearn's MLPs: scikit-learn's stopping rule with ties
(F-A), Nesterov momentum for optimizer="sgd" (F-B), targets whose squared error overflows
float32 (F-F)."""


import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.neural_network import MLPClassifier as ReferenceClassifier  # noqa: E402

import rosenblatt as rb  # noqa: E402
from rosenblatt.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

from .test_sklearn import _reference_on_our_weights  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _sklearn_stop(values, tol, n_iter_no_change, early_stopping):
    """The epoch at which scikit-learn's own rule (``_update_no_improvement_count``) stops on
    the sequence ``values`` (validation scores, or training losses); None if it does not."""
    ref = ReferenceClassifier(tol=tol, n_iter_no_change=n_iter_no_change)
    ref.validation_scores_, ref.loss_curve_ = [], []
    ref.best_validation_score_, ref.best_loss_, ref._no_improvement_count = -np.inf, np.inf, 0
    ref.coefs_, ref.intercepts_ = [], []
    scores = iter(values)
    ref._score = lambda X, y, sample_weight=None: next(scores)
    for epoch, value in enumerate(values, 1):
        if not early_stopping:
            ref.loss_curve_.append(value)
        ref._update_no_improvement_count(early_stopping, None, None, None)
        if ref._no_improvement_count > n_iter_no_change:
            return epoch
    return None


# -- F-A: an epoch equal to the best value is an improvement at tol=0, as scikit-learn -----------
@pytest.mark.parametrize("tol, scores", [
    # plateaus at the best accuracy (ties), dips below it, and a final stall
    (0.0, [0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.7, 0.65, 0.65, 0.7, 0.75, 0.6, 0.6, 0.6, 0.6, 0.6]),
    # scores exactly best + tol (binary fractions: no round-off in best + tol)
    (0.25, [0.0, 0.25, 0.5, 0.5, 0.75, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
])
def test_early_stopping_counts_ties_with_the_best_score_as_scikit_learn(tol, scores):
    expected = _sklearn_stop(scores, tol, 3, early_stopping=True)
    assert expected is not None and expected > 6  # the old strict rule stopped by epoch 6
    X, y = rb.datasets.moons(60, rng=0)
    clf = MLPClassifier((4,), early_stopping=True, tol=tol, n_iter_no_change=3, max_iter=40,
                        random_state=0)
    stream = iter(scores)
    clf._validation_score = lambda model, X_val, t_val: next(stream)  # scripted scores
    clf.fit(X, y)
    assert clf.n_iter_ == expected
    assert clf.validation_scores_ == scores[:expected]
    assert clf.best_validation_score_ == max(scores[:expected])


def test_training_loss_plateau_does_not_stop_at_tol_zero_as_scikit_learn():
    """A step far below float32's resolution leaves the weights, and the loss, unchanged: an
    exact tie every epoch, which scikit-learn counts as an improvement at tol=0."""
    X, y = rb.datasets.moons(40, rng=0)
    clf = MLPClassifier((4,), optimizer="sgd", momentum=0.0, learning_rate_init=1e-30,
                        alpha=0.0, batch_size=40, shuffle=False, tol=0.0, n_iter_no_change=2,
                        max_iter=12, random_state=0).fit(X, y)
    curve = clf.loss_curve_
    assert len(set(curve[1:])) == 1  # the plateau this test is about
    assert _sklearn_stop(curve, 0.0, 2, early_stopping=False) is None
    assert clf.n_iter_ == 12  # the strict rule stopped after 2 + 1 epochs without a fall
    # with tol > 0 the plateau is no improvement: stop after n_iter_no_change + 1 of them
    clf.set_params(tol=1e-6).fit(X, y)
    assert clf.n_iter_ == _sklearn_stop(clf.loss_curve_, 1e-6, 2, early_stopping=False) == 4


# -- F-B: nesterovs_momentum, scikit-learn's name and default -----------------------------------
@pytest.mark.parametrize("nesterov", [None, True, False])
def test_sgd_momentum_steps_as_scikit_learns_sgd(nesterov):
    g = np.random.default_rng(0)
    X = g.normal(size=(120, 4))
    y = np.tanh(X @ g.normal(size=4))
    common = dict(alpha=1e-4, batch_size=32, learning_rate_init=0.05, momentum=0.9,
                  shuffle=False, tol=0.0, n_iter_no_change=100)
    switch = {} if nesterov is None else {"nesterovs_momentum": nesterov}  # None: defaults
    ours = MLPRegressor((8,), optimizer="sgd", max_iter=4, random_state=0, **common, **switch)
    ref = _reference_on_our_weights(ours, X, y, solver="sgd", **common, **switch)
    ours.fit(X, y)
    ref.fit(X, y)
    assert ours.get_params()["nesterovs_momentum"] is (nesterov is not False)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-5)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-4, atol=1e-5)


def test_nesterovs_momentum_is_checked_and_needs_no_momentum():
    X, y = rb.datasets.xor()
    with pytest.raises(TypeError, match=r"MLPClassifier: nesterovs_momentum must be True or "
                                        r"False; got 'no'"):
        MLPClassifier((4,), optimizer="sgd", nesterovs_momentum="no", max_iter=1).fit(X, y)
    # as scikit-learn's: with momentum=0 the switch changes nothing (plain SGD)
    plain = [MLPClassifier((4,), optimizer="sgd", momentum=0.0, nesterovs_momentum=flag,
                           max_iter=3, random_state=0).fit(X, y).loss_curve_
             for flag in (True, False)]
    assert plain[0] == plain[1]


# -- F-F: targets whose squared error overflows float32 ---------------------------------------
def test_targets_whose_square_overflows_float32_are_refused_with_the_fix():
    g = np.random.default_rng(0)
    X = g.normal(size=(50, 2))
    y = 1e20 * X[:, 0]  # within float32's range, but its square is not
    for method in ("fit", "partial_fit"):
        with pytest.raises(ValueError, match=r"MLPRegressor: y holds values too large for the "
                                             r"float32 squared error .* scale the data"):
            getattr(MLPRegressor((4,), max_iter=2, random_state=0), method)(X, y)


def test_a_first_epoch_overflow_from_large_targets_blames_the_data_not_the_learning_rate():
    g = np.random.default_rng(0)
    X = g.normal(size=(50, 2))
    y = 5e18 * (1 + 0.1 * X[:, 0])  # each square fits float32, a batch's sum of 50 does not
    with np.errstate(all="ignore"), pytest.raises(ValueError) as caught:
        MLPRegressor((4,), learning_rate_init=1e-12, max_iter=2, random_state=0).fit(X, y)
    message = str(caught.value)
    assert message.startswith("MLPRegressor: the loss diverged (epoch 1); the squared error of "
                              "targets this large")
    assert "scale y" in message and "learning_rate_init" not in message
    # a learning rate that explodes on ordinary targets is still blamed on the rate
    with np.errstate(all="ignore"), pytest.raises(ValueError, match=r"diverged \(epoch \d+\); "
                                                                    r"lower learning_rate_init"):
        MLPRegressor((16,), optimizer="sgd", momentum=0.0, learning_rate_init=1e6,
                     max_iter=50, random_state=0).fit(X * 1e3, X[:, 0] * 1e3)
