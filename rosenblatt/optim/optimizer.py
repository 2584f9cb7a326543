"""The optimizer base class (notes: "Training algorithms").

Every optimizer owns one flat :class:`~rosenblatt.nn.ParameterVector`: the
model's parameters are views into ``vec.data`` and their gradients views into
``vec.grad``. A step is then one short function over flat arrays,
``rule(theta, grad, state...)``, whatever the number of layers: the same
handful of NumPy operations for a 2-layer and a 20-layer network.

Frozen parameters (``requires_grad`` False when the optimizer is built) are
not packed at all, so they cost nothing and never move. Parameters frozen
*later* (fine-tuning) are found at each step (one cheap pass over the
parameter list) and restored after the update, so they do not move either.
"""

import inspect

import numpy as np

from ..autodiff.tensor import Tensor
from ..checks import positive_float
from ..nn.parameter import ParameterVector


def pack(params):
    """A ParameterVector over the trainable ``params`` (or ``params`` itself if it is one).

    Parameters
    ----------
    params : ParameterVector or iterable of Parameter
        Parameters with ``requires_grad`` False are left out.

    Raises
    ------
    TypeError
        If an item is not a Parameter/Tensor.
    ValueError
        If there is nothing to train.
    """
    if isinstance(params, ParameterVector):
        return params
    if isinstance(params, Tensor):
        params = [params]
    try:
        params = list(params)
    except TypeError:
        raise TypeError(
            f"optimizer: params must be a list of Parameters (model.parameters()) or a "
            f"ParameterVector; got {type(params).__name__}"
        ) from None
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(
                f"optimizer: params must contain Parameters; got a {type(p).__name__}"
            )
    trainable = [p for p in params if p.requires_grad]
    if not trainable:
        raise ValueError(
            "optimizer: got no trainable parameters (empty list, or every parameter is frozen)"
        )
    return ParameterVector(trainable)


def flat_same(*arrays):
    """True when the arrays are contiguous 1-D float arrays of one dtype and size: the case
    the compiled update kernels take (``rosenblatt.autodiff._kernels``)."""
    first = arrays[0]
    return first.dtype.kind == "f" and all(
        a.ndim == 1 and a.dtype == first.dtype and a.flags.c_contiguous
        and a.shape == first.shape for a in arrays)


def fill_normal(rng, out):
    """Fill ``out`` with standard normal draws from ``rng``, in place (no allocation for floats)."""
    if out.dtype in (np.float32, np.float64):
        rng.standard_normal(out=out, dtype=out.dtype)
    else:
        out[...] = rng.standard_normal(out.shape)


_TAKES_KEEP = {}  # optimizer class -> whether its _update takes keep=


def _takes_keep(cls):
    """Whether ``cls._update`` takes ``keep`` (theta before the step, written in its pass)."""
    known = _TAKES_KEEP.get(cls)
    if known is None:
        known = _TAKES_KEEP[cls] = "keep" in inspect.signature(cls._update).parameters
    return known


class Optimizer:
    """Base class: flat parameters, ``zero_grad``, ``step``, state dicts.

    Subclasses list their hyper-parameters in ``hyperparameters`` (public
    attributes) and their per-parameter state arrays in ``state_names``
    (attributes holding arrays shaped like the flat vector), and implement
    :meth:`_update`, which applies the rule to ``(theta, grad)``.

    Parameters
    ----------
    params : iterable of Parameter or ParameterVector
    lr : float or callable
        The learning rate; a schedule (``rb.optim.schedules``, any callable
        ``t -> lr``) is evaluated before each step with ``t`` the number of
        steps already taken, and its value written to ``self.lr``.

    Attributes
    ----------
    vec : ParameterVector
        ``vec.data`` is theta, ``vec.grad`` its gradient.
    t : int
        Number of steps taken.
    lr : float
        The current learning rate (readable and writable).
    schedule : callable or None
    """

    hyperparameters = ("lr",)
    state_names = ()

    def __init__(self, params, lr):
        self.vec = pack(params)
        self.t = 0
        self.schedule = None
        if callable(lr):
            self.schedule = lr
            lr = lr(0)
        self.lr = positive_float(type(self).__name__, "lr", lr, allow_zero=True)

    # -- the loop's interface ---------------------------------------------------
    @property
    def params(self):
        """The packed parameters."""
        return self.vec.params

    def zero_grad(self, set_to_none=True):
        """Clear the gradients before the next backward.

        Parameters
        ----------
        set_to_none : bool, default True
            As in PyTorch: each parameter's ``grad`` becomes None, and backward
            writes the next gradient straight into the flat vector, skipping a
            fill and an accumulation pass; ``vec.grad`` still reads as the full
            gradient (zeros where none arrived). False fills zeros in place.
        """
        if set_to_none:
            self.vec.clear_grad()
        else:
            self.vec.zero_grad()

    def _frozen(self, data, grad):
        """One pass over the parameters before a step: still packed (else raise)? Which were
        frozen since packing (their slices, to restore after the update)?"""
        vec = self.vec
        frozen = []
        for p, sl in zip(vec.params, vec.slices):
            g = p.grad
            if p.data.base is not data or g is None or g.base is not grad:
                vec.check_packed(f"{type(self).__name__}.step")  # raises, naming the fix
            if not p.requires_grad:
                frozen.append(sl)
        if self.schedule is not None:
            self.lr = float(self.schedule(self.t))
        return frozen

    def step(self, keep=None):
        """Apply one update to theta from the current gradient.

        Parameters
        ----------
        keep : ndarray, optional
            Shaped like theta (``vec.data``): receives theta before the update. ``rb.fit``
            keeps the weights of the last finite loss this way. Rules whose ``_update``
            takes ``keep`` (SGD and Adam: their compiled pass writes it beside theta, no
            pass of its own) get it; for the others it is copied first.
        """
        vec = self.vec
        data, grad = vec.data, vec.grad
        frozen = self._frozen(data, grad)
        if frozen:
            kept = [data[sl].copy() for sl in frozen]
        if keep is None:
            self._update(data, grad)  # grad was read above: the slots are filled already
        else:
            if keep.shape != data.shape or keep.dtype != data.dtype:
                raise ValueError(f"{type(self).__name__}.step: keep must be shaped like theta "
                                 f"{data.shape} {data.dtype}; got {keep.shape} {keep.dtype}")
            if _takes_keep(type(self)):
                self._update(data, grad, keep=keep)
            else:
                np.copyto(keep, data)
                self._update(data, grad)
        if frozen:
            for sl, values in zip(frozen, kept):
                data[sl] = values
        self.t += 1

    def step_part(self, part):
        """The step of :meth:`step` on the slice ``part`` of theta alone.

        Every rule here is element-wise, so stepping the slices of a partition
        of theta one by one (each with the same slice of the gradient and of
        the state arrays) gives exactly :meth:`step`: a data-parallel rank
        steps its shard of the vector only (``rb.distributed.DataParallel``)
        and receives the others'. The state outside ``part`` is left as it
        was. Counts as one step (``t``, the schedule).

        Parameters
        ----------
        part : slice
            A slice of ``range(vec.size)`` with step 1.
        """
        vec = self.vec
        data, grad = vec.data, vec.grad
        frozen = self._frozen(data, grad)
        if frozen:
            kept = [data[sl].copy() for sl in frozen]
        state = vars(self)
        # the per-parameter arrays (state and scratch), as views of the part while it steps;
        # the views are kept for the next step of the same part while the arrays stay
        key = (part.start, part.stop, id(data), id(grad))
        cache = state.get("_part_views")
        if cache is None or cache[0] != key or any(state.get(k) is not v
                                                   for k, v, _ in cache[3]):
            whole = [(k, v, v[part]) for k, v in state.items()
                     if isinstance(v, np.ndarray) and v.shape == data.shape]
            state["_part_views"] = None
            cache = state["_part_views"] = (key, data[part], grad[part], whole, frozenset(state))
        unset = [k for k, v in state.items() if v is None]
        for k, _, view in cache[3]:
            state[k] = view
        state["_part"] = part
        try:
            self._update(cache[1], cache[2])
        finally:
            del state["_part"]
            for k, v, _ in cache[3]:
                state[k] = v
            made = [k for k in unset if isinstance(state.get(k), np.ndarray)]
            if len(state) != len(cache[4]):
                made += [k for k in state if k not in cache[4]]
            for k in made:  # state the rule made on the way (lazily), grown to the whole vector
                v = state[k]
                if isinstance(v, np.ndarray) and v.shape == cache[1].shape:
                    grown = np.zeros(data.shape, dtype=v.dtype)
                    grown[part] = v
                    state[k] = grown
                    state.pop("_part_views", None)  # made again, with it, next time
        if frozen:
            for sl, values in zip(frozen, kept):
                data[sl] = values
        self.t += 1

    def _update(self, theta, grad):
        raise NotImplementedError

    def _zeros(self):
        part = getattr(self, "_part", None)  # inside step_part: the part's size
        return np.zeros_like(self.vec.data if part is None else self.vec.data[part])

    def _decayed_grad(self, theta, grad, weight_decay):
        """``grad + weight_decay * theta`` in a reused buffer (``grad`` itself when 0)."""
        if not weight_decay:
            return grad
        buf = getattr(self, "_decay_buf", None)
        if buf is None:
            buf = self._decay_buf = self._zeros()
        np.multiply(theta, weight_decay, out=buf)
        buf += grad
        return buf

    # -- state ------------------------------------------------------------------
    def state_dict(self):
        """Plain values: hyper-parameters (numbers, lists), ``t``, and state arrays (copies).

        Arrays are ``numpy.ndarray`` values; everything else is JSON-able, so
        a checkpoint can store the arrays as safetensors and the rest as JSON.
        """
        state = {"algorithm": type(self).__name__, "t": int(self.t)}
        for name in self.hyperparameters:
            value = getattr(self, name)
            state[name] = list(value) if isinstance(value, tuple) else value
        for name in self.state_names:
            value = getattr(self, name)
            state[name] = None if value is None else np.array(value, copy=True)
        return state

    def load_state_dict(self, state):
        """Restore hyper-parameters, ``t`` and state arrays (in place); returns self.

        Raises
        ------
        ValueError
            If the state is for another algorithm or its arrays have another size.
        """
        name = type(self).__name__
        if state.get("algorithm", name) != name:
            raise ValueError(
                f"{name}.load_state_dict: the state is for {state['algorithm']}, not {name}"
            )
        self.t = int(state.get("t", self.t))
        for key in self.hyperparameters:
            if key in state:
                value = state[key]
                setattr(self, key, tuple(value) if isinstance(value, list) else value)
        for key in self.state_names:
            if key not in state:
                continue
            value = state[key]
            if value is None:
                setattr(self, key, None)
                continue
            value = np.asarray(value)
            if value.shape != self.vec.data.shape:
                raise ValueError(
                    f"{name}.load_state_dict: {key} has shape {value.shape}; the parameters "
                    f"need {self.vec.data.shape}"
                )
            current = getattr(self, key)
            if current is None or current.shape != value.shape:
                setattr(self, key, value.astype(self.vec.data.dtype, copy=True))
            else:
                current[...] = value
        return self

    def __repr__(self):
        hp = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.hyperparameters)
        return f"{type(self).__name__}({self.vec.size} values, {hp})"
