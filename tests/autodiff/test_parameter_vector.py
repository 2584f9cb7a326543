"""Parameters as one flat vector (write-through views, accumulating grads) and rb.seed."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.nn import Dense, Parameter, ParameterVector


def _model(rng):
    return rb.nn.Sequential(Dense(3, 4, rng=rng), Dense(4, 2, rng=rng))


def test_parameters_are_views_into_one_vector(rng):
    a = Parameter(rng.standard_normal((2, 3)))
    b = Parameter(rng.standard_normal(4))
    before = np.concatenate([a.data.ravel(), b.data.ravel()])
    vec = ParameterVector([a, b])
    assert len(vec) == vec.size == 10 and vec.data.ndim == 1 and vec.grad.ndim == 1
    np.testing.assert_array_equal(vec.data, before)  # packing keeps the values
    assert np.shares_memory(a.data, vec.data) and np.shares_memory(b.grad, vec.grad)
    assert vec.slices == [slice(0, 6), slice(6, 10)]
    assert vec.is_packed()


def test_writing_theta_changes_the_model(rng):
    model = _model(rng)
    vec = ParameterVector(model.parameters())
    x = rb.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    y0 = model(x).data.copy()
    vec.data[:] = 0
    assert np.all(model(x).data == 0)
    theta = rng.standard_normal(vec.size).astype(np.float32)
    vec.data[:] = theta
    first = model.parameters()[0]
    np.testing.assert_array_equal(first.data.ravel(), theta[: first.size])
    assert not np.allclose(model(x).data, y0)


def test_backward_accumulates_into_the_grad_vector(rng):
    model = _model(rng)
    vec = ParameterVector(model.parameters())
    x = rb.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    model(x).sum().backward()
    once = vec.grad.copy()
    assert np.any(once != 0)
    np.testing.assert_array_equal(
        np.concatenate([p.grad.ravel() for p in model.parameters()]), once
    )
    model(x).sum().backward()
    np.testing.assert_allclose(vec.grad, 2 * once, rtol=1e-6)


def test_zero_grad_keeps_the_views(rng):
    model = _model(rng)
    vec = ParameterVector(model.parameters())
    x = rb.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    model(x).sum().backward()
    vec.zero_grad()
    assert np.all(vec.grad == 0) and vec.is_packed()
    model(x).sum().backward()
    assert np.any(vec.grad != 0)
    assert all(np.shares_memory(p.grad, vec.grad) for p in model.parameters())


def test_a_flat_sgd_step_trains_the_model(rng):
    model = _model(rng)
    vec = ParameterVector(model.parameters())
    x = rb.tensor(rng.standard_normal((16, 3)).astype(np.float32))
    target = rb.tensor(rng.standard_normal((16, 2)).astype(np.float32))

    def loss():
        diff = model(x) - target
        return (diff * diff).mean()

    first = loss().item()
    for _ in range(50):
        vec.zero_grad()
        loss().backward()
        vec.data -= 0.1 * vec.grad  # the whole update: one vectorized operation
    assert loss().item() < 0.7 * first


def test_split_gives_per_parameter_views(rng):
    a, b = Parameter(np.zeros((2, 2))), Parameter(np.zeros(3))
    vec = ParameterVector([a, b])
    flat = np.arange(7.0)
    parts = vec.split(flat)
    assert [p.shape for p in parts] == [(2, 2), (3,)]
    assert np.shares_memory(parts[1], flat)


def test_existing_grads_are_packed_and_duplicates_once():
    a = Parameter(np.ones(2))
    a.grad = np.array([3.0, 4.0])
    vec = ParameterVector([a, a])
    assert vec.size == 2 and len(vec.params) == 1
    np.testing.assert_array_equal(vec.grad, [3.0, 4.0])


def test_dtype_follows_the_parameters():
    a = Parameter(np.ones(2, np.float32))
    assert ParameterVector([a]).data.dtype == np.float32
    b = Parameter(np.ones(2, np.float32))
    vec = ParameterVector([b], dtype=np.float64)
    assert vec.data.dtype == b.dtype == np.float64


def test_rebinding_data_is_detected():
    a = Parameter(np.ones(2))
    vec = ParameterVector([a])
    a.data = np.zeros(2)  # what the docstring says not to do
    assert not vec.is_packed()
    with pytest.raises(RuntimeError, match="owner: parameter #0 .* no longer views"):
        vec.check_packed("owner")


def test_packing_again_moves_the_parameters_to_the_new_vector():
    a = Parameter(np.ones(2))
    first = ParameterVector([a])
    first.check_packed()
    second = ParameterVector([a])
    second.check_packed()
    assert not first.is_packed()
    first.data[:] = 5.0  # reaches nothing any more
    np.testing.assert_array_equal(a.data, [1.0, 1.0])


def test_bad_arguments():
    with pytest.raises(TypeError, match="ParameterVector: expected Parameters"):
        ParameterVector([np.ones(3)])
    with pytest.raises(ValueError, match="ParameterVector: got no parameters"):
        ParameterVector([])
    with pytest.raises(TypeError, match="ParameterVector: dtype must be a floating type"):
        ParameterVector([Parameter(np.ones(2))], dtype=np.int32)


def test_gradcheck_through_the_flat_vector(rng):
    """The notes' use: check d loss / d theta for a whole model at once."""
    model = rb.nn.Sequential(Dense(3, 2, rng=rng, dtype=np.float64))
    vec = ParameterVector(model.parameters())
    x = rb.tensor(rng.standard_normal((4, 3)))
    theta = rb.tensor(vec.data.copy(), requires_grad=True)

    def loss_of_theta(t):
        weight = t[:6].reshape(3, 2)
        bias = t[6:]
        return ((x @ weight + bias).tanh() ** 2).sum()

    assert rb.gradcheck(loss_of_theta, theta)
    theta.grad = None  # gradcheck left its own projected gradient there
    loss_of_theta(theta).backward()
    vec.zero_grad()
    (model(x).tanh() ** 2).sum().backward()
    np.testing.assert_allclose(vec.grad, theta.grad, rtol=1e-12)


# -- determinism -------------------------------------------------------------------


def test_same_seed_same_initialisation():
    rb.seed(7)
    a = Dense(5, 3)
    rb.seed(7)
    b = Dense(5, 3)
    np.testing.assert_array_equal(a.W.data, b.W.data)
    rb.seed(8)
    c = Dense(5, 3)
    assert not np.array_equal(a.W.data, c.W.data)


def test_explicit_generator_is_independent_of_the_library_one():
    rb.seed(1)
    a = Dense(4, 4, rng=np.random.default_rng(0))
    rb.seed(2)
    b = Dense(4, 4, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(a.W.data, b.W.data)


def test_seed_rejects_bad_values():
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(ValueError, match="seed: expected a non-negative integer"):
            rb.seed(bad)
