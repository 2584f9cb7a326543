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


OPTIMIZERS = [  # every flat-vector optimizer, with its state-heavy options on
    lambda ps: rb.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
    lambda ps: rb.optim.Adam(ps, weight_decay=1e-4),
    lambda ps: rb.optim.Adagrad(ps),
    lambda ps: rb.optim.Adadelta(ps),
    lambda ps: rb.optim.RMSprop(ps, momentum=0.9, centered=True),
    lambda ps: rb.optim.Rprop(ps, variant="rprop+"),
    lambda ps: rb.optim.AdaptiveGains(ps, lr=0.1, momentum=0.5),
]


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_step_cost_does_not_grow_with_layer_count(make):
    counts = []
    for layers in (2, 20):
        opt = make(_net(layers).parameters())
        opt.vec.grad[:] = np.linspace(-1, 1, opt.vec.size)
        opt.step()  # first step (lazy state)
        counts.append(_calls_in_step(opt))
    assert counts[0] == counts[1]
    assert counts[0] < 40


@pytest.mark.parametrize("make", OPTIMIZERS + [
    lambda ps: rb.optim.SGD(ps, lr=rb.optim.schedules.InverseTime(0.1, 0.5)),
])
def test_stepping_the_parts_of_theta_one_by_one_is_one_step(make):
    """step_part (a data-parallel rank's shard): the parts of a partition, each stepped with
    its slice of the gradient and of the state, give exactly one whole step."""
    whole, parts = make(_net(3).parameters()), make(_net(3).parameters())
    n = whole.vec.size
    cuts = [slice(0, 64), slice(64, n // 2 + 5), slice(n // 2 + 5, n)]
    g = np.random.default_rng(0)
    for _ in range(4):
        grad = g.normal(size=n)
        whole.vec.grad[:] = grad
        parts.vec.grad[:] = grad
        whole.step()
        t = parts.t
        for cut in cuts:
            parts.t = t  # each part is the same step
            parts.step_part(cut)
        assert parts.t == whole.t
        np.testing.assert_array_equal(parts.vec.data, whole.vec.data)
    for name in whole.state_names:
        a, b = getattr(whole, name), getattr(parts, name)
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)


def test_state_made_lazily_in_a_part_grows_to_the_whole_vector():
    opt = rb.optim.SGD(_net(2).parameters(), lr=0.1)
    opt.momentum = 0.9  # switched on after construction: the velocity is made in the step
    opt.vec.grad[:] = 1.0
    opt.step_part(slice(0, 10))
    assert opt.velocity.shape == opt.vec.data.shape
    assert (opt.velocity[:10] == 1).all() and (opt.velocity[10:] == 0).all()


def test_a_part_leaves_parameters_frozen_since_packing_alone():
    net = _net(2)
    opt = rb.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    first = net.layers[0] if hasattr(net, "layers") else list(net.children())[0]
    first.W.requires_grad = False  # frozen after the optimizer was built (fine-tuning)
    before = opt.vec.data.copy()
    opt.vec.grad[:] = 1.0
    opt.step_part(slice(0, opt.vec.size))
    frozen = opt.vec.slices[[id(p) for p in opt.vec.params].index(id(first.W))]
    np.testing.assert_array_equal(opt.vec.data[frozen], before[frozen])
    assert (opt.vec.data != before).sum() == opt.vec.size - (frozen.stop - frozen.start)


@pytest.mark.parametrize("make", [
    lambda p: rb.optim.SGD(p, lr=0.1),
    lambda p: rb.optim.SGD(p, lr=0.1, momentum=0.9),
    lambda p: rb.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda p: rb.optim.Adam(p, lr=0.01),
    lambda p: rb.optim.Adam(p, lr=0.01, eps_inside_sqrt=True, weight_decay=0.01),
    lambda p: rb.optim.RMSprop(p, lr=0.01),
], ids=["sgd", "momentum", "nesterov_decay", "adam", "adam_notes", "rmsprop"])
@pytest.mark.parametrize("size", [10, 5000])  # the NumPy rules; the compiled passes
def test_step_keep_receives_theta_and_changes_nothing_else(make, size, both):
    rng = np.random.default_rng(4)
    start = rng.standard_normal(size).astype(np.float32)
    grads = [rng.standard_normal(size).astype(np.float32) for _ in range(3)]

    def run(keep):
        p = rb.nn.Parameter(start.copy())
        opt = make([p])
        kept = []
        for g in grads:
            opt.vec.grad[:] = g
            before = opt.vec.data.copy()
            if keep:
                into = np.full_like(before, np.nan)
                opt.step(keep=into)
                np.testing.assert_array_equal(into, before)
            else:
                opt.step()
            kept.append(opt.vec.data.copy())
        return kept

    for with_keep, without in both(lambda: [run(True), run(False)]):
        np.testing.assert_array_equal(with_keep, without)  # bit for bit, either path
    opt = make([rb.nn.Parameter(start.copy())])
    with pytest.raises(ValueError, match=r"step: keep must be shaped like theta"):
        opt.step(keep=np.zeros(size + 1, dtype=np.float32))
