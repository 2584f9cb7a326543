"""A batch of 0 examples: every layer gives an empty output and an empty gradient.

Reshapes write their sizes out (a -1 has nothing to be inferred from when the batch is
empty); a layer that cannot work on no examples says so by name.
"""

import numpy as np
import pytest

import rosenblatt as rb

nn = rb.nn

CASES = {
    "LSTM": (lambda: nn.LSTM(4, 3), (0, 5, 4), (0, 5, 3)),
    "LSTM peephole x2": (lambda: nn.LSTM(4, 3, num_layers=2, peephole=True), (0, 5, 4),
                         (0, 5, 3)),
    "GRU": (lambda: nn.GRU(4, 3), (0, 5, 4), (0, 5, 3)),
    "RNN x2": (lambda: nn.RNN(4, 3, num_layers=2), (0, 5, 4), (0, 5, 3)),
    "Bidirectional": (lambda: nn.Bidirectional(nn.GRU(4, 3)), (0, 5, 4), (0, 5, 6)),
    "NTM": (lambda: nn.NTM(4, 3, controller_size=4, memory_size=(4, 2)), (0, 5, 4), (0, 5, 3)),
    "GlobalMaxPool2d": (lambda: nn.GlobalMaxPool2d(), (0, 2, 4, 4), (0, 2)),
    "GlobalAvgPool2d": (lambda: nn.GlobalAvgPool2d(), (0, 2, 4, 4), (0, 2)),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), (0, 2, 4, 4), (0, 2, 2, 2)),
    "KMaxPool": (lambda: nn.KMaxPool(2), (0, 3, 5), (0, 3, 2)),
    "Conv1d": (lambda: nn.Conv1d(2, 3, 3), (0, 2, 6), (0, 3, 4)),
    "Conv2d": (lambda: nn.Conv2d(2, 3, 3), (0, 2, 5, 5), (0, 3, 3, 3)),
    "Flatten": (lambda: nn.Flatten(), (0, 2, 3), (0, 6)),
    "Dense": (lambda: nn.Dense(4, 3), (0, 4), (0, 3)),
    "RBF": (lambda: nn.RBF(4, 3), (0, 4), (0, 3)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_batch_of_zero_runs_forward_and_backward(name):
    make, shape, out_shape = CASES[name]
    x = rb.tensor(np.zeros(shape, np.float32), requires_grad=True)
    y = make()(x)
    y = y[0] if isinstance(y, tuple) else y
    assert y.shape == out_shape and y.dtype == np.float32
    y.sum().backward()
    assert x.grad.shape == shape


def test_flatten_of_an_empty_batch_keeps_the_feature_size():
    x = rb.tensor(np.zeros((0, 2, 3, 4)))
    assert rb.autodiff.shape.flatten(x).shape == (0, 24)
    assert rb.autodiff.shape.flatten(x, 2).shape == (0, 2, 12)
