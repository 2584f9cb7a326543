"""Adversarial examples and adversarial training (notes: "Adversarial examples")."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff.tensor import is_grad_enabled


def _softmax_regression(seed=0, n_in=6, dtype=np.float64):
    return rb.nn.Dense(n_in, 3, rng=seed, dtype=dtype)


def test_fgsm_is_the_sign_of_pytorchs_input_gradient(torch):
    rng = np.random.default_rng(0)
    net = _softmax_regression()
    x, y = rng.random((8, 6)), rng.integers(3, size=8)
    xt = torch.tensor(x, requires_grad=True)
    logits = xt @ torch.tensor(net.W.data) + torch.tensor(net.b.data)
    torch.nn.functional.cross_entropy(logits, torch.tensor(y)).backward()
    grad = xt.grad.numpy()
    np.testing.assert_allclose(rb.adversarial.input_gradient(net, x, y) * 8, grad * 8, rtol=1e-10)
    xa = rb.adversarial.fgsm(net, x, y, eps=0.1, clip=None)
    np.testing.assert_allclose(xa, x + 0.1 * np.sign(grad), rtol=1e-12)
    assert net.W.grad is None  # the weights get no gradient from an attack
    clipped = rb.adversarial.fgsm(net, x, y, eps=0.1)
    np.testing.assert_allclose(clipped, np.clip(x + 0.1 * np.sign(grad), 0, 1), rtol=1e-12)
    np.testing.assert_array_equal(rb.adversarial.fgsm(net, x, y, eps=0.0), x)


def test_pgd_stays_in_the_ball_and_beats_fgsm():
    rng = np.random.default_rng(1)
    net = rb.nn.Sequential(rb.nn.Dense(6, 16, rng=rng, dtype=np.float64), rb.nn.Tanh(),
                           rb.nn.Dense(16, 3, rng=rng, dtype=np.float64))
    x, y = rng.random((64, 6)), rng.integers(3, size=64)
    xf = rb.adversarial.fgsm(net, x, y, eps=0.1)
    xp = rb.adversarial.pgd(net, x, y, eps=0.1, step=0.02, steps=20)
    assert np.abs(xp - x).max() <= 0.1 + 1e-12 and xp.min() >= 0 and xp.max() <= 1

    def loss(v):
        return rb.losses.cross_entropy(net(rb.tensor(v)), y).item()

    assert loss(x) < loss(xf) <= loss(xp) + 1e-9
    xr = rb.adversarial.pgd(net, x, y, eps=0.1, step=0.02, steps=3, random_start=True, rng=0)
    assert np.abs(xr - x).max() <= 0.1 + 1e-12


def test_one_adversarial_fit_step_is_the_mixed_objective():
    rng = np.random.default_rng(2)
    x, y = rng.random((8, 6)), rng.integers(3, size=8)
    net, ref = _softmax_regression(), _softmax_regression()
    rb.fit(net, x, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.5),
           epochs=1, batch_size=8, shuffle=False, progress=False,
           adversarial=rb.adversarial.FGSM(eps=0.2, alpha=0.3))
    xa = rb.adversarial.fgsm(ref, x, y, eps=0.2)  # against the weights before the step
    loss = (0.3 * rb.losses.cross_entropy(ref(rb.tensor(x)), y)
            + 0.7 * rb.losses.cross_entropy(ref(rb.tensor(xa)), y))
    opt = rb.optim.SGD(ref.parameters(), lr=0.5)
    opt.zero_grad()
    loss.backward()
    opt.step()
    np.testing.assert_allclose(net.W.data, ref.W.data, rtol=1e-12)
    np.testing.assert_allclose(net.b.data, ref.b.data, rtol=1e-12)


def test_pgd_training_uses_pgd_examples():
    rng = np.random.default_rng(3)
    x, y = rng.random((8, 6)), rng.integers(3, size=8)
    net, ref = _softmax_regression(), _softmax_regression()
    rb.fit(net, x, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.5),
           epochs=1, batch_size=8, shuffle=False, progress=False,
           adversarial=rb.adversarial.PGD(eps=0.2, step=0.05, steps=5, alpha=0.0))
    xa = rb.adversarial.pgd(ref, x, y, eps=0.2, step=0.05, steps=5)
    opt = rb.optim.SGD(ref.parameters(), lr=0.5)
    opt.zero_grad()
    rb.losses.cross_entropy(ref(rb.tensor(xa)), y).backward()
    opt.step()
    np.testing.assert_allclose(net.W.data, ref.W.data, rtol=1e-12)


@pytest.fixture(scope="module")
def mnist():
    X, y = rb.datasets.load_mnist_sample()
    return rb.datasets.train_test_split(X, y, test_size=0.2, rng=0)


def _train(mnist, adversarial=None):
    Xtr, _, ytr, _ = mnist
    net = rb.nn.Dense(784, 10, rng=0)
    rb.fit(net, Xtr, ytr, loss="cross_entropy", optimizer=rb.optim.Adam(net.parameters(), lr=1e-2),
           epochs=15, batch_size=64, progress=False, rng=0, metrics=(), adversarial=adversarial)
    return net


def _error(net, x, y):
    return float((rb.training.predict(net, x).argmax(axis=1) != y).mean())


def test_fgsm_fools_softmax_regression_on_mnist(mnist):
    """Goodfellow et al. 2015: a shallow softmax classifier errs on 99.9% at eps = 0.25."""
    _, Xte, _, yte = mnist
    net = _train(mnist)
    assert _error(net, Xte, yte) < 0.15
    assert _error(net, rb.adversarial.fgsm(net, Xte, yte, eps=0.25), yte) >= 0.9


def test_adversarial_training_halves_the_fgsm_error(mnist):
    _, Xte, _, yte = mnist
    plain = _train(mnist)
    robust = _train(mnist, rb.adversarial.FGSM(eps=0.1, alpha=0.5))
    plain_adv = _error(plain, rb.adversarial.fgsm(plain, Xte, yte, eps=0.1), yte)
    robust_adv = _error(robust, rb.adversarial.fgsm(robust, Xte, yte, eps=0.1), yte)
    assert robust_adv <= plain_adv / 2
    assert _error(robust, Xte, yte) <= _error(plain, Xte, yte) + 0.02


def test_bad_input():
    net = _softmax_regression()
    x, y = np.zeros((2, 6)), np.array([0, 1])
    with pytest.raises(ValueError, match="fgsm: eps must be finite and >= 0; got -0.1"):
        rb.adversarial.fgsm(net, x, y, eps=-0.1)
    with pytest.raises(ValueError, match="pgd: eps"):
        rb.adversarial.pgd(net, x, y, eps=-1, step=0.1, steps=2)
    with pytest.raises(ValueError, match="pgd: steps"):
        rb.adversarial.pgd(net, x, y, eps=0.1, step=0.1, steps=0)
    with pytest.raises(ValueError, match="FGSM: eps"):
        rb.adversarial.FGSM(eps=-0.1)
    with pytest.raises(ValueError, match="FGSM: alpha"):
        rb.adversarial.FGSM(eps=0.1, alpha=1.5)
    with pytest.raises(ValueError, match="clip"):
        rb.adversarial.fgsm(net, x, y, eps=0.1, clip=(1.0, 0.0))
    with pytest.raises(ValueError, match="unknown loss"):
        rb.adversarial.fgsm(net, x, y, eps=0.1, loss="hinge_squared")
    with pytest.raises(TypeError, match="model must be an rb.nn.Module"):
        rb.adversarial.fgsm(lambda v: v, x, y, eps=0.1)
    with pytest.raises(TypeError, match="fit: adversarial must be"):
        rb.fit(net, x, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
               epochs=1, progress=False, adversarial=0.1)


def test_attacks_refuse_inputs_outside_clip_and_keep_eps_with_clip_none():
    """Standardised inputs under the default clip=(0, 1) would be clamped far past eps."""
    rng = np.random.default_rng(0)
    net = _softmax_regression()
    x, y = rng.standard_normal((6, 6)), rng.integers(3, size=6)
    message = (r"fgsm: the inputs lie in \[-\d.*\], outside clip=\(0, 1\).*pass clip=None, or "
               r"a clip range that contains the data")
    with pytest.raises(ValueError, match=message):
        rb.adversarial.fgsm(net, x, y, eps=0.01)
    with pytest.raises(ValueError, match=r"pgd: the inputs lie in .* outside clip=\(0, 1\)"):
        rb.adversarial.pgd(net, x, y, eps=0.01, step=0.005, steps=3)
    for xa in (rb.adversarial.fgsm(net, x, y, eps=0.01, clip=None),
               rb.adversarial.pgd(net, x, y, eps=0.01, step=0.005, steps=3, clip=None),
               rb.adversarial.fgsm(net, x, y, eps=0.01, clip=(-10, 10))):
        assert np.abs(xa - x).max() <= 0.01 + 1e-12
    inside = rng.random((6, 6))  # pixels in [0, 1]: clipped exactly as before
    g = rb.adversarial.input_gradient(net, inside, y)
    np.testing.assert_allclose(rb.adversarial.fgsm(net, inside, y, eps=0.1),
                               np.clip(inside + 0.1 * np.sign(g), 0, 1), rtol=1e-12)


def test_fit_checks_the_adversarial_clip_range_once_before_training(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 6)).astype(np.float32)
    y = rng.integers(3, size=32)
    net = rb.nn.Dense(6, 3, rng=0)
    before = net.W.data.copy()
    opt = rb.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"fit: PGD: the inputs lie in .* clip=None"):
        rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=1, progress=False,
               adversarial=rb.adversarial.PGD(0.1, 0.05, 2))
    np.testing.assert_array_equal(net.W.data, before)  # refused before any step
    calls = []
    real = rb.training.adversarial.check_range
    monkeypatch.setattr(rb.training.adversarial, "check_range",
                        lambda *a: calls.append(1) or real(*a))
    h = rb.fit(net, (X > 0).astype(np.float32), y, loss="cross_entropy", optimizer=opt,
               epochs=2, batch_size=8, progress=False, adversarial=rb.adversarial.FGSM(0.1))
    assert len(h["loss"]) == 2 and len(calls) == 1  # once per fit, not once per batch


# -- audit a4 -------------------------------------------------------------------------------


@pytest.mark.parametrize("clip", [1.0, (0.0,), (0.0, 1.0, 2.0), "ab", ("a", "b"), (0, None)])
def test_a_clip_that_is_not_a_pair_is_a_value_error(clip):
    net = rb.nn.Dense(2, 2, rng=0)
    x, y = np.array([[0.5, 0.5]], np.float32), np.array([0])
    with pytest.raises(ValueError, match="fgsm: clip must be \\(low, high\\)"):
        rb.adversarial.fgsm(net, x, y, 0.1, clip=clip)
    with pytest.raises(ValueError, match="FGSM: clip must be \\(low, high\\)"):
        rb.adversarial.FGSM(0.1, clip=clip)
    with pytest.raises(ValueError, match="PGD: clip must be \\(low, high\\)"):
        rb.adversarial.PGD(0.1, 0.01, 2, clip=clip)


def test_attacks_work_inside_no_grad():
    net = rb.nn.Dense(2, 2, rng=0)
    x, y = np.array([[0.5, 0.5]], np.float32), np.array([0])
    A = rb.adversarial
    want = (A.input_gradient(net, x, y), A.fgsm(net, x, y, 0.1), A.pgd(net, x, y, 0.1, 0.05, 2))
    with rb.no_grad():
        got = (A.input_gradient(net, x, y), A.fgsm(net, x, y, 0.1),
               A.pgd(net, x, y, 0.1, 0.05, 2))
        assert not is_grad_enabled()
    for a, b in zip(want, got):
        assert np.array_equal(a, b)
    assert all(p.grad is None or not p.grad.any() for p in net.parameters())
