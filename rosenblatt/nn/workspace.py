"""Reusable scratch arrays for the large temporaries of fused ops (conv, pooling).

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
twice. The pool is bounded (a few arrays per shape, a few dozen shapes, the
oldest shape dropped first), so at worst it costs a little memory.
"""

import sys

import numpy as np

MAX_PER_SHAPE = 3
MAX_SHAPES = 48

_pool = {}  # (shape, dtype) -> list of arrays, oldest key first

# References to a free pooled array inside ``empty``: the pool's list, the loop
# variable and getrefcount's own argument.
_FREE_REFS = 3


def empty(shape, dtype):
    """An uninitialised array of ``shape`` and ``dtype``, recycled when one is free."""
    key = (tuple(shape), np.dtype(dtype))
    arrays = _pool.get(key)
    if arrays is None:
        if len(_pool) >= MAX_SHAPES:
            del _pool[next(iter(_pool))]
        arrays = _pool[key] = []
    for a in arrays:
        if sys.getrefcount(a) == _FREE_REFS:
            return a
    a = np.empty(shape, dtype=dtype)
    if len(arrays) < MAX_PER_SHAPE:
        arrays.append(a)
    return a


def zeros(shape, dtype):
    """Like :func:`empty`, filled with zeros."""
    a = empty(shape, dtype)
    a.fill(0)
    return a


def clear():
    """Drop every pooled array (their memory is freed once no one uses them)."""
    _pool.clear()
