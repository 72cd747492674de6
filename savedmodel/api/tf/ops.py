"""Op wrappers (`tf.constant`, `tf.add`, `tf.matmul`...): build a node in graph mode,
run a kernel on NumPy in eager mode. Node names and attrs follow TensorFlow's."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from savedmodel.api.tf import graph as g
from savedmodel.api.tf.dtypes import DType, as_dtype, infer_dtype
from savedmodel.api.tf.eager import EagerTensor, run_op
from savedmodel.api.tf.graph import Tensor, TensorShape, as_shape
from savedmodel.errors import InvalidInputError
from savedmodel.proto import attr_value_pb2

AnyTensor = Tensor | EagerTensor


# --- scopes ----------------------------------------------------------------------


@contextlib.contextmanager
def name_scope(name: str | None, default_name: str | None = None) -> Iterator[str]:
    """Graph mode: enter a unique scope; eager mode: a no-op yielding ''."""
    graph = g.get_default_graph()
    if graph is None:
        yield ""
        return
    with graph.name_scope(name if name is not None else default_name) as scope:
        yield scope


class NameScope:
    """`tf.name_scope(name)`: a context manager yielding the scope string."""

    def __init__(self, name: str, default_name: str | None = None, values: Any = None) -> None:
        self._name = name
        self._default = default_name
        self._cm: Any = None

    def __enter__(self) -> str:
        self._cm = name_scope(self._name, self._default)
        return self._cm.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._cm.__exit__(*exc)


# --- conversion ------------------------------------------------------------------


def is_tensor(value: Any) -> bool:
    return isinstance(value, Tensor | EagerTensor)


def _numpy_value(value: Any, dtype: DType) -> np.ndarray:
    np_dtype = np.dtype(dtype.as_numpy_dtype)
    if np_dtype.kind == "O":
        return EagerTensor(value, dtype)._value
    arr = np.asarray(value)
    if arr.dtype.kind == "f" and np_dtype.kind in "iu" and not np.all(np.mod(arr, 1) == 0):
        raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype {dtype.name}")
    return arr.astype(np_dtype)


def constant(value: Any, dtype: Any = None, shape: Any = None, name: str = "Const") -> AnyTensor:
    """`tf.constant`: an EagerTensor, or a Const node in graph mode."""
    if isinstance(value, EagerTensor):
        value = value._value if dtype is None else value._value
        dtype = dtype or None
    dtype = as_dtype(dtype) if dtype is not None else infer_dtype(value)
    arr = _numpy_value(value, dtype)
    if shape is not None:
        target = [int(d) for d in shape]
        if arr.size == 1:
            arr = np.broadcast_to(arr.reshape(()), target)
        elif int(np.prod(target)) == arr.size:
            arr = arr.reshape(target)
        else:
            raise TypeError(f"Expected Tensor's shape: {tuple(target)}, but got {arr.shape}.")
    graph = g.get_default_graph()
    if graph is None:
        return EagerTensor(np.array(arr), dtype)
    broadcast_shape = list(arr.shape) if shape is not None and np.all(arr == arr.reshape(-1)[0]) else None
    stored = arr.reshape(-1)[:1].reshape(()) if broadcast_shape is not None and arr.size > 1 else arr
    attrs = {
        "value": g.attr_tensor(
            stored, dtype, broadcast_shape if broadcast_shape is not None and arr.size > 1 else None
        ),
        "dtype": g.attr_type(dtype),
    }
    op = graph.create_op("Const", [], attrs, [dtype], [arr.shape], name=name, fill_defaults=False)
    return op.outputs[0]


def convert_to_tensor(
    value: Any, dtype: Any = None, name: str | None = None, dtype_hint: Any = None
) -> AnyTensor:
    """A Tensor of the current graph (or an EagerTensor) for `value`."""
    from savedmodel.api.tf import variables

    if isinstance(value, variables.BaseVariable):
        return value._dense_read(None)
    graph = g.get_default_graph()
    if isinstance(value, Tensor):
        if graph is not None and value.graph is not graph:
            outer = _captures(graph, value)
            if outer is not None:
                return outer
            raise ValueError(f"Tensor {value.name} must be from the same graph as the op being created.")
        _check_dtype(value, dtype)
        return value
    if isinstance(value, EagerTensor):
        if graph is None:
            _check_dtype(value, dtype)
            return value
        capture = _captures(graph, value)
        if capture is not None:
            return capture
        return constant(value._value, dtype=value.dtype, name=name or "Const")
    if hasattr(value, "_as_tensor"):
        return value._as_tensor()
    if dtype is None and dtype_hint is not None:
        try:
            hinted = as_dtype(dtype_hint)
            _numpy_value(value, hinted)
            dtype = hinted
        except (TypeError, ValueError):
            dtype = None
    return constant(value, dtype=dtype, name=name or "Const")


def _captures(graph: g.Graph, value: Any) -> Tensor | None:
    capture = getattr(graph, "capture", None)
    return capture(value) if capture is not None else None


def _check_dtype(value: AnyTensor, dtype: Any) -> None:
    if dtype is not None and as_dtype(dtype) != value.dtype:
        raise ValueError(
            f"Tensor conversion requested dtype {as_dtype(dtype).name} for Tensor with dtype "
            f"{value.dtype.name}: {value}"
        )


# --- applying an op --------------------------------------------------------------


def apply(
    op_type: str,
    inputs: Sequence[AnyTensor],
    attrs: dict[str, attr_value_pb2.AttrValue],
    output_types: Sequence[DType],
    output_shapes: Sequence[Any] | None,
    name: str,
) -> list[AnyTensor]:
    """Create the node (graph mode) or run the kernel (eager mode); its outputs."""
    graph = g.get_default_graph()
    if graph is None:
        values = [np.asarray(t._value) for t in inputs]  # type: ignore[union-attr]
        result = run_op(op_type, attrs, values, name)
        outs = list(result) if isinstance(result, list | tuple) else [result]
        return [EagerTensor(v, dt) for v, dt in zip(outs, output_types, strict=False)]
    op = graph.create_op(op_type, list(inputs), attrs, output_types, output_shapes, name=name)  # type: ignore[arg-type]
    return list(op.outputs)


def _broadcast(a: TensorShape, b: TensorShape) -> TensorShape:
    """Static broadcast of two shapes (None where unknown)."""
    if a.dims is None or b.dims is None:
        return TensorShape(None)
    rank = max(len(a.dims), len(b.dims))
    xs = (1,) * (rank - len(a.dims)) + a.dims
    ys = (1,) * (rank - len(b.dims)) + b.dims
    out: list[int | None] = []
    for x, y in zip(xs, ys, strict=True):
        if x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        elif x is None:
            out.append(y)
        else:
            out.append(x)
    return TensorShape(out)


def binary(
    op_type: str, x: Any, y: Any, name: str | None, default_name: str, out_dtype: DType | None = None
) -> AnyTensor:
    """An elementwise op `op_type(x, y)` with attr T, named like TensorFlow's wrappers."""
    with name_scope(name, default_name) as scope:
        if not is_tensor(x) and is_tensor(y):
            x = convert_to_tensor(x, name="x", dtype_hint=_dtype_of(y))
        else:
            x = convert_to_tensor(x, name="x")
        y = convert_to_tensor(y, name="y", dtype_hint=x.dtype)
        if x.dtype != y.dtype:
            raise InvalidInputError(
                f"cannot compute {op_type} as input #1(zero-based) was expected to be a "
                f"{x.dtype.name} tensor "
                f"but is a {y.dtype.name} tensor"
            )
        shape = _broadcast(x.shape, y.shape)
        return apply(
            op_type,
            [x, y],
            {"T": g.attr_type(x.dtype)},
            [out_dtype or x.dtype],
            [shape],
            scope or default_name,
        )[0]


def _dtype_of(value: Any) -> DType:
    from savedmodel.api.tf import variables

    if isinstance(value, variables.BaseVariable):
        return value.dtype
    return value.dtype


def unary(op_type: str, x: Any, name: str | None, default_name: str | None = None) -> AnyTensor:
    with name_scope(name, default_name or op_type) as scope:
        x = convert_to_tensor(x, name="x")
        return apply(op_type, [x], {"T": g.attr_type(x.dtype)}, [x.dtype], [x.shape], scope or op_type)[0]


# --- public wrappers -------------------------------------------------------------


def add(x: Any, y: Any, name: str | None = None) -> AnyTensor:
    if _dtype_is_string(x) or _dtype_is_string(y):
        return binary("Add", x, y, name, "Add")
    return binary("AddV2", x, y, name, "Add")


def _dtype_is_string(value: Any) -> bool:
    return is_tensor(value) and value.dtype.name == "string"


def subtract(x: Any, y: Any, name: str | None = None) -> AnyTensor:
    return binary("Sub", x, y, name, "Sub")


def multiply(x: Any, y: Any, name: str | None = None) -> AnyTensor:
    return binary("Mul", x, y, name, "Mul")


def divide(x: Any, y: Any, name: str | None = None) -> AnyTensor:
    return _truediv(x, y, name, "truediv")


def _truediv(x: Any, y: Any, name: str | None, default: str) -> AnyTensor:
    with name_scope(name, default) as scope:
        x = convert_to_tensor(x, name="x", dtype_hint=_dtype_of(y) if is_tensor(y) else None)
        y = convert_to_tensor(y, name="y", dtype_hint=x.dtype)
        if x.dtype.is_integer:
            x = cast(x, "float64")
            y = cast(y, "float64")
        return apply(
            "RealDiv",
            [x, y],
            {"T": g.attr_type(x.dtype)},
            [x.dtype],
            [_broadcast(x.shape, y.shape)],
            scope or default,
        )[0]


def maximum(x: Any, y: Any, name: str | None = None) -> AnyTensor:
    return binary("Maximum", x, y, name, "Maximum")


def minimum(x: Any, y: Any, name: str | None = None) -> AnyTensor:
    return binary("Minimum", x, y, name, "Minimum")


def pow_(x: Any, y: Any, name: str | None = None) -> AnyTensor:
    return binary("Pow", x, y, name, "Pow")


def _compare(op_type: str, default: str) -> Any:
    from savedmodel.api.tf.dtypes import bool_

    def run(x: Any, y: Any, name: str | None = None) -> AnyTensor:
        return binary(op_type, x, y, name, default, out_dtype=bool_)

    return run


equal = _compare("Equal", "Equal")
not_equal = _compare("NotEqual", "NotEqual")
less = _compare("Less", "Less")
less_equal = _compare("LessEqual", "LessEqual")
greater = _compare("Greater", "Greater")
greater_equal = _compare("GreaterEqual", "GreaterEqual")


def negative(x: Any, name: str | None = None) -> AnyTensor:
    return unary("Neg", x, name)


def abs_(x: Any, name: str | None = None) -> AnyTensor:
    return unary("Abs", x, name)


def square(x: Any, name: str | None = None) -> AnyTensor:
    return unary("Square", x, name)


def sqrt(x: Any, name: str | None = None) -> AnyTensor:
    return unary("Sqrt", x, name)


def exp(x: Any, name: str | None = None) -> AnyTensor:
    return unary("Exp", x, name)


def log(x: Any, name: str | None = None) -> AnyTensor:
    return unary("Log", x, name)


def relu(x: Any, name: str | None = None) -> AnyTensor:
    return unary("Relu", x, name)


def sigmoid(x: Any, name: str | None = None) -> AnyTensor:
    return unary("Sigmoid", x, name)


def tanh(x: Any, name: str | None = None) -> AnyTensor:
    return unary("Tanh", x, name)


def softmax(logits: Any, axis: int | None = None, name: str | None = None) -> AnyTensor:
    if axis not in (None, -1):
        rank = convert_to_tensor(logits).shape.rank if not isinstance(logits, list | tuple) else None
        if rank is None or axis != rank - 1:
            raise InvalidInputError("tf.nn.softmax supports only the last axis")
    return unary("Softmax", logits, name)


def identity(x: Any, name: str | None = None) -> AnyTensor:
    with name_scope(name, "Identity") as scope:
        x = convert_to_tensor(x)
        return apply("Identity", [x], {"T": g.attr_type(x.dtype)}, [x.dtype], [x.shape], scope or "Identity")[
            0
        ]


def cast(x: Any, dtype: Any, name: str | None = None) -> AnyTensor:
    dst = as_dtype(dtype)
    with name_scope(name, "Cast") as scope:
        x = convert_to_tensor(x, name="x")
        if x.dtype == dst:
            return x
        attrs = {"SrcT": g.attr_type(x.dtype), "DstT": g.attr_type(dst), "Truncate": g.attr_bool(False)}
        return apply("Cast", [x], attrs, [dst], [x.shape], scope or "Cast")[0]


def matmul(
    a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False, name: str | None = None
) -> AnyTensor:
    with name_scope(name, "MatMul") as scope:
        a = convert_to_tensor(a, name="a")
        b = convert_to_tensor(b, name="b", dtype_hint=a.dtype)
        rows = a.shape.dims[1 if transpose_a else 0] if a.shape.rank == 2 else None
        cols = b.shape.dims[0 if transpose_b else 1] if b.shape.rank == 2 else None
        attrs = {
            "T": g.attr_type(a.dtype),
            "transpose_a": g.attr_bool(transpose_a),
            "transpose_b": g.attr_bool(transpose_b),
        }
        return apply("MatMul", [a, b], attrs, [a.dtype], [[rows, cols]], scope or "MatMul")[0]


def _int_const(values: Any, name: str, dtype: str = "int32") -> AnyTensor:
    if is_tensor(values):
        return values
    return constant(np.asarray(values, dtype=dtype), name=name)


def reshape(tensor: Any, shape: Any, name: str | None = None) -> AnyTensor:
    with name_scope(name, "Reshape") as scope:
        tensor = convert_to_tensor(tensor, name="tensor")
        shape_t = _int_const(shape, "shape")
        out_shape = TensorShape(None)
        if not isinstance(shape, Tensor):
            dims = [int(d) for d in np.ravel(np.asarray(shape))]
            if -1 in dims and tensor.shape.is_fully_defined():
                known = int(np.prod([d for d in dims if d != -1]))
                total = int(np.prod(tensor.shape.dims))
                dims = [total // known if d == -1 and known else d for d in dims]
            out_shape = TensorShape([None if d == -1 else d for d in dims])
        attrs = {"T": g.attr_type(tensor.dtype), "Tshape": g.attr_type(shape_t.dtype)}
        return apply("Reshape", [tensor, shape_t], attrs, [tensor.dtype], [out_shape], scope or "Reshape")[0]


def concat(values: Sequence[Any], axis: int, name: str = "concat") -> AnyTensor:
    with name_scope(name, "concat") as scope:
        tensors = [convert_to_tensor(v) for v in values]
        if len(tensors) == 1:
            return identity(tensors[0], name=scope)
        axis_t = _int_const(axis, "concat/axis" if False else "axis")
        shapes = [t.shape for t in tensors]
        out_shape = TensorShape(None)
        if all(s.rank is not None for s in shapes):
            rank = shapes[0].rank or 0
            ax = int(axis) % rank if rank else 0
            dims = list(shapes[0].dims)  # type: ignore[arg-type]
            sizes = [s.dims[ax] for s in shapes]  # type: ignore[index]
            dims[ax] = None if any(d is None for d in sizes) else sum(sizes)  # type: ignore[arg-type]
            out_shape = TensorShape(dims)
        attrs = {
            "N": g.attr_int(len(tensors)),
            "T": g.attr_type(tensors[0].dtype),
            "Tidx": g.attr_type("int32"),
        }
        return apply(
            "ConcatV2", [*tensors, axis_t], attrs, [tensors[0].dtype], [out_shape], scope or "concat"
        )[0]


def _reduction(op_type: str, default: str) -> Any:
    def run(
        input_tensor: Any, axis: Any = None, keepdims: bool = False, name: str | None = None
    ) -> AnyTensor:
        # TF makes the all-axes Const before entering the op's scope ("Const"), an explicit
        # axis inside it ("Sum/reduction_indices").
        all_axes = None
        if axis is None:
            x0 = convert_to_tensor(input_tensor, name="input_tensor")
            if x0.shape.rank is None:
                raise InvalidInputError(f"{default}: reducing over all axes needs a known rank")
            all_axes = _int_const(list(range(x0.shape.rank)), "Const")
            input_tensor = x0
        with name_scope(name, default) as scope:
            x = convert_to_tensor(input_tensor, name="input_tensor")
            rank = x.shape.rank
            axes: Any = list(range(rank or 0)) if axis is None else axis
            axes_t = all_axes if all_axes is not None else _int_const(axes, "reduction_indices")
            out_shape = TensorShape(None)
            if rank is not None and not is_tensor(axes):
                ax = {int(a) % rank for a in np.ravel(axes)} if rank else set()
                dims = x.shape.dims or ()
                out_shape = TensorShape(
                    [1 if i in ax else d for i, d in enumerate(dims)]
                    if keepdims
                    else [d for i, d in enumerate(dims) if i not in ax]
                )
            attrs = {
                "T": g.attr_type(x.dtype),
                "Tidx": g.attr_type("int32"),
                "keep_dims": g.attr_bool(keepdims),
            }
            return apply(op_type, [x, axes_t], attrs, [x.dtype], [out_shape], scope or default)[0]

    return run


reduce_sum = _reduction("Sum", "Sum")
reduce_mean = _reduction("Mean", "Mean")
reduce_max = _reduction("Max", "Max")
reduce_min = _reduction("Min", "Min")
reduce_prod = _reduction("Prod", "Prod")


def bias_add(value: Any, bias: Any, name: str | None = None) -> AnyTensor:
    with name_scope(name, "BiasAdd") as scope:
        value = convert_to_tensor(value, name="input")
        bias = convert_to_tensor(bias, name="bias", dtype_hint=value.dtype)
        attrs = {"T": g.attr_type(value.dtype), "data_format": g.attr_str("NHWC")}
        return apply("BiasAdd", [value, bias], attrs, [value.dtype], [value.shape], scope or "BiasAdd")[0]


def placeholder(dtype: Any, shape: Any = None, name: str | None = None) -> Tensor:
    """`tf1.placeholder`: only inside a graph."""
    graph = g.require_graph("tf.compat.v1.placeholder")
    dtype = as_dtype(dtype)
    shape_ = as_shape(shape)
    attrs = {"dtype": g.attr_type(dtype), "shape": g.attr_shape(shape_)}
    with graph.name_scope(name or "Placeholder") as scope:
        return graph.create_op("Placeholder", [], attrs, [dtype], [shape_], name=scope).outputs[0]


def placeholder_with_default(input: Any, shape: Any, name: str | None = None) -> Tensor:  # noqa: A002
    graph = g.require_graph("tf.compat.v1.placeholder_with_default")
    with graph.name_scope(name or "PlaceholderWithDefault") as scope:
        value = convert_to_tensor(input, name="input")
        attrs = {"dtype": g.attr_type(value.dtype), "shape": g.attr_shape(shape)}
        return graph.create_op(
            "PlaceholderWithDefault", [value], attrs, [value.dtype], [as_shape(shape)], name=scope
        ).outputs[0]


def no_op(name: str | None = None) -> Any:
    graph = g.get_default_graph()
    if graph is None:
        return None
    with graph.name_scope(name or "NoOp") as scope:
        return graph.create_op("NoOp", [], {}, [], [], name=scope)


def group(*inputs: Any, name: str | None = None) -> Any:
    graph = g.require_graph("tf.group")
    with graph.name_scope(name or "group_deps") as scope:
        ops = [i.op if isinstance(i, Tensor) else i for i in inputs if i is not None]
        ops = sorted(ops, key=lambda o: o.name)
        return graph.create_op("NoOp", [], {}, [], [], name=scope, control_inputs=ops)


def stack(values: Sequence[Any], axis: int = 0, name: str = "stack") -> AnyTensor:
    with name_scope(name, "stack") as scope:
        tensors = [convert_to_tensor(v) for v in values]
        base = tensors[0].shape
        out_shape = (
            TensorShape(None)
            if base.dims is None
            else TensorShape(list(base.dims[:axis]) + [len(tensors)] + list(base.dims[axis:]))
        )
        attrs = {"N": g.attr_int(len(tensors)), "T": g.attr_type(tensors[0].dtype), "axis": g.attr_int(axis)}
        return apply("Pack", tensors, attrs, [tensors[0].dtype], [out_shape], scope or "stack")[0]


# --- operators -------------------------------------------------------------------


def _reverse(fn: Any) -> Any:
    return lambda self, other: fn(other, self)


def _scoped_binary(op_type: str, default: str) -> Any:
    return lambda x, y: binary(op_type, x, y, None, default)


_OPERATORS = {
    "__add__": _scoped_binary("AddV2", "add"),
    "__sub__": _scoped_binary("Sub", "sub"),
    "__mul__": _scoped_binary("Mul", "mul"),
    "__truediv__": lambda x, y: _truediv(x, y, None, "truediv"),
    "__floordiv__": _scoped_binary("FloorDiv", "floordiv"),
    "__mod__": _scoped_binary("FloorMod", "mod"),
    "__pow__": _scoped_binary("Pow", "pow"),
    "__matmul__": lambda x, y: matmul(x, y),
    "__lt__": lambda x, y: less(x, y),
    "__le__": lambda x, y: less_equal(x, y),
    "__gt__": lambda x, y: greater(x, y),
    "__ge__": lambda x, y: greater_equal(x, y),
}


def install_operators(cls: type) -> None:
    for dunder, fn in _OPERATORS.items():
        setattr(cls, dunder, lambda self, other, fn=fn: fn(self, other))
        if dunder in (
            "__add__",
            "__sub__",
            "__mul__",
            "__truediv__",
            "__floordiv__",
            "__mod__",
            "__pow__",
            "__matmul__",
        ):
            setattr(cls, dunder.replace("__", "__r", 1), lambda self, other, fn=fn: fn(other, self))
    cls.__neg__ = lambda self: negative(self)  # type: ignore[attr-defined]
    cls.__abs__ = lambda self: abs_(self)  # type: ignore[attr-defined]


install_operators(Tensor)
install_operators(EagerTensor)


# --- more array ops (names as TensorFlow gives them) ------------------------------------------


def _filled(value: float, shape: Any, dtype: Any, name: str) -> AnyTensor:
    dims = [int(d) for d in (shape if isinstance(shape, list | tuple) else [shape])]
    dtype = as_dtype(dtype)
    return constant(np.full(dims, value, dtype=dtype.as_numpy_dtype), dtype=dtype, name=name)


def zeros(shape: Any, dtype: Any = "float32", name: str | None = None) -> AnyTensor:
    return _filled(0, shape, dtype, name or "zeros")


def ones(shape: Any, dtype: Any = "float32", name: str | None = None) -> AnyTensor:
    return _filled(1, shape, dtype, name or "ones")


def expand_dims(input: Any, axis: int, name: str | None = None) -> AnyTensor:  # noqa: A002
    with name_scope(name, "ExpandDims") as scope:
        x = convert_to_tensor(input, name="input")
        dim = _int_const(axis, "dim")
        dims = x.shape.dims
        out = TensorShape(None)
        if dims is not None:
            pos = axis if axis >= 0 else len(dims) + 1 + axis
            out = TensorShape([*dims[:pos], 1, *dims[pos:]])
        attrs = {"T": g.attr_type(x.dtype), "Tdim": g.attr_type("int32")}
        return apply("ExpandDims", [x, dim], attrs, [x.dtype], [out], scope or "ExpandDims")[0]


def transpose(a: Any, perm: Any = None, name: str = "transpose") -> AnyTensor:
    with name_scope(name, "transpose") as scope:
        x = convert_to_tensor(a, name="a")
        rank = x.shape.rank
        if perm is None:
            if rank is None:
                raise InvalidInputError("transpose without perm needs a known rank")
            perm = list(range(rank))[::-1]
        perm_t = _int_const(perm, "perm")
        out = TensorShape(None) if x.shape.dims is None else TensorShape([x.shape.dims[int(p)] for p in perm])
        attrs = {"T": g.attr_type(x.dtype), "Tperm": g.attr_type("int32")}
        return apply("Transpose", [x, perm_t], attrs, [x.dtype], [out], scope or "transpose")[0]


def squeeze(input: Any, axis: Any = None, name: str | None = None) -> AnyTensor:  # noqa: A002
    with name_scope(name, "Squeeze") as scope:
        x = convert_to_tensor(input, name="input")
        axes = [] if axis is None else ([axis] if isinstance(axis, int) else list(axis))
        dims = x.shape.dims
        out = TensorShape(None)
        if dims is not None:
            drop = {a % len(dims) for a in axes} if axes else {i for i, d in enumerate(dims) if d == 1}
            out = TensorShape([d for i, d in enumerate(dims) if i not in drop])
        from savedmodel.proto import attr_value_pb2 as _av

        squeeze_dims = _av.AttrValue()
        squeeze_dims.list.i.extend(axes)
        squeeze_dims.list.SetInParent()
        attrs = {"T": g.attr_type(x.dtype), "squeeze_dims": squeeze_dims}
        return apply("Squeeze", [x], attrs, [x.dtype], [out], scope or "Squeeze")[0]


def shape(input: Any, out_type: Any = "int32", name: str | None = None) -> AnyTensor:  # noqa: A002
    with name_scope(name, "Shape") as scope:
        x = convert_to_tensor(input, name="input")
        out_dtype = as_dtype(out_type)
        rank = x.shape.rank
        attrs = {"T": g.attr_type(x.dtype), "out_type": g.attr_type(out_dtype)}
        return apply("Shape", [x], attrs, [out_dtype], [[rank]], scope or "Shape")[0]


def argmax(
    input: Any, axis: int | None = None, output_type: Any = "int64", name: str | None = None
) -> AnyTensor:  # noqa: A002
    with name_scope(name, "ArgMax") as scope:
        x = convert_to_tensor(input, name="input")
        dim = _int_const(0 if axis is None else axis, "dimension")
        dims = x.shape.dims
        ax = 0 if axis is None else axis
        out = (
            TensorShape(None)
            if dims is None
            else TensorShape([d for i, d in enumerate(dims) if i != ax % len(dims)])
        )
        out_dtype = as_dtype(output_type)
        attrs = {
            "T": g.attr_type(x.dtype),
            "Tidx": g.attr_type("int32"),
            "output_type": g.attr_type(out_dtype),
        }
        return apply("ArgMax", [x, dim], attrs, [out_dtype], [out], scope or "ArgMax")[0]


def where(condition: Any, x: Any = None, y: Any = None, name: str | None = None) -> AnyTensor:
    if x is None or y is None:
        raise InvalidInputError("tf.where(condition) without x and y is not supported")
    with name_scope(name, "SelectV2") as scope:
        cond = convert_to_tensor(condition, name="condition")
        x = convert_to_tensor(x, name="x")
        y = convert_to_tensor(y, name="y", dtype_hint=x.dtype)
        out = _broadcast(_broadcast(cond.shape, x.shape), y.shape)
        return apply(
            "SelectV2", [cond, x, y], {"T": g.attr_type(x.dtype)}, [x.dtype], [out], scope or "SelectV2"
        )[0]
