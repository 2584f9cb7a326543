"""Module, Sequential and Dense: structure, state, dtype, repr, slicing, errors, vs PyTorch."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import nn


def make_net(rng):
    return nn.Sequential(nn.Dense(4, 8, rng=rng), nn.BatchNorm1d(8), nn.ReLU(),
                         nn.Dropout(0.5), nn.Dense(8, 3, rng=rng))


def test_parameters_children_and_names(rng):
    net = make_net(rng)
    names = [n for n, _ in net.named_parameters()]
    assert names == ["0.W", "0.b", "1.gamma", "1.beta", "4.W", "4.b"]
    assert len(net.parameters()) == 6
    assert [type(c).__name__ for c in net.children()] == [
        "Dense", "BatchNorm1d", "ReLU", "Dropout", "Dense"]
    assert net.num_parameters() == 4 * 8 + 8 + 8 + 8 + 8 * 3 + 3


def test_shared_parameters_are_listed_once(rng):
    layer = nn.Dense(3, 3, rng=rng)
    net = nn.Sequential(layer, nn.Tanh(), layer)
    assert len(net.parameters()) == 2


def test_train_eval_reach_every_module(rng):
    net = make_net(rng)
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_state_dict_round_trip(rng):
    a, b = make_net(rng), make_net(np.random.default_rng(99))
    a(rb.tensor(rng.normal(size=(16, 4)).astype(np.float32)))  # moves the running stats
    state = a.state_dict()
    assert set(state) == {"0.W", "0.b", "1.gamma", "1.beta", "1.running_mean",
                          "1.running_var", "4.W", "4.b"}
    b.load_state_dict(state)
    x = rb.tensor(rng.normal(size=(5, 4)).astype(np.float32))
    np.testing.assert_array_equal(a.eval()(x).data, b.eval()(x).data)
    state["0.W"][...] = 0  # a copy: the model is untouched
    assert np.any(a[0].W.data != 0)


def test_load_state_dict_errors(rng):
    net = make_net(rng)
    state = net.state_dict()
    del state["0.b"]
    state["extra"] = np.zeros(1)
    with pytest.raises(KeyError, match=r"missing \['0.b'\], unexpected \['extra'\]"):
        net.load_state_dict(state)
    state = net.state_dict()
    state["4.W"] = np.zeros((3, 8))
    with pytest.raises(ValueError, match=r"4.W has shape \(8, 3\) in the model but \(3, 8\)"):
        net.load_state_dict(state)


def test_astype_float64_for_gradcheck(rng):
    net = nn.Sequential(nn.Dense(3, 4, rng=rng), nn.Tanh(), nn.Dense(4, 2, rng=rng))
    net.astype(np.float64)
    assert all(p.dtype == np.float64 for p in net.parameters())
    x = rb.tensor(rng.normal(size=(5, 3)), requires_grad=True)
    assert rb.gradcheck(lambda t, *params: net(t), x, *net.parameters())
    with pytest.raises(TypeError, match="astype: dtype must be a floating type; got int32"):
        net.astype(np.int32)


def test_repr_shows_architecture_and_counts(rng):
    text = repr(nn.Sequential(nn.Dense(784, 256, rng=rng), nn.ReLU(), nn.Dense(256, 10, rng=rng)))
    assert text.splitlines()[0] == "Sequential("
    assert "(0): Dense(784, 256)  [200,960 params]" in text
    assert "(1): ReLU()" in text
    assert "(2): Dense(256, 10)  [2,570 params]" in text
    assert text.rstrip().endswith(")  [203,530 params]")
    assert repr(nn.Dense(3, 2, bias=False)) == "Dense(3, 2, bias=False)  [6 params]"


def test_sequential_indexing_and_slicing_share_layers(rng):
    net = make_net(rng)
    body = net[:-1]
    assert isinstance(body, nn.Sequential) and len(body) == 4
    assert body[0] is net[0] and net[-1] is net.layers[-1]
    features = body.eval()(rb.tensor(rng.normal(size=(2, 4)).astype(np.float32)))
    assert features.shape == (2, 8)  # transfer learning: the second-to-last layer's output
    assert [type(m).__name__ for m in net] == ["Dense", "BatchNorm1d", "ReLU", "Dropout",
                                               "Dense"]
    net.append(nn.Softmax())
    assert len(net) == 6
    with pytest.raises(TypeError, match="Sequential: layer 1 is a int, not a Module"):
        nn.Sequential(nn.ReLU(), 3)
    with pytest.raises(IndexError, match="Sequential: layer index 6 is out of range for 6 layers"):
        net[6]


def test_freeze_stops_gradients(rng):
    net = nn.Sequential(nn.Dense(3, 4, rng=rng), nn.Tanh(), nn.Dense(4, 2, rng=rng))
    net[0].freeze()
    x = rb.tensor(rng.normal(size=(5, 3)).astype(np.float32))
    net(x).sum().backward()
    assert net[0].W.grad is None and net[2].W.grad is not None
    net.zero_grad()
    assert not net[2].W.grad.any()


def test_dense_vs_torch(torch, rng):
    layer = nn.Dense(5, 3, rng=rng).astype(np.float64)
    layer.b.data[...] = rng.normal(size=3)
    ref = torch.nn.Linear(5, 3)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(layer.W.data.T))
        ref.bias.copy_(torch.tensor(layer.b.data))
    x = rng.normal(size=(7, 5))
    xa, xb = rb.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yb = layer(xa), ref(xb)
    np.testing.assert_allclose(ya.data, yb.detach().numpy(), rtol=1e-12)
    g = rng.normal(size=(7, 3))
    ya.backward(g)
    yb.backward(torch.tensor(g))
    np.testing.assert_allclose(xa.grad, xb.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.W.grad, ref.weight.grad.numpy().T, rtol=1e-12)
    np.testing.assert_allclose(layer.b.grad, ref.bias.grad.numpy(), rtol=1e-12)


def test_dense_is_one_graph_node(rng):
    layer = nn.Dense(3, 2, rng=rng)
    y = layer(rb.tensor(np.ones((4, 3), dtype=np.float32)))
    assert y._parents[1] is layer.W and y._parents[2] is layer.b


def test_dense_gradcheck_with_leading_axes(rng):
    layer = nn.Dense(3, 2, rng=rng).astype(np.float64)
    x = rb.tensor(rng.normal(size=(2, 4, 3)), requires_grad=True)
    assert rb.gradcheck(lambda t, w, b: layer(t), x, layer.W, layer.b)


def test_dense_shape_error_names_layer_and_both_shapes():
    with pytest.raises(ValueError, match=r"Dense\(784, 10\): expected input of shape "
                                         r"\(batch, 784\); got \(32, 783\)"):
        nn.Dense(784, 10)(rb.tensor(np.zeros((32, 783), dtype=np.float32)))
    with pytest.raises(ValueError, match="Dense: in_features must be a positive integer; got 0"):
        nn.Dense(0, 10)
    with pytest.raises(ValueError, match="init must be one of .*; got 'xavier'"):
        nn.Dense(3, 2, init="xavier")


def test_module_without_forward():
    with pytest.raises(NotImplementedError, match="Module does not implement forward"):
        nn.Module()(1)
