"""Learning-rate schedules, gradient noise and gradient clipping."""

import math

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.optim import schedules


def test_schedule_values():
    assert schedules.Constant(0.3)(100) == 0.3
    s = schedules.InverseTime(0.5, lam=0.1)
    assert [s(t) for t in (0, 10, 20)] == pytest.approx([0.5, 0.5 / 1.5, 0.25])
    assert [schedules.Step(1.0, 3, gamma=0.5)(t) for t in (0, 2, 3, 6)] == [1, 1, 0.5, 0.25]
    assert schedules.Exponential(2.0, 0.5)(3) == pytest.approx(0.25)
    c = schedules.Cosine(1.0, t_max=10, eta_min=0.1)
    assert c(0) == pytest.approx(1.0)
    assert c(5) == pytest.approx(0.55)
    assert c(10) == c(50) == pytest.approx(0.1)


def test_schedules_match_pytorch_schedulers(torch):
    w = torch.zeros(1, requires_grad=True)
    cases = [
        (schedules.Step(0.1, 3, gamma=0.5),
         lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
        (schedules.Exponential(0.1, 0.9),
         lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)),
        (schedules.Cosine(0.1, t_max=7, eta_min=0.01),
         lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.01)),
    ]
    for ours, make in cases:
        topt = torch.optim.SGD([w], lr=0.1)
        sched = make(topt)
        for t in range(8):
            assert ours(t) == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
            topt.step()
            sched.step()


def test_schedule_errors():
    with pytest.raises(ValueError, match="Step: step_size must be a positive integer; got 0"):
        schedules.Step(0.1, 0)
    with pytest.raises(ValueError, match="InverseTime: eta0 must be finite and > 0"):
        schedules.InverseTime(0.0, 1.0)


def _noisy_run(seed, steps=10):
    w = rb.nn.Parameter(np.ones(5))
    opt = rb.optim.GradientNoise(rb.optim.SGD([w], lr=0.1), eta=0.3, gamma=0.55, rng=seed)
    for _ in range(steps):
        opt.zero_grad(set_to_none=False)
        w.grad[...] = w.data
        opt.step()
    return w.data.copy(), opt


def test_gradient_noise_is_reproducible_under_a_seed():
    a, _ = _noisy_run(7)
    b, _ = _noisy_run(7)
    c, _ = _noisy_run(8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    rb.seed(3)
    d, _ = _noisy_run(None)
    rb.seed(3)
    e, _ = _noisy_run(None)
    np.testing.assert_array_equal(d, e)


def test_gradient_noise_variance_is_annealed():
    _, opt = _noisy_run(0, steps=0)
    assert opt.sigma() == pytest.approx(math.sqrt(0.3))
    opt.optimizer.t = 99
    assert opt.sigma() == pytest.approx(math.sqrt(0.3 / 100**0.55))
    # the added noise has that variance
    w = rb.nn.Parameter(np.zeros(20000))
    noisy = rb.optim.GradientNoise(rb.optim.SGD([w], lr=1.0), eta=0.04, gamma=0.55, rng=1)
    noisy.step()  # zero gradient: the step is -1 * noise
    assert np.std(w.data) == pytest.approx(0.2, rel=0.02)
    # attribute access and assignment reach the wrapped optimizer
    noisy.lr = 0.5
    assert noisy.optimizer.lr == 0.5 and noisy.t == 1


def test_clip_grad_norm_matches_pytorch(torch, rng):
    grads = [rng.normal(size=(3, 4)) * 10, rng.normal(size=4)]
    params = [rb.nn.Parameter(np.zeros_like(g)) for g in grads]
    opt = rb.optim.SGD(params, lr=0.1)
    for p, g in zip(params, grads):
        p.grad[...] = g
    tparams = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, g in zip(tparams, grads):
        p.grad = torch.tensor(g)
    norm = rb.optim.clip_grad_norm(opt, 1.5)
    tnorm = torch.nn.utils.clip_grad_norm_(tparams, 1.5)
    assert norm == pytest.approx(float(tnorm))
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)
    assert rb.optim.clip_grad_norm(opt, 100.0) == pytest.approx(1.5, rel=1e-5)  # unchanged below


def test_clip_grad_value():
    w = rb.nn.Parameter(np.zeros(4))
    opt = rb.optim.Adam([w])
    w.grad[...] = [-3.0, -0.5, 0.5, 3.0]
    rb.optim.clip_grad_value(opt, 1.0)
    np.testing.assert_array_equal(w.grad, [-1.0, -0.5, 0.5, 1.0])
    with pytest.raises(TypeError, match="clip_grad_value: expected an optimizer, a "
                                        "ParameterVector or parameters"):
        rb.optim.clip_grad_value("w", 1.0)


def test_clipping_a_list_of_parameters_equals_clipping_the_flat_vector(rng):
    """``clip_grad_norm(model.parameters(), c)`` as in PyTorch: one global norm."""
    grads = [rng.normal(size=(3, 4)) * 10, rng.normal(size=4)]
    loose = [rb.nn.Parameter(np.zeros_like(g)) for g in grads]  # grads not in one vector
    packed = [rb.nn.Parameter(np.zeros_like(g)) for g in grads]
    vec = rb.nn.ParameterVector(packed)
    for a, b, g in zip(loose, packed, grads):
        a.grad = g.copy()
        b.grad[...] = g
    no_grad = rb.nn.Parameter(np.zeros(2))  # skipped, as PyTorch skips grad None
    flat_norm = rb.optim.clip_grad_norm(vec, 1.5)
    assert rb.optim.clip_grad_norm(loose + [no_grad], 1.5) == pytest.approx(flat_norm, rel=1e-12)
    for a, b in zip(loose, packed):
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-12)
    assert np.linalg.norm(np.concatenate([a.grad.ravel() for a in loose])) < 1.5
    rb.optim.clip_grad_value(iter(loose), 0.1)
    assert max(float(np.abs(a.grad).max()) for a in loose) == 0.1


def test_clip_grad_norm_float16_does_not_overflow_like_torch():
    torch = pytest.importorskip("torch")
    g = np.full(4, 300.0, dtype=np.float16)
    p = rb.nn.Parameter(np.zeros(4, dtype=np.float16))
    p.grad = g.copy()
    tp = torch.zeros(4, dtype=torch.float16, requires_grad=True)
    tp.grad = torch.tensor(g)
    norm = rb.optim.clip_grad_norm([p], 1.0)
    tnorm = torch.nn.utils.clip_grad_norm_([tp], 1.0)
    assert norm == pytest.approx(float(tnorm)) == pytest.approx(600.0)
    assert p.grad.dtype == np.float16
    np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-3)


def test_gradient_noise_respects_a_connection_mask():
    rng = np.random.default_rng(0)
    net = rb.nn.Sequential(rb.nn.SparseDense(20, 16, density=0.2, rng=0), rb.nn.Tanh(),
                           rb.nn.Dense(16, 2, rng=0))
    layer = net[0]
    x = rb.tensor(rng.normal(size=(8, 20)).astype(np.float32))
    opt = rb.optim.GradientNoise(rb.optim.SGD(net.parameters(), lr=0.1), eta=0.3, rng=0,
                                 model=net)
    start = layer.W.data.copy()
    for _ in range(5):
        opt.zero_grad()
        (net(x) ** 2).mean().backward()
        opt.step()
    assert np.all(layer.W.data[~layer.mask] == 0)
    assert not np.array_equal(layer.W.data[layer.mask], start[layer.mask])
    # a mask changed later (rb.callbacks.Rewire) is followed
    layer.mask[...] = True
    opt.zero_grad()
    (net(x) ** 2).mean().backward()
    opt.step()
    assert np.count_nonzero(layer.W.data) == layer.W.size


def test_fit_attaches_gradient_noise_to_the_models_connection_masks():
    rng = np.random.default_rng(1)
    net = rb.nn.Sequential(rb.nn.SparseDense(20, 16, density=0.2, rng=0), rb.nn.Tanh(),
                           rb.nn.Dense(16, 2, rng=0))
    X = rng.normal(size=(32, 20)).astype(np.float32)
    y = rng.integers(0, 2, 32)
    opt = rb.optim.GradientNoise(rb.optim.SGD(net.parameters(), lr=0.1), eta=0.3, rng=0)
    rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=3, batch_size=8,
           progress=False, metrics=())
    assert np.all(net[0].W.data[~net[0].mask] == 0)


def _padded_net():
    net = rb.nn.Sequential(rb.nn.Embedding(5, 3, rng=0, padding_idx=0), rb.nn.Flatten(),
                           rb.nn.Dense(6, 2, rng=0))
    X = np.array([[0, 1], [2, 0], [3, 4], [0, 0]] * 4)
    y = np.array([0, 1, 0, 1] * 4)
    return net, X, y


def test_gradient_noise_spares_an_embeddings_padding_row():
    """The padding row gets no gradient and stays zero (torch's padding_idx): no noise
    either, given the model or through rb.fit; every other row does get noise."""
    net, X, y = _padded_net()
    emb = net[0]
    opt = rb.optim.GradientNoise(rb.optim.SGD(net.parameters(), lr=0.1), eta=0.1, rng=0,
                                 model=net)
    idx = np.array([[0, 0]])  # only the padding row is looked up: the others' gradient is 0
    start = emb.W.data.copy()
    for _ in range(3):
        opt.zero_grad()
        (net(idx) ** 2).sum().backward()
        opt.step()
    assert not emb.W.data[0].any()
    assert np.all(emb.W.data[1:] != start[1:])
    net, X, y = _padded_net()
    opt = rb.optim.GradientNoise(rb.optim.SGD(net.parameters(), lr=0.1, momentum=0.9,
                                              weight_decay=0.1), eta=0.1, rng=0)
    rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=3, batch_size=4,
           progress=False, metrics=())
    assert not net[0].W.data[0].any()


def test_r2_11_gradient_noise_model_must_be_the_parameters_module():
    m = rb.nn.Sequential(rb.nn.SparseDense(6, 2, density=0.3, rng=0))
    for bad in ("net", 3, m.parameters()):
        with pytest.raises(TypeError, match="GradientNoise: model must be an rb.nn.Module"):
            rb.optim.GradientNoise(rb.optim.SGD(m.parameters(), lr=0.1), model=bad)
    with pytest.raises(ValueError, match="owns none of the optimizer's parameters"):
        rb.optim.GradientNoise(rb.optim.SGD(m.parameters(), lr=0.1),
                               model=rb.nn.Dense(2, 2, rng=0))
    rb.optim.GradientNoise(rb.optim.SGD(m.parameters(), lr=0.1), model=m)
