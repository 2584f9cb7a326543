"""Models built from the layers: the perceptron, and the notes' later systems."""

from .perceptron import Perceptron

__all__ = ["Perceptron"]
