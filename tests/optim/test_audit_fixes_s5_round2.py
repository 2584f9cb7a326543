"""Regression tests for the optimizer audit b2 (session 5, round 2): each failed before its
fix."""

import numpy as np
import pytest

import rosenblatt as rb


def _params():
    return [rb.nn.Parameter(np.linspace(-1.0, 1.0, 4)), rb.nn.Parameter(np.linspace(0.0, 2.0, 4)),
            rb.nn.Parameter(np.linspace(1.0, 3.0, 3))]


def _grad(theta):
    return 2.0 * theta - 0.3


# -- 1. sharded SGD: rank 0's checkpoint resumes every parameter's momentum -----------------
@pytest.mark.parametrize("parts", [[slice(0, 4), slice(4, 11)],  # whole parameters per rank
                                   [slice(0, 6), slice(6, 11)]])  # one straddling the cut
@pytest.mark.parametrize("options", [dict(momentum=0.9),
                                     dict(momentum=0.9, dampening=0.3, weight_decay=0.1),
                                     dict(momentum=0.9, nesterov=True)])
def test_sharded_sgd_checkpoint_of_rank_0_resumes_like_an_uninterrupted_run(parts, options):
    def make():
        return rb.optim.SGD(_params(), lr=0.1, **options)

    ref = make()  # one process, 6 steps
    for k in range(6):
        ref.params[2].requires_grad = k != 0  # frozen at the first step: begins at the second
        ref.vec.grad[:] = _grad(ref.vec.data)
        ref.step()
    ranks = [make(), make()]  # two "ranks", each stepping its shard, 3 steps
    for k in range(3):
        g = _grad(ranks[0].vec.data)
        for r, opt in enumerate(ranks):
            opt.params[2].requires_grad = k != 0
            opt.vec.grad[:] = g
            opt.step_part(parts[r])
        for opt in ranks:  # the all-gather of theta
            for q, sl in enumerate(parts):
                opt.vec.data[sl] = ranks[q].vec.data[sl]
    for name in ranks[0].state_names:  # DataParallel.sync_state: the state arrays exchanged
        for opt in ranks:
            for q, sl in enumerate(parts):
                getattr(opt, name)[sl] = getattr(ranks[q], name)[sl]
    states = [opt.state_dict() for opt in ranks]
    assert states[0]["momentum_unstarted"] == states[1]["momentum_unstarted"] == []
    for state in states:  # either rank's checkpoint
        resumed = make()
        resumed.vec.data[:] = ranks[0].vec.data
        resumed.load_state_dict(state)
        for _ in range(3):
            resumed.params[2].requires_grad = True
            resumed.vec.grad[:] = _grad(resumed.vec.data)
            resumed.step()
        np.testing.assert_allclose(resumed.vec.data, ref.vec.data, rtol=0, atol=1e-14)


def test_one_process_step_part_over_complementary_parts_equals_step():
    whole, split = rb.optim.SGD(_params(), lr=0.1, momentum=0.9), \
        rb.optim.SGD(_params(), lr=0.1, momentum=0.9)
    for k in range(4):
        for opt in (whole, split):
            opt.params[1].requires_grad = k != 1
            opt.vec.grad[:] = _grad(whole.vec.data)
        whole.step()
        t = split.t
        for part in (slice(0, 6), slice(6, 11)):
            split.t = t
            split.step_part(part)
        assert split.state_dict()["momentum_unstarted"] == whole.state_dict()[
            "momentum_unstarted"]
    np.testing.assert_array_equal(split.vec.data, whole.vec.data)
    np.testing.assert_array_equal(split.velocity, whole.velocity)


# -- 5. b.grad = a.grad (a view of the same flat gradient) steps b, as torch ----------------
def test_a_gradient_tied_by_hand_steps_the_other_parameter_like_torch():
    torch = pytest.importorskip("torch")

    def run(lib):
        if lib == "rb":
            a, b = rb.nn.Parameter(np.array([1.0, 2.0])), rb.nn.Parameter(np.array([3.0, 4.0]))
            opt = rb.optim.SGD([a, b], lr=0.1, momentum=0.5)
        else:
            a = torch.nn.Parameter(torch.tensor([1.0, 2.0], dtype=torch.float64))
            b = torch.nn.Parameter(torch.tensor([3.0, 4.0], dtype=torch.float64))
            opt = torch.optim.SGD([a, b], lr=0.1, momentum=0.5)
        for k in range(3):
            opt.zero_grad()
            ((a * a).sum() * (k + 1)).backward()
            b.grad = a.grad
            opt.step()
        return [np.asarray(p.detach().numpy() if lib == "torch" else p.data) for p in (a, b)]

    for mine, theirs in zip(run("rb"), run("torch")):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-15)


# -- 6. zero_grad() (set_to_none) drops a gradient assigned by hand, as torch ---------------
def test_zero_grad_set_to_none_drops_a_hand_set_gradient_like_torch():
    torch = pytest.importorskip("torch")
    w = rb.nn.Parameter(np.array([1.0, 2.0]))
    opt = rb.optim.SGD([w], lr=0.1)
    w.grad = np.array([100.0, 100.0])
    opt.zero_grad()
    assert w.grad is None
    (w * w).sum().backward()
    opt.step()
    tw = torch.nn.Parameter(torch.tensor([1.0, 2.0], dtype=torch.float64))
    topt = torch.optim.SGD([tw], lr=0.1)
    tw.grad = torch.tensor([100.0, 100.0], dtype=torch.float64)
    topt.zero_grad()
    (tw * tw).sum().backward()
    topt.step()
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=0, atol=1e-15)


def test_zero_grad_leaves_a_parameter_packed_elsewhere_alone():
    w = rb.nn.Parameter(np.array([1.0, 2.0]))
    first = rb.optim.SGD([w], lr=0.1)
    second = rb.optim.SGD([w], lr=0.1)  # w now views the second vector
    w.grad = np.array([5.0, 5.0])
    first.vec.clear_grad()  # not first's parameter any more: its gradient is not first's
    np.testing.assert_array_equal(w.grad, [5.0, 5.0])
    second.zero_grad()
    assert w.grad is None
