"""Models built from the layers: the perceptron, and the notes' later systems."""

from .autoencoder import Autoencoder
from .perceptron import Perceptron
from .seq2seq import Seq2Seq
from .sparse_coding import SparseCoding
from .stacked_autoencoder import StackedAutoencoder

__all__ = ["Perceptron", "Seq2Seq"]
__all__ += ["Autoencoder"]
__all__ += ["StackedAutoencoder"]
__all__ += ["SparseCoding"]
