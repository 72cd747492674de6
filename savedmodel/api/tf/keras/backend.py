"""The ops Keras layers emit, as TensorFlow emits them for inference (graph mode: nodes of the
function being traced; eager mode: run at once), plus `clear_session`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from savedmodel.api.tf import graph as g
from savedmodel.api.tf import ops
from savedmodel.api.tf.graph import TensorShape
from savedmodel.proto import attr_value_pb2

EPSILON = 1e-7  # tf.keras.backend.epsilon()


def clear_session() -> None:
    """`tf.keras.backend.clear_session`: default layer names start again (`dense`, `input_1`...)."""
    from savedmodel.api.tf.keras.engine import _NAME_COUNTS

    _NAME_COUNTS.clear()


def epsilon() -> float:
    return EPSILON


def attr_ints(values: Sequence[int]) -> attr_value_pb2.AttrValue:
    out = attr_value_pb2.AttrValue()
    out.list.i.extend(int(v) for v in values)
    out.list.SetInParent()
    return out


def op(
    op_type: str,
    inputs: Sequence[Any],
    attrs: dict[str, attr_value_pb2.AttrValue] | None = None,
    shape: Any = None,
    dtype: Any = None,
    num_outputs: int = 1,
    typed: bool = True,
) -> Any:
    """One op over `inputs` (its attr T from the first input unless `typed` is False); its output
    (a list when `num_outputs` > 1). `shape` is the static shape of every output, if known."""
    with ops.name_scope(None, op_type) as scope:
        tensors = [ops.convert_to_tensor(x) for x in inputs]
        full = {"T": g.attr_type(tensors[0].dtype)} if typed else {}
        full.update(attrs or {})
        out_dtype = dtype or tensors[0].dtype
        out_shape = shape if isinstance(shape, TensorShape) else TensorShape(shape)
        outs = ops.apply(
            op_type, tensors, full, [out_dtype] * num_outputs, [out_shape] * num_outputs, scope or op_type
        )
    return outs[0] if num_outputs == 1 else outs


def int_const(values: Any) -> Any:
    return ops.constant(np.asarray(values, dtype=np.int32))


def conv2d(x: Any, kernel: Any, strides: Sequence[int], padding: str, dilations: Sequence[int]) -> Any:
    return op(
        "Conv2D",
        [x, kernel],
        {
            "strides": attr_ints([1, *strides, 1]),
            "padding": g.attr_str(padding.upper()),
            "data_format": g.attr_str("NHWC"),
            "dilations": attr_ints([1, *dilations, 1]),
            "use_cudnn_on_gpu": g.attr_bool(True),
            "explicit_paddings": attr_ints([]),
        },
    )


def depthwise_conv2d(
    x: Any, kernel: Any, strides: Sequence[int], padding: str, dilations: Sequence[int]
) -> Any:
    return op(
        "DepthwiseConv2dNative",
        [x, kernel],
        {
            "strides": attr_ints([1, *strides, 1]),
            "padding": g.attr_str(padding.upper()),
            "data_format": g.attr_str("NHWC"),
            "dilations": attr_ints([1, *dilations, 1]),
            "explicit_paddings": attr_ints([]),
        },
    )


def pool2d(op_type: str, x: Any, pool_size: Sequence[int], strides: Sequence[int], padding: str) -> Any:
    """MaxPool / AvgPool over NHWC."""
    return op(
        op_type,
        [x],
        {
            "ksize": attr_ints([1, *pool_size, 1]),
            "strides": attr_ints([1, *strides, 1]),
            "padding": g.attr_str(padding.upper()),
            "data_format": g.attr_str("NHWC"),
        },
    )


def rsqrt(x: Any) -> Any:
    return op("Rsqrt", [x], shape=ops.convert_to_tensor(x).shape)


def mean(x: Any, axes: Sequence[int], keepdims: bool) -> Any:
    return ops.reduce_mean(x, axis=list(axes), keepdims=keepdims)


def reduce_max(x: Any, axes: Sequence[int], keepdims: bool) -> Any:
    return ops.reduce_max(x, axis=list(axes), keepdims=keepdims)


def squared_difference(x: Any, y: Any) -> Any:
    return op("SquaredDifference", [x, y])


def gather(params: Any, indices: Any) -> Any:
    """GatherV2 along axis 0."""
    params = ops.convert_to_tensor(params)
    indices = ops.convert_to_tensor(indices)
    attrs = {
        "Tparams": g.attr_type(params.dtype),
        "Tindices": g.attr_type(indices.dtype),
        "Taxis": g.attr_type("int32"),
        "batch_dims": g.attr_int(0),
    }
    return op("GatherV2", [params, indices, int_const(0)], attrs, dtype=params.dtype, typed=False)


def einsum(equation: str, *operands: Any) -> Any:
    return op("Einsum", list(operands), {"equation": g.attr_str(equation), "N": g.attr_int(len(operands))})


def split(x: Any, num: int, axis: Any = -1) -> list[Any]:
    """Split `x` into `num` equal parts along `axis` (an int, or an int32 tensor made once for
    many splits; TF's Split takes it first)."""
    tensor = ops.convert_to_tensor(x)
    with ops.name_scope(None, "split") as scope:
        attrs = {"T": g.attr_type(tensor.dtype), "num_split": g.attr_int(num)}
        return ops.apply(
            "Split",
            [int_const(axis) if isinstance(axis, int) else ops.convert_to_tensor(axis), tensor],
            attrs,
            [tensor.dtype] * num,
            [TensorShape(None)] * num,
            scope or "split",
        )


def unstack(x: Any, num: int, axis: int) -> list[Any]:
    tensor = ops.convert_to_tensor(x)
    with ops.name_scope(None, "unstack") as scope:
        attrs = {"T": g.attr_type(tensor.dtype), "num": g.attr_int(num), "axis": g.attr_int(axis)}
        return ops.apply(
            "Unpack", [tensor], attrs, [tensor.dtype] * num, [TensorShape(None)] * num, scope or "unstack"
        )


def stack(values: Sequence[Any], axis: int) -> Any:
    return ops.stack(list(values), axis=axis)
