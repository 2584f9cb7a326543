"""Data-parallel training over MPI: rb.fit(..., distributed="mpi") and rb.distributed.

The MPI runs start ``mpirun -n 2`` in a subprocess (tests/training/mpi_jobs.py)
and check the report rank 0 writes; they are skipped without mpirun or mpi4py.
"""

import os
import sys

import numpy as np
import pytest

import rosenblatt as rb

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

try:  # (a test module under pytest; a plain script under mpirun)
    from .helpers import mpirun
except ImportError:
    from helpers import mpirun


def test_two_ranks_train_like_one_process(tmp_path):
    report = mpirun(2, ["-m", "mpi4py", os.path.join(HERE, "mpi_jobs.py"), "fit"],
                    str(tmp_path))
    assert report["size"] == 2
    # identical on every rank after every step (15 steps, one with rank 1 idle), batch norm too
    assert report["steps_checked"] == 15
    assert report["ranks_max_difference"] == 0.0
    assert report["bn_ranks_max_difference"] == 0.0
    # batch norm over the global batch: the same weights, running statistics and losses as
    # one process (each rank once normalised with its own shard's statistics: 3e-2 apart).
    # To 1e-9, not 1e-12: the first layer's bias feeds batch norm, which removes it, so its
    # gradient is 0 up to rounding (~1e-17) and Adam's step g / (|g| + eps) lifts that
    # rounding to ~1e-10 (with SGD the runs agree to 2e-16)
    assert report["bn_vs_one_process"] < 1e-9
    assert report["bn_plain_vs_one_process"] < 1e-9
    assert report["bn_loss_history_difference"] < 1e-12
    # the same weights and losses as one process with the same global batch (float64)
    assert report["vs_one_process"] < 1e-12
    assert report["loss_history_difference"] < 1e-12
    assert report["float32_vs_one_process"] < 1e-5  # float32: to rounding
    assert report["poll_vs_block"] == 0.0  # DataParallel(wait="poll"): the same steps
    # one node: each rank steps its shard of the vector and all-gathers the weights; the
    # same weights and optimizer state as one Allreduce and a whole step on every rank
    assert report["sharded"] is True
    assert report["plain_vs_sharded"] < 1e-12
    assert report["plain_velocity_vs_sharded"] < 1e-12
    assert report["state_ranks_max_difference"] == 0.0
    # a divergence within the first epoch: the weights of the lowest batch loss so far, the
    # same on every rank
    # and as in one process
    assert report["diverged_at"] is not None and report["diverged_at"] > 0
    assert report["diverged_at"] == report["diverged_at_one_process"]
    assert report["diverged_ranks_max_difference"] == 0.0
    assert report["diverged_vs_one_process"] < 1e-9
    assert report["timed_steps"] == 15  # DataParallel.timers counted every Allreduce
    # one Allreduce per step: the 147 gradient values, then the loss and a flag per parameter
    # tensor (4: whether a gradient reached it on the rank), in float64
    assert report["message_bytes"] == (report["weights"] + 1 + 4) * 8
    # rank 0 alone writes the checkpoint; it resumes on two ranks or one process
    assert report["rank1_checkpoint_written"] is False
    assert report["resume_2_ranks_vs_straight"] < 1e-12
    assert report["resume_1_process_vs_straight"] < 1e-12
    # a NaN in either rank's block of rows: every rank raises the one-process error
    for row, messages in zip((3, 60), report["nan_errors"]):
        assert messages[0] == messages[1]
        assert f"contains 1 NaN or infinite values (the first at index ({row}, 2))" in messages[0]
    # `mpirun -n 2 rosenblatt train config.toml`: both ranks succeed, rank 0 wrote the outputs
    assert report["cli_codes"] == [0, 0]
    assert (tmp_path / "cli" / "model.safetensors").exists()


def _setup():
    net = rb.nn.Sequential(rb.nn.Dense(2, 3), rb.nn.Tanh(), rb.nn.Dense(3, 2))
    return net, rb.optim.SGD(net.parameters(), lr=0.1)


def test_outside_mpirun_is_a_clear_error(monkeypatch):
    for name in rb.distributed._LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    net, opt = _setup()
    X, y = np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1])
    with pytest.raises(RuntimeError, match="mpirun -n 2"):
        rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=1, distributed="mpi")


def test_without_mpi4py_says_what_to_install(monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    net, opt = _setup()
    with pytest.raises(ImportError, match=r"rosenblatt\[mpi\]"):
        rb.distributed.DataParallel(net, opt)


def test_bad_distributed_arguments():
    net, opt = _setup()
    X, y = np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="distributed must be None, 'mpi'"):
        rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=1, distributed="nccl")
    annealer = rb.optim.CauchyAnnealer(net.parameters()) if hasattr(
        rb.optim, "CauchyAnnealer") else None
    if annealer is not None:
        with pytest.raises(ValueError, match="gradient optimizer"):
            rb.fit(net, X, y, loss="cross_entropy", optimizer=annealer, epochs=1,
                   distributed="mpi")
    with pytest.raises(TypeError, match="gradient optimizer"):
        rb.distributed.DataParallel(net, object())
    with pytest.raises(ValueError, match="wait must be .block. or .poll."):
        rb.distributed.DataParallel(net, opt, comm=object(), wait="spin")
    with pytest.raises(ValueError, match="spin"):
        rb.distributed.DataParallel(net, opt, comm=object(), wait="poll", spin=-1.0)
    with pytest.raises(ValueError, match="shard must be 'auto', True or False"):
        rb.distributed.DataParallel(net, opt, comm=object(), shard="yes")
