"""Argument parsing and dispatch for the ``rosenblatt`` command.

Each sub-command lives in its own module with ``add_parser(sub)`` and
``run(args) -> exit code``. User mistakes raise :class:`CLIError`: one line on
stderr, exit code 2, no traceback (a traceback is a bug). Exit codes: 0 done;
1 a failed check (``tour --strict``); 2 a user error; 3 ``train``: the loss
diverged (the best model so far and its metrics are written); 130 interrupted.
"""

import argparse
import sys

from .errors import CLIError

_COMMANDS = ("train", "evaluate", "predict", "datasets", "tour",
             "tune", "evolve", "export")


def build_parser():
    """The argparse parser with every sub-command."""
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="rosenblatt",
        description="Neural networks of the notes, in NumPy: train, evaluate, predict, "
        "list datasets, tune hyper-parameters, evolve networks, export to ONNX, and run the "
        "tour (the notes' claims as experiments).",
    )
    parser.add_argument("--version", action="version", version=f"rosenblatt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import importlib

    for name in _COMMANDS:
        module = importlib.import_module(f"{__package__}.{name if name != 'datasets' else 'data'}")
        module.add_parser(sub)
    return parser


def main(argv=None):
    """Run the command line; returns the exit code (0 ok, 1 failed check, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except CLIError as e:
        print(f"rosenblatt {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rosenblatt: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout closed early (`rosenblatt predict ... | head`): not an error worth a traceback.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
