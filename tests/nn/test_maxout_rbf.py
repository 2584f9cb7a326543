"""Maxout and RBF layers: gradchecks, definitions, learning, errors."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import losses, nn


def test_maxout_gradcheck_and_definition(rng):
    layer = nn.Maxout(3, 2, pieces=3, rng=rng).astype(np.float64)
    layer.b.data[...] = rng.normal(size=6)
    x = rb.tensor(rng.normal(size=(5, 3)), requires_grad=True)
    assert rb.gradcheck(lambda t, w, b: layer(t), x, layer.W, layer.b)
    z = x.data @ layer.W.data + layer.b.data
    np.testing.assert_allclose(layer(x).data, z.reshape(5, 2, 3).max(axis=-1))


def test_maxout_generalises_relu():
    """max(w.x + b, 0 . x + 0) is ReLU(w.x + b): one piece learned, one fixed at zero."""
    layer = nn.Maxout(2, 1, pieces=2)
    layer.W.data[...] = [[1.0, 0.0], [-2.0, 0.0]]
    layer.b.data[...] = [0.5, 0.0]
    x = np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32)
    expected = np.maximum(x @ [1.0, -2.0] + 0.5, 0)
    np.testing.assert_allclose(layer(rb.tensor(x)).data[:, 0], expected, rtol=1e-6)


@pytest.mark.parametrize("kind", ["gaussian", "ricker"])
def test_rbf_gradcheck_and_definition(rng, kind):
    layer = nn.RBF(3, 4, kind=kind, rng=rng).astype(np.float64)
    layer.widths.data[...] = rng.uniform(0.8, 2.0, 4)
    x = rb.tensor(rng.normal(size=(5, 3)), requires_grad=True)
    assert rb.gradcheck(lambda t, c, w: layer(t), x, layer.centers, layer.widths)
    r2 = ((x.data[:, None, :] - layer.centers.data[None]) ** 2).sum(-1) / layer.widths.data ** 2
    phi = np.exp(-r2) if kind == "gaussian" else (1 - r2) * np.exp(-r2 / 2)
    np.testing.assert_allclose(layer(x).data, phi, rtol=1e-10, atol=1e-12)


def test_rbf_network_learns_a_bump(rng):
    """An RBF network (RBF layer + Dense output) fits sin on [-3, 3] by gradient descent."""
    x = np.linspace(-3, 3, 64, dtype=np.float32)[:, None]
    y = np.sin(x)
    net = nn.Sequential(nn.RBF(1, 8, rng=rng).init_centers(x, rng=rng), nn.Dense(8, 1, rng=rng))
    vec = nn.ParameterVector(net.parameters())
    velocity = np.zeros_like(vec.data)
    first = None
    for _ in range(300):
        vec.zero_grad()
        loss = losses.mse(net(rb.tensor(x)), y)
        loss.backward()
        first = first or loss.item()
        velocity = 0.9 * velocity - 0.05 * vec.grad
        vec.data += velocity
    assert loss.item() < 0.01 < first


def test_errors():
    with pytest.raises(ValueError, match="RBF: kind must be 'gaussian' or 'ricker'; got 'mexican'"):
        nn.RBF(2, 3, kind="mexican")
    with pytest.raises(ValueError, match=r"RBF\(2, 3\): expected input of shape \(batch, 2\); "
                                         r"got \(4, 5\)"):
        nn.RBF(2, 3)(rb.tensor(np.zeros((4, 5))))
    with pytest.raises(ValueError, match="init_centers: need at least 3 rows of 2 features"):
        nn.RBF(2, 3).init_centers(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"Maxout\(3, 2\): expected input of shape \(batch, 3\)"):
        nn.Maxout(3, 2)(rb.tensor(np.zeros((4, 5))))
    with pytest.raises(ValueError, match="Maxout: pieces must be a positive integer; got 0"):
        nn.Maxout(3, 2, pieces=0)


def test_rbf_takes_ndarrays_like_other_layers(rng):
    layer = nn.RBF(4, 3, rng=0)
    x = rng.normal(size=(2, 4)).astype(np.float32)
    np.testing.assert_array_equal(layer(x).data, layer(rb.tensor(x)).data)
    assert layer(np.zeros((2, 4), dtype=np.int64)).shape == (2, 3)
    with pytest.raises(ValueError, match=r"RBF\(4, 3\): expected input of shape \(batch, 4\)"):
        layer(np.zeros((2, 5)))


def test_rbf_float32_distances_keep_precision_away_from_the_origin():
    """||x - c||^2 from the expansion cancels catastrophically for inputs near 1000 in float32;
    torch.cdist (float32) stays within 1e-6 of the float64 truth, and so must rbf."""
    rng = np.random.default_rng(0)
    X = (1000 + rng.uniform(0, 1, (6, 2))).astype(np.float32)
    layer = nn.RBF(2, 3, width=0.5, rng=0)
    layer.centers.data[...] = X[:3] + np.float32(0.01)
    x = rb.tensor(X, requires_grad=True)
    out = layer(x)
    assert out.dtype == np.float32
    x64, c64 = X.astype(np.float64), layer.centers.data.astype(np.float64)
    diff = x64[:, None, :] - c64[None]
    ref = np.exp(-(diff ** 2).sum(-1) / 0.25)
    np.testing.assert_allclose(out.data, ref, atol=2e-5)
    # gradients: dE/dx for E = sum(g * y), exact in float64
    g = rng.normal(size=ref.shape)
    (out * rb.tensor(g.astype(np.float32))).sum().backward()
    h = g * -ref / 0.25
    gx_ref = 2 * (h[:, :, None] * diff).sum(1)
    gc_ref = -2 * (h[:, :, None] * diff).sum(0)
    np.testing.assert_allclose(x.grad, gx_ref, atol=2e-3 * np.abs(gx_ref).max())
    np.testing.assert_allclose(layer.centers.grad, gc_ref, atol=2e-3 * np.abs(gc_ref).max())
