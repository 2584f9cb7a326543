"""Turn a checked config into objects: model, loss, optimizer, schedule, regularizers, callbacks.

Names are looked up in the library's own namespaces (``rb.nn``, ``rb.losses``,
``rb.optim``, ``rb.optim.schedules``, ``rb.regularizers``, ``rb.callbacks``),
case-insensitively; nothing is imported or evaluated from the config itself.
"""

import inspect
import os

import numpy as np

from .errors import CLIError

# Callbacks made of Python functions: a config names them, but cannot give their functions.
NOT_FROM_TOML = {
    "LambdaCallback": "use rb.fit(..., callbacks=[rb.callbacks.LambdaCallback(...)]) from Python",
    "LearningRateScheduler": "give the schedule as a [schedule] table instead "
                             "(name = \"Cosine\", ...)",
}


def lookup(namespace, name, key, kind, base=None):
    """The public class (or function) ``name`` of ``namespace``, any case.

    Raises CLIError naming the config key and listing what is accepted.
    """
    candidates = {}
    home = namespace.__name__
    for attr in getattr(namespace, "__all__", None) or dir(namespace):
        if attr.startswith("_"):
            continue
        obj = getattr(namespace, attr, None)
        # Only what the namespace itself defines (not helpers it imports, e.g. Tensor).
        if not getattr(obj, "__module__", "").startswith(home):
            continue
        if base is not None and not (isinstance(obj, type) and issubclass(obj, base)):
            continue
        if base not in (None, object) and obj is base:
            continue  # the abstract base class itself (Module, Optimizer) is not a choice
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


def _arguments(cls, skip=()):
    """The keyword arguments ``cls`` accepts, for error messages ('' if unknown)."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return ""
    return ", ".join(p.name for p in params if p.name not in skip and p.name != "self"
                     and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def _construct(cls, args, key, what, signature_of=None, skip=()):
    try:
        return cls(**args)
    except (TypeError, ValueError) as e:
        message = str(e)
        if isinstance(e, TypeError) and "unexpected keyword argument" in message:
            accepted = _arguments(signature_of or cls, skip)
            if accepted:
                message += f"; {what} accepts: {accepted}"
        raise CLIError(f"config key '{key}' ({what}): {message}") from None


# Recurrent layers (RNN, LSTM, GRU ...) return (outputs, state); only SequenceOutputs takes that.
_SEQUENCE_OUTPUTS_FIX = ("put a SequenceOutputs layer after it (last = true for one target per "
                         "sequence)")


def _width(layers, sample):
    """Size of axis 1 of the output of ``layers`` for a sample batch (features or channels)."""
    import rosenblatt as rb

    x = rb.tensor(sample)
    with rb.no_grad():
        for layer in layers:
            layer.eval()
            x = layer(x)
            layer.train()
    return int(x.shape[1])


def available_memory():
    """Bytes of memory this process can count on (MemAvailable on Linux, else all of it)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 2**40


def _ints(args, *names):
    return [int(args[n]) for n in names if isinstance(args.get(n), int)
            and not isinstance(args.get(n), bool) and args[n] > 0]


def parameter_estimate(args, cls=None):
    """About how many numbers a layer with these arguments holds, without building it.

    A library layer ``cls`` states its shapes from its arguments
    (``state_shapes``, the loader's plan): they are counted exactly. Otherwise
    known shapes (dense, convolution, recurrent, embedding, normalisation) are
    counted as the layers count them, anything else as the product of its two
    largest integer arguments, an upper bound for the usual layers.
    """
    if cls is not None:
        from ..nn import registry

        try:
            shapes = registry.shapes_of(cls, args) if registry.states_shapes(cls) else None
        except Exception:  # arguments the layer refuses: its constructor will say why
            shapes = None
        if shapes is not None:
            return sum(int(np.prod(shape, dtype=np.float64)) for shape in shapes.values())
    kernel = args.get("kernel_size", 1)
    kernel = int(np.prod(kernel)) if isinstance(kernel, (list, tuple)) and kernel else kernel
    kernel = kernel if isinstance(kernel, int) and not isinstance(kernel, bool) and kernel > 0 \
        else 1
    if len(dense := _ints(args, "in_features", "out_features")) == 2:
        pieces = _ints(args, "pieces", "n_centers")
        return (dense[0] + 1) * dense[1] * (pieces[0] if pieces else 1)
    if len(conv := _ints(args, "in_channels", "out_channels")) == 2:
        side = kernel if isinstance(args.get("kernel_size"), (list, tuple)) else kernel ** 2
        return (conv[0] * side + 1) * conv[1]
    if len(rec := _ints(args, "input_size", "hidden_size")) == 2:
        layers = (_ints(args, "num_layers") or [1])[0]
        return 4 * (max(rec) + rec[1] + 2) * rec[1] * layers  # four gates (LSTM) at most
    if len(emb := _ints(args, "num_embeddings", "embedding_dim")) == 2:
        return emb[0] * emb[1]
    counts = sorted(v for k, v in args.items() if isinstance(v, int) and not isinstance(v, bool)
                    and v > 0 and k not in ("stride", "padding", "axis", "start_axis"))
    if len(counts) >= 2:
        return counts[-1] * counts[-2]
    return 4 * counts[-1] if counts else 0


def _gib(n):
    gib = n / 1024**3
    return f"{gib:.1f} GiB" if gib < 1e4 else f"{gib:.3g} GiB"


class _Memory:
    """A running estimate of what training the model will need, checked against a limit.

    Parameters count four times (weights, gradients, two optimizer moments);
    each layer's output counts three times per example of a batch (its
    value, its gradient and what the layer caches for backward).
    """

    def __init__(self, itemsize, batch_size, limit):
        self.itemsize, self.batch_size, self.limit = itemsize, batch_size, limit
        self.params = self.activations = 0

    def total(self, extra_params=0, extra_activations=0):
        return ((self.params + extra_params) * 4 * self.itemsize
                + (self.activations + extra_activations) * 3 * self.itemsize * self.batch_size)

    def check(self, key, what, extra_params=0, extra_activations=0):
        if self.limit is None:
            return
        need = self.total(extra_params, extra_activations)
        if need > self.limit:
            raise CLIError(
                f"config key '{key}' ({what}): the model would need about {_gib(need)} to train "
                f"({self.params + extra_params:,} parameters with their gradients and optimizer "
                f"state, plus the activations of a batch of {self.batch_size}), more than the "
                f"{_gib(self.limit)} this machine has available; make the layers smaller")


def build_model(layers, input_shape, dtype="float32", rng=None, batch_size=None,
                memory_limit=None):
    """A Sequential of the configured layers.

    ``input_shape`` is the shape of one sample, e.g. ``(64,)`` or ``(1, 8, 8)``.
    A layer's ``in_features``, ``num_features`` or ``in_channels``, when not
    given, is the size of axis 1 of the previous layers' output (found by
    running two zero samples through them), so that only output sizes need
    to be written, for dense and convolutional networks alike.

    With ``memory_limit`` (bytes), each layer's parameters are estimated from
    its arguments before it is built (:func:`parameter_estimate`), and the
    activations of a batch of ``batch_size`` from the two samples' outputs; a
    model that would need more than the limit to train is refused (CLIError
    naming the layer and the estimate in GiB) before anything large is
    allocated.

    A layer that returns ``(outputs, state)`` (the recurrent layers) must be
    followed by ``SequenceOutputs``; anything else after it, or nothing, is a
    CLIError naming both layers and the fix.
    """
    import rosenblatt as rb

    dt = np.dtype(dtype)
    sample = np.zeros((2, *input_shape), dtype=dt)
    memory = _Memory(dt.itemsize, batch_size or 32, memory_limit)
    memory.activations = int(np.prod(input_shape))
    memory.check("training.batch_size", "a batch of inputs")
    built = []
    current = rb.tensor(sample)  # the sample through the layers built so far (None: failed)
    for i, spec in enumerate(layers):
        key = f"model.layers[{i}]"
        cls = lookup(rb.nn, spec["type"], f"{key}.type", "layer type", base=rb.nn.Module)
        if isinstance(current, tuple) and cls is not rb.nn.SequenceOutputs:
            raise CLIError(f"config key '{key}' ({cls.__name__}): model.layers[{i - 1}] "
                           f"({type(built[-1]).__name__}) returns (outputs, state); "
                           f"{_SEQUENCE_OUTPUTS_FIX}")
        args = {k: v for k, v in spec.items() if k != "type"}
        for fill in ("in_features", "num_features", "in_channels"):
            if _accepts(cls, fill) and fill not in args:
                try:
                    args[fill] = _width(built, sample)
                except (ValueError, TypeError, IndexError) as e:
                    raise CLIError(f"config key '{key}': cannot infer {fill} from the previous "
                                   f"layers ({e}); give it explicitly") from None
        memory.check(key, cls.__name__, extra_params=parameter_estimate(args, cls))
        if _accepts(cls, "rng") and "rng" not in args:
            args["rng"] = rng
        if "dtype" in args:  # one dtype for the model: its metadata, inputs and export
            try:
                same = np.dtype(args["dtype"]) == dt
            except TypeError:
                same = False
            if not same:
                raise CLIError(f"config key '{key}.dtype': {args['dtype']!r} differs from "
                               f"model.dtype {dt.name!r}; set the dtype once, in model.dtype "
                               f"(\"float32\" or \"float64\"), and leave it out of the layers")
        if _accepts(cls, "dtype") and "dtype" not in args:
            args["dtype"] = dt
        layer = _construct(cls, args, key, cls.__name__)
        built.append(layer)
        memory.params += sum(int(p.data.size) for p in layer.parameters())
        if current is not None:
            try:
                with rb.no_grad():
                    layer.eval()
                    current = layer(current)
                    layer.train()
                out = current[0] if isinstance(current, tuple) else current
                memory.activations += int(np.prod(out.shape[1:]))
            except (ValueError, TypeError, IndexError, AttributeError) as e:
                # this layer's own value is wrong (e.g. in_features): say so here, not at the
                # next layer whose width cannot be inferred
                raise CLIError(f"config key '{key}' ({cls.__name__}): the layers do not fit "
                               f"together for inputs of shape {tuple(input_shape)}: {e}"
                               ) from None
            memory.check(key, cls.__name__)
    if isinstance(current, tuple):
        raise CLIError(f"config key 'model.layers[{len(built) - 1}]' "
                       f"({type(built[-1]).__name__}): the last layer returns (outputs, state), "
                       f"which no loss takes; {_SEQUENCE_OUTPUTS_FIX}")
    model = rb.nn.Sequential(*built)
    if dt != np.float32:
        model.astype(dt)  # layers without a dtype argument
    try:
        _width(built, sample)
    except (ValueError, TypeError, IndexError) as e:
        raise CLIError(f"config table [model]: the layers do not fit together for inputs of "
                       f"shape {tuple(input_shape)}: {e}") from None
    return model


def check_loss(name):
    """``(canonical name, function)`` of the loss ``rb.losses.<name>``.

    The name is matched like every other config name (any case, underscores
    optional: "CrossEntropy" finds ``cross_entropy``); the canonical spelling
    is returned so that the task (classification or regression) and the saved
    model's metadata do not depend on how the config spelled it.
    """
    import rosenblatt as rb

    fn = lookup(rb.losses, name, "training.loss", "loss")
    if getattr(rb.losses, name, None) is fn:
        return name, fn
    folded = name.lower().replace("_", "")
    canonical = next(attr for attr in sorted(dir(rb.losses))
                     if attr.lower().replace("_", "") == folded and getattr(rb.losses, attr) is fn)
    return canonical, fn


def build_optimizer(spec, params):
    """``rb.optim.<name>(params, **arguments)``."""
    import rosenblatt as rb

    args = {k: v for k, v in spec.items() if k != "name"}
    cls = lookup(rb.optim, spec["name"], "optimizer.name", "optimizer", base=rb.optim.Optimizer)
    return _construct(lambda **kw: cls(params, **kw), args, "optimizer", cls.__name__,
                      signature_of=cls, skip=("params",))


def build_schedule(spec):
    """``rb.optim.schedules.<name>(**arguments)``, or None."""
    if spec is None:
        return None
    import rosenblatt as rb

    schedules = getattr(rb.optim, "schedules", None)
    if schedules is None:
        raise CLIError("config table [schedule]: this version of rosenblatt has no "
                       "rb.optim.schedules")
    # the abstract base class Schedule is not a choice (its __call__ is not implemented)
    cls = lookup(schedules, spec["name"], "schedule.name", "schedule", base=schedules.Schedule)
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
        # Regularizer / Callback: the base class is not a choice, its subclasses are
        base = getattr(namespace, namespace_name.rstrip("s").capitalize(), None)
        base = base if isinstance(base, type) else object
        cls = lookup(namespace, name, key, namespace_name.rstrip("s"), base=base)
        if not isinstance(cls, type):
            raise CLIError(f"config key '{key}': {name} is not a class of rb.{namespace_name}")
        if cls.__name__ in NOT_FROM_TOML:
            raise CLIError(f"config key '{key}': {cls.__name__} takes Python functions, which "
                           f"a TOML config cannot give; {NOT_FROM_TOML[cls.__name__]}")
        out.append(_construct(cls, args, key, cls.__name__))
    return out
