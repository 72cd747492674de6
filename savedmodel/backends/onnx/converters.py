"""TensorFlow op -> ONNX (opset 17) converters, registered by TensorFlow op name.

A converter takes the region builder and the node and returns the ONNX names of the node's
outputs in order (None for an output it does not produce: such a node exports only when nothing
reads that output). It raises NotExportable for attrs or operands it cannot express; the node then
runs on its NumPy kernel. Image ops in NHWC layout are wrapped in Transposes to ONNX's NCHW;
onnxruntime's layout optimizer removes the pairs between consecutive ops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from savedmodel.backends.onnx.builder import (
    NotExportable,
    RegionBuilder,
    onnx_type,
    scalar_attr_tensor,
)
from savedmodel.graph.model import Node
from savedmodel.ops.registry import Attrs

Converter = Callable[[RegionBuilder, Node], list[Any]]
CONVERTERS: dict[str, Converter] = {}
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min
FLOATS = frozenset(np.dtype(t) for t in ("float16", "float32", "float64"))


def converter(*ops: str) -> Callable[[Converter], Converter]:
    def register(fn: Converter) -> Converter:
        for op in ops:
            CONVERTERS[op] = fn
        return fn

    return register


def attrs(node: Node) -> Attrs:
    return Attrs(node.attr, node.name)


def text(node: Node, name: str, default: str = "") -> str:
    value = attrs(node).get(name)
    if value is None:
        return default
    return value.decode() if isinstance(value, bytes) else str(value)


def inputs(b: RegionBuilder, node: Node) -> list[str]:
    return [b.value(ref) for ref in node.inputs]


def require_float(b: RegionBuilder, node: Node) -> None:
    if b.dtype(node.inputs[0]) not in FLOATS:
        raise NotExportable(f"{b.dtype(node.inputs[0])} operands (ONNX takes floats)")


def axis_list(b: RegionBuilder, ref: tuple[str, int], what: str = "axis") -> list[int]:
    return [int(a) for a in np.asarray(b.const_value(ref, what)).reshape(-1)]


def to_int64(b: RegionBuilder, ref: tuple[str, int]) -> str:
    name = b.value(ref)
    if b.dtype(ref) == np.int64:
        return name
    return b.op1("Cast", [name], to=onnx_type(np.int64))


def cast_index(b: RegionBuilder, name: str, dtype: np.dtype) -> str:
    """An int64 index tensor as the `dtype` TensorFlow gives it."""
    return name if np.dtype(dtype) == np.int64 else b.op1("Cast", [name], to=onnx_type(dtype))


# ------------------------------------------------------------------------------ element-wise


def _elementwise(onnx_op: str, floats_only: bool = False, **fixed: Any) -> Converter:
    def convert(b: RegionBuilder, node: Node) -> list[Any]:
        if floats_only:
            require_float(b, node)
        return [b.op1(onnx_op, inputs(b, node), **fixed)]

    return convert


for _tf, _onnx in {
    "Add": "Add",
    "Sub": "Sub",
    "Mul": "Mul",
    "Maximum": "Max",
    "Minimum": "Min",
    "Less": "Less",
    "LessEqual": "LessOrEqual",
    "Greater": "Greater",
    "GreaterEqual": "GreaterOrEqual",
    "Equal": "Equal",
    "LogicalAnd": "And",
    "LogicalOr": "Or",
    "LogicalNot": "Not",
    "Neg": "Neg",
    "Abs": "Abs",
    "Sign": "Sign",
    "AddN": "Sum",
    "SelectV2": "Where",
}.items():
    CONVERTERS[_tf] = _elementwise(_onnx)
for _tf, _onnx in {
    "RealDiv": "Div",
    "Relu": "Relu",
    "Elu": "Elu",
    "Selu": "Selu",
    "Sigmoid": "Sigmoid",
    "Tanh": "Tanh",
    "Exp": "Exp",
    "Log": "Log",
    "Sqrt": "Sqrt",
    "Pow": "Pow",
    "Erf": "Erf",
    "Floor": "Floor",
    "Ceil": "Ceil",
    "Round": "Round",
    "Reciprocal": "Reciprocal",
    "Inv": "Reciprocal",
    "Softplus": "Softplus",
    "Softsign": "Softsign",
    "Sin": "Sin",
    "Cos": "Cos",
    "Tan": "Tan",
    "Asin": "Asin",
    "Acos": "Acos",
    "Atan": "Atan",
    "Sinh": "Sinh",
    "Cosh": "Cosh",
    "Asinh": "Asinh",
    "Acosh": "Acosh",
    "Atanh": "Atanh",
    "IsNan": "IsNaN",
}.items():
    CONVERTERS[_tf] = _elementwise(_onnx, floats_only=True)


@converter("Identity", "StopGradient", "Snapshot", "PreventGradient", "EnsureShape")
def identity(b: RegionBuilder, node: Node) -> list[Any]:
    return [b.op1("Identity", [b.value(node.inputs[0])])]


@converter("IdentityN")
def identity_n(b: RegionBuilder, node: Node) -> list[Any]:
    return [b.op1("Identity", [name]) for name in inputs(b, node)]


@converter("NotEqual")
def not_equal(b: RegionBuilder, node: Node) -> list[Any]:
    return [b.op1("Not", [b.op1("Equal", inputs(b, node))])]


@converter("Relu6")
def relu6(b: RegionBuilder, node: Node) -> list[Any]:
    require_float(b, node)
    dtype = b.dtype(node.inputs[0])
    return [b.op1("Clip", [b.value(node.inputs[0]), b.const(0, dtype), b.const(6, dtype)])]


@converter("LeakyRelu")
def leaky_relu(b: RegionBuilder, node: Node) -> list[Any]:
    require_float(b, node)
    return [b.op1("LeakyRelu", [b.value(node.inputs[0])], alpha=float(attrs(node).get("alpha", 0.2)))]


@converter("Rsqrt")
def rsqrt(b: RegionBuilder, node: Node) -> list[Any]:
    require_float(b, node)
    return [b.op1("Reciprocal", [b.op1("Sqrt", [b.value(node.inputs[0])])])]


@converter("Square")
def square(b: RegionBuilder, node: Node) -> list[Any]:
    x = b.value(node.inputs[0])
    return [b.op1("Mul", [x, x])]


@converter("SquaredDifference")
def squared_difference(b: RegionBuilder, node: Node) -> list[Any]:
    diff = b.op1("Sub", inputs(b, node))
    return [b.op1("Mul", [diff, diff])]


@converter("Erfc")
def erfc(b: RegionBuilder, node: Node) -> list[Any]:
    require_float(b, node)
    one = b.const(1, b.dtype(node.inputs[0]))
    return [b.op1("Sub", [one, b.op1("Erf", [b.value(node.inputs[0])])])]


@converter("Select")
def select(b: RegionBuilder, node: Node) -> list[Any]:
    cond, x, y = node.inputs
    if b.rank(cond) not in (0, b.rank(x)):
        raise NotExportable("a vector condition selecting rows")
    return [b.op1("Where", inputs(b, node))]


@converter("Cast")
def cast(b: RegionBuilder, node: Node) -> list[Any]:
    dst = attrs(node).dtype("DstT")
    return [b.op1("Cast", [b.value(node.inputs[0])], to=onnx_type(dst))]


@converter("BiasAdd", "BiasAddV1")
def bias_add(b: RegionBuilder, node: Node) -> list[Any]:
    if text(node, "data_format", "NHWC") != "NCHW":
        before_reshape = _bias_before_reshape(b, node)
        if before_reshape is not None:
            return [before_reshape]
    x, bias = inputs(b, node)
    if text(node, "data_format", "NHWC") == "NCHW":
        rank = b.rank(node.inputs[0])
        bias = b.op1("Unsqueeze", [bias, b.int64s(range(1, rank - 1))]) if rank > 2 else bias
    return [b.op1("Add", [x, bias])]


def _bias_before_reshape(b: RegionBuilder, node: Node) -> str | None:
    """BiasAdd(Reshape(MatMul(a, w)), bias) (Keras Dense on a rank-3 input, through tensordot) as
    Reshape(MatMul(a, w) + bias): onnxruntime fuses a 2-D MatMul and its bias into one Gemm, which
    it cannot across the Reshape. The same: a constant bias of the MatMul's width makes BiasAdd
    itself require the Reshape to keep that width last. None where the pattern does not hold."""
    x_ref, bias_ref = node.inputs
    reshape = b.producer(x_ref, "Reshape")
    matmul = b.producer(reshape.inputs[0], "MatMul") if reshape is not None else None
    if matmul is None or not b.is_const(bias_ref):
        return None
    product, bias = b.info(reshape.inputs[0]), b.info(bias_ref)
    if product.ndim != 2 or bias.ndim != 1 or bias.shape[0] != product.shape[1] or b.rank(x_ref) < 2:
        return None
    shifted = b.op1("Add", [b.value(reshape.inputs[0]), b.value(bias_ref)])
    return b.op1("Reshape", [shifted, to_int64(b, reshape.inputs[1])], allowzero=1)


@converter("Softmax", "LogSoftmax")
def softmax(b: RegionBuilder, node: Node) -> list[Any]:
    require_float(b, node)
    return [b.op1(node.op, [b.value(node.inputs[0])], axis=-1)]


# ------------------------------------------------------------------------------ matmul


def _swap_last(b: RegionBuilder, name: str, rank: int) -> str:
    perm = list(range(rank))
    perm[-2], perm[-1] = perm[-1], perm[-2]
    return b.op1("Transpose", [name], perm=perm)


def _matmul_operand(b: RegionBuilder, ref: tuple[str, int], transpose: bool) -> str:
    if not transpose:
        return b.value(ref)
    if b.is_const(ref):
        return b.const(b.derived(("swap", ref), lambda: np.swapaxes(b.info(ref), -1, -2)))
    return _swap_last(b, b.value(ref), b.rank(ref))


@converter("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
def matmul(b: RegionBuilder, node: Node) -> list[Any]:
    a = attrs(node)
    if node.op == "MatMul":
        ta, tb = bool(a.get("transpose_a", False)), bool(a.get("transpose_b", False))
    else:
        ta, tb = bool(a.get("adj_x", False)), bool(a.get("adj_y", False))
    x, y = node.inputs
    if b.dtype(x) != b.dtype(y):
        raise NotExportable("mixed operand dtypes (BatchMatMulV3)")
    if b.dtype(x) not in FLOATS:
        raise NotExportable(f"{b.dtype(x)} operands")
    return [b.op1("MatMul", [_matmul_operand(b, x, ta), _matmul_operand(b, y, tb)])]


@converter("Einsum")
def einsum(b: RegionBuilder, node: Node) -> list[Any]:
    require_float(b, node)
    equation = text(node, "equation").replace(" ", "")
    if any(c.isupper() for c in equation):
        raise NotExportable("upper-case subscripts")
    as_matmul = _einsum_as_matmul(b, node, equation)
    if as_matmul is None:
        as_matmul = _einsum_as_batched_matmul(b, node, equation)
    if as_matmul is not None:
        return [as_matmul]
    return [b.op1("Einsum", inputs(b, node), equation=equation)]


def _einsum_as_batched_matmul(b: RegionBuilder, node: Node, equation: str) -> str | None:
    """`x,y->z` where every subscript is a batch one (in x, y and z), the one contracted (in x
    and y only) or one free subscript of x and one of y (attention's query-key and
    probabilities-value products): Transposes around one batched MatMul, which onnxruntime
    fuses with the Transposes of its last two dims; None for any other equation."""
    if len(node.inputs) != 2 or "." in equation or "->" not in equation:
        return None
    operands, out = equation.split("->")
    if operands.count(",") != 1:
        return None
    left, right = operands.split(",")
    if any(len(set(t)) != len(t) for t in (left, right, out)):
        return None
    batch = [c for c in left if c in right and c in out]
    contracted = [c for c in left if c in right and c not in out]
    free_left = [c for c in left if c not in right]
    free_right = [c for c in right if c not in left]
    if (
        len(contracted) != 1
        or len(free_left) != 1
        or len(free_right) != 1
        or sorted(out) != sorted(batch + free_left + free_right)
        or b.rank(node.inputs[0]) != len(left)
        or b.rank(node.inputs[1]) != len(right)
    ):
        return None

    def arranged(name: str, subscripts: str, order: list[str]) -> str:
        perm = [subscripts.index(c) for c in order]
        return name if perm == sorted(perm) else b.op1("Transpose", [name], perm=perm)

    x, y = inputs(b, node)
    product = b.op1(
        "MatMul",
        [
            arranged(x, left, batch + free_left + contracted),
            arranged(y, right, batch + contracted + free_right),
        ],
    )
    return arranged(product, "".join(batch + free_left + free_right), list(out))


def _einsum_as_matmul(b: RegionBuilder, node: Node, equation: str) -> str | None:
    """`x,w->y` with a constant `w` (EinsumDense): x's trailing dims contracted with w's leading
    ones, the output x's other dims then w's: one MatMul (and Reshapes), which onnxruntime
    fuses with a following bias Add; None for any other equation."""
    if len(node.inputs) != 2 or "." in equation or "->" not in equation:
        return None
    operands, out = equation.split("->")
    if operands.count(",") != 1 or not b.is_const(node.inputs[1]):
        return None
    left, right = operands.split(",")
    weights = b.info(node.inputs[1])
    contracted = [c for c in left if c in right and c not in out]
    free_left = [c for c in left if c not in contracted]
    free_right = [c for c in right if c not in contracted]
    if (
        len(set(equation) - {",", "-", ">"}) != len(free_left) + len(contracted) + len(free_right)
        or not contracted
        or left != "".join(free_left + contracted)
        or right != "".join(contracted + free_right)
        or out != "".join(free_left + free_right)
        or weights.ndim != len(right)
        or b.rank(node.inputs[0]) != len(left)
    ):
        return None
    depth = int(np.prod(weights.shape[: len(contracted)]))
    widths = list(weights.shape[len(contracted) :])
    x = b.value(node.inputs[0])
    if len(contracted) > 1:
        x = b.op1("Reshape", [x, b.int64s([0] * len(free_left) + [depth])])
    y = b.op1(
        "MatMul",
        [x, b.const(b.derived(("einsum", node.inputs[1], depth), lambda: weights.reshape(depth, -1)))],
    )
    if len(free_right) != 1:
        y = b.op1("Reshape", [y, b.int64s([0] * len(free_left) + widths)])
    return y


# ------------------------------------------------------------------------------ convolution


def _channels_first(rank: int) -> list[int]:
    return [0, rank - 1, *range(1, rank - 1)]


def _channels_last(rank: int) -> list[int]:
    return [0, *range(2, rank), 1]


def _spatial(values: list[int], nhwc: bool) -> list[int]:
    return list(values[1:-1]) if nhwc else list(values[2:])


def _padding(node: Node, rank: int, nhwc: bool) -> dict[str, Any]:
    padding = text(node, "padding")
    if padding == "SAME":
        return {"auto_pad": "SAME_UPPER"}
    if padding == "VALID":
        return {"pads": [0] * (2 * (rank - 2))}
    if padding == "EXPLICIT":
        explicit = list(attrs(node).get("explicit_paddings") or [])
        pairs = [explicit[2 * i : 2 * i + 2] for i in range(rank)]
        spatial = pairs[1:-1] if nhwc else pairs[2:]
        return {"pads": [p[0] for p in spatial] + [p[1] for p in spatial]}
    raise NotExportable(f"padding {padding!r}")


def _conv(b: RegionBuilder, node: Node, weights: np.ndarray, group: int) -> list[Any]:
    x = node.inputs[0]
    rank = b.rank(x)
    nhwc = not text(node, "data_format", "NHWC").startswith("NC")
    a = attrs(node)
    strides = _spatial(list(a.get("strides") or [1] * rank), nhwc)
    dilations = _spatial(list(a.get("dilations") or [1] * rank), nhwc)
    data = b.value(x)
    if nhwc:
        data = b.op1("Transpose", [data], perm=_channels_first(rank))
    out = b.op1(
        "Conv",
        [data, b.const(weights)],
        strides=strides,
        dilations=dilations,
        group=group,
        **_padding(node, rank, nhwc),
    )
    if nhwc:
        out = b.op1("Transpose", [out], perm=_channels_last(rank))
    return [out]


@converter("Conv2D", "Conv3D", "Conv1D")
def conv(b: RegionBuilder, node: Node) -> list[Any]:
    require_float(b, node)
    kernel = b.const_value(node.inputs[1], "filter")  # [spatial..., in / groups, out]
    rank = kernel.ndim
    order = [rank - 1, rank - 2, *range(rank - 2)]
    weights = b.derived(("conv", node.inputs[1]), lambda: np.transpose(kernel, order))
    channels = b.info(node.inputs[0]).shape[
        -1 if not text(node, "data_format", "NHWC").startswith("NC") else 1
    ]
    if channels % kernel.shape[-2]:
        raise NotExportable("input channels not a multiple of the filter's")
    return _conv(b, node, weights, channels // kernel.shape[-2])


@converter("DepthwiseConv2dNative")
def depthwise(b: RegionBuilder, node: Node) -> list[Any]:
    require_float(b, node)
    kernel = b.const_value(node.inputs[1], "filter")  # [h, w, channels, multiplier]
    h, w, channels, multiplier = kernel.shape
    weights = b.derived(
        ("depthwise", node.inputs[1]),
        lambda: np.transpose(kernel, [2, 3, 0, 1]).reshape(channels * multiplier, 1, h, w),
    )
    return _conv(b, node, weights, channels)


def _pool(b: RegionBuilder, node: Node, onnx_op: str) -> list[Any]:
    require_float(b, node)
    x = node.inputs[0]
    rank = b.rank(x)
    data_format = text(node, "data_format", "NHWC")
    nhwc = not data_format.startswith("NC")
    a = attrs(node)
    ksize = list(a.get("ksize") or [])
    strides = list(a.get("strides") or [])
    if len(ksize) != rank or len(strides) != rank:
        raise NotExportable("window sizes given as inputs")
    if (ksize[0], ksize[-1 if nhwc else 1]) != (1, 1):
        raise NotExportable("pooling over batch or channels")
    data = b.value(x)
    if nhwc:
        data = b.op1("Transpose", [data], perm=_channels_first(rank))
    extra = {"count_include_pad": 0} if onnx_op == "AveragePool" else {}
    out = b.op1(
        onnx_op,
        [data],
        kernel_shape=_spatial(ksize, nhwc),
        strides=_spatial(strides, nhwc),
        **_padding(node, rank, nhwc),
        **extra,
    )
    if nhwc:
        out = b.op1("Transpose", [out], perm=_channels_last(rank))
    return [out]


@converter("MaxPool", "MaxPool3D")
def max_pool(b: RegionBuilder, node: Node) -> list[Any]:
    return _pool(b, node, "MaxPool")


@converter("AvgPool", "AvgPool3D")
def avg_pool(b: RegionBuilder, node: Node) -> list[Any]:
    return _pool(b, node, "AveragePool")


@converter("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
def fused_batch_norm(b: RegionBuilder, node: Node) -> list[Any]:
    a = attrs(node)
    if a.get("is_training", True):
        return _batch_statistics_norm(b, node)
    x, scale, offset, mean, variance = node.inputs[:5]
    if b.dtype(x) not in FLOATS:
        raise NotExportable(f"{b.dtype(x)} input")
    epsilon = float(a.get("epsilon", 1e-4))
    params = [b.const_value(ref, "statistics") for ref in (scale, offset, mean, variance)]
    if any(p.size == 0 for p in params):
        raise NotExportable("empty statistics")
    s, o, m, v = (p.astype(np.float64) for p in params)
    multiplier = s / np.sqrt(v + epsilon)
    shift = o - m * multiplier
    rank = b.rank(x)
    nhwc = not text(node, "data_format", "NHWC").startswith("NC")
    dtype = b.dtype(x)
    if rank == 4:
        y = _batch_norm_op(b, b.value(x), multiplier.astype(dtype), shift.astype(dtype), nhwc)
    else:
        shape = [-1] if nhwc else [-1] + [1] * (rank - 2)
        y = b.op1("Mul", [b.value(x), b.const(multiplier.reshape(shape), dtype)])
        y = b.op1("Add", [y, b.const(shift.reshape(shape), dtype)])
    return [y, b.value(mean), b.value(variance), None, None, None][
        : 6 if node.op == "FusedBatchNormV3" else 5
    ]


def _batch_norm_op(b: RegionBuilder, x: str, multiplier: np.ndarray, shift: np.ndarray, nhwc: bool) -> str:
    """`x * multiplier + shift` per channel as one ONNX BatchNormalization (mean 0, variance 1,
    epsilon 0): onnxruntime folds it into a preceding Conv, and its NCHWc layout pass fuses it
    with a following Relu where a Mul and an Add would each make a pass over the tensor."""
    if nhwc:
        x = b.op1("Transpose", [x], perm=_channels_first(4))
    zeros, ones = np.zeros_like(multiplier), np.ones_like(multiplier)
    y = b.op1(
        "BatchNormalization",
        [x, b.const(multiplier), b.const(shift), b.const(zeros), b.const(ones)],
        epsilon=0.0,
    )
    return b.op1("Transpose", [y], perm=_channels_last(4)) if nhwc else y


def _batch_statistics_norm(b: RegionBuilder, node: Node) -> list[Any]:
    """Training-mode FusedBatchNorm: normalised by the batch's own mean and (biased) variance
    over every axis but the channel's (tf-keras LayerNormalization's fused path). Only `y`
    exports; the batch statistics outputs do not."""
    x, scale, offset = node.inputs[:3]
    if b.dtype(x) != np.float32 or b.dtype(scale) != np.float32:
        raise NotExportable(f"{b.dtype(x)} input")
    rank = b.rank(x)
    channel = rank - 1 if not text(node, "data_format", "NHWC").startswith("NC") else 1
    axes = [i for i in range(rank) if i != channel]
    epsilon = float(attrs(node).get("epsilon", 1e-4))
    data = b.value(x)
    mean = b.op1("ReduceMean", [data], axes=axes, keepdims=1)
    centered = b.op1("Sub", [data, mean])
    variance = b.op1("ReduceMean", [b.op1("Mul", [centered, centered])], axes=axes, keepdims=1)
    deviation = b.op1("Sqrt", [b.op1("Add", [variance, b.const(epsilon, np.float32)])])
    normalized = b.op1("Div", [centered, deviation])
    trailing = b.int64s(range(1, rank - channel)) if rank - 1 > channel else None

    def per_channel(ref: tuple[str, int]) -> str:
        name = b.value(ref)
        return b.op1("Unsqueeze", [name, trailing]) if trailing is not None else name

    y = b.op1("Add", [b.op1("Mul", [normalized, per_channel(scale)]), per_channel(offset)])
    return [y] + [None] * (5 if node.op == "FusedBatchNormV3" else 4)


# ------------------------------------------------------------------------------ reductions


def _reduce(onnx_op: str, axes_as_input: bool) -> Converter:
    def convert(b: RegionBuilder, node: Node) -> list[Any]:
        x, axes_ref = node.inputs
        axes = axis_list(b, axes_ref)
        keep = int(bool(attrs(node).get("keep_dims", False)))
        if b.dtype(x) == np.bool_:
            raise NotExportable("boolean reduction")
        if not axes:
            return [b.op1("Identity", [b.value(x)])]
        if axes_as_input:
            return [b.op1(onnx_op, [b.value(x), b.int64s(axes)], keepdims=keep)]
        return [b.op1(onnx_op, [b.value(x)], axes=axes, keepdims=keep)]

    return convert


CONVERTERS["Sum"] = _reduce("ReduceSum", True)
CONVERTERS["Mean"] = _reduce("ReduceMean", False)
CONVERTERS["Max"] = _reduce("ReduceMax", False)
CONVERTERS["Min"] = _reduce("ReduceMin", False)
CONVERTERS["Prod"] = _reduce("ReduceProd", False)


@converter("ArgMax", "ArgMin")
def arg_max(b: RegionBuilder, node: Node) -> list[Any]:
    (axis,) = axis_list(b, node.inputs[1])
    out = b.op1(node.op, [b.value(node.inputs[0])], axis=axis, keepdims=0)
    return [cast_index(b, out, attrs(node).dtype("output_type", 9))]


# ------------------------------------------------------------------------------ shapes


@converter("Shape")
def shape(b: RegionBuilder, node: Node) -> list[Any]:
    out = b.op1("Shape", [b.value(node.inputs[0])])
    return [cast_index(b, out, attrs(node).dtype("out_type", 3))]


@converter("Size")
def size(b: RegionBuilder, node: Node) -> list[Any]:
    out = b.op1("Size", [b.value(node.inputs[0])])
    return [cast_index(b, out, attrs(node).dtype("out_type", 3))]


@converter("Rank")
def rank(b: RegionBuilder, node: Node) -> list[Any]:
    return [b.const(np.int32(b.rank(node.inputs[0])))]


@converter("Reshape")
def reshape(b: RegionBuilder, node: Node) -> list[Any]:
    return [b.op1("Reshape", [b.value(node.inputs[0]), to_int64(b, node.inputs[1])], allowzero=1)]


@converter("Squeeze")
def squeeze(b: RegionBuilder, node: Node) -> list[Any]:
    axes = list(attrs(node).get("squeeze_dims") or [])
    x = b.value(node.inputs[0])
    if not axes:
        return [b.op1("Squeeze", [x])]
    return [b.op1("Squeeze", [x, b.int64s(axes)])]


@converter("ExpandDims")
def expand_dims(b: RegionBuilder, node: Node) -> list[Any]:
    axes = axis_list(b, node.inputs[1])
    return [b.op1("Unsqueeze", [b.value(node.inputs[0]), b.int64s(axes)])]


@converter("Transpose")
def transpose(b: RegionBuilder, node: Node) -> list[Any]:
    perm = axis_list(b, node.inputs[1], "permutation")
    return [b.op1("Transpose", [b.value(node.inputs[0])], perm=perm)]


@converter("ConcatV2")
def concat(b: RegionBuilder, node: Node) -> list[Any]:
    (axis,) = axis_list(b, node.inputs[-1])
    return [b.op1("Concat", [b.value(ref) for ref in node.inputs[:-1]], axis=axis)]


@converter("Pack")
def pack(b: RegionBuilder, node: Node) -> list[Any]:
    axis = int(attrs(node).get("axis", 0))
    axes = b.int64s([axis])
    parts = [b.op1("Unsqueeze", [b.value(ref), axes]) for ref in node.inputs]
    return [b.op1("Concat", parts, axis=axis)]


@converter("Unpack")
def unpack(b: RegionBuilder, node: Node) -> list[Any]:
    a = attrs(node)
    count = int(a["num"])
    axis = int(a.get("axis", 0))
    parts = (
        b.op("Split", [b.value(node.inputs[0])], count, axis=axis) if count > 1 else [b.value(node.inputs[0])]
    )
    axes = b.int64s([axis])
    return [b.op1("Squeeze", [part, axes]) for part in parts]


@converter("Split")
def split(b: RegionBuilder, node: Node) -> list[Any]:
    (axis,) = axis_list(b, node.inputs[0])
    count = int(attrs(node)["num_split"])
    return b.op("Split", [b.value(node.inputs[1])], count, axis=axis)


@converter("SplitV")
def split_v(b: RegionBuilder, node: Node) -> list[Any]:
    sizes = axis_list(b, node.inputs[1], "sizes")
    (axis,) = axis_list(b, node.inputs[2])
    if any(s < 0 for s in sizes):
        raise NotExportable("a size of -1")
    return b.op("Split", [b.value(node.inputs[0]), b.int64s(sizes)], len(sizes), axis=axis)


@converter("Slice")
def slice_(b: RegionBuilder, node: Node) -> list[Any]:
    x, begin_ref, size_ref = node.inputs
    begin = to_int64(b, begin_ref)
    sizes = to_int64(b, size_ref)
    if b.is_const(size_ref):
        size_values = axis_list(b, size_ref, "size")
        if all(s >= 0 for s in size_values):
            end = b.op1("Add", [begin, sizes])
            return [b.op1("Slice", [b.value(x), begin, end])]
    summed = b.op1("Add", [begin, sizes])
    open_end = b.op1("Less", [sizes, b.int64s([0])])
    end = b.op1("Where", [open_end, b.int64s([INT64_MAX]), summed])
    return [b.op1("Slice", [b.value(x), begin, end])]


@converter("StridedSlice")
def strided_slice(b: RegionBuilder, node: Node) -> list[Any]:
    a = attrs(node)
    begin = axis_list(b, node.inputs[1], "begin")
    end = axis_list(b, node.inputs[2], "end")
    strides = axis_list(b, node.inputs[3], "strides")
    masks = {
        k: int(a.get(k, 0))
        for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")
    }
    rank = b.rank(node.inputs[0])
    real = sum(
        1
        for i in range(len(begin))
        if not (masks["ellipsis_mask"] >> i & 1 or masks["new_axis_mask"] >> i & 1)
    )
    starts, ends, axes, steps, shrink, layout = [], [], [], [], [], []
    dim = 0
    for i in range(len(begin)):
        if masks["ellipsis_mask"] >> i & 1:
            for _ in range(rank - real):
                layout.append(dim)
                dim += 1
            continue
        if masks["new_axis_mask"] >> i & 1:
            layout.append(None)
            continue
        stride = strides[i]
        if stride == 0:
            raise NotExportable("stride 0")
        if masks["shrink_axis_mask"] >> i & 1:
            start = begin[i]
            starts.append(start)
            ends.append(INT64_MAX if start == -1 else start + 1)
            axes.append(dim)
            steps.append(1)
            shrink.append(dim)
            dim += 1
            continue
        default_start, default_end = (0, INT64_MAX) if stride > 0 else (INT64_MAX, INT64_MIN)
        start = default_start if masks["begin_mask"] >> i & 1 else begin[i]
        stop = default_end if masks["end_mask"] >> i & 1 else end[i]
        if (start, stop, stride) != (0, INT64_MAX, 1):
            starts.append(start)
            ends.append(stop)
            axes.append(dim)
            steps.append(stride)
        layout.append(dim)
        dim += 1
    if dim > rank:
        raise NotExportable("more slice entries than dimensions")
    layout.extend(range(dim, rank))
    out = b.value(node.inputs[0])
    if axes:
        out = b.op1("Slice", [out, b.int64s(starts), b.int64s(ends), b.int64s(axes), b.int64s(steps)])
    if shrink:
        out = b.op1("Squeeze", [out, b.int64s(shrink)])
    new_axes = [i for i, d in enumerate(layout) if d is None]
    if new_axes:
        out = b.op1("Unsqueeze", [out, b.int64s(new_axes)])
    if not axes and not shrink and not new_axes:
        out = b.op1("Identity", [out])
    return [out]


@converter("GatherV2")
def gather(b: RegionBuilder, node: Node) -> list[Any]:
    params, indices, axis_ref = node.inputs
    (axis,) = axis_list(b, axis_ref)
    if int(attrs(node).get("batch_dims", 0)):
        raise NotExportable("batch_dims")
    return [b.op1("Gather", [b.value(params), b.value(indices)], axis=axis)]


@converter("ResourceGather")
def resource_gather(b: RegionBuilder, node: Node) -> list[Any]:
    handle, indices = node.inputs
    if int(attrs(node).get("batch_dims", 0)):
        raise NotExportable("batch_dims")
    params = np.asarray(b.variable_value(handle))
    if params.dtype not in FLOATS and params.dtype.kind not in "iub":
        raise NotExportable(f"{params.dtype} variable")
    return [b.op1("Gather", [b.const(params), b.value(indices)], axis=0)]


@converter("GatherNd")
def gather_nd(b: RegionBuilder, node: Node) -> list[Any]:
    params, indices = node.inputs
    return [b.op1("GatherND", [b.value(params), to_int64(b, indices)])]


@converter("Pad", "PadV2", "MirrorPad")
def pad(b: RegionBuilder, node: Node) -> list[Any]:
    paddings = np.asarray(b.const_value(node.inputs[1], "paddings")).reshape(-1, 2)
    pads = b.int64s([*paddings[:, 0], *paddings[:, 1]])
    x = b.value(node.inputs[0])
    if node.op == "MirrorPad":
        if text(node, "mode") != "REFLECT":
            raise NotExportable(f"mode {text(node, 'mode')}")
        return [b.op1("Pad", [x, pads], mode="reflect")]
    args = [x, pads]
    if node.op == "PadV2":
        args.append(b.value(node.inputs[2]))
    return [b.op1("Pad", args)]


@converter("Fill")
def fill(b: RegionBuilder, node: Node) -> list[Any]:
    dims, value = node.inputs
    shape = to_int64(b, dims)
    if b.is_const(value):
        fill_value = b.info(value)
        return [
            b.op1("ConstantOfShape", [shape], value=scalar_attr_tensor(fill_value.item(), fill_value.dtype))
        ]
    return [b.op1("Expand", [b.value(value), shape])]


@converter("ZerosLike", "OnesLike")
def zeros_like(b: RegionBuilder, node: Node) -> list[Any]:
    x = node.inputs[0]
    dtype = b.dtype(x)
    fill_value = 0 if node.op == "ZerosLike" else 1
    shape = b.op1("Shape", [b.value(x)])
    return [b.op1("ConstantOfShape", [shape], value=scalar_attr_tensor(fill_value, dtype))]


@converter("Range")
def range_(b: RegionBuilder, node: Node) -> list[Any]:
    return [b.op1("Range", inputs(b, node))]


@converter("Tile")
def tile(b: RegionBuilder, node: Node) -> list[Any]:
    return [b.op1("Tile", [b.value(node.inputs[0]), to_int64(b, node.inputs[1])])]


@converter("BroadcastTo")
def broadcast_to(b: RegionBuilder, node: Node) -> list[Any]:
    return [b.op1("Expand", [b.value(node.inputs[0]), to_int64(b, node.inputs[1])])]


@converter("Cumsum")
def cumsum(b: RegionBuilder, node: Node) -> list[Any]:
    a = attrs(node)
    return [
        b.op1(
            "CumSum",
            [b.value(node.inputs[0]), b.value(node.inputs[1])],
            exclusive=int(bool(a.get("exclusive", False))),
            reverse=int(bool(a.get("reverse", False))),
        )
    ]


@converter("ClipByValue")
def clip_by_value(b: RegionBuilder, node: Node) -> list[Any]:
    x, low, high = inputs(b, node)
    return [b.op1("Min", [b.op1("Max", [x, low]), high])]


@converter("FloorDiv")
def floor_div(b: RegionBuilder, node: Node) -> list[Any]:
    x, y = inputs(b, node)
    if b.dtype(node.inputs[0]) in FLOATS:
        return [b.op1("Floor", [b.op1("Div", [x, y])])]
    remainder = b.op1("Mod", [x, y], fmod=0)  # integers: the divisor's sign, as floor division leaves
    return [b.op1("Div", [b.op1("Sub", [x, remainder]), y])]


@converter("FloorMod")
def floor_mod(b: RegionBuilder, node: Node) -> list[Any]:
    x, y = inputs(b, node)
    dtype = b.dtype(node.inputs[0])
    if dtype not in FLOATS:
        return [b.op1("Mod", [x, y], fmod=0)]
    remainder = b.op1("Mod", [x, y], fmod=1)  # C fmod: the dividend's sign
    zero = b.const(0, dtype)
    wrong_sign = b.op1(
        "And",
        [
            b.op1("Not", [b.op1("Equal", [remainder, zero])]),
            b.op1("Less", [b.op1("Mul", [remainder, y]), zero]),
        ],
    )
    return [b.op1("Where", [wrong_sign, b.op1("Add", [remainder, y]), remainder])]


def _bool_reduce(onnx_op: str) -> Converter:
    def convert(b: RegionBuilder, node: Node) -> list[Any]:
        x, axes_ref = node.inputs
        axes = axis_list(b, axes_ref)
        if not axes:
            return [b.op1("Identity", [b.value(x)])]
        keep = int(bool(attrs(node).get("keep_dims", False)))
        as_int = b.op1("Cast", [b.value(x)], to=onnx_type(np.int32))
        reduced = b.op1(onnx_op, [as_int], axes=axes, keepdims=keep)
        return [b.op1("Cast", [reduced], to=onnx_type(np.bool_))]

    return convert


CONVERTERS["All"] = _bool_reduce("ReduceMin")
CONVERTERS["Any"] = _bool_reduce("ReduceMax")


@converter("Where")
def where(b: RegionBuilder, node: Node) -> list[Any]:
    if len(node.inputs) != 1:
        raise NotExportable("three-operand Where")
    return [b.op1("Transpose", [b.op1("NonZero", [b.value(node.inputs[0])])], perm=[1, 0])]


@converter("ReverseV2")
def reverse(b: RegionBuilder, node: Node) -> list[Any]:
    axes = axis_list(b, node.inputs[1])
    if not axes:
        return [b.op1("Identity", [b.value(node.inputs[0])])]
    count = len(axes)
    return [
        b.op1(
            "Slice",
            [
                b.value(node.inputs[0]),
                b.int64s([-1] * count),
                b.int64s([INT64_MIN] * count),
                b.int64s(axes),
                b.int64s([-1] * count),
            ],
        )
    ]


@converter("TopKV2")
def top_k(b: RegionBuilder, node: Node) -> list[Any]:
    x, k = node.inputs
    if not bool(attrs(node).get("sorted", True)):
        raise NotExportable("unsorted top-k")
    count = b.op1("Reshape", [to_int64(b, k), b.int64s([1])])
    values, indices = b.op("TopK", [b.value(x), count], 2, axis=-1, largest=1, sorted=1)
    return [values, cast_index(b, indices, attrs(node).dtype("index_type", 3))]


@converter("OneHot")
def one_hot(b: RegionBuilder, node: Node) -> list[Any]:
    indices, depth, on, off = node.inputs
    depth_name = b.op1("Reshape", [to_int64(b, depth), b.int64s([1])])
    index_type = b.dtype(indices)
    ids = b.value(indices)
    # TensorFlow gives negative indices an all-off row; ONNX would count them from the end.
    negative = b.op1("Less", [ids, b.const(0, index_type)])
    ids = b.op1("Where", [negative, b.op1("Cast", [depth_name], to=onnx_type(index_type)), ids])
    values = b.op1(
        "Concat",
        [b.op1("Reshape", [b.value(off), b.int64s([1])]), b.op1("Reshape", [b.value(on), b.int64s([1])])],
        axis=0,
    )
    return [b.op1("OneHot", [ids, depth_name, values], axis=int(attrs(node).get("axis", -1)))]


_RESIZE_MODES = {"ResizeBilinear": "linear", "ResizeNearestNeighbor": "nearest", "ResizeBicubic": "cubic"}


@converter(*_RESIZE_MODES)
def resize(b: RegionBuilder, node: Node) -> list[Any]:
    require_float(b, node)
    a = attrs(node)
    align, half = bool(a.get("align_corners", False)), bool(a.get("half_pixel_centers", False))
    mode = _RESIZE_MODES[node.op]
    extra: dict[str, Any] = {}
    if align:
        transform = "align_corners"
        extra["nearest_mode"] = "round_prefer_ceil"
    elif half:  # nearest: floor((i + 0.5) * scale) = x_original rounded half up
        transform = "half_pixel"
        extra["nearest_mode"] = "round_prefer_ceil"
    else:
        transform = "asymmetric"
        extra["nearest_mode"] = "floor"
    if mode == "cubic":
        extra = {"cubic_coeff_a": -0.5 if half else -0.75, "exclude_outside": int(half)}
    if mode != "nearest":
        extra.pop("nearest_mode", None)
    x = b.op1("Transpose", [b.value(node.inputs[0])], perm=[0, 3, 1, 2])
    leading = b.op1("Slice", [b.op1("Shape", [x]), b.int64s([0]), b.int64s([2])])
    sizes = b.op1("Concat", [leading, to_int64(b, node.inputs[1])], axis=0)
    out = b.op1("Resize", [x, "", "", sizes], mode=mode, coordinate_transformation_mode=transform, **extra)
    out = b.op1("Transpose", [out], perm=[0, 2, 3, 1])
    if mode == "nearest" or b.dtype(node.inputs[0]) == np.float32:
        return [out]
    return [b.op1("Cast", [out], to=onnx_type(np.float32))]


@converter("Conv2DBackpropInput")
def conv_transpose(b: RegionBuilder, node: Node) -> list[Any]:
    """The full transposed convolution, then cropped to `input_sizes` where the forward
    convolution's padding would have started (SAME: half the total, the smaller half first; VALID:
    none), zero-extended where `input_sizes` reaches past it."""
    sizes, kernel_ref, grad = node.inputs
    if b.dtype(grad) not in FLOATS:
        raise NotExportable(f"{b.dtype(grad)} operands")
    kernel = b.const_value(kernel_ref, "filter")  # [h, w, out channels, in channels]
    padding = text(node, "padding")
    if padding not in ("SAME", "VALID") or b.rank(grad) != 4:
        raise NotExportable(f"padding {padding!r}")
    nhwc = not text(node, "data_format", "NHWC").startswith("NC")
    a = attrs(node)
    strides = _spatial(list(a.get("strides") or [1] * 4), nhwc)
    dilations = _spatial(list(a.get("dilations") or [1] * 4), nhwc)
    data = b.value(grad)
    if nhwc:
        data = b.op1("Transpose", [data], perm=_channels_first(4))
    weights = b.const(b.derived(("transposed", kernel_ref), lambda: np.transpose(kernel, [3, 2, 0, 1])))
    full = b.op1("ConvTranspose", [data, weights], strides=strides, dilations=dilations, pads=[0, 0, 0, 0])
    produced = b.op1("Slice", [b.op1("Shape", [full]), b.int64s([2]), b.int64s([4])])
    wanted = b.op1("Slice", [to_int64(b, sizes), b.int64s([1 if nhwc else 2]), b.int64s([3 if nhwc else 4])])
    zero = b.int64s([0])
    if padding == "SAME":
        excess = b.op1("Max", [b.op1("Sub", [produced, wanted]), zero])
        before = b.op1("Div", [excess, b.int64s([2])])
    else:
        before = b.int64s([0, 0])
    end = b.op1("Add", [before, wanted])
    extra = b.op1("Max", [b.op1("Sub", [end, produced]), zero])
    pads = b.op1("Concat", [b.int64s([0] * 6), extra], axis=0)
    out = b.op1("Slice", [b.op1("Pad", [full, pads]), before, end, b.int64s([2, 3])])
    if nhwc:
        out = b.op1("Transpose", [out], perm=_channels_last(4))
    return [out]


# ------------------------------------------------------------------------------ layer normalization


@converter("AddV2")
def add_v2(b: RegionBuilder, node: Node) -> list[Any]:
    """AddV2, or the last op of tf.nn.batch_normalization over tf.nn.moments (Keras
    LayerNormalization): then one ONNX LayerNormalization, its other ops left unused."""
    fused = _layer_norm(b, node)
    return [fused] if fused is not None else [b.op1("Add", inputs(b, node))]


def _operands(b: RegionBuilder, node: Node, op: str) -> tuple[Node, tuple[str, int]] | None:
    """For a commutative `node`: (its input produced by `op`, the other input)."""
    for i in (0, 1):
        found = b.producer(node.inputs[i], op)
        if found is not None:
            return found, node.inputs[1 - i]
    return None


def _layer_norm(b: RegionBuilder, node: Node) -> str | None:
    found = _operands(b, node, "Mul") if len(node.inputs) == 2 else None
    if found is None:
        return None
    scaled, shifted_ref = found  # x * (rsqrt(var + eps) * gamma), beta - mean * (...)
    shifted = b.producer(shifted_ref, "Sub")
    if shifted is None or not b.is_const(shifted.inputs[0]):
        return None
    for i in (0, 1):
        factor = b.producer(scaled.inputs[1 - i], "Mul")
        if factor is not None:
            x = scaled.inputs[i]
            break
    else:
        return None
    centered = b.producer(shifted.inputs[1], "Mul")
    root = _operands(b, factor, "Rsqrt")
    if centered is None or root is None or factor.name not in (r[0] for r in centered.inputs):
        return None
    rsqrt, gamma = root
    mean_ref = next((r for r in centered.inputs if r[0] != factor.name), None)
    mean = b.producer(mean_ref, "Mean") if mean_ref else None
    plus = b.producer(rsqrt.inputs[0], "AddV2", "Add")
    if mean is None or plus is None or mean.inputs[0] != x or not b.is_const(gamma):
        return None
    variance = b.producer(plus.inputs[0], "Mean")
    epsilon = b.info(plus.inputs[1]) if b.is_const(plus.inputs[1]) else None
    squared = b.producer(variance.inputs[0], "SquaredDifference") if variance is not None else None
    if squared is None or epsilon is None or epsilon.size != 1 or squared.inputs[0] != x:
        return None
    stopped = b.producer(squared.inputs[1], "StopGradient", "Identity")
    if (stopped.inputs[0] if stopped is not None else squared.inputs[1]) != mean_ref:
        return None
    rank = b.rank(x)
    axes = sorted(a % rank for a in axis_list(b, mean.inputs[1]))
    if (
        b.dtype(x) != np.float32
        or axes != list(range(axes[0], rank))
        or sorted(a % rank for a in axis_list(b, variance.inputs[1])) != axes
        or not (attrs(mean).get("keep_dims") and attrs(variance).get("keep_dims"))
    ):
        return None
    trailing = tuple(b.info(x).shape[axes[0] :])
    scale, offset = (_squeeze_leading(b.info(ref)) for ref in (gamma, shifted.inputs[0]))
    if scale.shape != trailing or offset.shape != trailing:  # nothing to bake in from the trace
        return None
    return b.op1(
        "LayerNormalization",
        [b.value(x), b.const(scale, np.float32), b.const(offset, np.float32)],
        axis=axes[0],
        epsilon=float(epsilon.reshape(())),
    )


def _squeeze_leading(value: np.ndarray) -> np.ndarray:
    while value.ndim and value.shape[0] == 1:
        value = value[0]
    return value
