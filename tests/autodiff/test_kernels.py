"""The optional compiled kernels (``rosenblatt[fast]``) against their NumPy twins.

Every kernel runs both ways on the same inputs, outputs and gradients compared
to 1e-6; the NumPy path is forced with ``use_numba(False)``, the kernels with
``use_numba(True)`` (which overrides ``ROSENBLATT_NO_NUMBA``, so the CI's
second pass, with that variable set, still checks them here while the rest of
its tests run on NumPy alone). Without Numba the comparisons are skipped and
only the fallback is checked.
"""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff import _kernels
from rosenblatt.nn import conv
from rosenblatt.nn.sequence import OneHotRows
from rosenblatt.optim.adam import adam_rule
from rosenblatt.optim.sgd import sgd_rule

HAVE_NUMBA = importlib.util.find_spec("numba") is not None
needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="the fast extra (numba) is not installed")


def assert_close(fast, slow, tol=1e-6, scaled=False):
    """Equal to ``tol``; ``scaled``: relative to each array's largest value (float32 sums taken
    in another order, e.g. the direct convolution against im2col + GEMM)."""
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow):
        assert a.dtype == b.dtype and a.shape == b.shape
        atol = tol * max(1.0, float(np.abs(b).max(initial=0))) if scaled else tol
        np.testing.assert_allclose(a, b, rtol=tol, atol=atol)


# -- the switch -------------------------------------------------------------------------------

def test_env_var_and_switch_choose_numpy(monkeypatch):
    monkeypatch.setenv("ROSENBLATT_NO_NUMBA", "1")
    assert not _kernels.enabled() and _kernels.get("im2col") is None
    monkeypatch.setenv("ROSENBLATT_NO_NUMBA", "0")
    assert _kernels.enabled() == HAVE_NUMBA
    _kernels.use_numba(False)
    try:
        assert _kernels.get("im2col") is None
    finally:
        _kernels.use_numba(None)


def test_fallback_when_numba_is_absent(monkeypatch):
    monkeypatch.setitem(_kernels._state, "tried", True)
    monkeypatch.setitem(_kernels._state, "module", None)
    assert _kernels.get("lstm_forward_seq_step") is None
    lstm = rb.nn.LSTM(3, 4, rng=0)
    out, _ = lstm(np.ones((2, 5, 3), dtype=np.float32))  # the NumPy path runs
    assert out.shape == (2, 5, 4)


def test_import_does_not_load_numba():
    code = "import sys, rosenblatt; print('numba' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


def test_set_num_threads_checks_its_argument():
    with pytest.raises(ValueError, match="set_num_threads: n must be a positive integer"):
        rb.set_num_threads(0)


def test_env_threads_is_checked(monkeypatch):
    monkeypatch.setenv("ROSENBLATT_NUM_THREADS", "two")
    with pytest.raises(ValueError, match="ROSENBLATT_NUM_THREADS"):
        _kernels.env_threads()
    monkeypatch.setenv("ROSENBLATT_NUM_THREADS", "3")
    assert _kernels.env_threads() == 3


# -- LSTM -------------------------------------------------------------------------------------

@needs_numba
def test_tanh32_is_within_1e6_of_tanh():
    from rosenblatt.autodiff import _numba_kernels as k

    def step(table):  # one sequence, one step, no recurrent input, C_{t-1} = 0
        n = table.shape[1] // 4
        gates = np.empty_like(table)
        c = np.zeros((1, n), dtype=np.float32)
        out = np.empty((1, 1, n), dtype=np.float32)
        k.lstm_forward_seq_step(table, np.zeros((1, 1), dtype=np.int64), 0,
                                np.zeros_like(table), c, c.copy(), c.copy(), gates, out)
        return gates

    x = np.linspace(-12, 12, 20001, dtype=np.float32)
    table = np.zeros((1, 4 * x.size), dtype=np.float32)
    table[0, 2 * x.size:3 * x.size] = x  # the g block is a plain tanh
    np.testing.assert_allclose(step(table)[0, 2 * x.size:3 * x.size],
                               np.tanh(x.astype(np.float64)), rtol=0, atol=1e-6)
    assert np.isnan(step(np.full((1, 4), np.nan, dtype=np.float32))).all()  # NaN stays NaN


@needs_numba
@pytest.mark.parametrize("initial", [False, True])
def test_lstm_kernels_match_numpy(both, initial):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 5)).astype(np.float32)
    h0 = rng.standard_normal((3, 4)).astype(np.float32)
    c0 = rng.standard_normal(4).astype(np.float32)  # broadcast over the batch

    W_x = (rng.standard_normal((5, 16)) / 3).astype(np.float32)
    W_h = (rng.standard_normal((4, 16)) / 3).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)

    def run():
        ts = [rb.tensor(a, requires_grad=True) for a in (x, W_x, W_h, b, h0, c0)]
        h_init, c_init = (ts[4], ts[5]) if initial else (None, None)
        out, h, c = rb.nn.functional.lstm(ts[0], ts[1], ts[2], ts[3], h_init, c_init)
        ((out * out).sum() + (c * 3).sum()).backward()
        used = ts if initial else ts[:4]
        return [out.data.copy(), h.data.copy(), c.data.copy(), *[t.grad.copy() for t in used]]

    assert_close(*both(run))


@needs_numba
@pytest.mark.parametrize("initial", [False, True])
@pytest.mark.parametrize("one_hot", [False, True])
@pytest.mark.parametrize("T", [1, 7])
@pytest.mark.parametrize("op", ["lstm", "gru"])
def test_whole_sequence_kernels_equal_the_step_loop(monkeypatch, initial, one_hot, T, op):
    # {lstm,gru}_forward_seq / _backward_seq call NumPy's own BLAS from inside the kernel
    # for h_{t-1} W_h and dA_t W_h^T: the same products and gate passes as the loop in
    # Python, so the same bits, outputs, final states and every gradient (h0's too)
    from rosenblatt.autodiff import _numba_kernels as k

    if not k.HAVE_SGEMM:
        pytest.skip("NumPy's BLAS has no ILP64 cblas_sgemm here: the step loop runs")
    rng = np.random.default_rng(T)
    B, V, H = 5, 9, 12
    x = (np.eye(V, dtype=np.float32)[rng.integers(0, V, (B, T))] if one_hot
         else rng.standard_normal((B, T, V)).astype(np.float32))
    h0 = rng.standard_normal((B, H)).astype(np.float32)
    c0 = rng.standard_normal(H).astype(np.float32)
    G = 4 * H if op == "lstm" else 3 * H
    W_x = (rng.standard_normal((V, G)) / 3).astype(np.float32)
    W_h = (rng.standard_normal((H, G)) / 3).astype(np.float32)
    b = rng.standard_normal(G).astype(np.float32)
    calls = []

    def run():
        ts = [rb.tensor(a, requires_grad=True) for a in (x, W_x, W_h, b, h0, c0, b[:H])]
        h_init, c_init = (ts[4], ts[5]) if initial else (None, None)
        if op == "gru":
            out = rb.nn.functional.gru(ts[0], ts[1], ts[2], ts[3], ts[6], h_init)
            (out * out).sum().backward()
            used = [ts[i] for i in (0, 1, 2, 3, 6, 4)] if initial else ts[:4] + ts[6:]
            return [out.data.copy(), *[t.grad.copy() for t in used]]
        out, h, c = rb.nn.functional.lstm(ts[0], ts[1], ts[2], ts[3], h_init, c_init)
        ((out * out).sum() + (c * 3).sum() + (h * h).sum()).backward()
        used = ts[:6] if initial else ts[:4]
        return [out.data.copy(), h.data.copy(), c.data.copy(), *[t.grad.copy() for t in used]]

    get = _kernels.get

    def counting(name):
        calls.append(name)
        return get(name)

    _kernels.use_numba(True)
    try:
        monkeypatch.setattr(_kernels, "get", counting)
        whole = run()
        assert f"{op}_forward_seq" in calls and f"{op}_backward_seq" in calls
        monkeypatch.setattr(_kernels, "get", lambda name: None if name.endswith("_seq")
                            else get(name))
        loop = run()
    finally:
        _kernels.use_numba(None)
    for a, b_ in zip(whole, loop):
        np.testing.assert_array_equal(a, b_)


# -- one-hot inputs ---------------------------------------------------------------------------

@pytest.mark.parametrize("values", ["ones", "scaled"])
def test_one_hot_rows_equal_the_gemm(both, values):
    rng = np.random.default_rng(0)
    x = np.zeros((40, 20), dtype=np.float32)
    idx = rng.integers(0, 20, 40)
    x[np.arange(40), idx] = 1 if values == "ones" else rng.standard_normal(40)
    x[7] = 0  # a row without a one
    w = rng.standard_normal((20, 12)).astype(np.float32)
    d = rng.standard_normal((40, 12)).astype(np.float32)

    def run():
        rows = OneHotRows.find(x)
        assert rows is not None
        out = np.empty((40, 12), dtype=np.float32)
        rows.project(w, out)
        return [out, rows.weight_grad(d, w.dtype)]

    for result in both(run):
        assert_close(result, [x @ w, x.T @ d], tol=1e-5)


@needs_numba
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_one_hot_kernel_matches_numpy(both, bias):
    """The forward kernel that reads rows of W_x + b itself (no gathered array)."""
    rng = np.random.default_rng(2)
    x = np.eye(20, dtype=np.float32)[rng.integers(0, 20, (3, 5))]
    W_x = (rng.standard_normal((20, 16)) / 3).astype(np.float32)
    W_h = (rng.standard_normal((4, 16)) / 3).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32) if bias else None

    def run():
        ts = [rb.tensor(a, requires_grad=True) for a in (W_x, W_h)]
        bt = None if b is None else rb.tensor(b, requires_grad=True)
        out, h, c = rb.nn.functional.lstm(rb.tensor(x), ts[0], ts[1], bt)
        ((out * out).sum() + (c * 3).sum()).backward()
        grads = [t.grad.copy() for t in ts] + ([] if bt is None else [bt.grad.copy()])
        return [out.data.copy(), c.data.copy(), *grads]

    assert_close(*both(run))


def test_one_hot_rows_keep_the_gemm_dtype():
    """float64 one-hot input, float32 layer: float64 results, as the GEMM gives (principle 6)."""
    x = np.eye(20)[np.random.default_rng(0).integers(0, 20, (2, 3))]
    for layer in (rb.nn.LSTM(20, 4, rng=0), rb.nn.GRU(20, 4, rng=0)):
        out, _ = layer(x)
        out.sum().backward()
        dense = x.copy()
        dense[0, 0, 1] = 1e-300  # two non-zeros in a row: the GEMM path
        ref, _ = layer(dense)
        assert out.dtype == ref.dtype == np.float64
        np.testing.assert_allclose(out.data, ref.data, rtol=1e-6, atol=1e-7)
        assert layer.W_x[0].grad.dtype == np.float32


def test_dense_inputs_are_not_one_hot():
    x = np.zeros((30, 20))
    x[:, 3] = 1
    x[5, 4] = 2  # one row with two entries
    assert OneHotRows.find(x) is None
    assert OneHotRows.find(np.ones((30, 20))) is None
    assert OneHotRows.find(np.eye(8)) is None  # too few columns to pay for the test


@needs_numba
@pytest.mark.parametrize("used", ["states", "outputs_and_h", "single_step"])
def test_lstm_kernels_match_numpy_for_each_result(both, used):
    """Gradients entering through h_T and C_T only, through the outputs and h_T together,
    and a one-step sequence (the batch-major path's edge cases)."""
    rng = np.random.default_rng(4)
    T = 1 if used == "single_step" else 5
    x = rng.standard_normal((3, T, 6)).astype(np.float32)
    W_x = (rng.standard_normal((6, 16)) / 3).astype(np.float32)
    W_h = (rng.standard_normal((4, 16)) / 3).astype(np.float32)
    h0 = rng.standard_normal((3, 4)).astype(np.float32)

    def run():
        ts = [rb.tensor(a, requires_grad=True) for a in (x, W_x, W_h, h0)]
        out, h, c = rb.nn.functional.lstm(ts[0], ts[1], ts[2], None, ts[3])
        if used == "states":
            loss = (h * h).sum() + (c * 2).sum()
        else:
            loss = (out * out).sum() + (h * 3).sum() + c.sum()
        loss.backward()
        return [out.data.copy(), h.data.copy(), *[t.grad.copy() for t in ts]]

    assert_close(*both(run))


@needs_numba
@pytest.mark.parametrize("batch_norm", [False, True])
def test_lstm_layer_kernels_match_numpy_through_an_optimizer(both, batch_norm):
    """Two stacked layers (the second reads dense inputs), one-hot characters, the weight
    gradients written into the optimizer's packed gradient slots; with batch norm the op
    gets projected inputs (no W_x)."""
    rng = np.random.default_rng(5)
    x = np.eye(20, dtype=np.float32)[rng.integers(0, 20, (4, 6))]

    def run():
        lstm = rb.nn.LSTM(20, 5, num_layers=2, batch_norm=batch_norm, rng=1)
        opt = rb.optim.SGD(lstm.parameters(), lr=0.1)
        opt.zero_grad()
        out, (h, c) = lstm(x)
        ((out * out).sum() + c.sum()).backward()
        grads = [p.grad.copy() for p in lstm.parameters()]
        opt.step()
        return [out.data.copy(), *grads, *[p.data.copy() for p in lstm.parameters()]]

    assert_close(*both(run), tol=2e-6)


def test_lstm_on_one_hot_input_matches_dense_input():
    """The gather path gives the GEMM's numbers (a one-hot input plus 0 * noise is dense)."""
    rng = np.random.default_rng(3)
    x = np.eye(20, dtype=np.float64)[rng.integers(0, 20, (2, 4))]

    def run(inputs):
        lstm = rb.nn.LSTM(20, 3, rng=0, dtype=np.float64)
        out, _ = lstm(inputs)
        (out * out).sum().backward()
        return [out.data, *[p.grad for p in lstm.parameters()]]

    dense = x.copy()
    dense[0, 0, 1] = 1e-300  # two non-zeros in one row: the GEMM path
    assert_close(run(x), run(dense), tol=1e-9)


# -- GRU --------------------------------------------------------------------------------------

@needs_numba
@pytest.mark.parametrize("initial", [False, True])
@pytest.mark.parametrize("T", [1, 6])
def test_gru_kernels_match_numpy(both, initial, T):
    """Dense inputs, both biases, h_0 given (broadcast over the batch) or zero, a one-step
    sequence; the loss reads every output and the last one again."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, T, 5)).astype(np.float32)
    h0 = rng.standard_normal(4).astype(np.float32)
    W_x = (rng.standard_normal((5, 12)) / 3).astype(np.float32)
    W_h = (rng.standard_normal((4, 12)) / 3).astype(np.float32)
    b, b_hn = rng.standard_normal(12).astype(np.float32), rng.standard_normal(4).astype(np.float32)

    def run():
        ts = [rb.tensor(a, requires_grad=True) for a in (x, W_x, W_h, b, b_hn, h0)]
        out = rb.nn.functional.gru(ts[0], ts[1], ts[2], ts[3], ts[4], ts[5] if initial else None)
        ((out * out).sum() + (out[:, -1] * 3).sum()).backward()
        used = ts if initial else ts[:5]
        return [out.data.copy(), *[t.grad.copy() for t in used]]

    assert_close(*both(run))


@needs_numba
@pytest.mark.parametrize("bias", [True, False])
def test_gru_one_hot_kernel_matches_numpy(both, bias):
    """The forward kernel reading rows of W_x + b itself (no gathered array), with and
    without the biases."""
    rng = np.random.default_rng(7)
    x = np.eye(20, dtype=np.float32)[rng.integers(0, 20, (3, 5))]
    W_x = (rng.standard_normal((20, 12)) / 3).astype(np.float32)
    W_h = (rng.standard_normal((4, 12)) / 3).astype(np.float32)
    b = rng.standard_normal(12).astype(np.float32) if bias else None
    b_hn = rng.standard_normal(4).astype(np.float32) if bias else None

    def run():
        ts = [rb.tensor(a, requires_grad=True) for a in (W_x, W_h)]
        bs = [None if a is None else rb.tensor(a, requires_grad=True) for a in (b, b_hn)]
        out = rb.nn.functional.gru(rb.tensor(x), ts[0], ts[1], bs[0], bs[1])
        (out * out).sum().backward()
        grads = [t.grad.copy() for t in ts + [t for t in bs if t is not None]]
        return [out.data.copy(), *grads]

    assert_close(*both(run))


@needs_numba
@pytest.mark.parametrize("batch_norm", [False, True])
def test_gru_layer_kernels_match_numpy_through_an_optimizer(both, batch_norm):
    """Two stacked layers (the second reads dense inputs), one-hot characters, the weight
    gradients written into the optimizer's packed gradient slots; with batch norm the op
    gets projected inputs (no W_x); the loss reads the final state too."""
    rng = np.random.default_rng(8)
    x = np.eye(20, dtype=np.float32)[rng.integers(0, 20, (4, 6))]

    def run():
        gru = rb.nn.GRU(20, 5, num_layers=2, batch_norm=batch_norm, rng=1)
        opt = rb.optim.SGD(gru.parameters(), lr=0.1)
        opt.zero_grad()
        out, h = gru(x)
        ((out * out).sum() + h.sum()).backward()
        grads = [p.grad.copy() for p in gru.parameters()]
        opt.step()
        return [out.data.copy(), h.data.copy(), *grads, *[p.data.copy() for p in gru.parameters()]]

    assert_close(*both(run), tol=2e-6)


@needs_numba
def test_gru_float64_takes_the_numpy_path(both):
    """float64 weights run the NumPy code either way (the same numbers)."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 5, 4))

    def run():
        out, _ = rb.nn.GRU(4, 3, rng=0, dtype=np.float64)(x)
        return [out.data]

    fast, slow = both(run)
    np.testing.assert_array_equal(fast[0], slow[0])


# -- padded batches (lengths) -----------------------------------------------------------------

def _padded_run(op, one_hot, lengths=(6, 1, 4, 6, 2)):
    """``op`` ("lstm" or "gru") on a padded batch with every input given: the loss reads
    every output (so the padded steps' gradients must reach the held states), the final
    states again, and the gradients of x (dense), the weights, the biases and the initial
    states are returned with the outputs."""
    rng = np.random.default_rng(10)
    B, T, D, H = len(lengths), max(lengths), 7, 4
    G = 4 if op == "lstm" else 3
    if one_hot:
        x = rb.tensor(np.eye(D, dtype=np.float32)[rng.integers(0, D, (B, T))])
    else:
        x = rb.tensor(rng.standard_normal((B, T, D)).astype(np.float32), requires_grad=True)
    arrays = [rng.standard_normal(shape).astype(np.float32) / 2
              for shape in ((D, G * H), (H, G * H), (G * H,), (B, H), (B, H), (H,))]
    W_x, W_h, b, h0, c0, b_hn = [rb.tensor(a, requires_grad=True) for a in arrays]
    if op == "lstm":
        out, h, c = rb.nn.functional.lstm(x, W_x, W_h, b, h0, c0, lengths=lengths)
        ((out * out).sum() + (h * 3).sum() + (c * c).sum()).backward()
        results, used = [out.data, h.data, c.data], [W_x, W_h, b, h0, c0]
    else:
        out = rb.nn.functional.gru(x, W_x, W_h, b, b_hn, h0, lengths=lengths)
        ((out * out).sum() + (out[:, -1] * 3).sum()).backward()
        results, used = [out.data], [W_x, W_h, b, b_hn, h0]
    if not one_hot:
        used.append(x)
    return [a.copy() for a in results] + [t.grad.copy() for t in used]


@needs_numba
@pytest.mark.parametrize("op", ["lstm", "gru"])
@pytest.mark.parametrize("one_hot", [False, True])
def test_padded_batches_on_the_compiled_path_match_numpy(both, op, one_hot):
    """With ``lengths`` the compiled LSTM and GRU hold the ended sequences' states and pass
    their gradients through as the NumPy path does (a length-1 sequence among them)."""
    fast, slow = both(lambda: _padded_run(op, one_hot))
    assert_close(fast, slow, scaled=True)
    out = fast[0]
    np.testing.assert_array_equal(out[1, 1:], np.broadcast_to(out[1, :1], out[1, 1:].shape))


@needs_numba
def test_padded_batches_run_the_compiled_kernels(both, monkeypatch):
    """The padded batch is not sent to the NumPy path: the kernels run, forward and back."""
    calls = []
    get = _kernels.get

    def spy(name):
        calls.append(name)
        return get(name)

    monkeypatch.setattr(_kernels, "get", spy)
    both(lambda: (_padded_run("lstm", one_hot=False), _padded_run("gru", one_hot=True)))
    for name in ("lstm_forward_seq_step", "lstm_backward_seq_step", "gru_forward_seq_step",
                 "gru_backward_seq_step"):
        assert name in calls


# -- convolution ------------------------------------------------------------------------------

CONV_CASES = [  # (N, C, H, W, O, k, padding, stride, channel-major input)
    (4, 1, 9, 9, 3, 5, 2, 1, False),
    (3, 2, 10, 11, 4, 3, 0, 2, True),
    (2, 3, 8, 9, 2, 4, (1, 3), (2, 1), True),
    (2, 2, 7, 7, 3, 3, "full", 3, True),
    (2, 3, 6, 6, 2, 3, "same", 1, False),  # NCHW with C > 1: the NumPy path either way
]


@needs_numba
@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_kernels_match_numpy(both, case, dtype):
    n, c, h, w, o, k, padding, stride, channel_major = case
    rng = np.random.default_rng(0)
    if channel_major:
        xd = rng.standard_normal((c, n, h, w)).astype(dtype).transpose(1, 0, 2, 3)
    else:
        xd = rng.standard_normal((n, c, h, w)).astype(dtype)
    wd = rng.standard_normal((o, c, k, k)).astype(dtype)

    def run():
        x = rb.tensor(xd, requires_grad=True)
        wt = rb.tensor(wd, requires_grad=True)
        y = conv.conv2d(x, wt, None, stride, padding)
        y.backward(np.cos(np.arange(y.data.size)).reshape(y.shape).astype(dtype))
        return [y.data.copy(), x.grad.copy(), wt.grad.copy()]

    # one input channel, stride 1 (case 0) runs the direct kernels: float32 sums in another order
    assert_close(*both(run), scaled=dtype == np.float32)


POOL_CASES = [  # (N, C, H, W, kernel, stride, channel-major input, tied values)
    (3, 2, 8, 8, 2, None, False, False),  # the unrolled 2 x 2 kernels, NCHW
    (3, 2, 8, 8, 2, None, True, True),  # channel-major, ties: the first maximum gets it
    (2, 3, 7, 9, 2, None, True, False),  # a remainder row / column: zeroed in the gradient
    (2, 2, 9, 9, 3, 2, False, True),  # overlapping windows: gradients add up
    (2, 2, 9, 10, (2, 3), (3, 4), True, False),  # gaps between windows
]


@needs_numba
@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_kernels_match_numpy(both, case, dtype):
    n, c, h, w, kernel, stride, channel_major, ties = case
    rng = np.random.default_rng(0)
    values = rng.integers(0, 3, (c, n, h, w)) if ties else rng.standard_normal((c, n, h, w))
    xd = values.astype(dtype).transpose(1, 0, 2, 3)
    if not channel_major:
        xd = np.ascontiguousarray(xd)

    def run():
        x = rb.tensor(xd, requires_grad=True)
        y = rb.nn.functional.max_pool2d(x, kernel, stride)
        y.backward(np.cos(np.arange(y.data.size)).reshape(y.shape).astype(dtype))
        return [y.data.copy(), x.grad.copy()]

    fast, slow = both(run)
    assert_close(fast, slow)
    assert fast[0].strides == slow[0].strides  # laid out like the input, both ways


def test_max_pool_kernel_keeps_nan_in_the_maximum():
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 0, 1] = np.nan
    with np.errstate(invalid="ignore"):
        y = rb.nn.functional.max_pool2d(x, 2).data
    assert np.isnan(y[0, 0, 0, 0]) and np.isnan(y).sum() == 1
    with np.errstate(invalid="ignore"):
        y = rb.nn.functional.max_pool2d(x, 3, 1).data  # the loop over the window
    assert np.isnan(y[0, 0, 0]).all() and not np.isnan(y[0, 0, 1]).any()


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_relu_kernels_match_numpy(both, dtype, bias):
    rng = np.random.default_rng(1)
    xd = rng.standard_normal((3, 2, 9, 9)).astype(dtype)
    wd = rng.standard_normal((4, 2, 3, 3)).astype(dtype)
    bd = rng.standard_normal(4).astype(dtype)

    def run():
        x, w = rb.tensor(xd, requires_grad=True), rb.tensor(wd, requires_grad=True)
        b = rb.tensor(bd, requires_grad=True) if bias else None
        y = conv.conv2d(x, w, b, 1, 1, activation="relu")
        y.backward(np.cos(np.arange(y.data.size)).reshape(y.shape).astype(dtype))
        return [y.data.copy(), x.grad.copy(), w.grad.copy()] + ([b.grad.copy()] if bias else [])

    assert_close(*both(run))


@needs_numba
def test_threaded_kernels_match_the_serial_ones(monkeypatch):
    """The multi-threaded twins (two threads) give the serial kernels' numbers exactly."""
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_SIZE", 0)  # threads for these small arrays too
    # NumPy's BLAS out of reach: the ops use the prange twins, not their split over our own
    # threads (tests/autodiff/test_kernel_parts.py)
    monkeypatch.setitem(_kernels._blas, "tried", True)
    monkeypatch.setitem(_kernels._blas, "controller", None)
    rng = np.random.default_rng(2)
    xd = rng.standard_normal((8, 3, 12, 12)).astype(np.float32)
    wd = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    bd = rng.standard_normal(5).astype(np.float32)

    def run():
        x, w, b = (rb.tensor(a, requires_grad=True) for a in (xd, wd, bd))
        y = rb.nn.functional.max_pool2d(conv.conv2d(x, w, b, 1, "same", "relu"), 2)
        y.backward(np.cos(np.arange(y.data.size)).reshape(y.shape).astype(np.float32))
        return [y.data.copy(), x.grad.copy(), w.grad.copy(), b.grad.copy()]

    try:
        _kernels.use_numba(True)
        with _kernels.kernel_threads(2):
            assert _kernels.threaded("im2col") is _kernels.get("im2col_parallel")
            assert _kernels.threaded("im2col", 100) is _kernels.get("im2col_parallel")
            threaded = run()
            monkeypatch.setattr(_kernels, "PARALLEL_MIN_SIZE", 1 << 15)
            assert _kernels.threaded("im2col", 100) is _kernels.get("im2col")  # too small
        with _kernels.kernel_threads(1):
            assert _kernels.threaded("im2col") is _kernels.get("im2col")
            serial = run()
    finally:
        _kernels.use_numba(None)
    assert_close(threaded, serial, tol=0)


# -- Adam -------------------------------------------------------------------------------------

@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_kernel_matches_numpy(both, dtype):
    rng = np.random.default_rng(0)
    start = [rng.standard_normal(1000).astype(dtype) for _ in range(3)]
    start[2] = np.abs(start[2])  # v >= 0
    grads = [rng.standard_normal(1000).astype(dtype) for _ in range(3)]

    def run():
        theta, m, v = (a.copy() for a in start)
        buf = np.empty_like(theta)
        for t, g in enumerate(grads, 1):
            adam_rule(theta, g, m, v, buf, lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, t=t)
        return [theta, m, v]

    fast, slow = both(run)
    assert_close(fast, slow, tol=1e-6 if dtype == np.float32 else 1e-12)


# -- SGD with momentum ------------------------------------------------------------------------

@needs_numba
@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_momentum_kernel_matches_numpy(both, nesterov, dtype):
    rng = np.random.default_rng(1)
    start = rng.standard_normal(5000).astype(dtype)  # above the kernel's minimum size
    grads = [rng.standard_normal(5000).astype(dtype) for _ in range(3)]

    def run():
        theta, velocity = start.copy(), np.zeros_like(start)
        buf = np.empty_like(theta)
        for t, g in enumerate(grads):
            sgd_rule(theta, g, velocity, buf, lr=0.1, momentum=0.9, nesterov=nesterov,
                     weight_decay=1e-3, first=t == 0)
        return [theta, velocity]

    fast, slow = both(run)
    assert_close(fast, slow, tol=1e-6 if dtype == np.float32 else 1e-12)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_update_kernels_store_subnormal_state_as_zero(both, dtype):
    # a weight whose gradient stays zero: its velocity (Adam's m) decays by mu (beta1) each
    # step into the subnormal range, where every multiply takes a microcode assist; the
    # compiled passes store it as zero there, the NumPy rules keep the subnormal (the two
    # differ by less than the smallest normal number); NaN stays NaN
    tiny = np.finfo(dtype).tiny
    start = np.ones(5000, dtype)  # above the kernels' minimum size
    decayed = np.full_like(start, 4 * tiny)  # subnormal after one step at mu = 0.2
    decayed[0], decayed[1] = np.nan, 1.0
    zero = np.zeros_like(start)

    def run():
        theta, velocity, m, v = start.copy(), decayed.copy(), decayed.copy(), zero.copy()
        buf = np.empty_like(theta)
        sgd_rule(theta, zero, velocity, buf, lr=0.1, momentum=0.2, nesterov=False,
                 weight_decay=0.0, first=False)
        adam_rule(start.copy(), zero, m, v, buf, lr=0.1, beta1=0.2, beta2=0.999, eps=1e-8,
                  t=2)
        return theta, velocity, m

    with np.errstate(invalid="ignore"):
        (theta, velocity, m), (theta_np, velocity_np, m_np) = both(run)
    for state in (velocity, m):
        assert np.isnan(state[0]) and state[1] > 0
        assert (state[2:] == 0).all()
    for state in (velocity_np, m_np):
        assert ((state[2:] > 0) & (state[2:] < tiny)).all()
    np.testing.assert_allclose(velocity[1:], velocity_np[1:], rtol=0, atol=tiny)
    np.testing.assert_allclose(m[1:], m_np[1:], rtol=0, atol=tiny)
    np.testing.assert_array_equal(theta, theta_np)  # the weights do not see the difference


@needs_numba
def test_fused_conv_relu_backward_selects_a_non_finite_gradient_as_pytorch(both):
    # every ReLU unit closed, one upstream gradient infinite: the compiled fused backward
    # selects as its NumPy twin (conv._relu_grad), relu_backward, the unfused
    # relu(conv2d(...)) and PyTorch's threshold_backward do, so the gradients are 0, not
    # inf * 0 = NaN, with or without the fast extra
    x = rb.tensor(np.zeros((1, 1, 3, 3), np.float32))
    g = np.ones((1, 1, 3, 3), np.float32)
    g[0, 0, 0, 0] = np.inf

    def run(fused):
        w = rb.tensor(np.ones((1, 1, 1, 1), np.float32), requires_grad=True)
        b = rb.tensor(np.array([-1.0], np.float32), requires_grad=True)
        if fused:
            y = rb.nn.functional.conv2d(x, w, b, activation="relu")
        else:
            y = rb.nn.functional.conv2d(x, w, b).relu()
        y.backward(g)
        return [w.grad, b.grad]

    for fused in (True, False):
        fast, slow = both(lambda fused=fused: run(fused))
        for f, s in zip(fast, slow):
            np.testing.assert_array_equal(f, s)
            assert (f == 0).all()
    from rosenblatt.autodiff import _numba_kernels as fast_kernels

    rng = np.random.default_rng(3)
    g2 = rng.standard_normal((3, 7)).astype(np.float32)
    y = np.abs(rng.standard_normal((3, 7))).astype(np.float32)  # a ReLU's output: >= 0 or NaN
    g2[0, :4], y[0, :4] = [np.inf, -np.inf, np.nan, 2.0], [0.0, 0.0, 0.0, np.nan]
    gm, gb = np.empty_like(g2), np.empty(3, np.float32)
    fast_kernels.relu_grad_rows(g2, y, gm, gb, 0, 3)
    _kernels.use_numba(False)
    try:
        twin = conv._relu_grad(g2, y, False)[0].copy()  # the NumPy twin
    finally:
        _kernels.use_numba(None)
    np.testing.assert_array_equal(gm, twin)
    np.testing.assert_array_equal(gm[0, :4], [0.0, 0.0, 0.0, 2.0])  # g passes at a NaN input
    np.testing.assert_allclose(gb, twin.sum(axis=1), rtol=1e-6)
