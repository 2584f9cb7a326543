"""Simple (Elman) recurrent networks (notes: "Recurrent Neural Networks", "Training RNNs").

The notes' recurrence, OUT_t = f(OUT_{t-1} W_r + X_t W_x), runs over a whole
sequence as ONE graph node (:func:`rnn`; the shared machinery of the fused
sequence ops is in :mod:`rosenblatt.nn.sequence`). Backpropagation through time
is written by hand: dE/dOUT_{t-1} = (dE/dOUT_t * f'(NET_t)) W_r^T, and the
weight gradients are summed over time steps exactly as the notes' equations,
dE/dW_x = sum_t X_t^T dNET_t and dE/dW_r = sum_t OUT_{t-1}^T dNET_t, each one
matrix product over all steps after the loop.

Being a loop rather than a chain of graph nodes, a 10,000-step sequence runs
forward and backward without any recursion.

PyTorch's ``weight_ih_l0`` is ``W_x.T``, ``weight_hh_l0`` is ``W_h.T`` and its
two biases sum to ``b``.
"""

import numpy as np

from ..autodiff.elementwise import _BITS, keep_where, relu_array
from ..autodiff.tensor import _make as make
from ..checks import one_of
from ._operands import as_tensor, optional_tensor
from .recurrent import RecurrentBase, batch_lengths
from .sequence import (
    check_sequence,
    clear_padding,
    hidden_weight_grad,
    hold_finished,
    initial_state,
    input_grads,
    length_mask,
    project_inputs,
    state_grad,
)

_ACTIVATIONS = ("tanh", "relu")


def rnn(x, W_x, W_h, b=None, h0=None, nonlinearity="tanh", lengths=None):
    """A whole Elman-RNN sequence as one op: h_t = f(x_t W_x + b + h_{t-1} W_h).

    Parameters
    ----------
    x : Tensor or array_like, shape (batch, time, input_size)
        Or, with ``W_x=None``, the already projected inputs x W_x (batch, time, H);
        ``b`` is still added.
    W_x : Tensor or array_like (input_size, H), or None
    W_h : Tensor or array_like (H, H)
    b : Tensor or array_like (H,), optional
    h0 : Tensor, shape (batch, H) or (H,), optional (zeros)
    nonlinearity : {"tanh", "relu"}
    lengths : array of int (batch,), optional
        Each sequence's length for padded batches: past it, h is held
        (see :func:`~rosenblatt.nn.sequence.length_mask`).

    Returns
    -------
    Tensor, shape (batch, time, H)
        Every h_t; the final state is ``outputs[:, -1]``.
    """
    one_of("rnn", "nonlinearity", nonlinearity, _ACTIVATIONS)
    x = as_tensor(x, "rnn", "x")
    W_x, W_h = optional_tensor(W_x, "rnn", "W_x", x), as_tensor(W_h, "rnn", "W_h", x)
    b = optional_tensor(b, "rnn", "b", x)
    xd = x.data
    check_sequence(xd, W_x, W_h, 1, "rnn", b)
    lengths = batch_lengths(lengths, xd.shape[1], xd.shape[0], "rnn")
    if lengths is not None:  # NaN or inf padding is never read, not even as 0 * NaN
        xd = clear_padding(xd, lengths)
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
            hold_finished(a, h, M[t])
        h = a

    def backward(g):
        dA = np.empty_like(A)
        dH = g.transpose(1, 0, 2)
        dh = np.zeros((B, H), dtype=A.dtype)
        WhT = np.ascontiguousarray(Wh.T)
        # The derivatives that are 1 or 0 (relu', and the hold past a sequence's end) are
        # selects, not products: an inf or NaN dh gives +0 where the derivative is 0
        # (dh * 0 would be NaN, then NaN in every weight gradient; PyTorch's
        # threshold_backward selects, and its packed sequences never touch the padding).
        # keep_where's bit trick (the floats' bits as integers times a bool mask), inlined
        # on views made once: no slower than the products it replaces.
        bits = _BITS.get(A.dtype.itemsize)  # None: no integer of the size (a long double)
        if bits is not None:
            dh_bits, dA_bits = dh.view(bits), dA.view(bits)
        if M is not None:
            running = M != 0
            ended, passed = ~running, np.empty_like(dh)
            if bits is not None:  # integer 0/1 masks: a same-type product, the fastest
                running, ended = running.astype(bits), ended.astype(bits)
                passed_bits = passed.view(bits)
        for t in range(T - 1, -1, -1):
            dh += dH[t]
            d = dA[t]
            if M is not None:  # past a sequence's end the state passes straight through
                if bits is None:
                    keep_where(ended[t], dh, out=passed)
                    keep_where(running[t], dh, out=dh)
                else:
                    np.multiply(dh_bits, ended[t], out=passed_bits)
                    np.multiply(dh_bits, running[t], out=dh_bits)
            if nonlinearity == "tanh":  # tanh' = 1 - OUT^2
                np.multiply(A[t], A[t], out=d)
                np.subtract(1, d, out=d)
                d *= dh
            elif bits is None:  # relu'(0) = 0, read from OUT (>= 0 or NaN) as ReLU's op does
                keep_where(A[t] != 0, dh, out=d)
            else:
                np.multiply(dh_bits, A[t] != 0, out=dA_bits[t])
            np.matmul(d, WhT, out=dh)
            if M is not None:
                dh += passed
        gx, gwx, gb = input_grads(dA, xt, x, W_x, b)
        gwh = hidden_weight_grad(W_h, hinit, A, dA)  # sum_t OUT_{t-1}^T dNET_t
        return gx, gwx, gwh, gb, state_grad(dh, h0)

    out = np.ascontiguousarray(A.transpose(1, 0, 2))
    return make(out, (x, W_x, W_h, b, h0), backward)


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

    @classmethod
    def state_shapes(cls, config):
        """As :meth:`RecurrentBase.state_shapes` (one gate)."""
        one_of("RNN", "nonlinearity", config["nonlinearity"], _ACTIVATIONS)
        return cls._stack_shapes(config, cls.gates)

    def __init__(self, input_size, hidden_size, nonlinearity="tanh", num_layers=1, **kwargs):
        self.nonlinearity = one_of("RNN", "nonlinearity", nonlinearity, _ACTIVATIONS)
        super().__init__(input_size, hidden_size, num_layers, **kwargs)

    def _layer(self, x, layer, init, lengths=None):
        inputs, W_x, b = self._op_inputs(x, layer, lengths)
        out = rnn(inputs, W_x, self.W_h[layer], b, init[0], self.nonlinearity, lengths)
        return out, (out[:, -1],)

    def extra_repr(self):
        extra = super().extra_repr()
        return extra + (", nonlinearity='relu'" if self.nonlinearity != "tanh" else "")
