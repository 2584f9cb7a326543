"""Audit r2 fixes: a Parameter slot refuses a non-Parameter; list operands take the input's
dtype; rnn/gru/lstm, batch_norm and prelu check every operand's shape up front; float16
L2 pooling accumulates in float32."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import nn
from rosenblatt.nn import functional as F

T = rb.tensor


# -- 4: assigning an array to a Parameter slot ---------------------------------------------------

def _layers():
    return [(nn.Dense(3, 2, rng=0), "W"), (nn.Dense(3, 2, rng=0), "b"),
            (nn.Embedding(5, 2, rng=0), "W"), (nn.BatchNorm1d(3), "gamma"),
            (nn.PReLU(), "weight"), (nn.RBF(3, 2, rng=0), "centers"),
            (nn.Conv2d(1, 2, 3, rng=0), "W")]


@pytest.mark.parametrize("kind", ["ndarray", "list", "tensor"])
def test_a_parameter_slot_refuses_a_non_parameter(kind):
    for layer, name in _layers():
        old = getattr(layer, name)
        value = {"ndarray": np.array(old.data), "list": old.data.tolist(),
                 "tensor": T(old.data)}[kind]
        cls = type(layer).__name__
        with pytest.raises(TypeError, match=rf"^{cls}\.{name} is a Parameter.*"
                                            rf"rb\.nn\.Parameter.*{name}\.data\[\.\.\.\]"):
            setattr(layer, name, value)
        assert getattr(layer, name) is old  # nothing changed
        assert name in dict(layer.named_parameters())


def test_a_parameter_slot_takes_a_parameter_or_none():
    d = nn.Dense(3, 2, rng=0)
    new = nn.Parameter(np.ones((3, 2), np.float32))
    d.W = new
    assert d.W is new and dict(d.named_parameters())["W"] is new
    d.b = None  # no bias, as PyTorch allows
    assert [n for n, _ in d.named_parameters()] == ["W"]
    d.W.data[...] = 2  # in place: the documented way to set values
    np.testing.assert_array_equal(d(np.ones((1, 3), np.float32)).data, [[6, 6]])
    d.other = np.zeros(3)  # an attribute that holds no Parameter: anything goes
    d.other = [1, 2]


def test_model_clone_tie_and_load_still_work_with_the_guard(tmp_path):
    net = nn.Sequential(nn.Dense(3, 4, rng=0), nn.Tanh(), nn.Dense(4, 3, rng=1))
    net.tie("2.b", nn.Parameter(np.zeros(3, np.float32)))
    copy = net.clone()
    assert copy[0].W is not net[0].W
    rb.save(net, tmp_path / "n.st")
    back = rb.load(tmp_path / "n.st")
    np.testing.assert_array_equal(back[0].W.data, net[0].W.data)


# -- 5: list operands take the input's dtype -----------------------------------------------------

def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def test_list_operands_take_the_dtype_of_x(rng):
    x2, x3, x4 = _f32(rng, 4, 3), _f32(rng, 2, 5, 3), _f32(rng, 2, 1, 5, 5)
    W, b = _f32(rng, 3, 2), _f32(rng, 2)
    H = 2
    Wx = {g: _f32(rng, 3, g * H) for g in (1, 3, 4)}
    Wh = {g: _f32(rng, H, g * H) for g in (1, 3, 4)}
    zeros, ones = np.zeros(3, np.float32), np.ones(3, np.float32)
    cases = {
        "dense": (lambda lst: F.dense(x2, *lst), [W, b]),
        "prelu": (lambda lst: F.prelu(x2, *lst), [np.array([0.25], np.float32)]),
        "batch_norm": (lambda lst: F.batch_norm(x2, *lst, zeros.copy(), ones.copy()),
                       [ones + 0.5, zeros + 0.1]),
        "rnn": (lambda lst: F.rnn(x3, *lst), [Wx[1], Wh[1], _f32(rng, H)]),
        "gru": (lambda lst: F.gru(x3, *lst), [Wx[3], Wh[3], _f32(rng, 3 * H), _f32(rng, H)]),
        "lstm": (lambda lst: F.lstm(x3, *lst[:3], peephole=lst[3])[0],
                 [Wx[4], Wh[4], _f32(rng, 4 * H), _f32(rng, 3, H)]),
        "rbf": (lambda lst: F.rbf(x2, *lst), [_f32(rng, 2, 3), np.ones(2, np.float32)]),
        "conv2d": (lambda lst: F.conv2d(x4, *lst), [_f32(rng, 2, 1, 3, 3), _f32(rng, 2)]),
        "conv1d": (lambda lst: F.conv1d(x4[:, :, 0], *lst), [_f32(rng, 2, 1, 3), _f32(rng, 2)]),
    }
    for name, (op, arrays) in cases.items():
        ref = op(arrays)
        assert ref.dtype == np.float32, name
        got = op([a.tolist() for a in arrays])
        assert got.dtype == np.float32, f"{name}: list operands gave {got.dtype}"
        np.testing.assert_allclose(got.data, ref.data, rtol=1e-6, atol=1e-6, err_msg=name)
    # a Python scalar is as weak as a list; an ndarray keeps its own dtype
    assert F.prelu(x2, 0.25).dtype == np.float32
    assert F.dense(x2, W.astype(np.float64)).dtype == np.float64
    assert F.dense(x2.astype(np.float64), W.tolist()).dtype == np.float64


# -- 9: every operand's shape checked up front ---------------------------------------------------

H = 4


@pytest.mark.parametrize("call, match", [
    (lambda f, x: F.rnn(x, f(3, H), f(H, H), f(1)), r"^rnn: b must have shape \(4,\).*\(1,\)"),
    (lambda f, x: F.rnn(x, f(3, H), f(H, H), f(H, 1)), r"^rnn: b must have shape \(4,\).*\(4, 1\)"),
    (lambda f, x: F.gru(x, f(3, 3 * H), f(H, 3 * H), f(1)), r"^gru: b must have shape \(12,\)"),
    (lambda f, x: F.gru(x, f(3, 3 * H), f(H, 3 * H), f(3 * H), f(1)),
     r"^gru: b_hn must have shape \(4,\).*\(1,\)"),
    (lambda f, x: F.lstm(x, f(3, 4 * H), f(H, 4 * H), f(1)), r"^lstm: b must have shape \(16,\)"),
    (lambda f, x: F.lstm(x, f(3, 3 * H), f(H, 3 * H), f(4 * H), coupled=True),
     r"^lstm: b must have shape \(12,\).*\(16,\)"),
    (lambda f, x: F.lstm(x, f(3, 4 * H), f(H, 4 * H), peephole=f(1, H)),
     r"^lstm: peephole must have shape \(3, 4\).*\(1, 4\)"),
    (lambda f, x: F.lstm(x, f(3, 4 * H), f(H, 4 * H), peephole=f(3, 1)),
     r"^lstm: peephole must have shape \(3, 4\).*\(3, 1\)"),
    (lambda f, x: F.batch_norm(f(4, 3), f(1), f(3), np.zeros(3), np.ones(3)),
     r"^batch_norm: gamma must have shape \(3,\).*\(1,\)"),
    (lambda f, x: F.batch_norm(f(4, 3), f(3), f(3, 1), np.zeros(3), np.ones(3)),
     r"^batch_norm: beta must have shape \(3,\).*\(3, 1\)"),
    (lambda f, x: F.batch_norm(f(4, 3), f(3), f(3), np.zeros(1), np.ones(3), training=False),
     r"^batch_norm: running_mean must have shape \(3,\).*\(1,\)"),
    (lambda f, x: F.batch_norm(f(4, 3), f(3), f(3), np.zeros(3), np.ones(2)),
     r"^batch_norm: running_var must have shape \(3,\).*\(2,\)"),
    (lambda f, x: F.batch_norm(f(4), f(3), f(3), np.zeros(3), np.ones(3)),
     r"^batch_norm: input must be \(batch, channels"),
    (lambda f, x: F.prelu(f(4, 3), f(3, 1)), r"^prelu: weight must have shape \(1,\) or \(3,\)"),
    (lambda f, x: F.prelu(f(4, 3), f(1, 1)), r"^prelu: weight must have shape \(1,\) or \(3,\)"),
    (lambda f, x: F.prelu(f(4, 3), f(2)), r"^PReLU\(2\): expected input of shape \(batch, 2"),
])
def test_operand_shapes_are_checked_up_front(call, match, rng):
    def f(*shape):
        return T(rng.standard_normal(shape).astype(np.float32), requires_grad=True)

    with pytest.raises(ValueError, match=match):
        call(f, rng.standard_normal((2, 5, 3)).astype(np.float32))


def test_batch_norm_running_statistics_must_be_float_arrays_in_training(rng):
    x = rng.standard_normal((8, 3)).astype(np.float32) + 5
    g, b = np.ones(3, np.float32), np.zeros(3, np.float32)
    with pytest.raises(TypeError, match=r"^batch_norm: running_mean must be a float ndarray "
                                        r"\(it is updated in place\); got list"):
        F.batch_norm(x, g, b, [0.0, 0.0, 0.0], np.ones(3, np.float32))
    with pytest.raises(TypeError, match=r"^batch_norm: running_var must be a float ndarray.*"
                                        r"int64"):
        F.batch_norm(x, g, b, np.zeros(3, np.float32), np.ones(3, np.int64))
    # in evaluation nothing is written: lists are fine, and they take x's dtype
    y = F.batch_norm(x, g, b, [0.0] * 3, [1.0] * 3, training=False)
    assert y.dtype == np.float32
    ref = F.batch_norm(x, g, b, np.zeros(3, np.float32), np.ones(3, np.float32), training=False)
    np.testing.assert_array_equal(y.data, ref.data)


def test_prelu_one_slope_still_takes_any_shape(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    for w in ([0.25], 0.25, np.array(0.25, np.float32)):
        np.testing.assert_allclose(F.prelu(x, w).data, np.where(x > 0, x, 0.25 * x))


# -- 12: float16 L2 pooling ----------------------------------------------------------------------

def test_l2_pool2d_float16_accumulates_in_float32(torch, rng):
    x = np.full((1, 1, 2, 2), 200.0, np.float16)
    y = F.l2_pool2d(x, 2)
    assert y.dtype == np.float16
    np.testing.assert_array_equal(y.data.ravel(), [400.0])
    x = (rng.uniform(-1, 1, (2, 3, 7, 6)) * 2000).astype(np.float16)
    t = torch.tensor(x.astype(np.float32), requires_grad=True)
    ref = torch.nn.functional.lp_pool2d(t, 2, (3, 2), (2, 1))
    xt = T(x, requires_grad=True)
    y = F.l2_pool2d(xt, (3, 2), (2, 1))
    assert y.dtype == np.float16
    np.testing.assert_allclose(y.data, ref.detach().numpy(), rtol=1e-3)
    g = rng.normal(size=y.shape).astype(np.float16)
    y.backward(g)
    ref.backward(torch.tensor(g.astype(np.float32)))
    assert xt.grad.dtype == np.float16
    np.testing.assert_allclose(xt.grad, t.grad.numpy(), rtol=2e-3, atol=2e-3)
