"""Entry point of the `savedmodel` command.

Each subcommand lives in its own module under savedmodel.cli exposing
`add_parser(subparsers)` (which sets `func` on its parser) . Errors savedmodel
raises become one line on stderr and exit status 1; anything else becomes one
"internal error" line and status 2 (set SAVEDMODEL_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from savedmodel import __version__
from savedmodel.errors import SavedModelError

# Subcommand modules, in the order `savedmodel --help` lists them.
SUBCOMMANDS = ("show", "run", "scan", "ops", "variables", "diff", "convert", "serve")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="savedmodel",
        description="Inspect, run, scan, serve and convert TensorFlow SavedModels without TensorFlow.",
    )
    parser.add_argument("--version", action="version", version=f"savedmodel {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"savedmodel.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"savedmodel.cli.{name}":
                continue
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
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
