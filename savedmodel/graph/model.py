"""The graph and function model the runtime compiles: nodes with parsed inputs.

A `GraphModel` is a flat set of `Node`s whose data inputs are (producer, output
index) pairs and whose control inputs are producer names. Both a GraphDef and a
FunctionDef body (with arguments turned into `_Arg` nodes and attr placeholders
resolved from the call's attrs) become one, so the plan compiler and executor
never see the two naming schemes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from savedmodel.errors import FormatError, NotFoundError
from savedmodel.graph.names import parse_function_input, parse_input
from savedmodel.graph.outputs import OutputLayout, output_layout
from savedmodel.proto import attr_value_pb2, function_pb2, graph_pb2, op_def_pb2

AttrMap = Mapping[str, attr_value_pb2.AttrValue]


@dataclass
class Node:
    name: str
    op: str
    attr: AttrMap
    inputs: list[tuple[str, int]] = field(default_factory=list)
    control: list[str] = field(default_factory=list)
    device: str = ""
    # Data inputs as written in the graph, for kernels that want them.
    input_names: list[str] = field(default_factory=list)


class FunctionLibrary:
    """The FunctionDefs of a graph by name, plus the OpDefs known for its ops."""

    def __init__(
        self,
        functions: Iterable[function_pb2.FunctionDef] = (),
        op_defs: Mapping[str, op_def_pb2.OpDef] | None = None,
        gradients: Mapping[str, str] | None = None,
    ) -> None:
        self.functions: dict[str, function_pb2.FunctionDef] = {f.signature.name: f for f in functions}
        self.op_defs: dict[str, op_def_pb2.OpDef] = dict(op_defs or {})
        self.gradients = dict(gradients or {})

    @classmethod
    def from_graph_def(
        cls, graph_def: graph_pb2.GraphDef, op_list: op_def_pb2.OpList | None = None
    ) -> FunctionLibrary:
        op_defs = {op.name: op for op in op_list.op} if op_list is not None else {}
        return cls(
            graph_def.library.function,
            op_defs,
            {g.function_name: g.gradient_func for g in graph_def.library.gradient},
        )

    def __contains__(self, name: str) -> bool:
        return name in self.functions

    def get(self, name: str) -> function_pb2.FunctionDef:
        try:
            return self.functions[name]
        except KeyError:
            raise NotFoundError(f"function {name!r} is not in the graph's function library") from None

    def layout(self, op: str, attr: AttrMap) -> OutputLayout:
        return output_layout(op, attr, self.op_defs, self.functions)


class GraphModel:
    """Nodes by name (in file order) and their output layouts."""

    def __init__(self, nodes: Iterable[Node], library: FunctionLibrary, where: str = "graph") -> None:
        self.nodes: dict[str, Node] = {}
        for node in nodes:
            if node.name in self.nodes:
                raise FormatError(f"{where}: two nodes named {node.name!r}")
            self.nodes[node.name] = node
        self.library = library
        self.where = where
        self._layouts: dict[str, OutputLayout] = {}

    def node(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise NotFoundError(f"{self.where}: no node named {name!r}") from None

    def layout(self, name: str) -> OutputLayout:
        cached = self._layouts.get(name)
        if cached is None:
            node = self.node(name)
            try:
                cached = self._layouts[name] = self.library.layout(node.op, node.attr)
            except FormatError as exc:
                raise FormatError(f"{self.where}, node {name!r} ({node.op}): {exc}") from None
        return cached

    @classmethod
    def from_graph_def(
        cls, graph_def: graph_pb2.GraphDef, library: FunctionLibrary | None = None, where: str = "graph"
    ) -> GraphModel:
        library = library or FunctionLibrary.from_graph_def(graph_def)
        nodes = []
        for nd in graph_def.node:
            node = Node(nd.name, nd.op, nd.attr, device=nd.device)
            for text in nd.input:
                ref = parse_input(text)
                if ref.control:
                    node.control.append(ref.node)
                else:
                    node.inputs.append((ref.node, ref.index))
                    node.input_names.append(text)
            nodes.append(node)
        return cls(nodes, library, where)


ARG_OP = "_Arg"
# The TF1 control-flow primitives; savedmodel.runtime.dataflow gives them their meaning.
DATAFLOW_PRIMITIVES = (
    "Switch",
    "RefSwitch",
    "Merge",
    "RefMerge",
    "Enter",
    "RefEnter",
    "Exit",
    "RefExit",
    "NextIteration",
    "RefNextIteration",
)


@dataclass
class FunctionBody:
    """A FunctionDef instantiated with concrete attrs: its graph, args and results."""

    name: str
    graph: GraphModel
    arg_nodes: list[str]
    rets: list[tuple[str, int]]
    control_rets: list[str]
    signature: op_def_pb2.OpDef


def _resolve_placeholders(attr: AttrMap, call_attrs: AttrMap, where: str) -> AttrMap:
    if not any(v.placeholder for v in attr.values()):
        return attr
    resolved: dict[str, attr_value_pb2.AttrValue] = {}
    for key, value in attr.items():
        if value.placeholder:
            if value.placeholder not in call_attrs:
                raise FormatError(
                    f"{where}: attr {key!r} refers to {value.placeholder!r}, which the call does not set"
                )
            resolved[key] = call_attrs[value.placeholder]
        else:
            resolved[key] = value
    return resolved


def instantiate(library: FunctionLibrary, name: str, call_attrs: AttrMap | None = None) -> FunctionBody:
    """The body of function `name` as a GraphModel, with `_Arg` nodes for its arguments."""
    fdef = library.get(name)
    call_attrs = dict(call_attrs or {})
    # Function-level attrs (fdef.attr) are defaults for placeholders too.
    sig = fdef.signature
    where = f"function {name!r}"
    nodes: list[Node] = []
    arg_names = []
    for i, arg in enumerate(sig.input_arg):
        arg_attr = {"index": attr_value_pb2.AttrValue(i=i)}
        if arg.type:
            arg_attr["T"] = attr_value_pb2.AttrValue(type=arg.type)
        elif arg.type_attr and arg.type_attr in call_attrs:
            arg_attr["T"] = call_attrs[arg.type_attr]
        nodes.append(Node(arg.name, ARG_OP, arg_attr))
        arg_names.append(arg.name)
    arg_set = set(arg_names)
    for nd in fdef.node_def:
        nodes.append(
            Node(
                nd.name,
                nd.op,
                _resolve_placeholders(nd.attr, call_attrs, f"{where}, node {nd.name!r}"),
                device=nd.device,
            )
        )
    graph = GraphModel(nodes, library, where)
    for nd, node in zip(fdef.node_def, nodes[len(arg_names) :], strict=True):
        for text in nd.input:
            ref = _resolve_function_input(graph, arg_set, text, where)
            if ref[1] < 0:
                node.control.append(ref[0])
            else:
                node.inputs.append(ref)
                node.input_names.append(text)
    rets = []
    for arg in sig.output_arg:
        if arg.name not in fdef.ret:
            raise FormatError(f"{where}: output {arg.name!r} has no ret entry")
        rets.append(_resolve_function_input(graph, arg_set, fdef.ret[arg.name], where))
    control_rets = [fdef.control_ret[k] for k in sig.control_output if k in fdef.control_ret]
    return FunctionBody(name, graph, arg_names, rets, control_rets, sig)


def _resolve_function_input(graph: GraphModel, args: set[str], text: str, where: str) -> tuple[str, int]:
    ref = parse_function_input(text)
    if ref.control:
        if ref.node not in graph.nodes:
            raise FormatError(f"{where}: control input {text!r} names no node")
        return (ref.node, -1)
    if ref.out_arg is None:
        if ref.node in args or ref.node in graph.nodes:
            return (ref.node, ref.index)
        raise FormatError(f"{where}: input {text!r} names no argument or node")
    if ref.node not in graph.nodes:
        raise FormatError(f"{where}: input {text!r} names no node")
    layout = graph.layout(ref.node)
    start = layout.offsets.get(ref.out_arg)
    if start is None:
        if layout.offsets:
            raise FormatError(
                f"{where}: node {ref.node!r} ({graph.nodes[ref.node].op}) has no output "
                f"argument {ref.out_arg!r}"
            )
        start = 0
    return (ref.node, start + ref.index)
