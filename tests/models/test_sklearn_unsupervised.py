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
