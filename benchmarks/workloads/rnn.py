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
"""

import numpy as np

import rosenblatt as rb
from benchmarks.common import torch_or_none

VOCAB, HIDDEN, SEQ, BATCH, LR = 65, 128, 50, 32, 0.1


def data(steps, seed=0):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, VOCAB, (steps, BATCH, SEQ + 1))
    eye = np.eye(VOCAB, dtype=np.float32)
    return eye[tokens[:, :, :-1]], tokens[:, :, 1:]


def rosenblatt_fn(kind, x, y):
    rng = np.random.default_rng(0)
    cell = getattr(rb.nn, kind)(VOCAB, HIDDEN, rng=rng)
    head = rb.nn.Dense(HIDDEN, VOCAB, rng=rng)
    params = cell.parameters() + head.parameters()
    opt = rb.optim.SGD(params, lr=LR)
    cross_entropy = rb.losses.cross_entropy

    def run():
        for xb, yb in zip(x, y):
            out, _ = cell(rb.tensor(xb))
            logits = head(out.reshape(BATCH * SEQ, HIDDEN))
            loss = cross_entropy(logits, yb.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()

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
    return out
