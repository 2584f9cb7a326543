"""Fixes of the s9 optimizer audit (a2's findings 1-8, a3's finding 5): one test (or a few)
per finding."""

import numpy as np
import pytest

import rosenblatt as rb


def _param(values, dtype=np.float64):
    return rb.nn.Parameter(np.array(values, dtype=dtype))


def _rosenbrock(w):
    def closure():
        x, y = w[0], w[1]
        return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2
    return closure


# -- 1. LBFGS / ConjugateGradient: hyper-parameters written as attributes are checked -----------
@pytest.mark.parametrize("make, key, value, match", [
    (rb.optim.LBFGS, "line_search", "wolfe", "line_search must be 'strong_wolfe'"),
    (rb.optim.LBFGS, "max_iter", 0, "max_iter must be a positive integer"),
    (rb.optim.LBFGS, "max_iter", 2.5, "max_iter must be a positive integer"),
    (rb.optim.LBFGS, "max_eval", -1, "max_eval must be a positive integer"),
    (rb.optim.LBFGS, "history_size", 0, "history_size must be a positive integer"),
    (rb.optim.LBFGS, "tolerance_grad", -1.0, "tolerance_grad must be finite"),
    (rb.optim.ConjugateGradient, "method", "polak-ribiere", "method must be"),
    (rb.optim.ConjugateGradient, "restart", 0, "restart must be a positive integer"),
    (rb.optim.ConjugateGradient, "line_search", None, "line_search must be 'strong_wolfe'"),
])
def test_line_search_hyper_parameter_attributes_are_checked_at_the_next_step(make, key, value,
                                                                            match):
    w = _param([-1.2, 1.0])
    opt = make([w], max_iter=3)
    opt.step(_rosenbrock(w))
    setattr(opt, key, value)
    before = w.data.copy()
    with pytest.raises(ValueError, match=match):
        opt.step(_rosenbrock(w))
    np.testing.assert_array_equal(w.data, before)


def test_lbfgs_refuses_a_zero_lr_written_as_an_attribute():
    opt = rb.optim.LBFGS([_param([1.0, 2.0])])
    with pytest.raises(ValueError, match="LBFGS: lr must be finite and > 0"):
        opt.lr = 0


@pytest.mark.parametrize("size", [2, 20])
def test_lbfgs_history_size_written_as_an_attribute_resizes_the_memory(size):
    w = _param([-1.2, 1.0])
    opt = rb.optim.LBFGS([w], max_iter=5)
    opt.step(_rosenbrock(w))
    newest = [(opt.S[i].copy(), opt.Y[i].copy(), opt.rho[i]) for i in opt._order()][-size:]
    opt.history_size = size
    ref = rb.optim.LBFGS([_param(w.data.copy())], max_iter=5, history_size=size)
    opt.step(_rosenbrock(w))  # resized first: the newest pairs, oldest first, then 5 more
    assert opt.S.shape == opt.Y.shape == (size, 2) and opt.rho.shape == (size,)
    assert opt.pairs <= size
    if size == 20:  # nothing dropped: the first pairs are the ones kept
        for k, (s, y, rho) in enumerate(newest):
            np.testing.assert_array_equal(opt.S[k], s)
            np.testing.assert_array_equal(opt.Y[k], y)
            assert opt.rho[k] == rho
    ref.load_state_dict(opt.state_dict())  # its own state loads where history_size is size
    assert ref.pairs == opt.pairs and ref.head == opt.head
    assert np.isfinite(opt.loss)


# -- 2. LBFGS / CG: a closure that computes no gradient is refused ------------------------------
@pytest.mark.parametrize("make", [rb.optim.LBFGS, rb.optim.ConjugateGradient])
def test_a_closure_that_computes_no_gradient_is_refused(make):
    w = _param([3.0, -2.0])
    opt = make([w])
    with pytest.raises(TypeError, match="returned a float, not a Tensor.*return the loss"):
        opt.step(lambda: float(((w - 1.0) ** 2).sum().item()))

    def detached():
        with rb.no_grad():
            return ((w - 1.0) ** 2).sum()
    with pytest.raises(TypeError, match="does not require grad"):
        opt.step(detached)
    np.testing.assert_array_equal(w.data, [3.0, -2.0])

    def own_backward():  # a number after the closure's own backward: still fine
        loss = ((w - 1.0) ** 2).sum()
        loss.backward()
        return loss.item()
    opt.step(own_backward)
    np.testing.assert_allclose(w.data, [1.0, 1.0], atol=1e-6)


# -- 3. a non-leaf Tensor is refused, as torch.optim refuses it --------------------------------
@pytest.mark.parametrize("derive", [lambda w: w * 2.0, lambda w: w.reshape(1, 2)])
def test_an_optimizer_refuses_a_non_leaf_tensor(derive):
    w = _param([1.0, -2.0])
    with pytest.raises(ValueError, match=r"can't optimize a non-leaf Tensor \(params\[1\]"):
        rb.optim.SGD([_param([0.0]), derive(w)], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        rb.optim.Adam(derive(w))


# -- 4. step_part over a partition is step, also with a parameter whose grad is None ----------
_SGD_DECAY = lambda ps: rb.optim.SGD(ps, lr=0.1, weight_decay=0.5)  # noqa: E731
_SGD_MOMENTUM = lambda ps: rb.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01)  # noqa: E731
_ADAM = lambda ps: rb.optim.Adam(ps, lr=0.01, weight_decay=0.01)  # noqa: E731
_RPROP = lambda ps: rb.optim.Rprop(ps)  # noqa: E731


@pytest.mark.parametrize("make, reset_t", [
    (_SGD_DECAY, True), (_SGD_MOMENTUM, True), (_ADAM, True), (_RPROP, True),
    # without t set back each part is a step of its own: the rules that do not read t
    (_SGD_DECAY, False), (_RPROP, False),
])
def test_step_part_skips_a_parameter_without_gradient_in_every_part(make, reset_t):
    shapes = [(3,), (2, 2), (4,)]
    init = [np.random.default_rng(i).normal(size=s) for i, s in enumerate(shapes)]
    whole_p = [rb.nn.Parameter(x.copy()) for x in init]
    parts_p = [rb.nn.Parameter(x.copy()) for x in init]
    whole, parts = make(whole_p), make(parts_p)
    cuts = [slice(0, 5), slice(5, 11)]
    for step in range(4):
        whole.zero_grad()
        parts.zero_grad()
        for i, s in enumerate(shapes):
            if i == 1 and step in (0, 2):
                continue  # grad None: skipped
            g = np.random.default_rng(10 + step).normal(size=s)
            whole_p[i].grad, parts_p[i].grad = g.copy(), g.copy()
        whole.step()
        t = parts.t
        for cut in cuts:
            if reset_t:
                parts.t = t
            parts.step_part(cut)
        parts.t = whole.t
        assert parts_p[1].grad is None or step not in (0, 2)
    for a, b in zip(whole_p, parts_p):
        np.testing.assert_array_equal(a.data, b.data)


# -- 5. an annealer's state is refused by an annealer with the other schedule -----------------
@pytest.mark.parametrize("cls, other", [(rb.optim.BoltzmannAnnealer, "log"),
                                        (rb.optim.CauchyAnnealer, "fast")])
def test_annealer_state_of_the_other_schedule_is_refused(cls, other):
    def run(schedule):
        w = _param([2.0, -1.0, 0.5])
        ann = cls([w], rng=0, schedule=schedule, block=3)
        for _ in range(7):
            ann.step(lambda: float(((w.data - 1) ** 2).sum()))
        return ann
    heat, plain = run("specific_heat"), run(other)
    with pytest.raises(ValueError, match=f"state is for schedule='specific_heat'.*{other}"):
        run(other).load_state_dict(heat.state_dict())
    with pytest.raises(ValueError, match=f"state is for schedule='{other}'.*specific_heat"):
        run("specific_heat").load_state_dict(plain.state_dict())
    for ann in (heat, plain):  # its own schedule's state loads
        again = run(ann.schedule).load_state_dict(ann.state_dict())
        assert again.temperature() == ann.temperature()


# -- 6. GradientNoise and the annealers: hyper-parameters written as attributes are checked -----
@pytest.mark.parametrize("key, value", [("eta", -0.01), ("gamma", -3.0), ("eta", np.nan)])
def test_gradient_noise_refuses_a_bad_attribute(key, value):
    noise = rb.optim.GradientNoise(rb.optim.SGD([_param([0.0, 0.0])], lr=1.0), rng=0)
    with pytest.raises(ValueError, match=f"GradientNoise: {key} must be finite and >= 0"):
        setattr(noise, key, value)
    noise.eta = 0.04  # a good value is taken
    assert noise.sigma() == pytest.approx(0.2)


@pytest.mark.parametrize("cls, key, value, match", [
    (rb.optim.BoltzmannAnnealer, "k", -1.0, "k must be finite and > 0"),
    (rb.optim.BoltzmannAnnealer, "T0", -1.0, "T0 must be finite and > 0"),
    (rb.optim.BoltzmannAnnealer, "per_weight", "yes", "per_weight"),
    (rb.optim.BoltzmannAnnealer, "schedule", "specific_heat", "schedule cannot change"),
    (rb.optim.CauchyAnnealer, "T0", 0.0, "T0 must be finite and > 0"),
    (rb.optim.CauchyAnnealer, "rho", -1.0, "rho must be finite and > 0"),
    (rb.optim.CauchyAnnealer, "backprop_weight", 2.0, r"backprop_weight must be in \[0, 1\]"),
    (rb.optim.CauchyAnnealer, "momentum", 1.0, "momentum"),
    (rb.optim.CauchyAnnealer, "schedule", "fastest", "schedule must be"),
])
def test_annealer_attributes_are_checked_at_the_next_step(cls, key, value, match):
    w = _param([2.0, -1.0])
    ann = cls([w], rng=0)
    closure = lambda: float(((w.data - 1) ** 2).sum())  # noqa: E731
    ann.step(closure)
    setattr(ann, key, value)
    before, t = w.data.copy(), ann.t
    with pytest.raises((ValueError, TypeError), match=match):
        ann.step(closure)
    np.testing.assert_array_equal(w.data, before)
    assert ann.t == t


def test_annealer_good_attribute_is_taken():
    w = _param([2.0, -1.0])
    ann = rb.optim.CauchyAnnealer([w], rng=0)
    closure = lambda: float(((w.data - 1) ** 2).sum())  # noqa: E731
    ann.step(closure)
    ann.T0, ann.rho = 2, np.float64(0.5)
    ann.step(closure)
    assert ann.T0 == 2.0 and type(ann.T0) is float and ann.rho == 0.5


# -- 7. a pair written as a NumPy array after the first step --------------------------------
@pytest.mark.parametrize("make, key, pair", [
    (lambda ps: rb.optim.Adam(ps, lr=0.1), "betas", (0.8, 0.99)),
    (lambda ps: rb.optim.AdamW(ps, lr=0.1), "betas", (0.8, 0.99)),
    (lambda ps: rb.optim.Rprop(ps), "etas", (0.4, 1.3)),
    (lambda ps: rb.optim.AdaptiveGains(ps, lr=0.1), "gain_range", (0.2, 5.0)),
])
def test_a_pair_written_as_an_array_after_a_step_is_taken(make, key, pair):
    w = _param([1.0, -2.0])
    opt = make([w])
    for k in range(3):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
        if k == 0:
            setattr(opt, key, np.array(pair))
    assert getattr(opt, key) == pair and isinstance(getattr(opt, key), tuple)
    setattr(opt, key, np.array([2.0, 0.5]))  # still checked
    with pytest.raises(ValueError, match=key):
        opt.step()


# -- 8. parameter groups, dicts, arrays and torch tensors as params: clear messages ------------
def test_params_that_are_not_parameters_are_refused_with_clear_messages():
    w = _param([1.0])
    with pytest.raises(TypeError, match=r"params\[0\] is a dict: parameter groups .* one "
                                        r"optimizer per group"):
        rb.optim.SGD([{"params": [w]}, {"params": [w], "lr": 0.01}], lr=0.1)
    with pytest.raises(TypeError, match="got a dict: parameter groups"):
        rb.optim.SGD({"params": [w]}, lr=0.1)
    with pytest.raises(TypeError, match=r"got a numpy.ndarray \(wrap an array in "
                                        r"rb.nn.Parameter\)"):
        rb.optim.SGD(np.zeros(3), lr=0.1)
    with pytest.raises(TypeError, match=r"got a numpy.ndarray \(params\[1\]\)"):
        rb.optim.SGD([w, np.zeros(3)], lr=0.1)
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="got a torch.Tensor"):
        rb.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(TypeError, match="got a torch.Tensor"):
        rb.optim.SGD(torch.zeros(2, requires_grad=True), lr=0.1)


# -- a3 5. Adam's (and Adagrad's) step count is each parameter's own, as torch's ------------
_SHAPES = [(3,), (2, 2), (4,)]
_SKIPS = {1: {0, 1, 4}, 2: {3}}  # parameter -> the steps where its grad is None


def _run_skipping(make, steps=7, dtype=np.float64, parts=None):
    ps = [rb.nn.Parameter(np.random.default_rng(i).normal(size=s).astype(dtype))
          for i, s in enumerate(_SHAPES)]
    opt = make(ps)
    for step in range(steps):
        opt.zero_grad()
        for i, s in enumerate(_SHAPES):
            if step not in _SKIPS.get(i, ()):
                ps[i].grad = np.random.default_rng(100 + step).normal(size=s).astype(dtype)
        if parts is None:
            opt.step()
        else:
            t = opt.t
            for part in parts:
                opt.t = t
                opt.step_part(part)
    return ps, opt


def _adam_by_hand(lr=0.05, betas=(0.9, 0.999), eps=1e-8, steps=7):
    """Adam per parameter, each with its own count of the steps it took (torch's rule)."""
    out = []
    for i, s in enumerate(_SHAPES):
        theta = np.random.default_rng(i).normal(size=s)
        m, v, n = np.zeros(s), np.zeros(s), 0
        for step in range(steps):
            if step in _SKIPS.get(i, ()):
                continue
            g = np.random.default_rng(100 + step).normal(size=s)
            n += 1
            m = betas[0] * m + (1 - betas[0]) * g
            v = betas[1] * v + (1 - betas[1]) * g * g
            theta = theta - lr * (m / (1 - betas[0] ** n)) / (
                np.sqrt(v / (1 - betas[1] ** n)) + eps)
        out.append(theta)
    return out


def test_adam_bias_correction_counts_each_parameters_own_steps():
    ps, opt = _run_skipping(lambda p: rb.optim.Adam(p, lr=0.05))
    for p, expected in zip(ps, _adam_by_hand()):
        np.testing.assert_allclose(p.data, expected, rtol=1e-13, atol=1e-15)
    assert list(opt.param_steps) == [7, 4, 6]


@pytest.mark.parametrize("make, torch_make", [
    (lambda p: rb.optim.Adam(p, lr=0.05, weight_decay=0.1, amsgrad=True),
     lambda t, p: t.optim.Adam(p, lr=0.05, weight_decay=0.1, amsgrad=True)),
    (lambda p: rb.optim.AdamW(p, lr=0.05), lambda t, p: t.optim.AdamW(p, lr=0.05)),
    (lambda p: rb.optim.Adagrad(p, lr=0.1, lr_decay=0.3),
     lambda t, p: t.optim.Adagrad(p, lr=0.1, lr_decay=0.3)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_skipped_steps_follow_torch(make, torch_make, dtype):
    torch = pytest.importorskip("torch")
    ps, _ = _run_skipping(make, dtype=dtype)
    tp = [torch.tensor(np.random.default_rng(i).normal(size=s).astype(dtype),
                       requires_grad=True) for i, s in enumerate(_SHAPES)]
    opt = torch_make(torch, tp)
    for step in range(7):
        opt.zero_grad(set_to_none=True)
        for i, s in enumerate(_SHAPES):
            if step not in _SKIPS.get(i, ()):
                tp[i].grad = torch.tensor(
                    np.random.default_rng(100 + step).normal(size=s).astype(dtype))
        opt.step()
    tol = 1e-5 if dtype == np.float32 else 1e-13
    for p, q in zip(ps, tp):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("make", [lambda p: rb.optim.Adam(p, lr=0.05, amsgrad=True),
                                  lambda p: rb.optim.Adagrad(p, lr=0.1, lr_decay=0.3)])
def test_per_parameter_counts_step_part_and_float16(make):
    whole, _ = _run_skipping(make)
    split, opt = _run_skipping(make, parts=[slice(0, 5), slice(5, 9), slice(9, 11)])
    for a, b in zip(whole, split):
        np.testing.assert_array_equal(a.data, b.data)
    assert list(opt.param_steps) == [7, 4, 6]
    half, _ = _run_skipping(make, dtype=np.float16)  # steps in float32, counted once a step
    for a, b in zip(whole, half):
        np.testing.assert_allclose(b.data.astype(np.float64), a.data, atol=5e-3)


def test_per_parameter_counts_resume_and_old_states_load():
    make = lambda p: rb.optim.Adam(p, lr=0.05)  # noqa: E731
    whole, _ = _run_skipping(make, steps=7)
    ps, opt = _run_skipping(make, steps=4)
    state = opt.state_dict()
    assert state["steps"] == [4, 2, 3]
    fresh = make([rb.nn.Parameter(p.data.copy()) for p in ps]).load_state_dict(state)
    np.testing.assert_array_equal(fresh.param_steps, [4, 2, 3])
    for step in range(4, 7):  # the rest of the run, resumed
        fresh.zero_grad()
        for i, s in enumerate(_SHAPES):
            if step not in _SKIPS.get(i, ()):
                fresh.params[i].grad = np.random.default_rng(100 + step).normal(size=s)
        fresh.step()
    for a, b in zip(whole, fresh.params):
        np.testing.assert_array_equal(a.data, b.data)
    old = dict(state)
    del old["steps"]  # a state written before the counts: every parameter took t steps
    assert make(ps).load_state_dict(old).param_steps is None
    with pytest.raises(ValueError, match=r"steps must be 3 integers in \[0, t=4\]"):
        make(ps).load_state_dict({**state, "steps": [5, 2, 3]})


def test_every_parameter_stepped_keeps_one_count():
    w, b = _param([1.0, -2.0]), _param([0.5])
    opt = rb.optim.Adam([w, b], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        ((w * w).sum() + (b * b).sum()).backward()
        opt.step()
    assert opt.param_steps is None and opt.state_dict()["steps"] == [3, 3]
