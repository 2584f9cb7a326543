"""Audit s11 (losses, dropout, batch norm): the switches of the functional forms are True or
False, not any truthy value (mse's third positional argument is ``half``, where every other
loss takes ``reduction``)."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.nn.batchnorm import batch_norm
from rosenblatt.nn.dropout import dropout


@pytest.mark.parametrize("value", ["sum", "none", "no", 1, None])
def test_mse_half_must_be_a_bool(value):
    pred, target = rb.tensor([1.0, 3.0]), np.zeros(2, np.float32)
    with pytest.raises(TypeError, match="mse: half must be True or False"):
        rb.losses.mse(pred, target, value)


def test_mse_half_still_takes_bools():
    pred, target = rb.tensor([1.0, 3.0]), np.zeros(2, np.float32)
    assert rb.losses.mse(pred, target, True).item() == 2.5
    assert rb.losses.mse(pred, target, np.bool_(False)).item() == 5.0
    assert rb.losses.mse(pred, target, reduction="sum").item() == 10.0


@pytest.mark.parametrize("name", ["training", "inverted"])
def test_dropout_switches_must_be_bools(name):
    x = rb.tensor(np.ones(8, np.float32))
    with pytest.raises(TypeError, match=f"dropout: {name} must be True or False"):
        dropout(x, 0.5, rng=np.random.default_rng(0), **{name: "False"})


def test_dropout_layer_names_itself_and_keeps_working():
    layer = rb.nn.Dropout(0.5, rng=np.random.default_rng(0))
    layer.training = "no"  # set by hand: refused, not taken for True
    with pytest.raises(TypeError, match=r"Dropout.*training must be True or False"):
        layer(rb.tensor(np.ones(4, np.float32)))
    layer.eval()
    assert layer(rb.tensor(np.ones(4, np.float32))).data.tolist() == [1.0] * 4


def test_batch_norm_training_must_be_a_bool():
    x = np.random.default_rng(0).normal(size=(4, 2)).astype(np.float32)
    mean, var = np.zeros(2, np.float32), np.ones(2, np.float32)
    with pytest.raises(TypeError, match="batch_norm: training must be True or False"):
        batch_norm(x, np.ones(2), np.zeros(2), mean, var, training="False")
    assert mean.tolist() == [0.0, 0.0]  # nothing updated
