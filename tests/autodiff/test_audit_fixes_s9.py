"""Defects of audit s9/a1 in the autodiff engine: 1 (float16 sums over a non-last axis),
2 (``p -= lr * p.grad`` rebinding), 3 (tensors that require grad inside a list), 4 (a 0/1
Tensor mask after an Ellipsis), 5 (clip/maximum/minimum under an infinite upstream gradient),
6 (make's contract for interior parents and generators), 7 (gradcheck on read-only inputs, a
constant output, an error in fn), 8 (float64 array-likes); and s9/a6 finding 4 (the compiled
kernels loaded by two threads at once). Finding 9 is documentation only (the in-place rule in
the Notes of Tensor, backward and make)."""

import threading
import time

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff import _kernels, make

# -- 1: float16 sums accumulate in float32 ------------------------------------------------


def test_float16_sum_over_the_first_axis_passes_2048():
    x = rb.tensor(np.ones((5000, 4), np.float16))
    out = x.sum(axis=0)
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out.data, [5000, 5000, 5000, 5000])
    np.testing.assert_array_equal(x.sum(axis=(0, 1)).data, 20000)


def test_float16_broadcast_gradient_of_a_bias_passes_2048():
    h = rb.tensor(np.ones((5000, 4), np.float16))
    b = rb.tensor(np.zeros(4, np.float16), requires_grad=True)
    (h + b).sum().backward()
    assert b.grad.dtype == np.float16
    np.testing.assert_array_equal(b.grad, [5000, 5000, 5000, 5000])
    c = rb.tensor(np.zeros((1, 4), np.float16), requires_grad=True)  # the keepdims sum too
    (h * c).sum().backward()
    np.testing.assert_array_equal(c.grad, [[5000, 5000, 5000, 5000]])


def test_float16_logsumexp_over_the_first_axis():
    x = rb.tensor(np.zeros((3000, 2), np.float16), requires_grad=True)
    out = x.logsumexp(axis=0)
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.data.astype(np.float64), np.log(3000), rtol=1e-3)
    out.sum().backward()
    assert x.grad.dtype == np.float16
    np.testing.assert_allclose(x.grad.astype(np.float64), 1 / 3000, rtol=2e-3)


def test_float16_max_ties_share_the_gradient_over_more_than_2048():
    x = rb.tensor(np.zeros((5000, 2), np.float16), requires_grad=True)  # a dead unit: all ties
    x.max(axis=0).sum().backward()
    np.testing.assert_allclose(x.grad.astype(np.float64).sum(axis=0), [1, 1], rtol=1e-3)


def test_float32_sums_are_numpys_own():
    a = np.random.default_rng(0).standard_normal((300, 7)).astype(np.float32)
    np.testing.assert_array_equal(rb.tensor(a).sum(axis=0).data, a.sum(axis=0))
    b = rb.tensor(np.zeros(7, np.float32), requires_grad=True)
    (rb.tensor(a) * b).sum().backward()
    np.testing.assert_array_equal(b.grad, a.sum(axis=0))


# -- 2: augmented assignment on a parameter -----------------------------------------------


def test_manual_sgd_under_no_grad_updates_the_parameters_in_place():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 3))
    Y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    w = rb.tensor(np.zeros(3), requires_grad=True)
    b = rb.tensor(np.zeros(()), requires_grad=True)
    params, arrays = [w, b], [w.data, b.data]
    for _ in range(50):
        for p in params:
            p.grad = None
        loss = ((rb.tensor(X) @ w + b - Y) ** 2).mean()
        loss.backward()
        with rb.no_grad():
            for p in params:
                p -= 0.1 * p.grad
    assert params[0] is w and w.is_leaf and w.data is arrays[0] and b.data is arrays[1]
    np.testing.assert_allclose(w.data, [0.998, -1.996, 0.506], atol=1e-3)
    assert loss.item() < 1e-4


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        (lambda p: p.__iadd__(2.0), [3.0, 4.0]),
        (lambda p: p.__isub__(rb.tensor([1.0, 1.0])), [0.0, 1.0]),
        (lambda p: p.__imul__([2.0, 3.0]), [2.0, 6.0]),
        (lambda p: p.__itruediv__(np.array([2.0, 4.0], np.float32)), [0.5, 0.5]),
        (lambda p: p.__ipow__(2), [1.0, 4.0]),
    ],
)
def test_each_augmented_operator_updates_a_parameter_in_place_under_no_grad(update, expected):
    p = rb.tensor([1.0, 2.0], requires_grad=True)
    data = p.data
    with rb.no_grad():
        assert update(p) is p
    assert p.data is data and p.dtype == np.float32 and p.requires_grad and p.is_leaf
    np.testing.assert_array_equal(p.data, expected)


@pytest.mark.parametrize("symbol", ["+=", "-=", "*=", "/=", "**="])
def test_augmented_operators_on_a_parameter_are_refused_while_recording(symbol):
    w = rb.tensor([1.0, 2.0], requires_grad=True)
    namespace = {"w": w}
    with pytest.raises(RuntimeError, match=r"leaf tensor that requires grad.*rb\.no_grad"):
        exec(f"w {symbol} 2.0", namespace)
    assert namespace["w"] is w
    np.testing.assert_array_equal(w.data, [1.0, 2.0])


def test_augmented_operators_on_other_tensors_stay_out_of_place():
    x = rb.tensor([1.0, 2.0], requires_grad=True)
    total = 0.0
    for k in range(3):
        total += (x * k).sum()  # a float, then a non-leaf: the graph accumulates
    total.backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    wrapped = np.array([1.0, 2.0])
    c = rb.tensor(wrapped)
    c += 1.0  # a constant: a new tensor; the wrapped array is not written into
    np.testing.assert_array_equal(wrapped, [1.0, 2.0])
    np.testing.assert_array_equal(c.data, [2.0, 3.0])


def test_in_place_update_of_another_shape_names_both_shapes():
    p = rb.tensor([1.0, 2.0], requires_grad=True)
    with rb.no_grad(), pytest.raises(ValueError, match=r"-=.*shape \(2,\).*shape \(3, 2\)"):
        p -= np.ones((3, 2), np.float32)


# -- 3: a tensor that requires grad inside a list -----------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda x, a, b: x * [a, b],
        lambda x, a, b: [a, b] + x,
        lambda x, a, b: rb.tensor([a, b]),
        lambda x, a, b: rb.Tensor([[a], [b]]),
        lambda x, a, b: rb.where([True, False], [a, b], 0.0),
        lambda x, a, b: rb.concatenate([x, [a, b]]),
        lambda x, a, b: rb.exp([a, b]),
        lambda x, a, b: rb.maximum((a, 1.0), 0.0),
    ],
)
def test_a_list_holding_a_tensor_that_requires_grad_is_refused(call):
    a = rb.tensor(2.0, requires_grad=True)
    b = rb.tensor(3.0, requires_grad=True)
    x = rb.tensor([1.0, 1.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"list holding a Tensor that requires grad.*rb\.stack"):
        call(x, a, b)


def test_lists_of_constant_tensors_and_numbers_still_convert():
    a = rb.tensor(2.0, requires_grad=True)
    c = rb.tensor(3.0)
    x = rb.tensor([1.0, 1.0], requires_grad=True)
    np.testing.assert_array_equal(rb.tensor([a.detach(), c]).data, [2.0, 3.0])
    np.testing.assert_array_equal((x * [[1.0, 2.0], [3.0, 4.0]]).data, [[1, 2], [3, 4]])
    y = (x * rb.stack([a, c])).sum()  # the right spelling keeps the graph
    y.backward()
    assert a.grad == 1.0


# -- 4: a 0/1 Tensor index after an Ellipsis ----------------------------------------------


def test_a_mask_tensor_after_an_ellipsis_is_refused():
    x = rb.tensor([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]], requires_grad=True)
    m = rb.tensor([True, False, True])
    with pytest.raises(IndexError, match="looks like a boolean mask"):
        x[..., m]
    with pytest.raises(IndexError, match="looks like a boolean mask"):
        rb.tensor(np.zeros((2, 4, 3)))[0, ..., m]
    with pytest.raises(IndexError, match="looks like a boolean mask"):
        x[..., rb.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])]  # a 2-D mask over both axes
    y = x[..., m.data > 0]  # the boolean ndarray, as the message says
    np.testing.assert_array_equal(y.data, [[10, 30], [40, 60]])


def test_integer_tensors_after_an_ellipsis_still_index():
    x = rb.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    y = x[..., rb.tensor([3.0, 0.0]), None]  # the last axis, then a new one
    np.testing.assert_array_equal(y.data, x.data[..., [3, 0], None])
    y.sum().backward()
    expected = np.zeros((2, 3, 4))
    expected[..., [3, 0]] = 1
    np.testing.assert_array_equal(x.grad, expected)
    z = x[..., rb.tensor([1.0, 0.0]), :]  # the middle axis: 0/1 but not its shape (3,)
    np.testing.assert_array_equal(z.data, x.data[:, [1, 0], :])


# -- 5: clip, maximum and minimum select -------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (lambda t: rb.clip(t, -1.0, 1.0), [0.0, 1.0, 0.0]),
        (lambda t: rb.maximum(t, 0.0), [0.0, 1.0, np.inf]),
        (lambda t: rb.minimum(t, 1.0), [np.inf, 1.0, 0.0]),
        (lambda t: rb.maximum(rb.tensor([[0.0], [5.0]]), t), [0.0, 1.0, np.inf]),
        (lambda t: rb.clip(t, rb.tensor([[-3.0], [4.0]]), 5.0), [np.inf, 1.0, np.inf]),
    ],
)
def test_an_infinite_upstream_gradient_gives_zero_where_the_derivative_is_zero(fn, expected):
    x = rb.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    out = fn(x)
    g = np.broadcast_to(np.array([np.inf, 1.0, np.inf], np.float32), out.shape).copy()
    out.backward(g)
    np.testing.assert_array_equal(x.grad, expected)


def test_maximum_and_minimum_match_torch_with_ties_nans_and_broadcasting(torch, rng):
    a = np.array([[np.nan, 1.0, 2.0, 2.0], [0.5, -1.0, 3.0, 0.0]])
    b = np.array([0.0, np.nan, 1.0, 2.0])
    g = rng.standard_normal((2, 4))
    for name in ("maximum", "minimum"):
        at = torch.tensor(a, requires_grad=True)
        bt = torch.tensor(b, requires_grad=True)
        getattr(torch, name)(at, bt).backward(torch.tensor(g))
        ar = rb.tensor(a, requires_grad=True)
        br = rb.tensor(b, requires_grad=True)
        with np.errstate(invalid="ignore"):  # the NaN comparisons
            getattr(rb, name)(ar, br).backward(g)
        np.testing.assert_allclose(ar.grad, at.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(br.grad, bt.grad.numpy(), rtol=1e-12)


def test_clip_with_broadcast_bounds_sums_the_selected_gradient(rng):
    x = rng.standard_normal((3, 4))
    lo, hi = np.full((4,), -0.5), np.full((2, 3, 1), 0.5)
    g = rng.standard_normal((2, 3, 4))
    g[0, 0, :] = np.inf
    xr = rb.tensor(x, requires_grad=True)
    rb.clip(xr, lo, hi).backward(g)
    inside = np.broadcast_to((x >= lo) & (x <= hi), g.shape)
    np.testing.assert_array_equal(xr.grad, np.where(inside, g, 0).sum(axis=0))


# -- 6: make's contract for interior parents ---------------------------------------------


def _twice_bad(x):  # its backward returns a 0-d gradient for any input
    return make(2 * x.data, (x,), lambda g: (g.sum() * 2,))


@pytest.mark.parametrize("parent", [lambda x: x.exp(), lambda x: x * 1.0, lambda x: x + 0.0])
def test_a_wrong_size_gradient_for_an_interior_parent_is_refused(parent):
    x = rb.tensor([0.0, 0.0, 0.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"_twice_bad.*gradient of shape \(\) for a parent "
                                           r"of shape \(3,\)"):
        _twice_bad(parent(x)).backward(np.array([1, 0, 0], np.float32))


def test_an_interior_gradient_of_as_many_values_is_reshaped():
    x = rb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = make(x.data * 3, (x * 1.0,), lambda g: ((g * 3).reshape(1, 3),))
    out.backward(np.ones(3, np.float32))
    np.testing.assert_array_equal(x.grad, [3.0, 3.0, 3.0])


def test_a_backward_may_return_a_generator_or_a_list_but_not_an_array():
    a = rb.tensor([1.0, 2.0], requires_grad=True)
    b = rb.tensor([3.0, 4.0], requires_grad=True)
    ad, bd = a.data, b.data
    make(ad * bd, (a, b), lambda g: (g * o for o in (bd, ad))).sum().backward()
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])
    np.testing.assert_array_equal(b.grad, [1.0, 2.0])
    make(ad * 2, (a,), lambda g: [g * 2]).sum().backward()
    np.testing.assert_array_equal(a.grad, [5.0, 6.0])
    with pytest.raises(RuntimeError, match=r"returned an array, not a tuple.*\(grad,\)"):
        make(ad * 3, (a,), lambda g: g * 3).sum().backward()
    with pytest.raises(RuntimeError, match="returned float, not a tuple"):
        make(ad * 3, (a,), lambda g: 3.0).sum().backward()


# -- 7: gradcheck ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        lambda: np.linspace(-1, 1, 3).copy(),  # made read-only below
        lambda: np.broadcast_to(np.array([0.3]), (3,)),
    ],
)
def test_gradcheck_takes_a_read_only_input_and_leaves_it_alone(data):
    arr = data()
    arr.flags.writeable = False
    before = arr.copy()
    x = rb.tensor(arr, requires_grad=True)
    assert rb.gradcheck(lambda t: (t * t).tanh(), x)
    np.testing.assert_array_equal(arr, before)
    assert x.grad is None
    bad = lambda t: make(t.data * t.data, (t,), lambda g: (g * 2.02 * t.data,))  # noqa: E731
    with pytest.raises(rb.autodiff.GradcheckError, match="input 0"):
        rb.gradcheck(bad, x)


def test_gradcheck_of_an_output_that_does_not_depend_on_the_input():
    x = rb.tensor(np.array([0.1, 0.2]), requires_grad=True)
    assert rb.gradcheck(lambda t: rb.tensor(np.ones(2)) * 2.0, x)
    with pytest.raises(rb.autodiff.GradcheckError, match=r"analytic 0 vs numeric"):
        rb.gradcheck(lambda t: rb.tensor(t.data * 1.0), x)  # (a gradient lost: caught)


def test_gradcheck_puts_the_input_back_when_fn_raises():
    x = rb.tensor(np.array([0.0, 0.5, 1.0]), requires_grad=True)

    def fn(t):
        if t.data[0] > 0:
            raise ValueError("first element must be <= 0")
        return t.tanh()

    with pytest.raises(ValueError, match="first element"):
        rb.gradcheck(fn, x)
    np.testing.assert_array_equal(x.data, [0.0, 0.5, 1.0])


# -- 8: float64 array-likes keep their dtype ---------------------------------------------


class _ArrayLike:
    """An object with the NumPy array protocol only (pandas, xarray, torch ...)."""

    def __init__(self, a):
        self.a = a

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.a, dtype=dtype)


def test_float64_array_likes_keep_their_dtype():
    a64 = np.array([0.1, 0.2, 0.3])
    assert rb.tensor(_ArrayLike(a64)).dtype == np.float64
    assert rb.Tensor(_ArrayLike(a64)).dtype == np.float64
    assert rb.tensor([a64, a64]).dtype == np.float64
    assert rb.tensor([np.float64(0.5), 1.0]).dtype == np.float64
    assert rb.exp(_ArrayLike(a64)).dtype == np.float64
    t32 = rb.tensor(np.ones(3, np.float32))
    assert (t32 * _ArrayLike(a64)).dtype == np.float64  # as with the ndarray itself
    assert (t32 * a64).dtype == np.float64
    x = rb.tensor(_ArrayLike(a64), requires_grad=True)
    assert rb.gradcheck(lambda t: t.tanh(), x)


def test_python_floats_still_become_float32():
    assert rb.tensor([0.5, 2.0]).dtype == np.float32
    assert rb.tensor([[0.5], [2.0]]).dtype == np.float32
    assert rb.tensor(0.5).dtype == np.float32
    assert rb.exp([0.5, 2.0]).dtype == np.float32
    assert (rb.tensor(np.ones(2, np.float16)) * [0.5, 2.0]).dtype == np.float16


# -- s9/a6 finding 4: the compiled kernels loaded by two threads at once ------------------


def test_threads_asking_while_the_kernels_load_wait_for_the_same_answer(monkeypatch):
    module = _kernels.kernels() if _kernels.enabled() else None
    answer = module if module is not None else object()
    started = threading.Event()

    def slow_import():
        started.set()
        time.sleep(0.2)  # the first import of Numba takes about a second
        return answer

    monkeypatch.setattr(_kernels, "_import_kernels", slow_import)
    monkeypatch.setitem(_kernels._state, "tried", False)
    monkeypatch.setitem(_kernels._state, "module", None)
    monkeypatch.setitem(_kernels._state, "forced", None)
    monkeypatch.setitem(_kernels._state, "threads", None)
    monkeypatch.delenv("ROSENBLATT_NO_NUMBA", raising=False)
    monkeypatch.delenv("ROSENBLATT_NUM_THREADS", raising=False)
    seen = {}

    def ask(k):
        if k:
            started.wait()  # while the first thread is importing
        seen[k] = _kernels.enabled()

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {0: True, 1: True}
    assert _kernels._state["module"] is answer
