"""Connections that break and form during training (notes: "Other neural networks", "Nonlinear
neural nets").

:class:`Rewire` is a callback of ``rb.fit`` for networks with
``rb.nn.SparseDense`` layers. Every so often it breaks the weakest live
connections of each layer (the smallest ``|w|``) and forms as many new ones,
so that the number of live connections stays constant:

- ``method="set"``: at random among the missing connections (sparse
  evolutionary training, Mocanu et al. 2018), with fresh initial weights;
- ``method="rigl"``: where the gradient of the missing connections is
  largest (RigL, Evci et al. 2020), starting at zero weight.

A connection broken in a step is never formed again in that same step (new
connections are drawn from those that were missing before it), and the
optimizer's state (momentum, squared-gradient averages ...) of every broken
and every new connection is reset, so that a new connection starts afresh.
"""

import numpy as np

from ..checks import boolean
from ..nn import init as initializers
from ..nn.sparse_dense import SparseDense
from ..randomness import resolve_rng
from .callbacks import Callback

# state that does not start at 0: Rprop's step sizes, the gains, Adagrad's accumulator; a str
# names the optimizer's attribute holding the start value
_RESET = {"step_size": "lr", "gains": 1.0, "sum_sq": "initial_accumulator_value"}
# initializers whose values depend on the whole matrix (they refuse a 1-D shape)
_MATRIX_INITIALIZERS = ("orthogonal", "sparse")


class Rewire(Callback):
    """Break the weakest fraction of live connections and form as many new ones.

    Parameters
    ----------
    method : {"set", "rigl"}, default "set"
    fraction : float in (0, 1), default 0.3
        The fraction of each layer's live connections replaced at each rewiring.
    every : int, optional
        Rewire every ``every`` optimizer steps (counted over the whole run: a
        run resumed from a checkpoint goes on counting, and rewires where the
        uninterrupted one would); None (default): at the end of every epoch
        (as SET does).
    layers : SparseDense or list of SparseDense, optional
        Default: every trainable ``SparseDense`` in the model (a frozen one,
        such as a transferred body, does not change), each once (a layer
        applied twice shares its weights: it is one layer). An empty list is
        refused; a frozen layer, or one that is not a module of the model being
        trained, is refused when training starts.
    keep_masks : bool, default False
        Keep a copy of every layer's mask after each rewiring (``masks``).
    rng : numpy.random.Generator or int, optional
        Where SET forms connections and draws their weights.

    Attributes
    ----------
    log : list of dict
        One entry per layer and rewiring: ``step`` (optimizer steps of the
        run so far), ``epoch``, ``layer`` (index), ``broken`` and ``grown``
        (flat indices), ``live``. Like ``masks``, it is not in the checkpoint
        (the index arrays of every rewiring would grow it without bound): a run
        resumed from a checkpoint logs from the resume point on, without the
        rewirings before the interruption (the weights and masks are those of
        the uninterrupted run all the same).
    masks : list of (step, list of ndarray)
        With ``keep_masks``: the masks as training starts (step 0, or the
        resume point's step when resumed from a checkpoint) and after each
        rewiring.

    Raises
    ------
    ValueError
        For a method other than "set"/"rigl", a fraction outside (0, 1) (1
        would remove every connection), ``every`` not a positive integer, or
        a layer so small that the fraction rounds to all its connections, an
        empty ``layers``; when training starts, a frozen layer in ``layers``, a
        layer not in the model, or a model without a trainable ``SparseDense``.
    TypeError
        For ``layers`` that are not ``SparseDense`` layers.

    Notes
    -----
    Per layer with live set :math:`S` and :math:`k = \\mathrm{round}(f |S|)`:
    break :math:`\\arg\\mathrm{bottom}_k\\, |w_{ij}|` over :math:`S`; form
    :math:`k` connections among those missing before the step, at random
    (SET) or :math:`\\arg\\mathrm{top}_k\\, |\\partial E / \\partial w_{ij}|`
    (RigL, the gradient of the full dense layer on the last mini-batch).
    When fewer than :math:`k` connections are missing, :math:`k` is lowered
    to that number.

    References
    ----------
    Mocanu et al., "Scalable training of artificial neural networks with adaptive sparse
    connectivity inspired by network science", Nature Communications 2018.
    Evci et al., "Rigging the lottery: making all tickets winners", ICML 2020.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> net = rb.nn.Sequential(rb.nn.SparseDense(4, 8, density=0.5, rng=0), rb.nn.Tanh(),
    ...                        rb.nn.Dense(8, 2, rng=0))
    >>> X, y = np.random.default_rng(0).normal(size=(32, 4)), np.arange(32) % 2
    >>> rewire = rb.callbacks.Rewire("set", fraction=0.25, every=2, rng=0)
    >>> _ = rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(),
    ...            lr=0.1), epochs=1, batch_size=8, callbacks=[rewire], progress=False)
    >>> len(rewire.log), net[0].live_connections
    (2, 16)
    """

    def __init__(self, method="set", fraction=0.3, every=None, layers=None, keep_masks=False,
                 rng=None):
        if method not in ("set", "rigl"):
            raise ValueError(f"Rewire: method must be 'set' or 'rigl'; got {method!r}")
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)) \
                or not 0.0 < float(fraction) < 1.0:
            raise ValueError(f"Rewire: fraction must be in (0, 1) (a fraction of 1 would remove "
                             f"every connection); got {fraction!r}")
        if every is not None and (isinstance(every, bool)
                                  or not isinstance(every, (int, np.integer)) or every < 1):
            raise ValueError(f"Rewire: every must be a positive integer (optimizer steps) or None "
                             f"(each epoch); got {every!r}")
        if isinstance(layers, SparseDense):
            layers = [layers]
        elif layers is not None:
            if not isinstance(layers, (list, tuple)) or not all(
                    isinstance(layer, SparseDense) for layer in layers):
                got = [type(layer).__name__ for layer in layers] \
                    if isinstance(layers, (list, tuple)) else type(layers).__name__
                raise TypeError(f"Rewire: layers must be rb.nn.SparseDense layers (one, or a "
                                f"list of them), or None for every one in the model; got {got}")
            if not layers:
                raise ValueError("Rewire: layers is empty (nothing would ever be rewired); pass "
                                 "SparseDense layers, or None for every one in the model")
            # a layer applied twice (shared weights) is one layer: rewired once per rewiring
            layers = list({id(layer): layer for layer in layers}.values())
        self.method, self.fraction = method, float(fraction)
        self.every = None if every is None else int(every)
        self.layers, self.rng = layers, rng
        self.keep_masks = boolean("Rewire", "keep_masks", keep_masks)
        self.log, self.masks = [], []
        self._layers = []
        self._rng = None
        self._pending = None  # a state from load_state_dict, applied when training starts
        self._start = self._steps = 0  # optimizer steps before this fit call / in the run

    # -- hooks ------------------------------------------------------------------------
    def on_train_begin(self, trainer):
        layers = self.layers
        if layers is None:
            # (each once: a layer applied twice is listed once by modules(), as in PyTorch;
            # de-duplicated here as well, the rewiring must never see it twice)
            found = list({id(m): m for m in trainer.model.modules()
                          if isinstance(m, SparseDense)}.values())
            if not found:
                raise ValueError("Rewire: the model has no SparseDense layer to rewire")
            layers = [m for m in found if m.W.requires_grad]  # a frozen body does not change
            if not layers:
                raise ValueError(f"Rewire: the model has no trainable SparseDense layer to "
                                 f"rewire (its {len(found)} are frozen, and a frozen layer "
                                 f"does not change); unfreeze one or leave out Rewire")
        else:
            inside = {id(m) for m in trainer.model.modules()}
            for layer in layers:
                if id(layer) not in inside:
                    raise ValueError(f"Rewire: {layer!r} in layers is not a layer of the model "
                                     f"being trained ({type(trainer.model).__name__}): its "
                                     f"connections would change while it never trains; pass "
                                     f"the model's own SparseDense layers, or None for all")
        for layer in layers:
            if not layer.W.requires_grad:
                raise ValueError(f"Rewire: {layer!r} in layers is frozen (requires_grad=False): "
                                 f"it must not change, and connections formed in it could "
                                 f"never learn; unfreeze it or leave it out of layers")
        self._layers = list(layers)
        self._rng = resolve_rng(self.rng)
        self._start = 0
        if self._pending is not None:  # resuming from a checkpoint: the same draws follow
            self._rng.bit_generator.state = self._pending["rng"]
            self._start = self._pending.get("steps", 0)
            self._pending = None
        self._steps = self._start
        for layer in self._layers:
            k = int(round(self.fraction * layer.live_connections))
            if k >= layer.live_connections:
                raise ValueError(f"Rewire: fraction {self.fraction} of the "
                                 f"{layer.live_connections} connections of {layer!r} would "
                                 f"remove every connection")
        if self.keep_masks and not self.masks:
            # the masks as training starts: at step 0, or at the resume point
            self.masks.append((self._start, [layer.mask.copy() for layer in self._layers]))
        self._arm(self.every is None or (self._start + 1) % self.every == 0)

    def on_epoch_begin(self, trainer, epoch):
        if self.every is None:
            self._arm(True)  # the epoch's last batch is not known yet: collect from the start

    def on_batch_end(self, trainer, batch, logs):
        steps = self._start + trainer.steps  # the run's steps (trainer's: this call's)
        if steps == self._steps:  # a batch that took no step (every label ignored): the
            return  # weights, the dense gradient and the count are those already handled
        self._steps = steps
        if self.every is not None:
            if self._steps % self.every == 0:
                self.rewire(trainer.optimizer, self._steps, trainer.epoch)
            self._arm((self._steps + 1) % self.every == 0)
        elif self.method == "rigl":
            for layer in self._layers:  # only the last batch's gradient is needed
                if layer.dense_grad:
                    del layer.dense_grad[:-1]

    def on_epoch_end(self, trainer, epoch, logs):
        if self.every is None:
            self.rewire(trainer.optimizer, self._start + trainer.steps, epoch)
            self._arm(True)
        logs["live_connections"] = float(sum(layer.live_connections for layer in self._layers))

    def on_train_end(self, trainer):
        for layer in self._layers:
            layer.dense_grad = None

    def on_train_abort(self, trainer):
        """``fit`` stopped on an exception: stop collecting dense gradients all the same (an
        armed layer would keep a copy of x^T g from every later backward)."""
        self.on_train_end(trainer)

    def state_dict(self):
        """Plain values for a checkpoint: the state of the generator SET draws from and the
        optimizer steps of the run so far (where ``every`` counts from)."""
        return {"rng": None if self._rng is None else self._rng.bit_generator.state,
                "steps": int(self._steps)}

    def load_state_dict(self, state):
        """Continue from :meth:`state_dict` (applied when training starts; a state without
        ``steps``, from an older checkpoint, counts from 0)."""
        if isinstance(state, dict) and isinstance(state.get("rng"), dict):
            steps = state.get("steps", 0)
            if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
                raise ValueError(f"Rewire: a saved state's steps must be a non-negative "
                                 f"integer; got {steps!r:.40}")
            self._pending = {"rng": state["rng"], "steps": int(steps)}

    def _arm(self, on):
        if self.method == "rigl":
            for layer in self._layers:
                layer.dense_grad = [] if on else None

    # -- the rewiring -----------------------------------------------------------------
    def rewire(self, optimizer, step=0, epoch=0):
        """Rewire every layer now; returns the number of connections replaced."""
        total = 0
        for index, layer in enumerate(self._layers):
            broken, grown = self._rewire_layer(layer, optimizer)
            total += len(grown)
            self.log.append({"step": int(step), "epoch": int(epoch), "layer": index,
                             "broken": broken, "grown": grown, "live": layer.live_connections})
        if self.keep_masks:
            self.masks.append((int(step), [layer.mask.copy() for layer in self._layers]))
        return total

    def _rewire_layer(self, layer, optimizer):
        if layer.mask.dtype != bool or not layer.mask.flags.c_contiguous:
            # a user-set mask (m.T, Fortran order, ints): reshape would copy it, and the
            # rewiring below would edit the copy
            layer.mask = np.ascontiguousarray(layer.mask, dtype=bool)
        mask = layer.mask.reshape(-1)
        W = layer.W.data.reshape(-1)
        if not np.shares_memory(W, layer.W.data):  # an optimizer packs parameters contiguous
            raise RuntimeError(f"Rewire: the weights of {layer!r} are not C-contiguous, so "
                               f"they cannot be rewired in place")
        live, dead = np.flatnonzero(mask), np.flatnonzero(~mask)
        k = min(int(round(self.fraction * len(live))), len(dead))
        if k >= len(live):
            raise ValueError(f"Rewire: fraction {self.fraction} of the {len(live)} connections "
                             f"of {layer!r} would remove every connection")
        if k == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        broken = live[np.argpartition(np.abs(W[live]), k - 1)[:k]]
        if self.method == "set":
            grown = self._rng.choice(dead, size=k, replace=False)
        else:
            if not layer.dense_grad:
                raise RuntimeError("Rewire(rigl): no dense gradient was collected for "
                                   f"{layer!r}; rewire from rb.fit's callbacks")
            g = np.abs(layer.dense_grad[-1].reshape(-1)[dead])
            grown = dead[np.argpartition(-g, k - 1)[:k]]
            layer.dense_grad.clear()
        mask[broken] = False
        mask[grown] = True
        W[broken] = 0
        if self.method == "set":
            W[grown] = self._fresh_weights(layer, grown, W.dtype)
        else:
            W[grown] = 0
        _reset_state(optimizer, layer.W, np.concatenate((broken, grown)))
        return np.sort(broken), np.sort(grown)

    def _fresh_weights(self, layer, grown, dtype):
        """Initial weights for the connections at flat indices ``grown``, from ``layer.init``.

        An element-wise initializer (every name but "orthogonal" and "sparse") draws just
        ``len(grown)`` values. A matrix initializer (those two, or a callable, which may
        expect the layer's 2-D shape) draws a whole fresh (in, out) matrix, of which the
        new connections take their entries: what a fresh layer would hold there. That
        costs O(in x out), as the masked dense gradient does, once per rewiring.
        """
        fan_in = max(1, int(round(layer.density * layer.in_features)))
        fan_out = max(1, int(round(layer.density * layer.out_features)))
        init = initializers.get(layer.init, "Rewire")
        if isinstance(layer.init, str) and layer.init not in _MATRIX_INITIALIZERS:
            return init((len(grown),), fan_in=fan_in, fan_out=fan_out, rng=self._rng,
                        dtype=dtype)
        fresh = init(layer.mask.shape, fan_in=fan_in, fan_out=fan_out, rng=self._rng,
                     dtype=dtype)
        return np.asarray(fresh).reshape(-1)[grown]


def _reset_state(optimizer, param, flat_index):
    """Reset the optimizer's per-weight state of ``param`` at ``flat_index`` to its start value."""
    vec = getattr(optimizer, "vec", None)
    if vec is None:
        return
    for p, sl in zip(vec.params, vec.slices):
        if p is param:
            where = sl.start + flat_index
            for name in getattr(optimizer, "state_names", ()):
                state = getattr(optimizer, name, None)
                if isinstance(state, np.ndarray) and state.shape == vec.data.shape:
                    initial = _RESET.get(name, 0.0)
                    # (an optimizer of one's own without the attribute: 0, as the others)
                    state[where] = getattr(optimizer, initial, 0.0) if isinstance(initial, str) \
                        else initial
            return


__all__ = ["Rewire"]
