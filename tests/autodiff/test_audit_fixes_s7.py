"""Defects of audit s7/a1 in the autodiff engine: 1 (NumPy array functions on a Tensor that
requires grad), 2 (the in-place rule, documented), 3 (a 0/1 Tensor index shaped like a mask),
4 (gradcheck differencing before projecting), 5 (gradcheck of a non-leaf input), 6 (make's
backward contract), 7 (exported ops given an ndarray), 8 (a bool or float axis), 9 (the dtype
of a list of Python floats)."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import autodiff as ad
from rosenblatt.autodiff import make

# -- 1: NumPy array functions refuse a Tensor that requires grad ---------------------------


@pytest.mark.parametrize(
    ("call", "hint"),
    [
        (lambda a, b: np.concatenate([a, b]), "rb.concatenate"),
        (lambda a, b: np.stack([a, b]), "rb.stack"),
        (lambda a, b: np.where([True, False], a, b), "rb.where"),
        (lambda a, b: np.dot(a, b), r"a @ b \(rb\.autodiff\.matmul\)"),
        (lambda a, b: np.mean(a), r"t\.mean\(\)"),
        (lambda a, b: np.clip(a, 0, 1), "rb.clip"),
        (lambda a, b: np.linalg.norm(b), "detach"),
    ],
)
def test_numpy_functions_refuse_a_tensor_that_requires_grad(call, hint):
    a = rb.tensor([1.0, 2.0], requires_grad=True)
    b = rb.tensor([3.0, 4.0], requires_grad=True)
    with pytest.raises(TypeError, match=rf"numpy\.\w+.*requires grad.*{hint}"):
        call(a, b)


def test_numpy_functions_take_constant_tensors_and_detached_values():
    a = rb.tensor([1.0, 2.0])
    b = rb.tensor([3.0, 4.0], requires_grad=True)
    np.testing.assert_array_equal(np.concatenate([a, b.detach()]), [1, 2, 3, 4])
    np.testing.assert_array_equal(np.stack([a, a]), [[1, 2], [1, 2]])
    assert np.mean(a) == 1.5  # (np.mean used to call Tensor.mean with dtype=)
    assert np.shape(b) == (2,) and np.ndim(b) == 1 and np.size(b) == 2  # metadata only
    np.testing.assert_array_equal(np.asarray(b), [3, 4])  # reading values keeps working
    np.testing.assert_array_equal(np.array(b, copy=True), [3, 4])


# -- 2: the in-place rule is documented where users meet it --------------------------------


def test_make_and_backward_document_the_in_place_rule():
    for doc in (make.__doc__, rb.Tensor.backward.__doc__, rb.Tensor.__doc__):
        assert "in place" in doc and "between" in doc


# -- 3: a Tensor of 0s and 1s shaped like the indexed axes is refused as a mask ------------


def test_a_mask_held_in_a_tensor_is_refused():
    x = rb.tensor([10.0, 20.0, 30.0], requires_grad=True)
    m = rb.tensor(np.array([True, False, True]))
    with pytest.raises(IndexError, match="boolean ndarray"):
        x[m]
    y = rb.tensor(np.ones((2, 3)))
    with pytest.raises(IndexError, match="boolean ndarray"):
        y[:, rb.tensor([1.0, 0.0, 1.0])]
    with pytest.raises(IndexError, match="boolean ndarray"):
        y[rb.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])]
    np.testing.assert_array_equal(x[m.data > 0].data, [10, 30])  # the fix the message names


def test_whole_number_tensor_indices_still_gather():
    x = rb.tensor([10.0, 20.0, 30.0], requires_grad=True)
    y = x[rb.tensor([2, 0])]  # not shaped like x: positions
    np.testing.assert_array_equal(y.data, [30, 10])
    np.testing.assert_array_equal(x[rb.tensor([1, 1, 0, 2])].data, [20, 20, 10, 30])
    z = rb.tensor(np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(z[rb.tensor([0, 2]), 1].data, [1, 5])
    np.testing.assert_array_equal(x[rb.tensor([2, 0, 1])].data, [30, 10, 20])  # 2s: positions


# -- 4: gradcheck differences the outputs before projecting them ---------------------------


def test_gradcheck_passes_exp_on_outputs_of_very_different_scales(rng):
    assert rb.gradcheck(lambda t: t.exp(), rb.tensor(np.array([0.0, 1.0, 30.0]),
                                                      requires_grad=True))
    x = rb.tensor(rng.standard_normal((4, 6)) * 8, requires_grad=True)
    assert rb.gradcheck(lambda t: t.exp(), x)
    assert rb.gradcheck(lambda t: t.exp(), x, directions=3)


def _exp_off_by(factor):
    def fn(t):
        d = t.data
        return make(np.exp(d), (t,), lambda g: (g * np.exp(d) * factor,))
    return fn


def test_gradcheck_still_catches_a_one_percent_error():
    x = rb.tensor(np.array([0.0, 1.0, 30.0]), requires_grad=True)
    with pytest.raises(rb.GradcheckError, match="index"):
        rb.gradcheck(_exp_off_by(1.01), x)
    y = rb.tensor(np.linspace(-1, 1, 20), requires_grad=True)
    with pytest.raises(rb.GradcheckError, match="random direction"):
        rb.gradcheck(_exp_off_by(1.01), y, directions=3)


def test_gradcheck_gives_no_relative_error_where_the_numeric_gradient_is_zero():
    def constant(t):  # claims a gradient of 1e-3 for a constant function
        return make(t.data * 0 + 1.0, (t,), lambda g: (g * 1e-3,))
    with pytest.raises(rb.GradcheckError) as info:
        rb.gradcheck(constant, rb.tensor(np.array([1.0, 2.0]), requires_grad=True))
    assert "e+29" not in str(info.value) and "numeric gradient is 0" in str(info.value)


# -- 5: gradcheck of a non-leaf input -------------------------------------------------------


def test_gradcheck_checks_a_non_leaf_input_as_a_leaf(rng):
    base = rb.tensor(rng.standard_normal(3), requires_grad=True)
    x = base * 2.0
    before = x.data.copy()
    assert rb.gradcheck(lambda t: t.tanh(), x)
    assert rb.gradcheck(lambda t, u: t * u, x, x)  # passed twice
    np.testing.assert_array_equal(x.data, before)
    assert base.grad is None and x.grad is None
    (x * 1.0).sum().backward()  # its graph is intact
    np.testing.assert_array_equal(base.grad, [2.0, 2.0, 2.0])


def test_gradcheck_still_fails_a_wrong_gradient_through_a_non_leaf(rng):
    x = rb.tensor(rng.standard_normal(3), requires_grad=True) * 1.0
    with pytest.raises(rb.GradcheckError):
        rb.gradcheck(_exp_off_by(1.01), x)


# -- 6: make's backward contract is checked --------------------------------------------------


def test_a_backward_returning_too_few_gradients_is_refused():
    a = rb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = rb.tensor([4.0, 5.0, 6.0], requires_grad=True)
    ad_, bd_ = a.data, b.data

    def forgot_b(g):
        return (g * bd_,)

    y = make(ad_ * bd_, (a, b), forgot_b)
    with pytest.raises(RuntimeError, match=r"forgot_b.*returned 1 gradient.*2 parents"):
        y.sum().backward()


def test_a_gradient_of_the_wrong_shape_is_refused():
    x = rb.tensor([1.0, 2.0, 3.0], requires_grad=True)

    def twice(g):
        return (g.sum() * 2,)

    z = make(x.data * 2, (x,), twice)
    with pytest.raises(RuntimeError, match=r"shape \(\) .*shape \(3,\)"):
        z.backward(np.array([1.0, 0.0, 0.0], np.float32))
    assert x.grad is None
    # a one-value leaf may still take a NumPy scalar (0-d ops give them)
    s = rb.tensor([2.0], requires_grad=True)
    make(s.data * 3, (s,), lambda g: (np.float32(3.0),)).backward(np.ones(1, np.float32))
    np.testing.assert_array_equal(s.grad, [3.0])


def test_a_wrong_shaped_gradient_into_a_packed_parameter_is_refused():
    w = rb.nn.Parameter(np.ones(3, np.float32))
    opt = rb.optim.SGD([w], lr=0.1)
    opt.zero_grad()
    z = make(w.data * 2, (w,), lambda g: (g.sum() * 2,))
    with pytest.raises(RuntimeError, match=r"shape \(\) .*shape \(3,\)"):
        z.backward(np.array([1.0, 0.0, 0.0], np.float32))


# -- 7: the exported ops take arrays ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args"),
    [("tanh", ()), ("sigmoid", ()), ("relu", ()), ("neg", ()), ("sum", ()), ("mean", ()),
     ("max", ()), ("min", ()), ("var", ()), ("transpose", ()), ("flatten", ()),
     ("squeeze", ()), ("swapaxes", (0, 1)), ("expand_dims", (0,)), ("reshape", (4,)),
     ("getitem", (0,))],
)
def test_exported_ops_take_an_ndarray(name, args):
    a = np.array([[1.0, -2.0], [3.0, 4.0]], np.float32)
    out = getattr(ad, name)(a, *args)
    expected = {"neg": -a, "sum": a.sum(), "mean": a.mean(), "max": a.max(), "min": a.min(),
                "var": a.var(), "transpose": a.T, "flatten": a, "squeeze": a,
                "swapaxes": a.T, "expand_dims": a[None], "reshape": a.reshape(4),
                "getitem": a[0], "relu": np.maximum(a, 0), "tanh": np.tanh(a),
                "sigmoid": 1 / (1 + np.exp(-a))}[name]
    assert isinstance(out, rb.Tensor) and not out.requires_grad
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)


# -- 8: a bool or float axis is refused ------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "op"),
    [
        (lambda x: x.sum(True), "sum"),
        (lambda x: x.max(True), "max"),
        (lambda x: x.mean(np.True_), "mean"),
        (lambda x: x.logsumexp(True), "logsumexp"),
        (lambda x: x.sum(axis=(0, True)), "sum"),
        (lambda x: x.sum(axis=1.0), "sum"),
        (lambda x: x.var(axis="0"), "var"),
        (lambda x: rb.concatenate([x, x], axis=True), "concatenate"),
        (lambda x: rb.stack([x, x], axis=True), "stack"),
        (lambda x: rb.stack([x, x], axis=1.0), "stack"),
        (lambda x: rb.split(x, 2, axis=False), "split"),
        (lambda x: x.squeeze(True), "squeeze"),
        (lambda x: x.swapaxes(0, True), "swapaxes"),
        (lambda x: x.flatten(1.0), "flatten"),
    ],
)
def test_a_bool_or_float_axis_is_refused(call, op):
    x = rb.tensor(np.arange(6.0).reshape(2, 3))
    with pytest.raises(TypeError, match=rf"{op}: .*must be an integer"):
        call(x)


def test_integer_axes_of_every_kind_still_work():
    x = rb.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.sum(1).data, [3, 12])
    np.testing.assert_array_equal(x.sum(np.int64(-1)).data, [3, 12])
    np.testing.assert_array_equal(x.sum((0, 1)).data, 15)
    np.testing.assert_array_equal(x.sum([0]).data, [3, 5, 7])
    assert rb.stack([x, x], axis=np.int32(1)).shape == (2, 2, 3)
    assert rb.concatenate([x, x], axis=-1).shape == (2, 6)


# -- 9: a list of Python floats is float32 at every entry point -------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda lst: rb.Tensor(lst), lambda lst: rb.tensor(lst), lambda lst: ad.exp(lst),
        lambda lst: ad.log(lst), lambda lst: ad.sqrt(lst), lambda lst: ad.abs(lst),
        lambda lst: ad.tanh(lst), lambda lst: ad.sigmoid(lst), lambda lst: ad.relu(lst),
        lambda lst: ad.logsumexp(lst), lambda lst: ad.clip(lst, 0, 1),
        lambda lst: ad.pad(lst, 1), lambda lst: ad.split(lst, 2)[0],
        lambda lst: ad.concatenate([lst]), lambda lst: ad.stack([lst, lst]),
        lambda lst: ad.maximum(lst, 0.0), lambda lst: ad.add(lst, lst),
        lambda lst: ad.where([True, False], lst, 0.0), lambda lst: ad.sum(lst),
        lambda lst: ad.neg(lst), lambda lst: rb.Tensor(2.5),
    ],
)
def test_python_floats_become_float32_everywhere(call):
    assert call([0.5, 2.0]).dtype == np.float32


def test_arrays_and_explicit_dtypes_keep_their_dtype():
    assert rb.Tensor(np.array([0.5, 2.0])).dtype == np.float64
    assert ad.exp(np.array([0.5, 2.0])).dtype == np.float64
    assert rb.Tensor([0.5, 2.0], dtype=np.float64).dtype == np.float64
    assert ad.add(np.array([0.5]), [1.0]).dtype == np.float64  # (the list takes its dtype)
    assert rb.Tensor(np.float64(2.5)).dtype == np.float64
