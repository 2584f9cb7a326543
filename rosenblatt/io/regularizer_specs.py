"""Per-module regularizers in a model file (``Module.regularizers`` travels with the model).

A module's ``regularizers`` (:mod:`rosenblatt.nn.regularizers`) are stored in the file's
metadata as ``regularizers`` (when some module has set the attribute): a JSON list of
``[module index, type name, config]``, the index counting ``model.modules()`` as the
``modes`` list does. They are rebuilt from a fixed table of the library's regularizers by name
(no import, no eval), their configs checked by their own constructors.

A regularizer that a model's constructor makes itself (the Autoencoder's corruption and
penalties, built from its config) is written as ``[index, "__built__", type name]``: the
rebuilt model's constructor makes it again, and it keeps its place in the list. A regularizer
of any other type (a user's class) cannot be described and is left out with a warning.
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


_BUILT = "__built__"


def encode_regularizers(model):
    """The ``[[module index, name, config], ...]`` list of ``model``'s modules' regularizers
    (None when no module has set ``regularizers``); warns about each one that cannot be
    saved."""
    entries, any_set = [], False
    for index, module in enumerate(model.modules()):
        any_set = any_set or "regularizers" in vars(module)
        for reg in tuple(getattr(module, "regularizers", ()) or ()):
            name = _BY_CLASS.get(type(reg))
            if name is None and type(reg).__module__.startswith("rosenblatt."):
                entries.append([index, _BUILT, type(reg).__name__])  # the constructor's own
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
    rebuilt = {}
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
