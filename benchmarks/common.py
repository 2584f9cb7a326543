"""Helpers shared by the workload modules: optional references and thread counts.

The harness (``benchmarks/run.py``) sets PyTorch's thread count to NumPy's
BLAS thread count before any workload is built, so that both libraries use
the same cores; workloads only need :func:`optional` to get a reference that
may not be installed.
"""

import importlib
import os


def optional(name):
    """The module ``name``, or None when it is not installed (or fails to import)."""
    try:
        return importlib.import_module(name)
    except Exception:  # ImportError, or a broken install: the reference is skipped either way
        return None


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
