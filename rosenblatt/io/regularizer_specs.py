"""Per-module regularizers in a model file (``Module.regularizers`` travels with the model).

A module's ``regularizers`` (:mod:`rosenblatt.nn.regularizers`) are stored in the file's
metadata as ``regularizers`` (when some module has set the attribute): a JSON list of
``[module index, type name, config]``, the index counting ``model.modules()`` as the
``modes`` list does. They are rebuilt from a fixed table of the library's regularizers by name
(no import, no eval), their configs checked by their own constructors.

Another regularizer class of the library (the Autoencoder's ``Corruption`` and penalties) is
written the same way, its config being its attributes (``{"kind": "gaussian", "level": 0.5}``),
when they are plain values that rebuild it (``cls(**config)`` has the same attributes); on load
it is found among the library's ``Regularizer`` subclasses by name (no import), and a module's
constructor-made regularizer equal to it is reused (``Autoencoder._corruption`` stays the one in
the list). So a list comes back exactly as saved: emptied, replaced or added to. A regularizer
of any other type (a user's class) cannot be described and is left out with a warning.

Files written before library classes were described hold ``[index, "__built__", type name]``
for a constructor-made one: the rebuilt module's own is taken.
"""

import numbers
import warnings

from ..nn import regularizers as _regs
from .errors import FormatError

# type name -> (class, config of an instance); only these exact classes are saved
_TABLE = {
    "L2": (_regs.L2, lambda r: {"lam": r.l2, "include_bias": r.include_bias}),
    "L1": (_regs.L1, lambda r: {"lam": r.l1, "include_bias": r.include_bias}),
    "ElasticNet": (_regs.ElasticNet,
                   lambda r: {"l1": r.l1, "l2": r.l2, "include_bias": r.include_bias}),
    "MaxNorm": (_regs.MaxNorm, lambda r: {"c": r.c}),
    "InputNoise": (_regs.InputNoise, lambda r: {"std": r.std}),
}
_BY_CLASS = {cls: name for name, (cls, _) in _TABLE.items()}


_BUILT = "__built__"  # older files: made by the module's constructor


def _library_classes():
    """The library's other regularizer classes by name (the Regularizer subclasses defined in
    rosenblatt, those of ``_TABLE`` excluded); a name two classes share maps to None."""
    found, todo = {}, list(_regs.Regularizer.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls in _BY_CLASS or not cls.__module__.startswith("rosenblatt."):
            continue
        name = cls.__qualname__
        found[name] = cls if found.get(name, cls) is cls else None
    return found


def _plain(value):
    return value is None or isinstance(value, (bool, str, int, float))


def _library_config(reg):
    """The attributes that rebuild ``reg`` (a library class outside ``_TABLE``), or None."""
    cls = type(reg)
    if _library_classes().get(cls.__qualname__) is not cls:
        return None
    config = dict(vars(reg))
    if not all(isinstance(k, str) and _plain(v) for k, v in config.items()):
        return None
    try:
        rebuilt = cls(**config)
    except Exception:  # not built from its attributes: cannot be described
        return None
    return config if vars(rebuilt) == config else None


def encode_regularizers(model):
    """The ``[[module index, name, config], ...]`` list of ``model``'s modules' regularizers
    (None when no module has set ``regularizers``; ``[]`` when some module has, all
    empty); warns about each one that cannot be saved."""
    entries, any_set = [], False
    for index, module in enumerate(model.modules()):
        any_set = any_set or "regularizers" in vars(module)
        for reg in tuple(getattr(module, "regularizers", ()) or ()):
            name = _BY_CLASS.get(type(reg))
            if name is None and type(reg).__module__.startswith("rosenblatt."):
                config = _library_config(reg)
                if config is not None:
                    entries.append([index, type(reg).__qualname__, config])
                    continue
            if name is None:
                warnings.warn(
                    f"save: the regularizer {type(reg).__name__} of {type(module).__name__} "
                    f"(model.modules()[{index}]) is not saved (only "
                    f"{', '.join(_TABLE)} are); set it again after rb.load",
                    UserWarning, stacklevel=3)
                continue
            entries.append([index, name, _TABLE[name][1](reg)])
    return entries if any_set else None


def decode_regularizers(entries, model):
    """Set each module's ``regularizers`` from the file's list; FormatError naming the entry.

    Without the list (an older file, or no module had set any), every module keeps what its
    constructor made; with it, every module's list is exactly the saved one.
    """
    if entries is None:
        return
    modules = model.modules()
    if not isinstance(entries, list):
        raise FormatError("'regularizers' must be a list of [module index, name, config]")
    rebuilt, library = {}, None
    for i, entry in enumerate(entries):
        where = f"'regularizers'[{i}]"
        if not (isinstance(entry, list) and len(entry) == 3):
            raise FormatError(f"{where} must be [module index, name, config]")
        index, name, config = entry
        if isinstance(index, bool) or not isinstance(index, int) \
                or not 0 <= index < len(modules):
            raise FormatError(f"{where}: module index {str(index)[:20]} is not one of the "
                              f"model's {len(modules)} modules")
        if name == _BUILT:  # made by the module's constructor: take it from there
            made = [r for r in tuple(getattr(modules[index], "regularizers", ()) or ())
                    if type(r).__name__ == config]
            taken = sum(type(r).__name__ == config for r in rebuilt.get(index, ()))
            if taken < len(made):
                rebuilt.setdefault(index, []).append(made[taken])
            continue
        if isinstance(name, str) and name not in _TABLE:
            library = _library_classes() if library is None else library
            if library.get(name) is not None:
                rebuilt.setdefault(index, []).append(
                    _library_regularizer(where, library[name], config, modules[index],
                                         rebuilt.get(index, ())))
                continue
        if not isinstance(name, str) or name not in _TABLE:
            raise FormatError(f"{where}: unknown regularizer {str(name)[:40]!r}; known: "
                              f"{', '.join(_TABLE)}")
        if not (isinstance(config, dict) and all(
                isinstance(k, str) and isinstance(v, (bool, numbers.Real))
                for k, v in config.items())):
            raise FormatError(f"{where}: config must map argument names to numbers")
        if not isinstance(config.get("include_bias", False), bool):
            raise FormatError(f"{where}: include_bias must be true or false")
        try:
            reg = _TABLE[name][0](**config)
        except (TypeError, ValueError) as err:
            raise FormatError(f"{where}: {str(err)[:200]}") from None
        rebuilt.setdefault(index, []).append(reg)
    for index, module in enumerate(modules):
        if index in rebuilt or tuple(getattr(module, "regularizers", ()) or ()):
            module.regularizers = rebuilt.get(index, [])


def _library_regularizer(where, cls, config, module, taken):
    """A library regularizer from its attributes: the module's constructor-made one when it is
    equal (and not taken yet), else a new one; FormatError for a bad config."""
    if not (isinstance(config, dict) and all(
            isinstance(k, str) and _plain(v) and len(str(v)) <= 100
            for k, v in config.items())):
        raise FormatError(f"{where}: config must map argument names to numbers or short "
                          f"strings")
    for made in tuple(getattr(module, "regularizers", ()) or ()):
        if type(made) is cls and vars(made) == config and \
                not any(made is other for other in taken):
            return made
    try:
        return cls(**config)
    except (TypeError, ValueError) as err:
        raise FormatError(f"{where}: {str(err)[:200]}") from None
