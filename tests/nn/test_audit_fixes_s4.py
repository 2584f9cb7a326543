"""Audit a8 fixes: functional ops and layers take arrays and lists and check shapes up front;
init fans, RBF.init_centers, float16 penalties and average pooling, conv_output_size."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import nn
from rosenblatt.nn import functional as F, init
from rosenblatt.nn.conv import conv_output_size

T = rb.tensor


# -- 1: functional ops on ndarrays and lists ---------------------------------------------------

@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_activations_take_arrays_and_lists(name, dtype, torch):
    x = np.array([[-1.0, 0.5, 2.0, -3.0]], dtype=dtype)
    fn = getattr(F, name)
    y = fn(x)
    assert isinstance(y, rb.Tensor) and y.dtype == dtype
    ref = getattr(torch, name)(torch.tensor(x.astype(np.float64))).numpy()
    np.testing.assert_allclose(y.data, ref, rtol=1e-6)
    # a list of Python floats is float32, as in rb.tensor (audit s7/a1 #9)
    np.testing.assert_array_equal(fn([[-1.0, 0.5, 2.0, -3.0]]).data,
                                  fn(np.array([[-1.0, 0.5, 2.0, -3.0]], np.float32)).data)
    t = T(x, requires_grad=True)  # a Tensor goes through untouched, with its gradient
    fn(t).sum().backward()
    assert t.grad is not None and t.grad.dtype == dtype


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax"])
def test_activation_names_itself_on_a_non_numeric_input(name):
    with pytest.raises(TypeError, match=f"^{name}: "):
        getattr(F, name)(np.array(["a", "b"]))


def test_maxout_prelu_embedding_take_arrays():
    x = np.array([[-1.0, 0.5, 2.0, -3.0]], dtype=np.float32)
    np.testing.assert_array_equal(F.maxout(x, 2).data, [[0.5, 2.0]])
    assert F.maxout(x, 2).dtype == np.float32
    y = F.prelu(x, np.array([0.1], np.float32))
    np.testing.assert_allclose(y.data, [[-0.1, 0.5, 2.0, -0.3]], rtol=1e-6)
    assert y.dtype == np.float32
    W = np.arange(6, dtype=np.float32).reshape(3, 2)
    e = F.embedding(np.array([[0, 2]]), W)
    np.testing.assert_array_equal(e.data, [[[0, 1], [4, 5]]])
    assert e.dtype == np.float32


def test_maxout_pieces_checked():
    with pytest.raises(ValueError, match="maxout: pieces must be a positive integer; got 0"):
        F.maxout(T(np.ones((1, 4))), 0)
    with pytest.raises(ValueError, match="maxout: pieces must be a positive integer"):
        F.maxout(T(np.ones((1, 4))), 2.0)


def test_rbf_takes_arrays(rng):
    x, c, w = rng.normal(size=(5, 4)), rng.normal(size=(3, 4)), rng.uniform(0.5, 2, 3)
    ref = F.rbf(T(x), T(c), T(w)).data
    np.testing.assert_allclose(F.rbf(x, c, w).data, ref, rtol=1e-12)
    lists = F.rbf(x.tolist(), c.tolist(), w.tolist())  # float32, as rb.tensor (audit s7/a1 #9)
    assert lists.dtype == np.float32
    np.testing.assert_allclose(lists.data, ref, rtol=1e-5)


@pytest.mark.parametrize("op, gates", [("rnn", 1), ("gru", 3), ("lstm", 4)])
def test_sequence_ops_take_array_weights(rng, op, gates):
    # float64: the NumPy loops (the float32 kernels' first compilation costs seconds)
    x = rng.normal(size=(2, 3, 4))
    Wx, Wh = 0.3 * rng.normal(size=(4, gates * 3)), 0.3 * rng.normal(size=(3, gates * 3))
    b = 0.1 * rng.normal(size=gates * 3)
    fn = getattr(F, op)
    first = lambda out: out[0] if isinstance(out, tuple) else out  # noqa: E731
    ref = first(fn(T(x), T(Wx), T(Wh), T(b)))
    got = first(fn(x, Wx, Wh, b))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got.data, ref.data, rtol=1e-12)
    got = first(fn(x.tolist(), Wx, Wh.tolist(), b.tolist()))  # lists: float32 (s7/a1 #9)
    np.testing.assert_allclose(got.data, ref.data, rtol=1e-5, atol=1e-6)


def test_rnn_array_weights_keep_float32(rng):
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    Wx, Wh = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(3, 3))
    assert F.rnn(x, Wx, Wh.astype(np.float32)).dtype == np.float32
    assert F.rnn(x.astype(np.int64), Wx, Wh.astype(np.float32)).dtype == np.float32


def test_gru_takes_an_array_hidden_bias(rng):
    x = rng.normal(size=(2, 3, 4))
    Wx, Wh, bhn = rng.normal(size=(4, 9)), rng.normal(size=(3, 9)), rng.normal(size=3)
    np.testing.assert_allclose(F.gru(x, Wx, Wh, b_hn=bhn).data,
                               F.gru(T(x), T(Wx), T(Wh), b_hn=T(bhn)).data, rtol=1e-12)


def test_lstm_takes_an_array_peephole(rng):
    x = rng.normal(size=(2, 3, 4))
    Wx, Wh, P = rng.normal(size=(4, 12)), rng.normal(size=(3, 12)), rng.normal(size=(3, 3))
    np.testing.assert_allclose(F.lstm(x, Wx, Wh, peephole=P)[0].data,
                               F.lstm(T(x), T(Wx), T(Wh), peephole=T(P))[0].data, rtol=1e-12)


def test_batch_norm_takes_array_gamma_beta(torch):
    x = np.array([[-1.0, 0.5, 2.0, -3.0], [2.0, 1.0, 0.0, 4.0], [0.0, 0.0, 1.0, 1.0]])
    gamma, beta = np.array([1.0, 2.0, 0.5, 1.0]), np.array([0.0, 1.0, -1.0, 0.5])
    y = F.batch_norm(x, gamma, beta, np.zeros(4), np.ones(4))
    ref = torch.nn.functional.batch_norm(torch.tensor(x), torch.zeros(4), torch.ones(4),
                                         torch.tensor(gamma), torch.tensor(beta), training=True)
    np.testing.assert_allclose(y.data, ref.numpy(), rtol=1e-10)
    y32 = F.batch_norm(x.tolist(), gamma.astype(np.float32), beta.astype(np.float32),
                       np.zeros(4), np.ones(4))
    np.testing.assert_allclose(y32.data, ref.numpy(), rtol=1e-5)


# -- 7: shapes checked up front, errors naming the op, the argument and the shapes -------------

@pytest.mark.parametrize("x_shape, c_shape, w_shape, match", [
    ((5, 4), (3, 4), (2,), r"rbf: widths must have shape \(n_centers,\) = \(3,\); got \(2,\)"),
    ((5, 4), (3, 4), (1,), r"rbf: widths must have shape \(n_centers,\) = \(3,\); got \(1,\)"),
    ((5, 3), (3, 4), (3,), r"rbf: x must be \(batch, in_features\) with in_features = "
                           r"centers.shape\[1\] = 4; got \(5, 3\)"),
    ((4,), (3, 4), (3,), r"rbf: x must be \(batch, in_features\) .*; got \(4,\)"),
    ((2, 5, 4), (3, 4), (3,), r"rbf: x must be \(batch, in_features\) .*; got \(2, 5, 4\)"),
    ((5, 4), (4,), (3,), r"rbf: centers must be \(n_centers, in_features\); got \(4,\)"),
])
def test_rbf_checks_shapes(x_shape, c_shape, w_shape, match):
    with pytest.raises(ValueError, match=match):
        F.rbf(np.ones(x_shape), T(np.ones(c_shape)), T(np.ones(w_shape)))


def test_dense_checks_the_bias_shape():
    with pytest.raises(ValueError, match=r"dense: bias must have shape \(out_features,\) = "
                                         r"\(2,\); got \(3,\)"):
        F.dense(np.ones((2, 3)), T(np.ones((3, 2))), T(np.ones(3)))


def test_embedding_checks_the_weight_is_a_table():
    with pytest.raises(ValueError, match=r"embedding: weight must be \(num_embeddings, "
                                         r"embedding_dim\); got shape \(3,\)"):
        F.embedding([0, 1], T(np.ones(3)))


def test_maxout_checks_the_input_has_an_axis():
    with pytest.raises(ValueError, match=r"maxout: z must have at least one axis"):
        F.maxout(T(np.float32(1.0)), 1)


# -- 6: Maxout and SparseDense take what Dense takes ---------------------------------------------

@pytest.mark.parametrize("cls", [nn.Dense, nn.Maxout, nn.SparseDense])
def test_layers_take_lists_and_integers_like_dense(cls):
    layer = cls(4, 3, rng=0)
    x = [[1.0, 2.0, 3.0, 4.0]]
    y = layer(x)
    np.testing.assert_array_equal(y.data, layer(T(np.array(x, np.float32))).data)
    assert layer(np.array(x, dtype=np.int64)).dtype == np.float32
    assert layer(np.array(x, dtype=np.float32)).dtype == np.float32


def test_sparse_dense_integer_input_is_float32_on_the_sparse_path():
    layer = nn.SparseDense(40, 30, density=0.05, rng=0)
    assert layer.live_connections < layer.sparse_below * layer.mask.size  # the CSR path
    x = np.arange(80, dtype=np.int64).reshape(2, 40) % 3
    y = layer(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, x @ (layer.W.data * layer.mask) + layer.b.data,
                               rtol=1e-5)
    assert nn.functional.dense is not None  # (sparse_dense itself:)
    from rosenblatt.nn.sparse_dense import sparse_dense
    assert sparse_dense(x, layer.W, layer.b, layer.mask).dtype == np.float32


# -- 2: initializer fans -------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [init.fan_in, init.he, init.glorot_uniform])
@pytest.mark.parametrize("bad", [0, -3, "3", 2.0, True])
def test_initializers_check_fans(fn, bad):
    name = fn.__name__
    with pytest.raises(ValueError, match=f"{name}: fan_in must be a positive integer; got"):
        fn((2, 3), fan_in=bad, fan_out=3, rng=0)
    with pytest.raises(ValueError, match=f"{name}: fan_out must be a positive integer; got"):
        fn((2, 3), fan_in=2, fan_out=bad, rng=0)


def test_initializers_take_numpy_integer_fans():
    w = init.he((2, 3), fan_in=np.int64(8), rng=0, dtype=np.float64)
    np.testing.assert_allclose(w, init.he((2, 3), fan_in=8, rng=0, dtype=np.float64))


# -- 4: RBF.init_centers refuses NaN / inf ------------------------------------------------------

def test_rbf_init_centers_refuses_non_finite_rows():
    X = np.random.default_rng(0).normal(size=(6, 2))
    X[4, 0] = np.nan
    with pytest.raises(ValueError, match=r"RBF.init_centers: X contains NaN or infinite values "
                                         r"\(first in row 4\)"):
        nn.RBF(2, 3, rng=0).init_centers(X, rng=0)
    X[4, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        nn.RBF(2, 3, rng=0).init_centers(X, rng=0)


def test_rbf_init_centers_takes_a_tensor_and_lists():
    X = np.arange(12.0).reshape(6, 2)
    a = nn.RBF(2, 3, rng=0).init_centers(T(X), rng=0).centers.data
    b = nn.RBF(2, 3, rng=0).init_centers(X.tolist(), rng=0).centers.data
    np.testing.assert_array_equal(a, b)
    assert set(map(tuple, a.tolist())) <= set(map(tuple, X.tolist()))
    with pytest.raises(TypeError, match="RBF.init_centers"):
        nn.RBF(2, 3, rng=0).init_centers(np.array([["a", "b"]] * 6))


# -- 5: float16 penalties summed in float32 -----------------------------------------------------

def test_norm_penalties_of_a_float16_model_do_not_overflow(rng):
    net = nn.Dense(256, 256, dtype=np.float16, rng=0)
    net.W.data[...] = rng.uniform(-2, 2, net.W.shape)
    w = net.W.data.astype(np.float64)
    assert np.abs(w).sum() > 65504  # a float16 sum overflows
    l1 = 1e-5 * np.abs(w).sum()
    regs = rb.regularizers
    np.testing.assert_allclose(float(regs.L1(1e-5).penalty(net).data), l1, rtol=2e-3)
    en = l1 + 0.5e-5 * (w * w).sum()
    np.testing.assert_allclose(float(regs.ElasticNet(1e-5, 1e-5).penalty(net).data), en,
                               rtol=2e-3)
    net.W.data[...] = 1.5
    w = net.W.data.astype(np.float64)
    p = regs.L2(1e-5).penalty(net)
    assert p.dtype == np.float16
    np.testing.assert_allclose(float(p.data), 0.5e-5 * (w * w).sum(), rtol=2e-3)
    p.backward()  # the gradient, lam * w, in float16
    np.testing.assert_allclose(net.W.grad, 1e-5 * w, rtol=2e-3)


# -- 8: conv_output_size -------------------------------------------------------------------------

@pytest.mark.parametrize("args, match", [
    ((3, 5), r"conv_output_size: the kernel \(5\) is larger than the padded input \(3\)"),
    ((28, 5, 0), "conv_output_size: stride must be a positive integer"),
    ((28, 0), "conv_output_size: kernel_size must be a positive integer"),
    ((28, 5, 1.5), "conv_output_size: stride must be a positive integer"),
    ((-1, 1), "conv_output_size: n must be a non-negative integer"),
    ((28.0, 5), "conv_output_size: n must be a non-negative integer"),
])
def test_conv_output_size_checks_its_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        conv_output_size(*args)


def test_conv_output_size_matches_the_layer():
    for n, k, s, p in [(3, 3, 1, "valid"), (3, 5, 1, "full"), (3, 5, 2, 1), (7, 3, 2, "same")]:
        y = nn.Conv1d(1, 1, k, stride=s, padding=p, rng=0)(np.ones((1, 1, n), np.float32))
        assert conv_output_size(n, k, s, p) == y.shape[-1]
    assert conv_output_size(np.int64(28), np.int64(5)) == 24


# -- 9: float16 average pooling accumulated in float32 ------------------------------------------

def test_avg_pool2d_float16_accumulates_in_float32(torch, rng):
    x = np.full((1, 1, 3, 3), 8000, np.float16)
    y = F.avg_pool2d(x, 3)
    assert y.dtype == np.float16
    np.testing.assert_array_equal(y.data.ravel(), [8000])
    x = (rng.uniform(-1, 1, (2, 3, 7, 6)) * 20000).astype(np.float16)
    t = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.avg_pool2d(t, (3, 2), (2, 1))
    xt = T(x, requires_grad=True)
    y = F.avg_pool2d(xt, (3, 2), (2, 1))
    assert y.dtype == np.float16
    np.testing.assert_allclose(y.data, ref.detach().numpy(), rtol=1e-3)
    g = rng.normal(size=y.shape).astype(np.float16)
    y.backward(g)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(xt.grad, t.grad.numpy(), rtol=2e-3, atol=1e-3)


def test_top_level_units_take_arrays():
    """rb.relu, rb.sigmoid and rb.tanh are the functional ops: an ndarray works, float32
    stays float32 (before, rb.relu and rb.sigmoid failed on a memoryview)."""
    x = np.array([1.0, -2.0], dtype=np.float32)
    for f, ref in ((rb.relu, np.maximum(x, 0)), (rb.sigmoid, 1 / (1 + np.exp(-x))),
                   (rb.tanh, np.tanh(x))):
        y = f(x)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y.data, ref, rtol=1e-6)
