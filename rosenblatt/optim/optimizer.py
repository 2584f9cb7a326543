"""The optimizer base class (notes: "Training algorithms").

Every optimizer owns one flat :class:`~rosenblatt.nn.ParameterVector`: the
model's parameters are views into ``vec.data`` and their gradients views into
``vec.grad``. A step is then one short function over flat arrays,
``rule(theta, grad, state...)``, whatever the number of layers: the same
handful of NumPy operations for a 2-layer and a 20-layer network.

Frozen parameters (``requires_grad`` False when the optimizer is built) are
not packed at all, so they cost nothing and never move, not even after
``unfreeze()``: this optimizer does not hold them (PyTorch's keeps them in its
parameter groups), so build a new optimizer after unfreezing them (``rb.fit``
warns when it meets this case; a loop of your own does not). Parameters frozen
*later* (fine-tuning) are found at each step (one cheap pass over the
parameter list) and restored after the update, with their slices of the
state arrays (momentum, moments, accumulators), so they do not move and,
as in PyTorch (where a parameter without a gradient is skipped), training
continues from their state when they are unfrozen. The rules that read a
step count (Adam's bias correction, Adagrad's ``lr_decay``) read each
parameter's own, as PyTorch's ``state["step"]``: the steps that skipped it
do not count (:attr:`Optimizer.param_steps`).

A parameter whose ``grad`` is None at a step (no gradient reached it since
``zero_grad()``: a head not used by this batch's loss, or ``p.grad = None``
set by hand) is skipped as PyTorch skips it: it keeps its theta and its
slices of the state (no momentum, no moment update, no weight decay), by the
same restoring as a frozen parameter; ``vec.grad`` still reads zeros there.
Clipping, gradient noise and the data-parallel exchanges (over threads and
MPI ranks: a parameter no part's gradient reached) keep such a ``grad`` None;
anything else that reads ``vec.grad`` before the step (a callback) fills the
slot with zeros, and the parameter then steps on a zero gradient.
An array assigned by hand (``p.grad = g``) is copied into the parameter's
slot at the next step.

Hyper-parameters are plain attributes (``opt.momentum = 0.5``); a value
written that way is checked at the next step, as the constructor checks it
(one tuple comparison per step while nothing changes).
"""

import inspect
import operator

import numpy as np

from ..autodiff.tensor import Tensor
from ..checks import positive_float, unit_interval
from ..nn.parameter import ParameterVector, one_dtype


def _type_name(value):
    """``value``'s type, with its module where it is not a builtin nor rosenblatt's own
    (``torch.Tensor``, ``numpy.ndarray``): rb's class is also called Tensor."""
    cls = type(value)
    module = cls.__module__.split(".")[0]
    if module in ("builtins", "rosenblatt"):
        return cls.__name__
    return f"{module}.{cls.__name__}"


_GROUPS = ("parameter groups (dicts, PyTorch's per-group options) are not supported: build "
           "one optimizer per group, each with its own options")


def pack(params, where="optimizer"):
    """A ParameterVector over the trainable ``params`` (or ``params`` itself if it is one).

    Parameters
    ----------
    params : ParameterVector or iterable of Parameter
        Parameters with ``requires_grad`` False are left out. The trainable ones must
        share one dtype: the vector is one array, and casting them to a common dtype
        would change the model (a float16 embedding made float32, a float32 model made
        float64 by one float64 layer) as a side effect of building an optimizer.
    where : str, default "optimizer"
        The name the dtype error starts with (the optimizer's class).

    Raises
    ------
    TypeError
        If ``params`` or an item is not a Parameter/Tensor of rosenblatt (a dict: parameter
        groups, a NumPy array, a torch tensor), or the trainable parameters have several
        dtypes (the message names them and says to call ``model.astype``).
    ValueError
        If there is nothing to train, or an item is the result of an operation (a non-leaf
        Tensor, such as ``w.T`` or ``w * 2``: the optimizer would move a copy, never ``w``).
    """
    if isinstance(params, ParameterVector):
        return params
    if isinstance(params, Tensor):
        params = [params]
    if isinstance(params, dict):
        raise TypeError(f"optimizer: params must be a list of Parameters "
                        f"(model.parameters()); got a dict: {_GROUPS}")
    if hasattr(params, "__array__"):  # an array: iterating it would give its numbers
        raise TypeError(
            f"optimizer: params must be a list of Parameters (model.parameters()) or a "
            f"ParameterVector; got a {_type_name(params)} (wrap an array in "
            f"rb.nn.Parameter)")
    try:
        params = list(params)
    except TypeError:
        raise TypeError(
            f"optimizer: params must be a list of Parameters (model.parameters()) or a "
            f"ParameterVector; got {_type_name(params)}"
        ) from None
    for i, p in enumerate(params):
        if isinstance(p, dict):
            raise TypeError(f"optimizer: params[{i}] is a dict: {_GROUPS}")
        if not isinstance(p, Tensor):
            raise TypeError(
                f"optimizer: params must contain Parameters; got a {_type_name(p)} "
                f"(params[{i}]): rosenblatt's rb.nn.Parameter, whose data is a NumPy array")
        if not p.is_leaf:  # as torch.optim: its gradient never reaches a parameter's slot
            raise ValueError(
                f"optimizer: can't optimize a non-leaf Tensor (params[{i}], shape "
                f"{p.shape}, the result of an operation such as w.T, w.reshape(...) or "
                f"w * 2); pass the Parameter itself")
    trainable = [(i, p) for i, p in enumerate(params) if p.requires_grad]
    if not trainable:
        raise ValueError(
            "optimizer: got no trainable parameters (empty list, or every parameter is frozen)"
        )
    dtype = one_dtype([p for _, p in trainable], where,
                      [getattr(p, "name", None) or f"params[{i}]" for i, p in trainable],
                      "Cast the model to one dtype before building the optimizer "
                      "(model.astype(np.float32)), or build one optimizer per dtype "
                      "(params[i] is the i-th of model.parameters())")
    return ParameterVector([p for _, p in trainable], dtype=dtype)


def flat_same(*arrays):
    """True when the arrays are contiguous 1-D float arrays of one dtype and size: the case
    the compiled update kernels take (``rosenblatt.autodiff._kernels``)."""
    first = arrays[0]  # no half-precision kernels: float16 takes the NumPy path
    return first.dtype in (np.float32, np.float64) and all(
        a.ndim == 1 and a.dtype == first.dtype and a.flags.c_contiguous
        and a.shape == first.shape for a in arrays)


def unreached(vec):
    """The parameters of ``vec`` whose ``grad`` is None: no gradient reached them since
    ``zero_grad()``. Reading ``vec.grad`` fills their slots with zeros; whoever reads it and
    writes it in place before a step (clipping, gradient noise) sets their ``grad`` back to
    None afterwards, so that the step still skips them (one pass of identity tests)."""
    return [p for p in vec.params if p.grad is None]


def as_pair(value):
    """``value`` as a tuple of two items if it is a pair (a tuple, a list, a 1-D NumPy array
    of length 2), else None (the caller raises, naming the argument)."""
    if isinstance(value, (tuple, list)) or (isinstance(value, np.ndarray) and value.ndim == 1):
        if len(value) == 2:
            return tuple(v.item() if isinstance(v, np.generic) else v for v in value)
    return None


def check_state_keys(name, state, keys):
    """Raise ValueError unless the dict ``state`` has ``t`` and no key but ``algorithm``,
    ``t`` and ``keys``: a PyTorch state dict, an empty one or a misspelt key would otherwise
    load as nothing (training resumed from zero moments, silently)."""
    known = {"algorithm", "t", *keys}
    unknown = sorted(str(k) for k in state if k not in known)
    if len(unknown) > 6:
        unknown = [*unknown[:5], f"... {len(unknown) - 5} more"]
    if unknown or "t" not in state:
        torch_like = " (PyTorch's state_dict, 'state' and 'param_groups', cannot be loaded " \
                     "here)" if "param_groups" in state else ""
        what = f"unknown keys {unknown}" if unknown else "no 't' (the steps taken)"
        raise ValueError(
            f"{name}.load_state_dict: not a state that {name}.state_dict() returned: "
            f"{what}{torch_like}; expected 'algorithm', 't' and some of "
            f"{sorted(known - {'algorithm', 't'})}")


def fill_normal(rng, out):
    """Fill ``out`` with standard normal draws from ``rng``, in place (no allocation for floats)."""
    if out.dtype in (np.float32, np.float64):
        rng.standard_normal(out=out, dtype=out.dtype)
    else:
        out[...] = rng.standard_normal(out.shape)


def hyperparameters_changed(current, checked):
    """Whether the tuple ``current`` differs from ``checked``, the values last checked (None:
    never checked). The checked values are the objects the check put on the attributes, so
    unchanged ones compare by identity, without ``==``; a NumPy array written since (whose
    ``==`` is element-wise, its truth value ambiguous) counts as changed."""
    try:
        return current != checked
    except ValueError:
        return True


def _is_number(value):
    return not isinstance(value, bool) and isinstance(value, (int, float, np.number))


_TAKES_KEEP = {}  # optimizer class -> whether its _update takes keep=


def _takes_keep(cls):
    """Whether ``cls._update`` takes ``keep`` (theta before the step, written in its pass)."""
    known = _TAKES_KEEP.get(cls)
    if known is None:
        known = _TAKES_KEEP[cls] = "keep" in inspect.signature(cls._update).parameters
    return known


_HP_VALUES = {}  # optimizer class -> (names, getter of their values as a tuple), lr left out


def _hp_values(cls):
    """``(names, get)``: the hyper-parameters other than ``lr`` and a C-level getter of their
    current values as one tuple (compared each step with the values last checked)."""
    known = _HP_VALUES.get(cls)
    if known is None:
        names = tuple(k for k in cls.hyperparameters if k != "lr")
        get = operator.attrgetter(*names) if len(names) > 1 else _Values(names)
        known = _HP_VALUES[cls] = (names, get)
    return known


class _Values:
    """The tuple of ``obj``'s values of ``names``, for fewer than two names (where
    ``attrgetter`` gives no tuple); picklable, as the optimizer that holds it."""

    def __init__(self, names):
        self.names = names

    def __call__(self, obj):
        return tuple(getattr(obj, name) for name in self.names)


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
    param_steps : ndarray of int or None
        Where the rule reads a step count (:attr:`per_parameter_steps`: Adam, Adagrad):
        the steps each parameter took, one per parameter, a step that skipped it (its
        ``grad`` None, or frozen) not counted, as PyTorch's per-parameter
        ``state["step"]``; None while every parameter took every step (each count is
        then ``t``).
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
    #: keys that a subclass's :meth:`state_dict` writes besides ``algorithm``, ``t``, the
    #: hyper-parameters and the state arrays (:meth:`load_state_dict` refuses any others)
    extra_state_keys = ()

    def __init__(self, params, lr):
        self.vec = pack(params, type(self).__name__)
        # the hyper-parameters but lr: their values when last checked, and a getter of them
        self._hp_names, self._hp_get = _hp_values(type(self))
        self._hp_checked = None
        self.t = 0
        self.param_steps = None  # per parameter, where they differ (per_parameter_steps)
        self._counted_at = -1  # the t whose step param_steps counts already
        self._skipped = []  # the parameters the step leaves alone (_frozen)
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
        self._lr = positive_float(name, "lr", value, allow_zero=self.zero_lr_allowed)

    #: whether a number ``lr`` may be 0 (a step that moves nothing); LBFGS refuses it
    zero_lr_allowed = True

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
        """One pass over the parameters before a step: still packed (else raise)? Which are
        left alone by this step (their slices, to restore after the update): those frozen
        since packing and those whose ``grad`` is None (no gradient reached them since
        ``zero_grad()``; PyTorch skips them)? They go to
        ``self._skipped`` (SGD's momentum buffers begin only when a gradient comes). A
        ``p.grad`` that is not its slot (None, assigned by hand, or another parameter's slot:
        ``b.grad = a.grad``) is then brought in, by ``vec.grad``'s own test, so the step
        sees what ``vec.grad`` shows. Hyper-parameters written as attributes since the last
        check are checked here. (``grad``: the flat gradient, ``vec._grad``.)"""
        vec = self.vec
        frozen = []
        skipped = []
        stray = False
        for p, sl, home in zip(vec.params, vec.slices, vec._homes):
            if p.data.base is not data:
                vec.check_packed(f"{type(self).__name__}.step")  # raises, naming the fix
            if p.grad is not home:  # None or assigned by hand since the gradient was read
                stray = True
                if p.grad is None:
                    skipped.append(p)
                    frozen.append(sl)
                    continue
            if not p.requires_grad:
                skipped.append(p)
                frozen.append(sl)
        self._skipped = skipped
        if stray:  # as after clear_grad: None reads as zeros, a hand-set array is copied in
            vec._materialize()
            vec.check_packed(f"{type(self).__name__}.step")
        if hyperparameters_changed(self._hp_get(self), self._hp_checked):  # attributes
            self._set_hyperparameters(**dict(zip(self._hp_names, self._hp_get(self))))
            self._hp_checked = self._hp_get(self)
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

    def step(self, closure=None, *, keep=None):
        """Apply one update to theta from the current gradient.

        Parameters
        ----------
        closure : callable, optional
            PyTorch's calling convention: called first (with its own ``zero_grad()`` and
            ``backward()``, as in PyTorch) and its value returned. Not needed here: the
            gradient in place is used.
        keep : ndarray, optional
            Shaped like theta (``vec.data``): receives theta before the update. ``rb.fit``
            keeps the weights of the last finite loss this way. Rules whose ``_update``
            takes ``keep`` (SGD and Adam: their compiled pass writes it beside theta, no
            pass of its own) get it; for the others it is copied first. Keyword only.

        Returns
        -------
        object or None
            What ``closure()`` returned, or None without a closure.

        Raises
        ------
        TypeError
            If ``closure`` is not callable.
        ValueError
            If a hyper-parameter written as an attribute since the last step is one the
            constructor refuses (nothing moves).
        """
        loss = None
        if closure is not None:
            if not callable(closure):
                raise TypeError(
                    f"{type(self).__name__}.step: closure must be a function that computes "
                    f"the loss and its gradient (PyTorch's convention), or None; got "
                    f"{type(closure).__name__} (to keep theta before the step, pass "
                    f"keep= by keyword)")
            loss = closure()
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
        return loss

    def step_part(self, part):
        """The step of :meth:`step` on the slice ``part`` of theta alone.

        Every rule here is element-wise, so stepping the slices of a partition
        of theta one by one (each with the same slice of the gradient and of
        the state arrays) gives exactly :meth:`step`: a data-parallel rank
        steps its shard of the vector only (``rb.distributed.DataParallel``)
        and receives the others'. The state outside ``part`` is left as it
        was. Counts as one step (``t``, the schedule): to step several parts of one step
        in one process, set ``t`` back before each part. A parameter without a gradient
        (``grad`` None) keeps its ``grad`` None after the part, so the other parts skip it
        too, as :meth:`step` does.

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
        for p in self._skipped:  # the pass above filled a None grad with its zero slot
            if p.requires_grad:
                p.grad = None
        self.t += 1

    def _update(self, theta, grad):
        raise NotImplementedError

    #: whether the rule reads a step count: each parameter's own (:attr:`param_steps`)
    per_parameter_steps = False

    def _step_counts(self):
        """The number of this step (from 1) for each parameter: an int when it is the same
        for every parameter that steps, else an array, one per parameter (those skipped:
        any value, their slices are restored). The rules call it when a parameter is
        skipped at this step or :attr:`param_steps` is set (else the number is
        ``t + 1``); the counts advance once per step, whatever the parts
        (:meth:`step_part`) that step it."""
        params = self.vec.params
        if self._counted_at != self.t:
            self._counted_at = self.t
            stepped = np.ones(len(params), dtype=bool)
            if self._skipped:
                index = {id(p): i for i, p in enumerate(params)}
                stepped[[index[id(p)] for p in self._skipped]] = False
            if self.param_steps is None:
                self.param_steps = np.full(len(params), self.t, dtype=np.int64)
            self.param_steps += stepped
            self._stepped = stepped
        counts = self.param_steps[self._stepped]
        if not counts.size or counts.min() == counts.max():
            return int(counts[0]) if counts.size else self.t + 1
        return self.param_steps + 1 - self._stepped  # the skipped: their last count + 1

    def _count_runs(self, counts):
        """``[(slice of the theta being stepped, count)]``: the parameters' slices, adjacent
        ones of one count merged, a skipped parameter's with its neighbours' (it is
        restored after the step); within the part, in a :meth:`step_part`."""
        vec = self.vec
        part = getattr(self, "_part", None)
        lo, hi = (0, vec.size) if part is None else part.indices(vec.size)[:2]
        runs = []
        for sl, count, stepped in zip(vec.slices, counts, self._stepped):
            start, stop = max(sl.start, lo), min(sl.stop, hi)
            if start >= stop:
                continue
            if runs and (not stepped or runs[-1][2] == count):
                runs[-1][1] = stop - lo
            else:
                runs.append([start - lo, stop - lo, int(count)])
        return [(slice(a, b), count) for a, b, count in runs]

    #: whether float16 parameters step in float32 (state arrays float32, :meth:`_in_float32`):
    #: the rules that divide by a root plus eps (Adam, RMSprop, Adagrad), where eps (1e-8)
    #: rounds to 0 in float16, so a zero gradient gave 0/0, and a second moment that
    #: underflows beside a first moment that does not gave a huge step
    half_in_float32 = False

    def _state_dtype(self):
        """The dtype of the state arrays: the parameters', float32 for float16 parameters
        where :attr:`half_in_float32`."""
        dtype = self.vec.data.dtype
        return np.dtype(np.float32) if self.half_in_float32 and dtype.itemsize < 4 else dtype

    def _zeros(self):
        part = getattr(self, "_part", None)  # inside step_part: the part's size
        shape = self.vec.data.shape if part is None else self.vec.data[part].shape
        return np.zeros(shape, dtype=self._state_dtype())

    def _in_float32(self, theta, grad, keep):
        """``_update`` for float16 ``theta`` (see :attr:`half_in_float32`): the rule runs on
        float32 copies of theta and the gradient, with the float32 state, and theta gets the
        result rounded back. Costs two conversions a step, on float16 parameters only."""
        if keep is not None:
            np.copyto(keep, theta)
        work = theta.astype(np.float32)
        self._update(work, grad.astype(np.float32))
        np.copyto(theta, work, casting="same_kind")

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
        if self.per_parameter_steps:  # each parameter's steps (a state without: all t)
            state["steps"] = [int(self.t)] * len(self.vec.params) if self.param_steps is None \
                else [int(n) for n in self.param_steps]
        if getattr(self, "schedule", None) is not None:  # the factor on it (ReduceLROnPlateau)
            state["lr_scale"] = float(self.lr_scale)
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
        steps_key = ("steps",) if self.per_parameter_steps else ()
        check_state_keys(name, state, (*self.hyperparameters, *self.state_names,
                                       *self.extra_state_keys, *steps_key, "lr_scale"))
        if "lr_scale" in state:  # (an optimizer without a schedule keeps 1)
            positive_float(name, "lr_scale", state["lr_scale"], allow_zero=True)
        t = state["t"]
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 0:
            raise ValueError(f"{name}: t must be a non-negative integer (the steps taken); "
                             f"got {t!r}")
        steps = state.get("steps")
        if steps is not None:
            n = len(self.vec.params)
            if not isinstance(steps, (list, tuple, np.ndarray)) or len(steps) != n or not all(
                    isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                    and 0 <= s <= t for s in steps):
                raise ValueError(f"{name}.load_state_dict: steps must be {n} integers in "
                                 f"[0, t={t}] (each parameter's steps); got {steps!r:.60}")
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
            If the state is for another algorithm, has no ``t`` or a key that
            :meth:`state_dict` does not write (a PyTorch state dict, a misspelt key), its
            arrays have another size or are not numbers, or a hyper-parameter is one the
            constructor would refuse (everything is checked before anything is changed).
            Hyper-parameters and arrays left out keep their current values.
        TypeError
            If a switch is not True/False, or a number is not a number (as the constructor).
        """
        t, lr, hp, arrays = self._checked_state(state)
        self.t = t
        if self.per_parameter_steps:  # an older state (a count shared by all): every one t
            steps = state.get("steps")
            steps = None if steps is None else np.array(steps, dtype=np.int64)
            self.param_steps = None if steps is None or (steps == t).all() else steps
            self._counted_at = -1
        if lr is not None:
            self._lr = lr  # with a schedule too: the next step recomputes it
        if "lr_scale" in state:  # a state without (older, or no schedule) keeps the current
            self.lr_scale = state["lr_scale"]
        for key, value in hp.items():
            setattr(self, key, value)
        for key, value in arrays.items():
            current = getattr(self, key)
            if value is None:
                setattr(self, key, None)
            elif current is None or current.shape != value.shape:
                setattr(self, key, value.astype(self._state_dtype(), copy=True))
            else:
                current[...] = value
        return self

    def __repr__(self):
        hp = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.hyperparameters)
        return f"{type(self).__name__}({self.vec.size} values, {hp})"
