"""What every recurrent layer shares (notes: "Recurrent Neural Networks", "Training RNNs",
batch-normalised RNNs): :class:`RecurrentBase`, the module base of
:class:`~rosenblatt.nn.rnn.RNN`, :class:`~rosenblatt.nn.lstm.LSTM` and
:class:`~rosenblatt.nn.gru.GRU`, and :class:`SequenceOutputs`, which fits a
recurrent layer into ``Sequential``.

:class:`RecurrentBase` holds stacked layers, initial states (zeros, passed in,
or learned with ``learn_initial_state``), and the option ``batch_norm=True``
(Laurent et al. 2016) that normalises the input-to-hidden transformation,
BN(X W_x), over batch and time ("sequence-wise" statistics) with the fused
:func:`~rosenblatt.nn.batchnorm.batch_norm`, and drops its bias, whose role the
BN shift beta takes. Each layer's sequence runs as one fused op (``rnn``,
``lstm``, ``gru``); their shared array helpers are in
:mod:`rosenblatt.nn.sequence`.

Padded batches: ``lengths`` (one per sequence) holds each sequence's state
after its last real step, h_t = h_{t-1} (LSTM: and C_t = C_{t-1}), so the
final state is each sequence's own (PyTorch's packed sequences give the same
outputs, states and gradients on the real steps).
"""

import numpy as np

from ..autodiff.elementwise import where
from ..autodiff.shape import stack
from ..autodiff.tensor import Tensor
from ..checks import boolean, positive_float, positive_int, unit_interval
from ..randomness import resolve_rng
from . import init
from .batchnorm import batch_norm
from .dense import _input_array, dense
from .module import Module, no_state
from .parameter import Parameter
from .registry import expect_tensors
from .sequence import check_lengths


def batch_lengths(lengths, T, B, name):
    """``lengths`` checked as :func:`~rosenblatt.nn.sequence.check_lengths` does, or None when
    there is nothing to hold: no ``lengths``, or an empty batch (B = 0) given its 0 lengths
    (which have no minimum to check, and no value whose type could be wrong: ``[]``, whose
    NumPy dtype is float64, is as good as ``np.zeros(0, int)``)."""
    if lengths is None:
        return None
    if B == 0 and np.shape(lengths) == (0,):
        return None
    return check_lengths(lengths, T, B, name)


class RecurrentBase(Module):
    """What RNN, LSTM and GRU share: stacked layers, initial states, batch norm.

    Subclasses set ``gates`` (number of H-wide blocks of the projection),
    ``state_size`` (1 for h, 2 for LSTM's (h, c)) and implement ``_layer``
    (run one layer) and ``_init_gates``.
    """

    gates = 1
    state_size = 1
    # set by rb.distributed.DataParallel while it trains the model: the element-wise sum over
    # the ranks that synchronises the batch statistics of batch_norm=True (see batch_norm)
    sum_over_ranks = None

    @classmethod
    def state_shapes(cls, config):
        """Per layer l: ``W_x.l``, ``W_h.l``, ``b.l`` (and with batch norm ``gamma.l`` and the
        running statistics); ``initial_state.s`` (num_layers, hidden_size) if learned."""
        return cls._stack_shapes(config, cls.gates)

    @classmethod
    def _stack_shapes(cls, config, gates):
        name = cls.__name__
        n_in = positive_int(name, "input_size", config["input_size"])
        H = positive_int(name, "hidden_size", config["hidden_size"])
        n = positive_int(name, "num_layers", config["num_layers"])
        G = gates * H
        expect_tensors(name, 3 * n)
        shapes = {}
        for kind, shape in (("W_x", None), ("W_h", (H, G)), ("b", (G,))):
            for layer in range(n):
                shapes[f"{kind}.{layer}"] = shape or ((n_in if layer == 0 else H), G)
        if config["batch_norm"]:
            shapes.update({f"gamma.{layer}": (G,) for layer in range(n)})
        if config["learn_initial_state"]:
            shapes.update({f"initial_state.{s}": (n, H) for s in range(cls.state_size)})
        if config["batch_norm"]:
            for layer in range(n):
                shapes[f"running_mean_{layer}"] = shapes[f"running_var_{layer}"] = (G,)
        return shapes

    def __init__(self, input_size, hidden_size, num_layers=1, *, learn_initial_state=False,
                 batch_norm=False, bn_momentum=0.1, bn_eps=1e-5, rng=None, dtype=np.float32):
        name = type(self).__name__
        self.input_size = positive_int(name, "input_size", input_size)
        self.hidden_size = positive_int(name, "hidden_size", hidden_size)
        self.num_layers = positive_int(name, "num_layers", num_layers)
        self.learn_initial_state = boolean(name, "learn_initial_state", learn_initial_state)
        self.batch_norm = boolean(name, "batch_norm", batch_norm)
        # BatchNorm1d's checks: momentum > 1 drives the running variance negative (NaN in eval)
        self.bn_momentum = unit_interval(name, "bn_momentum", bn_momentum, closed_high=True)
        self.bn_eps = positive_float(name, "bn_eps", bn_eps)
        dtype = init._float_dtype(name, dtype)  # int weights would round to zero
        G = self.gates * self.hidden_size
        self.W_x, self.W_h, self.b = [], [], []
        self.gamma = [] if self.batch_norm else None
        for layer in range(self.num_layers):
            n_in = self.input_size if layer == 0 else self.hidden_size
            self.W_x.append(Parameter(np.zeros((n_in, G), dtype=dtype)))
            self.W_h.append(Parameter(np.zeros((self.hidden_size, G), dtype=dtype)))
            self.b.append(Parameter(np.zeros(G, dtype=dtype)))
            if self.batch_norm:
                self.gamma.append(Parameter(np.ones(G, dtype=dtype)))
        if self.batch_norm:
            names = []
            for layer in range(self.num_layers):
                setattr(self, f"running_mean_{layer}", np.zeros(G, dtype=dtype))
                setattr(self, f"running_var_{layer}", np.ones(G, dtype=dtype))
                names += [f"running_mean_{layer}", f"running_var_{layer}"]
            self.buffers = tuple(names)
        if self.learn_initial_state:
            self.initial_state = [Parameter(np.zeros((self.num_layers, self.hidden_size),
                                                     dtype=dtype))
                                  for _ in range(self.state_size)]
        self.reset_parameters(rng)

    @property
    def dtype(self):
        """The parameters' dtype (read from them, so it follows ``astype`` and ``rb.load``)."""
        return self.W_h[0].data.dtype

    def reset_parameters(self, rng=None):
        """Draw fresh weights: W_x Glorot-uniform per gate block, W_h orthogonal per block;
        biases and learned initial states start at 0 (the LSTM forget bias at forget_bias)."""
        rng = resolve_rng(rng)
        H = self.hidden_size
        for s in getattr(self, "initial_state", None) or ():
            s.data[...] = 0
        for layer in range(self.num_layers):
            n_in = self.W_x[layer].shape[0]
            bound = np.sqrt(6.0 / (n_in + H))
            self.W_x[layer].data[...] = rng.uniform(-bound, bound, (n_in, self.gates * H))
            for k in range(self.gates):
                self.W_h[layer].data[:, k * H:(k + 1) * H] = init.orthogonal(
                    (H, H), rng=rng, dtype=self.dtype)
            self.b[layer].data[...] = 0
            if self.batch_norm:
                self.gamma[layer].data[...] = 1
                getattr(self, f"running_mean_{layer}")[...] = 0
                getattr(self, f"running_var_{layer}")[...] = 1
            self._init_gates(layer)
        return self

    def _init_gates(self, layer):
        """Gate-specific bias initialisation (the LSTM forget gate)."""

    # -- running the stack ---------------------------------------------------------
    def _op_inputs(self, x, layer, lengths=None):
        """What the fused op of ``layer`` reads: (x, W_x, b), or with batch norm the
        normalised projection (BN(X W_x) + beta, None, None)."""
        proj = self._projection(x, layer, lengths)
        if proj is None:
            return x, self.W_x[layer], self.b[layer]
        return proj, None, None

    def _projection(self, x, layer, lengths=None):
        """BN(X W_x) + beta over batch and time (the real steps only, given ``lengths``),
        or None to let the fused op project.

        One fused :func:`batch_norm` over the (batch * time, G) rows of X W_x, with
        gamma, beta = ``self.gamma[layer]``, ``self.b[layer]`` and the layer's running
        statistics. With ``lengths`` in training, only the real steps' rows are
        normalised (their statistics are the batch's); each padded step then reads its
        sequence's last real row, a value the fused op ignores since it holds the state
        past a sequence's end.
        """
        if not self.batch_norm:
            return None
        B, T = x.shape[0], x.shape[1]
        if lengths is not None and not np.isfinite(x.data).all():
            # NaN or inf padding: zeroed, or X^T dNET would be 0 * NaN = NaN in dW_x
            real = np.arange(T)[None, :, None] < np.asarray(lengths)[:, None, None]
            x = where(real, x, 0)
        proj = dense(x, self.W_x[layer]).reshape(B * T, self.W_x[layer].shape[1])
        G = proj.shape[1]

        def normalise(rows):
            return batch_norm(rows, self.gamma[layer], self.b[layer],
                              getattr(self, f"running_mean_{layer}"),
                              getattr(self, f"running_var_{layer}"),
                              self.training, self.bn_momentum, self.bn_eps,
                              self.sum_over_ranks)

        if lengths is None or not self.training:
            # (over MPI the op itself checks the rows of every rank together)
            if self.training and B * T < 2 and self.sum_over_ranks is None:
                self._too_few_steps(B * T)
            return normalise(proj).reshape(B, T, G)
        lengths = check_lengths(lengths, T, B, type(self).__name__)
        real = (np.arange(T)[None, :] < lengths[:, None]).reshape(B * T)
        if lengths.sum() < 2 and self.sum_over_ranks is None:
            self._too_few_steps(int(lengths.sum()))
        normed = normalise(proj[real])
        last_real = np.cumsum(real) - 1  # row b*T + t -> its sequence's last real row <= t
        return normed[last_real].reshape(B, T, G)

    def _too_few_steps(self, n):
        raise ValueError(
            f"{type(self).__name__}: batch_norm=True needs more than one real time step in a "
            f"training batch to estimate a variance; got {n} (use eval() for one step)"
        )

    def _initial(self, state, batch):
        """Per layer, the tuple of initial state tensors (or Nones)."""
        name = type(self).__name__
        if state is None:
            if self.learn_initial_state:
                return [tuple(s[layer] for s in self.initial_state)
                        for layer in range(self.num_layers)]
            return [(None,) * self.state_size for _ in range(self.num_layers)]
        if self.state_size > 1 and isinstance(state, (Tensor, np.ndarray)):
            raise ValueError(f"{name}: state must be a tuple of {self.state_size} tensors "
                             f"(h, c), each (num_layers, batch, hidden); got one array of "
                             f"shape {tuple(state.shape)}")
        parts = (state,) if self.state_size == 1 else tuple(state)
        if len(parts) != self.state_size:
            raise ValueError(f"{name}: state must be a tuple of {self.state_size} tensors; "
                             f"got {len(parts)}")
        out = []
        for s in parts:
            s = s if isinstance(s, Tensor) else Tensor(s)
            if s.shape != (self.num_layers, batch, self.hidden_size):
                raise ValueError(
                    f"{name}: initial state must have shape (num_layers, batch, hidden) = "
                    f"({self.num_layers}, {batch}, {self.hidden_size}); got {s.shape}"
                )
            out.append(s)
        return [tuple(s[layer] for s in out) for layer in range(self.num_layers)]

    def forward(self, x, state=None, lengths=None):
        """Run the sequence; returns (outputs (batch, time, H), state).

        ``state`` is h of shape (num_layers, batch, hidden) (LSTM: the pair
        (h, c)); passing it continues a sequence (truncated BPTT).
        ``lengths`` (batch,) runs a padded batch: each sequence's state stops
        at its own last step (outputs past it repeat that state; mask them out
        of the loss), so the returned state is each sequence's final state.
        A tuple ``x``, another recurrent layer's ``(outputs, state)`` handed on
        without :class:`SequenceOutputs` in a Sequential, raises a TypeError that says so.
        """
        name = f"{type(self).__name__}({self.input_size}, {self.hidden_size})"
        if not isinstance(x, Tensor):  # float arrays keep their dtype, integers become float32
            x = Tensor(_input_array(x, name))  # a tuple: the previous layer's (outputs, state)
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(
                f"{name}: expected input of shape (batch, time, {self.input_size}); "
                f"got {tuple(x.shape)}"
            )
        if x.shape[1] == 0:
            raise ValueError(f"{name}: the sequence is empty (time = 0); got {tuple(x.shape)}")
        lengths = batch_lengths(lengths, x.shape[1], x.shape[0], name)
        inits = self._initial(state, x.shape[0])
        finals = []
        for layer in range(self.num_layers):
            x, last = self._layer(x, layer, inits[layer], lengths)
            finals.append(last)
        per_kind = list(zip(*finals))
        states = tuple(stack(list(ts), axis=0) for ts in per_kind)
        return x, (states[0] if self.state_size == 1 else states)

    def extra_repr(self):
        parts = [f"{self.input_size}, {self.hidden_size}"]
        if self.num_layers != 1:
            parts.append(f"num_layers={self.num_layers}")
        if self.batch_norm:
            parts.append("batch_norm=True")
        if self.learn_initial_state:
            parts.append("learn_initial_state=True")
        return ", ".join(parts)


class SequenceOutputs(Module):
    """Keep the outputs of a recurrent layer, dropping its state, so it fits in Sequential.

    A recurrent layer returns ``(outputs, state)``; this module returns
    ``outputs`` (batch, time, H), or with ``last=True`` the last step's output
    (batch, H) (for one label per sequence), so that
    ``Sequential(LSTM(...), SequenceOutputs(last=True), Dense(...))`` trains
    with ``rb.fit`` like any feed-forward model.

    After a :class:`~rosenblatt.nn.Bidirectional` layer, ``last=True`` takes the outputs at
    the last position: the forward direction's final state, but the backward direction's
    output after reading x_T alone (its final state, after x_T ... x_1, sits at the first
    position; PyTorch's ``h_n`` and Keras' ``return_sequences=False`` give the two final
    states). For one label per sequence from both directions, concatenate the state the
    Bidirectional layer returns, or read every position (``last=False``).

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> net = rb.nn.Sequential(rb.nn.GRU(3, 4, rng=0), rb.nn.SequenceOutputs(last=True),
    ...                        rb.nn.Dense(4, 2, rng=0))
    >>> net(np.ones((5, 7, 3), dtype=np.float32)).shape
    (5, 2)
    """

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def __init__(self, last=False):
        self.last = boolean("SequenceOutputs", "last", last)

    def forward(self, x):
        out = x[0] if isinstance(x, tuple) else x
        if isinstance(out, np.ndarray):  # outputs given as an array: as a constant Tensor
            out = Tensor(out)
        if not isinstance(out, Tensor) or out.ndim != 3:
            raise ValueError(
                f"SequenceOutputs: expected a recurrent layer's (outputs, state) or outputs of "
                f"shape (batch, time, H); got {getattr(out, 'shape', type(out).__name__)}"
            )
        return out[:, -1] if self.last else out

    def extra_repr(self):
        return "last=True" if self.last else ""
