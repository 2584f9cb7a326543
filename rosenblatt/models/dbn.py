"""Deep belief nets (notes: "Deep Belief Nets", "Deep autoencoders").

A DBN is a stack of RBMs trained greedily, one layer at a time (Hinton,
Osindero and Teh 2006): the first RBM models the data, each next RBM models
the hidden probabilities of the one below. The result is a generative model
whose top two layers form an undirected associative memory (the top RBM)
and whose lower layers are directed, top-down connections. The notes: "a
deep belief net can be run 'backwards' and generate plausible inputs":
alternate Gibbs sampling in the top RBM, then one pass down.

With a label layer joined to the top RBM's visible units, the top RBM learns
the joint distribution of labels and features, so ``generate(labels=...)``
draws a chosen digit and ``predict`` picks the label of lowest free energy.
The same weights initialise a feed-forward classifier or a deep autoencoder
for backprop fine-tuning (Hinton and Salakhutdinov 2006: the notes'
"pre-training by stacking RBMs").

After greedy training the generative (down) weights are the transposed
recognition (up) weights; the up-down algorithm (Hinton et al. 2006,
section 5, a contrastive form of wake-sleep) unties them and fine-tunes both.
"""

import os

import numpy as np

from ..autodiff.elementwise import sigmoid_probabilities
from ..autodiff.tensor import Tensor
from ..checks import boolean, is_int, one_of, positive_float, positive_int, unit_interval
from ..nn.activations import Identity, Sigmoid
from ..nn.dense import Dense
from ..nn.module import Module, Sequential
from ..nn.parameter import Parameter
from ..randomness import resolve_rng
from ..training.callbacks import callback_list
from .rbm import RBM, _check_dtype, softplus


def _ascend(p, step):
    """``p.data += step`` in place, unless ``p`` is frozen (``requires_grad`` False)."""
    if p.requires_grad:
        p.data += step


def _rbm_option(owner, name, value):
    """``value`` of the RBM hyper-parameter ``name``, checked as RBM's constructor checks it."""
    if name == "k":
        return positive_int(owner, name, value)
    if name == "persistent":
        return boolean(owner, name, value)
    if name == "lr":
        return positive_float(owner, name, value)
    if name == "momentum":
        return unit_interval(owner, name, value)
    if name == "weight_decay":
        return positive_float(owner, name, value, allow_zero=True)
    return value  # sparsity: checked by RBM's own setter


def _for_every_rbm(name, what):
    """A DBN property: the DBN-level value of ``name``; setting it checks it and sets it on
    every RBM (the constructor sets it before the RBMs exist)."""

    def get(self):
        return self.__dict__["_" + name]

    def set_(self, value):
        value = _rbm_option("DBN", name, value)
        self.__dict__["_" + name] = value
        for rbm in self.__dict__.get("rbms", ()):
            setattr(rbm, name, value)

    return property(get, set_, doc=f"{what} of every RBM; setting it sets every RBM's "
                                   f"``{name}`` (one set later on an RBM wins for it).")



def _layer_rng(rng, i):
    """The generator RBM ``i`` of a stack trains with, from :meth:`DBN.pretrain`'s ``rng``: a
    Generator is shared by the layers (one stream, layer after layer); an int seed gives each
    layer a fresh stream of its own, seeded by ``(seed, i)`` (one generator per layer, as a
    resumed layer rebuilds it, but not the same stream for every layer)."""
    if isinstance(rng, np.random.Generator):
        return rng
    resolve_rng(rng)  # (the type and sign checks of a seed)
    return np.random.default_rng([int(rng), i])

class DBN(Module):
    """A deep belief net: RBMs stacked and trained greedily, with an optional label layer.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths from the data up, e.g. ``(784, 500, 500, 2000)``: one RBM
        per consecutive pair.
    visible : {"bernoulli", "gaussian"}, default "bernoulli"
        The data's units (the bottom RBM's visible units); every other layer
        is binary.
    k : int, default 1
        CD-k for every RBM.
    n_labels : int, default 0
        Label units joined to the top RBM's visible layer (Hinton et al. 2006).
    persistent, lr, momentum, weight_decay
        Passed to every :class:`~rosenblatt.models.RBM`.
    rng : numpy.random.Generator, int or None
    dtype : default float32
    rbm_options : list of dict, optional
        One dict per RBM (bottom first) of the hyper-parameters in which that RBM differs
        from the DBN-level ones: any of ``k``, ``persistent``, ``lr``, ``momentum``,
        ``weight_decay`` and ``sparsity`` (see :class:`~rosenblatt.models.RBM`). This is
        how ``rb.save`` keeps values set on single RBMs.

    Notes
    -----
    Which hyper-parameters win: the DBN-level ``k``, ``persistent``, ``lr``, ``momentum``
    and ``weight_decay`` are the defaults of every RBM. Setting one on the DBN
    (``dbn.lr = 0.1``) checks it and sets it on every RBM; setting one on a single RBM
    afterwards (``dbn.rbms[1].k = 5``) wins for that RBM. :meth:`pretrain` trains each RBM
    with its own values; :meth:`up_down` uses the DBN's ``lr`` (unless given) and the top
    RBM's ``k`` and ``persistent``. ``rb.save`` writes the DBN-level values and, as
    ``rbm_options``, each RBM's differing ones, so a loaded DBN trains as the saved one.
    ``visible`` is the bottom RBM's: setting it on the DBN sets it there (visible units changed on
    an RBM alone are refused by :meth:`pretrain`, :meth:`up_down` and ``rb.save``).

    Attributes
    ----------
    rbm_options : list of dict or None
        Read-only: each RBM's hyper-parameters that differ from the DBN-level ones, now
        (None when none differs).
    rbms : list of RBM
        ``rbms[i]`` connects layer i to layer i+1; the top one has
        ``sizes[-2] + n_labels`` visible units.
    gen_W, gen_b : list of Parameter
        The generative (down) weights ``(sizes[i], sizes[i+1])`` and biases of
        the directed layers (all but the top RBM); equal to the recognition
        weights after :meth:`pretrain`, untied by :meth:`up_down`.

    References
    ----------
    Hinton, Osindero and Teh, "A fast learning algorithm for deep belief
    nets", Neural Computation 18, 2006. Hinton and Salakhutdinov, "Reducing
    the dimensionality of data with neural networks", Science 313, 2006.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> X = np.array([[1, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 1]] * 20, dtype=np.float32)
    >>> dbn = rb.models.DBN([6, 4, 3], n_labels=2, lr=0.1, rng=0)
    >>> _ = dbn.pretrain(X, y=np.tile([0, 1], 20), epochs_per_layer=30, batch_size=10,
    ...                  progress=False)
    >>> dbn.predict(X[:2]).tolist(), dbn.generate(2, gibbs_steps=50, labels=[0, 1]).shape
    ([0, 1], (2, 6))
    """

    @classmethod
    def state_shapes(cls, config):
        """Each RBM's under ``rbms.i``; the generative copies ``gen_W.i``, ``gen_b.i`` of all
        but the top one."""
        sizes = config["sizes"]
        if not isinstance(sizes, list) or len(sizes) < 2 or not all(
                is_int(s) and s > 0 for s in sizes):
            raise ValueError(f"DBN: sizes must be a list of at least two positive integers; "
                             f"got {sizes!r}")
        labels = positive_int("DBN", "n_labels", config["n_labels"], allow_zero=True)
        top = len(sizes) - 2
        shapes = {}
        for i in range(top + 1):
            nv = sizes[i] + (labels if i == top else 0)
            shapes.update({f"rbms.{i}.W": (nv, sizes[i + 1]), f"rbms.{i}.b": (nv,),
                           f"rbms.{i}.c": (sizes[i + 1],)})
        for i in range(top):
            shapes[f"gen_W.{i}"] = (sizes[i], sizes[i + 1])
            shapes[f"gen_b.{i}"] = (sizes[i],)
        return shapes

    def __init__(self, sizes, visible="bernoulli", k=1, n_labels=0, persistent=False, lr=0.05,
                 momentum=0.5, weight_decay=0.0, rng=None, dtype=np.float32, rbm_options=None):
        try:
            sizes = list(sizes)
        except TypeError:
            raise TypeError(f"DBN: sizes must be a sequence of layer widths; got "
                            f"{type(sizes).__name__}") from None
        if len(sizes) < 2 or not all(is_int(s) and s > 0 for s in sizes):
            raise ValueError(f"DBN: sizes must be at least two positive integers (the data's "
                             f"width, then each hidden layer's); got {sizes!r}")
        self.sizes = [int(s) for s in sizes]
        self.visible = visible  # (checked by the setter)
        self.k = k  # (k, persistent, lr, momentum, weight_decay: checked by the setters)
        self.n_labels = positive_int("DBN", "n_labels", n_labels, allow_zero=True)
        if self.n_labels == 1:
            raise ValueError("DBN: n_labels must be 0 (no label layer) or at least 2 classes; "
                             "got 1")
        self.persistent, self.lr = persistent, lr
        self.momentum, self.weight_decay = momentum, weight_decay
        self.rng = resolve_rng(rng)
        top = len(self.sizes) - 2
        self.rbms = [
            RBM(self.sizes[i] + (self.n_labels if i == top else 0), self.sizes[i + 1],
                visible=self.visible if i == 0 else "bernoulli", k=self.k,
                persistent=self.persistent, lr=self.lr, momentum=self.momentum,
                weight_decay=self.weight_decay, rng=self.rng, dtype=dtype,
                softmax=self.n_labels if i == top else 0)  # the labels: one softmax group
            for i in range(top + 1)
        ]
        self._apply_rbm_options(rbm_options)
        self.gen_W = [Parameter(r.W.data.copy(), name=f"gen_W{i}")
                      for i, r in enumerate(self.rbms[:-1])]
        self.gen_b = [Parameter(r.b.data.copy(), name=f"gen_b{i}")
                      for i, r in enumerate(self.rbms[:-1])]

    # -- hyper-parameters: the DBN's are every RBM's defaults ------------------------------
    @property
    def visible(self):
        """The data's units, ``"bernoulli"`` or ``"gaussian"``: the bottom RBM's visible units
        (every other layer is binary). Setting it checks it and sets the bottom RBM's."""
        return self.__dict__["_visible"]

    @visible.setter
    def visible(self, value):
        value = one_of("DBN", "visible", value, ("bernoulli", "gaussian"))
        self.__dict__["_visible"] = value
        rbms = self.__dict__.get("rbms")
        if rbms:
            rbms[0].visible = value

    k = _for_every_rbm("k", "CD-k")
    persistent = _for_every_rbm("persistent", "Persistent CD")
    lr = _for_every_rbm("lr", "The learning rate (also up_down's default)")
    momentum = _for_every_rbm("momentum", "The momentum")
    weight_decay = _for_every_rbm("weight_decay", "The weight decay")

    _RBM_OPTIONS = ("k", "persistent", "lr", "momentum", "weight_decay", "sparsity")

    @property
    def rbm_options(self):
        """Each RBM's hyper-parameters that differ from the DBN-level ones (what ``rb.save``
        writes, ``rbm_options`` of the constructor), or None when no RBM differs."""
        plain = {"k": int, "persistent": bool, "lr": float, "momentum": float,
                 "weight_decay": float}
        self._check_rbms("DBN")  # (bool("no") would save True)
        out = []
        for rbm in self.rbms:
            own = {name: plain[name](getattr(rbm, name)) for name in plain
                   if getattr(rbm, name) != getattr(self, name)}
            if rbm.sparsity is not None:
                own["sparsity"] = rbm.sparsity
            out.append(own)
        return out if any(out) else None

    def _check_rbms(self, owner):
        """Every RBM's hyper-parameters, checked as its constructor checks them (one set on an
        RBM since is checked only here: when the DBN trains or is saved), and their visible
        units: the bottom RBM's are the DBN's ``visible`` (which a file saves), the others
        binary (the layers below them are)."""
        for i, rbm in enumerate(self.rbms):
            rbm._check_hyper(f"{owner}: rbms[{i}]")
            want = self.visible if i == 0 else "bernoulli"
            if rbm.visible != want:
                fix = (f"set dbn.visible = {rbm.visible!r} (it sets the bottom RBM's)" if i == 0
                       else "only the bottom RBM, which models the data, may have Gaussian "
                            "visible units")
                raise ValueError(f"{owner}: rbms[{i}].visible is {rbm.visible!r} but the DBN "
                                 f"needs {want!r} there: {fix}")

    def _apply_rbm_options(self, options):
        if options is None:
            return
        if not isinstance(options, (list, tuple)) or len(options) != len(self.rbms) or not all(
                isinstance(o, dict) for o in options):
            raise ValueError(f"DBN: rbm_options must be None or one dict per RBM "
                             f"({len(self.rbms)}); got {options!r:.80}")
        for i, (rbm, own) in enumerate(zip(self.rbms, options)):
            unknown = sorted(set(own) - set(self._RBM_OPTIONS), key=str)
            if unknown:
                raise ValueError(f"DBN: rbm_options[{i}] has unknown key(s) {unknown}; "
                                 f"accepted: {', '.join(self._RBM_OPTIONS)}")
            for name, value in own.items():
                setattr(rbm, name, _rbm_option(f"DBN rbm_options[{i}]", name, value))

    @property
    def top(self):
        """The top RBM (the associative memory, with the label units if any)."""
        return self.rbms[-1]

    def astype(self, dtype):
        """Cast every RBM and generative weight to ``dtype``: float32 or float64 only, as the
        RBMs' constructor (sampling draws in the parameters' dtype)."""
        super().astype(_check_dtype("DBN", dtype))
        for rbm in self.rbms:  # their persistent chains and sparsity means too
            rbm._cast_state(dtype)
        return self

    # -- data checks ----------------------------------------------------------------------
    def _labels(self, y, n, where):
        if self.n_labels == 0:
            raise ValueError(f"DBN.{where}: this DBN has no label layer; build it with "
                             f"n_labels=<number of classes>")
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != n:
            raise ValueError(f"DBN.{where}: expected {n} integer labels; got shape {y.shape}")
        if y.dtype.kind not in "iu" or (y.size and (y.min() < 0 or y.max() >= self.n_labels)):
            raise ValueError(f"DBN.{where}: labels must be integers in [0, {self.n_labels}); "
                             f"got {np.unique(y)[:10]}")
        return np.eye(self.n_labels, dtype=self.top.W.dtype)[y]

    def _given_labels(self, y, n, where):
        """The one-hot labels of a training entry point: required with a label layer, refused
        without one (never silently dropped)."""
        if y is None:
            if self.n_labels:
                raise ValueError(f"DBN.{where}: this DBN has a label layer; pass y (labels)")
            return None
        return self._labels(y, n, where)

    def _data(self, X, where):
        return self.rbms[0]._visible_data(X, where, width=self.sizes[0], owner=f"DBN{self.sizes}")

    def _up(self, X, where):
        """The penultimate layer's probabilities (mean-field pass through the lower RBMs)."""
        h = self._data(X, where)
        for rbm in self.rbms[:-1]:
            h = rbm._hidden_probs(h)
        return h

    # -- greedy training ------------------------------------------------------------------
    def pretrain(self, X, y=None, epochs_per_layer=10, batch_size=100, progress=True, rng=None,
                 callbacks=None, resume_from=None):
        """Greedy layer-wise training: each RBM learns the hidden probabilities of the one below.

        Parameters
        ----------
        X : array_like (n, sizes[0])
        y : array_like of int (n,), optional
            Labels for the label layer (required when ``n_labels > 0``).
        epochs_per_layer : int or sequence of int, default 10
        batch_size : int, default 100
        progress : bool, default True
        rng : numpy.random.Generator or int, optional
            A Generator is drawn from by every layer in turn; an int seed gives layer ``i``
            a generator seeded by ``(seed, i)``; default: each RBM's own.
        callbacks : rb.callbacks.Callback or sequence of them, optional
            Given to every RBM's fit (see :meth:`RBM.fit`); ``rb.callbacks.Checkpoint(path)``
            writes the whole DBN with the training state of the RBM being trained.
        resume_from : str or os.PathLike, optional
            Such a checkpoint: the RBMs it had finished are kept (weights, momentum velocity,
            PCD chains), the one it was training continues where it stopped, the others are
            trained; the result is exactly that of the uninterrupted run (same data, arguments
            and architecture), a later ``pretrain`` call too. A file that does not exist yet
            starts from scratch (the same call starts and resumes, as in ``rb.fit``).

        Returns
        -------
        list of History
            One per RBM, bottom first.
        """
        data = self._data(X, "pretrain")
        if len(data) == 0:
            raise ValueError(f"DBN.pretrain: X must hold at least one example; got shape "
                             f"{data.shape}")
        labels = self._given_labels(y, len(data), "pretrain")
        epochs = ([epochs_per_layer] * len(self.rbms) if is_int(epochs_per_layer)
                  else list(epochs_per_layer))
        if len(epochs) != len(self.rbms):
            raise ValueError(f"DBN.pretrain: epochs_per_layer must be an int or one per RBM "
                             f"({len(self.rbms)}); got {epochs_per_layer!r}")
        epochs = [positive_int("DBN.pretrain", "epochs_per_layer", e) for e in epochs]
        batch_size = positive_int("DBN.pretrain", "batch_size", batch_size)
        progress = boolean("DBN.pretrain", "progress", progress)
        self._check_rbms("DBN.pretrain")
        callbacks = callback_list("DBN.pretrain", callbacks)
        histories, layer, resumed = [], 0, None
        if resume_from is not None and os.path.exists(os.fspath(resume_from)):
            layer, histories, resumed = self._resume(resume_from, rng, callbacks)
        for i, rbm in enumerate(self.rbms):
            if rbm is self.top and labels is not None:
                data = np.concatenate([data, labels], axis=1)
            if i >= layer:
                histories.append(self._fit_layer(i, data, epochs[i], batch_size, progress, rng,
                                                 callbacks, histories,
                                                 resumed if i == layer else None))
            if rbm is not self.top:
                data = rbm.transform(data)
        self.tie()
        return histories

    def _fit_layer(self, i, data, epochs, batch_size, progress, rng, callbacks, done, resumed):
        """``rbms[i].fit`` whose checkpoints hold the whole DBN (and which RBM was training)."""
        from ..io import save as write  # io sits below models; imported when training

        rbm = self.rbms[i]
        rng = rbm.rng if rng is None else _layer_rng(rng, i)
        optimizer = rbm._default_optimizer(None)

        def save(path, metadata):
            # the finished RBMs' training state too: a later pretrain continues from it
            finished = [{"optimizer": None if r._optimizer is None else r._optimizer.state_dict(),
                         "chains": r._chains, "q": r._q} for r in self.rbms[:i]]
            metadata["dbn"] = {"layer": i, "histories": [h.to_dict() for h in done],
                               "finished": finished}
            write(self, path, optimizer=optimizer, metadata=metadata, training_checkpoint=True)

        return rbm._fit(data, epochs, batch_size, callbacks, optimizer, True, progress, rng,
                        resumed, save)

    def _resume(self, path, rng, callbacks):
        """Check a checkpoint of :meth:`pretrain` and load it in place: returns the RBM it was
        training, the finished RBMs' histories and that RBM's checked training state."""
        from ..io import FormatError
        from ..nn import registry
        from ..training.history import History

        ckpt, where = RBM._open_checkpoint(path, "DBN.pretrain", "dbn")
        difference = registry.describe_difference(registry.spec_of(ckpt.model),
                                                  registry.spec_of(self))
        if difference is not None:
            raise FormatError(f"{where} holds another architecture: {difference}")
        info = ckpt.metadata["dbn"]
        layer, done = info.get("layer"), info.get("histories")
        if not is_int(layer) or not 0 <= layer < len(self.rbms) or not isinstance(done, list) \
                or len(done) != layer or not all(isinstance(h, dict) for h in done):
            raise FormatError(f"{where}: checkpoint \"dbn\" must name the RBM being trained "
                              f"(0 to {len(self.rbms) - 1}) and hold the History of each RBM "
                              f"below it")
        rbm = self.rbms[layer]
        resumed = rbm._check_resume(ckpt, where, self._optimizer_of(rbm),
                                    rbm.rng if rng is None else _layer_rng(rng, layer),
                                    callbacks)
        try:
            histories = [History.from_dict(h) for h in done]
        except (TypeError, ValueError, AttributeError) as err:
            raise FormatError(f"{where}: checkpoint \"dbn\" histories: {err}") from None
        finished = self._check_finished(info.get("finished"), layer, where)
        self.load_state_dict(ckpt.model.state_dict())  # everything checked: now change
        for rbm, (opt_state, chains, q) in zip(self.rbms, finished):
            if opt_state is not None:
                rbm._default_optimizer(None).load_state_dict(opt_state)
            rbm._chains, rbm._q = chains, q
        return layer, histories, resumed

    @staticmethod
    def _optimizer_of(rbm):
        """The optimizer pretrain trains ``rbm`` with (its own momentum SGD), to check a saved
        state against: the live one, or a new one that is not kept (checks change nothing)."""
        from ..optim.sgd import SGD

        if rbm._optimizer is not None and rbm._optimizer.vec is rbm.vector:
            return rbm._optimizer
        return SGD(rbm.vector, lr=rbm.lr, momentum=rbm.momentum)

    def _check_finished(self, finished, layer, where):
        """The training state of the RBMs below ``layer`` (optimizer state, chains, sparsity
        average) in a checkpoint's ``"dbn"["finished"]``, checked; none in a file written
        before it was saved (their weights alone are restored then)."""
        from ..io import FormatError
        from ..io.checkpoint_schema import check_optimizer_state

        if finished is None:
            return []
        if not isinstance(finished, list) or len(finished) != layer:
            raise FormatError(f"{where}: checkpoint \"dbn\"[\"finished\"] must hold the "
                              f"training state of the {layer} RBMs below the one being trained")
        out = []
        for j, (rbm, saved) in enumerate(zip(self.rbms, finished)):
            field = f'{where}: checkpoint "dbn"["finished"][{j}]'
            if not isinstance(saved, dict) or set(saved) != {"optimizer", "chains", "q"}:
                raise FormatError(f'{field}: expected a dict of "optimizer", "chains" and "q"')
            opt_state = saved["optimizer"]
            if opt_state is not None:
                try:
                    check_optimizer_state(opt_state, self._optimizer_of(rbm))
                except FormatError as err:
                    raise FormatError(f"{field}: {err}") from None
            out.append((opt_state,) + rbm._saved_sampling_state(saved, field))
        return out

    def tie(self):
        """Set the generative weights to the recognition weights (greedy training ties them)."""
        for rbm, W, b in zip(self.rbms, self.gen_W, self.gen_b):
            W.data[...] = rbm.W.data
            b.data[...] = rbm.b.data

    # -- generation and classification ----------------------------------------------------
    def _down(self, h, rng, mean=True):
        """One top-down pass with the generative weights, from the penultimate layer's states."""
        for i in reversed(range(len(self.gen_W))):
            a = h @ self.gen_W[i].data.T
            a += self.gen_b[i].data
            bottom = i == 0
            if bottom and self.visible == "gaussian":
                h = a if mean else a + rng.standard_normal(a.shape, dtype=a.dtype)
            else:
                p = sigmoid_probabilities(a)
                h = p if bottom and mean else RBM._draw_hidden(p, rng)
        return h

    def generate(self, n, gibbs_steps=200, labels=None, rng=None, mean=True):
        """Draw ``n`` inputs: Gibbs sampling in the top RBM, then one pass down.

        Parameters
        ----------
        n : int
        gibbs_steps : int, default 200
            Alternating Gibbs steps in the top RBM (from random states).
        labels : int or array_like of int (n,), optional
            Clamp the label units (needs ``n_labels > 0``): each row is then a
            sample of that class. Unclamped label units are sampled as one
            softmax group.
        rng : numpy.random.Generator, optional
        mean : bool, default True
            Return the bottom layer's means (images) instead of samples.

        Returns
        -------
        ndarray (n, sizes[0])
        """
        n = positive_int("DBN.generate", "n", n)
        steps = positive_int("DBN.generate", "gibbs_steps", gibbs_steps)
        mean = boolean("DBN.generate", "mean", mean)
        rng = self.rng if rng is None else resolve_rng(rng)
        top, n_pen = self.top, self.sizes[-2]
        dtype = top.W.dtype
        clamped = None
        if labels is not None:
            labels = np.full(n, labels) if np.ndim(labels) == 0 else np.asarray(labels)
            clamped = self._labels(labels, n, "generate")
        v = np.empty((n, top.n_visible), dtype)
        if len(self.rbms) == 1 and self.visible == "gaussian":
            v[:, :n_pen] = rng.standard_normal((n, n_pen))
        else:
            v[:, :n_pen] = rng.random((n, n_pen)) < 0.5
        if self.n_labels:
            v[:, n_pen:] = clamped if clamped is not None else 1.0 / self.n_labels
        for _ in range(steps):  # the label units are the top RBM's softmax group
            h = RBM._draw_hidden(top._hidden_probs(v), rng)
            v = top._draw_visible(top._visible_mean(h), rng)
            if clamped is not None:
                v[:, n_pen:] = clamped
        if len(self.rbms) == 1:
            return top._visible_mean(h)[:, :n_pen] if mean else v[:, :n_pen]
        return self._down(v[:, :n_pen], rng, mean=mean)

    def label_free_energies(self, X):
        """F([h(x), one_hot(l)]) of the top RBM for every row and label l, shape (n, n_labels)."""
        if self.n_labels == 0:
            raise ValueError("DBN.predict: this DBN has no label layer (n_labels=0); use "
                             "to_classifier for a discriminative model")
        pen = self._up(X, "predict").astype(np.float64)
        top, n_pen = self.top, self.sizes[-2]
        W, b, c = top._params64()
        a = pen @ W[:n_pen] + c  # (n, n_hidden)
        a = a[:, None, :] + W[n_pen:][None]  # + each label's row
        # the visible part of F with the label units off (|v - b|^2 / 2 for Gaussian units),
        # then each label's bias
        off = np.concatenate([pen, np.zeros((len(pen), self.n_labels))], axis=1)
        return top._visible_term(off, b)[:, None] - b[n_pen:][None] - softplus(a).sum(axis=2)

    def predict(self, X):
        """The label whose joint free energy with the features is lowest (Hinton et al. 2006)."""
        return np.argmin(self.label_free_energies(X), axis=1)

    def transform(self, X):
        """The top hidden layer's probabilities (the label units, if any, set to zero)."""
        pen = self._up(X, "transform")
        if self.n_labels:
            pen = np.concatenate([pen, np.zeros((len(pen), self.n_labels), pen.dtype)], axis=1)
        return self.top._hidden_probs(pen)

    def forward(self, x):
        """``transform`` as a Tensor (no gradient)."""
        return Tensor(self.transform(x))

    # -- networks for backprop fine-tuning -------------------------------------------------
    def _encoder_layers(self):
        layers = []
        for i, rbm in enumerate(self.rbms):
            dense = Dense(self.sizes[i], self.sizes[i + 1], rng=np.random.default_rng(0),
                          dtype=rbm.W.dtype)
            dense.W.data[...] = rbm.W.data[:self.sizes[i]]
            dense.b.data[...] = rbm.c.data
            layers += [dense, Sigmoid()]
        return layers

    def to_classifier(self, n_classes, rng=None):
        """A feed-forward net initialised from the recognition weights, plus a new output layer.

        ``Dense(sizes[0], sizes[1]), Sigmoid, ..., Dense(sizes[-1], n_classes)``
        (logits: train with cross-entropy). The output layer is drawn from ``rng``.
        """
        n_classes = positive_int("DBN.to_classifier", "n_classes", n_classes)
        rng = self.rng if rng is None else resolve_rng(rng)
        head = Dense(self.sizes[-1], n_classes, rng=rng, dtype=self.top.W.dtype)
        return Sequential(*self._encoder_layers(), head)

    def to_autoencoder(self):
        """The unrolled deep autoencoder of Hinton and Salakhutdinov (2006).

        The encoder is the stack of recognition layers; the decoder mirrors it
        with the transposed weights (untied copies) and the visible biases,
        ending with a sigmoid (Bernoulli data) or linear units (Gaussian).
        """
        layers = self._encoder_layers()
        for i in reversed(range(len(self.rbms))):
            rbm = self.rbms[i]
            dense = Dense(self.sizes[i + 1], self.sizes[i], rng=np.random.default_rng(0),
                          dtype=rbm.W.dtype)
            W = self.gen_W[i].data if i < len(self.gen_W) else rbm.W.data[:self.sizes[i]]
            b = self.gen_b[i].data if i < len(self.gen_b) else rbm.b.data[:self.sizes[i]]
            dense.W.data[...] = W.T
            dense.b.data[...] = b
            last = i == 0 and self.visible == "gaussian"
            layers += [dense, Identity() if last else Sigmoid()]
        return Sequential(*layers)

    # -- up-down fine-tuning ---------------------------------------------------------------
    def up_down(self, X, y=None, epochs=5, batch_size=100, lr=None, rng=None):
        """Fine-tune the generative model by the up-down algorithm (contrastive wake-sleep).

        Per minibatch: a stochastic up pass with the recognition weights (wake)
        trains the generative weights to reconstruct each layer from the one
        above; the top RBM takes a CD-k step on the wake states (with the
        labels); from its negative particles (the penultimate states of that
        same chain, in which the labels are sampled) a stochastic down pass
        with the generative weights (sleep) trains the recognition weights to
        recover each layer from the one below. Unties the recognition and
        generative weights. A frozen parameter (``requires_grad`` False, e.g. after
        :meth:`freeze`) is left as it is, as :meth:`pretrain` leaves it.

        Parameters
        ----------
        X : array_like (n, sizes[0])
        y : array_like of int, optional
            Required with a label layer.
        epochs, batch_size : int
        lr : float, optional
            Default: the DBN's ``lr``.
        rng : numpy.random.Generator, optional

        Returns
        -------
        list of float
            The mean squared error of the wake-phase reconstruction of the
            data per epoch.

        Notes
        -----
        With wake states s_i of B rows and sleep states t_i of M rows (M = B, or the
        number of persistent chains with ``persistent=True``),
        ``G_i += lr (s_i - sigma(s_{i+1} G_i^T + g_i))^T s_{i+1} / B`` and
        ``R_i += lr t_i^T (t_{i+1} - sigma(t_i R_i + c_i)) / M``.
        """
        data = self._data(X, "up_down")
        if len(data) == 0:
            raise ValueError(f"DBN.up_down: X must hold at least one example; got shape "
                             f"{data.shape}")
        labels = self._given_labels(y, len(data), "up_down")
        epochs = positive_int("DBN.up_down", "epochs", epochs)
        batch_size = positive_int("DBN.up_down", "batch_size", batch_size)
        lr = self.lr if lr is None else positive_float("DBN.up_down", "lr", lr)
        rng = self.rng if rng is None else resolve_rng(rng)
        self._check_rbms("DBN.up_down")
        lower, top, n_pen = self.rbms[:-1], self.top, self.sizes[-2]
        errors = []
        for _ in range(epochs):
            order = rng.permutation(len(data))
            total = 0.0
            for start in range(0, len(data), batch_size):
                idx = order[start:start + batch_size]
                B = len(idx)
                wake = [data[idx]]  # up pass, sampling each hidden layer
                for rbm in lower:
                    wake.append(RBM._draw_hidden(rbm._hidden_probs(wake[-1]), rng))
                for i in range(len(lower)):  # generative weights learn to reconstruct
                    pred = wake[i + 1] @ self.gen_W[i].data.T + self.gen_b[i].data
                    if not (i == 0 and self.visible == "gaussian"):
                        pred = sigmoid_probabilities(pred)
                    diff = wake[i] - pred
                    if i == 0:
                        total += float(np.sum(np.square(diff, dtype=np.float64)))
                    _ascend(self.gen_W[i], (lr / B) * (diff.T @ wake[i + 1]))
                    _ascend(self.gen_b[i], (lr / B) * diff.sum(axis=0))
                v_top = wake[-1] if labels is None else np.concatenate([wake[-1], labels[idx]],
                                                                       axis=1)
                # the associative memory: one CD-k step, whose negative particles (the labels
                # sampled by their softmax) start the sleep phase (Hinton et al. 2006,
                # appendix B: sleeppenstates = negpenstates)
                negative = top.cd_gradient(v_top, rng)
                for p in (top.W, top.b, top.c):
                    _ascend(p, -lr * p.grad)
                pen = negative[:, :n_pen]
                if not top.persistent:  # CD's particles are the last step's means: sample
                    pen = RBM._draw_hidden(pen, rng)  # (writes over its uniforms, not pen)
                sleep = [pen]  # down pass with the generative weights, sampling
                for i in reversed(range(len(lower))):
                    a = sleep[0] @ self.gen_W[i].data.T + self.gen_b[i].data
                    if i == 0 and self.visible == "gaussian":
                        s = a + rng.standard_normal(a.shape, dtype=a.dtype)
                    else:
                        s = RBM._draw_hidden(sigmoid_probabilities(a), rng)
                    sleep.insert(0, s)
                M = len(pen)  # the negative particles: B rows, or the persistent chains
                for i, rbm in enumerate(lower):  # recognition weights learn to recover
                    diff = sleep[i + 1] - rbm._hidden_probs(sleep[i])
                    _ascend(rbm.W, (lr / M) * (sleep[i].T @ diff))
                    _ascend(rbm.c, (lr / M) * diff.sum(axis=0))
            errors.append(total / data.size)
        return errors
