"""Optimizers, schedules, noise, clipping, annealing (notes: "Training neural networks").

Optimizers: SGD (momentum, Nesterov, dampening), Adam (AMSGrad), AdamW (decoupled
weight decay), RMSprop, Adagrad, Adadelta, Rprop, AdaptiveGains, LBFGS,
ConjugateGradient; the annealers BoltzmannAnnealer and CauchyAnnealer; the
GradientNoise wrapper; clip_grad_norm (any p-norm) and clip_grad_value; the
learning-rate schedules in ``schedules`` (Constant, InverseTime, Step, MultiStep,
Exponential, Cosine, Linear, Warmup).
"""

from . import schedules
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .annealing import BoltzmannAnnealer, CauchyAnnealer
from .clipping import clip_grad_norm, clip_grad_value
from .conjugate_gradient import ConjugateGradient
from .gains import AdaptiveGains
from .lbfgs import LBFGS
from .noise import GradientNoise
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = [
    "Adadelta", "Adagrad", "Adam", "AdamW", "AdaptiveGains", "BoltzmannAnnealer", "CauchyAnnealer",
    "ConjugateGradient", "GradientNoise", "LBFGS", "Optimizer", "RMSprop", "Rprop", "SGD",
    "clip_grad_norm", "clip_grad_value", "schedules",
]
