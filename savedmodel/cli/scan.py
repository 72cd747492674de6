"""`savedmodel scan`: report denylisted ops in a SavedModel (saved_model_cli scan).

The text output is saved_model_cli's, one line per MetaGraphDef:

    MetaGraph with tag set ['serve'] contains the following denylisted ops: {'PrintV2', 'ReadFile'}
    MetaGraph with tag set ['serve'] does not contain the default denylisted ops: {'PrintV2', ...}

with two deliberate differences: sets are printed sorted (TF prints Python set
order, which depends on the hash seed), and every function in the graph's
library is scanned (TF follows only functions reached through call ops, so it
can miss, say, a tf.function saved on an object but not exported as a
signature, or a While/If body). As in TF, `--denylist ''` means the default
denylist (ReadFile, WriteFile, PrintV2), and the exit status is 0 whatever is
found; `--fail-on-findings` makes findings exit with status 1 for CI.

`--allowlist a,b` (ours) also reports every op not in the list. `--json` prints
the findings with the nodes that use each op ("function/node" inside functions).
`--graph FILE` scans a bare GraphDef (frozen graph) instead of a SavedModel; its lines
start with `GraphDef FILE` and its JSON lists `graphs` instead of `meta_graphs`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from dataclasses import dataclass

from savedmodel.cli.commands import help_of
from savedmodel.cli.graph import add_source_arguments, refuse_flags
from savedmodel.cli.run import parse_tags
from savedmodel.format import saved_model as saved_model_format
from savedmodel.format.graph_def import read_graph_def
from savedmodel.policy import SCAN_DEFAULT_DENYLIST, ops_in_graph
from savedmodel.proto import graph_pb2, meta_graph_pb2


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "scan",
        help=help_of("scan"),
        description="Scan every MetaGraphDef (or the one --tag_set names) for denylisted ops, "
        "in the graph and in every library function.",
    )
    add_source_arguments(parser)
    parser.add_argument(
        "--tag_set", default=None, help="scan only the MetaGraphDef with these comma-separated tags"
    )
    parser.add_argument(
        "--denylist",
        "--op_denylist",
        dest="denylist",
        default=None,
        help="comma-separated ops to report (default: " + ",".join(SCAN_DEFAULT_DENYLIST) + ")",
    )
    parser.add_argument(
        "--allowlist", default=None, help="comma-separated ops allowed; report every other op"
    )
    parser.add_argument("--json", action="store_true", help="print the findings as JSON, with node names")
    parser.add_argument(
        "--fail-on-findings",
        "--fail_on_findings",
        dest="fail_on_findings",
        action="store_true",
        help="exit with status 1 when a denylisted (or not allowlisted) op is found",
    )
    parser.set_defaults(func=scan_command)
    return parser


def parse_op_list(text: str | None) -> frozenset[str] | None:
    """'A, B,,C' -> {'A', 'B', 'C'}; None or '' -> None (TF: the empty string means the default)."""
    if not text:
        return None
    return frozenset(op.strip() for op in text.split(",") if op.strip())


def format_set(items: Iterable[str]) -> str:
    """A Python set's repr, sorted: {'A', 'B'}; set() when empty."""
    ordered = sorted(items)
    return "{" + ", ".join(repr(item) for item in ordered) + "}" if ordered else "set()"


def used_ops(graph_def: graph_pb2.GraphDef) -> dict[str, list[str]]:
    """Op type -> nodes using it, over the graph and every library function, without function calls."""
    functions = {function.signature.name for function in graph_def.library.function}
    return {op: nodes for op, nodes in ops_in_graph(graph_def).items() if op not in functions}


@dataclass
class ScanResult:
    tags: list[str]
    denylist: frozenset[str]
    denied: dict[str, list[str]]
    allowlist: frozenset[str] | None
    not_allowed: dict[str, list[str]] | None
    graph: str | None = None  # the GraphDef file scanned with --graph (it has no tags)

    @property
    def has_findings(self) -> bool:
        return bool(self.denied or self.not_allowed)

    @property
    def subject(self) -> str:
        return f"GraphDef {self.graph}" if self.graph is not None else f"MetaGraph with tag set {self.tags}"

    def lines(self) -> list[str]:
        subject = self.subject
        if self.denied:
            found = format_set(self.denied)
            lines = [f"{subject} contains the following denylisted ops: {found}"]
        else:
            lines = [f"{subject} does not contain the default denylisted ops: {format_set(self.denylist)}"]
        if self.not_allowed is not None:
            if self.not_allowed:
                lines.append(
                    f"{subject} contains the following ops that are not allowlisted: "
                    f"{format_set(self.not_allowed)}"
                )
            else:
                lines.append(f"{subject} contains only allowlisted ops.")
        return lines

    def as_json(self) -> dict:
        where = {"graph": self.graph} if self.graph is not None else {"tags": self.tags}
        return {
            **where,
            "denylist": sorted(self.denylist),
            "denylisted_ops": {op: sorted(nodes) for op, nodes in sorted(self.denied.items())},
            "allowlist": None if self.allowlist is None else sorted(self.allowlist),
            "not_allowlisted_ops": None
            if self.not_allowed is None
            else {op: sorted(nodes) for op, nodes in sorted(self.not_allowed.items())},
        }


def scan_graph_def(
    graph_def: graph_pb2.GraphDef,
    denylist: Iterable[str] | None = None,
    allowlist: Iterable[str] | None = None,
    tags: list[str] | None = None,
    graph: str | None = None,
) -> ScanResult:
    """Findings over a GraphDef and its function library (`graph`: the file it came from)."""
    deny = frozenset(SCAN_DEFAULT_DENYLIST if denylist is None else denylist)
    allow = None if allowlist is None else frozenset(allowlist)
    ops = used_ops(graph_def)
    return ScanResult(
        tags=list(tags or []),
        denylist=deny,
        denied={op: nodes for op, nodes in ops.items() if op in deny},
        allowlist=allow,
        not_allowed=None if allow is None else {op: nodes for op, nodes in ops.items() if op not in allow},
        graph=graph,
    )


def scan_meta_graph(
    meta_graph: meta_graph_pb2.MetaGraphDef,
    denylist: Iterable[str] | None = None,
    allowlist: Iterable[str] | None = None,
) -> ScanResult:
    return scan_graph_def(meta_graph.graph_def, denylist, allowlist, list(meta_graph.meta_info_def.tags))


def _scan_results(args: argparse.Namespace) -> list[ScanResult]:
    deny, allow = parse_op_list(args.denylist), parse_op_list(args.allowlist)
    if args.graph is not None:
        refuse_flags(args, "scan", "tag_set")
        return [scan_graph_def(read_graph_def(args.graph), deny, allow, graph=args.graph)]
    saved_model = saved_model_format.read_saved_model(args.dir)
    if args.tag_set is not None:
        meta_graphs = [
            saved_model_format.find_meta_graph(saved_model, parse_tags(args.tag_set), source=args.dir)
        ]
    else:
        meta_graphs = list(saved_model.meta_graphs)
    return [scan_meta_graph(mg, deny, allow) for mg in meta_graphs]


def scan_command(args: argparse.Namespace) -> int:
    results = _scan_results(args)
    if args.json:
        findings = any(result.has_findings for result in results)
        key = "graphs" if args.graph is not None else "meta_graphs"
        report = {key: [result.as_json() for result in results], "findings": findings}
        print(json.dumps(report, indent=2))
    else:
        for result in results:
            print("\n".join(result.lines()))
    if args.fail_on_findings and any(result.has_findings for result in results):
        return 1
    return 0
