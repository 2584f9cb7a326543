"""Modules as reusable parts (notes: "Modular Neural Networks"): clone, sharing, freezing, the
five-word window network."""

import numpy as np
import pytest
import torch

import rosenblatt as rb


def test_clone_copies_values_not_objects():
    net = rb.nn.Sequential(rb.nn.Dense(3, 4, rng=0), rb.nn.Tanh(), rb.nn.BatchNorm1d(4))
    net[0].W.requires_grad = False
    twin = net.clone()
    assert type(twin) is rb.nn.Sequential and len(twin) == 3
    for (na, a), (nb, b) in zip(net.named_parameters(), twin.named_parameters()):
        assert na == nb and a is not b and a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(a.data, b.data)
    for (_, a), (_, b) in zip(net.named_buffers(), twin.named_buffers()):
        assert a is not b
        np.testing.assert_array_equal(a, b)
    twin[0].b.data += 1  # training the copy leaves the original alone
    assert not np.shares_memory(twin[0].b.data, net[0].b.data)
    np.testing.assert_array_equal(net[0].b.data, 0)


def test_clone_keeps_sharing_inside_the_copy():
    d = rb.nn.Dense(4, 4, rng=0)
    net = rb.nn.Sequential(d, rb.nn.Tanh(), d)
    twin = net.clone()
    assert twin[0] is twin[2] and twin[0] is not d
    assert len(twin.parameters()) == 2


def test_shared_parameter_once_with_summed_gradient():
    d = rb.nn.Dense(4, 4, rng=0, dtype=np.float64)
    net = rb.nn.Sequential(d, rb.nn.Tanh(), d)
    assert len(net.parameters()) == 2 and net.num_parameters() == 20
    opt = rb.optim.SGD(net.parameters(), lr=0.1)
    assert opt.vec.size == 20
    x = np.random.default_rng(1).normal(size=(5, 4))
    opt.zero_grad()
    net(rb.tensor(x)).sum().backward()
    # PyTorch: the same weight used twice gets the sum of both uses' gradients
    W = torch.tensor(d.W.data, requires_grad=True)
    b = torch.tensor(d.b.data, requires_grad=True)
    (torch.tanh(torch.tensor(x) @ W + b) @ W + b).sum().backward()
    np.testing.assert_allclose(d.W.grad, W.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(d.b.grad, b.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(opt.vec.grad[:16], W.grad.numpy().ravel(), rtol=1e-12)


def _window_task(n, rng, vocab=20, window=5):
    """The label is whether the centre word is one of the 'positive' words 0..9."""
    X = rng.integers(0, vocab, size=(n, window))
    return X, (X[:, window // 2] < vocab // 2).astype(np.int64)


def test_frozen_word_module_does_not_move_during_fit():
    rng = np.random.default_rng(0)
    words = rb.nn.Embedding(20, 4, rng=0).freeze()
    net = rb.models.WindowClassifier(words, window=5, n_classes=2, hidden=8, rng=0)
    before_w, before_h = words.W.data.copy(), net.head[0].W.data.copy()
    X, y = _window_task(200, rng)
    opt = rb.optim.Adam(net.parameters(), lr=0.01)
    rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=2, progress=False, rng=0)
    np.testing.assert_array_equal(words.W.data, before_w)
    assert not np.array_equal(net.head[0].W.data, before_h)
    # frozen after the optimizer was built: still does not move
    words.unfreeze()
    opt = rb.optim.Adam(net.parameters(), lr=0.01)
    words.freeze()
    rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=1, progress=False, rng=0)
    np.testing.assert_array_equal(words.W.data, before_w)


def test_window_classifier_learns_and_shares_the_word_module():
    rng = np.random.default_rng(0)
    words = rb.nn.Embedding(20, 4, rng=0)
    net = rb.models.WindowClassifier(words, window=5, n_classes=2, hidden=16, rng=0)
    assert words.W in net.parameters()
    assert net.num_parameters() == 20 * 4 + (20 * 16 + 16) + (16 * 2 + 2)
    X, y = _window_task(600, rng)
    Xt, yt = _window_task(300, rng)
    rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.Adam(net.parameters(), lr=0.02),
           epochs=15, progress=False, rng=0)
    with net.evaluating():
        acc = (net(Xt).data.argmax(1) == yt).mean()
    assert acc > 0.95


def test_window_classifier_reuses_a_trained_module_as_a_copy(tmp_path):
    words = rb.nn.Embedding(20, 4, rng=0)
    copy = words.clone()
    net = rb.models.WindowClassifier(copy, window=3, rng=1)
    opt = rb.optim.SGD(net.parameters(), lr=1.0)
    opt.zero_grad()
    rb.losses.cross_entropy(net(np.array([[1, 2, 3]])), np.array([1])).backward()
    opt.step()
    assert not np.array_equal(copy.W.data, words.W.data)  # the original is untouched
    path = tmp_path / "window.safetensors"
    rb.save(net, path)
    back = rb.load(path)
    x = np.array([[4, 5, 6], [7, 8, 9]])
    np.testing.assert_array_equal(back(x).data, net(x).data)


def test_window_classifier_bad_input():
    net = rb.models.WindowClassifier(rb.nn.Embedding(10, 3, rng=0), window=5, rng=0)
    with pytest.raises(ValueError, match=r"shape \(batch, 5\)"):
        net(np.zeros((2, 4), dtype=int))
    with pytest.raises(ValueError, match="out of range"):
        net(np.full((1, 5), 10))
    # float ids (rb.fit's batches) are cast only when whole: 1.5 is not truncated to 1
    with pytest.raises(TypeError, match="WindowClassifier: token ids must be integers; got the "
                                        "non-integral value 1.5"):
        net(np.array([[1.5, 2, 1, 0, 0]]))
    with pytest.raises(TypeError, match="non-integral value nan"):
        net(np.array([[np.nan, 2, 1, 0, 0]]))
    ids = np.array([[1, 2, 1, 0, 3]])
    np.testing.assert_array_equal(net(ids.astype(np.float32)).data, net(ids).data)
    with pytest.raises(TypeError, match="word_module"):
        rb.models.WindowClassifier(np.zeros(3))
    with pytest.raises(ValueError, match="window"):
        rb.models.WindowClassifier(rb.nn.Embedding(10, 3), window=0)
