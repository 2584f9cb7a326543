"""One optimizer step is the same handful of array operations whatever the depth of the network."""

import sys

import numpy as np
import pytest

import rosenblatt as rb


def _calls_in_step(opt):
    """The number of C-level calls (NumPy operations ...) made by one ``opt.step()``."""
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        if event == "c_call":
            count += 1

    sys.setprofile(profile)
    try:
        opt.step()
    finally:
        sys.setprofile(None)
    return count


def _net(layers, width=8):
    return rb.nn.Sequential(*[rb.nn.Dense(width, width, rng=i) for i in range(layers)])


@pytest.mark.parametrize("make", [
    lambda ps: rb.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
    lambda ps: rb.optim.Adam(ps, weight_decay=1e-4),
    lambda ps: rb.optim.Adagrad(ps),
    lambda ps: rb.optim.Adadelta(ps),
    lambda ps: rb.optim.RMSprop(ps, momentum=0.9, centered=True),
    lambda ps: rb.optim.Rprop(ps, variant="rprop+"),
    lambda ps: rb.optim.AdaptiveGains(ps, lr=0.1, momentum=0.5),
])
def test_step_cost_does_not_grow_with_layer_count(make):
    counts = []
    for layers in (2, 20):
        opt = make(_net(layers).parameters())
        opt.vec.grad[:] = np.linspace(-1, 1, opt.vec.size)
        opt.step()  # first step (lazy state)
        counts.append(_calls_in_step(opt))
    assert counts[0] == counts[1]
    assert counts[0] < 40
