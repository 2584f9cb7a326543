"""Audit s9 (training loop, losses; and where recurrent layers meet data-parallel training):
weighted mean losses averaged over the whole set, library losses recognised through
functools.partial, ignored labels left out of accuracy, threads resume exactly, refusals before
training instead of late or unclear errors. The MPI check runs this file under ``mpirun -n 2``
(see :func:`_mpi_job`)."""

import functools
import json
import os
import sys

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.nn.dropout import dropout
from rosenblatt.nn.losses import mean_normaliser
from rosenblatt.training.curriculum import Curriculum
from rosenblatt.training.metrics import EpochScore

try:
    from .helpers import Steps, mpirun, small_fit
except ImportError:  # run as a script under mpirun (HERE on the path)
    from helpers import Steps, mpirun, small_fit

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

CE = rb.losses.cross_entropy
IGNORE = functools.partial(CE, ignore_index=-100)
WEIGHTED = functools.partial(CE, weight=np.array([1.0, 5.0, 0.2]))


def _data(n=60, seed=0, classes=3, features=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)), rng.integers(0, classes, n)


def _net(seed=1, features=4, out=3):
    return rb.nn.Sequential(rb.nn.Dense(features, out, rng=seed)).astype(np.float64)


def _whole(net, X, y, loss):
    return float(loss(rb.tensor(rb.training.predict(net, X)), y).item())


# -- finding 1: the weighted mean over the whole set -----------------------------------------
@pytest.mark.parametrize("loss", [WEIGHTED, IGNORE], ids=["weight", "ignore_index"])
def test_evaluate_and_fit_report_the_weighted_mean_of_the_whole_set(loss):
    X, y = _data()
    y[:25] = -100 if loss is IGNORE else y[:25]  # one chunk of 16 holds ignored labels only
    net = _net()
    expected = _whole(net, X, y, loss)
    for batch_size in (7, 16, 60):
        got = rb.training.evaluate(net, X, y, loss=loss, batch_size=batch_size)["loss"]
        assert got == pytest.approx(expected, rel=1e-12), batch_size
    h = small_fit(net, X, y, loss=loss, optimizer=rb.optim.SGD(net.parameters(), lr=0.0),
                  batch_size=16, validation_data=(X, y), shuffle=False)
    assert h["loss"][0] == pytest.approx(expected, rel=1e-12)
    assert h["val_loss"][0] == pytest.approx(expected, rel=1e-12)


def test_threads_epoch_loss_is_the_weighted_mean_too():
    X, y = _data(64)
    y[:20] = -100
    net = _net()
    expected = _whole(net, X, y, IGNORE)
    h = small_fit(net, X, y, loss=IGNORE, optimizer=rb.optim.SGD(net.parameters(), lr=0.0),
                  batch_size=24, shuffle=False, distributed="threads", metrics=())
    assert h["loss"][0] == pytest.approx(expected, rel=1e-12)


def test_mean_normaliser_reads_the_losss_own_weights_attribute():
    def my_loss(pred, target):  # a weighted mean of one's own: it says so by an attribute
        return CE(pred, target, ignore_index=-1)

    assert mean_normaliser(my_loss) is None
    my_loss.mean_weights = lambda **options: lambda t: float(np.count_nonzero(t >= 0))
    assert mean_normaliser(my_loss)(np.array([0, -1, 2])) == 2.0
    assert mean_normaliser(functools.partial(IGNORE, reduction="sum")) is None
    assert mean_normaliser(CE) is None


def _masked_mse(pred, target):
    """A weighted mean of one's own: the squared error over the entries whose target is >= 0."""
    t = np.asarray(target)
    scored = (t >= 0).astype(pred.data.dtype)
    diff = pred - rb.tensor(np.where(t >= 0, t, 0.0))
    return (diff * diff * scored).sum() * (1.0 / max(float(scored.sum()), 1.0))


def test_threads_split_a_loss_of_ones_own_by_the_weights_it_tells():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((48, 4)), rng.random((48, 3))
    y[:20, 1:] = -1.0  # the first part of every batch holds few scored entries
    loss = functools.partial(_masked_mse)
    loss.func.mean_weights = lambda **options: lambda t: float(np.count_nonzero(
        np.asarray(t) >= 0))
    try:
        one = _net()
        small_fit(one, X, y, loss=loss, batch_size=24, shuffle=False, metrics=(), epochs=2)
        two = _net()
        small_fit(two, X, y, loss=loss, batch_size=24, shuffle=False, metrics=(), epochs=2,
                  distributed="threads")
    finally:
        del _masked_mse.mean_weights
    np.testing.assert_allclose(two.state_dict()["0.W"], one.state_dict()["0.W"], rtol=0,
                               atol=1e-14)


# -- finding 12: an all-ignored batch is skipped, not a divergence ---------------------------
def test_a_batch_whose_labels_are_all_ignored_is_skipped():
    X, y = _data(64)
    y[16:32] = -100  # the whole second batch
    net, steps = _net(), Steps()
    opt = rb.optim.SGD(net.parameters(), lr=0.1)
    h = small_fit(net, X, y, loss=IGNORE, optimizer=opt, batch_size=16, shuffle=False,
                  epochs=2, callbacks=[steps])
    assert np.isfinite(h["loss"]).all()
    assert opt.vec.data.size and np.isfinite(opt.vec.data).all()
    # the same run without the ignored batch: identical weights (no step was taken on it)
    keep = np.r_[0:16, 32:64]
    net2 = _net()
    opt2 = rb.optim.SGD(net2.parameters(), lr=0.1)
    for _ in range(2):
        for part in (keep[:16], keep[16:32], keep[32:]):
            opt2.zero_grad()
            IGNORE(net2(rb.tensor(X[part])), y[part]).backward()
            opt2.step()
    np.testing.assert_allclose(opt.vec.data, opt2.vec.data, rtol=0, atol=1e-14)


# -- finding 2 (and 14): a library loss through functools.partial ----------------------------
def test_a_partial_of_a_library_loss_keeps_its_name_checks_and_decision_rule():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2))
    y = (X[:, 0] + 0.3 * rng.standard_normal(200) > 0.2).astype(np.float64)
    net = rb.nn.Sequential(rb.nn.Dense(2, 1, rng=3)).astype(np.float64)
    loss = functools.partial(rb.losses.binary_cross_entropy_with_logits, reduction="sum")
    h = small_fit(net, X, y, loss=loss, optimizer=rb.optim.SGD(net.parameters(), lr=0.0),
                  metrics=["accuracy"], batch_size=32)
    truth = float(np.mean((rb.training.predict(net, X)[:, 0] > 0) == (y > 0.5)))
    assert h["accuracy"][0] == pytest.approx(truth)
    y3 = y.copy()
    y3[3] = 2.0
    with pytest.raises(ValueError, match=r"fit: y\[3\] = 2.0: binary_cross_entropy_with_logits"):
        small_fit(net, X, y3, loss=loss)
    Xc, yc = _data()
    yc[50] = 7
    steps = Steps()
    with pytest.raises(ValueError, match=r"fit: y\[50\] = 7 but the model outputs 3 classes"):
        small_fit(_net(), Xc, yc, loss=functools.partial(CE, label_smoothing=0.1),
                  callbacks=[steps])
    assert steps.steps == 0


def test_a_loss_that_is_not_one_number_is_refused_by_name():
    X, y = _data(16)
    target = np.eye(3)[y]
    with pytest.raises(ValueError, match="reduction='none'"):
        small_fit(_net(), X, target, loss=functools.partial(rb.losses.mse, reduction="none"))
    with pytest.raises(ValueError, match=r"must return a scalar Tensor .* shape \(8, 3\)"):
        small_fit(_net(), X, target, loss=lambda p, t: (p - rb.tensor(t)) ** 2)
    with pytest.raises(ValueError, match=r"evaluate: the loss must return a scalar"):
        rb.training.evaluate(_net(), X, target, loss=lambda p, t: (p - rb.tensor(t)) ** 2)


# -- finding 3: accuracy leaves ignored labels out -------------------------------------------
def test_accuracy_and_top_k_skip_the_ignored_labels():
    X, y = _data(40)
    y[::4] = -100
    net = _net()
    top2 = rb.training.metrics.top_k(2)
    h = small_fit(net, X, y, loss=IGNORE, optimizer=rb.optim.SGD(net.parameters(), lr=0.0),
                  metrics=["accuracy", top2])
    out, real = rb.training.predict(net, X), y != -100
    assert h["accuracy"][0] == pytest.approx(np.mean(out[real].argmax(1) == y[real]))
    ranked = np.argsort(out[real], axis=1, kind="stable")[:, ::-1][:, :2]
    assert h["top2_accuracy"][0] == pytest.approx(np.mean((ranked == y[real, None]).any(1)))
    got = rb.training.evaluate(net, X, y, loss=IGNORE)
    assert got["accuracy"] == pytest.approx(np.mean(out[real].argmax(1) == y[real]))


# -- finding 5: threads resume bit for bit with the parts' own draws -------------------------
@rb.io.register
class _Noise(rb.nn.Module):
    def forward(self, x):
        return dropout(x, 0.3) if self.training else x


def test_threads_resume_replays_the_parts_library_draws(tmp_path):
    X, y = _data(64)
    path = str(tmp_path / "run.ckpt")

    def run(epochs, resume=False):
        rb.seed(0)
        net = rb.nn.Sequential(rb.nn.Dense(4, 8, rng=1), rb.nn.Tanh(), _Noise(),
                               rb.nn.Dense(8, 3, rng=2)).astype(np.float64)
        opt = rb.optim.SGD(net.parameters(), lr=0.1)
        small_fit(net, X, y, optimizer=opt, epochs=epochs, batch_size=16, rng=5,
                  distributed="threads", metrics=(), resume_from=path if resume else None,
                  callbacks=[rb.callbacks.Checkpoint(path)] if not resume else None)
        return opt.vec.data.copy()

    whole = run(4)
    os.remove(path)
    run(2)
    np.testing.assert_array_equal(run(4, resume=True), whole)


# -- finding 6: an autoencoder's validation inputs are its targets ---------------------------
def test_autoencoder_validation_inputs_are_range_checked():
    rng = np.random.default_rng(0)
    X = rng.random((20, 3))
    net = rb.nn.Sequential(rb.nn.Dense(3, 3, rng=0)).astype(np.float64)
    with pytest.raises(ValueError, match=r"validation X\[0, \d\] = .*needs targets in \[0, 1\]"):
        small_fit(net, X, None, loss="binary_cross_entropy_with_logits",
                  validation_data=X * 3 + 1)


# -- finding 7: Curriculum's start needs a ramp ----------------------------------------------
def test_curriculum_start_without_epochs_to_full_is_refused():
    with pytest.raises(ValueError, match="start=0.3 needs epochs_to_full >= 2"):
        Curriculum(range(10), start=0.3)
    assert Curriculum(range(10), start=0.3, epochs_to_full=3).pool_size(0) == 3


# -- finding 8: margins are checked ----------------------------------------------------------
@pytest.mark.parametrize("fn,target", [(rb.losses.hinge, np.array([1.0, -1.0])),
                                       (rb.losses.max_margin, np.array([0, 1]))])
def test_hinge_and_max_margin_check_margin(fn, target):
    x = rb.tensor(np.zeros((2, 2)) if fn is rb.losses.max_margin else np.zeros(2))
    name = fn.__name__
    with pytest.raises(ValueError, match=f"{name}: margin must be a finite number; got nan"):
        fn(x, target, margin=float("nan"))
    for bad in ("1", None, [1.0, 2.0]):
        with pytest.raises(TypeError, match=f"{name}: margin must be a number"):
            fn(x, target, margin=bad)
    assert fn(x, target, margin=2).item() == pytest.approx(2.0)


# -- finding 9: the divergence message of an optimizer without a weight vector ---------------
class _PlainSGD:
    def __init__(self, params, lr):
        self.params, self.lr = list(params), lr

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for p in self.params:
            if p.grad is not None:
                p.data -= self.lr * p.grad


def test_divergence_with_an_optimizer_of_ones_own_puts_back_the_best_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    y = X @ rng.normal(size=(3, 1))

    def run(epochs):
        net = rb.nn.Sequential(rb.nn.Dense(3, 1, rng=0)).astype(np.float64)
        small_fit(net, X, y, loss="mse", optimizer=_PlainSGD(net.parameters(), lr=0.9),
                  epochs=epochs, shuffle=False)
        return net

    with pytest.raises(rb.training.DivergenceError, match=r"keeps the weights of epoch (\d+) "
                                                          r"\(0-based\), the best one") as e:
        net = rb.nn.Sequential(rb.nn.Dense(3, 1, rng=0)).astype(np.float64)
        small_fit(net, X, y, loss="mse", optimizer=_PlainSGD(net.parameters(), lr=0.9),
                  epochs=20, shuffle=False)
    best = int(e.value.args[0].split("weights of epoch ")[1].split(" ")[0])
    np.testing.assert_array_equal(net.state_dict()["0.W"], run(best + 1).state_dict()["0.W"])
    # within the first epoch: the weights of the lowest batch loss, not the diverged ones
    with pytest.raises(rb.training.DivergenceError, match="lowest batch loss so far") as e:
        net = rb.nn.Sequential(rb.nn.Dense(3, 1, rng=0)).astype(np.float64)
        small_fit(net, X, y, loss="mse", optimizer=_PlainSGD(net.parameters(), lr=3.0),
                  shuffle=False)
    batch, = (int(e.value.args[0].split(", batch ")[-1].split(",")[0]),)
    net0 = rb.nn.Sequential(rb.nn.Dense(3, 1, rng=0)).astype(np.float64)
    opt = _PlainSGD(net0.parameters(), lr=3.0)
    for b in range(batch):  # the weights before that batch's step
        opt.zero_grad()
        rb.losses.mse(net0(rb.tensor(X[8 * b:8 * b + 8])), y[8 * b:8 * b + 8]).backward()
        opt.step()
    np.testing.assert_array_equal(net.state_dict()["0.W"], net0.state_dict()["0.W"])


# -- finding 10: EpochScore on per-step outputs ----------------------------------------------
def test_epoch_score_of_a_sequence_model_scores_positions_or_refuses_first():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 5, 3)), rng.integers(0, 4, (40, 5))
    net = rb.nn.Sequential(rb.nn.Dense(3, 4, rng=0)).astype(np.float64)
    h = small_fit(net, X, y, optimizer=rb.optim.SGD(net.parameters(), lr=0.0),
                  validation_data=(X[:10], y[:10]), callbacks=[EpochScore("f1_macro")])
    out = rb.training.predict(net, X[:10]).argmax(-1)
    expected = rb.training.metrics.f1(y[:10].reshape(-1), out.reshape(-1), average="macro")
    assert h["val_f1_macro"][0] == pytest.approx(expected)
    steps = Steps()
    with pytest.raises(ValueError, match="EpochScore: r2 compares outputs with targets of the "
                                         "same size"):
        small_fit(net, X, y, validation_data=(X[:10], y[:10]),
                  callbacks=[steps, EpochScore("r2")])
    assert steps.steps == 0


# -- finding 11: a monitor logged by a callback listed after the monitoring one --------------
@pytest.mark.parametrize("make", [
    lambda: rb.callbacks.EarlyStopping(monitor="val_roc_auc", mode="max"),
    lambda: rb.callbacks.ReduceLROnPlateau(monitor="val_roc_auc", mode="max")])
def test_monitoring_an_epoch_score_listed_later_is_refused_before_training(make):
    X, y = _data(40, classes=2)
    net = _net(out=2)
    monitor, steps = make(), Steps()
    with pytest.raises(ValueError, match="is logged by EpochScore, which comes after"):
        small_fit(net, X, y, validation_data=(X, y),
                  callbacks=[steps, monitor, EpochScore("roc_auc")])
    assert steps.steps == 0
    h = small_fit(net, X, y, validation_data=(X, y), callbacks=[EpochScore("roc_auc"), make()])
    assert len(h["val_roc_auc"]) == 1


# -- finding 13: values the model's dtype cannot hold ----------------------------------------
def test_data_beyond_float16_is_refused_before_training():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 4))
    net = rb.nn.Sequential(rb.nn.Dense(4, 1, rng=0)).astype(np.float16)
    with pytest.raises(ValueError, match=r"fit: y holds values of magnitude up to 1\.2e\+05, "
                                         r"beyond float16's largest \(65504\)"):
        small_fit(net, X, np.full(16, 1.2e5), loss="mse")
    with pytest.raises(ValueError, match=r"evaluate: X holds values of magnitude up to 2e\+05"):
        rb.training.evaluate(net, X * 0 + 2e5, np.zeros(16), loss="mse")


# -- finding 15: batches instead of the data set ---------------------------------------------
def test_a_generator_or_ragged_list_of_batches_is_refused_by_name():
    X, y = _data(16)
    batches = ((X[i:i + 8], y[i:i + 8]) for i in range(0, 16, 8))
    with pytest.raises(TypeError, match="fit: X must be an array of all examples.*generator"):
        small_fit(_net(), batches, None)
    with pytest.raises(ValueError, match="fit: X must be an array of all examples.*every "
                                         "example of one shape"):
        small_fit(_net(), [X[:8].tolist(), X[8:13].tolist()], y)


def test_complex_targets_are_refused():
    X, _ = _data(16)
    with pytest.raises(TypeError, match="fit: y must hold real numbers; got dtype complex128"):
        small_fit(_net(), X, np.zeros((16, 3)) + 1j, loss="mse")


# -- a3 finding 1: recurrent batch norm is not split over threads or ranks -------------------
def test_threads_refuse_recurrent_batch_norm():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 4, 3)), rng.integers(0, 2, 16)
    net = rb.nn.Sequential(rb.nn.LSTM(3, 4, batch_norm=True, rng=0),
                           rb.nn.SequenceOutputs(last=True), rb.nn.Dense(4, 2, rng=0))
    with pytest.raises(ValueError, match=r"ThreadParallel: the model has batch normalization "
                                         r"\(LSTM\(batch_norm=True\)\)"):
        small_fit(net, X, y, distributed="threads")


# -- a3 finding 6: the last batch of one under recurrent batch norm --------------------------
def test_last_batch_of_one_step_under_recurrent_batch_norm_is_refused_before_training():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((17, 1, 3)), rng.integers(0, 2, 17)
    net = rb.nn.Sequential(rb.nn.GRU(3, 4, batch_norm=True, rng=0),
                           rb.nn.SequenceOutputs(last=True), rb.nn.Dense(4, 2, rng=0))
    steps = Steps()
    with pytest.raises(ValueError, match=r"last mini-batch of the 17 examples holds 1 example, "
                                         r"but batch normalization \(GRU\)"):
        small_fit(net, X, y, batch_size=16, shuffle=False, callbacks=[steps])
    assert steps.steps == 0
    X2 = rng.standard_normal((17, 3, 3))  # three steps: the one example's rows suffice
    small_fit(net, X2, y, batch_size=16, shuffle=False)


# -- over MPI: mpirun -n 2 runs this file ----------------------------------------------------
def test_two_ranks_recurrent_batch_norm_and_weighted_losses(tmp_path):
    report = mpirun(2, ["-m", "mpi4py", os.path.abspath(__file__)], str(tmp_path))
    # recurrent batch norm: synchronised over the ranks where the layers can (a sum_over_ranks
    # hook, as BatchNorm1d), else refused; never trained on each rank's statistics
    if hasattr(rb.nn.recurrent.RecurrentBase, "sum_over_ranks"):
        for key in ("LSTM", "GRU"):
            assert report[key] < 1e-12, (key, report[key])
    else:
        for key in ("LSTM", "GRU"):
            assert f"recurrent batch normalization ({key}(batch_norm=True))" in report[key]
    assert report["loss"] == pytest.approx(report["expected"], rel=1e-12)


def _mpi_job(out):
    """Rank 0 writes what two ranks did to OUT/report.json: for recurrent batch norm, max |one
    process - two ranks| of the weights and running statistics, or the refusal."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    report = {}
    rng = np.random.default_rng(0)
    Xs, ys = rng.standard_normal((33, 5, 3)), rng.integers(0, 2, 33)  # last batch: one example
    for kind in ("LSTM", "GRU"):
        def make(kind=kind):
            return rb.nn.Sequential(getattr(rb.nn, kind)(3, 4, batch_norm=True, rng=0),
                                    rb.nn.SequenceOutputs(last=True),
                                    rb.nn.Dense(4, 2, rng=0)).astype(np.float64)

        def state(net):
            return np.concatenate([p.data.ravel() for p in net.parameters()]
                                  + [b.ravel() for _, b in net.named_buffers()])

        one = None
        if comm.Get_rank() == 0:
            net = make()
            small_fit(net, Xs, ys, epochs=2, batch_size=16, shuffle=False)
            one = state(net)
        net = make()
        try:
            small_fit(net, Xs, ys, epochs=2, batch_size=16, shuffle=False, distributed="mpi")
            report[kind] = None if one is None else float(np.abs(state(net) - one).max())
        except ValueError as e:
            report[kind] = str(e)
    X, y = _data(64)
    y[:20] = -100
    net = _net()
    report["expected"] = _whole(net, X, y, IGNORE)
    h = small_fit(net, X, y, loss=IGNORE, optimizer=rb.optim.SGD(net.parameters(), lr=0.0),
                  batch_size=24, shuffle=False, distributed="mpi", metrics=())
    report["loss"] = h["loss"][0]
    if comm.Get_rank() == 0:
        with open(os.path.join(out, "report.json"), "w") as f:
            json.dump(report, f)


if __name__ == "__main__":
    _mpi_job(sys.argv[1])
