"""Audit s8 (data-parallel training): weighted-mean losses split by their weights, parameters
no gradient reached skipped, boolean-mask batch indices, reproducible functional draws over
threads. The MPI checks run this file under ``mpirun -n 2`` (see :func:`_mpi_job`)."""

import functools
import json
import os
import sys

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.nn.dropout import dropout
from rosenblatt.nn.losses import mean_normaliser

try:  # (a test module under pytest; a plain script under mpirun)
    from .helpers import mpirun
except ImportError:
    from helpers import mpirun

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

IGNORE = functools.partial(rb.losses.cross_entropy, ignore_index=-1)
CLASS_WEIGHT = functools.partial(rb.losses.cross_entropy, weight=np.array([10.0, 1.0, 0.1]))
BOTH = functools.partial(rb.losses.cross_entropy, weight=np.array([2.0, 1.0, 0.5]),
                         ignore_index=-1)


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6))
    y = rng.integers(0, 3, n)
    y[:20] = -1  # padding: all in the first part of the first batch
    return X, y


def _net(seed=1):
    r = np.random.default_rng(seed)
    return rb.nn.Sequential(rb.nn.Dense(6, 8, rng=r), rb.nn.Tanh(),
                            rb.nn.Dense(8, 3, rng=r)).astype(np.float64)


def _fit(distributed, loss, y, X=None, make=_net, optimizer=None, **kwargs):
    X = _data()[0] if X is None else X
    model = make()
    opt = (optimizer or (lambda p: rb.optim.SGD(p, lr=0.1, momentum=0.9)))(model.parameters())
    history = rb.fit(model, X, y, loss=loss, optimizer=opt, progress=False, rng=0,
                     distributed=distributed, metrics=(), **kwargs)
    return model, opt, history


# -- finding 1: weighted means ---------------------------------------------------------------
def test_mean_normaliser_sees_the_weighted_means_only():
    y = np.array([0, 1, -1, 2, -1])
    assert mean_normaliser(rb.losses.cross_entropy) is None
    assert mean_normaliser(rb.losses.mse) is None
    assert mean_normaliser(lambda p, t: IGNORE(p, t)) is None  # a lambda hides its options
    assert mean_normaliser(IGNORE)(y) == 3.0
    assert mean_normaliser(BOTH)(y) == 2.0 + 1.0 + 0.5
    assert mean_normaliser(CLASS_WEIGHT)(np.abs(y)) == 10.0 + 1.0 + 1.0 + 0.1 + 1.0
    assert mean_normaliser(functools.partial(IGNORE, reduction="sum")) is None
    assert mean_normaliser(CLASS_WEIGHT)(np.full((5, 3), 1 / 3)) is None  # probabilities
    # the normaliser is the loss's own denominator
    logits = rb.tensor(np.random.default_rng(0).standard_normal((5, 3)))
    total = float(BOTH(logits, y, reduction="sum").item()) / mean_normaliser(BOTH)(y)
    assert float(BOTH(logits, y).item()) == pytest.approx(total, rel=1e-14)


@pytest.mark.parametrize("loss", [IGNORE, CLASS_WEIGHT, BOTH])
@pytest.mark.parametrize("batch_size", [64, 24])
def test_threads_follow_one_thread_with_a_weighted_mean_loss(loss, batch_size):
    _, y = _data()
    y = np.abs(y) % 3 if loss is CLASS_WEIGHT else y
    one = _fit(None, loss, y, epochs=2, batch_size=batch_size, shuffle=False)
    two = _fit("threads", loss, y, epochs=2, batch_size=batch_size, shuffle=False)
    assert np.abs(one[1].vec.data - two[1].vec.data).max() < 1e-12
    np.testing.assert_allclose(two[2]["loss"], one[2]["loss"], rtol=0, atol=1e-12)


def test_threads_part_whose_labels_are_all_ignored_adds_nothing():
    # batch 0: the first 20 labels ignored; with 4 threads part 0 (16 rows) counts nothing
    X, y = _data()
    for kwargs in ({}, {"regularizers": [rb.regularizers.L2(1e-2)]}):
        one = _fit(None, IGNORE, y, epochs=1, batch_size=64, shuffle=False, **kwargs)
        tp = lambda m, o: rb.distributed.ThreadParallel(m, o, threads=4)  # noqa: E731
        model = _net()
        opt = rb.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        h = rb.fit(model, X, y, loss=IGNORE, optimizer=opt, epochs=1, batch_size=64,
                   shuffle=False, progress=False, rng=0, metrics=(),
                   distributed=tp(model, opt), **kwargs)
        assert np.all(np.isfinite(opt.vec.data))
        assert np.abs(one[1].vec.data - opt.vec.data).max() < 1e-12
        assert h["loss"][0] == pytest.approx(one[2]["loss"][0], abs=1e-12)


# -- finding 2: a parameter no gradient reached ------------------------------------------------
class _Unused(rb.nn.Module):
    def __init__(self, seed=1):
        super().__init__()
        r = np.random.default_rng(seed)
        self.a = rb.nn.Dense(6, 3, rng=r)
        self.b = rb.nn.Dense(6, 3, rng=r)  # never used in forward

    def forward(self, x):
        return self.a(x)


@pytest.mark.parametrize("optimizer", [
    lambda p: rb.optim.Adam(p, lr=0.01, weight_decay=0.1),
    lambda p: rb.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1)])
def test_threads_skip_a_parameter_no_gradient_reached(optimizer):
    X, y = _data()
    y = np.abs(y) % 3
    make = lambda: _Unused().astype(np.float64)  # noqa: E731
    before = make().b.W.data.copy()
    one = _fit(None, "cross_entropy", y, make=make, optimizer=optimizer, epochs=2,
               batch_size=16)
    two = _fit("threads", "cross_entropy", y, make=make, optimizer=optimizer, epochs=2,
               batch_size=16)
    assert np.array_equal(two[0].b.W.data, before)
    assert np.abs(one[1].vec.data - two[1].vec.data).max() < 1e-12


def test_thread_reduce_keeps_grad_none_only_where_no_part_reached():
    model = _Unused().astype(np.float64)
    opt = rb.optim.SGD(model.parameters(), lr=0.1)
    tp = rb.distributed.ThreadParallel(model, opt, threads=2)
    X, y = _data(8)
    y = np.abs(y) % 3
    tp.backward(lambda m, i: rb.losses.cross_entropy(m(rb.tensor(X[i])), y[i]), np.arange(8))
    assert model.b.W.grad is None and model.a.W.grad is not None
    tp.close()


# -- finding 7: a boolean mask as the batch index ----------------------------------------------
def test_thread_parallel_takes_a_boolean_mask_as_the_examples_it_selects():
    X, y = _data()
    y = np.abs(y) % 3
    mask = np.zeros(64, dtype=bool)
    mask[::3] = True
    model = _net()
    opt = rb.optim.SGD(model.parameters(), lr=0.1)
    tp = rb.distributed.ThreadParallel(model, opt, threads=2)
    parts = tp.shards(mask)
    assert np.array_equal(np.concatenate([p for p, _ in parts]), np.flatnonzero(mask))
    loss = tp.backward(lambda m, i: rb.losses.cross_entropy(m(rb.tensor(X[i])), y[i]), mask)
    ref = _net()
    expected = rb.losses.cross_entropy(ref(rb.tensor(X[mask])), y[mask])
    expected.backward()
    assert loss == pytest.approx(float(expected.item()), abs=1e-12)
    np.testing.assert_allclose(opt.vec.grad, rb.optim.SGD(ref.parameters(), lr=0.1).vec.grad,
                               atol=1e-12)
    with pytest.raises(ValueError, match="boolean mask .* one entry per example"):
        tp.shards(mask[:10], n=64)
    with pytest.raises(TypeError, match="integer index array or a boolean mask"):
        tp.shards(np.array([0.0, 1.0]))
    tp.close()


# -- finding 3: other library-generator draws over threads -------------------------------------
class _FunctionalDropout(rb.nn.Module):
    def __init__(self, seed=1):
        super().__init__()
        r = np.random.default_rng(seed)
        self.a = rb.nn.Dense(6, 32, rng=r)
        self.b = rb.nn.Dense(32, 3, rng=r)

    def forward(self, x):
        return self.b(dropout(self.a(x), 0.5, training=self.training))


def test_threads_with_functional_dropout_are_reproducible():
    X, y = _data(128)
    y = np.abs(y) % 3
    out = []
    for _ in range(2):
        rb.seed(2)
        model, opt, _ = _fit("threads", "cross_entropy", y, X=X,
                             make=lambda: _FunctionalDropout().astype(np.float64), epochs=2,
                             batch_size=32)
        out.append(opt.vec.data.copy())
    assert np.array_equal(out[0], out[1])


def test_thread_parts_draw_different_numbers_and_leave_the_library_stream():
    model = _net()
    opt = rb.optim.SGD(model.parameters(), lr=0.1)
    tp = rb.distributed.ThreadParallel(model, opt, threads=2)
    rb.seed(5)
    state = rb.randomness.generator().bit_generator.state
    drawn = tp.run(lambda m, part, w: rb.randomness.generator().random(4), 8)
    drawn2 = tp.run(lambda m, part, w: rb.randomness.generator().random(4), 8)
    assert rb.randomness.generator().bit_generator.state == state  # nothing drawn from it
    assert not np.array_equal(drawn[0], drawn[1])  # the parts differ
    assert not np.array_equal(drawn[0], drawn2[0])  # and the runs
    tp.close()


# -- over MPI: mpirun -n 2 runs this file ------------------------------------------------------
def test_two_ranks_weighted_loss_unused_parameter_and_boolean_mask(tmp_path):
    report = mpirun(2, ["-m", "mpi4py", os.path.abspath(__file__)], str(tmp_path))
    for key in ("ignore_index", "class_weight", "ignore_index_unsharded",
                "unused_adam_wd", "unused_adam_wd_unsharded"):
        assert report[key] < 1e-12, (key, report[key])
    assert report["unused_moved"] == 0.0
    assert report["mask_rows"] == [list(range(0, 32, 2)), list(range(32, 64, 2))]


def _mpi_job(out):
    """Rank 0 writes max |one process - two ranks| of each case to OUT/report.json."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    X, y = _data()
    report = {}

    def both(name, loss, yy, make=_net, optimizer=None, shard="auto"):
        one = None
        if comm.Get_rank() == 0:  # one process: rank 0 alone, no communicator
            one = _fit(None, loss, yy, make=make, optimizer=optimizer, epochs=2,
                       batch_size=24, shuffle=False)[1].vec.data.copy()
        model = make()
        opt = (optimizer or (lambda p: rb.optim.SGD(p, lr=0.1, momentum=0.9)))(
            model.parameters())
        dp = rb.distributed.DataParallel(model, opt, shard=shard)
        rb.fit(model, X, yy, loss=loss, optimizer=opt, epochs=2, batch_size=24, shuffle=False,
               progress=False, rng=0, distributed=dp, metrics=())
        dp.sync_state()
        if comm.Get_rank() == 0:
            report[name] = float(np.abs(one - opt.vec.data).max())
        return model

    both("ignore_index", IGNORE, y)
    both("ignore_index_unsharded", IGNORE, y, shard=False)
    both("class_weight", CLASS_WEIGHT, np.abs(y) % 3)
    adam = lambda p: rb.optim.Adam(p, lr=0.01, weight_decay=0.1)  # noqa: E731
    make = lambda: _Unused().astype(np.float64)  # noqa: E731
    model = both("unused_adam_wd", "cross_entropy", np.abs(y) % 3, make=make, optimizer=adam)
    report["unused_moved"] = float(np.abs(model.b.W.data - make().b.W.data).max())
    both("unused_adam_wd_unsharded", "cross_entropy", np.abs(y) % 3, make=make,
         optimizer=adam, shard=False)
    model = _net()
    dp = rb.distributed.DataParallel(model, rb.optim.SGD(model.parameters(), lr=0.1))
    mask = np.zeros(64, dtype=bool)
    mask[::2] = True
    mine, _ = dp.shard(mask, 64)
    rows = comm.gather([int(i) for i in mine], root=0)
    if comm.Get_rank() == 0:
        report["mask_rows"] = rows
        with open(os.path.join(out, "report.json"), "w") as f:
            json.dump(report, f)


if __name__ == "__main__":
    _mpi_job(sys.argv[1])
