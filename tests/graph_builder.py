"""Build GraphDefs, FunctionDefs and small SavedModels by hand (protos written directly, no TensorFlow).

Nodes: `node(name, op, *inputs, **attrs)`, where an attr is an AttrValue, a TensorProto or NumPy
array (a tensor), bool, int, float, bytes or str, or one of `type_attr`, `type_list`,
`func_attr`, `shape_attr`. `const(name, value, *control)` infers the dtype (or takes `dtype=`);
control inputs are written as TensorFlow writes them ("^node").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.format import dtypes
from savedmodel.format import tensor as tensor_format
from savedmodel.format.dtypes import DT
from savedmodel.proto import (
    attr_value_pb2,
    function_pb2,
    graph_pb2,
    meta_graph_pb2,
    node_def_pb2,
    saved_model_pb2,
    tensor_pb2,
)

F32 = DT.DT_FLOAT
I32 = DT.DT_INT32
I64 = DT.DT_INT64
STR = DT.DT_STRING
BOOL = DT.DT_BOOL


# --------------------------------------------------------------------------- attrs


def attr(value: Any) -> attr_value_pb2.AttrValue:
    """An AttrValue from a Python value (see the module docstring)."""
    if isinstance(value, attr_value_pb2.AttrValue):
        return value
    if isinstance(value, tensor_pb2.TensorProto):
        return attr_value_pb2.AttrValue(tensor=value)
    if isinstance(value, np.ndarray):
        return attr_value_pb2.AttrValue(tensor=tensor_format.from_numpy(value))
    if isinstance(value, bool):
        return attr_value_pb2.AttrValue(b=value)
    if isinstance(value, int):
        return attr_value_pb2.AttrValue(i=value)
    if isinstance(value, float):
        return attr_value_pb2.AttrValue(f=value)
    if isinstance(value, str | bytes):
        return attr_value_pb2.AttrValue(s=value.encode() if isinstance(value, str) else value)
    raise TypeError(value)


def type_attr(dtype: int) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(type=dtype)


def type_list(*types: int) -> attr_value_pb2.AttrValue:
    value = attr_value_pb2.AttrValue()
    value.list.type.extend(types)
    return value


def func_attr(name: str, **attrs: Any) -> attr_value_pb2.AttrValue:
    value = attr_value_pb2.AttrValue()
    value.func.name = name
    for key, item in attrs.items():
        value.func.attr[key].CopyFrom(attr(item))
    return value


def shape_attr(dims: Sequence[int] | None) -> attr_value_pb2.AttrValue:
    """A shape attr (None: unknown rank; -1 dims: unknown size)."""
    return attr_value_pb2.AttrValue(shape=tensor_format.shape_to_proto(dims))


# --------------------------------------------------------------------------- nodes and graphs


def node(name: str, op: str, *inputs: str, **attrs: Any) -> node_def_pb2.NodeDef:
    nd = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs))
    for key, value in attrs.items():
        nd.attr[key].CopyFrom(attr(value))
    return nd


def raw_const(name: str, proto: tensor_pb2.TensorProto, *control: str) -> node_def_pb2.NodeDef:
    """A Const holding `proto` as it is (malformed ones too)."""
    return node(name, "Const", *control, dtype=type_attr(proto.dtype), value=proto)


def const(
    name: str, value: Any, *control: str, dtype: int | None = None, shape: Sequence[int] | None = None
) -> node_def_pb2.NodeDef:
    """A Const of `value` (Python str becomes a string tensor), with control inputs `control`."""
    array = np.asarray(value)
    if array.dtype.kind == "U":
        array = array.astype(object)
    return raw_const(name, tensor_format.from_numpy(array, dtype, shape), *control)


def placeholder(name: str, dtype: int = F32, shape: Sequence[int] | None = None) -> node_def_pb2.NodeDef:
    """A Placeholder; with `shape` its shape attr (else none: an unknown shape)."""
    nd = node(name, "Placeholder", dtype=type_attr(dtype))
    if shape is not None:
        nd.attr["shape"].CopyFrom(shape_attr(shape))
    return nd


def graph(
    *nodes: node_def_pb2.NodeDef, functions: Sequence[function_pb2.FunctionDef] = ()
) -> graph_pb2.GraphDef:
    g = graph_pb2.GraphDef()
    g.node.extend(nodes)
    g.library.function.extend(functions)
    return g


# --------------------------------------------------------------------------- functions


def _add_args(args: Any, specs: Sequence[tuple[str, int | str]]) -> None:
    for arg_name, arg_type in specs:
        arg = args.add(name=arg_name)
        if isinstance(arg_type, str):
            arg.type_attr = arg_type
        else:
            arg.type = arg_type


def function(
    name: str,
    inputs: Sequence[tuple[str, int | str]],
    outputs: Sequence[tuple[str, int | str]],
    nodes: Sequence[node_def_pb2.NodeDef],
    ret: Mapping[str, str],
) -> function_pb2.FunctionDef:
    """A FunctionDef; an argument's type is a dtype enum or the name of a type attr. Body nodes
    refer to arguments by name and to outputs as 'node:out_arg:index'."""
    f = function_pb2.FunctionDef()
    f.signature.name = name
    _add_args(f.signature.input_arg, inputs)
    _add_args(f.signature.output_arg, outputs)
    f.node_def.extend(nodes)
    for key, value in ret.items():
        f.ret[key] = value
    return f


def call(
    name: str,
    function_name: str,
    inputs: Sequence[str],
    tin: Sequence[int],
    tout: Sequence[int],
    op: str = "PartitionedCall",
) -> node_def_pb2.NodeDef:
    return node(name, op, *inputs, f=func_attr(function_name), Tin=type_list(*tin), Tout=type_list(*tout))


def call_chain(depth: int) -> list[function_pb2.FunctionDef]:
    """Functions f0 .. f{depth-1}: each calls the next through a PartitionedCall, the last negates."""
    out = []
    for i in range(depth):
        last = i + 1 == depth
        neg = node("c", "Neg", "a", T=type_attr(F32))
        body = [neg] if last else [call("c", f"f{i + 1}", ["a"], [F32], [F32])]
        out.append(
            function(f"f{i}", [("a", F32)], [("out", F32)], body, {"out": "c:y:0" if last else "c:output:0"})
        )
    return out


def endless_tf1_loop_nodes() -> list[node_def_pb2.NodeDef]:
    """A TF1 while loop (Enter/Merge/Switch/NextIteration/Exit) over `x` that never ends."""
    f32 = type_attr(F32)
    return [
        node("enter", "Enter", "x", T=f32, frame_name="loop", is_constant=False, parallel_iterations=1),
        node("merge", "Merge", "enter", "next", T=f32, N=2),
        const("t", True, "^merge"),
        node("cond", "LoopCond", "t"),
        node("switch", "Switch", "merge", "cond", T=f32),
        node("body", "Identity", "switch:1", T=f32),
        node("next", "NextIteration", "body", T=f32),
        node("y", "Exit", "switch", T=f32),
    ]


def counting_while_functions() -> tuple[function_pb2.FunctionDef, function_pb2.FunctionDef]:
    """cond/body of a functional While: a += 1 while any(a < 50); from [1, 2]: 49 iterations, [50, 51]."""
    cond = function(
        "cond",
        [("a", F32)],
        [("out", BOOL)],
        [
            const("limit", np.float32(50)),
            node("lt", "Less", "a", "limit:output:0", T=type_attr(F32)),
            const("axis", np.array([0], np.int32)),
            node("any", "Any", "lt:z:0", "axis:output:0", keep_dims=False, Tidx=type_attr(I32)),
        ],
        {"out": "any:output:0"},
    )
    body = function(
        "body",
        [("a", F32)],
        [("out", F32)],
        [const("one", np.float32(1)), node("add", "AddV2", "a", "one:output:0", T=type_attr(F32))],
        {"out": "add:z:0"},
    )
    return cond, body


# --------------------------------------------------------------------------- SavedModels


def tensor_info(name: str, dtype: int = F32, shape: Sequence[int] | None = None) -> meta_graph_pb2.TensorInfo:
    return meta_graph_pb2.TensorInfo(name=name, dtype=dtype, tensor_shape=tensor_format.shape_to_proto(shape))


def write_model(
    directory: Path,
    nodes: Sequence[node_def_pb2.NodeDef],
    inputs: Mapping[str, meta_graph_pb2.TensorInfo] | None = None,
    outputs: Mapping[str, meta_graph_pb2.TensorInfo] | None = None,
    functions: Sequence[function_pb2.FunctionDef] = (),
    main_op: str | None = None,
    assets: Mapping[str, str] | None = None,
    signature_key: str = "serving_default",
) -> Path:
    """Write `directory/saved_model.pb` with one MetaGraphDef tagged 'serve' and one signature.

    `assets` maps an asset placeholder's tensor name to the filename recorded in asset_file_def.
    """
    directory.mkdir(parents=True, exist_ok=True)
    meta_graph = meta_graph_pb2.MetaGraphDef(graph_def=graph(*nodes, functions=functions))
    meta_graph.meta_info_def.tags.append("serve")
    signature = meta_graph.signature_def[signature_key]
    signature.method_name = "tensorflow/serving/predict"
    for key, info in (inputs or {}).items():
        signature.inputs[key].CopyFrom(info)
    for key, info in (outputs or {}).items():
        signature.outputs[key].CopyFrom(info)
    if main_op:
        meta_graph.collection_def["saved_model_main_op"].node_list.value.append(main_op)
    for tensor_name, filename in (assets or {}).items():
        info = meta_graph_pb2.TensorInfo(name=tensor_name)
        meta_graph.asset_file_def.add(tensor_info=info, filename=filename)
    proto = saved_model_pb2.SavedModel(saved_model_schema_version=1, meta_graphs=[meta_graph])
    (directory / "saved_model.pb").write_bytes(proto.SerializeToString())
    return directory


def zeros_for(dtype: int, shape: Sequence[int]) -> np.ndarray:
    """Zeros of a dtype enum (b"" for strings)."""
    np_dtype = dtypes.as_numpy_dtype(dtype)
    if np_dtype == np.dtype(object):
        out = np.empty(shape, dtype=object)
        out[...] = b""
        return out
    return np.zeros(shape, dtype=np_dtype)
