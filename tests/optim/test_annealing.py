"""Boltzmann and Cauchy training reduce the loss of a small network on XOR."""

import math

import numpy as np
import pytest

import rosenblatt as rb

from .helpers import XorNet, xor_loss


def test_boltzmann_annealing_reduces_xor_loss():
    net = XorNet(hidden=4, rng=2)
    start = xor_loss(net).item()
    ann = rb.optim.BoltzmannAnnealer(net.parameters(), T0=0.3, k=0.002, rng=0)
    for _ in range(1500):
        ann.step(lambda: xor_loss(net))
    assert ann.loss < start / 10
    assert ann.restore_best() <= ann.loss
    assert xor_loss(net).item() == pytest.approx(ann.best_loss)


def test_cauchy_annealing_reduces_xor_loss():
    net = XorNet(hidden=4, rng=2)
    start = xor_loss(net).item()
    ann = rb.optim.CauchyAnnealer(net.parameters(), T0=5.0, rho=1.0, k=0.01, squash=8.0, rng=0)
    for _ in range(1000):
        ann.step(lambda: xor_loss(net))
    assert ann.loss < start / 4
    assert np.all(np.abs(ann.vec.data) <= 8.0)


def test_cauchy_mixed_with_backprop_solves_xor():
    net = XorNet(hidden=4, rng=2)
    ann = rb.optim.CauchyAnnealer(net.parameters(), T0=0.1, rho=0.1, backprop_weight=0.9,
                                  momentum=0.5, lr=2.0, k=0.001, rng=0)
    for _ in range(800):
        ann.step(lambda: xor_loss(net))
    assert ann.loss < 0.01


def test_annealers_are_reproducible_and_cool():
    def run():
        net = XorNet(rng=2)
        ann = rb.optim.BoltzmannAnnealer(net.parameters(), T0=0.3, k=0.01, rng=5)
        for _ in range(50):
            ann.step(lambda: xor_loss(net))
        return ann.vec.data.copy(), ann

    a, ann = run()
    b, _ = run()
    np.testing.assert_array_equal(a, b)
    assert ann.temperature(1) == pytest.approx(0.3 / math.log(2))
    assert ann.temperature(100) < ann.temperature(10)
    cauchy = rb.optim.CauchyAnnealer([rb.nn.Parameter(np.zeros(2))], T0=2.0)
    assert cauchy.temperature(0) == 2.0 and cauchy.temperature(3) == 0.5


def test_metropolis_rule():
    rng = np.random.default_rng(0)
    accept = rb.optim.annealing.metropolis_accept
    assert accept(-1.0, 1.0, 1.0, rng) and accept(0.0, 1.0, 1.0, rng)
    assert not accept(math.inf, 1.0, 1.0, rng) and not accept(math.nan, 1.0, 1.0, rng)
    rate = np.mean([accept(1.0, 1.0, 2.0, rng) for _ in range(4000)])
    assert rate == pytest.approx(math.exp(-0.5), abs=0.03)


def test_non_finite_moves_are_rejected():
    w = rb.nn.Parameter(np.array([1.0]))
    ann = rb.optim.CauchyAnnealer([w], T0=1.0, rng=0)
    ann.step(lambda: float(w.data[0] ** 2))  # fine
    before = w.data.copy()
    ann.step(lambda: math.nan)
    np.testing.assert_array_equal(w.data, before)


def test_backprop_mixing_needs_a_tensor_closure():
    w = rb.nn.Parameter(np.array([1.0]))
    ann = rb.optim.CauchyAnnealer([w], T0=1.0, backprop_weight=0.5)
    with pytest.raises(TypeError, match="closure must return a Tensor"):
        ann.step(lambda: 1.0)


def test_squashing_only_the_saturated_units():
    net = rb.nn.Sequential(rb.nn.Dense(2, 3, rng=0, dtype=np.float64), rb.nn.Tanh(),
                           rb.nn.Dense(3, 1, rng=1, dtype=np.float64), rb.nn.Sigmoid())
    net[0].W.data[:, 0] = [40.0, 40.0]  # unit 0 saturates on positive inputs
    net[0].b.data[0] = 30.0
    X = np.array([[1.0, 1.0], [0.5, 1.0]])
    found = rb.optim.annealing.saturated_units(net, X)
    assert len(found) == 1 and found[0][0] is net[0]
    assert found[0][1].tolist() == [True, False, False]
    others = net[0].W.data[:, 1:].copy()
    ann = rb.optim.CauchyAnnealer(net.parameters(), T0=1e-12, squash=5.0, saturation=(net, X),
                                  rng=0)
    ann.step(lambda: 0.0)  # a negligible move, always accepted; then the squash
    np.testing.assert_allclose(net[0].W.data[:, 0], 5 * np.tanh(8.0), rtol=1e-9)
    assert net[0].b.data[0] == pytest.approx(5 * np.tanh(6.0))
    np.testing.assert_allclose(net[0].W.data[:, 1:], others, atol=1e-9)
    with pytest.raises(ValueError, match="saturation=\\(model, X\\) needs squash=R"):
        rb.optim.CauchyAnnealer(net.parameters(), T0=1.0, saturation=(net, X))
    with pytest.raises(TypeError, match="saturated_units: expected an rb.nn.Sequential"):
        rb.optim.annealing.saturated_units(net[0], X)
    with pytest.raises(TypeError, match=r"saturation must be \(model, X\) or \(model, X, level\); "
                                        r"got float 0.9"):
        rb.optim.CauchyAnnealer(net.parameters(), T0=1.0, squash=5.0, saturation=0.9)


# -- the notes' per-weight sweep, the specific heat, rb.fit, default constants -------------
def test_per_weight_sweep_follows_the_metropolis_rule_weight_by_weight():
    # A hand trace of one sweep: the same draws (normals, then one uniform per weight),
    # each weight changed alone, the objective change of that one weight judged alone.
    target = np.array([1.0, -2.0, 0.5, 3.0])

    def objective(w):
        return float(((w - target) ** 2).sum())

    w = rb.nn.Parameter(np.array([0.0, 0.0, 0.0, 0.0]))
    T0, k, seed = 2.0, 0.5, 2
    ann = rb.optim.BoltzmannAnnealer([w], T0=T0, k=k, rng=seed, per_weight=True)
    ann.step(lambda: objective(w.data))

    rng = np.random.default_rng(seed)
    T = T0 / math.log(2.0)
    move = rng.standard_normal(4) * T / math.sqrt(2.0)
    u = rng.random(4)
    hand = np.zeros(4)
    current = objective(hand)
    kinds = []
    for i in range(4):
        trial = hand.copy()
        trial[i] += move[i]
        delta = objective(trial) - current
        keep = delta <= 0 or u[i] < math.exp(-delta / (k * T))
        kinds.append("down" if delta <= 0 else ("up-kept" if keep else "up-rejected"))
        if keep:
            hand, current = trial, objective(trial)
    np.testing.assert_allclose(w.data, hand, rtol=1e-12, atol=1e-15)
    assert ann.loss == pytest.approx(current, rel=1e-12)
    assert ann.accepted == sum(k != "up-rejected" for k in kinds)
    assert list(ann.trace["accepted"]) == [ann.accepted / 4]
    # The seed exercises every branch of the rule.
    assert {"down", "up-kept", "up-rejected"} <= set(kinds), kinds


def test_per_weight_cauchy_sweep_squashes_only_the_changed_weight():
    w = rb.nn.Parameter(np.array([0.0, 50.0]))
    ann = rb.optim.CauchyAnnealer([w], T0=1e-12, k=1.0, squash=5.0, rng=0, per_weight=True)
    ann.step(lambda: 0.0)  # negligible moves, always kept
    assert w.data[0] == pytest.approx(0.0, abs=1e-9)
    assert w.data[1] == pytest.approx(5 * np.tanh(10.0))


def _phase_change(T, Tc=0.1, width=0.6):
    """A synthetic mean objective that jumps where log T crosses log Tc."""
    return 1.0 + np.tanh((math.log(T) - math.log(Tc)) / width)


def _log_drops(blocks):
    temps = np.array([b[0] for b in blocks])
    return temps[:-1], -np.diff(np.log(temps))


def test_specific_heat_schedule_cools_slowly_where_the_mean_objective_changes_abruptly():
    sched = rb.optim.annealing.SpecificHeatSchedule(10.0, block=5)
    for _ in range(5 * 40):
        sched.record(_phase_change(sched.T))
    temps, drops = _log_drops(sched.blocks)
    near = np.abs(np.log(temps / 0.1)) < 0.6
    far = np.abs(np.log(temps / 0.1)) > 3.0
    assert near.any() and far.sum() >= 3
    assert drops[far].min() > 0.9 * math.log(2.0)  # flat: T halves every block
    # Through the phase change: several times slower (the first block lags: it measures
    # the change only once it has begun).
    assert np.median(drops[near]) < 0.3 * drops[far].min()
    assert drops[near].max() < 0.6 * drops[far].min()


def test_specific_heat_schedule_inside_an_annealer():
    w = rb.nn.Parameter(np.zeros(2))
    ann = rb.optim.CauchyAnnealer([w], T0=10.0, k=1.0, schedule="specific_heat", block=4,
                                  rng=0)
    for _ in range(4 * 40):  # the objective depends on the temperature only: all moves kept
        ann.step(lambda: float(_phase_change(ann.heat.T)))
    temps = np.array(ann.trace["temperature"])
    assert np.all(np.diff(temps) <= 0) and temps[-1] < 1e-3
    block_temps, drops = _log_drops(ann.heat.blocks)
    near = np.abs(np.log(block_temps / 0.1)) < 0.6
    assert near.sum() >= 3 and np.median(drops[near]) < 0.3 * math.log(2.0)
    assert ann.temperature() == ann.heat.T
    with pytest.raises(ValueError, match="only the next step's temperature is known"):
        ann.temperature(0)


def _xor_regression_net(seed):
    return rb.nn.Sequential(rb.nn.Dense(2, 4, rng=seed, dtype=np.float64), rb.nn.Tanh(),
                            rb.nn.Dense(4, 1, rng=seed + 100, dtype=np.float64), rb.nn.Sigmoid())


@pytest.mark.parametrize("cls", [rb.optim.BoltzmannAnnealer, rb.optim.CauchyAnnealer])
def test_annealers_train_through_fit_and_restore_the_best_weights(cls):
    from .helpers import XOR_X, XOR_Y

    net = _xor_regression_net(1)
    ann = cls(net.parameters(), rng=0)
    hist = rb.fit(net, XOR_X, XOR_Y, loss="mse", optimizer=ann, epochs=150, batch_size=4,
                  progress=False, metrics=())
    assert len(hist["loss"]) == 150 and ann.t == 150
    final = rb.training.evaluate(net, XOR_X, XOR_Y, loss="mse", metrics=())["loss"]
    assert final == pytest.approx(ann.best_loss) and final == pytest.approx(min(ann.trace["loss"]))
    assert final < hist["loss"][0]
    # Without restore_best the model keeps wherever the chain ended.
    net2 = _xor_regression_net(1)
    ann2 = cls(net2.parameters(), rng=0, restore_best=False)
    rb.fit(net2, XOR_X, XOR_Y, loss="mse", optimizer=ann2, epochs=150, batch_size=4,
           progress=False, metrics=())
    final2 = rb.training.evaluate(net2, XOR_X, XOR_Y, loss="mse", metrics=())["loss"]
    assert final2 == pytest.approx(ann2.trace["loss"][-1]) and final2 >= ann2.best_loss


def test_annealers_in_fit_with_mini_batches_remeasure_each_batch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    net = rb.nn.Sequential(rb.nn.Dense(3, 1, rng=0, dtype=np.float64))
    ann = rb.optim.CauchyAnnealer(net.parameters(), rng=0, per_weight=True)
    start = rb.training.evaluate(net, X, y, loss="mse", metrics=())["loss"]
    rb.fit(net, X, y, loss="mse", optimizer=ann, epochs=20, batch_size=10, progress=False,
           metrics=(), rng=0)
    assert ann.t == 80
    assert rb.training.evaluate(net, X, y, loss="mse", metrics=())["loss"] < start / 2


@pytest.mark.parametrize("cls", [rb.optim.BoltzmannAnnealer, rb.optim.CauchyAnnealer])
def test_default_constants_end_below_the_start_on_xor_for_every_seed(cls):
    for seed in range(10):
        net = XorNet(hidden=4, rng=seed)
        start = xor_loss(net).item()
        ann = cls(net.parameters(), rng=seed)  # only the parameters
        for _ in range(300):
            ann.step(lambda net=net: xor_loss(net))
        assert ann.loss < start, (seed, start, ann.loss)
        assert ann.k * ann.T0 == pytest.approx(0.01 * start)


@pytest.mark.parametrize("cls", [rb.optim.BoltzmannAnnealer, rb.optim.CauchyAnnealer])
def test_default_constants_reduce_a_small_regression_through_fit(cls):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 2))
    y = np.sin(X[:, :1]) + 0.5 * X[:, 1:]
    for seed in range(5):
        net = _xor_regression_net(seed)[:3]
        start = rb.training.evaluate(net, X, y, loss="mse", metrics=())["loss"]
        rb.fit(net, X, y, loss="mse", optimizer=cls(net.parameters(), rng=seed), epochs=200,
               batch_size=32, progress=False, metrics=())
        assert rb.training.evaluate(net, X, y, loss="mse", metrics=())["loss"] < start / 2


def test_annealer_argument_checks():
    w = rb.nn.Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="schedule"):
        rb.optim.BoltzmannAnnealer([w], schedule="fast")
    with pytest.raises(TypeError, match="per_weight must be True or False"):
        rb.optim.CauchyAnnealer([w], per_weight="yes")
    with pytest.raises(ValueError, match="block"):
        rb.optim.CauchyAnnealer([w], schedule="specific_heat", block=0)
    assert rb.optim.BoltzmannAnnealer([w]).T0 == pytest.approx(0.025)  # zero weights: the floor


@pytest.mark.parametrize("schedule", [None, "specific_heat"])
def test_annealer_checkpoint_resumes_bit_for_bit(tmp_path, schedule):
    from .helpers import XOR_X, XOR_Y

    def run(epochs, resume=False):
        net = _xor_regression_net(3)
        ann = rb.optim.CauchyAnnealer(net.parameters(), rng=0, schedule=schedule, block=5,
                                      restore_best=False)
        ckpt = rb.callbacks.Checkpoint(tmp_path / "ann.rbt", every=1) if not resume else None
        rb.fit(net, XOR_X, XOR_Y, loss="mse", optimizer=ann, epochs=epochs, batch_size=4,
               progress=False, metrics=(), rng=1, callbacks=[ckpt] if ckpt else [],
               resume_from=tmp_path / "ann.rbt" if resume else None)
        return net[0].W.data.copy(), ann

    straight, a = run(30)
    run(12)  # writes the checkpoint of epoch 12 (then stops)
    resumed, b = run(30, resume=True)
    np.testing.assert_array_equal(straight, resumed)
    assert a.best_loss == b.best_loss and a.t == b.t == 30


@pytest.mark.parametrize("cls", [rb.optim.BoltzmannAnnealer, rb.optim.CauchyAnnealer])
@pytest.mark.parametrize("per_weight", [False, True])
def test_annealers_leave_an_infinite_start(cls, per_weight):
    # the objective overflows for |w| > 10: any move back to a finite value is an improvement
    w = rb.nn.Parameter(np.array([12.0]))

    def objective():
        x = float(w.data[0])
        return math.inf if abs(x) > 10 else x * x

    ann = cls([w], T0=5.0, k=1.0, rng=0, per_weight=per_weight)
    for _ in range(100):
        ann.step(objective)
    assert ann.accepted > 0 and math.isfinite(ann.loss) and math.isfinite(ann.best_loss)
    assert abs(w.data[0]) <= 10


def test_metropolis_rule_on_non_finite_objectives():
    from rosenblatt.optim.annealing import metropolis_accept

    rng = np.random.default_rng(0)
    assert metropolis_accept(1.0 - math.inf, 1.0, 1.0, rng)       # inf -> finite: kept
    assert not metropolis_accept(math.inf - 1.0, 1.0, 1.0, rng)   # finite -> inf: rejected
    assert not metropolis_accept(math.inf - math.inf, 1.0, 1.0, rng)  # inf -> inf (nan)


@pytest.mark.parametrize("per_weight", [False, True])
@pytest.mark.parametrize("cls", [rb.optim.BoltzmannAnnealer, rb.optim.CauchyAnnealer])
def test_annealing_moves_spare_padding_rows_and_missing_connections(cls, per_weight):
    """An Embedding's padding row stays zero and a SparseDense's missing connections stay 0
    under annealing, as under gradient steps (given the model, or through rb.fit); the other
    weights do move."""
    rng = np.random.default_rng(0)
    net = rb.nn.Sequential(rb.nn.Embedding(5, 3, rng=0, padding_idx=0, dtype=np.float64),
                           rb.nn.Flatten(),
                           rb.nn.SparseDense(6, 4, density=0.5, rng=0, dtype=np.float64),
                           rb.nn.Tanh(), rb.nn.Dense(4, 2, rng=0, dtype=np.float64))
    X = rng.integers(0, 5, size=(16, 2))
    y = rng.integers(0, 2, size=16)
    start = [p.data.copy() for p in net.parameters()]
    opt = cls(net.parameters(), rng=0, T0=1.0, k=100.0, per_weight=per_weight,
              restore_best=False)  # k large: every move is kept
    rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=3, batch_size=16,
           progress=False, metrics=())
    emb, sparse = net[0], net[2]
    assert not emb.W.data[0].any()
    assert not sparse.W.data[~sparse.mask].any()
    assert any(not np.array_equal(p.data, s) for p, s in zip(net.parameters(), start))
    x = X[:4]
    opt = cls(net.parameters(), rng=1, T0=1.0, per_weight=per_weight, model=net)
    for _ in range(3):
        opt.step(lambda: float((net(x).data ** 2).sum()))
    assert not emb.W.data[0].any()
    assert not sparse.W.data[~sparse.mask].any()


# -- r2 audit (second round) ---------------------------------------------------------------
def _annealed(cls, **kwargs):
    net = XorNet(hidden=2, rng=0)
    ann = cls(net.parameters(), rng=0, **kwargs)
    for _ in range(3):
        ann.step(lambda: xor_loss(net))
    return net, ann


@pytest.mark.parametrize("key, bad", [
    ("T0", -1.0), ("T0", 0.0), ("T0", math.inf), ("k", -2.0), ("k", "x"), ("t", -5),
    ("t", 1.5), ("accepted", -3), ("loss", "x"), ("best_loss", [1]),
    ("best_theta", np.full(9, np.nan)), ("heat", {"T": -1.0, "blocks": [], "sum": 0.0,
                                                    "count": 0, "ref": None}),
    ("heat", {"T": 1.0, "blocks": [[1]], "sum": 0.0, "count": 0, "ref": None}),
    ("heat", {"T": 1.0, "blocks": [], "sum": 0.0, "count": -1, "ref": None}),
])
@pytest.mark.parametrize("cls", [rb.optim.BoltzmannAnnealer, rb.optim.CauchyAnnealer])
def test_r2_3_a_bad_annealer_state_is_refused_before_anything_changes(cls, key, bad):
    _, ann = _annealed(cls, schedule="specific_heat")
    state = ann.state_dict()
    state[key] = bad
    _, live = _annealed(cls, schedule="specific_heat")
    live.step(lambda: xor_loss(XorNet(hidden=2, rng=1)))
    before = live.state_dict()
    with pytest.raises((ValueError, TypeError), match=type(live).__name__):
        live.load_state_dict(state)
    after = live.state_dict()
    assert after.keys() == before.keys()
    for name in before:
        np.testing.assert_equal(after[name], before[name])


def test_r2_3_a_good_annealer_state_still_loads():
    _, ann = _annealed(rb.optim.CauchyAnnealer, schedule="specific_heat", backprop_weight=0.5)
    _, live = _annealed(rb.optim.CauchyAnnealer, schedule="specific_heat", backprop_weight=0.5)
    live.load_state_dict(ann.state_dict())
    for name, value in ann.state_dict().items():
        np.testing.assert_equal(live.state_dict()[name], value)


@pytest.mark.parametrize("cls", [rb.optim.BoltzmannAnnealer, rb.optim.CauchyAnnealer])
def test_r2_10_a_per_weight_sweep_skips_the_missing_connections(cls):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 20)).astype(np.float32)
    y = np.zeros((16, 1), np.float32)
    m = rb.nn.Sequential(rb.nn.SparseDense(20, 20, density=0.1, rng=0, bias=False),
                         rb.nn.Tanh(), rb.nn.Dense(20, 1, rng=0, bias=False))
    live = int(m[0].mask.sum()) + 20
    opt = cls(m.parameters(), rng=0, per_weight=True, model=m, T0=5.0)
    calls = [0]

    def closure():
        calls[0] += 1
        return rb.nn.losses.mse(m(X), y)

    opt.step(closure)
    assert calls[0] == live + 1  # the first objective, then one per live weight
    assert opt.trace["accepted"][-1] == opt.accepted / live
    assert np.all(m[0].W.data[~m[0].mask] == 0)


@pytest.mark.parametrize("bad", ["net", 3, "parameters"])
@pytest.mark.parametrize("cls", [rb.optim.BoltzmannAnnealer, rb.optim.CauchyAnnealer])
def test_r2_11_model_must_be_the_module_the_parameters_belong_to(cls, bad):
    m = rb.nn.Sequential(rb.nn.SparseDense(6, 2, density=0.3, rng=0))
    if bad == "parameters":
        bad = m.parameters()
    with pytest.raises(TypeError, match=rf"{cls.__name__}: model must be an rb.nn.Module"):
        cls(m.parameters(), rng=0, model=bad)
    with pytest.raises(TypeError, match="model must be an rb.nn.Module"):
        cls(m.parameters(), rng=0).attach(bad)
    with pytest.raises(ValueError, match="owns none of the optimizer's parameters"):
        cls(m.parameters(), rng=0, model=rb.nn.Dense(2, 2, rng=0))
