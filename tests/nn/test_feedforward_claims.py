"""The notes' claims about neurons and feed-forward networks, as tests.

- a 2-4-1 network learns XOR, which the perceptron cannot ("Perceptrons", "XOR");
- with zero initialisation every hidden unit stays identical ("Weight initialization");
- NET's standard deviation for d = 100 inputs is about sqrt(d + 1) with N(0, 1)
  weights and about 1 with fan-in scaling ("Weight initialization");
- a sigmoid output learns slower with the quadratic cost than with cross-entropy
  from a saturated start ("Cost functions");
- Dense-ReLU-Dense reaches >= 97% on scikit-learn's 8x8 digits within seconds.
"""


import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import losses, nn, optim

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float32)


def train_xor(net, steps=400, lr=0.05):
    opt = optim.Adam(net.parameters(), lr=lr)
    x = rb.tensor(XOR_X)
    for _ in range(steps):
        loss = losses.binary_cross_entropy_with_logits(net(x), XOR_Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (net(x).data > 0).astype(np.float32), loss.item()


def test_two_four_one_network_learns_xor_that_the_perceptron_cannot():
    solved = 0
    for seed in range(5):
        rng = np.random.default_rng(seed)
        net = nn.Sequential(nn.Dense(2, 4, rng=rng), nn.Tanh(), nn.Dense(4, 1, rng=rng))
        pred, loss = train_xor(net)
        solved += bool(np.all(pred == XOR_Y)) and loss < 0.05
    assert solved == 5
    perceptron = rb.models.Perceptron(2, output="binary")
    errors = perceptron.fit(XOR_X, XOR_Y.ravel(), epochs=200)
    assert min(errors) > 0 and perceptron.score(XOR_X, XOR_Y.ravel()) < 1


def test_zero_initialisation_keeps_hidden_units_identical(rng):
    X = rng.normal(size=(64, 2)).astype(np.float32)
    y = 1 + np.tanh(X[:, :1] - 2 * X[:, 1:])  # any target: the units still cannot differ
    net = nn.Sequential(nn.Dense(2, 4, init="zeros"), nn.Sigmoid(), nn.Dense(4, 1, init="zeros"))
    opt = optim.Adam(net.parameters(), lr=0.01)
    for _ in range(200):
        loss = losses.mse(net(rb.tensor(X)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    W1, b1, W2 = net[0].W.data, net[0].b.data, net[2].W.data
    assert np.abs(W1).max() > 0.1 and np.abs(W2).max() > 0.1  # they did learn ...
    np.testing.assert_array_equal(W1, W1[:, :1].repeat(4, axis=1))  # ... all the same thing
    np.testing.assert_array_equal(b1, b1[0])
    np.testing.assert_array_equal(W2, W2[0, 0])
    # on XOR the symmetric network is stuck at the saddle: every gradient is 0
    net = nn.Sequential(nn.Dense(2, 4, init="zeros"), nn.Sigmoid(), nn.Dense(4, 1, init="zeros"))
    pred, loss = train_xor(net, steps=100)
    assert loss == pytest.approx(np.log(2)) and not np.all(pred == XOR_Y)


def test_net_std_for_100_inputs_sqrt_d_plus_1_vs_fan_in(rng):
    d, units = 100, 20_000
    x = rb.tensor(np.ones((1, d), dtype=np.float32))  # the notes' all-ones input
    naive = nn.Dense(d, units, init=lambda shape, **kw: rng.standard_normal(shape)
                     .astype(np.float32))
    naive.b.data[...] = rng.standard_normal(units)
    std = naive(x).data.std()
    assert std == pytest.approx(np.sqrt(d + 1), rel=0.03)  # about 10: sigmoids saturate
    scaled = nn.Dense(d, units, init="fan_in", rng=rng)
    assert scaled(x).data.std() == pytest.approx(1.0, rel=0.03)
    saturated = np.mean(np.abs(naive(x).data) > 4)  # sigmoid' < 0.018 beyond |NET| = 4
    assert saturated > 0.6 and np.mean(np.abs(scaled(x).data) > 4) < 0.001


def test_cross_entropy_learns_faster_than_mse_from_a_saturated_start():
    """One sigmoid neuron, input 1, target 0, starting at w = b = 2 (output 0.98)."""

    def run(cost, steps=40, lr=0.3):
        w = nn.Parameter(np.array([[2.0]]))
        b = nn.Parameter(np.array([2.0]))
        x, target = rb.tensor(np.array([[1.0]])), np.array([[0.0]])
        outputs = []
        for _ in range(steps):
            out = nn.functional.sigmoid(x @ w + b)
            outputs.append(out.item())
            w.grad = b.grad = None
            cost(out, target).backward()
            w.data -= lr * w.grad
            b.data -= lr * b.grad
        return np.array(outputs)

    quadratic = run(lambda o, t: losses.mse(o, t, half=True))
    entropy = run(losses.binary_cross_entropy)
    assert quadratic[0] == entropy[0] == pytest.approx(0.982, abs=1e-3)
    # the quadratic cost barely moves: its gradient carries sigma'(NET) ~ 0.018
    assert quadratic[-1] > 0.9
    assert entropy[-1] < 0.1  # sigma' cancels: the error itself drives learning
    assert np.all(entropy[1:10] < quadratic[1:10])


def test_dense_relu_dense_on_digits_reaches_97_percent_in_a_small_budget():
    """40 epochs of a 64-256-10 net: under a second on an idle 2-core machine. The budget is
    fixed in epochs, not seconds: speed is measured in benchmarks/, never asserted in tests."""
    datasets = pytest.importorskip("sklearn.datasets")
    model_selection = pytest.importorskip("sklearn.model_selection")
    X, y = datasets.load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    Xtr, Xte, ytr, yte = model_selection.train_test_split(X, y, test_size=0.2, random_state=0,
                                                          stratify=y)
    rng = np.random.default_rng(0)
    net = nn.Sequential(nn.Dense(64, 256, init="he", rng=rng), nn.ReLU(),
                        nn.Dense(256, 10, rng=rng))
    opt = optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(40):
        order = rng.permutation(len(Xtr))
        for i in range(0, len(order), 32):
            batch = order[i:i + 32]
            loss = losses.cross_entropy(net(rb.tensor(Xtr[batch])), ytr[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with rb.no_grad():
        accuracy = np.mean(net(rb.tensor(Xte)).data.argmax(axis=1) == yte)
    assert accuracy >= 0.97
