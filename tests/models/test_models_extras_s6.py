"""Audit a8 (session 6) fixes: stacked pre-training checkpoints, copies of the caller's arrays
(ConditionalGAN, ParzenWindow), RecursiveNet.fit's checks before the first step."""

import os

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.models.parzen import ParzenWindow
from rosenblatt.models.recursive import RecursiveNet
from rosenblatt.models.stacked_autoencoder import StackedAutoencoder
from rosenblatt.training.callbacks import Callback, Checkpoint


# -- finding 1: each layer of a stacked pre-training checkpoints and resumes its own run ------
@pytest.fixture(scope="module")
def X16():
    return np.random.default_rng(0).random((60, 16)).astype(np.float32)


def _weights(stack):
    return [p.data.copy() for p in stack.parameters()]


def test_pretrain_checkpoints_each_layer_in_its_own_file(X16, tmp_path):
    path = tmp_path / "run.safetensors"
    stack = StackedAutoencoder([16, 16, 16], kind="plain", rng=0)
    histories = stack.pretrain(X16, epochs_per_layer=2, batch_size=20, progress=False,
                               callbacks=[Checkpoint(path)], resume_from=path)
    assert sorted(os.listdir(tmp_path)) == ["run.layer0.safetensors", "run.layer1.safetensors"]
    # layer 1 trained on its own (before: it "resumed" from layer 0's finished file)
    assert not np.array_equal(stack.layers[0].W.data, stack.layers[1].W.data)
    assert histories[0]["loss"] != histories[1]["loss"]
    # a second run finds both layers finished: it loads them and trains nothing more
    again = StackedAutoencoder([16, 16, 16], kind="plain", rng=1)
    again.pretrain(X16, epochs_per_layer=2, batch_size=20, progress=False,
                   callbacks=[Checkpoint(path)], resume_from=path)
    for a, b in zip(_weights(stack), _weights(again)):
        np.testing.assert_array_equal(a, b)


def test_pretrain_of_shrinking_layers_resumes_without_a_format_error(X16, tmp_path):
    path = tmp_path / "run.safetensors"
    stack = StackedAutoencoder([16, 8, 4], kind="plain", rng=0)
    stack.pretrain(X16, epochs_per_layer=2, batch_size=20, progress=False,
                   callbacks=[Checkpoint(path)], resume_from=path)
    assert (tmp_path / "run.layer1.safetensors").exists()


class _Interrupt(Exception):
    pass


class _StopAt(Callback):
    """Raises at the end of the n-th epoch of the whole pre-training (a crash)."""

    def __init__(self, n):
        self.n, self.seen = n, 0

    def on_epoch_end(self, trainer, epoch, logs):
        self.seen += 1
        if self.seen == self.n:
            raise _Interrupt


def test_an_interrupted_pretraining_resumes_to_the_uninterrupted_weights(X16, tmp_path):
    whole = StackedAutoencoder([16, 12, 8], kind="denoising", rng=0)
    whole.pretrain(X16, epochs_per_layer=3, batch_size=20, progress=False)
    path = tmp_path / "run.safetensors"
    options = dict(epochs_per_layer=3, batch_size=20, progress=False, resume_from=path)
    crashed = StackedAutoencoder([16, 12, 8], kind="denoising", rng=0)
    with pytest.raises(_Interrupt):  # during layer 1's third epoch (after its 2nd checkpoint)
        crashed.pretrain(X16, callbacks=[Checkpoint(path), _StopAt(6)], **options)
    resumed = StackedAutoencoder([16, 12, 8], kind="denoising", rng=0)
    resumed.pretrain(X16, callbacks=[Checkpoint(path)], **options)
    for a, b in zip(_weights(whole), _weights(resumed)):
        np.testing.assert_array_equal(a, b)


# -- finding 2: ConditionalGAN keeps its own copy of vector conditions ---------------------
@pytest.mark.parametrize("sampler", ["empirical", "parzen"])
def test_cgan_vector_conditions_are_copied_at_fit(sampler):
    G = rb.nn.Sequential(rb.nn.Dense(4 + 2, 8, rng=0), rb.nn.Tanh(), rb.nn.Dense(8, 2, rng=1))
    D = rb.nn.Sequential(rb.nn.Dense(2 + 2, 8, rng=2), rb.nn.Tanh(), rb.nn.Dense(8, 1, rng=3))
    X = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    y = np.random.default_rng(1).normal(size=(40, 2)).astype(np.float32)
    cgan = rb.models.ConditionalGAN(G, D, noise_dim=4, condition_dim=2,
                                    condition_sampler=sampler, rng=0)
    caller = y.copy()
    cgan.fit(X, caller, epochs=1, batch_size=20)
    assert not np.shares_memory(cgan.conditions_, caller)
    caller += 100.0  # the caller refills its array after fit
    np.testing.assert_array_equal(cgan.conditions_, y)
    cgan.sample(200, rng=0)
    assert np.abs(cgan.last_conditions).max() < 50


# -- finding 5: ParzenWindow keeps its own copy of the data ----------------------------------
def test_parzen_centres_are_a_copy_of_the_fitted_rows():
    buf = np.zeros((50, 2))
    kde = ParzenWindow(sigma=0.1, rng=0).fit(buf)
    before = kde.log_likelihood(np.zeros((1, 2)))
    buf += 50.0
    assert not np.shares_memory(kde.centres_, buf)
    np.testing.assert_array_equal(kde.log_likelihood(np.zeros((1, 2))), before)
    assert np.abs(kde.sample(200).mean(axis=0)).max() < 1


# -- findings 3, 4, 11: RecursiveNet.fit checks everything before the first step -------------
GOOD = ["(1 (0 3) (1 2))"] * 8


def _params(net):
    return [p.data.copy() for p in net.parameters()]


def _unchanged(net, before):
    return all(np.array_equal(b, p.data) for b, p in zip(before, net.parameters()))


def test_recursive_fit_refuses_an_optimizer_of_another_model():
    a, b = RecursiveNet(5, 4, 2, rng=0), RecursiveNet(5, 4, 2, rng=1)
    with pytest.raises(ValueError, match="optimizer holds none of the model's parameters"):
        b.fit(GOOD, epochs=1, optimizer=rb.optim.Adam(a.parameters()))


@pytest.mark.parametrize("bad, match", [
    ("(1 (0 3) (1 9))", r"RecursiveNet.fit: token id 9 in tree 8 is outside the vocabulary"),
    ("(1 (7 3) (1 2))", r"RecursiveNet.fit: label 7 in tree 8 is outside 0 to 2"),
])
def test_recursive_fit_checks_all_trees_before_the_first_step(bad, match):
    net = RecursiveNet(5, 4, 3, rng=0)
    before = _params(net)
    with pytest.raises(ValueError, match=match):
        net.fit(GOOD + [bad], epochs=1, batch_size=2, rng=0)
    assert _unchanged(net, before)


def test_recursive_fit_checks_only_the_labels_it_reads():
    # classify="root" reads no inner label; y replaces the roots' labels
    RecursiveNet(5, 4, 3, classify="root", rng=0).fit(GOOD + ["(1 (7 3) (1 2))"], epochs=1)
    RecursiveNet(5, 4, 3, rng=0).fit(["(9 (0 3) (1 2))"] * 2, np.array([0, 1]), epochs=1)
    with pytest.raises(ValueError, match="label 9 in tree 1"):
        RecursiveNet(5, 4, 3, classify="root", rng=0).fit(GOOD[:1] + ["(9 (0 3) (1 2))"],
                                                           epochs=1)


def test_recursive_predict_names_the_tree_by_its_index_in_the_input():
    net = RecursiveNet(5, 4, 3, rng=0)
    with pytest.raises(ValueError, match="token id 9 in tree 8 "):
        net.predict(GOOD + ["(1 (0 3) (1 9))"], batch_size=4)
    assert net.predict(GOOD, batch_size=3).shape == (8,)


def test_recursive_fit_refuses_a_callback_that_cannot_be_called():
    net = RecursiveNet(5, 4, 3, rng=0)
    before = _params(net)
    with pytest.raises(TypeError, match="RecursiveNet.fit: callback must be callable.*got int"):
        net.fit(GOOD, epochs=1, callback=5)
    assert _unchanged(net, before)
