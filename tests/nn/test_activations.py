"""Activations: gradient checks, PyTorch references, stability, modules and errors."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import nn
from rosenblatt.nn import functional as F


def t64(a, grad=True):
    return rb.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def away_from_kinks(rng, shape, kinks=(0.0,)):
    x = rng.normal(size=shape)
    for k in kinks:
        x[np.abs(x - k) < 1e-3] += 0.01
    return x


FUNCTIONS = {
    "sigmoid": (F.sigmoid, ()),
    "tanh": (F.tanh, ()),
    "relu": (F.relu, (0.0,)),
    "leaky_relu": (lambda t: F.leaky_relu(t, 0.1), (0.0,)),
    "hardtanh": (lambda t: F.hardtanh(t, -0.5, 0.7), (-0.5, 0.7)),
    "softmax": (lambda t: F.softmax(t, axis=-1), ()),
    "softmax_axis0": (lambda t: F.softmax(t, axis=0), ()),
    "log_softmax": (F.log_softmax, ()),
    "log_softmax_axis0": (lambda t: F.log_softmax(t, axis=0), ()),
    "identity": (lambda t: F.identity(t) * 1.0, ()),
    "rrelu_eval": (lambda t: F.rrelu(t, training=False), (0.0,)),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradcheck(name, rng):
    fn, kinks = FUNCTIONS[name]
    x = t64(away_from_kinks(rng, (4, 5), kinks))
    assert rb.gradcheck(fn, x)


def test_gradcheck_rrelu_training_uses_the_same_slopes(rng):
    x = t64(away_from_kinks(rng, (4, 5)))
    # a fixed seed per call: the finite differences see the same random slopes
    assert rb.gradcheck(lambda t: F.rrelu(t, training=True, rng=np.random.default_rng(3)), x)


@pytest.mark.parametrize("num_parameters", [1, 3])
def test_gradcheck_prelu(num_parameters, rng):
    x = t64(away_from_kinks(rng, (4, 3, 2)))
    a = t64(rng.uniform(0.1, 0.5, num_parameters))
    assert rb.gradcheck(F.prelu, x, a)


def test_step_and_sign_are_thresholds_with_zero_gradient():
    x = t64([-2.0, 0.0, 0.5])
    s = F.sign(x)
    np.testing.assert_array_equal(s.data, [-1, -1, 1])  # the notes: -1 at the threshold
    np.testing.assert_array_equal(F.step(x).data, [0, 0, 1])
    np.testing.assert_array_equal(F.step(x, threshold=-1).data, [0, 1, 1])
    s.sum().backward()
    np.testing.assert_array_equal(x.grad, 0)


def _compare(torch, ours, theirs, x, rng, module_params=()):
    """Same input, random upstream gradient: outputs and input gradients agree."""
    xt = torch.tensor(x, requires_grad=True)
    xr = t64(x)
    y_ours = ours(xr)
    y_theirs = theirs(xt)
    np.testing.assert_allclose(y_ours.data, y_theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.normal(size=y_ours.shape)
    y_ours.backward(g)
    y_theirs.backward(torch.tensor(g))
    np.testing.assert_allclose(xr.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for p_ours, p_theirs in module_params:
        np.testing.assert_allclose(p_ours.grad, p_theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_leaky_relu_vs_torch(torch, rng):
    x = rng.normal(size=(6, 4))
    x[0, 0] = 0.0  # the kink: both use the slope there
    _compare(torch, nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2), x, rng)
    _compare(torch, nn.LeakyReLU(), torch.nn.LeakyReLU(), x, rng)


@pytest.mark.parametrize("num_parameters", [1, 3])
def test_prelu_vs_torch(torch, rng, num_parameters):
    x = rng.normal(size=(5, 3, 4))
    ours = nn.PReLU(num_parameters, init=0.25).astype(np.float64)
    theirs = torch.nn.PReLU(num_parameters, init=0.25)
    _compare(torch, ours, theirs, x, rng, [(ours.weight, theirs.weight)])


def test_rrelu_eval_vs_torch(torch, rng):
    x = rng.normal(size=(6, 4))
    _compare(torch, nn.RReLU().eval(), torch.nn.RReLU().eval(), x, rng)
    _compare(torch, nn.RReLU(0.1, 0.5).eval(), torch.nn.RReLU(0.1, 0.5).eval(), x, rng)


def test_rrelu_training_slopes_are_in_range_and_random(rng):
    layer = nn.RReLU(0.1, 0.3, rng=rng)
    x = -np.ones((200, 10))
    y = layer(rb.tensor(x)).data
    slopes = -y
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3
    assert slopes.std() > 0.03  # a fresh slope per element
    assert abs(slopes.mean() - 0.2) < 0.01
    np.testing.assert_array_equal(layer(rb.tensor(np.ones((2, 2)))).data, 1)


def test_hardtanh_vs_torch(torch, rng):
    x = rng.normal(size=(6, 5)) * 2
    x[0, :2] = [-1.0, 1.0]  # corners: gradient 0 in both
    _compare(torch, nn.HardTanh(), torch.nn.Hardtanh(), x, rng)
    _compare(torch, nn.HardTanh(-0.5, 2.0), torch.nn.Hardtanh(-0.5, 2.0), x, rng)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_and_log_softmax_vs_torch(torch, rng, axis):
    x = rng.normal(size=(4, 5, 3)) * 3
    _compare(torch, nn.Softmax(axis), torch.nn.Softmax(dim=axis), x, rng)
    _compare(torch, nn.LogSoftmax(axis), torch.nn.LogSoftmax(dim=axis), x, rng)


def test_sigmoid_tanh_relu_vs_torch(torch, rng):
    x = rng.normal(size=(5, 4)) * 3
    _compare(torch, nn.Sigmoid(), torch.nn.Sigmoid(), x, rng)
    _compare(torch, nn.Tanh(), torch.nn.Tanh(), x, rng)
    _compare(torch, nn.ReLU(), torch.nn.ReLU(), x, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_for_huge_inputs(dtype):
    x = rb.tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=dtype),
                  requires_grad=True)
    s = F.softmax(x)
    np.testing.assert_allclose(s.data, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-6)
    ls = F.log_softmax(x)
    np.testing.assert_allclose(ls.data[0], [0, -2e4, -1e4], rtol=1e-6)
    ls.sum().backward()
    assert np.all(np.isfinite(x.grad))
    sig = F.sigmoid(rb.tensor(np.array([1e4, -1e4], dtype=dtype)))
    np.testing.assert_array_equal(sig.data, [1, 0])
    assert s.dtype == dtype and ls.dtype == dtype


def test_float32_stays_float32(rng):
    x = rb.tensor(rng.normal(size=(3, 4)).astype(np.float32))
    for layer in [nn.Sigmoid(), nn.Tanh(), nn.ReLU(), nn.LeakyReLU(), nn.PReLU(), nn.RReLU(),
                  nn.HardTanh(), nn.Softmax(), nn.LogSoftmax(), nn.Step(), nn.Sign(),
                  nn.Identity()]:
        assert layer(x).dtype == np.float32, layer


def test_identity_returns_its_input():
    x = rb.tensor([1.0, 2.0])
    assert nn.Identity()(x) is x


def test_modules_in_a_sequential_and_repr():
    net = nn.Sequential(nn.Dense(3, 4), nn.PReLU(), nn.Dense(4, 2), nn.LogSoftmax())
    text = repr(net)
    assert "PReLU(num_parameters=1)" in text and "LogSoftmax(axis=-1)" in text
    assert net.num_parameters() == 3 * 4 + 4 + 1 + 4 * 2 + 2


def test_errors():
    with pytest.raises(ValueError, match=r"PReLU: num_parameters must be a positive integer"):
        nn.PReLU(0)
    with pytest.raises(ValueError,
                       match=r"PReLU\(3\): expected input of shape .*; got \(2, 4\)"):
        nn.PReLU(3)(rb.tensor(np.zeros((2, 4))))
    with pytest.raises(ValueError, match="RReLU: need 0 <= lower <= upper"):
        nn.RReLU(0.5, 0.1)
    with pytest.raises(ValueError, match="HardTanh: need min < max"):
        nn.HardTanh(1, -1)
    # array_like is taken, as by Dense and conv2d (audit a8); non-numbers are refused by name
    np.testing.assert_allclose(F.softmax([1.0, 2.0]).data, F.softmax(np.array([1.0, 2.0])).data)
    with pytest.raises(TypeError, match="softmax: expected real numbers"):
        F.softmax({"a": 1.0})
    with pytest.raises(ValueError, match=r"^LogSoftmax: axis 2 is out of range for an input "
                                         r"of shape \(2, 4\)"):
        nn.LogSoftmax(axis=2)(rb.tensor(np.zeros((2, 4))))
    with pytest.raises(ValueError, match=r"softmax: axis -3 is out of range"):
        F.softmax(rb.tensor(np.zeros((2, 4))), axis=-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_select_is_where_bit_for_bit(dtype, rng):
    # the branch-free select of PReLU: the same bits as np.where (NaN payloads, signed
    # zeros, infinities); other dtypes and broadcast shapes go to np.where itself
    from rosenblatt.autodiff.elementwise import select

    a = rng.normal(size=(64, 33)).astype(dtype)
    b = rng.normal(size=(64, 33)).astype(dtype)
    a[0, :4] = [np.nan, -0.0, np.inf, -np.inf]
    b[1, :4] = [-np.nan, 0.0, -np.inf, np.inf]
    mask = rng.random((64, 33)) < 0.5
    mask[0, :4] = True
    mask[1, :4] = False
    got, want = select(mask, a, b), np.where(mask, a, b)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()
    row = b[:1]  # broadcast against the rows
    np.testing.assert_array_equal(select(mask, a, row), np.where(mask, a, row))


def test_prelu_keeps_where_values_at_nan_and_zero(rng):
    x = rng.normal(size=(4, 3, 5)).astype(np.float32)
    x[0, 0, :3] = [np.nan, -0.0, 0.0]
    layer = nn.PReLU(3, init=0.25)
    t = rb.tensor(x, requires_grad=True)
    y = layer(t)
    a = layer.weight.data.reshape(1, 3, 1)
    want = np.where(x > 0, x, a * x)
    assert y.data.tobytes() == want.tobytes()
    g = rng.normal(size=x.shape).astype(np.float32)
    y.backward(g)
    assert t.grad.tobytes() == np.where(x > 0, g, a * g).tobytes()


def test_rrelu_int_seed_gives_a_stream_of_slopes():
    x = rb.tensor(-np.ones((4, 64), np.float32))
    a, b = nn.RReLU(rng=0), nn.RReLU(rng=0)
    first, second = a(x).data, a(x).data
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(b(x).data, first)


@pytest.mark.parametrize("layer", [nn.Softmax, nn.LogSoftmax])
def test_softmax_axis_must_be_an_integer(layer):
    with pytest.raises(TypeError, match=f"{layer.__name__}: axis must be an integer; got 'a'"):
        layer(axis="a")
    with pytest.raises(TypeError, match="axis must be an integer; got 1.5"):
        layer(axis=1.5)


def test_rrelu_in_training_uses_the_random_slope_at_zero_like_torch(torch):
    """d rrelu/dx at x = 0 is the drawn slope (torch, and rrelu in eval: leaky_relu'(0))."""
    x = rb.tensor(np.array([-1.0, 0.0, 2.0, -0.0], np.float32), requires_grad=True)
    y = F.rrelu(x, 0.2, 0.3, training=True, rng=np.random.default_rng(0))
    y.backward(np.ones(4, np.float32))
    slopes = x.grad
    assert 0.2 <= slopes[0] <= 0.3 and 0.2 <= slopes[1] <= 0.3 and 0.2 <= slopes[3] <= 0.3
    assert slopes[2] == 1 and y.data[1] == 0
    xt = torch.tensor([0.0], requires_grad=True)
    torch.nn.functional.rrelu(xt, 0.2, 0.3, training=True).backward()
    assert 0.2 <= xt.grad.item() <= 0.3


def test_hardtanh_keeps_float32_with_numpy_scalar_bounds():
    x = rb.tensor(np.linspace(-3, 3, 7, dtype=np.float32), requires_grad=True)
    y = F.hardtanh(x, np.float64(-1), np.sqrt(6.0) / 2)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, np.clip(x.data, -1, np.sqrt(6.0) / 2), rtol=1e-6)
    y.backward(np.ones(7, np.float32))
    assert x.grad.dtype == np.float32 and list(x.grad) == [0, 0, 0, 1, 1, 0, 0]


@pytest.mark.parametrize("keep", [[[0.0, -np.inf, -np.inf]], [[0.2, 0.7, 0.0]], [[2, 1, 0]]])
def test_masked_softmax_rejects_masks_that_are_not_boolean(keep):
    """A PyTorch-style additive mask (0 = attend, -inf = blocked) cast to bool would block
    exactly the wanted positions: only bools or exact 0/1 are taken."""
    x = rb.tensor(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="masked_softmax: keep must be boolean"):
        F.masked_softmax(x, np.array(keep))


def test_masked_softmax_takes_exact_zero_one_numbers_as_a_mask():
    x = rb.tensor(np.zeros((1, 3), np.float32))
    expected = [[0.5, 0.5, 0.0]]
    for keep in ([[1, 1, 0]], [[1.0, 1.0, 0.0]], [[True, True, False]]):
        np.testing.assert_allclose(F.masked_softmax(x, np.array(keep)).data, expected)


@pytest.mark.parametrize("op", ["softmax", "log_softmax", "masked_softmax"])
def test_softmaxes_over_an_empty_axis_give_empty_results_like_torch(op):
    torch = pytest.importorskip("torch")
    x = rb.tensor(np.zeros((2, 0), np.float32), requires_grad=True)
    if op == "masked_softmax":
        y = rb.nn.functional.masked_softmax(x, np.ones((2, 0), bool))
    else:
        y = getattr(rb.nn.functional, op)(x)
    ref = getattr(torch, "softmax" if op == "masked_softmax" else op)(torch.zeros(2, 0), -1)
    assert y.shape == tuple(ref.shape) == (2, 0)
    y.sum().backward()
    assert x.grad.shape == (2, 0)
