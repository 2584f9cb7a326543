"""Shared fixtures: a seeded generator, strict floating-point errors, torch when present."""


import numpy as np
import pytest

_blas_limit = None

try:  # property tests draw the same examples on every run: a failure always reproduces
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("rosenblatt", derandomize=True, deadline=None)
    _hypothesis_settings.load_profile("rosenblatt")
except ImportError:
    pass


def pytest_configure(config):
    """One BLAS thread per test process (DESIGN principle 9), with or without pytest-xdist.

    Under xdist that is n workers on n cores, no oversubscription; in a single process it
    keeps the learning tests from fighting other work on a shared 2-core machine.
    Oversubscribed OpenBLAS threads spin against each other and made the learning tests
    several times slower on 2 cores.
    """
    global _blas_limit
    from rosenblatt.autodiff import _kernels

    _kernels.kernel_threads(1).__enter__()  # the compiled kernels too (for the whole session)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    _blas_limit = threadpool_limits(limits=1, user_api="blas")


@pytest.fixture
def restore_threads():
    """For a test that calls ``rb.set_num_threads``: afterwards one BLAS thread and one kernel
    thread again. ``set_num_threads`` sets the process's BLAS pool; left at 2 or more in an
    xdist worker it oversubscribed the 2 cores for every later test (the suite ran 14 min
    instead of ~8)."""
    from rosenblatt.autodiff import _kernels

    before = _kernels._state["threads"]
    yield
    _kernels._state["threads"] = before
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=1, user_api="blas")


@pytest.fixture
def rng():
    """A fresh, seeded generator for each test."""
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _strict_float_errors():
    """Turn silent NaN/overflow into errors inside tests, where they hide bugs."""
    with np.errstate(divide="raise", over="raise", invalid="raise"):
        yield


@pytest.fixture
def both():
    """``both(fn)`` runs ``fn()`` with the compiled kernels on, then off: ``(fast, slow)``."""
    from rosenblatt.autodiff import _kernels

    def run(fn):
        try:
            _kernels.use_numba(True)
            fast = fn()
            _kernels.use_numba(False)
            slow = fn()
        finally:
            _kernels.use_numba(None)
        return fast, slow

    return run


@pytest.fixture
def torch():
    """PyTorch, the reference; tests using it are skipped when it is absent."""
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float64)
    return torch


@pytest.fixture
def quick_chapter():
    """Run one tour chapter in quick mode; fails unless it ran cleanly and confirmed every claim.

    Returns the chapter's result (claims, blocks) for the test's own further checks.
    """
    import io

    from rosenblatt.tour import run_tour

    def run(name, out):
        tour = run_tour(quick=True, out=out, only=[name], log=io.StringIO())
        (result,) = tour.results
        assert not result.error
        failed = [(c.text, c.detail) for c in result.claims if not c.passed]
        assert not failed
        return result

    return run
