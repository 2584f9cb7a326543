"""Arithmetic ops at their edges: zero exponents, constant bases, dtypes of the gradients
(``rosenblatt/autodiff/arithmetic.py``; the everyday cases are in ``test_ops.py``)."""

import numpy as np

import rosenblatt as rb
from rosenblatt.autodiff import make, power


def _spy(t, seen):
    """The identity, recording the gradient that reaches it."""
    return make(t.data.copy(), (t,), lambda g: (seen.append(g) or g,))


def test_zero_exponent_has_a_zero_gradient_at_zero(torch):
    a = np.array([0.0, 1.0, 2.0, -3.0])
    for exponent in (0, 0.0, np.array([0.0, 0.0, 1.0, 2.0])):
        x = rb.tensor(a, requires_grad=True)
        t = torch.tensor(a, requires_grad=True)
        y, ty = x**exponent, t ** torch.as_tensor(exponent)
        y.backward(np.ones(4))
        ty.backward(torch.ones(4))
        np.testing.assert_array_equal(y.data, ty.detach().numpy())
        np.testing.assert_array_equal(x.grad, t.grad.numpy())


def test_tensor_exponent_with_zeros_matches_torch(torch):
    a, b = np.array([0.0, 0.0, 2.0, 0.5]), np.array([0.0, 1.0, 0.0, 3.0])
    x, e = rb.tensor(a, requires_grad=True), rb.tensor(b, requires_grad=True)
    t, te = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (x**e).backward(np.ones(4))
    (t**te).backward(torch.ones(4))
    np.testing.assert_array_equal(x.grad, t.grad.numpy())
    np.testing.assert_array_equal(e.grad, te.grad.numpy())


def test_constant_base_sends_float32_gradients_down():
    for base in (2.0, 2, np.float64(2.0), np.array(2.0, np.float32)):
        seen = []
        x = rb.tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
        y = power(base, _spy(x, seen))
        assert y.dtype == np.float32
        y.sum().backward()
        assert seen[0].dtype == np.float32
        np.testing.assert_allclose(x.grad, np.log(2.0) * 2.0 ** x.data, rtol=1e-6)


def test_ops_on_two_numbers_give_0d_tensors():
    for fn, args, value in [
        (rb.autodiff.add, (1.0, 2.0), 3.0),
        (rb.autodiff.sub, (1, 2), -1.0),
        (rb.autodiff.mul, (2.0, np.float32(3)), 6.0),
        (rb.autodiff.div, (1.0, 4.0), 0.25),
        (rb.autodiff.power, (2, 3), 8.0),
    ]:
        t = fn(*args)
        assert isinstance(t.data, np.ndarray) and t.shape == ()
        assert t.dtype == np.float32 and t.item() == value  # numbers: as rb.tensor(3.0)
