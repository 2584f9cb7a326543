"""The ``rosenblatt`` command: train, evaluate, predict, datasets, tour."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
