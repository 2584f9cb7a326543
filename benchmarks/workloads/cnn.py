"""(issue 6) Throughput: LeNet-5-style CNN on 1x28x28 images, batch 64, SGD momentum 0.9.

conv 5x5 (1 -> 6, "same") - ReLU - max-pool 2 - conv 5x5 (6 -> 16) - ReLU -
max-pool 2 - flatten (400) - dense 120 - ReLU - dense 84 - ReLU - dense 10,
softmax cross-entropy. One call trains one epoch of random MNIST-shaped
float32 samples in shuffled mini-batches of 64, written the way each
library's users would write it (PyTorch: ``nn.Conv2d``, ``max_pool2d``,
``CrossEntropyLoss``, ``optim.SGD``). Random data is enough for throughput.

Target (issue 23): rosenblatt's training throughput at least PyTorch CPU's
(ratio >= 1.0x), same thread count, plainly and through ``ThreadParallel``.
"""

import numpy as np

import rosenblatt as rb
from benchmarks.common import (
    blas_threads,
    pytorch_sgd_epoch,
    rosenblatt_sgd_epoch,
    torch_or_none,
)

BATCH, LR, MOMENTUM = 64, 0.01, 0.9


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, n)
    return x, y


def lenet(rng=None, fused=True):
    """The rosenblatt LeNet-5-style network (also used by the tests and the tour).

    ``fused``: the convolutions apply their ReLU inside the op (``activation="relu"``, the
    same function and gradients); False builds separate ``ReLU()`` layers.
    """
    nn = rb.nn
    act = "relu" if fused else None

    def relu():
        return [] if fused else [nn.ReLU()]

    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding="same", rng=rng, activation=act), *relu(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, rng=rng, activation=act), *relu(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dense(400, 120, rng=rng), nn.ReLU(),
        nn.Dense(120, 84, rng=rng), nn.ReLU(),
        nn.Dense(84, 10, rng=rng),
    )


def rosenblatt_fn(x, y):
    return rosenblatt_sgd_epoch(lenet(np.random.default_rng(0)), x, y, BATCH, LR, MOMENTUM)


def rosenblatt_threads_fn(x, y, threads=None):
    """The same epoch data-parallel over threads (two when NumPy's BLAS has two or more, as
    in the default mode; else one)."""
    return rosenblatt_sgd_epoch(lenet(np.random.default_rng(0)), x, y, BATCH, LR, MOMENTUM,
                                threads=threads or min(2, blas_threads()))


def pytorch_fn(x, y):
    torch = torch_or_none()
    if torch is None:
        return None
    torch.manual_seed(0)
    tnn = torch.nn
    model = tnn.Sequential(
        tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(),
        tnn.Linear(400, 120), tnn.ReLU(),
        tnn.Linear(120, 84), tnn.ReLU(),
        tnn.Linear(84, 10),
    )
    return pytorch_sgd_epoch(torch, model, x, y, BATCH, LR, MOMENTUM)


def workloads(quick):
    n = 1_280 if quick else 6_400
    x, y = data(n)
    torch_epoch = pytorch_fn(x, y)
    out = [{
        "name": f"cnn LeNet-5 1x28x28, batch {BATCH}, epoch of {n:,}",
        "unit": "samples/s",
        "work": n,
        "rosenblatt": rosenblatt_fn(x, y),
        "references": {"pytorch": torch_epoch, "sklearn": None},
        "target": ">= 1.0x PyTorch (issue 23)",
        "target_ratio": {"pytorch": 1.0},
    }]
    threads_epoch = rosenblatt_threads_fn(x, y)
    if threads_epoch is not None:
        out.append({
            "name": f"cnn LeNet-5 1x28x28 through ThreadParallel, batch {BATCH}, epoch of {n:,}",
            "unit": "samples/s",
            "work": n,
            "rosenblatt": threads_epoch,
            "references": {"pytorch": torch_epoch},
            "target": ">= 1.0x PyTorch (issue 23)",
            "target_ratio": {"pytorch": 1.0},
            "notes": "data-parallel over threads: each of two threads runs half of every "
                     "batch on its own replica (one BLAS thread per product), the gradients "
                     "are summed and SGD-momentum steps once; one thread when NumPy's BLAS "
                     "has one",
        })
    return out
