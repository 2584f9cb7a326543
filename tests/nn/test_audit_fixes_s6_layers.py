"""Audit s6 (nn layers, first half) fixes: float16 batch norm and softmax sum in float32;
activation arguments must be finite numbers (constructor and saved files); functional
batch_norm checks momentum/eps; kmax_pool ranks NaN above +inf; a conv layer keeps its
padding in plain ints; parameters() and repr survive a back-reference; errors raised
inside conv/batch_norm/dropout name the layer; the direct conv's weight gradient and the
thread count."""

import threading

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import nn
from rosenblatt.autodiff import _kernels
from rosenblatt.nn import functional as F

T = rb.tensor


# -- 1: float16 batch norm ----------------------------------------------------------------------

def test_float16_batch_norm_sums_in_float32(rng):
    # 4,096 values of mean 20 per channel: the float16 sum (81,920) passes float16's 65,504
    x = (rng.standard_normal((64, 2, 8, 8)) + 20).astype(np.float16)
    bn = nn.BatchNorm2d(2, dtype=np.float16)
    tx = T(x, requires_grad=True)
    y = bn(tx)
    assert y.data.dtype == np.float16
    ref = (x - x.mean(axis=(0, 2, 3), dtype=np.float64, keepdims=True)) / np.sqrt(
        x.var(axis=(0, 2, 3), dtype=np.float64, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y.data.astype(np.float64), ref, atol=1e-2)
    np.testing.assert_allclose(bn.running_mean.astype(np.float64),
                               0.1 * x.mean(axis=(0, 2, 3), dtype=np.float64), rtol=1e-3)
    assert np.isfinite(bn.running_var).all()
    g = rng.standard_normal(x.shape).astype(np.float16)
    y.backward(g)
    assert tx.grad.dtype == np.float16 and np.isfinite(tx.grad).all()
    assert bn.gamma.grad.dtype == np.float16 and bn.beta.grad.dtype == np.float16
    np.testing.assert_allclose(bn.beta.grad.astype(np.float64),
                               g.sum(axis=(0, 2, 3), dtype=np.float64), rtol=1e-3)


def test_float32_batch_norm_unchanged(rng):
    x = rng.standard_normal((16, 3)).astype(np.float32)
    y = nn.BatchNorm1d(3)(T(x, requires_grad=True))
    assert y.data.dtype == np.float32
    ref = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(y.data, ref, atol=1e-5)


# -- 2: activation arguments --------------------------------------------------------------------

@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.LeakyReLU(float("nan")), ValueError, r"LeakyReLU: slope must be a finite"),
    (lambda: nn.LeakyReLU(float("inf")), ValueError, r"LeakyReLU: slope must be a finite"),
    (lambda: nn.LeakyReLU("nan"), TypeError, r"LeakyReLU: slope must be a number; got str"),
    (lambda: nn.LeakyReLU("0.2"), TypeError, r"LeakyReLU: slope must be a number"),
    (lambda: nn.LeakyReLU(True), TypeError, r"LeakyReLU: slope must be a number; got bool"),
    (lambda: nn.Step(float("nan")), ValueError, r"Step: threshold must be a finite"),
    (lambda: nn.Sign("inf"), TypeError, r"Sign: threshold must be a number"),
    (lambda: nn.PReLU(2, init=float("nan")), ValueError, r"PReLU: init must be a finite"),
    (lambda: nn.RReLU(0.1, float("inf")), ValueError, r"RReLU: upper must be a finite"),
    (lambda: nn.RReLU("0.1", 0.2), TypeError, r"RReLU: lower must be a number"),
])
def test_activation_arguments_must_be_finite_numbers(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_activation_arguments_still_take_numbers():
    assert nn.LeakyReLU(np.float32(0.2)).slope == pytest.approx(0.2)
    assert nn.Step(1).threshold == 1.0 and nn.Sign(-1).threshold == -1.0
    assert nn.PReLU(2, init=0).weight.data.tolist() == [0.0, 0.0]
    assert (nn.RReLU(0, 1).lower, nn.RReLU(0, 1).upper) == (0.0, 1.0)


def test_functional_rrelu_refuses_an_infinite_upper():
    with pytest.raises(ValueError, match=r"rrelu: need 0 <= lower <= upper, finite"):
        F.rrelu(T([-1.0]), 0.1, float("inf"), training=True, rng=0)


def test_a_saved_slope_string_is_refused(tmp_path):
    model = nn.Sequential(nn.Dense(2, 2, rng=0), nn.LeakyReLU())
    spec = rb.nn.registry.spec_of(model)
    spec["config"]["layers"][1]["__module__"]["config"]["slope"] = "nan"
    with pytest.raises(rb.nn.registry.SpecError, match=r"LeakyReLU: slope must be a number"):
        rb.nn.registry.build(spec)


# -- 3: functional batch_norm arguments ---------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    ({"momentum": 5.0}, ValueError, r"batch_norm: momentum must be in \[0, 1\]; got 5.0"),
    ({"momentum": float("nan")}, ValueError, r"batch_norm: momentum must be finite"),
    ({"momentum": None}, TypeError, r"batch_norm: momentum must be a number"),
    ({"eps": -1.0}, ValueError, r"batch_norm: eps must be finite and > 0"),
    ({"eps": 0.0}, ValueError, r"batch_norm: eps must be finite and > 0"),
])
def test_functional_batch_norm_checks_momentum_and_eps(rng, kwargs, error, match):
    x = rng.standard_normal((8, 3)).astype(np.float32)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    with pytest.raises(error, match=match):
        F.batch_norm(x, np.ones(3), np.zeros(3), rm, rv, training=True, **kwargs)
    assert rm.tolist() == [0, 0, 0] and rv.tolist() == [1, 1, 1]  # untouched


# -- 4: kmax_pool and NaN -----------------------------------------------------------------------

def test_kmax_pool_ranks_nan_above_inf():
    x = np.array([[np.inf, 1.0, np.nan, 2.0]])
    assert np.isnan(F.kmax_pool(x, 1).data).all()
    np.testing.assert_array_equal(F.kmax_pool(x, 2).data, [[np.inf, np.nan]])  # original order
    y = F.kmax_pool(np.array([[3.0, np.nan, 5.0, np.nan, 4.0]]), 3)
    np.testing.assert_array_equal(y.data, [[np.nan, 5.0, np.nan]])


def test_kmax_pool_ties_and_other_axes():
    x = np.array([[[1.0, 2.0, 2.0, 0.0], [np.inf, -np.inf, np.nan, 0.0]]])
    tx = T(x, requires_grad=True)
    y = F.kmax_pool(tx, 2)
    np.testing.assert_array_equal(y.data, [[[2.0, 2.0], [np.inf, np.nan]]])
    y.backward(np.ones(y.shape))
    np.testing.assert_array_equal(tx.grad, [[[0, 1, 1, 0], [1, 0, 1, 0]]])
    x2 = np.array([[5.0, 5.0, 1.0, 7.0]])  # ties: the earlier one
    assert F.kmax_pool(x2, 2).data.tolist() == [[5.0, 7.0]]
    np.testing.assert_array_equal(F.kmax_pool(x, 1, axis=1).data, [[[np.inf, 2.0, np.nan, 0.0]]])


# -- 5: float16 softmax -------------------------------------------------------------------------

def test_float16_softmax_sums_in_float32():
    x = np.zeros((2, 70000), np.float16)
    y = F.softmax(x).data
    assert y.dtype == np.float16
    # 1/70000 is subnormal in float16 (10 significant bits less the exponent's shortfall)
    np.testing.assert_allclose(y.astype(np.float64), 1 / 70000, rtol=5e-3)
    keep = np.ones(x.shape, bool)
    keep[:, :10] = False
    ym = F.masked_softmax(x, keep).data
    assert ym.dtype == np.float16 and (ym[:, :10] == 0).all()
    np.testing.assert_allclose(ym[:, 10:].astype(np.float64), 1 / 69990, rtol=5e-3)


# -- 6: conv padding in plain ints --------------------------------------------------------------

@pytest.mark.parametrize("padding, kept", [
    (np.array([1, 0]), (1, 0)), ([1, 2], (1, 2)), (np.int64(1), 1), (1, 1), ("same", "same"),
])
def test_conv2d_keeps_padding_in_plain_types(padding, kept):
    c = nn.Conv2d(1, 1, 3, padding=padding, rng=0)
    assert c.padding == kept and type(c.padding) is type(kept)
    repr(c)
    with pytest.raises(ValueError, match=r"Conv2d\(1, 1, kernel_size=\(3, 3\).*with 1 channels"):
        c(T(np.zeros((1, 2, 5, 5), np.float32)))


def test_conv_with_array_padding_saves_and_loads(tmp_path):
    c = nn.Conv1d(1, 1, 3, padding=np.array([2]), rng=0)
    assert c.padding == (2,)
    rb.save(c, tmp_path / "c")
    back = rb.load(tmp_path / "c")
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 6)
    np.testing.assert_array_equal(back(T(x)).data, c(T(x)).data)


# -- 7: back-references -------------------------------------------------------------------------

class _Child(nn.Module):
    def __init__(self):
        self.W = nn.Parameter(np.ones((2, 2), np.float32))

    def forward(self, x):
        return x


class _Parent(nn.Module):
    def __init__(self):
        self.b = nn.Parameter(np.zeros(2, np.float32))
        self.child = _Child()
        self.child.owner = self  # a back-reference

    def forward(self, x):
        return self.child(x)


def test_parameters_and_state_dict_survive_a_back_reference():
    m = _Parent()
    # the walk once looped forever here: a daemon thread keeps a regression from hanging
    # the suite (it fails after 5 s instead)
    found = []
    walker = threading.Thread(target=lambda: found.extend(m.named_parameters()), daemon=True)
    walker.start()
    walker.join(5)
    assert not walker.is_alive(), "named_parameters() did not return on a back-reference"
    assert [name for name, _ in found] == ["b", "child.W"]
    assert m.num_parameters() == 6
    assert list(m.state_dict()) == ["b", "child.W"]
    m.load_state_dict(m.state_dict())
    assert [name for name, _ in m.child.named_parameters()] == ["W", "owner.b"]


def test_repr_shows_a_back_reference_once():
    text = repr(_Parent())
    assert "(owner): <back-reference to _Parent>" in text
    assert text.count("_Child(") == 1


def test_repr_of_a_shared_module_is_printed_in_full():
    d = nn.Dense(2, 2, rng=0)
    text = repr(nn.Sequential(d, nn.ReLU(), d))
    assert text.count("Dense(2, 2)") == 2


# -- 8: errors name the layer -------------------------------------------------------------------

def test_conv_layers_name_themselves_in_kernel_errors():
    with pytest.raises(ValueError, match=r"^Conv2d\(2, 3, kernel_size=\(5, 5\)\): the kernel "
                                         r"\(5, 5\) is larger"):
        nn.Conv2d(2, 3, 5, rng=0)(T(np.zeros((2, 2, 3, 3), np.float32)))
    with pytest.raises(ValueError, match=r"^Conv1d\(2, 3, kernel_size=5\): the kernel \(5\) is "
                                         r"longer than the padded input \(3\) \(input shape "
                                         r"\(2, 2, 3\), padding \(0, 0\)\)"):
        nn.Conv1d(2, 3, 5, rng=0)(T(np.zeros((2, 2, 3), np.float32)))
    with pytest.raises(ValueError, match=r"^conv1d: the kernel \(4\) is longer than the padded "
                                         r"input \(2\)"):
        F.conv1d(np.zeros((1, 1, 2)), np.zeros((1, 1, 4)))


def test_batch_norm_and_dropout_name_the_layer():
    with pytest.raises(ValueError, match=r"^BatchNorm1d\(3\): training needs more than one"):
        nn.BatchNorm1d(3)(T(np.zeros((1, 3), np.float32)))
    with pytest.raises(TypeError, match=r"^Dropout\(rate=0.5\): expected real numbers"):
        nn.Dropout(0.5, rng=0)(np.array([object()] * 3))
    with pytest.raises(TypeError, match=r"^dropout: expected real numbers"):
        F.dropout(np.array(["a"]), 0.5, rng=0)
    assert F.dropout([1.0, 2.0], 0.0).data.tolist() == [1.0, 2.0]


# -- 9: the direct conv's weight gradient and the thread count ----------------------------------

def test_direct_conv_weight_gradient_depends_on_threads_only_in_rounding(rng):
    pytest.importorskip("numba")
    pytest.importorskip("threadpoolctl")
    x = rng.standard_normal((32, 1, 20, 20)).astype(np.float32)
    w = rng.standard_normal((8, 1, 5, 5)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    g = rng.standard_normal((32, 8, 20, 20)).astype(np.float32)
    grads = []
    try:
        for threads in (1, 2, 2):
            rb.set_num_threads(threads)
            tx, tw, tb = (T(a, requires_grad=True) for a in (x, w, b))
            F.conv2d(tx, tw, tb, padding=2).backward(g)
            grads.append((tx.grad, tw.grad, tb.grad))
    finally:
        rb.set_num_threads(1)
    for one, two, again in zip(*grads):
        np.testing.assert_array_equal(two, again)  # the same count: the same bits
        np.testing.assert_allclose(one, two, rtol=1e-5, atol=1e-5 * np.abs(one).max())
    assert "depend on the thread count" in " ".join(
        rb.nn.conv._conv2d_direct.__doc__.split())
    assert "not depend" not in _kernels.run_parts.__doc__.split("Outputs written")[0]
