"""Audit s12/a7 (determinism and resumption): each test failed before its fix."""

import os
import warnings

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.training.callbacks import Callback, Checkpoint, EarlyStopping, ReduceLROnPlateau
from rosenblatt.training.trainer import DivergenceError


def _xy(n=64, seed=0):
    g = np.random.default_rng(seed)
    X = g.normal(size=(n, 2)).astype(np.float32)
    return X, (X[:, 0] * X[:, 1] > 0).astype(np.int64)


# -- 1: tune_fit's fit_kwargs Checkpoint / resume_from: one file per trial ------------------
def _build_tanh(params):
    return rb.nn.Sequential(rb.nn.Dense(2, 8), rb.nn.Tanh(), rb.nn.Dense(8, 2))


def test_tune_fit_checkpoint_in_fit_kwargs_is_each_trials_own(tmp_path):
    X, y = _xy()
    space = rb.tuning.Space({"lr": rb.tuning.LogUniform(1e-3, 0.3)})
    kw = dict(validation_data=(X, y), epochs=3, method="random", n_trials=3, seed=0)
    ref, _ = rb.tuning.tune_fit(_build_tanh, space, X, y, **kw)
    path = tmp_path / "trial.safetensors"
    got, _ = rb.tuning.tune_fit(_build_tanh, space, X, y, **kw, fit_kwargs={
        "callbacks": [Checkpoint(path)], "resume_from": path})
    # before: trials 1 and 2 "resumed" trial 0's finished run and reported its curve
    assert [t.attrs["curve"] for t in got.trials] == [t.attrs["curve"] for t in ref.trials]
    assert len({t.value for t in got.trials}) == 3
    files = sorted(os.listdir(tmp_path))
    assert len(files) == 3 and all(f.startswith("trial.trial-") for f in files)
    assert rb.tuning.networks.trial_path("a/run.safetensors", 255) == \
        os.path.join("a", "run.trial-00000000000000ff.safetensors")


class _Interrupt(Callback):
    calls = [0]  # shared by the copies each trial trains with

    def __init__(self, at):
        self.at = at
        self.calls[0] = 0

    def on_epoch_end(self, trainer, epoch, logs):
        self.calls[0] += 1
        if self.calls[0] == self.at:
            raise KeyboardInterrupt


def test_tune_fit_trial_interrupted_with_the_study_continues_from_its_checkpoint(tmp_path):
    X, y = _xy()
    space = rb.tuning.Space({"lr": rb.tuning.LogUniform(1e-3, 0.3)})
    kw = dict(validation_data=(X, y), epochs=3, method="random", n_trials=2, seed=0,
              pruning="median")
    ref, _ = rb.tuning.tune_fit(_build_tanh, space, X, y, **kw)
    ck, study = tmp_path / "t.safetensors", tmp_path / "study.json"
    stop = _Interrupt(5)  # trial 1's second epoch (its checkpoint: after its first)
    with pytest.raises(KeyboardInterrupt):
        rb.tuning.tune_fit(_build_tanh, space, X, y, **kw, resume_from=study,
                           fit_kwargs={"callbacks": [Checkpoint(ck), stop], "resume_from": ck})
    got, _ = rb.tuning.tune_fit(_build_tanh, space, X, y, **kw, resume_from=study,
                                fit_kwargs={"callbacks": [Checkpoint(ck)], "resume_from": ck})
    assert [(t.value, t.attrs["curve"]) for t in got.trials] == \
        [(t.value, t.attrs["curve"]) for t in ref.trials]


# -- 2: GAN / RBM resume match callback states by kind, as rb.fit does ---------------------
def _gan():
    rb.seed(0)
    G = rb.nn.Sequential(rb.nn.Dense(2, 8), rb.nn.Tanh(), rb.nn.Dense(8, 2))
    D = rb.nn.Sequential(rb.nn.Dense(2, 8), rb.nn.ReLU(), rb.nn.Dense(8, 1))
    return rb.models.GAN(G, D, noise_dim=2, rng=0)


def test_gan_resume_gives_each_callback_its_own_kinds_state(tmp_path):
    X, _ = _xy()
    path = tmp_path / "gan.safetensors"
    _gan().fit(X, 2, batch_size=8, callbacks=[
        EarlyStopping("d_loss", patience=50, restore_best=False),
        EarlyStopping("g_loss", patience=50, restore_best=False), Checkpoint(path)])
    g_cb = EarlyStopping("g_loss", patience=50, restore_best=False)
    d_cb = EarlyStopping("d_loss", patience=50, restore_best=False)
    gan = _gan()
    gan.fit(X, 2, batch_size=8, callbacks=[g_cb, d_cb, Checkpoint(path)], resume_from=path)
    # before: loaded by position, the g_loss callback held d_loss's best and vice versa
    assert g_cb.best == min(gan.history["g_loss"])
    assert d_cb.best == min(gan.history["d_loss"])


def test_gan_resume_with_a_callback_added_in_front(tmp_path):
    X, _ = _xy()
    path = tmp_path / "gan.safetensors"
    _gan().fit(X, 2, batch_size=8, callbacks=[ReduceLROnPlateau("g_loss", patience=1),
                                               Checkpoint(path)])
    plateau = ReduceLROnPlateau("g_loss", patience=1)
    # before: FormatError 'checkpoint "callbacks"[0] (EarlyStopping): KeyError: best_epoch'
    _gan().fit(X, 3, batch_size=8, callbacks=[EarlyStopping("d_loss", restore_best=False),
                                               plateau, Checkpoint(path)], resume_from=path)
    assert np.isfinite(plateau.best)


def test_rbm_resume_gives_each_callback_its_own_kinds_state(tmp_path):
    X = (np.random.default_rng(0).random((40, 6)) < 0.4).astype(np.float32)
    path = tmp_path / "rbm.safetensors"

    def rbm():
        return rb.models.RBM(6, 4, rng=0)

    rbm().fit(X, epochs=2, batch_size=10, progress=False, callbacks=[
        EarlyStopping("reconstruction_error", patience=50, restore_best=False),
        EarlyStopping("pseudo_likelihood", patience=50, restore_best=False), Checkpoint(path)])
    pl = EarlyStopping("pseudo_likelihood", patience=50, restore_best=False)
    re = EarlyStopping("reconstruction_error", patience=50, restore_best=False)
    model = rbm()
    h = model.fit(X, epochs=2, batch_size=10, progress=False, callbacks=[pl, re, Checkpoint(path)],
                  resume_from=path)
    assert pl.best == max(h["pseudo_likelihood"])
    assert re.best == min(h["reconstruction_error"])


# -- 3: an optimizer of one's own (no flat vector): a checkpoint keeps the best epoch ---------
class _PlainSGD:
    """step/zero_grad/state_dict/load_state_dict, no ParameterVector."""

    def __init__(self, params, lr):
        self.params, self.lr = list(params), lr

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for p in self.params:
            if p.grad is not None:
                p.data -= self.lr * p.grad

    def state_dict(self):
        return {"lr": self.lr}

    def load_state_dict(self, state):
        self.lr = state["lr"]


def test_custom_optimizer_divergence_after_resume_puts_back_the_same_best_epoch(tmp_path):
    g = np.random.default_rng(0)
    X = g.normal(size=(64, 4)).astype(np.float32)
    y = g.integers(0, 3, 64)
    path = tmp_path / "c.safetensors"
    rates = [0.5, 0.5, 20.0, 20.0, 1e6]  # epoch 1 best, 2-3 worse, 4 diverges

    def run(epochs, **kw):
        rb.seed(0)
        net = rb.nn.Sequential(rb.nn.Dense(4, 16), rb.nn.Tanh(), rb.nn.Dense(16, 3))
        try:
            rb.fit(net, X, y, loss="cross_entropy", optimizer=_PlainSGD(net.parameters(), 0.5),
                   epochs=epochs, batch_size=16, progress=False, callbacks=[
                       rb.callbacks.LearningRateScheduler(rates.__getitem__), Checkpoint(path)],
                   **kw)
        except DivergenceError as e:
            return net, str(e)
        return net, None

    a, message_a = run(5)
    os.remove(path)
    run(2)
    b, message_b = run(5, resume_from=path)
    assert "the weights of epoch 1" in message_a
    assert message_b == message_a  # before: "the weights of epoch 2 ..." (the first resumed)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


# -- 4: a kind saved more often than this run has it, without state (two Checkpoints) ------
def test_resume_with_fewer_stateless_callbacks_of_a_kind(tmp_path):
    X, y = _xy(32)
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"

    def go(epochs, callbacks, **kw):
        rb.seed(0)
        net = rb.nn.Sequential(rb.nn.Dense(2, 4), rb.nn.Tanh(), rb.nn.Dense(4, 2))
        return rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(
            net.parameters(), lr=0.1), epochs=epochs, progress=False, callbacks=callbacks, **kw)

    go(2, [Checkpoint(a), Checkpoint(b, every=2)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing with a state is dropped: no warning either
        h = go(4, [Checkpoint(a)], resume_from=a)  # before: IndexError
    assert len(h["loss"]) == 4


# -- 5: StackedAutoencoder.to_autoencoder draws nothing from the stack's generator ----------
@pytest.mark.parametrize("rng", [5, None])
def test_stacked_to_autoencoder_leaves_the_generators_alone(rng):
    X = np.random.default_rng(0).random((24, 6)).astype(np.float32)

    def pretrained(export):
        rb.seed(0)
        stack = rb.models.StackedAutoencoder((6, 4, 3), rng=rng, hidden_dropout=0.2)
        if export:
            deep = stack.to_autoencoder()
            assert len(deep) == 8
        stack.pretrain(X, epochs_per_layer=1, batch_size=8)
        return stack.state_dict()

    a, b = pretrained(False), pretrained(True)
    for key in a:  # before: the export's throwaway initial weights moved the generator
        np.testing.assert_array_equal(a[key], b[key])


# -- 6: GAN, one scheduled rate and one plain: ReduceLROnPlateau's scale after a resume -----
def test_gan_resume_with_one_scheduled_rate_keeps_the_plateau_reductions(tmp_path):
    X, _ = _xy()
    path = tmp_path / "gan.safetensors"

    def gan():
        rb.seed(0)
        G = rb.nn.Sequential(rb.nn.Dense(2, 8), rb.nn.Tanh(), rb.nn.Dense(8, 2))
        D = rb.nn.Sequential(rb.nn.Dense(2, 8), rb.nn.ReLU(), rb.nn.Dense(8, 1))
        return rb.models.GAN(G, D, noise_dim=2, rng=0, optimizer_g=lambda p: rb.optim.SGD(
            p, lr=0.05), optimizer_d=lambda p: rb.optim.SGD(
            p, lr=rb.optim.schedules.Constant(0.05)))

    def fit(model, epochs, **kw):  # a reduction at every epoch after the first
        plateau = ReduceLROnPlateau("d_real", mode="max", patience=0, threshold=10.0)
        model.fit(X, epochs, batch_size=16, callbacks=[plateau, Checkpoint(path)], **kw)
        return model

    a = fit(gan(), 4)
    os.remove(path)
    fit(gan(), 2)
    b = fit(gan(), 4, resume_from=path)
    assert a.optimizer_g.lr == 0.05 / 8 and a.optimizer_d.lr_scale == 1 / 8
    assert b.optimizer_g.lr == a.optimizer_g.lr  # before: 0.05 / 16, halved once more
    assert b.optimizer_d.lr_scale == a.optimizer_d.lr_scale
    for key, value in a.state_dict().items():
        np.testing.assert_array_equal(value, b.state_dict()[key])


# -- 8: two ReduceLROnPlateau on one scheduled optimizer: the scale a resume restores ------
class _StallsAfterOne(Callback):
    """Logs "e": 0, then 1 forever (an improvement, then a plateau)."""

    logged_key = "e"

    def on_epoch_end(self, trainer, epoch, logs):
        logs["e"] = float(min(epoch, 1))


def test_two_plateau_callbacks_on_one_schedule_resume_with_the_current_scale(tmp_path):
    X, y = _xy(40)
    path = tmp_path / "c.safetensors"

    def run(epochs, **kw):
        rb.seed(0)
        net = rb.nn.Sequential(rb.nn.Dense(2, 4), rb.nn.Tanh(), rb.nn.Dense(4, 2))
        opt = rb.optim.SGD(net.parameters(), lr=rb.optim.schedules.Constant(0.1))
        callbacks = [_StallsAfterOne(),
                     ReduceLROnPlateau("loss", mode="max", patience=0, threshold=10.0),
                     ReduceLROnPlateau("e", mode="max", patience=0, cooldown=10),
                     Checkpoint(path)]
        rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=epochs, progress=False,
               callbacks=callbacks, **kw)
        return net, opt

    a, opt_a = run(5)
    os.remove(path)
    run(4)
    b, opt_b = run(5, resume_from=path)
    assert opt_a.lr_scale == 1 / 32
    assert opt_b.lr_scale == opt_a.lr_scale  # before: 1 / 16, the second callback's old scale
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
