"""Your own data for the CLI: ``.csv`` (with a header), ``.npy`` and ``.npz`` files.

``[data] path = "file.csv"`` and ``target = "column"`` in a training config,
and the INPUT of ``rosenblatt predict``, go through :func:`read`. Every
problem is reported where the user can find it: the file, its line (CSV) or
row, and the column, never the index of a shuffled batch.

* CSV: the first line is a header (column names); the delimiter, ``,`` or
  ``;``, is detected from it and reported. Empty fields are missing values
  and are refused like NaN. A first line of numbers only is a header when it
  names the target (``target`` given as a name: a named target needs a
  header) or when it lists exactly the input columns the model was trained
  on (``columns``, with or without the target); otherwise it is the first
  row of data, and the columns are called "column 0", "column 1", ...
* ``.npy``: a 2-D array (or more: one sample per row); ``target`` is the
  index of the target column.
* ``.npz``: arrays ``X`` (or ``x``) and ``target`` (default ``y``).
"""

import csv
import io
import os
import sys

import numpy as np

from .errors import CLIError

FORMATS = (".csv", ".txt", ".npy", ".npz")
# Files larger than these are refused before they are read (a CSV takes ~10x its size to parse).
MAX_BYTES = {".csv": 256 * 1024**2, ".txt": 256 * 1024**2, ".npy": 2 * 1024**3, ".npz": 2 * 1024**3}


class Table:
    """Inputs (and targets) read from a file, with what is needed to report a row.

    Attributes
    ----------
    x : ndarray (n, features) float64, or more axes for .npy/.npz images
    y : ndarray (n,) or None
    path : str
    columns : list of str or None
        The input columns' names (CSV).
    target : str or None
        The target column's name.
    delimiter : str or None
        The CSV delimiter detected.
    lines : ndarray of int or None
        The line (1-based) of each data row in a CSV file; None for arrays.
    named : bool
        Whether ``columns`` are names from a header line (False for a CSV without
        one, whose columns are called "column 0", "column 1", ...).
    """

    def __init__(self, x, y, path, columns=None, target=None, delimiter=None, lines=None,
                 named=None):
        self.x, self.y, self.path, self.columns = x, y, path, columns
        self.target, self.delimiter, self.lines = target, delimiter, lines
        self.named = columns is not None if named is None else bool(named)

    def where(self, row):
        """'file.csv line 12' or 'file.npy row 10' for data row ``row`` (0-based)."""
        if self.lines is not None:
            return f"{self.path} line {int(self.lines[row])}"
        return f"{self.path} row {row}"

    def describe(self):
        parts = [f"{len(self.x)} rows", f"{int(np.prod(self.x.shape[1:]))} features"]
        if self.target is not None:
            parts.append(f"target {self.target!r}")
        if self.delimiter:
            parts.append(f"delimiter {self.delimiter!r}")
        return f"{self.path}: " + ", ".join(parts)


def _size_check(path, limit):
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        raise CLIError(f"data file not found: {path}") from None
    except OSError as e:
        raise CLIError(f"cannot read {path}: {e.strerror or e}") from None
    if os.path.isdir(path):
        raise CLIError(f"data path is a directory, not a file: {path}")
    if size > limit:
        raise CLIError(f"{path} holds {size / 1024**2:.0f} MiB; the CLI reads such files up to "
                       f"{limit / 1024**2:.0f} MiB (use rb.fit from Python for more)")


def read(path, target=None, need_target=False, columns=None, model_target=None):
    """A :class:`Table` from a .csv, .npy or .npz file; numbers checked finite by row.

    ``columns`` (the input columns a model was trained on, and ``model_target`` its target
    column, which the file may hold) tells a CSV header of numeric names, such as pixel
    columns "0", "1", ..., from a first row of data (:func:`has_header`).
    """
    lower = os.fspath(path).lower()
    if not lower.endswith(FORMATS):
        raise CLIError(f"{path}: expected a .csv, .npy or .npz file")
    _size_check(path, MAX_BYTES[os.path.splitext(lower)[1]])
    if lower.endswith((".csv", ".txt")):
        table = _read_csv(path, target, need_target, columns, model_target)
    else:
        table = _read_array(path, target, need_target, lower.endswith(".npz"))
    if len(table.x) == 0:
        raise CLIError(f"{path} holds no samples")
    _check_finite(table, table.x, "an input")
    if table.y is not None:
        _check_finite(table, table.y, f"the target {table.target!r}")
    return table


def _check_finite(table, array, what):
    if array.dtype.kind not in "fc":
        return
    bad = ~np.isfinite(array.reshape(len(array), -1))
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        column = int(np.argmax(bad[rows[0]]))
        name = (f" (column {table.columns[column]!r})" if table.columns and array is table.x
                else "")
        raise CLIError(f"{table.where(int(rows[0]))}: {what} is missing, NaN or infinite"
                       f"{name}; {len(rows)} rows have such values: remove or impute them")


def _sniff(header):
    commas, semicolons = header.count(","), header.count(";")
    if semicolons > commas:
        return ";"
    return ","


def has_header(first, target=None, columns=None, model_target=None):
    """Whether a CSV's first line (its fields, stripped) is a header of column names.

    It is when a field is not a number; when ``target`` is a name (a str) that it holds,
    since a named target needs a header; or when its names are exactly ``columns`` (the
    input columns a model was trained on), in their order, with or without the target
    (``target`` or ``model_target``). Otherwise (numbers only) it is the first row of data:
    numeric names in another order ("1,0" for columns "0", "1") are far more likely a
    sample of binary or count features than a header.
    """
    if not all(_is_number(h) for h in first if h):
        return True
    if isinstance(target, str) and target in first:
        return True
    if not columns:
        return False
    targets = {t for t in (target, model_target) if isinstance(t, str)}
    names = [h for h in first if h not in targets]
    return names == [str(c) for c in columns]


def _read_csv(path, target, need_target, columns=None, model_target=None):
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise CLIError(f"{path} is not a UTF-8 text file") from None
    except OSError as e:
        raise CLIError(f"cannot read {path}: {e.strerror or e}") from None
    lines = text.splitlines()
    if not lines:
        raise CLIError(f"{path} is empty")
    delimiter = _sniff(lines[0])
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows, line_of = [], []
    for r in reader:
        rows.append(r)
        line_of.append(reader.line_num)  # a quoted field may span lines: count them as read
    header = [h.strip() for h in rows[0]]
    named = has_header(header, target, columns, model_target)
    if named and all(_is_number(h) for h in header if h) \
            and not (isinstance(target, str) and target in header):  # ambiguous: say so
        print(f"rosenblatt: note: {path}: first line {','.join(header)!r} read as the header "
              f"(the model's column names), not as a sample (predict --no-header reads it as "
              f"one)", file=sys.stderr)
    if not named:  # no header: only allowed without a named target
        if isinstance(target, str):
            raise CLIError(f"{path}: the first line holds numbers, not column names; add a "
                           f"header line naming the columns (target {target!r} among them)")
        header, first = [f"column {i}" for i in range(len(header))], 0
    else:
        first = 1
    width = len(header)
    body, lines_kept = [], []
    for r, line in zip(rows[first:], line_of[first:]):
        if len(r) == width:
            body.append(r)
            lines_kept.append(line)
        elif any(v.strip() for v in r):
            raise CLIError(f"{path} line {line}: {len(r)} fields, but the "
                           f"{'header' if first else 'first line'} has {width} "
                           f"(delimiter {delimiter!r})")
    values = np.array(body, dtype=str).reshape(len(body), width)
    values = np.char.strip(values)
    values = np.where(values == "", "nan", values)
    try:
        numbers = values.astype(np.float64)
    except ValueError:
        for r, line in zip(values, lines_kept):
            for j, v in enumerate(r):
                if not _is_number(v):
                    raise CLIError(f"{path} line {line}, column {header[j]!r}: "
                                   f"{v[:40]!r} is not a number") from None
        raise
    lines_kept = np.array(lines_kept, dtype=np.int64)
    col = _target_index(target, header, path, need_target, ".csv")
    if col is None:
        return Table(numbers, None, path, header, None, delimiter, lines_kept, named)
    keep = [j for j in range(width) if j != col]
    return Table(numbers[:, keep], numbers[:, col], path, [header[j] for j in keep],
                 header[col], delimiter, lines_kept, named)


def by_name(table, names, ignore=(), what=None):
    """The inputs of a CSV ``table`` in the order of ``names`` (the columns a model was
    trained on), matched by header name, not position.

    Columns named in ``ignore`` (the target) are left out. A missing or an extra column is a
    CLIError naming it; a table without a header (or an array file) is returned as it is.
    """
    if not (names and table.named and table.columns):
        return table.x
    names = [str(n) for n in names]
    have = [c for c in table.columns if c not in ignore]
    missing = [c for c in names if c not in have]
    extra = [c for c in have if c not in names]
    if missing or extra:
        problem = (f"no input column {missing[0]!r}" if missing
                   else f"column {extra[0]!r} was not an input in training")
        raise CLIError(f"{what + ': ' if what else ''}{table.path}: {problem} (the model was "
                       f"trained on columns {', '.join(map(repr, names))}; this file has "
                       f"{', '.join(map(repr, have))})")
    unique_columns(table, have, what)
    return table.x[:, [table.columns.index(c) for c in names]]


def unique_columns(table, columns=None, what=None):
    """CLIError naming a column name that ``columns`` (default the table's inputs) holds
    twice: inputs are matched by name, so two of one name could not be told apart."""
    columns = table.columns if columns is None else columns
    if not (table.named and columns) or len(set(columns)) == len(columns):
        return
    twice = next(c for c in columns if columns.count(c) > 1)
    raise CLIError(f"{what + ': ' if what else ''}{table.path}: {columns.count(twice)} "
                   f"columns are named {twice!r}; rename them")


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _target_index(target, header, path, need_target, kind):
    if target is None:
        if need_target:
            raise CLIError(f"config key 'data.target' is missing: name the target column of "
                           f"{path} (one of: {', '.join(header[:20])})")
        return None
    if isinstance(target, int):
        if not -len(header) <= target < len(header):
            raise CLIError(f"config key 'data.target': column {target} does not exist in {path} "
                           f"({len(header)} columns)")
        return target % len(header)
    if target not in header:
        raise CLIError(f"config key 'data.target': no column {target!r} in {path}; its columns: "
                       f"{', '.join(header[:20])}{' ...' if len(header) > 20 else ''}")
    if header.count(target) > 1:  # the other copy would stay an input: the target leaks in
        raise CLIError(f"{path}: {header.count(target)} columns are named {target!r} (the "
                       f"target); rename or remove the others")
    return header.index(target)


def _check_npz_members(path, limit):
    """Each array's size from its header, before decompressing it (no zip bombs)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
                size = float(np.prod(shape, dtype=np.float64)) * dtype.itemsize
                if size > limit:
                    raise CLIError(f"{path}: array {info.filename!r} would take "
                                   f"{size / 1024**2:.0f} MiB (at most {limit / 1024**2:.0f})")
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise CLIError(f"cannot read {path}: not a NumPy .npz archive ({e})") from None


def _read_array(path, target, need_target, npz):
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic[:2] != b"PK" if npz else magic != b"\x93NUMPY":
        raise CLIError(f"cannot read {path}: not a NumPy {'.npz' if npz else '.npy'} file")
    if npz:
        _check_npz_members(path, MAX_BYTES[".npz"])
    try:
        if npz:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {k: archive[k] for k in archive.files}
        else:
            arrays = {"X": np.load(path, allow_pickle=False)}
    except (ValueError, OSError, EOFError) as e:
        raise CLIError(f"cannot read {path}: {e}") from None
    for name, a in arrays.items():
        if a.dtype.kind not in "biuf":
            raise CLIError(f"{path}: array {name!r} holds {a.dtype}, not numbers")
    if npz:
        if target is not None and not isinstance(target, str):
            raise CLIError(f"config key 'data.target': for .npz, the name of the target array; "
                           f"got {target!r}")
        ykey = target or "y"
        xkey = next((k for k in ("X", "x") if k in arrays), None)
        others = [k for k in arrays if k != ykey]
        if xkey is None and len(others) == 1:
            xkey = others[0]
        if xkey is None:
            raise CLIError(f"{path}: expected an array named 'X' (the inputs); it holds "
                           f"{', '.join(arrays) or 'nothing'}")
        if xkey == ykey:
            raise CLIError(f"config key 'data.target': in {path}, the target {ykey!r} is also "
                           f"the inputs array; name the target array (e.g. 'y')")
        x = arrays[xkey]
        y = arrays.get(ykey)
        for name, a in ((xkey, x), (ykey, y)):
            if a is not None and a.ndim == 0:
                raise CLIError(f"{path}: array {name!r} holds a single number, not one value "
                               f"per sample")
        if y is None and (need_target or target is not None):
            raise CLIError(f"{path}: no target array {ykey!r}; it holds {', '.join(arrays)}")
        if x.ndim == 1:
            x = x[:, None]
        if y is not None and len(y) != len(x):
            raise CLIError(f"{path}: {xkey!r} has {len(x)} rows but {ykey!r} has {len(y)}")
        return Table(x.astype(np.float64), y, path, None, ykey if y is not None else None)
    x = arrays["X"]
    if x.ndim == 0:
        raise CLIError(f"{path} holds a single number, not rows of samples")
    if x.ndim == 1:
        x = x[:, None] if target is None else x
    if target is None:
        if need_target:
            raise CLIError(f"config key 'data.target' is missing: the index of the target "
                           f"column of {path} (e.g. -1 for the last)")
        return Table(x.astype(np.float64), None, path)
    if x.ndim != 2 or isinstance(target, str):
        raise CLIError(f"config key 'data.target': for .npy, the index of a column of a 2-D "
                       f"array; got {target!r} for an array of shape {x.shape}")
    col = _target_index(target, [str(i) for i in range(x.shape[1])], path, True, ".npy")
    keep = [j for j in range(x.shape[1]) if j != col]
    return Table(x[:, keep].astype(np.float64), x[:, col], path, None, f"column {col}")


def class_labels(table, loss):
    """The targets as class indices 0, 1, 2, ... (-1/+1 for hinge and log_loss), each bad one
    reported at its row (:func:`~rosenblatt.cli.data.labels_for_loss`)."""
    from .data import labels_for_loss

    return labels_for_loss(table.y, loss, table.where, f"target {table.target!r}")
