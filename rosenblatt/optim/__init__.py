"""Optimizers, schedules, noise, clipping, annealing (notes: "Training neural networks")."""

from .adam import Adam
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Adam", "Optimizer", "SGD"]
