"""Models built from the layers: the perceptron, and the notes' later systems."""

from .dbn import DBN
from .perceptron import Perceptron
from .rbm import RBM
from .seq2seq import Seq2Seq

__all__ = ["DBN", "Perceptron", "RBM", "Seq2Seq"]
