"""(b) Per-step overhead: a 2-8-1 tanh MLP on XOR, full batch, 10,000 SGD steps.

Four samples make every array tiny, so the time is almost all per-op
overhead (Python, graph bookkeeping, dispatch): forward, MSE loss, backward
and an SGD-with-momentum step per step. Target (issue 23): at least 5x
PyTorch's steps per second (PyTorch spends ~250 us per step here).
"""

import numpy as np

import rosenblatt as rb
from benchmarks.common import torch_or_none

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y = np.array([[0], [1], [1], [0]], dtype=np.float32)
LR, MOMENTUM = 0.1, 0.9


def rosenblatt_fn(steps):
    rng = np.random.default_rng(0)
    model = rb.nn.Sequential(rb.nn.Dense(2, 8, rng=rng), rb.nn.Tanh(),
                             rb.nn.Dense(8, 1, rng=rng))
    opt = rb.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    mse = rb.losses.mse
    x, y = rb.tensor(X), rb.tensor(Y)

    def run():
        for _ in range(steps):
            loss = mse(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    return run


def pytorch_fn(steps):
    torch = torch_or_none()
    if torch is None:
        return None
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    mse = torch.nn.MSELoss()
    x, y = torch.from_numpy(X), torch.from_numpy(Y)

    def run():
        for _ in range(steps):
            loss = mse(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    return run


def workloads(quick):
    steps = 2_000 if quick else 10_000
    return [{
        "name": f"xor 2-8-1 full batch, {steps:,} steps",
        "unit": "steps/s",
        "work": steps,
        "rosenblatt": rosenblatt_fn(steps),
        "references": {"pytorch": pytorch_fn(steps)},
        "target": ">= 5x PyTorch (issue 23)",
        "target_ratio": {"pytorch": 5.0},
    }]
