"""Audit fixes (round s8, area a6): modular, recursive and sequence models and the training
extras (callbacks, augmentation, curriculum, rewiring); each test failed before its fix."""

import os

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.training.augmentation import ImageAugmentation, shift_rotate
from rosenblatt.training.callbacks import (
    Checkpoint,
    EarlyStopping,
    GradientMonitor,
    LearningRateScheduler,
    ReduceLROnPlateau,
)
from rosenblatt.training.curriculum import Curriculum

from .helpers import Steps, small_fit


def _data(n=32, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64)


# -- 1: a learning-rate callback on Rprop, whose lr is only the initial step size -------------
@pytest.mark.parametrize("callback", [
    lambda: ReduceLROnPlateau("loss", patience=1, factor=0.1),
    lambda: LearningRateScheduler(lambda epoch: 1e-6),
], ids=["ReduceLROnPlateau", "LearningRateScheduler"])
def test_lr_callbacks_refuse_rprop_before_training(callback):
    X, y = _data()
    net = rb.nn.Sequential(rb.nn.Dense(4, 2, rng=0))
    cb, steps = callback(), Steps()
    with pytest.raises(ValueError, match=rf"{type(cb).__name__}: Rprop's lr is only its initial "
                                         r"step size .* has no effect"):
        small_fit(net, X, y, optimizer=rb.optim.Rprop(net.parameters(), lr=0.01), epochs=2,
                  callbacks=[cb, steps])
    assert steps.steps == 0
    # optimizers whose lr scales every step are taken as before
    net = rb.nn.Sequential(rb.nn.Dense(4, 2, rng=0))
    h = small_fit(net, X, y, optimizer=rb.optim.SGD(net.parameters(), lr=0.1), epochs=2,
                  callbacks=[callback()])
    assert len(h["lr"]) == 2


def test_lr_callbacks_refuse_a_gan_with_an_rprop_optimizer_naming_it():
    G, D = rb.nn.Sequential(rb.nn.Dense(2, 4, rng=0)), rb.nn.Sequential(rb.nn.Dense(4, 1, rng=1))
    gan = rb.models.GAN(G, D, 2, optimizer_g=lambda p: rb.optim.Rprop(p), rng=0)
    X = np.random.default_rng(0).standard_normal((32, 4)).astype(np.float32)
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau: the generator's Rprop's lr is only"):
        gan.fit(X, epochs=1, batch_size=16,
                callbacks=[rb.callbacks.ReduceLROnPlateau(monitor="d_loss")])


# -- 2: GradientMonitor per layer of a recurrent stack ----------------------------------------
class _RecurrentNet(rb.nn.Module):
    def __init__(self, cell, **kw):
        self.rnn = cell(2, 4, num_layers=3, rng=0, **kw)
        self.out = rb.nn.Dense(4, 2, rng=1)

    def forward(self, x):
        h, _ = self.rnn(x)
        return self.out(h[:, -1])


@pytest.mark.parametrize("cell, kw", [(rb.nn.RNN, {}), (rb.nn.GRU, {}),
                                      (rb.nn.LSTM, {"learn_initial_state": True})],
                         ids=["RNN", "GRU", "LSTM"])
def test_gradient_monitor_norms_per_stacked_layer(cell, kw):
    net = _RecurrentNet(cell, **kw)
    X = np.random.default_rng(0).normal(size=(8, 5, 2)).astype(np.float32)
    y = (X[:, 0, 0] > 0).astype(np.int64)
    monitor = GradientMonitor()
    small_fit(net, X, y, callbacks=[monitor])
    norms = {k: v for k, v in monitor.records[0].items() if k.startswith("grad_norm/")}
    expected = {"grad_norm/out", "grad_norm/rnn.0", "grad_norm/rnn.1", "grad_norm/rnn.2"}
    if kw:
        expected.add("grad_norm/rnn.initial_state")
    assert set(norms) == expected
    # each stacked layer's number is the norm of exactly its own parameters' gradients
    for i in range(3):
        own = [p.grad for name, p in net.named_parameters()
               if name.startswith("rnn.") and name.endswith(f".{i}")
               and not name.startswith("rnn.initial_state")]
        assert norms[f"grad_norm/rnn.{i}"] == pytest.approx(
            np.sqrt(sum(float(np.vdot(g, g)) for g in own)))


def test_gradient_monitor_keys_of_plain_layers_are_unchanged():
    X, y = _data()
    net = rb.nn.Sequential(rb.nn.Dense(4, 3, rng=0), rb.nn.ReLU(), rb.nn.Dense(3, 2, rng=1))
    monitor = GradientMonitor()
    small_fit(net, X, y, callbacks=[monitor])
    assert {k for k in monitor.records[0] if k.startswith("grad_norm/")} == \
        {"grad_norm/0", "grad_norm/2"}
    bare = rb.nn.Dense(4, 2, rng=0)  # the model's own parameters keep their names
    monitor = GradientMonitor()
    small_fit(bare, X, y, callbacks=[monitor])
    assert {k for k in monitor.records[0] if k.startswith("grad_norm/")} == \
        {"grad_norm/W", "grad_norm/b"}


# -- 3: StackedAutoencoder.pretrain with one Checkpoint, not in a list ------------------------
def test_pretrain_with_one_checkpoint_gives_each_layer_its_file(tmp_path):
    X = np.random.default_rng(0).random((24, 12)).astype(np.float32)
    path = os.path.join(tmp_path, "run.safetensors")
    first = rb.models.StackedAutoencoder([12, 8, 5], rng=0)
    first.pretrain(X, epochs_per_layer=2, callbacks=Checkpoint(path), progress=False)
    assert sorted(os.listdir(tmp_path)) == ["run.layer0.safetensors", "run.layer1.safetensors"]
    steps = Steps()
    again = rb.models.StackedAutoencoder([12, 8, 5], rng=0)
    again.pretrain(X, epochs_per_layer=2, callbacks=steps, resume_from=path, progress=False)
    assert steps.steps == 0  # both layers had finished: nothing trains again
    for a, b in zip(first.parameters(), again.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


# -- 4: RecursiveNet.fit given one tree where a list of trees belongs ------------------------
@pytest.mark.parametrize("one_tree", [((1, 2), (3, 4)), "(1 (0 3) (1 2))"])
def test_recursive_fit_refuses_one_tree_as_predict_does(one_tree):
    net = rb.models.RecursiveNet(vocab_size=5, dim=4, n_classes=2, rng=0)
    before = [p.data.copy() for p in net.parameters()]
    with pytest.raises(TypeError, match=r"expected a list of trees .* wrap it in a list"):
        net.fit(one_tree, y=[0, 1], epochs=1, rng=0)
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.data, b)
    assert len(net.fit([((1, 2), (3, 4))], y=[1], epochs=1, rng=0)) == 1


# -- 6: Seq2Seq names its own arguments -------------------------------------------------------
_S2S = rb.models.Seq2Seq(6, 5, 8, attention="dot", rng=0)
_TGT = np.array([[1, 2]])


@pytest.mark.parametrize("call, message", [
    (lambda: _S2S(np.array([[1, 9]]), _TGT),
     r"Seq2Seq: source tokens must be integers 0 to 5 \(in_vocab=6\); got int64 values 1 to 9"),
    (lambda: _S2S(np.array([[1.5, 2.0]]), _TGT), r"Seq2Seq: source tokens must be integers"),
    (lambda: _S2S(np.zeros((1, 0), np.int64), _TGT),
     r"Seq2Seq: source must hold at least one time step; got shape \(1, 0\)"),
    (lambda: _S2S(np.array([[1, 2]]), _TGT, source_lengths=[3]),
     r"Seq2Seq: source_lengths must be between 1 and the source's time steps \(2\); got 3"),
    (lambda: _S2S(np.array([[1, 2]]), np.array([[1, 5]])),
     r"Seq2Seq: target tokens must be integers 0 to 4 \(out_vocab=5\)"),
    (lambda: _S2S.generate(np.array([[1, 9]]), 2),
     r"Seq2Seq.generate: source tokens must be integers 0 to 5 \(in_vocab=6\)"),
    (lambda: _S2S.generate(np.array([[1, 2]]), 2, source_lengths=[0]),
     r"Seq2Seq.generate: source_lengths must be between 1 and the source's time steps"),
], ids=["source-range", "source-fraction", "source-empty", "lengths", "target-range",
        "generate-source", "generate-lengths"])
def test_seq2seq_errors_name_seq2seq_and_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_seq2seq_takes_integral_floats_in_source_and_target_alike():
    src, tgt = np.array([[1, 2, 3]]), np.array([[1, 2]])
    expected = _S2S(src, tgt).data
    np.testing.assert_array_equal(_S2S(src.astype(float), tgt.astype(float)).data, expected)


# -- 7: bad arguments named at construction ---------------------------------------------------
@pytest.mark.parametrize("make, message", [
    (lambda: rb.models.ParzenWindow(grid="abc"), r"ParzenWindow: grid must be numbers"),
    (lambda: Curriculum(["easy", "hard"]), r"Curriculum: scores must be numbers"),
    (lambda: Checkpoint(None), r"Checkpoint: path must be a file path .*; got NoneType"),
    (lambda: ImageAugmentation(image_shape="ab"),
     r"ImageAugmentation: image_shape must be \(H, W\) or \(C, H, W\)"),
    (lambda: ImageAugmentation(image_shape=(8, 0)), r"ImageAugmentation: image_shape must be"),
    (lambda: shift_rotate(np.zeros((2, 4)), image_shape=(2, 2.0)),
     r"shift_rotate: image_shape must be"),
    (lambda: EarlyStopping(monitor=None), r"EarlyStopping: monitor must be .* got None"),
    (lambda: ReduceLROnPlateau(monitor=3), r"ReduceLROnPlateau: monitor must be .* got 3"),
], ids=["parzen-grid", "curriculum-scores", "checkpoint-path", "image-shape-str",
        "image-shape-zero", "shift-rotate-shape", "early-stopping-monitor", "plateau-monitor"])
def test_bad_arguments_are_refused_at_construction_by_name(make, message):
    with pytest.raises(TypeError, match=message):
        make()


def test_good_image_shapes_and_paths_still_work(tmp_path):
    out = ImageAugmentation(max_shift=1, image_shape=[1, 3, 3])(np.ones((2, 9)), 0)
    assert out.shape == (2, 9)
    assert Checkpoint(tmp_path / "run.ckpt").path.endswith("run.ckpt")


# -- 8: Rewire.log of a resumed run -----------------------------------------------------------
def test_rewire_log_documents_that_a_resume_starts_it_afresh():
    doc = " ".join(rb.callbacks.Rewire.__doc__.split())
    log = doc[doc.index("log : list of dict"):doc.index("masks : list")]
    assert "not in the checkpoint" in log and "resume point" in log


# -- 9: RecursiveNet.node_tensor returns the forest with the node vectors ---------------------
def test_node_tensor_returns_forest_and_vectors_as_documented():
    net = rb.models.RecursiveNet(vocab_size=5, dim=4, n_classes=2, rng=0)
    forest, H = net.node_tensor([((1, 2), 3), (0, 4)])
    assert H.shape == (8, 4) and len(forest.roots) == 2
    doc = net.node_tensor.__doc__
    assert "forest : Forest" in doc and "H : Tensor, shape (n_nodes, dim)" in doc
