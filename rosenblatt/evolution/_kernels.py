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

