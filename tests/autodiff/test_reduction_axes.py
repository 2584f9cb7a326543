"""Reductions over any set of axes, property-based: NumPy's values, correct gradients."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import array_shapes

import rosenblatt as rb


def _logsumexp(a, axis, keepdims):
    return np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims))


REDUCTIONS = {
    "sum": (lambda t, **kw: t.sum(**kw), np.sum),
    "mean": (lambda t, **kw: t.mean(**kw), np.mean),
    "max": (lambda t, **kw: t.max(**kw), np.max),
    "min": (lambda t, **kw: t.min(**kw), np.min),
    "var": (lambda t, **kw: t.var(**kw), np.var),
    "logsumexp": (lambda t, **kw: t.logsumexp(**kw), _logsumexp),
}


@st.composite
def shape_and_axis(draw):
    shape = draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    axes = draw(st.lists(st.integers(0, len(shape) - 1), unique=True, max_size=len(shape)))
    negative = draw(st.booleans())
    axes = [a - len(shape) if negative else a for a in axes]
    axis = draw(st.sampled_from([None, tuple(axes)] + ([axes[0]] if axes else [])))
    return shape, axis


@pytest.mark.parametrize("name", REDUCTIONS)
@settings(max_examples=12, deadline=None)
@given(case=shape_and_axis(), keepdims=st.booleans(), seed=st.integers(0, 2**16))
def test_reduction_over_any_axes(name, case, keepdims, seed):
    shape, axis = case
    ours, reference = REDUCTIONS[name]
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    values = (rng.permutation(n) * 0.1 + rng.uniform(0, 0.01, n)).reshape(shape)  # no ties
    x = rb.tensor(values, requires_grad=True)
    out = ours(x, axis=axis, keepdims=keepdims)
    expected = reference(values, axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    assert rb.gradcheck(lambda t: ours(t, axis=axis, keepdims=keepdims), x)
