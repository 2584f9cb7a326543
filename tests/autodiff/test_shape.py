"""Shape ops at their edges: tuple sub-indices, tensor indices, axis checks
(``rosenblatt/autodiff/shape.py``; the everyday cases are in ``test_ops.py``)."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import autodiff as ad


@pytest.mark.parametrize("index", [
    (slice(None), (0, 0, 2)),
    ((1, 1),),
    ((0, 1, 0), (2, 2, 2)),
    (range(0, 2), [1, 1]),
    ([0, 0], slice(None)),
    (Ellipsis, (2, 2)),
    (1, (0, 0)),
], ids=["slice-tuple", "tuple-in-tuple", "two-tuples", "range-list", "list", "ellipsis-tuple",
        "int-tuple"])
def test_repeated_positions_in_any_index_accumulate_like_torch(index, torch, rng):
    a = rng.standard_normal((2, 3))
    x = rb.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    tindex = tuple(list(i) if isinstance(i, (tuple, range)) else i for i in index)
    y, ty = x[index], t[tindex]
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    g = rng.standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-12)


def test_boolean_masks_and_basic_indices_still_assign():
    x = rb.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x[[True, False], 1:].sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 1], [0, 0, 0]])


def test_float_tensor_index_must_hold_whole_numbers():
    x = rb.tensor(np.array([10.0, 20.0, 30.0]))
    np.testing.assert_array_equal(x[rb.tensor([2.0, 0.0])].data, [30.0, 10.0])
    with pytest.raises(IndexError, match=r"index: a Tensor index must hold whole numbers.*0\.7"):
        x[rb.tensor(np.array([0.7, 1.9]))]
    with pytest.raises(IndexError, match="index: a Tensor index must hold whole numbers"):
        x[1:, rb.tensor(np.array([np.nan]))]


def test_concatenate_axis_none_flattens_like_numpy(torch, rng):
    a, b = rng.standard_normal((2, 2)), rng.standard_normal(3)
    x, y = rb.tensor(a, requires_grad=True), rb.tensor(b, requires_grad=True)
    out = ad.concatenate([x, y], axis=None)
    np.testing.assert_array_equal(out.data, np.concatenate([a, b], axis=None))
    g = rng.standard_normal(7)
    out.backward(g)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    torch.cat([ta.reshape(-1), tb]).backward(torch.tensor(g))
    np.testing.assert_array_equal(x.grad, ta.grad.numpy())
    np.testing.assert_array_equal(y.grad, tb.grad.numpy())


@pytest.mark.parametrize("fn, message", [
    (lambda x: x.swapaxes(0, 5), "swapaxes: axis 5 is out of range for a tensor of 2 dim"),
    (lambda x: x.swapaxes(-3, 0), "swapaxes: axis -3 is out of range for a tensor of 2 dim"),
    (lambda x: ad.split(x, 2, axis=5), "split: axis 5 is out of range for a tensor of 2 dim"),
    (lambda x: x.squeeze(0), r"squeeze: axis 0 has length 2, not 1 \(shape \(2, 3\)\)"),
    (lambda x: x.squeeze(2), "squeeze: axis 2 is out of range for a tensor of 2 dim"),
    (lambda x: x.flatten(5), "flatten: start_axis 5 is out of range for a tensor of 2 dim"),
    (lambda x: x.flatten(-5), "flatten: start_axis -5 is out of range for a tensor of 2 dim"),
    (lambda x: ad.concatenate([rb.tensor(1.0), rb.tensor(2.0)]),
     "concatenate: 0-d tensors have no axis to join along; use stack"),
    (lambda x: ad.concatenate([x, x], axis=2),
     "concatenate: axis 2 is out of range for a tensor of 2 dim"),
], ids=["swapaxes", "swapaxes-neg", "split", "squeeze-long-axis", "squeeze-range", "flatten",
        "flatten-neg", "concatenate-0d", "concatenate-axis"])
def test_axis_errors_name_the_op_and_the_shape(fn, message):
    with pytest.raises(ValueError, match=message):
        fn(rb.tensor(np.ones((2, 3))))


def test_valid_axes_still_work():
    x = rb.tensor(np.ones((2, 1, 3)))
    assert x.swapaxes(-1, 0).shape == (3, 1, 2)
    assert x.squeeze(-2).shape == (2, 3) and x.squeeze().shape == (2, 3)
    assert x.flatten(3).shape == (2, 1, 3, 1) and x.flatten(-3).shape == (6,)
    assert x.flatten(0).shape == (6,) and rb.tensor(np.ones(4)).flatten().shape == (4, 1)
    assert [p.shape for p in ad.split(x, 3, axis=-1)] == [(2, 1, 1)] * 3
