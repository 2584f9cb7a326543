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

    __slots__ = ()

    def __init__(self, data, requires_grad=True, name=None):
        super().__init__(as_float_array(data, None, "Parameter"), requires_grad=requires_grad)
        self.name = name

    def __repr__(self):
        return (
            f"Parameter(shape={self.shape}, dtype={self.dtype}, "
            f"requires_grad={self.requires_grad})"
        )


class ParameterVector:
    """Pack parameters into one flat ``data`` vector and one flat ``grad`` vector.

    After packing, ``param.data`` and ``param.grad`` are views into
    ``vec.data`` and ``vec.grad``: writing ``vec.data[:] = theta`` changes the
    model, and backward accumulates into ``vec.grad``. Parameters must keep
    those views: update them in place (``p.data[...] = x``), never rebind
    ``p.data`` or ``p.grad``.

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
        Defaults to the common dtype of the parameters.

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
            dtype = np.result_type(*[p.data.dtype for p in unique])
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"ParameterVector: dtype must be a floating type (float32 or "
                            f"float64); got {dtype}")
        sizes = [p.data.size for p in unique]
        self.size = int(sum(sizes))
        self.data = np.empty(self.size, dtype=dtype)
        self.grad = np.zeros(self.size, dtype=dtype)
        self.params = unique
        self.slices = []
        start = 0
        for p, n in zip(unique, sizes):
            sl = slice(start, start + n)
            self.data[sl] = p.data.reshape(-1)
            if p.grad is not None:
                self.grad[sl] = p.grad.reshape(-1)
            p.data = self.data[sl].reshape(p.data.shape)
            p.grad = self.grad[sl].reshape(p.data.shape)
            self.slices.append(sl)
            start += n

    def __len__(self):
        return self.size

    def zero_grad(self):
        """Set every gradient to zero, in place (the views stay valid)."""
        self.grad.fill(0)

    def is_packed(self):
        """True while every parameter still views this vector (no one rebound ``data``)."""
        return all(
            np.shares_memory(p.data, self.data) and np.shares_memory(p.grad, self.grad)
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

    def split(self, flat):
        """Views of a flat array (same layout as ``data``) per parameter, shaped like them."""
        return [flat[sl].reshape(p.shape) for p, sl in zip(self.params, self.slices)]

    def __repr__(self):
        return (
            f"ParameterVector({len(self.params)} parameters, {self.size} values, "
            f"{self.data.dtype})"
        )
