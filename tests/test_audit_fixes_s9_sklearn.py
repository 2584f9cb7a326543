"""Audit s9/b3 fixes in rb.sklearn's MLPs: dropout masks of continued fits with an int
random_state (finding 1), scikit-learn's ``best_loss_`` (finding 6)."""

import numpy as np
import pytest

pytest.importorskip("sklearn")

import rosenblatt as rb  # noqa: E402
from rosenblatt.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def masks(monkeypatch):
    """The training-mode dropout masks drawn while the test runs, in order."""
    drawn, forward = [], rb.nn.Dropout.forward

    def spy(self, x):
        out = forward(self, x)
        if self.training:
            drawn.append(np.asarray(out.data) != 0)
        return out

    monkeypatch.setattr(rb.nn.Dropout, "forward", spy)
    return drawn


def _stream(n_calls, seed=0):
    g = np.random.default_rng(seed)
    for _ in range(n_calls):
        X = g.normal(size=(32, 5))
        yield X, (X[:, 0] > 0).astype(int)


# -- finding 1: continued fits with an int random_state draw new dropout masks -----------------
def test_partial_fit_draws_new_dropout_masks_each_call_reproducibly(masks):
    def run():
        clf = MLPClassifier((16,), activation="logistic", dropout=0.5, random_state=0,
                            batch_size=32)
        for X, y in _stream(4):  # one minibatch a call: the usual online use
            clf.partial_fit(X, y, classes=[0, 1])
        return clf

    first = run()
    drawn = list(masks)
    assert len(drawn) == 4
    assert not any(np.array_equal(drawn[0], m) for m in drawn[1:])  # was: all equal
    masks.clear()
    second = run()  # an int: the same sequence of calls gives the same masks and model
    assert all(np.array_equal(a, b) for a, b in zip(drawn, masks))
    np.testing.assert_array_equal(first.predict_proba(np.eye(5)), second.predict_proba(np.eye(5)))


def test_warm_start_fit_draws_new_dropout_masks(masks):
    X, y = np.concatenate([X for X, _ in _stream(4)]), np.concatenate([y for _, y in _stream(4)])
    clf = MLPClassifier((16,), activation="logistic", dropout=0.5, random_state=0, batch_size=32,
                        max_iter=1, shuffle=False, warm_start=True)
    clf.fit(X, y)
    first = list(masks)
    masks.clear()
    clf.fit(X, y)
    assert len(first) == len(masks) == 4
    assert not any(np.array_equal(a, b) for a, b in zip(first, masks))  # was: replayed


def test_fresh_fit_with_an_int_is_unchanged_by_earlier_calls():
    # a cold fit starts from random_state alone: refitting gives the first fit's model
    X, y = np.concatenate([X for X, _ in _stream(4)]), np.concatenate([y for _, y in _stream(4)])
    clf = MLPClassifier((8,), dropout=0.3, random_state=3, batch_size=32, max_iter=3)
    before = clf.fit(X, y).predict_proba(X)
    clf.partial_fit(X, y)
    np.testing.assert_array_equal(clf.fit(X, y).predict_proba(X), before)


# -- finding 6: best_loss_, as scikit-learn's ---------------------------------------------------
def test_best_loss_is_the_lowest_loss_and_none_with_early_stopping_or_lbfgs():
    X, y = rb.datasets.sine(80, noise=0.05, rng=0)
    y = y.ravel()
    reg = MLPRegressor((8,), activation="tanh", batch_size=16, learning_rate_init=0.01,
                       max_iter=15, random_state=0, warm_start=True).fit(X, y)
    assert reg.best_loss_ == min(reg.loss_curve_)
    reg.fit(X, y)  # a warm start keeps the stopping rule's best, as scikit-learn
    assert len(reg.loss_curve_) == 30 and reg.best_loss_ == min(reg.loss_curve_)
    reg.partial_fit(X, y)
    assert reg.best_loss_ == min(reg.loss_curve_)
    stopped = MLPRegressor((8,), early_stopping=True, max_iter=5, random_state=0).fit(X, y)
    assert stopped.best_loss_ is None and stopped.best_validation_score_ is not None
    assert MLPRegressor((8,), optimizer="lbfgs", max_iter=5, random_state=0).fit(X, y) \
        .best_loss_ is None


def test_best_loss_matches_scikit_learn_from_the_same_weights():
    from .test_sklearn import _reference_on_our_weights

    g = np.random.default_rng(0)
    X = g.normal(size=(120, 4))
    y = X @ g.normal(size=4)
    common = dict(batch_size=40, learning_rate_init=0.01, shuffle=False)
    ours = MLPRegressor((8,), max_iter=12, random_state=0, **common)
    ref = _reference_on_our_weights(ours, X, y, **common)
    ours.fit(X, y)
    ref.fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-5)
    assert ours.best_loss_ == pytest.approx(ref.best_loss_, rel=1e-5)
