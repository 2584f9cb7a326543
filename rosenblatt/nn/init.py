"""Weight initialisation (notes: "Weight initialization").

Every initializer is ``fn(shape, *, fan_in=None, fan_out=None, rng=None,
dtype=float32) -> ndarray``. Fans default to a dense weight of shape
``(in_features, out_features)``; layers with other layouts (convolutions)
pass them explicitly. By name: ``get("he")``.

A layer's ``init=`` also takes a callable of this signature, and ``dtype`` is
optional in it: ``fn(shape, fan_in=None, fan_out=None, rng=None)`` works too,
its array then cast to the layer's dtype. The layer gets a copy of the array, never
the array itself (:func:`get`).

The notes' argument: with N(0, 1) weights a unit with d inputs has a net input
NET = W.X + b whose standard deviation is about sqrt(d + 1), so it saturates;
scaling by 1/sqrt(fan_in) brings it back to about 1.
"""

import inspect

import numpy as np

from ..checks import positive_int
from ..randomness import resolve_rng


def _fans(where, shape, fan_in, fan_out):
    """``(fan_in, fan_out)``: as given, else a dense ``(in, out)`` weight's; both must be
    positive integers (a fan of 0 would give inf or NaN weights, a negative one NaN)."""
    if fan_in is None:
        fan_in = shape[0] if len(shape) >= 1 else 1
    if fan_out is None:
        fan_out = shape[1] if len(shape) >= 2 else shape[0] if shape else 1
    return positive_int(where, "fan_in", fan_in), positive_int(where, "fan_out", fan_out)


def _float_dtype(where, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{where}: dtype must be a floating type (float32 or float64); "
                        f"got {dtype}")
    return dtype


def _check_std(where, std):
    if isinstance(std, bool) or not isinstance(std, (int, float, np.number)) \
            or not np.isfinite(std) or std < 0:
        raise ValueError(f"{where}: std must be a finite number >= 0; got {std!r}")


def zeros(shape, *, fan_in=None, fan_out=None, rng=None, dtype=np.float32):
    """All zeros (the notes: every hidden unit then stays identical)."""
    dtype = _float_dtype("zeros", dtype)
    return np.zeros(shape, dtype=dtype)


def constant(shape, value=0.0, *, fan_in=None, fan_out=None, rng=None, dtype=np.float32):
    """Every entry ``value``."""
    dtype = _float_dtype("constant", dtype)
    return np.full(shape, value, dtype=dtype)


def normal(shape, std=0.001, *, fan_in=None, fan_out=None, rng=None, dtype=np.float32):
    """N(0, std^2): the notes' "small random numbers" (std 0.001 by default)."""
    dtype = _float_dtype("normal", dtype)
    _check_std("normal", std)
    return (resolve_rng(rng).standard_normal(shape) * std).astype(dtype)


def fan_in(shape, *, fan_in=None, fan_out=None, rng=None, dtype=np.float32):
    """N(0, 1) / sqrt(fan_in): NET keeps a standard deviation of about 1."""
    dtype = _float_dtype("fan_in", dtype)
    n_in, _ = _fans("fan_in", shape, fan_in, fan_out)
    return (resolve_rng(rng).standard_normal(shape) / np.sqrt(n_in)).astype(dtype)


def he(shape, *, fan_in=None, fan_out=None, rng=None, dtype=np.float32):
    """N(0, 1) * sqrt(2 / fan_in), for ReLU units (He et al. 2015)."""
    dtype = _float_dtype("he", dtype)
    n_in, _ = _fans("he", shape, fan_in, fan_out)
    return (resolve_rng(rng).standard_normal(shape) * np.sqrt(2.0 / n_in)).astype(dtype)


def glorot_uniform(shape, *, fan_in=None, fan_out=None, rng=None, dtype=np.float32):
    """U(-b, b) with b = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    dtype = _float_dtype("glorot_uniform", dtype)
    n_in, n_out = _fans("glorot_uniform", shape, fan_in, fan_out)
    bound = np.sqrt(6.0 / (n_in + n_out))
    return resolve_rng(rng).uniform(-bound, bound, size=shape).astype(dtype)


def sparse(shape, k=10, std=1.0, *, fan_in=None, fan_out=None, rng=None, dtype=np.float32):
    """Each unit gets exactly ``k`` non-zero N(0, std^2) incoming weights (Martens 2010).

    For a dense weight ``(in_features, out_features)`` each column has ``k``
    non-zeros (all of them when ``k >= in_features``).
    """
    dtype = _float_dtype("sparse", dtype)
    if len(shape) != 2:
        raise ValueError(f"sparse: needs a 2-D (in_features, out_features) shape; got {shape}")
    _check_std("sparse", std)
    k = positive_int("sparse", "k (non-zero incoming weights per unit)", k)
    n_in, n_out = shape
    rng = resolve_rng(rng)
    w = np.zeros(shape, dtype=dtype)
    k = min(int(k), n_in)
    rows = np.argsort(rng.random((n_in, n_out)), axis=0)[:k]  # k distinct inputs per unit
    cols = np.broadcast_to(np.arange(n_out), rows.shape)
    w[rows, cols] = rng.standard_normal(rows.shape) * std
    return w


def orthogonal(shape, gain=1.0, *, fan_in=None, fan_out=None, rng=None, dtype=np.float32):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014), as PyTorch's ``orthogonal_``.

    The shape is read as ``(shape[0], prod(shape[1:]))``; the result has
    orthonormal columns when it is tall (rows >= columns) and orthonormal rows
    when it is wide, so W^T W = gain^2 I or W W^T = gain^2 I. Recurrent layers
    draw their W_h this way, one (H, H) block per gate: every singular value is
    1, so backpropagation through time neither shrinks nor grows the error at
    the start of training (notes: "Training RNNs", exploding and vanishing
    gradients).

    Parameters
    ----------
    shape : tuple of int, at least 2-D
    gain : float, default 1.0
    fan_in, fan_out : ignored (every initializer takes them)
    rng : numpy.random.Generator, optional
    dtype : floating dtype, default float32

    Notes
    -----
    With Z of shape (max(r, c), min(r, c)) drawn N(0, 1) and Z = QR its QR
    decomposition, Q diag(sign(diag(R))) is distributed uniformly (Haar) over
    the matrices with orthonormal columns (the sign fix makes the
    decomposition unique, Mezzadri 2007); it is transposed when r < c.

    Examples
    --------
    >>> import numpy as np
    >>> from rosenblatt.nn import init
    >>> w = init.orthogonal((4, 4), rng=0, dtype=np.float64)
    >>> bool(np.allclose(w.T @ w, np.eye(4)))
    True
    """
    dtype = _float_dtype("orthogonal", dtype)
    if len(shape) < 2:
        raise ValueError(f"orthogonal: needs a shape of 2 or more dimensions; got {shape}")
    if isinstance(gain, bool) or not isinstance(gain, (int, float, np.number)) \
            or not np.isfinite(gain):
        raise ValueError(f"orthogonal: gain must be a finite number; got {gain!r}")
    rows, cols = shape[0], int(np.prod(shape[1:]))
    z = resolve_rng(rng).standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(z)
    q *= np.sign(np.diag(r))
    q = q if rows >= cols else q.T
    # C order, as every initializer returns: q.T is Fortran-ordered, and code that writes a
    # parameter through a flat view (reshape(-1)) would write into a copy
    return np.ascontiguousarray((q * gain).astype(dtype).reshape(shape))


INITIALIZERS = {
    "zeros": zeros,
    "constant": constant,
    "normal": normal,
    "fan_in": fan_in,
    "he": he,
    "glorot_uniform": glorot_uniform,
    "sparse": sparse,
    "orthogonal": orthogonal,
}


def _takes_dtype(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # no signature to read (some builtins): pass it
        return True
    return any(p.name == "dtype" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
               or p.kind == p.VAR_KEYWORD for p in params)


def _user_initializer(fn, where):
    """A callable ``init`` as an initializer of the signature above: ``dtype`` is passed only
    if ``fn`` takes it, and the result is checked and cast to the layer's dtype."""
    takes_dtype = _takes_dtype(fn)
    prefix = f"{where}: " if where else ""

    def initializer(shape, *, fan_in=None, fan_out=None, rng=None, dtype=np.float32):
        dtype = _float_dtype(f"{prefix}init", dtype)
        kwargs = {"fan_in": fan_in, "fan_out": fan_out, "rng": rng}
        if takes_dtype:
            kwargs["dtype"] = dtype
        out = fn(shape, **kwargs)
        if not isinstance(out, np.ndarray) or out.dtype.kind not in "fiu" \
                or out.shape != tuple(shape):
            got = f"shape {out.shape}, dtype {out.dtype}" if isinstance(out, np.ndarray) \
                else f"a {type(out).__name__}"
            raise ValueError(f"{prefix}init must return a numeric ndarray of shape "
                             f"{tuple(shape)}; got {got}")
        # a copy of its own, in C order: a callable may return an array it keeps (pretrained
        # vectors), which the layer then writes into (Embedding's padding row, SparseDense's
        # mask) and which two layers built from it would share untied
        return np.array(out, dtype=dtype, order="C", copy=True)

    return initializer


def get(init, where=None):
    """An initializer from its name, or ``init`` itself if it is callable.

    A callable is called as ``init(shape, fan_in=, fan_out=, rng=)``, plus ``dtype=`` if
    its signature has it (or ``**kwargs``); it must return an ndarray of ``shape``, which
    is copied (C-ordered, in the layer's dtype): the layer never writes into, nor shares,
    an array the callable keeps. ``where`` (a layer name) prefixes the error messages.
    """
    if callable(init):
        return _user_initializer(init, where)
    if not isinstance(init, str) or init not in INITIALIZERS:
        prefix = f"{where}: " if where else ""
        raise ValueError(
            f"{prefix}init must be one of {', '.join(sorted(INITIALIZERS))} or a callable; "
            f"got {init!r}"
        )
    fn = INITIALIZERS[init]
    if not where:
        return fn

    def named(shape, **kwargs):
        # a layer's weight the initializer refuses (init="sparse" for a 4-D kernel): the
        # message names the layer and its init=, not only the initializer's own terms
        try:
            return fn(shape, **kwargs)
        except (TypeError, ValueError) as err:
            raise type(err)(f"{where}: init={init!r} cannot initialise its weight of shape "
                            f"{tuple(shape)}: {err}") from None

    return named
