"""Models built from the layers: the perceptron, and the notes' later systems."""

from .autoencoder import Autoencoder
from .dbn import DBN
from .perceptron import Perceptron
from .rbm import RBM
from .seq2seq import Seq2Seq
from .sparse_coding import SparseCoding
from .stacked_autoencoder import StackedAutoencoder

__all__ = [
    "Autoencoder", "DBN", "Perceptron", "RBM", "Seq2Seq", "SparseCoding", "StackedAutoencoder",
]
