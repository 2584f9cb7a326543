"""Layers, activations, initialisation: the building blocks of networks."""

from . import functional, init, losses, regularizers
from .activations import (
    HardTanh,
    Identity,
    LeakyReLU,
    LogSoftmax,
    PReLU,
    ReLU,
    RReLU,
    Sigmoid,
    Sign,
    Softmax,
    Step,
    Tanh,
)
from .attention import Attention
from .batchnorm import BatchNorm1d, BatchNorm2d
from .bidirectional import Bidirectional
from .conv import Conv1d, Conv2d, conv1d, conv2d
from .dense import Dense, dense
from .dropout import Dropout
from .embedding import Embedding, embedding, one_hot
from .flatten import Flatten
from .gru import GRU, gru
from .lstm import LSTM, lstm
from .maxout import Maxout
from .module import Module, Sequential
from .ntm import NTM, masked_bce_with_logits, ntm
from .parameter import Parameter, ParameterVector
from .pooling import (
    AvgPool2d,
    GlobalAvgPool2d,
    GlobalMaxPool2d,
    KMaxPool,
    L2Pool2d,
    MaxPool2d,
)
from .rbf import RBF
from .recurrent import RecurrentBase, SequenceOutputs
from .registry import register, registered
from .rnn import RNN, rnn
from .sparse_dense import SparseDense, sparse_dense

__all__ = [
    "BatchNorm1d", "BatchNorm2d", "Dropout", "HardTanh", "Identity", "LeakyReLU", "LogSoftmax",
    "Maxout", "PReLU", "RBF", "RReLU", "ReLU", "Sigmoid", "Sign", "Softmax", "Step", "Tanh",
    "losses", "regularizers",
    "AvgPool2d", "Conv1d", "Conv2d", "Flatten", "GlobalAvgPool2d", "GlobalMaxPool2d",
    "KMaxPool", "L2Pool2d", "MaxPool2d", "conv1d", "conv2d",
    "Attention", "Bidirectional", "Embedding", "GRU", "LSTM", "RNN", "RecurrentBase",
    "SequenceOutputs",
    "embedding", "gru", "lstm", "one_hot", "rnn",
    "NTM", "masked_bce_with_logits", "ntm",
    "Dense", "Module", "Parameter", "ParameterVector", "Sequential", "dense", "functional", "init",
    "register", "registered",
]
__all__ += ["SparseDense", "sparse_dense"]
