"""rb.gradcheck itself: it passes right gradients and names what is wrong in wrong ones."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff import GradcheckError, make


def _square_with_backward(wrong_at=None, factor=2.0):
    """x**2 with a hand-written backward, optionally wrong at one flat index."""

    def op(x):
        xd = x.data

        def backward(g):
            gx = factor * g * xd
            if wrong_at is not None:
                gx = gx.copy()
                gx.reshape(-1)[wrong_at] += 1.0
            return (gx,)

        return make(xd * xd, (x,), backward)

    return op


def test_passes_a_right_gradient(rng):
    x = rb.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    assert rb.gradcheck(_square_with_backward(), x) is True


def test_names_input_index_and_errors_for_a_wrong_backward(rng):
    x = rb.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    with pytest.raises(rb.GradcheckError) as info:
        rb.gradcheck(_square_with_backward(wrong_at=4), x)
    message = str(info.value)
    assert "input 0" in message and "index (1, 1)" in message
    assert "worst absolute error" in message and "worst relative error" in message
    assert "1 of 6 elements fail" in message


def test_names_the_second_input(rng):
    a = rb.tensor(rng.standard_normal(3), requires_grad=True)
    b = rb.tensor(rng.standard_normal(3), requires_grad=True)
    square = _square_with_backward(factor=1.0)  # half the true derivative everywhere
    with pytest.raises(rb.GradcheckError, match="input 1, index"):
        rb.gradcheck(lambda a, b: a * 2 + square(b), a, b)


def test_gradcheck_error_is_an_assertion_error():
    assert issubclass(rb.GradcheckError, AssertionError)


def test_skips_inputs_without_requires_grad(rng):
    a = rb.tensor(rng.standard_normal(3), requires_grad=True)
    c = rb.tensor(rng.standard_normal(3))
    assert rb.gradcheck(lambda a, c: (a * c).tanh(), a, c)
    assert c.grad is None


def test_scalar_input_and_output():
    x = rb.tensor(np.array(0.7), requires_grad=True)
    assert rb.gradcheck(lambda t: t.exp() * t, x)


def test_non_contiguous_input(rng):
    x = rb.tensor(rng.standard_normal((4, 3)).T, requires_grad=True)  # a transposed view
    assert not x.data.flags.c_contiguous
    assert rb.gradcheck(lambda t: (t @ t.T).tanh(), x)


def test_parameter_vector_views_survive_a_gradcheck(rng):
    a = rb.nn.Parameter(rng.standard_normal((2, 2)))
    b = rb.nn.Parameter(rng.standard_normal(2))
    vec = rb.nn.ParameterVector([a, b])
    assert rb.gradcheck(lambda a, b: (a @ b).sigmoid(), a, b)
    assert vec.is_packed()
    np.testing.assert_array_equal(vec.grad[4:], b.grad.reshape(-1))


def test_inputs_are_left_unchanged(rng):
    values = rng.standard_normal((3, 2))
    x = rb.tensor(values.copy(), requires_grad=True)
    rb.gradcheck(lambda t: t.tanh(), x)
    np.testing.assert_array_equal(x.data, values)


def test_tolerances_are_used(rng):
    x = rb.tensor(rng.standard_normal(3), requires_grad=True)
    slightly_wrong = _square_with_backward(factor=2.0 + 1e-3)
    with pytest.raises(rb.GradcheckError):
        rb.gradcheck(slightly_wrong, x)
    assert rb.gradcheck(slightly_wrong, x, rtol=1e-2, atol=1e-2)


def test_rejects_float32_inputs():
    x = rb.tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="input 0 is float32.*float64"):
        rb.gradcheck(lambda t: t * 2, x)


def test_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="no input has requires_grad=True"):
        rb.gradcheck(lambda t: t * 2, rb.tensor(np.ones(3)))


def test_fn_must_return_a_tensor():
    x = rb.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(TypeError, match="fn must return a Tensor; got ndarray"):
        rb.gradcheck(lambda t: t.data * 2, x)


def test_random_directions_pass_a_right_gradient(rng):
    x = rb.tensor(rng.standard_normal((30, 20)), requires_grad=True)
    w = rb.tensor(rng.standard_normal((20, 5)), requires_grad=True)
    calls = []

    def fn(x, w):
        calls.append(1)
        return (x @ w).tanh()

    assert rb.gradcheck(fn, x, w, directions=4)
    assert len(calls) == 1 + 2 * 4 + 2 * 4  # not 2 per element (1,200 of them)


def test_random_directions_catch_a_wrong_gradient(rng):
    x = rb.tensor(rng.standard_normal((20, 20)), requires_grad=True)
    with pytest.raises(rb.GradcheckError, match=r"input 0, random direction 0 of 3"):
        rb.gradcheck(_square_with_backward(wrong_at=17), x, directions=3)


def test_small_inputs_are_still_checked_element_by_element(rng):
    x = rb.tensor(rng.standard_normal(3), requires_grad=True)
    with pytest.raises(rb.GradcheckError, match=r"index \(1,\)"):
        rb.gradcheck(_square_with_backward(wrong_at=1), x, directions=5)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_directions_must_be_a_positive_int(bad):
    x = rb.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="directions must be a positive int"):
        rb.gradcheck(lambda t: t * 2, x, directions=bad)


def _nan_backward(t):
    return make(t.data * 1.0, (t,), lambda g: (g * np.nan,))  # the true gradient is 1


def _nan_function(t):
    return make(np.sqrt(t.data), (t,), lambda g: (g * 0 + 5,))  # NaN near t = -1


@pytest.mark.parametrize("directions", [None, 1])
def test_a_nan_gradient_fails(directions, torch):
    x = rb.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    with pytest.raises(GradcheckError, match="NaN"):
        rb.gradcheck(_nan_backward, x, directions=directions)

    class NanBackward(torch.autograd.Function):  # torch agrees
        @staticmethod
        def forward(ctx, t):
            return t * 1.0

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    with pytest.raises(RuntimeError):  # torch's GradcheckError
        torch.autograd.gradcheck(NanBackward.apply, torch.tensor([1.0, 2.0, 3.0],
                                                                 requires_grad=True))


@pytest.mark.parametrize("directions", [None, 1])
def test_a_nan_function_fails(directions):
    y = rb.tensor(-np.ones(3), requires_grad=True)
    with np.errstate(invalid="ignore"), pytest.raises(GradcheckError, match="NaN"):
        rb.gradcheck(_nan_function, y, directions=directions)
