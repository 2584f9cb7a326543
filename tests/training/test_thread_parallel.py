"""Data-parallel training over threads: rb.distributed.ThreadParallel and
rb.fit(..., distributed="threads") give the one-thread steps (float64: to rounding)."""

import numpy as np
import pytest

import rosenblatt as rb


def data(n=101, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, classes, n)


def net(dtype=np.float64, dropout=False, seed=1):
    rng = np.random.default_rng(seed)
    layers = [rb.nn.Dense(6, 16, rng=rng), rb.nn.ReLU()]
    if dropout:
        layers.append(rb.nn.Dropout(0.3, rng=np.random.default_rng(seed)))
    layers += [rb.nn.Dense(16, 16, rng=rng), rb.nn.Tanh(), rb.nn.Dense(16, 3, rng=rng)]
    return rb.nn.Sequential(*layers).astype(dtype)


def train(distributed, **kwargs):
    X, y = data()
    model = net()
    opt = rb.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    history = rb.fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=3,
                     batch_size=32, progress=False, rng=3, distributed=distributed, **kwargs)
    return opt, history


def trained_both_ways(make_model, X, y):
    """The flat weights after two epochs of SGD with momentum, on one thread and over threads."""
    out = []
    for distributed in (None, "threads"):
        model = make_model()
        opt = rb.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        rb.fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=2, batch_size=16,
               progress=False, rng=1, distributed=distributed)
        out.append(opt.vec.data.copy())
    return out


@pytest.mark.parametrize("kwargs", [{}, {"regularizers": [rb.regularizers.L2(1e-2)],
                                         "clip_norm": 0.5}])
def test_fit_over_threads_equals_one_thread(kwargs):
    # 101 examples in batches of 32: the last batch (5) splits 3 + 2; SGD with momentum
    one, h1 = train(None, **kwargs)
    two, h2 = train("threads", **kwargs)
    assert np.abs(one.vec.data - two.vec.data).max() < 1e-12
    assert np.abs(one.velocity - two.velocity).max() < 1e-12
    assert np.allclose(h1["loss"], h2["loss"], rtol=0, atol=1e-12)
    assert h1["accuracy"] == h2["accuracy"]


def test_hand_written_loop_float32_and_three_threads():
    X, y = data(96)
    X = X.astype(np.float32)
    models = [net(np.float32) for _ in range(2)]
    opts = [rb.optim.Adam(m.parameters(), lr=1e-2) for m in models]
    tp = rb.distributed.ThreadParallel(models[1], opts[1], threads=3)
    assert len(tp.replicas) == 2
    # the replicas compute with the optimizer's weights, each with its own gradient vector
    assert all(r[0].W.data.base is opts[1].vec.data for r in tp.replicas)

    def loss(model, i):
        return rb.losses.cross_entropy(model(rb.tensor(X[i])), y[i])

    order = np.random.default_rng(0)
    for _ in range(3):
        for index in np.array_split(order.permutation(96), 6):
            opts[0].zero_grad()
            ref = loss(models[0], index)
            ref.backward()
            opts[0].step()
            value = tp.backward(loss, index)
            assert abs(value - float(ref.item())) < 1e-5
            opts[1].step()
    tp.close()
    assert np.abs(opts[0].vec.data - opts[1].vec.data).max() < 1e-5


def test_a_batch_smaller_than_the_threads_and_a_frozen_layer():
    X, y = data(8)
    models = [net() for _ in range(2)]
    for m in models:
        m[0].W.requires_grad = False  # frozen: no gradient on any thread
    opts = [rb.optim.SGD(m.parameters(), lr=0.1) for m in models]
    tp = rb.distributed.ThreadParallel(models[1], opts[1], threads=3)

    def loss(model, i):
        return rb.losses.cross_entropy(model(rb.tensor(X[i])), y[i])

    for index in ([0, 1], [2, 3, 4, 5, 6, 7], [7]):  # parts of 1, 1, 0 / 2, 2, 2 / 1, 0, 0
        opts[0].zero_grad()
        loss(models[0], index).backward()
        opts[0].step()
        tp.backward(loss, np.array(index))
        opts[1].step()
    tp.close()
    assert np.abs(opts[0].vec.data - opts[1].vec.data).max() < 1e-12
    assert np.array_equal(models[1][0].W.data, net()[0].W.data)


def test_dropout_trains_with_its_own_masks_per_part():
    # each thread draws its part's masks from the layer's generator (in no fixed order)
    X, y = data(200)
    y = (X[:, 0] > 0).astype(int)
    model = net(dropout=True)
    opt = rb.optim.Adam(model.parameters(), lr=1e-2)
    h = rb.fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=15, batch_size=40,
               progress=False, rng=0, distributed="threads")
    assert h["loss"][-1] < 0.6 * h["loss"][0]
    assert h["accuracy"][-1] > 0.85


def test_errors_in_a_thread_reach_the_caller():
    X, y = data(16)
    model = net()
    opt = rb.optim.SGD(model.parameters(), lr=0.1)
    tp = rb.distributed.ThreadParallel(model, opt)

    def loss(m, i):
        if m is not model:
            raise KeyError("from the worker")
        return rb.losses.cross_entropy(m(rb.tensor(X[i])), y[i])

    with pytest.raises(KeyError, match="from the worker"):
        tp.backward(loss, np.arange(16))
    assert tp.backward(lambda m, i: rb.losses.cross_entropy(m(rb.tensor(X[i])), y[i]),
                       np.arange(16)) > 0  # the workers still serve
    tp.close()


def test_bad_arguments_are_clear_errors():
    X, y = data(16)
    model = net()
    opt = rb.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="ThreadParallel: threads must be a positive"):
        rb.distributed.ThreadParallel(model, opt, threads=0)
    with pytest.raises(TypeError, match="ThreadParallel: optimizer must be"):
        rb.distributed.ThreadParallel(model, object())
    bn = rb.nn.Sequential(rb.nn.Dense(6, 4), rb.nn.BatchNorm1d(4), rb.nn.Dense(4, 3))
    with pytest.raises(ValueError, match=r"batch normalization \(BatchNorm1d\)"):
        rb.fit(bn, X.astype(np.float32), y, loss="cross_entropy",
               optimizer=rb.optim.SGD(bn.parameters(), lr=0.1), epochs=1, progress=False,
               distributed="threads")
    annealer = rb.optim.CauchyAnnealer(model.parameters())
    with pytest.raises(ValueError, match="re-evaluates the loss"):
        rb.distributed.ThreadParallel(model, annealer)
    opt = rb.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="adversarial training over threads"):
        rb.fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=1, progress=False,
               adversarial=rb.adversarial.FGSM(0.1), distributed="threads")
    other = net()
    tp = rb.distributed.ThreadParallel(other, rb.optim.SGD(other.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="built on another model"):
        rb.fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=1, progress=False,
               distributed=tp)
    tp.close()


def test_a_convolutional_net_over_threads_equals_one_thread():
    # conv and pooling take scratch arrays from the shared workspace pool on both threads
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 1, 8, 8)), rng.integers(0, 3, 40)

    def conv_net():
        r = np.random.default_rng(2)
        return rb.nn.Sequential(rb.nn.Conv2d(1, 3, 3, rng=r), rb.nn.ReLU(), rb.nn.MaxPool2d(2),
                                rb.nn.Flatten(), rb.nn.Dense(27, 3, rng=r)).astype(np.float64)

    one, threads = trained_both_ways(conv_net, X, y)
    assert np.abs(one - threads).max() < 1e-12


@pytest.mark.parametrize("shuffle", [True, False])
def test_an_autoencoder_over_threads_equals_one_thread(shuffle):
    # y=None: the target is the input; unshuffled batches are slices of X
    X, _ = data(50)
    out = []
    for distributed in (None, "threads"):
        rng = np.random.default_rng(4)
        model = rb.nn.Sequential(rb.nn.Dense(6, 3, rng=rng), rb.nn.Tanh(),
                                 rb.nn.Dense(3, 6, rng=rng)).astype(np.float64)
        opt = rb.optim.SGD(model.parameters(), lr=0.05, momentum=0.5)
        h = rb.fit(model, X, loss="mse", optimizer=opt, epochs=2, batch_size=16,
                   shuffle=shuffle, progress=False, rng=1, distributed=distributed)
        out.append((opt.vec.data.copy(), h["loss"]))
    assert np.abs(out[0][0] - out[1][0]).max() < 1e-12
    assert np.allclose(out[0][1], out[1][1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_recurrent_nets_over_threads_equal_one_thread(kind):
    # float32 recurrent layers take the compiled path: with the fast extra each thread runs
    # its part's whole sequences in one kernel that calls NumPy's BLAS from inside, both at
    # once; the steps agree with one thread's to float32 rounding
    rng = np.random.default_rng(0)
    X = rng.standard_normal((48, 7, 5)).astype(np.float32)
    y = rng.integers(0, 3, 48)

    def recurrent_net():
        r = np.random.default_rng(2)
        return rb.nn.Sequential(getattr(rb.nn, kind)(5, 16, rng=r),
                                rb.nn.SequenceOutputs(last=True), rb.nn.Dense(16, 3, rng=r))

    one, threads = trained_both_ways(recurrent_net, X, y)
    start = rb.nn.ParameterVector(recurrent_net().parameters()).data
    assert np.abs(one - start).max() > 1e-3  # it trained
    assert np.abs(one - threads).max() < 1e-5
