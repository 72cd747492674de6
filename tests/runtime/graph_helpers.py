"""Build small GraphDefs and FunctionDefs by hand (no TensorFlow)."""

from __future__ import annotations

from typing import Any

import numpy as np

from savedmodel.format import dtypes
from savedmodel.format import tensor as tensor_format
from savedmodel.proto import attr_value_pb2, function_pb2, graph_pb2, node_def_pb2, types_pb2

DT = types_pb2.DataType


def attr(value: Any) -> attr_value_pb2.AttrValue:
    if isinstance(value, attr_value_pb2.AttrValue):
        return value
    if isinstance(value, bool):
        return attr_value_pb2.AttrValue(b=value)
    if isinstance(value, int):
        return attr_value_pb2.AttrValue(i=value)
    if isinstance(value, float):
        return attr_value_pb2.AttrValue(f=value)
    if isinstance(value, (str, bytes)):
        return attr_value_pb2.AttrValue(s=value.encode() if isinstance(value, str) else value)
    if isinstance(value, np.ndarray):
        return attr_value_pb2.AttrValue(tensor=tensor_format.from_numpy(value))
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


def node(name: str, op: str, *inputs: str, **attrs: Any) -> node_def_pb2.NodeDef:
    nd = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs))
    for key, value in attrs.items():
        nd.attr[key].CopyFrom(attr(value))
    return nd


def const(name: str, value: Any, *control: str) -> node_def_pb2.NodeDef:
    array = np.asarray(value)
    if array.dtype.kind == "U":
        array = array.astype(object)
    nd = node(name, "Const", *control, value=array)
    nd.attr["dtype"].CopyFrom(type_attr(dtypes.from_numpy(array.dtype)))
    return nd


def placeholder(name: str, dtype: int = DT.DT_FLOAT) -> node_def_pb2.NodeDef:
    return node(name, "Placeholder", dtype=type_attr(dtype))


def graph(
    *nodes: node_def_pb2.NodeDef, functions: tuple[function_pb2.FunctionDef, ...] = ()
) -> graph_pb2.GraphDef:
    g = graph_pb2.GraphDef()
    g.node.extend(nodes)
    g.library.function.extend(functions)
    return g


def function(
    name: str,
    inputs: list[tuple[str, int | str]],
    outputs: list[tuple[str, int | str]],
    nodes: list[node_def_pb2.NodeDef],
    ret: dict[str, str],
) -> function_pb2.FunctionDef:
    f = function_pb2.FunctionDef()
    f.signature.name = name
    for arg_name, arg_type in inputs:
        arg = f.signature.input_arg.add(name=arg_name)
        if isinstance(arg_type, str):
            arg.type_attr = arg_type
        else:
            arg.type = arg_type
    for arg_name, arg_type in outputs:
        arg = f.signature.output_arg.add(name=arg_name)
        if isinstance(arg_type, str):
            arg.type_attr = arg_type
        else:
            arg.type = arg_type
    f.node_def.extend(nodes)
    for key, value in ret.items():
        f.ret[key] = value
    return f
