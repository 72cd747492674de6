"""The likely inputs and outputs of a bare GraphDef (a frozen graph has no signatures).

Inputs are its placeholders; outputs are the tensors of its sinks, the nodes no
other node consumes (by a data or a control edge). Ops with no outputs among the
sinks (`init`, `train` NoOps) are targets one may run, not outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from savedmodel.format.tensor import shape_from_proto
from savedmodel.graph import feeds
from savedmodel.graph.outputs import find_op_def, output_dtypes
from savedmodel.proto import graph_pb2, node_def_pb2

PLACEHOLDERS = feeds.DTYPE_PLACEHOLDERS


@dataclass(frozen=True)
class Endpoint:
    """One tensor of a graph: its name ('x:0'), DataType enum (None: unknown), shape
    (None: unknown rank; None dims unknown) and the op that makes it."""

    name: str
    dtype: int | None
    shape: tuple[int | None, ...] | None
    op: str


def _dims(shape: tuple[int, ...] | None) -> tuple[int | None, ...] | None:
    if shape is None:
        return None
    return tuple(None if d < 0 else d for d in shape)


def node_output_shapes(
    node: node_def_pb2.NodeDef, count: int, producer: int
) -> list[tuple[int | None, ...] | None]:
    """Output shapes a node states (`_output_shapes`, a Placeholder's or Const's own); else unknown."""
    if feeds.is_legacy_unknown_shape(node, producer):  # `shape {}` of an old graph: unknown
        return [None]
    if node.op in PLACEHOLDERS and "shape" in node.attr:
        return [_dims(shape_from_proto(node.attr["shape"].shape))]
    if node.op in PLACEHOLDERS and node.op != "PlaceholderWithDefault":
        return [None]
    if "_output_shapes" in node.attr and len(node.attr["_output_shapes"].list.shape) == count:
        return [_dims(shape_from_proto(s)) for s in node.attr["_output_shapes"].list.shape]
    if node.op == "Const" and "value" in node.attr:
        return [_dims(shape_from_proto(node.attr["value"].tensor.tensor_shape))]
    return [None] * count


def node_endpoints(node: node_def_pb2.NodeDef, producer: int) -> list[Endpoint]:
    """Every output tensor of `node`."""
    op_def = find_op_def(node.op)
    if op_def is not None:
        types = output_dtypes(op_def, node.attr)
    elif "_output_shapes" in node.attr:
        types = [None] * len(node.attr["_output_shapes"].list.shape)
    else:
        types = [None]
    shapes = node_output_shapes(node, len(types), producer)
    return [
        Endpoint(f"{node.name}:{i}", dtype, shape, node.op)
        for i, (dtype, shape) in enumerate(zip(types, shapes, strict=True))
    ]


def consumed(graph_def: graph_pb2.GraphDef) -> set[str]:
    """Names of the nodes some node of the graph uses as a data or control input."""
    return {ref.lstrip("^").split(":")[0] for node in graph_def.node for ref in node.input}


def graph_inputs(graph_def: graph_pb2.GraphDef) -> list[Endpoint]:
    """The placeholders, in file order."""
    producer = graph_def.versions.producer
    return [node_endpoints(node, producer)[0] for node in graph_def.node if node.op in PLACEHOLDERS]


def graph_sinks(graph_def: graph_pb2.GraphDef) -> tuple[list[Endpoint], list[str]]:
    """(outputs of the sink nodes other than placeholders, names of sinks with no outputs)."""
    used = consumed(graph_def)
    producer = graph_def.versions.producer
    outputs: list[Endpoint] = []
    targets: list[str] = []
    for node in graph_def.node:
        if node.name in used or node.op in PLACEHOLDERS:
            continue
        endpoints = node_endpoints(node, producer)
        if endpoints:
            outputs.extend(endpoints)
        else:
            targets.append(node.name)
    return outputs, targets
