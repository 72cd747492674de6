"""Tensor specs and nested structures (TensorFlow's `nest`) for function inputs and outputs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from savedmodel.errors import InvalidInputError
from savedmodel.format import dtypes
from savedmodel.format import tensor as tensor_format
from savedmodel.graph import feeds
from savedmodel.proto import meta_graph_pb2, struct_pb2
from savedmodel.runtime.session import convert_feed


@dataclass(frozen=True)
class TensorSpec:
    """A tensor's name, dtype and shape (None: unknown rank; None dims: unknown size)."""

    name: str
    dtype: np.dtype
    shape: tuple[int | None, ...] | None
    dtype_enum: int = 0
    tensor_name: str = ""

    @property
    def dtype_name(self) -> str:
        return dtypes.dtype_name(self.dtype_enum) if self.dtype_enum else str(self.dtype)

    def describe(self) -> str:
        if self.shape is None:
            shape = "<unknown rank>"
        else:
            shape = "[" + ", ".join("None" if d is None else str(d) for d in self.shape) + "]"
        return f"{self.name}: {self.dtype_name} {shape}"

    def __repr__(self) -> str:
        return f"TensorSpec({self.describe()})"

    def is_compatible_shape(self, shape: tuple[int, ...]) -> bool:
        if self.shape is None:
            return True
        if len(shape) != len(self.shape):
            return False
        return all(d is None or d == s for d, s in zip(self.shape, shape, strict=True))

    def convert(self, value: Any, what: str) -> np.ndarray:
        """`value` as an array of this spec's dtype, checked against its shape."""
        array = convert_feed(value, self.dtype, f"{what} (expected {self.describe()})")
        if not self.is_compatible_shape(array.shape):
            raise InvalidInputError(
                f"{what}: shape {list(array.shape)} is not compatible with the expected {self.describe()}"
            )
        return array


def _shape(proto: Any) -> tuple[int | None, ...] | None:
    if proto.unknown_rank:
        return None
    return tuple(None if d.size < 0 else int(d.size) for d in proto.dim)


def spec_from_tensor_info(
    key: str, info: meta_graph_pb2.TensorInfo, nodes: Mapping[str, Any] | None = None, producer: int = 0
) -> TensorSpec:
    """The spec of a signature input or output. With the graph's `nodes` (and its GraphDef
    `producer`), an input is checked as TensorFlow checks a feed: against the dtype of the
    placeholder it feeds, and with an unknown shape where the TensorInfo records none or the
    placeholder is a legacy one (savedmodel.graph.feeds)."""
    if nodes is None:
        enum, shape = int(info.dtype), feeds.tensor_info_shape(info)
    else:
        enum, shape = feeds.feed_spec(info, nodes, producer)
    np_dtype = dtypes.as_numpy_dtype(enum) if enum else np.dtype(np.float32)
    return TensorSpec(key, np_dtype, shape, enum, info.name)


@dataclass(frozen=True)
class NamedTuple:
    name: str
    fields: dict[str, Any]


def decode(value: struct_pb2.StructuredValue) -> Any:
    """StructuredValue -> Python: TensorSpec leaves, tuples, lists, dicts, NamedTuple, scalars."""
    kind = value.WhichOneof("kind")
    if kind is None or kind == "none_value":
        return None
    if kind in ("tensor_spec_value", "bounded_tensor_spec_value"):
        spec = getattr(value, kind)
        enum = spec.dtype
        return TensorSpec(spec.name, dtypes.as_numpy_dtype(enum), _shape(spec.shape), enum)
    if kind == "list_value":
        return [decode(v) for v in value.list_value.values]
    if kind == "tuple_value":
        return tuple(decode(v) for v in value.tuple_value.values)
    if kind == "dict_value":
        return {k: decode(v) for k, v in value.dict_value.fields.items()}
    if kind == "named_tuple_value":
        return NamedTuple(
            value.named_tuple_value.name, {p.key: decode(p.value) for p in value.named_tuple_value.values}
        )
    if kind == "tensor_shape_value":
        return _shape(value.tensor_shape_value)
    if kind == "tensor_dtype_value":
        return dtypes.as_numpy_dtype(value.tensor_dtype_value)
    if kind in ("tensor_value", "numpy_value"):
        return tensor_format.to_numpy(getattr(value, kind))
    if kind == "type_spec_value":
        return _TypeSpec(
            value.type_spec_value.type_spec_class_name or str(value.type_spec_value.type_spec_class),
            decode(value.type_spec_value.type_state),
        )
    return getattr(value, kind)


@dataclass(frozen=True)
class _TypeSpec:
    """A composite tensor's spec (RaggedTensorSpec, ...): kept opaque."""

    class_name: str
    state: Any


def flatten(structure: Any) -> Iterator[Any]:
    """Leaves in TensorFlow's nest order: dict values by sorted key, sequences in order."""
    if isinstance(structure, dict):
        for key in sorted(structure):
            yield from flatten(structure[key])
    elif isinstance(structure, NamedTuple):
        for value in structure.fields.values():
            yield from flatten(value)
    elif isinstance(structure, (list, tuple)):
        for item in structure:
            yield from flatten(item)
    else:
        yield structure


def pack_tensors(structure: Any, values: Iterator[Any]) -> Any:
    """Replace each TensorSpec leaf of `structure` by the next value."""
    if isinstance(structure, TensorSpec):
        return next(values)
    if isinstance(structure, dict):
        packed = {key: pack_tensors(structure[key], values) for key in sorted(structure)}
        return {key: packed[key] for key in structure}
    if isinstance(structure, NamedTuple):
        return {k: pack_tensors(v, values) for k, v in structure.fields.items()}
    if isinstance(structure, list):
        return [pack_tensors(v, values) for v in structure]
    if isinstance(structure, tuple):
        return tuple(pack_tensors(v, values) for v in structure)
    return structure
