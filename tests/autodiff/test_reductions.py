"""Reductions at their edges: empty axes (``rosenblatt/autodiff/reductions.py``; the
everyday cases are in ``test_ops.py`` and ``test_reduction_axes.py``)."""

import warnings

import numpy as np
import pytest

import rosenblatt as rb


def _both(torch, shape, fn, tfn):
    x = rb.tensor(np.zeros(shape), requires_grad=True)
    t = torch.zeros(shape, requires_grad=True)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "mean of empty slice"
        y, ty = fn(x), tfn(t)
        assert y.shape == tuple(ty.shape)
        np.testing.assert_array_equal(y.data, ty.detach().numpy())
        g = np.ones(y.shape)
        y.backward(g)
        ty.backward(torch.tensor(g))
    assert x.grad.shape == tuple(t.grad.shape) == shape
    np.testing.assert_array_equal(x.grad, t.grad.numpy())


@pytest.mark.parametrize("fn, tfn", [
    (lambda a: a.mean(axis=0), lambda a: a.mean(0)),
    (lambda a: a.mean(axis=1), lambda a: a.mean(1)),
    (lambda a: a.sum(axis=0), lambda a: a.sum(0)),
    (lambda a: a.max(axis=1), lambda a: a.amax(1)),
    (lambda a: a.min(axis=1, keepdims=True), lambda a: a.amin(1, keepdim=True)),
    (lambda a: a.logsumexp(axis=0), lambda a: a.logsumexp(0)),
    (lambda a: a.logsumexp(axis=1), lambda a: a.logsumexp(1)),
], ids=["mean-empty-axis", "mean-over-full-axis", "sum", "max", "min", "lse-empty-axis",
        "lse-full-axis"])
def test_reductions_of_an_empty_batch_match_torch(fn, tfn, torch):
    _both(torch, (0, 3), fn, tfn)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_over_an_empty_axis_says_so(name):
    x = rb.tensor(np.zeros((0, 3)))
    message = rf"{name}: cannot reduce an empty array over an empty axis.*\(0, 3\)"
    with pytest.raises(ValueError, match=message):
        getattr(x, name)(axis=0)
    assert getattr(x, name)(axis=1).shape == (0,)
