"""`tf.Variable`: resource variables, as TensorFlow 2 creates them both inside a
`tf.Graph` (VarHandleOp + Assign/Read nodes + collections) and eagerly."""

from __future__ import annotations

from typing import Any

import numpy as np

from savedmodel.api.tf import graph as g
from savedmodel.api.tf import ops
from savedmodel.api.tf.dtypes import DType, as_dtype
from savedmodel.api.tf.eager import EagerTensor
from savedmodel.api.tf.graph import Operation, Tensor, TensorShape
from savedmodel.errors import InvalidInputError
from savedmodel.proto import attr_value_pb2, variable_pb2

GLOBAL_VARIABLES = "variables"
TRAINABLE_VARIABLES = "trainable_variables"
GLOBAL_STEP = "global_step"
ONLY_FIRST_REPLICA = 3  # tf.VariableAggregation.ONLY_FIRST_REPLICA, as the global step uses


class BaseVariable:
    """What graph and eager variables share."""

    dtype: DType
    _shape: TensorShape
    trainable: bool
    _name: str

    @property
    def shape(self) -> TensorShape:
        return self._shape

    def get_shape(self) -> TensorShape:
        return self._shape

    @property
    def name(self) -> str:
        return self._name

    def _dense_read(self, name: str | None = None) -> Any:
        raise NotImplementedError

    def value(self) -> Any:
        return self._dense_read()

    def read_value(self) -> Any:
        return self._dense_read("Read" if False else None)

    def __array__(self, dtype: Any = None) -> np.ndarray:
        return np.asarray(self._dense_read(), dtype=dtype)


ops.install_operators(BaseVariable)


def _has_initial_value_callable(value: Any) -> bool:
    return callable(value) and not isinstance(value, Tensor | EagerTensor)


class GraphVariable(BaseVariable):
    """A resource variable in a graph: VarHandleOp `name`, `name/Assign`, `name/Read/ReadVariableOp`."""

    def __init__(
        self,
        graph: g.Graph,
        initial_value: Any,
        trainable: bool = True,
        name: str | None = None,
        dtype: Any = None,
        shape: Any = None,
        collections: list[str] | None = None,
        aggregation: int = 0,
    ) -> None:
        self.graph = graph
        self.trainable = trainable
        self.aggregation = aggregation
        with graph.name_scope(name or "Variable") as scope:
            handle_name = scope[:-1]
            with graph.name_scope("Initializer"):
                first = len(graph._ops)
                if _has_initial_value_callable(initial_value):
                    initial_value = initial_value()
                init = ops.convert_to_tensor(initial_value, dtype=dtype, name="initial_value")
                for op in graph._ops[first:]:
                    op.attrs["_class"] = g.attr_strs([f"loc:@{handle_name}"])
            self.dtype = init.dtype
            self._shape = g.as_shape(shape) if shape is not None else init.shape
            attrs = {
                "shared_name": g.attr_str(handle_name),
                "shape": g.attr_shape(self._shape),
                "dtype": g.attr_type(self.dtype),
                "debug_name": g.attr_str(scope),
                "_class": g.attr_strs([f"loc:@{handle_name}"]),
            }
            self.handle = graph.create_op("VarHandleOp", [], attrs, ["resource"], [[]], name=scope).outputs[0]
            self.op: Operation = self.handle.op
            with graph.name_scope("IsInitialized"):
                self._is_initialized = graph.create_op(
                    "VarIsInitializedOp", [self.handle], {}, ["bool"], [[]], name="VarIsInitializedOp"
                ).outputs[0]
            self.initializer: Operation = graph.create_op(
                "AssignVariableOp",
                [self.handle, init],
                {"dtype": g.attr_type(self.dtype)},
                [],
                [],
                name="Assign",
            )
            with graph.name_scope("Read"):
                self._snapshot = self._read_op("ReadVariableOp")
        self.initial_value = init
        self._name = self.handle.name
        graph._variable_objects[handle_name] = self
        for collection in collections or ([GLOBAL_VARIABLES] + ([TRAINABLE_VARIABLES] if trainable else [])):
            graph.add_to_collection(collection, self)

    def _read_op(self, name: str, control_inputs: list[Operation] | None = None) -> Tensor:
        op = self.graph.create_op(
            "ReadVariableOp",
            [self.handle],
            {"dtype": g.attr_type(self.dtype)},
            [self.dtype],
            [self._shape],
            name=name,
            control_inputs=control_inputs or [],
        )
        return op.outputs[0]

    def _dense_read(self, name: str | None = None) -> Tensor:
        graph = g.get_default_graph()
        if graph is not self.graph:
            capture = getattr(graph, "capture_variable", None)
            if capture is not None:
                return capture(self)
            raise InvalidInputError(f"variable {self.name} belongs to another graph")
        return self._read_op(name or "ReadVariableOp")

    def _as_graph_element(self) -> Tensor:
        return self._snapshot

    def assign(self, value: Any, name: str | None = None, read_value: bool = True) -> Any:
        return self._assign("AssignVariableOp", value, name, read_value)

    def assign_add(self, delta: Any, name: str | None = None, read_value: bool = True) -> Any:
        return self._assign("AssignAddVariableOp", delta, name, read_value)

    def assign_sub(self, delta: Any, name: str | None = None, read_value: bool = True) -> Any:
        return self._assign("AssignSubVariableOp", delta, name, read_value)

    def _assign(self, op_type: str, value: Any, name: str | None, read_value: bool) -> Any:
        value_t = ops.convert_to_tensor(value, dtype=self.dtype)
        op = self.graph.create_op(
            op_type, [self.handle, value_t], {"dtype": g.attr_type(self.dtype)}, [], [], name=name or op_type
        )
        op.attrs["_has_manual_control_dependencies"] = g.attr_bool(True)
        if not read_value:
            return op
        read = self._read_op("ReadVariableOp", control_inputs=[op])
        # TF returns an "unread variable" whose .op is the assign op; keep that link for train_op collections.
        read.op._assign_source = op  # type: ignore[attr-defined]
        return read

    def to_proto(self) -> variable_pb2.VariableDef:
        return variable_pb2.VariableDef(
            variable_name=self.handle.name,
            initial_value_name=self.initial_value.name,
            initializer_name=self.initializer.name,
            snapshot_name=self._snapshot.name,
            is_resource=True,
            trainable=self.trainable,
            aggregation=self.aggregation,
        )

    @property
    def device(self) -> str:
        return self.op.device

    def eval(self, session: Any = None) -> Any:
        return self._snapshot.eval(session=session)

    def __repr__(self) -> str:
        return f"<tf.Variable '{self.name}' shape={self._shape} dtype={self.dtype.name}>"


class EagerVariable(BaseVariable):
    """A variable holding a NumPy value (TF2 eager), stored in a runtime VariableResource so
    traced functions that capture it read and assign the same storage."""

    _uid = 0

    def __init__(
        self,
        initial_value: Any,
        trainable: bool = True,
        name: str | None = None,
        dtype: Any = None,
        shape: Any = None,
    ) -> None:
        from savedmodel.ops._resources import VariableResource

        if _has_initial_value_callable(initial_value):
            initial_value = initial_value()
        value = ops.convert_to_tensor(initial_value, dtype=dtype)
        self.dtype = value.dtype
        self._shape = g.as_shape(shape) if shape is not None else TensorShape(np.shape(value._value))
        self.trainable = trainable
        self._name = f"{name or 'Variable'}:0"
        EagerVariable._uid += 1
        self._unique_id = EagerVariable._uid
        array = np.array(value._value)
        self._resource = VariableResource(
            "",
            f"{name or 'Variable'}_{self._unique_id}",
            array.dtype,
            None if self._shape.dims is None else tuple(array.shape),
        )
        self._resource.value = array

    @property
    def _value(self) -> np.ndarray:
        return self._resource.read()

    def _dense_read(self, name: str | None = None) -> Any:
        graph = g.get_default_graph()
        if graph is None:
            return EagerTensor(self._value.copy(), self.dtype)
        capture = getattr(graph, "capture_variable", None)
        if capture is None:
            raise InvalidInputError(f"eager variable {self.name} used inside a tf.Graph")
        return capture(self)

    def numpy(self) -> Any:
        return EagerTensor(self._value, self.dtype).numpy()

    def assign(self, value: Any, name: str | None = None, read_value: bool = True) -> Any:
        return self._eager_assign("AssignVariableOp", lambda old, new: new, value)

    def assign_add(self, delta: Any, name: str | None = None, read_value: bool = True) -> Any:
        return self._eager_assign("AssignAddVariableOp", lambda old, new: old + new, delta)

    def assign_sub(self, delta: Any, name: str | None = None, read_value: bool = True) -> Any:
        return self._eager_assign("AssignSubVariableOp", lambda old, new: old - new, delta)

    def _eager_assign(self, op_type: str, combine: Any, value: Any) -> Any:
        graph = g.get_default_graph()
        if graph is not None:
            capture = getattr(graph, "assign_captured", None)
            if capture is None:
                raise InvalidInputError(f"eager variable {self.name} assigned inside a tf.Graph")
            return capture(self, op_type, value)
        new = ops.convert_to_tensor(value, dtype=self.dtype)
        self._resource.value = np.asarray(combine(self._value, np.asarray(new._value))).astype(
            self._value.dtype
        )
        return self

    def __repr__(self) -> str:
        text = EagerTensor(self._value, self.dtype).__repr__().split("numpy=", 1)[1][:-1]
        return f"<tf.Variable '{self.name}' shape={self._shape} dtype={self.dtype.name}, numpy={text}>"


class RefVariable(BaseVariable):
    """A TF1 reference variable (`tf1.Variable(..., use_resource=False)`):
    `v/initial_value`, VariableV2 `v`, Assign `v/Assign`, Identity `v/read`."""

    def __init__(
        self,
        graph: g.Graph,
        initial_value: Any,
        trainable: bool = True,
        name: str | None = None,
        dtype: Any = None,
        shape: Any = None,
        collections: list[str] | None = None,
    ) -> None:
        self.graph = graph
        self.trainable = trainable
        with graph.name_scope(name or "Variable") as scope:
            if _has_initial_value_callable(initial_value):
                initial_value = initial_value()
            init = ops.convert_to_tensor(initial_value, dtype=dtype, name="initial_value")
            self.dtype = init.dtype
            self._shape = g.as_shape(shape) if shape is not None else init.shape
            ref_dtype = as_dtype(self.dtype.as_datatype_enum + 100)
            attrs = {
                "dtype": g.attr_type(self.dtype),
                "shape": g.attr_shape(self._shape),
                "container": g.attr_str(""),
                "shared_name": g.attr_str(""),
            }
            self.op = graph.create_op("VariableV2", [], attrs, [ref_dtype], [self._shape], name=scope)
            self.handle = self.op.outputs[0]
            colocate = g.attr_strs([f"loc:@{self.op.name}"])
            self.initializer = graph.create_op(
                "Assign",
                [self.handle, init],
                _assign_attrs(self.dtype, colocate),
                [ref_dtype],
                [self._shape],
                name="Assign",
            )
            self._snapshot = graph.create_op(
                "Identity",
                [self.handle],
                {"T": g.attr_type(self.dtype), "_class": colocate},
                [self.dtype],
                [self._shape],
                name="read",
            ).outputs[0]
        self.initial_value = init
        self._name = self.handle.name
        graph._variable_objects[self.op.name] = self
        for collection in collections or ([GLOBAL_VARIABLES] + ([TRAINABLE_VARIABLES] if trainable else [])):
            graph.add_to_collection(collection, self)

    is_resource = False

    def _dense_read(self, name: str | None = None) -> Tensor:
        return self._snapshot

    def _as_graph_element(self) -> Tensor:
        return self._snapshot

    @property
    def _saveable_tensor(self) -> Tensor:
        return self.handle

    def assign(self, value: Any, name: str | None = None, read_value: bool = True) -> Any:
        value_t = ops.convert_to_tensor(value, dtype=self.dtype)
        colocate = g.attr_strs([f"loc:@{self.op.name}"])
        op = self.graph.create_op(
            "Assign",
            [self.handle, value_t],
            _assign_attrs(self.dtype, colocate),
            [self.handle.dtype],
            [self._shape],
            name=name or "Assign",
        )
        return op.outputs[0]

    def to_proto(self) -> variable_pb2.VariableDef:
        return variable_pb2.VariableDef(
            variable_name=self.handle.name,
            initial_value_name=self.initial_value.name,
            initializer_name=self.initializer.name,
            snapshot_name=self._snapshot.name,
            trainable=self.trainable,
        )

    def __repr__(self) -> str:
        return f"<tf.Variable '{self.name}' shape={self._shape} dtype={self.handle.dtype.name}>"


def _assign_attrs(dtype: DType, colocate: attr_value_pb2.AttrValue) -> dict[str, attr_value_pb2.AttrValue]:
    return {
        "T": g.attr_type(dtype),
        "validate_shape": g.attr_bool(True),
        "use_locking": g.attr_bool(True),
        "_class": colocate,
    }


_RESOURCE_VARIABLES = [True]


def enable_resource_variables() -> None:
    _RESOURCE_VARIABLES[0] = True


def disable_resource_variables() -> None:
    _RESOURCE_VARIABLES[0] = False


def Variable(  # noqa: N802 - TF's name
    initial_value: Any = None,
    trainable: bool = True,
    name: str | None = None,
    dtype: Any = None,
    shape: Any = None,
    collections: list[str] | None = None,
    use_resource: bool | None = None,
    **_: Any,
) -> BaseVariable:
    """`tf.Variable`: a graph variable inside a `tf.Graph`, else an eager one.

    In a graph it is a resource variable (as TF2 makes them) unless `use_resource=False`
    or resource variables were disabled, which makes a TF1 reference variable.
    """
    if initial_value is None:
        raise ValueError("initial_value must be specified.")
    graph = g.get_default_graph()
    if graph is None:
        return EagerVariable(initial_value, trainable, name, dtype, shape)
    resource = _RESOURCE_VARIABLES[0] if use_resource is None else use_resource
    if not resource and not getattr(graph, "is_function_graph", False):
        return RefVariable(graph, initial_value, trainable, name, dtype, shape, collections)
    return GraphVariable(graph, initial_value, trainable, name, dtype, shape, collections)


def global_variables(graph: g.Graph | None = None) -> list[Any]:
    graph = graph or g.get_default_graph()
    return graph.get_collection(GLOBAL_VARIABLES) if graph else []


def trainable_variables(graph: g.Graph | None = None) -> list[Any]:
    graph = graph or g.get_default_graph()
    return graph.get_collection(TRAINABLE_VARIABLES) if graph else []


def global_variables_initializer() -> Operation:
    graph = g.require_graph("tf.compat.v1.global_variables_initializer")
    inits = [v.initializer for v in global_variables(graph) if hasattr(v, "initializer")]
    with graph.name_scope("init") as scope:
        op = graph.create_op("NoOp", [], {}, [], [], name=scope, control_inputs=inits)
    return op


def variables_initializer(var_list: list[Any], name: str = "init") -> Operation:
    graph = g.require_graph("tf.compat.v1.variables_initializer")
    with graph.name_scope(name) as scope:
        return graph.create_op(
            "NoOp", [], {}, [], [], name=scope, control_inputs=[v.initializer for v in var_list]
        )


def dtype_attr(value: Any) -> attr_value_pb2.AttrValue:
    return g.attr_type(as_dtype(value))
