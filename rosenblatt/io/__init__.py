"""Persistence: safe model files, checkpoints and atomic writes (DESIGN principle 7).

``rb.save`` / ``rb.load`` write and read one safetensors file (weights, plus
the architecture as JSON in its metadata); see :mod:`.serialization` for the
file layout and checkpoints, and :mod:`rosenblatt.nn.registry` for how layer
types describe themselves (the protocol custom layers follow; ``register``
and ``registered`` are re-exported here). :func:`export_onnx` writes a model
as an ONNX graph (:mod:`.onnx`; needs the ``onnx`` extra).
"""

from ..nn.registry import register, registered
from .atomic import atomic_write, clean_stale_temporaries, write_bytes_atomic
from .errors import FormatError
from .onnx import UnsupportedLayerError, export_onnx
from .serialization import FORMAT_VERSION, Checkpoint, load, load_checkpoint, restore, save

__all__ = [
    "FORMAT_VERSION",
    "Checkpoint",
    "FormatError",
    "UnsupportedLayerError",
    "atomic_write",
    "clean_stale_temporaries",
    "export_onnx",
    "load",
    "load_checkpoint",
    "register",
    "registered",
    "restore",
    "save",
    "write_bytes_atomic",
]
