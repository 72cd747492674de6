"""StructuredValue protos (the object graph's function signatures) to and from Python values,
and the FullArgSpec TensorFlow records for a function.

`encode` knows None, bool, int, float, str, tuples, lists and dicts; tensor specs are the
caller's type, so `spec_of(value)` turns a leaf into its (name, shape proto, dtype enum), or
returns None for a value that is not a spec.

`decode` is the one reader: scalars, lists, tuples and dicts come out as Python values; every
other kind (tensor specs, shapes, dtypes, TypeSpecs, tensors, named tuples) is built by the
caller's `Leaves`, since the runtime (savedmodel.runtime.structure: specs to convert feeds with)
and `savedmodel show` (savedmodel.inspect: values that print as TensorFlow prints them) want
different types."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from savedmodel.errors import FormatError
from savedmodel.proto import struct_pb2, tensor_pb2, tensor_shape_pb2

SpecFields = tuple[str, tensor_shape_pb2.TensorShapeProto, int]
SpecOf = Callable[[Any], SpecFields | None]


class UnencodableValueError(TypeError):
    """A value of a type StructuredValue cannot hold (`.value` is the value)."""

    def __init__(self, value: Any) -> None:
        self.value = value
        super().__init__(f"cannot encode {type(value).__name__}")


def _no_specs(value: Any) -> None:
    return None


def encode(value: Any, spec_of: SpecOf = _no_specs) -> struct_pb2.StructuredValue:
    """VALUE as a StructuredValue; UnencodableValueError for a type it cannot hold."""
    out = struct_pb2.StructuredValue()
    if value is None:
        out.none_value.SetInParent()
    elif (spec := spec_of(value)) is not None:
        name, shape, dtype = spec
        out.tensor_spec_value.name = name
        out.tensor_spec_value.shape.CopyFrom(shape)
        out.tensor_spec_value.dtype = dtype
    elif isinstance(value, dict):
        out.dict_value.SetInParent()
        for key, item in value.items():
            out.dict_value.fields[str(key)].CopyFrom(encode(item, spec_of))
    elif isinstance(value, tuple):
        out.tuple_value.SetInParent()
        for item in value:
            out.tuple_value.values.add().CopyFrom(encode(item, spec_of))
    elif isinstance(value, list):
        out.list_value.SetInParent()
        for item in value:
            out.list_value.values.add().CopyFrom(encode(item, spec_of))
    elif isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int):
        out.int64_value = value
    elif isinstance(value, float):
        out.float64_value = value
    elif isinstance(value, str):
        out.string_value = value
    else:
        raise UnencodableValueError(value)
    return out


def fullargspec(
    args: list[str], kwonly: list[str] | None = None, defaults: tuple[Any, ...] | None = None
) -> struct_pb2.StructuredValue:
    """The FullArgSpec named tuple TensorFlow records (no varargs, varkw, kwonly defaults or annotations)."""
    out = struct_pb2.StructuredValue()
    nt = out.named_tuple_value
    nt.name = "FullArgSpec"
    fields: list[tuple[str, Any]] = [
        ("args", list(args)),
        ("varargs", None),
        ("varkw", None),
        ("defaults", defaults),
        ("kwonlyargs", list(kwonly or [])),
        ("kwonlydefaults", None),
        ("annotations", {}),
    ]
    for key, value in fields:
        pair = nt.values.add()
        pair.key = key
        pair.value.CopyFrom(encode(value))
    return out


@dataclass(frozen=True)
class Leaves:
    """How `decode` builds the kinds that are not plain Python values."""

    tensor_spec: Callable[[struct_pb2.TensorSpecProto], Any]
    bounded_tensor_spec: Callable[[struct_pb2.BoundedTensorSpecProto], Any]
    type_spec: Callable[[struct_pb2.TypeSpecProto, Any], Any]  # (proto, decoded type_state)
    tensor_shape: Callable[[tensor_shape_pb2.TensorShapeProto], Any]
    tensor_dtype: Callable[[int], Any]
    tensor: Callable[[tensor_pb2.TensorProto], Any]  # tensor_value and numpy_value
    named_tuple: Callable[[str, list[tuple[str, Any]]], Any]  # (name, decoded (key, value) pairs)
    sort_dict_keys: bool = False  # dicts in key order (TensorFlow's nest order) or the proto's


_SCALARS = frozenset({"float64_value", "int64_value", "string_value", "bool_value"})


def decode(value: struct_pb2.StructuredValue, leaves: Leaves) -> Any:
    """A StructuredValue as Python: None, scalars, lists, tuples, dicts, and `leaves`' types."""
    kind = value.WhichOneof("kind")
    if kind is None or kind == "none_value":
        return None
    if kind in _SCALARS:
        return getattr(value, kind)
    if kind == "list_value":
        return [decode(v, leaves) for v in value.list_value.values]
    if kind == "tuple_value":
        return tuple(decode(v, leaves) for v in value.tuple_value.values)
    if kind == "dict_value":
        fields = value.dict_value.fields
        keys = sorted(fields) if leaves.sort_dict_keys else list(fields)
        return {key: decode(fields[key], leaves) for key in keys}
    if kind == "named_tuple_value":
        nt = value.named_tuple_value
        return leaves.named_tuple(nt.name, [(p.key, decode(p.value, leaves)) for p in nt.values])
    if kind == "tensor_spec_value":
        return leaves.tensor_spec(value.tensor_spec_value)
    if kind == "bounded_tensor_spec_value":
        return leaves.bounded_tensor_spec(value.bounded_tensor_spec_value)
    if kind == "type_spec_value":
        spec = value.type_spec_value
        return leaves.type_spec(spec, decode(spec.type_state, leaves))
    if kind == "tensor_shape_value":
        return leaves.tensor_shape(value.tensor_shape_value)
    if kind == "tensor_dtype_value":
        return leaves.tensor_dtype(value.tensor_dtype_value)
    if kind in ("tensor_value", "numpy_value"):
        return leaves.tensor(getattr(value, kind))
    raise FormatError(f"unsupported StructuredValue kind {kind!r}")
