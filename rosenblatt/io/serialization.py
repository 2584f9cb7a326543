"""Saving and loading models and checkpoints (DESIGN principle 7: files can't run code).

A model file is one safetensors file (see :mod:`.safetensors_format`):

* tensors ``model/<name>`` hold ``model.state_dict()`` (parameters and
  buffers); ``optimizer/<i>`` and ``metadata/<i>`` hold the arrays found in
  the optimizer state and the metadata;
* the string metadata holds ``format = "rosenblatt"``, ``format_version``,
  ``architecture`` (the JSON spec of :mod:`rosenblatt.nn.registry`), and, when given,
  ``optimizer`` and ``metadata`` as JSON trees in which each array is replaced
  by ``{"__array__": "<tensor name>"}``, and ``tied`` (only when a parameter is
  used by two layers, ``d2.W = d1.W``): [later name, first name] pairs. A tied
  parameter is stored once, under its first name, and tied again on load; a
  module used in several places is stored once (its parameters and buffers
  under its first position) and is one object again on load;
* ``regularizers`` (only when a module has set its list, an emptied one too): each module's
  ``regularizers`` (:mod:`.regularizer_specs`), so they travel with the model;
* ``checkpoint = "training"`` on a training checkpoint (``save(...,
  training_checkpoint=True)``, as ``rb.callbacks.Checkpoint`` writes it): only such
  a file's metadata is checked against the training-checkpoint schema by
  :func:`load_checkpoint`, never a user's own metadata that happens to hold an
  "epoch" and a "history". (A file written before the marker counts as one when
  its metadata holds all of "epoch", "generators", "history" and "callbacks".)

Loading parses the file strictly, rebuilds the model from registered layer
types only (no pickle, no eval, no import by name) and checks every tensor's
name and shape. Any problem with the file's contents raises
:class:`FormatError`; a path that cannot be opened raises ``OSError``.

Writes are atomic (:mod:`.atomic`): a process killed while saving leaves the
previous file intact.

Checkpoints (for a training loop's ``Checkpoint`` callback)::

    rb.save(model, path, optimizer=opt, metadata={"epoch": 7, "rng": rng.bit_generator.state})
    meta = rb.io.restore(path, model, optimizer=opt)   # in place: resume training
    ckpt = rb.io.load_checkpoint(path)                  # or: a new model + the extras
    ckpt.model, ckpt.optimizer_state, ckpt.metadata
"""

import dataclasses
import json
import os
import re

import numpy as np

from ..autodiff.tensor import Tensor
from ..checks import boolean
from ..nn import registry
from ..nn.module import Module
from .atomic import write_bytes_atomic
from .checkpoint_schema import (
    check_optimizer_state,
    check_training_metadata,
    is_training_checkpoint,
)
from .errors import FormatError
from .regularizer_specs import decode_regularizers, encode_regularizers
from .safetensors_format import decode, encode

FORMAT = "rosenblatt"
FORMAT_VERSION = 1
_TAGS = ("__array__", "__tuple__", "__dict__")


@dataclasses.dataclass
class Checkpoint:
    """What a file holds besides the model.

    Attributes
    ----------
    model : Module
    optimizer_state : dict or None
        What ``optimizer.state_dict()`` returned at save time (arrays restored).
    metadata : object or None
        The ``metadata`` given to :func:`save` (epoch, RNG state, metrics ...).
    format_version : int
    training : bool
        Whether the file is a training checkpoint (``save(...,
        training_checkpoint=True)``, or an older file with a training checkpoint's
        fields), whose metadata :func:`load_checkpoint` checks against the schema.
    """

    model: object
    optimizer_state: object = None
    metadata: object = None
    format_version: int = FORMAT_VERSION
    training: bool = False


def save(model, path, optimizer=None, metadata=None, *, training_checkpoint=False):
    """Save a model (architecture and weights), atomically, as safetensors.

    Parameters
    ----------
    model : rb.nn.Module
        Every layer type in it must be registered (see :mod:`rosenblatt.nn.registry`).
    path : str or os.PathLike
    optimizer : optimizer or dict, optional
        An object with ``state_dict()`` (or that dict itself), saved for resuming.
    metadata : JSON-like, optional
        None/bool/int/float/str, lists, tuples and dicts of them, and
        ndarrays (stored as tensors): epoch, RNG state
        (``rng.bit_generator.state``), metrics ... At most
        :data:`MAX_JSON_VALUES` values outside arrays (store long series as arrays).
    training_checkpoint : bool, default False
        Mark the file as a training checkpoint (what ``rb.callbacks.Checkpoint``
        writes): :func:`load_checkpoint` then checks its metadata against the
        training-checkpoint schema (:mod:`.checkpoint_schema`). Leave it False for
        your own metadata.

    Each module's ``regularizers`` (L1, L2, ElasticNet, MaxNorm, InputNoise, and the
    library's other regularizers, such as the Autoencoder's ``Corruption``) are saved too,
    and come back exactly as they are now (an emptied list stays empty); a regularizer of
    a type of your own is left out with a ``UserWarning``.

    Raises
    ------
    TypeError
        If a layer is not registered, a value cannot be saved, or the file could
        not be loaded back (a config integer that the file's size cannot vouch for,
        too many metadata values, a training checkpoint whose metadata does not follow
        the schema); nothing is written.

    Examples
    --------
    >>> import os, tempfile, numpy as np, rosenblatt as rb
    >>> net = rb.nn.Sequential(rb.nn.Dense(3, 4), rb.nn.Dense(4, 2))
    >>> path = os.path.join(tempfile.mkdtemp(), "net.safetensors")
    >>> rb.save(net, path, metadata={"epoch": 3})
    >>> x = rb.tensor(np.ones((1, 3)))
    >>> same = rb.load(path)
    >>> bool(np.array_equal(same(x).data, net(x).data))
    True
    >>> rb.io.load_checkpoint(path).metadata
    {'epoch': 3}
    """
    if not isinstance(model, Module):
        raise TypeError(f"save: model must be an rb.nn.Module; got {type(model).__name__}")
    training_checkpoint = boolean("save", "training_checkpoint", training_checkpoint)
    if training_checkpoint:  # load_checkpoint and restore would refuse the file
        try:
            check_training_metadata(metadata)
        except FormatError as err:
            raise TypeError(f"save: training_checkpoint=True: {err} (a training checkpoint's "
                            f"metadata holds at least its 'epoch'); leave "
                            f"training_checkpoint False for your own metadata") from None
    tensors = {f"model/{name}": np.asarray(value) for name, value in model.state_dict().items()}
    spec = registry.spec_of(model)
    header = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "architecture": json.dumps(spec),
    }
    from .._version import __version__

    header["library_version"] = __version__
    # modes and frozen flags, so that a model comes back as it was saved (eval stays eval)
    header["modes"] = json.dumps([bool(m.training) for m in model.modules()])
    header["frozen"] = json.dumps([n for n, p in model.named_parameters() if not p.requires_grad])
    ties = model.tied_parameters()
    if ties:  # a weight used in two layers is stored once and tied again on load
        header["tied"] = json.dumps([list(pair) for pair in ties])
    regularizers = encode_regularizers(model)
    if regularizers is not None:  # [] too: a list the user emptied stays empty
        header["regularizers"] = json.dumps(regularizers)
    if training_checkpoint:
        header["checkpoint"] = "training"
    if optimizer is not None:
        state = optimizer if isinstance(optimizer, dict) else _state_dict_of(optimizer)
        header["optimizer"] = json.dumps(
            _encode_tree(state, "optimizer", tensors, "optimizer state")
        )
        header["optimizer_type"] = type(optimizer).__name__
    if metadata is not None:
        header["metadata"] = json.dumps(_encode_tree(metadata, "metadata", tensors, "metadata"))
    _check_loadable(spec, header, tensors)
    write_bytes_atomic(path, encode(tensors, header), example_name="model.safetensors")


def _check_loadable(spec, header, tensors):
    """Refuse, on save, what :func:`load` would refuse in a file the library wrote itself."""
    for key in ("optimizer", "metadata"):
        if key in header and _count_values(header[key]) > MAX_JSON_VALUES:
            raise TypeError(f"save: {key!r} holds more than {MAX_JSON_VALUES:,} values, more "
                            f"than rb.load reads; store long series as ndarrays (saved as "
                            f"tensors)")
    total = sum(int(np.size(t)) for t in tensors.values())
    try:
        registry.plan(spec, max_int=max(2**16, total))
    except registry.SpecError as err:
        raise TypeError(f"save: the file could not be loaded back: {err}") from None


def _state_dict_of(optimizer):
    state_dict = getattr(optimizer, "state_dict", None)
    if not callable(state_dict):
        raise TypeError(
            f"save: optimizer must have a state_dict() method or be a dict; "
            f"got {type(optimizer).__name__}"
        )
    return state_dict()


def load(path, *, with_extras=False):
    """Load a model saved by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike
    with_extras : bool, default False
        Return a :class:`Checkpoint` (model, optimizer state, metadata)
        instead of the model alone.

    Returns
    -------
    Module or Checkpoint
        The model in the mode it was saved in (``train()``/``eval()``), with
        the same parameters frozen.

    Raises
    ------
    FormatError
        For every problem with the file's contents: not safetensors, truncated
        or corrupted bytes, not a rosenblatt file, unknown format version,
        unknown layer type, missing, extra or wrongly shaped tensors.
    OSError
        If the path cannot be read.
    """
    with open(os.fspath(path), "rb") as f:
        blob = f.read()
    try:
        return _load_bytes(blob, with_extras)
    except FormatError as err:
        raise FormatError(f"{os.fspath(path)}: {err}") from None
    except (Exception, RecursionError) as err:  # a bug of ours must still not leak past load
        raise FormatError(
            f"{os.fspath(path)}: unreadable ({type(err).__name__}: {str(err)[:200]})"
        ) from None


def load_checkpoint(path):
    """Load a model together with its optimizer state and metadata: a :class:`Checkpoint`.

    A training checkpoint's metadata (``epoch``, ``generators``, ``history``, ``callbacks``)
    is checked against its schema (:mod:`.checkpoint_schema`): a wrong type or shape is a
    :class:`FormatError` naming the field. A training checkpoint is a file saved with
    ``training_checkpoint=True`` (or, written before that marker, one whose metadata holds
    all four fields); any other metadata is the user's and comes back as saved.
    """
    ckpt = load(path, with_extras=True)
    if ckpt.training:
        try:
            check_training_metadata(ckpt.metadata)
        except FormatError as err:
            raise FormatError(f"{os.fspath(path)}: {err}") from None
    return ckpt


def restore(path, model, optimizer=None):
    """Copy a file's weights into an existing model (and optimizer) in place; return its metadata.

    This is how a training loop resumes from a checkpoint: parameter arrays
    keep their identity (views into an optimizer's ``ParameterVector`` stay
    valid).

    Everything is checked (the architecture, the optimizer state, by loading it into a
    copy of ``optimizer``) before the model or the optimizer is changed: a refused file
    leaves both as they were.

    Raises
    ------
    FormatError
        If the file is bad, its architecture differs from ``model``'s (the message
        says where: ``model[6] (Dense): out_features 10 in the file, 5 in the model``)
        or its optimizer state does not fit ``optimizer``.
    """
    ckpt = load_checkpoint(path)
    difference = registry.describe_difference(registry.spec_of(ckpt.model),
                                              registry.spec_of(model))
    if difference is not None:
        raise FormatError(f"{os.fspath(path)}: the saved architecture differs from the "
                          f"model's: {difference}")
    if optimizer is not None:
        if ckpt.optimizer_state is None:
            raise FormatError(f"{os.fspath(path)}: holds no optimizer state")
        if callable(getattr(optimizer, "state_dict", None)):
            try:
                check_optimizer_state(ckpt.optimizer_state, optimizer)
            except FormatError as err:
                raise FormatError(f"{os.fspath(path)}: {err}") from None
    model.load_state_dict(ckpt.model.state_dict())
    if optimizer is not None:
        optimizer.load_state_dict(ckpt.optimizer_state)
    return ckpt.metadata


def _load_bytes(blob, with_extras):
    tensors, header = decode(blob)
    if header.get("format") != FORMAT:
        raise FormatError("not a rosenblatt file (its metadata has no format='rosenblatt')")
    version = header.get("format_version", "")
    if version != str(FORMAT_VERSION):  # exactly "1": no "01", " 1" or non-ASCII digits
        raise FormatError(
            f"unknown format version {version[:20]!r}; this rosenblatt reads version "
            f"{FORMAT_VERSION} "
            f"(a newer file needs a newer rosenblatt)"
        )
    text = header.get("architecture", "")
    if text.count('"__module__"') + text.count('"__shared__"') > registry.MAX_MODULES:
        raise FormatError(f"the architecture has more than {registry.MAX_MODULES:,} modules")
    spec = _json(header, "architecture")
    if spec is None:
        raise FormatError("no 'architecture' in the file's metadata")
    total = sum(int(t.size) for t in tensors.values())
    training = header.get("checkpoint")
    if training not in (None, "training"):
        raise FormatError(f"unknown 'checkpoint' kind {training[:40]!r}; this rosenblatt "
                          f"writes 'training'")
    used = set()
    state = {}
    for name, value in tensors.items():
        if name.startswith("model/"):
            state[name[len("model/") :]] = value
            used.add(name)
    ties = _ties(_json(header, "tied"), state)
    planned = dict(state)  # the architecture builds a tied weight at each of its positions
    planned.update({alias: state[first] for alias, first in ties})
    try:
        # every layer's shapes, computed before anything is allocated, against the file's
        layout = registry.plan(spec, max_int=max(2**16, total), max_tensors=len(planned))
        _check_plan(layout, planned)
        # (an integer above the file's size only in layers whose shapes were just checked)
        model = registry.build(spec, max_int=layout.max_int, max_draws=max(2**24, 8 * total))
    except registry.SpecError as err:
        raise FormatError(str(err)) from None
    _retie(model, ties)
    _check_state(model, state)
    _restore_flags(model, _json(header, "modes"), _json(header, "frozen"))
    decode_regularizers(_json(header, "regularizers"), model)
    optimizer_state = _decode_tree(_json(header, "optimizer"), tensors, used)
    metadata = _decode_tree(_json(header, "metadata"), tensors, used)
    extra = sorted(set(tensors) - used)
    if extra:
        raise FormatError(f"unexpected tensors {_few(extra)}")
    if with_extras:
        training = training == "training" or (training is None
                                              and is_training_checkpoint(metadata))
        return Checkpoint(model, optimizer_state, metadata, FORMAT_VERSION, training)
    return model


def _ties(ties, state):
    """The file's ``tied`` list of [later name, first name] pairs, checked against its tensors."""
    if ties is None:
        return []
    if not (isinstance(ties, list)
            and all(isinstance(t, list) and len(t) == 2 and all(isinstance(n, str) for n in t)
                    for t in ties)):
        raise FormatError("'tied' must list [name, name] pairs of parameters")
    for alias, first in ties:
        if alias in state or first not in state:
            raise FormatError(f"'tied' pair {registry.short_json([alias, first])} must name a "
                              f"parameter not stored and one stored")
    return [tuple(t) for t in ties]


def _retie(model, ties):
    if not ties:
        return
    params = dict(model.named_parameters())
    for alias, first in ties:
        if first not in params:
            raise FormatError(f"'tied' names {first[:60]!r}, not a parameter of the model")
        try:
            model.tie(alias, params[first])
        except (KeyError, ValueError) as err:
            raise FormatError(f"'tied': {str(err)[:200]}") from None


def _restore_flags(model, modes, frozen):
    modules = model.modules()
    if modes is not None:
        if not (isinstance(modes, list) and len(modes) == len(modules)
                and all(isinstance(m, bool) for m in modes)):
            raise FormatError(f"'modes' must list one bool per module ({len(modules)})")
        for module, mode in zip(modules, modes):
            module.training = mode
    if frozen is not None:
        params = dict(model.named_parameters())
        if not (isinstance(frozen, list) and all(isinstance(n, str) and n in params
                                                 for n in frozen)):
            raise FormatError("'frozen' must list parameter names of the model")
        for name, p in params.items():
            p.requires_grad = name not in frozen


MAX_JSON_VALUES = 1_000_000  # values in one JSON tree of the metadata (a list of 20M ints: GBs)
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string literal (unrolled: fast)


def _count_values(text):
    """An upper bound of the values in a JSON text: its separators outside strings, counted
    in C (a long string holding commas is one value)."""
    if '"' in text:
        text = _STRING.sub("", text)
    return text.count(",") + text.count(":")


def _json(header, key):
    if key not in header:
        return None
    text = header[key]
    if _count_values(text) > MAX_JSON_VALUES:
        raise FormatError(f"metadata {key!r} holds more than {MAX_JSON_VALUES:,} values (store "
                          f"large data as arrays)")
    try:
        return json.loads(text)
    except RecursionError:
        raise FormatError(f"metadata {key!r} is nested too deeply") from None
    except ValueError as err:
        raise FormatError(f"metadata {key!r} is not valid JSON: {str(err)[:200]}") from None


SCRATCH = 2**16  # values a constructor may allocate beyond its stated state (unstated layers)


def _few(names, n=3):
    """The first ``n`` of ``names`` and their count, for a message of bounded length."""
    names = sorted(names)
    text = ", ".join(repr(name[:40]) for name in names[:n])
    return f"[{text}{', ...' if len(names) > n else ''}] ({len(names)} in all)" if names \
        else "none"


def _check_names(expected, state):
    missing = set(expected) - set(state)
    unexpected = set(state) - set(expected)
    if missing or unexpected:
        raise FormatError(
            f"the tensors do not match the architecture: missing {_few(missing)}, "
            f"unexpected {_few(unexpected)}"
        )
    wrong = [name for name, shape in expected.items() if tuple(state[name].shape) != tuple(shape)]
    if wrong:
        name = sorted(wrong)[0]
        raise FormatError(
            f"tensor model/{name[:60]} has shape {tuple(state[name].shape)}; "
            f"the architecture needs {tuple(expected[name])}"
            + (f" ({len(wrong)} tensors have wrong shapes)" if len(wrong) > 1 else "")
        )


def _check_plan(plan, state):
    """Refuse an architecture that would allocate more than the file stores, before building.

    Where every layer states its shapes (and no module is shared), names and shapes must
    match the stored tensors exactly; otherwise the stated part may not exceed the stored
    values (plus :data:`SCRATCH`) and the constructors of the unstated layers run under the
    registry's random-draw budget.
    """
    stored = sum(int(v.size) for v in state.values())
    wanted = plan.known_size()
    if wanted > stored + SCRATCH:
        raise FormatError(
            f"the architecture asks for far more weights than the file stores: it would "
            f"allocate {wanted:,} values ({wanted * 4 / 2**30:.3g} GiB in float32), the file "
            f"stores {stored:,}"
        )
    if plan.shapes is not None and not _has_shared(plan):
        _check_names(plan.shapes, state)


def _has_shared(plan):
    stack = [plan]
    while stack:
        node = stack.pop()
        if node.shared:
            return True
        stack.extend(node.children)
    return False


def _check_state(model, state):
    expected = {name: p.data for name, p in model.named_parameters()}
    expected.update(model.named_buffers())
    _check_names({name: np.shape(value) for name, value in expected.items()}, state)
    for name, target in expected.items():
        if (state[name].dtype.kind == "f") != (np.asarray(target).dtype.kind == "f"):
            raise FormatError(
                f"tensor model/{name} has dtype {state[name].dtype}; expected {target.dtype}"
            )
    _cast_as_stored(model, state)
    model.load_state_dict(state)


def _cast_as_stored(model, state):
    """Give every part of ``model`` the float dtype its tensors are stored in.

    A layer whose constructor takes no ``dtype`` is built in float32; the stored dtype wins.
    Top down: a module whose float tensors are all stored in one dtype is cast whole
    (``astype``, which also casts what it computes with); a module mixing dtypes (a float64
    autoencoder in a float32 Sequential) is left to its parts.
    """
    stored = {}  # id(parameter or buffer) -> its stored float dtype
    for name, p in model.named_parameters():
        if state[name].dtype.kind == "f":
            stored[id(p)] = state[name].dtype
    for name, b in model.named_buffers():
        if isinstance(b, np.ndarray) and state[name].dtype.kind == "f":
            stored[id(b)] = state[name].dtype

    def pairs(module):  # (current dtype, stored dtype) of each float tensor under module
        out = [(p.data.dtype, stored[id(p)]) for p in module.parameters() if id(p) in stored]
        out += [(b.dtype, stored[id(b)]) for _, b in module.named_buffers() if id(b) in stored]
        return out

    stack, seen = [model], set()
    while stack:
        module = stack.pop()
        if id(module) in seen:
            continue
        seen.add(id(module))
        found = pairs(module)
        if all(now == then for now, then in found):
            continue
        wanted = {then for _, then in found}
        if len(wanted) == 1:
            module.astype(wanted.pop())
        else:
            stack.extend(module.children())
    for name, p in model.named_parameters():  # a single layer mixing dtypes: rebind
        if state[name].dtype.kind == "f" and p.data.dtype != state[name].dtype:
            p.data = p.data.astype(state[name].dtype)


# -- JSON trees with arrays (optimizer state, metadata) ---------------------------------
def _encode_tree(value, prefix, tensors, what):
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in "fiub":
        return value.item()
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiub":
            raise TypeError(
                f"save: {what} holds an array of dtype {value.dtype}; only numbers can be saved"
            )
        name = f"{prefix}/{len(tensors)}"
        tensors[name] = value
        return {"__array__": name}
    if isinstance(value, list):
        return [_encode_tree(v, prefix, tensors, what) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [_encode_tree(v, prefix, tensors, what) for v in value]}
    if isinstance(value, dict):
        if all(isinstance(k, str) and k not in _TAGS for k in value):
            return {k: _encode_tree(v, prefix, tensors, what) for k, v in value.items()}
        return {
            "__dict__": [
                [_encode_tree(k, prefix, tensors, what), _encode_tree(v, prefix, tensors, what)]
                for k, v in value.items()
            ]
        }
    raise TypeError(
        f"save: {what} holds a {type(value).__name__} ({value!r:.60}); only None, bool, int, "
        f"float, "
        f"str, ndarrays and lists/tuples/dicts of them can be saved"
    )


def _decode_tree(value, tensors, used, depth=0):
    if depth > registry.MAX_DEPTH:
        raise FormatError(
            f"optimizer state or metadata nested deeper than {registry.MAX_DEPTH} levels"
        )
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, list):
        return [_decode_tree(v, tensors, used, depth + 1) for v in value]
    if not isinstance(value, dict):
        raise FormatError(f"unexpected value {registry.short_json(value)}")
    if set(value) == {"__array__"}:
        name = value["__array__"]
        if not isinstance(name, str) or name.startswith("model/") or name not in tensors:
            raise FormatError(f"reference to a missing tensor {registry.short_json(name)}")
        used.add(name)
        return tensors[name]
    if set(value) == {"__tuple__"} and isinstance(value["__tuple__"], list):
        return tuple(_decode_tree(v, tensors, used, depth + 1) for v in value["__tuple__"])
    if set(value) == {"__dict__"} and isinstance(value["__dict__"], list):
        out = {}
        for item in value["__dict__"]:
            if not (isinstance(item, list) and len(item) == 2):
                raise FormatError("a '__dict__' entry must be a list of [key, value] pairs")
            key = _decode_tree(item[0], tensors, used, depth + 1)
            try:
                out[key] = _decode_tree(item[1], tensors, used, depth + 1)
            except TypeError:
                raise FormatError(f"unhashable key {registry.short_json(item[0])}") from None
        return out
    return {k: _decode_tree(v, tensors, used, depth + 1) for k, v in value.items()}
