"""Small hand-built SavedModels (protos written directly) for the hardening tests."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.format import tensor as tensor_format
from savedmodel.format.dtypes import DT
from savedmodel.proto import (
    attr_value_pb2,
    function_pb2,
    graph_pb2,
    meta_graph_pb2,
    node_def_pb2,
    op_def_pb2,
    saved_model_pb2,
    tensor_pb2,
)

F32 = DT.DT_FLOAT
I32 = DT.DT_INT32
I64 = DT.DT_INT64
STR = DT.DT_STRING
BOOL = DT.DT_BOOL


def attr(value: Any) -> attr_value_pb2.AttrValue:
    """An AttrValue from a Python value: AttrValue as is, TensorProto, ('type', enum), ('func', name),
    ('shape', dims), bool, int, float, bytes/str."""
    if isinstance(value, attr_value_pb2.AttrValue):
        return value
    if isinstance(value, tensor_pb2.TensorProto):
        return attr_value_pb2.AttrValue(tensor=value)
    if isinstance(value, tuple) and value and value[0] == "type":
        return attr_value_pb2.AttrValue(type=value[1])
    if isinstance(value, tuple) and value and value[0] == "types":
        return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(type=list(value[1])))
    if isinstance(value, tuple) and value and value[0] == "func":
        return attr_value_pb2.AttrValue(func=attr_value_pb2.NameAttrList(name=value[1]))
    if isinstance(value, tuple) and value and value[0] == "shape":
        return attr_value_pb2.AttrValue(shape=tensor_format.shape_to_proto(value[1]))
    if isinstance(value, bool):
        return attr_value_pb2.AttrValue(b=value)
    if isinstance(value, int):
        return attr_value_pb2.AttrValue(i=value)
    if isinstance(value, float):
        return attr_value_pb2.AttrValue(f=value)
    if isinstance(value, str):
        value = value.encode()
    return attr_value_pb2.AttrValue(s=value)


def node(name: str, op: str, inputs: Iterable[str] = (), **attrs: Any) -> node_def_pb2.NodeDef:
    out = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs))
    for key, value in attrs.items():
        out.attr[key].CopyFrom(attr(value))
    return out


def const(
    name: str,
    value: Any,
    dtype: int | None = None,
    shape: Sequence[int] | None = None,
    control: Iterable[str] = (),
) -> node_def_pb2.NodeDef:
    proto = tensor_format.from_numpy(value, dtype, shape)
    return node(name, "Const", [f"^{c}" for c in control], dtype=("type", proto.dtype), value=proto)


def raw_const(name: str, proto: tensor_pb2.TensorProto) -> node_def_pb2.NodeDef:
    return node(name, "Const", dtype=("type", proto.dtype), value=proto)


def placeholder(name: str, dtype: int = F32, shape: Sequence[int] | None = None) -> node_def_pb2.NodeDef:
    return node(name, "Placeholder", dtype=("type", dtype), shape=("shape", shape))


def function(
    name: str,
    inputs: Sequence[tuple[str, int]],
    outputs: Sequence[tuple[str, int]],
    body: Sequence[node_def_pb2.NodeDef],
    ret: Mapping[str, str],
) -> function_pb2.FunctionDef:
    """A FunctionDef; body nodes refer to arguments by name and to outputs as 'node:out_arg:index'."""
    signature = op_def_pb2.OpDef(name=name)
    for arg, dtype in inputs:
        signature.input_arg.add(name=arg, type=dtype)
    for arg, dtype in outputs:
        signature.output_arg.add(name=arg, type=dtype)
    fdef = function_pb2.FunctionDef(signature=signature, node_def=list(body))
    for key, value in ret.items():
        fdef.ret[key] = value
    return fdef


def call(
    name: str,
    function_name: str,
    inputs: Sequence[str],
    tin: Sequence[int],
    tout: Sequence[int],
    op: str = "PartitionedCall",
) -> node_def_pb2.NodeDef:
    return node(name, op, inputs, f=("func", function_name), Tin=("types", tin), Tout=("types", tout))


def call_chain(depth: int) -> list[function_pb2.FunctionDef]:
    """Functions f0 .. f{depth-1}: each calls the next through a PartitionedCall, the last negates."""
    out = []
    for i in range(depth):
        last = i + 1 == depth
        body = (
            [node("c", "Neg", ["a"], T=("type", F32))]
            if last
            else [call("c", f"f{i + 1}", ["a"], [F32], [F32])]
        )
        out.append(
            function(f"f{i}", [("a", F32)], [("out", F32)], body, {"out": "c:y:0" if last else "c:output:0"})
        )
    return out


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
    graph = graph_pb2.GraphDef(node=list(nodes))
    graph.library.function.extend(functions)
    meta_graph = meta_graph_pb2.MetaGraphDef(graph_def=graph)
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
        meta_graph.asset_file_def.add(
            tensor_info=meta_graph_pb2.TensorInfo(name=tensor_name), filename=filename
        )
    proto = saved_model_pb2.SavedModel(saved_model_schema_version=1, meta_graphs=[meta_graph])
    (directory / "saved_model.pb").write_bytes(proto.SerializeToString())
    return directory


class Hang(BaseException):
    """Raised by `no_hang` when its block runs too long (a BaseException so no `except Exception` eats it)."""


@contextlib.contextmanager
def no_hang(seconds: float) -> Iterator[None]:
    """Fail a block that runs longer than `seconds` (SIGALRM; main thread only, else no limit)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def zeros_for(dtype: int, shape: Sequence[int]) -> np.ndarray:
    from savedmodel.format import dtypes

    np_dtype = dtypes.as_numpy_dtype(dtype)
    if np_dtype == np.dtype(object):
        out = np.empty(shape, dtype=object)
        out[...] = b""
        return out
    return np.zeros(shape, dtype=np_dtype)


def endless_tf1_loop_nodes() -> list:
    """A TF1 while loop (Enter/Merge/Switch/NextIteration/Exit) over `x` that never ends."""
    return [
        node(
            "enter",
            "Enter",
            ["x"],
            T=("type", F32),
            frame_name="loop",
            is_constant=False,
            parallel_iterations=1,
        ),
        node("merge", "Merge", ["enter", "next"], T=("type", F32), N=2),
        const("t", True, control=["merge"]),
        node("cond", "LoopCond", ["t"]),
        node("switch", "Switch", ["merge", "cond"], T=("type", F32)),
        node("body", "Identity", ["switch:1"], T=("type", F32)),
        node("next", "NextIteration", ["body"], T=("type", F32)),
        node("y", "Exit", ["switch"], T=("type", F32)),
    ]


def counting_while_functions() -> tuple:
    """cond/body of a functional While: a += 1 while any(a < 50); from [1, 2]: 49 iterations, [50, 51]."""
    cond = function(
        "cond",
        [("a", F32)],
        [("out", BOOL)],
        [
            const("limit", np.float32(50)),
            node("lt", "Less", ["a", "limit:output:0"], T=("type", F32)),
            const("axis", np.array([0], np.int32)),
            node("any", "Any", ["lt:z:0", "axis:output:0"], keep_dims=False, Tidx=("type", 3)),
        ],
        {"out": "any:output:0"},
    )
    body = function(
        "body",
        [("a", F32)],
        [("out", F32)],
        [const("one", np.float32(1)), node("add", "AddV2", ["a", "one:output:0"], T=("type", F32))],
        {"out": "add:z:0"},
    )
    return cond, body
