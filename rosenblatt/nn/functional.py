"""Functional forms of the layers: ``rb.nn.functional.relu(x)`` etc.

Only re-exports; each function is defined in its concept's module.
"""

from .dense import dense

__all__ = ["dense"]
