"""Fixtures of the CLI tests."""

import pytest

import rosenblatt as rb


@pytest.fixture
def no_training(monkeypatch):
    """rb.fit and every tune trial fail the test if called: the error is found before."""
    def fit(*args, **kwargs):
        raise AssertionError("training started before the user error was found")

    monkeypatch.setattr(rb, "fit", fit)
    monkeypatch.setattr(rb.tuning, "tune_fit", fit)
    monkeypatch.setattr(rb.tuning.networks, "train_trial", fit)
