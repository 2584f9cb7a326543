"""Audit s10 (nn layers, first half, third look) fixes: float16 batch norm evaluates with float32
statistics; SparseDense's compiled path writes dW into a Fortran-ordered weight; clone copies a
layer's generator; init= callables are copied; mixed-dtype optimizers refused; HardTanh and the
functional scalars validated; sparse_dense converts and checks its operands; PReLU on 0-d input,
GlobalMaxPool2d on empty maps; activation layers name themselves."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import nn

T = rb.tensor


# -- 1: float16 batch norm in evaluation -------------------------------------------------------

def test_float16_batch_norm_eval_keeps_float32_statistics(rng):
    # std 400: the running variance (~160,000) passes float16's 65,504; cast to float16 it
    # was inf and the layer returned beta (all zeros)
    x32 = (rng.standard_normal((256, 2)) * 400 + np.array([0, 100])).astype(np.float32)
    x16 = x32.astype(np.float16)
    for dtype in (np.float32, np.float64):  # the layer's (a float16 one cannot hold it)
        bn = nn.BatchNorm1d(2, momentum=1.0, dtype=dtype)
        bn(T(x16))
        assert bn.running_var.min() > 65504
        bn.eval()
        with np.errstate(over="raise"):
            y = bn(T(x16)).data
        ref = (x16.astype(np.float64) - bn.running_mean) / np.sqrt(bn.running_var + bn.eps)
        np.testing.assert_allclose(y.astype(np.float64), ref, atol=2e-3)
        assert y.dtype == np.result_type(np.float16, dtype)


def test_float16_batch_norm_eval_gradients(rng):
    x16 = (rng.standard_normal((64, 3)) * 400).astype(np.float16)
    bn = nn.BatchNorm1d(3, momentum=1.0)
    bn(T(x16))
    bn.eval()
    tx = T(x16, requires_grad=True)
    g = rng.standard_normal((64, 3)).astype(np.float32)
    bn(tx).backward(g)
    scale = 1 / np.sqrt(bn.running_var.astype(np.float64) + bn.eps)
    np.testing.assert_allclose(tx.grad.astype(np.float64), g * scale, rtol=2e-3)
    xhat = (x16.astype(np.float64) - bn.running_mean) * scale
    np.testing.assert_allclose(bn.gamma.grad, (g * xhat).sum(0), rtol=1e-2, atol=1e-2)


# -- 2: SparseDense's compiled sparse path with a Fortran-ordered weight -----------------------

def _sparse_weight_grad(layer, x, g):
    layer.W.grad = None
    layer(T(x)).backward(g)
    return layer.W.grad


def test_sparse_dense_weight_grad_with_a_fortran_ordered_weight(rng):
    # density 0.1 < sparse_below: the sparse path (compiled when the kernels are there)
    layer = nn.SparseDense(6, 12, density=0.1, rng=0)
    layer.W = rb.nn.Parameter(np.asfortranarray(layer.W.data))
    assert layer.W.data.flags.f_contiguous and not layer.W.data.flags.c_contiguous
    x = rng.standard_normal((5, 6)).astype(np.float32)
    g = rng.standard_normal((5, 12)).astype(np.float32)
    gw = _sparse_weight_grad(layer, x, g)
    np.testing.assert_allclose(gw, (x.T @ g) * layer.mask, rtol=1e-5, atol=1e-5)
    assert np.abs(gw).max() > 0


def test_orthogonal_init_is_c_ordered(rng):
    for shape in ((3, 5), (5, 3), (2, 3, 4, 4), (8, 2, 2)):
        assert nn.init.orthogonal(shape, rng=0).flags.c_contiguous
    layer = nn.SparseDense(6, 12, density=0.1, init="orthogonal", rng=0)
    assert layer.W.data.flags.c_contiguous
    x = rng.standard_normal((5, 6)).astype(np.float32)
    g = rng.standard_normal((5, 12)).astype(np.float32)
    np.testing.assert_allclose(_sparse_weight_grad(layer, x, g), (x.T @ g) * layer.mask,
                               rtol=1e-5, atol=1e-5)


# -- 4: a callable init's array is copied --------------------------------------------------------

def test_callable_init_array_is_copied():
    pretrained = np.arange(12, dtype=np.float32).reshape(4, 3) + 1
    before = pretrained.copy()
    emb = nn.Embedding(4, 3, init=lambda shape, **kw: pretrained, padding_idx=0)
    np.testing.assert_array_equal(pretrained, before)
    assert not np.shares_memory(emb.W.data, pretrained)
    np.testing.assert_array_equal(emb.W.data[1:], before[1:])
    assert (emb.W.data[0] == 0).all()
    d1 = nn.Dense(4, 3, init=lambda shape, **kw: pretrained)
    d2 = nn.Dense(4, 3, init=lambda shape, **kw: pretrained)
    assert not np.shares_memory(d1.W.data, d2.W.data)
    W0 = np.ones((4, 3), np.float32)
    nn.SparseDense(4, 3, density=0.25, init=lambda shape, **kw: W0, rng=0)
    assert (W0 == 1).all()
    fortran = np.asfortranarray(np.ones((3, 5), np.float32))
    assert nn.Dense(3, 5, init=lambda shape, **kw: fortran).W.data.flags.c_contiguous


# -- 7: sparse_dense converts and checks its operands -------------------------------------------

def test_sparse_dense_takes_arrays_and_lists(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    W = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    mask = rng.random((3, 4)) < 0.5
    ref = x @ (W * mask) + b
    for weight, bias, m in ((W, b, mask), (W.tolist(), b.tolist(), mask.tolist()),
                            (T(W), b, mask.astype(np.int64)), (W, None, mask)):
        y = nn.sparse_dense(x, weight, bias, m)
        want = ref if bias is not None else ref - b
        np.testing.assert_allclose(y.data, want, rtol=1e-6, atol=1e-6)
        assert y.dtype == np.float32
    tx = T(x, requires_grad=True)  # an ndarray bias is a constant: backward runs
    nn.sparse_dense(tx, T(W), b, mask).sum().backward()
    np.testing.assert_allclose(tx.grad, np.ones((2, 4)) @ (W * mask).T, rtol=1e-6)


def test_sparse_dense_checks_operand_shapes(rng):
    x = np.ones((2, 3), np.float32)
    W = np.ones((3, 4), np.float32)
    mask = np.ones((3, 4), bool)
    with pytest.raises(ValueError, match=r"sparse_dense: bias must have shape \(4,\).*got \(1,\)"):
        nn.sparse_dense(x, W, np.ones(1), mask)
    with pytest.raises(ValueError, match=r"sparse_dense: mask must have shape \(3, 4\).*\(3, 1\)"):
        nn.sparse_dense(x, W, None, mask[:, :1])
    with pytest.raises(ValueError, match=r"sparse_dense: mask must have shape \(3, 4\).*\(4,\)"):
        nn.sparse_dense(x, W, None, mask[0])
    with pytest.raises(ValueError, match=r"sparse_dense: weight must be \(in_features, out_"):
        nn.sparse_dense(x, np.ones(3), None, mask)
    with pytest.raises(ValueError, match=r"sparse_dense: expected input of shape \(batch, 3\)"):
        nn.sparse_dense(np.ones((2, 4)), W, None, mask)
    with pytest.raises(ValueError, match=r"sparse_dense: mask must hold bools"):
        nn.sparse_dense(x, W, None, np.full((3, 4), 0.5))
    with pytest.raises(TypeError, match=r"sparse_dense: weight"):
        nn.sparse_dense(x, np.full((3, 4), "a"), None, mask)


# -- 3: clone copies a layer's own generator ---------------------------------------------------

def _seeded_net():
    return nn.Sequential(nn.Dense(8, 8, rng=0), nn.Dropout(0.5, rng=0), nn.RReLU(rng=0))


def test_clone_gets_its_own_generator_in_the_same_state():
    x = T(np.ones((1, 8), np.float32))
    alone = _seeded_net()
    ref = [alone(x).data.copy() for _ in range(3)]
    a = _seeded_net()
    first = a(x).data.copy()
    c = a.clone()
    assert c[1].rng is not a[1].rng and c[2].rng is not a[2].rng
    np.testing.assert_array_equal(c(x).data, ref[1])  # the clone draws what a would have
    np.testing.assert_array_equal(first, ref[0])
    np.testing.assert_array_equal(a(x).data, ref[1])  # a's stream untouched by the clone's draw
    np.testing.assert_array_equal(a(x).data, ref[2])


def test_clone_shares_the_library_generator():
    net = nn.Sequential(nn.Dropout(0.5), nn.Dropout(0.5, rng=rb.randomness.generator()))
    c = net.clone()
    assert c[0].rng is None and c[1].rng is rb.randomness.generator()


# -- 6: HardTanh and the functional scalars are validated -------------------------------------

F = nn.functional


@pytest.mark.parametrize("call, error, match", [
    (lambda x: F.hardtanh(x, "10", "5"), TypeError, r"hardtanh: min must be a number; got str"),
    (lambda x: F.hardtanh(x, True, 2), TypeError, r"hardtanh: min must be a number; got bool"),
    (lambda x: F.hardtanh(x, -1, float("nan")), ValueError, r"hardtanh: max must be a finite"),
    (lambda x: F.hardtanh(x, 1, -1), ValueError, r"hardtanh: need min < max"),
    (lambda x: nn.HardTanh("2", "10"), TypeError, r"HardTanh: min must be a number; got str"),
    (lambda x: nn.HardTanh(True, 2), TypeError, r"HardTanh: min must be a number; got bool"),
    (lambda x: nn.HardTanh(-1, "inf"), TypeError, r"HardTanh: max must be a number; got str"),
    (lambda x: nn.HardTanh(0.0, float("inf")), ValueError, r"HardTanh: max must be a finite"),
    (lambda x: F.leaky_relu(x, slope=float("nan")), ValueError,
     r"leaky_relu: slope must be a finite number; got nan"),
    (lambda x: F.leaky_relu(x, slope="0.2"), TypeError, r"leaky_relu: slope must be a number"),
    (lambda x: F.step(x, threshold=float("nan")), ValueError, r"step: threshold must be a finite"),
    (lambda x: F.sign(x, threshold=float("nan")), ValueError, r"sign: threshold must be a finite"),
    (lambda x: F.sign(x, threshold="0"), TypeError, r"sign: threshold must be a number"),
    (lambda x: F.rrelu(x, "0.1", 0.3), TypeError, r"rrelu: lower must be a number"),
    (lambda x: F.rrelu(x, float("nan"), 0.3), ValueError, r"rrelu: need 0 <= lower <= upper"),
])
def test_activation_scalars_are_validated(call, error, match):
    with pytest.raises(error, match=match):
        call(T([-2.0, -0.5, 0.5, 2.0]))


def test_activation_scalars_still_take_numbers():
    x = T([-2.0, -0.5, 0.5, 2.0])
    np.testing.assert_array_equal(F.hardtanh(x, np.float32(-1), 1).data, [-1, -0.5, 0.5, 1])
    np.testing.assert_array_equal(nn.HardTanh(0, 1)(x).data, [0, 0, 0.5, 1])
    assert (nn.HardTanh(-2, 10).min, nn.HardTanh(-2, 10).max) == (-2.0, 10.0)
    np.testing.assert_allclose(F.leaky_relu(x, np.float64(0.5)).data, [-1, -0.25, 0.5, 2])
    np.testing.assert_array_equal(F.step(x, 1).data, [0, 0, 0, 1])
    np.testing.assert_array_equal(F.sign(x, np.int64(0)).data, [-1, -1, 1, 1])
    np.testing.assert_allclose(F.rrelu(x, 0.25, 0.25, training=False).data, [-0.5, -0.125, 0.5, 2])


# -- 9: PReLU on a 0-d input, GlobalMaxPool2d on empty maps ------------------------------------

def test_prelu_takes_a_0d_input():
    for layer in (nn.PReLU(), lambda t: F.prelu(t, np.array([0.25], np.float32))):
        x = T(np.float32(-2.0), requires_grad=True)
        y = layer(x)
        assert y.shape == () and float(y.data) == -0.5
        y.backward()
        assert float(x.grad) == 0.25
    assert float(nn.PReLU()(T(np.float32(3.0))).data) == 3.0


def test_global_max_pool_refuses_empty_maps():
    with pytest.raises(ValueError, match=r"GlobalMaxPool2d\(\): expected non-empty feature maps; "
                                         r"got shape \(2, 3, 0, 4\)"):
        nn.GlobalMaxPool2d()(np.zeros((2, 3, 0, 4), np.float32))
    with pytest.raises(ValueError, match=r"global_max_pool2d: expected non-empty feature maps"):
        F.global_max_pool2d(np.zeros((0, 3, 4, 0), np.float32))
    assert nn.GlobalMaxPool2d()(np.zeros((0, 3, 2, 2), np.float32)).shape == (0, 3)


# -- 10: activation layers name themselves in their input errors ------------------------------

@pytest.mark.parametrize("layer, name", [
    (nn.PReLU(), "PReLU"), (nn.RReLU(rng=0), "RReLU"), (nn.RReLU(rng=0).eval(), "RReLU"),
    (nn.Identity(), "Identity"), (nn.Step(), "Step"), (nn.Sign(), "Sign"),
    (nn.HardTanh(), "HardTanh"), (nn.LeakyReLU(), "LeakyReLU"),
])
def test_activation_layers_name_themselves(layer, name):
    for bad in (np.array(["a", "b"]), np.array([1 + 2j])):
        with pytest.raises(TypeError, match=rf"^{name}: expected real numbers"):
            layer(bad)


def test_functional_activations_take_where():
    bad = np.array(["a"])
    for fn in (F.prelu, F.rrelu, F.step, F.sign, F.identity):
        args = (np.ones(1, np.float32),) if fn is F.prelu else ()
        with pytest.raises(TypeError, match=r"^mine: expected real numbers"):
            fn(bad, *args, where="mine")


# -- 11: Sigmoid's docstring names the form it computes ----------------------------------------

def test_sigmoid_docstring_names_the_form_it_computes():
    assert "tanh" not in nn.Sigmoid.__doc__ and "e^x / (1 + e^x)" in nn.Sigmoid.__doc__
    y = nn.Sigmoid()(T(np.array([-30.0, -17.0], np.float32))).data
    np.testing.assert_allclose(y, 1 / (1 + np.exp(np.array([30.0, 17.0]))), rtol=1e-6)


# -- 5: optimizers refuse parameters of several dtypes (no silent cast) -----------------------

def _mixed_model():
    return nn.Sequential(nn.Embedding(10, 4, rng=0, dtype=np.float16), nn.Dense(4, 2, rng=0))


@pytest.mark.parametrize("make", [
    lambda ps: rb.optim.SGD(ps, lr=0.1), lambda ps: rb.optim.Adam(ps, lr=0.1),
    lambda ps: rb.optim.RMSprop(ps, lr=0.1),
])
def test_optimizer_refuses_mixed_dtypes_and_leaves_the_model_alone(make):
    model = _mixed_model()
    with pytest.raises(TypeError, match=r"the parameters have different dtypes \(float16: "
                                        r"params\[0\] \(10, 4\); float32: params\[1\] \(4, 2\), "
                                        r"params\[2\] \(2,\)\).*model\.astype"):
        make(model.parameters())
    assert [p.dtype for p in model.parameters()] == [np.float16, np.float32, np.float32]
    make(model.astype(np.float32).parameters())  # cast on purpose: fine


def test_optimizer_names_the_optimizer_and_skips_frozen_parameters():
    model = nn.Sequential(nn.Dense(2, 2, rng=0), nn.Dense(2, 2, rng=0, dtype=np.float64))
    with pytest.raises(TypeError, match=r"^Adam: .*float32: params\[0\] \(2, 2\), params\[1\] "
                                        r"\(2,\); float64: params\[2\] \(2, 2\), params\[3\]"):
        rb.optim.Adam(model.parameters(), lr=0.1)
    model[1].freeze()  # only the trainable ones are packed: one dtype
    opt = rb.optim.Adam(model.parameters(), lr=0.1)
    assert opt.vec.data.dtype == np.float32 and model[1].W.dtype == np.float64


def test_parameter_vector_refuses_mixed_dtypes_unless_told():
    a, b = nn.Parameter(np.zeros(2, np.float32)), nn.Parameter(np.zeros(3, np.float64))
    with pytest.raises(TypeError, match=r"^ParameterVector: .*#0 \(2,\).*#1 \(3,\).*dtype="):
        nn.ParameterVector([a, b])
    assert a.dtype == np.float32 and b.dtype == np.float64
    vec = nn.ParameterVector([a, b], dtype=np.float64)  # asked for: cast
    assert vec.data.dtype == a.dtype == np.float64
