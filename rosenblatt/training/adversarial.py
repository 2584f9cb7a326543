"""Adversarial examples and adversarial training (notes: "Adversarial examples").

The notes: "Adding noise to input [...] can throw off a classifier. Few
strategies are robust against these tricks, but one approach is to generate
these adversarial examples and include them as part of the training set."

The noise is found with the gradient of the loss with respect to the
*input*, by the same backpropagation that trains the network:

- :func:`fgsm`, the fast gradient sign method (Goodfellow, Shlens and
  Szegedy 2015): ``x_adv = clip(x + eps sign(dJ/dx))``, the worst
  perturbation of max-norm ``eps`` for a model that is linear in its input;
- :func:`pgd`, its iterated form (Kurakin et al. 2017, Madry et al. 2018):
  ``steps`` signed steps of size ``step``, each projected back onto the
  ``eps`` ball around ``x`` and the valid pixel range;
- :class:`FGSM` / :class:`PGD` as an ``rb.fit`` option,
  ``rb.fit(..., adversarial=rb.adversarial.FGSM(eps=0.1, alpha=0.5))``: every
  step trains on ``alpha J(x) + (1 - alpha) J(x_adv)``, with ``x_adv``
  regenerated against the current weights at every step (Goodfellow et al.'s
  adversarial objective).

``clip`` (default ``(0, 1)``) is the valid input range, pixels. Data outside
it (standardised features) would be clamped into it, moving the inputs far
more than ``eps``, so it is refused with a ``ValueError``: pass ``clip=None``
(or a range that contains the data) for such inputs. In ``rb.fit`` the attack
perturbs the batch the model trains on, after ``augment`` and input-noise
regularizers (``InputNoise``), which may leave ``clip``: a component outside it
is never moved further out, nor pulled back by more than ``eps`` (the clip
range then bounds the perturbation, not the noise), so ``|x_adv - x| <= eps``
always holds.

Integer inputs (pixels as ``uint8``) are attacked as float32, as the layers
read them: a perturbation of ``eps`` is fractional.
"""

import numpy as np

from ..autodiff.tensor import Tensor, _grad_mode
from ..checks import boolean, positive_float, positive_int, unit_interval
from ..nn import losses as losses_module
from ..nn.module import Module

__all__ = ["FGSM", "PGD", "fgsm", "input_gradient", "pgd"]

_LOSSES = ("cross_entropy", "mse", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "nll", "log_loss", "hinge", "max_margin")


def _loss_fn(loss, owner):
    if isinstance(loss, str):
        if loss not in _LOSSES:
            raise ValueError(f"{owner}: unknown loss {loss!r}; use one of {_LOSSES} or a "
                             f"callable fn(pred, target) -> Tensor")
        return getattr(losses_module, loss)
    if callable(loss):
        return loss
    raise TypeError(f"{owner}: loss must be a name or a callable; got {type(loss).__name__}")


def _check(model, x, eps, clip, owner):
    if not isinstance(model, Module):
        raise TypeError(f"{owner}: model must be an rb.nn.Module; got {type(model).__name__}")
    eps = positive_float(owner, "eps", eps, allow_zero=True)
    x = _as_input(x, owner)
    _check_clip(clip, owner)
    check_range(x, clip, owner)
    return x, eps


def _as_input(x, owner=None):
    """``x`` as a floating ndarray (integers and booleans become float32, as the layers read
    them); with ``owner``, refused when it is not a real numeric array (None, strings, complex
    numbers, objects: a cast would parse, truncate or report them as NaN) or holds NaN or
    infinite values (one pass)."""
    if owner is not None and not isinstance(x, Tensor):
        try:
            x = np.asarray(x)
        except ValueError as err:  # a ragged nesting of lists
            raise ValueError(f"{owner}: x must be a numeric array; got {type(x).__name__} that "
                             f"NumPy cannot make one array of ({err})") from None
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{owner}: x must be an array of real numbers; got dtype {x.dtype}")
    x = x.data if isinstance(x, Tensor) else np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float32)
    if owner is not None and not np.isfinite(x).all():
        raise ValueError(f"{owner}: x contains NaN or infinite values")
    return x


def _batch_clip(x, clip):
    """The clip range for a batch of ``rb.fit`` (after augment and input noise): ``clip``
    itself, or where the batch left it, per component ``[min(x, low), max(x, high)]``, so that
    clipping never moves a component by more than the perturbation."""
    if clip is None or x.size == 0 or (x.min() >= clip[0] and x.max() <= clip[1]):
        return clip
    return np.minimum(x, clip[0]), np.maximum(x, clip[1])


def _check_clip(clip, owner):
    """Raise unless ``clip`` is None or a pair of numbers ``(low, high)`` with low < high."""
    if clip is None:
        return
    number = (int, float, np.integer, np.floating)
    ok = isinstance(clip, (tuple, list, np.ndarray)) and len(clip) == 2 and all(
        isinstance(v, number) and not isinstance(v, bool) for v in clip) and clip[0] < clip[1]
    if not ok:
        raise ValueError(f"{owner}: clip must be (low, high) with low < high, or None; "
                         f"got {clip!r}")


def check_range(x, clip, owner):
    """Raise when ``x`` lies outside ``clip``: clipping would move it by more than ``eps``.

    Its min and max: two passes over ``x``; a NaN passes (the attacks refuse it first, and
    ``rb.fit`` refuses non-finite data).
    """
    if clip is None or np.size(x) == 0:
        return
    low, high = np.min(x), np.max(x)  # NaN compares False: it passes
    if low < clip[0] or high > clip[1]:
        raise ValueError(
            f"{owner}: the inputs lie in [{float(low):.4g}, {float(high):.4g}], outside "
            f"clip=({clip[0]:g}, {clip[1]:g}) (the valid pixel range); clipping them would "
            f"move them by more than eps. For standardised inputs pass clip=None, or a clip "
            f"range that contains the data")


def input_gradient(model, x, y, loss="cross_entropy"):
    """dJ/dx: the gradient of the loss with respect to each input.

    The loss is the one the fit loop minimises: the batch mean for the
    ``rb.losses`` functions (a loss returning one value per example is
    summed), so each row's gradient is ``1 / batch`` of its own example's.

    The model runs in evaluation mode (its modes are restored after) and its
    parameters receive no gradient.

    Returns
    -------
    ndarray, shaped like ``x`` (float32 for integer ``x``)

    Raises
    ------
    TypeError
        When ``x`` is not an array of real numbers (None, strings, complex numbers).
    ValueError
        When ``x`` holds NaN or infinite values, or the model's output does not
        depend on ``x`` through differentiable operations (an ``Embedding`` of
        integer inputs).
    """
    fn = _loss_fn(loss, "input_gradient")
    return _input_gradient(model, _as_input(x, "input_gradient"), y, fn, "input_gradient")


def _input_gradient(model, x, y, fn, owner):
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:  # no weight gradients: only dJ/dx is wanted
        p.requires_grad = False
    recording = _grad_mode.enabled
    # the attack needs its own graph even when called inside rb.no_grad() (an evaluation
    # block): switch recording on for the forward and backward (PyTorch: enable_grad())
    _grad_mode.enabled = True
    try:
        xt = Tensor(x, requires_grad=True)
        with model.evaluating():
            pred = model(xt)
            target = y
            if getattr(pred, "ndim", 0) == 2 and pred.shape[1] == 1 and np.ndim(y) == 1 \
                    and fn not in (losses_module.cross_entropy, losses_module.nll,
                                   losses_module.max_margin):
                target = np.asarray(y).reshape(-1, 1)
            value = fn(pred, target)
            if value.ndim:
                value = value.sum()
            if not getattr(value, "requires_grad", False):
                raise ValueError(_NO_INPUT_GRADIENT.format(owner=owner))
            value.backward()
    finally:
        _grad_mode.enabled = recording
        for p in params:
            p.requires_grad = True
    if xt.grad is None:
        raise ValueError(_NO_INPUT_GRADIENT.format(owner=owner))
    return xt.grad


_NO_INPUT_GRADIENT = ("{owner}: the model's output does not depend on x through differentiable "
                      "operations (e.g. an Embedding of integer inputs), so there is no input "
                      "gradient to attack")


def _project(xa, x, eps, clip):
    np.clip(xa, x - eps, x + eps, out=xa)
    if clip is not None:
        np.clip(xa, clip[0], clip[1], out=xa)
    return xa


def fgsm(model, x, y, eps, loss="cross_entropy", clip=(0.0, 1.0)):
    """The fast gradient sign method: ``clip(x + eps sign(dJ/dx))``.

    Parameters
    ----------
    model : rb.nn.Module
    x : array_like (batch, ...)
    y : array_like
        The targets the loss compares with (true labels: the perturbation
        raises their loss).
    eps : float >= 0
        The max-norm of the perturbation (per input component).
    loss : str or callable, default "cross_entropy"
        A name of ``rb.losses`` or ``fn(pred, target) -> Tensor``.
    clip : (low, high) or None, default (0, 1)
        The valid input range (pixels): ``x`` must lie inside it (a
        ``ValueError`` otherwise). ``None`` for unbounded, e.g. standardised,
        inputs.

    Returns
    -------
    ndarray
        The adversarial inputs, shaped like ``x``, with ``|x_adv - x| <= eps``
        everywhere. A floating ``x`` keeps its dtype; an integer ``x`` (pixels
        as ``uint8``) comes back as float32, as the layers read integer inputs
        (a perturbation of ``eps`` is fractional).

    Raises
    ------
    TypeError
        When ``x`` is not an array of real numbers (None, strings, complex numbers).
    ValueError
        When ``x`` lies outside ``clip`` or holds NaN or infinite values, the
        model's output does not depend on ``x`` through differentiable
        operations (an ``Embedding`` of integer inputs), or the loss's gradient
        with respect to ``x`` is not finite (NaN targets, a diverged model).

    Notes
    -----
    .. math:: \\tilde x = x + \\epsilon \\, \\mathrm{sign}(\\nabla_x J(\\theta, x, y))

    References
    ----------
    Goodfellow, Shlens and Szegedy, "Explaining and Harnessing Adversarial
    Examples", ICLR 2015.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> net = rb.nn.Dense(2, 2, rng=0)
    >>> x = np.array([[0.5, 0.5]], dtype=np.float32)
    >>> xa = rb.adversarial.fgsm(net, x, np.array([0]), eps=0.1)
    >>> np.abs(xa - x).max().round(3)
    np.float32(0.1)
    """
    x, eps = _check(model, x, eps, clip, "fgsm")
    fn = _loss_fn(loss, "fgsm")
    return _fgsm(model, x, y, eps, fn, clip, "fgsm", check=True)


def _finite_gradient(g, owner):
    """Raise unless the input gradient ``g`` is finite: the sign of NaN is NaN, which would
    put NaN in x_adv (|x_adv - x| <= eps would not hold). ``rb.fit``'s attacks skip this pass:
    there the loss's own divergence test stops the run."""
    if not np.isfinite(g).all():
        raise ValueError(f"{owner}: the loss's gradient with respect to x holds NaN or infinite "
                         f"values (NaN among the targets y, or a model whose weights or outputs "
                         f"are not finite), so there is no direction to perturb x in")
    return g


def _fgsm(model, x, y, eps, fn, clip, owner, check=False):
    """FGSM on a checked floating ``x``; ``clip`` None, (low, high) or per-component bounds;
    ``check``: refuse a non-finite input gradient (the public functions)."""
    g = _input_gradient(model, x, y, fn, owner)
    if check:
        _finite_gradient(g, owner)
    xa = np.sign(g).astype(x.dtype, copy=False)
    xa *= eps
    xa += x
    if clip is not None:
        np.clip(xa, clip[0], clip[1], out=xa)
    return xa


def pgd(model, x, y, eps, step, steps, loss="cross_entropy", clip=(0.0, 1.0),
        random_start=False, rng=None):
    """Projected gradient descent on the loss (iterated FGSM) inside the ``eps`` max-norm ball.

    Parameters
    ----------
    model, x, y, eps, loss, clip
        As in :func:`fgsm`.
    step : float > 0
        The size of each signed step.
    steps : int
    random_start : bool, default False
        Start from a uniform point in the ball (Madry et al.) instead of ``x``.
    rng : numpy.random.Generator or int, optional
        For the random start.

    Returns
    -------
    ndarray
        Adversarial inputs with ``|x_adv - x| <= eps`` everywhere, dtype as in
        :func:`fgsm` (float32 for integer ``x``).

    Raises
    ------
    TypeError, ValueError
        As :func:`fgsm` (checked at every step for a non-finite gradient).

    Notes
    -----
    .. math:: x^{t+1} = \\Pi_{\\|\\tilde x - x\\|_\\infty \\le \\epsilon}
              (x^t + \\alpha \\, \\mathrm{sign}(\\nabla_x J(\\theta, x^t, y)))

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> net = rb.nn.Dense(2, 2, rng=0)
    >>> x = np.array([[0.5, 0.5]], dtype=np.float32)
    >>> xa = rb.adversarial.pgd(net, x, np.array([0]), eps=0.1, step=0.03, steps=5)
    >>> bool(np.abs(xa - x).max() <= 0.1 + 1e-7)
    True
    """
    x, eps = _check(model, x, eps, clip, "pgd")
    step = positive_float("pgd", "step", step)
    steps = positive_int("pgd", "steps", steps)
    random_start = boolean("pgd", "random_start", random_start)
    fn = _loss_fn(loss, "pgd")
    return _pgd(model, x, y, eps, step, steps, fn, clip, random_start, rng, "pgd", check=True)


def _pgd(model, x, y, eps, step, steps, fn, clip, random_start, rng, owner, check=False):
    xa = x.copy()
    if random_start:
        from ..randomness import resolve_rng

        xa += resolve_rng(rng).uniform(-eps, eps, size=x.shape).astype(x.dtype)
        _project(xa, x, eps, clip)
    for _ in range(steps):
        g = _input_gradient(model, xa, y, fn, owner)
        if check:
            _finite_gradient(g, owner)
        xa += step * np.sign(g).astype(x.dtype, copy=False)
        _project(xa, x, eps, clip)
    return xa


class FGSM:
    """Adversarial training with FGSM examples, an ``rb.fit`` option.

    ``rb.fit(..., adversarial=FGSM(eps, alpha))`` trains on
    ``alpha J(x) + (1 - alpha) J(x_adv)``, ``x_adv = fgsm(model, x, y, eps)``
    regenerated against the current weights at every step, with the fit's
    own loss.

    Parameters
    ----------
    eps : float >= 0
    alpha : float in [0, 1], default 0.5
        The weight of the clean examples (Goodfellow et al. used 0.5).
    clip : (low, high) or None, default (0, 1)
        The valid input range (pixels). ``rb.fit`` checks once, before
        training, the settings (also those set since construction) and
        that ``X`` lies inside it (:meth:`check_data`); pass
        ``None`` for standardised inputs. A batch that ``augment`` or an
        input-noise regularizer moved outside it is perturbed by at most
        ``eps`` all the same (see the module's notes).

    Notes
    -----
    .. math:: \\tilde J(\\theta, x, y) = \\alpha J(\\theta, x, y) + (1 - \\alpha)
              J(\\theta, x + \\epsilon \\, \\mathrm{sign}(\\nabla_x J(\\theta, x, y)), y)

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> X = np.random.default_rng(0).random((32, 4)).astype(np.float32)
    >>> y = (X.sum(axis=1) > 2).astype(np.int64)
    >>> net = rb.nn.Dense(4, 2, rng=0)
    >>> h = rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(),
    ...            lr=0.1), epochs=2, progress=False, adversarial=rb.adversarial.FGSM(eps=0.05))
    >>> len(h["loss"])
    2
    """

    def __init__(self, eps, alpha=0.5, clip=(0.0, 1.0)):
        self.eps, self.alpha, self.clip = eps, alpha, clip
        self._check_settings(type(self).__name__)

    def _check_settings(self, owner):
        """Check (and make plain) the settings: the constructor's checks, run again by
        :meth:`check_data` (``rb.fit``, once before training) for values set since."""
        self.eps = positive_float(owner, "eps", self.eps, allow_zero=True)
        self.alpha = unit_interval(owner, "alpha", self.alpha, closed_high=True)
        _check_clip(self.clip, owner)

    def check_data(self, X, owner="fit"):
        """Raise when the settings are invalid (set since construction) or the training inputs
        ``X`` lie outside ``clip`` (once, before training)."""
        owner = f"{owner}: {type(self).__name__}"
        self._check_settings(owner)
        check_range(X, self.clip, owner)

    def perturb(self, model, x, y, loss_fn):
        """The adversarial version of the batch ``x`` against the current weights (float32
        for an integer batch), with ``|x_adv - x| <= eps``."""
        x = _as_input(x)
        return _fgsm(model, x, y, self.eps, loss_fn, _batch_clip(x, self.clip),
                     f"fit: {type(self).__name__}")

    def objective(self, model, clean_loss, x, y, loss_fn):
        """``alpha * clean_loss + (1 - alpha) * loss(model(x_adv), y)`` (the fit loop's hook)."""
        if self.alpha == 1.0:
            return clean_loss
        adv_loss = loss_fn(model(Tensor(self.perturb(model, x, y, loss_fn))), y)
        if self.alpha == 0.0:
            return adv_loss
        return clean_loss * self.alpha + adv_loss * (1.0 - self.alpha)

    def __repr__(self):
        return f"{type(self).__name__}(eps={self.eps}, alpha={self.alpha})"


class PGD(FGSM):
    """Adversarial training with PGD examples (see :class:`FGSM` and :func:`pgd`).

    Parameters
    ----------
    eps, alpha, clip
        As in :class:`FGSM`.
    step : float > 0
    steps : int
    """

    def __init__(self, eps, step, steps, alpha=0.5, clip=(0.0, 1.0)):
        self.step, self.steps = step, steps
        super().__init__(eps, alpha, clip)

    def _check_settings(self, owner):
        super()._check_settings(owner)
        self.step = positive_float(owner, "step", self.step)
        self.steps = positive_int(owner, "steps", self.steps)

    def perturb(self, model, x, y, loss_fn):
        x = _as_input(x)
        return _pgd(model, x, y, self.eps, self.step, self.steps, loss_fn,
                    _batch_clip(x, self.clip), False, None, f"fit: {type(self).__name__}")
