"""The addressing and memory steps of a Neural Turing Machine (notes: "Neural Turing Machines",
"Content-based addressing", "Location-based addressing"; Graves, Wayne & Danihelka 2014).

Every step is written twice over the same arithmetic: a pair of plain NumPy
functions ``<step>_forward(...) -> (out, cache)`` and
``<step>_backward(grad, cache) -> input gradients`` (used by the fused
whole-sequence op :func:`rosenblatt.nn.ntm.ntm`, which runs them inside one
time loop), and an autodiff op ``<step>(...)`` that records the pair as one
graph node. All are batched: a batch dimension B, and H heads addressed at
once; memory holds N locations of size M.

Forward (the notes' equations) and backward, with K the cosine similarity:

content weighting
    w^c(i) = exp(beta K(k, M(i))) / sum_j exp(beta K(k, M(j))),
    K(k, m) = k.m / (|k| |m|),  |x| = sqrt(x.x + eps)  (eps = 1e-8 keeps a zero row finite).
    Backward: dz = w^c (dw^c - sum_j dw^c(j) w^c(j)), z = beta K; dbeta = sum_i dz(i) K(i);
    dK = beta dz; d(k.m) = dK / (|k||m|); d|k| = -sum_i dK(i) K(i) / |k| (likewise |m|).
interpolation
    w^g = g w^c + (1 - g) w_{t-1};  dg = sum_i dw^g(i) (w^c(i) - w_{t-1}(i)).
shift (circular convolution over the allowed integer shifts sh_0 .. sh_{S-1})
    w~(i) = sum_j w^g(j) s(i - j) = sum_k s_k w^g(i - sh_k mod N);
    dw^g(j) = sum_k s_k dw~(j + sh_k mod N);  ds_k = sum_i dw~(i) w^g(i - sh_k mod N).
sharpening
    w(i) = w~(i)^gamma / sum_j w~(j)^gamma, computed as softmax(gamma log w~) so that a
    large gamma cannot underflow every term; with dz as above, dgamma = sum_i dz(i) log w~(i)
    and dw~(i) = gamma dz(i) / w~(i) (both 0 where w~(i) = 0, since then w(i) = dz(i) = 0).
read
    r = sum_i w(i) M(i) = w M;  dw = dr M^T,  dM = w^T dr.
write (erase, then add; several write heads erase multiplicatively and add additively)
    M~(i) = M_{t-1}(i) prod_h [1 - w_h(i) e_h],  M(i) = M~(i) + sum_h w_h(i) a_h.
    With P = prod_h (1 - w_h e_h^T) and G_h = dM * M_{t-1} * prod_{h' != h}(1 - w_h' e_h'^T):
    dM_{t-1} = dM * P;  dw_h = -G_h e_h + dM a_h;  de_h = -w_h^T G_h;  da_h = w_h^T dM.

The notes' statement about the write holds exactly: with w(i) = 0 or e = 0
the location is unchanged; with w(i) = 1 and e all ones it is erased.
"""

import numpy as np

from ..autodiff.tensor import Tensor, _make as make

COSINE_EPS = 1e-8


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def _softmax_backward(grad, w):
    """d(loss)/dz for w = softmax(z) along the last axis."""
    return w * (grad - (grad * w).sum(axis=-1, keepdims=True))


# -- content weighting ------------------------------------------------------------------


def content_weighting_forward(key, beta, memory, eps=COSINE_EPS):
    """w^c for keys ``(B, H, M)``, strengths ``(B, H)`` and memory ``(B, N, M)``: ``(B, H, N)``.

    Half precision is computed in float32 and w^c returned in float16: there eps (1e-8) and
    the squared norm of a small row both round to 0, and |m| = 0 would make K = 0 / 0."""
    half = None
    if key.dtype.itemsize < 4 or memory.dtype.itemsize < 4:
        half = (key.dtype, beta.dtype, memory.dtype, np.result_type(key, beta, memory))
        key, beta, memory = (a.astype(np.float32) for a in (key, beta, memory))
    dot = np.matmul(key, memory.transpose(0, 2, 1))  # (B, H, N)
    # einsum, not (x * x).sum(-1): NumPy's reduction over a short last axis is ~10x slower
    nk = np.sqrt(np.einsum("bhm,bhm->bh", key, key) + eps)[..., None]  # (B, H, 1)
    nm = np.sqrt(np.einsum("bnm,bnm->bn", memory, memory) + eps)[:, None, :]  # (B, 1, N)
    K = dot / (nk * nm)
    w = _softmax(beta[..., None] * K)
    cache = (key, beta, memory, nk, nm, K, w, half)
    return (w if half is None else w.astype(half[3])), cache


def content_weighting_backward(grad, cache):
    """(dkey, dbeta, dmemory) from d(loss)/dw^c (in the inputs' dtypes)."""
    key, beta, memory, nk, nm, K, w, half = cache
    if half is not None:
        grad = grad.astype(np.float32)
    dz = _softmax_backward(grad, w)
    dbeta = (dz * K).sum(axis=-1)
    dK = dz * beta[..., None]
    ddot = dK / (nk * nm)
    dKK = dK * K
    dkey = np.matmul(ddot, memory)
    dkey -= dKK.sum(axis=-1, keepdims=True) / (nk * nk) * key
    dmem = np.einsum("bhn,bhm->bnm", ddot, key)  # outer products: faster than matmul's K=1
    dmem -= (dKK.sum(axis=1) / (nm[:, 0, :] * nm[:, 0, :]))[..., None] * memory
    if half is not None:
        return dkey.astype(half[0]), dbeta.astype(half[1]), dmem.astype(half[2])
    return dkey, dbeta, dmem


# -- interpolation ----------------------------------------------------------------------


def interpolate_forward(w_content, g, w_prev):
    """w^g = g w^c + (1 - g) w_{t-1}; ``g`` is ``(B, H)``, the weightings ``(B, H, N)``."""
    gg = g[..., None]
    return gg * w_content + (1 - gg) * w_prev, (w_content, gg, w_prev)


def interpolate_backward(grad, cache):
    """(dw_content, dg, dw_prev)."""
    w_content, gg, w_prev = cache
    return gg * grad, (grad * (w_content - w_prev)).sum(axis=-1), (1 - gg) * grad


# -- shift ------------------------------------------------------------------------------


def shift_indices(shifts, n):
    """``(gather, scatter)`` index arrays ``(S, N)``: gather[k, i] = (i - sh_k) mod N, and its
    inverse scatter[k, j] = (j + sh_k) mod N."""
    sh = np.asarray(shifts, dtype=np.int64)[:, None]
    i = np.arange(n)[None, :]
    return (i - sh) % n, (i + sh) % n


def shift_forward(w_gated, s, shifts=None, indices=None):
    """w~(i) = sum_k s_k w^g(i - sh_k): ``w_gated`` ``(B, H, N)``, ``s`` ``(B, H, S)``."""
    if indices is None:
        indices = shift_indices(shifts, w_gated.shape[-1])
    gather, scatter = indices
    rolled = w_gated[..., gather]  # (B, H, S, N): rolled[..., k, i] = w^g(i - sh_k)
    out = np.matmul(s[..., None, :], rolled)[..., 0, :]
    return out, (s, rolled, scatter)


def shift_backward(grad, cache):
    """(dw_gated, ds)."""
    s, rolled, scatter = cache
    dw = np.matmul(s[..., None, :], grad[..., scatter])[..., 0, :]
    ds = np.matmul(rolled, grad[..., None])[..., 0]
    return dw, ds


# -- sharpening -------------------------------------------------------------------------


def sharpen_forward(w_shifted, gamma):
    """w(i) = w~(i)^gamma / sum_j w~(j)^gamma, ``gamma`` ``(B, H)`` >= 1."""
    with np.errstate(divide="ignore"):
        logw = np.log(w_shifted)
    w = _softmax(gamma[..., None] * logw)
    return w, (w_shifted, gamma, logw, w)


def sharpen_backward(grad, cache):
    """(dw_shifted, dgamma)."""
    w_shifted, gamma, logw, w = cache
    dz = _softmax_backward(grad, w)
    zero = w_shifted <= 0
    if zero.any():  # there w = 0 and dz = 0: the limits of the two products are 0
        logw = np.where(zero, 0, logw)
        w_shifted = np.where(zero, 1, w_shifted)
    dgamma = (dz * logw).sum(axis=-1)
    return dz * gamma[..., None] / w_shifted, dgamma


# -- read and write ---------------------------------------------------------------------


def read_forward(w, memory):
    """r = sum_i w(i) M(i): ``w`` ``(B, R, N)``, memory ``(B, N, M)`` -> ``(B, R, M)``."""
    return np.matmul(w, memory), (w, memory)


def read_backward(grad, cache):
    """(dw, dmemory)."""
    w, memory = cache
    return np.matmul(grad, memory.transpose(0, 2, 1)), np.einsum("brn,brm->bnm", w, grad)


def write_forward(memory, w, erase, add):
    """M_t from M_{t-1} ``(B, N, M)``, weightings ``(B, W, N)``, erase and add ``(B, W, M)``."""
    factors = 1 - w[..., :, None] * erase[..., None, :]  # (B, W, N, M)
    keep = factors[:, 0] if w.shape[1] == 1 else factors.prod(axis=1)
    out = memory * keep
    out += np.einsum("bwn,bwm->bnm", w, add)
    return out, (memory, w, erase, add, factors, keep)


def write_backward(grad, cache):
    """(dmemory, dw, derase, dadd)."""
    memory, w, erase, add, factors, keep = cache
    heads = w.shape[1]
    dmem = grad * keep
    dadd = np.matmul(w, grad)
    dw = np.matmul(add, grad.transpose(0, 2, 1))
    gm = grad * memory  # dE/d(keep)
    if heads == 1:
        G = gm[:, None]
    else:
        G = np.empty_like(factors)
        for h in range(heads):  # dE/d(factor_h) = gm * the other heads' factors
            G[:, h] = gm
            for other in range(heads):
                if other != h:
                    G[:, h] *= factors[:, other]
    dw -= np.einsum("bwnm,bwm->bwn", G, erase)
    derase = -np.einsum("bwn,bwnm->bwm", w, G)
    return dmem, dw, derase, dadd


# -- autodiff ops -----------------------------------------------------------------------


def _arrays(owner, names, values):
    out = []
    for name, value in zip(names, values):
        if not isinstance(value, Tensor):
            raise TypeError(f"{owner}: {name} must be a Tensor; got {type(value).__name__}")
        out.append(value.data)
    return out


def _check_shape(owner, name, array, shape):
    if array.shape != tuple(shape):
        raise ValueError(f"{owner}: {name} must have shape {tuple(shape)}; got {array.shape}")


def _grads(parents, grads):
    return tuple(g if p.requires_grad else None for p, g in zip(parents, grads))


def sums_to_one(rows):
    """Whether each row (last axis) sums to 1 within its precision: 1e-4, or two ulps of 1 for
    float16, whose rounded softmax rows miss 1 by up to half an ulp (the sum is taken in
    float64, not in float16, which would add its own rounding)."""
    tol = 1e-4
    if rows.dtype.kind == "f":
        tol = max(tol, 2 * float(np.finfo(rows.dtype).eps))
    return np.abs(rows.sum(axis=-1, dtype=np.float64) - 1) <= tol


def _check_locations(owner, name, array, axis):
    """Refuse a memory of zero locations (every step reduces over them)."""
    if array.shape[axis] == 0:
        raise ValueError(f"{owner}: memory must hold at least one location; got {name} of "
                         f"shape {array.shape}")


def content_weighting(key, beta, memory):
    """Content-based addressing: a softmax over locations of beta times the cosine similarity.

    Parameters
    ----------
    key : Tensor, shape (batch, heads, M)
    beta : Tensor, shape (batch, heads)
        Key strengths, > 0.
    memory : Tensor, shape (batch, N, M)

    Returns
    -------
    Tensor, shape (batch, heads, N)
        w^c, each row summing to 1.

    Raises
    ------
    ValueError
        For mismatched shapes, no memory locations, or a beta that is not > 0 and finite.

    Notes
    -----
    w^c(i) = exp(beta K(k, M(i))) / sum_j exp(beta K(k, M(j))) with
    K(k, m) = k.m / (|k| |m|), |x| = sqrt(x.x + 1e-8).

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> from rosenblatt.nn.ntm_addressing import content_weighting
    >>> mem = rb.tensor(np.eye(3, dtype=np.float32)[None])  # 3 orthogonal locations
    >>> w = content_weighting(rb.tensor([[[0.0, 1.0, 0.0]]]), rb.tensor([[50.0]]), mem)
    >>> np.round(w.data, 3)
    array([[[0., 1., 0.]]], dtype=float32)
    """
    k, b, m = _arrays("content_weighting", ("key", "beta", "memory"), (key, beta, memory))
    if k.ndim != 3 or m.ndim != 3 or k.shape[0] != m.shape[0] or k.shape[2] != m.shape[2]:
        raise ValueError(f"content_weighting: key (batch, heads, M) and memory (batch, N, M) "
                         f"must agree; got {k.shape} and {m.shape}")
    _check_locations("content_weighting", "memory", m, 1)
    for name, array in (("key", k), ("memory", m)):
        if not np.isfinite(array).all():
            raise ValueError(f"content_weighting: {name} holds NaN or infinite values")
    _check_shape("content_weighting", "beta", b, k.shape[:2])
    ok = np.isfinite(b) & (b > 0)  # inf gives inf * 0 = NaN in the softmax; NaN fails both
    if not np.all(ok):
        raise ValueError(f"content_weighting: the key strength beta must be > 0 and finite; "
                         f"got {float(b[~ok][0])!r}")
    out, cache = content_weighting_forward(k, b, m)
    parents = (key, beta, memory)
    return make(out, parents, lambda g: _grads(parents, content_weighting_backward(g, cache)))


def interpolate(w_content, g, w_prev):
    """The interpolation gate: w^g = g w^c + (1 - g) w_{t-1}, with g in [0, 1].

    Parameters
    ----------
    w_content, w_prev : Tensor, shape (batch, heads, N)
    g : Tensor, shape (batch, heads)

    Returns
    -------
    Tensor, shape (batch, heads, N)

    Examples
    --------
    >>> import rosenblatt as rb
    >>> from rosenblatt.nn.ntm_addressing import interpolate
    >>> interpolate(rb.tensor([[[1.0, 0.0]]]), rb.tensor([[0.25]]), rb.tensor([[[0.0, 1.0]]])).data
    array([[[0.25, 0.75]]], dtype=float32)
    """
    wc, gd, wp = _arrays("interpolate", ("w_content", "g", "w_prev"), (w_content, g, w_prev))
    _check_shape("interpolate", "w_prev", wp, wc.shape)
    _check_shape("interpolate", "g", gd, wc.shape[:2])
    if not np.all((gd >= 0) & (gd <= 1)):
        raise ValueError("interpolate: the gate g must lie in [0, 1]")
    out, cache = interpolate_forward(wc, gd, wp)
    parents = (w_content, g, w_prev)
    return make(out, parents, lambda gr: _grads(parents, interpolate_backward(gr, cache)))


def check_shifts(owner, shifts, n=None):
    """Validate allowed integer shifts: distinct integers including 0, each |shift| < N.

    An int ``k`` means the symmetric range ``-k .. k``. Returns a tuple of ints.
    """
    if isinstance(shifts, (int, np.integer)) and not isinstance(shifts, bool):
        if shifts < 0:
            raise ValueError(f"{owner}: shifts as an int k means -k..k and must be >= 0; "
                             f"got {shifts}")
        shifts = tuple(range(-int(shifts), int(shifts) + 1))
    try:
        values = tuple(shifts)
    except TypeError:
        raise TypeError(f"{owner}: shifts must be a sequence of integers such as (-1, 0, 1) or "
                        f"an int k for -k..k; got {type(shifts).__name__}") from None
    if not values or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                             for v in values):
        raise ValueError(f"{owner}: shifts must be a non-empty sequence of integers; "
                         f"got {shifts!r}")
    values = tuple(int(v) for v in values)
    if len(set(values)) != len(values):
        raise ValueError(f"{owner}: shifts must be distinct; got {values}")
    if 0 not in values:
        raise ValueError(f"{owner}: shifts must include 0 (staying put); got {values}")
    if n is not None and any(abs(v) >= n for v in values):
        raise ValueError(f"{owner}: every shift must be smaller than the {n} memory locations "
                         f"in magnitude; got {values}")
    return values


def shift(w_gated, s, shifts=(-1, 0, 1)):
    """The rotational shift: circular convolution of w^g with the shift weighting s.

    Parameters
    ----------
    w_gated : Tensor, shape (batch, heads, N)
    s : Tensor, shape (batch, heads, len(shifts))
        A distribution over the allowed shifts (in the order of ``shifts``).
    shifts : sequence of int, default (-1, 0, 1)
        Distinct integers including 0, each smaller than N in magnitude.

    Returns
    -------
    Tensor, shape (batch, heads, N)
        w~(i) = sum_j w^g(j) s(i - j) (indices mod N).

    Raises
    ------
    ValueError
        For mismatched shapes, no memory locations, or an ``s`` that is not a
        distribution (a negative entry, or a row not summing to 1 within 1e-4; float16:
        within 2 ulps, 0.002).

    Examples
    --------
    >>> import rosenblatt as rb
    >>> from rosenblatt.nn.ntm_addressing import shift
    >>> shift(rb.tensor([[[1.0, 0.0, 0.0, 0.0]]]), rb.tensor([[[0.0, 0.0, 1.0]]])).data  # +1
    array([[[0., 1., 0., 0.]]], dtype=float32)
    """
    wg, sd = _arrays("shift", ("w_gated", "s"), (w_gated, s))
    if wg.ndim != 3:
        raise ValueError(f"shift: w_gated must be (batch, heads, N); got {wg.shape}")
    _check_locations("shift", "w_gated", wg, 2)
    shifts = check_shifts("shift", shifts, wg.shape[-1])
    _check_shape("shift", "s", sd, wg.shape[:2] + (len(shifts),))
    # a distribution: entries >= 0 summing to 1 (to float32 rounding: a softmax's output)
    rows = sd.reshape(-1, sd.shape[-1])
    bad = ~(np.all(rows >= 0, axis=1) & sums_to_one(rows))
    if bad.any():
        raise ValueError(f"shift: s must be a distribution over the shifts {shifts} (entries "
                         f">= 0, each row summing to 1); got the row {rows[bad][0].tolist()}")
    out, cache = shift_forward(wg, sd, shifts)
    parents = (w_gated, s)
    return make(out, parents, lambda g: _grads(parents, shift_backward(g, cache)))


def sharpen(w_shifted, gamma):
    """Sharpening: w(i) = w~(i)^gamma / sum_j w~(j)^gamma, gamma >= 1.

    Parameters
    ----------
    w_shifted : Tensor, shape (batch, heads, N), entries >= 0
    gamma : Tensor, shape (batch, heads)

    Returns
    -------
    Tensor, shape (batch, heads, N)

    Raises
    ------
    ValueError
        For a gamma below 1 or infinite, no memory locations, or a weighting row that is not
        finite, holds a negative weight or has no mass (all zeros).

    Examples
    --------
    >>> import rosenblatt as rb
    >>> from rosenblatt.nn.ntm_addressing import sharpen
    >>> w = sharpen(rb.tensor([[[0.25, 0.75]]]), rb.tensor([[2.0]]))
    >>> w.data.round(4)
    array([[[0.1, 0.9]]], dtype=float32)
    """
    ws, gd = _arrays("sharpen", ("w_shifted", "gamma"), (w_shifted, gamma))
    if ws.ndim != 3:
        raise ValueError(f"sharpen: w_shifted must be (batch, heads, N); got {ws.shape}")
    _check_shape("sharpen", "gamma", gd, ws.shape[:2])
    ok = np.isfinite(gd) & (gd >= 1)  # inf gives 0 ** inf / 0 = NaN weightings
    if not np.all(ok):
        raise ValueError(f"sharpen: gamma must be >= 1 and finite; got "
                         f"{float(gd[~ok][0])!r}")
    _check_locations("sharpen", "w_shifted", ws, 2)
    if not np.isfinite(ws).all():
        raise ValueError("sharpen: the weighting holds NaN or infinite values")
    if np.any(ws < 0):
        raise ValueError("sharpen: the weighting must be non-negative")
    if not np.all(ws.sum(axis=-1) > 0):
        raise ValueError("sharpen: each weighting row must have positive mass; got a row of "
                         "zeros")
    out, cache = sharpen_forward(ws, gd)
    parents = (w_shifted, gamma)
    return make(out, parents, lambda g: _grads(parents, sharpen_backward(g, cache)))


def read(w, memory):
    """The read vector r = sum_i w(i) M(i) of each read head.

    Parameters
    ----------
    w : Tensor, shape (batch, heads, N)
    memory : Tensor, shape (batch, N, M)

    Returns
    -------
    Tensor, shape (batch, heads, M)

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> from rosenblatt.nn.ntm_addressing import read
    >>> read(rb.tensor([[[0.5, 0.5]]]), rb.tensor([[[2.0, 0.0], [0.0, 4.0]]])).data
    array([[[1., 2.]]], dtype=float32)
    """
    wd, m = _arrays("read", ("w", "memory"), (w, memory))
    if wd.ndim != 3 or m.ndim != 3 or wd.shape[0] != m.shape[0] or wd.shape[2] != m.shape[1]:
        raise ValueError(f"read: w (batch, heads, N) and memory (batch, N, M) must agree; got "
                         f"{wd.shape} and {m.shape}")
    _check_locations("read", "memory", m, 1)
    out, cache = read_forward(wd, m)
    parents = (w, memory)
    return make(out, parents, lambda g: _grads(parents, read_backward(g, cache)))


def write(memory, w, erase, add):
    """The write: erase, then add. M~(i) = M_{t-1}(i)[1 - w(i) e], M(i) = M~(i) + w(i) a.

    Parameters
    ----------
    memory : Tensor, shape (batch, N, M)
        M_{t-1}.
    w : Tensor, shape (batch, heads, N)
        The write heads' weightings.
    erase : Tensor, shape (batch, heads, M)
        Erase vectors e, entries in [0, 1].
    add : Tensor, shape (batch, heads, M)
        Add vectors a.

    Returns
    -------
    Tensor, shape (batch, N, M)
        M_t. With several write heads the erasures multiply and the additions add.

    Raises
    ------
    ValueError
        For mismatched shapes, no memory locations, or erase entries outside [0, 1].

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> from rosenblatt.nn.ntm_addressing import write
    >>> mem = rb.tensor([[[1.0, 1.0], [2.0, 2.0]]])
    >>> write(mem, rb.tensor([[[1.0, 0.0]]]), rb.tensor([[[1.0, 1.0]]]),
    ...       rb.tensor([[[5.0, 6.0]]])).data
    array([[[5., 6.],
            [2., 2.]]], dtype=float32)
    """
    m, wd, e, a = _arrays("write", ("memory", "w", "erase", "add"), (memory, w, erase, add))
    if m.ndim != 3 or wd.ndim != 3 or wd.shape[0] != m.shape[0] or wd.shape[2] != m.shape[1]:
        raise ValueError(f"write: memory (batch, N, M) and w (batch, heads, N) must agree; got "
                         f"{m.shape} and {wd.shape}")
    _check_shape("write", "erase", e, wd.shape[:2] + m.shape[2:])
    _check_shape("write", "add", a, wd.shape[:2] + m.shape[2:])
    _check_locations("write", "memory", m, 1)
    if not np.all((e >= 0) & (e <= 1)):
        bad = e[~((e >= 0) & (e <= 1))][0]
        raise ValueError(f"write: the erase entries must lie in [0, 1]; got {float(bad)!r}")
    out, cache = write_forward(m, wd, e, a)
    parents = (memory, w, erase, add)
    return make(out, parents, lambda g: _grads(parents, write_backward(g, cache)))
