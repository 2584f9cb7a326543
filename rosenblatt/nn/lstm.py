"""Long short-term memory (notes: "LSTMs", "Peephole connections", "Update gates").

With a = x_t W_x + h_{t-1} W_h + b split into the gate blocks (PyTorch's order
i, f, g, o):

    i_t = sigmoid(a_i)          input gate
    f_t = sigmoid(a_f)          forget gate
    g_t = tanh(a_g)             candidate values, the notes' C~_t
    o_t = sigmoid(a_o)          output gate
    C_t = f_t * C_{t-1} + i_t * g_t
    OUT_t = h_t = o_t * tanh(C_t)

Variants (the notes' two): ``peephole=True`` adds the cell state to the gates'
inputs, a_i += p_i * C_{t-1}, a_f += p_f * C_{t-1}, a_o += p_o * C_t, with
diagonal peephole weights p (Gers & Schmidhuber 2000: each gate sees its own
cell); ``coupled=True`` drops the input gate's weights and uses i_t = 1 - f_t
(the "update gate"), so the projection has three blocks f, g, o.

The whole sequence is one op (:func:`lstm`) with hand-written BPTT. Going
backwards through step t with dh = dE/dh_t (from the output and from step t+1)
and dC = dE/dC_t (from step t+1):

    dC += dh * o * (1 - tanh(C_t)^2);      da_o = dh * tanh(C_t) * o (1 - o)
    da_i = dC * g * i (1 - i);  da_g = dC * i * (1 - g^2);  da_f = dC * C_{t-1} * f (1 - f)
    dE/dC_{t-1} = dC * f;      dE/dh_{t-1} = da W_h^T

Coupled (i = 1 - f, no da_i): da_f = dC * (C_{t-1} - g) * f (1 - f) and
da_g = dC * (1 - f)(1 - g^2).

With peepholes the cell also feeds the gates: dC += da_o * p_o (before da_i,
da_f, da_g) and dE/dC_{t-1} += da_i * p_i + da_f * p_f; dp_i = sum_t da_i *
C_{t-1}, dp_f = sum_t da_f * C_{t-1}, dp_o = sum_t da_o * C_t (over batch too).

After the loop dW_h = sum_t h_{t-1}^T da_t, dW_x = sum_t x_t^T da_t, each
one matrix product over all steps.

With the ``fast`` extra (Numba) the common case (float32, no peepholes, not
coupled; padded batches too, their ended sequences held between the steps)
runs each step's gate arithmetic, forward and backward, as one compiled pass
(``autodiff/_numba_kernels.py``), batch-major where the caller sees the arrays
(:func:`_lstm_compiled`); the NumPy code below is the reference they are
tested against.

The three results (outputs, h_T, C_T) are three graph nodes: the outputs are
the op's node, and h_T and C_T hang off it, handing their gradients to the
op's backward (:func:`sequence_outputs`), so that no array joins them.
"""

import numpy as np

from ..autodiff import _kernels
from ..autodiff.tensor import _make as make, needs_grad
from ..checks import boolean, finite_float, positive_int
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
    sigmoid_,
    state_grad,
    whole_sequence_kernels,
)


def lstm(x, W_x, W_h, b=None, h0=None, c0=None, peephole=None, coupled=False, lengths=None):
    """A whole LSTM sequence as one op.

    Parameters
    ----------
    x : Tensor or array_like, shape (batch, time, input_size)
        Or, with ``W_x=None``, the already projected inputs x W_x (batch, time, G*H);
        ``b`` is still added.
    W_x : Tensor or array_like, shape (input_size, G*H), or None
        G = 4 (gate blocks i, f, g, o), or 3 (f, g, o) when ``coupled``.
    W_h : Tensor or array_like, shape (H, G*H)
    b : Tensor or array_like, shape (G*H,), optional
    h0, c0 : Tensor or array_like, shape (batch, H) or (H,), optional (zeros)
    peephole : Tensor or array_like, shape (3, H), optional
        Diagonal peephole weights p_i, p_f, p_o (p_i unused when coupled).
    coupled : bool, default False
        i_t = 1 - f_t.
    lengths : array of int (batch,), optional
        Each sequence's length in a padded batch: past it, h and C stay frozen.

    Returns
    -------
    outputs : Tensor, shape (batch, time, H)
        Every h_t.
    h : Tensor, shape (batch, H)
        The final hidden state (``outputs[:, -1]``; with ``lengths``, each
        sequence's state at its own last step).
    C : Tensor, shape (batch, H)
        The final cell state.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> W_x, W_h = rb.tensor(np.zeros((3, 8))), rb.tensor(np.zeros((2, 8)))
    >>> out, h, c = rb.nn.functional.lstm(rb.tensor(np.ones((4, 5, 3))), W_x, W_h)
    >>> out.shape, h.shape, c.shape
    ((4, 5, 2), (4, 2), (4, 2))
    """
    coupled = boolean("lstm", "coupled", coupled)  # "False" is truthy: not a switch
    x = as_tensor(x, "lstm", "x")
    W_x, W_h = optional_tensor(W_x, "lstm", "W_x", x), as_tensor(W_h, "lstm", "W_h", x)
    b = optional_tensor(b, "lstm", "b", x)
    peephole = optional_tensor(peephole, "lstm", "peephole", x)
    xd = x.data
    check_sequence(xd, W_x, W_h, 3 if coupled else 4, "lstm", b)
    check_shape(peephole, (3, W_h.shape[0]), "lstm", "peephole", "(3, H)")
    lengths = batch_lengths(lengths, xd.shape[1], xd.shape[0], "lstm")
    if lengths is not None:  # NaN or inf padding is never read, not even as 0 * NaN
        xd = clear_padding(xd, lengths)
    Wh = W_h.data
    H = Wh.shape[0]
    G = Wh.shape[1]
    if coupled:
        sf, sg, so = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)
        si = None
    else:
        si, sf, sg, so = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H), slice(3 * H, 4 * H)
    P = None if peephole is None else peephole.data
    # Without peepholes every gate depends only on x_t and h_{t-1}, so one tanh call
    # over all G columns does all the gates: sigmoid(a) = (1 + tanh(a / 2)) / 2, with
    # the 1/2 folded into the weights of the sigmoid blocks.
    sig = [si, sf, so] if not coupled else [sf, so]
    scale = None
    if P is None:
        scale = np.ones(G, dtype=Wh.dtype)
        for sl in sig:
            scale[sl] = 0.5
    if (P is None and not coupled
            and all(w is None or w.dtype == np.float32 for w in (Wh, xd, W_x, b))
            and _kernels.enabled()):
        return _lstm_compiled(x, xd, W_x, W_h, b, h0, c0, scale, lengths)
    # (T, B, G): NET, then the gate activations
    A, xt = project_inputs(xd, W_x, b, scale)
    T, B, _ = A.shape
    dtype = A.dtype
    hinit = initial_state(h0, B, H, dtype, "lstm")
    cinit = initial_state(c0, B, H, dtype, "lstm")
    M = length_mask(lengths, T, B, dtype, "lstm")
    C = workspace.empty((T, B, H), dtype)   # cell states C_t
    TC = workspace.empty((T, B, H), dtype)  # tanh(C_t)
    Hs = workspace.empty((T, B, H), dtype)  # outputs h_t
    tmp = np.empty((B, G), dtype=dtype)
    tmp_h = np.empty((B, H), dtype=dtype)
    Whs = Wh if scale is None else Wh * scale
    shift = None if scale is None else np.where(scale == 0.5, 0.5, 0).astype(dtype)
    # contiguous runs of sigmoid columns: (i, f) and o; coupled: f and o
    sig_runs = [slice(0, 2 * H), so] if not coupled else [sf, so]
    h, c = hinit, cinit
    for t in range(T):
        a = A[t]
        np.matmul(h, Whs, out=tmp)
        a += tmp
        if P is None:
            np.tanh(a, out=a)
            np.multiply(a, scale, out=a)  # 0.5 tanh + 0.5 on the sigmoid blocks, g untouched:
            np.add(a, shift, out=a)       # two whole-row ops beat four strided ones
        else:
            if not coupled:
                np.multiply(P[0], c, out=tmp_h)
                a[:, si] += tmp_h
            np.multiply(P[1], c, out=tmp_h)
            a[:, sf] += tmp_h
            sigmoid_(a[:, sig_runs[0]])
            np.tanh(a[:, sg], out=a[:, sg])
        g_t = a[:, sg]
        ct = C[t]
        np.multiply(a[:, sf], c, out=ct)
        if coupled:
            np.subtract(1, a[:, sf], out=tmp_h)
            tmp_h *= g_t
        else:
            np.multiply(a[:, si], g_t, out=tmp_h)
        ct += tmp_h
        o_t = a[:, so]
        if P is not None:  # the output gate peeks at the new cell state
            np.multiply(P[2], ct, out=tmp_h)
            o_t += tmp_h
            sigmoid_(o_t)
        np.tanh(ct, out=TC[t])
        np.multiply(o_t, TC[t], out=Hs[t])
        if M is not None:
            hold_finished(ct, c, M[t])
            hold_finished(Hs[t], h, M[t])
        h, c = Hs[t], ct

    def backward(grad, dh_last, dc_last):
        dH = grad.transpose(1, 0, 2)
        # The factors that do not depend on the recurrence, for all steps at once
        # (few big array ops instead of many small ones inside the loop):
        #   da_o = dh * K_o,  K_o = tanh(C) o (1 - o);   dC += dh * K_c,  K_c = o (1 - tanh(C)^2)
        #   [da_i, da_f, da_g] = dC * [K_i, K_f, K_g] with
        #   K_i = g i (1 - i),  K_f = C_{t-1} f (1 - f),  K_g = i (1 - g^2)
        #   (coupled, i = 1 - f: K_f = (C_{t-1} - g) f (1 - f), K_g = (1 - f)(1 - g^2)).
        # dA, the gradient of the pre-activations, overwrites K step by step (each K[t] is
        # read once, by the step that writes dA[t]): one (T, B, G) array instead of two.
        K = dA = workspace.empty(A.shape, dtype)
        Cprev = workspace.empty(C.shape, dtype)
        Cprev[0] = cinit
        Cprev[1:] = C[:-1]
        o_, g_, f_ = A[:, :, so], A[:, :, sg], A[:, :, sf]
        k_o = K[:, :, so]
        np.subtract(1, o_, out=k_o)
        k_o *= o_
        k_o *= TC
        Kc = np.multiply(TC, TC, out=workspace.empty(TC.shape, dtype))
        np.subtract(1, Kc, out=Kc)
        Kc *= o_
        k_g, k_f = K[:, :, sg], K[:, :, sf]
        np.multiply(g_, g_, out=k_g)
        np.subtract(1, k_g, out=k_g)
        np.subtract(1, f_, out=k_f)
        k_f *= f_  # f (1 - f)
        if coupled:
            w = np.subtract(Cprev, g_)
            k_f *= w
            np.subtract(1, f_, out=w)
            k_g *= w
        else:
            i_ = A[:, :, si]
            k_f *= Cprev
            k_g *= i_
            k_i = K[:, :, si]
            np.subtract(1, i_, out=k_i)
            k_i *= i_
            k_i *= g_
        nc = G // H - 1  # the gate blocks driven by dC: i, f, g (coupled: f, g), then o
        K4 = dA4 = K.reshape(T, B, nc + 1, H)[:, :, :nc]
        WhT = np.ascontiguousarray(Wh.T)
        dh, dc = end_state_grads(dh_last, dc_last, B, H, dtype)
        v = np.empty((B, H), dtype=dtype)
        for t in range(T - 1, -1, -1):
            d = dA[t]
            dh += dH[t]
            if M is not None:  # past a sequence's end h and C pass straight through
                pass_h, pass_c = dh * (1 - M[t]), dc * (1 - M[t])
                dh *= M[t]
                dc *= M[t]
            d_o = d[:, so]
            np.multiply(dh, K[t, :, so], out=d_o)
            np.multiply(dh, Kc[t], out=v)
            dc += v
            if P is not None:
                np.multiply(d_o, P[2], out=v)
                dc += v
            np.multiply(K4[t], dc[:, None, :], out=dA4[t])
            dc *= A[t, :, sf]  # dE/dC_{t-1}
            if P is not None:
                np.multiply(d[:, sf], P[1], out=v)
                dc += v
                if not coupled:
                    np.multiply(d[:, si], P[0], out=v)
                    dc += v
            np.matmul(d, WhT, out=dh)
            if M is not None:
                dh += pass_h
                dc += pass_c
        gx, gwx, gb = input_grads(dA, xt, x, W_x, b)
        gwh = hidden_weight_grad(W_h, hinit, Hs, dA)
        gp = None
        if peephole is not None and peephole.requires_grad:
            gp = np.zeros_like(P)
            wide = np.float32 if dtype.itemsize < 4 else None  # float16: sums in float32
            if not coupled:
                gp[0] = np.einsum("tbh,tbh->h", dA[:, :, si], Cprev, dtype=wide)
            gp[1] = np.einsum("tbh,tbh->h", dA[:, :, sf], Cprev, dtype=wide)
            gp[2] = np.einsum("tbh,tbh->h", dA[:, :, so], C, dtype=wide)
        return (gx, gwx, gwh, gb, state_grad(dh, h0), state_grad(dc, c0), gp)

    outputs = workspace.empty((B, T, H), dtype)
    np.copyto(outputs, Hs.transpose(1, 0, 2))
    return sequence_outputs(outputs, C[T - 1], (x, W_x, W_h, b, h0, c0, peephole), backward)


def _lstm_compiled(x, xd, W_x, W_h, b, h0, c0, scale, lengths=None):
    """:func:`lstm` in the common case (float32; no peepholes or coupling), with the
    ``fast`` extra: each step's gate arithmetic is one compiled pass, forward
    (:func:`~rosenblatt.autodiff._numba_kernels.lstm_forward_seq_step`) and backward.
    With ``lengths`` the ended sequences hold their h and C after each step (as on the
    NumPy path), and backward hands their gradient straight to the step before while
    the kernel sees zeros for them (:class:`~rosenblatt.nn.sequence.EndedSequences`).

    Batch-major throughout where the caller sees the arrays: the kernels write h_t
    straight into the (B, T, H) outputs and read the outputs' gradient from the
    same layout, so neither direction copies between (B, T, H) and (T, B, H), and
    the outputs reshape to (B T, H) rows for a read-out for free. x_t W_x + b is
    read per sequence from a table of rows: W_x + b itself for one-hot inputs
    (no projection at all), else the one GEMM X W_x + b over all steps. dW_h is
    one GEMM over the flat (B T) rows, each output row h_{t-1} against the next
    row's dA_t (the rows that would pair one sequence's last output with the
    next sequence's first step are zeroed for it).
    """
    Wh = W_h.data
    H, G = Wh.shape
    B, T = xd.shape[:2]
    dtype = Wh.dtype
    fwd = _kernels.get("lstm_forward_seq_step")
    bwd = _kernels.get("lstm_backward_seq_step")
    table, idx, rows, x2 = input_rows(xd, W_x, b, scale)
    # the kernels read h_0, C_0 and W_h as C-ordered float32 (h_0 and W_h by raw pointer,
    # for BLAS): a float64 or big-endian state, or W_h = torch_weight.T (an F-ordered
    # view), are copied into that form here
    hinit = np.ascontiguousarray(initial_state(h0, B, H, dtype, "lstm"), dtype=dtype)
    cinit = np.ascontiguousarray(initial_state(c0, B, H, dtype, "lstm"), dtype=dtype)
    M = length_mask(lengths, T, B, dtype, "lstm")
    A = workspace.empty((T, B, G), dtype)   # gate activations, time-major
    C = workspace.empty((T, B, H), dtype)   # cell states C_t
    TC = workspace.empty((T, B, H), dtype)  # tanh(C_t)
    out = workspace.empty((B, T, H), dtype)  # h_t, batch-major: what the caller gets
    Whs = np.multiply(Wh, scale, order="C")
    whole = whole_sequence_kernels("lstm", M)  # without lengths: one call each way
    if whole is not None:
        whole[0](table, idx, Whs, hinit, cinit, C, TC, A, out)
    else:
        rec = np.empty((B, G), dtype=dtype)
        h, c = hinit, cinit
        for t in range(T):
            np.matmul(h, Whs, out=rec)
            fwd(table, idx, t, rec, c, C[t], TC[t], A[t], out)
            if M is not None:
                hold_finished(C[t], c, M[t])
                hold_finished(out[:, t], h, M[t])
            h, c = out[:, t], C[t]

    def backward(grad, dh_last, dc_last):
        dout = grad
        if not (grad.flags.c_contiguous and grad.dtype == dtype):  # e.g. broadcast zeros
            dout = np.ascontiguousarray(grad, dtype=dtype)
        dA = workspace.empty((B, T, G), dtype)  # batch-major like the inputs and outputs
        WhT = np.ascontiguousarray(Wh.T)
        dh, dc = end_state_grads(dh_last, dc_last, B, H, dtype)
        want_h0 = needs_grad(h0)
        ended = None if M is None else EndedSequences(M, dout)
        kernel_dout = dout if ended is None else ended.dout
        if whole is not None:
            whole[1](A, TC, C, cinit, kernel_dout, WhT, dh, dc, dA, want_h0)
        else:
            for t in range(T - 1, -1, -1):
                if ended is not None:  # past a sequence's end h and C pass straight through
                    held = ended.hold(t, dh, dc)
                bwd(A[t], TC[t], C[t - 1] if t else cinit, kernel_dout, t, dh, dc, dA)
                if t or want_h0:
                    np.matmul(dA[:, t], WhT, out=dh)
                if ended is not None:
                    ended.release(held, dh, dc)
        gx, gwx, gb = batch_major_input_grads(dA, x, rows, x2, W_x, b)
        gwh = batch_major_hidden_grad(W_h, h0, hinit, out, dA)
        return (gx, gwx, gwh, gb, state_grad(dh, h0) if want_h0 else None,
                state_grad(dc, c0), None)

    return sequence_outputs(out, C[T - 1], (x, W_x, W_h, b, h0, c0, None), backward)


def end_state_grads(dh_last, dc_last, B, H, dtype):
    """The gradients (dh, dC) entering BPTT at the last step: those of the final states
    (None: zero), as fresh (B, H) arrays the loop may update in place."""
    dh = np.zeros((B, H), dtype=dtype)
    dc = np.zeros((B, H), dtype=dtype)
    if dh_last is not None:
        dh += dh_last
    if dc_last is not None:
        dc += dc_last
    return dh, dc


def sequence_outputs(outputs, c_last, parents, backward):
    """The three results of :func:`lstm` as graph nodes, without copies either way.

    ``outputs`` (B, T, H) is the op's node; the final states h_T (a view of its
    last step) and C_T are nodes that hang off it. Their backward passes only
    hand their gradients over (kept here until the op's backward, which runs
    after them: their nodes are newer) and give ``outputs`` a zero gradient
    (a read-only broadcast, no memory), so that the op's backward runs when
    only the final states are used. ``backward(grad, dh_last, dc_last)``
    receives the outputs' gradient and the final states' (None where unused).
    """
    held = {}

    def op_backward(grad):
        return backward(grad, held.pop("h", None), held.pop("c", None))

    node = make(outputs, parents, op_backward)
    zero = np.broadcast_to(np.zeros((), dtype=outputs.dtype), outputs.shape)

    def hand_over(key):
        def state_backward(grad):
            held[key] = grad
            return (zero,)
        return state_backward

    h = make(outputs[:, -1], (node,), hand_over("h"))
    c = make(c_last, (node,), hand_over("c"))
    return node, h, c


class LSTM(RecurrentBase):
    """A long short-term memory layer (Hochreiter & Schmidhuber 1997; Gers et al. 2000).

    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int, default 1
    peephole : bool, default False
        Gates also see the cell state (diagonal peephole weights).
    coupled : bool, default False
        One update gate: i_t = 1 - f_t (no input-gate weights).
    forget_bias : float, default 1.0
        Initial forget-gate bias (Gers et al. 2000, Keras' default); 0 is PyTorch's.
    learn_initial_state : bool, default False
        Learn (h_0, C_0) per layer instead of zeros.
    batch_norm : bool, default False
        Normalise X W_x over batch and time (Laurent et al. 2016).
    rng : numpy.random.Generator, optional
    dtype : default float32

    Attributes
    ----------
    W_x, W_h, b : list of Parameter, one per layer
        Shapes (in, 4H), (H, 4H), (4H,), gate blocks in PyTorch's order i, f, g, o
        (coupled: 3H, blocks f, g, o).
    P : list of Parameter (3, H), only with ``peephole``
        Rows p_i, p_f, p_o.

    Notes
    -----
    Per step, with a = x_t W_x + h_{t-1} W_h + b split into gate blocks::

        i_t = sigmoid(a_i)    f_t = sigmoid(a_f)    o_t = sigmoid(a_o)    g_t = tanh(a_g)
        C_t = f_t * C_{t-1} + i_t * g_t             h_t = o_t * tanh(C_t)

    ``peephole``: a_i += p_i * C_{t-1}, a_f += p_f * C_{t-1}, a_o += p_o * C_t.
    ``coupled``: i_t = 1 - f_t. The hand-written BPTT is in :func:`lstm`.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> lstm = rb.nn.LSTM(3, 5, rng=0)
    >>> out, (h, c) = lstm(np.ones((2, 7, 3), dtype=np.float32))
    >>> out.shape, h.shape, c.shape
    ((2, 7, 5), (1, 2, 5), (1, 2, 5))
    >>> float(lstm.b[0].data[5])  # the forget-gate bias starts at 1
    1.0
    """

    state_size = 2

    @classmethod
    def state_shapes(cls, config):
        """As :meth:`RecurrentBase.state_shapes` (4 gates, 3 if coupled), plus the peephole
        weights ``P.l`` (3, hidden_size) if ``peephole``."""
        shapes = cls._stack_shapes(config, 3 if config["coupled"] else 4)
        if config["peephole"]:
            H, n = config["hidden_size"], config["num_layers"]
            shapes.update({f"P.{layer}": (3, H) for layer in range(n)})
        return shapes

    def __init__(self, input_size, hidden_size, num_layers=1, peephole=False, coupled=False,
                 forget_bias=1.0, **kwargs):
        self.peephole = boolean("LSTM", "peephole", peephole)
        self.coupled = boolean("LSTM", "coupled", coupled)
        # a number, not anything float() takes ("1.5", True)
        self.forget_bias = finite_float("LSTM", "forget_bias", forget_bias)
        # checked before P is made (RecurrentBase checks it too, after)
        dtype = _float_dtype(type(self).__name__, kwargs.get("dtype", np.float32))
        if not abs(self.forget_bias) <= float(np.finfo(dtype).max):
            raise ValueError(f"LSTM: forget_bias must be a finite number in {dtype}; got "
                             f"{forget_bias!r}")  # 1e308 would be inf in float32
        self.gates = 3 if self.coupled else 4
        name = type(self).__name__  # P is made before RecurrentBase checks the sizes
        H = positive_int(name, "hidden_size", hidden_size)
        n = positive_int(name, "num_layers", num_layers)
        self.P = ([Parameter(np.zeros((3, H), dtype=dtype)) for _ in range(n)]
                  if self.peephole else None)
        super().__init__(input_size, hidden_size, num_layers, **kwargs)

    def _init_gates(self, layer):
        H = self.hidden_size
        sf = slice(0, H) if self.coupled else slice(H, 2 * H)
        self.b[layer].data[sf] = self.forget_bias  # with batch_norm, b is the BN shift beta
        if self.P is not None:
            self.P[layer].data[...] = 0

    def _layer(self, x, layer, init, lengths=None):
        inputs, W_x, b = self._op_inputs(x, layer, lengths)
        P = None if self.P is None else self.P[layer]
        out, h, c = lstm(inputs, W_x, self.W_h[layer], b, init[0], init[1], P, self.coupled,
                         lengths)
        return out, (h, c)

    def extra_repr(self):
        extra = super().extra_repr()
        if self.peephole:
            extra += ", peephole=True"
        if self.coupled:
            extra += ", coupled=True"
        if self.forget_bias != 1.0:
            extra += f", forget_bias={self.forget_bias:g}"
        return extra
