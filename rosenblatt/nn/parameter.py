"""Parameters, and all of a model's parameters as one vector.

The notes ("Gradient Checking", and the neuroevolution sections) "roll the
weights and biases together" into one vector theta. :class:`ParameterVector`
makes that literal: one contiguous array holds every parameter, and each
:class:`Parameter`'s ``data`` and ``grad`` are views into it. An optimizer
step, a gradient check, a mutation or an annealing move is then a handful of
vectorized operations on theta, however many layers the model has.
"""

import numpy as np

from ..autodiff.tensor import Tensor, as_float_array


class Parameter(Tensor):
    """A tensor that a module learns: ``requires_grad`` is True unless frozen.

    Parameters
    ----------
    data : array_like
        Initial values (float; integers become float32).
    requires_grad : bool, default True
    """

    __slots__ = ("_grad_home",)  # its view into a ParameterVector's flat gradient, if packed

    def __init__(self, data, requires_grad=True, name=None):
        super().__init__(as_float_array(data, None, "Parameter"), requires_grad=requires_grad)
        self.name = name
        self._grad_home = None

    def _grad_slot(self):
        """Its view into its :class:`ParameterVector`'s flat gradient, made its ``grad``, while
        the gradient is cleared (the engine's hook: see ``Tensor._grad_slot``); else None."""
        home = self._grad_home
        if self.grad is None and home is not None and home.dtype == self.data.dtype:
            self.grad = home
            return home
        return None  # a gradient already there, not packed, or cast since (Module.astype)

    def __repr__(self):
        return (
            f"Parameter(shape={self.shape}, dtype={self.dtype}, "
            f"requires_grad={self.requires_grad})"
        )


def one_dtype(params, where, labels, fix):
    """The dtype that every parameter of ``params`` has; a TypeError naming them if they differ.

    Parameters
    ----------
    params : list of Tensor
    where : str
        What the message starts with ("SGD", "ParameterVector").
    labels : list of str
        How the message names each parameter ("params[2]").
    fix : str
        The message's last sentence: what to do instead.

    Raises
    ------
    TypeError
        If the parameters have more than one dtype: one flat vector would cast them all to
        the common dtype, changing the model's dtype, memory and outputs as a side effect.
    """
    groups = {}
    for p, label in zip(params, labels):
        groups.setdefault(p.data.dtype, []).append(f"{label} {tuple(p.shape)}")
    if len(groups) == 1:
        return next(iter(groups))
    listed = "; ".join(
        f"{dtype}: {', '.join(names[:3])}" + (f" and {len(names) - 3} more" if len(names) > 3
                                              else "")
        for dtype, names in groups.items())
    raise TypeError(
        f"{where}: the parameters have different dtypes ({listed}); one flat vector would "
        f"cast them all to {np.result_type(*groups)}, changing the model. {fix}")


class ParameterVector:
    """Pack parameters into one flat ``data`` vector and one flat ``grad`` vector.

    After packing, ``param.data`` and ``param.grad`` are views into
    ``vec.data`` and ``vec.grad``: writing ``vec.data[:] = theta`` changes the
    model, and backward accumulates into ``vec.grad``. Parameters must keep
    those views: update them in place (``p.data[...] = x``), never rebind
    ``p.data`` or ``p.grad`` to other arrays.

    :meth:`clear_grad` (what ``optimizer.zero_grad()`` calls) sets each
    ``p.grad`` to None instead of filling zeros, as PyTorch does: backward
    then writes each parameter's first gradient straight into its slot (no
    fill pass, no accumulation pass, no array of its own), and reading
    ``vec.grad`` fills the slots of parameters that received no gradient
    with zeros, so ``vec.grad`` is always the true gradient. The engine
    knows nothing of vectors: it asks a leaf for ``_grad_slot()``, which
    :class:`Parameter` answers with its slot here. The saving is about 7% of
    an MLP training step (784-256-256-10, batch 128).

    A parameter views one vector at a time. Packing parameters that already
    live in another vector (for instance building a second optimizer on
    ``model.parameters()``) moves them into the new one, and the old vector
    no longer reaches them: writing its ``data`` changes nothing. Whoever
    holds the old vector can tell with :meth:`is_packed`; optimizers call
    :meth:`check_packed` before each step and raise rather than silently
    train nothing. Building a new optimizer on a subset for fine-tuning is
    fine as long as the old optimizer is not stepped again (or is rebuilt).

    Parameters
    ----------
    params : iterable of Parameter
        Duplicates are packed once.
    dtype : numpy dtype, optional
        The vector's dtype; the parameters are cast to it (their ``data`` become views
        of the vector). Without it the parameters must share one dtype, which the vector
        takes: parameters of several dtypes raise TypeError rather than being cast
        silently.

    Raises
    ------
    TypeError
        For an item that is not a tensor, a ``dtype`` that is not a floating type, or
        parameters of several dtypes and no ``dtype``.
    ValueError
        For no parameters.

    Attributes
    ----------
    data, grad : ndarray, shape (size,)
    params : list of Parameter
    slices : list of slice
        Where each parameter lives in the vector.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> a, b = rb.nn.Parameter(np.zeros((2, 2))), rb.nn.Parameter(np.zeros(3))
    >>> vec = rb.nn.ParameterVector([a, b])
    >>> vec.data[:] = np.arange(7)
    >>> a.data
    array([[0., 1.],
           [2., 3.]])
    """

    def __init__(self, params, dtype=None):
        unique, seen = [], set()
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"ParameterVector: expected Parameters (or tensors); got {type(p).__name__}"
                )
            if id(p) not in seen:
                seen.add(id(p))
                unique.append(p)
        if not unique:
            raise ValueError("ParameterVector: got no parameters")
        if dtype is None:
            dtype = one_dtype(
                unique, "ParameterVector",
                [getattr(p, "name", None) or f"#{i}" for i, p in enumerate(unique)],
                "Cast them to one dtype first (model.astype(np.float32)), or pass dtype= to "
                "cast them on purpose")
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"ParameterVector: dtype must be a floating type (float32 or "
                            f"float64); got {dtype}")
        sizes = [p.data.size for p in unique]
        self.size = int(sum(sizes))
        self.data = np.empty(self.size, dtype=dtype)
        self._grad = np.zeros(self.size, dtype=dtype)
        self._cleared = False  # some p.grad may be None (clear_grad): their slots are stale
        self.params = unique
        self.slices = []
        self._homes = []
        start = 0
        for p, n in zip(unique, sizes):
            sl = slice(start, start + n)
            self.data[sl] = p.data.reshape(-1)
            if p.grad is not None:
                self._grad[sl] = p.grad.reshape(-1)
            p.data = self.data[sl].reshape(p.data.shape)
            home = self._grad[sl].reshape(p.data.shape)
            p.grad = home
            if isinstance(p, Parameter):
                p._grad_home = home
            self._homes.append(home)
            self.slices.append(sl)
            start += n

    def __len__(self):
        return self.size

    @property
    def grad(self):
        """The flat gradient, every parameter's slot up to date (zeros where nothing arrived).

        A ``p.grad`` set to None or assigned by hand since the last read (PyTorch style,
        with or without :meth:`clear_grad` before) is brought into its slot first, so that
        whoever reads the vector (clipping, gradient noise, a step) sees the gradient the
        parameters show. The check is one pass of identity tests over the parameters, not
        over the values.
        """
        if self._cleared or self._has_strays():
            self._materialize()
        return self._grad

    @grad.setter
    def grad(self, value):  # ``vec.grad += x`` assigns the same array back; anything else copies in
        if value is not self._grad:
            for _, p, home in self._strays():  # the whole gradient is replaced: theirs too
                p.grad = home
            self._cleared = False
            self._grad[...] = value

    def _has_strays(self):
        """Whether some parameter's ``grad`` is not its slot here (see :meth:`_strays`; one
        that no longer views this vector counts too, and :meth:`_materialize` skips it)."""
        for p, home in zip(self.params, self._homes):
            if p.grad is not home:
                return True
        return False

    def _strays(self):
        """(index, parameter, slot) of the parameters whose ``grad`` is not their slot here
        (cleared, or assigned by hand), skipping any that no longer view this vector
        (packed into another one or cast since: :meth:`check_packed` reports those)."""
        data = self.data
        for i, (p, home) in enumerate(zip(self.params, self._homes)):
            if p.grad is not home and p.data.base is data:
                yield i, p, home

    def _materialize(self):
        """After clear_grad: zeros into the slots no gradient reached, and gradients that
        were assigned by hand (``p.grad = g``, PyTorch style) copied into their slots."""
        for i, p, home in self._strays():
            if p.grad is None:
                home.fill(0)
            else:
                try:
                    g = np.asarray(p.grad, dtype=home.dtype)
                except (TypeError, ValueError):
                    name = getattr(p, "name", None) or f"#{i}"
                    raise TypeError(
                        f"ParameterVector: parameter {name} was given a gradient that is not "
                        f"an array of numbers ({type(p.grad).__name__})"
                    ) from None
                if g.shape != home.shape:
                    name = getattr(p, "name", None) or f"#{i}"
                    raise ValueError(
                        f"ParameterVector: parameter {name} has shape {home.shape} but was "
                        f"given a gradient of shape {g.shape}"
                    )
                home[...] = g
            p.grad = home
        self._cleared = False

    def zero_grad(self):
        """Set every gradient to zero, in place (the views stay valid)."""
        for _, p, home in self._strays():
            p.grad = home  # its values are about to be zeroed: nothing to copy
        self._cleared = False
        self._grad.fill(0)

    def clear_grad(self):
        """Set every parameter's ``grad`` to None (PyTorch's ``zero_grad(set_to_none=True)``).

        Semantically zero: backward writes the next gradient of each parameter
        into its slot without reading the old values, and ``vec.grad`` shows
        zeros for any parameter that receives none. Cheaper than
        :meth:`zero_grad` by a pass over the vector, and backward saves one too.
        A gradient set by hand in between (``p.grad = g``) is copied into its
        slot when ``vec.grad`` is next read (an optimizer step reads it); one set
        by hand before is dropped too, as PyTorch drops it (a parameter packed
        into another vector since is left alone).
        """
        data = self.data
        for p, home in zip(self.params, self._homes):
            if p.grad is home or (p.grad is not None and p.data.base is data):
                p.grad = None
        self._cleared = True

    def is_packed(self):
        """True while every parameter still views this vector (no one rebound ``data``)."""
        grad = self.grad
        return all(
            np.shares_memory(p.data, self.data) and np.shares_memory(p.grad, grad)
            for p in self.params
        )

    def check_packed(self, owner="ParameterVector"):
        """Raise unless every parameter still views this vector (cheap: identity tests).

        Parameters
        ----------
        owner : str
            Named in the message (e.g. ``"SGD.step"``).

        Raises
        ------
        RuntimeError
            If a parameter was packed into another vector after this one (a
            second optimizer or ParameterVector built on it), or its ``data``
            or ``grad`` was rebound (e.g. ``Module.astype`` to another dtype).
        """
        data, grad = self.data, self.grad
        for i, p in enumerate(self.params):
            g = p.grad
            if p.data.base is not data or g is None or g.base is not grad:
                name = getattr(p, "name", None) or f"#{i}"
                raise RuntimeError(
                    f"{owner}: parameter {name} (shape {p.shape}) no longer views this "
                    f"optimizer's flat vector, so a step would not move it: it was packed "
                    f"again (another optimizer or ParameterVector built on the same "
                    f"parameters after this one) or its .data/.grad was rebound (astype "
                    f"to another dtype). Build one optimizer per set of parameters, and "
                    f"rebuild this optimizer after re-packing or casting"
                )

    def move_to(self, data=None, grad=None):
        """Move theta and/or the gradient into other flat arrays; the parameters' views follow.

        The values are copied into ``data`` / ``grad`` (1-D, this vector's
        size and dtype, each the base of its own views), every parameter's
        ``data`` / ``grad`` view is re-made on them, and the old arrays are no
        longer used. ``rb.distributed.DataParallel`` puts a rank's theta and
        gradient in memory the node's ranks share this way, so the others read
        them where they are.
        """
        for name, new in (("data", data), ("grad", grad)):
            if new is not None and (new.shape != (self.size,) or new.dtype != self.data.dtype
                                    or not new.flags.c_contiguous):
                raise ValueError(f"ParameterVector.move_to: {name} must be a contiguous "
                                 f"({self.size},) {self.data.dtype} array; got {new.shape} "
                                 f"{new.dtype}")
        if grad is not None:
            grad[...] = self._grad
            homes = [grad[sl].reshape(h.shape) for sl, h in zip(self.slices, self._homes)]
            for p, old, home in zip(self.params, self._homes, homes):
                if p.grad is old:
                    p.grad = home
                if getattr(p, "_grad_home", None) is old:
                    p._grad_home = home
            self._grad, self._homes = grad, homes
        if data is not None:
            data[...] = self.data
            for p, sl in zip(self.params, self.slices):
                if p.data.base is self.data:  # still packed here
                    p.data = data[sl].reshape(p.data.shape)
            self.data = data

    def split(self, flat):
        """Views of a flat array (same layout as ``data``) per parameter, shaped like them."""
        return [flat[sl].reshape(p.shape) for p, sl in zip(self.params, self.slices)]

    def __repr__(self):
        return (
            f"ParameterVector({len(self.params)} parameters, {self.size} values, "
            f"{self.data.dtype})"
        )
