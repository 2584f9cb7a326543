"""Generative adversarial networks (notes: "Generative Adversarial Networks", "Training
generative adversarial networks").

A generator G maps noise z to samples; a discriminator D scores samples with
the probability that they came from the data. They play the minimax game

    min_G max_D  E_x[log D(x)] + E_z[log(1 - D(G(z)))]

trained in alternation, exactly as the notes' algorithm: k discriminator
updates (each on a fresh minibatch of m data examples and m noise draws,
ascending the gradient of (1/m) sum [log D(x) + log(1 - D(G(z)))]), then one
generator update on a fresh noise minibatch, descending (1/m) sum
log(1 - D(G(z))) ("minimax") or, because that saturates while D easily spots
G's early counterfeits, ascending (1/m) sum log D(G(z)) ("non_saturating").

D outputs a *logit* a (D(x) = sigmoid(a)); every log D and log(1 - D) goes
through ``binary_cross_entropy_with_logits``, which stays finite however sure
D is. The two networks have one optimizer each, over disjoint parameter sets
(one flat ParameterVector each); the paper used momentum, and so do the
defaults.

The conditional GAN is :class:`rosenblatt.models.conditional_gan.ConditionalGAN`.
"""

import math
import os
import time
import weakref

import numpy as np

from ..autodiff.tensor import Tensor, no_grad
from ..checks import one_of, positive_int
from ..nn.losses import binary_cross_entropy_with_logits
from ..nn.module import Module
from ..optim.sgd import SGD
from ..randomness import generator, resolve_rng
from ..training.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    LearningRateScheduler,
    ReduceLROnPlateau,
    callback_list,
)
from ..training.history import History
from ..training.rewire import Rewire
from ..training.trainer import (
    callback_kind,
    hold_frozen_normalization,
    match_callback_states,
    placed_callbacks,
)

__all__ = ["GAN"]


class _Rates:
    """The ``optimizer`` that learning-rate callbacks see in a GAN's fit: both networks' rates.

    Reading ``lr`` gives the discriminator's rate; setting it sets the
    discriminator's to the value and the generator's to the value times the
    ratio of the two rates when training began (so rates that started equal
    stay equal, and a two-timescale pair keeps its ratio).
    """

    def __init__(self, optimizer_g, optimizer_d):
        self.optimizer_g, self.optimizer_d = optimizer_g, optimizer_d
        lr_g, lr_d = optimizer_g.lr, optimizer_d.lr
        self._ratio = None if lr_g == lr_d else (lr_g / lr_d if lr_d else 1.0)

    @property
    def lr(self):
        return self.optimizer_d.lr

    @lr.setter
    def lr(self, value):
        self.optimizer_d.lr = value
        self.optimizer_g.lr = value if self._ratio is None else value * self._ratio

    @property
    def lr_is_initial_only(self):
        """Which optimizer reads ``lr`` only as its initial step size (Rprop), named, or
        False: the learning-rate callbacks refuse the pair then, as they refuse such an
        optimizer."""
        for role, opt in (("discriminator", self.optimizer_d), ("generator", self.optimizer_g)):
            if getattr(opt, "lr_is_initial_only", False):
                return f"the {role}'s {type(opt).__name__}"
        return False

    @property
    def schedule(self):
        """The optimizers' schedule (the discriminator's first), or None: with one,
        ReduceLROnPlateau scales the rates through :attr:`lr_scale` instead of writing lr."""
        for opt in (self.optimizer_d, self.optimizer_g):
            if getattr(opt, "schedule", None) is not None:
                return opt.schedule
        return None

    @property
    def lr_scale(self):
        for opt in (self.optimizer_d, self.optimizer_g):
            if getattr(opt, "schedule", None) is not None:
                return opt.lr_scale
        return 1.0

    @lr_scale.setter
    def lr_scale(self, value):
        """Scale both rates by ``value / lr_scale``: a scheduled optimizer's ``lr_scale``, a
        plain one's ``lr`` (so a pair with one schedule keeps its ratio too)."""
        old = self.lr_scale
        for opt in (self.optimizer_d, self.optimizer_g):
            if getattr(opt, "schedule", None) is not None:
                opt.lr_scale = value
            elif old:
                opt.lr = opt.lr * (value / old)


class _Run:
    """What callbacks see of a GAN's fit (the ``trainer`` of rb.callbacks hooks).

    ``optimizer`` is a :class:`_Rates` over both optimizers (what the
    learning-rate callbacks change); ``optimizer_g`` and ``optimizer_d`` are
    the optimizers themselves. ``network`` is the network whose gradients
    ``on_backward`` sees (``"discriminator"`` or ``"generator"``); ``x_batch``
    the last generator step's noise (None for the conditional GAN, whose
    forward needs conditions too); ``n_batches`` the iterations per epoch.
    """

    def __init__(self, gan, n_batches):
        self.model = gan
        self.optimizer_g, self.optimizer_d = gan.optimizer_g, gan.optimizer_d
        rates = all(hasattr(opt, "lr") for opt in (self.optimizer_g, self.optimizer_d))
        self.optimizer = _Rates(self.optimizer_g, self.optimizer_d) if rates else None
        self.history = gan.history
        self.epoch = self.batch = self.steps = self.start_epoch = 0
        self.n_batches = n_batches
        self.x_batch = None
        self.network = None
        self.stop_training = False
        self.pending_checkpoints = []  # the paths rb.callbacks.Checkpoint asks for this epoch
        self.backward_hooks = []  # the callbacks with an on_backward (none: no loop over them)
        # frozen in the generator step: every discriminator parameter, whatever optimizer_d holds
        self.d_parameters = gan.discriminator_parameters()


_GAME_LOGS = ("d_loss", "g_loss", "d_real", "d_fake")  # what an epoch of the game logs


def _is_optimizer(value):
    return callable(getattr(value, "step", None)) and hasattr(value, "zero_grad")


def _holds(opt, params):
    """Whether ``opt`` steps ``params``: it holds some of them (none: the original's, after a
    clone) and every parameter it was built on still views its flat vector (astype to another
    dtype, or a second optimizer built on them, rebinds their arrays)."""
    vec = getattr(opt, "vec", None)
    if vec is None:
        return True
    ids = {id(p) for p in params}
    return (not ids or any(id(p) in ids for p in vec.params)) \
        and all(p.data.base is vec.data for p in vec.params)


def _refuse_closure(opt, owner, name):
    """Raise for an optimizer that re-evaluates the objective (LBFGS, the annealers)."""
    if getattr(opt, "needs_closure", False):
        raise TypeError(f"{owner}: {name} ({type(opt).__name__}) needs a closure (it "
                        f"re-evaluates the objective: a line search or an annealer); the "
                        f"GAN's alternating updates take single gradient steps: use SGD, "
                        f"Adam, RMSprop ...")


def _logit_loss(logits, target, reduction="sum"):
    target = np.full(logits.shape, target, dtype=logits.data.dtype)
    return binary_cross_entropy_with_logits(logits, target, reduction=reduction)


class GAN(Module):
    """A generative adversarial network trained by the notes' algorithm.

    Parameters
    ----------
    generator : rb.nn.Module
        Maps noise ``(m, noise_dim)`` to samples ``(m, ...)``.
    discriminator : rb.nn.Module
        Maps samples to one logit each, ``(m, 1)`` or ``(m,)``.
    noise_dim : int
        The dimension of z.
    k : int, default 1
        Discriminator updates per generator update.
    generator_loss : {"non_saturating", "minimax"}, default "non_saturating"
        Maximise log D(G(z)), or minimise log(1 - D(G(z))) (the game's own objective).
    optimizer_g, optimizer_d : optimizer or callable, optional
        Built on ``generator.parameters()`` / ``discriminator.parameters()``
        (or a callable ``params -> optimizer``). Default: SGD with momentum
        0.5 and lr 0.05 (the paper's momentum updates). An optimizer that
        needs a closure (LBFGS, the annealers) is refused: the alternating
        updates take single gradient steps.
    noise : {"gaussian", "uniform"}, default "gaussian"
        The prior p_z: N(0, I) or U[-1, 1]^noise_dim.
    rng : numpy.random.Generator or int, optional
        Every draw of training (minibatch order, noise) and sampling. None
        (default): the library generator at the time of each draw, so that
        ``rb.seed(n)`` called later (or a model loaded by ``rb.load``) draws
        from ``rb.seed``'s stream.

    Attributes
    ----------
    history : History
        Per epoch: ``d_loss`` (the minimised -(1/m) sum [log D(x) + log(1 - D(G(z)))]),
        ``g_loss`` (the generator objective), ``d_real`` (mean D(x)), ``d_fake``
        (mean D(G(z))), averaged over the epoch's updates, and ``time``.

    Notes
    -----
    One iteration, with m the batch size:

    .. math::

        \\text{k times: } \\theta_d \\leftarrow \\theta_d + \\eta \\nabla_{\\theta_d}
        \\frac{1}{m} \\sum_i [\\log D(x^{(i)}) + \\log(1 - D(G(z^{(i)})))] \\\\
        \\theta_g \\leftarrow \\theta_g - \\eta \\nabla_{\\theta_g}
        \\frac{1}{m} \\sum_i \\log(1 - D(G(z^{(i)})))
        \\quad (\\text{or } +\\eta \\nabla \\frac{1}{m} \\sum_i \\log D(G(z^{(i)})))

    An epoch shuffles the data and runs ``max(1, n // (k m))`` iterations,
    each discriminator update taking the next m rows of the shuffled data.
    Draw order (so a run can be replayed): per epoch ``rng.permutation(n)``;
    per discriminator update the noise ``z`` then the next data rows; per
    generator update its noise ``z``. The discriminator scores the data and
    the counterfeits in one forward pass over the ``2m`` rows.

    References
    ----------
    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> rng = np.random.default_rng(0)
    >>> G = rb.nn.Sequential(rb.nn.Dense(2, 16, rng=rng), rb.nn.ReLU(), rb.nn.Dense(16, 2, rng=rng))
    >>> D = rb.nn.Sequential(rb.nn.Dense(2, 16, rng=rng), rb.nn.ReLU(), rb.nn.Dense(16, 1, rng=rng))
    >>> gan = rb.models.GAN(G, D, noise_dim=2, rng=0)
    >>> h = gan.fit(rng.normal(size=(256, 2)).astype(np.float32), epochs=2, batch_size=32)
    >>> sorted(h.history)
    ['d_fake', 'd_loss', 'd_real', 'g_loss', 'time']
    >>> gan.sample(5).shape
    (5, 2)
    """

    _owner = "GAN"
    _d_scale = 1.0  # the minimised D cost is scale * -(sum log D(x) + sum log(1 - D(G(z)))) / m

    @classmethod
    def state_shapes(cls, config):
        """The generator's state under ``generator.``, the discriminator's under
        ``discriminator.``."""
        shapes = {}
        for name in ("generator", "discriminator"):
            net = config[name]
            if not hasattr(net, "shapes_under"):
                raise TypeError(f"{cls._owner}: {name} must be an rb.nn.Module; got "
                                f"{type(net).__name__}")
            shapes.update(net.shapes_under(name))
        return shapes

    def __init__(self, generator, discriminator, noise_dim, k=1,
                 generator_loss="non_saturating", optimizer_g=None, optimizer_d=None,
                 noise="gaussian", rng=None):
        owner = self._owner
        for name, net in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(net, Module):
                raise TypeError(f"{owner}: {name} must be an rb.nn.Module; got "
                                f"{type(net).__name__}")
        self.generator, self.discriminator = generator, discriminator
        self.noise_dim = positive_int(owner, "noise_dim", noise_dim)
        self.k, self.generator_loss, self.noise = k, generator_loss, noise
        self._check_hyper(owner)
        self.rng = rng
        self.history = History()
        self._setup_conditions()
        self._probe()
        self._built_sizes = self._sizes()  # (the networks' widths: fixed from here on)
        self.optimizer_g = self._optimizer(optimizer_g, "optimizer_g", self.generator_parameters())
        self.optimizer_d = self._optimizer(optimizer_d, "optimizer_d",
                                           self.discriminator_parameters())
        # what astype and clone rebuild an optimizer from: the default (None) or the callable
        # given, with the optimizer built from it (an optimizer instance given, or assigned
        # since, was built by the caller, who rebuilds it)
        self._optimizer_specs = {
            name: (given, weakref.ref(getattr(self, name)))
            for name, given in (("optimizer_g", optimizer_g), ("optimizer_d", optimizer_d))
            if not _is_optimizer(given)}

    # rng=None must mean the library generator *at each draw*: rb.seed rebinds it, and rb.load
    # builds the model under a throwaway generator (rosenblatt.nn.registry.build), which the
    # model must not keep. The instance dict holds what was given (None or a Generator, so
    # checkpoints name it "model.rng" as before); reading ``rng`` resolves it.
    @property
    def rng(self):
        """The generator of the model's draws: the one given, or the library generator."""
        given = self.__dict__.get("rng")
        return generator() if given is None else given

    @rng.setter
    def rng(self, value):
        self.__dict__["rng"] = None if value is None else resolve_rng(value)

    # -- structure -----------------------------------------------------------------
    def _setup_conditions(self):
        pass

    def _check_hyper(self, owner):
        """Check the settings training reads and ``rb.save`` writes: the constructor's checks,
        run again by :meth:`fit` and :meth:`config` for values set since (a file the
        constructor would refuse is never written); ``noise_dim`` (and the conditional GAN's
        condition sizes) cannot change after construction."""
        self.k = positive_int(owner, "k", self.k)
        self.generator_loss = one_of(owner, "generator_loss", self.generator_loss,
                                     ("non_saturating", "minimax"))
        self.noise = one_of(owner, "noise", self.noise, ("gaussian", "uniform"))
        built = self.__dict__.get("_built_sizes")
        if built is not None:  # built: the widths the networks were probed with
            changed = {k: v for k, v in built.items() if getattr(self, k) != v}
            if changed:
                name, value = next(iter(changed.items()))
                raise ValueError(f"{owner}: {name} is fixed at construction (the networks' "
                                 f"widths follow it): built with {name}={value!r}, now "
                                 f"{getattr(self, name)!r}; build a new {self._owner} with "
                                 f"networks of that width")

    def _sizes(self):
        """The settings the networks' widths follow (checked against the constructor's by
        :meth:`_check_hyper`: a file saving another value could not be loaded)."""
        return {"noise_dim": self.noise_dim}

    def config(self):
        """The constructor arguments that rebuild this GAN (optimizers and rng excepted),
        checked as the constructor checks them."""
        self._check_hyper(f"save: {self._owner}")
        return {"generator": self.generator, "discriminator": self.discriminator,
                "noise_dim": self.noise_dim, "k": self.k,
                "generator_loss": self.generator_loss, "noise": self.noise}

    def generator_parameters(self):
        """The parameters the generator's optimizer updates."""
        return self.generator.parameters()

    def discriminator_parameters(self):
        """The parameters the discriminator's optimizer updates."""
        return self.discriminator.parameters()

    def astype(self, dtype):
        """Cast every parameter and buffer to ``dtype``, and rebuild the optimizers.

        A cast to another dtype moves the parameters out of their optimizers'
        flat vectors. The optimizers this model built (the defaults, or from
        the callables given as ``optimizer_g`` / ``optimizer_d``) are rebuilt
        on the cast parameters, keeping their state (momentum, moments, step
        count, learning rate). An optimizer *instance* given to the
        constructor is the caller's: assign a new one
        (``gan.optimizer_g = ...``) before the next :meth:`fit`, which
        otherwise refuses to run.
        """
        super().astype(dtype)
        self._drop_derived()
        self._rebuild_optimizers()
        return self

    def _after_clone(self, original):
        """After ``Module.clone``'s structural copy of ``original`` (a clone of this GAN, or of
        a module holding it): its own optimizers and History.

        The optimizers this model built are rebuilt on the copy's parameters
        with the same state; an optimizer instance given to the constructor is
        the caller's: assign the copy one before its :meth:`fit`. The History
        is copied (the copy's fits append to its own). A random generator of
        its own (``rng`` given) is copied in its current state by
        ``Module.clone``; the library generator (``rng=None``) stays shared.
        """
        self._rebuild_optimizers()
        self.history = History.from_dict(original.history.to_dict())

    def _rebuild_optimizers(self):
        """Rebuild the optimizers built here (from the default or a callable) that no longer
        step this model's parameters, keeping their state (momentum, moments, step count,
        learning rate)."""
        for name, params in (("optimizer_g", self.generator_parameters()),
                             ("optimizer_d", self.discriminator_parameters())):
            old = getattr(self, name)
            given, built = self._optimizer_specs.get(name, (None, lambda: None))
            if built() is old and not _holds(old, params):
                new = self._optimizer(given, name, params)
                new.load_state_dict(old.state_dict())
                setattr(self, name, new)
                self._optimizer_specs[name] = (given, weakref.ref(new))

    def _dtype(self):
        for p in self.generator.parameters():
            return p.data.dtype
        return np.dtype(np.float32)

    def _probe_inputs(self):
        return np.zeros((2, self.noise_dim), dtype=self._dtype()), None

    def _probe(self):
        """Run G and D on two noise vectors: the shapes must fit, D must give one logit."""
        owner = self._owner
        z, y = self._probe_inputs()
        with self.evaluating(), no_grad():
            try:
                fake = self._generate(Tensor(z), y)
            except ValueError as err:
                raise ValueError(f"{owner}: the generator does not accept noise of noise_dim="
                                 f"{self.noise_dim}{self._cond_text()} ({err})") from None
            self.sample_shape = tuple(fake.shape[1:])
            try:
                logit = self._discriminate(fake, y)
            except ValueError as err:
                raise ValueError(f"{owner}: the discriminator does not accept the generator's "
                                 f"samples of shape {self.sample_shape}{self._cond_text()} "
                                 f"({err})") from None
        shape = tuple(logit.shape)
        if not (shape == (2,) or shape == (2, 1)):
            raise ValueError(f"{owner}: the discriminator must output one logit per example, "
                             f"shape (m, 1) or (m,); it gives {shape[1:]} per example")

    def _cond_text(self):
        return ""

    def _optimizer(self, given, name, params):
        owner = self._owner
        if given is None:
            return SGD(params, lr=0.05, momentum=0.5)
        opt = given
        if not (callable(getattr(given, "step", None)) and hasattr(given, "zero_grad")):
            if not callable(given):
                raise TypeError(f"{owner}: {name} must be an rb.optim optimizer or a callable "
                                f"params -> optimizer; got {type(given).__name__}")
            opt = given(params)
            if not _is_optimizer(opt):
                raise TypeError(f"{owner}: {name}(params) must return an rb.optim optimizer; "
                                f"got {type(opt).__name__}")
        _refuse_closure(opt, owner, name)
        held = getattr(getattr(opt, "vec", None), "params", None)
        if held is not None:
            mine = {id(p) for p in params}
            other = {id(p) for p in (self.discriminator_parameters() if name == "optimizer_g"
                                     else self.generator_parameters())}
            ids = {id(p) for p in held}
            net = "generator" if name == "optimizer_g" else "discriminator"
            if ids & other:
                raise ValueError(f"{owner}: {name} holds parameters of the other network; "
                                 f"build one optimizer per network ({name} on "
                                 f"{net}.parameters())")
            if mine and not ids & mine:
                raise ValueError(f"{owner}: {name} holds none of the {net}'s parameters; build "
                                 f"it on {net}.parameters()")
            missing = [p for p in params if p.requires_grad and id(p) not in ids]
            if missing:  # they would get gradients that nothing applies (or clears)
                names = {id(p): key for key, p in self.named_parameters()}
                listed = ", ".join(names.get(id(p), f"shape {p.shape}") for p in missing)
                own = {id(p) for p in getattr(self, net).parameters()}
                # a label embedding is made here: only a callable can be given it
                other_way = (f", or build it on {net}.parameters() (a parameter meant to stay "
                             f"fixed: set its requires_grad = False)"
                             if all(id(p) in own for p in missing) else "")
                raise ValueError(
                    f"{owner}: {name} does not hold the {net}'s trainable parameters {listed}, "
                    f"which would never learn; pass {name} as a callable params -> optimizer "
                    f"(e.g. lambda params: rb.optim.Adam(params, lr=1e-3)), which is given "
                    f"them all{other_way}")
        return opt

    # -- the networks ----------------------------------------------------------------
    def _generate(self, z, y):
        return self.generator(z)

    def _discriminate(self, x, y):
        return self.discriminator(x)

    def forward(self, z):
        """G(z): the generator's samples for the noise ``z``."""
        return self._generate(z if isinstance(z, Tensor) else Tensor(np.asarray(z)), None)

    def draw_noise(self, n, rng=None):
        """``n`` draws from the noise prior p_z, shape (n, noise_dim); ``n`` >= 0."""
        n = positive_int(f"{self._owner}.draw_noise", "n", n, allow_zero=True)
        return self._noise(n, self.rng if rng is None else resolve_rng(rng), self._dtype())

    def _noise(self, n, rng, dtype):
        """:meth:`draw_noise` for a known parameter ``dtype`` (``fit`` finds it once: the
        search walks the generator's modules, 60 us a draw on the benchmark's GAN)."""
        draw_dtype = dtype if dtype in (np.float32, np.float64) else np.float64
        if self.noise == "gaussian":
            z = rng.standard_normal((n, self.noise_dim), dtype=draw_dtype)
        else:
            z = rng.random((n, self.noise_dim), dtype=draw_dtype)
            z *= 2
            z -= 1
        return z.astype(dtype, copy=False)

    # -- the costs ---------------------------------------------------------------------
    def discriminator_loss(self, real_logits, fake_logits):
        """The minimised discriminator cost, -(scale/m) sum [log D(x) + log(1 - D(G(z)))].

        ``scale`` is 1 for the GAN (the notes' algorithm) and 1/2 for the
        conditional GAN (the notes' J_D). Inputs are Tensors of logits.
        """
        m = real_logits.shape[0]
        loss = _logit_loss(real_logits, 1.0) + _logit_loss(fake_logits, 0.0)
        return loss * (self._d_scale / m)

    def generator_objective(self, fake_logits):
        """The minimised generator cost on D's logits for G(z).

        "minimax": (1/m) sum log(1 - D(G(z))); "non_saturating": -(1/m) sum log D(G(z)).
        """
        if self.generator_loss == "minimax":
            return -_logit_loss(fake_logits, 0.0, reduction="mean")
        return _logit_loss(fake_logits, 1.0, reduction="mean")

    # -- training ----------------------------------------------------------------------
    def _check_data(self, X, where="fit"):
        """``X`` as a finite array of examples shaped like the generator's samples, in the
        model's dtype; ``fit`` needs at least one, the other methods (``where``) also take a
        single sample (as one row) and none."""
        owner = f"{self._owner}.{where}"
        X = X.data if isinstance(X, Tensor) else np.asarray(X)
        if X.dtype.kind not in "fiub":
            raise TypeError(f"{owner}: X must be a numeric array; got dtype {X.dtype}")
        X = X.astype(self._dtype(), copy=False)
        if where != "fit" and tuple(X.shape) == self.sample_shape:
            X = X[None]  # one sample
        if X.ndim == 0 or (where == "fit" and len(X) == 0):
            raise ValueError(f"{owner}: X must hold at least one example; got shape {X.shape}")
        if tuple(X.shape[1:]) != self.sample_shape:
            raise ValueError(f"{owner}: X has examples of shape {tuple(X.shape[1:])} but the "
                             f"generator makes {self.sample_shape}")
        if not np.isfinite(X).all():
            raise ValueError(f"{owner}: X contains NaN or infinite values")
        return X

    def _d_step(self, xb, yb, z, run, y_fake=None):
        """One D update on data ``xb`` (conditions ``yb``) and counterfeits G(z) (conditions
        ``y_fake``, default ``yb``); returns (loss, mean D(x), mean D(G(z)))."""
        m = len(xb)
        y_fake = yb if y_fake is None else y_fake
        with no_grad():
            fake = self._generate(Tensor(z), y_fake).data
        both = np.concatenate([xb, fake.astype(xb.dtype, copy=False)])
        y2 = None if yb is None else np.concatenate([yb, y_fake])
        logits = self._discriminate(Tensor(both), y2)
        target = np.zeros(logits.shape, dtype=logits.data.dtype)
        target[:m] = 1
        loss = binary_cross_entropy_with_logits(logits, target, reduction="sum")
        loss = loss * (self._d_scale / m)
        value = float(loss.item())
        self.optimizer_d.zero_grad()
        loss.backward()
        if run.backward_hooks:
            run.network = "discriminator"
            for cb in run.backward_hooks:
                cb.on_backward(run)
        self.optimizer_d.step()
        prob = 0.5 * (1 + np.tanh(0.5 * logits.data.reshape(-1).astype(np.float64)))
        return value, float(prob[:m].mean()), float(prob[m:].mean())

    def _g_step(self, z, yb, run):
        """One generator update on noise ``z``; D's parameters (``run.d_parameters``, its label
        embedding too) get no gradient."""
        frozen = [p for p in run.d_parameters if p.requires_grad]
        for p in frozen:
            p.requires_grad = False
        try:
            logits = self._discriminate(self._generate(Tensor(z), yb), yb)
            loss = self.generator_objective(logits)
            value = float(loss.item())
            self.optimizer_g.zero_grad()
            loss.backward()
        finally:
            for p in frozen:
                p.requires_grad = True
        if run.backward_hooks:
            run.network = "generator"
            for cb in run.backward_hooks:
                cb.on_backward(run)
        self.optimizer_g.step()
        return value

    def _conditions_state(self):
        """What :meth:`_fit_conditions` changes, for :meth:`_put_back_conditions` (here the
        model's generator state; the conditional GAN adds its conditions)."""
        return {"rng": self.rng.bit_generator.state}

    def _put_back_conditions(self, kept):
        self.rng.bit_generator.state = kept["rng"]

    def _fit_conditions(self, y, n):
        if y is not None:
            raise ValueError(f"{self._owner}.fit: an unconditional GAN takes no conditions y; "
                             f"use rb.models.ConditionalGAN")
        return None

    def _drop_derived(self):
        """After the state was replaced (a resume, a cast): drop what was computed from it
        (the conditional GAN's condition estimate, rebuilt from the buffers when needed)."""

    def _g_conditions(self, y, order, cursor, m, rng):
        """The conditions of a generator step (none here; see ConditionalGAN)."""
        return None

    def _fake_conditions(self, yb, rng):
        """The conditions of a discriminator step's counterfeits (see ConditionalGAN)."""
        return yb

    def fit(self, X, epochs, batch_size=64, callbacks=None, *, y=None, resume_from=None):
        """Train by the notes' algorithm; returns the History (also ``self.history``).

        Parameters
        ----------
        X : array_like (n, ...)
            The data, shaped like the generator's samples.
        epochs : int
        batch_size : int, default 64
            m, the minibatch size of both data and noise.
        callbacks : rb.callbacks.Callback or sequence of them, optional
            Called at train begin/end, each epoch's begin/end, after each
            iteration (``on_batch_end``, with the epoch's running means) and
            after each backward pass of either network (``on_backward``), with
            a run object holding ``model``, ``optimizer_g``, ``optimizer_d``,
            ``history``, ``epoch``, ``batch``, ``n_batches``, ``steps``,
            ``network`` and ``stop_training``. Its ``optimizer`` stands for
            both optimizers' learning rates: ``LearningRateScheduler`` and
            ``ReduceLROnPlateau`` set the discriminator's rate and scale the
            generator's alike (equal rates stay equal). ``EarlyStopping`` may
            monitor ``d_loss`` or ``g_loss`` only with ``restore_best=False``
            (the game's losses do not rank the generator's epochs).
            ``rb.callbacks.Checkpoint`` writes what ``resume_from`` needs;
            ``rb.callbacks.Rewire`` is refused.
        y : None
            Only the conditional GAN takes conditions (:class:`ConditionalGAN`).
        resume_from : str or os.PathLike, optional
            A file written by ``rb.callbacks.Checkpoint`` in this method: load
            both networks' weights and buffers, both optimizers' states, the
            states of every random generator the run draws from (the model's,
            its modules', the library's, the optimizers' own such as
            ``rb.optim.GradientNoise``'s), the History and the callbacks'
            states (EarlyStopping's best epoch and weights, too; each goes to
            this run's callback of its kind, as in ``rb.fit``), then train
            from the next epoch up to ``epochs`` (counted from the start of
            the run). The result equals the uninterrupted run's bit for bit.
            A file that does not exist yet starts the run from scratch (the
            same call starts and resumes); a checkpoint of a run that stopped
            early returns its History at once.

        Returns
        -------
        History

        Raises
        ------
        FloatingPointError
            When a loss or a parameter stops being finite (the learning rates are too
            high): both networks' weights and buffers and both optimizers' states of the
            end of the last good epoch (of before this fit, in its first epoch) are put
            back first, as ``RBM.fit`` and ``rb.fit`` keep the last good weights.
        ValueError
            For a ``Rewire`` callback, an ``EarlyStopping`` that would restore
            the weights of the best ``d_loss``, ``g_loss``, ``d_real`` or
            ``d_fake``, an optimizer that no longer holds its network's
            parameters (after ``astype``), or a ``resume_from`` file that is
            not this method's checkpoint.
        rosenblatt.io.FormatError
            For a ``resume_from`` file of another architecture, or whose
            saved state does not fit this model's optimizers, its generators
            or its callbacks, or holds NaN or infinite weights or optimizer
            state: checked before anything changes (a refused resume leaves
            the model, its optimizers, generators and conditions as they
            were).
        """
        owner = self._owner
        self._check_hyper(f"{owner}.fit")  # (set since construction, maybe)
        X = self._check_data(X)
        epochs = positive_int(f"{owner}.fit", "epochs", epochs, allow_zero=True)
        m = positive_int(f"{owner}.fit", "batch_size", batch_size)
        n = len(X)
        if m > n:
            raise ValueError(f"{owner}.fit: batch_size {m} is larger than the {n} examples")
        iterations = max(1, n // (self.k * m))
        per_epoch = n // m
        self._check_optimizers()
        run = _Run(self, iterations)
        callbacks = self._check_callbacks(callbacks, run)  # before the conditions are kept
        resume = resume_from is not None and os.path.exists(os.fspath(resume_from))
        if resume or any(isinstance(cb, Checkpoint) for cb in callbacks):
            self._check_resumable()
        run.backward_hooks = [cb for cb in callbacks  # (a LambdaCallback's are its own)
                              if type(cb).on_backward is not Callback.on_backward
                              or "on_backward" in vars(cb)]
        kept = self._conditions_state() if resume else None
        Y = self._fit_conditions(y, n)
        if resume:  # after the conditions: the checkpoint's state replaces what fit drew
            try:  # (the model's size, n_conditions, is that of the conditions just kept)
                checked = self._check_resume(resume_from, run, callbacks)
            except BaseException:  # refused: the model as it was, conditions and generator too
                self._put_back_conditions(kept)
                raise
            done, stopped = self._apply_resume(checked, run, callbacks)
            run.start_epoch = epochs if stopped else done
            run.steps = done * iterations
        modes = [(mod, mod.training) for mod in self.modules()]
        self.train()
        hold_frozen_normalization(self)  # a frozen body keeps its statistics, as in rb.fit
        for cb in callbacks:
            cb.on_train_begin(run)
        try:
            self._loop(X, Y, epochs, m, n, iterations, per_epoch, callbacks, run)
        finally:
            for mod, mode in modes:
                mod.training = mode
        for cb in callbacks:
            cb.on_train_end(run)
        return self.history

    def _check_callbacks(self, callbacks, run):
        owner = self._owner
        callbacks = callback_list(f"{owner}.fit", callbacks)
        for cb in callbacks:
            if isinstance(cb, Rewire):
                raise ValueError(f"{owner}.fit: rb.callbacks.Rewire resets the state of rb.fit's "
                                 f"one optimizer; a GAN has two (optimizer_g, optimizer_d) and "
                                 f"cannot be rewired")
            if isinstance(cb, EarlyStopping) and cb.restore_best and cb.monitor in _GAME_LOGS:
                raise ValueError(
                    f"{owner}.fit: EarlyStopping(monitor={cb.monitor!r}, restore_best=True) "
                    f"would put back both networks' weights of the epoch of best "
                    f"{cb.monitor}, but the game's numbers do not rank the generator's epochs "
                    f"(a low d_loss means the discriminator is winning); pass "
                    f"restore_best=False, or monitor a sample-quality measure that another "
                    f"callback adds to the logs")
            if isinstance(cb, (LearningRateScheduler, ReduceLROnPlateau)) and run.optimizer is None:
                raise TypeError(f"{owner}.fit: {type(cb).__name__} sets the learning rates, but "
                                f"optimizer_g ({type(self.optimizer_g).__name__}) or optimizer_d "
                                f"({type(self.optimizer_d).__name__}) has no lr attribute")
        return callbacks

    def _check_optimizers(self):
        owner = self._owner
        for name, net in (("optimizer_g", "generator"), ("optimizer_d", "discriminator")):
            opt = getattr(self, name)
            _refuse_closure(opt, f"{owner}.fit", name)
            if not _holds(opt, getattr(self, f"{net}_parameters")()):
                raise ValueError(
                    f"{owner}.fit: {name} no longer holds the {net}'s parameters (they were cast "
                    f"by astype, packed into another optimizer since it was built, or belong to "
                    f"the model this one was cloned from), so its steps would not move them; "
                    f"assign a new one, e.g. gan.{name} = "
                    f"rb.optim.{type(opt).__name__}(gan.{net}_parameters(), ...)")

    def _check_resumable(self):
        """A checkpoint stores both optimizers' ``state_dict()``: they must have one."""
        for name in ("optimizer_g", "optimizer_d"):
            opt = getattr(self, name)
            if not all(callable(getattr(opt, f, None)) for f in ("state_dict", "load_state_dict")):
                raise TypeError(f"{self._owner}.fit: a checkpoint stores {name}'s state, but "
                                f"{type(opt).__name__} has no state_dict()/load_state_dict()")

    # -- checkpoints -------------------------------------------------------------------
    def _generators(self):
        """Every random generator a fit draws from, by a stable name: the library's, the
        model's and its modules' (Dropout's ...) and the optimizers' own (GradientNoise's, also
        of the optimizer it wraps), as ``Trainer.generators`` names them."""
        found, seen = {}, set()

        def add(name, value):
            if isinstance(value, np.random.Generator) and id(value) not in seen:
                seen.add(id(value))
                found[name] = value

        add("library", generator())
        stack, walked = [("model", self)], set()
        while stack:
            prefix, module = stack.pop(0)
            if id(module) in walked:  # shared, or a back-reference to a parent (a cycle)
                continue
            walked.add(id(module))
            for attr, value in vars(module).items():
                add(f"{prefix}.{attr}", value)
            stack.extend((f"{prefix}.{name}", child) for name, child in module.named_children())
        for name in ("optimizer_g", "optimizer_d"):
            opt = getattr(self, name)
            for prefix, owner in ((name, opt), (f"{name}.inner", getattr(opt, "optimizer", None))):
                for attr, value in (vars(owner).items() if hasattr(owner, "__dict__") else ()):
                    add(f"{prefix}.{attr}", value)
        return found

    def _save_checkpoint(self, path, run, callbacks, epochs_done):
        """Write what :meth:`fit`'s ``resume_from`` loads (as ``Trainer.save_checkpoint``):
        the model (``rb.load`` reads it alone), and in the metadata the epochs done, the
        generators' states, the History, the callbacks' states, whether training stopped,
        both optimizers' ``state_dict()`` (a scheduled one's ``lr_scale`` too) and the ratio
        of the two learning rates that learning-rate callbacks keep."""
        from ..io import save  # io sits below models, but imports lazily keep start-up light

        metadata = {
            "epoch": int(epochs_done),
            "generators": {k: g.bit_generator.state for k, g in self._generators().items()},
            "history": self.history.to_dict(),
            "callbacks": [cb.state_dict() if callable(getattr(cb, "state_dict", None)) else None
                          for cb in callbacks],
            # which callback each state belongs to: a resume matches them by kind, as rb.fit
            "callback_kinds": [callback_kind(cb) for cb in callbacks],
            "stopped": bool(run.stop_training),
            "optimizers": {"optimizer_g": self.optimizer_g.state_dict(),
                           "optimizer_d": self.optimizer_d.state_dict()},
            "lr_ratio": None if run.optimizer is None else run.optimizer._ratio,
        }
        save(self, path, metadata=metadata, training_checkpoint=True)

    def _check_resume(self, path, run, callbacks):
        """Check a :meth:`_save_checkpoint` file against this run without changing anything
        (the architecture, both optimizers' states, the generators, the callbacks' states, the
        History, finite weights); returns what :meth:`_apply_resume` loads."""
        from ..io import FormatError, load_checkpoint
        from ..io.checkpoint_schema import check_checkpoint, check_optimizer_state
        from ..nn import registry

        owner, where = self._owner, os.fspath(path)
        ckpt = load_checkpoint(path)
        meta = ckpt.metadata
        optimizers = meta.get("optimizers") if isinstance(meta, dict) else None
        if not isinstance(meta, dict) or "epoch" not in meta or not isinstance(optimizers, dict):
            raise ValueError(f"{owner}.fit: {where} is not a {owner} training checkpoint (one "
                             f"written by rb.callbacks.Checkpoint in {owner}.fit)")
        difference = registry.describe_difference(registry.spec_of(ckpt.model),
                                                  registry.spec_of(self))
        if difference is not None:
            raise FormatError(f"{owner}.fit: {where} holds another architecture than the model "
                              f"being trained: {difference}")
        for name in ("optimizer_g", "optimizer_d"):  # every check before any change
            try:
                check_optimizer_state(optimizers.get(name), getattr(self, name))
            except FormatError as err:
                raise FormatError(f"{owner}.fit: {where}: {name}: {err}") from None
        ratio, stopped = meta.get("lr_ratio"), meta.get("stopped", False)
        if ratio is not None and (isinstance(ratio, bool) or not isinstance(ratio, (int, float))
                                  or not math.isfinite(ratio)):
            raise FormatError(f"{owner}.fit: {where}: \"lr_ratio\" must be a finite number or "
                              f"null; got {ratio!r:.40}")
        if not isinstance(stopped, bool):  # a hand-edited file: "no" is truthy
            raise FormatError(f"{owner}.fit: {where}: \"stopped\" must be true or false; got "
                              f"{stopped!r:.40}")
        # each saved callback state goes to this run's callback of its kind (as in rb.fit)
        # (a warning names the caller's line: ConditionalGAN.fit adds a frame)
        level = 4 if type(self).fit is GAN.fit else 5
        matched = match_callback_states(meta, callbacks, path, f"{owner}.fit", stacklevel=level)
        try:  # the generators, History and callbacks' states (on copies) against this run
            check_checkpoint(ckpt, None, self._generators(), placed_callbacks(matched, callbacks),
                             self, history="model")
        except FormatError as err:
            raise FormatError(f"{owner}.fit: {where}: {err}") from None
        for name, p in ckpt.model.named_parameters():
            if not np.all(np.isfinite(p.data)):
                raise FormatError(f"{owner}.fit: {where}: checkpoint weights {name!r} hold NaN "
                                  f"or infinite values (a corrupt file, or a run that had "
                                  f"diverged)")
        return ckpt, ratio, stopped, placed_callbacks(matched, callbacks)

    def _apply_resume(self, checked, run, callbacks):
        """Load a checked checkpoint in place; returns (epochs done, stopped)."""
        ckpt, ratio, stopped, owners = checked
        meta, optimizers = ckpt.metadata, ckpt.metadata["optimizers"]
        self.load_state_dict(ckpt.model.state_dict())
        self.optimizer_g.load_state_dict(optimizers["optimizer_g"])
        self.optimizer_d.load_state_dict(optimizers["optimizer_d"])
        gens = self._generators()
        for name, state in meta.get("generators", {}).items():
            if name in gens:
                gens[name].bit_generator.state = state
        self.history = run.history = History.from_dict(meta.get("history", {}))
        if run.optimizer is not None:
            run.optimizer._ratio = None if ratio is None else float(ratio)
        for cb, state in zip(owners, meta.get("callbacks", [])):
            if state is not None and callable(getattr(cb, "load_state_dict", None)):
                cb.load_state_dict(state)
        self._drop_derived()
        return int(meta["epoch"]), stopped

    def _loop(self, X, Y, epochs, m, n, iterations, per_epoch, callbacks, run):
        owner, dtype, rng = self._owner, self._dtype(), self.rng
        with np.errstate(over="ignore", under="ignore"):
            for epoch in range(run.start_epoch, epochs):
                run.epoch = epoch
                good = self._snapshot()
                started = time.perf_counter()
                for cb in callbacks:
                    cb.on_epoch_begin(run, epoch)
                order = rng.permutation(n)
                cursor = 0
                sums = np.zeros(4)
                diverged = None
                try:
                    for it in range(iterations):
                        run.batch = it
                        for _ in range(self.k):
                            if cursor + m > per_epoch * m:  # k m > n: wrap around the data
                                cursor = 0
                            z = self._noise(m, rng, dtype)
                            rows = order[cursor:cursor + m]
                            cursor += m
                            yb = None if Y is None else Y[rows]
                            d = self._d_step(X[rows], yb, z, run, self._fake_conditions(yb, rng))
                            sums[0] += d[0]
                            sums[2] += d[1]
                            sums[3] += d[2]
                        z = self._noise(m, rng, dtype)
                        sums[1] += self._g_step(z, self._g_conditions(Y, order, cursor, m, rng),
                                                run)
                        run.steps += 1
                        run.x_batch = self._monitor_input(z)
                        if not math.isfinite(sums[0] + sums[1]):
                            diverged = f"a loss became {sums[0] + sums[1]} at epoch {epoch}, " \
                                       f"iteration {it}"
                            break
                        if callbacks:
                            d_steps = (it + 1) * self.k
                            logs = {"d_loss": sums[0] / d_steps, "g_loss": sums[1] / (it + 1),
                                    "d_real": sums[2] / d_steps, "d_fake": sums[3] / d_steps}
                            for cb in callbacks:
                                cb.on_batch_end(run, it, logs)
                    # the losses are those before each step: the last steps are judged here
                    if diverged is None and not all(np.isfinite(p.data).all()
                                                    for p in self.parameters()):
                        diverged = f"the parameters stopped being finite in epoch {epoch}"
                except FloatingPointError as err:  # np.seterr(all="raise") in force
                    diverged, cause = f"{err} in epoch {epoch}", err
                else:
                    cause = None
                if diverged is not None:
                    self._restore(good)
                    kept = "from before this fit" if epoch == run.start_epoch else \
                        f"of the end of epoch {epoch - 1}"
                    raise FloatingPointError(
                        f"{owner}.fit: {diverged}; lower the learning rates; the weights and "
                        f"optimizer states {kept} were kept") from cause
                d_steps = iterations * self.k
                logs = {"d_loss": sums[0] / d_steps, "g_loss": sums[1] / iterations,
                        "d_real": sums[2] / d_steps, "d_fake": sums[3] / d_steps,
                        "time": time.perf_counter() - started}
                for cb in callbacks:
                    cb.on_epoch_end(run, epoch, logs)
                self.history.append(len(self.history), logs)
                for path in run.pending_checkpoints:
                    self._save_checkpoint(path, run, callbacks, epoch + 1)
                run.pending_checkpoints.clear()
                if run.stop_training:
                    break

    def _snapshot(self):
        """Copies of what an epoch changes (both networks' parameters and buffers, both
        optimizers' states), put back by :meth:`_restore` when the epoch diverges."""
        states = []
        for name in ("optimizer_g", "optimizer_d"):
            state_dict = getattr(getattr(self, name), "state_dict", None)
            states.append(state_dict() if callable(state_dict) else None)
        return self.state_dict(), states

    def _restore(self, good):
        state, opt_states = good
        self.load_state_dict(state)
        for name, opt_state in zip(("optimizer_g", "optimizer_d"), opt_states):
            if opt_state is not None:
                getattr(self, name).load_state_dict(opt_state)
        self._drop_derived()

    def _monitor_input(self, z):
        """What ``model(x_batch)`` runs for callbacks (GradientMonitor's dead units): G(z)."""
        return z

    # -- sampling ----------------------------------------------------------------------
    def sample(self, n, rng=None):
        """``n`` samples G(z), z drawn from the prior (eval mode, no graph); ndarray."""
        n = positive_int(f"{self._owner}.sample", "n", n)
        z = self.draw_noise(n, rng)
        with self.evaluating(), no_grad():
            return self._generate(Tensor(z), None).data

    def discriminate(self, X):
        """D(x), the probability the discriminator gives each row of ``X`` (eval mode), in
        the model's dtype; ``X`` (n, ...) shaped like the generator's samples, or one sample.

        Raises
        ------
        TypeError, ValueError
            For a non-numeric ``X``, examples of another shape, or NaN or infinite values.
        """
        X = self._check_data(X, "discriminate")
        with self.evaluating(), no_grad():
            logits = self._discriminate(Tensor(X), None).data.reshape(len(X))
        return _probability(logits)


def _probability(logits):
    """sigmoid(a) as 0.5 (1 + tanh(a / 2)): finite for any a, in the logits' dtype."""
    out = np.tanh(0.5 * logits)
    out += 1
    out *= 0.5
    return out
