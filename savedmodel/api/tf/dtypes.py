"""`tf.DType` objects (`tf.float32`...) over savedmodel's DataType table."""

from __future__ import annotations

from typing import Any

import numpy as np

from savedmodel.format import dtypes as dt

DT = dt.DT


class DType:
    """A TensorFlow dtype: wraps a DataType enum value."""

    _cache: dict[int, DType] = {}

    def __new__(cls, enum: int) -> DType:
        if enum not in cls._cache:
            obj = super().__new__(cls)
            obj._enum = enum
            cls._cache[enum] = obj
        return cls._cache[enum]

    _enum: int

    @property
    def as_datatype_enum(self) -> int:
        return self._enum

    @property
    def name(self) -> str:
        return dt.dtype_name(self._enum)

    @property
    def as_numpy_dtype(self) -> type:
        return dt.as_numpy_dtype(self._enum).type

    @property
    def base_dtype(self) -> DType:
        return DType(dt.base_dtype(self._enum))

    @property
    def is_floating(self) -> bool:
        return dt.is_floating(self._enum)

    @property
    def is_integer(self) -> bool:
        return dt.as_numpy_dtype(self._enum).kind in "iu" and self._enum not in (DT.DT_STRING,)

    def __repr__(self) -> str:
        return f"tf.{self.name}"

    def __str__(self) -> str:
        return f"<dtype: {self.name!r}>"

    def __eq__(self, other: object) -> bool:
        try:
            return self._enum == as_dtype(other)._enum  # type: ignore[arg-type]
        except (TypeError, ValueError, KeyError):
            return False

    def __hash__(self) -> int:
        return self._enum


def as_dtype(value: Any) -> DType:
    """DType from a DType, DataType enum, name, NumPy dtype or Python type."""
    if isinstance(value, DType):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return DType(int(value))
    if isinstance(value, str):
        return DType(dt.from_name(value))
    if value is float:
        return float32
    if value is int:
        return int32
    if value is bool:
        return bool_
    if value in (str, bytes):
        return string
    try:
        return DType(dt.from_numpy(np.dtype(value)))
    except Exception as exc:  # noqa: BLE001 - report one clear error
        raise TypeError(f"cannot convert {value!r} to a dtype") from exc


float16 = half = DType(DT.DT_HALF)
bfloat16 = DType(DT.DT_BFLOAT16)
float32 = DType(DT.DT_FLOAT)
float64 = double = DType(DT.DT_DOUBLE)
int8 = DType(DT.DT_INT8)
int16 = DType(DT.DT_INT16)
int32 = DType(DT.DT_INT32)
int64 = DType(DT.DT_INT64)
uint8 = DType(DT.DT_UINT8)
uint16 = DType(DT.DT_UINT16)
uint32 = DType(DT.DT_UINT32)
uint64 = DType(DT.DT_UINT64)
bool_ = DType(DT.DT_BOOL)
string = DType(DT.DT_STRING)
complex64 = DType(DT.DT_COMPLEX64)
complex128 = DType(DT.DT_COMPLEX128)
resource = DType(DT.DT_RESOURCE)
variant = DType(DT.DT_VARIANT)


def infer_dtype(value: Any) -> DType:
    """The dtype tf.constant gives a Python/NumPy value (floats -> float32, ints -> int32)."""
    if isinstance(value, np.ndarray | np.generic):
        arr = np.asarray(value)
        if arr.dtype.kind in "OSU":
            return string
        return as_dtype(arr.dtype)
    arr = np.asarray(value, dtype=object if _has_text(value) else None)
    if arr.dtype.kind in "OSU":
        return string
    if arr.dtype.kind == "f":
        return float32
    if arr.dtype.kind in "iu":
        if arr.size and (arr.max() > np.iinfo(np.int32).max or arr.min() < np.iinfo(np.int32).min):
            return int64
        return int32
    if arr.dtype.kind == "b":
        return bool_
    if arr.dtype.kind == "c":
        return complex128
    raise TypeError(f"cannot infer a dtype for {value!r}")


def _has_text(value: Any) -> bool:
    if isinstance(value, str | bytes):
        return True
    if isinstance(value, list | tuple):
        return any(_has_text(v) for v in value)
    return False
