"""Helpers shared by the workload modules: optional references, thread counts, and the
one-epoch SGD training loop that the MLP and CNN workloads time in each library.

The harness (``benchmarks/run.py``) sets PyTorch's thread count to NumPy's
BLAS thread count before any workload is built, so that both libraries use
the same cores; workloads only need :func:`optional` to get a reference that
may not be installed, and :func:`ratios_met` / :func:`all_of` to judge a target.
"""

import importlib
import os
import time


def optional(name):
    """The module ``name``, or None when it is not installed (or fails to import)."""
    try:
        return importlib.import_module(name)
    except Exception:  # ImportError, or a broken install: the reference is skipped either way
        return None


def all_of(*verdicts):
    """Three-valued "and" of verdicts (True, False or None: not judged): False when any is
    False, else None when any is None (a part of the target went unjudged, so the whole may
    not say "met"), else True."""
    if any(v is not None and not v for v in verdicts):
        return False
    if any(v is None for v in verdicts):
        return None
    return True


def ratios_met(references, target_ratio):
    """Whether rosenblatt's ratio to each reference of ``target_ratio`` ({name: least ratio})
    is at least that: :func:`all_of` the comparisons, a reference without a ratio (skipped,
    failed, absent) counting as not judged; None when ``target_ratio`` is empty."""
    if not target_ratio:
        return None
    ratios = {ref: references.get(ref, {}).get("ratio") for ref in target_ratio}
    return all_of(*(None if ratios[ref] is None else bool(ratios[ref] >= need)
                    for ref, need in target_ratio.items()))


def blas_threads():
    """How many threads NumPy's BLAS uses (threadpoolctl), or the CPU count."""
    tpc = optional("threadpoolctl")
    if tpc is not None:
        blas = [i for i in tpc.threadpool_info() if i.get("user_api") == "blas"]
        numpy_own = [i for i in blas if "numpy" in i.get("filepath", "")]
        for info in numpy_own or blas:
            return int(info["num_threads"])
    return os.cpu_count() or 1


def torch_or_none():
    """PyTorch set up as the reference (float32 default, BLAS thread count), or None."""
    torch = optional("torch")
    if torch is not None:
        torch.set_num_threads(blas_threads())
        torch.set_default_dtype(torch.float32)
    return torch


def rosenblatt_sgd_epoch(model, x, y, batch, lr, momentum, seed=1, threads=None):
    """``epoch()``: one shuffled pass of SGD-momentum with softmax cross-entropy, the way a
    rosenblatt user writes the loop; with ``threads``, data-parallel over that many threads
    (``rb.distributed.ThreadParallel``: each thread the forward and backward pass of its part
    of every batch, one BLAS thread each; the gradients summed, one step), or None when the
    library has no ``ThreadParallel``. ``epoch.model`` is the trained model."""
    import numpy as np

    import rosenblatt as rb

    opt = rb.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    parallel = None
    if threads is not None:
        make = getattr(getattr(rb, "distributed", None), "ThreadParallel", None)
        if make is None:
            return None
        parallel = make(model, opt, threads=threads)
    order = np.random.default_rng(seed)
    n = len(x)

    def epoch():
        perm = order.permutation(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            if parallel is not None:
                def loss(m, part, idx=idx):
                    return rb.losses.cross_entropy(m(rb.tensor(x[idx[part]])), y[idx[part]])

                parallel.backward(loss, len(idx))
            else:
                loss = rb.losses.cross_entropy(model(rb.tensor(x[idx])), y[idx])
                opt.zero_grad()
                loss.backward()
            opt.step()

    epoch.model = model
    return epoch


def pytorch_sgd_epoch(torch, model, x, y, batch, lr, momentum, seed=1):
    """The same epoch in PyTorch (float32, integer labels)."""
    import numpy as np

    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    gen = torch.Generator().manual_seed(seed)
    n = len(x)

    def epoch():
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            loss = loss_fn(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()

    return epoch


def best_per_call(fn, calls, rounds=1):
    """Seconds per call of ``fn``: one warm-up call, then the fastest of ``rounds`` rounds of
    ``calls`` calls (other programs only ever add time)."""
    fn()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best
