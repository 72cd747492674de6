"""`tf.cond`, `tf.case`, `tf.while_loop` and `tf.map_fn`.

Eagerly they run directly in Python. Inside a graph (a tf.function or a `tf.Graph`) they emit what
TensorFlow 2 emits: `If`/`StatelessIf` and `While`/`StatelessWhile` nodes whose branches, loop
condition and loop body are library functions. Outer values a branch or body uses become extra
inputs of the node (every branch takes them all, in one order); a While body passes them through.
Loops carry TF's two leading loop variables, an iteration counter and `maximum_iterations` (-1 for
none); `map_fn` reads its elements from a TensorList and collects results in another, as TF does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from savedmodel.api.tf import graph as g
from savedmodel.api.tf import ops
from savedmodel.api.tf.dtypes import DType, as_dtype
from savedmodel.api.tf.eager import EagerTensor
from savedmodel.api.tf.function import (
    _UID,
    ConcreteFunction,
    FuncGraph,
    TensorSpec,
    _output_tensors,
    flatten,
    outer_handle,
    pack,
    set_outputs,
)
from savedmodel.api.tf.graph import Graph, Operation, Tensor, TensorShape
from savedmodel.errors import InvalidInputError
from savedmodel.proto import attr_value_pb2

_INT32 = as_dtype("int32")


# --- tracing a branch or body ---------------------------------------------------------------


class _Traced:
    """A function graph traced from a Python callable, before its outputs are fixed."""

    def __init__(self, name: str, fn: Callable[..., Any], specs: Sequence[TensorSpec], arg_names: list[str]):
        self.graph = FuncGraph(f"{name}_{next(_UID)}")
        with self.graph.as_default():
            self.args = [self.graph.add_arg(s, n) for s, n in zip(specs, arg_names, strict=True)]
            self.n_args = len(self.args)
            self.result = _output_tensors(fn(*self.args))

    def captured(self) -> list[tuple[Any, Tensor]]:
        return list(self.graph.captures)

    def take_inputs(self, outer_values: list[Any], templates: dict[int, Tensor]) -> list[Tensor]:
        """Give the graph one input per outer value (in that order, after its own arguments),
        adding placeholders it does not use; returns the placeholders, in order."""
        graph = self.graph
        mine = {id(outer): placeholder for outer, placeholder in graph.captures}
        placeholders = []
        with graph.as_default():
            for outer in outer_values:
                placeholder = mine.get(id(outer))
                if placeholder is None:
                    template = templates[id(outer)]
                    placeholder = graph._placeholder_for(template.dtype, template.shape, "placeholder")
                    graph.captures.append((outer, placeholder))
                placeholders.append(placeholder)
        graph.inputs = graph.inputs[: self.n_args] + placeholders
        return placeholders

    def finish(self, outputs: Sequence[Any], structure: Any = None) -> ConcreteFunction:
        with self.graph.as_default():
            set_outputs(self.graph, [ops.convert_to_tensor(t) for t in outputs])
        return ConcreteFunction(self.graph, ((), {}), structure, self.graph.name, [])


def _unify_captures(traced: Sequence[_Traced]) -> list[Any]:
    """The outer values any of the graphs captured; each graph then takes all of them."""
    values: list[Any] = []
    templates: dict[int, Tensor] = {}
    for t in traced:
        for outer, placeholder in t.captured():
            if id(outer) not in templates:
                templates[id(outer)] = placeholder
                values.append(outer)
    for t in traced:
        t.take_inputs(values, templates)
    return values


def _outer_inputs(outer: Graph, values: list[Any]) -> list[Tensor]:
    return [outer_handle(outer, v) for v in values]


def _func_attr(fn: ConcreteFunction) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(func=attr_value_pb2.NameAttrList(name=fn.name))


def _shapes_attr(shapes: Sequence[TensorShape]) -> attr_value_pb2.AttrValue:
    out = attr_value_pb2.AttrValue()
    out.list.SetInParent()
    for shape in shapes:
        out.list.shape.add().CopyFrom(shape.as_proto())
    return out


def _int_list(values: Sequence[int]) -> attr_value_pb2.AttrValue:
    out = attr_value_pb2.AttrValue()
    out.list.SetInParent()
    out.list.i.extend(values)
    return out


def _stateful(functions: Sequence[ConcreteFunction]) -> bool:
    return any(f.is_stateful or f.graph.control_outputs for f in functions)


def _read_only_resources(inputs: Sequence[Tensor], functions: Sequence[ConcreteFunction]) -> list[int]:
    if any(f.graph.control_outputs for f in functions):
        return []
    return [i for i, t in enumerate(inputs) if t.dtype.name == "resource"]


def _emit(
    outer: Graph,
    op_type: str,
    inputs: list[Tensor],
    attrs: dict[str, attr_value_pb2.AttrValue],
    out_types: list[DType],
    out_shapes: list[TensorShape],
    name: str,
    functions: Sequence[ConcreteFunction],
) -> Operation:
    for fn in functions:
        fn.add_to_graph(outer)
    op = outer.create_op(op_type, inputs, attrs, out_types, out_shapes, name=name)
    if isinstance(outer, FuncGraph) and op_type in ("If", "While"):
        outer.control_outputs.append(op)  # a stateful node runs even when its outputs are unused
    return op


def _join_shapes(a: TensorShape, b: TensorShape) -> TensorShape:
    if a.dims is None or b.dims is None or len(a.dims) != len(b.dims):
        return TensorShape(None)
    return TensorShape([x if x == y else None for x, y in zip(a.dims, b.dims, strict=True)])


def _graph() -> Graph | None:
    return g.get_default_graph()


def _truthy(value: Any) -> bool:
    from savedmodel.ops.control_flow import truthy

    return truthy(np.asarray(getattr(value, "_value", value)))


# --- tf.cond / tf.case --------------------------------------------------------------------


def cond(
    pred: Any,
    true_fn: Callable[[], Any] | None = None,
    false_fn: Callable[[], Any] | None = None,
    name: str | None = None,
) -> Any:
    """`tf.cond(pred, true_fn, false_fn)`."""
    if true_fn is None or false_fn is None:
        raise InvalidInputError("tf.cond needs both true_fn and false_fn")
    outer = _graph()
    if outer is None or isinstance(pred, bool | np.bool_):
        return true_fn() if _truthy(pred) else false_fn()
    with outer.name_scope(name or "cond") as scope:
        pred_t = ops.convert_to_tensor(pred)
        base = scope[:-1].replace("/", "_")
        then = _Traced(f"{base}_true", true_fn, [], [])
        other = _Traced(f"{base}_false", false_fn, [], [])
        then_out, else_out = then.result, other.result
        then_flat = flatten(then_out) if then_out is not None else []
        else_flat = flatten(else_out) if else_out is not None else []
        _check_same_structure(then_flat, else_flat)
        values = _unify_captures([then, other])
        then_fn = then.finish(then_flat, then_out)
        else_fn = other.finish(else_flat, else_out)
        inputs = [pred_t, *_outer_inputs(outer, values)]
        out_types = [t.dtype for t in then_fn.graph.outputs]
        out_shapes = [
            _join_shapes(a.shape, b.shape)
            for a, b in zip(then_fn.graph.outputs, else_fn.graph.outputs, strict=True)
        ]
        functions = [then_fn, else_fn]
        attrs = {
            "Tcond": g.attr_type(pred_t.dtype),
            "Tin": g.attr_types([t.dtype for t in inputs[1:]]),
            "Tout": g.attr_types(out_types),
            "then_branch": _func_attr(then_fn),
            "else_branch": _func_attr(else_fn),
            "output_shapes": _shapes_attr(out_shapes),
            "_lower_using_switch_merge": g.attr_bool(True),
            "_read_only_resource_inputs": _int_list(_read_only_resources(inputs, functions)),
        }
        op_type = "If" if _stateful(functions) else "StatelessIf"
        op = _emit(outer, op_type, inputs, attrs, out_types, out_shapes, scope, functions)
    if then_out is None:
        return op
    return pack(then_out, list(op.outputs))


def _check_same_structure(a: list[Tensor], b: list[Tensor]) -> None:
    if len(a) != len(b):
        raise InvalidInputError(
            f"true_fn and false_fn must return the same structure (got {len(a)} and {len(b)} tensors)"
        )
    for x, y in zip(a, b, strict=True):
        if x.dtype != y.dtype:
            raise InvalidInputError(
                f"true_fn and false_fn must return the same dtypes (got {x.dtype.name} and {y.dtype.name})"
            )


def case(
    pred_fn_pairs: Any,
    default: Callable[[], Any] | None = None,
    exclusive: bool = False,
    strict: bool = False,
    name: str = "case",
) -> Any:
    """`tf.case`: the function of the first true predicate, else `default` (else the last function)."""
    pairs = list(pred_fn_pairs.items() if isinstance(pred_fn_pairs, dict) else pred_fn_pairs)
    if not pairs:
        if default is None:
            raise InvalidInputError("tf.case needs at least one (predicate, function) pair or a default")
        return default()
    if default is None:
        *pairs, (_, default) = pairs
        if not pairs:
            return default()

    def chain(index: int) -> Callable[[], Any]:
        if index == len(pairs):
            return default  # type: ignore[return-value]
        pred, fn = pairs[index]
        return lambda: cond(pred, fn, chain(index + 1), name=name if index == 0 else "cond")

    return chain(0)()


# --- tf.while_loop ----------------------------------------------------------------------


def while_loop(
    cond: Callable[..., Any],
    body: Callable[..., Any],
    loop_vars: Any,
    shape_invariants: Any = None,
    parallel_iterations: int = 10,
    back_prop: bool = True,
    swap_memory: bool = False,
    maximum_iterations: Any = None,
    name: str | None = None,
) -> Any:
    """`tf.while_loop(cond, body, loop_vars)`: the loop variables' final values, same structure."""
    single = not isinstance(loop_vars, list | tuple)
    structure = [loop_vars] if single else loop_vars
    outer = _graph()
    if outer is None:
        return _eager_while(cond, body, structure, single, maximum_iterations)
    with outer.name_scope(name or "while") as scope:
        flat = [ops.convert_to_tensor(v) for v in flatten(structure)]
        invariants = flatten(shape_invariants) if shape_invariants is not None else None
        shapes = [
            g.as_shape(invariants[i]) if invariants is not None else t.shape for i, t in enumerate(flat)
        ]
        limit = ops.convert_to_tensor(
            -1 if maximum_iterations is None else maximum_iterations, dtype=_INT32, name="maximum_iterations"
        )
        counter = ops.constant(0, dtype=_INT32, name="loop_counter")
        traced = _trace_loop(scope[:-1].replace("/", "_"), cond, body, structure, single, flat, shapes, limit,
                             maximum_iterations is not None)  # fmt: skip
        if traced is None:  # the body changed a loop variable's shape: loop over the relaxed shapes
            shapes = [
                TensorShape(None) if s.dims is None else TensorShape([None] * len(s.dims)) for s in shapes
            ]
            traced = _trace_loop(scope[:-1].replace("/", "_"), cond, body, structure, single, flat, shapes,
                                 limit, maximum_iterations is not None)  # fmt: skip
            if traced is None:
                raise InvalidInputError("the loop body changes the rank of a loop variable")
        cond_fn, body_fn, values = traced
        inputs = [counter, limit, *flat, *_outer_inputs(outer, values)]
        types = [t.dtype for t in inputs]
        out_shapes = [TensorShape([]), TensorShape([]), *shapes, *(t.shape for t in inputs[2 + len(flat) :])]
        functions = [cond_fn, body_fn]
        attrs = {
            "T": g.attr_types(types),
            "cond": _func_attr(cond_fn),
            "body": _func_attr(body_fn),
            "output_shapes": _shapes_attr(out_shapes),
            "parallel_iterations": attr_value_pb2.AttrValue(i=parallel_iterations),
            "_num_original_outputs": attr_value_pb2.AttrValue(i=len(inputs)),
            "_lower_using_switch_merge": g.attr_bool(True),
            "_read_only_resource_inputs": _int_list(_read_only_resources(inputs, functions)),
        }
        op_type = "While" if _stateful(functions) else "StatelessWhile"
        op = _emit(outer, op_type, inputs, attrs, types, out_shapes, scope, functions)
    results = pack(structure, list(op.outputs[2 : 2 + len(flat)]))
    return results[0] if single else results


def _eager_while(
    cond: Callable[..., Any], body: Callable[..., Any], structure: list | tuple, single: bool, maximum: Any
) -> Any:
    values = pack(structure, [ops.convert_to_tensor(v) for v in flatten(structure)])
    limit = None if maximum is None else int(np.asarray(getattr(maximum, "_value", maximum)))
    iterations = 0
    while (limit is None or iterations < limit) and _truthy(cond(*values)):
        result = body(*values)
        result = [result] if single or not isinstance(result, list | tuple) else result
        values = pack(structure, [ops.convert_to_tensor(v) for v in flatten(result)])
        iterations += 1
    return values[0] if single else values


def _trace_loop(
    base: str,
    cond: Callable[..., Any],
    body: Callable[..., Any],
    structure: list | tuple,
    single: bool,
    flat: list[Tensor],
    shapes: list[TensorShape],
    limit: Tensor,
    bounded: bool,
) -> tuple[ConcreteFunction, ConcreteFunction, list[Any]] | None:
    """The loop's cond and body functions and the outer values they capture; None when the body
    returns a loop variable of another shape than `shapes` allow."""
    specs = [TensorSpec([], _INT32), TensorSpec([], _INT32)] + [
        TensorSpec(s, t.dtype) for s, t in zip(shapes, flat, strict=True)
    ]
    names = ["loop_counter", "maximum_iterations"] + ["placeholder"] * len(flat)

    def user_args(args: Sequence[Tensor]) -> list[Any]:
        return pack(structure, list(args[2:]))

    def cond_graph(*args: Tensor) -> Any:
        keep_going = ops.convert_to_tensor(cond(*user_args(args)))
        if not bounded:
            return keep_going
        below = ops.less(args[0], args[1])
        return ops.apply("LogicalAnd", [below, keep_going], {}, [as_dtype("bool")], [[]], "LogicalAnd")[0]

    def body_graph(*args: Tensor) -> Any:
        result = body(*user_args(args))
        result = [result] if single or not isinstance(result, list | tuple) else result
        new = [ops.convert_to_tensor(v) for v in flatten(_output_tensors(result))]
        one = ops.constant(1, dtype=_INT32, name="add/y")
        step = ops.apply("AddV2", [args[0], one], {"T": g.attr_type(_INT32)}, [_INT32], [[]], "add")[0]
        return [step, args[1], *new]

    cond_traced = _Traced(f"{base}_cond", cond_graph, specs, names)
    body_traced = _Traced(f"{base}_body", body_graph, specs, names)
    new_flat = body_traced.result
    if len(new_flat) != len(specs):
        raise InvalidInputError(
            f"the loop body returned {len(new_flat) - 2} values for {len(flat)} loop variables"
        )
    for spec, value in zip(specs[2:], new_flat[2:], strict=True):
        if value.dtype != spec.dtype:
            raise InvalidInputError(
                f"the loop body changes a loop variable's dtype from {spec.dtype.name} to {value.dtype.name}"
            )
        if not TensorSpec(spec.shape, spec.dtype).is_compatible_with(value):
            return None
    values = _unify_captures([cond_traced, body_traced])
    passthrough = body_traced.graph.inputs[len(specs) :]
    cond_fn = cond_traced.finish([cond_traced.result])
    body_fn = body_traced.finish([*new_flat, *passthrough])
    return cond_fn, body_fn, values


# --- tf.map_fn --------------------------------------------------------------------------


def map_fn(
    fn: Callable[[Any], Any],
    elems: Any,
    dtype: Any = None,
    parallel_iterations: int | None = None,
    back_prop: bool = True,
    swap_memory: bool = False,
    infer_shape: bool = True,
    name: str | None = None,
    fn_output_signature: Any = None,
) -> Any:
    """`tf.map_fn(fn, elems)` over the first axis of one tensor, `fn` returning one tensor."""
    if isinstance(elems, list | tuple | dict):
        raise InvalidInputError("savedmodel's tf.map_fn maps over one tensor (not a structure of tensors)")
    out_spec = fn_output_signature if fn_output_signature is not None else dtype
    outer = _graph()
    elems_t = ops.convert_to_tensor(elems)
    out_dtype = as_dtype(getattr(out_spec, "dtype", out_spec)) if out_spec is not None else elems_t.dtype
    if outer is None:
        results = [ops.convert_to_tensor(fn(EagerTensor(row, elems_t.dtype))) for row in elems_t._value]
        if not results:
            return EagerTensor(np.zeros((0,), dtype=np.dtype(out_dtype.as_numpy_dtype)), out_dtype)
        return EagerTensor(np.stack([np.asarray(r._value) for r in results]), out_dtype)
    with outer.name_scope(name or "map"):
        item_shape = TensorShape(None if elems_t.shape.dims is None else elems_t.shape.dims[1:])
        source = tensor_list_op(
            "TensorListFromTensor",
            [elems_t, element_shape_tensor(item_shape)],
            elems_t.dtype,
            "TensorArrayUnstack/TensorListFromTensor",
        )
        count = ops.apply("TensorListLength", [source], {}, [_INT32], [[]], "TensorListLength")[0]
        any_shape = element_shape_tensor(TensorShape(None))
        results = tensor_list_op("TensorListReserve", [any_shape, count], out_dtype, "TensorArrayV2_1")
        out_shape: list[TensorShape] = []

        def step(i: Tensor, acc: Tensor) -> Any:
            item = ops.apply(
                "TensorListGetItem",
                [ops.convert_to_tensor(source), i, element_shape_tensor(item_shape)],
                {"element_dtype": g.attr_type(elems_t.dtype)},
                [elems_t.dtype],
                [item_shape],
                "TensorArrayV2Read/TensorListGetItem",
            )[0]
            value = ops.convert_to_tensor(fn(item), dtype=out_dtype)
            out_shape.append(value.shape)
            acc = ops.apply(
                "TensorListSetItem",
                [acc, i, value],
                {"element_dtype": g.attr_type(out_dtype)},
                [as_dtype("variant")],
                [[]],
                "TensorArrayV2Write/TensorListSetItem",
            )[0]
            one = ops.constant(1, dtype=_INT32, name="add/y")
            return [ops.apply("AddV2", [i, one], {"T": g.attr_type(_INT32)}, [_INT32], [[]], "add")[0], acc]

        zero = ops.constant(0, dtype=_INT32, name="Const")
        _, final = while_loop(
            lambda i, acc: ops.less(i, count),
            step,
            [zero, results],
            maximum_iterations=count,
        )
        element = out_shape[-1] if out_shape else TensorShape(None)
        stacked_shape = TensorShape(None if element.dims is None else [elems_t.shape.dims[0], *element.dims])
        return ops.apply(
            "TensorListStack",
            [final, element_shape_tensor(element)],
            {"element_dtype": g.attr_type(out_dtype), "num_elements": attr_value_pb2.AttrValue(i=-1)},
            [out_dtype],
            [stacked_shape],
            "TensorArrayV2Stack/TensorListStack",
        )[0]


def element_shape_tensor(shape: TensorShape) -> Tensor:
    """TensorList element shapes as TF encodes them: -1 for an unknown rank, -1 for unknown dims."""
    if shape.dims is None:
        return ops.constant(-1, dtype=_INT32, name="element_shape")
    dims = np.array([-1 if d is None else d for d in shape.dims], dtype=np.int32)
    return ops.constant(dims, dtype=_INT32, name="element_shape")


def tensor_list_op(op_type: str, inputs: list[Tensor], element_dtype: DType, name: str) -> Tensor:
    attrs = {"element_dtype": g.attr_type(element_dtype), "shape_type": g.attr_type(_INT32)}
    return ops.apply(op_type, inputs, attrs, [as_dtype("variant")], [[]], name)[0]
