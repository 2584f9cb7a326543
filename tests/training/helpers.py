"""What the training tests share: a step counter, rb.fit with small defaults, and the
``mpirun -n N`` launcher of the MPI tests."""

import json
import os
import shutil
import subprocess
import sys

import pytest

import rosenblatt as rb

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class Steps(rb.callbacks.Callback):
    """Counts the training steps taken (an error before training leaves 0)."""

    def __init__(self):
        self.steps = 0

    def on_batch_end(self, trainer, batch, logs):
        self.steps += 1


def small_fit(net, X, y, **kw):
    """``rb.fit`` with cross-entropy, SGD(lr=0.1), one epoch of batches of 8, no progress bar
    and rng 0 unless ``kw`` says otherwise."""
    kw.setdefault("loss", "cross_entropy")
    if "optimizer" not in kw:
        kw["optimizer"] = rb.optim.SGD(net.parameters(), lr=0.1)
    kw.setdefault("epochs", 1)
    kw.setdefault("batch_size", 8)
    kw.setdefault("progress", False)
    kw.setdefault("rng", 0)
    return rb.fit(net, X, y, **kw)


def mpirun(n, args, out, timeout=240):
    """Run ``python ARGS OUT`` on ``n`` ranks (e.g. ``["-m", "mpi4py", file]``) and return the
    ``OUT/report.json`` that rank 0 wrote; skipped without mpirun or mpi4py. Root may run
    it (Open MPI's allow-run-as-root), one BLAS thread a rank."""
    if shutil.which("mpirun") is None:
        pytest.skip("mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)")
    pytest.importorskip("mpi4py")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([ROOT, HERE, os.environ.get("PYTHONPATH", "")]))
    cmd = ["mpirun", "-n", str(n), "--allow-run-as-root", "--oversubscribe", sys.executable,
           *args, out]
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(os.path.join(out, "report.json")) as f:
        return json.load(f)
