"""Audit fixes (round s7, area a6, and the rb.fit half of a3's finding 4): the training loop's
checks before training, binary targets, threads with dropout, integer token ids; each test
failed before its fix."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.training.curriculum import Curriculum
from rosenblatt.training.metrics import EpochScore

from .helpers import Steps, small_fit


def _data(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


# -- 1: validation_data=(X_val, None) with y given ----------------------------------------------
def test_validation_pair_without_targets_is_refused_when_y_is_given():
    X, y = _data()
    net = rb.nn.Sequential(rb.nn.Dense(3, 2, rng=0))
    with pytest.raises(ValueError, match=r"y is given but validation_data has no targets"):
        small_fit(net, X, y, validation_data=(X, None))


def test_validation_pair_without_targets_still_serves_autoencoders():
    X, _ = _data()
    net = rb.nn.Sequential(rb.nn.Dense(3, 3, rng=0))
    h = small_fit(net, X, None, loss="mse", metrics=(), validation_data=(X[:8], None))
    assert len(h["val_loss"]) == 1


# -- 2: distributed="threads" with dropout is reproducible and follows one thread -------------
def _threads_run(distributed):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(64, 8))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    rb.seed(0)
    net = rb.nn.Sequential(rb.nn.Dense(8, 32, dtype=np.float64), rb.nn.Tanh(),
                           rb.nn.Dropout(0.5), rb.nn.Dense(32, 16, dtype=np.float64),
                           rb.nn.RReLU(), rb.nn.Dropout(0.3), rb.nn.Dense(16, 2, dtype=np.float64))
    small_fit(net, X, y, epochs=2, batch_size=16, rng=3, distributed=distributed)
    return np.concatenate([v.ravel() for v in net.state_dict().values()])


def test_threads_with_dropout_are_reproducible_and_follow_one_thread():
    one = _threads_run(None)
    first, second = _threads_run("threads"), _threads_run("threads")
    # before: the threads raced for the shared generator (runs differed by ~0.03); now each
    # thread takes its rows of the whole batch's masks, drawn once in forward order
    assert np.abs(first - second).max() < 1e-12
    assert np.abs(first - one).max() < 1e-12


def test_thread_parallel_puts_back_the_layers_generators():
    X, y = _data(n=16)
    net = rb.nn.Sequential(rb.nn.Dense(3, 4, rng=0), rb.nn.Dropout(0.5, rng=7),
                           rb.nn.Dense(4, 2, rng=0))
    own = net[1].rng
    opt = rb.optim.SGD(net.parameters(), lr=0.1)
    tp = rb.distributed.ThreadParallel(net, opt)
    try:
        tp.backward(lambda m, i: rb.losses.cross_entropy(m(rb.tensor(X[i])), y[i]),
                    np.arange(16))
    finally:
        tp.close()
    assert net[1].rng is own
    assert type(tp.replicas[0][1].rng) is np.random.Generator  # not the run's wrapper


# -- 4: one callback, not in a list ------------------------------------------------------------
def test_a_single_callback_is_used():
    X, y = _data()
    steps = Steps()
    small_fit(rb.nn.Sequential(rb.nn.Dense(3, 2, rng=0)), X, y, callbacks=steps)
    assert steps.steps == 5


# -- 5: binary cross-entropy targets outside [0, 1] --------------------------------------------
@pytest.mark.parametrize("loss", ["binary_cross_entropy_with_logits", "binary_cross_entropy"])
def test_binary_targets_outside_unit_interval_are_refused_before_training(loss):
    X, _ = _data()
    y = np.zeros(40, np.int64)
    y[17] = 2
    net = rb.nn.Sequential(rb.nn.Dense(3, 1, rng=0), rb.nn.Sigmoid())
    steps = Steps()
    with pytest.raises(ValueError, match=r"y\[17\] = 2: .* needs targets in \[0, 1\]"):
        small_fit(net, X, y, loss=loss, callbacks=[steps])
    assert steps.steps == 0
    yv = np.zeros((10, 1), np.float32)
    yv[3, 0] = -1.0
    with pytest.raises(ValueError, match=r"validation y\[3, 0\] = -1.0"):
        small_fit(net, X, (X[:, :1] > 0).astype(np.float32), loss=loss,
                  validation_data=(X[:10], yv))
    with pytest.raises(ValueError, match=r"evaluate: y\[17\] = 2"):
        rb.training.evaluate(net, X, y, loss=loss)


# -- 6: shuffle and progress are switches ------------------------------------------------------
@pytest.mark.parametrize("name", ["shuffle", "progress"])
def test_fit_switches_refuse_strings(name):
    X, y = _data()
    with pytest.raises(TypeError, match=rf"fit: {name} must be True or False; got 'false'"):
        small_fit(rb.nn.Sequential(rb.nn.Dense(3, 2, rng=0)), X, y, **{name: "false"})


# -- 7: validation targets and EpochScores that cannot apply, refused before training ----------
@pytest.mark.parametrize("loss, out, y, yv", [
    ("mse", 2, np.zeros((40, 2), np.float32), np.zeros((10, 3), np.float32)),
    ("mse", 2, np.zeros((40, 2), np.float32), np.zeros(10, np.float32)),
    ("cross_entropy", 3, np.zeros(40, np.int64), np.eye(4)[np.zeros(10, np.int64)]),
    ("cross_entropy", 3, np.zeros(40, np.int64), np.zeros((10, 1), np.int64)),
    ("binary_cross_entropy_with_logits", 1, np.zeros(40, np.float32),
     np.ones((10, 2), np.float32)),
])
def test_validation_targets_that_do_not_fit_are_refused_before_training(loss, out, y, yv):
    X, _ = _data()
    steps = Steps()
    with pytest.raises(ValueError, match=r"fit: validation y has shape"):
        small_fit(rb.nn.Sequential(rb.nn.Dense(3, out, rng=0)), X, y, loss=loss, metrics=(),
                  validation_data=(X[:10], yv), callbacks=[steps])
    assert steps.steps == 0


def test_validation_one_hot_beside_training_labels_is_still_accepted():
    X, y = _data()
    h = small_fit(rb.nn.Sequential(rb.nn.Dense(3, 2, rng=0)), X, y, metrics=(),
                  validation_data=(X[:10], np.eye(2, dtype=np.float32)[y[:10]]))
    assert np.isfinite(h["val_loss"][0])


def test_epoch_score_that_cannot_apply_is_refused_before_training():
    X, _ = _data()
    y = np.arange(40) % 3
    steps = Steps()
    with pytest.raises(ValueError, match=r"roc_auc is for two classes; the model has 3"):
        small_fit(rb.nn.Sequential(rb.nn.Dense(3, 3, rng=0)), X, y,
                  validation_data=(X[:10], y[:10]), callbacks=[steps, EpochScore("roc_auc")])
    assert steps.steps == 0


# -- 8: with a curriculum, a last batch of one under batch norm --------------------------------
def _bn_net():
    return rb.nn.Sequential(rb.nn.Dense(3, 4, rng=0), rb.nn.BatchNorm1d(4), rb.nn.ReLU(),
                            rb.nn.Dense(4, 2, rng=0))


def test_curriculum_last_batch_of_one_under_batch_norm_is_refused_before_training():
    X, y = _data(n=33)
    with pytest.raises(ValueError, match=r"33 examples of epoch 0's curriculum pool"):
        small_fit(_bn_net(), X, y, curriculum=Curriculum(np.abs(X[:, 0])))
    X, y = _data(n=100)
    widening = Curriculum(np.abs(X[:, 0]), start=0.5, epochs_to_full=11)  # pools 50, 55, 60, 65
    steps = Steps()
    with pytest.raises(ValueError, match=r"65 examples of epoch 3's curriculum pool"):
        small_fit(_bn_net(), X, y, curriculum=widening, epochs=20, callbacks=[steps])
    assert steps.steps == 0
    small_fit(_bn_net(), X, y, curriculum=widening, epochs=3)  # pools 50, 55, 60: none left over


# -- 9: per-time-step class labels, range-checked before training ------------------------------
def test_per_step_labels_out_of_range_are_named_by_their_index_in_y():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5, 3)).astype(np.float32)
    y = rng.integers(0, 4, (64, 5))
    y[60, 2] = 7
    steps = Steps()
    with pytest.raises(ValueError, match=r"fit: y\[60, 2\] = 7 but the model outputs 4 classes"):
        small_fit(rb.nn.Sequential(rb.nn.Dense(3, 4, rng=0)), X, y, shuffle=False,
                  callbacks=[steps])
    assert steps.steps == 0
    y[60, 2] = -1
    with pytest.raises(ValueError, match=r"y\[60, 2\] = -1: class labels must be 0, 1"):
        small_fit(rb.nn.Sequential(rb.nn.Dense(3, 4, rng=0)), X, y)
    y = y.astype(np.float32)
    y[60, 2], y[1, 4] = 1, 0.5
    with pytest.raises(ValueError, match=r"y\[1, 4\] = 0.5: class labels must be whole"):
        small_fit(rb.nn.Sequential(rb.nn.Dense(3, 4, rng=0)), X, y)


# -- 10: a metric that returns one number -------------------------------------------------------
def test_metric_returning_one_number_is_named_with_the_required_form():
    X, y = _data()

    def my_accuracy(pred, target):
        return float(np.mean(pred.argmax(1) == target))

    with pytest.raises(TypeError, match=r"metric 'my_accuracy' must return \(total, count\)"):
        small_fit(rb.nn.Sequential(rb.nn.Dense(3, 2, rng=0)), X, y, metrics=[my_accuracy])


# -- a3 finding 4: integer token ids beyond float32's exact integers ---------------------------
class _Seen(rb.nn.Module):
    """Records the ids it is given and outputs w * (id - 2**24) (an Embedding of 2**24 rows
    would read them the same way, but costs 64 MiB and seconds to train)."""

    def __init__(self):
        self.w = rb.nn.Parameter(np.ones((1, 1), np.float32))
        self.seen = []

    def forward(self, x):
        ids = x.data if isinstance(x, rb.Tensor) else np.asarray(x)
        self.seen.append(ids.copy())
        return rb.tensor((ids - 2 ** 24).astype(np.float32)) * self.w


def test_fit_gives_large_integer_token_ids_to_the_model_exactly():
    net = _Seen()
    X = np.array([[2 ** 24 + 1], [2 ** 24 + 1]], dtype=np.int64)
    y = np.zeros((2, 1), np.float32)
    small_fit(net, X, y, loss="mse", metrics=(), batch_size=2, validation_data=(X, y),
              optimizer=rb.optim.SGD(net.parameters(), lr=0.1))
    # before: Tensor(X) made them float32, and 16777217 became 16777216
    assert all(int(s.max()) == 2 ** 24 + 1 for s in net.seen[-2:])
    assert rb.training.predict(net, X).shape == (2, 1) and int(net.seen[-1].max()) == 2 ** 24 + 1


# -- 7, y=None: the validation targets are compared with the inputs
def test_autoencoder_validation_targets_are_checked_against_the_inputs():
    X, _ = _data()
    with pytest.raises(ValueError, match=r"validation y has shape \(10, 2\) but the training "
                                         r"targets have \(40, 3\)"):
        small_fit(rb.nn.Sequential(rb.nn.Dense(3, 3, rng=0)), X, None, loss="mse", metrics=(),
                  validation_data=(X[:10], X[:10, :2]))
