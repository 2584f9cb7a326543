"""Broadcasting, property-based: for any two shapes NumPy can broadcast, every binary op's
gradient has its operand's shape and passes a gradient check."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import rosenblatt as rb
from rosenblatt.autodiff import sum_to_shape

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "maximum": rb.maximum,
    "minimum": rb.minimum,
    "where": lambda a, b: rb.where(a.data > 1.2, a, b),
}

SHAPES = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


@pytest.mark.parametrize("name", BINARY)
@settings(max_examples=15, deadline=None)
@given(shapes=SHAPES, seed=st.integers(0, 2**16))
def test_binary_op_gradients_under_broadcasting(name, shapes, seed):
    rng = np.random.default_rng(seed)
    (shape_a, shape_b), out_shape = shapes.input_shapes, shapes.result_shape
    # positive, well-separated values: a valid base for pow, a safe divisor, no ties
    a = rb.tensor(rng.uniform(0.5, 2.0, shape_a), requires_grad=True, dtype=np.float64)
    b = rb.tensor(rng.uniform(0.5, 2.0, shape_b) + 0.01, requires_grad=True, dtype=np.float64)
    out = BINARY[name](a, b)
    assert out.shape == out_shape
    out.backward(np.ones(out_shape))
    assert a.grad.shape == shape_a and b.grad.shape == shape_b
    a.grad = b.grad = None
    assert rb.gradcheck(BINARY[name], a, b)


@settings(max_examples=30, deadline=None)
@given(shapes=SHAPES, seed=st.integers(0, 2**16))
def test_sum_to_shape_is_the_adjoint_of_broadcasting(shapes, seed):
    rng = np.random.default_rng(seed)
    shape, out_shape = shapes.input_shapes[0], shapes.result_shape
    g = rng.standard_normal(out_shape)
    v = rng.standard_normal(shape)
    reduced = sum_to_shape(g, shape)
    assert reduced.shape == shape
    np.testing.assert_allclose(np.sum(g * np.broadcast_to(v, out_shape)), np.sum(reduced * v))
