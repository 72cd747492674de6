"""`tf.compat.v1.import_graph_def`: add a GraphDef's nodes to the default graph.

As in TensorFlow: the nodes are named `<name>/<node>` where `name` defaults to
"import" (made unique in the graph: "import_1", ...), or keep their own names with
`name=""`; attrs the nodes leave out get their OpDefs' defaults; `input_map` feeds
existing tensors in place of the tensors the GraphDef names; `return_elements`
picks tensors ("x:0") and operations ("x") of the imported graph to return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from savedmodel.api.tf import graph as g
from savedmodel.api.tf.imported import import_nodes
from savedmodel.errors import InvalidInputError
from savedmodel.proto import graph_pb2, op_def_pb2


def _as_graph_def(graph_def: Any) -> graph_pb2.GraphDef:
    if isinstance(graph_def, graph_pb2.GraphDef):
        return graph_def
    serialize = getattr(graph_def, "SerializeToString", None)
    if type(graph_def).__name__ == "GraphDef" and serialize is not None:  # TensorFlow's own class
        return graph_pb2.GraphDef.FromString(serialize())
    raise TypeError(f"graph_def must be a GraphDef proto, got {type(graph_def).__name__}")


def _tensor_key(name: str) -> str:
    if name.startswith("^"):
        return name
    node, _, index = name.partition(":")
    return f"{node}:{index or 0}"


def _check_input_map(
    graph: g.Graph, graph_def: graph_pb2.GraphDef, input_map: Mapping[Any, Any]
) -> dict[str, Any]:
    nodes = {node.name for node in graph_def.node}
    resolved: dict[str, Any] = {}
    missing: list[str] = []
    for key, value in input_map.items():
        if not isinstance(key, str):
            raise TypeError(f"input_map keys must be strings (tensor names), got {key!r}")
        name = _tensor_key(key)
        if name.lstrip("^").split(":")[0] not in nodes:
            missing.append(key)
        element = graph.as_graph_element(value)
        if name.startswith("^") != isinstance(element, g.Operation):
            raise InvalidInputError(
                f"input_map[{key!r}]: control inputs map to operations, tensors to tensors"
            )
        if isinstance(element, g.Tensor) and element.graph is not graph:
            raise InvalidInputError(f"input_map[{key!r}] is a tensor of another graph")
        resolved[name] = element
    if missing:
        raise InvalidInputError(f"Attempted to map inputs that were not found in graph_def: {missing}")
    return resolved


def _scope(graph: g.Graph, name: str | None) -> str:
    if name == "":
        return ""
    with graph.name_scope(name or "import") as scope:
        return scope


def _returned(created: Mapping[str, g.Operation], names: Sequence[str]) -> list[Any]:
    out: list[Any] = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"return_elements must be strings, got {name!r}")
        node, sep, index = name.partition(":")
        op = created.get(node)
        if op is None or (sep and not index.isdigit()):
            raise InvalidInputError(f"Requested return_element {name!r} not found in graph_def.")
        if not sep:
            out.append(op)
            continue
        if int(index) >= len(op.outputs):
            raise InvalidInputError(f"Requested return_element {name!r} not found in graph_def.")
        out.append(op.outputs[int(index)])
    return out


def import_graph_def(
    graph_def: Any,
    input_map: Mapping[str, Any] | None = None,
    return_elements: Sequence[str] | None = None,
    name: str | None = None,
    op_dict: Any = None,
    producer_op_list: op_def_pb2.OpList | None = None,
) -> list[Any] | None:
    """Import `graph_def` into the default graph (see the module docstring)."""
    del op_dict  # deprecated and ignored by TensorFlow too
    from savedmodel.api import tf

    graph = tf.get_default_graph()
    proto = _as_graph_def(graph_def)
    mapping = _check_input_map(graph, proto, input_map or {})
    prefix = _scope(graph, name)
    created = import_nodes(graph, proto, prefix, producer_op_list, mapping, add_default_attrs=True)
    return None if return_elements is None else _returned(created, return_elements)
