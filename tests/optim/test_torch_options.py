"""The options a PyTorch user expects, step for step against PyTorch over 25 steps, float32
and float64: AdamW, AMSGrad, SGD dampening, MultiStep/Linear/Warmup schedules,
ReduceLROnPlateau's threshold and cooldown, and clip_grad_norm's norm_type."""

import math

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.optim import schedules

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (4,), (4, 2), (2,)]
BIG = [(70, 60), (5,)]  # > 4096 values: the compiled kernels' size, where they are present
STEPS = 25
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _grad_fn(theta):
    return np.sin(3.0 * theta) + 0.3 * theta**3 - 0.5


def _run_pair(make_ours, make_torch, dtype, shapes=SHAPES, torch_scheduler=None):
    rng = np.random.default_rng(0)
    inits = [rng.normal(size=s).astype(dtype) for s in shapes]
    ours = [rb.nn.Parameter(x.copy()) for x in inits]
    theirs = [torch.tensor(x.copy(), requires_grad=True) for x in inits]
    opt, topt = make_ours(ours), make_torch(theirs)
    sched = torch_scheduler(topt) if torch_scheduler else None
    for _ in range(STEPS):
        opt.zero_grad()
        topt.zero_grad()
        for p, tp in zip(ours, theirs):
            g = _grad_fn(p.data.astype(np.float64)).astype(dtype)
            p.grad = g.copy()  # assigned by hand: copied into the flat vector at the step
            tp.grad = torch.tensor(g)
        opt.step()
        topt.step()
        if sched is not None:
            sched.step()
        for p, tp in zip(ours, theirs):
            assert p.data.dtype == dtype
            np.testing.assert_allclose(p.data, tp.detach().numpy(), **TOL[dtype])
    return opt


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [SHAPES, BIG], ids=["small", "big"])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw_matches_torch(dtype, shapes, amsgrad):
    kw = dict(lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1, amsgrad=amsgrad)
    opt = _run_pair(lambda p: rb.optim.AdamW(p, **kw), lambda p: torch.optim.AdamW(p, **kw),
                    dtype, shapes)
    assert all(getattr(opt, n).dtype == dtype for n in opt.state_names
               if getattr(opt, n) is not None)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [SHAPES, BIG], ids=["small", "big"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_adam_amsgrad_matches_torch(dtype, shapes, weight_decay):
    kw = dict(lr=0.05, weight_decay=weight_decay, amsgrad=True)
    opt = _run_pair(lambda p: rb.optim.Adam(p, **kw), lambda p: torch.optim.Adam(p, **kw),
                    dtype, shapes)
    assert opt.v_max.dtype == dtype and np.all(opt.v_max >= opt.v)


def test_adamw_defaults_and_keep():
    w = rb.nn.Parameter(np.array([1.0, -2.0]))
    opt = rb.optim.AdamW([w], lr=0.1)
    assert opt.weight_decay == 0.01 and opt.decoupled_weight_decay and not opt.amsgrad
    keep = np.empty(2)
    opt.zero_grad()
    (w * w).sum().backward()
    opt.step(keep=keep)
    np.testing.assert_array_equal(keep, [1.0, -2.0])  # theta before the decay too
    with pytest.raises(ValueError, match=r"AdamW: betas\[1\] must be in \[0, 1\)"):
        rb.optim.AdamW([w], betas=(0.9, 1.0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [SHAPES, BIG], ids=["small", "big"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_sgd_dampening_matches_torch(dtype, shapes, weight_decay):
    kw = dict(lr=0.02, momentum=0.9, dampening=0.3, weight_decay=weight_decay)
    _run_pair(lambda p: rb.optim.SGD(p, **kw), lambda p: torch.optim.SGD(p, **kw), dtype, shapes)


def test_sgd_dampening_is_checked():
    w = [rb.nn.Parameter(np.ones(2))]
    with pytest.raises(ValueError, match="SGD: nesterov=True needs dampening=0"):
        rb.optim.SGD(w, lr=0.1, momentum=0.9, nesterov=True, dampening=0.1)
    with pytest.raises(ValueError, match=r"SGD: dampening must be in \[0, 1\)"):
        rb.optim.SGD(w, lr=0.1, momentum=0.9, dampening=1.5)


# -- schedules ----------------------------------------------------------------------------------

def _torch_lrs(make_scheduler, lr, n=30):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = make_scheduler(opt)
    lrs = []
    for _ in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


LR_SCHED = torch.optim.lr_scheduler
SCHEDULE_CASES = {
    "multistep": (lambda: schedules.MultiStep(0.1, milestones=[3, 7, 12], gamma=0.5),
                  lambda o: LR_SCHED.MultiStepLR(o, milestones=[3, 7, 12], gamma=0.5)),
    "linear": (lambda: schedules.Linear(0.1, start_factor=0.25, end_factor=1.0, total_iters=8),
               lambda o: LR_SCHED.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=8)),
    "linear_decay": (lambda: schedules.Linear(0.1, start_factor=1.0, end_factor=0.1,
                                              total_iters=20),
                     lambda o: LR_SCHED.LinearLR(o, start_factor=1.0, end_factor=0.1,
                                                 total_iters=20)),
    "warmup_chained": (
        lambda: schedules.Warmup(schedules.Exponential(0.1, gamma=0.9), warmup_steps=5,
                                 start_factor=0.2),
        lambda o: LR_SCHED.ChainedScheduler([
            LR_SCHED.LinearLR(o, start_factor=0.2, total_iters=5),
            LR_SCHED.ExponentialLR(o, gamma=0.9)])),
    "warmup_sequential": (
        lambda: schedules.Warmup(schedules.Cosine(0.1, t_max=25), warmup_steps=5,
                                 start_factor=0.2, delay=True),
        lambda o: LR_SCHED.SequentialLR(o, [
            LR_SCHED.LinearLR(o, start_factor=0.2, total_iters=5),
            LR_SCHED.CosineAnnealingLR(o, T_max=25)], milestones=[5])),  # within t_max
}


@pytest.mark.parametrize("case", sorted(SCHEDULE_CASES))
def test_schedule_values_match_torch(case):
    ours, theirs = SCHEDULE_CASES[case]
    s = ours()
    np.testing.assert_allclose([s(t) for t in range(30)], _torch_lrs(theirs, 0.1),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ["multistep", "linear", "warmup_chained"])
def test_scheduled_sgd_matches_torch(dtype, case):
    ours, theirs = SCHEDULE_CASES[case]
    _run_pair(lambda p: rb.optim.SGD(p, lr=ours(), momentum=0.9),
              lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), dtype,
              torch_scheduler=theirs)


def test_new_schedules_check_their_arguments():
    with pytest.raises(ValueError, match=r"MultiStep: milestones must increase"):
        schedules.MultiStep(0.1, [5, 3])
    with pytest.raises(ValueError, match=r"MultiStep: milestones\[1\] must be a positive"):
        schedules.MultiStep(0.1, [5, -3])
    with pytest.raises(ValueError, match="Linear: total_iters must be a positive integer"):
        schedules.Linear(0.1, total_iters=0)
    with pytest.raises(ValueError, match=r"Warmup: start_factor must be in \[0, 1\]"):
        schedules.Warmup(0.1, 5, start_factor=2.0)
    with pytest.raises(ValueError, match="Warmup: warmup_steps must be a positive integer"):
        schedules.Warmup(0.1, 0)


# -- ReduceLROnPlateau ------------------------------------------------------------------------

class _Loop:
    def __init__(self, optimizer):
        self.optimizer, self.start_epoch = optimizer, 0


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("threshold_mode", ["rel", "abs"])
@pytest.mark.parametrize("threshold, cooldown, patience", [(0.0, 0, 1), (0.05, 2, 2),
                                                           (1e-4, 1, 3)])
def test_reduce_lr_on_plateau_matches_torch(mode, threshold_mode, threshold, cooldown, patience):
    rng = np.random.default_rng(3)
    # a noisy, slowly improving metric with plateaus (positive and negative values)
    drift = -np.linspace(0, 1, 40) if mode == "min" else np.linspace(0, 1, 40)
    values = 0.5 + drift + 0.08 * rng.normal(size=40)
    values[15:25] = values[15]
    opt = rb.optim.SGD([rb.nn.Parameter(np.zeros(1))], lr=0.1)
    cb = rb.callbacks.ReduceLROnPlateau(monitor="m", factor=0.5, patience=patience, mode=mode,
                                        threshold=threshold, threshold_mode=threshold_mode,
                                        cooldown=cooldown, min_lr=1e-3)
    tp = torch.zeros(1, requires_grad=True)
    topt = torch.optim.SGD([tp], lr=0.1)
    # PyTorch reduces after `patience` bad epochs *more than* ours (Keras's count)
    tsched = LR_SCHED.ReduceLROnPlateau(topt, mode=mode, factor=0.5, patience=patience - 1,
                                        threshold=threshold, threshold_mode=threshold_mode,
                                        cooldown=cooldown, min_lr=1e-3)
    loop = _Loop(opt)
    cb.on_train_begin(loop)
    ours, theirs = [], []
    for epoch, v in enumerate(values):
        cb.on_epoch_end(loop, epoch, {"m": float(v)})
        tsched.step(float(v))
        ours.append(opt.lr)
        theirs.append(topt.param_groups[0]["lr"])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert len(set(ours)) > 2  # it did reduce, several times


def test_reduce_lr_on_plateau_checks_the_new_options():
    with pytest.raises(ValueError,
                       match="ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs'"):
        rb.callbacks.ReduceLROnPlateau(threshold_mode="relative")
    with pytest.raises(ValueError, match="ReduceLROnPlateau: threshold must be finite"):
        rb.callbacks.ReduceLROnPlateau(threshold=-1.0)
    with pytest.raises(ValueError, match="ReduceLROnPlateau: cooldown"):
        rb.callbacks.ReduceLROnPlateau(cooldown=-1)


# -- clip_grad_norm(norm_type=) -------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, "inf", 3.0, 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_norm_type_matches_torch(dtype, norm_type, max_norm):
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=s).astype(dtype) for s in SHAPES]
    params = [rb.nn.Parameter(np.zeros(s, dtype=dtype)) for s in SHAPES]
    tparams = [torch.zeros(s, dtype=getattr(torch, np.dtype(dtype).name), requires_grad=True)
               for s in SHAPES]
    for p, tp, g in zip(params, tparams, grads):
        p.grad = g.copy()
        tp.grad = torch.tensor(g)
    norm = rb.optim.clip_grad_norm(params, max_norm, norm_type=norm_type)
    tnorm = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type=norm_type)
    tol = TOL[dtype]
    assert norm == pytest.approx(float(tnorm), rel=tol["rtol"] * 10)
    for p, tp in zip(params, tparams):
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=tol["rtol"] * 10,
                                   atol=tol["atol"])
    # the flat vector of an optimizer: the same norm
    opt = rb.optim.SGD([rb.nn.Parameter(np.zeros(s, dtype=dtype)) for s in SHAPES], lr=0.1)
    for p, g in zip(opt.params, grads):
        p.grad[...] = g
    assert rb.optim.clip_grad_norm(opt, max_norm, norm_type=norm_type) == pytest.approx(
        float(tnorm), rel=tol["rtol"] * 10)


@pytest.mark.parametrize("bad", [0, -2.0, "two", None, float("nan")])
def test_clip_grad_norm_refuses_a_bad_norm_type(bad):
    vec = rb.nn.ParameterVector([rb.nn.Parameter(np.zeros(2))])
    with pytest.raises(ValueError, match="clip_grad_norm: norm_type must be a number p > 0"):
        rb.optim.clip_grad_norm(vec, 1.0, norm_type=bad)
