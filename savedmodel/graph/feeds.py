"""What a fed tensor accepts: the dtype and shape a feed is checked against, by TensorFlow's rules.

- A SignatureDef's TensorInfo without `tensor_shape` records no shape: the input's shape is
  *unknown*, not scalar (TF Serving and TF1 sessions accept any shape; saved_model_cli still
  prints `shape: ()` for it).
- A Placeholder whose `shape` attr is `shape {}` (or missing) in a GraphDef of producer 21 or
  older has an unknown shape: graphs of that age could not tell "scalar" from "unknown"
  (TensorFlow's Placeholder shape function applies the same rule). From producer 22 on,
  `shape {}` is a scalar.
- A feed's dtype is checked against the graph's tensor it replaces (the Placeholder's `dtype`),
  not the dtype the SignatureDef recorded: TF's session checks the graph, so a string
  tf.Example placeholder behind a TensorInfo that says DT_FLOAT takes strings.

How a fed value is converted to that dtype and checked against that shape:
savedmodel.graph.feed_values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from savedmodel.format import dtypes
from savedmodel.format import tensor as tensor_format
from savedmodel.graph.names import parse_tensor_name
from savedmodel.proto import meta_graph_pb2, tensor_shape_pb2

# The last GraphDef producer version whose Placeholder `shape {}` means "unknown shape".
LEGACY_PLACEHOLDER_PRODUCER = 21
PLACEHOLDERS = frozenset({"Placeholder", "PlaceholderV2"})
DTYPE_PLACEHOLDERS = frozenset({*PLACEHOLDERS, "PlaceholderWithDefault"})

Shape = tuple[int | None, ...] | None


def shape_of_proto(proto: tensor_shape_pb2.TensorShapeProto) -> Shape:
    """None for unknown rank; None dims for unknown sizes."""
    if proto.unknown_rank:
        return None
    return tuple(None if d.size < 0 else int(d.size) for d in proto.dim)


def tensor_info_shape(info: meta_graph_pb2.TensorInfo) -> Shape:
    """The TensorInfo's recorded shape; None (unknown) when it records none."""
    if not info.HasField("tensor_shape"):
        return None
    return shape_of_proto(info.tensor_shape)


def is_legacy_unknown_shape(node: Any, producer: int) -> bool:
    """Whether `node` is a Placeholder whose shape attr means "unknown" under the legacy rule."""
    if node is None or node.op not in PLACEHOLDERS or producer > LEGACY_PLACEHOLDER_PRODUCER:
        return False
    attr = node.attr["shape"] if "shape" in node.attr else None
    if attr is None:
        return True
    proto = attr.shape
    return proto.unknown_rank or len(proto.dim) == 0


def placeholder_shape(node: Any, producer: int) -> Shape:
    """A Placeholder's static shape, with the legacy `shape {}` rule applied."""
    if is_legacy_unknown_shape(node, producer):
        return None
    attr = node.attr["shape"] if "shape" in node.attr else None
    return None if attr is None else tensor_format.shape_from_proto(attr.shape)


def fed_node(info: meta_graph_pb2.TensorInfo, nodes: Mapping[str, Any]) -> Any:
    """The graph node whose output the TensorInfo names (None when it names none)."""
    if info.WhichOneof("encoding") != "name" or not info.name:
        return None
    return nodes.get(parse_tensor_name(info.name)[0])


def feed_dtype(info: meta_graph_pb2.TensorInfo, node: Any) -> int:
    """The dtype enum a feed must have: the placeholder's, else the recorded one."""
    if node is not None and node.op in DTYPE_PLACEHOLDERS and "dtype" in node.attr:
        return dtypes.base_dtype(node.attr["dtype"].type)
    return int(info.dtype)


def feed_shape(info: meta_graph_pb2.TensorInfo, node: Any, producer: int) -> Shape:
    """The shape a feed must be compatible with: the recorded one, unknown when none is recorded
    or when the fed tensor is a legacy Placeholder of unknown shape."""
    if is_legacy_unknown_shape(node, producer):
        return None
    return tensor_info_shape(info)


def feed_spec(info: meta_graph_pb2.TensorInfo, nodes: Mapping[str, Any], producer: int) -> tuple[int, Shape]:
    """(dtype enum, shape) that a value fed through `info` is checked against."""
    node = fed_node(info, nodes)
    return feed_dtype(info, node), feed_shape(info, node, producer)


def node_map(graph_def: Any) -> dict[str, Any]:
    """Node name -> NodeDef of a GraphDef."""
    return {node.name: node for node in graph_def.node}
