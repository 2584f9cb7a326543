"""Modules: layers and networks built from layers (notes: "Feed-forward neural networks").

A :class:`Module` finds its parameters and sub-modules by walking its
attributes (and lists, tuples and dicts of them) in definition order; there
is no ``__setattr__`` magic (no registration). The one ``__setattr__`` hook is a
guard, as in PyTorch: an attribute that holds a :class:`Parameter` takes only
another Parameter (or None), since an array put there would turn the weight
into a constant that no optimizer trains and that ``rb.save`` cannot write.
Buffers (non-learned state such as batch norm's
running statistics) are ndarray attributes named in the class attribute
``buffers``.
"""

import contextlib
import copy

import numpy as np

from .. import randomness
from ..checks import boolean
from .parameter import Parameter, ParameterVector


def _walk(value):
    """Yield (key, item) for the modules and parameters inside an attribute value."""
    if isinstance(value, (Module, Parameter)):
        yield "", value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            for key, found in _walk(item):
                yield f"{i}.{key}" if key else str(i), found
    elif isinstance(value, dict):
        for k, item in value.items():
            for key, found in _walk(item):
                yield f"{k}.{key}" if key else str(k), found


def _clone(value, memo):
    """The structural copy behind :meth:`Module.clone` (``memo``: id -> copy, keeps sharing)."""
    key = id(value)
    if key in memo:
        return memo[key]
    if isinstance(value, Parameter):
        out = Parameter(value.data.copy(), requires_grad=value.requires_grad, name=value.name)
    elif isinstance(value, Module):
        out = object.__new__(type(value))
        memo[key] = out  # before the attributes: a module that refers back to itself
        for name, item in vars(value).items():
            setattr(out, name, _clone(item, memo))
        out._after_clone(value)  # at every depth: a model nested in another gets its own state
        return out
    elif isinstance(value, np.ndarray):
        out = value.copy()
    elif type(value) is np.random.Generator:  # not a subclass: the draw objects that
        # data-parallel training puts in a layer belong to the run, and stay shared
        if value is randomness._generator or value is randomness.generator():
            return value  # the library generator (rng=None): rb.seed decides both models' draws
        # a layer's own (Dropout(rng=0)): a copy in the same state, so that each model goes
        # on with its own stream (the clone draws what the original would have drawn), and
        # training one does not change the masks of the other
        out = np.random.Generator(copy.deepcopy(value.bit_generator))
    elif isinstance(value, ParameterVector):
        # a module that keeps its parameters packed (RBM.vector): the clone's own vector over
        # the cloned parameters, so that stepping it moves the clone (an optimizer kept as an
        # attribute is still shared: a model that keeps one rebuilds it in _after_clone). The
        # parameters' own dtype, not the vector's: astype moves them out of it without
        # repacking, and the vector's old dtype would round a float64 clone to float32
        out = ParameterVector([_clone(p, memo) for p in value.params])
    elif isinstance(value, list):
        out = [_clone(item, memo) for item in value]
    elif isinstance(value, tuple) and type(value) is tuple:
        out = tuple(_clone(item, memo) for item in value)
    elif isinstance(value, dict) and type(value) is dict:
        out = {k: _clone(item, memo) for k, item in value.items()}
    else:
        return value  # numbers, strings, callables, other objects: shared
    memo[key] = out
    return out


def _replace(value, old, new):
    """``value`` with ``old`` replaced by ``new`` in its lists, tuples and dicts (by identity)."""
    if value is old:
        return new
    if isinstance(value, list):
        value[:] = [_replace(item, old, new) for item in value]
    elif isinstance(value, tuple) and type(value) is tuple:
        return tuple(_replace(item, old, new) for item in value)
    elif isinstance(value, dict) and type(value) is dict:
        for k, item in value.items():
            value[k] = _replace(item, old, new)
    return value


def no_state(cls, config):
    """``state_shapes`` of a layer without parameters or buffers:
    ``state_shapes = classmethod(no_state)``."""
    return {}


class ErrorName:
    """What a layer's error messages start with, ``Conv2d(1, 6, kernel_size=(5, 5))``,
    formatted only when a message is.

    A layer hands it (``where=ErrorName(self)``) to the functional op it calls at every
    step; the f-string itself would cost a microsecond or two a call.
    """

    __slots__ = ("module",)

    def __init__(self, module):
        self.module = module

    def __str__(self):
        return f"{type(self.module).__name__}({self.module.extra_repr()})"

    def __format__(self, spec):
        return format(str(self), spec)


class Module:
    """Base class of layers and models.

    Subclasses set their parameters (:class:`Parameter`) and sub-modules as
    attributes in ``__init__`` and implement ``forward``. ``training`` is read
    only by the layers that behave differently in training (dropout, batch
    norm, RReLU).

    ``regularizers`` (a list of :mod:`rosenblatt.regularizers` objects, empty
    by default) travels with the model: the training loop applies them on
    top of the ones it is given. Only the list of the model handed to the
    training loop is applied; a sub-module's own list is not (a regularizer acts
    on the model it is given; ``rb.regularizers.collect`` warns about one).
    """

    buffers = ()
    training = True
    regularizers = ()

    def __setattr__(self, name, value):
        # cheap for the usual assignments: one isinstance test, a dict lookup only for a
        # non-Parameter value
        if value is not None and not isinstance(value, Parameter):
            if isinstance(self.__dict__.get(name), Parameter):
                cls = type(self).__name__
                raise TypeError(
                    f"{cls}.{name} is a Parameter; cannot assign a value of type "
                    f"{type(value).__name__} to it (the weight would become a constant that "
                    f"no optimizer trains). "
                    f"Assign rb.nn.Parameter(values), or set the values in place: "
                    f"{cls}.{name}.data[...] = values"
                )
        object.__setattr__(self, name, value)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- structure ------------------------------------------------------------
    def _items(self):
        for name, value in vars(self).items():
            if name.startswith("__"):
                continue
            for key, found in _walk(value):
                yield (f"{name}.{key}" if key else name), found

    def named_children(self):
        """(name, module) for each direct sub-module."""
        for name, item in self._items():
            if isinstance(item, Module):
                yield name, item

    def children(self):
        """The direct sub-modules."""
        return [m for _, m in self.named_children()]

    def modules(self):
        """This module and all modules below it, depth first, each once (a module used in
        several places, such as a shared layer, is listed where it is first met, as in
        PyTorch: whoever walks them, e.g. to set modes or wrap generators, does it once)."""
        out, seen = [], set()
        stack = [self]
        while stack:
            module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            out.append(module)
            stack.extend(reversed(list(module.children())))
        return out

    def named_parameters(self, prefix=""):
        """(dotted name, Parameter) for every parameter, each once.

        A module met again (shared, or a back-reference to a parent) is not walked again:
        its parameters are listed already, and a cycle would never end.
        """
        seen, seen_modules = set(), set()
        stack = [(prefix, self)]
        result = []
        while stack:
            pre, module = stack.pop()
            if id(module) in seen_modules:
                continue
            seen_modules.add(id(module))
            children = []
            for name, item in module._items():
                full = f"{pre}{name}"
                if isinstance(item, Parameter):
                    if id(item) not in seen:
                        seen.add(id(item))
                        result.append((full, item))
                else:
                    children.append((f"{full}.", item))
            stack.extend(reversed(children))
        return result

    def tie(self, name, parameter):
        """Make the parameter at position ``name`` be ``parameter`` (the inverse of
        :meth:`tied_parameters`, used by ``rb.load`` to re-tie weights); returns self.

        Raises
        ------
        KeyError
            If no parameter sits at ``name``.
        ValueError
            If ``parameter``'s shape differs from the one it replaces.
        """
        stack = [("", self)]
        while stack:
            pre, module = stack.pop()
            for item_name, item in module._items():
                full = f"{pre}{item_name}"
                if isinstance(item, Parameter) and full == name:
                    if item.shape != parameter.shape:
                        raise ValueError(f"tie: {name} has shape {item.shape}; the parameter "
                                         f"tied to it has {parameter.shape}")
                    for attr, value in vars(module).items():
                        setattr(module, attr, _replace(value, item, parameter))
                    return self
                if isinstance(item, Module) and name.startswith(f"{full}."):
                    stack.append((f"{full}.", item))
        raise KeyError(f"tie: no parameter named {name!r}")

    def parameters(self):
        """Every parameter of the module and its sub-modules, in definition order."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix="", _seen=None):
        """(dotted name, ndarray) for the non-learned state (running statistics ...).

        A module used in several places lists its buffers once, under its first
        position, as :meth:`named_parameters` lists a shared parameter once.
        """
        seen = set() if _seen is None else _seen
        seen.add(id(self))
        out = [(f"{prefix}{name}", getattr(self, name)) for name in self.buffers]
        for name, child in self.named_children():
            if id(child) not in seen:
                out.extend(child.named_buffers(f"{prefix}{name}.", seen))
        return out

    def tied_parameters(self):
        """(later name, first name) for each further position of a parameter used twice.

        :meth:`named_parameters` lists such a parameter once, under its first name;
        positions inside a module used twice are not listed (the module is shared whole).
        """
        first, ties, seen_modules = {}, [], set()
        stack = [("", self)]
        while stack:
            pre, module = stack.pop()
            if id(module) in seen_modules:
                continue
            seen_modules.add(id(module))
            children = []
            for name, item in module._items():
                full = f"{pre}{name}"
                if isinstance(item, Parameter):
                    if id(item) in first:
                        ties.append((full, first[id(item)]))
                    else:
                        first[id(item)] = full
                else:
                    children.append((f"{full}.", item))
            stack.extend(reversed(children))
        return ties

    def num_parameters(self):
        """The number of learned values."""
        return int(sum(p.size for p in self.parameters()))

    @classmethod
    def state_shapes(cls, config):
        """The shape of every parameter and buffer ``cls(**config)`` creates, computed without
        creating them (so that a file cannot make the loader allocate more than it holds).

        Parameters
        ----------
        config : dict
            Every constructor argument (the saved config over the signature's defaults);
            a sub-layer appears as its :class:`rosenblatt.nn.registry.Plan`, whose
            ``shapes_under(prefix)`` gives its state under ``prefix``.

        Returns
        -------
        dict of str -> tuple of int, or None
            ``state_dict()`` name -> shape; None (this default) where a layer does not
            state them: the loader then builds it under its random-draw budget only.
            Raise ``TypeError``/``ValueError`` for a config the constructor would refuse.
        """
        return None

    # -- modes ----------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (dropout, batch norm and RReLU read it); returns self.

        ``mode`` is True or False (a NumPy bool too); anything else, such as the string
        ``"False"``, which is truthy, is a TypeError.
        """
        mode = boolean(type(self).__name__ + ".train", "mode", mode)
        for m in self.modules():
            m.training = mode
        return self

    def eval(self):
        """Set evaluation mode; returns self."""
        return self.train(False)

    @contextlib.contextmanager
    def evaluating(self):
        """Evaluation mode inside a ``with`` block; every module's own mode is restored after.

        Examples
        --------
        >>> import rosenblatt as rb
        >>> net = rb.nn.Sequential(rb.nn.Dense(2, 2), rb.nn.Dropout(0.5))
        >>> with net.evaluating():
        ...     net[1].training
        False
        >>> net[1].training
        True
        """
        modes = [(m, m.training) for m in self.modules()]
        self.eval()
        try:
            yield self
        finally:
            for m, mode in modes:
                m.training = mode

    def freeze(self):
        """Stop learning every parameter (``requires_grad = False``); returns self."""
        for p in self.parameters():
            p.requires_grad = False
        return self

    def unfreeze(self):
        """Learn every parameter again; returns self.

        An optimizer built while some parameters were frozen does not hold them (it packs
        the trainable ones only), so it will not train them after this: build a new
        optimizer over ``parameters()`` (``rb.fit`` warns when it meets this case).
        """
        for p in self.parameters():
            p.requires_grad = True
        return self

    def clone(self):
        """An independent copy: new parameters and buffers with the same values.

        A structural copy, not ``copy.deepcopy``: sub-modules are cloned,
        parameters become new parameters (same values, same ``requires_grad``,
        no gradient, not packed in any optimizer's vector), ndarray attributes
        are copied, a :class:`ParameterVector` attribute is rebuilt over the
        cloned parameters, a layer's own random generator (``Dropout(rng=0)``)
        is copied in its current state (each model then goes on with its own
        stream: the clone draws what the original would have drawn), and
        lists, tuples and dicts are rebuilt; anything else (sizes, names,
        callables, the library generator that ``rng=None`` draws from and
        ``rb.seed`` resets, optimizers) is shared with the original (a model
        that keeps an optimizer rebuilds it in its
        :meth:`_after_clone`, as ``GAN`` and ``RBM`` do; that hook runs for
        every module cloned, at any depth). A parameter or module that
        appears twice in ``self`` is one object in the clone too (the sharing
        is kept), and no state of the clone (parameters, buffers, a layer's
        own generator) is shared with ``self``: training one leaves the other
        alone (notes: "Modular Neural Networks": a trained word module W
        reused, as a copy, inside a larger network), except that both draw
        from the library generator where they were built with ``rng=None``,
        as any two models do.

        Examples
        --------
        >>> import rosenblatt as rb
        >>> a = rb.nn.Dense(2, 3)
        >>> b = a.clone()
        >>> bool((b.W.data == a.W.data).all()), b.W is a.W
        (True, False)
        """
        return _clone(self, {})

    def _after_clone(self, original):
        """Make a fresh structural copy of ``original`` independent (called by :meth:`clone`
        on every module it copies, the sub-modules included, once their attributes are
        copied): rebuild what the copy must not share, such as an optimizer or the graph of
        the last forward pass. Nothing to do here."""

    def zero_grad(self):
        """Zero every parameter's gradient in place (keeping ParameterVector views)."""
        for p in self.parameters():
            if p.grad is not None:
                p.grad.fill(0)

    # -- state ----------------------------------------------------------------
    def state_dict(self):
        """Name -> array copy of every parameter and buffer."""
        state = {name: p.data.copy() for name, p in self.named_parameters()}
        state.update({name: np.array(b, copy=True) for name, b in self.named_buffers()})
        return state

    def load_state_dict(self, state, strict=True):
        """Copy arrays into the parameters and buffers, in place.

        Every name and shape is checked before anything is copied: a refused
        load leaves the model as it was.

        Raises
        ------
        KeyError
            If ``strict`` and a name is missing or unexpected.
        ValueError
            If a shape differs.
        """
        targets = dict(self.named_parameters())
        targets_buf = dict(self.named_buffers())
        expected = set(targets) | set(targets_buf)
        if strict:
            missing = sorted(expected - set(state))
            unexpected = sorted(set(state) - expected)
            if missing or unexpected:
                raise KeyError(
                    f"load_state_dict: missing {missing or 'nothing'}, unexpected "
                    f"{unexpected or 'nothing'}"
                )
        pairs = []  # checked first, copied after: a refused load changes nothing
        for name, value in state.items():
            if name in targets:
                dest = targets[name].data
            elif name in targets_buf:
                dest = targets_buf[name]
            else:
                continue
            value = np.asarray(value)
            if value.shape != dest.shape:
                raise ValueError(
                    f"load_state_dict: {name} has shape {dest.shape} in the model but "
                    f"{value.shape} in the state"
                )
            if value.dtype.kind not in "biuf":  # (a copy that fails halfway would be lost)
                raise ValueError(f"load_state_dict: {name} holds {value.dtype} values in the "
                                 f"state; expected numbers")
            pairs.append((dest, value))
        for dest, value in pairs:
            dest[...] = value
        return self

    def astype(self, dtype):
        """Cast every parameter and buffer to ``dtype`` (float64 for gradient checks).

        Casting to another dtype rebinds parameter arrays, so do it before
        building an optimizer (an optimizer built earlier refuses to step).
        Casting to the dtype a parameter already has leaves it untouched.
        """
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"astype: dtype must be a floating type; got {dtype}")
        for p in self.parameters():
            if p.data.dtype != dtype:
                p.data = p.data.astype(dtype)  # no longer in its ParameterVector
            if p.grad is not None and p.grad.dtype != dtype:
                p.grad = p.grad.astype(dtype)
        for m in self.modules():
            for name in m.buffers:
                value = getattr(m, name)
                if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                    setattr(m, name, value.astype(dtype))
        return self

    # -- display --------------------------------------------------------------
    def extra_repr(self):
        """The constructor arguments shown by ``repr``."""
        return ""

    def __repr__(self):
        return self._repr(())

    def _repr(self, above):
        """``repr`` below the modules ``above`` (ids): a child that is one of them (a
        back-reference) is shown by its type, not printed again forever."""
        own = sum(p.size for item in vars(self).values() for _, p in _walk(item)
                  if isinstance(p, Parameter))
        head = f"{type(self).__name__}({self.extra_repr()})"
        above = (*above, id(self))
        lines = []
        for name, child in self.named_children():
            if id(child) in above:
                text = f"<back-reference to {type(child).__name__}>"
            elif type(child).__repr__ is not Module.__repr__:  # a module's own repr
                text = repr(child).replace("\n", "\n  ")
            else:
                text = child._repr(above).replace("\n", "\n  ")
            lines.append(f"  ({name}): {text}")
        if not lines:
            return head + (f"  [{own:,} params]" if own else "")
        total = self.num_parameters()
        return head[:-1] + "\n" + "\n".join(lines) + f"\n)  [{total:,} params]"


class Sequential(Module):
    """Layers applied one after another.

    Indexable and sliceable: ``model[-1]`` is the output layer, ``model[:-1]``
    the network without it (sharing the layers: transfer learning).

    Examples
    --------
    >>> import rosenblatt as rb
    >>> net = rb.nn.Sequential(rb.nn.Dense(2, 4), rb.nn.Tanh(), rb.nn.Dense(4, 1))
    >>> len(net), type(net[:-1]).__name__
    (3, 'Sequential')
    """

    def __init__(self, *layers):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not a Module")
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        try:
            return self.layers[index]
        except IndexError:
            raise IndexError(f"Sequential: layer index {index} is out of range for "
                             f"{len(self.layers)} layers") from None

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def append(self, layer):
        """Add a layer at the end; returns self."""
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.append: expected a Module; got {type(layer).__name__}")
        self.layers.append(layer)
        return self

    def _items(self):
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def config(self):
        """What a saved model stores of it: its layers (saved recursively)."""
        return {"layers": list(self.layers)}

    @classmethod
    def state_shapes(cls, config):
        """Each layer's state under its index."""
        layers = config.get("layers")
        if not isinstance(layers, list):
            raise ValueError("Sequential config must be {'layers': [...]}")
        shapes = {}
        for i, layer in enumerate(layers):
            if not hasattr(layer, "shapes_under"):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not a Module")
            shapes.update(layer.shapes_under(str(i)))
        return shapes

    @classmethod
    def from_config(cls, config):
        """Rebuild from :meth:`config`'s dict (``Sequential(*layers)``)."""
        layers = config.get("layers")
        if not isinstance(layers, list) or set(config) != {"layers"}:
            raise ValueError("Sequential config must be {'layers': [...]}")
        return cls(*layers)
