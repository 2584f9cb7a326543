"""Numba twins of the few NumPy passes that NumPy cannot fuse (the optional ``fast`` extra).

Imported only through :mod:`rosenblatt.autodiff._kernels`, which falls back to
NumPy when Numba is absent or ``ROSENBLATT_NO_NUMBA=1``; importing this module
imports Numba, and every kernel compiles on its first call (``cache=True``:
later processes load the machine code from ``__pycache__``).

Each kernel is checked against the NumPy code it replaces (outputs and
gradients) in ``tests/autodiff/test_kernels.py``. Kernels take and return
arrays created by the caller (principle 6: the caller makes them like the
inputs); the recurrent kernels run for float32 only, where the rational
``tanh`` below is accurate to a few ulp.
"""

import math
import os
import types

import numba
import numba.extending
import numpy as np

# The multi-threaded kernels below use Numba's "workqueue" layer unless the user chose one
# (NUMBA_THREADING_LAYER): with the "omp" layer (the default here, no TBB) Numba's OpenMP
# runtime and PyTorch's own made PyTorch's training step 25x slower in the same process.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

# Fast-math without "no NaNs/infs": a NaN that enters a kernel comes out as NaN, as in NumPy.
_FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}
_jit = numba.njit(cache=True, fastmath=_FAST, nogil=True, error_model="numpy")

# LLVM's tuning for Intel cores with AVX-512 prefers 256-bit vectors (``prefer-256-bit``), and
# Numba's one target machine applies that to every kernel. ``prefer-vector-width`` on a single
# function overrides it for that function alone; llvmlite's function attributes accept only
# LLVM's enum attributes, so the string attribute goes into the set past its check.
_WIDE = '"prefer-vector-width"="512"'


@numba.extending.intrinsic
def wide_vectors(typingctx):
    """Called first in a kernel: the function that holds the call (after Numba's inlining)
    vectorises with 512-bit registers where the processor has AVX-512 (16 float32 or 8
    float64 lanes); elsewhere the attribute changes nothing. For kernels whose loops run
    long and arithmetic-bound: short loops leave more in the scalar remainder, and
    streaming loops over arrays aligned to 16 bytes straddle two cache lines per load."""
    def codegen(context, builder, signature, args):
        set.add(builder.function.attributes, _WIDE)
        return context.get_dummy_value()
    return numba.types.none(), codegen


# -- NumPy's own BLAS inside a kernel ---------------------------------------------------------
#
# A recurrence is a product and a gate pass per time step. From Python each step pays for
# NumPy's matmul call and the kernel's dispatch; a kernel that calls the BLAS itself runs the
# whole sequence in one call. The BLAS is NumPy's own library (found by threadpoolctl), its
# cblas_sgemm registered with LLVM under a name of ours: compiled code calls it through that
# symbol, so the kernels stay cacheable (a ctypes pointer in the code would not be). Only the
# ILP64 builds' suffixed symbols are taken, whose integer width is known (64 bits): NumPy's
# wheels ship one; with any other BLAS the per-step loop runs.
_SGEMM = "rosenblatt_numpy_cblas_sgemm"


def _bind_numpy_sgemm():
    """Register NumPy's ``cblas_sgemm`` (64-bit integers) as :data:`_SGEMM`; True if found."""
    import ctypes

    import llvmlite.binding

    from . import _kernels

    controller = _kernels._blas_controller()
    if controller is None:
        return False
    try:
        lib = ctypes.CDLL(controller.filepath)
    except OSError:
        return False
    for name in ("scipy_cblas_sgemm64_", "cblas_sgemm64_"):
        fn = getattr(lib, name, None)
        if fn is not None:
            llvmlite.binding.add_symbol(_SGEMM, ctypes.cast(fn, ctypes.c_void_p).value)
            return True
    return False


HAVE_SGEMM = _bind_numpy_sgemm()


@numba.extending.intrinsic
def _sgemm(typingctx, m, n, k, a, lda, b, ldb, c, ldc):
    """C = A B for row-major float32 matrices at addresses ``a``, ``b``, ``c`` (A: m x k, B:
    k x n, C: m x n; leading dimensions ``lda``, ``ldb``, ``ldc``), by NumPy's BLAS."""
    i64, ptr = numba.types.int64, numba.types.uintp
    sig = numba.types.none(i64, i64, i64, ptr, i64, ptr, i64, ptr, i64)

    def codegen(context, builder, signature, args):
        from llvmlite import ir
        from numba.core import cgutils

        i32, w, f32, p = ir.IntType(32), ir.IntType(64), ir.FloatType(), ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, w, w, w, f32, p, w, p, w, f32, p, w])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _SGEMM)
        m, n, k, a, lda, b, ldb, c, ldc = args
        row_major, no_trans = i32(101), i32(111)
        builder.call(fn, [row_major, no_trans, no_trans, m, n, k, f32(1.0),
                          builder.inttoptr(a, p), lda, builder.inttoptr(b, p), ldb, f32(0.0),
                          builder.inttoptr(c, p), ldc])
        return context.get_dummy_value()
    return sig, codegen


@numba.njit(cache=True, fastmath=_FAST, inline="always")
def tanh32(x):
    """tanh of a float32 as a clamped rational function (vectorises; libm's tanhf does not).

    A [13/6] rational approximation on [-7.9053, 7.9053] (tanh is 1 to float32
    precision beyond; the clamp lets a NaN through); absolute error below
    1e-6 (measured 3.2e-7 against float64 tanh).
    """
    hi = np.float32(7.90531110763549805)
    x = hi if x > hi else x
    x = -hi if x < -hi else x
    x2 = x * x
    p = np.float32(-2.76076847742355e-16)
    p = p * x2 + np.float32(2.00018790482477e-13)
    p = p * x2 + np.float32(-8.60467152213735e-11)
    p = p * x2 + np.float32(5.12229709037114e-08)
    p = p * x2 + np.float32(1.48572235717979e-05)
    p = p * x2 + np.float32(6.37261928875436e-04)
    p = p * x2 + np.float32(4.89352455891786e-03)
    p = p * x
    q = np.float32(1.19825839466702e-06)
    q = q * x2 + np.float32(1.18534705686654e-04)
    q = q * x2 + np.float32(2.26843463243900e-03)
    q = q * x2 + np.float32(4.89352518554385e-03)
    return p / q


# -- LSTM (i, f, g, o blocks; sigmoid blocks pre-scaled by 1/2) -------------------------------

@_jit
def lstm_forward_seq_step(table, idx, t, rec, c_prev, c, tc, gates, out):
    """Step t of an LSTM sequence: gates, C_t, tanh(C_t), and h_t written into ``out[:, t]``.

    x_t W_x + b of sequence b is row ``idx[b, t]`` of ``table`` (W_x + b for
    one-hot inputs, the projected rows X W_x + b otherwise), with the
    sigmoid blocks (i, f, o) halved, as is ``rec`` (B, 4H) = h_{t-1} W_h:
    sigmoid(z) = 0.5 tanh(z / 2) + 0.5. Writes the gates (B, 4H), ``c`` and
    ``tc`` (B, H) of step t, and ``out`` (B, T, H), the batch-major outputs
    the caller hands on (no layout copy). Each row is cut into blocks indexed
    from 0, which lets LLVM vectorise the loop.
    """
    B, H = c.shape
    half = np.float32(0.5)
    for b in range(B):
        row = table[idx[b, t]]
        xi, xf, xg, xo = row[:H], row[H:2 * H], row[2 * H:3 * H], row[3 * H:]
        ai, af, ag, ao = gates[b, :H], gates[b, H:2 * H], gates[b, 2 * H:3 * H], gates[b, 3 * H:]
        ri, rf, rg, ro = rec[b, :H], rec[b, H:2 * H], rec[b, 2 * H:3 * H], rec[b, 3 * H:]
        cb, cp, tb, hb = c[b], c_prev[b], tc[b], out[b, t]
        for j in range(H):
            i = half * tanh32(xi[j] + ri[j]) + half
            f = half * tanh32(xf[j] + rf[j]) + half
            g = tanh32(xg[j] + rg[j])
            o = half * tanh32(xo[j] + ro[j]) + half
            ai[j] = i
            af[j] = f
            ag[j] = g
            ao[j] = o
            ct = f * cp[j] + i * g
            th = tanh32(ct)
            cb[j] = ct
            tb[j] = th
            hb[j] = o * th


@_jit
def lstm_backward_seq_step(gates, tc, c_prev, dout, t, dh, dc, da):
    """Step t of LSTM BPTT: writes dE/d pre-activations into ``da[:, t]``; dc -> dC_{t-1}.

    ``gates`` (B, 4H) holds the gates (i, f, g, o) of step t, ``tc`` tanh(C_t),
    ``dout`` (B, T, H) the outputs' gradient (batch-major, added to ``dh``,
    the gradient from step t + 1, which is only read); ``da`` is (B, T, 4H).
    After the call the caller forms dh = da[:, t] W_h^T.
    """
    B, H = dc.shape
    one = np.float32(1.0)
    for b in range(B):
        ai, af, ag, ao = gates[b, :H], gates[b, H:2 * H], gates[b, 2 * H:3 * H], gates[b, 3 * H:]
        drow = da[b, t]
        di, df, dg, do = drow[:H], drow[H:2 * H], drow[2 * H:3 * H], drow[3 * H:]
        tb, cp, dob, dhb, dcb = tc[b], c_prev[b], dout[b, t], dh[b], dc[b]
        for j in range(H):
            i = ai[j]
            f = af[j]
            g = ag[j]
            o = ao[j]
            th = tb[j]
            d = dhb[j] + dob[j]
            dcv = dcb[j] + d * o * (one - th * th)
            di[j] = dcv * g * i * (one - i)
            df[j] = dcv * cp[j] * f * (one - f)
            dg[j] = dcv * i * (one - g * g)
            do[j] = d * th * o * (one - o)
            dcb[j] = dcv * f


@numba.njit(cache=True, inline="always")
def _recurrent_product(hinit, out, t, Whs, rec):
    """rec = h_{t-1} Whs by NumPy's BLAS, h_{t-1} being ``hinit`` (C-contiguous (B, H)) at
    t = 0, else the row block ``out[:, t - 1]`` of the batch-major outputs (B, T, H)."""
    B, T, H = out.shape
    G = Whs.shape[1]
    if t == 0:
        _sgemm(B, G, H, hinit.ctypes.data, H, Whs.ctypes.data, G, rec.ctypes.data, G)
    else:
        _sgemm(B, G, H, out[:, t - 1].ctypes.data, T * H, Whs.ctypes.data, G, rec.ctypes.data, G)


@numba.njit(cache=True, inline="always")
def _step_back(dA, t, WhT, dh):
    """dh = dA[:, t] W_h^T by NumPy's BLAS (``dA`` (B, T, G), ``WhT`` (G, H), ``dh`` (B, H))."""
    B, T, G = dA.shape
    H = dh.shape[1]
    _sgemm(B, H, G, dA[:, t].ctypes.data, T * G, WhT.ctypes.data, H, dh.ctypes.data, H)


def lstm_forward_seq(table, idx, Whs, hinit, cinit, C, TC, A, out):
    """A whole LSTM sequence in one call: for t = 0 .. T - 1, h_{t-1} Whs (NumPy's BLAS) and
    :func:`lstm_forward_seq_step`, h_{t-1} read from ``out[:, t - 1]`` (``hinit`` at t = 0,
    C-contiguous (B, H)). The arguments are the step's, for every t: ``C``, ``TC`` (T, B,
    H), ``A`` (T, B, 4H); the same calls as the loop in Python, so the same numbers."""
    rec = np.empty((out.shape[0], Whs.shape[1]), np.float32)
    for t in range(out.shape[1]):
        _recurrent_product(hinit, out, t, Whs, rec)
        if t == 0:
            lstm_forward_seq_step(table, idx, t, rec, cinit, C[t], TC[t], A[t], out)
        else:
            lstm_forward_seq_step(table, idx, t, rec, C[t - 1], C[t], TC[t], A[t], out)


def lstm_backward_seq(A, TC, C, cinit, dout, WhT, dh, dc, dA, first):
    """LSTM BPTT over a whole sequence in one call: for t = T - 1 .. 0,
    :func:`lstm_backward_seq_step` and dh = dA[:, t] W_h^T (NumPy's BLAS; at t = 0 only with
    ``first``, when h0's gradient is wanted). ``WhT`` (4H, H), ``dh``, ``dc`` (B, H),
    C-contiguous."""
    for t in range(C.shape[0] - 1, -1, -1):
        if t > 0:
            lstm_backward_seq_step(A[t], TC[t], C[t - 1], dout, t, dh, dc, dA)
        else:
            lstm_backward_seq_step(A[t], TC[t], cinit, dout, t, dh, dc, dA)
        if t > 0 or first:
            _step_back(dA, t, WhT, dh)


if HAVE_SGEMM:
    lstm_forward_seq, lstm_backward_seq = _jit(lstm_forward_seq), _jit(lstm_backward_seq)
else:  # _kernels.get hands out None: the per-step loop runs
    lstm_forward_seq = lstm_backward_seq = None


# -- GRU (r, z, n blocks; r and z pre-scaled by 1/2) ------------------------------------------

@_jit
def gru_forward_seq_step(table, idx, t, rec, bhn, hinit, gates, hn, out):
    """Step t of a GRU sequence: r, z, n, h_{t-1} W_hn + b_hn, and h_t written into
    ``out[:, t]``.

    x_t W_x + b of sequence b is row ``idx[b, t]`` of ``table`` and ``rec`` (B, 3H) is
    h_{t-1} W_h, both with the r and z blocks halved: sigmoid(a) = 0.5 tanh(a / 2) + 0.5.
    h_{t-1} is ``out[b, t - 1]``, or ``hinit[b]`` at t = 0. Writes the gates (B, 3H),
    ``hn`` (B, H) = h_{t-1} W_hn + b_hn and ``out`` (B, T, H), the batch-major outputs:

        n = tanh(x W_xn + b_n + r (h_{t-1} W_hn + b_hn)),  h_t = n + z (h_{t-1} - n)
    """
    B, H = hn.shape
    half = np.float32(0.5)
    for b in range(B):
        row = table[idx[b, t]]
        xr, xz, xn = row[:H], row[H:2 * H], row[2 * H:]
        rr, rz, rn = rec[b, :H], rec[b, H:2 * H], rec[b, 2 * H:]
        ar, az, an = gates[b, :H], gates[b, H:2 * H], gates[b, 2 * H:]
        hp = out[b, t - 1] if t > 0 else hinit[b]
        mb, hb = hn[b], out[b, t]
        for j in range(H):
            r = half * tanh32(xr[j] + rr[j]) + half
            z = half * tanh32(xz[j] + rz[j]) + half
            m = rn[j] + bhn[j]
            n = tanh32(xn[j] + r * m)
            ar[j] = r
            az[j] = z
            an[j] = n
            mb[j] = m
            hb[j] = n + z * (hp[j] - n)


@_jit
def gru_backward_seq_step(gates, hn, hinit, out, dout, t, dh, carry, da, dah):
    """Step t of GRU BPTT: writes dE/d pre-activations into ``da[:, t]`` (input side: r,
    z, n) and ``dah[:, t]`` (hidden side: r, z, n r), and ``carry`` = d z.

    The gradient reaching h_t is d = dh + carry + dout[:, t], with ``dh`` =
    dah[:, t + 1] W_h^T (the caller's product after the previous call; zero at the
    last step) and ``carry`` the direct path z_{t+1} d_{t+1}; h_{t-1} is ``out[b, t -
    1]`` or ``hinit[b]``. ``gates`` (B, 3H) and ``hn`` (B, H) are step t's from the
    forward kernel:

        da_n = d (1 - z)(1 - n^2);  da_z = d (h_{t-1} - n) z (1 - z);
        da_r = da_n (h_{t-1} W_hn + b_hn) r (1 - r)
    """
    B, H = dh.shape
    one = np.float32(1.0)
    for b in range(B):
        ar, az, an = gates[b, :H], gates[b, H:2 * H], gates[b, 2 * H:]
        arow, hrow = da[b, t], dah[b, t]
        dr, dz, dn = arow[:H], arow[H:2 * H], arow[2 * H:]
        hr, hz, hnn = hrow[:H], hrow[H:2 * H], hrow[2 * H:]
        hp = out[b, t - 1] if t > 0 else hinit[b]
        mb, dob, dhb, cb = hn[b], dout[b, t], dh[b], carry[b]
        for j in range(H):
            r = ar[j]
            z = az[j]
            n = an[j]
            d = dhb[j] + cb[j] + dob[j]
            dnv = d * (one - z) * (one - n * n)
            dzv = d * (hp[j] - n) * z * (one - z)
            drv = dnv * mb[j] * r * (one - r)
            dr[j] = drv
            dz[j] = dzv
            dn[j] = dnv
            hr[j] = drv
            hz[j] = dzv
            hnn[j] = dnv * r
            cb[j] = d * z


def gru_forward_seq(table, idx, Whs, bhn, hinit, A, HN, out):
    """A whole GRU sequence in one call: for t = 0 .. T - 1, h_{t-1} Whs (NumPy's BLAS) and
    :func:`gru_forward_seq_step`, h_{t-1} read from ``out[:, t - 1]`` (``hinit`` at t = 0,
    C-contiguous (B, H)); ``A`` (T, B, 3H), ``HN`` (T, B, H): the loop in Python's calls."""
    rec = np.empty((out.shape[0], Whs.shape[1]), np.float32)
    for t in range(out.shape[1]):
        _recurrent_product(hinit, out, t, Whs, rec)
        gru_forward_seq_step(table, idx, t, rec, bhn, hinit, A[t], HN[t], out)


def gru_backward_seq(A, HN, hinit, out, dout, WhT, dh, carry, dA, dAh, first):
    """GRU BPTT over a whole sequence in one call: for t = T - 1 .. 0,
    :func:`gru_backward_seq_step` and dh = dAh[:, t] W_h^T (NumPy's BLAS; at t = 0 only with
    ``first``, when h0's gradient is wanted). ``WhT`` (3H, H), ``dh``, ``carry`` (B, H),
    C-contiguous."""
    for t in range(HN.shape[0] - 1, -1, -1):
        gru_backward_seq_step(A[t], HN[t], hinit, out, dout, t, dh, carry, dA, dAh)
        if t > 0 or first:
            _step_back(dAh, t, WhT, dh)


if HAVE_SGEMM:
    gru_forward_seq, gru_backward_seq = _jit(gru_forward_seq), _jit(gru_backward_seq)
else:
    gru_forward_seq = gru_backward_seq = None


@_jit
def one_hot_rows(x, idx, vals):
    """Whether every row of ``x`` has at most one non-zero; if so ``idx[r]``, ``vals[r]`` hold
    each row's column and value (column 0 and x[r, 0] for a row of zeros, as NumPy's
    ``argmax`` of ``|x|`` gives). One pass, stopping at the first row with two."""
    n, m = x.shape
    for r in range(n):
        row = x[r]
        count = 0
        k = 0
        for j in range(m):  # branch-free: the loop vectorises
            nz = row[j] != 0
            count += np.int64(nz)
            k = max(k, j if nz else 0)
        if count > 1:
            return False
        idx[r] = k
        vals[r] = row[k]
    return True


@numba.njit(cache=True, inline="always")
def _four_connections(vals, indices, rows, q):
    """The weights of CSR entries q .. q + 3 and the rows of ``rows`` their indices name."""
    return (vals[q], vals[q + 1], vals[q + 2], vals[q + 3], rows[indices[q]],
            rows[indices[q + 1]], rows[indices[q + 2]], rows[indices[q + 3]])


@_jit
def sparse_rows_forward(xT, indptr, indices, vals, yT):
    """yT = (x W)^T for a sparse W in CSR form (``indptr``, ``indices``, ``vals``; in x out):
    yT[j, :] += w x^T[i, :] for each live connection (i, j, w), so that each one is a
    multiply-add over two contiguous rows of the batch (it vectorises). ``xT`` (in, batch)
    and ``yT`` (out, batch) C-contiguous; ``yT`` is zeroed here."""
    yT[:] = 0
    n = xT.shape[1]
    for i in range(xT.shape[0]):
        a = xT[i]
        q, end = indptr[i], indptr[i + 1]
        while q + 4 <= end:  # four connections a pass: a's row read once for them
            w0, w1, w2, w3, y0, y1, y2, y3 = _four_connections(vals, indices, yT, q)
            for t in range(n):
                v = a[t]
                y0[t] += w0 * v
                y1[t] += w1 * v
                y2[t] += w2 * v
                y3[t] += w3 * v
            q += 4
        for r in range(q, end):
            w = vals[r]
            y = yT[indices[r]]
            for t in range(n):
                y[t] += w * a[t]


@_jit
def sparse_rows_backward(gT, indptr, indices, vals, gxT):
    """gxT = (g W^T)^T, the input gradient of :func:`sparse_rows_forward`: gxT[i, :] = sum
    over row i's live connections (i, j, w) of w g^T[j, :]. ``gT`` (out, batch) and ``gxT``
    (in, batch) C-contiguous."""
    n = gT.shape[1]
    for i in range(gxT.shape[0]):
        d = gxT[i]
        d[:] = 0
        q, end = indptr[i], indptr[i + 1]
        while q + 4 <= end:  # four connections a pass: a quarter of the row's loads and stores
            w0, w1, w2, w3, b0, b1, b2, b3 = _four_connections(vals, indices, gT, q)
            for t in range(n):
                d[t] += w0 * b0[t] + w1 * b1[t] + w2 * b2[t] + w3 * b3[t]
            q += 4
        for r in range(q, end):
            w = vals[r]
            b = gT[indices[r]]
            for t in range(n):
                d[t] += w * b[t]


@_jit
def sampled_product(xT, gT, flat, cols, vals):
    """vals[k] = (x^T g)[i, j] at (i, j) = divmod(flat[k], cols) only: a sampled dense-dense
    product, the weight gradient of a sparse layer's live connections, O(batch x live) where
    x^T g costs O(batch x in x out). ``xT`` (in, batch) and ``gT`` (out, batch) C-contiguous,
    so each entry is one dot product of two contiguous rows (it vectorises), four of a row a
    pass; ``flat`` sorted (row-major order, as ``np.flatnonzero`` gives it); sums over the
    batch in the arrays' dtype."""
    n = xT.shape[1]
    zero = np.zeros(1, vals.dtype)[0]
    K = flat.shape[0]
    k = 0
    while k < K:
        i = flat[k] // cols
        a = xT[i]
        if k + 4 <= K and flat[k + 3] // cols == i:  # four of row i (``flat`` is sorted):
            # one pass over a's row for four sums
            b0, b1 = gT[flat[k] - i * cols], gT[flat[k + 1] - i * cols]
            b2, b3 = gT[flat[k + 2] - i * cols], gT[flat[k + 3] - i * cols]
            s0 = s1 = s2 = s3 = zero
            for t in range(n):
                s0 += a[t] * b0[t]
                s1 += a[t] * b1[t]
                s2 += a[t] * b2[t]
                s3 += a[t] * b3[t]
            vals[k], vals[k + 1], vals[k + 2], vals[k + 3] = s0, s1, s2, s3
            k += 4
        else:
            b = gT[flat[k] - i * cols]
            s = zero
            for t in range(n):
                s += a[t] * b[t]
            vals[k] = s
            k += 1


@_jit
def scatter_add_rows(gw, idx, vals, rows):
    """gw[idx[r]] += vals[r] rows[r] for every row r (X^T rows for one-hot X)."""
    n, G = rows.shape
    for r in range(n):
        v = vals[r]
        if v == 0:
            continue
        dst = gw[idx[r]]
        src = rows[r]
        for j in range(G):
            dst[j] += v * src[j]


# -- convolution: im2col / col2im, channel-major; max pooling -----------------------------------
#
# Each exists twice (``_serial_and_threaded``): ``name`` runs serially, ``name_parallel`` splits
# its ``prange`` loop over Numba's thread pool; ``_kernels.threaded(name)`` picks the second
# when the kernels may use more than one thread (``rb.set_num_threads``, default one per
# core). Every task writes its own part of the output: the results do not depend on the
# thread count.

_pjit = numba.njit(cache=True, fastmath=_FAST, nogil=True, error_model="numpy", parallel=True)


def _serial_and_threaded(fn):
    """``fn`` compiled twice: serial (``prange`` runs as ``range``; no thread pool is ever
    started) and multi-threaded (named ``<name>_parallel``), each with its own cache entry."""
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__,
                              fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + "_parallel"
    twin.__doc__ = fn.__doc__
    return _jit(fn), _pjit(twin)


def im2col(xc, cols, sh, sw, pt, pl, n0, n1):
    """cols[c, i, j, n, y, z] = xc[c, n, sh y + i - pt, sw z + j - pl] (0 outside the image),
    for the images ``n0 <= n < n1`` (the whole batch: 0, N).

    ``xc`` (C, N, H, W) and ``cols`` (C, kh, kw, N, oh, ow) are C-contiguous. One
    task per (c, i, j, n): a contiguous block of ``oh ow`` columns. The loops
    index flat views with unsigned offsets: Numba then skips the negative-index
    test, and the copies along a row vectorise. A range of images lets threads
    split the batch (``_kernels.run_parts``): each writes only its images' columns.
    """
    C, N, H, W = xc.shape
    _, kh, kw, _, oh, ow = cols.shape
    src = xc.ravel()
    dst = cols.ravel()
    u = np.uint64
    nr = n1 - n0
    for q in numba.prange(C * kh * kw * nr):
        n = n0 + q % nr
        t = (q // nr) * N + n  # the task's (c, i, j, n) as a flat index
        j = (t // N) % kw
        i = (t // (N * kw)) % kh
        c = t // (N * kw * kh)
        # the output columns z whose input column sw z + j - pl is inside [0, W)
        z0 = min(ow, max(0, (pl - j + sw - 1) // sw))
        z1 = max(z0, min(ow, (W - 1 + pl - j) // sw + 1))
        for y in range(oh):
            r = sh * y + i - pt
            o = u(t * oh + y) * u(ow)
            if r < 0 or r >= H:
                for z in range(ow):
                    dst[o + u(z)] = 0
                continue
            for z in range(z0):
                dst[o + u(z)] = 0
            for z in range(z1, ow):
                dst[o + u(z)] = 0
            s0 = u(((c * N + n) * H + r) * W + sw * z0 + j - pl)
            o += u(z0)
            if sw == 1:
                for z in range(z1 - z0):
                    dst[o + u(z)] = src[s0 + u(z)]
            else:
                for z in range(z1 - z0):
                    dst[o + u(z)] = src[s0 + u(sw) * u(z)]


def col2im(gcols, gx, sh, sw, pt, pl, n0, n1):
    """The adjoint of :func:`im2col`: gx[c, n] (channel-major) = sum of the windows' gradients,
    for the images ``n0 <= n < n1``.

    Both arrays C-contiguous; one task per image plane (c, n); flat unsigned
    offsets as in :func:`im2col`.
    """
    wide_vectors()
    C, kh, kw, N, oh, ow = gcols.shape
    _, _, H, W = gx.shape
    src = gcols.ravel()
    dst = gx.ravel()
    u = np.uint64
    nr = n1 - n0
    for q in numba.prange(C * nr):
        c = q // nr
        n = n0 + q % nr
        t = c * N + n
        base = u(t * H * W)
        for k in range(H * W):
            dst[base + u(k)] = 0
        for i in range(kh):
            for j in range(kw):
                z0 = min(ow, max(0, (pl - j + sw - 1) // sw))
                z1 = max(z0, min(ow, (W - 1 + pl - j) // sw + 1))
                for y in range(oh):
                    r = sh * y + i - pt
                    if r < 0 or r >= H:
                        continue
                    s0 = u(((((c * kh + i) * kw + j) * N + n) * oh + y) * ow + z0)
                    d0 = base + u(r * W + sw * z0 + j - pl)
                    if sw == 1:
                        for z in range(z1 - z0):
                            dst[d0 + u(z)] += src[s0 + u(z)]
                    else:
                        for z in range(z1 - z0):
                            dst[d0 + u(sw) * u(z)] += src[s0 + u(z)]


def bias_act_forward(y, b, relu, c0, c1):
    """In place over columns ``c0 <= m < c1`` of the (O, M) GEMM output of a convolution:
    y += b[o] per row, then max(y, 0) when ``relu`` (a NaN stays NaN). One task per block
    of a row."""
    wide_vectors()
    rows = y.shape[0]
    blocks = (c1 - c0 + 4095) // 4096
    for t in numba.prange(rows * blocks):
        o = t // blocks
        m0 = c0 + (t % blocks) * 4096
        m1 = min(c1, m0 + 4096)
        row = y[o]
        bo = b[o]
        zero = np.zeros(1, y.dtype)[0]
        if relu:
            for m in range(m0, m1):
                v = row[m] + bo
                row[m] = v if not (v < 0) else zero
        else:
            for m in range(m0, m1):
                row[m] += bo


def relu_grad_rows(g, y, gm, gb, o0, o1):
    """gm = 0 where y <= 0 else g, over the rows ``o0 <= o < o1`` of (rows, M); gb[o] = the
    sum of row o of gm (summed in float64). One task per row.

    A select, as PyTorch's ``threshold_backward``, the NumPy twin (``nn/conv.py``) and
    :func:`relu_backward`: a NaN or an infinity in g gives 0 where y <= 0, and g passes
    where y is NaN; the fused conv + ReLU has the gradients of relu(conv2d(...))."""
    M = g.shape[1]
    zero = np.zeros(1, gm.dtype)[0]
    for o in numba.prange(o0, o1):
        total = 0.0
        for m in range(M):
            v = zero if y[o, m] <= 0 else g[o, m]
            gm[o, m] = v
            total += v
        gb[o] = total


def max_pool_forward(x, y, arg, kh, kw, sh, sw, p0, p1):
    """y[p, r, z] = max of plane p's window (r, z); arg = the offset i kw + j of its first
    maximum, for the planes ``p0 <= p < p1``.

    ``x`` (P, H, W), ``y`` and ``arg`` (P, oh, ow); one task per plane. Ties go
    to the first maximum in row-major window order (as the NumPy twin and
    PyTorch). A NaN is the maximum, and the last NaN of a window its arg-max,
    as PyTorch's ``if (val > maxval || isnan(val))`` (and the NumPy twin).

    2 x 2 windows with stride 2 (the common case) run an unrolled loop with
    constant strides, which LLVM turns into selects and vector code (~30 us for
    LeNet's first pooling, 6x less than NumPy's four strided passes); with loops
    over the window and run-time strides the comparisons stay branches that
    mispredict on most windows (measured 3-15x slower).
    """
    wide_vectors()
    _, oh, ow = y.shape
    if kh == 2 and kw == 2 and sh == 2 and sw == 2:
        for p in numba.prange(p0, p1):
            for r in range(oh):
                for z in range(ow):
                    v0 = x[p, 2 * r, 2 * z]
                    v1 = x[p, 2 * r, 2 * z + 1]
                    v2 = x[p, 2 * r + 1, 2 * z]
                    v3 = x[p, 2 * r + 1, 2 * z + 1]
                    b = v0
                    k = 0
                    if v1 > b:
                        b = v1
                        k = 1
                    if v2 > b:
                        b = v2
                        k = 2
                    if v3 > b:
                        b = v3
                        k = 3
                    # a NaN window (rare, so a branch that predicts well): the maximum is
                    # NaN, the arg-max the last NaN (testing for NaN inside each comparison
                    # above made the loop 15% slower)
                    if (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3):
                        k = 3 if v3 != v3 else (2 if v2 != v2 else (1 if v1 != v1 else 0))
                        b = v0 + v1 + v2 + v3
                    y[p, r, z] = b
                    arg[p, r, z] = k
        return
    for p in numba.prange(p0, p1):
        for r in range(oh):
            r0 = sh * r
            for z in range(ow):
                c0 = sw * z
                b = x[p, r0, c0]
                k = 0
                last = -1  # the last NaN's offset (-1: none)
                for i in range(kh):
                    for j in range(kw):
                        v = x[p, r0 + i, c0 + j]
                        if v != v:
                            last = i * kw + j
                        if v > b:
                            b = v
                            k = i * kw + j
                if last >= 0:
                    k = last
                    b = x[p, r0 + last // kw, c0 + last % kw]
                y[p, r, z] = b
                arg[p, r, z] = k


def max_pool_backward(g, arg, gx, kh, kw, sh, sw, fill, overlap, p0, p1):
    """The adjoint of :func:`max_pool_forward`: each window's gradient goes to its arg-max,
    for the planes ``p0 <= p < p1``.

    ``g`` and ``arg`` (P, oh, ow), ``gx`` (P, H, W); one task per plane.
    Non-overlapping windows write every position they cover (g or 0), so the
    plane is zeroed first only where windows leave gaps or a remainder
    (``fill``); overlapping windows add into a zeroed plane.
    """
    wide_vectors()
    H, W = gx.shape[1:]
    _, oh, ow = g.shape
    zero = np.zeros(1, gx.dtype)[0]
    if kh == 2 and kw == 2 and sh == 2 and sw == 2 and not fill:
        for p in numba.prange(p0, p1):
            for r in range(oh):
                for z in range(ow):
                    k = arg[p, r, z]
                    v = g[p, r, z]
                    gx[p, 2 * r, 2 * z] = v if k == 0 else zero
                    gx[p, 2 * r, 2 * z + 1] = v if k == 1 else zero
                    gx[p, 2 * r + 1, 2 * z] = v if k == 2 else zero
                    gx[p, 2 * r + 1, 2 * z + 1] = v if k == 3 else zero
        return
    for p in numba.prange(p0, p1):
        if fill or overlap:
            for i in range(H):
                for j in range(W):
                    gx[p, i, j] = zero
        for r in range(oh):
            r0 = sh * r
            for z in range(ow):
                c0 = sw * z
                k = arg[p, r, z]
                v = g[p, r, z]
                if overlap:
                    gx[p, r0 + k // kw, c0 + k % kw] += v
                else:
                    for i in range(kh):
                        for j in range(kw):
                            gx[p, r0 + i, c0 + j] = v if k == i * kw + j else zero


# -- direct convolution of single-channel images (LeNet's first layer) ----------------------------
#
# With one input channel im2col copies each image kh kw times (25 for 5 x 5: 5 MB of columns
# for a batch of 64 28 x 28 images) and the GEMM has K = kh kw only; computing the sums
# directly from a padded copy of the image (in L1) is about twice as fast, forward and
# backward. The outputs live on the padded grid (rows of ``wp`` = ow + kw - 1), so that every
# kernel offset is one contiguous run of ``oh wp`` values and the innermost loops vectorise;
# the ``kw - 1`` extra columns per row are computed and dropped (forward) or kept at zero
# (backward).


def _pad_image(x, n, xp, pt, pl, wp):
    """xp[c, (r + pt) wp + s + pl] = x[c, n, r, s]; the border of ``xp`` stays as it was (0)."""
    C, _, H, W = x.shape
    hp = (xp.shape[1] - 1) // wp
    for c in range(C):
        for r in range(H):
            rr = r + pt
            if rr < 0 or rr >= hp:
                continue
            for s in range(W):
                ss = s + pl
                if 0 <= ss < wp:
                    xp[c, rr * wp + ss] = x[c, n, r, s]


_pad_image = numba.njit(cache=True, fastmath=_FAST, nogil=True, error_model="numpy",
                        inline="always")(_pad_image)


@_jit
def conv_direct_forward(x, w, b, y, pt, pl, relu, n0, n1):
    """y[o, n] = b[o] + sum_{c, k, m} w[o, c, k, m] x[c, n, i + k - pt, j + m - pl], then
    max(., 0) when ``relu``, for the images ``n0 <= n < n1``; stride 1.

    ``x`` (C, N, H, W) channel-major, ``w`` (F, C, kh, kw), ``y`` (F, N, oh, ow), all
    C-contiguous. The twin of im2col + GEMM + :func:`bias_act_forward`.
    """
    C = x.shape[0]
    F, _, kh, kw = w.shape
    oh, ow = y.shape[2], y.shape[3]
    wp = ow + kw - 1
    L = oh * wp
    xp = np.zeros((C, (oh + kh - 1) * wp + kw), x.dtype)
    acc = np.empty((F, L), y.dtype)
    zero = np.zeros(1, y.dtype)[0]
    for n in range(n0, n1):
        _pad_image(x, n, xp, pt, pl, wp)
        for o in range(F):
            bo = b[o]
            for q in range(L):
                acc[o, q] = bo
        for c in range(C):
            for k in range(kh):
                for m in range(kw):
                    src = xp[c, k * wp + m:k * wp + m + L]
                    for o in range(F):
                        wv = w[o, c, k, m]
                        a = acc[o]
                        for q in range(L):
                            a[q] += wv * src[q]
        for o in range(F):
            for i in range(oh):
                for j in range(ow):
                    v = acc[o, i * wp + j]
                    y[o, n, i, j] = zero if relu and v < 0 else v


@_jit
def conv_direct_backward(x, g, y, gm, gw, gb, pt, pl, relu, want_gm, n0, n1):
    """The gradients of :func:`conv_direct_forward` for the images ``n0 <= n < n1``, added
    into ``gw`` (F, C, kh, kw) and ``gb`` (F,; float64): gm = 0 where y <= 0 else g when
    ``relu`` (written to ``gm`` (F, N, oh, ow) when ``want_gm``; a select, as in
    :func:`relu_grad_rows`), gb[o] += its sum, gw[o, c, k, m] +=
    sum_{n, i, j} gm[o, n, i, j] x[c, n, i + k - pt, j + m - pl].
    """
    wide_vectors()
    C = x.shape[0]
    F, _, kh, kw = gw.shape
    oh, ow = g.shape[2], g.shape[3]
    wp = ow + kw - 1
    L = oh * wp
    xp = np.zeros((C, (oh + kh - 1) * wp + kw), x.dtype)
    gg = np.zeros((F, L), g.dtype)  # the columns past ow stay 0
    zero = np.zeros(1, g.dtype)[0]
    for n in range(n0, n1):
        _pad_image(x, n, xp, pt, pl, wp)
        for o in range(F):
            total = 0.0
            for i in range(oh):
                for j in range(ow):
                    v = g[o, n, i, j]
                    if relu and y[o, n, i, j] <= 0:
                        v = zero  # a select, as relu_grad_rows (an inf g gives 0)
                    gg[o, i * wp + j] = v
                    total += v
                    if want_gm:
                        gm[o, n, i, j] = v
            gb[o] += total
        for c in range(C):
            for k in range(kh):
                for m in range(kw):
                    src = xp[c, k * wp + m:k * wp + m + L]
                    for o in range(F):
                        a = gg[o]
                        s = zero
                        for q in range(L):
                            s += a[q] * src[q]
                        gw[o, c, k, m] += s


im2col, im2col_parallel = _serial_and_threaded(im2col)
col2im, col2im_parallel = _serial_and_threaded(col2im)
bias_act_forward, bias_act_forward_parallel = _serial_and_threaded(bias_act_forward)
relu_grad_rows, relu_grad_rows_parallel = _serial_and_threaded(relu_grad_rows)
max_pool_forward, max_pool_forward_parallel = _serial_and_threaded(max_pool_forward)
max_pool_backward, max_pool_backward_parallel = _serial_and_threaded(max_pool_backward)


# -- SGD with momentum --------------------------------------------------------------------------

# Strict IEEE arithmetic (no fastmath) for SGD-momentum's pass: it is bound by memory, not by
# arithmetic, and without contraction or reassociation both of its loops compute what NumPy's
# rule computes, operation for operation, so they agree bit for bit with each other.
_strict_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_strict_jit
def sgd_momentum(theta, d, velocity, lr, momentum, lr_mu, nesterov, first, keep, save):
    """b = mu b + d (b = d at the first step); theta -= lr (d + mu b) (Nesterov) or lr b.

    Nesterov's step is taken as NumPy's rule takes it, two subtractions in this order,
    ``(theta - lr d) - lr_mu b``, with ``lr_mu``, the product ``lr * mu`` rounded once from
    float64 (as NumPy rounds the Python float): one sum ``theta - (lr d + lr mu b)``
    rounded otherwise in most entries, so ``Optimizer.step_part`` over shards of under
    4,096 weights (NumPy) was not ``step`` over the whole vector (this kernel).

    With ``save``, theta before the step is written to ``keep`` in the same pass (the
    trainer's last good weights, without a copy of their own); else ``keep`` is not touched
    (it may be ``theta`` itself: each case has its own loop, so that LLVM's vectorised loop
    does not fall back to its scalar one on an overlap check between ``keep`` and ``theta``).

    A velocity below the dtype's smallest normal number is stored as zero (NaN stays NaN):
    where a weight's gradient stays zero (a dead ReLU unit, a batch of one) its velocity
    decays by mu a step into the subnormal range after ~800 steps, where each multiply
    takes a microcode assist: a float32 step of a 784-256-256-10 net at batch 1 went from
    ~0.1 ms to 0.65-0.75 ms (PyTorch's SGD too). Flushing changes b by less than 1.2e-38.
    """
    if save:  # one loop each way (see above)
        _sgd_loop(theta, d, velocity, lr, momentum, lr_mu, nesterov, first, keep, True)
    else:
        _sgd_loop(theta, d, velocity, lr, momentum, lr_mu, nesterov, first, keep, False)


@numba.njit(cache=True, inline="always")
def _sgd_loop(theta, d, velocity, lr, momentum, lr_mu, nesterov, first, keep, save):
    """:func:`sgd_momentum`'s pass, ``save`` a constant where it is inlined."""
    tiny = theta.dtype.type(np.finfo(theta.dtype).tiny)
    zero = theta.dtype.type(0)
    for k in range(theta.shape[0]):
        g = d[k]
        b = g if first else momentum * velocity[k] + g
        b = zero if abs(b) < tiny else b  # NaN stays NaN
        velocity[k] = b
        p = theta[k]
        if save:
            keep[k] = p
        if nesterov:
            theta[k] = (p - lr * g) - lr_mu * b  # NumPy's order (see above)
        else:
            theta[k] = p - lr * b


# -- Adam -------------------------------------------------------------------------------------

@_jit
def adam_update(theta, grad, m, v, beta1, beta2, step, eps_hat, c1, c2, keep, save):
    """One fused pass of Adam's update over flat vectors, eps outside the root (as
    ``rosenblatt.optim.adam.adam_rule``): m, v, then theta -= m / (sqrt(v) + eps_hat) * step.
    With ``save``, theta before the step goes to ``keep`` in the same pass (as
    :func:`sgd_momentum`).

    The scalars come in the arrays' dtype (``c1 = 1 - beta1`` and ``c2 = 1 - beta2`` rounded
    from float64, as NumPy rounds them) and the operations come in the NumPy code's order;
    LLVM still fuses multiply-adds, so results differ from NumPy's in the last bit of ~25%
    of the entries. One loop for both ``save`` cases (the same fused arithmetic either way;
    unlike SGD-momentum's lighter pass it loses nothing to the overlap check when ``keep`` is
    ``theta``). Moments below the smallest normal number are stored as zero, as
    :func:`sgd_momentum`'s velocity (m decays by beta1 a step where the gradient stays zero),
    v only where m is flushed too, and the step divides by the moments before the flush, as
    the NumPy code does: with ``eps = 0`` a gradient whose ``m`` is normal but whose ``v`` is
    not (float32 |g| in 1e-37..1e-19) would otherwise divide m by 0 (-inf weights).
    """
    tiny = theta.dtype.type(np.finfo(theta.dtype).tiny)
    zero = theta.dtype.type(0)
    for k in range(theta.shape[0]):
        g = grad[k]
        mk = beta1 * m[k] + g * c1
        vk = beta2 * v[k] + (g * g) * c2
        flush = abs(mk) < tiny  # NaN stays NaN
        m[k] = zero if flush else mk
        v[k] = zero if flush and vk < tiny else vk
        p = theta[k]
        if save:
            keep[k] = p
        theta[k] = p - mk / (math.sqrt(vk) + eps_hat) * step


# -- dense layers: ReLU's backward, softmax cross-entropy (issue 23, the MLP) -------------------

@_jit
def relu_backward(g, y, out):
    """out = 0 where y <= 0 else g (flat arrays): ReLU's backward in one pass, without the
    boolean mask of the NumPy twin. A select, as PyTorch's ``threshold_backward``: a NaN or
    an infinity in g gives 0 where y <= 0, and g passes where y is NaN."""
    zero = out.dtype.type(0)
    for k in range(g.shape[0]):
        out[k] = zero if y[k] <= 0 else g[k]


@_jit
def tanh_backward(g, y, out):
    """out = g (1 - y^2): tanh's backward given its output y (flat arrays)."""
    one = y.dtype.type(1)
    for k in range(g.shape[0]):
        v = y[k]
        out[k] = g[k] * (one - v * v)


@_jit
def sigmoid_backward(g, y, out):
    """out = g y (1 - y): the sigmoid's backward given its output y (flat arrays)."""
    one = y.dtype.type(1)
    for k in range(g.shape[0]):
        v = y[k]
        out[k] = g[k] * (v * (one - v))


BCE_BLOCK = 64  # values whose max(p, 1 - p) >= 1/2 multiply before one log (>= 2^-64)


@numba.njit(cache=True, fastmath=_FAST, inline="always", error_model="numpy")
def _bernoulli_ce_block(a, p, x, scale, d, start, stop):
    """:func:`bernoulli_ce` over ``start:stop``: the product of max(p, 1 - p), the sums of
    max(a, 0) and of x a (in the arrays' dtype), and d written."""
    one = p.dtype.type(1)
    zero = a.dtype.type(0)
    prod = one
    relu = zero
    xa = zero
    for k in range(start, stop):
        pk = p[k]
        ak = a[k]
        xk = x[k]
        q = one - pk
        prod *= pk if pk > q else q  # a NaN gives q, NaN
        relu += ak if ak > zero else zero
        xa += xk * ak
        d[k] = (pk - xk) * scale
    return np.log(np.float64(prod)), np.float64(relu), np.float64(xa)


@_jit
def bernoulli_ce(a, p, x, scale, d):
    """The sum over the values of softplus(a) - x a, given the logits ``a``, their
    probabilities ``p`` = sigma(a) and the targets ``x`` (flat arrays); writes
    d = (p - x) scale, the gradient of ``scale`` times that sum.

    softplus(a) = max(a, 0) + log(1 + e^-|a|), and log(1 + e^-|a|) = -log(max(p, 1 - p)),
    the logarithm of a number in [1/2, 1]. One pass instead of NumPy's eight: the logarithms
    of each block of :data:`BCE_BLOCK` values taken as one logarithm of their product (a
    libm call per block, where Numba calls the scalar log per value), the blocks' sums
    added in float64. The blocks have a constant length: with the block's end known only at
    run time the products alone took 40 us against 14 on (128, 784) float32. A NaN in ``a``
    or ``p`` gives NaN, as in NumPy's code."""
    n = a.shape[0]
    full = n - n % BCE_BLOCK
    logs, relu, xa = _bernoulli_ce_block(a, p, x, scale, d, full, n)  # the tail
    for start in range(0, full, BCE_BLOCK):
        lg, r, s = _bernoulli_ce_block(a, p, x, scale, d, start, start + BCE_BLOCK)
        logs += lg
        relu += r
        xa += s
    return relu - logs - xa


@_jit
def leaky_relu_forward(x, slope, out):
    """out = x if x > 0 else slope x (flat arrays): a select, which vectorises (NumPy's
    ``where`` on a mask of mixed signs takes a mispredicted branch at about every other
    element). A NaN gives NaN, as ``slope * NaN``."""
    for k in range(x.shape[0]):
        v = x[k]
        out[k] = v if v > 0 else v * slope


@_jit
def leaky_relu_backward(g, x, slope, out):
    """out = g if x > 0 else slope g (flat arrays): leaky ReLU's backward given its input."""
    for k in range(g.shape[0]):
        out[k] = g[k] if x[k] > 0 else g[k] * slope


@_jit
def softmax_ce_shift(x, labels, shifted, per):
    """Row by row: shifted = x - m with m = max_j x_j, and per = x_c - m (c the label).

    A row that holds a NaN gives NaN in its shifted values, hence in its probabilities and
    loss, as NumPy's code does (there ``m`` is NaN); the maximum itself is a plain select,
    which vectorises."""
    n, k = x.shape
    for i in range(n):
        m = x[i, 0]
        for j in range(1, k):
            v = x[i, j]
            m = v if v > m else m
        for j in range(k):
            shifted[i, j] = x[i, j] - m
        per[i] = shifted[i, labels[i]]


@_jit
def softmax_ce_normalise(probs, per):
    """Row by row, after ``probs = exp(shifted)``: s = sum_j probs_j, probs /= s and
    per = log s - per (the loss of the row)."""
    n, k = probs.shape
    for i in range(n):
        s = probs.dtype.type(0)
        for j in range(k):
            s += probs[i, j]
        for j in range(k):
            probs[i, j] /= s
        per[i] = np.log(s) - per[i]


def softmax_ce_forward(x, labels, probs, per):
    """probs = softmax(x) row by row, per = log sum_j e^(x_j - m) - (x_c - m), m = max_j x_j.

    The operations of ``rosenblatt.nn.losses.cross_entropy``'s NumPy code (shift by the row
    maximum, exp, sum, divide) in three passes over the batch instead of six: two compiled
    ones around NumPy's own exp, which runs in SIMD lanes where Numba calls libm's scalar
    exp per value (on (1,600, 65) logits, the char-LSTM's read-out: ~0.1 ms against 0.45 ms
    for one compiled pass with the scalar exp, and 0.22 ms for the NumPy code)."""
    softmax_ce_shift(x, labels, probs, per)
    np.exp(probs, out=probs)
    softmax_ce_normalise(probs, per)


@_jit
def softmax_ce_backward(probs, labels, scale, out):
    """out = probs * scale, minus scale at each row's label: d(scale * loss)/dx."""
    n, k = probs.shape
    for i in range(n):
        for j in range(k):
            out[i, j] = probs[i, j] * scale
        out[i, labels[i]] -= scale
