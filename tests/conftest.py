"""Shared fixtures: a seeded generator, strict floating-point errors, torch when present."""

import numpy as np
import pytest


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
def torch():
    """PyTorch, the reference; tests using it are skipped when it is absent."""
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float64)
    return torch
