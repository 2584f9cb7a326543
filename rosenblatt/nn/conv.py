"""Convolutional layers (notes: "Convolutional Neural Networks").

A convolutional layer connects each hidden neuron to a local receptive field
of the input (a window of ``kh x kw`` pixels over every input channel),
moves the window with a stride, and shares one kernel and one bias across
every position of a feature map:

    OUT[n, o, i, j] = b[o] + sum_{c, k, l} W[o, c, k, l] X[n, c, s_h i + k, s_w j + l]

(cross-correlation, as the notes' formula and PyTorch write it; the kernel
is not flipped). Border modes ("narrow" and "wide" convolution):

* ``"valid"`` (narrow): no padding, a map of ``n - f + 1``;
* ``"same"``, alias ``"half"``: a symmetric border of ``f // 2`` zeros, a map
  of ``n`` for odd ``f``. For an even ``f`` this follows the notes (and
  Theano's "half") literally: the border is still ``f // 2`` on both sides,
  so the map has ``n + 1`` rows/columns. Pass explicit padding for other
  conventions;
* ``"full"``: a border of ``f - 1``, every overlap of filter and image, a map
  of ``n + f - 1``;
* an int ``p`` or a pair ``(p_h, p_w)``: that many zeros on each side.

With stride ``s`` the map has ``(n + 2 p - f) // s + 1`` entries.

The layer is one graph node: im2col (the input's windows copied into a
``(C kh kw, N oh ow)`` column matrix, one strided copy per kernel offset) and ONE matrix
product with the ``(O, C kh kw)`` kernel matrix. Backward is the notes'
dense rules applied to that product,

    dE/dW = dE/dOUT . COLS^T          (one GEMM)
    dE/dCOLS = W^T . dE/dOUT          (one GEMM)

and col2im adds dE/dCOLS back onto the input: a loop over the ``kh kw``
kernel offsets, each a vectorised strided add over the whole batch.

With the ``fast`` extra (Numba), im2col and col2im are one compiled pass each
(``autodiff/_numba_kernels.py``) when the input lies channel-major, split over
the kernel threads (``rb.set_num_threads``); the loops below are their NumPy
twins and the reference.

``activation="relu"`` fuses max(0, .) into the op: the bias and the ReLU are
one pass over the GEMM's output, done in place, and the backward masks
dE/dOUT with OUT > 0 and sums the bias gradient in one more pass. The values
and gradients are those of ``relu(conv2d(...))``; what goes is the separate
ReLU node's two fresh arrays (page faults on every step) and its passes.

The output (and the input gradient) are views of channel-major buffers
(physically ``(C, N, H, W)``); NumPy's element-wise ops keep that layout, so
the next convolution's im2col reads it with long contiguous runs.
"""

import numpy as np

from ..autodiff import _kernels
from ..autodiff.elementwise import keep_where, relu_array
from ..autodiff.tensor import Tensor, _make as make, as_tensor_array, needs_grad
from ..checks import boolean, finite_float, is_int, one_of, positive_int
from . import init as initializers, workspace
from ._operands import as_array
from .module import ErrorName, Module
from .parameter import Parameter

BORDER_MODES = ("valid", "same", "half", "full")
ACTIVATIONS = (None, "relu")  # fused into the op (see conv2d)


# -- argument parsing ------------------------------------------------------------

def _pair(value, n, what, where, minimum):
    """An int or a length-``n`` sequence of ints -> tuple of ``n`` ints >= ``minimum``."""
    items = (value,) * n if isinstance(value, (int, np.integer)) else value
    try:
        items = tuple(items)
    except TypeError:
        items = None
    if (
        items is None
        or len(items) != n
        or not all(is_int(v) for v in items)
        or any(v < minimum for v in items)
    ):
        kind = "a positive integer" if minimum > 0 else "a non-negative integer"
        raise ValueError(f"{where}: {what} must be {kind} or {n} of them; got {value!r}")
    return tuple(int(v) for v in items)


def conv_padding(padding, kernel_size, where="conv"):
    """The ``(before, after)`` zero border per spatial axis for a border mode.

    Parameters
    ----------
    padding : {"valid", "same", "half", "full"} or int or tuple of int
    kernel_size : tuple of int
        The kernel's spatial extent, one entry per axis.

    Returns
    -------
    list of (int, int)

    Examples
    --------
    >>> conv_padding("same", (5, 4))
    [(2, 2), (2, 2)]
    >>> conv_padding("full", (3, 3))
    [(2, 2), (2, 2)]
    """
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0) for _ in kernel_size]
        if padding in ("same", "half"):
            return [(k // 2, k // 2) for k in kernel_size]
        if padding == "full":
            return [(k - 1, k - 1) for k in kernel_size]
        raise ValueError(
            f"{where}: padding must be 'valid', 'same' (or 'half'), 'full', an int or a pair "
            f"of ints; got {padding!r}"
        )
    try:
        pads = _pair(padding, len(kernel_size), "padding", where, 0)
    except ValueError:
        raise ValueError(
            f"{where}: padding must be 'valid', 'same' (or 'half'), 'full', a non-negative int "
            f"or {len(kernel_size)} of them; got {padding!r}"
        ) from None
    return [(p, p) for p in pads]


def conv_output_size(n, kernel_size, stride=1, padding="valid"):
    """The length of a feature map along one axis: ``(n + before + after - f) // s + 1``.

    Parameters
    ----------
    n : int >= 0
        The input's length.
    kernel_size, stride : int >= 1
    padding : {"valid", "same", "half", "full"} or int >= 0, default "valid"

    Raises
    ------
    ValueError
        For arguments out of range, or a kernel larger than the padded input (where the
        layer raises too).

    Examples
    --------
    >>> [conv_output_size(28, 5, padding=p) for p in ("valid", "same", "full")]
    [24, 28, 32]
    """
    where = "conv_output_size"
    if not is_int(n) or n < 0:
        raise ValueError(f"{where}: n must be a non-negative integer; got {n!r}")
    (kernel_size,) = _pair(kernel_size, 1, "kernel_size", where, 1)
    (stride,) = _pair(stride, 1, "stride", where, 1)
    (lo, hi), = conv_padding(padding, (kernel_size,), where)
    if n + lo + hi < kernel_size:
        raise ValueError(f"{where}: the kernel ({kernel_size}) is larger than the padded input "
                         f"({n + lo + hi}) (n = {n}, padding {(lo, hi)}); use a smaller kernel "
                         f"or more padding")
    return (int(n) + lo + hi - kernel_size) // stride + 1


def _array(x, where, like=None):
    return x.data if isinstance(x, Tensor) else as_array(x, where, like)


def _compiled(a):
    """Whether the compiled kernels take ``a``: they are built for float32 and float64 only
    (float16 runs the NumPy code)."""
    return a.dtype in (np.float32, np.float64)


# -- the fused op ---------------------------------------------------------------

def _bias_act(y, bias, relu):
    """In place on the (O, M) GEMM output: add the bias per row, then ReLU if asked."""
    kernel = _kernels.threaded("bias_act_forward", y.size) if _compiled(y) else None
    if kernel is not None and (bias is None or bias.dtype == y.dtype):
        kernel(y, np.zeros(y.shape[0], y.dtype) if bias is None else bias, relu, 0, y.shape[1])
        return
    if bias is not None:
        y += bias.reshape(-1, 1)
    if relu:
        relu_array(y, out=y)


def _relu_grad(g2, y, bias_grad):
    """(dE/dOUT, 0 where OUT <= 0, its row sums or None): ReLU's backward for the fused op.

    A select, as :func:`~rosenblatt.autodiff.elementwise.relu` and PyTorch: an infinite
    or NaN gradient of a closed unit gives 0, not inf * 0 = NaN."""
    gm = workspace.empty(g2.shape, g2.dtype)
    kernel = _kernels.threaded("relu_grad_rows", g2.size) if _compiled(g2) else None
    if kernel is not None and g2.flags.c_contiguous and y.dtype == g2.dtype:
        gb = np.empty(g2.shape[0], g2.dtype)
        kernel(g2, y, gm, gb, 0, g2.shape[0])
        return gm, gb if bias_grad else None
    keep_where(y != 0, g2, out=gm)  # on ReLU's output (>= 0 or NaN), not (y <= 0)
    return gm, gm.sum(axis=1) if bias_grad else None


def _conv2d_core(x, xd, w, wd, b, stride, pads, where, activation=None):
    """conv2d on 4-D arrays ``xd`` (N, C, H, W) and ``wd`` (O, C, kh, kw); a graph node."""
    n, c, h, wid = xd.shape
    o, _, kh, kw = wd.shape
    sh, sw = stride
    (pt, pb), (pl, pr) = pads
    hp, wp = h + pt + pb, wid + pl + pr
    if hp < kh or wp < kw:
        raise ValueError(
            f"{where}: the kernel {(kh, kw)} is larger than the padded input {(hp, wp)} "
            f"(input shape {xd.shape}, padding {pads}); use a smaller kernel or more padding"
        )
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    if c <= DIRECT_MAX_CHANNELS and sh == 1 and sw == 1:  # direct sums beat im2col + GEMM
        split, fast = _split(xd, wd, b, n * kh * kw * oh * ow, where)
        if fast is not None:
            return _conv2d_direct(x, xd, w, wd, b, pads, (oh, ow), activation, max(split, 1),
                                  fast, where)
    cols = workspace.empty((c, kh, kw, n, oh, ow), xd.dtype)
    split, fast = _split(xd, wd, b, cols.size, where)
    if split > 1:  # one part runs the unsplit path below (chunks measured no faster)
        return _conv2d_parts(x, xd, w, wd, b, stride, pads, (oh, ow), cols, activation, split,
                             fast, where)
    kernel = _kernels.threaded("im2col", cols.size) if _compiled(xd) else None
    if kernel is not None and xd.transpose(1, 0, 2, 3).flags.c_contiguous:
        # one compiled pass over the channel-major input, the zero border included
        kernel(xd.transpose(1, 0, 2, 3), cols, sh, sw, pt, pl, 0, n)
    else:
        # Channel-major (C, N, H, W) padded input: im2col then copies long runs along the width.
        xc = xd.transpose(1, 0, 2, 3)
        if pt or pb or pl or pr:
            xp = workspace.zeros((c, n, hp, wp), xd.dtype)
            xp[:, :, pt:pt + h, pl:pl + wid] = xc
        else:
            xp = xc
        # im2col: columns (C, kh, kw, N, oh, ow) -> (C kh kw, N oh ow), one strided copy per
        # kernel offset.
        for i in range(kh):
            for j in range(kw):
                cols[:, i, j] = xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
    cols = cols.reshape(c * kh * kw, n * oh * ow)
    wmat = wd.reshape(o, c * kh * kw)
    y = workspace.empty((o, n * oh * ow), np.result_type(wmat, cols))
    np.matmul(wmat, cols, out=y)
    relu = activation == "relu"
    if b is not None or relu:
        _bias_act(y, None if b is None else _array(b, where), relu)
    out = y.reshape(o, n, oh, ow).transpose(1, 0, 2, 3)

    def backward(g):
        g2 = g.transpose(1, 0, 2, 3).reshape(o, -1)  # (O, N oh ow)
        gx = gw = gb = None
        want_gb = b is not None and needs_grad(b)
        if relu:
            g2, gb = _relu_grad(g2, y, want_gb)
        elif want_gb:
            gb = g2.sum(axis=1)
        if needs_grad(w):
            # (COLS . g2^T)^T: the same product, but a layout OpenBLAS runs 2-3x faster.
            gw = (cols @ g2.T).T.reshape(wd.shape)
        if needs_grad(x):
            gcols = workspace.empty((c * kh * kw, n * oh * ow), np.result_type(wmat, g2))
            np.matmul(wmat.T, g2, out=gcols)
            gcols = gcols.reshape(c, kh, kw, n, oh, ow)
            col2im = _kernels.threaded("col2im", gcols.size) if _compiled(gcols) else None
            if col2im is not None:  # the border is never written: no padded buffer
                gxc = workspace.empty((c, n, h, wid), gcols.dtype)
                col2im(gcols, gxc, sh, sw, pt, pl, 0, n)
                return gxc.transpose(1, 0, 2, 3), gw, gb
            # col2im, channel-major like the columns; one strided add per kernel offset.
            gxp = workspace.zeros((c, n, hp, wp), gcols.dtype)
            for i in range(kh):
                for j in range(kw):
                    gxp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += (
                        gcols[:, i, j]
                    )
            gx = gxp[:, :, pt:pt + h, pl:pl + wid].transpose(1, 0, 2, 3)
        return gx, gw, gb

    return make(out, (x, w, b), backward)


def _split(xd, wd, b, size, where):
    """(In how many parts (threads) the op runs, the compiled kernels' module): see
    ``_kernels.parts``; (0, None) unless the compiled kernels can do all of it (channel-major
    input, one float dtype throughout)."""
    if xd.dtype != wd.dtype or xd.dtype not in (np.float32, np.float64):
        return 0, None
    if b is not None and _array(b, where).dtype != xd.dtype:
        return 0, None
    fast = _kernels.kernels()
    if fast is None or not xd.transpose(1, 0, 2, 3).flags.c_contiguous:
        return 0, None
    return min(_kernels.parts(size), xd.shape[0]), fast


# Input channels up to which a stride-1 convolution runs the direct kernels (measured: 1
# channel, 5 x 5, 2x faster than im2col + GEMM; 6 channels 1.5x slower).
DIRECT_MAX_CHANNELS = 1
CHUNK_BYTES = 1 << 19  # the columns of one chunk of images: written, then multiplied from cache


def _chunks(n, image_bytes, split):
    """Cut points of ``range(n)`` into chunks of images whose columns take about
    ``CHUNK_BYTES``, at least one chunk per part."""
    size = max(1, min(CHUNK_BYTES // max(1, image_bytes), -(-n // split)))
    return list(range(0, n, size)) + [n]


def _conv2d_parts(x, xd, w, wd, b, stride, pads, out_size, cols, activation, split, fast,
                  where):
    """``_conv2d_core`` split over ``split`` threads (``_kernels.run_parts``), one pool at a time.

    Forward, part k: im2col of its images, the GEMM of their columns, bias + ReLU on them.
    Backward: the ReLU mask and bias gradient by rows of dE/dOUT; then part k computes rows of
    dE/dW (rows of COLS against all of dE/dOUT: conv1's K = N oh ow, 50,176 for LeNet, is
    split this way, which OpenBLAS does not do) and the input gradient of its images (their
    GEMM and col2im). Every part writes its own rows or columns with the serial kernels: the
    numbers are those of one thread.
    """
    n, c, h, wid = xd.shape
    o, _, kh, kw = wd.shape
    (sh, sw), ((pt, _), (pl, _)), (oh, ow) = stride, pads, out_size
    m = oh * ow
    relu = activation == "relu"
    dtype = xd.dtype
    xc = xd.transpose(1, 0, 2, 3)
    cols2 = cols.reshape(c * kh * kw, n * m)
    wmat = wd.reshape(o, c * kh * kw)
    y = workspace.empty((o, n * m), dtype)
    bias = None if b is None else _array(b, where)
    bvec = np.zeros(o, dtype) if bias is None else bias
    cut = _chunks(n, c * kh * kw * m * cols.itemsize, split)
    im2col, bias_act = fast.im2col, fast.bias_act_forward

    def forward_part(k):
        for q in range(k, len(cut) - 1, split):  # its chunks: columns still in cache for the GEMM
            n0, n1 = cut[q], cut[q + 1]
            im2col(xc, cols, sh, sw, pt, pl, n0, n1)
            np.matmul(wmat, cols2[:, n0 * m:n1 * m], out=y[:, n0 * m:n1 * m])
            if b is not None or relu:
                bias_act(y, bvec, relu, n0 * m, n1 * m)

    _kernels.run_parts(forward_part, split)
    out = y.reshape(o, n, oh, ow).transpose(1, 0, 2, 3)

    def backward(g):
        g2 = g.transpose(1, 0, 2, 3).reshape(o, -1)  # (O, N oh ow)
        gb = None
        want_gb = b is not None and needs_grad(b)
        if relu and g2.flags.c_contiguous and g2.dtype == dtype:
            gm = workspace.empty(g2.shape, dtype)
            gbuf = np.empty(o, dtype)
            rows = _kernels.bounds(o, split)
            relu_grad = fast.relu_grad_rows
            _kernels.run_parts(lambda k: relu_grad(g2, y, gm, gbuf, rows[k], rows[k + 1]), split)
            g2, gb = gm, gbuf if want_gb else None
        elif relu:
            g2, gb = _relu_grad(g2, y, want_gb)
        elif want_gb:
            gb = g2.sum(axis=1)
        gdt = np.result_type(wmat, g2)
        gwt = np.empty((c * kh * kw, o), gdt) if needs_grad(w) else None
        gcols = workspace.empty((c * kh * kw, n * m), gdt) if needs_grad(x) else None
        gxc = workspace.empty((c, n, h, wid), gdt) if needs_grad(x) else None
        rcut = _kernels.bounds(c * kh * kw, split)
        col2im = fast.col2im
        g2t = g2.T

        def backward_part(k):
            if gwt is not None:  # rows of (COLS . g2^T): the layout OpenBLAS runs fastest
                np.matmul(cols2[rcut[k]:rcut[k + 1]], g2t, out=gwt[rcut[k]:rcut[k + 1]])
            if gcols is not None:
                for q in range(k, len(cut) - 1, split):
                    n0, n1 = cut[q], cut[q + 1]
                    np.matmul(wmat.T, g2[:, n0 * m:n1 * m], out=gcols[:, n0 * m:n1 * m])
                    col2im(gcols.reshape(c, kh, kw, n, oh, ow), gxc, sh, sw, pt, pl, n0, n1)

        _kernels.run_parts(backward_part, split)
        gw = None if gwt is None else gwt.T.reshape(wd.shape)
        gx = None if gxc is None else gxc.transpose(1, 0, 2, 3)
        return gx, gw, gb

    return make(out, (x, w, b), backward)


def _conv2d_direct(x, xd, w, wd, b, pads, out_size, activation, split, fast, where):
    """``_conv2d_core`` for single-channel images, stride 1, with the compiled direct kernels.

    im2col would copy each image ``kh kw`` times (LeNet's first layer: 5 MB of columns per
    batch of 64) for a GEMM with K = ``kh kw``; ``conv_direct_forward`` and
    ``conv_direct_backward`` sum from a padded copy of each image instead (measured about
    twice as fast, both ways). Split over ``split`` threads by images (``_kernels.run_parts``);
    the weight and bias gradients are summed over the parts, so their last bits depend on
    the thread count (about one rounding between 1 and 2 threads; the same count gives the
    same bits). Making them independent of it would take a fixed set of partial sums, and
    more kernel calls, at one thread too. The input gradient, when needed, is the im2col
    path's: one GEMM and col2im.
    """
    n, c, h, wid = xd.shape
    o, _, kh, kw = wd.shape
    ((pt, _), (pl, _)), (oh, ow) = pads, out_size
    relu = activation == "relu"
    dtype = xd.dtype
    xc = xd.transpose(1, 0, 2, 3)
    wc = np.ascontiguousarray(wd)
    bias = np.zeros(o, dtype) if b is None else _array(b, where)
    y = workspace.empty((o, n, oh, ow), dtype)
    cut = _kernels.bounds(n, split)
    _kernels.run_parts(lambda k: fast.conv_direct_forward(xc, wc, bias, y, pt, pl, relu,
                                                          cut[k], cut[k + 1]), split)

    def backward(g):
        gc = g.transpose(1, 0, 2, 3)  # (O, N, oh, ow)
        if not gc.flags.c_contiguous or gc.dtype != dtype:
            gc = np.ascontiguousarray(gc, dtype=dtype)
        want_gx = needs_grad(x)
        gm = workspace.empty((o, n, oh, ow), dtype) if want_gx else gc
        gws = np.zeros((split, o, c, kh, kw), dtype)
        gbs = np.zeros((split, o), np.float64)
        _kernels.run_parts(lambda k: fast.conv_direct_backward(
            xc, gc, y, gm, gws[k], gbs[k], pt, pl, relu, want_gx, cut[k], cut[k + 1]), split)
        gw = (gws.sum(axis=0) if split > 1 else gws[0]) if needs_grad(w) else None
        gb = gbs.sum(axis=0).astype(dtype) if b is not None and needs_grad(b) else None
        gx = None
        if want_gx:
            gcols = workspace.empty((c * kh * kw, n * oh * ow), dtype)
            np.matmul(wc.reshape(o, -1).T, gm.reshape(o, -1), out=gcols)
            gxc = workspace.empty((c, n, h, wid), dtype)
            fast.col2im(gcols.reshape(c, kh, kw, n, oh, ow), gxc, 1, 1, pt, pl, 0, n)
            gx = gxc.transpose(1, 0, 2, 3)
        return gx, gw, gb

    return make(y.transpose(1, 0, 2, 3), (x, w, b), backward)


def _check_operands(where, xd, wd, b, input_layout, weight_layout):
    """Shape checks shared by conv1d and conv2d; messages name the op and both shapes."""
    ndim = len(input_layout.split(","))
    if xd.ndim != ndim or wd.ndim != ndim:
        raise ValueError(
            f"{where}: expected an input {input_layout} and a weight {weight_layout}; got input "
            f"shape {xd.shape} and weight shape {wd.shape}"
        )
    if xd.shape[1] != wd.shape[1]:
        raise ValueError(
            f"{where}: the input has {xd.shape[1]} channels (shape {xd.shape}) but the weight "
            f"expects {wd.shape[1]} (shape {wd.shape})"
        )
    if b is not None and _array(b, where).shape != (wd.shape[0],):
        raise ValueError(
            f"{where}: the bias must have shape ({wd.shape[0]},) for a weight of shape "
            f"{wd.shape}; got {_array(b, where).shape}"
        )


def conv2d(x, w, b=None, stride=1, padding="valid", activation=None, *, where="conv2d"):
    """2-D convolution (cross-correlation) of a batch of images with a bank of kernels.

    One fused op: im2col + one matrix product, with a hand-written backward.
    Works on plain arrays too, for fixed (non-learned) kernels such as edge
    detectors.

    Parameters
    ----------
    x : Tensor or array_like, shape (batch, in_channels, height, width)
        Or a single image of shape (height, width) when ``w`` is a single
        kernel of shape (kh, kw): the result is then a 2-D feature map.
    w : Tensor or array_like, shape (out_channels, in_channels, kh, kw)
    b : Tensor or array_like, shape (out_channels,), optional
    stride : int or (int, int), default 1
    padding : {"valid", "same", "half", "full"} or int or (int, int), default "valid"
        The border mode; see the module docstring for the sizes.
    activation : {None, "relu"}, default None
        ``"relu"`` applies max(0, .) inside the op (fused with the bias; the
        same values and gradients as ``relu(conv2d(...))``, one graph node
        and no extra arrays).
    where : str, default "conv2d"
        The name error messages start with (a layer passes its own).

    Returns
    -------
    Tensor, shape (batch, out_channels, oh, ow)
        With ``o = (n + 2 p - f) // stride + 1`` along each axis.

    Raises
    ------
    ValueError
        For bad shapes (naming both), channel counts that differ, a bad
        stride or padding.

    Examples
    --------
    The notes' kernel on a single bright pixel:

    >>> import numpy as np, rosenblatt as rb
    >>> kernel = -np.ones((3, 3)); kernel[1, 1] = 10
    >>> image = np.zeros((3, 3)); image[1, 1] = 255
    >>> rb.nn.functional.conv2d(image, kernel).data
    array([[2550.]])
    >>> rb.nn.functional.conv2d(image, kernel, padding="same").shape
    (3, 3)
    """
    xd = _array(x, where)
    wd = _array(w, where, like=xd)  # a list takes x's dtype (an ndarray keeps its own)
    if b is not None and not isinstance(b, Tensor):
        b = _array(b, where, like=xd)
    single = xd.ndim == 2 and wd.ndim == 2
    if single:
        xd, wd = xd[None, None], wd[None, None]
        x = x.reshape(xd.shape) if isinstance(x, Tensor) else xd
        w = w.reshape(wd.shape) if isinstance(w, Tensor) else wd
    _check_operands(where, xd, wd, b, "(batch, channels, height, width)",
                    "(out_channels, in_channels, kh, kw)")
    stride = _pair(stride, 2, "stride", where, 1)
    pads = conv_padding(padding, wd.shape[2:], where)
    activation = one_of(where, "activation", activation, ACTIVATIONS)
    out = _conv2d_core(x, xd, w, wd, b, stride, pads, where, activation)
    return out.reshape(out.shape[2:]) if single else out


def conv1d(x, w, b=None, stride=1, padding="valid", activation=None, *, where="conv1d"):
    """1-D convolution over sequences: the 2-D op with images of height 1.

    Parameters
    ----------
    x : Tensor or array_like, shape (batch, in_channels, length)
    w : Tensor or array_like, shape (out_channels, in_channels, k)
    b : Tensor or array_like, shape (out_channels,), optional
    stride : int, default 1
    padding : {"valid", "same", "half", "full"} or int, default "valid"
    activation : {None, "relu"}, default None
        As in :func:`conv2d`.
    where : str, default "conv1d"
        The name error messages start with (a layer passes its own).

    Returns
    -------
    Tensor, shape (batch, out_channels, (length + 2 p - k) // stride + 1)

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> rb.nn.functional.conv1d(x, np.array([[[1.0, -1.0]]])).data
    array([[[-1., -1., -1., -1.]]])
    """
    xd = _array(x, where)
    wd = _array(w, where, like=xd)  # a list takes x's dtype (an ndarray keeps its own)
    if b is not None and not isinstance(b, Tensor):
        b = _array(b, where, like=xd)
    _check_operands(where, xd, wd, b, "(batch, channels, length)",
                    "(out_channels, in_channels, k)")
    (s,) = _pair(stride, 1, "stride", where, 1)
    pads = [(0, 0)] + conv_padding(padding, wd.shape[2:], where)
    activation = one_of(where, "activation", activation, ACTIVATIONS)
    (lo, hi), k = pads[1], wd.shape[2]
    if xd.shape[2] + lo + hi < k:  # said here in 1-D terms, not those of the 2-D op below
        raise ValueError(
            f"{where}: the kernel ({k}) is longer than the padded input ({xd.shape[2] + lo + hi}) "
            f"(input shape {xd.shape}, padding {(lo, hi)}); use a smaller kernel or more padding"
        )
    # sizes written out, not -1 (a batch of 0 has none to infer)
    x4 = x.reshape(xd.shape[:2] + (1, xd.shape[2])) if isinstance(x, Tensor) else xd[:, :, None]
    w4 = w.reshape(wd.shape[:2] + (1, wd.shape[2])) if isinstance(w, Tensor) else wd[:, :, None]
    out = _conv2d_core(x4, _array(x4, where), w4, _array(w4, where), b, (1, s), pads, where,
                       activation)
    return out.reshape(out.shape[:2] + out.shape[3:])


# -- layers --------------------------------------------------------------------

class _ConvNd(Module):
    """Shared constructor of Conv1d and Conv2d."""

    _dims = 2

    @classmethod
    def state_shapes(cls, config):
        """``W`` (out_channels, in_channels, *kernel_size) and ``b`` (out_channels,) if bias."""
        name = cls.__name__
        n_in = positive_int(name, "in_channels", config["in_channels"])
        n_out = positive_int(name, "out_channels", config["out_channels"])
        kernel = _pair(config["kernel_size"], cls._dims, "kernel_size", name, 1)
        return {"W": (n_out, n_in, *kernel), **({"b": (n_out,)} if config["bias"] else {})}

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding="valid",
                 bias=True, init="glorot_uniform", bias_init=0.0, rng=None, dtype=np.float32,
                 activation=None):
        name = type(self).__name__
        self.activation = one_of(name, "activation", activation, ACTIVATIONS)
        self.in_channels = positive_int(name, "in_channels", in_channels)
        self.out_channels = positive_int(name, "out_channels", out_channels)
        self.kernel_size = _pair(kernel_size, self._dims, "kernel_size", name, 1)
        self.stride = _pair(stride, self._dims, "stride", name, 1)
        pads = conv_padding(padding, self.kernel_size, name)  # validated now, not at the first call
        # kept as given, in plain Python types (an ndarray would break repr, errors and save)
        if isinstance(padding, str):
            self.padding = padding
        elif is_int(padding):
            self.padding = int(padding)
        else:
            self.padding = tuple(before for before, _ in pads)
        self.init = init
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        field = int(np.prod(self.kernel_size))
        # A kernel weight feeds one output from in_channels * field inputs (its fan in)
        # and reaches out_channels * field outputs (its fan out).
        self.W = Parameter(initializers.get(init, type(self).__name__)(
            shape, fan_in=self.in_channels * field, fan_out=self.out_channels * field,
            rng=rng, dtype=dtype,
        ))
        bias = boolean(name, "bias", bias)
        bias_init = finite_float(name, "bias_init", bias_init)
        self.b = Parameter(np.full(self.out_channels, bias_init, dtype=dtype)) if bias else None

    def _check(self, x, layout):
        """``x`` as a Tensor or float ndarray of the layer's layout (array_like is converted);
        raises naming the layer otherwise. A list of Python floats becomes float32, as
        ``rb.tensor`` and ``Dense`` make it (NumPy's float64 would run the model in float64)."""
        if not isinstance(x, (Tensor, np.ndarray)):
            x = as_tensor_array(x, where=ErrorName(self))
        shape = tuple(x.shape)
        if len(shape) != self._dims + 2 or shape[1] != self.in_channels:
            raise ValueError(
                f"{type(self).__name__}({self.extra_repr()}): expected input of shape "
                f"{layout} with {self.in_channels} channels; got {shape}"
            )
        return x

    def config(self):
        """The constructor arguments a saved model is rebuilt from (``init`` is not saved: the
        stored weights replace the initial ones; ``activation`` only when fused, so files of
        plain convolutions stay as they were)."""
        config = {"in_channels": self.in_channels, "out_channels": self.out_channels,
                  "kernel_size": self.kernel_size, "stride": self.stride,
                  "padding": self.padding, "bias": self.b is not None}
        if self.activation is not None:
            config["activation"] = self.activation
        return config

    def extra_repr(self):
        ks = self.kernel_size if self._dims > 1 else self.kernel_size[0]
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={ks}"
        if any(s != 1 for s in self.stride):
            text += f", stride={self.stride if self._dims > 1 else self.stride[0]}"
        if self.padding != "valid":
            text += f", padding={self.padding!r}"
        if self.activation is not None:
            text += f", activation={self.activation!r}"
        return text + ("" if self.b is not None else ", bias=False")


class Conv2d(_ConvNd):
    """A convolutional layer over images: many feature maps over many input channels.

    Parameters
    ----------
    in_channels, out_channels : int
        Input channels; feature maps (kernels) learned.
    kernel_size : int or (int, int)
        The local receptive field.
    stride : int or (int, int), default 1
    padding : {"valid", "same", "half", "full"} or int or (int, int), default "valid"
        The border mode (see :mod:`rosenblatt.nn.conv`).
    bias : bool, default True
        One shared bias per feature map.
    init : str or callable, default "glorot_uniform"
        A ``rb.nn.init`` name or callable (``fn(shape, fan_in=, fan_out=, rng=)``, see
        :func:`rosenblatt.nn.init.get`), called with the kernel's fans
        ``fan_in = in_channels kh kw`` and ``fan_out = out_channels kh kw``.
    bias_init : float, default 0.0
        A finite number.
    rng : numpy.random.Generator, optional
    dtype : default float32
    activation : {None, "relu"}, default None
        ``"relu"``: the layer computes max(0, conv + b) as one fused op, the
        same values and gradients as following it with ``ReLU()``, without
        the ReLU's own arrays and passes (see :func:`conv2d`).

    Attributes
    ----------
    W : Parameter, shape (out_channels, in_channels, kh, kw)
        The shared weights, laid out like PyTorch's ``Conv2d.weight``.
    b : Parameter, shape (out_channels,) or None

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> conv = rb.nn.Conv2d(1, 6, 5, padding="same", rng=np.random.default_rng(0))
    >>> conv(rb.tensor(np.zeros((2, 1, 28, 28)))).shape
    (2, 6, 28, 28)
    """

    _dims = 2

    def forward(self, x):
        x = self._check(x, "(batch, channels, height, width)")
        return conv2d(x, self.W, self.b, self.stride, self.padding, self.activation,
                      where=ErrorName(self))


class Conv1d(_ConvNd):
    """A convolutional layer over sequences (text, signals): shape (batch, channels, length).

    Same arguments as :class:`Conv2d` with an int ``kernel_size``, ``stride``
    and ``padding``; the weight ``W`` has shape (out_channels, in_channels, k).
    The layout is PyTorch's, channels before time: a (batch, time, features)
    sequence (e.g. word embeddings) goes in as ``x.transpose(0, 2, 1)``.
    Follow it with ``KMaxPool(k)`` for the k strongest responses over time.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> conv = rb.nn.Conv1d(8, 4, 3, padding="full", rng=np.random.default_rng(0))
    >>> conv(rb.tensor(np.zeros((2, 8, 10)))).shape
    (2, 4, 12)
    """

    _dims = 1

    def forward(self, x):
        x = self._check(x, "(batch, channels, length)")
        return conv1d(x, self.W, self.b, self.stride[0], self.padding, self.activation,
                      where=ErrorName(self))
