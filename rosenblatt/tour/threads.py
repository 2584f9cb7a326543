"""Limiting NumPy's BLAS threads while the tour runs.

The tour's experiments multiply small matrices (tens to hundreds of rows),
for which one BLAS thread is fastest: several threads spend more time
synchronising than computing, and on a busy machine they fight for cores
(10x slower measured on 2 shared cores). threadpoolctl (a dependency of
scikit-learn, in the ``data`` extra) does the limiting; without it nothing
changes.
"""

from contextlib import contextmanager

from ..autodiff import _kernels


@contextmanager
def blas_threads(n):
    """Within the block, BLAS and the compiled kernels use at most ``n`` threads (``None``:
    leave them alone)."""
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        with _kernels.kernel_threads(n):
            yield
        return
    with threadpool_limits(limits=int(n), user_api="blas"), _kernels.kernel_threads(n):
        yield
