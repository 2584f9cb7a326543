"""Functional forms of the layers: ``rb.nn.functional.relu(x)`` etc.

Only re-exports; each function is defined in its concept's module.
"""

from .conv import conv1d, conv2d
from .dense import dense
from .gru import gru
from .lstm import lstm
from .pooling import (
    avg_pool2d,
    global_avg_pool2d,
    global_max_pool2d,
    kmax_pool,
    l2_pool2d,
    max_pool2d,
)
from .recurrent import rnn

__all__ = [
    "avg_pool2d", "conv1d", "conv2d", "global_avg_pool2d", "global_max_pool2d", "kmax_pool",
    "l2_pool2d", "max_pool2d",
    "dense",
    "gru", "lstm", "rnn",
]
