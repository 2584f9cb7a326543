"""Pooling and Flatten: gradient checks, equality with PyTorch, hand-worked k-max values."""

import numpy as np
import pytest

import rosenblatt as rb

F = rb.nn.functional


def _t(a, grad=True):
    return rb.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


POOL_GRID = [
    # shape, kernel, stride
    ((2, 3, 8, 8), 2, None),
    ((1, 2, 7, 9), 2, None),       # remainders dropped
    ((2, 1, 9, 9), 3, 2),          # overlapping windows
    ((3, 2, 6, 10), (2, 3), (1, 2)),
    ((1, 4, 5, 5), (3, 2), None),
    ((2, 2, 6, 6), 1, None),
]


def _check_against_torch(torch, rng, ours, theirs, shape, kernel, stride):
    x = rng.standard_normal(shape)
    xs = _t(x)
    y = ours(xs, kernel, stride)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xs.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape, kernel, stride", POOL_GRID)
def test_max_pool2d_matches_torch(torch, rng, shape, kernel, stride):
    _check_against_torch(torch, rng, F.max_pool2d,
                         lambda x: torch.nn.functional.max_pool2d(x, kernel, stride),
                         shape, kernel, stride)


@pytest.mark.parametrize("shape, kernel, stride", POOL_GRID)
def test_avg_pool2d_matches_torch(torch, rng, shape, kernel, stride):
    _check_against_torch(torch, rng, F.avg_pool2d,
                         lambda x: torch.nn.functional.avg_pool2d(x, kernel, stride),
                         shape, kernel, stride)


@pytest.mark.parametrize("shape, kernel, stride", POOL_GRID)
def test_l2_pool2d_matches_torch_lp_pool2d(torch, rng, shape, kernel, stride):
    _check_against_torch(torch, rng, F.l2_pool2d,
                         lambda x: torch.nn.functional.lp_pool2d(x, 2, kernel, stride),
                         shape, kernel, stride)


def test_max_pool_ties_go_to_the_first_maximum_like_torch(torch, rng):
    x = np.maximum(rng.integers(-2, 2, size=(2, 3, 6, 6)), 0).astype(np.float64)  # ReLU-like ties
    for kernel, stride in ((2, None), (3, 1)):
        xs = _t(x)
        y = F.max_pool2d(xs, kernel, stride)
        g = rng.standard_normal(y.shape)
        y.backward(g)
        xt = torch.tensor(x, requires_grad=True)
        torch.nn.functional.max_pool2d(xt, kernel, stride).backward(torch.tensor(g))
        np.testing.assert_allclose(xs.grad, xt.grad.numpy(), atol=1e-12)


def test_global_pools_match_torch(torch, rng):
    x = rng.standard_normal((3, 4, 5, 6))
    for ours, theirs in (
        (F.global_max_pool2d, lambda t: torch.nn.functional.adaptive_max_pool2d(t, 1)),
        (F.global_avg_pool2d, lambda t: torch.nn.functional.adaptive_avg_pool2d(t, 1)),
    ):
        xs = _t(x)
        y = ours(xs)
        assert y.shape == (3, 4)
        g = rng.standard_normal(y.shape)
        y.backward(g)
        xt = torch.tensor(x, requires_grad=True)
        yt = theirs(xt)
        yt.backward(torch.tensor(g).reshape(3, 4, 1, 1))
        np.testing.assert_allclose(y.data, yt.detach().numpy().reshape(3, 4), atol=1e-12)
        np.testing.assert_allclose(xs.grad, xt.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("fn", [F.max_pool2d, F.avg_pool2d, F.l2_pool2d])
@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 2), ((2, 3), 1)])
def test_pool_gradcheck(rng, fn, kernel, stride):
    x = _t(rng.standard_normal((2, 2, 7, 7)))
    assert rb.gradcheck(lambda x: fn(x, kernel, stride), x)


def test_global_and_kmax_gradcheck(rng):
    x = _t(rng.standard_normal((2, 3, 4, 5)))
    assert rb.gradcheck(F.global_max_pool2d, x)
    assert rb.gradcheck(F.global_avg_pool2d, x)
    assert rb.gradcheck(lambda x: F.kmax_pool(x, 3, axis=-1), x)
    assert rb.gradcheck(lambda x: F.kmax_pool(x, 2, axis=1), x)


def test_l2_pool_definition_and_zero_window():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, :2, :2] = [[1.0, 2.0], [2.0, 4.0]]
    xs = _t(x)
    y = F.l2_pool2d(xs, 2)
    np.testing.assert_allclose(y.data[0, 0], [[5.0, 0.0], [0.0, 0.0]])
    y.sum().backward()  # windows of zeros: gradient 0, not NaN
    np.testing.assert_allclose(xs.grad[0, 0, :2, :2], [[0.2, 0.4], [0.4, 0.8]])
    assert np.all(xs.grad[0, 0, 2:] == 0)


def test_kmax_keeps_the_k_largest_in_original_order():
    x = np.array([[3.0, 1.0, 5.0, 2.0, 4.0], [0.0, 9.0, -1.0, 8.0, 7.0]])
    xs = _t(x)
    y = F.kmax_pool(xs, 3)
    np.testing.assert_array_equal(y.data, [[3.0, 5.0, 4.0], [9.0, 8.0, 7.0]])
    y.backward(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    np.testing.assert_array_equal(xs.grad, [[1, 0, 2, 0, 3], [0, 4, 0, 5, 6]])
    # ties: the earlier positions win
    np.testing.assert_array_equal(F.kmax_pool(np.array([1.0, 2.0, 1.0, 2.0, 1.0]), 3).data,
                                  [1.0, 2.0, 2.0])
    # along another axis, through the layer
    z = rb.nn.KMaxPool(1, axis=0)(rb.tensor(x))
    np.testing.assert_array_equal(z.data, [[3.0, 9.0, 5.0, 8.0, 7.0]])


def test_kmax_of_a_conv1d_output_is_max_over_time_when_k_is_1(rng):
    x = rng.standard_normal((4, 3, 10)).astype(np.float32)
    np.testing.assert_array_equal(rb.nn.KMaxPool(1)(rb.tensor(x)).data[..., 0], x.max(axis=-1))


def test_layers_shapes_and_dtype(rng):
    x = rb.tensor(rng.standard_normal((2, 3, 9, 8)).astype(np.float32))
    assert rb.nn.MaxPool2d(2)(x).shape == (2, 3, 4, 4)
    assert rb.nn.AvgPool2d(3, stride=2)(x).shape == (2, 3, 4, 3)
    assert rb.nn.L2Pool2d((3, 2))(x).shape == (2, 3, 3, 4)
    assert rb.nn.GlobalMaxPool2d()(x).shape == (2, 3)
    assert rb.nn.GlobalAvgPool2d()(x).shape == (2, 3)
    assert rb.nn.Flatten()(x).shape == (2, 3 * 9 * 8)
    for layer in (rb.nn.MaxPool2d(2), rb.nn.AvgPool2d(2), rb.nn.L2Pool2d(2),
                  rb.nn.GlobalAvgPool2d(), rb.nn.KMaxPool(2)):
        assert layer(x).dtype == np.float32
    assert repr(rb.nn.MaxPool2d(3, stride=2)) == "MaxPool2d(kernel_size=(3, 3), stride=(2, 2))"


def test_flatten_backward_restores_the_shape(rng):
    x = _t(rng.standard_normal((2, 3, 4, 5)))
    y = rb.nn.Flatten()(x)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    np.testing.assert_array_equal(x.grad, g.reshape(2, 3, 4, 5))


def test_errors():
    with pytest.raises(ValueError, match=r"max_pool2d: expected an input of shape .*got \(3, 4\)"):
        F.max_pool2d(np.zeros((3, 4)), 2)
    with pytest.raises(ValueError, match=r"window \(5, 5\) is larger than the input's \(4, 4\)"):
        F.avg_pool2d(np.zeros((1, 1, 4, 4)), 5)
    with pytest.raises(ValueError, match="MaxPool2d: kernel_size must be a positive integer"):
        rb.nn.MaxPool2d(0)
    with pytest.raises(ValueError, match="stride must be"):
        rb.nn.AvgPool2d(2, stride=-1)
    with pytest.raises(ValueError, match=r"k must be an integer from 1 to 5 .*got 6"):
        F.kmax_pool(np.zeros((2, 5)), 6)
    with pytest.raises(ValueError, match="KMaxPool: k must be a positive integer"):
        rb.nn.KMaxPool(0)
    with pytest.raises(ValueError, match=r"Flatten\(start_axis=1\).*got shape \(3,\)"):
        rb.nn.Flatten()(rb.tensor(np.zeros(3)))
    with pytest.raises(ValueError, match="global_avg_pool2d: expected"):
        F.global_avg_pool2d(np.zeros((2, 3, 4)))


@pytest.mark.parametrize("seed", range(12))
def test_pools_match_torch_on_random_configurations(torch, seed):
    rng = np.random.default_rng(2000 + seed)
    k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    stride = None if rng.random() < 0.3 else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4)),
             int(rng.integers(k[0], 11)), int(rng.integers(k[1], 11)))
    s = k if stride is None else stride
    for ours, theirs in (
        (F.max_pool2d, lambda x: torch.nn.functional.max_pool2d(x, k, s)),
        (F.avg_pool2d, lambda x: torch.nn.functional.avg_pool2d(x, k, s)),
        (F.l2_pool2d, lambda x: torch.nn.functional.lp_pool2d(x, 2, k, s)),
    ):
        _check_against_torch(torch, rng, ours, theirs, shape, k, stride)


@pytest.mark.parametrize("shape", [(1, 1, 4, 4), (4, 8, 64, 64)])
@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 1)])
def test_max_pool_float16_matches_float32(rng, shape, kernel, stride):
    """float16 takes the NumPy path (the compiled kernels take float32 and float64 only)."""
    x16 = rb.tensor(rng.standard_normal(shape).astype(np.float16), requires_grad=True)
    x32 = rb.tensor(x16.data.astype(np.float32), requires_grad=True)
    y16, y32 = rb.nn.MaxPool2d(kernel, stride)(x16), rb.nn.MaxPool2d(kernel, stride)(x32)
    assert y16.dtype == np.float16
    np.testing.assert_array_equal(y16.data, y32.data.astype(np.float16))
    g = rng.standard_normal(y16.shape).astype(np.float16)
    y16.backward(g)
    y32.backward(g.astype(np.float32))
    assert x16.grad.dtype == np.float16
    np.testing.assert_allclose(x16.grad, x32.grad, atol=1e-2)


def test_layer_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"^MaxPool2d\(kernel_size=\(2, 2\)\): expected an input "
                                         r"of shape \(batch, channels, height, width\)"):
        rb.nn.MaxPool2d(2)(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"^AvgPool2d\(kernel_size=\(5, 5\)\): the window"):
        rb.nn.AvgPool2d(5)(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"^L2Pool2d\(kernel_size=\(5, 5\)\): the window"):
        rb.nn.L2Pool2d(5)(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"^GlobalMaxPool2d\(\): expected"):
        rb.nn.GlobalMaxPool2d()(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"^GlobalAvgPool2d\(\): expected"):
        rb.nn.GlobalAvgPool2d()(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"^KMaxPool\(k=9\): k must be an integer from 1 to 3"):
        rb.nn.KMaxPool(9)(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="KMaxPool: axis must be an integer; got 'a'"):
        rb.nn.KMaxPool(2, axis="a")


def test_kmax_pool_propagates_nan_like_torch_topk(torch):
    """NaN ranks as the largest (torch.topk), so a diverged layer below is not hidden."""
    x = np.array([[1.0, np.nan, 3.0, 2.0], [4.0, 1.0, 2.0, 3.0]])
    xr = rb.tensor(x, requires_grad=True)
    with np.errstate(invalid="ignore"):
        y = rb.nn.functional.kmax_pool(xr, 2)
        y.backward(np.ones((2, 2)))
    np.testing.assert_array_equal(y.data, [[np.nan, 3.0], [4.0, 3.0]])
    np.testing.assert_array_equal(xr.grad, [[0, 1, 1, 0], [1, 0, 0, 1]])
    top = torch.topk(torch.tensor(x), 2, dim=-1)
    np.testing.assert_array_equal(np.sort(top.indices.numpy(), axis=-1), [[1, 2], [0, 3]])


def test_max_pool_backward_selects_an_infinite_gradient_like_torch(both):
    torch = pytest.importorskip("torch")
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    for kernel, stride in (((2, 2), 2), ((2, 1), 1)):  # windows apart, then overlapping

        def grad(kernel=kernel, stride=stride):
            xt = rb.tensor(x, requires_grad=True)
            y = rb.nn.functional.max_pool2d(xt, kernel, stride=stride)
            y.backward(np.full(y.shape, np.inf))
            return xt.grad

        ref = torch.tensor(x, requires_grad=True)
        out = torch.nn.functional.max_pool2d(ref, kernel, stride=stride)
        out.backward(torch.full(out.shape, float("inf"), dtype=torch.float64))
        for got in both(grad):
            np.testing.assert_array_equal(got, ref.grad.numpy())
