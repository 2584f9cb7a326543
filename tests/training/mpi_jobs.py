"""Jobs that test_distributed.py runs under ``mpirun -n 2 python tests/training/mpi_jobs.py``.

Rank 0 writes what it measured to ``OUT/report.json``; the pytest test reads
and checks it. Importing this module does nothing (pytest's doctest
collection imports it).
"""

import json
import os
import shutil
import sys

import numpy as np


def _data(n=65, d=5, classes=3):
    g = np.random.default_rng(0)
    X = g.normal(size=(n, d))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] > 1)
    return X, y % classes


def _model(rb, batchnorm=False, dtype=np.float64):
    rb.seed(3)
    layers = [rb.nn.Dense(5, 16)]
    if batchnorm:
        layers.append(rb.nn.BatchNorm1d(16))
    layers += [rb.nn.Tanh(), rb.nn.Dense(16, 3)]
    return rb.nn.Sequential(*layers).astype(dtype)


def _ranks_equal(rb, comm):
    """A callback checking after every step that every rank holds the same weights."""

    class RanksEqual(rb.callbacks.Callback):
        worst, steps = 0.0, 0

        def on_batch_end(self, trainer, batch, logs):
            state = [trainer.optimizer.vec.data] + [b for _, b in trainer.model.named_buffers()]
            mine = np.concatenate([np.ravel(a) for a in state]).astype(np.float64)
            every = np.empty((comm.Get_size(), mine.size))
            comm.Allgather(mine, every)
            self.worst = max(self.worst, float(np.abs(every - every[0]).max()))
            self.steps += 1

    return RanksEqual()


def _train(rb, distributed, epochs, callbacks=(), resume_from=None, batchnorm=False, n=65,
           dtype=np.float64, shard="auto"):
    X, y = _data(n)
    model = _model(rb, batchnorm, dtype)
    opt = rb.optim.Adam(model.parameters(), lr=0.01)
    if distributed == "mpi" and shard != "auto":
        distributed = rb.distributed.DataParallel(model, opt, shard=shard)
    history = rb.fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=epochs,
                     batch_size=16, progress=False, rng=np.random.default_rng(7),
                     callbacks=list(callbacks), resume_from=resume_from,
                     distributed=distributed)
    return model, opt, history


def _diverge(rb, distributed):
    """SGD with a far too large step on the same batches: fit stops with DivergenceError
    within the first epoch and puts back the weights of the lowest batch loss so far."""
    X, y = _data(64)
    model = _model(rb)
    opt = rb.optim.SGD(model.parameters(), lr=40.0, momentum=0.9)
    try:
        rb.fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=8,
               progress=False, rng=np.random.default_rng(7), divergence_factor=2.0,
               distributed=distributed)
    except rb.training.DivergenceError as e:
        return opt, e.batch
    return opt, None


def fit_job(out):
    from mpi4py import MPI

    import rosenblatt as rb

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    report = {"size": comm.Get_size()}
    # 1. two ranks vs one process, float64, 65 examples in batches of 16 (the last has one
    #    example: rank 1 idles through that step)
    check = _ranks_equal(rb, comm)
    model, opt, hist = _train(rb, "mpi", 3, [check])
    report["ranks_max_difference"] = check.worst
    report["steps_checked"] = check.steps
    dp = rb.distributed.DataParallel(model, opt)
    report["message_bytes"] = dp.message_bytes
    report["sharded"] = dp.sharded  # two ranks on one node: the shared-memory sharded step
    # the plain path (one Allreduce of the whole gradient, every rank steps the whole vector)
    plain, plain_opt, _ = _train(rb, "mpi", 3, shard=False)
    report["plain_vs_sharded"] = float(np.abs(plain_opt.vec.data - opt.vec.data).max())
    report["plain_velocity_vs_sharded"] = float(np.abs(plain_opt.m - opt.m).max() + np.abs(
        plain_opt.v - opt.v).max())  # after fit every rank holds the whole optimizer state
    mine = np.concatenate([opt.m, opt.v])
    every = np.empty((comm.Get_size(), mine.size))
    comm.Allgather(mine, every)
    report["state_ranks_max_difference"] = float(np.abs(every - every[0]).max())
    # a divergence in the first epoch: every rank puts back the same weights (those of the
    # lowest batch loss so far)
    dopt, report["diverged_at"] = _diverge(rb, "mpi")
    every = np.empty((comm.Get_size(), dopt.vec.size))
    comm.Allgather(dopt.vec.data.astype(np.float64), every)
    report["diverged_ranks_max_difference"] = float(np.abs(every - every[0]).max())
    # waiting by polling a non-blocking Allreduce: the same arithmetic, the same weights
    X, y = _data()
    polled = _model(rb)
    popt = rb.optim.Adam(polled.parameters(), lr=0.01)
    polling = rb.distributed.DataParallel(polled, popt, wait="poll")
    rb.fit(polled, X, y, loss="cross_entropy", optimizer=popt, epochs=3, batch_size=16,
           progress=False, rng=np.random.default_rng(7), distributed=polling)
    report["timed_steps"] = polling.timers["steps"]
    report["poll_vs_block"] = float(np.abs(popt.vec.data - opt.vec.data).max())
    # 2. batch norm, synchronised: the ranks normalise with the whole batch's statistics, so
    #    they stay identical and train as one process does (67 examples: the last batch of
    #    three is cut 2 + 1), sharded or with one Allreduce
    check_bn = _ranks_equal(rb, comm)
    bn_model, _, bn_hist = _train(rb, "mpi", 2, [check_bn], batchnorm=True, n=67)
    bn_plain, _, _ = _train(rb, "mpi", 2, batchnorm=True, n=67, shard=False)
    report["bn_ranks_max_difference"] = check_bn.worst
    # 3. a checkpoint written by rank 0 after 2 epochs, resumed on 2 ranks to 4
    ckpt = os.path.join(out, f"ckpt{rank}.safetensors")
    _train(rb, "mpi", 2, [rb.callbacks.Checkpoint(ckpt)])
    comm.Barrier()
    report["rank1_checkpoint_written"] = os.path.exists(os.path.join(out, "ckpt1.safetensors"))
    first = os.path.join(out, "ckpt0.safetensors")
    if rank == 0:
        shutil.copy(first, os.path.join(out, "ckpt_copy.safetensors"))
    comm.Barrier()
    resumed2, _, hist2 = _train(rb, "mpi", 4, resume_from=first)
    model32, _, _ = _train(rb, "mpi", 3, dtype=np.float32)
    if rank == 0:
        single, _, single_hist = _train(rb, None, 3)
        vec = rb.nn.ParameterVector
        flat = (lambda m: np.concatenate([p.data.ravel() for p in m.parameters()]))
        report["vs_one_process"] = float(np.abs(flat(model) - flat(single)).max())
        report["loss_history_difference"] = float(np.max(np.abs(
            np.array(hist["loss"]) - np.array(single_hist["loss"]))))
        straight, _, _ = _train(rb, None, 4)
        resumed1, _, _ = _train(rb, None, 4,
                                resume_from=os.path.join(out, "ckpt_copy.safetensors"))
        report["resume_2_ranks_vs_straight"] = float(np.abs(flat(resumed2)
                                                            - flat(straight)).max())
        report["resume_1_process_vs_straight"] = float(np.abs(flat(resumed1)
                                                              - flat(straight)).max())
        report["weights"] = int(vec(_model(rb).parameters()).size)
        single_dopt, report["diverged_at_one_process"] = _diverge(rb, None)
        report["diverged_vs_one_process"] = float(np.abs(single_dopt.vec.data
                                                         - dopt.vec.data).max())
        state = (lambda m: np.concatenate([p.data.ravel() for p in m.parameters()]
                                          + [b.ravel() for _, b in m.named_buffers()]))
        single_bn, _, single_bn_hist = _train(rb, None, 2, batchnorm=True, n=67)
        report["bn_vs_one_process"] = float(np.abs(state(bn_model) - state(single_bn)).max())
        report["bn_plain_vs_one_process"] = float(np.abs(state(bn_plain)
                                                         - state(single_bn)).max())
        report["bn_loss_history_difference"] = float(np.max(np.abs(
            np.array(bn_hist["loss"]) - np.array(single_bn_hist["loss"]))))
        single32, _, _ = _train(rb, None, 3, dtype=np.float32)
        report["float32_vs_one_process"] = float(np.abs(flat(model32) - flat(single32)).max())
    # 5. data with a NaN: the ranks split the finite check (each sums its block of rows), and
    #    every rank raises the one-process error, whichever rank's block holds the NaN
    report["nan_errors"] = []
    for row in (3, 60):  # in rank 0's block, in rank 1's
        X, y = _data()
        X[row, 2] = np.nan
        model = _model(rb)
        try:
            rb.fit(model, X, y, loss="cross_entropy", epochs=1, progress=False,
                   optimizer=rb.optim.SGD(model.parameters(), lr=0.1), distributed="mpi")
            message = None
        except ValueError as e:
            message = str(e)
        text = np.frombuffer((message or "").encode(), dtype=np.uint8)
        longest = np.array([text.size])
        comm.Allreduce(longest.copy(), longest, op=MPI.MAX)
        mine = np.zeros(int(longest[0]), dtype=np.uint8)
        mine[:text.size] = text
        every = np.empty((comm.Get_size(), mine.size), dtype=np.uint8)
        comm.Allgather(mine, every)
        report["nan_errors"].append([bytes(r).rstrip(b"\0").decode() for r in every])
    # 4. the CLI under mpirun
    cfg = os.path.join(out, "train.toml")
    if rank == 0:
        with open(cfg, "w") as f:
            f.write('seed = 0\n[data]\nname = "xor"\n[[model.layers]]\ntype = "Dense"\n'
                    'out_features = 8\n[[model.layers]]\ntype = "Tanh"\n[[model.layers]]\n'
                    'type = "Dense"\nout_features = 2\n[training]\nepochs = 3\nbatch_size = 8\n')
    comm.Barrier()
    from rosenblatt.cli.main import main as cli

    code = cli(["train", cfg, "--out", os.path.join(out, "cli"), "--quiet"])
    codes = np.empty(comm.Get_size(), dtype=np.int64)
    comm.Allgather(np.array([code], dtype=np.int64), codes)
    report["cli_codes"] = codes.tolist()
    if rank == 0:
        with open(os.path.join(out, "report.json"), "w") as f:
            json.dump(report, f)


if __name__ == "__main__":
    {"fit": fit_job}[sys.argv[1]](sys.argv[2])
