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
is allowed; :func:`kernel_threads` limits them within a block. The convolution and
pooling ops split their whole work over the library's own threads instead when
:func:`parts` says so (only when kernel threads are asked for), NumPy's BLAS held at one
thread meanwhile (:func:`run_parts`): one thread pool at a time. See
docs/architecture.md ("Compiled kernels and threads").
"""

import _thread
import os
import sys
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


_load_lock = threading.Lock()


def _import_kernels():
    """The module of compiled kernels, or None when the fast extra is not installed."""
    try:
        from . import _numba_kernels
    except ImportError:  # NumPy does it all
        return None
    return _numba_kernels


def _load():
    """The module of compiled kernels (imported on the first call), or None.

    Threads that ask while the first one imports (a second or so: Numba) wait for it under
    a lock, and ``tried`` is set only once ``module`` holds the answer: a worker of
    ``fit(distributed="threads")`` asking meanwhile was told "no kernels" and ran the NumPy
    path for that op, so the first threaded run differed in its last bits from the next.
    """
    if _state["tried"]:
        return _state["module"]
    with _load_lock:
        if not _state["tried"]:
            module = _import_kernels()
            _state["module"] = module
            _state["env_threads"] = env_threads()
            threads = _state["threads"] or _state["env_threads"]
            if module is not None and threads:
                _set_numba_threads(threads)
            _state["tried"] = True
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


def kernels():
    """The module of compiled kernels, or None when the NumPy path must run (one check for
    an op that uses several)."""
    return _state["module"] if enabled() else None


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
    if threads_for(size) > 1:
        return getattr(_state["module"], name + "_parallel")
    return getattr(_state["module"], name)


def threads_for(size=None):
    """How many threads a compiled kernel over ``size`` elements (None: large) may use now,
    under :func:`threaded`'s policy: the kernel threads set, when the caller is the main
    thread and the work is at least ``PARALLEL_MIN_SIZE``; else 1."""
    threads = _state["threads"] or _state["env_threads"] or _state["default_threads"]
    if (threads > 1 and (size is None or size >= PARALLEL_MIN_SIZE)
            and threading.current_thread() is threading.main_thread()):
        return int(threads)
    return 1


# -- one thread pool at a time: the convolution and pooling ops split over our own threads ------
#
# By default a convolution runs its GEMMs on OpenBLAS's threads and everything else (im2col,
# col2im, bias + ReLU, pooling) on one core: on the quiet 2-core VM that was the fastest (see
# parts). Numba's threads beside OpenBLAS's made it slower (two pools wanting the same cores,
# OpenBLAS's workers spinning after each GEMM). When kernel threads are asked for, the op
# splits its whole work in ``parts`` (a range of images, of rows or of planes each) and runs
# them on threads of its own, the caller one of them: the serial kernels release the GIL,
# NumPy's matmul too, and NumPy's BLAS runs one thread per call meanwhile (set back when the
# op ends), so one pool works at a time.

_blas = {"tried": False, "controller": None}


def _blas_controller():
    """threadpoolctl's controller of NumPy's own BLAS, or None (threadpoolctl missing, or its
    BLAS not found). Looked up once: about 10 ms."""
    if not _blas["tried"]:
        _blas["tried"] = True
        try:
            import numpy
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return None
        found = ThreadpoolController().select(user_api="blas").lib_controllers
        home = os.path.dirname(os.path.dirname(os.path.abspath(numpy.__file__)))
        mine = [c for c in found
                if os.path.abspath(c.filepath).startswith(os.path.join(home, "numpy"))]
        if len(mine) == 1:
            _blas["controller"] = mine[0]
        elif len(found) == 1:  # a system BLAS NumPy links to (conda, distributions)
            _blas["controller"] = found[0]
    return _blas["controller"]


def parts(size=None):
    """In how many parts a convolution or pooling op splits its work over threads (1: none).

    The kernels' thread count when set (:func:`set_num_threads`, ``ROSENBLATT_NUM_THREADS``,
    :func:`kernel_threads`), else 1: on the quiet 2-core VM (native OpenBLAS kernels, 11
    alternating rounds of 10 LeNet-5 steps) the ops split in two with BLAS at one thread
    inside took 3.94 ms a step against 3.06 ms for serial kernels beside OpenBLAS's own two
    threads, so the split is opt-in like the threaded twins before it. 1 also when the compiled
    kernels are off, NumPy's BLAS cannot be told to use one thread (no threadpoolctl), the
    caller is not the main thread (our worker threads serve one op at a time) or the work
    (``size`` elements) is under ``PARALLEL_MIN_SIZE``.
    """
    if (size is not None and size < PARALLEL_MIN_SIZE) or not enabled():
        return 1
    if threading.current_thread() is not threading.main_thread():
        return 1
    controller = _blas_controller()
    if controller is None:
        return 1
    threads = _state["threads"] or _state["env_threads"]
    if threads is None:
        return 1
    return max(1, min(int(threads), _cpus()))


def _cpus():
    """The machine's logical cores (``os.cpu_count`` costs ~40 us a call: asked once)."""
    if "cpus" not in _blas:
        _blas["cpus"] = os.cpu_count() or 1
    return _blas["cpus"]


class _Worker:
    """A daemon thread that runs ``fn(k)`` when told to (started on first use, never at import).

    Two raw locks hand the work over (cheaper than events): ``go`` is released to start a
    job, ``done`` when it is finished."""

    def __init__(self):
        self.go = _thread.allocate_lock()
        self.done = _thread.allocate_lock()
        self.go.acquire()
        self.done.acquire()
        self.job = None
        self.error = None
        threading.Thread(target=self._loop, name="rosenblatt-part", daemon=True).start()

    def _loop(self):
        while True:
            self.go.acquire()
            fn, k = self.job
            try:
                fn(k)
            except BaseException as error:  # handed to the caller
                self.error = error
            self.job = None
            self.done.release()


_workers = []


def run_parts(fn, n):
    """Run ``fn(0), ..., fn(n - 1)`` at once: ``fn(0)`` in the caller, the others on worker
    threads, with NumPy's BLAS at one thread meanwhile; returns when all are done and raises
    the first error. ``n == 1`` just calls ``fn(0)``.

    Each ``fn(k)`` must write only its own part of the outputs and spend its time in code that
    releases the GIL (compiled kernels, NumPy's matmul); only the main thread may call this
    (see :func:`parts`). Outputs written part by part do not depend on ``n``; a sum that the
    caller adds up from per-part partial sums does, in its last bits (floating-point addition
    is not associative): the weight and bias gradients of the single-channel direct
    convolution (``nn/conv.py``, ``_conv2d_direct``) differ by about one rounding between
    one and two threads, while reruns at the same ``n`` are identical.
    """
    if n <= 1 or threading.current_thread() is not threading.main_thread():
        for k in range(n):  # the workers serve the main thread only
            fn(k)
        return
    while len(_workers) < n - 1:
        _workers.append(_Worker())
    controller = _blas_controller()
    blas = controller.get_num_threads() if controller is not None else 1
    if blas > 1:
        controller.set_num_threads(1)
    errors = []
    try:
        for k in range(1, n):
            worker = _workers[k - 1]
            worker.job = (fn, k)
            worker.go.release()
        try:
            fn(0)  # an error here leaves after the workers' errors are collected and cleared
        finally:
            for worker in _workers[:n - 1]:
                worker.done.acquire()
                if worker.error is not None:
                    errors.append(worker.error)
                    worker.error = None  # handed over once: never raised by a later call
    finally:
        if blas > 1:
            controller.set_num_threads(blas)
    if errors:
        raise errors[0]


def bounds(total, n):
    """``n + 1`` cut points splitting ``range(total)`` into ``n`` nearly equal parts."""
    return [total * k // n for k in range(n + 1)]


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
    """Numba's thread count set to ``n``, capped at its pool's size; returns the count."""
    import numba

    n = max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    return n


def _numba_pool_size():
    """The most threads Numba's pool can run (``NUMBA_NUM_THREADS``), without importing
    Numba when it is not loaded yet: its own rule, the environment variable or else the
    CPUs this process may use."""
    numba = sys.modules.get("numba")
    if numba is not None:
        return numba.config.NUMBA_NUM_THREADS
    try:
        return max(1, int(os.environ["NUMBA_NUM_THREADS"]))
    except (KeyError, ValueError):
        pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def set_num_threads(n):
    """Use ``n`` threads for NumPy's BLAS (via threadpoolctl, if installed) and Numba.

    Parameters
    ----------
    n : int
        A positive thread count.

    Returns
    -------
    dict
        What was set: ``{"blas": n or None, "numba": threads or None}`` (None where the
        library is not there); Numba's count is capped at its pool's size,
        ``NUMBA_NUM_THREADS`` (by default the CPUs), so it may be less than ``n``.

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
        done["numba"] = _set_numba_threads(n)
        return done
    try:
        import importlib.util

        numba_there = importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):
        numba_there = False
    done["numba"] = min(n, _numba_pool_size()) if numba_there else None
    return done
