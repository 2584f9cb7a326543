"""Conventional neuroevolution (notes: "Neuroevolution").

"If the architecture is fixed by the user, the weights can just be genetically
represented as a vector of real numbers. Then the standard genetic algorithm
(fitness, mutation, crossover) can be applied. This simple representation ...
is called conventional neuroevolution (CNE)."

The genome is literally the model's flat parameter vector (its
:class:`~rosenblatt.nn.ParameterVector`): a population is a matrix ``thetas``
of shape ``(P, n)``, and :func:`population_forward` evaluates all ``P``
networks on a batch with one batched matrix product per layer.
"""

import functools
import json
import math
import threading
import weakref

import numpy as np

from ..autodiff import _kernels as _base_kernels, no_grad
from ..autodiff.tensor import Tensor
from ..checks import boolean, one_of, positive_float, positive_int, unit_interval
from ..nn.activations import (
    HardTanh,
    Identity,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    RReLU,
    Sigmoid,
    Sign,
    Softmax,
    Step,
    Tanh,
)
from ..nn.dense import Dense
from ..nn.dropout import Dropout
from ..nn.flatten import Flatten
from ..nn.module import Module, Sequential
from ..nn.parameter import ParameterVector
from ..nn.pooling import AvgPool2d, GlobalAvgPool2d, GlobalMaxPool2d, KMaxPool, L2Pool2d, MaxPool2d
from ..nn.registry import build, spec_of
from ..randomness import resolve_rng
from . import _kernels
from .cascading import (
    cascading_elites,
    evaluate_objectives,
    fill_objectives,
    known_width,
    vector_objectives,
)
from .core import (
    FitnessError,
    Result,
    evaluate,
    record,
    run_loop,
    seeded,
    vector_chunks,
    vector_fitness,
)

__all__ = ["CNE", "population_forward", "parameter_layout"]

SELECTIONS = ("tournament", "truncation", "roulette", "cascading")
CROSSOVERS = ("uniform", "one_point", "arithmetic", None)


def parameter_layout(model):
    """``{id(parameter): (slice, shape)}`` in the order of ``model.parameters()``.

    This is the layout :class:`~rosenblatt.nn.ParameterVector` gives the same
    parameters, so a row of ``thetas`` is a value of ``ParameterVector.data``.
    """
    layout, start = {}, 0
    for p in model.parameters():
        if id(p) in layout:
            continue
        n = p.data.size
        layout[id(p)] = (slice(start, start + n), p.data.shape)
        start += n
    return layout, start


def _leaves(model):
    if isinstance(model, Sequential):
        for layer in model:
            yield from _leaves(layer)
    else:
        yield model


def population_forward(model, thetas, X, fast=False):
    """Outputs of ``P`` copies of ``model``, one per row of ``thetas``, on the batch ``X``.

    Each :class:`~rosenblatt.nn.Dense` layer is one batched matrix product
    ``H @ W`` with ``H`` of shape ``(P, n, in)`` and ``W`` of shape
    ``(P, in, out)``. Parameter-free layers that act on each value or along
    the last axis (the element-wise activations, Softmax and LogSoftmax with
    ``axis=-1``, Dropout and RReLU in eval mode) and Flatten (a reshape that
    keeps the population and sample axes) act on the whole ``(P, n, ...)``
    array at once; any other parameter-free layer (one that reads the sample
    axis, such as ``Softmax(axis=0)`` or ``KMaxPool(k, axis=0)``, or one in
    training mode) runs once per network on its ``(n, ...)`` slice, so the
    result always equals a loop of ``model(X)`` over the rows of ``thetas``
    (a model with two or more layers that may draw random numbers, Dropout or
    RReLU in training mode or a layer of one's own, runs each network alone
    from the first of them on, so that the draws come in the loop's order).

    Parameters
    ----------
    model : Module
        A Dense layer or a Sequential of Dense layers and parameter-free layers.
    thetas : array, shape (P, model.num_parameters())
        Weight vectors in the model's ParameterVector layout.
    X : array, shape (n, in) or (P, n, in)
        One batch shared by every network, or one batch each.
    fast : bool, default False
        With the compiled kernels (``rosenblatt[fast]``) and a model that is a
        chain of Dense layers each followed by at most one Tanh, Sigmoid or
        ReLU, and batches of at least 8 samples: evaluate every network in one
        fused pass per layer (samples innermost, activations kept in cache)
        with a rational tanh, within 1.8e-7 of tanh (the error then goes through
        the next layers' weights), in the dtype of ``thetas`` (float32 networks in
        float32: twice the values per vector); the exact NumPy evaluation runs otherwise,
        and when Numba is absent or ``ROSENBLATT_NO_NUMBA=1``. With kernel
        threads set (``rb.set_num_threads(n)``, n > 1) the networks are split
        over them, the outputs equal bit for bit.

    Returns
    -------
    ndarray, shape (P, n, out)

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> net = rb.nn.Sequential(rb.nn.Dense(2, 3), rb.nn.Tanh(), rb.nn.Dense(3, 1))
    >>> thetas = np.random.default_rng(0).normal(size=(5, net.num_parameters()))
    >>> rb.evolution.population_forward(net, thetas, np.ones((4, 2))).shape
    (5, 4, 1)
    """
    thetas = np.asarray(thetas)
    fast = boolean("population_forward", "fast", fast)  # "no" or "false" would switch it on
    if fast:
        out = _fast_forward(model, thetas, X)
        if out is not None:
            return out
    layout, size = parameter_layout(model)
    if thetas.ndim != 2 or thetas.shape[1] != size:
        raise ValueError(f"population_forward: thetas must have shape (P, {size}) for this "
                         f"model; got {thetas.shape}")
    h = np.asarray(X, dtype=thetas.dtype if thetas.dtype.kind == "f" else np.float64)
    P = thetas.shape[0]
    shared = h.ndim == 2
    if shared:
        h = np.broadcast_to(h, (P,) + h.shape)
    elif h.ndim != 3 or h.shape[0] != P:
        raise ValueError(f"population_forward: X must have shape (n, in) or ({P}, n, in); "
                         f"got {h.shape}")
    layers = list(_leaves(model))
    widest = max([h.shape[-1]] + [layout[id(layer.W)][1][1] for layer in layers
                                  if isinstance(layer, Dense)])
    # Networks go through in groups whose widest activations fit in a cache-sized block:
    # one (P, n, width) array for a big population would stream through memory each layer.
    group = max(1, _BLOCK_BYTES // max(1, h.shape[1] * widest * h.itemsize))  # n may be 0
    if group >= P:
        return _forward_group(layers, layout, thetas, h)
    first = _forward_group(layers, layout, thetas[:group], h[:group])
    out = np.empty((P,) + first.shape[1:], first.dtype)
    out[:group] = first
    for start in range(group, P, group):
        out[start:start + group] = _forward_group(layers, layout, thetas[start:start + group],
                                                  h[start:start + group])
    return out


_BLOCK_BYTES = 1 << 20  # activations of one group of networks (about L2-sized)
_FAST_MIN_BATCH = 8  # smaller batches: NumPy's batched products are faster (measured)
_ACT_CODES = {Tanh: 1, Sigmoid: 2, ReLU: 3}  # _numba_kernels.TANH, SIGMOID, RELU


_FAST_PLANS = {}  # id(model) -> (weakref to it, structure, plan): see _fast_forward


def _structure(model):
    """What a fused plan depends on: each leaf layer, its parameters and their shapes."""
    return tuple((Dense, id(layer.W), layer.W.data.shape, id(layer.b), layer.b is None)
                 if isinstance(layer, Dense) else type(layer) for layer in _leaves(model))


def _fast_forward(model, thetas, X):
    """population_forward through the fused kernel, or None where the exact path must run
    (no kernel, a model it cannot fuse, fewer than ``_FAST_MIN_BATCH`` samples, arguments
    the exact path must check). The plan is cached per model while its structure holds:
    few Python steps per call, as on a call that follows other work each one costs ten
    times its warm time (measured: ~0.26 ms before the kernel starts, against ~0.04 warm)."""
    if thetas.dtype not in (np.float32, np.float64) or thetas.ndim != 2 or not thetas.shape[0]:
        return None  # (no networks: the exact path gives the empty (0, n, out))
    h = np.asarray(X, dtype=thetas.dtype)
    if h.ndim < 2 or h.shape[-2] < _FAST_MIN_BATCH:
        return None
    structure = _structure(model)
    cached = _FAST_PLANS.get(id(model))
    if cached is None or cached[0]() is not model or cached[1] != structure:
        if cached is None or cached[0]() is not model:  # one finalizer per model
            weakref.finalize(model, _FAST_PLANS.pop, id(model), None)
        cached = (weakref.ref(model), structure, _fast_plan(model))
        _FAST_PLANS[id(model)] = cached
    plan = cached[2]
    if plan is None or thetas.shape[1] != plan[0]:
        return None
    size, packed, n_in, n_out, n_act = plan
    P = thetas.shape[0]
    if h.ndim == 2 and h.shape[1] == n_in:
        h = h[None]
    elif h.ndim != 3 or h.shape[0] != P or h.shape[2] != n_in:
        return None
    kernel = _kernels.get("mlp_forward")
    if kernel is None:
        return None
    out = np.empty((P, h.shape[1], n_out), thetas.dtype)
    h, thetas = np.ascontiguousarray(h), np.ascontiguousarray(thetas)
    # the size the thread policy weighs: every activation of every network
    parts = min(P, _base_kernels.threads_for(P * h.shape[1] * n_act))
    if parts == 1:
        kernel(h, thetas, packed, out)
        return out
    # blocks of networks on our own threads, the caller one of them: on the 2-core VM, one
    # call after other work took 1.0 ms where Numba's prange pool (both threads asleep, the
    # caller waiting) took 1.6-1.7 ms and one thread 1.4-1.5 ms
    cut = _base_kernels.bounds(P, parts)
    each = h.shape[0] > 1

    def block(k):
        a, b = cut[k], cut[k + 1]
        kernel(h[a:b] if each else h, thetas[a:b], packed, out[a:b])

    _base_kernels.run_parts(block, parts)
    return out


def _fast_plan(model):
    """``(parameters, the kernel's plan, inputs, outputs, activations)`` for ``model``, or
    None when it is not a chain the kernel fuses."""
    layout, size = parameter_layout(model)
    layers = list(_leaves(model))
    dense = [layer for layer in layers if isinstance(layer, Dense)]
    plan = _mlp_plan(layers, layout, layout[id(dense[0].W)][1][0]) if dense else None
    if plan is None:
        return None
    sizes = plan[0]
    packed = np.stack([np.pad(v, (0, len(sizes) - len(v))) for v in plan])
    return size, packed, int(sizes[0]), int(sizes[-1]), int(sizes[1:].sum())


def _mlp_plan(layers, layout, n_in):
    """``(sizes, w_at, b_at, codes)`` for :func:`_numba_kernels.mlp_forward`, or None when
    ``layers`` are not Dense layers each followed by at most one Tanh, Sigmoid or ReLU."""
    sizes, w_at, b_at, codes = [n_in], [], [], []
    for layer in layers:
        if isinstance(layer, Dense):
            sl, shape = layout[id(layer.W)]
            if shape[0] != sizes[-1]:
                return None  # the NumPy path names the mismatch
            sizes.append(shape[1])
            w_at.append(sl.start)
            b_at.append(layout[id(layer.b)][0].start if layer.b is not None else -1)
            codes.append(0)
        elif type(layer) is Identity:
            continue
        elif type(layer) in _ACT_CODES and codes and codes[-1] == 0:
            codes[-1] = _ACT_CODES[type(layer)]
        else:
            return None
    if not w_at:
        return None
    return tuple(np.array(v, np.int64) for v in (sizes, w_at, b_at, codes))


def _forward_group(layers, layout, thetas, h):
    """population_forward on one group of networks (checked arguments)."""
    P = thetas.shape[0]
    drawing = [i for i, layer in enumerate(layers) if _may_draw(layer)]
    if len(drawing) > 1 and P:
        # two layers that may draw random numbers (two Dropouts in training mode drawing from
        # one generator): run layer after layer for the whole population, they would make
        # their draws layer-major, where a loop of model forwards makes all of network 0's
        # draws before network 1's; so from the first of them on each network goes alone
        head = _forward_group(layers[:drawing[0]], layout, thetas, h)
        return np.stack([_forward_one(layers[drawing[0]:], layout, thetas[p], head[p])
                         for p in range(P)])
    for layer in layers:
        if isinstance(layer, Dense):
            sl, shape = _dense_slot(layer, layout, h)
            W = thetas[:, sl].reshape((P,) + shape)
            if h.ndim == 3:  # (P, n, in): the usual
                h = np.matmul(h, W)
                if layer.b is not None:
                    h += thetas[:, None, layout[id(layer.b)][0]]
            else:  # a layer before changed each network's rank (Flatten(0): one vector each);
                # a bare matmul would broadcast the population axis against another
                h = _dense_any_rank(h, W, None if layer.b is None else
                                    thetas[:, layout[id(layer.b)][0]])
        elif isinstance(layer, Module) and not list(layer.parameters()):
            h = _parameter_free(layer, h)
        else:
            raise TypeError(f"population_forward: cannot batch layer {type(layer).__name__} "
                            f"(supported: Dense and parameter-free layers)")
    return h


# parameter-free layers that act on each value on its own (their output at a position reads
# only the input there): the population axis in front changes nothing
_ELEMENTWISE = (Identity, Sigmoid, Tanh, ReLU, LeakyReLU, HardTanh, Step, Sign)
# parameter-free layers that compute a function of their input (no draws), elementwise or not
_DETERMINISTIC = (Softmax, LogSoftmax, Flatten, KMaxPool, GlobalMaxPool2d, GlobalAvgPool2d,
                  MaxPool2d, AvgPool2d, L2Pool2d)


def _dense_any_rank(h, W, b):
    """Dense on stacked activations ``h`` (P, ..., in) of any rank but 3, weights ``W``
    (P, in, out) and biases ``b`` (P, out) or None: each network's last axis."""
    P = W.shape[0]
    if h.ndim == 2:  # one vector per network
        out = np.matmul(h[:, None, :], W)[:, 0]
    else:
        out = np.matmul(h, W.reshape((P,) + (1,) * (h.ndim - 3) + W.shape[1:]))
    if b is not None:
        out += b.reshape((P,) + (1,) * (out.ndim - 2) + b.shape[1:])
    return out


def _may_draw(layer):
    """Whether ``layer`` may draw random numbers when called: Dropout and RReLU in training
    mode, and any layer not known not to (a custom one); never Dense or the parameter-free
    layers of ``rb.nn`` that compute a function of their input."""
    kind = type(layer)
    if isinstance(layer, Dense) or kind in _ELEMENTWISE or kind in _DETERMINISTIC:
        return False
    if kind in (Dropout, RReLU):
        return bool(layer.training)
    return True


def _dense_slot(layer, layout, h):
    """Dense ``layer``'s weight slice and shape in a network's flat vector, ``h``'s number of
    features checked against it."""
    sl, shape = layout[id(layer.W)]
    if h.shape[-1] != shape[0]:
        raise ValueError(f"population_forward: {layer!r} expects {shape[0]} features; "
                         f"got {h.shape[-1]}")
    return sl, shape


def _forward_one(layers, layout, theta, h):
    """``layers`` of one network (weights ``theta``) on its activations ``h`` (n, ...)."""
    for layer in layers:
        if isinstance(layer, Dense):
            sl, shape = _dense_slot(layer, layout, h)
            h = h @ theta[sl].reshape(shape)
            if layer.b is not None:
                h += theta[layout[id(layer.b)][0]]
        elif isinstance(layer, Module) and not list(layer.parameters()):
            with no_grad():
                h = layer(Tensor(np.ascontiguousarray(h))).data
        else:
            raise TypeError(f"population_forward: cannot batch layer {type(layer).__name__} "
                            f"(supported: Dense and parameter-free layers)")
    return h


def _parameter_free(layer, h):
    """A parameter-free ``layer`` on the stacked activations ``h`` (P, n, ...) of P networks:
    at once where the population axis cannot change its result, else once per network."""
    kind = type(layer)  # exact types: a subclass may read other axes
    with no_grad():
        if (kind in _ELEMENTWISE or (kind in (Softmax, LogSoftmax) and layer.axis == -1)
                or (kind in (Dropout, RReLU) and not layer.training)):
            return layer(Tensor(np.ascontiguousarray(h))).data
        if kind is Flatten and 1 <= layer.start_axis < h.ndim - 1:
            # each network's (n, ...) merged from start_axis on; the population axis kept
            start = layer.start_axis + 1
            return h.reshape(h.shape[:start] + (math.prod(h.shape[start:]),))
        # a layer that reads the sample axis (or draws per call): network by network, as a
        # loop of model forwards would run it
        if h.shape[0] == 0:
            one = layer(Tensor(np.zeros(h.shape[1:], h.dtype))).data
            return np.empty((0,) + one.shape, one.dtype)
        return np.stack([layer(Tensor(np.ascontiguousarray(h[p]))).data
                         for p in range(h.shape[0])])


_WORKER_MODELS = threading.local()  # per thread: a thread pool's workers share a process


def _model_text(model):
    """What a worker needs to score ``model`` with other weights, as JSON text: its spec,
    and per module (in ``model.modules()`` order) its mode and its buffers (running
    statistics, masks ...), which the spec does not carry."""
    modules = []
    for m in model.modules():
        buffers = {}
        for name in m.buffers:
            value = getattr(m, name)
            if value is not None:
                a = np.asarray(value)
                value = {"dtype": a.dtype.name, "shape": list(a.shape),
                         "values": a.ravel().tolist()}
            buffers[name] = value
        modules.append({"training": bool(m.training), "buffers": buffers})
    return json.dumps({"spec": spec_of(model), "modules": modules})


def _decode_model(spec_text, theta):
    """Worker side: the model built from its :func:`_model_text` (cached per thread), in the
    caller's modes and with its buffers, with weights ``theta``."""
    cache = _WORKER_MODELS.__dict__
    entry = cache.get(spec_text)
    if entry is None:
        text = json.loads(spec_text)
        model = build(text["spec"])
        modules = model.modules()
        if len(modules) != len(text["modules"]):
            raise ValueError(f"CNE: the model rebuilt from its spec has {len(modules)} modules "
                             f"but the caller's has {len(text['modules'])}; pass executor=None")
        for m, state in zip(modules, text["modules"]):
            m.training = state["training"]
            for name, value in state["buffers"].items():
                if value is not None:
                    value = np.asarray(value["values"], dtype=value["dtype"]).reshape(
                        value["shape"])
                setattr(m, name, value)
        entry = (model, ParameterVector(model.parameters()))
        cache[spec_text] = entry
    model, vec = entry
    # as the serial path: a fitness may have packed the cached model's parameters into a
    # vector of its own (an optimizer for fine-tuning), which vec.data no longer reaches
    write_weights(vec, np.asarray(theta, dtype=vec.data.dtype))
    return model


def _is_packed(vector):
    """Whether every parameter of ``vector`` still views its ``data`` (cheap: identity tests)."""
    data = vector.data
    return all(p.data.base is data for p in vector.params)


def write_weights(vector, theta):
    """Write the flat weights ``theta`` into the parameters that ``vector`` packed.

    Through ``vector.data`` while the parameters view it; parameter by
    parameter once they were packed into another vector since (an optimizer
    or a second algorithm built on the same model, e.g. for fine-tuning in
    the fitness), so the model always receives ``theta`` and whoever packed
    them last keeps them.
    """
    if _is_packed(vector):
        vector.data[:] = theta
        return
    for p, sl in zip(vector.params, vector.slices):
        p.data[...] = np.reshape(theta[sl], p.data.shape)


def read_weights(vector):
    """The current flat weights of the parameters that ``vector`` packed (see
    :func:`write_weights`), in its dtype."""
    if _is_packed(vector):
        return vector.data
    return np.concatenate([np.ravel(p.data) for p in vector.params]).astype(vector.data.dtype,
                                                                             copy=False)


def _decode_rows(dtype, rows):
    """Worker side: a sub-population's weight vectors (lists of floats) in the population's
    dtype (a float32 value is exact as a float and back)."""
    return np.asarray(rows, dtype=dtype)


def evaluate_thetas(owner, model, vector, thetas, fitness, vectorized=False, executor=None,
                    repeats=1, on_error="raise", several=False, k=None, rng=None):
    """Fitness of each weight vector (row of ``thetas``) of the fixed network ``model``.

    ``vectorized``: ``fitness(thetas) -> (P,)``; with an ``executor`` too, the
    rows travel in sub-populations of 32 (lists of floats) and ``fitness``
    (module level, sent by reference) scores each in a worker. Otherwise, with
    an ``executor`` each worker rebuilds the model from its JSON spec and receives rows as lists of
    floats (the model's modes and buffers travel with the spec, so the worker scores the
    network the caller would); otherwise each row is written into ``vector`` (the model's
    ParameterVector) in turn and ``fitness(model)`` called. Shared by CNE,
    CoSyNE and ESP. ``several``: the fitness returns one value per fitness
    function (cascading elitism) and the result is ``(P, k)``; ``k``, when known
    (an earlier generation's width), is then checked and keeps a generation in which
    every individual failed ``(P, k)``.

    ``rng`` (per-individual fitness; vectorised, the same per sub-population:
    :func:`~rosenblatt.evolution.core.vector_chunks` with an executor,
    :func:`~rosenblatt.evolution.core.vector_fitness` serially, the whole population as
    the first sub-population): each
    individual is scored with a
    generator of its own (block ``i`` of a stream read from ``rng``'s state,
    not drawn from it: :func:`~rosenblatt.evolution.core.generation_stream`) as the
    library generator (:func:`rosenblatt.randomness.using`) around its ``fitness`` calls (all
    ``repeats`` of them), so a model or fitness that draws random numbers
    from the library generator (dropout in train mode with ``rng=None``, a noisy
    task) scores the same serially and under any executor or number of workers;
    the stream and the index travel with the weights (a layer with a generator of
    its own draws from it serially, and from the individual's in a worker's model
    rebuilt from its spec). Without ``rng`` such draws come from the library generator of
    whichever process or thread scores the individual.
    """
    if not callable(fitness):
        raise TypeError(f"{owner}: fitness must be callable; got {type(fitness).__name__}")
    ids = list(range(thetas.shape[0]))
    if vectorized and executor is not None and not several:
        # sub-populations of weight vectors (lists of floats) per task; fitness by reference
        return vector_chunks(fitness, [t.tolist() for t in thetas], ids,
                             functools.partial(_decode_rows, thetas.dtype.name), executor,
                             repeats=repeats, on_error=on_error, owner=owner, rng=rng)
    if vectorized:
        if several:
            return vector_objectives(fitness, thetas, ids, executor=executor, repeats=repeats,
                                     on_error=on_error, owner=owner, k=k)
        return vector_fitness(fitness, thetas, ids, repeats, on_error, owner, rng=rng)
    if executor is not None:
        spec = _model_text(model)
        payloads, decode = [t.tolist() for t in thetas], functools.partial(_decode_model, spec)
    else:
        def decode(theta):
            write_weights(vector, theta)  # also when the parameters were packed elsewhere since
            return model

        payloads = list(thetas)
    if rng is not None:  # the generation's stream and each individual's block of it
        fitness, payloads, decode = seeded(rng, fitness, payloads, decode)
    if several:
        return evaluate_objectives(fitness, payloads, decode=decode, executor=executor,
                                   repeats=repeats, on_error=on_error, owner=owner, k=k)
    return evaluate(fitness, payloads, ids, decode=decode, executor=executor, repeats=repeats,
                    on_error=on_error, owner=owner)


class CNE:
    """A genetic algorithm on the flat weight vector of a fixed network.

    Parameters
    ----------
    model : Module
        The fixed architecture; its current weights seed the population and
        the best weights found are left in it by :meth:`run`.
    population : int, default 100
    elite : float, default 0.1
        Fraction of the population copied unchanged into the next generation
        (at least one individual).
    selection : {"tournament", "truncation", "roulette", "cascading"}
        Tournament of ``tournament_size``; the best ``truncation`` fraction;
        fitness-proportionate on fitness shifted to be positive; or cascading
        elitism (:mod:`.cascading`): ``fitness`` returns one value per
        fitness function (``(P, k)`` when vectorised), one selection event
        per function picks the elite (each function's champion always among
        them) and the children are bred from the elite; ``result.history``
        and the champion then use the mean of the functions, and
        ``history["objectives"]`` holds each function's best.
    crossover : {"uniform", "one_point", "arithmetic", None}
        Applied with probability ``crossover_rate``; None: mutation only.
    mutation_std : float, default 0.1
        Standard deviation of the Gaussian added to a mutated weight.
    mutation_rate : float, default 0.2
        Probability that each weight of a child is mutated.
    init_std : float, default 1.0
        The first population is the model's weights plus N(0, init_std) noise
        (the first individual is the model's weights unchanged).
    rng : numpy.random.Generator or int, optional

    Notes
    -----
    Each generation: evaluate, keep the elite, then fill the population with
    children ``mutate(crossover(select(), select()))``. Uniform crossover takes
    each weight from either parent with probability 1/2; one-point takes a
    prefix from one parent and the rest from the other; arithmetic takes
    ``a x + (1 - a) y`` with ``a ~ U(0, 1)``.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> net = rb.nn.Sequential(rb.nn.Dense(1, 1))
    >>> cne = rb.evolution.CNE(net, population=20, rng=0)
    >>> res = cne.run(lambda m: -float(np.abs(m.W.data if hasattr(m, 'W') else
    ...                                        m[0].W.data).sum() - 3.0), generations=3)
    >>> res.generations
    3
    """

    def __init__(self, model, population=100, elite=0.1, selection="tournament",
                 crossover="uniform", mutation_std=0.1, mutation_rate=0.2, crossover_rate=0.5,
                 tournament_size=3, truncation=0.5, init_std=1.0, rng=None):
        if not isinstance(model, Module):
            raise TypeError(f"CNE: model must be a Module; got {type(model).__name__}")
        self.model = model
        self.population = positive_int("CNE", "population", population)
        if self.population < 2:
            raise ValueError(f"CNE: population must be at least 2; got {population}")
        self.elite = unit_interval("CNE", "elite", elite)
        self.selection = one_of("CNE", "selection", selection, SELECTIONS)
        # cascading: (fitness, its number of functions) once an individual was scored
        self._k = None
        self.crossover = one_of("CNE", "crossover", crossover, CROSSOVERS)
        self.mutation_std = positive_float("CNE", "mutation_std", mutation_std)
        self.mutation_rate = unit_interval("CNE", "mutation_rate", mutation_rate,
                                           closed_high=True)
        self.crossover_rate = unit_interval("CNE", "crossover_rate", crossover_rate,
                                            closed_high=True)
        self.tournament_size = positive_int("CNE", "tournament_size", tournament_size)
        self.truncation = unit_interval("CNE", "truncation", truncation, closed_low=False,
                                        closed_high=True)
        self.init_std = positive_float("CNE", "init_std", init_std, allow_zero=True)
        self.rng = resolve_rng(rng)
        self.vector = ParameterVector(model.parameters())
        n = self.vector.size
        noise = self.rng.normal(0.0, self.init_std, size=(self.population, n))
        noise[0] = 0.0
        self.thetas = (self.vector.data[None, :] + noise).astype(self.vector.data.dtype)
        self.fitness = None

    # -- the genetic algorithm's operators (pure functions of arrays and an rng) -------------
    def select(self, fitness, k):
        """Indices of ``k`` parents chosen by the configured selection."""
        P = fitness.shape[0]
        rng = self.rng
        if self.selection == "tournament":
            entrants = rng.integers(0, P, size=(k, self.tournament_size))
            return entrants[np.arange(k), np.argmax(fitness[entrants], axis=1)]
        if self.selection == "truncation":
            top = np.argsort(-fitness, kind="stable")[:max(1, int(round(self.truncation * P)))]
            return top[rng.integers(0, top.size, size=k)]
        f = np.where(np.isfinite(fitness), fitness, np.nan)
        low = np.nanmin(f) if np.isfinite(f).any() else 0.0
        with np.errstate(over="ignore"):
            w = np.nan_to_num(f - low, nan=0.0, posinf=np.inf) + 1e-12
            total = w.sum()
        if not np.isfinite(total):
            # a spread beyond float64's range (finite fitnesses near +-1e308): shifted in
            # halves and scaled by the largest, so the weights keep their proportions
            w = np.nan_to_num(0.5 * f - 0.5 * low, nan=0.0)
            w = w / w.max() + 1e-12
            total = w.sum()
        return rng.choice(P, size=k, p=w / total)

    def recombine(self, a, b):
        """Children of the parent rows ``a`` and ``b`` (each ``(k, n)``)."""
        k, n = a.shape
        rng = self.rng
        if self.crossover is None:
            return a.copy()
        do = rng.random(k) < self.crossover_rate
        if self.crossover == "uniform":
            mask = rng.random((k, n)) < 0.5
        elif self.crossover == "one_point":
            mask = np.arange(n)[None, :] < rng.integers(1, max(n, 2), size=k)[:, None]
        else:
            alpha = rng.random((k, 1))
            child = alpha * a + (1 - alpha) * b
            return np.where(do[:, None], child, a).astype(a.dtype)
        return np.where(do[:, None] & mask, b, a)

    def mutate(self, children):
        """Add N(0, mutation_std) to each weight with probability ``mutation_rate``."""
        mask = self.rng.random(children.shape) < self.mutation_rate
        return children + mask * self.rng.normal(0.0, self.mutation_std, children.shape).astype(
            children.dtype)

    def _evaluate(self, fitness, vectorized, executor, repeats, on_error):
        several = self.selection == "cascading"
        k = known_width(self._k, fitness) if several else None
        f = evaluate_thetas("CNE", self.model, self.vector, self.thetas, fitness, vectorized,
                            executor, repeats, on_error, several=several, k=k, rng=self.rng)
        if several and k is None and np.isfinite(f).any():
            # the number of fitness functions, known once an individual was scored: a later
            # generation of this fitness where all fail keeps it, and one of another width
            # is refused; another fitness (a new task) starts afresh
            self._k = (fitness, f.shape[1])
        return f

    def step(self, fitness, vectorized=False, executor=None, repeats=1, on_error="raise"):
        """Evaluate the population and breed the next one.

        One generation of :meth:`run`, for loops written by hand.

        Parameters
        ----------
        fitness, vectorized, executor, repeats, on_error
            As for :meth:`run`. With ``selection="cascading"`` the number of
            fitness functions is kept from call to call while ``fitness`` is the
            same callable (another width is then an error); a new fitness, e.g.
            of another task, may have another number of them.

        Returns
        -------
        tuple
            ``(fitness, theta)``: the population's fitness ``(P,)`` (cascading
            selection: the mean over the fitness functions; the values of each
            function are in ``self.objectives``, ``(P, k)``) and the weights of
            the best elite, the first individual of the next generation.
        """
        f = self._evaluate(fitness, vectorized, executor, repeats, on_error)
        P = self.population
        n_elite = max(1, int(math.ceil(self.elite * P)))
        if self.selection == "cascading":
            self.objectives, F = f, f
            order, _ = cascading_elites(F, n_elite)
            n_elite = order.size
            f = np.where(np.isfinite(F), F, -np.inf).mean(axis=1)
            pick = self.rng.integers(0, n_elite, size=(2, P - n_elite))
            a, b = self.thetas[order[pick[0]]], self.thetas[order[pick[1]]]
        else:
            order = np.argsort(-f, kind="stable")
            a = self.thetas[self.select(f, P - n_elite)]
            b = self.thetas[self.select(f, P - n_elite)]
        self.fitness = f
        children = self.mutate(self.recombine(a, b))
        self.thetas = np.concatenate([self.thetas[order[:n_elite]], children])
        return f, self.thetas[0].copy()

    def run(self, fitness, generations, executor=None, callbacks=None, stop=None,
            vectorized=False, repeats=1, on_error="raise"):
        """Evolve for up to ``generations``; the best weights end up in the model.

        Parameters
        ----------
        fitness : callable
            ``fitness(model) -> float`` (the model holds one individual's
            weights), or with ``vectorized=True`` ``fitness(thetas) -> (P,)``
            scoring the whole population matrix at once (see
            :func:`population_forward`). Higher is better.
        generations : int
        executor : concurrent.futures.Executor, optional
            Evaluate individuals in parallel: each worker rebuilds the model
            from its JSON spec, with each module's mode (``train``/``eval``)
            and buffers (e.g. batch norm's running statistics) as the
            caller's, and receives weight vectors as lists of floats.
            ``fitness`` must then be a module-level function. Each individual
            is scored (serially too) with a generator of its own, derived from
            ``rng``'s state each generation (without drawing from it), as the
            library generator: a model that draws from it (dropout in train
            mode, with the default ``rng=None``) or a noisy fitness gives the
            same run under any executor as serially. A layer given a generator
            of its own (``Dropout(rate, rng=...)``) draws from that one
            serially, one individual after another, while a worker's rebuilt
            model (whose spec carries no generator) draws from the
            individual's: serial and executor runs then differ.
            With ``vectorized=True`` the rows travel in sub-populations of 32,
            each scored (one fitness call) with a generator of its own derived
            the same way: the same run under any executor and number of
            workers (not the serial run, which scores the population in one
            call; a draw the fitness makes once per call is made once per
            sub-population).
        callbacks : list of callable, optional
            ``callback(state)`` after each generation; returning True stops.
        stop : callable, optional
            ``stop(best_theta) -> bool`` (the generation's champion weights).
        repeats : int, default 1
            Average fitness over this many evaluations (noisy tasks). ``best``
            is the best fitness ever measured: with a noisy fitness and
            ``repeats=1`` it is whoever was luckiest once (a weak player that
            won its one game keeps the place against every later one), so
            averaging over repeats is what makes ``best`` mean the strongest.
        on_error : {"raise", "stop", "worst"}
            What a fitness that raises or returns NaN or an infinity (``-inf``
            too: to mark a failed evaluation, raise) does: raise a
            FitnessError naming the individual, end the run cleanly
            (``result.error``), or score it worst (``-inf``) and go on.

        Returns
        -------
        Result
            ``best`` is the weight vector with the best fitness measured (also
            written to the model).
        """
        history = {}
        best = {"theta": read_weights(self.vector).copy(), "fitness": -math.inf, "evals": 0}
        self._k = None  # a run's fitness is its own: its number of fitness functions too

        def one(g):
            pop = self.thetas
            try:
                f, _ = self.step(fitness, vectorized, executor, repeats, on_error)
            except FitnessError:  # every individual was scored before the error was found
                best["evals"] += self.population
                raise
            if self.selection == "cascading":
                record(history, f, objectives=self.objectives.max(axis=0).tolist())
                fill_objectives(history)  # first generations that all failed: k values too
            else:
                record(history, f)
            i = int(np.argmax(f))
            best["evals"] += self.population
            if f[i] > best["fitness"]:
                best["fitness"], best["theta"] = float(f[i]), pop[i].copy()
            return pop[i].copy(), float(f[i])

        try:
            ran, stopped, error = run_loop(one, generations, callbacks, stop, "CNE.run",
                                           on_error)
        finally:  # also when a fitness raises: the model holds the best weights seen
            write_weights(self.vector, best["theta"])
        return Result(best=best["theta"], best_fitness=best["fitness"], generations=ran,
                      evaluations=best["evals"], history=history, stopped=stopped,
                      error=error)


class PopulationModel:
    """A population of fixed-architecture networks (``model`` with weights ``thetas``).

    Follows the environments' population protocol: ``size``, ``__call__(X) ->
    (P, n, out)`` (:func:`population_forward`), ``step(obs (P, k)) -> (P, out)``,
    ``reset``, ``keep(mask)`` and ``take(index)``.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> net = rb.nn.Sequential(rb.nn.Dense(2, 1), rb.nn.Sigmoid())
    >>> pop = rb.evolution.PopulationModel(net, np.zeros((3, 3)))
    >>> pop.step(np.ones((3, 2))).tolist()
    [[0.5], [0.5], [0.5]]
    """

    def __init__(self, model, thetas):
        self.model = model
        self.thetas = np.asarray(thetas)
        self.size = self.thetas.shape[0]

    def __call__(self, X):
        return population_forward(self.model, self.thetas, X)

    def reset(self, population=None):
        pass

    def step(self, obs):
        return population_forward(self.model, self.thetas, np.asarray(obs)[:, None, :])[:, 0]

    def keep(self, mask):
        self.thetas = self.thetas[np.asarray(mask, dtype=bool)]
        self.size = self.thetas.shape[0]

    def take(self, index):
        return PopulationModel(self.model, self.thetas[np.asarray(index)])
