"""The error raised for every unreadable model or checkpoint file (DESIGN principle 7)."""


class FormatError(ValueError):
    """A file is not a valid rosenblatt model/checkpoint.

    Raised by :func:`rosenblatt.load` for unknown format versions, missing or
    extra tensors, wrong shapes, unknown layer types, corrupted or truncated
    bytes. It is the only exception ``load`` lets escape for a bad file
    (``OSError`` still reports a file that cannot be opened at all).
    """
