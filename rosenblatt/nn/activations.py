"""Activation functions (notes: "Activation functions", "Common activation functions",
"Softmax function", and the "Activation Function Propagation / Backpropagation" table).

Each function is one graph node: the forward rule, then its derivative in the
``backward`` closure right below it. The modules (``Sigmoid()``, ``ReLU()``
...) wrap the functions so that they can sit in a :class:`Sequential`.

Conventions at kinks follow PyTorch: relu'(0) = 0, leaky_relu'(0) = slope,
hardtanh' is 1 strictly inside (min, max) and 0 at the corners. ``step`` and
``sign`` are the perceptron's threshold units: their derivative is 0 almost
everywhere, so gradients through them are zeros (nothing is learned through a
threshold; that is why the notes move on to sigmoid neurons).
"""

import numpy as np

from ..autodiff import _kernels, elementwise
from ..autodiff.elementwise import _flat_kernel_case, _same_layout, keep_where, select
from ..autodiff.tensor import _make as make, sum_to_shape
from ..checks import boolean, finite_float, is_int, positive_int
from ..randomness import resolve_rng
from . import init as initializers
from ._operands import as_tensor as _tensor
from .module import Module, no_state
from .parameter import Parameter

__all__ = [
    "HardTanh", "Identity", "LeakyReLU", "LogSoftmax", "PReLU", "RReLU", "ReLU", "Sigmoid",
    "Sign", "Softmax", "Step", "Tanh", "hardtanh", "identity", "leaky_relu", "log_softmax",
    "masked_softmax", "prelu", "relu", "rrelu", "sigmoid", "sign", "softmax", "step", "tanh",
]


# -- the logistic, tanh and rectifier units (the ops are autodiff's; here they take arrays) -----

def sigmoid(x):
    """1 / (1 + e^-x); d/dx = sigma(x) (1 - sigma(x)). ``x``: a Tensor or array_like."""
    return elementwise.sigmoid(_tensor(x, "sigmoid"))


def tanh(x):
    """tanh(x); d/dx = 1 - tanh^2(x). ``x``: a Tensor or array_like."""
    return elementwise.tanh(_tensor(x, "tanh"))


def relu(x):
    """max(0, x); d/dx = 1{x > 0} (0 at 0). ``x``: a Tensor or array_like."""
    return elementwise.relu(_tensor(x, "relu"))


# -- threshold units (the perceptron) -------------------------------------------------

def step(x, threshold=0.0, *, where="step"):
    """The binary threshold unit: 1 if x > threshold else 0; derivative 0.

    ``threshold``: a finite number. ``where``: the name error messages start with (the
    layer passes its own).

    Examples
    --------
    >>> import rosenblatt as rb
    >>> rb.nn.functional.step(rb.tensor([-1.0, 0.0, 2.0])).data
    array([0., 0., 1.], dtype=float32)
    """
    return _step(x, finite_float(where, "threshold", threshold), where)


def _step(x, threshold, where):
    """:func:`step` with ``threshold`` already checked (the layer checks its own once)."""
    x = _tensor(x, where)
    y = (x.data > threshold).astype(x.dtype)
    return make(y, (x,), lambda g: (np.zeros_like(g),))


def sign(x, threshold=0.0, *, where="sign"):
    """The "classic spin" unit of the notes: 1 if x > threshold else -1; derivative 0.

    Unlike ``numpy.sign`` it never outputs 0: at the threshold it fires -1,
    exactly as the notes' ``activate``. ``threshold``: a finite number. ``where``: the
    name error messages start with (the layer passes its own).

    Examples
    --------
    >>> import rosenblatt as rb
    >>> rb.nn.functional.sign(rb.tensor([-1.0, 0.0, 2.0])).data
    array([-1., -1.,  1.], dtype=float32)
    """
    return _sign(x, finite_float(where, "threshold", threshold), where)


def _sign(x, threshold, where):
    """:func:`sign` with ``threshold`` already checked (the layer checks its own once)."""
    x = _tensor(x, where)
    y = np.where(x.data > threshold, 1, -1).astype(x.dtype)
    return make(y, (x,), lambda g: (np.zeros_like(g),))


def identity(x, *, where="identity"):
    """f(x) = x (the linear unit); returns ``x`` itself (an array as a constant Tensor).

    ``where``: the name error messages start with (the layer passes its own)."""
    return _tensor(x, where)


# -- rectifiers ----------------------------------------------------------------------

def leaky_relu(x, slope=0.01, *, where="leaky_relu"):
    """x if x > 0 else slope * x; derivative 1 or ``slope``.

    ``slope``: a finite number. ``where``: the name error messages start with (the layer
    passes its own).

    Without branches: NumPy's ``where`` on a mask of mixed signs costs a mispredicted
    branch at about every other element (124 us for 128 x 256 float32, against 8 us for a
    multiply), so the NumPy path multiplies by a factor array, 1 or ``slope`` picked from a
    table of two by the mask (exactly the selected values); with the ``fast`` extra, arrays
    of 4,096+ values take one compiled pass each way (checked against this NumPy code in
    ``tests/autodiff/test_dense_kernels.py``).
    """
    return _leaky_relu(x, finite_float(where, "slope", slope), where)


def _leaky_relu(x, slope, where):
    """:func:`leaky_relu` with ``slope`` already checked (the layers check theirs once)."""
    x = _tensor(x, where)
    xd = x.data
    s = xd.dtype.type(slope)
    kernels = _kernels.kernels() if _flat_kernel_case(xd) else None
    if kernels is None:
        factor = _leaky_factor(xd, s)
        return make(xd * factor, (x,), lambda g: (g * factor,))
    flat = xd.reshape(-1)
    y = np.empty_like(xd)
    kernels.leaky_relu_forward(flat, s, y.reshape(-1))

    def backward(g):
        if not _same_layout(g, xd):  # not the kernel's layout
            return (g * _leaky_factor(xd, s),)
        out = np.empty_like(g)
        kernels.leaky_relu_backward(g.reshape(-1), flat, s, out.reshape(-1))
        return (out,)

    return make(y, (x,), backward)


def _leaky_factor(xd, slope):
    """1 where ``xd > 0``, else ``slope``: the derivative of leaky ReLU, as an array."""
    table = np.array([slope, 1], dtype=xd.dtype)
    return table.take((xd > 0).view(np.uint8))


def prelu(x, weight, *, where="prelu"):
    """Parametric ReLU: x if x > 0 else a * x, with a learned slope ``a``.

    Parameters
    ----------
    x : Tensor or array_like, shape (batch, channels, ...) or any shape when ``weight`` has
        one value
    weight : Tensor or array_like, shape (1,) or (channels,)
        One slope shared by every unit, or one per channel (axis 1, as PyTorch).
    where : str, default "prelu"
        The name error messages start with (the layer passes its own).

    Notes
    -----
    dE/dx = dE/dy * (1 if x > 0 else a); dE/da = sum over x <= 0 of dE/dy * x.
    """
    x = _tensor(x, where)
    weight = _tensor(weight, where, "weight", like=x)
    xd, ad = x.data, weight.data
    if ad.ndim > 1:
        channels = f" or ({xd.shape[1]},)" if xd.ndim >= 2 else ""
        raise ValueError(f"{where}: weight must have shape (1,){channels} (one slope, or one "
                         f"per channel of axis 1); got {tuple(ad.shape)}")
    if ad.size == 1:
        a = ad.reshape(())
    else:
        if xd.ndim < 2 or xd.shape[1] != ad.size:
            raise ValueError(
                f"PReLU({ad.size}): expected input of shape (batch, {ad.size}, ...); got "
                f"{tuple(xd.shape)}"
            )
        a = ad.reshape((1, ad.size) + (1,) * (xd.ndim - 2))
    positive = np.asarray(xd > 0)  # a 0-d input gives a NumPy bool, which select cannot write
    y = select(positive, xd, a * xd)

    def backward(g):
        gx = select(positive, g, a * g) if x.requires_grad else None
        ga = None
        if weight.requires_grad:
            gxd = g * xd
            contrib = select(positive, np.zeros_like(gxd), gxd)
            if ad.size == 1:
                ga = contrib.sum().reshape(ad.shape)
            else:  # over the batch and positions (float16 summed in float32)
                ga = sum_to_shape(contrib, a.shape).reshape(ad.shape)
        return gx, ga

    return make(y, (x, weight), backward)


def rrelu(x, lower=1 / 8, upper=1 / 3, training=True, rng=None, *, where="rrelu"):
    """Randomized leaky ReLU: slope ~ U(lower, upper) per element in training, mean slope in eval.

    In training, x >= 0 passes and x < 0 is multiplied by a fresh random
    slope (one per element, as PyTorch); in evaluation the slope is the
    mean (lower + upper) / 2. ``lower`` and ``upper`` are numbers with
    0 <= lower <= upper < inf. ``training`` is True or False (a NumPy bool too; anything
    else, such as the string ``"False"``, is a TypeError). ``where``: the name error
    messages start with (the layer passes its own).
    """
    training = boolean(where, "training", training)  # "False" is truthy: it would train
    try:
        low, high = finite_float(where, "lower", lower), finite_float(where, "upper", upper)
    except ValueError:  # NaN or infinite
        low = high = np.nan
    if not 0 <= low <= high:
        raise ValueError(f"{where}: need 0 <= lower <= upper, finite; got lower={lower}, "
                         f"upper={upper}")
    return _rrelu(x, low, high, training, rng, where)


def _rrelu(x, lower, upper, training, rng, where):
    """:func:`rrelu` with ``lower`` and ``upper`` already checked (the layer checks its own
    once)."""
    x = _tensor(x, where)
    if not training:
        return _leaky_relu(x, (lower + upper) / 2, where)
    xd = x.data
    slope = resolve_rng(rng).uniform(lower, upper, size=xd.shape).astype(xd.dtype, copy=False)
    factor = np.where(xd > 0, xd.dtype.type(1), slope)  # the slope at 0, as torch and eval
    return make(xd * factor, (x,), lambda g: (g * factor,))


def hardtanh(x, min=-1.0, max=1.0, *, where="hardtanh"):  # noqa: A002 - the issue's names
    """The notes' ramp: clamp x to [min, max]; derivative 1{min < x < max}.

    The backward selects as PyTorch's: 0 where x <= min or x >= max even for an infinite
    upstream gradient (a multiply would give inf * 0 = NaN). At a NaN input it is 0 too, as
    PyTorch's vectorised kernel, which every full vector of a tensor takes (its scalar
    loop, for tensors shorter than one vector, passes the gradient there instead).
    ``min`` and ``max`` are finite numbers with min < max. ``where``: the name error
    messages start with (the layer passes its own).
    """
    return _hardtanh(x, *_hardtanh_bounds(where, min, max), where)


def _hardtanh_bounds(where, min, max):  # noqa: A002 - the issue's names
    """``min`` and ``max`` as floats: finite numbers (not strings, bools or NaN), checked
    before they are compared (strings compare as text: '10' < '5')."""
    min, max = finite_float(where, "min", min), finite_float(where, "max", max)  # noqa: A001
    if not min < max:
        raise ValueError(f"{where}: need min < max; got min={min}, max={max}")
    return min, max


def _hardtanh(x, min, max, where):  # noqa: A002 - the issue's names
    """:func:`hardtanh` with ``min`` and ``max`` already checked (the layer checks its own
    once)."""
    x = _tensor(x, where)
    xd = x.data
    lo, hi = xd.dtype.type(min), xd.dtype.type(max)  # NumPy float64 bounds would upcast
    y = np.clip(xd, lo, hi)
    return make(y, (x,), lambda g: (keep_where((xd > lo) & (xd < hi), g),))


# -- softmax -------------------------------------------------------------------------

def _check_axis(axis, where):
    """A TypeError naming the op unless ``axis`` is an integer (a bool, a float or a string
    would fail inside NumPy, or a bool pass as 0 or 1); one identity test for a plain int."""
    if type(axis) is not int and not is_int(axis):
        raise TypeError(f"{where}: axis must be an integer; got {axis!r}")


def _shifted(xd, axis, where):
    """x - max(x) along ``axis`` (a new array), so that exp never overflows."""
    _check_axis(axis, where)
    if not -xd.ndim <= axis < xd.ndim:
        raise ValueError(f"{where}: axis {axis} is out of range for an input of shape "
                         f"{xd.shape}")
    return xd - xd.max(axis=axis, keepdims=True, initial=-np.inf)  # initial: an empty axis


def softmax(x, axis=-1, *, where="softmax"):
    """e^x_i / sum_j e^x_j along ``axis``, stable for any magnitude (one fused op).

    ``where``: the name error messages start with (the layer passes its own).

    Notes
    -----
    With y = softmax(x): dE/dx = y * (dE/dy - sum(dE/dy * y)). For float16 input the
    sum of the exponentials is taken in float32 (as PyTorch does): 65,505 classes of
    equal score already sum past float16's largest number.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> rb.nn.functional.softmax(rb.tensor([[0.0, 0.0], [1e4, 0.0]])).data
    array([[0.5, 0.5],
           [1. , 0. ]], dtype=float32)
    """
    x = _tensor(x, where)
    y = _shifted(x.data, axis, where)
    np.exp(y, out=y)
    if y.dtype.itemsize < 4:
        y /= y.sum(axis=axis, keepdims=True, dtype=np.float32)  # divides in float32, in place
    else:
        y /= y.sum(axis=axis, keepdims=True)

    def backward(g):
        gy = g * y
        gy -= y * gy.sum(axis=axis, keepdims=True)
        return (gy,)

    return make(y, (x,), backward)


def keep_mask(mask, where, name):
    """``mask`` as a bool array (True = keep): bools, or numbers that are all exactly 0 or 1.

    Any other numbers raise ValueError: PyTorch's additive masks (0 = attend, -inf =
    blocked) cast to bool would keep exactly the blocked positions.
    """
    m = np.asarray(mask)
    if m.dtype == bool:
        return m
    if m.dtype.kind not in "iuf" or not np.isin(m, (0, 1)).all():
        values = np.unique(m)[:4] if m.dtype.kind in "iuf" else m.dtype
        raise ValueError(
            f"{where}: {name} must be boolean (True = attend/keep) or exact 0/1; got "
            f"{m.dtype} with values {values} (an additive mask, 0 = attend and -inf = "
            f"blocked, is `{name} = (mask == 0)`)"
        )
    return m.astype(bool)


def masked_softmax(x, keep, axis=-1):
    """softmax over the positions ``keep`` marks; the others get exactly 0 (one fused op).

    Parameters
    ----------
    x : Tensor or array_like
    keep : array_like of bool
        Broadcastable to ``x``: True where a position takes part.
    axis : int, default -1

    Notes
    -----
    y_i = keep_i e^x_i / sum_j keep_j e^x_j. A masked position's score is never read (a
    huge, infinite or NaN score there changes nothing), unlike adding a large negative
    number, which a score above it beats. A row with every position masked is all zeros
    (no weight anywhere; its gradient is 0). The backward is softmax's,
    dE/dx = y * (dE/dy - sum(dE/dy * y)), and is 0 at masked positions (y = 0 there).

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> keep = np.array([[True, True, False], [False, False, False]])
    >>> rb.nn.functional.masked_softmax(rb.tensor([[0.0, 0.0, 1e12], [1.0, 2.0, 3.0]]),
    ...                                 keep).data
    array([[0.5, 0.5, 0. ],
           [0. , 0. , 0. ]], dtype=float32)
    """
    x = _tensor(x, "masked_softmax")
    xd = x.data
    _check_axis(axis, "masked_softmax")
    if not -xd.ndim <= axis < xd.ndim:
        raise ValueError(f"masked_softmax: axis {axis} is out of range for an input of shape "
                         f"{xd.shape}")
    keep = keep_mask(keep, "masked_softmax", "keep")
    try:
        keep = np.broadcast_to(keep, xd.shape)
    except ValueError:
        raise ValueError(f"masked_softmax: keep of shape {keep.shape} does not broadcast to "
                         f"the input's {xd.shape}") from None
    y = np.where(keep, xd, -np.inf).astype(xd.dtype, copy=False)
    top = y.max(axis=axis, keepdims=True, initial=-np.inf)  # initial: an empty axis
    top[~np.isfinite(top)] = 0  # a row with nothing kept: every exp below is exp(-inf) = 0
    y -= top
    np.exp(y, out=y)
    # float16: the total in float32 (65,505 equal scores sum past float16's largest number)
    total = y.sum(axis=axis, keepdims=True, dtype=np.float32 if y.dtype.itemsize < 4 else None)
    np.divide(y, total, out=y, where=total > 0)  # all-masked rows stay 0

    def backward(g):
        gy = g * y
        gy -= y * gy.sum(axis=axis, keepdims=True)
        return (gy,)

    return make(y, (x,), backward)


def log_softmax(x, axis=-1, *, where="log_softmax"):
    """x_i - log sum_j e^x_j along ``axis``, stable for any magnitude (one fused op).

    ``where``: the name error messages start with (the layer passes its own).

    Notes
    -----
    With y = log_softmax(x): dE/dx = dE/dy - softmax(x) * sum(dE/dy). For float16 input
    the exponentials, both sums and softmax(x) are float32 (as :func:`softmax` sums):
    65,505 classes of equal score already sum past float16's largest number, while their
    log-probability, log(1/70,000) = -11.16 for 70,000, is representable; and
    1/70,000 is a float16 subnormal, 0.4 % off.
    """
    x = _tensor(x, where)
    y = _shifted(x.data, axis, where)
    half = y.dtype.itemsize < 4
    # kept for backward: softmax(x), one exp for both passes
    probs = np.exp(y, dtype=np.float32) if half else np.exp(y)
    total = probs.sum(axis=axis, keepdims=True)
    if y.size:  # an empty axis has no total to take the log of
        y -= np.log(total).astype(y.dtype, copy=False)
        probs /= total

    def backward(g):
        if half:
            gx = g - probs * g.sum(axis=axis, keepdims=True, dtype=np.float32)
            return (gx.astype(g.dtype, copy=False),)
        return (g - probs * g.sum(axis=axis, keepdims=True),)

    return make(y, (x,), backward)


# -- modules -------------------------------------------------------------------------

class Step(Module):
    """Binary threshold unit: 1 if x > threshold else 0 (see :func:`step`)."""

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def __init__(self, threshold=0.0):
        self.threshold = finite_float(type(self).__name__, "threshold", threshold)

    def forward(self, x):
        return _step(x, self.threshold, "Step")

    def extra_repr(self):
        return f"threshold={self.threshold}" if self.threshold else ""


class Sign(Module):
    """Classic spin unit: 1 if x > threshold else -1 (see :func:`sign`)."""

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def __init__(self, threshold=0.0):
        self.threshold = finite_float(type(self).__name__, "threshold", threshold)

    def forward(self, x):
        return _sign(x, self.threshold, "Sign")

    def extra_repr(self):
        return f"threshold={self.threshold}" if self.threshold else ""


class Identity(Module):
    """f(x) = x."""

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def forward(self, x):
        return _tensor(x, "Identity")


class Sigmoid(Module):
    """sigma(x) = 1 / (1 + e^-x), computed as e^x / (1 + e^x): relatively accurate in both
    tails (see ``rosenblatt.autodiff.elementwise.sigmoid_array``)."""

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def forward(self, x):
        return elementwise.sigmoid(_tensor(x, "Sigmoid"))


class Tanh(Module):
    """tanh(x); derivative 1 / cosh^2(x)."""

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def forward(self, x):
        return elementwise.tanh(_tensor(x, "Tanh"))


class ReLU(Module):
    """max(0, x); derivative 1{x > 0}."""

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def forward(self, x):
        return elementwise.relu(_tensor(x, "ReLU"))


class LeakyReLU(Module):
    """x if x > 0 else slope * x (see :func:`leaky_relu`).

    Parameters
    ----------
    slope : float, default 0.01
        A finite number (NaN, inf, strings and bools raise).
    """

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def __init__(self, slope=0.01):
        self.slope = finite_float("LeakyReLU", "slope", slope)

    def forward(self, x):
        return _leaky_relu(x, self.slope, "LeakyReLU")

    def extra_repr(self):
        return f"slope={self.slope}"


class PReLU(Module):
    """Parametric ReLU: the negative slope is learned (see :func:`prelu`).

    Parameters
    ----------
    num_parameters : int, default 1
        1 (one shared slope) or the number of channels (axis 1 of the input).
    init : float, default 0.25
        Initial slope, a finite number.
    dtype : default float32
        A floating type (an integer one raises TypeError).

    Attributes
    ----------
    weight : Parameter, shape (num_parameters,)
    """

    @classmethod
    def state_shapes(cls, config):
        """``weight`` (num_parameters,)."""
        return {"weight": (positive_int("PReLU", "num_parameters", config["num_parameters"]),)}

    def __init__(self, num_parameters=1, init=0.25, dtype=np.float32):
        self.num_parameters = positive_int("PReLU", "num_parameters", num_parameters)
        init = finite_float("PReLU", "init", init)
        dtype = initializers._float_dtype("PReLU", dtype)  # an integer dtype would truncate init
        self.weight = Parameter(np.full(self.num_parameters, init, dtype=dtype))

    def forward(self, x):
        return prelu(x, self.weight, where="PReLU")

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class RReLU(Module):
    """Randomized leaky ReLU: random slope in U(lower, upper) when training, the mean in eval.

    Parameters
    ----------
    lower, upper : float, default 1/8 and 1/3
        Finite, with ``0 <= lower <= upper``.
    rng : numpy.random.Generator or int, optional
        Draws the slopes (the library generator when omitted); an int seeds one
        generator, made once, whose stream the calls continue.
    """

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def __init__(self, lower=1 / 8, upper=1 / 3, rng=None):
        lower = finite_float("RReLU", "lower", lower)
        upper = finite_float("RReLU", "upper", upper)
        if not 0 <= lower <= upper:
            raise ValueError(f"RReLU: need 0 <= lower <= upper; got lower={lower}, upper={upper}")
        self.lower, self.upper = float(lower), float(upper)
        # an int seed is resolved once, here (re-seeding at each call would draw the same slopes)
        self.rng = None if rng is None else resolve_rng(rng)

    def forward(self, x):
        mark = getattr(self.rng, "per_example", None)  # under DataParallel: batch draws
        if mark is not None and self.training:
            with mark(x):
                return _rrelu(x, self.lower, self.upper, self.training, self.rng, "RReLU")
        return _rrelu(x, self.lower, self.upper, self.training, self.rng, "RReLU")

    def extra_repr(self):
        return f"lower={self.lower:.4g}, upper={self.upper:.4g}"


class HardTanh(Module):
    """The ramp: clamp to [min, max] (see :func:`hardtanh`).

    Parameters
    ----------
    min, max : float, default -1 and 1
        Finite numbers with min < max (NaN, infinities, strings and bools raise).
    """

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def __init__(self, min=-1.0, max=1.0):  # noqa: A002 - the issue's names
        self.min, self.max = _hardtanh_bounds("HardTanh", min, max)

    def forward(self, x):
        return _hardtanh(x, self.min, self.max, "HardTanh")

    def extra_repr(self):
        return f"min={self.min}, max={self.max}"


def _axis(owner, axis):
    if not is_int(axis):
        raise TypeError(f"{owner}: axis must be an integer; got {axis!r}")
    return int(axis)


class Softmax(Module):
    """Softmax along ``axis`` (default the last: one probability per class)."""

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def __init__(self, axis=-1):
        self.axis = _axis("Softmax", axis)

    def forward(self, x):
        return softmax(x, self.axis, where="Softmax")

    def extra_repr(self):
        return f"axis={self.axis}"


class LogSoftmax(Module):
    """Log-softmax along ``axis``; pair it with :func:`rosenblatt.losses.nll`."""

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def __init__(self, axis=-1):
        self.axis = _axis("LogSoftmax", axis)

    def forward(self, x):
        return log_softmax(x, self.axis, where="LogSoftmax")

    def extra_repr(self):
        return f"axis={self.axis}"
