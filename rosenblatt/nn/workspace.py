"""Reusable scratch arrays for the large temporaries of fused ops (conv, pooling, recurrent).

Why: a convolution step allocates several megabytes of temporaries (im2col
columns, padded inputs, their gradients). Fresh large allocations come from
the operating system as untouched pages, and the first write to each page
faults; in a training loop that cost is paid again every step and can exceed
the arithmetic itself (measured: 2-3x slower LeNet steps). PyTorch avoids it
with a caching allocator; this is the same idea, reduced to its core.

How: :func:`empty` hands out an array of the requested shape and dtype from a
small pool when the pool holds one that nobody references any more, else a
new one that the pool keeps. "Nobody references it" is read from CPython's
reference count: every view of an array (and every closure or tensor holding
it) holds a reference to its base, so an array in use is never handed out
twice. The pool is bounded (eight arrays per shape, a few dozen shapes, the
oldest shape dropped first, no array over 32 MiB: for those the arithmetic
dwarfs the page faults; 1 GiB in all), and it keeps only as many arrays of a
shape as were in use at once: about what the step needs anyway.
"""

import math
import sys
import threading

import numpy as np

MAX_PER_SHAPE = 8  # an LSTM holds five (time, batch, hidden) arrays at once
MAX_SHAPES = 48
MAX_BYTES = 32 * 2**20
MAX_TOTAL_BYTES = 2**30  # what the pool may keep in all

_pool = {}  # (shape, dtype) -> list of arrays, oldest key first
_total = 0  # bytes held by the pool
# Threads (rb.distributed.ThreadParallel) take arrays at once: the look-up and the caller's
# reference are taken under one lock, so an array is never handed to two of them.
_lock = threading.Lock()



def _refs(arrays, i):
    """The reference count of ``arrays[i]`` as seen from here."""
    return sys.getrefcount(arrays[i])


# What _refs reads for an array that only the pool's list holds: calibrated, not
# assumed, since interpreters differ in the temporary references they take.
_FREE_REFS = _refs([np.empty(1)], 0)


def empty(shape, dtype):
    """An uninitialised array of ``shape`` and ``dtype``, recycled when one is free."""
    dtype = np.dtype(dtype)
    if math.prod(shape) * dtype.itemsize > MAX_BYTES:
        return np.empty(shape, dtype=dtype)
    with _lock:  # the returned array is referenced by the caller before the lock is let go
        return _take(shape, dtype)


def _take(shape, dtype):
    global _total
    key = (tuple(shape), dtype)
    arrays = _pool.get(key)
    if arrays is None:
        if len(_pool) >= MAX_SHAPES:
            _total -= sum(a.nbytes for a in _pool.pop(next(iter(_pool))))
        arrays = _pool[key] = []
    for i in range(len(arrays)):
        if _refs(arrays, i) == _FREE_REFS:
            return arrays[i]
    a = np.empty(shape, dtype=dtype)
    if len(arrays) < MAX_PER_SHAPE and _total + a.nbytes <= MAX_TOTAL_BYTES:
        arrays.append(a)
        _total += a.nbytes
    return a


def zeros(shape, dtype):
    """Like :func:`empty`, filled with zeros."""
    a = empty(shape, dtype)
    a.fill(0)
    return a


def clear():
    """Drop every pooled array (their memory is freed once no one uses them)."""
    global _total
    with _lock:
        _pool.clear()
        _total = 0
