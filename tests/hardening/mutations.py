"""One-mutation copies of TensorFlow-made fixtures: endless loops and deep nesting.

Each mutation edits the first MetaGraphDef of a copy of a real fixture (written by
TensorFlow, see tests/fixtures/*/README.md):
- `loop_cond_always_true`: a TF1 while loop's LoopCond reads a constant true (made a member
  of the loop's frame by a control edge from the original predicate, as TensorFlow places
  constants in a loop);
- `while_cond_always_true`: the cond function of a TF2 While returns a constant true;
- `nested_calls`: a function call (in the graph or in a function body) goes through `depth`
  wrapper functions, each a PartitionedCall of the next;
- `calls_on_tensor`: a tensor of the graph goes through `depth` nested calls ending in an
  Identity (a TF1 graph gains a function library);
- `identity_chain`: a tensor of the graph or of a function body goes through `length`
  Identity nodes in a row.
`keep_signature` drops the other signatures, so every entry point runs the mutated one.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from savedmodel.format import tensor as tensor_format
from savedmodel.format.dtypes import DT
from savedmodel.proto import (
    attr_value_pb2,
    function_pb2,
    meta_graph_pb2,
    node_def_pb2,
    op_def_pb2,
    saved_model_pb2,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
Mutation = Callable[[meta_graph_pb2.MetaGraphDef], None]


def mutated(model: Path, *mutations: Mutation) -> Callable[[Path], Path]:
    """A case builder: copy `model` under the test's tmp dir and apply `mutations` to its meta graph."""

    def build(tmp: Path) -> Path:
        target = tmp / model.name
        shutil.copytree(model, target)
        path = target / "saved_model.pb"
        proto = saved_model_pb2.SavedModel()
        proto.ParseFromString(path.read_bytes())
        for mutate in mutations:
            mutate(proto.meta_graphs[0])
        path.write_bytes(proto.SerializeToString())
        return target

    return build


def keep_signature(key: str) -> Mutation:
    def mutate(meta_graph: meta_graph_pb2.MetaGraphDef) -> None:
        for other in [k for k in meta_graph.signature_def if k != key and not k.startswith("__")]:
            del meta_graph.signature_def[other]

    return mutate


def _bool_const(name: str, control: list[str]) -> node_def_pb2.NodeDef:
    node = node_def_pb2.NodeDef(name=name, op="Const", input=[f"^{c}" for c in control])
    node.attr["dtype"].type = DT.DT_BOOL
    node.attr["value"].tensor.CopyFrom(tensor_format.from_numpy(np.array(True)))
    return node


def _find(nodes: list[node_def_pb2.NodeDef], name: str) -> node_def_pb2.NodeDef:
    for node in nodes:
        if node.name == name:
            return node
    raise KeyError(name)


def _function(meta_graph: meta_graph_pb2.MetaGraphDef, name: str) -> function_pb2.FunctionDef:
    for function in meta_graph.graph_def.library.function:
        if function.signature.name == name:
            return function
    raise KeyError(name)


def loop_cond_always_true(loop_cond: str) -> Mutation:
    """TF1: the LoopCond node `loop_cond` reads a constant true; the loop never ends."""

    def mutate(meta_graph: meta_graph_pb2.MetaGraphDef) -> None:
        nodes = meta_graph.graph_def.node
        node = _find(list(nodes), loop_cond)
        pred = node.input[0].split(":")[0].lstrip("^")
        nodes.append(_bool_const(f"{loop_cond}/always_true", [pred]))
        node.input[0] = f"{loop_cond}/always_true"

    return mutate


def while_cond_always_true(cond_function: str) -> Mutation:
    """TF2: the While cond function `cond_function` returns a constant true."""

    def mutate(meta_graph: meta_graph_pb2.MetaGraphDef) -> None:
        function = _function(meta_graph, cond_function)
        function.node_def.append(_bool_const("always_true", []))
        function.ret[function.signature.output_arg[0].name] = "always_true:output:0"

    return mutate


def _types(value: list[int]) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(type=value))


def _call_node(
    name: str, target: str, inputs: list[str], tin: list[int], tout: list[int], op: str
) -> node_def_pb2.NodeDef:
    node = node_def_pb2.NodeDef(name=name, op=op, input=inputs)
    node.attr["f"].func.name = target
    node.attr["Tin"].CopyFrom(_types(tin))
    node.attr["Tout"].CopyFrom(_types(tout))
    return node


def _wrappers(
    prefix: str, signature: op_def_pb2.OpDef, tin: list[int], tout: list[int], depth: int, last: Callable
) -> list[function_pb2.FunctionDef]:
    """`depth` functions {prefix}0..: each calls the next with its arguments; the last one's body is
    `last(args) -> (nodes, rets)`."""
    functions = []
    args = [arg.name for arg in signature.input_arg]
    for i in range(depth):
        fdef = function_pb2.FunctionDef()
        fdef.signature.CopyFrom(signature)
        fdef.signature.name = f"{prefix}{i}"
        if i + 1 < depth:
            fdef.node_def.append(
                _call_node("call", f"{prefix}{i + 1}", args, tin, tout, "StatefulPartitionedCall")
            )
            rets = [f"call:output:{k}" for k in range(len(tout))]
        else:
            body, rets = last(args)
            fdef.node_def.extend(body)
        for arg, ret in zip(signature.output_arg, rets, strict=True):
            fdef.ret[arg.name] = ret
        functions.append(fdef)
    return functions


def nested_calls(caller: str, depth: int, in_function: str | None = None) -> Mutation:
    """The call node `caller` (in the graph, or in function `in_function`) reaches its function
    through `depth` nested wrapper calls."""

    def mutate(meta_graph: meta_graph_pb2.MetaGraphDef) -> None:
        body = (
            meta_graph.graph_def.node if in_function is None else _function(meta_graph, in_function).node_def
        )
        node = _find(list(body), caller)
        target = _function(meta_graph, node.attr["f"].func.name)
        tin, tout = list(node.attr["Tin"].list.type), list(node.attr["Tout"].list.type)
        op = node.op

        def last(args: list[str]) -> tuple[list, list[str]]:
            inner = _call_node("call", target.signature.name, args, tin, tout, op)
            inner.attr["f"].func.attr.update(node.attr["f"].func.attr)
            return [inner], [f"call:output:{k}" for k in range(len(tout))]

        prefix = f"nested_{caller.replace('/', '_')}_"
        meta_graph.graph_def.library.function.extend(
            _wrappers(prefix, target.signature, tin, tout, depth, last)
        )
        node.attr["f"].func.name = f"{prefix}0"

    return mutate


def _rewire(nodes: list[node_def_pb2.NodeDef], names: set[str], new: str) -> None:
    for node in nodes:
        for k, source in enumerate(node.input):
            if source in names:
                node.input[k] = new


def _rewire_graph(meta_graph: meta_graph_pb2.MetaGraphDef, tensor: str, new: str) -> None:
    """Consumers of graph tensor `tensor` ('node:index': nodes and signature outputs) read `new`."""
    node, index = tensor.split(":")
    _rewire(list(meta_graph.graph_def.node), {tensor, node} if index == "0" else {tensor}, new)
    for signature in meta_graph.signature_def.values():
        for info in signature.outputs.values():
            if info.name == tensor:
                info.name = new


def calls_on_tensor(tensor: str, dtype: int, depth: int) -> Mutation:
    """Graph tensor `tensor` ('node:0') goes through `depth` nested calls (the innermost an Identity)."""

    def mutate(meta_graph: meta_graph_pb2.MetaGraphDef) -> None:
        signature = op_def_pb2.OpDef()
        signature.input_arg.add(name="a", type=dtype)
        signature.output_arg.add(name="out", type=dtype)

        def last(args: list[str]) -> tuple[list, list[str]]:
            node = node_def_pb2.NodeDef(name="id", op="Identity", input=args)
            node.attr["T"].type = dtype
            return [node], ["id:output:0"]

        meta_graph.graph_def.library.function.extend(
            _wrappers("deep_", signature, [dtype], [dtype], depth, last)
        )
        call = _call_node("deep_call", "deep_0", [tensor], [dtype], [dtype], "PartitionedCall")
        _rewire_graph(meta_graph, tensor, "deep_call:0")
        meta_graph.graph_def.node.append(call)

    return mutate


def _chain(prefix: str, source: str, dtype: int, length: int, ref: Callable[[str], str]) -> list:
    nodes = []
    for i in range(length):
        node = node_def_pb2.NodeDef(
            name=f"{prefix}{i}", op="Identity", input=[ref(f"{prefix}{i - 1}") if i else source]
        )
        node.attr["T"].type = dtype
        nodes.append(node)
    return nodes


def identity_chain(tensor: str, dtype: int, length: int, in_function: str | None = None) -> Mutation:
    """`tensor` (a graph tensor 'node:0', or a function body's 'node:arg:0' / argument) goes through
    `length` Identity nodes in a row before its consumers read it."""

    def mutate(meta_graph: meta_graph_pb2.MetaGraphDef) -> None:
        if in_function is None:
            chain = _chain("chain_", tensor, dtype, length, lambda name: name)
            _rewire_graph(meta_graph, tensor, f"chain_{length - 1}:0")
            meta_graph.graph_def.node.extend(chain)
            return
        function = _function(meta_graph, in_function)
        chain = _chain("chain_", tensor, dtype, length, lambda name: f"{name}:output:0")
        end = f"chain_{length - 1}:output:0"
        _rewire(list(function.node_def), {tensor}, end)
        for key, value in function.ret.items():
            if value == tensor:
                function.ret[key] = end
        function.node_def.extend(chain)

    return mutate
