"""Audit s10 fixes in the training loop: the walks over a model's modules end on a model with a
back-reference (a Checkpoint, GradientMonitor's dead ReLUs); EarlyStopping names the best epoch
1-based, as the progress display counts."""

import contextlib
import signal

import numpy as np

import rosenblatt as rb


@contextlib.contextmanager
def _within(seconds):
    """Fail instead of hanging (the walks used to loop forever on a cycle)."""
    def timeout(signum, frame):
        raise TimeoutError(f"did not return within {seconds} s")

    before = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)


@rb.nn.register(name="S10CycleChild")
class _Child(rb.nn.Module):
    def __init__(self):
        self.d = rb.nn.Dense(2, 2, rng=0)
        self.act = rb.nn.ReLU()
        self.drop = rb.nn.Dropout(0.1, rng=0)

    def forward(self, x):
        return self.drop(self.act(self.d(x)))


@rb.nn.register(name="S10CycleParent")
class _Parent(rb.nn.Module):
    def __init__(self):
        self.child = _Child()
        self.child.owner = self  # a back-reference: Module's walks support it

    def forward(self, x):
        return self.child(x)


def _data():
    X = np.random.default_rng(0).standard_normal((16, 2)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


# -- 8: walks over the modules end on a cycle --------------------------------------------------

def test_fit_with_a_checkpoint_on_a_model_with_a_back_reference(tmp_path):
    model = _Parent()
    X, y = _data()
    seen = {}
    grab = rb.callbacks.LambdaCallback(
        on_train_begin=lambda trainer: seen.update(trainer.generators()))
    with _within(20):
        rb.fit(model, X, y, loss="cross_entropy", epochs=2, batch_size=8, progress=False,
               optimizer=rb.optim.SGD(model.parameters(), lr=0.1), rng=0,
               callbacks=[grab, rb.callbacks.Checkpoint(tmp_path / "ck.safetensors")])
    assert seen["model.child.drop.rng"] is model.child.drop.rng
    assert sorted(seen) == ["fit", "library", "model.child.drop.rng"]
    assert (tmp_path / "ck.safetensors").exists()


def test_gradient_monitor_dead_relus_on_a_model_with_a_back_reference():
    model = _Parent()
    X, _ = _data()
    with _within(20):
        fractions = rb.callbacks.GradientMonitor().dead_relu_fractions(model, X)
    assert list(fractions) == ["dead_relu/child.act"]


def test_gradient_monitor_still_names_a_shared_relu_at_each_place():
    relu = rb.nn.ReLU()
    model = rb.nn.Sequential(rb.nn.Dense(2, 3, rng=0), relu, rb.nn.Dense(3, 3, rng=0), relu)
    X, _ = _data()
    assert sorted(rb.callbacks.GradientMonitor().dead_relu_fractions(model, X)) == [
        "dead_relu/1", "dead_relu/3"]


# -- F14: EarlyStopping's message counts epochs from 1 -----------------------------------------

def test_early_stopping_message_names_the_best_epoch_one_based():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    net = rb.nn.Sequential(rb.nn.Dense(6, 8, rng=0), rb.nn.ReLU(), rb.nn.Dense(8, 2, rng=0))
    stop = rb.callbacks.EarlyStopping(monitor="val_loss", patience=2)
    # flipped validation labels: the better the fit, the worse val_loss -> best at index 0
    h = rb.fit(net, X, y, loss="cross_entropy", epochs=20, batch_size=16, progress=False,
               optimizer=rb.optim.SGD(net.parameters(), lr=0.2), validation_data=(X, 1 - y),
               callbacks=[stop], rng=0)
    assert stop.best_epoch == int(np.argmin(h["val_loss"])) == 0
    assert h.stop_reason.endswith(f"(best {stop.best:.6g} at epoch 1)")


def test_early_stopping_message_when_no_value_was_finite():
    class NaNLoss(rb.callbacks.Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            logs["val_loss"] = float("nan")

    X, y = _data()
    net = rb.nn.Sequential(rb.nn.Dense(2, 2, rng=0))
    stop = rb.callbacks.EarlyStopping(monitor="val_loss", patience=1)
    h = rb.fit(net, X, y, loss="cross_entropy", epochs=5, batch_size=8, progress=False,
               validation_data=(X, y), callbacks=[NaNLoss(), stop], rng=0,
               optimizer=rb.optim.SGD(net.parameters(), lr=0.1))
    assert stop.best_epoch is None
    assert h.stop_reason.endswith("(no finite value seen)")

