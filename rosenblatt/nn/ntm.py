"""Neural Turing Machines (notes: "Neural Turing Machines", "Content-based addressing",
"Location-based addressing"; Graves, Wayne & Danihelka 2014).

A controller (an LSTM, or a feed-forward layer) reads the input x_t and the
previous read vectors r_{t-1}; from its output h_t one linear map gives every
head's parameters, squashed into their ranges:

    key k = tanh(.),  key strength beta = softplus(.) > 0,  gate g = sigmoid(.) in (0, 1),
    shift weighting s = softmax(.) over the allowed shifts,  sharpening gamma = 1 + softplus(.),
    erase e = sigmoid(.) in (0, 1)^M and add a = tanh(.) (write heads only).

Each head's weighting then goes through the notes' four addressing steps
(:mod:`rosenblatt.nn.ntm_addressing`): content weighting, interpolation with
its previous weighting, the circular shift, sharpening. The write heads
address M_{t-1} and write (erase, then add) to give M_t; the read heads
address M_t and read r_t = sum_i w_t(i) M_t(i) (the notes' order). The output
is y_t = [h_t, r_t] W_o + b_o (logits).

The whole sequence is one graph node (:func:`ntm`), as the LSTM is: the time
loop runs the addressing steps' NumPy forward functions and keeps their
caches; backward runs the same steps' backward functions in reverse time
order (backpropagation through time, a loop, so any length works), and the
products that do not depend on the step (the input, head and output weights'
gradients) are single matrix products over all steps after the loop.
"""

import numpy as np

from .. import checks
from ..autodiff.elementwise import sigmoid_probabilities
from ..autodiff.tensor import Tensor, _make as make, needs_grad, sum_to_shape
from ..randomness import resolve_rng
from . import init as initializers
from ._operands import as_tensor, check_shape, optional_tensor
from .activations import softmax
from .dense import _input_array
from .losses import binary_cross_entropy_with_logits
from .module import Module
from .ntm_addressing import (
    check_shifts,
    content_weighting_backward,
    content_weighting_forward,
    interpolate_backward,
    interpolate_forward,
    read_backward,
    read_forward,
    sharpen_backward,
    sharpen_forward,
    shift_backward,
    shift_forward,
    shift_indices,
    sums_to_one,
    write_backward,
    write_forward,
)
from .parameter import Parameter

CONTROLLERS = ("lstm", "dense")


def head_layout(memory_width, read_heads, write_heads, n_shifts):
    """Slices of the head-parameter vector: keys, beta, g, gamma, s (every head; write heads
    first), then erase and add (write heads). Returns (dict of slices, total size)."""
    heads = read_heads + write_heads
    sizes = [("key", heads * memory_width), ("beta", heads), ("g", heads), ("gamma", heads),
             ("s", heads * n_shifts), ("erase", write_heads * memory_width),
             ("add", write_heads * memory_width)]
    out, start = {}, 0
    for name, size in sizes:
        out[name] = slice(start, start + size)
        start += size
    return out, start


def _softplus(x):
    return np.logaddexp(0, x)


def _softmax_last(z):
    z = z - z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def _address(cache, key, beta, g, s, gamma, w_prev, memory, indices):
    """Content, interpolation, shift, sharpening: a head group's weighting ``(B, H, N)``."""
    wc, cache[0] = content_weighting_forward(key, beta, memory)
    wg, cache[1] = interpolate_forward(wc, g, w_prev)
    ws, cache[2] = shift_forward(wg, s, indices=indices)
    w, cache[3] = sharpen_forward(ws, gamma)
    return w


def _address_backward(grad, cache):
    """(dkey, dbeta, dg, ds, dgamma, dw_prev, dmemory) from d(loss)/dw."""
    dws, dgamma = sharpen_backward(grad, cache[3])
    dwg, ds = shift_backward(dws, cache[2])
    dwc, dg, dw_prev = interpolate_backward(dwg, cache[1])
    dkey, dbeta, dmem = content_weighting_backward(dwc, cache[0])
    return dkey, dbeta, dg, ds, dgamma, dw_prev, dmem


def _checked(x, W_x, W_h, b, W_p, b_p, W_o, b_o, memory0, read0, weighting0, shifts,
             read_heads, write_heads):
    """:func:`ntm`'s operands as tensors (arrays taken like ``x``) and its shifts as a
    tuple, after checking that they fit together; raises ValueError naming the argument."""
    owner = "ntm"
    x = as_tensor(x, owner, "x")
    if x.ndim != 3 or x.shape[1] < 1:
        raise ValueError(f"{owner}: x must be (batch, time >= 1, features); got shape "
                         f"{tuple(x.shape)}")
    R = checks.positive_int(owner, "read_heads", read_heads)
    Wn = checks.positive_int(owner, "write_heads", write_heads)
    names = ("W_x", "b", "W_p", "b_p", "W_o", "b_o", "memory0", "read0", "weighting0")
    W_x, b, W_p, b_p, W_o, b_o, memory0, read0, weighting0 = (
        as_tensor(v, owner, name, x) for name, v in zip(names, (
            W_x, b, W_p, b_p, W_o, b_o, memory0, read0, weighting0)))
    W_h = optional_tensor(W_h, owner, "W_h", x)
    for name, t in (("memory0", memory0), ("W_p", W_p), ("W_o", W_o)):
        if t.ndim != 2 or min(t.shape) < 1:
            raise ValueError(f"{owner}: {name} must be a non-empty 2-D array; got shape "
                             f"{tuple(t.shape)}")
    N, M = memory0.shape
    shifts = check_shifts(owner, shifts, N)
    C, n_out = W_p.shape[0], W_o.shape[1]
    G = 1 if W_h is None else 4
    _, P = head_layout(M, R, Wn, len(shifts))
    mem = f"N, M = {N}, {M} from memory0"
    for t, name, shape, meaning in (
            (W_x, "W_x", (x.shape[2] + R * M, G * C), f"(I + R*M, {G}*C); {mem}"),
            (W_h, "W_h", (C, 4 * C), "(C, 4*C)"),
            (b, "b", (G * C,), f"({G}*C,)"),
            (W_p, "W_p", (C, P), "(C, P), P from the head layout"),
            (b_p, "b_p", (P,), "(P,)"),
            (W_o, "W_o", (C + R * M, n_out), f"(C + R*M, O); {mem}"),
            (b_o, "b_o", (n_out,), "(O,)"),
            (read0, "read0", (R, M), f"(read_heads, M); {mem}"),
            (weighting0, "weighting0", (R + Wn, N), f"(read_heads + write_heads, N); {mem}")):
        check_shape(t, shape, owner, name, meaning)
    w0 = weighting0.data
    bad = ~(np.isfinite(w0) & (w0 >= 0))
    if bad.any():
        raise ValueError(f"{owner}: weighting0 must hold finite, non-negative weights (each "
                         f"row a distribution over the N locations); got {float(w0[bad][0])!r}")
    sums = w0.sum(axis=1, dtype=np.float64)
    if not np.all(sums_to_one(w0)):  # within float16's rounding for a float16 model
        raise ValueError(f"{owner}: weighting0's rows must each sum to 1 (a distribution over "
                         f"the N locations); got sums {np.round(sums, 4).tolist()}")
    return x, W_x, W_h, b, W_p, b_p, W_o, b_o, memory0, read0, weighting0, shifts


def ntm(x, W_x, W_h, b, W_p, b_p, W_o, b_o, memory0, read0, weighting0, *, shifts=(-1, 0, 1),
        read_heads=1, write_heads=1, trace=None):
    """A whole NTM sequence as one op.

    Parameters
    ----------
    x : Tensor, shape (batch, time, I)
    W_x : Tensor, shape (I + R*M, G*C)
        The controller's input weights (inputs, then the previous read vectors); G = 4
        for an LSTM (gate blocks i, f, g, o), 1 for a dense tanh controller.
    W_h : Tensor, shape (C, 4*C), or None
        The LSTM's recurrent weights; None selects the dense controller.
    b : Tensor, shape (G*C,)
    W_p, b_p : Tensor, shapes (C, P), (P,)
        The heads' parameters from h_t (layout: :func:`head_layout`).
    W_o, b_o : Tensor, shapes (C + R*M, O), (O,)
    memory0 : Tensor, shape (N, M)
    read0 : Tensor, shape (R, M)
    weighting0 : Tensor, shape (W + R, N)
        Each head's initial weighting (write heads first; rows sum to 1).
    shifts : sequence of int
    read_heads, write_heads : int
    trace : dict, optional
        Filled with the run's arrays (batch first): ``write_weightings`` (B, T, W, N),
        ``read_weightings`` (B, T, R, N), ``erase``, ``add`` (B, T, W, M),
        ``read_vectors`` (B, T, R, M), ``memory`` (B, T + 1, N, M).

    Returns
    -------
    Tensor, shape (batch, time, O)
        The output logits, in the dtype that ``x`` and the parameters promote to (as
        NumPy and the fused LSTM: a float64 model fed float32 inputs runs in float64).

    Raises
    ------
    ValueError
        For shapes that do not fit together (the sizes N, M come from ``memory0``,
        C from ``W_p``, O from ``W_o``), head counts below 1, bad shifts (see
        :func:`~rosenblatt.nn.ntm_addressing.check_shifts`), or initial weightings
        that are not distributions (non-negative, finite rows summing to 1).
    """
    x, W_x, W_h, b, W_p, b_p, W_o, b_o, memory0, read0, weighting0, shifts = _checked(
        x, W_x, W_h, b, W_p, b_p, W_o, b_o, memory0, read0, weighting0, shifts, read_heads,
        write_heads)
    xd = x.data
    B, T, n_in = xd.shape
    # promoted as NumPy (and the fused LSTM) would: a float64 model fed float32 inputs keeps
    # its memory, states and weightings in float64, not in the inputs' precision
    dtype = np.result_type(xd, W_x.data, W_p.data, W_o.data, memory0.data, read0.data,
                           weighting0.data)
    R, Wn = read_heads, write_heads
    Hd = R + Wn
    N, Mw = memory0.shape
    lstm = W_h is not None
    C = W_p.shape[0]
    S = len(shifts)
    layout, P = head_layout(Mw, R, Wn, S)
    indices = shift_indices(shifts, N)
    Wxd, bd, Wpd, bpd, Wod = W_x.data, b.data, W_p.data, b_p.data, W_o.data
    Wx_in, Wx_r = Wxd[:n_in], Wxd[n_in:]
    Whd = W_h.data if lstm else None

    xt = np.ascontiguousarray(xd.transpose(1, 0, 2))  # (T, B, I)
    # sizes written out, not -1: a batch of 0 has none to infer
    XP = (xt.reshape(T * B, n_in) @ Wx_in).reshape(T, B, Wx_in.shape[1])
    XP += bd
    mems = np.empty((T + 1, B, N, Mw), dtype=dtype)
    mems[0] = memory0.data
    Hs = np.zeros((T + 1, B, C), dtype=dtype)  # Hs[t + 1] = h_t; Hs[0] = h_0 = 0
    Rs = np.empty((T + 1, B, R, Mw), dtype=dtype)  # Rs[t + 1] = r_t
    Rs[0] = read0.data
    Ws = np.empty((T + 1, B, Hd, N), dtype=dtype)  # every head's weighting
    Ws[0] = weighting0.data
    E = np.empty((T, B, Wn, Mw), dtype=dtype)
    Aw = np.empty((T, B, Wn, Mw), dtype=dtype)
    c = np.zeros((B, C), dtype=dtype)
    steps = []
    for t in range(T):
        a = XP[t] + Rs[t].reshape(B, R * Mw) @ Wx_r
        if lstm:
            a += Hs[t] @ Whd
            i_g = sigmoid_probabilities(a[:, :C])
            f_g = sigmoid_probabilities(a[:, C:2 * C])
            g_g = np.tanh(a[:, 2 * C:3 * C])
            o_g = sigmoid_probabilities(a[:, 3 * C:])
            c_prev = c
            c = f_g * c_prev + i_g * g_g
            tc = np.tanh(c)
            h = o_g * tc
            ctrl = (i_g, f_g, g_g, o_g, c_prev, tc)
        else:
            h = np.tanh(a)
            ctrl = None
        Hs[t + 1] = h
        p = h @ Wpd
        p += bpd
        key = np.tanh(p[:, layout["key"]]).reshape(B, Hd, Mw)
        pb, pgam = p[:, layout["beta"]], p[:, layout["gamma"]]
        beta = _softplus(pb)
        gate = sigmoid_probabilities(p[:, layout["g"]])
        gamma = 1 + _softplus(pgam)
        s = _softmax_last(p[:, layout["s"]].reshape(B, Hd, S))
        E[t] = sigmoid_probabilities(p[:, layout["erase"]]).reshape(B, Wn, Mw)
        Aw[t] = np.tanh(p[:, layout["add"]]).reshape(B, Wn, Mw)
        wcache, rcache = [None] * 4, [None] * 4
        w_prev = Ws[t]
        ww = _address(wcache, key[:, :Wn], beta[:, :Wn], gate[:, :Wn], s[:, :Wn],
                      gamma[:, :Wn], w_prev[:, :Wn], mems[t], indices)
        mems[t + 1], write_cache = write_forward(mems[t], ww, E[t], Aw[t])
        wr = _address(rcache, key[:, Wn:], beta[:, Wn:], gate[:, Wn:], s[:, Wn:],
                      gamma[:, Wn:], w_prev[:, Wn:], mems[t + 1], indices)
        Rs[t + 1], read_cache = read_forward(wr, mems[t + 1])
        Ws[t + 1, :, :Wn] = ww
        Ws[t + 1, :, Wn:] = wr
        steps.append((ctrl, key, pb, gate, pgam, s, wcache, rcache, write_cache, read_cache))

    HR = np.concatenate([Hs[1:], Rs[1:].reshape(T, B, R * Mw)], axis=-1)  # (T, B, C + R*M)
    Y = HR.reshape(T * B, HR.shape[2]) @ Wod
    Y += b_o.data
    out = np.ascontiguousarray(Y.reshape(T, B, Wod.shape[1]).transpose(1, 0, 2))

    if trace is not None:
        trace.update(
            write_weightings=Ws[1:, :, :Wn].transpose(1, 0, 2, 3),
            read_weightings=Ws[1:, :, Wn:].transpose(1, 0, 2, 3),
            erase=E.transpose(1, 0, 2, 3), add=Aw.transpose(1, 0, 2, 3),
            read_vectors=Rs[1:].transpose(1, 0, 2, 3), memory=mems.transpose(1, 0, 2, 3))

    def backward(grad):
        dY = np.ascontiguousarray(grad.transpose(1, 0, 2)).reshape(T * B, grad.shape[-1])
        HR2 = HR.reshape(T * B, HR.shape[2])
        dHR = (dY @ Wod.T).reshape(T, B, HR.shape[2])
        dA = np.empty((T, B, XP.shape[-1]), dtype=dtype)
        dP = np.empty((T, B, P), dtype=dtype)
        dh_next = np.zeros((B, C), dtype=dtype)
        dc_next = np.zeros((B, C), dtype=dtype)
        dr_next = np.zeros((B, R, Mw), dtype=dtype)
        dM_next = np.zeros((B, N, Mw), dtype=dtype)
        dw_next = np.zeros((B, Hd, N), dtype=dtype)
        for t in range(T - 1, -1, -1):
            ctrl, key, pb, gate, pgam, s, wcache, rcache, write_cache, read_cache = steps[t]
            dr = dHR[t, :, C:].reshape(B, R, Mw) + dr_next
            dwr, dM = read_backward(dr, read_cache)
            dM += dM_next
            dwr += dw_next[:, Wn:]
            dk_r, dbeta_r, dg_r, ds_r, dgam_r, dwp_r, dMc = _address_backward(dwr, rcache)
            dM += dMc
            dM_prev, dww, de, dadd = write_backward(dM, write_cache)
            dww += dw_next[:, :Wn]
            dk_w, dbeta_w, dg_w, ds_w, dgam_w, dwp_w, dMc = _address_backward(dww, wcache)
            dM_prev += dMc
            dM_next = dM_prev
            dw_next = np.concatenate([dwp_w, dwp_r], axis=1)
            # the head parameters through their squashing functions
            dp = dP[t]
            dk = np.concatenate([dk_w, dk_r], axis=1)
            dp[:, layout["key"]] = (dk * (1 - key * key)).reshape(B, Hd * Mw)
            dp[:, layout["beta"]] = (np.concatenate([dbeta_w, dbeta_r], 1)
                                     * sigmoid_probabilities(pb))
            dp[:, layout["g"]] = np.concatenate([dg_w, dg_r], 1) * gate * (1 - gate)
            dp[:, layout["gamma"]] = (np.concatenate([dgam_w, dgam_r], 1)
                                      * sigmoid_probabilities(pgam))
            ds = np.concatenate([ds_w, ds_r], axis=1)
            dp[:, layout["s"]] = (s * (ds - (ds * s).sum(-1, keepdims=True))).reshape(B, Hd * S)
            e, av = E[t], Aw[t]
            dp[:, layout["erase"]] = (de * e * (1 - e)).reshape(B, Wn * Mw)
            dp[:, layout["add"]] = (dadd * (1 - av * av)).reshape(B, Wn * Mw)
            dh = dHR[t, :, :C] + dp @ Wpd.T
            if lstm:
                dh += dh_next
                i_g, f_g, g_g, o_g, c_prev, tc = ctrl
                dc = dh * o_g * (1 - tc * tc)
                dc += dc_next
                da = dA[t]
                da[:, :C] = dc * g_g * i_g * (1 - i_g)
                da[:, C:2 * C] = dc * c_prev * f_g * (1 - f_g)
                da[:, 2 * C:3 * C] = dc * i_g * (1 - g_g * g_g)
                da[:, 3 * C:] = dh * tc * o_g * (1 - o_g)
                dc_next = dc * f_g
                dh_next = da @ Whd.T
            else:
                h = Hs[t + 1]
                da = dA[t]
                np.multiply(dh, 1 - h * h, out=da)
            dr_next = (da @ Wx_r.T).reshape(B, R, Mw)

        dA2 = dA.reshape(T * B, dA.shape[2])
        gx = (dA2 @ Wx_in.T).reshape(T, B, n_in).transpose(1, 0, 2) if needs_grad(x) else None
        gWx = None
        if W_x.requires_grad:
            gWx = np.empty_like(Wxd)
            gWx[:n_in] = xt.reshape(T * B, n_in).T @ dA2
            gWx[n_in:] = Rs[:T].reshape(T * B, R * Mw).T @ dA2
        gWh = Hs[:T].reshape(T * B, C).T @ dA2 if lstm and W_h.requires_grad else None
        # The sums over the (T B) rows and the batch: float16 adds up in float32
        # (sum_to_shape), as the products above do in NumPy's float16 matmul.
        gb = sum_to_shape(dA2, dA2.shape[1:])
        dP2 = dP.reshape(T * B, P)
        gWp = Hs[1:].reshape(T * B, C).T @ dP2
        gbp = sum_to_shape(dP2, dP2.shape[1:])
        gWo = HR2.T @ dY
        gbo = sum_to_shape(dY, dY.shape[1:])
        return (gx, gWx, gWh, gb, gWp, gbp, gWo, gbo, sum_to_shape(dM_next, dM_next.shape[1:]),
                sum_to_shape(dr_next, dr_next.shape[1:]), sum_to_shape(dw_next, dw_next.shape[1:]))

    parents = (x, W_x, W_h, b, W_p, b_p, W_o, b_o, memory0, read0, weighting0)
    return make(out, parents, backward)


class NTM(Module):
    """A Neural Turing Machine: a controller with read and write heads on a memory matrix.

    Parameters
    ----------
    input_size, output_size : int
    controller : {"lstm", "dense"}, default "lstm"
        An LSTM, or a feed-forward tanh layer (the read vectors are then the only memory of
        the past).
    controller_size : int, default 100
    memory_size : (int, int), default (128, 20)
        N locations of M values.
    read_heads, write_heads : int, default 1
    shifts : sequence of int or int, default (-1, 0, 1)
        The allowed integer shifts (distinct, including 0, smaller than N in magnitude); an
        int k means -k..k.
    learn_initial : bool, default True
        Learn the initial memory M_0, read vectors r_0 and weightings w_0 (as softmax of
        learned logits). False: the documented constants M_0 = 1e-6, r_0 = 0 and w_0 a
        one-hot weighting on location 0.
    rng : numpy.random.Generator, optional
    dtype : default float32

    Attributes
    ----------
    trace : dict or None
        After each call, the run's weightings, erase/add vectors, read vectors and memory
        (see :func:`ntm`), batch first.

    Raises
    ------
    ValueError
        Memory sizes or head counts below 1, bad shifts, an unknown controller, or an input
        that is not (batch, time, input_size).
    TypeError
        When called on a tuple: a recurrent layer's ``(outputs, state)`` handed on without
        :class:`~rosenblatt.nn.SequenceOutputs` (in a Sequential).

    Notes
    -----
    Per step: (h_t, state) = controller([x_t, r_{t-1}]); each head's k, beta, g, s, gamma
    (and e, a for write heads) from h_t; w = sharpen(shift(interpolate(content(k, beta, M),
    g, w_{t-1}), s), gamma); M_t = M_{t-1} * (1 - w e) + w a; r_t = w M_t;
    y_t = [h_t, r_t] W_o + b_o.

    References
    ----------
    Graves, Wayne & Danihelka (2014), "Neural Turing Machines", arXiv:1410.5401.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> net = rb.nn.NTM(4, 3, controller_size=8, memory_size=(16, 5), rng=np.random.default_rng(0))
    >>> y, trace = net(rb.tensor(np.zeros((2, 7, 4))), return_trace=True)
    >>> y.shape, trace["write_weightings"].shape
    ((2, 7, 3), (2, 7, 1, 16))
    """

    @classmethod
    def state_shapes(cls, config):
        """The controller's ``W_x``, ``W_h`` (LSTM), ``b``; the heads' ``W_p``, ``b_p``; the
        output ``W_o``, ``b_o``; and the learned initial ``memory0``, ``read0``,
        ``weighting0``."""
        owner = "NTM"
        n_in = checks.positive_int(owner, "input_size", config["input_size"])
        n_out = checks.positive_int(owner, "output_size", config["output_size"])
        controller = checks.one_of(owner, "controller", config["controller"], CONTROLLERS)
        C = checks.positive_int(owner, "controller_size", config["controller_size"])
        try:
            n, m = config["memory_size"]
        except (TypeError, ValueError):
            raise ValueError(f"{owner}: memory_size must be a pair (N locations, M values each); "
                             f"got {config['memory_size']!r}") from None
        n = checks.positive_int(owner, "memory_size[0] (locations)", n)
        m = checks.positive_int(owner, "memory_size[1] (location size)", m)
        R = checks.positive_int(owner, "read_heads", config["read_heads"])
        Wn = checks.positive_int(owner, "write_heads", config["write_heads"])
        shifts = check_shifts(owner, config["shifts"], n)
        gates = 4 if controller == "lstm" else 1
        _, P = head_layout(m, R, Wn, len(shifts))
        shapes = {"W_x": (n_in + R * m, gates * C)}
        if controller == "lstm":
            shapes["W_h"] = (C, gates * C)
        shapes.update(b=(gates * C,), W_p=(C, P), b_p=(P,), W_o=(C + R * m, n_out), b_o=(n_out,))
        if config["learn_initial"]:
            shapes.update(memory0=(n, m), read0=(R, m), weighting0=(R + Wn, n))
        return shapes

    def __init__(self, input_size, output_size, controller="lstm", controller_size=100,
                 memory_size=(128, 20), read_heads=1, write_heads=1, shifts=(-1, 0, 1),
                 learn_initial=True, rng=None, dtype=np.float32):
        owner = "NTM"
        self.input_size = checks.positive_int(owner, "input_size", input_size)
        self.output_size = checks.positive_int(owner, "output_size", output_size)
        self.controller = checks.one_of(owner, "controller", controller, CONTROLLERS)
        self.controller_size = checks.positive_int(owner, "controller_size", controller_size)
        try:
            n, m = memory_size
        except (TypeError, ValueError):
            raise ValueError(f"{owner}: memory_size must be a pair (N locations, M values each); "
                             f"got {memory_size!r}") from None
        n = checks.positive_int(owner, "memory_size[0] (locations)", n)
        m = checks.positive_int(owner, "memory_size[1] (location size)", m)
        self.memory_size = (n, m)
        self.read_heads = checks.positive_int(owner, "read_heads", read_heads)
        self.write_heads = checks.positive_int(owner, "write_heads", write_heads)
        self.shifts = check_shifts(owner, shifts, n)
        self.learn_initial = checks.boolean(owner, "learn_initial", learn_initial)
        rng = resolve_rng(rng)
        C, R, Wn = self.controller_size, self.read_heads, self.write_heads
        heads = R + Wn
        gates = 4 if controller == "lstm" else 1
        n_ctrl_in = self.input_size + R * m
        glorot = initializers.glorot_uniform
        self.W_x = Parameter(glorot((n_ctrl_in, gates * C), rng=rng, dtype=dtype), name="W_x")
        self.W_h = (Parameter(glorot((C, gates * C), rng=rng, dtype=dtype), name="W_h")
                    if controller == "lstm" else None)
        self.b = Parameter(np.zeros(gates * C, dtype=dtype), name="b")
        _, P = head_layout(m, R, Wn, len(self.shifts))
        self.W_p = Parameter(glorot((C, P), rng=rng, dtype=dtype), name="W_p")
        self.b_p = Parameter(np.zeros(P, dtype=dtype), name="b_p")
        self.W_o = Parameter(glorot((C + R * m, self.output_size), rng=rng, dtype=dtype),
                             name="W_o")
        self.b_o = Parameter(np.zeros(self.output_size, dtype=dtype), name="b_o")
        if self.learn_initial:
            self.memory0 = Parameter(rng.uniform(-0.1, 0.1, (n, m)).astype(dtype), name="memory0")
            self.read0 = Parameter(rng.uniform(-0.1, 0.1, (R, m)).astype(dtype), name="read0")
            self.weighting0 = Parameter(np.zeros((heads, n), dtype=dtype), name="weighting0")
        else:
            self.memory0 = self.read0 = self.weighting0 = None
        self.trace = None

    def _initial(self, dtype):
        if self.learn_initial:
            return self.memory0, self.read0, softmax(self.weighting0, axis=-1)
        n, m = self.memory_size
        w0 = np.zeros((self.read_heads + self.write_heads, n), dtype=dtype)
        w0[:, 0] = 1
        return (Tensor(np.full((n, m), 1e-6, dtype=dtype)),
                Tensor(np.zeros((self.read_heads, m), dtype=dtype)), Tensor(w0))

    def forward(self, x, return_trace=False):
        """Logits ``(batch, time, output_size)`` for inputs ``(batch, time, input_size)``;
        with ``return_trace=True``, ``(logits, trace)`` (``return_trace`` must be True or
        False: a TypeError otherwise, so that ``"False"`` is not taken for True)."""
        return_trace = checks.boolean("NTM", "return_trace", return_trace)
        if isinstance(x, tuple):  # a recurrent layer's (outputs, state), handed on as it is
            _input_array(x, "NTM")  # raises the TypeError that says to add SequenceOutputs
        if not isinstance(x, Tensor):
            x = Tensor(np.asarray(x, dtype=self.W_x.dtype))
        if x.ndim != 3 or x.shape[2] != self.input_size or x.shape[1] < 1:
            raise ValueError(f"NTM: input must be (batch, time >= 1, {self.input_size}); "
                             f"got shape {x.shape}")
        memory0, read0, weighting0 = self._initial(self.W_x.dtype)
        trace = {}
        out = ntm(x, self.W_x, self.W_h, self.b, self.W_p, self.b_p, self.W_o, self.b_o,
                  memory0, read0, weighting0, shifts=self.shifts, read_heads=self.read_heads,
                  write_heads=self.write_heads, trace=trace)
        self.trace = trace
        return (out, trace) if return_trace else out

    def extra_repr(self):
        return (f"{self.input_size}, {self.output_size}, controller={self.controller!r}, "
                f"controller_size={self.controller_size}, memory_size={self.memory_size}, "
                f"read_heads={self.read_heads}, write_heads={self.write_heads}, "
                f"shifts={self.shifts}")


def masked_bce_with_logits(logits, target):
    """Sigmoid cross-entropy averaged over the scored entries: those whose target is >= 0.

    The NTM tasks score only some steps of each sequence;
    ``rb.datasets.masked_targets(Y, mask)`` writes -1 on the others, so that
    this loss (and ``rb.datasets.bit_error_metric``) can be handed to ``rb.fit``
    with one target array.

    Parameters
    ----------
    logits : Tensor, shape (batch, time, bits)
    target : ndarray, same shape; bits in {0, 1}, -1 where not scored

    Returns
    -------
    Tensor, a scalar

    Raises
    ------
    ValueError
        For a target outside [0, 1] that is not -1 (or NaN).

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> loss = rb.nn.masked_bce_with_logits(rb.tensor(np.zeros((1, 2, 1), np.float32)),
    ...                                     np.array([[[1.0], [-1.0]]], np.float32))
    >>> round(loss.item(), 4)   # ln 2, from the one scored entry
    0.6931
    """
    td = np.asarray(getattr(target, "data", target))
    bad = (td != -1) & ~((td >= 0) & (td <= 1))  # NaN is bad too
    if bad.any():
        raise ValueError(f"masked_bce_with_logits: targets must be in [0, 1] or -1 (not "
                         f"scored); got {float(td[bad][0])!r}")
    scored = (td >= 0).astype(logits.dtype)
    per = binary_cross_entropy_with_logits(logits, np.clip(td, 0, 1).astype(logits.dtype),
                                           reduction="none")
    return (per * scored).sum() * (1.0 / max(float(scored.sum()), 1.0))


def _scored_entries(**options):
    """``masked_bce_with_logits.mean_weights`` (see ``rb.nn.losses.mean_normaliser``): its
    mean is over the scored entries, so data-parallel parts and an epoch's batches are
    weighted by how many they hold, not by their number of sequences."""
    def count(target):
        return float(np.count_nonzero(np.asarray(getattr(target, "data", target)) >= 0))
    return count


masked_bce_with_logits.mean_weights = _scored_entries
