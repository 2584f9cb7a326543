"""Readers for image data sets a user already has on disk: MNIST/Fashion-MNIST IDX, CIFAR-10.

* IDX (LeCun et al.): a 4-byte magic number ``0x00 0x00 <type> <ndim>``, then
  ``ndim`` big-endian uint32 sizes, then the values, big-endian. MNIST and
  Fashion-MNIST ship as ``*-idx3-ubyte`` (images) and ``*-idx1-ubyte``
  (labels), often gzipped.
* CIFAR-10 binary version: records of 1 label byte and 3,072 pixel bytes
  (1,024 red, 1,024 green, 1,024 blue, each a row-major 32x32 plane).

Both return the raw values (``uint8``): divide images by 255 for [0, 1].
Malformed files raise ``ValueError`` naming the file and the problem.
"""

import gzip
import math
import os
import zlib

import numpy as np

_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")


def _read_maybe_gzip(path):
    with open(os.fspath(path), "rb") as f:
        blob = f.read()
    if blob[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(blob)
        # zlib.error: a damaged deflate block (gzip's own checks raise OSError/EOFError)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{os.fspath(path)}: corrupted gzip data ({err})") from None
    return blob


def read_idx(path):
    """Read an IDX file (gzipped or not) into an array of its shape and type.

    Parameters
    ----------
    path : str or os.PathLike
        E.g. ``train-images-idx3-ubyte.gz`` -> uint8 (60000, 28, 28).

    Returns
    -------
    ndarray (native byte order)

    Raises
    ------
    ValueError
        Bad magic number, unknown type code, or a size that does not match the data.
    """
    blob = _read_maybe_gzip(path)
    name = os.fspath(path)
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0:
        raise ValueError(f"read_idx: {name} is not an IDX file (bad magic number {blob[:4]!r})")
    code, ndim = blob[2], blob[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"read_idx: {name} has unknown type code 0x{code:02x}; "
                         f"known: {', '.join(f'0x{c:02x}' for c in _IDX_TYPES)}")
    if len(blob) < 4 + 4 * ndim:
        raise ValueError(f"read_idx: {name} is truncated inside its header")
    shape = tuple(int(s) for s in np.frombuffer(blob, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[code])
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow on huge shapes
    data = blob[4 + 4 * ndim:]
    if len(data) != expected:
        raise ValueError(f"read_idx: {name} declares shape {shape} ({expected} bytes of data) but "
                         f"holds {len(data)} bytes")
    return np.frombuffer(data, dtype).reshape(shape).astype(dtype.newbyteorder("="))


def read_mnist(directory, split="train"):
    """Read MNIST or Fashion-MNIST from the directory holding its four IDX files.

    Accepts the usual names, gzipped or not: ``train-images-idx3-ubyte[.gz]``
    or ``train-images.idx3-ubyte``, and ``t10k-...`` for the test split.

    Parameters
    ----------
    directory : path
    split : {"train", "test"}

    Returns
    -------
    X : uint8 (n, 28, 28)
    y : int64 (n,)
    """
    if split not in ("train", "test"):
        raise ValueError(f"read_mnist: split must be 'train' or 'test'; got {split!r}")
    prefix = "train" if split == "train" else "t10k"
    found = {}
    for kind, ndim in (("images", 3), ("labels", 1)):
        for name in (f"{prefix}-{kind}-idx{ndim}-ubyte", f"{prefix}-{kind}.idx{ndim}-ubyte"):
            for suffix in ("", ".gz"):
                path = os.path.join(os.fspath(directory), name + suffix)
                if kind not in found and os.path.exists(path):
                    found[kind] = path
        if kind not in found:
            raise FileNotFoundError(f"read_mnist: no {prefix}-{kind}-idx{ndim}-ubyte[.gz] in "
                                    f"{os.fspath(directory)}")
    X, y = read_idx(found["images"]), read_idx(found["labels"])
    if X.ndim != 3 or y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"read_mnist: images {X.shape} and labels {y.shape} do not match")
    return X, y.astype(np.int64)


def read_cifar10(paths, split="train"):
    """Read CIFAR-10 binary batches (``data_batch_1.bin`` ... ``test_batch.bin``).

    Parameters
    ----------
    paths : path or list of paths
        Files, concatenated in the given order, or the ``cifar-10-batches-bin``
        directory or the folder it was extracted into (then ``split`` chooses
        the five training batches or the test batch).
    split : {"train", "test"}, default "train"
        Used only when ``paths`` is a directory.

    Returns
    -------
    X : uint8 (n, 3, 32, 32)
        Channels first (the library's image convention).
    y : int64 (n,)
        Class indices; names in ``CIFAR10_CLASSES``.

    Raises
    ------
    ValueError
        If a file's size is not a multiple of 3,073 bytes or a label is over 9.
    """
    if isinstance(paths, (str, os.PathLike)) and os.path.isdir(paths):
        if split not in ("train", "test"):
            raise ValueError(f"read_cifar10: split must be 'train' or 'test'; got {split!r}")
        names = ([f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train"
                 else ["test_batch.bin"])
        directory = os.fspath(paths)
        inner = os.path.join(directory, "cifar-10-batches-bin")
        if not os.path.exists(os.path.join(directory, names[0])) and os.path.isdir(inner):
            directory = inner  # the folder the archive was extracted into
        missing = [n for n in names if not os.path.exists(os.path.join(directory, n))]
        if missing:
            raise FileNotFoundError(f"read_cifar10: no {', '.join(missing)} in {directory} "
                                    "(expected the cifar-10-batches-bin folder of the binary "
                                    "version)")
        paths = [os.path.join(directory, name) for name in names]
    elif isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    elif not hasattr(paths, "__iter__"):  # "'int' object is not iterable" names no argument
        raise TypeError(f"read_cifar10: paths must be a path, a list of paths or a directory; "
                        f"got {type(paths).__name__}")
    images, labels = [], []
    for path in paths:
        blob = _read_maybe_gzip(path)
        if len(blob) == 0 or len(blob) % 3073:
            raise ValueError(f"read_cifar10: {os.fspath(path)} has {len(blob)} bytes, not a "
                             f"positive multiple of 3073 (1 label + 3072 pixels)")
        records = np.frombuffer(blob, np.uint8).reshape(-1, 3073)
        if records[:, 0].max() > 9:
            raise ValueError(f"read_cifar10: {os.fspath(path)} has a label over 9: not CIFAR-10 "
                             f"(CIFAR-100's binary format has 2 label bytes)")
        labels.append(records[:, 0].astype(np.int64))
        images.append(records[:, 1:].reshape(-1, 3, 32, 32))
    if not images:
        raise ValueError("read_cifar10: got no paths")
    return np.concatenate(images), np.concatenate(labels)
