"""rb.fit: learning, shuffling, validation, metrics, regularizers, bad data and divergence."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.training import DivergenceError, evaluate, predict

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0])


def _blobs(rng, n=200, classes=3):
    centers = rng.normal(scale=4.0, size=(classes, 5))
    y = rng.integers(0, classes, n)
    X = (centers[y] + rng.normal(size=(n, 5))).astype(np.float32)
    return X, y


def _mlp(i=5, h=16, o=3, seed=0):
    rng = np.random.default_rng(seed)
    return rb.nn.Sequential(rb.nn.Dense(i, h, rng=rng), rb.nn.Tanh(), rb.nn.Dense(h, o, rng=rng))


def test_fit_learns_xor_with_cross_entropy():
    net = _mlp(2, 8, 2, seed=1)
    h = rb.fit(net, XOR_X, XOR_Y, loss="cross_entropy",
               optimizer=rb.optim.Adam(net.parameters(), lr=0.05), epochs=200, batch_size=4,
               progress=False, rng=0)
    assert h["accuracy"][-1] == 1.0
    assert h["loss"][-1] < 0.05
    assert len(h) == 200 and h.epoch[0] == 0 and h["lr"][-1] == 0.05


def test_fit_regression_with_mse_and_single_column_targets(rng):
    X = rng.uniform(-1, 1, (128, 1)).astype(np.float32)
    y = np.sin(3 * X[:, 0])  # shape (n,), the model outputs (n, 1)
    net = _mlp(1, 16, 1)
    h = rb.fit(net, X, y, loss="mse", optimizer=rb.optim.Adam(net.parameters(), lr=0.02),
               epochs=60, batch_size=16, metrics=("mae",), progress=False, rng=0)
    assert "accuracy" not in h  # not a classification problem
    assert h["loss"][-1] < 0.05 < h["loss"][0]
    assert h["mae"][-1] < 0.2


def test_validation_metrics_and_evaluate(rng):
    X, y = _blobs(rng)
    net = _mlp()
    h = rb.fit(net, X[:150], y[:150], loss="cross_entropy",
               optimizer=rb.optim.SGD(net.parameters(), lr=0.1, momentum=0.9), epochs=10,
               validation_data=(X[150:], y[150:]), progress=False, rng=0)
    assert h["val_accuracy"][-1] > 0.9
    result = evaluate(net, X[150:], y[150:], loss="cross_entropy")
    assert result["loss"] == pytest.approx(h["val_loss"][-1], rel=1e-5)
    assert result["accuracy"] == h["val_accuracy"][-1]
    assert predict(net, X[150:]).shape == (50, 3)


def test_same_seed_same_run_and_shuffling_matters(rng):
    X, y = _blobs(rng, n=64)

    def run(seed, shuffle=True):
        net = _mlp(seed=3)
        rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
               epochs=3, batch_size=8, shuffle=shuffle, progress=False, rng=seed)
        return np.concatenate([p.data.ravel() for p in net.parameters()])

    np.testing.assert_array_equal(run(0), run(0))
    assert not np.array_equal(run(0), run(1))
    np.testing.assert_array_equal(run(0, shuffle=False), run(1, shuffle=False))


def test_library_generator_drives_the_default_rng(rng):
    X, y = _blobs(rng, n=64)

    def run():
        rb.seed(11)
        net = _mlp(seed=3)
        rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
               epochs=2, batch_size=8, progress=False)
        return net[0].W.data.copy()

    np.testing.assert_array_equal(run(), run())


def test_regularizers_penalty_and_model_own(rng):
    X, y = _blobs(rng, n=64)
    norms = {}
    for lam in (0.0, 0.1):
        net = _mlp(seed=0)
        rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
               epochs=20, regularizers=[rb.regularizers.L2(lam)], progress=False, rng=0)
        norms[lam] = float(np.sum(net[0].W.data ** 2))
    assert norms[0.1] < norms[0.0] * 0.8


def test_autoencoder_target_is_the_input(rng):
    X = rng.normal(size=(64, 6)).astype(np.float32)
    net = _mlp(6, 4, 6)
    h = rb.fit(net, X, loss="mse", optimizer=rb.optim.Adam(net.parameters(), lr=0.01),
               epochs=30, batch_size=16, progress=False, rng=0)
    assert h["loss"][-1] < h["loss"][0] * 0.7
    assert "accuracy" not in h


def test_custom_loss_and_metric(rng):
    X, y = _blobs(rng, n=64)
    net = _mlp()

    def my_loss(pred, target):
        return rb.losses.cross_entropy(pred, target)

    def top2(pred, target):
        best2 = np.argsort(pred, axis=1)[:, -2:]
        return int(np.sum(best2 == target[:, None])), len(target)

    h = rb.fit(net, X, y, loss=my_loss, optimizer=rb.optim.Adam(net.parameters(), lr=0.01),
               epochs=3, metrics=("accuracy", top2), progress=False, rng=0)
    assert "top2" in h and "accuracy" in h
    assert h["top2"][-1] >= h["accuracy"][-1]


def test_gradient_clipping_bounds_the_step():
    w = rb.nn.Parameter(np.zeros((1, 1), dtype=np.float32))

    class Lin(rb.nn.Module):
        def __init__(self):
            self.w = w

        def forward(self, x):
            return x @ self.w

    X = np.full((1, 1), 1000.0, dtype=np.float32)
    y = np.zeros((1, 1), dtype=np.float32) + 1000.0
    rb.fit(Lin(), X, y, loss="mse", optimizer=rb.optim.SGD([w], lr=1.0), epochs=1,
           clip_norm=0.5, progress=False, metrics=())
    assert abs(float(w.data[0, 0])) == pytest.approx(0.5, rel=1e-4)
    w.data[...] = 0
    rb.fit(Lin(), X, y, loss="mse", optimizer=rb.optim.SGD([w], lr=1.0), epochs=1,
           clip_value=0.25, progress=False, metrics=())
    assert abs(float(w.data[0, 0])) == pytest.approx(0.25)


@pytest.mark.parametrize("where", ["X", "y", "validation X"])
def test_nan_or_inf_in_data_is_rejected_before_training(where):
    X = np.ones((8, 5), dtype=np.float32)
    y = np.ones(8, dtype=np.float32)
    Xv = np.ones((4, 5), dtype=np.float32)
    {"X": X, "y": y, "validation X": Xv}[where].flat[3] = np.nan if where != "y" else np.inf
    net = _mlp(o=1)
    before = net[0].W.data.copy()
    with pytest.raises(ValueError, match=f"fit: {where} contains 1 NaN or infinite values"):
        rb.fit(net, X, y, loss="mse", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
               epochs=1, validation_data=(Xv, np.ones(4)), progress=False)
    np.testing.assert_array_equal(net[0].W.data, before)



def test_finite_data_whose_sum_overflows_is_accepted_and_opposite_infs_are_not():
    # the check sums the data first; an overflowing sum must fall back to the exact check
    X = np.full((8, 5), 3e38, dtype=np.float32)
    net = _mlp(o=1)
    rb.fit(net, X, np.ones(8, dtype=np.float32), loss="mse",
           optimizer=rb.optim.SGD(net.parameters(), lr=0.1), epochs=0, progress=False)
    X = np.ones((8, 5), dtype=np.float32)
    X[0, 0], X[1, 1] = np.inf, -np.inf  # the sum is NaN, not inf
    with pytest.raises(ValueError, match="fit: X contains 2 NaN or infinite values"):
        rb.fit(net, X, np.ones(8, dtype=np.float32), loss="mse",
               optimizer=rb.optim.SGD(net.parameters(), lr=0.1), epochs=0, progress=False)

def _batch_spy(net, opt, y, batch_size):
    """A callback recording, before every step, the weights and the loss they gave on their
    batch (shuffle=False: batch b is rows b * batch_size ...)."""
    seen, losses = [], []

    def spy(trainer):
        seen.append(opt.vec.data.copy())
        b = trainer.batch * batch_size
        with rb.no_grad():
            pred = net(rb.tensor(trainer.x_batch))
        losses.append(float(rb.losses.mse(pred, y[b:b + batch_size, None]).item()))

    return rb.callbacks.LambdaCallback(on_backward=spy), seen, losses


def test_diverging_loss_stops_with_epoch_and_batch_and_keeps_good_weights(rng):
    X = rng.normal(size=(64, 5)).astype(np.float32)
    y = (X @ rng.normal(size=5)).astype(np.float32)
    net = rb.nn.Sequential(rb.nn.Dense(5, 16, rng=0), rb.nn.ReLU(), rb.nn.Dense(16, 1, rng=1))
    opt = rb.optim.SGD(net.parameters(), lr=5.0)
    record, seen, losses = _batch_spy(net, opt, y, 8)
    with pytest.raises(DivergenceError, match=r"the loss became (nan|inf) at epoch \d+ "
                                              r"\(0-based\), batch \d+") as info:
        rb.fit(net, X, y, loss="mse", optimizer=opt, epochs=50, batch_size=8, shuffle=False,
               callbacks=[record], progress=False, rng=0,
               divergence_factor=None)  # the NaN/inf path (growth: test_divergence.py)
    err = info.value
    assert err.epoch == 0 and err.batch == len(seen)
    assert np.all(np.isfinite(net[0].W.data))
    # within the first epoch: the weights of the lowest batch loss, not merely the last step's
    best = int(np.argmin(losses))
    assert best < len(seen) - 1
    np.testing.assert_array_equal(opt.vec.data, seen[best])
    assert f"the lowest batch loss so far ({losses[best]:.4g}, epoch 0, batch {best}" in str(err)
    assert isinstance(err.history, rb.training.History)


@pytest.mark.parametrize("make", [
    lambda p: rb.optim.SGD(p, lr=5.0, momentum=0.9),  # compiled: keeps theta in its pass
    lambda p: rb.optim.SGD(p, lr=5.0, momentum=0.9, nesterov=True, weight_decay=1e-4),
    lambda p: rb.optim.Adam(p, lr=1.0),
    lambda p: rb.optim.RMSprop(p, lr=1.0),  # no keep in its rule: copied before the step
], ids=["momentum", "nesterov_decay", "adam", "rmsprop"])
def test_divergence_puts_back_the_weights_the_step_kept(make, rng, both):
    # a model above the compiled passes' size: SGD and Adam write the kept weights in their
    # own pass over the vector (step(keep=)), only at a new lowest batch loss; every weight
    # must come back, exactly
    X = rng.normal(size=(64, 5)).astype(np.float32)
    y = (X @ rng.normal(size=5)).astype(np.float32)

    def run():
        net = rb.nn.Sequential(rb.nn.Dense(5, 1024, rng=0), rb.nn.ReLU(),
                               rb.nn.Dense(1024, 1, rng=1))
        opt = make(net.parameters())
        record, seen, losses = _batch_spy(net, opt, y, 8)
        with pytest.raises(DivergenceError, match="the lowest batch loss so far") as info:
            rb.fit(net, X, y, loss="mse", optimizer=opt, epochs=50, batch_size=8,
                   shuffle=False, callbacks=[record], progress=False, rng=0,
                   divergence_factor=3.0)
        assert info.value.epoch == 0
        assert opt.vec.size > 4096 and seen
        np.testing.assert_array_equal(opt.vec.data, seen[int(np.argmin(losses))])

    both(run)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"epochs": -1}, ValueError, "fit: epochs must be a non-negative integer"),
    ({"batch_size": 0}, ValueError, "fit: batch_size must be a positive integer"),
    ({"loss": "crossentropy"}, ValueError, "fit: unknown loss 'crossentropy'"),
    ({"metrics": ("f2",)}, ValueError, "fit: unknown metric 'f2'"),
    ({"optimizer": "adam"}, TypeError, "fit: optimizer must be an rb.optim optimizer"),
    ({"callbacks": [print]}, TypeError, "fit: callbacks must be rb.callbacks.Callback"),
    ({"y": np.zeros(3)}, ValueError, "fit: X has 4 examples but y has 3"),
    ({"regularizers": ["l2"]}, TypeError, r"regularizers: expected rb.regularizers .* got str"),
    ({"optimizer": "other model"}, ValueError,
     r"fit: the optimizer holds none of the model's parameters.* SGD\(model.parameters"),
])
def test_argument_errors(kwargs, error, match):
    net = _mlp(2, 4, 2)
    args = {"loss": "cross_entropy", "optimizer": rb.optim.SGD(net.parameters(), lr=0.1),
            "epochs": 1, "progress": False}
    args.update(kwargs)
    if args["optimizer"] == "other model":  # a silent no-op before: caught up front now
        args["optimizer"] = rb.optim.SGD(_mlp(2, 4, 2).parameters(), lr=0.1)
    y = args.pop("y", XOR_Y)
    with pytest.raises(error, match=match):
        rb.fit(net, XOR_X, y, **args)


def test_progress_bar_draws_only_on_a_terminal(capsys):
    import io

    from rosenblatt.training.progress import ProgressBar

    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    bar = ProgressBar(2, 4, stream=stream, fps=1e9)
    for b in range(4):
        bar.update(0, b, {"loss": 0.5})
    bar.end_epoch(0, {"loss": 0.25, "time": 1.0})
    text = stream.getvalue()
    assert "Epoch 1/2 [" in text and "4/4" in text and "loss 0.25" in text
    net = _mlp(2, 4, 2)
    rb.fit(net, XOR_X, XOR_Y, loss="cross_entropy", epochs=1, progress=True,
           optimizer=rb.optim.SGD(net.parameters(), lr=0.1))
    # pytest's stderr is not a terminal: no bar, one line per epoch
    assert capsys.readouterr().err.startswith("epoch 1/1  loss ")


def test_binary_and_one_hot_accuracy(rng):
    X = rng.normal(size=(64, 2)).astype(np.float32)
    labels = (X[:, 0] > 0).astype(np.int64)
    net = rb.nn.Sequential(rb.nn.Dense(2, 1, rng=0), rb.nn.Sigmoid())
    h = rb.fit(net, X, labels.astype(np.float32), loss="binary_cross_entropy", epochs=30,
               optimizer=rb.optim.Adam(net.parameters(), lr=0.1), progress=False, rng=0)
    assert h["accuracy"][-1] > 0.95
    logits = rb.nn.Sequential(rb.nn.Dense(2, 1, rng=0))
    h = rb.fit(logits, X, labels.astype(np.float32), loss="binary_cross_entropy_with_logits",
               epochs=30, optimizer=rb.optim.Adam(logits.parameters(), lr=0.1), progress=False,
               rng=0)
    assert h["accuracy"][-1] > 0.95  # thresholded at 0 for logits
    one_hot = np.eye(2, dtype=np.float32)[labels]
    two = rb.nn.Sequential(rb.nn.Dense(2, 2, rng=0))
    h = rb.fit(two, X, one_hot, loss="cross_entropy", epochs=30, progress=False, rng=0,
               optimizer=rb.optim.Adam(two.parameters(), lr=0.1))
    assert h["accuracy"][-1] > 0.95


def test_float64_models_train_in_float64(rng):
    X = rng.normal(size=(32, 3))
    y = rng.integers(0, 2, 32)
    net = rb.nn.Sequential(rb.nn.Dense(3, 2, rng=0, dtype=np.float64))
    opt = rb.optim.SGD(net.parameters(), lr=0.1)
    rb.fit(net, X.astype(np.float32), y, loss="cross_entropy", optimizer=opt, epochs=2,
           progress=False, rng=0)
    assert net[0].W.data.dtype == np.float64 and opt.vec.data.dtype == np.float64


class _Epochs(rb.callbacks.Callback):
    def __init__(self):
        self.ended = 0

    def on_epoch_end(self, trainer, epoch, logs):
        self.ended += 1


@pytest.mark.parametrize(("change", "error", "match"), [
    (lambda a: a.update(validation_data=(np.ones((6, 4), np.float32), np.zeros(6, int))),
     ValueError, r"fit: validation X has examples of shape \(4,\) but X has \(5,\); the model "
                 r"refuses them: Dense"),
    (lambda a: a.update(validation_data=(np.ones((6, 5), np.float32), np.full(6, 7))),
     ValueError, r"fit: validation y\[0\] = 7 but the model outputs 3 classes"),
    (lambda a: a.update(metrics=("mae",)),
     ValueError, "fit: metric 'mae' compares outputs with targets of the same shape, but y "
                 "holds class labels for loss 'cross_entropy'; use 'accuracy'"),
    (lambda a: a.update(callbacks=[rb.callbacks.Checkpoint("/nonexistent-rb/dir/c.safetensors")]),
     ValueError, r"fit: Checkpoint path '/nonexistent-rb/dir/c.safetensors': the folder "
                 r"'/nonexistent-rb/dir' does not exist"),
])
def test_errors_found_before_the_first_epoch(change, error, match):
    net = _mlp()
    epochs = _Epochs()
    args = {"loss": "cross_entropy", "optimizer": rb.optim.SGD(net.parameters(), lr=0.1),
            "epochs": 2, "progress": False, "callbacks": [epochs]}
    change(args)
    args["callbacks"] = list(args["callbacks"]) + [epochs]
    X = np.ones((8, 5), np.float32)
    with pytest.raises(error, match=match):
        rb.fit(net, X, np.arange(8) % 3, **args)
    assert epochs.ended == 0


def test_regression_metrics_with_one_output_binary_labels_still_work():
    # integer 0/1 labels against one output: mae compares them elementwise, as asked
    net = _mlp(o=1)
    h = rb.fit(net, np.ones((8, 5), np.float32), np.arange(8) % 2,
               loss="binary_cross_entropy_with_logits",
               optimizer=rb.optim.SGD(net.parameters(), lr=0.1), epochs=1, progress=False,
               metrics=("accuracy", "mae"))
    assert "mae" in h.history


@pytest.mark.parametrize("batch_size", [0, -1, -3, 2.5, True])
def test_predict_and_evaluate_refuse_a_batch_size_that_is_not_positive(batch_size):
    net = _mlp(4, 8, 3)
    X, y = np.zeros((5, 4), np.float32), np.zeros(5, np.int64)
    with pytest.raises(ValueError, match=r"predict: batch_size must be a positive integer; got "):
        predict(net, X, batch_size=batch_size)
    with pytest.raises(ValueError, match=r"evaluate: batch_size must be a positive integer; "):
        evaluate(net, X, y, loss="cross_entropy", batch_size=batch_size)


def test_predict_on_no_examples_has_the_models_output_shape_and_evaluate_names_itself():
    net = _mlp(4, 8, 3)
    X = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    out = predict(net, X[:0])
    assert out.shape == (0, 3) and out.dtype == predict(net, X).dtype
    np.testing.assert_allclose(predict(net, X, batch_size=2), predict(net, X), rtol=1e-5)
    with pytest.raises(ValueError, match=r"^evaluate: X contains 20 NaN or infinite values"):
        evaluate(net, X * np.nan, np.zeros(5, np.int64), loss="cross_entropy")
    with pytest.raises(ValueError, match=r"^evaluate: unknown loss 'l2'"):
        evaluate(net, X, loss="l2")


# -- audits a4 and a5 ---------------------------------------------------------------------------


def _adv_data():
    X = np.random.default_rng(0).random((32, 4)).astype(np.float32)
    return X, (X.sum(1) > 2).astype(np.int64)


@pytest.mark.parametrize("make", [
    lambda p: rb.optim.BoltzmannAnnealer(p, T0=1.0, rng=0),
    lambda p: rb.optim.LBFGS(p, max_iter=3),
    lambda p: rb.optim.ConjugateGradient(p, max_iter=3),
])
def test_adversarial_training_with_a_closure_optimizer_trains_on_the_adversarial_loss(make):
    """The closure is the adversarial objective: its first value is J(x_adv) at the start."""
    X, y = _adv_data()
    net = rb.nn.Dense(4, 2, rng=0)
    start = rb.nn.Dense(4, 2, rng=0)
    x_adv = rb.adversarial.fgsm(start, X, y, 0.1, clip=(0.0, 1.0))
    expected = float(rb.losses.cross_entropy(start(x_adv), y).item())
    clean = float(rb.losses.cross_entropy(start(X), y).item())
    seen = []
    opt = make(net.parameters())
    step = opt.step

    def recording(closure):
        def wrapped():
            value = closure()
            seen.append(float(value.item()))
            return value
        return step(wrapped)

    opt.step = recording
    h = rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=2, batch_size=32,
               progress=False, metrics=(), adversarial=rb.adversarial.FGSM(eps=0.1, alpha=0.0))
    assert abs(seen[0] - expected) < 1e-6 and abs(seen[0] - clean) > 1e-3
    assert len(h["loss"]) == 2


def test_fit_refuses_an_optimizer_that_misses_trainable_parameters():
    X, y = _adv_data()
    base = rb.nn.Sequential(rb.nn.Dense(4, 8, rng=0), rb.nn.Tanh(), rb.nn.Dense(8, 2, rng=1))
    opt = rb.optim.SGD(base.parameters(), lr=0.1)
    new = rb.training.replace_output(base, rb.nn.Dense(8, 3, rng=2), freeze=False)
    with pytest.warns(UserWarning, match=r"fit: the optimizer does not hold 2 of the model's 4 "
                                         r"trainable parameters \(2\.W, 2\.b\)"):
        rb.fit(new, X, y, loss="cross_entropy", optimizer=opt, epochs=1, progress=False)
    # the old optimizer of a model whose body is frozen would train nothing at all
    stale = rb.training.replace_output(base, rb.nn.Dense(8, 3, rng=2))
    with pytest.raises(ValueError, match=r"holds none of the model's 2 trainable parameters"):
        rb.fit(stale, X, y, loss="cross_entropy", optimizer=opt, epochs=1, progress=False)
    # frozen parameters may be left out: that is how a part is kept fixed
    frozen = rb.training.replace_output(base, rb.nn.Dense(8, 3, rng=2))
    head = frozen[-1].W.data.copy()
    rb.fit(frozen, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(frozen.parameters(), lr=0.1),
           epochs=1, progress=False)
    assert not np.array_equal(frozen[-1].W.data, head)


# -- audit of the closure optimizers and divergence (2026-12-05) -------------------------------
def _rmse(pred, target):
    return (((pred - rb.tensor(target)) ** 2).mean()) ** 0.5


def test_a_nan_gradient_at_a_finite_loss_keeps_finite_weights():
    # an exact fit: RMSE 0 and its gradient 0/0; the step writes NaN weights, the next loss is
    # NaN, and the weights put back must be finite (not the NaN ones of the "best" epoch)
    X, y = np.zeros((8, 2)), np.zeros((8, 1))
    net = rb.nn.Dense(2, 1, rng=0).astype(np.float64)
    for p in net.parameters():
        p.data[...] = 0.0
    with np.errstate(all="ignore"), pytest.raises(rb.training.DivergenceError):
        rb.fit(net, X, y, loss=_rmse, optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
               epochs=3, batch_size=8, progress=False, metrics=())
    assert all(np.all(p.data == 0.0) for p in net.parameters())


def test_a_closure_optimizers_non_finite_objective_is_a_divergence():
    X = np.random.default_rng(0).random((16, 2))
    y = X.sum(1, keepdims=True)
    net = rb.nn.Dense(2, 1, rng=0).astype(np.float64)
    start = [p.data.copy() for p in net.parameters()]
    epochs = []

    def loss(pred, target):  # finite for two epochs, then NaN
        value = ((pred - rb.tensor(target)) ** 2).mean()
        return value * np.nan if len(epochs) >= 2 else value

    with pytest.raises(rb.training.DivergenceError, match="the loss became nan"):
        rb.fit(net, X, y, loss=loss, optimizer=rb.optim.LBFGS(net.parameters(), max_iter=3),
               epochs=4, batch_size=16, progress=False, metrics=(),
               callbacks=[rb.callbacks.LambdaCallback(
                   on_epoch_end=lambda t, e, logs: epochs.append(e))])
    assert all(np.all(np.isfinite(p.data)) for p in net.parameters())
    assert any(not np.array_equal(p.data, s) for p, s in zip(net.parameters(), start))


def test_closure_optimizers_refuse_clipping_gradient_callbacks_and_tbptt():
    X = np.random.default_rng(0).random((16, 2)).astype(np.float32)
    y = (X.sum(1) > 1).astype(np.int64)
    net = rb.nn.Dense(2, 2, rng=0)
    opt = rb.optim.LBFGS(net.parameters())
    with pytest.raises(ValueError, match="clip_norm/clip_value act on the gradient of a step"):
        rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=1, clip_norm=1.0,
               progress=False)
    with pytest.raises(ValueError, match="callback GradientMonitor reads each step's gradient"):
        rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=1, progress=False,
               callbacks=[rb.callbacks.GradientMonitor()])
    rnn = rb.nn.RNN(1, 1, rng=0)
    seq = np.ones((2, 8, 1), np.float32)
    with pytest.raises(ValueError, match="tbptt_fit: LBFGS evaluates the objective itself"):
        rb.fit(rnn, seq, seq, loss="mse", optimizer=rb.optim.LBFGS(rnn.parameters()), epochs=1,
               tbptt=4)
