"""Batch normalisation: gradchecks, PyTorch in training and eval (running stats), errors."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import nn


def _grad_setup(layer, rng):
    layer.astype(np.float64)
    layer.gamma.data[...] = rng.uniform(0.5, 1.5, layer.num_features)
    layer.beta.data[...] = rng.normal(size=layer.num_features)
    return layer


@pytest.mark.parametrize("shape, cls", [((6, 3), nn.BatchNorm1d), ((4, 3, 5), nn.BatchNorm1d),
                                        ((3, 2, 3, 2), nn.BatchNorm2d)])
@pytest.mark.parametrize("training", [True, False])
def test_gradcheck(shape, cls, training, rng):
    layer = _grad_setup(cls(shape[1]), rng)
    layer.running_mean[...] = rng.normal(size=shape[1])
    layer.running_var[...] = rng.uniform(0.5, 2, size=shape[1])
    layer.train(training)
    x = rb.tensor(rng.normal(size=shape) * 2 + 1, requires_grad=True)
    # gamma and beta are the layer's own parameters: the check perturbs them in place
    assert rb.gradcheck(lambda t, gamma, beta: layer(t), x, layer.gamma, layer.beta)


@pytest.mark.parametrize("shape, ours, theirs", [
    ((8, 3), nn.BatchNorm1d, "BatchNorm1d"),
    ((8, 3, 5), nn.BatchNorm1d, "BatchNorm1d"),
    ((4, 3, 5, 6), nn.BatchNorm2d, "BatchNorm2d"),
])
def test_vs_torch_train_then_eval(torch, rng, shape, ours, theirs):
    a = ours(3, momentum=0.2, eps=1e-3).astype(np.float64)
    b = getattr(torch.nn, theirs)(3, momentum=0.2, eps=1e-3)
    gamma, beta = rng.uniform(0.5, 1.5, 3), rng.normal(size=3)
    a.gamma.data[...], a.beta.data[...] = gamma, beta
    with torch.no_grad():
        b.weight.copy_(torch.tensor(gamma))
        b.bias.copy_(torch.tensor(beta))
    for step in range(3):  # training steps: outputs, gradients and running statistics
        x = rng.normal(size=shape) * 3 + step
        g = rng.normal(size=shape)
        xa, xb = rb.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        a.gamma.grad = a.beta.grad = None
        b.zero_grad()
        ya, yb = a(xa), b(xb)
        np.testing.assert_allclose(ya.data, yb.detach().numpy(), rtol=1e-9, atol=1e-10)
        ya.backward(g)
        yb.backward(torch.tensor(g))
        np.testing.assert_allclose(xa.grad, xb.grad.numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(a.gamma.grad, b.weight.grad.numpy(), rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(a.beta.grad, b.bias.grad.numpy(), rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(a.running_mean, b.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(a.running_var, b.running_var.numpy(), rtol=1e-12)
    a.eval()
    b.eval()
    x = rng.normal(size=shape)
    g = rng.normal(size=shape)
    xa, xb = rb.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    a.gamma.grad = a.beta.grad = None
    b.zero_grad()
    ya, yb = a(xa), b(xb)
    np.testing.assert_allclose(ya.data, yb.detach().numpy(), rtol=1e-9, atol=1e-10)
    ya.backward(g)
    yb.backward(torch.tensor(g))
    np.testing.assert_allclose(xa.grad, xb.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(a.gamma.grad, b.weight.grad.numpy(), rtol=1e-9, atol=1e-10)
    before = a.running_mean.copy()
    a(rb.tensor(x))
    np.testing.assert_array_equal(a.running_mean, before)  # eval leaves the statistics alone


def test_normalises_and_keeps_float32(rng):
    bn = nn.BatchNorm1d(4)
    x = rb.tensor((rng.normal(size=(256, 4)) * [1, 5, 0.1, 30] + [3, -2, 0, 100]).astype(
        np.float32))
    y = bn(x)
    assert y.dtype == np.float32 and bn.running_mean.dtype == np.float32
    np.testing.assert_allclose(y.data.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(y.data.std(axis=0), 1, atol=1e-3)


def test_buffers_in_state_dict_and_astype():
    net = nn.Sequential(nn.Dense(3, 4), nn.BatchNorm1d(4), nn.ReLU())
    state = net.state_dict()
    assert {"1.running_mean", "1.running_var", "1.gamma", "1.beta"} <= set(state)
    net.astype(np.float64)
    assert net[1].running_var.dtype == np.float64


def test_errors():
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\): expected input of shape "
                                         r"\(batch, 3\) or \(batch, 3, length\); got \(4, 5\)"):
        nn.BatchNorm1d(3)(rb.tensor(np.zeros((4, 5))))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): expected input of shape "
                                         r"\(batch, 3, height, width\); got \(4, 3\)"):
        nn.BatchNorm2d(3)(rb.tensor(np.zeros((4, 3))))
    with pytest.raises(ValueError, match="more than one value per channel"):
        nn.BatchNorm1d(3)(rb.tensor(np.zeros((1, 3))))
    with pytest.raises(ValueError, match="momentum must be in"):
        nn.BatchNorm1d(3, momentum=2)
    with pytest.raises(ValueError, match="num_features must be a positive integer"):
        nn.BatchNorm2d(0)


class _TwoRanks:
    """Two threads standing in for two MPI ranks: ``sum_for(r)`` is rank r's Allreduce."""

    def __init__(self):
        import threading

        self.barrier, self.slots = threading.Barrier(2), [None, None]

    def sum_for(self, r):
        def allreduce(a):
            self.slots[r] = a.copy()
            self.barrier.wait()
            total = self.slots[0] + self.slots[1]
            self.barrier.wait()
            a[...] = total
            return a

        return allreduce


@pytest.mark.parametrize("cls,shape", [(nn.BatchNorm1d, (7, 3)), (nn.BatchNorm2d, (5, 3, 4, 2))])
def test_statistics_over_ranks_equal_one_batch(cls, shape, rng):
    # uneven shards (4 + 3 and 3 + 2 examples): outputs, input gradients, running statistics
    # and the summed dE/dgamma, dE/dbeta equal the whole batch's in one process
    import threading

    x = rng.normal(2.0, 3.0, shape)
    w = rng.normal(size=shape)
    cut = shape[0] // 2 + 1

    def run(bn, xs, ws, out, r=None):
        t = rb.tensor(xs, requires_grad=True)
        y = bn(t)
        (y * rb.tensor(ws)).sum().backward()
        out[r] = (y.data, t.grad, bn.gamma.grad.copy(), bn.beta.grad.copy(),
                  bn.running_mean.copy(), bn.running_var.copy())

    one = {}
    run(cls(3, dtype=np.float64), x, w, one)
    ranks, parts = _TwoRanks(), {}
    threads = []
    for r, sl in enumerate((slice(0, cut), slice(cut, None))):
        bn = cls(3, dtype=np.float64)
        bn.sum_over_ranks = ranks.sum_for(r)
        threads.append(threading.Thread(target=run, args=(bn, x[sl], w[sl], parts, r)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    y, gx, ggamma, gbeta, mean, var = one[None]
    np.testing.assert_allclose(np.concatenate([parts[0][0], parts[1][0]]), y, atol=1e-13)
    np.testing.assert_allclose(np.concatenate([parts[0][1], parts[1][1]]), gx, atol=1e-13)
    np.testing.assert_allclose(parts[0][2] + parts[1][2], ggamma, atol=1e-12)
    np.testing.assert_allclose(parts[0][3] + parts[1][3], gbeta, atol=1e-12)
    for r in (0, 1):  # every rank holds the whole batch's running statistics
        np.testing.assert_allclose(parts[r][4], mean, atol=1e-14)
        np.testing.assert_allclose(parts[r][5], var, atol=1e-14)


@pytest.mark.parametrize("make,shape", [(lambda: rb.nn.BatchNorm1d(2), (3, 2)),
                                        (lambda: rb.nn.BatchNorm2d(2), (3, 2, 2, 2))])
def test_batch_norm_layers_take_nested_lists(make, shape):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) ** 1.5
    y = make()(x.tolist())
    np.testing.assert_allclose(y.data, make()(x).data, rtol=1e-5)
    with pytest.raises(TypeError, match="BatchNorm"):
        make()(np.full(shape, "a").tolist())
