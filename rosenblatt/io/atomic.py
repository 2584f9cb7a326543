"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The recipe (DESIGN principle 8, notes' "Early stopping" keeps the last good
checkpoint): write a temporary file in the same directory, flush and
``fsync`` it, ``os.replace`` it over the target (atomic on POSIX and
Windows), then ``fsync`` the directory so the rename itself survives a power
cut. A process killed at any point leaves the previous file intact and at most
a temporary file behind, named ``.<target>.<pid>.<random>.tmp`` (a target name
longer than 200 bytes cut to its first 200); the next write
to the same target removes the ones whose process is gone.

:class:`rosenblatt.training` checkpoint callbacks use :func:`atomic_write`
(or :func:`rosenblatt.save`, which uses it).
"""

import contextlib
import errno
import os
import secrets
import stat

_SUFFIX = ".tmp"


def _pid_alive(pid):
    if pid == os.getpid() or os.name != "posix":
        return True  # (on Windows os.kill(pid, 0) would terminate the process: keep the file)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but is someone else's (or we cannot tell: keep it)
    return True


_NAME_BYTES = 200  # of the target's name in a temporary file's: with ".<pid>.<hex>.tmp" < 255


def _prefix(name):
    """``.<name>.``, the start of the temporary files' names for the target ``name``; a name
    too long for the suffix to fit the file system's 255 bytes is cut (to 200 bytes of UTF-8):
    a name ``open()`` can write, atomic writes can write too."""
    cut = os.fsencode(name)[:_NAME_BYTES]
    return f".{os.fsdecode(cut) if len(cut) < len(os.fsencode(name)) else name}."


def clean_stale_temporaries(path):
    """Remove the temporary files that dead writers left beside ``path`` (beside the file it
    links to, for a symbolic link: where :func:`atomic_write` writes them).

    Returns the list of removed paths.
    """
    directory, name = os.path.split(os.path.realpath(os.fspath(path)))
    prefix = _prefix(name)
    removed = []
    try:
        entries = os.listdir(directory)
    except OSError:
        return removed
    for entry in entries:
        if not (entry.startswith(prefix) and entry.endswith(_SUFFIX)):
            continue
        middle = entry[len(prefix) : -len(_SUFFIX)].split(".")
        if len(middle) != 2 or not middle[0].isdigit():
            continue
        if _pid_alive(int(middle[0])):
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(directory, entry))
            removed.append(os.path.join(directory, entry))
    return removed


def _fsync_directory(directory):
    if os.name != "posix":  # Windows cannot open a directory; its rename is durable enough
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_folder(target, directory):
    """Name the user's path when its folder is missing (not the temporary file's)."""
    if os.path.isdir(directory):
        return
    if os.path.exists(directory):
        raise NotADirectoryError(errno.ENOTDIR, f"cannot write {target}: {directory} is not "
                                 f"a folder")
    raise FileNotFoundError(errno.ENOENT, f"cannot write {target}: the folder {directory} does "
                            f"not exist (create it first)")


def _check_regular(target, path):
    """Refuse to replace what is not a regular file (a FIFO, a device such as /dev/null, a
    socket), also through a symbolic link: a rename would put a plain file in its place."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:  # no file yet (or a dangling link, replaced like a file)
        return
    if not stat.S_ISREG(mode):
        raise OSError(errno.EINVAL, f"cannot write {target} atomically: it is not a regular "
                      f"file (a FIFO, a device or a socket would be replaced by a plain file); "
                      f"write to a file")


def _keep_mode(path, tmp):
    """Give the temporary file the permission bits of the file it replaces, if any."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:  # no file yet: the umask's default stays
        return
    os.chmod(tmp, mode)


@contextlib.contextmanager
def atomic_write(path, mode="wb", example_name=None):
    """Context manager: a file object whose contents replace ``path`` atomically on exit.

    If the block raises, the target is untouched and the temporary file is
    removed.

    Parameters
    ----------
    path : str or os.PathLike
        The target; its folder must exist.
    mode : {"wb", "w"}, default "wb"
        Binary or text (UTF-8).
    example_name : str, optional
        A file name the error proposes when ``path`` names a folder (``"model.onnx"``:
        "give a file name (e.g. run/model.onnx)"); without it, the error asks for a file
        name in that folder.

    Raises
    ------
    FileNotFoundError
        When the folder of ``path`` does not exist (the message names
        ``path`` and the folder; ``NotADirectoryError`` when it is a file),
        or ``path`` is empty.
    IsADirectoryError
        When ``path`` names a folder (an existing one, or a path ending in
        a separator), as ``open(path, "wb")`` would.
    OSError
        When ``path`` exists but is not a regular file (a FIFO, a device such
        as ``/dev/null``, a socket, also through a symbolic link), which the
        atomic rename would replace by a plain file (``errno.EINVAL``).

    Notes
    -----
    A new file gets the permissions the umask allows; an existing file keeps
    its own (a checkpoint made private with ``chmod 600`` stays private), as
    with a plain ``open(path, "wb")``. A symbolic link is written through, as
    ``open`` does: the file it points to is replaced (atomically, beside
    itself) and the link stays a link.

    Examples
    --------
    >>> import os, tempfile
    >>> from rosenblatt.io import atomic_write
    >>> target = os.path.join(tempfile.mkdtemp(), "notes.txt")
    >>> with atomic_write(target, "w") as f:
    ...     _ = f.write("epoch 3")
    >>> open(target).read()
    'epoch 3'
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w'; got {mode!r}")
    target = os.fspath(path)
    if isinstance(target, bytes):
        target = os.fsdecode(target)
    if not target:  # abspath("") is the current folder, which _check_regular would misname
        # FileNotFoundError, as open("") raises: callers that report a failed write catch it
        raise FileNotFoundError(errno.ENOENT, "cannot write '': the path is empty; give a "
                                "file name")
    separators = tuple({os.sep, os.altsep or os.sep, "/"})
    # abspath drops a trailing separator: "run/checkpoints/" would become a file "checkpoints"
    if target.endswith(separators) or os.path.isdir(target):
        example = (f"a file name (e.g. {os.path.join(target, example_name)})" if example_name
                   else "the name of a file in it")
        raise IsADirectoryError(errno.EISDIR, f"cannot write {target}: it names a folder; give "
                                f"{example}")
    # A symbolic link is written through, as open(path, "wb") writes through it: the file it
    # names is replaced (the temporary file made beside that file) and the link stays; a
    # rename over the link itself would swap the link for a plain file and leave the file
    # it named as it was.
    path = os.path.realpath(target)
    directory, name = os.path.split(path)
    _check_folder(target, directory)
    _check_regular(target, path)
    clean_stale_temporaries(path)
    tmp = os.path.join(directory, f"{_prefix(name)}{os.getpid()}.{secrets.token_hex(6)}{_SUFFIX}")
    # O_EXCL: never follow or reuse someone else's file; 0o666 lets the umask decide.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        _keep_mode(path, tmp)
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def write_bytes_atomic(path, data, example_name=None):
    """Write ``data`` (bytes) to ``path`` atomically (see :func:`atomic_write`, which
    describes ``example_name``)."""
    with atomic_write(path, "wb", example_name=example_name) as f:
        f.write(data)
