"""Models built from the layers: the perceptron, and the notes' later systems."""

from .autoencoder import Autoencoder
from .conditional_gan import ConditionalGAN
from .dbn import DBN
from .gan import GAN
from .parzen import ParzenWindow, parzen_log_likelihood
from .perceptron import Perceptron
from .rbm import RBM
from .recursive import RecursiveNet
from .seq2seq import Seq2Seq
from .sparse_coding import SparseCoding
from .stacked_autoencoder import StackedAutoencoder
from .window import WindowClassifier

__all__ = [
    "Autoencoder", "ConditionalGAN", "DBN", "GAN", "ParzenWindow", "Perceptron", "RBM",
    "RecursiveNet", "Seq2Seq", "SparseCoding", "StackedAutoencoder", "WindowClassifier",
    "parzen_log_likelihood",
]
