"""Models built from the layers: the perceptron, and the notes' later systems."""

from .autoencoder import Autoencoder
from .conditional_gan import ConditionalGAN
from .dbn import DBN
from .gan import GAN
from .parzen import ParzenWindow, parzen_log_likelihood
from .perceptron import Perceptron
from .rbm import RBM
from .seq2seq import Seq2Seq
from .sparse_coding import SparseCoding
from .stacked_autoencoder import StackedAutoencoder

__all__ = [
    "Autoencoder", "ConditionalGAN", "DBN", "GAN", "ParzenWindow", "Perceptron", "RBM",
    "Seq2Seq", "SparseCoding", "StackedAutoencoder",
    "parzen_log_likelihood",
]
