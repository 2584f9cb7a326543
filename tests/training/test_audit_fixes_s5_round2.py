"""Audit fixes (round s5, second audit of the training loop's fixes: /tmp/s5/b1); each test
failed before its fix."""

import os
import warnings

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff.tensor import Tensor
from rosenblatt.training import evaluate
from rosenblatt.training.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    GradientMonitor,
    LambdaCallback,
)
from rosenblatt.training.metrics import roc_auc
from rosenblatt.training.trainer import scale_floor

sk = pytest.importorskip("sklearn.metrics")


def _blobs(n=40, seed=0, d=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def _net():
    return rb.nn.Sequential(rb.nn.Dense(3, 4, rng=0), rb.nn.ReLU(), rb.nn.Dense(4, 2, rng=1))


def _fit(net, X, y, **kw):
    kw.setdefault("loss", "cross_entropy")
    if "optimizer" not in kw:
        kw["optimizer"] = rb.optim.SGD(net.parameters(), lr=0.1)
    kw.setdefault("epochs", 1)
    kw.setdefault("progress", False)
    kw.setdefault("rng", 0)
    return rb.fit(net, X, y, **kw)


class _NoneState(Callback):
    def state_dict(self):
        return None

    def load_state_dict(self, state):
        raise AssertionError("no state was saved")


# -- 1: a callback whose state_dict() is None resumes ---------------------------------------------
def test_resume_with_a_callback_whose_state_is_none(tmp_path):
    X, y = _blobs()
    path = os.path.join(tmp_path, "r.ckpt")
    _fit(_net(), X, y, epochs=2, callbacks=[_NoneState(), Checkpoint(path)])
    h = _fit(_net(), X, y, epochs=4, callbacks=[_NoneState(), Checkpoint(path)], resume_from=path)
    assert len(h.epoch) == 4


# -- 9: a stateful callback added on resume starts fresh; states go to their kind --------------
def test_resume_with_a_stateful_callback_added(tmp_path):
    X, y = _blobs()
    path = os.path.join(tmp_path, "a.ckpt")
    net = _net()
    opt = rb.optim.SGD(net.parameters(), lr=0.1)
    _fit(net, X, y, epochs=2, optimizer=opt, callbacks=[Checkpoint(path)])
    es = EarlyStopping(monitor="loss", patience=50)
    h = _fit(net, X, y, epochs=4, optimizer=opt, callbacks=[Checkpoint(path), es],
             resume_from=path)
    assert len(h.epoch) == 4 and es.best_epoch in (2, 3)  # fresh: only this run's epochs


def test_resume_matches_states_by_kind_and_drops_unmatched_with_a_warning(tmp_path):
    X, y = _blobs()
    path = os.path.join(tmp_path, "b.ckpt")
    net = _net()
    opt = rb.optim.SGD(net.parameters(), lr=0.1)
    _fit(net, X, y, epochs=2, optimizer=opt,
         callbacks=[EarlyStopping(monitor="loss", patience=50), Checkpoint(path)])
    rl = rb.callbacks.ReduceLROnPlateau(monitor="loss", patience=50)
    es = EarlyStopping(monitor="loss", patience=50)
    _fit(net, X, y, epochs=3, optimizer=opt, callbacks=[rl, Checkpoint(path), es],
         resume_from=path)
    assert es.best_epoch in (0, 1, 2) and es.best < np.inf
    # the saved EarlyStopping(monitor='loss') state has no callback of its kind: dropped, said
    with pytest.warns(UserWarning, match=r"EarlyStopping\(monitor='loss'\)"):
        _fit(net, X, y, epochs=4, optimizer=opt, callbacks=[Checkpoint(path)], resume_from=path)


# -- 2: a val_* number logged by a user's callback can be monitored -----------------------------
def test_monitor_a_val_number_logged_by_a_callback():
    X, y = _blobs()

    def log(trainer, epoch, logs):
        logs["val_custom"] = 1.0 / (epoch + 1)

    h = _fit(_net(), X, y, epochs=3, callbacks=[LambdaCallback(on_epoch_end=log),
                                                EarlyStopping(monitor="val_custom")])
    assert h["val_custom"] == [1.0, 0.5, 1.0 / 3]
    with pytest.raises(ValueError, match="val_loss.*validation_data"):  # fit's own: refused
        _fit(_net(), X, y, callbacks=[EarlyStopping()])
    with pytest.raises(ValueError, match="val_accuracy.*validation_data"):
        _fit(_net(), X, y, metrics=("accuracy",),
             callbacks=[EarlyStopping(monitor="val_accuracy")])


# -- 3: roc_auc on two probability columns ranks by the positive class's probability ------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_roc_auc_on_two_columns_of_probabilities_and_of_logits(dtype):
    z = np.array([[0., -25.], [0., -22.], [0., -20.], [0., -18.]], dtype=dtype)
    P = np.exp(z - z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, P) == sk.roc_auc_score(y, P[:, 1]) == 1.0
    rng = np.random.default_rng(0)
    Z = (rng.normal(size=(2000, 2)) * 20).astype(dtype)
    t = rng.integers(0, 2, 2000)
    Q = np.exp(Z - Z.max(1, keepdims=True))
    Q /= Q.sum(1, keepdims=True)
    Z64 = Z.astype(np.float64)
    truth = sk.roc_auc_score(t, Z64[:, 1] - Z64[:, 0])  # the softmax's order, unrounded
    assert roc_auc(t, Z) == pytest.approx(truth, abs=1e-12)  # logits
    assert roc_auc(t, Q) == pytest.approx(truth, abs=1e-12)  # probabilities: no rounded ties
    # scikit-learn on the positive column agrees up to its ties at a rounded 1.0
    tol = 1e-4 if dtype == np.float64 else 5e-3
    assert roc_auc(t, Q) == pytest.approx(sk.roc_auc_score(t, Q[:, 1]), abs=tol)
    mild = Q[np.abs(Z64[:, 1] - Z64[:, 0]) < 5]  # no rounding: the same as scikit-learn
    tm = t[np.abs(Z64[:, 1] - Z64[:, 0]) < 5]
    assert roc_auc(tm, mild) == pytest.approx(sk.roc_auc_score(tm, mild[:, 1]), abs=1e-12)


# -- 4: a refusal in on_train_begin aborts the callbacks already begun ---------------------------
def test_refused_fit_leaves_rewire_disarmed():
    from rosenblatt.training.rewire import Rewire
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 20)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    sd = rb.nn.SparseDense(20, 30, density=0.3, rng=0)
    m = rb.nn.Sequential(sd, rb.nn.ReLU(), rb.nn.Dense(30, 2, rng=1))
    with pytest.raises(ValueError, match="validation_data"):
        _fit(m, X, y, callbacks=[Rewire(method="rigl"), EarlyStopping()])
    assert sd.dense_grad is None


# -- 5: GradientMonitor records are one per epoch of the History, whatever run added it ----------
def test_gradient_monitor_added_on_resume_is_indexed_by_epoch(tmp_path):
    X, y = _blobs()
    path = os.path.join(tmp_path, "g.ckpt")
    net = _net()
    opt = rb.optim.SGD(net.parameters(), lr=0.1)
    _fit(net, X, y, epochs=2, optimizer=opt, callbacks=[Checkpoint(path)])
    gm = GradientMonitor()
    _fit(net, X, y, epochs=4, optimizer=opt, callbacks=[gm, Checkpoint(path)], resume_from=path)
    assert len(gm.records) == 4 and gm.records[0] == {} and gm.records[3]
    gm = GradientMonitor()
    _fit(net, X, y, epochs=6, optimizer=opt, callbacks=[gm, Checkpoint(path)], resume_from=path)
    assert [bool(r) for r in gm.records] == [False, False, True, True, True, True]


# -- 6: scale_floor accumulates in float64 -------------------------------------------------------
def test_scale_floor_of_integer_and_float16_targets():
    assert scale_floor("mse", np.full((1000, 1), 50000, np.int32)) == pytest.approx(2.5e6)
    assert scale_floor("mse", np.full((1000, 1), 60000, np.int32)) == pytest.approx(3.6e6)
    assert scale_floor("mse", np.full((100000, 1), 300, np.float16)) == pytest.approx(90.0)


# -- 7: a parameter-free layer with running statistics keeps learning them ----------------------
class _RunningStandardize(rb.nn.Module):
    buffers = ("running_mean", "running_var")

    def __init__(self, n):
        self.running_mean = np.zeros(n, np.float32)
        self.running_var = np.ones(n, np.float32)

    def forward(self, x):
        if self.training:
            d = x.data
            self.running_mean += 0.1 * (d.mean(0) - self.running_mean)
            self.running_var += 0.1 * (d.var(0) - self.running_var)
        return (x - Tensor(self.running_mean)) * Tensor(1 / np.sqrt(self.running_var + 1e-5))


def test_parameter_free_running_statistics_are_not_held():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(256, 3)) * 10 + 50).astype(np.float32)
    y = (X[:, 0] > 50).astype(np.int64)
    norm = _RunningStandardize(3)
    m = rb.nn.Sequential(norm, rb.nn.Dense(3, 2, rng=0))
    _fit(m, X, y, optimizer=rb.optim.SGD(m.parameters(), lr=0.01), epochs=2)
    assert np.all(norm.running_mean > 30)
    bn = rb.nn.BatchNorm1d(2)  # a frozen batch norm is still held
    m = rb.nn.Sequential(rb.nn.Dense(3, 2, rng=0), bn, rb.nn.Dense(2, 2, rng=1))
    for p in bn.parameters():
        p.requires_grad = False
    before = bn.running_mean.copy()
    _fit(m, X, y, optimizer=rb.optim.SGD(m.parameters(), lr=0.01))
    np.testing.assert_array_equal(bn.running_mean, before)


# -- 8: a module used twice -----------------------------------------------------------------------
def test_shared_batch_norm_last_batch_of_one_is_the_clear_error():
    bn = rb.nn.BatchNorm1d(4)
    m = rb.nn.Sequential(rb.nn.Dense(3, 4, rng=0), bn, rb.nn.Dense(4, 4, rng=1), bn,
                         rb.nn.Dense(4, 2, rng=2))
    X, y = _blobs(33)
    with pytest.raises(ValueError, match="batch"):
        _fit(m, X, y, batch_size=32)
    assert "forward" not in vars(bn)


def test_gradient_monitor_with_a_shared_relu():
    relu = rb.nn.ReLU()
    m = rb.nn.Sequential(rb.nn.Dense(3, 4, rng=0), relu, rb.nn.Dense(4, 4, rng=1), relu,
                         rb.nn.Dense(4, 2, rng=2))
    X, y = _blobs(32)
    gm = GradientMonitor()
    _fit(m, X, y, callbacks=[gm])
    assert len(gm.records) == 1 and "forward" not in vars(relu)


# -- 10: float class labels and an error metric -------------------------------------------------
def test_float_labels_with_an_error_metric_are_refused_as_int_labels():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3)).astype(np.float32)
    y = rng.integers(0, 3, 30)
    m = rb.nn.Sequential(rb.nn.Dense(3, 3, rng=0))
    with pytest.raises(ValueError, match="'mae'.*class labels"):
        evaluate(m, X, y, loss="cross_entropy", metrics=("accuracy", "mae"))
    with pytest.raises(ValueError, match="'mae'.*class labels"):
        evaluate(m, X, y.astype(np.float32), loss="cross_entropy", metrics=("accuracy", "mae"))
    with pytest.raises(ValueError, match="'mae'.*class labels"):
        _fit(m, X, y.astype(np.float32), metrics=("accuracy", "mae"))
    r = evaluate(m, X, y.astype(np.float32), loss="cross_entropy", metrics=("accuracy",))
    assert r["accuracy"] == evaluate(m, X, y, loss="cross_entropy",
                                     metrics=("accuracy",))["accuracy"]


# -- 11, 12: callbacks and metrics given as iterators -------------------------------------------
def test_callbacks_as_a_generator_with_a_closure_optimizer():
    X, y = _blobs()
    m = rb.nn.Sequential(rb.nn.Dense(3, 2, rng=0))
    seen = []
    cbs = (c for c in [LambdaCallback(on_epoch_end=lambda tr, e, logs: seen.append(e))])
    _fit(m, X, y, optimizer=rb.optim.LBFGS(m.parameters()), epochs=2, callbacks=cbs)
    assert seen == [0, 1]


def test_metrics_as_a_generator_reach_the_validation_data():
    X, y = _blobs()
    m = rb.nn.Sequential(rb.nn.Dense(3, 2, rng=0))
    h = _fit(m, X, y, validation_data=(X, y), metrics=(n for n in ["accuracy"]))
    assert "accuracy" in h.history and "val_accuracy" in h.history


# -- 13, 14: fit(tbptt=...) ----------------------------------------------------------------------
class _Seq(rb.nn.Module):
    def __init__(self, regularizers=()):
        self.rnn = rb.nn.RNN(2, 4, rng=0)
        self.out = rb.nn.Dense(4, 2, rng=1)
        if regularizers:
            self.regularizers = list(regularizers)

    def forward(self, x, state=None):
        h, state = self.rnn(x, state)
        return self.out(h), state


def test_tbptt_refuses_the_models_own_regularizers():
    X = np.random.default_rng(0).normal(size=(3, 10, 2)).astype(np.float32)
    m = _Seq([rb.regularizers.MaxNorm(0.1)])
    with pytest.raises(ValueError, match="model.regularizers"):
        rb.fit(m, X, X, loss="mse", optimizer=rb.optim.SGD(m.parameters(), lr=0.5), epochs=1,
               tbptt=5, progress=False)


def test_tbptt_with_y_none_is_a_clear_error():
    X = np.random.default_rng(0).normal(size=(3, 10, 2)).astype(np.float32)
    m = _Seq()
    with pytest.raises(ValueError, match=r"tbptt.*\by\b.*required"):
        rb.fit(m, X, loss="mse", optimizer=rb.optim.SGD(m.parameters(), lr=0.01), epochs=1,
               tbptt=5, progress=False)


def test_no_warning_on_a_plain_resume(tmp_path):
    X, y = _blobs()
    path = os.path.join(tmp_path, "c.ckpt")
    net = _net()
    opt = rb.optim.SGD(net.parameters(), lr=0.1)
    _fit(net, X, y, epochs=1, optimizer=opt,
         callbacks=[EarlyStopping(monitor="loss"), Checkpoint(path)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _fit(net, X, y, epochs=2, optimizer=opt,
             callbacks=[EarlyStopping(monitor="loss"), Checkpoint(path)], resume_from=path)
