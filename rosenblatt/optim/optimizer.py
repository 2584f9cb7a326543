"""The optimizer base class (notes: "Training algorithms").

Every optimizer owns one flat :class:`~rosenblatt.nn.ParameterVector`: the
model's parameters are views into ``vec.data`` and their gradients views into
``vec.grad``. A step is then one short function over flat arrays,
``rule(theta, grad, state...)``, whatever the number of layers: the same
handful of NumPy operations for a 2-layer and a 20-layer network.

Frozen parameters (``requires_grad`` False when the optimizer is built) are
not packed at all, so they cost nothing and never move. Parameters frozen
*later* (fine-tuning) are found at each step (one cheap pass over the
parameter list) and restored after the update, with their slices of the
state arrays (momentum, moments, accumulators), so they do not move and,
as in PyTorch (where a parameter without a gradient is skipped), training
continues from their state when they are unfrozen. One difference remains:
the step count ``t`` (Adam's bias correction, Adagrad's ``lr_decay``) is
shared by all parameters, where PyTorch counts each parameter's own steps.

A gradient set to None by hand (``p.grad = None``, PyTorch's cheap
alternative to ``zero_grad()``) counts as zeros, and an array assigned by
hand (``p.grad = g``) is copied into the parameter's slot at the next step.
"""

import inspect

import numpy as np

from ..autodiff.tensor import Tensor
from ..checks import positive_float, unit_interval
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
    first = arrays[0]  # no half-precision kernels: float16 takes the NumPy path
    return first.dtype in (np.float32, np.float64) and all(
        a.ndim == 1 and a.dtype == first.dtype and a.flags.c_contiguous
        and a.shape == first.shape for a in arrays)


def fill_normal(rng, out):
    """Fill ``out`` with standard normal draws from ``rng``, in place (no allocation for floats)."""
    if out.dtype in (np.float32, np.float64):
        rng.standard_normal(out=out, dtype=out.dtype)
    else:
        out[...] = rng.standard_normal(out.shape)


def _is_number(value):
    return not isinstance(value, bool) and isinstance(value, (int, float, np.number))


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
        steps already taken, and its value times ``lr_scale`` becomes
        ``self.lr``. A value that is negative or not finite raises, naming
        the step.

    Attributes
    ----------
    vec : ParameterVector
        ``vec.data`` is theta, ``vec.grad`` its gradient.
    t : int
        Number of steps taken.
    lr : float
        The current learning rate. Writable when there is no schedule; with
        one, writing it raises (the schedule would overwrite it at the next
        step): scale the schedule with ``lr_scale`` instead.
    lr_scale : float
        A factor on the schedule's values, 1 to begin with
        (``rb.callbacks.ReduceLROnPlateau`` lowers it when there is a schedule).
        Not part of :meth:`state_dict`: whoever sets it keeps it (the callback
        saves it in its own state and sets it again when a run resumes).
    schedule : callable or None
    """

    hyperparameters = ("lr",)
    state_names = ()

    def __init__(self, params, lr):
        self.vec = pack(params)
        self.t = 0
        self.schedule = None
        self._lr_scale = 1.0
        if callable(lr):
            self.schedule = lr
            self._lr = self._scheduled_lr(0)
        else:
            self._lr = positive_float(type(self).__name__, "lr", lr, allow_zero=True)

    @property
    def lr_scale(self):
        """The factor on the schedule's values (1 to begin with); finite and >= 0."""
        return self._lr_scale

    @lr_scale.setter
    def lr_scale(self, value):
        self._lr_scale = positive_float(type(self).__name__, "lr_scale", value, allow_zero=True)

    @property
    def lr(self):
        """The learning rate of the next step (of the last one, with a schedule)."""
        return self._lr

    @lr.setter
    def lr(self, value):
        name = type(self).__name__
        if getattr(self, "schedule", None) is not None:
            raise ValueError(
                f"{name}: lr is driven by a schedule ({self.schedule!r}), which would "
                f"overwrite {value!r} at the next step; scale the schedule with "
                f"optimizer.lr_scale, or build the optimizer with a number as lr")
        self._lr = positive_float(name, "lr", value, allow_zero=True)

    def _scheduled_lr(self, t):
        """``schedule(t) * lr_scale``, checked: the rate the step ``t`` uses."""
        return positive_float(type(self).__name__, f"lr (schedule at t={t})",
                              self.schedule(t), allow_zero=True) * self.lr_scale

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
        frozen since packing (their slices, to restore after the update)? A ``p.grad`` that
        is not its slot (set to None, assigned by hand, or another parameter's slot: ``b.grad
        = a.grad``) is brought in first, by ``vec.grad``'s own test, so the step sees what
        ``vec.grad`` shows. (``grad``: the flat gradient, ``vec._grad``.)"""
        vec = self.vec
        frozen = []
        stray = False
        for p, sl, home in zip(vec.params, vec.slices, vec._homes):
            if p.data.base is not data:
                vec.check_packed(f"{type(self).__name__}.step")  # raises, naming the fix
            if p.grad is not home:  # None or assigned by hand since the gradient was read
                stray = True
            if not p.requires_grad:
                frozen.append(sl)
        if stray:  # as after clear_grad: None reads as zeros, a hand-set array is copied in
            vec._materialize()
            vec.check_packed(f"{type(self).__name__}.step")
        if self.schedule is not None:
            self._lr = self._scheduled_lr(self.t)
        return frozen

    def _keep_frozen(self, frozen):
        """(array, slice, values) to put back after the update: the frozen parameters' theta
        and their slices of every state array, so neither moves while they are frozen."""
        data = self.vec.data
        kept = [(data, sl, data[sl].copy()) for sl in frozen]
        for name in self.state_names:
            value = getattr(self, name, None)
            if isinstance(value, np.ndarray) and value.shape == data.shape:
                kept += [(value, sl, value[sl].copy()) for sl in frozen]
        return kept

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
        data, grad = vec.data, vec._grad  # _frozen's pass brings in what vec.grad would
        frozen = self._frozen(data, grad)
        kept = self._keep_frozen(frozen) if frozen else ()
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
        for array, sl, values in kept:
            array[sl] = values
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
        data, grad = vec.data, vec._grad  # _frozen's pass brings in what vec.grad would
        frozen = self._frozen(data, grad)
        kept = self._keep_frozen(frozen) if frozen else ()
        state = vars(self)
        # the per-parameter arrays (state and scratch), as views of the part while it steps;
        # the views are kept for the next step of the same part while the arrays stay the
        # same (none replaced, none made since, by step() or a rule switched on: a count of
        # the attributes, not a pass over the vector)
        key = (part.start, part.stop, id(data), id(grad))
        cache = state.get("_part_views")
        whole = [(k, v) for k, v in state.items()
                 if isinstance(v, np.ndarray) and v.shape == data.shape]
        if cache is None or cache[0] != key or len(whole) != len(cache[3]) \
                or any(state.get(k) is not v for k, v, _ in cache[3]):
            whole = [(k, v, v[part]) for k, v in whole]
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
        for array, sl, values in kept:
            array[sl] = values
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

    #: hyper-parameters (or pairs of them) that must lie in [0, 1), checked on loading by
    #: the generic :meth:`_checked_hyperparameters` (subclasses that do not define their own)
    unit_hyperparameters = ("betas", "momentum", "rho", "down", "dampening")

    def _checked_hyperparameter(self, key, value):
        """A loaded hyper-parameter, checked generically: numbers finite and >= 0 (in
        [0, 1) for ``unit_hyperparameters``), pairs element by element."""
        name = type(self).__name__

        def check(owner, what, v):
            if key in self.unit_hyperparameters:
                return unit_interval(owner, what, v)
            checked = positive_float(owner, what, v, allow_zero=True)
            return int(v) if isinstance(v, (int, np.integer)) else checked  # counts stay ints
        if isinstance(value, (list, tuple)):
            return tuple(check(name, f"{key}[{i}]", v) if _is_number(v) else v
                         for i, v in enumerate(value))
        return check(name, key, value) if _is_number(value) else value

    def _checked_hyperparameters(self, hp):
        """The hyper-parameters ``hp`` (a dict of all of them but ``lr``), checked as the
        constructor checks them, in their canonical types (pairs as tuples); raises
        ValueError/TypeError naming the bad one. The optimizers here check with the code
        their constructors run; this generic version is for subclasses that do not."""
        return {key: self._checked_hyperparameter(key, value) for key, value in hp.items()}

    def _set_hyperparameters(self, **hp):
        """Check ``hp`` with :meth:`_checked_hyperparameters` and set them as attributes (the
        constructors' way, so that loading a state checks exactly what they check)."""
        for key, value in self._checked_hyperparameters(hp).items():
            setattr(self, key, value)

    def _checked_state(self, state):
        """Everything :meth:`load_state_dict` sets, checked: ``(t, lr, hyper-parameters,
        arrays)``; raises before anything is changed."""
        name = type(self).__name__
        if not isinstance(state, dict):
            raise TypeError(f"{name}.load_state_dict: expected the dict that state_dict() "
                            f"returned; got {type(state).__name__}")
        if state.get("algorithm", name) != name:
            raise ValueError(
                f"{name}.load_state_dict: the state is for {state['algorithm']}, not {name}"
            )
        t = state.get("t", self.t)
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 0:
            raise ValueError(f"{name}: t must be a non-negative integer (the steps taken); "
                             f"got {t!r}")
        lr = positive_float(name, "lr", state["lr"], allow_zero=True) if "lr" in state \
            else None
        # every hyper-parameter together (the state's over the current ones): the
        # constructor's checks include pairs (nesterov needs momentum > 0)
        hp = {key: state.get(key, getattr(self, key))
              for key in self.hyperparameters if key != "lr"}
        hp = self._checked_hyperparameters(hp)
        arrays = {}
        shape = self.vec.data.shape
        for key in self.state_names:
            if key not in state:
                continue
            value = state[key]
            if value is not None:
                try:
                    value = np.asarray(value)
                except (TypeError, ValueError):  # ragged nested lists
                    value = np.asarray(value, dtype=object)
                if value.dtype.kind not in "biuf":
                    raise ValueError(f"{name}.load_state_dict: {key} must be an array of "
                                     f"numbers; got dtype {value.dtype}")
                if value.shape != shape:
                    raise ValueError(f"{name}.load_state_dict: {key} has shape {value.shape}; "
                                     f"the parameters need {shape}")
            arrays[key] = value
        return int(t), lr, hp, arrays

    def load_state_dict(self, state):
        """Restore hyper-parameters, ``t`` and state arrays (in place); returns self.

        Raises
        ------
        ValueError
            If the state is for another algorithm, its arrays have another size or are not
            numbers, or a hyper-parameter is one the constructor would refuse (everything
            is checked before anything is changed).
        TypeError
            If a switch is not True/False, or a number is not a number (as the constructor).
        """
        t, lr, hp, arrays = self._checked_state(state)
        self.t = t
        if lr is not None:
            self._lr = lr  # with a schedule too: the next step recomputes it
        for key, value in hp.items():
            setattr(self, key, value)
        for key, value in arrays.items():
            current = getattr(self, key)
            if value is None:
                setattr(self, key, None)
            elif current is None or current.shape != value.shape:
                setattr(self, key, value.astype(self.vec.data.dtype, copy=True))
            else:
                current[...] = value
        return self

    def __repr__(self):
        hp = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.hyperparameters)
        return f"{type(self).__name__}({self.vec.size} values, {hp})"
