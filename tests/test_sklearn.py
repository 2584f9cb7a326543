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


# -- audit a7 ------------------------------------------------------------------------------
def _reference_on_our_weights(ours, X, y, **params):
    """scikit-learn's MLPRegressor started from the weights ``ours`` starts from."""
    from sklearn.neural_network import MLPRegressor as Reference

    from rosenblatt.sklearn import _generator

    sizes = list(ours.hidden_layer_sizes)
    init = ours._build(X.shape[1], 1, sizes, _generator(ours.random_state))
    dense = [layer for layer in init if isinstance(layer, rb.nn.Dense)]
    ref = Reference(hidden_layer_sizes=sizes, activation=ours.activation, max_iter=1,
                    random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X, y)  # builds the layers; the weights are replaced below
    ref.coefs_ = [layer.W.data.astype(np.float64) for layer in dense]
    ref.intercepts_ = [layer.b.data.astype(np.float64).ravel() for layer in dense]
    ref.loss_curve_, ref.best_loss_, ref._no_improvement_count = [], np.inf, 0
    return ref.set_params(warm_start=True, max_iter=ours.max_iter)


def test_loss_curve_counts_the_l2_penalty_in_every_batch_as_scikit_learn():
    """scikit-learn adds alpha/(2 batch) ||W||^2 to each batch's loss and averages the batches
    weighted by size; the gradient step uses the same penalty, so the loss must too."""
    g = np.random.default_rng(0)
    X = g.normal(size=(300, 5))
    y = X @ g.normal(size=5)
    common = dict(alpha=3.0, batch_size=64, learning_rate_init=0.01, momentum=0.0,
                  shuffle=False, tol=0.0, n_iter_no_change=100)
    ours = MLPRegressor((8,), optimizer="sgd", max_iter=8, random_state=0, **common)
    ref = _reference_on_our_weights(ours, X, y, solver="sgd", **common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y)
        ref.fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-5)
    assert ours.loss_ == pytest.approx(ref.loss_, rel=1e-5)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-4, atol=1e-4)


def test_tol_stopping_compares_scikit_learns_loss():
    """With a large alpha the penalty dominates: the stopping rule must see the same numbers."""
    g = np.random.default_rng(1)
    X = g.normal(size=(200, 4))
    y = X @ g.normal(size=4)
    common = dict(alpha=20.0, batch_size=20, learning_rate_init=1e-3, momentum=0.0,
                  shuffle=False, tol=0.05, n_iter_no_change=2)
    ours = MLPRegressor((6,), optimizer="sgd", max_iter=60, random_state=0, **common)
    ref = _reference_on_our_weights(ours, X, y, solver="sgd", **common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y)
        ref.fit(X, y)
    # both stop once the count of epochs without a tol improvement exceeds n_iter_no_change
    assert ours.n_iter_ < 60 and ref.n_iter_ == ours.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-5)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_early_stopping_guard_counts_the_validation_rows_as_split_makes_them(cls):
    X, y = rb.datasets.moons(16, noise=0.1, rng=0)
    y = y if cls is MLPClassifier else y.astype(float)
    # 10 samples, 10 %: ceil(1.0) = 1 row held out, too few to score
    with pytest.raises(ValueError, match=r"early_stopping needs more samples: "
                                         r"validation_fraction=0.1 of 10 leaves 1"):
        cls((4,), early_stopping=True, max_iter=3, random_state=0).fit(X[:10], y[:10])
    with warnings.catch_warnings():  # 16 samples: 16 - round(14.4) = 2 rows, finite scores
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = cls((4,), early_stopping=True, max_iter=3, random_state=0).fit(X, y)
    assert np.all(np.isfinite(est.validation_scores_))
    assert est.best_validation_score_ is not None


@pytest.mark.parametrize("params, error, match", [
    ({"hidden_layer_sizes": None}, ValueError, r"hidden_layer_sizes must be positive integers; "
                                               r"got None"),
    ({"hidden_layer_sizes": 5.0}, ValueError, r"hidden_layer_sizes must be positive integers"),
    ({"hidden_layer_sizes": "8"}, ValueError, r"hidden_layer_sizes must be positive integers"),
    ({"early_stopping": True, "validation_fraction": "0.1"}, TypeError,
     r"MLPClassifier: validation_fraction must be a number; got str"),
    ({"early_stopping": True, "validation_fraction": None}, TypeError,
     r"validation_fraction must be a number; got NoneType"),
    ({"validation_fraction": "0.1"}, TypeError, r"validation_fraction must be a number"),
    ({"early_stopping": True, "validation_fraction": 0.0}, ValueError,
     r"validation_fraction must be in \(0, 1\); got 0\.0"),
    ({"early_stopping": "no"}, TypeError, r"MLPClassifier: early_stopping must be True or "
                                          r"False; got 'no'"),
    ({"early_stopping": 1}, TypeError, r"early_stopping must be True or False; got 1"),
    ({"shuffle": "yes"}, TypeError, r"MLPClassifier: shuffle must be True or False; got 'yes'"),
    ({"shuffle": None}, TypeError, r"shuffle must be True or False; got None"),
])
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_sizes_fractions_and_flags_are_checked(cls, params, error, match):
    X, y = rb.datasets.moons(40, noise=0.2, rng=0)
    y = y if cls is MLPClassifier else y.astype(float)
    with pytest.raises(error, match=match.replace("MLPClassifier", cls.__name__)):
        cls(**{"max_iter": 2, **params}).fit(X, y)


def test_numpy_booleans_are_flags():
    X, y = rb.datasets.moons(40, noise=0.2, rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier((4,), max_iter=2, shuffle=np.True_, early_stopping=np.False_).fit(X, y)


@pytest.mark.parametrize("make, match", [
    (lambda: rb.sklearn.BernoulliRBM(2, n_iter=1, persistent="no"),
     r"BernoulliRBM: persistent must be True or False; got 'no'"),
    (lambda: rb.sklearn.BernoulliRBM(2, n_iter=1, verbose="x"),
     r"BernoulliRBM: verbose must be an integer or a bool; got 'x'"),
    (lambda: rb.sklearn.Autoencoder(2, max_iter=1, tied="yes"),
     r"Autoencoder: tied must be True or False; got 'yes'"),
])
def test_unsupervised_flags_are_checked(make, match):
    X = np.random.default_rng(0).uniform(size=(20, 3))
    with pytest.raises(TypeError, match=match):
        make().fit(X > 0.5 if "RBM" in match else X)


def _diverge(estimator, X, y):
    with pytest.raises(ValueError, match="diverged"), np.errstate(all="ignore"):
        estimator.set_params(optimizer="sgd", momentum=0.0, learning_rate_init=1e6,
                             max_iter=50).fit(X * 1e3, y * 1e3)


def test_a_failed_fit_leaves_the_estimator_as_it_was():
    from sklearn.exceptions import NotFittedError

    X, y = rb.datasets.sine(50, rng=0)
    y = y.ravel()
    reg = MLPRegressor((16,), random_state=0)
    _diverge(reg, X, y)
    assert not [k for k in vars(reg) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        reg.predict(X)
    good = MLPRegressor((16,), max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        good.fit(X, y)
    before, curve, n_iter = good.predict(X), list(good.loss_curve_), good.n_iter_
    _diverge(good, X, y)
    np.testing.assert_array_equal(good.predict(X), before)
    assert good.loss_curve_ == curve and good.n_iter_ == n_iter
    # the classifier keeps its classes too
    Xc, yc = rb.datasets.moons(60, noise=0.1, rng=0)
    clf = MLPClassifier((8,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(Xc, yc)
    proba = clf.predict_proba(Xc)
    with pytest.raises(ValueError), np.errstate(all="ignore"):
        clf.set_params(optimizer="sgd", momentum=0.0, learning_rate_init=1e9).fit(
            Xc * 1e6, np.array(["a", "b", "c"])[np.arange(60) % 3])
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    np.testing.assert_array_equal(clf.predict_proba(Xc), proba)


def test_a_failed_autoencoder_or_rbm_fit_leaves_no_model():
    from sklearn.exceptions import NotFittedError

    X = np.random.default_rng(0).normal(size=(64, 5)) * 1e3
    ae = rb.sklearn.Autoencoder(3, activation="relu", learning_rate_init=1e4, max_iter=30,
                                random_state=0)
    with pytest.raises(ValueError, match="diverged"), np.errstate(all="ignore"):
        ae.fit(X)
    with pytest.raises(NotFittedError):
        ae.transform(X[:2])
    rbm = rb.sklearn.BernoulliRBM(4, learning_rate=1.7e308, momentum=0.9, n_iter=5,
                                  random_state=0)
    with pytest.raises(ValueError, match="diverged"), np.errstate(all="ignore"):
        rbm.fit(np.random.default_rng(0).uniform(size=(30, 6)) > 0.5)
    with pytest.raises(NotFittedError):
        rbm.transform(np.ones((1, 6)))


# -- warm_start and partial_fit, against scikit-learn ---------------------------------------
def _regression_data(n=240, seed=0):
    g = np.random.default_rng(seed)
    X = g.normal(size=(n, 4))
    return X, np.tanh(X @ g.normal(size=4))


def test_warm_start_continues_the_fit_as_scikit_learn():
    X, y = _regression_data()
    common = dict(alpha=0.5, batch_size=32, learning_rate_init=0.05, momentum=0.0,
                  shuffle=False, tol=0.0, n_iter_no_change=100)
    ours = MLPRegressor((8,), optimizer="sgd", max_iter=3, warm_start=True, random_state=0,
                        **common)
    ref = _reference_on_our_weights(ours, X, y, solver="sgd", **common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(2):
            ours.fit(X, y)
            ref.fit(X, y)
        straight = MLPRegressor((8,), optimizer="sgd", max_iter=6, random_state=0,
                                **common).fit(X, y)
    assert ours.n_iter_ == ref.n_iter_ == 3 and len(ours.loss_curve_) == 6
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-5)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-4, atol=1e-5)
    # plain SGD has no state: two warm fits of 3 epochs are one fit of 6
    np.testing.assert_allclose(ours.loss_curve_, straight.loss_curve_, rtol=1e-6)


def test_warm_start_carries_the_stopping_rule_over_as_scikit_learn():
    X, y = _regression_data(seed=1)
    common = dict(batch_size=40, learning_rate_init=0.01, tol=1e-3, n_iter_no_change=2)
    ours = MLPRegressor((8,), max_iter=200, warm_start=True, random_state=0, **common)
    ref = _reference_on_our_weights(ours, X, y, solver="adam", shuffle=True, **common)
    ours.fit(X, y)
    ref.fit(X, y)
    assert ours.n_iter_ < 200 and ref.n_iter_ < 200  # both converged by the tol rule
    n = len(ours.loss_curve_)
    ours.fit(X, y)
    ref.fit(X, y)
    # after convergence the count is still past n_iter_no_change: one more epoch, as sklearn
    assert ours.n_iter_ == ref.n_iter_ == 1 and len(ours.loss_curve_) == n + 1


def test_partial_fit_matches_scikit_learn_and_keeps_the_optimizer_state():
    from sklearn.neural_network import MLPClassifier as Reference

    from rosenblatt.sklearn import _generator

    g = np.random.default_rng(2)
    X = g.normal(size=(150, 3))
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1], [-0.5, 0.5])  # 3 classes
    ours = MLPClassifier((6,), activation="tanh", batch_size=25, learning_rate_init=0.02,
                         shuffle=False, random_state=0)
    init = [m for m in ours._build(3, 3, [6], _generator(0)) if isinstance(m, rb.nn.Dense)]
    ref = Reference(hidden_layer_sizes=(6,), activation="tanh", batch_size=25,
                    learning_rate_init=0.02, shuffle=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # batch_size 25 > 5 rows: clipped
        ref.partial_fit(X[:5], y[:5], classes=[0, 1, 2])  # builds the layers
    ref.coefs_ = [m.W.data.astype(np.float64) for m in init]
    ref.intercepts_ = [m.b.data.astype(np.float64).ravel() for m in init]
    del ref._optimizer
    ref.loss_curve_ = []
    first = y[:50] != 2  # the first batch lacks a class: classes= names them all
    ours.partial_fit(X[:50][first], y[:50][first], classes=[2, 0, 1])
    ref.partial_fit(X[:50][first], y[:50][first])
    for lo in (50, 100):
        ours.partial_fit(X[lo:lo + 50], y[lo:lo + 50])
        ref.partial_fit(X[lo:lo + 50], y[lo:lo + 50])
    np.testing.assert_array_equal(ours.classes_, [0, 1, 2])
    assert ours.n_iter_ == ref.n_iter_ == 1 and len(ours.loss_curve_) == 3
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-4)


def test_partial_fit_learns_a_stream_and_continues_a_fit():
    X, y = rb.datasets.moons(400, noise=0.1, rng=0)
    clf = MLPClassifier((16,), learning_rate_init=0.02, batch_size=20, random_state=0)
    for _ in range(15):
        for lo in range(0, 400, 100):
            clf.partial_fit(X[lo:lo + 100], y[lo:lo + 100], classes=[0, 1])
    assert clf.score(X, y) > 0.95 and len(clf.loss_curve_) == 60
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = MLPClassifier((16,), max_iter=5, random_state=0).fit(X, y)
    before = len(fitted.loss_curve_)
    fitted.partial_fit(X, y)  # classes_ known: no classes= needed
    assert len(fitted.loss_curve_) == before + 1 and fitted.n_iter_ == 1
    reg = MLPRegressor((8,), random_state=0).partial_fit(X, y.astype(float))
    assert reg.predict(X).shape == (400,) and reg.n_iter_ == 1


def test_partial_fit_and_warm_start_refuse_what_they_cannot_continue():
    X, y = rb.datasets.moons(60, noise=0.1, rng=0)
    with pytest.raises(ValueError, match=r"MLPClassifier.partial_fit: pass classes="):
        MLPClassifier((4,)).partial_fit(X, y)
    clf = MLPClassifier((4,), random_state=0).partial_fit(X, y, classes=[0, 1])
    curve = list(clf.loss_curve_)
    with pytest.raises(ValueError, match=r"classes=\[0, 1, 2\] differs from the fitted classes"):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"y holds labels not in classes_ \[0, 1\]: \[7\]"):
        clf.partial_fit(X, np.where(y == 1, 7, 0))
    with pytest.raises(ValueError, match=r"X has 1 features, but MLPClassifier is expecting 2"):
        clf.partial_fit(X[:, :1], y)
    with pytest.raises(ValueError, match=r"warm_start and partial_fit continue the fitted "
                                         r"network, of layer widths \[4\]"):
        clf.set_params(hidden_layer_sizes=(5,)).partial_fit(X, y)
    assert clf.loss_curve_ == curve  # the failed calls changed nothing
    with pytest.raises(ValueError, match=r"partial_fit: early_stopping holds out"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1])
    assert not hasattr(MLPClassifier(optimizer="lbfgs"), "partial_fit")
    with pytest.raises(AttributeError, match=r"has no attribute 'partial_fit'") as err:
        MLPRegressor(optimizer="lbfgs").partial_fit(X, y)
    assert "optimizer='lbfgs' has no partial_fit" in str(err.value.__cause__)
    warm = MLPClassifier((4,), max_iter=2, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm.fit(X, y)
        with pytest.raises(ValueError, match=r"warm_start continues a classifier of the "
                                             r"classes \[0, 1\]; y has \[1, 2\]"):
            warm.fit(X, y + 1)
        with pytest.raises(ValueError, match=r"X has 1 features"):
            warm.fit(X[:, :1], y)
        warm.set_params(warm_start=False).fit(X[:, :1], y + 1)  # a cold fit may change both
        with pytest.raises(ValueError, match=r"of layer widths \[4\] and 1 outputs; got "
                                             r"hidden_layer_sizes=\[4\] and 2 outputs"):
            MLPRegressor((4,), max_iter=2, warm_start=True).fit(X, y.astype(float)).fit(
                X, np.c_[y, y].astype(float))
    with pytest.raises(TypeError, match=r"warm_start must be True or False; got 'yes'"):
        MLPClassifier(warm_start="yes").fit(X, y)


def test_warm_start_with_early_stopping_extends_the_validation_scores():
    X, y = rb.datasets.moons(200, noise=0.2, rng=0)
    clf = MLPClassifier((8,), early_stopping=True, warm_start=True, n_iter_no_change=3,
                        max_iter=40, learning_rate_init=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        first, best = len(clf.validation_scores_), clf.best_validation_score_
        clf.fit(X, y)
    assert len(clf.validation_scores_) == first + clf.n_iter_ == len(clf.loss_curve_)
    assert clf.best_validation_score_ == max(clf.validation_scores_) >= best


# -- audit s6 (a4) ---------------------------------------------------------------------------
def _sgd_step_from_our_weights(n_outputs):
    """One full-batch SGD step (no momentum) of ours and of scikit-learn's from the same
    weights: the first layers' steps, and the reported losses."""
    from sklearn.neural_network import MLPRegressor as Reference

    g = np.random.default_rng(0)
    X = g.normal(size=(40, 3))
    Y = g.normal(size=(40, n_outputs))
    y = Y.ravel() if n_outputs == 1 else Y
    common = dict(hidden_layer_sizes=(5,), activation="tanh", alpha=0.5, batch_size=40,
                  learning_rate_init=0.1, max_iter=1, shuffle=False, momentum=0.0,
                  random_state=0, warm_start=True)
    ref = Reference(solver="sgd", nesterovs_momentum=False, **common)
    ours = MLPRegressor(optimizer="sgd", **common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X, y)
        ours.fit(X, y)
        W0 = [W.copy() for W in ref.coefs_]
        for layer, W, b in zip([m for m in ours.model_ if isinstance(m, rb.nn.Dense)], W0,
                               ref.intercepts_):
            layer.W.data[...] = W
            layer.b.data[...] = b
        ref.fit(X, y)
        ours.fit(X, y)
    first = next(m for m in ours.model_ if isinstance(m, rb.nn.Dense))
    return first.W.data - W0[0], ref.coefs_[0] - W0[0], ours.loss_curve_[-1], ref.loss_curve_[-1]


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_multi_output_regressor_steps_as_scikit_learn(n_outputs):
    """scikit-learn trains on the sum over outputs (reporting the mean): alpha then weighs
    the same against the data for any number of outputs."""
    ours, ref, our_loss, ref_loss = _sgd_step_from_our_weights(n_outputs)
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    assert our_loss == pytest.approx(ref_loss, rel=1e-5)


def test_multi_output_lbfgs_regressor_reports_the_mean_over_outputs():
    g = np.random.default_rng(1)
    X = g.normal(size=(60, 3))
    Y = np.tanh(X @ g.normal(size=(3, 2)))
    reg = MLPRegressor((6,), optimizer="lbfgs", alpha=0.1, max_iter=30, random_state=0)
    reg.fit(X, Y)
    pred = reg.predict(X)
    weights = sum(float(np.sum(m.W.data ** 2)) for m in reg.model_ if isinstance(m, rb.nn.Dense))
    expected = 0.5 * np.mean((pred - Y) ** 2) + 0.5 * 0.1 * weights / len(X)
    assert reg.loss_ == pytest.approx(expected, rel=1e-4)


def test_n_iter_no_change_waits_as_scikit_learn():
    from sklearn.neural_network import MLPClassifier as Reference

    X, y = rb.datasets.moons(100, rng=0)
    common = dict(hidden_layer_sizes=(5,), tol=10.0, n_iter_no_change=3, max_iter=100,
                  random_state=0)
    # no epoch after the first improves by tol: the count exceeds 3 after epoch 5
    assert MLPClassifier(**common).fit(X, y).n_iter_ == Reference(**common).fit(X, y).n_iter_ == 5


@pytest.mark.parametrize("n, fraction", [(15, 0.1), (10, 0.25), (30, 0.15), (40, 0.2)])
def test_early_stopping_holds_out_as_many_rows_as_scikit_learn(n, fraction):
    from sklearn.model_selection import train_test_split

    X = np.random.default_rng(0).normal(size=(n, 2)).astype(np.float32)
    y = np.arange(n) % 2
    clf = MLPClassifier(early_stopping=True, validation_fraction=fraction)
    _, _, X_val, _ = clf._hold_out(X, y, np.random.default_rng(0))
    assert len(X_val) == len(train_test_split(X, test_size=fraction)[1])


def test_values_beyond_float32_are_refused_with_the_reason():
    X = np.random.default_rng(0).normal(size=(20, 3))
    X[0, 0] = 1e39
    y = np.arange(20) % 2
    for est, target in ((MLPClassifier((4,), max_iter=2), y),
                        (MLPRegressor((4,), max_iter=2), y.astype(float)),
                        (rb.sklearn.Autoencoder(2, max_iter=2), None)):
        with pytest.raises(ValueError, match=r"X holds values beyond float32's range .* scale "
                                             r"the data"):
            est.fit(X, target)
    with pytest.raises(ValueError, match=r"y holds values beyond float32's range"):
        MLPRegressor((4,), max_iter=2).partial_fit(X[1:], np.full(19, -1e40))
    with pytest.raises(ValueError, match=r"X holds values beyond float32's range"):
        MLPClassifier((4,)).partial_fit(X, y, classes=[0, 1])


def test_lbfgs_predict_log_proba_is_the_log_of_predict_proba():
    from sklearn.utils.estimator_checks import check_classifiers_train

    X, y = rb.datasets.moons(60, noise=0.1, rng=0)
    clf = MLPClassifier((8,), optimizer="lbfgs", max_iter=5, random_state=0).fit(X, y)
    clf.model_[-1].W.data *= 1e5  # logits thousands apart, as a long L-BFGS run makes them
    proba = clf.predict_proba(X)
    assert (proba == 0).any()  # underflowed
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(clf.predict_log_proba(X), np.log(proba))
    # scikit-learn's check of the same convention (its own log(predict_proba) divides by 0)
    with warnings.catch_warnings(), np.errstate(divide="ignore"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_classifiers_train("MLPClassifier", MLPClassifier(optimizer="lbfgs", random_state=0))


# BernoulliRBM
def _binary(n, d=6, seed=0):
    return (np.random.default_rng(seed).random((n, d)) > 0.5).astype(float)


def test_rbm_minibatches_are_scikit_learns(monkeypatch):
    from rosenblatt.sklearn import BernoulliRBM

    sizes = []
    update = BernoulliRBM._update
    monkeypatch.setattr(BernoulliRBM, "_update", lambda self, v: sizes.append(len(v))
                        or update(self, v))
    BernoulliRBM(3, batch_size=10, n_iter=1, random_state=0).fit(_binary(25))
    assert sizes == [10, 10, 5]  # scikit-learn's gen_even_slices(30, 3, n_samples=25)


@pytest.mark.parametrize("rows", [10, 7, 13])
def test_rbm_update_of_any_batch_equals_scikit_learns(rows):
    """Visible biases of +-40 make the negative sample deterministic: the update of a batch
    of other than batch_size rows must divide both phases by its rows, as scikit-learn."""
    from sklearn.neural_network import BernoulliRBM as Reference

    g = np.random.default_rng(1)
    nv, nh, chains = 6, 4, 10
    W, c = g.normal(0, 0.5, (nh, nv)), g.normal(size=nh)
    b = np.where(g.random(nv) > 0.5, 40.0, -40.0)
    H = (g.random((chains, nh)) > 0.5).astype(float)
    X = _binary(rows, nv, seed=2)
    fitted = []
    for cls in (rb.sklearn.BernoulliRBM, Reference):
        est = cls(n_components=nh, batch_size=chains, learning_rate=0.1, random_state=0)
        if cls is Reference:
            est.partial_fit(X[:1])  # builds the attributes set below
        est.components_ = W.copy()
        est.intercept_hidden_, est.intercept_visible_ = c.copy(), b.copy()
        est.h_samples_ = H.copy()
        est.partial_fit(X)
        fitted.append(est)
    ours, ref = fitted
    np.testing.assert_allclose(ours.components_, ref.components_, atol=1e-12)
    np.testing.assert_allclose(ours.intercept_hidden_, ref.intercept_hidden_, atol=1e-12)
    np.testing.assert_allclose(ours.intercept_visible_, ref.intercept_visible_, atol=1e-12)


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_a_copied_rbm_trains_on_as_the_original(how):
    import copy
    import pickle

    X = _binary(40)
    rbm = rb.sklearn.BernoulliRBM(3, n_iter=2, momentum=0.5, random_state=0).fit(X)
    twin = pickle.loads(pickle.dumps(rbm)) if how == "pickle" else copy.deepcopy(rbm)
    np.testing.assert_array_equal(twin.transform(X), rbm.transform(X))
    # the same velocity and generator state: the copies take the same steps
    for est in (rbm, twin):
        est.partial_fit(X[:10]).partial_fit(X[10:20])
    np.testing.assert_array_equal(twin.components_, rbm.components_)
    np.testing.assert_array_equal(twin.h_samples_, rbm.h_samples_)
    assert twin.components_.base is not None  # still a view into the packed vector


def test_rbm_set_params_between_partial_fits_takes_effect():
    X = _binary(40)
    rbm = rb.sklearn.BernoulliRBM(3, random_state=0).partial_fit(X[:10])
    rbm.set_params(k=5, persistent=False, learning_rate=0.01).partial_fit(X[:10])
    assert rbm.rbm_.k == 5 and not rbm.rbm_.persistent and rbm.h_samples_ is None
    assert rbm._optimizer.lr == 0.01
    rbm.set_params(persistent=True, batch_size=4).partial_fit(X[:10])
    assert rbm.rbm_.persistent and rbm.h_samples_.shape == (4, 3)
    with pytest.raises(ValueError, match="k must be"):
        rbm.set_params(k=0).partial_fit(X[:10])


def test_rbm_takes_sparse_input_as_scikit_learn():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    X = _binary(50, 20)
    X[X.sum(axis=1) > 12] = 0  # some empty rows, stored as such
    S = scipy_sparse.csr_matrix(X)
    dense = rb.sklearn.BernoulliRBM(4, batch_size=8, n_iter=2, random_state=0).fit(X)
    sparse = rb.sklearn.BernoulliRBM(4, batch_size=8, n_iter=2, random_state=0).fit(S)
    np.testing.assert_array_equal(sparse.components_, dense.components_)
    np.testing.assert_array_equal(sparse.transform(S), dense.transform(X))
    np.testing.assert_array_equal(sparse.score_samples(S.tocsc()), dense.score_samples(X))
    sparse.partial_fit(S[:10])
    dense.partial_fit(X[:10])
    np.testing.assert_array_equal(sparse.components_, dense.components_)
    assert sparse.gibbs(S[:3]).shape == (3, 20)
