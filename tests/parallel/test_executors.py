"""One executor protocol: serial, rb.parallel.local, Dask and MPI give the same results.

A NEAT population (per-genome and vectorised fitness) and a Bayesian-optimisation
study run serially, through ``rb.parallel.local(2)``, through a real Dask
``LocalCluster`` (two worker processes on 127.0.0.1, one thread each) and through
``mpi4py.futures.MPIPoolExecutor`` under ``mpirun``; a Dask worker killed mid-run
loses and duplicates nothing.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

import rosenblatt as rb

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
if HERE not in sys.path:  # workers (spawned, Dask, MPI) import the helpers by this name
    sys.path.insert(0, HERE)
import executor_jobs as jobs  # noqa: E402


@pytest.fixture(scope="module")
def serial():
    return {"neat": jobs.run_neat(), "study": jobs.run_study(),
            "neat_vectorized": jobs.run_neat(fitness=jobs.xor_population, vectorized=True)}


def _same(a, b):
    return json.loads(json.dumps(a)) == json.loads(json.dumps(b))


def test_local_pool_gives_the_serial_results(serial):
    with rb.parallel.local(2) as pool:
        assert rb.parallel.workers(pool) == 2
        assert _same(jobs.run_neat(pool), serial["neat"])
        assert _same(jobs.run_neat(pool, jobs.xor_population, vectorized=True),
                     serial["neat_vectorized"])
        assert _same(jobs.run_study(pool), serial["study"])


def test_shut_down_executor_is_a_clear_error():
    pool = rb.parallel.local(1)
    pool.shutdown()
    with pytest.raises(rb.parallel.ExecutorShutdownError, match="shut down.*rb.parallel.local"):
        jobs.run_neat(pool)
    with pytest.raises(rb.parallel.ExecutorShutdownError, match="shut down"):
        jobs.run_study(pool)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_workers must be a positive integer"):
        rb.parallel.local(0)
    with pytest.raises(TypeError, match="executor must be a concurrent.futures.Executor"):
        rb.parallel.map_chunks(abs, [1], object())


def test_unanswered_scheduler_fails_fast():
    pytest.importorskip("distributed")
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match="no Dask scheduler answered at tcp://127.0.0.1:9"):
        rb.parallel.dask_executor("tcp://127.0.0.1:9", timeout=1)
    assert time.perf_counter() - start < 30  # the timeout holds (generous: a loaded machine)
    # something listens there but never speaks Dask's protocol (an HTTP server, a dead peer)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    start = time.perf_counter()
    try:
        with pytest.raises(ConnectionError, match="no Dask scheduler answered"):
            rb.parallel.dask_executor(f"tcp://127.0.0.1:{silent.getsockname()[1]}", timeout=1)
    finally:
        silent.close()
    assert time.perf_counter() - start < 30


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=":0",
                                       worker_dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_gives_the_serial_results(dask_client, serial):
    executor = dask_client.get_executor()
    assert rb.parallel.workers(executor) == 2
    assert _same(jobs.run_neat(executor), serial["neat"])
    assert _same(jobs.run_neat(executor, jobs.xor_population, vectorized=True),
                 serial["neat_vectorized"])
    assert _same(jobs.run_study(executor), serial["study"])
    executor.shutdown()
    with pytest.raises(rb.parallel.ExecutorShutdownError, match="shut down"):
        jobs.run_neat(executor)


def test_closed_dask_client_is_a_clear_error(dask_client):
    """Dask's ClosedClientError is no RuntimeError: it is still the library's error."""
    distributed = pytest.importorskip("distributed")
    client = distributed.Client(dask_client.scheduler.address, set_as_default=False)
    executor = client.get_executor()
    client.close()
    with pytest.raises(rb.parallel.ExecutorShutdownError, match="Client is closed.*Dask client "
                       "was closed"):
        rb.parallel.map_chunks(abs, [-1, 2, -3], executor)
    with pytest.raises(rb.parallel.ExecutorShutdownError, match="minimize: .*Client is closed"):
        jobs.run_study(executor)
    with pytest.raises(rb.parallel.ExecutorShutdownError, match="NEAT: .*Client is closed"):
        jobs.run_neat(executor)


def test_dask_round_is_one_message_each_way(dask_client, monkeypatch):
    """A round of chunks is one ``client.map`` (with the executor's settings); its futures
    are released only after the next round is submitted."""
    executor = dask_client.get_executor(pure=False)
    calls = {"map": 0}
    def counting(name):
        real = getattr(dask_client, name)

        def counted(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)
        return counted

    for name in calls:
        monkeypatch.setattr(dask_client, name, counting(name))
    items = [-1, 2, -3, 4, -5]
    assert rb.parallel.map_chunks(abs, items, executor, chunks=3) == [1, 2, 3, 4, 5]
    assert calls == {"map": 1}
    first = [f.key for f in rb.parallel._last_round[executor]]
    assert len(first) == 3
    assert rb.parallel.map_chunks(abs, items, executor, chunks=3) == [1, 2, 3, 4, 5]
    second = [f.key for f in rb.parallel._last_round[executor]]
    assert not set(first) & set(second)  # pure=False: every task runs
    assert not set(first) & set(dask_client.futures)  # the first round is released
    executor.shutdown()
    with pytest.raises(rb.parallel.ExecutorShutdownError, match="shut down"):
        rb.parallel.map_chunks(abs, items, executor)


def test_killed_dask_worker_loses_and_duplicates_nothing(dask_client, serial, tmp_path):
    import functools

    executor = dask_client.get_executor()
    parent = os.getpid()
    # the first evaluation in a worker kills that worker process; Dask re-runs its tasks
    fitness = functools.partial(jobs.crashing_xor, str(tmp_path / "neat"), parent)
    assert _same(jobs.run_neat(executor, fitness), serial["neat"])
    assert (tmp_path / "neat").exists()  # a worker did die
    dask_client.wait_for_workers(2, timeout=60)
    objective = functools.partial(jobs.crashing_objective, str(tmp_path / "study"), parent)
    trials = jobs.run_study(executor, objective)
    assert (tmp_path / "study").exists()
    assert [t[0] for t in trials] == list(range(6))  # each trial once
    assert _same(trials, serial["study"])  # none lost (failed) and the same values


TUNE = """
seed = 0
[data]
name = "xor"
validation = 0.25
[[model.layers]]
type = "Dense"
out_features = 4
[[model.layers]]
type = "Tanh"
[[model.layers]]
type = "Dense"
out_features = 2
[training]
epochs = 2
batch_size = 8
[tune]
method = "bayes"
n_trials = 3
n_initial = 2
[tune.space]
"optimizer.lr" = { type = "loguniform", low = 1e-3, high = 1e-1 }
"""


def test_cli_connects_to_a_running_scheduler(dask_client, tmp_path, capsys):
    from rosenblatt.cli.main import main

    address = dask_client.scheduler.address
    evolve = tmp_path / "evolve.toml"
    evolve.write_text('algorithm = "neat"\ntask = "pole2"\ngenerations = 2\nseed = 0\n'
                      '[task_options]\nmax_steps = 200\n')
    histories = []
    for extra in ([], ["--scheduler", address]):
        out = tmp_path / f"evolve{len(extra)}"
        assert main(["evolve", str(evolve), "--out", str(out), *extra]) == 0
        histories.append(json.loads((out / "history.json").read_text())["history"]["best"])
    assert histories[0] == histories[1]
    tune = tmp_path / "tune.toml"
    tune.write_text(TUNE)
    out = tmp_path / "tune"
    assert main(["tune", str(tune), "--out", str(out), "--scheduler", address]) == 0
    study = json.loads((out / "tune.json").read_text())
    assert study["trials"] == 3 and study["failed"] == 0
    assert (out / "model.safetensors").exists()
    capsys.readouterr()
    assert main(["evolve", str(evolve), "--scheduler", "tcp://127.0.0.1:9",
                 "--scheduler-timeout", "1"]) == 2
    assert "no Dask scheduler answered at tcp://127.0.0.1:9" in capsys.readouterr().err


def test_mpi_pool_gives_the_serial_results(serial, tmp_path):
    if shutil.which("mpirun") is None:
        pytest.skip("mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)")
    pytest.importorskip("mpi4py")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([ROOT, HERE, os.environ.get("PYTHONPATH", "")]))
    cmd = ["mpirun", "-n", "3", "--allow-run-as-root", "--oversubscribe", sys.executable,
           "-m", "mpi4py.futures", os.path.join(HERE, "executor_jobs.py"), "mpi", str(tmp_path)]
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(tmp_path / "report.json") as f:
        report = json.load(f)
    assert _same(report["neat"], serial["neat"])
    assert _same(report["neat_vectorized"], serial["neat_vectorized"])
    assert _same(report["study"], serial["study"])
