"""Bidirectional recurrent networks (notes: "BI-RNNs").

Two recurrent layers read the sequence: the forward one x_1 ... x_n, the
backward one x_n ... x_1. The forward state at position i depends on
x_1 ... x_i, the backward state on x_n ... x_i, and the output at position i
is their concatenation y_i = [y_i^f; y_i^b], so every position sees the whole
sequence, its past and its future.
"""

import copy
import inspect

import numpy as np

from ..autodiff.shape import concatenate
from ..autodiff.tensor import Tensor
from ..randomness import resolve_rng
from .dense import _input_array
from .module import ErrorName, Module
from .recurrent import RecurrentBase, batch_lengths


def _check_recurrent(name, layer):
    """Refuse what cannot be called as ``layer(x, state) -> (outputs, state)``, with an error
    naming the argument: a non-Module; one of the library's layers that is not recurrent (an
    NTM or an Attention binds two arguments too, but returns no state); a Module of the
    user's whose forward takes no state (a Dense-like one). What a user's layer returns is
    checked at each call (:func:`_outputs_and_state`)."""
    if not isinstance(layer, Module):
        raise TypeError(f"Bidirectional: {name} must be a Module; got {type(layer).__name__}")
    if isinstance(layer, (RecurrentBase, Bidirectional)):
        return
    cls = type(layer)
    if cls.__module__.split(".")[0] == "rosenblatt":  # the library's own: known not recurrent
        why = f"{cls.__name__} is not one"
    else:
        try:
            inspect.signature(layer.forward).bind(None, None)
            return
        except TypeError:
            why = f"{cls.__name__}.forward takes no state"
        except ValueError:  # no signature to read (a builtin): left to the first call
            return
    raise TypeError(f"Bidirectional: {name} must be a recurrent layer called as "
                    f"layer(x, state) -> (outputs, state) (an RNN, LSTM, GRU, a Bidirectional "
                    f"or a Module of your own that does so); {why}")


def _outputs_and_state(name, layer, result, batch, time):
    """``result``, a layer's ``(outputs, state)``, once checked: a Tensor alone (which
    would unpack along its batch axis) or outputs not (batch, time, H) raise, naming the
    layer."""
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        got = type(result).__name__ + (f" of {len(result)}" if isinstance(result, (tuple, list))
                                       else "")
        raise TypeError(f"Bidirectional: {name} {ErrorName(layer)} returned a {got}, not "
                        f"(outputs, state): it must be a recurrent layer")
    out = result[0]
    if not isinstance(out, Tensor) or out.ndim != 3 or out.shape[:2] != (batch, time):
        raise ValueError(f"Bidirectional: {name} {ErrorName(layer)} returned outputs of shape "
                         f"{getattr(out, 'shape', type(out).__name__)}; expected (batch, time, "
                         f"H) = ({batch}, {time}, H)")
    return result


class Bidirectional(Module):
    """Run a recurrent layer forwards and a copy of it backwards; concatenate the outputs.

    Parameters
    ----------
    layer : Module
        A recurrent layer (RNN, LSTM, GRU, or a Bidirectional) called as
        ``layer(x, state) -> (outputs, state)``; a Module of your own that is called so
        works too.
    backward_layer : Module, optional
        The layer that reads the reversed sequence; by default a copy of
        ``layer`` with fresh weights (``layer.reset_parameters(rng)``).
    rng : numpy.random.Generator, optional
        For the fresh weights of the copy.

    Returns (when called)
    ---------------------
    outputs : Tensor, shape (batch, time, H_forward + H_backward)
        ``outputs[:, i] = [forward output at i; backward output at i]``.
    state : tuple
        (forward final state, backward final state); the backward one is its
        state after reading x_1, the last element it sees. It is the backward half of
        ``outputs[:, 0]``, not of ``outputs[:, -1]`` (which has read x_T only): a
        per-sequence read-out of both directions takes the two final states (as
        PyTorch's ``h_n``), not ``SequenceOutputs(last=True)``.

    With ``lengths`` (batch,) (a padded batch), the backward layer reads each
    sequence reversed within its own length, and both layers stop at each
    sequence's end (PyTorch's packed sequences).

    Raises
    ------
    TypeError
        When ``layer`` or ``backward_layer`` is not a recurrent layer: not a Module (a
        string), one of the library's other layers (a Dense, an NTM, an Attention), or a
        Module whose forward takes no ``(x, state)``, naming the argument; when called,
        when a layer returns something other than ``(outputs, state)``, naming it.
    ValueError
        When called, when a layer's outputs are not (batch, time, H).

    Notes
    -----
    With a stacked layer (``num_layers > 1``) each direction is its own stack:
    ``Bidirectional(LSTM(I, H, num_layers=2))`` runs a 2-layer LSTM forwards and
    another backwards, and the upper layer of each reads only its own direction.
    PyTorch's ``nn.LSTM(I, H, num_layers=2, bidirectional=True)`` is a different model
    of the same output width: there the upper layer of each direction reads both
    directions' outputs (2H features). That model is Bidirectional layers in sequence,

        Sequential(Bidirectional(LSTM(I, H)), SequenceOutputs(),
                   Bidirectional(LSTM(2 * H, H)), SequenceOutputs())

    (with ``lengths``, call the two Bidirectional layers in turn, the second on the
    first's outputs); with PyTorch's weights copied in, it gives PyTorch's outputs and
    gradients (``tests/nn/test_audit_fixes_s9_recurrent.py``).

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> bi = rb.nn.Bidirectional(rb.nn.GRU(3, 4, rng=0), rng=1)
    >>> out, (h_f, h_b) = bi(np.ones((2, 5, 3), dtype=np.float32))
    >>> out.shape
    (2, 5, 8)

    The model of PyTorch's ``nn.LSTM(3, 4, num_layers=2, bidirectional=True)``, as in the Notes:

    >>> deep = rb.nn.Sequential(
    ...     rb.nn.Bidirectional(rb.nn.LSTM(3, 4, rng=0), rng=1), rb.nn.SequenceOutputs(),
    ...     rb.nn.Bidirectional(rb.nn.LSTM(8, 4, rng=2), rng=3), rb.nn.SequenceOutputs())
    >>> deep(np.ones((2, 5, 3), dtype=np.float32)).shape
    (2, 5, 8)
    """

    @classmethod
    def state_shapes(cls, config):
        """The forward layer's state under ``layer.`` and the backward one's (a copy of the
        forward layer unless given) under ``backward_layer.``."""
        layer, backward = config["layer"], config["backward_layer"]
        for name, value in (("layer", layer), ("backward_layer", backward)):
            if value is not None and not hasattr(value, "shapes_under"):
                raise TypeError(f"Bidirectional: {name} must be a Module; got "
                                f"{type(value).__name__}")
        if layer is None:
            raise TypeError("Bidirectional: layer must be a Module; got NoneType")
        shapes = layer.shapes_under("layer")
        if backward is None and layer.shared:
            raise ValueError("Bidirectional: a shared layer needs an explicit backward_layer")
        shapes.update((backward or layer).shapes_under("backward_layer"))
        return shapes

    def __init__(self, layer, backward_layer=None, rng=None):
        _check_recurrent("layer", layer)
        if backward_layer is not None:  # checked as layer, or it fails at the first call
            _check_recurrent("backward_layer", backward_layer)
        if backward_layer is None:
            if not hasattr(layer, "reset_parameters"):
                raise TypeError(
                    f"Bidirectional: {type(layer).__name__} has no reset_parameters(); pass "
                    f"backward_layer= explicitly"
                )
            backward_layer = copy.deepcopy(layer)
            backward_layer.reset_parameters(rng)
        self.layer = layer
        self.backward_layer = backward_layer

    def reset_parameters(self, rng=None):
        """Fresh weights for both layers (one generator, the forward layer first; a layer used
        in both directions once), so that a Bidirectional can itself be the ``layer`` that a
        default backward copy is made of."""
        rng = resolve_rng(rng)
        tied = self.backward_layer is self.layer
        for layer in (self.layer,) if tied else (self.layer, self.backward_layer):
            if not hasattr(layer, "reset_parameters"):
                raise TypeError(f"Bidirectional: {type(layer).__name__} has no "
                                f"reset_parameters()")
            layer.reset_parameters(rng)
        return self

    def forward(self, x, state=None, lengths=None):
        if not isinstance(x, Tensor):
            x = Tensor(_input_array(x, "Bidirectional"))
        if x.ndim != 3:
            raise ValueError(
                f"Bidirectional: expected input of shape (batch, time, features); got {x.shape}"
            )
        if state is not None and not (isinstance(state, (tuple, list)) and len(state) == 2):
            raise ValueError(
                f"Bidirectional: state must be the pair (forward state, backward state) that "
                f"a previous call returned; got {type(state).__name__}"
                + (f" of shape {tuple(state.shape)}" if hasattr(state, "shape") else "")
            )
        s_f, s_b = (None, None) if state is None else state
        B, T = x.shape[0], x.shape[1]
        lengths = batch_lengths(lengths, T, B, "Bidirectional")  # None: nothing to hold
        if lengths is None:
            out_f, s_f = _outputs_and_state("layer", self.layer, self.layer(x, s_f), B, T)
            out_b, s_b = _outputs_and_state("backward_layer", self.backward_layer,
                                            self.backward_layer(x[:, ::-1], s_b), B, T)
            return concatenate([out_f, out_b[:, ::-1]], axis=-1), (s_f, s_b)
        # Padded batch: reverse each sequence within its own length (padding stays at the
        # end), so the backward layer starts at each sequence's real last element.
        t = np.arange(T)[None, :]
        rows = np.arange(B)[:, None]
        order = np.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # an involution
        out_f, s_f = _outputs_and_state("layer", self.layer,
                                        self.layer(x, s_f, lengths=lengths), B, T)
        out_b, s_b = _outputs_and_state("backward_layer", self.backward_layer,
                                        self.backward_layer(x[rows, order], s_b,
                                                            lengths=lengths), B, T)
        return concatenate([out_f, out_b[rows, order]], axis=-1), (s_f, s_b)
