"""Run a job script under ``mpirun -n N`` for a test (skipped without mpirun or mpi4py), with
a timeout: ranks left waiting fail the test instead of hanging it."""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_mpi_script(text, tmp_path, n=2, timeout=120):
    """Write ``text`` to ``tmp_path/job.py`` and run it on ``n`` ranks with ``tmp_path`` as
    its argument; fails the test on a non-zero exit or a timeout."""
    if shutil.which("mpirun") is None:
        pytest.skip("mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)")
    pytest.importorskip("mpi4py")
    job = tmp_path / "job.py"
    job.write_text(text)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    cmd = ["mpirun", "-n", str(n), "--allow-run-as-root", "--oversubscribe", sys.executable,
           str(job), str(tmp_path)]
    try:
        done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"mpirun -n {n}: the ranks were still waiting after {timeout} s "
                    f"(a deadlock)")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
