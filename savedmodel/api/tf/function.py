"""`tf.function`: tracing Python functions into graphs and FunctionDefs, calling them
eagerly (through the shared runtime's kernels) or as call nodes inside other graphs."""

from __future__ import annotations

import functools
import inspect
import itertools
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from savedmodel.api.tf import graph as g
from savedmodel.api.tf import op_defs, ops
from savedmodel.api.tf.dtypes import DType, as_dtype
from savedmodel.api.tf.eager import EagerTensor
from savedmodel.api.tf.graph import Graph, Operation, Tensor, TensorShape, as_shape
from savedmodel.errors import InvalidInputError
from savedmodel.proto import attr_value_pb2, function_pb2

_UID = itertools.count(1)
# What TensorFlow writes as the config_proto attr of call nodes (a serialized ConfigProto
# with the CPU/GPU device counts and the default options TF2 sets).
CONFIG_PROTO = b"\n\007\n\003CPU\020\001\n\007\n\003GPU\020\0002\002J\0008\001\202\001\000\222\001\002J\000"


class TensorSpec:
    """`tf.TensorSpec(shape, dtype, name)`."""

    def __init__(self, shape: Any, dtype: Any = "float32", name: str | None = None) -> None:
        self.shape = as_shape(shape)
        self.dtype = as_dtype(dtype)
        self.name = name

    @classmethod
    def from_tensor(cls, tensor: Any, name: str | None = None) -> TensorSpec:
        return cls(tensor.shape, tensor.dtype, name)

    def is_compatible_with(self, value: Any) -> bool:
        shape = value.shape if hasattr(value, "shape") else np.shape(value)
        dims = as_shape(shape).dims
        if value is not None and hasattr(value, "dtype") and as_dtype(value.dtype) != self.dtype:
            return False
        if self.shape.dims is None:
            return True
        if dims is None or len(dims) != len(self.shape.dims):
            return False
        return all(a is None or b is None or a == b for a, b in zip(self.shape.dims, dims, strict=True))

    def _key(self) -> tuple:
        return (self.dtype.as_datatype_enum, self.shape.dims)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TensorSpec) and self._key() == other._key() and self.name == other.name

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        name = "None" if self.name is None else repr(self.name)
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype!r}, name={name})"


# --- function graphs ------------------------------------------------------------------


class FuncGraph(Graph):
    """The graph a tf.function is traced into; captures outer values as extra inputs."""

    is_function_graph = True

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.inputs: list[Tensor] = []
        self.outputs: list[Tensor] = []
        self.arg_names: list[str] = []
        self.captures: list[
            tuple[Any, Tensor]
        ] = []  # (outer value: variable/resource/tensor, inner placeholder)
        self._capture_by_id: dict[int, Tensor] = {}
        self.control_outputs: list[Operation] = []
        self.variables: list[Any] = []

    def add_arg(self, spec: TensorSpec, name: str) -> Tensor:
        attrs = {"dtype": g.attr_type(spec.dtype), "shape": g.attr_shape(spec.shape)}
        with self.name_scope(name) as scope:
            op = self.create_op("Placeholder", [], attrs, [spec.dtype], [spec.shape], name=scope)
        op.attrs["_user_specified_name"] = g.attr_str(name)
        self.inputs.append(op.outputs[0])
        self.arg_names.append(op.name)
        return op.outputs[0]

    def capture(self, value: Any) -> Tensor | None:
        """Outer tensors: eager ones become constants; graph tensors become captured inputs."""
        if isinstance(value, EagerTensor):
            return None  # convert_to_tensor embeds it as a Const
        if isinstance(value, Tensor):
            key = id(value)
            if key not in self._capture_by_id:
                placeholder = self._placeholder_for(value.dtype, value.shape, value.op.name.replace("/", "_"))
                self.captures.append((value, placeholder))
                self._capture_by_id[key] = placeholder
            return self._capture_by_id[key]
        return None

    def _placeholder_for(self, dtype: Any, shape: Any, name: str) -> Tensor:
        attrs = {"dtype": g.attr_type(dtype), "shape": g.attr_shape(shape)}
        with self.name_scope(name) as scope:
            op = self.create_op("Placeholder", [], attrs, [dtype], [shape], name=scope)
        self.inputs.append(op.outputs[0])
        return op.outputs[0]

    def capture_handle(self, var: Any, scope_name: str = "ReadVariableOp") -> Tensor:
        """The placeholder standing for `var`'s resource handle inside this function."""
        key = id(var)
        if key not in self._capture_by_id:
            with self.name_scope(scope_name + "/"):
                placeholder = self._placeholder_for("resource", [], "resource")
            placeholder.op.attrs["_user_specified_name"] = g.attr_str("resource")
            self.captures.append((var, placeholder))
            self._capture_by_id[key] = placeholder
            self.variables.append(var)
        return self._capture_by_id[key]

    def capture_variable(self, var: Any) -> Tensor:
        """A read of a captured variable: `ReadVariableOp(<placeholder ReadVariableOp/resource>)`."""
        with self.name_scope("ReadVariableOp") as scope:
            handle = self.capture_handle(var, scope[:-1])
            op = self.create_op(
                "ReadVariableOp",
                [handle],
                {"dtype": g.attr_type(var.dtype)},
                [var.dtype],
                [var.shape],
                name=scope,
            )
        return op.outputs[0]

    def assign_captured(self, var: Any, op_type: str, value: Any) -> Operation:
        with self.name_scope(op_type) as scope:
            handle = self.capture_handle(var, scope[:-1])
            value_t = ops.convert_to_tensor(value, dtype=var.dtype)
            op = self.create_op(
                op_type, [handle, value_t], {"dtype": g.attr_type(var.dtype)}, [], [], name=scope
            )
        op.attrs["_has_manual_control_dependencies"] = g.attr_bool(True)
        self.control_outputs.append(op)
        return op


# --- structures -----------------------------------------------------------------------


def flatten(structure: Any) -> list[Any]:
    if isinstance(structure, dict):
        return [x for k in sorted(structure) for x in flatten(structure[k])]
    if isinstance(structure, list | tuple):
        return [x for item in structure for x in flatten(item)]
    return [structure]


def pack(structure: Any, flat: Sequence[Any]) -> Any:
    it = iter(flat)

    def build(s: Any) -> Any:
        if isinstance(s, dict):
            return (
                {k: v for k, v in ((k, build(s[k])) for k in sorted(s))} if False else _rebuild_dict(s, build)
            )
        if isinstance(s, list):
            return [build(x) for x in s]
        if isinstance(s, tuple):
            return tuple(build(x) for x in s)
        return next(it)

    return build(structure)


def _rebuild_dict(s: dict, build: Callable[[Any], Any]) -> dict:
    built = {k: build(s[k]) for k in sorted(s)}
    return {k: built[k] for k in s}


# --- concrete functions ---------------------------------------------------------------


def _sanitize(name: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


class ConcreteFunction:
    """One trace of a tf.function: a FuncGraph with structured inputs/outputs, callable."""

    def __init__(
        self,
        graph: FuncGraph,
        structured_input_signature: Any,
        structured_outputs: Any,
        python_name: str,
        arg_names: list[str],
    ) -> None:
        self.graph = graph
        self.name = graph.name
        self.structured_input_signature = structured_input_signature
        self.structured_outputs = structured_outputs
        self._python_name = python_name
        self._arg_names = arg_names
        self._fdef: function_pb2.FunctionDef | None = None
        self._session: Any = None

    @property
    def inputs(self) -> list[Tensor]:
        return list(self.graph.inputs)

    @property
    def outputs(self) -> list[Tensor]:
        return list(self.graph.outputs)

    @property
    def captured_inputs(self) -> list[Any]:
        return [outer for outer, _ in self.graph.captures]

    @property
    def variables(self) -> list[Any]:
        return list(self.graph.variables)

    trainable_variables = variables

    @property
    def output_dtypes(self) -> list[DType]:
        return [t.dtype for t in self.graph.outputs]

    @property
    def is_stateful(self) -> bool:
        for op in self.graph._ops:
            op_def = op_defs.get(op.type)
            if op_def is not None and op_def.is_stateful:
                return True
        return False

    @property
    def function_def(self) -> function_pb2.FunctionDef:
        if self._fdef is None:
            self._fdef = to_function_def(self.graph)
        return self._fdef

    def library(self) -> dict[str, function_pb2.FunctionDef]:
        """This function and every function it calls, by name."""
        out = dict(self.graph.library_functions)
        out[self.name] = self.function_def
        return out

    # calling
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        flat = self._bind(args, kwargs)
        return self._call_flat(flat)

    def _bind(self, args: Sequence[Any], kwargs: dict[str, Any]) -> list[Any]:
        specs = flatten(self.structured_input_signature[0]) + flatten(
            [self.structured_input_signature[1][k] for k in sorted(self.structured_input_signature[1])]
        )
        values = list(args)
        names = self._arg_names
        for name in names[len(values) :]:
            if name in kwargs:
                values.append(kwargs.pop(name))
        if kwargs:
            raise TypeError(f"{self._python_name}() got unexpected keyword arguments {sorted(kwargs)}")
        flat_values = flatten(values)
        tensor_specs = [s for s in specs if isinstance(s, TensorSpec)]
        tensor_values = [v for v, s in zip(flat_values, specs, strict=False) if isinstance(s, TensorSpec)]
        if len(tensor_values) != len(tensor_specs):
            raise TypeError(
                f"{self.name} expects {len(tensor_specs)} tensor arguments, got {len(tensor_values)}"
            )
        return [
            ops.convert_to_tensor(v, dtype=s.dtype) for v, s in zip(tensor_values, tensor_specs, strict=True)
        ]

    def _call_flat(self, flat: list[Any]) -> Any:
        outer = g.get_default_graph()
        if outer is None:
            return self._call_eager(flat)
        return self._call_in_graph(outer, flat)

    def _call_eager(self, flat: list[Any]) -> Any:
        from savedmodel.api.tf.session import Session

        if self._session is None:
            self._session = Session(graph=self.graph)
        feeds: dict[str, Any] = {}
        for placeholder, value in zip(self.graph.inputs, flat, strict=False):
            feeds[placeholder.name] = np.asarray(value._value)
        for outer, placeholder in self.graph.captures:
            feeds[placeholder.name] = resource_of(outer)
        targets: list[Any] = list(self.graph.outputs) + list(self.graph.control_outputs)
        values = self._session._execute(targets, feeds)
        outs = [EagerTensor(v, t.dtype) for v, t in zip(values, self.graph.outputs, strict=False)]
        return pack(self.structured_outputs, outs) if self.structured_outputs is not None else None

    def add_to_graph(self, graph: Graph) -> None:
        for name, fdef in self.library().items():
            graph.library_functions.setdefault(name, fdef)

    def _call_in_graph(self, outer: Graph, flat: list[Any]) -> Any:
        self.add_to_graph(outer)
        inputs = list(flat)
        for captured, _placeholder in self.graph.captures:
            inputs.append(outer_handle(outer, captured))
        stateful = self.is_stateful or any(t.dtype.name == "resource" for t in inputs)
        op_type = "StatefulPartitionedCall" if stateful else "PartitionedCall"
        attrs = {
            "Tin": g.attr_types([t.dtype for t in inputs]),
            "Tout": g.attr_types(self.output_dtypes),
            "f": attr_value_pb2.AttrValue(func=attr_value_pb2.NameAttrList(name=self.name)),
            "config_proto": attr_value_pb2.AttrValue(s=CONFIG_PROTO),
            "_read_only_resource_inputs": _int_list(
                [
                    i
                    for i, t in enumerate(inputs)
                    if t.dtype.name == "resource" and not self.graph.control_outputs
                ]
            ),
            "_collective_manager_ids": _int_list([]),
        }
        op = outer.create_op(
            op_type, inputs, attrs, self.output_dtypes, [t.shape for t in self.graph.outputs], name=op_type
        )
        if isinstance(outer, FuncGraph) and stateful:
            outer.control_outputs.append(op)
        return pack(self.structured_outputs, op.outputs) if self.structured_outputs is not None else op

    def pretty_printed_signature(self, verbose: bool = True) -> str:
        args = ", ".join(
            f"{n}: {s!r}"
            for n, s in zip(self._arg_names, flatten(self.structured_input_signature[0]), strict=False)
        )
        return f"{self._python_name}({args})"

    def __repr__(self) -> str:
        return f"<ConcreteFunction {self.pretty_printed_signature()} at 0x{id(self):X}>"


def _int_list(values: list[int]) -> attr_value_pb2.AttrValue:
    out = attr_value_pb2.AttrValue()
    out.list.i.extend(values)
    out.list.SetInParent()
    return out


def resource_of(value: Any) -> Any:
    """The runtime resource standing for a captured variable (its VariableResource)."""
    resource = getattr(value, "_resource", None)
    if resource is None:
        raise InvalidInputError(f"cannot capture {value!r} in a function")
    return resource


def outer_handle(outer: Graph, captured: Any) -> Tensor:
    """The resource handle tensor for `captured` in the calling graph."""
    if isinstance(captured, Tensor) and captured.graph is outer:
        return captured
    if isinstance(outer, FuncGraph):
        if isinstance(captured, Tensor):  # a tensor of a graph further out: captured in turn
            return outer.capture(captured)
        return outer.capture_handle(captured)
    if getattr(captured, "graph", None) is outer and hasattr(captured, "handle"):
        return captured.handle  # a variable of this (TF1-style) graph
    lookup = getattr(outer, "variable_handle", None)
    if lookup is not None:
        return lookup(captured)
    if isinstance(captured, Tensor) and captured.graph is outer:
        return captured
    raise InvalidInputError(f"cannot pass captured {captured!r} into graph {outer!r}")


# --- FunctionDef conversion -------------------------------------------------------------


def _output_arg_names(op: Operation, graph: Graph) -> list[tuple[str, int]]:
    """(output arg name, index within the arg) for each output of `op`."""
    op_def = op_defs.get(op.type) or getattr(graph, "extra_op_defs", {}).get(op.type)
    if op_def is None:
        return [("output", i) for i in range(len(op.outputs))]
    out: list[tuple[str, int]] = []
    for arg in op_def.output_arg:
        if arg.number_attr:
            count = op.attrs[arg.number_attr].i
        elif arg.type_list_attr:
            count = len(op.attrs[arg.type_list_attr].list.type)
        else:
            count = 1
        out.extend((arg.name, i) for i in range(count))
    return out


def to_function_def(graph: FuncGraph) -> function_pb2.FunctionDef:
    fdef = function_pb2.FunctionDef()
    fdef.signature.name = graph.name
    arg_of: dict[str, str] = {}
    for i, placeholder in enumerate(graph.inputs):
        arg_name = _sanitize(placeholder.op.name)
        arg_of[placeholder.name] = arg_name
        arg = fdef.signature.input_arg.add(name=arg_name, type=placeholder.dtype.as_datatype_enum)
        del arg
        user_name = placeholder.op.attrs.get("_user_specified_name")
        attrs = fdef.arg_attr[i].attr
        if user_name is not None:
            attrs["_user_specified_name"].CopyFrom(user_name)
        attrs["_output_shapes"].list.shape.add().CopyFrom(placeholder.shape.as_proto())
    shapes = fdef.attr["_input_shapes"].list
    for placeholder in graph.inputs:
        shapes.shape.add().CopyFrom(placeholder.shape.as_proto())
    fdef.attr["_construction_context"].s = b"kEagerRuntime"
    input_ops = {p.op for p in graph.inputs}
    layouts: dict[Operation, list[tuple[str, int]]] = {}
    for op in graph._ops:
        if op in input_ops:
            continue
        node = fdef.node_def.add(name=op.name, op=op.type, device=op.device)
        for t in op.inputs:
            if t.name in arg_of:
                node.input.append(arg_of[t.name])
                continue
            layout = layouts.setdefault(t.op, _output_arg_names(t.op, graph))
            arg_name, index = layout[t.value_index]
            node.input.append(f"{t.op.name}:{arg_name}:{index}")
        node.input.extend(sorted("^" + c.name for c in op.control_inputs))
        for key, value in op.attrs.items():
            node.attr[key].CopyFrom(value)
        out_shapes = node.attr["_output_shapes"].list
        out_shapes.SetInParent()
        for out in op.outputs:
            out_shapes.shape.add().CopyFrom(out.shape.as_proto())
        op_def = op_defs.get(op.type)
        if op_def is not None and op_def.is_stateful:
            fdef.signature.is_stateful = True
    for out in graph.outputs:
        name = _sanitize(out.op.name)
        fdef.signature.output_arg.add(name=name, type=out.dtype.as_datatype_enum)
        layout = _output_arg_names(out.op, graph)
        arg_name, index = layout[out.value_index]
        fdef.ret[name] = f"{out.op.name}:{arg_name}:{index}"
    for op in graph.control_outputs:
        fdef.signature.control_output.append(op.name)
        fdef.control_ret[op.name] = op.name
    return fdef


# --- tracing ----------------------------------------------------------------------------


def _spec_of(value: Any) -> TensorSpec | None:
    from savedmodel.api.tf.variables import BaseVariable

    if isinstance(value, TensorSpec):
        return value
    if isinstance(value, EagerTensor | Tensor):
        return TensorSpec(value.shape, value.dtype)
    if isinstance(value, BaseVariable):
        return None
    if isinstance(value, np.ndarray):
        return TensorSpec(value.shape, value.dtype)
    return None


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple((k, _hashable(v)) for k, v in sorted(value.items()))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(_hashable(v) for v in value))
    spec = _spec_of(value)
    if spec is not None:
        return ("spec", spec._key())
    try:
        hash(value)
        return ("py", value)
    except TypeError:
        return ("id", id(value))


class Function:
    """`tf.function(fn)`: traces once per input signature; callable eagerly and inside graphs."""

    def __init__(
        self,
        python_function: Callable[..., Any],
        input_signature: Sequence[Any] | None = None,
        name: str | None = None,
        instance: Any = None,
    ) -> None:
        self.python_function = python_function
        self.input_signature = list(input_signature) if input_signature is not None else None
        self._name = name or python_function.__name__
        self._instance = instance
        self._traces: dict[Any, ConcreteFunction] = {}
        self._trace_args: dict[Any, tuple[list[Any], dict[str, Any]]] = {}
        self._bound: dict[int, Function] = {}
        functools.update_wrapper(self, python_function)  # type: ignore[arg-type]
        params = list(inspect.signature(python_function).parameters.values())
        if instance is not None and params:
            params = params[1:]
        self._params = params

    @property
    def name(self) -> str:
        return self._name

    def __get__(self, instance: Any, owner: Any = None) -> Function:
        if instance is None:
            return self
        key = id(instance)
        if key not in self._bound:
            bound = Function(self.python_function, self.input_signature, self._name, instance)
            self._bound[key] = bound
            try:
                instance.__dict__.setdefault("_tf_bound_functions", {})[self._name] = bound
            except AttributeError:
                pass
        return self._bound[key]

    @property
    def arg_names(self) -> list[str]:
        return [p.name for p in self._params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]

    def _canonicalize(self, args: Sequence[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        if self.input_signature is not None:
            if len(args) + len(kwargs) > len(self.input_signature):
                raise TypeError(f"{self._name}: too many arguments for its input_signature")
            return list(args) + [kwargs[n] for n in self.arg_names[len(args) :] if n in kwargs], {}
        values = list(args)
        for name in self.arg_names[len(args) :]:
            if name in kwargs:
                values.append(kwargs.pop(name))
            else:
                param = next(p for p in self._params if p.name == name)
                if param.default is not inspect.Parameter.empty:
                    values.append(param.default)
        return values, kwargs

    def get_concrete_function(self, *args: Any, **kwargs: Any) -> ConcreteFunction:
        if self.input_signature is not None and not args and not kwargs:
            args = tuple(self.input_signature)
        values, extra = self._canonicalize(args, dict(kwargs))
        return self._trace_for(values, extra)

    def _trace_for(self, values: list[Any], kwargs: dict[str, Any]) -> ConcreteFunction:
        if self.input_signature is not None:
            specs = self.input_signature
            for value, spec in zip(values, specs, strict=False):
                if (
                    isinstance(spec, TensorSpec)
                    and not isinstance(value, TensorSpec)
                    and not spec.is_compatible_with(
                        ops.convert_to_tensor(value, dtype=spec.dtype) if not ops.is_tensor(value) else value
                    )
                ):
                    raise TypeError(
                        f"{self._name}: argument {value!r} does not match input_signature {spec!r}"
                    )
            values = list(specs)
        key = _hashable((values, kwargs))
        # As in TF, without an input_signature a trace made while building another graph (the
        # function called from another tf.function) does not serve for saving: saving retraces it
        # eagerly. With an input_signature the one trace serves both.
        in_graph = self.input_signature is None and not g.executing_eagerly()
        cache_key = ("graph" if in_graph else "eager", key)
        trace = self._traces.get(cache_key) or self._general_trace(cache_key[0], values, kwargs)
        if trace is None:
            trace = self._trace(values, kwargs)
            self._traces[cache_key] = trace
            self._trace_args.setdefault(key, (values, kwargs))
        return trace

    def _general_trace(
        self, context: str, values: list[Any], kwargs: dict[str, Any]
    ) -> ConcreteFunction | None:
        """As TF dispatches: an existing trace whose inputs are more general (a TensorSpec of
        unknown shape or dims where these have them) serves, the most specific such one."""
        found = [
            (self._trace_args[key], trace)
            for (ctx, key), trace in self._traces.items()
            if ctx == context and _generalizes(self._trace_args[key], (values, kwargs))
        ]
        for args, trace in found:
            if all(_generalizes(other, args) for other, _ in found):
                return trace
        return found[0][1] if found else None

    def _trace(self, values: list[Any], kwargs: dict[str, Any]) -> ConcreteFunction:
        graph = FuncGraph(f"__inference_{self._name}_{next(_UID)}")
        names = self.arg_names
        structured: list[Any] = []
        with graph.as_default():
            call_args: list[Any] = []
            for i, value in enumerate(values):
                arg_name = names[i] if i < len(names) else f"args_{i}"
                call_args.append(self._placeholders(graph, value, arg_name, structured))
            call_kwargs = {k: self._placeholders(graph, v, k, []) for k, v in kwargs.items()}
            fn = self.python_function
            result = (
                fn(self._instance, *call_args, **call_kwargs)
                if self._instance is not None
                else fn(*call_args, **call_kwargs)
            )
            outputs = _output_tensors(result)
            set_outputs(graph, flatten(outputs) if outputs is not None else [])
        signature = (tuple(structured), {})
        return ConcreteFunction(graph, signature, outputs, self._name, names[: len(values)])

    def _placeholders(self, graph: FuncGraph, value: Any, name: str, structured: list[Any]) -> Any:
        if isinstance(value, dict):
            sub: list[Any] = []
            built = {k: self._placeholders(graph, v, f"{name}_{k}", sub) for k, v in value.items()}
            structured.append({k: s for k, s in zip(value, sub, strict=False)})
            return built
        if isinstance(value, list | tuple):
            sub = []
            built_list = [self._placeholders(graph, v, f"{name}_{i}", sub) for i, v in enumerate(value)]
            structured.append(type(value)(sub))
            return type(value)(built_list)
        spec = _spec_of(value)
        if spec is None:
            structured.append(value)
            return value
        arg_name = spec.name or name
        structured.append(TensorSpec(spec.shape, spec.dtype, arg_name))
        return graph.add_arg(spec, arg_name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        values, extra = self._canonicalize(args, dict(kwargs))
        concrete = self._trace_for(values, extra)
        flat = [v for v in flatten(values) if _spec_of(v) is not None]
        if self.input_signature is not None:
            flat = [
                ops.convert_to_tensor(v, dtype=s.dtype)
                for v, s in zip(flatten(values), self.input_signature, strict=False)
            ]
        else:
            flat = [ops.convert_to_tensor(v) for v in flat]
        return concrete._call_flat(flat)

    def concrete_functions(self) -> list[ConcreteFunction]:
        """The traces a SavedModel keeps: one per distinct signature, in first-trace order, each the
        eager-context trace (made now, as TF does when saving, where only an in-graph one exists)."""
        keys: list[Any] = []
        for _, key in self._traces:
            if key not in keys:
                keys.append(key)
        out = []
        for key in keys:
            trace = self._traces.get(("eager", key))
            if trace is None:
                values, kwargs = self._trace_args[key]
                trace = self._trace(values, kwargs)
                self._traces[("eager", key)] = trace
            out.append(trace)
        return out

    def __repr__(self) -> str:
        return f"<savedmodel.tf.function {self._name} at 0x{id(self):X}>"


def set_outputs(graph: FuncGraph, tensors: Sequence[Tensor]) -> list[Tensor]:
    """Make `tensors` the function's outputs, each through an Identity that runs after its side
    effects (as TF writes them); returns the Identity outputs."""
    identities = []
    for out in tensors:
        op = graph.create_op(
            "Identity",
            [out],
            {"T": g.attr_type(out.dtype)},
            [out.dtype],
            [out.shape],
            name="Identity",
            control_inputs=_side_effects(graph),
        )
        identities.append(op.outputs[0])
    graph.outputs = identities
    return identities


def _generalizes(general: Any, specific: Any) -> bool:
    """Whether traced arguments `general` accept every call `specific` describes."""
    general_spec, specific_spec = _spec_of(general), _spec_of(specific)
    if general_spec is not None or specific_spec is not None:
        if general_spec is None or specific_spec is None or general_spec.dtype != specific_spec.dtype:
            return False
        outer, inner = general_spec.shape.dims, specific_spec.shape.dims
        if outer is None:
            return True
        return (
            inner is not None
            and len(inner) == len(outer)
            and all(a is None or a == b for a, b in zip(outer, inner, strict=True))
        )
    if isinstance(general, dict) and isinstance(specific, dict):
        return general.keys() == specific.keys() and all(
            _generalizes(general[k], specific[k]) for k in general
        )
    if isinstance(general, list | tuple) and isinstance(specific, list | tuple):
        return (
            type(general) is type(specific)
            and len(general) == len(specific)
            and all(_generalizes(a, b) for a, b in zip(general, specific, strict=True))
        )
    return _hashable(general) == _hashable(specific)


def _side_effects(graph: FuncGraph) -> list[Operation]:
    return list(graph.control_outputs)


def _output_tensors(result: Any) -> Any:
    from savedmodel.api.tf.variables import BaseVariable

    if result is None or isinstance(result, Operation):  # nothing returned, or only an op (no_op, group)
        return None
    if isinstance(result, dict):
        return {k: _output_tensors(v) for k, v in result.items()}
    if isinstance(result, list | tuple):
        return type(result)(_output_tensors(v) for v in result)
    if isinstance(result, BaseVariable):
        return result._dense_read()
    return ops.convert_to_tensor(result)


def function(
    func: Callable[..., Any] | None = None,
    input_signature: Sequence[Any] | None = None,
    autograph: bool = True,
    jit_compile: Any = None,
    reduce_retracing: bool = False,
    experimental_relax_shapes: Any = None,
    name: str | None = None,
    **_: Any,
) -> Any:
    """`@tf.function` / `tf.function(fn, input_signature=[...])`."""
    if func is None:
        return lambda f: Function(f, input_signature, name)
    return Function(func, input_signature, name)


_ = TensorShape
