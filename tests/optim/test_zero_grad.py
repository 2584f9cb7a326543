"""``optimizer.zero_grad()`` clears gradients to None (PyTorch's default) and backward writes
the next ones straight into the flat gradient: the same numbers as filling zeros and
accumulating, bit for bit, in every case the engine meets."""

import numpy as np
import pytest

import rosenblatt as rb


def _mlp(seed=0):
    rng = np.random.default_rng(seed)
    return rb.nn.Sequential(rb.nn.Dense(6, 8, rng=rng), rb.nn.ReLU(), rb.nn.Dense(8, 3, rng=rng))


def _batches(steps=6, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((5, 6), dtype=np.float32), rng.integers(0, 3, 5))
            for _ in range(steps)]


def test_training_with_grads_set_to_none_equals_filling_zeros_bit_for_bit():
    runs = []
    for set_to_none in (True, False):
        model = _mlp()
        opt = rb.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for x, y in _batches():
            loss = rb.losses.cross_entropy(model(rb.tensor(x)), y)
            opt.zero_grad(set_to_none=set_to_none)
            loss.backward()
            opt.step()
        runs.append((opt.vec.data.copy(), opt.vec.grad.copy()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_after_zero_grad_grads_are_none_and_the_flat_gradient_reads_zeros():
    model = _mlp()
    opt = rb.optim.SGD(model.parameters(), lr=0.1)
    x, y = _batches(1)[0]
    rb.losses.cross_entropy(model(rb.tensor(x)), y).backward()
    assert np.abs(opt.vec.grad).sum() > 0
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    assert not opt.vec.grad.any()  # reading it fills the slots
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())
    assert opt.vec.is_packed()


def test_a_parameter_no_gradient_reaches_reads_zero_and_still_steps_like_zero():
    used, unused = rb.nn.Parameter(np.ones(3)), rb.nn.Parameter(np.ones(2))
    opt = rb.optim.SGD([used, unused], lr=0.5, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        (used * used).sum().backward()
        assert unused.grad is None  # backward never reached it
        opt.step()
    np.testing.assert_array_equal(unused.data, np.ones(2))
    np.testing.assert_array_equal(opt.vec.grad[3:], 0)
    assert unused.grad is not None and unused.grad.base is opt.vec.grad


def test_a_weight_used_twice_in_one_graph_gets_the_sum_of_both_uses():
    layer = rb.nn.Dense(4, 4, rng=np.random.default_rng(0))
    x = rb.tensor(np.random.default_rng(1).standard_normal((3, 4)))
    grads = []
    for set_to_none in (True, False):
        opt = rb.optim.SGD(layer.parameters(), lr=0.1)
        opt.zero_grad(set_to_none=set_to_none)
        layer(layer(x).tanh()).sum().backward()  # the second use writes in place, the first adds
        grads.append(opt.vec.grad.copy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)
    assert np.abs(grads[0]).sum() > 0


def test_retain_graph_twice_accumulates_after_the_in_place_first_write():
    layer = rb.nn.Dense(3, 2, rng=np.random.default_rng(0))
    opt = rb.optim.SGD(layer.parameters(), lr=0.1)
    x = rb.tensor(np.ones((4, 3), dtype=np.float32))
    out = layer(x).sum()
    opt.zero_grad()
    out.backward(retain_graph=True)
    once = opt.vec.grad.copy()
    out.backward()
    np.testing.assert_allclose(opt.vec.grad, 2 * once)


def test_a_gradient_assigned_by_hand_after_zero_grad_is_taken_into_the_vector():
    w = rb.nn.Parameter(np.array([1.0, 2.0]))
    opt = rb.optim.SGD([w], lr=0.5)
    opt.zero_grad()
    w.grad = np.array([2.0, -2.0])  # PyTorch style
    opt.step()
    np.testing.assert_allclose(w.data, [0.0, 3.0])
    assert w.grad.base is opt.vec.grad  # back in its slot
    opt.zero_grad()
    w.grad = np.ones(3)
    with pytest.raises(ValueError, match=r"shape \(2,\).*shape \(3,\)"):
        opt.step()


def test_casting_a_packed_model_cuts_it_loose_from_the_old_flat_gradient():
    model = _mlp()
    opt = rb.optim.SGD(model.parameters(), lr=0.1)
    opt.zero_grad()
    model.astype(np.float64)
    x, y = _batches(1)[0]
    rb.losses.cross_entropy(model(rb.tensor(x, dtype=np.float64)), y).backward()
    assert all(p.grad.dtype == np.float64 for p in model.parameters())
    assert all(p.grad.base is not opt.vec._grad for p in model.parameters())
    with pytest.raises(RuntimeError, match="no longer views"):
        opt.step()


def test_filling_zeros_after_a_clear_puts_every_gradient_back_in_its_slot():
    w = rb.nn.Parameter(np.ones(3))
    opt = rb.optim.SGD([w], lr=0.1)
    opt.zero_grad()
    w.grad = np.ones(5)  # a wrong gradient assigned by hand is simply discarded by a fill
    opt.zero_grad(set_to_none=False)
    assert w.grad.base is opt.vec.grad and not w.grad.any()
    w.grad[...] = 2.0
    opt.step()
    np.testing.assert_allclose(w.data, 0.8)


def test_move_to_carries_theta_and_gradient_and_training_goes_on_there():
    """ParameterVector.move_to (DataParallel puts a rank's vectors in shared memory): the
    values move, the parameters view the new arrays, and steps train the same."""

    def run(move):
        rb.seed(0)
        net = rb.nn.Sequential(rb.nn.Dense(3, 4), rb.nn.Tanh(), rb.nn.Dense(4, 2))
        opt = rb.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        x = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
        for step in range(3):
            if move and step == 1:
                data, grad = np.empty_like(opt.vec.data), np.empty_like(opt.vec.data)
                before = opt.vec.data.copy()
                opt.vec.move_to(data, grad)
                assert opt.vec.data is data and np.array_equal(data, before)
                assert all(p.data.base is data for p in net.parameters())
            opt.zero_grad()
            (net(rb.tensor(x)) ** 2).sum().backward()
            if move and step >= 1:
                assert opt.vec.grad is grad and all(p.grad.base is grad
                                                    for p in net.parameters())
            opt.step()
        return opt.vec.data.copy()

    np.testing.assert_array_equal(run(True), run(False))
    net = rb.nn.Sequential(rb.nn.Dense(3, 4))
    opt = rb.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="move_to: data must be a contiguous"):
        opt.vec.move_to(np.empty(3, np.float32))
