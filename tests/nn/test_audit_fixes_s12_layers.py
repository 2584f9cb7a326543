"""Session 12 audit of the feed-forward layers: one test per fixed finding (see /tmp/s12/a1)."""

import re

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import nn

F = rb.nn.functional


# -- 1. batch norm on float16 input, float64 gradient from above --------------------------

@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(8, 3), (2, 3, 2, 2)])
def test_float16_batch_norm_takes_a_float64_gradient(shape, training):
    x = np.random.default_rng(0).normal(size=shape)
    layer = (nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d)(3, dtype=np.float64)
    ref = layer.clone()
    layer.train(training), ref.train(training)
    X = rb.tensor(x.astype(np.float16), requires_grad=True)
    y = layer(X)
    assert y.dtype == np.float64
    g = np.random.default_rng(1).normal(size=shape)
    y.backward(g)  # raised TypeError (einsum: float64 into a float32 sum)
    X2 = rb.tensor(x.astype(np.float16).astype(np.float64), requires_grad=True)
    ref(X2).backward(g)
    np.testing.assert_allclose(layer.gamma.grad, ref.gamma.grad, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(layer.beta.grad, ref.beta.grad, rtol=1e-12)
    np.testing.assert_allclose(X.grad.astype(np.float64), X2.grad, rtol=2e-2, atol=2e-2)


def test_float16_batch_norm_before_a_float64_layer_trains():
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float16)
    net = nn.Sequential(nn.BatchNorm1d(3, dtype=np.float16),
                        nn.Dense(3, 2, dtype=np.float64, rng=0))
    net(rb.tensor(x)).sum().backward()
    assert net[0].gamma.grad.dtype == np.float16 and np.isfinite(net[0].gamma.grad).all()


# -- 2. a list of Python floats into conv, pooling and batch norm layers: float32 ----------

_IMG = np.random.default_rng(0).normal(size=(1, 2, 4, 4)).tolist()
_SEQ = np.random.default_rng(1).normal(size=(1, 2, 5)).tolist()
_VEC = np.random.default_rng(2).normal(size=(3, 2)).tolist()


@pytest.mark.parametrize("make, data", [
    (lambda: nn.Conv2d(2, 1, 2, rng=0), _IMG),
    (lambda: nn.Conv1d(2, 1, 2, rng=0), _SEQ),
    (lambda: nn.MaxPool2d(2), _IMG),
    (lambda: nn.AvgPool2d(2), _IMG),
    (lambda: nn.L2Pool2d(2), _IMG),
    (lambda: nn.KMaxPool(2), _SEQ),
    (lambda: nn.GlobalMaxPool2d(), _IMG),
    (lambda: nn.GlobalAvgPool2d(), _IMG),
    (lambda: nn.BatchNorm1d(2), _VEC),
    (lambda: nn.BatchNorm2d(2), _IMG),
])
def test_layers_read_a_list_of_floats_as_float32(make, data):
    assert make()(data).dtype == np.float32  # was float64
    assert make()(np.asarray(data)).dtype == np.float64  # an ndarray keeps its dtype


def test_pooling_functions_read_a_list_of_floats_as_float32():
    assert F.max_pool2d(_IMG, 2).dtype == np.float32
    assert F.kmax_pool(_SEQ, 2).dtype == np.float32
    net = nn.Sequential(nn.Conv2d(2, 1, 2, rng=0), nn.Flatten(), nn.Dense(9, 1, rng=0))
    assert net(_IMG).dtype == np.float32


# -- 3. switches read by truthiness -------------------------------------------------------

@pytest.mark.parametrize("bad", ["False", None, 0, "eval"])
def test_rrelu_training_must_be_a_bool(bad):
    with pytest.raises(TypeError, match="rrelu: training must be True or False"):
        F.rrelu(np.array([-1.0, 2.0]), training=bad)


def test_rrelu_training_still_takes_bools():
    x = np.array([-1.0, -1.0], np.float32)
    np.testing.assert_allclose(F.rrelu(x, training=False).data, -(1 / 8 + 1 / 3) / 2)
    y = F.rrelu(x, training=np.True_, rng=0).data
    assert ((y <= -1 / 8) & (y >= -1 / 3)).all()
    layer = nn.RReLU(rng=0)
    layer.eval()
    np.testing.assert_allclose(layer(x).data, -(1 / 8 + 1 / 3) / 2)


@pytest.mark.parametrize("bad", ["False", 0, None, "eval"])
def test_module_train_mode_must_be_a_bool(bad):
    net = nn.Sequential(nn.Dense(2, 2), nn.Dropout(0.5)).eval()
    with pytest.raises(TypeError, match=r"Sequential\.train: mode must be True or False"):
        net.train(bad)
    assert [m.training for m in net.modules()] == [False, False, False]  # left as it was


def test_module_train_still_takes_bools():
    net = nn.Sequential(nn.Dense(2, 2), nn.Dropout(0.5))
    assert [m.training for m in net.train(np.False_).modules()] == [False] * 3
    assert [m.training for m in net.train().modules()] == [True] * 3
    assert all(m.training is True for m in net.modules())
    assert [m.training for m in net.eval().modules()] == [False] * 3


# -- 4. float labels out of range: named as given, not as -2**63 ---------------------------

@pytest.mark.parametrize("loss", [rb.losses.cross_entropy, rb.losses.nll, rb.losses.max_margin])
@pytest.mark.parametrize("label, shown", [(1e20, "1e+20"), (np.inf, "inf"), (-1e19, "-1e+19"),
                                          (3.0, "3")])
def test_float_labels_out_of_range_are_named_as_given(loss, label, shown):
    message = re.escape(f"label {shown} (at index 1) is out of range for 3")
    with pytest.raises(ValueError, match=message):
        loss(np.zeros((2, 3), np.float32), np.array([0.0, label]))


def test_whole_float_labels_still_taken():
    x = np.random.default_rng(0).normal(size=(3, 3))
    for loss in (rb.losses.cross_entropy, rb.losses.nll, rb.losses.max_margin):
        assert loss(x, np.array([2.0, 0.0, 1.0])).item() == loss(x, np.array([2, 0, 1])).item()


# -- 6. a sub-module's own regularizers: not applied, and now said so ----------------------

def test_submodule_regularizers_are_reported_not_dropped_in_silence():
    inner = nn.Dense(4, 1, rng=0)
    inner.regularizers = [rb.regularizers.L2(10.0)]
    model = nn.Sequential(nn.Sequential(inner))
    with pytest.warns(UserWarning, match=r"Dense \(model.modules\(\)\[2\]\) has regularizers of "
                                         r"its own, which are not applied"):
        assert rb.regularizers.collect(model) == []
    X = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    with pytest.warns(UserWarning, match="regularizers of its own"):
        rb.fit(model, X, X[:, :1], loss="mse", optimizer=rb.optim.SGD(model.parameters(), lr=0.1),
               epochs=1, batch_size=16, progress=False)


def test_the_models_own_regularizers_give_no_warning():
    import warnings
    model = nn.Sequential(nn.Dense(4, 1, rng=0))
    model.regularizers = [rb.regularizers.L2(0.1)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        regs = rb.regularizers.collect(model, [rb.regularizers.MaxNorm(3.0)])
        rb.regularizers.collect(rb.models.Autoencoder(4, 2, rng=0))
    assert [type(r).__name__ for r in regs] == ["L2", "MaxNorm"]


# -- 5. float16 cross_entropy over more than 65,504 classes --------------------------------

@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.1}, {"ignore_index": 5},
                                     {"weight": np.ones(70_000)}])
def test_float16_cross_entropy_sums_the_classes_in_float32(options):
    x = np.zeros((2, 70_000), np.float16)
    X = rb.tensor(x, requires_grad=True)
    loss = rb.losses.cross_entropy(X, [0, 1], **options)  # was inf
    assert loss.dtype == np.float16
    assert loss.item() == pytest.approx(np.log(70_000), rel=1e-3)
    loss.backward()
    assert X.grad.dtype == np.float16
    assert abs(float(X.grad[0, 0]) - (1 / 70_000 - 1 + options.get("label_smoothing", 0)
                                       * (1 - 1 / 70_000)) / 2) < 1e-3


def test_float16_cross_entropy_probability_targets_over_many_classes():
    x = np.zeros((2, 70_000), np.float16)
    t = np.full((2, 70_000), 1 / 70_000, np.float16)
    assert rb.losses.cross_entropy(x, t).item() == pytest.approx(np.log(70_000), rel=2e-3)


# -- 7. an initializer name a layer's weight cannot take: the error names the layer --------

@pytest.mark.parametrize("make, owner, shape", [
    (lambda: nn.Conv2d(1, 2, 3, init="sparse"), "Conv2d", r"\(2, 1, 3, 3\)"),
    (lambda: nn.Conv1d(1, 2, 3, init="sparse"), "Conv1d", r"\(2, 1, 3\)"),
])
def test_named_init_errors_name_the_layer(make, owner, shape):
    with pytest.raises(ValueError, match=rf"^{owner}: init='sparse' cannot initialise its weight "
                                         rf"of shape {shape}: sparse: needs a 2-D"):
        make()


def test_named_init_unchanged_without_a_layer():
    from rosenblatt.nn import init
    assert init.get("he") is init.he
    w = init.get("he", "Dense")((3, 4), fan_in=3, fan_out=4, rng=0, dtype=np.float64)
    np.testing.assert_array_equal(w, init.he((3, 4), fan_in=3, fan_out=4, rng=0,
                                             dtype=np.float64))


# -- 8. functional axis arguments that are no integer: a message naming the op -------------

@pytest.mark.parametrize("name, fn", [
    ("softmax", F.softmax), ("log_softmax", F.log_softmax),
    ("masked_softmax", lambda x, axis: F.masked_softmax(x, np.ones((2, 3), bool), axis=axis)),
    ("kmax_pool", lambda x, axis: F.kmax_pool(x, 1, axis=axis)),
])
@pytest.mark.parametrize("axis", [True, 1.0, "1", None])
def test_functional_axis_must_be_an_integer(name, fn, axis):
    with pytest.raises(TypeError, match=rf"^{name}: axis must be an integer; got "):
        fn(np.arange(6.0).reshape(2, 3), axis=axis)


def test_functional_axis_still_takes_integers():
    x = np.arange(6.0).reshape(2, 3)
    for axis in (0, 1, -1, np.int64(1), np.int32(0)):
        assert F.softmax(x, axis=axis).shape == (2, 3)
        assert F.log_softmax(x, axis=axis).shape == (2, 3)
        assert F.kmax_pool(x, 1, axis=axis).shape[int(axis)] == 1
    with pytest.raises(ValueError, match="softmax: axis 2 is out of range"):
        F.softmax(x, axis=2)
