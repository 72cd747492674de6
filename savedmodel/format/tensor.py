"""TensorProto <-> NumPy conversion, following TensorFlow's rules.

Reading: `tensor_content` holds raw little-endian bytes; otherwise the typed
`*_val` field for the dtype holds the values, and when it holds fewer values
than the shape needs, the last value is repeated (an empty field means zeros).
Writing mirrors `tf.make_tensor_proto`: arrays of more than one element of a
fixed-size type go to `tensor_content`, everything else to the typed field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from savedmodel import policy
from savedmodel.errors import FormatError
from savedmodel.format import dtypes
from savedmodel.format.dtypes import DT
from savedmodel.proto import tensor_pb2, tensor_shape_pb2

_INT_VAL_TYPES = frozenset(
    {
        DT.DT_INT32,
        DT.DT_INT16,
        DT.DT_INT8,
        DT.DT_UINT8,
        DT.DT_UINT16,
        DT.DT_QINT8,
        DT.DT_QUINT8,
        DT.DT_QINT16,
        DT.DT_QUINT16,
        DT.DT_QINT32,
        DT.DT_INT4,
        DT.DT_UINT4,
    }
)
_FLOAT8_TYPES = frozenset(
    {
        DT.DT_FLOAT8_E5M2,
        DT.DT_FLOAT8_E4M3FN,
        DT.DT_FLOAT8_E4M3FNUZ,
        DT.DT_FLOAT8_E4M3B11FNUZ,
        DT.DT_FLOAT8_E5M2FNUZ,
    }
)
# Types TensorFlow writes to tensor_content when an array has several elements
# (TF 2.21's make_tensor_proto: bfloat16 included, bool/complex/uint16/4-bit not).
_CONTENT_TYPES = frozenset(
    {
        DT.DT_HALF,
        DT.DT_BFLOAT16,
        DT.DT_FLOAT,
        DT.DT_DOUBLE,
        DT.DT_INT32,
        DT.DT_UINT8,
        DT.DT_INT16,
        DT.DT_INT8,
        DT.DT_INT64,
        DT.DT_QINT8,
        DT.DT_QUINT8,
        DT.DT_QINT16,
        DT.DT_QUINT16,
        DT.DT_QINT32,
        DT.DT_UINT32,
        DT.DT_UINT64,
        *_FLOAT8_TYPES,
    }
)


def shape_from_proto(shape: tensor_shape_pb2.TensorShapeProto) -> tuple[int, ...] | None:
    """Dims as a tuple (-1 for unknown), or None when the rank is unknown."""
    if shape.unknown_rank:
        return None
    return tuple(int(d.size) for d in shape.dim)


def shape_to_proto(shape: Sequence[int | None] | None) -> tensor_shape_pb2.TensorShapeProto:
    proto = tensor_shape_pb2.TensorShapeProto()
    if shape is None:
        proto.unknown_rank = True
        return proto
    for size in shape:
        proto.dim.add(size=-1 if size is None else int(size))
    return proto


def _fully_defined(shape: tuple[int, ...] | None, what: str) -> tuple[int, ...]:
    if shape is None or any(d < 0 for d in shape):
        raise FormatError(f"{what} has a shape that is not fully defined: {shape}")
    return shape


def _typed_values(proto: tensor_pb2.TensorProto, dtype: int, np_dtype: np.dtype) -> np.ndarray:
    if dtype == DT.DT_FLOAT:
        return np.asarray(proto.float_val, dtype=np.float32)
    if dtype == DT.DT_DOUBLE:
        return np.asarray(proto.double_val, dtype=np.float64)
    if dtype in _INT_VAL_TYPES:
        return np.asarray(proto.int_val, dtype=np.int64).astype(np_dtype)
    if dtype == DT.DT_INT64:
        return np.asarray(proto.int64_val, dtype=np.int64)
    if dtype == DT.DT_UINT32:
        return np.asarray(proto.uint32_val, dtype=np.uint32)
    if dtype == DT.DT_UINT64:
        return np.asarray(proto.uint64_val, dtype=np.uint64)
    if dtype == DT.DT_BOOL:
        return np.asarray(proto.bool_val, dtype=np.bool_)
    if dtype in (DT.DT_HALF, DT.DT_BFLOAT16):
        return np.asarray(proto.half_val, dtype=np.int32).astype(np.uint16).view(np_dtype)
    if dtype in (DT.DT_COMPLEX64, DT.DT_COMPLEX128):
        parts = proto.scomplex_val if dtype == DT.DT_COMPLEX64 else proto.dcomplex_val
        if len(parts) % 2:
            raise FormatError(f"TensorProto of dtype {dtypes.dtype_name(dtype)} holds an odd number "
                              f"({len(parts)}) of real/imaginary parts")
        real = np.float32 if dtype == DT.DT_COMPLEX64 else np.float64
        return np.asarray(parts, dtype=real).view(np_dtype)
    if dtype == DT.DT_STRING:
        values = np.empty(len(proto.string_val), dtype=object)
        values[:] = list(proto.string_val)
        return values
    if dtype in _FLOAT8_TYPES:
        return np.frombuffer(proto.float8_val, dtype=np_dtype)
    if dtype == DT.DT_RESOURCE:
        values = np.empty(len(proto.resource_handle_val), dtype=object)
        values[:] = list(proto.resource_handle_val)
        return values
    if dtype == DT.DT_VARIANT:
        values = np.empty(len(proto.variant_val), dtype=object)
        values[:] = list(proto.variant_val)
        return values
    raise FormatError(f"cannot decode TensorProto of dtype {dtypes.enum_name(dtype)}")


def to_numpy(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Decode a TensorProto into a NumPy array (read-only when it views tensor_content)."""
    dtype = dtypes.base_dtype(proto.dtype)
    np_dtype = dtypes.as_numpy_dtype(dtype)
    shape = _fully_defined(shape_from_proto(proto.tensor_shape), "TensorProto")
    # Exact count, checked against max_bytes_per_tensor before anything is allocated
    # (a shape of 10^12 elements with one broadcast value must not exhaust memory).
    count = policy.element_count(shape)
    policy.check_tensor_bytes(shape, np_dtype.itemsize, f"TensorProto of dtype {dtypes.dtype_name(dtype)}")
    if proto.tensor_content and np_dtype != np.dtype(object):
        expected = count * np_dtype.itemsize
        if len(proto.tensor_content) != expected:
            raise FormatError(
                f"TensorProto of dtype {dtypes.dtype_name(dtype)} and shape {list(shape)} "
                f"needs {expected} bytes of tensor_content, has {len(proto.tensor_content)}"
            )
        return np.frombuffer(proto.tensor_content, dtype=np_dtype).reshape(shape)
    values = _typed_values(proto, dtype, np_dtype)
    if values.size == count:
        return values.reshape(shape)
    if values.size > count:
        raise FormatError(f"TensorProto holds {values.size} values for shape {list(shape)}")
    return _broadcast_last(values, count, np_dtype).reshape(shape)


def _broadcast_last(values: np.ndarray, count: int, np_dtype: np.dtype) -> np.ndarray:
    if values.size == 0:
        if np_dtype == np.dtype(object):
            out = np.empty(count, dtype=object)
            out[:] = [b""] * count
            return out
        return np.zeros(count, dtype=np_dtype)
    out = np.empty(count, dtype=np_dtype)
    out[: values.size] = values
    out[values.size :] = values[-1]
    return out


def element_bytes(value: Any) -> bytes:
    """One element of a string tensor as bytes: bytes-like values as they are, str (and NumPy's
    str/bytes scalars, 0-d arrays of them) encoded as UTF-8. TypeError for anything else.

    The one rule every layer uses (kernels, TensorProto and bundle writing, feeds, serving)."""
    if type(value) is bytes:
        return value
    if isinstance(value, bytes | bytearray | memoryview):  # np.bytes_ is a bytes subclass
        return bytes(value)
    if isinstance(value, str):  # np.str_ too
        return str(value).encode("utf-8")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return element_bytes(value.item())
    raise TypeError(f"a string tensor element must be bytes or str, not {type(value).__name__}")


def _as_bytes(value: Any) -> bytes:
    try:
        return element_bytes(value)
    except TypeError as exc:
        raise FormatError(str(exc)) from None


def from_numpy(
    value: Any, dtype: int | None = None, shape: Sequence[int] | None = None
) -> tensor_pb2.TensorProto:
    """Encode a value as TensorFlow's make_tensor_proto would.

    `dtype` is a DataType enum value (inferred from the array when None). When
    `shape` is given and the value is a scalar, the value is stored once and
    broadcast, as `tf.constant(0., shape=[2, 3])` stores it.
    """
    if dtype is None:
        array = np.asarray(value)
        dtype = dtypes.from_numpy(array.dtype)
    np_dtype = dtypes.as_numpy_dtype(dtype)
    if dtype == DT.DT_STRING:
        array = np.asarray(value, dtype=object)
    else:
        array = np.asarray(value).astype(np_dtype, copy=False)
    proto = tensor_pb2.TensorProto(dtype=dtype)
    broadcast = shape is not None and tuple(shape) != array.shape
    if broadcast and array.size != 1:
        raise FormatError(f"cannot broadcast a value of shape {array.shape} to {list(shape)}")
    out_shape = tuple(shape) if shape is not None else array.shape
    proto.tensor_shape.CopyFrom(shape_to_proto(out_shape))
    if not broadcast and dtype in _CONTENT_TYPES and array.size > 1:
        proto.tensor_content = np.ascontiguousarray(array).astype(np_dtype.newbyteorder("<")).tobytes()
        return proto
    _append_typed(proto, dtype, array.reshape(-1))
    return proto


def _append_typed(proto: tensor_pb2.TensorProto, dtype: int, flat: np.ndarray) -> None:
    if dtype == DT.DT_FLOAT:
        proto.float_val.extend(flat.tolist())
    elif dtype == DT.DT_DOUBLE:
        proto.double_val.extend(flat.tolist())
    elif dtype in _INT_VAL_TYPES:
        proto.int_val.extend(flat.astype(np.int64).tolist())
    elif dtype == DT.DT_INT64:
        proto.int64_val.extend(flat.tolist())
    elif dtype == DT.DT_UINT32:
        proto.uint32_val.extend(flat.tolist())
    elif dtype == DT.DT_UINT64:
        proto.uint64_val.extend(flat.tolist())
    elif dtype == DT.DT_BOOL:
        proto.bool_val.extend(flat.tolist())
    elif dtype in (DT.DT_HALF, DT.DT_BFLOAT16):
        proto.half_val.extend(flat.view(np.uint16).astype(np.int32).tolist())
    elif dtype == DT.DT_COMPLEX64:
        proto.scomplex_val.extend(flat.astype(np.complex64).view(np.float32).tolist())
    elif dtype == DT.DT_COMPLEX128:
        proto.dcomplex_val.extend(flat.astype(np.complex128).view(np.float64).tolist())
    elif dtype == DT.DT_STRING:
        proto.string_val.extend(_as_bytes(v) for v in flat)
    elif dtype in _FLOAT8_TYPES:
        proto.float8_val = flat.tobytes()
    elif dtype in (DT.DT_RESOURCE, DT.DT_VARIANT):
        field = proto.resource_handle_val if dtype == DT.DT_RESOURCE else proto.variant_val
        try:
            field.extend(flat.tolist())
        except TypeError:
            kind = "ResourceHandleProto" if dtype == DT.DT_RESOURCE else "VariantTensorDataProto"
            raise FormatError(f"{dtypes.enum_name(dtype)} tensors hold {kind} messages") from None
    else:
        raise FormatError(f"cannot encode a tensor of dtype {dtypes.enum_name(dtype)}")


def values_proto(value: Any, dtype: int) -> tensor_pb2.TensorProto:
    """A TensorProto holding only the values of `value`, in the typed repeated field of `dtype`
    (no dtype, no shape, no tensor_content): how V1 checkpoints store a slice's data."""
    np_dtype = dtypes.as_numpy_dtype(dtype)
    array = np.asarray(value, dtype=object if dtype == DT.DT_STRING else np_dtype)
    proto = tensor_pb2.TensorProto()
    _append_typed(proto, dtype, array.reshape(-1))
    return proto
