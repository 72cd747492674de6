"""Python values -> StructuredValue protos (the object graph's function signatures), and the
FullArgSpec TensorFlow records for a function. runtime/structure.py decodes them.

`encode` knows None, bool, int, float, str, tuples, lists and dicts; tensor specs are the
caller's type, so `spec_of(value)` turns a leaf into its (name, shape proto, dtype enum), or
returns None for a value that is not a spec."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from savedmodel.proto import struct_pb2, tensor_shape_pb2

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
