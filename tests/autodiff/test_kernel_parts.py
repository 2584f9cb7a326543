"""Convolution and pooling split over our own threads (``_kernels.parts`` / ``run_parts``).

At two or more threads the ops run their work in parts (ranges of images, rows or planes),
each on a thread with the serial kernels, NumPy's BLAS at one thread meanwhile. Here the
split runs on small arrays (``PARALLEL_MIN_SIZE`` set to 0) and is compared with the NumPy
twins (outputs and gradients, 1e-6) and with the unsplit kernels; the policy (how many
parts, when none, BLAS set back) is checked with a stand-in for threadpoolctl's controller.
"""

import importlib.util
import threading

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff import _kernels
from rosenblatt.nn import conv

HAVE_NUMBA = importlib.util.find_spec("numba") is not None
HAVE_TPC = importlib.util.find_spec("threadpoolctl") is not None
needs_split = pytest.mark.skipif(not (HAVE_NUMBA and HAVE_TPC),
                                 reason="needs the fast extra (numba and threadpoolctl)")


class FakeBlas:
    """Stands in for threadpoolctl's controller of NumPy's BLAS; records what was set."""

    def __init__(self, threads):
        self.threads = threads
        self.calls = []

    def get_num_threads(self):
        return self.threads

    def set_num_threads(self, n):
        self.calls.append(n)
        self.threads = n


def close(a, b, tol):
    for u, v in zip(a, b):
        assert u.dtype == v.dtype and u.shape == v.shape
        np.testing.assert_allclose(u, v, rtol=tol, atol=tol)


def net_run(xd, wd, bd, stride, padding, activation, pool):
    """One conv (+ pooling) forward and backward; the output and every gradient."""
    def run():
        x, w = rb.tensor(xd, requires_grad=True), rb.tensor(wd, requires_grad=True)
        b = None if bd is None else rb.tensor(bd, requires_grad=True)
        y = conv.conv2d(x, w, b, stride, padding, activation)
        if pool is not None:
            y = rb.nn.functional.max_pool2d(y, *pool)
        y.backward(np.cos(np.arange(y.data.size)).reshape(y.shape).astype(y.dtype))
        grads = [x.grad.copy(), w.grad.copy()] + ([] if b is None else [b.grad.copy()])
        return [y.data.copy()] + grads
    return run


CASES = [  # (input, weight, stride, padding, activation, bias, pooling (kernel, stride))
    ((5, 1, 12, 12), (4, 1, 5, 5), 1, "same", "relu", True, (2,)),
    ((4, 3, 9, 11), (5, 3, 3, 3), 1, "valid", None, True, (3, 2)),
    ((3, 2, 10, 10), (3, 2, 3, 2), 2, 1, "relu", False, (2, 1)),
    ((6, 2, 8, 8), (2, 2, 3, 3), 1, "full", "relu", True, None),
    ((4, 1, 9, 7), (3, 1, 3, 2), 1, (0, 1), None, False, None),  # direct, no ReLU, no bias
]


@needs_split
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("threads", [2, 3])
def test_split_ops_match_numpy_and_unsplit_kernels(monkeypatch, case, threads):
    shape, wshape, stride, padding, activation, bias, pool = case
    rng = np.random.default_rng(3)
    xd = rng.standard_normal(shape)
    xd = np.ascontiguousarray(xd.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)  # channel-major
    wd = rng.standard_normal(wshape)
    bd = rng.standard_normal(wshape[0]) if bias else None
    run = net_run(xd, wd, bd, stride, padding, activation, pool)
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_SIZE", 0)
    monkeypatch.setattr(_kernels, "_cpus", lambda: 4)  # three parts on two cores too
    calls = []
    real = _kernels.run_parts
    monkeypatch.setattr(_kernels, "run_parts", lambda fn, n: (calls.append(n), real(fn, n)))
    try:
        _kernels.use_numba(True)
        with _kernels.kernel_threads(threads):
            split = run()
        assert calls and all(n == threads for n in calls)  # the split path ran
        with _kernels.kernel_threads(1):
            assert _kernels.parts() == 1
            unsplit = run()
        _kernels.use_numba(False)
        numpy = run()
    finally:
        _kernels.use_numba(None)
    close(split, numpy, 1e-6)
    close(split, unsplit, 1e-9)


@needs_split
def test_split_float32_matches_numpy(monkeypatch):
    rng = np.random.default_rng(4)
    xd = rng.standard_normal((6, 2, 12, 12)).astype(np.float32)
    wd = rng.standard_normal((4, 2, 5, 5)).astype(np.float32)
    bd = rng.standard_normal(4).astype(np.float32)
    run = net_run(xd, wd, bd, 1, "same", "relu", (2,))
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_SIZE", 0)
    try:
        _kernels.use_numba(True)
        with _kernels.kernel_threads(2):
            split = run()
        _kernels.use_numba(False)
        numpy = run()
    finally:
        _kernels.use_numba(None)
    close(split, numpy, 1e-5)  # float32 sums of 50 terms of size ~10: 1e-6 relative


@needs_split
def test_parts_policy(monkeypatch):
    fake = FakeBlas(2)
    monkeypatch.setitem(_kernels._blas, "tried", True)
    monkeypatch.setitem(_kernels._blas, "controller", fake)
    monkeypatch.setitem(_kernels._state, "threads", None)
    monkeypatch.setitem(_kernels._state, "env_threads", None)
    monkeypatch.setattr(_kernels, "_cpus", lambda: 4)
    try:
        _kernels.use_numba(True)
        assert _kernels.parts() == 1  # opt-in: not split by default, whatever BLAS uses
        with _kernels.kernel_threads(2):
            assert _kernels.parts() == 2
            assert _kernels.parts(100) == 1  # too small to pay for a wake-up
            seen = []
            worker = threading.Thread(target=lambda: seen.append(_kernels.parts()))
            worker.start()
            worker.join()
            assert seen == [1]  # only the main thread splits
        with _kernels.kernel_threads(8):
            assert _kernels.parts() == 4  # at most one per core
        with _kernels.kernel_threads(3):
            monkeypatch.setitem(_kernels._blas, "controller", None)
            assert _kernels.parts() == 1  # BLAS cannot be held at one thread: no split
            monkeypatch.setitem(_kernels._blas, "controller", fake)
            _kernels.use_numba(False)
            assert _kernels.parts() == 1
    finally:
        _kernels.use_numba(None)


def test_run_parts_runs_every_part_and_sets_blas_back(monkeypatch):
    fake = FakeBlas(2)
    monkeypatch.setitem(_kernels._blas, "tried", True)
    monkeypatch.setitem(_kernels._blas, "controller", fake)
    done = {}
    _kernels.run_parts(lambda k: done.__setitem__(k, (fake.threads, threading.get_ident())), 3)
    assert sorted(done) == [0, 1, 2]
    assert all(threads == 1 for threads, _ in done.values())  # BLAS at one thread inside
    assert done[0][1] == threading.get_ident() and len({t for _, t in done.values()}) == 3
    assert fake.threads == 2 and fake.calls == [1, 2]

    def fail(k):
        if k == 1:
            raise ValueError("part 1 failed")

    with pytest.raises(ValueError, match="part 1 failed"):
        _kernels.run_parts(fail, 2)
    assert fake.threads == 2
    _kernels.run_parts(lambda k: None, 2)  # the error was handed over once, not kept

    seen = []
    worker = threading.Thread(target=lambda: _kernels.run_parts(
        lambda k: seen.append((k, threading.get_ident())), 2))
    worker.start()
    worker.join()
    assert [k for k, _ in seen] == [0, 1] and seen[0][1] == seen[1][1] == worker.ident


def test_run_parts_leaves_no_error_behind_when_every_part_fails():
    def fail(k):
        raise ValueError(f"part {k} failed")

    with pytest.raises(ValueError, match="part 0 failed"):  # the caller's own part first
        _kernels.run_parts(fail, 3)
    done = []
    _kernels.run_parts(done.append, 3)  # a later call whose parts all succeed
    assert sorted(done) == [0, 1, 2]


def test_bounds():
    assert _kernels.bounds(10, 3) == [0, 3, 6, 10]
    assert _kernels.bounds(1, 2) == [0, 0, 1]
