"""Early stopping, checkpoints and resume, gradient monitoring, per-epoch schedules."""

import json

import numpy as np
import pytest

import rosenblatt as rb


def _data(rng, n=96):
    X = rng.normal(size=(n, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X, y


def _net(seed=0, dropout=0.0):
    rng = np.random.default_rng(seed)
    layers = [rb.nn.Dense(6, 16, rng=rng), rb.nn.ReLU()]
    if dropout:
        layers.append(rb.nn.Dropout(dropout))
    layers.append(rb.nn.Dense(16, 2, rng=rng))
    return rb.nn.Sequential(*layers)


def _weights(net):
    return np.concatenate([p.data.ravel() for p in net.parameters()])


def test_early_stopping_stops_and_restores_the_best_weights(rng):
    X, y = _data(rng)
    # validation labels are flipped: the better the fit, the worse val_loss -> best at epoch 0
    net = _net()
    snapshots = []
    keep = rb.callbacks.LambdaCallback(
        on_epoch_end=lambda trainer, epoch, logs: snapshots.append(_weights(net)))
    stop = rb.callbacks.EarlyStopping(monitor="val_loss", patience=3)
    h = rb.fit(net, X, y, loss="cross_entropy", epochs=50,
               optimizer=rb.optim.SGD(net.parameters(), lr=0.2), validation_data=(X, 1 - y),
               callbacks=[keep, stop], progress=False, rng=0)
    assert len(h) == 4 and stop.stopped_epoch == 3 and stop.best_epoch == 0
    assert "early stopping: val_loss did not improve for 3 epochs" in h.stop_reason
    np.testing.assert_array_equal(_weights(net), snapshots[0])
    assert not np.array_equal(snapshots[-1], snapshots[0])


def test_early_stopping_without_restore_and_on_accuracy(rng):
    X, y = _data(rng)
    net = _net()
    stop = rb.callbacks.EarlyStopping(monitor="val_accuracy", patience=2, restore_best=False)
    assert stop.mode == "max"
    snapshots = []
    keep = rb.callbacks.LambdaCallback(
        on_epoch_end=lambda trainer, epoch, logs: snapshots.append(_weights(net)))
    h = rb.fit(net, X, y, loss="cross_entropy", epochs=50,
               optimizer=rb.optim.SGD(net.parameters(), lr=0.2), validation_data=(X, 1 - y),
               callbacks=[keep, stop], progress=False, rng=0)
    assert len(h) < 50
    np.testing.assert_array_equal(_weights(net), snapshots[-1])


def test_early_stopping_names_missing_monitor(rng):
    X, y = _data(rng)
    net = _net()
    with pytest.raises(ValueError, match=r"EarlyStopping: monitor 'acc' is not computed; "
                                         r"available: \['accuracy', 'loss', 'lr', 'time'\]"):
        rb.fit(net, X, y, loss="cross_entropy", epochs=2, progress=False,
               optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
               callbacks=[rb.callbacks.EarlyStopping(monitor="acc")])
    # a val_* monitor without validation data: said before the first epoch (audit s5 a8 #11)
    with pytest.raises(ValueError, match=r"EarlyStopping: monitor 'val_loss' needs "
                                         r"validation_data"):
        rb.fit(net, X, y, loss="cross_entropy", epochs=2, progress=False,
               optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
               callbacks=[rb.callbacks.EarlyStopping()])


class _Crash(rb.callbacks.Callback):
    def __init__(self, at):
        self.at = at

    def on_epoch_begin(self, trainer, epoch):
        if epoch == self.at:
            raise KeyboardInterrupt("simulated crash")


def _resumable_run(X, y, path, epochs, crash_at=None, resume=False):
    """Everything random at once: dropout, shuffling, augmentation-like noise, gradient noise."""
    rb.seed(0)
    net = _net(seed=1, dropout=0.3)
    opt = rb.optim.GradientNoise(rb.optim.Adam(net.parameters(), lr=0.01), eta=1e-4,
                                 rng=np.random.default_rng(5))
    callbacks = [rb.callbacks.EarlyStopping(monitor="val_loss", patience=100),
                 rb.callbacks.Checkpoint(path)]
    if crash_at is not None:
        callbacks.append(_Crash(crash_at))
    h = rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=epochs, batch_size=16,
               validation_data=(X[:32], y[:32]), regularizers=[rb.regularizers.InputNoise(0.1)],
               callbacks=callbacks, progress=False, resume_from=path if resume else None)
    return net, h


def test_checkpoint_resume_equals_an_uninterrupted_run_bit_for_bit(rng, tmp_path):
    X, y = _data(rng)
    full, h_full = _resumable_run(X, y, tmp_path / "full.safetensors", epochs=6)
    path = tmp_path / "run.safetensors"
    with pytest.raises(KeyboardInterrupt):
        _resumable_run(X, y, path, epochs=6, crash_at=4)
    assert rb.io.load_checkpoint(path).metadata["epoch"] == 4
    resumed, h_resumed = _resumable_run(X, y, path, epochs=6, resume=True)
    np.testing.assert_array_equal(_weights(resumed), _weights(full))
    assert h_resumed.epoch == list(range(6))
    for key in ("loss", "accuracy", "val_loss"):
        assert h_resumed[key] == h_full[key]
    # the checkpoint file is also a plain model file
    again = rb.load(path)
    np.testing.assert_array_equal(_weights(again), _weights(resumed))


def test_checkpoint_every_and_missing_resume_file_starts_fresh(rng, tmp_path):
    X, y = _data(rng)
    path = tmp_path / "ck.safetensors"
    net = _net()
    rb.fit(net, X, y, loss="cross_entropy", epochs=3, optimizer=rb.optim.SGD(net.parameters(),
           lr=0.1), callbacks=[rb.callbacks.Checkpoint(path, every=2)], progress=False,
           resume_from=tmp_path / "absent.safetensors", rng=0)
    assert rb.io.load_checkpoint(path).metadata["epoch"] == 2
    plain = tmp_path / "model.safetensors"
    rb.save(net, plain)
    with pytest.raises(ValueError, match="is a model file, not a training checkpoint"):
        rb.fit(net, X, y, loss="cross_entropy", epochs=3, resume_from=plain, progress=False,
               optimizer=rb.optim.SGD(net.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="Checkpoint: every must be a positive integer"):
        rb.callbacks.Checkpoint(path, every=0)


def test_gradient_monitor_shows_vanishing_gradients(rng):
    X = rng.normal(size=(64, 6)).astype(np.float32)
    y = rng.integers(0, 2, 64)
    layers = [rb.nn.Dense(6, 16, init="normal", rng=0), rb.nn.Sigmoid()]
    for i in range(4):
        layers += [rb.nn.Dense(16, 16, init="normal", rng=i + 1), rb.nn.Sigmoid()]
    net = rb.nn.Sequential(*layers, rb.nn.Dense(16, 2, rng=9))
    monitor = rb.callbacks.GradientMonitor()
    h = rb.fit(net, X, y, loss="cross_entropy", epochs=2, batch_size=32, progress=False,
               optimizer=rb.optim.SGD(net.parameters(), lr=0.01), callbacks=[monitor], rng=0)
    norms = [h[f"grad_norm/{i}"][-1] for i in (0, 2, 4, 6, 8, 10)]
    assert norms[0] < norms[-1] / 10  # the gradient vanishes towards the input
    assert len(monitor.records) == 2 and len(h["grad_norm/0"]) == 2


def test_gradient_monitor_counts_dead_relus(rng):
    X = rng.normal(size=(64, 6)).astype(np.float32)
    y = rng.integers(0, 2, 64)
    alive = rb.nn.Dense(6, 8, rng=1)
    dead = rb.nn.Dense(6, 8, rng=2)
    dead.b.data[:4] = -100.0  # half of the units never fire
    net = rb.nn.Sequential(alive, rb.nn.ReLU(), rb.nn.Dense(8, 6, rng=3), rb.nn.Tanh(), dead,
                           rb.nn.ReLU(), rb.nn.Dense(8, 2, rng=4))
    h = rb.fit(net, X, y, loss="cross_entropy", epochs=1, batch_size=64, progress=False,
               optimizer=rb.optim.SGD(net.parameters(), lr=0.0),
               callbacks=[rb.callbacks.GradientMonitor()], rng=0)
    assert h["dead_relu/1"][0] < 0.5
    assert h["dead_relu/5"][0] == 0.5
    assert net[1].forward.__func__ is rb.nn.ReLU.forward  # the spies are removed


def test_learning_rate_scheduler_sets_lr_per_epoch(rng):
    X, y = _data(rng)
    net = _net()
    sched = rb.callbacks.LearningRateScheduler(rb.optim.schedules.InverseTime(0.1, lam=10.0))
    h = rb.fit(net, X, y, loss="cross_entropy", epochs=3, progress=False,
               optimizer=rb.optim.SGD(net.parameters(), lr=1.0), callbacks=[sched])
    assert h["lr"] == pytest.approx([0.1, 0.05, 0.1 / 3])


def test_history_plot(rng):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    h = rb.training.History()
    for e in range(3):
        h.append(e, {"loss": 1.0 / (e + 1), "val_loss": 1.2 / (e + 1), "accuracy": 0.5 + e / 10})
    ax = h.plot()
    assert {line.get_label() for line in ax.get_lines()} == {"loss", "val_loss"}
    restored = rb.training.History.from_dict(h.to_dict())
    assert restored["accuracy"] == h["accuracy"]
    with pytest.raises(KeyError, match="History: no 'f1'"):
        h["f1"]
    ax = h.plot("val_loss")  # one key as a plain string
    assert [line.get_label() for line in ax.get_lines()] == ["val_loss"]
    with pytest.raises(KeyError, match=r"History: no 'f1'; recorded \['accuracy', 'loss'"):
        h.plot(["loss", "f1"])


def test_reduce_lr_on_plateau(rng):
    X, y = _data(rng)
    net = _net()
    cb = rb.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_lr=0.03)
    h = rb.fit(net, X, y, loss="cross_entropy", epochs=6, progress=False, rng=0,
               optimizer=rb.optim.SGD(net.parameters(), lr=0.2), validation_data=(X, 1 - y),
               callbacks=[cb])
    # val_loss (flipped labels) never improves after epoch 0: halve after every epoch from
    # epoch 1 on (the logged lr is the one an epoch used), floor 0.03
    assert h["lr"] == pytest.approx([0.2, 0.2, 0.1, 0.05, 0.03, 0.03])
    with pytest.raises(ValueError, match=r"factor must be in \(0, 1\)"):
        rb.callbacks.ReduceLROnPlateau(factor=2)


@pytest.mark.parametrize(("make", "match"), [
    (lambda v: rb.callbacks.EarlyStopping(min_delta=v), "EarlyStopping: min_delta must be a "
                                                         "finite number; got nan"),
    (lambda v: rb.callbacks.ReduceLROnPlateau(min_lr=v), "ReduceLROnPlateau: min_lr must be "
                                                          "finite and >= 0; got nan"),
])
def test_nan_hyperparameters_are_refused_by_name(make, match):
    with pytest.raises(ValueError, match=match):
        make(float("nan"))
    with pytest.raises(ValueError, match=match.replace("nan", "inf")):
        make(float("inf"))


def test_reduce_lr_on_plateau_starts_afresh_in_each_fit(rng):
    """A second fit must not measure its losses against the first fit's best."""
    X, y = _data(rng)
    net = _net()
    cb = rb.callbacks.ReduceLROnPlateau(monitor="loss", patience=1)
    rb.fit(net, X, y, loss="cross_entropy", epochs=15, progress=False, rng=0,
           optimizer=rb.optim.SGD(net.parameters(), lr=0.1), callbacks=[cb])
    assert cb.best < 0.4
    # random labels: a higher loss, decreasing from epoch to epoch at lr 0.1
    y2 = np.random.default_rng(1).integers(0, 2, len(X))
    h = rb.fit(net, X, y2, loss="cross_entropy", epochs=3, progress=False, rng=0,
               optimizer=rb.optim.SGD(net.parameters(), lr=0.1), callbacks=[cb])
    assert np.all(np.diff(h["loss"]) < 0) and h["lr"] == [0.1, 0.1, 0.1]
    assert cb.best == h["loss"][-1] and cb.wait == 0


@pytest.mark.parametrize(("monitor", "mode"), [
    ("pseudo_likelihood", "max"), ("val_log_likelihood", "max"), ("val_auc", "max"),
    ("roc_auc", "max"), ("val_accuracy", "max"), ("loss", "min"),
    ("neg_log_likelihood", "min"), ("reconstruction_error", "min")])
def test_auto_mode_maximises_accuracies_likelihoods_and_auc(monitor, mode):
    assert rb.callbacks.EarlyStopping(monitor=monitor).mode == mode
    assert rb.callbacks.ReduceLROnPlateau(monitor=monitor).mode == mode
    h = rb.training.History()
    h.append(0, {monitor: 1.0})
    h.append(1, {monitor: 2.0})
    assert h.best(monitor) == ((1, 2.0) if mode == "max" else (0, 1.0))


def _early_stopped_run(X, y, path):
    rb.seed(0)
    net = _net(seed=1)
    h = rb.fit(net, X, y, loss="cross_entropy", epochs=30, rng=0, progress=False,
               optimizer=rb.optim.Adam(net.parameters(), lr=0.05),
               validation_data=(X[:32], 1 - y[:32]), resume_from=path,
               callbacks=[rb.callbacks.EarlyStopping(patience=2), rb.callbacks.Checkpoint(path)])
    return net, h


def test_the_same_call_after_an_early_stop_returns_the_stored_run(rng, tmp_path):
    """The docs: the same call starts and resumes a run; a finished run stays finished."""
    X, y = _data(rng)
    path = tmp_path / "run.safetensors"
    first, h1 = _early_stopped_run(X, y, path)
    assert h1.stop_reason.startswith("early stopping") and len(h1) < 30
    for _ in range(2):
        again, h2 = _early_stopped_run(X, y, path)
        assert h2.epoch == h1.epoch and h2["loss"] == h1["loss"]
        assert h2.stop_reason == h1.stop_reason
        np.testing.assert_array_equal(_weights(again), _weights(first))  # the best epoch's
    assert rb.io.load_checkpoint(path).metadata["epoch"] == len(h1)


class _EpochLoss(rb.callbacks.Callback):
    """Scales the loss per epoch: best at epoch 2, explodes at epoch 5."""

    scale = {0: 1.0, 1: 0.5, 2: 0.1, 3: 0.8, 4: 0.9, 5: 1e9}

    def __init__(self):
        self.epoch = 0

    def on_epoch_begin(self, trainer, epoch):
        self.epoch = epoch

    def loss(self, pred, target):
        return rb.losses.mse(pred, target) * self.scale[self.epoch]


def _diverging_run(X, y, epochs, path=None, resume=False):
    net = rb.nn.Dense(3, 1, rng=0, dtype=np.float64)
    ep = _EpochLoss()
    callbacks = [ep] + ([rb.callbacks.Checkpoint(path)] if path else [])
    try:
        rb.fit(net, X, y, loss=ep.loss, epochs=epochs, batch_size=len(X), metrics=(),
               optimizer=rb.optim.SGD(net.parameters(), lr=0.05), callbacks=callbacks,
               progress=False, resume_from=path if resume else None)
    except rb.training.DivergenceError as e:
        return net, str(e)
    return net, None


def test_a_divergence_after_a_resume_restores_the_best_epoch_as_the_uninterrupted_run(tmp_path):
    r = np.random.default_rng(0)
    X, y = r.standard_normal((20, 3)), r.standard_normal((20, 1))
    full, message = _diverging_run(X, y, 6)
    assert "keeps the weights of epoch 2 (0-based), the best one" in message
    path = tmp_path / "run.safetensors"
    _diverging_run(X, y, 4, path)
    resumed, resumed_message = _diverging_run(X, y, 6, path, resume=True)
    assert resumed_message == message
    np.testing.assert_allclose(resumed.W.data, full.W.data, rtol=1e-12)
    np.testing.assert_allclose(resumed.b.data, full.b.data, rtol=1e-12)


# -- audit a2: ReduceLROnPlateau / LearningRateScheduler with the optimizer's lr -----------------

class _Loop:
    """Just what the lr callbacks read: the optimizer and the first epoch."""

    def __init__(self, optimizer):
        self.optimizer, self.start_epoch = optimizer, 0


def _sgd(lr):
    return rb.optim.SGD([rb.nn.Parameter(np.zeros(2))], lr=lr)


def test_reduce_lr_on_plateau_never_raises_the_rate():
    opt = _sgd(1e-5)
    cb = rb.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.1, patience=0, min_lr=1e-3)
    loop = _Loop(opt)
    cb.on_train_begin(loop)
    for epoch in range(4):
        cb.on_epoch_end(loop, epoch, {"loss": 1.0})
        assert opt.lr == 1e-5


def test_reduce_lr_on_plateau_scales_an_optimizer_schedule(rng):
    X = rng.normal(size=(64, 3)).astype(np.float32)
    y = np.zeros((64, 1), np.float32)
    net = rb.nn.Sequential(rb.nn.Dense(3, 1, init="zeros"))
    opt = rb.optim.SGD(net.parameters(), lr=rb.optim.schedules.Constant(0.05))
    cb = rb.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.1, patience=0)
    h = rb.fit(net, X, y, loss="mse", optimizer=opt, epochs=4, callbacks=[cb], batch_size=64,
               progress=False, rng=0)
    # the logged lr is the one each epoch used: the loss is flat from epoch 1 on
    assert h["lr"] == pytest.approx([0.05, 0.05, 0.005, 5e-4])
    assert opt.lr_scale == pytest.approx(1e-3)


def test_learning_rate_scheduler_refuses_an_optimizer_schedule(rng):
    X, y = _data(rng)
    net = _net()
    opt = rb.optim.SGD(net.parameters(), lr=rb.optim.schedules.Constant(0.1))
    with pytest.raises(ValueError, match="LearningRateScheduler: the optimizer already has a "
                                         "schedule"):
        rb.fit(net, X, y, loss="cross_entropy", epochs=1, progress=False, optimizer=opt,
               callbacks=[rb.callbacks.LearningRateScheduler(lambda e: 0.001)])


def test_learning_rate_scheduler_checks_its_values():
    cb = rb.callbacks.LearningRateScheduler(lambda e: 0.1 - 0.1 * e)
    loop = _Loop(_sgd(1.0))
    cb.on_epoch_begin(loop, 1)
    with pytest.raises(ValueError, match=r"LearningRateScheduler: lr \(schedule at epoch 2\) "
                                         r"must be finite and >= 0"):
        cb.on_epoch_begin(loop, 2)


def test_reduce_lr_on_plateau_restores_its_schedule_scale_on_resume():
    opt = _sgd(rb.optim.schedules.Constant(0.1))
    cb = rb.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0)
    loop = _Loop(opt)
    cb.on_train_begin(loop)
    for epoch in range(3):
        cb.on_epoch_end(loop, epoch, {"loss": 1.0})
    assert opt.lr_scale == 0.25
    state = json.loads(json.dumps(cb.state_dict()))
    fresh, again = _sgd(rb.optim.schedules.Constant(0.1)), rb.callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=0)
    again.load_state_dict(state)
    resumed = _Loop(fresh)
    resumed.start_epoch = 3
    again.on_train_begin(resumed)
    assert fresh.lr_scale == 0.25
    with pytest.raises(ValueError, match="ReduceLROnPlateau: lr_scale must be finite"):
        again.load_state_dict({**state, "lr_scale": -2.5})


@pytest.mark.parametrize("make", [
    lambda p: rb.optim.SGD(p, lr=0.05, momentum=0.9),
    lambda p: rb.optim.Adam(p, lr=0.01),
])
def test_a_checkpoint_written_before_the_newer_optimizer_options_resumes(make, rng, tmp_path):
    # files from before SGD's dampening and Adam's amsgrad / decoupled decay lack those keys
    X, y = _data(rng)

    def run(epochs, path, resume=False):
        net = _net(seed=1)
        rb.fit(net, X, y, loss="cross_entropy", optimizer=make(net.parameters()),
               epochs=epochs, batch_size=16, progress=False, rng=3,
               callbacks=[] if resume else [rb.callbacks.Checkpoint(path)],
               resume_from=path if resume else None)
        return net

    full = run(4, tmp_path / "full.st")
    path = tmp_path / "old.st"
    run(2, path)
    ckpt = rb.io.load_checkpoint(path)
    old = {k: v for k, v in ckpt.optimizer_state.items()
           if k not in ("dampening", "amsgrad", "decoupled_weight_decay", "v_max")}
    rb.save(ckpt.model, path, optimizer=old, metadata=ckpt.metadata)
    resumed = run(4, path, resume=True)
    np.testing.assert_array_equal(_weights(resumed), _weights(full))
