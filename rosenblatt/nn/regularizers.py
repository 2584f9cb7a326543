"""Regularization (notes: "Regularization": L2, L1, elastic net, max norm constraints;
"Overfitting": input noise).

The protocol
------------
A regularizer is an object with three hooks; the training loop calls each
one that does something (the base class gives no-op defaults):

``penalty(model) -> Tensor or None``
    A term added to the loss before ``backward()`` (L1, L2, ElasticNet).
    Its gradient then flows into the parameters like the loss's.
``after_step(model) -> None``
    Called right after each optimizer step (MaxNorm clamps weights here).
    Edits parameters in place, so ParameterVector views stay valid.
``transform_input(x, rng) -> ndarray``
    Applied to each training batch's inputs before the forward pass, in
    training only (InputNoise).

So a training step is::

    x = reduce(lambda x, r: r.transform_input(x, rng), regs, x)
    loss = loss_fn(model(tensor(x)), y) + sum of r.penalty(model)
    opt.zero_grad(); loss.backward(); opt.step()
    for r in regs: r.after_step(model)

:func:`penalty`, :func:`after_step` and :func:`transform_input` below do
those three lines for a list of regularizers. A model can carry its own
list in ``model.regularizers`` (the training loop adds them to those it is
given; :func:`collect`). Only the outer model's list counts: one set on a
sub-module is not applied (:func:`collect` warns about it).

Which parameters are weights: those with two or more axes (Dense/Maxout
``W``, convolution kernels, recurrent matrices). Biases, batch-norm scales
and shifts, PReLU slopes and RBF widths are vectors and are excluded by
default (the notes: "biases are typically not included by convention");
``include_bias=True`` includes them. Learned initial states (a recurrent
layer's ``initial_state``, the NTM's ``memory0``, ``read0``, ``weighting0``)
are 2-D but no unit's weights: they are treated like biases, and MaxNorm
never touches them. A module can name such parameters itself in a
``not_weights`` attribute (a tuple of attribute names).

A layer with a connection mask (``SparseDense``: a boolean ``mask`` shaped
like ``W``) has weights only where the mask is True: MaxNorm measures the
live connections' norm (``rb.optim.GradientNoise`` likewise adds no noise
where there is no connection).

The notes write the L2 term as lambda/(2m) sum w^2 added to a summed cost;
with a cost averaged over the m examples (``reduction="mean"``), that is
``L2(lam)`` with ``lam`` the notes' lambda/m.
"""

import math
import warnings

import numpy as np

from ..autodiff.tensor import _make as make
from ..checks import boolean
from ..randomness import resolve_rng
from .parameter import Parameter

__all__ = [
    "L1", "L2", "ElasticNet", "InputNoise", "MaxNorm", "NOT_WEIGHTS", "Regularizer", "after_step",
    "collect", "connection_mask", "penalty", "transform_input", "weights",
]


#: 2-D parameters that are no unit's weights (learned initial states), by attribute name,
#: for modules that do not declare ``not_weights`` themselves
NOT_WEIGHTS = ("initial_state", "memory0", "read0", "weighting0")


def _not_weights(module):
    return tuple(getattr(module, "not_weights", ())) + NOT_WEIGHTS


def _attribute(name):
    """``initial_state`` for the item name ``initial_state.0`` (a list's entry)."""
    return name.split(".", 1)[0]


def _named_items(model):
    """(module, attribute name, Parameter) for every parameter of ``model``'s modules."""
    modules = model.modules() if hasattr(model, "modules") else ()
    for module in modules:
        for name, item in module._items():
            if isinstance(item, Parameter):
                yield module, _attribute(name), item


def weights(model, include_bias=False):
    """The parameters a regularizer acts on: those with ndim >= 2 unless ``include_bias``.

    Learned initial states (``NOT_WEIGHTS``, or a module's own ``not_weights``) are
    left out like biases, unless ``include_bias``.
    """
    params = [p for p in model.parameters() if p.requires_grad and (include_bias or p.ndim >= 2)]
    if include_bias:
        return params
    states = {id(p) for module, name, p in _named_items(model) if name in _not_weights(module)}
    return [p for p in params if id(p) not in states]


def connection_mask(module, parameter):
    """The boolean connection mask of ``parameter`` in ``module`` (a ``mask`` array shaped
    like it, as ``SparseDense`` keeps for ``W``), or None."""
    mask = getattr(module, "mask", None)
    if isinstance(mask, np.ndarray) and mask.shape == parameter.shape:
        return mask if mask.dtype == bool else mask.astype(bool)
    return None


def _check_strength(value, name, where):
    # NaN or inf would only show later, as a "diverged" run: refuse them here
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"{where}: {name} must be a finite non-negative number; got {value!r}")
    return float(value)


class Regularizer:
    """Base class: every hook does nothing."""

    def penalty(self, model):
        """The term to add to the loss, or None."""
        return None

    def after_step(self, model):
        """Called after each optimizer step."""

    def transform_input(self, x, rng=None):
        """The training batch's input, possibly changed."""
        return x

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class _NormPenalty(Regularizer):
    """l1 * sum |w| + l2 / 2 * sum w^2 over the weights, as one graph node."""

    l1 = l2 = 0.0

    def penalty(self, model):
        params = weights(model, self.include_bias)
        if not params:
            return None
        l1, l2 = self.l1, self.l2
        dtype = np.result_type(*[p.dtype for p in params])
        # a layer's missing connections (SparseDense's mask) are no weights: not charged
        masks = {id(p): mask for module, _, p in _named_items(model)
                 if (mask := connection_mask(module, p)) is not None}

        def live(p):
            mask = masks.get(id(p))
            return p.data if mask is None else p.data * mask

        value = 0.0
        for p in params:
            w = live(p).reshape(-1)
            if w.dtype.itemsize < 4:
                # half precision: the sums in float32 (as MaxNorm's), since sum |w| of a
                # 2048 x 2048 float16 layer (~80,000) passes float16's 65,504 where the
                # penalty itself (lam times it) does not
                w = w.astype(np.float32)
            if l1:
                value += l1 * float(np.abs(w).sum())
            if l2:
                value += 0.5 * l2 * float(w @ w)

        def backward(g):
            # d/dw = l1 sign(w) (sign(0) = 0) + l2 w, at the live connections
            return tuple(g * (l1 * np.sign(w) + l2 * w) for w in map(live, params))

        return make(np.asarray(value, dtype=dtype), tuple(params), backward)


class L2(_NormPenalty):
    """Weight decay: lam / 2 * sum w^2 over the weights (gradient lam * w).

    Parameters
    ----------
    lam : float
    include_bias : bool, default False

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> net = rb.nn.Dense(2, 1, init="constant")
    >>> net.W.data[:] = [[3.0], [4.0]]
    >>> rb.regularizers.L2(0.1).penalty(net).item()
    1.25
    """

    def __init__(self, lam, include_bias=False):
        self.l2 = _check_strength(lam, "lam", "L2")
        self.include_bias = boolean(type(self).__name__, "include_bias", include_bias)

    def __repr__(self):
        return f"L2(lam={self.l2})"


class L1(_NormPenalty):
    """lam * sum |w| over the weights (gradient lam * sign(w), sign(0) = 0)."""

    def __init__(self, lam, include_bias=False):
        self.l1 = _check_strength(lam, "lam", "L1")
        self.include_bias = boolean(type(self).__name__, "include_bias", include_bias)

    def __repr__(self):
        return f"L1(lam={self.l1})"


class ElasticNet(_NormPenalty):
    """L1 and L2 together: l1 * sum |w| + l2 / 2 * sum w^2 (i.e. ``L1(l1) + L2(l2)``)."""

    def __init__(self, l1, l2, include_bias=False):
        self.l1 = _check_strength(l1, "l1", "ElasticNet")
        self.l2 = _check_strength(l2, "l2", "ElasticNet")
        self.include_bias = boolean(type(self).__name__, "include_bias", include_bias)

    def __repr__(self):
        return f"ElasticNet(l1={self.l1}, l2={self.l2})"


def _incoming_axes(module, name, p):
    """Axes of ``p`` that hold one unit's incoming weights.

    A module may say so in a dict attribute ``incoming_axes`` (name -> axes): a
    layer whose 2-D parameter holds a row per unit declares axis 1 (``RBF``'s
    ``centers``, (n_centers, in_features); ``Embedding``'s ``W``, a vector per
    row). Otherwise a 2-D weight is (in_features, out_features), a column per
    unit (axis 0), and a higher one is (out_channels, in_channels, *kernel), as
    PyTorch's convolutions (every axis but the first). None: the parameter holds
    no unit's whole incoming vector (a module declares ``None``; LSTM peepholes,
    a row per gate, are known here), so MaxNorm leaves it alone.
    """
    declared = getattr(module, "incoming_axes", None)
    if declared and name in declared:
        return None if declared[name] is None else tuple(declared[name])
    if name == "P" and getattr(module, "peephole", False):
        return None  # LSTM peepholes (3, H): one weight into each of three gates' units
    return (0,) if p.ndim == 2 else tuple(range(1, p.ndim))


class MaxNorm(Regularizer):
    """After each update, scale every unit's incoming weight vector down to norm <= c.

    A unit's vector is a column of a dense weight (in_features, out_features), a
    filter of a convolution kernel, and a row where a layer declares it in its
    ``incoming_axes`` (an RBF centre, an embedding vector).

    Parameters
    ----------
    c : float
        The maximum L2 norm (the notes' ||w||_2 < c); typical values 3 or 4.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> layer = rb.nn.Dense(2, 1)
    >>> layer.W.data[:] = [[30.0], [40.0]]
    >>> rb.regularizers.MaxNorm(5.0).after_step(layer)
    >>> layer.W.data.ravel().tolist()
    [3.0, 4.0]
    """

    def __init__(self, c):
        if isinstance(c, bool) or not isinstance(c, (int, float, np.integer, np.floating)) \
                or not math.isfinite(c) or not c > 0:
            raise ValueError(f"MaxNorm: c must be a finite positive number; got {c!r}")
        self.c = float(c)

    def after_step(self, model):
        for module, name, item in _named_items(model):
            if item.ndim < 2 or not item.requires_grad or name in _not_weights(module):
                continue
            axes = _incoming_axes(module, name, item)
            if axes is None:
                continue
            w = item.data
            # half precision: the sum of squares in float32 (300^2 + 400^2 overflows float16)
            live = w if w.dtype.itemsize >= 4 else w.astype(np.float32)
            mask = connection_mask(module, item)
            if mask is not None:  # only the connections that exist make up a unit's norm
                live = live * mask
            norms = np.sqrt(np.sum(np.square(live), axis=axes, keepdims=True))
            too_long = norms > self.c
            if too_long.any():
                w *= np.where(too_long, self.c / np.maximum(norms, 1e-30), 1).astype(w.dtype)


class InputNoise(Regularizer):
    """Add N(0, std^2) noise to the training inputs (the notes' "input noise").

    Parameters
    ----------
    std : float

    Notes
    -----
    Float inputs keep their dtype; integer (or bool) inputs, such as raw pixel
    counts, come back as float64 with the noise added.
    """

    def __init__(self, std):
        self.std = _check_strength(std, "std", "InputNoise")

    def transform_input(self, x, rng=None):
        x = np.asarray(x)
        if not self.std:
            return x
        # integer (or bool) inputs get float64 noise: casting it to int would truncate it
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        noise = resolve_rng(rng).standard_normal(x.shape).astype(dtype, copy=False)
        noise *= dtype.type(self.std)
        return x + noise


def collect(model, regularizers=()):
    """The model's own ``regularizers`` followed by ``regularizers``.

    Only the list of ``model`` itself is read, not those of its sub-modules: a regularizer
    acts on the model it is handed (``penalty(model)``, ``after_step(model)``, and
    ``transform_input`` on the model's input), so a sub-module's list cannot be applied as
    it stands. A sub-module that carries a non-empty list (a layer given one, a model with
    its own penalties nested in a larger one) gets a ``UserWarning`` naming it, rather than
    being trained without them in silence: move them to the outer model's list, or pass them
    to ``rb.fit(regularizers=...)``.

    Raises
    ------
    TypeError
        If an item is not a regularizer (an object with ``penalty``,
        ``after_step`` and ``transform_input``, as :class:`Regularizer` has).
    """
    for index, module in enumerate(model.modules() if hasattr(model, "modules") else ()):
        if index and tuple(getattr(module, "regularizers", ()) or ()):
            warnings.warn(
                f"regularizers: {type(module).__name__} (model.modules()[{index}]) has "
                f"regularizers of its own, which are not applied: only the model's own list "
                f"(model.regularizers) and those given to rb.fit are; move them there",
                UserWarning, stacklevel=3)
    own = list(getattr(model, "regularizers", ()) or ())
    if isinstance(regularizers, Regularizer):
        regularizers = [regularizers]
    found = own + [r for r in (regularizers or ()) if r not in own]
    for r in found:
        if not all(callable(getattr(r, hook, None))
                   for hook in ("penalty", "after_step", "transform_input")):
            raise TypeError(
                f"regularizers: expected rb.regularizers objects (L2(lam), L1(lam), "
                f"ElasticNet(l1, l2), MaxNorm(c), InputNoise(std) or a Regularizer "
                f"subclass); got {type(r).__name__} {r!r}")
    return found


def penalty(regularizers, model):
    """The sum of the regularizers' penalties (a Tensor), or None when there is none."""
    total = None
    for r in regularizers:
        term = r.penalty(model)
        if term is not None:
            total = term if total is None else total + term
    return total


def after_step(regularizers, model):
    """Run every regularizer's ``after_step``."""
    for r in regularizers:
        r.after_step(model)


def transform_input(regularizers, x, rng=None):
    """Pass a training batch's inputs through every regularizer's ``transform_input``."""
    for r in regularizers:
        x = r.transform_input(x, rng)
    return x
