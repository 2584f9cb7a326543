"""A population of recurrent controllers with evolved flat weights (notes: "Neuroevolution").

Pole balancing without velocities is non-Markovian: the controller must keep
a memory of past observations. :class:`RecurrentPopulationModel` runs ``P``
copies of a network ``Sequential(RNN(k, H), <Dense and parameter-free
layers>)``, one per row of ``thetas`` (its ParameterVector layout, as for
:class:`~rosenblatt.evolution.PopulationModel`), one time step at a time for
the environments' population protocol:

.. math::

    h_t = f(x_t W_x + h_{t-1} W_h + b),\\qquad y_t = g(h_t)

with ``f`` the RNN's tanh (or relu) and ``g`` the layers after it, each a
batched matrix product over the population.

**Fully recurrent networks** (``outputs=k``, the model a lone ``RNN(k_in, N)``):
the networks Gomez & Miikkulainen's ESP and Gomez, Schmidhuber & Miikkulainen's
CoSyNE evolve for the non-Markov pole tasks, in which *every* neuron, the
output neurons included, feeds its last activation back to every neuron
(``W_h`` is ``N x N``) and the outputs are the first ``k`` neurons. With tanh
units the outputs are read as ``(h + 1) / 2`` in ``[0, 1]``: since
``(tanh(a) + 1) / 2 = sigmoid(2a)`` this is a network of sigmoid neurons up to a
rescaling of its weights.
"""

import numpy as np

from ..checks import boolean, positive_int
from ..nn.module import Sequential
from ..nn.recurrent import SequenceOutputs
from ..nn.rnn import RNN
from .cne import parameter_layout, population_forward

__all__ = ["RecurrentPopulationModel"]

_tanh = np.tanh  # the units' tanh (tests swap in libm's, the compiled kernel's)


def _dot(v, W):
    """Row ``p`` of ``v`` (P, k) times ``W[p]`` (k, N), summed over ``k`` in index order.

    (The compiled pole kernel's order, so both paths round alike; a batched
    matmul may sum in another order or fuse multiply-adds.)
    """
    out = v[:, 0, None] * W[:, 0]
    for i in range(1, v.shape[1]):
        out += v[:, i, None] * W[:, i]
    return out


class RecurrentPopulationModel:
    """``P`` Elman-recurrent controllers (``model`` with weights ``thetas``), stepped together.

    Parameters
    ----------
    model : Sequential
        ``RNN(k, H)`` (one layer, no batch norm, zero initial state) followed by
        Dense and parameter-free layers; or, with ``outputs``, a lone RNN
        (``RNN`` or ``Sequential(RNN)``) whose first ``outputs`` units are the
        outputs (a fully recurrent network, see the module docstring). A
        :class:`~rosenblatt.nn.SequenceOutputs` right after the RNN (which
        ``rb.nn`` needs to run the model on sequences) is skipped: stepped one
        time step at a time, the RNN's output already is the step's ``(P, H)``,
        with ``last=True`` or not.
    thetas : array (P, model.num_parameters())
    outputs : int, optional
        Read the first ``outputs`` hidden units as the outputs (fully recurrent
        network): ``(h + 1) / 2`` for tanh, ``h`` for relu.
    fast : bool, default False
        With ``outputs``, let :meth:`CartPole.evaluate
        <rosenblatt.evolution.envs.CartPole.evaluate>` run whole trials in one
        compiled call (``rosenblatt[fast]``, the kernels on; see
        :meth:`compiled_weights`): 20-80 times faster (more for fewer
        controllers, as in long test trials). Opt-in like the
        other neuroevolution kernels: libm's ``tanh`` differs from NumPy's in
        last bits, and these controllers can amplify that into other trials.

    Follows the population protocol of :mod:`rosenblatt.evolution.envs`:
    ``size``, ``reset``, ``step(obs (P, k)) -> (P, out)``, ``keep(mask)``,
    ``take(index)``.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> from rosenblatt.evolution.recurrent import RecurrentPopulationModel
    >>> net = rb.nn.Sequential(rb.nn.RNN(2, 3), rb.nn.Dense(3, 1), rb.nn.Sigmoid())
    >>> pop = RecurrentPopulationModel(net, np.zeros((4, net.num_parameters())))
    >>> pop.step(np.ones((4, 2))).shape
    (4, 1)
    """

    def __init__(self, model, thetas, outputs=None, fast=False):
        layers = list(model) if isinstance(model, Sequential) else (
            [model] if isinstance(model, RNN) else [])
        if not layers or not isinstance(layers[0], RNN):
            raise TypeError(f"RecurrentPopulationModel: model must be a Sequential starting with "
                            f"an RNN layer; got {type(model).__name__}")
        rnn = layers[0]
        tail = layers[1:]
        while tail and isinstance(tail[0], SequenceOutputs):
            tail = tail[1:]
        if rnn.num_layers != 1 or rnn.batch_norm or rnn.learn_initial_state:
            raise ValueError("RecurrentPopulationModel: the RNN must have one layer, no batch "
                             "norm and no learned initial state")
        layout, size = parameter_layout(model)
        self.thetas = np.asarray(thetas)
        if self.thetas.ndim != 2 or self.thetas.shape[1] != size:
            raise ValueError(f"RecurrentPopulationModel: thetas must have shape (P, {size}); "
                             f"got {self.thetas.shape}")
        if outputs is not None:
            outputs = positive_int("RecurrentPopulationModel", "outputs", outputs)
            if tail or outputs > rnn.hidden_size:
                raise ValueError(f"RecurrentPopulationModel: outputs= reads the units of a lone "
                                 f"RNN (at most its {rnn.hidden_size} units); got {outputs} "
                                 f"units of a model of {len(layers)} layers")
        self.outputs = outputs
        self.fast = boolean("RecurrentPopulationModel", "fast", fast)
        self.model = model
        self.size = self.thetas.shape[0]
        self._rnn = rnn
        self._tail = Sequential(*tail)
        self._tail_start = layout[id(rnn.b[0])][0].stop
        self.reset()

    def _weights(self):
        layout, _ = parameter_layout(self.model)
        rnn, P = self._rnn, self.size
        sx, shx = layout[id(rnn.W_x[0])]
        sh, shh = layout[id(rnn.W_h[0])]
        sb, _ = layout[id(rnn.b[0])]
        return (self.thetas[:, sx].reshape((P,) + shx), self.thetas[:, sh].reshape((P,) + shh),
                self.thetas[:, sb])

    @property
    def n_inputs(self):
        """The width of one observation (the RNN's ``input_size``)."""
        return self._rnn.input_size

    def reset(self, population=None):
        """Zero every controller's hidden state."""
        self.W_x, self.W_h, self.b = self._weights()
        self.h = np.zeros((self.size, self._rnn.hidden_size), dtype=np.float64)

    def step(self, obs):
        """One decision of every controller: ``obs`` (P, input_size) -> outputs (P, out).

        Raises
        ------
        ValueError
            If ``obs`` is not of shape ``(size, input_size)`` (one observation
            per controller, as wide as the RNN's input).
        """
        obs = np.asarray(obs, dtype=np.float64)
        if obs.shape != (self.size, self.W_x.shape[1]):
            # a narrower obs would silently read only the first rows of W_x
            raise ValueError(f"RecurrentPopulationModel: obs must have shape ({self.size}, "
                             f"{self.W_x.shape[1]}) (population, RNN input_size); got "
                             f"{obs.shape}")
        a = (_dot(obs, self.W_x) + _dot(self.h, self.W_h)) + self.b
        tanh = self._rnn.nonlinearity == "tanh"
        self.h = _tanh(a) if tanh else np.maximum(a, 0.0)
        if self.outputs is not None:
            out = self.h[:, :self.outputs]
            return 0.5 * (out + 1.0) if tanh else out
        tail = self.thetas[:, self._tail_start:]
        if not list(self._tail.parameters()) and len(list(self._tail)) == 0:
            return self.h
        return population_forward(self._tail, tail, self.h[:, None, :])[:, 0]

    def compiled_weights(self):
        """``(W_x, W_h, b, relu)`` for the compiled pole-balancing trials (float64,
        contiguous), or None when this population runs on NumPy: not a fully
        recurrent network (``outputs`` unset), ``fast`` not set, or the kernels off
        (Numba absent, ``ROSENBLATT_NO_NUMBA=1``).
        """
        if self.outputs is None or not self.fast:
            return None
        from . import _kernels

        if _kernels.get("neat_forward") is None:
            return None
        W_x, W_h, b = self._weights()
        as64 = [np.ascontiguousarray(w, dtype=np.float64) for w in (W_x, W_h, b)]
        return (*as64, self._rnn.nonlinearity != "tanh")

    def keep(self, mask):
        """Drop the controllers (and their states) where ``mask`` is False."""
        mask = np.asarray(mask, dtype=bool)
        self.thetas, self.h = self.thetas[mask], self.h[mask]
        self.W_x, self.W_h, self.b = self.W_x[mask], self.W_h[mask], self.b[mask]
        self.size = self.thetas.shape[0]

    def take(self, index):
        return RecurrentPopulationModel(self.model, self.thetas[np.asarray(index)], self.outputs,
                                        self.fast)
