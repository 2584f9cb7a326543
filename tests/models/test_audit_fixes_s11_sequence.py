"""Session 11 audit (h2) of the sequence models and truncated BPTT: each test fails before its
fix. Reproductions: /tmp/s11/h2/."""

import functools

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.training.tbptt import tbptt_fit


def test_window_classifier_int_seed_does_not_copy_the_first_layer_into_the_second():
    # an int rng handed to both Dense layers of the default head seeded each with it: the
    # second layer's weights were the first layer's first rows, rescaled
    net = rb.models.WindowClassifier(rb.nn.Embedding(50, 8, rng=0), window=5, n_classes=3,
                                     hidden=16, rng=0)
    W1, W2 = net.head[0].W.data.reshape(-1), net.head[2].W.data.reshape(-1)
    ratio = W2 / W1[:W2.size]
    assert np.ptp(ratio) > 0.1  # not one constant rescaling
    # still reproducible from the seed
    again = rb.models.WindowClassifier(rb.nn.Embedding(50, 8, rng=0), window=5, n_classes=3,
                                       hidden=16, rng=0)
    np.testing.assert_array_equal(again.head[2].W.data, net.head[2].W.data)


class _Probe(rb.nn.Module):
    def __init__(self, dtype):
        self.rnn = rb.nn.GRU(2, 3, rng=0, dtype=dtype)
        self.seen = []

    def forward(self, x, state=None):
        self.seen.append(x.data.dtype)
        out, state = self.rnn(x, state)
        return out, state


def test_tbptt_converts_float_data_to_the_parameters_dtype():
    # float64 data ran a float32 model in float64 (off its compiled kernels, ~3x slower),
    # while rb.fit converts X and float y to the parameters' dtype
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(2, 6, 2)), rng.normal(size=(2, 6, 3))
    for dtype in (np.float32, np.float64):
        model = _Probe(dtype)
        tbptt_fit(model, X.astype(np.float64 if dtype == np.float32 else np.float32), y,
                  k=3, loss="mse", optimizer=rb.optim.SGD(model.parameters(), lr=0.1))
        assert model.seen == [np.dtype(dtype)] * 2
    model = _Probe(np.float32)
    rb.fit(model, X, y, tbptt=3, loss="mse", optimizer=rb.optim.SGD(model.parameters(), lr=0.1),
           epochs=1)
    assert model.seen == [np.dtype(np.float32)] * 2


def test_tbptt_names_a_loss_that_is_not_one_number():
    # NumPy's bare "can only convert an array of size 1 to a Python scalar" before (rb.fit
    # names it since session 9); nothing is stepped
    X = np.random.default_rng(0).normal(size=(2, 6, 2)).astype(np.float32)
    rnn = rb.nn.RNN(2, 2, rng=0)
    before = [p.data.copy() for p in rnn.parameters()]
    for loss in (functools.partial(rb.losses.mse, reduction="none"),
                 lambda out, y: (out - y) ** 2):
        with pytest.raises(ValueError, match="tbptt_fit: the loss must return a scalar Tensor"):
            tbptt_fit(rnn, X, X, k=3, loss=loss, optimizer=rb.optim.SGD(rnn.parameters(), lr=1))
    with pytest.raises(TypeError, match="tbptt_fit: the loss must return a scalar Tensor; got "
                                        "float"):
        tbptt_fit(rnn, X, X, k=3, loss=lambda out, y: 1.0,
                  optimizer=rb.optim.SGD(rnn.parameters(), lr=1))
    for a, p in zip(before, rnn.parameters()):
        np.testing.assert_array_equal(a, p.data)
