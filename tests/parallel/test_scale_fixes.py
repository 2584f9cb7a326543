"""Scaling out without surprises: NSGA-II's executor path, pickling errors named by their
owner, the CLI's empty ``--scheduler``, and ``rb.fit(distributed="threads")`` with
regularizers that add no penalty or a RigL ``Rewire``."""

import argparse
import concurrent.futures
import os
import sys

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.cli.errors import CLIError
from rosenblatt.cli.executors import executor_for

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # worker processes import the helpers by this name
    sys.path.insert(0, HERE)
import scale_jobs as jobs  # noqa: E402


class _Counting(concurrent.futures.ThreadPoolExecutor):
    """A thread pool that counts the tasks it is given."""

    def __init__(self, n):
        super().__init__(n)
        self.tasks = 0

    def submit(self, fn, *args, **kwargs):
        self.tasks += 1
        return super().submit(fn, *args, **kwargs)


def _nsga2(executor, objectives=jobs.zdt1_rows, population=12):
    zdt = rb.evolution.problems.ZDT1(6)
    return rb.evolution.NSGA2(2, population=population, rng=0).run(
        objectives, 6, zdt.bounds, 1, executor=executor)


def test_nsga2_executor_errors_name_nsga2():
    pool = rb.parallel.local(1)
    pool.shutdown()
    with pytest.raises(rb.parallel.ExecutorShutdownError, match="NSGA2: the executor"):
        _nsga2(pool)
    with pytest.raises(TypeError, match="NSGA2: executor must be a concurrent.futures.Executor"):
        _nsga2("pool")


def test_nsga2_cuts_a_round_for_the_executors_workers():
    serial = _nsga2(None, population=64)
    with _Counting(8) as ex:
        result = _nsga2(ex, population=64)
    # two evaluations of 64 (the first population, one generation of children), each cut
    # into four tasks per worker of the executor (not per core of this machine)
    assert ex.tasks == 2 * 32
    np.testing.assert_array_equal(result.F, serial.F)  # the same front as a serial run
    np.testing.assert_array_equal(result.X, serial.X)


def _local_fitness():
    return lambda g: 1.0


def test_a_lambda_sent_to_a_process_pool_names_the_owner():
    def nested(rows):
        return np.asarray(rows)[:, :2]

    with rb.parallel.local(1) as pool:
        with pytest.raises(TypeError, match=r"NEAT: the function '.*<lambda>' cannot be sent "
                                            r"to the executor's workers.*module-level"):
            rb.evolution.NEAT(2, 1, rng=0).run(_local_fitness(), 1, executor=pool)
        with pytest.raises(TypeError, match=r"NSGA2: .*nested.* module-level function"):
            _nsga2(pool, objectives=nested)
        # a callable without an importable name hidden in an argument, found when it fails
        with pytest.raises(TypeError, match=r"parallel: .*cannot be sent to the executor"):
            rb.parallel.map_chunks(abs, [1, 2, lambda: 0], pool)
        assert rb.parallel.map_chunks(abs, [-1, 2], pool) == [1, 2]  # the pool still works


@pytest.mark.parametrize("workers", [None, 2])
def test_an_empty_scheduler_address_is_an_error(workers):
    args = argparse.Namespace(workers=workers, scheduler="", scheduler_timeout=1.0)
    with pytest.raises(CLIError, match=r"--scheduler needs an address such as "
                                       r"tcp://host:8786; got ''"):
        with executor_for(args, "evolve"):
            pass


@pytest.mark.parametrize("reg", [lambda: rb.nn.regularizers.InputNoise(0.1),
                                 lambda: rb.nn.regularizers.MaxNorm(1.0)])
def test_threads_with_a_regularizer_that_adds_no_penalty(reg):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 5)), None
    y = (X[:, 0] > 0).astype(int)
    weights = []
    for dist in (None, "threads"):
        rb.seed(3)
        m = rb.nn.Sequential(rb.nn.Dense(5, 8), rb.nn.Tanh(), rb.nn.Dense(8, 2)).astype(np.float64)
        opt = rb.optim.SGD(m.parameters(), lr=0.1)
        rb.fit(m, X, y, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=16,
               progress=False, regularizers=[reg()], distributed=dist,
               rng=np.random.default_rng(1))
        weights.append(opt.vec.data.copy())
    np.testing.assert_allclose(weights[1], weights[0], rtol=0, atol=1e-12)


def test_threads_rigl_ranks_connections_by_the_whole_batch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 6))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)

    def run(dist):
        rb.seed(0)
        m = rb.nn.Sequential(rb.nn.SparseDense(6, 16, density=0.3, rng=0, dtype=np.float64),
                             rb.nn.Tanh(), rb.nn.Dense(16, 2, rng=0).astype(np.float64))
        opt = rb.optim.SGD(m.parameters(), lr=0.1)
        rb.fit(m, X, y, loss="cross_entropy", optimizer=opt, epochs=3, batch_size=16,
               progress=False, rng=np.random.default_rng(1), distributed=dist,
               callbacks=[rb.callbacks.Rewire("rigl", fraction=0.3, every=2, rng=0)])
        return m[0].mask.copy(), opt.vec.data.copy()

    (mask_t, w_t), (mask_1, w_1) = run("threads"), run(None)
    np.testing.assert_array_equal(mask_t, mask_1)
    np.testing.assert_allclose(w_t, w_1, rtol=0, atol=1e-12)


# -- data-parallel pieces that need no second rank ------------------------------------------

def test_data_checksum_is_layout_independent_and_bounded():
    from rosenblatt.training.distributed import _checksum

    g = np.random.default_rng(0)
    for shape in [(300, 15, 19), (64, 3, 8, 8), (50, 7)]:
        X = g.normal(size=shape) * 1e3
        assert _checksum(np.asfortranarray(X)) == _checksum(X)
        assert _checksum(X[::-1]) != _checksum(X)  # the rows in another order
    # a sample of at most 128 rows x 128 values: a (2048, 3, 64, 64) array reads 16K of 25M
    big = np.lib.stride_tricks.as_strided(np.ones(1, np.float32), (2048, 3, 64, 64),
                                          (0, 0, 0, 0))
    n = 128 * 128
    assert _checksum(big) == pytest.approx(n + (n - 1) / 2)  # sum of 1 + i / n


def test_agree_maps_an_error_to_the_nearest_class_it_knows():
    from rosenblatt.io.errors import FormatError
    from rosenblatt.training.distributed import _shared_error_class
    from rosenblatt.training.trainer import DivergenceError

    def names(kind):
        return [f"{k.__module__}.{k.__qualname__}" for k in kind.__mro__]

    class OtherPackagesError(ValueError):
        pass

    assert _shared_error_class(names(FormatError)) is FormatError
    assert _shared_error_class(names(DivergenceError)) is DivergenceError
    assert _shared_error_class(names(OtherPackagesError)) is ValueError
    OtherPackagesError.__name__ = OtherPackagesError.__qualname__ = "FormatError"
    assert _shared_error_class(names(OtherPackagesError)) is ValueError  # not rosenblatt's
    assert _shared_error_class(names(KeyError)) is None  # RuntimeError naming it (documented)


def test_dropout_under_a_data_parallel_follows_a_later_rb_seed():
    MPI = pytest.importorskip("mpi4py.MPI")
    m = rb.nn.Sequential(rb.nn.Dense(4, 6, rng=0), rb.nn.Dropout(0.5)).astype(np.float64)
    dp = rb.distributed.DataParallel(m, rb.optim.SGD(m.parameters(), lr=0.1),
                                     comm=MPI.COMM_SELF)
    m.train()
    x = rb.tensor(np.ones((8, 4)))
    rb.seed(42)
    a = m(x).data
    rb.seed(42)
    b = m(x).data
    dp.close()
    rb.seed(42)
    assert (a == b).all() and (m(x).data == a).all()


def test_profile_rank_alone_runs():
    pytest.importorskip("mpi4py")
    pytest.importorskip("threadpoolctl")
    from benchmarks.workloads.scale import rank_alone

    out = rank_alone(256, 1)  # rank 0 of 2 posing alone: check_data must not see "rank 1"
    assert out["p50"]["rank"] > 0


def test_a_layer_that_marks_its_batch_draws_keeps_weight_draws_its_own():
    # a shard of 8 rows of a global batch of 16, and a weight with 8 rows (DropConnect): only
    # the draw the layer marks as over the batch is drawn for the global batch
    MPI = pytest.importorskip("mpi4py.MPI")
    m = rb.nn.Sequential(rb.nn.Dense(3, 3, rng=0), rb.nn.Dropout(0.5, rng=21))
    dp = rb.distributed.DataParallel(m, rb.optim.SGD(m.parameters(), lr=0.1),
                                     comm=MPI.COMM_SELF)
    g, dp._rows = m[1].rng, (16, 8, 16)
    plain = np.random.default_rng(21)
    assert (g.random((8, 3)) == plain.random((16, 3))[8:]).all()  # unmarked: by shape
    weight = rb.nn.Parameter(np.ones((8, 3)))
    with g.per_example(weight):
        assert (g.random((8, 3)) == plain.random((8, 3))).all()  # a weight: its own draw
    assert (g.random((8, 3)) == plain.random((8, 3))).all()  # marking layer: unmarked passes
    with g.per_example(rb.tensor(np.ones((8, 3)))):
        assert (g.random((8, 3)) == plain.random((16, 3))[8:]).all()  # the batch: global
    dp.close()
