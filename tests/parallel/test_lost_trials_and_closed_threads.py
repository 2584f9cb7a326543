"""A process pool whose worker dies loses no trial, a closed ThreadParallel refuses to run, and
a batch-norm fit over MPI with a last global batch of one fails before training (audit a3)."""

import functools
import json
import os
import sys
import textwrap

import numpy as np
import pytest

import rosenblatt as rb

from .mpi_script import run_mpi_script

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # worker processes import the helpers by this name
    sys.path.insert(0, HERE)
import executor_jobs as jobs  # noqa: E402


def _trials(study):
    return [(t.number, t.params, t.value, t.status) for t in study.trials]


def test_a_dead_worker_leaves_its_trials_unrecorded_and_resume_runs_them(tmp_path):
    """The first trial a worker runs kills it (as the OOM killer would): the search stops with
    ExecutorShutdownError, the trials in flight (the healthy one too) are not saved as failed,
    and the resumed study is that of an uninterrupted search."""
    path = tmp_path / "study.json"
    objective = functools.partial(jobs.slow_crashing_objective, str(tmp_path / "died"),
                                  os.getpid())
    kw = dict(method="random", n_trials=6, seed=0, n_parallel=2)
    # (which trial is lost, or whether the next submission finds the pool broken, is a race:
    # tests/tuning/test_search.py checks the message on an executor that breaks on cue)
    with pytest.raises(rb.parallel.ExecutorShutdownError):
        with rb.parallel.local(2, mp_context="fork") as pool:
            rb.tuning.minimize(objective, jobs.space(), executor=pool, save_to=path, **kw)
    assert (tmp_path / "died").exists()  # a worker did die
    assert not path.exists() or not rb.tuning.Study.load(path).failed
    with rb.parallel.local(2, mp_context="fork") as pool:
        resumed = rb.tuning.minimize(objective, jobs.space(), executor=pool, resume_from=path,
                                     **kw)
    straight = rb.tuning.minimize(jobs.objective, jobs.space(), **kw)
    assert _trials(resumed) == _trials(straight)


def _net(rng):
    return rb.nn.Sequential(rb.nn.Dense(4, 8, rng=rng), rb.nn.ReLU(),
                            rb.nn.Dense(8, 3, rng=rng)).astype(np.float64)


def test_a_closed_thread_parallel_refuses_to_run():
    """Without its worker threads only the caller's part of each batch would run: part of the
    gradient, silently."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, 4)), rng.integers(0, 3, 64)
    net = _net(rng)
    opt = rb.optim.SGD(net.parameters(), lr=0.1)
    tp = rb.distributed.ThreadParallel(net, opt, threads=2)

    def loss_fn(m, i):
        return rb.losses.cross_entropy(m(rb.tensor(X[i])), y[i])

    tp.backward(loss_fn, np.arange(64))
    assert not tp.closed
    tp.close()
    assert tp.closed
    with pytest.raises(RuntimeError, match=r"ThreadParallel: closed .*build a new "
                                           r"ThreadParallel\(model, optimizer, threads=2\)"):
        tp.backward(loss_fn, np.arange(64))
    with pytest.raises(RuntimeError, match="ThreadParallel: closed"):
        rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=16,
               progress=False, distributed=tp)


BN_LAST_OF_ONE = textwrap.dedent("""
    import json, sys, numpy as np, rosenblatt as rb
    from mpi4py import MPI
    rank = MPI.COMM_WORLD.Get_rank()
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((65, 5)), rng.integers(0, 3, 65)
    net = rb.nn.Sequential(rb.nn.Dense(5, 8, rng=np.random.default_rng(1)), rb.nn.BatchNorm1d(8),
                           rb.nn.Tanh(), rb.nn.Dense(8, 3, rng=np.random.default_rng(2)))
    net = net.astype(np.float64)
    before = net.state_dict()
    batches = []

    class Count(rb.callbacks.Callback):
        def on_batch_end(self, trainer, batch, logs):
            batches.append(batch)

    try:
        rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.Adam(net.parameters()),
               epochs=2, batch_size=16, progress=False, distributed="mpi", callbacks=[Count()])
        error = None
    except ValueError as e:
        error = str(e)
    same = all(np.array_equal(v, net.state_dict()[k]) for k, v in before.items())
    # ranks given different data (65 and 64 examples): rank 0 alone finds the batch of one,
    # and every rank raises (none is left waiting in a collective)
    try:
        rb.fit(net, X[:65 - rank], y[:65 - rank], loss="cross_entropy", epochs=1,
               optimizer=rb.optim.Adam(net.parameters()), batch_size=16, progress=False,
               distributed="mpi")
        other = None
    except ValueError as e:
        other = str(e)
    with open(f"{sys.argv[1]}/rank{rank}.json", "w") as f:
        json.dump({"error": error, "batches": len(batches), "untouched": same,
                   "other_data": other}, f)
""")


def test_batch_norm_with_a_last_global_batch_of_one_fails_before_training_over_mpi(tmp_path):
    run_mpi_script(BN_LAST_OF_ONE, tmp_path)
    for rank in (0, 1):
        report = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert report["error"].startswith(
            "fit: with batch_size=16 the last mini-batch of the 65 examples holds 1 example, "
            "but batch normalization (BatchNorm1d) needs more than one value per channel")
        assert report["batches"] == 0 and report["untouched"]
        assert report["other_data"] is not None
