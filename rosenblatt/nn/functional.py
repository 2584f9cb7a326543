"""Functional forms of the layers: ``rb.nn.functional.relu(x)`` etc.

Only re-exports; each function is defined in its concept's module.
"""

from .activations import (
    hardtanh,
    identity,
    leaky_relu,
    log_softmax,
    masked_softmax,
    prelu,
    relu,
    rrelu,
    sigmoid,
    sign,
    softmax,
    step,
    tanh,
)
from .batchnorm import batch_norm
from .conv import conv1d, conv2d
from .dense import dense
from .dropout import dropout
from .embedding import embedding, one_hot
from .gru import gru
from .lstm import lstm
from .maxout import maxout
from .pooling import (
    avg_pool2d,
    global_avg_pool2d,
    global_max_pool2d,
    kmax_pool,
    l2_pool2d,
    max_pool2d,
)
from .rbf import rbf
from .rnn import rnn

__all__ = [
    "batch_norm", "dropout", "hardtanh", "identity", "leaky_relu", "log_softmax", "maxout",
    "masked_softmax",
    "prelu", "rbf", "relu", "rrelu", "sigmoid", "sign", "softmax", "step", "tanh",
    "avg_pool2d", "conv1d", "conv2d", "global_avg_pool2d", "global_max_pool2d", "kmax_pool",
    "l2_pool2d", "max_pool2d",
    "dense",
    "embedding", "gru", "lstm", "one_hot", "rnn",
]
