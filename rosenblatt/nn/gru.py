"""Gated recurrent units (notes: "GRUs").

PyTorch's formulation, exactly (gate blocks r, z, n):

    r_t = sigmoid(x_t W_xr + b_r + h_{t-1} W_hr)
    z_t = sigmoid(x_t W_xz + b_z + h_{t-1} W_hz)
    n_t = tanh(x_t W_xn + b_n + r_t * (h_{t-1} W_hn + b_hn))
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

The notes write h_t = (1 - z_t) h_{t-1} + z_t h~_t, the same cell with z
relabelled 1 - z; the reset gate applied to h_{t-1} W_hn (rather than to
h_{t-1} before the product) is Cho et al.'s and cuDNN's choice, and the
separate hidden bias b_hn sits inside r * (...), so it is kept apart from b.

The whole sequence is one op (:func:`gru`). Backwards through step t with
dh = dE/dh_t:

    dn = dh (1 - z);  dz = dh (h_{t-1} - n);  da_n = dn (1 - n^2)
    da_r = da_n * (h_{t-1} W_hn + b_hn) * r (1 - r);  da_z = dz * z (1 - z)
    dE/dh_{t-1} = dh z + [da_r, da_z, da_n * r] W_h^T

and dW_h = sum_t h_{t-1}^T [da_r, da_z, da_n r], one product after the loop.
"""

import numpy as np

from ..autodiff import _kernels
from ..autodiff.tensor import _make as make, needs_grad, sum_to_shape
from ..checks import positive_int
from . import workspace
from ._operands import as_tensor, check_shape, optional_tensor
from .init import _float_dtype
from .parameter import Parameter
from .recurrent import RecurrentBase, batch_lengths
from .sequence import (
    EndedSequences,
    batch_major_hidden_grad,
    batch_major_input_grads,
    check_sequence,
    clear_padding,
    hidden_weight_grad,
    hold_finished,
    initial_state,
    input_grads,
    input_rows,
    length_mask,
    project_inputs,
    state_grad,
    whole_sequence_kernels,
)


def gru(x, W_x, W_h, b=None, b_hn=None, h0=None, lengths=None):
    """A whole GRU sequence as one op.

    Parameters
    ----------
    x : Tensor or array_like, shape (batch, time, input_size)
        Or, with ``W_x=None``, the already projected inputs x W_x (batch, time, 3H);
        ``b`` is still added.
    W_x : Tensor or array_like (input_size, 3H), or None
    W_h : Tensor or array_like (H, 3H)
    b : Tensor or array_like (3H,), optional
        Input-side biases (PyTorch: b_ir + b_hr, b_iz + b_hz, b_in).
    b_hn : Tensor or array_like (H,), optional
    h0 : Tensor (batch, H) or (H,), optional (zeros)
    lengths : array of int (batch,), optional
        Each sequence's length in a padded batch: past it, h stays frozen.

    Returns
    -------
    Tensor, shape (batch, time, H)
        Every h_t; the final state is ``outputs[:, -1]``.
    """
    x = as_tensor(x, "gru", "x")
    W_x, W_h = optional_tensor(W_x, "gru", "W_x", x), as_tensor(W_h, "gru", "W_h", x)
    b, b_hn = optional_tensor(b, "gru", "b", x), optional_tensor(b_hn, "gru", "b_hn", x)
    xd = x.data
    check_sequence(xd, W_x, W_h, 3, "gru", b)
    check_shape(b_hn, (W_h.shape[0],), "gru", "b_hn", "(H,)")
    lengths = batch_lengths(lengths, xd.shape[1], xd.shape[0], "gru")
    if lengths is not None:  # NaN or inf padding is never read, not even as 0 * NaN
        xd = clear_padding(xd, lengths)
    Wh = W_h.data
    H = Wh.shape[0]
    # sigmoid(a) = (1 + tanh(a / 2)) / 2, with the 1/2 folded into the r and z columns
    scale = np.ones(3 * H, dtype=Wh.dtype)
    scale[:2 * H] = 0.5
    if (_kernels.enabled()
            and all(w is None or w.dtype == np.float32 for w in (Wh, xd, W_x, b, b_hn))):
        return _gru_compiled(x, xd, W_x, W_h, b, b_hn, h0, scale, lengths)
    A, xt = project_inputs(xd, W_x, b, scale)  # (T, B, 3H): becomes r, z, n in place
    T, B, G = A.shape
    Whs = Wh * scale
    dtype = A.dtype
    hinit = initial_state(h0, B, H, dtype, "gru")
    M = length_mask(lengths, T, B, dtype, "gru")
    HN = workspace.empty((T, B, H), dtype)  # h_{t-1} W_hn + b_hn (recycled: no page faults)
    Hs = workspace.empty((T, B, H), dtype)
    tmp = np.empty((B, G), dtype=dtype)
    bhn = None if b_hn is None else b_hn.data
    rz, sn = slice(0, 2 * H), slice(2 * H, 3 * H)
    h = hinit
    for t in range(T):
        a = A[t]
        np.matmul(h, Whs, out=tmp)
        r_z = a[:, rz]
        r_z += tmp[:, rz]
        np.tanh(r_z, out=r_z)
        r_z *= 0.5
        r_z += 0.5
        hn = HN[t]
        hn[...] = tmp[:, sn]
        if bhn is not None:
            hn += bhn
        n = a[:, sn]
        tmp_n = tmp[:, sn]
        np.multiply(a[:, :H], hn, out=tmp_n)
        n += tmp_n
        np.tanh(n, out=n)
        ht = Hs[t]  # h = n + z (h_prev - n)
        np.subtract(h, n, out=ht)
        ht *= a[:, H:2 * H]
        ht += n
        if M is not None:
            hold_finished(ht, h, M[t])
        h = ht

    def backward(grad):
        dH = grad.transpose(1, 0, 2)
        dA = workspace.empty(A.shape, dtype)   # dNET of the input side: [da_r, da_z, da_n]
        dAh = workspace.empty(A.shape, dtype)  # dNET of the hidden side: [da_r, da_z, da_n * r]
        dh = np.zeros((B, H), dtype=dtype)
        u = np.empty((B, H), dtype=dtype)
        dprev = np.empty((B, H), dtype=dtype)
        WhT = np.ascontiguousarray(Wh.T)
        for t in range(T - 1, -1, -1):
            a, d, dhid = A[t], dA[t], dAh[t]
            h_prev = Hs[t - 1] if t > 0 else hinit
            r, z, n = a[:, :H], a[:, H:2 * H], a[:, sn]
            dh += dH[t]
            if M is not None:  # past a sequence's end h passes straight through
                passed = dh * (1 - M[t])
                dh *= M[t]
            np.multiply(dh, z, out=dprev)               # direct path z * h_{t-1}
            d_n = d[:, sn]                              # da_n = dh (1 - z)(1 - n^2)
            np.subtract(1, z, out=d_n)
            d_n *= dh
            np.multiply(n, n, out=u)
            np.subtract(1, u, out=u)
            d_n *= u
            d_z = d[:, H:2 * H]                         # da_z = dh (h_prev - n) z (1 - z)
            np.subtract(h_prev, n, out=d_z)
            d_z *= dh
            np.subtract(1, z, out=u)
            u *= z
            d_z *= u
            d_r = d[:, :H]                              # da_r = da_n hn r (1 - r)
            np.multiply(d_n, HN[t], out=d_r)
            np.subtract(1, r, out=u)
            u *= r
            d_r *= u
            dhid[:, rz] = d[:, rz]
            np.multiply(d_n, r, out=dhid[:, sn])
            np.matmul(dhid, WhT, out=dh)
            dh += dprev
            if M is not None:
                dh += passed
        gx, gwx, gb = input_grads(dA, xt, x, W_x, b)
        gwh = hidden_weight_grad(W_h, hinit, Hs, dAh)
        gbhn = None
        if b_hn is not None and b_hn.requires_grad:
            gbhn = sum_to_shape(dAh[:, :, sn], b_hn.shape)  # (float16 summed in float32)
        return gx, gwx, gwh, gb, gbhn, state_grad(dh, h0)

    out = np.ascontiguousarray(Hs.transpose(1, 0, 2))
    return make(out, (x, W_x, W_h, b, b_hn, h0), backward)


def _gru_compiled(x, xd, W_x, W_h, b, b_hn, h0, scale, lengths=None):
    """:func:`gru` in the common case (float32), with the ``fast`` extra: each step's gate
    arithmetic is one compiled pass, forward
    (:func:`~rosenblatt.autodiff._numba_kernels.gru_forward_seq_step`) and backward, and
    the layout is the LSTM's compiled one (``lstm._lstm_compiled``): batch-major outputs
    and gradients written and read in place by the kernels, x_t W_x + b read from a table
    of rows (:func:`~rosenblatt.nn.sequence.input_rows`: W_x + b itself for one-hot
    inputs), dW_h one GEMM over the flat rows, every scratch array recycled. With
    ``lengths``, padding as in ``lstm._lstm_compiled``.
    """
    Wh = W_h.data
    H, G = Wh.shape
    B, T = xd.shape[:2]
    dtype = Wh.dtype
    fwd = _kernels.get("gru_forward_seq_step")
    bwd = _kernels.get("gru_backward_seq_step")
    table, idx, rows, x2 = input_rows(xd, W_x, b, scale)
    # the kernels read h_0 and W_h as C-ordered float32 (by raw pointer, for BLAS): a
    # float64 or big-endian state, or W_h = torch_weight.T (F-ordered), are copied so
    hinit = np.ascontiguousarray(initial_state(h0, B, H, dtype, "gru"), dtype=dtype)
    M = length_mask(lengths, T, B, dtype, "gru")
    bhn = np.zeros(H, dtype=dtype) if b_hn is None else b_hn.data
    A = workspace.empty((T, B, G), dtype)    # r, z, n of each step, time-major
    HN = workspace.empty((T, B, H), dtype)   # h_{t-1} W_hn + b_hn
    out = workspace.empty((B, T, H), dtype)  # h_t, batch-major: what the caller gets
    Whs = np.multiply(Wh, scale, order="C")
    whole = whole_sequence_kernels("gru", M)  # without lengths: one call each way
    if whole is not None:
        whole[0](table, idx, Whs, bhn, hinit, A, HN, out)
    else:
        rec = np.empty((B, G), dtype=dtype)
        h = hinit
        for t in range(T):
            np.matmul(h, Whs, out=rec)
            fwd(table, idx, t, rec, bhn, hinit, A[t], HN[t], out)
            if M is not None:  # the kernel read h_{t-1} from out[:, t - 1]: held already
                hold_finished(out[:, t], h, M[t])
            h = out[:, t]

    def backward(grad):
        dout = grad
        if not (grad.flags.c_contiguous and grad.dtype == dtype):  # e.g. broadcast zeros
            dout = np.ascontiguousarray(grad, dtype=dtype)
        dA = workspace.empty((B, T, G), dtype)   # input side: da_r, da_z, da_n
        dAh = workspace.empty((B, T, G), dtype)  # hidden side: da_r, da_z, da_n r
        WhT = np.ascontiguousarray(Wh.T)
        dh = np.zeros((B, H), dtype=dtype)
        carry = np.zeros((B, H), dtype=dtype)
        want_h0 = needs_grad(h0)
        ended = None if M is None else EndedSequences(M, dout)
        kernel_dout = dout if ended is None else ended.dout
        if whole is not None:
            whole[1](A, HN, hinit, out, kernel_dout, WhT, dh, carry, dA, dAh, want_h0)
        else:
            for t in range(T - 1, -1, -1):
                if ended is not None:  # past a sequence's end h passes straight through
                    held = ended.hold(t, dh, carry)
                bwd(A[t], HN[t], hinit, out, kernel_dout, t, dh, carry, dA, dAh)
                if t or want_h0:
                    np.matmul(dAh[:, t], WhT, out=dh)
                if ended is not None:
                    ended.release(held, dh, carry)
        gx, gwx, gb = batch_major_input_grads(dA, x, rows, x2, W_x, b)
        gwh = batch_major_hidden_grad(W_h, h0, hinit, out, dAh)
        gbhn = None
        if b_hn is not None and b_hn.requires_grad:
            gbhn = dAh.reshape(B * T, G)[:, 2 * H:].sum(axis=0)
        return gx, gwx, gwh, gb, gbhn, state_grad(dh + carry, h0) if want_h0 else None

    return make(out, (x, W_x, W_h, b, b_hn, h0), backward)


class GRU(RecurrentBase):
    """A gated-recurrent-unit layer (Cho et al. 2014), PyTorch's formulation.

    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int, default 1
    learn_initial_state : bool, default False
    batch_norm : bool, default False
        Normalise X W_x over batch and time (Laurent et al. 2016).
    rng : numpy.random.Generator, optional
    dtype : default float32

    Attributes
    ----------
    W_x, W_h, b : list of Parameter, one per layer
        Shapes (in, 3H), (H, 3H), (3H,), gate blocks r, z, n.
    b_hn : list of Parameter (H,)
        The hidden-side candidate bias, inside r * (h W_hn + b_hn).

    Notes
    -----
    Per step (the notes' z is 1 - z here; see the module docstring)::

        r_t = sigmoid(x_t W_xr + b_r + h_{t-1} W_hr)
        z_t = sigmoid(x_t W_xz + b_z + h_{t-1} W_hz)
        n_t = tanh(x_t W_xn + b_n + r_t * (h_{t-1} W_hn + b_hn))
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> gru = rb.nn.GRU(3, 5, num_layers=2, rng=0)
    >>> out, h = gru(np.ones((2, 7, 3), dtype=np.float32))
    >>> out.shape, h.shape
    ((2, 7, 5), (2, 2, 5))
    """

    gates = 3

    @classmethod
    def state_shapes(cls, config):
        """As :meth:`RecurrentBase.state_shapes` (three gates), plus ``b_hn.l`` (hidden_size,)."""
        shapes = cls._stack_shapes(config, cls.gates)
        H, n = config["hidden_size"], config["num_layers"]
        shapes.update({f"b_hn.{layer}": (H,) for layer in range(n)})
        return shapes

    def __init__(self, input_size, hidden_size, num_layers=1, **kwargs):
        name = type(self).__name__  # b_hn is made before RecurrentBase checks the sizes
        dtype = _float_dtype(name, kwargs.get("dtype", np.float32))
        H = positive_int(name, "hidden_size", hidden_size)
        n = positive_int(name, "num_layers", num_layers)
        self.b_hn = [Parameter(np.zeros(H, dtype=dtype)) for _ in range(n)]
        super().__init__(input_size, hidden_size, num_layers, **kwargs)

    def _init_gates(self, layer):
        self.b_hn[layer].data[...] = 0

    def _layer(self, x, layer, init, lengths=None):
        inputs, W_x, b = self._op_inputs(x, layer, lengths)
        out = gru(inputs, W_x, self.W_h[layer], b, self.b_hn[layer], init[0], lengths)
        return out, (out[:, -1],)
