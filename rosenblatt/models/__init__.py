"""Models built from the layers: the perceptron, and the notes' later systems."""

from .perceptron import Perceptron
from .recursive import RecursiveNet
from .seq2seq import Seq2Seq
from .window import WindowClassifier

__all__ = ["Perceptron", "Seq2Seq"]
__all__ += ["WindowClassifier"]
__all__ += ["RecursiveNet"]
