"""The MLP's compiled kernels (ReLU's backward, softmax cross-entropy) against their NumPy
twins, outputs and gradients to 1e-6 (issue 23); the engine's fast paths (a chain walked
without the heap, Dense writing its bias gradient into the flat vector, the fused mean
squared error) against plain reference computations.

The kernels are forced on with ``use_numba(True)`` and off with ``use_numba(False)``;
without Numba the comparisons are skipped and only the NumPy path runs.
"""

import importlib.util

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff.elementwise import RELU_KERNEL_MIN_SIZE

HAVE_NUMBA = importlib.util.find_spec("numba") is not None
needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="the fast extra (numba) is not installed")


def close(fast, slow, tol=1e-6):
    for a, b in zip(fast, slow):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_kernel_matches_numpy(dtype, both):
    rng = np.random.default_rng(0)
    shape = (64, RELU_KERNEL_MIN_SIZE // 64 + 3)
    x0 = rng.standard_normal(shape).astype(dtype)
    x0[0, :4] = 0.0  # the kink: relu'(0) = 0
    g = rng.standard_normal(shape).astype(dtype)
    x0[1, :2] = -1.0
    g[1, 0], g[1, 1] = np.nan, np.inf  # through a negative input: 0, a select as in PyTorch

    def run():
        x = rb.tensor(x0, requires_grad=True)
        y = x.relu()
        y.backward(g)
        return [y.data, x.grad]

    fast, slow = both(run)
    assert (fast[1][1, :2] == 0).all() and (slow[1][1, :2] == 0).all()
    np.testing.assert_array_equal(np.isnan(fast[1]), np.isnan(slow[1]))
    close([f[np.isfinite(f)] for f in fast], [s[np.isfinite(s)] for s in slow])


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_and_tanh_backward_kernels_match_numpy(dtype, both):
    # g y (1 - y) and g (1 - y^2) in one compiled pass each, float32 and float64; saturation,
    # infinities and NaN as NumPy gives them; the RBM's in-place forward the same
    rng = np.random.default_rng(6)
    shape = (64, RELU_KERNEL_MIN_SIZE // 64 + 5)
    x0 = (rng.standard_normal(shape) * 6).astype(dtype)
    x0[0, :6] = [0.0, 40.0, -40.0, np.inf, -np.inf, np.nan]
    g = rng.standard_normal(shape).astype(dtype)

    def run():
        x = rb.tensor(x0, requires_grad=True)
        y = x.sigmoid()
        y.backward(g)
        inplace = x0.copy()
        from rosenblatt.models.rbm import sigmoid_
        sigmoid_(inplace)
        x2 = rb.tensor(x0, requires_grad=True)
        x2.tanh().backward(g)  # tanh's backward g (1 - y^2), the same kind of kernel
        return [y.data, x.grad, inplace, x2.grad]

    fast, slow = both(run)
    for f, s in zip(fast, slow):
        assert f.dtype == s.dtype == dtype
        np.testing.assert_array_equal(np.isnan(f), np.isnan(s))
        close([f[~np.isnan(f)]], [s[~np.isnan(s)]])
    # the RBM's in-place sigmoid is the absolute-accuracy form (sigmoid_probabilities)
    np.testing.assert_allclose(fast[0], fast[2], rtol=0, atol=2 * np.finfo(dtype).eps)
    # sigmoid(-40) = e^-40 / (1 + e^-40): relatively exact, not 0 (it was 0 with the tanh form)
    np.testing.assert_allclose(fast[0][0, :5], [0.5, 1, np.exp(-40.0), 1, 0], rtol=1e-6, atol=0)


def _leaky_reference(x, g, slope):
    """Leaky ReLU's output and input gradient the plain way, with ``where``."""
    s = x.dtype.type(slope)
    return [np.where(x > 0, x, x * s), np.where(x > 0, g, g * s)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("slope", [0.2, 0.01, 1.5, -0.3])
def test_leaky_relu_matches_where_exactly(dtype, slope, both):
    # every path (compiled where Numba is installed, NumPy's branch-free factor, and a
    # gradient the kernel cannot take) selects exactly the values `where` selects: the kink
    # (slope at 0, -0.0 kept), NaN and infinities in the input and in the gradient
    rng = np.random.default_rng(3)
    shape = (64, RELU_KERNEL_MIN_SIZE // 64 + 3)
    x0 = rng.standard_normal(shape).astype(dtype)
    x0[0, :6] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-30]
    g = rng.standard_normal(shape).astype(dtype)
    g[1, :3] = [np.nan, np.inf, -np.inf]
    g[2, 0] = np.nan

    def run(grad):
        x = rb.tensor(x0, requires_grad=True)
        y = rb.nn.functional.leaky_relu(x, slope)
        y.backward(grad)
        return [y.data, x.grad]

    want = _leaky_reference(x0, g, slope)
    for grad in (g, np.asfortranarray(g)):  # the second: not the kernel's layout
        for got in both(lambda grad=grad: run(grad)):
            for a, b in zip(got, want):
                assert a.dtype == b.dtype
                np.testing.assert_array_equal(a, b)
                assert np.array_equal(np.signbit(a), np.signbit(b))
    small = rng.standard_normal((3, 5)).astype(dtype)  # below the kernel's size: NumPy's path
    got = rb.nn.functional.leaky_relu(rb.tensor(small), slope).data
    np.testing.assert_array_equal(got, _leaky_reference(small, small, slope)[0])


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_kernel_matches_numpy(dtype, reduction, both):
    rng = np.random.default_rng(1)
    logits = (rng.standard_normal((40, 7)) * 4).astype(dtype)
    logits[0, 3] = 1e4  # stable for large magnitudes
    labels = rng.integers(0, 7, 40)

    def run():
        x = rb.tensor(logits, requires_grad=True)
        loss = rb.losses.cross_entropy(x * 1.0, labels, reduction=reduction)
        loss.backward(np.asarray(0.5, dtype))  # a scale other than one reaches the kernel
        return [loss.data, x.grad]

    fast, slow = both(run)
    close(fast, slow, tol=1e-5 if reduction == "sum" else 1e-6)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_kernel_matches_numpy_on_wide_rows_and_non_finite_logits(dtype, both):
    # 65 classes (the char-LSTM's read-out: SIMD loops with a remainder); rows holding NaN,
    # +inf or -inf come out as NumPy's code makes them (NaN where it gives NaN)
    rng = np.random.default_rng(5)
    logits = (rng.standard_normal((50, 65)) * 3).astype(dtype)
    labels = rng.integers(0, 65, 50)
    logits[1, 0], logits[2, 64], logits[3, 7] = np.nan, np.inf, -np.inf
    logits[4, labels[4]] = np.nan
    logits[5, 10:20] = -np.inf

    def run():
        x = rb.tensor(logits, requires_grad=True)
        loss = rb.losses.cross_entropy(x * 1.0, labels, reduction="sum")
        loss.backward()
        kept = [i for i in range(50) if i not in (1, 2, 4)]
        finite = rb.losses.cross_entropy(rb.tensor(logits[kept]), labels[kept], reduction="sum")
        return [loss.data, x.grad, finite.data]

    with np.errstate(invalid="ignore"):
        fast, slow = both(run)
    for f, s in zip(fast, slow):
        np.testing.assert_array_equal(np.isnan(f), np.isnan(s))
    assert np.isnan(fast[0]) and np.isnan(fast[1][[1, 2, 4]]).all()
    close([fast[1][3:4], fast[1][5:], fast[2]], [slow[1][3:4], slow[1][5:], slow[2]], tol=1e-5)


@needs_numba
def test_cross_entropy_kernel_is_used_for_batches_and_falls_back_for_targets(both):
    # probability targets, a 3-D input and reduction="none" take the NumPy code (same values)
    rng = np.random.default_rng(2)
    x0 = rng.standard_normal((20, 5)).astype(np.float32)
    target = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 20)]

    def run():
        a = rb.losses.cross_entropy(rb.tensor(x0), target)
        b = rb.losses.cross_entropy(rb.tensor(x0.reshape(4, 5, 5)), target.argmax(1).reshape(4, 5))
        c = rb.losses.cross_entropy(rb.tensor(x0), target.argmax(1), reduction="none")
        d = rb.losses.cross_entropy(rb.tensor(x0), target.argmax(1))
        return [a.data, b.data, c.data, d.data]

    fast, slow = both(run)
    close(fast, slow)
    np.testing.assert_allclose(fast[0], fast[3], rtol=1e-6)


def test_cross_entropy_against_torch_on_both_paths(both):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x0 = rng.standard_normal((32, 10)).astype(np.float32)
    labels = rng.integers(0, 10, 32)
    xt = torch.tensor(x0, requires_grad=True)
    torch.nn.functional.cross_entropy(xt, torch.tensor(labels)).backward()

    def run():
        x = rb.tensor(x0, requires_grad=True)
        loss = rb.losses.cross_entropy(x, labels)
        loss.backward()
        return [loss.data, x.grad]

    ref = float(torch.nn.functional.cross_entropy(torch.tensor(x0), torch.tensor(labels)))
    for value, grad in both(run):
        np.testing.assert_allclose(float(value), ref, rtol=1e-6)
        np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_mse_mean_matches_the_elementwise_definition_and_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    p0, t0 = rng.standard_normal((6, 3)).astype(np.float32), rng.standard_normal((6, 3))
    for half in (False, True):
        p, t = rb.tensor(p0, requires_grad=True), rb.tensor(t0.astype(np.float32),
                                                             requires_grad=True)
        loss = rb.losses.mse(p, t, half=half)
        loss.backward()
        pt = torch.tensor(p0, requires_grad=True)
        tt = torch.tensor(t0.astype(np.float32), requires_grad=True)
        ref = torch.nn.functional.mse_loss(pt, tt) * (0.5 if half else 1.0)
        ref.backward()
        assert loss.dtype == np.float32 and loss.shape == ()
        np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-6)
        np.testing.assert_allclose(p.grad, pt.grad.numpy(), rtol=1e-6)
        np.testing.assert_allclose(t.grad, tt.grad.numpy(), rtol=1e-6)
    assert rb.gradcheck(lambda a: rb.losses.mse(a, t0), rb.tensor(p0.astype(np.float64),
                                                                   requires_grad=True))


def test_backward_walk_sums_every_path_and_runs_each_node_once():
    # a diamond, a repeated operand and a long chain: the walk that skips the heap for
    # chains must still wait for every consumer before running a node
    x = rb.tensor(np.array([0.3, -0.7]), requires_grad=True)
    a = x.tanh()
    b = a * a + a.sigmoid()  # a reaches b by three paths
    c = (b * x).sum() + (a * 2.0).sum()
    c.backward()
    xv = x.data
    t = np.tanh(xv)
    s = 1 / (1 + np.exp(-t))
    db_da = 2 * t + s * (1 - s)
    expected = (db_da * xv + 2.0) * (1 - t * t) + (t * t + s)
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)
    y = rb.tensor(np.ones(3), requires_grad=True)
    z = y
    for _ in range(2000):
        z = z * 1.0001
    z.sum().backward()
    np.testing.assert_allclose(y.grad, np.full(3, 1.0001 ** 2000), rtol=1e-9)


def test_dense_writes_bias_gradient_into_the_flat_vector():
    rng = np.random.default_rng(5)
    layer = rb.nn.Dense(3, 4, rng=rng)
    layer.b.data[...] = rng.standard_normal(4)
    opt = rb.optim.SGD(layer.parameters(), lr=0.1)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    for _ in range(2):  # the second step writes into the slots again
        opt.zero_grad()
        (layer(rb.tensor(x)) ** 2).sum().backward()
        y = x @ layer.W.data + layer.b.data
        np.testing.assert_allclose(layer.b.grad, (2 * y).sum(0), rtol=1e-5)
        np.testing.assert_allclose(layer.W.grad, x.T @ (2 * y), rtol=1e-5)
        assert np.shares_memory(layer.b.grad, opt.vec.grad)
        opt.step()
    # accumulation without zero_grad adds to what is there
    before = layer.b.grad.copy()
    (layer(rb.tensor(x)) ** 2).sum().backward()
    y = x @ layer.W.data + layer.b.data
    np.testing.assert_allclose(layer.b.grad, before + (2 * y).sum(0), rtol=1e-5)


def test_dense_mixed_dtypes_and_3d_inputs_still_work():
    layer = rb.nn.Dense(3, 2)
    opt = rb.optim.SGD(layer.parameters(), lr=0.1)
    x = rb.tensor(np.ones((2, 4, 3)), requires_grad=True)  # float64 input, float32 weights
    opt.zero_grad()
    out = layer(x)
    assert out.shape == (2, 4, 2)
    out.sum().backward()
    assert x.grad.shape == (2, 4, 3) and layer.W.grad.dtype == np.float32
    np.testing.assert_allclose(layer.W.grad, np.full((3, 2), 8.0))
    np.testing.assert_allclose(layer.b.grad, np.full(2, 8.0))


def test_other_float_types_take_the_numpy_code():
    # the kernels compile for float32 and float64 only; float16 (and longdouble) stay in NumPy
    x = rb.tensor((np.arange(8192).reshape(64, 128) % 7 - 3).astype(np.float16),
                  requires_grad=True)
    x.relu().backward(np.ones((64, 128), np.float16))
    assert x.grad.dtype == np.float16
    np.testing.assert_array_equal(x.grad, (x.data > 0).astype(np.float16))
    logits = rb.tensor(np.zeros((32, 4), np.float16), requires_grad=True)
    loss = rb.losses.cross_entropy(logits, np.zeros(32, int))
    loss.backward()
    assert loss.dtype == np.float16 and logits.grad.dtype == np.float16


@needs_numba
def test_wide_vectors_marks_only_the_kernel_that_asks():
    # LLVM's tuning prefers 256-bit vectors on Intel's AVX-512 cores; wide_vectors() sets
    # prefer-vector-width=512 on the one function that calls it, not on its neighbours
    import llvmlite.binding as ll
    import numba

    from rosenblatt.autodiff._numba_kernels import wide_vectors

    def body(x, out):
        for i in range(x.size):
            out[i] = 2.5 * x[i] + 1.0

    @numba.njit
    def wide(x, out):
        wide_vectors()
        body(x, out)

    narrow = numba.njit(body)
    body = numba.njit(body)
    x = np.arange(1000, dtype=np.float32)
    a, b = np.empty_like(x), np.empty_like(x)
    wide(x, a)
    narrow(x, b)
    np.testing.assert_array_equal(a, 2.5 * x + 1.0)
    np.testing.assert_array_equal(a, b)
    assert '"prefer-vector-width"="512"' in next(iter(wide.inspect_llvm().values()))
    assert "prefer-vector-width" not in next(iter(narrow.inspect_llvm().values()))
    if ll.get_host_cpu_features().get("avx512f"):
        assert "zmm" in next(iter(wide.inspect_asm().values()))


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cols", [64, 61])  # whole blocks of 64 values, and a tail
def test_bernoulli_cross_entropy_kernel_matches_numpy(dtype, cols, both):
    # the autoencoder's loss from logits and probabilities in one compiled pass: the value,
    # the gradient for g = 1 and for another g, saturated logits, and a NaN
    from rosenblatt.autodiff.elementwise import sigmoid_array
    from rosenblatt.models.autoencoder import bernoulli_cross_entropy

    rng = np.random.default_rng(7)
    rows = RELU_KERNEL_MIN_SIZE // cols + 3
    a0 = (rng.standard_normal((rows, cols)) * 4).astype(dtype)
    a0[0, :4] = [0.0, 30.0, -30.0, 90.0]
    x = rng.random((rows, cols)).astype(dtype)
    x[1] = (x[1] > 0.5).astype(dtype)  # binary targets too

    def run(g=None, nan=False):
        a = a0.copy()
        if nan:
            a[2, 3] = np.nan
        logits = rb.tensor(a, requires_grad=True)
        with np.errstate(invalid="ignore"):
            loss = bernoulli_cross_entropy(logits, x, probabilities=sigmoid_array(a))
            loss.backward(None if g is None else np.asarray(g, dtype))
        return [np.asarray(loss.data), logits.grad]

    fast, slow = both(run)
    assert fast[0].dtype == slow[0].dtype == dtype and fast[0].shape == ()
    close(fast, slow)
    a64 = a0.astype(np.float64)  # softplus(a) - x a = -x log p - (1 - x) log(1 - p), float64
    exact = (np.logaddexp(0, a64) - x * a64).sum() / rows
    np.testing.assert_allclose(float(fast[0]), exact, rtol=1e-6)
    close(*both(lambda: run(g=0.25)))
    fast, slow = both(lambda: run(nan=True))
    assert np.isnan(fast[0]) and np.isnan(slow[0])
    np.testing.assert_array_equal(np.isnan(fast[1]), np.isnan(slow[1]))
