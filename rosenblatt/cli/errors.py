"""The CLI's user-facing error: a clean message and exit code 2, never a traceback."""


class CLIError(Exception):
    """A mistake in the command line or a config; printed as ``rosenblatt: error: ...``."""
