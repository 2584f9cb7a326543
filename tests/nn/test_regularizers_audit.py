"""Regularizers on the edges found by the audits: integer inputs, learned initial states,
LSTM peepholes, float16 weights and SparseDense connection masks."""

import numpy as np

import rosenblatt as rb
from rosenblatt import nn, regularizers


def test_input_noise_on_integer_inputs():
    X = np.arange(40).reshape(20, 2)
    out = regularizers.InputNoise(0.5).transform_input(X, 0)
    assert out.dtype == np.float64
    assert 0.3 < np.std(out - X) < 0.7
    y = (X[:, :1] > 20).astype(np.float64)
    net = nn.Sequential(nn.Dense(2, 1, rng=0))
    rb.fit(net, X, y, loss="mse", optimizer=rb.optim.SGD(net.parameters(), lr=1e-4), epochs=1,
           regularizers=[regularizers.InputNoise(0.5)], progress=False, rng=0)


def test_learned_initial_states_are_not_weights():
    rnn = nn.RNN(3, 4, num_layers=2, learn_initial_state=True, rng=0)
    h0 = rnn.initial_state[0]
    h0.data[...] = [[3.0, 0.0, 2.0, 0.5], [4.0, 1.0, 2.0, 0.5]]
    before = h0.data.copy()
    assert not any(p is h0 for p in regularizers.weights(rnn))
    assert any(p is h0 for p in regularizers.weights(rnn, include_bias=True))
    regularizers.MaxNorm(1.0).after_step(rnn)
    np.testing.assert_array_equal(h0.data, before)
    ntm = nn.NTM(3, 2, controller_size=8, memory_size=(5, 4), rng=0)
    names = {id(p) for p in regularizers.weights(ntm)}
    assert all(id(p) not in names for p in (ntm.memory0, ntm.read0, ntm.weighting0))


def test_max_norm_leaves_lstm_peepholes_alone():
    lstm = nn.LSTM(3, 4, peephole=True, rng=0)
    P = lstm.P[0]
    P.data[...] = np.arange(12, dtype=P.dtype).reshape(3, 4)
    before = P.data.copy()
    regularizers.MaxNorm(1.0).after_step(lstm)
    np.testing.assert_array_equal(P.data, before)
    assert any(p is P for p in regularizers.weights(lstm))  # still penalised by L1/L2


def test_max_norm_float16_does_not_overflow():
    layer = nn.Dense(2, 1, dtype=np.float16)
    layer.W.data[:] = [[300.0], [400.0]]
    regularizers.MaxNorm(5.0).after_step(layer)
    np.testing.assert_allclose(layer.W.data.ravel(), [3.0, 4.0], rtol=1e-3)


def test_max_norm_uses_the_live_connections_of_a_sparse_layer():
    layer = nn.SparseDense(6, 3, density=0.5, rng=0, dtype=np.float64)
    layer.W.data[...] = 1.0  # phantom weights at missing connections (not to count)
    regularizers.MaxNorm(1.0).after_step(layer)
    live = np.sqrt(((layer.W.data * layer.mask) ** 2).sum(axis=0))
    np.testing.assert_allclose(live[layer.mask.any(axis=0)], 1.0)


def test_penalties_charge_only_the_live_connections():
    layer = nn.SparseDense(6, 3, density=0.5, rng=0, dtype=np.float64)
    layer.W.data[...] = 2.0  # phantom weights at missing connections (not to count)
    live = int(layer.mask.sum())
    assert regularizers.L2(0.1).penalty(layer).item() == 0.05 * 4.0 * live
    penalty = regularizers.L1(0.1).penalty(layer)
    assert penalty.item() == 0.1 * 2.0 * live
    layer.W.grad = None
    penalty.backward()
    np.testing.assert_array_equal(layer.W.grad, 0.1 * layer.mask)
