"""Array helpers shared by the fused sequence ops :func:`rnn`, :func:`lstm` and :func:`gru`
(notes: "Recurrent Neural Networks", "Training RNNs").

Each op runs a whole sequence as ONE graph node:

- the input projections of all time steps, X W_x + b, are one matrix product
  (:func:`project_inputs`);
- the recurrence is a tight loop over time steps (not samples), writing into
  preallocated arrays;
- backpropagation through time is written by hand, and the weight gradients,
  summed over time steps as in the notes (dE/dW_x = sum_t X_t^T dNET_t,
  dE/dW_h = sum_t OUT_{t-1}^T dNET_t), are each one matrix product over all
  steps after the loop (:func:`input_grads`, :func:`hidden_weight_grad`).

Layout: sequences are ``(batch, time, features)``; inside the ops the loop is
time-major so each step reads contiguous memory (:func:`time_major`). The
LSTM's and the GRU's compiled paths (the ``fast`` extra) instead keep the outputs and
their gradient batch-major, the layout their callers use, and have their kernels read
and write them there (no layout copies; :func:`input_rows`,
:func:`batch_major_input_grads`, :func:`batch_major_hidden_grad`). Weights
are ``W_x (input, G*H)``, ``W_h (H, G*H)``, ``b (G*H,)`` with G the number of
gate blocks (1 for RNN, 4 for LSTM, 3 for GRU).

Padded batches: ``lengths`` (one per sequence) holds each sequence's state
after its last real step, h_t = h_{t-1} (LSTM: and C_t = C_{t-1})
(:func:`length_mask`, :func:`hold_finished`), so the final state is each
sequence's own; on the compiled paths the kernels know no lengths, and
:class:`EndedSequences` passes the ended sequences' gradients around them.
"""

import numpy as np

from ..autodiff import _kernels
from ..autodiff.tensor import Tensor, needs_grad, sum_to_shape
from . import workspace
from ._operands import check_shape


def sigmoid_(a):
    """In-place logistic sigmoid, as 0.5 tanh(a/2) + 0.5 (never overflows)."""
    np.multiply(a, 0.5, out=a)
    np.tanh(a, out=a)
    np.multiply(a, 0.5, out=a)
    np.add(a, 0.5, out=a)
    return a


def time_major(xd):
    """(batch, time, f) -> contiguous (time, batch, f), in a recycled array (``workspace``)."""
    out = workspace.empty((xd.shape[1], xd.shape[0]) + xd.shape[2:], xd.dtype)
    np.copyto(out, xd.transpose(1, 0, 2))
    return out


def project_inputs(xd, W_x, b, scale=None):
    """X W_x + b for every time step in one matrix product; returns (time, batch, G)
    and the time-major input (kept for the backward). ``W_x=None``: ``xd`` is X W_x
    already, and only b is added.

    ``scale`` (G,), optional, multiplies the result column-wise (folded into
    the weights: free). One-hot inputs (:class:`OneHotRows`) pick rows of
    W_x + b instead.
    """
    if W_x is None:  # the caller already projected (batch-normalised variant)
        a = time_major(xd)  # a copy: the loop writes into it
        if b is not None:
            a += b.data
        if scale is not None:
            a *= scale
        return a, None
    xt = time_major(xd)
    T, B, n_in = xt.shape
    w = W_x.data if scale is None else W_x.data * scale
    a = workspace.empty((T, B, w.shape[1]), np.result_type(xt, w))
    bias = None if b is None else (b.data if scale is None else b.data * scale)
    rows = OneHotRows.find(xt.reshape(T * B, n_in))
    if rows is not None:  # one-hot inputs (characters, words): pick rows of W_x, no GEMM
        if rows.ones:  # x_t W + b = (W + b)[k]: the same one addition
            rows.project(w if bias is None else w + bias, a.reshape(T * B, w.shape[1]))
            return a, rows
        rows.project(w, a.reshape(T * B, w.shape[1]))
        xt = rows
    else:
        np.matmul(xt.reshape(T * B, n_in), w, out=a.reshape(T * B, w.shape[1]))
    if bias is not None:
        a += bias
    return a, xt


class OneHotRows:
    """Inputs whose rows have at most one non-zero entry (one-hot characters or words).

    ``X W`` is then a row gather, ``X[r] W = v_r W[k_r]``, and ``X^T dA`` a
    scatter-add of dA's rows, ``dW[k_r] += v_r dA[r]``: the same numbers as the
    GEMMs (exactly, for the forward), without multiplying by the zeros.
    :meth:`find` tells in one cheap test of the first row when the input is
    not of this kind.
    """

    __slots__ = ("idx", "vals", "ones", "n_in", "dense")

    MIN_COLUMNS = 16  # below that, the dense GEMM is as cheap as the test

    def __init__(self, idx, vals, n_in, dense=None):
        self.idx, self.vals, self.n_in, self.dense = idx, vals, n_in, dense
        self.ones = bool((vals == 1).all())

    @classmethod
    def find(cls, x2d):
        """The rows' (index, value) pairs, or None unless every row has at most one non-zero."""
        n, m = x2d.shape
        if m < cls.MIN_COLUMNS or np.count_nonzero(x2d[0]) > 1:
            return None
        kernel = _kernels.get("one_hot_rows")
        # (Numba has no float16: half-precision input takes the NumPy path)
        if (kernel is not None and x2d.flags.c_contiguous and x2d.dtype.kind == "f"
                and x2d.dtype.itemsize >= 4):
            idx = np.empty(n, dtype=np.intp)  # one compiled pass instead of five NumPy ones
            vals = np.empty(n, dtype=x2d.dtype)
            return cls(idx, vals, m, x2d) if kernel(x2d, idx, vals) else None
        idx = np.abs(x2d).argmax(axis=1)
        vals = x2d[np.arange(n), idx]
        # every non-zero is a row's picked entry iff the counts agree
        if np.count_nonzero(x2d) != np.count_nonzero(vals):
            return None
        return cls(idx, vals, m, x2d)

    def project(self, w, out):
        """out = X w, row by row (``out`` (rows, G) is written)."""
        np.take(w.astype(out.dtype, copy=False), self.idx, axis=0, out=out)  # as the GEMM
        if not self.ones:
            out *= self.vals[:, None].astype(out.dtype, copy=False)

    def weight_grad(self, flat, dtype, out=None):
        """X^T flat, (n_in, G), created like the weights (or written into ``out``, of that
        shape and dtype, e.g. a parameter's gradient slot; then None is returned).

        A compiled scatter-add with the ``fast`` extra; NumPy has no fast
        scatter-add of rows (sorting and ``reduceat`` measured slower than the
        GEMM), so without it this is the GEMM on the dense input.
        """
        kernel = _kernels.get("scatter_add_rows")
        if kernel is None or not flat.flags.c_contiguous or flat.dtype.itemsize < 4:
            if out is None:
                return self.dense.T @ flat
            np.matmul(self.dense.T, flat, out=out)
            return None
        gw = np.zeros((self.n_in, flat.shape[1]), dtype=np.result_type(dtype, flat)) \
            if out is None else out
        if out is not None:
            gw.fill(0)
        kernel(gw, self.idx, self.vals.astype(gw.dtype, copy=False), flat)
        return gw if out is None else None


def input_grads(dA, xt, x, W_x, b):
    """The gradients of X W_x + b from dNET of all steps (time, batch, G), as one GEMM each."""
    T, B, G = dA.shape
    flat = dA.reshape(T * B, G)
    if W_x is None:  # the projected inputs, plus b: the same dNET for both
        return (dA.transpose(1, 0, 2) if needs_grad(x) else None), None, _bias_grad(flat, b)
    gx = None
    if needs_grad(x):
        gx = (flat @ W_x.data.T).reshape(T, B, W_x.shape[0]).transpose(1, 0, 2)
    x_rows = xt if isinstance(xt, OneHotRows) else xt.reshape(T * B, xt.shape[2])
    return (gx, *projection_grads(flat, x_rows, W_x, b))


def _bias_grad(flat, b):
    """db = sum of dNET over all rows (None when there is no trainable b); float16 rows are
    summed in float32 (:func:`~rosenblatt.autodiff.tensor.sum_to_shape`: past 2,048 rows a
    float16 running sum stops growing)."""
    return sum_to_shape(flat, b.shape) if b is not None and b.requires_grad else None


def projection_grads(flat, x_rows, W_x, b, slot=None):
    """``(dW_x, db)`` of X W_x + b from dNET ``flat`` (rows, G) and the input ``x_rows``
    (the same rows: a 2-D array or :class:`OneHotRows`, whose weight gradient is a
    scatter-add). With ``slot`` (W_x's gradient slot) dW_x is written there and None
    is returned for it."""
    gw = done = None
    if W_x.requires_grad:
        if isinstance(x_rows, OneHotRows):
            gw = x_rows.weight_grad(flat, W_x.dtype, out=slot)
        elif slot is not None:
            np.matmul(x_rows.T, flat, out=slot)
        else:
            gw = x_rows.T @ flat
        done = gw if slot is None else slot
    gb = None
    if b is not None and b.requires_grad:
        if done is not None and isinstance(x_rows, OneHotRows) and x_rows.ones:
            gb = sum_to_shape(done, b.shape)  # every row picked one row of W_x with weight 1
        else:
            gb = sum_to_shape(flat, b.shape)  # (float16 summed in float32)
    return gw, gb


def input_rows(xd, W_x, b, scale):
    """x_t W_x + b of every step for the compiled, batch-major paths (LSTM, GRU), as a
    table and an index: row ``idx[b, t]`` of ``table`` is step t of sequence b. For
    one-hot inputs the table is W_x + b itself (no projection at all); otherwise the one
    GEMM X W_x + b over all steps (or the already projected input plus b, ``W_x=None``).
    ``scale`` (G,) multiplies the columns (the sigmoid blocks' 1/2, folded into the
    weights).

    Returns ``(table, idx, rows, x2)``: ``rows`` the :class:`OneHotRows` found (or None) and
    ``x2`` the input as (B T, in) rows, both for :func:`batch_major_input_grads`."""
    B, T, n_in = xd.shape
    rows = x2 = None
    if W_x is None:  # already projected (batch-normalised variant): (B, T, G)
        table = (xd * scale if b is None else (xd + b.data) * scale).reshape(B * T, n_in)
        idx = None
    else:
        w = W_x.data * scale
        bias = None if b is None else b.data * scale
        x2 = xd.reshape(B * T, n_in)
        rows = OneHotRows.find(x2)
        if rows is not None and rows.ones:  # x_t W_x + b = (W_x + b)[k]: no projection
            table = w if bias is None else w + bias
            idx = rows.idx.reshape(B, T)
        else:
            table = workspace.empty((B * T, w.shape[1]), np.result_type(xd, w))
            if rows is not None:
                rows.project(w, table)
            else:
                np.matmul(x2, w, out=table)
            if bias is not None:
                table += bias
            idx = None
    if idx is None:  # row b T + t of the projected inputs
        idx = np.arange(B * T).reshape(B, T)
    return table, idx, rows, x2


def batch_major_input_grads(dA, x, rows, x2, W_x, b):
    """The gradients of X W_x + b from dNET of all steps, batch-major (B, T, G), for
    the compiled paths: one GEMM each (a scatter-add for one-hot ``rows``), the weight
    gradient written into the parameter's gradient slot when it has one (then None is
    returned for it). ``rows`` and ``x2`` as :func:`input_rows` returned them."""
    B, T, G = dA.shape
    flat = dA.reshape(B * T, G)
    if W_x is None:  # the projected inputs, plus b: the same dNET for both
        return (dA if needs_grad(x) else None), None, _bias_grad(flat, b)
    gx = (flat @ W_x.data.T).reshape(B, T, W_x.shape[0]) if needs_grad(x) else None
    slot = W_x._grad_slot() if W_x.requires_grad else None
    return (gx, *projection_grads(flat, x2 if rows is None else rows, W_x, b, slot))


def batch_major_hidden_grad(W_h, h0, hinit, out, dA):
    """dE/dW_h = sum_t h_{t-1}^T dA_t for the compiled paths, from the batch-major outputs
    ``out`` (B, T, H) and hidden-side dNET ``dA`` (B, T, G): one GEMM over the flat (B T)
    rows, output row r against dA row r + 1, with the B - 1 rows that would pair one
    sequence's last output with the next sequence's first step zeroed for it (and put back:
    ``dA`` may be handed on). No h_0 term when ``h0`` is None (h_0 = 0). Written into the
    parameter's gradient slot when it has one (then None is returned); None when W_h is
    frozen."""
    if not W_h.requires_grad:
        return None
    B, T, G = dA.shape
    H = out.shape[2]
    first = None if h0 is None else hinit.T @ dA[:, 0]
    slot = W_h._grad_slot()
    gwh = np.empty((H, G), dtype=dA.dtype) if slot is None else slot
    if T > 1:
        kept = dA[1:, 0].copy()
        dA[1:, 0] = 0
        np.matmul(out.reshape(B * T, H)[:-1].T, dA.reshape(B * T, G)[1:], out=gwh)
        dA[1:, 0] = kept
        if first is not None:
            gwh += first
    elif first is not None:
        gwh[...] = first
    else:
        gwh.fill(0)
    return None if slot is not None else gwh


def hidden_weight_grad(W_h, hinit, Hs, dA):
    """dE/dW_h = sum_t h_{t-1}^T dA_t as one GEMM over all steps (None if W_h is frozen).

    ``hinit`` (batch, H) is h_0, ``Hs`` (time, batch, H) the outputs h_1 ... h_T
    and ``dA`` (time, batch, G) the gradients of the hidden-side pre-activations.
    """
    if not W_h.requires_grad:
        return None
    T, _, G = dA.shape
    H = hinit.shape[1]
    gwh = hinit.T @ dA[0]
    if T > 1:
        gwh += Hs[:-1].reshape(-1, H).T @ dA[1:].reshape(-1, G)
    return gwh


def initial_state(h0, batch, hidden, dtype, name):
    """The (batch, hidden) array of an initial state given as None, (hidden,) or (batch, hidden)."""
    if h0 is None:
        return np.zeros((batch, hidden), dtype=dtype)
    hd = h0.data if isinstance(h0, Tensor) else np.asarray(h0, dtype=dtype)
    if hd.shape not in ((hidden,), (batch, hidden)):
        raise ValueError(
            f"{name}: initial state must have shape ({batch}, {hidden}) or ({hidden},); "
            f"got {hd.shape}"
        )
    return np.broadcast_to(hd, (batch, hidden))


def state_grad(g, h0):
    """The gradient for an initial state tensor (summed over the batch if it was broadcast)."""
    if not needs_grad(h0):
        return None
    return sum_to_shape(g, h0.shape)


def check_sequence(xd, W_x, W_h, gates, name, b=None):
    """Shape checks of a fused sequence op: x (batch, time, in), W_x (in, G H), W_h (H, G H),
    b (G H,) when given."""
    if xd.ndim != 3:
        raise ValueError(
            f"{name}: input must be (batch, time, features); got shape {xd.shape}"
        )
    if xd.shape[1] == 0:
        raise ValueError(f"{name}: the sequence is empty (time = 0); got shape {xd.shape}")
    if W_h.ndim != 2 or W_h.shape[1] != gates * W_h.shape[0]:
        raise ValueError(f"{name}: W_h must have shape (H, {gates} H); got {W_h.shape}")
    if W_x is not None and W_x.ndim != 2:
        raise ValueError(f"{name}: W_x must have shape (input_size, {gates} H); got {W_x.shape}")
    expected = W_h.shape[1] if W_x is None else W_x.shape[0]
    if xd.shape[2] != expected:
        what = "projected input" if W_x is None else "input"
        raise ValueError(
            f"{name}: {what} has {xd.shape[2]} features but the weights expect {expected} "
            f"(input shape {xd.shape})"
        )
    if W_x is not None and W_x.shape[1] != W_h.shape[1]:
        raise ValueError(f"{name}: W_x has {W_x.shape[1]} columns but W_h has {W_h.shape[1]}")
    check_shape(b, (W_h.shape[1],), name, "b", f"({gates} H,)" if gates > 1 else "(H,)")


def check_lengths(lengths, T, B, name):
    """``lengths`` as an int64 array (batch,) with every entry in [1, T]; raises otherwise.

    Any integer dtype is taken and returned as int64: index arithmetic with unsigned
    lengths goes wrong in NumPy (uint64 - int64 is float64, no longer an index).
    """
    lengths = np.asarray(lengths)
    if lengths.shape != (B,) or lengths.dtype.kind not in "iu":
        raise ValueError(f"{name}: lengths must be {B} integers (one per sequence); got "
                         f"{lengths.dtype} array of shape {lengths.shape}")
    if lengths.min() < 1 or lengths.max() > T:
        raise ValueError(f"{name}: lengths must be between 1 and the time steps ({T}); got "
                         f"{int(lengths.min())} to {int(lengths.max())}")
    return lengths.astype(np.int64, copy=False)


def whole_sequence_kernels(kind, mask):
    """``(forward, backward)``: the compiled kernels that run a whole ``kind`` ("lstm" or
    "gru") sequence in one call each way, calling NumPy's BLAS from inside; None where the
    per-step loop must run (a length ``mask``: the ended sequences' states are held between
    steps; no compiled kernels, or a BLAS without the symbol they call)."""
    if mask is not None:
        return None
    forward = _kernels.get(f"{kind}_forward_seq")
    return None if forward is None else (forward, _kernels.get(f"{kind}_backward_seq"))


def length_mask(lengths, T, B, dtype, name):
    """(time, batch, 1) array: 1 while t < lengths[b], else 0; None when ``lengths`` is None.

    With lengths, a sequence's state is held after its last step: past the
    end, h_t = h_{t-1} (and C_t = C_{t-1}), so the final state is the state at
    each sequence's own last step and the padded outputs repeat it.
    """
    if lengths is None:
        return None
    lengths = check_lengths(lengths, T, B, name)
    return (np.arange(T)[:, None] < lengths[None, :]).astype(dtype)[:, :, None]


def hold_finished(new, prev, m):
    """In place: keep ``prev`` where m = 0 (``new`` elsewhere, untouched).

    With ``m`` a column of :func:`length_mask`, the sequences that have ended
    hold their state; the others keep the new one bit for bit. A selection,
    not the blend prev + m (new - prev): that would round every running
    sequence's state (to ulp(prev), losing it outright when it shrinks by
    orders of magnitude) and turn an ended sequence's NaN or inf into its state.
    """
    np.copyto(new, prev, where=m == 0)


def clear_padding(xd, lengths):
    """``xd`` (batch, time, features) with its padded steps (t >= lengths[b]) zeroed when
    any value is NaN or infinite; ``xd`` itself (no copy) when all are finite.

    The padding is never read into a state, but the weight gradients multiply the
    inputs of every step by their (zero) dNET, and 0 * NaN = NaN; so NaN or inf
    padding must be replaced before the op projects it (PyTorch's packed sequences
    never read it). One pass over the input, made only for padded batches.
    """
    if np.isfinite(xd).all():
        return xd
    real = np.arange(xd.shape[1])[None, :] < np.asarray(lengths)[:, None]
    return np.where(real[:, :, None], xd, np.zeros((), dtype=xd.dtype))


class EndedSequences:
    """Backpropagation through a padded batch on the compiled paths (the kernels know no
    lengths).

    Past a sequence's end its state was held (:func:`hold_finished`), so the
    gradient reaching its h_t (and C_t) belongs to h_{t-1} (C_{t-1}) unchanged.
    :meth:`hold` takes that part out before step t's kernel, leaving zeros for
    the ended sequences (their pre-activation gradients come out zero, and so
    do their contributions to dW and to the step before); the kernel reads the
    outputs' gradient from :attr:`dout`, zero where a sequence has ended;
    :meth:`release` adds the held part back after the step's product.

    Parameters
    ----------
    M : array (time, batch, 1)
        :func:`length_mask`.
    dout : array (batch, time, H)
        The outputs' gradient, batch-major.
    """

    def __init__(self, M, dout):
        self.M = M
        self._dout = dout
        self.dout = np.multiply(dout, M.transpose(1, 0, 2),
                                out=workspace.empty(dout.shape, dout.dtype))

    def hold(self, t, dh, *more):
        """Before step t: the ended sequences' share of ``dh`` (with their output gradient
        at t) and of each of ``more``, returned; those rows zeroed in place."""
        keep = self.M[t]
        drop = 1 - keep
        held = [np.add(dh, self._dout[:, t]) * drop] + [g * drop for g in more]
        for g in (dh,) + more:
            g *= keep
        return held

    @staticmethod
    def release(held, *grads):
        """After step t's product: the held shares added back, in :meth:`hold`'s order."""
        for g, part in zip(grads, held):
            g += part
