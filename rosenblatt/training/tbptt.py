"""Truncated backpropagation through time (notes: "Training RNNs").

The notes: "if working with long sequences, this is effectively like training
a deep network with many hidden layers [...] In practice, it's common to
truncate the backpropagation by running it for only a few time steps back."

:func:`tbptt_fit` cuts long sequences (``(batch, time, ...)``: ``batch``
parallel streams) into chunks of ``k`` steps. Each chunk is one update: the
forward starts from the state the previous chunk ended in, so the network
still *sees* the whole past, but that state is detached, so the gradient
flows back at most ``k`` steps. Gradient-norm clipping (the notes' remedy
for exploding gradients) is an option.

Divergence: as in ``rb.fit``, a NaN or infinite chunk loss stops training
with :class:`~rosenblatt.training.trainer.DivergenceError`, after putting back
the weights and buffers that gave the lowest chunk loss so far (copied only
when a new lowest loss arrives).
"""

import math

import numpy as np

from ..autodiff.tensor import Tensor
from ..checks import positive_float, positive_int
from ..nn.bidirectional import Bidirectional
from .fit import _as_data, _check_finite, _check_optimizer_owns_model, _param_dtype
from .history import History
from .trainer import (
    DivergenceError,
    exact_integers,
    hold_frozen_normalization,
    model_input,
    normalization_layers,
    scalar_loss,
)


def detach_state(state):
    """The same state (a tensor, or nested tuples, namedtuples, lists or dicts of them) cut
    from the graph; arrays and numbers pass unchanged.

    Raises
    ------
    TypeError
        For any other container: a state carried with its graph would make the next
        chunk's backward run into the freed graph of the chunk before.
    """
    if state is None or isinstance(state, (np.ndarray, np.generic, int, float)):
        return state
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # a namedtuple: by position
        return type(state)(*(detach_state(s) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    if isinstance(state, dict):
        return type(state)((k, detach_state(v)) for k, v in state.items())
    raise TypeError(f"tbptt: the state must be a Tensor, or tuples, lists or dicts of them; "
                    f"got a {type(state).__name__} (the model's second output), which cannot "
                    f"be detached from the chunk's graph")


def chunks(T, k):
    """(start, stop) of the chunks of ``k`` steps covering ``T`` (the last may be shorter)."""
    k = positive_int("tbptt", "k", k)
    return [(s, min(s + k, T)) for s in range(0, T, k)]


def _spans(model, B, T, k):
    """The chunks of :func:`tbptt_fit`: :func:`chunks`, except that a last chunk of a single
    step in a single stream (B = 1, T % k == 1) joins the chunk before it (k + 1 steps) when
    the model holds a layer with batch statistics (``batch_norm=True``, BatchNorm1d): they
    need more than one value per batch, and a failure there would come mid-epoch, after
    updates."""
    spans = chunks(T, k)
    if len(spans) > 1 and B * (spans[-1][1] - spans[-1][0]) < 2:
        if callable(getattr(model, "modules", None)) and normalization_layers(model):
            spans[-2:] = [(spans[-2][0], spans[-1][1])]
    return spans


def _loss_fn(loss):
    if callable(loss):
        return loss
    from ..nn import losses

    fn = getattr(losses, str(loss), None)
    if fn is None or not callable(fn):
        raise ValueError(f"tbptt_fit: loss must be a callable or the name of an rb.losses "
                         f"function (e.g. 'cross_entropy', 'mse'); got {loss!r}")
    return fn


def _call(model, x, state):
    """``model(x, state)``, with a clear error when the model does not take and return a state."""
    how = ("tbptt: the model must be called as model(x, state) -> (output, state) (an "
           "RNN/LSTM/GRU, or a Module wrapping one with its read-out; Sequential passes no "
           f"state); {type(model).__name__}")
    try:
        result = model(x, state)
    except TypeError as e:
        if "positional argument" not in str(e):
            raise
        raise TypeError(f"{how}(x, state) failed: {e}") from e
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError(f"{how} returned {type(result).__name__}, not (output, state)")
    return result


def _refuse_bidirectional(model):
    """A bidirectional layer's backward pass reads the future: in chunks its carried
    "backward" state would summarise the past, so the chunked outputs are not the whole
    sequence's."""
    modules = getattr(model, "modules", None)
    if not callable(modules):
        return
    for m in modules():
        if isinstance(m, Bidirectional):
            raise ValueError(
                f"tbptt_fit: the model holds a Bidirectional layer ({m!r}); its backward "
                f"direction needs the rest of the sequence, so it cannot be trained in chunks. "
                f"Use a unidirectional layer, or train on whole sequences (rb.fit without "
                f"tbptt)")


def tbptt_fit(model, X, y, *, k, loss, optimizer, epochs=1, clip_norm=None, state=None,
              callback=None):
    """Train a recurrent model on long sequences with truncated BPTT.

    Parameters
    ----------
    model : callable
        ``model(x_chunk, state) -> (output, state)`` (``state=None`` at the
        start): an RNN/LSTM/GRU, or a Module wrapping one with its read-out.
    X : array (batch, time, ...)
        ``batch`` parallel streams; chunk c of stream b continues chunk c - 1.
        Float data is converted once to the parameters' dtype, as ``rb.fit`` does (a
        value beyond a narrower dtype's range is a ValueError).
        Chunks reach the model as Tensors, as in ``rb.fit``, except integer data
        that float32 would change (token ids above 2**24): those as the integer
        arrays themselves, for an ``Embedding`` to read the ids exactly.
    y : array (batch, time, ...)
        Targets aligned with X (float targets in the parameters' dtype too).
    k : int
        Steps per chunk: the truncation length. The last chunk holds the
        ``time % k`` steps left, except one step of a single stream in a model with
        batch statistics (``batch_norm=True``), which joins the chunk before it
        (k + 1 steps): a variance needs more than one value.
    loss : callable or str
        ``loss(output, y_chunk) -> scalar Tensor``, or an ``rb.losses`` name.
    optimizer : Optimizer
        Anything with ``zero_grad()`` and ``step()`` (``rb.optim.*``).
    epochs : int, default 1
        Passes over the streams; the state restarts from ``state`` each epoch
        (0: the arguments are checked and nothing is trained, as ``rb.fit``).
    clip_norm : float, optional
        Clip the gradient's L2 norm to at most ``clip_norm`` (> 0) before each step.
    state : optional
        The initial state.
    callback : callable, optional
        ``callback(epoch, chunk_index, loss_value)`` after every update.

    Returns
    -------
    History
        ``history["loss"]``: the mean chunk loss of each epoch;
        ``history.chunk_loss``: every chunk's loss, in order.

    Raises
    ------
    ValueError
        Before any update, for NaN or inf in ``X`` or (float) ``y``, for streams
        with no time steps (or no streams), for an optimizer that holds none of
        the model's trainable parameters (as ``rb.fit``; one that misses some is
        warned about), and for a model holding a
        :class:`~rosenblatt.nn.Bidirectional` layer (its backward direction needs
        the future, which a chunk does not have).
        Also before any update: ``k`` not a positive integer, ``epochs`` not a
        non-negative one, ``clip_norm`` not finite and > 0.
    TypeError
        For an optimizer without ``zero_grad()`` and ``step()``, or a
        ``callback`` that is not callable; at the first chunk (before any update), for a
        ``loss`` that returns no Tensor (a ValueError for one of several values, such as
        ``reduction="none"``).
    DivergenceError
        When a chunk's loss is NaN or infinite; it names the epoch, chunk and
        loss, and the model keeps the weights (and buffers: batch-norm running
        statistics) of the lowest chunk loss so far (those it started with if
        the first chunk's loss is not finite).

    Notes
    -----
    As in ``rb.fit``, the model trains in training mode (dropout, batch norm),
    with every frozen batch-norm layer held in evaluation mode
    (:func:`~rosenblatt.training.trainer.hold_frozen_normalization`); each
    module's mode is restored at the end.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> from rosenblatt.training.tbptt import tbptt_fit
    >>> rnn = rb.nn.RNN(1, 1, rng=0)
    >>> X = np.ones((2, 12, 1), dtype=np.float32)
    >>> opt = rb.optim.SGD(rnn.parameters(), lr=0.1)
    >>> hist = tbptt_fit(rnn, X, X * 0.5, k=4, loss="mse", optimizer=opt, epochs=2)
    >>> len(hist.chunk_loss), hist["loss"][1] < hist["loss"][0]
    (6, True)
    """
    # every argument checked before the first update (a bad one found at the first chunk
    # or the first callback would leave the model already stepped)
    k = positive_int("tbptt_fit", "k", k)
    epochs = positive_int("tbptt_fit", "epochs", epochs, allow_zero=True)
    if clip_norm is not None:
        clip_norm = positive_float("tbptt_fit", "clip_norm", clip_norm)
    if callback is not None and not callable(callback):
        raise TypeError(f"tbptt_fit: callback must be callable as callback(epoch, chunk_index, "
                        f"loss_value); got {type(callback).__name__}")
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim < 2 or y.ndim < 2 or X.shape[:2] != y.shape[:2]:
        raise ValueError(f"tbptt_fit: X and y must be (batch, time, ...) with the same batch "
                         f"and time; got {X.shape} and {y.shape}")
    if X.shape[1] == 0 or X.shape[0] == 0:
        what = "no time steps" if X.shape[1] == 0 else "no streams"
        raise ValueError(f"tbptt_fit: X has {what} (shape {X.shape}); there is nothing to "
                         f"train on")
    if not (callable(getattr(optimizer, "step", None)) and hasattr(optimizer, "zero_grad")):
        raise TypeError(f"tbptt_fit: optimizer must be an rb.optim optimizer (zero_grad(), "
                        f"step()); got {type(optimizer).__name__}")
    if callable(getattr(model, "named_parameters", None)):
        _check_optimizer_owns_model(optimizer, model)  # as rb.fit: one that trains nothing
    _check_finite(X, "X", owner="tbptt_fit")
    _check_finite(y, "y", owner="tbptt_fit")
    if callable(getattr(model, "parameters", None)):
        # as rb.fit: float data in the parameters' dtype, once (float64 data would otherwise
        # run a float32 model in float64, off its compiled kernels)
        dtype = _param_dtype(model)
        X = _as_data(X, "X", dtype, check=False, owner="tbptt_fit")
        y = _as_data(y, "y", dtype, check=False, owner="tbptt_fit")
    _refuse_bidirectional(model)
    if getattr(optimizer, "needs_closure", False):
        raise ValueError(f"tbptt_fit: {type(optimizer).__name__} evaluates the objective itself "
                         f"(step(closure)), but truncated BPTT steps on each chunk's gradient "
                         f"with the state carried on; use an optimizer such as rb.optim.SGD or "
                         f"Adam")
    loss = _loss_fn(loss)
    spans = _spans(model, X.shape[0], X.shape[1], k)
    clip = None
    if clip_norm is not None:
        from ..optim.clipping import clip_grad_norm as clip

    modules = list(model.modules()) if callable(getattr(model, "modules", None)) else []
    modes = [m.training for m in modules]
    try:
        for m in modules:  # training mode, as rb.fit (dropout, batch norm), frozen BN held
            m.training = True
        if modules:
            hold_frozen_normalization(model)
        return _chunked_epochs(model, X, y, spans, loss, optimizer, epochs, clip, clip_norm,
                               state, callback)
    finally:
        for m, mode in zip(modules, modes):
            m.training = mode


def _chunked_epochs(model, X, y, spans, loss, optimizer, epochs, clip, clip_norm, state,
                    callback):
    """The loop of :func:`tbptt_fit`, with the model in training mode."""
    history = History()
    history.chunk_loss = []
    params = list(model.parameters()) if callable(getattr(model, "parameters", None)) else []
    # the running statistics (buffers) are part of the model the loss was measured on
    buffers = ([b for _, b in model.named_buffers() if isinstance(b, np.ndarray)]
               if callable(getattr(model, "named_buffers", None)) else [])
    good = [p.data.copy() for p in params]  # the weights of the lowest chunk loss so far
    good_buffers = [b.copy() for b in buffers]
    good_where, best = None, math.inf
    exact = exact_integers(X)  # token ids a float32 Tensor would change: handed as they are
    for epoch in range(int(epochs)):
        carried = state
        values = []
        for c, (start, stop) in enumerate(spans):
            x = model_input(np.ascontiguousarray(X[:, start:stop]), exact)
            out, carried = _call(model, x, carried)
            value = loss(out, y[:, start:stop])
            if not isinstance(value, Tensor):  # its backward would be an AttributeError
                raise TypeError(f"tbptt_fit: the loss must return a scalar Tensor; got "
                                f"{type(value).__name__}")
            current = scalar_loss(value, owner="tbptt_fit")  # one number, or a named error
            if not math.isfinite(current):
                for p, saved in zip(params, good):
                    p.data[...] = saved
                for live, saved in zip(buffers, good_buffers):
                    live[...] = saved
                kept = ("the weights it started with" if good_where is None else
                        f"the weights of the lowest chunk loss so far ({best:.4g}, epoch "
                        f"{good_where[0]}, chunk {good_where[1]}, 0-based)")
                raise DivergenceError(
                    f"tbptt_fit: the loss became {current} at epoch {epoch} (0-based), chunk "
                    f"{c}; training stopped and the model keeps {kept}. Try a lower learning "
                    f"rate, gradient clipping (clip_norm=1.0) or check the data scale.",
                    epoch, c, history, current)
            if current < best:  # the weights about to be stepped gave the lowest loss yet
                best, good_where = current, (epoch, c)
                for p, saved in zip(params, good):
                    np.copyto(saved, p.data)
                for live, saved in zip(buffers, good_buffers):
                    np.copyto(saved, live)
            optimizer.zero_grad()
            value.backward()
            if clip is not None:
                clip(optimizer, clip_norm)
            optimizer.step()
            carried = detach_state(carried)  # carry the state, not its graph
            values.append(current)
            if callback is not None:
                callback(epoch, c, values[-1])
        history.chunk_loss.extend(values)
        history.append(epoch, {"loss": float(np.mean(values))})
    return history
