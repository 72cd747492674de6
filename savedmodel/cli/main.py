"""Entry point of the `savedmodel` command.

The commands are listed in savedmodel.cli.commands; each lives in a module under savedmodel.cli
exposing `add_parser(subparsers)` (which sets `func` on its parser). Only the module of the command
being run is imported, so `savedmodel --help` needs neither NumPy nor protobuf. Errors savedmodel
raises become one line on stderr and exit status 1; anything else becomes one "internal error"
line and status 2 (set SAVEDMODEL_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Collection, Sequence

from savedmodel import __version__
from savedmodel.cli import commands
from savedmodel.errors import SavedModelError


def build_parser(full: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The parser: full parsers for the commands in FULL (default: all), one-line entries for the others."""
    parser = argparse.ArgumentParser(
        prog="savedmodel",
        description="Inspect, run, scan, serve and convert TensorFlow SavedModels without TensorFlow.",
    )
    parser.add_argument("--version", action="version", version=f"savedmodel {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = {c.module for c in commands.COMMANDS if full is None or c.name in full}
    added: set[str] = set()
    for entry in commands.COMMANDS:
        if entry.module in wanted:
            if entry.module not in added:
                importlib.import_module(f"savedmodel.cli.{entry.module}").add_parser(subparsers)
                added.add(entry.module)
        else:
            subparsers.add_parser(entry.name, help=entry.help)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The command named on the command line (the first word that is not an option), if it is one."""
    for word in argv:
        if not word.startswith("-"):
            found = commands.find(word)
            return found.name if found else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command_in(argv)
    parser = build_parser([command] if command else [])
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SavedModelError as exc:
        print(f"savedmodel {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the one place an unexpected error becomes a line
        if os.environ.get("SAVEDMODEL_DEBUG"):
            raise
        print(
            f"savedmodel {args.command}: internal error: {type(exc).__name__}: {exc} "
            "(set SAVEDMODEL_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
