"""The backward engine: ordering, accumulation, graph freeing, no_grad, detach, errors, dtypes."""

import gc
import threading
import weakref

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff import is_grad_enabled, make, sum_to_shape

# -- the graph walk -------------------------------------------------------------------


def test_ten_thousand_step_chain():
    x = rb.tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()  # no RecursionError: the walk is iterative
    np.testing.assert_allclose(x.grad, [1.0001**10_000], rtol=1e-9)


def test_ten_thousand_uses_of_one_leaf():
    x = rb.tensor(np.array([2.0]), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y + x
    y.sum().backward()
    assert x.grad[0] == 10_001


def test_diamond_sums_every_path():
    x = rb.tensor(np.array([1.5, -2.0]), requires_grad=True)
    h = x * 3.0  # used twice below: its gradient is the sum of both paths
    y = (h * h + h.tanh()).sum()
    y.backward()
    np.testing.assert_allclose(x.grad, 3 * (2 * h.data + 1 - np.tanh(h.data) ** 2))


def test_grad_accumulates_across_backward_calls():
    x = rb.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 3)


def test_retain_graph_allows_a_second_backward():
    x = rb.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)


def test_backward_through_a_freed_graph_says_so():
    x = rb.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_backward_frees_the_graph():
    x = rb.tensor(np.ones(3), requires_grad=True)
    h = x * 2
    y = h.sum()
    ref = weakref.ref(h)
    del h
    y.backward()
    gc.collect()
    assert ref() is None  # y no longer holds its parents


def test_retain_graph_keeps_it():
    x = rb.tensor(np.ones(3), requires_grad=True)
    h = x * 2
    y = h.sum()
    ref = weakref.ref(h)
    del h
    y.backward(retain_graph=True)
    gc.collect()
    assert ref() is not None


def test_backward_on_a_leaf():
    x = rb.tensor(np.array([3.0]), requires_grad=True)
    x.backward()
    assert x.grad[0] == 1


def test_leaf_gradients_are_private_copies():
    x = rb.tensor(np.ones(3), requires_grad=True)
    y = rb.tensor(np.ones(3), requires_grad=True)
    (x + y).backward(np.array([1.0, 2.0, 3.0]))
    x.grad[0] = 100.0
    np.testing.assert_array_equal(y.grad, [1.0, 2.0, 3.0])


def test_broadcast_gradient_of_a_leaf_is_a_writable_full_array():
    x = rb.tensor(np.ones((2, 3)), requires_grad=True)
    x.sum().backward()
    x.grad += 1  # not a read-only broadcast view
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))


def test_constants_and_frozen_tensors_get_no_grad():
    x = rb.tensor(np.ones(3), requires_grad=True)
    c = rb.tensor(np.ones(3))
    (x * c + np.ones(3)).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad, np.ones(3))


def test_unreached_branch_gets_no_grad():
    x = rb.tensor(np.ones(3), requires_grad=True)
    z = rb.tensor(np.ones(3), requires_grad=True)
    y = rb.where(np.ones(3, bool), x, z).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad, np.ones(3))
    np.testing.assert_array_equal(z.grad, np.zeros(3))


def test_backward_with_explicit_grad():
    x = rb.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * x).backward(rb.tensor(np.array([1.0, -1.0])))
    np.testing.assert_allclose(x.grad, [2.0, -4.0])


# -- no_grad and detach ----------------------------------------------------------------


def test_no_grad_context_records_nothing_and_restores():
    x = rb.tensor(np.ones(2), requires_grad=True)
    with rb.no_grad():
        assert not is_grad_enabled()
        with rb.no_grad():
            pass
        assert not is_grad_enabled()  # nested exit restores the outer state
        y = x * 2
    assert is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_no_grad_restores_after_an_exception():
    with pytest.raises(KeyError), rb.no_grad():
        raise KeyError("boom")
    assert is_grad_enabled()


def test_no_grad_decorator():
    x = rb.tensor(np.ones(2), requires_grad=True)

    @rb.no_grad()
    def double(t):
        """Doubles."""
        return t * 2

    assert not double(x).requires_grad
    assert double.__name__ == "double" and double.__doc__ == "Doubles."
    assert is_grad_enabled()
    assert (x * 2).requires_grad


def test_no_grad_bare_decorator():
    @rb.no_grad
    def double(t):
        return t * 2

    assert not double(rb.tensor(np.ones(2), requires_grad=True)).requires_grad
    assert is_grad_enabled()


def test_detach_shares_data_and_cuts_the_graph():
    x = rb.tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 3
    d = h.detach()
    assert not d.requires_grad and d.is_leaf
    assert np.shares_memory(d.data, h.data)
    y = (d * x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad, d.data)  # no path through d


# -- Tensor basics ----------------------------------------------------------------------


def test_tensor_attributes():
    x = rb.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
    assert x.dtype == np.float64 and x.grad is None and x.requires_grad and x.is_leaf
    assert x.numpy() is x.data
    assert rb.tensor([[4.0]]).item() == 4.0
    assert "requires_grad=True" in repr(x) and "tensor(" in repr(x)
    assert not (x * 2).is_leaf
    np.testing.assert_array_equal(x > 2, x.data > 2)
    np.testing.assert_array_equal(x == x.data, np.ones((2, 3), bool))


@pytest.mark.parametrize(
    "data, dtype, expected",
    [
        ([1.0, 2.0], None, np.float32),  # Python floats: the library default
        ([1, 2], None, np.float32),
        ([True, False], None, np.float32),
        (3.5, None, np.float32),
        (np.ones(2), None, np.float64),  # float arrays keep their dtype
        (np.ones(2, np.float32), None, np.float32),
        (np.ones(2, np.float16), None, np.float16),
        (np.arange(3), None, np.float32),
        ([1.0, 2.0], np.float64, np.float64),
        (np.ones(2), np.float32, np.float32),
        (np.arange(3), "float64", np.float64),
    ],
)
def test_tensor_dtypes(data, dtype, expected):
    assert rb.tensor(data, dtype=dtype).dtype == expected


def test_tensor_from_a_tensor_shares_data():
    x = rb.tensor(np.ones(3))
    assert rb.tensor(x).data is x.data


@pytest.mark.parametrize(
    "data", [np.array(["a", "b"]), [object(), object()], np.array([1 + 2j]), "text", {1: 2}]
)
def test_non_numbers_give_type_error(data):
    with pytest.raises(TypeError, match="tensor"):
        rb.tensor(data)


@pytest.mark.parametrize("dtype", [np.int32, np.complex128, bool, "U3"])
def test_non_float_dtype_gives_type_error(dtype):
    with pytest.raises(TypeError, match="dtype must be a floating type"):
        rb.tensor([1.0], dtype=dtype)


@pytest.mark.parametrize("flag", [np.float64, "float64", None, 1])
def test_requires_grad_must_be_a_bool(flag):
    """``rb.tensor(x, np.float64)`` (NumPy's positional dtype habit) must not mean True."""
    with pytest.raises(TypeError, match=r"requires_grad must be True or False; .* "
                                        r"dtype=np.float64"):
        rb.tensor([1.0], flag)
    assert rb.tensor([1.0], np.bool_(True)).requires_grad is True


def test_bad_operand_gives_type_error():
    x = rb.tensor(np.ones(2))
    with pytest.raises(TypeError, match="operand"):
        x + np.array(["a", "b"])
    with pytest.raises(TypeError, match="operand"):
        x * [object(), object()]


def test_numpy_on_the_left_defers_to_tensor():
    x = rb.tensor(np.ones(3, np.float32), requires_grad=True)
    for y in (np.ones(3, np.float32) + x, np.float32(2) * x, 2 - x, np.ones((2, 3)) @ x.reshape(
            3, 1)):
        assert isinstance(y, rb.Tensor) and y.requires_grad


def test_numpy_scalars_do_not_upcast_float32():
    x = rb.tensor(np.ones(3, np.float32))
    assert (x * np.float64(0.5)).dtype == np.float32
    assert (x + np.sqrt(2.0)).dtype == np.float32
    assert (np.float64(2.0) / x).dtype == np.float32
    assert (x ** np.int64(2)).dtype == np.float32


# -- errors ----------------------------------------------------------------------------


def test_backward_of_a_non_scalar_needs_a_gradient():
    y = rb.tensor(np.ones((2, 3)), requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"scalar.*shape \(2, 3\).*grad="):
        y.backward()


def test_backward_with_a_misshapen_gradient():
    y = rb.tensor(np.ones((2, 3)), requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"grad has shape \(3, 2\).*\(2, 3\)"):
        y.backward(np.ones((3, 2)))


def test_backward_without_requires_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        rb.tensor(np.ones(1)).backward()


_A, _B = np.ones((2, 3)), np.ones((4,))


@pytest.mark.parametrize(
    "name, fn",
    [
        ("add", lambda a, b: a + b),
        ("sub", lambda a, b: a - b),
        ("mul", lambda a, b: a * b),
        ("div", lambda a, b: a / b),
        ("power", lambda a, b: a**b),
        ("maximum", rb.maximum),
        ("minimum", rb.minimum),
        ("where", lambda a, b: rb.where(np.ones((2, 3), bool), a, b)),
    ],
)
def test_broadcast_errors_name_the_op_and_both_shapes(name, fn):
    a, b = rb.tensor(_A, requires_grad=True), rb.tensor(_B)
    with pytest.raises(ValueError, match=rf"{name}: shapes \(2, 3\).* and \(4,\)"):
        fn(a, b)


@pytest.mark.parametrize(
    "fn, message",
    [
        (lambda a: a @ rb.tensor(np.ones((4, 2))), r"matmul: shapes \(2, 3\) and \(4, 2\)"),
        (lambda a: a @ rb.tensor(np.ones(4)), r"matmul: shapes \(2, 3\) and \(4,\)"),
        (lambda a: rb.tensor(np.ones(4)) @ a, r"matmul: shapes \(4,\) and \(2, 3\)"),
        (lambda a: a @ 2.0, "matmul: operands must have at least one dimension"),
        (lambda a: a.reshape(4, 2), r"reshape: .*shape \(2, 3\).*into shape \(4, 2\)"),
        (lambda a: rb.concatenate([a, rb.tensor(np.ones((2, 2)))]),
         r"concatenate: shapes \(2, 3\), \(2, 2\)"),
        (lambda a: rb.stack([a, rb.tensor(np.ones((3, 2)))]), r"stack: .*\(2, 3\), \(3, 2\)"),
        (lambda a: rb.split(a, 2, axis=1), "split: an axis of length 3 cannot be split into 2"),
        (lambda a: a.sum(axis=2), "sum: axis 2 is out of range"),
        (lambda a: a.mean(axis=(0, -2)), r"mean: axis \(0, -2\) names an axis twice"),
        (lambda a: a.sum().max(axis=0), "max: axis 0 is out of range for an array of 0"),
        (lambda a: a.var(axis=0, ddof=2), "var: ddof=2 leaves no degrees of freedom"),
        (lambda a: a.transpose(0, 0), r"transpose: axes \(0, 0\)"),
        (lambda a: rb.pad(a, 1, mode="reflect"), "pad: only mode='constant'"),
        (lambda a: rb.pad(a, -1), "pad: pad widths must be non-negative"),
        (lambda a: rb.clip(a), "clip: give at least one of min and max"),
        (lambda a: rb.concatenate([]), "concatenate: needs at least one tensor"),
    ],
)
def test_shape_and_argument_errors(fn, message):
    with pytest.raises(ValueError, match=message):
        fn(rb.tensor(_A, requires_grad=True))


def test_index_errors_name_the_shape():
    with pytest.raises(IndexError, match=r"shape \(2, 3\)"):
        rb.tensor(_A)[5]


def test_max_of_empty():
    with pytest.raises(ValueError, match="max: cannot reduce an empty array"):
        rb.tensor(np.ones((0, 2))).max()


# -- helpers for writing fused ops -------------------------------------------------------


@pytest.mark.parametrize(
    "grad_shape, shape",
    [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 3), (1, 3)), ((2, 3), (2, 1)), ((4, 2, 3), ()),
     ((4, 2, 3), (1, 1)), ((5, 1, 3), (1, 3))],
)
def test_sum_to_shape_inverts_broadcasting(grad_shape, shape, rng):
    g = rng.standard_normal(grad_shape)
    out = sum_to_shape(g, shape)
    assert out.shape == shape
    # <g, broadcast(v)> == <sum_to_shape(g), v> for every v: the adjoint of broadcasting
    v = rng.standard_normal(shape)
    np.testing.assert_allclose(np.sum(g * np.broadcast_to(v, grad_shape)), np.sum(out * v))


def test_make_records_only_when_a_parent_needs_grad():
    x = rb.tensor(np.ones(2), requires_grad=True)
    c = rb.tensor(np.ones(2))
    calls = []

    def backward(g):
        calls.append(g)
        return (None, 2 * g, None)

    y = make(x.data * 2, (c, x, 3.0), backward)
    assert y.requires_grad
    assert y._parents[2] is None  # constants are not kept
    assert not make(c.data, (c, 3.0), backward).requires_grad
    y.backward(np.ones(2))
    assert len(calls) == 1
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


# -- random graphs against PyTorch ------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_random_graph_matches_torch(seed, torch):
    """Random DAGs (nodes reused by several later ops) give PyTorch's gradients."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((4, 4)) for _ in range(3)]
    ours = [rb.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    ops = [
        lambda x, y: x + y, lambda x, y: x * y, lambda x, y: x - y, lambda x, y: (x @ y) * 0.3,
        lambda x, y: x.tanh(), lambda x, y: x.sigmoid() * y, lambda x, y: x.T + y,
        lambda x, y: x.sum(axis=0, keepdims=True) * 0.2 + y,
    ]
    pool_rb, pool_t = list(ours), list(theirs)
    for _ in range(60):
        op = ops[rng.integers(len(ops))]
        i, j = rng.integers(len(pool_rb), size=2)
        pool_rb.append(op(pool_rb[i], pool_rb[j]))
        pool_t.append(op(pool_t[i], pool_t[j]))
    upstream = rng.standard_normal((4, 4))
    out_rb = pool_rb[-1] + pool_rb[-7] * pool_rb[-13]
    out_t = pool_t[-1] + pool_t[-7] * pool_t[-13]
    np.testing.assert_allclose(out_rb.data, out_t.detach().numpy(), rtol=1e-10)
    out_rb.backward(upstream)
    out_t.backward(torch.tensor(upstream))
    for x, t in zip(ours, theirs):
        expected = np.zeros((4, 4)) if t.grad is None else t.grad.numpy()
        got = np.zeros((4, 4)) if x.grad is None else x.grad
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_no_grad_is_per_thread():
    x = rb.tensor(np.ones(2), requires_grad=True)
    inside, outside = threading.Event(), threading.Event()
    seen = {}

    def evaluate():
        with rb.no_grad():
            inside.set()
            outside.wait(5)
            seen["worker"] = (x * 2).requires_grad

    worker = threading.Thread(target=evaluate)
    worker.start()
    inside.wait(5)
    seen["main"] = (x * 2).requires_grad  # the worker's no_grad() is not ours
    outside.set()
    worker.join()
    assert seen == {"main": True, "worker": False}


def test_numpy_interop():
    x = rb.tensor(np.array([[1.0, -2.0]]), requires_grad=True)
    np.testing.assert_array_equal(np.asarray(x), x.data)
    assert np.asarray(x, dtype=np.float32).dtype == np.float32
    assert not np.shares_memory(np.array(x, copy=True), x.data)
    with pytest.raises(TypeError):
        np.tanh(x)  # would drop the graph: use x.tanh()
    assert float(rb.tensor([2.5])) == 2.5
    assert bool(rb.tensor(1.0)) and not bool(rb.tensor(0.0))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(x)


def test_leaf_grad_is_always_an_ndarray():
    x = rb.tensor(np.array(2.0), requires_grad=True)  # 0-d: ops on it give NumPy scalars
    (x * x * 3.0).backward()
    assert type(x.grad) is np.ndarray and x.grad.shape == () and x.grad == 12.0


# -- audit a1: dtypes of constants, iteration, no_grad generators ---------------------------


def test_integer_and_bool_constants_keep_a_float16_tensor_float16(torch):
    h = rb.tensor(np.ones(3, np.float16), requires_grad=True)
    th = torch.ones(3, dtype=torch.float16)
    for const, tconst in [(np.array([1, 2, 3]), torch.tensor([1, 2, 3])),
                          (np.array([True, False, True]), torch.tensor([True, False, True])),
                          (True, True), (np.True_, True), (np.int64(2), 2)]:
        for y, ty in [(h * const, th * tconst), (h + const, th + tconst),
                      (const * h, tconst * th)]:
            assert y.dtype == np.float16 and ty.dtype == torch.float16
            np.testing.assert_array_equal(y.data, ty.numpy())
            y.backward(np.ones(3, np.float16))
    assert h.grad.dtype == np.float16
    x32 = rb.tensor(np.ones(2, np.float32))
    assert (x32 * np.array([1, 2])).dtype == np.float32
    assert (x32 + np.array([1, 2], np.int8)).dtype == np.float32
    assert (rb.tensor(np.ones(2)) * np.array([1, 2])).dtype == np.float64


def test_iterating_over_a_0d_tensor_is_an_error():
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        list(rb.tensor(5.0))
    x = rb.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    rows = list(x)
    assert len(rows) == 3 and all(r.shape == (2,) for r in rows)
    rows[2].sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 0], [0, 0], [1, 1]])


@pytest.mark.parametrize("scalar, dtype", [
    (np.float64(3.0), np.float64), (np.float16(3.0), np.float16), (np.float32(3.0), np.float32),
    (3.0, np.float32), (np.int64(3), np.float32), (np.bool_(True), np.float32),
])
def test_tensor_of_a_numpy_scalar_keeps_its_float_dtype(scalar, dtype):
    # as a 0-d array does (and torch.tensor(np.float64(3.0)), float64); Python floats and
    # integers take the library default
    assert rb.tensor(scalar).dtype == dtype


def test_no_grad_decorates_generator_functions():
    w = rb.tensor(np.ones(3), requires_grad=True)

    @rb.no_grad
    def batches(n):
        for i in range(n):
            assert not is_grad_enabled()
            yield w * i

    @rb.no_grad()
    def echo():
        received = yield w * 1
        while True:
            received = yield w * received

    outs = [b.requires_grad for b in batches(3)]
    assert outs == [False, False, False]
    gen = batches(2)
    assert not next(gen).requires_grad
    assert is_grad_enabled()  # between resumes, the caller's mode
    assert (w * 2).requires_grad
    gen.close()
    e = echo()
    assert not next(e).requires_grad and not e.send(3.0).requires_grad
    assert is_grad_enabled()
    import inspect

    assert inspect.isgeneratorfunction(batches) and batches.__name__ == "batches"
