"""Audit s11/h4 of the scale-out code (executors, data-parallel training): each test failed
before its fix (the report's finding number)."""

import numpy as np
import pytest

import rosenblatt as rb

from .mpi_script import run_mpi_script

nn = rb.nn


def _dropout_fit(X, y, path, epochs, resume, comm):
    """A float64 MLP with a Dropout(rng=None) layer (the CLI's Dropout), fitted with a
    checkpoint; over ``comm`` (a DataParallel) or in one process; returns theta."""
    rb.seed(0)
    model = nn.Sequential(nn.Dense(5, 8), nn.ReLU(), nn.Dropout(0.3),
                          nn.Dense(8, 3)).astype(np.float64)
    opt = rb.optim.SGD(model.parameters(), lr=0.1)
    dist = None if comm is None else rb.distributed.DataParallel(model, opt, comm=comm)
    try:
        rb.fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=epochs, batch_size=8,
               rng=1, progress=False, distributed=dist,
               callbacks=[rb.callbacks.Checkpoint(str(path))],
               resume_from=str(path) if resume else None)
    finally:
        if dist is not None:
            dist.close()
    return np.concatenate([p.data.ravel() for p in model.parameters()])


# -- 1: a checkpoint of a model with Dropout(rng=None) resumes over MPI and in one process -----
@pytest.mark.parametrize("written, resumed", [("one", "mpi"), ("mpi", "one")])
def test_a_dropout_models_checkpoint_resumes_over_mpi_and_in_one_process(written, resumed,
                                                                         tmp_path):
    MPI = pytest.importorskip("mpi4py.MPI")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(24, 5)), rng.integers(0, 3, 24)
    straight = _dropout_fit(X, y, tmp_path / "straight.st", 4, False, None)
    path = tmp_path / "ck.st"
    comm = {"one": None, "mpi": MPI.COMM_SELF}  # one rank: the layers hooked as on every rank
    _dropout_fit(X, y, path, 2, False, comm[written])
    theta = _dropout_fit(X, y, path, 4, True, comm[resumed])
    np.testing.assert_array_equal(theta, straight)


# -- 4: a float16 model over an MPI library without float16 is a clear error -------------------
def test_a_float16_model_over_an_mpi_without_float16_is_a_clear_error():
    MPI = pytest.importorskip("mpi4py.MPI")
    from rosenblatt.training.distributed import _mpi_sums

    if _mpi_sums(MPI, np.float16):
        pytest.skip("this MPI library sums float16 arrays")
    model = nn.Sequential(nn.Dense(5, 4, rng=0), nn.Tanh(), nn.Dense(4, 3, rng=1))
    model.astype(np.float16)
    opt = rb.optim.Adam(model.parameters(), lr=0.01)
    with pytest.raises(TypeError, match=r"cannot send or sum float16 arrays.*float32"):
        rb.distributed.DataParallel(model, opt, comm=MPI.COMM_SELF)
    assert _mpi_sums(MPI, np.float32) and _mpi_sums(MPI, np.float64)


# -- 7: map_chunks checks chunks serially too ---------------------------------------------------
@pytest.mark.parametrize("chunks", [0, -3, True, 2.5])
def test_map_chunks_refuses_a_bad_chunks_without_an_executor_too(chunks):
    with pytest.raises(ValueError, match="chunks must be a positive integer"):
        rb.parallel.map_chunks(abs, [1, -2, 3], None, chunks=chunks)
    assert rb.parallel.map_chunks(abs, [1, -2, 3], None, chunks=5) == [1, 2, 3]


# -- 8: ranks given other fit settings get one clear error instead of waiting forever -------------
_SETTINGS_JOB = """
import sys
import numpy as np
import rosenblatt as rb
from mpi4py import MPI

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
rng = np.random.default_rng(0)
X, y = rng.normal(size=(16, 3)), rng.integers(0, 2, 16)
model = rb.nn.Sequential(rb.nn.Dense(3, 2, rng=0)).astype(np.float64)
dp = rb.distributed.DataParallel(model, rb.optim.SGD(model.parameters(), lr=0.1), comm=comm)
same = {"batch_size": 8, "epochs": 2, "shuffle": True, "clip_norm": None}
dp.check_data(X, y, settings=same)  # equal (None included): nothing raised
for name, other in (("batch_size", 16), ("epochs", 3), ("shuffle", False), ("clip_norm", 1.0)):
    mine = dict(same, **({name: other} if rank == 1 else {}))
    try:
        dp.check_data(X, y, settings=mine)
    except ValueError as e:
        assert f"needs the same {name} on every rank" in str(e), str(e)
        assert "rank 0: " in str(e) and "rank 1: " in str(e), str(e)
    else:
        raise AssertionError(f"{name}: no error on rank {rank}")
dp.close()
"""


def test_check_data_refuses_settings_that_differ_between_ranks(tmp_path):
    run_mpi_script(_SETTINGS_JOB, tmp_path, n=2, timeout=120)


def test_fit_on_ranks_with_other_batch_sizes_is_one_error(tmp_path):
    job = """
import numpy as np
import rosenblatt as rb

rank = rb.distributed.world().Get_rank()
rng = np.random.default_rng(0)
X, y = rng.normal(size=(32, 3)), rng.integers(0, 2, 32)
model = rb.nn.Sequential(rb.nn.Dense(3, 2, rng=0)).astype(np.float64)
try:
    rb.fit(model, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(model.parameters(), lr=0.1),
           epochs=2, batch_size=8 if rank == 0 else 16, progress=False, distributed="mpi")
except ValueError as e:
    assert "needs the same batch_size on every rank" in str(e), str(e)
else:
    raise AssertionError("no error")
"""
    run_mpi_script(job, tmp_path, n=2, timeout=30)
