"""Audit a3 (session 5): autoencoders, stacked autoencoders, RBMs, DBNs, rb.sklearn.BernoulliRBM.

One test (or a few) per defect of the report, numbered as there.
"""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.models.autoencoder import Corruption


def _one_step(opts, distributed, X, lr=0.5, setup=None):
    """One full-batch SGD step (no shuffling) of a fresh Autoencoder; its parameters after."""
    ae = rb.models.Autoencoder(X.shape[1], 6, rng=0, **opts)
    if setup is not None:
        setup(ae)
    opt = rb.optim.SGD(ae.parameters(), lr=lr)
    kw = {} if distributed is None else {"distributed": distributed}
    history = ae.fit(X, epochs=1, batch_size=len(X), optimizer=opt, shuffle=False, **kw)
    return [p.data.copy() for p in ae.parameters()], history


# -- 5. data-dependent penalties under distributed="threads" ---------------------------------
@pytest.mark.parametrize("opts", [dict(sparsity=0.05, sparsity_weight=3.0), dict(contractive=0.5),
                                  dict(sparsity=0.1, contractive=0.3, tied=True),
                                  dict(sparsity=0.2, noise=("masking", 0.3))])
def test_autoencoder_penalties_under_threads_follow_one_thread(opts):
    X = np.random.default_rng(0).random((64, 8)).astype(np.float32)
    one, h1 = _one_step(opts, None, X)
    many, h2 = _one_step(opts, "threads", X)
    start = [p.data for p in rb.models.Autoencoder(8, 6, rng=0, **opts).parameters()]
    for a, b, s in zip(one, many, start):
        assert np.abs(a - s).max() > 1e-3  # the step moved the weights
        np.testing.assert_allclose(b, a, rtol=0, atol=2e-6)
    np.testing.assert_allclose(h2["loss"], h1["loss"], rtol=1e-5)


# -- 12. cross-entropy of a replica's output under distributed="threads" -----------------------
def test_autoencoder_cross_entropy_under_threads_uses_each_replicas_logits():
    rng = np.random.default_rng(0)
    X = (rng.random((64, 8)) < 0.5).astype(np.float32)

    def saturate(ae):
        ae.b_dec.data[...] = 30.0  # sigma(30) == 1.0 in float32: clipped probabilities lose it

    one, h1 = _one_step({}, None, X, lr=0.1, setup=saturate)
    many, h2 = _one_step({}, "threads", X, lr=0.1, setup=saturate)
    for a, b in zip(one, many):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)
    np.testing.assert_allclose(h2["loss"], h1["loss"], rtol=1e-5)


def test_autoencoder_reconstruction_loss_of_another_replicas_output_uses_its_logits():
    a, b = rb.models.Autoencoder(4, 3, rng=0), rb.models.Autoencoder(4, 3, rng=1)
    a.b_dec.data[...] = b.b_dec.data[...] = 30.0
    X = np.zeros((2, 4), np.float32)
    pred = b(rb.tensor(X))
    exact = float(np.logaddexp(0, b._logits(b.encode(X)).data).sum()) / 2  # x = 0: mean softplus(a)
    assert float(a.reconstruction_loss(pred, X).item()) == pytest.approx(exact, rel=1e-5)


# -- 1. a 0-d array as RBM sparsity -------------------------------------------------------------
def test_rbm_accepts_zero_dim_sparsity():
    rbm = rb.models.RBM(4, 2, sparsity=np.array(0.1))
    assert rbm.sparsity == pytest.approx(0.1) and isinstance(rbm.sparsity, float)
    assert rbm._sparsity[0] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="sparsity must be None"):
        rb.models.RBM(4, 2, sparsity=np.array([0.1]))
    with pytest.raises(ValueError, match="sparsity must be None"):
        rb.models.RBM(4, 2, sparsity=np.array([[0.1, 0.2]]))


# -- 2. RBM.log_likelihood of no rows -------------------------------------------------------------
@pytest.mark.parametrize("method", ["exact", "ais"])
def test_rbm_log_likelihood_refuses_empty_x(method):
    rbm = rb.models.RBM(4, 2, rng=0)
    with pytest.raises(ValueError, match=r"log_likelihood: X must hold at least one example; "
                                         r"got shape \(0, 4\)"):
        rbm.log_likelihood(np.zeros((0, 4)), method=method, n_betas=10)


# -- 3. StackedAutoencoder.encode / forward check their input ---------------------------------
def test_stacked_autoencoder_encode_refuses_nan():
    st = rb.models.StackedAutoencoder([4, 3, 2], rng=0)
    x = np.array([[0.1, np.nan, 0.2, 0.3]])
    for f in (st.encode, st, st.layers[0].encode):
        with pytest.raises(ValueError, match="x contains NaN or infinite values"):
            f(x)
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        st.encode(np.zeros((1, 5)))
    assert st.encode(np.zeros((1, 4))).shape == (1, 2)


# -- 4. RBM / DBN cast to float16 ------------------------------------------------------------------
def test_rbm_and_dbn_refuse_float16_cast():
    rbm = rb.models.RBM(4, 2, rng=0)
    with pytest.raises(TypeError, match="RBM: dtype must be float32 or float64; got float16"):
        rbm.astype(np.float16)
    assert rbm.W.dtype == np.float32
    assert rbm.astype(np.float64).W.dtype == np.float64
    dbn = rb.models.DBN([4, 3, 2], rng=0)
    with pytest.raises(TypeError, match="DBN: dtype must be float32 or float64; got float16"):
        dbn.astype(np.float16)
    assert all(p.dtype == np.float32 for p in dbn.parameters())
    assert all(p.dtype == np.float64 for p in dbn.astype(np.float64).parameters())


# -- 7. transform / reconstruct batch_size ---------------------------------------------------------
@pytest.mark.parametrize("bad", [-1, 0, 2.5])
def test_autoencoder_transform_and_reconstruct_check_batch_size(bad):
    X = np.random.default_rng(0).random((10, 4)).astype(np.float32)
    ae = rb.models.Autoencoder(4, 2, rng=0)
    st = rb.models.StackedAutoencoder([4, 3, 2], rng=0)
    for owner, f in [("Autoencoder.transform", ae.transform),
                     ("Autoencoder.reconstruct", ae.reconstruct),
                     ("Autoencoder.transform", st.transform),
                     ("StackedAutoencoder.reconstruct", st.reconstruct)]:
        with pytest.raises((ValueError, TypeError), match=f"{owner}: batch_size must be"):
            f(X, batch_size=bad)
    assert ae.transform(X, batch_size=3).shape == (10, 2)
    assert st.reconstruct(X, batch_size=3).shape == (10, 4)


# -- 8. a changed rbm.lr / rbm.momentum reaches the next fit ------------------------------------
def test_rbm_fit_reads_lr_and_momentum_again():
    X = (np.random.default_rng(0).random((40, 6)) < 0.5).astype(np.float32)
    rbm = rb.models.RBM(6, 4, lr=0.5, momentum=0.0, rng=0)
    rbm.fit(X, epochs=1, batch_size=10, progress=False)
    rbm.lr, rbm.momentum = 1e-12, 0.25
    W0 = rbm.W.data.copy()
    rbm.fit(X, epochs=1, batch_size=10, progress=False)
    assert np.abs(rbm.W.data - W0).max() < 1e-9
    assert rbm._optimizer.lr == 1e-12 and rbm._optimizer.momentum == 0.25
    dbn = rb.models.DBN([6, 4, 3], lr=0.5, momentum=0.0, rng=0)
    dbn.pretrain(X, epochs_per_layer=1, batch_size=10, progress=False)
    for r in dbn.rbms:
        r.lr = 1e-12
    W0 = [r.W.data.copy() for r in dbn.rbms]
    dbn.pretrain(X, epochs_per_layer=1, batch_size=10, progress=False)
    assert max(np.abs(r.W.data - w).max() for r, w in zip(dbn.rbms, W0)) < 1e-9


# -- 11. gaussian corruption of integer input -----------------------------------------------------
def test_gaussian_corruption_of_integers_is_float32():
    x = np.ones((3, 4), dtype=np.int64)
    for kind, level in (("masking", 0.3), ("salt_pepper", 0.3), ("gaussian", 0.5)):
        assert Corruption(kind, level)(x, rng=0).dtype == np.float32
    assert Corruption("gaussian", 0.5)(x.astype(np.float64), rng=0).dtype == np.float64


# -- rb.sklearn.BernoulliRBM: 6, 9, 10, 13 ----------------------------------------------------
def test_bernoulli_rbm_h_samples_has_batch_size_rows():
    X = (np.random.default_rng(0).random((25, 4)) < 0.5).astype(float)
    m = rb.sklearn.BernoulliRBM(n_components=3, batch_size=10, n_iter=2, random_state=0).fit(X)
    assert m.h_samples_.shape == (10, 3)
    m = rb.sklearn.BernoulliRBM(n_components=3, batch_size=10, random_state=0).partial_fit(X[:4])
    assert m.h_samples_.shape == (10, 3)


def test_bernoulli_rbm_partial_fit_reads_set_params():
    X = (np.random.default_rng(0).random((10, 4)) < 0.5).astype(float)
    m = rb.sklearn.BernoulliRBM(n_components=3, learning_rate=0.1, random_state=0)
    m.partial_fit(X)
    m.set_params(learning_rate=1e-12)
    W0 = m.components_.copy()
    m.partial_fit(X)
    assert np.abs(m.components_ - W0).max() < 1e-10
    assert m._optimizer.lr == 1e-12


def test_bernoulli_rbm_fitted_attributes_can_be_set():
    X = (np.random.default_rng(0).random((20, 4)) < 0.5).astype(float)
    W = np.random.default_rng(1).normal(size=(3, 4))
    m = rb.sklearn.BernoulliRBM(n_components=3, n_iter=1, random_state=0).fit(X)
    vec = m.rbm_.vector
    m.components_ = W
    m.intercept_hidden_ = np.full(3, 0.5)
    m.intercept_visible_ = [0.1, 0.2, 0.3, 0.4]
    np.testing.assert_allclose(m.transform(X), 1 / (1 + np.exp(-(X @ W.T + 0.5))))
    np.testing.assert_allclose(m.intercept_visible_, [0.1, 0.2, 0.3, 0.4])
    assert m.rbm_.vector is vec and vec.is_packed()  # set in place: still one flat vector
    with pytest.raises(ValueError, match=r"components_ must have shape \(3, 4\); got \(4, 3\)"):
        m.components_ = W.T
    with pytest.raises(ValueError, match=r"intercept_hidden_ must have shape \(3,\)"):
        m.intercept_hidden_ = np.zeros(4)
    with pytest.raises(ValueError, match="intercept_visible_ must be finite"):
        m.intercept_visible_ = [0, np.nan, 0, 0]


def test_bernoulli_rbm_float64_input_to_float32_model_gives_float64():
    sk = pytest.importorskip("sklearn.neural_network")
    X = (np.random.default_rng(0).random((20, 4)) < 0.5)
    m = rb.sklearn.BernoulliRBM(n_components=3, n_iter=1, random_state=0).fit(
        X.astype(np.float32))
    X64 = X.astype(np.float64) * 0.7 + 0.1  # not representable in float32
    t = m.transform(X64)
    assert t.dtype == np.float64
    W, c = m.components_.astype(np.float64), m.intercept_hidden_.astype(np.float64)
    np.testing.assert_allclose(t, 1 / (1 + np.exp(-(X64 @ W.T + c))), rtol=1e-13)
    assert m.score_samples(X64).dtype == np.float64
    ref = sk.BernoulliRBM(n_components=3, n_iter=1, random_state=0).fit(X.astype(np.float32))
    assert ref.transform(X64).dtype == t.dtype
    assert m.transform(X.astype(np.float32)).dtype == np.float32
