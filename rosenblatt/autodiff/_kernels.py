"""The optional compiled kernels (``pip install rosenblatt[fast]``) and the thread policy.

NumPy is the reference implementation and is always complete. A handful of
passes that NumPy cannot fuse (the LSTM's gate arithmetic per time step,
im2col/col2im, Adam's update) have Numba twins
in :mod:`rosenblatt.autodiff._numba_kernels`. :func:`get` returns such a
kernel, or None when the NumPy path must run:

- Numba is not installed (the fallback is automatic);
- the environment variable ``ROSENBLATT_NO_NUMBA=1`` is set (read at each
  call of :func:`enabled`, so tests can flip it with ``monkeypatch``);
- :func:`use_numba(False) <use_numba>` was called.

Numba is imported on the first :func:`get`, never at ``import rosenblatt``
(import time stays well under 0.5 s), and each kernel compiles on its first
call with ``cache=True`` (later processes load it from ``__pycache__``).

Threads: :func:`set_num_threads` sets NumPy's BLAS pools (through
threadpoolctl, when installed) and Numba's (at once if loaded, else when the
first kernel loads). ``ROSENBLATT_NUM_THREADS`` does the same at
``import rosenblatt``. The convolution and pooling kernels have a
multi-threaded twin that :func:`threaded` hands out when more than one thread
is allowed; :func:`kernel_threads` limits them within a block. See
docs/architecture.md ("Compiled kernels and threads").
"""

import os
import threading
from contextlib import contextmanager

_state = {"module": None, "tried": False, "forced": None, "threads": None, "env_threads": None,
          "default_threads": 1}


def use_numba(flag=None):
    """Force the compiled kernels on (True, when Numba is installed) or off (False);
    None returns to the default (on when installed, unless ``ROSENBLATT_NO_NUMBA`` is set)."""
    _state["forced"] = None if flag is None else bool(flag)


def _env_off():
    return os.environ.get("ROSENBLATT_NO_NUMBA", "").strip().lower() not in ("", "0", "false", "no")


def _load():
    if not _state["tried"]:
        _state["tried"] = True
        try:
            from . import _numba_kernels
        except ImportError:  # the fast extra is not installed: NumPy does it all
            _numba_kernels = None
        _state["module"] = _numba_kernels
        _state["env_threads"] = env_threads()
        threads = _state["threads"] or _state["env_threads"]
        if _numba_kernels is not None and threads:
            _set_numba_threads(threads)
    return _state["module"]


def env_threads():
    """``ROSENBLATT_NUM_THREADS`` as a positive int, or None when unset."""
    text = os.environ.get("ROSENBLATT_NUM_THREADS", "").strip()
    if not text:
        return None
    from ..checks import positive_int

    try:
        value = int(text)
    except ValueError:
        value = text
    return positive_int("ROSENBLATT_NUM_THREADS", "the environment variable", value)


def enabled():
    """Whether the compiled kernels run (Numba installed and not switched off)."""
    if _state["forced"] is False or (_state["forced"] is None and _env_off()):
        return False
    return _load() is not None


def get(name):
    """The compiled kernel ``name``, or None when the NumPy path must run."""
    if not enabled():
        return None
    return getattr(_state["module"], name)


PARALLEL_MIN_SIZE = 1 << 15  # array elements a kernel passes over before threads pay off


def threaded(name, size=None):
    """The compiled kernel ``name`` for now: its multi-threaded twin ``name_parallel`` when the
    kernels may use more than one thread (:func:`set_num_threads`, ``ROSENBLATT_NUM_THREADS``,
    else one: on 2 cores LeNet's epoch took 0.61 s with the threaded kernels beside
    OpenBLAS's two threads, 0.47 s with serial ones), the caller is the main thread and
    the work (``size``, the elements the kernel passes over; None: large) is at least
    ``PARALLEL_MIN_SIZE``; else the serial kernel; None when the NumPy path must run.

    Only the main thread launches Numba's pool: its "workqueue" layer must not be entered
    by two threads at once. Small arrays stay serial: waking the pool costs tens of
    microseconds (and far more on a loaded machine).
    """
    if not enabled():
        return None
    threads = _state["threads"] or _state["env_threads"] or _state["default_threads"]
    if (threads > 1 and (size is None or size >= PARALLEL_MIN_SIZE)
            and threading.current_thread() is threading.main_thread()):
        return getattr(_state["module"], name + "_parallel")
    return getattr(_state["module"], name)


@contextmanager
def kernel_threads(n):
    """Within the block the compiled kernels use at most ``n`` threads (None: leave as is)."""
    if n is None:
        yield
        return
    before = _state["threads"]
    _state["threads"] = max(1, int(n))
    if _state["module"] is not None:
        _set_numba_threads(_state["threads"])
    try:
        yield
    finally:
        _state["threads"] = before
        if _state["module"] is not None:
            _set_numba_threads(before or _state["env_threads"] or _state["default_threads"])


def _set_numba_threads(n):
    import numba

    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))


def set_num_threads(n):
    """Use ``n`` threads for NumPy's BLAS (via threadpoolctl, if installed) and Numba.

    Parameters
    ----------
    n : int
        A positive thread count.

    Returns
    -------
    dict
        What was set: ``{"blas": n or None, "numba": n or None}`` (None where the
        library is not there).

    Examples
    --------
    >>> import rosenblatt as rb
    >>> sorted(rb.set_num_threads(1))
    ['blas', 'numba']
    """
    from ..checks import positive_int

    n = positive_int("set_num_threads", "n", n)
    done = {"blas": None, "numba": None}
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(limits=n, user_api="blas")
        done["blas"] = n
    _state["threads"] = n  # Numba's pool, now if loaded, else when the first kernel loads
    if _state["module"] is not None:
        _set_numba_threads(n)
    try:
        import importlib.util

        numba_there = importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):
        numba_there = False
    done["numba"] = n if numba_there else None
    return done
