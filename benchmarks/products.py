"""The matrix products of the MLP and char-LSTM workloads alone: NumPy's BLAS against PyTorch's.

Issue 23's ratios to PyTorch are bounded by these: a training step of either library is
its products plus the rest, and rosenblatt runs its products through NumPy (OpenBLAS in
the PyPI wheels) where PyTorch's CPU wheels use MKL. Each product is timed as the best
of ``rounds`` rounds of ``calls`` calls into a preallocated output, all of NumPy's rounds
of a product and then all of PyTorch's (alternated round by round at two threads, the
pool that has just worked still spins on the cores while the other starts: PyTorch's
LSTM step read 65 us instead of 17), with both libraries held at the same thread count
(threadpoolctl for NumPy's BLAS, ``torch.set_num_threads``); the shapes and operand
layouts are those the layers use (``nn/dense.py``: ``x W``, ``x^T g``, ``g W^T``; the
LSTM's step: ``h W_h`` and ``dA W_h^T`` with ``W_h^T`` made contiguous once).

Run from the repository root (PyTorch and threadpoolctl from the test extra)::

    python -m benchmarks.products --threads 1,2 --rounds 15
"""

import argparse

import numpy as np

from benchmarks.common import best_per_call, optional

# (name, shape of A, shape of B, A transposed, B transposed, calls per training step):
# C = op(A) op(B); the char-LSTM (seq 50) makes its two step products 50 times a step
MLP = (("forward 1: x W1", (128, 784), (784, 256), False, False, 1),
       ("forward 2: h W2", (128, 256), (256, 256), False, False, 1),
       ("forward 3: h W3", (128, 256), (256, 10), False, False, 1),
       ("dW1: x^T g", (784, 128), (128, 256), True, False, 1),
       ("dW2: h^T g", (256, 128), (128, 256), True, False, 1),
       ("dX2: g W2^T", (128, 256), (256, 256), False, True, 1),
       ("dW3: h^T g3", (256, 128), (128, 10), True, False, 1),
       ("dX3: g3 W3^T", (128, 10), (10, 256), False, True, 1))
LSTM = (("LSTM step: h W_h", (32, 128), (128, 512), False, False, 50),
        ("LSTM step back: dA W_h^T", (32, 512), (512, 128), False, False, 50),
        ("LSTM dW_h: H^T dA", (128, 1600), (1600, 512), True, False, 1))


def _operands(rng, a_shape, b_shape, a_t, b_t):
    """float32 operands laid out as the layers hold them (a transposed view when marked)."""
    a = rng.standard_normal(a_shape[::-1] if a_t else a_shape, dtype=np.float32)
    b = rng.standard_normal(b_shape[::-1] if b_t else b_shape, dtype=np.float32)
    return (a.T if a_t else a), (b.T if b_t else b)


def measure(threads=1, rounds=15, calls=50, shapes=MLP + LSTM):
    """``[(name, numpy_us, torch_us, calls_per_step)]`` for each product at ``threads``
    threads; torch_us is None when PyTorch is not installed."""
    torch, tpc = optional("torch"), optional("threadpoolctl")
    if tpc is None:
        raise RuntimeError("benchmarks.products needs threadpoolctl (pip install threadpoolctl)")
    if torch is not None:
        torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    rows = []
    with tpc.threadpool_limits(threads, user_api="blas"):
        for name, a_shape, b_shape, a_t, b_t, per_step in shapes:
            a, b = _operands(rng, a_shape, b_shape, a_t, b_t)
            out = np.empty((a.shape[0], b.shape[1]), np.float32)
            np_call = lambda a=a, b=b, out=out: np.matmul(a, b, out=out)  # noqa: E731
            t_np = best_per_call(np_call, calls, rounds)  # NumPy's rounds, then PyTorch's
            t_torch = None
            if torch is not None:
                ta, tb = torch.from_numpy(a), torch.from_numpy(b)
                tout = torch.from_numpy(out.copy())
                t_call = lambda ta=ta, tb=tb, tout=tout: torch.mm(ta, tb, out=tout)  # noqa: E731
                t_torch = best_per_call(t_call, calls, rounds) * 1e6
            rows.append((name, t_np * 1e6, t_torch, per_step))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--calls", type=int, default=50)
    args = p.parse_args(argv)
    for threads in (int(t) for t in args.threads.split(",")):
        rows = measure(threads, args.rounds, args.calls)
        print(f"\n{threads} thread(s), best of {args.rounds} x {args.calls} calls, us per call")
        print("| product | NumPy | PyTorch | NumPy / PyTorch |\n|---|---|---|---|")
        totals = {}
        for name, t_np, t_torch, per_step in rows:
            group = "LSTM" if name.startswith("LSTM") else "MLP"
            if t_torch is None:
                print(f"| {name} | {t_np:.1f} | - | - |")
                continue
            s = totals.setdefault(group, [0.0, 0.0])
            s[0] += per_step * t_np
            s[1] += per_step * t_torch
            print(f"| {name} | {t_np:.1f} | {t_torch:.1f} | {t_np / t_torch:.2f}x |")
        for group, (t_np, t_torch) in totals.items():
            print(f"| **the {group}'s products in a training step** | {t_np:.0f} | "
                  f"{t_torch:.0f} | **{t_np / t_torch:.2f}x** |")


if __name__ == "__main__":
    main()
