"""Graph building: `Graph`, `Operation`, symbolic `Tensor`, name scopes and TF's node naming.

Nodes are kept in creation order and serialized to a GraphDef exactly as
TensorFlow lays them out (names, inputs `x`, `x:1`, `^ctrl`, attrs, and
`_output_shapes` when asked for).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from savedmodel.api.tf import op_defs
from savedmodel.api.tf.dtypes import DType, as_dtype
from savedmodel.errors import InvalidInputError, NotFoundError
from savedmodel.format import tensor as tensor_format
from savedmodel.proto import attr_value_pb2, graph_pb2, node_def_pb2, versions_pb2

GRAPH_DEF_PRODUCER = 2474  # what TensorFlow 2.21 writes in GraphDef.versions


class GraphKeyError(NotFoundError, KeyError):
    """A name that is not in the graph: a NotFoundError that is also a KeyError, as in TF."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class TensorShape:
    """A static shape: `dims` is None for unknown rank, entries None for unknown sizes."""

    def __init__(self, dims: Sequence[int | None] | TensorShape | None) -> None:
        if isinstance(dims, TensorShape):
            dims = dims.dims
        self.dims: tuple[int | None, ...] | None = (
            None if dims is None else tuple(None if d is None or d == -1 else int(d) for d in dims)
        )

    @property
    def rank(self) -> int | None:
        return None if self.dims is None else len(self.dims)

    ndims = rank

    def as_list(self) -> list[int | None]:
        if self.dims is None:
            raise ValueError("as_list() is not defined on an unknown TensorShape.")
        return list(self.dims)

    def is_fully_defined(self) -> bool:
        return self.dims is not None and all(d is not None for d in self.dims)

    def as_proto(self):  # noqa: ANN201 - TensorShapeProto
        return tensor_format.shape_to_proto(
            None if self.dims is None else [-1 if d is None else d for d in self.dims]
        )

    def __iter__(self) -> Iterator[int | None]:
        return iter(self.dims or ())

    def __len__(self) -> int:
        if self.dims is None:
            raise ValueError("Cannot take the length of shape with unknown rank.")
        return len(self.dims)

    def __getitem__(self, index: int) -> int | None:
        return (self.dims or ())[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TensorShape):
            return self.dims == other.dims
        if isinstance(other, list | tuple):
            return self.dims == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.dims)

    def __repr__(self) -> str:
        return "TensorShape(None)" if self.dims is None else f"TensorShape({list(self.dims)})"

    def __str__(self) -> str:
        if self.dims is None:
            return "<unknown>"
        inner = ", ".join("None" if d is None else str(d) for d in self.dims)
        return f"({inner},)" if len(self.dims) == 1 else f"({inner})"


def as_shape(value: Any) -> TensorShape:
    if isinstance(value, TensorShape):
        return value
    if value is None:
        return TensorShape(None)
    if isinstance(value, int):
        return TensorShape([value])
    return TensorShape(list(value))


class Tensor:
    """A symbolic tensor: output `value_index` of an Operation."""

    def __init__(self, op: Operation, value_index: int, dtype: DType, shape: TensorShape) -> None:
        self.op = op
        self.value_index = value_index
        self.dtype = dtype
        self._shape = shape

    @property
    def graph(self) -> Graph:
        return self.op.graph

    @property
    def name(self) -> str:
        return f"{self.op.name}:{self.value_index}"

    @property
    def shape(self) -> TensorShape:
        return self._shape

    def get_shape(self) -> TensorShape:
        return self._shape

    def set_shape(self, shape: Any) -> None:
        self._shape = as_shape(shape)

    @property
    def device(self) -> str:
        return self.op.device

    def _as_input(self) -> str:
        return self.op.name if self.value_index == 0 else self.name

    def eval(self, feed_dict: dict | None = None, session: Any = None) -> Any:
        from savedmodel.api.tf.session import get_default_session

        return (session or get_default_session()).run(self, feed_dict)

    def __repr__(self) -> str:
        return f"<tf.Tensor '{self.name}' shape={self._shape} dtype={self.dtype.name}>"

    def __str__(self) -> str:
        if self._shape.dims is None:  # TF leaves out an unknown shape
            return f'Tensor("{self.name}", dtype={self.dtype.name})'
        return f'Tensor("{self.name}", shape={self._shape}, dtype={self.dtype.name})'

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> bool:
        raise TypeError("Using a symbolic tf.Tensor as a Python bool is not allowed.")

    def __iter__(self) -> Iterator[Any]:
        raise TypeError("Iterating over a symbolic tf.Tensor is not allowed.")

    def __array__(self, dtype: Any = None) -> np.ndarray:
        raise TypeError(f"Cannot convert a symbolic tf.Tensor ({self.name}) to a numpy array.")


class Operation:
    """A node under construction: op type, inputs, control inputs, attrs (AttrValue protos)."""

    def __init__(
        self,
        graph: Graph,
        name: str,
        op_type: str,
        inputs: list[Tensor],
        attrs: dict[str, attr_value_pb2.AttrValue],
        output_types: list[DType],
        output_shapes: list[TensorShape],
        control_inputs: list[Operation],
        device: str = "",
    ) -> None:
        self.graph = graph
        self.name = name
        self.type = op_type
        self.inputs = list(inputs)
        self.control_inputs = list(control_inputs)
        self.attrs = attrs
        self.device = device
        self.outputs = [
            Tensor(self, i, dt, sh)
            for i, (dt, sh) in enumerate(zip(output_types, output_shapes, strict=True))
        ]
        self.extra_inputs: list[str] = []  # raw input strings of imported nodes we could not resolve

    @property
    def node_def(self) -> node_def_pb2.NodeDef:
        return self.to_node_def(add_shapes=False)

    def get_attr(self, name: str) -> Any:
        from savedmodel.ops.registry import decode_attr

        value = self.attrs[name]
        if value.WhichOneof("value") == "type":
            return as_dtype(value.type)
        return decode_attr(value)

    def _set_attr(self, name: str, value: attr_value_pb2.AttrValue) -> None:
        self.attrs[name] = value
        self.graph._mutations += 1

    def to_node_def(self, add_shapes: bool = False) -> node_def_pb2.NodeDef:
        node = node_def_pb2.NodeDef(name=self.name, op=self.type, device=self.device)
        node.input.extend(t._as_input() for t in self.inputs)
        node.input.extend(self.extra_inputs)
        node.input.extend(sorted("^" + c.name for c in self.control_inputs))
        for key, value in self.attrs.items():
            node.attr[key].CopyFrom(value)
        if add_shapes and self.outputs:
            shapes = node.attr["_output_shapes"].list.shape
            for out in self.outputs:
                shapes.add().CopyFrom(out.shape.as_proto())
        return node

    def run(self, feed_dict: dict | None = None, session: Any = None) -> None:
        from savedmodel.api.tf.session import get_default_session

        (session or get_default_session()).run(self, feed_dict)

    def __repr__(self) -> str:
        return f'<tf.Operation "{self.name}" type={self.type}>'


# --- attr helpers -----------------------------------------------------------------


def attr_type(dtype: Any) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(type=as_dtype(dtype).as_datatype_enum)


def attr_types(dtypes_: Sequence[Any]) -> attr_value_pb2.AttrValue:
    value = attr_value_pb2.AttrValue()
    value.list.type.extend(as_dtype(d).as_datatype_enum for d in dtypes_)
    value.list.SetInParent()
    return value


def attr_shape(shape: Any) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(shape=as_shape(shape).as_proto())


def attr_str(value: str | bytes) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(s=value.encode() if isinstance(value, str) else value)


def attr_strs(values: Sequence[str | bytes]) -> attr_value_pb2.AttrValue:
    out = attr_value_pb2.AttrValue()
    out.list.s.extend(v.encode() if isinstance(v, str) else v for v in values)
    out.list.SetInParent()
    return out


def attr_bool(value: bool) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(b=value)


def attr_int(value: int) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(i=value)


def attr_tensor(
    value: np.ndarray, dtype: DType, shape: Sequence[int] | None = None
) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(tensor=tensor_format.from_numpy(value, dtype.as_datatype_enum, shape))


# --- the default graph stack ------------------------------------------------------


class _Stack(threading.local):
    def __init__(self) -> None:
        self.graphs: list[Graph] = []


_STACK = _Stack()


class _Mode:
    """Process-wide, as in TensorFlow: whether eager execution is on, and the global graph
    (`tf.compat.v1.get_default_graph()` outside any `as_default()`)."""

    eager = True
    global_graph: Graph | None = None


def global_graph() -> Graph:
    if _Mode.global_graph is None:
        _Mode.global_graph = Graph()
    return _Mode.global_graph


def reset_global_graph() -> None:
    _Mode.global_graph = None


def set_eager_execution(enabled: bool) -> None:
    """`tf.compat.v1.disable_eager_execution()` (False) / `enable_eager_execution()` (True): with
    eager execution off, graph-building calls outside `as_default()` build the global graph."""
    _Mode.eager = enabled


def get_default_graph() -> Graph | None:
    """The innermost graph made default with `as_default()`; else the global graph when eager
    execution is disabled, None when executing eagerly."""
    if _STACK.graphs:
        return _STACK.graphs[-1]
    return None if _Mode.eager else global_graph()


def executing_eagerly() -> bool:
    return not _STACK.graphs and _Mode.eager


class Graph:
    """A graph under construction (TF1 `tf.Graph`, or a function body being traced)."""

    def __init__(self) -> None:
        self._ops: list[Operation] = []
        self._by_name: dict[str, Operation] = {}
        self._names_in_use: dict[str, int] = {}
        self._name_stack = ""
        self._control_dependencies: list[list[Operation]] = []
        self._collections: dict[str, list[Any]] = {}
        self._device_stack: list[str] = []
        self.library_functions: dict[str, Any] = {}  # name -> FunctionDef proto (imported or traced)
        self.versions_producer = GRAPH_DEF_PRODUCER
        self.finalized = False
        self._variable_objects: dict[str, Any] = {}  # handle op name -> variable object
        self.seed: int | None = None
        self._mutations = 0  # bumped by every change sessions must see (see `version`)
        # True once a model was imported under a policy without file access: sessions then
        # confine checkpoint ops to the model's directories and the checkpoints named to a Saver.
        self.confined = False

    @property
    def version(self) -> tuple[int, int]:
        """Changes whenever the graph does (ops added or changed, functions added); sessions
        recompile their plans when it moves."""
        return (self._mutations, len(self.library_functions))

    # context management
    @contextlib.contextmanager
    def as_default(self) -> Iterator[Graph]:
        _STACK.graphs.append(self)
        try:
            yield self
        finally:
            _STACK.graphs.pop()

    def finalize(self) -> None:
        self.finalized = True

    # naming
    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        """TensorFlow's rule: `name`, else `name_1`, `name_2`... (case-insensitive)."""
        if self._name_stack:
            name = f"{self._name_stack}/{name}"
        key = name.lower()
        count = self._names_in_use.get(key, 0)
        if mark_as_used:
            self._names_in_use[key] = count + 1
        if count > 0:
            base = key
            while key in self._names_in_use:
                key = f"{base}_{count}"
                count += 1
            if mark_as_used:
                self._names_in_use[key] = 1
            name = f"{name}_{count - 1}"
        return name

    def get_name_scope(self) -> str:
        return self._name_stack

    @contextlib.contextmanager
    def name_scope(self, name: str | None) -> Iterator[str]:
        """Enter a scope; yields the scope string ending in '/' ('' to reset)."""
        old = self._name_stack
        if name is None or name == "":
            new = "" if name == "" else old
        elif name.endswith("/"):
            new = name[:-1]
        else:
            new = self.unique_name(name)
        self._name_stack = new
        try:
            yield (new + "/") if new else ""
        finally:
            self._name_stack = old

    def _op_name(self, name: str) -> str:
        """Final op name: a scope string ('add/') is taken as is, else made unique in the scope."""
        if name.endswith("/"):
            return name[:-1]
        return self.unique_name(name)

    # control dependencies and devices
    @contextlib.contextmanager
    def control_dependencies(self, ops: Sequence[Any] | None) -> Iterator[None]:
        if ops is None:
            saved = self._control_dependencies
            self._control_dependencies = []
            try:
                yield
            finally:
                self._control_dependencies = saved
            return
        resolved = [o.op if isinstance(o, Tensor) else getattr(o, "op", o) for o in ops]
        self._control_dependencies.append([o for o in resolved if isinstance(o, Operation)])
        try:
            yield
        finally:
            self._control_dependencies.pop()

    @contextlib.contextmanager
    def device(self, device: str) -> Iterator[None]:
        self._device_stack.append(device)
        try:
            yield
        finally:
            self._device_stack.pop()

    # creation
    def create_op(
        self,
        op_type: str,
        inputs: Sequence[Tensor],
        attrs: dict[str, attr_value_pb2.AttrValue] | None = None,
        output_types: Sequence[Any] = (),
        output_shapes: Sequence[Any] | None = None,
        name: str | None = None,
        control_inputs: Sequence[Operation] = (),
        fill_defaults: bool = True,
    ) -> Operation:
        if self.finalized:
            raise RuntimeError("Graph is finalized and cannot be modified.")
        for t in inputs:
            if not isinstance(t, Tensor) or t.graph is not self:
                raise ValueError(f"{t!r} must be from the same graph as the op being created ({op_type}).")
        final = self._op_name(name or op_type)
        if final in self._by_name:
            raise ValueError(f"Duplicate node name in graph: '{final}'")
        all_attrs = dict(attrs or {})
        if fill_defaults:
            op_def = op_defs.get(op_type)
            if op_def is not None:
                for attr in op_def.attr:
                    if attr.name not in all_attrs and attr.HasField("default_value"):
                        all_attrs[attr.name] = attr_value_pb2.AttrValue()
                        all_attrs[attr.name].CopyFrom(attr.default_value)
        ctrl: list[Operation] = []
        input_ops = {t.op for t in inputs}
        for group in self._control_dependencies:
            for op in group:
                if op not in ctrl and op not in input_ops:
                    ctrl.append(op)
        for op in control_inputs:
            if op not in ctrl:
                ctrl.append(op)
        types = [as_dtype(t) for t in output_types]
        shapes = (
            [as_shape(s) for s in output_shapes]
            if output_shapes is not None
            else [TensorShape(None)] * len(types)
        )
        device = self._device_stack[-1] if self._device_stack else ""
        op = Operation(self, final, op_type, list(inputs), all_attrs, types, shapes, ctrl, device)
        self._ops.append(op)
        self._by_name[final] = op
        self._mutations += 1
        self._names_in_use.setdefault(final.lower(), 1)
        return op

    # lookup
    def get_operations(self) -> list[Operation]:
        return list(self._ops)

    def get_operation_by_name(self, name: str) -> Operation:
        try:
            return self._by_name[name]
        except KeyError:
            raise GraphKeyError(f"The name '{name}' refers to an Operation not in the graph.") from None

    def get_tensor_by_name(self, name: str) -> Tensor:
        if ":" not in name:
            raise InvalidInputError(
                f"The name '{name}' looks a like an Operation name, not a Tensor; "
                "tensor names look like '<op>:<n>'."
            )
        op_name, _, index = name.rpartition(":")
        op = self._by_name.get(op_name)
        if op is None:
            raise GraphKeyError(
                f"The name '{name}' refers to a Tensor which does not exist. The operation, "
                f"'{op_name}', does not exist in the graph."
            )
        idx = int(index)
        if idx >= len(op.outputs):
            raise GraphKeyError(
                f"The name '{name}' refers to a Tensor which does not exist. The operation, "
                f"'{op_name}', exists but only has {len(op.outputs)} outputs."
            )
        return op.outputs[idx]

    def as_graph_element(self, obj: Any) -> Tensor | Operation:
        if isinstance(obj, Tensor | Operation):
            return obj
        if hasattr(obj, "_as_graph_element"):
            return obj._as_graph_element()
        if isinstance(obj, str):
            return self.get_tensor_by_name(obj) if ":" in obj else self.get_operation_by_name(obj)
        raise TypeError(f"Can not convert a {type(obj).__name__} into a Tensor or Operation.")

    # collections
    def add_to_collection(self, name: str, value: Any) -> None:
        self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names: Sequence[str], value: Any) -> None:
        for name in dict.fromkeys([names] if isinstance(names, str) else names):
            self.add_to_collection(name, value)

    def get_collection(self, name: str, scope: str | None = None) -> list[Any]:
        items = list(self._collections.get(name, []))
        if scope is None:
            return items
        return [i for i in items if getattr(i, "name", "").startswith(scope)]

    def get_collection_ref(self, name: str) -> list[Any]:
        return self._collections.setdefault(name, [])

    def clear_collection(self, name: str) -> None:
        self._collections.pop(name, None)

    def get_all_collection_keys(self) -> list[str]:
        return [k for k, v in self._collections.items() if v is not None]

    # serialization
    def as_graph_def(self, add_shapes: bool = False) -> graph_pb2.GraphDef:
        graph_def = graph_pb2.GraphDef(versions=versions_pb2.VersionDef(producer=self.versions_producer))
        for op in self._ops:
            graph_def.node.add().CopyFrom(op.to_node_def(add_shapes))
        for name in sorted(self.library_functions):
            graph_def.library.function.add().CopyFrom(self.library_functions[name])
        return graph_def

    def op_types(self) -> set[str]:
        types = {op.type for op in self._ops}
        for fdef in self.library_functions.values():
            types.update(node.op for node in fdef.node_def)
        return types

    # import
    def import_graph_def(self, graph_def: graph_pb2.GraphDef, prefix: str = "") -> dict[str, Operation]:
        """Add the nodes of a GraphDef (as `tf.import_graph_def(name='')` does for prefix '')."""
        from savedmodel.api.tf import imported

        return imported.import_nodes(self, graph_def, prefix)

    def __repr__(self) -> str:
        return f"<savedmodel.tf.Graph with {len(self._ops)} ops>"


def require_graph(what: str) -> Graph:
    graph = get_default_graph()
    if graph is None:
        raise InvalidInputError(
            f"{what} is not supported when eager execution is enabled; use it inside a tf.Graph"
        )
    return graph


def lookup_error(name: str) -> NotFoundError:
    return NotFoundError(f"no tensor or operation named {name!r} in the graph")
