"""Tensor and reverse-mode differentiation (notes: "Backpropagation", "The chain rule").

A :class:`Tensor` wraps a NumPy array. An op that is given tensors which
require gradients records its inputs (``_parents``) and a closure
(``_backward``) that maps the gradient of the loss with respect to the op's
output to the gradients with respect to each input: the vector-Jacobian
product, i.e. one application of the chain rule. ``backward()`` runs the
closures from the output back to the leaves in reverse topological order
(newest node first, without recursion: a 10,000-op chain is fine), summing
the contributions of every path, exactly as the notes' "Backpropagation"
section does by hand.

The graph is built only while gradients are enabled (see :func:`no_grad`),
and freed as backward walks it, unless ``retain_graph=True``.
"""

import functools
import inspect
import itertools
import math
import threading
from heapq import heappop, heappush

import numpy as np

DEFAULT_DTYPE = np.float32


class _GradMode(threading.local):
    """Whether ops record the graph, per thread (as in PyTorch): a ``no_grad()``
    in one thread, e.g. an evaluation running beside training, leaves the
    others recording."""

    enabled = True


_grad_mode = _GradMode()


class no_grad:
    """Context manager (and decorator) under which ops record no graph.

    Use it as ``with rb.no_grad():``, or decorate a function with
    ``@rb.no_grad()`` or ``@rb.no_grad``.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> w = rb.tensor([1.0, 2.0], requires_grad=True)
    >>> with rb.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    def __new__(cls, fn=None):
        if fn is None:
            return super().__new__(cls)
        return super().__new__(cls)(fn)  # used as a bare decorator: @rb.no_grad

    def __enter__(self):
        self._previous = _grad_mode.enabled
        _grad_mode.enabled = False
        return self

    def __exit__(self, *exc):
        _grad_mode.enabled = self._previous
        return False

    def __call__(self, fn):
        if inspect.isgeneratorfunction(fn):
            return _no_grad_generator(fn)

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)

        return wrapped


def _no_grad_generator(fn):
    """``fn``, a generator function, with every step of its body run under no_grad.

    A plain wrapper would cover only the call, which runs none of the body; between steps
    the caller's mode holds (as ``torch.no_grad`` does for generators).
    """

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        gen = fn(*args, **kwargs)
        try:
            with no_grad():
                value = gen.send(None)
            while True:
                try:
                    sent = yield value
                except GeneratorExit:
                    with no_grad():
                        gen.close()
                    raise
                except BaseException as error:
                    with no_grad():
                        value = gen.throw(error)
                else:
                    with no_grad():
                        value = gen.send(sent)
        except StopIteration as stop:
            return stop.value

    return wrapped


def is_grad_enabled():
    """Whether ops currently record the graph."""
    return _grad_mode.enabled


def _freed_backward(grad):
    raise RuntimeError(
        "backward through a graph that was already freed; pass retain_graph=True to the "
        "first backward() to call it twice"
    )


class Tensor:
    """An n-dimensional array that records the ops applied to it.

    Attributes
    ----------
    data : numpy.ndarray
        The values.
    grad : numpy.ndarray or None
        d(loss)/d(self), filled by ``backward()`` for leaves that require grad.
    requires_grad : bool
        Whether gradients flow to (and through) this tensor.

    Notes
    -----
    Ops keep references to their inputs' arrays, not copies, for their backward. So a
    tensor's ``data`` must not change in place between the forward that reads it and the
    backward through that forward: an optimizer step taken in between (a GAN's or an
    actor-critic's other network, stepped before a loss built through it is backpropagated),
    or new values written into an array that ``rb.tensor`` wrapped without copying, give
    wrong gradients, silently: some ops read their inputs as they are at backward (``mul``),
    others what their forward computed (``tanh``, ``exp``), so the result is in general the
    gradient at neither the old values nor the new ones (PyTorch refuses; there is no
    version counter here). Backpropagate first, or build the loss again after the change.

    Augmented assignment (``p -= lr * p.grad``, ``+=``, ``*=``, ``/=``, ``**=``) on a leaf
    that requires grad changes its values in place under :func:`no_grad` and is a
    RuntimeError while the graph is recorded, as in PyTorch (Python would otherwise bind the
    name to a new tensor and leave the parameter unchanged); on any other tensor it is out
    of place (``total += loss`` builds the graph).
    """

    __slots__ = ("data", "grad", "requires_grad", "_parents", "_backward", "_seq", "name",
                 "__weakref__")
    __array_priority__ = 1000  # so that ndarray + Tensor calls Tensor.__radd__
    # NumPy ufuncs refuse tensors (np.tanh(t) would silently drop the graph;
    # use t.tanh()), and ndarray/NumPy-scalar operators defer to ours. NumPy's
    # other functions (np.concatenate, np.dot ...) go through __array_function__.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        self.data = as_tensor_array(data, dtype, "Tensor")
        self.grad = None
        if not isinstance(requires_grad, (bool, np.bool_)):
            # rb.tensor(x, np.float64) would otherwise silently mean requires_grad=True
            raise TypeError(
                f"tensor: requires_grad must be True or False; got {type(requires_grad).__name__}"
                f" {requires_grad!r} (a dtype goes by keyword: rb.tensor(x, dtype=np.float64))"
            )
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None
        self.name = name

    # -- array attributes ----------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    def __len__(self):
        return len(self.data)

    def __iter__(self):
        """The sub-tensors along the first axis (each ``self[i]``, in the graph)."""
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor (use .item() for its value)")
        return (self[i] for i in range(len(self.data)))

    @property
    def is_leaf(self):
        """True for tensors created by the user rather than by an op."""
        return self._backward is None

    def numpy(self):
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self):
        """The value of a one-element tensor as a Python float."""
        return self.data.item()

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(t)``: the values, outside the graph."""
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return np.asarray(self.data, dtype=dtype)

    def __array_function__(self, func, types, args, kwargs):
        """A NumPy function (``np.concatenate``, ``np.dot``, ``np.mean`` ...) given tensors.

        Its result is a plain array, outside the graph: given a tensor that requires grad,
        the gradient would silently never reach it, so that is refused with a TypeError
        naming the ``rb`` op to use (as PyTorch refuses ``numpy()`` of such a tensor). Other
        tensors are read as their arrays. ``np.asarray(t)`` does not come here.
        """
        name = func.__name__
        if name not in _METADATA and (_any_requires_grad(args)
                                      or _any_requires_grad(kwargs.values())):
            hint = _NUMPY_TWINS.get(name, "the rb ops (rb.concatenate, t.sum() ...)")
            raise TypeError(
                f"{func.__module__}.{name}: got a Tensor that requires grad, whose gradient "
                f"would be lost (NumPy's functions return plain arrays, outside the graph); "
                f"use {hint}, or pass t.detach() to take its values"
            )
        return func(*_arrays_of(args), **dict(zip(kwargs, _arrays_of(kwargs.values()))))

    def __float__(self):
        return float(self.data.item())  # any one-element tensor, as item()

    def __bool__(self):
        return bool(self.data)  # like NumPy: ambiguous (an error) for more than one value

    def detach(self):
        """A tensor sharing the data but cut from the graph."""
        return Tensor._wrap(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        return f"tensor({body}, dtype={self.data.dtype}{grad})"

    # Comparisons give plain boolean arrays: they have no gradient.
    def __eq__(self, other):
        return self.data == _data(other)

    def __ne__(self, other):
        return self.data != _data(other)

    def __lt__(self, other):
        return self.data < _data(other)

    def __le__(self, other):
        return self.data <= _data(other)

    def __gt__(self, other):
        return self.data > _data(other)

    def __ge__(self, other):
        return self.data >= _data(other)

    __hash__ = object.__hash__

    @staticmethod
    def _wrap(data):
        t = Tensor.__new__(Tensor)
        t.data = data
        t.grad = None
        t.requires_grad = False
        t._parents = ()
        t._backward = None
        t.name = None
        return t

    # -- backpropagation -----------------------------------------------------
    def backward(self, grad=None, retain_graph=False):
        """Backpropagate from this tensor: fill ``.grad`` of every leaf it depends on.

        Parameters
        ----------
        grad : array_like, optional
            d(loss)/d(self); may be omitted only when ``self`` holds one value.
        retain_graph : bool, default False
            Keep the graph so that ``backward`` can be called again.

        Notes
        -----
        The gradients are computed from the arrays the forward read and the values it
        computed, as they are now: a tensor changed in place between the forward and this
        call (an optimizer step on a network the loss goes through) gives wrong gradients,
        at neither its old values nor its new ones in general, without an error. Call
        ``backward`` before any such step (see :class:`Tensor`).

        Raises
        ------
        ValueError
            If ``self`` is not a scalar and no ``grad`` is given, or ``grad``
            has the wrong shape.
        RuntimeError
            If ``self`` does not require grad, or its graph was freed.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad (no input of the computation "
                "had requires_grad=True, or it was computed under no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward: a gradient can be implied only for a scalar; this tensor has "
                    f"shape {self.data.shape}, so pass grad= of that shape (or reduce it first, "
                    f"e.g. loss.sum())"
                )
            grad = _one(self.data)
        else:
            grad = np.asarray(_data(grad), dtype=self.data.dtype)
            if grad.shape != self.data.shape:
                raise ValueError(
                    f"backward: grad has shape {grad.shape} but the tensor has shape "
                    f"{self.data.shape}"
                )
        _run_backward(self, grad, retain_graph)

    def _grad_slot(self):
        """Claim the array this leaf's first gradient is to be written into, or None.

        The one hook between the engine and whatever owns a leaf's gradient
        memory. When a leaf that requires grad receives its first gradient
        (``grad`` is None), the engine asks for a slot: if there is one,
        ``grad`` already is that array (shaped and typed like ``data``) and
        the gradient is copied into it; otherwise the leaf gets a fresh copy.
        A fused op may ask too, for a weight, and write the gradient there
        itself (``np.matmul(..., out=slot)``), returning None for that parent.
        A plain tensor has no slot. ``rosenblatt.nn.Parameter`` has one while
        it is packed in a ``ParameterVector`` and its gradient is cleared
        (``optimizer.zero_grad()``): its view into the flat gradient vector,
        so that backward needs no fill, no accumulation and no temporary.
        """
        return None


# The rb op for a NumPy function that a tensor which requires grad is refused by.
_NUMPY_TWINS = {
    "concatenate": "rb.concatenate", "stack": "rb.stack", "where": "rb.where",
    "split": "rb.split", "pad": "rb.pad", "clip": "rb.clip",
    "dot": "a @ b (rb.autodiff.matmul)", "inner": "a @ b (rb.autodiff.matmul)",
    "sum": "t.sum()", "mean": "t.mean()", "max": "t.max()", "amax": "t.max()",
    "min": "t.min()", "amin": "t.min()", "var": "t.var()",
    "reshape": "t.reshape()", "ravel": "t.reshape(-1)", "transpose": "t.transpose() (or t.T)",
    "swapaxes": "t.swapaxes()", "squeeze": "t.squeeze()", "expand_dims": "t.expand_dims()",
}


# NumPy functions that read no values, only the shape or dtype: fine on any tensor.
_METADATA = frozenset({"shape", "ndim", "size", "result_type", "may_share_memory",
                       "shares_memory"})


def _any_requires_grad(items):
    """Whether a Tensor that requires grad is among ``items``, or in a list or tuple there."""
    for x in items:
        if isinstance(x, Tensor):
            if x.requires_grad:
                return True
        elif isinstance(x, (list, tuple)) and _any_requires_grad(x):
            return True
    return False


def _arrays_of(items):
    """``items`` with each Tensor, also in a list or tuple there, replaced by its array."""
    out = []
    for x in items:
        if isinstance(x, Tensor):
            x = x.data
        elif isinstance(x, (list, tuple)):
            x = _arrays_of(x)
        out.append(x)
    return out


_ONES = {}  # (shape, dtype) -> a read-only array of ones: the implied gradient of a scalar


def _one(data):
    """A read-only array of ones shaped and typed like the one-value ``data`` (shared: ops
    never write into the gradient they are given, and a leaf copies it)."""
    key = (data.shape, data.dtype)
    one = _ONES.get(key)
    if one is None:
        one = np.ones(data.shape, data.dtype)
        one.flags.writeable = False
        if len(_ONES) < 64:
            _ONES[key] = one
    return one


def _accumulate_leaf(leaf, grad):
    if leaf.grad is None:
        slot = leaf._grad_slot()
        if slot is not None:  # e.g. a packed parameter: the first gradient goes into its slot
            if type(grad) is not np.ndarray or grad.size != slot.size:  # (sizes: ~40 ns
                _check_leaf_gradient(leaf, grad)  # a leaf; comparing shapes costs twice that)
            np.copyto(slot, grad)
            return
        # A fresh array: the incoming one may be shared with other nodes, or a
        # read-only broadcast view.
        data = leaf.data
        if type(grad) is np.ndarray and grad.shape == data.shape and grad.dtype == data.dtype:
            leaf.grad = grad.copy()
        else:  # a NumPy scalar, another dtype, or another shape of as many values
            _check_leaf_gradient(leaf, grad)
            leaf.grad = np.empty_like(data)
            leaf.grad[...] = grad
    else:
        if type(grad) is not np.ndarray or grad.size != leaf.data.size:
            _check_leaf_gradient(leaf, grad)
        leaf.grad += grad


def _check_leaf_gradient(leaf, grad):
    """Refuse a gradient with fewer (or more) values than ``leaf``: NumPy would broadcast
    a smaller one into ``.grad`` silently (a 0-d gradient of a (3,) input filled all three).
    Another shape of as many values (a NumPy scalar for a one-value leaf, (1, n) for (n,))
    is taken as it is. Off the common path: called only for a NumPy scalar, another dtype
    or another number of values."""
    shape = np.shape(grad)
    if math.prod(shape) != leaf.data.size:
        raise RuntimeError(
            f"backward: a gradient of shape {shape} arrived for a leaf of shape "
            f"{leaf.data.shape}; a backward given to make() must return, for each parent, "
            f"a gradient shaped like that parent (see sum_to_shape for a broadcast one)"
        )


def _op_name(backward):
    """The name of the op whose ``backward`` closure this is, and where it is defined, for
    error messages ("mul (arithmetic.py:64)")."""
    backward = getattr(backward, "__wrapped__", backward)  # make's check around it
    parts = getattr(backward, "__qualname__", repr(backward)).split(".<locals>.")
    name = parts[-2] if len(parts) > 1 and parts[-1] in ("backward", "<lambda>") else parts[-1]
    code = getattr(backward, "__code__", None)
    if code is None:
        return name
    return f"{name} ({code.co_filename.rsplit('/', 1)[-1]}:{code.co_firstlineno})"


def _gradient_count_error(node, grads):
    n = len(grads)
    return RuntimeError(
        f"backward of {_op_name(node._backward)}: returned {n} gradient{'s' * (n != 1)} for "
        f"{len(node._parents)} parents; a backward given to make() returns one per entry of "
        f"parents (None where no gradient is needed)"
    )


def _gradient_tuple(backward, grads):
    """The gradients a backward returned as another iterable than a tuple (a list, a
    generator), as a tuple; an array, which would be read as one gradient per row, is a
    RuntimeError naming the op."""
    if isinstance(grads, (np.ndarray, np.generic, Tensor)):
        raise RuntimeError(
            f"backward of {_op_name(backward)}: returned an array, not a tuple of "
            f"gradients; a backward given to make() returns one gradient per entry of parents, "
            f"e.g. (grad,) for one parent"
        )
    try:
        return tuple(grads)
    except TypeError:
        raise RuntimeError(
            f"backward of {_op_name(backward)}: returned {type(grads).__name__}, not a "
            f"tuple of gradients (one per entry of parents)"
        ) from None


def _interior_gradient(backward, parent, pg):
    """The gradient ``pg`` that ``backward`` returned for ``parent``, an op's output, as an
    array of the parent's shape; another number of values is a RuntimeError naming the op
    (the parent's own backward would broadcast it silently, or fail in a reshape)."""
    arr = np.asarray(pg)
    if arr.size != parent.data.size:
        raise RuntimeError(
            f"backward of {_op_name(backward)}: returned a gradient of shape {arr.shape} "
            f"for a parent of shape {parent.data.shape}; a backward given to make() must "
            f"return, for each parent, a gradient shaped like that parent (see sum_to_shape "
            f"for a broadcast one)"
        )
    return arr.reshape(parent.data.shape)


def _run_backward(root, grad, retain_graph):
    """The chain rule, from ``root`` back to the leaves.

    Every op node carries a sequence number, increasing in creation order, so
    a node's consumers all have larger numbers than the node. Taking the
    nodes that received a gradient from the largest number down (a heap)
    therefore runs a node's backward only once its gradient is complete,
    summed over every path: a reverse topological order without recursion
    or a separate graph walk, that never visits a branch no gradient reaches.
    Gradients of interior nodes are summed out of place: an op may hand the
    same array to several parents, or a broadcast view. (Tensors key the dict
    by identity: distinct live objects never share ``object.__hash__``, so
    their elementwise ``__eq__`` is never called; sequence numbers are
    unique, so the heap never compares tensors either.)
    """
    if root._backward is None:
        _accumulate_leaf(root, grad)
        return
    pending = {}  # node -> d(root)/d(node) so far, for nodes waiting in the heap
    heap = []  # max-heap on the sequence number
    node, g = root, grad
    while True:
        # ``nxt``: the one interior parent that received its first gradient from this
        # node, run next without a trip through the heap when nothing waits there
        # with a larger number (a chain of ops, the common case, never touches the heap).
        nxt = ng = None
        grads = node._backward(g)
        if len(grads) != len(node._parents):  # (zip would drop the missing ones silently)
            raise _gradient_count_error(node, grads)
        for parent, pg in zip(node._parents, grads):
            if pg is None or parent is None or not parent.requires_grad:
                continue
            if parent._backward is None:
                _accumulate_leaf(parent, pg)
            elif parent is nxt:
                ng = ng + pg
            elif parent in pending:
                pending[parent] = pending[parent] + pg
            else:
                if nxt is not None:
                    pending[nxt] = ng
                    heappush(heap, (-nxt._seq, nxt))
                nxt, ng = parent, pg
        if not retain_graph:
            node._parents = ()
            node._backward = _freed_backward
        if nxt is not None and (not heap or nxt._seq > -heap[0][0]):
            node, g = nxt, ng
        else:
            if nxt is not None:
                pending[nxt] = ng
                heappush(heap, (-nxt._seq, nxt))
            if not heap:
                return
            node = heappop(heap)[1]
            g = pending.pop(node)


# -- helpers shared by every op --------------------------------------------------


def as_float_array(data, dtype=None, where="tensor"):
    """``data`` as a floating ndarray; integers and booleans become ``float32``.

    Raises ``TypeError`` for object, string and complex data.
    """
    if isinstance(data, Tensor):
        data = data.data
    elif isinstance(data, (list, tuple)):
        _refuse_graph_in_list(data, where)
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(
                f"{where}: dtype must be a floating type (float32 or float64); got {dtype}"
            )
    try:
        arr = np.asarray(data, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{where}: cannot make a float array from {type(data).__name__}: {err}"
        ) from None
    kind = arr.dtype.kind
    if kind == "f":
        return arr
    if kind in "iub":
        return arr.astype(DEFAULT_DTYPE)
    raise TypeError(
        f"{where}: expected real numbers (a float array), got an array of dtype {arr.dtype}; "
        f"convert it with numpy.asarray(x, dtype=numpy.float32)"
    )


def _refuse_graph_in_list(items, where):
    """A TypeError if the list or tuple ``items`` holds, at any depth, a Tensor that requires
    grad: NumPy reads it as numbers, so its gradient would be lost silently. One pass over
    the types of each level (a list of a thousand floats: about 10 us)."""
    kinds = set(map(type, items))
    for kind in kinds:
        if issubclass(kind, Tensor):
            if any(isinstance(t, Tensor) and t.requires_grad for t in items):
                if (isinstance(items, tuple) and len(items) == 2
                        and isinstance(items[0], Tensor) and items[0].ndim == 3):
                    # the usual slip: a recurrent layer's (outputs, state) handed on in a
                    # Sequential (the layers that convert with dense._input_array say so too)
                    raise TypeError(
                        f"{where}: got a tuple, not an array: a recurrent layer (RNN, LSTM, "
                        f"GRU) returns (outputs, state); put rb.nn.SequenceOutputs() after it "
                        f"(last=True for the last step's output only, one per sequence)"
                    )
                raise TypeError(
                    f"{where}: got a list holding a Tensor that requires grad, whose gradient "
                    f"would be lost (a list is read as plain numbers); build a tensor from "
                    f"tensors with rb.stack([...]) (or rb.concatenate), or pass t.detach() to "
                    f"take its values"
                )
        elif issubclass(kind, (list, tuple)):
            for item in items:
                if isinstance(item, (list, tuple)):
                    _refuse_graph_in_list(item, where)


def _holds_python_floats(data):
    """Whether ``data`` has no float dtype of its own: a Python number, or a list or tuple
    whose first value is one. An ndarray, a NumPy scalar, a Tensor and any other array-like
    (an object with ``dtype``, ``__array__`` or ``__array_interface__``: pandas, torch), or a
    list of them, carries its own."""
    while isinstance(data, (list, tuple)) and len(data):
        data = data[0]
    return not (hasattr(data, "dtype") or hasattr(data, "__array__")
                or hasattr(data, "__array_interface__"))


def as_tensor_array(data, dtype=None, where="tensor"):
    """:func:`as_float_array`, except that Python floats, which have no dtype of their own,
    become the library default ``float32`` (DESIGN principle 1) rather than NumPy's float64:
    the one rule of ``rb.tensor``, ``Tensor`` and every op given a list. An ndarray, a NumPy
    scalar, a Tensor or another array-like (pandas, torch, a list of float64 arrays) keeps
    its float dtype; ``dtype``, when given, wins."""
    arr = as_float_array(data, dtype, where)
    if (dtype is None and type(data) is not np.ndarray and arr.dtype.type is np.float64
            and _holds_python_floats(data)):
        return arr.astype(DEFAULT_DTYPE)
    return arr


def _data(x):
    """The array (or Python scalar) behind an op operand.

    NumPy scalars become Python numbers, which NumPy treats as "weak": a
    constant like ``np.sqrt(2.0)`` does not turn a float32 tensor into float64.
    """
    if isinstance(x, Tensor):
        return x.data
    cls = type(x)
    if cls is float or cls is int or cls is bool:
        return x
    if isinstance(x, np.generic) and x.dtype.kind in "fiub":  # np.float64 subclasses float
        return x.item()
    return as_float_array(x, where="operand")


def _constant(x, like):
    """The array (or Python scalar) behind a constant operand of an op on tensor data
    ``like``: as :func:`_data`, except that integers and booleans, which carry no float
    precision of their own, take ``like``'s dtype (a float16 tensor times an integer array
    stays float16, as in PyTorch; ``_data`` would make them float32), and so do lists and
    tuples of Python floats, which have no dtype either: ``t32 * [0.5, 2.0]`` is float32, as
    ``t32 * 0.5`` is (an ndarray, or another array-like with a dtype of its own, keeps it,
    as in NumPy). A list holding a tensor that requires grad is a TypeError (its gradient
    would be lost: use ``rb.stack``)."""
    cls = type(x)
    if cls is float or cls is int or cls is bool:
        return x
    if isinstance(x, np.generic) and x.dtype.kind in "fiub":
        return x.item()
    if isinstance(x, Tensor):
        return x.data
    if not isinstance(x, np.ndarray):
        python_floats = _holds_python_floats(x)
        if isinstance(x, (list, tuple)):
            _refuse_graph_in_list(x, "operand")
        try:
            x = np.asarray(x)
        except (TypeError, ValueError):
            return as_float_array(x, where="operand")  # (its error message)
        if x.dtype.kind == "f" and like.dtype.kind == "f" and python_floats:
            return x.astype(like.dtype, copy=False)
    if x.dtype.kind in "iub":
        return x.astype(like.dtype)
    return as_float_array(x, where="operand")


def _tensor_operand(x, where):
    """``x`` itself if it is a Tensor, else a constant Tensor of it (as :func:`tensor`
    converts: float arrays keep their dtype, Python floats and integers become float32): the
    one operand of the unary, reduction and shape ops that ``rb.exp``, ``rb.split`` ...
    export, which take arrays and lists as ``rb.relu`` does."""
    if isinstance(x, Tensor):
        return x
    return Tensor(as_tensor_array(x, None, where))


def _loose_constant(x):
    """:func:`_data` of an operand beside no tensor: a list of Python floats as
    :func:`tensor` converts it (float32); Python and NumPy scalars stay numbers."""
    cls = type(x)
    if cls is float or cls is int or cls is bool or isinstance(x, np.generic):
        return _data(x)
    return as_tensor_array(x, None, "operand")


def _operands(a, b):
    """The arrays (or Python scalars) behind the two operands of a binary op (see
    :func:`_constant` for a constant beside a tensor)."""
    if isinstance(a, Tensor):
        return a.data, (b.data if isinstance(b, Tensor) else _constant(b, a.data))
    if isinstance(b, Tensor):
        return _constant(a, b.data), b.data
    return _loose_constant(a), _loose_constant(b)


def needs_grad(x):
    """Whether gradients must be computed for operand ``x``."""
    return isinstance(x, Tensor) and x.requires_grad


def _graph_parents(parents):
    """``parents`` with constants replaced by None (the graph holds only tensors)."""
    for p in parents:
        if not isinstance(p, Tensor):
            return tuple([q if isinstance(q, Tensor) else None for q in parents])
    return parents


def zeros_like(x):
    """Zeros shaped and typed like array ``x`` (``np.zeros_like`` costs ~2 us more)."""
    out = np.empty_like(x)
    out.fill(0)
    return out


_sequence = itertools.count()  # creation order of op nodes (see _run_backward)
_new_tensor = object.__new__  # Tensor.__new__ is object's: one attribute lookup less per node


def _make(data, parents, backward):
    """:func:`make` for the library's own ops, whose backwards are tested against PyTorch
    and gradcheck: their gradients are trusted, nothing is checked per call (the per-op
    cost of a training step on small networks is this engine's overhead)."""
    if type(data) is not np.ndarray:
        if isinstance(data, np.generic):
            data = np.asarray(data)  # ufuncs on 0-d arrays return NumPy scalars; keep an ndarray
        elif isinstance(data, (int, float)):
            # an op on two Python numbers (add(1.0, 2.0)) gives one: a 0-d tensor in the
            # library default dtype, as rb.tensor(3.0)
            data = np.asarray(data, DEFAULT_DTYPE)
    out = _new_tensor(Tensor)
    out.data = data
    out.grad = None
    out.name = None
    if _grad_mode.enabled:
        # One pass: does any parent need grad, and is every parent a tensor (the graph
        # holds only tensors; constants become None)?
        record = False
        constants = False
        for p in parents:
            if isinstance(p, Tensor):
                if p.requires_grad:
                    record = True
            else:
                constants = True
        if record:
            out.requires_grad = True
            out._parents = _graph_parents(parents) if constants else parents
            out._backward = backward
            out._seq = next(_sequence)
            return out
    out.requires_grad = False
    out._parents = ()
    out._backward = None
    return out


def make(data, parents, backward):
    """The result of an op: records ``parents`` and ``backward`` if any parent needs grad.

    This is how every op, and every fused layer op, is written: compute the
    output with NumPy, then hand it over with a closure for the
    vector-Jacobian product.

    Parameters
    ----------
    data : ndarray
        The op's output (a NumPy scalar is turned into a 0-d array).
    parents : tuple
        The op's inputs; may contain non-tensors (constants).
    backward : callable
        ``backward(grad)`` gets d(loss)/d(output), an array shaped like
        ``data``, and returns a tuple (or another iterable, not an array) of one
        gradient per entry of ``parents``, each shaped like that parent, or None where
        no gradient is needed (see :func:`needs_grad`); a bare array, a wrong count, or
        a gradient with another number of values than its parent (leaf or op output), is
        a RuntimeError at backward naming the op. It must not modify ``grad`` in place.

    Notes
    -----
    ``backward`` reads what it closes over (the inputs' arrays, the output) when it runs,
    not when the op ran: nothing is copied. An input changed in place between the two (an
    optimizer step in between, a reused input buffer) gives wrong gradients, silently: a
    backward that reads the input sees its new values, one that reads the saved output the
    old ones, and a graph of both gets the gradient at neither (see :class:`Tensor`).

    Returns
    -------
    Tensor
        Recording the op only while gradients are enabled and some parent
        requires grad.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> from rosenblatt.autodiff import make
    >>> def square(x):
    ...     xd = x.data
    ...     return make(xd * xd, (x,), lambda g: (2 * xd * g,))  # d(x^2)/dx = 2x
    >>> x = rb.tensor([3.0], requires_grad=True)
    >>> square(x).backward(np.ones(1, np.float32))
    >>> x.grad
    array([6.], dtype=float32)
    """
    return _make(data, parents, _checked(parents, backward))


def _checked(parents, backward):
    """``backward`` with :func:`make`'s contract checked each time it runs: a tuple (another
    iterable is turned into one, an array refused), and for each parent that is an op's
    output a gradient of its number of values (reshaped to its shape); a leaf's gradient is
    checked where it is accumulated. Errors name the op (``_op_name`` unwraps this)."""
    def checked(g):
        grads = backward(g)
        if type(grads) is not tuple:
            grads = _gradient_tuple(backward, grads)
        if len(grads) != len(parents):  # (the engine names the count error)
            return grads
        return tuple(pg if pg is None or not isinstance(p, Tensor) or p._backward is None
                     or (type(pg) is np.ndarray and pg.shape == p.data.shape)
                     else _interior_gradient(backward, p, pg) for p, pg in zip(parents, grads))

    checked.__wrapped__ = backward
    return checked


def tensor(data, requires_grad=False, dtype=None):
    """Create a :class:`Tensor`.

    Parameters
    ----------
    data : array_like
        Numbers. Python floats (and lists of them), integers and booleans become
        ``float32``, the library default; float arrays (ndarrays and other array-likes:
        pandas, torch, a list of arrays) and NumPy float scalars keep their dtype.
        (``Tensor(data)`` and every op given a list convert alike.) A list holding a
        tensor that requires grad is refused: build it with ``rb.stack``.
    requires_grad : bool, default False
        Whether backward should compute d(loss)/d(this tensor).
    dtype : numpy dtype, optional
        A floating dtype to convert to.

    Raises
    ------
    TypeError
        For object, string or complex data, a list holding a tensor that requires
        grad (its gradient would be lost; use ``rb.stack``), a non-floating ``dtype``,
        or a ``requires_grad`` that is not a bool (``rb.tensor(x, np.float64)``
        would otherwise mean ``requires_grad=True``).

    Examples
    --------
    >>> import rosenblatt as rb
    >>> x = rb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    array([2., 4., 6.], dtype=float32)
    """
    if isinstance(data, Tensor):
        data = data.data
    return Tensor(as_tensor_array(data, dtype, "tensor"), requires_grad=requires_grad)


def sum_to_shape(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched to reach ``shape``.

    A float16 gradient is summed in float32 and returned in float16, as PyTorch does: NumPy
    adds float16 in float16 over any axis but the last, where 2048 + 1 = 2048 (a bias's
    gradient over 5,000 rows came out 2048)."""
    if grad.shape == shape:
        return grad
    dtype = grad.dtype
    wide = np.float32 if dtype.itemsize < 4 else None  # (None: NumPy's own, no cost)
    lead = grad.ndim - len(shape)
    if lead > 0:
        grad = grad.sum(axis=tuple(range(lead)), dtype=wide)
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True, dtype=wide)
    if wide is not None:
        grad = grad.astype(dtype, copy=False)
    return grad.reshape(shape)
