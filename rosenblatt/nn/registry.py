"""The layer registry: how a model's architecture becomes JSON and JSON a model again.

A saved model stores no code, only an architecture *spec*::

    {"type": "Sequential", "config": {"layers": [
        {"__module__": {"type": "Dense", "config": {"in_features": 2, ...}}}, ...]}}

``type`` is looked up in this registry (never imported by name, never
evaluated), and the layer is rebuilt as ``cls(**config)``. Loading an
untrusted file can therefore only construct registered layer types.

The registry lives with the layers; :mod:`rosenblatt.io` writes and reads the
files and reports a :class:`SpecError` as its ``FormatError``.

The protocol for layer authors
------------------------------
1. **Register** the class: every public ``Module`` subclass defined inside the
   ``rosenblatt`` package is registered automatically under its class name.
   Your own layers: decorate them with ``@rb.nn.register`` (or call
   ``rb.nn.register(MyLayer, name="my_layer")``; ``rb.io.register`` is the
   same function). Only classes already imported are known.
2. **Describe the constructor**, in the first way that applies:

   a. define ``config(self) -> dict`` returning the keyword arguments that
      rebuild the layer (and, if ``cls(**config)`` is not how to rebuild it,
      a classmethod ``from_config(cls, config)``), as Dense, Conv1d/Conv2d,
      RBF and Sequential do (a subclass that adds constructor arguments
      overrides ``config`` too: saving one whose inherited ``config`` misses
      them raises ``TypeError`` naming them, :func:`missing_config_arguments`);
   b. or pass ``config=`` / ``build=`` functions to :func:`register`;
   c. or follow the scikit-learn convention: store every constructor argument
      as an attribute of the same name (``self.p = p``); the registry then
      reads them from the ``__init__`` signature.

   With ``**kwargs`` forwarded to a base class, the base's named arguments
   are read too. Config values may be None, bool, int, float, str,
   lists/tuples/dicts of them, and modules (sub-layers are saved
   recursively). The initialisation-only arguments ``rng``, ``dtype``,
   ``init`` and ``bias_init`` are not saved by the convention: a layer is
   rebuilt with its defaults and ``rng=None`` (its initial draw comes from a
   throwaway generator: loading does not move ``rb.seed``'s stream), then its
   stored weights are copied in, in their stored dtype.
3. Parameters and buffers (``Module.state_dict``) are saved as tensors; the
   constructor must create them with the same names and shapes.
4. **State the shapes** (recommended; every library layer does): a classmethod
   ``state_shapes(cls, config) -> {state_dict name: shape}`` computes them
   from the constructor arguments (defaults filled in; a sub-layer is its
   :class:`Plan`, ``plan.shapes_under("name")``) without allocating anything.
   A layer without it is built under the random-draw budget only; a subclass
   that redefines ``__init__`` must state its own (an inherited one is not
   trusted).

Denial-of-service guards: a file cannot ask for a layer much larger than it
is. Before anything is constructed, :func:`plan` walks the spec (at most
:data:`MAX_MODULES` modules, shared uses included, nested at most
:data:`MAX_DEPTH` deep) and ``rosenblatt.io`` compares every stated shape with
the stored tensors: a layer whose state the file does not hold is refused in
milliseconds. An integer in a config may not exceed ``max(2**16, number of
stored values)`` unless its layer states its shapes (which are then checked
against the stored tensors), a float must be finite in the layer's dtype, and the
constructors may draw at most ``max(2**24, 8 x stored values)`` initial random
values in all (weights are initialised randomly, and the stored ones then
overwrite them).
"""

import contextvars
import functools
import inspect
import json
import math

import numpy as np

from ..randomness import generator, using
from .module import Module

_BY_NAME = {}  # name -> (cls, config_fn, build_fn)
_BY_CLASS = {}  # cls -> name
_SKIPPED_ARGS = ("rng", "dtype", "init", "bias_init")
_TAGS = ("__module__", "__tuple__", "__dict__", "__shared__")
# A module used in two places of one model (the notes' shared word module) is written once;
# its later uses are {"__shared__": n}, n counting the modules of the spec in pre-order.
_SEEN = contextvars.ContextVar("rosenblatt_registry_seen", default=None)  # id -> n, saving
_BUILT = contextvars.ContextVar("rosenblatt_registry_built", default=None)  # n -> module, loading
MAX_DEPTH = 64


class SpecError(ValueError):
    """An architecture spec that cannot be rebuilt: malformed, an unknown layer type, a bad config.

    :func:`rosenblatt.load` reports it as a ``rosenblatt.io.FormatError`` with the same message.
    """


def register(cls=None, *, name=None, config=None, build=None):
    """Register a layer (``Module`` subclass) so that saved models can contain it.

    Usable as ``@register``, ``@register(name="x")`` or ``register(cls, ...)``.

    Parameters
    ----------
    cls : type
        A subclass of ``rb.nn.Module``.
    name : str, optional
        The name stored in files; defaults to ``cls.__name__``.
    config : callable, optional
        ``config(layer) -> dict`` of constructor arguments (instead of a
        ``config`` method or the attribute convention).
    build : callable, optional
        ``build(config_dict) -> layer`` (instead of ``cls(**config)``).

    Returns
    -------
    cls, unchanged (so it works as a decorator).

    Raises
    ------
    ValueError
        If ``name`` is already registered for a different class.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> @rb.nn.register
    ... class Doubler(rb.nn.Module):
    ...     def forward(self, x):
    ...         return x * 2
    >>> rb.nn.registered()["Doubler"] is Doubler
    True
    """
    if cls is None:
        return lambda c: register(c, name=name, config=config, build=build)
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise TypeError(f"register: expected a Module subclass; got {cls!r}")
    _discover()
    name = cls.__name__ if name is None else name
    if not isinstance(name, str) or not name:
        raise ValueError(f"register: name must be a non-empty string; got {name!r}")
    owner = _BY_NAME.get(name)
    if owner is not None and owner[0] is not cls:
        same = (owner[0].__module__, owner[0].__qualname__) == (cls.__module__, cls.__qualname__)
        if not same:
            raise ValueError(
                f"register: the name {name!r} is taken by {owner[0].__module__}."
                f"{owner[0].__qualname__}; pass name='...' to register {cls.__qualname__} "
                f"under another name"
            )
        _BY_CLASS.pop(owner[0], None)  # the same class defined again (a reload): replace it
    _BY_NAME[name] = (cls, config, build)
    _BY_CLASS[cls] = name
    return cls


def registered():
    """Name -> class of every registered layer type."""
    _discover()
    return {name: entry[0] for name, entry in sorted(_BY_NAME.items())}


def _discover():
    """Register every public Module subclass of the rosenblatt package imported so far.

    Idempotent and cheap (a walk over ``Module``'s subclasses). Importing any part of the
    package imports the package root, which imports every layer and model module.
    """
    stack = [Module]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls in _BY_CLASS or not cls.__module__.startswith("rosenblatt."):
            continue
        if cls is Module or cls.__name__.startswith("_"):
            continue
        name = (
            cls.__name__ if cls.__name__ not in _BY_NAME else f"{cls.__module__}.{cls.__qualname__}"
        )
        _BY_NAME[name] = (cls, None, None)
        _BY_CLASS[cls] = name


# -- module -> spec -------------------------------------------------------------------
def spec_of(module):
    """The JSON-able architecture spec of ``module`` (recursively).

    Raises
    ------
    TypeError
        If a layer type is not registered or a constructor argument cannot be
        saved (the message names the layer and the argument).
    """
    seen = _SEEN.get()
    if seen is None:  # the root of a spec: number its modules afresh
        token = _SEEN.set({})
        try:
            return spec_of(module)
        finally:
            _SEEN.reset(token)
    seen[id(module)] = (len(seen), module)  # holding the module keeps its id unique
    _discover()
    cls = type(module)
    name = _BY_CLASS.get(cls)
    if name is None:
        raise TypeError(
            f"save: layer type {cls.__qualname__} is not registered; decorate it with "
            f"@rosenblatt.nn.register so that files can name it"
        )
    _, config_fn, build_fn = _BY_NAME[name]
    if config_fn is not None:
        config = config_fn(module)
    elif callable(getattr(module, "config", None)):
        config = module.config()
        if build_fn is None and not callable(getattr(cls, "from_config", None)) \
                and isinstance(config, dict):
            taken = inspect.signature(cls.__init__).parameters
            unknown = [] if any(p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
                                for p in taken.values()) else \
                sorted(k for k in config if isinstance(k, str) and k not in taken)
            if unknown:  # cls(**config) would fail on load: refuse the file now
                raise TypeError(
                    f"save: {cls.__name__}.config() returns {', '.join(map(repr, unknown))}, "
                    f"which {cls.__name__}.__init__ does not take, so the file could not be "
                    f"loaded; define {cls.__name__}.config() returning only its constructor's "
                    f"arguments (or a from_config classmethod)")
        missing = missing_config_arguments(cls, config, module=module)
        if missing:
            owner = _config_owner(cls).__name__
            raise TypeError(
                f"save: {cls.__name__}.__init__ takes {', '.join(map(repr, missing))}, "
                f"which {owner}.config() does not return; define {cls.__name__}.config() "
                f"returning every constructor argument (e.g. "
                f"{{**super().config(), {missing[0]!r}: self.{missing[0]}}}), or the loaded "
                f"layer would be built with the default"
            )
    else:
        config = _config_from_attributes(module)
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise TypeError(
            f"save: {cls.__qualname__}'s config must be a dict with str keys; got {config!r}"
        )
    spec = {
        "type": name,
        "config": {k: _encode(v, f"{cls.__qualname__}.{k}") for k, v in config.items()},
    }
    floats = [p.data.dtype for p in module.parameters() if p.data.dtype.kind == "f"]
    if floats:
        spec["dtype"] = floats[0].name
    return spec


def _config_owner(cls):
    """The class of ``cls``'s MRO that defines the ``config`` method ``cls`` uses."""
    return next((k for k in cls.__mro__ if "config" in vars(k)), cls)


def missing_config_arguments(cls, config=None, module=None):
    """The constructor arguments a subclass adds that its inherited ``config()`` misses.

    A registered subclass that redefines ``__init__`` with a new argument but inherits
    ``config`` from its base (``class ScaledDense(Dense)`` with ``scale``) would be saved
    without it and rebuilt with the default. Returns the names (sorted) of the arguments
    of the ``__init__`` methods defined below the class that defines ``config``, that the
    base's constructor does not take and ``config`` (the dict given, or, when None, none
    of them) does not hold; ``[]`` when ``config`` is the class's own or there is none.
    The initialisation-only arguments (``rng``, ``dtype``, ``init``, ``bias_init``) are
    never required.

    With ``module`` (an instance of ``cls``, as on save), only the arguments it shows to be
    lost are returned: one without a default, or one with a default whose attribute of the
    same name holds another value. An argument with a default that ``module`` does not
    store (``sizes=None`` that only builds the layers ``config`` holds), or stores as the
    default, is rebuilt as it was.
    """
    if not callable(getattr(cls, "config", None)):
        return []
    owner = _config_owner(cls)
    if owner is cls or owner is Module or cls.__init__ is owner.__init__:
        return []
    try:
        base = _constructor_params(owner)
    except TypeError:
        base = {}
    added = {}  # name -> default (the most derived __init__'s)
    for klass in cls.__mro__:
        if klass is owner:
            break
        init = vars(klass).get("__init__")
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            continue
        for p in params:
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                added.setdefault(p.name, p.default)
    held = set(config or ())
    missing = sorted(set(added) - set(base) - set(_SKIPPED_ARGS) - held)
    if module is None:
        return missing
    return [name for name in missing if not _rebuilt_as_is(module, name, added[name])]


def _rebuilt_as_is(module, name, default):
    """Whether rebuilding with the default of argument ``name`` loses nothing that ``module``
    shows: the argument has a default, and no attribute of its name or one equal to it."""
    if default is inspect.Parameter.empty:
        return False
    missing = object()
    value = vars(module).get(name, missing)
    if value is missing or value is default:
        return True
    if default is None or value is None or isinstance(value, (np.ndarray, Module)):
        return False
    try:
        return bool(value == default)
    except Exception:  # an ambiguous comparison: not shown to be equal
        return False



@functools.lru_cache(maxsize=512)
def _constructor_params(cls):
    """The named constructor arguments, following ``**kwargs`` up to the base classes."""
    params = {}
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None:
            continue
        if init is object.__init__:
            break
        forwards = False
        for pname, param in inspect.signature(init).parameters.items():
            if param.kind == param.VAR_KEYWORD:
                forwards = True
            elif param.kind == param.VAR_POSITIONAL:
                raise TypeError(
                    f"save: {cls.__qualname__}.__init__ takes *{pname}; define "
                    f"{cls.__qualname__}.config() (and from_config) to describe how to rebuild it"
                )
            elif pname != "self":
                params.setdefault(pname, param)
        if not forwards:
            break
    return params


def _config_from_attributes(module):
    cls = type(module)
    config = {}
    for pname in _constructor_params(cls):
        if pname in _SKIPPED_ARGS:
            continue
        if not hasattr(module, pname):
            raise TypeError(
                f"save: cannot rebuild {cls.__qualname__}: its constructor argument {pname!r} "
                f"is not stored as attribute {pname!r}; store it, or define "
                f"{cls.__qualname__}.config() returning the constructor arguments"
            )
        config[pname] = getattr(module, pname)
    return config


def _encode(value, where):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, Module):
        seen = _SEEN.get()
        if seen is not None and id(value) in seen:
            return {"__shared__": seen[id(value)][0]}
        return {"__module__": spec_of(value)}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, where) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) and k not in _TAGS for k in value):
        return {k: _encode(v, where) for k, v in value.items()}
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k, where), _encode(v, where)] for k, v in value.items()]}
    raise TypeError(
        f"save: {where} = {value!r} ({type(value).__name__}) cannot be saved; config values "
        f"must be "
        f"None, bool, int, float, str, lists/tuples/dicts of them or modules (pass a name instead "
        f"of a function)"
    )


# -- spec -> plan: what a spec would build, known before anything is built ---------------
MAX_MODULES = 10_000  # modules in one spec, shared uses included
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT64_MAX = float(np.finfo(np.float64).max)


class Plan:
    """One layer of an architecture spec, described without building it.

    Attributes
    ----------
    type : str
        The registered name.
    cls : type
    config : dict
        The constructor arguments, defaults filled in; a sub-layer appears as its ``Plan``.
    shapes : dict of str -> tuple of int, or None
        ``state_dict`` name -> shape of every parameter and buffer the layer (with its
        sub-layers) would create, or None where a layer type does not state them.
    children : list of Plan
    shared : bool
        True for the second and later uses of a module used in two places: its state is
        counted at its first use only (``shapes`` is then empty).
    max_int : int or None
        On the plan :func:`plan` returns: the bound for :func:`build`'s ``max_int``, the
        largest config integer it accepted (an integer above :func:`plan`'s ``max_int`` is
        accepted only in a layer that states its shapes).
    """

    __slots__ = ("type", "cls", "config", "shapes", "children", "shared", "max_int")

    def __init__(self, type_, cls, config, shapes=None, children=(), shared=False):
        self.type, self.cls, self.config = type_, cls, config
        self.shapes, self.children, self.shared = shapes, list(children), shared
        self.max_int = None

    def shapes_under(self, prefix):
        """``shapes`` with every name prefixed by ``prefix + "."`` (for a container's
        ``state_shapes``); raises if this layer's shapes are not stated."""
        if self.shapes is None:
            raise _Unstated
        return {f"{prefix}.{name}": shape for name, shape in self.shapes.items()}

    def size(self):
        """The number of values in ``shapes`` (None when not stated)."""
        if self.shapes is None:
            return None
        return sum(math.prod(shape) for shape in self.shapes.values())

    def known_size(self):
        """Values the stated parts of this plan would allocate (unstated layers count 0)."""
        own = self.size()
        if own is not None:
            return own
        return sum(child.known_size() for child in self.children)

    def __repr__(self):
        return f"Plan({self.type}, {len(self.shapes or ())} tensors)"


class _Unstated(Exception):
    """A sub-layer whose shapes are not stated: its container's cannot be either."""


def states_shapes(cls):
    """Whether ``cls.state_shapes`` describes ``cls`` (defined by it, or inherited together
    with its ``__init__``); a user's subclass of a library layer is not trusted to."""
    for klass in cls.__mro__:
        if "state_shapes" in vars(klass):
            if klass is Module:
                return False
            return klass is cls or cls.__init__ is klass.__init__
    return False


_MAX_TENSORS = contextvars.ContextVar("rosenblatt_registry_max_tensors", default=None)


def expect_tensors(owner, count):
    """For a ``state_shapes`` about to list ``count`` tensors (one per layer of a stack ...):
    raise ``ValueError`` at once if the file being planned stores fewer, so that
    ``num_layers=65536`` is refused before 196,608 names are made."""
    limit = _MAX_TENSORS.get()
    if limit is not None and count > limit:
        raise ValueError(f"{owner} would create {count:,} parameter tensors; the file stores "
                         f"{limit:,}")


def shapes_of(cls, config, prefix=""):
    """``cls.state_shapes`` of the layer ``cls(**config)`` (defaults filled in), each name
    prefixed by ``prefix``: what a model's ``state_shapes`` says of the layers it builds."""
    shapes = cls.state_shapes(_arguments(cls, config))
    if shapes is None:
        raise _Unstated
    return {f"{prefix}{name}": shape for name, shape in shapes.items()}


def plan(spec, max_int=2**16, max_tensors=None):
    """The :class:`Plan` of a spec: every layer's state shapes, computed without allocating.

    Raises :class:`SpecError` for a malformed spec, an unknown type, a config a layer's
    ``state_shapes`` refuses, a float config value that is not finite in the layer's dtype,
    more than :data:`MAX_MODULES` modules or deeper nesting than :data:`MAX_DEPTH`.
    ``max_int`` bounds the config integers of layers that do not state their shapes (a
    layer that does is checked against the stored tensors, so its iteration counts and
    strides may be larger; the returned plan's ``max_int`` is the largest integer accepted);
    ``max_tensors`` (the number of tensors a file stores) is what :func:`expect_tensors`
    checks against.

    Examples
    --------
    >>> from rosenblatt.nn import registry
    >>> spec = {"type": "Sequential", "config": {"layers": [
    ...     {"__module__": {"type": "Dense", "config": {"in_features": 3, "out_features": 2}}},
    ...     {"__module__": {"type": "Tanh", "config": {}}}]}}
    >>> p = registry.plan(spec)
    >>> p.shapes, p.size()
    ({'0.W': (3, 2), '0.b': (2,)}, 8)
    """
    _discover()
    token = _MAX_TENSORS.set(max_tensors)
    try:
        planner = _Planner(max_int)
        root = planner.node(spec, 0)
    finally:
        _MAX_TENSORS.reset(token)
    root.max_int = planner.largest
    return root


class _Planner:
    """One walk over a spec (the counterpart of :func:`build` that builds nothing)."""

    def __init__(self, max_int):
        self.max_int = max_int
        self.pending = []  # (where, value) of the integers above max_int in the current layer
        self.largest = max_int  # the largest integer accepted (of layers that state shapes)
        self.seen = []  # numbered modules, as _build numbers them (for "__shared__")
        self.uses = 0  # modules and shared uses: bounds repeated containers too

    def count(self):
        self.uses += 1
        if self.uses > MAX_MODULES:
            raise SpecError(f"architecture has more than {MAX_MODULES:,} modules")

    def node(self, spec, depth):
        _check_entry(spec, depth)
        entry = _BY_NAME.get(spec["type"])
        if entry is None:
            raise SpecError(_unknown_type(spec["type"]))
        self.count()
        cls, _, build_fn = entry
        dtype = spec.get("dtype")
        if dtype is not None and (
            not isinstance(dtype, str) or dtype not in ("float16", "float32", "float64")
        ):
            raise SpecError(f"{spec['type']}: unsupported dtype {short_json(dtype, 40)}")
        node = Plan(spec["type"], cls, None)
        self.seen.append(node)  # numbered before its children, as spec_of numbers them
        outer, self.pending = self.pending, []  # this layer's integers above max_int
        limit = _FLOAT64_MAX if dtype == "float64" else _FLOAT32_MAX
        config = {}
        for key, value in spec["config"].items():
            where = f"{spec['type']}.{key}"
            config[key] = self.value(value, depth + 1, node, where, limit)
        node.config = config
        big, self.pending = self.pending, outer
        if build_fn is None and states_shapes(cls):
            try:
                args = config if callable(getattr(cls, "from_config", None)) \
                    else _arguments(cls, config)
                node.shapes = cls.state_shapes(args)
            except _Unstated:
                pass
            except (Exception, RecursionError) as err:  # refused, as by the constructor
                raise SpecError(
                    f"cannot rebuild layer {spec['type']} from config "
                    f"{short_json(spec['config'])}: {type(err).__name__}: {str(err)[:200]}"
                ) from None
        if big:
            # A layer that states its shapes is checked against the stored tensors: its
            # integers (an iteration count, a stride) may be as large as they like. Elsewhere
            # an integer may size something unchecked: the file's size bounds it.
            if node.shapes is None:
                where, value = big[0]
                raise SpecError(f"{where} = {short_json(value, 40)} is larger than the file's "
                                f"{self.max_int} stored values allow")
            self.largest = max(self.largest, *(abs(v) for _, v in big))
        return node

    def value(self, value, depth, parent, where, limit):
        if depth > MAX_DEPTH:
            raise SpecError(f"architecture nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return value
        if isinstance(value, float):
            if not abs(value) <= limit:  # inf, nan, or beyond the layer's dtype (1e308 in float32)
                raise SpecError(f"{where} = {value!r} is not a finite number in the layer's dtype")
            return value
        if isinstance(value, int):
            if abs(value) > self.max_int:
                self.pending.append((where, value))  # judged when the layer's shapes are known
            return value
        deeper = depth + 1
        if isinstance(value, list):
            return [self.value(v, deeper, parent, where, limit) for v in value]
        if not isinstance(value, dict):
            raise SpecError(f"unexpected value {short_json(value)} in an architecture ({where})")
        if set(value) == {"__module__"}:
            child = self.node(value["__module__"], deeper)
            parent.children.append(child)
            return child
        if set(value) == {"__shared__"}:
            n = value["__shared__"]
            if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < len(self.seen) \
                    or self.seen[n].config is None:
                raise SpecError(f"'__shared__' must name a module built earlier; got "
                                f"{short_json(n, 40)}")
            self.count()
            first = self.seen[n]
            return Plan(first.type, first.cls, first.config, shapes={}, shared=True)
        if set(value) == {"__tuple__"} and isinstance(value["__tuple__"], list):
            return tuple(self.value(v, deeper, parent, where, limit) for v in value["__tuple__"])
        if set(value) == {"__dict__"} and isinstance(value["__dict__"], list):
            items = value["__dict__"]
            if not all(isinstance(kv, list) and len(kv) == 2 for kv in items):
                raise SpecError("a '__dict__' entry must be a list of [key, value] pairs")
            out = {}
            for k, v in items:
                key = self.value(k, deeper, parent, where, limit)
                try:
                    out[key] = self.value(v, deeper, parent, where, limit)
                except TypeError as err:  # an unhashable key
                    raise SpecError(f"bad '__dict__' key: {err}") from None
            return out
        return {k: self.value(v, deeper, parent, f"{where}.{k}", limit) for k, v in value.items()}


def _arguments(cls, config):
    """Every constructor argument of ``cls``: ``config`` over the signature's defaults."""
    params = _constructor_params(cls)
    takes_more = any(p.kind == p.VAR_KEYWORD for p in _init_params(cls))
    unknown = [k for k in config if k not in params]
    if unknown and not takes_more:
        raise TypeError(f"unexpected constructor argument(s) {unknown[:5]}")
    args = {name: p.default for name, p in params.items() if p.default is not p.empty}
    args.update(config)
    missing = [name for name in params if name not in args]
    if missing:
        raise TypeError(f"missing constructor argument(s) {missing[:5]}")
    return args


@functools.lru_cache(maxsize=512)
def _init_params(cls):
    """The parameters of the last ``__init__`` of the ``**kwargs`` chain of ``cls``."""
    last = ()
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None:
            continue
        if init is object.__init__:
            break
        last = list(inspect.signature(init).parameters.values())
        if not any(p.kind == p.VAR_KEYWORD for p in last):
            break
    return last


# -- spec -> module -------------------------------------------------------------------
class _BudgetGenerator(np.random.Generator):
    """The throwaway generator layers draw their initial weights from while a file is loaded.

    It refuses to draw more than ``budget`` values in all: a crafted file cannot make a
    constructor allocate gigabytes of initial weights (they are overwritten by the stored ones
    anyway, so a legitimate file draws about as many values as it stores).
    """

    def __init__(self, budget):
        super().__init__(np.random.PCG64(0))
        self.budget = budget

    def _spend(self, size):
        n = 1 if size is None else int(np.prod(size, dtype=np.float64))
        self.budget -= n
        if self.budget < 0:
            raise SpecError(f"the architecture asks for far more weights than the file stores "
                              f"(a layer drew {n:,} initial values)")

    def random(self, size=None, *args, **kwargs):
        self._spend(size)
        return super().random(size, *args, **kwargs)

    def standard_normal(self, size=None, *args, **kwargs):
        self._spend(size)
        return super().standard_normal(size, *args, **kwargs)

    def uniform(self, low=0.0, high=1.0, size=None):
        self._spend(size)
        return super().uniform(low, high, size)

    def normal(self, loc=0.0, scale=1.0, size=None):
        self._spend(size)
        return super().normal(loc, scale, size)

    def integers(self, low, high=None, size=None, *args, **kwargs):
        self._spend(size)
        return super().integers(low, high, size, *args, **kwargs)


def build(spec, max_int=2**16, max_draws=2**24):
    """Rebuild a module from its spec; any problem raises :class:`SpecError`.

    ``max_int`` bounds every integer of a config, ``max_draws`` the number of initial
    random values the constructors may draw (denial-of-service guards).
    """
    _discover()
    # Constructors draw initial weights that the stored ones overwrite: draw them from a
    # throwaway generator so that loading a model does not move rb.seed's stream. Layers
    # keep rng=None and use the library generator later (dropout masks ...).
    with using(_BudgetGenerator(max_draws)):
        token = _BUILT.set([])
        try:
            model = _build(spec, max_int, 0)
        finally:
            _BUILT.reset(token)
    _release_build_generator(model)
    return model


def _release_build_generator(model):
    """Give the library generator to every module that kept the throwaway one it was built
    under.

    A constructor called with ``rng=None`` that stores ``resolve_rng(rng)`` (RBM, DBN ...)
    keeps whatever the library generator is during the build: the budgeted, fixed-seed
    generator above. Left there, the built model would draw the same "random" numbers after
    every ``rb.seed`` and fail after ``max_draws`` draws; a model built in code with
    ``rng=None`` holds the library generator, and so does a built one now.
    """
    library = generator()
    for module in model.modules():
        for name, value in list(vars(module).items()):
            if isinstance(value, _BudgetGenerator):
                setattr(module, name, library)


def _check_entry(spec, depth):
    """One architecture entry's form, ``{"type": str, "config": {...}}``, and its depth (the
    planner and the builder both walk specs with it)."""
    if depth > MAX_DEPTH:
        raise SpecError(f"architecture nested deeper than {MAX_DEPTH} levels")
    if (
        not isinstance(spec, dict)
        or not isinstance(spec.get("type"), str)
        or not isinstance(spec.get("config"), dict)
    ):
        raise SpecError(
            f"architecture entry must be {{'type': str, 'config': {{...}}}}; got {short_json(spec)}"
        )
    extra = set(spec) - {"type", "config", "dtype"}
    if extra:  # ("ltype" for "dtype" would otherwise be ignored)
        raise SpecError(f"architecture entry {short_json(spec['type'], 40)} has unknown key(s) "
                        f"{sorted(extra)[:3]}; an entry holds type, config and dtype")


def _build(spec, max_int, depth):
    _check_entry(spec, depth)
    entry = _BY_NAME.get(spec["type"])
    if entry is None:
        raise SpecError(_unknown_type(spec["type"]))
    cls, _, build_fn = entry
    built = _BUILT.get()
    slot = len(built)
    built.append(None)  # numbered before its children, as spec_of numbers them
    config = {k: _decode(v, max_int, depth + 1) for k, v in spec["config"].items()}
    kwargs = dict(config)
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        params = {}
    try:
        every = _constructor_params(cls)  # following **kwargs up to the base classes
    except (TypeError, ValueError):
        every = {}
    for name, value in config.items():  # a flag holds true/false, a float slot no bool
        default = every[name].default if name in every else None
        if isinstance(default, bool) and not isinstance(value, bool) or (
                type(default) is float and isinstance(value, bool)):
            raise SpecError(f"{spec['type']}: config {name!r} must be "
                            f"{'true or false' if isinstance(default, bool) else 'a number'}; "
                            f"got {short_json(value, 40)}")
    dtype = spec.get("dtype")
    if dtype is not None and (
        not isinstance(dtype, str) or dtype not in ("float16", "float32", "float64")
    ):
        raise SpecError(f"{spec['type']}: unsupported dtype {dtype!r}")
    try:
        if build_fn is not None:
            module = build_fn(config)
        elif callable(getattr(cls, "from_config", None)):
            module = cls.from_config(config)
        else:
            if "dtype" in params and dtype is not None and "dtype" not in kwargs:
                kwargs["dtype"] = np.dtype(dtype)
            module = cls(**kwargs)
    except SpecError:
        raise
    except (Exception, RecursionError) as err:  # a constructor's complaint about a bad config
        raise SpecError(
            f"cannot rebuild layer {spec['type']} from config {short_json(spec['config'])}: "
            f"{type(err).__name__}: {str(err)[:200]}"
        ) from None
    if not isinstance(module, Module):
        raise SpecError(f"layer type {spec['type']} did not build a Module")
    built[slot] = module
    return module


def _decode(value, max_int, depth):
    if depth > MAX_DEPTH:
        raise SpecError(f"architecture nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, int):
        if abs(value) > max_int:
            raise SpecError(
                f"config integer {value} is larger than the file's {max_int} stored values allow"
            )
        return value
    if isinstance(value, list):
        return [_decode(v, max_int, depth + 1) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__module__"}:
            return _build(value["__module__"], max_int, depth + 1)
        if set(value) == {"__shared__"}:
            n, built = value["__shared__"], _BUILT.get()
            if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < len(built) \
                    or built[n] is None:
                raise SpecError(f"'__shared__' must name a module built earlier; got {n!r}")
            return built[n]
        if set(value) == {"__tuple__"} and isinstance(value["__tuple__"], list):
            return tuple(_decode(v, max_int, depth + 1) for v in value["__tuple__"])
        if set(value) == {"__dict__"} and isinstance(value["__dict__"], list):
            items = value["__dict__"]
            if not all(isinstance(kv, list) and len(kv) == 2 for kv in items):
                raise SpecError("a '__dict__' entry must be a list of [key, value] pairs")
            try:
                return {
                    _decode(k, max_int, depth + 1): _decode(v, max_int, depth + 1) for k, v in items
                }
            except TypeError as err:  # an unhashable key
                raise SpecError(f"bad '__dict__' key: {err}") from None
        return {k: _decode(v, max_int, depth + 1) for k, v in value.items()}
    raise SpecError(f"unexpected value {short_json(value)} in an architecture")


# -- two specs compared: where a file's architecture differs from a model's ------------------
def describe_difference(saved, current, where="model"):
    """Where two architecture specs first differ, as a message; None when they are equal.

    ``saved`` is the file's spec, ``current`` the model's (``spec_of(model)``), e.g.
    ``"model[6] (Dense): out_features 10 in the file, 5 in the model"`` or
    ``"model (Dense): dtype float64 in the file, float32 in the model"``.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> from rosenblatt.nn import registry
    >>> a = rb.nn.Sequential(rb.nn.Dense(3, 4), rb.nn.Dense(4, 2))
    >>> b = rb.nn.Sequential(rb.nn.Dense(3, 4), rb.nn.Dense(4, 5))
    >>> registry.describe_difference(registry.spec_of(a), registry.spec_of(b))
    'model[1] (Dense): out_features 2 in the file, 5 in the model'
    """
    found = _node_difference(saved, current, where)
    if found is None:
        return None
    where, layer, key, a, b = found
    if key is None:
        return f"{where}: a {a} in the file, a {b} in the model"
    return f"{where} ({layer}): {key} {a} in the file, {b} in the model"


def _node_difference(a, b, where):
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return None if a == b else (where, "?", "spec", short_json(a, 60), short_json(b, 60))
    if a.get("type") != b.get("type"):
        return where, None, None, short_json(a.get("type"), 40), short_json(b.get("type"), 40)
    layer = a.get("type")
    ca, cb = a.get("config") or {}, b.get("config") or {}
    for key in sorted(set(ca) | set(cb), key=str):
        found = _value_difference(ca.get(key), cb.get(key), where, layer, key,
                                  f"{where}[{{}}]" if key == "layers" else f"{where}.{key}")
        if found is not None:
            return found
    if a.get("dtype") != b.get("dtype"):
        return where, layer, "dtype", a.get("dtype"), b.get("dtype")
    return None


def _value_difference(a, b, where, layer, key, sub):
    """The first difference of two config values of layer ``layer`` at ``where``; ``sub``
    is where a module found in them sits (with ``{}`` for a list index)."""
    if isinstance(a, dict) and isinstance(b, dict) and set(a) == set(b) == {"__module__"}:
        return _node_difference(a["__module__"], b["__module__"],
                                sub.replace("[{}]", f".{key}") if "{}" in sub else sub)
    if isinstance(a, dict) and isinstance(b, dict) and set(a) == set(b) == {"__tuple__"}:
        a, b = a["__tuple__"], b["__tuple__"]
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            found = _value_difference(x, y, where, layer, f"{key}[{i}]",
                                      sub.format(i) if "{}" in sub else f"{sub}[{i}]")
            if found is not None:
                return found
        if len(a) != len(b):
            return where, layer, f"{key} has", f"{len(a)} entries", f"{len(b)}"
        return None
    return None if a == b else (where, layer, key, short_json(a, 60), short_json(b, 60))


def _unknown_type(name):
    return (f"unknown layer type {short_json(name, 60)}; a custom layer must be registered "
            f"(rosenblatt.nn.register) before loading (rosenblatt.nn.registered() lists the "
            f"{len(_BY_NAME)} known types)")


def short_json(value, limit=120):
    """``value`` as JSON for an error message, cut after ``limit`` characters."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = repr(type(value))
    return text if len(text) <= limit else text[:limit] + "..."
