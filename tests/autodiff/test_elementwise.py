"""Elementwise ops at their edges: 0-d inputs, the sigmoid's tails, dtypes of constants,
broadcasting bounds (``rosenblatt/autodiff/elementwise.py``; the everyday cases are in
``test_ops.py``)."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff import clip, elementwise, where


def test_sigmoid_of_a_0d_tensor_matches_torch(torch):
    x = rb.tensor(np.float32(0.5), requires_grad=True)
    y = x.sigmoid()
    assert y.shape == () and y.dtype == np.float32
    y.backward()
    t = torch.tensor(0.5, dtype=torch.float32, requires_grad=True)
    torch.sigmoid(t).backward()
    np.testing.assert_allclose(y.data, torch.sigmoid(t).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-6)
    assert elementwise.sigmoid_array(np.float64(-3.0)).shape == ()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_sigmoid_is_relatively_accurate_in_both_tails(dtype, torch):
    # from the linear middle to where the result underflows; torch computes 1 / (1 + e^-x)
    fin = np.finfo(dtype)
    top = float(np.log(fin.max))
    xs = np.concatenate([np.linspace(-top, top, 201), [-0.0, 0.0, -2 * top, 2 * top,
                                                       -np.inf, np.inf]]).astype(dtype)
    y = elementwise.sigmoid_array(xs)
    assert y.dtype == dtype
    x64 = xs.astype(np.float64)
    e = np.exp(-np.abs(x64))
    exact = np.where(x64 >= 0, 1 / (1 + e), e / (1 + e))  # a float64 reference for f16/f32
    tiny = exact < fin.tiny  # subnormal or zero in dtype: only absolute accuracy possible
    np.testing.assert_allclose(y[~tiny], exact[~tiny], rtol=4 * fin.eps, atol=0)
    np.testing.assert_allclose(y[tiny], exact[tiny], rtol=0, atol=fin.smallest_subnormal)
    if dtype != np.float16:
        ty = torch.sigmoid(torch.tensor(xs)).numpy()
        normal = ty >= fin.tiny
        np.testing.assert_allclose(y[normal], ty[normal], rtol=4 * fin.eps)


def test_sigmoid_keeps_nan_and_writes_in_place():
    x = np.array([np.nan, -200.0, 0.0, 3.0], np.float32)
    out = elementwise.sigmoid_array(x.copy())
    assert np.isnan(out[0]) and out[2] == 0.5
    y = x.copy()
    assert elementwise.sigmoid_array(y, out=y) is y
    np.testing.assert_array_equal(y, out)


@pytest.mark.parametrize("dtype, xs", [
    (np.float32, [-10.0, -17.0, -18.0, -30.0, -80.0]),
    (np.float64, [-30.0, -38.0, -40.0, -200.0]),
])
def test_log_sigmoid_of_a_very_negative_logit_matches_torch(dtype, xs, torch):
    x = rb.tensor(np.array(xs, dtype), requires_grad=True)
    y = x.sigmoid().log()
    y.sum().backward()
    tx = torch.tensor(np.array(xs, dtype), requires_grad=True)
    ty = torch.sigmoid(tx).log()
    ty.sum().backward()
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-6)  # = x there
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-6)  # = 1, not NaN
    np.testing.assert_allclose(x.grad, 1.0, rtol=1e-4)  # 1 - sigma(x)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_where_with_a_python_number_keeps_the_dtype(dtype):
    x = rb.tensor(np.array([-1.0, 2.0, 3.0], dtype), requires_grad=True)
    m = np.array([True, False, True])
    for y in (where(m, x, 0.0), where(m, 1.0, x), where(m, x, 2), where(m, np.float64(0.5), x)):
        assert y.dtype == dtype
        y.backward(np.ones(3, dtype))
    assert x.grad.dtype == dtype
    assert where(m, 1.0, 0.0).dtype == np.float32  # two numbers: the library default


def test_where_with_two_python_numbers_gives_a_tensor():
    y = where(np.array([True, False]), 1.0, 2.0)
    np.testing.assert_array_equal(y.data, [1.0, 2.0])


def test_clip_with_broadcasting_bounds_matches_torch(torch, rng):
    a = rng.standard_normal(3)
    lo = rng.standard_normal((2, 3)) * 0.5
    x = rb.tensor(a, requires_grad=True)
    y = clip(x, lo, 0.8)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    t = torch.tensor(a, requires_grad=True)
    ty = torch.clamp(t, torch.tensor(lo), torch.tensor(0.8))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.data, ty.detach().numpy())
    np.testing.assert_allclose(x.grad, t.grad.numpy())


def test_clip_gives_a_tensor_bound_its_gradient_as_torch_clamp(torch):
    a = np.array([-1.0, 0.2, 2.0])
    x = rb.tensor(a, requires_grad=True)
    lo = rb.tensor(np.array([0.0, 0.0, 0.0]), requires_grad=True)
    y = clip(x, lo, rb.tensor(np.array([1.0, 1.0, 1.0])))
    y.backward(np.ones(3))
    np.testing.assert_array_equal(y.data, [0.0, 0.2, 1.0])
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])
    t, tlo = torch.tensor(a, requires_grad=True), torch.zeros(3, dtype=torch.float64,
                                                                requires_grad=True)
    torch.clamp(t, tlo, torch.ones(3, dtype=torch.float64)).backward(torch.ones(3,
                                                                          dtype=torch.float64))
    np.testing.assert_array_equal(lo.grad, tlo.grad.numpy())  # [1, 0, 0]: min where x < min


@pytest.mark.parametrize("x_grad", [True, False])
def test_clip_gives_both_tensor_bounds_torchs_gradient(torch, x_grad):
    rng = np.random.default_rng(0)
    x = rb.tensor(rng.normal(size=(4, 5)) * 2, requires_grad=x_grad)
    lo = rb.tensor(np.array([-1.0, 2.0, 0.0, -0.5, -3.0]), requires_grad=True)  # 2 > max
    hi = rb.tensor(np.array(1.0), requires_grad=True)
    g = rng.normal(size=(4, 5))
    clip(x, lo, hi).backward(g)
    xt = torch.tensor(x.data, requires_grad=x_grad)
    lt, ht = (torch.tensor(t.data, requires_grad=True) for t in (lo, hi))
    torch.clamp(xt, lt, ht).backward(torch.tensor(g))
    np.testing.assert_allclose(lo.grad, lt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(hi.grad, ht.grad.numpy(), rtol=1e-12)
    if x_grad:
        np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-12)


def test_clip_tensor_bound_gradients_pass_gradcheck():
    x = rb.tensor(np.array([-2.0, -0.3, 0.4, 1.7, 3.0]), requires_grad=True)
    lo = rb.tensor(np.array(-1.0), requires_grad=True)
    hi = rb.tensor(np.array([1.0, 1.0, 1.0, 1.2, 2.5]), requires_grad=True)
    assert rb.gradcheck(lambda a, b, c: clip(a, b, c), x, lo, hi)


def test_clip_with_constant_bounds_records_x_alone():
    x = rb.tensor(np.array([-2.0, 0.5]), requires_grad=True)
    y = clip(x, rb.tensor(np.array(-1.0)), 1.0)
    assert len(y._parents) == 1 and y._parents[0] is x


def test_clip_rejects_a_bound_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"clip: .*\(3,\).*\(2,\)"):
        clip(rb.tensor(np.ones(3)), np.zeros(2), None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_probabilities_is_accurate_to_absolute_rounding(dtype):
    x = np.linspace(-60, 60, 4001).astype(dtype)
    exact = 1 / (1 + np.exp(-x.astype(np.longdouble)))
    from rosenblatt.autodiff.elementwise import sigmoid_probabilities

    y = sigmoid_probabilities(x.copy())
    assert y.dtype == dtype
    assert float(np.max(np.abs(y - exact))) <= 2 * np.finfo(dtype).eps
    out = x.copy()
    assert sigmoid_probabilities(out, out=out) is out
