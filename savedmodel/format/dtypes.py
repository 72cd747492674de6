"""TensorFlow DataType enum values <-> NumPy dtypes and TensorFlow's dtype names.

Strings, resources and variants are held in NumPy object arrays (strings as `bytes`).
bfloat16, float8 and 4-bit types come from ml_dtypes, imported only when one of them is
first needed (importing ml_dtypes costs most of a second). Quantized types share the
storage dtype of their base integer type.
"""

from __future__ import annotations

import sys

import numpy as np

from savedmodel.errors import FormatError
from savedmodel.proto import types_pb2

DT = types_pb2.DataType
REF_OFFSET = 100

_OBJECT = np.dtype(object)

# enum value -> (TensorFlow's python name, numpy dtype)
_TABLE: dict[int, tuple[str, np.dtype]] = {
    DT.DT_FLOAT: ("float32", np.dtype(np.float32)),
    DT.DT_DOUBLE: ("float64", np.dtype(np.float64)),
    DT.DT_INT32: ("int32", np.dtype(np.int32)),
    DT.DT_UINT8: ("uint8", np.dtype(np.uint8)),
    DT.DT_INT16: ("int16", np.dtype(np.int16)),
    DT.DT_INT8: ("int8", np.dtype(np.int8)),
    DT.DT_STRING: ("string", _OBJECT),
    DT.DT_COMPLEX64: ("complex64", np.dtype(np.complex64)),
    DT.DT_INT64: ("int64", np.dtype(np.int64)),
    DT.DT_BOOL: ("bool", np.dtype(np.bool_)),
    DT.DT_QINT8: ("qint8", np.dtype(np.int8)),
    DT.DT_QUINT8: ("quint8", np.dtype(np.uint8)),
    DT.DT_QINT32: ("qint32", np.dtype(np.int32)),
    DT.DT_QINT16: ("qint16", np.dtype(np.int16)),
    DT.DT_QUINT16: ("quint16", np.dtype(np.uint16)),
    DT.DT_UINT16: ("uint16", np.dtype(np.uint16)),
    DT.DT_COMPLEX128: ("complex128", np.dtype(np.complex128)),
    DT.DT_HALF: ("float16", np.dtype(np.float16)),
    DT.DT_RESOURCE: ("resource", _OBJECT),
    DT.DT_VARIANT: ("variant", _OBJECT),
    DT.DT_UINT32: ("uint32", np.dtype(np.uint32)),
    DT.DT_UINT64: ("uint64", np.dtype(np.uint64)),
}
# enum value -> (TensorFlow's python name, ml_dtypes attribute): added to the tables above
# by _load_ml_dtypes() on first use (int2/uint2 only where ml_dtypes has them).
_ML_DTYPES: dict[int, tuple[str, str]] = {
    DT.DT_BFLOAT16: ("bfloat16", "bfloat16"),
    DT.DT_FLOAT8_E5M2: ("float8_e5m2", "float8_e5m2"),
    DT.DT_FLOAT8_E4M3FN: ("float8_e4m3fn", "float8_e4m3fn"),
    DT.DT_FLOAT8_E4M3FNUZ: ("float8_e4m3fnuz", "float8_e4m3fnuz"),
    DT.DT_FLOAT8_E4M3B11FNUZ: ("float8_e4m3b11fnuz", "float8_e4m3b11fnuz"),
    DT.DT_FLOAT8_E5M2FNUZ: ("float8_e5m2fnuz", "float8_e5m2fnuz"),
    DT.DT_INT4: ("int4", "int4"),
    DT.DT_UINT4: ("uint4", "uint4"),
    DT.DT_INT2: ("int2", "int2"),
    DT.DT_UINT2: ("uint2", "uint2"),
}
# Names known without importing ml_dtypes (int2/uint2 depend on the installed version).
_ML_NAMES = frozenset(name for name, _ in _ML_DTYPES.values())
_ML_STATIC_NAMES = {enum: name for enum, (name, _) in _ML_DTYPES.items() if name not in ("int2", "uint2")}
_ML_STATIC_BY_NAME = {name: enum for enum, name in _ML_STATIC_NAMES.items()}

QUANTIZED = frozenset({DT.DT_QINT8, DT.DT_QUINT8, DT.DT_QINT16, DT.DT_QUINT16, DT.DT_QINT32})
_BY_NAME = {name: enum for enum, (name, _) in _TABLE.items()}
_BY_NUMPY: dict[np.dtype, int] = {}
_ml_loaded = False


def _index(entries: dict[int, tuple[str, np.dtype]]) -> None:
    for enum, (name, np_dtype) in entries.items():
        _BY_NAME.setdefault(name, enum)
        if enum not in QUANTIZED and np_dtype != _OBJECT:
            _BY_NUMPY.setdefault(np_dtype, enum)


_index(_TABLE)


def _load_ml_dtypes() -> None:
    """Import ml_dtypes and add its types (bfloat16, float8, int4...) to the tables."""
    global _ml_loaded
    if _ml_loaded:
        return
    import ml_dtypes

    entries = {
        enum: (name, np.dtype(getattr(ml_dtypes, attr)))
        for enum, (name, attr) in _ML_DTYPES.items()
        if hasattr(ml_dtypes, attr)
    }
    _TABLE.update(entries)
    _index(entries)
    _ml_loaded = True


def base_dtype(dtype: int) -> int:
    """The value type of a reference type (DT_FLOAT_REF -> DT_FLOAT)."""
    return dtype - REF_OFFSET if dtype > REF_OFFSET else dtype


def is_ref(dtype: int) -> bool:
    return dtype > REF_OFFSET


def as_numpy_dtype(dtype: int) -> np.dtype:
    """NumPy dtype holding values of a DataType; reference types map to their value type."""
    base = base_dtype(dtype)
    if base not in _TABLE and base in _ML_DTYPES:
        _load_ml_dtypes()
    try:
        return _TABLE[base][1]
    except KeyError:
        raise FormatError(f"unknown or unsupported DataType {dtype}") from None


def dtype_name(dtype: int) -> str:
    """TensorFlow's Python name for a DataType: 'float32', 'string', 'float32_ref'..."""
    base = base_dtype(dtype)
    if base in _ML_STATIC_NAMES:
        name = _ML_STATIC_NAMES[base]
    else:
        if base not in _TABLE and base in _ML_DTYPES:
            _load_ml_dtypes()
        if base not in _TABLE:
            return f"<unknown dtype {dtype}>"
        name = _TABLE[base][0]
    return name + "_ref" if is_ref(dtype) else name


def enum_name(dtype: int) -> str:
    """The enum's own name, as saved_model_cli prints it: 'DT_FLOAT'."""
    try:
        return DT.Name(dtype)
    except ValueError:
        return str(dtype)


def from_name(name: str) -> int:
    """DataType from 'float32', 'DT_FLOAT', 'float' or 'half'."""
    aliases = {"float": "float32", "double": "float64", "half": "float16", "bytes": "string", "str": "string"}
    if name.startswith("DT_"):
        try:
            return DT.Value(name)
        except ValueError:
            pass
    key = aliases.get(name, name)
    if key in _BY_NAME:
        return _BY_NAME[key]
    if key in _ML_STATIC_BY_NAME:
        return _ML_STATIC_BY_NAME[key]
    if key in _ML_NAMES:
        _load_ml_dtypes()
        if key in _BY_NAME:
            return _BY_NAME[key]
    raise FormatError(f"unknown dtype name {name!r}")


def from_numpy(dtype: np.dtype | type) -> int:
    """DataType for a NumPy dtype; str/bytes/object map to DT_STRING."""
    dt = np.dtype(dtype)
    if dt.kind in "OSU":
        return DT.DT_STRING
    if dt not in _BY_NUMPY and not _ml_loaded and "ml_dtypes" in sys.modules:
        _load_ml_dtypes()  # an ml_dtypes dtype exists only once ml_dtypes is imported
    try:
        return _BY_NUMPY[dt]
    except KeyError:
        raise FormatError(f"no TensorFlow dtype for NumPy dtype {dt}") from None


def is_string(dtype: int) -> bool:
    return base_dtype(dtype) == DT.DT_STRING


def is_floating(dtype: int) -> bool:
    return base_dtype(dtype) == DT.DT_BFLOAT16 or as_numpy_dtype(dtype).kind == "f"
