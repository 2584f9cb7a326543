"""Simple (Elman) recurrent networks and what every recurrent layer shares
(notes: "Recurrent Neural Networks", "Training RNNs", batch-normalised RNNs).

The notes' recurrence, OUT_t = f(OUT_{t-1} W_r + X_t W_x), runs over a whole
sequence as ONE graph node (:func:`rnn`):

- the input projections of all time steps, X W_x + b, are one matrix product;
- the recurrence is a tight loop over time steps (not samples), writing into
  preallocated arrays;
- backpropagation through time is written by hand: dE/dOUT_{t-1} =
  (dE/dOUT_t * f'(NET_t)) W_r^T, and the weight gradients are summed over time
  steps exactly as the notes' equations, dE/dW_x = sum_t X_t^T dNET_t and
  dE/dW_r = sum_t OUT_{t-1}^T dNET_t, each computed after the loop as one big
  matrix product over all steps.

Being a loop rather than a chain of graph nodes, a 10,000-step sequence runs
forward and backward without any recursion.

Layout: sequences are ``(batch, time, features)``; internally the loop is
time-major so each step reads contiguous memory. Weights are stored
``W_x (input, G*H)``, ``W_h (H, G*H)``, ``b (G*H,)`` with G the number of gate
blocks (1 for RNN, 4 for LSTM, 3 for GRU): PyTorch's ``weight_ih_l0`` is
``W_x.T`` and its two biases sum to ``b``.

:class:`RecurrentBase` holds what RNN, LSTM and GRU share: stacked layers,
initial states (zeros, passed in, or learned with ``learn_initial_state``),
and the option ``batch_norm=True`` (Laurent et al. 2016) that normalises the
input-to-hidden transformation, BN(X W_x), over batch and time ("sequence-wise"
statistics) and drops its bias, whose role the BN shift beta takes.

Padded batches: ``lengths`` (one per sequence) freezes each sequence's state
after its last real step, h_t = h_{t-1} (LSTM: and C_t = C_{t-1}), so the
final state is each sequence's own (PyTorch's packed sequences give the same
outputs, states and gradients on the real steps).
"""

import numpy as np

from ..autodiff.elementwise import relu_array
from ..autodiff.shape import stack
from ..autodiff.tensor import Tensor, make, needs_grad, sum_to_shape
from ..randomness import resolve_rng
from . import workspace
from .dense import dense
from .module import Module
from .parameter import Parameter

# -- array helpers shared by the fused sequence ops ---------------------------------


def sigmoid_(a):
    """In-place logistic sigmoid, as 0.5 tanh(a/2) + 0.5 (never overflows)."""
    np.multiply(a, 0.5, out=a)
    np.tanh(a, out=a)
    np.multiply(a, 0.5, out=a)
    np.add(a, 0.5, out=a)
    return a


def time_major(xd):
    """(batch, time, f) -> contiguous (time, batch, f), in a recycled array (``workspace``)."""
    out = workspace.empty((xd.shape[1], xd.shape[0]) + xd.shape[2:], xd.dtype)
    np.copyto(out, xd.transpose(1, 0, 2))
    return out


def project_inputs(xd, W_x, b, scale=None):
    """X W_x + b for every time step in one matrix product; returns (time, batch, G)
    and the time-major input (kept for the backward).

    ``scale`` (G,), optional, multiplies the result column-wise (folded into
    the weights: free).
    """
    if W_x is None:  # the caller already projected (batch-normalised variant)
        a = time_major(xd)  # a copy: the loop writes into it
        if scale is not None:
            a *= scale
        return a, None
    xt = time_major(xd)
    T, B, n_in = xt.shape
    w = W_x.data if scale is None else W_x.data * scale
    a = workspace.empty((T, B, w.shape[1]), np.result_type(xt, w))
    np.matmul(xt.reshape(T * B, n_in), w, out=a.reshape(T * B, -1))
    if b is not None:
        a += b.data if scale is None else b.data * scale
    return a, xt


def input_grads(dA, xt, x, W_x, b):
    """The gradients of X W_x + b from dNET of all steps (time, batch, G), as one GEMM each."""
    T, B, G = dA.shape
    flat = dA.reshape(T * B, G)
    if W_x is None:
        return (dA.transpose(1, 0, 2) if needs_grad(x) else None), None, None
    gx = None
    if needs_grad(x):
        gx = (flat @ W_x.data.T).reshape(T, B, -1).transpose(1, 0, 2)
    gw = xt.reshape(T * B, -1).T @ flat if W_x.requires_grad else None
    gb = flat.sum(axis=0) if b is not None and b.requires_grad else None
    return gx, gw, gb


def hidden_weight_grad(W_h, hinit, Hs, dA):
    """dE/dW_h = sum_t h_{t-1}^T dA_t as one GEMM over all steps (None if W_h is frozen).

    ``hinit`` (batch, H) is h_0, ``Hs`` (time, batch, H) the outputs h_1 ... h_T
    and ``dA`` (time, batch, G) the gradients of the hidden-side pre-activations.
    """
    if not W_h.requires_grad:
        return None
    T, _, G = dA.shape
    H = hinit.shape[1]
    gwh = hinit.T @ dA[0]
    if T > 1:
        gwh += Hs[:-1].reshape(-1, H).T @ dA[1:].reshape(-1, G)
    return gwh


def initial_state(h0, batch, hidden, dtype, name):
    """The (batch, hidden) array of an initial state given as None, (hidden,) or (batch, hidden)."""
    if h0 is None:
        return np.zeros((batch, hidden), dtype=dtype)
    hd = h0.data if isinstance(h0, Tensor) else np.asarray(h0, dtype=dtype)
    if hd.shape not in ((hidden,), (batch, hidden)):
        raise ValueError(
            f"{name}: initial state must have shape ({batch}, {hidden}) or ({hidden},); "
            f"got {hd.shape}"
        )
    return np.broadcast_to(hd, (batch, hidden))


def state_grad(g, h0):
    """The gradient for an initial state tensor (summed over the batch if it was broadcast)."""
    if not needs_grad(h0):
        return None
    return sum_to_shape(g, h0.shape)


def check_sequence(xd, W_x, W_h, gates, name):
    """Shape checks of a fused sequence op: x (batch, time, in), W_x (in, G H), W_h (H, G H)."""
    if xd.ndim != 3:
        raise ValueError(
            f"{name}: input must be (batch, time, features); got shape {xd.shape}"
        )
    if xd.shape[1] == 0:
        raise ValueError(f"{name}: the sequence is empty (time = 0); got shape {xd.shape}")
    H = W_h.shape[0]
    if W_h.ndim != 2 or W_h.shape[1] != gates * H:
        raise ValueError(f"{name}: W_h must have shape (H, {gates} H); got {W_h.shape}")
    expected = W_h.shape[1] if W_x is None else W_x.shape[0]
    if xd.shape[2] != expected:
        what = "projected input" if W_x is None else "input"
        raise ValueError(
            f"{name}: {what} has {xd.shape[2]} features but the weights expect {expected} "
            f"(input shape {xd.shape})"
        )
    if W_x is not None and W_x.shape[1] != W_h.shape[1]:
        raise ValueError(f"{name}: W_x has {W_x.shape[1]} columns but W_h has {W_h.shape[1]}")


def length_mask(lengths, T, B, dtype, name):
    """(time, batch, 1) array: 1 while t < lengths[b], else 0; None when ``lengths`` is None.

    With lengths, a sequence's state is frozen after its last step: past the
    end, h_t = h_{t-1} (and C_t = C_{t-1}), so the final state is the state at
    each sequence's own last step and the padded outputs repeat it.
    """
    if lengths is None:
        return None
    lengths = np.asarray(lengths)
    if lengths.shape != (B,) or lengths.dtype.kind not in "iu":
        raise ValueError(f"{name}: lengths must be {B} integers (one per sequence); got "
                         f"{lengths.dtype} array of shape {lengths.shape}")
    if lengths.min() < 1 or lengths.max() > T:
        raise ValueError(f"{name}: lengths must be between 1 and the time steps ({T}); got "
                         f"{int(lengths.min())} to {int(lengths.max())}")
    return (np.arange(T)[:, None] < lengths[None, :]).astype(dtype)[:, :, None]


def freeze_(new, prev, m):
    """In place: new = prev + m (new - prev), i.e. keep ``prev`` where m = 0."""
    new -= prev
    new *= m
    new += prev


# -- the fused Elman RNN op -------------------------------------------------------------

_ACTIVATIONS = ("tanh", "relu")


def rnn(x, W_x, W_h, b=None, h0=None, nonlinearity="tanh", lengths=None):
    """A whole Elman-RNN sequence as one op: h_t = f(x_t W_x + b + h_{t-1} W_h).

    Parameters
    ----------
    x : Tensor, shape (batch, time, input_size)
        Or, with ``W_x=None``, the already projected inputs (batch, time, H).
    W_x : Tensor (input_size, H) or None
    W_h : Tensor (H, H)
    b : Tensor (H,), optional
    h0 : Tensor, shape (batch, H) or (H,), optional (zeros)
    nonlinearity : {"tanh", "relu"}
    lengths : array of int (batch,), optional
        Each sequence's length for padded batches (see :func:`length_mask`).

    Returns
    -------
    Tensor, shape (batch, time, H)
        Every h_t; the final state is ``outputs[:, -1]``.
    """
    if nonlinearity not in _ACTIVATIONS:
        raise ValueError(f"rnn: nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")
    xd = x.data if isinstance(x, Tensor) else np.asarray(x)
    check_sequence(xd, W_x, W_h, 1, "rnn")
    Wh = W_h.data
    H = Wh.shape[0]
    A, xt = project_inputs(xd, W_x, b)  # (T, B, H): NET_t, then OUT_t in place
    T, B, _ = A.shape
    hinit = initial_state(h0, B, H, A.dtype, "rnn")
    M = length_mask(lengths, T, B, A.dtype, "rnn")
    tmp = np.empty((B, H), dtype=A.dtype)
    h = hinit
    for t in range(T):
        a = A[t]
        np.matmul(h, Wh, out=tmp)
        a += tmp
        if nonlinearity == "tanh":
            np.tanh(a, out=a)
        else:
            relu_array(a, out=a)
        if M is not None:
            freeze_(a, h, M[t])
        h = a

    def backward(g):
        dA = np.empty_like(A)
        dH = g.transpose(1, 0, 2)
        dh = np.zeros((B, H), dtype=A.dtype)
        WhT = np.ascontiguousarray(Wh.T)
        for t in range(T - 1, -1, -1):
            dh += dH[t]
            d = dA[t]
            if M is not None:  # past a sequence's end the state passes straight through
                passed = dh * (1 - M[t])
                dh *= M[t]
            if nonlinearity == "tanh":  # tanh' = 1 - OUT^2
                np.multiply(A[t], A[t], out=d)
                np.subtract(1, d, out=d)
                d *= dh
            else:  # relu'(0) = 0
                np.multiply(dh, A[t] > 0, out=d)
            np.matmul(d, WhT, out=dh)
            if M is not None:
                dh += passed
        gx, gwx, gb = input_grads(dA, xt, x, W_x, b)
        gwh = hidden_weight_grad(W_h, hinit, A, dA)  # sum_t OUT_{t-1}^T dNET_t
        return gx, gwx, gwh, gb, state_grad(dh, h0)

    out = np.ascontiguousarray(A.transpose(1, 0, 2))
    return make(out, (x, W_x, W_h, b, h0), backward)


# -- modules ------------------------------------------------------------------------------


def orthogonal(shape, rng, dtype):
    """A (rows, cols) matrix with orthonormal rows or columns (Saxe et al. 2014)."""
    rows, cols = shape
    q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
    q *= np.sign(np.diag(r))
    return (q if rows >= cols else q.T).astype(dtype)


class RecurrentBase(Module):
    """What RNN, LSTM and GRU share: stacked layers, initial states, batch norm.

    Subclasses set ``gates`` (number of H-wide blocks of the projection),
    ``state_size`` (1 for h, 2 for LSTM's (h, c)) and implement ``_layer``
    (run one layer) and ``_init_gates``.
    """

    gates = 1
    state_size = 1

    def __init__(self, input_size, hidden_size, num_layers=1, *, learn_initial_state=False,
                 batch_norm=False, bn_momentum=0.1, bn_eps=1e-5, rng=None, dtype=np.float32):
        name = type(self).__name__
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size),
                           ("num_layers", num_layers)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"{name}: {arg} must be a positive integer; got {value!r}")
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.learn_initial_state = bool(learn_initial_state)
        self.batch_norm = bool(batch_norm)
        self.bn_momentum = float(bn_momentum)
        self.bn_eps = float(bn_eps)
        self.dtype = np.dtype(dtype)
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
                self.W_h[layer].data[:, k * H:(k + 1) * H] = orthogonal((H, H), rng, self.dtype)
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
        or None to let the fused op project."""
        if not self.batch_norm:
            return None
        proj = dense(x, self.W_x[layer])
        G = proj.shape[-1]
        mean_name, var_name = f"running_mean_{layer}", f"running_var_{layer}"
        if self.training:
            if lengths is None:
                n = proj.shape[0] * proj.shape[1]
                mu = proj.mean(axis=(0, 1), keepdims=True)
                centered = proj - mu
                var = (centered * centered).mean(axis=(0, 1), keepdims=True)
            else:  # statistics of the real steps; padded steps are normalised alike
                real = (np.arange(proj.shape[1])[None, :] < np.asarray(lengths)[:, None])
                real = real[:, :, None].astype(proj.dtype)
                n = int(real.sum())
                mu = (proj * real).sum(axis=(0, 1), keepdims=True) * (1.0 / n)
                centered = proj - mu
                var = (centered * centered * real).sum(axis=(0, 1), keepdims=True) * (1.0 / n)
            m = self.bn_momentum
            run_mean, run_var = getattr(self, mean_name), getattr(self, var_name)
            run_mean *= 1 - m
            run_mean += m * mu.data.reshape(G)
            run_var *= 1 - m
            run_var += m * var.data.reshape(G) * (n / max(n - 1, 1))
        else:
            centered = proj - getattr(self, mean_name)
            var = Tensor._wrap(getattr(self, var_name))
        xhat = centered / (var + self.bn_eps).sqrt()
        return xhat * self.gamma[layer] + self.b[layer]

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
        """
        if not isinstance(x, Tensor):
            x = Tensor(x)  # float arrays keep their dtype, integers become float32
        name = f"{type(self).__name__}({self.input_size}, {self.hidden_size})"
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(
                f"{name}: expected input of shape (batch, time, {self.input_size}); "
                f"got {tuple(x.shape)}"
            )
        if x.shape[1] == 0:
            raise ValueError(f"{name}: the sequence is empty (time = 0); got {tuple(x.shape)}")
        length_mask(lengths, x.shape[1], x.shape[0], x.dtype, name)  # checks lengths
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


class RNN(RecurrentBase):
    """A simple (Elman) recurrent layer: h_t = f(x_t W_x + h_{t-1} W_h + b).

    Parameters
    ----------
    input_size, hidden_size : int
    nonlinearity : {"tanh", "relu"}, default "tanh"
    num_layers : int, default 1
        Stacked layers; layer l > 0 reads the outputs of layer l - 1.
    learn_initial_state : bool, default False
        Learn h_0 (one vector per layer, shared by the batch) instead of zeros.
    batch_norm : bool, default False
        Normalise X W_x over batch and time (Laurent et al. 2016).
    rng : numpy.random.Generator, optional
    dtype : default float32

    Attributes
    ----------
    W_x, W_h, b : list of Parameter, one per layer
        Shapes (in, H), (H, H), (H,).

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> rnn = rb.nn.RNN(3, 5, rng=0)
    >>> out, h = rnn(np.ones((2, 7, 3), dtype=np.float32))
    >>> out.shape, h.shape
    ((2, 7, 5), (1, 2, 5))
    """

    def __init__(self, input_size, hidden_size, nonlinearity="tanh", num_layers=1, **kwargs):
        if nonlinearity not in _ACTIVATIONS:
            raise ValueError(
                f"RNN: nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}"
            )
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, **kwargs)

    def _layer(self, x, layer, init, lengths=None):
        inputs, W_x, b = self._op_inputs(x, layer, lengths)
        out = rnn(inputs, W_x, self.W_h[layer], b, init[0], self.nonlinearity, lengths)
        return out, (out[:, -1],)

    def extra_repr(self):
        extra = super().extra_repr()
        return extra + (", nonlinearity='relu'" if self.nonlinearity != "tanh" else "")


class SequenceOutputs(Module):
    """Keep the outputs of a recurrent layer, dropping its state, so it fits in Sequential.

    A recurrent layer returns ``(outputs, state)``; this module returns
    ``outputs`` (batch, time, H), or with ``last=True`` the last step's output
    (batch, H) (for one label per sequence), so that
    ``Sequential(LSTM(...), SequenceOutputs(last=True), Dense(...))`` trains
    with ``rb.fit`` like any feed-forward model.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> net = rb.nn.Sequential(rb.nn.GRU(3, 4, rng=0), rb.nn.SequenceOutputs(last=True),
    ...                        rb.nn.Dense(4, 2, rng=0))
    >>> net(np.ones((5, 7, 3), dtype=np.float32)).shape
    (5, 2)
    """

    def __init__(self, last=False):
        self.last = bool(last)

    def forward(self, x):
        out = x[0] if isinstance(x, tuple) else x
        if not isinstance(out, Tensor) or out.ndim != 3:
            raise ValueError(
                f"SequenceOutputs: expected a recurrent layer's (outputs, state) or outputs of "
                f"shape (batch, time, H); got {getattr(out, 'shape', type(out).__name__)}"
            )
        return out[:, -1] if self.last else out

    def extra_repr(self):
        return "last=True" if self.last else ""
