"""L-BFGS and nonlinear conjugate gradient: the line search, the two-loop recursion, PyTorch's
and SciPy's results, training through rb.fit, and the notes' claim that a contractive
autoencoder's deterministic gradient lets second-order optimizers be used."""

import math

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff.tensor import no_grad
from rosenblatt.nn.losses import binary_cross_entropy_with_logits
from rosenblatt.optim.conjugate_gradient import METHODS, conjugate_beta
from rosenblatt.optim.lbfgs import two_loop
from rosenblatt.optim.line_search import Evaluations, strong_wolfe

X0 = np.array([-1.2, 1.0, -1.2, 1.0, 0.5])


def rosenbrock(w):
    x, y = w[:-1], w[1:]
    return (100.0 * (y - x * x) ** 2 + (1.0 - x) ** 2).sum()


def logistic_problem(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((200, 5))
    y = (X @ rng.standard_normal(5) + 0.3 * rng.standard_normal(200) > 0).astype(float)
    return X, y, 0.1 * rng.standard_normal(5)


def logistic_objective(w, X, y):
    return binary_cross_entropy_with_logits(rb.tensor(X) @ w, rb.tensor(y)) + 0.01 * (w * w).sum()


# -- the pieces ------------------------------------------------------------------------------
def test_strong_wolfe_step_satisfies_both_conditions():
    theta = np.array([0.0])
    d = np.array([1.0])

    def evaluate():  # f(x) = (x - 3)^2 + sin(3x), with several local bends along the line
        x = theta[0]
        slope = 2.0 * (x - 3.0) + 3.0 * math.cos(3.0 * x)
        return (x - 3.0) ** 2 + math.sin(3.0 * x), np.array([slope])

    f0, g0 = evaluate()
    slope0 = float(g0 @ d)
    for a1, c2 in [(0.01, 0.9), (10.0, 0.9), (1.0, 0.1), (100.0, 0.1)]:
        theta[0] = 0.0
        phi = Evaluations(theta, d, evaluate)
        a, f, g, found = strong_wolfe(phi, f0, g0.copy(), slope0, a1, c2=c2)
        assert found and theta[0] == pytest.approx(a)
        assert f <= f0 + 1e-4 * a * slope0
        assert abs(float(g @ d)) <= c2 * abs(slope0)


def test_line_search_never_ends_above_the_start():
    theta = np.array([0.0])
    d = np.array([1.0])

    def evaluate():  # no decrease anywhere along d although the slope says so
        return (1.0 if theta[0] != 0 else 0.0), np.array([-1.0])

    phi = Evaluations(theta, d, evaluate)
    a, f, _, found = strong_wolfe(phi, 0.0, np.array([-1.0]), -1.0, 1.0, max_evaluations=8)
    assert not found and a == 0.0 and f == 0.0 and theta[0] == 0.0 and phi.count == 8


def test_a_non_finite_objective_counts_as_too_far():
    theta = np.array([0.0])
    d = np.array([1.0])

    def evaluate():
        x = theta[0]
        return (math.inf if x > 2 else (x - 1.0) ** 2), np.array([2.0 * (x - 1.0)])

    phi = Evaluations(theta, d, evaluate)
    a, f, _, found = strong_wolfe(phi, 1.0, np.array([-2.0]), -2.0, 50.0)
    assert found and f < 1.0 and 0 < a <= 2


def test_two_loop_is_the_bfgs_inverse_hessian_update():
    rng = np.random.default_rng(1)
    n, m = 6, 4
    S = rng.standard_normal((m, n))
    A = rng.standard_normal((n, n))
    A = A @ A.T + n * np.eye(n)
    Y = S @ A  # y = A s: positive curvature
    rho = 1.0 / np.einsum("ij,ij->i", S, Y)
    gamma = float(S[-1] @ Y[-1] / (Y[-1] @ Y[-1]))
    H = gamma * np.eye(n)
    for s, y, r in zip(S, Y, rho):  # H <- (I - rho s y^T) H (I - rho y s^T) + rho s s^T
        V = np.eye(n) - r * np.outer(y, s)
        H = V.T @ H @ V + r * np.outer(s, s)
    g = rng.standard_normal(n)
    np.testing.assert_allclose(two_loop(g, S, Y, rho, list(range(m)), gamma), H @ g, rtol=1e-12)
    # a ring buffer: the same pairs stored from row 2 on
    order = [(2 + k) % m for k in range(m)]
    S2, Y2, rho2 = np.empty_like(S), np.empty_like(Y), np.empty_like(rho)
    S2[order], Y2[order], rho2[order] = S, Y, rho
    np.testing.assert_allclose(two_loop(g, S2, Y2, rho2, order, gamma), H @ g, rtol=1e-12)


def test_conjugate_betas_by_hand():
    g, g_prev, d_prev = np.array([1.0, 2.0]), np.array([2.0, -1.0]), np.array([-2.0, 1.0])
    y = g - g_prev  # (-1, 3)
    assert conjugate_beta("fletcher_reeves", g, g_prev, d_prev) == pytest.approx(5 / 5)
    assert conjugate_beta("polak_ribiere", g, g_prev, d_prev) == pytest.approx(5 / 5)
    assert conjugate_beta("hestenes_stiefel", g, g_prev, d_prev) == pytest.approx(
        (g @ y) / (d_prev @ y))
    assert conjugate_beta("dai_yuan", g, g_prev, d_prev) == pytest.approx((g @ g) / (d_prev @ y))
    # PR+: never negative (g . y = -1 here)
    assert conjugate_beta("polak_ribiere", np.array([1.0, 0.0]), np.array([2.0, 0.0]), d_prev) == 0


# -- against the references ------------------------------------------------------------------
def _torch_lbfgs(torch, X, y, w0, **options):
    """torch.optim.LBFGS's step on the logistic objective: (weights, objective, evaluations)."""
    wt = torch.tensor(w0.copy(), requires_grad=True)
    reference = torch.optim.LBFGS([wt], **options)
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def closure():
        reference.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(Xt @ wt, yt) \
            + 0.01 * (wt * wt).sum()
        loss.backward()
        return loss

    reference.step(closure)
    return wt.detach().numpy(), closure().item(), reference.state[wt]["func_evals"]


def test_lbfgs_with_a_fixed_step_follows_pytorch_step_for_step():
    torch = pytest.importorskip("torch")
    X, y, w0 = logistic_problem()
    w = rb.nn.Parameter(w0.copy())
    opt = rb.optim.LBFGS([w], lr=0.5, max_iter=15, history_size=4, line_search=None)
    ours = opt.step(lambda: logistic_objective(w, X, y))
    wt, value, _ = _torch_lbfgs(torch, X, y, w0, lr=0.5, max_iter=15, history_size=4)
    np.testing.assert_allclose(w.data, wt, rtol=0, atol=1e-12)
    assert ours == pytest.approx(value, abs=1e-14)


def test_lbfgs_reaches_pytorch_and_scipy_minimum_of_a_logistic_regression():
    torch = pytest.importorskip("torch")
    scipy_optimize = pytest.importorskip("scipy.optimize")
    X, y, w0 = logistic_problem(3)
    w = rb.nn.Parameter(w0.copy())
    opt = rb.optim.LBFGS([w], max_iter=50, tolerance_grad=1e-10, tolerance_change=0)
    ours = opt.step(lambda: logistic_objective(w, X, y))

    def f_and_g(v):
        z = X @ v
        p = 1 / (1 + np.exp(-z))
        f = np.mean(np.logaddexp(0, z) - y * z) + 0.01 * v @ v
        return f, X.T @ (p - y) / len(y) + 0.02 * v

    best = scipy_optimize.minimize(f_and_g, w0, jac=True, method="L-BFGS-B",
                                   options={"gtol": 1e-12, "ftol": 0})
    assert ours == pytest.approx(best.fun, abs=1e-12)
    np.testing.assert_allclose(w.data, best.x, atol=1e-5)
    # as frugal as PyTorch's search, each with its default tolerances
    w = rb.nn.Parameter(w0.copy())
    opt = rb.optim.LBFGS([w], max_iter=50)
    ours = opt.step(lambda: logistic_objective(w, X, y))
    _, value, evaluations = _torch_lbfgs(torch, X, y, w0, max_iter=50,
                                         line_search_fn="strong_wolfe")
    assert ours == pytest.approx(value, abs=1e-9)
    assert opt.evaluations <= evaluations + 2


@pytest.mark.parametrize("cls, options", [(rb.optim.LBFGS, {})] + [
    (rb.optim.ConjugateGradient, {"method": m}) for m in METHODS])
def test_rosenbrock_minimum_within_the_references_evaluations(cls, options):
    scipy_optimize = pytest.importorskip("scipy.optimize")
    w = rb.nn.Parameter(X0.copy())
    opt = cls([w], max_iter=500, max_eval=5000, tolerance_grad=1e-9, tolerance_change=0,
              **options)
    value = opt.step(lambda: rosenbrock(w))
    np.testing.assert_allclose(w.data, np.ones(5), atol=1e-8)
    assert value < 1e-15
    method = "L-BFGS-B" if cls is rb.optim.LBFGS else "CG"
    reference = scipy_optimize.minimize(scipy_optimize.rosen, X0, jac=scipy_optimize.rosen_der,
                                        method=method, options={"gtol": 1e-9, "maxiter": 500})
    assert opt.evaluations <= 1.5 * reference.nfev  # SciPy: 53 (L-BFGS-B), 280 (CG)


def test_conjugate_gradient_solves_a_quadratic_within_two_conjugate_cycles():
    rng = np.random.default_rng(2)
    n = 12
    A = rng.standard_normal((n, n))
    A = A @ A.T + np.eye(n)
    b = rng.standard_normal(n)
    x = rb.nn.Parameter(np.zeros(n))
    opt = rb.optim.ConjugateGradient([x], max_iter=2 * n, max_eval=100, tolerance_grad=1e-10)
    opt.step(lambda: 0.5 * (x @ (rb.tensor(A) @ x)) - (rb.tensor(b) * x).sum())
    np.testing.assert_allclose(x.data, np.linalg.solve(A, b), atol=1e-8)


# -- behaviour -------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [rb.optim.LBFGS, rb.optim.ConjugateGradient])
def test_float32_state_and_frozen_parameters(cls):
    w = rb.nn.Parameter(np.array([3.0, -2.0], dtype=np.float32))
    frozen = rb.nn.Parameter(np.array([5.0], dtype=np.float32))
    opt = cls([w, frozen])
    frozen.requires_grad = False
    value = opt.step(lambda: ((w - 1.0) ** 2).sum() + (frozen * frozen).sum())
    assert w.data.dtype == np.float32 and frozen.data[0] == 5.0
    np.testing.assert_allclose(w.data, [1.0, 1.0], atol=1e-3)
    assert value == pytest.approx(25.0, abs=1e-6)
    state = opt.state_dict()
    assert all(v.dtype == np.float32 for k, v in state.items()
               if isinstance(v, np.ndarray) and k != "rho")


@pytest.mark.parametrize("cls", [rb.optim.LBFGS, rb.optim.ConjugateGradient])
def test_a_closure_that_runs_its_own_backward(cls):
    w = rb.nn.Parameter(np.array([3.0, -2.0]))

    def closure():  # PyTorch's convention: the closure differentiates, returns a number
        loss = ((w - 1.0) ** 2).sum()
        loss.backward()
        return loss.item()

    assert cls([w]).step(closure) < 1e-20


def test_argument_and_closure_errors():
    w = rb.nn.Parameter(np.zeros(2))
    with pytest.raises(TypeError, match="LBFGS.step needs a closure"):
        rb.optim.LBFGS([w]).step()
    with pytest.raises(ValueError, match="one number; got a Tensor of shape"):
        rb.optim.LBFGS([w]).step(lambda: w * 2.0)
    with pytest.raises(TypeError, match="closure must return the objective"):
        rb.optim.ConjugateGradient([w]).step(lambda: "low")
    with pytest.raises(ValueError, match="line_search must be 'strong_wolfe' or None"):
        rb.optim.LBFGS([w], line_search="armijo")
    with pytest.raises(ValueError, match="method must be .polak_ribiere"):
        rb.optim.ConjugateGradient([w], method="newton")
    with pytest.raises(ValueError, match="history_size"):
        rb.optim.LBFGS([w], history_size=0)
    with pytest.raises(ValueError, match="lr"):
        rb.optim.LBFGS([w], lr=0)


def test_a_non_finite_start_leaves_the_weights_alone():
    w = rb.nn.Parameter(np.array([1.0, 2.0]))
    assert math.isnan(rb.optim.LBFGS([w]).step(lambda: (w * np.nan).sum()))
    np.testing.assert_array_equal(w.data, [1.0, 2.0])


# -- training through rb.fit, and the notes' claim ---------------------------------------------
@pytest.mark.parametrize("cls", [rb.optim.LBFGS, rb.optim.ConjugateGradient])
def test_fit_checkpoint_resumes_bit_for_bit(tmp_path, cls):
    X, y, _ = logistic_problem(4)
    y = y[:, None]

    def run(epochs, resume=False):
        model = rb.nn.Sequential(rb.nn.Dense(5, 4, rng=0), rb.nn.Tanh(), rb.nn.Dense(4, 1, rng=1))
        opt = cls(model.parameters(), max_iter=5)
        path = tmp_path / f"{cls.__name__}.rbt"
        rb.fit(model, X, y, loss="binary_cross_entropy_with_logits", optimizer=opt, epochs=epochs,
               batch_size=len(X), progress=False, metrics=(), rng=0,
               callbacks=[] if resume else [rb.callbacks.Checkpoint(path)],
               resume_from=path if resume else None)
        return np.concatenate([p.data.ravel() for p in model.parameters()]), opt

    straight, a = run(6)
    run(3)
    resumed, b = run(6, resume=True)
    np.testing.assert_array_equal(straight, resumed)
    assert a.t == b.t == 6 and a.evaluations == b.evaluations


def _cae_objective(ae, X):
    with no_grad():
        x = rb.tensor(X)
        return float((ae.reconstruction_loss(ae(x), x) + ae.penalty()).item())


def test_contractive_autoencoder_trains_by_lbfgs_and_cg_below_first_order_methods():
    # notes: a contractive autoencoder's gradient is deterministic, "which means second-order
    # optimizers can be used (conjugate gradient, LBFGs, etc)". Full batch, the same number
    # of gradient evaluations for every optimizer, no learning rate to tune for L-BFGS/CG.
    X, _ = rb.datasets.load_digits()
    X = X[:500]
    values = {}

    def train(name, make, epochs):
        ae = rb.models.Autoencoder(64, 32, contractive=0.1, rng=0)
        opt = make(ae.parameters())
        seen = []
        ae.fit(X, epochs=epochs, batch_size=len(X), optimizer=opt, shuffle=False,
               callbacks=[rb.callbacks.LambdaCallback(
                   on_epoch_end=lambda t, e, logs: seen.append(_cae_objective(ae, X)))])
        values[name] = seen[-1]
        return opt, seen

    lbfgs, seen = train("lbfgs", rb.optim.LBFGS, 10)
    assert all(b <= a for a, b in zip(seen, seen[1:]))  # the line search only goes down
    budget = lbfgs.evaluations
    cg, seen = train("cg", rb.optim.ConjugateGradient, 10)
    assert all(b <= a for a, b in zip(seen, seen[1:]))
    assert cg.evaluations <= budget * 1.25
    for lr in (0.01, 0.03, 0.1):
        train(f"adam {lr}", lambda p, lr=lr: rb.optim.Adam(p, lr=lr), budget)
    for lr in (0.1, 0.3):
        train(f"sgd {lr}", lambda p, lr=lr: rb.optim.SGD(p, lr=lr, momentum=0.9), budget)
    first_order = min(v for k, v in values.items() if k.startswith(("adam", "sgd")))
    assert values["lbfgs"] < 0.97 * first_order, values
    assert values["cg"] < 0.98 * first_order, values


def test_fit_closure_with_regularizers_that_add_no_penalty():
    # a plain autoencoder's penalty hook gives None: the closure is the loss alone
    X, _ = rb.datasets.load_digits()
    ae = rb.models.Autoencoder(64, 8, rng=0)
    opt = rb.optim.LBFGS(ae.parameters(), max_iter=5)
    history = ae.fit(X[:100], epochs=2, batch_size=100, optimizer=opt)
    assert history["loss"][1] < history["loss"][0]


# -- hostile and awkward cases (audit of 2026-12-05) -------------------------------------------
@pytest.mark.parametrize("cls", [rb.optim.LBFGS, rb.optim.ConjugateGradient])
def test_badly_scaled_least_squares_still_converges(cls):
    rng = np.random.default_rng(0)
    A = rng.uniform(1e6, 3e6, size=(50, 2))  # unscaled features: the right steps are ~1e-13
    b = A @ np.array([0.002, -0.001])
    w = rb.nn.Parameter(np.zeros(2))
    opt = cls([w], max_iter=50, max_eval=200)
    start = float(((A @ w.data - b) ** 2).mean())
    for _ in range(3):
        value = opt.step(lambda: ((rb.tensor(A) @ w - rb.tensor(b)) ** 2).mean())
    assert value < 1e-15 * start  # from 5.6e6 (the old absolute bracket floor stopped at once)
    np.testing.assert_allclose(w.data, [0.002, -0.001], rtol=1e-6)


@pytest.mark.parametrize("cls", [rb.optim.LBFGS, rb.optim.ConjugateGradient])
def test_a_finite_objective_with_a_nan_gradient_leaves_the_weights(cls):
    w = rb.nn.Parameter(np.zeros(2))
    opt = cls([w])
    with pytest.raises(FloatingPointError, match="its gradient is not"), \
            np.errstate(divide="ignore", invalid="ignore"):
        opt.step(lambda: ((w * w).sum()) ** 0.5)  # sqrt at 0: gradient 0/0
    np.testing.assert_array_equal(w.data, [0.0, 0.0])


def test_conjugate_gradient_refuses_to_run_without_its_line_search():
    w = rb.nn.Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="ConjugateGradient: line_search must be 'strong_wolfe'"):
        rb.optim.ConjugateGradient([w], line_search=None)


@pytest.mark.parametrize("cls", [rb.optim.LBFGS, rb.optim.ConjugateGradient])
def test_a_parameter_frozen_between_steps_stays_put(cls):
    a = rb.nn.Parameter(np.array([-1.2, 1.0, 0.3]))
    b = rb.nn.Parameter(np.array([1.5]))
    opt = cls([a, b], max_iter=5)

    def objective():
        return rosenbrock(a) + ((b - a[0]) ** 2).sum()

    opt.step(objective)  # both move, and the memory holds b's directions
    b.requires_grad = False
    kept = b.data.copy()
    opt.step(objective)
    np.testing.assert_array_equal(b.data, kept)


@pytest.mark.parametrize("cls", [rb.optim.LBFGS, rb.optim.ConjugateGradient])
def test_a_schedule_at_zero_spends_one_evaluation_and_does_not_move(cls):
    w = rb.nn.Parameter(np.array([3.0, -2.0]))
    opt = cls([w], lr=lambda t: 1.0 if t == 0 else 0.0)
    opt.step(lambda: ((w - 1.0) ** 4).sum())
    before, evaluations = w.data.copy(), opt.evaluations
    opt.step(lambda: ((w - 1.0) ** 4).sum())
    np.testing.assert_array_equal(w.data, before)
    assert opt.evaluations == evaluations + 1


def test_load_state_dict_checks_everything_before_changing_anything():
    w = rb.nn.Parameter(np.zeros(3))
    opt = rb.optim.LBFGS([w], history_size=3, max_iter=7)
    opt.step(lambda: rosenbrock(w))
    good = opt.state_dict()
    for key, bad in [("head", 7), ("max_iter", 0), ("max_iter", 2.5), ("lr", 0.0),
                     ("line_search", "armijo"), ("history_size", 0), ("rho", [np.nan] * 3)]:
        with pytest.raises(ValueError, match=f"LBFGS.load_state_dict: {key}"):
            opt.load_state_dict({**good, key: bad})
        assert opt.max_iter == 7 and opt.pairs == good["pairs"]
    with pytest.raises(ValueError, match="the state is for 'SGD', not LBFGS"):
        opt.load_state_dict(rb.optim.SGD([w], lr=0.1).state_dict())
    cg = rb.optim.ConjugateGradient([w])
    for key, bad in [("method", "newton"), ("restart", 0), ("since_restart", -5),
                     ("line_search", None), ("prev_step", np.inf)]:
        with pytest.raises(ValueError, match=f"ConjugateGradient.load_state_dict: {key}"):
            cg.load_state_dict({**cg.state_dict(), key: bad})


@pytest.mark.parametrize("cls", [rb.optim.LBFGS, rb.optim.ConjugateGradient])
def test_pytorch_style_closure_that_runs_backward_itself(cls):
    w = rb.nn.Parameter(np.array([-1.2, 1.0, 0.5]))
    opt = cls([w], max_iter=200, max_eval=1000, tolerance_grad=1e-10, tolerance_change=0)

    def closure():  # zero_grad(); loss.backward(); return loss: the gradient is used once
        opt.zero_grad()
        loss = rosenbrock(w)
        loss.backward()
        return loss

    assert opt.step(closure) < 1e-12


@pytest.mark.parametrize("cls", [rb.optim.LBFGS, rb.optim.ConjugateGradient])
def test_a_closure_that_raises_mid_search_leaves_the_weights_where_the_search_began(cls):
    w = rb.nn.Parameter(np.array([-1.2, 1.0]))
    calls = []

    def closure():
        calls.append(1)
        if len(calls) == 2:  # the first trial point of the first search
            raise KeyboardInterrupt
        return rosenbrock(w)

    opt = cls([w])
    with pytest.raises(KeyboardInterrupt):
        opt.step(closure)
    np.testing.assert_array_equal(w.data, [-1.2, 1.0])  # the start, not the trial point


@pytest.mark.parametrize("cls", [rb.optim.LBFGS, rb.optim.ConjugateGradient])
def test_after_a_step_the_gradient_is_the_one_at_the_weights_reached(cls):
    w = rb.nn.Parameter(np.array([-1.2, 1.0, 0.4]))
    cls([w], max_iter=3, max_eval=4).step(lambda: rosenbrock(w))  # a search cut short
    expected = rb.nn.Parameter(w.data.copy())
    rosenbrock(expected).backward()
    np.testing.assert_allclose(w.grad, expected.grad, rtol=1e-12)


@pytest.mark.parametrize("make", [lambda p: rb.optim.LBFGS(p, max_iter=50),
                                  lambda p: rb.optim.ConjugateGradient(p, max_iter=50)],
                         ids=["LBFGS", "CG"])
def test_mini_batches_judge_each_batch_where_its_step_starts(make):
    """With mini-batches rb.fit judges each batch's objective at the weights the step starts
    from, as a gradient step's loss: a first batch minimised to ~1e-7 is no reference for
    the next batch's ordinary objective (before: a false DivergenceError at batch 1); a
    divergence is still caught."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] > 0).astype(np.int64)
    y[100:] = rng.integers(0, 2, 100)  # separable first batch; random labels in the second
    net = rb.nn.Sequential(rb.nn.Dense(2, 2, rng=0, dtype=np.float64))
    history = rb.fit(net, X, y, loss="cross_entropy", optimizer=make(net.parameters()),
                     epochs=2, batch_size=100, shuffle=False, progress=False, rng=0)
    assert len(history["loss"]) == 2 and np.all(np.isfinite(history["loss"]))
    net = rb.nn.Sequential(rb.nn.Dense(2, 2, rng=0, dtype=np.float64))
    wild = rb.optim.LBFGS(net.parameters(), lr=1e6, max_iter=3, line_search=None)
    with pytest.raises(rb.training.DivergenceError, match="batch 1"):
        rb.fit(net, X, y, loss="cross_entropy", optimizer=wild, epochs=1, batch_size=100,
               shuffle=False, progress=False, rng=0)
