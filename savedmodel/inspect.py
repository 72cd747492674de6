"""A structured description of a SavedModel, without TensorFlow.

`describe(path)` reads `saved_model.pb` (or `.pbtxt`) and returns a `ModelInfo`:
every MetaGraphDef's tag set, its signatures (inputs / outputs with dtype, shape,
tensor name or COO-sparse / composite-tensor encoding, method name), the ops it
uses (as `saved_model_cli` counts them: graph nodes plus the functions they call
by name or through (Stateful)PartitionedCall, transitively), and for TF2 models
the functions attached to the root object with their concrete functions'
canonical input signatures (decoded from the SavedObjectGraph into
`TensorSpec`-like values that print as TensorFlow prints them).

`describe_variables(path_or_prefix)` lists the variables of a SavedModel or a
checkpoint (name, dtype, shape, bytes stored).

The same information is rendered as `saved_model_cli show` text by
`savedmodel.cli.show` and as JSON by `to_json`; the REST server's metadata
endpoint uses the signatures from here.
"""

from __future__ import annotations

import collections
import keyword
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.errors import FormatError, NotFoundError, SavedModelError
from savedmodel.format import dtypes, structured
from savedmodel.format.saved_model import PathLike, read_saved_model
from savedmodel.graph.order import stack_order
from savedmodel.graph.outputs import output_layout
from savedmodel.proto import (
    function_pb2,
    meta_graph_pb2,
    saved_model_pb2,
    saved_object_graph_pb2,
    struct_pb2,
    tensor_shape_pb2,
)

# ---------------------------------------------------------------------------
# Values decoded from StructuredValue protos (function input signatures).
# Their repr() is TensorFlow's, so that nested values print exactly as
# saved_model_cli prints them.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorShapeValue:
    """A tf.TensorShape: dims (None = unknown dim) or None for unknown rank."""

    dims: tuple[int | None, ...] | None

    @classmethod
    def from_proto(cls, proto: tensor_shape_pb2.TensorShapeProto) -> TensorShapeValue:
        if proto.unknown_rank:
            return cls(None)
        return cls(tuple(None if d.size < 0 else int(d.size) for d in proto.dim))

    def __str__(self) -> str:
        if self.dims is None:
            return "<unknown>"
        if len(self.dims) == 1:
            return f"({self.dims[0]},)"
        return "(" + ", ".join(str(d) for d in self.dims) + ")"

    def __repr__(self) -> str:
        return "TensorShape(None)" if self.dims is None else f"TensorShape({list(self.dims)})"

    def __iter__(self) -> Iterator[int | None]:
        return iter(self.dims or ())

    def as_list(self) -> list[int] | None:
        return None if self.dims is None else [-1 if d is None else d for d in self.dims]


@dataclass(frozen=True)
class DTypeValue:
    """A tf.DType, printed as `tf.float32`."""

    enum: int

    @property
    def name(self) -> str:
        return dtypes.dtype_name(self.enum)

    def __repr__(self) -> str:
        return f"tf.{self.name}"

    def __str__(self) -> str:
        return f"<dtype: {self.name!r}>"


@dataclass(frozen=True)
class TensorSpecValue:
    shape: TensorShapeValue
    dtype: DTypeValue
    name: str | None

    def __repr__(self) -> str:
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype!r}, name={self.name!r})"


@dataclass(frozen=True)
class BoundedTensorSpecValue:
    shape: TensorShapeValue
    dtype: DTypeValue
    name: str | None
    minimum: Any
    maximum: Any

    def __repr__(self) -> str:
        return (
            f"BoundedTensorSpec(shape={self.shape}, dtype={self.dtype!r}, name={self.name!r}, "
            f"minimum={self.minimum!r}, maximum={self.maximum!r})"
        )


_TYPE_SPEC_CLASS_NAMES = {
    struct_pb2.TypeSpecProto.SPARSE_TENSOR_SPEC: "SparseTensorSpec",
    struct_pb2.TypeSpecProto.INDEXED_SLICES_SPEC: "IndexedSlicesSpec",
    struct_pb2.TypeSpecProto.RAGGED_TENSOR_SPEC: "RaggedTensorSpec",
    struct_pb2.TypeSpecProto.TENSOR_ARRAY_SPEC: "TensorArraySpec",
    struct_pb2.TypeSpecProto.DATA_DATASET_SPEC: "DatasetSpec",
    struct_pb2.TypeSpecProto.DATA_ITERATOR_SPEC: "IteratorSpec",
    struct_pb2.TypeSpecProto.OPTIONAL_SPEC: "OptionalSpec",
    struct_pb2.TypeSpecProto.PER_REPLICA_SPEC: "PerReplicaSpec",
    struct_pb2.TypeSpecProto.VARIABLE_SPEC: "VariableSpec",
    struct_pb2.TypeSpecProto.ROW_PARTITION_SPEC: "RowPartitionSpec",
}


@dataclass(frozen=True)
class TypeSpecValue:
    """Any other tf.TypeSpec: its class name and serialized state (a tuple).

    TensorFlow prints a TypeSpec as `ClassName` followed by the repr of that tuple.
    """

    class_name: str
    state: Any

    def __repr__(self) -> str:
        state = self.state if isinstance(self.state, tuple) else (self.state,)
        return f"{self.class_name}{state!r}"


@dataclass(frozen=True)
class TensorValue:
    """A constant tensor inside a signature (rare): numpy value."""

    value: Any

    def __repr__(self) -> str:
        return repr(self.value)


def _namedtuple(name: str, items: list[tuple[str, Any]]) -> Any:
    fields = [k for k, _ in items]
    valid = (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and all(f.isidentifier() and not keyword.iskeyword(f) and not f.startswith("_") for f in fields)
        and len(set(fields)) == len(fields)
    )
    if not valid:
        return tuple(v for _, v in items)
    return collections.namedtuple(name, fields)(*[v for _, v in items])


def _tensor_spec(spec: struct_pb2.TensorSpecProto) -> TensorSpecValue:
    return TensorSpecValue(TensorShapeValue.from_proto(spec.shape), DTypeValue(spec.dtype), spec.name or None)


def _bounded_tensor_spec(spec: struct_pb2.BoundedTensorSpecProto) -> BoundedTensorSpecValue:
    return BoundedTensorSpecValue(
        TensorShapeValue.from_proto(spec.shape),
        DTypeValue(spec.dtype),
        spec.name or None,
        _tensor_or_none(spec.minimum),
        _tensor_or_none(spec.maximum),
    )


def _type_spec(spec: struct_pb2.TypeSpecProto, state: Any) -> TypeSpecValue:
    name = _TYPE_SPEC_CLASS_NAMES.get(spec.type_spec_class) or spec.type_spec_class_name.rsplit(".", 1)[-1]
    return TypeSpecValue(name or "TypeSpec", state)


def decode_structured(value: struct_pb2.StructuredValue) -> Any:
    """A StructuredValue as Python values (tuples, lists, dicts, TensorSpecValue...), by the one
    decoder (savedmodel.format.structured) with leaves that print as TensorFlow prints them.

    Dict keys come out sorted, as TensorFlow's nest utilities order them.
    """
    return structured.decode(value, _LEAVES)


def _tensor_or_none(proto: Any) -> Any:
    from savedmodel.format.tensor import to_numpy

    try:
        return to_numpy(proto)
    except SavedModelError:
        return None


_LEAVES = structured.Leaves(
    tensor_spec=_tensor_spec,
    bounded_tensor_spec=_bounded_tensor_spec,
    type_spec=_type_spec,
    tensor_shape=TensorShapeValue.from_proto,
    tensor_dtype=DTypeValue,
    tensor=lambda proto: TensorValue(_tensor_or_none(proto)),
    named_tuple=_namedtuple,
    sort_dict_keys=True,
)


def structured_to_json(value: Any) -> Any:
    """A decoded signature value as JSON: scalars as themselves, containers tagged."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (TensorSpecValue, BoundedTensorSpecValue)):
        out = {
            "type": type(value).__name__.replace("Value", ""),
            "dtype": value.dtype.name,
            "shape": value.shape.as_list(),
            "name": value.name,
        }
        return out
    if isinstance(value, TensorShapeValue):
        return {"type": "TensorShape", "shape": value.as_list()}
    if isinstance(value, DTypeValue):
        return {"type": "DType", "dtype": value.name}
    if isinstance(value, TypeSpecValue):
        return {"type": value.class_name, "repr": repr(value)}
    if isinstance(value, TensorValue):
        return {"type": "Tensor", "repr": repr(value)}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {
            "namedtuple": type(value).__name__,
            "fields": {k: structured_to_json(v) for k, v in zip(value._fields, value, strict=True)},
        }
    if isinstance(value, tuple):
        return {"tuple": [structured_to_json(v) for v in value]}
    if isinstance(value, list):
        return {"list": [structured_to_json(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": {str(k): structured_to_json(v) for k, v in value.items()}}
    return {"repr": repr(value)}


# ---------------------------------------------------------------------------
# Signatures
# ---------------------------------------------------------------------------


@dataclass
class TensorInfo:
    """One signature input or output."""

    dtype: int
    shape: list[int] | None  # -1 for unknown dims, None for unknown rank (or no shape recorded)
    encoding: str  # "name", "coo_sparse", "composite_tensor" or "" (unset)
    name: str = ""
    coo_sparse: dict[str, str] | None = None
    type_spec: Any = None  # decoded TypeSpec of a composite tensor
    components: list[TensorInfo] = field(default_factory=list)
    proto: meta_graph_pb2.TensorInfo | None = field(default=None, repr=False, compare=False)
    # False when the TensorInfo has no tensor_shape: its shape is unknown (TF Serving and TF1
    # sessions accept any), though saved_model_cli prints it as "()".
    shape_recorded: bool = True

    @classmethod
    def from_proto(cls, proto: meta_graph_pb2.TensorInfo) -> TensorInfo:
        recorded = proto.HasField("tensor_shape")
        unknown = proto.tensor_shape.unknown_rank or not recorded
        shape = None if unknown else [int(d.size) for d in proto.tensor_shape.dim]
        encoding = proto.WhichOneof("encoding") or ""
        info = cls(
            dtype=int(proto.dtype),
            shape=shape,
            encoding=encoding,
            name=proto.name,
            proto=proto,
            shape_recorded=recorded,
        )
        if encoding == "coo_sparse":
            coo = proto.coo_sparse
            info.coo_sparse = {
                "values_tensor_name": coo.values_tensor_name,
                "indices_tensor_name": coo.indices_tensor_name,
                "dense_shape_tensor_name": coo.dense_shape_tensor_name,
            }
        elif encoding == "composite_tensor":
            composite = proto.composite_tensor
            wrapper = struct_pb2.StructuredValue()
            wrapper.type_spec_value.CopyFrom(composite.type_spec)
            try:
                info.type_spec = decode_structured(wrapper)
            except SavedModelError:
                info.type_spec = None
            info.components = [cls.from_proto(c) for c in composite.components]
        return info

    @property
    def dtype_enum_name(self) -> str:
        return dtypes.enum_name(self.dtype)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dtype": self.dtype_enum_name,
            "shape": self.shape,
            "encoding": self.encoding or None,
        }
        if not self.shape_recorded:
            out["shape_recorded"] = False
        if self.encoding == "name":
            out["name"] = self.name
        elif self.encoding == "coo_sparse":
            out["coo_sparse"] = dict(self.coo_sparse or {})
        elif self.encoding == "composite_tensor":
            out["composite_tensor"] = {
                "type_spec": structured_to_json(self.type_spec),
                "components": [c.to_json() for c in self.components],
            }
        return out


@dataclass
class SignatureInfo:
    key: str
    method_name: str
    inputs: dict[str, TensorInfo]
    outputs: dict[str, TensorInfo]

    @classmethod
    def from_proto(cls, key: str, proto: meta_graph_pb2.SignatureDef) -> SignatureInfo:
        return cls(
            key=key,
            method_name=proto.method_name,
            inputs={k: TensorInfo.from_proto(proto.inputs[k]) for k in sorted(proto.inputs)},
            outputs={k: TensorInfo.from_proto(proto.outputs[k]) for k in sorted(proto.outputs)},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "method_name": self.method_name,
            "inputs": {k: v.to_json() for k, v in self.inputs.items()},
            "outputs": {k: v.to_json() for k, v in self.outputs.items()},
        }


# ---------------------------------------------------------------------------
# Functions of the object graph
# ---------------------------------------------------------------------------


@dataclass
class ConcreteFunctionInfo:
    name: str  # the FunctionDef name in the SavedModel
    signature: tuple[Any, Any] | None  # (args tuple, kwargs dict) or None when not recorded
    arg_keywords: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.signature is None:
            out["args"] = None
            out["kwargs"] = None
            out["arg_keywords"] = list(self.arg_keywords)
        else:
            args, kwargs = self.signature
            out["args"] = [structured_to_json(a) for a in (args or ())]
            out["kwargs"] = {str(k): structured_to_json(v) for k, v in (kwargs or {}).items()}
        return out


@dataclass
class FunctionInfo:
    name: str  # attribute name on the root object
    kind: str  # "function" or "bare_concrete_function"
    concrete_functions: list[ConcreteFunctionInfo]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "concrete_functions": [c.to_json() for c in self.concrete_functions],
        }


_WRAPPER_NAME = re.compile(r"^__inference_(.*)_\d+$")


def _gradient_op_type(node: Any) -> str | None:
    if node.op in ("PartitionedCall", "StatefulPartitionedCall") or "_gradient_op_type" not in node.attr:
        return None
    return node.attr["_gradient_op_type"].s.decode("utf-8", "replace") or None


def _function_deps(
    fdef: function_pb2.FunctionDef, library_names: set[str], gradient_functions: dict[str, str]
) -> set[str]:
    """Functions a FunctionDef refers to, as TensorFlow's loader lists them.

    `gradient_functions` maps a registered custom-gradient op type to its gradient function.
    """
    deps: set[str] = set()
    for node in fdef.node_def:
        gradient_type = _gradient_op_type(node)
        if node.op in library_names:
            deps.add(node.op)
        elif gradient_type and gradient_type in gradient_functions:
            deps.add(gradient_functions[gradient_type])
        else:
            for attr in node.attr.values():
                which = attr.WhichOneof("value")
                if which == "func":
                    deps.add(attr.func.name)
                elif which == "list":
                    deps.update(fn.name for fn in attr.list.func)
    return deps


def _load_order(library: function_pb2.FunctionDefLibrary) -> list[str]:
    """The order in which TensorFlow's loader recreates library functions (a stack-based topological sort)."""
    names = [f.signature.name for f in library.function]
    name_set = set(names)
    gradient_functions = {
        g.registered_op_type: g.gradient_func for g in library.registered_gradients if g.registered_op_type
    }
    deps = {f.signature.name: _function_deps(f, name_set, gradient_functions) for f in library.function}
    edges: dict[str, list[str]] = collections.defaultdict(list)
    pending: dict[str, int] = collections.defaultdict(int)
    for name, ds in deps.items():
        for dep in ds:
            edges[dep].append(name)
            pending[name] += 1
    order = stack_order([n for n in names if pending[n] == 0], edges, pending)
    seen = set(order)
    order.extend(n for n in names if n not in seen)  # cycles: TF would fail; keep a stable order
    return order


def _loaded_names(meta_graph: meta_graph_pb2.MetaGraphDef) -> dict[str, str]:
    """The names TensorFlow gives library functions when `saved_model_cli` loads the model.

    The loader renames each function `__inference_<base>_<uid>`, where uid is a
    process-wide counter that, in a fresh `saved_model_cli show --all` process,
    advances by (arguments + node outputs + 2) per function in load order.
    saved_model_cli sorts a function's concrete functions by these names (as
    strings), so we reproduce them.
    """
    library = meta_graph.graph_def.library
    by_name = {f.signature.name: f for f in library.function}
    op_defs = {op.name: op for op in meta_graph.meta_info_def.stripped_op_list.op}
    # Each custom gradient gets a fresh op type name first, then each function costs
    # one uid per argument and node output, one per HashTableV2 made to share by
    # node name, one for its graph and one for its name.
    uid = sum(1 for g in library.registered_gradients if g.registered_op_type)
    renamed: dict[str, str] = {}
    for name in _load_order(library):
        fdef = by_name[name]
        outputs = 0
        for node in fdef.node_def:
            sharing = node.attr.get("use_node_name_sharing")
            if node.op == "HashTableV2" and not (sharing is not None and sharing.b):
                outputs += 1
            try:
                outputs += output_layout(node.op, node.attr, op_defs, by_name).count
            except Exception:  # noqa: BLE001 - a malformed attr only skews the ordering heuristic
                outputs += 1
        uid += len(fdef.signature.input_arg) + outputs + 2
        match = _WRAPPER_NAME.match(name)
        base = match.group(1) if match else name
        renamed[name] = f"__inference_{base}_{uid + 1}"
    return renamed


def _concrete_info(
    name: str, object_graph: saved_object_graph_pb2.SavedObjectGraph, arg_keywords: Iterable[str] = ()
) -> ConcreteFunctionInfo:
    signature = None
    saved = object_graph.concrete_functions.get(name)
    if saved is not None and saved.HasField("canonicalized_input_signature"):
        decoded = decode_structured(saved.canonicalized_input_signature)
        if isinstance(decoded, tuple) and len(decoded) == 2:
            signature = (decoded[0], decoded[1])
    return ConcreteFunctionInfo(name=name, signature=signature, arg_keywords=list(arg_keywords))


def describe_functions(meta_graph: meta_graph_pb2.MetaGraphDef) -> list[FunctionInfo] | None:
    """Functions attached to the root object, sorted by name (None without an object graph).

    Concrete functions are in the order `saved_model_cli show --all` lists them.
    """
    if not meta_graph.HasField("object_graph_def"):
        return None
    graph = meta_graph.object_graph_def
    if not graph.nodes:
        return []
    loaded = _loaded_names(meta_graph)
    functions: list[FunctionInfo] = []
    for child in sorted(graph.nodes[0].children, key=lambda c: c.local_name):
        if not 0 <= child.node_id < len(graph.nodes):
            raise FormatError(
                f"object graph: child {child.local_name!r} refers to missing node {child.node_id}"
            )
        node = graph.nodes[child.node_id]
        kind = node.WhichOneof("kind")
        if kind == "function":
            concretes = [_concrete_info(n, graph) for n in node.function.concrete_functions]
        elif kind == "bare_concrete_function":
            bare = node.bare_concrete_function
            concretes = [_concrete_info(bare.concrete_function_name, graph, bare.argument_keywords)]
        else:
            continue
        concretes.sort(key=lambda c: loaded.get(c.name, c.name))
        functions.append(FunctionInfo(child.local_name, kind, concretes))
    return functions


# ---------------------------------------------------------------------------
# Meta graphs and the model
# ---------------------------------------------------------------------------


def ops_used(graph_def: Any) -> list[str]:
    """Op types a GraphDef uses, sorted.

    Like TensorFlow's ops_used_by_graph_def: the graph's nodes plus the nodes of the
    functions reached by op name or through (Stateful)PartitionedCall, transitively.
    """
    functions = {f.signature.name: f for f in graph_def.library.function}
    used: set[str] = set()
    queue: list[Any] = []

    def mark(op: str) -> None:
        if op not in used and op in functions:
            queue.append(functions[op])
        used.add(op)

    def visit(node: Any) -> None:
        mark(node.op)
        if node.op in ("PartitionedCall", "StatefulPartitionedCall"):
            f = node.attr.get("f")  # .get: indexing a proto map would insert the key
            mark(f.func.name if f is not None else "")

    for node in graph_def.node:
        visit(node)
    while queue:
        for node in queue.pop().node_def:
            visit(node)
    return sorted(op for op in used if op not in functions)


@dataclass
class MetaGraphInfo:
    tags: list[str]  # in stored order
    signatures: dict[str, SignatureInfo]
    ops: list[str]
    functions: list[FunctionInfo] | None
    proto: meta_graph_pb2.MetaGraphDef = field(repr=False, compare=False)

    @classmethod
    def from_proto(cls, proto: meta_graph_pb2.MetaGraphDef) -> MetaGraphInfo:
        return cls(
            tags=list(proto.meta_info_def.tags),
            signatures={
                k: SignatureInfo.from_proto(k, proto.signature_def[k]) for k in sorted(proto.signature_def)
            },
            ops=ops_used(proto.graph_def),
            functions=describe_functions(proto),
            proto=proto,
        )

    @property
    def tag_set(self) -> frozenset[str]:
        return frozenset(self.tags)

    def signature(self, key: str) -> SignatureInfo:
        if key not in self.signatures:
            raise NotFoundError(
                f'could not find signature "{key}" in the MetaGraphDef with tag set '
                f"{','.join(self.tags)!r}; available: {', '.join(self.signatures) or '(none)'}"
            )
        return self.signatures[key]

    def to_json(self) -> dict[str, Any]:
        return {
            "tags": list(self.tags),
            "signatures": {k: v.to_json() for k, v in self.signatures.items()},
            "ops": list(self.ops),
            "functions": None if self.functions is None else [f.to_json() for f in self.functions],
        }


@dataclass
class ModelInfo:
    path: str
    schema_version: int
    meta_graphs: list[MetaGraphInfo]
    proto: saved_model_pb2.SavedModel = field(repr=False, compare=False)

    def tag_sets(self) -> list[list[str]]:
        return [list(mg.tags) for mg in self.meta_graphs]

    def meta_graph(self, tag_set: str | Iterable[str]) -> MetaGraphInfo:
        """The MetaGraph whose tags equal `tag_set` ('serve,gpu' or an iterable), compared as sets."""
        wanted = parse_tags(tag_set)
        for mg in self.meta_graphs:
            if mg.tag_set == wanted:
                return mg
        available = "; ".join(repr(",".join(mg.tags)) for mg in self.meta_graphs)
        raise NotFoundError(
            f"{self.path}: no MetaGraphDef with tag set {','.join(sorted(wanted))!r} "
            f"(available tag sets: {available})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "saved_model_schema_version": self.schema_version,
            "meta_graphs": [mg.to_json() for mg in self.meta_graphs],
        }


def parse_tags(tag_set: str | Iterable[str]) -> frozenset[str]:
    """'serve, gpu' -> {'serve', 'gpu'} (items stripped, empty items dropped)."""
    items = tag_set.split(",") if isinstance(tag_set, str) else list(tag_set)
    return frozenset(t.strip() for t in items if t and t.strip())


def describe(path: PathLike) -> ModelInfo:
    """Describe the SavedModel in directory `path`."""
    proto = read_saved_model(path)
    try:
        meta_graphs = [MetaGraphInfo.from_proto(mg) for mg in proto.meta_graphs]
    except RecursionError:
        raise FormatError(f"{path}: structure nested too deeply") from None
    return ModelInfo(str(path), int(proto.saved_model_schema_version), meta_graphs, proto)


def to_json(info: ModelInfo) -> dict[str, Any]:
    return info.to_json()


# ---------------------------------------------------------------------------
# Variables
# ---------------------------------------------------------------------------

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


@dataclass
class VariableInfo:
    name: str
    dtype: str  # TensorFlow's Python name: float32, int64, string...
    shape: list[int]
    bytes: int  # bytes stored in the data shard(s)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape), "bytes": self.bytes}


def variables_prefix(path: PathLike) -> Path | None:
    """The TensorBundle prefix of a SavedModel directory or a checkpoint prefix.

    None for a SavedModel that has no variables. Accepts `<dir>`, `<dir>/variables`,
    a checkpoint prefix `model.ckpt` or its `model.ckpt.index`.
    """
    p = Path(path)
    if p.is_dir():
        # (`export`: a TF Serving session bundle's V2 checkpoint)
        for candidate in (p / "variables" / "variables", p / "variables", p / "export"):
            if Path(str(candidate) + ".index").is_file():
                return candidate
        if (p / "saved_model.pb").is_file() or (p / "saved_model.pbtxt").is_file():
            return None
        raise NotFoundError(f"{p}: no saved_model.pb and no variables index in this directory")
    if Path(str(p) + ".index").is_file():
        return p
    if p.name.endswith(".index") and p.is_file():
        return p.with_name(p.name[: -len(".index")])
    if not p.exists() and not p.parent.is_dir():
        raise NotFoundError(f"{p}: no such directory")
    raise NotFoundError(f"{p}: neither a SavedModel directory nor a checkpoint prefix ({p}.index not found)")


def open_bundle(path: PathLike) -> Any:
    """A BundleReader over the variables of `path` (see variables_prefix), or None when there are none."""
    from savedmodel.format.bundle import BundleReader

    prefix = variables_prefix(path)
    return None if prefix is None else BundleReader(prefix)


def describe_variables(path: PathLike, include_object_graph: bool = False) -> list[VariableInfo]:
    """Variables stored in a SavedModel's variables/ bundle or a checkpoint, sorted by name.

    The checkpoint's serialized object graph (`_CHECKPOINTABLE_OBJECT_GRAPH`) is
    left out unless `include_object_graph`.
    """
    reader = open_bundle(path)
    if reader is None:
        return []
    try:
        out = []
        for key in sorted(reader.keys()):
            if key == OBJECT_GRAPH_KEY and not include_object_graph:
                continue
            entry = reader.entry(key)
            size = _sliced_bytes(reader, key, entry) if len(entry.slices) else int(entry.size)
            shape = [int(d) for d in reader.shape(key)]
            out.append(VariableInfo(key, dtypes.dtype_name(int(entry.dtype)), shape, size))
        return out
    finally:
        reader.close()


def _sliced_bytes(reader: Any, key: str, entry: Any) -> int:
    """Bytes of a partitioned variable: its dims times the dtype size (its slices hold the data)."""
    try:
        itemsize = dtypes.as_numpy_dtype(int(entry.dtype)).itemsize
    except SavedModelError:
        return 0
    return int(np.prod(reader.shape(key), dtype=np.int64)) * itemsize
