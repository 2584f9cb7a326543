"""rb.sklearn.Autoencoder and rb.sklearn.SparseCoding: scikit-learn's estimator checks and a
Pipeline of learned features before a classifier."""

import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import rosenblatt as rb  # noqa: E402
from rosenblatt.sklearn import Autoencoder, SparseCoding  # noqa: E402


@parametrize_with_checks([Autoencoder(n_hidden=8, max_iter=5), SparseCoding(n_atoms=6, max_iter=3)])
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


@pytest.mark.parametrize("make", [
    lambda: Autoencoder(48, output="sigmoid", noise=("masking", 0.2), max_iter=10,
                        random_state=0),
    lambda: SparseCoding(48, lam=0.1, max_iter=3, random_state=0)])
def test_learned_features_feed_a_classifier_in_a_pipeline(make):
    X, y = rb.datasets.load_digits()
    Xtr, Xte, ytr, yte = rb.datasets.train_test_split(X, y, test_size=0.25, stratify=True, rng=0)
    pipe = make_pipeline(make(), LogisticRegression(max_iter=2000)).fit(Xtr, ytr)
    assert pipe.score(Xte, yte) > 0.9
    codes = pipe[0].transform(Xte)
    assert codes.shape == (len(Xte), 48) and np.isfinite(codes).all()


# -- audit a3 ------------------------------------------------------------------------------
@pytest.mark.parametrize("make, prefix", [(lambda: Autoencoder(3, max_iter=1, random_state=0),
                                           "autoencoder"),
                                          (lambda: SparseCoding(3, max_iter=1, random_state=0),
                                           "sparsecoding")])
def test_feature_names_and_pandas_output(make, prefix):
    from sklearn.preprocessing import MinMaxScaler

    X = np.random.default_rng(0).random((20, 5))
    est = make().fit(X)
    assert list(est.get_feature_names_out()) == [f"{prefix}{i}" for i in range(3)]
    pipe = make_pipeline(MinMaxScaler(), make()).fit(X)
    assert list(pipe.get_feature_names_out()) == [f"{prefix}{i}" for i in range(3)]
    pd = pytest.importorskip("pandas")
    frame = make().set_output(transform="pandas").fit(X).transform(X)
    assert isinstance(frame, pd.DataFrame) and list(frame.columns)[0] == f"{prefix}0"


@pytest.mark.parametrize("make", [lambda: Autoencoder(3, max_iter=1, random_state=0),
                                  lambda: SparseCoding(3, max_iter=1, random_state=0)])
def test_inverse_transform_refuses_nan_codes(make):
    est = make().fit(np.random.default_rng(0).random((20, 5)))
    H = np.zeros((2, 3))
    H[1, 1] = np.nan
    with pytest.raises(ValueError, match=r"contains NaN or infinite values"):
        est.inverse_transform(H)
