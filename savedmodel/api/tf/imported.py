"""Importing a GraphDef into a savedmodel.api.tf Graph (import_meta_graph, TF1 loading)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from savedmodel.api.tf.dtypes import DType, as_dtype
from savedmodel.api.tf.graph import Graph, Operation, Tensor, TensorShape
from savedmodel.api.tf.variables import BaseVariable
from savedmodel.errors import FormatError
from savedmodel.format import tensor as tensor_format
from savedmodel.graph.endpoints import node_output_shapes
from savedmodel.graph.outputs import find_op_def, output_dtypes
from savedmodel.proto import graph_pb2, node_def_pb2, op_def_pb2, variable_pb2


def _output_types(node: node_def_pb2.NodeDef, op_def: op_def_pb2.OpDef | None) -> list[DType]:
    """The dtypes of a node's outputs, from its OpDef; a node of an op no OpDef describes (a
    custom op) has as many float32 outputs as its `_output_shapes` attr lists, else one."""
    if op_def is None:
        count = len(node.attr["_output_shapes"].list.shape) if "_output_shapes" in node.attr else 1
        return [as_dtype("float32")] * count
    return [as_dtype(1 if t is None else t) for t in output_dtypes(op_def, node.attr)]


def _output_shapes(node: node_def_pb2.NodeDef, count: int, producer: int) -> list[TensorShape]:
    return [TensorShape(shape) for shape in node_output_shapes(node, count, producer)]


def _topological(nodes: list[node_def_pb2.NodeDef]) -> list[node_def_pb2.NodeDef]:
    by_name = {n.name: n for n in nodes}
    order: list[node_def_pb2.NodeDef] = []
    state: dict[str, int] = {}
    for root in nodes:
        if root.name in state:
            continue
        stack: list[tuple[node_def_pb2.NodeDef, int]] = [(root, 0)]
        state[root.name] = 1
        while stack:
            node, i = stack.pop()
            deps = [d.lstrip("^").split(":")[0] for d in node.input]
            if i < len(deps):
                stack.append((node, i + 1))
                dep = by_name.get(deps[i])
                if dep is not None and dep.name not in state:
                    state[dep.name] = 1
                    stack.append((dep, 0))
                continue
            state[node.name] = 2
            order.append(node)
    return order


def import_nodes(
    graph: Graph,
    graph_def: graph_pb2.GraphDef,
    prefix: str = "",
    op_list: op_def_pb2.OpList | None = None,
    input_map: Mapping[str, Tensor] | None = None,
    add_default_attrs: bool = False,
) -> dict[str, Operation]:
    """Add the nodes of `graph_def` to `graph`, named `prefix + name`. `input_map` replaces
    inputs the nodes name ('x:0', or '^x' for a control input) by tensors (operations) of
    `graph`; `add_default_attrs` fills attrs the nodes leave out from their OpDefs' defaults."""
    input_map = dict(input_map or {})
    producer = graph_def.versions.producer
    extra = {op.name: op for op in op_list.op} if op_list is not None else {}
    if extra:  # output layouts of the model's ops, for sessions running this graph
        graph.extra_op_defs = {**getattr(graph, "extra_op_defs", {}), **extra}
    created: dict[str, Operation] = {}
    for fdef in graph_def.library.function:
        graph.library_functions[fdef.signature.name] = fdef
    names = {node.name for node in graph_def.node}
    # Ops whose inputs include back edges (TF1 while loops: NextIteration -> Merge), wired last.
    pending: list[tuple[Operation, list[Tensor | tuple[str, int]], list[str]]] = []
    for node in _topological(list(graph_def.node)):
        op_def = find_op_def(node.op, extra)
        types = _output_types(node, op_def)
        inputs: list[Tensor | tuple[str, int]] = []
        controls: list[Operation] = []
        late_controls: list[str] = []
        for ref in node.input:
            mapped = _mapped(input_map, ref)
            if mapped is not None:
                if ref.startswith("^"):
                    controls.append(mapped if isinstance(mapped, Operation) else mapped.op)
                else:
                    inputs.append(mapped)
                continue
            if ref.startswith("^"):
                dep = created.get(ref[1:]) or graph._by_name.get(prefix + ref[1:])
                if dep is not None:
                    controls.append(dep)
                elif ref[1:] in names:
                    late_controls.append(ref[1:])
                continue
            name, _, index = ref.partition(":")
            source = created.get(name) or graph._by_name.get(prefix + name)
            if source is None and name in names:
                inputs.append((name, int(index or 0)))
                continue
            if source is None:
                raise FormatError(f"node {node.name}: input {ref!r} is not in the graph")
            inputs.append(_output(source, int(index or 0), node.name))
        attrs = {k: v for k, v in node.attr.items() if k != "_output_shapes"}
        if add_default_attrs and op_def is not None:
            attrs.update(
                (a.name, a.default_value)
                for a in op_def.attr
                if a.HasField("default_value") and a.name not in attrs
            )
        ready = [t for t in inputs if isinstance(t, Tensor)]
        op = graph.create_op(
            node.op,
            ready,
            {k: _copy(v) for k, v in attrs.items()},
            types,
            _output_shapes(node, len(types), producer),
            name=prefix + node.name + "/",
            control_inputs=controls,
            fill_defaults=False,
        )
        op.device = node.device
        graph._names_in_use[op.name.lower()] = 1
        created[node.name] = op
        if len(ready) != len(inputs) or late_controls:
            pending.append((op, inputs, late_controls))
    for op, wanted, late in pending:
        op.inputs = [t if isinstance(t, Tensor) else _output(created[t[0]], t[1], op.name) for t in wanted]
        op.control_inputs.extend(created[name] for name in late if created[name] not in op.control_inputs)
        graph._mutations += 1
    return created


def _mapped(input_map: Mapping[str, Any], ref: str) -> Any:
    if not input_map:
        return None
    if ref.startswith("^"):
        return input_map.get(ref)
    name, _, index = ref.partition(":")
    return input_map.get(f"{name}:{index or 0}")


def _output(op: Operation, index: int, consumer: str) -> Tensor:
    if not 0 <= index < len(op.outputs):
        raise FormatError(
            f"node {consumer}: input {op.name}:{index} does not exist ({op.name} has "
            f"{len(op.outputs)} outputs)"
        )
    return op.outputs[index]


def _copy(value: Any) -> Any:
    out = type(value)()
    out.CopyFrom(value)
    return out


class ImportedVariable(BaseVariable):
    """A variable rebuilt from a VariableDef of an imported graph."""

    def __init__(self, graph: Graph, proto: variable_pb2.VariableDef, prefix: str = "") -> None:
        self.graph = graph
        self.proto = proto
        self.handle = graph.get_tensor_by_name(prefix + proto.variable_name)
        self.op = self.handle.op
        self.initializer = graph.get_operation_by_name(prefix + proto.initializer_name)
        self._snapshot = (
            graph.get_tensor_by_name(prefix + proto.snapshot_name) if proto.snapshot_name else None
        )
        self.initial_value = (
            graph.get_tensor_by_name(prefix + proto.initial_value_name) if proto.initial_value_name else None
        )
        self.trainable = proto.trainable
        self.is_resource = proto.is_resource
        self.dtype = as_dtype(self.op.attrs["dtype"].type)
        shape_attr = self.op.attrs.get("shape")
        self._shape = (
            TensorShape(tensor_format.shape_from_proto(shape_attr.shape)) if shape_attr else TensorShape(None)
        )
        self._name = self.handle.name

    @classmethod
    def get(cls, graph: Graph, proto: variable_pb2.VariableDef, prefix: str = "") -> ImportedVariable:
        cache = graph._variable_objects
        key = prefix + proto.variable_name
        if key not in cache:
            cache[key] = cls(graph, proto, prefix)
        return cache[key]

    def _dense_read(self, name: str | None = None) -> Tensor:
        if not self.is_resource:
            return self._snapshot if self._snapshot is not None else self.handle
        op = self.graph.create_op(
            "ReadVariableOp",
            [self.handle],
            {"dtype": _type_attr(self.dtype)},
            [self.dtype],
            [self._shape],
            name=name or "ReadVariableOp",
        )
        return op.outputs[0]

    @property
    def _saveable_tensor(self) -> Tensor | None:
        return None if self.is_resource else self.handle

    def _as_graph_element(self) -> Tensor:
        return self._snapshot if self._snapshot is not None else self.handle

    def to_proto(self) -> variable_pb2.VariableDef:
        return self.proto

    def __repr__(self) -> str:
        return f"<tf.Variable '{self.name}' shape={self._shape} dtype={self.dtype.name}>"


def _type_attr(dtype: DType) -> Any:
    from savedmodel.api.tf.graph import attr_type

    return attr_type(dtype)
