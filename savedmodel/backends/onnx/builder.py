"""Building one ONNX model (opset 17) from TensorFlow nodes of a flat graph.

A `RegionBuilder` collects ONNX nodes for a run of TensorFlow nodes. Converters (see
`converters`) ask it for the ONNX name of a TensorFlow tensor (`value`): a tensor computed in the
region already, a foldable tensor (an initializer holding the value recorded at load), or else a
graph input. They read recorded values (`info`, `const_value`) for dtypes, ranks and constant
operands only: a tensor's dims other than its rank are never baked into the model unless the
tensor is foldable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from savedmodel.graph.model import Node
from savedmodel.proto.onnx_model_pb2 import (
    AttributeProto,
    GraphProto,
    ModelProto,
    NodeProto,
    TensorProto,
    ValueInfoProto,
)

OPSET = 17
IR_VERSION = 8
Ref = tuple[str, int]
# Initializers of at least this many bytes are handed to onnxruntime as arrays (in-memory external
# data) instead of being copied into the serialized model; `convert --to onnx` embeds them all.
EXTERNAL_BYTES = 4096
EXTERNAL_LOCATION = "savedmodel-memory"

# NumPy dtypes an ONNX region takes and produces.
EXPORTABLE_DTYPES = frozenset(
    np.dtype(t)
    for t in ("float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8", "uint16", "bool")
)


class NotExportable(Exception):
    """A node the exporter cannot express in ONNX (the reason is the message)."""


def contiguous(value: Any) -> np.ndarray:
    """`value` as a C-contiguous array of its own rank (np.ascontiguousarray makes scalars 1-d)."""
    array = np.asarray(value)
    return array if array.flags.c_contiguous else array.copy(order="C")


def dtype_text(dtype: np.dtype) -> str:
    return "string" if dtype == np.dtype(object) else str(dtype)


ONNX_TYPES = {
    np.dtype(name): number
    for name, number in (
        ("float32", TensorProto.FLOAT),
        ("uint8", TensorProto.UINT8),
        ("int8", TensorProto.INT8),
        ("uint16", TensorProto.UINT16),
        ("int16", TensorProto.INT16),
        ("int32", TensorProto.INT32),
        ("int64", TensorProto.INT64),
        ("bool", TensorProto.BOOL),
        ("float16", TensorProto.FLOAT16),
        ("float64", TensorProto.DOUBLE),
        ("uint32", TensorProto.UINT32),
        ("uint64", TensorProto.UINT64),
    )
}


def onnx_type(dtype: Any) -> int:
    found = ONNX_TYPES.get(np.dtype(dtype))
    if found is None:
        raise NotExportable(f"{dtype_text(np.dtype(dtype))} tensors do not export")
    return found


def tensor_proto(value: Any, name: str = "", external: bool = False) -> TensorProto:
    """`value` as a TensorProto (little-endian raw data), or with `external` one whose data
    onnxruntime is given separately (see `OnnxModel`)."""
    array = np.asarray(value)
    proto = TensorProto(name=name, data_type=onnx_type(array.dtype), dims=array.shape)
    if external:
        proto.data_location = TensorProto.EXTERNAL
        proto.external_data.add(key="location", value=EXTERNAL_LOCATION)
    else:
        proto.raw_data = contiguous(array.astype(array.dtype.newbyteorder("<"), copy=False)).tobytes()
    return proto


def attribute(name: str, value: Any) -> AttributeProto:
    """One node attribute; its type follows the Python value's (as onnx.helper.make_attribute)."""
    attr = AttributeProto(name=name)
    if isinstance(value, TensorProto):
        attr.t.CopyFrom(value)
        attr.type = AttributeProto.TENSOR
    elif isinstance(value, (bool, int, np.integer)):
        attr.i, attr.type = int(value), AttributeProto.INT
    elif isinstance(value, (float, np.floating)):
        attr.f, attr.type = float(value), AttributeProto.FLOAT
    elif isinstance(value, (str, bytes)):
        attr.s, attr.type = value.encode() if isinstance(value, str) else value, AttributeProto.STRING
    else:
        items = list(value)
        if all(isinstance(v, (bool, int, np.integer)) for v in items):
            attr.ints.extend(int(v) for v in items)
            attr.type = AttributeProto.INTS
        elif all(isinstance(v, (int, float, np.integer, np.floating)) for v in items):
            attr.floats.extend(float(v) for v in items)
            attr.type = AttributeProto.FLOATS
        elif all(isinstance(v, (str, bytes)) for v in items):
            attr.strings.extend(v.encode() if isinstance(v, str) else v for v in items)
            attr.type = AttributeProto.STRINGS
        else:
            raise TypeError(f"attribute {name!r}: cannot express {value!r}")
    return attr


def value_info(name: str, dtype: Any, shape: Sequence[int | None] | None) -> ValueInfoProto:
    """A graph input or output: its element type and (when `shape` is not None) its rank, with the
    dims that are known."""
    info = ValueInfoProto(name=name)
    tensor = info.type.tensor_type
    tensor.elem_type = onnx_type(dtype)
    if shape is not None:
        dims = tensor.shape.dim
        tensor.shape.SetInParent()
        for dim in shape:
            entry = dims.add()
            if dim is not None and dim >= 0:
                entry.dim_value = int(dim)
    return info


@dataclass
class OnnxModel:
    """A serialized-ready ModelProto and the arrays of its external initializers by name."""

    proto: ModelProto
    external: dict[str, np.ndarray] = field(default_factory=dict)


def tensor_name(ref: Ref) -> str:
    return f"{ref[0]}:{ref[1]}"


class RegionBuilder:
    """The ONNX nodes, initializers and inputs of one region under construction."""

    def __init__(self, values: Mapping[Ref, Any], fixed: set[str], resource_value: Callable[[Any], Any]):
        self.values = values  # recorded value of every tensor (the trace)
        self.fixed = fixed  # foldable nodes
        self.resource_value = resource_value
        self.graph: Any = None  # the flat GraphModel, for converters that match patterns
        self.nodes: list[NodeProto] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.inputs: dict[Ref, str] = {}
        self.names: dict[Ref, str] = {}
        self.current = ""
        self._count = 0
        # Arrays derived from constants (transposed filters...), shared by the builders of one
        # export so that probing a node and building its region compute them once.
        self.derived_arrays: dict[Any, np.ndarray] = {}

    # ------------------------------------------------------------------ what converters read
    def info(self, ref: Ref) -> np.ndarray:
        value = self.values.get(ref)
        if not isinstance(value, np.ndarray):
            value = np.asarray(value) if isinstance(value, (np.generic, int, float, bool)) else None
        if value is None:
            raise NotExportable("takes a resource, variant or other non-dense value")
        return value

    def producer(self, ref: Ref, *ops: str) -> Node | None:
        """The node producing `ref` when it is output 0 of one of `ops`, else None."""
        node = self.graph.nodes.get(ref[0]) if self.graph is not None else None
        return node if node is not None and ref[1] == 0 and node.op in ops else None

    def rank(self, ref: Ref) -> int:
        return self.info(ref).ndim

    def dtype(self, ref: Ref) -> np.dtype:
        return self.info(ref).dtype

    def is_const(self, ref: Ref) -> bool:
        return ref[0] in self.fixed

    def const_value(self, ref: Ref, what: str = "operand") -> np.ndarray:
        if not self.is_const(ref):
            raise NotExportable(f"its {what} is computed per call (only constant ones export)")
        return self.info(ref)

    def variable_value(self, ref: Ref) -> np.ndarray:
        """The value behind a foldable resource handle (a variable nothing assigns)."""
        if not self.is_const(ref):
            raise NotExportable("reads a variable through a handle computed per call")
        return self.resource_value(self.values.get(ref))

    # ------------------------------------------------------------------ what converters write
    def value(self, ref: Ref) -> str:
        name = self.names.get(ref)
        if name is not None:
            return name
        value = self.info(ref)
        if value.dtype not in EXPORTABLE_DTYPES:
            raise NotExportable(f"{dtype_text(value.dtype)} tensors do not export")
        name = tensor_name(ref)
        if self.is_const(ref):
            self.initializers[name] = value
        else:
            self.inputs[ref] = name
        self.names[ref] = name
        return name

    def derived(self, key: Any, make: Callable[[], np.ndarray]) -> np.ndarray:
        """`make()`, computed once per `key` across the builders sharing `derived_arrays`."""
        found = self.derived_arrays.get(key)
        if found is None:
            found = self.derived_arrays[key] = contiguous(make())
        return found

    def const(self, value: Any, dtype: Any = None) -> str:
        array = np.asarray(value, dtype=dtype)
        name = self._fresh("const")
        self.initializers[name] = array
        return name

    def int64s(self, values: Sequence[int]) -> str:
        return self.const(np.asarray(list(values), dtype=np.int64))

    def op(self, op_type: str, inputs: Sequence[str], outputs: int = 1, **attrs: Any) -> list[str]:
        names = [self._fresh(op_type) for _ in range(outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(make_node(op_type, inputs, names, f"{self.current}|{names[0]}", **attrs))
        return names

    def op1(self, op_type: str, inputs: Sequence[str], **attrs: Any) -> str:
        return self.op(op_type, inputs, 1, **attrs)[0]

    def _fresh(self, hint: str) -> str:
        self._count += 1
        return f"{self.current}/{hint}_{self._count}"

    # ------------------------------------------------------------------ the model
    def model(
        self,
        outputs: Sequence[tuple[str, np.dtype]],
        shapes: Mapping[str, Sequence[int | None]] | None = None,
        embed: bool = False,
    ) -> OnnxModel:
        """The model: graph inputs in `self.inputs` order (dims unknown unless `shapes` gives
        them by input name), `outputs` (name, dtype) in order. Initializers no node reads are left
        out; large ones are external (kept as arrays) unless `embed`."""
        graph = GraphProto(name="savedmodel", node=live_nodes(self.nodes, [n for n, _ in outputs]))
        for ref, name in self.inputs.items():
            value = self.info(ref)
            shape = (shapes or {}).get(name) or [None] * value.ndim
            graph.input.append(value_info(name, value.dtype, shape))
        graph.output.extend(value_info(n, d, None) for n, d in outputs)
        read = {name for node in graph.node for name in node.input}
        external: dict[str, np.ndarray] = {}
        for name, value in self.initializers.items():
            if name not in read:
                continue
            array = contiguous(value)
            outside = not embed and array.nbytes >= EXTERNAL_BYTES and array.dtype.isnative
            graph.initializer.append(tensor_proto(array, name, external=outside))
            if outside:
                external[name] = array
        model = ModelProto(ir_version=IR_VERSION, producer_name="savedmodel", graph=graph)
        model.opset_import.add(domain="", version=OPSET)
        return OnnxModel(model, external)


def live_nodes(nodes: Sequence[NodeProto], outputs: Sequence[str]) -> list[NodeProto]:
    """The nodes `outputs` depend on, in order: a converter that fuses a pattern (LayerNormalization)
    leaves the pattern's other nodes unread, and onnxruntime would still run them."""
    wanted = set(outputs)
    live: list[NodeProto] = []
    for node in reversed(nodes):
        if wanted.intersection(node.output):
            live.append(node)
            wanted.update(node.input)
    return live[::-1]


def make_node(
    op_type: str, inputs: Sequence[str], outputs: Sequence[str], name: str, **attrs: Any
) -> NodeProto:
    node = NodeProto(op_type=op_type, input=list(inputs), output=list(outputs), name=name)
    node.attribute.extend(attribute(key, value) for key, value in sorted(attrs.items()))
    return node


def scalar_attr_tensor(value: Any, dtype: np.dtype) -> TensorProto:
    return tensor_proto(np.asarray([value], dtype=dtype), "value")


def convert_node(builder: RegionBuilder, node: Node) -> None:
    """Add `node` to `builder` (NotExportable when it cannot be)."""
    from savedmodel.backends.onnx.converters import CONVERTERS

    converter = CONVERTERS.get(node.op)
    if converter is None:
        raise NotExportable("no ONNX converter for this op")
    builder.current = node.name
    outputs = converter(builder, node)
    for i, name in enumerate(outputs):
        if name is None:
            continue
        ref = (node.name, i)
        value = builder.values.get(ref)
        if not isinstance(value, np.ndarray) and not isinstance(value, np.generic):
            raise NotExportable("outputs a resource, variant or other non-dense value")
        if np.asarray(value).dtype not in EXPORTABLE_DTYPES:
            raise NotExportable(f"{dtype_text(np.asarray(value).dtype)} tensors do not export")
        builder.names[ref] = name
