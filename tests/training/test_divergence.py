"""rb.fit's divergence guard (growth past divergence_factor) and the up-front label check."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.training import DivergenceError


def _regression(seed=0, n=64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    y = (X @ rng.normal(size=5)).astype(np.float32)[:, None]
    return X, y


def _net():
    return rb.nn.Sequential(rb.nn.Dense(5, 16, rng=0), rb.nn.ReLU(), rb.nn.Dense(16, 1, rng=1))


class _Weights(rb.callbacks.Callback):
    """The weight vector at the end of every epoch."""

    def __init__(self):
        self.per_epoch = []

    def on_epoch_end(self, trainer, epoch, logs):
        self.per_epoch.append(trainer.optimizer.vec.data.copy())


def test_a_loss_that_grows_past_the_factor_stops_and_keeps_the_best_epoch():
    """Fine for a few epochs at lr 0.05, then lr 2 from epoch 3: the loss explodes (finite)."""
    X, y = _regression()
    net = _net()
    opt = rb.optim.SGD(net.parameters(), lr=0.05)
    bump = rb.callbacks.LambdaCallback(
        on_epoch_begin=lambda trainer, epoch: setattr(opt, "lr", 0.05 if epoch < 3 else 0.6))
    weights = _Weights()
    with pytest.raises(DivergenceError, match=r"the loss grew to \S+, more than "
                       r"divergence_factor=10000 times the best loss seen .* at epoch \d+ "
                       r"\(0-based\), batch \d+") as info:
        rb.fit(net, X, y, loss="mse", optimizer=opt, epochs=40, batch_size=8, rng=0,
               callbacks=[bump, weights], progress=False)
    err = info.value
    assert err.epoch >= 3 and np.isfinite(err.loss) and err.loss > 1e4 * min(
        err.history["loss"])
    losses = err.history["loss"]
    best = int(np.argmin(losses))
    assert len(losses) == err.epoch  # the epochs completed before
    # the model holds the best epoch's weights, not those of the last (exploding) step
    np.testing.assert_array_equal(opt.vec.data, weights.per_epoch[best])
    assert f"the weights of epoch {best} (0-based), the best one" in str(err)


def test_divergence_factor_none_lets_the_loss_grow_until_it_is_not_finite():
    X, y = _regression()
    net = _net()
    with pytest.raises(DivergenceError, match=r"the loss became (nan|inf)"), \
            np.errstate(all="ignore"):
        rb.fit(net, X, y, loss="mse", optimizer=rb.optim.SGD(net.parameters(), lr=5.0),
               epochs=50, batch_size=8, rng=0, progress=False, divergence_factor=None)
    assert np.all(np.isfinite(net[0].W.data))


def test_a_loss_that_reaches_zero_is_not_mistaken_for_divergence():
    """Batch losses of 1e-9 then 1e-6 are a ratio of 1000s, not a divergence (the floor)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(64, 3)).astype(np.float64)
    y = X @ np.array([[1.0], [-2.0], [0.5]])
    net = rb.nn.Dense(3, 1, rng=0, dtype=np.float64)
    h = rb.fit(net, X, y, loss="mse", optimizer=rb.optim.Adam(net.parameters(), lr=0.05),
               epochs=60, batch_size=8, rng=0, progress=False, divergence_factor=10.0)
    assert h["loss"][-1] < 1e-6 and len(h["loss"]) == 60


@pytest.mark.parametrize("factor", [0.5, 1, float("inf"), float("nan"), "big", True])
def test_bad_divergence_factor(factor):
    X, y = _regression()
    net = _net()
    with pytest.raises(ValueError, match="fit: divergence_factor must be a finite number > 1"):
        rb.fit(net, X, y, loss="mse", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
               epochs=1, progress=False, divergence_factor=factor)


@pytest.mark.parametrize(("label", "message"), [
    (7, r"fit: y\[13\] = 7 but the model outputs 3 classes \(labels 0..2\)"),
    (-1, r"fit: y\[13\] = -1: class labels must be 0, 1, 2"),
])
def test_labels_are_checked_before_training_by_their_index_in_y(label, message):
    X = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    y = np.arange(20) % 3
    y[13] = label
    net = rb.nn.Dense(4, 3, rng=0)
    before = net.W.data.copy()
    with pytest.raises(ValueError, match=message):
        rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
               epochs=3, batch_size=4, progress=False, rng=0)
    np.testing.assert_array_equal(net.W.data, before)  # nothing was trained


def test_an_objective_below_zero_turns_the_growth_check_off():
    """-w^2 style objectives: a ratio to the best value means nothing once it is negative."""
    net = rb.nn.Dense(1, 1, rng=0, dtype=np.float64)
    X = np.ones((8, 1))

    def objective(pred, target):  # goes from ~0 to large negative values
        return -(pred * pred).mean()

    h = rb.fit(net, X, None, loss=objective, optimizer=rb.optim.SGD(net.parameters(), lr=0.3),
               epochs=10, batch_size=8, metrics=(), progress=False)
    assert h["loss"][-1] < -1e3
