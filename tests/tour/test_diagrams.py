"""The tour's network diagrams are drawn from the model objects (rosenblatt/tour/diagrams.py)."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.tour import diagrams
from rosenblatt.tour.context import new_figure


def test_network_diagram_follows_the_model():
    net = rb.nn.Sequential(rb.nn.Dense(3, 5, rng=0), rb.nn.Tanh(), rb.nn.Dropout(0.5),
                           rb.nn.Dense(5, 30, rng=1), rb.nn.ReLU(), rb.nn.Dense(30, 2, rng=2))
    ax = new_figure().add_subplot()
    sizes = diagrams.draw_network(ax, net, x=[1.0, 0.5, -1.0],
                                  dropped=[None, np.array([0, 1, 0, 0, 1], bool), None, None])
    assert sizes == [3, 5, 30, 2]
    acts = diagrams._layer_activations(net, [1.0, 0.5, -1.0])
    assert [len(a) for a in acts] == sizes and np.all(np.abs(acts[1]) <= 1)  # after Tanh
    assert np.all(acts[2] >= 0)  # after ReLU
    with pytest.raises(ValueError, match="one mask per column"):
        diagrams.draw_network(ax, net, dropped=[None])
    with pytest.raises(TypeError, match="expected an rb.nn.Sequential"):
        diagrams.dense_layers(rb.nn.Dense(2, 2))


@pytest.mark.parametrize("peephole,coupled", [(False, False), (True, False), (False, True),
                                              (True, True)])
def test_lstm_gate_values_are_the_layers_own(peephole, coupled):
    lstm = rb.nn.LSTM(2, 3, rng=0, peephole=peephole, coupled=coupled, dtype=np.float64)
    if peephole:
        lstm.P[0].data[...] = np.random.default_rng(1).normal(size=(3, 3))
    seq = np.random.default_rng(0).normal(size=(6, 2))
    v = diagrams.lstm_step_values(lstm, seq)  # raises if h differs from the layer's output
    out, _ = lstm(rb.tensor(seq[None]))
    np.testing.assert_allclose(v["h"], out.data[0], atol=1e-10)
    if coupled:
        np.testing.assert_allclose(v["i"], 1 - v["f"])
    ax = new_figure().add_subplot()
    val = diagrams.draw_lstm_unit(ax, lstm, seq, t=3, unit=1)
    assert val["C"] == pytest.approx(val["f"] * val["C_prev"] + val["i"] * val["g"])


def test_recurrent_diagram_folded_and_unrolled():
    rnn = rb.nn.RNN(2, 3, rng=0)
    seq = np.random.default_rng(0).normal(size=(5, 2))
    fig = new_figure()
    a, b = fig.subplots(1, 2)
    diagrams.draw_recurrent(a, rnn, seq=seq)
    diagrams.draw_recurrent(b, rnn, seq=seq, unroll=4)
    with pytest.raises(ValueError, match="unroll=9"):
        diagrams.draw_recurrent(b, rnn, seq=seq, unroll=9)
