"""Resilient backpropagation (notes: "Resilient backpropgation (Rprop)").

Rprop ignores the size of the gradient: each weight has its own step size
Delta, multiplied by ``eta+`` while the gradient keeps its sign and by
``eta-`` when it flips, clipped to ``step_sizes``; the weight moves by
``-sign(g) Delta``. It is meant for full-batch learning.

Three variants, chosen by ``variant``:

``"irprop-"`` (default, PyTorch's ``Rprop``)
    After a sign change the gradient is treated as zero: that weight does not
    move this step, and the next step does not adapt its Delta.
``"rprop-"`` (the notes' description)
    Always ``W -= sign(g) Delta`` with the adapted Delta.
``"rprop+"`` (the original, with weight-backtracking)
    After a sign change the previous weight change is undone, and the
    gradient is treated as zero for the next step.
"""

import numpy as np

from ..checks import positive_float
from .optimizer import Optimizer, as_pair

VARIANTS = ("irprop-", "rprop-", "rprop+")


def rprop_rule(theta, grad, prev_grad, step_size, prev_update, buf, factor, *, etas,
               step_sizes, variant):
    """One Rprop step, in place.

    ``Delta *= eta+ if g g_prev > 0, eta- if < 0, 1 if 0``, clipped to
    ``step_sizes``; then the variant's move (see the module docstring).
    """
    eta_minus, eta_plus = etas
    np.multiply(grad, prev_grad, out=buf)
    flipped = buf < 0
    factor.fill(1.0)
    np.copyto(factor, eta_plus, where=buf > 0)
    np.copyto(factor, eta_minus, where=flipped)
    step_size *= factor
    np.clip(step_size, step_sizes[0], step_sizes[1], out=step_size)
    np.copyto(buf, grad)
    if variant != "rprop-":
        np.copyto(buf, 0.0, where=flipped)     # forget the gradient that flipped
    prev_grad[...] = buf
    np.sign(buf, out=buf)
    buf *= step_size
    np.negative(buf, out=buf)                  # the weight change -sign(g) Delta
    if variant == "rprop+":
        np.negative(prev_update, out=factor)
        np.copyto(buf, factor, where=flipped)  # backtrack: undo the last change
        prev_update[...] = buf
    theta += buf


class Rprop(Optimizer):
    """Rprop (Riedmiller and Braun); by default PyTorch's variant (iRprop-).

    Parameters
    ----------
    params : iterable of Parameter or ParameterVector
    lr : float, default 0.01
        The initial step size Delta_0 of every weight.
    etas : (float, float), default (0.5, 1.2)
        ``(eta-, eta+)`` with ``0 < eta- < 1 < eta+``.
    step_sizes : (float, float), default (1e-6, 50)
        Bounds of Delta.
    variant : {"irprop-", "rprop-", "rprop+"}, default "irprop-"
        See the module docstring.

    Notes
    -----
    .. math::

        \\Delta_t = \\operatorname{clip}\\big(\\Delta_{t-1} \\cdot
        \\{\\eta^+, \\eta^-, 1\\}[\\operatorname{sign}(g_t g_{t-1})]\\big), \\quad
        W_{t+1} = W_t - \\operatorname{sign}(g_t) \\Delta_t

    ``lr`` only sets Delta_0: changing ``lr`` later (or a schedule) has no effect,
    so ``LearningRateScheduler`` and ``ReduceLROnPlateau`` refuse Rprop
    (``lr_is_initial_only``), as PyTorch's Rprop would ignore them silently.

    References
    ----------
    Riedmiller and Braun, "A direct adaptive method for faster backpropagation
    learning: the RPROP algorithm", ICNN 1993. Igel and Huesken, "Improving the
    Rprop learning algorithm", 2000.
    """

    hyperparameters = ("lr", "etas", "step_sizes", "variant")
    state_names = ("prev_grad", "step_size", "prev_update")
    # every weight adapts its own Delta from Delta_0 = lr on: a rate set during training
    # is never read (the callbacks that set one refuse such an optimizer)
    lr_is_initial_only = True

    def __init__(self, params, lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50), variant="irprop-"):
        super().__init__(params, lr)
        self._set_hyperparameters(etas=etas, step_sizes=step_sizes, variant=variant)
        self.prev_grad = self._zeros()
        self.step_size = np.full_like(self.vec.data, self.lr)
        self.prev_update = self._zeros() if variant == "rprop+" else None
        self._buf = self._zeros()
        self._factor = self._zeros()

    def _checked_hyperparameters(self, hp):
        """The constructor's checks (``load_state_dict`` runs them too): the largest step
        size may be inf (no upper bound)."""
        etas, step_sizes, variant = hp["etas"], hp["step_sizes"], hp["variant"]
        etas, step_sizes = as_pair(etas) or etas, as_pair(step_sizes) or step_sizes
        if isinstance(etas, (tuple, list)) and len(etas) == 2:
            etas = [positive_float("Rprop", f"etas[{i}]", v, allow_zero=True)
                    for i, v in enumerate(etas)]
        if isinstance(step_sizes, (tuple, list)) and len(step_sizes) == 2:
            step_sizes = [positive_float("Rprop", f"step_sizes[{i}]", v, allow_zero=True)
                          if v != float("inf") else float(v) for i, v in enumerate(step_sizes)]
        if (not isinstance(etas, (tuple, list)) or len(etas) != 2
                or not 0 < etas[0] < 1 < etas[1]):
            raise ValueError(f"Rprop: etas must be a pair (eta-, eta+), a tuple or list, with "
                             f"0 < eta- < 1 < eta+; got {etas!r:.60}")
        if (not isinstance(step_sizes, (tuple, list)) or len(step_sizes) != 2
                or not 0 <= step_sizes[0] <= step_sizes[1]):
            raise ValueError(f"Rprop: step_sizes must be a pair (min, max), a tuple or list, "
                             f"with 0 <= min <= max; got {step_sizes!r:.60}")
        if not isinstance(variant, str) or variant not in VARIANTS:
            raise ValueError(f"Rprop: variant must be one of {VARIANTS}; got {variant!r}")
        return dict(etas=(float(etas[0]), float(etas[1])),
                    step_sizes=(float(step_sizes[0]), float(step_sizes[1])), variant=variant)

    def _update(self, theta, grad):
        if self.variant == "rprop+" and self.prev_update is None:
            self.prev_update = self._zeros()
        rprop_rule(theta, grad, self.prev_grad, self.step_size, self.prev_update, self._buf,
                   self._factor, etas=self.etas, step_sizes=self.step_sizes,
                   variant=self.variant)
