"""Audit fixes (round s5, area a8 and items of a2/a4): the training loop, callbacks, metrics,
History; each test failed before its fix."""

import os

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.training import DivergenceError, evaluate, metrics as M, predict
from rosenblatt.training.callbacks import (
    Checkpoint,
    EarlyStopping,
    GradientMonitor,
    LambdaCallback,
    ReduceLROnPlateau,
)
from rosenblatt.training.history import History, auto_mode

sk = pytest.importorskip("sklearn.metrics")


def _blobs(n=40, seed=0, d=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def _fit(net, X, y, **kw):
    kw.setdefault("loss", "cross_entropy")
    if "optimizer" not in kw:  # (setdefault would build a second optimizer on the weights)
        kw["optimizer"] = rb.optim.SGD(net.parameters(), lr=0.1)
    kw.setdefault("epochs", 1)
    kw.setdefault("progress", False)
    kw.setdefault("rng", 0)
    return rb.fit(net, X, y, **kw)


# -- 1: auto mode of larger-is-better scores ----------------------------------------------------
@pytest.mark.parametrize("name", ["f1", "val_f1", "precision", "val_precision", "recall",
                                  "val_recall", "val_f1_macro", "f1_weighted",
                                  "precision_macro", "val_recall_macro", "r2", "val_r2",
                                  "val_roc_auc", "accuracy", "val_top5_accuracy"])
def test_auto_mode_maximises_scores(name):
    assert auto_mode(name) == "max"
    assert EarlyStopping(monitor=name).mode == "max"
    assert ReduceLROnPlateau(monitor=name).mode == "max"


def test_auto_mode_covers_every_library_metric_and_score():
    for name in list(M.METRICS) + list(M.EPOCH_SCORES):
        expected = "min" if name in ("mae", "mse") else "max"
        assert auto_mode(name) == expected and auto_mode(f"val_{name}") == expected
    for name in ("loss", "val_loss", "neg_log_likelihood", "mse", "val_mae"):
        assert auto_mode(name) == "min"


def test_history_best_of_f1_is_the_largest():
    h = History()
    for e, v in enumerate([0.2, 0.5, 0.9]):
        h.append(e, {"val_f1": v})
    assert h.best("val_f1") == (2, 0.9)


# -- 2: integral float labels are checked as labels ---------------------------------------------
def test_float_labels_checked_before_training_by_index():
    X, _ = _blobs(10)
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1, 2, 1], dtype=np.float64)
    net = rb.nn.Dense(2, 2, rng=0)
    before = net.W.data.copy()
    with pytest.raises(ValueError, match=r"fit: y\[8\] = 2 but the model outputs 2 classes"):
        _fit(net, X, y, batch_size=4)
    np.testing.assert_array_equal(net.W.data, before)
    with pytest.raises(ValueError, match=r"fit: y\[3\] = 0.5"):
        _fit(net, X, np.where(np.arange(10) == 3, 0.5, 0.0), batch_size=4)
    with pytest.raises(ValueError, match=r"fit: validation y\[8\] = 2"):
        _fit(net, X, y.astype(np.int64) % 2, validation_data=(X, y))


# -- 3: LambdaCallback's on_backward counts as a gradient reader ----------------------------------
def test_lambda_on_backward_refused_with_a_closure_optimizer():
    X, y = _blobs(16)
    net = rb.nn.Dense(2, 2, rng=0)
    with pytest.raises(ValueError, match="reads each step's gradient"):
        _fit(net, X, y, optimizer=rb.optim.LBFGS(net.parameters()),
             callbacks=[LambdaCallback(on_backward=lambda trainer: None)])


def test_lambda_callback_hooks_must_be_callable():
    with pytest.raises(TypeError, match="LambdaCallback: on_epoch_end must be callable; got int"):
        LambdaCallback(on_epoch_end=5)


# -- 4, 5, 6: validation data and evaluate's inputs ---------------------------------------------
def test_empty_validation_data_and_evaluate_on_nothing_are_refused():
    X, y = _blobs(16)
    net = rb.nn.Dense(2, 2, rng=0)
    with pytest.raises(ValueError, match="fit: validation_data holds no examples"):
        _fit(net, X, y, validation_data=(X[:0], y[:0]))
    with pytest.raises(ValueError, match="evaluate: X holds no examples"):
        evaluate(net, X[:0], y[:0], loss="cross_entropy")


def test_evaluate_checks_lengths_and_labels():
    X, y = _blobs(10)
    net = rb.nn.Dense(2, 2, rng=0)
    with pytest.raises(ValueError, match="evaluate: X has 10 examples but y has 12"):
        evaluate(net, X, np.r_[y, 0, 1], loss="cross_entropy", batch_size=5)
    with pytest.raises(ValueError, match="evaluate: X has 10 examples but y has 7"):
        evaluate(net, X, y[:7], loss="cross_entropy")
    with pytest.raises(ValueError, match=r"evaluate: y\[4\] = 5 but the model outputs 2"):
        evaluate(net, X, np.where(np.arange(10) == 4, 5, y), loss="cross_entropy")


def test_validation_without_targets_refused_when_y_is_given():
    X, y = _blobs(16)
    net = rb.nn.Dense(2, 2, rng=0)
    with pytest.raises(ValueError, match="fit: y is given but validation_data has no targets"):
        _fit(net, X, y, validation_data=X)
    with pytest.raises(ValueError, match="fit: validation_data must be"):
        _fit(net, X, y, validation_data=(X, y, y))
    with pytest.raises(ValueError, match="fit: y is given but validation_data has no targets"):
        _fit(net, X, y, validation_data=[X])
    # the autoencoder form stays
    ae = rb.nn.Dense(2, 2, rng=0)
    h = _fit(ae, X, None, loss="mse", validation_data=X)
    assert "val_loss" in h


# -- 7: callback states are matched by kind on resume -------------------------------------------
def test_resume_matches_callback_states_by_kind(tmp_path):
    X, y = _blobs(30)
    path = os.path.join(tmp_path, "run.ckpt")

    def run(epochs, callbacks):
        net = rb.nn.Dense(2, 2, rng=1)
        return _fit(net, X, y, optimizer=rb.optim.Adam(net.parameters(), lr=0.05),
                    epochs=epochs, validation_data=(X, y), callbacks=callbacks,
                    resume_from=path)

    run(2, [EarlyStopping(patience=50), Checkpoint(path)])
    # (round 2: states are matched by kind; a callback of a new kind starts fresh, a saved
    # state of a kind not given is dropped with a warning, only an ambiguous match is refused)
    es = EarlyStopping(patience=50)
    run(2, [ReduceLROnPlateau(patience=50), es, Checkpoint(path)])
    assert es.best_epoch in (0, 1)
    with pytest.warns(UserWarning, match=r"EarlyStopping\(monitor='val_loss'\)"):
        run(2, [EarlyStopping(monitor="loss", patience=50), Checkpoint(path)])
    with pytest.raises(rb.io.FormatError, match="ambiguous"):
        run(2, [EarlyStopping(patience=50), EarlyStopping(patience=50), Checkpoint(path)])
    es = EarlyStopping(patience=50)  # the same callbacks, and a stateless one added, resume
    run(2, [LambdaCallback(on_epoch_end=lambda *a: None), es, Checkpoint(path)])
    assert es.best_epoch in (0, 1)  # the saved state, loaded into the EarlyStopping


# -- 8, 18, 21: the decision rules of the loop's metrics -----------------------------------------
def test_validation_metrics_use_the_training_targets_encoding():
    X = np.array([[1.0], [2.0], [-1.0], [-2.0]], np.float32)
    y = np.array([1, 1, -1, -1])
    net = rb.nn.Sequential(rb.nn.Dense(1, 1, rng=0))
    net.parameters()[0].data[...] = 0.3
    net.parameters()[1].data[...] = 0.0
    h = _fit(net, X, y, loss="mse", optimizer=rb.optim.SGD(net.parameters(), lr=1e-9),
             batch_size=4, validation_data=(X[:2], y[:2]))
    assert h["accuracy"][-1] == 1.0 and h["val_accuracy"][-1] == 1.0


def test_signed_accuracy_counts_an_output_of_zero_as_the_negative_class():
    t = np.array([-1, -1, -1, -1, -1, -1, 1, 1])
    p = np.zeros(8)
    hits, count = M.accuracy(p, t, threshold=0.0, signed=True)
    assert hits / count == sk.accuracy_score(t > 0, p > 0) == 0.75


def test_accuracy_is_not_reported_for_one_output_and_many_valued_integer_targets():
    X = np.array([[1.0], [2.0], [2.0], [0.0]], np.float32)
    net = rb.nn.Sequential(rb.nn.Dense(1, 1, rng=0))
    net.parameters()[0].data[...] = 3.0
    r = evaluate(net, X, np.array([1, 2, 2, 0]), loss="mse")
    assert "accuracy" not in r
    r = evaluate(net, X, np.array([1, 0, 1, 0]), loss="mse")  # two values: still a decision
    assert r["accuracy"] == 0.75  # outputs 3, 6, 6, 0 > 0.5 against 1, 0, 1, 0


# -- 9: roc_auc of two logit columns --------------------------------------------------------------
def test_roc_auc_of_two_logit_columns_ranks_by_the_softmax():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    z = rng.normal(size=(200, 2)) + y[:, None] * np.array([0.3, 1.0])
    p1 = np.exp(z[:, 1]) / np.exp(z).sum(1)
    assert M.roc_auc(y, z) == pytest.approx(sk.roc_auc_score(y, p1), abs=1e-12)
    probs = np.stack([1 - p1, p1], axis=1)
    assert M.roc_auc(y, probs) == pytest.approx(sk.roc_auc_score(y, p1), abs=1e-12)


# -- 11: callback mistakes before the first epoch ------------------------------------------------
@pytest.mark.parametrize("make, match", [
    (lambda d: EarlyStopping(), "EarlyStopping: monitor 'val_loss' needs validation_data"),
    (lambda d: ReduceLROnPlateau(), "ReduceLROnPlateau: monitor 'val_loss' needs validation_data"),
    (lambda d: M.EpochScore("roc_auc"), "EpochScore: 'roc_auc' needs data="),
    (lambda d: Checkpoint(d), "fit: Checkpoint path .* names a folder"),
])
def test_callback_mistakes_found_before_the_first_epoch(make, match, tmp_path):
    X, y = _blobs(16)
    net = rb.nn.Dense(2, 2, rng=0)
    before = net.W.data.copy()
    with pytest.raises(ValueError, match=match):
        _fit(net, X, y, callbacks=[make(str(tmp_path))])
    np.testing.assert_array_equal(net.W.data, before)


def test_f1_metric_of_three_classes_refused_before_training():
    X, _ = _blobs(16)
    y = np.arange(16) % 3
    net = rb.nn.Dense(2, 3, rng=0)
    before = net.W.data.copy()
    with pytest.raises(ValueError, match="f1: outputs of 3 classes"):
        _fit(net, X, y, metrics=["f1"])
    np.testing.assert_array_equal(net.W.data, before)


# -- 12: History.best's mode --------------------------------------------------------------------
def test_history_best_refuses_an_unknown_mode():
    h = History()
    h.append(0, {"val_accuracy": 0.5})
    with pytest.raises(ValueError, match="History.best: mode must be"):
        h.best("val_accuracy", mode="maximum")


# -- 13: batch norm and a last batch of one -------------------------------------------------------
def test_batch_norm_last_batch_of_one_refused_before_training():
    X, y = _blobs(33, d=4)
    net = rb.nn.Sequential(rb.nn.Dense(4, 4, rng=0), rb.nn.BatchNorm1d(4), rb.nn.Dense(4, 2))
    before = net.parameters()[0].data.copy()
    with pytest.raises(ValueError, match=r"fit: .*batch_size=32.*33 examples.*more than one "
                                         r"value per channel"):
        _fit(net, X, y, batch_size=32)
    np.testing.assert_array_equal(net.parameters()[0].data, before)
    _fit(net, X, y, batch_size=11)


# -- 15 and a2 #2, #15: the tbptt branch of fit ---------------------------------------------------
def _streams():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(4, 12, 3)) * 3 + 5).astype(np.float32)
    return X, rng.normal(size=(4, 12, 4)).astype(np.float32)


@pytest.mark.parametrize("option", [{"metrics": ["mae"]}, {"batch_size": 2}, {"shuffle": False},
                                    {"rng": 0}, {"divergence_factor": 1.5}])
def test_tbptt_refuses_options_it_does_not_use(option):
    X, y = _streams()
    net = rb.nn.RNN(3, 4, rng=0)
    with pytest.raises(ValueError, match=f"with tbptt, only .* got {list(option)[0]} too"):
        rb.fit(net, X, y, loss="mse", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
               epochs=1, tbptt=4, **option)


def test_tbptt_trains_in_training_mode_and_restores_the_mode():
    X, y = _streams()
    net = rb.nn.GRU(3, 4, batch_norm=True, rng=0)
    net.eval()
    rb.fit(net, X, y, loss="mse", optimizer=rb.optim.SGD(net.parameters(), lr=0.01), epochs=1,
           tbptt=4)
    assert np.abs(net.running_mean_0).max() > 0.1  # the running statistics moved
    assert not net.training


def test_tbptt_runs_fits_optimizer_checks():
    X, y = _streams()
    model, other = rb.nn.RNN(3, 4, rng=0), rb.nn.RNN(3, 4, rng=1)
    with pytest.raises(ValueError, match="the optimizer holds none of the model's parameters"):
        rb.fit(model, X, y, loss="mse", optimizer=rb.optim.SGD(other.parameters(), lr=0.1),
               epochs=1, tbptt=4)
    with pytest.raises(TypeError, match="optimizer must be an rb.optim optimizer"):
        rb.fit(model, X, y, loss="mse", optimizer="sgd", epochs=1, tbptt=4)


# -- a2 #3: frozen recurrent batch norm is held --------------------------------------------------
def test_frozen_recurrent_batch_norm_keeps_its_running_statistics():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(16, 6, 3)) * 3 + 5).astype(np.float32)
    y = rng.normal(size=(16, 2)).astype(np.float32)
    gru = rb.nn.GRU(3, 4, batch_norm=True, rng=0)
    gru.freeze()
    net = rb.nn.Sequential(gru, rb.nn.SequenceOutputs(last=True), rb.nn.Dense(4, 2, rng=0))
    _fit(net, X, y, loss="mse", optimizer=rb.optim.SGD(net.parameters(), lr=0.01),
         batch_size=8, metrics=())
    np.testing.assert_array_equal(gru.running_mean_0, 0)
    np.testing.assert_array_equal(gru.running_var_0, 1)
    assert gru.training


# -- a4 #7: adversarial training with input noise ------------------------------------------------
def test_fgsm_with_input_noise_keeps_the_perturbation_within_eps():
    rng = np.random.default_rng(0)
    X = rng.random((64, 4)).astype(np.float32)
    y = (X.sum(1) > 2).astype(np.int64)
    seen = []

    class Recording(rb.adversarial.FGSM):
        def perturb(self, model, x, yb, loss_fn):
            xa = super().perturb(model, x, yb, loss_fn)
            seen.append(float(np.abs(xa - x).max()))
            return xa

    net = rb.nn.Dense(4, 2, rng=0)
    _fit(net, X, y, batch_size=16, regularizers=[rb.regularizers.InputNoise(0.3)],
         adversarial=Recording(eps=0.05))
    assert seen and max(seen) <= 0.05 + 1e-6


# -- 16: EpochScore on an autoencoder -------------------------------------------------------------
def test_epoch_score_of_an_autoencoder_scores_the_reconstruction():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4)).astype(np.float32)
    net = rb.nn.Dense(4, 4, rng=0)
    h = _fit(net, X, None, loss="mse", optimizer=rb.optim.SGD(net.parameters(), lr=1e-9),
             validation_data=X, callbacks=[M.EpochScore("r2")], metrics=())
    assert h["val_r2"][-1] == pytest.approx(sk.r2_score(X, predict(net, X)), abs=1e-6)


# -- 17: repeated labels --------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [M.confusion_matrix, lambda t, p, labels: M.f1(
    t, p, average="macro", labels=labels)])
def test_repeated_labels_are_refused(fn):
    with pytest.raises(ValueError, match="labels must not repeat a class"):
        fn([0, 1, 1], [0, 1, 0], labels=[0, 0, 1])


def test_repeated_multilabel_columns_are_refused():
    t = np.array([[0, 1], [1, 1]])
    with pytest.raises(ValueError, match="labels must not repeat"):
        M.f1(t, t, average="macro", labels=[0, 0])


# -- 19: divergence from a near-zero start --------------------------------------------------------
def test_a_confident_start_is_not_a_divergence():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(62, 2)) + [6, 0], rng.normal(size=(62, 2)) - [6, 0],
                        [[0.05, 0.0], [-0.05, 0.0]]])
    y = np.concatenate([np.ones(62), np.zeros(62), [1, 0]]).astype(np.int64)
    net = rb.nn.Dense(2, 2, rng=0, dtype=np.float64)
    net.W.data[...] = [[-2.0, 2.0], [0.0, 0.0]]
    net.b.data[...] = 0.0
    h = _fit(net, X, y, optimizer=rb.optim.SGD(net.parameters(), lr=1e-6), batch_size=16,
             shuffle=False)
    assert len(h["loss"]) == 1


def test_a_blow_up_from_a_near_zero_start_is_still_caught():
    """Cross-entropy from ~0 to far above chance (a blow-up) stops training."""
    X, y = _blobs(64)
    X = X.astype(np.float64)
    net = rb.nn.Dense(2, 2, rng=0, dtype=np.float64)
    net.W.data[...] = [[-200.0, 200.0], [0.0, 0.0]]
    net.b.data[...] = 0.0
    flip = LambdaCallback(on_epoch_begin=lambda trainer, epoch: epoch == 1 and trainer.model.W
                          .data.__imul__(-1.0))
    with pytest.raises(DivergenceError, match="divergence_factor"):
        _fit(net, X, y, optimizer=rb.optim.SGD(net.parameters(), lr=1e-9), epochs=3,
             batch_size=16, callbacks=[flip])


# -- 20: GradientMonitor's records -----------------------------------------------------------------
def test_gradient_monitor_records_start_afresh_with_every_run():
    X, y = _blobs(16)
    net = rb.nn.Dense(2, 2, rng=0)
    monitor = GradientMonitor()
    for _ in range(2):
        h = _fit(net, X, y, epochs=2, callbacks=[monitor])
        assert len(monitor.records) == 2
        assert monitor.records[0] == {k: h[k][0] for k in monitor.records[0]}


def test_gradient_monitor_records_of_a_resumed_run_start_from_its_history(tmp_path):
    X, y = _blobs(16)
    path = os.path.join(tmp_path, "run.ckpt")
    for epochs in (2, 3):
        net = rb.nn.Dense(2, 2, rng=0)
        monitor = GradientMonitor()
        h = _fit(net, X, y, epochs=epochs, callbacks=[monitor, Checkpoint(path)],
                 resume_from=path)
    assert len(monitor.records) == 3
    assert [r["grad_norm/W"] for r in monitor.records] == h["grad_norm/W"]
