"""The layer registry (rosenblatt.nn.registry): layers describe their own config."""

import pytest

import rosenblatt as rb
from rosenblatt.nn import registry

nn = rb.nn


def test_register_is_public_in_nn_and_io():
    assert rb.nn.register is rb.io.register
    assert rb.nn.registered is rb.io.registered
    assert rb.nn.registered()["Dense"] is nn.Dense


@pytest.mark.parametrize("layer, config", [
    (nn.Dense(3, 4, bias=False, init="he"), {"in_features": 3, "out_features": 4, "bias": False}),
    (nn.Conv1d(2, 3, 3, padding="same"), {"in_channels": 2, "out_channels": 3, "kernel_size": (3,),
                                          "stride": (1,), "padding": "same", "bias": True}),
    (nn.Conv2d(2, 3, (3, 2), stride=2), {"in_channels": 2, "out_channels": 3,
                                         "kernel_size": (3, 2), "stride": (2, 2),
                                         "padding": "valid", "bias": True}),
    (nn.RBF(3, 4, kind="ricker", width=0.5), {"in_features": 3, "n_centers": 4, "kind": "ricker"}),
])
def test_layers_describe_their_constructor(layer, config):
    assert layer.config() == config
    rebuilt = registry.build(registry.spec_of(layer))
    assert type(rebuilt) is type(layer) and rebuilt.config() == config


def test_sequential_rebuilds_from_its_config():
    net = nn.Sequential(nn.Dense(2, 3), nn.Tanh())
    assert net.config() == {"layers": list(net.layers)}
    again = nn.Sequential.from_config({"layers": [nn.Dense(2, 3)]})
    assert isinstance(again, nn.Sequential) and len(again) == 1
    with pytest.raises(ValueError, match="Sequential config must be"):
        nn.Sequential.from_config({"layers": [], "extra": 1})


def test_bad_specs_raise_spec_error():
    with pytest.raises(registry.SpecError, match="unknown layer type"):
        registry.build({"type": "NoSuchLayer", "config": {}})
    with pytest.raises(registry.SpecError, match="cannot rebuild layer Dense"):
        registry.build({"type": "Dense", "config": {"in_features": 0, "out_features": 1}})


def test_building_does_not_move_the_library_stream():
    spec = registry.spec_of(nn.Dense(40, 50))
    rb.seed(3)
    expected = rb.randomness.generator().random()
    rb.seed(3)
    registry.build(spec)
    assert rb.randomness.generator().random() == expected
