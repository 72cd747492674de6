"""Reading a TF1 GraphDef for conversion: nodes by name, output arguments and dtypes from
OpDefs, variables and tables, and the subgraph a set of fetches needs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from savedmodel.format import dtypes
from savedmodel.graph.names import parse_input
from savedmodel.graph.outputs import find_op_def, output_dtypes
from savedmodel.proto import function_pb2, graph_pb2, node_def_pb2, op_def_pb2

REF_VARIABLE_OPS = frozenset({"VariableV2", "Variable"})
RESOURCE_VARIABLE_OPS = frozenset({"VarHandleOp"})
VARIABLE_OPS = REF_VARIABLE_OPS | RESOURCE_VARIABLE_OPS
TABLE_OPS = frozenset(
    {"HashTableV2", "MutableHashTableV2", "MutableHashTableOfTensorsV2", "MutableDenseHashTableV2"}
)
REF_TABLE_OPS = frozenset(
    {"HashTable", "MutableHashTable", "MutableHashTableOfTensors", "MutableDenseHashTable"}
)
TABLE_INIT_OPS = frozenset(
    {
        "InitializeTableV2",
        "InitializeTableFromTextFileV2",
        "LookupTableImportV2",
        "InitializeTableFromDataset",
    }
)
PLACEHOLDER_OPS = frozenset({"Placeholder", "PlaceholderV2"})
# Reference-typed control flow and identities: with no reference tensors left they become these.
DEREF_OPS = {
    "RefIdentity": "Identity",
    "RefEnter": "Enter",
    "RefExit": "Exit",
    "RefMerge": "Merge",
    "RefSwitch": "Switch",
    "RefNextIteration": "NextIteration",
    "RefSelect": "Select",
}


@dataclass(frozen=True)
class OutputArg:
    name: str  # the OpDef output argument (or function output) name
    index: int  # index within that argument


class GraphIndex:
    """A GraphDef with its nodes by name and the OpDefs that describe them."""

    def __init__(self, graph_def: graph_pb2.GraphDef, op_list: op_def_pb2.OpList | None = None) -> None:
        self.graph_def = graph_def
        self.nodes: dict[str, node_def_pb2.NodeDef] = {n.name: n for n in graph_def.node}
        self.op_defs: dict[str, op_def_pb2.OpDef] = {o.name: o for o in op_list.op} if op_list else {}
        self.functions: dict[str, function_pb2.FunctionDef] = {
            f.signature.name: f for f in graph_def.library.function
        }

    def op_def(self, op: str) -> op_def_pb2.OpDef | None:
        return find_op_def(op, self.op_defs)

    def output_args(self, node: node_def_pb2.NodeDef) -> list[OutputArg]:
        """The output arguments of each output of `node`, in order."""
        fdef = self.functions.get(node.op)
        if fdef is not None:
            return [OutputArg(a.name, 0) for a in fdef.signature.output_arg]
        op_def = self.op_def(node.op)
        if op_def is None:
            count = len(node.attr["_output_shapes"].list.shape) if "_output_shapes" in node.attr else 1
            return [OutputArg("output", i) for i in range(count)]
        defaults = {a.name: a.default_value for a in op_def.attr if a.HasField("default_value")}
        out: list[OutputArg] = []
        for arg in op_def.output_arg:
            value = (
                node.attr[arg.number_attr] if arg.number_attr in node.attr else defaults.get(arg.number_attr)
            )
            if arg.number_attr:
                count = int(value.i) if value is not None else 0
            elif arg.type_list_attr:
                source = (
                    node.attr[arg.type_list_attr]
                    if arg.type_list_attr in node.attr
                    else defaults.get(arg.type_list_attr)
                )
                count = len(source.list.type) if source is not None else 0
            else:
                count = 1
            out.extend(OutputArg(arg.name, i) for i in range(count))
        return out

    def input_is_ref(self, node: node_def_pb2.NodeDef, position: int) -> bool:
        """Whether data input `position` of `node` is a reference input (Assign's `ref`...)."""
        op_def = self.op_def(node.op)
        if op_def is None:
            return False
        index = 0
        for arg in op_def.input_arg:
            if arg.number_attr:
                count = int(node.attr[arg.number_attr].i) if arg.number_attr in node.attr else 1
            elif arg.type_list_attr:
                count = len(node.attr[arg.type_list_attr].list.type) if arg.type_list_attr in node.attr else 1
            else:
                count = 1
            if index <= position < index + count:
                return arg.is_ref
            index += count
        return False

    def output_dtype(self, name: str, index: int) -> int | None:
        """The (non-reference) DataType enum of output `index` of node `name`."""
        node = self.nodes.get(name)
        if node is None:
            return None
        fdef = self.functions.get(node.op)
        if fdef is not None:
            arg = fdef.signature.output_arg[index]
            return int(arg.type) if arg.type else int(node.attr[arg.type_attr].type)
        op_def = self.op_def(node.op)
        if op_def is None:
            return None
        types = output_dtypes(op_def, node.attr)
        if index >= len(types) or types[index] is None:
            return None
        return dtypes.base_dtype(int(types[index]))

    def function_ref(self, name: str, index: int) -> str:
        """How a FunctionDef body names output `index` of node `name`: `name:arg:i`."""
        arg = self.output_args(self.nodes[name])[index]
        return f"{name}:{arg.name}:{arg.index}"

    def closure(self, fetches: Iterable[str], feeds: set[str], stops: set[str]) -> list[str]:
        """Names of the nodes `fetches` (node names) need, inputs before consumers where there is
        no cycle. A data edge from a tensor in `feeds` ('x:0') is not followed; nodes in `stops`
        are not entered (they become captured inputs)."""
        seen: set[str] = set()
        order: list[str] = []
        stack: list[tuple[str, bool]] = [(f, False) for f in reversed(list(fetches))]
        while stack:
            name, done = stack.pop()
            if done:
                order.append(name)
                continue
            if name in seen or name in stops or name not in self.nodes:
                continue
            seen.add(name)
            stack.append((name, True))
            for text in reversed(self.nodes[name].input):
                ref = parse_input(text)
                if not ref.control and f"{ref.node}:{ref.index}" in feeds:
                    continue
                if ref.node not in seen:
                    stack.append((ref.node, False))
        return order

    def consumers(self) -> Mapping[str, list[tuple[str, int]]]:
        """Node name -> (consumer, input position) of each data edge out of it."""
        out: dict[str, list[tuple[str, int]]] = {}
        for node in self.graph_def.node:
            position = 0
            for text in node.input:
                ref = parse_input(text)
                if ref.control:
                    continue
                out.setdefault(ref.node, []).append((node.name, position))
                position += 1
        return out
