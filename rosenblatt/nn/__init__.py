"""Layers, activations, initialisation: the building blocks of networks."""

from . import functional, init
from .dense import Dense, dense
from .module import Module, Sequential
from .parameter import Parameter, ParameterVector

__all__ = [
    "Dense", "Module", "Parameter", "ParameterVector", "Sequential", "dense", "functional", "init",
]
