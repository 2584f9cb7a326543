"""Turn a checked config into objects: model, loss, optimizer, schedule, regularizers, callbacks.

Names are looked up in the library's own namespaces (``rb.nn``, ``rb.losses``,
``rb.optim``, ``rb.optim.schedules``, ``rb.regularizers``, ``rb.callbacks``),
case-insensitively; nothing is imported or evaluated from the config itself.
"""

import inspect

import numpy as np

from .errors import CLIError


def lookup(namespace, name, key, kind, base=None):
    """The public class (or function) ``name`` of ``namespace``, any case.

    Raises CLIError naming the config key and listing what is accepted.
    """
    candidates = {}
    for attr in dir(namespace):
        if attr.startswith("_"):
            continue
        obj = getattr(namespace, attr)
        if base is not None and not (isinstance(obj, type) and issubclass(obj, base)):
            continue
        if base is None and not callable(obj):
            continue
        candidates[attr] = obj
    if name in candidates:
        return candidates[name]
    folded = {k.lower().replace("_", ""): v for k, v in candidates.items()}
    hit = folded.get(name.lower().replace("_", ""))
    if hit is not None:
        return hit
    names = ", ".join(sorted(candidates))
    raise CLIError(f"config key '{key}': unknown {kind} {name!r}; expected one of: {names}")


def _accepts(cls, argument):
    try:
        return argument in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def _construct(cls, args, key, what):
    try:
        return cls(**args)
    except (TypeError, ValueError) as e:
        raise CLIError(f"config key '{key}' ({what}): {e}") from None


def build_model(layers, in_features, dtype="float32", rng=None):
    """A Sequential of the configured layers.

    ``in_features`` of a Dense (and ``num_features`` of a normalisation layer)
    defaults to the width of the previous layer's output, starting from the
    data's number of features.
    """
    import rosenblatt as rb

    width = in_features
    built = []
    for i, spec in enumerate(layers):
        key = f"model.layers[{i}]"
        cls = lookup(rb.nn, spec["type"], f"{key}.type", "layer type", base=rb.nn.Module)
        args = {k: v for k, v in spec.items() if k != "type"}
        for fill in ("in_features", "num_features"):
            if _accepts(cls, fill) and fill not in args and width is not None:
                args[fill] = width
        if _accepts(cls, "rng") and "rng" not in args:
            args["rng"] = rng
        layer = _construct(cls, args, key, cls.__name__)
        if isinstance(getattr(layer, "out_features", None), int):
            width = layer.out_features
        built.append(layer)
    model = rb.nn.Sequential(*built)
    if dtype != "float32":
        model.astype(np.dtype(dtype))
    return model


def check_loss(name):
    """The loss function ``rb.losses.<name>``."""
    import rosenblatt as rb

    return lookup(rb.losses, name, "training.loss", "loss")


def build_optimizer(spec, params):
    """``rb.optim.<name>(params, **arguments)``."""
    import rosenblatt as rb

    args = {k: v for k, v in spec.items() if k != "name"}
    cls = lookup(rb.optim, spec["name"], "optimizer.name", "optimizer", base=rb.optim.Optimizer)
    return _construct(lambda **kw: cls(params, **kw), args, "optimizer", cls.__name__)


def build_schedule(spec):
    """``rb.optim.schedules.<name>(**arguments)``, or None."""
    if spec is None:
        return None
    import rosenblatt as rb

    schedules = getattr(rb.optim, "schedules", None)
    if schedules is None:
        raise CLIError("config table [schedule]: this version of rosenblatt has no "
                       "rb.optim.schedules")
    cls = lookup(schedules, spec["name"], "schedule.name", "schedule")
    return _construct(cls, {k: v for k, v in spec.items() if k != "name"}, "schedule",
                      getattr(cls, "__name__", spec["name"]))


def build_named(namespace_name, entries):
    """Instances of ``rb.<namespace_name>.<Name>(**arguments)`` for [regularizers]/[callbacks]."""
    import rosenblatt as rb

    namespace = getattr(rb, namespace_name, None)
    if namespace is None:
        raise CLIError(f"config table [{namespace_name}]: this version of rosenblatt has no "
                       f"rb.{namespace_name}")
    out = []
    for name, args in entries:
        key = f"{namespace_name}.{name}"
        cls = lookup(namespace, name, key, namespace_name.rstrip("s"))
        if not isinstance(cls, type):
            raise CLIError(f"config key '{key}': {name} is not a class of rb.{namespace_name}")
        out.append(_construct(cls, args, key, cls.__name__))
    return out
