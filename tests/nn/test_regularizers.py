"""Regularizers: penalties and their gradients, max-norm clamping, input noise, the protocol."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import losses, nn, regularizers


def net64(rng):
    net = nn.Sequential(nn.Dense(3, 4, rng=rng), nn.Tanh(), nn.Dense(4, 2, rng=rng))
    net.astype(np.float64)
    for layer in (net[0], net[2]):
        layer.b.data[...] = rng.normal(size=layer.b.shape)
    return net


def test_l2_l1_elastic_values(rng):
    net = net64(rng)
    w = np.concatenate([net[0].W.data.ravel(), net[2].W.data.ravel()])
    allp = np.concatenate([p.data.ravel() for p in net.parameters()])
    assert regularizers.L2(0.3).penalty(net).item() == pytest.approx(0.15 * (w @ w))
    assert regularizers.L1(0.3).penalty(net).item() == pytest.approx(0.3 * np.abs(w).sum())
    assert regularizers.ElasticNet(0.2, 0.4).penalty(net).item() == pytest.approx(
        0.2 * np.abs(w).sum() + 0.2 * (w @ w))
    with_bias = regularizers.L2(0.3, include_bias=True).penalty(net).item()
    assert with_bias == pytest.approx(0.15 * (allp @ allp))


@pytest.mark.parametrize("reg", [regularizers.L2(0.3), regularizers.L1(0.2),
                                 regularizers.ElasticNet(0.1, 0.5),
                                 regularizers.L2(0.3, include_bias=True)])
def test_penalty_gradcheck(rng, reg):
    net = net64(rng)
    assert rb.gradcheck(lambda *params: reg.penalty(net), *net.parameters())


def test_gradients_follow_the_notes_and_biases_are_excluded(rng):
    net = net64(rng)
    net[0].W.data[0, 0] = 0.0
    reg = regularizers.ElasticNet(0.1, 0.5)
    reg.penalty(net).backward()
    w = net[0].W.data
    np.testing.assert_allclose(net[0].W.grad, 0.1 * np.sign(w) + 0.5 * w)
    assert net[0].W.grad[0, 0] == 0  # sign(0) = 0
    assert net[0].b.grad is None


def test_l2_is_weight_decay_in_a_training_step(rng):
    net = net64(rng)
    x = rb.tensor(rng.normal(size=(8, 3)))
    y = rng.integers(0, 2, 8)
    loss = losses.cross_entropy(net(x), y)
    loss.backward()
    plain = net[0].W.grad.copy()
    net.zero_grad()
    total = losses.cross_entropy(net(x), y) + regularizers.penalty([regularizers.L2(0.01)], net)
    total.backward()
    np.testing.assert_allclose(net[0].W.grad, plain + 0.01 * net[0].W.data)


def test_max_norm_clamps_each_units_incoming_weights(rng):
    net = nn.Sequential(nn.Dense(5, 6, rng=rng), nn.ReLU(), nn.Maxout(6, 2, pieces=2, rng=rng))
    net[0].W.data *= 10
    net[0].W.data[:, 0] = 0.01  # a short column stays as it is
    before = net[0].W.data.copy()
    bias_before = net[0].b.data.copy()
    vec = nn.ParameterVector(net.parameters())
    regularizers.MaxNorm(1.5).after_step(net)
    norms = np.linalg.norm(net[0].W.data, axis=0)
    assert np.all(norms <= 1.5 + 1e-6)
    np.testing.assert_allclose(net[0].W.data[:, 0], before[:, 0])
    long = np.linalg.norm(before, axis=0) > 1.5
    np.testing.assert_allclose(norms[long], 1.5, rtol=1e-6)
    # direction kept, biases untouched, in place (ParameterVector views intact)
    np.testing.assert_allclose(net[0].W.data[:, 1] / norms[1],
                               before[:, 1] / np.linalg.norm(before[:, 1]), rtol=1e-5)
    np.testing.assert_array_equal(net[0].b.data, bias_before)
    assert vec.is_packed()
    assert np.all(np.linalg.norm(net[2].W.data, axis=0) <= 1.5 + 1e-6)


def test_max_norm_declared_axes_and_conv_layout():
    class Conv(nn.Module):
        def __init__(self):
            self.K = nn.Parameter(np.full((2, 3, 2, 2), 5.0))  # (out, in, kh, kw)
            self.T = nn.Parameter(np.full((4, 3), 5.0))
            self.incoming_axes = {"T": (1,)}  # rows are units here

    m = Conv()
    regularizers.MaxNorm(2.0).after_step(m)
    np.testing.assert_allclose(np.sqrt((m.K.data ** 2).sum(axis=(1, 2, 3))), 2.0)
    np.testing.assert_allclose(np.linalg.norm(m.T.data, axis=1), 2.0)


def test_input_noise(rng):
    x = np.ones((500, 40), dtype=np.float32)
    noisy = regularizers.InputNoise(0.2).transform_input(x, rng)
    assert noisy.dtype == np.float32 and noisy.shape == x.shape
    assert (noisy - x).std() == pytest.approx(0.2, rel=0.02)
    assert np.all(x == 1)  # the batch itself is not modified
    assert regularizers.InputNoise(0.2).penalty(None) is None


def test_protocol_helpers(rng):
    net = net64(rng)
    net.regularizers = [regularizers.L2(0.1)]
    regs = regularizers.collect(net, [regularizers.MaxNorm(3.0), regularizers.InputNoise(0.1)])
    assert [type(r).__name__ for r in regs] == ["L2", "MaxNorm", "InputNoise"]
    total = regularizers.penalty(regs, net)
    assert total.item() == pytest.approx(regularizers.L2(0.1).penalty(net).item())
    assert regularizers.penalty([regularizers.MaxNorm(3.0)], net) is None
    x = regularizers.transform_input(regs, np.zeros((4, 3)), rng)
    assert x.std() > 0
    regularizers.after_step(regs, net)
    assert np.all(np.linalg.norm(net[0].W.data, axis=0) <= 3.0 + 1e-9)
    assert repr(regs[0]) == "L2(lam=0.1)"


def test_errors():
    with pytest.raises(ValueError, match="L2: lam must be a finite non-negative number; got -1"):
        regularizers.L2(-1)
    with pytest.raises(ValueError, match="ElasticNet: l2 must be a finite non-negative number"):
        regularizers.ElasticNet(0.1, "a")
    with pytest.raises(ValueError, match="MaxNorm: c must be a finite positive number; got 0"):
        regularizers.MaxNorm(0)
    with pytest.raises(ValueError, match="InputNoise: std must be a finite non-negative number"):
        regularizers.InputNoise(-0.1)


def test_the_training_loop_applies_the_protocol(rng):
    """rb.fit calls transform_input, penalty and after_step (engineer C's loop)."""
    if not hasattr(rb, "fit"):
        pytest.skip("rb.fit is not available")
    X = rng.normal(size=(64, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    calls = {"transform_input": 0, "penalty": 0, "after_step": 0}

    class Spy(regularizers.Regularizer):
        def transform_input(self, x, rng=None):
            calls["transform_input"] += 1
            return x

        def penalty(self, model):
            calls["penalty"] += 1

        def after_step(self, model):
            calls["after_step"] += 1

    net = nn.Sequential(nn.Dense(4, 8, rng=rng), nn.ReLU(), nn.Dense(8, 2, rng=rng))
    net.regularizers = [regularizers.MaxNorm(0.5)]
    opt = rb.optim.SGD(net.parameters(), lr=0.5)
    rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=2, batch_size=16,
           regularizers=[regularizers.L2(1e-3), Spy()], progress=False, rng=rng)
    assert calls == {"transform_input": 8, "penalty": 8, "after_step": 8}
    assert np.all(np.linalg.norm(net[0].W.data, axis=0) <= 0.5 + 1e-6)  # the model's own


@pytest.mark.parametrize("make, match", [
    (lambda: regularizers.L2(float("nan")), "L2: lam must be a finite non-negative number; "
                                            "got nan"),
    (lambda: regularizers.L1(np.inf), "L1: lam must be a finite non-negative number; got inf"),
    (lambda: regularizers.ElasticNet(0.1, np.float32("nan")), "ElasticNet: l2 "),
    (lambda: regularizers.InputNoise(float("inf")), "InputNoise: std must be a finite"),
    (lambda: regularizers.MaxNorm(np.inf), "MaxNorm: c must be a finite positive number"),
])
def test_nan_and_inf_strengths_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_max_norm_bounds_each_rbf_centre_and_embedding_row():
    """Centres (n_centers, in_features) and embeddings hold a unit's vector in a row."""
    rbf = nn.RBF(2, 500, rng=0)
    emb = nn.Embedding(50, 4, rng=0)
    before = rbf.centers.data.copy(), emb.W.data.copy()
    regularizers.MaxNorm(2.0).after_step(nn.Sequential(rbf, emb))
    for layer, old in zip((rbf.centers, emb.W), before):
        norms = np.linalg.norm(old, axis=1)
        assert np.all(np.linalg.norm(layer.data, axis=1) <= 2.0 + 1e-5)
        np.testing.assert_array_equal(layer.data[norms <= 2.0], old[norms <= 2.0])
