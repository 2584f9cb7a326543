"""Radial basis function units (notes: "Radial basis functions", "The Ricker Wavelet").

An RBF unit i responds to the distance of the input from its centre c_i,
scaled by its width s_i: r_i = ||x - c_i|| / s_i, output phi(r_i), with

- Gaussian: phi(r) = exp(-r^2)
- Ricker wavelet: phi(r) = (1 - r^2) exp(-r^2 / 2)

Centres and widths are learned. A radial-basis-function network is an
``RBF`` layer followed by a ``Dense`` layer (the a_i of the notes'
f(X) = sum_i a_i phi(||X - c_i||)). The layer is one fused op: squared
distances from one matrix product, then phi and its derivative.
"""

import numpy as np

from ..autodiff.tensor import _make as make, as_float_array, needs_grad
from ..checks import one_of, positive_float, positive_int
from ..randomness import resolve_rng
from . import init as initializers
from ._operands import as_tensor
from .module import Module
from .parameter import Parameter

KINDS = ("gaussian", "ricker")


def _phi(s, kind):
    """phi as a function of s = r^2, and d phi / d s."""
    if kind == "gaussian":
        y = np.exp(-s)
        return y, -y
    e = np.exp(-0.5 * s)
    return (1 - s) * e, 0.5 * (s - 3) * e


def _check_shapes(x, centers, widths):
    """Raise unless x (batch, in), centers (n, in) and widths (n,) fit together."""
    if len(centers) != 2:
        raise ValueError(f"rbf: centers must be (n_centers, in_features); got {centers}")
    if widths != centers[:1]:
        raise ValueError(f"rbf: widths must have shape (n_centers,) = ({centers[0]},); got "
                         f"{widths}")
    if len(x) != 2 or x[1] != centers[1]:
        raise ValueError(f"rbf: x must be (batch, in_features) with in_features = "
                         f"centers.shape[1] = {centers[1]}; got {x}")


def rbf(x, centers, widths, kind="gaussian"):
    """phi(||x - c_i|| / s_i) for every input row and every centre.

    Parameters
    ----------
    x : Tensor or array_like, shape (batch, in_features)
    centers : Tensor or array_like, shape (n_centers, in_features)
    widths : Tensor or array_like, shape (n_centers,)
    kind : {"gaussian", "ricker"}

    Returns
    -------
    Tensor, shape (batch, n_centers)

    Raises
    ------
    ValueError
        For an unknown ``kind`` or shapes that do not fit together (the message names both).

    Notes
    -----
    With d_i = ||x - c_i||^2 and s_i = d_i / w_i^2 (= r_i^2), h = dE/dy phi'(s):
    dE/dx = 2 sum_i h_i (x - c_i) / w_i^2, dE/dc_i = -2 sum_batch h_i (x - c_i) / w_i^2,
    dE/dw_i = -2 sum_batch h_i d_i / w_i^3. With a float16 operand all of this runs in
    float32, the output and the gradients cast back to the operands' dtypes.
    """
    if kind not in KINDS:
        raise ValueError(f"rbf: kind must be 'gaussian' or 'ricker'; got {kind!r}")
    x = as_tensor(x, "rbf", "x")
    centers = as_tensor(centers, "rbf", "centers", like=x)
    widths = as_tensor(widths, "rbf", "widths", like=x)
    xd, cd, wd = x.data, centers.data, widths.data
    _check_shapes(xd.shape, cd.shape, wd.shape)
    half = min(a.dtype.itemsize for a in (xd, cd, wd)) < 4
    if half:
        # float16: everything below in float32, as l2_pool2d (256 features of size 20 give
        # ||x||^2 = 1e5, past float16's 65,504: inf + inf - inf = NaN for a near point)
        xd, cd, wd = (a.astype(np.float32) for a in (xd, cd, wd))
    # ||x - c||^2 = ||x||^2 + ||c||^2 - 2 x.c, clipped at 0 against round-off. The
    # expansion cancels catastrophically when x and c lie far from the origin (inputs
    # near 1000 keep no digit of a unit distance in float32), so both are first moved
    # by the centres' mean: distances do not change, and the terms stay of their size.
    mu = cd.mean(axis=0)
    xs, cs = xd - mu, cd - mu
    d = (xs * xs).sum(axis=1, keepdims=True) + (cs * cs).sum(axis=1) - 2 * (xs @ cs.T)
    np.maximum(d, 0, out=d)
    inv_w2 = 1 / (wd * wd)
    s = d * inv_w2
    y, dy_ds = _phi(s, kind)

    def backward(g):
        h = g * dy_ds * inv_w2  # dE/dd, shape (batch, n_centers)
        gx = gc = gw = None
        if needs_grad(x):
            gx = 2 * (xs * h.sum(axis=1, keepdims=True) - h @ cs)
        if centers.requires_grad:
            gc = 2 * (cs * h.sum(axis=0)[:, None] - h.T @ xs)
        if widths.requires_grad:
            gw = (-2 / wd) * (h * d).sum(axis=0)
        if half:  # back to each operand's own dtype
            gx, gc, gw = (None if gr is None else gr.astype(t.dtype)
                          for gr, t in ((gx, x), (gc, centers), (gw, widths)))
        return gx, gc, gw

    return make(y.astype(x.dtype, copy=False), (x, centers, widths), backward)


class RBF(Module):
    """A layer of radial basis function units with learned centres and widths.

    Parameters
    ----------
    in_features : int
    n_centers : int
    kind : {"gaussian", "ricker"}, default "gaussian"
    width : float, default 1.0
        Initial width of every unit.
    rng : numpy.random.Generator, optional
        Draws the initial centres from N(0, 1); :meth:`init_centers` places
        them on data points instead.
    dtype : default float32
        A floating type (an integer one raises TypeError).

    Attributes
    ----------
    centers : Parameter, shape (n_centers, in_features)
    widths : Parameter, shape (n_centers,)

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> net = rb.nn.Sequential(rb.nn.RBF(2, 8), rb.nn.Dense(8, 1))
    >>> net(rb.tensor(np.zeros((3, 2)))).shape
    (3, 1)
    """

    # a centre is a row, one per unit: MaxNorm bounds each centre's norm (not each feature's)
    incoming_axes = {"centers": (1,)}

    @classmethod
    def state_shapes(cls, config):
        """``centers`` (n_centers, in_features) and ``widths`` (n_centers,)."""
        n = positive_int("RBF", "n_centers", config["n_centers"])
        return {"centers": (n, positive_int("RBF", "in_features", config["in_features"])),
                "widths": (n,)}

    def __init__(self, in_features, n_centers, kind="gaussian", width=1.0, rng=None,
                 dtype=np.float32):
        self.in_features = positive_int("RBF", "in_features", in_features)
        self.n_centers = positive_int("RBF", "n_centers", n_centers)
        self.kind = one_of("RBF", "kind", kind, KINDS)
        width = positive_float("RBF", "width", width)
        dtype = initializers._float_dtype("RBF", dtype)  # an integer dtype would truncate both
        centers = resolve_rng(rng).standard_normal((self.n_centers, self.in_features))
        self.centers = Parameter(centers.astype(dtype))
        self.widths = Parameter(np.full(self.n_centers, width, dtype=dtype))

    def init_centers(self, X, rng=None):
        """Put the centres on ``n_centers`` distinct rows of ``X`` drawn at random; returns self.

        Parameters
        ----------
        X : Tensor or array_like, shape (n, in_features), n >= n_centers
        rng : numpy.random.Generator or int, optional

        Raises
        ------
        ValueError
            For a shape that does not fit, or NaN or infinite values in ``X`` (a NaN centre
            makes every output of its unit NaN).
        TypeError
            For data that are no real numbers.
        """
        X = as_float_array(X, where="RBF.init_centers")
        if X.ndim != 2 or X.shape[1] != self.in_features or len(X) < self.n_centers:
            raise ValueError(
                f"RBF.init_centers: need at least {self.n_centers} rows of {self.in_features} "
                f"features; got shape {X.shape}"
            )
        finite = np.isfinite(X).all(axis=1)
        if not finite.all():
            raise ValueError(
                f"RBF.init_centers: X contains NaN or infinite values (first in row "
                f"{int(np.argmin(finite))}); clean or impute the data first"
            )
        rows = resolve_rng(rng).choice(len(X), size=self.n_centers, replace=False)
        self.centers.data[...] = X[rows]
        return self

    def forward(self, x):
        x = as_tensor(x, "RBF")  # as Dense
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"RBF({self.in_features}, {self.n_centers}): expected input of shape "
                f"(batch, {self.in_features}); got {tuple(x.shape)}"
            )
        return rbf(x, self.centers, self.widths, self.kind)

    def config(self):
        """The constructor arguments a saved model is rebuilt from (the widths, initially
        ``width``, are a parameter saved with the centres)."""
        return {"in_features": self.in_features, "n_centers": self.n_centers, "kind": self.kind}

    def extra_repr(self):
        return f"{self.in_features}, {self.n_centers}, kind={self.kind!r}"
