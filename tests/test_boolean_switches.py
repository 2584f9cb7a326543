"""Every switch of a constructor is True or False: a config's "false" (truthy) is refused,
naming the owner and the argument, rather than taken for True."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import nn


def _w():
    return [rb.nn.Parameter(np.zeros(3))]


def _fit(**switch):
    net = nn.Sequential(nn.Dense(2, 2, rng=0))
    return rb.fit(net, np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1]), epochs=1,
                  loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
                  **{"progress": False, **switch})


CASES = [
    (lambda v: nn.Dense(2, 3, bias=v), "Dense", "bias"),
    (lambda v: nn.Conv2d(1, 2, 3, bias=v), "Conv2d", "bias"),
    (lambda v: nn.Conv1d(1, 2, 3, bias=v), "Conv1d", "bias"),
    (lambda v: nn.SparseDense(4, 3, bias=v), "SparseDense", "bias"),
    (lambda v: nn.LSTM(2, 3, peephole=v), "LSTM", "peephole"),
    (lambda v: nn.LSTM(2, 3, coupled=v), "LSTM", "coupled"),
    (lambda v: nn.GRU(2, 3, learn_initial_state=v), "GRU", "learn_initial_state"),
    (lambda v: nn.RNN(2, 3, batch_norm=v), "RNN", "batch_norm"),
    (lambda v: nn.SequenceOutputs(last=v), "SequenceOutputs", "last"),
    (lambda v: nn.Attention("dot", scale=v), "Attention", "scale"),
    (lambda v: nn.Dropout(0.5, inverted=v), "Dropout", "inverted"),
    (lambda v: rb.regularizers.L2(0.1, include_bias=v), "L2", "include_bias"),
    (lambda v: rb.regularizers.L1(0.1, include_bias=v), "L1", "include_bias"),
    (lambda v: rb.models.RBM(4, 2, persistent=v), "RBM", "persistent"),
    (lambda v: rb.models.DBN([4, 3, 2], persistent=v), "DBN", "persistent"),
    (lambda v: rb.models.Autoencoder(4, 2, tied=v), "Autoencoder", "tied"),
    (lambda v: rb.optim.SGD(_w(), lr=0.1, momentum=0.9, nesterov=v), "SGD", "nesterov"),
    (lambda v: rb.optim.Adam(_w(), amsgrad=v), "Adam", "amsgrad"),
    (lambda v: rb.optim.AdamW(_w(), eps_inside_sqrt=v), "AdamW", "eps_inside_sqrt"),
    (lambda v: rb.optim.Adam(_w(), decoupled_weight_decay=v), "Adam", "decoupled_weight_decay"),
    (lambda v: rb.optim.Adagrad(_w(), eps_inside_sqrt=v), "Adagrad", "eps_inside_sqrt"),
    (lambda v: rb.optim.RMSprop(_w(), centered=v), "RMSprop", "centered"),
    (lambda v: rb.optim.BoltzmannAnnealer(_w(), restore_best=v), "BoltzmannAnnealer",
     "restore_best"),
    (lambda v: rb.optim.schedules.Warmup(0.1, 5, delay=v), "Warmup", "delay"),
    (lambda v: rb.callbacks.EarlyStopping(restore_best=v), "EarlyStopping", "restore_best"),
    (lambda v: rb.callbacks.Rewire(keep_masks=v), "Rewire", "keep_masks"),
    (lambda v: rb.training.Curriculum(np.arange(4.0), shuffle_pool=v), "Curriculum",
     "shuffle_pool"),
    (lambda v: rb.models.Perceptron(2).fit(np.eye(2), [1, -1], epochs=1, shuffle=v, rng=0),
     "Perceptron.fit", "shuffle"),
    (lambda v: rb.datasets.logic("xor", bipolar=v), "logic", "bipolar"),
    (lambda v: rb.datasets.xor(bipolar=v), "logic", "bipolar"),
    (lambda v: rb.datasets.reber_strings(1, embedded=v, rng=0), "reber_strings", "embedded"),
    (lambda v: rb.datasets.embedded_reber(1, embedded=v, rng=0), "embedded_reber", "embedded"),
    (lambda v: rb.datasets.bit_errors_per_sequence(np.zeros((1, 2, 1)), np.zeros((1, 2, 1)),
                                                   per_sequence=v),
     "bit_errors_per_sequence", "per_sequence"),
    (lambda v: _fit(shuffle=v), "fit", "shuffle"),
    (lambda v: _fit(progress=v), "fit", "progress"),
]


@pytest.mark.parametrize("make, owner, name", CASES, ids=[f"{o}.{n}" for _, o, n in CASES])
def test_switches_refuse_strings_and_take_booleans(make, owner, name):
    with pytest.raises(TypeError, match=rf"{owner}: {name} must be True or False; got 'false'"):
        make("false")
    make(False)
    make(np.bool_(True))
