"""The documented hand-written DataParallel loop on a batch smaller than the number of ranks:
an empty shard (whose mean loss is NaN) contributes nothing to the batch's loss (audit b2 #7).
"""

import json
import textwrap
import types

import numpy as np

import rosenblatt as rb

from .mpi_script import run_mpi_script


def test_an_empty_shards_nan_loss_packs_as_nothing():
    # (_pack reads only self.vec.params: whether a gradient reached each, flagged after the
    # loss)
    stub = types.SimpleNamespace(vec=types.SimpleNamespace(
        params=[types.SimpleNamespace(grad=np.zeros(1))]))
    small = np.zeros(2)
    rb.distributed.DataParallel._pack(stub, small, float("nan"), 0.0)
    assert small[0] == 0.0 and small[1] == 1.0
    rb.distributed.DataParallel._pack(stub, small, 2.0, 0.25)
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
    run_mpi_script(JOB, tmp_path)
    for rank in (0, 1):
        report = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert report["finite"]
        # the whole batch's loss on every rank (the first batch's before its step; the
        # last batch's from the weights that one step moved: computed before, on each rank)
        np.testing.assert_allclose(report["values"], report["expected"], rtol=1e-12)
