"""Which neuroevolution kernels run: the Numba ones (``rosenblatt[fast]``) or NumPy.

The same switch as :mod:`rosenblatt.autodiff._kernels` (Numba installed, not
``ROSENBLATT_NO_NUMBA=1``, not ``use_numba(False)``): :func:`get` returns a
kernel of :mod:`rosenblatt.evolution._numba_kernels`, or None when the NumPy
path must run. Numba is imported on the first :func:`get`, never at
``import rosenblatt``.
"""

from ..autodiff import _kernels as _base

_state = {"module": None}


def get(name):
    """The compiled kernel ``name``, or None when the NumPy path must run."""
    if not _base.enabled():
        return None
    module = _state["module"]
    if module is None:
        from . import _numba_kernels as module

        _state["module"] = module
    return getattr(module, name)


def threaded(name, size=None):
    """``(kernel, threads)``: the compiled kernel ``name`` and 1, or its multi-threaded twin
    ``name_parallel`` and the thread count, under the policy of
    :func:`rosenblatt.autodiff._kernels.threaded` (``threads_for``); ``(None, 1)`` when the
    NumPy path must run."""
    kernel = get(name)
    if kernel is None:
        return None, 1
    threads = _base.threads_for(size)
    if threads > 1:
        return getattr(_state["module"], name + "_parallel"), threads
    return kernel, 1
