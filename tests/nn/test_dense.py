"""Dense: the inputs it takes and the errors it gives (the numbers are checked against PyTorch
and by gradient checks in test_module.py and test_feedforward_claims.py)."""

import numpy as np
import pytest

import rosenblatt as rb


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_a_recurrent_layer_straight_into_dense_names_the_fix(kind):
    """Forgetting SequenceOutputs hands Dense the (outputs, state) tuple: a TypeError that names
    the Dense layer, the tuple and SequenceOutputs, not a NumPy error."""
    net = rb.nn.Sequential(getattr(rb.nn, kind)(2, 16, rng=0), rb.nn.Dense(16, 1, rng=0))
    x = np.zeros((4, 10, 2), np.float32)
    with pytest.raises(TypeError, match=r"Dense\(16, 1\): got a tuple.*\(outputs, state\).*"
                                        r"SequenceOutputs"):
        net(x)
    with pytest.raises(TypeError, match=r"dense: got a tuple.*SequenceOutputs"):
        rb.nn.functional.dense(net[0](x), rb.tensor(np.ones((16, 1))))
    fixed = rb.nn.Sequential(net[0], rb.nn.SequenceOutputs(last=True), net[1])
    assert fixed(x).shape == (4, 1)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, bool])
def test_integer_arrays_give_the_layers_dtype(dtype):
    """Integers become float32 (as rb.tensor makes them), so a float32 layer stays float32."""
    x = np.arange(12).reshape(3, 4).astype(dtype)
    layer = rb.nn.Dense(4, 2, rng=0)
    y = layer(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, x.astype(np.float32) @ layer.W.data + layer.b.data,
                               rtol=1e-6)
    assert rb.nn.functional.dense(x, layer.W).dtype == np.float32
    assert rb.nn.functional.dense(x, rb.tensor(layer.W.data.astype(np.float64))).dtype == np.float64


def test_non_numeric_input_is_a_named_type_error():
    with pytest.raises(TypeError, match="Dense"):
        rb.nn.Dense(2, 1)(np.array([["a", "b"]]))
