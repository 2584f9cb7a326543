"""Fixes of the s7 optimizer audit (a2, and a6's finding 3): one test (or a few) per finding."""

import math

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff import _kernels


def _param(values, dtype=np.float64):
    return rb.nn.Parameter(np.array(values, dtype=dtype))


# -- 1. centered RMSprop: the variance is clamped at 0 before the root -------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_centered_rmsprop_stays_finite_under_a_constant_gradient(dtype):
    w = rb.nn.Parameter(np.zeros(50, dtype=dtype))
    g = np.linspace(0.1, 10.0, 50).astype(dtype)
    opt = rb.optim.RMSprop([w], lr=1e-3, rho=0.9, centered=True)
    with np.errstate(invalid="raise"):
        for _ in range(400):  # rho^t falls below the dtype's epsilon: E[g^2] - E[g]^2 < 0
            w.grad = g
            opt.step()
    assert np.isfinite(w.data).all()


# -- 2. a parameter that gets no gradient is skipped (as torch.optim) --------------------------
_MAKERS = {
    "sgd_momentum": lambda ps: rb.optim.SGD(ps, lr=0.1, momentum=0.9),
    "sgd_decay": lambda ps: rb.optim.SGD(ps, lr=0.1, weight_decay=0.1),
    "sgd_dampening": lambda ps: rb.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.5),
    "adam": lambda ps: rb.optim.Adam(ps, lr=0.1),
    "adamw": lambda ps: rb.optim.AdamW(ps, lr=0.1),
    "rmsprop": lambda ps: rb.optim.RMSprop(ps, lr=0.01, momentum=0.9, centered=True),
    "adagrad": lambda ps: rb.optim.Adagrad(ps, lr=0.1, weight_decay=0.1),
    "adadelta": lambda ps: rb.optim.Adadelta(ps, lr=1.0, weight_decay=0.1),
}


@pytest.mark.parametrize("name", sorted(_MAKERS))
@pytest.mark.parametrize("size", [3, 5000])  # 5000: the compiled passes (SGD, Adam)
def test_a_parameter_without_a_gradient_is_skipped(name, size):
    a, b = _param(np.linspace(1, 2, size)), _param([1.5, -0.5])
    opt = _MAKERS[name]([a, b])
    for k in range(6):
        opt.zero_grad()
        loss = (a * a).sum() + ((b * b).sum() if k < 2 else 0.0)  # b unused after step 2
        loss.backward()
        if k == 2:
            b_then = b.data.copy()
            state = {n: getattr(opt, n)[size:].copy() for n in opt.state_names
                     if getattr(opt, n) is not None}
        opt.step()
    np.testing.assert_array_equal(b.data, b_then)  # no momentum, moments or decay moved it
    for n, values in state.items():
        np.testing.assert_array_equal(getattr(opt, n)[size:], values)
    assert b.grad is not None and not b.grad.any()  # vec.grad still reads zeros there


@pytest.mark.parametrize("name", ["sgd_momentum", "sgd_dampening", "adam", "rmsprop"])
def test_none_gradients_follow_torch_step_for_step(name):
    torch = pytest.importorskip("torch")
    torch_makers = {
        "sgd_momentum": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
        "sgd_dampening": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.5),
        "adam": lambda ps: torch.optim.Adam(ps, lr=0.1),
        "rmsprop": lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, momentum=0.9,
                                                  centered=True),
    }
    a0, b0 = np.array([1.0, -2.0, 0.5]), np.array([1.5, -0.5])
    a, b = _param(a0), _param(b0)
    opt = _MAKERS[name]([a, b])
    ta, tb = (torch.nn.Parameter(torch.tensor(v)) for v in (a0, b0))
    topt = torch_makers[name]([ta, tb])
    uses_b = [False, True, True, False, False, True, False]  # b's buffer begins at step 1
    for k, use in enumerate(uses_b):
        opt.zero_grad()
        topt.zero_grad()
        ((a * a * (k + 1)).sum() + ((b * b * b).sum() if use else 0.0)).backward()
        tl = (ta * ta * (k + 1)).sum() + ((tb * tb * tb).sum() if use else 0.0)
        tl.backward()
        opt.step()
        topt.step()
    # Adam's bias correction counts the optimizer's steps, shared (documented): b differs
    np.testing.assert_allclose(a.data, ta.detach().numpy(), rtol=1e-12)
    if name != "adam":
        np.testing.assert_allclose(b.data, tb.detach().numpy(), rtol=1e-12)


def test_clipping_and_gradient_noise_keep_a_missing_gradient_missing():
    for wrap in ("clip_norm", "clip_value", "noise"):
        a, b = _param([3.0, 4.0]), _param([1.0])
        sgd = rb.optim.SGD([a, b], lr=0.1, momentum=0.9)
        opt = rb.optim.GradientNoise(sgd, eta=1.0, rng=0) if wrap == "noise" else sgd
        for _ in range(3):
            opt.zero_grad()
            (a * a).sum().backward()
            if wrap == "clip_norm":
                rb.optim.clip_grad_norm(opt, 1.0)
            elif wrap == "clip_value":
                rb.optim.clip_grad_value(opt, 0.5)
            assert b.grad is None
            opt.step()
        assert b.data[0] == 1.0, wrap


# -- 3. float16 parameters: Adam, RMSprop, Adagrad step in float32 ------------------------------
@pytest.mark.parametrize("make", [
    lambda ps: rb.optim.Adam(ps), lambda ps: rb.optim.AdamW(ps),
    lambda ps: rb.optim.RMSprop(ps), lambda ps: rb.optim.Adagrad(ps),
    lambda ps: rb.optim.RMSprop(ps, centered=True, momentum=0.5),
    lambda ps: rb.optim.Adam(ps, amsgrad=True, eps_inside_sqrt=True)])
def test_float16_zero_gradient_weights_stay_put(make):
    w = _param([1.0, 2.0], np.float16)
    opt = make([w])
    with np.errstate(invalid="raise", divide="raise"):
        for _ in range(3):
            w.grad = np.array([0.0, 0.5], dtype=np.float16)
            opt.step()
    assert w.data.dtype == np.float16
    assert w.data[0] == np.float16(1.0) * (1 - 3 * 1e-3 * 1e-2 * isinstance(opt, rb.optim.AdamW))
    assert np.isfinite(w.data).all() and w.data[1] < 2.0


def test_float16_adam_follows_float32_adam_and_keeps_float32_state():
    rng = np.random.default_rng(0)
    w16 = rb.nn.Parameter(rng.standard_normal(8).astype(np.float16))
    w32 = rb.nn.Parameter(w16.data.astype(np.float32))
    o16, o32 = rb.optim.Adam([w16], lr=0.01), rb.optim.Adam([w32], lr=0.01)
    keep = np.empty_like(w16.data)
    for k in range(5):
        g = rng.standard_normal(8).astype(np.float16) * (k % 2)  # zero every other step
        w16.grad, w32.grad = g, g.astype(np.float32)
        before = w16.data.copy()
        o16.step(keep=keep)
        np.testing.assert_array_equal(keep, before)
        o32.step()
        w32.data[...] = w16.data  # the same float16 weights each step
    assert o16.m.dtype == o16.v.dtype == np.float32
    np.testing.assert_allclose(o16.v, o32.v, rtol=1e-6)
    resumed = rb.optim.Adam([rb.nn.Parameter(w16.data.copy())], lr=0.01)
    resumed.load_state_dict(o16.state_dict())
    np.testing.assert_array_equal(resumed.v, o16.v)


def test_fit_trains_a_float16_model_with_adam():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 4)).astype(np.float16)
    y = (X[:, :1] > 0).astype(np.float16)
    net = rb.nn.Sequential(rb.nn.Dense(4, 6, rng=rng), rb.nn.ReLU(),
                           rb.nn.Dense(6, 1, rng=rng)).astype(np.float16)
    history = rb.fit(net, X, y, loss="mse", optimizer=rb.optim.Adam(net.parameters(), lr=0.01),
                     epochs=3, batch_size=8, rng=0)
    assert all(math.isfinite(v) for v in history["loss"])
    assert all(np.isfinite(p.data).all() for p in net.parameters())


def test_float32_and_float64_adam_keep_their_state_dtype():
    for dtype in (np.float32, np.float64):
        opt = rb.optim.Adagrad([_param([1.0], dtype)])
        assert opt.sum_sq.dtype == dtype


# -- 4. the compiled Adam pass divides by the moments before flushing them ---------------------
@pytest.mark.parametrize("dtype, g", [(np.float32, 1e-21), (np.float64, 1e-160)])
def test_compiled_adam_with_eps_zero_and_a_tiny_gradient_stays_finite(dtype, g):
    kernel = _kernels.get("adam_update")
    if kernel is None:
        pytest.skip("no compiled kernels (the fast extra)")
    w = rb.nn.Parameter(np.ones(4, dtype=dtype))
    ref = np.ones(4, dtype=dtype)
    opt = rb.optim.Adam([w], lr=0.01, eps=0.0)
    m, v = np.zeros_like(ref), np.zeros_like(ref)
    for t in (1, 2):
        w.grad = np.full(4, g, dtype=dtype)
        opt.step()
        # the NumPy passes of the same rule (amsgrad off, eps outside: forced by hand)
        m *= 0.9
        m += dtype(g) * dtype(0.1)
        v *= 0.999
        v += dtype(g) * dtype(g) * dtype(1 - 0.999)
        s = math.sqrt(1 - 0.999**t)
        ref -= m / (np.sqrt(v) + 0.0) * (0.01 * s / (1 - 0.9**t))
    assert np.isfinite(w.data).all()
    np.testing.assert_allclose(w.data, ref, rtol=1e-5)


def test_compiled_adam_flushes_v_only_with_m():
    kernel = _kernels.get("adam_update")
    if kernel is None:
        pytest.skip("no compiled kernels (the fast extra)")
    theta = np.ones(3, np.float32)
    m, v = np.zeros(3, np.float32), np.zeros(3, np.float32)
    grad = np.array([1e-21, 0.0, 1.0], np.float32)
    f = np.float32
    kernel(theta, grad, m, v, f(0.9), f(0.999), f(0.01), f(0.0), f(0.1), f(0.001), theta, False)
    assert m[0] > 0 and v[0] > 0  # m normal: v kept (subnormal), so m / sqrt(v) stays finite
    assert m[1] == 0 and v[1] == 0
    grad[:] = 0
    kernel(theta, grad, m, v, f(0.9), f(0.999), f(0.01), f(0.0), f(0.1), f(0.001), theta, False)
    assert np.isfinite(theta[[0, 2]]).all()  # theta[1]: 0 / 0 with eps = 0, as NumPy and torch


# -- 5, 6. the annealers move neither frozen parameters nor inert weights, squash included ----
@pytest.mark.parametrize("make", [
    lambda ps: rb.optim.BoltzmannAnnealer(ps, rng=0),
    lambda ps: rb.optim.CauchyAnnealer(ps, rng=0, squash=2.0),
    lambda ps: rb.optim.CauchyAnnealer(ps, rng=0, per_weight=True, squash=2.0),
    lambda ps: rb.optim.CauchyAnnealer(ps, rng=0, backprop_weight=0.5)])
def test_annealers_leave_parameters_frozen_after_construction_alone(make):
    a, b = _param([2.0, -1.0]), _param([3.5])
    ann = make([a, b])
    b.requires_grad = False

    def closure():
        return ((a - 1.0) ** 2).sum() + ((b - 1.0) ** 2).sum()
    for _ in range(20):
        ann.step(closure)
    assert b.data[0] == 3.5
    assert not np.array_equal(a.data, [2.0, -1.0])


def test_cauchy_squash_spares_a_padding_row():
    emb = rb.nn.Embedding(3, 3, padding_idx=1, rng=np.random.default_rng(0))
    emb.W.data[1] = [2.0, -3.0, 1.5]
    ann = rb.optim.CauchyAnnealer(emb.parameters(), rng=0, squash=1.0, model=emb)
    for _ in range(10):
        ann.step(lambda: float((emb.W.data ** 2).sum()))
    np.testing.assert_array_equal(emb.W.data[1], [2.0, -3.0, 1.5])
    assert np.abs(np.delete(emb.W.data, 1, axis=0)).max() <= 1.0


# -- 7. CauchyAnnealer(backprop_weight > 0) takes a closure that runs its own backward -------
def test_cauchy_backprop_takes_a_closure_that_differentiates_itself():
    def run(own_backward):
        w = _param([3.0, -2.0])
        ann = rb.optim.CauchyAnnealer([w], rng=0, backprop_weight=1.0, lr=0.1)

        def closure():
            ann.zero_grad()
            loss = ((w - 1.0) ** 2).sum()
            if own_backward:
                loss.backward()
            return loss
        for _ in range(3):
            ann.step(closure)
        return w.data.copy()
    results = [run(True), run(False)]
    np.testing.assert_allclose(results[0], results[1])
    np.testing.assert_allclose(results[0], 1 + np.array([2.0, -3.0]) * 0.8**3)


def test_cauchy_backprop_still_refuses_a_plain_number_without_gradient():
    w = _param([1.0])
    ann = rb.optim.CauchyAnnealer([w], rng=0, backprop_weight=0.5)
    with pytest.raises(TypeError, match="closure must return a Tensor"):
        ann.step(lambda: 1.0)


# -- 8. step(closure), PyTorch's convention ----------------------------------------------------
def test_step_takes_a_closure_and_returns_its_value():
    def closure_for(opt, w):
        def closure():
            opt.zero_grad()
            loss = (w * w).sum()
            loss.backward()
            return loss
        return closure
    for make in (lambda ps: rb.optim.SGD(ps, lr=0.1),
                 lambda ps: rb.optim.GradientNoise(rb.optim.Adam(ps), eta=0)):
        w = _param([1.0, -2.0])
        opt = make([w])
        start = w.data.copy()
        loss = opt.step(closure_for(opt, w))
        assert float(loss.item()) == pytest.approx(float((start**2).sum()))
        assert not np.array_equal(w.data, start)
    w = _param([1.0, -2.0])
    assert rb.optim.SGD([w], lr=0.1).step() is None
    with pytest.raises(TypeError, match="SGD.step: closure must be a function.*keep="):
        rb.optim.SGD([w], lr=0.1).step(np.zeros(2))


# -- 9. hyper-parameters written as attributes are checked at the next step -------------------
@pytest.mark.parametrize("make, key, value, match", [
    (lambda ps: rb.optim.SGD(ps, lr=0.1), "momentum", 1.5, "SGD: momentum"),
    (lambda ps: rb.optim.SGD(ps, lr=0.1), "weight_decay", -5, "SGD: weight_decay"),
    (lambda ps: rb.optim.SGD(ps, lr=0.1), "nesterov", True, "nesterov=True needs momentum"),
    (lambda ps: rb.optim.Adam(ps), "betas", (0.9, 1.0), r"Adam: betas\[1\]"),
    (lambda ps: rb.optim.Adam(ps), "betas", (1.0, 0.999), r"Adam: betas\[0\]"),
    (lambda ps: rb.optim.RMSprop(ps), "eps", -1e-3, "RMSprop: eps"),
    (lambda ps: rb.optim.Adadelta(ps), "rho", 1.5, "Adadelta: rho"),
    (lambda ps: rb.optim.Rprop(ps), "etas", (1.2, 0.5), "Rprop: etas"),
    (lambda ps: rb.optim.LBFGS(ps), "max_iter", -1, "max_iter")])
def test_a_bad_hyper_parameter_attribute_is_refused_at_the_next_step(make, key, value, match):
    w = _param([1.0, -2.0])
    opt = make([w])
    setattr(opt, key, value)
    w.grad = np.array([0.5, 0.5])
    with pytest.raises((ValueError, TypeError), match=match):
        if getattr(opt, "needs_closure", False):
            opt.step(lambda: (w * w).sum())
        else:
            opt.step()
    np.testing.assert_array_equal(w.data, [1.0, -2.0])  # nothing moved


def test_a_good_hyper_parameter_attribute_is_taken_in_its_canonical_form():
    w = _param([1.0])
    opt = rb.optim.Adam([w])
    opt.betas = [0.5, 0.9]
    w.grad = np.array([1.0])
    opt.step()
    assert opt.betas == (0.5, 0.9)
    opt.step()  # checked once: nothing changed since


# -- 10. load_state_dict refuses what state_dict() did not write ------------------------------
def test_load_state_dict_refuses_foreign_empty_and_misspelt_states():
    w = _param([1.0, 2.0])
    opt = rb.optim.Adam([w])
    good = opt.state_dict()
    for bad, match in [({}, "no 't'"),
                       ({"state": {}, "param_groups": []}, "PyTorch's state_dict"),
                       ({**good, "M": good["m"]}, r"unknown keys \['M'\]"),
                       ({"0.W": np.ones(2), "t": 1}, r"unknown keys \['0.W'\]")]:
        with pytest.raises(ValueError, match=match):
            opt.load_state_dict(bad)
    opt.load_state_dict({k: v for k, v in good.items() if k not in opt.hyperparameters})


@pytest.mark.parametrize("make", [
    lambda ps: rb.optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: rb.optim.LBFGS(ps),
    lambda ps: rb.optim.ConjugateGradient(ps), lambda ps: rb.optim.Rprop(ps),
    lambda ps: rb.optim.AdaptiveGains(ps, lr=0.1), lambda ps: rb.optim.Adagrad(ps),
    lambda ps: rb.optim.CauchyAnnealer(ps, rng=0), lambda ps: rb.optim.BoltzmannAnnealer(ps)])
def test_every_optimizer_loads_its_own_state_and_refuses_an_empty_one(make):
    opt = make([_param([1.0, 2.0])])
    opt.load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="load_state_dict"):
        opt.load_state_dict({})
    with pytest.raises(ValueError, match="unknown keys"):
        opt.load_state_dict({**opt.state_dict(), "typo": 1})


# -- 11. pairs given as NumPy arrays ------------------------------------------------------------
def test_pairs_may_be_numpy_arrays():
    w = [_param([1.0])]
    assert rb.optim.Adam(w, betas=np.array([0.9, 0.99])).betas == (0.9, 0.99)
    assert rb.optim.Rprop(w, etas=np.array([0.5, 1.2]),
                          step_sizes=np.array([1e-6, 50.0])).etas == (0.5, 1.2)
    assert rb.optim.AdaptiveGains(w, lr=0.1, gain_range=np.array([0.1, 10.0])).gain_range \
        == (0.1, 10.0)
    with pytest.raises(ValueError, match=r"betas must be a pair of numbers .*got ndarray"):
        rb.optim.Adam(w, betas=np.array([0.9, 0.99, 0.5]))


# -- 12. Adam's options beyond PyTorch's positional ones are keyword-only -----------------------
def test_adam_sixth_positional_argument_is_refused_not_misread():
    w = [_param([1.0])]
    with pytest.raises(TypeError):
        rb.optim.Adam(w, 1e-3, (0.9, 0.999), 1e-8, 0.0, True)  # torch: amsgrad
    assert rb.optim.AdamW(w, 1e-3, (0.9, 0.999), 1e-8, 0.0, True).amsgrad  # as torch's AdamW
    assert rb.optim.Adam(w, amsgrad=True).amsgrad
    assert rb.optim.AdamW(w, eps_inside_sqrt=True).eps_inside_sqrt


# -- 13. the annealing docstring's acceptance probability at the first step --------------------
def test_the_first_step_keeps_a_one_percent_worsening_as_documented():
    for cls, expected in ((rb.optim.CauchyAnnealer, math.exp(-1)),
                          (rb.optim.BoltzmannAnnealer, 0.5)):
        ann = cls([_param([1.0])], T0=1.0, rng=0)
        ann._start(lambda: 13.0)
        p = math.exp(-0.13 / (ann.k * ann.temperature()))
        assert p == pytest.approx(expected)
        assert f"1/{'e' if expected < 0.4 else '2'}" in rb.optim.annealing.__doc__
