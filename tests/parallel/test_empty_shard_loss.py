"""The documented hand-written DataParallel loop on a batch smaller than the number of ranks:
an empty shard (whose mean loss is NaN) contributes nothing to the batch's loss (audit b2 #7).
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import rosenblatt as rb

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def test_an_empty_shards_nan_loss_packs_as_nothing():
    small = np.zeros(2)
    rb.distributed.DataParallel._pack(None, small, float("nan"), 0.0)  # (self is unused)
    assert small[0] == 0.0
    rb.distributed.DataParallel._pack(None, small, 2.0, 0.25)
    assert small[0] == 0.5


JOB = textwrap.dedent("""
    import json, sys, numpy as np, rosenblatt as rb
    from mpi4py import MPI
    rank = MPI.COMM_WORLD.Get_rank()
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((5, 4)), rng.integers(0, 3, 5)
    rb.seed(0)
    model = rb.nn.Sequential(rb.nn.Dense(4, 8), rb.nn.ReLU(), rb.nn.Dense(8, 3)).astype(np.float64)
    opt = rb.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    dp = rb.distributed.DataParallel(model, opt)
    values, expected = [], []
    for index in (np.arange(4), np.arange(4, 5)):  # the last batch: rank 1's shard is empty
        expected.append(rb.losses.cross_entropy(model(rb.tensor(X[index])), y[index]).item())
        mine, weight = dp.shard(index)
        loss = rb.losses.cross_entropy(model(rb.tensor(X[mine])), y[mine])
        opt.zero_grad()
        loss.backward(np.full(loss.data.shape, weight))
        values.append(dp.step(weight, loss.item(), scaled=True))
    with open(f"{sys.argv[1]}/rank{rank}.json", "w") as f:
        json.dump({"values": values, "expected": expected,
                   "finite": bool(np.isfinite(opt.vec.data).all())}, f)
""")


def test_hand_written_loop_gives_the_batch_loss_with_an_empty_shard(tmp_path):
    if shutil.which("mpirun") is None:
        pytest.skip("mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)")
    pytest.importorskip("mpi4py")
    job = tmp_path / "job.py"
    job.write_text(JOB)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    cmd = ["mpirun", "-n", "2", "--allow-run-as-root", "--oversubscribe", sys.executable,
           str(job), str(tmp_path)]
    try:
        done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("mpirun -n 2: the ranks were still waiting after 120 s (a deadlock)")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for rank in (0, 1):
        report = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert report["finite"]
        # the whole batch's loss on every rank (the first batch's before its step; the
        # last batch's from the weights that one step moved: computed before, on each rank)
        np.testing.assert_allclose(report["values"], report["expected"], rtol=1e-12)
