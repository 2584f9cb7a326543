"""rb.fit(distributed="mpi") agrees with one process and never leaves a rank waiting:
whole-gradient steps (clip_norm, on_backward), clip_value on a sharded step, rank 0's whole
model on every rank, RigL from the whole batch, per-batch logs of the global batch, a stop
taken by every rank, batch norm with an idle rank, ranks given different data.

Each test runs ``mpirun -n N python tests/parallel/scale_jobs.py JOB`` (skipped without
mpirun or mpi4py) with a timeout: a rank left waiting fails the test instead of hanging it.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


TIMEOUT = int(os.environ.get("RB_MPI_TIMEOUT", "120"))  # seconds; then a rank is stuck


def mpirun(n, job, tmp_path, timeout=TIMEOUT):
    if shutil.which("mpirun") is None:
        pytest.skip("mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)")
    pytest.importorskip("mpi4py")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([ROOT, HERE, os.environ.get("PYTHONPATH", "")]))
    cmd = ["mpirun", "-n", str(n), "--allow-run-as-root", "--oversubscribe", sys.executable,
           os.path.join(HERE, "scale_jobs.py"), job, str(tmp_path)]
    try:
        done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"mpirun -n {n} {job}: the ranks were still waiting after {timeout} s "
                    f"(a deadlock): {(e.stdout or b'')[-2000:]!r} {(e.stderr or b'')[-2000:]!r}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(tmp_path / f"{job}.json") as f:
        return json.load(f)


def test_steps_equal_one_process_on_every_rank(tmp_path):
    report = mpirun(2, "steps", tmp_path)
    # clip_norm and callbacks with on_backward step the whole vector: the whole gradient is
    # all-reduced first; clip_value clips this rank's shard alone (no race with the others)
    for name in ("clip_norm", "on_backward", "gradient_monitor", "clip_value_adam",
                 "clip_value_sgd"):
        assert report[name]["ranks"] == 0.0, (name, report[name])
        assert report[name]["vs_one_process"] < 1e-12, (name, report[name])
    # dropout masks and RReLU slopes: one process's draws for each rank's rows
    assert report["dropout"]["ranks"] == 0.0
    assert report["dropout"]["vs_one_process"] < 1e-12
    assert report["dropout"]["layer_rng_back"] is True  # the layers' generators, after fit
    # ranks that built their models differently train rank 0's: masks, frozen weights
    assert report["unequal_start"] == {"mask": 0.0, "frozen": 0.0, "predictions": 0.0}
    # RigL grows the connections of the whole batch's dense gradient, on every rank
    rigl = report["rigl"]
    assert rigl["mask_ranks"] == 0.0 and rigl["weights_ranks"] == 0.0
    assert rigl["mask_vs_one"] == 0.0 and rigl["weights_vs_one"] < 1e-12
    # the documented hand-written loop: backward seeded with the shard's weight
    assert report["hand_loop_bn_vs_one"] < 1e-12


def test_batch_logs_and_stops_are_the_global_batchs(tmp_path):
    report = mpirun(2, "logs", tmp_path)
    assert report["ranks"] == 0.0
    assert report["vs_one_process"] < 1e-12
    assert report["epochs_run"] == [1, 1]  # stopped from the batch loss, on both ranks
    assert report["rank_local_stop_epochs"] == [1, 1]


@pytest.mark.parametrize("ranks", [3, 2])
def test_batch_norm_with_an_idle_rank(tmp_path, ranks):
    report = mpirun(ranks, "bn_idle", tmp_path)
    if ranks == 3:  # 18 examples, batches of 16: the last one cut 1 + 1 + 0
        assert report["errors"] == [None] * 3
        assert report["ranks"] == 0.0
        assert report["vs_one_process"] < 1e-12
    else:  # 17 examples: a last batch of 1 is the one-process error, on every rank,
        # before training (audit a3 F11; it was each shard's batch_norm error, an epoch late)
        assert "more than one value per channel" in report["one_process_error"]
        assert report["errors"] == [report["one_process_error"]] * 2


def test_ranks_given_different_data_say_so(tmp_path):
    report = mpirun(2, "data", tmp_path)
    for case in ("sizes", "values", "validation"):
        first, second = report[case]
        assert first == second and first.startswith("ValueError: fit: distributed='mpi' "
                                                    "needs the whole data set on every rank")
    assert "rank 0 has 64 examples, rank 1 has 48" in report["sizes"][0]
    assert report["same"] == [None, None]
    assert report["agree_none"] == [None, None]
    assert report["agree_value"] == ["ValueError: fit: rank 1 cannot read it"] * 2
    assert report["agree_other"] == ["KeyError: 'k'",
                                     "RuntimeError: rank 0 stopped with KeyError: 'k'"]


def _fit_agrees_before_training():
    """Whether rosenblatt/training/fit.py shares rank 0's Checkpoint verdict (and each rank's
    resume_from) through DataParallel.agree before anything else collective."""
    import importlib

    with open(importlib.import_module("rosenblatt.training.fit").__file__) as f:
        return ".agree(" in f.read()


@pytest.mark.skipif(not _fit_agrees_before_training(),
                    reason="rb.fit does not yet share rank 0's checks through "
                           "DataParallel.agree (without it this job deadlocks)")
def test_an_error_on_one_rank_before_training_is_every_ranks(tmp_path):
    report = mpirun(2, "checkpoint", tmp_path)
    first, second = report["missing_folder"]
    assert first == second and "the folder" in first and "does not exist" in first
    first, second = report["resume_on_rank_0_only"]
    assert first == second and "exists on 1 of the 2 ranks" in first


# -- round 2: set-ups that left a rank waiting, and the state fit leaves behind ------------

@pytest.fixture(scope="module")
def hangs(tmp_path_factory):
    return mpirun(2, "hangs", tmp_path_factory.mktemp("hangs"), timeout=min(TIMEOUT, 60))


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    return mpirun(2, "state", tmp_path_factory.mktemp("state"), timeout=min(TIMEOUT, 60))


def _same_error(pair, start):
    first, second = pair
    assert first == second and first.startswith(start), pair


def test_attention_on_an_idle_rank_trains_as_one_process(hangs):
    # 17 examples, batches of 16: rank 1 runs Attention (and dropout) on 0 rows
    assert hangs["attention_idle"] == [None, None]
    assert hangs["attention_ranks"] == 0.0
    assert hangs["attention_vs_one"] < 1e-12


@pytest.mark.parametrize("which", ["monitor", "checkpoint"])
def test_a_callback_on_rank_0_only_is_one_error(hangs, which):
    _same_error(hangs[f"callback_rank0_{which}"],
                "ValueError: fit: distributed='mpi' needs the same callbacks on every rank")


def test_a_nan_in_one_ranks_data_is_every_ranks_error(hangs):
    _same_error(hangs["nan_one_rank"], "ValueError: fit: X contains 1 NaN")


def test_validation_data_on_some_ranks_only_is_one_error(hangs):
    _same_error(hangs["validation_some"], "ValueError: fit: distributed='mpi' needs the whole")
    assert "validation X: rank 0 has 16 examples, rank 1 none" in hangs["validation_some"][0]


def test_resume_files_of_other_epochs_are_one_error(hangs):
    _same_error(hangs["stale_resume"], "ValueError: fit: resume_from")
    assert "after 2 epochs on rank 0 but after 1 on rank 1" in hangs["stale_resume"][0]


def test_an_error_on_one_rank_mid_training_is_raised_on_every_rank(hangs):
    # rb.fit's DataParallel: the others raise the failing rank's error at their next meeting
    _same_error(hangs["raise_mid_fit"], "ValueError: boom on rank 1")
    assert hangs["raise_mid_fit_sharded"] == [True, True]  # theta back in each process
    # the caller's DataParallel too (fit does not close it, but marks the rank stopped)
    _same_error(hangs["raise_mid_fit_callers_dp"],
                "FloatingPointError: overflow in the layer on rank 0")
    assert hangs["callers_dp_sharded_after"] == [False, False]
    # at an epoch's end (the stop flags' sum), a message longer than the node's text line:
    # cut on the others, whole on rank 1
    assert [e[0] for e in hangs["raise_epoch_end"]] == ["ValueError: epoch end on rank 1: éé"] * 2
    assert hangs["raise_epoch_end"][0][1] is True
    # in a layer before batch norm, whose per-channel sums rank 0 waits in
    _same_error(hangs["raise_before_bn"], "RuntimeError: layer before batch norm on rank 1")


def test_agree_keeps_a_library_errors_class(hangs):
    # the same corrupt resume file on every rank: rb.io.FormatError (a ValueError) on each
    assert hangs["agree_classes"] == ["FormatError", "FormatError"]


def test_fit_that_raised_leaves_the_layers_as_before(state):
    _same_error(state["error"], "ValueError: fit: distributed='mpi' needs the whole")
    assert state["rng_back"] == [True, True]  # Dropout(rng=None) again
    assert state["bn_alone"] == [0.0, 0.0]  # batch norm on this process's batch alone
    assert state["theta_own"] == [True, True]  # theta out of the node's shared window


def test_dropout_follows_rb_seed_made_after_the_data_parallel(state):
    assert state["seed_after_dp_ranks"] == 0.0
    assert state["seed_after_dp_vs_one"] < 1e-12


def test_the_same_data_in_another_memory_layout_is_accepted(state):
    assert state["layout"] == [None, None]  # C order on rank 0, Fortran order on rank 1
