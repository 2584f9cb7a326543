"""Module-level helpers for tests/parallel/test_scale_fixes.py (worker processes import this
file by name), and its MPI jobs: ``mpirun -n 2 python scale_jobs.py JOB OUT`` writes what
rank 0 saw to ``OUT/JOB.json``."""

import json
import os
import sys

import numpy as np


def zdt1_rows(X):
    """ZDT1 on 6 variables, a population at a time (plain module-level function)."""
    import rosenblatt as rb

    return rb.evolution.problems.ZDT1(6)(X)


# -- MPI jobs (every rank runs the job; rank 0 writes the report) -------------------------

def _data(n=64, d=5, seed=0):
    g = np.random.default_rng(seed)
    X = g.normal(size=(n, d))
    return X, ((X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] > 1)) % 3


def _ranks_difference(comm, a):
    a = np.ascontiguousarray(a, dtype=np.float64).reshape(-1)
    every = np.empty((comm.Get_size(), a.size))
    comm.Allgather(a, every)
    return float(np.abs(every - every[0]).max())


def _fit(rb, dist, model, opt, X, y, **kw):
    kw.setdefault("epochs", 2)
    kw.setdefault("batch_size", 16)
    return rb.fit(model, X, y, loss="cross_entropy", optimizer=opt, progress=False,
                  rng=np.random.default_rng(7), distributed=dist, **kw)


def steps_job(comm, rb):
    """Whole-gradient steps (clip_norm, on_backward), clip_value sharded, rank 0's whole
    model on every rank, RigL from the whole batch, the documented hand-written loop."""
    rank, out = comm.Get_rank(), {}

    class NoOp(rb.callbacks.Callback):
        def on_backward(self, trainer):
            pass

    def mlp(opt_cls, **opt_kw):
        rb.seed(3)
        m = rb.nn.Sequential(rb.nn.Dense(5, 16), rb.nn.Tanh(),
                             rb.nn.Dense(16, 3)).astype(np.float64)
        return m, opt_cls(m.parameters(), **opt_kw)

    cases = {"clip_norm": (rb.optim.SGD, dict(lr=0.5), dict(clip_norm=0.5), 64),
             "on_backward": (rb.optim.SGD, dict(lr=0.5), dict(callbacks=[NoOp()]), 64),
             "gradient_monitor": (rb.optim.SGD, dict(lr=0.5),
                                  dict(callbacks=[rb.callbacks.GradientMonitor()]), 64),
             "clip_value_adam": (rb.optim.Adam, dict(lr=0.05), dict(clip_value=0.01, epochs=4),
                                 64),
             "clip_value_sgd": (rb.optim.SGD, dict(lr=0.5), dict(clip_value=0.01, epochs=4), 65)}
    for name, (opt_cls, opt_kw, kw, n) in cases.items():
        X, y = _data(n)
        m, opt = mlp(opt_cls, **opt_kw)
        _fit(rb, "mpi", m, opt, X, y, **dict(kw))
        w = opt.vec.data.copy()
        entry = {"ranks": _ranks_difference(comm, w)}
        if rank == 0:
            m1, opt1 = mlp(opt_cls, **opt_kw)
            _fit(rb, None, m1, opt1, X, y, **dict(kw))
            entry["vs_one_process"] = float(np.abs(w - opt1.vec.data).max())
        out[name] = entry

    # dropout and RReLU: each rank draws what one process draws for its rows (65 examples:
    # the last batch of 1 leaves rank 1 idle; it still draws, so the streams stay in step)
    X, y = _data(65)

    def noisy():
        rb.seed(5)
        m = rb.nn.Sequential(rb.nn.Dense(5, 16), rb.nn.RReLU(), rb.nn.Dropout(0.5),
                             rb.nn.Dense(16, 16), rb.nn.Tanh(),
                             rb.nn.Dropout(0.3, rng=11), rb.nn.Dense(16, 3)).astype(np.float64)
        return m, rb.optim.SGD(m.parameters(), lr=0.2)

    m, opt = noisy()
    _fit(rb, "mpi", m, opt, X, y, epochs=3)
    out["dropout"] = {"ranks": _ranks_difference(comm, opt.vec.data)}
    if rank == 0:
        m1, opt1 = noisy()
        _fit(rb, None, m1, opt1, X, y, epochs=3)
        out["dropout"]["vs_one_process"] = float(np.abs(opt.vec.data - opt1.vec.data).max())
        out["dropout"]["layer_rng_back"] = (m[2].rng is None and m[1].rng is None
                                            and type(m[5].rng) is np.random.Generator)

    # every rank initialised differently: rank 0's mask and frozen weights reach all ranks
    X, y = _data(64, 6)

    def sparse_model(seed):
        m = rb.nn.Sequential(rb.nn.SparseDense(6, 16, density=0.3, rng=seed,
                                               dtype=np.float64), rb.nn.Tanh(),
                             rb.nn.Dense(16, 8, rng=seed).astype(np.float64), rb.nn.Tanh(),
                             rb.nn.Dense(8, 3, rng=seed).astype(np.float64))
        m[2].freeze()
        return m

    m = sparse_model(rank)
    opt = rb.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1)
    _fit(rb, "mpi", m, opt, X, y)
    out["unequal_start"] = {
        "mask": _ranks_difference(comm, m[0].mask.astype(np.float64)),
        "frozen": _ranks_difference(comm, m[2].W.data),
        "predictions": _ranks_difference(comm, rb.training.predict(m, X))}

    # RigL: the connections grown from the whole batch's dense gradient
    def rigl(dist):
        m = sparse_model(0)
        m[2].unfreeze()
        opt = rb.optim.SGD(m.parameters(), lr=0.1)
        _fit(rb, dist, m, opt, X, y, epochs=3,
             callbacks=[rb.callbacks.Rewire("rigl", fraction=0.3, every=2, rng=0)])
        return m[0].mask.astype(np.float64), opt.vec.data.copy()

    mask, w = rigl("mpi")
    out["rigl"] = {"mask_ranks": _ranks_difference(comm, mask),
                   "weights_ranks": _ranks_difference(comm, w)}
    if rank == 0:
        mask1, w1 = rigl(None)
        out["rigl"].update(mask_vs_one=float(np.abs(mask - mask1).max()),
                           weights_vs_one=float(np.abs(w - w1).max()))

    # the module docstring's hand-written loop, batch norm and uneven shards (8 + 7)
    def bn_model():
        rb.seed(1)
        m = rb.nn.Sequential(rb.nn.Dense(5, 6), rb.nn.BatchNorm1d(6), rb.nn.Tanh(),
                             rb.nn.Dense(6, 3)).astype(np.float64)
        return m, rb.optim.SGD(m.parameters(), lr=0.5)

    X, y = _data(15)
    m, opt = bn_model()
    dp = rb.distributed.DataParallel(m, opt)
    for index in [np.arange(15)] * 2:
        mine, weight = dp.shard(index)
        loss = rb.losses.cross_entropy(m(rb.tensor(X[mine])), y[mine])
        opt.zero_grad()
        loss.backward(np.full(loss.data.shape, weight))
        dp.step(weight, loss.item(), scaled=True)
    dp.close()
    if rank == 0:
        m1, opt1 = bn_model()
        for _ in range(2):
            loss = rb.losses.cross_entropy(m1(rb.tensor(X)), y)
            opt1.zero_grad()
            loss.backward()
            opt1.step()
        out["hand_loop_bn_vs_one"] = float(np.abs(opt.vec.data - opt1.vec.data).max())
    return out


def _error_of(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the report compares the ranks' messages
        return f"{type(e).__name__}: {e}"
    return None


def _gather_text(comm, value):
    """Every rank's JSON-able ``value``, rank by rank (sent as UTF-8 JSON, not pickled)."""
    data = np.frombuffer(json.dumps(value).encode(), dtype=np.uint8)
    sizes = np.empty(comm.Get_size(), dtype=np.int64)
    comm.Allgather(np.array([data.size], dtype=np.int64), sizes)
    buf = np.empty(int(sizes.sum()), dtype=np.uint8)
    comm.Allgatherv(data, [buf, sizes.tolist()])
    cuts = np.cumsum(sizes)[:-1]
    return [json.loads(part.tobytes().decode()) for part in np.split(buf, cuts)]


def logs_job(comm, rb):
    """Per-batch logs over the global batch; a stop decided from them stops every rank."""
    rank = comm.Get_rank()
    g = np.random.default_rng(0)
    X = g.normal(size=(64, 4))
    y = (X[:, 0] > 0).astype(int)

    def fit(dist, callbacks):
        rb.seed(0)
        m = rb.nn.Sequential(rb.nn.Dense(4, 8), rb.nn.Tanh(),
                             rb.nn.Dense(8, 2)).astype(np.float64)
        return rb.fit(m, X, y, loss="cross_entropy",
                      optimizer=rb.optim.SGD(m.parameters(), lr=0.1), epochs=3, batch_size=16,
                      progress=False, rng=np.random.default_rng(1), metrics=["accuracy"],
                      distributed=dist, callbacks=callbacks)

    seen = []
    fit("mpi", [rb.callbacks.LambdaCallback(
        on_batch_end=lambda t, b, logs: seen.append([logs["loss"], logs["accuracy"]]))])
    out = {"ranks": _ranks_difference(comm, np.array(seen))}
    if rank == 0:
        one = []
        fit(None, [rb.callbacks.LambdaCallback(
            on_batch_end=lambda t, b, logs: one.append([logs["loss"], logs["accuracy"]]))])
        out["vs_one_process"] = float(np.abs(np.array(seen) - np.array(one)).max())

    def stop(t, b, logs):  # the batch's loss 0.724; rank 0's own shard's 0.700, rank 1's 0.747
        if t.epoch == 0 and b == 0 and logs["loss"] < 0.73:
            t.stop_training = True

    h = fit("mpi", [rb.callbacks.LambdaCallback(on_batch_end=stop)])
    out["epochs_run"] = _gather_text(comm, len(h["loss"]))

    class RankStop(rb.callbacks.Callback):  # a rank-local decision: every rank stops with it
        def on_epoch_end(self, trainer, epoch, logs):
            if rank == 1:
                trainer.stop_training = True

    h = fit("mpi", [RankStop()])
    out["rank_local_stop_epochs"] = _gather_text(comm, len(h["loss"]))
    return out


def bn_idle_job(comm, rb):
    """Batch norm with a last batch smaller than the number of ranks."""
    n = {3: 18, 2: 17}[comm.Get_size()]
    g = np.random.default_rng(0)
    X = g.normal(size=(n, 5))
    y = (X[:, 0] > 0).astype(int)

    def run(dist):
        rb.seed(3)
        m = rb.nn.Sequential(rb.nn.Dense(5, 8), rb.nn.BatchNorm1d(8), rb.nn.Tanh(),
                             rb.nn.Dense(8, 2)).astype(np.float64)
        opt = rb.optim.SGD(m.parameters(), lr=0.1)
        rb.fit(m, X, y, loss="cross_entropy", optimizer=opt, epochs=2, batch_size=16,
               progress=False, rng=np.random.default_rng(1), distributed=dist)
        return np.concatenate([opt.vec.data, m[1].running_mean, m[1].running_var])

    out = {"one_process_error": _error_of(lambda: run(None)) if comm.Get_rank() == 0 else None}
    box = {}
    out["errors"] = _gather_text(comm, _error_of(lambda: box.update(w=run("mpi"))))
    if "w" in box:
        out["ranks"] = _ranks_difference(comm, box["w"])
        if comm.Get_rank() == 0 and out["one_process_error"] is None:
            out["vs_one_process"] = float(np.abs(box["w"] - run(None)).max())
    return out


def data_job(comm, rb):
    """Ranks given different data (each loaded its own part): the same error on each."""
    rank = comm.Get_rank()
    X, y = _data(64 if rank == 0 else 48)
    out = {}

    def fit(X, y, **kw):
        rb.seed(0)
        m = rb.nn.Sequential(rb.nn.Dense(5, 4), rb.nn.Tanh(), rb.nn.Dense(4, 3))
        _fit(rb, "mpi", m, rb.optim.SGD(m.parameters(), lr=0.1), X, y, epochs=1, **kw)

    out["sizes"] = _gather_text(comm, _error_of(lambda: fit(X, y)))
    X, y = _data(64, seed=rank)  # the same sizes, other values
    out["values"] = _gather_text(comm, _error_of(lambda: fit(X, y)))
    X, y = _data(64)
    Xv = X[:16] + rank
    out["validation"] = _gather_text(comm, _error_of(
        lambda: fit(X, y, validation_data=(Xv, y[:16]))))
    out["same"] = _gather_text(comm, _error_of(lambda: fit(X, y)))

    # DataParallel.agree: one rank's error raised on every rank (no rank left waiting)
    m = rb.nn.Sequential(rb.nn.Dense(5, 3))
    dp = rb.distributed.DataParallel(m, rb.optim.SGD(m.parameters(), lr=0.1))
    out["agree_none"] = _gather_text(comm, _error_of(lambda: dp.agree(None)))
    mine = ValueError(f"fit: rank {rank} cannot read it") if rank == 1 else None
    out["agree_value"] = _gather_text(comm, _error_of(lambda: dp.agree(mine)))
    mine = KeyError("k") if rank == 0 else ValueError("later")
    out["agree_other"] = _gather_text(comm, _error_of(lambda: dp.agree(mine)))
    dp.close()
    return out


def checkpoint_job(comm, rb, folder):
    """A Checkpoint folder that does not exist (rank 0 checks it); a resume_from that only
    rank 0 can read: the same error on every rank, no rank left waiting."""
    rank = comm.Get_rank()
    X = np.random.default_rng(0).normal(size=(64, 4))
    y = (X[:, 0] > 0).astype(int)

    def fit(**kw):
        rb.seed(0)
        m = rb.nn.Sequential(rb.nn.Dense(4, 8), rb.nn.Tanh(), rb.nn.Dense(8, 2))
        rb.fit(m, X, y, loss="cross_entropy", optimizer=rb.optim.Adam(m.parameters(), lr=0.01),
               epochs=1, batch_size=16, progress=False, distributed="mpi", **kw)

    missing = os.path.join(folder, "no_such_folder", "ck.safetensors")
    out = {"missing_folder": _gather_text(comm, _error_of(
        lambda: fit(callbacks=[rb.callbacks.Checkpoint(missing)])))}
    mine = os.path.join(folder, f"rank{rank}", "ck.safetensors")
    os.makedirs(os.path.dirname(mine), exist_ok=True)
    if rank == 0:  # a checkpoint on rank 0's disk only (its own folder)
        m = rb.nn.Sequential(rb.nn.Dense(4, 8), rb.nn.Tanh(), rb.nn.Dense(8, 2))
        rb.fit(m, X, y, loss="cross_entropy", optimizer=rb.optim.Adam(m.parameters(), lr=0.01),
               epochs=1, batch_size=16, progress=False,
               callbacks=[rb.callbacks.Checkpoint(mine)])
    comm.Barrier()
    out["resume_on_rank_0_only"] = _gather_text(comm, _error_of(lambda: fit(resume_from=mine)))
    return out


def hangs_job(comm, rb, folder):
    """Set-ups that left a rank waiting in a collective: every rank must end with the same
    outcome (an attention model on an idle rank, a callback on rank 0 only, a NaN in one
    rank's data, node-local resume files of different epochs, validation data on some ranks
    only); and the error class agree shares (a corrupt resume file on every rank)."""
    rank = comm.Get_rank()
    X, y = _data(64)

    def mlp(opt_cls=rb.optim.Adam, lr=0.01):
        rb.seed(0)
        m = rb.nn.Sequential(rb.nn.Dense(5, 8), rb.nn.Tanh(),
                             rb.nn.Dense(8, 3)).astype(np.float64)
        return m, opt_cls(m.parameters(), lr=lr)

    def fit(m, opt, X=X, y=y, **kw):
        kw.setdefault("epochs", 1)
        return _fit(rb, "mpi", m, opt, X, y, **kw)

    out = {}

    class Net(rb.nn.Module):  # attention with dropout: the idle rank runs forward on 0 rows
        def __init__(self):
            self.emb, self.lstm = rb.nn.Embedding(10, 4), rb.nn.LSTM(4, 6)
            self.att, self.drop = rb.nn.Attention("dot"), rb.nn.Dropout(0.2)
            self.out = rb.nn.Dense(6, 3)

        def forward(self, x):
            seq, (h, c) = self.lstm(self.drop(self.emb(x)))
            return self.out(self.att(h[-1], seq)[0])

    Xa = np.random.default_rng(0).integers(0, 10, size=(17, 7))

    def attention(dist):
        rb.seed(0)
        m = Net().astype(np.float64)
        opt = rb.optim.SGD(m.parameters(), lr=0.1)
        _fit(rb, dist, m, opt, Xa, Xa[:, 0] % 3, epochs=1)
        return opt.vec.data.copy()

    box = {}
    out["attention_idle"] = _gather_text(comm, _error_of(lambda: box.update(w=attention("mpi"))))
    if "w" in box:
        out["attention_ranks"] = _ranks_difference(comm, box["w"])
        if rank == 0:
            out["attention_vs_one"] = float(np.abs(box["w"] - attention(None)).max())

    for which in ("monitor", "checkpoint"):  # given on rank 0 only
        cbs = [] if rank else [rb.callbacks.GradientMonitor()] if which == "monitor" else [
            rb.callbacks.Checkpoint(os.path.join(folder, "r0.safetensors"))]
        out[f"callback_rank0_{which}"] = _gather_text(comm, _error_of(
            lambda cbs=cbs: fit(*mlp(), callbacks=cbs, epochs=2)))

    Xn = X.copy()
    if rank == 0:
        Xn[3, 2] = np.nan
    out["nan_one_rank"] = _gather_text(comm, _error_of(lambda: fit(*mlp(), X=Xn)))

    val = (X[:16], y[:16]) if rank == 0 else None
    out["validation_some"] = _gather_text(comm, _error_of(
        lambda: fit(*mlp(), validation_data=val)))

    mine = os.path.join(folder, f"node{rank}", "ck.safetensors")  # node-local folders
    os.makedirs(os.path.dirname(mine), exist_ok=True)
    m, opt = mlp()  # rank 0's checkpoint after 2 epochs, rank 1's after 1
    _fit(rb, None, m, opt, X, y, epochs=2 - rank, callbacks=[rb.callbacks.Checkpoint(mine)])
    comm.Barrier()
    out["stale_resume"] = _gather_text(comm, _error_of(
        lambda: fit(*mlp(), epochs=4, resume_from=mine)))

    bad = os.path.join(folder, "bad.safetensors")
    if rank == 0:
        with open(bad, "wb") as f:
            f.write(b"not a checkpoint at all")
    comm.Barrier()

    def corrupt():
        try:
            fit(*mlp(), resume_from=bad)
        except ValueError as e:  # FormatError is a ValueError: caught so on every rank
            return type(e).__name__
        except Exception as e:  # noqa: BLE001
            return f"not a ValueError: {type(e).__name__}"
        return None

    out["agree_classes"] = _gather_text(comm, corrupt())

    # one rank raises mid-training (a callback, a layer): the others, waiting for it in the
    # node's memory, raise its error at their next meeting instead of waiting forever
    class Boom(rb.callbacks.Callback):
        def on_batch_end(self, trainer, batch, logs):
            if rank == 1 and batch == 1:
                raise ValueError("boom on rank 1")

    m, opt = mlp()
    out["raise_mid_fit"] = _gather_text(comm, _error_of(lambda: fit(m, opt, callbacks=[Boom()])))
    out["raise_mid_fit_sharded"] = _gather_text(comm, bool(opt.vec.data.flags.owndata))

    class Fails(rb.nn.Module):  # a layer that fails on rank 0's fourth batch
        def __init__(self):
            self.inner, self.calls = rb.nn.Dense(5, 3), 0

        def forward(self, x):
            self.calls += 1
            if rank == 0 and self.calls == 4:
                raise FloatingPointError("overflow in the layer on rank 0")
            return self.inner(x)

    rb.seed(0)
    m = Fails().astype(np.float64)
    opt = rb.optim.SGD(m.parameters(), lr=0.1)
    dp = rb.distributed.DataParallel(m, opt)  # the caller's: fit does not close it
    out["raise_mid_fit_callers_dp"] = _gather_text(comm, _error_of(
        lambda: _fit(rb, dp, m, opt, X, y, epochs=1)))
    out["callers_dp_sharded_after"] = _gather_text(comm, dp.sharded)

    # at an epoch's end (the others wait in the small sum of the stop flags), with a message
    # longer than the node's text line (cut, not garbled)
    class EpochEnd(rb.callbacks.Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            if rank == 1:
                raise ValueError("epoch end on rank 1: " + "é" * 5000)

    m, opt = mlp()
    error = _error_of(lambda: fit(m, opt, callbacks=[EpochEnd()]))
    out["raise_epoch_end"] = _gather_text(comm, None if error is None else (
        error[:35], error.endswith("[...]") or rank == 1))

    class Late(rb.nn.Module):  # fails on rank 1 before the batch norm that rank 0 waits in
        def __init__(self):
            self.a, self.bn, self.b, self.calls = rb.nn.Dense(5, 8), rb.nn.BatchNorm1d(8), \
                rb.nn.Dense(8, 3), 0

        def forward(self, x):
            self.calls += 1
            if rank == 1 and self.calls == 3:
                raise RuntimeError("layer before batch norm on rank 1")
            return self.b(self.bn(self.a(x)))

    rb.seed(0)
    m = Late().astype(np.float64)
    opt = rb.optim.Adam(m.parameters(), lr=0.01)
    out["raise_before_bn"] = _gather_text(comm, _error_of(lambda: fit(m, opt)))
    return out


def state_job(comm, rb):
    """After fit raised on every rank, the layers are as before (their own generators, batch
    norm on this process alone); a Dropout(rng=None) under a DataParallel made before
    rb.seed follows the seed; identical data in another memory layout is accepted."""
    rank = comm.Get_rank()
    X, y = _data(64 if rank == 0 else 48)  # fit raises the documented error on both ranks
    rb.seed(0)
    m = rb.nn.Sequential(rb.nn.Dense(5, 8), rb.nn.BatchNorm1d(8), rb.nn.Dropout(0.5),
                         rb.nn.Dense(8, 3)).astype(np.float64)
    opt = rb.optim.SGD(m.parameters(), lr=0.1)
    error = _error_of(lambda: _fit(rb, "mpi", m, opt, X, y, epochs=1))
    m.train()
    xb = np.random.default_rng(rank).normal(size=(6, 8)) * (1 + 5 * rank)
    fresh = rb.nn.BatchNorm1d(8).astype(np.float64)
    out = {"error": _gather_text(comm, error),
           "rng_back": _gather_text(comm, m[2].rng is None),
           "bn_alone": _gather_text(comm, float(np.abs(m[1](rb.tensor(xb)).data
                                                       - fresh(rb.tensor(xb)).data).max())),
           "theta_own": _gather_text(comm, bool(opt.vec.data.flags.owndata))}

    X, y = _data(64)

    def seeded(dist_first):
        m = rb.nn.Sequential(rb.nn.Dense(5, 16, rng=1), rb.nn.Dropout(0.5),
                             rb.nn.Dense(16, 3, rng=2)).astype(np.float64)
        opt = rb.optim.SGD(m.parameters(), lr=0.2)
        dp = rb.distributed.DataParallel(m, opt) if dist_first else None
        rb.seed(42)  # after the DataParallel: the seed must still decide the masks
        _fit(rb, dp, m, opt, X, y, epochs=1)
        if dp is not None:
            dp.close()
        return opt.vec.data.copy()

    w = seeded(True)
    out["seed_after_dp_ranks"] = _ranks_difference(comm, w)
    if rank == 0:
        out["seed_after_dp_vs_one"] = float(np.abs(w - seeded(False)).max())

    Xl = np.random.default_rng(0).normal(size=(300, 15, 19)) * 1e3
    yl = (Xl[:, 0, 0] > 0).astype(int)
    if rank == 1:
        Xl = np.asfortranarray(Xl)
    rb.seed(0)
    m = rb.nn.Sequential(rb.nn.Flatten(), rb.nn.Dense(15 * 19, 2)).astype(np.float64)
    out["layout"] = _gather_text(comm, _error_of(lambda: _fit(
        rb, "mpi", m, rb.optim.SGD(m.parameters(), lr=0.01), Xl, yl, epochs=1,
        batch_size=100)))
    return out


def main(job, folder):
    from mpi4py import MPI

    import rosenblatt as rb

    comm = MPI.COMM_WORLD
    run = globals()[f"{job}_job"]
    report = run(comm, rb, folder) if job in ("checkpoint", "hangs") else run(comm, rb)
    if comm.Get_rank() == 0:
        with open(os.path.join(folder, f"{job}.json"), "w") as f:
            json.dump(report, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
