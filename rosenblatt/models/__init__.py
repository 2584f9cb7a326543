"""Models built from the layers: the perceptron, and the notes' later systems."""

from .conditional_gan import ConditionalGAN
from .gan import GAN
from .parzen import ParzenWindow, parzen_log_likelihood
from .perceptron import Perceptron
from .seq2seq import Seq2Seq

__all__ = ["GAN", "ConditionalGAN", "ParzenWindow", "Perceptron", "Seq2Seq",
           "parzen_log_likelihood"]
