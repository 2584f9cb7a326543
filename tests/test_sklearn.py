"""rb.sklearn: scikit-learn's estimator checks, Pipeline, GridSearchCV, learning claims.

Checks skipped: only ``check_array_api_input``, which scikit-learn itself skips
unless the environment variable SCIPY_ARRAY_API is set (array-API inputs such
as CuPy/torch arrays are not supported: networks run on NumPy).
"""

import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import rosenblatt as rb  # noqa: E402
from rosenblatt.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@parametrize_with_checks([MLPClassifier(), MLPRegressor(),
                          MLPClassifier((16,), optimizer="lbfgs", max_iter=50),
                          MLPRegressor((16,), optimizer="lbfgs", max_iter=50)])
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = rb.datasets.load_digits()
    return rb.datasets.train_test_split(X, y, test_size=0.25, stratify=True)


def test_classifier_learns_digits_in_a_pipeline(digits):
    Xtr, Xte, ytr, yte = digits
    clf = make_pipeline(StandardScaler(), MLPClassifier((64,), max_iter=60, random_state=0))
    clf.fit(Xtr, ytr)
    assert clf.score(Xte, yte) >= 0.95
    proba = clf.predict_proba(Xte)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.log(proba), clf.predict_log_proba(Xte), atol=1e-8)


def test_grid_search_picks_parameters_and_is_reproducible():
    X, y = rb.datasets.moons(150, noise=0.2, rng=1)
    grid = GridSearchCV(MLPClassifier(max_iter=150, learning_rate_init=0.01, random_state=0),
                        {"hidden_layer_sizes": [(2,), (32,)], "alpha": [1e-4, 1.0]}, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X, y)
        again = cross_val_score(MLPClassifier(**grid.best_params_, max_iter=150,
                                              learning_rate_init=0.01, random_state=0), X, y, cv=3)
    assert grid.best_params_["hidden_layer_sizes"] == (32,)
    assert grid.best_score_ > 0.9
    np.testing.assert_allclose(again.mean(), grid.best_score_)


def test_regressor_fits_a_sine_and_multi_output():
    X, y = rb.datasets.sine(200, noise=0.05, rng=0)
    reg = MLPRegressor((32,), activation="tanh", learning_rate_init=0.01, batch_size=32,
                       random_state=0).fit(X, y.ravel())
    assert reg.score(X, y.ravel()) > 0.95 and reg.predict(X).shape == (200,)
    Y = np.hstack([y, -y])
    reg2 = MLPRegressor((32,), activation="tanh", learning_rate_init=0.01, batch_size=32,
                        random_state=0).fit(X, Y)
    assert reg2.predict(X).shape == (200, 2) and reg2.score(X, Y) > 0.9


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop", "adagrad"])
def test_every_optimizer_and_dropout_learn_moons(optimizer):
    X, y = rb.datasets.moons(200, noise=0.1, rng=0)
    lr = {"adam": 0.01, "sgd": 0.1, "rmsprop": 0.005, "adagrad": 0.1}[optimizer]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier((32,), optimizer=optimizer, learning_rate_init=lr, max_iter=200,
                            dropout=0.1, batch_size=32, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.95
    assert clf.n_iter_ == len(clf.loss_curve_) and clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_early_stopping_keeps_the_best_validation_weights(digits):
    Xtr, Xte, ytr, yte = digits
    clf = MLPClassifier((64,), early_stopping=True, validation_fraction=0.2, n_iter_no_change=5,
                        max_iter=300, learning_rate_init=0.01, random_state=0).fit(Xtr, ytr)
    assert clf.n_iter_ < 300 and len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_) > 0.9
    assert clf.score(Xte, yte) > 0.9
    X, y = rb.datasets.sine(200, noise=0.05, rng=0)
    reg = MLPRegressor((32,), activation="tanh", early_stopping=True, batch_size=32,
                       learning_rate_init=0.01, random_state=0).fit(X, y.ravel())
    assert reg.best_validation_score_ > 0.9
    with pytest.raises(ValueError, match="early_stopping needs more samples"):
        MLPClassifier(early_stopping=True).fit(X[:5], (y[:5] > 0).ravel())
    with pytest.raises(ValueError, match="validation_fraction"):
        MLPClassifier(early_stopping=True, validation_fraction=1.5).fit(X, (y > 0).ravel())


def test_string_labels_save_and_reload(tmp_path):
    X, y = rb.datasets.xor()
    X = np.repeat(X, 10, axis=0)
    labels = np.array(["no", "yes"])[np.repeat(y, 10)]
    clf = MLPClassifier((8,), activation="tanh", learning_rate_init=0.05, max_iter=500,
                        random_state=0).fit(X, labels)
    assert clf.score(X, labels) == 1.0 and set(clf.predict(X)) == {"no", "yes"}
    rb.save(clf.model_, tmp_path / "xor.st")  # the network alone: safetensors, no pickle
    logits = rb.load(tmp_path / "xor.st")(rb.tensor(X.astype(np.float64))).data
    np.testing.assert_array_equal(clf.classes_[logits.argmax(1)], clf.predict(X))


def test_random_state_and_rb_seed_make_fits_reproducible():
    X, y = rb.datasets.circles(100, rng=0)
    a = MLPClassifier((8,), max_iter=20, random_state=3).fit(X, y).predict_proba(X)
    b = MLPClassifier((8,), max_iter=20, random_state=3).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    rb.seed(5)
    c = MLPClassifier((8,), max_iter=20).fit(X, y).predict_proba(X)
    rb.seed(5)
    np.testing.assert_array_equal(c, MLPClassifier((8,), max_iter=20).fit(X, y).predict_proba(X))


@pytest.mark.parametrize("params, match", [
    ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"), ({"activation": "elu"}, "activation"),
    ({"optimizer": "newton"}, "optimizer"), ({"dropout": 1.0}, "dropout"),
    ({"batch_size": 0}, "batch_size"), ({"alpha": -1}, "alpha"),
    ({"random_state": "x"}, "random_state"),
])
def test_bad_parameters_are_reported_at_fit(params, match):
    X, y = rb.datasets.xor()
    with pytest.raises(ValueError, match=match):
        MLPClassifier(**params).fit(X, y)


def test_divergence_is_reported():
    X, y = rb.datasets.sine(50, rng=0)
    with pytest.raises(ValueError, match="diverged"), np.errstate(over="ignore", invalid="ignore"):
        MLPRegressor((16,), optimizer="sgd", momentum=0.0, learning_rate_init=1e6,
                     max_iter=50, random_state=0).fit(X * 1e3, y.ravel() * 1e3)


@pytest.mark.parametrize("params, error, match", [
    ({"optimizer": "sgd", "momentum": 1}, ValueError,
     r"MLPClassifier: momentum must be in \[0, 1\); got 1\.0"),
    ({"optimizer": "rmsprop", "momentum": 1.5}, ValueError, r"MLPClassifier: momentum must be"),
    ({"momentum": None}, TypeError, r"MLPClassifier: momentum must be a number; got NoneType"),
    ({"alpha": None}, TypeError, r"MLPClassifier: alpha must be a number; got NoneType"),
    ({"alpha": "0.1"}, TypeError, r"MLPClassifier: alpha must be a number; got str"),
    ({"tol": None}, TypeError, r"MLPClassifier: tol must be a number"),
    ({"learning_rate_init": None}, TypeError, r"MLPClassifier: learning_rate_init must be a "),
    ({"learning_rate_init": np.inf}, ValueError, r"learning_rate_init must be finite and > 0"),
    ({"dropout": "0.5"}, TypeError, r"MLPClassifier: dropout must be a number"),
    ({"max_iter": 2.5}, ValueError, r"MLPClassifier: max_iter must be a positive integer; "
                                    r"got 2\.5"),
    ({"max_iter": True}, ValueError, r"max_iter must be a positive integer; got True"),
    ({"batch_size": True}, ValueError, r"batch_size must be 'auto' or a positive integer; "
                                       r"got True"),
    ({"batch_size": 4.0}, ValueError, r"batch_size must be 'auto' or a positive integer"),
    ({"n_iter_no_change": 1.5}, ValueError, r"n_iter_no_change must be a positive integer"),
])
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_hyper_parameters_are_checked_by_type_and_range(cls, params, error, match):
    X, y = rb.datasets.xor()
    y = y if cls is MLPClassifier else y.astype(float)
    with pytest.raises(error, match=match.replace("MLPClassifier", cls.__name__)):
        cls((4,), **{"max_iter": 2, **params}).fit(X, y)


def test_momentum_just_below_one_still_trains():
    X, y = rb.datasets.xor()
    MLPClassifier((4,), optimizer="sgd", momentum=0.99, max_iter=2).fit(X, y)


@pytest.mark.parametrize("make, error, match", [
    (lambda: rb.sklearn.Autoencoder(2, learning_rate_init=None, max_iter=1), TypeError,
     r"Autoencoder: learning_rate_init must be a number; got NoneType"),
    (lambda: rb.sklearn.Autoencoder(2, max_iter=1.5), ValueError,
     r"Autoencoder: max_iter must be a positive integer; got 1\.5"),
    (lambda: rb.sklearn.Autoencoder(2, max_iter=1, batch_size=True), ValueError,
     r"Autoencoder: batch_size must be a positive integer; got True"),
    (lambda: rb.sklearn.BernoulliRBM(2, momentum=None), TypeError,
     r"BernoulliRBM: momentum must be a number; got NoneType"),
    (lambda: rb.sklearn.BernoulliRBM(2, momentum=1.0), ValueError,
     r"BernoulliRBM: momentum must be in \[0, 1\)"),
    (lambda: rb.sklearn.BernoulliRBM(2, learning_rate="0.1"), TypeError,
     r"BernoulliRBM: learning_rate must be a number; got str"),
    (lambda: rb.sklearn.BernoulliRBM(2, learning_rate=True), TypeError,
     r"BernoulliRBM: learning_rate must be a number; got bool"),
    (lambda: rb.sklearn.SparseCoding(2, max_iter=None), ValueError,
     r"SparseCoding: max_iter must be a positive integer; got None"),
    (lambda: rb.sklearn.SparseCoding(2, max_iter=1, tol=None), TypeError,
     r"SparseCoding: tol must be a number; got NoneType"),
    (lambda: rb.sklearn.SparseCoding(2, max_iter=1, lam="0.1"), TypeError,
     r"SparseCoding: lam must be a number; got str"),
])
def test_unsupervised_estimators_check_hyper_parameter_types(make, error, match):
    X = np.random.default_rng(0).uniform(size=(20, 3))
    with pytest.raises(error, match=match):
        make().fit(X > 0.5 if "RBM" in match else X)


# -- audit a3 ------------------------------------------------------------------------------
def test_refit_without_early_stopping_resets_best_validation_score():
    X, y = rb.datasets.moons(60, noise=0.1, rng=0)
    clf = MLPClassifier((4,), max_iter=3, early_stopping=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        assert clf.best_validation_score_ is not None
        clf.set_params(early_stopping=False).fit(X, y)
    assert clf.best_validation_score_ is None and clf.validation_scores_ is None


def test_regressor_minimises_half_the_squared_error_as_scikit_learn():
    """scikit-learn: mean((y - f)^2) / 2 + alpha / (2 n) ||W||^2, so alpha means the same."""
    g = np.random.default_rng(0)
    X = g.normal(size=(100, 3))
    y = X @ np.array([1.5, -2.0, 0.5]) + 0.1 * g.normal(size=100)
    reg = MLPRegressor((4,), activation="identity", alpha=0.0, learning_rate_init=0.01,
                       max_iter=150, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    half_mse = 0.5 * np.mean((reg.predict(X) - y) ** 2)
    assert reg.loss_ == pytest.approx(half_mse, rel=0.2)  # the full MSE would be twice it
    pred = rb.tensor(np.array([[1.0], [3.0]], dtype=np.float32))
    assert float(reg._loss(pred, np.zeros((2, 1), np.float32)).data) == pytest.approx(2.5)


def test_lbfgs_matches_scikit_learns_lbfgs_solver(digits):
    from sklearn.neural_network import MLPClassifier as Reference

    Xtr, Xte, ytr, yte = digits
    ours = MLPClassifier((64,), optimizer="lbfgs", alpha=1e-3, max_iter=200,
                         random_state=0).fit(Xtr, ytr)
    ref = Reference((64,), solver="lbfgs", alpha=1e-3, max_iter=200, random_state=0).fit(Xtr, ytr)
    # the same objective (cross-entropy + alpha / (2 n) ||W||^2) to a small gradient: both fit
    # the training set and generalise alike, in a similar number of iterations
    assert ours.score(Xtr, ytr) == ref.score(Xtr, ytr) == 1.0
    assert abs(ours.score(Xte, yte) - ref.score(Xte, yte)) < 0.03
    assert ours.n_iter_ <= 2 * ref.n_iter_ and ours.loss_ < 2 * ref.loss_
    assert ours.loss_curve_ is None and ours.best_validation_score_ is None


def test_lbfgs_regressor_warns_at_max_iter_and_refuses_dropout_and_early_stopping():
    X, y = rb.datasets.sine(200, noise=0.05, rng=0)
    reg = MLPRegressor((32,), activation="tanh", optimizer="lbfgs", max_iter=400,
                       random_state=0).fit(X, y.ravel())
    assert reg.score(X, y.ravel()) > 0.98 and reg.n_iter_ <= 400
    with pytest.warns(ConvergenceWarning, match="max_iter=3 L-BFGS iterations"):
        MLPRegressor((32,), optimizer="lbfgs", max_iter=3, random_state=0).fit(X, y.ravel())
    for bad in ({"dropout": 0.1}, {"early_stopping": True}):
        with pytest.raises(ValueError, match="optimizer='lbfgs' searches along lines"):
            MLPRegressor(optimizer="lbfgs", **bad).fit(X, y.ravel())
