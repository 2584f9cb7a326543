"""Audit s8 (nn layers, first half, second look) fixes: float16 log_softmax and rbf compute in
float32; integer dtypes and non-finite bias_init refused; ReLU, HardTanh and the fused conv +
ReLU select in their backward (as PyTorch); max pooling gives a NaN window's gradient to its
last NaN (as PyTorch); activation layers and Flatten name themselves; set_num_threads reports
Numba's capped count."""

import sys

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import nn
from rosenblatt.autodiff import _kernels
from rosenblatt.nn import functional as F

T = rb.tensor


def _grad(fn, x, g):
    t = T(x, requires_grad=True)
    fn(t).backward(g)
    return t.grad


# -- 1: float16 log_softmax and rbf -------------------------------------------------------------

def test_float16_log_softmax_sums_in_float32():
    # 70,000 equal scores: the float16 sum of the exponentials is inf, the answer -11.16 is not
    x = np.zeros((2, 70000), np.float16)
    for fn in (F.log_softmax, nn.LogSoftmax()):
        y = fn(x).data
        assert y.dtype == np.float16
        np.testing.assert_allclose(y.astype(np.float64), -np.log(70000), rtol=1e-3)
    g = np.ones(x.shape, np.float16)  # sum(dE/dy) = 70,000 overflows float16 too
    gx = _grad(F.log_softmax, x, g)
    assert gx.dtype == np.float16
    np.testing.assert_allclose(gx.astype(np.float64), 0, atol=1e-3)


def test_log_softmax_float32_and_float64_unchanged(rng):
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((3, 5)).astype(dtype)
        g = rng.standard_normal((3, 5)).astype(dtype)
        y = F.log_softmax(x).data
        assert y.dtype == dtype
        ref = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
        np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)
        gx = _grad(F.log_softmax, x, g)
        p = np.exp(ref)
        np.testing.assert_allclose(gx, g - p * g.sum(axis=1, keepdims=True), atol=1e-5)


def test_float16_rbf_computes_in_float32(rng):
    # 256 features of size ~20: ||x||^2 passes float16's 65,504, the expansion gave NaN
    x = (rng.standard_normal((2, 256)) * 20).astype(np.float16)
    c = np.concatenate([x[:1] + np.float16(0.01), rng.standard_normal((1, 256)) * 20])
    c = c.astype(np.float16)
    w = np.ones(2, np.float16)
    ref = F.rbf(x.astype(np.float32), c.astype(np.float32), w.astype(np.float32)).data
    tx, tc, tw = (T(a, requires_grad=True) for a in (x, c, w))
    y = F.rbf(tx, tc, tw)
    assert y.data.dtype == np.float16
    np.testing.assert_allclose(y.data.astype(np.float32), ref, atol=2e-3)
    assert y.data[0, 0] > 0.9
    y.backward(np.ones(y.shape, np.float16))
    for t in (tx, tc, tw):
        assert t.grad.dtype == np.float16 and np.isfinite(t.grad).all()


# -- 2: integer dtypes and bias_init ------------------------------------------------------------

@pytest.mark.parametrize("make, owner", [
    (lambda: nn.PReLU(dtype=np.int32), "PReLU"),
    (lambda: nn.RBF(2, 3, width=1.5, dtype=np.int64), "RBF"),
    (lambda: nn.BatchNorm1d(2, dtype=np.int32), "BatchNorm1d"),
    (lambda: nn.BatchNorm2d(2, dtype="int16"), "BatchNorm2d"),
])
def test_integer_dtype_is_refused(make, owner):
    with pytest.raises(TypeError, match=rf"^{owner}: dtype must be a floating type"):
        make()


def test_float_dtypes_still_taken():
    for dtype in (np.float16, np.float32, np.float64):
        assert nn.PReLU(dtype=dtype).weight.data.dtype == dtype
        assert nn.RBF(2, 3, dtype=dtype, rng=0).widths.data.dtype == dtype
        assert nn.BatchNorm1d(2, dtype=dtype).running_mean.dtype == dtype


@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.Dense(2, 3, bias_init=float("nan")), ValueError,
     r"^Dense: bias_init must be a finite number"),
    (lambda: nn.Dense(2, 3, bias_init="0.1"), TypeError, r"^Dense: bias_init must be a number"),
    (lambda: nn.Dense(2, 3, bias_init=True), TypeError, r"^Dense: bias_init must be a number"),
    (lambda: nn.Conv2d(1, 2, 3, bias_init=float("inf")), ValueError,
     r"^Conv2d: bias_init must be a finite number"),
    (lambda: nn.Conv1d(1, 2, 3, bias_init="0"), TypeError, r"^Conv1d: bias_init must be a number"),
])
def test_bias_init_must_be_a_finite_number(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bias_init_still_takes_numbers():
    assert nn.Dense(2, 3, bias_init=np.float32(0.5), rng=0).b.data.tolist() == [0.5] * 3
    assert nn.Conv2d(1, 2, 3, bias_init=1, rng=0).b.data.tolist() == [1.0, 1.0]


# -- 3: the rectifiers' backward selects, as PyTorch ----------------------------------------------

# PyTorch 2.x: relu's backward is threshold_backward(g, y, 0) = (y <= 0 ? 0 : g): g passes at
# a NaN input; hardtanh's vectorised kernel is ((x > min) & (x < max)) & g: 0 at a NaN input.
# Both select: 0 for a closed unit even when g is infinite or NaN.
X = np.array([np.nan, 1.0, -1.0, 0.0, 2.0, -3.0, 0.5, np.nan] * 2, np.float32)
G = np.array([1.0, 1.0, np.inf, np.inf, np.inf, np.nan, -np.inf, np.inf] * 2, np.float32)
RELU_GRAD = np.array([1.0, 1.0, 0.0, 0.0, np.inf, 0.0, -np.inf, np.inf] * 2, np.float32)
HARDTANH_GRAD = np.array([0.0, 0.0, 0.0, np.inf, 0.0, 0.0, -np.inf, 0.0] * 2, np.float32)


@pytest.mark.parametrize("size", [16, 8192])  # the NumPy twin; the compiled pass (4,096+)
def test_relu_and_hardtanh_backward_select_as_pytorch(both, size):
    reps = size // X.size
    x, g = np.tile(X, reps), np.tile(G, reps)
    for fn, want in ((F.relu, RELU_GRAD), (nn.ReLU(), RELU_GRAD), (F.hardtanh, HARDTANH_GRAD),
                     (nn.HardTanh(), HARDTANH_GRAD)):
        fast, slow = both(lambda fn=fn: _grad(fn, x, g))
        for got in (fast, slow):
            np.testing.assert_array_equal(got, np.tile(want, reps))
            assert not np.signbit(got[got == 0]).any()  # +0, as PyTorch's select


def test_relu_and_hardtanh_backward_match_torch(torch):
    # 16 values: PyTorch's vectorised kernels (its scalar loop, under one vector, passes g at
    # a NaN input of hardtanh instead)
    for dtype in (np.float32, np.float64):
        for ours, theirs in ((F.relu, torch.relu), (F.hardtanh, torch.nn.functional.hardtanh)):
            got = _grad(ours, X.astype(dtype), G.astype(dtype))
            tx = torch.tensor(X.astype(dtype), requires_grad=True)
            theirs(tx).backward(torch.tensor(G.astype(dtype)))
            np.testing.assert_array_equal(got, tx.grad.numpy())


@pytest.mark.parametrize("channels", [1, 3])  # the direct kernel; im2col + GEMM
def test_fused_conv_relu_backward_selects_as_pytorch(torch, both, rng, channels):
    x = rng.standard_normal((2, channels, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, channels, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    pre = F.conv2d(x, w, b).data
    g = rng.standard_normal(pre.shape).astype(np.float32)
    g[pre <= 0] = np.inf  # an infinite gradient at every closed unit: PyTorch gives 0 there
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    torch.relu(torch.nn.functional.conv2d(tx, tw, tb)).backward(torch.tensor(g))

    def run():
        ours = [T(a, requires_grad=True) for a in (x, w, b)]
        F.conv2d(*ours, activation="relu").backward(g)
        return [t.grad for t in ours]

    for grads in both(run):
        for got, ref in zip(grads, (tx, tw, tb)):
            assert np.isfinite(got).all()
            np.testing.assert_allclose(got, ref.grad.numpy(), rtol=1e-4, atol=1e-4)


# -- 4: max pooling of a NaN window -------------------------------------------------------------

POOL_X = np.array([[1, np.nan, 3, 2], [0, 1, -np.inf, -np.inf], [5, 5, 1, 1], [5, 5, 1, 1]])


@pytest.mark.parametrize("x, kernel, stride", [
    (POOL_X, 2, 2),
    (POOL_X, 2, 1),
    (np.array([[np.nan, 1, np.nan, 0], [2, np.nan, 3, 4], [1, 1, 1, 1], [1, 1, 1, 1]]), 2, 2),
    (np.array([[np.nan, 1, np.nan, 0], [2, np.nan, 3, 4], [1, 1, 1, 1], [1, 1, 1, 1]]), 3, 1),
    (np.array([[1, np.nan, 2, np.nan, 5]] * 3), (3, 5), 1),
])
def test_max_pool_nan_window_gives_its_last_nan_the_gradient(torch, both, x, kernel, stride):
    x = np.tile(x.astype(np.float32), (2, 3, 1, 1))
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.max_pool2d(tx, kernel, stride)
    g = np.arange(1, ty.numel() + 1, dtype=np.float32).reshape(ty.shape)
    ty.backward(torch.tensor(g))

    def run():
        t = T(x, requires_grad=True)
        y = F.max_pool2d(t, kernel, stride)
        y.backward(g)
        return y.data, t.grad

    for y, gx in both(run):
        np.testing.assert_array_equal(y, ty.detach().numpy())
        np.testing.assert_array_equal(gx, tx.grad.numpy())


def test_global_max_pool_nan_map_gives_its_last_nan_the_gradient(torch):
    x = np.array([[[[1, np.nan, 2, np.nan, 5]], [[1, 2, 3, 4, 0]]]] * 2)
    t = T(x, requires_grad=True)
    y = F.global_max_pool2d(t)
    y.backward(np.ones(y.shape))
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.adaptive_max_pool2d(tx, 1).sum().backward()
    np.testing.assert_array_equal(t.grad, tx.grad.numpy())


# -- 5: layers name themselves ------------------------------------------------------------------

@pytest.mark.parametrize("layer, x, error, match", [
    (nn.Softmax(3), np.zeros((2, 4)), ValueError, r"^Softmax: axis 3 is out of range"),
    (nn.LogSoftmax(-3), np.zeros((2, 4)), ValueError, r"^LogSoftmax: axis -3 is out of range"),
    (nn.Softmax(), ["a"], TypeError, r"^Softmax: expected real numbers"),
    (nn.LeakyReLU(), ["a"], TypeError, r"^LeakyReLU: expected real numbers"),
    (nn.HardTanh(), ["a"], TypeError, r"^HardTanh: expected real numbers"),
    (nn.Flatten(), [["a"]], TypeError, r"^Flatten\(start_axis=1\): expected real numbers"),
    (nn.Flatten(-9), np.zeros((2, 3, 4)), ValueError,
     r"^Flatten\(start_axis=-9\): the input needs at least 9 axes; got shape \(2, 3, 4\)"),
    (nn.Flatten(3), np.zeros((2, 3, 4)), ValueError,
     r"^Flatten\(start_axis=3\): the input needs at least 4 axes"),
])
def test_layer_errors_name_the_layer(layer, x, error, match):
    with pytest.raises(error, match=match):
        layer(x)


@pytest.mark.parametrize("start_axis", [True, 1.7, "1", None])
def test_flatten_start_axis_must_be_an_integer(start_axis):
    with pytest.raises(TypeError, match=r"^Flatten: start_axis must be an integer"):
        nn.Flatten(start_axis)


def test_flatten_still_takes_integers():
    x = np.zeros((2, 3, 4), np.float32)
    assert nn.Flatten(np.int64(2))(x).shape == (2, 3, 4)
    assert nn.Flatten(-2)(x).shape == (2, 12)
    assert nn.Flatten(0)(x).shape == (24,)


# -- 6: set_num_threads reports what Numba took -------------------------------------------------

def test_set_num_threads_reports_numbas_cap_before_it_loads(monkeypatch, restore_threads):
    monkeypatch.setitem(_kernels._state, "module", None)  # Numba not loaded yet
    monkeypatch.setitem(_kernels._state, "threads", _kernels._state["threads"])
    monkeypatch.delitem(sys.modules, "numba", raising=False)
    monkeypatch.setenv("NUMBA_NUM_THREADS", "3")
    monkeypatch.setattr("importlib.util.find_spec", lambda name: object())  # "installed"
    assert _kernels._numba_pool_size() == 3
    assert rb.set_num_threads(8)["numba"] == 3
    assert rb.set_num_threads(2)["numba"] == 2


def test_set_num_threads_reports_numbas_count_when_loaded(restore_threads):
    numba = pytest.importorskip("numba")
    _kernels.use_numba(True)
    before_state, before = _kernels._state["threads"], None
    try:
        assert _kernels.get("relu_backward") is not None
        before = numba.get_num_threads()
        cap = numba.config.NUMBA_NUM_THREADS
        assert rb.set_num_threads(cap + 5)["numba"] == cap == numba.get_num_threads()
    finally:
        _kernels.use_numba(None)
        _kernels._state["threads"] = before_state
        if before is not None:
            numba.set_num_threads(before)
