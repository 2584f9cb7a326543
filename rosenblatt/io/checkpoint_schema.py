"""The schema of a training checkpoint: every field checked before training resumes (issue 24).

A checkpoint written by ``rb.callbacks.Checkpoint`` (``Trainer.save_checkpoint``) holds, besides
the model, the optimizer's ``state_dict()`` and the metadata::

    {"epoch": int >= 0,
     "generators": {name: numpy bit-generator state},
     "history": {"epoch": [int], "history": {name: [number]}, "stop_reason": str | None},
     "callbacks": [dict | None, ...]}

:func:`check_training_metadata` checks that layout on its own (``rb.io.load_checkpoint`` runs it
on every file that holds a training checkpoint's metadata; the History's lists hold one value per
recorded epoch, in order, at least one per epoch that "epoch" counts); :func:`check_checkpoint`
also checks a checkpoint against the run about to resume from it: the History's epochs against
"epoch", the optimizer state against the live optimizer's own ``state_dict()`` (same keys,
numbers where it has numbers, finite arrays of its shapes), each generator state against the
generator it will be loaded into (one state for each of the run's generators, none else), a
monitoring callback's "best" (a number, not NaN, infinite only as its mode's starting value),
the callbacks' states by loading them into copies. Every
problem is a :class:`FormatError` naming the field
(``optimizer state "lr" = "x": expected a finite number``), raised before anything is changed,
never a raw exception epochs later.
"""

import copy
import math
import os

import numpy as np

from ..nn.module import Module
from .errors import FormatError

MAX_EPOCH = 2**53  # an epoch counter beyond this is not a count of epochs that ran
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_CALLBACK_INTS = ("wait", "best_epoch", "stopped_epoch")
_FLOAT32_MAX = float(np.finfo(np.float32).max)
# the ranges the optimizers' constructors accept for these hyper-parameters
_RANGES = {"lr": (0.0, _FLOAT32_MAX, True), "eps": (0.0, _FLOAT32_MAX, True),
           "weight_decay": (0.0, _FLOAT32_MAX, True), "lr_decay": (0.0, _FLOAT32_MAX, True),
           "betas": (0.0, 1.0, False), "rho": (0.0, 1.0, False),
           "momentum": (0.0, 1.0, False), "dampening": (0.0, 1.0, False)}  # as unit_interval

# optimizer state keys added after checkpoints were first written (2026-12-05: SGD's
# dampening, Adam's amsgrad, decoupled weight decay and running maximum): a file without them
# resumes, the optimizer keeping the values it was built with; SGD's momentum_unstarted
# (which momentum buffers have not begun yet: without it, all began after step 0); Adam's and
# Adagrad's steps (2026-12-06: each parameter's step count; without it, every one is t)
_ADDED_LATER = ("dampening", "amsgrad", "decoupled_weight_decay", "v_max",
                "momentum_unstarted", "steps", "lr_scale")


def _show(value, limit=60):
    text = repr(value)
    if isinstance(value, np.ndarray):
        text = f"an array of shape {value.shape}"
    return text if len(text) <= limit else text[:limit] + "..."


def _fail(field, value, expected):
    raise FormatError(f"checkpoint {field} = {_show(value)}: expected {expected}")


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))


_WRITTEN = ("epoch", "generators", "history", "callbacks")  # by every checkpoint writer


def is_training_checkpoint(metadata):
    """Whether ``metadata`` has every field a training checkpoint writes ("epoch",
    "generators", "history", "callbacks").

    Only for files written before training checkpoints were marked (``rb.save(...,
    training_checkpoint=True)``): a user's own ``{"epoch": 2, "history": [0.9, 0.7]}`` is
    not one.
    """
    return isinstance(metadata, dict) and all(key in metadata for key in _WRITTEN)


def check_training_metadata(metadata):
    """Check a training checkpoint's metadata against the schema; raise FormatError naming a field.

    Examples
    --------
    >>> from rosenblatt.io.checkpoint_schema import check_training_metadata
    >>> check_training_metadata({"epoch": 2, "history": {"epoch": [0, 1]}})
    >>> check_training_metadata({"epoch": "abc"})
    Traceback (most recent call last):
    ...
    rosenblatt.io.errors.FormatError: checkpoint "epoch" = 'abc': expected an integer in [0, 2**53]
    """
    if not isinstance(metadata, dict):
        _fail("metadata", metadata, "a dict")
    epoch = metadata.get("epoch")
    if not _is_int(epoch) or not 0 <= epoch <= MAX_EPOCH:
        _fail('"epoch"', epoch, "an integer in [0, 2**53]")
    _check_history(metadata.get("history", {}))
    recorded = (metadata.get("history") or {}).get("epoch", [])
    if "history" in metadata and len(recorded) < epoch:  # every epoch done appends one entry
        _fail('"history"["epoch"]', recorded, f'the {epoch} epochs that "epoch" counts (or '
              f"more, from earlier fits); it records {len(recorded)}")
    generators = metadata.get("generators", {})
    if not isinstance(generators, dict):
        _fail('"generators"', generators, "a dict of generator states")
    for name, state in generators.items():
        _check_generator(f'"generators"[{_show(name, 40)}]', state, None)
    callbacks = metadata.get("callbacks", [])
    if not isinstance(callbacks, list):
        _fail('"callbacks"', callbacks, "a list of callback states")
    for i, state in enumerate(callbacks):
        if state is not None and not isinstance(state, dict):
            _fail(f'"callbacks"[{i}]', state, "a dict or None")
        for key in _CALLBACK_INTS:
            value = (state or {}).get(key)
            if value is not None and (not _is_int(value) or value < 0):
                _fail(f'"callbacks"[{i}]["{key}"]', value, "an integer or None")


def _check_history(history):
    if not isinstance(history, dict):
        _fail('"history"', history, "a dict (History.to_dict())")
    unknown = sorted(set(history) - {"epoch", "history", "stop_reason"}, key=str)
    if unknown:
        _fail('"history"', unknown[0], 'only the keys "epoch", "history", "stop_reason"')
    epochs = history.get("epoch", [])
    if not isinstance(epochs, list):
        _fail('"history"["epoch"]', epochs, "a list of epoch numbers")
    for i, e in enumerate(epochs):
        if not _is_int(e) or not 0 <= e <= MAX_EPOCH:
            _fail(f'"history"["epoch"][{i}]', e, "a non-negative integer")
    series = history.get("history", {})
    if not isinstance(series, dict):
        _fail('"history"["history"]', series, "a dict of name -> list of numbers")
    for i in range(1, len(epochs)):
        if epochs[i] <= epochs[i - 1]:
            _fail(f'"history"["epoch"][{i}]', epochs[i], f"an epoch after {epochs[i - 1]} "
                  f"(the epochs recorded in order)")
    for name, values in series.items():
        field = f'"history"["history"][{_show(name, 40)}]'
        if not isinstance(name, str):
            _fail(field, name, "a string key")
        if not isinstance(values, list):
            _fail(field, values, "a list of numbers")
        for i, v in enumerate(values):
            if not _is_number(v):
                _fail(f"{field}[{i}]", v, "a number")
        if len(values) != len(epochs):  # History pads a missing value with NaN: never ragged
            _fail(field, values, f"one number per recorded epoch ({len(epochs)}, as "
                  f'"history"["epoch"]); got {len(values)}')
    reason = history.get("stop_reason")
    if reason is not None and not isinstance(reason, str):
        _fail('"history"["stop_reason"]', reason, "a string or None")


def _check_generator(field, state, live):
    """A bit-generator state, checked by loading it into a scratch generator of its type."""
    if not isinstance(state, dict):
        _fail(field, state, "a numpy bit-generator state (a dict)")
    kind = state.get("bit_generator")
    if not isinstance(kind, str):  # an array here would make every comparison ambiguous
        _fail(f'{field}["bit_generator"]', kind, "the name of a numpy bit generator")
    if live is not None:
        expected = type(live.bit_generator).__name__
        if kind != expected:
            _fail(f'{field}["bit_generator"]', kind, repr(expected))
        scratch = type(live.bit_generator)()
    else:
        if kind not in _BIT_GENERATORS:
            _fail(f'{field}["bit_generator"]', kind, f"one of {_BIT_GENERATORS}")
        scratch = getattr(np.random, kind)()
    try:
        scratch.state = state
    except (TypeError, ValueError, KeyError, OverflowError, IndexError) as err:
        raise FormatError(f"checkpoint {field}: not a valid {kind} state "
                          f"({type(err).__name__}: {str(err)[:80]})") from None


# -- against the run that resumes -------------------------------------------------------
def check_checkpoint(ckpt, optimizer=None, generators=None, callbacks=(), model=None,
                     history="run"):
    """Check a training checkpoint against the run about to resume from it.

    Parameters
    ----------
    ckpt : rosenblatt.io.Checkpoint
        What ``load_checkpoint`` returned.
    optimizer : optimizer, optional
        The live optimizer: the saved state must have its ``state_dict()``'s keys and types.
    generators : dict of str -> numpy Generator, optional
        The live generators (``Trainer.generators()``) the saved states will be loaded into.
    callbacks : sequence of callbacks
        The live callbacks; each saved state is loaded into a copy first.
    model : Module, optional
        For callbacks' saved weights (``EarlyStopping``'s best state).
    history : {"run", "model"}, default "run"
        What the saved History records: this run's epochs only (``rb.fit``, ``RBM.fit``: the
        epochs 0 to ``epoch - 1``), or the model's across fits (``GAN.fit``: the epochs 0 to
        n - 1, n >= ``epoch``).

    Raises
    ------
    FormatError
        Naming the first field that is missing, of a wrong type or of a wrong shape.
    """
    meta = ckpt.metadata
    check_training_metadata(meta)
    if "history" in meta:
        recorded = meta["history"].get("epoch", [])
        expected = meta["epoch"] if history == "run" else len(recorded)
        if recorded != list(range(expected)):
            _fail('"history"["epoch"]', recorded, f'the epochs 0 to {expected - 1}, one per epoch '
                  f'that "epoch" = {meta["epoch"]} counts')
    if optimizer is not None and callable(getattr(optimizer, "state_dict", None)):
        check_optimizer_state(ckpt.optimizer_state, optimizer)
    saved = meta.get("generators", {})
    if generators is not None:
        _check_same_generators(saved, generators)
    for name, state in saved.items():
        if generators and name in generators:
            _check_generator(f'"generators"[{_show(name, 40)}]', state, generators[name])
    for i, (cb, state) in enumerate(zip(callbacks, meta.get("callbacks", []))):
        if state is None or not callable(getattr(cb, "load_state_dict", None)):
            continue
        _check_best(f'"callbacks"[{i}] ({type(cb).__name__})', state, getattr(cb, "mode", None))
        if model is not None and state.get("best_state") is not None:
            _check_weights(f'"callbacks"[{i}]["best_state"]', state["best_state"], model)
        try:
            copy.copy(cb).load_state_dict(state)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as err:
            raise FormatError(f'checkpoint "callbacks"[{i}] ({type(cb).__name__}): '
                              f"{type(err).__name__}: {str(err)[:120]}") from None


def _check_same_generators(saved, live):
    """Every writer saves a state for each generator the run draws from: one the file lacks
    would keep its fresh seed (the resumed run silently differs from an uninterrupted one),
    one the run lacks would be dropped."""
    missing = [name for name in live if name not in saved]
    if missing:
        raise FormatError(f'checkpoint "generators"[{_show(missing[0], 40)}]: missing; the run '
                          f"draws from {len(live)} generators ({_show(sorted(live), 120)}) and "
                          f"a checkpoint holds the state of each")
    extra = [name for name in saved if name not in live]
    if extra:
        _fail(f'"generators"[{_show(extra[0], 40)}]', saved[extra[0]],
              f"no state: the run has no generator of that name (it draws from "
              f"{_show(sorted(live), 120)})")


def _check_best(field, state, mode):
    """A monitoring callback's best value (EarlyStopping, ReduceLROnPlateau: those with a
    ``mode``): a number, not NaN (nothing would ever improve on it), infinite only as the
    starting value of its mode (+inf for "min", -inf for "max")."""
    if mode not in ("min", "max") or "best" not in state:
        return
    best = state["best"]
    start = math.inf if mode == "min" else -math.inf
    if not _is_number(best) or math.isnan(best) or (math.isinf(best) and best != start):
        raise FormatError(f'checkpoint {field}: "best" = {_show(best)}: expected a finite '
                          f"number, or {start} before any epoch (mode {mode!r})")


def _check_weights(field, state, model):
    expected = {name: p.data for name, p in model.named_parameters()}
    expected.update(model.named_buffers())
    if not isinstance(state, dict) or set(state) != set(expected):
        _fail(field, state if not isinstance(state, dict) else sorted(state)[:3],
              f"the model's {len(expected)} weight arrays by name")
    for name, target in expected.items():
        value, shape = state[name], np.shape(target)
        # the kind of the model's own array: float weights, a bool mask (SparseDense) ...
        kind = np.asarray(target).dtype.kind
        if not isinstance(value, np.ndarray) or value.shape != shape:
            _fail(f"{field}[{name!r}]", value, f"an array of shape {shape}")
        if (value.dtype.kind == "f") != (kind == "f") or value.dtype.kind not in "fiub":
            _fail(f"{field}[{name!r}]", value, f"an array of shape {shape} and dtype kind "
                  f"{kind!r} (as the model's); got {value.dtype}")


def check_optimizer_state(state, optimizer):
    """Check a saved optimizer state against ``optimizer.state_dict()`` (the template).

    Numbers where the template has numbers (finite for hyper-parameters, ``t`` a
    non-negative integer), arrays of the template's shapes, the same keys; a key the
    template holds as None may be None or a number, or, for a state array not made yet
    (``state_names``), None or an array the size of the parameter vector.
    """
    template = optimizer.state_dict()
    if not isinstance(state, dict):
        _fail("optimizer state", state, "a dict (optimizer.state_dict())")
    for key in _ADDED_LATER:
        if key in template and key not in state:
            del template[key]
    size = getattr(getattr(optimizer, "vec", None), "data", None)
    size = None if size is None else size.shape
    fixed = set(getattr(optimizer, "hyperparameters", ()))  # lists of a fixed length (betas)
    arrays = set(getattr(optimizer, "state_names", ()))  # None or parameter-sized arrays
    _match("optimizer state", state, template, size, fixed, arrays)
    for key, (low, high, closed) in _RANGES.items():
        if key in fixed and key in state:
            values = state[key] if isinstance(state[key], (list, tuple)) else [state[key]]
            for v in values:
                if _is_number(v) and not (low <= v <= high and (closed or v < high)):
                    _fail(f'optimizer state "{key}"', state[key],
                          f"numbers in [{low}, {high}{']' if closed else ')'}")
    t = state.get("t")
    if "t" in template and (not _is_int(t) or not 0 <= t <= 2**62):
        _fail('optimizer state "t"', t, "a non-negative integer")
    _try_loading(state, optimizer)


def _shared(optimizer):
    """A deepcopy memo that maps the model's objects to themselves: the parameter vector (its
    weights, gradient and Parameters), the attached model and its inert weights, for the
    optimizer and each one it wraps (``GradientNoise``). ``load_state_dict`` writes none of
    them, so the trial copy holds only the state, not a second copy of the model."""
    memo, obj, seen = {}, optimizer, set()
    while obj is not None and id(obj) not in seen and hasattr(obj, "__dict__"):
        seen.add(id(obj))
        attrs = vars(obj)
        vec = attrs.get("vec")
        if vec is not None:
            for x in (vec, getattr(vec, "data", None), getattr(vec, "grad", None),
                      *getattr(vec, "params", ())):
                if x is not None:
                    memo[id(x)] = x
        for value in attrs.values():
            if isinstance(value, Module) or type(value).__name__ == "InertWeights":
                memo[id(value)] = value
        obj = attrs.get("optimizer")
    return memo


def _try_loading(state, optimizer):
    """Load ``state`` into a copy of ``optimizer``: what only the optimizer checks (AdaptiveGains'
    ``down``, Rprop's ``etas``) is refused here, before the model or the optimizer changes.
    The copy shares the parameters (:func:`_shared`): it costs about the state's size."""
    try:
        trial = copy.deepcopy(optimizer, _shared(optimizer))
    except Exception:  # an optimizer that cannot be copied: the checks above must do
        return
    try:
        trial.load_state_dict(state)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as err:
        raise FormatError(f"checkpoint optimizer state: {type(err).__name__}: "
                          f"{str(err)[:200]}") from None


def _finite(field, value):
    """A state array (momentum, moments, ...) must be finite: a NaN or infinite entry would
    make the resumed run's first step diverge, blamed on the learning rate."""
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
        _fail(field, value, f"finite numbers; {bad} entries are NaN or infinite (a corrupt "
              f"file, or a run that had diverged)")


def _numeric_tree(field, value):
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _numeric_tree(f"{field}[{i}]", v)
    elif not (value is None or _is_number(value)):
        _fail(field, value, "a number")


def _match(field, value, template, vector_shape, fixed=(), arrays=(), top=True):
    if isinstance(template, dict):
        if not isinstance(value, dict):
            _fail(field, value, "a dict")
        if "algorithm" in template and "algorithm" in value:  # another optimizer's state
            # lacks this one's keys: name the optimizer the file holds, not the keys
            _match(f'{field} "algorithm"', value["algorithm"], template["algorithm"],
                   vector_shape, top=False)
        missing = [k for k in template if k not in value]
        extra = [k for k in value if k not in template]
        if missing:
            raise FormatError(f"checkpoint {field}: missing {_show(missing[:3])}")
        if extra:
            raise FormatError(f"checkpoint {field}: unexpected {_show(extra[:3])}")
        for key, sub in template.items():
            _match(f'{field} "{key}"', value[key], sub, vector_shape,
                   fixed=(key in fixed) if top else False,
                   arrays=(key in arrays) if top else False, top=False)
        return
    if isinstance(template, str):
        if value != template:
            _fail(field, value, repr(template))
    elif isinstance(template, (bool, np.bool_)):
        if not isinstance(value, (bool, np.bool_)):
            _fail(field, value, "True or False")
    elif _is_number(template):
        if not _is_number(value) or (math.isfinite(template) and not math.isfinite(value)):
            _fail(field, value, "a finite number")
    elif isinstance(template, np.ndarray):
        if not isinstance(value, np.ndarray) or value.shape != template.shape \
                or value.dtype.kind not in "fiu":
            _fail(field, value, f"a numeric array of shape {template.shape}")
        _finite(field, value)
    elif isinstance(template, (list, tuple)):
        if not isinstance(value, (list, tuple)) or (fixed is True and len(value) != len(template)):
            _fail(field, value, f"a list of {len(template)} values" if fixed is True else "a list")
        if len(value) == len(template):
            for i, (v, t) in enumerate(zip(value, template)):
                _match(f"{field}[{i}]", v, t, vector_shape, top=False)
        else:  # a list that grows as the run goes (the annealer's heat blocks)
            _numeric_tree(field, value)
    elif template is None:
        if value is None or (arrays is not True and _is_number(value) and math.isfinite(value)):
            return
        if isinstance(value, np.ndarray) and value.dtype.kind in "fiu" and (
                vector_shape is None or value.shape == vector_shape):
            _finite(field, value)
            return
        expected = ("None" if arrays is True else "None, a number") + (
            f" or an array of shape {vector_shape}" if vector_shape is not None else "")
        _fail(field, value, expected)


def check_resume(ckpt, trainer, path):
    """:func:`check_checkpoint` for ``Trainer.resume``: the checkpoint against the trainer's
    optimizer, generators, callbacks and model; the message names the file and the field.

    A file that holds another architecture is left to ``Trainer.resume`` to report."""
    from ..nn import registry

    meta = ckpt.metadata
    if not isinstance(meta, dict) or "epoch" not in meta or ckpt.optimizer_state is None:
        lacks = "optimizer state" if isinstance(meta, dict) and "epoch" in meta else \
            "'epoch' in its metadata"
        raise FormatError(f"fit: {os.fspath(path)} is a model file, not a training checkpoint "
                          f"(written by rb.callbacks.Checkpoint): it has no {lacks}")
    if registry.spec_of(trainer.model) != registry.spec_of(ckpt.model):
        return
    try:
        check_checkpoint(ckpt, trainer.optimizer, trainer.generators(), trainer.callbacks,
                         trainer.model)
    except FormatError as err:
        raise FormatError(f"fit: {os.fspath(path)}: {err}") from None
