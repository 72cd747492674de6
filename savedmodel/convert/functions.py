"""Turning part of a TF1 graph into a FunctionDef, as TF2 writes concrete functions.

The body is the subgraph the outputs need. Fed tensors become the function's arguments;
variables, tables and asset paths the body uses become captured arguments after them
(resource handles, or a string path), which the caller binds to tracked objects. A TF1
reference variable is read with ReadVariableOp under its own name, so the nodes that used
its value read the same name; with `frozen` values it becomes a constant instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from savedmodel.convert.graphs import (
    DEREF_OPS,
    PLACEHOLDER_OPS,
    REF_TABLE_OPS,
    GraphIndex,
)
from savedmodel.convert.report import Report
from savedmodel.format import tensor as tensor_format
from savedmodel.graph.names import parse_input
from savedmodel.proto import attr_value_pb2, function_pb2, node_def_pb2, tensor_shape_pb2, types_pb2

DT_RESOURCE = types_pb2.DT_RESOURCE
DT_STRING = types_pb2.DT_STRING
_DROPPED_ATTRS = ("_class",)
# Updates of a reference variable and their resource-variable ops.
RESOURCE_UPDATES = {
    "Assign": "AssignVariableOp",
    "AssignAdd": "AssignAddVariableOp",
    "AssignSub": "AssignSubVariableOp",
}


@dataclass(frozen=True)
class Variable:
    """A TF1 variable: its node, dtype, shape, and whether it is a reference variable."""

    node: str
    dtype: int
    shape: tuple[int, ...]
    is_ref: bool


@dataclass(frozen=True)
class Capture:
    """A captured argument: what it stands for (`kind` variable, table or asset; `source` the
    TF1 node, or the asset's tensor name) and the argument's name and dtype."""

    kind: str
    source: str
    arg: str
    dtype: int


@dataclass(frozen=True)
class TensorArg:
    """A function input (`key`) fed in place of `tensor`, or an output (`key`) of `tensor`."""

    key: str
    tensor: str
    dtype: int
    shape: tensor_shape_pb2.TensorShapeProto | None = None


@dataclass
class BuiltFunction:
    fdef: function_pb2.FunctionDef
    inputs: list[TensorArg]
    outputs: list[TensorArg]
    captures: list[Capture] = field(default_factory=list)
    in_library: bool = False  # built in place in the output's function library


def sanitize(name: str) -> str:
    """A valid argument or node name made of `name` (lower-case letters, digits, `_`)."""
    out = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not out or not out[0].isalpha():
        out = "arg_" + out
    return out


class UniqueNames:
    """Names unique case-insensitively (TF function and node names), suffixed _1, _2, ..."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = {n.lower() for n in taken}

    def unique(self, base: str) -> str:
        name, i = base, 0
        while name.lower() in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name.lower())
        return name


def _tensor(text: str) -> str:
    ref = parse_input(text)
    return f"{ref.node}:{ref.index}"


class BodyBuilder:
    """Builds one FunctionDef from a TF1 graph (see the module docstring)."""

    def __init__(
        self,
        index: GraphIndex,
        variables: Mapping[str, Variable],
        tables: set[str],
        asset_tensors: set[str],
        report: Report,
        frozen: Mapping[str, np.ndarray] | None = None,
        library: function_pb2.FunctionDefLibrary | None = None,
    ) -> None:
        """`library`: build each FunctionDef in place there (no copy of large frozen values)."""
        self.library = library
        self.index = index
        self.variables = variables
        self.tables = tables
        self.asset_tensors = asset_tensors
        self.report = report
        self.frozen = frozen

    def build(
        self,
        name: str,
        where: str,
        inputs: Sequence[TensorArg],
        outputs: Sequence[TensorArg],
        control_targets: Sequence[str] = (),
        extra_captures: Sequence[tuple[str, str]] = (),
    ) -> BuiltFunction:
        """`where` names the function in messages ("signature 'serving_default'"). Inputs are
        in argument order; `extra_captures` ((kind, source)) are captured first, in order."""
        return _Body(self, name, where, inputs, outputs, control_targets, extra_captures).build()


class _Body:
    def __init__(
        self,
        builder: BodyBuilder,
        name: str,
        where: str,
        inputs: Sequence[TensorArg],
        outputs: Sequence[TensorArg],
        control_targets: Sequence[str],
        extra_captures: Sequence[tuple[str, str]],
    ) -> None:
        self.b = builder
        self.index = builder.index
        self.where = where
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.control_targets = list(control_targets)
        library = builder.library
        self.fdef = library.function.add() if library is not None else function_pb2.FunctionDef()
        self.fdef.signature.name = name
        self.feeds = {_tensor(i.tensor): i for i in inputs}
        self.captures: dict[tuple[str, str], Capture] = {}
        self.capture_order = list(extra_captures)
        self.read_nodes: dict[str, str] = {}  # variable -> body node holding its value

    # ---- assembly
    def build(self) -> BuiltFunction:
        fetch_nodes = [parse_input(o.tensor).node for o in self.outputs] + self.control_targets
        replaced = {
            parse_input(t).node
            for t in self.feeds
            if self.index.nodes.get(parse_input(t).node) is not None
            and self.index.nodes[parse_input(t).node].op in PLACEHOLDER_OPS
        }
        stops = set(self.b.variables) | self.b.tables | replaced
        feeds = set(self.feeds) | self.b.asset_tensors
        order = self.index.closure(fetch_nodes, feeds, stops)
        self.body = set(order)
        self.names = UniqueNames(self.body)
        self.frozen_reads = {n: v for n in order if (v := self._frozen_read(n)) is not None}
        # Assign/AssignAdd/AssignSub of a reference variable: a resource update, then a read
        # under the node's name (its `value` output stands for the updated reference).
        self.updates = {
            name: self.b.variables[self._data_inputs(name)[0]]
            for name in order
            if self.index.nodes[name].op in RESOURCE_UPDATES
            and self.b.frozen is None
            and self._data_inputs(name)[:1]
            and self._data_inputs(name)[0] in self.b.variables
            and self.b.variables[self._data_inputs(name)[0]].is_ref
        }
        self.arg_names = {i.key: self.names.unique(sanitize(i.key)) for i in self.inputs}
        for kind, source in self.capture_order:
            self._capture(kind, source)
        for name in order:
            self._copy_node(self.index.nodes[name])
        self._outputs()
        self._signature()
        captures = [self.captures[k] for k in self.capture_order]
        return BuiltFunction(self.fdef, self.inputs, self.outputs, captures, self.b.library is not None)

    def _frozen_read(self, name: str) -> Variable | None:
        """With frozen values, the resource variable a ReadVariableOp node reads."""
        if self.b.frozen is None or self.index.nodes[name].op != "ReadVariableOp":
            return None
        inputs = self._data_inputs(name)
        return self.b.variables.get(inputs[0]) if inputs else None

    def _data_inputs(self, name: str) -> list[str]:
        return [parse_input(t).node for t in self.index.nodes[name].input if not t.startswith("^")]

    def _controls(self, node: node_def_pb2.NodeDef) -> list[str]:
        found = {parse_input(t).node for t in node.input if t.startswith("^")}
        return sorted("^" + n for n in found if n in self.body)

    def _update(self, node: node_def_pb2.NodeDef, variable: Variable) -> None:
        handle = self._capture("variable", variable.node).arg
        value_text = [t for t in node.input if not t.startswith("^")][1]
        value = self._resolve(_tensor(value_text), node, 1)
        op = RESOURCE_UPDATES[node.op]
        controls = self._controls(node)
        update = self.fdef.node_def.add(name=self.names.unique(f"{node.name}/{op}"), op=op)
        update.input.extend([handle, value, *controls])
        update.attr["dtype"].type = variable.dtype
        read = self.fdef.node_def.add(name=node.name, op="ReadVariableOp", input=[handle, "^" + update.name])
        read.attr["dtype"].type = variable.dtype
        self.fdef.signature.is_stateful = True

    def _copy_node(self, node: node_def_pb2.NodeDef) -> None:
        if node.name in self.updates:
            self._update(node, self.updates[node.name])
            return
        if node.name in self.frozen_reads:  # the frozen value, under the read's name
            variable = self.frozen_reads[node.name]
            out = self.fdef.node_def.add(name=node.name, op="Identity")
            out.input.extend([self._value(variable), *self._controls(node)])
            out.attr["T"].type = variable.dtype
            return
        if node.op == "ResourceGather" and self._frozen_variable(node) is not None:
            self._frozen_gather(node, self._frozen_variable(node))
            return
        if node.op in PLACEHOLDER_OPS:
            self.b.report.block(f"{self.where} needs placeholder {node.name!r}, which it does not feed")
            return
        if node.op in REF_TABLE_OPS:
            self.b.report.block(
                f"{self.where} uses the reference-typed table {node.name!r} ({node.op}); "
                "only resource tables (HashTableV2...) convert"
            )
            return
        out = self.fdef.node_def.add(name=node.name, op=DEREF_OPS.get(node.op, node.op))
        for key, value in node.attr.items():
            if key not in _DROPPED_ATTRS:
                out.attr[key].CopyFrom(value)
        position = 0
        controls: list[str] = []
        for text in node.input:
            ref = parse_input(text)
            if ref.control:
                if ref.node in self.body:
                    controls.append("^" + ref.node)
                continue
            resolved = self._aliased_read(node, ref.node) or self._resolve(
                f"{ref.node}:{ref.index}", node, position
            )
            out.input.append(resolved)
            position += 1
        out.input.extend(sorted(set(controls)))
        op_def = self.index.op_def(node.op)
        if op_def is not None and op_def.is_stateful:
            self.fdef.signature.is_stateful = True

    def _frozen_variable(self, node: node_def_pb2.NodeDef) -> Variable | None:
        """With frozen values, the variable a resource op's first input is."""
        inputs = self._data_inputs(node.name)
        if self.b.frozen is None or not inputs:
            return None
        return self.b.variables.get(inputs[0])

    def _frozen_gather(self, node: node_def_pb2.NodeDef, variable: Variable) -> None:
        """ResourceGather of a frozen variable: GatherV2 of its constant (axis 0)."""
        indices = [t for t in node.input if not t.startswith("^")][1]
        axis = self.fdef.node_def.add(name=self.names.unique(f"{node.name}/axis"), op="Const")
        axis.attr["dtype"].type = types_pb2.DT_INT32
        axis.attr["value"].tensor.CopyFrom(
            tensor_format.from_numpy(np.array(0, np.int32), types_pb2.DT_INT32)
        )
        out = self.fdef.node_def.add(name=node.name, op="GatherV2")
        out.input.extend(
            [self._value(variable), self._resolve(_tensor(indices), node, 1), f"{axis.name}:output:0"]
        )
        out.input.extend(self._controls(node))
        out.attr["Tparams"].type = variable.dtype
        out.attr["Tindices"].CopyFrom(node.attr["Tindices"])
        out.attr["Taxis"].type = types_pb2.DT_INT32
        out.attr["batch_dims"].i = node.attr["batch_dims"].i if "batch_dims" in node.attr else 0

    # ---- TF1 reads of a reference variable alias its buffer
    def _aliased_read(self, consumer: node_def_pb2.NodeDef, source: str) -> str | None:
        """In TF1 a reference variable's value read through Identity (`w/read`) shares the
        variable's buffer, so a consumer that runs after an in-place update (Assign...) sees
        the new value. Such a consumer gets its own read, ordered after those updates."""
        if not self.updates or consumer.name in self.updates:
            return None
        variable = self._identity_source(source)
        if variable is None:
            return None
        before = sorted(
            u for u, v in self.updates.items() if v.node == variable and u in self._ancestors(consumer.name)
        )
        if not before:
            return None
        handle = self._capture("variable", variable).arg
        read = self.fdef.node_def.add(
            name=self.names.unique(f"{consumer.name}/read_{variable}"), op="ReadVariableOp"
        )
        read.input.extend([handle, *("^" + u for u in before)])
        read.attr["dtype"].type = self.b.variables[variable].dtype
        return f"{read.name}:value:0"

    def _identity_source(self, name: str) -> str | None:
        """The reference variable `name` is (or is an Identity chain of), else None."""
        for _ in range(16):
            variable = self.b.variables.get(name)
            if variable is not None:
                return name if variable.is_ref else None
            node = self.index.nodes.get(name)
            if node is None or node.op not in ("Identity", "RefIdentity") or not node.input:
                return None
            name = parse_input(node.input[0]).node
        return None

    def _ancestors(self, name: str) -> set[str]:
        """Body nodes `name` depends on, by data or control edges."""
        found: set[str] = set()
        stack = [name]
        while stack:
            for text in self.index.nodes[stack.pop()].input:
                source = parse_input(text).node
                if source in self.body and source not in found:
                    found.add(source)
                    stack.append(source)
        return found

    # ---- inputs
    def _resolve(self, tensor: str, consumer: node_def_pb2.NodeDef | None, position: int) -> str:
        node, _, index_text = tensor.rpartition(":")
        index = int(index_text)
        if tensor in self.feeds:
            return self.arg_names[self.feeds[tensor].key]
        if tensor in self.b.asset_tensors:
            return self._capture("asset", tensor).arg
        variable = self.b.variables.get(node)
        if variable is not None:
            return self._variable(variable, consumer, position)
        if node in self.b.tables:
            return self._capture("table", node).arg
        if node not in self.body:
            self.b.report.block(f"{self.where}: tensor {tensor!r} is not computed in the graph")
            return tensor
        if node in self.updates:
            return f"{node}:value:0"
        if node in self.frozen_reads:
            return f"{node}:output:0"
        return self.index.function_ref(node, index)

    def _variable(self, variable: Variable, consumer: node_def_pb2.NodeDef | None, position: int) -> str:
        consumer_op = consumer.op if consumer is not None else ""
        if variable.is_ref:
            changes = consumer is not None and consumer.op not in DEREF_OPS
            if changes and self.index.input_is_ref(consumer, position):
                self.b.report.block(
                    f"{self.where}: {consumer.name!r} ({consumer_op}) changes the reference variable "
                    f"{variable.node!r} (training ops do not convert; export the inference graph)"
                )
            return self._value(variable)
        if self.b.frozen is not None:
            if consumer_op != "ReadVariableOp":
                self.b.report.block(
                    f"{self.where}: {consumer.name if consumer else '?'!r} ({consumer_op}) uses variable "
                    f"{variable.node!r} as a resource; --freeze cannot fold it"
                )
            return self._value(variable)
        return self._capture("variable", variable.node).arg

    def _value(self, variable: Variable) -> str:
        """A body node holding the variable's value, named as the variable."""
        existing = self.read_nodes.get(variable.node)
        if existing is not None:
            return existing
        name = self.names.unique(variable.node)
        if self.b.frozen is not None and variable.node not in self.b.frozen:
            self.b.report.block(f"{self.where}: variable {variable.node!r} is used but not in the checkpoint")
            return f"{name}:output:0"
        if self.b.frozen is not None:
            node = self.fdef.node_def.add(name=name, op="Const")
            node.attr["dtype"].type = variable.dtype
            node.attr["value"].tensor.CopyFrom(
                tensor_format.from_numpy(self.b.frozen[variable.node], variable.dtype)
            )
            ref = f"{name}:output:0"
        else:
            handle = self._capture("variable", variable.node).arg
            node = self.fdef.node_def.add(name=name, op="ReadVariableOp", input=[handle])
            node.attr["dtype"].type = variable.dtype
            self.fdef.signature.is_stateful = True
            ref = f"{name}:value:0"
        self.read_nodes[variable.node] = ref
        return ref

    def _capture(self, kind: str, source: str) -> Capture:
        key = (kind, source)
        found = self.captures.get(key)
        if found is None:
            base = sanitize(source.split(":")[0].lower().replace("/", "_"))
            arg = self.names.unique(f"{base}_{'path' if kind == 'asset' else 'resource'}")
            found = Capture(kind, source, arg, DT_STRING if kind == "asset" else DT_RESOURCE)
            self.captures[key] = found
            if key not in self.capture_order:
                self.capture_order.append(key)
        return found

    # ---- outputs and signature
    def _outputs(self) -> None:
        out_names = UniqueNames(set())
        for output in self.outputs:
            source = self._resolve(_tensor(output.tensor), None, 0)
            ident = self.names.unique("Identity")
            node = self.fdef.node_def.add(name=ident, op="Identity", input=[source])
            node.attr["T"].type = output.dtype
            arg = out_names.unique(sanitize(output.key))
            self.fdef.signature.output_arg.add(name=arg, type=output.dtype)
            self.fdef.ret[arg] = f"{ident}:output:0"
        for target in self.control_targets:
            if target in self.body:
                self.fdef.signature.control_output.append(target)
                self.fdef.control_ret[target] = target

    def _signature(self) -> None:
        sig = self.fdef.signature
        shapes = self.fdef.attr["_input_shapes"].list
        shapes.SetInParent()
        for i, item in enumerate(self.inputs):
            sig.input_arg.add(name=self.arg_names[item.key], type=item.dtype)
            attrs = self.fdef.arg_attr[i].attr
            attrs["_user_specified_name"].s = item.key.encode()
            shape = (
                item.shape if item.shape is not None else tensor_shape_pb2.TensorShapeProto(unknown_rank=True)
            )
            attrs["_output_shapes"].list.shape.add().CopyFrom(shape)
            shapes.shape.add().CopyFrom(shape)
        for j, key in enumerate(self.capture_order):
            capture = self.captures[key]
            sig.input_arg.add(name=capture.arg, type=capture.dtype)
            attrs = self.fdef.arg_attr[len(self.inputs) + j].attr
            attrs["_output_shapes"].list.shape.add()
            shapes.shape.add()
            if capture.dtype == DT_RESOURCE:
                sig.is_stateful = True
        self.fdef.attr["_construction_context"].s = b"kEagerRuntime"


def attr_list_types(values: Sequence[int]) -> attr_value_pb2.AttrValue:
    out = attr_value_pb2.AttrValue()
    out.list.SetInParent()
    out.list.type.extend(values)
    return out
