"""Optimizer behaviour: the notes' claims, frozen parameters, state dicts, errors."""

import numpy as np
import pytest

import rosenblatt as rb

from .helpers import XorNet, epochs_to_reach, xor_loss


def _quadratic_run(opt_factory, scales, steps):
    """Minimise 0.5 sum(scales * w^2) from w = 1; returns the final objective."""
    w = rb.nn.Parameter(np.ones(len(scales)))
    opt = opt_factory([w])
    for _ in range(steps):
        opt.zero_grad(set_to_none=False)  # then written in place
        w.grad[...] = scales * w.data
        opt.step()
    return 0.5 * float(np.sum(scales * w.data**2))


def test_momentum_beats_plain_sgd_on_ill_conditioned_quadratic():
    scales = np.array([1.0, 100.0])  # condition number 100
    lr = 1.0 / 100  # the largest stable plain-SGD rate for the steep axis
    plain = _quadratic_run(lambda ps: rb.optim.SGD(ps, lr=lr), scales, 100)
    heavy = _quadratic_run(lambda ps: rb.optim.SGD(ps, lr=lr, momentum=0.8), scales, 100)
    nesterov = _quadratic_run(lambda ps: rb.optim.SGD(ps, lr=lr, momentum=0.8, nesterov=True),
                              scales, 100)
    assert heavy < plain / 100
    assert nesterov < plain / 100


def test_adagrad_effective_rate_shrinks_monotonically(rng):
    w = rb.nn.Parameter(rng.normal(size=50))
    opt = rb.optim.Adagrad([w], lr=0.1)
    previous = opt.effective_lr()
    for _ in range(30):
        opt.zero_grad(set_to_none=False)
        w.grad[...] = np.sin(w.data) + rng.normal(size=50)
        opt.step()
        current = opt.effective_lr()
        assert np.all(current <= previous)
        previous = current
    assert np.all(previous < 0.1 * 0.5)  # it keeps falling: learning eventually halts


def _follow_moved_optimum(opt_factory, rng, steps=300, moved=50, fresh=False):
    """Noisy 0.5 |w - target|^2 with the target at 0, then at (3, -3) for ``moved`` steps.

    ``fresh``: a new optimizer when the target moves (no accumulated history). Returns the
    mean step length over the first and the last 100 steps before the move and the fraction
    of the distance to the new target left at the end.
    """
    w = rb.nn.Parameter(np.array([1.0, -1.0]))
    opt = opt_factory([w])
    noise = rng.normal(size=(steps + moved, 2))
    target, lengths = np.zeros(2), []
    for t in range(steps + moved):
        if t == steps:
            target = np.array([3.0, -3.0])
            start = np.linalg.norm(w.data - target)
            if fresh:
                opt = opt_factory([w])
        before = w.data.copy()
        opt.zero_grad(set_to_none=False)
        w.grad[...] = w.data - target + noise[t]
        opt.step()
        lengths.append(np.linalg.norm(w.data - before))
    lengths = np.array(lengths[:steps])
    return lengths[:100].mean(), lengths[-100:].mean(), np.linalg.norm(w.data - target) / start


def test_adagrad_learning_virtually_ceases_where_rmsprop_keeps_up():
    # Notes ("Adagrad"): the rate only shrinks, so learning eventually virtually ceases. The
    # consequence, not the definition: its steps shrink, and after 300 noisy steps it follows
    # a moved optimum far more slowly than a fresh Adagrad; RMSprop's history does not hold
    # it back.
    adagrad = lambda ps: rb.optim.Adagrad(ps, lr=0.5)  # noqa: E731
    rmsprop = lambda ps: rb.optim.RMSprop(ps, lr=0.05)  # noqa: E731
    for seed in range(3):
        early, late, left = _follow_moved_optimum(adagrad, np.random.default_rng(seed))
        *_, left_fresh = _follow_moved_optimum(adagrad, np.random.default_rng(seed), fresh=True)
        assert late < 0.5 * early
        assert left > 2 * left_fresh
        early, late, left = _follow_moved_optimum(rmsprop, np.random.default_rng(seed))
        *_, left_fresh = _follow_moved_optimum(rmsprop, np.random.default_rng(seed), fresh=True)
        assert late > 0.7 * early
        assert left < 1.5 * left_fresh


def test_rprop_reaches_xor_faster_than_plain_sgd():
    net = XorNet(rng=1)
    rprop = epochs_to_reach(net, rb.optim.Rprop(net.parameters()), 0.01, 3000)
    net = XorNet(rng=1)
    sgd = epochs_to_reach(net, rb.optim.SGD(net.parameters(), lr=0.5), 0.01, 3000)
    assert rprop <= 3000, "Rprop did not reach a loss below 0.01"
    assert rprop < sgd
    assert rprop * 3 < sgd


@pytest.mark.parametrize("variant", ["irprop-", "rprop-", "rprop+"])
def test_rprop_variants_learn_xor(variant):
    net = XorNet(rng=1)
    epochs = epochs_to_reach(net, rb.optim.Rprop(net.parameters(), variant=variant), 0.01, 3000)
    assert epochs <= 3000


def test_rprop_variants_on_a_sign_flip():
    """Hand-worked: Delta0 = 0.1; gradients +1 then -1 (a flip) then -1."""
    traces = {}
    for variant in ("irprop-", "rprop-", "rprop+"):
        w = rb.nn.Parameter(np.zeros(1))
        opt = rb.optim.Rprop([w], lr=0.1, variant=variant)
        trace = []
        for g in (1.0, 1.0, -1.0, -1.0):
            w.grad[...] = g
            opt.step()
            trace.append(round(float(w.data[0]), 6))
        traces[variant] = trace
    # steps: -0.1 (Delta 0.1), -0.12 (Delta 0.12), flip: Delta 0.06, then
    assert traces["rprop-"] == [-0.1, -0.22, -0.16, -0.088]      # +0.06, then +0.072
    assert traces["irprop-"] == [-0.1, -0.22, -0.22, -0.16]      # no move, then +0.06
    assert traces["rprop+"] == [-0.1, -0.22, -0.1, -0.04]        # undo -0.12, then +0.06


def test_adaptive_gains_rule():
    w = rb.nn.Parameter(np.zeros(2))
    opt = rb.optim.AdaptiveGains([w], lr=0.1, gain_range=(0.1, 1.2))
    for g in ([1.0, 1.0], [1.0, -1.0], [1.0, 1.0], [1.0, -1.0], [1.0, 1.0]):
        w.grad[...] = g
        opt.step()
    # weight 0: gradients always agree -> +0.05 four times, clipped at 1.2 (1.2 reached)
    # weight 1: alternating signs -> * 0.95 four times
    np.testing.assert_allclose(opt.gains, [1.2, 0.95**4])
    net = XorNet(rng=1)
    assert epochs_to_reach(net, rb.optim.AdaptiveGains(net.parameters(), lr=0.5), 0.01,
                           3000) <= 3000


def test_adaptive_gains_with_momentum_uses_velocity_agreement():
    w = rb.nn.Parameter(np.zeros(1))
    opt = rb.optim.AdaptiveGains([w], lr=0.1, momentum=0.9)
    w.grad[...] = 1.0
    opt.step()  # velocity 0 -> no information, gain stays 1; v = -0.1
    assert opt.gains[0] == 1.0
    opt.step()  # -g * v = 0.1 > 0: agreement -> gain 1.05
    assert opt.gains[0] == pytest.approx(1.05)
    w.grad[...] = -1.0
    opt.step()  # descent direction +1 opposes the velocity -> 1.05 * 0.95
    assert opt.gains[0] == pytest.approx(1.05 * 0.95)


@pytest.mark.parametrize("make", [
    lambda ps: rb.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda ps: rb.optim.Adam(ps, lr=0.1),
    lambda ps: rb.optim.RMSprop(ps, lr=0.1, momentum=0.5),
    lambda ps: rb.optim.Rprop(ps),
])
def test_parameters_frozen_after_construction_do_not_move(make):
    net = XorNet(rng=0)
    opt = make(net.parameters())
    for _ in range(3):  # build up momentum/state first
        opt.zero_grad()
        xor_loss(net).backward()
        opt.step()
    net.hidden.freeze()
    frozen = [p.data.copy() for p in net.hidden.parameters()]
    free = net.out.W.data.copy()
    for _ in range(3):
        opt.zero_grad()
        xor_loss(net).backward()
        opt.step()
    for p, before in zip(net.hidden.parameters(), frozen):
        np.testing.assert_array_equal(p.data, before)
    assert not np.array_equal(net.out.W.data, free)


def test_parameters_frozen_before_construction_are_not_packed():
    net = XorNet(rng=0)
    net.hidden.freeze()
    opt = rb.optim.Adam(net.parameters(), lr=0.1)
    assert opt.vec.size == net.out.W.size + net.out.b.size
    before = net.hidden.W.data.copy()
    opt.zero_grad()
    xor_loss(net).backward()
    opt.step()
    np.testing.assert_array_equal(net.hidden.W.data, before)


def test_a_given_parameter_vector_is_used_as_is():
    net = XorNet(rng=0)
    vec = rb.nn.ParameterVector(net.parameters())
    opt = rb.optim.SGD(vec, lr=0.1)
    assert opt.vec is vec


@pytest.mark.parametrize("make", [
    lambda ps: rb.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: rb.optim.Adam(ps, lr=0.05),
    lambda ps: rb.optim.Adagrad(ps, lr=0.1),
    lambda ps: rb.optim.Adadelta(ps),
    lambda ps: rb.optim.RMSprop(ps, centered=True, momentum=0.3),
    lambda ps: rb.optim.Rprop(ps, variant="rprop+"),
    lambda ps: rb.optim.AdaptiveGains(ps, lr=0.1, momentum=0.5),
])
def test_state_dict_round_trip_continues_identically(make):
    def run(net, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            xor_loss(net).backward()
            opt.step()

    net_a = XorNet(rng=3)
    opt_a = make(net_a.parameters())
    run(net_a, opt_a, 5)
    state = opt_a.state_dict()
    for value in state.values():  # plain arrays and JSON-able values only
        assert value is None or isinstance(value, (np.ndarray, int, float, str, bool, list))
    net_b = XorNet(rng=99)
    net_b.load_state_dict(net_a.state_dict())
    opt_b = make(net_b.parameters())
    opt_b.load_state_dict(state)
    run(net_a, opt_a, 5)
    run(net_b, opt_b, 5)
    np.testing.assert_array_equal(opt_a.vec.data, opt_b.vec.data)


def test_load_state_dict_rejects_another_algorithm():
    w = rb.nn.Parameter(np.zeros(3))
    with pytest.raises(ValueError, match="the state is for Adam, not SGD"):
        rb.optim.SGD([w], lr=0.1).load_state_dict(rb.optim.Adam([w]).state_dict())
    other = rb.optim.Adam([rb.nn.Parameter(np.zeros(4))]).state_dict()
    with pytest.raises(ValueError, match="m has shape"):
        rb.optim.Adam([w]).load_state_dict(other)


def test_lr_is_writable_and_schedules_drive_it():
    w = rb.nn.Parameter(np.zeros(1))
    opt = rb.optim.SGD([w], lr=rb.optim.schedules.Step(1.0, step_size=2, gamma=0.5))
    seen = []
    for _ in range(5):
        w.grad[...] = 1.0
        opt.step()
        seen.append(opt.lr)
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert w.data[0] == pytest.approx(-3.25)
    opt.schedule = None
    opt.lr = 0.0
    opt.step()
    assert w.data[0] == pytest.approx(-3.25)


@pytest.mark.parametrize("call, match", [
    (lambda w: rb.optim.SGD(w, lr=-1), "SGD: lr must be finite and >= 0"),
    (lambda w: rb.optim.SGD(w, lr=0.1, momentum=1.5), r"SGD: momentum must be in \[0, 1\)"),
    (lambda w: rb.optim.SGD(w, lr=0.1, nesterov=True), "nesterov=True needs momentum > 0"),
    (lambda w: rb.optim.Adam(w, betas=0.9), "Adam: betas must be a pair"),
    (lambda w: rb.optim.Rprop(w, etas=(1.2, 0.5)), "Rprop: etas must be"),
    (lambda w: rb.optim.Rprop(w, variant="rprop"), "Rprop: variant must be one of"),
    (lambda w: rb.optim.AdaptiveGains(w, lr=0.1, gain_range=(2, 3)), "gain_range must be"),
    (lambda w: rb.optim.SGD([], lr=0.1), "got no trainable parameters"),
])
def test_bad_hyperparameters_are_rejected(call, match):
    w = [rb.nn.Parameter(np.zeros(2))]
    with pytest.raises(ValueError, match=match):
        call(w)


def test_params_must_be_parameters():
    with pytest.raises(TypeError, match="params must contain Parameters; got a numpy.ndarray"):
        rb.optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="SGD: lr must be a number"):
        rb.optim.SGD([rb.nn.Parameter(np.zeros(2))], lr="fast")


def test_notes_epsilon_inside_the_square_root(rng):
    """The notes' variants: eta m_hat / sqrt(v_hat + eps) and eta g / sqrt(G + eps)."""
    grads = [rng.normal(size=4) for _ in range(3)]
    w = rb.nn.Parameter(np.zeros(4))
    adam = rb.optim.Adam([w], lr=0.1, eps=0.5, eps_inside_sqrt=True)
    theta, m, v = np.zeros(4), np.zeros(4), np.zeros(4)
    for t, g in enumerate(grads, start=1):
        w.grad[...] = g
        adam.step()
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        theta -= 0.1 * (m / (1 - 0.9**t)) / np.sqrt(v / (1 - 0.999**t) + 0.5)
    np.testing.assert_allclose(w.data, theta, rtol=1e-12)
    w2 = rb.nn.Parameter(np.zeros(4))
    ada = rb.optim.Adagrad([w2], lr=0.1, eps=0.5, eps_inside_sqrt=True)
    theta, G = np.zeros(4), np.zeros(4)
    for g in grads:
        w2.grad[...] = g
        ada.step()
        G += g * g
        theta -= 0.1 * g / np.sqrt(G + 0.5)
    np.testing.assert_allclose(w2.data, theta, rtol=1e-12)
    np.testing.assert_allclose(ada.effective_lr(), 0.1 / np.sqrt(G + 0.5))


def test_a_second_optimizer_on_the_same_parameters_makes_the_first_refuse_to_step(rng):
    """Re-packing detaches the first vector: its step would silently move nothing."""
    net = rb.nn.Sequential(rb.nn.Dense(2, 3, rng=rng), rb.nn.Dense(3, 1, rng=rng))
    first = rb.optim.SGD(net.parameters(), lr=0.1)
    first.step()  # still packed: fine
    second = rb.optim.Adam(net.parameters())
    assert not first.vec.is_packed() and second.vec.is_packed()
    with pytest.raises(RuntimeError, match=r"SGD.step: parameter .* no longer views .* packed "
                                           r"again .* rebuild this optimizer"):
        first.step()
    second.step()  # the newest optimizer works
    annealer = rb.optim.BoltzmannAnnealer(net.parameters(), T0=1.0, rng=rng)
    with pytest.raises(RuntimeError, match="Adam.step: parameter"):
        second.step()
    annealer.step(lambda: net(rb.tensor(np.ones((1, 2)))).sum())
    rb.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(RuntimeError, match="BoltzmannAnnealer.step: parameter"):
        annealer.step(lambda: net(rb.tensor(np.ones((1, 2)))).sum())


def test_fine_tuning_a_subset_with_a_new_optimizer_trains_the_subset(rng):
    net = rb.nn.Sequential(rb.nn.Dense(2, 3, rng=rng), rb.nn.Dense(3, 1, rng=rng))
    rb.optim.SGD(net.parameters(), lr=0.1)
    head = rb.optim.SGD(net[-1].parameters(), lr=0.1)
    before = net[-1].W.data.copy()
    head.zero_grad()
    net(rb.tensor(np.ones((4, 2)))).sum().backward()
    head.step()
    assert not np.allclose(net[-1].W.data, before)


def test_astype_to_another_dtype_after_building_an_optimizer_is_caught(rng):
    net = rb.nn.Sequential(rb.nn.Dense(2, 3, rng=rng))
    opt = rb.optim.SGD(net.parameters(), lr=0.1)
    net.astype(net[0].W.dtype)  # the same dtype: nothing rebound
    opt.step()
    net.astype(np.float64)
    with pytest.raises(RuntimeError, match="rebound"):
        opt.step()


# -- audit a2: the edges around the rules ------------------------------------------------------

def _field(theta):
    return np.sin(3.0 * theta) + 0.3 * theta**3 - 0.5


def test_schedule_value_is_checked_at_every_step():
    w = rb.nn.Parameter(np.ones(1))
    opt = rb.optim.SGD([w], lr=lambda t: 0.1 - 0.04 * t)
    for _ in range(3):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    opt.zero_grad()
    (w * w).sum().backward()
    with pytest.raises(ValueError, match=r"SGD: lr \(schedule at t=3\) must be finite"):
        opt.step()
    opt = rb.optim.Adam([w], lr=lambda t: float("nan") if t == 1 else 0.1)
    opt.zero_grad()
    (w * w).sum().backward()
    opt.step()
    with pytest.raises(ValueError, match=r"Adam: lr \(schedule at t=1\)"):
        opt.step()


def test_load_state_dict_refuses_bad_hyperparameters():
    w = rb.nn.Parameter(np.ones(2))
    opt = rb.optim.Adam([w], lr=0.1)
    state = opt.state_dict()
    with pytest.raises(ValueError, match="Adam: lr must be finite"):
        opt.load_state_dict({**state, "lr": -3})
    with pytest.raises(ValueError, match=r"Adam: betas\[0\] must be in \[0, 1\)"):
        opt.load_state_dict({**state, "betas": [1.5, 2.0]})
    with pytest.raises(ValueError, match="Adam: t must be"):
        opt.load_state_dict({**state, "t": -5})
    assert opt.lr == 0.1 and opt.betas == (0.9, 0.999)


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_parameters_frozen_later_keep_their_state_like_torch(kind):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    inits = [rng.normal(size=(2, 3)), rng.normal(size=3)]
    ours = [rb.nn.Parameter(x.copy()) for x in inits]
    theirs = [torch.tensor(x.copy(), requires_grad=True) for x in inits]
    if kind == "sgd":
        opt = rb.optim.SGD(ours, lr=0.05, momentum=0.9, weight_decay=0.05)
        topt = torch.optim.SGD(theirs, lr=0.05, momentum=0.9, weight_decay=0.05)
    else:
        opt = rb.optim.Adam(ours, lr=0.05)
        topt = torch.optim.Adam(theirs, lr=0.05)
    for step in range(16):
        frozen = 4 <= step < 12
        ours[1].requires_grad = not frozen
        opt.zero_grad(set_to_none=False)
        topt.zero_grad()
        for i, (p, tp) in enumerate(zip(ours, theirs)):
            if i == 1 and frozen:
                continue  # no gradient reaches it; torch skips a parameter without one
            g = _field(p.data)
            p.grad[...] = g
            tp.grad = torch.tensor(g)
        if kind == "adam" and frozen:
            before = (opt.m[-3:].copy(), opt.v[-3:].copy())
        opt.step()
        topt.step()
        if kind == "adam" and frozen:
            np.testing.assert_array_equal(opt.m[-3:], before[0])
            np.testing.assert_array_equal(opt.v[-3:], before[1])
        if kind == "sgd" or step < 4:  # Adam's bias correction counts global steps (documented)
            for p, tp in zip(ours, theirs):
                np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_frozen_state_is_kept_by_step_part():
    a, b = rb.nn.Parameter(np.ones(3)), rb.nn.Parameter(np.ones(2))
    opt = rb.optim.SGD([a, b], lr=0.1, momentum=0.9)
    opt.zero_grad()
    ((a * a).sum() + (b * b).sum()).backward()
    opt.step()
    b.requires_grad = False
    velocity = opt.velocity.copy()
    opt.zero_grad()
    (a * a).sum().backward()
    opt.step_part(slice(0, 5))
    np.testing.assert_array_equal(opt.velocity[3:], velocity[3:])
    assert not np.array_equal(opt.velocity[:3], velocity[:3])


@pytest.mark.parametrize("make, match", [
    (lambda p: rb.optim.Rprop(p, step_sizes=("1e-6", 50)),
     r"Rprop: step_sizes\[0\] must be a number"),
    (lambda p: rb.optim.Rprop(p, etas=(0.5, None)), r"Rprop: etas\[1\] must be a number"),
    (lambda p: rb.optim.AdaptiveGains(p, lr=0.1, gain_range=(0.1, "10")),
     r"AdaptiveGains: gain_range\[1\] must be a number"),
])
def test_pair_arguments_name_the_element(make, match):
    with pytest.raises(TypeError, match=match):
        make([rb.nn.Parameter(np.ones(2))])


def test_adagrad_effective_lr_uses_the_next_steps_scheduled_rate():
    w = rb.nn.Parameter(np.array([1.0, 2.0]))
    opt = rb.optim.Adagrad([w], lr=rb.optim.schedules.Step(1.0, step_size=1, gamma=0.5))
    opt.zero_grad(set_to_none=False)
    w.grad[...] = [2.0, 0.0]
    opt.step()
    np.testing.assert_allclose(opt.effective_lr()[0], 0.5 / (2.0 + 1e-10))


def test_grad_set_to_none_by_hand_is_a_zero_gradient():
    a, b = rb.nn.Parameter(np.ones(2)), rb.nn.Parameter(np.ones(3))
    opt = rb.optim.SGD([a, b], lr=0.1)
    for _ in range(3):
        for p in (a, b):
            p.grad = None
        (a * a).sum().backward()  # b gets no gradient
        opt.step()
    np.testing.assert_allclose(a.data, 0.8**3)
    np.testing.assert_array_equal(b.data, 1.0)
    # a gradient assigned by hand after zero_grad(set_to_none=False) is used, as in torch
    opt.zero_grad(set_to_none=False)
    b.grad = np.array([1.0, 2.0, 3.0])
    opt.step()
    np.testing.assert_allclose(b.data, [0.9, 0.8, 0.7])
    b.grad = np.ones(4)
    with pytest.raises(ValueError, match="shape"):
        opt.step()


@pytest.mark.parametrize("make", [lambda p: rb.optim.Adam(p, lr=0.01),
                                  lambda p: rb.optim.SGD(p, lr=0.01, momentum=0.9)])
def test_float16_parameters_step_on_the_numpy_path(make):
    w = rb.nn.Parameter(np.ones(5000, dtype=np.float16))
    opt = make([w])
    opt.zero_grad()
    (w * w).sum().backward()
    opt.step()
    assert w.data.dtype == np.float16 and np.all(w.data < 1)
    # Adam keeps its moments in float32 for float16 weights (eps rounds to 0 in float16)
    state_dtype = np.float32 if opt.half_in_float32 else np.float16
    assert all(getattr(opt, n).dtype == state_dtype for n in opt.state_names
               if getattr(opt, n) is not None)


def test_writing_lr_under_a_schedule_raises_and_lr_scale_scales_it():
    w = rb.nn.Parameter(np.ones(1))
    opt = rb.optim.SGD([w], lr=rb.optim.schedules.Constant(0.1))
    with pytest.raises(ValueError, match="SGD: lr is driven by a schedule"):
        opt.lr = 0.01
    opt.lr_scale = 0.5
    opt.zero_grad()
    (w * w).sum().backward()
    opt.step()
    assert opt.lr == pytest.approx(0.05) and w.data[0] == pytest.approx(1 - 0.05 * 2)
    plain = rb.optim.SGD([rb.nn.Parameter(np.ones(1))], lr=0.1)
    with pytest.raises(ValueError, match="SGD: lr must be finite"):
        plain.lr = -1.0


def test_a_gradient_set_by_hand_to_a_non_array_is_named():
    w = rb.nn.Parameter(np.zeros(3))
    opt = rb.optim.SGD([w], lr=0.1)
    w.grad = "steep"
    with pytest.raises(TypeError, match="was given a gradient that is not an array of numbers"):
        opt.step()
    w.grad = [1.0, 2.0, 3.0]  # a list of numbers is a gradient
    opt.step()
    np.testing.assert_allclose(w.data, [-0.1, -0.2, -0.3])


def test_lr_scale_is_checked_and_gradient_noise_refuses_closure_optimizers():
    w = rb.nn.Parameter(np.zeros(3))
    opt = rb.optim.SGD([w], lr=lambda t: 0.1)
    for bad in (-1.0, float("nan"), "0.5"):
        with pytest.raises((ValueError, TypeError), match="lr_scale"):
            opt.lr_scale = bad
    opt.lr_scale = 0.5
    assert opt.lr_scale == 0.5
    with pytest.raises(TypeError, match="GradientNoise: LBFGS evaluates the objective itself"):
        rb.optim.GradientNoise(rb.optim.LBFGS([w]))
