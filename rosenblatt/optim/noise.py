"""Annealed Gaussian gradient noise (notes: "Gradient noise").

``g_t <- g_t + N(0, sigma_t^2)`` with ``sigma_t^2 = eta / (1 + t)^gamma``
(Neelakantan et al., 2015), added to the flat gradient before the wrapped
optimizer's step. The noise comes from an explicit generator, so a run is
reproducible under a seed.

Given the ``model``, no noise is added to a missing connection of a
``SparseDense`` nor to an ``Embedding``'s padding row (``inert.py``): they
stay as a gradient step leaves them.
"""

import numpy as np

from ..checks import positive_float
from ..randomness import resolve_rng
from .inert import InertWeights
from .optimizer import fill_normal, unreached


class GradientNoise:
    """Wrap an optimizer: add annealed Gaussian noise to the gradient before each step.

    Parameters
    ----------
    optimizer : Optimizer
    eta : float, default 0.01
        The noise variance at ``t = 0``.
    gamma : float, default 0.55
        The annealing exponent.
    rng : numpy.random.Generator or int, optional
        Defaults to the library generator (``rb.seed``).
    model : Module, optional
        The model the parameters belong to: where one of its layers has a
        connection mask (``SparseDense``'s ``mask``), the components of the
        missing connections get no noise, so those weights stay 0. The mask
        is read at every step (``rb.callbacks.Rewire`` changes it). The padding
        row of an ``Embedding`` (its ``padding_idx``) gets no noise either, so it
        keeps its value, as it does without noise. Also set with :meth:`attach`
        (``rb.fit`` attaches the model it trains). ``TypeError`` if it is not a
        Module, ``ValueError`` if it owns none of the optimizer's parameters.

    Notes
    -----
    ``eta`` and ``gamma`` may be written as attributes; a value the constructor
    refuses raises there. ``t`` is the wrapped optimizer's step count. Everything else (``lr``,
    ``zero_grad``, ``state_dict``, ...) is the wrapped optimizer's.

    References
    ----------
    Neelakantan et al., "Adding Gradient Noise Improves Learning for Very Deep
    Networks", arXiv:1511.06807, 2015.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> w = rb.nn.Parameter(np.zeros(3))
    >>> opt = rb.optim.GradientNoise(rb.optim.SGD([w], lr=1.0), eta=0.01, rng=0)
    >>> opt.sigma()   # sqrt(0.01 / 1**0.55)
    0.1
    """

    def __init__(self, optimizer, eta=0.01, gamma=0.55, rng=None, model=None):
        if not hasattr(optimizer, "vec") or not hasattr(optimizer, "step"):
            raise TypeError(f"GradientNoise: expected an optimizer; got {type(optimizer).__name__}")
        if getattr(optimizer, "needs_closure", False):
            raise TypeError(f"GradientNoise: {type(optimizer).__name__} evaluates the objective "
                            f"itself (step(closure)) and takes no gradient to add noise to; wrap "
                            f"an optimizer that steps on the gradient, such as rb.optim.SGD")
        self.optimizer = optimizer
        self.eta = eta  # checked by __setattr__, as when written later
        self.gamma = gamma
        self.rng = resolve_rng(rng)
        self._noise = np.zeros_like(optimizer.vec.grad)
        self._inert = None
        if model is not None:
            self.attach(model)

    def attach(self, model):
        """Respect the connection masks and padding rows of ``model``'s layers (see
        ``model``); returns self."""
        self._inert = InertWeights(self.optimizer.vec, model, "GradientNoise")
        return self

    def sigma(self):
        """The standard deviation used by the next step."""
        return float(np.sqrt(self.eta / (1.0 + self.optimizer.t) ** self.gamma))

    def step(self, closure=None):
        """Add ``N(0, sigma_t^2)`` to every gradient component, then step the optimizer.

        A parameter that got no gradient (``grad`` None) is skipped by the step, as
        without noise. ``closure`` (optional, PyTorch's convention) is called first and its
        value returned, as in :meth:`Optimizer.step`.
        """
        loss = None
        if closure is not None:
            if not callable(closure):
                raise TypeError(f"GradientNoise.step: closure must be a function that computes "
                                f"the loss and its gradient, or None; got "
                                f"{type(closure).__name__}")
            loss = closure()
        sigma = self.sigma()
        if sigma > 0:
            fill_normal(self.rng, self._noise)
            self._noise *= sigma
            if self._inert:  # no noise to a missing connection nor a padding row
                self._inert.zero(self._noise)
            vec = self.optimizer.vec
            none = unreached(vec)
            vec.grad += self._noise
            for p in none:  # still no gradient: the step skips them
                p.grad = None
        self.optimizer.step()
        return loss

    def __getattr__(self, name):
        if name == "optimizer":  # not set yet: avoid infinite recursion
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    def __setattr__(self, name, value):
        if name in ("eta", "gamma"):  # written as attributes too: the constructor's check
            value = positive_float("GradientNoise", name, value, allow_zero=True)
        if name in ("optimizer", "eta", "gamma", "rng", "_noise", "_inert") \
                or "optimizer" not in vars(self):
            object.__setattr__(self, name, value)
        else:
            setattr(self.optimizer, name, value)

    def __repr__(self):
        return f"GradientNoise({self.optimizer!r}, eta={self.eta}, gamma={self.gamma})"
