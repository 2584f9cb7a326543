"""The conditional GAN (notes: "Generative Adversarial Networks").

Both networks see a condition y (one-hot labels, a learned label embedding,
or real vectors), and training uses the notes' costs
J_D = -1/(2n) sum [log D(x_i, y_i) + log(1 - D(G(z_i, y_i), y_i))] and
J_G = -1/n sum log D(G(z_i, y_i), y_i), with the alternation of
:class:`rosenblatt.models.gan.GAN`. The notes draw the generator's conditions
from a Parzen-window estimate of the training conditions, not from the data
(the generator "may just learn to reproduce true input based on the
conditional input" otherwise): ``train_conditions="parzen"`` trains so, the
default ``"data"`` on the data rows' own conditions. Conditions for sampling
are drawn from that estimate (or the empirical conditions).
"""

import numpy as np

from ..autodiff.shape import concatenate
from ..autodiff.tensor import Tensor, no_grad
from ..checks import is_int, one_of, positive_int
from ..nn.embedding import Embedding
from ..randomness import resolve_rng
from .gan import GAN, _probability
from .parzen import ParzenWindow

__all__ = ["ConditionalGAN"]


class ConditionalGAN(GAN):
    """A conditional GAN: both networks see a condition y (notes: "Generative Adversarial
    Networks").

    Parameters
    ----------
    generator : rb.nn.Module
        Maps ``[z, c]`` (noise and encoded condition, concatenated) to samples.
    discriminator : rb.nn.Module
        Maps ``[x, c]`` (a flattened sample and encoded condition) to one logit.
    noise_dim : int
    n_classes : int, optional
        Conditions are integer labels ``0..n_classes-1``, encoded one-hot (or
        by a learned embedding, see ``embedding_dim``).
    condition_dim : int, optional
        Conditions are real vectors of this length, used as they are (give
        exactly one of ``n_classes`` and ``condition_dim``); with
        ``condition_dim=1``, ``y`` may also be one number per example, shape
        ``(n,)``, or one number for all.
    embedding_dim : int, optional
        With ``n_classes``: each network learns its own label embedding of
        this size instead of the one-hot code (an ``Embedding`` owned by this
        model and trained by that network's optimizer; pass the optimizers as
        callables ``params -> optimizer`` then, or use the defaults).
    condition_sampler : {"parzen", "empirical"}, default "parzen"
        Where :meth:`sample` draws conditions when it is given none: a
        Parzen-window estimate of the training conditions (the notes, width
        chosen by held-out likelihood) or the training conditions themselves.
    train_conditions : {"data", "parzen"}, default "data"
        The conditions of the counterfeits in training. "data": those of the
        data rows (a discriminator step's counterfeits take its real rows'
        conditions; a generator step takes those of the rows the next
        discriminator step would take). "parzen": drawn afresh from the
        Parzen-window estimate of the training conditions, for every
        generator step and every discriminator step's counterfeits (the real
        rows keep their own), which is what the notes prescribe (Gauthier's
        cGAN): the generator then cannot simply learn to reproduce the
        training example of a condition it is given. Labels are drawn from the
        estimate over their one-hot codes and decoded to the nearest code (the
        training label frequencies, up to the kernel's blur). "data" is the
        default because it keeps the results of earlier versions (the tour's
        included).
    k, generator_loss, optimizer_g, optimizer_d, noise, rng
        As in :class:`GAN`.

    Notes
    -----
    The notes' costs on a batch ``(x_i, y_i)`` with noise ``z_i``:

    .. math::

        J_D = -\\frac{1}{2n} \\sum_i [\\log D(x_i, y_i) + \\log(1 - D(G(z_i, y_i), y_i))], \\quad
        J_G = -\\frac{1}{n} \\sum_i \\log D(G(z_i, y_i), y_i)

    (``generator_loss="minimax"``: J_G = (1/n) sum log(1 - D(G(z_i, y_i), y_i))).
    With ``train_conditions="data"`` the counterfeits' y_i are the data rows'
    conditions; with ``"parzen"`` they are draws from the Parzen estimate p_y(y)
    (the notes). Draw order with ``"parzen"``: as :class:`GAN`'s, plus the
    counterfeits' conditions after each discriminator step's data rows and after
    each generator step's noise (per batch: the centres, then their Gaussian offsets).

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> G = rb.nn.Sequential(rb.nn.Dense(4 + 3, 8, rng=0), rb.nn.Tanh(), rb.nn.Dense(8, 2, rng=1))
    >>> D = rb.nn.Sequential(rb.nn.Dense(2 + 3, 8, rng=2), rb.nn.Tanh(), rb.nn.Dense(8, 1, rng=3))
    >>> cgan = rb.models.ConditionalGAN(G, D, noise_dim=4, n_classes=3, rng=0)
    >>> X = np.random.default_rng(0).normal(size=(60, 2)).astype(np.float32)
    >>> _ = cgan.fit(X, np.arange(60) % 3, epochs=1, batch_size=20)
    >>> cgan.sample(4, y=2).shape
    (4, 2)
    """

    _owner = "ConditionalGAN"
    _d_scale = 0.5

    # what sample() needs to draw conditions, saved with the model: the training conditions
    # (labels (n,) or vectors (n, condition_dim); none before fit) and the Parzen width
    # (NaN before fit, or when neither condition_sampler nor train_conditions is "parzen")
    buffers = ("conditions_", "condition_sigma_")

    @classmethod
    def state_shapes(cls, config):
        """As :meth:`GAN.state_shapes`, plus the label embeddings ``g_embedding.W`` and
        ``d_embedding.W`` (n_classes, embedding_dim) if ``embedding_dim`` is given, and the
        buffers ``conditions_`` ((n_conditions,) or (n_conditions, condition_dim)) and
        ``condition_sigma_`` (a scalar)."""
        shapes = super().state_shapes(config)
        if config.get("embedding_dim") is not None:
            shape = (positive_int(cls._owner, "n_classes", config.get("n_classes")),
                     positive_int(cls._owner, "embedding_dim", config["embedding_dim"]))
            shapes.update({"g_embedding.W": shape, "d_embedding.W": shape})
        if "n_conditions" not in config:  # a file from before the conditions were saved
            return shapes
        n = positive_int(cls._owner, "n_conditions", config["n_conditions"], allow_zero=True)
        dim = config.get("condition_dim")
        shapes["conditions_"] = (n,) if dim is None else \
            (n, positive_int(cls._owner, "condition_dim", dim))
        shapes["condition_sigma_"] = ()
        return shapes

    @classmethod
    def from_config(cls, config):
        """Rebuild from :meth:`config`'s dict: the constructor's arguments and
        ``n_conditions``, the size of the saved training conditions (filled in on load)."""
        config = dict(config)
        if "n_conditions" not in config:
            # a file written before the conditions were saved holds none: the model samples
            # with y until it is fitted again (and saves them from then on)
            model = cls(**config)
            model.buffers = ()
            return model
        n = positive_int(cls._owner, "n_conditions", config.pop("n_conditions"),
                         allow_zero=True)
        model = cls(**config)
        model._set_conditions(np.zeros((n,) + model.conditions_.shape[1:],
                                       dtype=model.conditions_.dtype), np.nan)
        return model

    def __init__(self, generator, discriminator, noise_dim, n_classes=None, condition_dim=None,
                 embedding_dim=None, condition_sampler="parzen", k=1,
                 generator_loss="non_saturating", optimizer_g=None, optimizer_d=None,
                 noise="gaussian", rng=None, train_conditions="data"):
        owner = self._owner
        if (n_classes is None) == (condition_dim is None):
            raise ValueError(f"{owner}: give exactly one of n_classes (integer labels) and "
                             f"condition_dim (real condition vectors); got n_classes="
                             f"{n_classes!r}, condition_dim={condition_dim!r}")
        self.n_classes = None if n_classes is None else positive_int(owner, "n_classes",
                                                                     n_classes)
        self.condition_dim = None if condition_dim is None else positive_int(
            owner, "condition_dim", condition_dim)
        if embedding_dim is not None and n_classes is None:
            raise ValueError(f"{owner}: embedding_dim needs n_classes (labels to embed)")
        self.embedding_dim = None if embedding_dim is None else positive_int(
            owner, "embedding_dim", embedding_dim)
        self.condition_sampler, self.train_conditions = condition_sampler, train_conditions
        super().__init__(generator, discriminator, noise_dim, k=k, generator_loss=generator_loss,
                         optimizer_g=optimizer_g, optimizer_d=optimizer_d, noise=noise, rng=rng)
        none = np.zeros(0, dtype=np.int64) if self.n_classes is not None else \
            np.zeros((0, self.condition_dim), dtype=self._dtype())
        self._set_conditions(none, np.nan)

    def _check_hyper(self, owner):
        """GAN's checks and the condition settings (see :meth:`GAN._check_hyper`)."""
        super()._check_hyper(owner)
        self.condition_sampler = one_of(owner, "condition_sampler", self.condition_sampler,
                                        ("parzen", "empirical"))
        self.train_conditions = one_of(owner, "train_conditions", self.train_conditions,
                                       ("data", "parzen"))

    def _sizes(self):
        """GAN's, and the condition sizes the networks' widths follow."""
        return {**super()._sizes(), "n_classes": self.n_classes,
                "condition_dim": self.condition_dim, "embedding_dim": self.embedding_dim}

    def _set_conditions(self, conditions, sigma):
        """The training conditions and the Parzen width (NaN: none); the estimate is rebuilt
        from them when first needed (after a load)."""
        self.conditions_ = conditions
        self.condition_sigma_ = np.full((), sigma, dtype=self._dtype())
        self.condition_density_ = None

    def _setup_conditions(self):
        if self.embedding_dim is not None:
            init_rng = np.random.default_rng(self.rng.integers(2**63))
            self.g_embedding = Embedding(self.n_classes, self.embedding_dim, rng=init_rng,
                                         dtype=self._dtype())
            self.d_embedding = Embedding(self.n_classes, self.embedding_dim, rng=init_rng,
                                         dtype=self._dtype())

    def config(self):
        """The constructor arguments that rebuild this model (optimizers and rng excepted)."""
        out = super().config()
        out.update(n_classes=self.n_classes, condition_dim=self.condition_dim,
                   embedding_dim=self.embedding_dim, condition_sampler=self.condition_sampler,
                   train_conditions=self.train_conditions)
        if "buffers" not in self.__dict__:  # (an old file's model, not fitted since: none)
            out["n_conditions"] = len(self.conditions_)
        return out

    def generator_parameters(self):
        """The generator's parameters (and its label embedding)."""
        extra = [] if self.embedding_dim is None else self.g_embedding.parameters()
        return self.generator.parameters() + list(extra)

    def discriminator_parameters(self):
        """The discriminator's parameters (and its label embedding)."""
        extra = [] if self.embedding_dim is None else self.d_embedding.parameters()
        return self.discriminator.parameters() + list(extra)

    def _cond_text(self):
        width = self.embedding_dim or self.n_classes or self.condition_dim
        return f" plus a condition code of {width}"

    def _probe_inputs(self):
        z = np.zeros((2, self.noise_dim), dtype=self._dtype())
        if self.n_classes is not None:
            return z, np.zeros(2, dtype=np.int64)
        return z, np.zeros((2, self.condition_dim), dtype=self._dtype())

    # -- conditions ----------------------------------------------------------------------
    def check_conditions(self, y, n=None, where="sample"):
        """Validate conditions: labels in ``0..n_classes-1`` or ``(n, condition_dim)`` rows of
        real numbers (a TypeError for strings, complex numbers or None, a ValueError for
        other shapes or NaN and infinite values)."""
        owner = f"{self._owner}.{where}"
        try:
            y = np.asarray(y)
        except ValueError as err:  # a ragged nesting of lists
            raise ValueError(f"{owner}: y must be one condition per example; got "
                             f"{type(y).__name__} that NumPy cannot make one array of "
                             f"({err})") from None
        if self.n_classes is not None:
            if y.ndim == 0:
                y = np.full(n if n is not None else 1, y)
            if y.ndim == 2 and y.shape[1] == self.n_classes and y.dtype.kind in "iufb":
                one_hot = np.isin(y, (0, 1)).all(axis=1) & (y.sum(axis=1) == 1)
                if not one_hot.all():
                    row = int(np.flatnonzero(~one_hot)[0])
                    raise ValueError(f"{owner}: y row {row} is not one-hot (a single 1 among "
                                     f"{self.n_classes} zeros and ones); got {y[row].tolist()}")
                y = y.argmax(axis=1)  # one-hot rows
            if y.ndim != 1 or (y.dtype.kind == "f" and not np.all(y == np.round(y))) \
                    or y.dtype.kind not in "iuf":
                raise ValueError(f"{owner}: y must be integer labels (or one-hot rows of "
                                 f"{self.n_classes}); got shape {y.shape}, dtype {y.dtype}")
            y = y.astype(np.int64)
            bad = (y < 0) | (y >= self.n_classes)
            if bad.any():
                raise ValueError(f"{owner}: label {int(y[bad][0])} is outside the known "
                                 f"conditions 0..{self.n_classes - 1}")
        else:
            if y.dtype.kind not in "biuf":  # a cast would parse strings, drop imaginary parts
                raise TypeError(f"{owner}: y must be real condition vectors of length "
                                f"{self.condition_dim}; got dtype {y.dtype}")
            y = y.astype(self._dtype(), copy=False)
            if y.ndim == 1 and n is not None and y.shape[0] == self.condition_dim:
                y = np.broadcast_to(y, (n, self.condition_dim)).copy()
            elif self.condition_dim == 1 and y.ndim == 0:  # one scalar for every sample
                y = np.full((1 if n is None else n, 1), y, dtype=y.dtype)
            elif self.condition_dim == 1 and y.ndim == 1:  # a scalar per sample
                y = y.reshape(-1, 1)
            if y.ndim != 2 or y.shape[1] != self.condition_dim:
                raise ValueError(f"{owner}: y must be condition vectors of length "
                                 f"{self.condition_dim}; got shape {y.shape}")
            if not np.isfinite(y).all():
                raise ValueError(f"{owner}: y contains NaN or infinite values")
        if n is not None and len(y) != n:
            raise ValueError(f"{owner}: {n} samples asked for but {len(y)} conditions given")
        return y

    def _encode(self, y, which):
        """The condition code fed to a network: one-hot, embedding rows, or the vectors."""
        if self.n_classes is None:
            return Tensor(y)
        if self.embedding_dim is not None:
            emb = self.g_embedding if which == "g" else self.d_embedding
            return emb(y)
        code = np.zeros((len(y), self.n_classes), dtype=self._dtype())
        code[np.arange(len(y)), y] = 1
        return Tensor(code)

    def _conditions_from_codes(self, codes):
        """Parzen draws are continuous: back to labels by the nearest one-hot code."""
        if self.n_classes is None:
            return codes.astype(self._dtype())
        return codes.argmax(axis=1)

    def _generate(self, z, y):
        return self.generator(concatenate([z, self._encode(y, "g")], axis=1))

    def _discriminate(self, x, y):
        flat = x if x.ndim == 2 else x.reshape(x.shape[0], -1)
        return self.discriminator(concatenate([flat, self._encode(y, "d")], axis=1))

    def forward(self, z, y):
        """G(z, y)."""
        z = z if isinstance(z, Tensor) else Tensor(np.asarray(z))
        return self._generate(z, self.check_conditions(y, z.shape[0], "forward"))

    def _conditions_state(self):
        kept = super()._conditions_state()
        kept["attributes"] = {k: self.__dict__[k] for k in (
            "conditions_", "condition_sigma_", "condition_density_", "buffers")
            if k in self.__dict__}  # (_fit_conditions replaces these objects, never edits them)
        return kept

    def _put_back_conditions(self, kept):
        super()._put_back_conditions(kept)
        self.__dict__.pop("buffers", None)
        self.__dict__.update(kept["attributes"])

    def _fit_conditions(self, y, n):
        if y is None:
            raise ValueError(f"{self._owner}.fit: the conditions y are required: fit(X, y, ...)")
        # a copy: the training conditions are fixed at fit (check_conditions keeps a float
        # array of the model's dtype as it is, and the caller may refill it afterwards)
        Y = np.array(self.check_conditions(y, n, "fit"), copy=True)
        self.__dict__.pop("buffers", None)  # a model from an old file saves its conditions now
        self._set_conditions(Y, np.nan)
        if "parzen" in (self.condition_sampler, self.train_conditions):
            # the width chosen on at most 4000 rows
            codes = self._codes(Y)
            some = codes[self.rng.permutation(n)[:4000]] if n > 4000 else codes
            self.condition_sigma_[...] = ParzenWindow(rng=self.rng).fit(some).sigma_
            # the width as saved (in the model's dtype): a loaded model samples the same
            sigma = float(self.condition_sigma_)
            self.condition_density_ = ParzenWindow(sigma=sigma, rng=self.rng).fit(codes)
        return Y

    def _drop_derived(self):
        self.condition_density_ = None  # rebuilt from the saved (or cast) conditions and width

    def _codes(self, Y):
        return Y if self.n_classes is None else np.eye(self.n_classes)[Y]

    def _monitor_input(self, z):
        return None  # forward(z, y) needs conditions: no dead-unit fractions for callbacks

    def _g_conditions(self, Y, order, cursor, m, rng):
        if self.train_conditions == "parzen":
            return self._parzen_conditions(m, rng)
        rows = order[np.arange(cursor, cursor + m) % len(order)]
        return Y[rows]

    def _fake_conditions(self, yb, rng):
        if self.train_conditions == "parzen":
            return self._parzen_conditions(len(yb), rng)
        return yb

    def _parzen_conditions(self, n, rng):
        """``n`` conditions drawn from the Parzen estimate of the training conditions (rebuilt
        from the saved conditions and width after a load, a cast or a resume)."""
        if self.condition_density_ is None:
            sigma = float(self.condition_sigma_)
            if not sigma > 0:
                raise RuntimeError(f"{self._owner}.sample: no Parzen width for the training "
                                   f"conditions (condition_sigma_ = {sigma}); pass y or fit again")
            self.condition_density_ = ParzenWindow(sigma=sigma, rng=self.rng).fit(
                self._codes(self.conditions_))
        return self._conditions_from_codes(self.condition_density_.sample(n, rng))

    def fit(self, X, y, epochs, batch_size=64, callbacks=None, *, resume_from=None):
        """Train on data ``X`` with conditions ``y`` (labels or vectors); returns the History.

        See :meth:`GAN.fit` (``resume_from`` too: a checkpoint also holds the
        training conditions and the Parzen width); the batches are
        ``(x_i, y_i)`` pairs and the costs are the notes' J_D and J_G. Also
        fits the condition sampler.
        """
        return super().fit(X, epochs, batch_size=batch_size, callbacks=callbacks, y=y,
                           resume_from=resume_from)

    def sample_conditions(self, n, rng=None):
        """``n`` conditions from the Parzen estimate (or the empirical conditions); ``n`` >= 0."""
        n = positive_int(f"{self._owner}.sample_conditions", "n", n, allow_zero=True)
        if len(self.conditions_) == 0:
            raise RuntimeError(f"{self._owner}.sample: without y, conditions are drawn from the "
                               f"training conditions; fit the model first or pass y")
        rng = self.rng if rng is None else resolve_rng(rng)
        if self.condition_sampler == "empirical":
            return self.conditions_[rng.integers(len(self.conditions_), size=n)]
        return self._parzen_conditions(n, rng)

    def sample(self, n, y=None, rng=None):
        """``n`` samples G(z, y); ``y`` a label, labels, vector(s), or None (drawn).

        Returns
        -------
        ndarray
            The samples (the conditions used are in ``self.last_conditions``).
        """
        n = positive_int(f"{self._owner}.sample", "n", n)
        if y is None:
            y = self.sample_conditions(n, rng)
        elif self.n_classes is not None and is_int(y):
            y = np.full(n, int(y))
        y = self.check_conditions(y, n, "sample")
        self.last_conditions = y
        z = self.draw_noise(n, rng)
        with self.evaluating(), no_grad():
            return self._generate(Tensor(z), y).data

    def discriminate(self, X, y):
        """D(x, y) for rows of ``X`` and their conditions (eval mode), in the model's dtype."""
        X = self._check_data(X, "discriminate")
        y = self.check_conditions(y, len(X), "discriminate")
        with self.evaluating(), no_grad():
            logits = self._discriminate(Tensor(X), y).data.reshape(len(X))
        return _probability(logits)
