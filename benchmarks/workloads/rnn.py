"""Recurrent training throughput: a character-level LSTM and GRU (issue 8).

Vocabulary 65 (one-hot inputs), hidden 128, sequences of 50, batch 32: one
call is a number of SGD steps (forward over the whole batch of sequences, a
linear read-out to 65 logits at every step, softmax cross-entropy, BPTT,
update), written the way each library's users would: rosenblatt's
``rb.nn.LSTM``/``rb.nn.GRU`` (one fused op per layer) against PyTorch CPU's
``nn.LSTM``/``nn.GRU`` with ``batch_first=True``. Random tokens are enough:
the arithmetic does not depend on the values. Unit: tokens (batch x time) per
second.

Targets (issue 8, raised by issue 23): LSTM >= 1.0x PyTorch's tokens/s, GRU >= 1.2x.
Each net has two rows: the plain loop (one thread of ours; NumPy's BLAS splits the
products) and the same steps data-parallel over threads
(``rb.distributed.ThreadParallel``: each of two threads runs half of every batch of
sequences, one BLAS thread each; the gradients summed, one step), which is how a
rosenblatt user puts a second core to work on a recurrent net (``rb.fit(...,
distributed="threads")``).

``python -m benchmarks.workloads.rnn [LSTM|GRU]`` prints where one step's CPU time
goes (one BLAS thread): the step's phases, and the matrix products of its shapes
timed alone (benchmarks/README.md, issue 23).
"""

import statistics
import sys
import time

import numpy as np

import rosenblatt as rb
from benchmarks.common import blas_threads, torch_or_none

VOCAB, HIDDEN, SEQ, BATCH, LR = 65, 128, 50, 32, 0.1


def data(steps, seed=0):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, VOCAB, (steps, BATCH, SEQ + 1))
    eye = np.eye(VOCAB, dtype=np.float32)
    return eye[tokens[:, :, :-1]], tokens[:, :, 1:]


def rosenblatt_fn(kind, x, y):
    model = CharNet(kind, np.random.default_rng(0))
    opt = rb.optim.SGD(model.parameters(), lr=LR)
    cross_entropy = rb.losses.cross_entropy

    def run():
        for xb, yb in zip(x, y):
            loss = cross_entropy(model(rb.tensor(xb)), yb.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()

    run.model = model
    return run


class CharNet(rb.nn.Module):
    """The recurrent layer and its read-out as one model (what ``ThreadParallel`` clones):
    (B, T, VOCAB) one-hot inputs to (B T, VOCAB) logits."""

    def __init__(self, kind, rng):
        super().__init__()
        self.cell = getattr(rb.nn, kind)(VOCAB, HIDDEN, rng=rng)
        self.head = rb.nn.Dense(HIDDEN, VOCAB, rng=rng)

    def forward(self, x):
        out, _ = self.cell(x)
        return self.head(out.reshape(out.shape[0] * out.shape[1], HIDDEN))


def rosenblatt_threads_fn(kind, x, y, threads=None):
    """The same SGD steps data-parallel over threads (``rb.distributed.ThreadParallel``):
    ``threads`` of them (None: two when NumPy's BLAS is given two or more, as in the default
    mode, else one, the plain step through ``ThreadParallel``'s bookkeeping)."""
    make = getattr(getattr(rb, "distributed", None), "ThreadParallel", None)
    if make is None:
        return None
    model = CharNet(kind, np.random.default_rng(0))
    opt = rb.optim.SGD(model.parameters(), lr=LR)
    parallel = make(model, opt, threads=threads or min(2, blas_threads()))
    cross_entropy = rb.losses.cross_entropy

    def run():
        for xb, yb in zip(x, y):
            def loss(m, part, xb=xb, yb=yb):
                return cross_entropy(m(rb.tensor(xb[part])), yb[part].reshape(-1))

            parallel.backward(loss, BATCH)
            opt.step()

    run.model = model
    return run


def pytorch_fn(kind, x, y):
    torch = torch_or_none()
    if torch is None:
        return None
    torch.manual_seed(0)
    cell = getattr(torch.nn, kind)(VOCAB, HIDDEN, batch_first=True)
    head = torch.nn.Linear(HIDDEN, VOCAB)
    opt = torch.optim.SGD(list(cell.parameters()) + list(head.parameters()), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y.astype(np.int64))

    def run():
        for xb, yb in zip(xt, yt):
            out, _ = cell(xb)
            loss = loss_fn(head(out.reshape(BATCH * SEQ, HIDDEN)), yb.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()

    return run


def workloads(quick):
    steps = 3 if quick else 10
    x, y = data(steps)
    tokens = steps * BATCH * SEQ
    out = []
    for kind, target in (("LSTM", 1.0), ("GRU", 1.2)):  # issue 23
        out.append({
            "name": f"char-level {kind}: vocab {VOCAB}, hidden {HIDDEN}, seq {SEQ}, "
                    f"batch {BATCH}, {steps} SGD steps",
            "unit": "tokens/s",
            "work": tokens,
            "rosenblatt": rosenblatt_fn(kind, x, y),
            "references": {"pytorch": pytorch_fn(kind, x, y), "sklearn": None},
            "target": f">= {target}x PyTorch nn.{kind}",
            "target_ratio": {"pytorch": target},
        })
        threads_run = rosenblatt_threads_fn(kind, x, y)
        if threads_run is not None:
            out.append({
                "name": f"char-level {kind} through ThreadParallel: vocab {VOCAB}, hidden "
                        f"{HIDDEN}, seq {SEQ}, batch {BATCH}, {steps} SGD steps",
                "unit": "tokens/s",
                "work": tokens,
                "rosenblatt": threads_run,
                "references": {"pytorch": out[-1]["references"]["pytorch"]},
                "target": f">= {target}x PyTorch nn.{kind} (issue 23)",
                "target_ratio": {"pytorch": target},
                "notes": "data-parallel over threads: each of two threads runs half of every "
                         "batch of sequences on its own replica (one BLAS thread per "
                         "product), the gradients are summed and SGD steps once; one thread "
                         "(the plain step) when NumPy's BLAS has one",
            })
    return out


def breakdown(kind="LSTM", steps=10, rounds=4):
    """Per phase CPU time of one step (ms, medians), and the step's GEMMs timed alone."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    clock = time.process_time
    x, y = data(steps)
    rng = np.random.default_rng(0)
    cell = getattr(rb.nn, kind)(VOCAB, HIDDEN, rng=rng)
    head = rb.nn.Dense(HIDDEN, VOCAB, rng=rng)
    opt = rb.optim.SGD(cell.parameters() + head.parameters(), lr=LR)
    phases = {}
    for r in range(rounds + 1):
        for xb, yb in zip(x, y):
            t = [clock()]
            out, _ = cell(rb.tensor(xb))
            t.append(clock())
            loss = rb.losses.cross_entropy(head(out.reshape(BATCH * SEQ, HIDDEN)), yb.reshape(-1))
            t.append(clock())
            opt.zero_grad()
            loss.backward()
            t.append(clock())
            opt.step()
            t.append(clock())
            if r:
                for name, a, b in (("recurrent layer forward", 0, 1),
                                   ("read-out + softmax-CE forward", 1, 2),
                                   ("backward (all of it)", 2, 3), ("SGD step", 3, 4),
                                   ("whole step", 0, 4)):
                    phases.setdefault(name, []).append(t[b] - t[a])
    for name, v in phases.items():
        print(f"{name:42s} {statistics.median(v) * 1e3:7.3f} ms")
    def rand(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    G = (4 if kind == "LSTM" else 3) * HIDDEN
    h, W, dA = rand(BATCH, HIDDEN), rand(HIDDEN, G), rand(BATCH, G)
    WT = np.ascontiguousarray(W.T)
    outs, dAs = rand(BATCH * SEQ, HIDDEN), rand(BATCH * SEQ, G)
    Wo, dL = rand(HIDDEN, VOCAB), rand(BATCH * SEQ, VOCAB)
    gemms = (("recurrent h W_h, forward", SEQ, lambda: h @ W),
             ("recurrent dA W_h^T, backward", SEQ, lambda: dA @ WT),
             ("dW_h over all steps", 1, lambda: outs.T @ dAs),
             ("read-out: forward, dW, dX", 1, lambda: (outs @ Wo, outs.T @ dL, dL @ Wo.T)))
    total = 0.0
    for name, per_step, fn in gemms:
        fn()
        v = []
        for _ in range(7):
            t0 = clock()
            for _ in range(20):
                fn()
            v.append((clock() - t0) / 20)
        ms = statistics.median(v) * per_step * 1e3
        total += ms
        print(f"GEMM {name:37s} {ms:7.3f} ms" + (f"  ({per_step} calls)" if per_step > 1 else ""))
    print(f"{'GEMMs of one step, timed alone':42s} {total:7.3f} ms")


if __name__ == "__main__":
    breakdown(*sys.argv[1:2])
