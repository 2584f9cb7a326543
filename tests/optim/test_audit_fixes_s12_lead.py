"""Session 12 (lead): CauchyAnnealer with backprop_weight=1 is purely backprop."""
import numpy as np

import rosenblatt as rb


def _run(lr, momentum=0.0, steps=4):
    w = rb.nn.Parameter(np.array([1.0, -0.5]))
    ann = rb.optim.CauchyAnnealer([w], T0=1e-6, k=1e-3, rng=0, backprop_weight=1.0, lr=lr,
                                  momentum=momentum)

    def closure():
        ann.zero_grad()
        return (w ** 2).sum()
    for _ in range(steps):
        ann.step(closure)
    return w.data.copy(), ann


def test_pure_backprop_keeps_an_uphill_gradient_step():
    # lr 1.5 on w^2 overshoots: w <- w - 1.5 * 2w = -2w, an uphill step backprop takes; the
    # Metropolis test at a tiny temperature rejected it, and the same step was proposed
    # again unchanged at every later step: the weights froze at their start
    w, ann = _run(lr=1.5)
    np.testing.assert_allclose(w, np.array([1.0, -0.5]) * (-2.0) ** 4)
    assert list(ann.trace["accepted"]) == [1.0] * 4


def test_pure_backprop_with_momentum_is_the_notes_update():
    # eta = 1: dW = alpha dW_prev + (1 - alpha)(-lr grad), every step kept
    alpha, lr = 0.5, 0.4
    w, _ = _run(lr=lr, momentum=alpha, steps=5)
    x, prev = np.array([1.0, -0.5]), np.zeros(2)
    for _ in range(5):
        prev = alpha * prev + (1 - alpha) * (-lr * 2 * x)
        x = x + prev
    np.testing.assert_allclose(w, x)


def test_pure_backprop_still_rejects_a_non_finite_objective():
    w = rb.nn.Parameter(np.array([1.0]))
    ann = rb.optim.CauchyAnnealer([w], rng=0, backprop_weight=1.0, lr=0.1)
    calls = []

    def closure():
        ann.zero_grad()
        calls.append(1)
        loss = (w ** 2).sum()
        return loss if len(calls) == 1 else loss * np.inf
    ann.step(closure)
    np.testing.assert_array_equal(w.data, [1.0])


def test_a_scheduled_optimizers_lr_scale_is_saved_and_restored(tmp_path):
    # (s12/a7) ReduceLROnPlateau lowers lr_scale; rb.save(optimizer=) then restore gave 1
    path = str(tmp_path / "m.safetensors")
    rb.seed(0)
    net = rb.nn.Dense(3, 2)
    opt = rb.optim.SGD(net.parameters(), lr=rb.optim.schedules.Constant(0.1))
    opt.lr_scale = 0.25
    rb.save(net, path, optimizer=opt)
    net2 = rb.nn.Dense(3, 2)
    opt2 = rb.optim.SGD(net2.parameters(), lr=rb.optim.schedules.Constant(0.1))
    rb.io.restore(path, net2, opt2)
    assert opt2.lr_scale == 0.25
    plain = rb.optim.SGD(rb.nn.Dense(3, 2).parameters(), lr=0.1)
    assert "lr_scale" not in plain.state_dict()  # files of unscheduled optimizers unchanged
