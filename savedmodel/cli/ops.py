"""`savedmodel ops`: the ops a MetaGraphDef (`--dir`) or a GraphDef file (`--graph`) uses, how often,
and whether savedmodel can run them.

Ops are counted over the graph and every function of its library (calls of
library functions by name are listed apart, as function calls). An op is
supported when the kernel registry has it; a supported op whose kernel needs an optional extra that
is not installed (Pillow for 'image', SciPy for 'special') is listed with the extra to install.
With `--check` the exit status is 1 when any op is unsupported or needs a missing extra.
"""

from __future__ import annotations

import argparse
import json

from savedmodel.cli.commands import help_of
from savedmodel.cli.graph import add_source_arguments, refuse_flags
from savedmodel.cli.run import parse_tags
from savedmodel.cli.scan import used_ops
from savedmodel.errors import extra_hint
from savedmodel.format import saved_model as saved_model_format
from savedmodel.format.graph_def import read_graph_def
from savedmodel.ops import registry
from savedmodel.policy import ops_in_graph
from savedmodel.proto import graph_pb2, meta_graph_pb2


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "ops",
        help=help_of("ops"),
        description="List the ops used by the graph and every library function of a MetaGraphDef.",
    )
    add_source_arguments(parser)
    parser.add_argument(
        "--tag_set", default=None, help="comma-separated tags (default: the only MetaGraphDef, else 'serve')"
    )
    parser.add_argument("--json", action="store_true", help="print the listing as JSON")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit with status 1 when an op is unsupported or needs a missing extra",
    )
    parser.set_defaults(func=ops_command)
    return parser


def is_supported(op: str) -> bool:
    return registry.lookup(op) is not None


def op_report(meta_graph: meta_graph_pb2.MetaGraphDef) -> dict:
    """The listing: tags, function count, ops (op, count, supported, family), function calls, unsupported."""
    return {"tags": list(meta_graph.meta_info_def.tags), **graph_op_report(meta_graph.graph_def)}


def graph_op_report(graph_def: graph_pb2.GraphDef) -> dict:
    """The listing of a GraphDef: function count, ops, function calls, unsupported."""
    ops = used_ops(graph_def)
    functions = {function.signature.name for function in graph_def.library.function}
    rows = []
    for op, nodes in sorted(ops.items()):
        definition = registry.lookup(op)
        rows.append(
            {
                "op": op,
                "count": len(nodes),
                "supported": definition is not None,
                "family": definition.family if definition is not None else None,
            }
        )
    calls = {op: len(nodes) for op, nodes in sorted(ops_in_graph(graph_def).items()) if op in functions}
    return {
        "functions": len(functions),
        "ops": rows,
        "function_calls": calls,
        "unsupported": [row["op"] for row in rows if not row["supported"]],
        "missing_extras": registry.missing_extras(row["op"] for row in rows if row["supported"]),
    }


def format_report(report: dict) -> str:
    rows = report["ops"]
    needs = {op: extra for extra, ops in report["missing_extras"].items() for op in ops}
    width = max([len("op")] + [len(row["op"]) for row in rows])
    subject = (
        f"GraphDef {report['graph']}" if "graph" in report else f"MetaGraph with tag set {report['tags']}"
    )
    lines = [
        f"{subject} uses {len(rows)} ops (graph and {report['functions']} library functions):",
        f"  {'op':<{width}}  {'count':>5}  supported",
    ]
    for row in rows:
        status = "yes" if row["supported"] else "NO"
        if row["op"] in needs:
            status = f"needs extra '{needs[row['op']]}'"
        lines.append(f"  {row['op']:<{width}}  {row['count']:>5}  {status}")
    if report["function_calls"]:
        calls = sum(report["function_calls"].values())
        lines.append(f"plus {calls} direct calls of {len(report['function_calls'])} library functions")
    unsupported = report["unsupported"]
    summary = f"{len(rows) - len(unsupported)} of {len(rows)} ops supported"
    lines.append(summary + (f"; unsupported: {', '.join(unsupported)}" if unsupported else ""))
    lines += [extra_hint(extra, ops) for extra, ops in report["missing_extras"].items()]
    return "\n".join(lines)


def ops_command(args: argparse.Namespace) -> int:
    if args.graph is not None:
        refuse_flags(args, "ops", "tag_set")
        report = {"graph": args.graph, **graph_op_report(read_graph_def(args.graph))}
        print(json.dumps(report, indent=2) if args.json else format_report(report))
        return 1 if args.check and report["unsupported"] else 0
    saved_model = saved_model_format.read_saved_model(args.dir)
    tags = parse_tags(args.tag_set) if args.tag_set is not None else None
    meta_graph = saved_model_format.find_meta_graph(saved_model, tags, source=args.dir)
    report = op_report(meta_graph)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 1 if args.check and (report["unsupported"] or report["missing_extras"]) else 0
