"""`savedmodel show|ops|run|scan --graph FILE`: the same commands over a bare GraphDef (a frozen
graph; a MetaGraphDef `.meta` file gives its graph).

A GraphDef has no signatures, so tensors are named as a TF1 session names them:

    savedmodel show --graph frozen.pb            placeholders (inputs) and sinks (likely outputs)
    savedmodel ops  --graph frozen.pb            ops, counts, supported or not
    savedmodel scan --graph frozen.pb            denylisted ops (savedmodel.cli.scan)
    savedmodel run  --graph frozen.pb --input_exprs 'x:0=[1.0, 2.0];keep_prob=1.0' --outputs y:0

`--inputs`, `--input_exprs` and `--input_examples` take tensor names as keys ("x"
means "x:0"); any tensor may be fed, placeholders usually are. `--outputs` lists the
tensors to fetch, separated by commas; without it every output of the graph's sinks is
fetched. `--init_op` names ops to run once first (a TF1 `init`). Each result prints as
`Result for output key <tensor name>:` and, with `--outdir`, is saved to
`<outdir>/<tensor name with '/' and ':' replaced by '_'>.npy`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from savedmodel.cli import inputs as cli_inputs
from savedmodel.errors import InvalidInputError, NotFoundError
from savedmodel.format import dtypes
from savedmodel.format.atomic import atomic_write_bytes
from savedmodel.format.graph_def import read_graph_def
from savedmodel.graph.endpoints import Endpoint, graph_inputs, graph_sinks, node_endpoints
from savedmodel.proto import graph_pb2


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """--dir DIR (a SavedModel) or --graph FILE (a GraphDef), exactly one."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dir", help="directory containing the SavedModel")
    source.add_argument(
        "--graph", metavar="FILE", help="a GraphDef file (frozen graph): binary .pb or text .pbtxt"
    )


def refuse_flags(args: argparse.Namespace, command: str, *names: str) -> None:
    """SavedModel-only flags given with --graph: one clear error."""
    given = [f"--{name}" for name in names if getattr(args, name, None) not in (None, False)]
    if given:
        raise InvalidInputError(
            f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to SavedModels (--dir); "
            f"a GraphDef has no tag sets or signatures (see `savedmodel {command} --help`)"
        )


def tensor_name(name: str) -> str:
    """'x' -> 'x:0'; 'x:1' stays."""
    name = name.strip()
    if not name or name.startswith("^"):
        raise InvalidInputError(f"{name!r} is not a tensor name (use '<node>' or '<node>:<index>')")
    node, sep, index = name.rpartition(":")
    if sep and index.isdigit() and node:
        return name
    return f"{name}:0"


# --------------------------------------------------------------------------- show


def shape_json(shape: tuple[int | None, ...] | None) -> list[int] | None:
    return None if shape is None else [-1 if d is None else d for d in shape]


def shape_text(shape: tuple[int | None, ...] | None) -> str:
    if shape is None:
        return "unknown_rank"
    return (
        "(" + ", ".join("-1" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    )


def endpoint_json(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "name": endpoint.name,
        "op": endpoint.op,
        "dtype": None if endpoint.dtype is None else dtypes.enum_name(endpoint.dtype),
        "shape": shape_json(endpoint.shape),
    }


def describe_graph(path: str, graph_def: graph_pb2.GraphDef) -> dict[str, Any]:
    """What `show --graph --json` prints."""
    outputs, targets = graph_sinks(graph_def)
    return {
        "path": path,
        "nodes": len(graph_def.node),
        "producer": graph_def.versions.producer,
        "functions": len(graph_def.library.function),
        "inputs": [endpoint_json(e) for e in graph_inputs(graph_def)],
        "outputs": [endpoint_json(e) for e in outputs],
        "targets": targets,
    }


def _endpoint_lines(endpoints: list[dict[str, Any]]) -> list[str]:
    width = max((len(e["name"]) for e in endpoints), default=0)
    return [
        f"  {e['name']:<{width}}  dtype: {e['dtype'] or 'unknown'}  shape: "
        f"{'unknown_rank' if e['shape'] is None else shape_text(tuple(e['shape']))}  ({e['op']})"
        for e in endpoints
    ]


def format_description(info: dict[str, Any]) -> str:
    lines = [
        f"The GraphDef {info['path']} has {info['nodes']} nodes and {info['functions']} library "
        f"functions (producer version {info['producer']}); it has no signatures.",
        "Inputs (placeholders):",
        *(_endpoint_lines(info["inputs"]) or ["  (none)"]),
        "Likely outputs (outputs of nodes no other node uses):",
        *(_endpoint_lines(info["outputs"]) or ["  (none)"]),
    ]
    if info["targets"]:
        lines.append(
            "Ops without outputs no other node uses (run with --init_op): " + ", ".join(info["targets"])
        )
    return "\n".join(lines)


def show_graph(args: argparse.Namespace) -> int:
    refuse_flags(args, "show", "all", "tag_set", "signature_def", "list_ops")
    info = describe_graph(args.graph, read_graph_def(args.graph))
    print(json.dumps(info, indent=2) if args.json else format_description(info))
    return 0


# --------------------------------------------------------------------------- run


def _endpoint(graph_def: graph_pb2.GraphDef, name: str, nodes: dict[str, Any], what: str) -> Endpoint:
    node_name, _, index = name.rpartition(":")
    node = nodes.get(node_name)
    if node is None:
        inputs = ", ".join(e.name for e in graph_inputs(graph_def)) or "(none)"
        raise NotFoundError(
            f"{what} {name!r}: the graph has no node {node_name!r} (placeholders: {inputs}; "
            "see `savedmodel show --graph`)"
        )
    endpoints = node_endpoints(node, graph_def.versions.producer)
    if int(index) >= len(endpoints):
        raise NotFoundError(f"{what} {name!r}: node {node_name!r} ({node.op}) has {len(endpoints)} outputs")
    return endpoints[int(index)]


def graph_feeds(graph_def: graph_pb2.GraphDef, raw: dict[str, Any]) -> dict[str, np.ndarray]:
    """Feeds keyed by tensor name, converted to each tensor's dtype and checked against its shape."""
    nodes = {node.name: node for node in graph_def.node}
    feeds: dict[str, np.ndarray] = {}
    for key, value in raw.items():
        name = tensor_name(key)
        endpoint = _endpoint(graph_def, name, nodes, "input")
        if endpoint.dtype is None:
            feeds[name] = np.asarray(value)
            continue
        shape = shape_json(endpoint.shape)
        feeds[name] = cli_inputs.coerce_feed(
            key, value, dtypes.base_dtype(endpoint.dtype), None if shape is None else tuple(shape), name
        )
    return feeds


def fetch_names(graph_def: graph_pb2.GraphDef, outputs: str | None) -> list[str]:
    if outputs is None:
        found = [e.name for e in graph_sinks(graph_def)[0]]
        if not found:
            raise InvalidInputError("the graph has no sink with outputs; name the tensors with --outputs")
        return found
    names = [tensor_name(n) for n in outputs.replace(";", ",").split(",") if n.strip()]
    if not names:
        raise InvalidInputError(f"--outputs {outputs!r} names no tensor")
    nodes = {node.name: node for node in graph_def.node}
    for name in names:
        _endpoint(graph_def, name, nodes, "output")
    return list(dict.fromkeys(names))


def file_key(name: str) -> str:
    return name.replace("/", "_").replace(":", "_")


def run_graph(args: argparse.Namespace) -> int:
    from savedmodel.cli import run as run_cli
    from savedmodel.runtime.session import GraphSession

    refuse_flags(args, "run", "tag_set", "signature_def")
    graph_def = read_graph_def(args.graph)
    raw = cli_inputs.build_feed_dict(
        args.inputs, args.input_exprs, args.input_examples, allow_pickle=args.allow_pickle, warn=run_cli._warn
    )
    feeds = graph_feeds(graph_def, raw)
    names = fetch_names(graph_def, args.outputs)
    keys = {name: file_key(name) for name in names}
    if args.outdir and len(set(keys.values())) != len(keys):
        raise InvalidInputError("two --outputs map to the same file name under --outdir")
    paths = run_cli.output_paths(args.outdir, list(keys.values()), args.overwrite) if args.outdir else {}
    session = GraphSession(graph_def, policy=run_cli.policy_from_args(args), where=args.graph)
    init_ops = [n.strip() for n in (args.init_op or "").split(",") if n.strip()]
    if init_ops:
        session.run([], {}, targets=init_ops)
    values = session.run(names, feeds)
    for name, value in zip(names, values, strict=True):
        print(run_cli.format_result(name, value))
        path = paths.get(keys[name])
        if path:
            try:
                atomic_write_bytes(path, run_cli.npy_bytes(value), overwrite=True)
            except OSError as exc:
                raise InvalidInputError(f"cannot write {path}: {exc.strerror or exc}") from None
            print(f"Output {name} is saved to {path}")
    return 0
