"""Stacked autoencoders (notes: "Deep autoencoders", "Shallow autoencoders for pre-training",
"Sparse autoencoders": "we can stack these sparse autoencoders on top of each other").

Greedy layer-wise pre-training: the first shallow autoencoder learns to reconstruct the data,
the second the first one's codes, and so on; each layer sees only the codes of the one below.
The trained encoders then initialise

- a classifier (``to_classifier``): the encoders with a fresh softmax layer on top, fine-tuned
  on the labels with ``rb.fit``, which helps most when labels are few and unlabelled data
  plentiful (semi-supervised learning); or
- a deep autoencoder (``to_autoencoder``): the encoders followed by the decoders in reverse
  order, fine-tuned end to end (deep autoencoders are hard to train from small random weights:
  "the gradient dies").

The notes: stacking shallow denoising autoencoders "typically works better than pre-training
with RBMs"; contractive ones "also work very well for pre-training".
"""

import copy
import os

import numpy as np

from ..autodiff.tensor import Tensor, no_grad
from ..checks import is_int, one_of, positive_float, positive_int
from ..nn.activations import Identity, ReLU, Sigmoid, Tanh
from ..nn.dense import Dense
from ..nn.module import Module, Sequential
from ..nn.registry import shapes_of
from ..randomness import resolve_rng
from ..training.callbacks import Callback, Checkpoint
from .autoencoder import Autoencoder

__all__ = ["StackedAutoencoder"]


def _layer_path(path, i):
    """The file of layer ``i`` of a pre-training checkpointed at ``path``:
    ``run.safetensors`` -> ``run.layer0.safetensors``."""
    root, ext = os.path.splitext(os.fspath(path))
    return f"{root}.layer{i}{ext}"


def _layer_options(fit_options, i):
    """``fit_options`` for layer ``i``: its own checkpoint and resume files.

    Every layer is its own ``rb.fit`` run: one file shared by all of them would
    make layer 1 "resume" from layer 0's finished run (and never train).
    """
    options = dict(fit_options)
    if options.get("resume_from") is not None:
        options["resume_from"] = _layer_path(options["resume_from"], i)
    callbacks = options.get("callbacks")
    if isinstance(callbacks, Callback):  # one callback, as rb.fit takes it
        callbacks = [callbacks]
    if isinstance(callbacks, (list, tuple)):
        options["callbacks"] = [cb if not isinstance(cb, Checkpoint) else
                                _with_path(cb, _layer_path(cb.path, i)) for cb in callbacks]
    return options


def _with_path(checkpoint, path):
    checkpoint = copy.copy(checkpoint)
    checkpoint.path = path
    return checkpoint

# the Autoencoder settings (config names) one layer may change after construction, which
# rb.save keeps as layer_overrides; sizes and tied make the parameters, and stay the stack's
_OVERRIDABLE = ("activation", "output", "loss", "sparsity", "sparsity_weight", "noise",
                "contractive", "hidden_dropout")

KINDS = {"denoising": {"noise": ("masking", 0.25)}, "contractive": {"contractive": 0.1},
         "sparse": {"sparsity": 0.05}, "plain": {}}
_ACTIVATION_MODULES = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "linear": Identity}


def _dense_from(weight, bias, rng):
    """A Dense layer holding copies of ``weight`` (in, out) and ``bias``."""
    layer = Dense(weight.shape[0], weight.shape[1], rng=rng, dtype=weight.dtype)
    layer.W.data[...] = weight
    layer.b.data[...] = bias
    return layer


def _layer_settings(kind, layer_options, n_layers):
    """The Autoencoder arguments (sizes and rng aside) of each of ``n_layers`` layers: ``kind``'s
    defaults under ``layer_options``; the upper layers reconstruct codes (no ``loss``, a sigmoid
    output for a sigmoid encoder, else a linear one)."""
    options = {**KINDS[kind], **layer_options}
    activation = options.get("activation", "sigmoid")
    out = []
    for i in range(n_layers):
        opts = dict(options)
        if i > 0:  # upper layers reconstruct codes, not the data
            opts.pop("loss", None)
            opts["output"] = "sigmoid" if activation == "sigmoid" else "linear"
        out.append(opts)
    return out


class StackedAutoencoder(Module):
    """Shallow autoencoders stacked and pre-trained greedily, layer by layer.

    Parameters
    ----------
    sizes : sequence of int
        ``[n_inputs, n_hidden_1, ..., n_hidden_k]`` (at least two): layer i encodes
        ``sizes[i]`` values into ``sizes[i + 1]``.
    kind : {"denoising", "contractive", "sparse", "plain"}, default "denoising"
        Each layer's constraint, with defaults ``noise=("masking", 0.25)``,
        ``contractive=0.1`` or ``sparsity=0.05`` (override them in ``layer_options``).
    rng : numpy.random.Generator or int, optional
    **layer_options
        Passed to every :class:`Autoencoder` (``activation``, ``tied``, ``noise``,
        ``sparsity_weight``, ``hidden_dropout`` ...). ``output`` and ``loss`` apply to the first
        layer only: the layers above reconstruct codes, with a sigmoid output for a sigmoid
        encoder and a linear one otherwise.
    layer_overrides : list of dict, optional
        One dict per layer of the :class:`Autoencoder` settings (``noise``, ``contractive``,
        ``sparsity``, ``sparsity_weight``, ``hidden_dropout``, ``activation``, ``output``,
        ``loss``) that differ from what ``kind`` and ``layer_options`` give, set on the
        layer after it is built. A setting changed on one layer (``stack.layers[0].noise =
        ...``) is saved this way by ``rb.save``, so a loaded stack trains as the saved one.

    Attributes
    ----------
    layers : list of Autoencoder

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> X, y = rb.datasets.load_digits()
    >>> stack = rb.models.StackedAutoencoder([64, 32, 16], kind="denoising", rng=0)
    >>> histories = stack.pretrain(X[:300], epochs_per_layer=1)
    >>> net = stack.to_classifier(10)
    >>> net(rb.tensor(X[:2])).shape, stack.transform(X[:2]).shape
    ((2, 10), (2, 16))
    """

    @classmethod
    def state_shapes(cls, config):
        """Each :class:`Autoencoder`'s state under ``layers.i``."""
        sizes, kind = config["sizes"], config["kind"]
        if not isinstance(sizes, list) or len(sizes) < 2 or not all(
                is_int(s) and s > 0 for s in sizes):
            raise ValueError(f"StackedAutoencoder: sizes must be a list of at least two "
                             f"positive integers; got {sizes!r}")
        one_of("StackedAutoencoder", "kind", kind, tuple(KINDS))
        options = {k: v for k, v in config.items()
                   if k not in ("sizes", "kind", "rng", "layer_overrides")}
        tied = {**KINDS[kind], **options}.get("tied", False)
        shapes = {}
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            shapes.update(shapes_of(Autoencoder, {"n_inputs": n_in, "n_hidden": n_out,
                                                  "tied": tied}, f"layers.{i}."))
        return shapes

    def __init__(self, sizes, kind="denoising", rng=None, layer_overrides=None,
                 **layer_options):
        owner = "StackedAutoencoder"
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) < 2 \
                or not all(is_int(s) and s > 0 for s in sizes):
            raise ValueError(f"{owner}: sizes must be at least two positive integers "
                             f"[n_inputs, n_hidden, ...]; got {sizes!r}")
        self.sizes = [int(s) for s in sizes]
        self.kind = one_of(owner, "kind", kind, tuple(KINDS))
        if "rng" in layer_options:
            raise TypeError(f"{owner}: pass rng once, as StackedAutoencoder(..., rng=...)")
        self.layer_options = dict(layer_options)
        self.rng = None if rng is None else resolve_rng(rng)  # None: the library generator
        self.layers = [Autoencoder(n_in, n_out, rng=self.rng, **opts) for (n_in, n_out), opts
                       in zip(zip(self.sizes[:-1], self.sizes[1:]),
                              _layer_settings(self.kind, self.layer_options, len(self.sizes) - 1))]
        self._apply_overrides(layer_overrides)

    def _apply_overrides(self, overrides):
        if overrides is None:
            return
        owner = "StackedAutoencoder"
        if not isinstance(overrides, (list, tuple)) or len(overrides) != len(self.layers) or \
                not all(isinstance(o, dict) for o in overrides):
            raise ValueError(f"{owner}: layer_overrides must be None or one dict per layer "
                             f"({len(self.layers)}); got {overrides!r:.80}")
        for i, (layer, own) in enumerate(zip(self.layers, overrides)):
            unknown = sorted(set(own) - set(_OVERRIDABLE), key=str)
            if unknown:
                raise ValueError(f"{owner}: layer_overrides[{i}] has unknown key(s) {unknown}; "
                                 f"accepted: {', '.join(_OVERRIDABLE)}")
            for name, value in own.items():
                if name != "noise":  # (noise: its setter checks it)
                    setattr(layer, "loss_kind" if name == "loss" else name, value)
            if "noise" in own:
                layer.noise = own["noise"]
            layer._check_hyper(f"{owner}: layer_overrides[{i}]")

    def _as_built(self, owner):
        """Each layer's Autoencoder settings (config) as the constructor would build them from
        ``kind`` and ``layer_options`` as they are now (set since construction, maybe): what a
        file saving ``kind`` and ``layer_options`` rebuilds, before its ``layer_overrides``."""
        kind = one_of(owner, "kind", self.kind, tuple(KINDS))
        if not isinstance(self.layer_options, dict) or "rng" in self.layer_options:
            raise ValueError(f"{owner}: layer_options must be a dict of Autoencoder arguments "
                             f"(rng aside); got {self.layer_options!r:.80}")
        built = []
        for i, opts in enumerate(_layer_settings(kind, self.layer_options, len(self.layers))):
            try:  # a throwaway of one unit (its settings alone count), drawing from its own rng
                built.append(Autoencoder(1, 1, rng=np.random.default_rng(0), **opts).config())
            except (TypeError, ValueError) as err:
                raise type(err)(f"{owner}: kind={kind!r} and layer_options do not build layer "
                                f"{i}: {err}") from None
        return built

    @property
    def layer_overrides(self):
        """Each layer's settings that differ from what ``kind`` and ``layer_options`` (as they
        are now) give (what ``rb.save`` writes, ``layer_overrides`` of the constructor), or
        None when no layer differs.

        Raises
        ------
        ValueError
            When a layer's ``tied`` differs from what they give (a layer's parameters are
            those of its construction: no file could rebuild it).
        """
        owner = "save: StackedAutoencoder"
        out = []
        for i, (layer, built) in enumerate(zip(self.layers, self._as_built(owner))):
            now = layer.config()  # (checked: a value the constructor refuses is not saved)
            if now["tied"] != built["tied"]:
                raise ValueError(f"{owner}: layer {i} was built with tied={now['tied']} but kind "
                                 f"and layer_options now give tied={built['tied']} (set since "
                                 f"construction?); tied is fixed at construction: build a new "
                                 f"StackedAutoencoder")
            out.append({k: now[k] for k in _OVERRIDABLE if now[k] != built[k]})
        return out if any(out) else None

    def config(self):
        """The constructor arguments (for ``rb.save``/``rb.load``), with the settings changed
        on single layers since as ``layer_overrides``."""
        options = {k: (list(v) if isinstance(v, tuple) else v)
                   for k, v in self.layer_options.items()}
        out = {"sizes": list(self.sizes), "kind": self.kind, **options}
        overrides = self.layer_overrides
        if overrides is not None:
            out["layer_overrides"] = overrides
        return out

    # -- the network ----------------------------------------------------------------------
    def encode(self, x):
        """The top-level code of ``x`` (a Tensor, or an array): through every encoder."""
        # an array is checked as the first layer checks it (width, dtype, NaN and inf)
        h = x if isinstance(x, Tensor) else Tensor(self.layers[0]._check_x(x, "encode", "x"))
        for layer in self.layers:
            h = layer.encode(h)
        return h

    def decode(self, h):
        """Back from the top-level code through every decoder, top first."""
        for layer in reversed(self.layers):
            h = layer.decode(h)
        return h

    def forward(self, x):
        """The deep reconstruction: every encoder, then every decoder in reverse order."""
        return self.decode(self.encode(x))

    def transform(self, X, batch_size=1024):
        """The top-level codes of ``X`` (n, sizes[0]), an ndarray (n, sizes[-1])."""
        for layer in self.layers:
            X = layer.transform(X, batch_size=batch_size)
        return X

    # -- greedy pre-training --------------------------------------------------------------
    def pretrain(self, X, epochs_per_layer=10, batch_size=32, lr=1e-3, **fit_options):
        """Train the layers one after the other, each on the codes of the one below.

        Parameters
        ----------
        X : array_like, shape (n, sizes[0])
            Unlabelled data.
        epochs_per_layer : int, default 10
        batch_size : int, default 32
        lr : float, default 1e-3
            Adam's step size for every layer (each layer gets its own Adam).
        **fit_options
            Passed to each :meth:`Autoencoder.fit` (``validation_data``,
            ``callbacks``, ``shuffle`` ...), except ``epochs`` and
            ``optimizer``, which pretrain sets (``epochs_per_layer``, ``lr``).
            ``validation_data`` (m, sizes[0]) is encoded through each trained
            layer, as the training data are: every layer's ``val_loss`` is on
            its own inputs. Each layer is its own run, so it checkpoints and
            resumes from its own file: a ``Checkpoint(path)`` callback and
            ``resume_from=path`` stand for ``run.layer0.safetensors``,
            ``run.layer1.safetensors`` ... (layer ``i`` inserts ``.layer{i}``
            before the extension of ``path``). Resuming an interrupted
            pre-training loads the finished layers from their files, continues
            the interrupted one and trains the rest.

        Returns
        -------
        list of History
            One per layer.

        Raises
        ------
        TypeError
            For ``epochs`` or ``optimizer`` among the fit options.
        """
        from ..optim.adam import Adam

        owner = "StackedAutoencoder.pretrain"
        for name, own in (("epochs", "epochs_per_layer"), ("optimizer", "lr")):
            if name in fit_options:
                given = fit_options[name]
                given = repr(given) if is_int(given) else type(given).__name__
                raise TypeError(f"{owner}: {name} is set by pretrain (each layer trains "
                                f"epochs_per_layer epochs with its own Adam of step size lr); "
                                f"got {name}={given}; pass {own}= instead")
        epochs_per_layer = positive_int(owner, "epochs_per_layer", epochs_per_layer,
                                        allow_zero=True)
        lr = positive_float(owner, "lr", lr)
        callbacks = fit_options.get("callbacks")
        if callbacks is not None and not isinstance(callbacks, (list, tuple, Callback)):
            try:  # a generator would be used up by the first layer
                fit_options["callbacks"] = list(callbacks)
            except TypeError:
                pass  # fit names the bad value
        val = fit_options.pop("validation_data", None)
        if val is not None:
            val = self.layers[0].validation_inputs(val, "fit")
        histories, codes = [], X
        for i, layer in enumerate(self.layers):
            histories.append(layer.fit(codes, epochs=epochs_per_layer, batch_size=batch_size,
                                       optimizer=Adam(layer.parameters(), lr=lr),
                                       validation_data=val, **_layer_options(fit_options, i)))
            codes = layer.transform(codes)
            if val is not None:
                val = layer.transform(val)
        return histories

    # -- fine-tuning networks -------------------------------------------------------------
    def _activation(self, name):
        return _ACTIVATION_MODULES[name]()

    def to_classifier(self, n_classes, rng=None):
        """An ``nn.Sequential``: the pre-trained encoders (copies) and a new output layer.

        The last layer is ``Dense(sizes[-1], n_classes)`` returning logits (train it with
        ``loss="cross_entropy"``).
        """
        n_classes = positive_int("StackedAutoencoder.to_classifier", "n_classes", n_classes)
        rng = resolve_rng(self.rng if rng is None else rng)
        modules = []
        for layer in self.layers:
            modules += [_dense_from(layer.W.data, layer.b.data, rng),
                        self._activation(layer.activation)]
        last = self.layers[-1]
        modules.append(Dense(last.n_hidden, n_classes, rng=rng, dtype=last.W.dtype))
        return Sequential(*modules)

    def to_autoencoder(self):
        """The deep autoencoder as an ``nn.Sequential`` (copies): encoders, then decoders mirrored.

        Its output is the first layer's output function (sigmoid or linear); fine-tune it with
        ``rb.fit(net, X, None, loss=...)`` (e.g. "binary_cross_entropy" or "mse"). Draws
        nothing: the stack's generator (or ``rb.seed``'s) is left where it was.
        """
        # every weight is copied in: the layers' initial draws come from a throwaway
        # generator, as DBN.to_autoencoder's, not from the stack's rng (which later
        # pre-training, shuffling and corruption draw from)
        modules = []
        for layer in self.layers:
            modules += [_dense_from(layer.W.data, layer.b.data, np.random.default_rng(0)),
                        self._activation(layer.activation)]
        for layer in reversed(self.layers):
            weight = layer.W.data.T if layer.tied else layer.W_dec.data
            modules += [_dense_from(weight, layer.b_dec.data, np.random.default_rng(0)),
                        self._activation(layer.output)]
        return Sequential(*modules)

    def reconstruct(self, X, batch_size=1024):
        """The deep reconstructions of ``X``, an ndarray (eval mode, no graph)."""
        batch_size = positive_int("StackedAutoencoder.reconstruct", "batch_size", batch_size)
        X = self.layers[0]._check_x(X, "reconstruct")
        with self.evaluating(), no_grad():
            parts = [self.forward(Tensor(X[i:i + batch_size])).data
                     for i in range(0, len(X), batch_size)]
        return np.concatenate(parts) if parts else np.empty((0, self.sizes[0]), X.dtype)
