"""Batch-normalised recurrent layers (Laurent et al. 2016) through the fused ``batch_norm``.

The input projection BN(X W_x) + beta used to be rebuilt from small autodiff ops;
it now goes through ``rb.nn.functional.batch_norm``. :func:`_small_ops_projection`
is that former code, kept here as the reference: the fused path must give the
same outputs, gradients and running statistics, in training and in evaluation,
with and without padded sequences.
"""

import copy
import types

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.nn.dense import dense


def _small_ops_projection(self, x, layer, lengths=None):
    """The former RecurrentBase._projection (batch norm from small ops), verbatim."""
    if not self.batch_norm:
        return None
    proj = dense(x, self.W_x[layer])
    G = proj.shape[-1]
    mean_name, var_name = f"running_mean_{layer}", f"running_var_{layer}"
    if self.training:
        if lengths is None:
            n = proj.shape[0] * proj.shape[1]
            mu = proj.mean(axis=(0, 1), keepdims=True)
            centered = proj - mu
            var = (centered * centered).mean(axis=(0, 1), keepdims=True)
        else:  # statistics of the real steps; padded steps are normalised alike
            real = (np.arange(proj.shape[1])[None, :] < np.asarray(lengths)[:, None])
            real = real[:, :, None].astype(proj.dtype)
            n = int(real.sum())
            mu = (proj * real).sum(axis=(0, 1), keepdims=True) * (1.0 / n)
            centered = proj - mu
            var = (centered * centered * real).sum(axis=(0, 1), keepdims=True) * (1.0 / n)
        m = self.bn_momentum
        run_mean, run_var = getattr(self, mean_name), getattr(self, var_name)
        run_mean *= 1 - m
        run_mean += m * mu.data.reshape(G)
        run_var *= 1 - m
        run_var += m * var.data.reshape(G) * (n / max(n - 1, 1))
    else:
        centered = proj - getattr(self, mean_name)
        var = rb.Tensor._wrap(getattr(self, var_name))
    xhat = centered / (var + self.bn_eps).sqrt()
    return xhat * self.gamma[layer] + self.b[layer]


def _pair(kind, rng):
    layer = getattr(rb.nn, kind)(3, 4, num_layers=2, batch_norm=True, bn_momentum=0.3,
                                 rng=rng).astype(np.float64)
    for p in layer.parameters():  # gamma and beta away from 1 and 0
        p.data[...] += rng.normal(0, 0.3, p.shape)
    old = copy.deepcopy(layer)
    old._projection = types.MethodType(_small_ops_projection, old)
    return layer, old


def _run(layer, x, lengths):
    xt = rb.tensor(x, requires_grad=True)
    out, state = layer(xt, lengths=lengths)
    h = state[0] if isinstance(state, tuple) else state
    weights = np.linspace(-1, 1, out.size).reshape(out.shape)  # a loss touching every output
    loss = (out * rb.tensor(weights)).sum() + (h * h).sum()
    layer.zero_grad()
    loss.backward()
    return out.data, xt.grad, [p.grad.copy() for p in layer.parameters()]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("lengths", [None, np.array([6, 2, 4, 1])])
def test_fused_batch_norm_matches_the_small_ops_version(rng, kind, lengths):
    new, old = _pair(kind, rng)
    x = rng.normal(1.5, 2.0, (4, 6, 3))
    if lengths is not None:
        x[1, 2:] = 50.0  # padding must not move the statistics
    for step in range(3):  # training: running statistics move at every call
        got, want = _run(new, x + step, lengths), _run(old, x + step, lengths)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-9, atol=1e-11)
        for g, w in zip(got[2], want[2]):
            np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-11)
        for name in ("running_mean_0", "running_var_0", "running_mean_1", "running_var_1"):
            np.testing.assert_allclose(getattr(new, name), getattr(old, name), rtol=1e-12)
    with new.evaluating(), old.evaluating():
        got, want = _run(new, x, lengths), _run(old, x, lengths)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10, atol=1e-12)
    for g, w in zip([got[1]] + got[2], [want[1]] + want[2]):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-11)


def test_float32_layer_keeps_float32_running_statistics(rng):
    layer = rb.nn.LSTM(3, 4, batch_norm=True, rng=rng)
    out, _ = layer(rng.standard_normal((2, 5, 3)).astype(np.float32), lengths=[5, 3])
    assert out.dtype == np.float32 and layer.running_var_0.dtype == np.float32
    assert not np.allclose(layer.running_var_0, 1)


def test_one_step_in_training_is_an_error_naming_the_layer(rng):
    """One value per feature has no variance (the small-op version silently output beta)."""
    layer = rb.nn.GRU(3, 4, batch_norm=True, rng=rng)
    with pytest.raises(ValueError, match="GRU: batch_norm=True needs more than one real time "
                                         "step in a training batch.*got 1"):
        layer(np.ones((1, 1, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="got 1"):
        layer(np.ones((1, 4, 3), dtype=np.float32), lengths=[1])
    with layer.evaluating():
        assert layer(np.ones((1, 1, 3), dtype=np.float32))[0].shape == (1, 1, 4)
