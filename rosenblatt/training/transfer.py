"""Transfer learning helpers (notes: "Transfer Learning").

"Taking a neural net trained for another task and applying it to a
different task ... truncating the output layer, that is, take the vectors
from the second-to-last layer and use those as feature vectors." With a
``Sequential`` model: ``feature_extractor(model)`` is ``model[:-1]`` (the
layers are shared, not copied); ``replace_output`` puts a new output layer
on top, freezing the transferred layers so that only the new layer learns
(``unfreeze`` them later to fine-tune everything at a low learning rate).
Build the optimizer after freezing: frozen parameters are then not even
packed into its flat vector. The old model's optimizer lacks the new layer:
``rb.fit`` refuses an optimizer that holds none of the trainable parameters
(the old model's, after freezing) and only warns about one that misses some
(the old model's, fine-tuning with ``freeze=False``: the new layer would not
learn), so build a new optimizer on the new model in both cases.

A frozen body does not change: ``rb.fit`` runs its batch-norm layers in
evaluation mode (their running statistics are used, not updated; see
:func:`rosenblatt.training.trainer.hold_frozen_normalization`), so the
original model, whose layers the new one shares, keeps its outputs. A
training loop of one's own must do the same (``bn.eval()`` after
``model.train()``). Unfrozen (fine-tuning), the shared layers learn, and the
original model changes with them: ``model.clone()`` first to keep it. The
sharing goes the other way too: freezing the transferred layers freezes
them in ``model`` as well (pass ``model.clone()`` to keep a trainable
original).
"""

import numpy as np

from ..checks import boolean, positive_int
from ..nn.module import Module, Sequential
from .fit import predict


def _check_sequential(model, where):
    if not isinstance(model, Sequential):
        raise TypeError(f"{where}: expected an rb.nn.Sequential model; got {type(model).__name__}")
    if len(model) < 2:
        raise ValueError(f"{where}: the model needs at least 2 layers; it has {len(model)}")


def _truncate(model, drop, where):
    """``model[:-drop]`` for a checked ``drop`` (an int or NumPy integer); ``where`` names the
    public function in errors."""
    _check_sequential(model, where)
    if isinstance(drop, bool) or not isinstance(drop, (int, np.integer)) \
            or not 1 <= drop < len(model):
        raise ValueError(f"{where}: drop must be an integer in 1..{len(model) - 1}; "
                         f"got {drop!r}")
    return model[:-int(drop)]


def feature_extractor(model, drop=1):
    """The network without its last ``drop`` layers (sharing their parameters).

    ``drop`` is an integer (a NumPy integer too) in ``1..len(model) - 1``.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> net = rb.nn.Sequential(rb.nn.Dense(4, 8), rb.nn.ReLU(), rb.nn.Dense(8, 3))
    >>> len(feature_extractor(net))
    2
    """
    return _truncate(model, drop, "feature_extractor")


def features(model, X, drop=1, batch_size=256):
    """Feature vectors of ``X`` from the truncated network (no graph, eval mode), as an ndarray.

    As :func:`rosenblatt.training.predict` on ``feature_extractor(model, drop)``: an empty
    ``X`` gives ``(0, n_features)``; ``batch_size`` is a positive integer.
    """
    batch_size = positive_int("features", "batch_size", batch_size)
    return predict(_truncate(model, drop, "features"), X, batch_size)


def replace_output(model, layer, freeze=True, drop=1):
    """A new Sequential: ``model``'s layers except the last ``drop``, then ``layer``.

    Parameters
    ----------
    model : Sequential
    layer : Module
        The new output layer (e.g. ``Dense(hidden, new_classes)``).
    freeze : bool, default True
        Freeze the transferred layers (``requires_grad = False``); ``rb.fit``
        then also keeps their batch-norm statistics fixed (evaluation mode),
        so neither they nor ``model`` change. The layers are shared, not
        copied: ``model``'s own layers are frozen as well, so ``model`` no
        longer learns them either; pass ``model.clone()`` to keep an
        independent, trainable original (or ``unfreeze()`` it later).
    drop : int, default 1

    Examples
    --------
    >>> import rosenblatt as rb
    >>> net = rb.nn.Sequential(rb.nn.Dense(4, 8), rb.nn.ReLU(), rb.nn.Dense(8, 3))
    >>> new = replace_output(net, rb.nn.Dense(8, 5))
    >>> [p.requires_grad for p in new.parameters()]
    [False, False, True, True]
    >>> [p.requires_grad for p in net.parameters()]  # the shared layers: frozen in net too
    [False, False, True, True]
    """
    if not isinstance(layer, Module):
        raise TypeError(f"replace_output: layer must be a Module; got {type(layer).__name__}")
    freeze = boolean("replace_output", "freeze", freeze)
    body = _truncate(model, drop, "replace_output")
    if freeze:
        body.freeze()
    return Sequential(*body.layers, layer)
