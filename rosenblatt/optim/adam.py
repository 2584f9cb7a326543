"""Adam: adaptive moment estimation (notes: "Training algorithms", "Adam").

The notes put epsilon inside the square root, ``eta m_hat / sqrt(v_hat + eps)``;
the paper (and PyTorch) add it outside, ``eta m_hat / (sqrt(v_hat) + eps)``.
We follow the paper by default so that results compare one to one with
PyTorch; ``eps_inside_sqrt=True`` gives the notes' form. The difference only
matters while ``v_hat`` is of the order of ``eps``.
"""

import math

import numpy as np

from ..autodiff import _kernels
from ..checks import boolean, positive_float, unit_interval
from .optimizer import Optimizer, as_pair, flat_same


def adam_rule(theta, grad, m, v, buf, *, lr, beta1, beta2, eps, t, eps_inside_sqrt=False,
              keep=None, v_max=None):
    """One Adam step (``t`` counts from 1) on flat arrays, in place; ``keep``, if given,
    receives theta before the step.

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
    ``theta -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``
    (or ``/ sqrt(v / (1 - b2^t) + eps)`` with ``eps_inside_sqrt``). With ``v_max``
    (AMSGrad) ``v_max = max(v_max, v)`` takes ``v``'s place in the denominator.

    With the ``fast`` extra (Numba) the paper's form without AMSGrad runs as one
    compiled pass (``rosenblatt.autodiff._numba_kernels.adam_update``), checked
    against this NumPy code in ``tests/autodiff/test_kernels.py``; ``keep`` is
    written in that pass. AMSGrad takes the NumPy passes.
    """
    if not eps_inside_sqrt and v_max is None:
        kernel = _kernels.get("adam_update")
        to = theta if keep is None else keep
        if kernel is not None and flat_same(theta, grad, m, v, to):
            s = math.sqrt(1.0 - beta2**t)
            dt = theta.dtype.type  # the scalars in the arrays' dtype: float32 stays float32
            kernel(theta, grad, m, v, dt(beta1), dt(beta2), dt(lr * s / (1.0 - beta1**t)),
                   dt(eps * s), dt(1.0 - beta1), dt(1.0 - beta2), to, keep is not None)
            return
    if keep is not None:
        np.copyto(keep, theta)
    m *= beta1
    np.multiply(grad, 1.0 - beta1, out=buf)
    m += buf
    v *= beta2
    np.multiply(grad, grad, out=buf)
    buf *= 1.0 - beta2
    v += buf
    if v_max is not None:  # AMSGrad: the largest second moment so far
        np.maximum(v_max, v, out=v_max)
        v = v_max
    if eps_inside_sqrt:  # the notes' form
        np.divide(v, 1.0 - beta2**t, out=buf)
        buf += eps
        np.sqrt(buf, out=buf)
        step = lr / (1.0 - beta1**t)
    else:  # sqrt(v)/s + eps = (sqrt(v) + eps s)/s with s = sqrt(1 - b2^t): one pass fewer
        s = math.sqrt(1.0 - beta2**t)
        np.sqrt(v, out=buf)
        buf += eps * s
        step = lr * s / (1.0 - beta1**t)
    np.divide(m, buf, out=buf)
    buf *= step
    theta -= buf


class Adam(Optimizer):
    """Adam (Kingma and Ba): momentum on the gradient, RMS scaling, bias correction.

    Parameters
    ----------
    params : iterable of Parameter or ParameterVector
    lr : float or schedule, default 1e-3
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the first and second moment estimates, each in [0, 1).
    eps : float, default 1e-8
        Added to ``sqrt(v_hat)`` (outside the root, as in the paper).
    weight_decay : float, default 0
        L2 penalty added to the gradient (PyTorch's ``Adam``); with
        ``decoupled_weight_decay`` it shrinks the weights instead (``AdamW``).
    eps_inside_sqrt : bool, default False
        The notes' ``sqrt(v_hat + eps)`` instead of the paper's ``sqrt(v_hat) + eps``.
        Keyword only, as the two below: ``torch.optim.Adam``'s sixth positional argument
        is ``amsgrad``, so a sixth positional argument raises TypeError here rather than
        choose another algorithm silently (:class:`AdamW` takes ``amsgrad`` sixth, as
        PyTorch).
    amsgrad : bool, default False
        AMSGrad (Reddi et al.): divide by the square root of the largest second
        moment seen so far, ``v_max = max(v_max, v_t)``, so the per-weight step
        size never grows (PyTorch's ``amsgrad``; the NumPy passes, not the
        compiled kernel).
    decoupled_weight_decay : bool, default False
        ``theta <- theta (1 - lr wd)`` before the Adam step, the decay kept out
        of the moments (Loshchilov and Hutter; :class:`AdamW`).

    Notes
    -----
    .. math::

        m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t, \\quad
        v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2, \\\\
        \\theta_{t+1} = \\theta_t - \\eta \\frac{m_t / (1-\\beta_1^t)}
        {\\sqrt{v_t / (1-\\beta_2^t)} + \\epsilon}

    Identical, step for step, to ``torch.optim.Adam`` (with ``amsgrad`` and
    ``decoupled_weight_decay`` too), a parameter without a gradient (``grad``
    None) skipped as there. The step count ``t`` of the bias correction is each
    parameter's own, as PyTorch's ``state["step"]`` (:attr:`param_steps`): a
    parameter skipped at some steps (a learned initial state under truncated
    BPTT) corrects by the steps it took. float16 parameters step in float32,
    with float32 moments: in float16 eps (1e-8) rounds to 0, and a zero gradient
    would give 0 / 0 (PyTorch gives NaN there).

    References
    ----------
    Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    Reddi, Kale and Kumar, "On the Convergence of Adam and Beyond", ICLR 2018.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> w = rb.nn.Parameter(np.array([1.0, -2.0]))
    >>> opt = rb.optim.Adam([w], lr=0.1)
    >>> opt.zero_grad(); (w * w).sum().backward(); opt.step()
    >>> np.round(w.data, 6)   # the first step moves every weight by about lr
    array([ 0.9, -1.9])
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay", "eps_inside_sqrt", "amsgrad",
                       "decoupled_weight_decay")
    state_names = ("m", "v", "v_max")
    per_parameter_steps = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 eps_inside_sqrt=False, amsgrad=False, decoupled_weight_decay=False):
        super().__init__(params, lr)
        self._set_hyperparameters(betas=betas, eps=eps, weight_decay=weight_decay,
                                  eps_inside_sqrt=eps_inside_sqrt, amsgrad=amsgrad,
                                  decoupled_weight_decay=decoupled_weight_decay)
        self.m = self._zeros()
        self.v = self._zeros()
        self.v_max = self._zeros() if self.amsgrad else None
        self._buf = self._zeros()

    def _checked_hyperparameters(self, hp):
        """The constructor's checks (``load_state_dict`` runs them too)."""
        name = type(self).__name__
        betas = as_pair(hp["betas"])
        if betas is None:
            raise ValueError(f"{name}: betas must be a pair of numbers (beta1, beta2), a tuple "
                             f"or list; got {type(hp['betas']).__name__} {hp['betas']!r:.60}")
        return dict(
            betas=(unit_interval(name, "betas[0]", betas[0]),
                   unit_interval(name, "betas[1]", betas[1])),
            eps=positive_float(name, "eps", hp["eps"], allow_zero=True),
            weight_decay=positive_float(name, "weight_decay", hp["weight_decay"],
                                        allow_zero=True),
            eps_inside_sqrt=boolean(name, "eps_inside_sqrt", hp["eps_inside_sqrt"]),
            amsgrad=boolean(name, "amsgrad", hp["amsgrad"]),
            decoupled_weight_decay=boolean(name, "decoupled_weight_decay",
                                           hp["decoupled_weight_decay"]))

    half_in_float32 = True  # float16: eps rounds to 0 (Optimizer.half_in_float32)

    def _update(self, theta, grad, keep=None):
        if theta.dtype.itemsize < 4:
            return self._in_float32(theta, grad, keep)
        if self.decoupled_weight_decay:
            if self.weight_decay:
                if keep is not None:  # theta before the whole step, decay included
                    np.copyto(keep, theta)
                    keep = None
                theta *= 1.0 - self.lr * self.weight_decay
        else:
            grad = self._decayed_grad(theta, grad, self.weight_decay)
        if self.amsgrad and self.v_max is None:  # switched on after construction
            self.v_max = self._zeros()
        if self.param_steps is None and not self._skipped:  # each parameter's step t + 1
            adam_rule(theta, grad, self.m, self.v, self._buf, lr=self.lr, beta1=self.betas[0],
                      beta2=self.betas[1], eps=self.eps, t=self.t + 1,
                      eps_inside_sqrt=self.eps_inside_sqrt, keep=keep,
                      v_max=self.v_max if self.amsgrad else None)
            return
        counts = self._step_counts()  # a parameter skipped: the counts may differ
        runs = [(slice(None), counts)] if isinstance(counts, int) else \
            self._count_runs(counts)  # one pass while every parameter stepping has one count
        v_max = self.v_max if self.amsgrad else None
        for sl, count in runs:
            adam_rule(theta[sl], grad[sl], self.m[sl], self.v[sl], self._buf[sl], lr=self.lr,
                      beta1=self.betas[0], beta2=self.betas[1], eps=self.eps, t=count,
                      eps_inside_sqrt=self.eps_inside_sqrt,
                      keep=None if keep is None else keep[sl],
                      v_max=None if v_max is None else v_max[sl])


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): ``torch.optim.AdamW``.

    Each step first shrinks the weights, ``theta <- theta (1 - lr wd)``, then
    takes the Adam step on the gradient alone, so the decay is not rescaled
    by the second moments as an L2 term in the gradient would be.

    Parameters
    ----------
    params : iterable of Parameter or ParameterVector
    lr : float or schedule, default 1e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 1e-2
        The decoupled decay coefficient (PyTorch's default).
    amsgrad : bool, default False
        As in :class:`Adam` (the sixth positional argument, as in ``torch.optim.AdamW``).
    eps_inside_sqrt : bool, default False
        As in :class:`Adam`; keyword only.

    Notes
    -----
    .. math::

        \\theta_t' = \\theta_t (1 - \\eta \\lambda), \\quad
        \\theta_{t+1} = \\theta_t' - \\eta \\frac{m_t / (1-\\beta_1^t)}
        {\\sqrt{v_t / (1-\\beta_2^t)} + \\epsilon}

    Identical, step for step, to ``torch.optim.AdamW``.

    References
    ----------
    Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> w = rb.nn.Parameter(np.array([1.0, -2.0]))
    >>> opt = rb.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> opt.zero_grad(); (w * w).sum().backward(); opt.step()
    >>> np.round(w.data, 6)   # shrunk by 1 - 0.1 * 0.5, then moved by about lr
    array([ 0.85, -1.8 ])
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, eps_inside_sqrt=False):
        super().__init__(params, lr, betas, eps, weight_decay, eps_inside_sqrt=eps_inside_sqrt,
                         amsgrad=amsgrad, decoupled_weight_decay=True)
