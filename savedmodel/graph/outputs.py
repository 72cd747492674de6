"""How many outputs a node has, and where each named output argument starts.

The only source is an OpDef. A MetaGraphDef carries the OpDefs of the ops it uses
(`meta_info_def.stripped_op_list`), and those come first: they are what the
graph's producer registered. Any other op (frozen GraphDefs carry no OpDefs) takes
its OpDef from `tf_op_defs.pb.gz`, every op TensorFlow 2.21 registers (written by
tools/oracle/make_op_defs.py). A node of an op that neither knows (a custom op)
has as many outputs as its `_output_shapes` attr lists, else one.
"""

from __future__ import annotations

import functools
import gzip
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from savedmodel.errors import FormatError
from savedmodel.proto import attr_value_pb2, function_pb2, op_def_pb2

_TF_OP_DEFS = Path(__file__).with_name("tf_op_defs.pb.gz")
# Outputs one node may have: a number attr beyond this is a corrupt graph, not a model (it would
# otherwise allocate a value slot per output).
MAX_OUTPUTS = 1 << 20


@functools.cache
def tf_op_defs() -> Mapping[str, op_def_pb2.OpDef]:
    """Every op TensorFlow registers, by name (docs stripped), read once."""
    try:
        data = gzip.decompress(_TF_OP_DEFS.read_bytes())
        op_list = op_def_pb2.OpList.FromString(data)
    except (OSError, ValueError) as exc:  # a broken install
        raise FormatError(f"{_TF_OP_DEFS}: cannot read TensorFlow's op definitions ({exc})") from None
    return {op.name: op for op in op_list.op}


def find_op_def(op: str, op_defs: Mapping[str, op_def_pb2.OpDef] | None = None) -> op_def_pb2.OpDef | None:
    """The OpDef of `op`: from `op_defs` (a graph's own) first, else TensorFlow's."""
    if op_defs:
        found = op_defs.get(op)
        if found is not None:
            return found
    return tf_op_defs().get(op)


@dataclass(frozen=True)
class OutputLayout:
    """`count` outputs; `single` when the op has exactly one non-list output (its kernel
    returns the value itself rather than a sequence); `offsets` maps output arg -> first index."""

    count: int
    single: bool
    offsets: Mapping[str, int]


_SINGLE = OutputLayout(1, True, {})


def _attr_size(
    attrs: Mapping[str, attr_value_pb2.AttrValue],
    name: str,
    kind: str,
    defaults: Mapping[str, attr_value_pb2.AttrValue],
) -> int:
    value = attrs.get(name) if name in attrs else defaults.get(name)
    if value is None:
        return 0
    count = int(value.i) if kind == "number" else len(value.list.type)
    if not 0 <= count <= MAX_OUTPUTS:
        raise FormatError(f"attr {name!r} asks for {count} outputs (0 to {MAX_OUTPUTS} allowed)")
    return count


def layout_from_args(
    args: Iterable[tuple[str, str | None, str | None]],
    attrs: Mapping[str, attr_value_pb2.AttrValue],
    defaults: Mapping[str, attr_value_pb2.AttrValue] | None = None,
) -> OutputLayout:
    """The layout of output args `(name, sizing attr or None, "number" | "list" | None)`."""
    defaults = defaults or {}
    args = list(args)
    offsets: dict[str, int] = {}
    count = 0
    for name, size_attr, kind in args:
        offsets[name] = count
        count += 1 if size_attr is None else _attr_size(attrs, size_attr, kind or "list", defaults)
    single = len(args) == 1 and args[0][1] is None
    return OutputLayout(count, single, offsets)


def layout_from_opdef(
    op_def: op_def_pb2.OpDef, attrs: Mapping[str, attr_value_pb2.AttrValue]
) -> OutputLayout:
    args = []
    for arg in op_def.output_arg:
        if arg.number_attr:
            args.append((arg.name, arg.number_attr, "number"))
        elif arg.type_list_attr:
            args.append((arg.name, arg.type_list_attr, "list"))
        else:
            args.append((arg.name, None, None))
    defaults = {a.name: a.default_value for a in op_def.attr if a.HasField("default_value")}
    return layout_from_args(args, attrs, defaults)


def layout_from_function(function: function_pb2.FunctionDef) -> OutputLayout:
    """A library function called by op name: outputs are its output args, as a sequence."""
    offsets = {arg.name: i for i, arg in enumerate(function.signature.output_arg)}
    return OutputLayout(len(offsets), False, offsets)


def _layout_without_op_def(attrs: Mapping[str, attr_value_pb2.AttrValue]) -> OutputLayout:
    shapes = attrs.get("_output_shapes") if "_output_shapes" in attrs else None
    if shapes is not None and len(shapes.list.shape) != 1:
        count = len(shapes.list.shape)
        return OutputLayout(count, False, {"output": 0} if count else {})
    return _SINGLE


def output_layout(
    op: str,
    attrs: Mapping[str, attr_value_pb2.AttrValue],
    op_defs: Mapping[str, op_def_pb2.OpDef],
    functions: Mapping[str, function_pb2.FunctionDef] | None = None,
) -> OutputLayout:
    """The output layout of a node of type `op` with `attrs`."""
    if functions and op in functions:
        return layout_from_function(functions[op])
    op_def = find_op_def(op, op_defs)
    if op_def is not None:
        return layout_from_opdef(op_def, attrs)
    return _layout_without_op_def(attrs)


def _attr_type(
    op_def: op_def_pb2.OpDef, attrs: Mapping[str, attr_value_pb2.AttrValue], name: str
) -> int | None:
    if name in attrs:
        return int(attrs[name].type)
    default = next((a.default_value for a in op_def.attr if a.name == name), None)
    if default is not None and default.HasField("type"):
        return int(default.type)
    return None


def output_dtypes(
    op_def: op_def_pb2.OpDef, attrs: Mapping[str, attr_value_pb2.AttrValue]
) -> list[int | None]:
    """The DataType enum of each output of a node (reference outputs as `dtype + 100`, as
    TensorFlow numbers them); None where the node's attrs do not say."""
    out: list[int | None] = []
    defaults = {a.name: a.default_value for a in op_def.attr if a.HasField("default_value")}
    for arg in op_def.output_arg:
        if arg.type_list_attr:
            source = (
                attrs[arg.type_list_attr] if arg.type_list_attr in attrs else defaults.get(arg.type_list_attr)
            )
            out.extend(int(t) for t in (source.list.type if source is not None else []))
            continue
        dtype = int(arg.type) if arg.type else _attr_type(op_def, attrs, arg.type_attr)
        if dtype is not None and arg.is_ref:
            dtype += 100
        count = _attr_size(attrs, arg.number_attr, "number", defaults) if arg.number_attr else 1
        out.extend([dtype] * count)
    return out
