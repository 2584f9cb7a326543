"""Audit s11 (training loop, metrics, callbacks): a summed loss (``reduction="sum"``) trained over
threads or MPI ranks and averaged over an epoch; EpochScore leaving out the labels the loss
ignores; class labels given as whole-number floats weighted as integer labels are; Rewire and
GradientMonitor after a batch that takes no step; clear errors for validation lengths and for a
model returning (output, state). The MPI check runs this file under ``mpirun -n 2`` (see
:func:`_mpi_job`). Finding numbers are those of the audit's report."""

import functools
import json
import os
import sys

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.training.metrics import EpochScore, f1, roc_auc

try:
    from .helpers import Steps, mpirun, small_fit
except ImportError:  # run as a script under mpirun (HERE on the path)
    from helpers import Steps, mpirun, small_fit

SUM_MSE = functools.partial(rb.losses.mse, reduction="sum")
SUM_CE = functools.partial(rb.losses.cross_entropy, reduction="sum")


def _regression(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)), rng.standard_normal((n, 2))


def _net(out=2, seed=0):
    return rb.nn.Sequential(rb.nn.Dense(3, 4, rng=seed), rb.nn.Tanh(),
                            rb.nn.Dense(4, out, rng=seed + 1)).astype(np.float64)


def _weights(net):
    return np.concatenate([p.data.ravel() for p in net.parameters()])


# -- finding 1: reduction="sum" --------------------------------------------------------------
@pytest.mark.parametrize("regularizers", [(), (rb.regularizers.L2(0.1),)], ids=["", "L2"])
@pytest.mark.parametrize("loss", [SUM_MSE, SUM_CE], ids=["mse", "cross_entropy"])
def test_threads_train_a_summed_loss_as_one_thread(loss, regularizers):
    X, y = _regression()
    if loss is SUM_CE:
        y = (y[:, 0] > 0).astype(np.int64)
    runs = []
    for distributed in (None, "threads"):
        net = _net()
        h = small_fit(net, X, y, loss=loss, optimizer=rb.optim.SGD(net.parameters(), lr=1e-2),
                      epochs=2, batch_size=16, shuffle=False, metrics=(),
                      regularizers=regularizers, distributed=distributed)
        runs.append((_weights(net), h["loss"][-1]))
    assert np.abs(runs[0][0] - runs[1][0]).max() < 1e-12
    assert runs[1][1] == pytest.approx(runs[0][1], rel=1e-12)


def test_the_epoch_loss_of_a_summed_loss_is_the_loss_of_the_whole_set():
    X, y = _regression(300)
    net = _net()
    whole = float(SUM_MSE(rb.tensor(rb.training.predict(net, X)), y).item())
    for batch_size in (8, 64, 300):  # lr 0: every batch sees the same weights
        h = small_fit(net, X, y, loss=SUM_MSE, optimizer=rb.optim.SGD(net.parameters(), lr=0.0),
                      batch_size=batch_size, metrics=(), validation_data=(X, y))
        assert h["loss"][0] == pytest.approx(whole, rel=1e-12)
        assert h["val_loss"][0] == pytest.approx(whole, rel=1e-12)  # chunks of 256 and 44
    for batch_size in (7, 256):
        got = rb.training.evaluate(net, X, y, loss=SUM_MSE, metrics=(), batch_size=batch_size)
        assert got["loss"] == pytest.approx(whole, rel=1e-12)


# -- finding 2: EpochScore and ignore_index --------------------------------------------------
def test_epoch_score_leaves_out_the_labels_the_loss_ignores():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 4))
    y = rng.integers(0, 3, 40)
    y[::4] = -100
    net = rb.nn.Sequential(rb.nn.Dense(4, 3, rng=0)).astype(np.float64)
    loss = functools.partial(rb.losses.cross_entropy, ignore_index=-100)
    h = small_fit(net, X, y, loss=loss, optimizer=rb.optim.SGD(net.parameters(), lr=0.0),
                  validation_data=(X, y), callbacks=[EpochScore("f1_macro")])
    kept = y != -100
    pred = rb.training.predict(net, X).argmax(1)
    assert h["val_f1_macro"][0] == pytest.approx(f1(y[kept], pred[kept], average="macro"))


def test_epoch_score_of_a_sequence_model_leaves_out_ignored_positions():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((12, 5, 3))
    y = rng.integers(0, 2, (12, 5))
    y[:, 3:] = -1  # padding
    net = rb.nn.Sequential(rb.nn.Dense(3, 2, rng=0)).astype(np.float64)
    loss = functools.partial(rb.losses.cross_entropy, ignore_index=-1)
    h = small_fit(net, X, y, loss=loss, optimizer=rb.optim.SGD(net.parameters(), lr=0.0),
                  validation_data=(X, y), callbacks=[EpochScore("roc_auc"),
                                                     EpochScore("f1_macro")])
    out = rb.training.predict(net, X).reshape(-1, 2)
    flat = y.reshape(-1)
    kept = flat != -1
    assert h["val_roc_auc"][0] == pytest.approx(roc_auc(flat[kept], out[kept]))
    assert h["val_f1_macro"][0] == pytest.approx(
        f1(flat[kept], out[kept].argmax(1), average="macro"))


# -- finding 3: whole-number float labels and a weighted mean --------------------------------
WEIGHTED = functools.partial(rb.losses.cross_entropy, weight=np.array([1.0, 5.0, 20.0]))


def _labels(n=96):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 3))
    return X, (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 1)


def test_evaluate_weights_float_labels_as_integer_labels():
    X, y = _labels()
    net = _net(out=3)
    whole = float(WEIGHTED(rb.tensor(rb.training.predict(net, X)), y).item())
    for batch_size in (7, 32):
        got = rb.training.evaluate(net, X, y.astype(np.float64), loss=WEIGHTED,
                                   batch_size=batch_size)
        assert got["loss"] == pytest.approx(whole, rel=1e-12)


def test_threads_weigh_float_labels_as_integer_labels():
    X, y = _labels()
    runs = []
    for distributed in (None, "threads"):
        net = _net(out=3)
        h = small_fit(net, X, y.astype(np.float64), loss=WEIGHTED, epochs=2, batch_size=16,
                      shuffle=False, distributed=distributed, validation_data=(X, y * 1.0))
        runs.append(_weights(net))
    assert np.abs(runs[0] - runs[1]).max() < 1e-12
    assert h["val_loss"][-1] == pytest.approx(
        float(WEIGHTED(rb.tensor(rb.training.predict(net, X)), y).item()), rel=1e-12)


# -- finding 5: Rewire after a batch that takes no step -------------------------------------
@pytest.mark.parametrize("method", ["set", "rigl"])
def test_rewire_counts_steps_not_batches(method):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 6)), rng.integers(0, 2, 32)
    y[16:24] = -100  # the third batch: every label ignored, no step
    net = rb.nn.Sequential(rb.nn.SparseDense(6, 8, density=0.5, rng=0), rb.nn.Tanh(),
                           rb.nn.Dense(8, 2, rng=0)).astype(np.float64)
    rewire = rb.callbacks.Rewire(method, fraction=0.25, every=2, rng=0)
    small_fit(net, X, y, loss=functools.partial(rb.losses.cross_entropy, ignore_index=-100),
              shuffle=False, callbacks=[rewire])
    assert [entry["step"] for entry in rewire.log] == [2]  # 3 steps: rewired once, at 2


# -- finding 6: GradientMonitor after a last batch that takes no step --------------------
def test_gradient_monitor_records_no_stale_norms_after_a_batch_without_a_step():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((24, 3)), rng.integers(0, 2, 24)
    y[16:] = -100  # presented last by the curriculum: epoch 1's last batch takes no step
    net = rb.nn.Sequential(rb.nn.Dense(3, 2, rng=0)).astype(np.float64)
    h = small_fit(net, X, y, loss=functools.partial(rb.losses.cross_entropy, ignore_index=-100),
                  epochs=2, callbacks=[rb.callbacks.GradientMonitor()],
                  curriculum=rb.training.Curriculum(np.arange(24.0), start=2 / 3,
                                                    epochs_to_full=2))
    assert np.isfinite(h["grad_norm/0"][0]) and np.isnan(h["grad_norm/0"][1])


# -- finding 8: validation lengths named as validation ones ---------------------------------
def test_validation_targets_of_another_length_are_named_as_validation_y():
    net = _net()
    X, y = _regression(30)
    with pytest.raises(ValueError, match="validation X has 20 examples but validation y has 19"):
        small_fit(net, X, y, loss="mse", validation_data=(X[:20], y[:19]))


# -- finding 9: a model that returns (output, state) ---------------------------------------
class _Stateful(rb.nn.Module):
    """tbptt's form: model(x, state) -> (output, state)."""

    def __init__(self):
        self.rnn = rb.nn.RNN(3, 4, rng=0)
        self.out = rb.nn.Dense(4, 2, rng=0)

    def forward(self, x, state=None):
        h, state = self.rnn(x, state)
        return self.out(h), state


def test_a_model_returning_output_and_state_is_refused_by_name_outside_tbptt():
    X, y = np.zeros((4, 5, 3)), np.zeros((4, 5, 2))
    net = _Stateful()
    match = r"the model returned a tuple of 2 values, not one Tensor.*tbptt=k"
    with pytest.raises(TypeError, match="predict: " + match):
        rb.training.predict(net, X)
    with pytest.raises(TypeError, match="evaluate: " + match):
        rb.training.evaluate(net, X, y, loss="mse")
    steps = Steps()
    with pytest.raises(TypeError, match="fit: " + match):
        small_fit(net, X, y, loss="mse", callbacks=[steps])
    assert steps.steps == 0
    rb.fit(net, X, y, loss="mse", optimizer=rb.optim.SGD(net.parameters(), lr=0.1), epochs=1,
           tbptt=2, progress=False)  # its own way still trains


# -- finding 10: monitoring a metric fit leaves out -----------------------------------------
@pytest.mark.parametrize("make", [lambda: rb.callbacks.EarlyStopping(monitor="val_accuracy"),
                                  lambda: rb.callbacks.ReduceLROnPlateau(monitor="accuracy")])
def test_monitoring_a_metric_left_out_of_a_regression_says_why(make):
    X, y = _regression(16)
    with pytest.raises(ValueError, match="computes accuracy only for classification") as e:
        small_fit(_net(), X, y, loss="mse", validation_data=(X, y), callbacks=[make()])
    assert "need validation_data" not in str(e.value)  # it is given


# -- over MPI: mpirun -n 2 runs this file ----------------------------------------------------
def test_two_ranks_train_a_summed_loss_as_one_process(tmp_path):
    report = mpirun(2, ["-m", "mpi4py", os.path.abspath(__file__)], str(tmp_path))
    assert report["weights"] < 1e-12, report
    assert report["loss"] == pytest.approx(report["expected_loss"], rel=1e-12)


def _mpi_job(out):
    """Rank 0 writes to OUT/report.json max |one process - two ranks| of the weights after
    training with a summed loss (with a penalty, which every rank adds), and both epoch
    losses."""
    from mpi4py import MPI

    X, y = _regression(60)
    report = {}
    runs = {}
    for distributed in (None, "mpi") if MPI.COMM_WORLD.Get_rank() == 0 else ("mpi",):
        net = _net()
        h = small_fit(net, X, y, loss=SUM_MSE, optimizer=rb.optim.SGD(net.parameters(), lr=1e-2),
                      epochs=2, batch_size=16, shuffle=False, metrics=(),
                      regularizers=[rb.regularizers.L2(0.1)], distributed=distributed)
        runs[distributed] = (_weights(net), h["loss"])
    if MPI.COMM_WORLD.Get_rank() == 0:
        report["weights"] = float(np.abs(runs[None][0] - runs["mpi"][0]).max())
        report["expected_loss"], report["loss"] = runs[None][1][-1], runs["mpi"][1][-1]
        with open(os.path.join(out, "report.json"), "w") as f:
            json.dump(report, f)


if __name__ == "__main__":
    _mpi_job(sys.argv[1])
