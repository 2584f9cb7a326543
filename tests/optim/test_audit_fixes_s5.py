"""Regression tests for the optimizer audit a7 (session 5): each failed before its fix."""

import math

import numpy as np
import pytest

import rosenblatt as rb


def _param(values):
    return rb.nn.Parameter(np.array(values, dtype=np.float64))


# -- 1. Rprop with an infinite largest step size round-trips its state ---------------------
def test_rprop_state_with_infinite_max_step_size_loads_back():
    w = _param([1.0, -2.0])
    opt = rb.optim.Rprop([w], step_sizes=(1e-6, math.inf))
    opt.vec.grad[:] = [1.0, 2.0]
    opt.step()
    other = rb.optim.Rprop([_param([1.0, -2.0])], step_sizes=(1e-6, math.inf))
    other.load_state_dict(opt.state_dict())
    assert other.step_sizes == (1e-6, math.inf) and other.t == 1
    np.testing.assert_array_equal(other.step_size, opt.step_size)


# -- 2. clipping and gradient noise see a gradient assigned (or dropped) by hand -------------
def test_clip_grad_norm_sees_a_hand_set_gradient_like_torch():
    torch = pytest.importorskip("torch")
    for zero_first in (True, False):  # after zero_grad(set_to_none=False), or on a fresh one
        w = _param([0.0, 0.0])
        opt = rb.optim.SGD([w], lr=1.0)
        if zero_first:
            opt.zero_grad(set_to_none=False)
        w.grad = np.array([3.0, 4.0])
        norm = rb.optim.clip_grad_norm(opt, 1.0)
        opt.step()
        tw = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
        tw.grad = torch.tensor([3.0, 4.0], dtype=torch.float64)
        tnorm = torch.nn.utils.clip_grad_norm_([tw], 1.0)
        torch.optim.SGD([tw], lr=1.0).step()
        assert norm == pytest.approx(float(tnorm)) == 5.0
        np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-12)


def test_clip_grad_value_sees_a_hand_set_gradient_after_a_step():
    w = _param([0.0, 0.0])
    opt = rb.optim.SGD([w], lr=1.0)
    opt.vec.grad[:] = [0.1, 0.1]
    opt.step()  # no zero_grad(set_to_none=True) in between: the slot is stale, not cleared
    w.grad = np.array([-5.0, 0.5])
    rb.optim.clip_grad_value(opt, 1.0)
    opt.step()
    np.testing.assert_allclose(w.data, [-0.1 + 1.0, -0.1 - 0.5])


def test_clip_grad_norm_counts_a_gradient_set_to_none_as_zeros():
    a, b = _param([1.0]), _param([1.0])
    opt = rb.optim.SGD([a, b], lr=1.0)
    opt.zero_grad(set_to_none=False)
    ((a * 30.0).sum() + (b * 0.5).sum()).backward()
    a.grad = None  # dropped by hand: zeros
    assert rb.optim.clip_grad_norm(opt, 1.0) == pytest.approx(0.5)
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [1.0, 0.5])


def test_gradient_noise_is_added_to_a_hand_set_gradient():
    w = _param([0.0, 0.0])
    opt = rb.optim.GradientNoise(rb.optim.SGD([w], lr=1.0), eta=1.0, rng=0)
    w.grad = np.array([3.0, 4.0])
    opt.step()
    noise = np.random.default_rng(0).standard_normal(2)  # sigma = 1 at t = 0
    np.testing.assert_allclose(w.data, -(np.array([3.0, 4.0]) + noise))


# -- 3. load_state_dict checks what the constructors check ----------------------------------
def _p2():
    return [_param([1.0, -2.0])]


BAD_LOADS = [
    (lambda: rb.optim.Rprop(_p2()), {"etas": [1.5, 0.5]}, "etas"),
    (lambda: rb.optim.Rprop(_p2()), {"step_sizes": [1.0, 1e-3]}, "step_sizes"),
    (lambda: rb.optim.Rprop(_p2()), {"variant": "rprop"}, "variant"),
    (lambda: rb.optim.AdaptiveGains(_p2(), lr=0.1), {"down": 0.0}, "down"),
    (lambda: rb.optim.AdaptiveGains(_p2(), lr=0.1), {"gain_range": [5.0, 2.0]}, "gain_range"),
    (lambda: rb.optim.SGD(_p2(), lr=0.1, momentum=0.9, nesterov=True), {"momentum": 0.0},
     "nesterov"),
    (lambda: rb.optim.SGD(_p2(), lr=0.1), {"nesterov": "yes"}, "nesterov"),
    (lambda: rb.optim.SGD(_p2(), lr=0.1, momentum=0.9), {"nesterov": True, "dampening": 0.5},
     "nesterov"),
    (lambda: rb.optim.Adam(_p2()), {"amsgrad": "no"}, "amsgrad"),
    (lambda: rb.optim.Adam(_p2()), {"betas": [0.9]}, "betas"),
    (lambda: rb.optim.RMSprop(_p2()), {"centered": 1}, "centered"),
    (lambda: rb.optim.Adagrad(_p2()), {"eps_inside_sqrt": "false"}, "eps_inside_sqrt"),
    (lambda: rb.optim.Adadelta(_p2()), {"rho": 1.0}, "rho"),
]


@pytest.mark.parametrize("make, change, what", BAD_LOADS)
def test_load_state_dict_refuses_what_the_constructor_refuses(make, change, what):
    opt = make()
    good = opt.state_dict()
    with pytest.raises((ValueError, TypeError), match=what):
        opt.load_state_dict({**good, **change, "t": 7})
    after = opt.state_dict()
    assert after["t"] == 0
    for key in opt.hyperparameters:
        assert after[key] == good[key]


# -- 4. line-search optimizers load a state saved while lr was 0 -----------------------------
def test_lbfgs_and_cg_load_a_state_saved_with_lr_zero():
    schedule = rb.optim.schedules.Cosine(1.0, t_max=3)  # exactly 0 from t_max on
    w = _param([3.0, -2.0])
    opt = rb.optim.LBFGS([w], lr=schedule, max_iter=2)
    for _ in range(4):
        opt.step(lambda: ((w - 1.0) ** 2).sum())
    state = opt.state_dict()
    assert state["lr"] == 0.0
    other = rb.optim.LBFGS([_param([3.0, -2.0])], lr=schedule, max_iter=2)
    assert other.load_state_dict(state).t == 4
    w = _param([3.0, -2.0])
    cg = rb.optim.ConjugateGradient([w], lr=0.0)
    cg.step(lambda: ((w - 1.0) ** 2).sum())
    rb.optim.ConjugateGradient([_param([3.0, -2.0])], lr=0.0).load_state_dict(cg.state_dict())
    with pytest.raises(ValueError, match="LBFGS.load_state_dict: lr"):  # a number: > 0
        rb.optim.LBFGS([_param([1.0])]).load_state_dict({**rb.optim.LBFGS(
            [_param([1.0])]).state_dict(), "lr": 0.0})


# -- 5. step_part after step() made a state array --------------------------------------------
@pytest.mark.parametrize("make, switch", [
    (lambda ps: rb.optim.Adam(ps, lr=0.1), ("weight_decay", 0.1)),
    (lambda ps: rb.optim.Adam(ps, lr=0.1), ("amsgrad", True)),
    (lambda ps: rb.optim.SGD(ps, lr=0.1), ("momentum", 0.9)),
    (lambda ps: rb.optim.RMSprop(ps, lr=0.1), ("centered", True)),
])
def test_step_part_after_a_step_that_made_a_state_array(make, switch):
    mixed, parts = make([_param(np.linspace(-1, 1, 8))]), make([_param(np.linspace(-1, 1, 8))])
    part = slice(0, 4)
    for k in range(4):
        if k == 1:
            for opt in (mixed, parts):
                setattr(opt, *switch)
        for opt in (mixed, parts):
            opt.vec.grad[...] = np.sin(opt.vec.data + k)
        if k == 1:
            mixed.step()
            parts.step_part(part)
            parts.t -= 1
            parts.step_part(slice(4, 8))
        else:
            mixed.step_part(part)
            parts.step_part(part)
    np.testing.assert_array_equal(mixed.vec.data, parts.vec.data)


# -- 6. SGD's dampening spares a buffer's first update, whenever it comes (PyTorch) -----------
def test_sgd_dampening_spares_the_first_update_of_a_parameter_unfrozen_later():
    torch = pytest.importorskip("torch")
    a0, b0 = np.array([1.0, -1.0]), np.array([0.5, 2.0])
    a, b = _param(a0), _param(b0)
    opt = rb.optim.SGD([a, b], lr=0.1, momentum=0.9, dampening=0.5)
    ta = torch.nn.Parameter(torch.tensor(a0))
    tb = torch.nn.Parameter(torch.tensor(b0))
    topt = torch.optim.SGD([ta, tb], lr=0.1, momentum=0.9, dampening=0.5)
    for k in range(5):
        frozen = k < 2
        b.requires_grad = not frozen
        opt.zero_grad()
        a.grad = 2 * a.data
        b.grad = None if frozen else 2 * b.data
        ta.grad = 2 * ta.detach().clone()
        tb.grad = None if frozen else 2 * tb.detach().clone()
        opt.step()
        topt.step()
        if k == 2:  # a checkpoint between the steps keeps which buffers have started
            w = [_param(a.data), _param(b.data)]
            resumed = rb.optim.SGD(w, lr=0.1, momentum=0.9, dampening=0.5)
            resumed.load_state_dict(opt.state_dict())
            assert resumed.state_dict()["momentum_unstarted"] == []
    np.testing.assert_allclose(a.data, ta.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(b.data, tb.detach().numpy(), rtol=1e-14)


def test_sgd_dampening_spares_the_first_update_after_momentum_is_switched_on():
    torch = pytest.importorskip("torch")
    w = _param([1.0])
    opt = rb.optim.SGD([w], lr=0.1, dampening=0.5)
    tw = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    topt = torch.optim.SGD([tw], lr=0.1, dampening=0.5)
    for k in range(3):
        if k == 1:
            opt.momentum = 0.9
            topt.param_groups[0]["momentum"] = 0.9
        opt.zero_grad()
        w.grad = 2 * w.data
        tw.grad = 2 * tw.detach().clone()
        opt.step()
        topt.step()
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-14)


def test_sgd_state_saved_before_an_unfrozen_parameter_started_resumes_exactly():
    def run(resume_at):
        a, b = _param([1.0, -1.0]), _param([0.5, 2.0])
        opt = rb.optim.SGD([a, b], lr=0.1, momentum=0.9, dampening=0.5)
        for k in range(4):
            b.requires_grad = k >= 2
            if k == resume_at:
                state = opt.state_dict()
                a, b = _param(a.data), _param(b.data)
                opt = rb.optim.SGD([a, b], lr=0.1, momentum=0.9, dampening=0.5)
                opt.load_state_dict(state)
                b.requires_grad = k >= 2  # frozen after building: still packed
            opt.vec.grad[:] = 2 * opt.vec.data
            opt.step()
        return opt.vec.data

    np.testing.assert_array_equal(run(1), run(None))


# -- 7. a failing load_state_dict changes nothing ----------------------------------------------
@pytest.mark.parametrize("bad", [
    {"v": np.ones(4)},                       # the wrong size, after m
    {"v": np.array(["a", "b", "c"])},        # not numbers
])
def test_failed_load_state_dict_leaves_the_optimizer_as_it_was(bad):
    w = _param([1.0, -2.0, 3.0])
    opt = rb.optim.Adam([w], lr=0.1)
    state = {"algorithm": "Adam", "t": 50, "lr": 0.5, "betas": [0.5, 0.6], "m": np.ones(3),
             **bad}
    with pytest.raises(ValueError, match="Adam.load_state_dict: v"):
        opt.load_state_dict(state)
    assert opt.t == 0 and opt.lr == 0.1 and opt.betas == (0.9, 0.999)
    np.testing.assert_array_equal(opt.m, 0.0)


def test_failed_cg_load_state_dict_leaves_it_as_it_was():
    w = _param([3.0, -2.0])
    cg = rb.optim.ConjugateGradient([w], max_iter=1)
    cg.step(lambda: ((w - 1.0) ** 2).sum())
    good = cg.state_dict()
    fresh = rb.optim.ConjugateGradient([_param([3.0, -2.0])], max_iter=1)
    with pytest.raises(ValueError, match="direction"):
        fresh.load_state_dict({**good, "direction": np.ones(5)})
    assert fresh.t == 0 and fresh.since_restart == 0
    np.testing.assert_array_equal(fresh.prev_grad, 0.0)


# -- 8. annealers' temperature(t) refuses t outside its schedule ------------------------------
def test_annealer_temperature_refuses_t_outside_the_schedule():
    boltzmann = rb.optim.BoltzmannAnnealer([_param([1.0])], T0=1.0, k=0.1, rng=0)
    cauchy = rb.optim.CauchyAnnealer([_param([1.0])], T0=1.0, k=0.1, rng=0)
    for ann, bad in ((boltzmann, 0), (boltzmann, -0.5), (cauchy, -1), (cauchy, -3),
                     (cauchy, math.nan)):
        with pytest.raises(ValueError, match=f"{type(ann).__name__}: t must be"):
            ann.temperature(bad)
    with pytest.raises(TypeError, match="BoltzmannAnnealer: t must be"):
        boltzmann.temperature("3")
    assert boltzmann.temperature(1) == pytest.approx(1.0 / math.log(2))
    assert cauchy.temperature(0) == 1.0


def test_assigning_the_whole_flat_gradient_replaces_hand_set_ones():
    w = _param([0.0, 0.0])
    opt = rb.optim.SGD([w], lr=1.0)
    w.grad = np.array([3.0, 4.0])
    opt.vec.grad = np.array([1.0, 1.0])
    np.testing.assert_array_equal(opt.vec.grad, [1.0, 1.0])
    np.testing.assert_array_equal(w.grad, [1.0, 1.0])


def test_sgd_buffers_that_begin_late_step_the_same_in_parts():
    def make():
        ps = [_param(np.linspace(-1, 1, 6)), _param(np.linspace(0, 1, 5)), _param([2.0, 3.0])]
        return ps, rb.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1)

    (wp, whole), (pp, parts) = make(), make()
    cuts = [slice(0, 4), slice(4, 9), slice(9, 13)]  # the second parameter straddles two
    g = np.random.default_rng(0)
    for k in range(4):
        for ps in (wp, pp):
            ps[1].requires_grad = k >= 2  # frozen after building, until step 2
        grad = g.normal(size=13)
        whole.vec.grad[:] = grad
        parts.vec.grad[:] = grad
        whole.step()
        t = parts.t
        for cut in cuts:
            parts.t = t  # each part is the same step
            parts.step_part(cut)
        np.testing.assert_array_equal(parts.vec.data, whole.vec.data)
    np.testing.assert_array_equal(parts.velocity, whole.velocity)


def test_clip_grad_norm_with_an_infinite_max_norm_only_measures_like_torch():
    torch = pytest.importorskip("torch")
    vec = rb.nn.ParameterVector([_param([0.0, 0.0])])
    vec.grad[:] = [3.0, 4.0]
    t = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    t.grad = torch.tensor([3.0, 4.0], dtype=torch.float64)
    assert rb.optim.clip_grad_norm(vec, math.inf) == float(
        torch.nn.utils.clip_grad_norm_([t], math.inf)) == 5.0
    np.testing.assert_array_equal(vec.grad, t.grad.numpy())
    with pytest.raises(ValueError, match="max_norm"):
        rb.optim.clip_grad_norm(vec, -math.inf)
