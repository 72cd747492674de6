"""Helpers shared by the kernel families: errors, broadcasting, axes, dtype rules."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

import numpy as np

from savedmodel.errors import ExecutionError
from savedmodel.format.tensor import element_bytes
from savedmodel.ops import _buffers as buffers

OBJECT = np.dtype(object)

FLOATS = ("float16", "bfloat16", "float32", "float64")
# An elementwise epilogue a fused plan step runs in place on a block of a producer's fresh output
# (channels last), and how a producer asks for one: epilogue_for(dtype, output shape) -> it, or
# None when the followers cannot run in place on that output (see savedmodel/runtime/fusion.py).
Epilogue = Callable[[np.ndarray], Any]
EpilogueFor = Callable[[np.dtype, tuple[int, ...]], "Epilogue | None"]
FUSABLE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
INTS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
NUMERIC = FLOATS + INTS
COMPLEX = ("complex64", "complex128")


def fail(message: str) -> NoReturn:
    """Raise the error TensorFlow reports as InvalidArgument."""
    raise ExecutionError(message)


def shape_str(shape: Sequence[int]) -> str:
    return "[" + ",".join(str(int(d)) for d in shape) + "]"


# bfloat16 and float8 come from ml_dtypes, imported only when such a dtype is first needed:
# an array can only hold one once ml_dtypes is imported, so the checks below never import it.
_FLOAT16 = np.dtype(np.float16)
_ml_floats: tuple[np.dtype, frozenset[np.dtype]] | None = None


def _ml_float_types() -> tuple[np.dtype, frozenset[np.dtype]]:
    """(bfloat16, floating types NumPy does not give kind "f"), importing ml_dtypes."""
    global _ml_floats
    if _ml_floats is None:
        import ml_dtypes

        bfloat16 = np.dtype(ml_dtypes.bfloat16)
        float8 = {np.dtype(getattr(ml_dtypes, name)) for name in dir(ml_dtypes) if name.startswith("float8")}
        floats = frozenset({bfloat16} | float8)
        _ml_floats = (bfloat16, floats)
    return _ml_floats


def is_bfloat16(dtype: np.dtype) -> bool:
    return "ml_dtypes" in sys.modules and dtype == _ml_float_types()[0]


def is_half(dtype: np.dtype) -> bool:
    return dtype == _FLOAT16 or is_bfloat16(dtype)


def is_float(dtype: np.dtype) -> bool:
    return dtype.kind == "f" or ("ml_dtypes" in sys.modules and dtype in _ml_float_types()[1])


def is_int(dtype: np.dtype) -> bool:
    return dtype.kind in "iu"


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """TensorFlow computes half-precision math in float32 and rounds the result."""
    return np.dtype(np.float32) if is_float(dtype) and dtype.itemsize < 4 else dtype


def upcast(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) if is_float(x.dtype) and x.dtype.itemsize < 4 else x


def as_dtype(value: Any, dtype: np.dtype) -> np.ndarray:
    """`value` as an array of exactly `dtype` (no copy when it already is)."""
    out = np.asarray(value)
    if out.dtype != dtype:
        out = out.astype(dtype)
    return out


def float_op(fn: Callable[..., Any]) -> Callable[..., np.ndarray]:
    """Wrap an elementwise function: compute in float32 for half types, keep the input dtype."""

    def run(*args: np.ndarray) -> np.ndarray:
        dtype = args[0].dtype
        with np.errstate(all="ignore"):
            out = fn(*(upcast(a) for a in args))
        return as_dtype(out, dtype)

    return run


def arrays_of(dtype: np.dtype, values: Iterable[Any]) -> bool:
    """Whether every value is an ndarray of exactly `dtype` (what writing into an `out=` needs)."""
    return all(type(v) is np.ndarray and v.dtype == dtype for v in values)


def contiguous(value: Any) -> np.ndarray:
    """A C-contiguous array of the same rank (np.ascontiguousarray would turn 0-d into 1-d)."""
    return np.asarray(value, order="C")


def broadcast_shape(*shapes: Sequence[int]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        fail("Incompatible shapes: " + " vs. ".join(shape_str(s) for s in shapes))


def check_broadcast(*arrays: np.ndarray) -> tuple[int, ...]:
    if len(arrays) == 2 and arrays[0].shape == arrays[1].shape:  # the common case, cheaply
        return arrays[0].shape
    return broadcast_shape(*(a.shape for a in arrays))


def int_list(value: Any, what: str = "value") -> list[int]:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iub":
        fail(f"{what} must be an integer tensor, got {arr.dtype}")
    return [int(v) for v in arr.reshape(-1)]


def scalar_int(value: Any, what: str = "value") -> int:
    arr = np.asarray(value)
    if arr.size != 1:
        fail(f"{what} must be a scalar, got shape {shape_str(arr.shape)}")
    return int(arr.reshape(-1)[0])


def normalize_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < rank:
        fail(f"{what} {axis} is out of range for a tensor of rank {rank} (expected [-{rank}, {rank}))")
    return axis + rank if axis < 0 else axis


def reduction_axes(axes: Any, rank: int) -> tuple[int, ...]:
    values = int_list(axes, "reduction indices")
    out: list[int] = []
    for a in values:
        if not -rank <= a < max(rank, 1) or (rank == 0 and a not in (0, -1)):
            fail(f"Invalid reduction dimension ({a} for input with {rank} dimension(s)")
        if rank == 0:
            continue
        a = a + rank if a < 0 else a
        if a not in out:
            out.append(a)
    return tuple(sorted(out))


def lowest(dtype: np.dtype) -> Any:
    if is_float(dtype):
        return -np.inf
    if dtype == np.bool_:
        return False
    return np.iinfo(dtype).min


def highest(dtype: np.dtype) -> Any:
    if is_float(dtype):
        return np.inf
    if dtype == np.bool_:
        return True
    return np.iinfo(dtype).max


def object_array(values: Iterable[Any], shape: Sequence[int] | None = None) -> np.ndarray:
    items = list(values)
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out.reshape(shape) if shape is not None else out


def to_bytes(value: Any) -> bytes:
    """A string tensor element as bytes (format.tensor.element_bytes); ExecutionError otherwise."""
    if type(value) is bytes:
        return value
    try:
        return element_bytes(value)
    except TypeError:
        fail(f"expected a string tensor element, got {type(value).__name__}")


def str_map(fn: Callable[[bytes], Any], x: np.ndarray, dtype: Any = object) -> np.ndarray:
    """Apply `fn` to every element of a string tensor."""
    flat = [fn(to_bytes(v)) for v in np.asarray(x, dtype=object).reshape(-1)]
    if np.dtype(dtype) == OBJECT:
        return object_array(flat, np.shape(x))
    return np.array(flat, dtype=dtype).reshape(np.shape(x))


def pad_constant(x: np.ndarray, pairs: list[tuple[int, int]], value: Any) -> np.ndarray:
    """`x` padded with `value`: one copy, then the borders filled (np.pad's general path is slower)."""
    if x.dtype.kind == "O":
        return np.pad(x, pairs, constant_values=value)
    out = buffers.empty([d + a + b for d, (a, b) in zip(x.shape, pairs, strict=True)], x.dtype)
    out[tuple(slice(a, a + d) for d, (a, _) in zip(x.shape, pairs, strict=True))] = x
    for axis, (before, after) in enumerate(pairs):  # then only the borders (each element written once)
        lead = (slice(None),) * axis
        if before:
            out[(*lead, slice(0, before))] = value
        if after:
            out[(*lead, slice(out.shape[axis] - after, None))] = value
    return out
