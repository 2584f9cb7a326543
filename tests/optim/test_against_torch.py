"""Each optimizer's 20-step trajectory equals PyTorch's (same start, same gradients).

The gradients come from a fixed, non-quadratic function of the parameters
(so they change along the trajectory) and are written into both libraries'
``.grad`` by hand: the comparison isolates the update rules.
"""

import numpy as np
import pytest

import rosenblatt as rb

SHAPES = [(3, 4), (4,), (4, 2), (2,)]


def _grad_fn(theta):
    """A smooth gradient field with mixed signs and scales (incl. sign changes for Rprop)."""
    return np.sin(3.0 * theta) + 0.3 * theta**3 - 0.5


def _run_pair(torch, make_ours, make_torch, steps=20, seed=0):
    rng = np.random.default_rng(seed)
    inits = [rng.normal(size=s) for s in SHAPES]
    ours = [rb.nn.Parameter(x.copy()) for x in inits]
    theirs = [torch.tensor(x.copy(), requires_grad=True) for x in inits]
    opt, topt = make_ours(ours), make_torch(theirs)
    for _ in range(steps):
        opt.zero_grad()
        topt.zero_grad()
        for p, tp in zip(ours, theirs):
            g = _grad_fn(p.data)
            p.grad = g  # after zero_grad() (grads None), assigned as in PyTorch
            tp.grad = torch.tensor(g.copy())
        opt.step()
        topt.step()
        for p, tp in zip(ours, theirs):
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-10, atol=1e-12)
    return ours


CASES = {
    "sgd": (lambda ps: rb.optim.SGD(ps, lr=0.05), lambda t, ps: t.optim.SGD(ps, lr=0.05)),
    "sgd_wd": (lambda ps: rb.optim.SGD(ps, lr=0.05, weight_decay=0.1),
               lambda t, ps: t.optim.SGD(ps, lr=0.05, weight_decay=0.1)),
    "momentum": (lambda ps: rb.optim.SGD(ps, lr=0.05, momentum=0.9),
                 lambda t, ps: t.optim.SGD(ps, lr=0.05, momentum=0.9)),
    "nesterov": (lambda ps: rb.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
                 lambda t, ps: t.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True)),
    "nesterov_wd": (
        lambda ps: rb.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
        lambda t, ps: t.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    "adam": (lambda ps: rb.optim.Adam(ps, lr=0.05), lambda t, ps: t.optim.Adam(ps, lr=0.05)),
    "adam_betas_wd": (
        lambda ps: rb.optim.Adam(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        lambda t, ps: t.optim.Adam(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    "adagrad": (lambda ps: rb.optim.Adagrad(ps, lr=0.1), lambda t, ps: t.optim.Adagrad(ps, lr=0.1)),
    "adagrad_options": (
        lambda ps: rb.optim.Adagrad(ps, lr=0.1, lr_decay=0.01, weight_decay=0.1,
                                    initial_accumulator_value=0.5, eps=1e-6),
        lambda t, ps: t.optim.Adagrad(ps, lr=0.1, lr_decay=0.01, weight_decay=0.1,
                                      initial_accumulator_value=0.5, eps=1e-6)),
    "adadelta": (lambda ps: rb.optim.Adadelta(ps), lambda t, ps: t.optim.Adadelta(ps)),
    "adadelta_options": (
        lambda ps: rb.optim.Adadelta(ps, lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.05),
        lambda t, ps: t.optim.Adadelta(ps, lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.05)),
    "rmsprop": (lambda ps: rb.optim.RMSprop(ps, lr=0.01, rho=0.9),
                lambda t, ps: t.optim.RMSprop(ps, lr=0.01, alpha=0.9)),
    "rmsprop_momentum": (lambda ps: rb.optim.RMSprop(ps, lr=0.01, rho=0.95, momentum=0.9),
                         lambda t, ps: t.optim.RMSprop(ps, lr=0.01, alpha=0.95, momentum=0.9)),
    "rmsprop_centered": (
        lambda ps: rb.optim.RMSprop(ps, lr=0.01, centered=True, momentum=0.5, weight_decay=0.1),
        lambda t, ps: t.optim.RMSprop(ps, lr=0.01, alpha=0.9, centered=True, momentum=0.5,
                                      weight_decay=0.1)),
    "rprop": (lambda ps: rb.optim.Rprop(ps), lambda t, ps: t.optim.Rprop(ps)),
    "rprop_options": (
        lambda ps: rb.optim.Rprop(ps, lr=0.1, etas=(0.3, 1.5), step_sizes=(1e-3, 0.5)),
        lambda t, ps: t.optim.Rprop(ps, lr=0.1, etas=(0.3, 1.5), step_sizes=(1e-3, 0.5))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_trajectory_matches_pytorch(torch, name):
    ours, theirs = CASES[name]
    _run_pair(torch, ours, lambda ps: theirs(torch, ps))


def test_rprop_sees_sign_changes(torch):
    """The comparison above must exercise Rprop's sign-flip branch, or it proves little."""
    params = [rb.nn.Parameter(np.random.default_rng(0).normal(size=s)) for s in SHAPES]
    opt = rb.optim.Rprop(params, lr=0.1, etas=(0.3, 1.5), step_sizes=(1e-3, 0.5))
    flips = 0
    for _ in range(20):
        for p in params:
            p.grad[...] = _grad_fn(p.data)
        flips += int(np.sum(opt.vec.grad * opt.prev_grad < 0))
        opt.step()
    assert flips > 5
