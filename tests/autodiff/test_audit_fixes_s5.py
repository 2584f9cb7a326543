"""Defects of audit s5/a1 in the autodiff engine (the losses' are in tests/nn/test_losses.py):
2 (float lists as constants), 3 (split of an empty axis), 4 (fractional pad widths), 5 (stack's
axis error), 8 (gradcheck and .grad), 11 (float16 var), 12 (top-level ops on arrays),
13 (d(a**b)/db at a < 0), 14 (gradcheck's eps/atol/rtol)."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff import shape

# -- 2: a list or tuple of Python floats takes the tensor's dtype, as a Python float does ----------


@pytest.mark.parametrize("op", [
    lambda t: t * [0.5, 2.0],
    lambda t: [0.5, 2.0] * t,
    lambda t: t + (0.5, 2.0),
    lambda t: t - [0.5, 2.0],
    lambda t: [1.5, 2.0] / t,
    lambda t: t ** [2.0, 0.5],
    lambda t: [2.0, 3.0] ** t,
    lambda t: t @ [[1.0, 2.0], [3.0, 4.0]],
    lambda t: t.clip([0.0, 1.0], 2.0),
    lambda t: rb.maximum(t, [0.0, 3.0]),
    lambda t: rb.where([True, False], t, [0.0, 1.0]),
    lambda t: rb.concatenate([t, [0.5, 2.0]]),
    lambda t: rb.stack([t, [0.5, 2.0]]),
    lambda t: rb.stack([[0.5, 2.0], t]),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_a_float_list_constant_keeps_the_tensors_dtype(op, dtype):
    t = rb.tensor(np.array([1.0, 2.0], dtype), requires_grad=True)
    seen = []  # the dtype of the gradient op(t) sends back (a float64 one doubles the work)
    spy = rb.autodiff.make(t.data, (t,), lambda g: (seen.append(g.dtype) or g,))
    y = op(spy)
    assert y.dtype == dtype
    y.sum().backward()
    assert seen == [dtype]


def test_a_float64_ndarray_constant_still_keeps_its_own_dtype():
    t = rb.tensor(np.array([1.0, 2.0], np.float32))
    assert (t * np.array([0.5, 2.0])).dtype == np.float64  # NumPy's rule for arrays
    assert rb.concatenate([t, np.array([0.5])]).dtype == np.float64
    assert rb.concatenate([[0.5], [1.0]]).dtype == np.float32  # no tensor: rb.tensor's rule


# -- 3: split of an empty axis into sections -------------------------------------------------------


def test_split_of_an_empty_axis_gives_empty_parts():
    x = rb.tensor(np.zeros((0, 3)), requires_grad=True)
    parts = rb.split(x, 2)
    assert [p.shape for p in parts] == [p.shape for p in np.split(np.zeros((0, 3)), 2)]
    rb.concatenate(parts).sum().backward()
    assert x.grad.shape == (0, 3)
    assert [p.shape for p in rb.split(rb.tensor(np.zeros((2, 0))), 3, axis=1)] == [(2, 0)] * 3


# -- 4: pad refuses fractional widths, as numpy.pad ------------------------------------------------


@pytest.mark.parametrize("width", [1.5, 0.9, (1, 2.5), [[0, 1], [1.0, 1]]])
def test_pad_refuses_fractional_widths(width):
    x = rb.tensor(np.ones((2, 2)))
    with pytest.raises(TypeError, match=r"pad: pad_width must be integers.*got"):
        shape.pad(x, width)


def test_pad_takes_integer_widths_of_any_integer_type():
    x = rb.tensor(np.ones((2, 2)))
    for width in (1, np.int32(1), (1, 1), np.array([[1, 1], [1, 1]], np.uint8)):
        assert rb.pad(x, width).shape == (4, 4)


# -- 5: stack names an out-of-range axis -----------------------------------------------------------


@pytest.mark.parametrize("axis", [2, -3, 5])
def test_stack_names_an_out_of_range_axis(axis):
    a, b = rb.tensor([1.0, 2.0]), rb.tensor([3.0, 4.0])
    with pytest.raises(ValueError, match=rf"stack: axis {axis} is out of range"):
        rb.stack([a, b], axis=axis)


def test_stack_keeps_its_shape_message_and_negative_axes(torch):
    a = rb.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    b = rb.tensor(np.ones((2, 3)), requires_grad=True)
    y = rb.stack([a, b], axis=-1)
    assert y.shape == (2, 3, 2)
    g = np.arange(12.0).reshape(2, 3, 2)
    y.backward(g)
    np.testing.assert_array_equal(a.grad, g[..., 0])
    with pytest.raises(ValueError, match="stack: all shapes must be equal"):
        rb.stack([a, rb.tensor([1.0])])


# -- 8: gradcheck leaves the inputs' .grad as it found them ---------------------------------------


def test_gradcheck_keeps_the_users_gradient(rng):
    x = rb.tensor(rng.standard_normal(3), requires_grad=True)
    (x * np.array([1.0, -2.0, 4.0])).sum().backward()
    before = x.grad
    fresh = rb.tensor(rng.standard_normal(2), requires_grad=True)
    assert rb.gradcheck(lambda t: t.tanh(), x)
    assert rb.gradcheck(lambda t: t.tanh(), fresh)
    assert x.grad is before
    np.testing.assert_array_equal(x.grad, [1.0, -2.0, 4.0])
    assert fresh.grad is None


def test_gradcheck_keeps_the_gradient_of_a_tensor_passed_twice(rng):
    x = rb.tensor(rng.standard_normal(3), requires_grad=True)
    x.grad = np.array([1.0, 2.0, 3.0])
    assert rb.gradcheck(lambda a, b: a * b, x, x)
    np.testing.assert_array_equal(x.grad, [1.0, 2.0, 3.0])


def test_gradcheck_keeps_the_gradient_when_it_fails(rng):
    x = rb.tensor(rng.standard_normal(3), requires_grad=True)
    x.grad = np.array([1.0, 2.0, 3.0])

    def wrong(t):
        return rb.autodiff.make(t.data * 2, (t,), lambda g: (g * 3,))

    with pytest.raises(rb.GradcheckError):
        rb.gradcheck(wrong, x)
    np.testing.assert_array_equal(x.grad, [1.0, 2.0, 3.0])


def test_gradcheck_keeps_packed_parameter_gradients(rng):
    a = rb.nn.Parameter(rng.standard_normal((2, 2)))
    b = rb.nn.Parameter(rng.standard_normal(2))
    vec = rb.nn.ParameterVector([a, b])
    ((a @ b).sigmoid()).sum().backward()
    before = vec.grad.copy()
    assert rb.gradcheck(lambda a, b: (a @ b).sigmoid(), a, b)
    np.testing.assert_array_equal(vec.grad, before)
    assert vec.is_packed()


# -- 11: float16 var over more values than float16 can count --------------------------------------


def test_float16_var_of_many_values_matches_float32(rng, torch):
    values = rng.standard_normal(70_000).astype(np.float16)
    x = rb.tensor(values, requires_grad=True)
    v = x.var()
    assert v.dtype == np.float16
    expected = torch.from_numpy(values).var(unbiased=False).item()
    assert abs(v.item() - expected) < 2e-3
    assert abs(rb.tensor(values).var(ddof=1).item() - np.var(values.astype(np.float32))) < 2e-3
    v.backward()
    assert x.grad.dtype == np.float16 and np.isfinite(x.grad).all() and np.abs(x.grad).max() > 0
    small = rb.tensor(np.array([[1.0, 2.0], [3.0, 5.0]], np.float16))
    np.testing.assert_array_equal(small.var(axis=1).data, np.array([0.25, 1.0], np.float16))


# -- 12: the top-level ops take arrays and lists, as rb.relu does --------------------------------


@pytest.mark.parametrize("op", [rb.exp, rb.log, rb.sqrt, rb.abs, rb.logsumexp,
                                lambda x: rb.clip(x, 0.0, 1.5)])
def test_top_level_ops_take_arrays_and_lists_like_relu(op):
    ints = np.array([1, 2])
    for x, dtype in [(ints, np.float32), ([1.0, 2.0], np.float32),  # (audit s7/a1 #9)
                     (np.array([1.0, 2.0], np.float32), np.float32),
                     (np.array([1.0, 2.0]), np.float64)]:
        y = op(x)
        assert isinstance(y, rb.Tensor) and y.dtype == dtype, (x, y.dtype)
        np.testing.assert_allclose(y.data, op(rb.tensor(np.asarray(x, dtype))).data)
        assert rb.relu(x).dtype == dtype  # the rule these follow


def test_top_level_shape_ops_take_arrays():
    mat = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    parts = rb.split(mat, 2)
    assert [p.shape for p in parts] == [(1, 2), (1, 2)] and parts[0].dtype == np.float32
    assert rb.split(np.array([1, 2, 3, 4]), [1])[1].dtype == np.float32
    assert rb.pad(mat, 1).shape == (4, 4)
    with pytest.raises(TypeError, match="exp"):
        rb.exp(["a", "b"])


# -- 13: d(a**b)/db where a < 0 is NaN, as in PyTorch -------------------------------------------


def test_power_exponent_gradient_at_a_negative_base_matches_torch(torch):
    a = np.array([-2.0, -0.5, 0.0, 3.0])
    b = np.array([2.0, 3.0, 2.0, 2.0])
    x, e = rb.tensor(a, requires_grad=True), rb.tensor(b, requires_grad=True)
    t, te = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (x**e).backward(np.ones(4))
    (t**te).backward(torch.ones(4))
    np.testing.assert_array_equal(x.grad, t.grad.numpy())
    np.testing.assert_array_equal(e.grad, te.grad.numpy())  # NaN, NaN, 0, 9.89
    for base in (-2.0, 0.0, 2.0):
        e = rb.tensor(np.array([2.0]), requires_grad=True)
        te = torch.tensor([2.0], requires_grad=True)
        (base**e).sum().backward()
        (base**te).sum().backward()
        np.testing.assert_array_equal(e.grad, te.grad.numpy())


def test_power_exponent_gradient_of_a_float32_negative_base_stays_float32():
    x = rb.tensor(np.array([-2.0, 2.0], np.float32))
    e = rb.tensor(np.array([2.0, 2.0], np.float32), requires_grad=True)
    (x**e).sum().backward()
    assert e.grad.dtype == np.float32 and np.isnan(e.grad[0]) and np.isfinite(e.grad[1])


# -- 14: gradcheck checks eps, atol and rtol -------------------------------------------------------


@pytest.mark.parametrize("kwargs, error, match", [
    ({"eps": 0.0}, ValueError, r"gradcheck: eps must be finite and > 0; got 0.0"),
    ({"eps": -1e-6}, ValueError, r"gradcheck: eps must be finite and > 0"),
    ({"eps": float("inf")}, ValueError, r"gradcheck: eps must be finite"),
    ({"eps": "1e-6"}, TypeError, r"gradcheck: eps must be a number; got str"),
    ({"atol": -1.0}, ValueError, r"gradcheck: atol must be finite and >= 0; got -1.0"),
    ({"rtol": float("nan")}, ValueError, r"gradcheck: rtol must be finite and >= 0; got nan"),
    ({"rtol": None}, TypeError, r"gradcheck: rtol must be a number"),
])
def test_gradcheck_checks_its_tolerances(rng, kwargs, error, match):
    x = rb.tensor(rng.standard_normal(3), requires_grad=True)
    with pytest.raises(error, match=match):
        rb.gradcheck(lambda t: t.tanh(), x, **kwargs)


def test_gradcheck_takes_zero_tolerances_and_integer_steps(rng):
    x = rb.tensor(rng.standard_normal(2), requires_grad=True)
    assert rb.gradcheck(lambda t: t * 2.0, x, atol=0, rtol=1e-3, eps=1)
