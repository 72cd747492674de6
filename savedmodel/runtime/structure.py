"""Tensor specs and nested structures (TensorFlow's `nest`) for function inputs and outputs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from savedmodel.errors import InvalidInputError
from savedmodel.format import dtypes, structured
from savedmodel.format import tensor as tensor_format
from savedmodel.graph import feeds
from savedmodel.graph.feed_values import FeedRule, FeedShapeError, FeedValueError, convert_feed
from savedmodel.proto import meta_graph_pb2, struct_pb2


@dataclass(frozen=True)
class SignatureTensorSpec:
    """A tensor's name, dtype and shape (None: unknown rank; None dims: unknown size) in a loaded
    signature or restored function. It prints as `TensorSpec(...)`; `tf.TensorSpec`
    (savedmodel.api.tf.function) is TensorFlow's public class."""

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

    def convert(self, value: Any, what: str) -> np.ndarray:
        """`value` as an array of this spec's dtype, checked against its shape, by the
        signature-call rule (savedmodel.graph.feed_values)."""
        try:
            return convert_feed(value, self.dtype, FeedRule.SIGNATURE, self.shape)
        except FeedShapeError as exc:
            raise InvalidInputError(
                f"{what}: shape {list(exc.shape)} is not compatible with the expected {self.describe()}"
            ) from None
        except FeedValueError as exc:
            raise InvalidInputError(f"{what} (expected {self.describe()}): {exc.detail}") from None


def spec_from_tensor_info(
    key: str, info: meta_graph_pb2.TensorInfo, nodes: Mapping[str, Any] | None = None, producer: int = 0
) -> SignatureTensorSpec:
    """The spec of a signature input or output. With the graph's `nodes` (and its GraphDef
    `producer`), an input is checked as TensorFlow checks a feed: against the dtype of the
    placeholder it feeds, and with an unknown shape where the TensorInfo records none or the
    placeholder is a legacy one (savedmodel.graph.feeds)."""
    if nodes is None:
        enum, shape = int(info.dtype), feeds.tensor_info_shape(info)
    else:
        enum, shape = feeds.feed_spec(info, nodes, producer)
    np_dtype = dtypes.as_numpy_dtype(enum) if enum else np.dtype(np.float32)
    return SignatureTensorSpec(key, np_dtype, shape, enum, info.name)


@dataclass(frozen=True)
class NamedTuple:
    name: str
    fields: dict[str, Any]


def _tensor_spec(spec: struct_pb2.TensorSpecProto | struct_pb2.BoundedTensorSpecProto) -> SignatureTensorSpec:
    shape = feeds.shape_of_proto(spec.shape)
    return SignatureTensorSpec(spec.name, dtypes.as_numpy_dtype(spec.dtype), shape, spec.dtype)


def _type_spec(spec: struct_pb2.TypeSpecProto, state: Any) -> _TypeSpec:
    return _TypeSpec(spec.type_spec_class_name or str(spec.type_spec_class), state)


def _named_tuple(name: str, items: list[tuple[str, Any]]) -> NamedTuple:
    return NamedTuple(name, dict(items))


def decode(value: struct_pb2.StructuredValue) -> Any:
    """StructuredValue -> Python: SignatureTensorSpec leaves (bounded specs too), tuples, lists,
    dicts (in the proto's order), NamedTuple, shapes, NumPy dtypes and arrays, scalars."""
    return structured.decode(value, _LEAVES)


@dataclass(frozen=True)
class _TypeSpec:
    """A composite tensor's spec (RaggedTensorSpec, ...): kept opaque."""

    class_name: str
    state: Any


_LEAVES = structured.Leaves(
    tensor_spec=_tensor_spec,
    bounded_tensor_spec=_tensor_spec,
    type_spec=_type_spec,
    tensor_shape=feeds.shape_of_proto,
    tensor_dtype=dtypes.as_numpy_dtype,
    tensor=tensor_format.to_numpy,
    named_tuple=_named_tuple,
)


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
    """Replace each SignatureTensorSpec leaf of `structure` by the next value."""
    if isinstance(structure, SignatureTensorSpec):
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
