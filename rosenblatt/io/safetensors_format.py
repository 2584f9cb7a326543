"""The safetensors container: encoding with the official library, strict decoding in Python.

File layout (https://github.com/huggingface/safetensors): an 8-byte
little-endian header length N, N bytes of JSON header
``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
{str: str}}``, then the raw little-endian tensor bytes.

Writing is a few lines of Python too: the layout is simple, the bytes come out
the same for the same model on every save (the reference writer orders metadata
by a hash map), and safetensors 0.8.0's NumPy writer silently wrote the wrong
bytes for non-contiguous views (upstream issue #825).

Reading is a small strict parser instead of the library's: it checks every
length, offset, dtype and shape before touching the data and raises only
:class:`FormatError`, so a truncated, bit-flipped or hostile file can neither
crash the process (a Rust panic is not an ``Exception``) nor make it allocate
more than the file's own size.
"""

import json
import math
import struct

import numpy as np

from .errors import FormatError

_DTYPES = {
    "F16": "<f2",
    "F32": "<f4",
    "F64": "<f8",
    "I8": "i1",
    "I16": "<i2",
    "I32": "<i4",
    "I64": "<i8",
    "U8": "u1",
    "U16": "<u2",
    "U32": "<u4",
    "U64": "<u8",
    "BOOL": "?",
}
_MAX_HEADER = 100_000_000  # the limit of the reference implementation
_CODES = {np.dtype(v).str: k for k, v in _DTYPES.items()}  # "<f4" -> "F32", "|b1" -> "BOOL"
MAX_TENSORS = 65_536  # entries in one header: a million-entry header is refused while parsed
MAX_NDIM = 32  # numpy's own limit is 64


def encode(tensors, metadata):
    """Bytes of a safetensors file holding ``tensors`` (name -> ndarray) and ``metadata``.

    The same tensors and metadata always give the same bytes: tensors are laid
    out as the reference writer lays them out, the widest dtype first and by
    name within one width, and the header is JSON with sorted keys, padded with
    spaces to a multiple of 8 bytes. So every tensor starts at a multiple of its
    item size in the file, as zero-copy (mmap) readers need (safetensors PR
    #148); in name order a 1-byte ``bool`` mask of odd size misaligned the
    float tensors after it. (The reference writer keeps metadata in a hash map,
    so two saves of one model differed byte for byte.) Any safetensors reader
    loads the result; :func:`decode` reads tensors in any order.
    """
    names = sorted(tensors, key=lambda n: (-np.asarray(tensors[n]).dtype.itemsize, n))
    header, chunks, offset = {}, [], 0
    for name in names:
        array = np.asarray(tensors[name])
        little = array.dtype.newbyteorder("<")
        if little.str not in _CODES:
            raise TypeError(
                f"save: tensor {name!r} has dtype {array.dtype}; only numbers can be saved"
                f" ({', '.join(str(np.dtype(t)) for t in _DTYPES.values())})"
            )
        code = _CODES[little.str]
        data = np.ascontiguousarray(array, dtype=little).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return b"".join([struct.pack("<Q", len(text)), text, *chunks])


def decode(blob):
    """Parse safetensors bytes into ``(tensors, metadata)``; only :class:`FormatError` escapes.

    Returns
    -------
    tensors : dict of str -> ndarray (native byte order, writable copies)
    metadata : dict of str -> str
    """
    blob = memoryview(blob).cast("B")
    if len(blob) < 8:
        raise FormatError(f"file too short ({len(blob)} bytes) to be a safetensors file")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > min(_MAX_HEADER, len(blob) - 8):
        raise FormatError(
            f"header length {n} exceeds the file ({len(blob)} bytes): truncated or not safetensors"
        )
    objects = 0

    def count(obj):  # called as each JSON object is parsed: a huge header stops early
        nonlocal objects
        objects += 1
        if objects > MAX_TENSORS + 2:  # the header, "__metadata__" and one per tensor
            raise FormatError(f"header has more than {MAX_TENSORS:,} entries")
        return obj

    try:
        header = json.loads(str(blob[8 : 8 + n], "utf-8"), object_hook=count)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        if isinstance(err, FormatError):
            raise
        raise FormatError(f"header is not valid JSON: {str(err)[:200]}") from None
    if not isinstance(header, dict):
        raise FormatError("header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise FormatError("header __metadata__ must map strings to strings")
    data = blob[8 + n :]
    spans, tensors = [], {}
    for name, info in header.items():
        dtype, shape, begin, end = _tensor_info(name, info)
        count = math.prod(shape)
        if not 0 <= begin <= end <= len(data) or end - begin != count * dtype.itemsize:
            raise FormatError(
                f"tensor {name[:60]!r}: data_offsets [{begin}, {end}] do not fit {count} values of "
                f"{dtype} in a {len(data)}-byte data section"
            )
        spans.append((begin, end, name))
        try:  # a zero-sized shape can still name axes NumPy cannot hold ([0, 2**70])
            tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
        except (ValueError, OverflowError) as err:
            raise FormatError(f"tensor {name[:60]!r}: shape {list(shape)[:8]} cannot be an "
                              f"array: {str(err)[:120]}") from None
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            raise FormatError(
                f"tensor {name[:60]!r}: data overlaps another tensor or leaves a gap"
            )
        position = end
    if position != len(data):
        raise FormatError(f"{len(data) - position} trailing bytes after the last tensor")
    return {k: v.astype(v.dtype.newbyteorder("="), copy=True) for k, v in tensors.items()}, metadata


def _tensor_info(name, info):
    if not isinstance(info, dict):
        raise FormatError(f"tensor {name[:60]!r}: header entry is not an object")
    dtype = _DTYPES.get(info.get("dtype"))
    shape = info.get("shape")
    offsets = info.get("data_offsets")
    if dtype is None:
        raise FormatError(
            f"tensor {name[:60]!r}: unsupported dtype {repr(info.get('dtype'))[:40]}"
        )
    if not isinstance(shape, list) or len(shape) > MAX_NDIM or not all(_is_count(s)
                                                                        for s in shape):
        raise FormatError(
            f"tensor {name[:60]!r}: shape must be a list of at most {MAX_NDIM} non-negative "
            f"ints; got {repr(shape)[:80]}"
        )
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)):
        raise FormatError(f"tensor {name[:60]!r}: data_offsets must be two non-negative ints")
    return np.dtype(dtype), tuple(shape), offsets[0], offsets[1]


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
