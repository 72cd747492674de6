"""`savedmodel variables`: the variables of a SavedModel or a checkpoint.

    savedmodel variables --dir MODEL_DIR
    savedmodel variables --dir path/to/model.ckpt      (a checkpoint prefix)
    savedmodel variables --dir MODEL_DIR --json

Prints one row per stored tensor: name, dtype, shape, bytes stored, then a total
line. `--object_graph` also lists `_CHECKPOINTABLE_OBJECT_GRAPH` (the TF2
checkpoint's serialized object graph).

JSON schema: {"path": str, "variables": [{"name": str, "dtype": "float32",
"shape": [int], "bytes": int}], "count": int, "total_bytes": int}.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from savedmodel.cli.commands import help_of
from savedmodel.inspect import VariableInfo, describe_variables


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "variables",
        help=help_of("variables"),
        description="List the variables of a SavedModel directory or a checkpoint prefix.",
    )
    parser.add_argument("--dir", required=True, help="SavedModel directory or checkpoint prefix")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--object_graph", action="store_true", help="also list the checkpoint's _CHECKPOINTABLE_OBJECT_GRAPH"
    )
    parser.set_defaults(func=run)
    return parser


def shape_text(shape: list[int]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def render_table(variables: list[VariableInfo], out: TextIO) -> None:
    if not variables:
        out.write("No variables.\n")
        return
    headers = ("name", "dtype", "shape", "bytes")
    rows = [(v.name, v.dtype, shape_text(v.shape), str(v.bytes)) for v in variables]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: tuple[str, ...]) -> str:
        parts = [cells[i].ljust(widths[i]) for i in range(3)] + [cells[3].rjust(widths[3])]
        return "  ".join(parts).rstrip() + "\n"

    out.write(line(headers))
    out.write(line(tuple("-" * w for w in widths)))
    for row in rows:
        out.write(line(row))
    total = sum(v.bytes for v in variables)
    noun = "variable" if len(variables) == 1 else "variables"
    out.write(f"{len(variables)} {noun}, {total} bytes\n")


def run(args: argparse.Namespace) -> int:
    variables = describe_variables(args.dir, include_object_graph=args.object_graph)
    if args.json:
        doc = {
            "path": str(args.dir),
            "variables": [v.to_json() for v in variables],
            "count": len(variables),
            "total_bytes": sum(v.bytes for v in variables),
        }
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        render_table(variables, sys.stdout)
    return 0
