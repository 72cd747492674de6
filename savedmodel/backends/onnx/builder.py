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
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from savedmodel.graph.model import Node

OPSET = 17
IR_VERSION = 8
Ref = tuple[str, int]

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


def onnx_type(dtype: np.dtype) -> int:
    return int(helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))


def tensor_name(ref: Ref) -> str:
    return f"{ref[0]}:{ref[1]}"


class RegionBuilder:
    """The ONNX nodes, initializers and inputs of one region under construction."""

    def __init__(self, values: Mapping[Ref, Any], fixed: set[str], resource_value: Callable[[Any], Any]):
        self.values = values  # recorded value of every tensor (the trace)
        self.fixed = fixed  # foldable nodes
        self.resource_value = resource_value
        self.graph: Any = None  # the flat GraphModel, for converters that match patterns
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.inputs: dict[Ref, str] = {}
        self.names: dict[Ref, str] = {}
        self.current = ""
        self._count = 0

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
        self.nodes.append(
            helper.make_node(op_type, list(inputs), names, name=f"{self.current}|{names[0]}", **attrs)
        )
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
    ) -> onnx.ModelProto:
        """The ModelProto: graph inputs in `self.inputs` order (dims unknown unless `shapes` gives
        them by input name), `outputs` (name, dtype) in order."""
        graph_inputs = []
        for ref, name in self.inputs.items():
            value = self.info(ref)
            shape = list((shapes or {}).get(name) or [None] * value.ndim)
            graph_inputs.append(helper.make_tensor_value_info(name, onnx_type(value.dtype), shape))
        graph_outputs = [helper.make_tensor_value_info(n, onnx_type(d), None) for n, d in outputs]
        initializers = [numpy_helper.from_array(contiguous(v), n) for n, v in self.initializers.items()]
        graph = helper.make_graph(self.nodes, "savedmodel", graph_inputs, graph_outputs, initializers)
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="savedmodel"
        )
        model.ir_version = IR_VERSION
        return model


def scalar_attr_tensor(value: Any, dtype: np.dtype) -> TensorProto:
    return numpy_helper.from_array(np.asarray([value], dtype=dtype), "value")


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
