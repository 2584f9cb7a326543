"""float16 gradients summed over more than 2,048 rows (batch, or batch x time) in float32.

NumPy adds float16 in float16 over any axis but the last, where 2048 + 1 = 2048: a fused
layer's bias gradient over 5,000 rows came out about 2048 (40 % low). The engine's
``sum_to_shape`` accumulates in float32 (as PyTorch does); these are the fused layers
that sum their own gradients. Each test compares a float16 layer with the same layer in
float32 on the same (float16) numbers: within float16 rounding, not capped.
"""

import copy

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import nn
from rosenblatt.models.autoencoder import contractive_penalty, encoder, tied_decoder

ROWS = 5000  # > 2048


def _gradients(model, x, dtype, call):
    """The parameters' gradients of sum(w * out) for a copy of ``model`` in ``dtype``,
    with a fixed upstream gradient w in [0.5, 1.5) (a plain sum would hide nothing less)."""
    model = copy.deepcopy(model).astype(dtype)
    out = call(model, None if x is None else rb.tensor(x.astype(dtype)))
    w = np.random.default_rng(1).random(out.shape) + 0.5
    (out * rb.tensor(w.astype(dtype))).sum().backward()
    return [p.grad for p in model.parameters()]


def _assert_close(a, b):
    """float16 ``a`` within float16 rounding of float32 ``b``, relative to b's largest value
    (capped sums were off by 4 to 60 %)."""
    assert a.dtype == np.float16
    err = np.max(np.abs(a.astype(np.float64) - b)) / np.max(np.abs(b))
    assert err < 5e-3, err


def _assert_close_to_float32(model, x, call=lambda m, x: m(x)):
    g16 = _gradients(model, x, np.float16, call)
    g32 = _gradients(model, x, np.float32, call)
    for a, b in zip(g16, g32):
        if b is not None:
            _assert_close(a, b)


def _outputs(m, x):
    return m(x)[0]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("make", [lambda rng: nn.Dense(20, 4, rng=rng),
                                  lambda rng: nn.Maxout(20, 4, pieces=2, rng=rng)],
                         ids=["dense", "maxout"])
def test_dense_and_maxout_bias(rng, make):
    _assert_close_to_float32(make(rng), rng.random((ROWS, 20)))


@pytest.mark.parametrize("sparse_below", [0.0, 0.5])  # the dense product and the sparse one
def test_sparse_dense_bias(rng, sparse_below):
    layer = nn.SparseDense(20, 4, density=0.2, sparse_below=sparse_below, rng=rng)
    _assert_close_to_float32(layer, rng.random((ROWS, 20)))


@pytest.mark.parametrize("make", [
    lambda rng: nn.RNN(3, 4, rng=rng),
    lambda rng: nn.LSTM(3, 4, rng=rng),
    lambda rng: nn.LSTM(3, 4, peephole=True, rng=rng),
    lambda rng: nn.GRU(3, 4, rng=rng),
], ids=["rnn", "lstm", "lstm-peephole", "gru"])
def test_recurrent_biases_over_batch_and_time(rng, make):
    _assert_close_to_float32(make(rng), rng.random((500, 10, 3)), _outputs)  # 5,000 rows


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_recurrent_one_hot_input(rng, cls):
    # one-hot float16 input crashed in the compiled row finder (Numba has no float16)
    onehot = np.eye(20)[rng.integers(0, 20, (500, 10))]
    _assert_close_to_float32(cls(20, 4, rng=rng), onehot, _outputs)


def test_ntm_biases_and_initial_state(rng):
    model = nn.NTM(3, 2, controller_size=8, memory_size=(8, 4), rng=rng)
    _assert_close_to_float32(model, rng.random((500, 5, 3)))


def test_prelu_per_channel(rng):
    _assert_close_to_float32(nn.PReLU(3), rng.random((ROWS, 3, 2, 2)) - 0.5)


def test_embedding_repeated_index(rng):
    idx = rng.integers(0, 2, 20000)  # each row picked ~10,000 times
    g16, g32 = (_gradients(nn.Embedding(2, 3, rng=np.random.default_rng(0)), idx, dt,
                           lambda m, x: m(x.data.astype(int)))[0]
                for dt in (np.float16, np.float32))
    _assert_close(g16, g32)


def test_autoencoder_encoder_and_tied_decoder_biases(rng):
    x, W = rng.random((ROWS, 3)), rng.random((3, 4)) - 0.5
    grads = {}
    for dt in (np.float16, np.float32):
        Wt, b, c = (rb.tensor(a.astype(dt), requires_grad=True)
                    for a in (W, np.zeros(4), np.zeros(3)))
        tied_decoder(encoder(rb.tensor(x.astype(dt)), Wt, b, "sigmoid"), Wt, c).sum().backward()
        grads[dt] = (b.grad, c.grad)
    for a, b in zip(grads[np.float16], grads[np.float32]):
        _assert_close(a, b)


def test_contractive_penalty_weight_gradient(rng):
    x, W = rng.random((ROWS, 3)), rng.random((3, 4)) - 0.5
    grads = {}
    for dt in (np.float16, np.float32):
        Wt = rb.tensor(W.astype(dt), requires_grad=True)
        h = encoder(rb.tensor(x.astype(dt)), Wt, rb.tensor(np.zeros(4, dt)), "sigmoid")
        contractive_penalty(h, Wt, "sigmoid", 0.1).backward()
        grads[dt] = Wt.grad
    _assert_close(grads[np.float16], grads[np.float32])


def test_float32_bias_sum_unchanged(rng):
    """float32 keeps NumPy's own sum, bit for bit."""
    layer = nn.SparseDense(20, 4, density=0.2, rng=rng)
    x = rng.random((300, 20)).astype(np.float32)
    out = layer(rb.tensor(x))
    g = rng.random(out.shape).astype(np.float32)
    (out * rb.tensor(g)).sum().backward()
    assert np.array_equal(layer.b.grad, g.sum(axis=0))


def test_recursive_net_bias_over_a_level():
    # 6,000 trees: 6,000 nodes in each level of the forest, whose bias gradient is summed
    rng = np.random.default_rng(0)
    trees = [((int(a), int(b)), int(c)) for a, b, c in rng.integers(0, 3, (6000, 3))]
    net = rb.models.RecursiveNet(vocab_size=3, dim=4, n_classes=2, rng=0)
    _assert_close_to_float32(net, None, lambda m, _: m.node_tensor(trees)[1])
