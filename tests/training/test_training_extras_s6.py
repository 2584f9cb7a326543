"""Audit a8 (session 6) fixes: History.best's ties and non-finite values, auto_mode's case,
tbptt's argument checks before the first update, augmentation's argument errors."""

import math

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.training.augmentation import ImageAugmentation, shift_rotate
from rosenblatt.training.callbacks import EarlyStopping
from rosenblatt.training.history import History, auto_mode
from rosenblatt.training.tbptt import tbptt_fit


# -- findings 7, 8, 9: History.best and auto_mode --------------------------------------------
def _history(column, values):
    h = History()
    for e, v in enumerate(values):
        h.append(e, {column: v})
    return h


class _Trainer:
    start_epoch, callbacks, validation, plan = 0, (), True, ()


@pytest.mark.parametrize("monitor, values", [
    ("val_accuracy", [0.5, 0.8, 0.8, 0.6]),
    ("val_loss", [1.0, 0.7, 0.7, 0.9]),
])
def test_history_best_takes_the_first_tied_epoch_as_early_stopping(monitor, values):
    assert _history(monitor, values).best(monitor) == (1, values[1])
    stop = EarlyStopping(monitor=monitor, patience=10, restore_best=False)
    trainer = _Trainer()
    trainer.callbacks = [stop]
    stop.on_train_begin(trainer)
    for e, v in enumerate(values):
        stop.on_epoch_end(trainer, e, {monitor: v})
    assert stop.best_epoch == 1


def test_history_best_ties_with_explicit_modes():
    h = _history("score", [3.0, 1.0, 3.0, 1.0])
    assert h.best("score", mode="max") == (0, 3.0)
    assert h.best("score", mode="min") == (1, 1.0)


@pytest.mark.parametrize("values", [[math.inf], [math.nan, -math.inf], [math.inf, math.nan]])
def test_history_best_refuses_a_column_with_no_finite_value(values):
    with pytest.raises(ValueError, match="History.best: 'loss' has no finite value"):
        _history("loss", values).best("loss")


def test_history_best_skips_infinite_values():
    assert _history("loss", [math.inf, 2.0, -math.inf, 1.0]).best("loss") == (3, 1.0)


@pytest.mark.parametrize("name", ["Accuracy", "val_Acc", "TOP5_ACCURACY", "val_Likelihood"])
def test_auto_mode_ignores_case(name):
    assert auto_mode(name) == "max"


# -- finding 11: tbptt's arguments checked before the first update ---------------------------
def _rnn():
    return rb.nn.RNN(1, 1, rng=0), np.ones((2, 12, 1), dtype=np.float32)


def test_tbptt_fit_refuses_a_callback_that_cannot_be_called_before_any_update():
    rnn, X = _rnn()
    before = rnn.W_h[0].data.copy()
    with pytest.raises(TypeError, match="tbptt_fit: callback must be callable.*got int"):
        tbptt_fit(rnn, X, X * 0.5, k=4, loss="mse",
                  optimizer=rb.optim.SGD(rnn.parameters(), lr=0.1), callback=5)
    np.testing.assert_array_equal(rnn.W_h[0].data, before)


@pytest.mark.parametrize("clip_norm", [-1.0, 0, math.inf])
def test_tbptt_fit_names_clip_norm(clip_norm):
    rnn, X = _rnn()
    with pytest.raises(ValueError, match="tbptt_fit: clip_norm must be finite and > 0"):
        tbptt_fit(rnn, X, X * 0.5, k=4, loss="mse",
                  optimizer=rb.optim.SGD(rnn.parameters(), lr=0.1), clip_norm=clip_norm)


@pytest.mark.parametrize("tbptt", [0, True, 4.0, -2])
def test_fit_names_its_own_tbptt_argument(tbptt):
    rnn, X = _rnn()
    with pytest.raises(ValueError, match="fit: tbptt must be a positive integer"):
        rb.fit(rnn, X, X * 0.5, loss="mse", optimizer=rb.optim.SGD(rnn.parameters(), lr=0.1),
               epochs=1, tbptt=tbptt)


def test_fit_with_tbptt_accepts_zero_epochs_as_without_it():
    rnn, X = _rnn()
    before = rnn.W_h[0].data.copy()
    history = rb.fit(rnn, X, X * 0.5, loss="mse",
                     optimizer=rb.optim.SGD(rnn.parameters(), lr=0.1), epochs=0, tbptt=4)
    assert len(history) == 0 and history.chunk_loss == []
    np.testing.assert_array_equal(rnn.W_h[0].data, before)
    with pytest.raises(ValueError, match="fit: epochs must be a non-negative integer"):
        rb.fit(rnn, X, X * 0.5, loss="mse", optimizer=rb.optim.SGD(rnn.parameters(), lr=0.1),
               epochs=-1, tbptt=4)


# -- finding 12: augmentation errors name the argument ---------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"max_shift": None}, "shift_rotate: max_shift must be a number of pixels >= 0; got NoneType"),
    ({"max_shift": "2"}, "shift_rotate: max_shift must be a number.*got str '2'"),
    ({"max_shift": True}, "shift_rotate: max_shift must be a number.*got bool"),
    ({"max_angle": [5]}, r"shift_rotate: max_angle must be a number of degrees in \[0, 180\]"),
    ({"fill": "white"}, "shift_rotate: fill must be a number.*got str 'white'"),
    ({"fill": None}, "shift_rotate: fill must be a number.*got NoneType"),
])
def test_shift_rotate_names_a_bad_argument(kwargs, match):
    with pytest.raises(TypeError, match=match):
        shift_rotate(np.zeros((2, 8, 8), np.float32), rng=0, **kwargs)


def test_image_augmentation_names_a_bad_fill_and_keeps_good_ones():
    with pytest.raises(TypeError, match="ImageAugmentation: fill must be a number.*got str"):
        ImageAugmentation(fill="white")
    assert ImageAugmentation(fill=np.float32(0.5)).fill == 0.5
    assert ImageAugmentation(fill=np.array(1)).fill == 1.0
    out = shift_rotate(np.ones((1, 4, 4)), rng=0, max_shift=np.int64(1), max_angle=0, fill=2)
    assert out.shape == (1, 4, 4)
