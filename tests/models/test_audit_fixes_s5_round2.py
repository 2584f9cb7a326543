"""Audit b3 (session 5, round 2): autoencoder state and memory, hidden dropout under
DataParallel, RBM.astype's chains, scikit-learn BernoulliRBM attribute setters."""

import gc
import pickle
import weakref

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import rosenblatt as rb
from rosenblatt.autodiff.tensor import Tensor
from rosenblatt.training.distributed import _GlobalBatchDraws


def _X(n=40, d=8, seed=0):
    return np.random.default_rng(seed).random((n, d)).astype(np.float32)


# -- defect 2: memory kept alive -------------------------------------------------------------
def _penalties(ae):
    return [r for r in ae.regularizers if type(r).__name__ == "_Penalties"][0]


def test_fit_releases_the_last_batch():
    ae = rb.models.Autoencoder(8, 4, sparsity=0.1, rng=0)
    ae.fit(_X(), epochs=1, batch_size=40)
    assert _penalties(ae)._batch is None


def test_clone_does_not_share_the_penalty_batch():
    ae = rb.models.Autoencoder(8, 4, sparsity=0.1, rng=0)
    twin = ae.clone()
    assert _penalties(twin) is not _penalties(ae)
    _penalties(twin).transform_input(_X())
    assert _penalties(ae)._batch is None
    # the clone trains with its own penalties, as the original does
    a, b = ae.clone(), ae.clone()
    a.fit(_X(), epochs=1, batch_size=20, optimizer=rb.optim.SGD(a.parameters(), lr=0.1),
          shuffle=False)
    b.fit(_X(), epochs=1, batch_size=20, optimizer=rb.optim.SGD(b.parameters(), lr=0.1),
          shuffle=False)
    np.testing.assert_array_equal(a.W.data, b.W.data)


def test_a_forward_outside_fit_keeps_no_graph_past_the_model():
    m = rb.models.Autoencoder(8, 4, rng=0)
    out = m(Tensor(_X()))
    w = weakref.ref(m.W)
    del m, out
    gc.collect()
    assert w() is None


def test_loss_of_a_thread_replica_still_uses_the_logits():
    # the replicas' outputs are found by their logits (stable cross-entropy) while alive
    ae = rb.models.Autoencoder(8, 4, rng=0)
    twin = ae.clone()
    x = _X()
    out = twin(Tensor(x))
    assert ae._logits_of(out) is not None


# -- defect 3: a fitted autoencoder pickles ---------------------------------------------------
def test_fitted_sklearn_autoencoder_pickles():
    est = rb.sklearn.Autoencoder(n_hidden=3, output="sigmoid", max_iter=1, batch_size=20,
                                 random_state=0)
    est.fit(_X())
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.transform(_X()), est.transform(_X()))


# -- defect 4: penalty(x) checks x -------------------------------------------------------------
def test_penalty_x_refuses_nan():
    ae = rb.models.Autoencoder(8, 4, sparsity=0.1, rng=0)
    bad = _X()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"Autoencoder.penalty: x contains NaN"):
        ae.penalty(bad)


# -- defect 9: hidden dropout draws the global batch's mask under DataParallel -----------------
class _Rows:
    _rows = None


def test_hidden_dropout_under_data_parallel_draws_the_batch_rows():
    x = _X(10)
    one = rb.models.Autoencoder(8, 6, rng=3, hidden_dropout=0.4)
    full = one(Tensor(x)).data
    rank = rb.models.Autoencoder(8, 6, rng=3, hidden_dropout=0.4)
    drawing = [m for m in rank.modules() if isinstance(m, rb.nn.Dropout)]
    assert len(drawing) == 1 and drawing[0].rng is rank.rng
    dp = _Rows()
    drawing[0].rng = _GlobalBatchDraws(rank.rng.bit_generator, dp)  # as DataParallel does
    dp._rows = (10, 4, 10)  # rank 1 of 2: rows 4..9 of a batch of 10
    part = rank(Tensor(x[4:])).data
    np.testing.assert_allclose(part, full[4:], rtol=1e-6)


def test_hidden_dropout_one_process_unchanged_by_the_layer():
    x = _X(10)
    ae = rb.models.Autoencoder(8, 6, rng=3, hidden_dropout=0.4)
    rng = np.random.default_rng(3)
    rb.models.Autoencoder(8, 6, rng=rng)  # the same initial draws
    out = ae(Tensor(x)).data
    keep = (rng.random((10, 6), dtype=np.float32) < 0.6).astype(np.float32) / np.float32(0.6)
    h = 1 / (1 + np.exp(-(x @ ae.W.data + ae.b.data)))
    ref = 1 / (1 + np.exp(-((h * keep) @ ae.W_dec.data + ae.b_dec.data)))
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


# -- defect 1: RBM.astype casts the chains ------------------------------------------------------
@pytest.mark.parametrize("to", [np.float32, np.float64])
def test_rbm_astype_casts_the_chains(to):
    X = np.random.default_rng(0).random((40, 6)) < .5
    src = np.float64 if to is np.float32 else np.float32
    r = rb.models.RBM(6, 3, rng=0, persistent=True, sparsity=0.1, dtype=src)
    r.fit(X.astype(src), epochs=1, batch_size=10)
    r.astype(to)
    assert r._chains.dtype == to and np.asarray(r._q).dtype == to
    r.fit(X.astype(to), epochs=1, batch_size=10)
    assert r._chains.dtype == to and np.asarray(r._q).dtype == to


def test_dbn_astype_casts_its_rbms_chains():
    X = (np.random.default_rng(0).random((40, 6)) < .5).astype(np.float64)
    d = rb.models.DBN([6, 4, 3], rng=0, persistent=True, dtype=np.float64)
    d.pretrain(X, epochs_per_layer=1, batch_size=10, progress=False)
    assert any(r._chains is not None for r in d.rbms)
    d.astype(np.float32)
    for r in d.rbms:
        assert r._chains is None or r._chains.dtype == np.float32


# -- defect 7: scikit-learn BernoulliRBM setters -------------------------------------------------
def test_sk_rbm_set_weights_on_a_fresh_estimator():
    sk = pytest.importorskip("sklearn.neural_network")
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 6))
    c, b = rng.normal(size=3), rng.normal(size=6)
    X = (rng.random((5, 6)) < .5).astype(float)
    theirs = sk.BernoulliRBM(n_components=3)
    theirs.components_, theirs.intercept_hidden_, theirs.intercept_visible_ = W, c, b
    ours = rb.sklearn.BernoulliRBM(n_components=3)
    ours.components_ = W
    ours.intercept_hidden_ = c
    ours.intercept_visible_ = b
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X), atol=1e-12)
    ours.partial_fit(X)  # starts from the set weights
    assert ours.components_.shape == (3, 6)


def test_sk_rbm_intercepts_before_components_are_refused():
    ours = rb.sklearn.BernoulliRBM(n_components=3)
    with pytest.raises(NotFittedError, match="set components_"):
        ours.intercept_hidden_ = np.zeros(3)


def test_sk_rbm_h_samples_settable():
    X = (np.random.default_rng(0).random((20, 6)) < .5).astype(float)
    ours = rb.sklearn.BernoulliRBM(n_components=3, random_state=0, n_iter=1, batch_size=5)
    ours.fit(X)
    chains = np.zeros_like(ours.h_samples_)
    ours.h_samples_ = chains
    np.testing.assert_array_equal(ours.h_samples_, chains)
    with pytest.raises(ValueError, match="h_samples_"):
        ours.h_samples_ = np.full_like(chains, 2.0)
    with pytest.raises(ValueError, match="h_samples_"):
        ours.h_samples_ = np.zeros((chains.shape[0], 4))
