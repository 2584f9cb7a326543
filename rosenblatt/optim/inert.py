"""The weights that no update may move: missing connections and padding rows.

A layer with a connection mask (``SparseDense``: ``W`` is zero where there is
no connection, and its gradient there is zero) keeps those weights at 0, and
an ``Embedding``'s padding row (``padding_idx``: no gradient) keeps its value,
under every gradient step. An update that adds something other than the
gradient (gradient noise, an annealing move) must spare them as well:
:class:`InertWeights` zeroes their components in a flat vector shaped like
the optimizer's weights before it is applied.
"""

from ..nn.embedding import Embedding
from ..nn.module import Module
from ..nn.regularizers import _named_items, connection_mask


class InertWeights:
    """The components of ``vec`` that belong to missing connections or padding rows.

    Parameters
    ----------
    vec : ParameterVector
        The optimizer's flat weights.
    model : Module
        The model the parameters belong to. Masks and ``padding_idx`` are read
        at every :meth:`zero` (``rb.callbacks.Rewire`` changes the masks).
    owner : str, default "optimizer"
        Who asks (``"BoltzmannAnnealer"``), for the error messages.

    Raises
    ------
    TypeError
        If ``model`` is not a Module (a string, ``model.parameters()`` ...).
    ValueError
        If ``model`` owns none of the optimizer's parameters (it would spare nothing).
    """

    def __init__(self, vec, model, owner="optimizer"):
        if not isinstance(model, Module):
            raise TypeError(f"{owner}: model must be an rb.nn.Module (the model the "
                            f"parameters belong to, e.g. model=net); got "
                            f"{type(model).__name__}")
        where = {id(p): sl for p, sl in zip(vec.params, vec.slices)}
        items = [(where[id(p)], module, name, p) for module, name, p in _named_items(model)
                 if id(p) in where]
        if vec.params and not items:
            raise ValueError(f"{owner}: model= owns none of the optimizer's parameters; give "
                             f"the model whose parameters() the optimizer trains")
        self.masked = tuple((sl, module, p) for sl, module, _, p in items
                            if connection_mask(module, p) is not None)
        self.padded = tuple((sl, module, p) for sl, module, name, p in items
                            if isinstance(module, Embedding) and name == "W")

    def __bool__(self):
        return bool(self.masked or self.padded)

    def zero(self, flat):
        """Set the inert components of ``flat`` (shaped like the weights) to 0; returns it."""
        for sl, module, p in self.masked:
            mask = connection_mask(module, p)
            if mask is not None:
                flat[sl] *= mask.reshape(-1)
        for sl, module, p in self.padded:
            if module.padding_idx is not None:
                flat[sl].reshape(p.shape)[module.padding_idx] = 0
        return flat
