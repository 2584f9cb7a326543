"""Per-op overhead: a Tensor op on 8x8 float32 arrays against the bare NumPy call it wraps.

On arrays this small NumPy itself takes well under a microsecond, so the
difference is what the autodiff layer costs per op: the Python wrapper, the
backward closure and the graph node. Every input requires grad, so each op
records its node, as in training. The last workload runs forward and backward
of a five-op graph, ``sum(tanh(A @ B) * B + A)``, against the same forward and
backward written out by hand in NumPy, and reports the cost per op.

Target (issue 2): at most 3 microseconds per op over NumPy.

Run as a script for a quick table (CPU time, best of several repeats)::

    python -m benchmarks.workloads.op_overhead
"""

import sys
import time
import timeit
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import rosenblatt as rb  # noqa: E402
from benchmarks.common import torch_or_none  # noqa: E402

TARGET_US = 3.0
SHAPE = (8, 8)
GRAPH_OPS = 5


def _arrays():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(SHAPE).astype(np.float32)
    b = rng.standard_normal(SHAPE).astype(np.float32)
    return a, b


def _ops():
    """name -> (rosenblatt op, NumPy op, torch op), each a function of two operands."""
    idx = (slice(1, 5), slice(None))
    return {
        "add": (lambda x, y: x + y, lambda x, y: x + y, lambda x, y: x + y),
        "mul": (lambda x, y: x * y, lambda x, y: x * y, lambda x, y: x * y),
        "matmul": (lambda x, y: x @ y, lambda x, y: x @ y, lambda x, y: x @ y),
        "tanh": (lambda x, y: x.tanh(), lambda x, y: np.tanh(x), lambda x, y: x.tanh()),
        "sum": (lambda x, y: x.sum(), lambda x, y: x.sum(), lambda x, y: x.sum()),
        "getitem": (lambda x, y: x[idx], lambda x, y: x[idx], lambda x, y: x[idx]),
    }


def _repeat(op, x, y, n):
    def run():
        for _ in range(n):
            op(x, y)

    return run


def _graph_rb(a, b, n):
    ta, tb = rb.tensor(a, requires_grad=True), rb.tensor(b, requires_grad=True)

    def run():
        for _ in range(n):
            ((ta @ tb).tanh() * tb + ta).sum().backward()

    return run


def _graph_numpy(a, b, n):
    """The same forward and backward, written by hand with the fastest NumPy calls."""

    def run():
        for _ in range(n):
            t = np.tanh(a @ b)
            (t * b + a).sum()
            gy = np.empty_like(a)  # d sum / d (t * b + a)
            gy.fill(1)
            gm = gy * b * (1 - t * t)  # through * b, then tanh' = 1 - tanh^2
            gm @ b.T + gy  # dA: the matmul path plus the "+ A" path
            a.T @ gm + gy * t  # dB: the matmul path plus the "* B" path

    return run


def _graph_torch(torch, a, b, n):
    ta = torch.tensor(a, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)

    def run():
        for _ in range(n):
            ((ta @ tb).tanh() * tb + ta).sum().backward()

    return run


def _overhead_check(result, results):
    ref = result["references"].get("numpy", {})
    if "value" not in ref:
        return None
    overhead = result["rosenblatt"]["value"] - ref["value"]
    result["overhead_us"] = overhead
    result["notes"] = f"overhead over NumPy: {overhead:.2f} us/op"
    return overhead <= TARGET_US


def workloads(quick):
    n = 2_000 if quick else 20_000
    n_graph = 200 if quick else 2_000
    a, b = _arrays()
    ta, tb = rb.tensor(a, requires_grad=True), rb.tensor(b, requires_grad=True)
    torch = torch_or_none()
    out = []
    for name, (rb_op, np_op, torch_op) in _ops().items():
        torch_fn = None
        if torch is not None:
            xa = torch.tensor(a, requires_grad=True)
            xb = torch.tensor(b, requires_grad=True)
            torch_fn = _repeat(torch_op, xa, xb, n)
        out.append({
            "name": f"op overhead: {name} 8x8 (records graph)",
            "unit": "us/op",
            "work": n,
            "rosenblatt": _repeat(rb_op, ta, tb, n),
            "references": {"numpy": _repeat(np_op, a, b, n), "pytorch": torch_fn},
            "target": f"<= {TARGET_US:g} us over NumPy",
            "check": _overhead_check,
        })
    out.append({
        "name": f"op overhead: forward+backward, {GRAPH_OPS}-op graph 8x8 (per op)",
        "unit": "us/op",
        "work": n_graph * GRAPH_OPS,
        "rosenblatt": _graph_rb(a, b, n_graph),
        "references": {
            "numpy": _graph_numpy(a, b, n_graph),
            "pytorch": None if torch is None else _graph_torch(torch, a, b, n_graph),
        },
        "target": f"<= {TARGET_US:g} us over NumPy",
        "check": _overhead_check,
    })
    return out


def _best_us(fn, work, repeats=7):
    """Best CPU time per unit of work over ``repeats`` calls (robust on a shared machine)."""
    fn()
    return min(timeit.repeat(fn, number=1, repeat=repeats, timer=time.process_time)) / work * 1e6


def main():
    print(f"{'op (8x8 float32, grad recorded)':44s} {'rosenblatt us':>13s} {'numpy us':>9s} "
          f"{'overhead us':>11s}")
    for w in workloads(quick=False):
        rb_us = _best_us(w["rosenblatt"], w["work"])
        np_us = _best_us(w["references"]["numpy"], w["work"])
        name = w["name"].removeprefix("op overhead: ").replace(" (records graph)", "")
        print(f"{name:44s} {rb_us:13.2f} {np_us:9.2f} {rb_us - np_us:11.2f}")


if __name__ == "__main__":
    main()
